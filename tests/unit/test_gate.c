/* test_gate.c -- the resource gate through the real dispatcher (in process,
 * see gate_fixture.h): credential header parsing, Self access-token
 * verification with every refusal a forged or misdirected token deserves
 * (alg none, HS256, alg downgrade, other key, wrong issuer or audience,
 * expired, not yet valid, wrong typ, tampered, malformed claims), scope
 * `all` (403 insufficient_scope), the two headers, the browser-session
 * fallback, /me's answer and the verified-token cache. /auth/verify is
 * test_gate_verify.c's; other servers' tokens test_gate_remote.c's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <pthread.h>

#include "gate_fixture.h"

/* ---- bearer parsing ------------------------------------------------------------- */

static void test_bearer_parse(void **state)
{
	const char *t;
	size_t n;
	struct fa_err err;
	static char big[FA_MAX_TOKEN + 16];

	(void)state;
	assert_int_equal(fa_gate_bearer_parse("Bearer abc.def-_~+/==", &t, &n, NULL), FA_OK);
	assert_int_equal(n, strlen("abc.def-_~+/=="));
	assert_int_equal(fa_gate_bearer_parse("bEARER   tok  ", &t, &n, NULL), FA_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(t, "tok", 3);
	/* Two tokens, space- or comma-separated (two headers joined). */
	fa_err_clear(&err);
	assert_int_equal(fa_gate_bearer_parse("Bearer a b", &t, &n, &err), FA_EINVAL);
	assert_int_equal(fa_http_bearer_status(err.rc, err.oauth_error), 400);
	assert_string_equal(err.oauth_error, "invalid_request");
	assert_non_null(strstr(err.msg, "exactly one token"));
	fa_err_clear(&err);
	assert_int_equal(fa_gate_bearer_parse("Bearer a, Bearer b", &t, &n, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "exactly one token"));
	assert_null(t);
	/* Wrong scheme: not a bearer credential at all. */
	fa_err_clear(&err);
	assert_int_equal(fa_gate_bearer_parse("Basic YTpi", &t, &n, &err), FA_ENOTFOUND);
	assert_non_null(strstr(err.msg, "not a Bearer"));
	assert_int_equal(fa_gate_bearer_parse("IDToken abc", &t, &n, &err), FA_ENOTFOUND);
	assert_null(t);
	assert_int_equal(fa_gate_bearer_parse("Bearertok", &t, &n, NULL), FA_ENOTFOUND);
	assert_int_equal(fa_gate_bearer_parse("DPoP tok", &t, &n, NULL), FA_ENOTFOUND);
	assert_int_equal(fa_gate_bearer_parse(NULL, &t, &n, NULL), FA_ENOTFOUND);
	/* No token, bad characters. */
	fa_err_clear(&err);
	assert_int_equal(fa_gate_bearer_parse("Bearer", &t, &n, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "without a token"));
	assert_int_equal(fa_gate_bearer_parse("Bearer  ", &t, &n, NULL), FA_EINVAL);
	assert_int_equal(fa_gate_bearer_parse("Bearer a\"b", &t, &n, NULL), FA_EINVAL);
	assert_int_equal(fa_gate_bearer_parse("Bearer a=b", &t, &n, NULL), FA_EINVAL);
	assert_int_equal(fa_gate_bearer_parse("Bearer =abc", &t, &n, NULL), FA_EINVAL);
	/* token68 needs a character before its padding. */
	assert_int_equal(fa_gate_bearer_parse("Bearer ===", &t, &n, NULL), FA_EINVAL);
	assert_int_equal(fa_gate_bearer_parse("Bearer a==", &t, &n, NULL), FA_OK);
	assert_int_equal(n, 3);
	/* Oversize. */
	memcpy(big, "Bearer ", 7);
	memset(big + 7, 'a', FA_MAX_TOKEN + 1);
	big[7 + FA_MAX_TOKEN + 1] = '\0';
	fa_err_clear(&err);
	assert_int_equal(fa_gate_bearer_parse(big, &t, &n, &err), FA_ETOOBIG);
	assert_int_equal(fa_http_bearer_status(err.rc, err.oauth_error), 400);
	assert_non_null(strstr(err.msg, "longer than 8192"));
	big[7 + FA_MAX_TOKEN] = '\0';
	assert_int_equal(fa_gate_bearer_parse(big, &t, &n, NULL), FA_OK);
	assert_int_equal(n, FA_MAX_TOKEN);
}

/* ---- /me ------------------------------------------------------------------------ */

static void test_me_bearer_user(void **state)
{
	struct fx *f = *state;
	char *tok;
	struct fa_req *r;
	json_t *j, *ac;

	start(f, NULL, true);
	tok = mint(f, user_claims(600));
	r = get_me(f, "Authorization", tok);
	assert_int_equal(resp_status(r), 200);
	assert_string_equal(resp_header(r, "X-User-Subject"), "alice");
	assert_string_equal(resp_header(r, "Cache-Control"), "no-store");
	j = json_loads(resp_body(r), 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "subject")), "alice");
	assert_string_equal(json_string_value(json_object_get(j, "name")), "Alice Example");
	assert_string_equal(json_string_value(json_object_get(j, "preferred_username")), "alice");
	assert_string_equal(json_string_value(json_object_get(j, "email")), "alice@example.com");
	assert_string_equal(json_string_value(json_object_get(j, "given_name")), "");
	assert_string_equal(json_string_value(json_object_get(j, "family_name")), "");
	assert_string_equal(json_string_value(json_object_get(j, "picture")), "");
	ac = json_object_get(j, "additional_claims");
	assert_string_equal(json_string_value(json_object_get(ac, "jti")), "j-123");
	assert_string_equal(json_string_value(json_object_get(ac, "client_id")), "flytectl");
	assert_int_equal(json_object_size(j), 8);
	/* A bearer request never consults the session. */
	assert_int_equal(f->session_calls, 0);
	json_decref(j);
	harness_done(r);
	/* The token never reaches the log. */
	fflush(f->logfp);
	assert_true(f->logbuf == NULL || strstr(f->logbuf, tok) == NULL);
	free(tok);
}

