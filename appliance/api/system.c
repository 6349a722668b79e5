/* What the console shows about the appliance itself:
 *
 *   GET /api/v1/system            version, disk, database, counts,
 *                                 certificates, recovery key, last backups
 *   PUT /api/v1/certificates/web  a new web server certificate and key,
 *                                 used from the next start
 *
 * The configuration is api/settings.c. */
#include "api.h"

#include "core/isotime.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/state.h"
#include "core/vault_escrow.h"
#include "core/version.h"
#include "domain/admins.h"
#include "web/http.h"
#include "web/json.h"

#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

static time_t started;

static void __attribute__((constructor)) remember_start(void) { started = time(NULL); }

/* --- certificates ------------------------------------------------------------------------------------- */

static pthread_mutex_t cert_lock = PTHREAD_MUTEX_INITIALIZER;
static char pending_sha256[100]; /* a replacement stored for the next start */

static long long x509_unix(const mbedtls_x509_time *t)
{
	struct tm tm = {.tm_year = t->year - 1900, .tm_mon = t->mon - 1, .tm_mday = t->day,
			.tm_hour = t->hour, .tm_min = t->min, .tm_sec = t->sec};
	return (long long)timegm(&tm);
}

static void fingerprint(const mbedtls_x509_crt *crt, char *out, size_t len)
{
	unsigned char h[32];

	mbedtls_sha256_ret(crt->raw.p, crt->raw.len, h, 0);
	out[0] = '\0';
	for (size_t i = 0; i < sizeof h && 3 * i + 3 <= len; i++)
		snprintf(out + 3 * i, len - 3 * i, "%02X%s", h[i], i + 1 < sizeof h ? ":" : "");
}

/* The subjectAltName entries: DNS names, and IP addresses written out. */
static cJSON *sans(const mbedtls_x509_crt *crt)
{
	cJSON *a = cJSON_CreateArray();

	for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s && s->buf.p; s = s->next) {
		char buf[300];
		int tag = s->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK;
		if (tag == 2 && s->buf.len < sizeof buf) { /* dNSName */
			memcpy(buf, s->buf.p, s->buf.len);
			buf[s->buf.len] = '\0';
		} else if (tag == 7 && s->buf.len == 4) { /* iPAddress v4 */
			snprintf(buf, sizeof buf, "%u.%u.%u.%u", s->buf.p[0], s->buf.p[1], s->buf.p[2], s->buf.p[3]);
		} else if (tag == 7 && s->buf.len == 16) { /* iPAddress v6 */
			if (!inet_ntop(AF_INET6, s->buf.p, buf, sizeof buf))
				continue;
		} else {
			continue;
		}
		cJSON_AddItemToArray(a, cJSON_CreateString(buf));
	}
	return a;
}

/* A certificate as the console shows it; NULL pem/path: absent. */
static cJSON *cert_json(const char *pem, const char *path, int full)
{
	mbedtls_x509_crt crt;
	cJSON *o = cJSON_CreateObject();
	int rc;

	mbedtls_x509_crt_init(&crt);
	rc = pem ? mbedtls_x509_crt_parse(&crt, (const unsigned char *)pem, strlen(pem) + 1)
		 : mbedtls_x509_crt_parse_file(&crt, path);
	if (rc < 0 || !crt.version) {
		cJSON_AddBoolToObject(o, "readable", 0);
		mbedtls_x509_crt_free(&crt);
		return o;
	}
	cJSON_AddBoolToObject(o, "readable", 1);
	json_add_utc(o, "not_after", x509_unix(&crt.valid_to));
	if (full) {
		char dn[512], fp[100];
		if (mbedtls_x509_dn_gets(dn, sizeof dn, &crt.subject) < 0)
			dn[0] = '\0';
		cJSON_AddStringToObject(o, "subject", dn);
		if (mbedtls_x509_dn_gets(dn, sizeof dn, &crt.issuer) < 0)
			dn[0] = '\0';
		cJSON_AddStringToObject(o, "issuer", dn);
		cJSON_AddItemToObject(o, "names", sans(&crt));
		json_add_utc(o, "not_before", x509_unix(&crt.valid_from));
		fingerprint(&crt, fp, sizeof fp);
		cJSON_AddStringToObject(o, "sha256", fp);
	}
	mbedtls_x509_crt_free(&crt);
	return o;
}

