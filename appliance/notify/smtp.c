#include "smtp.h"

#include "core/version.h"
#include "tlsconn.h"

#include <ctype.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LINE 1024
#define MAX_LINE 998 /* RFC 5321 4.5.3.1.6, without CRLF */

/* --- pure helpers ------------------------------------------------------------------ */

int smtp_reply_code(const char *line, int *more)
{
	if (!isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) || !isdigit((unsigned char)line[2]) ||
	    line[0] < '1' || line[0] > '5' || (line[3] && line[3] != ' ' && line[3] != '-'))
		return -1;
	*more = line[3] == '-';
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

int smtp_address_ok(const char *addr)
{
	const char *at = strchr(addr, '@');

	if (!*addr || strlen(addr) > 254 || !at || at == addr || !at[1] || strchr(at + 1, '@'))
		return 0;
	for (const unsigned char *p = (const unsigned char *)addr; *p; p++)
		if (*p <= ' ' || *p == '<' || *p == '>' || *p == 0x7f || *p == '(' || *p == ')' || *p == ',' ||
		    *p == ';' || *p == '"' || *p == '\\')
			return 0;
	return 1;
}

/* How many bytes of s (at most max) end on a UTF-8 character boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n = len < max ? len : max;

	if (n == len)
		return n;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n ? n : (len < max ? len : max);
}

int smtp_header_encode(const char *utf8, char *out, size_t outlen)
{
	size_t len = strlen(utf8), o = 0;
	int plain = 1;

	for (size_t i = 0; i < len; i++)
		plain &= (unsigned char)utf8[i] >= 0x20 && (unsigned char)utf8[i] < 0x7f;
	/* Text with "=?" in it would read as an encoded-word to a mail client
	 * (a door named "=?UTF-8?B?...?=" showing other words): encode it. */
	if (plain && !strstr(utf8, "=?")) {
		if (len + 1 > outlen)
			return -1;
		memcpy(out, utf8, len + 1);
		return (int)len;
	}
	/* 45 bytes are 60 base64 characters: "=?UTF-8?B?" + 60 + "?=" is 72,
	 * inside the 75 an encoded-word may have. */
	for (size_t i = 0; i < len;) {
		char chunk[46], b64[64];
		size_t n = utf8_cut(utf8 + i, len - i, 45);
		memcpy(chunk, utf8 + i, n);
		for (size_t k = 0; k < n; k++) /* no control characters in a header, encoded or not */
			if ((unsigned char)chunk[k] < 0x20 || chunk[k] == 0x7f)
				chunk[k] = ' ';
		sodium_bin2base64(b64, sizeof b64, (const unsigned char *)chunk, n, sodium_base64_VARIANT_ORIGINAL);
		int w = snprintf(out + o, outlen - o, "%s=?UTF-8?B?%s?=", o ? "\r\n " : "", b64);
		if (w < 0 || (size_t)w >= outlen - o)
			return -1;
		o += (size_t)w;
		i += n;
	}
	if (o == 0) {
		if (outlen < 1)
			return -1;
		out[0] = '\0';
	}
	return (int)o;
}

char *smtp_dot_stuff(const char *text)
{
	size_t len = strlen(text), cap = len * 2 + 8, o = 0, col = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	for (size_t i = 0; i <= len; i++) {
		char ch = text[i];
		int eol = ch == '\n' || ch == '\0';
		if (ch == '\r' && text[i + 1] == '\n')
			continue;
		if (o + 8 >= cap) {
			char *bigger = realloc(out, cap *= 2);
			if (!bigger) {
				free(out);
				return NULL;
			}
			out = bigger;
		}
		if (ch == '\0' && col == 0 && o > 0)
			break; /* the text ended with its own line end */
		if (eol) {
			out[o++] = '\r';
			out[o++] = '\n';
			col = 0;
			if (ch == '\0')
				break;
			continue;
		}
		/* A long line is broken before the limit, between characters
		 * (or anyway at the limit, for bytes that are not UTF-8). */
		if ((col >= MAX_LINE - 8 && ((unsigned char)ch & 0xC0) != 0x80) || col >= MAX_LINE - 1) {
			out[o++] = '\r';
			out[o++] = '\n';
			col = 0;
		}
		if (col == 0 && ch == '.')
			out[o++] = '.', col++;
		out[o++] = ch == '\r' ? ' ' : ch;
		col++;
	}
	out[o] = '\0';
	return out;
}

/* --- the session -------------------------------------------------------------------- */

struct session {
	struct tlsconn *c;
	char *err;
	size_t errlen;
	int starttls, eightbit, auth_plain, auth_login;
	char last[LINE]; /* the last reply line, for error messages */
};

