/* test_authz_grants.c -- the grant logic of the authorization server against
 * a real SQLite store: client authentication, authorization requests, the
 * code grant with PKCE and its replay (test_code_replay, and by another
 * client: test_code_replay_by_other_client; without the verifier:
 * test_code_replay_without_verifier), refresh rotation with
 * narrowing and reuse detection (test_refresh_reuse,
 * test_refresh_reuse_immediate), client
 * credentials without store access, introspection, revocation, the pending
 * request's browser binding, the generated flytepropeller secret, the
 * public documents, and a store outage (503 temporarily_unavailable, nothing
 * half-written, logged once by the store). Every token is verified with the jose module against
 * the published keys.
 */
#include "fa_test_outage.h"
#include "test_authz_fixture.h"

static void assert_oauth(const struct fa_err *err, int http, const char *code, const char *msg)
{
	assert_int_equal(fa_authz_status(err), http);   /* as the endpoints answer */
	assert_non_null(err->oauth_error);
	assert_string_equal(err->oauth_error, code);
	if (msg && !strstr(err->msg, msg))
		fail_msg("error message '%s' lacks '%s'", err->msg, msg);
}

static char *basic(const char *id, const char *secret_enc)
{
	char up[512], *b64, *h;

	snprintf(up, sizeof(up), "%s:%s", id, secret_enc);
	b64 = fa_b64_encode_dup(up, strlen(up), FA_B64_STD);
	h = malloc(strlen(b64) + 8);
	snprintf(h, strlen(b64) + 8, "Basic %s", b64);
	free(b64);
	return h;
}

/* Verifies an access token the way a resource server would. */
static json_t *verify_at(struct afx *f, const char *token, const char *aud)
{
	struct fa_jwt_rules rules;
	json_t *claims = NULL, *header = NULL;
	const char *auds[1] = { aud };
	struct fa_err err;

	fa_jwt_rules_init(&rules);
	rules.issuer = ISSUER;
	rules.typ = "at+jwt";
	rules.audiences = auds;
	rules.n_audiences = 1;
	rules.now = f->now_ms / 1000;
	fa_err_clear(&err);
	if (fa_jwt_verify(f->jwks, &rules, token, strlen(token), &claims, &header, &err) != FA_OK)
		fail_msg("access token does not verify: %s", err.msg);
	assert_string_equal(json_string_value(json_object_get(header, "typ")), "at+jwt");
	assert_string_equal(json_string_value(json_object_get(header, "kid")), fa_jwk_kid(f->key));
	assert_string_equal(json_string_value(json_object_get(header, "key_id")), fa_jwk_kid(f->key));
	assert_string_equal(json_string_value(json_object_get(header, "alg")), "ES256");
	json_decref(header);
	return claims;
}

static bool introspect_active(struct afx *f, const char *token)
{
	json_t *o = NULL;
	struct fa_err err;
	bool active;

	fa_err_clear(&err);
	assert_int_equal(fa_authz_introspect(f->az, token, NULL, &o, &err), FA_OK);
	active = json_is_true(json_object_get(o, "active"));
	if (!active)
		assert_int_equal(json_object_size(o), 1);   /* exactly {"active": false} */
	json_decref(o);
	return active;
}

/* ---- client authentication ---------------------------------------------- */

static void test_client_auth_methods(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = NULL;
	struct fa_err err;
	bool used_basic;
	char *h;

	/* client_secret_basic with the secret form-urlencoded (RFC 6749 §2.3.1). */
	h = basic("web", "s3cr3t+web%2B%25%3A%2Fx");
	struct fa_authz_creds cr = { .authorization = h };
	fa_err_clear(&err);
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_OK);
	assert_string_equal(c->id, "web");
	assert_true(used_basic);
	/* A matching client_id in the body is tolerated. */
	cr.client_id = "web";
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_OK);
	free(h);

	/* client_secret_post. */
	cr = (struct fa_authz_creds){ .client_id = "web", .client_secret = WEB_SECRET };
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_OK);
	assert_false(used_basic);

	/* A public client by client_id alone, or with an empty Basic password. */
	cr = (struct fa_authz_creds){ .client_id = "flytectl" };
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_OK);
	assert_string_equal(c->id, "flytectl");
	h = basic("flytectl", "");
	cr = (struct fa_authz_creds){ .authorization = h };
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_OK);
	free(h);
	afx_assert_log_clean(f, WEB_SECRET);
}

/* Failed client authentication is throttled per address and per client id
 * (issue 9): past the burst, slow_down with a wait and no bcrypt; the right
 * secret, remembered by the check cache, still passes; a no_block caller
 * is told bcrypt is needed instead of running it. */
static void test_client_auth_throttle(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = NULL;
	struct fa_err err;
	bool used_basic;
	struct fa_authz_creds cr = { .client_id = "web", .client_secret = WEB_SECRET,
				     .addr = "192.0.2.1" };

	/* Remembered once. */
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_OK);
	/* Not remembered, must not block: nothing decided. */
	cr = (struct fa_authz_creds){ .client_id = "web", .client_secret = "wrong",
				      .addr = "192.0.2.1", .no_block = true };
	fa_err_clear(&err);
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_EEXIST);
	assert_true(cr.needs_block);
	cr.no_block = false;
	for (int i = 0; i < FA_AUTHZ_FAIL_BURST; i++) {
		fa_err_clear(&err);
		assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err),
				 FA_EDENIED);
		assert_oauth(&err, 401, "invalid_client", "failed");
	}
	fa_err_clear(&err);
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_EDENIED);
	assert_string_equal(err.oauth_error, "slow_down");
	assert_true(cr.retry_ms > 0);
	/* The client id is throttled from another address too ... */
	cr.addr = "192.0.2.2";
	fa_err_clear(&err);
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_EDENIED);
	assert_string_equal(err.oauth_error, "slow_down");
	/* ... and the address for unknown clients. */
	cr = (struct fa_authz_creds){ .client_id = "nobody", .client_secret = "x",
				      .addr = "192.0.2.1" };
	fa_err_clear(&err);
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_EDENIED);
	assert_string_equal(err.oauth_error, "slow_down");
	/* The right secret still passes, from the throttled address. */
	cr = (struct fa_authz_creds){ .client_id = "web", .client_secret = WEB_SECRET,
				      .addr = "192.0.2.1", .no_block = true };
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_OK);
	assert_string_equal(c->id, "web");
}

static void test_client_auth_two_methods(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = NULL;
	struct fa_err err;
	bool used_basic;
	char *h = basic("web", "s3cr3t+web%2B%25%3A%2Fx");
	struct fa_authz_creds cr = { .authorization = h, .client_secret = WEB_SECRET };

	fa_err_clear(&err);
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "use one method");
	assert_null(c);
	cr = (struct fa_authz_creds){ .authorization = h, .client_id = "flytectl" };
	fa_err_clear(&err);
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "differs");
	free(h);
}

static void test_client_auth_failures_look_alike(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = NULL;
	struct fa_err e1, e2, e3;
	bool used_basic;
	struct fa_authz_creds wrong = { .client_id = "web", .client_secret = "nope" };
	struct fa_authz_creds unknown = { .client_id = "nosuch", .client_secret = "nope" };
	struct fa_authz_creds missing = { .client_id = "web" };

	fa_err_clear(&e1);
	fa_err_clear(&e2);
	fa_err_clear(&e3);
	assert_int_equal(fa_authz_client_auth(f->az, &wrong, &c, &used_basic, &e1), FA_EDENIED);
	assert_int_equal(fa_authz_client_auth(f->az, &unknown, &c, &used_basic, &e2), FA_EDENIED);
	assert_int_equal(fa_authz_client_auth(f->az, &missing, &c, &used_basic, &e3), FA_EDENIED);
	assert_null(c);
	assert_oauth(&e1, 401, "invalid_client", "client authentication failed");
	assert_string_equal(e1.msg, e2.msg);
	assert_string_equal(e1.msg, e3.msg);
	/* A failed check is never remembered: the right secret still works,
	 * and the wrong one keeps failing. */
	struct fa_authz_creds right = { .client_id = "web", .client_secret = WEB_SECRET };
	assert_int_equal(fa_authz_client_auth(f->az, &right, &c, &used_basic, &e1), FA_OK);
	assert_int_equal(fa_authz_client_auth(f->az, &wrong, &c, &used_basic, &e1), FA_EDENIED);
}

static void test_public_client_with_secret(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = NULL;
	struct fa_authz_creds cr = { .client_id = "flytectl", .client_secret = "x" };
	struct fa_err err;
	bool used_basic;

	fa_err_clear(&err);
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_EDENIED);
	assert_oauth(&err, 401, "invalid_client", "must not send a client secret");
	cr = (struct fa_authz_creds){ 0 };
	fa_err_clear(&err);
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_EDENIED);
	assert_oauth(&err, 401, "invalid_client", "authentication is required");
}

/* ---- authorization requests ------------------------------------------------- */

