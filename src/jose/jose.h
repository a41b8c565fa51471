/* jose.h -- the whole interface of flyteauth's JOSE layer: JSON Web Keys
 * (RFC 7517/7518/8037) for RSA, EC P-256/P-384 and Ed25519, key sets, RFC 7638
 * thumbprints, compact JWS signing and verification (RFC 7515) and JWT claim
 * checks (RFC 7519, RFC 8725, RFC 9068), plus the bounded JSON loader every
 * parser of untrusted JSON uses.
 *
 * The shape follows libjwt v3: a key is bound to exactly one algorithm when it
 * is created, and a token is accepted only when its `alg` header names that
 * very algorithm. The algorithm is never chosen from the token. Which alg a
 * key gets: the one its creator names (fa_jwk_generate, fa_jwk_from_pem_alg),
 * else the JWK's own "alg" member when it fits the key (RSA: RS256/384/512 or
 * PS256/384/512; EC P-256: ES256; EC P-384: ES384; OKP Ed25519: EdDSA), else
 * the default of its type: EC and OKP keys have only one, RSA keys get the
 * caller's RSA default (RS256 unless a caller says otherwise, e.g. from an
 * IdP's id_token_signing_alg_values_supported). `none` and the HMAC
 * algorithms cannot be represented, so no key and no caller can ever ask for
 * them.
 * Verification always has keys and an allowlist; there is no "verify without
 * a key" path. This layer does no I/O: fetching a JWKS or reading a key file
 * is the caller's job. JWE is not supported.
 *
 * Threads: a struct fa_jwk is immutable after creation and may be used from
 * any number of threads at once (sign, verify, export). A struct fa_jwks is
 * immutable once it is shared (see fa_jwks_add). Both are reference counted:
 * _dup takes a reference, _free drops one. Keys are parsed once; signing and
 * verifying never re-parse them.
 *
 * Errors: every fallible function returns enum fa_rc and, when err is not
 * NULL, fills it with a message that never contains a token, a signature or
 * private key material. Codes used by verification:
 *   FA_EINVAL       malformed token, key or JSON
 *   FA_ETOOBIG      over a cap (FA_MAX_TOKEN, FA_MAX_JWKS, FA_JOSE_MAX_KEYS...)
 *   FA_EDENIED      refused by policy: alg none/HS*, alg not allowed, alg not
 *                   the key's, issuer/audience/typ mismatch, no exp, nbf/iat
 *                   in the future
 *   FA_EUNSUPPORTED valid JOSE we do not support (crit, other kty/crv/alg)
 *   FA_ENOTFOUND    no key in the set for the token's kid (or, without kid,
 *                   for its alg): the caller may refresh its JWKS and retry
 *   FA_ECRYPTO      the signature does not verify, or OpenSSL failed
 *   FA_EEXPIRED     exp is past (after leeway)
 *   FA_ENOMEM       allocation failed
 */
#ifndef FA_JOSE_H
#define FA_JOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/base.h"

/* ---- limits (not in base/limits.h because only this module uses them) -- */

/* Smallest RSA modulus accepted: RFC 7518 §3.3 requires 2048 bits. */
#define FA_JOSE_RSA_MIN_BITS 2048
/* Largest RSA modulus accepted: verifying with a huge key is a cheap way to
 * burn our CPU (a 16384-bit verify costs ~30x a 2048-bit one), and no IdP
 * publishes keys above 4096 bits. */
#define FA_JOSE_RSA_MAX_BITS 8192
/* Keys kept from one JWKS document: IdPs publish two to ten; each key costs a
 * parse, so a document with hundreds is an attack, not a key set. */
#define FA_JOSE_MAX_KEYS 64
/* A kid: thumbprints are 43 characters; IdPs use UUIDs or short hashes. */
#define FA_JOSE_MAX_KID 256
/* An RFC 7638 thumbprint: unpadded base64url of SHA-256. */
#define FA_JWK_THUMBPRINT_LEN 43
/* Default clock skew allowed on exp/nbf/iat, seconds: enough for servers with
 * NTP, small enough that an expired token dies promptly. */
