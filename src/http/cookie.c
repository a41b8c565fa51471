/* cookie.c -- the Cookie request header and the Set-Cookie response header
 * (RFC 6265).
 *
 * Reading is lenient, as browsers write: other applications on the same
 * domain may leave malformed cookies, and refusing the request over them
 * would lock users out, so a bad pair is skipped, not fatal. A name sent
 * twice is kept as ambiguous (cookie tossing from a sibling domain) so no
 * caller picks the attacker's copy. Writing is strict: a cookie we cannot
 * express exactly is refused. Sealing and verifying cookie values is the
 * identity module's job, not this file's.
 */
#include <string.h>

#include "http/http_int.h"

/* Longest Path or Domain attribute we write; real ones are a few bytes. */
#define COOKIE_ATTR_MAX 1024
/* RFC 6265bis §5.5: user agents cap Max-Age at 400 days. */
#define COOKIE_MAX_AGE_MAX (400LL * 24 * 3600)

/* RFC 6265 §4.1.1 cookie-octet: visible ASCII except '"', ',', ';', '\'. */
static bool cookie_octets_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x21 || c > 0x7E || c == '"' || c == ',' || c == ';' || c == '\\')
			return false;
	}
	return true;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

enum fa_rc fa_http_cookies_parse(struct fa_arena *a, const char *s, size_t n, struct fa_kvs *out,
				 struct fa_err *err)
{
	struct fa_kv *v;
	size_t count = 0;
	const char *p = s, *end = s + n;
	enum fa_rc rc = FA_OK;

	out->v = NULL;
	out->n = 0;
	v = fa_arena_alloc(a, FA_HTTP_MAX_COOKIES * sizeof(*v));
	if (!v) {
		rc = fa_err_set(err, FA_ENOMEM, "out of request memory");
		goto out;
	}
	while (p < end && count < FA_HTTP_MAX_COOKIES) {
		const char *seg_end = memchr(p, ';', (size_t)(end - p));
		const char *ns, *ne, *vs, *ve, *eq;
		size_t i;

		if (!seg_end)
			seg_end = end;
		ns = p;
		ve = seg_end;
		p = seg_end == end ? end : seg_end + 1;
		while (ns < ve && is_ows(*ns))
			ns++;
		while (ve > ns && is_ows(ve[-1]))
			ve--;
		eq = memchr(ns, '=', (size_t)(ve - ns));
		if (!eq)
			continue;
		ne = eq;
		vs = eq + 1;
		while (ne > ns && is_ows(ne[-1]))
			ne--;
		while (vs < ve && is_ows(*vs))
			vs++;
		if (!fa_token_ok(ns, (size_t)(ne - ns)))
			continue;
		if (ve - vs >= 2 && *vs == '"' && ve[-1] == '"') {
			vs++;
			ve--;
		}
		if ((size_t)(ve - vs) > FA_MAX_COOKIE || !cookie_octets_ok(vs, (size_t)(ve - vs)))
			continue;
		for (i = 0; i < count; i++) {
			if (v[i].name_len == (size_t)(ne - ns) &&
			    memcmp(v[i].name, ns, v[i].name_len) == 0)
				break;
		}
		if (i < count) {
			v[i].value = NULL;     /* sent twice: ambiguous */
			v[i].value_len = 0;
			continue;
		}
		v[count].name = fa_arena_strndup(a, ns, (size_t)(ne - ns));
		v[count].value = fa_arena_strndup(a, vs, (size_t)(ve - vs));
		if (!v[count].name || !v[count].value) {
			rc = fa_err_set(err, FA_ENOMEM, "out of request memory");
			goto out;
		}
		v[count].name_len = (size_t)(ne - ns);
		v[count].value_len = (size_t)(ve - vs);
		count++;
	}
	out->v = v;
	out->n = count;
out:
	return rc;
}

/* Path and Domain: RFC 6265 av-octets (no CTLs, no ';'), bounded. */
static bool attr_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > COOKIE_ATTR_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7E || c == ';')
			return false;
	}
	return true;
}

