/* crypto.c -- randomness, SHA-256, constant-time comparison and zeroing,
 * and the TLS certificate/key pair check, all delegated to OpenSSL.
 * Nothing here implements a primitive.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "base/base.h"

enum fa_rc fa_rand_bytes(void *out, size_t n)
{
	if (n > INT32_MAX)
		return FA_ETOOBIG;
	return RAND_bytes(out, (int)n) == 1 ? FA_OK : FA_ECRYPTO;
}

enum fa_rc fa_rand_token(char out[FA_TOKEN_CHARS + 1])
{
	unsigned char raw[32];
	enum fa_rc rc = fa_rand_bytes(raw, sizeof(raw));

	if (rc == FA_OK)
		rc = fa_b64_encode(raw, sizeof(raw), FA_B64_URL | FA_B64_NOPAD, out,
				   FA_TOKEN_CHARS + 1);
	fa_memzero(raw, sizeof(raw));
	return rc;
}

enum fa_rc fa_sha256(const void *in, size_t n, unsigned char out[FA_SHA256_LEN])
{
	unsigned int len = 0;

	if (EVP_Digest(in, n, out, &len, EVP_sha256(), NULL) != 1 || len != FA_SHA256_LEN)
		return FA_ECRYPTO;
	return FA_OK;
}

enum fa_rc fa_sha256_b64url(const void *in, size_t n, char out[FA_TOKEN_CHARS + 1])
{
	unsigned char h[FA_SHA256_LEN];
	enum fa_rc rc = fa_sha256(in, n, h);

	if (rc == FA_OK)
		rc = fa_b64_encode(h, sizeof(h), FA_B64_URL | FA_B64_NOPAD, out, FA_TOKEN_CHARS + 1);
	fa_memzero(h, sizeof(h));
	return rc;
}

struct fa_sha256_hasher {
	EVP_MD *md;
};

struct fa_sha256_hasher *fa_sha256_hasher_new(void)
{
	struct fa_sha256_hasher *h = calloc(1, sizeof(*h));

	if (h && !(h->md = EVP_MD_fetch(NULL, "SHA256", NULL))) {
		free(h);
		h = NULL;
	}
	return h;
}

void fa_sha256_hasher_free(struct fa_sha256_hasher *h)
{
	if (!h)
		return;
	EVP_MD_free(h->md);
	free(h);
}

enum fa_rc fa_sha256_with(const struct fa_sha256_hasher *h, const void *in, size_t n,
			  unsigned char out[FA_SHA256_LEN])
{
	unsigned int len = 0;

	if (EVP_Digest(in, n, out, &len, h->md, NULL) != 1 || len != FA_SHA256_LEN)
		return FA_ECRYPTO;
	return FA_OK;
}

enum fa_rc fa_sha_left_half_b64url(unsigned bits, const void *in, size_t n, char *out,
				   size_t cap)
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	const EVP_MD *md = bits == 256 ? EVP_sha256() : bits == 384 ? EVP_sha384() :
			   bits == 512 ? EVP_sha512() : NULL;
	enum fa_rc rc;

	if (!md)
		return FA_EINVAL;
	if (EVP_Digest(in, n, h, &len, md, NULL) != 1 || len != bits / 8)
		return FA_ECRYPTO;
	rc = fa_b64_encode(h, len / 2, FA_B64_URL | FA_B64_NOPAD, out, cap);
	fa_memzero(h, sizeof(h));
	return rc;
}

void fa_hex(const void *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = in;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

enum fa_rc fa_sha256_hex(const void *in, size_t n, char out[2 * FA_SHA256_LEN + 1])
{
	unsigned char md[FA_SHA256_LEN];
	enum fa_rc rc = fa_sha256(in, n, md);

	if (rc == FA_OK)
		fa_hex(md, sizeof(md), out);
	else
		out[0] = '\0';
	return rc;
}

void fa_log_id(const void *in, size_t n, char out[9])
{
	char hex[2 * FA_SHA256_LEN + 1];

	if (fa_sha256_hex(in, n, hex) != FA_OK) {
		memcpy(out, "????????", 9);
		return;
	}
	memcpy(out, hex, 8);
	out[8] = '\0';
}

bool fa_ct_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen != blen)
		return false;
	if (alen == 0)
		return true;
	return CRYPTO_memcmp(a, b, alen) == 0;
}

bool fa_ct_streq(const char *a, const char *b)
{
	if (!a || !b)
		return false;
	return fa_ct_eq(a, strlen(a), b, strlen(b));
}

void fa_memzero(void *p, size_t n)
{
	/* glibc's explicit_bzero is memset that the compiler may not drop:
	 * several times faster than OPENSSL_cleanse's word loop on the few
	 * KiB every request arena zeroes. */
	if (p && n)
		explicit_bzero(p, n);
}

void fa_free_secret(char *s)
{
	if (!s)
		return;
	fa_memzero(s, strlen(s));
	free(s);
}

/* A private key with a passphrase is refused, never prompted for. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

enum fa_rc fa_tls_pair_check(const char *cert_pem, const char *key_pem, struct fa_err *err)
{
	BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	enum fa_rc rc = FA_OK;

	if (!cb || !kb) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	if (!(x = PEM_read_bio_X509(cb, NULL, no_passphrase, NULL))) {
		rc = fa_err_set(err, FA_ECONFIG, "the certificate file holds no PEM certificate");
		goto out;
	}
	if (!(k = PEM_read_bio_PrivateKey(kb, NULL, no_passphrase, NULL))) {
		rc = fa_err_set(err, FA_ECONFIG, "the key file holds no PEM private key without "
				"a passphrase");
		goto out;
	}
	if (X509_check_private_key(x, k) != 1)
		rc = fa_err_set(err, FA_ECONFIG, "the private key is not the certificate's");
out:
	ERR_clear_error();
	EVP_PKEY_free(k);
	X509_free(x);
	BIO_free(cb);
	BIO_free(kb);
	return rc;
}
