/* test_gate_remote.c -- the gate with other servers' tokens, against a real
 * HTTP server in process (remote_test_server.h: libmicrohttpd serving a
 * discovery document and a JWKS the test controls), through src/remote's
 * issuer object as serve builds it:
 *  - External mode: access tokens of an external authorization server --
 *    iss from its metadata, aud in allowedAudience ∪ authorizedUris ∪ the
 *    public URL, scopes from `scp` (array or string) or `scope`, the client
 *    from client_id/cid, typ, an unknown kid (one refetch, then fail
 *    closed), the server's metadata filtered at
 *    /.well-known/oauth-authorization-server, and 503 while nothing is
 *    loaded;
 *  - the IDToken scheme: the upstream IdP's ID tokens, `aud` = the
 *    openId.clientId, another IdP's token refused.
 */
#include "gate_fixture.h"
#include "remote_test_server.h"

#define API_AUD "api://flyte"
#define CLIENT_ID "flyte-web"
#define REFETCH_MS 1500

struct rfx {
	struct fx *f;
	struct rts *srv;
	struct fa_remote *remote;
	struct fa_jwk *as_key;         /* the server's signing key */
	struct rts_clock clock;        /* the key sets' windows */
	char base[128];
};

static void set_jwks(struct rfx *x, const struct fa_jwk *a, const struct fa_jwk *b)
{
	struct fa_jwks *set = NULL;
	char *text = NULL;
	size_t len;

	assert_int_equal(fa_jwks_new(&set, NULL), FA_OK);
	assert_int_equal(fa_jwks_add(set, a, NULL), FA_OK);
	if (b)
		assert_int_equal(fa_jwks_add(set, b, NULL), FA_OK);
	assert_int_equal(fa_jwks_format(set, &text, &len, NULL), FA_OK);
	rts_set_jwks(x->srv, text, 200);
	free(text);
	fa_jwks_free(set);
}

static int rfx_setup(void **state)
{
	struct rfx *x = calloc(1, sizeof(*x));
	void *inner;

	assert_non_null(x);
	fx_setup(&inner);
	x->f = inner;
	x->srv = rts_start(NULL, NULL);
	rts_url(x->srv, "", x->base, sizeof(x->base));
	rts_clock_start(&x->clock);
	/* Valid as RFC 8414 metadata and as an OpenID Provider document;
	 * `foo` and `introspection_endpoint` are not flyteadmin's fields. */
	snprintf(x->srv->disc, sizeof(x->srv->disc),
		 "{\"issuer\":\"%s\",\"authorization_endpoint\":\"%s/auth\","
		 "\"token_endpoint\":\"%s/token\",\"jwks_uri\":\"%s/jwks\","
		 "\"introspection_endpoint\":\"%s/introspect\","
		 "\"response_types_supported\":[\"code\"],\"subject_types_supported\":[\"public\"],"
		 "\"id_token_signing_alg_values_supported\":[\"RS256\"],"
		 "\"scopes_supported\":[\"all\",\"offline\"],"
		 "\"grant_types_supported\":[\"authorization_code\",\"client_credentials\"],"
		 "\"code_challenge_methods_supported\":[\"S256\"],\"foo\":\"bar\"}",
		 x->base, x->base, x->base, x->base, x->base);
	assert_int_equal(fa_jwk_generate("RS256", &x->as_key, NULL), FA_OK);
	set_jwks(x, x->as_key, NULL);
	assert_int_equal(fa_remote_new(NULL, &x->remote, NULL), FA_OK);
	*state = x;
	return 0;
}

static int rfx_teardown(void **state)
{
	struct rfx *x = *state;
	void *inner = x->f;

	/* The gate borrows the issuers: it goes first. */
	fa_gate_free(x->f->gate);
	x->f->gate = NULL;
	fa_remote_issuer_free(x->f->external);
	fa_remote_issuer_free(x->f->idp);
	fa_remote_free(x->remote);
	rts_stop(x->srv);
	fa_jwk_free(x->as_key);
	fx_teardown(&inner);
	free(x);
	return 0;
}

