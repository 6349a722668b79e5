/* libFuzzer target: what the alert channels parse or transform from text
 * that is not ours: SMTP reply lines from a relay (smtp_reply_code), the
 * subject and body of a notice (alert subjects carry door and terminal
 * names typed by admins) through the RFC 2047 encoder and dot-stuffing,
 * and webhook URLs from the configuration (webhook_parse_url).
 *
 * Checked promises: a reply code is -1 or 100..599; an encoded header is
 * printable ASCII with CR LF only as "CR LF SP" folding, and every
 * encoded-word is at most 75 characters; the dot-stuffed payload has CR LF
 * line ends only, no line over 998 bytes and no line that is a lone "."
 * (which would end DATA early); a parsed URL has a non-empty host, a port
 * in 1..65535 and a path starting with '/', without spaces or controls.
 * Any broken promise is an abort(). */
#include "notify/smtp.h"
#include "notify/webhook.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

#define FAIL() (fprintf(stderr, "%s:%d: check failed\n", __FILE__, __LINE__), abort())

const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static void check_header(const char *in)
{
	char out[8192];
	int n = smtp_header_encode(in, out, sizeof out);

	if (n < 0)
		return; /* too long for the buffer: refused, fine */
	if ((size_t)n != strlen(out))
		FAIL();
	for (const char *p = out, *word = NULL; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\r') {
			if (p[1] != '\n' || p[2] != ' ')
				FAIL();
			continue;
		}
		if (c == '\n' && (p == out || p[-1] != '\r'))
			FAIL();
		if (c != '\n' && (c < 0x20 || c > 0x7e))
			FAIL();
		if (strncmp(p, "=?UTF-8?B?", 10) == 0)
			word = p;
		if (word && p > word + 1 && p[-1] == '?' && c == '=') {
			if (p - word + 1 > 75)
				FAIL();
			word = NULL;
		}
	}
}

static void check_body(const char *in)
{
	char *out = smtp_dot_stuff(in);
	size_t col = 0;

	if (!out)
		return;
	for (const char *p = out; *p; p++) {
		if (*p == '\n')
			FAIL(); /* a bare LF */
		if (*p == '\r') {
			if (p[1] != '\n')
				FAIL();
			if (col == 1 && p[-1] == '.')
				FAIL(); /* a lone "." line */
			col = 0;
			p++;
			continue;
		}
		if (++col > 998)
			FAIL();
	}
	if (strlen(out) < 2 || strcmp(out + strlen(out) - 2, "\r\n") != 0)
		FAIL();
	free(out);
}

static void check_url(const char *in)
{
	struct webhook_target t;
	char why[160];

	if (webhook_parse_url(in, &t, why, sizeof why) < 0)
		return;
	if (!t.host[0] || t.port < 1 || t.port > 65535 || t.path[0] != '/')
		FAIL();
	for (const char *p = t.path; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			FAIL();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	int more = 0, code;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0'; /* stops at the first NUL, like every C string we get */
	code = smtp_reply_code(text, &more);
	if (code != -1 && (code < 100 || code > 599 || (more != 0 && more != 1)))
		FAIL();
	check_header(text);
	check_body(text);
	check_url(text);
	free(text);
	return 0;
}
