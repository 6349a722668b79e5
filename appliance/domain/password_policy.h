/* password_policy: the server-side password rule (configurable). Pure. */
#ifndef GH_PASSWORD_POLICY_H
#define GH_PASSWORD_POLICY_H

#include <stddef.h>

struct password_policy {
	int min_length;        /* in characters (UTF-8 code points) */
	int upper, lower, digit, symbol; /* 1: at least one required */
};

#define PASSWORD_MAX_BYTES 256

/* 0 if password satisfies the policy; otherwise -1 and, in why, one sentence
 * listing everything that is missing, e.g. "must be at least 8 characters
 * long and contain an upper-case letter, a digit and a symbol". Also refused:
 * equal to the username (ignoring ASCII case; "..., and must not be the
 * same as the username"), and, each with its own reason alone, longer than
 * PASSWORD_MAX_BYTES ("is longer than 256 bytes"), invalid UTF-8 ("is not
 * valid UTF-8"), control characters, C0, DEL or C1 ("contains a control
 * character"). The reason has no subject: callers write "password " before
 * it. why may be NULL; a NULL or empty username is not compared.
 * Upper/lower/digit are ASCII classes; a symbol is any other printable
 * character (so "ü" or "日" count as symbols). */
int password_check(const struct password_policy *p, const char *username, const char *password,
		   char *why, size_t whylen);

#endif
