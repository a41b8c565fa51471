/* redirect.c -- where identity may send a browser: the open-redirect
 * check for /login and /logout's redirect_url (base's rule, the one
 * `config check` applies to auth.userAuth.redirectUrl), and the escaping
 * of a query value.
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

enum fa_rc fa_identity_redirect_check(const char *const *origins, size_t n_origins,
				      const char *url, struct fa_err *err)
{
	const char *why = fa_url_target_problem(url, origins, n_origins);

	if (why)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request", "redirect_url %s", why);
	return FA_OK;
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

enum fa_rc fa_identity_redirect_allowed(struct fa_identity *id, const char *url,
					struct fa_err *err)
{
	return fa_identity_redirect_check(id->origins, id->n_origins, url, err);
}
