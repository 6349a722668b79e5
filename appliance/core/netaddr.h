/* netaddr: numeric "host:port" addresses for listening sockets. Host names
 * are refused on purpose: resolving them would need getaddrinfo, which a
 * static glibc binary cannot use safely, and a listen address should not
 * depend on DNS at boot anyway. */
#ifndef GH_NETADDR_H
#define GH_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* "1.2.3.4:8443" or "[::1]:8443"; port 0 lets the kernel choose (the chosen
 * port is logged at start). Returns 0, or -1 with a reason in why. */
int netaddr_parse(const char *text, struct sockaddr_storage *out, socklen_t *outlen,
		  char *why, size_t whylen);

/* Format as "host:port" / "[v6]:port". */
void netaddr_format(const struct sockaddr *sa, char *buf, size_t len);

#endif
