/* test_authz_logic.c -- the pure protocol pieces of the authorization server,
 * with no store and no HTTP: scope parsing and subset rules, PKCE (RFC 7636
 * Appendix B vector; plain refused), redirect_uri matching (exact, loopback
 * any-port, and the classic open-redirect payloads), and Basic client
 * credentials (RFC 6749 §2.3.1 form-urlencoding).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authz/authz_ep_int.h"

static void assert_oauth(const struct fa_err *err, int http, const char *code, const char *msg)
{
	assert_int_equal(fa_authz_status(err), http);   /* as the endpoints answer */
	assert_non_null(err->oauth_error);
	assert_string_equal(err->oauth_error, code);
	if (msg && !strstr(err->msg, msg))
		fail_msg("error message '%s' lacks '%s'", err->msg, msg);
}

/* ---- scopes ------------------------------------------------------------ */

static void test_scope_parse(void **state)
{
	struct fa_scope sc;
	struct fa_err err;
	char out[FA_MAX_SCOPE + 1];

	(void)state;
	fa_err_clear(&err);
	assert_int_equal(fa_scope_parse("all offline all access_token", &sc, &err), FA_OK);
	assert_int_equal(sc.n, 3);   /* the repeated token collapses */
	assert_string_equal(fa_scope_get(&sc, 0), "all");
	assert_string_equal(fa_scope_get(&sc, 2), "access_token");
	fa_scope_format(&sc, out, sizeof(out));
	assert_string_equal(out, "all offline access_token");
	assert_true(fa_scope_has_offline(&sc));
	assert_int_equal(fa_scope_parse(NULL, &sc, &err), FA_OK);
	assert_int_equal(sc.n, 0);
	assert_int_equal(fa_scope_parse("", &sc, &err), FA_OK);
	assert_int_equal(sc.n, 0);
	assert_int_equal(fa_scope_parse("a!#[]~", &sc, &err), FA_OK);
}

static void test_scope_grammar_rejected(void **state)
{
	static const char *const bad[] = {
		" all", "all ", "all  offline", "al\"l", "al\\l", "all\toffline", "all\x01",
		"caf\xc3\xa9",
	};
	struct fa_scope sc;
	struct fa_err err;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		fa_err_clear(&err);
		assert_int_equal(fa_scope_parse(bad[i], &sc, &err), FA_EINVAL);
		assert_oauth(&err, 400, "invalid_scope", NULL);
		assert_int_equal(sc.n, 0);   /* a failed parse leaves nothing */
	}
}

static void test_scope_limits(void **state)
{
	char big[FA_MAX_SCOPE + 2];
	char many[4096];
	struct fa_scope sc;
	struct fa_err err;
	size_t w = 0;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fa_err_clear(&err);
	assert_int_equal(fa_scope_parse(big, &sc, &err), FA_ETOOBIG);
	assert_oauth(&err, 400, "invalid_scope", "longer than 1024");
	for (int i = 0; i < FA_MAX_SCOPES + 1; i++)
		w += (size_t)snprintf(many + w, sizeof(many) - w, "%ss%d", i ? " " : "", i);
	fa_err_clear(&err);
	assert_int_equal(fa_scope_parse(many, &sc, &err), FA_ETOOBIG);
	assert_oauth(&err, 400, "invalid_scope", "too many scope tokens");
}

static void test_scope_subset(void **state)
{
	struct fa_scope client, req;
	struct fa_err err;

	(void)state;
	assert_int_equal(fa_scope_parse("all offline access_token", &client, &err), FA_OK);
	assert_int_equal(fa_scope_parse("offline all", &req, &err), FA_OK);
	assert_true(fa_scope_subset(&req, &client));
	assert_int_equal(fa_scope_parse("all admin", &req, &err), FA_OK);
	assert_false(fa_scope_subset(&req, &client));
	/* A prefix of a token is not the token. */
	assert_int_equal(fa_scope_parse("al", &req, &err), FA_OK);
	assert_false(fa_scope_subset(&req, &client));
	assert_int_equal(fa_scope_parse("", &req, &err), FA_OK);
	assert_true(fa_scope_subset(&req, &client));
}

