/* jwk.c -- one signing key: its life cycle (generate, PEM import, dup/free),
 * the binding of a key to exactly one algorithm, the RFC 7638 thumbprint,
 * and export (public JWK, private PKCS#8 PEM).
 *
 * Every key, however it was made, goes through fa_jose_key_wrap, the one
 * place that decides whether a key is acceptable (RSA 2048..8192 bits with a
 * sane exponent, EC on P-256 or P-384, Ed25519) and which algorithm it is
 * pinned to: the creator's choice when it fits the key, else the only one
 * of its curve, else RS256 for RSA.
 * After that the key never changes, which is what lets many threads sign and
 * verify with it at once without locks. JWK JSON import lives in
 * jwk_json.c; signatures in jws.c.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "jose/jose_int.h"

/* Base64url of the largest member we export (an 8192-bit modulus). */
#define MEMBER_B64_MAX (FA_JOSE_MAX_SIG_LEN / 3 * 4 + 8)
/* RSA exponents above 64 bits only slow verification down; OpenSSL refuses
 * them itself for moduli over 3072 bits. */
#define RSA_MAX_E_BITS 64

/* Every alg we implement, by its RFC 7518 name. */
static const struct {
	enum fa_jws_alg alg;
	const char *name;
} alg_names[] = {
	{ FA_JWS_RS256, "RS256" }, { FA_JWS_RS384, "RS384" }, { FA_JWS_RS512, "RS512" },
	{ FA_JWS_PS256, "PS256" }, { FA_JWS_PS384, "PS384" }, { FA_JWS_PS512, "PS512" },
	{ FA_JWS_ES256, "ES256" }, { FA_JWS_ES384, "ES384" }, { FA_JWS_EDDSA, "EdDSA" },
};

const char *fa_jws_alg_name(enum fa_jws_alg alg)
{
	for (size_t i = 0; i < ARRAY_LEN(alg_names); i++)
		if (alg_names[i].alg == alg)
			return alg_names[i].name;
	return "?";
}

bool fa_jws_alg_is_rsa(enum fa_jws_alg alg)
{
	return (FA_JWS_ALGS_RSA & FA_JWS_ALG_BIT(alg)) != 0;
}

enum fa_rc fa_jws_alg_parse(const char *name, enum fa_jws_alg *out, struct fa_err *err)
{
	char safe[48];

	if (!name)
		return fa_err_set(err, FA_EINVAL, "alg is missing");
	for (size_t i = 0; i < ARRAY_LEN(alg_names); i++) {
		if (strcmp(name, alg_names[i].name) == 0) {
			*out = alg_names[i].alg;
			return FA_OK;
		}
	}
	fa_jose_safe_str(name, safe, sizeof(safe));
	if (fa_str_ieq(name, "none"))
		/* An unsigned token proves nothing (RFC 8725 §3.1). */
		return fa_err_set(err, FA_EDENIED, "alg none (unsigned token) is never accepted");
	if (strncmp(name, "HS", 2) == 0)
		/* HMAC keyed with a public key is the classic confusion attack. */
		return fa_err_set(err, FA_EDENIED,
				  "symmetric alg %s is never accepted: keys are asymmetric",
				  safe);
	return fa_err_set(err, FA_EUNSUPPORTED,
			  "alg \"%s\" is not supported (RS256/384/512, PS256/384/512, ES256, "
			  "ES384, EdDSA)", safe);
}

