/* test_jose_jwt.c -- JWT claim checks on signed tokens: exp/nbf/iat with
 * leeway, a required exp, iss, aud as string or array, explicit typing
 * (RFC 8725 §3.11, RFC 9068 at+jwt) and the fail-closed rules struct. Every
 * rejection is asserted by code and message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jose/jose.h"

#define NOW 1700000000LL

struct fixture {
	struct fa_jwk *key;
	struct fa_jwks *set;
};

static const char *const auds[] = { "https://flyte.example.com", "flytepropeller" };

static void expect_err(enum fa_rc rc, const struct fa_err *e, enum fa_rc want, const char *sub)
{
	if (rc != want || !strstr(e->msg, sub))
		print_error("got rc %d (%s) msg \"%s\"; want rc %d with \"%s\"\n", rc, fa_rc_str(rc),
			    e->msg, want, sub);
	assert_int_equal(rc, want);
	assert_non_null(strstr(e->msg, sub));
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct fa_err e;

	if (!f || fa_jwk_generate("EdDSA", &f->key, &e) != FA_OK || fa_jwks_new(&f->set, &e) != FA_OK ||
	    fa_jwks_add(f->set, f->key, &e) != FA_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fa_jwks_free(f->set);
	fa_jwk_free(f->key);
	free(f);
	return 0;
}

static void rules_for(struct fa_jwt_rules *r)
{
	fa_jwt_rules_init(r);
	r->issuer = "https://flyte.example.com";
	r->audiences = auds;
	r->n_audiences = ARRAY_LEN(auds);
	r->typ = "at+jwt";
	r->now = NOW;
}

/* Signs claims (JSON text) with typ and checks them against r. */
static enum fa_rc check(struct fixture *f, const char *typ, const char *claims,
			const struct fa_jwt_rules *r, struct fa_err *e)
{
	json_error_t jerr;
	json_t *c = json_loads(claims, 0, &jerr), *out = NULL, *hdr = NULL;
	char *tok = NULL;
	enum fa_rc rc;

	assert_non_null(c);
	assert_int_equal(fa_jwt_sign(f->key, typ, NULL, c, &tok, e), FA_OK);
	fa_err_clear(e);
	rc = fa_jwt_verify(f->set, r, tok, strlen(tok), &out, &hdr, e);
	if (rc == FA_OK) {
		assert_true(json_equal(out, c));
		assert_string_equal(json_string_value(json_object_get(hdr, "kid")), fa_jwk_kid(f->key));
	} else {
		assert_null(out);
		assert_null(hdr);
	}
	json_decref(out);
	json_decref(hdr);
	json_decref(c);
	free(tok);
	return rc;
}

#define GOOD "\"iss\":\"https://flyte.example.com\",\"aud\":[\"flytepropeller\"],\"sub\":\"alice\""

static void test_valid_token(void **state)
{
	struct fixture *f = *state;
	struct fa_jwt_rules r;
	struct fa_err e;

	rules_for(&r);
	assert_int_equal(check(f, "at+jwt", "{" GOOD ",\"exp\":1700000600,\"iat\":1700000000,"
			       "\"nbf\":1700000000}", &r, &e), FA_OK);
	/* aud as a single string; a real-valued NumericDate. */
	assert_int_equal(check(f, "at+jwt", "{\"iss\":\"https://flyte.example.com\","
			       "\"aud\":\"https://flyte.example.com\",\"exp\":1700000600.5}", &r, &e),
			 FA_OK);
	/* Nothing checked but the signature and exp. */
	fa_jwt_rules_init(&r);
	assert_int_equal(check(f, NULL, "{\"exp\":99999999999}", &r, &e), FA_OK);
	/* claims header may be NULL. */
	{
		char *tok;
		json_t *c = json_pack("{s:I}", "exp", (json_int_t)99999999999LL), *out;

		assert_int_equal(fa_jwt_sign(f->key, NULL, NULL, c, &tok, &e), FA_OK);
		assert_int_equal(fa_jwt_verify(f->set, &r, tok, strlen(tok), &out, NULL, &e), FA_OK);
		json_decref(out);
		free(tok);
		json_decref(c);
	}
}

static void test_exp(void **state)
{
	struct fixture *f = *state;
	struct fa_jwt_rules r;
	struct fa_err e;

	rules_for(&r);
	/* Inside the leeway (30 s) still valid, at its edge expired. */
	assert_int_equal(check(f, "at+jwt", "{" GOOD ",\"exp\":1699999971}", &r, &e), FA_OK);
	expect_err(check(f, "at+jwt", "{" GOOD ",\"exp\":1699999970}", &r, &e), &e, FA_EEXPIRED,
		   "token expired 30 seconds ago");
	r.leeway = 0;
	expect_err(check(f, "at+jwt", "{" GOOD ",\"exp\":1700000000}", &r, &e), &e, FA_EEXPIRED,
		   "token expired 0 seconds ago");
	/* A token without exp would never expire. */
	expect_err(check(f, "at+jwt", "{" GOOD "}", &r, &e), &e, FA_EDENIED,
		   "token has no exp claim and would never expire");
	r.require_exp = false;
	assert_int_equal(check(f, "at+jwt", "{" GOOD "}", &r, &e), FA_OK);
	expect_err(check(f, "at+jwt", "{" GOOD ",\"exp\":\"1800000000\"}", &r, &e), &e, FA_EINVAL,
		   "claim exp is not a number");
	expect_err(check(f, "at+jwt", "{" GOOD ",\"exp\":true}", &r, &e), &e, FA_EINVAL,
		   "claim exp is not a number");
	expect_err(check(f, "at+jwt", "{" GOOD ",\"exp\":9223372036854775807}", &r, &e), &e, FA_EINVAL,
		   "claim exp is out of range");
	expect_err(check(f, "at+jwt", "{" GOOD ",\"exp\":1e300}", &r, &e), &e, FA_EINVAL,
		   "claim exp is out of range");
}

