#include "people.h"

#include "core/db.h"
#include "core/log.h"
#include "core/vault.h"
#include "decide.h"
#include "entity.h"
#include "web/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The sealed text fields of a person; the blind-indexed ones name their
 * index column. Column names come only from this table. */
static const struct pfield {
	const char *name;
	size_t max;
	int indexed;
	enum vault_index_kind kind;
	const char *idx_col;
	const char *update; /* a literal per field: db_stmt caches it */
} pfields[] = {
	{"name", 200, 0, VI_TEXT, NULL, "UPDATE people SET name = ?1 WHERE id = ?3"},
	{"email", 254, 1, VI_EMAIL, "email_idx", "UPDATE people SET email = ?1, email_idx = ?2 WHERE id = ?3"},
	{"phone", 40, 0, VI_TEXT, NULL, "UPDATE people SET phone = ?1 WHERE id = ?3"},
	{"employee_no", 64, 1, VI_EMPLOYEE_NO, "employee_no_idx",
	 "UPDATE people SET employee_no = ?1, employee_no_idx = ?2 WHERE id = ?3"},
	{"notes", 2000, 0, VI_TEXT, NULL, "UPDATE people SET notes = ?1 WHERE id = ?3"},
};
#define NPFIELDS (sizeof pfields / sizeof pfields[0])

static const char *const person_plain[] = {"status", "valid_from", "valid_until", "group_ids", NULL};

/* --- validation -------------------------------------------------------------- */

static void check_civil(struct jv *v, const char *field)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(v->obj, field);
	char out[20];

	jv_string(v, field, 0, 0, 19); /* marks it seen and checks the type */
	if (m && cJSON_IsString(m) && *m->valuestring && decide_parse_civil(m->valuestring, out) < 0)
		jv_error(v, field, "must be a local date-time YYYY-MM-DDTHH:MM:SS or a date YYYY-MM-DD");
}

static void check_groups(struct jv *v, int64_t tenant)
{
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(v->obj, "group_ids"), *e;
	int i = 0;

	if (!g)
		return;
	if (!cJSON_IsArray(g) || cJSON_GetArraySize(g) > 200) {
		jv_error(v, "group_ids", "must be a list of access group ids");
		return;
	}
	cJSON_ArrayForEach(e, g)
	{
		char field[32];
		long long id;
		snprintf(field, sizeof field, "group_ids[%d]", i++);
		if (json_int(e, 1, INT64_MAX, &id) < 0 || !entity_exists("access_groups", tenant, id))
			jv_error(v, field, "is not an access group of this tenant");
	}
}

void person_check(struct jv *v, int64_t tenant, const cJSON *body, int partial)
{
	const cJSON *m;

	for (size_t i = 0; i < NPFIELDS; i++) {
		const char *s = jv_string(v, pfields[i].name, !partial && i == 0, i == 0 ? 1 : 0, pfields[i].max);
		char norm[300];
		if (s && i == 1 && *s && (!strchr(s, '@') || strchr(s, ' ')))
			jv_error(v, "email", "is not an e-mail address");
		if (s && pfields[i].indexed && *s && vault_normalize(pfields[i].kind, s, norm, sizeof norm) < 0)
			jv_error(v, pfields[i].name, "is empty once blanks are removed");
	}
	if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(body, "name")))
		jv_error(v, "name", "cannot be removed");
	jv_enum(v, "status", 0, "active|suspended");
	jv_not_null(v, "status");
	check_civil(v, "valid_from");
	check_civil(v, "valid_until");
	check_groups(v, tenant);
	cJSON_ArrayForEach(m, body)
	{
		int known = 0;
		for (size_t i = 0; i < NPFIELDS && !known; i++)
			known = strcmp(m->string, pfields[i].name) == 0;
		for (const char *const *p = person_plain; *p && !known; p++)
			known = strcmp(m->string, *p) == 0;
		if (!known)
			jv_error(v, m->string, "is not a known field");
	}
}

/* --- storing ------------------------------------------------------------------- */

