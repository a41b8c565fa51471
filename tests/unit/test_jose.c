/* test_jose.c -- keys and key sets: RFC 7638 §3.1 and RFC 8037 A.1-A.3
 * vectors, generation, PEM and JWK import/export round trips, every key
 * rejection (weak RSA, wrong curve, malformed members, mismatched private
 * parts), and JWKS parsing (skipping what we cannot use), building and
 * serialising. Signatures are tested in test_jose_jws.c, claims in
 * test_jose_jwt.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "jose/jose.h"

#define B64 (FA_B64_URL | FA_B64_NOPAD)

/* RFC 7638 §3.1 */
#define RFC7638_N \
	"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJE" \
	"CPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q" \
	"vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6" \
	"WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
#define RFC7638_THUMB "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

/* RFC 8037 A.1-A.3 */
#define RFC8037_D "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define RFC8037_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define RFC8037_THUMB "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

/* RFC 7515 A.3 (P-256) */
#define RFC7515_EC_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define RFC7515_EC_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define RFC7515_EC_D "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"

/* RFC 7515 A.2 (RSA-2048) */
#define RFC7515_RSA_N \
	"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0B" \
	"m4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5" \
	"z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7a" \
	"GhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
#define RFC7515_RSA_D \
	"Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2N" \
	"XOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_" \
	"V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jT" \
	"j3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ"
#define RFC7515_RSA_CRT \
	"\"p\":\"4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_" \
	"Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc\"," \
	"\"q\":\"uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7Tje" \
	"LQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc\"," \
	"\"dp\":\"BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FO" \
	"Knu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0\"," \
	"\"dq\":\"h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U" \
	"0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU\"," \
	"\"qi\":\"IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5" \
	"cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U\""

static void expect_err(enum fa_rc rc, const struct fa_err *e, enum fa_rc want, const char *sub)
{
	if (rc != want || !strstr(e->msg, sub))
		print_error("got rc %d (%s) msg \"%s\"; want rc %d with \"%s\"\n", rc, fa_rc_str(rc),
			    e->msg, want, sub);
	assert_int_equal(rc, want);
	assert_non_null(strstr(e->msg, sub));
}

static struct fa_jwk *parse_ok(const char *json)
{
	struct fa_jwk *k = NULL;
	struct fa_err e;
	enum fa_rc rc = fa_jwk_parse(json, strlen(json), &k, &e);

	if (rc != FA_OK)
		print_error("parse failed: %s\n", e.msg);
	assert_int_equal(rc, FA_OK);
	assert_non_null(k);
	return k;
}

static void parse_fails(const char *json, enum fa_rc want, const char *sub)
{
	struct fa_jwk *k = (struct fa_jwk *)1;
	struct fa_err e;
	enum fa_rc rc = fa_jwk_parse(json, strlen(json), &k, &e);

	expect_err(rc, &e, want, sub);
	assert_null(k);
}

/* PEM text of an OpenSSL key, written by fn (caller frees). */
static char *pem_of(EVP_PKEY *pk, int kind)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;
	int ok;

	assert_non_null(b);
	if (kind == 0)
		ok = PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
	else if (kind == 1)
		ok = PEM_write_bio_PrivateKey_traditional(b, pk, NULL, NULL, 0, NULL, NULL);
	else if (kind == 2)
		ok = PEM_write_bio_PUBKEY(b, pk);
	else
		ok = PEM_write_bio_PrivateKey(b, pk, EVP_aes_128_cbc(), NULL, 0, NULL,
					      (void *)(uintptr_t)"pass");
	assert_int_equal(ok, 1);
	n = BIO_get_mem_data(b, &data);
	out = fa_strndup(data, (size_t)n);
	BIO_free(b);
	assert_non_null(out);
	return out;
}

static const char *member(const json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name));
}

/* ---- RFC vectors ----------------------------------------------------------- */

static void test_rfc7638_thumbprint(void **state)
{
	struct fa_jwk *k;

	(void)state;
	k = parse_ok("{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\",\"alg\":\"RS256\","
		     "\"kid\":\"2011-04-29\"}");
	assert_string_equal(fa_jwk_thumbprint(k), RFC7638_THUMB);
	/* A given kid is kept; the thumbprint does not replace it. */
	assert_string_equal(fa_jwk_kid(k), "2011-04-29");
	assert_int_equal(fa_jwk_alg(k), FA_JWS_RS256);
	assert_int_equal(fa_jwk_kty(k), FA_JWK_RSA);
	assert_string_equal(fa_jwk_kty_name(k), "RSA");
	assert_false(fa_jwk_has_private(k));
	fa_jwk_free(k);

	/* Without a kid, the kid is the thumbprint. */
	k = parse_ok("{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\"}");
	assert_string_equal(fa_jwk_kid(k), RFC7638_THUMB);
	fa_jwk_free(k);
}