static void test_me_client_credentials(void **state)
{
	struct fx *f = *state;
	int64_t now = fa_now();
	char *tok;
	struct fa_req *r;
	json_t *j;

	start(f, NULL, false);
	tok = mint(f, json_pack("{s:s, s:s, s:[s], s:I, s:I, s:s, s:[s], s:s}", "iss", ISSUER,
				"sub", "flytepropeller", "aud", ISSUER, "exp", (json_int_t)(now + 60),
				"iat", (json_int_t)now, "jti", "j2", "scp", "all", "client_id",
				"flytepropeller"));
	r = get_me(f, "flyte-authorization", tok);
	assert_int_equal(resp_status(r), 200);
	assert_string_equal(resp_header(r, "X-User-Subject"), "flytepropeller");
	j = json_loads(resp_body(r), 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "subject")), "flytepropeller");
	assert_string_equal(json_string_value(json_object_get(j, "name")), "");
	assert_true(json_is_object(json_object_get(j, "additional_claims")));
	json_decref(j);
	harness_done(r);
	free(tok);
}

static void test_no_credentials(void **state)
{
	struct fx *f = *state;
	struct fa_req *r;

	start(f, NULL, true);
	r = get_me(f, NULL, NULL);
	assert_int_equal(resp_status(r), 401);
	/* RFC 6750 §3.1: no error code when no credentials were sent. */
	assert_string_equal(resp_header(r, "WWW-Authenticate"), "Bearer");
	assert_int_equal(f->session_calls, 1);
	harness_done(r);
	/* Another scheme is no credential either. */
	{
		const char *h[2] = { "Authorization: Basic YWxpY2U6cHc=", NULL };

		r = harness_call(&f->h, "GET", "/me", h, NULL, NULL);
		assert_int_equal(resp_status(r), 401);
		assert_string_equal(resp_header(r, "WWW-Authenticate"), "Bearer");
		harness_done(r);
	}
}

