/* test_http.c -- the HTTP server in-process on 127.0.0.1 (ephemeral port),
 * driven over raw POSIX sockets so every byte of a request is ours:
 * routing, query/form parsing, limits and MHD's own answers past them,
 * authentication fail-closed, no-store, CORS, cookies, header injection,
 * graceful stop with a request in flight, and an access log that never
 * sees a secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"

#define RESP_MAX (256 * 1024)

/* ---- a tiny raw HTTP client -------------------------------------------- */

struct reply {
	char raw[RESP_MAX];
	size_t len;
	int status;
	const char *body;      /* inside raw */
};

static int connect_to(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;       /* the server may close early (413): fine */
		p += w;
		n -= (size_t)w;
	}
}

/* Reads until the server closes (requests say Connection: close). */
static void read_reply(int fd, struct reply *r)
{
	char *end;

	r->len = 0;
	for (;;) {
		ssize_t n = recv(fd, r->raw + r->len, sizeof(r->raw) - 1 - r->len, 0);

		if (n <= 0)
			break;
		r->len += (size_t)n;
	}
	r->raw[r->len] = '\0';
	r->status = 0;
	if (sscanf(r->raw, "HTTP/1.%*d %d", &r->status) != 1)
		r->status = -1;
	end = strstr(r->raw, "\r\n\r\n");
	r->body = end ? end + 4 : r->raw + r->len;
}

static void roundtrip(uint16_t port, const char *req, size_t len, struct reply *r)
{
	int fd = connect_to(port);

	assert_true(fd >= 0);
	send_all(fd, req, len);
	read_reply(fd, r);
	close(fd);
}

static void request(uint16_t port, struct reply *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void request(uint16_t port, struct reply *r, const char *fmt, ...)
{
	static char buf[128 * 1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	roundtrip(port, buf, (size_t)n, r);
}

static void raw_request(uint16_t port, struct reply *r, const char *s)
{
	roundtrip(port, s, strlen(s), r);
}

/* Value of a response header (case-insensitive name), copied; NULL if absent. */
static const char *header(const struct reply *r, const char *name)
{
	static char val[8192];
	size_t n = strlen(name);
	const char *p = strstr(r->raw, "\r\n");

	while (p && p < r->body - 2) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *e = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(val, sizeof(val), "%.*s", (int)(e - v), v);
			return val;
		}
		p = strstr(p, "\r\n");
	}
	return NULL;
}

static int count_headers(const struct reply *r, const char *name)
{
	size_t n = strlen(name);
	int count = 0;

	for (const char *p = strstr(r->raw, "\r\n"); p && p < r->body - 2; p = strstr(p, "\r\n")) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':')
			count++;
	}
	return count;
}

static void assert_header(const struct reply *r, const char *name, const char *want)
{
	const char *v = header(r, name);

	if (!v)
		fail_msg("no %s header in:\n%.800s", name, r->raw);
	assert_string_equal(v, want);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("\"%s\" not found in \"%.600s\"", needle, hay ? hay : "(null)");
}

/* ---- test routes ----------------------------------------------------------- */

static void h_ok(struct fa_req *req, struct fa_resp *resp, void *app)
{
	(void)req;
	(void)app;
	if (fa_resp_body(resp, 200, "text/plain", "ok", 2, NULL) != FA_OK)
		return;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* Echoes what the layer parsed: query a/b, form x/y, cookies, a header. */
static void h_echo(struct fa_req *req, struct fa_resp *resp, void *app)
{
	size_t blen;
	json_t *o = json_object();

	(void)app;
	json_object_set_new(o, "a", str_or_null(fa_req_query(req, "a")));
	json_object_set_new(o, "b", str_or_null(fa_req_query(req, "b")));
	json_object_set_new(o, "x", str_or_null(fa_req_form(req, "x")));
	json_object_set_new(o, "y", str_or_null(fa_req_form(req, "y")));
	json_object_set_new(o, "c1", str_or_null(fa_req_cookie(req, "c1")));
	json_object_set_new(o, "c2", str_or_null(fa_req_cookie(req, "c2")));
	json_object_set_new(o, "c3", str_or_null(fa_req_cookie(req, "c3")));
	json_object_set_new(o, "hdr", str_or_null(fa_req_header(req, "x-test")));
	json_object_set_new(o, "addr", json_string(fa_req_client_addr(req)));
	json_object_set_new(o, "https", json_boolean(fa_req_is_https(req)));
	json_object_set_new(o, "trusted", json_boolean(fa_req_forwarded_trusted(req)));
	json_object_set_new(o, "path", json_string(fa_req_path(req)));
	(void)fa_req_body(req, &blen);
	json_object_set_new(o, "blen", json_integer((json_int_t)blen));
	if (fa_resp_json(resp, 200, o, NULL) != FA_OK)
		return;
}

/* Answers from the blocking-work pool: on the worker it asks to be
 * deferred; on the pool it names the thread it ran on. A full pool is its
 * own 503. */
static void h_offload(struct fa_req *req, struct fa_resp *resp, void *app)
{
	char body[64];
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 500 * 1000 * 1000 };

	(void)app;
	if (!fa_req_offloaded(req)) {
		if (!fa_http_offload(req))
			fa_resp_oauth_error(resp, 503, "temporarily_unavailable", "pool full");
		return;
	}
	if (fa_req_query(req, "slow"))
		nanosleep(&ts, NULL);
	snprintf(body, sizeof(body), "{\"pool\":%s}",
		 fa_http_offload(req) ? "\"again\"" : "true");
	if (fa_resp_body(resp, 200, "application/json", body, strlen(body), NULL) != FA_OK)
		return;
}

static void h_secret(struct fa_req *req, struct fa_resp *resp, void *app)
{
	const char *who = fa_req_principal(req);

	(void)app;
	if (fa_resp_body(resp, 200, "text/plain", who, strlen(who), NULL) != FA_OK)
		return;
}

/* Sleeps 800 ms; `app`, when set, is an atomic_int raised on entry. */
static void h_slow(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 800 * 1000 * 1000 };

	(void)req;
	if (app)
		atomic_store((atomic_int *)app, 1);
	nanosleep(&ts, NULL);
	if (fa_resp_body(resp, 200, "text/plain", "slow", 4, NULL) != FA_OK)
		return;
}