static struct fa_remote_issuer *issuer(struct rfx *x, enum fa_discovery_kind kind, bool wait)
{
	struct fa_remote_issuer_opts o = { 0 };
	struct fa_remote_issuer *iss = NULL;
	char url[256];

	rts_url(x->srv, "/.well-known/openid-configuration", url, sizeof(url));
	o.kind = kind;
	o.issuer = x->base;
	o.metadata_url = url;
	o.first_delay_ms = 50;
	o.max_delay_ms = 50;
	/* serve keeps remote's 10 s; the window's rule is the same shorter. */
	o.jwks.min_refetch_ms = REFETCH_MS;
	rts_clock_use(&x->clock, &o.jwks);
	o.log = &x->f->log;
	assert_int_equal(fa_remote_issuer_start(x->remote, &o, &iss, NULL), FA_OK);
	if (wait)
		assert_int_equal(fa_remote_issuer_wait(iss, 5000), FA_HOLDER_READY);
	return iss;
}

static void start_external(struct rfx *x)
{
	char yaml[1024];

	x->f->external = issuer(x, FA_DISCOVERY_OAUTH, true);
	snprintf(yaml, sizeof(yaml),
		 "auth:\n  authorizedUris: [" AUD "]\n  appAuth:\n    authServerType: External\n"
		 "    externalAuthServer: {baseUrl: '%s', allowedAudience: [" API_AUD "]}\n",
		 x->base);
	start_flags(x->f, yaml, FX_SESSIONS);
}

/* An access token of the external server: scopes in `scp` as a string
 * (Entra ID), the client in `cid` (Okta). */
static json_t *as_claims(struct rfx *x, int64_t exp_in)
{
	int64_t now = fa_now();

	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s}", "iss", x->base,
			 "sub", "00u1abc", "aud", API_AUD, "exp", (json_int_t)(now + exp_in),
			 "iat", (json_int_t)now, "jti", "AT.1", "scp", "all offline", "cid",
			 "0oa-flytectl", "email", "dev@example.com");
}

static char *as_sign(const struct fa_jwk *key, const char *typ, json_t *claims)
{
	char *tok = NULL;

	assert_int_equal(fa_jwt_sign(key, typ, NULL, claims, &tok, NULL), FA_OK);
	json_decref(claims);
	return tok;
}

static struct fa_req *call(struct fx *f, const char *scheme, const char *tok)
{
	static char h[FA_MAX_TOKEN + 64];
	const char *hs[2] = { h, NULL };

	snprintf(h, sizeof(h), "Authorization: %s %s", scheme, tok);
	return harness_call(&f->h, "GET", "/auth/verify", hs, NULL, NULL);
}

static void expect_status(struct fx *f, const char *scheme, const char *tok, int status,
			  const char *why)
{
	struct fa_req *r = call(f, scheme, tok);

	if (resp_status(r) != status || (why && !strstr(resp_body(r), why)))
		fail_msg("expected %d (%s), got %d: %s", status, why ? why : "", resp_status(r),
			 resp_body(r));
	if (status != 200)
		assert_null(resp_header(r, "X-User-Subject"));
	harness_done(r);
}

/* ---- External mode --------------------------------------------------------- */