static void test_nbf_iat(void **state)
{
	struct fixture *f = *state;
	struct fa_jwt_rules r;
	struct fa_err e;

	rules_for(&r);
	assert_int_equal(check(f, "at+jwt", "{" GOOD ",\"exp\":1700000600,\"nbf\":1700000030}", &r, &e),
			 FA_OK);
	expect_err(check(f, "at+jwt", "{" GOOD ",\"exp\":1700000600,\"nbf\":1700000031}", &r, &e), &e,
		   FA_EDENIED, "token is not valid yet (nbf in 31 seconds)");
	assert_int_equal(check(f, "at+jwt", "{" GOOD ",\"exp\":1700000600,\"iat\":1700000030}", &r, &e),
			 FA_OK);
	expect_err(check(f, "at+jwt", "{" GOOD ",\"exp\":1700009999,\"iat\":1700009000}", &r, &e), &e,
		   FA_EDENIED, "token was issued in the future (iat in 9000 seconds)");
	expect_err(check(f, "at+jwt", "{" GOOD ",\"exp\":1700000600,\"nbf\":null}", &r, &e), &e,
		   FA_EINVAL, "claim nbf is not a number");
	expect_err(check(f, "at+jwt", "{" GOOD ",\"exp\":1700000600,\"iat\":[1]}", &r, &e), &e,
		   FA_EINVAL, "claim iat is not a number");
}

static void test_issuer(void **state)
{
	struct fixture *f = *state;
	struct fa_jwt_rules r;
	struct fa_err e;

	rules_for(&r);
	expect_err(check(f, "at+jwt", "{\"iss\":\"https://evil.example.com\",\"aud\":\"flytepropeller\","
			 "\"exp\":1700000600}", &r, &e), &e, FA_EDENIED,
		   "token iss is not https://flyte.example.com");
	/* Exact match: no prefix or trailing-slash games. */
	expect_err(check(f, "at+jwt", "{\"iss\":\"https://flyte.example.com/\",\"aud\":\"flytepropeller\","
			 "\"exp\":1700000600}", &r, &e), &e, FA_EDENIED, "token iss is not");
	expect_err(check(f, "at+jwt", "{\"aud\":\"flytepropeller\",\"exp\":1700000600}", &r, &e), &e,
		   FA_EDENIED, "token has no iss claim");
	expect_err(check(f, "at+jwt", "{\"iss\":1,\"aud\":\"flytepropeller\",\"exp\":1700000600}", &r, &e),
		   &e, FA_EINVAL, "claim iss is not a string");
}

static void test_audience(void **state)
{
	struct fixture *f = *state;
	struct fa_jwt_rules r;
	struct fa_err e;
	static const char *const none[] = { NULL };

	rules_for(&r);
	assert_int_equal(check(f, "at+jwt", "{\"iss\":\"https://flyte.example.com\","
			       "\"aud\":[\"other\",\"flytepropeller\"],\"exp\":1700000600}", &r, &e), FA_OK);
	expect_err(check(f, "at+jwt", "{\"iss\":\"https://flyte.example.com\","
			 "\"aud\":[\"other\",\"https://flyte.example.com.evil\"],\"exp\":1700000600}", &r, &e),
		   &e, FA_EDENIED, "token aud is not an accepted audience");
	expect_err(check(f, "at+jwt", "{\"iss\":\"https://flyte.example.com\",\"aud\":\"other\","
			 "\"exp\":1700000600}", &r, &e), &e, FA_EDENIED, "not an accepted audience");
	expect_err(check(f, "at+jwt", "{\"iss\":\"https://flyte.example.com\",\"aud\":[],"
			 "\"exp\":1700000600}", &r, &e), &e, FA_EDENIED, "not an accepted audience");
	expect_err(check(f, "at+jwt", "{\"iss\":\"https://flyte.example.com\",\"exp\":1700000600}", &r, &e),
		   &e, FA_EDENIED, "token has no aud claim");
	expect_err(check(f, "at+jwt", "{\"iss\":\"https://flyte.example.com\",\"aud\":[\"flytepropeller\",3],"
			 "\"exp\":1700000600}", &r, &e), &e, FA_EINVAL, "claim aud holds a non-string");
	expect_err(check(f, "at+jwt", "{\"iss\":\"https://flyte.example.com\",\"aud\":{},"
			 "\"exp\":1700000600}", &r, &e), &e, FA_EINVAL, "neither a string nor an array");
	/* A non-NULL list that matches nothing accepts nothing. */
	r.audiences = none;
	r.n_audiences = 1;
	expect_err(check(f, "at+jwt", "{" GOOD ",\"exp\":1700000600}", &r, &e), &e, FA_EDENIED,
		   "not an accepted audience");
}

