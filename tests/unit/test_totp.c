#include "t.h"

#include "core/totp.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

static const unsigned char rfc_secret[] = "12345678901234567890";
#define RFC_LEN 20

/* A code as a person would type it. */
static void code_at(time_t t, char out[TOTP_DIGITS + 1])
{
	snprintf(out, TOTP_DIGITS + 1, "%0*u", TOTP_DIGITS,
		 (unsigned)totp_hotp(rfc_secret, RFC_LEN, (uint64_t)totp_step(t), TOTP_DIGITS));
}

TEST(totp_rfc6238_sha1_vectors)
{
	static const struct {
		long long t;
		uint32_t code;
	} v[] = {
		{59, 94287082},         {1111111109, 7081804},  {1111111111, 14050471},
		{1234567890, 89005924}, {2000000000, 69279037}, {20000000000LL, 65353130},
	};

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		CHECK_INT(totp_hotp(rfc_secret, RFC_LEN, (uint64_t)(v[i].t / 30), 8), v[i].code);
	CHECK_INT(totp_step((time_t)1111111109), 1111111109 / 30);
	CHECK_INT(totp_step(0), 0);
	CHECK_INT(totp_step(29), 0);
	CHECK_INT(totp_step(30), 1);
}

TEST(totp_rfc4226_hotp_vectors)
{
	static const uint32_t want[] = {755224, 287082, 359152, 969429, 338314,
					254676, 287922, 162583, 399871, 520489};

	for (uint64_t c = 0; c < 10; c++)
		CHECK_INT(totp_hotp(rfc_secret, RFC_LEN, c, 6), want[c]);
}

TEST(totp_verify_accepts_one_step_of_drift)
{
	time_t now = 1767225600; /* 2026-01-01 00:00:00 UTC, a step boundary */
	int64_t step = totp_step(now), matched = -1;
	char code[TOTP_DIGITS + 1];

	code_at(now, code);
	CHECK_INT(totp_verify(rfc_secret, RFC_LEN, code, now, 0, &matched), 1);
	CHECK_INT(matched, step);
	code_at(now - 30, code);
	CHECK_INT(totp_verify(rfc_secret, RFC_LEN, code, now, 0, &matched), 1);
	CHECK_INT(matched, step - 1);
	code_at(now + 30, code);
	CHECK_INT(totp_verify(rfc_secret, RFC_LEN, code, now, 0, &matched), 1);
	CHECK_INT(matched, step + 1);
	/* Within the same step any second works. */
	code_at(now, code);
	CHECK_INT(totp_verify(rfc_secret, RFC_LEN, code, now + 29, 0, &matched), 1);
	CHECK_INT(matched, step);
}

TEST(totp_verify_refuses_two_steps_of_drift)
{
	time_t now = 1767225600;
	int64_t matched = -1;
	char code[TOTP_DIGITS + 1];

	code_at(now - 60, code);
	CHECK_INT(totp_verify(rfc_secret, RFC_LEN, code, now, 0, &matched), 0);
	code_at(now + 60, code);
	CHECK_INT(totp_verify(rfc_secret, RFC_LEN, code, now, 0, &matched), 0);
	CHECK_INT(matched, -1);
	/* Another secret's code is not ours. */
	code_at(now, code);
	CHECK_INT(totp_verify((const unsigned char *)"another secret 12345", RFC_LEN, code, now, 0,
			      &matched),
		  0);
}

TEST(totp_verify_never_accepts_a_code_twice)
{
	time_t now = 1767225600;
	int64_t last = 0, matched = -1;
	char code[TOTP_DIGITS + 1], next[TOTP_DIGITS + 1];

	code_at(now, code);
	CHECK_INT(totp_verify(rfc_secret, RFC_LEN, code, now, last, &matched), 1);
	last = matched;
	CHECK_INT(totp_verify(rfc_secret, RFC_LEN, code, now, last, &matched), 0);
	CHECK_INT(totp_verify(rfc_secret, RFC_LEN, code, now + 10, last, &matched), 0);
	/* An older code, still inside the drift window, is too late now. */
	code_at(now - 30, code);
	CHECK_INT(totp_verify(rfc_secret, RFC_LEN, code, now, last, &matched), 0);
	/* The next step's code is fine, once. */
	code_at(now + 30, next);
	CHECK_INT(totp_verify(rfc_secret, RFC_LEN, next, now + 30, last, &matched), 1);
	CHECK_INT(matched, last + 1);
	CHECK_INT(totp_verify(rfc_secret, RFC_LEN, next, now + 30, matched, &matched), 0);
}

