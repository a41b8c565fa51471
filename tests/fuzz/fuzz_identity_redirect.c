/* fuzz_identity_redirect.c -- libFuzzer target for where identity may send
 * a browser: the open-redirect rule of /login and /logout's redirect_url
 * (fa_identity_redirect_check over base's fa_url_target_problem) and the
 * query-value escaping of the login URL (fa_identity_query_escape), both
 * from identity/identity_int.h.
 *
 * Its promises, checked on every input against two authorized origins
 * (https://flyte.example.com and http://127.0.0.1:8088): an accepted target
 * is visible ASCII without '\'; it is either a path ("/" not followed by
 * "/") or an absolute URL whose scheme and authority are, ignoring case,
 * exactly one of the origins' (the default port written out or not, the
 * host with or without DNS's trailing dot) -- no user info, no other host,
 * no other port. The escaped form holds only
 * unreserved characters, '/' and %XX, and decodes back to the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "identity/identity_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const origins[] = { "https://flyte.example.com", "http://127.0.0.1:8088" };

/* scheme://authority forms that are one of the origins. */
static const char *const same[] = {
	"https://flyte.example.com", "https://flyte.example.com:443", "http://127.0.0.1:8088",
};

static void check_accepted(const char *s, size_t n)
{
	size_t auth_end;
	const char *p;
	char norm[64], *dot;
	bool ok = false;

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '\\')
			__builtin_trap();
	if (s[0] == '/') {
		if (s[1] == '/')
			__builtin_trap();
		return;
	}
	p = strstr(s, "://");
	if (!p)
		__builtin_trap();
	auth_end = strcspn(p + 3, "/?#") + (size_t)(p + 3 - s);
	if (auth_end >= sizeof(norm))
		__builtin_trap();
	/* A host's one trailing dot (the root of DNS) names the same host. */
	memcpy(norm, s, auth_end);
	norm[auth_end] = '\0';
	dot = strrchr(norm, ':');
	dot = dot && dot > norm + (p + 3 - s) ? dot - 1 : norm + auth_end - 1;
	if (*dot == '.')
		memmove(dot, dot + 1, strlen(dot + 1) + 1);
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
		if (strcasecmp(norm, same[i]) == 0)
			ok = true;
	if (!ok)
		__builtin_trap();
}

static void check_escape(const char *s, size_t n)
{
	struct fa_arena *a = fa_arena_new(64 * 1024);
	char *e, *back;
	size_t blen = 0;

	if (!a)
		return;
	e = fa_identity_query_escape(a, s);
	if (e) {
		size_t elen = strlen(e);

		for (size_t i = 0; i < elen; i++) {
			char c = e[i];

			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			      (c >= '0' && c <= '9') || strchr("-._~/%", c)))
				__builtin_trap();
		}
		back = malloc(elen + 1);
		if (back) {
			if (fa_pct_decode(e, elen, 0, back, &blen) != FA_OK || blen != n ||
			    memcmp(back, s, n) != 0)
				__builtin_trap();
			free(back);
		}
	}
	fa_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	size_t n;

	if (size > FA_MAX_URL + 16)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	n = strlen(s);
	if (fa_identity_redirect_check(origins, 2, s, NULL) == FA_OK)
		check_accepted(s, n);
	check_escape(s, n);
	free(s);
	return 0;
}
