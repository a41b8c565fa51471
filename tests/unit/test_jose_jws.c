/* test_jose_jws.c -- compact JWS: the RFC 7515 A.2/A.3 tokens verify with
 * their JWKs, RFC 8037 A.4 signs to the exact expected JWS, the RFC 7520
 * §4.2 PS384 signature verifies with its key pinned to PS384 and with no
 * other, every alg round trips, and every rejection is asserted by code and
 * message: alg none, downgrade and confusion attacks (an RS256-pinned key
 * given a genuine PS256 or RS384 signature of the same key pair, a P-256 key
 * given an ES384 token), embedded keys, crit, unknown kid versus bad
 * signature, signature lengths, malformed and oversized tokens. Ends with a
 * two-thread smoke test on one shared key.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "jose/jose_int.h"

#define B64 (FA_B64_URL | FA_B64_NOPAD)

/* RFC 7515 A.2 / A.3: header {"alg":...}, this payload. */
#define RFC7515_PAYLOAD \
	"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
#define RFC7515_PAYLOAD_TEXT \
	"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}"
#define RFC7515_RSA_N \
	"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0B" \
	"m4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5" \
	"z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7a" \
	"GhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
#define RFC7515_RS256 \
	"eyJhbGciOiJSUzI1NiJ9." RFC7515_PAYLOAD \
	".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7" \
	"AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4" \
	"BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K" \
	"0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv" \
	"hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB" \
	"p0igcN_IoypGlUPQGe77Rw"
#define RFC7515_EC_JWK \
	"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"," \
	"\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}"
#define RFC7515_ES256 \
	"eyJhbGciOiJFUzI1NiJ9." RFC7515_PAYLOAD \
	".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSA" \
	"pmWQxfKTUJqPP3-Kg6NU1Q"

/* RFC 8037 A.1 and A.4 */
#define RFC8037_JWK \
	"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"," \
	"\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"
#define RFC8037_INPUT "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
#define RFC8037_SIG \
	"hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"

/* RFC 7520 §3.4 (public part) and §4.2: a PS384 signature over a text
 * payload (PSS is randomised, so only verification has a fixed vector). */
#define RFC7520_RSA_N \
	"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCp" \
	"MaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfH" \
	"d1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLq" \
	"KnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw"
#define RFC7520_KID "bilbo.baggins@hobbiton.example"
#define RFC7520_PS384_INPUT \
	"eyJhbGciOiJQUzM4NCIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9." \
	"SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250" \
	"byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hl" \
	"cmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4"
#define RFC7520_PS384_SIG \
	"cu22eBqkYDKgIlTpzDXGvaFfz6WGoz7fUDcfT0kkOy42miAh2qyBzk1xEsnk2IpN6-tPid6VrklHkqsGqDqHCdP6O8TTB5" \
	"dDDItllVo6_1OLPpcbUrhiUSMxbbXUvdvWXzg-UD8biiReQFlfz28zGWVsdiNAUf8ZnyPEgVFn442ZdNqiVJRmBqrYRXe8" \
	"P_ijQ7p8Vdz0TTrxUeT3lm8d9shnr2lfJT8ImUjvAA2Xez2Mlp8cBE5awDzT0qI0n6uiP1aCN_2_jLAeQTlqRHtfa64QQS" \
	"UmFAAjVKPbByi7xho0uTOcbH510a6GYmJUAfmWjwZ6oD4ifKo8DYM-X72Eaw"

static void expect_err(enum fa_rc rc, const struct fa_err *e, enum fa_rc want, const char *sub)
{
	if (rc != want || !strstr(e->msg, sub))
		print_error("got rc %d (%s) msg \"%s\"; want rc %d with \"%s\"\n", rc, fa_rc_str(rc),
			    e->msg, want, sub);
	assert_int_equal(rc, want);
	assert_non_null(strstr(e->msg, sub));
}

static struct fa_jwk *key_json(const char *json)
{
	struct fa_jwk *k = NULL;
	struct fa_err e;

	if (fa_jwk_parse(json, strlen(json), &k, &e) != FA_OK)
		print_error("key: %s\n", e.msg);
	assert_non_null(k);
	return k;
}

static struct fa_jwk *key_gen(const char *alg)
{
	struct fa_jwk *k = NULL;
	struct fa_err e;

	assert_int_equal(fa_jwk_generate(alg, &k, &e), FA_OK);
	return k;
}

/* A set of the given keys (references taken). */
static struct fa_jwks *set_of(const struct fa_jwk *a, const struct fa_jwk *b)
{
	struct fa_jwks *s;
	struct fa_err e;

	assert_int_equal(fa_jwks_new(&s, &e), FA_OK);
	if (a)
		assert_int_equal(fa_jwks_add(s, a, &e), FA_OK);
	if (b)
		assert_int_equal(fa_jwks_add(s, b, &e), FA_OK);
	return s;
}

/* A token with any header, signed by key: what an attacker can make with
 * his own key, or what a broken issuer might send. */
