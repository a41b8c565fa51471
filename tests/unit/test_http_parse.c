/* test_http_parse.c -- the HTTP layer's pure parts without a socket: query
 * and form parsing, Cookie parsing, Set-Cookie formatting, response
 * building (header injection, error bodies, security headers), CORS
 * decisions and route-table validation. The server itself is exercised in
 * test_http.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_int.h"

static struct fa_arena *arena;

static int setup(void **state)
{
	(void)state;
	arena = fa_arena_new(FA_MAX_REQUEST_ARENA);
	return arena ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	fa_arena_free(arena);
	arena = NULL;
	return 0;
}

static enum fa_rc parse(const char *s, struct fa_kvs *kvs, struct fa_err *err)
{
	fa_err_clear(err);
	return fa_http_params_parse(arena, s, strlen(s), kvs, err);
}

/* Asserts that parsing s fails with rc and a message containing want. */
static void parse_fails(const char *s, enum fa_rc rc, const char *want)
{
	struct fa_kvs kvs;
	struct fa_err err;

	assert_int_equal(parse(s, &kvs, &err), rc);
	assert_string_equal(err.oauth_error, "invalid_request");
	if (!strstr(err.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
}

static void test_params_basic(void **state)
{
	struct fa_kvs kvs;
	struct fa_err err;

	(void)state;
	assert_int_equal(parse("a=1&b=two&c", &kvs, &err), FA_OK);
	assert_int_equal(kvs.n, 3);
	assert_string_equal(fa_http_kvs_get(&kvs, "a"), "1");
	assert_string_equal(fa_http_kvs_get(&kvs, "b"), "two");
	/* RFC 6749 §3.1: a parameter without a value is treated as omitted. */
	assert_null(fa_http_kvs_get(&kvs, "c"));
	assert_null(fa_http_kvs_get(&kvs, "d"));
	assert_null(fa_http_kvs_get(&kvs, "A"));   /* names are case-sensitive */
	assert_int_equal(parse("", &kvs, &err), FA_OK);
	assert_int_equal(kvs.n, 0);
	assert_int_equal(parse("&&a=1&&", &kvs, &err), FA_OK);
	assert_int_equal(kvs.n, 1);
	assert_int_equal(parse("a=x=y", &kvs, &err), FA_OK);
	assert_string_equal(fa_http_kvs_get(&kvs, "a"), "x=y");
}

static void test_params_decoding(void **state)
{
	struct fa_kvs kvs;
	struct fa_err err;

	(void)state;
	assert_int_equal(parse("redirect_uri=http%3A%2F%2Flocalhost%3A53593%2Fcallback"
			       "&scope=all+offline&x%20y=%E2%82%AC%f0%9f%98%80", &kvs, &err), FA_OK);
	assert_string_equal(fa_http_kvs_get(&kvs, "redirect_uri"),
			    "http://localhost:53593/callback");
	assert_string_equal(fa_http_kvs_get(&kvs, "scope"), "all offline");
	assert_string_equal(fa_http_kvs_get(&kvs, "x y"), "\xE2\x82\xAC\xF0\x9F\x98\x80");
	assert_int_equal(parse("a=%2B%25", &kvs, &err), FA_OK);
	assert_string_equal(fa_http_kvs_get(&kvs, "a"), "+%");
}

static void test_params_bad_escape(void **state)
{
	(void)state;
	parse_fails("a=%zz", FA_EINVAL, "bad percent-encoding in parameter a");
	parse_fails("a=%4", FA_EINVAL, "bad percent-encoding in parameter a");
	parse_fails("a=%", FA_EINVAL, "bad percent-encoding in parameter a");
	parse_fails("a%g1=1", FA_EINVAL, "bad percent-encoding in parameter name");
}

static void test_params_repeated(void **state)
{
	(void)state;
	parse_fails("code=a&redirect_uri=x&code=b", FA_EINVAL, "parameter code repeated");
	/* Same name after decoding is the same parameter. */
	parse_fails("code=a&c%6Fde=b", FA_EINVAL, "parameter code repeated");
	/* Even an empty repeat is refused: two readers could pick differently. */
	parse_fails("state=&state=x", FA_EINVAL, "parameter state repeated");
}

static void test_params_nul_and_utf8(void **state)
{
	(void)state;
	parse_fails("redirect_uri=https://a.example%00.evil", FA_EINVAL,
		    "NUL byte in parameter redirect_uri");
	parse_fails("a=%C3%28", FA_EINVAL, "invalid UTF-8 in parameter a");
	parse_fails("a=%C0%AF", FA_EINVAL, "invalid UTF-8");          /* overlong '/' */
	parse_fails("a=%ED%A0%80", FA_EINVAL, "invalid UTF-8");       /* surrogate */
	parse_fails("a=%F4%90%80%80", FA_EINVAL, "invalid UTF-8");    /* > U+10FFFF */
	parse_fails("a=x\ny", FA_EINVAL, "control character in parameter a");
	parse_fails("=x", FA_EINVAL, "empty parameter name");
}

static void test_params_limits(void **state)
{
	char buf[FA_MAX_FIELDS * 8 + 64];
	char *big;
	size_t o = 0;

	(void)state;
	for (int i = 0; i <= FA_MAX_FIELDS; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%sp%d=1", i ? "&" : "", i);
	parse_fails(buf, FA_ETOOBIG, "too many parameters");
	/* Exactly the cap is fine. */
	{
		struct fa_kvs kvs;
		struct fa_err err;

		*strrchr(buf, '&') = '\0';
		assert_int_equal(parse(buf, &kvs, &err), FA_OK);
		assert_int_equal(kvs.n, FA_MAX_FIELDS);
	}
	big = fa_arena_alloc(arena, FA_MAX_FIELD_VALUE + 16);
	assert_non_null(big);
	memcpy(big, "a=", 2);
	memset(big + 2, 'x', FA_MAX_FIELD_VALUE + 1);
	parse_fails(big, FA_ETOOBIG, "parameter a too long");
	big[1] = 'x';                    /* now one long name without '=' */
	parse_fails(big, FA_ETOOBIG, "parameter name too long");
	big[1] = '=';
	big[2 + FA_MAX_FIELD_VALUE] = '\0';
	{
		struct fa_kvs kvs;
		struct fa_err err;

		assert_int_equal(parse(big, &kvs, &err), FA_OK);
		assert_int_equal(strlen(fa_http_kvs_get(&kvs, "a")), FA_MAX_FIELD_VALUE);
	}
}

static void test_form_type(void **state)
{
	(void)state;
	assert_true(fa_http_is_form_type("application/x-www-form-urlencoded"));
	assert_true(fa_http_is_form_type("Application/X-WWW-Form-Urlencoded; charset=UTF-8"));
	assert_true(fa_http_is_form_type("application/x-www-form-urlencoded ;charset=utf-8"));
	assert_false(fa_http_is_form_type("application/x-www-form-urlencodedx"));
	assert_false(fa_http_is_form_type("application/json"));
	assert_false(fa_http_is_form_type("multipart/form-data; boundary=x"));
	assert_false(fa_http_is_form_type(NULL));
}

static void cookies(const char *s, struct fa_kvs *kvs)
{
	assert_int_equal(fa_http_cookies_parse(arena, s, strlen(s), kvs, NULL), FA_OK);
}

static void test_cookie_parse(void **state)
{
	struct fa_kvs kvs;

	(void)state;
	cookies("a=1; b=\"two\";c = three ;  d=", &kvs);
	assert_string_equal(fa_http_kvs_get(&kvs, "a"), "1");
	assert_string_equal(fa_http_kvs_get(&kvs, "b"), "two");
	assert_string_equal(fa_http_kvs_get(&kvs, "c"), "three");
	assert_null(fa_http_kvs_get(&kvs, "d"));
	/* Malformed pairs are skipped, the rest still counts. */
	cookies("junk; bad name=1; e=has space; f=ok; g=\"unterminated; h=a\\b; i=x,y; j=2", &kvs);
	assert_null(fa_http_kvs_get(&kvs, "bad name"));
	assert_null(fa_http_kvs_get(&kvs, "e"));
	assert_null(fa_http_kvs_get(&kvs, "g"));
	assert_null(fa_http_kvs_get(&kvs, "h"));
	assert_null(fa_http_kvs_get(&kvs, "i"));
	assert_string_equal(fa_http_kvs_get(&kvs, "f"), "ok");
	assert_string_equal(fa_http_kvs_get(&kvs, "j"), "2");
	cookies("", &kvs);
	assert_int_equal(kvs.n, 0);
}

static void test_cookie_oversized_ignored(void **state)
{
	char *s = fa_arena_alloc(arena, FA_MAX_COOKIE + 32);
	struct fa_kvs kvs;

	(void)state;
	memcpy(s, "big=", 4);
	memset(s + 4, 'v', FA_MAX_COOKIE + 1);
	memcpy(s + 4 + FA_MAX_COOKIE + 1, "; k=1", 6);
	cookies(s, &kvs);
	assert_null(fa_http_kvs_get(&kvs, "big"));
	assert_string_equal(fa_http_kvs_get(&kvs, "k"), "1");
}

static void test_cookie_tossing(void **state)
{
	struct fa_kvs kvs;

	(void)state;
	/* A sibling domain planted a second "session": neither is trusted. */
	cookies("session=attacker; other=1; session=victim", &kvs);
	assert_null(fa_http_kvs_get(&kvs, "session"));
	assert_string_equal(fa_http_kvs_get(&kvs, "other"), "1");
}

static void test_cookie_count_cap(void **state)
{
	char buf[FA_HTTP_MAX_COOKIES * 12 + 32];
	struct fa_kvs kvs;
	size_t o = 0;

	(void)state;
	for (int i = 0; i < FA_HTTP_MAX_COOKIES + 5; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "c%d=%d; ", i, i);
	cookies(buf, &kvs);
	assert_int_equal(kvs.n, FA_HTTP_MAX_COOKIES);
	assert_string_equal(fa_http_kvs_get(&kvs, "c0"), "0");
	assert_null(fa_http_kvs_get(&kvs, "c33"));
}

static char *set_cookie(const struct fa_cookie *c, enum fa_rc want, const char *msg)
{
	struct fa_err err;
	char *out = NULL;

	fa_err_clear(&err);
	assert_int_equal(fa_http_set_cookie_format(arena, c, &out, &err), want);
	if (msg && !strstr(err.msg, msg))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, msg);
	return out;
}

static void test_set_cookie_format(void **state)
{
	struct fa_cookie c = { .name = "flyte_at", .value = "abc.DEF-_", .path = "/",
			       .domain = "flyte.example.com", .max_age = 3600, .http_only = true,
			       .secure = true, .same_site = FA_SAME_SITE_LAX };

	(void)state;
	assert_string_equal(set_cookie(&c, FA_OK, NULL),
			    "flyte_at=abc.DEF-_; Path=/; Domain=flyte.example.com; Max-Age=3600; "
			    "HttpOnly; Secure; SameSite=Lax");
	c = (struct fa_cookie){ .name = "s", .value = "", .max_age = 0,
				.same_site = FA_SAME_SITE_STRICT };
	assert_string_equal(set_cookie(&c, FA_OK, NULL),
			    "s=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Strict");
	c = (struct fa_cookie){ .name = "s", .value = "v", .max_age = -1 };
	assert_string_equal(set_cookie(&c, FA_OK, NULL), "s=v");
	c = (struct fa_cookie){ .name = "__Host-s", .value = "v", .path = "/", .max_age = -1,
				.secure = true, .same_site = FA_SAME_SITE_NONE };
	assert_string_equal(set_cookie(&c, FA_OK, NULL), "__Host-s=v; Path=/; Secure; SameSite=None");
}

static void test_set_cookie_refused(void **state)
{
	struct fa_cookie c = { .name = "s", .value = "v", .max_age = -1 };

	(void)state;
	c.name = "bad name";
	set_cookie(&c, FA_EINVAL, "cookie name is not an RFC 6265 token");
	c.name = "s";
	c.value = "v; Domain=evil.example";
	set_cookie(&c, FA_EINVAL, "outside cookie-octet");
	c.value = "v";
	c.same_site = FA_SAME_SITE_NONE;
	set_cookie(&c, FA_EINVAL, "SameSite=None requires Secure");
	c.same_site = FA_SAME_SITE_LAX;
	c.max_age = -2;
	set_cookie(&c, FA_EINVAL, "max_age out of range");
	c.max_age = -1;
	c.domain = "evil.example; Path=/";
	set_cookie(&c, FA_EINVAL, "bad Domain");
	c.domain = NULL;
	c.path = "nopath";
	set_cookie(&c, FA_EINVAL, "bad Path");
	c.name = "__Host-s";
	c.path = "/";
	set_cookie(&c, FA_EINVAL, "__Host- needs Secure");
	c.name = "__Secure-s";
	set_cookie(&c, FA_EINVAL, "__Secure- needs Secure");
	c.name = NULL;
	set_cookie(&c, FA_EINVAL, "cookie needs a name and a value");
	c.name = "s";
	c.path = NULL;
	c.same_site = (enum fa_same_site)7;
	set_cookie(&c, FA_EINVAL, "bad same_site");
	c.same_site = FA_SAME_SITE_DEFAULT;
	{
		char *v = fa_arena_alloc(arena, FA_MAX_COOKIE + 2);
		char *d = fa_arena_alloc(arena, 300);

		memset(v, 'v', FA_MAX_COOKIE + 1);
		c.value = v;
		set_cookie(&c, FA_ETOOBIG, "value over 4096 bytes");
		c.value = "v";
		memset(d, 'd', 299);
		c.domain = d;
		set_cookie(&c, FA_EINVAL, "bad Domain");
	}
}

static void test_cookie_attribute_injection(void **state)
{
	struct fa_cookie c = { .name = "s", .value = "v", .max_age = -1,
			       .path = "/; Domain=evil.example" };

	(void)state;
	set_cookie(&c, FA_EINVAL, "bad Path");
	c.path = "/\r\nX-Injected: 1";
	set_cookie(&c, FA_EINVAL, "bad Path");
}

static void test_header_injection(void **state)
{
	struct fa_resp resp;
	struct fa_err err;

	(void)state;
	fa_resp_init(&resp, arena);
	fa_err_clear(&err);
	assert_int_equal(fa_resp_header(&resp, "X-Next", "a\r\nSet-Cookie: s=evil", &err),
			 FA_EINVAL);
	assert_non_null(strstr(err.msg, "header injection"));
	assert_int_equal(fa_resp_header(&resp, "X-Next", "a\nb", &err), FA_EINVAL);
	assert_int_equal(fa_resp_header(&resp, "X-Bad\r\nName", "v", &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "not a token"));
	assert_int_equal(fa_resp_redirect(&resp, 302, "https://a/\r\nX: 1", &err), FA_EINVAL);
	assert_int_equal(resp.n_headers, 0);    /* nothing was changed */
	assert_int_equal(resp.status, 0);
	assert_int_equal(fa_resp_header(&resp, "Set-Cookie", "s=1", &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "Set-Cookie is set by the layer"));
	assert_int_equal(fa_resp_header(&resp, "content-length", "1", &err), FA_EINVAL);
}

static void test_resp_body_refused(void **state)
{
	struct fa_resp resp;
	struct fa_err err;
	struct fa_cookie c = { .name = "c", .value = "v", .max_age = -1 };

	(void)state;
	fa_resp_init(&resp, arena);
	assert_int_equal(fa_resp_body(&resp, 200, "text/plain\r\nX: 1", "x", 1, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "bad Content-Type"));
	assert_int_equal(fa_resp_body(&resp, 200, "text/plain", NULL, 1, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "body is NULL"));
	assert_int_equal(fa_resp_body(&resp, 200, "text/plain", "x", FA_MAX_RESPONSE + 1, &err),
			 FA_ETOOBIG);
	assert_non_null(strstr(err.msg, "response body over"));
	assert_int_equal(fa_resp_status(&resp, 600, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "status 600 out of range"));
	assert_int_equal(resp.status, 0);
	for (int i = 0; i < FA_HTTP_MAX_COOKIES; i++)
		assert_int_equal(fa_resp_cookie(&resp, &c, &err), FA_OK);
	assert_int_equal(fa_resp_cookie(&resp, &c, &err), FA_ETOOBIG);
	assert_non_null(strstr(err.msg, "cookies in one response"));
}

static void test_resp_headers_replace(void **state)
{
	struct fa_resp resp;

	(void)state;
	fa_resp_init(&resp, arena);
	assert_int_equal(fa_resp_header(&resp, "X-A", "1", NULL), FA_OK);
	assert_int_equal(fa_resp_header(&resp, "x-a", "2", NULL), FA_OK);
	assert_int_equal(resp.n_headers, 1);
	assert_string_equal(fa_resp_header_get(&resp, "X-A"), "2");
	for (int i = 1; i < FA_HTTP_MAX_RESP_HEADERS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "X-%d", i);
		assert_int_equal(fa_resp_header(&resp, name, "v", NULL), FA_OK);
	}
	assert_int_equal(fa_resp_header(&resp, "X-Over", "v", NULL), FA_ETOOBIG);
	/* The layer's own headers still fit. */
	fa_resp_oauth_error(&resp, 400, "invalid_request", "x");
	fa_resp_finish(&resp, FA_R_NO_STORE);
	assert_false(resp.broken);
	assert_string_equal(fa_resp_header_get(&resp, "Cache-Control"), "no-store");
}

static void test_resp_json(void **state)
{
	struct fa_resp resp;
	struct fa_err err;

	(void)state;
	fa_resp_init(&resp, arena);
	assert_int_equal(fa_resp_json(&resp, 200, json_pack("{s:s, s:i}", "a", "b", "n", 1), &err),
			 FA_OK);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "application/json");
	assert_string_equal(resp.body, "{\"a\":\"b\",\"n\":1}");
	assert_int_equal(fa_resp_json(&resp, 200, NULL, &err), FA_EINVAL);
	assert_int_equal(fa_resp_json(&resp, 99, json_object(), &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "status 99"));
	/* Larger than the first guess: serialised again, whole. */
	{
		static char big[6001];
		size_t n;

		memset(big, 'v', sizeof(big) - 1);
		assert_int_equal(fa_resp_json(&resp, 201, json_pack("{s:s}", "k", big), &err),
				 FA_OK);
		n = strlen(resp.body);
		assert_int_equal(resp.body_len, n);
		assert_int_equal(n, 6000 + 8);
		assert_true(strncmp(resp.body, "{\"k\":\"vvv", 9) == 0);
		assert_string_equal(resp.body + n - 3, "v\"}");
		big[sizeof(big) - 1] = '\0';
	}
	{
		char *huge = malloc(FA_MAX_RESPONSE + 1);

		assert_non_null(huge);
		memset(huge, 'h', FA_MAX_RESPONSE);
		huge[FA_MAX_RESPONSE] = '\0';
		assert_int_equal(fa_resp_json(&resp, 200, json_pack("{s:s}", "k", huge), &err),
				 FA_ETOOBIG);
		free(huge);
	}
}

