/* gatehouse audit verify|public-key: check the audit chain and its
 * signatures, or print the public key that checks them (to keep offline).
 * Both only read; they work while the service runs (verify reads one
 * consistent snapshot). */
#include "cmd.h"

#include "core/log.h"
#include "core/vault.h"
#include "domain/audit.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char audit_usage[] =
	"usage: gatehouse audit verify [--public-key FILE]\n"
	"       gatehouse audit public-key\n";

/* FILE holds the key as 64 hex digits (blanks around are ignored) or as
 * its 32 raw bytes. */
static int read_public_key(const char *path, unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
	unsigned char buf[256];
	size_t n, start = 0, end;
	FILE *f = fopen(path, "rb");

	if (!f) {
		fprintf(stderr, "gatehouse audit verify: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	if (n == crypto_sign_PUBLICKEYBYTES) {
		/* Exactly 32 bytes: the raw key (the hex form is 64 digits). */
		memcpy(pk, buf, n);
		return 0;
	}
	end = n;
	while (start < end && isspace(buf[start]))
		start++;
	while (end > start && isspace(buf[end - 1]))
		end--;
	if (end - start == 2 * crypto_sign_PUBLICKEYBYTES &&
	    sodium_hex2bin(pk, crypto_sign_PUBLICKEYBYTES, (const char *)buf + start, end - start, NULL,
			   NULL, NULL) == 0)
		return 0;
	fprintf(stderr,
		"gatehouse audit verify: %s: not a public key (64 hex digits, or 32 raw bytes)\n", path);
	return -1;
}

static const char *plural(long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static int audit_verify_cmd(const unsigned char *pk, const char *pk_path)
{
	struct audit_report r;

	if (audit_verify(pk, &r) < 0) {
		fprintf(stderr, "gatehouse audit verify: the check could not run (see the log above)\n");
		return 1;
	}
	if (!r.ok) {
		if (r.first_bad_uid[0])
			printf("audit chain BROKEN at entry %lld (uid %s): %s\n", (long long)r.first_bad_id,
			       r.first_bad_uid, r.reason);
		else
			printf("audit chain BROKEN at entry %lld: %s\n", (long long)r.first_bad_id, r.reason);
		return 1;
	}
	printf("audit chain OK: %lld %s, %lld %s, %lld %s after the last signature\n", r.entries,
	       plural(r.entries, "entry", "entries"), r.anchors,
	       plural(r.anchors, "signed anchor", "signed anchors"), r.unsigned_tail,
	       plural(r.unsigned_tail, "entry", "entries"));
	if (pk_path)
		printf("signatures checked against the public key in %s\n", pk_path);
	else
		printf("signatures checked against the key store's public key "
		       "(use --public-key FILE with a copy kept offline for an independent check)\n");
	return 0;
}

static int audit_public_key_cmd(void)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	char hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
	int rc = vault_audit_public_key(pk);

	if (rc != VAULT_OK) {
		fprintf(stderr, "gatehouse audit public-key: %s\n", vault_strerror(rc));
		return 1;
	}
	sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
	printf("%s\n", hex);
	return 0;
}

int cmd_audit(struct cmd_env *env)
{
	const char *what = env->argc > 0 ? env->argv[0] : "";
	const char *pk_path = NULL;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	int rc;

	/* Every argument is checked before the state directory is touched. */
	if (strcmp(what, "verify") == 0) {
		for (int i = 1; i < env->argc; i++) {
			const char *a = env->argv[i];
			if (strcmp(a, "--public-key") == 0 && i + 1 < env->argc && !pk_path)
				pk_path = env->argv[++i];
			else if (strncmp(a, "--public-key=", 13) == 0 && a[13] && !pk_path)
				pk_path = a + 13;
			else {
				fprintf(stderr, "gatehouse audit verify: unexpected argument '%s'\n%s", a,
					audit_usage);
				return 2;
			}
		}
		if (pk_path && read_public_key(pk_path, pk) < 0)
			return 2;
	} else if (strcmp(what, "public-key") == 0) {
		if (env->argc > 1) {
			fprintf(stderr, "gatehouse audit public-key: unexpected argument '%s'\n", env->argv[1]);
			return 2;
		}
	} else {
		fprintf(stderr, "%s", audit_usage);
		return 2;
	}
	if (cmd_open_store(NULL) < 0)
		return 1;
	if (strcmp(what, "verify") == 0)
		rc = audit_verify_cmd(pk_path ? pk : NULL, pk_path);
	else
		rc = audit_public_key_cmd();
	cmd_close_store();
	return rc;
}