void fa_jose_safe_str(const char *s, char *out, size_t outcap)
{
	size_t i, o = 0;

	if (outcap == 0)
		return;
	for (i = 0; s && s[i] && o + 1 < outcap && i < 40; i++) {
		char c = s[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || strchr("._:+/=-", c);

		out[o++] = ok ? c : '?';
	}
	if (s && s[i] && o + 4 < outcap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

enum fa_rc fa_jose_ossl_rc(enum fa_rc rc)
{
	unsigned long e;

	while ((e = ERR_get_error()) != 0)
		if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
			rc = FA_ENOMEM;
	return rc;
}

/* ---- wrapping an EVP_PKEY ------------------------------------------------ */

static enum fa_rc bn_b64(const BIGNUM *bn, size_t pad, char **out, struct fa_err *err)
{
	unsigned char bin[FA_JOSE_MAX_SIG_LEN];
	size_t n = pad ? pad : (size_t)BN_num_bytes(bn);

	if (n == 0 || n > sizeof(bin))
		return fa_err_set(err, FA_EINVAL, "key member has an invalid size");
	if (BN_bn2binpad(bn, bin, (int)n) < 0)
		return fa_err_set(err, FA_ECRYPTO, "cannot encode key member");
	*out = fa_b64_encode_dup(bin, n, FA_B64_URL | FA_B64_NOPAD);
	if (!*out)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	return FA_OK;
}

static enum fa_rc get_bn(EVP_PKEY *pkey, const char *param, BIGNUM **bn, struct fa_err *err)
{
	if (!EVP_PKEY_get_bn_param(pkey, param, bn))
		return fa_err_set(err, fa_jose_ossl_rc(FA_ECRYPTO), "cannot read key parameter %s",
				  param);
	return FA_OK;
}

static enum fa_rc wrap_rsa(struct fa_jwk *k, enum fa_jws_alg alg, struct fa_err *err)
{
	BIGNUM *n = NULL, *e = NULL;
	int bits = EVP_PKEY_get_bits(k->pkey);
	enum fa_rc rc;

	if (bits <= 0) {
		/* The size is read from the provider, which may fail to allocate. */
		rc = fa_err_set(err, fa_jose_ossl_rc(FA_ECRYPTO), "cannot read the RSA key size");
		goto out;
	}
	if (bits < FA_JOSE_RSA_MIN_BITS) {
		rc = fa_err_set(err, FA_EUNSUPPORTED,
				"RSA key of %d bits is too small (minimum %d)", bits,
				FA_JOSE_RSA_MIN_BITS);
		goto out;
	}
	if (bits > FA_JOSE_RSA_MAX_BITS) {
		rc = fa_err_set(err, FA_EUNSUPPORTED,
				"RSA key of %d bits is too large (maximum %d)", bits,
				FA_JOSE_RSA_MAX_BITS);
		goto out;
	}
	if ((rc = get_bn(k->pkey, OSSL_PKEY_PARAM_RSA_N, &n, err)) != FA_OK ||
	    (rc = get_bn(k->pkey, OSSL_PKEY_PARAM_RSA_E, &e, err)) != FA_OK)
		goto out;
	/* e = 1 would make every "signature" of the padded hash valid. */
	if (!BN_is_odd(e) || BN_num_bits(e) < 2 || BN_num_bits(e) > RSA_MAX_E_BITS) {
		rc = fa_err_set(err, FA_EINVAL,
				"RSA public exponent must be odd, at least 3 and at most %d bits",
				RSA_MAX_E_BITS);
		goto out;
	}
	if (alg && !fa_jws_alg_is_rsa(alg)) {
		rc = fa_err_set(err, FA_EUNSUPPORTED, "an RSA key cannot be used for %s",
				fa_jws_alg_name(alg));
		goto out;
	}
	k->alg = alg ? alg : FA_JWS_RS256;
	k->sig_len = (size_t)EVP_PKEY_get_size(k->pkey);
	if ((rc = bn_b64(n, 0, &k->pub[0], err)) != FA_OK ||
	    (rc = bn_b64(e, 0, &k->pub[1], err)) != FA_OK)
		goto out;
out:
	BN_free(n);
	BN_free(e);
	return rc;
}

/* The curves we accept, by OpenSSL's group names, with their alg. */
static const struct {
	const char *group, *nist, *crv;
	enum fa_jws_alg alg;
	size_t coord;
	size_t sig_len;
} curves[] = {
	{ "prime256v1", "P-256", "P-256", FA_JWS_ES256, 32, FA_JOSE_EC_SIG_LEN },
	{ "secp384r1", "P-384", "P-384", FA_JWS_ES384, 48, FA_JOSE_ES384_SIG_LEN },
};

static enum fa_rc wrap_ec(struct fa_jwk *k, enum fa_jws_alg alg, struct fa_err *err)
{
	char group[64];
	size_t glen = 0, c;
	BIGNUM *x = NULL, *y = NULL;
	enum fa_rc rc;

	if (!EVP_PKEY_get_utf8_string_param(k->pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
					    sizeof(group), &glen)) {
		rc = fa_jose_ossl_rc(FA_EUNSUPPORTED);
		rc = fa_err_set(err, rc, rc == FA_ENOMEM ? "out of memory"
							 : "EC key has no named curve");
		goto out;
	}
	for (c = 0; c < ARRAY_LEN(curves); c++)
		if (strcmp(group, curves[c].group) == 0 || strcmp(group, curves[c].nist) == 0)
			break;
	if (c == ARRAY_LEN(curves)) {
		rc = fa_err_set(err, FA_EUNSUPPORTED,
				"EC curve %.40s is not supported (P-256 for ES256, P-384 for ES384)",
				group);
		goto out;
	}
	/* One curve, one hash: ES384 on P-256 is not a thing (RFC 7518 §3.4). */
	if (alg && alg != curves[c].alg) {
		rc = fa_err_set(err, FA_EUNSUPPORTED, "an EC %s key cannot be used for %s",
				curves[c].crv, fa_jws_alg_name(alg));
		goto out;
	}
	if ((rc = get_bn(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x, err)) != FA_OK ||
	    (rc = get_bn(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y, err)) != FA_OK)
		goto out;
	k->alg = curves[c].alg;
	k->crv = curves[c].crv;
	k->sig_len = curves[c].sig_len;
	/* RFC 7518 §6.2.1.2: coordinates are always full length. */
	if ((rc = bn_b64(x, curves[c].coord, &k->pub[0], err)) != FA_OK ||
	    (rc = bn_b64(y, curves[c].coord, &k->pub[1], err)) != FA_OK)
		goto out;
out:
	BN_free(x);
	BN_free(y);
	return rc;
}

static enum fa_rc wrap_ed25519(struct fa_jwk *k, enum fa_jws_alg alg, struct fa_err *err)
{
	unsigned char pub[32];
	size_t n = sizeof(pub);

	if (alg && alg != FA_JWS_EDDSA)
		return fa_err_set(err, FA_EUNSUPPORTED, "an Ed25519 key cannot be used for %s",
				  fa_jws_alg_name(alg));
	if (!EVP_PKEY_get_raw_public_key(k->pkey, pub, &n) || n != sizeof(pub))
		return fa_err_set(err, FA_ECRYPTO, "cannot read the Ed25519 public key");
	k->alg = FA_JWS_EDDSA;
	k->crv = "Ed25519";
	k->sig_len = FA_JOSE_EC_SIG_LEN;
	k->pub[0] = fa_b64_encode_dup(pub, n, FA_B64_URL | FA_B64_NOPAD);
	if (!k->pub[0])
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	return FA_OK;
}

/* RFC 7638 §3.2: the required members only, in lexicographic order, no
 * whitespace. Our member values are base64url, so none needs escaping. */
static enum fa_rc thumbprint(struct fa_jwk *k, struct fa_err *err)
{
	struct fa_buf b;
	unsigned char md[FA_SHA256_LEN];
	enum fa_rc rc;

	fa_buf_init(&b, 2 * MEMBER_B64_MAX + 128);
	switch (k->kty) {
	case FA_JWK_RSA:
		rc = fa_buf_appendf(&b, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", k->pub[1],
				    k->pub[0]);
		break;
	case FA_JWK_EC:
		rc = fa_buf_appendf(&b, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
				    k->crv, k->pub[0], k->pub[1]);
		break;
	case FA_JWK_OKP:
		rc = fa_buf_appendf(&b, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}",
				    k->pub[0]);
		break;
	default:
		rc = FA_EINVAL;
		break;
	}
	if (rc != FA_OK) {
		rc = fa_err_set(err, rc, "cannot build the thumbprint input");
		goto out;
	}
	if ((rc = fa_sha256(b.data, b.len, md)) != FA_OK) {
		rc = fa_err_set(err, rc, "SHA-256 failed");
		goto out;
	}
	if ((rc = fa_b64_encode(md, sizeof(md), FA_B64_URL | FA_B64_NOPAD, k->thumbprint,
				sizeof(k->thumbprint))) != FA_OK)
		rc = fa_err_set(err, rc, "cannot encode the thumbprint");
out:
	fa_buf_cleanup(&b);
	return rc;
}

enum fa_rc fa_jose_key_wrap(EVP_PKEY *pkey, bool has_private, const char *kid,
			    enum fa_jws_alg alg, struct fa_jwk **out, struct fa_err *err)
{
	struct fa_jwk *k = NULL;
	enum fa_rc rc;
	int base;

	*out = NULL;
	if (kid && (kid[0] == '\0' || strlen(kid) > FA_JOSE_MAX_KID)) {
		rc = fa_err_set(err, FA_EINVAL, "kid must be 1 to %d characters",
				FA_JOSE_MAX_KID);
		goto out;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	atomic_init(&k->refs, 1);
	k->pkey = pkey;
	pkey = NULL;
	k->has_private = has_private;
	/* The base id is a field read; EVP_PKEY_is_a() may fetch (and so
	 * allocate) and would call a key of a known type unsupported when that
	 * allocation fails. */
	base = EVP_PKEY_get_base_id(k->pkey);
	if (base == EVP_PKEY_RSA) {
		k->kty = FA_JWK_RSA;
		rc = wrap_rsa(k, alg, err);
	} else if (base == EVP_PKEY_EC) {
		k->kty = FA_JWK_EC;
		rc = wrap_ec(k, alg, err);
	} else if (base == EVP_PKEY_ED25519) {
		k->kty = FA_JWK_OKP;
		rc = wrap_ed25519(k, alg, err);
	} else {
		const char *name = EVP_PKEY_get0_type_name(k->pkey);

		rc = fa_err_set(err, FA_EUNSUPPORTED,
				"key type %.32s is not supported (RSA, EC P-256/P-384, Ed25519)",
				name ? name : "unknown");
	}
	if (rc != FA_OK)
		goto out;
	if ((rc = thumbprint(k, err)) != FA_OK)
		goto out;
	k->kid = strdup(kid ? kid : k->thumbprint);
	if (!k->kid) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	*out = k;
	k = NULL;
out:
	EVP_PKEY_free(pkey);
	fa_jwk_free(k);
	return rc;
}

/* ---- creation ---------------------------------------------------------------- */

enum fa_rc fa_jwk_generate(const char *alg, struct fa_jwk **out, struct fa_err *err)
{
	EVP_PKEY *pkey = NULL;
	enum fa_jws_alg a;
	enum fa_rc rc;

	*out = NULL;
	if ((rc = fa_jws_alg_parse(alg, &a, err)) != FA_OK)
		return rc;
	switch (a) {
	case FA_JWS_RS256:
	case FA_JWS_RS384:
	case FA_JWS_RS512:
	case FA_JWS_PS256:
	case FA_JWS_PS384:
	case FA_JWS_PS512:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)FA_JOSE_RSA_MIN_BITS);
		break;
	case FA_JWS_ES256:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case FA_JWS_ES384:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	case FA_JWS_EDDSA:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	}
	if (!pkey) {
		ERR_clear_error();
		return fa_err_set(err, FA_ECRYPTO, "%s key generation failed", fa_jws_alg_name(a));
	}
	return fa_jose_key_wrap(pkey, true, NULL, a, out, err);
}

/* Never prompt for a passphrase: a server must not block on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

enum fa_rc fa_jwk_from_pem(const char *pem, size_t len, struct fa_jwk **out,
			   struct fa_err *err)
{
	return fa_jwk_from_pem_alg(pem, len, 0, out, err);
}

enum fa_rc fa_jwk_from_pem_alg(const char *pem, size_t len, enum fa_jws_alg alg,
			       struct fa_jwk **out, struct fa_err *err)
{
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	bool priv = true;
	enum fa_rc rc;

	*out = NULL;
	if (!pem || len == 0) {
		rc = fa_err_set(err, FA_EINVAL, "PEM key is empty");
		goto out;
	}
	if (len > FA_MAX_SECRET) {
		rc = fa_err_set(err, FA_ETOOBIG, "PEM key is larger than %d bytes", FA_MAX_SECRET);
		goto out;
	}
	if (memmem(pem, len, "ENCRYPTED", 9)) {
		rc = fa_err_set(err, FA_EUNSUPPORTED,
				"PEM key is encrypted: store it unencrypted with mode 0600");
		goto out;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (!pkey) {
		priv = false;
		BIO_free(bio);
		bio = BIO_new_mem_buf(pem, (int)len);
		if (!bio) {
			rc = fa_err_set(err, FA_ENOMEM, "out of memory");
			goto out;
		}
		pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
	}
	if (!pkey) {
		rc = fa_err_set(err, FA_EINVAL,
				"not a PEM private key (PKCS#8, PKCS#1, SEC1) or public key (SPKI)");
		goto out;
	}
	rc = fa_jose_key_wrap(pkey, priv, NULL, alg, out, err);
	pkey = NULL;
out:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return rc;
}

struct fa_jwk *fa_jwk_dup(const struct fa_jwk *key)
{
	/* The object is immutable apart from its counter, which is atomic. */
	struct fa_jwk *k = (struct fa_jwk *)(uintptr_t)key;

	atomic_fetch_add(&k->refs, 1);
	return k;
}