static void test_resp_oauth_error(void **state)
{
	struct fa_resp resp;

	(void)state;
	fa_resp_init(&resp, arena);
	fa_resp_oauth_error(&resp, 400, "invalid_grant", "code \"x\" is\\ spent\n");
	assert_int_equal(resp.status, 400);
	assert_string_equal(resp.body, "{\"error\":\"invalid_grant\","
			    "\"error_description\":\"code 'x' is? spent?\"}");
	fa_resp_oauth_error(&resp, 500, "server_error", NULL);
	assert_string_equal(resp.body, "{\"error\":\"server_error\"}");
}

static void test_resp_bearer_error(void **state)
{
	struct fa_resp resp;

	(void)state;
	fa_resp_init(&resp, arena);
	fa_resp_bearer_error(&resp, 401, "invalid_token", "token \"expired\"");
	assert_int_equal(resp.status, 401);
	assert_string_equal(fa_resp_header_get(&resp, "WWW-Authenticate"),
			    "Bearer error=\"invalid_token\", error_description=\"token 'expired'\"");
	fa_resp_bearer_error(&resp, 401, NULL, "authentication required");
	assert_string_equal(fa_resp_header_get(&resp, "WWW-Authenticate"), "Bearer");
	assert_string_equal(resp.body, "{\"error\":\"unauthorized\","
			    "\"error_description\":\"authentication required\"}");
	/* RFC 6750 §3: insufficient_scope names the scope that is needed. */
	fa_resp_bearer_challenge(&resp, 403, "insufficient_scope", "needs all", "all");
	assert_int_equal(resp.status, 403);
	assert_string_equal(fa_resp_header_get(&resp, "WWW-Authenticate"),
			    "Bearer error=\"insufficient_scope\", error_description=\"needs all\", "
			    "scope=\"all\"");
	fa_resp_bearer_challenge(&resp, 403, "insufficient_scope", NULL, "all");
	assert_string_equal(fa_resp_header_get(&resp, "WWW-Authenticate"),
			    "Bearer error=\"insufficient_scope\", scope=\"all\"");
}

