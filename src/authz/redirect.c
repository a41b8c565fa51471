/* redirect.c -- which redirect_uri a client may send a browser to.
 *
 * The rule is exact string matching against the client's registered URIs
 * (RFC 6749 §3.1.2.3, OAuth 2.0 Security BCP §4.1): no prefix, no
 * normalisation, no wildcard, since every lenient matcher has been an open
 * redirect somewhere. The one exception is RFC 8252 §7.3: a native app
 * listening on a loopback interface gets an ephemeral port, so for an http
 * URI on localhost, 127.0.0.1 or [::1] the port may differ -- host, path and
 * query must still be identical. Pure logic: no HTTP, no store.
 */
#include <string.h>
#include <strings.h>

#include "authz/authz_int.h"

struct uri_parts {
	bool http;                 /* scheme is exactly "http" */
	const char *host;          /* borrowed from the URI */
	size_t host_len;
	bool has_port;
	const char *rest;          /* path + query, from the first '/' or '?' */
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Splits an absolute http(s) URI; false if it is not one we would ever
 * redirect to. */
static bool uri_split(const char *uri, struct uri_parts *u)
{
	size_t len = strnlen(uri, FA_MAX_REDIRECT_URI + 1);
	const char *p, *auth_end, *colon;

	memset(u, 0, sizeof(*u));
	if (len == 0 || len > FA_MAX_REDIRECT_URI)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)uri[i];

		/* No space, no control, no non-ASCII: what is registered is what
		 * is compared, byte for byte. A fragment is never allowed
		 * (RFC 6749 §3.1.2). */
		if (c <= 0x20 || c >= 0x7f || c == '#')
			return false;
	}
	if (strncmp(uri, "http://", 7) == 0) {
		u->http = true;
		p = uri + 7;
	} else if (strncmp(uri, "https://", 8) == 0) {
		p = uri + 8;
	} else {
		return false;
	}
	auth_end = p + strcspn(p, "/?");
	if (auth_end == p)
		return false;
	/* userinfo ("https://good@evil") is how lenient parsers get fooled. */
	if (memchr(p, '@', (size_t)(auth_end - p)) != NULL)
		return false;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(auth_end - p));

		if (!rb)
			return false;
		u->host = p;
		u->host_len = (size_t)(rb + 1 - p);
		colon = rb + 1 < auth_end ? rb + 1 : NULL;
		if (colon && *colon != ':')
			return false;
	} else {
		colon = memchr(p, ':', (size_t)(auth_end - p));
		u->host = p;
		u->host_len = (size_t)((colon ? colon : auth_end) - p);
		if (u->host_len == 0)
			return false;
	}
	if (colon) {
		uint64_t port;

		if (colon + 1 == auth_end)
			return false;
		for (const char *q = colon + 1; q < auth_end; q++) {
			if (!is_digit(*q))
				return false;
		}
		if (fa_parse_u64(colon + 1, (size_t)(auth_end - colon - 1), 65535, &port) != FA_OK ||
		    port == 0)
			return false;
		u->has_port = true;
	}
	u->rest = auth_end;
	return true;
}

static bool loopback_host(const struct uri_parts *u)
{
	static const char *const names[] = { "localhost", "127.0.0.1", "[::1]" };

	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		if (u->host_len == strlen(names[i]) &&
		    strncasecmp(u->host, names[i], u->host_len) == 0)
			return true;
	}
	return false;
}

bool fa_redirect_uri_ok(const char *uri)
{
	struct uri_parts u;

	return uri != NULL && uri_split(uri, &u);
}

static bool match_one(const char *requested, const struct uri_parts *req, const char *registered)
{
	struct uri_parts reg;

	if (strcmp(requested, registered) == 0)
		return true;
	if (!uri_split(registered, &reg) || !reg.http || !loopback_host(&reg))
		return false;
	/* RFC 8252 §7.3: any port on the same loopback host; everything else
	 * identical. */
	return req->http && req->host_len == reg.host_len &&
	       strncasecmp(req->host, reg.host, reg.host_len) == 0 &&
	       strcmp(req->rest, reg.rest) == 0;
}

bool fa_redirect_match(const char *requested, char *const *registered, size_t n)
{
	struct uri_parts req;

	if (requested == NULL || !uri_split(requested, &req))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (match_one(requested, &req, registered[i]))
			return true;
	}
	return false;
}
