/* The terminal simulator's pure parts: the local copy and its decisions,
 * card hashes, the event buffer, the files a terminal keeps, card numbers,
 * firmware downloads and the CSR. */
#include "t.h"

#include "devsim/cards.h"
#include "devsim/enroll.h"
#include "devsim/evq.h"
#include "devsim/fw.h"
#include "devsim/local.h"
#include "devsim/store.h"
#include "devsim/util.h"
#include "tls/certgen.h"

#include <cJSON.h>
#include <fcntl.h>
#include <mbedtls/x509_csr.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const unsigned char KEY[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				      17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static time_t utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = {0};

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return timegm(&tm);
}

static int write_text(const char *path, const char *text)
{
	return ds_write_file(path, text, strlen(text), 0600);
}

static void b64(const unsigned char *bin, size_t len, char *out, size_t outlen)
{
	sodium_bin2base64(out, outlen, bin, len, sodium_base64_VARIANT_ORIGINAL);
}

static void card_b64(const char *card, char out[64])
{
	unsigned char h[32];

	CHECK_INT(local_card_hash(KEY, card, h), 0);
	b64(h, 32, out, 64);
}

/* A site in Tokyo: door 7 on office hours (Mon-Fri 08:00-19:00, holidays
 * 10:00-12:00, 2026-11-23 a holiday), door 8 covered by no level of group
 * 4. Person 12 (group 4) with card 045012345678; person 13 suspended;
 * credential 33 lost; person 14 valid until 2026-12-01. */
static cJSON *site_sync(void)
{
	char h1[64], h2[64], h3[64], h4[64], key[64], text[4096];

	card_b64("045012345678", h1);
	card_b64("777000111", h2);
	card_b64("1234567890", h3);
	card_b64("5555", h4);
	b64(KEY, 32, key, sizeof key);
	snprintf(text, sizeof text,
		 "{\"full\": true, \"terminal_key\": \"%s\", \"done\": true, \"cursor\": 41, \"changes\": ["
		 "{\"type\":\"door\",\"op\":\"upsert\",\"id\":7,\"data\":{\"name\":\"Main\",\"unlock_seconds\":5,"
		 "\"held_open_seconds\":30,\"timezone\":\"Asia/Tokyo\"}},"
		 "{\"type\":\"door\",\"op\":\"upsert\",\"id\":8,\"data\":{\"unlock_seconds\":3,\"timezone\":\"Asia/Tokyo\"}},"
		 "{\"type\":\"schedule\",\"op\":\"upsert\",\"id\":3,\"data\":{\"windows\":[[0,480,1140],[1,480,1140],"
		 "[2,480,1140],[3,480,1140],[4,480,1140],[7,600,720]],\"holidays\":[\"2026-11-23\"]}},"
		 "{\"type\":\"level\",\"op\":\"upsert\",\"id\":2,\"data\":{\"group_id\":4,\"schedule_id\":3,\"door_ids\":[7]}},"
		 "{\"type\":\"person\",\"op\":\"upsert\",\"id\":12,\"data\":{\"status\":\"active\",\"valid_from\":null,"
		 "\"valid_until\":null,\"group_ids\":[4]}},"
		 "{\"type\":\"person\",\"op\":\"upsert\",\"id\":13,\"data\":{\"status\":\"suspended\",\"group_ids\":[4]}},"
		 "{\"type\":\"person\",\"op\":\"upsert\",\"id\":14,\"data\":{\"status\":\"active\","
		 "\"valid_until\":\"2026-12-01T00:00:00\",\"group_ids\":[4]}},"
		 "{\"type\":\"credential\",\"op\":\"upsert\",\"id\":31,\"data\":{\"person_id\":12,\"card_hash\":\"%s\","
		 "\"status\":\"active\",\"valid_from\":null,\"valid_until\":null}},"
		 "{\"type\":\"credential\",\"op\":\"upsert\",\"id\":32,\"data\":{\"person_id\":13,\"card_hash\":\"%s\","
		 "\"status\":\"active\"}},"
		 "{\"type\":\"credential\",\"op\":\"upsert\",\"id\":33,\"data\":{\"person_id\":12,\"card_hash\":\"%s\","
		 "\"status\":\"lost\"}},"
		 "{\"type\":\"credential\",\"op\":\"upsert\",\"id\":34,\"data\":{\"person_id\":14,\"card_hash\":\"%s\","
		 "\"status\":\"active\"}},"
		 "{\"type\":\"widget\",\"op\":\"upsert\",\"id\":1,\"data\":{}}"
		 "]}",
		 key, h1, h2, h3, h4);
	return cJSON_Parse(text);
}