static void test_rfc8037_ed25519_key(void **state)
{
	struct fa_jwk *k, *pub;
	json_t *j;
	struct fa_err e;
	char *text;

	(void)state;
	/* A.1 private key; A.2 its public key; A.3 the thumbprint. */
	k = parse_ok("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"" RFC8037_D "\",\"x\":\"" RFC8037_X "\"}");
	assert_true(fa_jwk_has_private(k));
	assert_int_equal(fa_jwk_alg(k), FA_JWS_EDDSA);
	assert_string_equal(fa_jws_alg_name(fa_jwk_alg(k)), "EdDSA");
	assert_string_equal(fa_jwk_kty_name(k), "OKP");
	assert_string_equal(fa_jwk_thumbprint(k), RFC8037_THUMB);
	assert_string_equal(fa_jwk_kid(k), RFC8037_THUMB);
	assert_int_equal(fa_jwk_public_json(k, &j, &e), FA_OK);
	text = json_dumps(j, JSON_COMPACT);
	assert_string_equal(text, "{\"kty\":\"OKP\",\"kid\":\"" RFC8037_THUMB "\",\"alg\":\"EdDSA\","
			    "\"use\":\"sig\",\"crv\":\"Ed25519\",\"x\":\"" RFC8037_X "\"}");
	free(text);
	json_decref(j);

	pub = parse_ok("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC8037_X "\"}");
	assert_false(fa_jwk_has_private(pub));
	assert_string_equal(fa_jwk_thumbprint(pub), RFC8037_THUMB);
	fa_jwk_free(pub);
	fa_jwk_free(k);
}

static void test_rfc7515_private_keys(void **state)
{
	struct fa_jwk *k;
	json_t *j;
	struct fa_err e;

	(void)state;
	/* A.2 with CRT members, then with d alone. */
	k = parse_ok("{\"kty\":\"RSA\",\"n\":\"" RFC7515_RSA_N "\",\"e\":\"AQAB\",\"d\":\"" RFC7515_RSA_D
		     "\"," RFC7515_RSA_CRT "}");
	assert_true(fa_jwk_has_private(k));
	assert_int_equal(fa_jwk_public_json(k, &j, &e), FA_OK);
	assert_string_equal(member(j, "n"), RFC7515_RSA_N);
	assert_string_equal(member(j, "e"), "AQAB");
	assert_string_equal(member(j, "use"), "sig");
	assert_string_equal(member(j, "alg"), "RS256");
	/* Never a private member in the public JWK. */
	assert_null(json_object_get(j, "d"));
	assert_null(json_object_get(j, "p"));
	assert_null(json_object_get(j, "qi"));
	json_decref(j);
	fa_jwk_free(k);

	k = parse_ok("{\"kty\":\"RSA\",\"n\":\"" RFC7515_RSA_N "\",\"e\":\"AQAB\",\"d\":\"" RFC7515_RSA_D "\"}");
	assert_true(fa_jwk_has_private(k));
	fa_jwk_free(k);

	/* A.3 */
	k = parse_ok("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" RFC7515_EC_X "\",\"y\":\"" RFC7515_EC_Y
		     "\",\"d\":\"" RFC7515_EC_D "\"}");
	assert_true(fa_jwk_has_private(k));
	assert_int_equal(fa_jwk_alg(k), FA_JWS_ES256);
	assert_int_equal(fa_jwk_public_json(k, &j, &e), FA_OK);
	assert_string_equal(member(j, "crv"), "P-256");
	assert_string_equal(member(j, "x"), RFC7515_EC_X);
	assert_string_equal(member(j, "y"), RFC7515_EC_Y);
	assert_null(json_object_get(j, "d"));
	json_decref(j);
	fa_jwk_free(k);
}

/* ---- generation and round trips ------------------------------------------------ */

static void roundtrip_alg(const char *alg, enum fa_jws_alg want, const char *kty)
{
	struct fa_jwk *k, *again, *pub;
	struct fa_err e;
	json_t *j;
	char *pem, *text;
	size_t len;

	assert_int_equal(fa_jwk_generate(alg, &k, &e), FA_OK);
	assert_int_equal(fa_jwk_alg(k), want);
	assert_string_equal(fa_jws_alg_name(fa_jwk_alg(k)), alg);
	assert_string_equal(fa_jwk_kty_name(k), kty);
	assert_true(fa_jwk_has_private(k));
	assert_string_equal(fa_jwk_kid(k), fa_jwk_thumbprint(k));
	assert_int_equal(strlen(fa_jwk_thumbprint(k)), FA_JWK_THUMBPRINT_LEN);

	/* Private PEM (PKCS#8) back to the same key. */
	assert_int_equal(fa_jwk_private_pem_dup(k, &pem, &len, &e), FA_OK);
	assert_int_equal(strlen(pem), len);
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
	assert_int_equal(fa_jwk_from_pem(pem, len, &again, &e), FA_OK);
	assert_true(fa_jwk_has_private(again));
	assert_string_equal(fa_jwk_thumbprint(again), fa_jwk_thumbprint(k));
	fa_free_secret(pem);
	fa_jwk_free(again);

	/* Public JWK back to a public key with the same kid. */
	assert_int_equal(fa_jwk_public_json(k, &j, &e), FA_OK);
	assert_string_equal(member(j, "kty"), kty);
	assert_string_equal(member(j, "kid"), fa_jwk_kid(k));
	assert_string_equal(member(j, "alg"), alg);
	assert_null(json_object_get(j, "d"));
	text = json_dumps(j, JSON_COMPACT);
	assert_non_null(text);
	/* Members come in the documented order. */
	assert_memory_equal(text, "{\"kty\":", 7);
	assert_int_equal(fa_jwk_parse(text, strlen(text), &pub, &e), FA_OK);
	assert_false(fa_jwk_has_private(pub));
	assert_string_equal(fa_jwk_kid(pub), fa_jwk_kid(k));
	assert_string_equal(fa_jwk_thumbprint(pub), fa_jwk_thumbprint(k));
	expect_err(fa_jwk_private_pem_dup(pub, &pem, NULL, &e), &e, FA_EINVAL, "no private part");
	assert_null(pem);
	free(text);
	json_decref(j);
	fa_jwk_free(pub);
	fa_jwk_free(k);
}

