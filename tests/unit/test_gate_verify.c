/* test_gate_verify.c -- GET /auth/verify and the C verification API through
 * the real dispatcher (Self tokens): the identity headers and how they stay
 * safe whatever a token says, the 401/403/400 challenges, the redirect of a
 * browser without a session to /login and back, auth.disableForHttp,
 * auth.requiredScope, revocation checks through their cache, the IDToken
 * scheme without an IdP, /config/v1/flyte_client, and fa_gate_verify with
 * name/value pairs.
 */
#include <openssl/evp.h>

#include "gate_fixture.h"

/* /auth/verify with the token in `authorization` (NULL: none) and extra
 * headers ("Name: value", NULL-terminated; may be NULL). */
static struct fa_req *verify(struct fx *f, const char *method, const char *target,
			     const char *tok, const char *const *extra)
{
	static char auth[FA_MAX_TOKEN + 64];
	const char *hs[12];
	size_t n = 0;

	if (tok) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
		hs[n++] = auth;
	}
	for (size_t i = 0; extra && extra[i] && n < ARRAY_LEN(hs) - 1; i++)
		hs[n++] = extra[i];
	hs[n] = NULL;
	return harness_call(&f->h, method, target, hs, NULL, NULL);
}

/* A GET /auth/verify whose answer matters only by its status. */
static void expect_status(struct fx *f, const char *target, const char *tok,
			  const char *const *extra, int status)
{
	struct fa_req *r = verify(f, "GET", target, tok, extra);

	if (resp_status(r) != status)
		fail_msg("%s: expected %d, got %d: %s", target, status, resp_status(r), resp_body(r));
	if (status != 200)
		assert_null(resp_header(r, "X-User-Subject"));
	harness_done(r);
}

static size_t count_claim_headers(const struct fa_req *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->resp.n_headers; i++)
		if (strncasecmp(r->resp.headers[i].name, "X-User-Claim-", 13) == 0)
			n++;
	return n;
}

/* No header of the answer may carry a byte a header cannot. */
static void assert_headers_safe(const struct fa_req *r)
{
	for (size_t i = 0; i < r->resp.n_headers; i++) {
		const char *v = r->resp.headers[i].value;

		assert_true(strlen(v) <= FA_GATE_MAX_HEADER_VALUE ||
			    strncasecmp(r->resp.headers[i].name, "X-User-", 7) != 0);
		for (const unsigned char *p = (const unsigned char *)v; *p; p++)
			assert_true(*p == '\t' || (*p >= 0x20 && *p < 0x7f));
	}
}

static void test_verify_identity_headers(void **state)
{
	struct fx *f = *state;
	struct fa_req *r;
	char *tok;

	start(f, NULL, false);
	tok = mint(f, user_claims(600));
	for (int round = 0; round < 2; round++) {   /* verified, then remembered */
		r = verify(f, "GET", "/auth/verify", tok, NULL);
		assert_int_equal(resp_status(r), 200);
		assert_string_equal(resp_body(r), "");
		assert_string_equal(resp_header(r, "Cache-Control"), "no-store");
		assert_string_equal(resp_header(r, "X-User-Subject"), "alice");
		assert_string_equal(resp_header(r, "X-User-Client-Id"), "flytectl");
		assert_string_equal(resp_header(r, "X-User-Scopes"), "all offline");
		assert_string_equal(resp_header(r, "X-User-Email"), "alice@example.com");
		/* flyteadmin's claim headers: every claim as JSON, `_` as `-`. */
		assert_string_equal(resp_header(r, "X-User-Claim-Sub"), "\"alice\"");
		assert_string_equal(resp_header(r, "X-User-Claim-Client-Id"), "\"flytectl\"");
		assert_string_equal(resp_header(r, "X-User-Claim-Jti"), "\"j-123\"");
		assert_string_equal(resp_header(r, "X-User-Claim-Scp"), "[\"all\",\"offline\"]");
		assert_non_null(strstr(resp_header(r, "X-User-Claim-User-Info"),
				       "\"name\":\"Alice Example\""));
		assert_int_equal(count_claim_headers(r), 9);
		harness_done(r);
	}
	/* The configured header and other methods (Envoy keeps the original
	 * one) and paths below /auth/verify (Envoy's path_prefix) work too. */
	{
		char h[FA_MAX_TOKEN + 64];
		const char *hs[2] = { h, NULL };

		snprintf(h, sizeof(h), "flyte-authorization: Bearer %s", tok);
		r = harness_call(&f->h, "POST", "/auth/verify/api/v1/projects?x=1", hs, NULL, NULL);
		assert_int_equal(resp_status(r), 200);
		assert_string_equal(resp_header(r, "X-User-Subject"), "alice");
		harness_done(r);
		r = harness_call(&f->h, "HEAD", "/auth/verify", hs, NULL, NULL);
		assert_int_equal(resp_status(r), 200);
		harness_done(r);
	}
	free(tok);
}

