/* secrets.h -- the secrets module: where flyteauth's secrets come from, how
 * the four server keys are generated, and how bcrypt client secrets and
 * passwords are hashed and checked.
 *
 * Four concerns, one file each:
 *  - lookup.c: a secret by name, from an inline map, then the environment
 *    (`<env-prefix><name>`), then a file (`<secrets-prefix>/<name>`), the way
 *    Flyte's FileEnvSecretManager does it; plus decoding of base64 keys.
 *  - keygen.c: `secrets init`: claim_symmetric_key, cookie_hash_key,
 *    cookie_block_key and token_rsa_key.pem written atomically, mode 0600.
 *  - rotate.c: `secrets rotate`: the token signing key moves to the old
 *    slot and a new one takes its place, in one or two steps.
 *  - bcrypt.c: `base64(bcrypt)` (Flyte's form) and raw `$2a$/$2b$/$2y$`
 *    hashes through libxcrypt; the comparison is constant-time.
 *  - cache.c: a bounded, expiring memory of successful checks so machine
 *    clients do not pay bcrypt on every token request.
 *
 * Nothing here logs, and no message ever holds a secret value: errors name
 * the secret, the environment variable and the file that were tried.
 */
#ifndef FA_SECRETS_H
#define FA_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- names and defaults (flyteadmin's spellings) ------------------------ */

#define FA_SECRET_CLAIM_SYMMETRIC_KEY "claim_symmetric_key"
#define FA_SECRET_COOKIE_HASH_KEY "cookie_hash_key"
#define FA_SECRET_COOKIE_BLOCK_KEY "cookie_block_key"
#define FA_SECRET_TOKEN_RSA_KEY "token_rsa_key.pem"
#define FA_SECRET_TOKEN_RSA_KEY_OLD "token_rsa_key_old.pem"
#define FA_SECRET_OIDC_CLIENT_SECRET "oidc_client_secret"

/* Decoded key lengths flyteadmin requires (auth/init_secrets.go). */
#define FA_SECRET_CLAIM_KEY_LEN 32
#define FA_SECRET_COOKIE_HASH_KEY_LEN 64
#define FA_SECRET_COOKIE_BLOCK_KEY_LEN 32
/* RSA modulus size `secrets init` generates, as flyteadmin's init. */
#define FA_SECRET_RSA_BITS 2048

/* flytestdlib secretmanager defaults (section `secrets:`). */
#define FA_SECRET_DEFAULT_PREFIX "/etc/secrets"
#define FA_SECRET_DEFAULT_ENV_PREFIX "FLYTE_SECRET_"

/* A secret name is used verbatim as a file name under secrets-prefix and as
 * the tail of an environment variable name, so it is held to the character
 * set of a Kubernetes Secret data key ([-._a-zA-Z0-9], at most 253 chars):
 * every name Flyte mounts from a Secret fits, and no name can climb out of
 * the directory. */
#define FA_MAX_SECRET_NAME 253
/* env-prefix: "FLYTE_SECRET_" is 13 chars; anything near this cap is a typo. */
#define FA_MAX_SECRET_ENV_PREFIX 128

/* ---- lookup -------------------------------------------------------------- */

/* One inline secret carried by the configuration (Helm values can hold
 * them). Both strings are borrowed for the duration of a lookup. */
struct fa_secret_inline {
	const char *name;
	const char *value;
};

/* Where secrets are looked up. Every pointer is borrowed. NULL prefixes
 * mean Flyte's defaults (FA_SECRET_DEFAULT_ENV_PREFIX,
 * FA_SECRET_DEFAULT_PREFIX). `inline_secrets` (n_inline entries, may be
 * NULL when n_inline is 0) is consulted first. */
struct fa_secret_source {
	const char *env_prefix;
	const char *secrets_prefix;
	const struct fa_secret_inline *inline_secrets;
	size_t n_inline;
};

