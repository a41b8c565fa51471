/* test_client_net.c -- the client's HTTP settings against a real server
 * (remote_test_server.h), since its requests go through the remote module:
 * caCertFilePath is the only trust (a server signed by another CA is
 * refused, as in flytectl), insecureSkipVerify turns checking off,
 * authorizationHeader names the header that carries the token, a failure
 * reads "cannot reach URL: why", and httpProxyURL takes the proxies the
 * server's outbound HTTP takes.
 */
#include "remote_test_server.h"

#include "client/client_int.h"

static char dir[64], ca_a[128], ca_b[128];
static struct rts *tls, *plain;
static char *cert, *key;

static int setup(void **state)
{
	(void)state;
	if (system("command -v openssl >/dev/null 2>&1") != 0)
		return 0;
	rts_make_two_pkis("client_net", dir, ca_a, ca_b);
	cert = rts_read(dir, "a-cert.pem");
	key = rts_read(dir, "a-key.pem");
	tls = rts_start(cert, key);
	plain = rts_start(NULL, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (!tls)
		return 0;
	rts_stop(tls);
	rts_stop(plain);
	free(cert);
	free(key);
	rts_rm_dir(dir);
	return 0;
}

/* A client made from the admin section `extra` (after the endpoint of
 * server s), or its error in e. */
static enum fa_rc client_of(const struct rts *s, const char *extra, struct fa_client **c,
			    struct fa_client_config **cc, struct fa_err *e)
{
	struct fa_client_opts o;
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), "admin:\n  endpoint: dns:///127.0.0.1:%u\n%s%s", s->port,
		 s->cert_pem ? "" : "  insecure: true\n", extra);
	assert_int_equal(fa_client_config_load_buffer("c.yaml", yaml, strlen(yaml), NULL, cc, e),
			 FA_OK);
	memset(&o, 0, sizeof(o));
	o.config = *cc;
	*c = NULL;
	fa_err_clear(e);
	return fa_client_new(&o, c, e);
}

/* GET /json on s with the client that `extra` configures. */
static void get(const struct rts *s, const char *extra, enum fa_rc want, const char *sub)
{
	struct fa_client_config *cc = NULL;
	struct fa_client *c = NULL;
	struct fa_remote_req rq = { .max_body = 1024 };
	struct fa_remote_resp resp = { 0 };
	struct fa_err e;
	char url[256];

	assert_int_equal(client_of(s, extra, &c, &cc, &e), FA_OK);
	rts_url(s, "/json", url, sizeof(url));
	rq.url = url;
	fa_err_clear(&e);
	if (sub)
		expect_err(cl_http(c, &rq, &resp, &e), &e, want, sub);
	else
		assert_int_equal(cl_http(c, &rq, &resp, &e), want);
	if (want == FA_OK)
		assert_int_equal(resp.status, 200);
	fa_remote_resp_cleanup(&resp);
	fa_client_free(c);
	fa_client_config_free(cc);
}

static void test_ca_cert_file(void **state)
{
	char extra[256], want[300];

	(void)state;
	if (!tls)
		skip();
	snprintf(extra, sizeof(extra), "  caCertFilePath: %s\n", ca_a);
	get(tls, extra, FA_OK, NULL);
	/* Only that file is trusted: a server of another CA is refused. */
	snprintf(extra, sizeof(extra), "  caCertFilePath: %s\n", ca_b);
	snprintf(want, sizeof(want), "https://127.0.0.1:%u/json: the server's TLS certificate is "
		 "not signed by a CA this machine trusts", tls->port);
	get(tls, extra, FA_ECRYPTO, want);
	/* Without it the system's CAs do not know ours. */
	get(tls, "", FA_ECRYPTO, want);
}

static void test_insecure_skip_verify(void **state)
{
	(void)state;
	if (!tls)
		skip();
	get(tls, "  insecureSkipVerify: true\n", FA_OK, NULL);
	get(tls, "  insecureSkipVerify: false\n", FA_ECRYPTO, "certificate");
}

static void test_authorization_header(void **state)
{
	struct fa_client_config *cc = NULL;
	struct fa_client *c = NULL;
	struct fa_remote_req rq = { .max_body = 1024, .bearer = "eyJ.tok.en" };
	struct fa_remote_resp resp = { 0 };
	struct fa_err e;
	char url[256];

	(void)state;
	if (!tls)
		skip();
	assert_int_equal(client_of(plain, "  authorizationHeader: flyte-authorization\n", &c, &cc,
				   &e), FA_OK);
	rts_url(plain, "/echo", url, sizeof(url));
	rq.url = url;
	rq.bearer_header = fa_client_header_name(c);
	assert_int_equal(cl_http(c, &rq, &resp, &e), FA_OK);
	pthread_mutex_lock(&plain->mu);
	assert_string_equal(plain->flyte_auth, "Bearer eyJ.tok.en");
	assert_string_equal(plain->auth, "");
	pthread_mutex_unlock(&plain->mu);
	fa_remote_resp_cleanup(&resp);
	fa_client_free(c);
	fa_client_config_free(cc);
}

static void test_unreachable(void **state)
{
	struct fa_client_config *cc = NULL;
	struct fa_client *c = NULL;
	struct fa_remote_req rq = { .max_body = 1024, .url = "http://127.0.0.1:1/x?code=secret" };
	struct fa_remote_resp resp = { 0 };
	struct fa_err e;

	(void)state;
	if (!tls)
		skip();
	assert_int_equal(client_of(plain, "", &c, &cc, &e), FA_OK);
	expect_err(cl_http(c, &rq, &resp, &e), &e, FA_ENET, "cannot reach http://127.0.0.1:1/x: ");
	assert_null(strstr(e.msg, "secret"));
	fa_client_free(c);
	fa_client_config_free(cc);
}

static void test_proxy_schemes(void **state)
{
	struct fa_client_config *cc = NULL;
	struct fa_client *c = NULL;
	struct fa_err e;

	(void)state;
	if (!tls)
		skip();
	expect_err(client_of(plain, "  httpProxyURL: socks4://u:pw@proxy:1080\n", &c, &cc, &e), &e,
		   FA_ECONFIG, "admin.httpProxyURL: proxy URL must be http://, https://, socks5://");
	assert_null(c);
	assert_null(strstr(e.msg, "pw"));
	fa_client_config_free(cc);
	assert_int_equal(client_of(plain, "  httpProxyURL: socks5h://proxy:1080\n", &c, &cc, &e),
			 FA_OK);
	fa_client_free(c);
	fa_client_config_free(cc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_cert_file),
		cmocka_unit_test(test_insecure_skip_verify),
		cmocka_unit_test(test_authorization_header),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_proxy_schemes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
