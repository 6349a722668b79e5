/* mqtt: MQTT 3.1.1 packets as bytes on the wire (see mqtt.h).
 *
 * Decoding is in two steps: the fixed header (type, flags, remaining length)
 * is checked byte by byte as it arrives, so a packet of a refused type, with
 * wrong flags or announcing more than max_packet bytes is refused before its
 * body is read; the body is parsed only once the whole packet is in the
 * buffer, so every proper prefix of a valid packet is MQTT_NEED_MORE.
 * Section numbers and [MQTT-x.y.z-n] tags refer to the OASIS standard. */
#include "devlink/mqtt.h"

#include <string.h>

/* The largest remaining length four length bytes can carry (2.2.3). */
#define RL_LIMIT 268435455u
/* Longest client identifier accepted (3.1.3.1 requires 1..23 bytes to be
 * accepted and allows a server to accept more). */
#define CLIENT_ID_MAX 128

/* Why strings the caller acts on (documented in mqtt.h). */
static const char WHY_PROTOCOL_LEVEL[] = "unsupported protocol level (answer CONNACK 0x01)";

/* --- reading the body ------------------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t n, off;
};

static size_t rd_left(const struct rd *r)
{
	return r->n - r->off;
}

static int rd_u8(struct rd *r, uint8_t *v)
{
	if (rd_left(r) < 1)
		return -1;
	*v = r->p[r->off++];
	return 0;
}

static int rd_u16(struct rd *r, uint16_t *v)
{
	if (rd_left(r) < 2)
		return -1;
	*v = (uint16_t)((r->p[r->off] << 8) | r->p[r->off + 1]);
	r->off += 2;
	return 0;
}

/* Two-byte length and that many bytes (1.5.3 strings, 3.1.3 binary data). */
static int rd_bin(struct rd *r, const uint8_t **p, size_t *len)
{
	uint16_t n;

	if (rd_u16(r, &n) < 0 || rd_left(r) < n)
		return -1;
	*p = r->p + r->off;
	*len = n;
	r->off += n;
	return 0;
}

/* Well-formed UTF-8 (no overlong forms, nothing above U+10FFFF), without
 * the surrogates U+D800..U+DFFF and without U+0000 [MQTT-1.5.3-1, -2]. */
