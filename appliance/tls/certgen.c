#include "certgen.h"

#include "core/state.h"

#include <arpa/inet.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int certgen_names_add_list(struct certgen_names *n, char *list)
{
	char *save = NULL;

	for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		int dup = 0;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*tok)
			continue;
		for (size_t i = 0; i < n->count; i++)
			dup |= strcmp(n->items[i], tok) == 0;
		if (dup)
			continue;
		if (n->count >= sizeof n->items / sizeof n->items[0])
			return -1;
		n->items[n->count++] = tok;
	}
	return 0;
}

/* subjectAltName as DER: SEQUENCE OF GeneralName, where a DNS name is
 * [2] IA5String and an address is [7] OCTET STRING (4 or 16 bytes).
 * mbedTLS 2.28 has no writer for it, so it is built here; asn1write fills
 * the buffer from its end. */
static int san_der(const struct certgen_names *n, unsigned char *buf, size_t size,
		   const unsigned char **der, size_t *derlen)
{
	unsigned char *p = buf + size;
	size_t len = 0;
	int rc;

	for (size_t i = n->count; i-- > 0;) {
		const char *name = n->items[i];
		unsigned char addr[16];
		size_t alen = 0;
		unsigned char tag;

		if (inet_pton(AF_INET, name, addr) == 1)
			alen = 4;
		else if (inet_pton(AF_INET6, name, addr) == 1)
			alen = 16;
		if (alen) {
			rc = mbedtls_asn1_write_raw_buffer(&p, buf, addr, alen);
			tag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7;
		} else {
			rc = mbedtls_asn1_write_raw_buffer(&p, buf, (const unsigned char *)name,
							   strlen(name));
			tag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2;
		}
		if (rc < 0)
			return rc;
		size_t item = (size_t)rc;
		if ((rc = mbedtls_asn1_write_len(&p, buf, item)) < 0)
			return rc;
		item += (size_t)rc;
		if ((rc = mbedtls_asn1_write_tag(&p, buf, tag)) < 0)
			return rc;
		len += item + (size_t)rc;
	}
	if ((rc = mbedtls_asn1_write_len(&p, buf, len)) < 0)
		return rc;
	len += (size_t)rc;
	if ((rc = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0)
		return rc;
	len += (size_t)rc;
	*der = p;
	*derlen = len;
	return 0;
}

/* extendedKeyUsage = serverAuth, also missing from the 2.28 writer. */
static const unsigned char eku_server_auth[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01,
};

static void x509_time(time_t t, char out[16])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

struct certgen_ctx {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_context key;
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
};

static int build(struct certgen_ctx *c, const char *cn, const struct certgen_names *names,
		 int valid_days, unsigned char *pem, size_t pemlen)
{
	unsigned char san[4096], rnd[16];
	const unsigned char *der;
	size_t derlen;
	char subject[256], from[16], until[16];
	time_t now = time(NULL);
	int rc;

	if ((rc = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy,
					(const unsigned char *)"gatehouse-certgen", 17)) ||
	    (rc = mbedtls_pk_setup(&c->key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) ||
	    (rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(c->key),
				      mbedtls_ctr_drbg_random, &c->drbg)))
		return rc;
	/* A random positive 127-bit serial, as RFC 5280 asks for unpredictability. */
	if ((rc = mbedtls_ctr_drbg_random(&c->drbg, rnd, sizeof rnd)))
		return rc;
	rnd[0] &= 0x7f;
	if ((rc = mbedtls_mpi_read_binary(&c->serial, rnd, sizeof rnd)))
		return rc;
	snprintf(subject, sizeof subject, "CN=%.64s,O=Gatehouse appliance", cn);
	x509_time(now - 86400, from);
	x509_time(now + (time_t)valid_days * 86400, until);

	mbedtls_x509write_crt_set_version(&c->crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&c->crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&c->crt, &c->key);
	mbedtls_x509write_crt_set_issuer_key(&c->crt, &c->key);
	if ((rc = mbedtls_x509write_crt_set_serial(&c->crt, &c->serial)) ||
	    (rc = mbedtls_x509write_crt_set_subject_name(&c->crt, subject)) ||
	    (rc = mbedtls_x509write_crt_set_issuer_name(&c->crt, subject)) ||
	    (rc = mbedtls_x509write_crt_set_validity(&c->crt, from, until)) ||
	    (rc = mbedtls_x509write_crt_set_basic_constraints(&c->crt, 0, -1)) ||
	    (rc = mbedtls_x509write_crt_set_subject_key_identifier(&c->crt)) ||
	    (rc = mbedtls_x509write_crt_set_authority_key_identifier(&c->crt)) ||
	    (rc = mbedtls_x509write_crt_set_key_usage(&c->crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) ||
	    (rc = san_der(names, san, sizeof san, &der, &derlen)) ||
	    (rc = mbedtls_x509write_crt_set_extension(&c->crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
						      MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
						      der, derlen)) ||
	    (rc = mbedtls_x509write_crt_set_extension(&c->crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
						      MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
						      eku_server_auth, sizeof eku_server_auth)))
		return rc;
	return mbedtls_x509write_crt_pem(&c->crt, pem, pemlen, mbedtls_ctr_drbg_random, &c->drbg);
}

int certgen_ensure(const char *cert_path, const char *key_path, const char *common_name,
		   const struct certgen_names *names, int valid_days, char *err, size_t errlen)
{
	struct certgen_ctx c;
	unsigned char certpem[8192], keypem[1024];
	int have_cert = access(cert_path, F_OK) == 0, have_key = access(key_path, F_OK) == 0;
	int rc;

	if (have_cert && have_key)
		return 0;
	if (have_cert != have_key) {
		snprintf(err, errlen, "%s exists but %s does not: restore the missing file or remove both",
			 have_cert ? cert_path : key_path, have_cert ? key_path : cert_path);
		return -1;
	}
	mbedtls_entropy_init(&c.entropy);
	mbedtls_ctr_drbg_init(&c.drbg);
	mbedtls_pk_init(&c.key);
	mbedtls_x509write_crt_init(&c.crt);
	mbedtls_mpi_init(&c.serial);

	rc = build(&c, common_name, names, valid_days, certpem, sizeof certpem);
	if (rc == 0)
		rc = mbedtls_pk_write_key_pem(&c.key, keypem, sizeof keypem);
	if (rc != 0) {
		char msg[128];
		mbedtls_strerror(rc, msg, sizeof msg);
		snprintf(err, errlen, "cannot create a certificate: %s", msg);
		rc = -1;
	} else if (state_write_file(key_path, keypem, strlen((char *)keypem), 0600, err, errlen) < 0 ||
		   state_write_file(cert_path, certpem, strlen((char *)certpem), 0644, err, errlen) < 0) {
		rc = -1;
	} else {
		rc = 1;
	}
	mbedtls_platform_zeroize(keypem, sizeof keypem);
	mbedtls_mpi_free(&c.serial);
	mbedtls_x509write_crt_free(&c.crt);
	mbedtls_pk_free(&c.key);
	mbedtls_ctr_drbg_free(&c.drbg);
	mbedtls_entropy_free(&c.entropy);
	return rc;
}

int certgen_fingerprint(const char *cert_path, char *out, size_t outlen)
{
	mbedtls_x509_crt crt;
	unsigned char h[32];
	int rc;

	mbedtls_x509_crt_init(&crt);
	rc = mbedtls_x509_crt_parse_file(&crt, cert_path);
	if (rc == 0 && outlen >= 3 * sizeof h) {
		mbedtls_sha256_ret(crt.raw.p, crt.raw.len, h, 0);
		for (size_t i = 0; i < sizeof h; i++)
			snprintf(out + 3 * i, outlen - 3 * i, "%02X%s", h[i], i + 1 < sizeof h ? ":" : "");
	}
	mbedtls_x509_crt_free(&crt);
	return rc == 0 ? 0 : -1;
}
