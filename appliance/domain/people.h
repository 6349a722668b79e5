/* people: the people of a tenant and their credentials. Every personal
 * field is sealed by the vault under the person's own key (so erasure
 * shreds it everywhere); e-mail, employee number and card number are also
 * blind-indexed for exact lookups. Knows nothing of HTTP: the API, the CSV
 * import and site sync call these functions inside their transactions.
 *
 * A person in JSON:
 *   {id, name, email, phone, employee_no, status, valid_from, valid_until,
 *    notes, has_photo, group_ids, credentials: [{id, kind, hint, label,
 *    status, valid_from, valid_until, version}], version, created_at, updated_at}
 * valid_from/valid_until are civil date-times in the door's site time zone. */
#ifndef GH_PEOPLE_H
#define GH_PEOPLE_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct jv;

/* Validate a create (partial 0) or update (partial 1) body. */
void person_check(struct jv *v, int64_t tenant, const cJSON *body, int partial);

/* Inside a write transaction, after person_check passed. create returns the
 * id or -1 (*conflict set to a field name when a unique value is taken);
 * update returns 0, 1 not found, 2 version mismatch, -1 error. */
int64_t person_create(int64_t tenant, const cJSON *body, const char **conflict);
int person_update(int64_t tenant, int64_t id, long long version, const cJSON *body, const char **conflict);

/* The person as JSON (decrypted), or NULL if not found in the tenant. With
 * secrets = 1 (access report) card numbers are included in full. */
cJSON *person_view(int64_t tenant, int64_t id, int secrets);

/* Erasure: delete the person and all their rows and destroy their key.
 * 0, 1 not found, -1 error. Inside a write transaction. */
int person_erase(int64_t tenant, int64_t id);

struct person_filter {
	const char *status;        /* "active" / "suspended" */
	int64_t group;             /* member of this access group */
	const char *email;         /* exact, through the blind index */
	const char *employee_no;
	const char *card;
};
/* A page of people (decrypted) ordered by id after cursor. */
int person_list(int64_t tenant, const struct person_filter *f, int64_t cursor, int limit, cJSON *out,
		int64_t *next);

/* Photo: a JPEG or PNG, sealed. set returns 0, 1 not found, -1 error;
 * get returns a malloc'd buffer (release with vault_free) or NULL. */
int person_photo_set(int64_t tenant, int64_t id, const void *data, size_t len, const char *type);
unsigned char *person_photo_get(int64_t tenant, int64_t id, size_t *len, char type[16]);

/* Credentials of a person. create returns the new id, or -1 with
 * *conflict = "number" when the card is already assigned in the tenant.
 * For kind "mobile", *token receives the token (shown once). */
void credential_check(struct jv *v, const cJSON *body, int partial);
int64_t credential_create(int64_t tenant, int64_t person, const cJSON *body, const char **conflict,
			  char token[64]);
int credential_update(int64_t tenant, int64_t person, int64_t id, long long version, const cJSON *body);
int credential_delete(int64_t tenant, int64_t person, int64_t id);
cJSON *credential_view(int64_t tenant, int64_t person, int64_t id);

/* Group membership. 0, 1 (person or group not found), -1. */
int group_member_set(int64_t tenant, int64_t group, int64_t person, int member);

/* The person holding a card (number as typed), and the credential: 0, 1 none, -1. */
int person_by_card(int64_t tenant, const char *number, int64_t *person, int64_t *credential);

#endif