#define FA_JWT_DEFAULT_LEEWAY 30

/* ---- algorithms and key types -------------------------------------------- */

/* The signature algorithms we implement (RFC 7518 §3, RFC 8037 §3.1).
 * There is deliberately no value for "none" or HS*: an unsigned or symmetric
 * token cannot be asked for. Values are never renumbered. RSA keys are
 * 2048..8192 bits for every RSA alg. */
enum fa_jws_alg {
	FA_JWS_RS256 = 1,   /* RSASSA-PKCS1-v1_5 with SHA-256 */
	FA_JWS_ES256 = 2,   /* ECDSA P-256 with SHA-256, raw R||S signature */
	FA_JWS_EDDSA = 3,   /* Ed25519 (RFC 8037) */
	FA_JWS_RS384 = 4,   /* RSASSA-PKCS1-v1_5 with SHA-384 */
	FA_JWS_RS512 = 5,   /* RSASSA-PKCS1-v1_5 with SHA-512 */
	FA_JWS_PS256 = 6,   /* RSASSA-PSS, SHA-256, MGF1 SHA-256, 32-byte salt */
	FA_JWS_PS384 = 7,   /* RSASSA-PSS, SHA-384, MGF1 SHA-384, 48-byte salt */
	FA_JWS_PS512 = 8,   /* RSASSA-PSS, SHA-512, MGF1 SHA-512, 64-byte salt */
	FA_JWS_ES384 = 9,   /* ECDSA P-384 with SHA-384, raw R||S signature */
};

/* Allowlist bits for enum fa_jws_alg. */
#define FA_JWS_ALG_BIT(a) (1u << (unsigned)(a))
#define FA_JWS_ALGS_RSA \
	(FA_JWS_ALG_BIT(FA_JWS_RS256) | FA_JWS_ALG_BIT(FA_JWS_RS384) | \
	 FA_JWS_ALG_BIT(FA_JWS_RS512) | FA_JWS_ALG_BIT(FA_JWS_PS256) | \
	 FA_JWS_ALG_BIT(FA_JWS_PS384) | FA_JWS_ALG_BIT(FA_JWS_PS512))
#define FA_JWS_ALGS_ALL \
	(FA_JWS_ALGS_RSA | FA_JWS_ALG_BIT(FA_JWS_ES256) | FA_JWS_ALG_BIT(FA_JWS_ES384) | \
	 FA_JWS_ALG_BIT(FA_JWS_EDDSA))

enum fa_jwk_kty {
	FA_JWK_RSA = 1,
	FA_JWK_EC = 2,      /* crv P-256 (ES256) or P-384 (ES384) */
	FA_JWK_OKP = 3,     /* crv Ed25519 only */
};

/* "RS256" | "RS384" | ... | "EdDSA"; never NULL ("?" for a value out of
 * range). */
const char *fa_jws_alg_name(enum fa_jws_alg alg);
/* Exact, case-sensitive match of an alg name above (RFC 7515 §4.1.1: alg is
 * case-sensitive). "none" and "HS*" get FA_EDENIED with a message saying
 * why; anything else FA_EUNSUPPORTED. */
enum fa_rc fa_jws_alg_parse(const char *name, enum fa_jws_alg *out, struct fa_err *err) FA_WUR;
/* True when alg is an RSA algorithm (RS* or PS*). */
bool fa_jws_alg_is_rsa(enum fa_jws_alg alg);

/* ---- one key ----------------------------------------------------------- */

/* Opaque, immutable, reference-counted. */
struct fa_jwk;

/* Generates a fresh key pinned to alg: any RSA alg (RSA-2048), "ES256"
 * (P-256), "ES384" (P-384) or "EdDSA" (Ed25519). *out gets a new key
 * (fa_jwk_free) whose kid is its thumbprint. */
enum fa_rc fa_jwk_generate(const char *alg, struct fa_jwk **out, struct fa_err *err) FA_WUR;

