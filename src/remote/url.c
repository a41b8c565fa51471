/* url.c -- the few URL rules the remote module needs: which URLs it may
 * fetch (absolute http/https, a host, no user info that could leak into a
 * log, no fragment, no control characters, bounded), how a URL may appear
 * in a message (no query, no credentials), the loopback test, and
 * flyteadmin's baseUrl + metadataUrl join.
 *
 * This is not a general RFC 3986 parser: it splits scheme, authority, path,
 * query and fragment, which is all the policy here looks at. libcurl parses
 * the URL again when it fetches it.
 */
#include <string.h>

#include "remote/remote_int.h"

enum fa_rc rm_url_split(const char *url, struct rm_url *u)
{
	const char *p, *auth, *end, *at;

	memset(u, 0, sizeof(*u));
	if (!url)
		return FA_EINVAL;
	if (strncmp(url, "https://", 8) == 0) {
		u->https = true;
		auth = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		auth = url + 7;
	} else {
		return FA_EINVAL;
	}
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	if (at) {
		u->has_userinfo = true;
		auth = at + 1;
	}
	u->authority = auth;
	u->authority_len = (size_t)(end - auth);
	if (auth[0] == '[') {
		const char *close = memchr(auth, ']', (size_t)(end - auth));

		if (!close)
			return FA_EINVAL;
		u->host = auth + 1;
		u->host_len = (size_t)(close - auth - 1);
		p = close + 1;
	} else {
		const char *colon = memchr(auth, ':', (size_t)(end - auth));

		u->host = auth;
		u->host_len = (size_t)((colon ? colon : end) - auth);
		p = colon ? colon : end;
	}
	if (u->host_len == 0)
		return FA_EINVAL;
	if (p < end) {
		/* :port, digits only */
		if (*p != ':' || p + 1 == end)
			return FA_EINVAL;
		for (const char *d = p + 1; d < end; d++)
			if (*d < '0' || *d > '9')
				return FA_EINVAL;
	}
	u->path = end;
	u->path_len = strcspn(end, "?#");
	u->has_query = end[u->path_len] == '?';
	u->has_fragment = strchr(end, '#') != NULL;
	return FA_OK;
}

enum fa_rc fa_remote_url_check(const char *url, const char *what, struct fa_err *err)
{
	struct rm_url u;
	char shown[128];
	size_t n;

	if (!url || !url[0])
		return fa_err_set(err, FA_EINVAL, "%s is empty", what);
	n = strnlen(url, FA_REMOTE_MAX_URL + 1);
	if (n > FA_REMOTE_MAX_URL)
		return fa_err_set(err, FA_EINVAL, "%s is longer than %d bytes", what,
				  FA_REMOTE_MAX_URL);
	fa_remote_url_redact(url, shown, sizeof(shown));
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];

		if (c <= 0x20 || c >= 0x7f)
			return fa_err_set(err, FA_EINVAL,
					  "%s %s has a space, control or non-ASCII character", what,
					  shown);
	}
	if (rm_url_split(url, &u) != FA_OK)
		return fa_err_set(err, FA_EINVAL,
				  "%s %s is not an absolute http:// or https:// URL with a host", what,
				  shown);
	/* Credentials in a URL end up in logs and proxies. */
	if (u.has_userinfo)
		return fa_err_set(err, FA_EINVAL, "%s %s must not carry user:password@", what,
				  shown);
	if (u.has_fragment)
		return fa_err_set(err, FA_EINVAL, "%s %s must not have a #fragment", what, shown);
	return FA_OK;
}

bool fa_remote_url_is_https(const char *url)
{
	return url && strncmp(url, "https://", 8) == 0;
}

/* Four octets of 1-3 digits, each <= 255. */
static bool dotted_quad(const char *s, size_t n)
{
	size_t octets = 0, i = 0;

	while (i < n) {
		unsigned v = 0;
		size_t digits = 0;

		while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return false;
		octets++;
		if (i == n)
			break;
		if (s[i] != '.' || ++i == n)
			return false;
	}
	return octets == 4;
}

bool fa_remote_url_is_loopback(const char *url)
{
	struct rm_url u;

	if (rm_url_split(url, &u) != FA_OK)
		return false;
	if (fa_strn_ieq(u.host, u.host_len, "localhost") || fa_strn_ieq(u.host, u.host_len, "::1"))
		return true;
	/* 127.0.0.0/8, four dotted decimal octets. */
	if (u.host_len < 7 || strncmp(u.host, "127.", 4) != 0)
		return false;
	return dotted_quad(u.host, u.host_len);
}

void fa_remote_url_redact(const char *url, char *out, size_t cap)
{
	struct rm_url u;
	size_t o = 0, n;
	const char *parts[3];
	size_t lens[3];

	if (cap == 0)
		return;
	out[0] = '\0';
	if (!url)
		return;
	if (rm_url_split(url, &u) != FA_OK) {
		/* Not a URL we understand: show its first characters only,
		 * up to anything that might start a query or credentials. */
		parts[0] = url;
		lens[0] = strcspn(url, "?#@");
		parts[1] = parts[2] = "";
		lens[1] = lens[2] = 0;
	} else {
		parts[0] = u.https ? "https://" : "http://";
		lens[0] = strlen(parts[0]);
		parts[1] = u.authority;
		lens[1] = u.authority_len;
		parts[2] = u.path;
		lens[2] = u.path_len;
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
