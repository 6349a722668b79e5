/* routes: the appliance's route table, the one list of every URL it serves.
 * The OpenAPI description, the role checks and the tests are checked
 * against this table. */
#ifndef GH_ROUTES_H
#define GH_ROUTES_H

#include "router.h"

extern const struct route routes_table[];
extern const size_t routes_count;

#endif
