#include "routes.h"

#include "api/api.h"
#include "static.h"

const struct route routes_table[] = {
	{"GET", "/healthz", api_healthz, RF_PUBLIC | RF_API, 0, "Liveness: the process answers"},
	{"GET", "/readyz", api_readyz, RF_PUBLIC | RF_API, 0,
	 "Readiness: database open and schema current"},
	{"GET", "/", static_index, RF_PUBLIC, 0, "The web console's shell page"},
	{"GET", "/assets/*", static_asset, RF_PUBLIC, 0, "The web console's embedded files"},
};

const size_t routes_count = sizeof routes_table / sizeof routes_table[0];
