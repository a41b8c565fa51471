/* authverify.c -- GET /auth/verify, the gate for services behind a reverse
 * proxy: nginx auth_request, Traefik ForwardAuth, Envoy ext_authz over HTTP
 * (which sends the original method and appends the original path, hence
 * every method and every path below /auth/verify).
 *
 * Answers:
 *  - 200, no body, with the caller's identity as headers the proxy passes
 *    on: X-User-Subject, X-User-Client-Id, X-User-Scopes (space-
 *    separated), X-User-Email, and flyteadmin's X-User-Claim-<Name> (every
 *    claim of the token, `_` in its name written `-`, its value as JSON),
 *    as flyteadmin's /me hook writes them.
 *  - 401 with `WWW-Authenticate: Bearer` (error="invalid_token" for a bad
 *    token), 403 error="insufficient_scope" scope="<requiredScope>", 400
 *    invalid_request, 503 when the external server's keys are not loaded.
 *  - 302 to <public URL>/login?redirect_url=<where the browser was going>
 *    for a browser (Accept: text/html) with no credential at all, when the
 *    destination is known -- `?rd=<URL>`, or X-Forwarded-Uri (with
 *    X-Forwarded-Host and -Proto) from a trusted proxy -- and /login would
 *    accept it as redirect_url (a path here or an absolute URL on an
 *    authorizedUris origin: no open redirect). Traefik passes this answer
 *    to the browser; nginx treats anything but 2xx/401/403 from
 *    auth_request as an error, so an nginx config asks with ?rd= from its
 *    error_page 401 location instead (README).
 *
 * Header values are safe whatever a token says: the plain ones (subject,
 * client id, scopes, email) are written as they are when they are visible
 * ASCII without '%', else percent-encoded byte by byte ('%' included, so
 * the encoding is unambiguous); claims are JSON with every non-ASCII
 * character escaped. No CR, LF or NUL can reach a header, every value is at
 * most FA_GATE_MAX_HEADER_VALUE bytes, and claim headers stop at
 * FA_GATE_MAX_CLAIM_HEADERS and FA_GATE_MAX_CLAIM_BYTES in all (a claim
 * that does not fit is left out, never cut).
 *
 * For a token the headers are rendered once, when it is verified, and
 * remembered with it (cache.c): a cache hit answers with a copy.
 */
#include <stdlib.h>
#include <string.h>

#include "gate/gate_int.h"

/* All X-User-Claim-* bytes of one answer: nginx reads an auth_request
 * answer's headers into one proxy_buffer_size (4 KiB by default) together
 * with the status line and the other headers. */
#define FA_GATE_MAX_CLAIM_BYTES 3072
/* Claims looked at in one token (sorted by name before choosing). */
#define FA_GATE_MAX_CLAIMS_SCANNED 256
/* A claim name that can become a header name. */
#define FA_GATE_MAX_CLAIM_NAME 64

static bool plain_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '%';
}

/* s as a header value: as it is, or percent-encoded (see above). */
static enum fa_rc put_plain(struct fa_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	enum fa_rc rc = FA_OK;

	for (const unsigned char *p = (const unsigned char *)s; *p && rc == FA_OK; p++) {
		if (plain_ok(*p)) {
			rc = fa_buf_appendc(b, (char)*p);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };

			rc = fa_buf_append(b, e, 3);
		}
	}
	return rc;
}

/* Appends "name\0value\0" with value = put_plain(s); over the cap the
 * header is left out. */
static enum fa_rc add_plain(struct fa_buf *b, const char *name, const char *s)
{
	struct fa_buf v;
	enum fa_rc rc;

	if (!s || !*s)
		return FA_OK;
	fa_buf_init(&v, FA_GATE_MAX_HEADER_VALUE);
	rc = put_plain(&v, s);
	if (rc == FA_OK)
		rc = fa_buf_append(b, name, strlen(name) + 1);
	if (rc == FA_OK)
		rc = fa_buf_append(b, fa_buf_str(&v), v.len + 1);
	fa_buf_cleanup(&v);
	return rc == FA_ETOOBIG ? FA_OK : rc;
}

static enum fa_rc add_scopes(struct fa_buf *b, const struct fa_gate_principal *p)
{
	struct fa_buf v;
	enum fa_rc rc = FA_OK;

	if (!p->n_scopes)
		return FA_OK;
	fa_buf_init(&v, FA_GATE_MAX_HEADER_VALUE);
	for (size_t i = 0; i < p->n_scopes && rc == FA_OK; i++) {
		if (i)
			rc = fa_buf_appendc(&v, ' ');
		if (rc == FA_OK)
			rc = put_plain(&v, p->scopes[i]);
	}
	if (rc == FA_OK)
		rc = fa_buf_append(b, "X-User-Scopes", sizeof("X-User-Scopes"));
	if (rc == FA_OK)
		rc = fa_buf_append(b, fa_buf_str(&v), v.len + 1);
	fa_buf_cleanup(&v);
	return rc == FA_ETOOBIG ? FA_OK : rc;
}

