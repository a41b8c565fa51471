/* seal.c -- the cryptography of identity's cookies, all through OpenSSL 3:
 * per-purpose keys derived with HKDF-SHA256 from the two configured cookie
 * keys, AES-256-GCM sealing of cookie values (random 96-bit nonce per seal,
 * the cookie's name bound as additional data so a value sealed for one
 * cookie never opens as another), and HMAC-SHA256 for CSRF tokens.
 *
 * It knows nothing of sessions or HTTP; it never logs, and its messages
 * never contain key material, plaintext or the sealed value.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "identity/identity_int.h"

/* version(1) + nonce + tag around the ciphertext. */
#define SEAL_OVERHEAD (1 + FA_SEAL_NONCE_LEN + FA_SEAL_TAG_LEN)
/* AAD: version byte + cookie name (an RFC 6265 token, short). */
#define AAD_MAX 128

enum fa_rc fa_identity_key_derive(const unsigned char *block_key, size_t block_len,
				  const unsigned char *hash_key, size_t hash_len,
				  const char *purpose, unsigned char out[FA_SEAL_KEY_LEN],
				  struct fa_err *err)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[5];
	enum fa_rc rc = FA_OK;

	if (!block_key || !block_len || !hash_key || !hash_len || !purpose)
		return fa_err_set(err, FA_EINVAL, "key derivation needs both cookie keys");
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	if (!ctx) {
		rc = fa_err_set(err, FA_ECRYPTO, "HKDF is not available");
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)block_key,
						      block_len);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)(uintptr_t)hash_key,
						      hash_len);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
						      (void *)(uintptr_t)purpose, strlen(purpose));
	params[4] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, FA_SEAL_KEY_LEN, params) != 1)
		rc = fa_err_set(err, FA_ECRYPTO, "HKDF derivation failed");
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	if (rc != FA_OK)
		fa_memzero(out, FA_SEAL_KEY_LEN);
	return rc;
}

static enum fa_rc make_aad(const char *name, unsigned char aad[AAD_MAX], size_t *n,
			   struct fa_err *err)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len + 1 > AAD_MAX)
		return fa_err_set(err, FA_EINVAL, "bad cookie name for sealing");
	aad[0] = FA_SEAL_VERSION;
	memcpy(aad + 1, name, len);
	*n = len + 1;
	return FA_OK;
}

/* AES-256-GCM of in[0..n) into out (n bytes) under key and nonce, with
 * aad authenticated: encrypting writes the tag, decrypting checks it (the
 * final step fails on a wrong tag, before the caller uses anything). */
static bool gcm(bool encrypt, const unsigned char key[FA_SEAL_KEY_LEN],
		const unsigned char *nonce, const unsigned char *aad, size_t aad_len,
		const unsigned char *in, size_t n, unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int enc = encrypt ? 1 : 0, len;
	bool ok;

	ok = ctx && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, FA_SEAL_NONCE_LEN, NULL) == 1 &&
	     EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) == 1 &&
	     EVP_CipherUpdate(ctx, NULL, &len, aad, (int)aad_len) == 1 &&
	     (n == 0 || EVP_CipherUpdate(ctx, out, &len, in, (int)n) == 1) &&
	     (encrypt || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, FA_SEAL_TAG_LEN, tag) == 1) &&
	     EVP_CipherFinal_ex(ctx, out + n, &len) == 1 &&
	     (!encrypt || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, FA_SEAL_TAG_LEN, tag) == 1);
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

enum fa_rc fa_identity_seal(const unsigned char key[FA_SEAL_KEY_LEN], const char *name,
			    const void *plain, size_t n, struct fa_arena *a, char **out,
			    struct fa_err *err)
{
	unsigned char buf[SEAL_OVERHEAD + FA_SEAL_MAX_PLAIN];
	unsigned char aad[AAD_MAX];
	unsigned char *nonce = buf + 1, *ct = buf + 1 + FA_SEAL_NONCE_LEN;
	size_t aad_len = 0, enc;
	char *s = NULL;
	enum fa_rc rc;

