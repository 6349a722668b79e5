#include "devsim/enroll.h"

#include "devsim/store.h"
#include "devsim/util.h"
#include "tls/certgen.h"

#include <cJSON.h>
#include <errno.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_csr.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int enroll_csr(mbedtls_pk_context *key, const char *cn, char *out, size_t len)
{
	mbedtls_x509write_csr csr;
	char subject[200];
	int rc;

	snprintf(subject, sizeof subject, "CN=%s", cn);
	mbedtls_x509write_csr_init(&csr);
	mbedtls_x509write_csr_set_md_alg(&csr, MBEDTLS_MD_SHA256);
	mbedtls_x509write_csr_set_key(&csr, key);
	rc = mbedtls_x509write_csr_set_subject_name(&csr, subject) ||
	     mbedtls_x509write_csr_pem(&csr, (unsigned char *)out, len, tls_random, NULL);
	mbedtls_x509write_csr_free(&csr);
	return rc ? -1 : 0;
}

/* The appliance's error, briefly: {"error": {"message" or "fields"}}. */
static void describe(int status, const char *body, char *out, size_t len)
{
	cJSON *doc = body ? cJSON_Parse(body) : NULL;
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
	const cJSON *f = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(e, "fields"), 0);
	const cJSON *field = cJSON_GetObjectItemCaseSensitive(f, "field"), *reason = cJSON_GetObjectItemCaseSensitive(f, "reason");

	if (cJSON_IsString(field) && cJSON_IsString(reason))
		snprintf(out, len, "HTTP %d: %.60s %.120s", status, field->valuestring, reason->valuestring);
	else if (cJSON_IsString(msg))
		snprintf(out, len, "HTTP %d: %.180s", status, msg->valuestring);
	else
		snprintf(out, len, "HTTP %d", status);
	cJSON_Delete(doc);
}

/* Call the API; the answer as JSON when the status is the one expected.
 * *got, if given, receives the status (0 when no answer came). */
static cJSON *call_status(struct https *api, const char *method, const char *path, const char *json, int auth,
			  int expect, const char *what, int *got, char *err, size_t errlen)
{
	char *body = NULL, why[256];
	int status = 0;
	cJSON *doc = NULL;

	if (got)
		*got = 0;
	if (https_request(api, method, path, json, auth, &status, &body, why, sizeof why) < 0) {
		snprintf(err, errlen, "%s: %s", what, why);
		return NULL;
	}
	if (got)
		*got = status;
	if (status != expect) {
		describe(status, body, why, sizeof why);
		snprintf(err, errlen, "%s: %s%s", what, why,
			 status == 401 || status == 403 ? " (is the API token right, with scope manage?)" : "");
	} else if (!(doc = cJSON_Parse(body))) {
		snprintf(err, errlen, "%s: the answer is not JSON", what);
	}
	if (body) {
		/* Answers carry tokens and keys. */
		sodium_memzero(body, strlen(body));
		free(body);
	}
	return doc;
}

static cJSON *call(struct https *api, const char *method, const char *path, const char *json, int auth, int expect,
		   const char *what, char *err, size_t errlen)
{
	return call_status(api, method, path, json, auth, expect, what, NULL, err, errlen);
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		m = cJSON_GetObjectItemCaseSensitive(m, b);
	return cJSON_IsString(m) ? m->valuestring : NULL;
}

static int write_pem(const char *dir, const char *name, const char *pem, int mode, char *err, size_t errlen)
{
	char path[4200];

	if (!pem || ds_path(path, sizeof path, dir, name) < 0 || ds_write_file(path, pem, strlen(pem), mode) < 0) {
		snprintf(err, errlen, "%s/%s: %s", dir, name, pem ? strerror(errno) : "missing in the answer");
		return -1;
	}
	return 0;
}

/* On a site appliance terminals are configured on the central and arrive
 * with the site's sync (docs/sync.md): devsim-N is found by its name and
 * enrolled here with a token and a CSR (a site issues no bundles for a
 * terminal it did not create). Returns 2: the caller asks for a token. */
static int configured_at_central(const struct devsim_opts *o, struct https *api, const char *dir, const char *name,
				 struct store_meta *m, char *err, size_t errlen)
{
	char path[96];
	int64_t cursor = 0;