TEST(totp_verify_refuses_malformed_codes)
{
	static const char *bad[] = {"12345", "1234567", "12a456", "", " 12345", "123456 ",
				    "+12345", "-12345", "１２３４５６"};
	time_t now = 1767225600;
	int64_t matched = -1;
	char good[TOTP_DIGITS + 1], padded[16];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_INT(totp_verify(rfc_secret, RFC_LEN, bad[i], now, 0, &matched), 0);
	CHECK_INT(totp_verify(rfc_secret, RFC_LEN, NULL, now, 0, &matched), 0);
	/* The right digits with anything around them are still refused. */
	code_at(now, good);
	snprintf(padded, sizeof padded, "%s0", good);
	CHECK_INT(totp_verify(rfc_secret, RFC_LEN, padded, now, 0, &matched), 0);
	snprintf(padded, sizeof padded, " %s", good);
	CHECK_INT(totp_verify(rfc_secret, RFC_LEN, padded, now, 0, &matched), 0);
	CHECK_INT(matched, -1);
}

TEST(totp_base32_rfc4648_vectors)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{"", ""},           {"f", "MY"},          {"fo", "MZXQ"},          {"foo", "MZXW6"},
		{"foob", "MZXW6YQ"}, {"fooba", "MZXW6YTB"}, {"foobar", "MZXW6YTBOI"},
	};
	char enc[32];
	unsigned char dec[32];

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		size_t n = strlen(v[i].in);
		CHECK_INT(base32_encode((const unsigned char *)v[i].in, n, enc, sizeof enc),
			  strlen(v[i].out));
		CHECK_STR(enc, v[i].out);
		CHECK_INT(base32_decode(v[i].out, dec, sizeof dec), n);
		CHECK(memcmp(dec, v[i].in, n) == 0);
	}
}

TEST(totp_base32_decode_is_lenient_about_form)
{
	unsigned char dec[32];

	/* Padding, lower case and the grouping apps show are all accepted. */
	CHECK_INT(base32_decode("MZXW6YTBOI======", dec, sizeof dec), 6);
	CHECK(memcmp(dec, "foobar", 6) == 0);
	CHECK_INT(base32_decode("mzxw 6ytb oi", dec, sizeof dec), 6);
	CHECK(memcmp(dec, "foobar", 6) == 0);
	/* But not other characters (0, 1, 8 and 9 are not in the alphabet). */
	CHECK_INT(base32_decode("MZXW6YTB0I", dec, sizeof dec), -1);
	CHECK_INT(base32_decode("MZXW6YT1", dec, sizeof dec), -1);
	CHECK_INT(base32_decode("MZXW-6YTB", dec, sizeof dec), -1);
	/* And not into a short buffer. */
	CHECK_INT(base32_decode("MZXW6YTBOI", dec, 5), -1);
	CHECK_INT(base32_decode("MZXW6YTBOI", dec, 6), 6);
}