static int own_tls_files(void)
{
	return *cfg_str(CFG_WEB_TLS_CERT) || *cfg_str(CFG_WEB_TLS_KEY);
}

static void web_cert_path(char *path, size_t len)
{
	if (*cfg_str(CFG_WEB_TLS_CERT))
		snprintf(path, len, "%s", cfg_str(CFG_WEB_TLS_CERT));
	else
		state_path("tls/server.crt", path, len);
}

/* Why a certificate and key cannot serve HTTPS here, or NULL when they can. */
static const char *check_pair(mbedtls_x509_crt *crt, mbedtls_pk_context *key, char *why, size_t len)
{
	mbedtls_pk_type_t t = mbedtls_pk_get_type(key);

	if (mbedtls_x509_time_is_past(&crt->valid_to))
		return "the certificate has expired";
	if (mbedtls_x509_time_is_future(&crt->valid_from))
		return "the certificate is not valid yet (check its start date and the appliance's clock)";
	if (t == MBEDTLS_PK_ECKEY || t == MBEDTLS_PK_ECKEY_DH || t == MBEDTLS_PK_ECDSA) {
		mbedtls_ecp_group_id g = mbedtls_pk_ec(*key)->grp.id;
		if (g != MBEDTLS_ECP_DP_SECP256R1 && g != MBEDTLS_ECP_DP_SECP384R1)
			return "an ECDSA key must be on the P-256 or P-384 curve";
	} else if (t == MBEDTLS_PK_RSA) {
		if (mbedtls_pk_get_bitlen(key) < 2048) {
			snprintf(why, len, "an RSA key must have at least 2048 bits (this one has %zu)",
				 mbedtls_pk_get_bitlen(key));
			return why;
		}
	} else {
		return "the key must be ECDSA (P-256 or P-384) or RSA (2048 bits or more)";
	}
	if (mbedtls_pk_check_pair(&crt->pk, key) != 0)
		return "the private key does not belong to the certificate";
	if ((crt->ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) &&
	    mbedtls_x509_crt_check_extended_key_usage(crt, MBEDTLS_OID_SERVER_AUTH,
						      MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) != 0)
		return "the certificate is not for TLS servers (its extended key usage lacks serverAuth)";
	return NULL;
}

/* PUT {"cert_pem", "key_pem"}: checked, then written for the next start.
 * The running server keeps its certificate: CivetWeb builds its TLS
 * configuration once at start, and swapping it under handshakes in
 * progress in our glue is not something to do by surprise. */