	do {
		const cJSON *d;
		cJSON *doc;
		if (cursor)
			snprintf(path, sizeof path, "/api/v1/devices?limit=500&cursor=%lld", (long long)cursor);
		else
			snprintf(path, sizeof path, "/api/v1/devices?limit=500");
		if (!(doc = call(api, "GET", path, NULL, 1, 200, "finding the terminal configured on the central", err,
				 errlen)))
			return -1;
		cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(doc, "items"))
			if (str_at(d, "name", NULL) && strcmp(str_at(d, "name", NULL), name) == 0 && str_at(d, "uid", NULL)) {
				m->device_id = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(d, "id"));
				snprintf(m->uid, sizeof m->uid, "%s", str_at(d, "uid", NULL));
			}
		cursor = str_at(doc, "next_cursor", NULL) ? strtoll(str_at(doc, "next_cursor", NULL), NULL, 10) : 0;
		cJSON_Delete(doc);
	} while (!m->device_id && cursor > 0);
	if (!m->device_id) {
		snprintf(err, errlen, "this appliance is a site and has no terminal named %s: configure it on the central "
			 "(POST /api/v1/devices with this site) and sync", name);
		return -1;
	}
	snprintf(m->name, sizeof m->name, "%s", name);
	snprintf(m->firmware, sizeof m->firmware, "%s", o->firmware);
	if (store_meta_save(dir, m) < 0) {
		snprintf(err, errlen, "%s/state: %s", dir, strerror(errno));
		return -1;
	}
	return 2;
}

/* Step 1: the terminal exists on the appliance. Returns its enrolment
 * token in token (or 1 when a bundle made it complete already, 2 when it
 * needs a token still). */
static int create(const struct devsim_opts *o, struct https *api, const char *dir, int index, struct store_meta *m,
		  char *token, size_t toklen, char *err, size_t errlen)
{
	cJSON *body = cJSON_CreateObject(), *doc;
	const cJSON *dev;
	char name[48], *text;
	int rc = -1, status;

	snprintf(name, sizeof name, "devsim-%d", index);
	cJSON_AddStringToObject(body, "name", name);
	cJSON_AddStringToObject(body, "model", o->model);
	if (o->bundle)
		cJSON_AddStringToObject(body, "enrollment", "bundle");
	text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	doc = call_status(api, "POST", "/api/v1/devices", text, 1, 201, "creating the terminal", &status, err, errlen);
	cJSON_free(text);
	if (!doc && status == 409)
		return configured_at_central(o, api, dir, name, m, err, errlen);
	if (!doc)
		return -1;
	dev = cJSON_GetObjectItemCaseSensitive(doc, "device");
	if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(dev, "id")) || !str_at(dev, "uid", NULL)) {
		snprintf(err, errlen, "creating the terminal: no device id or uid in the answer");
		goto out;
	}
	m->device_id = (int64_t)cJSON_GetObjectItemCaseSensitive(dev, "id")->valuedouble;
	snprintf(m->uid, sizeof m->uid, "%s", str_at(dev, "uid", NULL));
	snprintf(m->name, sizeof m->name, "%s", name);
	snprintf(m->firmware, sizeof m->firmware, "%s", o->firmware);
	/* Remembered at once: a restart must not create it a second time. */
	if (store_meta_save(dir, m) < 0) {
		snprintf(err, errlen, "%s/state: %s", dir, strerror(errno));
		goto out;
	}
	if (o->bundle) {
		if (write_pem(dir, "key.pem", str_at(doc, "bundle", "key_pem"), 0600, err, errlen) < 0 ||
		    write_pem(dir, "cert.pem", str_at(doc, "bundle", "cert_pem"), 0644, err, errlen) < 0 ||
		    write_pem(dir, "ca.pem", str_at(doc, "bundle", "ca_pem"), 0644, err, errlen) < 0)
			goto out;
		rc = 1;
	} else if (!str_at(doc, "enroll_token", NULL)) {
		snprintf(err, errlen, "creating the terminal: no enroll_token in the answer");
	} else {
		snprintf(token, toklen, "%s", str_at(doc, "enroll_token", NULL));
		rc = 0;
	}
