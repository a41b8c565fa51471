/* test_base_url.c -- base's URL grammar, the one loopback predicate, the
 * one redirect_uri matching rule and the percent-decoder: the rules every
 * module now shares, each with the inputs its old copies disagreed on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"

static void part_is(const char *p, size_t n, const char *want)
{
	if (want == NULL) {
		assert_null(p);
		assert_int_equal(n, 0);
		return;
	}
	assert_non_null(p);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(p, want, n);
}

static void test_url_parts(void **state)
{
	struct fa_url u;
	const char *s = "HTTPS://Flyte.Example.com:8443/a/b?x=1&y=2#frag";

	(void)state;
	assert_int_equal(fa_url_parse(s, strlen(s), &u, NULL), FA_OK);
	assert_true(u.https);
	part_is(u.host, u.host_len, "Flyte.Example.com");
	assert_true(u.has_port);
	assert_int_equal(u.port, 8443);
	part_is(u.path, u.path_len, "/a/b");
	part_is(u.query, u.query_len, "x=1&y=2");
	part_is(u.fragment, u.fragment_len, "frag");
	part_is(u.rest, u.rest_len, "/a/b?x=1&y=2#frag");

	s = "http://[::1]";
	assert_int_equal(fa_url_parse(s, strlen(s), &u, NULL), FA_OK);
	assert_false(u.https);
	assert_false(u.has_port);
	assert_int_equal(u.port, 80);
	part_is(u.host, u.host_len, "[::1]");
	assert_int_equal(u.path_len, 0);
	assert_null(u.query);

	s = "https://a.example?q";
	assert_int_equal(fa_url_parse(s, strlen(s), &u, NULL), FA_OK);
	assert_int_equal(u.port, 443);
	assert_int_equal(u.path_len, 0);
	part_is(u.query, u.query_len, "q");

	/* Not NUL-terminated: parsing stops at n. */
	s = "http://a.example/pathXXXX";
	assert_int_equal(fa_url_parse(s, 20, &u, NULL), FA_OK);
	part_is(u.path, u.path_len, "/pat");
}

static void test_url_refusals(void **state)
{
	static const struct {
		const char *url;
		const char *why;
	} bad[] = {
		{ "", "not an absolute http(s) URL" },
		{ "/console", "not an absolute http(s) URL" },
		{ "localhost:53593", "not an absolute http(s) URL" },
		{ "myapp:/callback", "not an absolute http(s) URL" },
		{ "ftp://a.example", "must use http or https" },
		{ "javascript:alert(1)//https://a.example", "not an absolute http(s) URL" },
		{ "https://", "has no host" },
		{ "https:///x", "has no host" },
		{ "https://:443/", "has no host" },
		{ "https://a.example:0/", "has a bad port" },
		{ "https://a.example:65536/", "has a bad port" },
		{ "https://a.example:/", "has a bad port" },
		{ "https://a.example:8x/", "has a bad port" },
		{ "https://a.example :1/", "contains a space or control character" },
		{ "https://a.example/\r\nLocation: x", "contains a space or control character" },
		{ "https://a.example/\xc3\xa9", "contains a non-ASCII character" },
		{ "https://a.example\\@evil.example/", "contains a backslash" },
		{ "https://good.example@evil.example/", "must not contain credentials (user@host)" },
		{ "https://u:p@a.example/", "must not contain credentials (user@host)" },
		{ "https://[::1/", "has a bad IPv6 address" },
		{ "https://[zz]/", "has a bad IPv6 address" },
		{ "https://[::1]x/", "has a bad host" },
		{ "https://fly$te.example/", "has a bad host name" },
		{ "https://a%2eexample/", "has a bad host name" },
	};
	char big[FA_MAX_URL + 2];
	const char *why;
	struct fa_url u;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (fa_url_parse(bad[i].url, strlen(bad[i].url), &u, &why) == FA_OK)
			fail_msg("accepted: %s", bad[i].url);
		if (!why || strcmp(why, bad[i].why) != 0)
			fail_msg("%s: %s, expected %s", bad[i].url, why ? why : "(none)", bad[i].why);
		assert_null(u.host);
	}
	memcpy(big, "https://a.example/", 18);
	memset(big + 18, 'a', sizeof(big) - 19);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(fa_url_parse(big, strlen(big), &u, &why), FA_ETOOBIG);
	assert_string_equal(why, "longer than 2048 bytes");
	big[FA_MAX_URL] = '\0';
	assert_int_equal(fa_url_parse(big, strlen(big), &u, &why), FA_OK);
}