/* Whatever a token says, the headers stay headers: no CR/LF, no non-ASCII,
 * bounded values, a bounded number of claims, names that are names. */
static void test_verify_header_injection(void **state)
{
	struct fx *f = *state;
	static char big[2000];
	json_t *c = user_claims(600);
	struct fa_req *r;
	char *tok, name[32];

	start(f, NULL, false);
	memset(big, 'x', sizeof(big) - 1);
	json_object_set_new(c, "sub", json_string("ali\r\nX-Evil: 1 %"));
	json_object_set_new(c, "client_id", json_string("caf\xc3\xa9"));
	json_object_set_new(c, "email", json_string("a\nb@example.com"));
	json_object_set_new(c, "name", json_string("J\xc3\xbcrgen\r\nSet-Cookie: x=1"));
	json_object_set_new(c, "huge", json_string(big));
	json_object_set_new(c, "bad name", json_string("v"));
	json_object_set_new(c, "bad:name", json_string("v"));
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "z%02d", i);
		json_object_set_new(c, name, json_integer(i));
	}
	tok = mint(f, c);
	r = verify(f, "GET", "/auth/verify", tok, NULL);
	assert_int_equal(resp_status(r), 200);
	assert_headers_safe(r);
	/* Percent-encoded, '%' included, so it cannot be mistaken for
	 * another subject. */
	assert_string_equal(resp_header(r, "X-User-Subject"), "ali%0D%0AX-Evil:%201%20%25");
	assert_string_equal(resp_header(r, "X-User-Client-Id"), "caf%C3%A9");
	assert_string_equal(resp_header(r, "X-User-Email"), "a%0Ab@example.com");
	assert_null(resp_header(r, "X-Evil"));
	assert_null(resp_header(r, "Set-Cookie"));
	/* JSON with every non-ASCII character escaped. */
	assert_string_equal(resp_header(r, "X-User-Claim-Name"), "\"J\\u00FCrgen\\r\\nSet-Cookie: x=1\"");
	assert_null(resp_header(r, "X-User-Claim-Huge"));
	assert_null(resp_header(r, "X-User-Claim-Bad-Name"));
	assert_int_equal(count_claim_headers(r), FA_GATE_MAX_CLAIM_HEADERS);
	/* Sorted by name, so which claims fit is always the same: the token's
	 * eleven, then the first five fillers. */
	assert_string_equal(resp_header(r, "X-User-Claim-Aud"),
			    "[\"https://other.example\",\"https://flyte.example.com\"]");
	assert_string_equal(resp_header(r, "X-User-Claim-Z04"), "4");
	assert_null(resp_header(r, "X-User-Claim-Z05"));
	harness_done(r);
	free(tok);
}

static void test_verify_refusals(void **state)
{
	struct fx *f = *state;
	json_t *c;
	struct fa_req *r;
	char *tok;

	start(f, NULL, false);
	r = verify(f, "GET", "/auth/verify", NULL, NULL);
	assert_int_equal(resp_status(r), 401);
	assert_string_equal(resp_header(r, "WWW-Authenticate"), "Bearer");
	harness_done(r);
	tok = mint(f, user_claims(-60));
	r = verify(f, "GET", "/auth/verify", tok, NULL);
	assert_int_equal(resp_status(r), 401);
	assert_non_null(strstr(resp_header(r, "WWW-Authenticate"), "error=\"invalid_token\""));
	assert_null(resp_header(r, "X-User-Subject"));
	harness_done(r);
	free(tok);
	c = user_claims(600);
	json_object_set_new(c, "scp", json_pack("[s]", "offline"));
	tok = mint(f, c);
	r = verify(f, "GET", "/auth/verify", tok, NULL);
	assert_int_equal(resp_status(r), 403);
	assert_string_equal(resp_header(r, "WWW-Authenticate"),
			    "Bearer error=\"insufficient_scope\", error_description=\"the token "
			    "does not grant the scope all\", scope=\"all\"");
	assert_null(resp_header(r, "X-User-Subject"));
	harness_done(r);
	free(tok);
	r = verify(f, "GET", "/auth/verify", "a b", NULL);
	assert_int_equal(resp_status(r), 400);
	assert_non_null(strstr(resp_header(r, "WWW-Authenticate"), "error=\"invalid_request\""));
	harness_done(r);
	/* An ID token needs an upstream IdP; this gate has none. */
	{
		const char *hs[2] = { "Authorization: IDToken a.b.c", NULL };

		r = harness_call(&f->h, "GET", "/auth/verify", hs, NULL, NULL);
		assert_int_equal(resp_status(r), 401);
		assert_non_null(strstr(resp_body(r), "upstream IdP"));
		harness_done(r);
	}
}

