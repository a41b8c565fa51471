/* fuzz_base_url.c -- libFuzzer target for base's URL grammar
 * (fa_url_parse), the loopback predicate, the redirect_uri rule and the
 * percent-decoder: the one copy of each that every module uses.
 *
 * Besides "no crash, no UB", it checks their promises on every input: an
 * accepted URL has a non-empty host and parts that lie inside the input in
 * order, with only visible ASCII and no '@' or '\' before the path; a URL
 * always matches itself as a redirect unless it has a fragment; decoding
 * never grows the text and always NUL-terminates.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_url(const char *s, size_t n)
{
	struct fa_url u;
	const char *why = NULL;

	if (fa_url_parse(s, n, &u, &why) != FA_OK) {
		if (!why || !*why)
			__builtin_trap();
		return;
	}
	if (u.host_len == 0 || u.host < s || u.host + u.host_len > s + n ||
	    u.rest + u.rest_len != s + n || u.path != u.rest || u.rest < u.host + u.host_len ||
	    memchr(s, '@', (size_t)(u.rest - s)) || (u.has_port && (u.port < 1 || u.port > 65535)))
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '\\')
			__builtin_trap();
	(void)fa_host_is_loopback(u.host, u.host_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *out = malloc(size + 1);
	size_t n = 0;

	if (!s || !out)
		goto out;
	memcpy(s, data, size);
	s[size] = '\0';
	check_url(s, size);
	(void)fa_host_is_loopback(s, size);
	if (strlen(s) == size) {
		/* A C string: the redirect rule reads it as such. */
		bool ok = fa_url_redirect_ok(s);

		if (ok != fa_url_redirect_match(s, s))
			__builtin_trap();
		(void)fa_url_redirect_match(s, "http://localhost/cb");
		(void)fa_url_redirect_match("http://127.0.0.1:8080/cb", s);
	}
	if (fa_pct_decode(s, size, FA_PCT_PLUS, out, &n) == FA_OK) {
		if (n > size || out[n] != '\0')
			__builtin_trap();
	} else if (n != 0 || out[0] != '\0') {
		__builtin_trap();
	}
out:
	free(s);
	free(out);
	return 0;
}
