/* test_secrets_bcrypt.c -- secrets module, part 2: bcrypt hashing and
 * checking (Flyte's base64(bcrypt) form and raw hashes) and the cache of
 * remembered checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "secrets/secrets.h"

/* bcrypt("foobar"), cost 6, as Flyte's docs' Python one-liner prints it. */
static const char vector_b64[] =
	"JDJhJDA2JHB4czFBa0c4MUt2cmhwbWwxUWlMU09RYVRrOWVlUHJVLzdZYWI5eTA3aDN4MFRnbGJhb1Q2";

static void vector_raw(char raw[FA_BCRYPT_LEN + 1])
{
	unsigned char dec[FA_BCRYPT_LEN + 4];
	size_t got = 0;

	assert_int_equal(fa_b64_decode(vector_b64, strlen(vector_b64), FA_B64_STD, dec,
				       sizeof(dec), &got), FA_OK);
	assert_int_equal(got, FA_BCRYPT_LEN);
	memcpy(raw, dec, got);
	raw[got] = '\0';
}

/* ---- checking ------------------------------------------------------------ */

static void test_bcrypt_vector(void **state)
{
	char raw[FA_BCRYPT_LEN + 1];
	char parsed[FA_BCRYPT_LEN + 1];
	struct fa_err err;

	(void)state;
	vector_raw(raw);
	assert_true(strncmp(raw, "$2a$06$", 7) == 0);
	assert_int_equal(fa_secret_check(vector_b64, "foobar", 6, &err), FA_OK);
	assert_int_equal(fa_secret_check(vector_b64, "foobaz", 6, &err), FA_EDENIED);
	assert_non_null(strstr(err.msg, "does not match"));
	assert_int_equal(fa_secret_check(raw, "foobar", 6, &err), FA_OK);
	assert_int_equal(fa_secret_check(raw, "foobaz", 6, &err), FA_EDENIED);
	/* prefix of the right secret, and the right secret plus a byte */
	assert_int_equal(fa_secret_check(raw, "fooba", 5, &err), FA_EDENIED);
	assert_int_equal(fa_secret_check(raw, "foobarx", 7, &err), FA_EDENIED);
	/* parse normalises both forms to the raw hash */
	assert_int_equal(fa_secret_hash_parse(vector_b64, parsed, &err), FA_OK);
	assert_string_equal(parsed, raw);
	assert_int_equal(fa_secret_hash_parse(raw, parsed, &err), FA_OK);
	assert_string_equal(parsed, raw);
}

static void test_bcrypt_prefix_variants(void **state)
{
	char raw[FA_BCRYPT_LEN + 1];
	char *b64;
	struct fa_err err;

	(void)state;
	vector_raw(raw);
	/* $2b$ and $2y$ compute the same function as $2a$ for ASCII input */
	raw[2] = 'b';
	assert_int_equal(fa_secret_check(raw, "foobar", 6, &err), FA_OK);
	raw[2] = 'y';
	assert_int_equal(fa_secret_check(raw, "foobar", 6, &err), FA_OK);
	assert_int_equal(fa_secret_check(raw, "foobaz", 6, &err), FA_EDENIED);
	/* $2x$ (the buggy-8-bit variant) is not accepted */
	raw[2] = 'x';
	assert_int_equal(fa_secret_check(raw, "foobar", 6, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "$2a$, $2b$ or $2y$"));
	/* base64 with padding characters appended is not valid base64 of 60 bytes */
	raw[2] = 'a';
	b64 = fa_b64_encode_dup(raw, FA_BCRYPT_LEN, FA_B64_STD);
	assert_non_null(b64);
	assert_string_equal(b64, vector_b64);
	free(b64);
}

