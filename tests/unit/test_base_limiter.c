/* test_base_limiter.c -- keyed token buckets (limiter.c): a burst, then
 * refusals with the wait until the next token, refill over time, keys kept
 * apart, peek that takes nothing, and a full table that stays bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"

static void test_limiter_burst_and_refill(void **state)
{
	struct fa_limiter *l = fa_limiter_new(64, 3, 2.0);   /* 3, then 2 a second */
	int64_t wait = -1;

	(void)state;
	assert_non_null(l);
	for (int i = 0; i < 3; i++)
		assert_true(fa_limiter_take(l, "a", 1, 1000, &wait));
	assert_false(fa_limiter_take(l, "a", 1, 1000, &wait));
	assert_true(wait > 0 && wait <= 501);
	/* Another key has its own bucket. */
	assert_true(fa_limiter_take(l, "b", 1, 1000, NULL));
	/* peek takes nothing. */
	assert_false(fa_limiter_peek(l, "a", 1, 1200, &wait));
	assert_true(fa_limiter_peek(l, "a", 1, 1500, NULL));
	assert_true(fa_limiter_peek(l, "a", 1, 1500, NULL));
	assert_true(fa_limiter_take(l, "a", 1, 1500, NULL));
	assert_false(fa_limiter_take(l, "a", 1, 1500, NULL));
	/* Refill stops at the burst. */
	for (int i = 0; i < 3; i++)
		assert_true(fa_limiter_take(l, "a", 1, 100000, NULL));
	assert_false(fa_limiter_take(l, "a", 1, 100000, NULL));
	/* NULL limiter: no limit. */
	assert_true(fa_limiter_take(NULL, "a", 1, 0, NULL));
	fa_limiter_free(l);
	fa_limiter_free(NULL);
}

static void test_limiter_bounded(void **state)
{
	struct fa_limiter *l = fa_limiter_new(8, 1, 0.001);
	char key[32];
	int refused = 0;

	(void)state;
	assert_null(fa_limiter_new(4, 1, 1));
	assert_null(fa_limiter_new(64, 0.5, 1));
	assert_null(fa_limiter_new(64, 1, 0));
	assert_non_null(l);
	/* An empty bucket is kept over full ones when the set is full. */
	assert_true(fa_limiter_take(l, "victim", 6, 0, NULL));
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		(void)fa_limiter_peek(l, key, strlen(key), 0, NULL);
	}
	if (!fa_limiter_take(l, "victim", 6, 0, NULL))
		refused++;
	assert_int_equal(refused, 1);
	fa_limiter_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limiter_burst_and_refill),
		cmocka_unit_test(test_limiter_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
