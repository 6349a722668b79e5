/* devices: door terminals as records: their identity (uid: the MQTT client
 * id, their topic segment and certificate CN), enrolment (one-time token +
 * CSR, or a ready bundle), the certificate that may connect, status
 * (pending, active, disabled), and what the device link learns (online,
 * last seen, firmware, clock offset). */
#ifndef GH_DEVICES_H
#define GH_DEVICES_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define DEVICE_UID_LEN 20     /* "t" + 16 hex digits + NUL, with room */
#define ENROLL_TOKEN_LEN 64

struct device {
	int64_t id, tenant, site;
	char uid[DEVICE_UID_LEN];
	char name[201], model[65], status[12], serial[40], firmware[65];
	int online;
	long long last_seen, clock_offset_ms, cert_not_after;
	long long version;
};

/* Validate a create/update body (name, site_id, model). */
struct jv;
void device_body_check(struct jv *v, int64_t tenant, const cJSON *body, int partial);

/* Create a pending device; *id and uid filled. Inside a transaction. */
int device_create(int64_t tenant, const cJSON *body, int64_t *id, char uid[DEVICE_UID_LEN]);
/* A fresh one-time enrolment token valid for ttl_s seconds (replaces any). */
int device_new_enroll_token(int64_t tenant, int64_t id, long long ttl_s, char token[ENROLL_TOKEN_LEN]);
/* Enrol with a token and a CSR: on success the device is active with the new
 * certificate; returns the certificate PEM (malloc'd) and fills *d.
 * NULL with field/why on failure (token unknown or expired, bad CSR). */
char *device_enroll(const char *token, const char *csr_pem, struct device *d, const char **field, char *why,
		    size_t whylen);
/* A ready bundle: new key and certificate, device active. 0 or -1. */
int device_issue_bundle(int64_t tenant, int64_t id, char **key_pem, char **cert_pem);

int device_get(int64_t tenant, int64_t id, struct device *d);   /* 0, 1 not found, -1 */
int device_by_uid(const char *uid, struct device *d);          /* any tenant */
cJSON *device_json(const struct device *d);
int device_list(int64_t tenant, int64_t cursor, int limit, cJSON *out, int64_t *next);
/* 0, 1 not found, 2 version mismatch, -1. */
int device_update(int64_t tenant, int64_t id, long long version, const cJSON *body);
int device_set_status(int64_t tenant, int64_t id, const char *status);
int device_delete(int64_t tenant, int64_t id);

/* Device link bookkeeping (no tenant check: the link knows the device). */
int device_seen(int64_t id, int online, const char *firmware, const long long *clock_offset_ms);
/* All devices offline (at start: nothing is connected yet). */
int devices_all_offline(void);

#endif