/* ---- a browser without a session -------------------------------------------------- */

static void test_verify_redirect(void **state)
{
	struct fx *f = *state;
	const char *html[2] = { "Accept: text/html,application/xhtml+xml", NULL };
	struct fa_req *r;

	start_flags(f, NULL, FX_REDIRECT);
	r = verify(f, "GET", "/auth/verify?rd=/console/projects%3Fa%3D1", NULL, html);
	assert_int_equal(resp_status(r), 302);
	assert_string_equal(resp_header(r, "Location"),
			    ISSUER "/login?redirect_url=%2Fconsole%2Fprojects%3Fa%3D1");
	harness_done(r);
	r = verify(f, "GET", "/auth/verify?rd=" AUD "/console", NULL, html);
	assert_int_equal(resp_status(r), 302);
	assert_string_equal(resp_header(r, "Location"),
			    ISSUER "/login?redirect_url=https%3A%2F%2Fflyte.example.com%2Fconsole");
	harness_done(r);
	/* Not where /login would send it back: no redirect at all. */
	r = verify(f, "GET", "/auth/verify?rd=https://evil.example.com/", NULL, html);
	assert_int_equal(resp_status(r), 401);
	assert_null(resp_header(r, "Location"));
	harness_done(r);
	/* Not a browser (an API client): 401, never a login page. */
	expect_status(f, "/auth/verify?rd=/console", NULL, NULL, 401);
	/* A bad token is not "no session": 401. */
	expect_status(f, "/auth/verify?rd=/console", "x.y.z", html, 401);
	/* X-Forwarded-Uri is the proxy's word only from a trusted proxy. */
	{
		const char *fwd[5] = { html[0], "X-Forwarded-Uri: /console/x",
				       "X-Forwarded-Host: flyte.example.com",
				       "X-Forwarded-Proto: https", NULL };

		expect_status(f, "/auth/verify", NULL, fwd, 401);
		f->h.srv.trust_forwarded = true;
		r = verify(f, "GET", "/auth/verify", NULL, fwd);
		assert_int_equal(resp_status(r), 302);
		assert_string_equal(resp_header(r, "Location"), ISSUER "/login?redirect_url="
				    "https%3A%2F%2Fflyte.example.com%2Fconsole%2Fx");
		harness_done(r);
		/* ...and still only to a place /login accepts. */
		fwd[2] = "X-Forwarded-Host: evil.example.com";
		expect_status(f, "/auth/verify", NULL, fwd, 401);
		/* A path that looks like a host stays a path on the origin. */
		fwd[1] = "X-Forwarded-Uri: //evil.example.com";
		fwd[2] = "X-Forwarded-Host: flyte.example.com";
		r = verify(f, "GET", "/auth/verify", NULL, fwd);
		assert_int_equal(resp_status(r), 302);
		assert_string_equal(resp_header(r, "Location"), ISSUER "/login?redirect_url="
				    "https%3A%2F%2Fflyte.example.com%2F%2Fevil.example.com");
		harness_done(r);
	}
	/* A logged-in browser passes, rd or not. */
	f->session_rc = FA_OK;
	r = verify(f, "GET", "/auth/verify?rd=/console", NULL, html);
	assert_int_equal(resp_status(r), 200);
	assert_string_equal(resp_header(r, "X-User-Subject"), "alice");
	assert_string_equal(resp_header(r, "X-User-Scopes"), "all");
	assert_null(resp_header(r, "X-User-Client-Id"));
	harness_done(r);
}

