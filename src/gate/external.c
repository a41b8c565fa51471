/* external.c -- the verifiers for tokens of other servers, both through
 * src/remote's issuer object (discovery document held in the background,
 * remote key set refetched on an unknown kid at most once per 10 s, old
 * keys kept while the server is down, `iss` compared with the document's
 * issuer):
 *
 *  - "external": access tokens of the external authorization server
 *    (authServerType External). `aud` must be one of allowedAudience,
 *    authorizedUris or the public URL. A JOSE `typ` other than JWT or
 *    at+jwt (RFC 9068) marks some other kind of JWT the server signs
 *    (logout tokens, security events, DPoP proofs): refused. Remembered
 *    by the cache at most FA_GATE_CACHE_EXTERNAL_TTL_S (keys may go).
 *  - "idtoken": the upstream IdP's ID tokens in flyteadmin's `IDToken`
 *    scheme. `aud` must be openId.clientId (OIDC Core §3.1.3.7: the ID
 *    token was issued to us); the caller gets the blanket scope and the
 *    token's profile claims as user info, as flyteadmin gives them.
 *
 * While the server's document or keys were never loaded, a token cannot be
 * judged: 503 temporarily_unavailable, never a guess.
 */
#include <stdlib.h>
#include <string.h>

#include "gate/gate_int.h"

/* 503 while the issuer's document is not loaded (FA_ENET: still trying;
 * FA_EEXPIRED: gave up -- not to be confused with an expired token). */
static enum fa_rc issuer_ready(struct fa_remote_issuer *iss, struct fa_err *err)
{
	struct fa_discovery *d = NULL;
	struct fa_err why;
	enum fa_rc rc;

	fa_err_clear(&why);
	rc = fa_remote_issuer_discovery(iss, &d, &why);
	fa_discovery_free(d);
	if (rc == FA_OK)
		return FA_OK;
	return fa_err_oauth(err, FA_ENET, "temporarily_unavailable", "%s", why.msg);
}

static bool typ_is_access_token(const json_t *header)
{
	const json_t *typ = json_object_get(header, "typ");
	const char *t;

	if (!typ)
		return true;
	if (!json_is_string(typ))
		return false;
	t = json_string_value(typ);
	if (fa_strn_ieq(t, strlen(t) < 12 ? strlen(t) : 12, "application/"))
		t += 12;
	return fa_str_ieq(t, "JWT") || fa_str_ieq(t, "at+jwt");
}

static enum fa_rc external_verify(const struct fa_gate *g, struct fa_arena *a, const char *token,
				  size_t len, struct fa_gate_principal *out, struct fa_err *err)
{
	struct fa_jwt_rules rules;
	json_t *claims = NULL, *header = NULL;
	struct fa_err why;
	enum fa_rc rc;

	rc = issuer_ready(g->external, err);
	if (rc != FA_OK)
		return rc;
	fa_gate_rules(g, &rules);
	fa_err_clear(&why);
	rc = fa_remote_issuer_verify(g->external, &rules, token, len, &claims, &header, &why);
	if (rc != FA_OK)
		return fa_gate_token_refused(rc, &why, err);
	if (!typ_is_access_token(header))
		rc = fa_err_oauth(err, FA_EDENIED, "invalid_token",
				  "token typ is not an access token's (JWT or at+jwt)");
	else
		rc = fa_gate_principal_from_claims(g, a, claims, out, err);
	json_decref(claims);
	json_decref(header);
	return rc;
}

const struct fa_gate_verifier fa_gate_external_verifier = {
	.name = "external",
	.how = FA_GATE_BEARER,
	.cache_ttl_s = FA_GATE_CACHE_EXTERNAL_TTL_S,
	.verify = external_verify,
};

/* The OIDC profile claims of an ID token: what flyteadmin's UserInfo
 * holds. */
static const char *profile_json(struct fa_arena *a, const json_t *claims)
{
	static const char *const names[] = {
		"sub", "name", "preferred_username", "given_name", "family_name", "email",
		"email_verified", "picture",
	};
	json_t *ui = json_object();
	char *s = NULL, *copy = NULL;

	for (size_t i = 0; ui && i < ARRAY_LEN(names); i++) {
		json_t *v = json_object_get(claims, names[i]);

		if (v && json_object_set(ui, names[i], v) != 0)
			goto out;
	}
	if (ui)
		s = json_dumps(ui, JSON_COMPACT);
	if (s)
		copy = fa_arena_strdup(a, s);
out:
	free(s);
	json_decref(ui);
	return copy;
}

static enum fa_rc idtoken_verify(const struct fa_gate *g, struct fa_arena *a, const char *token,
				 size_t len, struct fa_gate_principal *out, struct fa_err *err)
{
	const char *aud[1] = { g->cfg->auth.user_auth.open_id.client_id };
	const char **scopes;
	struct fa_jwt_rules rules;
	json_t *claims = NULL;
	struct fa_err why;
	enum fa_rc rc;

	if (!g->idp)
		return fa_err_oauth(err, FA_EDENIED, "invalid_token",
				    "IDToken credentials need an upstream IdP (userAuth.openId)");
	rc = issuer_ready(g->idp, err);
	if (rc != FA_OK)
		return rc;
	fa_gate_rules(g, &rules);
	rules.audiences = aud;      /* issued to us, the IdP's client */
	rules.n_audiences = 1;
	fa_err_clear(&why);
	rc = fa_remote_issuer_verify(g->idp, &rules, token, len, &claims, NULL, &why);
	if (rc != FA_OK)
		return fa_gate_token_refused(rc, &why, err);
	rc = fa_gate_principal_from_claims(g, a, claims, out, err);
	if (rc != FA_OK)
		goto out;
	/* flyteadmin: an ID token is a login, with the blanket scope and no
	 * client of its own. */
	scopes = fa_arena_alloc(a, sizeof(*scopes));
	out->user_info = profile_json(a, claims);
	if (!scopes || !out->user_info) {
		rc = fa_err_set(err, FA_ENOMEM, "out of request memory");
		goto out;
	}
	scopes[0] = g->required_scope;
	out->scopes = scopes;
	out->n_scopes = 1;
	out->client_id = NULL;
	out->audience = aud[0];
	out->how = FA_GATE_IDTOKEN;
out:
	json_decref(claims);
	return rc;
}

const struct fa_gate_verifier fa_gate_idtoken_verifier = {
	.name = "idtoken",
	.how = FA_GATE_IDTOKEN,
	.cache_ttl_s = FA_GATE_CACHE_EXTERNAL_TTL_S,
	.verify = idtoken_verify,
};
