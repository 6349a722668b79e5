#include "t.h"

#include "core/state.h"
#include "tls/certgen.h"

#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <sys/stat.h>
#include <unistd.h>

TEST(certgen_creates_p256_cert_with_names)
{
	char cert[300], key[300], err[256] = "", list[] = "gate.example, 10.1.2.3,,gate.example";
	struct certgen_names names = {.count = 0};
	mbedtls_x509_crt crt;
	mbedtls_pk_context pk;
	struct stat st;
	char fp[100];

	state_open(t_tmpdir(), err, sizeof err);
	snprintf(cert, sizeof cert, "%s/server.crt", t_tmpdir());
	snprintf(key, sizeof key, "%s/server.key", t_tmpdir());
	CHECK_INT(certgen_names_add_list(&names, list), 0);
	CHECK_INT(names.count, 2);
	CHECK_INT(certgen_ensure(cert, key, "unit-host", &names, 30, err, sizeof err), 1);
	CHECK_STR(err, "");

	mbedtls_x509_crt_init(&crt);
	CHECK_INT(mbedtls_x509_crt_parse_file(&crt, cert), 0);
	CHECK(mbedtls_pk_get_type(&crt.pk) == MBEDTLS_PK_ECKEY);
	CHECK_INT(mbedtls_pk_get_bitlen(&crt.pk), 256);
	CHECK_INT(crt.ca_istrue, 0);
	/* subjectAltName: one DNS name and one IP as written. */
	int dns = 0;
	for (const mbedtls_x509_sequence *s = &crt.subject_alt_names; s && s->buf.p; s = s->next)
		if (s->buf.len == 12 && memcmp(s->buf.p, "gate.example", 12) == 0)
			dns++;
	CHECK_INT(dns, 1);
	CHECK_INT(mbedtls_x509_crt_check_extended_key_usage(&crt, MBEDTLS_OID_SERVER_AUTH,
							    MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)), 0);
	mbedtls_pk_init(&pk);
	CHECK_INT(mbedtls_pk_parse_keyfile(&pk, key, NULL), 0);
	CHECK_INT(mbedtls_pk_check_pair(&crt.pk, &pk), 0);
	mbedtls_pk_free(&pk);
	mbedtls_x509_crt_free(&crt);

	CHECK_INT(stat(key, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	CHECK_INT(certgen_fingerprint(cert, fp, sizeof fp), 0);
	CHECK_INT(strlen(fp), 95);
	CHECK(fp[2] == ':');

	/* A second call keeps the existing pair. */
	CHECK_INT(certgen_ensure(cert, key, "unit-host", &names, 30, err, sizeof err), 0);
	/* Half a pair is an error, not a silent regeneration. */
	CHECK_INT(unlink(key), 0);
	CHECK_INT(certgen_ensure(cert, key, "unit-host", &names, 30, err, sizeof err), -1);
	CHECK_CONTAINS(err, "exists but");
}

TEST(certgen_names_limit)
{
	struct certgen_names names = {.count = 0};
	char list[2000] = "";

	for (int i = 0; i < 40; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "n%d.example,", i);
	CHECK_INT(certgen_names_add_list(&names, list), -1);
}