/* Read a whole reply (all its lines); with caps, note the EHLO keywords. */
static int read_reply(struct session *s, int caps)
{
	char line[LINE];
	int code = -1, more = 1;

	while (more) {
		if (tlsconn_read_line(s->c, line, sizeof line, s->err, s->errlen) < 0)
			return -1;
		int c = smtp_reply_code(line, &more);
		if (c < 0 || (code >= 0 && c != code)) {
			snprintf(s->err, s->errlen, "the server's reply is not SMTP: %.80s", line);
			return -1;
		}
		code = c;
		snprintf(s->last, sizeof s->last, "%s", line);
		if (caps && strlen(line) > 4) {
			const char *kw = line + 4;
			if (strcasecmp(kw, "STARTTLS") == 0)
				s->starttls = 1;
			else if (strcasecmp(kw, "8BITMIME") == 0)
				s->eightbit = 1;
			else if (strncasecmp(kw, "AUTH", 4) == 0 && (kw[4] == ' ' || kw[4] == '=')) {
				char mechs[LINE], *save, *tok;
				snprintf(mechs, sizeof mechs, "%s", kw + 5);
				for (tok = strtok_r(mechs, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
					s->auth_plain |= strcasecmp(tok, "PLAIN") == 0;
					s->auth_login |= strcasecmp(tok, "LOGIN") == 0;
				}
			}
		}
	}
	return code;
}

/* Send a command line and expect a reply code; what is the step's name
 * in the error (the command itself may hold a secret). */
static int command(struct session *s, int expect, const char *what, const char *fmt, ...)
{
	char line[LINE];
	va_list ap;
	int n, code;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line - 2) {
		snprintf(s->err, s->errlen, "%s: command too long", what);
		return -1;
	}
	memcpy(line + n, "\r\n", 3);
	if (tlsconn_write(s->c, line, (size_t)n + 2, s->err, s->errlen) < 0)
		return -1;
	sodium_memzero(line, sizeof line);
	code = read_reply(s, strcmp(what, "EHLO") == 0);
	if (code < 0)
		return -1;
	if (code != expect && !(expect == 250 && code == 251)) {
		snprintf(s->err, s->errlen, "%s refused: %.200s", what, s->last);
		return -1;
	}
	return 0;
}

static int ehlo(struct session *s, const char *helo)
{
	s->starttls = s->eightbit = s->auth_plain = s->auth_login = 0;
	return command(s, 250, "EHLO", "EHLO %s", helo);
}

static int authenticate(struct session *s, const struct smtp_settings *st)
{
	size_t ul = strlen(st->username), pl = strlen(st->password);
	char b64[1400], raw[1024];
	int rc;

	if (ul + pl + 2 > sizeof raw) {
		snprintf(s->err, s->errlen, "SMTP user name or password too long");
		return -1;
	}
	if (s->auth_plain) {
		/* RFC 4616: authzid NUL authcid NUL password */
		raw[0] = '\0';
		memcpy(raw + 1, st->username, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, st->password, pl);
		sodium_bin2base64(b64, sizeof b64, (unsigned char *)raw, ul + pl + 2, sodium_base64_VARIANT_ORIGINAL);
		rc = command(s, 235, "AUTH PLAIN", "AUTH PLAIN %s", b64);
	} else if (s->auth_login) {
		sodium_bin2base64(b64, sizeof b64, (const unsigned char *)st->username, ul, sodium_base64_VARIANT_ORIGINAL);
		rc = command(s, 334, "AUTH LOGIN", "AUTH LOGIN") < 0 || command(s, 334, "AUTH LOGIN (user)", "%s", b64) < 0
			     ? -1
			     : 0;
		if (rc == 0) {
			sodium_bin2base64(b64, sizeof b64, (const unsigned char *)st->password, pl,
					  sodium_base64_VARIANT_ORIGINAL);
			rc = command(s, 235, "AUTH LOGIN (password)", "%s", b64);
		}
	} else {
		snprintf(s->err, s->errlen, "the relay offers neither AUTH PLAIN nor AUTH LOGIN");
		rc = -1;
	}
	sodium_memzero(raw, sizeof raw);
	sodium_memzero(b64, sizeof b64);
	return rc;
}

