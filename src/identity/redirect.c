/* redirect.c -- where identity may send a browser: the open-redirect
 * check for /login and /logout's redirect_url, origins of the configured
 * authorizedUris (read with base's URL grammar), and the escaping of a
 * query value.
 *
 * The rule is an allowlist, not a blocklist: a target is either a path on
 * this server (exactly one leading '/') or an absolute http(s) URL whose
 * origin (scheme, host, port) equals a configured one. Anything the
 * browser might read differently from us is refused outright: backslashes
 * (browsers treat "/\evil.com" as "//evil.com"), controls and spaces
 * (stripped by browsers before parsing), userinfo ("https://ours@evil.com"
 * goes to evil.com), and non-ASCII. The value was percent-decoded once by
 * the HTTP layer; we never decode it again, so "%2F%2Fevil.com" is a
 * relative reference, which is refused.
 */
#include <string.h>

#include "identity/identity_int.h"

/* Visible ASCII only, no backslash. */
static bool chars_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '\\')
			return false;
	}
	return true;
}

enum fa_rc fa_identity_origin_parse(const char *url, struct fa_origin *out,
				    struct fa_err *err)
{
	const char *why = NULL;
	struct fa_url u;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	if (!url || fa_url_parse(url, strnlen(url, FA_MAX_URL + 1), &u, &why) != FA_OK)
		return fa_err_set(err, FA_EINVAL, "URL %s", why ? why : "is missing");
	memcpy(out->scheme, u.https ? "https" : "http", u.https ? 6 : 5);
	out->port = u.port;
	hlen = u.host_len;
	/* A trailing dot names the same host in DNS; compare without it. */
	if (hlen > 1 && u.host[hlen - 1] == '.')
		hlen--;
	if (hlen >= sizeof(out->host))
		return fa_err_set(err, FA_EINVAL, "URL host is too long");
	for (size_t i = 0; i < hlen; i++)
		out->host[i] = (char)((u.host[i] >= 'A' && u.host[i] <= 'Z') ? u.host[i] - 'A' + 'a'
									      : u.host[i]);
	out->host[hlen] = '\0';
	return FA_OK;
}

enum fa_rc fa_identity_redirect_check(const struct fa_origin *origins, size_t n_origins,
				      const char *url, struct fa_err *err)
{
	struct fa_origin o;
	size_t n;

	n = url ? strnlen(url, FA_MAX_REDIRECT_URI + 1) : 0;
	if (n == 0)
		return fa_err_oauth(err, FA_EINVAL, 400, "invalid_request",
				    "redirect_url is empty");
	if (n > FA_MAX_REDIRECT_URI)
		return fa_err_oauth(err, FA_EINVAL, 400, "invalid_request",
				    "redirect_url is longer than %d bytes", FA_MAX_REDIRECT_URI);
	if (!chars_ok(url, n))
		return fa_err_oauth(err, FA_EINVAL, 400, "invalid_request",
				    "redirect_url may only hold visible ASCII without '\\'");
	if (url[0] == '/') {
		/* "//host" is a network-path reference: another origin. */
		if (url[1] == '/')
			return fa_err_oauth(err, FA_EINVAL, 400, "invalid_request",
					    "redirect_url must not start with '//'");
		return FA_OK;
	}
	if (fa_identity_origin_parse(url, &o, NULL) != FA_OK)
		return fa_err_oauth(err, FA_EINVAL, 400, "invalid_request",
				    "redirect_url must be a path on this server or an absolute "
				    "URL on an authorized origin");
	for (size_t i = 0; i < n_origins; i++)
		if (strcmp(origins[i].scheme, o.scheme) == 0 &&
		    strcmp(origins[i].host, o.host) == 0 && origins[i].port == o.port)
			return FA_OK;
	return fa_err_oauth(err, FA_EINVAL, 400, "invalid_request",
			    "redirect_url is not on an authorized origin (auth.authorizedUris)");
}

/* Through base's one encoder, then into the request arena. NULL when s is
 * over FA_MAX_RESPONSE or memory runs out. */
char *fa_identity_query_escape(struct fa_arena *a, const char *s)
{
	struct fa_buf b;
	char *out = NULL;

	if (strlen(s) > FA_MAX_RESPONSE)
		return NULL;
	fa_buf_init(&b, 3 * FA_MAX_RESPONSE);
	if (fa_buf_append_pct(&b, s, "/") == FA_OK)
		out = fa_arena_strndup(a, fa_buf_str(&b), b.len);
	fa_buf_cleanup(&b);
	return out;
}
