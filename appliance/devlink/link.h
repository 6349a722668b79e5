/* link: the device link, the MQTT 3.1.1 endpoint door terminals connect to
 * over TLS 1.2 with client certificates from the appliance's device CA.
 *
 * One thread runs an epoll loop with non-blocking TLS for every terminal;
 * it never touches the database. Everything that needs the database goes
 * to one worker thread as a job (events are committed in groups, and their
 * PUBACK is sent only after the commit); the worker's answers come back to
 * the loop through an eventfd. The protocol on top of MQTT is described in
 * docs/device-protocol.md. */
#ifndef GH_LINK_H
#define GH_LINK_H

#include "domain/devices.h"

#include <stddef.h>

struct devlink_settings {
	const char *listen;              /* "0.0.0.0:8883" */
	long long handshake_timeout_ms;  /* TLS handshake and CONNECT must finish within */
	long long idle_timeout_ms;       /* longest silence when keep-alive is 0 or larger */
	size_t max_packet;               /* largest MQTT packet accepted */
	unsigned max_connections;
	long long clock_drift_ms;        /* a terminal clock further off is corrected */
	const char *state_dir;           /* firmware images live in STATE/firmware */
};

int devlink_start(const struct devlink_settings *s, char *err, size_t errlen);
void devlink_stop(void);
/* "mqtts://0.0.0.0:8883" with the actual port. */
void devlink_describe(char *buf, size_t len);

/* A device was created, enrolled, disabled, enabled or deleted (d NULL with
 * uid for deleted): refresh what the link allows, and cut a connection
 * that may no longer stay. Safe from any thread. */
void devlink_device_changed(const char *uid, const struct device *d);

/* A command was queued: deliver it now if the terminal is online. */
void devlink_commands_queued(void);

struct devlink_stats {
	unsigned connections;      /* TCP connections open */
	unsigned online;           /* MQTT sessions up */
	unsigned long events_stored, events_duplicate, rejected;
};
void devlink_get_stats(struct devlink_stats *out);

#endif
