#include "t.h"

#include "devlink/mqtt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Test vectors are written as hex pairs with 'quoted ASCII' in between:
 * "30 07 00 03 'a/b' 'hi'". Spaces are ignored. */
static size_t hx(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (*s) {
		if (*s == ' ') {
			s++;
		} else if (*s == '\'') {
			for (s++; *s && *s != '\''; s++) {
				if (n < cap)
					out[n] = (uint8_t)*s;
				n++;
			}
			if (*s)
				s++;
		} else {
			unsigned v;

			if (!s[1] || sscanf(s, "%2x", &v) != 1) {
				t_fail(__FILE__, __LINE__, "bad test vector at \"%s\"", s);
				return 0;
			}
			if (n < cap)
				out[n] = (uint8_t)v;
			n++;
			s += 2;
		}
	}
	if (n > cap)
		t_fail(__FILE__, __LINE__, "test vector longer than %zu", cap);
	return n;
}

/* Decode a copy of exactly len bytes on the heap, so that the sanitizer
 * build catches any read past the end. */
static enum mqtt_decode_result dec(int from_server, const uint8_t *buf, size_t len, size_t max,
				   struct mqtt_packet *pkt, size_t *used, const char **why, uint8_t **copy)
{
	uint8_t *c = malloc(len ? len : 1);
	enum mqtt_decode_result r;

	if (len)
		memcpy(c, buf, len);
	r = from_server ? mqtt_decode_from_server(c, len, max, pkt, used, why)
			: mqtt_decode(c, len, max, pkt, used, why);
	if (copy)
		*copy = c; /* the packet's fields point into it */
	else
		free(c);
	return r;
}

static int str_is(struct mqtt_str s, const char *want)
{
	return s.len == strlen(want) && (s.len == 0 || memcmp(s.p, want, s.len) == 0);
}

#define CHECK_MSTR(s, want)                                                                    \
	do {                                                                                   \
		if (!str_is((s), (want)))                                                     \
			t_fail(__FILE__, __LINE__, "%s == \"%.*s\", expected \"%s\"", #s,      \
			       (int)(s).len, (s).p ? (s).p : "", (want));                       \
	} while (0)

/* S: from a terminal (mqtt_decode); C: from the appliance
 * (mqtt_decode_from_server). */
enum { S = 0, C = 1 };

static const struct {
	int dir;
	const char *hex;
	enum mqtt_type type;
} valid[] = {
	/* CONNECT: the smallest usual one, empty client id, everything set,
	 * multi-byte UTF-8 in the client id. */
	{S, "10 11 00 04 'MQTT' 04 02 00 3c 00 05 'term1'", MQTT_CONNECT},
	{S, "10 0c 00 04 'MQTT' 04 02 00 00 00 00", MQTT_CONNECT},
	{S, "10 37 00 04 'MQTT' 04 ec 01 2c 00 05 'term1' 00 0f 'gh/v1/t1/status' 00 07 'offline' 00 05 'alice' "
	    "00 03 01 02 03",
	 MQTT_CONNECT},
	{S, "10 13 00 04 'MQTT' 04 02 00 3c 00 07 74 c3 bc f0 9f 98 80", MQTT_CONNECT},
	{S, "10 10 00 04 'MQTT' 04 82 00 3c 00 01 't' 00 01 'u'", MQTT_CONNECT},
	{S, "10 11 00 04 'MQTT' 04 c2 00 3c 00 01 't' 00 00 00 00", MQTT_CONNECT},
	/* PUBLISH: QoS 0, empty payload with retain, QoS 1 with DUP, a '$' topic,
	 * a topic with a space and U+FEFF. */
	{S, "30 07 00 03 'a/b' 'hi'", MQTT_PUBLISH},
	{S, "31 05 00 03 'a/b'", MQTT_PUBLISH},
	{S, "3a 0b 00 03 'a/b' 00 07 'ping'", MQTT_PUBLISH},
	{S, "32 0a 00 06 '$SYS/x' ff ff", MQTT_PUBLISH},
	{S, "30 08 00 06 'a b' ef bb bf", MQTT_PUBLISH},
	{S, "40 02 00 07", MQTT_PUBACK},
	{S, "40 02 ff ff", MQTT_PUBACK},
	{S, "82 0e 00 01 00 09 'gh/v1/+/#' 01", MQTT_SUBSCRIBE},
	{S, "82 0a 00 02 00 01 '#' 00 00 01 '+' 02", MQTT_SUBSCRIBE},
	{S, "82 0b 00 02 00 06 '$SYS/#' 00", MQTT_SUBSCRIBE},
	{S, "a2 0d 00 03 00 09 'gh/v1/+/#'", MQTT_UNSUBSCRIBE},
	{S, "a2 0b 00 03 00 03 'a/b' 00 02 '+/'", MQTT_UNSUBSCRIBE},
	{S, "c0 00", MQTT_PINGREQ},
	{S, "e0 00", MQTT_DISCONNECT},
	/* From the appliance. */
	{C, "20 02 00 00", MQTT_CONNACK},
	{C, "20 02 01 00", MQTT_CONNACK},
	{C, "20 02 00 05", MQTT_CONNACK},
	{C, "90 03 00 01 01", MQTT_SUBACK},
	{C, "90 05 00 02 00 01 80", MQTT_SUBACK},
	{C, "b0 02 00 03", MQTT_UNSUBACK},
	{C, "d0 00", MQTT_PINGRESP},
	{C, "30 07 00 03 'a/b' 'hi'", MQTT_PUBLISH},
	{C, "33 0b 00 03 'a/b' 00 07 'ping'", MQTT_PUBLISH},
	{C, "40 02 00 07", MQTT_PUBACK},
};
#define NVALID (sizeof valid / sizeof valid[0])

TEST(mqtt_decode_accepts_valid_packets)
{
	for (size_t i = 0; i < NVALID; i++) {
		uint8_t b[256];
		size_t n = hx(valid[i].hex, b, sizeof b), used = 99;
		struct mqtt_packet p;
		const char *why = NULL;

		if (dec(valid[i].dir, b, n, 1024, &p, &used, &why, NULL) != MQTT_OK) {
			t_fail(__FILE__, __LINE__, "valid[%zu] \"%s\": %s", i, valid[i].hex, why ? why : "need more");
			continue;
		}
		CHECK_INT(used, n);
		CHECK_INT(p.type, valid[i].type);
		CHECK_INT(p.flags, b[0] & 0x0F);
		CHECK(why == NULL);
	}
}

TEST(mqtt_decode_every_prefix_needs_more)
{
	for (size_t i = 0; i < NVALID; i++) {
		uint8_t b[256];
		size_t n = hx(valid[i].hex, b, sizeof b);

		for (size_t k = 0; k < n; k++) {
			struct mqtt_packet p;
			size_t used = 99;
			const char *why = NULL;
			enum mqtt_decode_result r = dec(valid[i].dir, b, k, 1024, &p, &used, &why, NULL);

			if (r != MQTT_NEED_MORE)
				t_fail(__FILE__, __LINE__, "valid[%zu] prefix %zu of %zu: %d (%s)", i, k, n, r,
				       why ? why : "");
			CHECK_INT(used, 0);
		}
		/* The bytes of the next packet after it are left alone. */
		b[n] = 0xc0;
		struct mqtt_packet p;
		size_t used;
		const char *why;
		CHECK_INT(dec(valid[i].dir, b, n + 1, 1024, &p, &used, &why, NULL), MQTT_OK);
		CHECK_INT(used, n);
		/* A maximum of exactly the remaining length is enough. */
		size_t hl = 2;
		while (b[hl - 1] & 0x80)
			hl++;
		CHECK_INT(dec(valid[i].dir, b, n, n - hl, &p, &used, &why, NULL), MQTT_OK);
		if (n > hl) {
			CHECK_INT(dec(valid[i].dir, b, n, n - hl - 1, &p, &used, &why, NULL), MQTT_BAD);
			CHECK_CONTAINS(why, "larger than the maximum");
			/* Refused as soon as the length bytes are in. */
			CHECK_INT(dec(valid[i].dir, b, hl, n - hl - 1, &p, &used, &why, NULL), MQTT_BAD);
		}
	}
}