static void test_headers(void **state)
{
	struct fx *f = *state;
	char *tok, h1[FA_MAX_TOKEN + 64], h2[FA_MAX_TOKEN + 64];
	const char *hs[3] = { h1, h2, NULL };
	struct fa_req *r;

	start(f, NULL, false);
	tok = mint(f, user_claims(600));
	/* Both headers carry the same token (a proxy copied it): fine. */
	snprintf(h1, sizeof(h1), "Authorization: Bearer %s", tok);
	snprintf(h2, sizeof(h2), "flyte-authorization: bearer %s", tok);
	r = harness_call(&f->h, "GET", "/me", hs, NULL, NULL);
	assert_int_equal(resp_status(r), 200);
	harness_done(r);
	/* Two different tokens: one checked, the other used? Refused. */
	snprintf(h2, sizeof(h2), "flyte-authorization: Bearer %sx", tok);
	r = harness_call(&f->h, "GET", "/me", hs, NULL, NULL);
	assert_int_equal(resp_status(r), 400);
	assert_non_null(strstr(resp_header(r, "WWW-Authenticate"), "invalid_request"));
	assert_non_null(strstr(resp_body(r), "different credentials"));
	harness_done(r);
	/* The same bytes in two schemes are two credentials. */
	snprintf(h2, sizeof(h2), "flyte-authorization: IDToken %s", tok);
	r = harness_call(&f->h, "GET", "/me", hs, NULL, NULL);
	assert_int_equal(resp_status(r), 400);
	harness_done(r);
	/* A proxy's Basic in authorization, our token in flyte-authorization. */
	snprintf(h1, sizeof(h1), "Authorization: Basic YWxpY2U6cHc=");
	snprintf(h2, sizeof(h2), "flyte-authorization: Bearer %s", tok);
	r = harness_call(&f->h, "GET", "/me", hs, NULL, NULL);
	assert_int_equal(resp_status(r), 200);
	harness_done(r);
	/* Two Authorization headers (joined by the layer): malformed. */
	snprintf(h1, sizeof(h1), "Authorization: Bearer %s", tok);
	snprintf(h2, sizeof(h2), "Authorization: Bearer %s", tok);
	r = harness_call(&f->h, "GET", "/me", hs, NULL, NULL);
	assert_int_equal(resp_status(r), 400);
	assert_non_null(strstr(resp_body(r), "exactly one token"));
	harness_done(r);
	free(tok);
}

static void test_custom_header(void **state)
{
	struct fx *f = *state;
	char *tok;
	struct fa_req *r;

	start(f, "auth: {httpAuthorizationHeader: x-flyte-auth, authorizedUris: [" AUD "]}\n",
	      false);
	tok = mint(f, user_claims(600));
	r = get_me(f, "X-Flyte-Auth", tok);
	assert_int_equal(resp_status(r), 200);
	harness_done(r);
	r = get_me(f, "flyte-authorization", tok);   /* not configured: ignored */
	assert_int_equal(resp_status(r), 401);
	harness_done(r);
	r = get_me(f, "authorization", tok);         /* always accepted */
	assert_int_equal(resp_status(r), 200);
	harness_done(r);
	free(tok);
}

/* ---- refusals ------------------------------------------------------------------- */

static void test_alg_none(void **state)
{
	struct fx *f = *state;
	json_t *c = user_claims(600);
	char *tok;

	start(f, NULL, false);
	tok = forge("{\"alg\":\"none\",\"typ\":\"at+jwt\"}", c, "");
	expect_invalid_token(f, tok, "none");
	free(tok);
	/* "None", "NONE": case games do not help. */
	tok = forge("{\"alg\":\"NONE\",\"typ\":\"at+jwt\"}", c, "");
	expect_invalid_token(f, tok, "\"error\":\"invalid_token\"");
	free(tok);
	json_decref(c);
}

/* The RS256/HS256 confusion: an HMAC "signed" with the public key. */
static void test_alg_hs256(void **state)
{
	struct fx *f = *state;
	json_t *c = user_claims(600), *pub = NULL;
	unsigned char mac[32];
	size_t maclen = 0;
	char header[256], *signing, *tok, *dot2, *pubtxt, *sig;

	start(f, NULL, false);
	assert_int_equal(fa_jwk_public_json(f->key, &pub, NULL), FA_OK);
	pubtxt = json_dumps(pub, JSON_COMPACT);
	snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
		 fa_jwk_kid(f->key));
	signing = forge(header, c, "");
	dot2 = strrchr(signing, '.');
	*dot2 = '\0';
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, pubtxt, strlen(pubtxt),
				  (unsigned char *)signing, strlen(signing), mac, sizeof(mac),
				  &maclen));
	sig = b64url(mac, maclen);
	tok = forge(header, c, sig);
	expect_invalid_token(f, tok, "HS256");
	free(sig);
	free(tok);
	free(signing);
	free(pubtxt);
	json_decref(pub);
	json_decref(c);
}