static struct local *load_site(void)
{
	static struct local l;
	cJSON *msg = site_sync();
	char why[120];

	local_init(&l);
	CHECK(msg != NULL);
	CHECK_INT(local_set_key_b64(&l, cJSON_GetObjectItem(msg, "terminal_key")->valuestring), 0);
	CHECK_INT(local_apply_all(&l, cJSON_GetObjectItem(msg, "changes"), why, sizeof why), 0);
	l.cursor = 41;
	cJSON_Delete(msg);
	return &l;
}

static const char *reason(struct local *l, const char *card, int64_t door, time_t at)
{
	struct decide_result r;

	local_decide(l, card, door, at, &r);
	CHECK(r.grant == (r.reason == DR_GRANTED));
	return decide_reason_name(r.reason);
}

TEST(devsim_card_hash_is_blake2b_of_the_digits)
{
	unsigned char a[32], b[32], want[32];

	crypto_generichash(want, 32, (const unsigned char *)"045012345678", 12, KEY, 32);
	CHECK_INT(local_card_hash(KEY, "045012345678", a), 0);
	CHECK(memcmp(a, want, 32) == 0);
	/* Spaces, dashes and full-width digits are the same card. */
	CHECK_INT(local_card_hash(KEY, "0450 1234-5678", b), 0);
	CHECK(memcmp(b, want, 32) == 0);
	CHECK_INT(local_card_hash(KEY, "\xef\xbc\x90\xef\xbc\x94\xef\xbc\x95\xef\xbc\x90 1234 5678", b), 0);
	CHECK(memcmp(b, want, 32) == 0);
	CHECK_INT(local_card_hash(KEY, "no digits", b), -1);
}

TEST(devsim_local_decisions_follow_the_rules)
{
	struct local *l = load_site();
	time_t thu10 = utc(2026, 11, 26, 1, 0);  /* Thursday 10:00 in Tokyo */
	time_t thu20 = utc(2026, 11, 26, 11, 0); /* Thursday 20:00 */
	time_t hol09 = utc(2026, 11, 23, 0, 0);  /* holiday Monday 09:00 */
	time_t hol11 = utc(2026, 11, 23, 2, 0);  /* holiday Monday 11:00 */

	CHECK_STR(reason(l, "0450 1234 5678", 7, thu10), "granted");
	CHECK_STR(reason(l, "045012345678", 7, thu20), "outside_schedule");
	CHECK_STR(reason(l, "045012345678", 7, hol09), "holiday");
	CHECK_STR(reason(l, "045012345678", 7, hol11), "granted");
	CHECK_STR(reason(l, "045012345678", 8, thu10), "no_access_level");
	CHECK_STR(reason(l, "045012345678", 0, thu10), "no_access_level");
	CHECK_STR(reason(l, "111122223333", 7, thu10), "unknown_credential");
	CHECK_STR(reason(l, "777000111", 7, thu10), "person_suspended");
	CHECK_STR(reason(l, "1234567890", 7, thu10), "credential_inactive");
	CHECK_STR(reason(l, "5555", 7, thu10), "granted");
	CHECK_STR(reason(l, "5555", 7, utc(2026, 12, 1, 1, 0)), "person_expired");
	CHECK_INT(l->cursor, 41);
	CHECK_INT(local_ndoors(l), 2);
	CHECK_INT(local_door(l, 7)->unlock_seconds, 5);
	local_free(l);
}

static int apply_text(struct local *l, const char *text)
{
	cJSON *c = cJSON_Parse(text);
	char why[120];
	int rc = local_apply(l, c, why, sizeof why);

	cJSON_Delete(c);
	return rc;
}