static char *craft(const struct fa_jwk *key, const char *hdr, const char *payload)
{
	unsigned char sig[FA_JOSE_MAX_SIG_LEN];
	size_t sl;
	struct fa_buf b;
	char *h = fa_b64_encode_dup(hdr, strlen(hdr), B64);
	char *p = fa_b64_encode_dup(payload, strlen(payload), B64), *s;

	fa_buf_init(&b, 64 * 1024);
	assert_int_equal(fa_buf_appendf(&b, "%s.%s", h, p), FA_OK);
	assert_int_equal(fa_jose_sign_raw(key, b.data, b.len, sig, &sl, NULL), FA_OK);
	s = fa_b64_encode_dup(sig, sl, B64);
	assert_int_equal(fa_buf_appendf(&b, ".%s", s), FA_OK);
	free(h);
	free(p);
	free(s);
	return fa_buf_take(&b, NULL);
}

/* header.payload.<given signature text> */
static char *with_sig(const char *hdr, const char *payload, const char *sig)
{
	struct fa_buf b;
	char *h = fa_b64_encode_dup(hdr, strlen(hdr), B64);
	char *p = fa_b64_encode_dup(payload, strlen(payload), B64);

	fa_buf_init(&b, 64 * 1024);
	assert_int_equal(fa_buf_appendf(&b, "%s.%s.%s", h, p, sig), FA_OK);
	free(h);
	free(p);
	return fa_buf_take(&b, NULL);
}

static void verify_fails(const struct fa_jwks *s, unsigned algs, const char *tok,
			 enum fa_rc want, const char *sub)
{
	struct fa_jws j;
	struct fa_err e;

	fa_err_clear(&e);
	expect_err(fa_jws_verify(s, algs, tok, strlen(tok), &j, &e), &e, want, sub);
	assert_null(j.header);
	assert_null(j.payload);
	assert_null(j.raw);
}

/* ---- RFC vectors -------------------------------------------------------------- */

static void test_rfc7515_a2_rs256(void **state)
{
	struct fa_jwk *k = key_json("{\"kty\":\"RSA\",\"n\":\"" RFC7515_RSA_N "\",\"e\":\"AQAB\"}");
	struct fa_jwks *s = set_of(k, NULL);
	struct fa_jws j;
	struct fa_err e;
	char *bad;

	(void)state;
	assert_int_equal(fa_jws_verify(s, FA_JWS_ALGS_ALL, RFC7515_RS256, strlen(RFC7515_RS256), &j,
				       &e), FA_OK);
	assert_ptr_equal(j.key, k);
	assert_int_equal(j.raw_len, strlen(RFC7515_PAYLOAD_TEXT));
	assert_memory_equal(j.raw, RFC7515_PAYLOAD_TEXT, j.raw_len);
	assert_string_equal(json_string_value(json_object_get(j.payload, "iss")), "joe");
	assert_int_equal(json_integer_value(json_object_get(j.payload, "exp")), 1300819380);
	assert_string_equal(json_string_value(json_object_get(j.header, "alg")), "RS256");
	fa_jws_cleanup(&j);
	fa_jws_cleanup(&j);   /* safe twice */

	/* One flipped signature bit: the key is found, the signature fails. */
	bad = strdup(RFC7515_RS256);
	bad[strlen(bad) - 3] = bad[strlen(bad) - 3] == 'A' ? 'B' : 'A';
	verify_fails(s, FA_JWS_ALGS_ALL, bad, FA_ECRYPTO, "signature does not verify");
	free(bad);
	fa_jwks_free(s);
	fa_jwk_free(k);
}

static void test_rfc7515_a3_es256(void **state)
{
	struct fa_jwk *k = key_json(RFC7515_EC_JWK);
	struct fa_jwks *s = set_of(k, NULL);
	struct fa_jws j;
	struct fa_err e;

	(void)state;
	assert_int_equal(fa_jws_verify(s, FA_JWS_ALG_BIT(FA_JWS_ES256), RFC7515_ES256,
				       strlen(RFC7515_ES256), &j, &e), FA_OK);
	assert_memory_equal(j.raw, RFC7515_PAYLOAD_TEXT, j.raw_len);
	assert_true(json_is_true(json_object_get(j.payload, "http://example.com/is_root")));
	fa_jws_cleanup(&j);
	fa_jwks_free(s);
	fa_jwk_free(k);
}

static void test_rfc8037_a4_ed25519(void **state)
{
	struct fa_jwk *k = key_json(RFC8037_JWK);
	struct fa_jwks *s = set_of(k, NULL);
	unsigned char sig[FA_JOSE_MAX_SIG_LEN];
	size_t sl;
	char *b64, *tok;
	struct fa_err e;

	(void)state;
	/* Ed25519 is deterministic: the exact signature of the RFC. */
	assert_int_equal(fa_jose_sign_raw(k, RFC8037_INPUT, strlen(RFC8037_INPUT), sig, &sl, &e),
			 FA_OK);
	assert_int_equal(sl, 64);
	b64 = fa_b64_encode_dup(sig, sl, B64);
	assert_string_equal(b64, RFC8037_SIG);
	assert_int_equal(fa_jose_verify_raw(k, RFC8037_INPUT, strlen(RFC8037_INPUT), sig, sl, &e),
			 FA_OK);
	free(b64);

	/* The whole RFC JWS: the signature verifies, and only then is the
	 * payload (plain text, not JSON) refused as a JWT payload. */
	tok = strdup(RFC8037_INPUT "." RFC8037_SIG);
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "JWS payload is not valid JSON");
	tok[strlen(tok) - 2] = 'B';
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_ECRYPTO, "signature does not verify");
	free(tok);
	fa_jwks_free(s);
	fa_jwk_free(k);
}

