/* POST /api/v1/decisions: the what-if check. May this card (or credential)
 * open this door at this instant, and if not, why not? The answer comes
 * from decide(), the same rules the terminals apply offline. */
#include "api.h"

#include "domain/access.h"
#include "web/http.h"
#include "web/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "2026-11-26T09:00:00Z" or with an offset "+09:00" / "-05:00". -1 if bad. */
static int parse_instant(const char *s, time_t *out)
{
	struct tm tm;
	const char *end;
	int sign = 0, oh = 0, om = 0;

	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -1;
	if (*end == 'Z' && end[1] == '\0')
		sign = 0;
	else if ((*end == '+' || *end == '-') && sscanf(end + 1, "%2d:%2d", &oh, &om) == 2 && strlen(end) == 6)
		sign = *end == '+' ? 1 : -1;
	else
		return -1;
	*out = timegm(&tm) - sign * (oh * 3600 + om * 60);
	return 0;
}

void api_decisions(struct http_req *req)
{
	const char *card, *at_text;
	long long door, cred;
	time_t at = time(NULL);
	struct access_answer a;
	char when[32];
	struct tm tm;
	struct jv v;
	cJSON *doc;
	int rc;

	if (http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	card = jv_string(&v, "card", 0, 1, 64);
	cred = jv_int(&v, "credential_id", 0, 1, 1LL << 53, 0);
	door = jv_int(&v, "door_id", 1, 1, 1LL << 53, 0);
	at_text = jv_string(&v, "at", 0, 20, 25);
	jv_no_others(&v);
	if (!card == !cred)
		jv_error(&v, card ? "credential_id" : "card", "give either card or credential_id");
	if (at_text && parse_instant(at_text, &at) < 0)
		jv_error(&v, "at", "must be a time like 2026-11-26T09:00:00Z or 2026-11-26T18:00:00+09:00");
	if (jv_finish(&v, req) < 0)
		return;
	rc = access_check(api_tenant(req), card, cred, door, at, &a);
	if (rc == 1)
		return http_field_error(req, "door_id", "is not a door of this tenant");
	if (rc < 0)
		return api_db_error(req);
	doc = cJSON_CreateObject();
	cJSON_AddBoolToObject(doc, "grant", a.r.grant);
	cJSON_AddStringToObject(doc, "reason", decide_reason_name(a.r.reason));
	cJSON_AddNumberToObject(doc, "door_id", (double)door);
	if (a.person_id)
		cJSON_AddNumberToObject(doc, "person_id", (double)a.person_id);
	else
		cJSON_AddNullToObject(doc, "person_id");
	if (a.r.level_id)
		cJSON_AddNumberToObject(doc, "level_id", (double)a.r.level_id);
	else
		cJSON_AddNullToObject(doc, "level_id");
	gmtime_r(&at, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(doc, "at", when);
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
}