static void test_generate_roundtrip(void **state)
{
	(void)state;
	roundtrip_alg("RS256", FA_JWS_RS256, "RSA");
	roundtrip_alg("RS384", FA_JWS_RS384, "RSA");
	roundtrip_alg("RS512", FA_JWS_RS512, "RSA");
	roundtrip_alg("PS256", FA_JWS_PS256, "RSA");
	roundtrip_alg("PS384", FA_JWS_PS384, "RSA");
	roundtrip_alg("PS512", FA_JWS_PS512, "RSA");
	roundtrip_alg("ES256", FA_JWS_ES256, "EC");
	roundtrip_alg("ES384", FA_JWS_ES384, "EC");
	roundtrip_alg("EdDSA", FA_JWS_EDDSA, "OKP");
}

/* Where a key's alg comes from: the JWK's "alg" when it fits, else the
 * curve, else the caller's RSA default; never from a token. */
static void test_jwk_alg_binding(void **state)
{
	static const char *const rsa_algs[] = { "RS256", "RS384", "RS512", "PS256", "PS384", "PS512" };
	struct fa_jwk *k, *p384;
	struct fa_jwks *s;
	struct fa_err e;
	json_t *j;
	char buf[2048], *pem;
	size_t len;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(rsa_algs); i++) {
		enum fa_jws_alg a;

		snprintf(buf, sizeof(buf), "{\"kty\":\"RSA\",\"alg\":\"%s\",\"n\":\"" RFC7638_N
			 "\",\"e\":\"AQAB\"}", rsa_algs[i]);
		k = parse_ok(buf);
		assert_int_equal(fa_jws_alg_parse(rsa_algs[i], &a, &e), FA_OK);
		assert_true(fa_jws_alg_is_rsa(a));
		assert_int_equal(fa_jwk_alg(k), a);
		assert_null(fa_jwk_crv(k));
		/* The alg is not part of the thumbprint (RFC 7638 §3.2). */
		assert_string_equal(fa_jwk_thumbprint(k), RFC7638_THUMB);
		assert_int_equal(fa_jwk_public_json(k, &j, &e), FA_OK);
		assert_string_equal(member(j, "alg"), rsa_algs[i]);
		json_decref(j);
		fa_jwk_free(k);
	}
	assert_false(fa_jws_alg_is_rsa(FA_JWS_ES256));
	assert_false(fa_jws_alg_is_rsa(FA_JWS_EDDSA));

	/* A JWKS whose RSA keys carry no alg: the caller's default pins them,
	 * a key that names its alg keeps it. */
	snprintf(buf, sizeof(buf), "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"n\":\"" RFC7638_N
		 "\",\"e\":\"AQAB\"},{\"kty\":\"RSA\",\"kid\":\"b\",\"alg\":\"RS512\",\"n\":\""
		 RFC7638_N "\",\"e\":\"AQAB\"},{\"kty\":\"EC\",\"kid\":\"c\",\"crv\":\"P-256\",\"x\":\""
		 RFC7515_EC_X "\",\"y\":\"" RFC7515_EC_Y "\"}]}");
	assert_int_equal(fa_jwks_parse_rsa(buf, strlen(buf), FA_JWS_PS256, &s, &e), FA_OK);
	assert_int_equal(fa_jwk_alg(fa_jwks_find(s, "a")), FA_JWS_PS256);
	assert_int_equal(fa_jwk_alg(fa_jwks_find(s, "b")), FA_JWS_RS512);
	assert_int_equal(fa_jwk_alg(fa_jwks_find(s, "c")), FA_JWS_ES256);
	fa_jwks_free(s);
	assert_int_equal(fa_jwks_parse(buf, strlen(buf), &s, &e), FA_OK);
	assert_int_equal(fa_jwk_alg(fa_jwks_find(s, "a")), FA_JWS_RS256);
	fa_jwks_free(s);
	/* The RSA default must be an RSA alg. */
	expect_err(fa_jwks_parse_rsa(buf, strlen(buf), FA_JWS_ES256, &s, &e), &e, FA_EINVAL,
		   "must be an RSA alg");
	assert_null(s);

	/* P-384: generated, exported with crv P-384, reimported as ES384. */
	assert_int_equal(fa_jwk_generate("ES384", &p384, &e), FA_OK);
	assert_string_equal(fa_jwk_crv(p384), "P-384");
	assert_int_equal(fa_jwk_public_json(p384, &j, &e), FA_OK);
	assert_string_equal(member(j, "crv"), "P-384");
	assert_int_equal(strlen(member(j, "x")), 64);   /* 48 bytes, unpadded */
	assert_int_equal(strlen(member(j, "y")), 64);
	json_object_del(j, "alg");
	pem = json_dumps(j, JSON_COMPACT);
	k = parse_ok(pem);
	assert_int_equal(fa_jwk_alg(k), FA_JWS_ES384);
	assert_string_equal(fa_jwk_thumbprint(k), fa_jwk_thumbprint(p384));
	fa_jwk_free(k);
	free(pem);
	/* A P-384 key labelled ES256 is not usable. */
	json_object_set_new(j, "alg", json_string("ES256"));
	pem = json_dumps(j, JSON_COMPACT);
	parse_fails(pem, FA_EUNSUPPORTED, "JWK alg ES256 does not match the P-384 EC key it labels");
	free(pem);
	/* Coordinates of P-256 size on a P-384 key are malformed. */
	json_object_set_new(j, "x", json_string(RFC7515_EC_X));
	json_object_del(j, "alg");
	pem = json_dumps(j, JSON_COMPACT);
	parse_fails(pem, FA_EINVAL, "member \"x\" must be 48 bytes");
	free(pem);
	json_decref(j);

	/* PEM with an explicit alg: RSA takes any RSA alg; P-384 only ES384. */
	assert_int_equal(fa_jwk_private_pem_dup(p384, &pem, &len, &e), FA_OK);
	assert_int_equal(fa_jwk_from_pem_alg(pem, len, FA_JWS_ES384, &k, &e), FA_OK);
	assert_int_equal(fa_jwk_alg(k), FA_JWS_ES384);
	fa_jwk_free(k);
	assert_int_equal(fa_jwk_from_pem(pem, len, &k, &e), FA_OK);
	assert_int_equal(fa_jwk_alg(k), FA_JWS_ES384);
	fa_jwk_free(k);
	expect_err(fa_jwk_from_pem_alg(pem, len, FA_JWS_ES256, &k, &e), &e, FA_EUNSUPPORTED,
		   "an EC P-384 key cannot be used for ES256");
	expect_err(fa_jwk_from_pem_alg(pem, len, FA_JWS_PS256, &k, &e), &e, FA_EUNSUPPORTED,
		   "cannot be used for PS256");
	assert_null(k);
	fa_free_secret(pem);
	fa_jwk_free(p384);
}

