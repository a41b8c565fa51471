/* jwk_json.c -- JSON Web Key import (RFC 7517, RFC 7518 §6, RFC 8037 §2).
 *
 * A JWK object is checked member by member: unknown or unusable key kinds
 * (other kty/crv, "use":"enc", an alg that does not fit the key) are
 * reported as FA_EUNSUPPORTED so that a JWKS parser can skip them, while a
 * supported key with a malformed member is FA_EINVAL. Members are strict
 * unpadded base64url of bounded size; EC coordinates must be full-length and
 * the point must lie on the curve (OpenSSL checks that when it decodes it);
 * a private key must match its public members. The key itself is then made
 * by fa_jose_key_wrap in jwk.c. Export is in jwk.c too. JSON text is read
 * by base's bounded loader (fa_json_load).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "jose/jose_int.h"

/* An RSA member may carry one leading zero octet (RFC 7518 asks for none,
 * but some issuers emit it; the value, and so the thumbprint, is the same). */
#define RSA_MEMBER_MAX (FA_JOSE_RSA_MAX_BITS / 8 + 1)
#define RSA_E_MAX 16
#define EC_COORD_MAX 48      /* P-384 */
#define ED25519_LEN 32

/* ---- members --------------------------------------------------------------- */

/* Optional string member: *out NULL when absent; FA_EINVAL if not a string. */
static enum fa_rc opt_str(const json_t *o, const char *name, const char **out,
			  struct fa_err *err)
{
	const json_t *v = json_object_get(o, name);

	*out = NULL;
	if (!v)
		return FA_OK;
	if (!json_is_string(v))
		return fa_err_set(err, FA_EINVAL, "JWK member \"%s\" must be a string", name);
	*out = json_string_value(v);
	return FA_OK;
}

/* Base64url member into buf. *len 0 when absent and not required. */
static enum fa_rc b64_member(const json_t *o, const char *name, bool required,
			     unsigned char *buf, size_t cap, size_t *len, struct fa_err *err)
{
	const char *s;
	enum fa_rc rc;

	*len = 0;
	if ((rc = opt_str(o, name, &s, err)) != FA_OK)
		return rc;
	if (!s) {
		if (required)
			return fa_err_set(err, FA_EINVAL, "JWK member \"%s\" is missing", name);
		return FA_OK;
	}
	/* The loader refuses NUL in strings, so strlen is the length. */
	rc = fa_b64_decode(s, strlen(s), FA_B64_URL | FA_B64_NOPAD, buf, cap, len);
	if (rc == FA_ETOOBIG)
		return fa_err_set(err, FA_EINVAL, "JWK member \"%s\" is too long (max %zu bytes)",
				  name, cap);
	if (rc != FA_OK)
		return fa_err_set(err, FA_EINVAL, "JWK member \"%s\" is not unpadded base64url",
				  name);
	if (*len == 0)
		return fa_err_set(err, FA_EINVAL, "JWK member \"%s\" is empty", name);
	return FA_OK;
}

static enum fa_rc fixed_member(const json_t *o, const char *name, bool required,
			       unsigned char *buf, size_t want, size_t *len, struct fa_err *err)
{
	const json_t *v = json_object_get(o, name);
	enum fa_rc rc;

	/* Judge the size on the encoded length, so that a long value gets
	 * the same message as a short one. */
	if (json_is_string(v) &&
	    json_string_length(v) != fa_b64_encoded_size(want, FA_B64_NOPAD) - 1) {
		*len = 0;
		return fa_err_set(err, FA_EINVAL, "JWK member \"%s\" must be %zu bytes", name,
				  want);
	}
	rc = b64_member(o, name, required, buf, want, len, err);
	if (rc == FA_OK && *len != 0 && *len != want)
		rc = fa_err_set(err, FA_EINVAL, "JWK member \"%s\" must be %zu bytes, not %zu",
				name, want, *len);
	return rc;
}

static bool has_member(const json_t *o, const char *name)
{
	return json_object_get(o, name) != NULL;
}

/* ---- per key type ------------------------------------------------------------ */

