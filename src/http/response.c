/* response.c -- building a response: status, headers, body, JSON, redirects,
 * cookies, OAuth and bearer errors, and the headers every response carries.
 *
 * A response is plain data in the request arena; server.c turns it into an
 * MHD response. Every value that ends up in a header is checked here, so a
 * handler cannot be tricked into header injection by a value it echoes.
 * Nothing here decides *whether* an answer is right (a redirect target, a
 * cookie's lifetime): handlers do.
 */
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

/* Headers a handler may not set directly: each has a dedicated setter, or
 * belongs to the transport (MHD computes the framing itself). */
static const char *const refused_headers[] = {
	"Content-Type", "Content-Length", "Transfer-Encoding", "Connection", "Set-Cookie",
};

/* Strict enough for pages that only show a form and post it back. A page
 * whose form submission ends in a redirect to another origin (Chromium
 * applies form-action to the redirect chain) must set a wider policy. */
static const char html_csp[] =
	"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

void fa_resp_init(struct fa_resp *resp, struct fa_arena *a)
{
	memset(resp, 0, sizeof(*resp));
	resp->arena = a;
}

bool fa_http_header_value_ok(const char *v)
{
	size_t n;

	if (!v)
		return false;
	n = strlen(v);
	if (n > FA_MAX_HEADER)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		/* RFC 9110 §5.5: VCHAR, SP, HTAB; obs-text is not ours to send. */
		if ((c < 0x20 && c != '\t') || c >= 0x7F)
			return false;
	}
	return true;
}