static void test_authorize_ok(void **state)
{
	struct afx *f = *state;
	struct fa_authz_params p = {
		.response_type = "code", .client_id = "flytectl",
		.redirect_uri = "http://localhost:40000/callback", .scope = "all offline",
		.state = "abcdefgh", .code_challenge = CHALLENGE, .code_challenge_method = "S256",
		.nonce = "n-1",
	};
	struct fa_authz_areq areq;
	struct fa_err err;
	char scope[FA_MAX_SCOPE + 1];

	fa_err_clear(&err);
	assert_int_equal(fa_authz_authorize_check(f->az, &p, &areq, &err), FA_OK);
	assert_true(areq.redirect_ok);
	assert_true(areq.redirect_given);
	assert_string_equal(areq.redirect_uri, "http://localhost:40000/callback");
	assert_string_equal(areq.challenge, CHALLENGE);
	assert_string_equal(areq.nonce, "n-1");
	fa_scope_format(&areq.scope, scope, sizeof(scope));
	assert_string_equal(scope, "all offline");
	/* No scope: the client's scopes (RFC 6749 §3.3 default). No
	 * redirect_uri: only for a client with exactly one. */
	p.scope = NULL;
	p.client_id = "web";
	p.redirect_uri = NULL;
	p.code_challenge = NULL;
	p.code_challenge_method = NULL;
	assert_int_equal(fa_authz_authorize_check(f->az, &p, &areq, &err), FA_OK);
	fa_scope_format(&areq.scope, scope, sizeof(scope));
	assert_string_equal(scope, "all offline read");
	assert_false(areq.redirect_given);
	assert_string_equal(areq.redirect_uri, "https://app.example.com/cb");
}

/* Errors before the redirect_uri is trusted must not redirect. */
static void test_authorize_open_redirect(void **state)
{
	struct afx *f = *state;
	struct fa_authz_params p = {
		.response_type = "code", .client_id = "flytectl", .state = "abcdefgh",
		.code_challenge = CHALLENGE, .code_challenge_method = "S256",
	};
	static const char *const bad[] = {
		"https://evil.com/callback", "http://localhost.evil.com:53593/callback",
		"http://localhost:53593/callback#frag", "http://localhost:53593/callback/../x",
	};
	struct fa_authz_areq areq;
	struct fa_err err;

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		p.redirect_uri = bad[i];
		fa_err_clear(&err);
		assert_int_not_equal(fa_authz_authorize_check(f->az, &p, &areq, &err), FA_OK);
		assert_false(areq.redirect_ok);
		assert_non_null(strstr(err.msg, "not registered"));
	}
	/* Two registered URIs and none given: a page, not a guess. */
	p.redirect_uri = NULL;
	fa_err_clear(&err);
	assert_int_not_equal(fa_authz_authorize_check(f->az, &p, &areq, &err), FA_OK);
	assert_false(areq.redirect_ok);
	assert_non_null(strstr(err.msg, "redirect_uri is required"));
	p.client_id = "nosuch";
	p.redirect_uri = "http://localhost:53593/callback";
	fa_err_clear(&err);
	assert_int_not_equal(fa_authz_authorize_check(f->az, &p, &areq, &err), FA_OK);
	assert_false(areq.redirect_ok);
	assert_non_null(strstr(err.msg, "unknown client_id"));
	p.client_id = NULL;
	fa_err_clear(&err);
	assert_int_not_equal(fa_authz_authorize_check(f->az, &p, &areq, &err), FA_OK);
	assert_false(areq.redirect_ok);
}

struct authz_case {
	const char *name;
	struct fa_authz_params p;
	const char *error;
	const char *msg;
};

static void test_authorize_errors_redirect(void **state)
{
	struct afx *f = *state;
#define BASE .client_id = "flytectl", .redirect_uri = "http://localhost:53593/callback"
	const struct authz_case cases[] = {
		{ "no response_type", { BASE, .state = "abcdefgh", .code_challenge = CHALLENGE,
		  .code_challenge_method = "S256" }, "invalid_request", "response_type is missing" },
		{ "implicit", { BASE, .response_type = "token", .state = "abcdefgh" },
		  "unsupported_response_type", "only response_type=code" },
		{ "no state", { BASE, .response_type = "code", .code_challenge = CHALLENGE,
		  .code_challenge_method = "S256" }, "invalid_request", "state is required" },
		{ "short state", { BASE, .response_type = "code", .state = "1234567",
		  .code_challenge = CHALLENGE, .code_challenge_method = "S256" },
		  "invalid_request", "at least 8" },
		{ "nothing grantable", { BASE, .response_type = "code", .state = "abcdefgh",
		  .scope = "admin root", .code_challenge = CHALLENGE, .code_challenge_method = "S256" },
		  "invalid_scope", "none of the requested scopes" },
		{ "scope grammar", { BASE, .response_type = "code", .state = "abcdefgh",
		  .scope = "all  offline", .code_challenge = CHALLENGE,
		  .code_challenge_method = "S256" }, "invalid_scope", "empty scope token" },
		{ "public without pkce", { BASE, .response_type = "code", .state = "abcdefgh" },
		  "invalid_request", "required for public clients" },
		{ "pkce plain", { BASE, .response_type = "code", .state = "abcdefgh",
		  .code_challenge = CHALLENGE, .code_challenge_method = "plain" },
		  "invalid_request", "plain is not supported" },
		{ "pkce no method", { BASE, .response_type = "code", .state = "abcdefgh",
		  .code_challenge = CHALLENGE }, "invalid_request", "plain is not supported" },
		{ "audience", { BASE, .response_type = "code", .state = "abcdefgh",
		  .code_challenge = CHALLENGE, .code_challenge_method = "S256",
		  .audience = "https://evil.example.com" }, "invalid_request", "audience" },
		{ "machine client", { .client_id = "flytepropeller",
		  .redirect_uri = "http://localhost:3846/callback", .response_type = "code",
		  .state = "abcdefgh" }, "unauthorized_client", "authorization code grant" },
	};
#undef BASE
	struct fa_authz_areq areq;
	struct fa_err err;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		fa_err_clear(&err);
		if (fa_authz_authorize_check(f->az, &cases[i].p, &areq, &err) == FA_OK)
			fail_msg("%s: accepted", cases[i].name);
		if (!areq.redirect_ok)
			fail_msg("%s: error would not redirect", cases[i].name);
		if (strcmp(err.oauth_error, cases[i].error) != 0 || !strstr(err.msg, cases[i].msg))
			fail_msg("%s: got %s: %s", cases[i].name, err.oauth_error, err.msg);
		assert_int_equal(fa_authz_status(&err), 400);
	}
	/* The state is echoed when it is there, even when it is the problem. */
	assert_string_equal(areq.state, "abcdefgh");
}

static void test_authorize_audience(void **state)
{
	struct afx *f = *state;
	struct fa_authz_params p = {
		.response_type = "code", .client_id = "web", .state = "abcdefgh",
		.audience = "https://api.example.com " ISSUER,
	};
	struct fa_authz_areq areq;
	struct fa_err err;

	fa_err_clear(&err);
	assert_int_equal(fa_authz_authorize_check(f->az, &p, &areq, &err), FA_OK);
	assert_string_equal(areq.audience, "https://api.example.com " ISSUER);
	/* authorizedUris[1] is accepted by the gate but not allowed for this
	 * client: only its list and the default audience are. */
	p.audience = "http://flyteadmin:80";
	fa_err_clear(&err);
	assert_int_equal(fa_authz_authorize_check(f->az, &p, &areq, &err), FA_EDENIED);
	assert_oauth(&err, 400, "invalid_request", "not allowed for this client");
	p.audience = "https://api.example.com ";
	fa_err_clear(&err);
	assert_int_equal(fa_authz_authorize_check(f->az, &p, &areq, &err), FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "malformed audience");
}

/* ---- authorization code grant ---------------------------------------------- */

static void test_code_flow(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = afx_client(f, "flytectl");
	char code[FA_TOKEN_CHARS + 1];
	struct fa_authz_grant g;
	struct fa_err err;
	json_t *claims, *ui;

	afx_code(f, "flytectl", "http://localhost:40000/callback", "all offline", CHALLENGE, code);
	assert_int_equal(strlen(code), FA_TOKEN_CHARS);
	assert_int_equal(afx_count(f, FA_KIND_CODE), 1);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, c, code, "http://localhost:40000/callback",
					     CHALLENGE_VERIFIER, &g, &err), FA_OK);
	assert_int_equal(g.expires_in, 1800);
	assert_string_equal(g.scope, "all offline");
	assert_int_equal(strlen(g.refresh_token), FA_TOKEN_CHARS);
	claims = verify_at(f, g.access_token, ISSUER);
	assert_string_equal(json_string_value(json_object_get(claims, "sub")), "alice");
	assert_string_equal(json_string_value(json_object_get(claims, "client_id")), "flytectl");
	assert_string_equal(json_string_value(json_object_get(claims, "jti")), g.jti);
	assert_int_equal(json_integer_value(json_object_get(claims, "exp")),
			 f->now_ms / 1000 + 1800);
	assert_int_equal(json_array_size(json_object_get(claims, "scp")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(claims, "aud"), 0)),
			    ISSUER);
	ui = json_object_get(claims, "user_info");
	assert_string_equal(json_string_value(json_object_get(ui, "email")), "alice@example.com");
	assert_string_equal(json_string_value(json_object_get(ui, "preferred_username")), "alice");
	/* Only the OIDC claims of SPEC §5 are copied. */
	assert_null(json_object_get(ui, "secret_claim"));
	assert_null(json_object_get(ui, "login_provider"));
	json_decref(claims);
	assert_true(introspect_active(f, g.access_token));
	assert_true(introspect_active(f, g.refresh_token));
	/* Only hashes are stored: neither the code nor the token is a key. */
	{
		struct fa_store_rec rec;

		assert_int_equal(fa_store_get(f->st, FA_KIND_CODE, code, f->now_ms / 1000, &rec,
					      &err), FA_ENOTFOUND);
		assert_int_equal(fa_store_get(f->st, FA_KIND_RT, g.refresh_token, f->now_ms / 1000,
					      &rec, &err), FA_ENOTFOUND);
	}
	afx_assert_log_clean(f, code);
	afx_assert_log_clean(f, g.refresh_token);
	afx_assert_log_clean(f, g.access_token);
	fa_authz_grant_cleanup(&g);
}