/* SPEC §5: offline_access is offline; a login client may have openid,
 * profile, email; other scopes are narrowed, never refused unless nothing
 * is left. */
static void test_scope_allowed_narrow(void **state)
{
	struct fa_scope conf, allowed, want, got;
	char out[FA_MAX_SCOPE + 1];
	struct fa_err err;

	(void)state;
	assert_int_equal(fa_scope_parse("all offline", &conf, &err), FA_OK);
	assert_int_equal(fa_scope_allowed_build(&conf, true, &allowed, &err), FA_OK);
	fa_scope_format(&allowed, out, sizeof(out));
	assert_string_equal(out, "all offline offline_access openid profile email");
	assert_int_equal(fa_scope_allowed_build(&conf, false, &allowed, &err), FA_OK);
	fa_scope_format(&allowed, out, sizeof(out));
	assert_string_equal(out, "all offline offline_access");
	assert_int_equal(fa_scope_parse("offline_access", &conf, &err), FA_OK);
	assert_int_equal(fa_scope_allowed_build(&conf, false, &allowed, &err), FA_OK);
	assert_true(fa_scope_has(&allowed, "offline"));

	assert_int_equal(fa_scope_parse("all offline", &conf, &err), FA_OK);
	assert_int_equal(fa_scope_allowed_build(&conf, true, &allowed, &err), FA_OK);
	assert_int_equal(fa_scope_parse("phone openid admin all", &want, &err), FA_OK);
	assert_int_equal(fa_scope_narrow(&want, &allowed, &got, &err), FA_OK);
	fa_scope_format(&got, out, sizeof(out));
	assert_string_equal(out, "openid all");
	assert_int_equal(fa_scope_parse("phone admin", &want, &err), FA_OK);
	fa_err_clear(&err);
	assert_int_equal(fa_scope_narrow(&want, &allowed, &got, &err), FA_EDENIED);
	assert_string_equal(err.oauth_error, "invalid_scope");
	assert_int_equal(got.n, 0);
	/* The default applies to an empty request, and is narrowed too. */
	assert_int_equal(fa_scope_request(NULL, &conf, &allowed, &got, &err), FA_OK);
	fa_scope_format(&got, out, sizeof(out));
	assert_string_equal(out, "all offline");
	fa_err_clear(&err);
	assert_int_equal(fa_scope_request("a  b", &conf, &allowed, &got, &err), FA_EINVAL);
	assert_string_equal(err.oauth_error, "invalid_scope");
}

/* ---- PKCE ------------------------------------------------------------------ */

/* RFC 7636 Appendix B. */
#define VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

static void test_pkce_s256_rfc7636_vector(void **state)
{
	char c[FA_PKCE_CHALLENGE_LEN + 1];
	struct fa_err err;

	(void)state;
	assert_int_equal(fa_sha256_b64url(VERIFIER, strlen(VERIFIER), c), FA_OK);
	assert_string_equal(c, CHALLENGE);
	fa_err_clear(&err);
	assert_int_equal(fa_pkce_challenge_check(CHALLENGE, "S256", &err), FA_OK);
	assert_int_equal(fa_pkce_verify(CHALLENGE, VERIFIER, &err), FA_OK);
}

static void test_pkce_plain_rejected(void **state)
{
	struct fa_err err;

	(void)state;
	fa_err_clear(&err);
	assert_int_equal(fa_pkce_challenge_check(VERIFIER, "plain", &err), FA_EUNSUPPORTED);
	assert_oauth(&err, 400, "invalid_request", "plain is not supported");
	/* No method means plain (RFC 7636 §4.3), so it is refused too. */
	fa_err_clear(&err);
	assert_int_equal(fa_pkce_challenge_check(CHALLENGE, NULL, &err), FA_EUNSUPPORTED);
	assert_oauth(&err, 400, "invalid_request", "plain is not supported");
	fa_err_clear(&err);
	assert_int_equal(fa_pkce_challenge_check(CHALLENGE, "s256", &err), FA_EUNSUPPORTED);
	assert_oauth(&err, 400, "invalid_request", "use S256");
}