/* Seal one field value (or clear it) into column col of person id. */
static int store_field(int64_t tenant, int64_t id, const struct pfield *f, const cJSON *value)
{
	sqlite3_stmt *st;
	unsigned char *sealed = NULL, idx[VAULT_INDEX_BYTES];
	size_t slen = 0;
	int has = value && cJSON_IsString(value) && *value->valuestring;
	int rc;

	if (has) {
		struct vault_ref ref = {tenant, "people", f->name, id};
		if (vault_seal_person(&ref, id, value->valuestring, strlen(value->valuestring), &sealed, &slen) != VAULT_OK)
			return -1;
		if (f->indexed && vault_blind_index(tenant, f->kind, value->valuestring, idx) != VAULT_OK) {
			free(sealed);
			return -1;
		}
	}
	if (!(st = db_stmt(f->update))) {
		free(sealed);
		return -1;
	}
	if (has)
		sqlite3_bind_blob(st, 1, sealed, (int)slen, free);
	else if (f->name == pfields[0].name)
		sqlite3_bind_zeroblob(st, 1, 0);
	if (has && f->indexed)
		sqlite3_bind_blob(st, 2, idx, sizeof idx, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int store_plain(int64_t id, const cJSON *body)
{
	static const char *const cols[] = {"status", "valid_from", "valid_until"};

	for (size_t i = 0; i < 3; i++) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, cols[i]);
		char sql[120], civil[20];
		sqlite3_stmt *st;
		int rc;

		if (!m)
			continue;
		snprintf(sql, sizeof sql, "UPDATE people SET %s = ? WHERE id = ?", cols[i]);
		if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK)
			return -1;
		if (cJSON_IsString(m) && *m->valuestring) {
			if (i > 0 && decide_parse_civil(m->valuestring, civil) == 0)
				sqlite3_bind_text(st, 1, civil, -1, SQLITE_TRANSIENT);
			else
				sqlite3_bind_text(st, 1, m->valuestring, -1, SQLITE_TRANSIENT);
		}
		sqlite3_bind_int64(st, 2, id);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return -1;
	}
	return 0;
}

static int store_groups(int64_t tenant, int64_t id, const cJSON *body)
{
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(body, "group_ids"), *e;
	sqlite3_stmt *st;

	(void)tenant;
	if (!g)
		return 0;
	st = db_stmt("DELETE FROM group_members WHERE person_id = ?");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return sqlite3_reset(st), -1;
	sqlite3_reset(st);
	st = db_stmt("INSERT OR IGNORE INTO group_members (group_id, person_id) VALUES (?, ?)");
	cJSON_ArrayForEach(e, g)
	{
		sqlite3_bind_int64(st, 1, (int64_t)e->valuedouble);
		sqlite3_bind_int64(st, 2, id);
		if (sqlite3_step(st) != SQLITE_DONE)
			return sqlite3_reset(st), -1;
		sqlite3_reset(st);
	}
	return 0;
}

static int store_all(int64_t tenant, int64_t id, const cJSON *body, const char **conflict)
{
	for (size_t i = 0; i < NPFIELDS; i++) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, pfields[i].name);
		if (m && store_field(tenant, id, &pfields[i], m) < 0) {
			if (sqlite3_extended_errcode(db_get()) == SQLITE_CONSTRAINT_UNIQUE)
				*conflict = pfields[i].name;
			return -1;
		}
	}
	return store_plain(id, body) < 0 || store_groups(tenant, id, body) < 0 ? -1 : 0;
}

int64_t person_create(int64_t tenant, const cJSON *body, const char **conflict)
{
	sqlite3_stmt *st = db_stmt("INSERT INTO people (tenant_id, name, created_at, updated_at) "
				   "VALUES (?, zeroblob(0), unixepoch(), unixepoch())");
	int64_t id;

	*conflict = NULL;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	if (sqlite3_step(st) != SQLITE_DONE)
		return sqlite3_reset(st), -1;
	sqlite3_reset(st);
	/* The row exists first so its id can be bound into every seal. */
	id = sqlite3_last_insert_rowid(db_get());
	if (vault_person_key_create(tenant, id) != VAULT_OK || store_all(tenant, id, body, conflict) < 0)
		return -1;
	return id;
}

int person_update(int64_t tenant, int64_t id, long long version, const cJSON *body, const char **conflict)
{
	sqlite3_stmt *st = db_stmt("UPDATE people SET version = version + 1, updated_at = unixepoch() "
				   "WHERE id = ? AND tenant_id = ? AND version = ?");
	int changed;

	*conflict = NULL;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	sqlite3_bind_int64(st, 3, version);
	if (sqlite3_step(st) != SQLITE_DONE)
		return sqlite3_reset(st), -1;
	changed = sqlite3_changes(db_get());
	sqlite3_reset(st);
	if (!changed)
		return entity_exists("people", tenant, id) ? 2 : 1;
	return store_all(tenant, id, body, conflict) < 0 ? -1 : 0;
}