/* An ES256 header on our RSA key's kid: the key's pinned alg wins. */
static void test_alg_downgrade(void **state)
{
	struct fx *f = *state;
	json_t *c = user_claims(600);
	char header[256], *tok, *good, *sig;

	start(f, NULL, false);
	good = mint(f, json_incref(c));
	sig = strrchr(good, '.') + 1;
	snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
		 fa_jwk_kid(f->key));
	tok = forge(header, c, sig);
	expect_invalid_token(f, tok, "\"error\":\"invalid_token\"");
	free(tok);
	free(good);
	json_decref(c);
}

static void test_other_key(void **state)
{
	struct fx *f = *state;
	json_t *c = user_claims(600);
	char *tok;

	start(f, NULL, false);
	tok = sign_with(f->other, "at+jwt", c);
	expect_invalid_token(f, tok, "\"error\":\"invalid_token\"");
	free(tok);
	json_decref(c);
}

static void test_wrong_issuer(void **state)
{
	struct fx *f = *state;
	json_t *c = user_claims(600);

	start(f, NULL, false);
	json_object_set_new(c, "iss", json_string("https://evil.example.com"));
	{
		char *tok = mint(f, c);

		expect_invalid_token(f, tok, "iss");
		free(tok);
	}
}

static void test_wrong_audience(void **state)
{
	struct fx *f = *state;
	json_t *c = user_claims(600);
	char *tok;

	start(f, NULL, false);
	json_object_set_new(c, "aud", json_pack("[s]", "https://other.example"));
	tok = mint(f, c);
	expect_invalid_token(f, tok, "aud");
	free(tok);
	/* authorizedUris[1] and the issuer are accepted audiences too. */
	c = user_claims(600);
	json_object_set_new(c, "aud", json_string("http://flyteadmin:80"));
	tok = mint(f, c);
	{
		struct fa_req *r = get_me(f, "Authorization", tok);

		assert_int_equal(resp_status(r), 200);
		harness_done(r);
	}
	free(tok);
}

static void test_expired(void **state)
{
	struct fx *f = *state;
	char *tok;
	struct fa_req *r;

	start(f, NULL, false);
	tok = mint(f, user_claims(-31));
	expect_invalid_token(f, tok, "expired");
	free(tok);
	/* Within the 30 s leeway it still passes. */
	tok = mint(f, user_claims(-10));
	r = get_me(f, "Authorization", tok);
	assert_int_equal(resp_status(r), 200);
	harness_done(r);
	free(tok);
	/* No exp at all: refused (a token that never expires). */
	{
		json_t *c = user_claims(600);

		json_object_del(c, "exp");
		tok = mint(f, c);
		expect_invalid_token(f, tok, "exp");
		free(tok);
	}
}

static void test_not_yet_valid(void **state)
{
	struct fx *f = *state;
	json_t *c = user_claims(600);
	char *tok;

	start(f, NULL, false);
	json_object_set_new(c, "nbf", json_integer(fa_now() + 120));
	tok = mint(f, c);
	expect_invalid_token(f, tok, "nbf");
	free(tok);
}

/* An ID token (typ JWT) or an untyped JWT from the same key is not an
 * access token. */
static void test_typ_not_access_token(void **state)
{
	struct fx *f = *state;
	json_t *c = user_claims(600);
	char *tok;

	start(f, NULL, false);
	tok = sign_with(f->key, "JWT", c);
	expect_invalid_token(f, tok, "typ");
	free(tok);
	tok = sign_with(f->key, NULL, c);
	expect_invalid_token(f, tok, "typ");
	free(tok);
	json_decref(c);
}