static void h_cookie(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_cookie session = { .name = "flyte_at", .value = "sealed.value", .path = "/",
				     .max_age = -1, .http_only = true, .secure = true,
				     .same_site = FA_SAME_SITE_LAX };
	struct fa_cookie gone = { .name = "old", .value = "", .path = "/", .max_age = 0 };

	(void)req;
	(void)app;
	if (fa_resp_cookie(resp, &session, NULL) != FA_OK ||
	    fa_resp_cookie(resp, &gone, NULL) != FA_OK ||
	    fa_resp_status(resp, 204, NULL) != FA_OK)
		fa_resp_oauth_error(resp, 500, "server_error", "cookie refused");
}

/* Tries to echo a query value into a header: the injection must be refused. */
static void h_inject(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_err err;
	const char *v = fa_req_query(req, "v");

	(void)app;
	if (fa_resp_header(resp, "X-Echo", v ? v : "", &err) != FA_OK) {
		fa_resp_oauth_error(resp, 400, "invalid_request", err.msg);
		return;
	}
	/* The appending setter: the same checks, both copies kept, the
	 * value borrowed (request memory). */
	if (fa_req_query(req, "add")) {
		const char *add = fa_req_query(req, "add");

		if (fa_resp_header_add(resp, "X-Add", add, &err) != FA_OK ||
		    fa_resp_header_add(resp, "X-Add", "second", &err) != FA_OK) {
			fa_resp_oauth_error(resp, 400, "invalid_request", err.msg);
			return;
		}
		assert_int_equal(fa_resp_header_add(resp, "Set-Cookie", "a=b", &err), FA_EINVAL);
		assert_int_equal(fa_resp_header_add(resp, "Bad Name", "x", &err), FA_EINVAL);
	}
	if (fa_resp_status(resp, 204, NULL) != FA_OK)
		return;
}

static void h_html(struct fa_req *req, struct fa_resp *resp, void *app)
{
	static const char page[] = "<!doctype html><p>hi</p>";

	(void)req;
	(void)app;
	if (fa_resp_body(resp, 200, "text/html; charset=utf-8", page, sizeof(page) - 1, NULL) !=
	    FA_OK)
		return;
}

static void h_nothing(struct fa_req *req, struct fa_resp *resp, void *app)
{
	(void)req;
	(void)resp;
	(void)app;
}

static const struct fa_route routes[] = {
	{ "GET", "/ok", h_ok, FA_R_PUBLIC, 0 },
	{ "GET", "/echo", h_echo, FA_R_PUBLIC, 0 },
	{ "POST", "/form", h_echo, FA_R_PUBLIC | FA_R_FORM | FA_R_NO_STORE, 0 },
	{ "POST", "/small", h_echo, FA_R_PUBLIC | FA_R_FORM, 64 },
	{ "GET", "/secret", h_secret, 0, 0 },
	{ "GET", "/cors", h_ok, FA_R_PUBLIC | FA_R_CORS, 0 },
	{ "POST", "/cors", h_echo, FA_R_PUBLIC | FA_R_CORS | FA_R_FORM, 0 },
	{ "GET", "/slow", h_slow, FA_R_PUBLIC, 0 },
	{ "GET", "/cookie", h_cookie, FA_R_PUBLIC, 0 },
	{ "GET", "/inject", h_inject, FA_R_PUBLIC, 0 },
	{ "GET", "/html", h_html, FA_R_PUBLIC, 0 },
	{ "GET", "/nothing", h_nothing, FA_R_PUBLIC | FA_R_NO_STORE, 0 },
	{ "POST", "/offload", h_offload, FA_R_PUBLIC | FA_R_FORM | FA_R_NO_STORE, 0 },
};

static enum fa_rc auth_bearer(struct fa_req *req, void *app, struct fa_err *err)
{
	const char *h = fa_req_header(req, "Authorization");

	(void)app;
	if (!h)
		return fa_err_oauth(err, FA_EDENIED, NULL, "no credentials");
	if (!fa_ct_streq(h, "Bearer good"))
		return fa_err_oauth(err, FA_EDENIED, "invalid_token", "token not valid");
	fa_req_set_principal(req, "alice");
	return FA_OK;
}

/* ---- fixture ------------------------------------------------------------------ */

struct fixture {
	struct fa_http *srv;
	uint16_t port;
	FILE *logf;
	struct fa_log log;
};

static struct fa_http_opts base_opts(struct fixture *f)
{
	static const char *origins[] = { "https://console.example" };
	static const char *headers[] = { "flyte-authorization" };
	struct fa_http_opts o = {
		.bind_addr = "127.0.0.1",
		.routes = routes,
		.n_routes = ARRAY_LEN(routes),
		.log = &f->log,
		.threads = 2,
		.cors = { .allow_cors = true, .allowed_origins = origins, .n_allowed_origins = 1,
			  .allowed_headers = headers, .n_allowed_headers = 1 },
	};

	return o;
}

static struct fixture *fixture_new(void (*tweak)(struct fa_http_opts *))
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct fa_http_opts o;
	struct fa_err err;

	assert_non_null(f);
	f->logf = tmpfile();
	assert_non_null(f->logf);
	f->log = (struct fa_log){ .fp = f->logf, .min = FA_LOG_DEBUG };
	o = base_opts(f);
	if (tweak)
		tweak(&o);
	f->srv = fa_http_start(&o, &err);
	if (!f->srv)
		fail_msg("fa_http_start: %s", err.msg);
	f->port = fa_http_port(f->srv);
	assert_true(f->port != 0);
	return f;
}

static void fixture_free(struct fixture *f)
{
	fa_http_stop(f->srv);
	fclose(f->logf);
	free(f);
}

static int setup(void **state)
{
	*state = fixture_new(NULL);
	return 0;
}

static int teardown(void **state)
{
	fixture_free(*state);
	return 0;
}

static uint16_t port_of(void **state)
{
	return ((struct fixture *)*state)->port;
}

/* Whole log so far. */
static char *log_text(struct fixture *f)
{
	static char buf[64 * 1024];
	size_t n;

	fflush(f->logf);
	rewind(f->logf);
	n = fread(buf, 1, sizeof(buf) - 1, f->logf);
	buf[n] = '\0';
	fseek(f->logf, 0, SEEK_END);
	return buf;
}

/* The server still answers a plain request. */
static void assert_healthy(uint16_t port)
{
	static struct reply r;

	request(port, &r, "GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok");
}

static struct reply r;   /* large: not on the stack */

/* ---- route sets: each module's table with its own context ------------------ */

static void h_whoami(struct fa_req *req, struct fa_resp *resp, void *app)
{
	const char *name = app;

	(void)req;
	assert_int_equal(fa_resp_body(resp, 200, "text/plain", name, strlen(name), NULL), FA_OK);
}