void fa_jwk_free(struct fa_jwk *key)
{
	if (!key || atomic_fetch_sub(&key->refs, 1) != 1)
		return;
	EVP_PKEY_free(key->pkey);
	free(key->kid);
	free(key->pub[0]);
	free(key->pub[1]);
	free(key);
}

/* ---- export ---------------------------------------------------------------- */

static int set_str(json_t *o, const char *name, const char *v)
{
	return json_object_set_new(o, name, json_string(v));
}

enum fa_rc fa_jwk_public_json(const struct fa_jwk *key, json_t **out, struct fa_err *err)
{
	json_t *o = json_object();
	int bad = 0;
	enum fa_rc rc = FA_OK;

	*out = NULL;
	if (!o) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	bad |= set_str(o, "kty", fa_jwk_kty_name(key));
	bad |= set_str(o, "kid", key->kid);
	bad |= set_str(o, "alg", fa_jws_alg_name(key->alg));
	bad |= set_str(o, "use", "sig");
	switch (key->kty) {
	case FA_JWK_RSA:
		bad |= set_str(o, "n", key->pub[0]);
		bad |= set_str(o, "e", key->pub[1]);
		break;
	case FA_JWK_EC:
		bad |= set_str(o, "crv", key->crv);
		bad |= set_str(o, "x", key->pub[0]);
		bad |= set_str(o, "y", key->pub[1]);
		break;
	case FA_JWK_OKP:
		bad |= set_str(o, "crv", key->crv);
		bad |= set_str(o, "x", key->pub[0]);
		break;
	}
	if (bad) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	*out = o;
	o = NULL;
out:
	json_decref(o);
	return rc;
}

