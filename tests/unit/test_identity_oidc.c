/* test_identity_oidc.c -- the relying party's pure checks (oidc.c): the ID
 * token claims fa_jwt_verify leaves to the caller (sub, iat, nonce, azp
 * with several audiences) and the session user built from the ID token
 * and userinfo (subjects must agree, profile claims from userinfo first,
 * protocol claims left out, oversized claims dropped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "identity/identity_int.h"

#define NONCE "n-0S6_WzA2Mj"

static json_t *claims(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);

	if (!j)
		fail_msg("bad JSON in the test: %s", je.text);
	return j;
}

static enum fa_rc check(const char *text, const char *nonce, struct fa_err *e)
{
	json_t *c = claims(text);
	enum fa_rc rc;

	fa_err_clear(e);
	rc = fa_identity_oidc_idtoken_check(c, "flyte", nonce, e);
	json_decref(c);
	return rc;
}

static void test_idtoken_accepts(void **state)
{
	struct fa_err e;

	(void)state;
	assert_int_equal(check("{\"sub\":\"u1\",\"iat\":1,\"nonce\":\"" NONCE "\",\"aud\":\"flyte\"}",
			       NONCE, &e), FA_OK);
	/* Several audiences with azp = us. */
	assert_int_equal(check("{\"sub\":\"u1\",\"iat\":1,\"nonce\":\"" NONCE "\","
			       "\"aud\":[\"flyte\",\"api\"],\"azp\":\"flyte\"}", NONCE, &e), FA_OK);
}

static void test_idtoken_refusals(void **state)
{
	static const struct {
		const char *claims, *why;
	} bad[] = {
		{ "{\"iat\":1,\"nonce\":\"" NONCE "\"}", "no usable sub" },
		{ "{\"sub\":\"\",\"iat\":1,\"nonce\":\"" NONCE "\"}", "no usable sub" },
		{ "{\"sub\":7,\"iat\":1,\"nonce\":\"" NONCE "\"}", "no usable sub" },
		{ "{\"sub\":\"u1\",\"nonce\":\"" NONCE "\"}", "no iat" },
		{ "{\"sub\":\"u1\",\"iat\":\"1\",\"nonce\":\"" NONCE "\"}", "no iat" },
		{ "{\"sub\":\"u1\",\"iat\":1}", "nonce" },
		{ "{\"sub\":\"u1\",\"iat\":1,\"nonce\":\"" NONCE "x\"}", "nonce" },
		{ "{\"sub\":\"u1\",\"iat\":1,\"nonce\":\"n-0S6_WzA2MJ\"}", "nonce" },
		{ "{\"sub\":\"u1\",\"iat\":1,\"nonce\":\"" NONCE "\",\"aud\":[\"flyte\",\"api\"]}",
		  "azp" },
		{ "{\"sub\":\"u1\",\"iat\":1,\"nonce\":\"" NONCE "\",\"aud\":[\"flyte\",\"api\"],"
		  "\"azp\":\"api\"}", "azp" },
		{ "{\"sub\":\"u1\",\"iat\":1,\"nonce\":\"" NONCE "\",\"aud\":\"flyte\","
		  "\"azp\":\"other\"}", "azp" },
	};
	struct fa_err e;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		if (check(bad[i].claims, NONCE, &e) != FA_EDENIED)
			fail_msg("accepted %s", bad[i].claims);
		if (!strstr(e.msg, bad[i].why))
			fail_msg("%s: said %s", bad[i].claims, e.msg);
	}
}