static const struct fa_route set_a[] = { { "GET", "/a", h_whoami, FA_R_PUBLIC, 0 } };
static const struct fa_route set_b[] = { { "GET", "/b", h_whoami, FA_R_PUBLIC, 0 } };
static const struct fa_route set_dup[] = { { "GET", "/ok", h_whoami, FA_R_PUBLIC, 0 } };
static char ctx_a[] = "context-a", ctx_b[] = "context-b";

static void tweak_route_sets(struct fa_http_opts *o)
{
	static const struct fa_route_set sets[] = {
		{ set_a, ARRAY_LEN(set_a), ctx_a },
		{ set_b, ARRAY_LEN(set_b), ctx_b },
	};

	o->route_sets = sets;
	o->n_route_sets = ARRAY_LEN(sets);
}

static void test_route_sets(void **state)
{
	struct fixture *f = fixture_new(tweak_route_sets);

	(void)state;
	request(f->port, &r, "GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "context-a");
	request(f->port, &r, "GET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "context-b");
	assert_healthy(f->port);   /* the base table is still served */
	fixture_free(f);
}

static const struct fa_route set_prefix[] = {
	{ "GET", "/auth/verify", h_echo, FA_R_PUBLIC | FA_R_PREFIX, 0 },
	{ "POST", "/auth/verify", h_echo, FA_R_PUBLIC | FA_R_PREFIX, 0 },
};

static void tweak_prefix(struct fa_http_opts *o)
{
	static const struct fa_route_set sets[] = { { set_prefix, ARRAY_LEN(set_prefix), NULL } };

	o->route_sets = sets;
	o->n_route_sets = ARRAY_LEN(sets);
}

/* FA_R_PREFIX: the path and everything below it, never a string prefix. */
static void test_prefix_route(void **state)
{
	struct fixture *f = fixture_new(tweak_prefix);

	(void)state;
	request(f->port, &r, "GET /auth/verify HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"path\":\"/auth/verify\"");
	request(f->port, &r, "GET /auth/verify/api/v1/x?a=1 HTTP/1.1\r\nHost: t\r\n"
		"Connection: close\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"path\":\"/auth/verify/api/v1/x\"");
	assert_contains(r.body, "\"a\":\"1\"");
	request(f->port, &r, "GET /auth/verifyx HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 404);
	request(f->port, &r, "GET /auth HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 404);
	request(f->port, &r, "DELETE /auth/verify/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 405);
	assert_header(&r, "Allow", "GET, POST");
	/* Exact routes elsewhere stay exact. */
	request(f->port, &r, "GET /ok/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 404);
	fixture_free(f);
}

static void test_route_sets_duplicate_refused(void **state)
{
	struct fixture f0 = { 0 };
	struct fa_route_set dup = { set_dup, ARRAY_LEN(set_dup), ctx_a };
	struct fa_http_opts o;
	struct fa_err err;

	(void)state;
	f0.log = (struct fa_log){ .fp = NULL, .min = FA_LOG_ERROR };
	o = base_opts(&f0);
	o.route_sets = &dup;
	o.n_route_sets = 1;
	fa_err_clear(&err);
	assert_null(fa_http_start(&o, &err));
	assert_int_equal(err.rc, FA_EINVAL);
	assert_non_null(strstr(err.msg, "GET /ok listed twice"));
}

/* ---- tests ------------------------------------------------------------------ */


static void test_routing(void **state)
{
	uint16_t port = port_of(state);

	request(port, &r, "GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", "text/plain");
	assert_header(&r, "X-Content-Type-Options", "nosniff");
	assert_header(&r, "Referrer-Policy", "no-referrer");
	request(port, &r, "GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 404);
	assert_header(&r, "Content-Type", "application/json");
	assert_string_equal(r.body, "{\"error\":\"not_found\",\"error_description\":\"no such path\"}");
	request(port, &r, "DELETE /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 405);
	assert_header(&r, "Allow", "GET");
	assert_contains(r.body, "method_not_allowed");
	/* HEAD is only routed where a row says so. */
	request(port, &r, "HEAD /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 405);
	/* A CORS path also allows OPTIONS. */
	request(port, &r, "PUT /cors HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 405);
	assert_header(&r, "Allow", "GET, POST, OPTIONS");
	/* Exact raw path: no percent-decoding, no prefix, no query confusion. */
	raw_request(port, &r, "GET /o%6B HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 404);
	request(port, &r, "GET /ok/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 404);
	request(port, &r, "GET http://t/ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 400);
	assert_contains(r.body, "request target must be a path");
	/* STRICT_FOR_CLIENT: HTTP/1.1 without Host is refused by MHD. */
	request(port, &r, "GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 400);
}

static void test_query_parsing(void **state)
{
	uint16_t port = port_of(state);

	raw_request(port, &r, "GET /echo?a=x+y%21&b=%E2%82%AC&unused=1 HTTP/1.1\r\nHost: t\r\n"
		"X-Test: hello\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"a\":\"x y!\"");
	assert_contains(r.body, "\"b\":\"\xE2\x82\xAC\"");
	assert_contains(r.body, "\"hdr\":\"hello\"");
	assert_contains(r.body, "\"path\":\"/echo\"");
	assert_contains(r.body, "\"addr\":\"127.0.0.1\"");
	/* Empty value: treated as omitted (RFC 6749 §3.1). */
	request(port, &r, "GET /echo?a=&b=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_contains(r.body, "\"a\":null");
}

static void test_query_repeated_parameter(void **state)
{
	request(port_of(state), &r, "GET /echo?a=1&b=2&a=3 HTTP/1.1\r\nHost: t\r\n"
		"Connection: close\r\n\r\n");
	assert_int_equal(r.status, 400);
	assert_string_equal(r.body, "{\"error\":\"invalid_request\","
			    "\"error_description\":\"parameter a repeated\"}");
}

static void test_query_bad_escape(void **state)
{
	raw_request(port_of(state), &r, "GET /echo?a=%zz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 400);
	assert_contains(r.body, "bad percent-encoding in parameter a");
	raw_request(port_of(state), &r, "GET /echo?a=%00 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 400);
	assert_contains(r.body, "NUL byte in parameter a");
}

static void test_form_parsing(void **state)
{
	static const char body[] = "x=authorization_code&y=abc%2B1+2";

	request(port_of(state), &r, "POST /form HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n"
		"Content-Length: %zu\r\n\r\n%s", sizeof(body) - 1, body);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"x\":\"authorization_code\"");
	assert_contains(r.body, "\"y\":\"abc+1 2\"");
	assert_header(&r, "Cache-Control", "no-store");
	assert_header(&r, "Pragma", "no-cache");
}

static void test_form_chunked(void **state)
{
	request(port_of(state), &r, "POST /form HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\n"
		"Transfer-Encoding: chunked\r\n\r\n4\r\nx=ab\r\n4\r\n&y=c\r\n0\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"x\":\"ab\"");
	assert_contains(r.body, "\"y\":\"c\"");
}

static void test_form_wrong_content_type(void **state)
{
	request(port_of(state), &r, "POST /form HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
	assert_int_equal(r.status, 400);
	assert_contains(r.body, "Content-Type must be application/x-www-form-urlencoded");
	/* Errors of a no-store route are no-store too. */
	assert_header(&r, "Cache-Control", "no-store");
	assert_header(&r, "Pragma", "no-cache");
	request(port_of(state), &r, "POST /form HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Content-Length: 3\r\n\r\nx=1");
	assert_int_equal(r.status, 400);
}

static void test_form_repeated_parameter(void **state)
{
	static const char body[] = "x=1&y=2&x=1";

	request(port_of(state), &r, "POST /form HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\n"
		"Content-Length: %zu\r\n\r\n%s", sizeof(body) - 1, body);
	assert_int_equal(r.status, 400);
	assert_contains(r.body, "parameter x repeated");
	assert_header(&r, "Cache-Control", "no-store");
}

static void test_form_too_many_fields(void **state)
{
	char body[1024];
	size_t o = 0;

	for (int i = 0; i <= FA_MAX_FIELDS; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o, "%sf%d=1", i ? "&" : "", i);
	request(port_of(state), &r, "POST /form HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\n"
		"Content-Length: %zu\r\n\r\n%s", o, body);
	assert_int_equal(r.status, 400);
	assert_contains(r.body, "too many parameters");
}

static void test_body_too_large_content_length(void **state)
{
	uint16_t port = port_of(state);

	/* Refused on the header alone; the body is never sent. */
	request(port, &r, "POST /form HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\n"
		"Content-Length: %d\r\n\r\n", FA_MAX_BODY + 1);
	assert_int_equal(r.status, 413);
	assert_contains(r.body, "request body over 16384 bytes");
	assert_header(&r, "Cache-Control", "no-store");
	/* A route with its own smaller cap. */
	request(port, &r, "POST /small HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\n"
		"Content-Length: 65\r\n\r\n");
	assert_int_equal(r.status, 413);
	assert_contains(r.body, "request body over 64 bytes");
	assert_healthy(port);
}

static void test_body_too_large_chunked(void **state)
{
	uint16_t port = port_of(state);
	static char req[64 * 1024];
	size_t o;

	o = (size_t)snprintf(req, sizeof(req), "POST /form HTTP/1.1\r\nHost: t\r\n"
			     "Connection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n");
	/* 17 chunks of 1 KiB: 17 KiB against a 16 KiB cap. */
	for (int i = 0; i < 17; i++) {
		o += (size_t)snprintf(req + o, sizeof(req) - o, "400\r\n");
		memset(req + o, 'a', 1024);
		o += 1024;
		memcpy(req + o, "\r\n", 2);
		o += 2;
	}
	o += (size_t)snprintf(req + o, sizeof(req) - o, "0\r\n\r\n");
	roundtrip(port, req, o, &r);
	assert_int_equal(r.status, 413);
	assert_contains(r.body, "request body over 16384 bytes");
	assert_healthy(port);
}

static void test_endless_chunked_body(void **state)
{
	uint16_t port = port_of(state);
	static char chunk[64 * 1024 + 16];
	int fd = connect_to(port);
	const char *head = "POST /form HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
			   "Content-Type: application/x-www-form-urlencoded\r\n"
			   "Transfer-Encoding: chunked\r\n\r\n";
	size_t n;

	assert_true(fd >= 0);
	send_all(fd, head, strlen(head));
	n = (size_t)snprintf(chunk, sizeof(chunk), "10000\r\n");
	memset(chunk + n, 'a', 0x10000);
	memcpy(chunk + n + 0x10000, "\r\n", 2);
	/* Past the cap plus FA_HTTP_MAX_DISCARD the server hangs up: the
	 * upload never ends, so there is no point at which to answer. */
	for (int i = 0; i < 40; i++)
		send_all(fd, chunk, n + 0x10000 + 2);
	read_reply(fd, &r);
	close(fd);
	assert_int_equal(r.len, 0);
	assert_healthy(port);
}

static void test_request_smuggling_framing(void **state)
{
	uint16_t port = port_of(state);

	request(port, &r, "POST /form HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n"
		"Transfer-Encoding: chunked\r\n\r\n3\r\nx=1\r\n0\r\n\r\n");
	assert_int_equal(r.status, 400);
	assert_contains(r.body, "ambiguous message framing");
	request(port, &r, "POST /form HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n"
		"Content-Length: 30\r\n\r\nx=1");
	assert_int_equal(r.status, 400);
	assert_contains(r.body, "ambiguous message framing");
	request(port, &r, "POST /form HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\n"
		"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
	assert_int_equal(r.status, 400);
	assert_contains(r.body, "unsupported Transfer-Encoding");
	assert_healthy(port);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void test_header_too_large(void **state)
{
	uint16_t port = port_of(state);
	char *big = repeat('h', FA_MAX_HEADER + 1);
	char *mid = repeat('m', 6 * 1024);

	/* One field over FA_MAX_HEADER, within MHD's memory: our 431. */
	request(port, &r, "GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Big: %s\r\n\r\n",
		big);
	assert_int_equal(r.status, 431);
	assert_contains(r.body, "a header field is too large");
	/* Three 6 KiB fields: over FA_MAX_HEADERS_TOTAL together. */
	request(port, &r, "GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-A: %s\r\n"
		"X-B: %s\r\nX-C: %s\r\n\r\n", mid, mid, mid);
	assert_int_equal(r.status, 431);
	assert_contains(r.body, "header fields too large");
	assert_healthy(port);
	free(big);
	free(mid);
}

static void test_too_many_header_fields(void **state)
{
	static char hdrs[8192];
	size_t o = 0;

	for (int i = 0; i <= FA_HTTP_MAX_REQ_HEADERS; i++)
		o += (size_t)snprintf(hdrs + o, sizeof(hdrs) - o, "X-%d: 1\r\n", i);
	request(port_of(state), &r, "GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n",
		hdrs);
	assert_int_equal(r.status, 431);
	assert_contains(r.body, "too many header fields");
}

static void test_repeated_header_flood(void **state)
{
	static char hdrs[32 * 1024];
	char *v = repeat('v', 300);
	size_t o = 0;

	/* 60 x 300 bytes of one name: over the total, a 431 (not a 500 from
	 * joining them). */
	for (int i = 0; i < 60; i++)
		o += (size_t)snprintf(hdrs + o, sizeof(hdrs) - o, "X-Test: %s\r\n", v);
	request(port_of(state), &r, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n",
		hdrs);
	assert_int_equal(r.status, 431);
	/* 20 of them fit, joined with ", " (RFC 9110 §5.3). */
	o = 0;
	for (int i = 0; i < 20; i++)
		o += (size_t)snprintf(hdrs + o, sizeof(hdrs) - o, "X-Test: %d%s\r\n", i, v);
	request(port_of(state), &r, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n",
		hdrs);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "v, 1vvv");
	assert_contains(r.body, "v, 19vvv");
	free(v);
}

static void test_request_line_too_long(void **state)
{
	uint16_t port = port_of(state);
	char *path = repeat('p', FA_MAX_REQUEST_LINE + 1);

	/* Over our cap but within MHD's memory: our 414, as JSON. */
	request(port, &r, "GET /%s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
	assert_int_equal(r.status, 414);
	assert_contains(r.body, "request target too long");
	assert_healthy(port);
	free(path);
}

static void test_mhd_oversized_request(void **state)
{
	uint16_t port = port_of(state);
	char *path = repeat('p', 2 * FA_HTTP_CONN_MEMORY);
	char *big = repeat('h', 2 * FA_HTTP_CONN_MEMORY);

	/* Past MHD's connection memory MHD answers by itself: a request line
	 * it cannot hold is 414, headers it cannot hold are 431; both with
	 * MHD's small HTML body, then the connection is closed. */
	request(port, &r, "GET /%s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
	assert_int_equal(r.status, 414);
	request(port, &r, "GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Big: %s\r\n\r\n",
		big);
	assert_int_equal(r.status, 431);
	assert_healthy(port);
	free(path);
	free(big);
}

static void test_auth_fail_closed(void **state)
{
	request(port_of(state), &r, "GET /secret HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Authorization: Bearer good\r\n\r\n");
	assert_int_equal(r.status, 401);
	assert_header(&r, "WWW-Authenticate", "Bearer");
	assert_contains(r.body, "authentication required");
}

static void with_auth(struct fa_http_opts *o)
{
	o->authenticate = auth_bearer;
}

static enum fa_rc auth_broken(struct fa_req *req, void *app, struct fa_err *err)
{
	(void)req;
	(void)app;
	return fa_err_set(err, FA_ESTORE, "key store unreachable");
}

static void with_broken_auth(struct fa_http_opts *o)
{
	o->authenticate = auth_broken;
}

static void test_auth_unavailable(void **state)
{
	struct fixture *f = fixture_new(with_broken_auth);

	(void)state;
	request(f->port, &r, "GET /secret HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 500);
	assert_contains(r.body, "authentication unavailable");
	assert_null(header(&r, "WWW-Authenticate"));
	assert_contains(log_text(f), "authentication failed on GET /secret: ");
	assert_contains(log_text(f), ": key store unreachable");
	fixture_free(f);
}

static enum fa_rc auth_unavailable(struct fa_req *req, void *app, struct fa_err *err)
{
	(void)req;
	(void)app;
	return fa_err_oauth(err, FA_ESTORE, "temporarily_unavailable", "store down");
}

static void with_unavailable_auth(struct fa_http_opts *o)
{
	o->authenticate = auth_unavailable;
}

/* What authentication needs is down for a while: 503, the client retries. */
static void test_auth_503(void **state)
{
	struct fixture *f = fixture_new(with_unavailable_auth);

	(void)state;
	request(f->port, &r, "GET /secret HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 503);
	assert_contains(r.body, "\"error\":\"temporarily_unavailable\"");
	assert_null(header(&r, "WWW-Authenticate"));
	fixture_free(f);
}

static void test_auth_callback(void **state)
{
	struct fixture *f = fixture_new(with_auth);

	(void)state;
	request(f->port, &r, "GET /secret HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 401);
	assert_header(&r, "WWW-Authenticate", "Bearer");
	request(f->port, &r, "GET /secret HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Authorization: Bearer bad\r\n\r\n");
	assert_int_equal(r.status, 401);
	assert_header(&r, "WWW-Authenticate",
			    "Bearer error=\"invalid_token\", error_description=\"token not valid\"");
	assert_string_equal(r.body, "{\"error\":\"invalid_token\","
			    "\"error_description\":\"token not valid\"}");
	/* Two Authorization headers never read as one credential. */
	request(f->port, &r, "GET /secret HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Authorization: Bearer good\r\nAuthorization: Bearer good\r\n\r\n");
	assert_int_equal(r.status, 401);
	request(f->port, &r, "GET /secret HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Authorization: Bearer good\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "alice");
	/* Public routes never call the authenticator. */
	assert_healthy(f->port);
	fixture_free(f);
}

static void test_unauthenticated_body_not_read(void **state)
{
	/* 401 comes from the headers alone: the body is not read. */
	request(port_of(state), &r, "GET /secret HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Content-Length: 100000\r\n\r\n");
	assert_int_equal(r.status, 401);
}

static void test_cors_preflight(void **state)
{
	uint16_t port = port_of(state);

	request(port, &r, "OPTIONS /cors HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Origin: https://console.example\r\nAccess-Control-Request-Method: POST\r\n"
		"Access-Control-Request-Headers: content-type, flyte-authorization\r\n\r\n");
	assert_int_equal(r.status, 204);
	assert_header(&r, "Access-Control-Allow-Origin", "https://console.example");
	assert_header(&r, "Access-Control-Allow-Methods", "GET, POST");
	assert_header(&r, "Access-Control-Allow-Headers",
			    "Content-Type, flyte-authorization");
	assert_header(&r, "Access-Control-Allow-Credentials", "true");
	assert_header(&r, "Vary", "Origin");
	assert_non_null(header(&r, "Access-Control-Max-Age"));
	/* An origin not listed: refused, and no CORS headers at all. */
	request(port, &r, "OPTIONS /cors HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Origin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\n\r\n");
	assert_int_equal(r.status, 403);
	assert_null(header(&r, "Access-Control-Allow-Origin"));
	/* A header not allowed. */
	request(port, &r, "OPTIONS /cors HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Origin: https://console.example\r\nAccess-Control-Request-Method: POST\r\n"
		"Access-Control-Request-Headers: x-secret\r\n\r\n");
	assert_int_equal(r.status, 403);
	/* A path without FA_R_CORS has no preflight. */
	request(port, &r, "OPTIONS /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Origin: https://console.example\r\nAccess-Control-Request-Method: GET\r\n\r\n");
	assert_int_equal(r.status, 405);
}

static void test_cors_simple_request(void **state)
{
	uint16_t port = port_of(state);

	request(port, &r, "GET /cors HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Origin: https://console.example\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_header(&r, "Access-Control-Allow-Origin", "https://console.example");
	assert_header(&r, "Vary", "Origin");
	request(port, &r, "GET /cors HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Origin: https://console.example.evil\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_null(header(&r, "Access-Control-Allow-Origin"));
	/* No CORS headers on routes that did not ask for them. */
	request(port, &r, "GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Origin: https://console.example\r\n\r\n");
	assert_null(header(&r, "Access-Control-Allow-Origin"));
}

static void wildcard_cors(struct fa_http_opts *o)
{
	static const char *any[] = { "*" };

	o->cors.allowed_origins = any;
	o->cors.n_allowed_origins = 1;
}

static void test_cors_wildcard_no_credentials(void **state)
{
	struct fixture *f = fixture_new(wildcard_cors);

	(void)state;
	request(f->port, &r, "GET /cors HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Origin: https://anything.example\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_header(&r, "Access-Control-Allow-Origin", "*");
	assert_null(header(&r, "Access-Control-Allow-Credentials"));
	fixture_free(f);
}

static void test_cookie_parsing(void **state)
{
	request(port_of(state), &r, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Cookie: c1=one; junk; c2=\"two\"\r\nCookie: c3=three\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"c1\":\"one\"");
	assert_contains(r.body, "\"c2\":\"two\"");
	assert_contains(r.body, "\"c3\":\"three\"");
}

static void test_cookie_oversized(void **state)
{
	char *big = repeat('v', FA_MAX_COOKIE + 1);

	request(port_of(state), &r, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Cookie: c1=%s; c2=small\r\n\r\n", big);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"c1\":null");
	assert_contains(r.body, "\"c2\":\"small\"");
	free(big);
}

static void test_set_cookie_formatting(void **state)
{
	request(port_of(state), &r, "GET /cookie HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 204);
	assert_int_equal(count_headers(&r, "Set-Cookie"), 2);
	assert_contains(r.raw, "\r\nSet-Cookie: flyte_at=sealed.value; Path=/; HttpOnly; Secure; "
			"SameSite=Lax\r\n");
	assert_contains(r.raw, "\r\nSet-Cookie: old=; Path=/; Max-Age=0; "
			"Expires=Thu, 01 Jan 1970 00:00:00 GMT\r\n");
}

static void test_header_injection(void **state)
{
	raw_request(port_of(state), &r, "GET /inject?v=a%0D%0ASet-Cookie:+s%3Devil HTTP/1.1\r\n"
		"Host: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 400);
	assert_contains(r.body, "header injection");
	assert_int_equal(count_headers(&r, "Set-Cookie"), 0);
	assert_null(header(&r, "X-Echo"));
	request(port_of(state), &r, "GET /inject?v=fine HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 204);
	assert_header(&r, "X-Echo", "fine");
	raw_request(port_of(state), &r, "GET /inject?v=x&add=a%0AX-Evil:+1 HTTP/1.1\r\n"
		"Host: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 400);
	assert_contains(r.body, "header injection");
	assert_null(header(&r, "X-Evil"));
	request(port_of(state), &r, "GET /inject?v=x&add=first HTTP/1.1\r\nHost: t\r\n"
		"Connection: close\r\n\r\n");
	assert_int_equal(r.status, 204);
	assert_int_equal(count_headers(&r, "X-Add"), 2);
}

static void test_html_security_headers(void **state)
{
	request(port_of(state), &r, "GET /html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_header(&r, "X-Frame-Options", "DENY");
	assert_contains(header(&r, "Content-Security-Policy"), "default-src 'none'");
	assert_contains(header(&r, "Content-Security-Policy"), "form-action 'self'");
	assert_header(&r, "X-Content-Type-Options", "nosniff");
}

static void test_handler_without_response(void **state)
{
	struct fixture *f = *state;

	request(f->port, &r, "GET /nothing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 500);
	assert_string_equal(r.body, "{\"error\":\"server_error\"}");
	assert_header(&r, "Cache-Control", "no-store");
	assert_contains(log_text(f), "handler for GET /nothing set no response");
}

static void test_access_log_no_secrets(void **state)
{
	struct fixture *f = *state;
	char *log, *big;

	request(f->port, &r, "GET /echo?code=SECRET1&access_token=SECRET2 HTTP/1.1\r\nHost: t\r\n"
		"Authorization: Bearer SECRET3\r\nCookie: c1=SECRET4\r\nX-Test: SECRET5\r\n"
		"Connection: close\r\n\r\n");
	assert_int_equal(r.status, 200);
	request(f->port, &r, "POST /form?code=SECRET6 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 13\r\n\r\n"
		"x=SECRET7&x=1");
	assert_int_equal(r.status, 400);
	/* A 401 and an MHD-level refusal are logged too, without secrets. */
	request(f->port, &r, "GET /secret?t=SECRET8 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Authorization: Bearer SECRET9\r\n\r\n");
	assert_int_equal(r.status, 401);
	big = repeat('h', 2 * FA_HTTP_CONN_MEMORY);
	request(f->port, &r, "GET /echo?code=SECRET10 HTTP/1.1\r\nHost: t\r\n"
		"Authorization: Bearer SECRET11\r\nX-Big: %s\r\n\r\n", big);
	free(big);
	assert_int_equal(r.status, 431);
	/* Access lines are buffered per worker and written within a second. */
	for (int t = 0; t < 60; t++) {
		log = log_text(f);
		if (strstr(log, " GET /echo 200 ") && strstr(log, " POST /form 400 ") &&
		    strstr(log, " GET /secret 401 ") && strstr(log, " - /echo 431 "))
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
	}
	assert_contains(log, " info http 127.0.0.1 GET /echo 200 ");
	assert_contains(log, " info http 127.0.0.1 POST /form 400 ");
	assert_contains(log, " info http 127.0.0.1 GET /secret 401 ");
	assert_contains(log, " info http 127.0.0.1 - /echo 431 ");
	if (strstr(log, "SECRET"))
		fail_msg("a secret reached the log:\n%s", log);
}

struct slow_call {
	uint16_t port;
	atomic_int started;
	struct reply r;
};

static struct slow_call call;

static void *slow_client(void *arg)
{
	struct slow_call *c = arg;

	request(c->port, &c->r, "GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	return NULL;
}

static void slow_app(struct fa_http_opts *o)
{
	o->app = &call.started;
}

static void test_graceful_stop(void **state)
{
	struct fixture *f = fixture_new(slow_app);
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000 * 1000 };
	pthread_t t;
	int fd;

	(void)state;
	call.port = f->port;
	atomic_store(&call.started, 0);
	assert_int_equal(pthread_create(&t, NULL, slow_client, &call), 0);
	for (int i = 0; i < 500 && !atomic_load(&call.started); i++)
		nanosleep(&ts, NULL);
	assert_true(atomic_load(&call.started));   /* the handler is sleeping now */
	fa_http_stop(f->srv);                      /* and stop waits for it */
	f->srv = NULL;
	pthread_join(t, NULL);
	assert_int_equal(call.r.status, 200);
	assert_string_equal(call.r.body, "slow");
	/* In-flight responses tell the client the connection is going away. */
	assert_header(&call.r, "Connection", "close");
	/* No longer accepting. */
	fd = connect_to(call.port);
	assert_true(fd < 0);
	fixture_free(f);
}

static void short_grace(struct fa_http_opts *o)
{
	o->app = &call.started;
	o->stop_grace_ms = 100;
}

static void test_stop_grace_timeout(void **state)
{
	struct fixture *f = fixture_new(short_grace);
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000 * 1000 };
	pthread_t t;

	(void)state;
	call.port = f->port;
	atomic_store(&call.started, 0);
	assert_int_equal(pthread_create(&t, NULL, slow_client, &call), 0);
	for (int i = 0; i < 500 && !atomic_load(&call.started); i++)
		nanosleep(&ts, NULL);
	assert_true(atomic_load(&call.started));
	fa_http_stop(f->srv);            /* gives up waiting after 100 ms */
	f->srv = NULL;
	pthread_join(t, NULL);
	assert_contains(log_text(f), "stopping with requests still in flight after 100 ms");
	fixture_free(f);
}

static void forwarded(struct fa_http_opts *o)
{
	o->trust_forwarded = true;
}

static void test_forwarded_headers(void **state)
{
	struct fixture *f;

	/* Not trusted by default: a client cannot claim an address. */
	request(port_of(state), &r, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n\r\n");
	assert_contains(r.body, "\"addr\":\"127.0.0.1\"");
	assert_contains(r.body, "\"https\":false");
	assert_contains(r.body, "\"trusted\":false");
	f = fixture_new(forwarded);
	/* Trusted: the last entry is what our proxy saw. */
	request(f->port, &r, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"X-Forwarded-For: 6.6.6.6, 10.0.0.7\r\nX-Forwarded-Proto: https\r\n\r\n");
	assert_contains(r.body, "\"addr\":\"10.0.0.7\"");
	assert_contains(r.body, "\"https\":true");
	assert_contains(r.body, "\"trusted\":true");
	/* Garbage is ignored. */
	request(f->port, &r, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"X-Forwarded-For: not-an-ip\r\n\r\n");
	assert_contains(r.body, "\"addr\":\"127.0.0.1\"");
	fixture_free(f);
}

static void proxies(struct fa_http_opts *o)
{
	static const char *const list[] = { "127.0.0.1", "10.0.0.0/8" };

	o->trusted_proxies = list;
	o->n_trusted_proxies = 2;
}

static void other_proxies(struct fa_http_opts *o)
{
	static const char *const list[] = { "10.0.0.0/8", "2001:db8::/32" };

	o->trusted_proxies = list;
	o->n_trusted_proxies = 2;
}

/* trustedProxies: from a listed peer, the rightmost hop that is not itself
 * a trusted proxy; from any other peer, the headers are ignored. */
static void test_trusted_proxies(void **state)
{
	struct fixture *f = fixture_new(proxies);
	struct fa_http_opts o;
	struct fa_err err;

	(void)state;
	request(f->port, &r, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"X-Forwarded-For: 6.6.6.6, 192.0.2.1, 10.0.0.7\r\nX-Forwarded-Proto: https\r\n\r\n");
	assert_contains(r.body, "\"addr\":\"192.0.2.1\"");
	assert_contains(r.body, "\"https\":true");
	assert_contains(r.body, "\"trusted\":true");
	/* Every hop a trusted proxy: the leftmost. */
	request(f->port, &r, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"X-Forwarded-For: 10.1.1.1,10.0.0.7\r\n\r\n");
	assert_contains(r.body, "\"addr\":\"10.1.1.1\"");
	/* Garbage stops the walk at the last trusted hop. */
	request(f->port, &r, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"X-Forwarded-For: 192.0.2.9, junk, 10.0.0.7\r\n\r\n");
	assert_contains(r.body, "\"addr\":\"10.0.0.7\"");
	/* RFC 7239 Forwarded, bracketed IPv6 with a port, IPv4 with a port. */
	request(f->port, &r, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Forwarded: for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\"\r\n\r\n");
	assert_contains(r.body, "\"addr\":\"2001:db8:cafe::17\"");
	request(f->port, &r, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Forwarded: proto=https;for=\"198.51.100.3:80\"\r\n\r\n");
	assert_contains(r.body, "\"addr\":\"198.51.100.3\"");
	request(f->port, &r, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Forwarded: for=unknown\r\n\r\n");
	assert_contains(r.body, "\"addr\":\"127.0.0.1\"");
	fixture_free(f);
	/* Our peer (127.0.0.1) not listed: its headers are its own word. */
	f = fixture_new(other_proxies);
	request(f->port, &r, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: https\r\n\r\n");
	assert_contains(r.body, "\"addr\":\"127.0.0.1\"");
	assert_contains(r.body, "\"https\":false");
	assert_contains(r.body, "\"trusted\":false");
	/* A bad entry fails the start. */
	o = base_opts(f);
	{
		static const char *const bad[] = { "10.0.0.0/33" };

		o.trusted_proxies = bad;
		o.n_trusted_proxies = 1;
	}
	assert_null(fa_http_start(&o, &err));
	assert_int_equal(err.rc, FA_ECONFIG);
	fixture_free(f);
}

struct offload_call {
	uint16_t port;
	int status;
};

static void *offload_client(void *arg)
{
	struct offload_call *c = arg;
	struct reply *rep = calloc(1, sizeof(*rep));

	/* raw_request: request()'s buffer is the main thread's. */
	raw_request(c->port, rep, "POST /offload?slow=1 HTTP/1.1\r\nHost: t\r\n"
		    "Connection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n"
		    "Content-Length: 3\r\n\r\nx=1");
	c->status = rep->status;
	free(rep);
	return NULL;
}

static void one_pool_slot(struct fa_http_opts *o)
{
	o->threads = 1;
	o->blocking_threads = 1;
	o->blocking_queue = 1;
}

/* fa_http_offload: the handler runs again on the pool and answers; the
 * worker meanwhile serves others; a full queue is the handler's 503; the
 * stop waits for deferred requests. */
static void test_offload(void **state)
{
	struct fixture *f = fixture_new(one_pool_slot);
	struct offload_call calls[4];
	pthread_t t[4];
	int ok = 0, busy = 0;
	int64_t t0;

	(void)state;
	request(f->port, &r, "POST /offload HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\nx=1");
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "\"pool\":true");
	/* Four slow ones at once: one slot, so some are refused at once,
	 * and the single worker still answers /ok meanwhile. */
	for (int i = 0; i < 4; i++) {
		calls[i] = (struct offload_call){ .port = f->port };
		assert_int_equal(pthread_create(&t[i], NULL, offload_client, &calls[i]), 0);
	}
	{
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	t0 = fa_mono_ms();
	request(f->port, &r, "GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_true(fa_mono_ms() - t0 < 300);   /* a blocked worker: >= 450 */
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ok += calls[i].status == 200;
		busy += calls[i].status == 503;
	}
	assert_int_equal(ok + busy, 4);
	assert_true(ok >= 1 && busy >= 1);
	fixture_free(f);
}

static void test_start_errors(void **state)
{
	struct fixture *f = *state;
	struct fa_http_opts o = base_opts(f);
	struct fa_route dup[] = { routes[0], routes[0] };
	struct fa_err err;

	o.bind_addr = "localhost";
	assert_null(fa_http_start(&o, &err));
	assert_int_equal(err.rc, FA_EINVAL);
	assert_non_null(strstr(err.msg, "not a numeric IPv4 or IPv6 address"));
	o = base_opts(f);
	o.routes = dup;
	o.n_routes = 2;
	assert_null(fa_http_start(&o, &err));
	assert_non_null(strstr(err.msg, "listed twice"));
	o = base_opts(f);
	o.tls_cert_file = "/nonexistent.pem";
	assert_null(fa_http_start(&o, &err));
	assert_int_equal(err.rc, FA_ECONFIG);
	assert_non_null(strstr(err.msg, "both a certificate and a key"));
	o.tls_key_file = "/nonexistent.key";
	assert_null(fa_http_start(&o, &err));
	assert_true(err.rc == FA_EIO || err.rc == FA_EUNSUPPORTED);
	o = base_opts(f);
	o.port = f->port;                /* in use */
	assert_null(fa_http_start(&o, &err));
	assert_int_equal(err.rc, FA_EIO);
	assert_non_null(strstr(err.msg, "already in use"));
	fa_http_stop(NULL);
}

/* TLS end to end when the tools exist: openssl makes a throwaway cert, curl
 * talks to the server. Skipped (not failed) on a machine without them. */
static char tls_dir[64];
static void with_tls(struct fa_http_opts *o)
{
	static char cert[128], key[128];

	snprintf(cert, sizeof(cert), "%s/cert.pem", tls_dir);
	snprintf(key, sizeof(key), "%s/key.pem", tls_dir);
	o->tls_cert_file = cert;
	o->tls_key_file = key;
}

static void test_tls(void **state)
{
	struct fixture *f;
	char cmd[512], out[1024] = "";
	FILE *p;

	(void)state;
	if (system("command -v openssl >/dev/null 2>&1 && command -v curl >/dev/null 2>&1") != 0)
		skip();
	snprintf(tls_dir, sizeof(tls_dir), "/tmp/fa_http_tlsXXXXXX");
	assert_non_null(mkdtemp(tls_dir));
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
		 "-nodes -keyout %s/key.pem -out %s/cert.pem -days 1 -subj /CN=127.0.0.1 "
		 ">/dev/null 2>&1", tls_dir, tls_dir);
	assert_int_equal(system(cmd), 0);
	f = fixture_new(with_tls);
	snprintf(cmd, sizeof(cmd), "curl -sk --max-time 10 https://127.0.0.1:%u/echo", f->port);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(out, sizeof(out), p))
		out[0] = '\0';
	pclose(p);
	assert_contains(out, "\"path\"");
	/* Plain HTTP to the TLS port gets no HTTP answer. */
	request(f->port, &r, "GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_int_not_equal(r.status, 200);
	fixture_free(f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tls_dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
		cmocka_unit_test(test_route_sets),
		cmocka_unit_test(test_route_sets_duplicate_refused),
		cmocka_unit_test(test_prefix_route),
		cmocka_unit_test(test_auth_503),
		cmocka_unit_test_setup_teardown(test_query_parsing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_repeated_parameter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_bad_escape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_form_parsing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_form_chunked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_form_wrong_content_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_form_repeated_parameter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_form_too_many_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_too_large_content_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_too_large_chunked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_endless_chunked_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_smuggling_framing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_header_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repeated_header_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_line_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mhd_oversized_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_fail_closed, setup, teardown),
		cmocka_unit_test(test_auth_callback),
		cmocka_unit_test(test_auth_unavailable),
		cmocka_unit_test_setup_teardown(test_unauthenticated_body_not_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cors_preflight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cors_simple_request, setup, teardown),
		cmocka_unit_test(test_cors_wildcard_no_credentials),
		cmocka_unit_test_setup_teardown(test_cookie_parsing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_cookie_formatting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_injection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_html_security_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handler_without_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_log_no_secrets, setup, teardown),
		cmocka_unit_test(test_graceful_stop),
		cmocka_unit_test(test_stop_grace_timeout),
		cmocka_unit_test_setup_teardown(test_forwarded_headers, setup, teardown),
		cmocka_unit_test(test_trusted_proxies),
		cmocka_unit_test(test_offload),
		cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
		cmocka_unit_test(test_tls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