static void test_bcrypt_malformed_stored(void **state)
{
	static const struct {
		const char *stored;
		const char *msg;
	} cases[] = {
		{ "", "empty" },
		{ "not a hash", "neither" },
		{ "$2a$06$short", "has 12 characters, expected 60" },
		{ "$2a$3$pxs1AkG81KvrhpmlkQiLSOQaTk9eePrU/7Yab9y07h3x0TglbaoT6x", "malformed cost" },
		{ "$2a$03$pxs1AkG81KvrhpmlkQiLSOQaTk9eePrU/7Yab9y07h3x0TglbaoT6", "cost 3 is outside" },
		{ "$2a$32$pxs1AkG81KvrhpmlkQiLSOQaTk9eePrU/7Yab9y07h3x0TglbaoT6", "cost 32 is outside" },
		{ "$2a$06$pxs1AkG81KvrhpmlkQiLSOQaTk9eePrU/7Yab9y07h3x0Tglbao!6", "alphabet" },
		{ "$1$06$pxs1AkG81KvrhpmlkQiLSOQaTk9eePrU/7Yab9y07h3x0TglbaoT6x", "must start" },
		{ "$6$rounds=5000$abcdefghijklmnop$abcdefghijklmnopqrstuvwxyz01", "must start" },
		/* base64 of something that is not a bcrypt hash */
		{ "Zm9vYmFy", "base64-decoded" },
		/* base64 of 59 chars */
		{ "JDJhJDA2JHB4czFBa0c4MUt2cmhwbWwxUWlMU09RYVRrOWVlUHJVLzdZYWI5eTA3aDN4MFRnbGJhb1Q=",
		  "base64-decoded" },
		/* too long for either form */
		{ "JDJhJDA2JHB4czFBa0c4MUt2cmhwbWwxUWlMU09RYVRrOWVlUHJVLzdZYWI5eTA3aDN4MFRnbGJhb1Q2AAAAAAAA",
		  "too long" },
	};
	char raw[FA_BCRYPT_LEN + 1];
	struct fa_err err;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		/* malformed is FA_EINVAL, distinct from a wrong secret */
		assert_int_equal(fa_secret_check(cases[i].stored, "foobar", 6, &err), FA_EINVAL);
		if (strstr(err.msg, cases[i].msg) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, cases[i].msg);
		assert_int_equal(fa_secret_hash_parse(cases[i].stored, raw, &err), FA_EINVAL);
		assert_string_equal(raw, "");
	}
	assert_int_equal(fa_secret_check(NULL, "foobar", 6, &err), FA_EINVAL);
}

/* "foobar\0anything" must not pass as "foobar": crypt() stops at the NUL. */
static void test_nul_byte_truncation(void **state)
{
	struct fa_err err;

	(void)state;
	assert_int_equal(fa_secret_check(vector_b64, "foobar\0xyz", 10, &err), FA_EDENIED);
	assert_non_null(strstr(err.msg, "NUL byte"));
	assert_int_equal(fa_secret_check(vector_b64, "foobar\0", 7, &err), FA_EDENIED);
}

static void test_presented_bounds(void **state)
{
	char big[FA_MAX_PASSWORD + 2];
	struct fa_err err;

	(void)state;
	assert_int_equal(fa_secret_check(vector_b64, "", 0, &err), FA_EDENIED);
	assert_non_null(strstr(err.msg, "empty"));
	assert_int_equal(fa_secret_check(vector_b64, NULL, 6, &err), FA_EDENIED);
	memset(big, 'a', sizeof(big));
	assert_int_equal(fa_secret_check(vector_b64, big, FA_MAX_PASSWORD + 1, &err), FA_EDENIED);
	assert_non_null(strstr(err.msg, "longer than 256 bytes"));
	/* at the cap: checked (and wrong) */
	assert_int_equal(fa_secret_check(vector_b64, big, FA_MAX_PASSWORD, &err), FA_EDENIED);
	assert_non_null(strstr(err.msg, "does not match"));
	/* a malformed hash is reported even when the secret is bad too */
	assert_int_equal(fa_secret_check("junk", "", 0, &err), FA_EINVAL);
}

