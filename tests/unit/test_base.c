/* test_base.c -- base module: buffers, arena, base64, hashing, comparison,
 * number and duration parsing, bounded file reads. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/base.h"
#include "fa_test.h"

static void test_buf_bounded(void **state)
{
	struct fa_buf b;

	(void)state;
	fa_buf_init(&b, 8);
	assert_int_equal(fa_buf_appends(&b, "abcd"), FA_OK);
	assert_int_equal(fa_buf_appendf(&b, "%d", 1234), FA_OK);
	assert_string_equal(fa_buf_str(&b), "abcd1234");
	/* Over the cap: error, contents unchanged. */
	assert_int_equal(fa_buf_appendc(&b, 'x'), FA_ETOOBIG);
	assert_string_equal(fa_buf_str(&b), "abcd1234");
	assert_int_equal(b.len, 8);
	fa_buf_cleanup(&b);

	fa_buf_init(&b, 10000);
	assert_int_equal(fa_buf_appendf(&b, "%0500d", 7), FA_OK);
	assert_int_equal(b.len, 500);
	{
		size_t len;
		char *s = fa_buf_take(&b, &len);

		assert_int_equal(len, 500);
		assert_int_equal(s[499], '7');
		free(s);
	}
	assert_null(b.data);
	fa_buf_cleanup(&b);
}

static void test_arena_cap(void **state)
{
	struct fa_arena *a = fa_arena_new(10000);
	char *s;

	(void)state;
	s = fa_arena_printf(a, "x=%d", 42);
	assert_string_equal(s, "x=42");
	assert_non_null(fa_arena_alloc(a, 5000));
	assert_null(fa_arena_alloc(a, 6000)); /* over the cap */
	assert_true(fa_arena_used(a) <= 10000);
	assert_string_equal(fa_arena_strndup(a, "hello world", 5), "hello");
	fa_arena_free(a);
	fa_arena_free(NULL);
}

/* A reset arena is empty and its memory comes back zeroed, the secrets of
 * the previous use gone, whether that use fitted one chunk or several;
 * the cap counts from zero again. */
static void test_arena_reset(void **state)
{
	struct fa_arena *a = fa_arena_new(20000);
	size_t sizes[] = { 100, 3000, 5000, 40 };
	unsigned char *p[4];

	(void)state;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 4; i++) {
			p[i] = fa_arena_alloc(a, sizes[i]);
			assert_non_null(p[i]);
			for (size_t k = 0; k < sizes[i]; k++)
				assert_int_equal(p[i][k], 0);
			memset(p[i], 0xA5, sizes[i]);     /* a "secret" */
		}
		assert_true(fa_arena_used(a) >= 8140);
		fa_arena_reset(a);
		assert_int_equal(fa_arena_used(a), 0);
	}
	/* Half the tail of a chunk was used before: all of it is zero now. */
	p[0] = fa_arena_alloc(a, 9000);
	assert_non_null(p[0]);
	for (size_t k = 0; k < 9000; k++)
		assert_int_equal(p[0][k], 0);
	assert_non_null(fa_arena_alloc(a, 10900));
	assert_null(fa_arena_alloc(a, 100));   /* the cap holds after a reset */
	fa_arena_reset(a);
	assert_non_null(fa_arena_alloc(a, 19000));
	fa_arena_free(a);
}

static void test_buf_append_json(void **state)
{
	struct fa_buf b;

	(void)state;
	fa_buf_init(&b, 256);
	assert_int_equal(fa_buf_append_json(&b, "plain.token-_~ x"), FA_OK);
	assert_int_equal(fa_buf_append_json(&b, "a\"b\\c\n\x01\x1f\x7f\xc3\xa9"), FA_OK);
	assert_int_equal(fa_buf_append_json(&b, ""), FA_OK);
	assert_string_equal(fa_buf_str(&b), "\"plain.token-_~ x\""
			    "\"a\\\"b\\\\c\\u000a\\u0001\\u001f\x7f\xc3\xa9\"\"\"");
	fa_buf_cleanup(&b);
	/* Past the buffer's cap: an error. */
	fa_buf_init(&b, 8);
	assert_int_equal(fa_buf_append_json(&b, "0123456789"), FA_ETOOBIG);
	fa_buf_cleanup(&b);
}

