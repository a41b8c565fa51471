/* url.c -- the few URL rules the remote module needs: which URLs it may
 * fetch (base's URL grammar, fa_url_parse: absolute http/https, a host, no
 * user info that could leak into a log, no control characters, bounded;
 * and no fragment), how a URL may appear in a message (no query, no
 * credentials), the loopback test (base's one predicate), and flyteadmin's
 * baseUrl + metadataUrl join. libcurl parses the URL again when it fetches
 * it.
 */
#include <string.h>
#include <strings.h>

#include "remote/remote_int.h"

/* For display only: scheme, host[:port] and path of url, skipping any
 * user info, whatever else is wrong with it (fa_remote_url_redact shows
 * malformed URLs too). false when url does not even start like one. */
static bool display_parts(const char *url, const char **parts, size_t *lens)
{
	const char *auth, *end, *at;

	if (strncasecmp(url, "https://", 8) == 0) {
		parts[0] = "https://";
	} else if (strncasecmp(url, "http://", 7) == 0) {
		parts[0] = "http://";
	} else {
		return false;
	}
	lens[0] = strlen(parts[0]);
	auth = url + lens[0];
	end = auth + strcspn(auth, "/?#");
	while ((at = memchr(auth, '@', (size_t)(end - auth))) != NULL)
		auth = at + 1;
	parts[1] = auth;
	lens[1] = (size_t)(end - auth);
	parts[2] = end;
	lens[2] = strcspn(end, "?#");
	return true;
}

enum fa_rc fa_remote_url_check(const char *url, const char *what, struct fa_err *err)
{
	const char *why = NULL;
	struct fa_url u;
	char shown[128];
	size_t n;

	if (!url || !url[0])
		return fa_err_set(err, FA_EINVAL, "%s is empty", what);
	n = strnlen(url, FA_REMOTE_MAX_URL + 1);
	if (n > FA_REMOTE_MAX_URL)
		return fa_err_set(err, FA_EINVAL, "%s is longer than %d bytes", what,
				  FA_REMOTE_MAX_URL);
	fa_remote_url_redact(url, shown, sizeof(shown));
	/* Base's one URL grammar, which config check holds these URLs to. */
	if (fa_url_parse(url, n, &u, &why) != FA_OK) {
		if (!strncmp(why, "contains a space", 16) || !strncmp(why, "contains a non-ASCII", 20))
			return fa_err_set(err, FA_EINVAL,
					  "%s %s has a space, control or non-ASCII character", what,
					  shown);
		/* Credentials in a URL end up in logs and proxies. */
		if (!strncmp(why, "must not contain credentials", 28))
			return fa_err_set(err, FA_EINVAL, "%s %s must not carry user:password@",
					  what, shown);
		return fa_err_set(err, FA_EINVAL,
				  "%s %s is not an absolute http:// or https:// URL with a host", what,
				  shown);
	}
	if (u.fragment)
		return fa_err_set(err, FA_EINVAL, "%s %s must not have a #fragment", what, shown);
	return FA_OK;
}

bool fa_remote_url_is_https(const char *url)
{
	struct fa_url u;

	return url && fa_url_parse(url, strlen(url), &u, NULL) == FA_OK && u.https;
}

bool fa_remote_url_is_loopback(const char *url)
{
	struct fa_url u;

	return url && fa_url_parse(url, strlen(url), &u, NULL) == FA_OK &&
	       fa_host_is_loopback(u.host, u.host_len);
}

void fa_remote_url_redact(const char *url, char *out, size_t cap)
{
	size_t o = 0, n;
	const char *parts[3];
	size_t lens[3];

	if (cap == 0)
		return;
	out[0] = '\0';
	if (!url)
		return;
	if (!display_parts(url, parts, lens)) {
		/* Not a URL we understand: show its first characters only,
		 * up to anything that might start a query or credentials. */
		parts[0] = url;
		lens[0] = strcspn(url, "?#@");
		parts[1] = parts[2] = "";
		lens[1] = lens[2] = 0;
	}
	for (size_t p = 0; p < 3; p++) {
		for (size_t i = 0; i < lens[p]; i++) {
			unsigned char c = (unsigned char)parts[p][i];

			if (o + 1 >= cap)
				goto cut;
			out[o++] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
		}
	}
	out[o] = '\0';
	return;
cut:
	n = cap > 4 ? cap - 4 : 0;
	if (n) {
		memcpy(out + n, "...", 3);
		out[n + 3] = '\0';
	} else {
		out[cap - 1] = '\0';
	}
}

enum fa_rc fa_remote_url_join(const char *base, const char *ref, char *out, size_t cap)
{
	size_t lb;
	int n;

	if (strncmp(ref, "https://", 8) == 0 || strncmp(ref, "http://", 7) == 0)
		return fa_strlcpy(out, ref, cap);
	lb = strlen(base);
	if (lb && base[lb - 1] == '/')
		lb--;
	while (*ref == '/')
		ref++;
	n = snprintf(out, cap, "%.*s/%s", (int)lb, base, ref);
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			out[0] = '\0';
		return FA_ETOOBIG;
	}
	return FA_OK;
}
