/* jws.c -- compact JWS (RFC 7515 §7.1) signing and verification with the
 * algorithm pinned to the key.
 *
 * Verification decides everything it can before touching a key: size,
 * shape (three strict base64url segments), a header that is a JSON object
 * without duplicates, an alg we implement and the caller allows, no crit.
 * Keys come only from the caller's set; jwk/jku/x5u/x5c headers are never
 * read, so a token cannot bring its own key. A key is used only when its
 * pinned alg equals the header's alg exactly (no RS256 key ever checks an
 * HS256 or ES256 token). "No key with that kid" (FA_ENOTFOUND, the caller may
 * refresh its JWKS) is kept apart from "bad signature" (FA_ECRYPTO).
 *
 * Signatures come from OpenSSL's EVP_DigestSign/Verify on the key parsed
 * once at load (PSS with the salt as long as the hash); ECDSA signatures are
 * converted between DER and the JOSE raw R||S form.
 * Signing allocates the output token and OpenSSL's per-call context; nothing
 * else.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "jose/jose_int.h"

#define B64 (FA_B64_URL | FA_B64_NOPAD)
/* DER ECDSA-Sig-Value: 3-byte SEQUENCE header + 2 * (2 + 49) for P-384. */
#define ECDSA_DER_MAX 112
/* Decoded header: 3/4 of the largest token. */
#define HEADER_MAX (FA_MAX_TOKEN / 4 * 3)

/* ---- raw signatures ------------------------------------------------------ */

/* The digest of alg; NULL for Ed25519, which is "pure" (hashes internally). */
static const char *alg_md(enum fa_jws_alg alg)
{
	switch (alg) {
	case FA_JWS_RS256:
	case FA_JWS_PS256:
	case FA_JWS_ES256:
		return "SHA256";
	case FA_JWS_RS384:
	case FA_JWS_PS384:
	case FA_JWS_ES384:
		return "SHA384";
	case FA_JWS_RS512:
	case FA_JWS_PS512:
		return "SHA512";
	case FA_JWS_EDDSA:
		return NULL;
	}
	return NULL;
}

static bool alg_is_pss(enum fa_jws_alg alg)
{
	return alg == FA_JWS_PS256 || alg == FA_JWS_PS384 || alg == FA_JWS_PS512;
}

static bool alg_is_ecdsa(enum fa_jws_alg alg)
{
	return alg == FA_JWS_ES256 || alg == FA_JWS_ES384;
}

static EVP_MD_CTX *md_ctx(const struct fa_jwk *key, bool sign)
{
	const char *md = alg_md(key->alg);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok;

	if (!ctx)
		return NULL;
	ok = sign ? EVP_DigestSignInit_ex(ctx, &pctx, md, NULL, NULL, key->pkey, NULL)
		  : EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, key->pkey, NULL);
	/* RFC 7518 §3.5: MGF1 with the same hash (OpenSSL's default) and a
	 * salt as long as the hash, required exactly when verifying. */
	if (ok == 1 && alg_is_pss(key->alg))
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
	if (ok != 1) {
		EVP_MD_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* DER ECDSA-Sig-Value to JOSE's R||S, each half n bytes (RFC 7518 §3.4). */
static enum fa_rc der_to_raw(const unsigned char *der, size_t len, size_t n, unsigned char *raw,
			     struct fa_err *err)
{
	const unsigned char *p = der;
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
	enum fa_rc rc = FA_OK;

	if (!s || BN_bn2binpad(ECDSA_SIG_get0_r(s), raw, (int)n) != (int)n ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(s), raw + n, (int)n) != (int)n)
		rc = fa_err_set(err, FA_ECRYPTO, "cannot convert the ECDSA signature");
	ECDSA_SIG_free(s);
	return rc;
}

/* R||S (2n bytes) to DER; *der is malloc'd by OpenSSL (OPENSSL_free). */
static enum fa_rc raw_to_der(const unsigned char *raw, size_t n, unsigned char **der, int *len,
			     struct fa_err *err)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, (int)n, NULL), *sv = BN_bin2bn(raw + n, (int)n, NULL);
	enum fa_rc rc = FA_OK;

	*der = NULL;
	if (!s || !r || !sv || !ECDSA_SIG_set0(s, r, sv)) {
		BN_free(r);
		BN_free(sv);
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	*len = i2d_ECDSA_SIG(s, der);
	if (*len <= 0)
		rc = fa_err_set(err, FA_ECRYPTO, "cannot encode the ECDSA signature");
out:
	ECDSA_SIG_free(s);
	return rc;
}