static void test_resp_finish_security_headers(void **state)
{
	struct fa_resp resp;

	(void)state;
	fa_resp_init(&resp, arena);
	assert_int_equal(fa_resp_body(&resp, 200, "text/html; charset=utf-8", "<p>x</p>", 8, NULL),
			 FA_OK);
	fa_resp_finish(&resp, 0);
	assert_string_equal(fa_resp_header_get(&resp, "X-Content-Type-Options"), "nosniff");
	assert_string_equal(fa_resp_header_get(&resp, "Referrer-Policy"), "no-referrer");
	assert_string_equal(fa_resp_header_get(&resp, "X-Frame-Options"), "DENY");
	assert_non_null(strstr(fa_resp_header_get(&resp, "Content-Security-Policy"),
			       "default-src 'none'"));
	assert_null(fa_resp_header_get(&resp, "Cache-Control"));
	/* A handler's own policy replaces the default. */
	fa_resp_init(&resp, arena);
	assert_int_equal(fa_resp_header(&resp, "Content-Security-Policy", "default-src 'self'",
					NULL), FA_OK);
	assert_int_equal(fa_resp_body(&resp, 200, "text/html", "x", 1, NULL), FA_OK);
	fa_resp_finish(&resp, FA_R_NO_STORE);
	assert_string_equal(fa_resp_header_get(&resp, "Content-Security-Policy"),
			    "default-src 'self'");
	assert_string_equal(fa_resp_header_get(&resp, "Pragma"), "no-cache");
	/* JSON gets no frame/CSP headers. */
	fa_resp_init(&resp, arena);
	fa_resp_oauth_error(&resp, 400, "invalid_request", NULL);
	fa_resp_finish(&resp, 0);
	assert_null(fa_resp_header_get(&resp, "X-Frame-Options"));
}