/* ---- settings ----------------------------------------------------------------------- */

static void test_disable_for_http(void **state)
{
	struct fx *f = *state;
	json_t *c;
	struct fa_req *r;
	char *tok;

	start(f, "auth: {disableForHttp: true, authorizedUris: [" AUD "]}\n", false);
	/* No credential or a bad one: through, without an identity. */
	r = verify(f, "GET", "/auth/verify", NULL, NULL);
	assert_int_equal(resp_status(r), 200);
	assert_null(resp_header(r, "X-User-Subject"));
	harness_done(r);
	r = verify(f, "GET", "/auth/verify", "x.y.z", NULL);
	assert_int_equal(resp_status(r), 200);
	assert_null(resp_header(r, "X-User-Subject"));
	harness_done(r);
	/* /me has nobody to describe: 401, as flyteadmin's. */
	r = get_me(f, NULL, NULL);
	assert_int_equal(resp_status(r), 401);
	harness_done(r);
	/* A valid token still names its caller... */
	tok = mint(f, user_claims(600));
	r = verify(f, "GET", "/auth/verify", tok, NULL);
	assert_int_equal(resp_status(r), 200);
	assert_string_equal(resp_header(r, "X-User-Subject"), "alice");
	harness_done(r);
	free(tok);
	/* ...and one without the scope is still refused (blanket authorization). */
	c = user_claims(600);
	json_object_set_new(c, "scp", json_pack("[s]", "offline"));
	tok = mint(f, c);
	expect_status(f, "/auth/verify", tok, NULL, 403);
	free(tok);
}

static void test_required_scope(void **state)
{
	struct fx *f = *state;
	json_t *c;
	struct fa_req *r;
	char *tok;

	start(f, "auth: {requiredScope: flyte.admin, authorizedUris: [" AUD "]}\n", true);
	assert_string_equal(fa_gate_required_scope(f->gate), "flyte.admin");
	tok = mint(f, user_claims(600));
	r = verify(f, "GET", "/auth/verify", tok, NULL);
	assert_int_equal(resp_status(r), 403);
	assert_non_null(strstr(resp_header(r, "WWW-Authenticate"), "scope=\"flyte.admin\""));
	harness_done(r);
	free(tok);
	c = user_claims(600);
	json_object_set_new(c, "scp", json_pack("[s]", "flyte.admin"));
	tok = mint(f, c);
	expect_status(f, "/auth/verify", tok, NULL, 200);
	free(tok);
	/* A logged-in browser carries the blanket scope, whatever its name. */
	f->session_rc = FA_OK;
	r = verify(f, "GET", "/auth/verify", NULL, NULL);
	assert_int_equal(resp_status(r), 200);
	assert_string_equal(resp_header(r, "X-User-Scopes"), "flyte.admin");
	harness_done(r);
}

/* ---- revocation ---------------------------------------------------------------------- */

static void test_revocation_checked(void **state)
{
	struct fx *f = *state;
	json_t *c;
	struct fa_req *r;
	char *tok, *other;

	start_flags(f, "auth: {authorizedUris: [" AUD "], appAuth: {selfAuthServer: "
		    "{checkRevocation: true}}}\n", FX_REVOCATION);
	tok = mint(f, user_claims(600));
	for (int i = 0; i < 3; i++) {
		expect_status(f, "/auth/verify", tok, NULL, 200);
	}
	/* One store question for three requests: the answer is remembered. */
	assert_int_equal(f->revoke_calls, 1);
	c = user_claims(600);
	json_object_set_new(c, "jti", json_string("j-revoked"));
	other = mint(f, c);
	f->revoked[0] = "j-revoked";
	for (int i = 0; i < 2; i++) {
		r = verify(f, "GET", "/auth/verify", other, NULL);
		assert_int_equal(resp_status(r), 401);
		assert_non_null(strstr(resp_body(r), "revoked"));
		harness_done(r);
	}
	assert_int_equal(f->revoke_calls, 2);
	/* /me too: the same check. */
	r = get_me(f, "Authorization", other);
	assert_int_equal(resp_status(r), 401);
	harness_done(r);
	free(other);
	/* The store cannot tell: 503, never a pass. */
	c = user_claims(600);
	json_object_set_new(c, "jti", json_string("j-new"));
	other = mint(f, c);
	f->revoke_rc = FA_ESTORE;
	r = verify(f, "GET", "/auth/verify", other, NULL);
	assert_int_equal(resp_status(r), 503);
	assert_non_null(strstr(resp_body(r), "temporarily_unavailable"));
	harness_done(r);
	r = get_me(f, "Authorization", other);
	assert_int_equal(resp_status(r), 503);
	harness_done(r);
	free(other);
	/* A token without jti cannot be checked: refused. */
	f->revoke_rc = FA_OK;
	c = user_claims(600);
	json_object_del(c, "jti");
	other = mint(f, c);
	r = verify(f, "GET", "/auth/verify", other, NULL);
	assert_int_equal(resp_status(r), 401);
	assert_non_null(strstr(resp_body(r), "jti"));
	harness_done(r);
	free(other);
	free(tok);
}

