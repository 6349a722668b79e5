#include "password_policy.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* What a password contains, gathered in one pass. */
struct pw_scan {
	int chars;                        /* code points */
	int upper, lower, digit, symbol;  /* counts */
	int bad_utf8, control;
};

/* Decode one UTF-8 sequence at s (strict: no overlong forms, surrogates or
 * values above U+10FFFF). Returns its length and sets *cp, or 0 if invalid. */
static int utf8_next(const unsigned char *s, uint32_t *cp)
{
	int n;
	uint32_t v, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2, v = s[0] & 0x1fu, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3, v = s[0] & 0x0fu, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4, v = s[0] & 0x07u, min = 0x10000;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		/* Also stops at the terminating NUL, which is not a continuation. */
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3fu);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

/* C0 controls, DEL and C1 controls (Unicode category Cc). */
static int is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

static void classify(struct pw_scan *sc, uint32_t cp)
{
	if (is_control(cp))
		sc->control = 1;
	else if (cp >= 'A' && cp <= 'Z')
		sc->upper++;
	else if (cp >= 'a' && cp <= 'z')
		sc->lower++;
	else if (cp >= '0' && cp <= '9')
		sc->digit++;
	else
		sc->symbol++; /* ASCII punctuation, space, and every other script */
}

static void scan(const char *password, struct pw_scan *sc)
{
	const unsigned char *s = (const unsigned char *)password;

	memset(sc, 0, sizeof *sc);
	while (*s) {
		uint32_t cp;
		int n = utf8_next(s, &cp);
		if (n == 0) {
			sc->bad_utf8 = 1;
			return;
		}
		classify(sc, cp);
		sc->chars++;
		s += n;
	}
}

/* ASCII-case-insensitive equality; user names are compared the same way at
 * login, so "Alice" as the password of "alice" is just as guessable. */
static int same_ignoring_ascii_case(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a, y = *b;
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return *a == *b;
}

/* An English list, formatted as "a, b and c". */
struct list {
	const char *items[4];
	int n;
};

static void list_add(struct list *l, const char *item)
{
	if (l->n < 4)
		l->items[l->n++] = item;
}

static size_t list_format(const struct list *l, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; i < l->n; i++) {
		const char *sep = i == 0 ? "" : i == l->n - 1 ? " and " : ", ";
		int w = snprintf(out + used, len - used, "%s%s", sep, l->items[i]);
		if (w < 0 || (size_t)w >= len - used)
			return len;
		used += (size_t)w;
	}
	return used;
}

/* The sentence for the rule's requirements: "must be at least N characters
 * long and contain X, Y and Z", each part only when it is missing. */
static int describe_missing(const struct password_policy *p, const struct pw_scan *sc,
			    int same_as_user, char *why, size_t whylen)
{
	struct list need = {{0}, 0};
	char what[128], length[64] = "";
	int short_pw = sc->chars < p->min_length;

	if (p->upper && !sc->upper)
		list_add(&need, "an upper-case letter");
	if (p->lower && !sc->lower)
		list_add(&need, "a lower-case letter");
	if (p->digit && !sc->digit)
		list_add(&need, "a digit");
	if (p->symbol && !sc->symbol)
		list_add(&need, "a symbol");
	if (!short_pw && need.n == 0 && !same_as_user)
		return 0;
	list_format(&need, what, sizeof what);
	if (short_pw)
		snprintf(length, sizeof length, "be at least %d characters long", p->min_length);
	if (!short_pw && need.n == 0)
		snprintf(why, whylen, "must not be the same as the username");
	else
		snprintf(why, whylen, "must %s%s%s%s%s", length, short_pw && need.n ? " and " : "",
			 need.n ? "contain " : "", what,
			 same_as_user ? ", and must not be the same as the username" : "");
	return -1;
}

static int refuse(char *why, size_t whylen, const char *reason)
{
	snprintf(why, whylen, "%s", reason);
	return -1;
}

int password_check(const struct password_policy *p, const char *username, const char *password,
		   char *why, size_t whylen)
{
	struct pw_scan sc;
	char dummy[1];

	/* Callers may not care for the reason. */
	if (!why || whylen == 0) {
		why = dummy;
		whylen = sizeof dummy;
	}
	why[0] = '\0';
	if (!password)
		return refuse(why, whylen, "is missing");
	/* Checked first, and bounded, so that a huge input is not scanned. */
	if (strnlen(password, PASSWORD_MAX_BYTES + 1) > PASSWORD_MAX_BYTES) {
		snprintf(why, whylen, "is longer than %d bytes", PASSWORD_MAX_BYTES);
		return -1;
	}
	scan(password, &sc);
	if (sc.bad_utf8)
		return refuse(why, whylen, "is not valid UTF-8");
	if (sc.control)
		return refuse(why, whylen, "contains a control character");
	return describe_missing(p, &sc,
				username && *username && same_ignoring_ascii_case(username, password),
				why, whylen);
}