static void test_rfc7520_ps384(void **state)
{
	static const char input[] = RFC7520_PS384_INPUT;
	static const char *const pins[] = { "PS384", "PS256", "PS512", "RS384" };
	unsigned char sig[FA_JOSE_MAX_SIG_LEN];
	char json[1024], *tok;
	struct fa_jwks *s;
	struct fa_err e;
	size_t sl, len;

	(void)state;
	assert_int_equal(fa_b64_decode(RFC7520_PS384_SIG, strlen(RFC7520_PS384_SIG), B64, sig,
				       sizeof(sig), &sl), FA_OK);
	for (size_t i = 0; i < ARRAY_LEN(pins); i++) {
		struct fa_jwk *k;

		snprintf(json, sizeof(json), "{\"kty\":\"RSA\",\"kid\":\"" RFC7520_KID
			 "\",\"alg\":\"%s\",\"n\":\"" RFC7520_RSA_N "\",\"e\":\"AQAB\"}", pins[i]);
		k = key_json(json);
		fa_err_clear(&e);
		if (i == 0) {
			assert_int_equal(fa_jwk_alg(k), FA_JWS_PS384);
			assert_int_equal(fa_jose_verify_raw(k, input, strlen(input), sig, sl, &e),
					 FA_OK);
			sig[10] ^= 1;
			expect_err(fa_jose_verify_raw(k, input, strlen(input), sig, sl, &e), &e,
				   FA_ECRYPTO, "signature does not verify");
			sig[10] ^= 1;
		} else {
			/* The same key pinned to another hash or padding. */
			expect_err(fa_jose_verify_raw(k, input, strlen(input), sig, sl, &e), &e,
				   FA_ECRYPTO, "signature does not verify");
		}
		fa_jwk_free(k);
	}
	/* Through fa_jws_verify, with the key pinned by the set's RSA
	 * default: the signature verifies, and only then is the payload (a
	 * sentence, not a JWT) refused. */
	snprintf(json, sizeof(json), "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"" RFC7520_KID
		 "\",\"n\":\"" RFC7520_RSA_N "\",\"e\":\"AQAB\"}]}");
	assert_int_equal(fa_jwks_parse_rsa(json, strlen(json), FA_JWS_PS384, &s, &e), FA_OK);
	len = strlen(input) + strlen(RFC7520_PS384_SIG) + 2;
	tok = malloc(len);
	assert_non_null(tok);
	snprintf(tok, len, "%s.%s", input, RFC7520_PS384_SIG);
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "JWS payload is not valid JSON");
	verify_fails(s, FA_JWS_ALGS_ALL & ~FA_JWS_ALG_BIT(FA_JWS_PS384), tok, FA_EDENIED,
		     "alg PS384 is not allowed here");
	fa_jwks_free(s);
	/* With the default RS256 the token's PS384 never meets a PS384 key. */
	assert_int_equal(fa_jwks_parse(json, strlen(json), &s, &e), FA_OK);
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EDENIED, "alg PS384 is not the alg RS256 of key");
	fa_jwks_free(s);
	free(tok);
}

/* ---- round trips ---------------------------------------------------------------- */

static void roundtrip(const char *alg)
{
	struct fa_jwk *k = key_gen(alg), *pub;
	struct fa_jwks *s;
	json_t *extra = json_pack("{s:s}", "key_id", fa_jwk_kid(k)), *pj;
	static const char payload[] = "{\"sub\":\"alice\",\"scp\":[\"all\"]}";
	char *tok, *tok2, *text;
	struct fa_jws j;
	struct fa_err e;

	/* Verify with the public half only, as a resource server does. */
	assert_int_equal(fa_jwk_public_json(k, &pj, &e), FA_OK);
	text = json_dumps(pj, JSON_COMPACT);
	pub = key_json(text);
	s = set_of(pub, NULL);
	assert_int_equal(fa_jws_sign(k, "at+jwt", extra, payload, strlen(payload), &tok, &e), FA_OK);
	assert_int_equal(fa_jws_verify(s, FA_JWS_ALGS_ALL, tok, strlen(tok), &j, &e), FA_OK);
	assert_ptr_equal(j.key, pub);
	assert_string_equal(json_string_value(json_object_get(j.header, "alg")), alg);
	assert_string_equal(json_string_value(json_object_get(j.header, "typ")), "at+jwt");
	assert_string_equal(json_string_value(json_object_get(j.header, "kid")), fa_jwk_kid(k));
	assert_string_equal(json_string_value(json_object_get(j.header, "key_id")), fa_jwk_kid(k));
	assert_int_equal(json_object_size(j.header), 4);
	assert_string_equal((const char *)j.raw, payload);
	fa_jws_cleanup(&j);

	/* Without typ and extras the header is alg and kid only. */
	assert_int_equal(fa_jws_sign(k, NULL, NULL, payload, strlen(payload), &tok2, &e), FA_OK);
	assert_int_equal(fa_jws_verify(s, FA_JWS_ALG_BIT(fa_jwk_alg(k)), tok2, strlen(tok2), &j, &e),
			 FA_OK);
	assert_int_equal(json_object_size(j.header), 2);
	fa_jws_cleanup(&j);
	free(tok2);

	/* A public key cannot sign. */
	expect_err(fa_jws_sign(pub, NULL, NULL, "{}", 2, &tok2, &e), &e, FA_EINVAL, "no private part");
	assert_null(tok2);
	free(tok);
	free(text);
	json_decref(pj);
	json_decref(extra);
	fa_jwks_free(s);
	fa_jwk_free(pub);
	fa_jwk_free(k);
}