static void test_check_dummy(void **state)
{
	struct fa_err err;

	(void)state;
	assert_int_equal(fa_secret_check_dummy("foobar", 6, &err), FA_EDENIED);
	assert_non_null(strstr(err.msg, "does not match"));
	assert_int_equal(fa_secret_check_dummy(NULL, 0, NULL), FA_EDENIED);
}

/* ---- hashing ------------------------------------------------------------- */

static void test_hash_roundtrip(void **state)
{
	char b64[FA_BCRYPT_B64_LEN + 1], b64b[FA_BCRYPT_B64_LEN + 1];
	char raw[FA_BCRYPT_LEN + 1], raw2[FA_BCRYPT_LEN + 1];
	struct fa_err err;

	(void)state;
	assert_int_equal(fa_secret_hash("s3cret", 6, 4, b64, raw, &err), FA_OK);
	assert_int_equal(strlen(b64), FA_BCRYPT_B64_LEN);
	assert_null(strchr(b64, '='));
	assert_true(strncmp(raw, "$2b$04$", 7) == 0);
	assert_int_equal(strlen(raw), FA_BCRYPT_LEN);
	assert_int_equal(fa_secret_hash_parse(b64, raw2, &err), FA_OK);
	assert_string_equal(raw, raw2);
	assert_int_equal(fa_secret_check(b64, "s3cret", 6, &err), FA_OK);
	assert_int_equal(fa_secret_check(raw, "s3cret", 6, &err), FA_OK);
	assert_int_equal(fa_secret_check(b64, "s3creT", 6, &err), FA_EDENIED);
	/* fresh salt every time */
	assert_int_equal(fa_secret_hash("s3cret", 6, 4, b64b, NULL, &err), FA_OK);
	assert_string_not_equal(b64, b64b);
	/* the default cost shows in the hash */
	assert_int_equal(fa_secret_hash("x", 1, FA_BCRYPT_COST_DEFAULT, b64, raw, &err), FA_OK);
	assert_true(strncmp(raw, "$2b$10$", 7) == 0);
}

static void test_hash_rejects(void **state)
{
	char b64[FA_BCRYPT_B64_LEN + 1];
	char s[FA_BCRYPT_MAX_SECRET + 1];
	struct fa_err err;

	(void)state;
	memset(s, 'p', sizeof(s));
	assert_int_equal(fa_secret_hash("", 0, 4, b64, NULL, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "empty"));
	assert_string_equal(b64, "");
	assert_int_equal(fa_secret_hash(s, FA_BCRYPT_MAX_SECRET + 1, 4, b64, NULL, &err),
			 FA_ETOOBIG);
	assert_non_null(strstr(err.msg, "longer than 72 bytes"));
	assert_int_equal(fa_secret_hash(s, FA_BCRYPT_MAX_SECRET, 4, b64, NULL, &err), FA_OK);
	assert_int_equal(fa_secret_check(b64, s, FA_BCRYPT_MAX_SECRET, &err), FA_OK);
	assert_int_equal(fa_secret_hash("a\0b", 3, 4, b64, NULL, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "NUL"));
	assert_int_equal(fa_secret_hash("abc", 3, 3, b64, NULL, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "cost 3 is outside 4..31"));
	assert_int_equal(fa_secret_hash("abc", 3, 32, b64, NULL, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "cost 32"));
}

/* ---- the check cache ------------------------------------------------------- */