/* --- views ----------------------------------------------------------------------- */

static void add_sealed(cJSON *o, int64_t tenant, int64_t id, const char *col, sqlite3_stmt *st, int c)
{
	struct vault_ref ref = {tenant, "people", col, id};
	unsigned char *plain;
	size_t len;
	int rc;

	if (sqlite3_column_type(st, c) == SQLITE_NULL || sqlite3_column_bytes(st, c) == 0) {
		cJSON_AddNullToObject(o, col);
		return;
	}
	rc = vault_open_field(&ref, sqlite3_column_blob(st, c), (size_t)sqlite3_column_bytes(st, c), &plain, &len);
	if (rc != VAULT_OK) {
		log_warn("people: person %lld %s cannot be opened: %s", (long long)id, col, vault_strerror(rc));
		cJSON_AddNullToObject(o, col);
		return;
	}
	cJSON_AddStringToObject(o, col, (const char *)plain);
	vault_free(plain, len);
}

static void add_text_or_null(cJSON *o, const char *name, sqlite3_stmt *st, int c)
{
	if (sqlite3_column_type(st, c) == SQLITE_NULL)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddStringToObject(o, name, (const char *)sqlite3_column_text(st, c));
}

static void add_time(cJSON *o, const char *name, long long t)
{
	char when[32];
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(o, name, when);
}

static cJSON *credential_row(int64_t tenant, sqlite3_stmt *st, int secrets)
{
	cJSON *c = cJSON_CreateObject();
	int64_t id = sqlite3_column_int64(st, 0);
	const char *kind = (const char *)sqlite3_column_text(st, 1);

	cJSON_AddNumberToObject(c, "id", (double)id);
	cJSON_AddStringToObject(c, "kind", kind);
	cJSON_AddStringToObject(c, "hint", (const char *)sqlite3_column_text(st, 2));
	cJSON_AddStringToObject(c, "label", (const char *)sqlite3_column_text(st, 3));
	cJSON_AddStringToObject(c, "status", (const char *)sqlite3_column_text(st, 4));
	add_text_or_null(c, "valid_from", st, 5);
	add_text_or_null(c, "valid_until", st, 6);
	cJSON_AddNumberToObject(c, "version", (double)sqlite3_column_int64(st, 7));
	if (secrets && sqlite3_column_type(st, 8) == SQLITE_BLOB) {
		struct vault_ref ref = {tenant, "credentials", "secret", id};
		unsigned char *plain;
		size_t len;
		if (vault_open_field(&ref, sqlite3_column_blob(st, 8), (size_t)sqlite3_column_bytes(st, 8), &plain,
				     &len) == VAULT_OK) {
			if (strcmp(kind, "face") == 0 || strcmp(kind, "fingerprint") == 0) {
				size_t b64 = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
				char *text = malloc(b64);
				if (text) {
					sodium_bin2base64(text, b64, plain, len, sodium_base64_VARIANT_ORIGINAL);
					cJSON_AddStringToObject(c, "template", text);
					free(text);
				}
			} else {
				cJSON_AddStringToObject(c, strcmp(kind, "card") == 0 ? "number" : "token", (const char *)plain);
			}
			vault_free(plain, len);
		}
	}
	return c;
}

#define CRED_COLUMNS "id, kind, hint, label, status, valid_from, valid_until, version, secret"

static void add_credentials(cJSON *o, int64_t tenant, int64_t id, int secrets)
{
	sqlite3_stmt *st = db_stmt("SELECT " CRED_COLUMNS " FROM credentials WHERE person_id = ? ORDER BY id");
	cJSON *list = cJSON_AddArrayToObject(o, "credentials");

	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW)
		cJSON_AddItemToArray(list, credential_row(tenant, st, secrets));
	sqlite3_reset(st);
}

static void add_groups(cJSON *o, int64_t id)
{
	sqlite3_stmt *st = db_stmt("SELECT group_id FROM group_members WHERE person_id = ? ORDER BY group_id");
	cJSON *list = cJSON_AddArrayToObject(o, "group_ids");

	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW)
		cJSON_AddItemToArray(list, cJSON_CreateNumber((double)sqlite3_column_int64(st, 0)));
	sqlite3_reset(st);
}

