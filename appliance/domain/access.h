/* access: gathers, from the database, what decide() needs for one
 * credential at one door (the person's validity, the levels of their groups
 * that cover the door, those levels' schedules and holidays, the door's
 * site time zone) and calls it. Used by the what-if API and by the device
 * link's server-side checks. */
#ifndef GH_ACCESS_H
#define GH_ACCESS_H

#include "decide.h"

#include <stdint.h>
#include <time.h>

struct access_answer {
	struct decide_result r;
	int64_t person_id;      /* 0 when the credential is unknown */
	int64_t credential_id;
};

/* By card number (as typed) or by credential id (card 0). Returns 0 with
 * the answer, 1 when the door does not exist in the tenant, -1 on error. */
int access_check(int64_t tenant, const char *card, int64_t credential_id, int64_t door_id, time_t at,
		 struct access_answer *a);

#endif
