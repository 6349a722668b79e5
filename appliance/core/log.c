#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum log_level threshold = LOG_INFO;

static const char *const names[] = {
	[LOG_ERR] = "error", [LOG_WARN] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void log_set_level(enum log_level level) { threshold = level; }

enum log_level log_get_level(void) { return threshold; }

int log_level_parse(const char *name)
{
	for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/* The whole line is formatted first and written with one call, so lines from
 * different threads never interleave. Control characters from the message
 * (which may carry client-supplied text) are replaced so one event is always
 * one line. */
void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	size_t n;
	va_list ap;

	if (level > threshold)
		return;
	if (isatty(STDERR_FILENO))
		n = (size_t)snprintf(line, sizeof line, "%s: ", names[level]);
	else
		n = (size_t)snprintf(line, sizeof line, "<%d>", (int)level);

	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
	va_end(ap);

	n = strlen(line);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = ' ';
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}