static void test_cache_hit_skips_bcrypt(void **state)
{
	struct fa_secret_cache *c = fa_secret_cache_new(16, 60);
	struct fa_secret_cache_stats st;
	struct fa_err err;

	(void)state;
	assert_non_null(c);
	assert_int_equal(fa_secret_check_cached(c, "flytepropeller", vector_b64, "foobar", 6, &err),
			 FA_OK);
	fa_secret_cache_stats(c, &st);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.inserts, 1);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.capacity, 16);
	for (int i = 0; i < 5; i++)
		assert_int_equal(fa_secret_check_cached(c, "flytepropeller", vector_b64, "foobar", 6,
							&err), FA_OK);
	fa_secret_cache_stats(c, &st);
	assert_int_equal(st.misses, 1); /* no further bcrypt */
	assert_int_equal(st.hits, 5);
	assert_int_equal(st.entries, 1);
	/* the raw form of the same hash is the same hash: a hit */
	{
		char raw[FA_BCRYPT_LEN + 1];

		vector_raw(raw);
		assert_int_equal(fa_secret_check_cached(c, "flytepropeller", raw, "foobar", 6, &err),
				 FA_OK);
		fa_secret_cache_stats(c, &st);
		assert_int_equal(st.hits, 6);
	}
	fa_secret_cache_free(c);
	fa_secret_cache_free(NULL);
}

static void test_cache_wrong_secret_never_cached(void **state)
{
	struct fa_secret_cache *c = fa_secret_cache_new(16, 60);
	struct fa_secret_cache_stats st;
	struct fa_err err;

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fa_secret_check_cached(c, "cli", vector_b64, "foobaz", 6, &err),
				 FA_EDENIED);
		assert_non_null(strstr(err.msg, "does not match"));
	}
	fa_secret_cache_stats(c, &st);
	assert_int_equal(st.misses, 3); /* every guess paid bcrypt */
	assert_int_equal(st.inserts, 0);
	assert_int_equal(st.entries, 0);
	/* after a success, wrong guesses still go to bcrypt and still fail */
	assert_int_equal(fa_secret_check_cached(c, "cli", vector_b64, "foobar", 6, &err), FA_OK);
	assert_int_equal(fa_secret_check_cached(c, "cli", vector_b64, "foobaz", 6, &err),
			 FA_EDENIED);
	fa_secret_cache_stats(c, &st);
	assert_int_equal(st.misses, 5);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.inserts, 1);
	/* NUL truncation is not cached either */
	assert_int_equal(fa_secret_check_cached(c, "cli", vector_b64, "foobar\0x", 8, &err),
			 FA_EDENIED);
	/* over-long and empty never reach the cache */
	assert_int_equal(fa_secret_check_cached(c, "cli", vector_b64, "", 0, &err), FA_EDENIED);
	fa_secret_cache_free(c);
}

static void test_cache_changed_hash_misses(void **state)
{
	struct fa_secret_cache *c = fa_secret_cache_new(16, 60);
	struct fa_secret_cache_stats st;
	char other_same[FA_BCRYPT_B64_LEN + 1], other_diff[FA_BCRYPT_B64_LEN + 1];
	struct fa_err err;

	(void)state;
	assert_int_equal(fa_secret_hash("foobar", 6, 4, other_same, NULL, &err), FA_OK);
	assert_int_equal(fa_secret_hash("rotated", 7, 4, other_diff, NULL, &err), FA_OK);
	assert_int_equal(fa_secret_check_cached(c, "cli", vector_b64, "foobar", 6, &err), FA_OK);
	/* the client's hash was rotated to a new secret: the old one fails */
	assert_int_equal(fa_secret_check_cached(c, "cli", other_diff, "foobar", 6, &err),
			 FA_EDENIED);
	/* re-hashed with a new salt: a miss, then bcrypt says yes */
	assert_int_equal(fa_secret_check_cached(c, "cli", other_same, "foobar", 6, &err), FA_OK);
	fa_secret_cache_stats(c, &st);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.misses, 3);
	fa_secret_cache_free(c);
}

