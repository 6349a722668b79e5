#include "t.h"

#include "core/log.h"

#include <unistd.h>

/* Capture what log_msg writes to stderr. */
static void capture(char *out, size_t len, void (*emit)(void))
{
	int fds[2], saved = dup(STDERR_FILENO);
	ssize_t n;

	CHECK_INT(pipe(fds), 0);
	dup2(fds[1], STDERR_FILENO);
	emit();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fds[1]);
	n = read(fds[0], out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fds[0]);
}

static void emit_lines(void)
{
	log_set_level(LOG_INFO);
	log_info("hello %d", 42);
	log_debug("not shown");
	log_err("two\nlines\tand\x1b[31mcolour");
}

TEST(log_prefix_filter_and_one_line)
{
	char out[512];

	capture(out, sizeof out, emit_lines);
	CHECK_STR(out, "<6>hello 42\n<3>two lines and [31mcolour\n");
}

TEST(log_level_names)
{
	CHECK_INT(log_level_parse("debug"), LOG_DEBUG);
	CHECK_INT(log_level_parse("warning"), LOG_WARN);
	CHECK_INT(log_level_parse("loud"), -1);
}
