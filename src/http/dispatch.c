/* dispatch.c -- the one place where request policy is enforced, between
 * libmicrohttpd (server.c) and the handlers (Redis's processCommand).
 *
 * In order, before any handler code runs: the request target, line and
 * header caps; request framing (no Content-Length/Transfer-Encoding
 * ambiguity); routing (404, 405 with Allow); CORS preflight; bearer
 * authentication unless the route is FA_R_PUBLIC (so an unauthenticated
 * client cannot make us read a body); strict query parsing; the body cap
 * (413) and the form Content-Type. After the body: the form parse, the
 * handler, then the headers every response needs. Nothing here knows what
 * a route does.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

/* Longest "Allow" value we build: every method of one path. */
#define METHODS_MAX 256

struct fa_req *fa_http_req_new(struct fa_http *srv, struct fa_arena *a, const char *target)
{
	struct fa_req *req;
	char *q;

	if (!a)
		return NULL;
	req = fa_arena_alloc(a, sizeof(*req));
	if (!req)
		return NULL;
	req->srv = srv;
	req->arena = a;
	req->start_ms = fa_mono_ms();
	fa_resp_init(&req->resp, a);
	/* The target is bounded by MHD's connection memory (FA_HTTP_CONN_MEMORY). */
	req->target_len = strlen(target);
	req->target = fa_arena_strndup(a, target, req->target_len);
	req->path = fa_arena_strndup(a, target, req->target_len);
	if (!req->target || !req->path)
		return NULL;
	q = strchr(req->path, '?');
	if (q) {
		*q = '\0';
		req->query = q + 1;
		req->query_len = strlen(req->query);
	}
	return req;
}

enum fa_rc fa_http_req_add_header(struct fa_req *req, const char *name, size_t name_len,
				  const char *value, size_t value_len)
{
	struct fa_kv *kv;

	req->header_fields++;
	req->header_bytes += name_len + value_len;
	if (name_len + value_len > FA_MAX_HEADER)
		req->header_too_big = true;
	/* Past a cap the request is refused with 431: keep nothing more. */
	if (req->header_fields > FA_HTTP_MAX_REQ_HEADERS || req->header_too_big ||
	    req->header_bytes > FA_MAX_HEADERS_TOTAL)
		return FA_OK;
	if (req->raw_headers.n == req->raw_headers_cap) {
		/* Room for a usual request's headers first; doubled when a
		 * request has more (up to the cap). */
		size_t cap = req->raw_headers_cap ? 2 * req->raw_headers_cap : 16;
		struct fa_kv *v;

		if (cap > FA_HTTP_MAX_REQ_HEADERS)
			cap = FA_HTTP_MAX_REQ_HEADERS;
		v = fa_arena_alloc(req->arena, cap * sizeof(*v));
		if (!v)
			return FA_ENOMEM;
		if (req->raw_headers.n)
			memcpy(v, req->raw_headers.v, req->raw_headers.n * sizeof(*v));
		req->raw_headers.v = v;
		req->raw_headers_cap = cap;
	}
	kv = &req->raw_headers.v[req->raw_headers.n];
	kv->name = fa_arena_strndup(req->arena, name, name_len);
	kv->value = fa_arena_strndup(req->arena, value, value_len);
	if (!kv->name || !kv->value)
		return FA_ENOMEM;
	kv->name_len = name_len;
	kv->value_len = value_len;
	req->raw_headers.n++;
	return FA_OK;
}

/* One entry per header name: a field sent more than once is joined with
 * ", " ("; " for Cookie), each name in one allocation; a field sent once
 * keeps its value as received. */
static enum fa_rc merge_headers(struct fa_req *req)
{
	const struct fa_kvs *raw = &req->raw_headers;
	struct fa_kvs *h = &req->headers;