#define PERSON_COLUMNS                                                                  \
	"id, name, email, phone, employee_no, notes, status, valid_from, valid_until, " \
	"photo IS NOT NULL, version, created_at, updated_at"

static cJSON *person_row(int64_t tenant, sqlite3_stmt *st, int secrets)
{
	cJSON *o = cJSON_CreateObject();
	int64_t id = sqlite3_column_int64(st, 0);

	cJSON_AddNumberToObject(o, "id", (double)id);
	for (size_t i = 0; i < NPFIELDS; i++)
		add_sealed(o, tenant, id, pfields[i].name, st, 1 + (int)i);
	cJSON_AddStringToObject(o, "status", (const char *)sqlite3_column_text(st, 6));
	add_text_or_null(o, "valid_from", st, 7);
	add_text_or_null(o, "valid_until", st, 8);
	cJSON_AddBoolToObject(o, "has_photo", sqlite3_column_int(st, 9));
	add_groups(o, id);
	add_credentials(o, tenant, id, secrets);
	cJSON_AddNumberToObject(o, "version", (double)sqlite3_column_int64(st, 10));
	add_time(o, "created_at", sqlite3_column_int64(st, 11));
	add_time(o, "updated_at", sqlite3_column_int64(st, 12));
	return o;
}

cJSON *person_view(int64_t tenant, int64_t id, int secrets)
{
	sqlite3_stmt *st;
	cJSON *o = NULL;

	if (sqlite3_prepare_v2(db_get(), "SELECT " PERSON_COLUMNS " FROM people WHERE id = ? AND tenant_id = ?", -1,
			       &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	if (sqlite3_step(st) == SQLITE_ROW)
		o = person_row(tenant, st, secrets);
	sqlite3_finalize(st);
	return o;
}

static int bind_index(sqlite3_stmt *st, int pos, int64_t tenant, enum vault_index_kind kind, const char *value)
{
	unsigned char idx[VAULT_INDEX_BYTES];

	if (vault_blind_index(tenant, kind, value, idx) != VAULT_OK)
		memset(idx, 0, sizeof idx); /* matches nothing */
	return sqlite3_bind_blob(st, pos, idx, sizeof idx, SQLITE_TRANSIENT);
}

int person_list(int64_t tenant, const struct person_filter *f, int64_t cursor, int limit, cJSON *out,
		int64_t *next)
{
	char sql[1200] = "SELECT " PERSON_COLUMNS " FROM people WHERE tenant_id = ?1 AND id > ?2";
	sqlite3_stmt *st;
	int n = 0;

	if (f->status)
		strcat(sql, " AND status = ?4");
	if (f->group)
		strcat(sql, " AND EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = ?5 AND m.person_id = people.id)");
	if (f->email)
		strcat(sql, " AND email_idx = ?6");
	if (f->employee_no)
		strcat(sql, " AND employee_no_idx = ?7");
	if (f->card)
		strcat(sql, " AND id IN (SELECT person_id FROM credentials c WHERE c.tenant_id = ?1 "
			    "AND c.kind = 'card' AND c.lookup_idx = ?8)");
	strcat(sql, " ORDER BY id LIMIT ?3");
	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, cursor);
	sqlite3_bind_int(st, 3, limit + 1);
	if (f->status)
		sqlite3_bind_text(st, 4, f->status, -1, SQLITE_STATIC);
	if (f->group)
		sqlite3_bind_int64(st, 5, f->group);
	if (f->email)
		bind_index(st, 6, tenant, VI_EMAIL, f->email);
	if (f->employee_no)
		bind_index(st, 7, tenant, VI_EMPLOYEE_NO, f->employee_no);
	if (f->card)
		bind_index(st, 8, tenant, VI_CARD, f->card);
	*next = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == limit) {
			*next = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(out, n - 1), "id"));
			break;
		}
		cJSON_AddItemToArray(out, person_row(tenant, st, 0));
		n++;
	}
	sqlite3_finalize(st);
	return n;
}

int person_erase(int64_t tenant, int64_t id)
{
	sqlite3_stmt *st = db_stmt("DELETE FROM people WHERE id = ? AND tenant_id = ?");
	int gone;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	if (sqlite3_step(st) != SQLITE_DONE)
		return sqlite3_reset(st), -1;
	gone = sqlite3_changes(db_get());
	sqlite3_reset(st);
	if (!gone)
		return 1;
	/* Rows are gone (secure_delete overwrites them); the key goes too, so
	 * any copy sealed with it (events, older backups) is unreadable. */
	return vault_person_key_shred(tenant, id) == VAULT_OK ? 0 : -1;
}

