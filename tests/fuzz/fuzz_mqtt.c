/* libFuzzer target: MQTT 3.1.1 decoding (devlink/mqtt). The input is a
 * stream of packets, decoded one after another in both directions (from a
 * terminal, from the appliance) with a small maximum packet size. For every
 * packet decoded: used is within the input, the fields lie within the
 * packet and obey the rules the decoder claims to check, every proper prefix
 * is MQTT_NEED_MORE, a maximum one below its length refuses it from the
 * fixed header alone, and where an encoder exists, re-encoding the fields
 * gives the same bytes (or, where the encoder cannot express a field, bytes
 * that decode to the same fields). Topic filters and topic names seen in the
 * stream are matched against each other with a few invariants. */
#include "devlink/mqtt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FROM_TERMINAL 256
#define MAX_FROM_APPLIANCE 1024
#define MAX_SEEN 32

static struct mqtt_str filters[MAX_SEEN], topics[MAX_SEEN];
static int nfilters, ntopics;

#define ASSERT(c)                                                                              \
	do {                                                                                   \
		if (!(c))                                                                      \
			abort();                                                               \
	} while (0)

static enum mqtt_decode_result dec(int from_server, const uint8_t *b, size_t len, size_t max,
				   struct mqtt_packet *p, size_t *used, const char **why)
{
	return from_server ? mqtt_decode_from_server(b, len, max, p, used, why)
			   : mqtt_decode(b, len, max, p, used, why);
}

static void inside(const uint8_t *b, size_t used, const void *ptr, size_t len)
{
	const uint8_t *q = ptr;

	ASSERT(q >= b && q <= b + used && len <= (size_t)(b + used - q));
}

static void str_inside(const uint8_t *b, size_t used, struct mqtt_str s, int present)
{
	if (present)
		inside(b, used, s.p, s.len);
	else
		ASSERT(s.p == NULL && s.len == 0);
}