enum fa_secret_origin {
	FA_SECRET_FROM_INLINE = 0,
	FA_SECRET_FROM_ENV = 1,
	FA_SECRET_FROM_FILE = 2,
};

/* FA_OK if `name` is a valid secret name (see FA_MAX_SECRET_NAME); else
 * FA_EINVAL with the reason. */
enum fa_rc fa_secret_name_verify(const char *name, struct fa_err *err) FA_WUR;

/* Looks `name` up: the inline map, then env `<env_prefix><name>`, then the
 * file `<secrets_prefix>/<name>` (symlinks followed, as Kubernetes mounts
 * them; it must be a regular file). Exactly one trailing "\n" or "\r\n" is
 * removed. On success *out is a malloc'd NUL-terminated copy that the caller
 * releases with fa_free_secret(); *len (optional) is its length and *origin
 * (optional) says where it was found.
 * Errors: FA_EINVAL bad name or prefix, an empty value, or a NUL byte in it;
 * FA_ENOTFOUND neither the env var nor the file exists (the message names
 * both); FA_ETOOBIG over FA_MAX_SECRET; FA_EIO the file cannot be read;
 * FA_ENOMEM. On failure *out is NULL. */
enum fa_rc fa_secret_get(const struct fa_secret_source *src, const char *name,
			 char **out, size_t *len, enum fa_secret_origin *origin,
			 struct fa_err *err) FA_WUR;

/* As fa_secret_get(), for a secret a deployment may leave out (the old
 * token signing key exists only during a key rotation): FA_ENOTFOUND also
 * when it is set but empty after trimming. A systemd unit cannot leave out
 * a LoadCredential= file that does not exist (the unit fails to start),
 * but can default it to a newline with SetCredential=, which is how the
 * packaged unit says "no old key". */
enum fa_rc fa_secret_get_optional(const struct fa_secret_source *src, const char *name,
				  char **out, size_t *len, struct fa_err *err) FA_WUR;

/* Decodes a symmetric key held as base64 (standard or URL alphabet, padded
 * or not) into out, which must hold `want` bytes, and requires exactly
 * `want` decoded bytes. `name` only labels the error message.
 * Errors: FA_EINVAL not base64, or the wrong length (stated in bytes).
 * On failure out is zeroed. */
enum fa_rc fa_secret_key_decode(const char *name, const char *value, size_t len,
				unsigned char *out, size_t want,
				struct fa_err *err) FA_WUR;

/* fa_secret_get() then fa_secret_key_decode(); the encoded copy is wiped. */
enum fa_rc fa_secret_get_key(const struct fa_secret_source *src, const char *name,
			     unsigned char *out, size_t want,
			     struct fa_err *err) FA_WUR;

/* ---- secrets init -------------------------------------------------------- */

/* Writes the four server secrets into `dir` (created 0700, parents too, if
 * missing): claim_symmetric_key (32 random bytes), cookie_hash_key (64),
 * cookie_block_key (32) as unpadded standard base64 without a newline, and
 * token_rsa_key.pem, a fresh RSA-2048 key as PKCS#1 PEM ("RSA PRIVATE KEY",
 * what flyteadmin's x509.ParsePKCS1PrivateKey reads). Every file is mode
 * 0600, written to a temp file (O_EXCL|O_NOFOLLOW) then renamed into place.
 * Unless `force`, an existing file of any of the four names makes it write
 * nothing: FA_EEXIST, the message names the first such file.
 * Errors: FA_EEXIST, FA_EIO (message names the path), FA_ECRYPTO, FA_ENOMEM,
 * FA_EINVAL (empty dir). On failure no temp file is left behind. */
enum fa_rc fa_secret_init_dir(const char *dir, bool force, struct fa_err *err) FA_WUR;

/* The four file names fa_secret_init_dir() writes, in the order written.
 * Static storage; *n gets the count (4). */
const char *const *fa_secret_init_names(size_t *n);