/* "Thu, 26 Nov 2026 08:00:00 +0000" */
static void rfc5322_date(char *out, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* Headers and body, ready for dot-stuffing. NULL on failure. */
static char *compose(const struct session *s, const struct smtp_settings *st, const char *subject, const char *body)
{
	char date[64], subj[2400], id[33], *text, *encoded = NULL;
	unsigned char rnd[16];
	const char *domain = strchr(st->from, '@') + 1;
	size_t len;

	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(id, sizeof id, rnd, sizeof rnd);
	rfc5322_date(date, sizeof date);
	if (smtp_header_encode(subject, subj, sizeof subj) < 0)
		snprintf(subj, sizeof subj, "Gatehouse alert");
	if (!s->eightbit) {
		/* 7-bit relay: base64 in lines of 76. */
		size_t bl = strlen(body), b64len = sodium_base64_ENCODED_LEN(bl, sodium_base64_VARIANT_ORIGINAL);
		char *flat = malloc(b64len);
		encoded = malloc(b64len + b64len / 76 * 2 + 4);
		if (!flat || !encoded) {
			free(flat);
			free(encoded);
			return NULL;
		}
		sodium_bin2base64(flat, b64len, (const unsigned char *)body, bl, sodium_base64_VARIANT_ORIGINAL);
		size_t o = 0;
		for (size_t i = 0; flat[i]; i += 76) {
			size_t n = strnlen(flat + i, 76);
			memcpy(encoded + o, flat + i, n);
			o += n;
			encoded[o++] = '\n';
		}
		encoded[o] = '\0';
		free(flat);
		body = encoded;
	}
	len = strlen(body) + strlen(subj) + strlen(st->from) + strlen(st->to) + 600;
	text = malloc(len);
	if (text)
		snprintf(text, len,
			 "Date: %s\nFrom: Gatehouse <%s>\nTo: %s\nSubject: %s\nMessage-ID: <%s@%s>\n"
			 "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: %s\n"
			 "Auto-Submitted: auto-generated\nX-Mailer: Gatehouse %s\n\n%s",
			 date, st->from, st->to, subj, id, domain, s->eightbit ? "8bit" : "base64", GH_VERSION, body);
	free(encoded);
	return text;
}

static int envelope(struct session *s, const struct smtp_settings *st)
{
	char list[2048], *save, *rcpt;
	int n = 0;

	if (command(s, 250, "MAIL FROM", "MAIL FROM:<%s>%s", st->from, s->eightbit ? " BODY=8BITMIME" : "") < 0)
		return -1;
	snprintf(list, sizeof list, "%s", st->to);
	for (rcpt = strtok_r(list, ",", &save); rcpt; rcpt = strtok_r(NULL, ",", &save)) {
		while (*rcpt == ' ' || *rcpt == '\t')
			rcpt++;
		size_t l = strlen(rcpt);
		while (l && (rcpt[l - 1] == ' ' || rcpt[l - 1] == '\t'))
			rcpt[--l] = '\0';
		if (!l)
			continue;
		if (command(s, 250, "RCPT TO", "RCPT TO:<%s>", rcpt) < 0)
			return -1;
		n++;
	}
	if (!n) {
		snprintf(s->err, s->errlen, "no recipient in smtp.to");
		return -1;
	}
	return 0;
}

static int data(struct session *s, const struct smtp_settings *st, const char *subject, const char *body)
{
	char *text = compose(s, st, subject, body), *stuffed;
	int rc;

	if (!text) {
		snprintf(s->err, s->errlen, "out of memory");
		return -1;
	}
	stuffed = smtp_dot_stuff(text);
	free(text);
	if (!stuffed) {
		snprintf(s->err, s->errlen, "out of memory");
		return -1;
	}
	rc = command(s, 354, "DATA", "DATA") < 0 || tlsconn_write(s->c, stuffed, strlen(stuffed), s->err, s->errlen) < 0 ||
			     command(s, 250, "the message", ".") < 0
		     ? -1
		     : 0;
	free(stuffed);
	return rc;
}

static int check_settings(const struct smtp_settings *st, char *err, size_t errlen)
{
	char list[2048], *save, *rcpt;

	if (!smtp_address_ok(st->from)) {
		snprintf(err, errlen, "smtp.from is not a plain e-mail address");
		return -1;
	}
	snprintf(list, sizeof list, "%s", st->to);
	for (rcpt = strtok_r(list, ", \t", &save); rcpt; rcpt = strtok_r(NULL, ", \t", &save))
		if (!smtp_address_ok(rcpt)) {
			snprintf(err, errlen, "smtp.to: '%.80s' is not a plain e-mail address", rcpt);
			return -1;
		}
	if (*st->username && st->tls == SMTP_TLS_NONE) {
		snprintf(err, errlen, "refusing to send the SMTP password without TLS (smtp.tls = none)");
		return -1;
	}
	return 0;
}

int smtp_send(const struct smtp_settings *st, const char *subject, const char *body, char *err, size_t errlen)
{
	struct tlsconn_opts o = {st->relay, st->port, st->timeout_ms, st->ca_file, st->verify, NULL};
	struct session s = {.err = err, .errlen = errlen};
	int rc = -1;

	if (check_settings(st, err, errlen) < 0)
		return -1;
	s.c = tlsconn_connect(&o, err, errlen);
	if (!s.c)
		return -1;
	if (st->tls == SMTP_TLS_IMPLICIT && tlsconn_tls(s.c, err, errlen) < 0)
		goto out;
	if (read_reply(&s, 0) != 220) {
		if (!*err)
			snprintf(err, errlen, "the relay did not greet: %.200s", s.last);
		goto out;
	}
	if (ehlo(&s, st->helo) < 0)
		goto out;
	if (st->tls == SMTP_STARTTLS) {
		if (!s.starttls) {
			snprintf(err, errlen, "the relay does not offer STARTTLS (smtp.tls = starttls requires it)");
			goto out;
		}
		if (command(&s, 220, "STARTTLS", "STARTTLS") < 0 || tlsconn_tls(s.c, err, errlen) < 0 || ehlo(&s, st->helo) < 0)
			goto out;
	}
	if (*st->username && authenticate(&s, st) < 0)
		goto out;
	if (envelope(&s, st) < 0 || data(&s, st, subject, body) < 0)
		goto out;
	rc = 0;
	command(&s, 221, "QUIT", "QUIT"); /* the message is accepted whatever happens now */
out:
	tlsconn_close(s.c);
	return rc;
}