	h->v = fa_arena_alloc(req->arena, (raw->n ? raw->n : 1) * sizeof(*h->v));
	if (!h->v)
		return FA_ENOMEM;
	for (size_t i = 0; i < raw->n; i++) {
		const struct fa_kv *first = &raw->v[i];
		const char *sep = strcasecmp(first->name, "Cookie") == 0 ? "; " : ", ";
		size_t len = 0, o = 0;
		unsigned seen = 0;
		bool done = false;
		char *v;

		for (size_t k = 0; k < h->n && !done; k++)
			done = strcasecmp(h->v[k].name, first->name) == 0;
		if (done)
			continue;
		for (size_t j = i; j < raw->n; j++)
			if (strcasecmp(raw->v[j].name, first->name) == 0)
				len += (seen++ ? 2 : 0) + raw->v[j].value_len;
		if (seen == 1) {
			h->v[h->n++] = *first;
			h->v[h->n - 1].seen = 1;
			continue;
		}
		v = fa_arena_alloc(req->arena, len + 1);
		if (!v)
			return FA_ENOMEM;
		for (size_t j = i; j < raw->n; j++) {
			if (strcasecmp(raw->v[j].name, first->name) != 0)
				continue;
			if (o) {
				memcpy(v + o, sep, 2);
				o += 2;
			}
			memcpy(v + o, raw->v[j].value, raw->v[j].value_len);
			o += raw->v[j].value_len;
		}
		h->v[h->n] = (struct fa_kv){ .name = first->name, .name_len = first->name_len,
					     .value = v, .value_len = len, .seen = seen };
		h->n++;
	}
	return FA_OK;
}

static const struct fa_kv *header_kv(const struct fa_req *req, const char *name)
{
	for (size_t i = 0; i < req->headers.n; i++)
		if (strcasecmp(req->headers.v[i].name, name) == 0)
			return &req->headers.v[i];
	return NULL;
}

enum fa_rc fa_http_routes_check(const struct fa_route *routes, size_t n, struct fa_err *err)
{
	const unsigned known = FA_R_PUBLIC | FA_R_FORM | FA_R_NO_STORE | FA_R_CORS | FA_R_PREFIX;

	if (!routes && n)
		return fa_err_set(err, FA_EINVAL, "routes is NULL");
	for (size_t i = 0; i < n; i++) {
		const struct fa_route *r = &routes[i];

		if (!r->method || !fa_token_ok(r->method, strlen(r->method)))
			return fa_err_set(err, FA_EINVAL, "route %zu: bad method", i);
		if (!r->path || r->path[0] != '/' || strpbrk(r->path, "?# \t\r\n"))
			return fa_err_set(err, FA_EINVAL, "route %zu: path must start with '/' and "
					  "have no query, fragment or space", i);
		if (!r->fn)
			return fa_err_set(err, FA_EINVAL, "route %s %s: no handler", r->method,
					  r->path);
		if (r->flags & ~known)
			return fa_err_set(err, FA_EINVAL, "route %s %s: unknown flags", r->method,
					  r->path);
		if (r->max_body > FA_HTTP_MAX_ROUTE_BODY)
			return fa_err_set(err, FA_EINVAL, "route %s %s: max_body over %d", r->method,
					  r->path, FA_HTTP_MAX_ROUTE_BODY);
		for (size_t j = 0; j < i; j++)
			if (strcmp(routes[j].method, r->method) == 0 &&
			    strcmp(routes[j].path, r->path) == 0)
				return fa_err_set(err, FA_EINVAL, "route %s %s listed twice",
						  r->method, r->path);
	}
	return FA_OK;
}

/* Does the route serve this path: the same bytes, or for a FA_R_PREFIX
 * route also anything below it ("/auth/verify/..."), never a mere string
 * prefix ("/auth/verifyx"). */
static bool path_matches(const struct fa_route *r, const char *path)
{
	size_t n;

	if (strcmp(r->path, path) == 0)
		return true;
	if (!(r->flags & FA_R_PREFIX))
		return false;
	n = strlen(r->path);
	return strncmp(r->path, path, n) == 0 && path[n] == '/';
}

/* Methods of the path joined by ", " into out; `cors_only` keeps only the
 * FA_R_CORS ones. Returns false for an unknown path; *flags gets the union
 * of the path's route flags. */