/* ---- secrets rotate ------------------------------------------------------ */

/* The type of key a rotation makes. */
enum fa_secret_key_type {
	FA_SECRET_KEY_SAME = 0,     /* the current key's: RSA of its modulus size (at
				     * least FA_SECRET_RSA_BITS), its EC curve, Ed25519 */
	FA_SECRET_KEY_RSA = 1,      /* RSA, FA_SECRET_RSA_BITS (RS256) */
	FA_SECRET_KEY_P256 = 2,     /* EC P-256 (ES256) */
	FA_SECRET_KEY_ED25519 = 3,  /* Ed25519 (EdDSA) */
};

enum fa_secret_rotate_step {
	/* old <- current, current <- a new key: for one instance. */
	FA_SECRET_ROTATE_ONCE = 0,
	/* old <- a new key; current unchanged: the new key is published and
	 * accepted everywhere before any instance signs with it. */
	FA_SECRET_ROTATE_STAGE = 1,
	/* current <-> old: the staged key signs, the previous one is accepted. */
	FA_SECRET_ROTATE_PROMOTE = 2,
};

/* What to rotate. Strings are borrowed; NULL names mean Flyte's defaults
 * (FA_SECRET_TOKEN_RSA_KEY, FA_SECRET_TOKEN_RSA_KEY_OLD). */
struct fa_secret_rotation {
	const char *dir;
	const char *key_name;
	const char *old_name;
	enum fa_secret_key_type type;   /* ignored by PROMOTE */
	enum fa_secret_rotate_step step;
	bool force;                     /* ONCE, STAGE: replace an existing old key */
};

/* Rotates the token signing key in r->dir. The current key must exist and
 * be a private key (PEM, at most FA_MAX_SECRET bytes; for PROMOTE the old
 * one too). Without force, an existing old key makes it change nothing:
 * tokens signed with that key may still be live. Files are written mode
 * 0600 to temp files and renamed into place, the old slot first, so the
 * directory holds a usable pair at every instant; on failure no temp file
 * is left and an old key this call created is removed again.
 * Errors: FA_EEXIST (old key present), FA_ENOTFOUND (no current key, or
 * no old key to promote), FA_EINVAL (bad name, not a private key PEM),
 * FA_EUNSUPPORTED (a key type it cannot renew: name one), FA_EIO,
 * FA_ECRYPTO, FA_ENOMEM. Messages name files, never key material. */
enum fa_rc fa_secret_rotate(const struct fa_secret_rotation *r, struct fa_err *err) FA_WUR;

/* ---- bcrypt -------------------------------------------------------------- */

/* A raw bcrypt hash: "$2b$" cost "$" 22 salt chars and 31 hash chars. */
#define FA_BCRYPT_LEN 60
/* Its standard base64 (60 bytes encode to 80 chars, never padded). */
#define FA_BCRYPT_B64_LEN 80
/* bcrypt reads only this many bytes of a secret. */
#define FA_BCRYPT_MAX_SECRET 72
#define FA_BCRYPT_COST_MIN 4
#define FA_BCRYPT_COST_MAX 31
#define FA_BCRYPT_COST_DEFAULT 10

/* Hashes a secret as "$2b$<cost>$...", salt from OpenSSL's CSPRNG, and
 * writes its standard base64 (Flyte's client_secret form) into b64, and the
 * raw hash into raw when raw is not NULL.
 * Errors: FA_EINVAL empty secret, a NUL byte in it, or a cost outside
 * 4..31; FA_ETOOBIG longer than 72 bytes (bcrypt would silently ignore the
 * rest); FA_ECRYPTO libxcrypt or RNG failure. */
enum fa_rc fa_secret_hash(const char *secret, size_t len, unsigned cost,
			  char b64[FA_BCRYPT_B64_LEN + 1],
			  char raw[FA_BCRYPT_LEN + 1], struct fa_err *err) FA_WUR;

