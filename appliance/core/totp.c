#include "totp.h"

#include <mbedtls/md.h>
#include <stdio.h>
#include <string.h>

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static uint32_t pow10u(int n)
{
	uint32_t v = 1;

	while (n-- > 0)
		v *= 10;
	return v;
}

uint32_t totp_hotp(const unsigned char *secret, size_t len, uint64_t counter, int digits)
{
	unsigned char msg[8], mac[20];
	const mbedtls_md_info_t *sha1 = mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);
	uint32_t bin;
	int off;

	/* RFC 4226 allows 6 to 8 digits; more would not fit the 31-bit value. */
	if (digits < 6)
		digits = 6;
	if (digits > 8)
		digits = 8;
	for (int i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(counter & 0xff);
		counter >>= 8;
	}
	/* Fails only for bad arguments (no SHA-1 in the build); a code of 0
	 * then never matches a typed code except by chance, like any other. */
	if (!sha1 || mbedtls_md_hmac(sha1, secret, len, msg, sizeof msg, mac) != 0)
		return 0;
	/* Dynamic truncation (RFC 4226 section 5.3). */
	off = mac[19] & 0x0f;
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
	      ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
	memset(mac, 0, sizeof mac);
	return bin % pow10u(digits);
}

int64_t totp_step(time_t now)
{
	int64_t t = (int64_t)now;

	/* Floor division, so times before 1970 do not share step 0. */
	return t >= 0 ? t / TOTP_PERIOD : -((-t + TOTP_PERIOD - 1) / TOTP_PERIOD);
}

/* Exactly TOTP_DIGITS ASCII digits: no sign, spaces or other digits. */
static int code_well_formed(const char *code)
{
	for (int i = 0; i < TOTP_DIGITS; i++)
		if (code[i] < '0' || code[i] > '9')
			return 0;
	return code[TOTP_DIGITS] == '\0';
}

/* Compares the expected code with the typed one without an early exit, so
 * response time does not tell how many leading digits were right. */
static int code_equal(uint32_t expected, const char *code)
{
	char want[TOTP_DIGITS + 1];
	unsigned diff = 0;

	snprintf(want, sizeof want, "%0*u", TOTP_DIGITS, (unsigned)expected);
	for (int i = 0; i < TOTP_DIGITS; i++)
		diff |= (unsigned)(unsigned char)(want[i] ^ code[i]);
	return diff == 0;
}

int totp_verify(const unsigned char *secret, size_t len, const char *code, time_t now,
		int64_t last_step, int64_t *matched)
{
	int64_t step = totp_step(now), found = 0;
	int ok = 0;

	if (!code || !code_well_formed(code))
		return 0;
	/* All three steps are always computed, so timing does not reveal which
	 * one matched; the earliest acceptable one wins. */
	for (int64_t s = step - 1; s <= step + 1; s++) {
		int eq = s >= 0 && code_equal(totp_hotp(secret, len, (uint64_t)s, TOTP_DIGITS), code);
		if (eq && s > last_step && !ok) {
			ok = 1;
			found = s;
		}
	}
	if (ok && matched)
		*matched = found;
	return ok;
}

int base32_encode(const unsigned char *in, size_t len, char *out, size_t outlen)
{
	size_t need = (len * 8 + 4) / 5, n = 0;
	unsigned buf = 0;
	int bits = 0;

	if (!out || outlen < need + 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		buf = (buf << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[n++] = b32_alphabet[(buf >> bits) & 0x1f];
		}
	}
	if (bits > 0)
		out[n++] = b32_alphabet[(buf << (5 - bits)) & 0x1f];
	out[n] = '\0';
	return (int)n;
}

/* The 5-bit value of a base32 character, -1 if it is not one. */
static int b32_value(char c)
{
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

int base32_decode(const char *in, unsigned char *out, size_t outlen)
{
	unsigned buf = 0;
	int bits = 0;
	size_t n = 0;

	for (; *in; in++) {
		int v;
		/* Authenticator apps show secrets in groups and with padding. */
		if (*in == '=' || *in == ' ')
			continue;
		v = b32_value(*in);
		if (v < 0)
			return -1;
		buf = (buf << 5) | (unsigned)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (n >= outlen)
				return -1;
			out[n++] = (unsigned char)((buf >> bits) & 0xff);
		}
	}
	/* Fewer than 8 bits left over are the encoder's zero fill. */
	return (int)n;
}

/* A bounded string builder: appends until full, then remembers it failed. */
struct sbuf {
	char *p;
	size_t len, cap;
	int full;
};

static void sb_putc(struct sbuf *b, char c)
{
	if (b->len + 1 >= b->cap) {
		b->full = 1;
		return;
	}
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	while (*s)
		sb_putc(b, *s++);
}

/* RFC 3986 percent-encoding: only unreserved characters stay as they are,
 * so ':' in an issuer or '@' in an account cannot change the URI's shape. */
static void sb_put_escaped(struct sbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			sb_putc(b, (char)c);
		} else {
			sb_putc(b, '%');
			sb_putc(b, hex[c >> 4]);
			sb_putc(b, hex[c & 0x0f]);
		}
	}
}

int totp_uri(const char *issuer, const char *account, const unsigned char *secret, size_t len,
	     char *out, size_t outlen)
{
	struct sbuf b = {out, 0, outlen, 0};
	char tail[64];
	int has_issuer = issuer && *issuer;

	if (!out || outlen == 0 || !account)
		return -1;
	out[0] = '\0';
	sb_puts(&b, "otpauth://totp/");
	if (has_issuer) {
		sb_put_escaped(&b, issuer);
		sb_putc(&b, ':');
	}
	sb_put_escaped(&b, account);
	sb_puts(&b, "?secret=");
	if (!b.full) {
		int n = base32_encode(secret, len, b.p + b.len, b.cap - b.len);
		if (n < 0)
			b.full = 1;
		else
			b.len += (size_t)n;
	}
	if (has_issuer) {
		sb_puts(&b, "&issuer=");
		sb_put_escaped(&b, issuer);
	}
	snprintf(tail, sizeof tail, "&algorithm=SHA1&digits=%d&period=%d", TOTP_DIGITS, TOTP_PERIOD);
	sb_puts(&b, tail);
	if (b.full) {
		out[0] = '\0';
		return -1;
	}
	return (int)b.len;
}