static void test_pkce_challenge_shape(void **state)
{
	struct fa_err err;

	(void)state;
	fa_err_clear(&err);
	assert_int_equal(fa_pkce_challenge_check(NULL, "S256", &err), FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "without code_challenge");
	fa_err_clear(&err);
	assert_int_equal(fa_pkce_challenge_check("short", "S256", &err), FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "43 base64url");
	fa_err_clear(&err);
	assert_int_equal(fa_pkce_challenge_check("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
						 "S256", &err), FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "43 base64url");
}

static void test_pkce_verifier_mismatch(void **state)
{
	char other[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
	char longv[FA_PKCE_VERIFIER_MAX + 2];
	struct fa_err err;

	(void)state;
	fa_err_clear(&err);
	assert_int_equal(fa_pkce_verify(CHALLENGE, other, &err), FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "does not match");
	fa_err_clear(&err);
	assert_int_equal(fa_pkce_verify(CHALLENGE, NULL, &err), FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "code_verifier is missing");
	fa_err_clear(&err);
	assert_int_equal(fa_pkce_verify(CHALLENGE, "tooshort", &err), FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "43 to 128");
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	fa_err_clear(&err);
	assert_int_equal(fa_pkce_verify(CHALLENGE, longv, &err), FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "43 to 128");
	fa_err_clear(&err);
	assert_int_equal(fa_pkce_verify(CHALLENGE, "dBjftJeZ4CVP mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
					&err), FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "does not allow");
	/* The challenge itself is not a verifier (a leaked authorize URL). */
	fa_err_clear(&err);
	assert_int_equal(fa_pkce_verify(CHALLENGE, CHALLENGE, &err), FA_EDENIED);
}

/* ---- redirect URIs -------------------------------------------------------------- */

static char *const registered[] = {
	"https://flyte.example.com/callback",
	"http://localhost:53593/callback",
	"http://127.0.0.1:8080/cb?x=1",
	"http://[::1]/native",
	"https://app.example.com:8443/cb",
};

static void test_redirect_exact(void **state)
{
	(void)state;
	assert_true(fa_redirect_match("https://flyte.example.com/callback", registered, 5));
	assert_true(fa_redirect_match("https://app.example.com:8443/cb", registered, 5));
	/* Non-loopback hosts never get the any-port rule. */
	assert_false(fa_redirect_match("https://app.example.com:8444/cb", registered, 5));
	assert_false(fa_redirect_match("https://app.example.com/cb", registered, 5));
	/* No normalisation at all: case, trailing slash, dot segments. */
	assert_false(fa_redirect_match("https://FLYTE.example.com/callback", registered, 5));
	assert_false(fa_redirect_match("https://flyte.example.com/callback/", registered, 5));
	assert_false(fa_redirect_match("https://flyte.example.com/x/../callback", registered, 5));
	assert_false(fa_redirect_match(NULL, registered, 5));
}

static void test_redirect_loopback_any_port(void **state)
{
	(void)state;
	assert_true(fa_redirect_match("http://localhost:41234/callback", registered, 5));
	assert_true(fa_redirect_match("http://localhost/callback", registered, 5));
	assert_true(fa_redirect_match("http://127.0.0.1:1/cb?x=1", registered, 5));
	assert_true(fa_redirect_match("http://[::1]:5000/native", registered, 5));
	/* Path and query must still match exactly. */
	assert_false(fa_redirect_match("http://localhost:41234/callbackx", registered, 5));
	assert_false(fa_redirect_match("http://localhost:41234/callback?a=b", registered, 5));
	assert_false(fa_redirect_match("http://127.0.0.1:8080/cb?x=2", registered, 5));
	/* The host must be the registered one, and the scheme http. */
	assert_false(fa_redirect_match("http://127.0.0.1:41234/callback", registered, 5));
	assert_false(fa_redirect_match("https://localhost:41234/callback", registered, 5));
	assert_false(fa_redirect_match("http://localhost:0/callback", registered, 5));
	assert_false(fa_redirect_match("http://localhost:65536/callback", registered, 5));
	assert_false(fa_redirect_match("http://localhost:/callback", registered, 5));
	assert_false(fa_redirect_match("http://localhost:12ab/callback", registered, 5));
}

static void test_open_redirect(void **state)
{
	static const char *const payloads[] = {
		"https://evil.com",
		"//evil.com",
		"/\\evil.com",
		"https://flyte.example.com.evil.com/callback",
		"https://flyte.example.com@evil.com/callback",
		"https://evil.com@flyte.example.com/callback",
		"https://flyte.example.com/callback#@evil.com",
		"https://flyte.example.com/callback/../../evil",
		"https://flyte.example.com/callback?next=https://evil.com",
		"javascript:alert(1)//https://flyte.example.com/callback",
		"https:%2F%2Fevil.com",
		"%2F%2Fevil.com",
		"http://localhost.evil.com:53593/callback",
		"http://localhost@evil.com:53593/callback",
		"http://evil.com:53593/callback",
		"http://localhost:53593/callback#x",
		"http://localhost:53593/callback/../evil",
		"http://127.0.0.1.nip.io:8080/cb?x=1",
		"http://[::1].evil.com/native",
		"http://[::2]:1/native",
		"https://flyte.example.com/callback\r\nLocation: https://evil.com",
		"https://flyte.example.com/call back",
		"HTTPS://flyte.example.com/callback",
		"",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(payloads); i++) {
		if (fa_redirect_match(payloads[i], registered, ARRAY_LEN(registered)))
			fail_msg("open redirect accepted: %s", payloads[i]);
	}
}

static void test_redirect_uri_ok(void **state)
{
	char longuri[FA_MAX_REDIRECT_URI + 16];

	(void)state;
	assert_true(fa_url_redirect_ok("https://a.example/cb"));
	assert_true(fa_url_redirect_ok("http://localhost:1/"));
	assert_false(fa_url_redirect_ok("ftp://a.example/cb"));
	assert_false(fa_url_redirect_ok("https:///cb"));
	assert_false(fa_url_redirect_ok("https://a.example/cb#frag"));
	assert_false(fa_url_redirect_ok("https://u:p@a.example/cb"));
	assert_false(fa_url_redirect_ok("https://[::1/cb"));
	assert_false(fa_url_redirect_ok(NULL));
	snprintf(longuri, sizeof(longuri), "https://a.example/");
	memset(longuri + 18, 'a', FA_MAX_REDIRECT_URI - 17);
	longuri[FA_MAX_REDIRECT_URI + 1] = '\0';
	assert_false(fa_url_redirect_ok(longuri));
}

/* ---- Basic credentials ---------------------------------------------------- */

static char *basic(const char *userpass)
{
	char *b64 = fa_b64_encode_dup(userpass, strlen(userpass), FA_B64_STD);
	char *h = malloc(strlen(b64) + 8);

	snprintf(h, strlen(b64) + 8, "Basic %s", b64);
	free(b64);
	return h;
}

static void test_basic_form_urlencoded(void **state)
{
	char id[FA_MAX_ID + 1], secret[FA_MAX_PASSWORD + 1];
	struct fa_err err;
	char *h;

	(void)state;
	/* RFC 6749 §2.3.1: both parts are form-urlencoded before Basic. */
	h = basic("my%20client:p%40ss+word%3A%2B%25");
	fa_err_clear(&err);
	assert_int_equal(fa_authz_basic_parse(h, id, secret, &err), FA_OK);
	assert_string_equal(id, "my client");
	assert_string_equal(secret, "p@ss word:+%");
	free(h);
	/* The scheme is case-insensitive; only the first ':' splits. */
	h = basic("cli:a:b");
	h[0] = 'b';
	h[2] = 'S';
	assert_int_equal(fa_authz_basic_parse(h, id, secret, &err), FA_OK);
	assert_string_equal(id, "cli");
	assert_string_equal(secret, "a:b");
	free(h);
	assert_int_equal(fa_authz_basic_parse("Bearer abc", id, secret, &err), FA_ENOTFOUND);
	assert_int_equal(fa_authz_basic_parse(NULL, id, secret, &err), FA_ENOTFOUND);
	assert_int_equal(fa_authz_basic_parse("Basicx", id, secret, &err), FA_ENOTFOUND);
}

static void test_basic_malformed(void **state)
{
	static const char *const raw[] = { "nocolon", "bad%zzescape:x", "id:bad%2", "id:nul%00x",
					   "id:ctl%0a" };
	static const char *const msgs[] = { "':' separator", "percent-escape", "percent-escape",
					    "control character", "control character" };
	char id[FA_MAX_ID + 1], secret[FA_MAX_PASSWORD + 1];
	struct fa_err err;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(raw); i++) {
		char *h = basic(raw[i]);

		fa_err_clear(&err);
		assert_int_not_equal(fa_authz_basic_parse(h, id, secret, &err), FA_OK);
		assert_oauth(&err, 400, "invalid_request", msgs[i]);
		assert_string_equal(secret, "");
		free(h);
	}
	fa_err_clear(&err);
	assert_int_equal(fa_authz_basic_parse("Basic !!!!", id, secret, &err), FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "not valid base64");
	fa_err_clear(&err);
	assert_int_equal(fa_authz_basic_parse("Basic ", id, secret, &err), FA_ETOOBIG);
	assert_oauth(&err, 400, "invalid_request", "missing or too long");
}

