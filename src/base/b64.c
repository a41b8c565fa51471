/* b64.c -- strict base64 and base64url (RFC 4648 §4, §5).
 *
 * Decoding is strict on purpose: JWS (RFC 7515 §2) forbids padding and any
 * character outside the alphabet, and accepting sloppy input would let two
 * different strings name one token. This is an encoding, not a hash or
 * cipher, so it is written here rather than bent out of OpenSSL's
 * EVP_DecodeBlock, which accepts whitespace and mishandles padding.
 */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

static const char std_alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t fa_b64_encoded_size(size_t n, int flags)
{
	if (flags & FA_B64_NOPAD)
		return (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0) + 1;
	return ((n + 2) / 3) * 4 + 1;
}

enum fa_rc fa_b64_encode(const void *in, size_t n, int flags, char *out, size_t outcap)
{
	const unsigned char *p = in;
	const char *al = (flags & FA_B64_URL) ? url_alpha : std_alpha;
	bool pad = !(flags & FA_B64_NOPAD);
	size_t o = 0, i = 0;

	if (n > (SIZE_MAX / 4) - 4 || outcap < fa_b64_encoded_size(n, flags)) {
		if (outcap)
			out[0] = '\0';
		return FA_ETOOBIG;
	}
	for (; i + 3 <= n; i += 3) {
		uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];

		out[o++] = al[(v >> 18) & 63];
		out[o++] = al[(v >> 12) & 63];
		out[o++] = al[(v >> 6) & 63];
		out[o++] = al[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		out[o++] = al[(v >> 18) & 63];
		out[o++] = al[(v >> 12) & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8);

		out[o++] = al[(v >> 18) & 63];
		out[o++] = al[(v >> 12) & 63];
		out[o++] = al[(v >> 6) & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return FA_OK;
}

char *fa_b64_encode_dup(const void *in, size_t n, int flags)
{
	size_t cap = fa_b64_encoded_size(n, flags);
	char *out = malloc(cap);

	if (out && fa_b64_encode(in, n, flags, out, cap) != FA_OK)
		FA_FREE(out);
	return out;
}

static int b64_val(char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (url) {
		if (c == '-')
			return 62;
		if (c == '_')
			return 63;
	} else {
		if (c == '+')
			return 62;
		if (c == '/')
			return 63;
	}
	return -1;
}

enum fa_rc fa_b64_decode(const char *in, size_t n, int flags, unsigned char *out,
			 size_t outcap, size_t *outlen)
{
	bool url = flags & FA_B64_URL;
	size_t npad = 0, o = 0, i, full, rem;
	uint32_t v;

	*outlen = 0;
	/* Padding: only without NOPAD, only at the end, and only to a multiple of 4. */
	while (npad < 2 && n > npad && in[n - 1 - npad] == '=')
		npad++;
	if (npad) {
		if (flags & FA_B64_NOPAD)
			return FA_EINVAL;
		if (n % 4 != 0)
			return FA_EINVAL;
		n -= npad;
	}
	rem = n % 4;
	if (rem == 1)
		return FA_EINVAL;
	if (npad && npad != (4 - rem) % 4)
		return FA_EINVAL;
	full = n - rem;
	if ((full / 4) * 3 + (rem ? rem - 1 : 0) > outcap)
		return FA_ETOOBIG;
	for (i = 0; i < full; i += 4) {
		int a = b64_val(in[i], url), b = b64_val(in[i + 1], url);
		int c = b64_val(in[i + 2], url), d = b64_val(in[i + 3], url);

		if ((a | b | c | d) < 0)
			return FA_EINVAL;
		v = ((uint32_t)a << 18) | ((uint32_t)b << 12) | ((uint32_t)c << 6) | (uint32_t)d;
		out[o++] = (unsigned char)(v >> 16);
		out[o++] = (unsigned char)(v >> 8);
		out[o++] = (unsigned char)v;
	}
	if (rem) {
		int a = b64_val(in[i], url), b = b64_val(in[i + 1], url);
		int c = rem == 3 ? b64_val(in[i + 2], url) : 0;

		if ((a | b | c) < 0)
			return FA_EINVAL;
		v = ((uint32_t)a << 18) | ((uint32_t)b << 12) | ((uint32_t)c << 6);
		/* Non-zero trailing bits would give one value two encodings. */
		if ((rem == 2 && (v & 0xFFFF)) || (rem == 3 && (v & 0xFF)))
			return FA_EINVAL;
		out[o++] = (unsigned char)(v >> 16);
		if (rem == 3)
			out[o++] = (unsigned char)(v >> 8);
	}
	*outlen = o;
	return FA_OK;
}

enum fa_rc fa_b64_decode_dup(const char *in, size_t n, int flags, unsigned char **out,
			     size_t *outlen)
{
	size_t cap = (n / 4) * 3 + 3;
	unsigned char *buf = malloc(cap + 1);
	enum fa_rc rc;

	*out = NULL;
	*outlen = 0;
	if (!buf)
		return FA_ENOMEM;
	rc = fa_b64_decode(in, n, flags, buf, cap, outlen);
	if (rc != FA_OK) {
		free(buf);
		return rc;
	}
	buf[*outlen] = '\0';
	*out = buf;
	return FA_OK;
}