TEST(devsim_local_deltas_upsert_delete_and_repeat)
{
	struct local *l = load_site();
	time_t thu10 = utc(2026, 11, 26, 1, 0);

	/* Suspend person 12, twice: applying a change again is harmless. */
	for (int i = 0; i < 2; i++)
		CHECK_INT(apply_text(l, "{\"type\":\"person\",\"op\":\"upsert\",\"id\":12,\"data\":{\"status\":\"suspended\","
					"\"group_ids\":[4]}}"),
			  0);
	CHECK_STR(reason(l, "045012345678", 7, thu10), "person_suspended");
	CHECK_INT(apply_text(l, "{\"type\":\"person\",\"op\":\"upsert\",\"id\":12,\"data\":{\"status\":\"active\","
				"\"group_ids\":[4]}}"),
		  0);
	CHECK_STR(reason(l, "045012345678", 7, thu10), "granted");
	/* The level loses door 7; then the card is deleted. */
	CHECK_INT(apply_text(l, "{\"type\":\"level\",\"op\":\"upsert\",\"id\":2,\"data\":{\"group_id\":4,"
				"\"schedule_id\":3,\"door_ids\":[]}}"),
		  0);
	CHECK_STR(reason(l, "045012345678", 7, thu10), "no_access_level");
	CHECK_INT(apply_text(l, "{\"type\":\"credential\",\"op\":\"delete\",\"id\":31}"), 0);
	CHECK_INT(apply_text(l, "{\"type\":\"credential\",\"op\":\"delete\",\"id\":31}"), 0);
	CHECK_STR(reason(l, "045012345678", 7, thu10), "unknown_credential");
	/* A deleted person takes their cards' meaning with them. */
	CHECK_INT(apply_text(l, "{\"type\":\"person\",\"op\":\"delete\",\"id\":14}"), 0);
	CHECK_STR(reason(l, "5555", 7, thu10), "unknown_credential");
	/* Malformed changes are refused and change nothing. */
	CHECK_INT(apply_text(l, "{\"type\":\"credential\",\"op\":\"upsert\",\"id\":40,\"data\":{\"person_id\":12,"
				"\"card_hash\":\"short\"}}"),
		  -1);
	CHECK_INT(apply_text(l, "{\"type\":\"door\",\"op\":\"rename\",\"id\":7,\"data\":{}}"), -1);
	CHECK_INT(apply_text(l, "{\"type\":\"door\",\"op\":\"upsert\",\"id\":0,\"data\":{}}"), -1);
	CHECK_INT(apply_text(l, "{\"type\":\"schedule\",\"op\":\"upsert\",\"id\":3,\"data\":{\"windows\":[[1,2]]}}"), -1);
	CHECK_INT(local_ndoors(l), 2);
	local_free(l);
}

TEST(devsim_local_copy_survives_a_round_trip)
{
	struct local *l = load_site(), back;
	time_t thu10 = utc(2026, 11, 26, 1, 0), hol09 = utc(2026, 11, 23, 0, 0);
	cJSON *doc = local_to_json(l);
	char why[120];
	char *text = cJSON_PrintUnformatted(doc);
	cJSON *again = cJSON_Parse(text);

	local_init(&back);
	CHECK_INT(local_from_json(&back, again, why, sizeof why), 0);
	CHECK_INT(back.cursor, 41);
	CHECK(back.has_key && memcmp(back.key, KEY, 32) == 0);
	CHECK_STR(reason(&back, "045012345678", 7, thu10), "granted");
	CHECK_STR(reason(&back, "045012345678", 7, hol09), "holiday");
	CHECK_STR(reason(&back, "777000111", 7, thu10), "person_suspended");
	CHECK_STR(reason(&back, "1234567890", 7, thu10), "credential_inactive");
	CHECK_STR(reason(&back, "5555", 7, utc(2026, 12, 1, 1, 0)), "person_expired");
	/* A full sync replaces the copy only when moved in. */
	local_move(l, &back);
	CHECK_STR(reason(l, "045012345678", 7, thu10), "granted");
	CHECK_INT(back.has_key, 0);
	CHECK_INT(local_ndoors(&back), 0);
	free(text);
	cJSON_Delete(doc);
	cJSON_Delete(again);
	local_free(l);
	local_free(&back);
}

