/* tz: time zones from the tz database (TZif files in /usr/share/zoneinfo,
 * Debian's tzdata), read by our own code: glibc's localtime works through
 * the process-wide TZ variable, which threads cannot share, and a static
 * binary should not depend on it. Zones are loaded once and cached;
 * everything here is thread-safe. Times after a zone's last transition
 * follow its POSIX TZ footer rule (e.g. "EST5EDT,M3.2.0,M11.1.0"). */
#ifndef GH_TZ_H
#define GH_TZ_H

#include <stddef.h>
#include <time.h>

struct tz;

/* Directory of TZif files; tests may point it elsewhere. Default
 * /usr/share/zoneinfo. Call before the first tz_get. */
void tz_set_directory(const char *dir);

/* A zone by IANA name ("Asia/Tokyo", "America/New_York", "UTC"). NULL when
 * the name is malformed (only A-Z a-z 0-9 _ + - and / between parts; no
 * "." or ".." parts) or no such zone exists. The result lives for the
 * process. */
const struct tz *tz_get(const char *name);

/* Civil local time of instant t in zone z (tm_year etc. as gmtime_r gives;
 * tm_isdst set; tm_gmtoff = offset in seconds east of UTC). */
void tz_to_local(const struct tz *z, time_t t, struct tm *out);

/* The instant of a civil local time in z. A time skipped by a forward
 * transition (02:30 on a spring-forward day) is taken as the same wall
 * clock reading after the gap (03:30); an ambiguous time (01:30 on a
 * fall-back day) as the earlier instant. Returns 0, or -1 if local is
 * invalid. */
int tz_from_local(const struct tz *z, const struct tm *local, time_t *out);

/* The zone's name as given to tz_get. */
const char *tz_name(const struct tz *z);

#endif