out:
	cJSON_Delete(doc);
	return rc;
}

/* A new one-time token for a terminal whose enrolment was interrupted. */
static int new_token(struct https *api, const struct store_meta *m, char *token, size_t toklen, char *err,
		     size_t errlen)
{
	char path[96];
	cJSON *doc;
	int rc = -1;

	snprintf(path, sizeof path, "/api/v1/devices/%lld/enroll-token", (long long)m->device_id);
	if (!(doc = call(api, "POST", path, NULL, 1, 200, "getting a new enrolment token", err, errlen)))
		return -1;
	if (str_at(doc, "enroll_token", NULL)) {
		snprintf(token, toklen, "%s", str_at(doc, "enroll_token", NULL));
		rc = 0;
	} else {
		snprintf(err, errlen, "getting a new enrolment token: none in the answer");
	}
	cJSON_Delete(doc);
	return rc;
}

/* The terminal's own key: made once, kept in key.pem (0600). */
static int own_key(const char *dir, mbedtls_pk_context *key, char *err, size_t errlen)
{
	char path[4200];
	unsigned char pem[1024];
	int rc;

	if (ds_path(path, sizeof path, dir, "key.pem") < 0) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if (access(path, F_OK) == 0)
		rc = mbedtls_pk_parse_keyfile(key, path, NULL);
	else if ((rc = certgen_new_key(key)) == 0 && (rc = mbedtls_pk_write_key_pem(key, pem, sizeof pem)) == 0)
		rc = ds_write_file(path, pem, strlen((char *)pem), 0600);
	mbedtls_platform_zeroize(pem, sizeof pem);
	if (rc) {
		snprintf(err, errlen, "%s: cannot make or read the terminal's key", path);
		return -1;
	}
	return 0;
}

/* Step 2: CSR and one-time token for a certificate. */
static int enrol(struct https *api, const char *dir, const struct store_meta *m, const char *token, char *err,
		 size_t errlen)
{
	mbedtls_pk_context key;
	char csr[4096];
	cJSON *body, *doc = NULL;
	char *text = NULL;
	int rc = -1;

	mbedtls_pk_init(&key);
	if (own_key(dir, &key, err, errlen) < 0)
		goto out;
	/* The appliance names the certificate after the uid whatever the CSR
	 * says; the CSR says the same. */
	if (enroll_csr(&key, m->uid, csr, sizeof csr) < 0) {
		snprintf(err, errlen, "cannot make a certificate request");
		goto out;
	}
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "token", token);
	cJSON_AddStringToObject(body, "csr", csr);
	text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	doc = call(api, "POST", "/api/v1/devices/enroll", text, 0, 200, "enrolling", err, errlen);
	sodium_memzero(text, strlen(text));
	cJSON_free(text);
	if (!doc)
		goto out;
	if (!str_at(doc, "uid", NULL) || strcmp(str_at(doc, "uid", NULL), m->uid) != 0) {
		snprintf(err, errlen, "enrolling: the certificate is for another terminal");
		goto out;
	}
	if (write_pem(dir, "cert.pem", str_at(doc, "cert_pem", NULL), 0644, err, errlen) < 0 ||
	    write_pem(dir, "ca.pem", str_at(doc, "ca_pem", NULL), 0644, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	cJSON_Delete(doc);
	mbedtls_pk_free(&key);
	return rc;
}

int enroll_terminal(const struct devsim_opts *o, struct https *api, const char *dir, int index, char *err,
		    size_t errlen)
{
	struct store_meta m;
	char token[128] = "";
	int rc;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (store_meta_load(dir, &m, err, errlen) < 0)
		return -1;
	if (!m.device_id) {
		rc = create(o, api, dir, index, &m, token, sizeof token, err, errlen);
		if (rc == 2)
			rc = new_token(api, &m, token, sizeof token, err, errlen);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
	} else if (new_token(api, &m, token, sizeof token, err, errlen) < 0) {
		return -1;
	}
	rc = enrol(api, dir, &m, token, err, errlen);
	sodium_memzero(token, sizeof token);
	return rc;
}