static void test_roundtrip_all_algs(void **state)
{
	(void)state;
	roundtrip("RS256");
	roundtrip("RS384");
	roundtrip("RS512");
	roundtrip("PS256");
	roundtrip("PS384");
	roundtrip("PS512");
	roundtrip("ES256");
	roundtrip("ES384");
	roundtrip("EdDSA");
}

static void test_sign_rejects(void **state)
{
	struct fa_jwk *k = key_gen("EdDSA");
	json_t *bad = json_pack("{s:s}", "alg", "none"), *crit = json_pack("{s:[s]}", "crit", "exp");
	json_t *arr = json_array();
	char *tok, *big;
	struct fa_err e;

	(void)state;
	expect_err(fa_jws_sign(k, NULL, bad, "{}", 2, &tok, &e), &e, FA_EINVAL,
		   "extra JWS header must not set \"alg\"");
	expect_err(fa_jws_sign(k, NULL, crit, "{}", 2, &tok, &e), &e, FA_EINVAL, "must not set \"crit\"");
	expect_err(fa_jws_sign(k, NULL, arr, "{}", 2, &tok, &e), &e, FA_EINVAL, "not a JSON object");
	big = calloc(1, FA_MAX_TOKEN);
	memset(big, 'a', FA_MAX_TOKEN - 1);
	expect_err(fa_jws_sign(k, NULL, NULL, big, FA_MAX_TOKEN - 1, &tok, &e), &e, FA_ETOOBIG,
		   "JWS would exceed 8192 bytes");
	expect_err(fa_jws_sign(k, NULL, NULL, big, FA_MAX_TOKEN + 1, &tok, &e), &e, FA_ETOOBIG,
		   "payload is larger than");
	assert_null(tok);
	/* typ is escaped, not spliced raw into the header. */
	assert_int_equal(fa_jws_sign(k, "a\"b", NULL, "{}", 2, &tok, &e), FA_OK);
	{
		struct fa_jwks *s = set_of(k, NULL);
		struct fa_jws j;

		assert_int_equal(fa_jws_verify(s, FA_JWS_ALGS_ALL, tok, strlen(tok), &j, &e), FA_OK);
		assert_string_equal(json_string_value(json_object_get(j.header, "typ")), "a\"b");
		fa_jws_cleanup(&j);
		fa_jwks_free(s);
	}
	free(tok);
	free(big);
	json_decref(bad);
	json_decref(crit);
	json_decref(arr);
	fa_jwk_free(k);
}

/* ---- attacks ----------------------------------------------------------------------- */

static void test_alg_none(void **state)
{
	struct fa_jwk *k = key_gen("ES256");
	struct fa_jwks *s = set_of(k, NULL);
	char hdr[256], *tok;

	(void)state;
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"none\",\"kid\":\"%s\"}", fa_jwk_kid(k));
	tok = with_sig(hdr, "{\"sub\":\"admin\"}", "");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EDENIED, "alg none (unsigned token) is never accepted");
	free(tok);
	tok = with_sig("{\"alg\":\"NoNe\"}", "{\"sub\":\"admin\"}", "");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EDENIED, "alg none");
	free(tok);
	/* Even with a signature attached. */
	tok = with_sig("{\"alg\":\"none\"}", "{}", "AAAA");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EDENIED, "alg none");
	free(tok);
	fa_jwks_free(s);
	fa_jwk_free(k);
}

