/* fuzz_gate_bearer.c -- libFuzzer target for the gate's credential parser
 * (fa_gate_credential_parse, fa_gate_bearer_parse: the Authorization /
 * flyte-authorization header of every protected request).
 *
 * Its promises, checked on every input: an accepted credential is a
 * non-empty token68 (RFC 7235: the token characters, then only '='
 * padding) of at most FA_MAX_TOKEN bytes lying inside the header value;
 * nothing follows it but blanks; the Bearer-only parser accepts exactly
 * what the general one accepts as Bearer, with the same token; and the
 * canonical form "Bearer <token>" parses to the same token.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gate/gate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool tchar68(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("-._~+/", c) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum fa_gate_scheme scheme = 0;
	const char *tok = NULL, *btok = NULL, *again = NULL;
	size_t len = 0, blen = 0, alen = 0, i;
	enum fa_rc rc, brc;
	char *s, *canon;

	if (size > 2 * FA_MAX_TOKEN)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	rc = fa_gate_credential_parse(s, &scheme, &tok, &len, NULL);
	brc = fa_gate_bearer_parse(s, &btok, &blen, NULL);
	if (rc != FA_OK) {
		if (tok || len || brc == FA_OK)
			__builtin_trap();
		goto out;
	}
	if (!tok || len == 0 || len > FA_MAX_TOKEN || tok < s || tok + len > s + strlen(s))
		__builtin_trap();
	for (i = 0; i < len && tchar68((unsigned char)tok[i]); i++)
		;
	if (i == 0)
		__builtin_trap();
	for (; i < len; i++)
		if (tok[i] != '=')
			__builtin_trap();
	for (const char *p = tok + len; *p; p++)
		if (*p != ' ' && *p != '\t')
			__builtin_trap();
	if ((scheme == FA_GATE_SCHEME_BEARER) != (brc == FA_OK))
		__builtin_trap();
	if (brc == FA_OK && (btok != tok || blen != len))
		__builtin_trap();
	canon = malloc(len + 8);
	if (!canon)
		goto out;
	memcpy(canon, "Bearer ", 7);
	memcpy(canon + 7, tok, len);
	canon[len + 7] = '\0';
	if (fa_gate_bearer_parse(canon, &again, &alen, NULL) != FA_OK || alen != len ||
	    memcmp(again, tok, len) != 0)
		__builtin_trap();
	free(canon);
out:
	free(s);
	return 0;
}