/* Without length prefixes ("a","bc") and ("ab","c") would share a key. */
static void test_cache_field_shifting(void **state)
{
	struct fa_secret_cache *c = fa_secret_cache_new(16, 60);
	struct fa_secret_cache_stats st;
	char h[FA_BCRYPT_B64_LEN + 1];
	struct fa_err err;

	(void)state;
	assert_int_equal(fa_secret_hash("bc", 2, 4, h, NULL, &err), FA_OK);
	assert_int_equal(fa_secret_check_cached(c, "a", h, "bc", 2, &err), FA_OK);
	assert_int_equal(fa_secret_check_cached(c, "ab", h, "c", 1, &err), FA_EDENIED);
	fa_secret_cache_stats(c, &st);
	assert_int_equal(st.hits, 0);
	/* and another client with the same hash and secret does not share it */
	assert_int_equal(fa_secret_check_cached(c, "b", h, "bc", 2, &err), FA_OK);
	fa_secret_cache_stats(c, &st);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.misses, 3);
	/* an over-long client id is refused */
	{
		char id[FA_MAX_ID + 2];

		memset(id, 'i', sizeof(id) - 1);
		id[sizeof(id) - 1] = '\0';
		assert_int_equal(fa_secret_check_cached(c, id, h, "bc", 2, &err), FA_EDENIED);
		assert_non_null(strstr(err.msg, "client id longer"));
	}
	fa_secret_cache_free(c);
}

static void test_cache_malformed_stored(void **state)
{
	struct fa_secret_cache *c = fa_secret_cache_new(4, 60);
	struct fa_secret_cache_stats st;
	struct fa_err err;

	(void)state;
	assert_int_equal(fa_secret_check_cached(c, "cli", "junk", "foobar", 6, &err), FA_EINVAL);
	assert_int_equal(fa_secret_check_cached(NULL, "cli", "junk", "foobar", 6, &err), FA_EINVAL);
	/* no cache: a plain check */
	assert_int_equal(fa_secret_check_cached(NULL, "cli", vector_b64, "foobar", 6, &err), FA_OK);
	assert_int_equal(fa_secret_check_cached(NULL, NULL, vector_b64, "foobaz", 6, &err),
			 FA_EDENIED);
	fa_secret_cache_stats(c, &st);
	assert_int_equal(st.misses, 0);
	assert_int_equal(st.entries, 0);
	fa_secret_cache_free(c);
}

static void test_cache_expiry(void **state)
{
	struct fa_secret_cache *c = fa_secret_cache_new(4, 1);
	struct fa_secret_cache_stats st;
	struct timespec ts = { 1, 100 * 1000 * 1000 };
	struct fa_err err;

	(void)state;
	assert_int_equal(fa_secret_check_cached(c, "cli", vector_b64, "foobar", 6, &err), FA_OK);
	assert_int_equal(fa_secret_check_cached(c, "cli", vector_b64, "foobar", 6, &err), FA_OK);
	fa_secret_cache_stats(c, &st);
	assert_int_equal(st.hits, 1);
	nanosleep(&ts, NULL);
	fa_secret_cache_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(fa_secret_check_cached(c, "cli", vector_b64, "foobar", 6, &err), FA_OK);
	fa_secret_cache_stats(c, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 2);
	fa_secret_cache_free(c);
}

