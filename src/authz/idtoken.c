/* idtoken.c -- OpenID Connect ID tokens: minting one for a grant whose
 * scope has `openid` (Core §2, §3.1.3.6), the user claims a scope releases
 * (Core §5.4: profile, email) for the ID token and for userinfo, and
 * checking an ID token of ours that comes back as id_token_hint.
 *
 * An ID token is for its client only: aud and azp are the client id, never
 * a resource server, and its header typ is "JWT", so it can never pass
 * where an access token (typ at+jwt) is expected, nor the reverse. It
 * lives as long as an access token.
 *
 * Pure logic: no HTTP, no store.
 */
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

/* Core §5.4: what `profile` releases (of what a user can have here), then
 * groups, which flyteadmin and most RPs read from the same place. */
static const char *const profile_claims[] = {
	"name", "preferred_username", "given_name", "family_name", "picture", "groups",
};
static const char *const email_claims[] = { "email", "email_verified" };

static enum fa_rc copy_claims(const json_t *user, const char *const *names, size_t n,
			      json_t *into)
{
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(user, names[i]);

		if (v && json_object_set(into, names[i], v) != 0)
			return FA_ENOMEM;
	}
	return FA_OK;
}

enum fa_rc fa_authz_user_claims(const json_t *user, const struct fa_scope *scope, json_t *into)
{
	enum fa_rc rc = FA_OK;

	if (json_object_set(into, "sub", json_object_get(user, "sub")) != 0)
		return FA_ENOMEM;
	if (fa_scope_has(scope, "profile"))
		rc = copy_claims(user, profile_claims, ARRAY_LEN(profile_claims), into);
	if (rc == FA_OK && fa_scope_has(scope, "email"))
		rc = copy_claims(user, email_claims, ARRAY_LEN(email_claims), into);
	return rc;
}

/* Core §3.1.3.6: the hash of the alg's size (EdDSA: SHA-512, as the
 * OpenID Foundation's errata for Ed25519 say). */
static unsigned at_hash_bits(enum fa_jws_alg alg)
{
	switch (alg) {
	case FA_JWS_RS384:
	case FA_JWS_PS384:
	case FA_JWS_ES384:
		return 384;
	case FA_JWS_RS512:
	case FA_JWS_PS512:
	case FA_JWS_EDDSA:
		return 512;
	default:
		return 256;
	}
}

enum fa_rc fa_authz_idt_mint(const struct fa_authz *az, const struct fa_authz_idt *in,
			     char **token, struct fa_err *err)
{
	char at_hash[FA_TOKEN_CHARS + 1];   /* 512 / 2 bits: 43 characters */
	json_t *claims = json_object();
	struct fa_err e;
	enum fa_rc rc;

	*token = NULL;
	if (!claims)
		return fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
	rc = fa_sha_left_half_b64url(at_hash_bits(fa_jwk_alg(az->signing_key)), in->access_token,
				     strlen(in->access_token), at_hash, sizeof(at_hash));
	if (rc != FA_OK) {
		rc = fa_err_oauth(err, rc, "server_error", "the token hash failed");
		goto out;
	}
	if (fa_authz_user_claims(in->user, in->scope, claims) != FA_OK ||
	    json_object_set_new(claims, "iss", json_string(az->issuer)) != 0 ||
	    json_object_set_new(claims, "aud", json_string(in->client_id)) != 0 ||
	    json_object_set_new(claims, "azp", json_string(in->client_id)) != 0 ||
	    json_object_set_new(claims, "exp", json_integer(in->now + az->at_ttl_s)) != 0 ||
	    json_object_set_new(claims, "iat", json_integer(in->now)) != 0 ||
	    json_object_set_new(claims, "at_hash", json_string(at_hash)) != 0 ||
	    (in->auth_time > 0 &&
	     json_object_set_new(claims, "auth_time", json_integer(in->auth_time)) != 0) ||
	    (in->nonce && in->nonce[0] &&
	     json_object_set_new(claims, "nonce", json_string(in->nonce)) != 0) ||
	    (in->sid && in->sid[0] && json_object_set_new(claims, "sid", json_string(in->sid)) != 0)) {
		rc = fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
		goto out;
	}
	fa_err_clear(&e);
	rc = fa_jwt_sign(az->signing_key, "JWT", az->jws_extra, claims, token, &e);
	if (rc != FA_OK) {
		fa_log(az->log, FA_LOG_ERROR, "signing an ID token: %s", e.msg);
		rc = fa_err_oauth(err, rc, "server_error", "the ID token could not be signed");
	}
out:
	json_decref(claims);
	return rc;
}

enum fa_rc fa_authz_idt_hint(const struct fa_authz *az, const char *token, json_t **claims,
			     struct fa_err *err)
{
	struct fa_jwt_rules rules;
	struct fa_jws jws;
	size_t len = strnlen(token, FA_MAX_TOKEN + 1);
	int64_t now = fa_authz_now(az), exp;
	enum fa_rc rc;

	*claims = NULL;
	memset(&jws, 0, sizeof(jws));
	if (len > FA_MAX_TOKEN)
		return fa_err_oauth(err, FA_ETOOBIG, "invalid_request", "id_token_hint is too long");
	rc = fa_jws_verify(az->verify_keys, FA_JWS_ALGS_ALL, token, len, &jws, NULL);
	if (rc != FA_OK)
		return fa_err_oauth(err, FA_EDENIED, "invalid_request",
				    "id_token_hint is not an ID token of this server");
	/* An expired hint still names who logged in (RP-Initiated Logout §2
	 * allows it), up to FA_AUTHZ_HINT_MAX_AGE_S after its expiry: the
	 * claim checks run as of a moment the token was valid. */
	exp = (int64_t)json_integer_value(json_object_get(jws.payload, "exp"));
	fa_jwt_rules_init(&rules);
	rules.issuer = az->issuer;
	rules.typ = "JWT";
	rules.now = exp > 0 && now >= exp && now - exp <= FA_AUTHZ_HINT_MAX_AGE_S ? exp - 1 : now;
	if (fa_jwt_claims_check(&rules, jws.header, jws.payload, NULL) != FA_OK ||
	    !json_is_string(json_object_get(jws.payload, "aud")) ||
	    !json_is_string(json_object_get(jws.payload, "sub"))) {
		rc = fa_err_oauth(err, FA_EDENIED, "invalid_request",
				  "id_token_hint is not an ID token of this server");
		goto out;
	}
	*claims = json_incref(jws.payload);
out:
	fa_jws_cleanup(&jws);
	return rc;
}