/* Credentials of the other kinds (appliances send every kind): kept in the
 * copy and its file, never matched by a card read; a mobile token needs
 * its hash, the rest nothing this simulator reads. */
TEST(devsim_local_keeps_every_credential_kind_and_matches_cards_only)
{
	struct local *l = load_site(), back;
	time_t thu10 = utc(2026, 11, 26, 1, 0);
	unsigned char h[32];
	char tok[64], text[512], why[120];

	/* A token that reads like card 31's number: its hash is that card's. */
	crypto_generichash(h, 32, (const unsigned char *)"045012345678", 12, KEY, 32);
	b64(h, 32, tok, sizeof tok);
	snprintf(text, sizeof text,
		 "{\"type\":\"credential\",\"op\":\"upsert\",\"id\":50,\"data\":{\"person_id\":12,\"kind\":\"mobile\","
		 "\"token_hash\":\"%s\",\"status\":\"active\"}}", tok);
	CHECK_INT(apply_text(l, text), 0);
	CHECK_INT(apply_text(l, "{\"type\":\"credential\",\"op\":\"upsert\",\"id\":51,\"data\":{\"person_id\":12,"
				"\"kind\":\"face\",\"template\":\"AAEC\",\"status\":\"active\"}}"),
		  0);
	CHECK_INT(apply_text(l, "{\"type\":\"credential\",\"op\":\"upsert\",\"id\":52,\"data\":{\"person_id\":12,"
				"\"kind\":\"pin\",\"pin_hash\":\"$argon2id$v=19$...\",\"status\":\"active\"}}"),
		  0);
	/* A mobile without its hash, or a kind that is not a string, is malformed. */
	CHECK_INT(apply_text(l, "{\"type\":\"credential\",\"op\":\"upsert\",\"id\":53,\"data\":{\"person_id\":12,"
				"\"kind\":\"mobile\"}}"),
		  -1);
	CHECK_INT(apply_text(l, "{\"type\":\"credential\",\"op\":\"upsert\",\"id\":53,\"data\":{\"person_id\":12,"
				"\"kind\":7,\"card_hash\":\"x\"}}"),
		  -1);
	CHECK_STR(reason(l, "045012345678", 7, thu10), "granted"); /* the card 31, as before */
	CHECK_INT(apply_text(l, "{\"type\":\"credential\",\"op\":\"delete\",\"id\":31}"), 0);
	/* The token's hash equals no card's: a card read with the token's digits finds nothing. */
	CHECK_STR(reason(l, "045012345678", 7, thu10), "unknown_credential");
	cJSON *doc = local_to_json(l);
	char *out = cJSON_PrintUnformatted(doc);
	cJSON *again = cJSON_Parse(out);
	CHECK(strstr(out, "\"kind\":\"mobile\"") && strstr(out, "\"token_hash\"") && strstr(out, "\"kind\":\"face\""));
	local_init(&back);
	CHECK_INT(local_from_json(&back, again, why, sizeof why), 0);
	CHECK_STR(reason(&back, "5555", 7, thu10), "granted");
	CHECK_STR(reason(&back, "045012345678", 7, thu10), "unknown_credential");
	free(out);
	cJSON_Delete(doc);
	cJSON_Delete(again);
	local_free(l);
	local_free(&back);
}

static struct devsim_event ev(long long seq)
{
	struct devsim_event e;

	memset(&e, 0, sizeof e);
	e.seq = seq;
	e.at = 1795662292006LL + seq;
	e.door_id = 7;
	snprintf(e.kind, sizeof e.kind, "access");
	snprintf(e.card, sizeof e.card, "0450 1234 5678");
	snprintf(e.result, sizeof e.result, "granted");
	snprintf(e.reason, sizeof e.reason, "granted");
	return e;
}

