/* The pure parts of the alert channels: SMTP reply parsing, header
 * encoding (RFC 2047), dot-stuffing, address checks; webhook URLs and the
 * signature (checked against RFC 4231's HMAC-SHA256 test vector); the
 * live ring's overrun handling. */
#include "t.h"

#include "core/live.h"
#include "notify/smtp.h"
#include "notify/webhook.h"

#include <sodium.h>
#include <stdlib.h>

TEST(smtp_reply_codes)
{
	int more = -1;

	CHECK_INT(smtp_reply_code("250-STARTTLS", &more), 250);
	CHECK_INT(more, 1);
	CHECK_INT(smtp_reply_code("250 OK", &more), 250);
	CHECK_INT(more, 0);
	CHECK_INT(smtp_reply_code("220", &more), 220);
	CHECK_INT(smtp_reply_code("554 5.7.1 no", &more), 554);
	CHECK_INT(smtp_reply_code("25", &more), -1);
	CHECK_INT(smtp_reply_code("650 nope", &more), -1);
	CHECK_INT(smtp_reply_code("250xOK", &more), -1);
	CHECK_INT(smtp_reply_code("HTTP/1.1 200 OK", &more), -1);
}

TEST(smtp_header_ascii_stays_as_is)
{
	char out[200];

	CHECK_INT(smtp_header_encode("[Gatehouse] CRITICAL: Door 7 forced open", out, sizeof out), 40);
	CHECK_STR(out, "[Gatehouse] CRITICAL: Door 7 forced open");
	CHECK_INT(smtp_header_encode("abc", out, 3), -1); /* no room for the NUL */
}

/* Decode a folded run of encoded-words back to UTF-8. */
static void decode_words(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	while ((in = strstr(in, "=?UTF-8?B?")) != NULL) {
		const char *start = in + 10, *end = strstr(start, "?=");
		size_t n;
		CHECK(end != NULL);
		CHECK(end - in + 2 <= 75); /* RFC 2047: at most 75 characters */
		CHECK(sodium_base642bin((unsigned char *)out + o, outlen - o - 1, start, (size_t)(end - start), NULL, &n,
					NULL, sodium_base64_VARIANT_ORIGINAL) == 0);
		o += n;
		in = end + 2;
		if (*in)
			CHECK(strncmp(in, "\r\n ", 3) == 0); /* folded between words */
	}
	out[o] = '\0';
}

TEST(smtp_header_non_ascii_is_rfc2047_cut_between_characters)
{
	const char *subject = "[Gatehouse] CRITICAL: Door 正面玄関 forced open (terminal 本社の北側の通用口リーダー)";
	char out[1000], back[600];

	CHECK(smtp_header_encode(subject, out, sizeof out) > 0);
	CHECK(strncmp(out, "=?UTF-8?B?", 10) == 0);
	for (const char *p = out; *p; p++)
		CHECK((unsigned char)*p < 0x80);
	decode_words(out, back, sizeof back);
	CHECK_STR(back, subject);
	/* Each word decodes to whole characters: none starts with a continuation byte. */
	for (const char *w = strstr(out, "=?UTF-8?B?"); w; w = strstr(w + 1, "=?UTF-8?B?")) {
		unsigned char first[4];
		size_t n;
		CHECK(sodium_base642bin(first, sizeof first, w + 10, 4, NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) == 0);
		CHECK((first[0] & 0xC0) != 0x80);
	}
	/* Control characters never reach a header. */
	CHECK(smtp_header_encode("evil\r\nBcc: x@y 扉", out, sizeof out) > 0);
	decode_words(out, back, sizeof back);
	CHECK_STR(back, "evil  Bcc: x@y 扉");
	CHECK_INT(smtp_header_encode(subject, out, 40), -1);
	/* ASCII that looks like an encoded-word is encoded, so a mail client shows it as typed
	 * (found by fuzz_notify). */
	const char *lookalike = "Door =?UTF-8?B?T3BlbmVk?= forced";
	CHECK(smtp_header_encode(lookalike, out, sizeof out) > 0);
	CHECK(strncmp(out, "=?UTF-8?B?", 10) == 0 && strstr(out, "T3BlbmVk") == NULL);
	decode_words(out, back, sizeof back);
	CHECK_STR(back, lookalike);
}

TEST(smtp_dot_stuffing_and_line_ends)
{
	char *s = smtp_dot_stuff("Subject: x\n\n.hidden\nfine\r\n..two\n.");
	CHECK_STR(s, "Subject: x\r\n\r\n..hidden\r\nfine\r\n...two\r\n..\r\n");
	free(s);
	s = smtp_dot_stuff("no end");
	CHECK_STR(s, "no end\r\n");
	free(s);
	s = smtp_dot_stuff("ends\n");
	CHECK_STR(s, "ends\r\n");
	free(s);
	s = smtp_dot_stuff("lone\rcr\n");
	CHECK_STR(s, "lone cr\r\n");
	free(s);
}