/* The memory itself, with explicit clocks: "not revoked" for
 * FA_GATE_REVOCATION_TTL_S, "revoked" until exp, failures never. */
static void test_revocation_cache(void **state)
{
	struct fx *f = *state;
	struct fa_gate_revocations *r;
	struct fa_err err;

	r = fa_gate_revocations_new(8, fake_revoked, (struct fa_authz *)(void *)f);
	assert_non_null(r);
	assert_null(fa_gate_revocations_new(0, fake_revoked, NULL));
	assert_null(fa_gate_revocations_new(8, NULL, NULL));
	assert_int_equal(fa_gate_revocation_check(r, "a", 2000, 1000, &err), FA_OK);
	assert_int_equal(fa_gate_revocation_check(r, "a", 2000, 1000 + FA_GATE_REVOCATION_TTL_S - 1,
						  &err), FA_OK);
	assert_int_equal(f->revoke_calls, 1);
	f->revoked[0] = "a";
	/* Within the window the old answer stands; after it, the new one. */
	assert_int_equal(fa_gate_revocation_check(r, "a", 2000, 1001, &err), FA_OK);
	fa_err_clear(&err);
	assert_int_equal(fa_gate_revocation_check(r, "a", 2000, 1000 + FA_GATE_REVOCATION_TTL_S,
						  &err), FA_EDENIED);
	assert_int_equal(fa_http_bearer_status(err.rc, err.oauth_error), 401);
	assert_int_equal(f->revoke_calls, 2);
	/* Revoked is remembered until exp... */
	f->revoked[0] = NULL;
	assert_int_equal(fa_gate_revocation_check(r, "a", 2000, 1999, &err), FA_EDENIED);
	assert_int_equal(f->revoke_calls, 2);
	/* ...and a failure is not remembered at all. */
	f->revoke_rc = FA_ESTORE;
	fa_err_clear(&err);
	assert_int_equal(fa_gate_revocation_check(r, "b", 2000, 1000, &err), FA_ESTORE);
	assert_int_equal(fa_http_bearer_status(err.rc, err.oauth_error), 503);
	f->revoke_rc = FA_OK;
	assert_int_equal(fa_gate_revocation_check(r, "b", 2000, 1000, &err), FA_OK);
	assert_int_equal(f->revoke_calls, 4);
	/* "Not revoked" never outlives the token. */
	assert_int_equal(fa_gate_revocation_check(r, "c", 1002, 1000, &err), FA_OK);
	f->revoked[0] = "c";
	assert_int_equal(fa_gate_revocation_check(r, "c", 1002, 1002, &err), FA_EDENIED);
	assert_int_equal(fa_gate_revocation_lookups(r), 6);
	fa_gate_revocations_free(r);
	fa_gate_revocations_free(NULL);
}

/* ---- the C API -------------------------------------------------------------------------- */