/* scope=openid: an ID token beside the access token (SPEC §5), the scope
 * narrowed to what the client may have, offline_access as offline. */
static void test_code_flow_openid(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = afx_client(f, "flytectl");
	char code[FA_TOKEN_CHARS + 1], at_hash[FA_TOKEN_CHARS + 1];
	const char *auds[1] = { "flytectl" };
	struct fa_jwt_rules rules;
	struct fa_authz_grant g;
	struct fa_err err;
	json_t *claims = NULL;

	afx_code(f, "flytectl", "http://localhost:40000/callback",
		 "openid admin profile email offline_access", CHALLENGE, code);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, c, code, "http://localhost:40000/callback",
					     CHALLENGE_VERIFIER, &g, &err), FA_OK);
	assert_string_equal(g.scope, "openid profile email offline_access");
	assert_int_equal(strlen(g.refresh_token), FA_TOKEN_CHARS);
	assert_non_null(g.id_token);
	fa_jwt_rules_init(&rules);
	rules.issuer = ISSUER;
	rules.typ = "JWT";
	rules.audiences = auds;
	rules.n_audiences = 1;
	rules.now = f->now_ms / 1000;
	if (fa_jwt_verify(f->jwks, &rules, g.id_token, strlen(g.id_token), &claims, NULL, &err))
		fail_msg("ID token does not verify: %s", err.msg);
	assert_string_equal(json_string_value(json_object_get(claims, "sub")), "alice");
	assert_string_equal(json_string_value(json_object_get(claims, "azp")), "flytectl");
	assert_string_equal(json_string_value(json_object_get(claims, "name")), "Alice Example");
	assert_string_equal(json_string_value(json_object_get(claims, "email")),
			    "alice@example.com");
	assert_null(json_object_get(claims, "secret_claim"));
	assert_null(json_object_get(claims, "nonce"));   /* none was sent */
	assert_int_equal(json_integer_value(json_object_get(claims, "auth_time")),
			 f->now_ms / 1000);
	/* ES256: the left half of SHA-256 of the access token. */
	assert_int_equal(fa_sha_left_half_b64url(256, g.access_token, strlen(g.access_token),
						 at_hash, sizeof(at_hash)), FA_OK);
	assert_string_equal(json_string_value(json_object_get(claims, "at_hash")), at_hash);
	/* The access token cannot pass as an ID token. */
	json_decref(claims);
	claims = NULL;
	assert_int_not_equal(fa_jwt_verify(f->jwks, &rules, g.access_token, strlen(g.access_token),
					   &claims, NULL, &err), FA_OK);
	afx_assert_log_clean(f, g.id_token);
	fa_authz_grant_cleanup(&g);
}

/* An ID token of alice for flytectl, minted through the code grant. */
static char *alice_id_token(struct afx *f)
{
	const struct fa_authz_client *c = afx_client(f, "flytectl");
	char code[FA_TOKEN_CHARS + 1];
	struct fa_authz_grant g;
	struct fa_err err;
	char *idt;

	afx_code(f, "flytectl", "http://localhost:40000/callback", "openid", CHALLENGE, code);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, c, code, "http://localhost:40000/callback",
					     CHALLENGE_VERIFIER, &g, &err), FA_OK);
	idt = g.id_token;
	g.id_token = NULL;
	fa_authz_grant_cleanup(&g);
	return idt;
}

/* OpenID Connect Core §3.1.2.1's parameters: parsed, bounded, refused
 * with the right code; and when a session needs a new login. */
static void test_authorize_oidc(void **state)
{
	struct afx *f = *state;
	char *idt = alice_id_token(f);
	struct fa_authz_params p = {
		.response_type = "code", .client_id = "web", .state = "abcdefgh",
		.scope = "openid", .prompt = "login consent", .max_age = "60",
		.login_hint = "bob", .id_token_hint = idt, .response_mode = "form_post",
		.display = "popup", .ui_locales = "se", .acr_values = "1",
	};
	static const struct {
		const char *field, *value, *error;
	} bad[] = {
		{ "prompt", "none login", "invalid_request" },
		{ "prompt", "sometimes", "invalid_request" },
		{ "max_age", "-5", "invalid_request" },
		{ "max_age", "", "invalid_request" },
		{ "response_mode", "fragment", "invalid_request" },
		{ "request", "eyJhbGciOiJub25lIn0.e30.", "request_not_supported" },
		{ "request_uri", "https://app.example.com/r", "request_uri_not_supported" },
		{ "id_token_hint", "a.b.c", "invalid_request" },
	};
	struct fa_authz_areq areq;
	struct fa_err err;
	json_t *user;
	int64_t now = f->now_ms / 1000;

	fa_err_clear(&err);
	assert_int_equal(fa_authz_authorize_check(f->az, &p, &areq, &err), FA_OK);
	assert_true(areq.prompt_login);
	assert_false(areq.prompt_none);
	assert_true(areq.form_post);
	assert_int_equal(areq.max_age, 60);
	assert_string_equal(areq.login_hint, "bob");
	assert_string_equal(areq.hint_sub, "alice");
	/* An access token is no id_token_hint. */
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct fa_authz_params q = p;

		if (strcmp(bad[i].field, "prompt") == 0)
			q.prompt = bad[i].value;
		else if (strcmp(bad[i].field, "max_age") == 0)
			q.max_age = bad[i].value;
		else if (strcmp(bad[i].field, "response_mode") == 0)
			q.response_mode = bad[i].value;
		else if (strcmp(bad[i].field, "request") == 0)
			q.request = bad[i].value;
		else if (strcmp(bad[i].field, "request_uri") == 0)
			q.request_uri = bad[i].value;
		else
			q.id_token_hint = bad[i].value;
		fa_err_clear(&err);
		if (fa_authz_authorize_check(f->az, &q, &areq, &err) == FA_OK)
			fail_msg("%s=%s: accepted", bad[i].field, bad[i].value);
		assert_true(areq.redirect_ok);
		assert_string_equal(err.oauth_error, bad[i].error);
		assert_string_equal(areq.state, "abcdefgh");   /* the error carries it */
	}
	/* When does a session need a new login? */
	p.prompt = NULL;
	assert_int_equal(fa_authz_authorize_check(f->az, &p, &areq, &err), FA_OK);
	user = json_pack("{s:s, s:I}", "sub", "alice", "auth_time", (json_int_t)(now - 30));
	assert_false(fa_authz_login_needed(&areq, user, now));
	assert_true(fa_authz_login_needed(&areq, user, now + 31));   /* older than max_age */
	json_object_set_new(user, "sub", json_string("bob"));
	assert_true(fa_authz_login_needed(&areq, user, now));         /* the hint names alice */
	areq.prompt_login = true;
	json_object_set_new(user, "sub", json_string("alice"));
	assert_true(fa_authz_login_needed(&areq, user, now));
	json_decref(user);
	free(idt);
}

