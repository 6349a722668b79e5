#include "certgen.h"

#include <mbedtls/platform_util.h>

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
#include <pthread.h>
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

/* extendedKeyUsage = clientAuth. */
static const unsigned char eku_client_auth[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02,
};

static void x509_time(time_t t, char out[16])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static pthread_once_t rng_once = PTHREAD_ONCE_INIT;
static int rng_ok;

static void rng_init(void)
{
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	rng_ok = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
				       (const unsigned char *)"gatehouse-tls", 13) == 0;
}

int tls_random(void *unused, unsigned char *out, size_t len)
{
	(void)unused;
	pthread_once(&rng_once, rng_init);
	if (!rng_ok)
		return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
	return mbedtls_ctr_drbg_random(&drbg, out, len);
}

int certgen_new_key(mbedtls_pk_context *key)
{
	int rc = mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));

	return rc ? rc : mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key), tls_random, NULL);
}

static int set_extensions(mbedtls_x509write_cert *crt, const struct cert_request *r)
{
	unsigned char san[4096];
	const unsigned char *der;
	size_t derlen;
	int rc;

	if (r->use == CERT_CA)
		return mbedtls_x509write_crt_set_basic_constraints(crt, 1, 0) ?:
		       mbedtls_x509write_crt_set_key_usage(crt, MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN);
	if ((rc = mbedtls_x509write_crt_set_basic_constraints(crt, 0, -1)) ||
	    (rc = mbedtls_x509write_crt_set_key_usage(crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE)))
		return rc;
	if (r->names && r->names->count &&
	    ((rc = san_der(r->names, san, sizeof san, &der, &derlen)) ||
	     (rc = mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
						       MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, der, derlen))))
		return rc;
	if (r->use == CERT_SERVER)
		return mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
							   MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
							   eku_server_auth, sizeof eku_server_auth);
	return mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
						   MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
						   eku_client_auth, sizeof eku_client_auth);
}

int certgen_issue(const struct cert_request *r, unsigned char *pem, size_t len, char serial_hex[40],
		  long long *not_after)
{
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
	unsigned char rnd[16];
	char from[16], until[16];
	time_t now = time(NULL);
	int rc;

	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);
	/* A random positive 127-bit serial, as RFC 5280 asks for unpredictability. */
	if ((rc = tls_random(NULL, rnd, sizeof rnd)))
		goto out;
	rnd[0] &= 0x7f;
	rnd[0] |= 0x01;
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(serial_hex + 2 * i, 3, "%02x", rnd[i]);
	x509_time(now - 86400, from);
	x509_time(now + (time_t)r->valid_days * 86400, until);
	*not_after = (long long)now + (long long)r->valid_days * 86400;
	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, r->subject_key);
	mbedtls_x509write_crt_set_issuer_key(&crt, r->issuer_key);
	if ((rc = mbedtls_mpi_read_binary(&serial, rnd, sizeof rnd)) ||
	    (rc = mbedtls_x509write_crt_set_serial(&crt, &serial)) ||
	    (rc = mbedtls_x509write_crt_set_subject_name(&crt, r->subject)) ||
	    (rc = mbedtls_x509write_crt_set_issuer_name(&crt, r->issuer)) ||
	    (rc = mbedtls_x509write_crt_set_validity(&crt, from, until)) ||
	    (rc = mbedtls_x509write_crt_set_subject_key_identifier(&crt)) ||
	    (rc = mbedtls_x509write_crt_set_authority_key_identifier(&crt)) ||
	    (rc = set_extensions(&crt, r)))
		goto out;
	rc = mbedtls_x509write_crt_pem(&crt, pem, len, tls_random, NULL);
out:
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	return rc;
}

int certgen_ensure(const char *cert_path, const char *key_path, const char *common_name,
		   const struct certgen_names *names, int valid_days, char *err, size_t errlen)
{
	unsigned char certpem[8192], keypem[1024];
	int have_cert = access(cert_path, F_OK) == 0, have_key = access(key_path, F_OK) == 0;
	char subject[256], serial[40];
	long long not_after;
	mbedtls_pk_context key;
	int rc;

	if (have_cert && have_key)
		return 0;
	if (have_cert != have_key) {
		snprintf(err, errlen, "%s exists but %s does not: restore the missing file or remove both",
			 have_cert ? cert_path : key_path, have_cert ? key_path : cert_path);
		return -1;
	}
	mbedtls_pk_init(&key);
	snprintf(subject, sizeof subject, "CN=%.64s,O=Gatehouse appliance", common_name);
	struct cert_request r = {subject, CERT_SERVER, names, valid_days, &key, &key, subject};
	rc = certgen_new_key(&key);
	if (rc == 0)
		rc = certgen_issue(&r, certpem, sizeof certpem, serial, &not_after);
	if (rc == 0)
		rc = mbedtls_pk_write_key_pem(&key, keypem, sizeof keypem);
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
	mbedtls_pk_free(&key);
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