static void test_generate_rejects(void **state)
{
	struct fa_jwk *k;
	struct fa_err e;

	(void)state;
	expect_err(fa_jwk_generate("none", &k, &e), &e, FA_EDENIED, "alg none");
	expect_err(fa_jwk_generate("HS256", &k, &e), &e, FA_EDENIED, "symmetric alg HS256");
	expect_err(fa_jwk_generate("ES512", &k, &e), &e, FA_EUNSUPPORTED, "not supported");
	/* alg names are case-sensitive (RFC 7515 §4.1.1). */
	expect_err(fa_jwk_generate("rs256", &k, &e), &e, FA_EUNSUPPORTED, "not supported");
	assert_null(k);
}

static void test_pem_formats(void **state)
{
	const char *types[] = { "RSA", "EC" };
	struct fa_jwk *k, *pub;
	struct fa_err e;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		EVP_PKEY *pk = i == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
				      : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		char *trad = pem_of(pk, 1), *spki = pem_of(pk, 2);

		/* PKCS#1 "RSA PRIVATE KEY" / SEC1 "EC PRIVATE KEY". */
		assert_non_null(strstr(trad, i == 0 ? "BEGIN RSA PRIVATE KEY" : "BEGIN EC PRIVATE KEY"));
		assert_int_equal(fa_jwk_from_pem(trad, strlen(trad), &k, &e), FA_OK);
		assert_true(fa_jwk_has_private(k));
		assert_string_equal(fa_jwk_kty_name(k), types[i]);
		/* SPKI public key. */
		assert_non_null(strstr(spki, "BEGIN PUBLIC KEY"));
		assert_int_equal(fa_jwk_from_pem(spki, strlen(spki), &pub, &e), FA_OK);
		assert_false(fa_jwk_has_private(pub));
		assert_string_equal(fa_jwk_thumbprint(pub), fa_jwk_thumbprint(k));
		fa_jwk_free(k);
		fa_jwk_free(pub);
		free(trad);
		free(spki);
		EVP_PKEY_free(pk);
	}
}

