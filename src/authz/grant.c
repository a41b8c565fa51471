/* grant.c -- the authorization_code and client_credentials grants of the
 * token endpoint, as logic (no HTTP). The refresh_token grant lives with the
 * families it rotates, in family.c.
 *
 * authorization_code redeems a code exactly once (authorize.c has the
 * code's invariants and states): every binding made at issue -- client,
 * redirect_uri, PKCE challenge -- is checked again here, and a code that
 * its own client presents after it was redeemed revokes the family it
 * started -- when the replay's redirect_uri and PKCE verifier bind it as
 * the redemption's did. A failed check changes nothing (SPEC §8), so a
 * thief guessing at a verifier cannot burn the legitimate client's code,
 * and neither another client nor a holder of the spent code alone can
 * revoke what it issued.
 *
 * client_credentials is the hot path of machine clients: after client
 * authentication (a remembered HMAC check) it only builds and signs a
 * token. It reads and writes nothing in the store.
 */
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

#define CODE_INVALID "authorization code is invalid or expired"

static enum fa_rc code_invalid(struct fa_err *err, const char *msg)
{
	return fa_err_oauth(err, FA_EDENIED, "invalid_grant", "%s", msg);
}

/* The redirect_uri and PKCE bindings (RFC 6749 §4.1.3, RFC 7636 §4.6). */
static enum fa_rc check_bindings(const json_t *rec, const char *redirect_uri,
				 const char *verifier, struct fa_err *err)
{
	const char *ruri = fa_authz_jstr(rec, "ruri");
	const char *cc = fa_authz_jstr(rec, "cc");

	if (json_is_true(json_object_get(rec, "ruri_given")) && redirect_uri == NULL)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "redirect_uri is required: the authorization request had one");
	if (redirect_uri != NULL && strcmp(redirect_uri, ruri) != 0)
		return code_invalid(err, "redirect_uri does not match the authorization request");
	if (cc[0] != '\0')
		return fa_pkce_verify(cc, verifier, err);
	/* A verifier without a challenge means the challenge was stripped on
	 * the way to us (a PKCE downgrade): refuse it. */
	if (verifier != NULL)
		return code_invalid(err, "code_verifier sent, but the authorization request had "
				    "no code_challenge");
	return FA_OK;
}

/* A spent code came back from its own client. RFC 6749 §4.1.2: denied, and
 * what it issued is revoked -- one of the two users of the code is not its
 * owner. But the revocation is a write any holder of the code could
 * trigger, and a spent code leaks more easily than a live one (it sits in
 * browser history and proxy logs long after it was redeemed): of a public
 * client, the client id is no secret either. So the replay revokes only
 * when it proves as much as the redemption did -- the same redirect_uri
 * and the PKCE verifier (a confidential client has already authenticated)
 * -- and anything less is an unknown code: invalid_grant, nothing
 * written, no hint that the code was ever good. */
static enum fa_rc code_replayed(struct fa_authz *az, const json_t *rec, const char *redirect_uri,
				const char *verifier, struct fa_err *err)
{
	const char *fam = fa_authz_jstr(rec, "fam");
	struct fa_err ignored;
	enum fa_rc rc;

	fa_err_clear(&ignored);
	if (check_bindings(rec, redirect_uri, verifier, &ignored) != FA_OK)
		return code_invalid(err, CODE_INVALID);
	if (fam[0] != '\0') {
		rc = fa_authz_family_revoke(az, fam, "authorization code replay", err);
		if (rc != FA_OK)
			return rc;
	}
	return code_invalid(err, "authorization code was already used; the tokens it issued "
			    "are revoked");
}

enum fa_rc fa_authz_grant_code(struct fa_authz *az, const struct fa_authz_client *c,
			       const char *code, const char *redirect_uri,
			       const char *code_verifier, struct fa_authz_grant *out,
			       struct fa_err *err)
{
	char key[2 * FA_SHA256_LEN + 1];
	struct fa_authz_redeem r;
	json_t *rec = NULL;
	int64_t ver = 0, exp = 0;
	enum fa_rc rc;

