/* pkce.c -- Proof Key for Code Exchange (RFC 7636), S256 only.
 *
 * The authorize endpoint checks a challenge's shape and method; the token
 * endpoint checks the verifier against it. "plain" is refused outright: its
 * challenge is the verifier itself, so anyone who sees the authorize URL
 * (browser history, a proxy log, a malicious app on the loopback port) can
 * redeem the code. Pure logic: no HTTP, no store.
 */
#include <string.h>

#include "authz/authz_int.h"

/* RFC 7636 §4.1: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~". */
static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static bool b64url_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

enum fa_rc fa_pkce_challenge_check(const char *challenge, const char *method,
				   struct fa_err *err)
{
	size_t len;

	if (method != NULL && challenge == NULL)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "code_challenge_method without code_challenge");
	if (challenge == NULL)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "code_challenge is missing");
	/* The RFC's default method is plain; refusing it means refusing an
	 * absent method too, or a client could get plain by omission. */
	if (method == NULL || strcmp(method, "plain") == 0)
		return fa_err_oauth(err, FA_EUNSUPPORTED, "invalid_request",
				    "PKCE method plain is not supported; use S256");
	if (strcmp(method, "S256") != 0)
		return fa_err_oauth(err, FA_EUNSUPPORTED, "invalid_request",
				    "unsupported code_challenge_method; use S256");
	len = strnlen(challenge, FA_PKCE_CHALLENGE_LEN + 1);
	if (len != FA_PKCE_CHALLENGE_LEN)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "an S256 code_challenge is 43 base64url characters");
	for (size_t i = 0; i < len; i++) {
		if (!b64url_char((unsigned char)challenge[i]))
			return fa_err_oauth(err, FA_EINVAL, "invalid_request",
					    "an S256 code_challenge is 43 base64url characters");
	}
	return FA_OK;
}

enum fa_rc fa_pkce_verify(const char *challenge, const char *verifier, struct fa_err *err)
{
	char want[FA_PKCE_CHALLENGE_LEN + 1];
	size_t len;
	enum fa_rc rc;

	if (verifier == NULL)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "code_verifier is missing");
	len = strnlen(verifier, FA_PKCE_VERIFIER_MAX + 1);
	if (len < FA_PKCE_VERIFIER_MIN || len > FA_PKCE_VERIFIER_MAX)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "code_verifier must be 43 to 128 characters");
	for (size_t i = 0; i < len; i++) {
		if (!unreserved((unsigned char)verifier[i]))
			return fa_err_oauth(err, FA_EINVAL, "invalid_request",
					    "code_verifier has a character RFC 7636 does not allow");
	}
	rc = fa_sha256_b64url(verifier, len, want);
	if (rc != FA_OK)
		return fa_err_oauth(err, FA_ECRYPTO, "server_error", "PKCE hash failed");
	if (!fa_ct_eq(want, FA_PKCE_CHALLENGE_LEN, challenge, strnlen(challenge, 64)))
		rc = fa_err_oauth(err, FA_EDENIED, "invalid_grant",
				  "code_verifier does not match the code_challenge");
	fa_memzero(want, sizeof(want));
	return rc;
}
