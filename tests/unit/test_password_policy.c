#include "t.h"

#include "domain/password_policy.h"

/* The rule of the design notes: 8+ characters, upper, lower, digit, symbol. */
static const struct password_policy full = {8, 1, 1, 1, 1};

TEST(password_policy_table)
{
	static const struct {
		const char *user, *password;
		const char *why; /* NULL: accepted */
	} cases[] = {
		{"admin", "Str0ng!pass", NULL},
		{"admin", "Aa1!aaaa", NULL},
		{"admin", "Aa1 aaaa", NULL}, /* a space is a symbol */
		/* Length counts code points: 5 kana + 3 = 8 characters in 18 bytes,
		 * and the kana count as symbols. */
		{"taro", "パスワードAa1", NULL},
		{"jurgen", "Jürgen123", NULL}, /* ü is a symbol */
		{"admin", "日本語Aa1xx", NULL},
		{"admin", "😀Aa1xxxx", NULL}, /* 4-byte UTF-8 */

		{"admin", "", "must be at least 8 characters long and contain an upper-case letter, "
			      "a lower-case letter, a digit and a symbol"},
		{"admin", "abc", "must be at least 8 characters long and contain an upper-case letter, "
				 "a digit and a symbol"},
		{"admin", "Aa1!aaa", "must be at least 8 characters long"},
		{"admin", "パスワAa1", "must be at least 8 characters long"},
		{"admin", "aaaaaaaa", "must contain an upper-case letter, a digit and a symbol"},
		{"admin", "AAAAAAA1", "must contain a lower-case letter and a symbol"},
		{"admin", "Aaaaaaa!", "must contain a digit"},
		{"admin", "Aaaaaaa1", "must contain a symbol"},
		{"admin", "パスワードです", "must be at least 8 characters long and contain an "
					  "upper-case letter, a lower-case letter and a digit"},

		{"Adm1n!xyz", "Adm1n!xyz", "must not be the same as the username"},
		{"ADM1N!XYZ", "adm1n!xyz", "must contain an upper-case letter, and must not be the "
					   "same as the username"},
		{"ab", "Ab", "must be at least 8 characters long and contain a digit and a symbol, "
			     "and must not be the same as the username"},
		/* Only ASCII case is folded. */
		{"ÄBC1!defg", "äbc1!defg", "must contain an upper-case letter"},

		{"admin", "Aa1!\taaaa", "contains a control character"},
		{"admin", "Aa1!\naaaa", "contains a control character"},
		{"admin", "Aa1!\x7f" "aaaa", "contains a control character"},
		{"admin", "Aa1!\xc2\x85" "aaaa", "contains a control character"}, /* U+0085 NEL */
		{"admin", "Aa1!\xff" "aaaa", "is not valid UTF-8"},
		{"admin", "Aa1!\xc3", "is not valid UTF-8"},                 /* cut short */
		{"admin", "Aa1!\xc0\xaf" "aaaa", "is not valid UTF-8"},      /* overlong '/' */
		{"admin", "Aa1!\xe0\x80\xaf" "aaaa", "is not valid UTF-8"},  /* overlong */
		{"admin", "Aa1!\xed\xa0\x80" "aaaa", "is not valid UTF-8"},  /* surrogate */
		{"admin", "Aa1!\xf4\x90\x80\x80" "aaa", "is not valid UTF-8"}, /* > U+10FFFF */
		{"admin", "Aa1!\x80" "aaaa", "is not valid UTF-8"},          /* lone continuation */
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char why[256] = "";
		int r = password_check(&full, cases[i].user, cases[i].password, why, sizeof why);
		if (!cases[i].why) {
			if (r != 0)
				t_fail(__FILE__, __LINE__, "'%s' refused: %s", cases[i].password, why);
			CHECK_STR(why, "");
		} else {
			if (r != -1)
				t_fail(__FILE__, __LINE__, "'%s' accepted", cases[i].password);
			CHECK_STR(why, cases[i].why);
		}
	}
}

TEST(password_policy_length_limit_is_in_bytes)
{
	char pw[PASSWORD_MAX_BYTES + 2], why[128] = "";

	memset(pw, 'a', sizeof pw);
	memcpy(pw, "Aa1!", 4);
	pw[PASSWORD_MAX_BYTES] = '\0';
	CHECK_INT(password_check(&full, "admin", pw, why, sizeof why), 0);
	pw[PASSWORD_MAX_BYTES] = 'a';
	pw[PASSWORD_MAX_BYTES + 1] = '\0';
	CHECK_INT(password_check(&full, "admin", pw, why, sizeof why), -1);
	CHECK_STR(why, "is longer than 256 bytes");

	/* 86 kana are 86 characters but 258 bytes. */
	char kana[300] = "Aa1";
	for (int i = 0; i < 86; i++)
		strcat(kana, "あ");
	CHECK_INT(strlen(kana), 261);
	CHECK_INT(password_check(&full, "admin", kana, why, sizeof why), -1);
	CHECK_STR(why, "is longer than 256 bytes");
}

TEST(password_policy_is_configurable)
{
	static const struct password_policy lax = {0, 0, 0, 0, 0};
	static const struct password_policy long_only = {12, 0, 0, 0, 0};
	static const struct password_policy digits = {4, 0, 0, 1, 0};
	char why[256];

	CHECK_INT(password_check(&lax, "admin", "", why, sizeof why), 0);
	CHECK_INT(password_check(&lax, "admin", "x", why, sizeof why), 0);
	CHECK_INT(password_check(&lax, "admin", "admin", why, sizeof why), -1);
	CHECK_STR(why, "must not be the same as the username");
	CHECK_INT(password_check(&long_only, "admin", "correcthorse", why, sizeof why), 0);
	CHECK_INT(password_check(&long_only, "admin", "correcthors", why, sizeof why), -1);
	CHECK_STR(why, "must be at least 12 characters long");
	CHECK_INT(password_check(&digits, "admin", "abcd", why, sizeof why), -1);
	CHECK_STR(why, "must contain a digit");
	CHECK_INT(password_check(&digits, "admin", "abc1", why, sizeof why), 0);
}

TEST(password_policy_tolerates_missing_arguments)
{
	char why[8];

	/* No username: nothing to compare with. */
	CHECK_INT(password_check(&full, NULL, "Aa1!aaaa", why, sizeof why), 0);
	CHECK_INT(password_check(&full, "", "Aa1!aaaa", why, sizeof why), 0);
	/* No room for a reason, or a short one: still the right verdict. */
	CHECK_INT(password_check(&full, "admin", "short", NULL, 0), -1);
	CHECK_INT(password_check(&full, "admin", "short", why, sizeof why), -1);
	CHECK_STR(why, "must be");
	CHECK_INT(password_check(&full, "admin", NULL, why, sizeof why), -1);
}