static void test_alg_downgrade(void **state)
{
	struct fa_jwk *rsa = key_gen("RS256"), *attacker = key_gen("ES256");
	struct fa_jwks *s = set_of(rsa, NULL);
	char hdr[256], *tok;

	(void)state;
	/* The token names our RSA key but claims ES256, signed with the
	 * attacker's EC key: the key's pinned alg wins. */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", fa_jwk_kid(rsa));
	tok = craft(attacker, hdr, "{\"sub\":\"admin\"}");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EDENIED, "alg ES256 is not the alg RS256 of key");
	free(tok);
	/* Outside the allowlist it never gets that far. */
	tok = craft(attacker, "{\"alg\":\"ES256\"}", "{}");
	verify_fails(s, FA_JWS_ALG_BIT(FA_JWS_RS256), tok, FA_EDENIED, "alg ES256 is not allowed here");
	/* Allowed, but no ES256 key: a lookup miss, not a signature check. */
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_ENOTFOUND, "no ES256 key in the key set");
	free(tok);
	/* Weaker algorithms of the same family are unknown to us. */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS1\",\"kid\":\"%s\"}", fa_jwk_kid(rsa));
	tok = with_sig(hdr, "{}", "AAAA");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EUNSUPPORTED, "alg \"RS1\" is not supported");
	free(tok);
	tok = with_sig("{\"alg\":\"ES512\"}", "{}", "AAAA");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EUNSUPPORTED, "alg \"ES512\" is not supported");
	free(tok);
	tok = with_sig("{\"alg\":\"rs256\"}", "{}", "AAAA");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EUNSUPPORTED, "not supported");
	free(tok);
	tok = with_sig("{\"alg\":256}", "{}", "AAAA");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "JWS header has no alg string");
	free(tok);
	tok = with_sig("{\"typ\":\"JWT\"}", "{}", "AAAA");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "JWS header has no alg string");
	free(tok);
	fa_jwks_free(s);
	fa_jwk_free(rsa);
	fa_jwk_free(attacker);
}

/* The key pair is the same, the signature genuine: only the pin differs.
 * An RS256-pinned key must refuse a PS256 or RS384 signature made by its
 * own private key (otherwise the token, not the key, would pick the alg). */
static struct fa_jwk *repin(const struct fa_jwk *k, enum fa_jws_alg alg)
{
	struct fa_jwk *out = NULL;
	struct fa_err e;
	char *pem;
	size_t len;

	assert_int_equal(fa_jwk_private_pem_dup(k, &pem, &len, &e), FA_OK);
	if (fa_jwk_from_pem_alg(pem, len, alg, &out, &e) != FA_OK)
		print_error("repin: %s\n", e.msg);
	assert_non_null(out);
	assert_int_equal(fa_jwk_alg(out), alg);
	/* Same key material, same thumbprint-derived kid. */
	assert_string_equal(fa_jwk_kid(out), fa_jwk_kid(k));
	fa_free_secret(pem);
	return out;
}

static void test_alg_pinned_per_key(void **state)
{
	struct fa_jwk *rs256 = key_gen("RS256"), *p256 = key_gen("ES256"), *p384 = key_gen("ES384");
	struct fa_jwk *as_ps256 = repin(rs256, FA_JWS_PS256), *as_rs384 = repin(rs256, FA_JWS_RS384);
	struct fa_jwks *s = set_of(rs256, p256), *s2;
	struct fa_jwk *bad = NULL;
	struct fa_err e;
	char hdr[256], *tok, *pem;
	size_t len;

	(void)state;
	/* Genuine PS256 and RS384 signatures by the RS256 key's own private
	 * part, naming its kid. */
	tok = NULL;
	assert_int_equal(fa_jws_sign(as_ps256, NULL, NULL, "{}", 2, &tok, &e), FA_OK);
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EDENIED, "alg PS256 is not the alg RS256 of key");
	free(tok);
	assert_int_equal(fa_jws_sign(as_rs384, NULL, NULL, "{}", 2, &tok, &e), FA_OK);
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EDENIED, "alg RS384 is not the alg RS256 of key");
	free(tok);
	/* The same, without a kid: no key of that alg at all. */
	tok = craft(as_ps256, "{\"alg\":\"PS256\"}", "{}");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_ENOTFOUND, "no PS256 key in the key set");
	free(tok);
	/* And the PS256-pinned copy accepts exactly PS256, not RS256. */
	s2 = set_of(as_ps256, NULL);
	assert_int_equal(fa_jws_sign(rs256, NULL, NULL, "{}", 2, &tok, &e), FA_OK);
	verify_fails(s2, FA_JWS_ALGS_ALL, tok, FA_EDENIED, "alg RS256 is not the alg PS256 of key");
	free(tok);
	fa_jwks_free(s2);

	/* An ES384 token naming our P-256 key's kid (signed with a P-384
	 * key): refused before any signature work. */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES384\",\"kid\":\"%s\"}", fa_jwk_kid(p256));
	tok = craft(p384, hdr, "{\"sub\":\"admin\"}");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EDENIED, "alg ES384 is not the alg ES256 of key");
	free(tok);
	tok = craft(p384, "{\"alg\":\"ES384\"}", "{}");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_ENOTFOUND, "no ES384 key in the key set");
	free(tok);

	/* A P-256 key cannot be made into an ES384 key, nor RSA into ES256. */
	assert_int_equal(fa_jwk_private_pem_dup(p256, &pem, &len, &e), FA_OK);
	expect_err(fa_jwk_from_pem_alg(pem, len, FA_JWS_ES384, &bad, &e), &e, FA_EUNSUPPORTED,
		   "an EC P-256 key cannot be used for ES384");
	fa_free_secret(pem);
	assert_int_equal(fa_jwk_private_pem_dup(rs256, &pem, &len, &e), FA_OK);
	expect_err(fa_jwk_from_pem_alg(pem, len, FA_JWS_ES256, &bad, &e), &e, FA_EUNSUPPORTED,
		   "an RSA key cannot be used for ES256");
	fa_free_secret(pem);
	assert_null(bad);

	fa_jwks_free(s);
	fa_jwk_free(as_ps256);
	fa_jwk_free(as_rs384);
	fa_jwk_free(p384);
	fa_jwk_free(p256);
	fa_jwk_free(rs256);
}

