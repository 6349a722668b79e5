/* smtp: a small SMTP client (RFC 5321) for alert mail, over tlsconn.
 *
 * EHLO; STARTTLS, which is required unless TLS is turned off explicitly
 * (a relay that does not offer it is refused, so nobody on the path can
 * strip it), or TLS from the first byte (port 465); EHLO again; AUTH PLAIN
 * or LOGIN, only inside TLS; MAIL FROM, RCPT TO for each recipient; DATA
 * with dot-stuffing; QUIT. Every reply is awaited with a timeout. The
 * message is UTF-8: header fields with non-ASCII text (alerts may name
 * doors in Japanese) are RFC 2047 encoded-words, the body is sent as 8bit
 * when the relay offers 8BITMIME and as base64 otherwise.
 *
 * The pure pieces (encoding, dot-stuffing, reply parsing) are exposed for
 * the unit tests. */
#ifndef GH_SMTP_H
#define GH_SMTP_H

#include <stddef.h>

enum smtp_tls { SMTP_TLS_NONE, SMTP_STARTTLS, SMTP_TLS_IMPLICIT };

struct smtp_settings {
	const char *relay;
	int port;
	enum smtp_tls tls;
	int verify;             /* check the relay's certificate and name */
	const char *ca_file;
	const char *helo;       /* our name in EHLO */
	const char *from;
	const char *to;         /* comma-separated */
	const char *username;   /* "" : no AUTH */
	const char *password;
	long long timeout_ms;
};

/* Send one message. 0, or -1 with the reason (never the password) in err. */
int smtp_send(const struct smtp_settings *s, const char *subject, const char *body, char *err, size_t errlen);

/* --- pure helpers ------------------------------------------------------------------ */

/* A header value: as is when printable ASCII, else RFC 2047 "B" encoded-
 * words of at most 75 characters, cut only between UTF-8 characters and
 * folded with CRLF SP. Returns the length written, or -1 if out is short. */
int smtp_header_encode(const char *utf8, char *out, size_t outlen);

/* Text -> the DATA payload: lines end in CRLF, lines are at most 998
 * bytes (longer ones are broken on a UTF-8 boundary), a line starting with
 * '.' gets another '.', and it ends with CRLF (the caller sends ".\r\n").
 * Returns a malloc'd string, or NULL. */
char *smtp_dot_stuff(const char *text);

/* One reply line: its code (100..599) and whether more lines follow
 * ("250-..."). Returns the code, or -1 if the line is not a reply. */
int smtp_reply_code(const char *line, int *more);

/* An address we can put between < > without it changing the command: no
 * control characters, spaces, angle brackets; one '@'. */
int smtp_address_ok(const char *addr);

#endif