static void test_tampered(void **state)
{
	struct fx *f = *state;
	json_t *c = user_claims(600);
	char *tok, *evil, *p1, *p2;

	start(f, NULL, false);
	tok = mint(f, json_incref(c));
	/* Swap in a payload naming another subject, keep the signature. */
	json_object_set_new(c, "sub", json_string("admin"));
	evil = sign_with(f->other, "at+jwt", c);        /* just for its payload */
	p1 = strchr(tok, '.');
	p2 = strchr(evil, '.');
	{
		char forged[FA_MAX_TOKEN];
		const char *sig = strrchr(tok, '.');
		size_t hl = (size_t)(p1 - tok) + 1;
		size_t pl = (size_t)(strrchr(evil, '.') - p2 - 1);

		snprintf(forged, sizeof(forged), "%.*s%.*s%s", (int)hl, tok, (int)pl, p2 + 1, sig);
		expect_invalid_token(f, forged, "\"error\":\"invalid_token\"");
	}
	/* One flipped signature character. */
	{
		size_t n = strlen(tok);

		tok[n - 5] = tok[n - 5] == 'A' ? 'B' : 'A';
		expect_invalid_token(f, tok, "\"error\":\"invalid_token\"");
	}
	expect_invalid_token(f, "not-a-jwt", "\"error\":\"invalid_token\"");
	free(tok);
	free(evil);
	json_decref(c);
}

static void test_malformed_claims(void **state)
{
	struct fx *f = *state;
	json_t *c;
	char *tok;

	start(f, NULL, false);
	c = user_claims(600);
	json_object_del(c, "sub");
	tok = mint(f, c);
	expect_invalid_token(f, tok, "no subject");
	free(tok);
	c = user_claims(600);
	json_object_set_new(c, "scp", json_integer(1));
	tok = mint(f, c);
	expect_invalid_token(f, tok, "scope claim is malformed");
	free(tok);
	c = user_claims(600);
	json_object_set_new(c, "scp", json_pack("[s,i]", "all", 2));
	tok = mint(f, c);
	expect_invalid_token(f, tok, "scope claim is malformed");
	free(tok);
	c = user_claims(600);
	json_object_set_new(c, "user_info", json_string("alice"));
	tok = mint(f, c);
	expect_invalid_token(f, tok, "user_info");
	free(tok);
	c = user_claims(600);
	json_object_set_new(c, "sub", json_integer(7));
	tok = mint(f, c);
	expect_invalid_token(f, tok, "claim sub");
	free(tok);
}

static void test_insufficient_scope(void **state)
{
	struct fx *f = *state;
	json_t *c = user_claims(600);
	char *tok;
	struct fa_req *r;

	start(f, NULL, false);
	json_object_set_new(c, "scp", json_pack("[s,s]", "offline", "access_token"));
	tok = mint(f, c);
	r = get_me(f, "Authorization", tok);
	assert_int_equal(resp_status(r), 403);
	assert_non_null(strstr(resp_header(r, "WWW-Authenticate"),
			       "Bearer error=\"insufficient_scope\""));
	assert_null(resp_header(r, "X-User-Subject"));
	harness_done(r);
	free(tok);
	/* A space-separated `scp` (Entra ID) works... */
	c = user_claims(600);
	json_object_set_new(c, "scp", json_string("offline all"));
	tok = mint(f, c);
	r = get_me(f, "Authorization", tok);
	assert_int_equal(resp_status(r), 200);
	harness_done(r);
	free(tok);
	/* ...and RFC 9068's space-separated `scope`. */
	c = user_claims(600);
	json_object_del(c, "scp");
	json_object_set_new(c, "scope", json_string("offline all"));
	tok = mint(f, c);
	r = get_me(f, "Authorization", tok);
	assert_int_equal(resp_status(r), 200);
	harness_done(r);
	free(tok);
	c = user_claims(600);
	json_object_del(c, "scp");
	tok = mint(f, c);
	r = get_me(f, "Authorization", tok);
	assert_int_equal(resp_status(r), 403);
	harness_done(r);
	free(tok);
}

/* ---- sessions ------------------------------------------------------------------ */