static void test_b64_vectors(void **state)
{
	/* RFC 4648 §10 */
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	char out[64];
	unsigned char dec[64];
	size_t n;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(plain); i++) {
		assert_int_equal(fa_b64_encode(plain[i], strlen(plain[i]), FA_B64_STD, out, sizeof(out)), FA_OK);
		assert_string_equal(out, enc[i]);
		assert_int_equal(fa_b64_decode(enc[i], strlen(enc[i]), FA_B64_STD, dec, sizeof(dec), &n), FA_OK);
		assert_int_equal(n, strlen(plain[i]));
		assert_memory_equal(dec, plain[i], n);
	}
	/* Unpadded url form of 0xfb 0xff: "-_8" */
	assert_int_equal(fa_b64_encode("\xfb\xff", 2, FA_B64_URL | FA_B64_NOPAD, out, sizeof(out)), FA_OK);
	assert_string_equal(out, "-_8");
	assert_int_equal(fa_b64_decode("-_8", 3, FA_B64_URL | FA_B64_NOPAD, dec, sizeof(dec), &n), FA_OK);
	assert_int_equal(n, 2);
	/* Std decoding accepts unpadded input too. */
	assert_int_equal(fa_b64_decode("Zg", 2, FA_B64_STD, dec, sizeof(dec), &n), FA_OK);
	assert_int_equal(n, 1);
	/* Output too small for the encoding. */
	assert_int_equal(fa_b64_encode("foobar", 6, FA_B64_STD, out, 8), FA_ETOOBIG);
}

static void test_b64_rejects(void **state)
{
	unsigned char dec[64];
	size_t n;

	(void)state;
	/* padding where forbidden */
	assert_int_equal(fa_b64_decode("Zg==", 4, FA_B64_URL | FA_B64_NOPAD, dec, sizeof(dec), &n), FA_EINVAL);
	/* whitespace, wrong alphabet */
	assert_int_equal(fa_b64_decode("Zm9v\n", 5, FA_B64_STD, dec, sizeof(dec), &n), FA_EINVAL);
	assert_int_equal(fa_b64_decode("-_8", 3, FA_B64_STD, dec, sizeof(dec), &n), FA_EINVAL);
	assert_int_equal(fa_b64_decode("+/8", 3, FA_B64_URL, dec, sizeof(dec), &n), FA_EINVAL);
	/* impossible length, bad padding count, non-zero trailing bits */
	assert_int_equal(fa_b64_decode("Zm9vY", 5, FA_B64_STD, dec, sizeof(dec), &n), FA_EINVAL);
	assert_int_equal(fa_b64_decode("Zg=", 3, FA_B64_STD, dec, sizeof(dec), &n), FA_EINVAL);
	assert_int_equal(fa_b64_decode("Zh", 2, FA_B64_STD, dec, sizeof(dec), &n), FA_EINVAL);
	assert_int_equal(fa_b64_decode("Zm9=Zm9v", 8, FA_B64_STD, dec, sizeof(dec), &n), FA_EINVAL);
	/* output too small */
	assert_int_equal(fa_b64_decode("Zm9vYmFy", 8, FA_B64_STD, dec, 5, &n), FA_ETOOBIG);
}