/* --- photo -------------------------------------------------------------------- */

int person_photo_set(int64_t tenant, int64_t id, const void *data, size_t len, const char *type)
{
	struct vault_ref ref = {tenant, "people", "photo", id};
	unsigned char *sealed = NULL;
	size_t slen;
	sqlite3_stmt *st;
	int rc;

	if (!entity_exists("people", tenant, id))
		return 1;
	if (data && vault_seal_person(&ref, id, data, len, &sealed, &slen) != VAULT_OK)
		return -1;
	st = db_stmt("UPDATE people SET photo = ?, photo_type = ?, version = version + 1, updated_at = unixepoch() "
		     "WHERE id = ? AND tenant_id = ?");
	if (!st) {
		free(sealed);
		return -1;
	}
	if (sealed) {
		sqlite3_bind_blob(st, 1, sealed, (int)slen, free);
		sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	}
	sqlite3_bind_int64(st, 3, id);
	sqlite3_bind_int64(st, 4, tenant);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

unsigned char *person_photo_get(int64_t tenant, int64_t id, size_t *len, char type[16])
{
	struct vault_ref ref = {tenant, "people", "photo", id};
	sqlite3_stmt *st = db_stmt("SELECT photo, photo_type FROM people WHERE id = ? AND tenant_id = ? AND photo IS NOT NULL");
	unsigned char *plain = NULL;

	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(type, 16, "%s", sqlite3_column_text(st, 1));
		if (vault_open_field(&ref, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &plain, len) != VAULT_OK)
			plain = NULL;
	}
	sqlite3_reset(st);
	return plain;
}

/* --- credentials ------------------------------------------------------------- */

void credential_check(struct jv *v, const cJSON *body, int partial)
{
	const char *kind = partial ? NULL : jv_enum(v, "kind", 1, "card|pin|face|fingerprint|mobile");
	const char *number = partial ? NULL : jv_string(v, "number", 0, 1, 64);
	const char *pin = partial ? NULL : jv_string(v, "pin", 0, 4, 12);
	const char *tmpl = partial ? NULL : jv_string(v, "template", 0, 4, 1400000);
	char norm[80];

	(void)body;
	jv_string(v, "label", 0, 0, 100);
	jv_not_null(v, "label");
	jv_enum(v, "status", 0, "active|suspended|lost|revoked");
	jv_not_null(v, "status");
	check_civil(v, "valid_from");
	check_civil(v, "valid_until");
	jv_no_others(v);
	if (!kind)
		return;
	if (strcmp(kind, "card") == 0) {
		int n = number ? vault_normalize(VI_CARD, number, norm, sizeof norm) : -1;
		if (!number)
			jv_error(v, "number", "is required for a card");
		else if (n < 4 || n > 32)
			jv_error(v, "number", "must have 4 to 32 digits");
	} else if (strcmp(kind, "pin") == 0) {
		if (!pin || strspn(pin, "0123456789") != strlen(pin))
			jv_error(v, "pin", "must be 4 to 12 digits");
	} else if (strcmp(kind, "face") == 0 || strcmp(kind, "fingerprint") == 0) {
		size_t cap = tmpl ? strlen(tmpl) * 3 / 4 + 3 : 0, binlen = 0;
		unsigned char *bin = tmpl ? malloc(cap) : NULL;
		if (!tmpl)
			jv_error(v, "template", "is required (base64 of the template, up to 1 MB)");
		else if (!bin || sodium_base642bin(bin, cap, tmpl, strlen(tmpl), NULL, &binlen, NULL,
						   sodium_base64_VARIANT_ORIGINAL) != 0)
			jv_error(v, "template", "is not base64");
		else if (binlen == 0 || binlen > 1048576)
			jv_error(v, "template", "must be 1 byte to 1 MB once decoded");
		free(bin);
	}
	if ((number && strcmp(kind, "card")) || (pin && strcmp(kind, "pin")) ||
	    (tmpl && strcmp(kind, "face") && strcmp(kind, "fingerprint")))
		jv_error(v, "kind", "does not match the credential given (number, pin or template)");
}