/* RP-Initiated Logout 1.0: the hint, client_id and exact URI rules. */
static void test_logout_check(void **state)
{
	struct afx *f = *state;
	char *idt = alice_id_token(f);
	struct fa_authz_logout lo;
	struct fa_err err;
	struct fa_authz_logout_params p = { .client_id = "web",
		.post_logout_redirect_uri = "https://app.example.com/bye", .state = "s1" };

	fa_err_clear(&err);
	assert_int_equal(fa_authz_logout_check(f->az, &p, &lo, &err), FA_OK);
	assert_string_equal(lo.redirect, "https://app.example.com/bye");
	assert_string_equal(lo.state, "s1");
	assert_string_equal(lo.sub, "");
	p.post_logout_redirect_uri = "https://app.example.com/bye/";
	assert_int_not_equal(fa_authz_logout_check(f->az, &p, &lo, &err), FA_OK);
	assert_string_equal(err.oauth_error, "invalid_request");
	assert_string_equal(lo.redirect, "");
	/* The hint is flytectl's: client web is not its audience; flytectl has
	 * no post-logout URIs. */
	p = (struct fa_authz_logout_params){ .id_token_hint = idt };
	assert_int_equal(fa_authz_logout_check(f->az, &p, &lo, &err), FA_OK);
	assert_string_equal(lo.sub, "alice");
	assert_string_equal(lo.client->id, "flytectl");
	p.client_id = "web";
	assert_int_not_equal(fa_authz_logout_check(f->az, &p, &lo, &err), FA_OK);
	p = (struct fa_authz_logout_params){ .id_token_hint = idt,
		.post_logout_redirect_uri = "https://app.example.com/bye" };
	assert_int_not_equal(fa_authz_logout_check(f->az, &p, &lo, &err), FA_OK);
	p = (struct fa_authz_logout_params){ .post_logout_redirect_uri = "https://app.example.com/bye" };
	assert_int_not_equal(fa_authz_logout_check(f->az, &p, &lo, &err), FA_OK);
	/* An expired hint still names the user, within the window. */
	f->now_ms += 3600 * 1000;
	p = (struct fa_authz_logout_params){ .id_token_hint = idt };
	assert_int_equal(fa_authz_logout_check(f->az, &p, &lo, &err), FA_OK);
	f->now_ms += (FA_AUTHZ_HINT_MAX_AGE_S + 1) * 1000;
	assert_int_not_equal(fa_authz_logout_check(f->az, &p, &lo, &err), FA_OK);
	free(idt);
}

static void test_code_replay(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = afx_client(f, "flytectl");
	char code[FA_TOKEN_CHARS + 1];
	struct fa_authz_grant g1, g2, g3;
	struct fa_err err;

	afx_code(f, "flytectl", "http://localhost:53593/callback", "all offline", CHALLENGE, code);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, c, code, "http://localhost:53593/callback",
					     CHALLENGE_VERIFIER, &g1, &err), FA_OK);
	/* The same code again: denied, and everything it issued is revoked. */
	f->now_ms += 5000;
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, c, code, "http://localhost:53593/callback",
					     CHALLENGE_VERIFIER, &g2, &err), FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "already used");
	assert_null(g2.access_token);
	assert_false(introspect_active(f, g1.access_token));
	assert_false(introspect_active(f, g1.refresh_token));
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g1.refresh_token, NULL, &g3, &err),
			 FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "revoked");
	fa_authz_grant_cleanup(&g1);
}

/* A public client_id presenting a confidential client's spent code must not
 * be able to revoke that client's tokens: the client binding is checked
 * before the replay, and another client's attempt writes nothing. */
static void test_code_replay_by_other_client(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *web = afx_client(f, "web");
	const struct fa_authz_client *cli = afx_client(f, "flytectl");
	const char *ruri = "https://app.example.com/cb";
	char code[FA_TOKEN_CHARS + 1];
	struct fa_authz_grant g1, g2, g3;
	struct fa_store_rec before, after;
	char key[2 * FA_SHA256_LEN + 1];
	struct fa_err err;

	afx_code(f, "web", ruri, "all offline", CHALLENGE, code);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, web, code, ruri, CHALLENGE_VERIFIER, &g1, &err),
			 FA_OK);
	assert_int_equal(strlen(g1.refresh_token), FA_TOKEN_CHARS);
	assert_int_equal(fa_authz_token_key(code, key), FA_OK);
	assert_int_equal(fa_store_get(f->st, FA_KIND_CODE, key, f->now_ms / 1000, &before, &err),
			 FA_OK);
	/* The attacker holds the spent code and flytectl's public id. */
	f->now_ms += 5000;
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, cli, code, ruri, CHALLENGE_VERIFIER, &g2, &err),
			 FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "issued to another client");
	assert_null(strstr(err.msg, "revoked"));
	assert_null(g2.access_token);
	/* Nothing was written: the code record and the family are untouched,
	 * and web's tokens live on. */
	assert_int_equal(fa_store_get(f->st, FA_KIND_CODE, key, f->now_ms / 1000, &after, &err),
			 FA_OK);
	assert_int_equal(after.version, before.version);
	fa_store_rec_cleanup(&before);
	fa_store_rec_cleanup(&after);
	fflush(f->logfp);
	assert_null(strstr(f->logbuf ? f->logbuf : "", "authorization code replay"));
	assert_true(introspect_active(f, g1.access_token));
	assert_true(introspect_active(f, g1.refresh_token));
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, web, g1.refresh_token, NULL, &g3, &err),
			 FA_OK);
	assert_true(introspect_active(f, g3.refresh_token));
	/* The same code replayed by its own client still revokes the family. */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, web, code, ruri, CHALLENGE_VERIFIER, &g2, &err),
			 FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "tokens it issued are revoked");
	assert_false(introspect_active(f, g3.refresh_token));
	assert_false(introspect_active(f, g3.access_token));
	assert_false(introspect_active(f, g1.access_token));
	afx_assert_log_clean(f, code);
	fa_authz_grant_cleanup(&g1);
	fa_authz_grant_cleanup(&g3);
}

/* The holder of a spent code of a public client -- whose client id is no
 * secret -- but not of its verifier cannot revoke the victim's tokens: a
 * replay revokes only when its redirect_uri and PKCE verifier bind it as
 * the redemption's did; anything less is invalid_grant and writes nothing. */
static void test_code_replay_without_verifier(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *cli = afx_client(f, "flytectl");
	const char *ruri = "http://localhost:53593/callback";
	const char *wrong_verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
	char code[FA_TOKEN_CHARS + 1], key[2 * FA_SHA256_LEN + 1];
	struct fa_authz_grant g1, g2, g3;
	struct fa_store_rec before, after;
	struct fa_err err;
	struct {
		const char *ruri, *verifier;
	} forged[] = {
		{ ruri, NULL },                                      /* no verifier */
		{ ruri, wrong_verifier },                            /* wrong verifier */
		{ ruri, "short" },                                   /* malformed verifier */
		{ NULL, CHALLENGE_VERIFIER },                        /* redirect_uri left out */
		{ "http://localhost:53594/callback", CHALLENGE_VERIFIER },  /* another one */
	};

	afx_code(f, "flytectl", ruri, "all offline", CHALLENGE, code);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, cli, code, ruri, CHALLENGE_VERIFIER, &g1, &err),
			 FA_OK);
	assert_int_equal(fa_authz_token_key(code, key), FA_OK);
	assert_int_equal(fa_store_get(f->st, FA_KIND_CODE, key, f->now_ms / 1000, &before, &err),
			 FA_OK);
	f->now_ms += 5000;
	for (size_t i = 0; i < ARRAY_LEN(forged); i++) {
		fa_err_clear(&err);
		assert_int_equal(fa_authz_grant_code(f->az, cli, code, forged[i].ruri,
						     forged[i].verifier, &g2, &err), FA_EDENIED);
		/* The answer of an unknown code: nothing tells the attacker the
		 * code was ever good. */
		assert_oauth(&err, 400, "invalid_grant", "authorization code is invalid or expired");
		assert_null(g2.access_token);
	}
	assert_int_equal(fa_store_get(f->st, FA_KIND_CODE, key, f->now_ms / 1000, &after, &err),
			 FA_OK);
	assert_int_equal(after.version, before.version);
	fa_store_rec_cleanup(&before);
	fa_store_rec_cleanup(&after);
	fflush(f->logfp);
	assert_null(strstr(f->logbuf ? f->logbuf : "", "authorization code replay"));
	assert_true(introspect_active(f, g1.access_token));
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, cli, g1.refresh_token, NULL, &g3, &err),
			 FA_OK);
	/* With the bindings, the replay is RFC 6749 §4.1.2's: the family dies. */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, cli, code, ruri, CHALLENGE_VERIFIER, &g2, &err),
			 FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "tokens it issued are revoked");
	assert_false(introspect_active(f, g1.access_token));
	assert_false(introspect_active(f, g3.access_token));
	assert_false(introspect_active(f, g3.refresh_token));
	afx_assert_log_clean(f, code);
	fa_authz_grant_cleanup(&g1);
	fa_authz_grant_cleanup(&g3);
}

static void test_code_bindings(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *cli = afx_client(f, "flytectl");
	const struct fa_authz_client *other = afx_client(f, "shortlived");
	const char *ruri = "http://localhost:53593/callback";
	char code[FA_TOKEN_CHARS + 1];
	struct fa_authz_grant g;
	struct fa_err err;

	afx_code(f, "flytectl", ruri, "all", CHALLENGE, code);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, other, code, ruri, CHALLENGE_VERIFIER, &g,
					     &err), FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "another client");
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, cli, code, "http://localhost:53594/callback",
					     CHALLENGE_VERIFIER, &g, &err), FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "redirect_uri does not match");
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, cli, code, NULL, CHALLENGE_VERIFIER, &g, &err),
			 FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "redirect_uri is required");
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, cli, code, ruri, NULL, &g, &err), FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "code_verifier is missing");
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, cli, code, ruri,
					     "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK", &g, &err),
			 FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "does not match the code_challenge");
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, cli, "not-a-code", ruri, CHALLENGE_VERIFIER,
					     &g, &err), FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "invalid or expired");
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, cli, NULL, ruri, CHALLENGE_VERIFIER, &g, &err),
			 FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "code is missing");
	/* None of the failures changed anything: the code still works, and
	 * without offline scope there is no refresh token. */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, cli, code, ruri, CHALLENGE_VERIFIER, &g, &err),
			 FA_OK);
	assert_string_equal(g.refresh_token, "");
	assert_int_equal(afx_count(f, FA_KIND_RT), 0);
	fa_authz_grant_cleanup(&g);
}

