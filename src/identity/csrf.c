/* csrf.c -- the CSRF protection of identity's forms (the login form and the
 * logout confirmation): a signed double-submit pair.
 *
 * Issuing a form sets a short-lived cookie (FA_IDENTITY_CSRF_COOKIE, scoped
 * to the form's own path) sealed with the form key, holding a random nonce,
 * its expiry and the form's redirect target; the form carries
 * HMAC(csrf key, nonce || path). The POST must present both, and they must
 * agree (compared in constant time). A third site can neither read the
 * cookie nor compute the MAC, and the path in the MAC keeps a login form's
 * pair from being spent on /logout and back.
 */
#include <string.h>

#include "identity/identity_int.h"

/* plain of the CSRF cookie: nonce, expiry, then the redirect target. */
#define FORM_HEAD (FA_CSRF_NONCE_LEN + 8)
/* The longest form path ("/login", "/logout"). */
#define PATH_MAX_LEN 16

static enum fa_rc token_of(const struct fa_identity *id, const unsigned char *nonce,
			   const char *path, char out[FA_TOKEN_CHARS + 1], struct fa_err *err)
{
	unsigned char in[FA_CSRF_NONCE_LEN + PATH_MAX_LEN];
	size_t plen = strlen(path);
	enum fa_rc rc;

	if (plen > PATH_MAX_LEN)
		return fa_err_set(err, FA_EINVAL, "form path too long");
	memcpy(in, nonce, FA_CSRF_NONCE_LEN);
	memcpy(in + FA_CSRF_NONCE_LEN, path, plen);
	rc = fa_identity_mac(id->csrf_mac_key, in, FA_CSRF_NONCE_LEN + plen, out, err);
	fa_memzero(in, sizeof(in));
	return rc;
}

enum fa_rc fa_identity_csrf_issue(const struct fa_identity *id, struct fa_req *req,
				  struct fa_resp *resp, const char *path, const char *saved,
				  char token[FA_TOKEN_CHARS + 1], struct fa_err *err)
{
	unsigned char plain[FORM_HEAD + FA_MAX_REDIRECT_URI];
	size_t rlen = strlen(saved);
	int64_t exp = fa_now() + FA_IDENTITY_LOGIN_FORM_TTL_S;
	char *sealed = NULL;
	enum fa_rc rc;

	if (rlen > FA_MAX_REDIRECT_URI)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request", "redirect_url is too long");
	rc = fa_rand_bytes(plain, FA_CSRF_NONCE_LEN);
	if (rc != FA_OK)
		return fa_err_set(err, rc, "no randomness for a form nonce");
	for (int i = 7; i >= 0; i--)
		plain[FA_CSRF_NONCE_LEN + (size_t)(7 - i)] = (unsigned char)((uint64_t)exp >> (8 * i));
	memcpy(plain + FORM_HEAD, saved, rlen);
	rc = token_of(id, plain, path, token, err);
	if (rc == FA_OK)
		rc = fa_identity_seal(id->form_key, FA_IDENTITY_CSRF_COOKIE, plain, FORM_HEAD + rlen,
				      fa_req_arena(req), &sealed, err);
	if (rc == FA_OK)
		rc = fa_identity_cookie_set(id, resp, FA_IDENTITY_CSRF_COOKIE, sealed, path,
					    FA_IDENTITY_LOGIN_FORM_TTL_S, err);
	fa_memzero(plain, sizeof(plain));
	return rc;
}

enum fa_rc fa_identity_csrf_verify(const struct fa_identity *id, struct fa_req *req,
				   const char *path, const char **saved)
{
	unsigned char plain[FORM_HEAD + FA_MAX_REDIRECT_URI];
	const char *cookie = fa_req_cookie(req, FA_IDENTITY_CSRF_COOKIE);
	const char *token = fa_req_form(req, "csrf_token");
	char want[FA_TOKEN_CHARS + 1];
	size_t n = 0, tlen;
	int64_t exp = 0;
	enum fa_rc rc = FA_EDENIED;

	*saved = NULL;
	if (!cookie || !token)
		return FA_EDENIED;
	tlen = strnlen(token, FA_TOKEN_CHARS + 1);
	if (fa_identity_unseal(id->form_key, FA_IDENTITY_CSRF_COOKIE, cookie, plain,
			       sizeof(plain), &n, NULL) != FA_OK || n < FORM_HEAD)
		goto out;
	for (size_t i = 0; i < 8; i++)
		exp = (int64_t)(((uint64_t)exp << 8) | plain[FA_CSRF_NONCE_LEN + i]);
	if (exp <= fa_now())
		goto out;
	if (token_of(id, plain, path, want, NULL) != FA_OK ||
	    !fa_ct_eq(want, FA_TOKEN_CHARS, token, tlen))
		goto out;
	*saved = fa_arena_strndup(fa_req_arena(req), (const char *)plain + FORM_HEAD,
				  n - FORM_HEAD);
	rc = *saved ? FA_OK : FA_ENOMEM;
out:
	fa_memzero(plain, sizeof(plain));
	fa_memzero(want, sizeof(want));
	return rc;
}