	memset(out, 0, sizeof(*out));
	if (!(c->grants & FA_GRANT_CODE))
		return fa_err_oauth(err, FA_EDENIED, "unauthorized_client",
				    "this client may not use the authorization_code grant");
	if (code == NULL)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request", "code is missing");
	if (strnlen(code, FA_TOKEN_CHARS + 1) != FA_TOKEN_CHARS)
		return code_invalid(err, CODE_INVALID);
	rc = fa_authz_token_key(code, key);
	if (rc != FA_OK)
		return fa_err_oauth(err, rc, "server_error", "hashing failed");
	rc = fa_authz_rec_get(az, FA_KIND_CODE, key, &rec, &ver, &exp, err);
	if (rc == FA_ENOTFOUND) {
		rc = code_invalid(err, CODE_INVALID);
		goto out;
	}
	if (rc != FA_OK) {
		rc = fa_authz_store_fail(az, rc, err, "reading an authorization code");
		goto out;
	}
	/* The client binding comes first: another client presenting a code
	 * (spent or not) learns nothing and changes nothing. Were the replay
	 * check first, any public client_id holding a leaked spent code could
	 * revoke the tokens of the client it was issued to. */
	if (strcmp(fa_authz_jstr(rec, "cid"), c->id) != 0) {
		rc = code_invalid(err, "authorization code was issued to another client");
		goto out;
	}
	if (strcmp(fa_authz_jstr(rec, "st"), "issued") != 0) {
		rc = code_replayed(az, rec, redirect_uri, code_verifier, err);
		goto out;
	}
	rc = check_bindings(rec, redirect_uri, code_verifier, err);
	if (rc != FA_OK)
		goto out;
	r = (struct fa_authz_redeem){ .kind = FA_KIND_CODE, .key = key, .version = ver,
				      .expires_at = exp, .damaged = "a stored code is damaged",
				      .used = "authorization code was already used" };
	/* ISSUED -> REDEEMED with the family of the first tokens. */
	rc = fa_authz_family_redeem(az, c, rec, &r, out, err);
out:
	json_decref(rec);
	return rc;
}

enum fa_rc fa_authz_grant_client_credentials(struct fa_authz *az,
					     const struct fa_authz_client *c,
					     const char *scope, const char *audience,
					     struct fa_authz_grant *out, struct fa_err *err)
{
	struct fa_scope want, dflt;
	struct fa_authz_at at;
	json_t *aud = NULL;
	int64_t exp = 0;
	enum fa_rc rc;

	memset(out, 0, sizeof(*out));
	/* RFC 6749 §4.4: only a client that can authenticate may act as
	 * itself. */
	if (c->is_public || !(c->grants & FA_GRANT_CLIENT_CREDENTIALS))
		return fa_err_oauth(err, FA_EDENIED, "unauthorized_client",
				    "this client may not use the client_credentials grant");
	/* Default: every scope of the client except offline access, which
	 * means nothing without a refresh token. A machine token is no login,
	 * so it is narrowed to the configured scopes alone. */
	fa_scope_init(&dflt);
	for (size_t i = 0; i < c->scopes.n; i++) {
		const char *t = fa_scope_get(&c->scopes, i);

		if (strcmp(t, "offline") != 0 && strcmp(t, "offline_access") != 0 &&
		    fa_scope_add(&dflt, t, err) != FA_OK)
			return FA_ETOOBIG;
	}
	rc = fa_scope_request(scope, &dflt, &c->scopes, &want, err);
	if (rc != FA_OK)
		return rc;
	rc = fa_authz_audience(az, c, audience, &aud, err);
	if (rc != FA_OK)
		return rc;
	at = (struct fa_authz_at){
		.sub = c->id,          /* SPEC §5: the client is the subject */
		.client_id = c->id,
		.aud = aud,
		.scope = &want,
		.user_info = NULL,
		.now = fa_authz_now(az),
	};
	rc = fa_authz_at_mint(az, &at, &out->access_token, out->jti, &exp, err);
	if (rc == FA_OK) {
		snprintf(out->sub, sizeof(out->sub), "%s", at.sub);
		out->expires_in = exp - at.now;
		fa_scope_format(&want, out->scope, sizeof(out->scope));
	}
	json_decref(aud);
	return rc;
}
