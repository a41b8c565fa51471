/* bearer.c -- reading a bearer token out of an Authorization-style header
 * value (RFC 6750 §2.1, RFC 9110 §11.4), strictly: one scheme, one token68,
 * nothing else. A header that two proxies joined ("Bearer a, Bearer b")
 * is malformed, not "the first one".
 */
#include <string.h>

#include "gate/gate.h"

static bool token68_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

enum fa_rc fa_gate_bearer_parse(const char *value, const char **token, size_t *len,
				struct fa_err *err)
{
	const char *p = value, *t;
	size_t n;

	*token = NULL;
	*len = 0;
	if (!value)
		return fa_err_set(err, FA_ENOTFOUND, "no credentials");
	/* Optional whitespace around a field value is not part of it. */
	while (*p == ' ' || *p == '\t')
		p++;
	if (!fa_strn_ieq(p, 6, "Bearer") || (p[6] != ' ' && p[6] != '\0'))
		return fa_err_set(err, FA_ENOTFOUND, "not a Bearer credential");
	p += 6;
	while (*p == ' ')
		p++;
	t = p;
	while (token68_char((unsigned char)*p))
		p++;
	while (*p == '=')
		p++;
	n = (size_t)(p - t);
	while (*p == ' ' || *p == '\t')
		p++;
	if (n == 0)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "Bearer credential without a token");
	if (*p != '\0')
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "Bearer credential must be exactly one token");
	if (n > FA_MAX_TOKEN)
		return fa_err_oauth(err, FA_ETOOBIG, "invalid_request",
				    "bearer token is longer than %d bytes", FA_MAX_TOKEN);
	*token = t;
	*len = n;
	return FA_OK;
}
