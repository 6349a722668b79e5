#include "devsim/cards.h"

#include "core/vault.h"
#include "devsim/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CARDS_FILE_MAX (256u << 20)

int cards_digits(const char *card, char *out, size_t outlen)
{
	/* The appliance's normalisation: what it hashes and looks up. */
	return vault_normalize(VI_CARD, card, out, outlen);
}

/* Only what a card number may contain: digits, full-width digits, and
 * spaces or dashes between groups. Anything else (a quote, a letter) is a
 * mistake in the file, better reported than sent. */
static int plausible(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		if ((*p >= '0' && *p <= '9') || *p == ' ' || *p == '-')
			p++;
		else if (p[0] == 0xEF && p[1] == 0xBC && p[2] >= 0x90 && p[2] <= 0x99)
			p += 3;
		else
			return 0;
	}
	return 1;
}

static int cmp_digits(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int add(struct cards *c, size_t *cap, const char *line, int lineno, char *err, size_t errlen)
{
	char digits[LOCAL_CARD_MAX];
	int n;

	if (strlen(line) >= LOCAL_CARD_MAX || !plausible(line) ||
	    (n = cards_digits(line, digits, sizeof digits)) < 4 || n > 32) {
		snprintf(err, errlen, "line %d: not a card number (4 to 32 digits, at most %d bytes)", lineno,
			 LOCAL_CARD_MAX - 1);
		return -1;
	}
	if (c->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		void *a = realloc(c->list, ncap * sizeof *c->list), *b;
		if (!a)
			goto oom;
		c->list = a;
		if (!(b = realloc(c->digits, ncap * sizeof *c->digits)))
			goto oom;
		c->digits = b;
		*cap = ncap;
	}
	snprintf(c->list[c->n], LOCAL_CARD_MAX, "%s", line);
	snprintf(c->digits[c->n], LOCAL_CARD_MAX, "%s", digits);
	c->n++;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int cards_load(struct cards *c, const char *path, double unknown_share, char *err, size_t errlen)
{
	char *text, *line, *save = NULL, msg[160];
	size_t cap = 0;
	int lineno = 0;

	memset(c, 0, sizeof *c);
	c->unknown_share = unknown_share;
	if (!path)
		return 0;
	if (!(text = ds_read_file(path, CARDS_FILE_MAX, NULL))) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* strtok_r would merge empty lines and shift the line numbers. */
	for (line = text; line; line = save) {
		char *end;
		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		lineno++;
		end = line + strlen(line);
		while (end > line && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#')
			continue;
		if (add(c, &cap, line, lineno, msg, sizeof msg) < 0) {
			snprintf(err, errlen, "%s: %s", path, msg);
			free(text);
			cards_free(c);
			return -1;
		}
	}
	free(text);
	if (c->n == 0) {
		snprintf(err, errlen, "%s: no card numbers", path);
		cards_free(c);
		return -1;
	}
	if (c->n > 1) {
		/* The list keeps the file's order; the sorted digits are a copy. */
		qsort(c->digits, c->n, sizeof *c->digits, cmp_digits);
	}
	return 0;
}

void cards_free(struct cards *c)
{
	free(c->list);
	free(c->digits);
	c->list = NULL;
	c->digits = NULL;
	c->n = 0;
}

void cards_random(char out[LOCAL_CARD_MAX])
{
	char d[13];

	/* Issuers' numbers start with a small prefix; "04" looks like many. */
	snprintf(d, sizeof d, "0%011llu", (unsigned long long)ds_rand_below(100000000000ull));
	if (ds_rand_below(4) == 0)
		snprintf(out, LOCAL_CARD_MAX, "%.4s %.4s %.4s", d, d + 4, d + 8);
	else
		snprintf(out, LOCAL_CARD_MAX, "%s", d);
}

static int issued(const struct cards *c, const char *card)
{
	char digits[LOCAL_CARD_MAX];

	if (cards_digits(card, digits, sizeof digits) < 0)
		return 0;
	return c->n && bsearch(digits, c->digits, c->n, sizeof *c->digits, cmp_digits) != NULL;
}

void cards_pick(const struct cards *c, char out[LOCAL_CARD_MAX], int *from_file)
{
	*from_file = 0;
	if (c->n && ds_rand_unit() >= c->unknown_share) {
		snprintf(out, LOCAL_CARD_MAX, "%s", c->list[ds_rand_below(c->n)]);
		*from_file = 1;
		return;
	}
	/* Unknown means unknown: never by chance a number from the file. */
	do
		cards_random(out);
	while (issued(c, out));
}