const char *fa_resp_header_get(const struct fa_resp *resp, const char *name)
{
	for (size_t i = 0; i < resp->n_headers; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	return NULL;
}

/* Stores a header (copied into the arena unless `borrow`: then name and
 * value already live as long as the request). Replaces an existing one of
 * the same name unless append. `counted`: a handler's own header, limited
 * to FA_HTTP_MAX_RESP_HEADERS so the layer's reserved slots stay free. */
static enum fa_rc put_header_as(struct fa_resp *resp, const char *name, const char *value,
				bool append, bool counted, bool borrow, struct fa_err *err)
{
	struct fa_kv *slot = NULL;
	const char *n, *v;

	if (!append)
		for (size_t i = 0; i < resp->n_headers; i++)
			if (strcasecmp(resp->headers[i].name, name) == 0)
				slot = &resp->headers[i];
	if (!slot && ((counted && resp->n_handler_headers >= FA_HTTP_MAX_RESP_HEADERS) ||
		      resp->n_headers >= ARRAY_LEN(resp->headers)))
		return fa_err_set(err, FA_ETOOBIG, "more than %d response headers",
				  FA_HTTP_MAX_RESP_HEADERS);
	n = borrow ? name : fa_arena_strdup(resp->arena, name);
	v = borrow ? value : fa_arena_strdup(resp->arena, value);
	if (!n || !v)
		return fa_err_set(err, FA_ENOMEM, "out of request memory");
	if (!slot) {
		slot = &resp->headers[resp->n_headers++];
		if (counted)
			resp->n_handler_headers++;
	}
	slot->name = n;
	slot->name_len = strlen(n);
	slot->value = v;
	slot->value_len = strlen(v);
	return FA_OK;
}

static enum fa_rc put_header(struct fa_resp *resp, const char *name, const char *value,
			     bool append, bool counted, struct fa_err *err)
{
	return put_header_as(resp, name, value, append, counted, false, err);
}

enum fa_rc fa_resp_set_internal(struct fa_resp *resp, const char *name, const char *value,
				bool append)
{
	if (!fa_http_header_value_ok(value))
		return FA_EINVAL;
	return put_header(resp, name, value, append, false, NULL);
}

static bool status_ok(int status)
{
	return status >= 200 && status <= 599;
}

enum fa_rc fa_resp_status(struct fa_resp *resp, int status, struct fa_err *err)
{
	if (!status_ok(status))
		return fa_err_set(err, FA_EINVAL, "HTTP status %d out of range", status);
	resp->status = status;
	resp->content_type = NULL;
	resp->body = NULL;
	resp->body_len = 0;
	return FA_OK;
}

/* What a handler may put in a header (both setters). */
static enum fa_rc handler_header_ok(const char *name, const char *value, struct fa_err *err)
{
	if (!name || !fa_token_ok(name, strlen(name)))
		return fa_err_set(err, FA_EINVAL, "response header name is not a token");
	for (size_t i = 0; i < ARRAY_LEN(refused_headers); i++)
		if (strcasecmp(name, refused_headers[i]) == 0)
			return fa_err_set(err, FA_EINVAL, "%s is set by the layer, not by "
					  "fa_resp_header", refused_headers[i]);
	if (!fa_http_header_value_ok(value))
		return fa_err_set(err, FA_EINVAL, "header %.40s: value has a control character or "
				  "is over %d bytes (header injection?)", name, FA_MAX_HEADER);
	return FA_OK;
}

enum fa_rc fa_resp_header(struct fa_resp *resp, const char *name, const char *value,
			  struct fa_err *err)
{
	enum fa_rc rc = handler_header_ok(name, value, err);

	return rc != FA_OK ? rc : put_header(resp, name, value, false, true, err);
}

enum fa_rc fa_resp_header_add(struct fa_resp *resp, const char *name, const char *value,
			      struct fa_err *err)
{
	enum fa_rc rc = handler_header_ok(name, value, err);

	return rc != FA_OK ? rc : put_header_as(resp, name, value, true, true, true, err);
}

enum fa_rc fa_resp_body(struct fa_resp *resp, int status, const char *content_type,
			const void *body, size_t len, struct fa_err *err)
{
	char *copy, *ct;

	if (!status_ok(status))
		return fa_err_set(err, FA_EINVAL, "HTTP status %d out of range", status);
	if (!content_type || !content_type[0] || !fa_http_header_value_ok(content_type))
		return fa_err_set(err, FA_EINVAL, "bad Content-Type for the response");
	if (len > FA_MAX_RESPONSE)
		return fa_err_set(err, FA_ETOOBIG, "response body over %d bytes", FA_MAX_RESPONSE);
	if (len && !body)
		return fa_err_set(err, FA_EINVAL, "response body is NULL");
	copy = fa_arena_strndup(resp->arena, len ? body : "", len);
	ct = fa_arena_strdup(resp->arena, content_type);
	if (!copy || !ct)
		return fa_err_set(err, FA_ENOMEM, "out of request memory");
	resp->status = status;
	resp->content_type = ct;
	resp->body = copy;
	resp->body_len = len;
	return FA_OK;
}

/* First guess at a JSON answer's size: our token responses and /me fit,
 * so almost every answer is serialised once; a larger one a second time
 * into a buffer of its exact size. */
#define JSON_GUESS 2048

enum fa_rc fa_resp_json(struct fa_resp *resp, int status, json_t *json, struct fa_err *err)
{
	const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
	enum fa_rc rc;
	size_t need;
	char *buf;

	if (!json) {
		rc = fa_err_set(err, FA_EINVAL, "no JSON value for the response");
		goto out;
	}
	if (!status_ok(status)) {
		rc = fa_err_set(err, FA_EINVAL, "HTTP status %d out of range", status);
		goto out;
	}
	buf = fa_arena_alloc(resp->arena, JSON_GUESS + 1);
	if (!buf) {
		rc = fa_err_set(err, FA_ENOMEM, "out of request memory");
		goto out;
	}
	need = json_dumpb(json, buf, JSON_GUESS, flags);
	if (need == 0) {
		rc = fa_err_set(err, FA_EINVAL, "JSON value cannot be serialised");
		goto out;
	}
	if (need > FA_MAX_RESPONSE) {
		rc = fa_err_set(err, FA_ETOOBIG, "response body over %d bytes", FA_MAX_RESPONSE);
		goto out;
	}
	if (need > JSON_GUESS) {
		buf = fa_arena_alloc(resp->arena, need + 1);
		if (!buf) {
			rc = fa_err_set(err, FA_ENOMEM, "out of request memory");
			goto out;
		}
		if (json_dumpb(json, buf, need, flags) != need) {
			rc = fa_err_set(err, FA_EINVAL, "JSON value changed while serialised");
			goto out;
		}
	}
	buf[need] = '\0';
	resp->status = status;
	resp->content_type = "application/json";
	resp->body = buf;
	resp->body_len = need;
	rc = FA_OK;
out:
	json_decref(json);
	return rc;
}

enum fa_rc fa_resp_redirect(struct fa_resp *resp, int status, const char *location,
			    struct fa_err *err)
{
	enum fa_rc rc;

	if (status != 302 && status != 303)
		return fa_err_set(err, FA_EINVAL, "redirect status must be 302 or 303, not %d",
				  status);
	if (!location || !location[0] || !fa_http_header_value_ok(location))
		return fa_err_set(err, FA_EINVAL, "redirect Location is empty, over %d bytes or "
				  "has a control character", FA_MAX_HEADER);
	rc = put_header(resp, "Location", location, false, true, err);
	if (rc != FA_OK)
		return rc;
	resp->status = status;
	resp->content_type = NULL;
	resp->body = NULL;
	resp->body_len = 0;
	return FA_OK;
}

enum fa_rc fa_resp_cookie(struct fa_resp *resp, const struct fa_cookie *cookie,
			  struct fa_err *err)
{
	size_t n = 0;
	char *line;
	enum fa_rc rc;

	for (size_t i = 0; i < resp->n_headers; i++)
		if (strcasecmp(resp->headers[i].name, "Set-Cookie") == 0)
			n++;
	if (n >= FA_HTTP_MAX_COOKIES)
		return fa_err_set(err, FA_ETOOBIG, "more than %d cookies in one response",
				  FA_HTTP_MAX_COOKIES);
	rc = fa_http_set_cookie_format(resp->arena, cookie, &line, err);
	if (rc != FA_OK)
		return rc;
	return put_header(resp, "Set-Cookie", line, true, true, err);
}

/* RFC 6749 §5.2 / RFC 6750 §3: error_description is %x20-21 / %x23-5B /
 * %x5D-7E. Anything else is replaced, so the text can sit inside a quoted
 * header parameter without escaping. */
static char *describe(struct fa_arena *a, const char *s)
{
	size_t n = strlen(s);
	char *d;

	if (n > 512)
		n = 512;
	d = fa_arena_alloc(a, n + 1);
	if (!d)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		d[i] = c == '"' ? '\'' : (c < 0x20 || c > 0x7E || c == '\\') ? '?' : (char)c;
	}
	return d;
}

