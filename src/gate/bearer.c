/* bearer.c -- reading a credential out of an Authorization-style header
 * value (RFC 6750 §2.1, RFC 9110 §11.4), strictly: one scheme (`Bearer`,
 * or flyteadmin's `IDToken`), one token68, nothing else. A header that two
 * proxies joined ("Bearer a, Bearer b") is malformed, not "the first one".
 */
#include <string.h>

#include "gate/gate.h"

/* RFC 7235 token68 characters before the '=' padding, as a table: the
 * scan runs over every byte of every token on every request. */
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

static const struct {
	const char *name;
	size_t len;
	enum fa_gate_scheme scheme;
} schemes[] = {
	{ "Bearer", 6, FA_GATE_SCHEME_BEARER },
	{ "IDToken", 7, FA_GATE_SCHEME_IDTOKEN },
};

enum fa_rc fa_gate_credential_parse(const char *value, enum fa_gate_scheme *scheme,
				    const char **token, size_t *len, struct fa_err *err)
{
	const char *p = value, *t, *name = NULL;
	size_t n, chars;

	*token = NULL;
	*len = 0;
	if (!value)
		return fa_err_set(err, FA_ENOTFOUND, "no credentials");
	/* Optional whitespace around a field value is not part of it. */
	while (*p == ' ' || *p == '\t')
		p++;
	for (size_t i = 0; i < ARRAY_LEN(schemes) && !name; i++) {
		size_t k = schemes[i].len;

		if (fa_strn_ieq(p, k, schemes[i].name) && (p[k] == ' ' || p[k] == '\0')) {
			name = schemes[i].name;
			*scheme = schemes[i].scheme;
			p += k;
		}
	}
	if (!name)
		return fa_err_set(err, FA_ENOTFOUND, "not a Bearer or IDToken credential");
	while (*p == ' ')
		p++;
	t = p;
	while (token68[(unsigned char)*p])
		p++;
	chars = (size_t)(p - t);
	while (*p == '=')
		p++;
	n = (size_t)(p - t);
	while (*p == ' ' || *p == '\t')
		p++;
	/* token68 is 1*( ALPHA / DIGIT / ... ) *"=": padding alone is not one. */
	if (chars == 0 && n == 0)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "%s credential without a token", name);
	if (chars == 0 || *p != '\0')
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "%s credential must be exactly one token", name);
	if (n > FA_MAX_TOKEN)
		return fa_err_oauth(err, FA_ETOOBIG, "invalid_request",
				    "token is longer than %d bytes", FA_MAX_TOKEN);
	*token = t;
	*len = n;
	return FA_OK;
}

enum fa_rc fa_gate_bearer_parse(const char *value, const char **token, size_t *len,
				struct fa_err *err)
{
	enum fa_gate_scheme scheme = 0;
	enum fa_rc rc = fa_gate_credential_parse(value, &scheme, token, len, err);

	if (rc == FA_OK && scheme != FA_GATE_SCHEME_BEARER) {
		*token = NULL;
		*len = 0;
		return fa_err_set(err, FA_ENOTFOUND, "not a Bearer credential");
	}
	return rc;
}
