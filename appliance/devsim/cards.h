/* cards: the card numbers simulated terminals read. From a file (one
 * number a line, as people would be issued them), plus a share of random
 * numbers nobody holds; or, without a file, realistic random 12-digit
 * numbers. Numbers are presented as a reader would pass them on: plain
 * digits, or grouped "0450 1234 5678" now and then (the appliance keeps
 * only the digits). */
#ifndef GH_DEVSIM_CARDS_H
#define GH_DEVSIM_CARDS_H

#include "devsim/local.h"

#include <stddef.h>

struct cards {
	char (*list)[LOCAL_CARD_MAX];   /* as written in the file */
	size_t n;
	char (*digits)[LOCAL_CARD_MAX]; /* their digits, sorted: "is this number issued?" */
	double unknown_share;           /* of picks that are random unknown numbers */
};

/* Load path (NULL: no file). A line is a card of 4 to 32 digits, with
 * spaces or dashes between them allowed and full-width digits counted
 * (what the appliance accepts); blank lines and lines starting with '#'
 * are skipped. 0, or -1 with a message naming the line. */
int cards_load(struct cards *c, const char *path, double unknown_share, char *err, size_t errlen);
void cards_free(struct cards *c);

/* The next card a reader sees. *from_file: 1 when from the file. */
void cards_pick(const struct cards *c, char out[LOCAL_CARD_MAX], int *from_file);

/* A random 12-digit number as a reader passes it on: "045012345678", or
 * "0450 1234 5678" about one time in four. */
void cards_random(char out[LOCAL_CARD_MAX]);

/* The digits of a card (ASCII and full-width) into out; their count, or
 * -1 when there are none or more than fit. */
int cards_digits(const char *card, char *out, size_t outlen);

#endif
