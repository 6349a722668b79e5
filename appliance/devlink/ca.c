#include "ca.h"

#include "core/db.h"
#include "core/log.h"
#include "core/vault.h"
#include "tls/certgen.h"

#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CA_SUBJECT "CN=Gatehouse device CA,O=Gatehouse appliance"
#define CA_DAYS 7300

static int seal_key(mbedtls_pk_context *key, const char *column, unsigned char **sealed, size_t *slen)
{
	unsigned char pem[1024];
	struct vault_ref ref = {0, "device_ca", column, 1};
	int rc;

	if (mbedtls_pk_write_key_pem(key, pem, sizeof pem) != 0)
		return -1;
	rc = vault_seal(&ref, pem, strlen((char *)pem), sealed, slen);
	mbedtls_platform_zeroize(pem, sizeof pem);
	return rc == VAULT_OK ? 0 : -1;
}

/* The sealed private key in column, opened into key. */
static int load_key(const char *column, mbedtls_pk_context *key)
{
	char sql[96];
	struct vault_ref ref = {0, "device_ca", column, 1};
	sqlite3_stmt *st;
	unsigned char *pem = NULL;
	size_t len = 0;
	int rc = -1;

	snprintf(sql, sizeof sql, "SELECT %s FROM device_ca WHERE id = 1", column);
	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    vault_open_field(&ref, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &pem, &len) == VAULT_OK)
		rc = mbedtls_pk_parse_key(key, pem, len + 1, NULL, 0) == 0 ? 0 : -1;
	sqlite3_finalize(st);
	vault_free(pem, len);
	return rc;
}

