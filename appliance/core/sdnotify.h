/* sdnotify: the systemd notification protocol (Type=notify): one datagram
 * per message to the AF_UNIX socket named by $NOTIFY_SOCKET. A few lines of
 * our own instead of libsystemd, which a static binary cannot link. Without
 * $NOTIFY_SOCKET every call does nothing. */
#ifndef GH_SDNOTIFY_H
#define GH_SDNOTIFY_H

/* Send "READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=..." and so on.
 * Returns 1 if sent, 0 if not under systemd, -1 on error. */
int sdnotify(const char *message);

/* Watchdog interval requested by systemd ($WATCHDOG_USEC, for this pid), in
 * microseconds, or 0 when there is none. */
long long sdnotify_watchdog_usec(void);

#endif