/* Normalises a stored hash -- base64(bcrypt), padded or not, or a raw
 * $2a$/$2b$/$2y$ hash -- into its raw form, checking its shape (prefix,
 * cost 04..31, 53 chars of bcrypt's alphabet). Config loading calls this so
 * a bad client_secret is caught at start-up.
 * Errors: FA_EINVAL with what is wrong (never the value). */
enum fa_rc fa_secret_hash_parse(const char *stored, char raw[FA_BCRYPT_LEN + 1],
				struct fa_err *err) FA_WUR;

/* Checks a presented secret (len bytes, at most FA_MAX_PASSWORD) against a
 * stored hash, comparing in constant time.
 * Returns FA_OK on a match; FA_EDENIED on a mismatch, an empty or over-long
 * secret or one holding a NUL byte (libxcrypt would stop reading there);
 * FA_EINVAL when the stored hash is malformed (a configuration problem, not
 * the client's); FA_ENOMEM / FA_ECRYPTO on internal failure. */
enum fa_rc fa_secret_check(const char *stored, const char *presented, size_t len,
			   struct fa_err *err) FA_WUR;

/* Spends the time of one default-cost check and always fails with
 * FA_EDENIED: for unknown clients or users, so that they are not told apart
 * from a wrong secret by timing. */
enum fa_rc fa_secret_check_dummy(const char *presented, size_t len,
				 struct fa_err *err) FA_WUR;

/* ---- remembered checks ---------------------------------------------------- */

/* A bounded, thread-safe memory of successful checks. An entry is
 * HMAC-SHA256, under a random key made in _new, of the length-prefixed
 * (client_id, stored hash, presented secret): it holds no secret, a changed
 * stored hash or secret can never hit it, and it expires `ttl_s` seconds
 * after the bcrypt check that made it (hits do not extend it). When full,
 * the least recently used entry of the key's set is replaced. Failed checks
 * are never remembered. */
struct fa_secret_cache;

struct fa_secret_cache_stats {
	uint64_t hits;          /* answered without bcrypt */
	uint64_t misses;        /* went to bcrypt */
	uint64_t inserts;       /* successful checks remembered */
	uint64_t evictions;     /* live entries pushed out when full */
	size_t entries;         /* live (unexpired) entries now */
	size_t capacity;
};

/* max_entries 1..1,048,576, ttl_s 1..86400. Returns NULL on bad arguments,
 * allocation or RNG failure. */
struct fa_secret_cache *fa_secret_cache_new(size_t max_entries, unsigned ttl_s);
/* NULL is a no-op; the HMAC key and entries are wiped. */
void fa_secret_cache_free(struct fa_secret_cache *c);
void fa_secret_cache_stats(struct fa_secret_cache *c, struct fa_secret_cache_stats *out);

/* fa_secret_check() through the cache (c may be NULL: no caching).
 * client_id (at most FA_MAX_ID bytes) is part of the key so that two
 * clients sharing a hash do not share entries. The stored hash's shape is
 * checked on every call, so FA_EINVAL is returned for a malformed one even
 * on what would be a hit. Returns FA_OK / FA_EDENIED / FA_EINVAL, or
 * FA_ENOMEM / FA_ECRYPTO on internal failure. */
enum fa_rc fa_secret_check_cached(struct fa_secret_cache *c, const char *client_id,
				  const char *stored, const char *presented, size_t len,
				  struct fa_err *err) FA_WUR;
/* The cache alone, never bcrypt: true when fa_secret_check_cached would
 * answer FA_OK from a remembered check (counted as a hit); false when it
 * would have to run bcrypt (or the hash is malformed, or c is NULL). For
 * a caller that must not block (an HTTP worker) before it hands the check
 * to a thread that may. */
bool fa_secret_cache_hit(struct fa_secret_cache *c, const char *client_id, const char *stored,
			 const char *presented, size_t len);

#endif
