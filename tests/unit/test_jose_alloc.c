/* test_jose_alloc.c -- the jose module under allocation failure (see
 * failalloc.h): parsing a JWKS of every key type, importing a PEM key,
 * signing and verifying a JWT. Every failure point must end in a clean
 * error or success, and nothing may leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failalloc.h"
#include "jose/jose.h"

struct keys {
	struct fa_jwk *es, *rsa, *ed;
	struct fa_jwks *set;
	char *jwks;          /* the set's public JSON */
	char *pem;           /* the RSA key, PKCS#8 */
	size_t pem_len;
	char *token;         /* a JWT signed with es */
};

static struct keys K;

static enum fa_rc parse_jwks(void *arg, struct fa_err *err)
{
	struct fa_jwks *set = NULL;
	enum fa_rc rc;

	(void)arg;
	rc = fa_jwks_parse(K.jwks, strlen(K.jwks), &set, err);
	if (rc == FA_OK)
		assert_int_equal(fa_jwks_count(set), 3);
	fa_jwks_free(set);
	return rc;
}

static enum fa_rc import_pem(void *arg, struct fa_err *err)
{
	struct fa_jwk *k = NULL;
	enum fa_rc rc;

	(void)arg;
	rc = fa_jwk_from_pem(K.pem, K.pem_len, &k, err);
	if (rc == FA_OK)
		assert_string_equal(fa_jwk_kid(k), fa_jwk_kid(K.rsa));
	fa_jwk_free(k);
	return rc;
}

static enum fa_rc sign_jwt(void *arg, struct fa_err *err)
{
	json_t *claims = json_pack("{s:s, s:I}", "sub", "alice", "exp", (json_int_t)(fa_now() + 60));
	char *tok = NULL;
	enum fa_rc rc;

	(void)arg;
	if (!claims)
		return fa_err_set(err, FA_ENOMEM, "out of memory (claims)");
	rc = fa_jwt_sign(K.ed, "at+jwt", NULL, claims, &tok, err);
	json_decref(claims);
	free(tok);
	return rc;
}

static enum fa_rc verify_jwt(void *arg, struct fa_err *err)
{
	struct fa_jwt_rules rules;
	json_t *claims = NULL, *header = NULL;
	enum fa_rc rc;

	(void)arg;
	fa_jwt_rules_init(&rules);
	rules.typ = "at+jwt";
	rc = fa_jwt_verify(K.set, &rules, K.token, strlen(K.token), &claims, &header, err);
	if (rc == FA_OK)
		assert_string_equal(json_string_value(json_object_get(claims, "sub")), "alice");
	json_decref(claims);
	json_decref(header);
	return rc;
}

static int setup(void **state)
{
	struct fa_err err;
	json_t *claims;

	(void)state;
	assert_int_equal(fa_jwk_generate("ES256", &K.es, &err), FA_OK);
	assert_int_equal(fa_jwk_generate("RS256", &K.rsa, &err), FA_OK);
	assert_int_equal(fa_jwk_generate("EdDSA", &K.ed, &err), FA_OK);
	assert_int_equal(fa_jwks_new(&K.set, &err), FA_OK);
	assert_int_equal(fa_jwks_add(K.set, K.es, &err), FA_OK);
	assert_int_equal(fa_jwks_add(K.set, K.rsa, &err), FA_OK);
	assert_int_equal(fa_jwks_add(K.set, K.ed, &err), FA_OK);
	assert_int_equal(fa_jwks_format(K.set, &K.jwks, NULL, &err), FA_OK);
	assert_int_equal(fa_jwk_private_pem_dup(K.rsa, &K.pem, &K.pem_len, &err), FA_OK);
	claims = json_pack("{s:s, s:I}", "sub", "alice", "exp", (json_int_t)(fa_now() + 600));
	assert_int_equal(fa_jwt_sign(K.es, "at+jwt", NULL, claims, &K.token, &err), FA_OK);
	json_decref(claims);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fa_jwk_free(K.es);
	fa_jwk_free(K.rsa);
	fa_jwk_free(K.ed);
	fa_jwks_free(K.set);
	free(K.jwks);
	fa_free_secret(K.pem);
	free(K.token);
	return 0;
}

static void test_jwks_parse(void **state)
{
	(void)state;
	print_message("%zu failure points\n", failalloc_loop(parse_jwks, NULL));
}

static void test_pem_import(void **state)
{
	(void)state;
	print_message("%zu failure points\n", failalloc_loop(import_pem, NULL));
}

static void test_jwt_sign(void **state)
{
	(void)state;
	print_message("%zu failure points\n", failalloc_loop(sign_jwt, NULL));
}

static void test_jwt_verify(void **state)
{
	(void)state;
	print_message("%zu failure points\n", failalloc_loop(verify_jwt, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwks_parse),
		cmocka_unit_test(test_pem_import),
		cmocka_unit_test(test_jwt_sign),
		cmocka_unit_test(test_jwt_verify),
	};

	failalloc_init();
	return cmocka_run_group_tests(tests, setup, teardown);
}