static void test_hs256_with_rsa_public_key(void **state)
{
	struct fa_jwk *rsa = key_gen("RS256");
	struct fa_jwks *s = set_of(rsa, NULL);
	json_t *pj;
	char hdr[256], *input, *tok, *mac64, *secret;
	unsigned char mac[32];
	size_t maclen = 0;
	struct fa_err e;

	(void)state;
	/* The classic confusion: HMAC keyed with the published public key. */
	assert_int_equal(fa_jwk_public_json(rsa, &pj, &e), FA_OK);
	secret = json_dumps(pj, JSON_COMPACT);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"kid\":\"%s\"}", fa_jwk_kid(rsa));
	input = with_sig(hdr, "{\"sub\":\"admin\"}", "");
	input[strlen(input) - 1] = '\0';
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, strlen(secret),
				  (unsigned char *)input, strlen(input), mac, sizeof(mac), &maclen));
	mac64 = fa_b64_encode_dup(mac, maclen, B64);
	tok = malloc(strlen(input) + strlen(mac64) + 2);
	snprintf(tok, strlen(input) + strlen(mac64) + 2, "%s.%s", input, mac64);
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EDENIED, "symmetric alg HS256 is never accepted");
	free(tok);
	tok = with_sig("{\"alg\":\"HS512\"}", "{}", "AAAA");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EDENIED, "symmetric alg HS512");
	free(tok);
	free(mac64);
	free(input);
	free(secret);
	json_decref(pj);
	fa_jwks_free(s);
	fa_jwk_free(rsa);
}

static void test_embedded_key_headers_ignored(void **state)
{
	static const char *const hdrs[] = { "jwk", "jku", "x5u", "x5c" };
	struct fa_jwk *ours = key_gen("ES256"), *attacker = key_gen("ES256");
	struct fa_jwks *s = set_of(ours, NULL);
	json_t *apub, *h;
	char *hdr, *tok;
	struct fa_err e;

	(void)state;
	assert_int_equal(fa_jwk_public_json(attacker, &apub, &e), FA_OK);
	for (size_t i = 0; i < ARRAY_LEN(hdrs); i++) {
		/* Attacker's key embedded or pointed at, no kid: only our key
		 * is tried, and the attacker's signature fails on it. */
		h = json_pack("{s:s}", "alg", "ES256");
		if (i == 0)
			json_object_set(h, "jwk", apub);
		else if (i == 3)
			json_object_set_new(h, "x5c", json_pack("[s]", "MIIBxTCCAWugAwIBAgIJ"));
		else
			json_object_set_new(h, hdrs[i], json_string("https://evil.example/jwks"));
		hdr = json_dumps(h, JSON_COMPACT);
		tok = craft(attacker, hdr, "{\"sub\":\"admin\"}");
		verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_ECRYPTO, "signature does not verify");
		free(tok);
		free(hdr);
		/* With the attacker's kid: no such key in our set. */
		json_object_set_new(h, "kid", json_string(fa_jwk_kid(attacker)));
		hdr = json_dumps(h, JSON_COMPACT);
		tok = craft(attacker, hdr, "{\"sub\":\"admin\"}");
		verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_ENOTFOUND, "no key with kid");
		free(tok);
		free(hdr);
		json_decref(h);
	}
	json_decref(apub);
	fa_jwks_free(s);
	fa_jwk_free(ours);
	fa_jwk_free(attacker);
}

static void test_crit_rejected(void **state)
{
	struct fa_jwk *k = key_gen("EdDSA");
	struct fa_jwks *s = set_of(k, NULL);
	char *tok;

	(void)state;
	/* Correctly signed, but with an extension we cannot honour. */
	tok = craft(k, "{\"alg\":\"EdDSA\",\"crit\":[\"exp\"],\"exp\":1363284000}", "{}");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EUNSUPPORTED, "crit is not supported");
	free(tok);
	tok = craft(k, "{\"alg\":\"EdDSA\",\"b64\":false,\"crit\":[\"b64\"]}", "{}");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EUNSUPPORTED, "crit");
	free(tok);
	fa_jwks_free(s);
	fa_jwk_free(k);
}