static char *column_text(const char *sql)
{
	sqlite3_stmt *st;
	char *out = NULL;

	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	if (sqlite3_step(st) == SQLITE_ROW)
		out = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

char *devca_ca_pem(void)
{
	return column_text("SELECT cert_pem FROM device_ca WHERE id = 1");
}

static int create(const char *names_list, char *err, size_t errlen)
{
	mbedtls_pk_context ca, server;
	unsigned char ca_pem[4096], srv_pem[8192], *ca_sealed = NULL, *srv_sealed = NULL;
	size_t ca_slen = 0, srv_slen = 0;
	char serial[40], host[256] = "localhost", subject[300], list[1200];
	struct certgen_names names = {.count = 0};
	long long not_after;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	mbedtls_pk_init(&ca);
	mbedtls_pk_init(&server);
	gethostname(host, sizeof host - 1);
	snprintf(list, sizeof list, "localhost,%s,127.0.0.1,::1,%s", host, names_list ? names_list : "");
	certgen_names_add_list(&names, list);
	snprintf(subject, sizeof subject, "CN=%.64s,O=Gatehouse device link", host);
	struct cert_request rca = {CA_SUBJECT, CERT_CA, NULL, CA_DAYS, &ca, &ca, CA_SUBJECT};
	struct cert_request rsrv = {subject, CERT_SERVER, &names, CA_DAYS, &server, &ca, CA_SUBJECT};
	if (certgen_new_key(&ca) || certgen_new_key(&server) ||
	    certgen_issue(&rca, ca_pem, sizeof ca_pem, serial, &not_after) ||
	    certgen_issue(&rsrv, srv_pem, sizeof srv_pem, serial, &not_after)) {
		snprintf(err, errlen, "cannot create the device CA");
		goto out;
	}
	if (db_begin() < 0 || seal_key(&ca, "key_sealed", &ca_sealed, &ca_slen) < 0 ||
	    seal_key(&server, "server_key_sealed", &srv_sealed, &srv_slen) < 0) {
		snprintf(err, errlen, "cannot seal the device CA key");
		goto out;
	}
	st = db_stmt("INSERT INTO device_ca (id, cert_pem, key_sealed, server_cert_pem, server_key_sealed, created_at) "
		     "VALUES (1, ?, ?, ?, ?, unixepoch())");
	sqlite3_bind_text(st, 1, (char *)ca_pem, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 2, ca_sealed, (int)ca_slen, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, (char *)srv_pem, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 4, srv_sealed, (int)srv_slen, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE || db_commit() < 0) {
		snprintf(err, errlen, "cannot store the device CA: %s", sqlite3_errmsg(db_get()));
		goto out;
	}
	log_notice("devlink: created the device CA");
	rc = 0;
out:
	if (st)
		sqlite3_reset(st);
	if (rc)
		db_rollback();
	free(ca_sealed);
	free(srv_sealed);
	mbedtls_pk_free(&ca);
	mbedtls_pk_free(&server);
	return rc;
}

int devca_ensure(const char *names, char *err, size_t errlen)
{
	char *pem = devca_ca_pem();

	if (pem) {
		free(pem);
		return 0;
	}
	return create(names, err, errlen);
}

void devca_free_secret(char *pem)
{
	if (pem) {
		sodium_memzero(pem, strlen(pem));
		free(pem);
	}
}

static char *key_pem_of(mbedtls_pk_context *key)
{
	unsigned char pem[1024];
	char *out;

	if (mbedtls_pk_write_key_pem(key, pem, sizeof pem) != 0)
		return NULL;
	out = strdup((char *)pem);
	mbedtls_platform_zeroize(pem, sizeof pem);
	return out;
}

int devca_server_material(char **ca_pem, char **cert_pem, char **key_pem)
{
	mbedtls_pk_context key;

	*ca_pem = devca_ca_pem();
	*cert_pem = column_text("SELECT server_cert_pem FROM device_ca WHERE id = 1");
	*key_pem = NULL;
	mbedtls_pk_init(&key);
	if (*ca_pem && *cert_pem && load_key("server_key_sealed", &key) == 0)
		*key_pem = key_pem_of(&key);
	mbedtls_pk_free(&key);
	if (!*ca_pem || !*cert_pem || !*key_pem) {
		free(*ca_pem);
		free(*cert_pem);
		devca_free_secret(*key_pem);
		return -1;
	}
	return 0;
}

/* Sign subject_key as terminal uid with the CA. */
static char *issue(const char *uid, mbedtls_pk_context *subject_key, char serial[40], long long *not_after)
{
	mbedtls_pk_context ca;
	unsigned char pem[4096];
	char subject[200];
	char *out = NULL;

	mbedtls_pk_init(&ca);
	snprintf(subject, sizeof subject, "CN=%s,O=Gatehouse terminal", uid);
	struct cert_request r = {subject, CERT_CLIENT, NULL, DEVCA_DEVICE_DAYS, subject_key, &ca, CA_SUBJECT};
	if (load_key("key_sealed", &ca) == 0 && certgen_issue(&r, pem, sizeof pem, serial, not_after) == 0)
		out = strdup((char *)pem);
	mbedtls_pk_free(&ca);
	return out;
}

char *devca_sign_csr(const char *csr_pem, const char *uid, char serial[40], long long *not_after,
		     char *why, size_t whylen)
{
	mbedtls_x509_csr csr;
	char *out = NULL;

	mbedtls_x509_csr_init(&csr);
	/* mbedtls_x509_csr_parse also checks the CSR's signature over its key. */
	if (mbedtls_x509_csr_parse(&csr, (const unsigned char *)csr_pem, strlen(csr_pem) + 1) != 0)
		snprintf(why, whylen, "is not a valid PEM certificate signing request");
	else if (mbedtls_pk_get_type(&csr.pk) != MBEDTLS_PK_ECKEY || mbedtls_pk_get_bitlen(&csr.pk) != 256 ||
		 mbedtls_pk_ec(csr.pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1)
		snprintf(why, whylen, "must be for an ECDSA P-256 key");
	else if (!(out = issue(uid, &csr.pk, serial, not_after)))
		snprintf(why, whylen, "cannot be signed (device CA unavailable)");
	mbedtls_x509_csr_free(&csr);
	return out;
}

int devca_issue_bundle(const char *uid, char **key_pem, char **cert_pem, char serial[40], long long *not_after)
{
	mbedtls_pk_context key;

	mbedtls_pk_init(&key);
	*key_pem = NULL;
	*cert_pem = NULL;
	if (certgen_new_key(&key) == 0 && (*cert_pem = issue(uid, &key, serial, not_after)))
		*key_pem = key_pem_of(&key);
	mbedtls_pk_free(&key);
	if (!*key_pem) {
		free(*cert_pem);
		*cert_pem = NULL;
		return -1;
	}
	return 0;
}