static void test_session_fallback(void **state)
{
	struct fx *f = *state;
	struct fa_req *r;
	json_t *j;

	start(f, NULL, true);
	f->session_rc = FA_OK;
	r = get_me(f, NULL, NULL);
	assert_int_equal(resp_status(r), 200);
	assert_string_equal(resp_header(r, "X-User-Subject"), "alice");
	j = json_loads(resp_body(r), 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "subject")), "alice");
	assert_string_equal(json_string_value(json_object_get(j, "name")), "Alice Example");
	assert_string_equal(json_string_value(
		json_object_get(json_object_get(j, "additional_claims"), "sub")), "alice");
	json_decref(j);
	harness_done(r);
	/* A bad token is not rescued by a session. */
	expect_invalid_token(f, "a.b.c", "\"error\":\"invalid_token\"");
	assert_int_equal(f->session_calls, 1);
	/* The session store failing is a 503, not an anonymous pass... */
	f->session_rc = FA_ESTORE;
	r = get_me(f, NULL, NULL);
	assert_int_equal(resp_status(r), 503);
	assert_non_null(strstr(resp_body(r), "temporarily_unavailable"));
	harness_done(r);
	/* ...and any other failure of it a 500. */
	f->session_rc = FA_ECRYPTO;
	r = get_me(f, NULL, NULL);
	assert_int_equal(resp_status(r), 500);
	harness_done(r);
}

/* ---- the verified-token cache ------------------------------------------------ */

static void test_token_cache(void **state)
{
	struct fx *f = *state;
	unsigned long hits, misses;
	struct fa_req *r1, *r2;
	char *tok;

	start(f, NULL, false);
	assert_non_null(f->gate->cache);
	tok = mint(f, user_claims(600));
	r1 = get_me(f, "Authorization", tok);
	r2 = get_me(f, "Authorization", tok);
	assert_int_equal(resp_status(r1), 200);
	assert_int_equal(resp_status(r2), 200);
	/* The remembered answer is the verified one. */
	assert_string_equal(resp_body(r1), resp_body(r2));
	fa_gate_cache_stats(f->gate->cache, &hits, &misses);
	assert_int_equal(hits, 1);
	assert_int_equal(misses, 1);
	harness_done(r1);
	harness_done(r2);
	/* A refused token is never remembered: still refused, still a miss. */
	expect_invalid_token(f, "x.y.z", "\"error\":\"invalid_token\"");
	expect_invalid_token(f, "x.y.z", "\"error\":\"invalid_token\"");
	fa_gate_cache_stats(f->gate->cache, &hits, &misses);
	assert_int_equal(hits, 1);
	assert_int_equal(misses, 3);
	free(tok);
}

