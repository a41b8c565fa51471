/* fuzz_remote_url.c -- libFuzzer target for the URL rules of outbound HTTP
 * (remote/url.c): which URLs flyteauth may fetch (fa_remote_url_check), how
 * a URL is shown in a message (fa_remote_url_redact) and flyteadmin's
 * baseUrl + metadataUrl join (fa_remote_url_join).
 *
 * Its promises, checked on every input (split at the first NUL into a base
 * and a reference): an accepted URL is an http:// or https:// URL (any
 * case) that
 * base's grammar accepts, with no '#', space or control byte; a redacted
 * URL fits its buffer, is printable ASCII, and shows no user info (no '@'
 * in its authority); a join fits its buffer or is refused,
 * and an absolute http(s) reference is taken as it is.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "remote/remote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_url(const char *s)
{
	size_t n = strlen(s);
	struct fa_url u;

	if (fa_remote_url_check(s, "url", NULL) != FA_OK)
		return;
	/* Schemes are case-insensitive (RFC 3986 §3.1); libcurl agrees. */
	if (strncasecmp(s, "http://", 7) != 0 && strncasecmp(s, "https://", 8) != 0)
		__builtin_trap();
	if (fa_url_parse(s, n, &u, NULL) != FA_OK || strchr(s, '#'))
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			__builtin_trap();
}

static void check_redact(const char *s, size_t cap)
{
	char out[256];
	const char *auth;

	memset(out, 'x', sizeof(out));
	fa_remote_url_redact(s, out, cap);
	if (memchr(out, '\0', cap) == NULL)
		__builtin_trap();
	for (const char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			__builtin_trap();
	auth = strstr(out, "://");
	if (auth && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0)) {
		auth += 3;
		if (memchr(auth, '@', strcspn(auth, "/")))
			__builtin_trap();
	}
}

static void check_join(const char *base, const char *ref)
{
	char out[FA_MAX_URL + 1];
	enum fa_rc rc;

	memset(out, 'x', sizeof(out));
	rc = fa_remote_url_join(base, ref, out, sizeof(out));
	if (rc != FA_OK) {
		if (rc != FA_ETOOBIG && rc != FA_EINVAL)
			__builtin_trap();
		return;
	}
	if (memchr(out, '\0', sizeof(out)) == NULL)
		__builtin_trap();
	if ((strncmp(ref, "http://", 7) == 0 || strncmp(ref, "https://", 8) == 0) &&
	    strcmp(out, ref) != 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	const char *ref;

	if (size > 2 * FA_MAX_URL)
		return 0;
	s = malloc(size + 2);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	s[size + 1] = '\0';
	ref = s + strlen(s) + 1;
	if (ref > s + size)
		ref = s + size + 1;
	check_url(s);
	check_redact(s, 8);
	check_redact(s, 128);
	check_join(s, ref);
	free(s);
	return 0;
}