static const struct {
	int dir;
	size_t max;
	const char *hex;
	const char *why;
} bad[] = {
	/* Packet types and fixed-header flags: refused on the first byte. */
	{S, 1024, "00", "reserved packet type"},
	{S, 1024, "f0", "reserved packet type"},
	{C, 1024, "f0 00", "reserved packet type"},
	{S, 1024, "20", "server-to-client"},
	{S, 1024, "20 02 00 00", "server-to-client"},
	{S, 1024, "90", "server-to-client"},
	{S, 1024, "b0", "server-to-client"},
	{S, 1024, "d0 00", "server-to-client"},
	{S, 1024, "50 02 00 01", "QoS 2 is not supported"},
	{S, 1024, "62 02 00 01", "QoS 2 is not supported"},
	{S, 1024, "70 02 00 01", "QoS 2 is not supported"},
	{C, 1024, "50", "QoS 2 is not supported"},
	{C, 1024, "62", "QoS 2 is not supported"},
	{C, 1024, "70", "QoS 2 is not supported"},
	{S, 1024, "34 09 00 03 'a/b' 00 01 'hi'", "QoS 2 is not supported"},
	{C, 1024, "34", "QoS 2 is not supported"},
	{S, 1024, "36", "QoS 3"},
	{C, 1024, "3e", "QoS 3"},
	{S, 1024, "38 07 00 03 'a/b' 'hi'", "DUP set and QoS 0"},
	{S, 1024, "39", "DUP set and QoS 0"},
	{S, 1024, "11", "reserved fixed-header flags"},
	{S, 1024, "18", "reserved fixed-header flags"},
	{S, 1024, "41 02 00 01", "reserved fixed-header flags"},
	{S, 1024, "80", "SUBSCRIBE fixed-header flags"},
	{S, 1024, "83", "SUBSCRIBE fixed-header flags"},
	{S, 1024, "8a", "SUBSCRIBE fixed-header flags"},
	{S, 1024, "a0", "UNSUBSCRIBE fixed-header flags"},
	{S, 1024, "a3", "UNSUBSCRIBE fixed-header flags"},
	{S, 1024, "c1 00", "reserved fixed-header flags"},
	{S, 1024, "e2 00", "reserved fixed-header flags"},
	{C, 1024, "21 02 00 00", "reserved fixed-header flags"},
	{C, 1024, "92", "reserved fixed-header flags"},
	{C, 1024, "b2", "reserved fixed-header flags"},
	{C, 1024, "d8", "reserved fixed-header flags"},
	{C, 1024, "10", "client-to-server"},
	{C, 1024, "82", "client-to-server"},
	{C, 1024, "a2", "client-to-server"},
	{C, 1024, "c0 00", "client-to-server"},
	{C, 1024, "e0 00", "client-to-server"},
	/* Remaining length fixed by the type, refused once known. */
	{S, 1024, "c0 01", "PINGREQ remaining length must be 0"},
	{S, 1024, "e0 01", "DISCONNECT remaining length must be 0"},
	{S, 1024, "e0 80 01", "DISCONNECT remaining length must be 0"},
	{S, 1024, "40 03", "PUBACK remaining length must be 2"},
	{S, 1024, "40 00", "PUBACK remaining length must be 2"},
	{C, 1024, "20 03", "CONNACK remaining length must be 2"},
	{C, 1024, "20 00", "CONNACK remaining length must be 2"},
	{C, 1024, "b0 01", "UNSUBACK remaining length must be 2"},
	{C, 1024, "d0 01", "PINGRESP remaining length must be 0"},
	/* The remaining length itself. */
	{S, 268435455, "30 ff ff ff ff", "longer than 4 bytes"},
	{S, 268435455, "30 80 80 80 80 01", "longer than 4 bytes"},
	{S, (size_t)-1, "30 ff ff ff ff", "longer than 4 bytes"},
	{S, 1024, "c0 80 00", "not minimally encoded"},
	{S, 1024, "30 85 00", "not minimally encoded"},
	{S, 268435455, "30 80 80 00", "not minimally encoded"},
	{S, 268435455, "30 ff ff ff 00", "not minimally encoded"},
	/* Oversized: refused as soon as the length bytes say so, before the
	 * body arrives. */
	{S, 100, "30 65", "larger than the maximum"},
	{S, 100, "30 80 01", "larger than the maximum"},
	{S, 100, "30 ff", "larger than the maximum"},
	{S, 200, "30 e4", "larger than the maximum"},
	{S, 16383, "30 80 80", "larger than the maximum"},
	{S, 0, "30 01", "larger than the maximum"},
	{C, 10, "30 0b", "larger than the maximum"},
	{S, 1024, "82 ff ff ff 7f", "larger than the maximum"},
	/* CONNECT */
	{S, 1024, "10 00", "too short for the protocol name"},
	{S, 1024, "10 03 00 04 'M'", "too short for the protocol name"},
	{S, 1024, "10 06 00 04 'MQTT'", "too short for the protocol level"},
	{S, 1024, "10 07 00 04 'MQTT' 04", "too short for the connect flags"},
	{S, 1024, "10 08 00 04 'MQTT' 04 02 00", "too short for the keep alive"},
	{S, 1024, "10 0a 00 04 'MQTT' 04 02 00 3c", "too short for the client identifier"},
	{S, 1024, "10 0c 00 04 'MQTT' 04 02 00 3c 00 05", "too short for the client identifier"},
	{S, 1024, "10 11 00 04 'MQTX' 04 02 00 3c 00 05 'term1'", "unsupported protocol name"},
	{S, 1024, "10 11 00 04 'mqtt' 04 02 00 3c 00 05 'term1'", "unsupported protocol name"},
	{S, 1024, "10 0d 00 00 04 02 00 3c 00 05 'term1'", "unsupported protocol name"},
	{S, 1024, "10 11 00 04 'MQ' ff ff 04 02 00 3c 00 05 'term1'", "malformed UTF-8 in the protocol name"},
	{S, 1024, "10 11 00 04 'MQTT' 03 02 00 3c 00 05 'term1'", "unsupported protocol level"},
	{S, 1024, "10 12 00 04 'MQTT' 05 02 00 3c 00 00 05 'term1'", "unsupported protocol level"},
	{S, 1024, "10 07 00 04 'MQTT' 00", "unsupported protocol level"},
	{S, 1024, "10 13 00 06 'MQIsdp' 03 02 00 3c 00 05 'term1'", "unsupported protocol level"},
	{S, 1024, "10 11 00 04 'MQTT' 04 03 00 3c 00 05 'term1'", "reserved flag bit 0"},
	{S, 1024, "10 11 00 04 'MQTT' 04 01 00 3c 00 05 'term1'", "reserved flag bit 0"},
	{S, 1024, "10 11 00 04 'MQTT' 04 0a 00 3c 00 05 'term1'", "without the will flag"},
	{S, 1024, "10 11 00 04 'MQTT' 04 12 00 3c 00 05 'term1'", "without the will flag"},
	{S, 1024, "10 11 00 04 'MQTT' 04 22 00 3c 00 05 'term1'", "without the will flag"},
	{S, 1024, "10 11 00 04 'MQTT' 04 1e 00 3c 00 05 'term1'", "will QoS 3"},
	{S, 1024, "10 11 00 04 'MQTT' 04 42 00 3c 00 05 'term1'", "password flag without the user name"},
	{S, 1024, "10 11 00 04 'MQTT' 04 82 00 3c 00 05 'term1'", "too short for the user name"},
	{S, 1024, "10 10 00 04 'MQTT' 04 c2 00 3c 00 01 't' 00 01 'u'", "too short for the password"},
	{S, 1024, "10 11 00 04 'MQTT' 04 06 00 3c 00 05 'term1'", "too short for the will topic"},
	{S, 1024, "10 10 00 04 'MQTT' 04 06 00 3c 00 01 't' 00 01 'w'", "too short for the will message"},
	{S, 1024, "10 14 00 04 'MQTT' 04 06 00 3c 00 01 't' 00 03 'a/#' 00 00", "wildcard in the will topic"},
	{S, 1024, "10 14 00 04 'MQTT' 04 06 00 3c 00 01 't' 00 03 'a/+' 00 00", "wildcard in the will topic"},
	{S, 1024, "10 11 00 04 'MQTT' 04 06 00 3c 00 01 't' 00 00 00 00", "empty will topic"},
	{S, 1024, "10 14 00 04 'MQTT' 04 06 00 3c 00 01 't' 00 03 'a' c0 'b' 00 00", "UTF-8 in the will topic"},
	{S, 1024, "10 11 00 04 'MQTT' 04 82 00 3c 00 01 't' 00 02 'u' 00", "UTF-8 in the user name"},
	{S, 1024, "10 12 00 04 'MQTT' 04 02 00 3c 00 05 'term1' 00", "trailing bytes"},
	{S, 1024, "10 13 00 04 'MQTT' 04 02 00 3c 00 05 'term1' 00 00", "trailing bytes"},
	{S, 1024, "10 0c 00 04 'MQTT' 04 00 00 00 00 00", "identifier rejected"},
	/* UTF-8 in the client id: overlong NUL, NUL, surrogates, lone
	 * continuation, truncated sequence, above U+10FFFF, bad lead bytes,
	 * overlong 3- and 4-byte forms. */
	{S, 1024, "10 11 00 04 'MQTT' 04 02 00 3c 00 05 't' c0 80 '1' '2'", "UTF-8 in the client identifier"},
	{S, 1024, "10 11 00 04 'MQTT' 04 02 00 3c 00 05 't' 00 'rm1'", "UTF-8 in the client identifier"},
	{S, 1024, "10 11 00 04 'MQTT' 04 02 00 3c 00 05 't' ed a0 80 '1'", "UTF-8 in the client identifier"},
	{S, 1024, "10 11 00 04 'MQTT' 04 02 00 3c 00 05 't' ed bf bf '1'", "UTF-8 in the client identifier"},
	{S, 1024, "10 11 00 04 'MQTT' 04 02 00 3c 00 05 't' 80 'rm1'", "UTF-8 in the client identifier"},
	{S, 1024, "10 11 00 04 'MQTT' 04 02 00 3c 00 05 'term' e2", "UTF-8 in the client identifier"},
	{S, 1024, "10 11 00 04 'MQTT' 04 02 00 3c 00 05 'ter' e2 82", "UTF-8 in the client identifier"},
	{S, 1024, "10 11 00 04 'MQTT' 04 02 00 3c 00 05 't' f4 90 80 80", "UTF-8 in the client identifier"},
	{S, 1024, "10 11 00 04 'MQTT' 04 02 00 3c 00 05 't' f5 80 80 80", "UTF-8 in the client identifier"},
	{S, 1024, "10 11 00 04 'MQTT' 04 02 00 3c 00 05 't' e0 80 af '1'", "UTF-8 in the client identifier"},
	{S, 1024, "10 11 00 04 'MQTT' 04 02 00 3c 00 05 't' f0 80 80 af", "UTF-8 in the client identifier"},
	{S, 1024, "10 11 00 04 'MQTT' 04 02 00 3c 00 05 'te' c3 'a1'", "UTF-8 in the client identifier"},
	{S, 1024, "10 11 00 04 'MQTT' 04 02 00 3c 00 05 'ter' fe ff", "UTF-8 in the client identifier"},
	/* PUBLISH */
	{S, 1024, "30 00", "too short for the topic name"},
	{S, 1024, "30 01 00", "too short for the topic name"},
	{S, 1024, "30 03 00 05 'a'", "too short for the topic name"},
	{S, 1024, "30 02 00 00", "empty topic name"},
	{S, 1024, "30 07 00 00 'hello'", "empty topic name"},
	{S, 1024, "30 05 00 03 'a/+'", "wildcard in topic name"},
	{S, 1024, "30 05 00 03 'a/#'", "wildcard in topic name"},
	{S, 1024, "30 03 00 01 '#'", "wildcard in topic name"},
	{S, 1024, "30 06 00 04 'a+/b'", "wildcard in topic name"},
	{C, 1024, "30 05 00 03 'a/+'", "wildcard in topic name"},
	{S, 1024, "30 05 00 03 'a' ff 'b'", "UTF-8 in the topic name"},
	{S, 1024, "30 05 00 03 'a' 00 'b'", "UTF-8 in the topic name"},
	{S, 1024, "32 07 00 03 'a/b' 00 00", "zero packet identifier"},
	{S, 1024, "3a 09 00 03 'a/b' 00 00 'hi'", "zero packet identifier"},
	{C, 1024, "32 07 00 03 'a/b' 00 00", "zero packet identifier"},
	{S, 1024, "32 06 00 03 'a/b' 00", "too short for the packet identifier"},
	{S, 1024, "32 05 00 03 'a/b'", "too short for the packet identifier"},
	{S, 1024, "40 02 00 00", "PUBACK with zero packet identifier"},
	{C, 1024, "40 02 00 00", "PUBACK with zero packet identifier"},
	/* SUBSCRIBE */
	{S, 1024, "82 00", "too short for the packet identifier"},
	{S, 1024, "82 01 00", "too short for the packet identifier"},
	{S, 1024, "82 08 00 00 00 03 'a/b' 00", "SUBSCRIBE with zero packet identifier"},
	{S, 1024, "82 02 00 01", "SUBSCRIBE without topic filters"},
	{S, 1024, "82 05 00 01 00 00 00", "empty topic filter"},
	{S, 1024, "82 09 00 01 00 04 'a/b#' 00", "'#' not alone"},
	{S, 1024, "82 08 00 01 00 03 '#/a' 00", "'#' not alone"},
	{S, 1024, "82 07 00 01 00 02 '##' 00", "'#' not alone"},
	{S, 1024, "82 07 00 01 00 02 '#+' 00", "not alone"},
	{S, 1024, "82 07 00 01 00 02 'a+' 00", "'+' not alone"},
	{S, 1024, "82 09 00 01 00 04 '+a/b' 00", "'+' not alone"},
	{S, 1024, "82 09 00 01 00 04 'a/+b' 00", "'+' not alone"},
	{S, 1024, "82 07 00 01 00 02 '++' 00", "'+' not alone"},
	{S, 1024, "82 08 00 01 00 03 'a/b' 03", "requested QoS 3"},
	{S, 1024, "82 08 00 01 00 03 'a/b' 81", "reserved bits"},
	{S, 1024, "82 08 00 01 00 03 'a/b' 04", "reserved bits"},
	{S, 1024, "82 08 00 01 00 03 'a/b' fc", "reserved bits"},
	{S, 1024, "82 07 00 01 00 03 'a/b'", "without its requested QoS"},
	{S, 1024, "82 08 00 01 00 03 'a' c3 'b' 00", "UTF-8 in a topic filter"},
	{S, 1024, "82 06 00 01 00 05 'ab'", "runs past the end"},
	{S, 1024, "82 09 00 01 00 03 'a/b' 00 00", "runs past the end"},
	{S, 1024, "82 0e 00 01 00 03 'a/b' 00 00 02 'c/' 00 00", "runs past the end"},
	{S, 1024, "82 0c 00 01 00 03 'a/b' 00 00 02 'c+' 00", "'+' not alone"},
	/* UNSUBSCRIBE */
	{S, 1024, "a2 00", "UNSUBSCRIBE too short for the packet identifier"},
	{S, 1024, "a2 02 00 01", "UNSUBSCRIBE without topic filters"},
	{S, 1024, "a2 07 00 00 00 03 'a/b'", "UNSUBSCRIBE with zero packet identifier"},
	{S, 1024, "a2 09 00 01 00 05 'a/#/b'", "'#' not alone"},
	{S, 1024, "a2 04 00 01 00 00", "empty topic filter"},
	{S, 1024, "a2 08 00 01 00 03 'a/b' 00", "runs past the end"},
	{S, 1024, "a2 07 00 01 00 03 'a' ed 'b'", "UTF-8 in a topic filter"},
	/* From the appliance: CONNACK, SUBACK, UNSUBACK. */
	{C, 1024, "20 02 02 00", "reserved acknowledge flags"},
	{C, 1024, "20 02 80 00", "reserved acknowledge flags"},
	{C, 1024, "20 02 00 06", "reserved CONNACK return code"},
	{C, 1024, "20 02 00 ff", "reserved CONNACK return code"},
	{C, 1024, "20 02 01 05", "session present with a non-zero return code"},
	{C, 1024, "90 02 00 01", "SUBACK without return codes"},
	{C, 1024, "90 01 00", "SUBACK too short"},
	{C, 1024, "90 03 00 00 01", "SUBACK with zero packet identifier"},
	{C, 1024, "90 03 00 01 03", "reserved SUBACK return code"},
	{C, 1024, "90 03 00 01 81", "reserved SUBACK return code"},
	{C, 1024, "90 04 00 01 00 40", "reserved SUBACK return code"},
	{C, 1024, "b0 02 00 00", "UNSUBACK with zero packet identifier"},
	{C, 1024, "34 09 00 03 'a/b' 00 01 'hi'", "QoS 2 is not supported"},
};