static void test_pkce_downgrade(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *web = afx_client(f, "web");
	char code[FA_TOKEN_CHARS + 1];
	struct fa_authz_grant g;
	struct fa_err err;

	/* PKCE is optional for a confidential client, but a verifier for a
	 * code issued without a challenge means one was stripped. */
	afx_code(f, "web", "https://app.example.com/cb", "all", NULL, code);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, web, code, "https://app.example.com/cb",
					     CHALLENGE_VERIFIER, &g, &err), FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "no code_challenge");
	assert_int_equal(fa_authz_grant_code(f->az, web, code, "https://app.example.com/cb", NULL,
					     &g, &err), FA_OK);
	fa_authz_grant_cleanup(&g);
}

static void test_code_expired(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = afx_client(f, "flytectl");
	char code[FA_TOKEN_CHARS + 1];
	struct fa_authz_grant g;
	struct fa_err err;

	afx_code(f, "flytectl", "http://localhost:53593/callback", "all", CHALLENGE, code);
	f->now_ms += 5 * 60 * 1000;   /* authorizationCodeLifespan */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, c, code, "http://localhost:53593/callback",
					     CHALLENGE_VERIFIER, &g, &err), FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "invalid or expired");
}

static void test_code_unauthorized_client(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *prop = afx_client(f, "flytepropeller");
	struct fa_authz_grant g;
	struct fa_err err;

	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, prop, "x", NULL, NULL, &g, &err), FA_EDENIED);
	assert_oauth(&err, 400, "unauthorized_client", "authorization_code");
}

static void test_no_refresh_without_grant(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = afx_client(f, "shortlived");
	char code[FA_TOKEN_CHARS + 1];
	struct fa_authz_grant g;
	struct fa_err err;

	/* offline granted, but the client lacks the refresh_token grant. */
	afx_code(f, "shortlived", "http://127.0.0.1:5555/cb", "all offline", CHALLENGE, code);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, c, code, "http://127.0.0.1:5555/cb",
					     CHALLENGE_VERIFIER, &g, &err), FA_OK);
	assert_string_equal(g.refresh_token, "");
	fa_authz_grant_cleanup(&g);
}

/* ---- refresh token grant --------------------------------------------------- */

static void start_family(struct afx *f, struct fa_authz_grant *g)
{
	const struct fa_authz_client *c = afx_client(f, "flytectl");
	char code[FA_TOKEN_CHARS + 1];
	struct fa_err err;

	afx_code(f, "flytectl", "http://localhost:53593/callback", "all offline access_token",
		 CHALLENGE, code);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, c, code, "http://localhost:53593/callback",
					     CHALLENGE_VERIFIER, g, &err), FA_OK);
}

static void test_refresh_rotation(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = afx_client(f, "flytectl");
	struct fa_authz_grant g0, g1, g2;
	struct fa_err err;
	json_t *claims;

	start_family(f, &g0);
	f->now_ms += 60 * 1000;
	fa_err_clear(&err);
	/* Narrowing: the access token gets less... */
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g0.refresh_token, "all", &g1, &err), FA_OK);
	assert_string_equal(g1.scope, "all");
	assert_string_not_equal(g1.refresh_token, g0.refresh_token);
	claims = verify_at(f, g1.access_token, ISSUER);
	assert_int_equal(json_array_size(json_object_get(claims, "scp")), 1);
	assert_string_equal(json_string_value(json_object_get(claims, "sub")), "alice");
	assert_non_null(json_object_get(claims, "user_info"));
	json_decref(claims);
	/* ...but the new refresh token keeps the original scope (RFC 6749 §6). */
	f->now_ms += 60 * 1000;
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g1.refresh_token, NULL, &g2, &err), FA_OK);
	assert_string_equal(g2.scope, "all offline access_token");
	/* Only the newest refresh token of the family is live. */
	assert_false(introspect_active(f, g0.refresh_token));
	assert_false(introspect_active(f, g1.refresh_token));
	assert_true(introspect_active(f, g2.refresh_token));
	/* Earlier access tokens stay valid until they expire. */
	assert_true(introspect_active(f, g0.access_token));
	fa_authz_grant_cleanup(&g0);
	fa_authz_grant_cleanup(&g1);
	fa_authz_grant_cleanup(&g2);
}

/* Invariant (8) of family.c: rotation slides each refresh token's life,
 * but the family ends refreshTokenMaxLifespan (168h by default) after the
 * login, however recently it was rotated. */
static void test_refresh_max_lifespan(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = afx_client(f, "flytectl");
	int64_t login_ms = f->now_ms, end_ms = login_ms + 168LL * 3600 * 1000;
	struct fa_authz_grant g, next;
	struct fa_err err;
	int n = 0;

	start_family(f, &g);
	/* A refresh every 55 minutes (within refreshTokenLifespan, 1h) keeps
	 * the family alive right up to the end ... */
	while (f->now_ms + 55 * 60 * 1000 < end_ms) {
		f->now_ms += 55 * 60 * 1000;
		fa_err_clear(&err);
		if (fa_authz_grant_refresh(f->az, c, g.refresh_token, NULL, &next, &err) != FA_OK)
			fail_msg("refresh %d at +%llds: %s", n,
				 (long long)((f->now_ms - login_ms) / 1000), err.msg);
		fa_authz_grant_cleanup(&g);
		g = next;
		n++;
	}
	assert_true(n > 180);
	/* ... and not a second past it. */
	f->now_ms = end_ms;
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g.refresh_token, NULL, &next, &err),
			 FA_EDENIED);
	assert_string_equal(err.oauth_error, "invalid_grant");
	fa_authz_grant_cleanup(&g);
}

/* Also checks that the family kept who logged alice in (afx_user). */
static enum fa_rc refuse_alice(struct fa_identity *id, const char *provider, const json_t *user,
			       struct fa_err *err)
{
	(void)id;
	assert_non_null(provider);
	assert_string_equal(provider, "local");
	if (strcmp(json_string_value(json_object_get(user, "sub")), "alice") == 0)
		return fa_err_oauth(err, FA_EDENIED, "access_denied", "gone");
	return FA_OK;
}

/* Invariant (9): a user the identity layer no longer accepts cannot
 * refresh, and the family dies with everything it issued. */
static void test_refresh_user_removed(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = afx_client(f, "flytectl");
	struct fa_authz_grant g, next;
	struct fa_err err;

	start_family(f, &g);
	f->az->user_check = refuse_alice;
	f->now_ms += 60 * 1000;
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g.refresh_token, NULL, &next, &err),
			 FA_EDENIED);
	assert_string_equal(err.oauth_error, "invalid_grant");
	assert_false(introspect_active(f, g.access_token));
	/* Accepted again later, the family stays revoked. */
	f->az->user_check = NULL;
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g.refresh_token, NULL, &next, &err),
			 FA_EDENIED);
	fa_authz_grant_cleanup(&g);
}

static void test_refresh_scope_widening(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = afx_client(f, "flytectl");
	struct fa_authz_grant g0, g1;
	struct fa_err err;

	struct fa_authz_grant g2;

	start_family(f, &g0);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g0.refresh_token, "all", &g1, &err), FA_OK);
	/* The family started with all offline access_token; "admin" is new,
	 * and the narrowed access token did not shrink what g1 may ask. */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g1.refresh_token, "all admin", &g2, &err),
			 FA_EDENIED);
	assert_oauth(&err, 400, "invalid_scope", "never widen");
	assert_null(g2.access_token);
	/* The refused request changed nothing. */
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g1.refresh_token, "access_token", &g2,
						&err), FA_OK);
	assert_string_equal(g2.scope, "access_token");
	fa_authz_grant_cleanup(&g0);
	fa_authz_grant_cleanup(&g1);
	fa_authz_grant_cleanup(&g2);
}

static void test_refresh_reuse(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = afx_client(f, "flytectl");
	struct fa_authz_grant g0, g1, g2;
	struct fa_err err;

	start_family(f, &g0);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g0.refresh_token, NULL, &g1, &err), FA_OK);
	/* A thief replays the spent token later: the whole family dies. */
	f->now_ms += 60 * 1000;
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g0.refresh_token, NULL, &g2, &err),
			 FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "now revoked");
	assert_null(g2.access_token);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g1.refresh_token, NULL, &g2, &err),
			 FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "revoked");
	assert_false(introspect_active(f, g1.access_token));
	assert_false(introspect_active(f, g0.access_token));
	fflush(f->logfp);
	assert_non_null(strstr(f->logbuf, "refresh token reuse"));
	fa_authz_grant_cleanup(&g0);
	fa_authz_grant_cleanup(&g1);
}

