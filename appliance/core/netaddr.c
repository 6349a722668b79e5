#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *s, unsigned *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

int netaddr_parse(const char *text, struct sockaddr_storage *out, socklen_t *outlen,
		  char *why, size_t whylen)
{
	char host[64];
	const char *colon;
	size_t hlen;
	unsigned port;

	memset(out, 0, sizeof *out);
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':') {
			snprintf(why, whylen, "'%s' is not [IPv6]:port", text);
			return -1;
		}
		hlen = (size_t)(close - text - 1);
		colon = close + 1;
		if (hlen >= sizeof host)
			goto badhost;
		memcpy(host, text + 1, hlen);
	} else {
		colon = strrchr(text, ':');
		if (!colon) {
			snprintf(why, whylen, "'%s' has no :port", text);
			return -1;
		}
		hlen = (size_t)(colon - text);
		if (hlen >= sizeof host)
			goto badhost;
		memcpy(host, text, hlen);
	}
	host[hlen] = '\0';
	if (parse_port(colon + 1, &port) < 0) {
		snprintf(why, whylen, "port in '%s' must be 0-65535", text);
		return -1;
	}
	if (text[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			goto badhost;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*outlen = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto badhost;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*outlen = sizeof *s4;
	}
	return 0;
badhost:
	snprintf(why, whylen, "'%s': host must be a numeric IPv4 address or [IPv6] address", text);
	return -1;
}

void netaddr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	}
}