static void test_sha256_and_ct(void **state)
{
	char hex[65], id[9], tok[FA_TOKEN_CHARS + 1], tok2[FA_TOKEN_CHARS + 1];

	(void)state;
	assert_int_equal(fa_sha256_hex("abc", 3, hex), FA_OK);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* The kept hasher gives the same digests (FIPS 180-2 B.1 and B.2). */
	{
		struct fa_sha256_hasher *h = fa_sha256_hasher_new();
		static const char two[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
		unsigned char md[FA_SHA256_LEN], want[FA_SHA256_LEN];

		assert_non_null(h);
		assert_int_equal(fa_sha256_with(h, "abc", 3, md), FA_OK);
		fa_hex(md, sizeof(md), hex);
		assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		assert_int_equal(fa_sha256_with(h, two, sizeof(two) - 1, md), FA_OK);
		fa_hex(md, sizeof(md), hex);
		assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
		assert_int_equal(fa_sha256(two, sizeof(two) - 1, want), FA_OK);
		assert_memory_equal(md, want, sizeof(md));
		fa_sha256_hasher_free(h);
		fa_sha256_hasher_free(NULL);
	}
	fa_log_id("abc", 3, id);
	assert_string_equal(id, "ba7816bf");
	assert_true(fa_ct_eq("abc", 3, "abc", 3));
	assert_false(fa_ct_eq("abc", 3, "abd", 3));
	assert_false(fa_ct_eq("abc", 3, "abcd", 4));
	assert_false(fa_ct_streq(NULL, "a"));
	assert_int_equal(fa_rand_token(tok), FA_OK);
	assert_int_equal(fa_rand_token(tok2), FA_OK);
	assert_int_equal(strlen(tok), FA_TOKEN_CHARS);
	assert_string_not_equal(tok, tok2);
}

static void test_parse_u64(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(fa_parse_u64("8088", 4, 65535, &v), FA_OK);
	assert_int_equal(v, 8088);
	assert_int_equal(fa_parse_u64("65536", 5, 65535, &v), FA_ETOOBIG);
	/* A max under 9: a digit over it must not wrap max - d. */
	assert_int_equal(fa_parse_u64("7", 1, 6, &v), FA_ETOOBIG);
	assert_int_equal(fa_parse_u64("6", 1, 6, &v), FA_OK);
	assert_int_equal(v, 6);
	assert_int_equal(fa_parse_u64("1", 1, 0, &v), FA_ETOOBIG);
	assert_int_equal(fa_parse_u64("18446744073709551616", 20, UINT64_MAX, &v), FA_ETOOBIG);
	assert_int_equal(fa_parse_u64("-1", 2, 100, &v), FA_EINVAL);
	assert_int_equal(fa_parse_u64(" 1", 2, 100, &v), FA_EINVAL);
	assert_int_equal(fa_parse_u64("", 0, 100, &v), FA_EINVAL);
}

static void test_duration(void **state)
{
	static const struct { const char *in; int64_t ms; } ok[] = {
		{ "30m", 1800000 }, { "1h", 3600000 }, { "1h30m", 5400000 }, { "500ms", 500 },
		{ "0", 0 }, { "1.5h", 5400000 }, { "2s", 2000 }, { "1500us", 1 }, { "10m0s", 600000 },
		{ "+5s", 5000 }, { ".5s", 500 }, { "1h1m1s1ms", 3661001 },
	};
	static const char *const bad[] = { "", "5", "-5s", "1d", "h", "1.s5", "s", "1hh", "1 h", "99999999999999999999h" };
	int64_t ms;
	char out[32];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		assert_int_equal(fa_duration_parse(ok[i].in, strlen(ok[i].in), &ms), FA_OK);
		assert_int_equal(ms, ok[i].ms);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		assert_int_not_equal(fa_duration_parse(bad[i], strlen(bad[i]), &ms), FA_OK);
	fa_duration_format(5400000, out, sizeof(out));
	assert_string_equal(out, "1h30m0s");
	fa_duration_format(1500, out, sizeof(out));
	assert_string_equal(out, "1.5s");
	fa_duration_format(500, out, sizeof(out));
	assert_string_equal(out, "500ms");
	fa_duration_format(120000, out, sizeof(out));
	assert_string_equal(out, "2m0s");
}

static void test_err_and_strlcpy(void **state)
{
	struct fa_err e;
	char small[4];

	(void)state;
	fa_err_clear(&e);
	assert_int_equal(fa_err_oauth(&e, FA_EDENIED, "invalid_client", "client %s", "x"),
			 FA_EDENIED);
	assert_string_equal(e.oauth_error, "invalid_client");
	assert_string_equal(e.msg, "client x");
	/* A later message keeps the code; fa_err_oauth replaces it. */
	assert_int_equal(fa_err_set(&e, FA_EINVAL, "more"), FA_EINVAL);
	assert_string_equal(e.oauth_error, "invalid_client");
	assert_int_equal(fa_err_oauth(&e, FA_EINVAL, NULL, "%s", "none"), FA_EINVAL);
	assert_null(e.oauth_error);
	assert_int_equal(fa_err_set(NULL, FA_EINVAL, "x"), FA_EINVAL);
	assert_int_equal(fa_strlcpy(small, "abcd", sizeof(small)), FA_ETOOBIG);
	assert_string_equal(small, "");
	assert_int_equal(fa_strlcpy(small, "abc", sizeof(small)), FA_OK);
	assert_string_equal(fa_rc_str(FA_ECONFLICT), "conflict");
}

static void test_buf_escapes(void **state)
{
	struct fa_buf b;

	(void)state;
	fa_buf_init(&b, 1024);
	assert_int_equal(fa_buf_append_html(&b, "<a href=\"x\">'&'</a>"), FA_OK);
	assert_string_equal(fa_buf_str(&b), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
	fa_buf_reset(&b);
	assert_int_equal(fa_buf_append_html(&b, NULL), FA_OK);
	assert_int_equal(b.len, 0);
	assert_int_equal(fa_buf_append_pct(&b, "/cb?a=1 b&c=\xc3\xa9~-._", NULL), FA_OK);
	assert_string_equal(fa_buf_str(&b), "%2Fcb%3Fa%3D1%20b%26c%3D%C3%A9~-._");
	fa_buf_reset(&b);
	assert_int_equal(fa_buf_append_pct(&b, "/a b/c", "/"), FA_OK);
	assert_string_equal(fa_buf_str(&b), "/a%20b/c");
	fa_buf_cleanup(&b);
	/* Over the cap: an error, never a truncated escape. */
	fa_buf_init(&b, 5);
	assert_int_equal(fa_buf_append_html(&b, "<<"), FA_ETOOBIG);
	fa_buf_cleanup(&b);
}

/* Writes n bytes of 'x' to dir/name; returns the path in out. */
static void write_xs(const char *dir, const char *name, size_t n, char *out, size_t cap)
{
	FILE *fp;

	assert_true((size_t)snprintf(out, cap, "%s/%s", dir, name) < cap);
	fp = fopen(out, "wb");
	assert_non_null(fp);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(fputc('x', fp), 'x');
	assert_int_equal(fclose(fp), 0);
}

static void test_file_read(void **state)
{
	char dir[64], exact[80], over[80], empty[80], path[128];
	char *data = NULL;
	size_t len = 99;
	int e = -1;

	(void)state;
	fa_test_tmpdir(dir, sizeof(dir), "test_base");
	write_xs(dir, "exact", 100, exact, sizeof(exact));
	write_xs(dir, "over", 101, over, sizeof(over));
	write_xs(dir, "empty", 0, empty, sizeof(empty));

	/* Exactly max bytes: all of them, NUL-terminated. */
	assert_int_equal(fa_file_read(exact, 100, &data, &len, &e), FA_OK);
	assert_int_equal(len, 100);
	assert_int_equal(e, 0);
	assert_int_equal(data[0], 'x');
	assert_int_equal(data[99], 'x');
	assert_int_equal(data[100], '\0');
	free(data);

	/* One byte more: refused, nothing handed back. */
	assert_int_equal(fa_file_read(over, 100, &data, &len, &e), FA_ETOOBIG);
	assert_null(data);
	assert_int_equal(len, 0);
	assert_int_equal(fa_file_read(over, 101, &data, &len, NULL), FA_OK);
	assert_int_equal(len, 101);
	free(data);

	/* An empty file is "", never NULL. */
	assert_int_equal(fa_file_read(empty, 100, &data, &len, &e), FA_OK);
	assert_non_null(data);
	assert_string_equal(data, "");
	assert_int_equal(len, 0);
	free(data);
	assert_int_equal(fa_file_read(exact, 0, &data, &len, &e), FA_ETOOBIG);
	assert_null(data);

	/* Missing: FA_ENOTFOUND with ENOENT; other open or read failures are
	 * FA_EIO with their errno. */
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(fa_file_read(path, 100, &data, &len, &e), FA_ENOTFOUND);
	assert_int_equal(e, ENOENT);
	assert_null(data);
	snprintf(path, sizeof(path), "%s/x", exact);
	assert_int_equal(fa_file_read(path, 100, &data, &len, &e), FA_EIO);
	assert_int_equal(e, ENOTDIR);
	assert_int_equal(fa_file_read(dir, 100, &data, &len, &e), FA_EIO);
	assert_int_equal(e, EISDIR);
	assert_null(data);
	assert_int_equal(len, 0);

	fa_test_rmdir(dir);
}

static void test_fd_read(void **state)
{
	int p[2], e = -1;
	char *data = NULL;
	size_t len = 0;

	(void)state;
	/* A pipe has no size: the cap is found by reading. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "0123456789", 10), 10);
	assert_int_equal(close(p[1]), 0);
	assert_int_equal(fa_fd_read(p[0], 10, &data, &len, &e), FA_OK);
	assert_int_equal(len, 10);
	assert_string_equal(data, "0123456789");
	free(data);
	/* The descriptor stays open: it is the caller's. */
	assert_true(fcntl(p[0], F_GETFD) != -1);
	assert_int_equal(close(p[0]), 0);

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "0123456789A", 11), 11);
	assert_int_equal(close(p[1]), 0);
	assert_int_equal(fa_fd_read(p[0], 10, &data, &len, &e), FA_ETOOBIG);
	assert_null(data);
	assert_int_equal(len, 0);
	assert_int_equal(close(p[0]), 0);

	/* A read error keeps its errno; a cap that cannot be allocated is
	 * refused before anything is read. */
	assert_int_equal(fa_fd_read(-1, 10, &data, &len, &e), FA_EIO);
	assert_int_equal(e, EBADF);
	assert_null(data);
	assert_int_equal(fa_fd_read(-1, SIZE_MAX, &data, &len, &e), FA_EINVAL);
	assert_null(data);
}