static void test_external_accepts(void **state)
{
	struct rfx *x = *state;
	struct fa_req *r;
	json_t *c;
	char *tok;

	start_external(x);
	tok = as_sign(x->as_key, "at+jwt", as_claims(x, 600));
	r = call(x->f, "Bearer", tok);
	assert_int_equal(resp_status(r), 200);
	assert_string_equal(resp_header(r, "X-User-Subject"), "00u1abc");
	assert_string_equal(resp_header(r, "X-User-Client-Id"), "0oa-flytectl");
	assert_string_equal(resp_header(r, "X-User-Scopes"), "all offline");
	assert_string_equal(resp_header(r, "X-User-Email"), "dev@example.com");
	assert_string_equal(resp_header(r, "X-User-Claim-Cid"), "\"0oa-flytectl\"");
	harness_done(r);
	/* /me takes them too. */
	r = get_me(x->f, "flyte-authorization", tok);
	assert_int_equal(resp_status(r), 200);
	harness_done(r);
	free(tok);
	/* aud: authorizedUris and the public URL count too; `scope` and a
	 * `scp` array; typ JWT (Keycloak, Entra) or none (Okta). */
	c = as_claims(x, 600);
	json_object_set_new(c, "aud", json_pack("[s,s]", "https://elsewhere", AUD));
	json_object_del(c, "scp");
	json_object_set_new(c, "scope", json_string("all"));
	tok = as_sign(x->as_key, "JWT", c);
	expect_status(x->f, "Bearer", tok, 200, NULL);
	free(tok);
	c = as_claims(x, 600);
	json_object_set_new(c, "aud", json_string(ISSUER));
	json_object_set_new(c, "scp", json_pack("[s]", "all"));
	tok = as_sign(x->as_key, NULL, c);
	expect_status(x->f, "Bearer", tok, 200, NULL);
	free(tok);
}

static void test_external_refuses(void **state)
{
	struct rfx *x = *state;
	json_t *c;
	char *tok;

	start_external(x);
	/* flyteadmin never checks iss; we do. */
	c = as_claims(x, 600);
	json_object_set_new(c, "iss", json_string("https://evil.example.com"));
	tok = as_sign(x->as_key, "at+jwt", c);
	expect_status(x->f, "Bearer", tok, 401, "issuer");
	free(tok);
	c = as_claims(x, 600);
	json_object_set_new(c, "aud", json_string("api://someone-else"));
	tok = as_sign(x->as_key, "at+jwt", c);
	expect_status(x->f, "Bearer", tok, 401, "aud");
	free(tok);
	/* Another kind of JWT the same server signs. */
	tok = as_sign(x->as_key, "logout+jwt", as_claims(x, 600));
	expect_status(x->f, "Bearer", tok, 401, "typ");
	free(tok);
	tok = as_sign(x->as_key, "at+jwt", as_claims(x, -60));
	expect_status(x->f, "Bearer", tok, 401, "expired");
	free(tok);
	c = as_claims(x, 600);
	json_object_set_new(c, "scp", json_string("offline"));
	tok = as_sign(x->as_key, "at+jwt", c);
	expect_status(x->f, "Bearer", tok, 403, "insufficient_scope");
	free(tok);
	/* Our own (Self) key means nothing here. */
	tok = mint(x->f, user_claims(600));
	expect_status(x->f, "Bearer", tok, 401, "invalid_token");
	free(tok);
}

/* A kid the set does not have: at most one refetch per window (the set was
 * fetched when the metadata loaded, so the first miss waits for the window),
 * then refused -- a stream of forged kids is not a stream of requests to the
 * AS. A key rotated in at the AS is picked up by its first token after the
 * window. */