static void test_verify_api(void **state)
{
	struct fx *f = *state;
	struct fa_arena *a = fa_arena_new(64 * 1024);
	struct fa_gate_principal p;
	struct fa_gate_header hv[3];
	struct fa_gate_headers hs = { hv, 0 };
	struct fa_gate_request in = { fa_gate_headers_get, &hs, NULL };
	char auth[FA_MAX_TOKEN + 16];
	struct fa_err err;
	json_t *c;
	char *tok;

	start(f, NULL, false);
	tok = mint(f, user_claims(600));
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	/* No credential. */
	assert_int_equal(fa_gate_verify(f->gate, &in, a, &p, &err), FA_ENOTFOUND);
	assert_int_equal(fa_http_bearer_status(err.rc, err.oauth_error), 401);
	assert_null(err.oauth_error);
	hv[0] = (struct fa_gate_header){ "Accept", "*/*" };
	hv[1] = (struct fa_gate_header){ "AUTHORIZATION", auth };
	hs.n = 2;
	assert_int_equal(fa_gate_verify(f->gate, &in, a, &p, &err), FA_OK);
	assert_string_equal(p.subject, "alice");
	assert_string_equal(p.client_id, "flytectl");
	assert_string_equal(p.audience, AUD);
	assert_string_equal(p.token_id, "j-123");
	assert_int_equal(p.n_scopes, 2);
	assert_int_equal(p.how, FA_GATE_BEARER);
	assert_non_null(strstr(p.user_info, "alice@example.com"));
	assert_non_null(strstr(p.claims, "\"jti\":\"j-123\""));
	/* The same header twice is refused, not read as one of them. */
	hv[2] = (struct fa_gate_header){ "authorization", auth };
	hs.n = 3;
	assert_int_equal(fa_gate_verify(f->gate, &in, a, &p, &err), FA_EINVAL);
	assert_int_equal(fa_http_bearer_status(err.rc, err.oauth_error), 400);
	assert_string_equal(err.oauth_error, "invalid_request");
	assert_non_null(strstr(err.msg, "more than once"));
	/* Missing scope: 403, and who it was. */
	free(tok);
	c = user_claims(600);
	json_object_set_new(c, "scp", json_pack("[s]", "offline"));
	tok = mint(f, c);
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	hs.n = 2;
	assert_int_equal(fa_gate_verify(f->gate, &in, a, &p, &err), FA_EDENIED);
	assert_int_equal(fa_http_bearer_status(err.rc, err.oauth_error), 403);
	assert_string_equal(err.oauth_error, "insufficient_scope");
	assert_string_equal(p.subject, "alice");
	/* A bad one. */
	hv[1].value = "Bearer a.b.c";
	assert_int_equal(fa_gate_verify(f->gate, &in, a, &p, &err), FA_EDENIED);
	assert_int_equal(fa_http_bearer_status(err.rc, err.oauth_error), 401);
	assert_string_equal(err.oauth_error, "invalid_token");
	free(tok);
	fa_arena_free(a);
}

static void test_flyte_client_document(void **state)
{
	struct fx *f = *state;
	struct fa_req *r;
	json_t *fc;

	start(f, "auth: {grpcAuthorizationHeader: x-auth, appAuth: {thirdPartyConfig: "
	      "{flyteClient: {clientId: cli, audience: 'https://api'}}}}\n", false);
	r = harness_call(&f->h, "GET", "/config/v1/flyte_client", NULL, NULL, NULL);
	assert_int_equal(resp_status(r), 200);
	fc = json_loads(resp_body(r), 0, NULL);
	assert_non_null(fc);
	assert_string_equal(json_string_value(json_object_get(fc, "client_id")), "cli");
	assert_string_equal(json_string_value(json_object_get(fc, "redirect_uri")),
			    "http://localhost:53593/callback");
	assert_string_equal(json_string_value(json_object_get(fc, "authorization_metadata_key")),
			    "x-auth");
	assert_string_equal(json_string_value(json_object_get(fc, "service_http_endpoint")), ISSUER);
	assert_string_equal(json_string_value(json_object_get(fc, "audience")), "https://api");
	assert_int_equal(json_array_size(json_object_get(fc, "scopes")), 2);
	assert_int_equal(json_object_size(fc), 6);
	json_decref(fc);
	harness_done(r);
	/* Self mode: the authorization server's metadata is authz's, not ours. */
	r = harness_call(&f->h, "GET", "/.well-known/oauth-authorization-server", NULL, NULL, NULL);
	assert_int_equal(resp_status(r), 404);
	harness_done(r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_verify_identity_headers),
		T(test_verify_header_injection),
		T(test_verify_refusals),
		T(test_verify_redirect),
		T(test_disable_for_http),
		T(test_required_scope),
		T(test_revocation_checked),
		T(test_revocation_cache),
		T(test_verify_api),
		T(test_flyte_client_document),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
