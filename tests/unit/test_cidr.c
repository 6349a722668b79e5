#include "t.h"

#include "core/cidr.h"

/* Parse text, which must be valid, and give it back formatted. */
static const char *round_trip(const char *text)
{
	static char out[64];
	struct cidr c;
	char why[256] = "";

	if (cidr_parse(text, &c, why, sizeof why) != 0) {
		t_fail(__FILE__, __LINE__, "'%s' refused: %s", text, why);
		return "";
	}
	cidr_format(&c, out, sizeof out);
	return out;
}

static int contains(const char *range, const char *addr)
{
	struct cidr c;
	char why[256];

	if (cidr_parse(range, &c, why, sizeof why) != 0) {
		t_fail(__FILE__, __LINE__, "'%s' refused: %s", range, why);
		return -1;
	}
	return cidr_contains(&c, addr);
}

TEST(cidr_parses_ipv4_and_ipv6)
{
	struct cidr c;
	char why[256] = "";

	CHECK_INT(cidr_parse("10.0.0.0/8", &c, why, sizeof why), 0);
	CHECK_INT(c.family, 4);
	CHECK_INT(c.prefix, 8);
	CHECK_INT(c.addr[0], 10);
	CHECK_INT(c.addr[1], 0);

	CHECK_INT(cidr_parse("fd00::/8", &c, why, sizeof why), 0);
	CHECK_INT(c.family, 6);
	CHECK_INT(c.prefix, 8);
	CHECK_INT(c.addr[0], 0xfd);

	/* A bare address is a single host. */
	CHECK_INT(cidr_parse("192.168.1.7", &c, why, sizeof why), 0);
	CHECK_INT(c.family, 4);
	CHECK_INT(c.prefix, 32);
	CHECK_INT(cidr_parse("::1", &c, why, sizeof why), 0);
	CHECK_INT(c.family, 6);
	CHECK_INT(c.prefix, 128);
	CHECK_INT(c.addr[15], 1);

	CHECK_INT(cidr_parse("0.0.0.0/0", &c, why, sizeof why), 0);
	CHECK_INT(c.prefix, 0);
	CHECK_INT(cidr_parse("::/0", &c, why, sizeof why), 0);
	CHECK_INT(c.prefix, 0);
	CHECK_INT(cidr_parse("2001:db8::/32", &c, why, sizeof why), 0);
	CHECK_INT(cidr_parse("192.168.1.7/32", &c, why, sizeof why), 0);
	CHECK_STR(why, "");
}

TEST(cidr_refuses_bad_input_with_a_reason)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
		{"10.0.0.0/33", "'10.0.0.0/33': the prefix length must be a number from 0 to 32"},
		{"fd00::/129", "'fd00::/129': the prefix length must be a number from 0 to 128"},
		{"10.0.0.0/", "prefix length must be a number"},
		{"10.0.0.0/-1", "prefix length must be a number"},
		{"10.0.0.0/+8", "prefix length must be a number"},
		{"10.0.0.0/8x", "prefix length must be a number"},
		{"10.0.0.0/ 8", "prefix length must be a number"},
		{"10.0.0.0/0008", "prefix length must be a number"},
		{"10.0.0.0/8/8", "prefix length must be a number"},
		{"10.1.2.3/8", "'10.1.2.3/8' has host bits set below the /8 prefix (the network is 10.0.0.0/8)"},
		{"192.168.1.1/24", "(the network is 192.168.1.0/24)"},
		{"fd00::1/64", "(the network is fd00::/64)"},
		{"garbage", "'garbage' is not an IPv4 or IPv6 address or address/prefix"},
		{"", "is not an IPv4 or IPv6 address"},
		{"/8", "is not an IPv4 or IPv6 address"},
		{"10.0.0/8", "is not an IPv4 or IPv6 address"},
		{"256.0.0.0/8", "is not an IPv4 or IPv6 address"},
		{" 10.0.0.0/8", "is not an IPv4 or IPv6 address"},
		{"example.com/24", "is not an IPv4 or IPv6 address"},
		{"fe80::1%eth0/128", "is not an IPv4 or IPv6 address"},
		{"1:2:3:4:5:6:7:8:9/64", "is not an IPv4 or IPv6 address"},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/8",
		 "is not an IPv4 or IPv6 address"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cidr c;
		char why[256] = "";
		if (cidr_parse(cases[i].text, &c, why, sizeof why) != -1)
			t_fail(__FILE__, __LINE__, "'%s' was accepted", cases[i].text);
		CHECK_CONTAINS(why, cases[i].why);
	}
}

TEST(cidr_contains_at_the_boundaries)
{
	CHECK_INT(contains("10.0.0.0/8", "10.0.0.0"), 1);
	CHECK_INT(contains("10.0.0.0/8", "10.255.255.255"), 1);
	CHECK_INT(contains("10.0.0.0/8", "11.0.0.0"), 0);
	CHECK_INT(contains("10.0.0.0/8", "9.255.255.255"), 0);
	CHECK_INT(contains("192.168.1.0/25", "192.168.1.127"), 1);
	CHECK_INT(contains("192.168.1.0/25", "192.168.1.128"), 0);
	CHECK_INT(contains("172.16.0.0/12", "172.31.255.255"), 1);
	CHECK_INT(contains("172.16.0.0/12", "172.32.0.0"), 0);
	CHECK_INT(contains("192.168.1.7", "192.168.1.7"), 1);
	CHECK_INT(contains("192.168.1.7", "192.168.1.8"), 0);
	CHECK_INT(contains("192.168.1.7/32", "192.168.1.6"), 0);
}