void api_certificates_web_put(struct http_req *req)
{
	const char *cert_pem, *key_pem, *why;
	char reason[160], cpath[4200], kpath[4200], err[600], fp[100];
	mbedtls_x509_crt crt;
	mbedtls_pk_context key;
	cJSON *details, *doc;
	struct jv v;
	int rc;

	if (http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	cert_pem = jv_text(&v, "cert_pem", 1, 1, 64 * 1024);
	key_pem = jv_text(&v, "key_pem", 1, 1, 16 * 1024);
	jv_no_others(&v);
	if (jv_finish(&v, req) < 0)
		return;
	if (own_tls_files()) {
		api_audit(req, "certificate.web_replace", "web", "denied", NULL);
		return http_error(req, 409, "conflict",
				  "web.tls_cert / web.tls_key point at your own files (%s): replace those files "
				  "on the appliance and restart it; the console manages only STATE/tls/",
				  *cfg_str(CFG_WEB_TLS_CERT) ? cfg_str(CFG_WEB_TLS_CERT) : cfg_str(CFG_WEB_TLS_KEY));
	}
	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&key);
	why = NULL;
	if (!strstr(cert_pem, "-----BEGIN CERTIFICATE-----") ||
	    mbedtls_x509_crt_parse(&crt, (const unsigned char *)cert_pem, strlen(cert_pem) + 1) != 0 || !crt.version) {
		jv_error(&v, "cert_pem", "is not a PEM certificate (or chain) that can be read");
	}
	rc = mbedtls_pk_parse_key(&key, (const unsigned char *)key_pem, strlen(key_pem) + 1, NULL, 0);
	if (rc != 0)
		jv_error(&v, "key_pem", rc == MBEDTLS_ERR_PK_PASSWORD_REQUIRED
					    ? "is encrypted: give the key without a passphrase"
					    : "is not a PEM private key that can be read");
	if (!v.errors && (why = check_pair(&crt, &key, reason, sizeof reason)) != NULL)
		jv_error(&v, strstr(why, "key") && !strstr(why, "key usage") ? "key_pem" : "cert_pem",
			 "%s", why);
	mbedtls_pk_free(&key);
	if (jv_finish(&v, req) < 0) {
		details = cJSON_CreateObject();
		cJSON_AddStringToObject(details, "reason", why ? why : "unreadable certificate or key");
		api_audit(req, "certificate.web_replace", "web", "failed", details);
		cJSON_Delete(details);
		mbedtls_x509_crt_free(&crt);
		return;
	}
	fingerprint(&crt, fp, sizeof fp);
	mbedtls_x509_crt_free(&crt);

	state_path("tls/server.crt", cpath, sizeof cpath);
	state_path("tls/server.key", kpath, sizeof kpath);
	pthread_mutex_lock(&cert_lock);
	/* The key first: until the certificate follows, the old pair is whole
	 * for anyone reading the certificate; each file is replaced atomically. */
	rc = state_mkdir("tls", err, sizeof err);
	if (rc == 0)
		rc = state_write_file(kpath, key_pem, strlen(key_pem), 0600, err, sizeof err);
	if (rc == 0)
		rc = state_write_file(cpath, cert_pem, strlen(cert_pem), 0644, err, sizeof err);
	if (rc == 0)
		snprintf(pending_sha256, sizeof pending_sha256, "%s", fp);
	pthread_mutex_unlock(&cert_lock);
	details = cJSON_CreateObject();
	cJSON_AddStringToObject(details, "sha256", fp);
	if (rc != 0) {
		log_err("certificates: cannot store the new web certificate: %s", err);
		api_audit(req, "certificate.web_replace", "web", "failed", details);
		cJSON_Delete(details);
		return http_error(req, 503, "unavailable", "the certificate could not be stored: %s", err);
	}
	api_audit(req, "certificate.web_replace", "web", "ok", details);
	cJSON_Delete(details);
	log_notice("certificates: a new web certificate (SHA-256 %s) was stored; it is used from the next start", fp);
	doc = cert_json(NULL, cpath, 1);
	cJSON_AddBoolToObject(doc, "restart_required", 1);
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
}

/* --- GET /api/v1/system ------------------------------------------------------------------------------ */

static long long file_size(const char *rel)
{
	char path[4200];
	struct stat st;

	return stat(state_path(rel, path, sizeof path), &st) == 0 ? (long long)st.st_size : 0;
}

static cJSON *terminals(int64_t tenant)
{
	sqlite3_stmt *st = db_stmt("SELECT count(*), coalesce(sum(online), 0), coalesce(sum(status = 'pending'), 0), "
				   "coalesce(sum(status = 'disabled'), 0) FROM devices WHERE ?1 = 0 OR tenant_id = ?1");
	cJSON *o = cJSON_CreateObject();

	if (st) {
		sqlite3_bind_int64(st, 1, tenant);
		if (sqlite3_step(st) == SQLITE_ROW) {
			cJSON_AddNumberToObject(o, "total", (double)sqlite3_column_int64(st, 0));
			cJSON_AddNumberToObject(o, "online", (double)sqlite3_column_int64(st, 1));
			cJSON_AddNumberToObject(o, "pending", (double)sqlite3_column_int64(st, 2));
			cJSON_AddNumberToObject(o, "disabled", (double)sqlite3_column_int64(st, 3));
		}
		sqlite3_reset(st);
	}
	return o;
}