static void test_json_load(void **state)
{
	static const char *const bad[] = {
		"", "[]", "1", "\"x\"", "{", "{\"a\":1,\"a\":2}", "{\"a\":1} x",
		"{\"a\":[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}",
	};
	/* Brackets inside strings do not count; 16 levels do. */
	static const char in_string[] = "{\"s\":\"[[[[[[[[[[[[[[[[[[[[\\\"\"}";
	static const char deep16[] = "{\"a\":[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]}";
	struct fa_err err;
	json_t *j;

	(void)state;

	assert_int_equal(fa_json_load(in_string, strlen(in_string), "doc", &j, &err), FA_OK);
	json_decref(j);
	assert_int_equal(fa_json_load(deep16, strlen(deep16), "doc", &j, &err), FA_OK);
	json_decref(j);
	/* Not NUL-terminated: only len bytes are read. */
	assert_int_equal(fa_json_load("{}garbage", 2, "doc", &j, &err), FA_OK);
	json_decref(j);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = (json_t *)1;
		fa_err_clear(&err);
		if (fa_json_load(bad[i], strlen(bad[i]), "doc", &j, &err) != FA_EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_null(j);
		assert_true(strncmp(err.msg, "doc ", 4) == 0);
	}
	assert_int_equal(fa_json_load("[[[[[[[[[[[[[[[[[", 17, "doc", &j, &err), FA_EINVAL);
	assert_string_equal(err.msg, "doc nests deeper than 16 levels");
}

