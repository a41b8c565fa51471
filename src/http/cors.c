/* cors.c -- Cross-Origin Resource Sharing for routes marked FA_R_CORS, as
 * flyteadmin's server.security {allowCors, allowedOrigins, allowedHeaders}
 * configures it.
 *
 * flyteadmin (gorilla handlers.CORS) allows credentials for every listed
 * origin; we do the same for explicitly listed origins, but "*" is answered
 * with a literal `*` and never with credentials, so a wildcard config
 * cannot hand a logged-in browser's cookies to any web page. This file only
 * decides headers; it does not authenticate anything (CORS is not access
 * control: the route's own authentication still applies).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

/* How long a browser may cache a preflight answer (Chromium caps at 2 h). */
#define PREFLIGHT_MAX_AGE "600"

/* Request headers a browser may always send (CORS-safelisted). */
static const char *const safelisted[] = { "Accept", "Accept-Language", "Content-Language" };

void fa_http_cors_cleanup(struct fa_http_cors_cfg *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_origins; i++)
		free(cfg->origins[i]);
	for (size_t i = 0; i < cfg->n_headers; i++)
		free(cfg->headers[i]);
	free(cfg->origins);
	free(cfg->headers);
	free(cfg->allow_headers_value);
	memset(cfg, 0, sizeof(*cfg));
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7F)
			return false;
	return true;
}

static bool has_header(const struct fa_http_cors_cfg *cfg, const char *name, size_t n)
{
	for (size_t i = 0; i < cfg->n_headers; i++)
		if (fa_strn_ieq(name, n, cfg->headers[i]))
			return true;
	for (size_t i = 0; i < ARRAY_LEN(safelisted); i++)
		if (fa_strn_ieq(name, n, safelisted[i]))
			return true;
	return false;
}

enum fa_rc fa_http_cors_init(struct fa_http_cors_cfg *cfg, const struct fa_http_cors *in,
			     struct fa_err *err)
{
	struct fa_buf b;
	enum fa_rc rc = FA_OK;