static int same(struct mqtt_str a, struct mqtt_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* A copy with a terminating NUL (decoded strings never hold U+0000). */
static char *cstr(struct mqtt_str s)
{
	char *c = malloc(s.len + 1);

	ASSERT(c && !memchr(s.p ? s.p : "", '\0', s.len));
	if (s.len)
		memcpy(c, s.p, s.len);
	c[s.len] = '\0';
	return c;
}

static void check_fields(const struct mqtt_packet *p, const uint8_t *b, size_t used, int from_server)
{
	ASSERT(p->type >= MQTT_CONNECT && p->type <= MQTT_DISCONNECT);
	ASSERT(p->flags == (b[0] & 0x0F) && (unsigned)p->type == (unsigned)(b[0] >> 4));
	switch (p->type) {
	case MQTT_CONNECT: {
		const struct mqtt_connect *c = &p->u.connect;

		ASSERT(!from_server && c->protocol_level == 4);
		ASSERT(c->client_id.len <= 128 && (c->client_id.len > 0 || c->clean_session));
		str_inside(b, used, c->client_id, 1);
		str_inside(b, used, c->will_topic, c->will);
		str_inside(b, used, c->will_payload, c->will);
		str_inside(b, used, c->username, c->has_username);
		str_inside(b, used, c->password, c->has_password);
		ASSERT(c->will_qos >= 0 && c->will_qos <= 2);
		ASSERT(c->will || (c->will_qos == 0 && c->will_retain == 0));
		ASSERT(!c->has_password || c->has_username);
		if (c->will)
			ASSERT(c->will_topic.len > 0 && !memchr(c->will_topic.p, '+', c->will_topic.len) &&
			       !memchr(c->will_topic.p, '#', c->will_topic.len));
		break;
	}
	case MQTT_PUBLISH: {
		const struct mqtt_publish *m = &p->u.publish;

		ASSERT(m->qos == 0 || m->qos == 1);
		ASSERT(!m->dup || m->qos);
		ASSERT((m->packet_id != 0) == (m->qos != 0));
		ASSERT(m->topic.len > 0 && !memchr(m->topic.p, '+', m->topic.len) &&
		       !memchr(m->topic.p, '#', m->topic.len));
		str_inside(b, used, m->topic, 1);
		inside(b, used, m->payload, m->payload_len);
		ASSERT(m->payload + m->payload_len == b + used);
		if (ntopics < MAX_SEEN)
			topics[ntopics++] = m->topic;
		break;
	}
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
	case MQTT_SUBACK: {
		const struct mqtt_subscribe *s = &p->u.subscribe;

		ASSERT(s->packet_id != 0 && s->count >= 1 && s->count <= MQTT_MAX_FILTERS);
		for (int i = 0; i < s->count; i++) {
			if (p->type == MQTT_SUBACK) {
				ASSERT(s->qos[i] <= 2 || s->qos[i] == 0x80);
				ASSERT(s->filters[i].p == NULL);
				continue;
			}
			ASSERT(s->filters[i].len > 0);
			str_inside(b, used, s->filters[i], 1);
			ASSERT(s->qos[i] >= 0 && s->qos[i] <= (p->type == MQTT_SUBSCRIBE ? 2 : 0));
			if (nfilters < MAX_SEEN)
				filters[nfilters++] = s->filters[i];
		}
		break;
	}
	case MQTT_CONNACK:
		ASSERT(from_server && (p->u.packet_id & 0xFF) <= 5 && (p->u.packet_id >> 8) <= 1);
		ASSERT((p->u.packet_id >> 8) == 0 || (p->u.packet_id & 0xFF) == 0);
		break;
	case MQTT_PUBACK:
	case MQTT_UNSUBACK:
		ASSERT(p->u.packet_id != 0);
		break;
	case MQTT_PINGREQ:
	case MQTT_DISCONNECT:
		ASSERT(!from_server && used == 2);
		break;
	case MQTT_PINGRESP:
		ASSERT(from_server && used == 2);
		break;
	default: /* PUBREC, PUBREL, PUBCOMP are always refused */
		abort();
	}
}

/* Re-encode what an encoder exists for. orig is the packet (used bytes). */
static void reencode(const struct mqtt_packet *p, const uint8_t *orig, size_t used)
{
	size_t cap = used + 16, n = 0, u2;
	uint8_t *out = malloc(cap);
	struct mqtt_packet q;
	const char *why;

	ASSERT(out);
	switch (p->type) {
	case MQTT_PUBLISH: {
		const struct mqtt_publish *m = &p->u.publish;

		n = mqtt_encode_publish(out, cap, m->topic.p, m->topic.len, m->qos, m->packet_id, m->retain,
					m->payload, m->payload_len);
		ASSERT(n == used && out[0] == (orig[0] & ~0x08) && memcmp(out + 1, orig + 1, n - 1) == 0);
		for (int dir = 0; dir < 2; dir++) {
			ASSERT(dec(dir, out, n, n, &q, &u2, &why) == MQTT_OK && u2 == n);
			ASSERT(same(q.u.publish.topic, m->topic) && q.u.publish.qos == m->qos &&
			       q.u.publish.retain == m->retain && q.u.publish.dup == 0 &&
			       q.u.publish.packet_id == m->packet_id && q.u.publish.payload_len == m->payload_len);
		}
		break;
	}
	case MQTT_SUBSCRIBE: {
		const struct mqtt_subscribe *s = &p->u.subscribe;

		for (int i = 0; i < s->count; i++) {
			char *f = cstr(s->filters[i]);

			n = mqtt_encode_subscribe(out, cap, s->packet_id, f, s->qos[i]);
			free(f);
			ASSERT(n > 0);
			if (s->count == 1)
				ASSERT(n == used && memcmp(out, orig, n) == 0);
			ASSERT(mqtt_decode(out, n, n, &q, &u2, &why) == MQTT_OK && u2 == n);
			ASSERT(q.u.subscribe.count == 1 && q.u.subscribe.packet_id == s->packet_id &&
			       same(q.u.subscribe.filters[0], s->filters[i]) && q.u.subscribe.qos[0] == s->qos[i]);
		}
		break;
	}
	case MQTT_CONNECT: {
		const struct mqtt_connect *c = &p->u.connect;
		char *id = cstr(c->client_id), *wt = c->will ? cstr(c->will_topic) : NULL;

		n = mqtt_encode_connect(out, cap, id, c->keepalive, wt, c->will_payload.p, c->will_payload.len);
		free(id);
		free(wt);
		ASSERT(n > 0 && n <= used);
		if (c->clean_session && !c->will_qos && !c->will_retain && !c->has_username)
			ASSERT(n == used && memcmp(out, orig, n) == 0);
		ASSERT(mqtt_decode(out, n, n, &q, &u2, &why) == MQTT_OK && u2 == n);
		ASSERT(same(q.u.connect.client_id, c->client_id) && q.u.connect.keepalive == c->keepalive &&
		       q.u.connect.will == c->will && same(q.u.connect.will_topic, c->will_topic) &&
		       same(q.u.connect.will_payload, c->will_payload) && q.u.connect.clean_session == 1);
		break;
	}
	case MQTT_SUBACK: {
		uint8_t codes[MQTT_MAX_FILTERS];

		for (int i = 0; i < p->u.subscribe.count; i++)
			codes[i] = (uint8_t)p->u.subscribe.qos[i];
		n = mqtt_encode_suback(out, cap, p->u.subscribe.packet_id, codes, p->u.subscribe.count);
		ASSERT(n == used && memcmp(out, orig, n) == 0);
		break;
	}
	case MQTT_CONNACK:
		n = mqtt_encode_connack(out, cap, p->u.packet_id >> 8, (uint8_t)p->u.packet_id);
		ASSERT(n == used && memcmp(out, orig, n) == 0);
		break;
	case MQTT_PUBACK:
		n = mqtt_encode_puback(out, cap, p->u.packet_id);
		ASSERT(n == used && memcmp(out, orig, n) == 0);
		break;
	case MQTT_UNSUBACK:
		n = mqtt_encode_unsuback(out, cap, p->u.packet_id);
		ASSERT(n == used && memcmp(out, orig, n) == 0);
		break;
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
	case MQTT_DISCONNECT:
		n = p->type == MQTT_PINGREQ    ? mqtt_encode_pingreq(out, cap)
		    : p->type == MQTT_PINGRESP ? mqtt_encode_pingresp(out, cap)
					       : mqtt_encode_disconnect(out, cap);
		ASSERT(n == used && memcmp(out, orig, n) == 0);
		break;
	default: /* UNSUBSCRIBE: no encoder */
		break;
	}
	free(out);
}

static void stream(const uint8_t *data, size_t size, int from_server)
{
	size_t off = 0, max = from_server ? MAX_FROM_APPLIANCE : MAX_FROM_TERMINAL;

	for (int count = 0; off < size && count < 64; count++) {
		const uint8_t *b = data + off;
		size_t len = size - off, used = 12345, u2, hl;
		struct mqtt_packet p, q;
		const char *why = "unset";
		enum mqtt_decode_result r = dec(from_server, b, len, max, &p, &used, &why);
		uint8_t *copy;

		if (r != MQTT_OK) {
			ASSERT(r == MQTT_NEED_MORE || r == MQTT_BAD);
			ASSERT(used == 0);
			ASSERT(r == MQTT_BAD ? why != NULL && *why : why == NULL);
			return;
		}
		ASSERT(why == NULL && used >= 2 && used <= len);
		check_fields(&p, b, used, from_server);

		/* The packet alone, in a buffer of its exact size: the same
		 * result, and every proper prefix needs more. */
		copy = malloc(used);
		ASSERT(copy);
		memcpy(copy, b, used);
		ASSERT(dec(from_server, copy, used, max, &q, &u2, &why) == MQTT_OK && u2 == used);
		for (size_t k = 0; k < used; k++)
			ASSERT(dec(from_server, copy, k, max, &q, &u2, &why) == MQTT_NEED_MORE);
		/* One byte less allowed: refused from the fixed header alone. */
		for (hl = 2; copy[hl - 1] & 0x80; hl++)
			;
		if (used > hl) {
			ASSERT(dec(from_server, copy, hl, used - hl - 1, &q, &u2, &why) == MQTT_BAD);
			ASSERT(dec(from_server, copy, used, used - hl - 1, &q, &u2, &why) == MQTT_BAD);
		}
		reencode(&p, copy, used);
		free(copy);
		off += used;
	}
}

static int has(struct mqtt_str s, char c)
{
	return memchr(s.p, c, s.len) != NULL;
}

static void match_seen(void)
{
	for (int t = 0; t < ntopics; t++) {
		struct mqtt_str tp = topics[t];

		/* A topic name is a filter matching itself. */
		ASSERT(mqtt_topic_matches(tp.p, tp.len, tp.p, tp.len) == 1);
		ASSERT(mqtt_topic_matches("#", 1, tp.p, tp.len) == (tp.p[0] != '$'));
		for (int f = 0; f < nfilters; f++) {
			struct mqtt_str fl = filters[f];
			int m = mqtt_topic_matches(fl.p, fl.len, tp.p, tp.len);

			if (!has(fl, '+') && !has(fl, '#'))
				ASSERT(m == same(fl, tp));
			if (m && tp.p[0] == '$')
				ASSERT(fl.p[0] != '+' && fl.p[0] == '$');
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int from_server = 0; from_server < 2; from_server++) {
		nfilters = ntopics = 0;
		stream(data, size, from_server);
		match_seen();
	}
	/* The matcher on arbitrary bytes: the first byte splits the rest. */
	if (size > 1) {
		size_t cut = data[0] % size;

		if (cut < 1)
			cut = 1;
		mqtt_topic_matches((const char *)data + 1, cut - 1, (const char *)data + cut, size - cut);
	}
	return 0;
}
