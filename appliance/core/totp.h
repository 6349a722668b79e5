/* totp: RFC 6238 time-based one-time passwords (HMAC-SHA-1, 6 digits,
 * 30-second steps), RFC 4648 base32, and otpauth:// enrolment URIs, as every
 * authenticator app understands them. Pure functions; SHA-1 comes from
 * mbedTLS because libsodium has none. */
#ifndef GH_TOTP_H
#define GH_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TOTP_SECRET_BYTES 20
#define TOTP_PERIOD 30
#define TOTP_DIGITS 6

/* HOTP value (RFC 4226) for a counter, truncated to digits (6..8; others
 * are clamped to that range). */
uint32_t totp_hotp(const unsigned char *secret, size_t len, uint64_t counter, int digits);

/* The time step of a Unix time. */
int64_t totp_step(time_t now);

/* Check a code typed by a person (exactly TOTP_DIGITS digits) against the
 * steps now-1, now and now+1. A code is accepted only for a step later than
 * last_step, so a code is never accepted twice. On success returns 1 and
 * sets *matched to the step; else 0. */
int totp_verify(const unsigned char *secret, size_t len, const char *code, time_t now,
		int64_t last_step, int64_t *matched);

/* Base32 without padding (upper case), NUL-terminated. Returns the length
 * written (without the NUL), or -1 if out is too small: it needs
 * (len * 8 + 4) / 5 + 1 bytes, 33 for a TOTP_SECRET_BYTES secret. */
int base32_encode(const unsigned char *in, size_t len, char *out, size_t outlen);
/* Decode base32 (case-insensitive, '=' padding and spaces ignored; the
 * fewer than 8 bits left at the end are dropped). Returns the bytes
 * written, or -1 on a bad character or short buffer. */
int base32_decode(const char *in, unsigned char *out, size_t outlen);

/* otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30
 * with the label and issuer percent-encoded (all but RFC 3986 unreserved
 * characters). An empty or NULL issuer leaves out "ISSUER:" and &issuer.
 * Returns the length, or -1 (and an empty out) if out is too small. */
int totp_uri(const char *issuer, const char *account, const unsigned char *secret, size_t len,
	     char *out, size_t outlen);

#endif