/* The copies this predicate replaced disagreed: authz accepted exactly
 * 127.0.0.1, the client and config any text starting "127." -- so
 * "127.evil.example" passed as this machine. */
static void test_loopback(void **state)
{
	static const char *const yes[] = {
		"localhost", "LocalHost", "127.0.0.1", "127.0.0.2", "127.255.255.254", "[::1]",
		"::1", "[0:0:0:0:0:0:0:1]", "[0::1]",
	};
	static const char *const no[] = {
		"", "127", "127.1", "127.0.0.1.nip.io", "127.evil.example", "localhost.evil.example",
		"evil.localhost", "128.0.0.1", "10.0.0.1", "[::2]", "[::1].evil", "[::ffff:1.2.3.4]",
		"0.0.0.0", "::", "[::1", "localhos", "[]",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!fa_host_is_loopback(yes[i], strlen(yes[i])))
			fail_msg("not loopback: %s", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (fa_host_is_loopback(no[i], strlen(no[i])))
			fail_msg("taken for loopback: %s", no[i]);
	/* Only n bytes are read. */
	assert_true(fa_host_is_loopback("127.0.0.1:80", 9));
}

static void test_redirect_rule(void **state)
{
	(void)state;
	/* Exact, byte for byte. */
	assert_true(fa_url_redirect_match("https://a.example/cb", "https://a.example/cb"));
	assert_false(fa_url_redirect_match("https://A.example/cb", "https://a.example/cb"));
	assert_false(fa_url_redirect_match("https://a.example/cb/", "https://a.example/cb"));
	assert_false(fa_url_redirect_match("https://a.example:444/cb", "https://a.example:443/cb"));
	/* Loopback http: any port, same host, path and query. */
	assert_true(fa_url_redirect_match("http://localhost:4000/cb", "http://localhost/cb"));
	assert_true(fa_url_redirect_match("http://localhost/cb", "http://localhost:53593/cb"));
	assert_true(fa_url_redirect_match("http://127.0.0.2:9/cb?a=1", "http://127.0.0.2:8/cb?a=1"));
	assert_true(fa_url_redirect_match("http://LOCALHOST:9/cb", "http://localhost:8/cb"));
	assert_false(fa_url_redirect_match("http://127.0.0.1:9/cb", "http://localhost:8/cb"));
	assert_false(fa_url_redirect_match("https://localhost:9/cb", "http://localhost:8/cb"));
	assert_false(fa_url_redirect_match("http://localhost:9/cb", "https://localhost:8/cb"));
	assert_false(fa_url_redirect_match("http://localhost:9/cb?x", "http://localhost:8/cb"));
	assert_false(fa_url_redirect_match("http://localhost:9/cb#x", "http://localhost:8/cb"));
	assert_false(fa_url_redirect_match("http://127.evil.example:9/cb", "http://127.evil.example:8/cb"));
	/* Never with a fragment, even when equal. */
	assert_false(fa_url_redirect_match("https://a.example/cb#x", "https://a.example/cb#x"));
	assert_false(fa_url_redirect_match(NULL, "https://a.example/cb"));
	assert_false(fa_url_redirect_match("https://a.example/cb", NULL));
	assert_true(fa_url_redirect_ok("http://localhost:1/"));
	assert_false(fa_url_redirect_ok("http://localhost:1/#"));
	assert_false(fa_url_redirect_ok(NULL));
}

static bool same(const char *a, const char *b)
{
	struct fa_url ua, ub;

	assert_int_equal(fa_url_parse(a, strlen(a), &ua, NULL), FA_OK);
	assert_int_equal(fa_url_parse(b, strlen(b), &ub, NULL), FA_OK);
	return fa_url_same_origin(&ua, &ub);
}

/* Origins: identity's redirect targets and config check's redirectUrl. */
static void test_same_origin(void **state)
{
	static const char *const origins[] = {
		"https://flyte.example.com", "http://localhost:30081/console", "https://[::1]:8443",
	};

	(void)state;
	assert_true(same("HTTP://Flyte.Example.COM:8080/x?y#z", "http://flyte.example.com:8080"));
	assert_true(same("https://a.b", "https://a.b:443/x"));
	assert_true(same("https://a.b./x", "https://A.B"));
	assert_false(same("https://a.b", "http://a.b"));
	assert_false(same("https://a.b", "https://a.b:444"));
	assert_false(same("https://a.b", "https://a.bc"));
	assert_false(same("https://a.b..", "https://a.b"));
	assert_null(fa_url_target_problem("/console", origins, 3));
	assert_null(fa_url_target_problem("https://FLYTE.example.com./x", origins, 3));
	assert_null(fa_url_target_problem("http://localhost:30081/other", origins, 3));
	assert_string_equal(fa_url_target_problem(NULL, origins, 3), "is empty");
	assert_string_equal(fa_url_target_problem("//evil.com", origins, 3),
			    "must not start with '//'");
	assert_string_equal(fa_url_target_problem("/\\evil.com", origins, 3),
			    "may only hold visible ASCII without '\\'");
	assert_string_equal(fa_url_target_problem("https://u@flyte.example.com", origins, 3),
			    "must be a path on this server or an absolute URL on an authorized origin");
	assert_string_equal(fa_url_target_problem("https://flyte.example.com:8443/", origins, 3),
			    "is not on an authorized origin (auth.authorizedUris)");
	assert_string_equal(fa_url_target_problem("https://flyte.example.com/", NULL, 0),
			    "is not on an authorized origin (auth.authorizedUris)");
}

static void decodes(const char *in, unsigned flags, const char *want, size_t want_len)
{
	char out[64];
	size_t n = 99;

	assert_int_equal(fa_pct_decode(in, strlen(in), flags, out, &n), FA_OK);
	assert_int_equal(n, want_len);
	assert_memory_equal(out, want, want_len);
	assert_int_equal(out[n], '\0');
}

static void test_pct_decode(void **state)
{
	static const char *const bad[] = { "%", "%4", "a%g1", "%%41", "x%4 " };
	char out[16];
	size_t n;

	(void)state;
	decodes("", 0, "", 0);
	decodes("a%2Fb%2fc", 0, "a/b/c", 5);
	decodes("a+b%20c", FA_PCT_PLUS, "a b c", 5);
	decodes("a+b", 0, "a+b", 3);
	decodes("%00x", 0, "\0x", 2);
	decodes("%E2%82%AC", 0, "\xe2\x82\xac", 3);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 7;
		if (fa_pct_decode(bad[i], strlen(bad[i]), FA_PCT_PLUS, out, &n) != FA_EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(n, 0);
		assert_string_equal(out, "");
	}
}

/* Address ranges for server.security.trustedProxies. */
static void test_cidr(void **state)
{
	struct fa_cidr c;

	(void)state;
	assert_int_equal(fa_cidr_parse("10.0.0.0/8", &c), FA_OK);
	assert_true(fa_cidr_match(&c, "10.255.1.2"));
	assert_false(fa_cidr_match(&c, "11.0.0.1"));
	assert_false(fa_cidr_match(&c, "::1"));
	assert_true(fa_cidr_match(&c, "::ffff:10.1.2.3"));   /* IPv4-mapped */
	assert_int_equal(fa_cidr_parse("192.168.1.128/25", &c), FA_OK);
	assert_true(fa_cidr_match(&c, "192.168.1.200"));
	assert_false(fa_cidr_match(&c, "192.168.1.127"));
	assert_int_equal(fa_cidr_parse("127.0.0.1", &c), FA_OK);     /* one host */
	assert_true(fa_cidr_match(&c, "127.0.0.1"));
	assert_false(fa_cidr_match(&c, "127.0.0.2"));
	assert_int_equal(fa_cidr_parse("2001:db8::/32", &c), FA_OK);
	assert_true(fa_cidr_match(&c, "2001:db8:ffff::1"));
	assert_false(fa_cidr_match(&c, "2001:db9::1"));
	assert_false(fa_cidr_match(&c, "10.0.0.1"));
	assert_int_equal(fa_cidr_parse("0.0.0.0/0", &c), FA_OK);
	assert_true(fa_cidr_match(&c, "203.0.113.9"));
	assert_false(fa_cidr_match(&c, "not an address"));
	assert_true(fa_cidr_any(&c, 1, "1.2.3.4"));
	assert_false(fa_cidr_any(NULL, 0, "1.2.3.4"));
	assert_int_equal(fa_cidr_parse("10.0.0.0/33", &c), FA_EINVAL);
	assert_int_equal(fa_cidr_parse("2001:db8::/129", &c), FA_EINVAL);
	assert_int_equal(fa_cidr_parse("10.0.0.0/", &c), FA_EINVAL);
	assert_int_equal(fa_cidr_parse("proxy.example.com", &c), FA_EINVAL);
	assert_int_equal(fa_cidr_parse(" 10.0.0.1", &c), FA_EINVAL);
	assert_int_equal(fa_cidr_parse("", &c), FA_EINVAL);
	assert_int_equal(fa_cidr_parse(NULL, &c), FA_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_url_parts),
		cmocka_unit_test(test_url_refusals),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_redirect_rule),
		cmocka_unit_test(test_same_origin),
		cmocka_unit_test(test_pct_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
