/* jose_int.h -- what the files of src/jose/ share with each other and with
 * nobody else: the body of struct fa_jwk and struct fa_jwks, and the few
 * helpers more than one file needs. Other modules include only jose.h.
 */
#ifndef FA_JOSE_INT_H
#define FA_JOSE_INT_H

#include <stdatomic.h>

#include <openssl/evp.h>

#include "jose/jose.h"

/* ES256 and Ed25519 signatures are 64 bytes, ES384 ones 96; RSA ones are
 * the modulus size. */
#define FA_JOSE_EC_SIG_LEN 64
#define FA_JOSE_ES384_SIG_LEN 96
#define FA_JOSE_MAX_SIG_LEN (FA_JOSE_RSA_MAX_BITS / 8)

struct fa_jwk {
	atomic_int refs;
	enum fa_jwk_kty kty;
	enum fa_jws_alg alg;
	bool has_private;
	EVP_PKEY *pkey;                 /* parsed once; shared read-only by threads */
	size_t sig_len;                 /* exact signature length for this key */
	const char *crv;                /* "P-256" | "P-384" | "Ed25519" | NULL (RSA) */
	char *kid;
	/* Public members as canonical (minimal) base64url: n and e for RSA,
	 * x and y for EC, x for OKP (pub[1] NULL). */
	char *pub[2];
	char thumbprint[FA_JWK_THUMBPRINT_LEN + 1];
};

struct fa_jwks {
	atomic_int refs;
	size_t n;
	size_t skipped;
	struct fa_jwk *keys[FA_JOSE_MAX_KEYS];
};

/* Takes ownership of pkey (freed on failure too): checks its type, curve and
 * size, pins alg (0: the default of its type, RS256 for RSA; else it must
 * fit the key, FA_EUNSUPPORTED otherwise), extracts the public members and
 * the thumbprint. kid NULL means "use the thumbprint". */
enum fa_rc fa_jose_key_wrap(EVP_PKEY *pkey, bool has_private, const char *kid,
			    enum fa_jws_alg alg, struct fa_jwk **out, struct fa_err *err) FA_WUR;

/* Imports a JWK object. public_only: ignore private members (JWKS).
 * rsa_default: the alg of an RSA key without "alg". On an unsupported but
 * well-formed key (other kty/crv/alg, use enc, key_ops without sign/verify,
 * weak RSA) returns FA_EUNSUPPORTED so a JWKS parser can skip it. */
enum fa_rc fa_jose_jwk_import(const json_t *jwk, bool public_only, enum fa_jws_alg rsa_default,
			      struct fa_jwk **out, struct fa_err *err) FA_WUR;

/* Writes a printable, log-safe excerpt of untrusted s (at most 40 chars,
 * anything outside [A-Za-z0-9._:+/=-] as '?') into out. */
void fa_jose_safe_str(const char *s, char *out, size_t outcap);

/* After an OpenSSL call failed: rc, or FA_ENOMEM when the failure was an
 * allocation (so that an out-of-memory moment is not taken for a property of
 * the key, such as "no named curve"). Clears OpenSSL's error queue. */
enum fa_rc fa_jose_ossl_rc(enum fa_rc rc);

/* Raw signature primitives over an already-built signing input. sig must have
 * room for FA_JOSE_MAX_SIG_LEN bytes. ECDSA signatures are raw R||S. */
enum fa_rc fa_jose_sign_raw(const struct fa_jwk *key, const void *input, size_t len,
			    unsigned char *sig, size_t *siglen, struct fa_err *err) FA_WUR;
enum fa_rc fa_jose_verify_raw(const struct fa_jwk *key, const void *input, size_t len,
			      const unsigned char *sig, size_t siglen, struct fa_err *err) FA_WUR;

#endif