static void test_basic_oversize(void **state)
{
	char *user = malloc(FA_MAX_ID + 10);
	char id[FA_MAX_ID + 1], secret[FA_MAX_PASSWORD + 1];
	struct fa_err err;
	char *h;

	(void)state;
	memset(user, 'u', FA_MAX_ID + 1);
	user[FA_MAX_ID + 1] = ':';
	user[FA_MAX_ID + 2] = 's';
	user[FA_MAX_ID + 3] = '\0';
	h = basic(user);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_basic_parse(h, id, secret, &err), FA_ETOOBIG);
	assert_oauth(&err, 400, "invalid_request", "too long");
	free(h);
	free(user);
}

static void test_grant_bits(void **state)
{
	(void)state;
	assert_int_equal(fa_authz_grant_bit("authorization_code"), FA_GRANT_CODE);
	assert_int_equal(fa_authz_grant_bit("refresh_token"), FA_GRANT_REFRESH);
	assert_int_equal(fa_authz_grant_bit("client_credentials"), FA_GRANT_CLIENT_CREDENTIALS);
	assert_int_equal(fa_authz_grant_bit(FA_GRANT_TYPE_DEVICE), FA_GRANT_DEVICE);
	assert_int_equal(fa_authz_grant_bit("password"), 0);
	assert_int_equal(fa_authz_grant_bit("implicit"), 0);
	assert_int_equal(fa_authz_grant_bit("Authorization_Code"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scope_parse),
		cmocka_unit_test(test_scope_grammar_rejected),
		cmocka_unit_test(test_scope_limits),
		cmocka_unit_test(test_scope_subset),
		cmocka_unit_test(test_scope_allowed_narrow),
		cmocka_unit_test(test_pkce_s256_rfc7636_vector),
		cmocka_unit_test(test_pkce_plain_rejected),
		cmocka_unit_test(test_pkce_challenge_shape),
		cmocka_unit_test(test_pkce_verifier_mismatch),
		cmocka_unit_test(test_redirect_exact),
		cmocka_unit_test(test_redirect_loopback_any_port),
		cmocka_unit_test(test_open_redirect),
		cmocka_unit_test(test_redirect_uri_ok),
		cmocka_unit_test(test_basic_form_urlencoded),
		cmocka_unit_test(test_basic_malformed),
		cmocka_unit_test(test_basic_oversize),
		cmocka_unit_test(test_grant_bits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