static enum fa_rc fromdata(const char *type, OSSL_PARAM_BLD *bld, bool priv, EVP_PKEY **pkey,
			   struct fa_err *err)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = NULL;
	enum fa_rc rc = FA_OK;

	*pkey = NULL;
	if (!params || !(ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL))) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, pkey, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
			      params) <= 0) {
		*pkey = NULL;
		rc = fa_err_set(err, FA_EINVAL, "JWK members do not form a valid %s key", type);
		goto out;
	}
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);   /* clears the secure part holding private values */
	return rc;
}

/* Pushes a big-endian value as a BIGNUM (secure memory for private ones). */
static int push_bn(OSSL_PARAM_BLD *bld, const char *name, const unsigned char *v, size_t n,
		   bool secret, BIGNUM **keep)
{
	BIGNUM *bn = secret ? BN_secure_new() : BN_new();

	*keep = bn;
	return bn && BN_bin2bn(v, (int)n, bn) && OSSL_PARAM_BLD_push_BN(bld, name, bn);
}

/* Stack buffers for every RSA member, cleared when done. */
struct rsa_members {
	unsigned char n[RSA_MEMBER_MAX], e[RSA_E_MAX], d[RSA_MEMBER_MAX];
	unsigned char p[RSA_MEMBER_MAX / 2 + 1], q[RSA_MEMBER_MAX / 2 + 1];
	unsigned char dp[RSA_MEMBER_MAX / 2 + 1], dq[RSA_MEMBER_MAX / 2 + 1];
	unsigned char qi[RSA_MEMBER_MAX / 2 + 1];
	size_t nl, el, dl, pl, ql, dpl, dql, qil;
};

static enum fa_rc import_rsa(const json_t *o, bool priv, EVP_PKEY **pkey, struct fa_err *err)
{
	struct rsa_members m;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bn[8] = { NULL };
	int crt;
	bool ok;
	enum fa_rc rc;

	memset(&m, 0, sizeof(m));
	if (!bld) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	/* A well-formed but oversized key is unsupported, not malformed, so a
	 * JWKS parser skips it. */
	if (json_string_length(json_object_get(o, "n")) >
	    fa_b64_encoded_size(RSA_MEMBER_MAX, FA_B64_NOPAD) - 1) {
		rc = fa_err_set(err, FA_EUNSUPPORTED, "RSA keys above %d bits are not supported",
				FA_JOSE_RSA_MAX_BITS);
		goto out;
	}
	if ((rc = b64_member(o, "n", true, m.n, sizeof(m.n), &m.nl, err)) != FA_OK ||
	    (rc = b64_member(o, "e", true, m.e, sizeof(m.e), &m.el, err)) != FA_OK)
		goto out;
	if (priv && has_member(o, "oth")) {
		rc = fa_err_set(err, FA_EUNSUPPORTED, "multi-prime RSA keys (oth) are not supported");
		goto out;
	}
	if (priv && (rc = b64_member(o, "d", false, m.d, sizeof(m.d), &m.dl, err)) != FA_OK)
		goto out;
	priv = priv && m.dl != 0;
	crt = has_member(o, "p") + has_member(o, "q") + has_member(o, "dp") +
	      has_member(o, "dq") + has_member(o, "qi");
	if (priv && crt != 0 && crt != 5) {
		rc = fa_err_set(err, FA_EINVAL,
				"private RSA JWK must carry all of p, q, dp, dq, qi or none");
		goto out;
	}
	if (priv && crt == 5 &&
	    ((rc = b64_member(o, "p", true, m.p, sizeof(m.p), &m.pl, err)) != FA_OK ||
	     (rc = b64_member(o, "q", true, m.q, sizeof(m.q), &m.ql, err)) != FA_OK ||
	     (rc = b64_member(o, "dp", true, m.dp, sizeof(m.dp), &m.dpl, err)) != FA_OK ||
	     (rc = b64_member(o, "dq", true, m.dq, sizeof(m.dq), &m.dql, err)) != FA_OK ||
	     (rc = b64_member(o, "qi", true, m.qi, sizeof(m.qi), &m.qil, err)) != FA_OK))
		goto out;
	ok = push_bn(bld, OSSL_PKEY_PARAM_RSA_N, m.n, m.nl, false, &bn[0]) &&
	     push_bn(bld, OSSL_PKEY_PARAM_RSA_E, m.e, m.el, false, &bn[1]);
	if (ok && priv)
		ok = push_bn(bld, OSSL_PKEY_PARAM_RSA_D, m.d, m.dl, true, &bn[2]);
	if (ok && priv && crt == 5)
		ok = push_bn(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, m.p, m.pl, true, &bn[3]) &&
		     push_bn(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, m.q, m.ql, true, &bn[4]) &&
		     push_bn(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, m.dp, m.dpl, true, &bn[5]) &&
		     push_bn(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, m.dq, m.dql, true, &bn[6]) &&
		     push_bn(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, m.qi, m.qil, true, &bn[7]);
	if (!ok) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	rc = fromdata("RSA", bld, priv, pkey, err);
out:
	for (size_t i = 0; i < ARRAY_LEN(bn); i++)
		BN_clear_free(bn[i]);
	OSSL_PARAM_BLD_free(bld);
	fa_memzero(&m, sizeof(m));
	return rc;
}