static void test_kid_selection(void **state)
{
	struct fa_jwk *a = key_gen("ES256"), *b = key_gen("ES256"), *r = key_gen("RS256");
	struct fa_jwks *s = set_of(a, b);
	struct fa_jws j;
	struct fa_err e;
	char hdr[256], *tok;

	(void)state;
	/* No kid: every key of the header's alg is tried, in order. */
	tok = craft(b, "{\"alg\":\"ES256\"}", "{\"n\":1}");
	assert_int_equal(fa_jws_verify(s, FA_JWS_ALGS_ALL, tok, strlen(tok), &j, &e), FA_OK);
	assert_ptr_equal(j.key, b);
	fa_jws_cleanup(&j);
	free(tok);

	/* Unknown kid (the caller may refresh its JWKS)... */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", fa_jwk_kid(r));
	tok = craft(r, hdr, "{}");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_ENOTFOUND, "no key with kid");
	free(tok);
	/* ...is not the same as a known kid with a bad signature. */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", fa_jwk_kid(a));
	tok = craft(b, hdr, "{}");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_ECRYPTO, "signature does not verify");
	free(tok);
	/* A kid is echoed only in a log-safe form. */
	tok = with_sig("{\"alg\":\"ES256\",\"kid\":\"a\\nb\\u0001<script>\"}", "{}", "AAAA");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_ENOTFOUND, "no key with kid \"a?b??script?\"");
	free(tok);
	tok = with_sig("{\"alg\":\"ES256\",\"kid\":7}", "{}", "AAAA");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "kid must be a string");
	free(tok);
	tok = with_sig("{\"alg\":\"ES256\",\"kid\":\"\"}", "{}", "AAAA");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "kid must be a string of 1 to");
	free(tok);
	fa_jwks_free(s);
	fa_jwk_free(a);
	fa_jwk_free(b);
	fa_jwk_free(r);
}

static void test_signature_lengths(void **state)
{
	struct fa_jwk *ec = key_gen("ES256"), *rsa = key_gen("RS256"), *ed = key_gen("EdDSA");
	struct fa_jwks *s = set_of(ec, rsa), *s2 = set_of(ed, NULL);
	unsigned char sig[80];
	char *b64, *tok;

	(void)state;
	memset(sig, 0x11, sizeof(sig));
	/* ES256 is raw R||S, exactly 64 bytes: not 63, not 65, not DER. */
	const size_t lens[] = { 63, 65, 70, 72 };
	for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
		b64 = fa_b64_encode_dup(sig, lens[i], B64);
		tok = with_sig("{\"alg\":\"ES256\"}", "{}", b64);
		verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "ES256 signature must be 64 bytes");
		free(tok);
		free(b64);
	}
	/* Right length, r = s = 0: refused by the ECDSA check itself. */
	memset(sig, 0, 64);
	b64 = fa_b64_encode_dup(sig, 64, B64);
	tok = with_sig("{\"alg\":\"ES256\"}", "{}", b64);
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_ECRYPTO, "signature does not verify");
	free(tok);
	free(b64);
	/* RSA: exactly the modulus size. */
	b64 = fa_b64_encode_dup(sig, 64, B64);
	tok = with_sig("{\"alg\":\"RS256\"}", "{}", b64);
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "RS256 signature must be 256 bytes, not 64");
	free(tok);
	tok = with_sig("{\"alg\":\"EdDSA\"}", "{}", "AAAA");
	verify_fails(s2, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "EdDSA signature must be 64 bytes, not 3");
	free(tok);
	free(b64);
	/* Longer than any key's signature. */
	tok = malloc(3000);
	memset(tok, 'A', 2999);
	tok[2999] = '\0';
	b64 = with_sig("{\"alg\":\"ES256\"}", "{}", tok);
	verify_fails(s, FA_JWS_ALGS_ALL, b64, FA_EINVAL, "JWS signature is too long");
	free(b64);
	free(tok);
	tok = with_sig("{\"alg\":\"ES256\"}", "{}", "");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "JWS has no signature");
	free(tok);
	fa_jwks_free(s);
	fa_jwks_free(s2);
	fa_jwk_free(ec);
	fa_jwk_free(rsa);
	fa_jwk_free(ed);
}