static cJSON *people(int64_t tenant)
{
	sqlite3_stmt *st = db_stmt("SELECT t.id, t.slug, t.name, (SELECT count(*) FROM people p WHERE p.tenant_id = t.id) "
				   "FROM tenants t WHERE ?1 = 0 OR t.id = ?1 ORDER BY t.id LIMIT 1000");
	cJSON *a = cJSON_CreateArray();

	if (!st)
		return a;
	sqlite3_bind_int64(st, 1, tenant);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "tenant_id", (double)sqlite3_column_int64(st, 0));
		cJSON_AddStringToObject(o, "slug", (const char *)sqlite3_column_text(st, 1));
		cJSON_AddStringToObject(o, "name", (const char *)sqlite3_column_text(st, 2));
		cJSON_AddNumberToObject(o, "people", (double)sqlite3_column_int64(st, 3));
		cJSON_AddItemToArray(a, o);
	}
	sqlite3_reset(st);
	return a;
}

static cJSON *disk(void)
{
	struct statvfs sv;
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "path", state_dir());
	if (statvfs(state_dir(), &sv) == 0) {
		double total = (double)sv.f_blocks * (double)sv.f_frsize;
		double avail = (double)sv.f_bavail * (double)sv.f_frsize;
		double free_ = (double)sv.f_bfree * (double)sv.f_frsize;
		cJSON_AddNumberToObject(o, "total_bytes", total);
		cJSON_AddNumberToObject(o, "available_bytes", avail);
		cJSON_AddNumberToObject(o, "used_bytes", total - free_);
	} else {
		cJSON_AddNullToObject(o, "total_bytes");
		cJSON_AddNullToObject(o, "available_bytes");
		cJSON_AddNullToObject(o, "used_bytes");
	}
	cJSON_AddNumberToObject(o, "min_free_bytes", (double)cfg_int(CFG_ALERTS_DISK_MIN_FREE));
	return o;
}

static cJSON *certificates(void)
{
	char path[4200];
	cJSON *o = cJSON_CreateObject(), *web;
	sqlite3_stmt *st;

	web_cert_path(path, sizeof path);
	web = cert_json(NULL, path, 1);
	cJSON_AddStringToObject(web, "path", path);
	cJSON_AddBoolToObject(web, "own_files", own_tls_files());
	pthread_mutex_lock(&cert_lock);
	cJSON_AddBoolToObject(web, "restart_required", pending_sha256[0] != '\0');
	pthread_mutex_unlock(&cert_lock);
	cJSON_AddItemToObject(o, "web", web);
	st = db_stmt("SELECT cert_pem, server_cert_pem FROM device_ca WHERE id = 1");
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		char *ca = strdup((const char *)sqlite3_column_text(st, 0));
		char *srv = strdup((const char *)sqlite3_column_text(st, 1));
		sqlite3_reset(st);
		cJSON_AddItemToObject(o, "device_ca", ca ? cert_json(ca, NULL, 0) : cJSON_CreateNull());
		cJSON_AddItemToObject(o, "device_link", srv ? cert_json(srv, NULL, 0) : cJSON_CreateNull());
		free(ca);
		free(srv);
	} else {
		if (st)
			sqlite3_reset(st);
		cJSON_AddNullToObject(o, "device_ca");
		cJSON_AddNullToObject(o, "device_link");
	}
	return o;
}

static cJSON *recovery(void)
{
	struct vault_recovery_status r;
	cJSON *o = cJSON_CreateObject();

	if (vault_recovery_status(state_dir(), &r) < 0 || !r.present) {
		cJSON_AddBoolToObject(o, "present", 0);
		cJSON_AddNullToObject(o, "fingerprint");
		cJSON_AddNullToObject(o, "created_at");
		cJSON_AddNullToObject(o, "exported_at");
		cJSON_AddBoolToObject(o, "exported", 0);
		cJSON_AddNumberToObject(o, "keys_without_escrow", 0);
		return o;
	}
	cJSON_AddBoolToObject(o, "present", 1);
	cJSON_AddStringToObject(o, "fingerprint", r.fingerprint);
	json_add_utc(o, "created_at", r.created_at);
	json_add_utc(o, "exported_at", r.exported_at);
	cJSON_AddBoolToObject(o, "exported", r.exported_at > 0 && !r.secret_on_disk);
	cJSON_AddNumberToObject(o, "keys_without_escrow", (double)r.escrow_missing);
	return o;
}