static bool path_methods(const struct fa_http *srv, const char *path, bool cors_only,
			 char out[METHODS_MAX], unsigned *flags)
{
	bool known = false;
	size_t o = 0;

	out[0] = '\0';
	*flags = 0;
	for (size_t i = 0; i < srv->n_routes; i++) {
		const struct fa_route *r = &srv->routes[i];
		size_t len = strlen(r->method);

		if (!path_matches(r, path))
			continue;
		known = true;
		*flags |= r->flags;
		if ((cors_only && !(r->flags & FA_R_CORS)) || o + len + 3 > METHODS_MAX)
			continue;
		if (o) {
			memcpy(out + o, ", ", 2);
			o += 2;
		}
		memcpy(out + o, r->method, len + 1);
		o += len;
	}
	return known;
}

/* No route for this method: 404, a CORS preflight, or 405 with Allow. */
static void no_route(struct fa_req *req)
{
	struct fa_http *srv = req->srv;
	char methods[METHODS_MAX];
	bool cors;

	if (!path_methods(srv, req->path, false, methods, &req->flags)) {
		fa_resp_oauth_error(&req->resp, 404, "not_found", "no such path");
		return;
	}
	cors = (req->flags & FA_R_CORS) && srv->cors.enabled;
	if (cors && strcmp(req->method, "OPTIONS") == 0) {
		unsigned ignored;

		(void)path_methods(srv, req->path, true, methods, &ignored);
		fa_http_cors_preflight(&srv->cors, fa_req_header(req, "Origin"),
				       fa_req_header(req, "Access-Control-Request-Method"),
				       fa_req_header(req, "Access-Control-Request-Headers"),
				       methods, &req->resp);
		req->flags &= ~(unsigned)FA_R_CORS;   /* its headers are decided */
		return;
	}
	if (cors && strlen(methods) + sizeof(", OPTIONS") <= METHODS_MAX)
		memcpy(methods + strlen(methods), ", OPTIONS", sizeof(", OPTIONS"));
	fa_resp_oauth_error(&req->resp, 405, "method_not_allowed",
			    "method not allowed for this path");
	if (fa_resp_set_internal(&req->resp, "Allow", methods, false) != FA_OK)
		req->resp.broken = true;
}

static const struct fa_route *find_route(const struct fa_http *srv, const char *method,
					 const char *path)
{
	for (size_t i = 0; i < srv->n_routes; i++)
		if (path_matches(&srv->routes[i], path) &&
		    strcmp(srv->routes[i].method, method) == 0)
			return &srv->routes[i];
	return NULL;
}

/* One hop of a forwarding header, trimmed, into addr: an X-Forwarded-For
 * entry ("203.0.113.7", "2001:db8::1"), or with `forwarded` the `for=`
 * of one RFC 7239 element ("for=192.0.2.60;proto=http",
 * "for=\"[2001:db8::1]:4711\""). false when it names no address
 * (unknown, obfuscated, garbage). */
static bool hop_addr(const char *s, size_t n, bool forwarded, char *addr, size_t cap)
{
	unsigned char bin[16];
	size_t k = 0;

	if (forwarded) {
		const char *p = s, *end = s + n;

		/* Find the for= parameter among ';'-separated pairs. */
		for (;;) {
			while (p < end && (*p == ' ' || *p == '\t' || *p == ';'))
				p++;
			if (p >= end)
				return false;
			if (end - p > 4 && strncasecmp(p, "for=", 4) == 0)
				break;
			while (p < end && *p != ';')
				p++;
		}
		p += 4;
		n = (size_t)(end - p);
		for (k = 0; k < n && p[k] != ';'; k++)
			;
		n = k;
		s = p;
		if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
			s++;
			n -= 2;
		}
		if (n && s[0] == '[') {
			const char *rb = memchr(s, ']', n);

			if (!rb)
				return false;
			s++;
			n = (size_t)(rb - s);
		} else {
			const char *colon = memchr(s, ':', n);

			if (colon)    /* an IPv4 address with a port */
				n = (size_t)(colon - s);
		}
	} else {
		while (n && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
	}
	if (n == 0 || n >= cap)
		return false;
	memcpy(addr, s, n);
	addr[n] = '\0';
	return inet_pton(AF_INET, addr, bin) == 1 || inet_pton(AF_INET6, addr, bin) == 1;
}