static void test_cache_bounded_lru(void **state)
{
	struct fa_secret_cache *c = fa_secret_cache_new(2, 60);
	struct fa_secret_cache_stats st;
	char h[3][FA_BCRYPT_B64_LEN + 1];
	const char *sec[3] = { "s1", "s2", "s3" };
	struct fa_err err;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(fa_secret_hash(sec[i], 2, 4, h[i], NULL, &err), FA_OK);
	assert_int_equal(fa_secret_check_cached(c, "c", h[0], sec[0], 2, &err), FA_OK);
	assert_int_equal(fa_secret_check_cached(c, "c", h[1], sec[1], 2, &err), FA_OK);
	assert_int_equal(fa_secret_check_cached(c, "c", h[0], sec[0], 2, &err), FA_OK); /* hit */
	assert_int_equal(fa_secret_check_cached(c, "c", h[2], sec[2], 2, &err), FA_OK); /* evicts 1 */
	fa_secret_cache_stats(c, &st);
	assert_int_equal(st.capacity, 2);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 3);
	assert_int_equal(fa_secret_check_cached(c, "c", h[0], sec[0], 2, &err), FA_OK); /* hit */
	assert_int_equal(fa_secret_check_cached(c, "c", h[2], sec[2], 2, &err), FA_OK); /* hit */
	assert_int_equal(fa_secret_check_cached(c, "c", h[1], sec[1], 2, &err), FA_OK); /* miss */
	fa_secret_cache_stats(c, &st);
	assert_int_equal(st.hits, 3);
	assert_int_equal(st.misses, 4);
	assert_int_equal(st.entries, 2);
	fa_secret_cache_free(c);

	/* many entries in a larger cache never exceed its capacity */
	c = fa_secret_cache_new(20, 60);
	fa_secret_cache_stats(c, &st);
	assert_true(st.capacity <= 20 && st.capacity >= 16);
	for (int i = 0; i < 64; i++) {
		char id[16];

		snprintf(id, sizeof(id), "client%d", i);
		assert_int_equal(fa_secret_check_cached(c, id, h[0], sec[0], 2, &err), FA_OK);
	}
	fa_secret_cache_stats(c, &st);
	assert_true(st.entries <= st.capacity);
	assert_int_equal(st.inserts, 64);
	assert_int_equal(st.evictions, 64 - st.entries);
	fa_secret_cache_free(c);
}

static void test_cache_new_bad_args(void **state)
{
	(void)state;
	assert_null(fa_secret_cache_new(0, 60));
	assert_null(fa_secret_cache_new(16, 0));
	assert_null(fa_secret_cache_new(16, 86401));
	assert_null(fa_secret_cache_new((size_t)2 * 1024 * 1024, 60));
	fa_secret_cache_free(fa_secret_cache_new(1, 1));
}

struct thread_arg {
	struct fa_secret_cache *c;
	const char *stored;
	int ok;
};

static void *hammer(void *p)
{
	struct thread_arg *a = p;
	struct fa_err err;

	for (int i = 0; i < 50; i++) {
		const char *sec = (i % 5 == 4) ? "wrong" : "foobar";
		enum fa_rc want = (i % 5 == 4) ? FA_EDENIED : FA_OK;
		if (fa_secret_check_cached(a->c, "flytepropeller", a->stored, sec, strlen(sec), &err) ==
		    want)
			a->ok++;
	}
	return NULL;
}

static void test_cache_threads(void **state)
{
	struct fa_secret_cache *c = fa_secret_cache_new(64, 60);
	struct fa_secret_cache_stats st;
	struct thread_arg args[4];
	pthread_t t[4];
	char h[FA_BCRYPT_B64_LEN + 1];
	struct fa_err err;

	(void)state;
	assert_int_equal(fa_secret_hash("foobar", 6, 4, h, NULL, &err), FA_OK);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ c, h, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(args[i].ok, 50);
	}
	fa_secret_cache_stats(c, &st);
	assert_int_equal(st.hits + st.misses, 200);
	assert_true(st.misses >= 40); /* every wrong guess paid bcrypt */
	assert_int_equal(st.entries, 1);
	fa_secret_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bcrypt_vector),
		cmocka_unit_test(test_bcrypt_prefix_variants),
		cmocka_unit_test(test_bcrypt_malformed_stored),
		cmocka_unit_test(test_nul_byte_truncation),
		cmocka_unit_test(test_presented_bounds),
		cmocka_unit_test(test_check_dummy),
		cmocka_unit_test(test_hash_roundtrip),
		cmocka_unit_test(test_hash_rejects),
		cmocka_unit_test(test_cache_hit_skips_bcrypt),
		cmocka_unit_test(test_cache_wrong_secret_never_cached),
		cmocka_unit_test(test_cache_changed_hash_misses),
		cmocka_unit_test(test_cache_field_shifting),
		cmocka_unit_test(test_cache_malformed_stored),
		cmocka_unit_test(test_cache_expiry),
		cmocka_unit_test(test_cache_bounded_lru),
		cmocka_unit_test(test_cache_new_bad_args),
		cmocka_unit_test(test_cache_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