/* An EC JWK's curve: its "crv" name and coordinate size. */
struct ec_curve {
	const char *crv;
	size_t coord;
};

static enum fa_rc import_ec(const json_t *o, const struct ec_curve *cv, bool priv,
			    EVP_PKEY **pkey, struct fa_err *err)
{
	unsigned char pt[1 + 2 * EC_COORD_MAX], d[EC_COORD_MAX];
	size_t xl, yl, dl = 0, n = cv->coord;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bn = NULL;
	enum fa_rc rc;

	if (!bld) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	pt[0] = 0x04;   /* uncompressed point: 04 || x || y */
	if ((rc = fixed_member(o, "x", true, pt + 1, n, &xl, err)) != FA_OK ||
	    (rc = fixed_member(o, "y", true, pt + 1 + n, n, &yl, err)) != FA_OK)
		goto out;
	if (priv && (rc = fixed_member(o, "d", false, d, n, &dl, err)) != FA_OK)
		goto out;
	priv = priv && dl != 0;
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, cv->crv, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * n) ||
	    (priv && !push_bn(bld, OSSL_PKEY_PARAM_PRIV_KEY, d, dl, true, &bn))) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	/* Decoding the point checks that it is on the curve (invalid-curve
	 * attacks); a failure here is reported as a malformed key. */
	rc = fromdata("EC", bld, priv, pkey, err);
out:
	BN_clear_free(bn);
	OSSL_PARAM_BLD_free(bld);
	fa_memzero(d, sizeof(d));
	return rc;
}

static enum fa_rc import_okp(const json_t *o, bool priv, EVP_PKEY **pkey, struct fa_err *err)
{
	unsigned char x[ED25519_LEN], d[ED25519_LEN], derived[ED25519_LEN];
	size_t xl, dl = 0, n = sizeof(derived);
	enum fa_rc rc = FA_OK;

	*pkey = NULL;
	if ((rc = fixed_member(o, "x", true, x, sizeof(x), &xl, err)) != FA_OK)
		goto out;
	if (priv && (rc = fixed_member(o, "d", false, d, sizeof(d), &dl, err)) != FA_OK)
		goto out;
	if (priv && dl != 0) {
		/* The public key is derived from d, then must equal x. */
		*pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d, dl);
		if (*pkey && (!EVP_PKEY_get_raw_public_key(*pkey, derived, &n) ||
			      !fa_ct_eq(derived, n, x, xl))) {
			rc = fa_err_set(err, FA_EINVAL, "Ed25519 private key does not match x");
			goto out;
		}
	} else {
		*pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xl);
	}
	if (!*pkey)
		rc = fa_err_set(err, FA_EINVAL, "JWK members do not form a valid Ed25519 key");
out:
	if (rc != FA_OK) {
		EVP_PKEY_free(*pkey);
		*pkey = NULL;
	}
	ERR_clear_error();
	fa_memzero(d, sizeof(d));
	return rc;
}

