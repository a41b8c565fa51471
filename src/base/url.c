/* url.c -- absolute http(s) URLs over pointer + length, the one loopback
 * predicate, the one redirect_uri matching rule, and percent-decoding.
 *
 * Every module that reads a URL (the authorization server's redirect URIs,
 * identity's redirect targets, the config's URL keys, the client's
 * endpoints and its loopback listener) parses it here, so a URL one of them
 * accepts means the same to all of them. The grammar is the strict subset
 * described in base.h; anything outside it is refused rather than
 * interpreted. Nothing here resolves a name or touches the network.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"

/* A DNS name is at most 253 characters (RFC 1035 §2.3.4, without the
 * trailing dot); an IPv6 literal in brackets at most 47. */
#define HOST_MAX 253
#define V6_MAX 47

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
	       c == '-' || c == '_';
}

/* Copies an address literal to a NUL-terminated buffer for inet_pton. */
static bool literal(const char *s, size_t n, char *out, size_t cap)
{
	if (n == 0 || n >= cap)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

static const char *parse_host(const char *a, size_t alen, struct fa_url *u, const char **port)
{
	const char *end = a + alen;

	*port = NULL;
	if (a[0] == '[') {
		const char *rb = memchr(a, ']', alen);
		char v6[V6_MAX + 1];
		unsigned char bin[16];

		if (!rb || !literal(a + 1, (size_t)(rb - a - 1), v6, sizeof(v6)) ||
		    inet_pton(AF_INET6, v6, bin) != 1)
			return "has a bad IPv6 address";
		u->host = a;
		u->host_len = (size_t)(rb + 1 - a);
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return "has a bad host";
			*port = rb + 2;
		}
		return NULL;
	}
	u->host = a;
	while (u->host_len < alen && a[u->host_len] != ':') {
		if (!host_char(a[u->host_len]))
			return "has a bad host name";
		u->host_len++;
	}
	if (u->host_len == 0)
		return "has no host";
	if (u->host_len > HOST_MAX)
		return "has a host name longer than 253 characters";
	if (u->host_len < alen)
		*port = a + u->host_len + 1;
	return NULL;
}

static const char *parse_port(const char *p, const char *end, struct fa_url *u)
{
	uint64_t v;

	for (const char *q = p; q < end; q++)
		if (!is_digit(*q))
			return "has a bad port";
	if (fa_parse_u64(p, (size_t)(end - p), 65535, &v) != FA_OK || v == 0)
		return "has a bad port";
	u->has_port = true;
	u->port = (unsigned)v;
	return NULL;
}

/* Splits what follows the authority into path, query and fragment. */
static void split_rest(const char *r, size_t n, struct fa_url *u)
{
	const char *hash = memchr(r, '#', n);
	const char *q;
	size_t before = hash ? (size_t)(hash - r) : n;

	u->rest = r;
	u->rest_len = n;
	if (hash) {
		u->fragment = hash + 1;
		u->fragment_len = n - before - 1;
	}
	q = memchr(r, '?', before);
	u->path = r;
	u->path_len = q ? (size_t)(q - r) : before;
	if (q) {
		u->query = q + 1;
		u->query_len = before - u->path_len - 1;
	}
}

enum fa_rc fa_url_parse(const char *s, size_t n, struct fa_url *u, const char **why)
{
	const char *w = NULL, *auth, *port;
	size_t alen;

	memset(u, 0, sizeof(*u));
	if (n > FA_MAX_URL) {
		if (why)
			*why = "longer than 2048 bytes";
		return FA_ETOOBIG;
	}
	for (size_t i = 0; i < n && !w; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c == 0x7f)
			w = "contains a space or control character";
		else if (c > 0x7f)
			w = "contains a non-ASCII character";
		else if (c == '\\')
			w = "contains a backslash";
	}
	if (w)
		goto bad;
	auth = n >= 3 ? memchr(s, ':', n) : NULL;
	if (!auth || (size_t)(s + n - auth) < 3 || memcmp(auth, "://", 3) != 0 ||
	    memchr(s, '/', (size_t)(auth - s)) || memchr(s, '?', (size_t)(auth - s))) {
		w = "not an absolute http(s) URL";
		goto bad;
	}
	if (auth - s == 5 && strncasecmp(s, "https", 5) == 0) {
		u->https = true;
		u->port = 443;
	} else if (auth - s == 4 && strncasecmp(s, "http", 4) == 0) {
		u->port = 80;
	} else {
		w = "must use http or https";
		goto bad;
	}
	auth += 3;
	for (alen = 0; auth + alen < s + n; alen++)
		if (auth[alen] == '/' || auth[alen] == '?' || auth[alen] == '#')
			break;
	if (alen == 0) {
		w = "has no host";
		goto bad;
	}
	/* userinfo ("https://good@evil") is how lenient parsers get fooled. */
	if (memchr(auth, '@', alen)) {
		w = "must not contain credentials (user@host)";
		goto bad;
	}
	w = parse_host(auth, alen, u, &port);
	if (!w && port)
		w = parse_port(port, auth + alen, u);
	if (w)
		goto bad;
	split_rest(auth + alen, (size_t)(s + n - auth - alen), u);
	return FA_OK;
