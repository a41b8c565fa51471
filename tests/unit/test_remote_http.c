/* test_remote_http.c -- the remote module's outbound HTTP against a real
 * server (libmicrohttpd on loopback, remote_test_server.h): JSON answers
 * and their Content-Type and Cache-Control, the answer cap with and
 * without Content-Length, statuses and the redirect policy, the form POST
 * with RFC 6749 §2.3.1 Basic credentials and a Bearer token, timeouts,
 * cancelling, messages without query strings or secrets, option checks,
 * and TLS: refused without trust, accepted with the private CA file, and
 * the private CA added to the system store rather than replacing it.
 */
#include "remote_test_server.h"

#include "remote/remote.h"

struct fix {
	struct rts *s;
	struct fa_remote *r;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct fa_err e;

	f->s = rts_start(NULL, NULL);
	assert_int_equal(fa_remote_new(NULL, &f->r, &e), FA_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	fa_remote_free(f->r);
	rts_stop(f->s);
	free(f);
	return 0;
}

static enum fa_rc get_json(struct fix *f, const char *path, size_t max, json_t **out,
			   struct fa_remote_resp *resp, struct fa_err *e)
{
	char url[256];

	rts_url(f->s, path, url, sizeof(url));
	fa_err_clear(e);
	return fa_remote_get_json(f->r, url, max, "test document", NULL, out, resp, e);
}

static void test_get_json(void **state)
{
	struct fix *f = *state;
	struct fa_remote_resp resp;
	struct fa_err e;
	json_t *o = NULL;

	assert_int_equal(get_json(f, "/json", 1024, &o, &resp, &e), FA_OK);
	assert_int_equal(json_integer_value(json_object_get(o, "a")), 1);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "application/json");
	assert_int_equal(resp.max_age_s, 300);
	assert_string_equal(resp.body, "{\"a\":1}");
	assert_int_equal(resp.len, 7);
	fa_remote_resp_cleanup(&resp);
	fa_remote_resp_cleanup(&resp);   /* safe twice */
	json_decref(o);
	/* no-store wins over max-age; +json types are JSON. */
	assert_int_equal(get_json(f, "/nostore", 1024, &o, &resp, &e), FA_OK);
	assert_int_equal(resp.max_age_s, 0);
	assert_string_equal(resp.content_type, "application/jwk-set+json");
	fa_remote_resp_cleanup(&resp);
	json_decref(o);
	/* resp may be NULL. */
	assert_int_equal(get_json(f, "/json", 1024, &o, NULL, &e), FA_OK);
	json_decref(o);
}

static void test_not_json(void **state)
{
	struct fix *f = *state;
	struct fa_err e;
	json_t *o = NULL;

	expect_err(get_json(f, "/html", 1024, &o, NULL, &e), &e, FA_EINVAL,
		   "test document is text/html, not JSON");
	expect_err(get_json(f, "/badjson", 1024, &o, NULL, &e), &e, FA_EINVAL,
		   "test document is not valid JSON");
	expect_err(get_json(f, "/array", 1024, &o, NULL, &e), &e, FA_EINVAL, "is not a JSON object");
	assert_null(o);
}

static void test_answer_cap(void **state)
{
	struct fix *f = *state;
	struct fa_err e;
	json_t *o = NULL;

	/* Content-Length over the cap: refused before the body. */
	expect_err(get_json(f, "/big-cl", FA_MAX_JWKS, &o, NULL, &e), &e, FA_ETOOBIG,
		   "the answer is larger than 262144 bytes");
	/* No length (chunked): aborted when the cap is crossed. */
	expect_err(get_json(f, "/big-chunked", FA_MAX_JWKS, &o, NULL, &e), &e, FA_ETOOBIG,
		   "larger than 262144 bytes");
	expect_err(get_json(f, "/json", 6, &o, NULL, &e), &e, FA_ETOOBIG, "larger than 6 bytes");
	assert_int_equal(get_json(f, "/json", 7, &o, NULL, &e), FA_OK);
	json_decref(o);
}