static void test_pem_rejects(void **state)
{
	struct fa_jwk *k;
	struct fa_err e;
	EVP_PKEY *pk;
	char *pem, *big;

	(void)state;
	/* RSA keys below 2048 bits. */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	pem = pem_of(pk, 0);
	expect_err(fa_jwk_from_pem(pem, strlen(pem), &k, &e), &e, FA_EUNSUPPORTED,
		   "RSA key of 1024 bits is too small (minimum 2048)");
	assert_null(k);
	free(pem);
	EVP_PKEY_free(pk);

	/* Wrong curve. */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	pem = pem_of(pk, 0);
	expect_err(fa_jwk_from_pem(pem, strlen(pem), &k, &e), &e, FA_EUNSUPPORTED,
		   "EC curve secp521r1 is not supported");
	free(pem);
	EVP_PKEY_free(pk);

	/* Key agreement keys are not signature keys. */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	pem = pem_of(pk, 0);
	expect_err(fa_jwk_from_pem(pem, strlen(pem), &k, &e), &e, FA_EUNSUPPORTED,
		   "key type X25519 is not supported");
	free(pem);
	EVP_PKEY_free(pk);

	/* Encrypted PEM: refused up front, never a passphrase prompt. */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	pem = pem_of(pk, 3);
	expect_err(fa_jwk_from_pem(pem, strlen(pem), &k, &e), &e, FA_EUNSUPPORTED, "encrypted");
	free(pem);
	EVP_PKEY_free(pk);

	expect_err(fa_jwk_from_pem("garbage", 7, &k, &e), &e, FA_EINVAL, "not a PEM private key");
	expect_err(fa_jwk_from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
				   57, &k, &e), &e, FA_EINVAL, "not a PEM");
	expect_err(fa_jwk_from_pem("", 0, &k, &e), &e, FA_EINVAL, "empty");
	big = calloc(1, FA_MAX_SECRET + 2);
	assert_non_null(big);
	memset(big, 'A', FA_MAX_SECRET + 1);
	expect_err(fa_jwk_from_pem(big, FA_MAX_SECRET + 1, &k, &e), &e, FA_ETOOBIG, "larger than");
	free(big);
}

/* ---- JWK rejections ---------------------------------------------------------- */

static void test_jwk_rejects_kind(void **state)
{
	(void)state;
	parse_fails("{\"n\":\"AQAB\"}", FA_EINVAL, "JWK has no kty");
	parse_fails("{\"kty\":7}", FA_EINVAL, "\"kty\" must be a string");
	parse_fails("{\"kty\":\"oct\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ\"}", FA_EUNSUPPORTED,
		    "kty oct is not supported");
	parse_fails("{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"}", FA_EUNSUPPORTED,
		    "EC curve P-521 is not supported");
	parse_fails("{\"kty\":\"EC\",\"x\":\"AA\",\"y\":\"AA\"}", FA_EINVAL, "EC JWK has no crv");
	parse_fails("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" RFC8037_X "\"}", FA_EUNSUPPORTED,
		    "OKP curve X25519 is not supported");
	parse_fails("{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"" RFC8037_X "\"}", FA_EUNSUPPORTED,
		    "OKP curve Ed448");
	parse_fails("{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\"}",
		    FA_EUNSUPPORTED, "use \"enc\" is not for signatures");
	parse_fails("{\"kty\":\"RSA\",\"key_ops\":[\"encrypt\"],\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\"}",
		    FA_EUNSUPPORTED, "key_ops allow neither sign nor verify");
	parse_fails("{\"kty\":\"RSA\",\"key_ops\":\"verify\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\"}",
		    FA_EINVAL, "key_ops must be an array");
	/* The key bounds the algorithm: an RSA key may not claim ES256, a
	 * P-256 key may not claim ES384, nobody may claim none or HS256. */
	parse_fails("{\"kty\":\"RSA\",\"alg\":\"ES256\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\"}",
		    FA_EUNSUPPORTED, "JWK alg ES256 does not match the RSA key it labels");
	parse_fails("{\"kty\":\"RSA\",\"alg\":\"HS256\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\"}",
		    FA_EUNSUPPORTED, "JWK alg HS256 is not supported");
	parse_fails("{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES384\",\"x\":\"" RFC7515_EC_X
		    "\",\"y\":\"" RFC7515_EC_Y "\"}",
		    FA_EUNSUPPORTED, "JWK alg ES384 does not match the P-256 EC key it labels");
	parse_fails("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"none\",\"x\":\"" RFC8037_X "\"}",
		    FA_EUNSUPPORTED, "JWK alg none is not supported");
	parse_fails("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"ES256\",\"x\":\"" RFC8037_X "\"}",
		    FA_EUNSUPPORTED, "does not match the Ed25519 OKP key");
	parse_fails("[1]", FA_EINVAL, "JWK is not a JSON object");
}