static void test_typ_confusion(void **state)
{
	struct fixture *f = *state;
	struct fa_jwt_rules r;
	struct fa_err e;

	rules_for(&r);
	/* RFC 8725 §3.11: case-insensitive, "application/" optional. */
	assert_int_equal(check(f, "application/AT+JWT", "{" GOOD ",\"exp\":1700000600}", &r, &e), FA_OK);
	assert_int_equal(check(f, "At+Jwt", "{" GOOD ",\"exp\":1700000600}", &r, &e), FA_OK);
	r.typ = "application/at+jwt";
	assert_int_equal(check(f, "at+jwt", "{" GOOD ",\"exp\":1700000600}", &r, &e), FA_OK);
	r.typ = "at+jwt";
	/* An ID token (typ JWT) can never pass as an access token. */
	expect_err(check(f, "JWT", "{" GOOD ",\"exp\":1700000600}", &r, &e), &e, FA_EDENIED,
		   "token typ is not at+jwt");
	expect_err(check(f, "application/jwt", "{" GOOD ",\"exp\":1700000600}", &r, &e), &e, FA_EDENIED,
		   "token typ is not at+jwt");
	expect_err(check(f, NULL, "{" GOOD ",\"exp\":1700000600}", &r, &e), &e, FA_EDENIED,
		   "token has no typ header (expected at+jwt)");
}

static void test_rules_fail_closed(void **state)
{
	struct fixture *f = *state;
	struct fa_jwt_rules r;
	struct fa_err e;
	json_t *c = json_pack("{s:I}", "exp", (json_int_t)99999999999LL), *out, *hdr;
	char *tok;

	/* A zeroed rules struct (init forgotten) accepts nothing. */
	memset(&r, 0, sizeof(r));
	expect_err(check(f, NULL, "{\"exp\":99999999999}", &r, &e), &e, FA_EINVAL,
		   "non-empty algorithm allowlist");
	rules_for(&r);
	r.algs = FA_JWS_ALG_BIT(FA_JWS_RS256);
	expect_err(check(f, "at+jwt", "{" GOOD ",\"exp\":1700000600}", &r, &e), &e, FA_EDENIED,
		   "alg EdDSA is not allowed here");
	rules_for(&r);
	r.leeway = -1;
	expect_err(check(f, "at+jwt", "{" GOOD ",\"exp\":1700000600}", &r, &e), &e, FA_EINVAL,
		   "leeway must be 0 to");
	assert_int_equal(fa_jwt_sign(f->key, NULL, NULL, c, &tok, &e), FA_OK);
	expect_err(fa_jwt_verify(f->set, NULL, tok, strlen(tok), &out, &hdr, &e), &e, FA_EINVAL,
		   "needs rules");
	assert_null(out);
	assert_null(hdr);
	free(tok);
	json_decref(c);
	c = json_array();
	expect_err(fa_jwt_sign(f->key, NULL, NULL, c, &tok, &e), &e, FA_EINVAL,
		   "JWT claims are not a JSON object");
	json_decref(c);
	/* The default rules: now from the clock, all algs, 30 s leeway. */
	fa_jwt_rules_init(&r);
	assert_int_equal(r.algs, FA_JWS_ALGS_ALL);
	assert_int_equal(r.leeway, FA_JWT_DEFAULT_LEEWAY);
	assert_true(r.require_exp);
	assert_null(r.issuer);
	assert_null(r.audiences);
	expect_err(check(f, NULL, "{\"exp\":1700000600}", &r, &e), &e, FA_EEXPIRED, "token expired");
}

static void test_claims_check_direct(void **state)
{
	struct fa_jwt_rules r;
	struct fa_err e;
	json_t *h = json_pack("{s:s}", "typ", "at+jwt");
	json_t *c = json_pack("{s:s,s:s,s:I}", "iss", "https://flyte.example.com", "aud", "flytepropeller",
			      "exp", (json_int_t)(NOW + 10));

	(void)state;
	rules_for(&r);
	assert_int_equal(fa_jwt_claims_check(&r, h, c, &e), FA_OK);
	expect_err(fa_jwt_claims_check(&r, h, NULL, &e), &e, FA_EINVAL, "must be JSON objects");
	json_object_set_new(h, "typ", json_integer(1));
	expect_err(fa_jwt_claims_check(&r, h, c, &e), &e, FA_EINVAL, "typ header is not a string");
	json_decref(h);
	json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_valid_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nbf_iat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issuer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audience, setup, teardown),
		cmocka_unit_test_setup_teardown(test_typ_confusion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules_fail_closed, setup, teardown),
		cmocka_unit_test(test_claims_check_direct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