/* The client behind our proxies: walking the header's hops from the right
 * (the one our proxy appended) leftwards, the first that is not itself a
 * trusted proxy; earlier hops are the client's own word and never
 * believed. A hop that names no address stops the walk (the address is
 * then the last trusted hop's). */
static void forwarded_client(struct fa_req *req, const struct fa_kv *h, bool forwarded)
{
	const struct fa_http *srv = req->srv;
	char addr[sizeof(req->client_addr)];
	size_t end = h->value_len;

	while (end > 0) {
		size_t start = end;

		while (start > 0 && h->value[start - 1] != ',')
			start--;
		if (!hop_addr(h->value + start, end - start, forwarded, addr, sizeof(addr)))
			return;
		memcpy(req->client_addr, addr, strlen(addr) + 1);
		if (!fa_cidr_any(srv->proxies, srv->n_proxies, addr))
			return;
		end = start ? start - 1 : 0;
	}
}

/* Forwarding headers from a peer we were told to trust. */
static void apply_forwarded(struct fa_req *req)
{
	const struct fa_kv *xff = header_kv(req, "X-Forwarded-For");
	const struct fa_kv *fwd = header_kv(req, "Forwarded");
	const struct fa_kv *xfp = header_kv(req, "X-Forwarded-Proto");

	if (xff)
		forwarded_client(req, xff, false);
	else if (fwd)
		forwarded_client(req, fwd, true);
	if (xfp) {
		const char *last = strrchr(xfp->value, ',');

		last = last ? last + 1 : xfp->value;
		while (*last == ' ')
			last++;
		if (strcasecmp(last, "https") == 0)
			req->https = true;
		else if (strcasecmp(last, "http") == 0)
			req->https = false;
	}
}

/* 400/413/414/431 as an RFC 6749 JSON error: OAuth clients parse these. */
static bool refuse(struct fa_req *req, int status, const char *desc)
{
	fa_resp_oauth_error(&req->resp, status, "invalid_request", desc);
	return true;
}

/* Header caps, then framing. Returns true when refused. */
static bool check_headers(struct fa_req *req)
{
	const struct fa_kv *cl, *te;

	if (req->header_too_big)
		return refuse(req, 431, "a header field is too large");
	if (req->header_fields > FA_HTTP_MAX_REQ_HEADERS)
		return refuse(req, 431, "too many header fields");
	if (req->header_bytes > FA_MAX_HEADERS_TOTAL)
		return refuse(req, 431, "header fields too large");
	if (merge_headers(req) != FA_OK) {
		req->resp.broken = true;
		return true;
	}
	cl = header_kv(req, "Content-Length");
	te = header_kv(req, "Transfer-Encoding");
	/* Request smuggling: two readers must agree where the body ends. */
	if ((cl && cl->seen > 1) || (te && te->seen > 1) || (cl && te))
		return refuse(req, 400, "ambiguous message framing");
	if (te && strcasecmp(te->value, "chunked") != 0)
		return refuse(req, 400, "unsupported Transfer-Encoding");
	return false;
}

int fa_http_bearer_status(enum fa_rc rc, const char *oauth_error)
{
	if (oauth_error && strcmp(oauth_error, "invalid_request") == 0)
		return 400;
	if (oauth_error && strcmp(oauth_error, "insufficient_scope") == 0)
		return 403;
	if (oauth_error && strcmp(oauth_error, "temporarily_unavailable") == 0)
		return 503;
	if ((oauth_error && strcmp(oauth_error, "invalid_token") == 0) ||
	    (!oauth_error && (rc == FA_ENOTFOUND || rc == FA_EDENIED || rc == FA_EEXPIRED)))
		return 401;
	return 500;
}

