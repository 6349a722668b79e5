/* t: the unit-test harness. Tests register themselves with TEST(name); the
 * runner (main.c) prints one TAP line per test ("ok N - file: name" or
 * "not ok ...") and a failing CHECK names its file and line. */
#ifndef GH_T_H
#define GH_T_H

#include <stdio.h>
#include <string.h>

void t_register(const char *name, void (*fn)(void), const char *file);
void t_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A fresh temporary directory for this test, removed after the run. */
const char *t_tmpdir(void);

#define TEST(name)                                                                    \
	static void test_##name(void);                                                \
	__attribute__((constructor)) static void reg_##name(void)                     \
	{                                                                             \
		t_register(#name, test_##name, __FILE__);                             \
	}                                                                             \
	static void test_##name(void)

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond))                                                          \
			t_fail(__FILE__, __LINE__, "%s", #cond);                      \
	} while (0)

#define CHECK_INT(a, b)                                                               \
	do {                                                                          \
		long long a_ = (long long)(a), b_ = (long long)(b);                   \
		if (a_ != b_)                                                         \
			t_fail(__FILE__, __LINE__, "%s == %lld, expected %lld", #a, a_, b_); \
	} while (0)

#define CHECK_STR(a, b)                                                               \
	do {                                                                          \
		const char *a_ = (a), *b_ = (b);                                      \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                                \
			t_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a,  \
			       a_ ? a_ : "(null)", b_ ? b_ : "(null)");                  \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                                    \
	do {                                                                          \
		const char *h_ = (hay), *n_ = (needle);                               \
		if (!h_ || !strstr(h_, n_))                                           \
			t_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"",     \
			       h_ ? h_ : "(null)", n_);                                 \
	} while (0)

#endif