static void test_resp_no_status_is_500(void **state)
{
	struct fa_resp resp;

	(void)state;
	fa_resp_init(&resp, arena);
	assert_int_equal(fa_resp_header(&resp, "X-Half", "built", NULL), FA_OK);
	fa_resp_finish(&resp, 0);
	assert_int_equal(resp.status, 500);
	assert_string_equal(resp.body, "{\"error\":\"server_error\"}");
	assert_null(fa_resp_header_get(&resp, "X-Half"));
}

static void test_resp_redirect(void **state)
{
	struct fa_resp resp;
	struct fa_err err;

	(void)state;
	fa_resp_init(&resp, arena);
	assert_int_equal(fa_resp_redirect(&resp, 301, "/x", &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "302 or 303"));
	assert_int_equal(fa_resp_redirect(&resp, 303, "/console?x=1", &err), FA_OK);
	assert_int_equal(resp.status, 303);
	assert_string_equal(fa_resp_header_get(&resp, "Location"), "/console?x=1");
}

static void test_cors_config(void **state)
{
	const char *bad_origin[] = { "https://a.example", "bad origin" };
	const char *bad_header[] = { "X-Ok", "Bad Header" };
	struct fa_http_cors in = { .allow_cors = true, .allowed_origins = bad_origin,
				   .n_allowed_origins = 2 };
	struct fa_http_cors_cfg cfg;
	struct fa_err err;

	(void)state;
	assert_int_equal(fa_http_cors_init(&cfg, &in, &err), FA_ECONFIG);
	assert_non_null(strstr(err.msg, "allowedOrigins[1]"));
	in.n_allowed_origins = 1;
	in.allowed_headers = bad_header;
	in.n_allowed_headers = 2;
	assert_int_equal(fa_http_cors_init(&cfg, &in, &err), FA_ECONFIG);
	assert_non_null(strstr(err.msg, "allowedHeaders[1]"));
	in.n_allowed_headers = 65;
	assert_int_equal(fa_http_cors_init(&cfg, &in, &err), FA_ECONFIG);
	assert_non_null(strstr(err.msg, "more than 64"));
	in.n_allowed_headers = 1;
	assert_int_equal(fa_http_cors_init(&cfg, &in, &err), FA_OK);
	assert_string_equal(cfg.allow_headers_value, "Content-Type, X-Ok");
	fa_http_cors_cleanup(&cfg);
}