static void test_fd_write_all(void **state)
{
	char dir[64], path[128], *data = NULL;
	size_t len = 0;
	int fd;

	(void)state;
	fa_test_tmpdir(dir, sizeof(dir), "test_base_write");
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fa_fd_write_all(fd, "hello, ", 7), FA_OK);
	assert_int_equal(fa_fd_write_all(fd, "world", 5), FA_OK);
	assert_int_equal(fa_fd_write_all(fd, "", 0), FA_OK);
	close(fd);
	assert_int_equal(fa_file_read(path, 64, &data, &len, NULL), FA_OK);
	assert_string_equal(data, "hello, world");
	free(data);
	fd = open(path, O_RDONLY);
	assert_int_equal(fa_fd_write_all(fd, "x", 1), FA_EIO);
	assert_int_equal(errno, EBADF);
	close(fd);
	fa_test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_bounded),
		cmocka_unit_test(test_arena_cap),
		cmocka_unit_test(test_arena_reset),
		cmocka_unit_test(test_buf_append_json),
		cmocka_unit_test(test_b64_vectors),
		cmocka_unit_test(test_b64_rejects),
		cmocka_unit_test(test_sha256_and_ct),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_err_and_strlcpy),
		cmocka_unit_test(test_buf_escapes),
		cmocka_unit_test(test_file_read),
		cmocka_unit_test(test_fd_read),
		cmocka_unit_test(test_json_load),
		cmocka_unit_test(test_fd_write_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