static void test_status_and_redirects(void **state)
{
	struct fix *f = *state;
	struct fa_remote_req rq = { .max_body = 1024 };
	struct fa_remote_resp resp;
	char url[256];
	struct fa_err e;
	json_t *o = NULL;

	rts_url(f->s, "/status/500", url, sizeof(url));
	rq.url = url;
	assert_int_equal(fa_remote_fetch(f->r, &rq, &resp, &e), FA_OK);
	assert_int_equal(resp.status, 500);
	assert_string_equal(resp.body, "{\"error\":\"x\"}");
	fa_remote_resp_cleanup(&resp);
	expect_err(get_json(f, "/status/500", 1024, &o, NULL, &e), &e, FA_ENET, "answered HTTP 500");
	/* A redirect is not followed unless asked for... */
	expect_err(get_json(f, "/redirect", 1024, &o, NULL, &e), &e, FA_ENET,
		   "answered HTTP 302 (redirects are not followed)");
	rts_url(f->s, "/redirect", url, sizeof(url));
	assert_int_equal(fa_remote_fetch(f->r, &rq, &resp, &e), FA_OK);
	assert_int_equal(resp.status, 302);
	fa_remote_resp_cleanup(&resp);
	/* ...and then only to https: this one points at http. */
	rq.max_redirects = 2;
	fa_err_clear(&e);
	assert_int_equal(fa_remote_fetch(f->r, &rq, &resp, &e), FA_ENET);
	assert_non_null(strstr(e.msg, url));
	/* Never with credentials or a body. */
	rq.basic_id = "c";
	expect_err(fa_remote_fetch(f->r, &rq, &resp, &e), &e, FA_EINVAL,
		   "never follows redirects");
	rq.basic_id = NULL;
	rq.bearer = "t";
	expect_err(fa_remote_fetch(f->r, &rq, &resp, &e), &e, FA_EINVAL, "never follows redirects");
	rq.bearer = NULL;
	rq.form = "a=b";
	expect_err(fa_remote_fetch(f->r, &rq, &resp, &e), &e, FA_EINVAL, "never follows redirects");
	rq.max_redirects = FA_REMOTE_MAX_REDIRECTS + 1;
	rq.form = NULL;
	expect_err(fa_remote_fetch(f->r, &rq, &resp, &e), &e, FA_EINVAL, "redirects must be 0 to 5");
	assert_null(resp.body);
}

static void test_request_checks(void **state)
{
	struct fix *f = *state;
	struct fa_remote_req rq = { .url = "ftp://127.0.0.1/x", .max_body = 10 };
	struct fa_remote_resp resp;
	struct fa_err e;
	char big[FA_MAX_BODY + 2];

	expect_err(fa_remote_fetch(f->r, &rq, &resp, &e), &e, FA_EINVAL, "not an absolute http");
	rq.url = "http://user:pw@127.0.0.1/x";
	expect_err(fa_remote_fetch(f->r, &rq, &resp, &e), &e, FA_EINVAL, "user:password@");
	rq.url = "http://127.0.0.1/x";
	rq.max_body = 0;
	expect_err(fa_remote_fetch(f->r, &rq, &resp, &e), &e, FA_EINVAL, "cap on its answer");
	rq.max_body = 10;
	rq.basic_id = "a";
	rq.bearer = "b";
	expect_err(fa_remote_fetch(f->r, &rq, &resp, &e), &e, FA_EINVAL, "one Authorization");
	rq.basic_id = NULL;
	/* The header name goes into the request as it is: a token only. */
	rq.bearer_header = "x-auth: evil\r\nHost";
	expect_err(fa_remote_fetch(f->r, &rq, &resp, &e), &e, FA_EINVAL, "not an HTTP token");
	rq.bearer_header = rq.bearer = NULL;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rq.form = big;
	expect_err(fa_remote_fetch(f->r, &rq, &resp, &e), &e, FA_EINVAL, "body is larger than");
}