/* Imports one PEM key: private keys in PKCS#8 ("PRIVATE KEY"), PKCS#1
 * ("RSA PRIVATE KEY") or SEC1 ("EC PRIVATE KEY"), public keys in SPKI
 * ("PUBLIC KEY"). Encrypted PEM is refused (no passphrase prompt).
 * len <= FA_MAX_SECRET. The kid is the thumbprint. The key gets the default
 * alg of its type (RSA: RS256). */
enum fa_rc fa_jwk_from_pem(const char *pem, size_t len, struct fa_jwk **out,
			   struct fa_err *err) FA_WUR;
/* As fa_jwk_from_pem, pinned to alg, which must fit the key (an RSA alg for
 * an RSA key, ES256 for P-256, ES384 for P-384, EdDSA for Ed25519; else
 * FA_EUNSUPPORTED). */
enum fa_rc fa_jwk_from_pem_alg(const char *pem, size_t len, enum fa_jws_alg alg,
			       struct fa_jwk **out, struct fa_err *err) FA_WUR;

/* Imports a JWK object (borrowed; not kept). Private members (d, and for RSA
 * p q dp dq qi) are imported when present; private RSA keys must carry either
 * d alone or all CRT members, and any private key must match its public part.
 * A given "kid" (string, <= FA_JOSE_MAX_KID) is kept, else the kid is the
 * thumbprint. A given "alg" pins the key when it fits the key's type and
 * curve (else FA_EUNSUPPORTED); without one an RSA key is pinned to RS256.
 * "use" must be "sig" when present. */
enum fa_rc fa_jwk_from_json(const json_t *jwk, struct fa_jwk **out, struct fa_err *err) FA_WUR;

/* As fa_jwk_from_json, from JSON text (len <= FA_MAX_JWKS; duplicate members
 * and nesting deeper than FA_MAX_JSON_DEPTH are rejected). */
enum fa_rc fa_jwk_parse(const char *json, size_t len, struct fa_jwk **out,
			struct fa_err *err) FA_WUR;

/* New reference to the same immutable key; free it with fa_jwk_free. key must
 * not be NULL. Never fails. */
struct fa_jwk *fa_jwk_dup(const struct fa_jwk *key);
/* Drops one reference; the last one frees the key (private parts are
 * cleared by OpenSSL). NULL is a no-op. */
void fa_jwk_free(struct fa_jwk *key);

/* Public JWK: {"kty","kid","alg","use":"sig", then n,e | crv,x,y | crv,x}
 * ("alg" is the pinned one, so a verifier elsewhere pins it too).
 * Never a private member. *out is a new json_t (json_decref). */
enum fa_rc fa_jwk_public_json(const struct fa_jwk *key, json_t **out, struct fa_err *err) FA_WUR;

/* Private key as unencrypted PKCS#8 PEM, for a key file. *pem is a new
 * NUL-terminated string of *len bytes (len may be NULL); release it with
 * fa_free_secret. FA_EINVAL if the key has no private part. */
enum fa_rc fa_jwk_private_pem_dup(const struct fa_jwk *key, char **pem, size_t *len,
				  struct fa_err *err) FA_WUR;

/* Getters: borrowed strings valid while the key lives; never NULL. */
enum fa_jws_alg fa_jwk_alg(const struct fa_jwk *key);
enum fa_jwk_kty fa_jwk_kty(const struct fa_jwk *key);
const char *fa_jwk_kty_name(const struct fa_jwk *key);     /* "RSA" | "EC" | "OKP" */
/* "P-256" | "P-384" | "Ed25519", or NULL for RSA. */
const char *fa_jwk_crv(const struct fa_jwk *key);
const char *fa_jwk_kid(const struct fa_jwk *key);
/* RFC 7638 thumbprint (SHA-256, base64url, FA_JWK_THUMBPRINT_LEN chars),
 * computed once when the key was made. */
const char *fa_jwk_thumbprint(const struct fa_jwk *key);
bool fa_jwk_has_private(const struct fa_jwk *key);