	*out = NULL;
	if (n > FA_SEAL_MAX_PLAIN)
		return fa_err_set(err, FA_ETOOBIG, "value to seal is over %d bytes",
				  FA_SEAL_MAX_PLAIN);
	rc = make_aad(name, aad, &aad_len, err);
	if (rc != FA_OK)
		return rc;
	buf[0] = FA_SEAL_VERSION;
	if (fa_rand_bytes(nonce, FA_SEAL_NONCE_LEN) != FA_OK)
		rc = fa_err_set(err, FA_ECRYPTO, "no randomness for the cookie nonce");
	else if (!gcm(true, key, nonce, aad, aad_len, plain, n, ct, ct + n))
		rc = fa_err_set(err, FA_ECRYPTO, "AES-GCM sealing failed");
	enc = fa_b64_encoded_size(SEAL_OVERHEAD + n, FA_B64_URL | FA_B64_NOPAD);
	if (rc == FA_OK && !(s = fa_arena_alloc(a, enc)))
		rc = fa_err_set(err, FA_ENOMEM, "out of request memory");
	if (rc == FA_OK &&
	    fa_b64_encode(buf, SEAL_OVERHEAD + n, FA_B64_URL | FA_B64_NOPAD, s, enc) != FA_OK)
		rc = fa_err_set(err, FA_ETOOBIG, "cannot encode the sealed value");
	if (rc == FA_OK)
		*out = s;
	fa_memzero(buf, sizeof(buf));
	return rc;
}

enum fa_rc fa_identity_unseal(const unsigned char key[FA_SEAL_KEY_LEN], const char *name,
			      const char *sealed, unsigned char *plain, size_t cap, size_t *n,
			      struct fa_err *err)
{
	unsigned char buf[SEAL_OVERHEAD + FA_SEAL_MAX_PLAIN];
	unsigned char aad[AAD_MAX];
	const unsigned char *nonce = buf + 1, *ct = buf + 1 + FA_SEAL_NONCE_LEN;
	size_t aad_len = 0, got = 0, slen, ct_len;
	enum fa_rc rc;

	*n = 0;
	rc = make_aad(name, aad, &aad_len, err);
	if (rc != FA_OK)
		return rc;
	slen = sealed ? strnlen(sealed, FA_MAX_COOKIE + 1) : 0;
	if (slen == 0 || slen > FA_MAX_COOKIE ||
	    fa_b64_decode(sealed, slen, FA_B64_URL | FA_B64_NOPAD, buf, sizeof(buf), &got) != FA_OK ||
	    got < SEAL_OVERHEAD || buf[0] != FA_SEAL_VERSION) {
		rc = fa_err_set(err, FA_EDENIED, "cookie is not a sealed value of ours");
		goto out;
	}
	ct_len = got - SEAL_OVERHEAD;
	if (ct_len > cap) {
		rc = fa_err_set(err, FA_EDENIED, "sealed cookie is larger than expected");
		goto out;
	}
	/* Nothing decrypted is used before the tag passes (plain is wiped on
	 * failure). */
	if (!gcm(false, key, nonce, aad, aad_len, ct, ct_len, plain,
		 (unsigned char *)(uintptr_t)(ct + ct_len))) {
		fa_memzero(plain, cap);
		rc = fa_err_set(err, FA_EDENIED, "cookie does not authenticate");
		goto out;
	}
	*n = ct_len;
out:
	fa_memzero(buf, sizeof(buf));
	return rc;
}

enum fa_rc fa_identity_mac(const unsigned char key[FA_SEAL_KEY_LEN], const void *data,
			   size_t n, char out[FA_TOKEN_CHARS + 1], struct fa_err *err)
{
	unsigned char mac[FA_SHA256_LEN];
	size_t len = 0;
	enum fa_rc rc;

	out[0] = '\0';
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, FA_SEAL_KEY_LEN, data, n, mac,
		       sizeof(mac), &len) || len != sizeof(mac))
		return fa_err_set(err, FA_ECRYPTO, "HMAC-SHA256 failed");
	rc = fa_b64_encode(mac, sizeof(mac), FA_B64_URL | FA_B64_NOPAD, out, FA_TOKEN_CHARS + 1);
	fa_memzero(mac, sizeof(mac));
	if (rc != FA_OK)
		return fa_err_set(err, rc, "cannot encode the MAC");
	return FA_OK;
}