/* A private key that does not match its public members would sign tokens
 * nobody can verify; find out at load time, not in production traffic. */
static enum fa_rc pairwise_check(const struct fa_jwk *k, struct fa_err *err)
{
	static const char probe[] = "flyteauth key pair check";
	unsigned char sig[FA_JOSE_MAX_SIG_LEN];
	size_t siglen = 0;
	enum fa_rc rc;

	rc = fa_jose_sign_raw(k, probe, sizeof(probe) - 1, sig, &siglen, err);
	if (rc == FA_OK)
		rc = fa_jose_verify_raw(k, probe, sizeof(probe) - 1, sig, siglen, NULL);
	if (rc != FA_OK)
		return fa_err_set(err, FA_EINVAL,
				  "%s private key does not match its public members",
				  fa_jwk_kty_name(k));
	return FA_OK;
}

/* ---- one JWK ------------------------------------------------------------- */

static const struct ec_curve ec_curves[] = { { "P-256", 32 }, { "P-384", 48 } };

/* What classify found: the key kind, its curve, the alg to pin. */
struct jwk_kind {
	enum fa_jwk_kty kty;
	const struct ec_curve *ec;
	enum fa_jws_alg alg;
};

/* Checks kty/crv/use/key_ops/alg and decides the pinned alg: the JWK's own
 * "alg" when it fits the key, else the only alg of the curve, else
 * rsa_default for RSA. */
static enum fa_rc classify(const json_t *o, enum fa_jws_alg rsa_default, struct jwk_kind *kind,
			   struct fa_err *err)
{
	const char *s, *crv, *alg, *use;
	const json_t *ops = json_object_get(o, "key_ops");
	enum fa_jws_alg given;
	char safe[48];
	enum fa_rc rc;

	if ((rc = opt_str(o, "kty", &s, err)) != FA_OK)
		return rc;
	if (!s)
		return fa_err_set(err, FA_EINVAL, "JWK has no kty");
	if ((rc = opt_str(o, "crv", &crv, err)) != FA_OK ||
	    (rc = opt_str(o, "alg", &alg, err)) != FA_OK ||
	    (rc = opt_str(o, "use", &use, err)) != FA_OK)
		return rc;
	fa_jose_safe_str(s, safe, sizeof(safe));
	kind->ec = NULL;
	if (strcmp(s, "RSA") == 0) {
		kind->kty = FA_JWK_RSA;
		kind->alg = rsa_default;
	} else if (strcmp(s, "EC") == 0) {
		kind->kty = FA_JWK_EC;
		if (!crv)
			return fa_err_set(err, FA_EINVAL, "EC JWK has no crv");
		for (size_t i = 0; i < ARRAY_LEN(ec_curves); i++)
			if (strcmp(crv, ec_curves[i].crv) == 0)
				kind->ec = &ec_curves[i];
		fa_jose_safe_str(crv, safe, sizeof(safe));
		if (!kind->ec)
			return fa_err_set(err, FA_EUNSUPPORTED,
					  "EC curve %s is not supported (P-256, P-384)", safe);
		kind->alg = kind->ec->coord == 32 ? FA_JWS_ES256 : FA_JWS_ES384;
	} else if (strcmp(s, "OKP") == 0) {
		kind->kty = FA_JWK_OKP;
		kind->alg = FA_JWS_EDDSA;
		if (!crv)
			return fa_err_set(err, FA_EINVAL, "OKP JWK has no crv");
		fa_jose_safe_str(crv, safe, sizeof(safe));
		if (strcmp(crv, "Ed25519") != 0)
			return fa_err_set(err, FA_EUNSUPPORTED,
					  "OKP curve %s is not supported (only Ed25519)", safe);
	} else {
		return fa_err_set(err, FA_EUNSUPPORTED,
				  "kty %s is not supported (RSA, EC, OKP)", safe);
	}
	if (use && strcmp(use, "sig") != 0) {
		fa_jose_safe_str(use, safe, sizeof(safe));
		return fa_err_set(err, FA_EUNSUPPORTED, "JWK use \"%s\" is not for signatures",
				  safe);
	}
	if (ops) {
		size_t i;
		const json_t *op;
		bool sig = false;

		if (!json_is_array(ops))
			return fa_err_set(err, FA_EINVAL, "JWK key_ops must be an array");
		json_array_foreach(ops, i, op) {
			if (!json_is_string(op))
				return fa_err_set(err, FA_EINVAL, "JWK key_ops must hold strings");
			if (strcmp(json_string_value(op), "verify") == 0 ||
			    strcmp(json_string_value(op), "sign") == 0)
				sig = true;
		}
		if (!sig)
			return fa_err_set(err, FA_EUNSUPPORTED,
					  "JWK key_ops allow neither sign nor verify");
	}
	if (alg) {
		/* The document may name the key's alg, but only one the key can
		 * have: an EC P-256 key labelled ES384, or an RSA key labelled
		 * ES256, is not a key we can use. */
		bool fits;
		/* RSA has no crv; EC and OKP keys name theirs. */
		const char *curve = kind->kty == FA_JWK_RSA ? "" : crv;

		fa_jose_safe_str(alg, safe, sizeof(safe));
		if (fa_jws_alg_parse(alg, &given, NULL) != FA_OK)
			return fa_err_set(err, FA_EUNSUPPORTED, "JWK alg %s is not supported", safe);
		fits = kind->kty == FA_JWK_RSA ? fa_jws_alg_is_rsa(given) : given == kind->alg;
		if (!fits)
			return fa_err_set(err, FA_EUNSUPPORTED,
					  "JWK alg %s does not match the %s%s%s key it labels", safe,
					  curve, curve[0] ? " " : "", s);
		kind->alg = given;
	}
	return FA_OK;
}