TEST(totp_base32_round_trips_and_bounds)
{
	unsigned char in[64], dec[64];
	char enc[128];

	for (size_t len = 0; len <= sizeof in; len++) {
		for (size_t i = 0; i < len; i++)
			in[i] = (unsigned char)(i * 37 + len * 11);
		int n = base32_encode(in, len, enc, sizeof enc);
		CHECK_INT(n, (len * 8 + 4) / 5);
		CHECK_INT(base32_decode(enc, dec, sizeof dec), len);
		CHECK(memcmp(in, dec, len) == 0);
	}
	/* The output needs room for the terminating NUL as well. */
	CHECK_INT(base32_encode((const unsigned char *)"foobar", 6, enc, 10), -1);
	CHECK_INT(base32_encode((const unsigned char *)"foobar", 6, enc, 11), 10);
	CHECK_STR(enc, "MZXW6YTBOI");
	/* A 20-byte secret takes 32 characters. */
	CHECK_INT(base32_encode(rfc_secret, TOTP_SECRET_BYTES, enc, sizeof enc), 32);
	CHECK_STR(enc, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

TEST(totp_uri_escapes_label_and_issuer)
{
	char uri[256];
	int n;

	n = totp_uri("Gatehouse", "taro yamada", rfc_secret, RFC_LEN, uri, sizeof uri);
	CHECK_INT(n, strlen(uri));
	CHECK_STR(uri, "otpauth://totp/Gatehouse:taro%20yamada?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
		       "&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30");

	/* Reserved characters cannot change the URI's structure; UTF-8 is
	 * encoded byte by byte; unreserved -._~ stay. */
	n = totp_uri("Acme: HQ&Co", "a.b-c_d~e@example.jp/太郎?", rfc_secret, RFC_LEN, uri,
		     sizeof uri);
	CHECK(n > 0);
	CHECK_CONTAINS(uri, "otpauth://totp/Acme%3A%20HQ%26Co:a.b-c_d~e%40example.jp%2F%E5%A4%AA%E9%83%8E%3F?secret=");
	CHECK_CONTAINS(uri, "&issuer=Acme%3A%20HQ%26Co&algorithm=SHA1");
}

TEST(totp_uri_refuses_a_short_buffer)
{
	char uri[256];
	int n = totp_uri("Gatehouse", "taro yamada", rfc_secret, RFC_LEN, uri, sizeof uri);

	CHECK(n > 0);
	for (size_t len = 0; len <= (size_t)n; len++) {
		char small[256];
		memset(small, 'x', sizeof small);
		CHECK_INT(totp_uri("Gatehouse", "taro yamada", rfc_secret, RFC_LEN, small, len), -1);
		CHECK(len == 0 || small[0] == '\0');
		CHECK(small[len] == 'x'); /* nothing written past the end */
	}
	CHECK_INT(totp_uri("Gatehouse", "taro yamada", rfc_secret, RFC_LEN, uri, (size_t)n + 1), n);
}

/* Runs oathtool; 1 and the code in out, 0 if it is not installed. */
static int oathtool_code(const char *b32, char *out, size_t len)
{
	char cmd[256];
	FILE *p;
	int ok;

	if (system("command -v oathtool >/dev/null 2>&1") != 0)
		return 0;
	snprintf(cmd, sizeof cmd, "oathtool --totp -b '%s' --now '2026-01-01 00:00:00 UTC'", b32);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	if (!p)
		return -1;
	ok = fgets(out, (int)len, p) != NULL;
	CHECK_INT(pclose(p), 0);
	CHECK(ok);
	out[strcspn(out, "\r\n")] = '\0';
	return ok ? 1 : -1;
}

TEST(totp_matches_oathtool)
{
	unsigned char secret[TOTP_SECRET_BYTES];
	char b32[64], theirs[32], ours[TOTP_DIGITS + 1];

	for (int round = 0; round < 3; round++) {
		CHECK_INT(getrandom(secret, sizeof secret, 0), sizeof secret);
		CHECK_INT(base32_encode(secret, sizeof secret, b32, sizeof b32), 32);
		int r = oathtool_code(b32, theirs, sizeof theirs);
		if (r == 0) {
			printf("# oathtool not installed\n");
			return;
		}
		snprintf(ours, sizeof ours, "%0*u", TOTP_DIGITS,
			 (unsigned)totp_hotp(secret, sizeof secret, (uint64_t)totp_step(1767225600),
					     TOTP_DIGITS));
		CHECK_STR(theirs, ours);
	}
}
