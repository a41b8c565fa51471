/* crypto.c -- randomness, SHA-256, constant-time comparison and zeroing,
 * all delegated to OpenSSL. Nothing here implements a primitive.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

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