static void test_malformed_tokens(void **state)
{
	struct fa_jwk *k = key_gen("EdDSA");
	struct fa_jwks *s = set_of(k, NULL);
	char *good, *tok, *big;
	size_t n;
	struct fa_jws j;
	struct fa_err e;

	(void)state;
	assert_int_equal(fa_jws_sign(k, NULL, NULL, "{}", 2, &good, &e), FA_OK);
	n = strlen(good);
	verify_fails(s, FA_JWS_ALGS_ALL, "", FA_EINVAL, "token is empty");
	verify_fails(s, FA_JWS_ALGS_ALL, "abc", FA_EINVAL, "three parts");
	verify_fails(s, FA_JWS_ALGS_ALL, "a.b", FA_EINVAL, "three parts");
	verify_fails(s, FA_JWS_ALGS_ALL, "a.b.c.d", FA_EINVAL, "three parts");
	verify_fails(s, FA_JWS_ALGS_ALL, "..", FA_EINVAL, "JWS header is not unpadded base64url");
	verify_fails(s, FA_JWS_ALGS_ALL, "e30=.e30.AAAA", FA_EINVAL, "header is not unpadded base64url");
	verify_fails(s, FA_JWS_ALGS_ALL, "e3 0.e30.AAAA", FA_EINVAL, "header is not unpadded base64url");
	verify_fails(s, FA_JWS_ALGS_ALL, "e+0.e30.AAAA", FA_EINVAL, "header is not unpadded base64url");
	/* Header shapes. */
	tok = with_sig("[\"alg\"]", "{}", "AAAA");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "JWS header is not a JSON object");
	free(tok);
	tok = with_sig("{\"alg\":\"EdDSA\",\"alg\":\"none\"}", "{}", "AAAA");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "JWS header is not valid JSON");
	free(tok);
	tok = with_sig("{\"alg\":\"EdDSA\"", "{}", "AAAA");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "JWS header is not valid JSON");
	free(tok);
	tok = with_sig("{\"alg\":\"EdDSA\",\"x\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}", "{}", "AAAA");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "JWS header nests deeper than 16 levels");
	free(tok);
	/* Padded or non-alphabet signature and payload. */
	tok = malloc(n + 2);
	snprintf(tok, n + 2, "%s=", good);
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "signature is not unpadded base64url");
	free(tok);
	tok = strdup(good);
	strchr(tok, '.')[1] = '*';
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "payload is not unpadded base64url");
	free(tok);
	/* Payloads that are signed but not JSON objects. */
	tok = craft(k, "{\"alg\":\"EdDSA\"}", "[1,2]");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "JWS payload is not a JSON object");
	free(tok);
	tok = craft(k, "{\"alg\":\"EdDSA\"}", "{\"sub\":\"a\",\"sub\":\"admin\"}");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "JWS payload is not valid JSON");
	free(tok);
	tok = craft(k, "{\"alg\":\"EdDSA\"}", "");
	verify_fails(s, FA_JWS_ALGS_ALL, tok, FA_EINVAL, "JWS payload is not valid JSON");
	free(tok);
	/* Size bound, checked before anything else. */
	big = malloc(FA_MAX_TOKEN + 2);
	memset(big, 'A', FA_MAX_TOKEN + 1);
	big[FA_MAX_TOKEN + 1] = '\0';
	verify_fails(s, FA_JWS_ALGS_ALL, big, FA_ETOOBIG, "token is larger than 8192 bytes");
	free(big);
	/* A checker without keys or without an allowlist is a bug. */
	expect_err(fa_jws_verify(NULL, FA_JWS_ALGS_ALL, good, n, &j, &e), &e, FA_EINVAL,
		   "needs keys and a non-empty algorithm allowlist");
	expect_err(fa_jws_verify(s, 0, good, n, &j, &e), &e, FA_EINVAL, "non-empty algorithm allowlist");
	expect_err(fa_jws_verify(s, 1u << 12, good, n, &j, &e), &e, FA_EINVAL, "allowlist");
	/* The untouched token still verifies. */
	assert_int_equal(fa_jws_verify(s, FA_JWS_ALGS_ALL, good, n, &j, &e), FA_OK);
	fa_jws_cleanup(&j);
	free(good);
	fa_jwks_free(s);
	fa_jwk_free(k);
}

/* ---- threads ---------------------------------------------------------------------- */

struct worker {
	const struct fa_jwk *key;
	const struct fa_jwks *set;
	int ok;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	char payload[64], *tok;
	struct fa_jws j;
	struct fa_err e;

	for (int i = 0; i < 40; i++) {
		int n = snprintf(payload, sizeof(payload), "{\"i\":%d}", i);

		if (fa_jws_sign(w->key, "at+jwt", NULL, payload, (size_t)n, &tok, &e) != FA_OK)
			continue;
		if (fa_jws_verify(w->set, FA_JWS_ALGS_ALL, tok, strlen(tok), &j, &e) == FA_OK &&
		    json_integer_value(json_object_get(j.payload, "i")) == i)
			w->ok++;
		fa_jws_cleanup(&j);
		free(tok);
	}
	return NULL;
}

static void test_threads_share_one_key(void **state)
{
	const char *algs[] = { "RS256", "PS256", "ES256", "ES384", "EdDSA" };

	(void)state;
	for (size_t a = 0; a < ARRAY_LEN(algs); a++) {
		struct fa_jwk *k = key_gen(algs[a]);
		struct fa_jwks *s = set_of(k, NULL);
		struct fa_jwks *shared = fa_jwks_dup(s);
		struct worker w[2] = { { k, shared, 0 }, { k, shared, 0 } };
		pthread_t t[2];

		for (int i = 0; i < 2; i++)
			assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
		for (int i = 0; i < 2; i++)
			assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[0].ok, 40);
		assert_int_equal(w[1].ok, 40);
		fa_jwks_free(shared);
		fa_jwks_free(s);
		fa_jwk_free(k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7515_a2_rs256),
		cmocka_unit_test(test_rfc7515_a3_es256),
		cmocka_unit_test(test_rfc8037_a4_ed25519),
		cmocka_unit_test(test_rfc7520_ps384),
		cmocka_unit_test(test_roundtrip_all_algs),
		cmocka_unit_test(test_sign_rejects),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_alg_downgrade),
		cmocka_unit_test(test_alg_pinned_per_key),
		cmocka_unit_test(test_hs256_with_rsa_public_key),
		cmocka_unit_test(test_embedded_key_headers_ignored),
		cmocka_unit_test(test_crit_rejected),
		cmocka_unit_test(test_kid_selection),
		cmocka_unit_test(test_signature_lengths),
		cmocka_unit_test(test_malformed_tokens),
		cmocka_unit_test(test_threads_share_one_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