enum fa_rc fa_jwk_private_pem_dup(const struct fa_jwk *key, char **pem, size_t *len,
				  struct fa_err *err)
{
	/* secmem: the BIO's buffer is cleansed when it is freed. */
	BIO *bio = NULL;
	char *data = NULL;
	long n;
	enum fa_rc rc = FA_OK;

	*pem = NULL;
	if (len)
		*len = 0;
	if (!key->has_private) {
		rc = fa_err_set(err, FA_EINVAL, "key %.64s has no private part", key->kid);
		goto out;
	}
	bio = BIO_new(BIO_s_secmem());
	if (!bio) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	if (!PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL)) {
		rc = fa_err_set(err, FA_ECRYPTO, "cannot write the private key as PKCS#8 PEM");
		goto out;
	}
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || !(*pem = fa_strndup(data, (size_t)n))) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	if (len)
		*len = (size_t)n;
out:
	ERR_clear_error();
	BIO_free(bio);
	return rc;
}

/* ---- getters --------------------------------------------------------------- */

enum fa_jws_alg fa_jwk_alg(const struct fa_jwk *key)
{
	return key->alg;
}

enum fa_jwk_kty fa_jwk_kty(const struct fa_jwk *key)
{
	return key->kty;
}

const char *fa_jwk_kty_name(const struct fa_jwk *key)
{
	switch (key->kty) {
	case FA_JWK_RSA:
		return "RSA";
	case FA_JWK_EC:
		return "EC";
	case FA_JWK_OKP:
		return "OKP";
	}
	return "?";
}

const char *fa_jwk_crv(const struct fa_jwk *key)
{
	return key->crv;
}

const char *fa_jwk_kid(const struct fa_jwk *key)
{
	return key->kid;
}

const char *fa_jwk_thumbprint(const struct fa_jwk *key)
{
	return key->thumbprint;
}

bool fa_jwk_has_private(const struct fa_jwk *key)
{
	return key->has_private;
}