static bool domain_ok(const char *s)
{
	if (!attr_ok(s) || strlen(s) > 253)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* Writes the validated cookie; fails only when it is over the buffer cap. */
static enum fa_rc append_cookie(struct fa_buf *b, const struct fa_cookie *c)
{
	static const char *const same_site[] = { NULL, "Lax", "Strict", "None" };
	enum fa_rc rc = fa_buf_appendf(b, "%s=%s", c->name, c->value);

	if (rc == FA_OK && c->path)
		rc = fa_buf_appendf(b, "; Path=%s", c->path);
	if (rc == FA_OK && c->domain)
		rc = fa_buf_appendf(b, "; Domain=%s", c->domain);
	/* Expires too for deletion: old user agents ignore Max-Age. */
	if (rc == FA_OK && c->max_age == 0)
		rc = fa_buf_appends(b, "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
	else if (rc == FA_OK && c->max_age > 0)
		rc = fa_buf_appendf(b, "; Max-Age=%lld", (long long)c->max_age);
	if (rc == FA_OK && c->http_only)
		rc = fa_buf_appends(b, "; HttpOnly");
	if (rc == FA_OK && c->secure)
		rc = fa_buf_appends(b, "; Secure");
	if (rc == FA_OK && same_site[c->same_site])
		rc = fa_buf_appendf(b, "; SameSite=%s", same_site[c->same_site]);
	return rc;
}

enum fa_rc fa_http_set_cookie_format(struct fa_arena *a, const struct fa_cookie *c, char **out,
				     struct fa_err *err)
{
	struct fa_buf b;
	enum fa_rc rc;
	size_t name_len, value_len;

	fa_buf_init(&b, FA_MAX_HEADER);
	*out = NULL;
	if (!c || !c->name || !c->value) {
		rc = fa_err_set(err, FA_EINVAL, "cookie needs a name and a value");
		goto out;
	}
	name_len = strlen(c->name);
	value_len = strlen(c->value);
	if (!fa_token_ok(c->name, name_len)) {
		rc = fa_err_set(err, FA_EINVAL, "cookie name is not an RFC 6265 token");
		goto out;
	}
	if (value_len > FA_MAX_COOKIE) {
		rc = fa_err_set(err, FA_ETOOBIG, "cookie %.40s: value over %d bytes", c->name,
				FA_MAX_COOKIE);
		goto out;
	}
	if (!cookie_octets_ok(c->value, value_len)) {
		rc = fa_err_set(err, FA_EINVAL, "cookie %.40s: value has a character outside "
				"cookie-octet", c->name);
		goto out;
	}
	if (c->path && (!attr_ok(c->path) || c->path[0] != '/')) {
		rc = fa_err_set(err, FA_EINVAL, "cookie %.40s: bad Path", c->name);
		goto out;
	}
	if (c->domain && !domain_ok(c->domain)) {
		rc = fa_err_set(err, FA_EINVAL, "cookie %.40s: bad Domain", c->name);
		goto out;
	}
	if (c->max_age < -1 || c->max_age > COOKIE_MAX_AGE_MAX) {
		rc = fa_err_set(err, FA_EINVAL, "cookie %.40s: max_age out of range", c->name);
		goto out;
	}
	if ((unsigned)c->same_site > FA_SAME_SITE_NONE) {
		rc = fa_err_set(err, FA_EINVAL, "cookie %.40s: bad same_site", c->name);
		goto out;
	}
	/* Browsers drop SameSite=None without Secure; say so instead. */
	if (c->same_site == FA_SAME_SITE_NONE && !c->secure) {
		rc = fa_err_set(err, FA_EINVAL, "cookie %.40s: SameSite=None requires Secure",
				c->name);
		goto out;
	}
	/* RFC 6265bis §4.1.3 prefixes: browsers reject violators silently. */
	if (strncmp(c->name, "__Host-", 7) == 0 &&
	    (!c->secure || c->domain || !c->path || strcmp(c->path, "/") != 0)) {
		rc = fa_err_set(err, FA_EINVAL, "cookie %.40s: __Host- needs Secure, Path=/ "
				"and no Domain", c->name);
		goto out;
	}
	if (strncmp(c->name, "__Secure-", 9) == 0 && !c->secure) {
		rc = fa_err_set(err, FA_EINVAL, "cookie %.40s: __Secure- needs Secure", c->name);
		goto out;
	}
	if (append_cookie(&b, c) != FA_OK) {
		rc = fa_err_set(err, FA_ETOOBIG, "cookie %.40s: Set-Cookie over %d bytes", c->name,
				FA_MAX_HEADER);
		goto out;
	}
	*out = fa_arena_strndup(a, fa_buf_str(&b), b.len);
	rc = *out ? FA_OK : fa_err_set(err, FA_ENOMEM, "out of request memory");
out:
	fa_buf_cleanup(&b);
	return rc;
}