/* "X-User-Claim-" + the claim name as flyteadmin (Go's canonical header
 * form, `_` -> `-`) into out; false when the name cannot be a header name. */
static bool claim_header_name(const char *claim, char *out, size_t cap)
{
	static const char prefix[] = "X-User-Claim-";
	size_t n = strlen(claim), o = sizeof(prefix) - 1;
	bool up = true;

	if (n == 0 || n > FA_GATE_MAX_CLAIM_NAME || o + n + 1 > cap)
		return false;
	memcpy(out, prefix, o);
	for (size_t i = 0; i < n; i++) {
		char c = claim[i] == '_' ? '-' : claim[i];

		/* Letters, digits and '-' only: the tchar set also allows
		 * "!#$&'*+.^`|~", which some proxies mangle in variable names. */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
		if (c >= 'a' && c <= 'z' && up)
			c = (char)(c - 'a' + 'A');
		else if (c >= 'A' && c <= 'Z' && !up)
			c = (char)(c - 'A' + 'a');
		up = c == '-';
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static enum fa_rc add_claims(const struct fa_gate *g, struct fa_buf *b, json_t *claims)
{
	const char *keys[FA_GATE_MAX_CLAIMS_SCANNED];
	size_t n = 0, added = 0, bytes = 0;
	const char *k;
	json_t *v;
	enum fa_rc rc = FA_OK;

	json_object_foreach(claims, k, v) {
		if (n == ARRAY_LEN(keys))
			break;
		keys[n++] = k;
	}
	/* Sorted, so which claims fit does not depend on a hash order. */
	qsort(keys, n, sizeof(keys[0]), cmp_str);
	for (size_t i = 0; i < n && rc == FA_OK; i++) {
		char name[FA_GATE_MAX_CLAIM_NAME + 16];
		char *val;
		size_t vlen, need;

		if (!claim_header_name(keys[i], name, sizeof(name)))
			continue;
		val = json_dumps(json_object_get(claims, keys[i]),
				 JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
		if (!val)
			return FA_ENOMEM;
		vlen = strlen(val);
		need = strlen(name) + vlen;
		if (vlen <= FA_GATE_MAX_HEADER_VALUE && added < FA_GATE_MAX_CLAIM_HEADERS &&
		    bytes + need <= FA_GATE_MAX_CLAIM_BYTES) {
			rc = fa_buf_append(b, name, strlen(name) + 1);
			if (rc == FA_OK)
				rc = fa_buf_append(b, val, vlen + 1);
			added++;
			bytes += need;
		} else {
			fa_log(g->log, FA_LOG_DEBUG, "gate: claim %s left out of the identity "
			       "headers (too large or too many)", name + 13);
		}
		free(val);
	}
	return rc;
}

char *fa_gate_identity_headers(const struct fa_gate *g, const struct fa_gate_principal *p,
			       size_t *len)
{
	json_t *claims = NULL, *ui = NULL;
	const char *email;
	struct fa_buf b;
	enum fa_rc rc;
	char *out = NULL;

	*len = 0;
	fa_buf_init(&b, FA_MAX_HEADERS_TOTAL);
	fa_gate_principal_json(p, &claims, &ui);
	/* flyteadmin: a top-level `email` claim wins over user_info's. */
	email = json_string_value(json_object_get(claims, "email"));
	if (!email)
		email = json_string_value(json_object_get(ui, "email"));
	rc = add_plain(&b, "X-User-Subject", p->subject);
	if (rc == FA_OK)
		rc = add_plain(&b, "X-User-Client-Id", p->client_id);
	if (rc == FA_OK)
		rc = add_scopes(&b, p);
	if (rc == FA_OK)
		rc = add_plain(&b, "X-User-Email", email);
	if (rc == FA_OK && json_is_object(claims))
		rc = add_claims(g, &b, claims);
	if (rc == FA_OK && b.len == 0)
		rc = fa_buf_append(&b, "", 0);
	if (rc == FA_OK)
		out = fa_buf_take(&b, len);
	fa_buf_cleanup(&b);
	json_decref(claims);
	json_decref(ui);
	return out;
}

/* Where the browser was going, or NULL. */
static const char *destination(struct fa_req *req)
{
	const char *rd = fa_req_query(req, "rd");
	const char *uri, *host, *proto;

	if (rd)
		return rd;
	if (!fa_req_forwarded_trusted(req))
		return NULL;
	uri = fa_req_header(req, "X-Forwarded-Uri");
	host = fa_req_header(req, "X-Forwarded-Host");
	proto = fa_req_header(req, "X-Forwarded-Proto");
	if (!uri || uri[0] != '/')
		return NULL;
	if (!host)
		host = fa_req_header(req, "Host");
	if (!proto)
		proto = fa_req_is_https(req) ? "https" : "http";
	if (!host || (strcmp(proto, "https") != 0 && strcmp(proto, "http") != 0))
		return NULL;
	return fa_arena_printf(fa_req_arena(req), "%s://%s%s", proto, host, uri);
}

/* Accept names text/html (a browser navigating). One pass over the value:
 * it may be 8 KiB of anything. */
static bool wants_html(struct fa_req *req)
{
	static const char want[] = "text/html";
	const char *accept = fa_req_header(req, "Accept");
	size_t n = accept ? strlen(accept) : 0, k = sizeof(want) - 1;

	for (size_t i = 0; i + k <= n; i++)
		if (fa_strn_ieq(accept + i, k, want))
			return true;
	return false;
}

/* A browser with no credential goes to /login and comes back to where it
 * was going. true when resp holds that redirect. */
static bool send_to_login(const struct fa_gate *g, struct fa_req *req, struct fa_resp *resp)
{
	const char *to;
	struct fa_err e;
	struct fa_buf b;
	bool done = false;

	if (!g->redirect_check || !wants_html(req) || !(to = destination(req)))
		return false;
	fa_err_clear(&e);
	if (g->redirect_check(g->identity, to, &e) != FA_OK) {
		fa_log(g->log, FA_LOG_INFO, "gate: /auth/verify: not redirecting to login: %s",
		       e.msg);
		return false;
	}
	fa_buf_init(&b, 4 * FA_MAX_REDIRECT_URI);
	if (fa_buf_appends(&b, g->issuer) == FA_OK &&
	    fa_buf_appends(&b, "/login?redirect_url=") == FA_OK &&
	    fa_buf_append_pct(&b, to, NULL) == FA_OK)
		done = fa_resp_redirect(resp, 302, fa_buf_str(&b), NULL) == FA_OK;
	fa_buf_cleanup(&b);
	return done;
}

/* "Name\0value\0..." (request-arena memory) as response headers. */
static void send_headers(const struct fa_gate *g, struct fa_resp *resp, const char *h, size_t n)
{
	const char *end = h + n;
	struct fa_err e;

	while (h && h < end) {
		const char *name = h, *value = name + strlen(name) + 1;

		if (value >= end)
			break;
		fa_err_clear(&e);
		if (fa_resp_header_add(resp, name, value, &e) != FA_OK)
			fa_log(g->log, FA_LOG_DEBUG, "gate: /auth/verify: header %s left out: %s",
			       name, e.msg);
		h = value + strlen(value) + 1;
	}
}

void fa_gate_auth_verify(struct fa_req *req, struct fa_resp *resp, void *app)
{
	const struct fa_gate *g = app;
	struct fa_gate_request in = { fa_gate_req_header, req, req };
	struct fa_gate_caller *c = fa_arena_alloc(fa_req_arena(req), sizeof(*c));
	struct fa_err err;
	enum fa_rc rc;
	char *h = NULL;
	size_t n = 0;
	int status;

	if (!c) {
		fa_resp_oauth_error(resp, 500, "server_error", "out of request memory");
		return;
	}
	rc = fa_gate_verify_caller(g, &in, fa_req_arena(req), c, &err);
	if (rc == FA_OK) {
		if (!c->headers) {
			/* A session (or no cache): rendered now, into the arena. */
			char *copy;

			h = fa_gate_identity_headers(g, &c->p, &n);
			copy = h ? fa_arena_alloc(fa_req_arena(req), n + 1) : NULL;
			if (copy)
				memcpy(copy, h, n);
			free(h);
			send_headers(g, resp, copy, copy ? n : 0);
		} else {
			send_headers(g, resp, c->headers, c->headers_len);
		}
		if (fa_resp_status(resp, 200, NULL) != FA_OK)
			fa_resp_oauth_error(resp, 500, "server_error", NULL);
		return;
	}
	if (g->cfg->auth.disable_for_http && fa_gate_refusal_skippable(rc, &err)) {
		if (fa_resp_status(resp, 200, NULL) != FA_OK)
			fa_resp_oauth_error(resp, 500, "server_error", NULL);
		return;
	}
	if (rc == FA_ENOTFOUND && send_to_login(g, req, resp))
		return;
	status = fa_http_bearer_status(rc, err.oauth_error);
	switch (status) {
	case 400:
	case 401:
	case 403:
		fa_resp_bearer_challenge(resp, status, err.oauth_error,
					 err.msg[0] ? err.msg : NULL,
					 status == 403 ? g->required_scope : NULL);
		break;
	case 503:
		fa_resp_oauth_error(resp, 503, "temporarily_unavailable", err.msg);
		break;
	default:
		fa_log_warnx(g->log, "gate: /auth/verify: %s: %s", fa_rc_str(rc), err.msg);
		fa_resp_oauth_error(resp, 500, "server_error", "authentication unavailable");
	}
}
