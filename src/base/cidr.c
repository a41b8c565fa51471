/* cidr.c -- address ranges ("10.0.0.0/8", "2001:db8::/32", a bare address
 * for one host) and the test whether a numeric address is in one: which
 * peers are trusted proxies (server.security.trustedProxies). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

/* A numeric address into 16 bytes; IPv4 (and IPv4-mapped IPv6) as v4. */
static bool addr_parse(const char *s, unsigned char out[16], bool *v6)
{
	struct in6_addr a6;
	struct in_addr a4;
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, &a4) == 1) {
		memcpy(out, &a4, 4);
		*v6 = false;
		return true;
	}
	if (inet_pton(AF_INET6, s, &a6) != 1)
		return false;
	if (memcmp(a6.s6_addr, mapped, sizeof(mapped)) == 0) {
		memcpy(out, a6.s6_addr + 12, 4);
		*v6 = false;
		return true;
	}
	memcpy(out, a6.s6_addr, 16);
	*v6 = true;
	return true;
}

enum fa_rc fa_cidr_parse(const char *s, struct fa_cidr *out)
{
	char buf[64];
	const char *slash;
	size_t n;
	uint64_t bits;

	memset(out, 0, sizeof(*out));
	if (!s || (n = strlen(s)) == 0 || n >= sizeof(buf))
		return FA_EINVAL;
	memcpy(buf, s, n + 1);
	slash = strchr(buf, '/');
	if (slash)
		buf[slash - buf] = '\0';
	if (!addr_parse(buf, out->addr, &out->v6))
		return FA_EINVAL;
	if (!slash) {
		out->bits = out->v6 ? 128 : 32;
		return FA_OK;
	}
	if (fa_parse_u64(slash + 1, strlen(slash + 1), out->v6 ? 128 : 32, &bits) != FA_OK)
		return FA_EINVAL;
	out->bits = (unsigned)bits;
	return FA_OK;
}

bool fa_cidr_match(const struct fa_cidr *c, const char *addr)
{
	unsigned char a[16];
	unsigned full, rest;
	bool v6;

	if (!addr_parse(addr, a, &v6) || v6 != c->v6)
		return false;
	full = c->bits / 8;
	rest = c->bits % 8;
	if (memcmp(a, c->addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ c->addr[full]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

bool fa_cidr_any(const struct fa_cidr *list, size_t n, const char *addr)
{
	for (size_t i = 0; i < n; i++)
		if (fa_cidr_match(&list[i], addr))
			return true;
	return false;
}