static void test_cache_entries(void **state)
{
	struct fa_gate_cache *c = fa_gate_cache_new(16);
	struct fa_arena *a = fa_arena_new(64 * 1024);
	static const char *const scopes[] = { "all", "offline" };
	static const char hdrs[] = "X-User-Subject\0alice\0";
	struct fa_gate_caller in = { .p = {
		.subject = "alice", .client_id = NULL, .scopes = scopes, .n_scopes = 2,
		.audience = AUD, .token_id = "j1",
		.user_info = "{\"sub\":\"alice\"}", .claims = "{}", .expires_at = 1000,
		.how = FA_GATE_BEARER,
	}, .headers = hdrs, .headers_len = sizeof(hdrs) - 1 }, out;
	unsigned char k1[FA_SHA256_LEN], k2[FA_SHA256_LEN];
	static char big[FA_GATE_CACHE_MAX_ENTRY + 1];

	(void)state;
	assert_null(fa_gate_cache_new(0));
	assert_null(fa_gate_cache_new(FA_GATE_CACHE_MAX_SLOTS + 1));
	memset(k1, 1, sizeof(k1));
	memcpy(k2, k1, sizeof(k2));
	k2[31] ^= 1;                       /* same slot, other token */
	in.me_body = "{\"subject\":\"alice\"}";
	in.me_len = 19;
	fa_gate_cache_put(c, k1, 900, 5000, &in);
	assert_true(fa_gate_cache_get(c, k1, FA_GATE_BEARER, 999, a, &out));
	assert_string_equal(out.p.subject, "alice");
	assert_null(out.p.client_id);
	assert_int_equal(out.p.n_scopes, 2);
	assert_string_equal(out.p.scopes[1], "offline");
	assert_string_equal(out.p.audience, AUD);
	assert_string_equal(out.p.token_id, "j1");
	assert_string_equal(out.p.user_info, "{\"sub\":\"alice\"}");
	assert_int_equal(out.p.expires_at, 1000);
	assert_int_equal(out.p.how, FA_GATE_BEARER);
	assert_int_equal(out.headers_len, sizeof(hdrs) - 1);
	assert_memory_equal(out.headers, hdrs, sizeof(hdrs) - 1);
	/* The /me answer comes back with it. */
	assert_string_equal(out.me_body, "{\"subject\":\"alice\"}");
	assert_int_equal(out.me_len, 19);
	/* Verified as a Bearer token says nothing about the same bytes as an
	 * ID token. */
	assert_false(fa_gate_cache_get(c, k1, FA_GATE_IDTOKEN, 999, a, &out));
	/* At exp it is gone (no leeway), and a near-collision is a miss. */
	assert_false(fa_gate_cache_get(c, k1, FA_GATE_BEARER, 1000, a, &out));
	assert_null(out.p.subject);
	assert_null(out.me_body);
	assert_false(fa_gate_cache_get(c, k2, FA_GATE_BEARER, 900, a, &out));
	/* An earlier end (an external server's keys may change) is kept. */
	fa_gate_cache_put(c, k1, 900, 950, &in);
	assert_true(fa_gate_cache_get(c, k1, FA_GATE_BEARER, 949, a, &out));
	assert_int_equal(out.p.expires_at, 1000);
	assert_false(fa_gate_cache_get(c, k1, FA_GATE_BEARER, 950, a, &out));
	/* Already expired or too large: not remembered. */
	in.p.expires_at = 900;
	fa_gate_cache_put(c, k2, 900, 5000, &in);
	assert_false(fa_gate_cache_get(c, k2, FA_GATE_BEARER, 800, a, &out));
	memset(big, 'x', sizeof(big) - 1);
	in.p.expires_at = 2000;
	in.p.claims = big;
	fa_gate_cache_put(c, k2, 900, 5000, &in);
	assert_false(fa_gate_cache_get(c, k2, FA_GATE_BEARER, 900, a, &out));
	/* The answer counts against the entry's size too. */
	in.p.claims = "{}";
	in.me_body = big;
	in.me_len = sizeof(big) - 1;
	fa_gate_cache_put(c, k2, 900, 5000, &in);
	assert_false(fa_gate_cache_get(c, k2, FA_GATE_BEARER, 900, a, &out));
	/* The newer token replaces the older one in its slot. */
	in.me_body = NULL;
	in.me_len = 0;
	in.p.subject = "bob";
	in.headers = NULL;
	in.headers_len = 0;
	fa_gate_cache_put(c, k2, 900, 5000, &in);
	assert_true(fa_gate_cache_get(c, k2, FA_GATE_BEARER, 900, a, &out));
	assert_string_equal(out.p.subject, "bob");
	assert_null(out.headers);
	assert_null(out.me_body);
	assert_false(fa_gate_cache_get(c, k1, FA_GATE_BEARER, 900, a, &out));
	fa_arena_free(a);
	fa_gate_cache_free(c);
	fa_gate_cache_free(NULL);
}

struct hammer {
	struct fa_gate_cache *c;
	int id;
	int bad;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	struct fa_arena *a = fa_arena_new(1024 * 1024);
	static const char *const scopes[] = { "all" };
	char sub[16];
	struct fa_gate_caller in = { .p = { .scopes = scopes, .n_scopes = 1, .expires_at = 2000,
					    .claims = "{}", .how = FA_GATE_BEARER } }, out;
	unsigned char k[FA_SHA256_LEN];