static void test_cors_decisions(void **state)
{
	const char *origins[] = { "https://console.example/", "*" };
	const char *headers[] = { "flyte-authorization" };
	struct fa_http_cors in = { .allow_cors = true, .allowed_origins = origins,
				   .n_allowed_origins = 1, .allowed_headers = headers,
				   .n_allowed_headers = 1 };
	struct fa_http_cors_cfg cfg;
	struct fa_resp resp;

	(void)state;
	assert_int_equal(fa_http_cors_init(&cfg, &in, NULL), FA_OK);
	fa_resp_init(&resp, arena);
	fa_http_cors_apply(&cfg, "https://console.example", &resp);
	assert_string_equal(fa_resp_header_get(&resp, "Access-Control-Allow-Origin"),
			    "https://console.example");
	assert_string_equal(fa_resp_header_get(&resp, "Access-Control-Allow-Credentials"), "true");
	assert_string_equal(fa_resp_header_get(&resp, "Vary"), "Origin");
	/* Suffix tricks are not the origin. */
	fa_resp_init(&resp, arena);
	fa_http_cors_apply(&cfg, "https://console.example.evil", &resp);
	assert_null(fa_resp_header_get(&resp, "Access-Control-Allow-Origin"));
	fa_resp_init(&resp, arena);
	fa_http_cors_preflight(&cfg, "https://console.example", "POST",
			       "Content-Type, FLYTE-Authorization", "GET, POST", &resp);
	assert_int_equal(resp.status, 204);
	assert_string_equal(fa_resp_header_get(&resp, "Access-Control-Allow-Methods"), "GET, POST");
	assert_string_equal(fa_resp_header_get(&resp, "Access-Control-Allow-Headers"),
			    "Content-Type, flyte-authorization");
	fa_resp_init(&resp, arena);
	fa_http_cors_preflight(&cfg, "https://console.example", "DELETE", NULL, "GET, POST", &resp);
	assert_int_equal(resp.status, 403);
	assert_null(fa_resp_header_get(&resp, "Access-Control-Allow-Origin"));
	fa_resp_init(&resp, arena);
	fa_http_cors_preflight(&cfg, "https://console.example", "GET", "X-Other", "GET", &resp);
	assert_int_equal(resp.status, 403);
	fa_http_cors_cleanup(&cfg);

	/* Wildcard: literal "*", never credentials. */
	in.allowed_origins = origins + 1;
	assert_int_equal(fa_http_cors_init(&cfg, &in, NULL), FA_OK);
	fa_resp_init(&resp, arena);
	fa_http_cors_apply(&cfg, "https://any.example", &resp);
	assert_string_equal(fa_resp_header_get(&resp, "Access-Control-Allow-Origin"), "*");
	assert_null(fa_resp_header_get(&resp, "Access-Control-Allow-Credentials"));
	fa_http_cors_cleanup(&cfg);
}