enum fa_rc fa_jose_sign_raw(const struct fa_jwk *key, const void *input, size_t len,
			    unsigned char *sig, size_t *siglen, struct fa_err *err)
{
	unsigned char der[ECDSA_DER_MAX];
	bool ecdsa = alg_is_ecdsa(key->alg);
	EVP_MD_CTX *ctx = NULL;
	size_t n;
	enum fa_rc rc = FA_OK;

	*siglen = 0;
	if (!key->has_private) {
		rc = fa_err_set(err, FA_EINVAL, "key %.64s has no private part to sign with",
				key->kid);
		goto out;
	}
	if (!(ctx = md_ctx(key, true))) {
		rc = fa_err_set(err, FA_ECRYPTO, "%s: cannot start signing",
				fa_jws_alg_name(key->alg));
		goto out;
	}
	n = ecdsa ? sizeof(der) : FA_JOSE_MAX_SIG_LEN;
	if (EVP_DigestSign(ctx, ecdsa ? der : sig, &n, input, len) != 1) {
		rc = fa_err_set(err, FA_ECRYPTO, "%s signing failed", fa_jws_alg_name(key->alg));
		goto out;
	}
	if (ecdsa) {
		if ((rc = der_to_raw(der, n, key->sig_len / 2, sig, err)) != FA_OK)
			goto out;
		n = key->sig_len;
	}
	*siglen = n;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return rc;
}

enum fa_rc fa_jose_verify_raw(const struct fa_jwk *key, const void *input, size_t len,
			      const unsigned char *sig, size_t siglen, struct fa_err *err)
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char *der = NULL;
	int derlen = 0;
	enum fa_rc rc = FA_OK;

	/* RFC 7518 §3.3-§3.5, RFC 8037 §3.1: the length is fixed by the key. */
	if (siglen != key->sig_len) {
		rc = fa_err_set(err, FA_EINVAL, "%s signature must be %zu bytes, not %zu",
				fa_jws_alg_name(key->alg), key->sig_len, siglen);
		goto out;
	}
	if (alg_is_ecdsa(key->alg)) {
		if ((rc = raw_to_der(sig, siglen / 2, &der, &derlen, err)) != FA_OK)
			goto out;
		sig = der;
		siglen = (size_t)derlen;
	}
	if (!(ctx = md_ctx(key, false))) {
		rc = fa_err_set(err, FA_ECRYPTO, "%s: cannot start verifying",
				fa_jws_alg_name(key->alg));
		goto out;
	}
	if (EVP_DigestVerify(ctx, sig, siglen, input, len) != 1)
		rc = fa_err_set(err, FA_ECRYPTO, "signature does not verify");
out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return rc;
}

/* ---- signing ------------------------------------------------------------- */