static void test_external_unknown_kid(void **state)
{
	struct rfx *x = *state;
	struct fa_jwk *next = NULL, *stranger = NULL;
	int hits;
	char *tok;

	start_external(x);
	assert_int_equal(fa_jwk_generate("RS256", &stranger, NULL), FA_OK);
	tok = as_sign(stranger, "at+jwt", as_claims(x, 600));
	expect_status(x->f, "Bearer", tok, 401, "invalid_token");
	rts_clock_advance(&x->clock, REFETCH_MS);
	hits = rts_jwks_hits(x->srv);
	expect_status(x->f, "Bearer", tok, 401, "invalid_token");
	assert_int_equal(rts_jwks_hits(x->srv), hits + 1);
	for (int i = 0; i < 5; i++)
		expect_status(x->f, "Bearer", tok, 401, "invalid_token");
	assert_int_equal(rts_jwks_hits(x->srv), hits + 1);
	free(tok);
	/* Rotation at the AS. */
	assert_int_equal(fa_jwk_generate("ES256", &next, NULL), FA_OK);
	set_jwks(x, next, x->as_key);
	tok = as_sign(next, "at+jwt", as_claims(x, 600));
	rts_clock_advance(&x->clock, REFETCH_MS);
	expect_status(x->f, "Bearer", tok, 200, NULL);
	assert_int_equal(rts_jwks_hits(x->srv), hits + 2);
	free(tok);
	/* The AS goes away: the keys held keep working, unknown kids fail
	 * closed. */
	rts_set_jwks(x->srv, "{}", 503);
	tok = as_sign(x->as_key, "at+jwt", as_claims(x, 500));
	expect_status(x->f, "Bearer", tok, 200, NULL);
	free(tok);
	rts_clock_advance(&x->clock, REFETCH_MS);
	tok = as_sign(stranger, "at+jwt", as_claims(x, 500));
	expect_status(x->f, "Bearer", tok, 401, "invalid_token");
	free(tok);
	fa_jwk_free(next);
	fa_jwk_free(stranger);
}

static void test_external_metadata(void **state)
{
	struct rfx *x = *state;
	struct fa_req *r;
	json_t *m;
	char want[256];

	start_external(x);
	r = harness_call(&x->f->h, "GET", "/.well-known/oauth-authorization-server", NULL, NULL,
			 NULL);
	assert_int_equal(resp_status(r), 200);
	m = json_loads(resp_body(r), 0, NULL);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "issuer")), x->base);
	snprintf(want, sizeof(want), "%s/token", x->base);
	assert_string_equal(json_string_value(json_object_get(m, "token_endpoint")), want);
	assert_non_null(json_object_get(m, "jwks_uri"));
	assert_non_null(json_object_get(m, "scopes_supported"));
	assert_non_null(json_object_get(m, "grant_types_supported"));
	/* Only flyteadmin's OAuth2MetadataResponse fields. */
	assert_null(json_object_get(m, "foo"));
	assert_null(json_object_get(m, "introspection_endpoint"));
	assert_null(json_object_get(m, "subject_types_supported"));
	json_decref(m);
	/* The second answer is the same bytes (rendered once). */
	{
		struct fa_req *r2 = harness_call(&x->f->h, "GET", "/.well-known/oauth-authorization-server",
						 NULL, NULL, NULL);

		assert_string_equal(resp_body(r2), resp_body(r));
		harness_done(r2);
	}
	harness_done(r);
	r = harness_call(&x->f->h, "GET", "/config/v1/flyte_client", NULL, NULL, NULL);
	assert_int_equal(resp_status(r), 200);
	harness_done(r);
}

/* Nothing loaded yet (the AS is down at start): no guess, 503. */
static void test_external_not_loaded(void **state)
{
	struct rfx *x = *state;
	struct fa_req *r;
	char yaml[1024], *tok;

	x->srv->disc[0] = '\0';          /* the server answers 503 */
	x->f->external = issuer(x, FA_DISCOVERY_OAUTH, false);
	snprintf(yaml, sizeof(yaml), "auth:\n  appAuth:\n    authServerType: External\n"
		 "    externalAuthServer: {baseUrl: '%s', allowedAudience: [" API_AUD "]}\n", x->base);
	start_flags(x->f, yaml, 0);
	tok = as_sign(x->as_key, "at+jwt", as_claims(x, 600));
	r = call(x->f, "Bearer", tok);
	assert_int_equal(resp_status(r), 503);
	assert_non_null(strstr(resp_body(r), "temporarily_unavailable"));
	harness_done(r);
	r = get_me(x->f, "Authorization", tok);
	assert_int_equal(resp_status(r), 503);
	harness_done(r);
	r = harness_call(&x->f->h, "GET", "/.well-known/oauth-authorization-server", NULL, NULL,
			 NULL);
	assert_int_equal(resp_status(r), 503);
	harness_done(r);
	free(tok);
}