/* Bearer authentication of a non-public route. Returns true when refused. */
static bool authenticate(struct fa_req *req)
{
	struct fa_http *srv = req->srv;
	struct fa_err err;
	enum fa_rc rc;
	int status;

	if (req->route->flags & FA_R_PUBLIC)
		return false;
	if (!srv->authenticate) {
		/* Fail closed: a route nobody can authenticate is refused. */
		fa_resp_bearer_error(&req->resp, 401, NULL, "authentication required");
		return true;
	}
	fa_err_clear(&err);
	rc = srv->authenticate(req, srv->auth_app, &err);
	if (rc == FA_OK)
		return false;
	status = fa_http_bearer_status(rc, err.oauth_error);
	if (status == 503) {
		/* What authentication needs (the session store, an
		 * external authorization server) is down; the callback's
		 * owner logged that. */
		fa_resp_oauth_error(&req->resp, 503, "temporarily_unavailable",
				    "authentication is temporarily unavailable; try again later");
		return true;
	}
	if (status == 500) {
		fa_log_warnx(srv->log, "http: authentication failed on %s %s: %s: %s", req->method,
			     req->path, fa_rc_str(rc), err.msg);
		fa_resp_oauth_error(&req->resp, 500, "server_error", "authentication unavailable");
	} else {
		bool scope = err.oauth_error && strcmp(err.oauth_error, "insufficient_scope") == 0;

		fa_resp_bearer_challenge(&req->resp, status, err.oauth_error,
					 err.msg[0] ? err.msg : NULL,
					 scope ? srv->required_scope : NULL);
	}
	return true;
}

/* Body admission before reading it. Returns true when refused. */
static bool admit_body(struct fa_req *req)
{
	const struct fa_kv *cl = header_kv(req, "Content-Length");
	char msg[64];
	uint64_t len = 0;

	req->body_max = req->route->max_body ? req->route->max_body : FA_MAX_BODY;
	if (cl && fa_parse_u64(cl->value, cl->value_len, UINT64_MAX, &len) != FA_OK)
		return refuse(req, 400, "bad Content-Length");
	if (len > req->body_max) {
		/* Answered before any of it is read (MHD then closes). */
		snprintf(msg, sizeof(msg), "request body over %zu bytes", req->body_max);
		return refuse(req, 413, msg);
	}
	if ((req->route->flags & FA_R_FORM) &&
	    !fa_http_is_form_type(fa_req_header(req, "Content-Type")))
		return refuse(req, 400, "Content-Type must be application/x-www-form-urlencoded");
	return false;
}

bool fa_http_dispatch_begin(struct fa_req *req, const char *method)
{
	struct fa_http *srv = req->srv;
	struct fa_err err;
	const struct fa_kv *cookie;

	req->method = fa_arena_strdup(req->arena, method);
	if (!req->method) {
		req->method = "-";
		req->resp.broken = true;
		return true;
	}
	if (req->target_len > FA_MAX_REQUEST_LINE)
		return refuse(req, 414, "request target too long");
	if (req->path[0] != '/')
		return refuse(req, 400, "request target must be a path");
	if (check_headers(req))
		return true;
	req->fwd_trusted = srv->trust_forwarded ||
			   fa_cidr_any(srv->proxies, srv->n_proxies, req->client_addr);
	if (req->fwd_trusted)
		apply_forwarded(req);
	req->route = find_route(srv, req->method, req->path);
	if (!req->route) {
		no_route(req);
		return true;
	}
	req->flags = req->route->flags;
	cookie = header_kv(req, "Cookie");
	if (cookie && fa_http_cookies_parse(req->arena, cookie->value, cookie->value_len,
					    &req->cookies, NULL) != FA_OK) {
		req->resp.broken = true;
		return true;
	}
	if (authenticate(req))
		return true;
	fa_err_clear(&err);
	if (req->query && fa_http_params_parse(req->arena, req->query, req->query_len,
					       &req->params, &err) != FA_OK) {
		if (err.rc == FA_ENOMEM)
			req->resp.broken = true;
		else
			fa_resp_oauth_error(&req->resp, 400, "invalid_request", err.msg);
		return true;
	}
	if (admit_body(req))
		return true;
	req->phase = FA_REQ_BODY;
	return false;
}

