/* failalloc.c -- the allocator that fails on demand (see failalloc.h).
 * The counter is process state on purpose: this is a single-threaded test
 * harness, never linked into flyteauth itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <yaml.h>

#include "failalloc.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__real_fa_arena_alloc(struct fa_arena *a, size_t n);
char *__real_fa_arena_strndup(struct fa_arena *a, const char *s, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void *__wrap_fa_arena_alloc(struct fa_arena *a, size_t n);
char *__wrap_fa_arena_strndup(struct fa_arena *a, const char *s, size_t n);

/* 0: off. Otherwise the allocations left before the one that fails. */
static long countdown;
/* Allocations counted since arming, and whether the failure happened. */
static long counted;
static int failed;

/* true when this allocation must fail. */
static int fail_now(void)
{
	if (countdown == 0)
		return 0;
	counted++;
	if (--countdown == 0) {
		failed = 1;
		return 1;
	}
	return 0;
}

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fail_now() ? NULL : __real_strndup(s, n);
}

void *__wrap_fa_arena_alloc(struct fa_arena *a, size_t n)
{
	return fail_now() ? NULL : __real_fa_arena_alloc(a, n);
}

char *__wrap_fa_arena_strndup(struct fa_arena *a, const char *s, size_t n)
{
	return fail_now() ? NULL : __real_fa_arena_strndup(a, s, n);
}

/* libyaml allocates through these exported functions; the executable's
 * definitions take their place. */
void *yaml_malloc(size_t size);
void *yaml_realloc(void *ptr, size_t size);
yaml_char_t *yaml_strdup(const yaml_char_t *str);

void *yaml_malloc(size_t size)
{
	return fail_now() ? NULL : __real_malloc(size ? size : 1);
}

void *yaml_realloc(void *ptr, size_t size)
{
	if (fail_now())
		return NULL;
	return ptr ? __real_realloc(ptr, size ? size : 1) : __real_malloc(size ? size : 1);
}

yaml_char_t *yaml_strdup(const yaml_char_t *str)
{
	if (!str)
		return NULL;
	return fail_now() ? NULL : (yaml_char_t *)__real_strdup((const char *)str);
}

static void *json_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

static void *ssl_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return fail_now() ? NULL : __real_malloc(n);
}

static void *ssl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return fail_now() ? NULL : __real_realloc(p, n);
}

static void ssl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

void failalloc_init(void)
{
	json_set_alloc_funcs(json_malloc, free);
	assert_int_equal(CRYPTO_set_mem_functions(ssl_malloc, ssl_realloc, ssl_free), 1);
}

size_t failalloc_loop(failalloc_op op, void *arg)
{
	struct fa_err err;
	enum fa_rc rc;
	size_t points = 0;

	fa_err_clear(&err);
	rc = op(arg, &err);
	if (rc != FA_OK)
		fail_msg("the operation fails without injected failures: %s", err.msg);
	for (long n = 1;; n++) {
		countdown = n;
		counted = 0;
		failed = 0;
		fa_err_clear(&err);
		rc = op(arg, &err);
		countdown = 0;
		if (!failed) {
			/* It made fewer than n allocations: every one was tried. */
			if (rc != FA_OK)
				fail_msg("failed without an injected failure: %s", err.msg);
			break;
		}
		points++;
		if (rc != FA_OK && (err.rc != rc || err.msg[0] == '\0'))
			fail_msg("allocation %ld failed: rc %d (%s) without a matching message \"%s\"",
				 n, (int)rc, fa_rc_str(rc), err.msg);
	}
	assert_true(points > 0);
	return points;
}