	for (int i = 0; i < 2000; i++) {
		int t = (h->id + i) % 8;

		memset(k, t, sizeof(k));
		snprintf(sub, sizeof(sub), "user%d", t);
		in.p.subject = sub;
		in.me_body = sub;
		in.me_len = strlen(sub);
		if (i % 3 == 0)
			fa_gate_cache_put(h->c, k, 1000, 2000, &in);
		else if (fa_gate_cache_get(h->c, k, FA_GATE_BEARER, 1000, a, &out) &&
			 (strcmp(out.p.subject, sub) != 0 || strcmp(out.me_body, sub) != 0))
			h->bad++;      /* a hit must be this very token's principal */
		if (i % 100 == 99) {
			fa_arena_free(a);
			a = fa_arena_new(1024 * 1024);
		}
	}
	fa_arena_free(a);
	return NULL;
}

static void test_cache_threads(void **state)
{
	struct fa_gate_cache *c = fa_gate_cache_new(4);   /* many collisions */
	pthread_t th[8];
	struct hammer h[8];

	(void)state;
	for (int i = 0; i < 8; i++) {
		h[i] = (struct hammer){ .c = c, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, hammer_run, &h[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(h[i].bad, 0);
	}
	fa_gate_cache_free(c);
}

/* ---- construction ------------------------------------------------------------- */

static void test_gate_new(void **state)
{
	struct fx *f = *state;
	struct fa_gate_opts o = { 0 };
	struct fa_jwks *empty = NULL;
	struct fa_err err;
	struct fa_config *ext;

	f->cfg = load("auth: {authorizedUris: [" AUD ", " AUD "]}\n");
	o.cfg = f->cfg;
	o.verify_keys = f->keys;
	o.issuer = AUD;
	f->gate = fa_gate_new(&o, NULL);
	assert_non_null(f->gate);
	/* Audiences are unique: authorizedUris and the issuer collapse. */
	assert_int_equal(f->gate->n_audiences, 1);
	assert_string_equal(f->gate->header, "flyte-authorization");
	fa_gate_free(NULL);

	o.issuer = "";
	fa_err_clear(&err);
	assert_null(fa_gate_new(&o, &err));
	assert_int_equal(err.rc, FA_EINVAL);
	assert_non_null(strstr(err.msg, "public URL"));
	o.issuer = AUD;
	assert_int_equal(fa_jwks_new(&empty, NULL), FA_OK);
	o.verify_keys = empty;
	fa_err_clear(&err);
	assert_null(fa_gate_new(&o, &err));
	assert_int_equal(err.rc, FA_EINVAL);
	assert_non_null(strstr(err.msg, "verification keys"));
	fa_jwks_free(empty);
	o.verify_keys = f->keys;
	o.session_user = fake_session;
	fa_err_clear(&err);
	assert_null(fa_gate_new(&o, &err));
	assert_non_null(strstr(err.msg, "go together"));
	o.session_user = NULL;
	ext = load("auth: {appAuth: {authServerType: External, externalAuthServer: "
		   "{baseUrl: 'https://idp.example.com'}}}\n");
	o.cfg = ext;
	fa_err_clear(&err);
	assert_null(fa_gate_new(&o, &err));
	assert_int_equal(err.rc, FA_EINVAL);
	assert_non_null(strstr(err.msg, "external authorization server"));
	fa_config_free(ext);
	/* checkRevocation needs somewhere to ask. */
	ext = load("auth: {appAuth: {selfAuthServer: {checkRevocation: true}}}\n");
	o.cfg = ext;
	fa_err_clear(&err);
	assert_null(fa_gate_new(&o, &err));
	assert_int_equal(err.rc, FA_EINVAL);
	assert_non_null(strstr(err.msg, "checkRevocation"));
	fa_config_free(ext);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bearer_parse),
		cmocka_unit_test_setup_teardown(test_me_bearer_user, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_me_client_credentials, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_no_credentials, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_headers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_custom_header, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_alg_none, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_alg_hs256, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_alg_downgrade, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_other_key, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_issuer, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_audience, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_expired, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_not_yet_valid, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_typ_not_access_token, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tampered, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_malformed_claims, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_insufficient_scope, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_session_fallback, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_token_cache, fx_setup, fx_teardown),
		cmocka_unit_test(test_cache_entries),
		cmocka_unit_test(test_cache_threads),
		cmocka_unit_test_setup_teardown(test_gate_new, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