enum fa_rc fa_jose_jwk_import(const json_t *jwk, bool public_only, enum fa_jws_alg rsa_default,
			      struct fa_jwk **out, struct fa_err *err)
{
	struct jwk_kind kind = { FA_JWK_RSA, NULL, FA_JWS_RS256 };
	const char *kid;
	EVP_PKEY *pkey = NULL;
	bool priv = false;
	enum fa_rc rc;

	*out = NULL;
	if (!json_is_object(jwk))
		return fa_err_set(err, FA_EINVAL, "JWK is not a JSON object");
	if (!fa_jws_alg_is_rsa(rsa_default))
		return fa_err_set(err, FA_EINVAL, "the default alg of RSA keys must be an RSA alg");
	if ((rc = classify(jwk, rsa_default, &kind, err)) != FA_OK ||
	    (rc = opt_str(jwk, "kid", &kid, err)) != FA_OK)
		return rc;
	switch (kind.kty) {
	case FA_JWK_RSA:
		rc = import_rsa(jwk, !public_only, &pkey, err);
		break;
	case FA_JWK_EC:
		rc = import_ec(jwk, kind.ec, !public_only, &pkey, err);
		break;
	case FA_JWK_OKP:
		rc = import_okp(jwk, !public_only, &pkey, err);
		break;
	}
	if (rc != FA_OK)
		return rc;
	priv = !public_only && has_member(jwk, "d");
	if ((rc = fa_jose_key_wrap(pkey, priv, kid, kind.alg, out, err)) != FA_OK)
		return rc;
	if (priv && (rc = pairwise_check(*out, err)) != FA_OK) {
		fa_jwk_free(*out);
		*out = NULL;
	}
	return rc;
}

enum fa_rc fa_jwk_from_json(const json_t *jwk, struct fa_jwk **out, struct fa_err *err)
{
	return fa_jose_jwk_import(jwk, false, FA_JWS_RS256, out, err);
}

enum fa_rc fa_jwk_parse(const char *json, size_t len, struct fa_jwk **out, struct fa_err *err)
{
	json_t *o = NULL;
	enum fa_rc rc;

	*out = NULL;
	if (len > FA_MAX_JWKS)
		return fa_err_set(err, FA_ETOOBIG, "JWK is larger than %d bytes", FA_MAX_JWKS);
	if ((rc = fa_json_load(json, len, "JWK", &o, err)) != FA_OK)
		return rc;
	rc = fa_jwk_from_json(o, out, err);
	json_decref(o);
	return rc;
}