/* Builds the JSON error body; false when even that failed. */
static bool error_body(struct fa_resp *resp, int status, const char *error, const char *desc)
{
	json_t *o = json_object();
	char *code = describe(resp->arena, error);
	char *text = desc ? describe(resp->arena, desc) : NULL;

	if (!o || !code || (desc && !text) ||
	    json_object_set_new(o, "error", json_string(code)) != 0 ||
	    (text && json_object_set_new(o, "error_description", json_string(text)) != 0)) {
		json_decref(o);
		return false;
	}
	return fa_resp_json(resp, status, o, NULL) == FA_OK;
}

void fa_resp_oauth_error(struct fa_resp *resp, int status, const char *error,
			 const char *description)
{
	if (!status_ok(status) || !error_body(resp, status, error ? error : "server_error",
					      description))
		resp->broken = true;
}

void fa_resp_bearer_challenge(struct fa_resp *resp, int status, const char *error,
			      const char *description, const char *scope)
{
	char *code = error ? describe(resp->arena, error) : NULL;
	char *text = description ? describe(resp->arena, description) : NULL;
	char *sc = scope ? describe(resp->arena, scope) : NULL;
	char *hdr;

	if (!status_ok(status) || (error && !code) || (description && !text) || (scope && !sc) ||
	    !error_body(resp, status, error ? error : "unauthorized", description)) {
		resp->broken = true;
		return;
	}
	/* RFC 6750 §3.1: no error attribute when no credentials were sent. */
	if (!code)
		hdr = fa_arena_strdup(resp->arena, "Bearer");
	else
		hdr = fa_arena_printf(resp->arena, "Bearer error=\"%s\"%s%s%s%s%s%s", code,
				      text ? ", error_description=\"" : "", text ? text : "",
				      text ? "\"" : "", sc ? ", scope=\"" : "", sc ? sc : "",
				      sc ? "\"" : "");
	if (!hdr || fa_resp_set_internal(resp, "WWW-Authenticate", hdr, false) != FA_OK)
		resp->broken = true;
}

void fa_resp_bearer_error(struct fa_resp *resp, int status, const char *error,
			  const char *description)
{
	fa_resp_bearer_challenge(resp, status, error, description, NULL);
}

static void set_default(struct fa_resp *resp, const char *name, const char *value)
{
	if (!fa_resp_header_get(resp, name) &&
	    fa_resp_set_internal(resp, name, value, false) != FA_OK)
		resp->broken = true;
}

void fa_resp_finish(struct fa_resp *resp, unsigned route_flags)
{
	if (resp->broken || resp->status == 0) {
		/* Start over: keep nothing a failed handler half-built. */
		struct fa_arena *a = resp->arena;

		fa_resp_init(resp, a);
		resp->status = 500;
		resp->content_type = "application/json";
		resp->body = "{\"error\":\"server_error\"}";
		resp->body_len = strlen(resp->body);
	}
	set_default(resp, "X-Content-Type-Options", "nosniff");
	set_default(resp, "Referrer-Policy", "no-referrer");
	if (resp->content_type && strncasecmp(resp->content_type, "text/html", 9) == 0) {
		set_default(resp, "X-Frame-Options", "DENY");
		set_default(resp, "Content-Security-Policy", html_csp);
	}
	if (route_flags & FA_R_NO_STORE) {
		/* Policy of the route, not the handler's choice: always replace. */
		if (fa_resp_set_internal(resp, "Cache-Control", "no-store", false) != FA_OK ||
		    fa_resp_set_internal(resp, "Pragma", "no-cache", false) != FA_OK)
			resp->broken = true;
	}
}