static void handler(struct fa_req *req, struct fa_resp *resp, void *app)
{
	(void)req;
	(void)resp;
	(void)app;
}

static void test_routes_check(void **state)
{
	struct fa_route ok[] = { { "GET", "/a", handler, FA_R_PUBLIC, 0 },
				 { "POST", "/a", handler, FA_R_FORM, 1024 } };
	struct fa_route dup[] = { { "GET", "/a", handler, 0, 0 }, { "GET", "/a", handler, 0, 0 } };
	struct fa_route nofn[] = { { "GET", "/a", NULL, 0, 0 } };
	struct fa_route badpath[] = { { "GET", "/a?x", handler, 0, 0 } };
	struct fa_route bigbody[] = { { "POST", "/a", handler, 0, FA_HTTP_MAX_ROUTE_BODY + 1 } };
	struct fa_route flags[] = { { "GET", "/a", handler, 1u << 20, 0 } };
	struct fa_route badmethod[] = { { "G ET", "/a", handler, 0, 0 } };
	struct fa_err err;

	(void)state;
	assert_int_equal(fa_http_routes_check(ok, 2, &err), FA_OK);
	assert_int_equal(fa_http_routes_check(dup, 2, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "listed twice"));
	assert_int_equal(fa_http_routes_check(nofn, 1, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "no handler"));
	assert_int_equal(fa_http_routes_check(badpath, 1, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "must start with '/'"));
	assert_int_equal(fa_http_routes_check(bigbody, 1, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "max_body"));
	assert_int_equal(fa_http_routes_check(flags, 1, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "unknown flags"));
	assert_int_equal(fa_http_routes_check(badmethod, 1, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "bad method"));
}

