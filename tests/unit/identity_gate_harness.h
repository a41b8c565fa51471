/* identity_gate_harness.h -- drives route handlers in process for the
 * identity and gate unit tests: a fake struct fa_http (no socket), requests
 * built the way server.c builds them and run through the real dispatcher
 * (routing, cookies, authentication, form parsing, security headers), and a
 * small cookie jar. Included by test_identity*.c and test_gate*.c only.
 */
#ifndef IDENTITY_GATE_HARNESS_H
#define IDENTITY_GATE_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/http_int.h"

#define HARNESS_MAX_ROUTES 16

struct harness {
	struct fa_http srv;
	struct fa_log log;
	struct fa_route routes[HARNESS_MAX_ROUTES];
	void *apps[HARNESS_MAX_ROUTES];
};

static inline void harness_init(struct harness *h, const struct fa_route *routes, size_t n, void *app,
			 fa_authenticate_fn auth, FILE *logfp)
{
	memset(h, 0, sizeof(*h));
	h->log.fp = logfp;
	h->log.min = FA_LOG_DEBUG;
	assert_true(n <= HARNESS_MAX_ROUTES);
	for (size_t i = 0; i < n; i++) {
		h->routes[i] = routes[i];
		h->apps[i] = app;
	}
	h->srv.routes = h->routes;
	h->srv.apps = h->apps;
	h->srv.n_routes = n;
	h->srv.authenticate = auth;
	h->srv.auth_app = app;
	h->srv.log = &h->log;
	/* A blocking-work pool without threads: harness_call runs an
	 * offloaded handler again itself, as a pool thread would. */
	pthread_mutex_init(&h->srv.pool.lock, NULL);
	h->srv.pool.inited = true;
	h->srv.pool.cap = 1;
	h->srv.pool.n_threads = 1;
}

/* Runs one request. headers: "Name: value" strings, NULL-terminated (may
 * be NULL). form: an application/x-www-form-urlencoded body or NULL. addr:
 * the client address (NULL: 127.0.0.1). Free with harness_done. */
static inline struct fa_req *harness_call(struct harness *h, const char *method, const char *target,
				   const char *const *headers, const char *form, const char *addr)
{
	struct fa_req *req = fa_http_req_new(&h->srv, fa_arena_new(FA_MAX_REQUEST_ARENA), target);
	char len[32];

	assert_non_null(req);
	snprintf(req->client_addr, sizeof(req->client_addr), "%s", addr ? addr : "127.0.0.1");
	for (size_t i = 0; headers && headers[i]; i++) {
		const char *colon = strchr(headers[i], ':');
		const char *v;

		assert_non_null(colon);
		v = colon + 1;
		while (*v == ' ')
			v++;
		assert_int_equal(fa_http_req_add_header(req, headers[i], (size_t)(colon - headers[i]),
							v, strlen(v)), FA_OK);
	}
	if (form) {
		snprintf(len, sizeof(len), "%zu", strlen(form));
		assert_int_equal(fa_http_req_add_header(req, "Content-Type", 12,
							"application/x-www-form-urlencoded", 33),
				 FA_OK);
		assert_int_equal(fa_http_req_add_header(req, "Content-Length", 14, len, strlen(len)),
				 FA_OK);
	}
	if (fa_http_dispatch_begin(req, method)) {
		fa_http_dispatch_seal(req);
		return req;
	}
	if (form)
		assert_true(fa_http_body_feed(req, form, strlen(form)));
	fa_http_dispatch_finish(req);
	if (req->phase == FA_REQ_DEFERRED) {
		/* What pool.c's thread does with it. */
		h->srv.pool.reserved--;
		fa_http_dispatch_rerun(req);
	}
	return req;
}

static inline void harness_done(struct fa_req *req)
{
	if (req)
		fa_arena_free(req->arena);
}

static inline int resp_status(const struct fa_req *req)
{
	return req->resp.status;
}

static inline const char *resp_body(const struct fa_req *req)
{
	return req->resp.body ? req->resp.body : "";
}

static inline const char *resp_header(const struct fa_req *req, const char *name)
{
	return fa_resp_header_get(&req->resp, name);
}

/* The whole Set-Cookie line for cookie `name`, or NULL. */
static inline const char *resp_set_cookie(const struct fa_req *req, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < req->resp.n_headers; i++)
		if (strcasecmp(req->resp.headers[i].name, "Set-Cookie") == 0 &&
		    strncmp(req->resp.headers[i].value, name, n) == 0 &&
		    req->resp.headers[i].value[n] == '=')
			return req->resp.headers[i].value;
	return NULL;
}

/* ---- a cookie jar (one origin) ------------------------------------------------ */

#define JAR_MAX 8

struct jar {
	char name[JAR_MAX][64];
	char value[JAR_MAX][4200];
	size_t n;
	char header[JAR_MAX * 4300];
};

static inline void jar_put(struct jar *j, const char *name, const char *value)
{
	for (size_t i = 0; i < j->n; i++)
		if (strcmp(j->name[i], name) == 0) {
			if (!value) {
				j->n--;
				memmove(j->name[i], j->name[j->n], sizeof(j->name[0]));
				memmove(j->value[i], j->value[j->n], sizeof(j->value[0]));
			} else {
				snprintf(j->value[i], sizeof(j->value[i]), "%s", value);
			}
			return;
		}
	if (value && j->n < JAR_MAX) {
		snprintf(j->name[j->n], sizeof(j->name[0]), "%s", name);
		snprintf(j->value[j->n], sizeof(j->value[0]), "%s", value);
		j->n++;
	}
}

/* Takes every Set-Cookie of the response (Max-Age=0 deletes). */
static inline void jar_update(struct jar *j, const struct fa_req *req)
{
	for (size_t i = 0; i < req->resp.n_headers; i++) {
		const char *v = req->resp.headers[i].value;
		char name[64], value[4200];
		const char *eq, *semi;

		if (strcasecmp(req->resp.headers[i].name, "Set-Cookie") != 0)
			continue;
		eq = strchr(v, '=');
		semi = strchr(v, ';');
		assert_non_null(eq);
		if (!semi)
			semi = v + strlen(v);
		snprintf(name, sizeof(name), "%.*s", (int)(eq - v), v);
		snprintf(value, sizeof(value), "%.*s", (int)(semi - eq - 1), eq + 1);
		jar_put(j, name, strstr(v, "Max-Age=0") ? NULL : value);
	}
}

static inline const char *jar_get(const struct jar *j, const char *name)
{
	for (size_t i = 0; i < j->n; i++)
		if (strcmp(j->name[i], name) == 0)
			return j->value[i];
	return NULL;
}

/* "Cookie: a=1; b=2", or NULL when the jar is empty. */
static inline const char *jar_header(struct jar *j)
{
	size_t o;

	if (j->n == 0)
		return NULL;
	o = (size_t)snprintf(j->header, sizeof(j->header), "Cookie: ");
	for (size_t i = 0; i < j->n; i++)
		o += (size_t)snprintf(j->header + o, sizeof(j->header) - o, "%s%s=%s",
				      i ? "; " : "", j->name[i], j->value[i]);
	return j->header;
}

#endif