/* ---- key sets ------------------------------------------------------------ */

/* Opaque, reference-counted list of keys in insertion order. */
struct fa_jwks;

/* Empty set; *out is freed with fa_jwks_free. */
enum fa_rc fa_jwks_new(struct fa_jwks **out, struct fa_err *err) FA_WUR;

/* Appends a new reference to key (the caller keeps its own). Only allowed
 * while the set is not shared: FA_ECONFLICT once fa_jwks_dup was called.
 * FA_EEXIST if a key with the same kid is already in the set; FA_ETOOBIG past
 * FA_JOSE_MAX_KEYS. */
enum fa_rc fa_jwks_add(struct fa_jwks *set, const struct fa_jwk *key, struct fa_err *err) FA_WUR;

/* Parses a JWKS document {"keys":[...]} (len <= FA_MAX_JWKS, duplicate
 * members and nesting deeper than FA_MAX_JSON_DEPTH rejected, at most
 * FA_JOSE_MAX_KEYS entries). Only public parts are imported: a verifier never
 * needs a private member, so one that leaked into a JWKS is ignored.
 * Entries we cannot use are skipped, not fatal: other kty/crv, "use":"enc",
 * an "alg" we do not implement or that does not fit the key, key_ops
 * without sign/verify, RSA outside FA_JOSE_RSA_MIN_BITS..FA_JOSE_RSA_MAX_BITS.
 * A malformed member of a supported key fails the whole document. A set with
 * no usable key is still returned (count 0). RSA keys without "alg" are
 * pinned to RS256. */
enum fa_rc fa_jwks_parse(const char *json, size_t len, struct fa_jwks **out,
			 struct fa_err *err) FA_WUR;
/* As fa_jwks_parse, with RSA keys that carry no "alg" pinned to rsa_default
 * (an RSA alg; FA_EINVAL otherwise). An issuer that signs with PS256 and
 * publishes its keys without "alg" is verified by pinning PS256 here, once,
 * from configuration or its metadata, never from a token. */
enum fa_rc fa_jwks_parse_rsa(const char *json, size_t len, enum fa_jws_alg rsa_default,
			     struct fa_jwks **out, struct fa_err *err) FA_WUR;

/* New reference to the set, which is now frozen; free with fa_jwks_free. */
struct fa_jwks *fa_jwks_dup(const struct fa_jwks *set);
void fa_jwks_free(struct fa_jwks *set);   /* NULL is a no-op */

size_t fa_jwks_count(const struct fa_jwks *set);
/* Entries fa_jwks_parse skipped (for a log line). */
size_t fa_jwks_skipped(const struct fa_jwks *set);
/* Borrowed key i (< count), valid while the set lives. */
const struct fa_jwk *fa_jwks_key_get(const struct fa_jwks *set, size_t i);
/* Borrowed first key with this kid, or NULL. */
const struct fa_jwk *fa_jwks_find(const struct fa_jwks *set, const char *kid);

/* {"keys":[public JWK, ...]} in insertion order (the server lists its
 * current key, then the old one). *out is a new json_t (json_decref). */
enum fa_rc fa_jwks_public_json(const struct fa_jwks *set, json_t **out, struct fa_err *err) FA_WUR;
/* The same as compact JSON text; *json is malloc'd (free), *len may be NULL. */
enum fa_rc fa_jwks_format(const struct fa_jwks *set, char **json, size_t *len,
			  struct fa_err *err) FA_WUR;

/* ---- compact JWS ------------------------------------------------------ */

/* Signs payload (len bytes, any content) with key, which must have its
 * private part. The protected header is {"alg": key's alg, "typ": typ (only
 * if typ != NULL), "kid": key's kid, then the members of extra_header (may
 * be NULL; borrowed; must not contain alg, typ, kid or crit)}.
 * *out is a new NUL-terminated compact JWS (free). FA_ETOOBIG if the token
 * would exceed FA_MAX_TOKEN, since no verifier would accept it. */