static void test_jwk_rejects_members(void **state)
{
	char kid[FA_JOSE_MAX_KID + 128];

	(void)state;
	parse_fails("{\"kty\":\"RSA\",\"e\":\"AQAB\"}", FA_EINVAL, "member \"n\" is missing");
	parse_fails("{\"kty\":\"RSA\",\"n\":5,\"e\":\"AQAB\"}", FA_EINVAL, "member \"n\" must be a string");
	parse_fails("{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB=\"}", FA_EINVAL,
		    "member \"e\" is not unpadded base64url");
	parse_fails("{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQ AB\"}", FA_EINVAL,
		    "member \"e\" is not unpadded base64url");
	parse_fails("{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"\"}", FA_EINVAL,
		    "member \"e\" is empty");
	/* e = 1 would make a forged "signature" trivially valid. */
	parse_fails("{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQ\"}", FA_EINVAL,
		    "public exponent must be odd");
	parse_fails("{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAA\"}", FA_EINVAL,
		    "public exponent must be odd");
	{
		/* A modulus over 8192 bits: unsupported (skipped in a JWKS). */
		char n[1401], big[1500];

		memset(n, 'A', sizeof(n) - 1);
		n[sizeof(n) - 1] = '\0';
		snprintf(big, sizeof(big), "{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"%s\"}", n);
		parse_fails(big, FA_EUNSUPPORTED, "RSA keys above 8192 bits are not supported");
	}
	parse_fails("{\"kty\":\"RSA\",\"n\":\"" RFC7515_RSA_N "\",\"e\":\"AQAB\",\"d\":\"" RFC7515_RSA_D
		    "\",\"p\":\"AQAB\"}", FA_EINVAL, "must carry all of p, q, dp, dq, qi or none");
	parse_fails("{\"kty\":\"RSA\",\"n\":\"" RFC7515_RSA_N "\",\"e\":\"AQAB\",\"d\":\"" RFC7515_RSA_D
		    "\",\"oth\":[]}", FA_EUNSUPPORTED, "multi-prime");
	/* d of another key: the private part must match the public one. */
	parse_fails("{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\",\"d\":\"" RFC7515_RSA_D "\"}",
		    FA_EINVAL, "RSA private key does not match its public members");
	parse_fails("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" RFC7515_EC_X "\",\"y\":\"" RFC7515_EC_Y
		    "\",\"d\":\"" RFC8037_D "\"}", FA_EINVAL, "EC private key does not match");
	parse_fails("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"" RFC7515_EC_D "\",\"x\":\"" RFC8037_X "\"}",
		    FA_EINVAL, "Ed25519 private key does not match x");
	/* EC coordinates are full length; a point off the curve is refused
	 * (invalid-curve attack). */
	parse_fails("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" RFC7515_EC_X "\",\"y\":\"AAAA\"}",
		    FA_EINVAL, "member \"y\" must be 32 bytes");
	parse_fails("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" RFC7515_EC_X "\",\"y\":\""
		    "y_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" "\"}",
		    FA_EINVAL, "do not form a valid EC key");
	parse_fails("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC7515_EC_X "AAAA\"}", FA_EINVAL,
		    "member \"x\" must be 32 bytes");
	parse_fails("{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\",\"kid\":3}", FA_EINVAL,
		    "member \"kid\" must be a string");
	parse_fails("{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\",\"kid\":\"\"}", FA_EINVAL,
		    "kid must be 1 to");
	memset(kid, 'k', sizeof(kid));
	snprintf(kid, sizeof(kid), "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\",\"kid\":\"%0*d\"}",
		 RFC8037_X, FA_JOSE_MAX_KID + 1, 0);
	parse_fails(kid, FA_EINVAL, "kid must be 1 to 256 characters");
}

static void test_jwk_rejects_json(void **state)
{
	static const char deep[] = "{\"a\":[[[[[[[[[[[[[[[[[[[[";
	struct fa_jwk *k;
	struct fa_err e;

	(void)state;
	/* Duplicate members: two parsers could see two different keys. */
	parse_fails("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC8037_X "\",\"x\":\"" RFC8037_X "\"}",
		    FA_EINVAL, "JWK is not valid JSON");
	parse_fails("{\"kty\":\"OKP\"", FA_EINVAL, "not valid JSON");
	parse_fails("{\"kty\":\"OKP\"} x", FA_EINVAL, "not valid JSON");
	parse_fails(deep, FA_EINVAL, "nests deeper than 16 levels");
	expect_err(fa_jwk_parse("{}", FA_MAX_JWKS + 1, &k, &e), &e, FA_ETOOBIG, "larger than");
}

static void test_jwk_dup_refcount(void **state)
{
	struct fa_jwk *k = parse_ok("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC8037_X "\"}");
	struct fa_jwk *d = fa_jwk_dup(k);

	(void)state;
	assert_ptr_equal(d, k);
	fa_jwk_free(k);
	/* Still alive through the second reference. */
	assert_string_equal(fa_jwk_thumbprint(d), RFC8037_THUMB);
	fa_jwk_free(d);
	fa_jwk_free(NULL);
}

