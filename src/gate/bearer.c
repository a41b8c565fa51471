/* bearer.c -- reading a bearer token out of an Authorization-style header
 * value (RFC 6750 §2.1, RFC 9110 §11.4), strictly: one scheme, one token68,
 * nothing else. A header that two proxies joined ("Bearer a, Bearer b")
 * is malformed, not "the first one".
 */
#include <string.h>

#include "gate/gate.h"

/* RFC 7235 token68 characters before the '=' padding, as a table: the
 * scan runs over every byte of every bearer token on every request. */
static const bool token68[256] = {
	['-'] = true, ['.'] = true, ['_'] = true, ['~'] = true, ['+'] = true, ['/'] = true,
	['0'] = true, ['1'] = true, ['2'] = true, ['3'] = true, ['4'] = true, ['5'] = true,
	['6'] = true, ['7'] = true, ['8'] = true, ['9'] = true,
	['A'] = true, ['B'] = true, ['C'] = true, ['D'] = true, ['E'] = true, ['F'] = true,
	['G'] = true, ['H'] = true, ['I'] = true, ['J'] = true, ['K'] = true, ['L'] = true,
	['M'] = true, ['N'] = true, ['O'] = true, ['P'] = true, ['Q'] = true, ['R'] = true,
	['S'] = true, ['T'] = true, ['U'] = true, ['V'] = true, ['W'] = true, ['X'] = true,
	['Y'] = true, ['Z'] = true,
	['a'] = true, ['b'] = true, ['c'] = true, ['d'] = true, ['e'] = true, ['f'] = true,
	['g'] = true, ['h'] = true, ['i'] = true, ['j'] = true, ['k'] = true, ['l'] = true,
	['m'] = true, ['n'] = true, ['o'] = true, ['p'] = true, ['q'] = true, ['r'] = true,
	['s'] = true, ['t'] = true, ['u'] = true, ['v'] = true, ['w'] = true, ['x'] = true,
	['y'] = true, ['z'] = true,
};

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
	while (token68[(unsigned char)*p])
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
