/* fuzz_jose_jwks.c -- libFuzzer target for JWKS and JWK parsing: a fetched
 * JWKS comes from a remote issuer, and key files come from operators. The
 * input is parsed as a JWKS and, separately, as one JWK (private members
 * included, so the key pair check runs too). What parses must serialise and
 * parse back to the same keys. It must never crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jose/jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const struct fa_jwks *set)
{
	struct fa_jwks *back = NULL;
	char *text = NULL;
	size_t len = 0;

	if (fa_jwks_format(set, &text, &len, NULL) != FA_OK)
		return;
	if (fa_jwks_parse(text, len, &back, NULL) != FA_OK ||
	    fa_jwks_count(back) != fa_jwks_count(set))
		abort();
	for (size_t i = 0; i < fa_jwks_count(set); i++) {
		const struct fa_jwk *a = fa_jwks_key_get(set, i), *b = fa_jwks_key_get(back, i);

		if (strcmp(fa_jwk_thumbprint(a), fa_jwk_thumbprint(b)) != 0 ||
		    strcmp(fa_jwk_kid(a), fa_jwk_kid(b)) != 0 || fa_jwk_alg(a) != fa_jwk_alg(b) ||
		    fa_jwk_has_private(b))
			abort();
		if (!fa_jwks_find(set, fa_jwk_kid(a)))
			abort();
	}
	fa_jwks_free(back);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fa_jwks *set = NULL;
	struct fa_jwk *key = NULL;
	json_t *pub = NULL;

	if (fa_jwks_parse((const char *)data, size, &set, NULL) == FA_OK) {
		roundtrip(set);
		fa_jwks_free(set);
	}
	if (fa_jwk_parse((const char *)data, size, &key, NULL) == FA_OK) {
		if (fa_jwk_public_json(key, &pub, NULL) != FA_OK || json_object_get(pub, "d"))
			abort();
		json_decref(pub);
		fa_jwk_free(key);
	}
	return 0;
}