TEST(devsim_event_buffer_acks_and_resends)
{
	struct evq q;
	size_t idx[8];
	struct devsim_event e;
	char json[300];

	evq_init(&q, 10);
	e = ev(10);
	CHECK_INT(evq_push(&q, &e), -1); /* at or below the watermark */
	for (long long s = 11; s <= 100; s++) {
		e = ev(s);
		CHECK_INT(evq_push(&q, &e), 0);
	}
	e = ev(102);
	CHECK_INT(evq_push(&q, &e), -1); /* a gap */
	CHECK_INT(evq_take(&q, 4, idx), 4);  /* 11..14 */
	CHECK_INT(evq_take(&q, 4, idx), 4);  /* 15..18 */
	CHECK_INT(evq_at(&q, idx[0])->seq, 15);
	/* The second publish is acked first: the watermark waits for 11..14. */
	CHECK_INT(evq_ack(&q, 15, 18), 4);
	CHECK_INT(q.watermark, 10);
	CHECK_INT(evq_ack(&q, 11, 14), 4);
	CHECK_INT(q.watermark, 18);
	CHECK_INT(evq_len(&q), 82);
	/* A lost connection: the publish in flight goes again, same seqs. */
	CHECK_INT(evq_take(&q, 3, idx), 3);
	CHECK_INT(evq_rewind(&q), 3);
	CHECK_INT(evq_take(&q, 2, idx), 2);
	CHECK_INT(evq_at(&q, idx[0])->seq, 19);
	CHECK(evq_at(&q, idx[0])->sent_before);
	CHECK_INT(evq_ack(&q, 19, 20), 2);
	CHECK_INT(evq_ack(&q, 19, 20), 0); /* a repeated PUBACK */
	CHECK_INT(q.watermark, 20);
	CHECK_INT(evq_pending(&q), 80);
	/* The published form. */
	e = ev(5);
	e.door_id = 0;
	CHECK(evq_event_json(&e, json, sizeof json) > 0);
	CHECK_STR(json, "{\"seq\":5,\"at\":1795662292011,\"kind\":\"access\",\"card\":\"0450 1234 5678\","
			"\"result\":\"granted\",\"reason\":\"granted\"}");
	CHECK_INT(evq_event_json(&e, json, 20), -1);
	evq_free(&q);
}

TEST(devsim_store_keeps_state_and_events)
{
	char dir[300], path[400];
	struct store_meta m, back;
	struct evq q;
	struct devsim_event e;
	long long last;
	char err[200];
	int fd;

	snprintf(dir, sizeof dir, "%s/term", t_tmpdir());
	mkdir(dir, 0700);
	CHECK_INT(store_meta_load(dir, &m, err, sizeof err), 1);
	snprintf(m.uid, sizeof m.uid, "t00c04dabefd38e7");
	snprintf(m.name, sizeof m.name, "devsim-1");
	snprintf(m.firmware, sizeof m.firmware, "2.4.1");
	m.device_id = 9;
	m.next_seq = 43;
	m.acked = 40;
	m.lockdown = 1;
	for (int64_t id = 1; id <= 70; id++)
		store_exec_add(&m, id, id % 2, id % 2 ? SW_NONE : SW_EXPIRED);
	CHECK_INT(store_meta_save(dir, &m), 0);
	CHECK_INT(store_meta_load(dir, &back, err, sizeof err), 0);
	CHECK_STR(back.uid, "t00c04dabefd38e7");
	CHECK_INT(back.device_id, 9);
	CHECK_INT(back.next_seq, 43);
	CHECK_INT(back.acked, 40);
	CHECK_INT(back.lockdown, 1);
	/* The last 64 command ids, with how they ended. */
	CHECK(store_exec_find(&back, 6) == NULL);
	CHECK(store_exec_find(&back, 7) != NULL);
	CHECK_INT(store_exec_find(&back, 70)->done, 0);
	CHECK_INT(store_exec_find(&back, 70)->why, SW_EXPIRED);
	CHECK_INT(store_exec_find(&back, 69)->done, 1);

	/* Events: 39..42 written, 40 acked; a crash cut line 43 short. */
	CHECK((fd = store_log_open(dir)) >= 0);
	for (long long s = 39; s <= 42; s++) {
		e = ev(s);
		CHECK_INT(store_log_append(fd, &e), 0);
	}
	CHECK(write(fd, "{\"seq\":43,\"at\":17956", 20) == 20);
	evq_init(&q, back.acked);
	CHECK_INT(store_log_load(dir, &q, &last, err, sizeof err), 0);
	CHECK_INT(last, 42);
	CHECK_INT(evq_len(&q), 2);
	CHECK_INT(evq_at(&q, 0)->seq, 41);
	CHECK_STR(evq_at(&q, 1)->card, "0450 1234 5678");
	CHECK_INT(evq_at(&q, 1)->door_id, 7);
	CHECK_INT(evq_at(&q, 1)->at, 1795662292006LL + 42);
	/* The cut line is gone: the next append starts a line of its own. */
	e = ev(43);
	CHECK_INT(store_log_append(fd, &e), 0);
	evq_free(&q);
	evq_init(&q, 40);
	CHECK_INT(store_log_load(dir, &q, &last, err, sizeof err), 0);
	CHECK_INT(last, 43);
	CHECK_INT(evq_len(&q), 3);
	/* Everything acked: the log is emptied. */
	CHECK_INT(store_log_reset(fd), 0);
	evq_free(&q);
	evq_init(&q, 43);
	CHECK_INT(store_log_load(dir, &q, &last, err, sizeof err), 0);
	CHECK_INT(last, 0);
	CHECK_INT(evq_len(&q), 0);
	close(fd);
	evq_free(&q);

	/* A damaged line in the middle is an error, not silently skipped. */
	snprintf(path, sizeof path, "%s/events.log", dir);
	CHECK_INT(write_text(path, "{\"seq\":1,\"at\":1,\"kind\":\"access\"}\nnot json\n"), 0);
	evq_init(&q, 0);
	CHECK_INT(store_log_load(dir, &q, &last, err, sizeof err), -1);
	CHECK_CONTAINS(err, "events.log:2");
	evq_free(&q);
}