TEST(cidr_zero_prefix_contains_its_whole_family)
{
	CHECK_INT(contains("0.0.0.0/0", "0.0.0.0"), 1);
	CHECK_INT(contains("0.0.0.0/0", "255.255.255.255"), 1);
	CHECK_INT(contains("0.0.0.0/0", "127.0.0.1"), 1);
	CHECK_INT(contains("0.0.0.0/0", "::1"), 0);
	CHECK_INT(contains("0.0.0.0/0", "2001:db8::1"), 0);
	CHECK_INT(contains("::/0", "::"), 1);
	CHECK_INT(contains("::/0", "::1"), 1);
	CHECK_INT(contains("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 1);
}

TEST(cidr_ipv4_mapped_addresses_match_ipv4_ranges)
{
	CHECK_INT(contains("192.168.1.0/24", "::ffff:192.168.1.5"), 1);
	CHECK_INT(contains("192.168.1.0/24", "::FFFF:192.168.1.255"), 1);
	CHECK_INT(contains("192.168.1.0/24", "::ffff:192.168.2.5"), 0);
	CHECK_INT(contains("192.168.1.5", "::ffff:c0a8:105"), 1);
	/* Only the mapped prefix: other IPv6 addresses ending in the same
	 * 32 bits are not IPv4 clients. */
	CHECK_INT(contains("192.168.1.0/24", "::192.168.1.5"), 0);
	CHECK_INT(contains("192.168.1.0/24", "64:ff9b::192.168.1.5"), 0);
	/* The same address written either way is the same client for an
	 * IPv6 range over the mapped space. */
	CHECK_INT(contains("::ffff:192.168.1.0/120", "192.168.1.5"), 1);
	CHECK_INT(contains("::ffff:192.168.1.0/120", "::ffff:192.168.1.5"), 1);
	CHECK_INT(contains("::ffff:192.168.1.0/120", "192.168.2.5"), 0);
	CHECK_INT(contains("fd00::/8", "192.168.1.5"), 0);
}

TEST(cidr_ipv6_prefixes)
{
	CHECK_INT(contains("2001:db8:1:2::/64", "2001:db8:1:2::1"), 1);
	CHECK_INT(contains("2001:db8:1:2::/64", "2001:db8:1:2:ffff:ffff:ffff:ffff"), 1);
	CHECK_INT(contains("2001:db8:1:2::/64", "2001:db8:1:3::"), 0);
	CHECK_INT(contains("2001:db8:1:2::/64", "2001:db8:1:1:ffff:ffff:ffff:ffff"), 0);
	CHECK_INT(contains("fc00::/7", "fdff::1"), 1);
	CHECK_INT(contains("fd00::/8", "fdff::1"), 1);
	CHECK_INT(contains("fc00::/7", "fd12::1"), 1);
	CHECK_INT(contains("fc00::/7", "fe00::1"), 0);
	CHECK_INT(contains("::1", "::1"), 1);
	CHECK_INT(contains("::1", "::2"), 0);
	CHECK_INT(contains("2001:db8::/127", "2001:db8::1"), 1);
	CHECK_INT(contains("2001:db8::/127", "2001:db8::2"), 0);
	CHECK_INT(contains("2001:db8::/64", "10.0.0.1"), 0);
}

TEST(cidr_contains_refuses_unparsable_addresses)
{
	CHECK_INT(contains("0.0.0.0/0", ""), 0);
	CHECK_INT(contains("0.0.0.0/0", "localhost"), 0);
	CHECK_INT(contains("0.0.0.0/0", "10.0.0.1/32"), 0);
	CHECK_INT(contains("0.0.0.0/0", "10.0.0.1 "), 0);
	CHECK_INT(contains("::/0", "fe80::1%eth0"), 0);
	CHECK_INT(contains("0.0.0.0/0", NULL), 0);
}

TEST(cidr_formats_canonically)
{
	char small[8];
	struct cidr c;
	char why[64];

	CHECK_STR(round_trip("10.0.0.0/8"), "10.0.0.0/8");
	CHECK_STR(round_trip("192.168.1.7"), "192.168.1.7/32");
	CHECK_STR(round_trip("0.0.0.0/0"), "0.0.0.0/0");
	CHECK_STR(round_trip("::/0"), "::/0");
	CHECK_STR(round_trip("::1"), "::1/128");
	CHECK_STR(round_trip("FD00:0000:0000::/8"), "fd00::/8");
	CHECK_STR(round_trip("2001:0db8:0:0:0:0:0:0/32"), "2001:db8::/32");
	CHECK_STR(round_trip("2001:db8:0:1::/64"), "2001:db8:0:1::/64");
	CHECK_STR(round_trip("::ffff:10.0.0.0/104"), "::ffff:10.0.0.0/104");

	/* A short buffer gets a truncated but terminated string. */
	CHECK_INT(cidr_parse("192.168.100.0/24", &c, why, sizeof why), 0);
	cidr_format(&c, small, sizeof small);
	CHECK_STR(small, "192.168");
}