/* ---- the IDToken scheme -------------------------------------------------------- */

static void start_idp(struct rfx *x)
{
	char yaml[1024];

	x->f->idp = issuer(x, FA_DISCOVERY_OIDC, true);
	snprintf(yaml, sizeof(yaml),
		 "auth:\n  authorizedUris: [" AUD "]\n  userAuth:\n"
		 "    openId: {baseUrl: '%s', clientId: " CLIENT_ID "}\n", x->base);
	start_flags(x->f, yaml, 0);
}

static json_t *id_claims(struct rfx *x)
{
	int64_t now = fa_now();

	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "iss", x->base, "sub", "u-42",
			 "aud", CLIENT_ID, "exp", (json_int_t)(now + 300), "iat", (json_int_t)now,
			 "nonce", "n-1", "name", "Ada Lovelace", "email", "ada@example.com");
}

static void test_idtoken(void **state)
{
	struct rfx *x = *state;
	struct fa_jwk *stranger = NULL;
	struct fa_req *r;
	json_t *c, *ui;
	char *tok;

	start_idp(x);
	tok = as_sign(x->as_key, "JWT", id_claims(x));
	r = call(x->f, "IDToken", tok);
	assert_int_equal(resp_status(r), 200);
	assert_string_equal(resp_header(r, "X-User-Subject"), "u-42");
	/* flyteadmin: an ID token is a login, with the blanket scope. */
	assert_string_equal(resp_header(r, "X-User-Scopes"), "all");
	assert_null(resp_header(r, "X-User-Client-Id"));
	assert_string_equal(resp_header(r, "X-User-Email"), "ada@example.com");
	harness_done(r);
	r = get_me(x->f, "Authorization", tok);   /* as a Bearer token: not an access token */
	assert_int_equal(resp_status(r), 401);
	harness_done(r);
	{
		char h[FA_MAX_TOKEN + 64];
		const char *hs[2] = { h, NULL };

		snprintf(h, sizeof(h), "flyte-authorization: idtoken %s", tok);
		r = harness_call(&x->f->h, "GET", "/me", hs, NULL, NULL);
		assert_int_equal(resp_status(r), 200);
		ui = json_loads(resp_body(r), 0, NULL);
		assert_string_equal(json_string_value(json_object_get(ui, "name")), "Ada Lovelace");
		assert_string_equal(json_string_value(json_object_get(ui, "subject")), "u-42");
		json_decref(ui);
		harness_done(r);
	}
	free(tok);
	/* Issued to another client of the IdP. */
	c = id_claims(x);
	json_object_set_new(c, "aud", json_string("someone-else"));
	tok = as_sign(x->as_key, "JWT", c);
	expect_status(x->f, "IDToken", tok, 401, "aud");
	free(tok);
	/* Another IdP's token: its key is unknown here, its issuer is not ours. */
	assert_int_equal(fa_jwk_generate("RS256", &stranger, NULL), FA_OK);
	c = id_claims(x);
	json_object_set_new(c, "iss", json_string("https://accounts.other.example"));
	tok = as_sign(stranger, "JWT", c);
	expect_status(x->f, "IDToken", tok, 401, "invalid_token");
	free(tok);
	/* The IdP's key but another issuer name. */
	c = id_claims(x);
	json_object_set_new(c, "iss", json_string("https://accounts.other.example"));
	tok = as_sign(x->as_key, "JWT", c);
	expect_status(x->f, "IDToken", tok, 401, "issuer");
	free(tok);
	/* A Self access token in the IDToken scheme. */
	tok = mint(x->f, user_claims(600));
	expect_status(x->f, "IDToken", tok, 401, "invalid_token");
	free(tok);
	fa_jwk_free(stranger);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, rfx_setup, rfx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_external_accepts),
		T(test_external_refuses),
		T(test_external_unknown_kid),
		T(test_external_metadata),
		T(test_external_not_loaded),
		T(test_idtoken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