bool fa_http_body_feed(struct fa_req *req, const char *data, size_t n)
{
	if (!req->body_too_big && n <= req->body_max - req->body_len) {
		if (!req->body) {
			req->body = fa_arena_alloc(req->arena, req->body_max + 1);
			if (!req->body) {
				req->resp.broken = true;
				req->body_too_big = true;
				return true;
			}
		}
		memcpy(req->body + req->body_len, data, n);
		req->body_len += n;
		req->body[req->body_len] = '\0';
		return true;
	}
	/* Over the cap (only a chunked body gets here: a Content-Length over
	 * it was refused up front). MHD cannot answer mid-body, so read and
	 * drop the rest, up to a point, and answer 413 at the end. */
	req->body_too_big = true;
	req->discarded += n;
	return req->discarded <= FA_HTTP_MAX_DISCARD;
}

void fa_http_dispatch_seal(struct fa_req *req)
{
	if (req->flags & FA_R_CORS)
		fa_http_cors_apply(&req->srv->cors, fa_req_header(req, "Origin"), &req->resp);
	fa_resp_finish(&req->resp, req->flags);
}

void fa_http_dispatch_finish(struct fa_req *req)
{
	struct fa_err err;
	char msg[64];

	fa_err_clear(&err);
	if (req->resp.broken) {
		/* Out of memory while reading the body: answered as 500 by seal. */
	} else if (req->body_too_big) {
		snprintf(msg, sizeof(msg), "request body over %zu bytes", req->body_max);
		fa_resp_oauth_error(&req->resp, 413, "invalid_request", msg);
	} else if ((req->route->flags & FA_R_FORM) &&
		   fa_http_params_parse(req->arena, req->body ? req->body : "", req->body_len,
					&req->form, &err) != FA_OK) {
		if (err.rc == FA_ENOMEM)
			req->resp.broken = true;
		else
			fa_resp_oauth_error(&req->resp, 400, "invalid_request", err.msg);
	} else {
		req->route->fn(req, &req->resp,
			       req->srv->apps[req->route - req->srv->routes]);
		if (req->offload_wanted) {
			/* server.c suspends the connection and queues it. */
			req->phase = FA_REQ_DEFERRED;
			return;
		}
		if (req->resp.status == 0 && !req->resp.broken)
			fa_log_warnx(req->srv->log, "http: handler for %s %s set no response",
				     req->method, req->path);
	}
	fa_http_dispatch_seal(req);
}

void fa_http_dispatch_rerun(struct fa_req *req)
{
	/* The first run only asked to be deferred: it answered nothing. */
	fa_resp_init(&req->resp, req->arena);
	req->offload_wanted = false;
	req->offloaded = true;
	req->route->fn(req, &req->resp, req->srv->apps[req->route - req->srv->routes]);
	if (req->resp.status == 0 && !req->resp.broken)
		fa_log_warnx(req->srv->log, "http: handler for %s %s set no response", req->method,
			     req->path);
	fa_http_dispatch_seal(req);
}

void fa_http_dispatch_unavailable(struct fa_req *req)
{
	fa_resp_init(&req->resp, req->arena);
	fa_resp_oauth_error(&req->resp, 503, "temporarily_unavailable",
			    "the server is stopping; try again later");
	fa_http_dispatch_seal(req);
}

bool fa_http_offload(struct fa_req *req)
{
	if (req->offloaded || req->offload_wanted || req->phase != FA_REQ_BODY ||
	    !fa_http_pool_reserve(&req->srv->pool))
		return false;
	req->offload_wanted = true;
	return true;
}

bool fa_req_offloaded(const struct fa_req *req)
{
	return req->offloaded;
}