bad:
	memset(u, 0, sizeof(*u));
	if (why)
		*why = w;
	return FA_EINVAL;
}

bool fa_host_is_loopback(const char *host, size_t n)
{
	char buf[V6_MAX + 1];
	unsigned char bin[16];

	if (n == 9 && strncasecmp(host, "localhost", 9) == 0)
		return true;
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (!literal(host, n, buf, sizeof(buf)))
		return false;
	if (inet_pton(AF_INET, buf, bin) == 1)
		return bin[0] == 127;
	if (inet_pton(AF_INET6, buf, bin) == 1)
		return IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)bin);
	return false;
}

bool fa_url_redirect_ok(const char *uri)
{
	struct fa_url u;

	return uri != NULL &&
	       fa_url_parse(uri, strnlen(uri, FA_MAX_URL + 1), &u, NULL) == FA_OK &&
	       u.fragment == NULL;
}

bool fa_url_redirect_match(const char *requested, const char *registered)
{
	struct fa_url req, reg;

	if (!fa_url_redirect_ok(requested) || registered == NULL)
		return false;
	if (strcmp(requested, registered) == 0)
		return true;
	if (!fa_url_redirect_ok(registered))
		return false;
	if (fa_url_parse(registered, strlen(registered), &reg, NULL) != FA_OK || reg.https ||
	    !fa_host_is_loopback(reg.host, reg.host_len))
		return false;
	if (fa_url_parse(requested, strlen(requested), &req, NULL) != FA_OK)
		return false;
	/* RFC 8252 §7.3: any port on the same loopback host; everything
	 * else identical. */
	return !req.https && req.host_len == reg.host_len &&
	       strncasecmp(req.host, reg.host, reg.host_len) == 0 &&
	       req.rest_len == reg.rest_len && memcmp(req.rest, reg.rest, reg.rest_len) == 0;
}

/* host[0..n) without one trailing dot (the DNS root). */
static size_t host_len(const char *host, size_t n)
{
	return n > 1 && host[n - 1] == '.' ? n - 1 : n;
}

bool fa_url_same_origin(const struct fa_url *a, const struct fa_url *b)
{
	size_t al = host_len(a->host, a->host_len), bl = host_len(b->host, b->host_len);

	return a->https == b->https && a->port == b->port && al == bl &&
	       strncasecmp(a->host, b->host, al) == 0;
}

const char *fa_url_target_problem(const char *target, const char *const *origins, size_t n)
{
	size_t len = target ? strnlen(target, FA_MAX_URL + 1) : 0;
	struct fa_url t, o;

	if (len == 0)
		return "is empty";
	if (len > FA_MAX_URL)
		return "is longer than 2048 bytes";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)target[i];

		/* Browsers strip spaces and controls and read '\' as '/', so
		 * "/\evil.com" would leave this origin. */
		if (c <= 0x20 || c >= 0x7f || c == '\\')
			return "may only hold visible ASCII without '\\'";
	}
	if (target[0] == '/')
		return target[1] == '/' ? "must not start with '//'" : NULL;
	if (fa_url_parse(target, len, &t, NULL) != FA_OK)
		return "must be a path on this server or an absolute URL on an authorized origin";
	for (size_t i = 0; i < n; i++) {
		if (fa_url_parse(origins[i], strlen(origins[i]), &o, NULL) == FA_OK &&
		    fa_url_same_origin(&t, &o))
			return NULL;
	}
	return "is not on an authorized origin (auth.authorizedUris)";
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum fa_rc fa_pct_decode(const char *in, size_t n, unsigned flags, char *out, size_t *outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = in[i];

		if (c == '%') {
			int hi = n - i >= 3 ? hexval(in[i + 1]) : -1;
			int lo = n - i >= 3 ? hexval(in[i + 2]) : -1;

			if (hi < 0 || lo < 0) {
				out[0] = '\0';
				*outlen = 0;
				return FA_EINVAL;
			}
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && (flags & FA_PCT_PLUS)) {
			c = ' ';
		}
		out[o++] = c;
	}
	out[o] = '\0';
	*outlen = o;
	return FA_OK;
}
