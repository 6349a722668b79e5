/* mqtt: MQTT 3.1.1 packets (OASIS standard, 2014) as bytes on the wire:
 * decoding what a terminal sends and encoding what the appliance answers.
 * Pure functions over buffers, no I/O and no allocation: every decoded
 * string points into the caller's buffer. Everything outside the standard,
 * or outside what a terminal may send to the appliance, is refused with a
 * reason, so the connection can be closed with a logged cause.
 *
 * Limits: a packet's remaining length is at most the decoders' max_packet
 * (set by the caller, never more than the standard's 268,435,455); topic
 * filters per SUBSCRIBE or UNSUBSCRIBE at most MQTT_MAX_FILTERS. */
#ifndef GH_MQTT_H
#define GH_MQTT_H

#include <stddef.h>
#include <stdint.h>

enum mqtt_type {
	MQTT_CONNECT = 1,
	MQTT_CONNACK = 2,
	MQTT_PUBLISH = 3,
	MQTT_PUBACK = 4,
	MQTT_PUBREC = 5,
	MQTT_PUBREL = 6,
	MQTT_PUBCOMP = 7,
	MQTT_SUBSCRIBE = 8,
	MQTT_SUBACK = 9,
	MQTT_UNSUBSCRIBE = 10,
	MQTT_UNSUBACK = 11,
	MQTT_PINGREQ = 12,
	MQTT_PINGRESP = 13,
	MQTT_DISCONNECT = 14,
};

#define MQTT_MAX_FILTERS 16

struct mqtt_str {
	const char *p; /* not NUL-terminated */
	size_t len;
};

struct mqtt_connect {
	uint8_t protocol_level;  /* 4 for 3.1.1 */
	int clean_session;
	uint16_t keepalive;      /* seconds */
	struct mqtt_str client_id;
	int will;
	int will_qos, will_retain;
	struct mqtt_str will_topic, will_payload;
	int has_username, has_password;
	struct mqtt_str username, password;
};

struct mqtt_publish {
	int dup, qos, retain;
	struct mqtt_str topic;
	uint16_t packet_id;      /* qos > 0 */
	const uint8_t *payload;
	size_t payload_len;
};

struct mqtt_subscribe {
	uint16_t packet_id;
	int count;
	struct mqtt_str filters[MQTT_MAX_FILTERS];
	int qos[MQTT_MAX_FILTERS];  /* requested; for UNSUBSCRIBE unused */
};

/* A decoded packet. Fields a packet does not have are zero (NULL strings).
 * Server-to-client packets (mqtt_decode_from_server) reuse the members:
 *   CONNACK   u.packet_id = session_present << 8 | return_code (the two
 *             bytes of its variable header, read like a packet id)
 *   SUBACK    u.subscribe.packet_id, .count and .qos[] = the return codes
 *             (0, 1, 2 or 0x80 for failure); .filters unused
 *   UNSUBACK  u.packet_id */
struct mqtt_packet {
	enum mqtt_type type;
	uint8_t flags;           /* low nibble of the fixed header */
	union {
		struct mqtt_connect connect;
		struct mqtt_publish publish;
		struct mqtt_subscribe subscribe;   /* SUBSCRIBE and UNSUBSCRIBE (and SUBACK) */
		uint16_t packet_id;                /* PUBACK, UNSUBACK (and CONNACK, see above) */
	} u;
};

enum mqtt_decode_result {
	MQTT_NEED_MORE = 0,  /* not a whole packet yet */
	MQTT_OK = 1,
	MQTT_BAD = -1,       /* malformed or not allowed: close the connection */
};

/* Decode one packet from the start of buf (a packet sent by a terminal).
 * On MQTT_OK, *used is its size and the bytes after it are left alone (the
 * next packet). On MQTT_BAD, *why says what is wrong (a constant string);
 * otherwise *why is NULL, and *used is 0 unless MQTT_OK. used and why may
 * be NULL. *pkt is zeroed first; its strings point into buf.
 *
 * max_packet bounds the remaining length (at most 268,435,455 whatever is
 * passed): an oversized packet is MQTT_BAD as soon as its length bytes show
 * it, before the body arrives. The type and fixed-header flags are judged
 * on the first byte; the body only once the whole packet is in buf, so
 * every proper prefix of a valid packet is MQTT_NEED_MORE.
 *
 * Checks per 3.1.1: fixed-header flags for each type (PUBLISH: DUP/QoS/
 * RETAIN; SUBSCRIBE, UNSUBSCRIBE: 0010; others 0000); remaining length in
 * at most 4 bytes and minimally encoded (3.1.1 does not spell the latter
 * out, MQTT 5 does [MQTT-1.5.5-1]; every client encodes minimally);
 * the remaining length each type fixes (PINGREQ, DISCONNECT 0; PUBACK 2);
 * UTF-8 strings well-formed (no overlong forms, surrogates or code points
 * above U+10FFFF) and without U+0000 (other control characters are
 * accepted); the protocol name "MQTT" and level 4; CONNECT flags (reserved
 * bit 0, will QoS 0-2, will QoS and retain 0 without a will, password only
 * with a user name); client identifier 0 to 128 bytes, empty only with
 * clean session; QoS 0-1 with DUP only for QoS > 0; packet ids non-zero;
 * topic names (PUBLISH and will) non-empty without wildcards; topic filters
 * non-empty with '#' only as the whole last level and '+' only as a whole
 * level; 1 to MQTT_MAX_FILTERS filters ("too many topic filters" past
 * that); requested QoS bytes 0-2 with the upper bits zero; no trailing
 * bytes.
 *
 * Refused as a server: CONNACK, SUBACK, UNSUBACK, PINGRESP (server-to-client
 * types) and reserved types 0 and 15. QoS 2 is not supported: PUBLISH with
 * QoS 2, PUBREC, PUBREL and PUBCOMP are MQTT_BAD with a why containing "QoS
 * 2 is not supported" (terminals must use QoS 0 or 1). A SUBSCRIBE may
 * still request QoS 2 (grant at most 1 in the SUBACK) and a will may have
 * QoS 2 (the appliance only consumes it).
 *
 * Two refusals of a CONNECT are answered with a CONNACK before closing;
 * the caller tells them by the start of *why:
 *   "unsupported protocol level"  protocol name "MQTT" with a level other
 *        than 4, or "MQIsdp" (MQTT 3.1): send CONNACK 0x01 [MQTT-3.1.2-2]
 *        (pkt->u.connect.protocol_level holds the level)
 *   "identifier rejected"  empty client identifier without clean session,
 *        or longer than 128 bytes: send CONNACK 0x02 [MQTT-3.1.3-8, -9]
 * Any other MQTT_BAD (an unknown protocol name included) is closed without
 * a CONNACK.
 *
 * Not checked here (they need the connection's state): that the first
 * packet is a CONNECT and there is no second one [MQTT-3.1.0-1, -2], that
 * packet ids of QoS 1 messages in flight are unique, and keep-alive
 * timing. */