TEST(devsim_store_copy_round_trip)
{
	char dir[300], err[200];
	struct local *l = load_site(), back;

	snprintf(dir, sizeof dir, "%s/copy", t_tmpdir());
	mkdir(dir, 0700);
	local_init(&back);
	CHECK_INT(store_copy_load(dir, &back, err, sizeof err), 1);
	CHECK_INT(store_copy_save(dir, l), 0);
	CHECK_INT(store_copy_load(dir, &back, err, sizeof err), 0);
	CHECK_INT(back.cursor, 41);
	CHECK_STR(reason(&back, "0450-1234-5678", 7, utc(2026, 11, 26, 1, 0)), "granted");
	local_free(&back);
	local_free(l);
}

TEST(devsim_cards_from_a_file_and_random)
{
	char path[300], err[200], card[LOCAL_CARD_MAX], digits[LOCAL_CARD_MAX];
	struct cards c;
	int from_file, unknown = 0;

	snprintf(path, sizeof path, "%s/cards.txt", t_tmpdir());
	CHECK_INT(write_text(path, "# staff\n0450 1234 5678\n\n777000111\r\n"), 0);
	CHECK_INT(cards_load(&c, path, 0.5, err, sizeof err), 0);
	CHECK_INT(c.n, 2);
	for (int i = 0; i < 400; i++) {
		cards_pick(&c, card, &from_file);
		CHECK_INT(cards_digits(card, digits, sizeof digits) >= 4, 1);
		if (from_file) {
			CHECK(!strcmp(card, "0450 1234 5678") || !strcmp(card, "777000111"));
		}
		else {
			unknown++;
			CHECK(strcmp(digits, "045012345678") && strcmp(digits, "777000111"));
		}
	}
	CHECK(unknown > 100 && unknown < 300);
	cards_free(&c);
	CHECK_INT(write_text(path, "12345\n12\"34\n"), 0);
	CHECK_INT(cards_load(&c, path, 0.05, err, sizeof err), -1);
	CHECK_CONTAINS(err, "line 2");
	for (int i = 0; i < 50; i++) {
		cards_random(card);
		CHECK_INT(cards_digits(card, digits, sizeof digits), 12);
	}
}

