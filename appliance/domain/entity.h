/* entity: the access rules' plain records (sites, doors, holiday sets,
 * schedules, access groups, access levels) described as data. One
 * descriptor per kind names its table, its fields with their types and
 * bounds, and hooks for the child rows some kinds own (a schedule's windows,
 * a holiday set's dates, a level's doors). Validation, storage, JSON views,
 * listing with filters and paging, and deletion checks are written once,
 * here, for all of them; the API and site sync go through these functions.
 *
 * Every query is scoped to a tenant: an id of another tenant's row is
 * simply not found. Every update bumps `version` (the ETag). */
#ifndef GH_ENTITY_H
#define GH_ENTITY_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct jv;

enum field_type {
	F_TEXT, /* string, min..max bytes */
	F_INT,  /* integer, min..max */
	F_REF,  /* id of a row of ref_table in the same tenant */
	F_TZ,   /* an IANA time zone name */
};

struct field {
	const char *name;
	enum field_type type;
	int required;          /* on create */
	long long min, max;
	const char *ref_table; /* F_REF */
	int filter;            /* may be used as ?name= filter in listings */
	int nullable;          /* null is a value (clears it); otherwise null is refused */
};

struct entity {
	const char *kind;      /* "site": audit actions are "site.create" ... */
	const char *table;     /* "sites" */
	const struct field *fields;
	size_t nfields;
	/* Child rows (may be NULL): validate the body's child fields, replace
	 * the children from the body (only fields present), add them to a view. */
	void (*children_check)(struct jv *v, int64_t tenant, const cJSON *body);
	int (*children_store)(int64_t tenant, int64_t id, const cJSON *body);
	int (*children_view)(int64_t id, cJSON *obj);
	const char *const *child_fields; /* names the body may carry for them */
	/* Rows that refer to this one and block its deletion ("doors of this
	 * site"): SQL counting them, with ?1 = id. NULL: none. */
	const char *in_use_sql;
	const char *in_use_what;
};

extern const struct entity entity_sites, entity_doors, entity_holiday_sets, entity_schedules,
	entity_access_groups, entity_access_levels;

/* Validate a create (partial = 0) or update (partial = 1) body into v,
 * rejecting unknown fields. */
void entity_check(const struct entity *e, struct jv *v, int64_t tenant, const cJSON *body, int partial);

/* Store. Call inside a write transaction after entity_check found no
 * error. create returns the new id (> 0) or -1; update returns 0, 1 when
 * the row does not exist (in this tenant), 2 when its version is not
 * `version` (someone else changed it), -1 on error. */
int64_t entity_create(const struct entity *e, int64_t tenant, const cJSON *body);
int entity_update(const struct entity *e, int64_t tenant, int64_t id, long long version, const cJSON *body);

/* Delete: 0, 1 not found, 2 in use (why filled), -1 error. */
int entity_delete(const struct entity *e, int64_t tenant, int64_t id, char *why, size_t whylen);

/* The JSON view of one row (with children), or NULL if not found. */
cJSON *entity_get(const struct entity *e, int64_t tenant, int64_t id);

/* A page ordered by id after cursor; filters are "name=value" pairs for
 * fields marked filter (values already decoded). Sets *next. */
int entity_list(const struct entity *e, int64_t tenant, const char *const *filter_names,
		const long long *filter_values, int nfilters, int64_t cursor, int limit, cJSON *out,
		int64_t *next);

/* Does a row of table with this id exist in the tenant? */
int entity_exists(const char *table, int64_t tenant, int64_t id);

#endif
