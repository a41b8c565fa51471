/* fuzz_http_cookie.c -- libFuzzer target for the Cookie header parser
 * (fa_http_cookies_parse) and the Set-Cookie formatter
 * (fa_http_set_cookie_format), both from the internal header
 * http/http_int.h.
 *
 * Parsing must keep its promises (at most FA_HTTP_MAX_COOKIES, token names,
 * cookie-octet values within FA_MAX_COOKIE, ambiguous names without a
 * value). Formatting a cookie built from the same bytes must either refuse
 * it or produce a header value with no CR, LF or other control character
 * (no header or attribute injection).
 */
#include <stdint.h>
#include <string.h>

#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_parse(struct fa_arena *a, const char *s, size_t n)
{
	struct fa_kvs kvs;

	if (fa_http_cookies_parse(a, s, n, &kvs, NULL) != FA_OK)
		return;
	if (kvs.n > FA_HTTP_MAX_COOKIES)
		__builtin_trap();
	for (size_t i = 0; i < kvs.n; i++) {
		const struct fa_kv *kv = &kvs.v[i];

		if (!fa_token_ok(kv->name, kv->name_len))
			__builtin_trap();
		if (!kv->value) {
			if (fa_http_kvs_get(&kvs, kv->name))
				__builtin_trap();
			continue;
		}
		if (kv->value_len > FA_MAX_COOKIE || strlen(kv->value) != kv->value_len)
			__builtin_trap();
		for (size_t k = 0; k < kv->value_len; k++) {
			unsigned char c = (unsigned char)kv->value[k];

			if (c < 0x21 || c > 0x7E || c == '"' || c == ',' || c == ';' || c == '\\')
				__builtin_trap();
		}
	}
}

/* Splits the input at NUL bytes into name, value, path, domain and uses
 * its first byte for the flags. */
static void check_format(struct fa_arena *a, const uint8_t *data, size_t size)
{
	const char *part[4] = { NULL, NULL, NULL, NULL };
	struct fa_cookie c;
	char *copy, *out = NULL;
	size_t i, k = 0;

	if (size < 1)
		return;
	copy = fa_arena_strndup(a, (const char *)data + 1, size - 1);
	if (!copy)
		return;
	part[k++] = copy;
	for (i = 0; i < size - 1 && k < 4; i++)
		if (copy[i] == '\0' && i + 1 < size - 1)
			part[k++] = copy + i + 1;
	c = (struct fa_cookie){
		.name = part[0],
		.value = part[1] ? part[1] : "",
		.path = part[2],
		.domain = part[3],
		.max_age = (data[0] & 3) == 0 ? -1 : (data[0] & 3) == 1 ? 0 : 3600,
		.http_only = data[0] & 4,
		.secure = data[0] & 8,
		.same_site = (enum fa_same_site)((data[0] >> 4) & 3),
	};
	if (fa_http_set_cookie_format(a, &c, &out, NULL) != FA_OK)
		return;
	if (!out || !fa_http_header_value_ok(out) || strncmp(out, c.name, strlen(c.name)) != 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fa_arena *a = fa_arena_new(FA_MAX_REQUEST_ARENA);

	if (!a)
		return 0;
	check_parse(a, (const char *)data, size);
	check_format(a, data, size);
	fa_arena_free(a);
	return 0;
}