/* A thief who rotates a stolen token first must not keep the family when
 * the real client presents the old one a moment later: reading the token
 * as spent is reuse, however soon after the rotation (no time window). */
static void test_refresh_reuse_immediate(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = afx_client(f, "flytectl");
	struct fa_authz_grant g0, g1, g2;
	struct fa_err err;

	start_family(f, &g0);
	fa_err_clear(&err);
	/* RT1 -> RT2 (the thief). */
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g0.refresh_token, NULL, &g1, &err), FA_OK);
	/* RT1 again, at the same millisecond (the real client). */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g0.refresh_token, NULL, &g2, &err),
			 FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "now revoked");
	assert_null(g2.access_token);
	assert_string_equal(g2.refresh_token, "");
	/* RT2 is refused now, and its access token shows inactive. */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g1.refresh_token, NULL, &g2, &err),
			 FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "revoked");
	assert_false(introspect_active(f, g1.refresh_token));
	assert_false(introspect_active(f, g1.access_token));
	fa_authz_grant_cleanup(&g0);
	fa_authz_grant_cleanup(&g1);
}

static void test_refresh_errors(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = afx_client(f, "flytectl");
	const struct fa_authz_client *web = afx_client(f, "web");
	const struct fa_authz_client *sl = afx_client(f, "shortlived");
	struct fa_authz_grant g0, g1;
	struct fa_err err;

	start_family(f, &g0);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, web, g0.refresh_token, NULL, &g1, &err),
			 FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "invalid or expired");
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, sl, g0.refresh_token, NULL, &g1, &err),
			 FA_EDENIED);
	assert_oauth(&err, 400, "unauthorized_client", "refresh_token grant");
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, c, NULL, NULL, &g1, &err), FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "refresh_token is missing");
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, c, "garbage", NULL, &g1, &err), FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "invalid or expired");
	/* Another client's attempt changed nothing. */
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g0.refresh_token, NULL, &g1, &err), FA_OK);
	fa_authz_grant_cleanup(&g1);
	/* Expiry: refreshTokenLifespan after the last rotation. */
	f->now_ms += 3600 * 1000;
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g0.refresh_token, NULL, &g1, &err),
			 FA_EDENIED);
	fa_authz_grant_cleanup(&g0);
}

/* ---- client credentials ----------------------------------------------------- */

static void test_client_credentials(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = afx_client(f, "flytepropeller");
	struct fa_authz_grant g;
	struct fa_err err;
	int64_t before_at = afx_count(f, FA_KIND_AT);
	json_t *claims;

	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_client_credentials(f->az, c, NULL, NULL, &g, &err), FA_OK);
	/* Default scope: the client's, minus offline. */
	assert_string_equal(g.scope, "all access_token");
	assert_string_equal(g.refresh_token, "");
	claims = verify_at(f, g.access_token, ISSUER);
	assert_string_equal(json_string_value(json_object_get(claims, "sub")), "flytepropeller");
	assert_string_equal(json_string_value(json_object_get(claims, "client_id")),
			    "flytepropeller");
	assert_null(json_object_get(claims, "user_info"));
	json_decref(claims);
	assert_true(introspect_active(f, g.access_token));
	fa_authz_grant_cleanup(&g);
	/* The hot path writes nothing. */
	assert_int_equal(afx_count(f, FA_KIND_AT), before_at);
	assert_int_equal(afx_count(f, FA_KIND_FAMILY), 0);

	assert_int_equal(fa_authz_grant_client_credentials(f->az, c, "all", NULL, &g, &err), FA_OK);
	assert_string_equal(g.scope, "all");
	fa_authz_grant_cleanup(&g);
	fa_err_clear(&err);
	/* SPEC §5: what the client may not have is dropped... */
	assert_int_equal(fa_authz_grant_client_credentials(f->az, c, "all admin", NULL, &g, &err),
			 FA_OK);
	assert_string_equal(g.scope, "all");
	fa_authz_grant_cleanup(&g);
	/* ...and a machine token never gets OpenID Connect's scopes. */
	assert_int_equal(fa_authz_grant_client_credentials(f->az, c, "all openid", NULL, &g, &err),
			 FA_OK);
	assert_string_equal(g.scope, "all");
	assert_null(g.id_token);
	fa_authz_grant_cleanup(&g);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_client_credentials(f->az, c, "admin", NULL, &g, &err),
			 FA_EDENIED);
	assert_oauth(&err, 400, "invalid_scope", "none of the requested scopes");
}

static void test_client_credentials_audience(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *web = afx_client(f, "web");
	const struct fa_authz_client *prop = afx_client(f, "flytepropeller");
	struct fa_authz_grant g;
	struct fa_err err;
	json_t *claims;

	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_client_credentials(f->az, web, "read",
							   "https://api.example.com", &g, &err),
			 FA_OK);
	claims = verify_at(f, g.access_token, "https://api.example.com");
	assert_int_equal(json_array_size(json_object_get(claims, "aud")), 1);
	json_decref(claims);
	fa_authz_grant_cleanup(&g);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_client_credentials(f->az, prop, NULL,
							   "https://api.example.com", &g, &err),
			 FA_EDENIED);
	assert_oauth(&err, 400, "invalid_request", "not allowed for this client");
}

static void test_client_credentials_public_refused(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = afx_client(f, "flytectl");
	struct fa_authz_grant g;
	struct fa_err err;

	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_client_credentials(f->az, c, NULL, NULL, &g, &err),
			 FA_EDENIED);
	assert_oauth(&err, 400, "unauthorized_client", "client_credentials");
	assert_null(g.access_token);
}

/* ---- introspection and revocation ------------------------------------------ */

static void test_introspect_fields(void **state)
{
	struct afx *f = *state;
	struct fa_authz_grant g;
	json_t *o = NULL;
	struct fa_err err;

	start_family(f, &g);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_introspect(f->az, g.access_token, "refresh_token", &o, &err),
			 FA_OK);
	assert_true(json_is_true(json_object_get(o, "active")));
	assert_string_equal(json_string_value(json_object_get(o, "scope")),
			    "all offline access_token");
	assert_string_equal(json_string_value(json_object_get(o, "client_id")), "flytectl");
	assert_string_equal(json_string_value(json_object_get(o, "sub")), "alice");
	assert_string_equal(json_string_value(json_object_get(o, "username")), "alice");
	assert_string_equal(json_string_value(json_object_get(o, "token_type")), "Bearer");
	assert_string_equal(json_string_value(json_object_get(o, "jti")), g.jti);
	assert_string_equal(json_string_value(json_object_get(o, "iss")), ISSUER);
	json_decref(o);
	/* A wrong hint is only a hint. */
	assert_int_equal(fa_authz_introspect(f->az, g.refresh_token, "access_token", &o, &err),
			 FA_OK);
	assert_true(json_is_true(json_object_get(o, "active")));
	assert_string_equal(json_string_value(json_object_get(o, "sub")), "alice");
	assert_int_equal(json_integer_value(json_object_get(o, "exp")), f->now_ms / 1000 + 3600);
	json_decref(o);
	/* Garbage, truncated or expired: exactly {"active": false}. */
	assert_false(introspect_active(f, "garbage"));
	assert_false(introspect_active(f, "a.b.c"));
	{
		char *trunc = strdup(g.access_token);

		trunc[strlen(trunc) - 2] = '\0';
		assert_false(introspect_active(f, trunc));
		free(trunc);
	}
	f->now_ms += 1801 * 1000;
	assert_false(introspect_active(f, g.access_token));
	fa_err_clear(&err);
	assert_int_equal(fa_authz_introspect(f->az, NULL, NULL, &o, &err), FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "token is missing");
	fa_authz_grant_cleanup(&g);
}

static void test_revoke_refresh_token(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = afx_client(f, "flytectl");
	const struct fa_authz_client *web = afx_client(f, "web");
	struct fa_authz_grant g, g2;
	struct fa_err err;

	start_family(f, &g);
	/* Another client's token: 200, nothing revoked. */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_revoke(f->az, web, g.refresh_token, NULL, &err), FA_OK);
	assert_true(introspect_active(f, g.refresh_token));
	assert_true(introspect_active(f, g.access_token));
	assert_int_equal(fa_authz_revoke(f->az, c, g.refresh_token, "refresh_token", &err), FA_OK);
	assert_false(introspect_active(f, g.refresh_token));
	assert_false(introspect_active(f, g.access_token));
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g.refresh_token, NULL, &g2, &err),
			 FA_EDENIED);
	assert_oauth(&err, 400, "invalid_grant", "revoked");
	/* Unknown tokens and repeats are fine. */
	assert_int_equal(fa_authz_revoke(f->az, c, g.refresh_token, NULL, &err), FA_OK);
	assert_int_equal(fa_authz_revoke(f->az, c, "nothing-like-a-token", NULL, &err), FA_OK);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_revoke(f->az, c, NULL, NULL, &err), FA_EINVAL);
	assert_oauth(&err, 400, "invalid_request", "token is missing");
	fa_authz_grant_cleanup(&g);
}

