/* token.c -- access tokens: the audience a client may ask for, minting a
 * signed JWT access token (RFC 9068 shape, SPEC §5), and verifying one of
 * ours for introspection and revocation.
 *
 * Minting is the whole cost of a client_credentials grant, so it stays
 * lean: the key is parsed once at start-up (fa_jwk is immutable and shared
 * by all threads), the header's extra member is built once, and the claims
 * are one small jansson object signed straight away. Nothing here touches
 * the store; revocation state is the caller's concern.
 */
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

static bool aud_allowed(const struct fa_authz *az, const struct fa_authz_client *c,
			const char *a, size_t len)
{
	if (strlen(az->default_audience) == len && strncmp(az->default_audience, a, len) == 0)
		return true;
	for (size_t i = 0; i < c->n_audience; i++) {
		if (strlen(c->audience[i]) == len && strncmp(c->audience[i], a, len) == 0)
			return true;
	}
	return false;
}

enum fa_rc fa_authz_audience(const struct fa_authz *az, const struct fa_authz_client *c,
			     const char *requested, json_t **out, struct fa_err *err)
{
	json_t *arr = json_array();
	const char *p;
	size_t count = 0;
	enum fa_rc rc = FA_OK;

	*out = NULL;
	if (!arr)
		return fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
	if (requested == NULL || requested[0] == '\0') {
		if (json_array_append_new(arr, json_string(az->default_audience)) != 0) {
			rc = fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
			goto out;
		}
		goto out;
	}
	if (strnlen(requested, FA_MAX_SCOPE + 1) > FA_MAX_SCOPE) {
		rc = fa_err_oauth(err, FA_ETOOBIG, "invalid_request", "audience is too long");
		goto out;
	}
	p = requested;
	while (*p) {
		size_t len = strcspn(p, " ");

		if (len == 0 || len > FA_AUTHZ_MAX_AUDIENCE || ++count > FA_AUTHZ_MAX_AUDIENCES) {
			rc = fa_err_oauth(err, FA_EINVAL, "invalid_request",
					  "malformed audience parameter");
			goto out;
		}
		/* The client's configured audience list (or the server's own
		 * default audience) bounds what a token may be minted for. */
		if (!aud_allowed(az, c, p, len)) {
			rc = fa_err_oauth(err, FA_EDENIED, "invalid_request",
					  "requested audience is not allowed for this client");
			goto out;
		}
		if (json_array_append_new(arr, json_stringn(p, len)) != 0) {
			rc = fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
			goto out;
		}
		p += len;
		if (*p == ' ') {
			p++;
			if (*p == '\0') {
				rc = fa_err_oauth(err, FA_EINVAL, "invalid_request",
						  "malformed audience parameter");
				goto out;
			}
		}
	}
out:
	if (rc != FA_OK) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return FA_OK;
}

static enum fa_rc new_jti(char jti[FA_AUTHZ_JTI_LEN + 1])
{
	unsigned char r[16];
	enum fa_rc rc = fa_rand_bytes(r, sizeof(r));

	if (rc == FA_OK)
		rc = fa_b64_encode(r, sizeof(r), FA_B64_URL | FA_B64_NOPAD, jti,
				   FA_AUTHZ_JTI_LEN + 1);
	return rc;
}

enum fa_rc fa_authz_at_mint(const struct fa_authz *az, const struct fa_authz_at *at,
			    char **token, char jti[FA_AUTHZ_JTI_LEN + 1], int64_t *exp,
			    struct fa_err *err)
{
	json_t *claims = NULL, *scp = NULL, *aud = NULL, *ui = NULL;
	struct fa_err e;
	enum fa_rc rc;
	int64_t expires = at->now + az->at_ttl_s;

	*token = NULL;
	rc = new_jti(jti);
	if (rc != FA_OK)
		return fa_err_oauth(err, rc, "server_error", "random generator failed");
	claims = json_object();
	scp = fa_scope_json(at->scope);
	aud = json_deep_copy(at->aud);
	if (at->user_info)
		ui = json_deep_copy(at->user_info);
	if (!claims || !scp || !aud || (at->user_info && !ui) ||
	    json_object_set_new(claims, "iss", json_string(az->issuer)) != 0 ||
	    json_object_set_new(claims, "sub", json_string(at->sub)) != 0 ||
	    json_object_set(claims, "aud", aud) != 0 ||
	    json_object_set_new(claims, "exp", json_integer(expires)) != 0 ||
	    json_object_set_new(claims, "iat", json_integer(at->now)) != 0 ||
	    json_object_set_new(claims, "jti", json_string(jti)) != 0 ||
	    json_object_set(claims, "scp", scp) != 0 ||
	    json_object_set_new(claims, "client_id", json_string(at->client_id)) != 0 ||
	    (ui && json_object_set(claims, "user_info", ui) != 0)) {
		rc = fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
		goto out;
	}
	fa_err_clear(&e);
	/* typ at+jwt (RFC 9068 §2.1) marks it an access token, so no other
	 * JWT of ours can pass where one is expected; key_id repeats kid for
	 * flyteadmin's validator. */
	rc = fa_jwt_sign(az->signing_key, "at+jwt", az->jws_extra, claims, token, &e);
	if (rc != FA_OK) {
		fa_log(az->log, FA_LOG_ERROR, "signing an access token: %s", e.msg);
		rc = fa_err_oauth(err, rc, "server_error", "the token could not be signed");
		goto out;
	}
	*exp = expires;
out:
	json_decref(claims);
	json_decref(scp);
	json_decref(aud);
	json_decref(ui);
	return rc;
}

enum fa_rc fa_authz_at_verify(const struct fa_authz *az, const char *token, json_t **claims,
			      struct fa_err *err)
{
	struct fa_jwt_rules rules;
	size_t len = strnlen(token, FA_MAX_TOKEN + 1);

	*claims = NULL;
	if (len > FA_MAX_TOKEN)
		return fa_err_set(err, FA_ETOOBIG, "token is too long");
	fa_jwt_rules_init(&rules);
	rules.issuer = az->issuer;
	rules.typ = "at+jwt";
	/* Introspection answers "is it active now": no leeway on exp. */
	rules.leeway = 0;
	rules.now = fa_authz_now(az);
	return fa_jwt_verify(az->verify_keys, &rules, token, len, claims, NULL, err);
}