/* The credential's secret part, its lookup index and its hint. */
static int credential_material(int64_t tenant, const char *kind, const cJSON *body, unsigned char **secret,
			       size_t *slen, unsigned char *idx, int *has_idx, char *hint, size_t hlen,
			       char pin_hash[crypto_pwhash_STRBYTES], char token[64])
{
	*secret = NULL;
	*has_idx = 0;
	pin_hash[0] = '\0';
	if (strcmp(kind, "card") == 0) {
		char norm[80];
		int n = vault_normalize(VI_CARD, cJSON_GetObjectItem(body, "number")->valuestring, norm, sizeof norm);
		if (n < 4 || vault_blind_index(tenant, VI_CARD, norm, idx) != VAULT_OK)
			return -1;
		*has_idx = 1;
		*secret = (unsigned char *)strdup(norm);
		*slen = (size_t)n;
		snprintf(hint, hlen, "****%s", norm + n - 4);
	} else if (strcmp(kind, "pin") == 0) {
		if (vault_secret_hash(cJSON_GetObjectItem(body, "pin")->valuestring, pin_hash) != VAULT_OK)
			return -1;
		snprintf(hint, hlen, "PIN");
	} else if (strcmp(kind, "mobile") == 0) {
		unsigned char raw[32];
		char b64[48];
		randombytes_buf(raw, sizeof raw);
		sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		snprintf(token, 64, "ghm_%s", b64);
		if (vault_token_digest(token, strlen(token), idx) != VAULT_OK)
			return -1;
		*has_idx = 1;
		*secret = (unsigned char *)strdup(token);
		*slen = strlen(token);
		snprintf(hint, hlen, "mobile ...%s", token + strlen(token) - 4);
	} else {
		const char *t = cJSON_GetObjectItem(body, "template")->valuestring;
		size_t cap = strlen(t) * 3 / 4 + 4;
		*secret = malloc(cap);
		if (!*secret || sodium_base642bin(*secret, cap, t, strlen(t), NULL, slen, NULL,
						  sodium_base64_VARIANT_ORIGINAL) != 0 || *slen == 0 || *slen > 1048576)
			return free(*secret), *secret = NULL, -1;
		snprintf(hint, hlen, "template %zu bytes", *slen);
	}
	return 0;
}

static void bind_civil(sqlite3_stmt *st, int pos, const cJSON *m)
{
	char civil[20];

	if (m && cJSON_IsString(m) && *m->valuestring && decide_parse_civil(m->valuestring, civil) == 0)
		sqlite3_bind_text(st, pos, civil, -1, SQLITE_TRANSIENT);
}

int64_t credential_create(int64_t tenant, int64_t person, const cJSON *body, const char **conflict, char token[64])
{
	const char *kind = cJSON_GetObjectItem(body, "kind")->valuestring;
	const cJSON *label = cJSON_GetObjectItem(body, "label"), *status = cJSON_GetObjectItem(body, "status");
	unsigned char *secret = NULL, idx[VAULT_INDEX_BYTES];
	char hint[64], pin_hash[crypto_pwhash_STRBYTES];
	size_t slen = 0;
	int has_idx, rc;
	int64_t id;
	sqlite3_stmt *st;

	*conflict = NULL;
	token[0] = '\0';
	if (!entity_exists("people", tenant, person))
		return 0;
	if (credential_material(tenant, kind, body, &secret, &slen, idx, &has_idx, hint, sizeof hint, pin_hash, token) < 0)
		return -1;
	st = db_stmt("INSERT INTO credentials (tenant_id, person_id, kind, lookup_idx, pin_hash, hint, label, status, "
		     "valid_from, valid_until, created_at, updated_at) "
		     "VALUES (?, ?, ?, ?, ?, ?, ?, coalesce(?, 'active'), ?, ?, unixepoch(), unixepoch())");
	if (!st) {
		vault_free(secret, slen);
		return -1;
	}
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, person);
	sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
	if (has_idx)
		sqlite3_bind_blob(st, 4, idx, sizeof idx, SQLITE_TRANSIENT);
	if (pin_hash[0])
		sqlite3_bind_text(st, 5, pin_hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, hint, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 7, cJSON_IsString(label) ? label->valuestring : "", -1, SQLITE_STATIC);
	if (cJSON_IsString(status))
		sqlite3_bind_text(st, 8, status->valuestring, -1, SQLITE_STATIC);
	bind_civil(st, 9, cJSON_GetObjectItem(body, "valid_from"));
	bind_civil(st, 10, cJSON_GetObjectItem(body, "valid_until"));
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		if (sqlite3_extended_errcode(db_get()) == SQLITE_CONSTRAINT_UNIQUE)
			*conflict = strcmp(kind, "card") == 0 ? "number" : "kind";
		vault_free(secret, slen);
		return -1;
	}
	id = sqlite3_last_insert_rowid(db_get());
	if (secret) {
		struct vault_ref ref = {tenant, "credentials", "secret", id};
		unsigned char *sealed;
		size_t sealed_len;
		rc = vault_seal_person(&ref, person, secret, slen, &sealed, &sealed_len);
		vault_free(secret, slen);
		if (rc != VAULT_OK)
			return -1;
		st = db_stmt("UPDATE credentials SET secret = ? WHERE id = ?");
		sqlite3_bind_blob(st, 1, sealed, (int)sealed_len, free);
		sqlite3_bind_int64(st, 2, id);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return -1;
	}
	return id;
}

