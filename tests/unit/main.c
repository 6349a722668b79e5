/* The unit-test runner: runs every registered test (or those whose name
 * contains argv[1]) and prints TAP lines and a summary. */
#include "t.h"

#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_TESTS 1024

static struct {
	const char *name, *file;
	void (*fn)(void);
} tests[MAX_TESTS];
static int ntests, failed_now;
static char tmpdir[256];

void t_register(const char *name, void (*fn)(void), const char *file)
{
	if (ntests < MAX_TESTS) {
		const char *base = strrchr(file, '/');
		tests[ntests].name = name;
		tests[ntests].file = base ? base + 1 : file;
		tests[ntests++].fn = fn;
	}
}

void t_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("#   %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failed_now = 1;
}

const char *t_tmpdir(void)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof tmpdir, "/tmp/gh-unit-XXXXXX");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			exit(1);
		}
	}
	return tmpdir;
}

static void cleanup_tmp(void)
{
	char cmd[300];

	if (tmpdir[0]) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
		tmpdir[0] = '\0';
	}
}

int main(int argc, char **argv)
{
	int n = 0, passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < ntests; i++) {
		if (argc > 1 && !strstr(tests[i].name, argv[1]))
			continue;
		failed_now = 0;
		tests[i].fn();
		cleanup_tmp();
		n++;
		printf("%sok %d - %s: %s\n", failed_now ? "not " : "", n, tests[i].file, tests[i].name);
		if (failed_now)
			failed++;
		else
			passed++;
	}
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