static void test_revoke_access_token(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *prop = afx_client(f, "flytepropeller");
	const struct fa_authz_client *web = afx_client(f, "web");
	struct fa_authz_grant g;
	struct fa_err err;

	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_client_credentials(f->az, prop, NULL, NULL, &g, &err), FA_OK);
	assert_int_equal(fa_authz_revoke(f->az, web, g.access_token, NULL, &err), FA_OK);
	assert_true(introspect_active(f, g.access_token));
	assert_int_equal(fa_authz_revoke(f->az, prop, g.access_token, "access_token", &err), FA_OK);
	assert_false(introspect_active(f, g.access_token));
	assert_int_equal(afx_count(f, FA_KIND_REVOKED), 1);
	/* Revoking twice is not an error. */
	assert_int_equal(fa_authz_revoke(f->az, prop, g.access_token, NULL, &err), FA_OK);
	fa_authz_grant_cleanup(&g);
}

/* ---- pending requests ---------------------------------------------------- */

static void test_authreq_binding(void **state)
{
	struct afx *f = *state;
	struct fa_authz_params p = {
		.response_type = "code", .client_id = "flytectl",
		.redirect_uri = "http://localhost:53593/callback", .state = "abcdefgh",
		.code_challenge = CHALLENGE, .code_challenge_method = "S256",
	};
	char bind[FA_TOKEN_CHARS + 1], other[FA_TOKEN_CHARS + 1], id[FA_TOKEN_CHARS + 1];
	char key[2 * FA_SHA256_LEN + 1], code[FA_TOKEN_CHARS + 1];
	struct fa_authz_areq areq, back;
	struct fa_store_op del;
	struct fa_err err;
	int64_t ver;
	json_t *user = afx_user();

	assert_int_equal(fa_rand_token(bind), FA_OK);
	assert_int_equal(fa_rand_token(other), FA_OK);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_authorize_check(f->az, &p, &areq, &err), FA_OK);
	assert_int_equal(fa_authz_authreq_save(f->az, &areq, bind, id, &err), FA_OK);
	/* A callback link used from another browser. */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_authreq_load(f->az, id, other, &back, &ver, &err), FA_EDENIED);
	assert_oauth(&err, 400, "invalid_request", "another browser");
	assert_int_equal(fa_authz_authreq_load(f->az, id, NULL, &back, &ver, &err), FA_EDENIED);
	assert_int_equal(fa_authz_authreq_load(f->az, id, bind, &back, &ver, &err), FA_OK);
	assert_string_equal(back.state, "abcdefgh");
	assert_string_equal(back.challenge, CHALLENGE);
	assert_string_equal(back.client->id, "flytectl");
	assert_true(back.redirect_given);
	/* Issuing the code consumes the request in the same transaction. */
	assert_int_equal(fa_authz_token_key(id, key), FA_OK);
	del = (struct fa_store_op){ .type = FA_STORE_DELETE, .kind = FA_KIND_AUTHREQ, .key = key,
				    .expect_version = ver };
	assert_int_equal(fa_authz_code_issue(f->az, &back, user, &del, code, &err), FA_OK);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_code_issue(f->az, &back, user, &del, code, &err), FA_ENOTFOUND);
	assert_oauth(&err, 400, "invalid_request", "already used");
	assert_int_equal(fa_authz_authreq_load(f->az, id, bind, &back, &ver, &err), FA_ENOTFOUND);
	/* And a pending request expires. */
	assert_int_equal(fa_authz_authreq_save(f->az, &areq, bind, id, &err), FA_OK);
	f->now_ms += FA_AUTHZ_AUTHREQ_TTL_S * 1000LL;
	fa_err_clear(&err);
	assert_int_equal(fa_authz_authreq_load(f->az, id, bind, &back, &ver, &err), FA_ENOTFOUND);
	assert_oauth(&err, 400, "invalid_request", "expired");
	json_decref(user);
	afx_assert_log_clean(f, bind);
	afx_assert_log_clean(f, id);
}

/* ---- start-up ------------------------------------------------------------ */

static void test_documents(void **state)
{
	struct afx *f = *state;
	json_error_t jerr;
	json_t *m = json_loadb(f->az->metadata_json, f->az->metadata_len, 0, &jerr);
	json_t *jw = json_loadb(f->az->jwks_json, f->az->jwks_len, 0, &jerr);
	json_t *k;

	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "issuer")), ISSUER);
	assert_string_equal(json_string_value(json_object_get(m, "token_endpoint")),
			    ISSUER "/oauth2/token");
	assert_string_equal(json_string_value(json_object_get(m, "jwks_uri")), ISSUER "/oauth2/jwks");
	assert_string_equal(json_string_value(json_object_get(m, "authorization_endpoint")),
			    ISSUER "/oauth2/authorize");
	assert_string_equal(json_string_value(json_object_get(m, "introspection_endpoint")),
			    ISSUER "/oauth2/introspect");
	assert_string_equal(json_string_value(json_object_get(m, "revocation_endpoint")),
			    ISSUER "/oauth2/revoke");
	assert_string_equal(json_string_value(json_array_get(
		json_object_get(m, "code_challenge_methods_supported"), 0)), "S256");
	assert_int_equal(json_array_size(json_object_get(m, "code_challenge_methods_supported")), 1);
	assert_int_equal(json_array_size(json_object_get(m, "response_types_supported")), 1);
	/* Public clients authenticate with "none" (RFC 8414 §2); introspection
	 * is for confidential clients only, revocation for both. */
	k = json_object_get(m, "token_endpoint_auth_methods_supported");
	assert_int_equal(json_array_size(k), 3);
	assert_string_equal(json_string_value(json_array_get(k, 0)), "client_secret_basic");
	assert_string_equal(json_string_value(json_array_get(k, 1)), "client_secret_post");
	assert_string_equal(json_string_value(json_array_get(k, 2)), "none");
	k = json_object_get(m, "introspection_endpoint_auth_methods_supported");
	assert_int_equal(json_array_size(k), 2);
	assert_string_equal(json_string_value(json_array_get(k, 0)), "client_secret_basic");
	assert_string_equal(json_string_value(json_array_get(k, 1)), "client_secret_post");
	k = json_object_get(m, "revocation_endpoint_auth_methods_supported");
	assert_int_equal(json_array_size(k), 3);
	assert_string_equal(json_string_value(json_array_get(k, 2)), "none");
	assert_true(json_is_true(json_object_get(m, "authorization_response_iss_parameter_supported")));
	assert_null(json_object_get(m, "device_authorization_endpoint"));
	/* all offline access_token read, offline's alias, and openid profile
	 * email (the clients log users in). */
	assert_int_equal(json_array_size(json_object_get(m, "scopes_supported")), 8);
	{
		json_t *op = json_loadb(f->az->op_json, f->az->op_len, 0, &jerr);

		assert_non_null(op);
		assert_string_equal(json_string_value(json_object_get(op, "issuer")), ISSUER);
		assert_string_equal(json_string_value(json_object_get(op, "userinfo_endpoint")),
				    ISSUER "/oauth2/userinfo");
		assert_string_equal(json_string_value(json_array_get(
			json_object_get(op, "id_token_signing_alg_values_supported"), 0)), "ES256");
		assert_true(json_equal(json_object_get(op, "grant_types_supported"),
				       json_object_get(m, "grant_types_supported")));
		assert_true(json_is_false(json_object_get(op, "request_uri_parameter_supported")));
		json_decref(op);
	}
	assert_non_null(jw);
	k = json_array_get(json_object_get(jw, "keys"), 0);
	assert_string_equal(json_string_value(json_object_get(k, "kid")), fa_jwk_kid(f->key));
	assert_string_equal(json_string_value(json_object_get(k, "alg")), "ES256");
	assert_string_equal(json_string_value(json_object_get(k, "use")), "sig");
	assert_null(json_object_get(k, "d"));
	json_decref(m);
	json_decref(jw);
}

static void test_generated_client_secret(void **state)
{
	struct afx *f = afx_new(false);
	const struct fa_authz_client *c;
	struct fa_authz *az2;
	struct fa_authz_grant g;
	struct fa_err err;
	char *again = (char *)"not touched";
	bool used_basic;

	(void)state;
	/* flyteadmin's three defaults, the confidential one with a secret made
	 * for this installation and handed back once. */
	assert_non_null(f->generated);
	assert_int_equal(strlen(f->generated), FA_TOKEN_CHARS);
	assert_non_null(fa_authz_client_get(f->az, "flyte-cli"));
	c = afx_client(f, "flytectl");
	assert_true(c->is_public);
	assert_true(c->grants & FA_GRANT_DEVICE);
	assert_true(fa_redirect_match("http://localhost:12345/callback", c->redirect_uris,
				      c->n_redirect_uris));
	struct fa_authz_creds cr = { .client_id = "flytepropeller", .client_secret = f->generated };
	fa_err_clear(&err);
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_OK);
	assert_int_equal(fa_authz_grant_client_credentials(f->az, c, "all", NULL, &g, &err), FA_OK);
	fa_authz_grant_cleanup(&g);
	/* flyteadmin's published default password does not work. */
	cr.client_secret = "foobar";
	assert_int_equal(fa_authz_client_auth(f->az, &cr, &c, &used_basic, &err), FA_EDENIED);
	/* A second start on the same store: same secret, not shown again. */
	az2 = afx_authz(f, &again, &err);
	assert_non_null(az2);
	assert_null(again);
	cr.client_secret = f->generated;
	assert_int_equal(fa_authz_client_auth(az2, &cr, &c, &used_basic, &err), FA_OK);
	fa_authz_free(az2);
	afx_assert_log_clean(f, f->generated);
	afx_teardown((void **)&f);
}