/* ---- JWKS --------------------------------------------------------------------- */

/* base64url of an OpenSSL RSA key's modulus (test-side helper). */
static char *rsa_n_b64(EVP_PKEY *pk)
{
	BIGNUM *n = NULL;
	unsigned char buf[512];
	int len;
	char *out;

	assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n), 1);
	len = BN_bn2bin(n, buf);
	out = fa_b64_encode_dup(buf, (size_t)len, B64);
	BN_free(n);
	return out;
}

static void test_jwks_parse_skips(void **state)
{
	EVP_PKEY *weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	char *weak_n = rsa_n_b64(weak);
	struct fa_jwks *s;
	struct fa_err e;
	struct fa_buf b;
	const struct fa_jwk *k;

	(void)state;
	fa_buf_init(&b, FA_MAX_JWKS);
	assert_int_equal(fa_buf_appendf(&b,
		"{\"keys\":["
		"{\"kty\":\"oct\",\"k\":\"AAAA\"},"
		"{\"kty\":\"RSA\",\"kid\":\"rsa\",\"use\":\"sig\",\"n\":\"%s\",\"e\":\"AQAB\",\"d\":\"%s\",%s},"
		"{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"%s\",\"e\":\"AQAB\"},"
		"{\"kty\":\"RSA\",\"alg\":\"RS384\",\"n\":\"%s\",\"e\":\"AQAB\"},"
		"{\"kty\":\"RSA\",\"kid\":\"weak\",\"n\":\"%s\",\"e\":\"AQAB\"},"
		"{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"},"
		"{\"kty\":\"EC\",\"kid\":\"ec\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
		"{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"%s\"},"
		"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\",\"x5c\":[\"MIIB\"]}"
		"],\"extra\":true}",
		RFC7515_RSA_N, RFC7515_RSA_D, RFC7515_RSA_CRT, RFC7638_N, RFC7638_N, weak_n,
		RFC7515_EC_X, RFC7515_EC_Y, RFC8037_X, RFC8037_X), FA_OK);
	assert_int_equal(fa_jwks_parse(b.data, b.len, &s, &e), FA_OK);
	assert_int_equal(fa_jwks_count(s), 4);
	assert_int_equal(fa_jwks_skipped(s), 5);
	k = fa_jwks_find(s, "rsa");
	assert_non_null(k);
	assert_ptr_equal(k, fa_jwks_key_get(s, 0));
	/* A private member in a published set is never imported. */
	assert_false(fa_jwk_has_private(k));
	assert_int_equal(fa_jwk_alg(fa_jwks_find(s, "ec")), FA_JWS_ES256);
	/* An RSA key labelled RS384 is pinned to RS384. */
	assert_int_equal(fa_jwk_alg(fa_jwks_key_get(s, 1)), FA_JWS_RS384);
	assert_ptr_equal(fa_jwks_find(s, RFC8037_THUMB), fa_jwks_key_get(s, 3));
	assert_null(fa_jwks_find(s, "weak"));
	/* The same weak key given alone is refused with the reason. */
	fa_buf_reset(&b);
	assert_int_equal(fa_buf_appendf(&b, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}", weak_n),
			 FA_OK);
	parse_fails(b.data, FA_EUNSUPPORTED, "RSA key of 1024 bits is too small (minimum 2048)");
	assert_null(fa_jwks_find(s, "nope"));
	assert_null(fa_jwks_key_get(s, 4));
	fa_jwks_free(s);
	fa_buf_cleanup(&b);
	free(weak_n);
	EVP_PKEY_free(weak);
}

static void jwks_fails(const char *json, size_t len, enum fa_rc want, const char *sub)
{
	struct fa_jwks *s = (struct fa_jwks *)1;
	struct fa_err e;

	expect_err(fa_jwks_parse(json, len, &s, &e), &e, want, sub);
	assert_null(s);
}

static void jwks_fails_s(const char *json, enum fa_rc want, const char *sub)
{
	jwks_fails(json, strlen(json), want, sub);
}