enum fa_rc fa_jws_sign(const struct fa_jwk *key, const char *typ, const json_t *extra_header,
		       const void *payload, size_t len, char **out, struct fa_err *err) FA_WUR;

/* A verified JWS. All members owned by the struct except key. */
struct fa_jws {
	json_t *header;              /* protected header, a JSON object */
	json_t *payload;             /* payload, a JSON object */
	unsigned char *raw;          /* decoded payload bytes, NUL-terminated */
	size_t raw_len;
	const struct fa_jwk *key;    /* borrowed from the set that verified it */
};

/* Verifies a compact JWS (len <= FA_MAX_TOKEN, strict unpadded base64url).
 * Policy, all before any key is touched: header is a JSON object without
 * duplicate members; its alg is one we implement and is in algs (a non-empty
 * FA_JWS_ALG_BIT mask); crit is absent. jwk, jku, x5u and x5c headers are
 * ignored: keys come only from `keys`. A kid picks the keys with that kid;
 * without kid every key of the header's alg is tried. A key is used only if
 * its pinned alg equals the header's alg exactly. After the signature
 * verifies, the payload must be a JSON object without duplicate members.
 * On success *out is filled (release with fa_jws_cleanup); on failure it is
 * zeroed. */
enum fa_rc fa_jws_verify(const struct fa_jwks *keys, unsigned algs, const char *token,
			 size_t len, struct fa_jws *out, struct fa_err *err) FA_WUR;
/* Releases what fa_jws_verify filled; safe on a zeroed struct. */
void fa_jws_cleanup(struct fa_jws *jws);

/* ---- JWT ------------------------------------------------------------------ */

/* What a caller requires of a JWT. Fill with fa_jwt_rules_init, then set
 * fields. All pointers are borrowed for the duration of the call. A zeroed
 * struct is refused (empty allowlist), so a forgotten init fails closed. */
struct fa_jwt_rules {
	unsigned algs;                   /* FA_JWS_ALG_BIT allowlist; default all */
	const char *issuer;              /* exact iss; NULL: not checked */
	const char *const *audiences;    /* aud (string or array) must contain one */
	size_t n_audiences;              /*   of these; audiences NULL: not checked */
	const char *typ;                 /* header typ, e.g. "at+jwt": compared
					  * case-insensitively, "application/"
					  * prefix optional; NULL: not checked */
	int64_t leeway;                  /* seconds of clock skew, >= 0 */
	int64_t now;                     /* seconds since epoch; 0: fa_now() */
	/* A token without exp never expires, so one is required by default. */
	bool require_exp;
};

/* algs = FA_JWS_ALGS_ALL, leeway = FA_JWT_DEFAULT_LEEWAY, require_exp = true,
 * everything else unset. */
void fa_jwt_rules_init(struct fa_jwt_rules *rules);

/* Serialises claims (a JSON object, borrowed) compactly and signs it with
 * fa_jws_sign. */
enum fa_rc fa_jwt_sign(const struct fa_jwk *key, const char *typ, const json_t *extra_header,
		       const json_t *claims, char **out, struct fa_err *err) FA_WUR;

/* fa_jws_verify with rules->algs, then the claim checks: typ; exp (number;
 * now < exp + leeway; required unless require_exp is false); nbf (number;
 * now + leeway >= nbf); iat (number; not after now + leeway); iss; aud.
 * On success *claims (and *header if header is not NULL) are new references
 * (json_decref); on failure they are NULL. */
enum fa_rc fa_jwt_verify(const struct fa_jwks *keys, const struct fa_jwt_rules *rules,
			 const char *token, size_t len, json_t **claims, json_t **header,
			 struct fa_err *err) FA_WUR;

/* Claim checks alone, on a payload already verified (for tests and for a
 * caller that verified the JWS itself). header and claims are borrowed. */
enum fa_rc fa_jwt_claims_check(const struct fa_jwt_rules *rules, const json_t *header,
			       const json_t *claims, struct fa_err *err) FA_WUR;

#endif