static struct fa_config_client *cfg_client(struct afx *f, const char *id)
{
	for (size_t i = 0; i < f->cfg->auth.app_auth.self.static_clients_count; i++) {
		if (strcmp(f->cfg->auth.app_auth.self.static_clients[i].id, id) == 0)
			return &f->cfg->auth.app_auth.self.static_clients[i];
	}
	fail_msg("no client %s", id);
	return NULL;
}

/* The config loader checks shapes too; authz refuses on its own what it
 * cannot use, naming the client (defence in depth: the struct is plain
 * data and could come from elsewhere). */
static void test_bad_client_config(void **state)
{
	struct afx *f = *state;
	struct fa_config_client *web = cfg_client(f, "web");
	char bad_hash[] = "$2b$04$short";
	char bad_uri[] = "https://app.example.com/cb#fragment";
	char *saved;
	struct fa_err err;

	saved = web->client_secret;
	web->client_secret = bad_hash;
	fa_err_clear(&err);
	assert_null(afx_authz(f, NULL, &err));
	web->client_secret = saved;
	assert_int_equal(err.rc, FA_ECONFIG);
	assert_non_null(strstr(err.msg, "staticClients web: client_secret"));
	assert_non_null(strstr(err.msg, "test.yaml:"));

	saved = web->redirect_uris.items[0];
	web->redirect_uris.items[0] = bad_uri;
	fa_err_clear(&err);
	assert_null(afx_authz(f, NULL, &err));
	web->redirect_uris.items[0] = saved;
	assert_int_equal(err.rc, FA_ECONFIG);
	assert_non_null(strstr(err.msg, "redirect_uris"));

	{
		struct fa_authz_opts o = { .cfg = f->cfg, .store = f->st, .signing_key = f->key,
					   .verify_keys = f->jwks };

		fa_err_clear(&err);
		assert_null(fa_authz_new(&o, &err));
		assert_int_equal(err.rc, FA_EINVAL);
		assert_non_null(strstr(err.msg, "issuer"));
		assert_null(fa_authz_new(NULL, &err));
	}
	fa_authz_free(NULL);
}

/* A verification set without the signing key would publish a JWKS that
 * cannot verify our own tokens. */
static void test_signing_key_not_published(void **state)
{
	struct afx *f = *state;
	struct fa_jwk *other = NULL;
	struct fa_jwks *set = NULL;
	struct fa_authz_opts o;
	struct fa_err err;

	fa_err_clear(&err);
	assert_int_equal(fa_jwk_generate("EdDSA", &other, &err), FA_OK);
	assert_int_equal(fa_jwks_new(&set, &err), FA_OK);
	assert_int_equal(fa_jwks_add(set, other, &err), FA_OK);
	o = (struct fa_authz_opts){ .cfg = f->cfg, .store = f->st, .log = &f->log,
				    .signing_key = f->key, .verify_keys = set, .issuer = ISSUER };
	assert_null(fa_authz_new(&o, &err));
	assert_int_equal(err.rc, FA_EINVAL);
	assert_non_null(strstr(err.msg, "not in the verification set"));
	fa_jwks_free(set);
	fa_jwk_free(other);
}

/* ---- a store outage ------------------------------------------------------ */

/* While the database is down every grant that needs it answers 503
 * temporarily_unavailable and writes nothing: the code and the refresh
 * token presented during the outage still work afterwards. The store logs
 * the outage once; authz adds no error line per request. */
static void test_store_outage(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = afx_client(f, "flytectl");
	struct fa_test_outage o = { .real = f->st };
	struct fa_store *wrapped;
	char code[FA_TOKEN_CHARS + 1];
	struct fa_authz_grant g, g0;
	struct fa_err err;
	json_t *out = NULL;
	const char *p;
	int lines = 0;

	start_family(f, &g0);
	afx_code(f, "flytectl", "http://localhost:53593/callback", "all offline", CHALLENGE, code);
	wrapped = fa_test_outage_wrap(&o, &f->log);
	f->az->store = wrapped;
	o.down = true;
	for (int i = 0; i < 3; i++) {
		fa_err_clear(&err);
		assert_int_equal(fa_authz_grant_code(f->az, c, code, "http://localhost:53593/callback",
						     CHALLENGE_VERIFIER, &g, &err), FA_ESTORE);
		assert_oauth(&err, 503, "temporarily_unavailable", "try again later");
		fa_err_clear(&err);
		assert_int_equal(fa_authz_grant_refresh(f->az, c, g0.refresh_token, NULL, &g, &err),
				 FA_ESTORE);
		assert_oauth(&err, 503, "temporarily_unavailable", NULL);
		fa_err_clear(&err);
		assert_int_equal(fa_authz_introspect(f->az, g0.refresh_token, NULL, &out, &err),
				 FA_ESTORE);
		assert_oauth(&err, 503, "temporarily_unavailable", NULL);
		assert_null(out);
	}
	fflush(f->logfp);
	for (p = f->logbuf; (p = strstr(p, "store (outage) failed: postgres db:5432/flyte: "
				  "connection refused")) != NULL; p++)
		lines++;
	assert_int_equal(lines, 1);
	assert_null(strstr(f->logbuf, " error reading"));
	/* Back: nothing was spent while it was down. */
	o.down = false;
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, c, code, "http://localhost:53593/callback",
					     CHALLENGE_VERIFIER, &g, &err), FA_OK);
	fa_authz_grant_cleanup(&g);
	assert_int_equal(fa_authz_grant_refresh(f->az, c, g0.refresh_token, NULL, &g, &err), FA_OK);
	fa_authz_grant_cleanup(&g);
	fa_authz_grant_cleanup(&g0);
	fflush(f->logfp);
	assert_non_null(strstr(f->logbuf, "store (outage) works again"));
	f->az->store = f->st;
	fa_store_free(wrapped);
}

static void test_routes(void **state)
{
	const struct fa_route *r;
	size_t n;

	(void)state;
	fa_authz_routes(&r, &n);
	/* seven for discovery and the grants, three for RFC 8628, two for
	 * userinfo, two for RP-initiated logout */
	assert_int_equal(n, 14);
	for (size_t i = 0; i < n; i++) {
		assert_true(r[i].flags & FA_R_PUBLIC);
		if (strcmp(r[i].method, "POST") == 0)
			assert_int_equal(r[i].flags & (FA_R_FORM | FA_R_NO_STORE),
					 FA_R_FORM | FA_R_NO_STORE);
		if (strncmp(r[i].path, "/oauth2/authorize", 17) == 0)
			assert_true(r[i].flags & FA_R_NO_STORE);
	}
	fa_authz_op_routes(&r, &n);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].path, "/.well-known/openid-configuration");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, afx_setup, afx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_client_auth_methods),
		T(test_client_auth_two_methods),
		T(test_client_auth_throttle),
		T(test_client_auth_failures_look_alike),
		T(test_public_client_with_secret),
		T(test_authorize_ok),
		T(test_authorize_open_redirect),
		T(test_authorize_errors_redirect),
		T(test_authorize_audience),
		T(test_code_flow),
		T(test_code_flow_openid),
		T(test_authorize_oidc),
		T(test_logout_check),
		T(test_code_replay),
		T(test_code_replay_by_other_client),
		T(test_code_replay_without_verifier),
		T(test_code_bindings),
		T(test_pkce_downgrade),
		T(test_code_expired),
		T(test_code_unauthorized_client),
		T(test_no_refresh_without_grant),
		T(test_refresh_rotation),
		T(test_refresh_max_lifespan),
		T(test_refresh_user_removed),
		T(test_refresh_scope_widening),
		T(test_refresh_reuse),
		T(test_refresh_reuse_immediate),
		T(test_refresh_errors),
		T(test_client_credentials),
		T(test_client_credentials_audience),
		T(test_client_credentials_public_refused),
		T(test_introspect_fields),
		T(test_revoke_refresh_token),
		T(test_revoke_access_token),
		T(test_authreq_binding),
		T(test_documents),
		T(test_bad_client_config),
		T(test_signing_key_not_published),
		T(test_store_outage),
		cmocka_unit_test(test_generated_client_secret),
		cmocka_unit_test(test_routes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