static void test_user_from_idtoken_and_userinfo(void **state)
{
	json_t *idt = claims("{\"sub\":\"00u1\",\"iss\":\"https://idp\",\"aud\":\"flyte\","
			     "\"exp\":9,\"iat\":1,\"nonce\":\"x\",\"at_hash\":\"h\","
			     "\"name\":\"Old Name\",\"email\":\"a@example.com\",\"tid\":\"t1\"}");
	json_t *ui = claims("{\"sub\":\"00u1\",\"name\":\"Alice Example\",\"given_name\":\"Alice\","
			    "\"email_verified\":true,\"groups\":[\"admins\"],\"locale\":\"en\","
			    "\"picture\":7}");
	json_t *u = NULL;
	struct fa_err e;

	(void)state;
	fa_err_clear(&e);
	assert_int_equal(fa_identity_oidc_user(idt, ui, &u, &e), FA_OK);
	assert_string_equal(json_string_value(json_object_get(u, "sub")), "00u1");
	/* userinfo first, the ID token where userinfo is silent. */
	assert_string_equal(json_string_value(json_object_get(u, "name")), "Alice Example");
	assert_string_equal(json_string_value(json_object_get(u, "email")), "a@example.com");
	assert_string_equal(json_string_value(json_object_get(u, "given_name")), "Alice");
	assert_true(json_is_true(json_object_get(u, "email_verified")));
	assert_int_equal(json_array_size(json_object_get(u, "groups")), 1);
	/* Other claims kept; protocol claims and ill-typed profile ones not. */
	assert_string_equal(json_string_value(json_object_get(u, "tid")), "t1");
	assert_string_equal(json_string_value(json_object_get(u, "locale")), "en");
	for (const char *const *p = (const char *const[]){ "iss", "aud", "exp", "iat", "nonce",
							   "at_hash", "picture", NULL }; *p; p++)
		if (json_object_get(u, *p))
			fail_msg("kept %s", *p);
	json_decref(u);
	json_decref(ui);
	json_decref(idt);
}

static void test_user_subject_mismatch(void **state)
{
	json_t *idt = claims("{\"sub\":\"00u1\"}");
	json_t *ui = claims("{\"sub\":\"00u2\",\"name\":\"Mallory\"}");
	json_t *u = NULL;
	struct fa_err e;

	(void)state;
	fa_err_clear(&e);
	assert_int_equal(fa_identity_oidc_user(idt, ui, &u, &e), FA_EDENIED);
	assert_null(u);
	assert_non_null(strstr(e.msg, "another subject"));
	json_decref(ui);
	ui = claims("{\"name\":\"no sub\"}");
	assert_int_equal(fa_identity_oidc_user(idt, ui, &u, &e), FA_EDENIED);
	assert_null(u);
	/* Without userinfo, the ID token alone. */
	assert_int_equal(fa_identity_oidc_user(idt, NULL, &u, &e), FA_OK);
	json_decref(u);
	json_decref(ui);
	json_decref(idt);
}

static void test_user_claim_caps(void **state)
{
	char *big = malloc(FA_OIDC_MAX_CLAIM + 16);
	json_t *idt = claims("{\"sub\":\"s\"}");
	json_t *u = NULL;
	struct fa_err e;
	size_t kept = 0;
	char name[16];

	(void)state;
	assert_non_null(big);
	memset(big, 'x', FA_OIDC_MAX_CLAIM + 15);
	big[FA_OIDC_MAX_CLAIM + 15] = '\0';
	json_object_set_new(idt, "huge", json_string(big));
	/* Many mid-sized claims: only FA_OIDC_MAX_CLAIMS of them in all. */
	big[1000] = '\0';
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "c%02d", i);
		json_object_set_new(idt, name, json_string(big));
	}
	fa_err_clear(&e);
	assert_int_equal(fa_identity_oidc_user(idt, NULL, &u, &e), FA_OK);
	assert_null(json_object_get(u, "huge"));
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "c%02d", i);
		kept += json_object_get(u, name) != NULL;
	}
	assert_true(kept > 0 && kept < 20);
	assert_true(kept * 1000 <= FA_OIDC_MAX_CLAIMS);
	json_decref(u);
	json_decref(idt);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idtoken_accepts),
		cmocka_unit_test(test_idtoken_refusals),
		cmocka_unit_test(test_user_from_idtoken_and_userinfo),
		cmocka_unit_test(test_user_subject_mismatch),
		cmocka_unit_test(test_user_claim_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
