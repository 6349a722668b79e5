#include "t.h"

#include "core/config.h"

#include <stdlib.h>

static int parse(struct config *c, const char *text, char *err, size_t len)
{
	config_init(c);
	return config_parse_text(c, text, strlen(text), "test.conf", err, len);
}

TEST(config_defaults_are_valid)
{
	struct config c;

	CHECK_INT(config_init(&c), 0);
	CHECK_STR(c.text[CFG_WEB_LISTEN], "0.0.0.0:8443");
	CHECK_INT(c.num[CFG_WEB_MAX_BODY], 1024 * 1024);
	CHECK_INT(c.num[CFG_WEB_REQUEST_TIMEOUT], 10000);
	config_free(&c);
}

TEST(config_every_key_is_described)
{
	for (int i = 0; i < CFG__COUNT; i++) {
		const struct config_desc *d = &config_table[i];
		CHECK(d->key != NULL);
		CHECK(d->help != NULL && strlen(d->help) > 10);
		CHECK(d->def != NULL);
		CHECK(config_find(d->key) == i);
		CHECK(d->type != CT_ENUM || d->choices != NULL);
	}
}

TEST(config_parses_values_and_comments)
{
	struct config c;
	char err[256] = "";
	const char *text = "# a comment\n"
			   "\n"
			   "  web.listen = 127.0.0.1:18443 , [::1]:18443  \n"
			   "web.max_body = 64K\n"
			   "web.request_timeout=1500ms\n"
			   "log.level = debug\r\n"
			   "web.names = gate.example, 10.0.0.5 # not a comment\n";

	CHECK_INT(parse(&c, text, err, sizeof err), 0);
	CHECK_STR(err, "");
	CHECK_STR(c.text[CFG_WEB_LISTEN], "127.0.0.1:18443 , [::1]:18443");
	CHECK_INT(c.num[CFG_WEB_MAX_BODY], 65536);
	CHECK_INT(c.num[CFG_WEB_REQUEST_TIMEOUT], 1500);
	CHECK_STR(c.text[CFG_LOG_LEVEL], "debug");
	CHECK_STR(c.text[CFG_WEB_NAMES], "gate.example, 10.0.0.5 # not a comment");
	CHECK_INT(c.line[CFG_WEB_MAX_BODY], 4);
	config_free(&c);
}

TEST(config_errors_name_file_and_line)
{
	static const struct {
		const char *text, *error;
	} cases[] = {
		{"web.lisen = 1.2.3.4:1\n", "test.conf:1: unknown key 'web.lisen'"},
		{"\n\nweb.threads = lots\n", "test.conf:3: web.threads: 'lots' is not a valid integer"},
		{"web.threads = 1\n", "test.conf:1: web.threads: '1' is out of range (2 to 512)"},
		{"web.threads = -4\n", "test.conf:1: web.threads: '-4' is not a valid integer"},
		{"web.request_timeout = 10\n", "test.conf:1: web.request_timeout: '10' is not a valid duration"},
		{"web.request_timeout = 10x\n", "is not a valid duration"},
		{"web.request_timeout = 99999999999999999999s\n", "is not a valid duration"},
		{"web.max_body = 1T\n", "is not a valid size"},
		{"web.max_body = 1G\n", "is out of range"},
		{"log.level = loud\n", "test.conf:1: log.level: 'loud' is not one of error|warning|notice|info|debug"},
		{"log.level = \n", "is not one of"},
		{"web.listen = localhost:8443\n", "host must be a numeric IPv4 address or [IPv6] address"},
		{"web.listen = 1.2.3.4\n", "has no :port"},
		{"web.listen = 1.2.3.4:70000\n", "port in '1.2.3.4:70000' must be 0-65535"},
		{"web.listen = [::1:8443\n", "is not [IPv6]:port"},
		{"web.listen = 1.2.3.4:1,,\n", "empty or overlong address"},
		{"web.listen =\n", "at least one address is needed"},
		{"just words\n", "test.conf:1: expected 'key = value'"},
		{"log.level = info\nlog.level = debug\n", "test.conf:2: 'log.level' is already set on line 1"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct config c;
		char err[256] = "";

		CHECK_INT(parse(&c, cases[i].text, err, sizeof err), -1);
		CHECK_CONTAINS(err, cases[i].error);
		config_free(&c);
	}
}

TEST(config_rejects_nul_and_long_lines)
{
	struct config c;
	char err[256];
	char *big = malloc(8000);

	config_init(&c);
	CHECK_INT(config_parse_text(&c, "log.level = info\0x\n", 19, "f", err, sizeof err), -1);
	CHECK_CONTAINS(err, "f:1: NUL byte");
	memset(big, 'a', 7999);
	big[7999] = '\0';
	CHECK_INT(config_parse_text(&c, big, 7999, "f", err, sizeof err), -1);
	CHECK_CONTAINS(err, "f:1: line longer than");
	free(big);
	config_free(&c);
}

TEST(config_set_overrides_file)
{
	struct config c;
	char err[256] = "";

	CHECK_INT(parse(&c, "web.threads = 8\n", err, sizeof err), 0);
	CHECK_INT(config_set(&c, "web.threads=16", err, sizeof err), 0);
	CHECK_INT(c.num[CFG_WEB_THREADS], 16);
	CHECK_INT(config_set(&c, "web.threads=16x", err, sizeof err), -1);
	CHECK_STR(err, "--set: web.threads: '16x' is not a valid integer");
	CHECK_INT(config_set(&c, "nope=1", err, sizeof err), -1);
	CHECK_STR(err, "--set: unknown key 'nope'");
	CHECK_INT(c.num[CFG_WEB_THREADS], 16);
	config_free(&c);
}

TEST(config_load_file_reports_unreadable)
{
	struct config c;
	char err[256] = "", path[300];
	FILE *f;

	config_init(&c);
	CHECK_INT(config_load_file(&c, "/nonexistent/gatehouse.conf", err, sizeof err), -1);
	CHECK_STR(err, "/nonexistent/gatehouse.conf: cannot read: No such file or directory");
	snprintf(path, sizeof path, "%s/g.conf", t_tmpdir());
	f = fopen(path, "w");
	fputs("web.threads = 4\nweb.bogus = 1\n", f);
	fclose(f);
	CHECK_INT(config_load_file(&c, path, err, sizeof err), -1);
	CHECK_CONTAINS(err, ":2: unknown key 'web.bogus'");
	CHECK(strncmp(err, path, strlen(path)) == 0);
	config_free(&c);
}

TEST(config_defaults_document_lists_every_key)
{
	char *doc = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&doc, &len);
	struct config c;
	char err[256] = "";

	config_write_defaults(f);
	fclose(f);
	for (int i = 0; i < CFG__COUNT; i++) {
		char line[300];
		snprintf(line, sizeof line, "\n#%s = %s\n", config_table[i].key, config_table[i].def);
		CHECK_CONTAINS(doc, line);
	}
	/* The documented file itself is a valid configuration. */
	config_init(&c);
	CHECK_INT(config_parse_text(&c, doc, len, "defaults", err, sizeof err), 0);
	config_free(&c);
	free(doc);
}
