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
 * /usr/share/zoneinfo (also restored by NULL). Call before the first
 * tz_get; zones are cached per (directory, name), so a later call only
 * affects later tz_get calls. */
void tz_set_directory(const char *dir);

/* A zone by IANA name ("Asia/Tokyo", "America/New_York", "UTC"). NULL when
 * the name is malformed (only A-Z a-z 0-9 _ + - and / between parts; no
 * "." or ".." parts; at most 255 bytes) or no such zone exists. A file
 * over 1 MB, a malformed file and a file with leap-second records (the
 * "right/" zones, whose time_t counts leap seconds) count as no zone.
 * "UTC" works even without a file. The result lives for the process. */
const struct tz *tz_get(const char *name);

/* Civil local time of instant t in zone z (tm_year etc. as gmtime_r gives;
 * tm_isdst set; tm_gmtoff = offset in seconds east of UTC; tm_zone the
 * abbreviation, e.g. "EST", valid for the process). A NULL z is UTC.
 * Instants beyond about +-35 million years are clamped. */
void tz_to_local(const struct tz *z, time_t t, struct tm *out);

/* The instant of a civil local time in z. A time skipped by a forward
 * transition (02:30 on a spring-forward day) is taken as the same wall
 * clock reading after the gap (03:30); an ambiguous time (01:30 on a
 * fall-back day) as the earlier instant. Only tm_year, tm_mon, tm_mday,
 * tm_hour, tm_min and tm_sec are read (tm_isdst is ignored); nothing is
 * normalised as mktime would. Returns 0, or -1 if local is invalid (a
 * field out of range, a day not in its month, second 60). */
int tz_from_local(const struct tz *z, const struct tm *local, time_t *out);

/* The zone's name as given to tz_get. */
const char *tz_name(const struct tz *z);

#endif