TEST(devsim_firmware_download_resumes_and_verifies)
{
	char dir[300], err[200], hex[65], sha[65], params[400], msg[200], b64s[64];
	unsigned char image[40], h[32];
	struct fw_job j;
	enum store_why why;
	cJSON *p, *m;

	for (size_t i = 0; i < sizeof image; i++)
		image[i] = (unsigned char)(i * 7);
	crypto_hash_sha256(h, image, sizeof image);
	sodium_bin2hex(sha, sizeof sha, h, sizeof h);
	snprintf(dir, sizeof dir, "%s/fw", t_tmpdir());
	mkdir(dir, 0700);
	snprintf(params, sizeof params, "{\"image_id\":3,\"model\":\"GH-SIM\",\"version\":\"2.5.0\",\"size\":40,"
					"\"sha256\":\"%s\",\"chunk_size\":16}", sha);
	p = cJSON_Parse(params);
	CHECK_INT(fw_begin(&j, dir, 90, p, "OTHER", &why), -1);
	CHECK_INT(why, SW_WRONG_MODEL);
	CHECK_INT(fw_begin(&j, dir, 90, p, "GH-SIM", &why), 0);
	CHECK_INT(j.have, 0);
	b64(image, 16, b64s, sizeof b64s);
	snprintf(msg, sizeof msg, "{\"image_id\":3,\"offset\":0,\"data\":\"%s\",\"last\":false}", b64s);
	m = cJSON_Parse(msg);
	CHECK_INT(fw_chunk(&j, dir, m, err, sizeof err), FW_MORE);
	CHECK_INT(fw_chunk(&j, dir, m, err, sizeof err), FW_IGNORE); /* a stale repeat */
	cJSON_Delete(m);
	/* A restart finds the download and its command on disk. */
	CHECK_INT(fw_restore(&j, dir), 0);
	CHECK_INT(j.command_id, 90);
	CHECK_INT(j.have, 16);
	CHECK_STR(j.version, "2.5.0");
	/* Interrupted: the command arrives again and the download resumes. */
	CHECK_INT(fw_begin(&j, dir, 90, p, "GH-SIM", &why), 0);
	CHECK_INT(j.have, 16);
	b64(image + 16, 24, b64s, sizeof b64s);
	snprintf(msg, sizeof msg, "{\"image_id\":3,\"offset\":16,\"data\":\"%s\",\"last\":true}", b64s);
	m = cJSON_Parse(msg);
	CHECK_INT(fw_chunk(&j, dir, m, err, sizeof err), FW_COMPLETE);
	cJSON_Delete(m);
	CHECK_INT(fw_verify(&j, dir, 0, hex), 1);
	CHECK_STR(hex, sha);
	/* One damaged byte is seen. */
	CHECK_INT(fw_verify(&j, dir, 1, hex), 0);
	fw_discard(&j, dir);
	CHECK_INT(fw_restore(&j, dir), -1);
	CHECK_INT(fw_begin(&j, dir, 91, p, "GH-SIM", &why), 0);
	CHECK_INT(j.have, 0);
	m = cJSON_Parse("{\"image_id\":3,\"offset\":0,\"error\":\"no such image for this terminal\"}");
	CHECK_INT(fw_chunk(&j, dir, m, err, sizeof err), FW_ERROR);
	CHECK_CONTAINS(err, "no such image");
	cJSON_Delete(m);
	fw_discard(&j, dir);
	cJSON_Delete(p);
}

TEST(devsim_csr_names_the_uid)
{
	mbedtls_pk_context key;
	mbedtls_x509_csr csr;
	char pem[4096], subject[200];

	mbedtls_pk_init(&key);
	mbedtls_x509_csr_init(&csr);
	CHECK_INT(certgen_new_key(&key), 0);
	CHECK_INT(enroll_csr(&key, "te00c04dabefd38e7", pem, sizeof pem), 0);
	CHECK_INT(mbedtls_x509_csr_parse(&csr, (unsigned char *)pem, strlen(pem) + 1), 0);
	CHECK(mbedtls_x509_dn_gets(subject, sizeof subject, &csr.subject) > 0);
	CHECK_STR(subject, "CN=te00c04dabefd38e7");
	mbedtls_x509_csr_free(&csr);
	mbedtls_pk_free(&key);
}