/* The one page shell: the shared head and style, then the page's own. */
static void test_page_shell(void **state)
{
	struct fa_buf b;

	(void)state;
	fa_buf_init(&b, 8192);
	assert_int_equal(fa_http_page_begin(&b, "Device", "Connect a device", ".x{}"), FA_OK);
	assert_int_equal(fa_buf_appends(&b, "<p>hi</p>"), FA_OK);
	assert_int_equal(fa_http_page_end(&b), FA_OK);
	assert_true(strncmp(b.data, "<!DOCTYPE html>\n<html lang=\"en\">", 32) == 0);
	assert_non_null(strstr(b.data, "<title>Device - Flyte</title>"));
	assert_non_null(strstr(b.data, ".error{color:#b00020}.x{}</style>"));
	assert_non_null(strstr(b.data, "<body><main><h1>Connect a device</h1>\n<p>hi</p>"));
	assert_null(strstr(b.data, "<script"));
	assert_int_equal(strcmp(b.data + b.len - 22, "</main></body></html>\n"), 0);
	fa_buf_cleanup(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_params_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_params_decoding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_params_bad_escape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_params_repeated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_params_nul_and_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_params_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_form_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_oversized_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_tossing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_count_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_cookie_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_cookie_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_attribute_injection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_injection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resp_body_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resp_headers_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resp_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resp_oauth_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resp_bearer_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resp_finish_security_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resp_no_status_is_500, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resp_redirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cors_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cors_decisions, setup, teardown),
		cmocka_unit_test(test_routes_check),
		cmocka_unit_test(test_page_shell),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
