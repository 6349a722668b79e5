/* cidr: IPv4 and IPv6 address ranges for the admin access allow-list.
 * Pure functions. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) match IPv4
 * ranges, since a dual-stack socket reports IPv4 clients that way. */
#ifndef GH_CIDR_H
#define GH_CIDR_H

#include <stddef.h>

struct cidr {
	int family;              /* 4 or 6 */
	unsigned char addr[16];  /* network address, host bits cleared */
	int prefix;              /* 0..32 or 0..128 */
};

/* "10.0.0.0/8", "192.168.1.7" (a /32), "fd00::/8", "::1". Host bits set
 * below the prefix ("10.1.2.3/8") are refused, as that is usually a typo.
 * Returns 0, or -1 with a reason in why. */
int cidr_parse(const char *text, struct cidr *out, char *why, size_t whylen);

/* Is the textual address addr inside c? 0 for no or for an unparsable addr.
 * An IPv4-mapped addr is compared as IPv4; an IPv4 addr against an IPv6
 * range is compared in its mapped form, so "::ffff:10.0.0.0/104" and
 * "::/0" cover IPv4 clients too. */
int cidr_contains(const struct cidr *c, const char *addr);

/* Canonical text, always with the prefix ("10.0.0.0/8", "192.168.1.7/32",
 * "fd00::/8"); truncated to fit len. INET6_ADDRSTRLEN + 4 is always enough. */
void cidr_format(const struct cidr *c, char *out, size_t len);

#endif