	memset(cfg, 0, sizeof(*cfg));
	fa_buf_init(&b, FA_MAX_HEADER);
	if (!in->allow_cors)
		goto out;
	cfg->enabled = true;
	if (in->n_allowed_origins > FA_MAX_CORS_ENTRIES || in->n_allowed_headers > FA_MAX_CORS_ENTRIES) {
		rc = fa_err_set(err, FA_ECONFIG, "CORS: more than %d allowed origins or headers",
				FA_MAX_CORS_ENTRIES);
		goto out;
	}
	cfg->origins = calloc(in->n_allowed_origins + 1, sizeof(char *));
	cfg->headers = calloc(in->n_allowed_headers + 1, sizeof(char *));
	if (!cfg->origins || !cfg->headers) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < in->n_allowed_origins; i++) {
		const char *o = in->allowed_origins[i];
		size_t n;

		if (!o || !o[0] || !printable(o)) {
			rc = fa_err_set(err, FA_ECONFIG, "CORS: allowedOrigins[%zu] is empty or has "
					"spaces or control characters", i);
			goto out;
		}
		if (strcmp(o, "*") == 0) {
			cfg->any_origin = true;
			continue;
		}
		/* Browsers send "https://host[:port]" with no path: drop a
		 * trailing '/' an operator may have written. */
		n = strlen(o);
		if (n > 1 && o[n - 1] == '/')
			n--;
		cfg->origins[cfg->n_origins] = fa_strndup(o, n);
		if (!cfg->origins[cfg->n_origins]) {
			rc = fa_err_set(err, FA_ENOMEM, "out of memory");
			goto out;
		}
		cfg->n_origins++;
	}
	/* flyteadmin always allows Content-Type on top of the configured list. */
	cfg->headers[cfg->n_headers] = fa_strndup("Content-Type", 12);
	if (!cfg->headers[cfg->n_headers++]) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < in->n_allowed_headers; i++) {
		const char *h = in->allowed_headers[i];

		if (!h || !fa_token_ok(h, strlen(h))) {
			rc = fa_err_set(err, FA_ECONFIG, "CORS: allowedHeaders[%zu] is not a header "
					"name", i);
			goto out;
		}
		if (has_header(cfg, h, strlen(h)))
			continue;
		cfg->headers[cfg->n_headers] = fa_strndup(h, strlen(h));
		if (!cfg->headers[cfg->n_headers++]) {
			rc = fa_err_set(err, FA_ENOMEM, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < cfg->n_headers && rc == FA_OK; i++)
		rc = fa_buf_appendf(&b, "%s%s", i ? ", " : "", cfg->headers[i]);
	if (rc != FA_OK) {
		rc = fa_err_set(err, FA_ECONFIG, "CORS: allowedHeaders too long");
		goto out;
	}
	cfg->allow_headers_value = fa_buf_take(&b, NULL);
	if (!cfg->allow_headers_value)
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
out:
	fa_buf_cleanup(&b);
	if (rc != FA_OK)
		fa_http_cors_cleanup(cfg);
	return rc;
}

/* Exact, case-sensitive: browsers serialise origins in lower case, and a
 * looser match (suffix, prefix) is how CORS configs get bypassed. */
static bool origin_listed(const struct fa_http_cors_cfg *cfg, const char *origin)
{
	for (size_t i = 0; i < cfg->n_origins; i++)
		if (strcmp(cfg->origins[i], origin) == 0)
			return true;
	return false;
}

/* Sets the origin headers; false when the origin is not allowed. */
static bool allow_origin(const struct fa_http_cors_cfg *cfg, const char *origin,
			 struct fa_resp *resp)
{
	bool ok = true;

	/* Answers differ by Origin whenever specific origins are listed. */
	if (cfg->n_origins)
		ok = fa_resp_set_internal(resp, "Vary", "Origin", false) == FA_OK;
	if (!origin || !fa_http_header_value_ok(origin))
		return false;
	if (origin_listed(cfg, origin)) {
		ok = ok && fa_resp_set_internal(resp, "Access-Control-Allow-Origin", origin,
						false) == FA_OK &&
		     fa_resp_set_internal(resp, "Access-Control-Allow-Credentials", "true",
					  false) == FA_OK;
	} else if (cfg->any_origin) {
		ok = ok && fa_resp_set_internal(resp, "Access-Control-Allow-Origin", "*",
						false) == FA_OK;
	} else {
		return false;
	}
	if (!ok)
		resp->broken = true;
	return true;
}

void fa_http_cors_apply(const struct fa_http_cors_cfg *cfg, const char *origin,
			struct fa_resp *resp)
{
	if (cfg->enabled)
		(void)allow_origin(cfg, origin, resp);
}

/* Is `m` one of the ", "-separated methods? */
static bool method_listed(const char *methods, const char *m)
{
	size_t n = strlen(m);

	for (const char *p = methods; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && strncmp(p, m, n) == 0)
			return true;
		if (!e)
			break;
		p = e + 1;
		while (*p == ' ')
			p++;
	}
	return false;
}

/* Every name in the comma-separated Access-Control-Request-Headers must be
 * allowed. */
static bool headers_allowed(const struct fa_http_cors_cfg *cfg, const char *list)
{
	const char *p = list;

	while (p && *p) {
		const char *e = strchr(p, ',');
		const char *s = p, *t = e ? e : p + strlen(p);

		while (s < t && (*s == ' ' || *s == '\t'))
			s++;
		while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if (t > s && !has_header(cfg, s, (size_t)(t - s)))
			return false;
		p = e ? e + 1 : NULL;
	}
	return true;
}

void fa_http_cors_preflight(const struct fa_http_cors_cfg *cfg, const char *origin,
			    const char *req_method, const char *req_headers,
			    const char *methods, struct fa_resp *resp)
{
	if (!cfg->enabled || !method_listed(methods, req_method) ||
	    (req_headers && !headers_allowed(cfg, req_headers)) ||
	    !allow_origin(cfg, origin, resp)) {
		/* No CORS headers at all: the browser refuses the real request. */
		struct fa_arena *a = resp->arena;

		fa_resp_init(resp, a);
		fa_resp_oauth_error(resp, 403, "access_denied", "CORS preflight refused");
		return;
	}
	if (fa_resp_status(resp, 204, NULL) != FA_OK ||
	    fa_resp_set_internal(resp, "Access-Control-Allow-Methods", methods, false) != FA_OK ||
	    fa_resp_set_internal(resp, "Access-Control-Allow-Headers", cfg->allow_headers_value,
				 false) != FA_OK ||
	    fa_resp_set_internal(resp, "Access-Control-Max-Age", PREFLIGHT_MAX_AGE,
				 false) != FA_OK)
		resp->broken = true;
}