static void test_post_form_credentials(void **state)
{
	struct fix *f = *state;
	struct fa_remote_req rq = { .max_body = 1024 };
	struct fa_remote_resp resp;
	struct fa_buf form, raw;
	char url[256], want[512], *b64;
	struct fa_err e;

	rts_url(f->s, "/echo", url, sizeof(url));
	fa_buf_init(&form, 1024);
	assert_int_equal(fa_remote_form_add(&form, "grant_type", "authorization_code"), FA_OK);
	assert_int_equal(fa_remote_form_add(&form, "code", "a b&c"), FA_OK);
	rq.url = url;
	rq.form = form.data;
	/* RFC 6749 §2.3.1: both parts form-encoded before base64, so a ':'
	 * in the id and '%' or ':' in the secret survive. */
	rq.basic_id = "my:client";
	rq.basic_secret = "p@ss:w%rd+é";
	assert_int_equal(fa_remote_fetch(f->r, &rq, &resp, &e), FA_OK);
	assert_string_equal(resp.body, "{\"method\":\"POST\"}");
	fa_remote_resp_cleanup(&resp);
	fa_buf_init(&raw, 256);
	assert_int_equal(fa_buf_append_pct(&raw, "my:client", NULL), FA_OK);
	assert_int_equal(fa_buf_appendc(&raw, ':'), FA_OK);
	assert_int_equal(fa_buf_append_pct(&raw, "p@ss:w%rd+é", NULL), FA_OK);
	assert_string_equal(raw.data, "my%3Aclient:p%40ss%3Aw%25rd%2B%C3%A9");
	b64 = fa_b64_encode_dup(raw.data, raw.len, FA_B64_STD);
	snprintf(want, sizeof(want), "Basic %s", b64);
	pthread_mutex_lock(&f->s->mu);
	assert_string_equal(f->s->auth, want);
	assert_string_equal(f->s->ctype, "application/x-www-form-urlencoded");
	assert_string_equal(f->s->expect, "");
	assert_string_equal(f->s->body, "grant_type=authorization_code&code=a%20b%26c");
	pthread_mutex_unlock(&f->s->mu);
	free(b64);
	fa_buf_cleanup(&raw);
	fa_buf_cleanup(&form);

	/* Bearer, on a GET. */
	memset(&rq, 0, sizeof(rq));
	rq.url = url;
	rq.max_body = 1024;
	rq.bearer = "eyJ.tok.en";
	rq.accept = "application/jwt";
	assert_int_equal(fa_remote_fetch(f->r, &rq, &resp, &e), FA_OK);
	assert_string_equal(resp.body, "{\"method\":\"GET\"}");
	fa_remote_resp_cleanup(&resp);
	pthread_mutex_lock(&f->s->mu);
	assert_string_equal(f->s->auth, "Bearer eyJ.tok.en");
	pthread_mutex_unlock(&f->s->mu);
}

static void test_unreachable_message(void **state)
{
	struct fix *f = *state;
	struct fa_remote_req rq = { .max_body = 1024, .basic_id = "c", .basic_secret = "hunter2" };
	struct fa_remote_resp resp;
	unsigned port = f->s->port;
	char url[256], shown[64];
	struct fa_err e;

	/* Nothing listens there once the server is gone. */
	rts_stop(f->s);
	f->s = NULL;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/token?client_secret=hunter2", port);
	snprintf(shown, sizeof(shown), "http://127.0.0.1:%u/token: ", port);
	rq.url = url;
	fa_err_clear(&e);
	assert_int_equal(fa_remote_fetch(f->r, &rq, &resp, &e), FA_ENET);
	assert_non_null(strstr(e.msg, shown));
	assert_null(strstr(e.msg, "hunter2"));
	assert_null(strstr(e.msg, "client_secret"));
	assert_null(resp.body);
	f->s = rts_start(NULL, NULL);
}

static void test_timeout(void **state)
{
	struct fix *f = *state;
	struct fa_remote_opts o = { .timeout_ms = 300 };
	struct fa_remote *quick;
	char url[256];
	struct fa_err e;
	json_t *out = NULL;
	int64_t t0;

	assert_int_equal(fa_remote_new(&o, &quick, &e), FA_OK);
	f->s->delay_ms = 2000;
	rts_url(f->s, "/slow", url, sizeof(url));
	t0 = fa_mono_ms();
	fa_err_clear(&e);
	expect_err(fa_remote_get_json(quick, url, 1024, "slow", NULL, &out, NULL, &e), &e, FA_ENET,
		   "/slow: no answer within 300 ms");
	assert_true(fa_mono_ms() - t0 < 1500);
	fa_remote_free(quick);
}

struct canceller {
	atomic_bool flag;
	int after_ms;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;

	rts_sleep_ms(c->after_ms);
	atomic_store(&c->flag, true);
	return NULL;
}

static void test_cancel(void **state)
{
	struct fix *f = *state;
	struct canceller c = { .after_ms = 200 };
	pthread_t t;
	char url[256];
	struct fa_err e;
	json_t *out = NULL;
	int64_t t0;

	atomic_init(&c.flag, false);
	f->s->delay_ms = 4000;
	rts_url(f->s, "/slow", url, sizeof(url));
	assert_int_equal(pthread_create(&t, NULL, cancel_later, &c), 0);
	t0 = fa_mono_ms();
	fa_err_clear(&e);
	expect_err(fa_remote_get_json(f->r, url, 1024, "slow", &c.flag, &out, NULL, &e), &e, FA_ENET,
		   "cancelled");
	assert_true(fa_mono_ms() - t0 < 2500);
	pthread_join(t, NULL);
}

