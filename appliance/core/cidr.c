#include "cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* ::ffff:0:0/96, the IPv4-mapped prefix. */
static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parse a bare numeric address; returns the family (4 or 6) or 0. */
static int parse_addr(const char *text, unsigned char addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1)
		return 4;
	if (inet_pton(AF_INET6, text, addr) == 1)
		return 6;
	return 0;
}

/* Decimal 0..max, digits only (no sign, no spaces). */
static int parse_prefix(const char *s, int max)
{
	int v = 0;

	if (!*s || strlen(s) > 3)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v <= max ? v : -1;
}

/* Do the first prefix bits of a and b agree? */
static int prefix_equal(const unsigned char *a, const unsigned char *b, int prefix)
{
	int whole = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, (size_t)whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

/* Clear the bits below prefix in an address of nbytes bytes. */
static void clear_host_bits(unsigned char *addr, int nbytes, int prefix)
{
	for (int i = 0; i < nbytes; i++) {
		int keep = prefix - i * 8;
		if (keep <= 0)
			addr[i] = 0;
		else if (keep < 8)
			addr[i] &= (unsigned char)(0xff << (8 - keep));
	}
}

int cidr_parse(const char *text, struct cidr *out, char *why, size_t whylen)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = text ? strchr(text, '/') : NULL;
	size_t hlen = slash ? (size_t)(slash - text) : (text ? strlen(text) : 0);
	struct cidr c, net;
	int max;

	memset(out, 0, sizeof *out);
	memset(&c, 0, sizeof c);
	if (!text || hlen == 0 || hlen >= sizeof host)
		goto bad_addr;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	c.family = parse_addr(host, c.addr);
	if (!c.family)
		goto bad_addr;
	max = c.family == 4 ? 32 : 128;
	c.prefix = slash ? parse_prefix(slash + 1, max) : max;
	if (c.prefix < 0) {
		snprintf(why, whylen, "'%s': the prefix length must be a number from 0 to %d", text,
			 max);
		return -1;
	}
	/* "10.1.2.3/8" usually means the writer mistyped either the address or
	 * the length; guessing which would silently widen or narrow access. */
	net = c;
	clear_host_bits(net.addr, max / 8, net.prefix);
	if (memcmp(net.addr, c.addr, sizeof c.addr) != 0) {
		char fixed[INET6_ADDRSTRLEN + 8];
		cidr_format(&net, fixed, sizeof fixed);
		snprintf(why, whylen, "'%s' has host bits set below the /%d prefix (the network is %s)",
			 text, c.prefix, fixed);
		return -1;
	}
	*out = c;
	return 0;
bad_addr:
	snprintf(why, whylen, "'%s' is not an IPv4 or IPv6 address or address/prefix",
		 text ? text : "");
	return -1;
}

int cidr_contains(const struct cidr *c, const char *addr)
{
	unsigned char a[16], mapped[16];
	int family;

	if (!c || !addr)
		return 0;
	family = parse_addr(addr, a);
	/* A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d. */
	if (family == 6 && memcmp(a, v4mapped, sizeof v4mapped) == 0) {
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
		family = 4;
	}
	if (family == 4 && c->family == 6) {
		/* And the other way round: an IPv6 range such as ::ffff:0:0/96
		 * (or ::/0) covers IPv4 clients in their mapped form. */
		memcpy(mapped, v4mapped, sizeof v4mapped);
		memcpy(mapped + 12, a, 4);
		return prefix_equal(mapped, c->addr, c->prefix);
	}
	if (family != c->family)
		return 0;
	return prefix_equal(a, c->addr, c->prefix);
}

void cidr_format(const struct cidr *c, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (!out || len == 0)
		return;
	if (!inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, host, sizeof host)) {
		out[0] = '\0';
		return;
	}
	snprintf(out, len, "%s/%d", host, c->prefix);
}