static int utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		uint32_t cp, min;
		size_t k;

		if (c < 0x80) {
			if (c == 0)
				return 0;
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			k = 1;
			cp = c & 0x1F;
			min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			k = 2;
			cp = c & 0x0F;
			min = 0x800;
		} else if (c >= 0xF0 && c <= 0xF4) {
			k = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return 0;
		}
		if (n - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* A UTF-8 string field: 0, or -1 with *why set to trunc or bad. */
static int rd_str(struct rd *r, struct mqtt_str *s, const char *trunc, const char *bad, const char **why)
{
	const uint8_t *p;
	size_t n;

	if (rd_bin(r, &p, &n) < 0) {
		*why = trunc;
		return -1;
	}
	if (!utf8_ok(p, n)) {
		*why = bad;
		return -1;
	}
	s->p = (const char *)p;
	s->len = n;
	return 0;
}

/* --- topic names and filters (4.7) ------------------------------------------- */

/* A topic name: at least one character, no wildcard [MQTT-4.7.1-1, 4.7.3-1]. */
static const char *topic_name_why(const char *t, size_t n)
{
	if (n == 0)
		return "empty topic name";
	if (memchr(t, '+', n) || memchr(t, '#', n))
		return "wildcard in topic name";
	return NULL;
}

/* A topic filter: at least one character; '#' only as a whole last level,
 * '+' only as a whole level [MQTT-4.7.1-2, -3]. */
static const char *topic_filter_why(const char *f, size_t n)
{
	if (n == 0)
		return "empty topic filter";
	for (size_t i = 0; i < n; i++) {
		int level_start = i == 0 || f[i - 1] == '/';
		int level_end = i + 1 == n || f[i + 1] == '/';

		if (f[i] == '#' && (!level_start || i + 1 != n))
			return "'#' not alone as the last level of a topic filter";
		if (f[i] == '+' && (!level_start || !level_end))
			return "'+' not alone in its level of a topic filter";
	}
	return NULL;
}

int mqtt_topic_matches(const char *filter, size_t flen, const char *topic, size_t tlen)
{
	size_t f = 0, t = 0;
	int topic_done = 0;

	if (!filter || !topic || topic_filter_why(filter, flen) || topic_name_why(topic, tlen))
		return 0;
	/* Topics starting with '$' are not matched by a wildcard first level
	 * [MQTT-4.7.2-1]. */
	if (topic[0] == '$' && (filter[0] == '#' || filter[0] == '+'))
		return 0;
	for (;;) {
		size_t fe = f, te = t;
		int wild_one, flast, tlast;

		while (fe < flen && filter[fe] != '/')
			fe++;
		/* '#' matches the parent level and any number of levels below. */
		if (fe - f == 1 && filter[f] == '#')
			return 1;
		if (topic_done)
			return 0;
		while (te < tlen && topic[te] != '/')
			te++;
		wild_one = fe - f == 1 && filter[f] == '+';
		if (!wild_one && (fe - f != te - t || memcmp(filter + f, topic + t, fe - f) != 0))
			return 0;
		flast = fe == flen;
		tlast = te == tlen;
		if (flast)
			return tlast;
		f = fe + 1;
		if (tlast)
			topic_done = 1;
		else
			t = te + 1;
	}
}

/* --- the fixed header (2.2) ------------------------------------------------ */

/* Is this type, with these flags, acceptable in this direction? Checked as
 * soon as the first byte arrives. */
static const char *header_why(unsigned type, unsigned flags, int from_server)
{
	switch (type) {
	case MQTT_CONNECT:
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
	case MQTT_PINGREQ:
	case MQTT_DISCONNECT:
		if (from_server)
			return "client-to-server packet type sent by the server";
		break;
	case MQTT_CONNACK:
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
	case MQTT_PINGRESP:
		if (!from_server)
			return "server-to-client packet type sent by a client";
		break;
	case MQTT_PUBREC:
		return "PUBREC refused: QoS 2 is not supported (use QoS 0 or 1)";
	case MQTT_PUBREL:
		return "PUBREL refused: QoS 2 is not supported (use QoS 0 or 1)";
	case MQTT_PUBCOMP:
		return "PUBCOMP refused: QoS 2 is not supported (use QoS 0 or 1)";
	case MQTT_PUBLISH:
	case MQTT_PUBACK:
		break;
	default:
		return "reserved packet type";
	}
	switch (type) {
	case MQTT_PUBLISH: {
		unsigned qos = (flags >> 1) & 3;

		if (qos == 3)
			return "PUBLISH with QoS 3";
		if ((flags & 8) && qos == 0)
			return "PUBLISH with DUP set and QoS 0";
		if (qos == 2)
			return "PUBLISH refused: QoS 2 is not supported (use QoS 0 or 1)";
		return NULL;
	}
	case MQTT_SUBSCRIBE:
		return flags == 2 ? NULL : "SUBSCRIBE fixed-header flags must be 0010";
	case MQTT_UNSUBSCRIBE:
		return flags == 2 ? NULL : "UNSUBSCRIBE fixed-header flags must be 0010";
	default:
		return flags == 0 ? NULL : "reserved fixed-header flags must be 0";
	}
}

/* Remaining length fixed by the type, checked as soon as it is known. */
static const char *length_why(unsigned type, size_t rl)
{
	switch (type) {
	case MQTT_CONNACK:
		return rl == 2 ? NULL : "CONNACK remaining length must be 2";
	case MQTT_PUBACK:
		return rl == 2 ? NULL : "PUBACK remaining length must be 2";
	case MQTT_UNSUBACK:
		return rl == 2 ? NULL : "UNSUBACK remaining length must be 2";
	case MQTT_PINGREQ:
		return rl == 0 ? NULL : "PINGREQ remaining length must be 0";
	case MQTT_PINGRESP:
		return rl == 0 ? NULL : "PINGRESP remaining length must be 0";
	case MQTT_DISCONNECT:
		return rl == 0 ? NULL : "DISCONNECT remaining length must be 0";
	default:
		return NULL;
	}
}

/* --- bodies ------------------------------------------------------------------ */

static const char *body_connect(struct rd *r, struct mqtt_connect *c)
{
	struct mqtt_str name;
	uint8_t level, fl;
	const uint8_t *p;
	size_t n;
	const char *why = NULL;

	if (rd_str(r, &name, "CONNECT too short for the protocol name", "malformed UTF-8 in the protocol name",
		   &why) < 0)
		return why;
	if (rd_u8(r, &level) < 0)
		return "CONNECT too short for the protocol level";
	c->protocol_level = level;
	/* 3.1.2.1-2: the name and level decide which protocol this is, and
	 * the rest of the packet is read only for 3.1.1. A known MQTT name with
	 * another level (3.1's "MQIsdp", 5.0's level 5) is answered with
	 * CONNACK 0x01 [MQTT-3.1.2-2]; an unknown name is just closed. */
	if (name.len == 4 && memcmp(name.p, "MQTT", 4) == 0) {
		if (level != 4)
			return WHY_PROTOCOL_LEVEL;
	} else if (name.len == 6 && memcmp(name.p, "MQIsdp", 6) == 0) {
		return WHY_PROTOCOL_LEVEL;
	} else {
		return "unsupported protocol name";
	}
	if (rd_u8(r, &fl) < 0)
		return "CONNECT too short for the connect flags";
	if (rd_u16(r, &c->keepalive) < 0)
		return "CONNECT too short for the keep alive";
	if (fl & 0x01)
		return "CONNECT reserved flag bit 0 is set";
	c->clean_session = (fl >> 1) & 1;
	c->will = (fl >> 2) & 1;
	c->will_qos = (fl >> 3) & 3;
	c->will_retain = (fl >> 5) & 1;
	c->has_password = (fl >> 6) & 1;
	c->has_username = (fl >> 7) & 1;
	if (!c->will && (c->will_qos || c->will_retain))
		return "CONNECT will QoS or will retain set without the will flag";
	if (c->will_qos == 3)
		return "CONNECT will QoS 3";
	if (c->has_password && !c->has_username)
		return "CONNECT password flag without the user name flag";

	if (rd_str(r, &c->client_id, "CONNECT too short for the client identifier",
		   "malformed UTF-8 in the client identifier", &why) < 0)
		return why;
	if (c->will) {
		if (rd_str(r, &c->will_topic, "CONNECT too short for the will topic",
			   "malformed UTF-8 in the will topic", &why) < 0)
			return why;
		if ((why = topic_name_why(c->will_topic.p, c->will_topic.len)) != NULL)
			return c->will_topic.len ? "wildcard in the will topic" : "empty will topic";
		if (rd_bin(r, &p, &n) < 0)
			return "CONNECT too short for the will message";
		c->will_payload.p = (const char *)p;
		c->will_payload.len = n;
	}
	if (c->has_username && rd_str(r, &c->username, "CONNECT too short for the user name",
				      "malformed UTF-8 in the user name", &why) < 0)
		return why;
	if (c->has_password) {
		if (rd_bin(r, &p, &n) < 0)
			return "CONNECT too short for the password";
		c->password.p = (const char *)p;
		c->password.len = n;
	}
	if (rd_left(r))
		return "trailing bytes after the CONNECT payload";
	/* Well-formed, but an identifier this server does not take: CONNACK
	 * 0x02 [MQTT-3.1.3-8, -9]. */
	if (c->client_id.len == 0 && !c->clean_session)
		return "identifier rejected: empty client identifier without clean session (answer CONNACK 0x02)";
	if (c->client_id.len > CLIENT_ID_MAX)
		return "identifier rejected: client identifier longer than 128 bytes (answer CONNACK 0x02)";
	return NULL;
}

static const char *body_publish(struct rd *r, uint8_t flags, struct mqtt_publish *m)
{
	const char *why = NULL;

	m->dup = (flags >> 3) & 1;
	m->qos = (flags >> 1) & 3;
	m->retain = flags & 1;
	if (rd_str(r, &m->topic, "PUBLISH too short for the topic name", "malformed UTF-8 in the topic name",
		   &why) < 0)
		return why;
	if ((why = topic_name_why(m->topic.p, m->topic.len)) != NULL)
		return why;
	if (m->qos > 0) {
		if (rd_u16(r, &m->packet_id) < 0)
			return "PUBLISH too short for the packet identifier";
		if (m->packet_id == 0)
			return "PUBLISH with zero packet identifier";
	}
	m->payload = r->p + r->off;
	m->payload_len = rd_left(r);
	r->off = r->n;
	return NULL;
}

static const char *body_subscribe(struct rd *r, int unsubscribe, struct mqtt_subscribe *s)
{
	const char *why = NULL;

	if (rd_u16(r, &s->packet_id) < 0)
		return unsubscribe ? "UNSUBSCRIBE too short for the packet identifier"
				   : "SUBSCRIBE too short for the packet identifier";
	if (s->packet_id == 0)
		return unsubscribe ? "UNSUBSCRIBE with zero packet identifier" : "SUBSCRIBE with zero packet identifier";
	if (!rd_left(r))
		return unsubscribe ? "UNSUBSCRIBE without topic filters" : "SUBSCRIBE without topic filters";
	while (rd_left(r)) {
		struct mqtt_str f;
		uint8_t q;

		if (s->count == MQTT_MAX_FILTERS)
			return "too many topic filters";
		if (rd_str(r, &f, "topic filter runs past the end of the packet", "malformed UTF-8 in a topic filter",
			   &why) < 0)
			return why;
		if ((why = topic_filter_why(f.p, f.len)) != NULL)
			return why;
		if (!unsubscribe) {
			if (rd_u8(r, &q) < 0)
				return "SUBSCRIBE topic filter without its requested QoS";
			if (q & 0xFC)
				return "SUBSCRIBE requested QoS byte with reserved bits set";
			if (q == 3)
				return "SUBSCRIBE requested QoS 3";
			s->qos[s->count] = q;
		}
		s->filters[s->count++] = f;
	}
	return NULL;
}

static const char *body_suback(struct rd *r, struct mqtt_subscribe *s)
{
	uint8_t c;

	if (rd_u16(r, &s->packet_id) < 0)
		return "SUBACK too short for the packet identifier";
	if (s->packet_id == 0)
		return "SUBACK with zero packet identifier";
	if (!rd_left(r))
		return "SUBACK without return codes";
	while (rd_u8(r, &c) == 0) {
		if (s->count == MQTT_MAX_FILTERS)
			return "too many SUBACK return codes";
		if (c > 2 && c != 0x80)
			return "reserved SUBACK return code";
		s->qos[s->count++] = c;
	}
	return NULL;
}

static const char *body(struct rd *r, struct mqtt_packet *pkt)
{
	uint8_t a = 0, b = 0;

	switch (pkt->type) {
	case MQTT_CONNECT:
		return body_connect(r, &pkt->u.connect);
	case MQTT_PUBLISH:
		return body_publish(r, pkt->flags, &pkt->u.publish);
	case MQTT_SUBSCRIBE:
		return body_subscribe(r, 0, &pkt->u.subscribe);
	case MQTT_UNSUBSCRIBE:
		return body_subscribe(r, 1, &pkt->u.subscribe);
	case MQTT_SUBACK:
		return body_suback(r, &pkt->u.subscribe);
	case MQTT_CONNACK:
		(void)rd_u8(r, &a); /* length 2 checked already */
		(void)rd_u8(r, &b);
		if (a & 0xFE)
			return "CONNACK reserved acknowledge flags set";
		if (b > MQTT_CONNACK_NOT_AUTHORIZED)
			return "reserved CONNACK return code";
		if (a && b)
			return "CONNACK session present with a non-zero return code";
		pkt->u.packet_id = (uint16_t)(a << 8 | b);
		return NULL;
	case MQTT_PUBACK:
	case MQTT_UNSUBACK:
		(void)rd_u16(r, &pkt->u.packet_id);
		if (pkt->u.packet_id == 0)
			return pkt->type == MQTT_PUBACK ? "PUBACK with zero packet identifier"
							: "UNSUBACK with zero packet identifier";
		return NULL;
	default: /* PINGREQ, PINGRESP, DISCONNECT: empty, checked already */
		return NULL;
	}
}

static enum mqtt_decode_result decode(const uint8_t *buf, size_t len, size_t max_packet, int from_server,
				      struct mqtt_packet *pkt, size_t *used, const char **why)
{
	size_t rl = 0, mult = 1, i = 1;
	const char *w;
	struct rd r;

	memset(pkt, 0, sizeof *pkt);
	if (used)
		*used = 0;
	if (why)
		*why = NULL;
	if (!buf || len < 1)
		return MQTT_NEED_MORE;
	if (max_packet > RL_LIMIT)
		max_packet = RL_LIMIT;
	pkt->type = (enum mqtt_type)(buf[0] >> 4);
	pkt->flags = buf[0] & 0x0F;
	if ((w = header_why(buf[0] >> 4, buf[0] & 0x0F, from_server)) != NULL)
		goto bad;

	/* Remaining length (2.2.3): seven bits a byte, least significant
	 * first, at most four bytes. */
	for (;;) {
		uint8_t c;

		if (i >= len) {
			/* Incomplete: with k bytes all continued, the minimal
			 * encoding makes the value at least rl + 128^k. */
			if (i > 1 && rl + mult > max_packet) {
				w = "packet larger than the maximum";
				goto bad;
			}
			return MQTT_NEED_MORE;
		}
		c = buf[i++];
		rl += (size_t)(c & 0x7F) * mult;
		if (!(c & 0x80)) {
			if (c == 0 && i > 2) {
				w = "remaining length not minimally encoded";
				goto bad;
			}
			break;
		}
		if (i == 5) {
			w = "remaining length longer than 4 bytes";
			goto bad;
		}
		mult *= 128;
	}
	if (rl > max_packet) {
		w = "packet larger than the maximum";
		goto bad;
	}
	if ((w = length_why(pkt->type, rl)) != NULL)
		goto bad;
	if (len - i < rl)
		return MQTT_NEED_MORE;

	r.p = buf + i;
	r.n = rl;
	r.off = 0;
	if ((w = body(&r, pkt)) != NULL)
		goto bad;
	if (used)
		*used = i + rl;
	return MQTT_OK;
bad:
	if (why)
		*why = w;
	return MQTT_BAD;
}

enum mqtt_decode_result mqtt_decode(const uint8_t *buf, size_t len, size_t max_packet, struct mqtt_packet *pkt,
				    size_t *used, const char **why)
{
	return decode(buf, len, max_packet, 0, pkt, used, why);
}

enum mqtt_decode_result mqtt_decode_from_server(const uint8_t *buf, size_t len, size_t max_packet,
						struct mqtt_packet *pkt, size_t *used, const char **why)
{
	return decode(buf, len, max_packet, 1, pkt, used, why);
}

/* --- encoders ---------------------------------------------------------------- */

/* Fixed header for a packet of remaining length rl; its size, or 0 if the
 * whole packet does not fit in cap. */
static size_t put_header(uint8_t *out, size_t cap, uint8_t first, size_t rl)
{
	size_t n = 1, v = rl;

	if (rl > RL_LIMIT)
		return 0;
	do {
		n++;
		v /= 128;
	} while (v);
	if (!out || cap < n || cap - n < rl)
		return 0;
	out[0] = first;
	n = 1;
	v = rl;
	do {
		uint8_t c = v % 128;

		v /= 128;
		out[n++] = (uint8_t)(v ? c | 0x80 : c);
	} while (v);
	return n;
}

static size_t put_u16(uint8_t *out, uint16_t v)
{
	out[0] = (uint8_t)(v >> 8);
	out[1] = (uint8_t)v;
	return 2;
}

static size_t put_bin(uint8_t *out, const void *p, size_t n)
{
	put_u16(out, (uint16_t)n);
	if (n)
		memcpy(out + 2, p, n);
	return 2 + n;
}

size_t mqtt_encode_connack(uint8_t *out, size_t cap, int session_present, uint8_t return_code)
{
	size_t n;

	if (return_code > MQTT_CONNACK_NOT_AUTHORIZED || (session_present && return_code))
		return 0;
	if (!(n = put_header(out, cap, MQTT_CONNACK << 4, 2)))
		return 0;
	out[n++] = session_present ? 1 : 0;
	out[n++] = return_code;
	return n;
}

static size_t encode_id_only(uint8_t *out, size_t cap, uint8_t first, uint16_t packet_id)
{
	size_t n;

	if (packet_id == 0 || !(n = put_header(out, cap, first, 2)))
		return 0;
	return n + put_u16(out + n, packet_id);
}

size_t mqtt_encode_puback(uint8_t *out, size_t cap, uint16_t packet_id)
{
	return encode_id_only(out, cap, MQTT_PUBACK << 4, packet_id);
}

size_t mqtt_encode_unsuback(uint8_t *out, size_t cap, uint16_t packet_id)
{
	return encode_id_only(out, cap, MQTT_UNSUBACK << 4, packet_id);
}

size_t mqtt_encode_suback(uint8_t *out, size_t cap, uint16_t packet_id, const uint8_t *codes, int count)
{
	size_t n;

	if (packet_id == 0 || !codes || count < 1 || count > MQTT_MAX_FILTERS)
		return 0;
	for (int i = 0; i < count; i++)
		if (codes[i] > 2 && codes[i] != 0x80)
			return 0;
	if (!(n = put_header(out, cap, MQTT_SUBACK << 4, 2 + (size_t)count)))
		return 0;
	n += put_u16(out + n, packet_id);
	memcpy(out + n, codes, (size_t)count);
	return n + (size_t)count;
}

static size_t encode_empty(uint8_t *out, size_t cap, uint8_t first)
{
	return put_header(out, cap, first, 0);
}

size_t mqtt_encode_pingresp(uint8_t *out, size_t cap)
{
	return encode_empty(out, cap, MQTT_PINGRESP << 4);
}

size_t mqtt_encode_pingreq(uint8_t *out, size_t cap)
{
	return encode_empty(out, cap, MQTT_PINGREQ << 4);
}

size_t mqtt_encode_disconnect(uint8_t *out, size_t cap)
{
	return encode_empty(out, cap, MQTT_DISCONNECT << 4);
}

size_t mqtt_encode_publish(uint8_t *out, size_t cap, const char *topic, size_t topic_len, int qos,
			   uint16_t packet_id, int retain, const void *payload, size_t payload_len)
{
	size_t n, rl;

	if (!topic || topic_len > 0xFFFF || topic_name_why(topic, topic_len) ||
	    !utf8_ok((const uint8_t *)topic, topic_len))
		return 0;
	if ((qos != 0 && qos != 1) || (qos == 1 && packet_id == 0))
		return 0;
	if (payload_len > RL_LIMIT || (payload_len && !payload))
		return 0;
	rl = 2 + topic_len + (qos ? 2 : 0) + payload_len;
	if (!(n = put_header(out, cap, (uint8_t)(MQTT_PUBLISH << 4 | qos << 1 | (retain ? 1 : 0)), rl)))
		return 0;
	n += put_bin(out + n, topic, topic_len);
	if (qos)
		n += put_u16(out + n, packet_id);
	if (payload_len)
		memcpy(out + n, payload, payload_len);
	return n + payload_len;
}

size_t mqtt_encode_connect(uint8_t *out, size_t cap, const char *client_id, uint16_t keepalive,
			   const char *will_topic, const void *will_payload, size_t will_len)
{
	size_t n, idlen, wtlen = 0, rl;

	if (!client_id)
		client_id = "";
	idlen = strlen(client_id);
	if (idlen > CLIENT_ID_MAX || !utf8_ok((const uint8_t *)client_id, idlen))
		return 0;
	rl = 10 + 2 + idlen;
	if (will_topic) {
		wtlen = strlen(will_topic);
		if (wtlen > 0xFFFF || topic_name_why(will_topic, wtlen) ||
		    !utf8_ok((const uint8_t *)will_topic, wtlen))
			return 0;
		if (will_len > 0xFFFF || (will_len && !will_payload))
			return 0;
		rl += 2 + wtlen + 2 + will_len;
	}
	if (!(n = put_header(out, cap, MQTT_CONNECT << 4, rl)))
		return 0;
	n += put_bin(out + n, "MQTT", 4);
	out[n++] = 4;
	out[n++] = will_topic ? 0x06 : 0x02; /* clean session, will (QoS 0, no retain) */
	n += put_u16(out + n, keepalive);
	n += put_bin(out + n, client_id, idlen);
	if (will_topic) {
		n += put_bin(out + n, will_topic, wtlen);
		n += put_bin(out + n, will_payload, will_len);
	}
	return n;
}

size_t mqtt_encode_subscribe(uint8_t *out, size_t cap, uint16_t packet_id, const char *filter, int qos)
{
	size_t n, flen;

	if (packet_id == 0 || !filter || qos < 0 || qos > 2)
		return 0;
	flen = strlen(filter);
	if (flen > 0xFFFF || topic_filter_why(filter, flen) || !utf8_ok((const uint8_t *)filter, flen))
		return 0;
	if (!(n = put_header(out, cap, MQTT_SUBSCRIBE << 4 | 2, 2 + 2 + flen + 1)))
		return 0;
	n += put_u16(out + n, packet_id);
	n += put_bin(out + n, filter, flen);
	out[n++] = (uint8_t)qos;
	return n;
}