enum mqtt_decode_result mqtt_decode(const uint8_t *buf, size_t len, size_t max_packet,
				    struct mqtt_packet *pkt, size_t *used, const char **why);

/* Encoders: write into out (capacity cap) and return the length, or 0 if it
 * does not fit (out is then untouched) or the arguments make a packet the
 * decoders would refuse: a zero packet id, a CONNACK return code above 5 or
 * session present with a non-zero code, SUBACK codes other than 0, 1, 2,
 * 0x80 or a count outside 1..MQTT_MAX_FILTERS, PUBLISH QoS other than 0 or
 * 1, an empty or invalid topic name, filter or string. The remaining
 * length is encoded minimally.
 * mqtt_encode_publish: DUP is always 0; packet_id is ignored for QoS 0;
 * topic need not be NUL-terminated; payload may be NULL if payload_len 0. */
size_t mqtt_encode_connack(uint8_t *out, size_t cap, int session_present, uint8_t return_code);
size_t mqtt_encode_puback(uint8_t *out, size_t cap, uint16_t packet_id);
size_t mqtt_encode_suback(uint8_t *out, size_t cap, uint16_t packet_id, const uint8_t *codes, int count);
size_t mqtt_encode_unsuback(uint8_t *out, size_t cap, uint16_t packet_id);
size_t mqtt_encode_pingresp(uint8_t *out, size_t cap);
size_t mqtt_encode_publish(uint8_t *out, size_t cap, const char *topic, size_t topic_len, int qos,
			   uint16_t packet_id, int retain, const void *payload, size_t payload_len);
/* Client side (the terminal simulator). Strings are NUL-terminated.
 * mqtt_encode_connect: protocol "MQTT" level 4, clean session, no user
 * name or password; client_id NULL means "" (at most 128 bytes); a will
 * when will_topic is not NULL, with QoS 0 and no retain.
 * mqtt_encode_subscribe: one filter, requested QoS 0-2. */
size_t mqtt_encode_connect(uint8_t *out, size_t cap, const char *client_id, uint16_t keepalive,
			   const char *will_topic, const void *will_payload, size_t will_len);
size_t mqtt_encode_subscribe(uint8_t *out, size_t cap, uint16_t packet_id, const char *filter, int qos);
size_t mqtt_encode_pingreq(uint8_t *out, size_t cap);
size_t mqtt_encode_disconnect(uint8_t *out, size_t cap);

/* Does a topic name match a filter (with + and # wildcards)? As in 4.7:
 * "sport/#" matches "sport", "sport/+" matches "sport/" but not "sport",
 * "+" does not match "/finance", and a topic starting with '$' is not
 * matched by a filter starting with '#' or '+' [MQTT-4.7.2-1]. 0 when the
 * filter is not a valid filter or the topic not a valid topic name (empty,
 * or with a wildcard). The strings need not be NUL-terminated. */
int mqtt_topic_matches(const char *filter, size_t flen, const char *topic, size_t tlen);

/* Decoding server-to-client packets (the simulator): the same decoder and
 * contract as mqtt_decode, for the other direction. It accepts CONNACK
 * (reserved flags 0, return code 0-5, session present only with 0), SUBACK
 * (1 to MQTT_MAX_FILTERS codes, each 0, 1, 2 or 0x80), UNSUBACK, PINGRESP,
 * PUBLISH with QoS 0 or 1 and PUBACK (see struct mqtt_packet for where
 * their fields go), and refuses CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ,
 * DISCONNECT (client-to-server types), QoS 2 packets and reserved types. */
enum mqtt_decode_result mqtt_decode_from_server(const uint8_t *buf, size_t len, size_t max_packet,
						struct mqtt_packet *pkt, size_t *used, const char **why);

/* CONNACK return codes */
#define MQTT_CONNACK_ACCEPTED 0
#define MQTT_CONNACK_BAD_PROTOCOL 1
#define MQTT_CONNACK_ID_REJECTED 2
#define MQTT_CONNACK_UNAVAILABLE 3
#define MQTT_CONNACK_BAD_CREDENTIALS 4
#define MQTT_CONNACK_NOT_AUTHORIZED 5

#endif
