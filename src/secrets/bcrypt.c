/* bcrypt.c -- hashing and checking client secrets and local-user passwords
 * with bcrypt, through libxcrypt (crypt_gensalt_rn/crypt_rn; no bcrypt code
 * of our own). Stored hashes come in Flyte's form, base64 of the hash as the
 * docs' Python one-liner prints it, or as a raw $2a$/$2b$/$2y$ string.
 *
 * Deliberate differences from a plain crypt() call: a secret with a NUL
 * byte is refused (crypt would stop reading there, so "foo\0bar" would pass
 * as "foo"); hashing refuses secrets over bcrypt's 72-byte limit instead of
 * silently ignoring the tail; the result is compared in constant time; and
 * a malformed stored hash is FA_EINVAL, never confused with a wrong secret.
 * Checking a presented secret longer than 72 bytes behaves as every bcrypt
 * implementation does (only the first 72 count), so hashes made elsewhere
 * keep working. Caching lives in cache.c.
 */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include "secrets/secrets.h"

/* bcrypt's salt is 16 random bytes (22 chars). */
#define BCRYPT_SALT_BYTES 16
/* A base64(bcrypt) value is 80 chars; allow stray padding and refuse
 * anything longer before decoding it. */
#define STORED_MAX (FA_BCRYPT_B64_LEN + 4)

/* A fixed setting (no hash part) at the default cost, for dummy checks. */
static const char dummy_setting[] = "$2b$10$abcdefghijklmnopqrstuu";

static bool bcrypt_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '/';
}

/* Shape of a raw hash: "$2" [aby] "$" 2-digit cost "$" 53 chars. */
static enum fa_rc raw_verify(const char *h, size_t n, struct fa_err *err)
{
	unsigned cost;

	if (n != FA_BCRYPT_LEN)
		return fa_err_set(err, FA_EINVAL, "bcrypt hash has %zu characters, expected %d",
				  n, FA_BCRYPT_LEN);
	if (h[0] != '$' || h[1] != '2' || (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') ||
	    h[3] != '$')
		return fa_err_set(err, FA_EINVAL, "bcrypt hash must start with $2a$, $2b$ or $2y$");
	if (h[4] < '0' || h[4] > '9' || h[5] < '0' || h[5] > '9' || h[6] != '$')
		return fa_err_set(err, FA_EINVAL, "bcrypt hash has a malformed cost");
	cost = (unsigned)(h[4] - '0') * 10 + (unsigned)(h[5] - '0');
	if (cost < FA_BCRYPT_COST_MIN || cost > FA_BCRYPT_COST_MAX)
		return fa_err_set(err, FA_EINVAL, "bcrypt hash cost %u is outside %d..%d", cost,
				  FA_BCRYPT_COST_MIN, FA_BCRYPT_COST_MAX);
	for (size_t i = 7; i < n; i++)
		if (!bcrypt_char((unsigned char)h[i]))
			return fa_err_set(err, FA_EINVAL, "bcrypt hash has a character outside "
					  "its alphabet");
	return FA_OK;
}

enum fa_rc fa_secret_hash_parse(const char *stored, char raw[FA_BCRYPT_LEN + 1],
				struct fa_err *err)
{
	unsigned char dec[FA_BCRYPT_LEN + 4];
	struct fa_err why;
	size_t n, got = 0;
	enum fa_rc rc;

	raw[0] = '\0';
	if (stored == NULL || stored[0] == '\0')
		return fa_err_set(err, FA_EINVAL, "stored secret hash is empty");
	n = strnlen(stored, STORED_MAX + 1);
	if (n > STORED_MAX)
		return fa_err_set(err, FA_EINVAL, "stored secret hash is too long to be bcrypt "
				  "or base64(bcrypt)");
	if (stored[0] == '$') {
		rc = raw_verify(stored, n, err);
		if (rc != FA_OK)
			return rc;
		memcpy(raw, stored, n);
		raw[n] = '\0';
		return FA_OK;
	}
	if (fa_b64_decode(stored, n, FA_B64_STD, dec, sizeof(dec), &got) != FA_OK)
		return fa_err_set(err, FA_EINVAL, "stored secret hash is neither a $2a$/$2b$/$2y$ "
				  "bcrypt hash nor its base64");
	rc = raw_verify((const char *)dec, got, &why);
	if (rc != FA_OK)
		return fa_err_set(err, rc, "stored secret hash (base64-decoded): %s", why.msg);
	memcpy(raw, dec, got);
	raw[got] = '\0';
	return FA_OK;
}

/* Runs bcrypt. phrase is NUL-terminated; setting a raw hash or setting.
 * On success out holds the 60-char result. */
static enum fa_rc run_crypt(const char *phrase, const char *setting,
			    char out[FA_BCRYPT_LEN + 1], struct fa_err *err)
{
	/* ~32 KiB: on the heap, since request threads may have small stacks. */
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	enum fa_rc rc = FA_OK;
	const char *h;

	out[0] = '\0';
	if (cd == NULL)
		return fa_err_set(err, FA_ENOMEM, "out of memory for bcrypt");
	h = crypt_rn(phrase, setting, cd, (int)sizeof(*cd));
	if (h == NULL || h[0] == '*' || strnlen(h, FA_BCRYPT_LEN + 1) != FA_BCRYPT_LEN) {
		rc = fa_err_set(err, FA_EINVAL, "libxcrypt rejected the bcrypt hash");
		goto out;
	}
	memcpy(out, h, FA_BCRYPT_LEN + 1);
out:
	fa_memzero(cd, sizeof(*cd));
	free(cd);
	return rc;
}

/* Copies a presented secret into a NUL-terminated buffer for crypt_rn,
 * refusing what bcrypt cannot judge faithfully. */
static enum fa_rc presented_copy(const char *p, size_t len, char buf[FA_MAX_PASSWORD + 1],
				 struct fa_err *err)
{
	if (p == NULL || len == 0)
		return fa_err_set(err, FA_EDENIED, "empty secret");
	if (len > FA_MAX_PASSWORD)
		return fa_err_set(err, FA_EDENIED, "secret longer than %d bytes", FA_MAX_PASSWORD);
	if (memchr(p, '\0', len) != NULL)
		return fa_err_set(err, FA_EDENIED, "secret contains a NUL byte");
	memcpy(buf, p, len);
	buf[len] = '\0';
	return FA_OK;
}

enum fa_rc fa_secret_check(const char *stored, const char *presented, size_t len,
			   struct fa_err *err)
{
	char raw[FA_BCRYPT_LEN + 1];
	char got[FA_BCRYPT_LEN + 1];
	char phrase[FA_MAX_PASSWORD + 1];
	enum fa_rc rc;