static bool reserved_header(const char *name)
{
	static const char *const names[] = { "alg", "typ", "kid", "crit" };

	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

/* {"alg":..,"typ":..,"kid":.. + extra members} into b. */
static enum fa_rc build_header(const struct fa_jwk *key, const char *typ,
			       const json_t *extra, struct fa_buf *b, struct fa_err *err)
{
	char ebuf[HEADER_MAX];
	const char *name;
	const json_t *v;
	size_t n;
	enum fa_rc rc;

	if (extra) {
		if (!json_is_object(extra))
			return fa_err_set(err, FA_EINVAL, "extra JWS header is not a JSON object");
		json_object_foreach((json_t *)(uintptr_t)extra, name, v) {
			if (reserved_header(name))
				return fa_err_set(err, FA_EINVAL,
						  "extra JWS header must not set \"%s\"", name);
		}
	}
	rc = fa_buf_appendf(b, "{\"alg\":\"%s\"", fa_jws_alg_name(key->alg));
	if (rc == FA_OK && typ) {
		rc = fa_buf_appends(b, ",\"typ\":");
		if (rc == FA_OK)
			rc = fa_buf_append_json(b, typ);
	}
	if (rc == FA_OK)
		rc = fa_buf_appends(b, ",\"kid\":");
	if (rc == FA_OK)
		rc = fa_buf_append_json(b, key->kid);
	if (rc == FA_OK && extra && json_object_size(extra) > 0) {
		/* json_dumpb only reads extra, so a shared header is safe. */
		n = json_dumpb(extra, ebuf, sizeof(ebuf), JSON_COMPACT);
		if (n < 2 || n > sizeof(ebuf))
			return fa_err_set(err, FA_ETOOBIG, "JWS header is too large");
		/* Splice its members: drop its braces, keep ours. */
		rc = fa_buf_appendc(b, ',');
		if (rc == FA_OK)
			rc = fa_buf_append(b, ebuf + 1, n - 2);
	}
	if (rc == FA_OK)
		rc = fa_buf_appendc(b, '}');
	if (rc != FA_OK)
		return fa_err_set(err, rc, "JWS header is too large");
	return FA_OK;
}

enum fa_rc fa_jws_sign(const struct fa_jwk *key, const char *typ, const json_t *extra_header,
		       const void *payload, size_t len, char **out, struct fa_err *err)
{
	struct fa_buf hdr;
	unsigned char sig[FA_JOSE_MAX_SIG_LEN];
	size_t hl, pl, sl, total, siglen = 0, o;
	char *tok = NULL;
	enum fa_rc rc;

	*out = NULL;
	fa_buf_init(&hdr, HEADER_MAX);
	if (!key->has_private) {
		rc = fa_err_set(err, FA_EINVAL, "key %.64s has no private part to sign with",
				key->kid);
		goto out;
	}
	if (len > FA_MAX_TOKEN) {
		rc = fa_err_set(err, FA_ETOOBIG, "JWS payload is larger than %d bytes",
				FA_MAX_TOKEN);
		goto out;
	}
	if ((rc = build_header(key, typ, extra_header, &hdr, err)) != FA_OK)
		goto out;
	/* Encoded sizes without their NUL; one allocation for the token. */
	hl = fa_b64_encoded_size(hdr.len, B64) - 1;
	pl = fa_b64_encoded_size(len, B64) - 1;
	sl = fa_b64_encoded_size(key->sig_len, B64) - 1;
	total = hl + 1 + pl + 1 + sl;
	if (total > FA_MAX_TOKEN) {
		rc = fa_err_set(err, FA_ETOOBIG, "JWS would exceed %d bytes", FA_MAX_TOKEN);
		goto out;
	}
	tok = malloc(total + 1);
	if (!tok) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	o = 0;
	if ((rc = fa_b64_encode(hdr.data, hdr.len, B64, tok, hl + 1)) != FA_OK)
		goto enc;
	o += hl;
	tok[o++] = '.';
	if ((rc = fa_b64_encode(payload, len, B64, tok + o, pl + 1)) != FA_OK)
		goto enc;
	o += pl;
	if ((rc = fa_jose_sign_raw(key, tok, o, sig, &siglen, err)) != FA_OK)
		goto out;
	tok[o++] = '.';
	if (siglen != key->sig_len ||
	    (rc = fa_b64_encode(sig, siglen, B64, tok + o, sl + 1)) != FA_OK)
		goto enc;
	*out = tok;
	tok = NULL;
	rc = FA_OK;
	goto out;
enc:
	rc = fa_err_set(err, FA_EINVAL, "cannot encode the JWS");
out:
	free(tok);
	fa_buf_cleanup(&hdr);
	return rc;
}

/* ---- verification ------------------------------------------------------- */

void fa_jws_cleanup(struct fa_jws *jws)
{
	if (!jws)
		return;
	json_decref(jws->header);
	json_decref(jws->payload);
	free(jws->raw);
	memset(jws, 0, sizeof(*jws));
}

/* Header policy; fills the alg and kid (borrowed from hdr, NULL if none). */
static enum fa_rc check_header(const json_t *hdr, unsigned algs, enum fa_jws_alg *alg,
			       const char **kid, struct fa_err *err)
{
	const json_t *a = json_object_get(hdr, "alg"), *k = json_object_get(hdr, "kid");
	enum fa_rc rc;

	*kid = NULL;
	if (!json_is_string(a))
		return fa_err_set(err, FA_EINVAL, "JWS header has no alg string");
	if ((rc = fa_jws_alg_parse(json_string_value(a), alg, err)) != FA_OK)
		return rc;
	if (!(algs & FA_JWS_ALG_BIT(*alg)))
		return fa_err_set(err, FA_EDENIED, "alg %s is not allowed here",
				  fa_jws_alg_name(*alg));
	/* RFC 7515 §4.1.11: an extension we do not understand must fail. */
	if (json_object_get(hdr, "crit"))
		return fa_err_set(err, FA_EUNSUPPORTED,
				  "JWS header crit is not supported (no extensions are)");
	if (k) {
		if (!json_is_string(k) || json_string_length(k) == 0 ||
		    json_string_length(k) > FA_JOSE_MAX_KID)
			return fa_err_set(err, FA_EINVAL, "JWS header kid must be a string of 1 to %d characters",
					  FA_JOSE_MAX_KID);
		*kid = json_string_value(k);
	}
	return FA_OK;
}

/* Keys to try, in set order. */
static enum fa_rc select_keys(const struct fa_jwks *keys, enum fa_jws_alg alg,
			      const char *kid, const struct fa_jwk **cand, size_t *ncand,
			      struct fa_err *err)
{
	size_t with_kid = 0;
	const struct fa_jwk *other = NULL;
	char safe[48];

	*ncand = 0;
	for (size_t i = 0; i < keys->n; i++) {
		const struct fa_jwk *k = keys->keys[i];

		if (kid && strcmp(k->kid, kid) != 0)
			continue;
		with_kid++;
		if (k->alg == alg)
			cand[(*ncand)++] = k;
		else
			other = k;
	}
	if (*ncand > 0)
		return FA_OK;
	if (kid && with_kid == 0) {
		fa_jose_safe_str(kid, safe, sizeof(safe));
		return fa_err_set(err, FA_ENOTFOUND, "no key with kid \"%s\"", safe);
	}
	if (kid)
		/* The token names our key but another alg: downgrade/confusion. */
		return fa_err_set(err, FA_EDENIED, "alg %s is not the alg %s of key \"%.48s\"",
				  fa_jws_alg_name(alg), fa_jws_alg_name(other->alg), other->kid);
	return fa_err_set(err, FA_ENOTFOUND, "no %s key in the key set (token has no kid)",
			  fa_jws_alg_name(alg));
}

enum fa_rc fa_jws_verify(const struct fa_jwks *keys, unsigned algs, const char *token,
			 size_t len, struct fa_jws *out, struct fa_err *err)
{
	char hbuf[HEADER_MAX];
	unsigned char sig[FA_JOSE_MAX_SIG_LEN];
	const struct fa_jwk *cand[FA_JOSE_MAX_KEYS];
	const char *d1, *d2, *kid;
	size_t hl, sl, ncand;
	enum fa_jws_alg alg;
	struct fa_jws r = { 0 };
	enum fa_rc rc;

	memset(out, 0, sizeof(*out));
	if (!keys || algs == 0 || (algs & ~FA_JWS_ALGS_ALL)) {
		rc = fa_err_set(err, FA_EINVAL, "JWS verification needs keys and a non-empty algorithm allowlist");
		goto out;
	}
	if (!token || len == 0) {
		rc = fa_err_set(err, FA_EINVAL, "token is empty");
		goto out;
	}
	if (len > FA_MAX_TOKEN) {
		rc = fa_err_set(err, FA_ETOOBIG, "token is larger than %d bytes", FA_MAX_TOKEN);
		goto out;
	}
	d1 = memchr(token, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
	if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token))) {
		rc = fa_err_set(err, FA_EINVAL, "token is not a compact JWS (three parts)");
		goto out;
	}
	if (fa_b64_decode(token, (size_t)(d1 - token), B64, (unsigned char *)hbuf,
			  sizeof(hbuf), &hl) != FA_OK || hl == 0) {
		rc = fa_err_set(err, FA_EINVAL, "JWS header is not unpadded base64url");
		goto out;
	}
	if ((rc = fa_json_load(hbuf, hl, "JWS header", &r.header, err)) != FA_OK)
		goto out;
	if ((rc = check_header(r.header, algs, &alg, &kid, err)) != FA_OK ||
	    (rc = select_keys(keys, alg, kid, cand, &ncand, err)) != FA_OK)
		goto out;
	rc = fa_b64_decode(d2 + 1, len - (size_t)(d2 + 1 - token), B64, sig, sizeof(sig), &sl);
	if (rc != FA_OK || sl == 0) {
		rc = fa_err_set(err, FA_EINVAL, rc == FA_OK ? "JWS has no signature" :
				rc == FA_ETOOBIG ? "JWS signature is too long" :
				"JWS signature is not unpadded base64url");
		goto out;
	}
	if (fa_b64_decode_dup(d1 + 1, (size_t)(d2 - d1 - 1), B64, &r.raw, &r.raw_len) != FA_OK) {
		rc = fa_err_set(err, FA_EINVAL, "JWS payload is not unpadded base64url");
		goto out;
	}
	for (size_t i = 0; i < ncand; i++) {
		rc = fa_jose_verify_raw(cand[i], token, (size_t)(d2 - token), sig, sl, err);
		if (rc == FA_OK) {
			r.key = cand[i];
			break;
		}
	}
	if (rc != FA_OK)
		goto out;
	/* Parsed only now that it is known to come from the key holder. */
	if ((rc = fa_json_load((const char *)r.raw, r.raw_len, "JWS payload", &r.payload,
			       err)) != FA_OK)
		goto out;
	*out = r;
	memset(&r, 0, sizeof(r));
out:
	fa_jws_cleanup(&r);
	return rc;
}