TEST(smtp_long_lines_broken_between_characters)
{
	char in[3100];
	size_t n = 0;

	while (n + 3 < sizeof in - 1) {
		memcpy(in + n, "扉", 3); /* 3 bytes each */
		n += 3;
	}
	in[n] = '\0';
	char *s = smtp_dot_stuff(in);
	size_t col = 0;
	for (const char *p = s; *p; p++) {
		if (*p == '\r') {
			CHECK(p[1] == '\n');
			CHECK(col <= 998);
			CHECK(((unsigned char)p[2] & 0xC0) != 0x80 || !p[2]);
			col = 0;
			p++;
			continue;
		}
		col++;
	}
	free(s);
}

TEST(smtp_addresses)
{
	CHECK(smtp_address_ok("security@example.org"));
	CHECK(smtp_address_ok("a+b@sub.example.co.jp"));
	CHECK(!smtp_address_ok(""));
	CHECK(!smtp_address_ok("no-at.example.org"));
	CHECK(!smtp_address_ok("@example.org"));
	CHECK(!smtp_address_ok("a@"));
	CHECK(!smtp_address_ok("a@b@c"));
	CHECK(!smtp_address_ok("a b@example.org"));
	CHECK(!smtp_address_ok("a@example.org>\r\nRCPT TO:<x@y"));
	CHECK(!smtp_address_ok("<a@example.org>"));
}

TEST(webhook_urls)
{
	struct webhook_target t;
	char why[120];

	CHECK_INT(webhook_parse_url("https://hooks.example.org/gatehouse?x=1", &t, why, sizeof why), 0);
	CHECK_STR(t.host, "hooks.example.org");
	CHECK_INT(t.port, 443);
	CHECK_STR(t.path, "/gatehouse?x=1");
	CHECK_INT(webhook_parse_url("https://localhost:8443", &t, why, sizeof why), 0);
	CHECK_STR(t.host, "localhost");
	CHECK_INT(t.port, 8443);
	CHECK_STR(t.path, "/");
	CHECK_INT(webhook_parse_url("https://[::1]:9000/h#frag", &t, why, sizeof why), 0);
	CHECK_STR(t.host, "::1");
	CHECK_INT(t.port, 9000);
	CHECK_STR(t.path, "/h");
	CHECK_INT(webhook_parse_url("http://example.org/", &t, why, sizeof why), -1);
	CHECK_CONTAINS(why, "https://");
	CHECK_INT(webhook_parse_url("https://user:pw@example.org/", &t, why, sizeof why), -1);
	CHECK_INT(webhook_parse_url("https://example.org:0/", &t, why, sizeof why), -1);
	CHECK_INT(webhook_parse_url("https://example.org:99999/", &t, why, sizeof why), -1);
	CHECK_INT(webhook_parse_url("https:///path", &t, why, sizeof why), -1);
	CHECK_INT(webhook_parse_url("https://exa mple.org/", &t, why, sizeof why), -1);
	CHECK_INT(webhook_parse_url("https://example.org/\r\nX: y", &t, why, sizeof why), -1);
}

TEST(webhook_signature_is_hmac_sha256_of_t_dot_body)
{
	/* The HMAC primitive against RFC 4231 test case 2, then the signature
	 * against that primitive over the exact bytes "<t>.<body>". */
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char want[65], got[65];
	const char *body = "{\"id\":12,\"kind\":\"door.forced\"}";
	const char *signed_text = "1795662292.{\"id\":12,\"kind\":\"door.forced\"}";
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)"Jefe", 4);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"what do ya want for nothing?", 28);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(want, sizeof want, mac, sizeof mac);
	CHECK_STR(want, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"); /* RFC 4231 */

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)"whsec-test", 10);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)signed_text, strlen(signed_text));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(want, sizeof want, mac, sizeof mac);
	webhook_signature((const unsigned char *)"whsec-test", 10, 1795662292LL, body, strlen(body), got);
	CHECK_STR(got, want);
	webhook_signature((const unsigned char *)"whsec-test", 10, 1795662293LL, body, strlen(body), got);
	CHECK(strcmp(got, want) != 0); /* the time is signed too */
}

TEST(live_ring_overrun_and_order)
{
	uint64_t pos = live_head(), start = pos;
	struct live_item items[8];

	live_publish(LIVE_EVENT, 1, 100);
	live_publish(LIVE_ALERT, 0, 7);
	CHECK_INT(live_wait(&pos, items, 8, 10), 2);
	CHECK_INT(items[0].kind, LIVE_EVENT);
	CHECK_INT(items[0].id, 100);
	CHECK_INT(items[1].tenant, 0);
	CHECK_INT(pos, start + 2);
	CHECK_INT(live_wait(&pos, items, 8, 10), 0); /* nothing new: timeout */
	for (int i = 0; i < LIVE_RING + 5; i++)
		live_publish(LIVE_EVENT, 1, i);
	CHECK_INT(live_wait(&pos, items, 8, 10), -1); /* fell behind: catch up elsewhere */
	CHECK_INT(pos, live_head() - LIVE_RING);
	CHECK_INT(live_wait(&pos, items, 8, 10), 8);
	CHECK_INT(items[0].id, 5);
	CHECK_INT(live_enter(1), 0);
	CHECK_INT(live_enter(1), -1);
	live_leave();
	CHECK_INT(live_streams(), 0);
}
