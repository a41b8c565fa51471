/* test_http_alloc.c -- the HTTP layer's parsers of untrusted input under
 * allocation failure (see failalloc.h): a form body, a query string and a
 * Cookie header, each in a fresh request arena, and the Set-Cookie
 * formatter. Every failure point must end in a clean FA_ENOMEM or success,
 * and nothing may leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "failalloc.h"
#include "http/http_int.h"

static const char form[] =
	"grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&redirect_uri="
	"https%3A%2F%2Fclient.example.com%2Fcb&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFW"
	"FOEjXk&scope=all+offline&client_id=flytectl&state=%C3%A9t%C3%A9";

static const char cookies[] =
	"flyte_session=abc.def-ghi_jkl; flyte_csrf_state=xyz; theme=dark; bad name=1; "
	"flyte_session=again; a=; b=\"quoted\"";

/* One parser of name=value lists (form or Cookie header) run on one input,
 * and what a complete parse must find. */
struct kvs_case {
	enum fa_rc (*parse)(struct fa_arena *a, const char *s, size_t n, struct fa_kvs *out,
			    struct fa_err *err);
	const char *in;
	void (*check)(const struct fa_kvs *kvs);
};

static void check_form(const struct fa_kvs *kvs)
{
	assert_int_equal(kvs->n, 7);
	assert_string_equal(fa_http_kvs_get(kvs, "redirect_uri"), "https://client.example.com/cb");
	assert_string_equal(fa_http_kvs_get(kvs, "scope"), "all offline");
}

static void check_cookies(const struct fa_kvs *kvs)
{
	assert_string_equal(fa_http_kvs_get(kvs, "theme"), "dark");
	/* Sent twice: ambiguous, so absent. */
	assert_null(fa_http_kvs_get(kvs, "flyte_session"));
}

static enum fa_rc parse_kvs(void *arg, struct fa_err *err)
{
	const struct kvs_case *k = arg;
	struct fa_arena *a = fa_arena_new(FA_MAX_REQUEST_ARENA);
	struct fa_kvs kvs;
	enum fa_rc rc;

	if (!a)
		return fa_err_set(err, FA_ENOMEM, "out of memory (arena)");
	rc = k->parse(a, k->in, strlen(k->in), &kvs, err);
	if (rc == FA_OK)
		k->check(&kvs);
	fa_arena_free(a);
	return rc;
}

static enum fa_rc format_cookie(void *arg, struct fa_err *err)
{
	struct fa_arena *a = fa_arena_new(FA_MAX_REQUEST_ARENA);
	struct fa_cookie c = {
		.name = "flyte_session", .value = "sealed-value", .path = "/", .max_age = 3600,
		.http_only = true, .secure = true, .same_site = FA_SAME_SITE_LAX,
	};
	char *out = NULL;
	enum fa_rc rc;

	(void)arg;
	if (!a)
		return fa_err_set(err, FA_ENOMEM, "out of memory (arena)");
	rc = fa_http_set_cookie_format(a, &c, &out, err);
	if (rc == FA_OK)
		assert_non_null(strstr(out, "flyte_session=sealed-value; Path=/; Max-Age=3600"));
	fa_arena_free(a);
	return rc;
}

static void test_form(void **state)
{
	struct kvs_case k = { fa_http_params_parse, form, check_form };

	(void)state;
	print_message("%zu failure points\n", failalloc_loop(parse_kvs, &k));
}

static void test_cookies(void **state)
{
	struct kvs_case k = { fa_http_cookies_parse, cookies, check_cookies };

	(void)state;
	print_message("%zu failure points\n", failalloc_loop(parse_kvs, &k));
}

static void test_set_cookie(void **state)
{
	(void)state;
	print_message("%zu failure points\n", failalloc_loop(format_cookie, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form),
		cmocka_unit_test(test_cookies),
		cmocka_unit_test(test_set_cookie),
	};

	failalloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