int credential_update(int64_t tenant, int64_t person, int64_t id, long long version, const cJSON *body)
{
	static const char *const cols[] = {"label", "status", "valid_from", "valid_until"};
	char sql[400] = "UPDATE credentials SET version = version + 1, updated_at = unixepoch()";
	sqlite3_stmt *st;
	int pos = 1, rc;

	for (size_t i = 0; i < 4; i++)
		if (cJSON_GetObjectItemCaseSensitive(body, cols[i]))
			snprintf(sql + strlen(sql), sizeof sql - strlen(sql), ", %s = ?", cols[i]);
	strcat(sql, " WHERE id = ? AND person_id = ? AND tenant_id = ? AND version = ?");
	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, cols[i]);
		if (!m)
			continue;
		if (i >= 2)
			bind_civil(st, pos, m);
		else if (cJSON_IsString(m))
			sqlite3_bind_text(st, pos, m->valuestring, -1, SQLITE_TRANSIENT);
		pos++;
	}
	sqlite3_bind_int64(st, pos++, id);
	sqlite3_bind_int64(st, pos++, person);
	sqlite3_bind_int64(st, pos++, tenant);
	sqlite3_bind_int64(st, pos, version);
	rc = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(db_get()) ? 0 : 2) : -1;
	sqlite3_finalize(st);
	if (rc == 2) {
		cJSON *c = credential_view(tenant, person, id);
		rc = c ? 2 : 1;
		cJSON_Delete(c);
	}
	return rc;
}

int credential_delete(int64_t tenant, int64_t person, int64_t id)
{
	sqlite3_stmt *st = db_stmt("DELETE FROM credentials WHERE id = ? AND person_id = ? AND tenant_id = ?");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, person);
	sqlite3_bind_int64(st, 3, tenant);
	rc = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(db_get()) ? 0 : 1) : -1;
	sqlite3_reset(st);
	return rc;
}

cJSON *credential_view(int64_t tenant, int64_t person, int64_t id)
{
	sqlite3_stmt *st = db_stmt("SELECT " CRED_COLUMNS " FROM credentials WHERE id = ? AND person_id = ? AND tenant_id = ?");
	cJSON *c = NULL;

	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, person);
	sqlite3_bind_int64(st, 3, tenant);
	if (sqlite3_step(st) == SQLITE_ROW)
		c = credential_row(tenant, st, 0);
	sqlite3_reset(st);
	return c;
}

int group_member_set(int64_t tenant, int64_t group, int64_t person, int member)
{
	sqlite3_stmt *st;
	int rc;

	if (!entity_exists("access_groups", tenant, group) || !entity_exists("people", tenant, person))
		return 1;
	st = db_stmt(member ? "INSERT OR IGNORE INTO group_members (group_id, person_id) VALUES (?, ?)"
			    : "DELETE FROM group_members WHERE group_id = ? AND person_id = ?");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, group);
	sqlite3_bind_int64(st, 2, person);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

int person_by_card(int64_t tenant, const char *number, int64_t *person, int64_t *credential)
{
	sqlite3_stmt *st = db_stmt("SELECT person_id, id FROM credentials WHERE tenant_id = ? AND kind = 'card' AND lookup_idx = ?");
	int rc = 1;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	bind_index(st, 2, tenant, VI_CARD, number);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*person = sqlite3_column_int64(st, 0);
		*credential = sqlite3_column_int64(st, 1);
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}
