/* gate: where accepted HTTPS connections wait until the client sends its
 * first bytes, before a worker thread takes them.
 *
 * CivetWeb gives each accepted connection to a worker thread at once, and the
 * worker then waits for the TLS ClientHello. A few connections that never
 * send anything would hold every worker and starve real clients. The gate
 * keeps such connections in one epoll set instead: a silent connection costs
 * a file descriptor and a few bytes until its deadline, then it is closed.
 * The patched CivetWeb calls gh_gate_admit() for every accepted socket. */
#ifndef GH_GATE_H
#define GH_GATE_H

#include <stddef.h>

/* Called from the gate thread when fd has data: hands item back to the server. */
typedef void (*gate_release_fn)(void *owner, void *item);

struct gate_stats {
	unsigned long admitted, released, expired, closed_early, refused;
	unsigned pending;
};

int gate_start(long long timeout_ms, unsigned max_pending, gate_release_fn release);
void gate_stop(void);
void gate_get_stats(struct gate_stats *out);

/* Take fd (and a copy of the server's item describing it). Returns 1 when the
 * gate owns the socket from now on, 0 when the gate is not running and the
 * caller must hand the socket on itself. */
int gh_gate_admit(void *owner, int fd, const void *item, size_t size);

#endif