static cJSON *backups(void)
{
	static const char *const kinds[][2] = {{"full", "backup-full"}, {"events", "backup-events"}};
	sqlite3_stmt *st = db_stmt("SELECT schedule, enabled, next_run_at, last_started_at, last_finished_at, last_status, "
				   "last_error, last_ok_at FROM jobs WHERE name = ?");
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < 2; i++) {
		cJSON *o = cJSON_CreateObject();
		int found = 0;
		cJSON_AddStringToObject(o, "kind", kinds[i][0]);
		cJSON_AddStringToObject(o, "job", kinds[i][1]);
		if (st) {
			sqlite3_bind_text(st, 1, kinds[i][1], -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW) {
				found = 1;
				cJSON_AddStringToObject(o, "schedule", (const char *)sqlite3_column_text(st, 0));
				json_add_utc(o, "next_run_at", sqlite3_column_int(st, 1) ? sqlite3_column_int64(st, 2) : 0);
				json_add_utc(o, "last_finished_at", sqlite3_column_int64(st, 4));
				if (sqlite3_column_type(st, 5) == SQLITE_NULL)
					cJSON_AddNullToObject(o, "last_status");
				else
					cJSON_AddStringToObject(o, "last_status", (const char *)sqlite3_column_text(st, 5));
				if (sqlite3_column_type(st, 6) == SQLITE_NULL)
					cJSON_AddNullToObject(o, "last_error");
				else
					cJSON_AddStringToObject(o, "last_error", (const char *)sqlite3_column_text(st, 6));
				json_add_utc(o, "last_ok_at", sqlite3_column_int64(st, 7));
			}
			sqlite3_reset(st);
		}
		if (!found) {
			cJSON_AddStringToObject(o, "schedule", cfg_str(i == 0 ? CFG_JOBS_BACKUP_FULL : CFG_JOBS_BACKUP_EVENTS));
			cJSON_AddNullToObject(o, "next_run_at");
			cJSON_AddNullToObject(o, "last_finished_at");
			cJSON_AddNullToObject(o, "last_status");
			cJSON_AddNullToObject(o, "last_error");
			cJSON_AddNullToObject(o, "last_ok_at");
		}
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

void api_system_get(struct http_req *req)
{
	int sys = req->auth.role == ROLE_SYSTEM_ADMIN;
	int64_t tenant = sys ? req->auth.tenant : req->auth.admin_tenant;
	cJSON *doc = cJSON_CreateObject(), *db;

	cJSON_AddStringToObject(doc, "version", GH_VERSION);
	json_add_utc(doc, "started_at", (long long)started);
	cJSON_AddNumberToObject(doc, "uptime_s", (double)(time(NULL) - started));
	cJSON_AddBoolToObject(doc, "partial", !sys);
	cJSON_AddItemToObject(doc, "terminals", terminals(tenant));
	cJSON_AddItemToObject(doc, "people", people(tenant));
	if (sys) {
		cJSON_AddItemToObject(doc, "disk", disk());
		db = cJSON_AddObjectToObject(doc, "database");
		cJSON_AddNumberToObject(db, "size_bytes", (double)(file_size("gatehouse.db") + file_size("gatehouse.db-wal")));
		cJSON_AddNumberToObject(db, "keystore_bytes",
					(double)(file_size("keys/keystore.db") + file_size("keys/keystore.db-wal")));
		cJSON_AddItemToObject(doc, "certificates", certificates());
		cJSON_AddItemToObject(doc, "recovery_key", recovery());
		cJSON_AddItemToObject(doc, "backups", backups());
	}
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
}