	rc = fa_secret_hash_parse(stored, raw, err);
	if (rc != FA_OK)
		return rc;
	rc = presented_copy(presented, len, phrase, err);
	if (rc != FA_OK)
		goto out;
	rc = run_crypt(phrase, raw, got, err);
	if (rc != FA_OK)
		goto out;
	if (!fa_ct_eq(got, FA_BCRYPT_LEN, raw, FA_BCRYPT_LEN))
		rc = fa_err_set(err, FA_EDENIED, "secret does not match");
out:
	fa_memzero(phrase, sizeof(phrase));
	fa_memzero(got, sizeof(got));
	return rc;
}

enum fa_rc fa_secret_check_dummy(const char *presented, size_t len, struct fa_err *err)
{
	char phrase[FA_MAX_PASSWORD + 1];
	char got[FA_BCRYPT_LEN + 1];

	/* Whatever was presented, pay for one bcrypt, then refuse. */
	if (presented_copy(presented, len, phrase, NULL) != FA_OK)
		memcpy(phrase, "x", 2);
	if (run_crypt(phrase, dummy_setting, got, NULL) != FA_OK)
		got[0] = '\0';
	fa_memzero(phrase, sizeof(phrase));
	fa_memzero(got, sizeof(got));
	return fa_err_set(err, FA_EDENIED, "secret does not match");
}

enum fa_rc fa_secret_hash(const char *secret, size_t len, unsigned cost,
			  char b64[FA_BCRYPT_B64_LEN + 1], char raw[FA_BCRYPT_LEN + 1],
			  struct fa_err *err)
{
	unsigned char salt[BCRYPT_SALT_BYTES];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	char phrase[FA_BCRYPT_MAX_SECRET + 1];
	char out[FA_BCRYPT_LEN + 1];
	enum fa_rc rc = FA_OK;

	b64[0] = '\0';
	if (raw != NULL)
		raw[0] = '\0';
	if (cost < FA_BCRYPT_COST_MIN || cost > FA_BCRYPT_COST_MAX)
		return fa_err_set(err, FA_EINVAL, "bcrypt cost %u is outside %d..%d", cost,
				  FA_BCRYPT_COST_MIN, FA_BCRYPT_COST_MAX);
	if (secret == NULL || len == 0)
		return fa_err_set(err, FA_EINVAL, "the secret is empty");
	if (len > FA_BCRYPT_MAX_SECRET)
		return fa_err_set(err, FA_ETOOBIG, "the secret is longer than %d bytes; bcrypt "
				  "would ignore the rest, so use a shorter one",
				  FA_BCRYPT_MAX_SECRET);
	if (memchr(secret, '\0', len) != NULL)
		return fa_err_set(err, FA_EINVAL, "the secret contains a NUL byte");
	memcpy(phrase, secret, len);
	phrase[len] = '\0';

	/* Salt from OpenSSL's CSPRNG, as every random value in flyteauth. */
	if (fa_rand_bytes(salt, sizeof(salt)) != FA_OK) {
		rc = fa_err_set(err, FA_ECRYPTO, "random generator failed");
		goto out;
	}
	if (crypt_gensalt_rn("$2b$", cost, (const char *)salt, (int)sizeof(salt), setting,
			     (int)sizeof(setting)) == NULL || setting[0] == '*') {
		rc = fa_err_set(err, FA_ECRYPTO, "libxcrypt cannot make a bcrypt salt");
		goto out;
	}
	rc = run_crypt(phrase, setting, out, err);
	if (rc != FA_OK) {
		rc = fa_err_set(err, FA_ECRYPTO, "bcrypt hashing failed");
		goto out;
	}
	if (fa_b64_encode(out, FA_BCRYPT_LEN, FA_B64_STD, b64, FA_BCRYPT_B64_LEN + 1) != FA_OK) {
		rc = fa_err_set(err, FA_ECRYPTO, "cannot encode the hash");
		goto out;
	}
	if (raw != NULL)
		memcpy(raw, out, FA_BCRYPT_LEN + 1);
out:
	fa_memzero(phrase, sizeof(phrase));
	fa_memzero(salt, sizeof(salt));
	return rc;
}
