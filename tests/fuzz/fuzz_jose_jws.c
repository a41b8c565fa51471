/* fuzz_jose_jws.c -- libFuzzer target for compact JWS/JWT verification, the
 * parser every bearer token from the network goes through. The input is the
 * token; the keys are fixed public keys (RFC 7515 A.2 RSA, A.3 P-256,
 * RFC 8037 Ed25519, RFC 7520 §3.4 RSA pinned to PS384), so the header, key
 * selection, signature (PKCS#1 v1.5, PSS, ECDSA, EdDSA) and claim code all
 * run. It must never crash, leak or accept a token it cannot verify.
 */
#include <stdint.h>
#include <stdlib.h>

#include "jose/jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char keys[] =
	"{\"keys\":["
	"{\"kty\":\"RSA\",\"kid\":\"rsa\",\"e\":\"AQAB\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9"
	"k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ4"
	"7soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4"
	"uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4F"
	"RWyuXpoQ\"},"
	"{\"kty\":\"EC\",\"kid\":\"ec\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
	"\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
	"{\"kty\":\"OKP\",\"kid\":\"ed\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
	"{\"kty\":\"RSA\",\"kid\":\"bilbo.baggins@hobbiton.example\",\"alg\":\"PS384\",\"e\":\"AQAB\","
	"\"n\":\"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJ"
	"mSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfH"
	"d1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2"
	"BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw\"}"
	"]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const auds[] = { "joe", "flytepropeller" };
	struct fa_jwks *set = NULL;
	struct fa_jwt_rules rules;
	struct fa_jws jws;
	json_t *claims = NULL, *header = NULL;

	if (fa_jwks_parse(keys, sizeof(keys) - 1, &set, NULL) != FA_OK)
		abort();
	/* The JWS layer alone (the RFC tokens' payloads pass it)... */
	if (fa_jws_verify(set, FA_JWS_ALGS_ALL, (const char *)data, size, &jws, NULL) == FA_OK) {
		if (!json_is_object(jws.header) || !json_is_object(jws.payload) || !jws.key)
			abort();
		fa_jws_cleanup(&jws);
	}
	/* ...and with the claim checks, at a time the RFC tokens are valid:
	 * once with the defaults, once also requiring iss and aud. */
	fa_jwt_rules_init(&rules);
	rules.now = 1300819000;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			rules.issuer = "joe";
			rules.audiences = auds;
			rules.n_audiences = 2;
			rules.typ = "at+jwt";
		}
		if (fa_jwt_verify(set, &rules, (const char *)data, size, &claims, &header,
				  NULL) == FA_OK &&
		    (!json_is_object(claims) || !json_is_object(header)))
			abort();
		json_decref(claims);
		json_decref(header);
	}
	fa_jwks_free(set);
	return 0;
}