static void test_options(void **state)
{
	struct fa_remote_opts o = { 0 };
	struct fa_remote *r = NULL;
	char dir[64], path[128];
	struct fa_err e;
	FILE *fp;

	(void)state;
	o.proxy_url = "ftp://proxy:21";
	expect_err(fa_remote_new(&o, &r, &e), &e, FA_EINVAL, "proxy URL must be http://");
	o.proxy_url = "http://";
	expect_err(fa_remote_new(&o, &r, &e), &e, FA_EINVAL, "with a host");
	o.proxy_url = "http://user:pw@proxy:3128";
	assert_int_equal(fa_remote_new(&o, &r, &e), FA_OK);
	fa_remote_free(r);
	o.proxy_url = NULL;
	o.timeout_ms = -1;
	expect_err(fa_remote_new(&o, &r, &e), &e, FA_EINVAL, "timeout must be between");
	o.timeout_ms = 0;
	o.connect_timeout_ms = 24 * 3600 * 1000;
	expect_err(fa_remote_new(&o, &r, &e), &e, FA_EINVAL, "connect timeout");
	o.connect_timeout_ms = 0;
	o.ca_file = "/nonexistent/ca.pem";
	expect_err(fa_remote_new(&o, &r, &e), &e, FA_ENOTFOUND, "cannot read CA file");
	snprintf(dir, sizeof(dir), "/tmp/fa_remote_opts.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	fp = fopen(path, "w");
	fputs("not a certificate\n", fp);
	fclose(fp);
	o.ca_file = path;
	expect_err(fa_remote_new(&o, &r, &e), &e, FA_EINVAL, "holds no PEM certificate");
	assert_null(r);
	rts_rm_dir(dir);
	fa_remote_free(NULL);
}

/* ---- TLS ------------------------------------------------------------------------ */

static void tls_get(const struct fa_remote *r, const struct rts *s, enum fa_rc want,
		    const char *sub)
{
	char url[256];
	struct fa_err e;
	json_t *o = NULL;
	enum fa_rc rc;

	rts_url(s, "/json", url, sizeof(url));
	fa_err_clear(&e);
	rc = fa_remote_get_json(r, url, 1024, "TLS document", NULL, &o, NULL, &e);
	if (rc != want)
		print_error("%s: %s\n", url, e.msg);
	assert_int_equal(rc, want);
	if (sub)
		assert_non_null(strstr(e.msg, sub));
	json_decref(o);
}

static void test_tls_trust(void **state)
{
	char dir[64], ca_a[128], ca_b[128];
	char *cert_a, *key_a, *cert_b, *key_b;
	struct rts *sa, *sb;
	struct fa_remote_opts o = { 0 };
	struct fa_remote *r;
	struct fa_err e;

	(void)state;
	if (system("command -v openssl >/dev/null 2>&1") != 0)
		skip();
	rts_make_two_pkis("remote_tls", dir, ca_a, ca_b);
	cert_a = rts_read(dir, "a-cert.pem");
	key_a = rts_read(dir, "a-key.pem");
	cert_b = rts_read(dir, "b-cert.pem");
	key_b = rts_read(dir, "b-key.pem");
	sa = rts_start(cert_a, key_a);
	sb = rts_start(cert_b, key_b);

	/* The system store does not know our throwaway CA: refused. */
	assert_int_equal(fa_remote_new(NULL, &r, &e), FA_OK);
	tls_get(r, sa, FA_ENET, "certificate");
	fa_remote_free(r);
	/* With the private CA file: accepted. */
	o.ca_file = ca_a;
	assert_int_equal(fa_remote_new(&o, &r, &e), FA_OK);
	tls_get(r, sa, FA_OK, NULL);
	tls_get(r, sb, FA_ENET, "certificate");
	fa_remote_free(r);
	/* The private CA is added to the system store, not put in its place:
	 * with B standing in for the system's CAs, both servers pass. */
	o.system_ca_file = ca_b;
	assert_int_equal(fa_remote_new(&o, &r, &e), FA_OK);
	tls_get(r, sa, FA_OK, NULL);
	tls_get(r, sb, FA_OK, NULL);
	fa_remote_free(r);
	o.ca_file = NULL;
	assert_int_equal(fa_remote_new(&o, &r, &e), FA_OK);
	tls_get(r, sa, FA_ENET, "certificate");
	tls_get(r, sb, FA_OK, NULL);
	fa_remote_free(r);

	rts_stop(sa);
	rts_stop(sb);
	free(cert_a);
	free(key_a);
	free(cert_b);
	free(key_b);
	rts_rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_and_redirects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_form_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_tls_trust),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