static void test_jwks_rejects(void **state)
{
	struct fa_buf b;

	(void)state;
	jwks_fails("", 0, FA_EINVAL, "JWKS is empty");
	jwks_fails_s("{}", FA_EINVAL, "no \"keys\" array");
	jwks_fails_s("{\"keys\":{}}", FA_EINVAL, "no \"keys\" array");
	jwks_fails_s("[]", FA_EINVAL, "JWKS is not a JSON object");
	jwks_fails_s("{\"keys\":[],\"keys\":[]}", FA_EINVAL, "JWKS is not valid JSON");
	jwks_fails_s("{\"keys\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}", FA_EINVAL, "nests deeper");
	jwks_fails("{}", FA_MAX_JWKS + 1, FA_ETOOBIG, "larger than 262144 bytes");
	/* A malformed supported key means a corrupt set: fail, name the entry. */
	jwks_fails_s("{\"keys\":[{\"kty\":\"oct\"},{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}]}",
		   FA_EINVAL, "JWKS key 1: JWK member \"x\" must be 32 bytes");
	jwks_fails_s("{\"keys\":[7]}", FA_EINVAL, "JWKS key 0: JWK is not a JSON object");
	fa_buf_init(&b, FA_MAX_JWKS);
	assert_int_equal(fa_buf_appends(&b, "{\"keys\":["), FA_OK);
	for (int i = 0; i <= FA_JOSE_MAX_KEYS; i++)
		assert_int_equal(fa_buf_appends(&b, i ? ",{}" : "{}"), FA_OK);
	assert_int_equal(fa_buf_appends(&b, "]}"), FA_OK);
	jwks_fails(b.data, b.len, FA_ETOOBIG, "JWKS has 65 keys, more than 64");
	fa_buf_cleanup(&b);
}

static void test_jwks_build_and_format(void **state)
{
	struct fa_jwk *cur, *old, *pub;
	struct fa_jwks *s, *shared, *back;
	struct fa_err e;
	char *text, want[1024];
	json_t *j;
	size_t len;

	(void)state;
	assert_int_equal(fa_jwk_generate("RS256", &cur, &e), FA_OK);
	old = parse_ok("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"" RFC8037_D "\",\"x\":\"" RFC8037_X "\"}");
	assert_int_equal(fa_jwks_new(&s, &e), FA_OK);
	assert_int_equal(fa_jwks_count(s), 0);
	assert_int_equal(fa_jwks_add(s, cur, &e), FA_OK);
	assert_int_equal(fa_jwks_add(s, old, &e), FA_OK);
	expect_err(fa_jwks_add(s, old, &e), &e, FA_EEXIST, "already has a key with kid");
	assert_int_equal(fa_jwks_count(s), 2);
	assert_ptr_equal(fa_jwks_find(s, fa_jwk_kid(cur)), cur);

	assert_int_equal(fa_jwks_format(s, &text, &len, &e), FA_OK);
	assert_int_equal(strlen(text), len);
	/* Current key first, then the old one; public members only. */
	assert_non_null(strstr(text, fa_jwk_kid(cur)));
	assert_true(strstr(text, fa_jwk_kid(cur)) < strstr(text, RFC8037_THUMB));
	assert_null(strstr(text, "\"d\""));
	assert_null(strstr(text, RFC8037_D));
	snprintf(want, sizeof(want), "{\"kty\":\"OKP\",\"kid\":\"%s\",\"alg\":\"EdDSA\",\"use\":\"sig\","
		 "\"crv\":\"Ed25519\",\"x\":\"%s\"}]}", RFC8037_THUMB, RFC8037_X);
	assert_string_equal(text + len - strlen(want), want);
	assert_memory_equal(text, "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"", 29);

	/* What we publish parses back to the same keys. */
	assert_int_equal(fa_jwks_parse(text, len, &back, &e), FA_OK);
	assert_int_equal(fa_jwks_count(back), 2);
	assert_int_equal(fa_jwks_skipped(back), 0);
	pub = fa_jwk_dup(fa_jwks_key_get(back, 0));
	assert_string_equal(fa_jwk_thumbprint(pub), fa_jwk_thumbprint(cur));
	assert_false(fa_jwk_has_private(pub));
	fa_jwk_free(pub);
	fa_jwks_free(back);
	free(text);

	assert_int_equal(fa_jwks_public_json(s, &j, &e), FA_OK);
	assert_int_equal(json_array_size(json_object_get(j, "keys")), 2);
	json_decref(j);

	/* Once shared, a set no longer changes under its readers. */
	shared = fa_jwks_dup(s);
	assert_ptr_equal(shared, s);
	expect_err(fa_jwks_add(s, cur, &e), &e, FA_ECONFLICT, "shared");
	fa_jwks_free(shared);
	fa_jwks_free(s);
	fa_jwks_free(NULL);
	/* The keys outlive the set through their own references. */
	assert_true(fa_jwk_has_private(cur));
	fa_jwk_free(cur);
	fa_jwk_free(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7638_thumbprint),
		cmocka_unit_test(test_rfc8037_ed25519_key),
		cmocka_unit_test(test_rfc7515_private_keys),
		cmocka_unit_test(test_generate_roundtrip),
		cmocka_unit_test(test_generate_rejects),
		cmocka_unit_test(test_jwk_alg_binding),
		cmocka_unit_test(test_pem_formats),
		cmocka_unit_test(test_pem_rejects),
		cmocka_unit_test(test_jwk_rejects_kind),
		cmocka_unit_test(test_jwk_rejects_members),
		cmocka_unit_test(test_jwk_rejects_json),
		cmocka_unit_test(test_jwk_dup_refcount),
		cmocka_unit_test(test_jwks_parse_skips),
		cmocka_unit_test(test_jwks_rejects),
		cmocka_unit_test(test_jwks_build_and_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