TEST(mqtt_decode_rejects_malformed_and_refused_packets)
{
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t b[256];
		size_t n = hx(bad[i].hex, b, sizeof b), used = 99;
		struct mqtt_packet p;
		const char *why = NULL;
		enum mqtt_decode_result r = dec(bad[i].dir, b, n, bad[i].max, &p, &used, &why, NULL);

		if (r != MQTT_BAD || !why || !strstr(why, bad[i].why))
			t_fail(__FILE__, __LINE__, "bad[%zu] \"%s\": result %d, why \"%s\", expected \"%s\"", i,
			       bad[i].hex, r, why ? why : "(null)", bad[i].why);
		CHECK_INT(used, 0);
		/* More bytes after it change nothing. */
		memset(b + n, 1, 64);
		r = dec(bad[i].dir, b, n + 64, bad[i].max, &p, &used, &why, NULL);
		if (r != MQTT_BAD || !why || !strstr(why, bad[i].why))
			t_fail(__FILE__, __LINE__, "bad[%zu] with bytes after: %d %s", i, r, why ? why : "");
	}
}

TEST(mqtt_decode_needs_more_until_it_can_tell)
{
	static const struct {
		size_t max;
		const char *hex;
	} cases[] = {
		{1024, ""},
		{1024, "30"},
		{1024, "30 80"},              /* at least 128: still allowed */
		{228, "30 e4"},               /* at least 100 + 128 = 228 */
		{16384, "30 80 80"},          /* at least 16384 */
		{268435455, "30 ff ff ff"},   /* up to 268,435,455 */
		{268435455, "30 ff ff ff 7f"},/* exactly the largest length */
		{(size_t)-1, "30 ff ff ff 7f"},
		{1024, "30 07 00 03 'a/b' 'h'"},
		{1024, "10 11 00 04 'MQTX'"}, /* the body is judged once whole */
		{1024, "82 08 00 00"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t b[64];
		size_t n = hx(cases[i].hex, b, sizeof b), used = 99;
		struct mqtt_packet p;
		const char *why = NULL;

		if (dec(S, b, n, cases[i].max, &p, &used, &why, NULL) != MQTT_NEED_MORE)
			t_fail(__FILE__, __LINE__, "cases[%zu] \"%s\": %s", i, cases[i].hex, why ? why : "ok");
		CHECK_INT(used, 0);
		CHECK(why == NULL);
	}
	/* NULL used and why are allowed. */
	struct mqtt_packet p;
	CHECK_INT(mqtt_decode((const uint8_t *)"\xc0", 1, 10, &p, NULL, NULL), MQTT_NEED_MORE);
	CHECK_INT(mqtt_decode((const uint8_t *)"\xc0\x00", 2, 10, &p, NULL, NULL), MQTT_OK);
	CHECK_INT(mqtt_decode((const uint8_t *)"\x20", 1, 10, &p, NULL, NULL), MQTT_BAD);
	CHECK_INT(mqtt_decode(NULL, 0, 10, &p, NULL, NULL), MQTT_NEED_MORE);
}

TEST(mqtt_decode_connect_fields)
{
	uint8_t b[256];
	size_t n, used;
	struct mqtt_packet p;
	const char *why;

	n = hx("10 37 00 04 'MQTT' 04 ec 01 2c 00 05 'term1' 00 0f 'gh/v1/t1/status' 00 07 'offline' "
	       "00 05 'alice' 00 03 01 02 03",
	       b, sizeof b);
	CHECK_INT(dec(S, b, n, 1024, &p, &used, &why, NULL), MQTT_OK);
	struct mqtt_connect *c = &p.u.connect;
	CHECK_INT(p.type, MQTT_CONNECT);
	CHECK_INT(c->protocol_level, 4);
	CHECK_INT(c->clean_session, 0);
	CHECK_INT(c->keepalive, 300);
	CHECK_INT(c->will, 1);
	CHECK_INT(c->will_qos, 1);
	CHECK_INT(c->will_retain, 1);
	CHECK_INT(c->has_username, 1);
	CHECK_INT(c->has_password, 1);
	/* Fields point into the caller's buffer (dec copies: check offsets
	 * against a direct decode). */
	CHECK_INT(mqtt_decode(b, n, 1024, &p, &used, &why), MQTT_OK);
	CHECK(c->client_id.p == (const char *)b + 14);
	CHECK_MSTR(c->client_id, "term1");
	CHECK_MSTR(c->will_topic, "gh/v1/t1/status");
	CHECK_MSTR(c->will_payload, "offline");
	CHECK_MSTR(c->username, "alice");
	CHECK_INT(c->password.len, 3);
	CHECK(memcmp(c->password.p, "\x01\x02\x03", 3) == 0);

	n = hx("10 11 00 04 'MQTT' 04 02 00 3c 00 05 'term1'", b, sizeof b);
	CHECK_INT(mqtt_decode(b, n, 1024, &p, &used, &why), MQTT_OK);
	CHECK_INT(c->clean_session, 1);
	CHECK_INT(c->keepalive, 60);
	CHECK_INT(c->will, 0);
	CHECK_INT(c->has_username, 0);
	CHECK_INT(c->has_password, 0);
	CHECK(c->will_topic.p == NULL && c->username.p == NULL && c->password.p == NULL);

	/* Username with an empty password; empty client id with clean session. */
	n = hx("10 11 00 04 'MQTT' 04 c2 00 3c 00 01 't' 00 00 00 00", b, sizeof b);
	CHECK_INT(mqtt_decode(b, n, 1024, &p, &used, &why), MQTT_OK);
	CHECK_INT(c->has_username && c->has_password, 1);
	CHECK_INT(c->username.len + c->password.len, 0);
	n = hx("10 0c 00 04 'MQTT' 04 02 00 00 00 00", b, sizeof b);
	CHECK_INT(mqtt_decode(b, n, 1024, &p, &used, &why), MQTT_OK);
	CHECK_INT(c->client_id.len, 0);

	/* The protocol level is reported, and the why says to answer 0x01. */
	n = hx("10 12 00 04 'MQTT' 05 02 00 3c 00 00 05 'term1'", b, sizeof b);
	CHECK_INT(mqtt_decode(b, n, 1024, &p, &used, &why), MQTT_BAD);
	CHECK_INT(p.u.connect.protocol_level, 5);
	CHECK(strncmp(why, "unsupported protocol level", 26) == 0);
	CHECK_CONTAINS(why, "CONNACK 0x01");
	n = hx("10 11 00 04 'MQTX' 04 02 00 3c 00 05 'term1'", b, sizeof b);
	CHECK_INT(mqtt_decode(b, n, 1024, &p, &used, &why), MQTT_BAD);
	CHECK(strncmp(why, "unsupported protocol level", 26) != 0);
}

TEST(mqtt_decode_client_id_lengths)
{
	uint8_t b[300];
	struct mqtt_packet p;
	size_t used;
	const char *why;

	for (size_t idlen = 0; idlen <= 200; idlen++) {
		size_t rl = 12 + idlen, n = 0;

		b[n++] = 0x10;
		if (rl > 127) {
			b[n++] = (uint8_t)(rl % 128 | 0x80);
			b[n++] = (uint8_t)(rl / 128);
		} else {
			b[n++] = (uint8_t)rl;
		}
		n += hx("00 04 'MQTT' 04 02 00 3c", b + n, sizeof b - n);
		b[n++] = 0;
		b[n++] = (uint8_t)idlen;
		memset(b + n, 'x', idlen);
		n += idlen;
		enum mqtt_decode_result r = dec(S, b, n, 1024, &p, &used, &why, NULL);
		if (idlen <= 128) {
			CHECK_INT(r, MQTT_OK);
			CHECK_INT(used, n);
			CHECK_INT(p.u.connect.client_id.len, idlen);
		} else {
			CHECK_INT(r, MQTT_BAD);
			CHECK(why && strncmp(why, "identifier rejected", 19) == 0);
			CHECK_CONTAINS(why, "CONNACK 0x02");
		}
	}
}

TEST(mqtt_decode_publish_fields)
{
	uint8_t b[256];
	size_t n, used;
	struct mqtt_packet p;
	const char *why;

	n = hx("3b 0b 00 03 'a/b' 12 34 'ping'", b, sizeof b);
	CHECK_INT(mqtt_decode(b, n, 1024, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.u.publish.dup, 1);
	CHECK_INT(p.u.publish.qos, 1);
	CHECK_INT(p.u.publish.retain, 1);
	CHECK_INT(p.u.publish.packet_id, 0x1234);
	CHECK_MSTR(p.u.publish.topic, "a/b");
	CHECK(p.u.publish.payload == b + 9);
	CHECK_INT(p.u.publish.payload_len, 4);

	n = hx("30 05 00 03 'a/b'", b, sizeof b);
	CHECK_INT(mqtt_decode(b, n, 1024, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.u.publish.qos + p.u.publish.dup + p.u.publish.retain + p.u.publish.packet_id, 0);
	CHECK_INT(p.u.publish.payload_len, 0);
	CHECK(p.u.publish.payload == b + n);

	/* A payload that needs a two-byte remaining length, and one of
	 * binary bytes (zeros included: the payload is not UTF-8). */
	uint8_t big[300];
	n = 0;
	big[n++] = 0x30;
	big[n++] = 0x80 | (205 % 128);
	big[n++] = 205 / 128;
	n += hx("00 03 'x/y'", big + n, sizeof big - n);
	for (int i = 0; i < 200; i++)
		big[n++] = (uint8_t)i;
	CHECK_INT(mqtt_decode(big, n, 1024, &p, &used, &why), MQTT_OK);
	CHECK_INT(used, 208);
	CHECK_INT(p.u.publish.payload_len, 200);
	CHECK_INT(p.u.publish.payload[0], 0);
	CHECK_INT(p.u.publish.payload[199], 199);
	CHECK_INT(mqtt_decode(big, n, 204, &p, &used, &why), MQTT_BAD);
	CHECK_CONTAINS(why, "larger than the maximum");
}

TEST(mqtt_decode_subscribe_fields)
{
	uint8_t b[512];
	size_t n, used;
	struct mqtt_packet p;
	const char *why;

	n = hx("82 0a 00 02 00 01 '#' 00 00 01 '+' 02", b, sizeof b);
	CHECK_INT(mqtt_decode(b, n, 1024, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.u.subscribe.packet_id, 2);
	CHECK_INT(p.u.subscribe.count, 2);
	CHECK_MSTR(p.u.subscribe.filters[0], "#");
	CHECK_MSTR(p.u.subscribe.filters[1], "+");
	CHECK_INT(p.u.subscribe.qos[0], 0);
	CHECK_INT(p.u.subscribe.qos[1], 2);

	n = hx("a2 0b 00 03 00 03 'a/b' 00 02 '+/'", b, sizeof b);
	CHECK_INT(mqtt_decode(b, n, 1024, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.u.subscribe.packet_id, 3);
	CHECK_INT(p.u.subscribe.count, 2);
	CHECK_MSTR(p.u.subscribe.filters[0], "a/b");
	CHECK_MSTR(p.u.subscribe.filters[1], "+/");
	CHECK_INT(p.u.subscribe.qos[0] + p.u.subscribe.qos[1], 0);

	/* MQTT_MAX_FILTERS filters are fine, one more is refused. */
	for (int count = MQTT_MAX_FILTERS; count <= MQTT_MAX_FILTERS + 1; count++) {
		size_t rl = 2 + (size_t)count * 6;

		n = 0;
		b[n++] = 0x82;
		b[n++] = (uint8_t)rl;
		b[n++] = 0;
		b[n++] = 9;
		for (int i = 0; i < count; i++)
			n += (size_t)snprintf((char *)b + n, sizeof b - n, "%c%c%c/%c%c", 0, 3, 'f', 'a' + i, 1) ;
		CHECK_INT(n, 2 + rl);
		enum mqtt_decode_result r = mqtt_decode(b, n, 1024, &p, &used, &why);
		if (count == MQTT_MAX_FILTERS) {
			CHECK_INT(r, MQTT_OK);
			CHECK_INT(p.u.subscribe.count, MQTT_MAX_FILTERS);
			CHECK_MSTR(p.u.subscribe.filters[MQTT_MAX_FILTERS - 1], "f/p");
			CHECK_INT(p.u.subscribe.qos[MQTT_MAX_FILTERS - 1], 1);
		} else {
			CHECK_INT(r, MQTT_BAD);
			CHECK_STR(why, "too many topic filters");
		}
		/* The same as UNSUBSCRIBE (no QoS bytes). */
		n = 0;
		b[n++] = 0xa2;
		b[n++] = (uint8_t)(2 + count * 5);
		b[n++] = 0;
		b[n++] = 9;
		for (int i = 0; i < count; i++)
			n += (size_t)snprintf((char *)b + n, sizeof b - n, "%c%cf/%c", 0, 3, 'a' + i);
		r = mqtt_decode(b, n, 1024, &p, &used, &why);
		if (count == MQTT_MAX_FILTERS) {
			CHECK_INT(r, MQTT_OK);
			CHECK_INT(p.u.subscribe.count, MQTT_MAX_FILTERS);
		} else {
			CHECK_INT(r, MQTT_BAD);
			CHECK_STR(why, "too many topic filters");
		}
	}
}

TEST(mqtt_decode_server_packets_fields)
{
	uint8_t b[64];
	size_t n, used;
	struct mqtt_packet p;
	const char *why;

	/* CONNACK: u.packet_id is the variable header, session present in
	 * the high byte and the return code in the low one. */
	n = hx("20 02 01 00", b, sizeof b);
	CHECK_INT(mqtt_decode_from_server(b, n, 64, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.u.packet_id >> 8, 1);
	CHECK_INT(p.u.packet_id & 0xFF, 0);
	n = hx("20 02 00 04", b, sizeof b);
	CHECK_INT(mqtt_decode_from_server(b, n, 64, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.u.packet_id, MQTT_CONNACK_BAD_CREDENTIALS);
	/* SUBACK: packet id, and the return codes in u.subscribe.qos. */
	n = hx("90 05 00 02 00 01 80", b, sizeof b);
	CHECK_INT(mqtt_decode_from_server(b, n, 64, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.u.subscribe.packet_id, 2);
	CHECK_INT(p.u.subscribe.count, 3);
	CHECK_INT(p.u.subscribe.qos[0], 0);
	CHECK_INT(p.u.subscribe.qos[1], 1);
	CHECK_INT(p.u.subscribe.qos[2], 0x80);
	n = hx("b0 02 01 02", b, sizeof b);
	CHECK_INT(mqtt_decode_from_server(b, n, 64, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.u.packet_id, 0x0102);
	n = hx("40 02 00 09", b, sizeof b);
	CHECK_INT(mqtt_decode_from_server(b, n, 64, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.u.packet_id, 9);
	/* More return codes than filters can be asked for at once. */
	n = 0;
	b[n++] = 0x90;
	b[n++] = 2 + MQTT_MAX_FILTERS + 1;
	b[n++] = 0;
	b[n++] = 1;
	memset(b + n, 1, MQTT_MAX_FILTERS + 1);
	n += MQTT_MAX_FILTERS + 1;
	CHECK_INT(mqtt_decode_from_server(b, n, 64, &p, &used, &why), MQTT_BAD);
	CHECK_CONTAINS(why, "too many SUBACK return codes");
	b[1]--;
	CHECK_INT(mqtt_decode_from_server(b, n - 1, 64, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.u.subscribe.count, MQTT_MAX_FILTERS);
}

TEST(mqtt_decode_back_to_back_packets)
{
	uint8_t b[256];
	size_t n = hx("10 11 00 04 'MQTT' 04 02 00 3c 00 05 'term1'"
		      "32 0f 00 09 'gh/v1/t/e' 00 01 'hi'"
		      "82 0e 00 02 00 09 'gh/v1/+/#' 01"
		      "c0 00 e0 00 30 07 00 03",
		      b, sizeof b);
	static const enum mqtt_type want[] = {MQTT_CONNECT, MQTT_PUBLISH, MQTT_SUBSCRIBE, MQTT_PINGREQ,
					      MQTT_DISCONNECT};
	struct mqtt_packet p;
	size_t off = 0, used;
	const char *why;

	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		if (mqtt_decode(b + off, n - off, 1024, &p, &used, &why) != MQTT_OK) {
			t_fail(__FILE__, __LINE__, "packet %zu: %s", i, why ? why : "need more");
			return;
		}
		CHECK_INT(p.type, want[i]);
		if (p.type == MQTT_CONNECT)
			CHECK_MSTR(p.u.connect.client_id, "term1");
		if (p.type == MQTT_PUBLISH) {
			CHECK_MSTR(p.u.publish.topic, "gh/v1/t/e");
			CHECK_INT(p.u.publish.payload_len, 2);
			CHECK(memcmp(p.u.publish.payload, "hi", 2) == 0);
		}
		if (p.type == MQTT_SUBSCRIBE)
			CHECK_MSTR(p.u.subscribe.filters[0], "gh/v1/+/#");
		off += used;
	}
	CHECK_INT(off, n - 4);
	/* The last one is cut short. */
	CHECK_INT(mqtt_decode(b + off, n - off, 1024, &p, &used, &why), MQTT_NEED_MORE);
}

/* --- encoders ---------------------------------------------------------------- */

/* Every capacity below the needed size gives 0 and leaves out untouched;
 * the needed size gives the same bytes. */
#define CHECK_CAPS(call_with_cap, want, wantlen)                                                \
	do {                                                                                   \
		for (size_t cap_ = 0; cap_ <= (wantlen); cap_++) {                             \
			uint8_t o_[600];                                                       \
			memset(o_, 0xAA, sizeof o_);                                           \
			uint8_t *out = o_;                                                     \
			size_t cap = cap_;                                                     \
			size_t got_ = (call_with_cap);                                         \
			if (cap_ < (wantlen)) {                                                \
				CHECK_INT(got_, 0);                                            \
				for (size_t k_ = 0; k_ < sizeof o_; k_++)                      \
					if (o_[k_] != 0xAA) {                                  \
						t_fail(__FILE__, __LINE__, "wrote at cap %zu", cap_); \
						break;                                         \
					}                                                      \
			} else {                                                               \
				CHECK_INT(got_, (wantlen));                                    \
				CHECK(memcmp(o_, (want), (wantlen)) == 0);                     \
				CHECK_INT(o_[(wantlen)], 0xAA);                                \
			}                                                                      \
		}                                                                              \
	} while (0)

TEST(mqtt_encode_exact_bytes_and_capacity)
{
	uint8_t w[600];
	size_t n;
	static const uint8_t codes[] = {1, 0, 0x80};

	n = hx("20 02 00 00", w, sizeof w);
	CHECK_CAPS(mqtt_encode_connack(out, cap, 0, 0), w, n);
	n = hx("20 02 01 00", w, sizeof w);
	CHECK_CAPS(mqtt_encode_connack(out, cap, 7, 0), w, n);
	n = hx("20 02 00 05", w, sizeof w);
	CHECK_CAPS(mqtt_encode_connack(out, cap, 0, MQTT_CONNACK_NOT_AUTHORIZED), w, n);
	n = hx("40 02 12 34", w, sizeof w);
	CHECK_CAPS(mqtt_encode_puback(out, cap, 0x1234), w, n);
	n = hx("90 05 00 09 01 00 80", w, sizeof w);
	CHECK_CAPS(mqtt_encode_suback(out, cap, 9, codes, 3), w, n);
	n = hx("b0 02 ff fe", w, sizeof w);
	CHECK_CAPS(mqtt_encode_unsuback(out, cap, 0xfffe), w, n);
	n = hx("d0 00", w, sizeof w);
	CHECK_CAPS(mqtt_encode_pingresp(out, cap), w, n);
	n = hx("c0 00", w, sizeof w);
	CHECK_CAPS(mqtt_encode_pingreq(out, cap), w, n);
	n = hx("e0 00", w, sizeof w);
	CHECK_CAPS(mqtt_encode_disconnect(out, cap), w, n);
	n = hx("30 07 00 03 'a/b' 'hi'", w, sizeof w);
	CHECK_CAPS(mqtt_encode_publish(out, cap, "a/bc", 3, 0, 77, 0, "hi", 2), w, n);
	n = hx("33 0b 00 03 'a/b' 00 07 'ping'", w, sizeof w);
	CHECK_CAPS(mqtt_encode_publish(out, cap, "a/b", 3, 1, 7, 1, "ping", 4), w, n);
	n = hx("30 05 00 03 'a/b'", w, sizeof w);
	CHECK_CAPS(mqtt_encode_publish(out, cap, "a/b", 3, 0, 0, 0, NULL, 0), w, n);
	n = hx("10 11 00 04 'MQTT' 04 02 00 3c 00 05 'term1'", w, sizeof w);
	CHECK_CAPS(mqtt_encode_connect(out, cap, "term1", 60, NULL, NULL, 0), w, n);
	n = hx("10 22 00 04 'MQTT' 04 06 01 2c 00 05 'term1' 00 06 'a/will' 00 07 'offline'", w, sizeof w);
	CHECK_CAPS(mqtt_encode_connect(out, cap, "term1", 300, "a/will", "offline", 7), w, n);
	n = hx("82 0e 00 01 00 09 'gh/v1/+/#' 01", w, sizeof w);
	CHECK_CAPS(mqtt_encode_subscribe(out, cap, 1, "gh/v1/+/#", 1), w, n);

	/* Remaining length boundaries: 127 | 128 and 16383 | 16384 bytes. */
	static uint8_t payload[2100000];
	static uint8_t big[2100010];
	static const struct {
		size_t rl;
		const char *header;
	} lens[] = {
		{127, "30 7f"},
		{128, "30 80 01"},
		{16383, "30 ff 7f"},
		{16384, "30 80 80 01"},
		{2097151, "30 ff ff 7f"},
		{2097152, "30 80 80 80 01"},
	};
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		size_t pl = lens[i].rl - 5, hl = hx(lens[i].header, w, sizeof w);
		struct mqtt_packet p;
		size_t used;
		const char *why;

		n = mqtt_encode_publish(big, sizeof big, "a/b", 3, 0, 0, 0, payload, pl);
		CHECK_INT(n, hl + lens[i].rl);
		CHECK(memcmp(big, w, hl) == 0);
		CHECK_INT(mqtt_encode_publish(big, n - 1, "a/b", 3, 0, 0, 0, payload, pl), 0);
		CHECK_INT(mqtt_decode(big, n, 268435455, &p, &used, &why), MQTT_OK);
		CHECK_INT(used, n);
		CHECK_INT(p.u.publish.payload_len, pl);
	}
}

TEST(mqtt_encode_refuses_invalid_arguments)
{
	uint8_t o[512];
	static const uint8_t good[] = {0, 1, 2}, reserved[] = {0, 3}, many[MQTT_MAX_FILTERS + 1] = {0};
	char id[140];

	CHECK_INT(mqtt_encode_connack(o, sizeof o, 0, 6), 0);
	CHECK_INT(mqtt_encode_connack(o, sizeof o, 1, MQTT_CONNACK_BAD_PROTOCOL), 0);
	CHECK_INT(mqtt_encode_puback(o, sizeof o, 0), 0);
	CHECK_INT(mqtt_encode_unsuback(o, sizeof o, 0), 0);
	CHECK_INT(mqtt_encode_suback(o, sizeof o, 0, good, 3), 0);
	CHECK_INT(mqtt_encode_suback(o, sizeof o, 1, good, 0), 0);
	CHECK_INT(mqtt_encode_suback(o, sizeof o, 1, NULL, 1), 0);
	CHECK_INT(mqtt_encode_suback(o, sizeof o, 1, reserved, 2), 0);
	CHECK_INT(mqtt_encode_suback(o, sizeof o, 1, many, MQTT_MAX_FILTERS + 1), 0);
	CHECK(mqtt_encode_suback(o, sizeof o, 1, many, MQTT_MAX_FILTERS) > 0);
	CHECK_INT(mqtt_encode_publish(o, sizeof o, "a/b", 3, 2, 1, 0, "x", 1), 0);
	CHECK_INT(mqtt_encode_publish(o, sizeof o, "a/b", 3, 3, 1, 0, "x", 1), 0);
	CHECK_INT(mqtt_encode_publish(o, sizeof o, "a/b", 3, -1, 1, 0, "x", 1), 0);
	CHECK_INT(mqtt_encode_publish(o, sizeof o, "a/b", 3, 1, 0, 0, "x", 1), 0);
	CHECK_INT(mqtt_encode_publish(o, sizeof o, "a/+", 3, 0, 0, 0, "x", 1), 0);
	CHECK_INT(mqtt_encode_publish(o, sizeof o, "#", 1, 0, 0, 0, "x", 1), 0);
	CHECK_INT(mqtt_encode_publish(o, sizeof o, "", 0, 0, 0, 0, "x", 1), 0);
	CHECK_INT(mqtt_encode_publish(o, sizeof o, NULL, 0, 0, 0, 0, "x", 1), 0);
	CHECK_INT(mqtt_encode_publish(o, sizeof o, "a\0b", 3, 0, 0, 0, "x", 1), 0);
	CHECK_INT(mqtt_encode_publish(o, sizeof o, "a\xffz", 3, 0, 0, 0, "x", 1), 0);
	CHECK_INT(mqtt_encode_publish(o, sizeof o, "a/b", 3, 0, 0, 0, NULL, 1), 0);
	CHECK_INT(mqtt_encode_publish(o, sizeof o, "a/b", 3, 0, 0, 0, "x", (size_t)-1), 0);
	CHECK_INT(mqtt_encode_publish(o, sizeof o, "a/b", 3, 0, 0, 0, "x", 268435455 - 4), 0);
	memset(id, 'x', sizeof id);
	id[129] = '\0';
	CHECK_INT(mqtt_encode_connect(o, sizeof o, id, 60, NULL, NULL, 0), 0);
	id[128] = '\0';
	CHECK(mqtt_encode_connect(o, sizeof o, id, 60, NULL, NULL, 0) > 0);
	CHECK_INT(mqtt_encode_connect(o, sizeof o, "t\xc0\x80", 60, NULL, NULL, 0), 0);
	CHECK_INT(mqtt_encode_connect(o, sizeof o, "t", 60, "a/#", "x", 1), 0);
	CHECK_INT(mqtt_encode_connect(o, sizeof o, "t", 60, "", "x", 1), 0);
	CHECK_INT(mqtt_encode_connect(o, sizeof o, "t", 60, "a", NULL, 1), 0);
	CHECK_INT(mqtt_encode_connect(o, sizeof o, "t", 60, "a", "x", 65536), 0);
	CHECK_INT(mqtt_encode_subscribe(o, sizeof o, 0, "a", 0), 0);
	CHECK_INT(mqtt_encode_subscribe(o, sizeof o, 1, "a", 3), 0);
	CHECK_INT(mqtt_encode_subscribe(o, sizeof o, 1, "a", -1), 0);
	CHECK_INT(mqtt_encode_subscribe(o, sizeof o, 1, "", 0), 0);
	CHECK_INT(mqtt_encode_subscribe(o, sizeof o, 1, "a/#/b", 0), 0);
	CHECK_INT(mqtt_encode_subscribe(o, sizeof o, 1, "a+", 0), 0);
	CHECK_INT(mqtt_encode_subscribe(o, sizeof o, 1, NULL, 0), 0);
	CHECK_INT(mqtt_encode_subscribe(o, 0, 1, "a", 0), 0);
	CHECK_INT(mqtt_encode_pingreq(NULL, 0), 0);
}

TEST(mqtt_encode_decode_round_trips)
{
	uint8_t o[512];
	struct mqtt_packet p;
	size_t n, used;
	const char *why;

	/* Appliance to terminal. */
	for (int sp = 0; sp <= 1; sp++)
		for (int rc = 0; rc <= 5; rc++) {
			n = mqtt_encode_connack(o, sizeof o, sp, (uint8_t)rc);
			if (sp && rc) {
				CHECK_INT(n, 0);
				continue;
			}
			CHECK_INT(mqtt_decode_from_server(o, n, 16, &p, &used, &why), MQTT_OK);
			CHECK_INT(used, n);
			CHECK_INT(p.type, MQTT_CONNACK);
			CHECK_INT(p.u.packet_id, sp << 8 | rc);
			/* A terminal never sends one. */
			CHECK_INT(mqtt_decode(o, n, 16, &p, &used, &why), MQTT_BAD);
		}
	n = mqtt_encode_puback(o, sizeof o, 65535);
	CHECK_INT(mqtt_decode_from_server(o, n, 16, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.type == MQTT_PUBACK && p.u.packet_id == 65535, 1);
	CHECK_INT(mqtt_decode(o, n, 16, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.type == MQTT_PUBACK && p.u.packet_id == 65535, 1);

	static const uint8_t codes[] = {0, 1, 2, 0x80};
	n = mqtt_encode_suback(o, sizeof o, 42, codes, 4);
	CHECK_INT(mqtt_decode_from_server(o, n, 64, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.type, MQTT_SUBACK);
	CHECK_INT(p.u.subscribe.packet_id, 42);
	CHECK_INT(p.u.subscribe.count, 4);
	for (int i = 0; i < 4; i++)
		CHECK_INT(p.u.subscribe.qos[i], codes[i]);
	n = mqtt_encode_unsuback(o, sizeof o, 43);
	CHECK_INT(mqtt_decode_from_server(o, n, 64, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.type == MQTT_UNSUBACK && p.u.packet_id == 43, 1);
	n = mqtt_encode_pingresp(o, sizeof o);
	CHECK_INT(mqtt_decode_from_server(o, n, 0, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.type, MQTT_PINGRESP);

	for (int qos = 0; qos <= 1; qos++)
		for (int retain = 0; retain <= 1; retain++) {
			const char *topic = "gh/v1/term1/cmd/\xc3\xa9";

			n = mqtt_encode_publish(o, sizeof o, topic, strlen(topic), qos, 500, retain, "open\0door", 9);
			for (int dir = S; dir <= C; dir++) {
				CHECK_INT(dir == S ? mqtt_decode(o, n, 64, &p, &used, &why)
						   : mqtt_decode_from_server(o, n, 64, &p, &used, &why),
					  MQTT_OK);
				CHECK_INT(used, n);
				CHECK_INT(p.type, MQTT_PUBLISH);
				CHECK_MSTR(p.u.publish.topic, topic);
				CHECK_INT(p.u.publish.qos, qos);
				CHECK_INT(p.u.publish.retain, retain);
				CHECK_INT(p.u.publish.dup, 0);
				CHECK_INT(p.u.publish.packet_id, qos ? 500 : 0);
				CHECK_INT(p.u.publish.payload_len, 9);
				CHECK(memcmp(p.u.publish.payload, "open\0door", 9) == 0);
			}
		}

	/* Terminal to appliance. */
	n = mqtt_encode_connect(o, sizeof o, "term1", 45, NULL, NULL, 0);
	CHECK_INT(mqtt_decode(o, n, 64, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.type, MQTT_CONNECT);
	CHECK_INT(p.u.connect.protocol_level, 4);
	CHECK_INT(p.u.connect.clean_session, 1);
	CHECK_INT(p.u.connect.keepalive, 45);
	CHECK_MSTR(p.u.connect.client_id, "term1");
	CHECK_INT(p.u.connect.will + p.u.connect.has_username + p.u.connect.has_password, 0);
	CHECK_INT(mqtt_decode_from_server(o, n, 64, &p, &used, &why), MQTT_BAD);

	n = mqtt_encode_connect(o, sizeof o, NULL, 0, "gh/v1/term1/status", "\0off", 4);
	CHECK_INT(mqtt_decode(o, n, 64, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.u.connect.client_id.len, 0);
	CHECK_INT(p.u.connect.keepalive, 0);
	CHECK_INT(p.u.connect.will, 1);
	CHECK_INT(p.u.connect.will_qos + p.u.connect.will_retain, 0);
	CHECK_MSTR(p.u.connect.will_topic, "gh/v1/term1/status");
	CHECK_INT(p.u.connect.will_payload.len, 4);
	CHECK(memcmp(p.u.connect.will_payload.p, "\0off", 4) == 0);
	n = mqtt_encode_connect(o, sizeof o, "t", 1, "w", NULL, 0);
	CHECK_INT(mqtt_decode(o, n, 64, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.u.connect.will_payload.len, 0);

	for (int qos = 0; qos <= 2; qos++) {
		n = mqtt_encode_subscribe(o, sizeof o, 7, "gh/v1/term1/cmd/#", qos);
		CHECK_INT(mqtt_decode(o, n, 64, &p, &used, &why), MQTT_OK);
		CHECK_INT(p.type, MQTT_SUBSCRIBE);
		CHECK_INT(p.flags, 2);
		CHECK_INT(p.u.subscribe.packet_id, 7);
		CHECK_INT(p.u.subscribe.count, 1);
		CHECK_MSTR(p.u.subscribe.filters[0], "gh/v1/term1/cmd/#");
		CHECK_INT(p.u.subscribe.qos[0], qos);
	}
	n = mqtt_encode_pingreq(o, sizeof o);
	CHECK_INT(mqtt_decode(o, n, 0, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.type, MQTT_PINGREQ);
	n = mqtt_encode_disconnect(o, sizeof o);
	CHECK_INT(mqtt_decode(o, n, 0, &p, &used, &why), MQTT_OK);
	CHECK_INT(p.type, MQTT_DISCONNECT);
}

/* --- topic matching ---------------------------------------------------------- */

TEST(mqtt_topic_matching_per_the_standard)
{
	static const struct {
		const char *filter, *topic;
		int match;
	} m[] = {
		/* 4.7.1.2: multi-level wildcard */
		{"sport/tennis/player1/#", "sport/tennis/player1", 1},
		{"sport/tennis/player1/#", "sport/tennis/player1/ranking", 1},
		{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", 1},
		{"sport/tennis/player1/#", "sport/tennis", 0},
		{"sport/tennis/player1/#", "sport/tennis/player2", 0},
		{"sport/#", "sport", 1},
		{"sport/#", "sport/", 1},
		{"sport/#", "sports", 0},
		{"#", "sport", 1},
		{"#", "sport/tennis/player1", 1},
		{"#", "/", 1},
		{"#", "/finance", 1},
		{"sport/tennis/#", "sport/tennis/player1/ranking", 1},
		{"sport/tennis#", "sport/tennis", 0},         /* invalid filter */
		{"sport/tennis/#/ranking", "sport/tennis/x/ranking", 0}, /* invalid filter */
		/* 4.7.1.3: single-level wildcard */
		{"sport/tennis/+", "sport/tennis/player1", 1},
		{"sport/tennis/+", "sport/tennis/player2", 1},
		{"sport/tennis/+", "sport/tennis/player1/ranking", 0},
		{"sport/+", "sport", 0},
		{"sport/+", "sport/", 1},
		{"+", "sport", 1},
		{"+/tennis/#", "sport/tennis/player1", 1},
		{"+/tennis/#", "sport/tennis", 1},
		{"sport+", "sport", 0},                       /* invalid filter */
		{"+/+", "/finance", 1},
		{"/+", "/finance", 1},
		{"+", "/finance", 0},
		{"+/#", "a", 1},
		{"+/+/+", "a/b", 0},
		{"a/+/b", "a//b", 1},
		{"+/+", "/", 1},
		{"+", "/", 0},
		/* 4.7.2: topics beginning with $ */
		{"#", "$SYS/monitor/Clients", 0},
		{"#", "$SYS", 0},
		{"+/monitor/Clients", "$SYS/monitor/Clients", 0},
		{"+", "$SYS", 0},
		{"$SYS/#", "$SYS/monitor/Clients", 1},
		{"$SYS/#", "$SYS", 1},
		{"$SYS/monitor/+", "$SYS/monitor/Clients", 1},
		{"$SYS/monitor/Clients", "$SYS/monitor/Clients", 1},
		{"a/$SYS/+", "a/$SYS/b", 1},
		{"+/$x", "a/$x", 1},
		/* 4.7.3: case, spaces, leading and trailing '/' are significant */
		{"ACCOUNTS", "Accounts", 0},
		{"Accounts payable", "Accounts payable", 1},
		{"/finance", "finance", 0},
		{"finance", "/finance", 0},
		{"a/b", "a/b", 1},
		{"a/b", "a/bc", 0},
		{"a/bc", "a/b", 0},
		{"a/b", "a/b/", 0},
		{"a/b/", "a/b/", 1},
		{"a/b/", "a/b", 0},
		{"/", "/", 1},
		{"//", "/", 0},
		{"gh/v1/+/events", "gh/v1/term1/events", 1},
		{"gh/v1/+/events", "gh/v1/term1/events/x", 0},
		/* Not a topic name, or empty. */
		{"#", "a/+", 0},
		{"a/#", "a/#", 0},
		{"", "a", 0},
		{"a", "", 0},
	};
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
		if (mqtt_topic_matches(m[i].filter, strlen(m[i].filter), m[i].topic, strlen(m[i].topic)) !=
		    m[i].match)
			t_fail(__FILE__, __LINE__, "filter \"%s\" topic \"%s\": expected %d", m[i].filter,
			       m[i].topic, m[i].match);
	/* Lengths are honoured: the strings need not be NUL-terminated. */
	CHECK_INT(mqtt_topic_matches("a/b/c", 3, "a/bXYZ", 3), 1);
	CHECK_INT(mqtt_topic_matches("a/#xyz", 3, "a/b/c", 5), 1);
	CHECK_INT(mqtt_topic_matches("a/+", 3, "a/b/c", 3), 1);
	CHECK_INT(mqtt_topic_matches(NULL, 0, "a", 1), 0);
}

/* --- mosquitto's own clients against a scripted listener ---------------------- */

static int in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[512];

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, prog);
		if (n && access(buf, X_OK) == 0)
			return 1;
		path += n;
		if (*path == ':')
			path++;
	}
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct conn {
	int fd;
	uint8_t buf[4096];
	size_t have, used;
};

/* The next packet from the client, waiting up to 5 s; pkt points into
 * c->buf until conn_next is called again. -1 on EOF, time-out or error. */
static int conn_next(struct conn *c, struct mqtt_packet *pkt)
{
	long long deadline = now_ms() + 5000;
	const char *why = NULL;

	memmove(c->buf, c->buf + c->used, c->have - c->used);
	c->have -= c->used;
	c->used = 0;
	for (;;) {
		enum mqtt_decode_result r = mqtt_decode(c->buf, c->have, sizeof c->buf, pkt, &c->used, &why);
		struct pollfd pfd = {c->fd, POLLIN, 0};
		long long left = deadline - now_ms();
		ssize_t k;

		if (r == MQTT_OK)
			return 0;
		if (r == MQTT_BAD) {
			t_fail(__FILE__, __LINE__, "mosquitto sent a packet we refuse: %s", why);
			return -1;
		}
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return -1;
		k = read(c->fd, c->buf + c->have, sizeof c->buf - c->have);
		if (k <= 0)
			return -1;
		c->have += (size_t)k;
	}
}

static void conn_send(struct conn *c, const uint8_t *p, size_t n)
{
	if (n == 0 || send(c->fd, p, n, MSG_NOSIGNAL) != (ssize_t)n)
		t_fail(__FILE__, __LINE__, "send of %zu bytes failed", n);
}

/* Start argv with a listener on 127.0.0.1 (port substituted for "PORT"),
 * accept its connection; the child's stdout goes to *out_fd. */
static pid_t spawn_client(char **argv, int *listen_fd, struct conn *c, int *out_fd)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	char port[16];
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), pfd[2];
	pid_t pid;

	*listen_fd = lfd;
	c->fd = -1;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0 || pipe2(pfd, O_CLOEXEC) < 0) {
		t_fail(__FILE__, __LINE__, "listener: %s", strerror(errno));
		return -1;
	}
	snprintf(port, sizeof port, "%u", ntohs(a.sin_port));
	for (int i = 0; argv[i]; i++)
		if (strcmp(argv[i], "PORT") == 0)
			argv[i] = port;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	*out_fd = pfd[0];
	if (pid < 0) {
		t_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
		return -1;
	}
	struct pollfd p = {lfd, POLLIN, 0};
	if (poll(&p, 1, 5000) != 1 || (c->fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		t_fail(__FILE__, __LINE__, "%s did not connect", argv[0]);
	return pid;
}

/* Wait up to 5 s for the child to exit; its exit status, or -1 (then it is
 * killed). */
static int finish_client(pid_t pid, int lfd, struct conn *c, int out_fd)
{
	int status = 0;
	long long deadline = now_ms() + 5000;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 || now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			status = -1;
			break;
		}
		usleep(10000);
	}
	if (c->fd >= 0)
		close(c->fd);
	close(lfd);
	close(out_fd);
	return status == -1 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(mqtt_mosquitto_pub_is_understood)
{
	if (!in_path("mosquitto_pub")) {
		printf("# mosquitto_pub not installed (Debian package mosquitto-clients): skipped\n");
		return;
	}
	for (int variant = 0; variant < 2; variant++) {
		char *plain[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", "PORT", "-t", "gh/v1/x/events",
				 "-m", "hello", "-q", "1", "-i", "term1", NULL};
		char *full[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", "PORT", "-t", "gh/v1/x/events", "-m",
				"hello", "-q", "1", "-i", "term1", "-u", "alice", "-P", "s3cret", "-k", "30",
				"-c", "-r", "--will-topic", "gh/v1/x/status", "--will-payload", "offline",
				"--will-qos", "1", "--will-retain", NULL};
		struct conn c = {0};
		struct mqtt_packet p;
		uint8_t o[16];
		int lfd, out;
		pid_t pid = spawn_client(variant ? full : plain, &lfd, &c, &out);

		if (pid < 0 || c.fd < 0)
			return;
		if (conn_next(&c, &p) < 0 || p.type != MQTT_CONNECT) {
			t_fail(__FILE__, __LINE__, "variant %d: no CONNECT", variant);
		} else {
			struct mqtt_connect *k = &p.u.connect;

			CHECK_INT(k->protocol_level, 4);
			CHECK_MSTR(k->client_id, "term1");
			if (variant == 0) {
				CHECK_INT(k->clean_session, 1);
				CHECK_INT(k->keepalive, 60);
				CHECK_INT(k->will + k->has_username + k->has_password, 0);
			} else {
				CHECK_INT(k->clean_session, 0);
				CHECK_INT(k->keepalive, 30);
				CHECK_INT(k->will, 1);
				CHECK_INT(k->will_qos, 1);
				CHECK_INT(k->will_retain, 1);
				CHECK_MSTR(k->will_topic, "gh/v1/x/status");
				CHECK_MSTR(k->will_payload, "offline");
				CHECK_INT(k->has_username && k->has_password, 1);
				CHECK_MSTR(k->username, "alice");
				CHECK_MSTR(k->password, "s3cret");
			}
			conn_send(&c, o, mqtt_encode_connack(o, sizeof o, 0, MQTT_CONNACK_ACCEPTED));
			if (conn_next(&c, &p) < 0 || p.type != MQTT_PUBLISH) {
				t_fail(__FILE__, __LINE__, "variant %d: no PUBLISH", variant);
			} else {
				CHECK_MSTR(p.u.publish.topic, "gh/v1/x/events");
				CHECK_INT(p.u.publish.qos, 1);
				CHECK_INT(p.u.publish.dup, 0);
				CHECK_INT(p.u.publish.retain, variant);
				CHECK(p.u.publish.packet_id != 0);
				CHECK_INT(p.u.publish.payload_len, 5);
				CHECK(memcmp(p.u.publish.payload, "hello", 5) == 0);
				conn_send(&c, o, mqtt_encode_puback(o, sizeof o, p.u.publish.packet_id));
				if (conn_next(&c, &p) < 0 || p.type != MQTT_DISCONNECT)
					t_fail(__FILE__, __LINE__, "variant %d: no DISCONNECT", variant);
			}
		}
		CHECK_INT(finish_client(pid, lfd, &c, out), 0);
	}
}

TEST(mqtt_mosquitto_sub_understands_our_packets)
{
	if (!in_path("mosquitto_sub")) {
		printf("# mosquitto_sub not installed (Debian package mosquitto-clients): skipped\n");
		return;
	}
	char *argv[] = {"mosquitto_sub", "-h", "127.0.0.1", "-p", "PORT", "-t", "gh/v1/term2/cmd/#", "-q", "1",
			"-C", "1", "-i", "term2", NULL};
	struct conn c = {0};
	struct mqtt_packet p;
	uint8_t o[128];
	int lfd, out, got_puback = 0;
	pid_t pid = spawn_client(argv, &lfd, &c, &out);
	char text[64] = "";

	if (pid < 0 || c.fd < 0)
		return;
	if (conn_next(&c, &p) < 0 || p.type != MQTT_CONNECT) {
		t_fail(__FILE__, __LINE__, "no CONNECT");
		goto done;
	}
	CHECK_MSTR(p.u.connect.client_id, "term2");
	conn_send(&c, o, mqtt_encode_connack(o, sizeof o, 0, MQTT_CONNACK_ACCEPTED));
	if (conn_next(&c, &p) < 0 || p.type != MQTT_SUBSCRIBE) {
		t_fail(__FILE__, __LINE__, "no SUBSCRIBE");
		goto done;
	}
	CHECK_INT(p.u.subscribe.count, 1);
	CHECK_MSTR(p.u.subscribe.filters[0], "gh/v1/term2/cmd/#");
	CHECK_INT(p.u.subscribe.qos[0], 1);
	uint8_t granted = 1;
	conn_send(&c, o, mqtt_encode_suback(o, sizeof o, p.u.subscribe.packet_id, &granted, 1));
	conn_send(&c, o, mqtt_encode_publish(o, sizeof o, "gh/v1/term2/cmd/open", 20, 1, 7, 0, "open", 4));
	/* PUBACK and DISCONNECT, in whichever order libmosquitto sends them. */
	while (conn_next(&c, &p) == 0) {
		if (p.type == MQTT_PUBACK && p.u.packet_id == 7)
			got_puback = 1;
		else if (p.type == MQTT_DISCONNECT)
			break;
		else
			t_fail(__FILE__, __LINE__, "unexpected packet type %d", p.type);
	}
	CHECK_INT(p.type, MQTT_DISCONNECT);
	CHECK(got_puback);
	struct pollfd pf = {out, POLLIN, 0};
	if (poll(&pf, 1, 5000) == 1) {
		ssize_t k = read(out, text, sizeof text - 1);
		text[k > 0 ? k : 0] = '\0';
	}
	CHECK_STR(text, "open\n");
done:
	CHECK_INT(finish_client(pid, lfd, &c, out), 0);
}
