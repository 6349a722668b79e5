/* alerts: alert rows raised by any module (an admin locked out, an address
 * blocked, a backup failed ...). The alerts job delivers them by portal,
 * e-mail and webhook; here they are only recorded. */
#ifndef GH_ALERTS_H
#define GH_ALERTS_H

#include <cJSON.h>
#include <stdint.h>

/* severity: "info", "warning" or "critical". details may be NULL. Returns
 * the alert id, or -1. Works inside or outside a transaction. */
int64_t alert_raise(const char *kind, const char *severity, int64_t tenant, const char *subject,
		    const cJSON *details);

#endif
