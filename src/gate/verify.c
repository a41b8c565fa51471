/* verify.c -- turning a token into a principal: the rules every verifier
 * shares, the principal of a verified claims object, and the "self"
 * verifier for access tokens minted by flyteauth's own authorization server
 * (SPEC §5), checked with jose against the server's public keys.
 *
 * Every rule is the jose checker's, set up once per call: the allowlist is
 * every algorithm we implement but each key verifies only under its own
 * pinned algorithm, so alg=none, HS256 keyed with a public key and an
 * ES256 header on an RSA key are all refused before any signature work;
 * `typ` must be at+jwt (RFC 9068), so an ID token or any other JWT signed
 * by the same key never passes as an access token; `iss` exact; `aud` must
 * name one of the accepted audiences; exp is required. Scope is checked by
 * the caller (gate.c) so that a missing scope is 403, not 401. Header
 * members that point at other keys (jku, x5u, jwk, x5c) are never read:
 * keys come only from our own set.
 */
#include <string.h>

#include "gate/gate_int.h"

void fa_gate_rules(const struct fa_gate *g, struct fa_jwt_rules *rules)
{
	fa_jwt_rules_init(rules);
	rules->algs = FA_JWS_ALGS_ALL;       /* each key still verifies only its own alg */
	rules->audiences = (const char *const *)g->audiences;
	rules->n_audiences = g->n_audiences;
	rules->leeway = FA_GATE_LEEWAY_S;
	rules->require_exp = true;
}

enum fa_rc fa_gate_token_refused(enum fa_rc rc, const struct fa_err *why, struct fa_err *err)
{
	if (rc == FA_ENOMEM)
		return fa_err_oauth(err, rc, "server_error", "out of memory verifying a token");
	if (rc == FA_ENET)
		return fa_err_oauth(err, rc, "temporarily_unavailable", "%s", why->msg);
	/* jose's and remote's messages name the rule, never the token. */
	return fa_err_oauth(err, rc == FA_EEXPIRED ? FA_EEXPIRED : FA_EDENIED,
			    "invalid_token", "%s", why->msg);
}

/* Copies a claim's string into the arena; NULL when absent. FA_EDENIED
 * when present but not a string of 1..max bytes. */
static enum fa_rc claim_str(struct fa_arena *a, const json_t *claims, const char *name,
			    size_t max, const char **out, struct fa_err *err)
{
	const json_t *v = json_object_get(claims, name);
	size_t n;

	*out = NULL;
	if (!v)
		return FA_OK;
	n = json_is_string(v) ? json_string_length(v) : 0;
	if (n == 0 || n > max || memchr(json_string_value(v), '\0', n))
		return fa_err_oauth(err, FA_EDENIED, "invalid_token",
				    "token claim %s is not a valid string", name);
	*out = fa_arena_strndup(a, json_string_value(v), n);
	return *out ? FA_OK : fa_err_set(err, FA_ENOMEM, "out of request memory");
}

/* Splits a space-separated scope string (RFC 8693 §4.2, RFC 9068 §2.2.3)
 * into v[*n..]. */
static enum fa_rc split_scopes(struct fa_arena *a, const json_t *s, const char **v, size_t *n)
{
	char *copy;

	if (json_string_length(s) > FA_MAX_SCOPE)
		return FA_EINVAL;
	copy = fa_arena_strdup(a, json_string_value(s));
	if (!copy)
		return FA_ENOMEM;
	for (char *p = copy; *p;) {
		while (*p == ' ')
			*p++ = '\0';
		if (!*p)
			break;
		if (*n == FA_GATE_MAX_SCOPES)
			return FA_EINVAL;
		v[(*n)++] = p;
		while (*p && *p != ' ')
			p++;
	}
	return FA_OK;
}

/* `scp` (our array, Okta's array, Entra's space-separated string) or
 * `scope` (RFC 9068's space-separated string). */
static enum fa_rc claim_scopes(struct fa_arena *a, const json_t *claims,
			       struct fa_gate_principal *out, struct fa_err *err)
{
	const json_t *scp = json_object_get(claims, "scp");
	const json_t *scope = json_object_get(claims, "scope");
	const char **v;
	size_t n = 0;
	enum fa_rc rc = FA_OK;

	v = fa_arena_alloc(a, FA_GATE_MAX_SCOPES * sizeof(*v));
	if (!v)
		return fa_err_set(err, FA_ENOMEM, "out of request memory");
	if (json_is_array(scp)) {
		size_t i;
		const json_t *s;

		if (json_array_size(scp) > FA_GATE_MAX_SCOPES)
			goto bad;
		json_array_foreach(scp, i, s) {
			if (!json_is_string(s) || json_string_length(s) == 0 ||
			    json_string_length(s) > FA_MAX_SCOPE)
				goto bad;
			v[n] = fa_arena_strdup(a, json_string_value(s));
			if (!v[n++])
				return fa_err_set(err, FA_ENOMEM, "out of request memory");
		}
	} else if (json_is_string(scp)) {
		rc = split_scopes(a, scp, v, &n);
	} else if (scp) {
		goto bad;
	} else if (json_is_string(scope)) {
		rc = split_scopes(a, scope, v, &n);
	} else if (scope) {
		goto bad;
	}
	if (rc == FA_ENOMEM)
		return fa_err_set(err, FA_ENOMEM, "out of request memory");
	if (rc != FA_OK)
		goto bad;
	out->scopes = v;
	out->n_scopes = n;
	return FA_OK;
bad:
	return fa_err_oauth(err, FA_EDENIED, "invalid_token",
			    "token scope claim is malformed");
}

static const char *dump(struct fa_arena *a, const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	char *copy = s ? fa_arena_strdup(a, s) : NULL;

	free(s);
	return copy;
}

/* The first `aud` value the gate accepts (jose already checked that there
 * is one). */
static const char *accepted_audience(const struct fa_gate *g, const json_t *claims)
{
	const json_t *aud = json_object_get(claims, "aud"), *v;
	size_t i;

	for (size_t k = 0; k < g->n_audiences; k++) {
		if (json_is_string(aud) && strcmp(json_string_value(aud), g->audiences[k]) == 0)
			return g->audiences[k];
		/* A string or anything else has no elements here. */
		json_array_foreach(aud, i, v)
			if (json_is_string(v) && strcmp(json_string_value(v), g->audiences[k]) == 0)
				return g->audiences[k];
	}
	return NULL;
}

enum fa_rc fa_gate_principal_from_claims(const struct fa_gate *g, struct fa_arena *a,
					 const json_t *claims, struct fa_gate_principal *out,
					 struct fa_err *err)
{
	/* Okta names the client `cid`; OpenID Connect's authorized party is
	 * `azp`; Entra ID v1 tokens say `appid`. Ours and RFC 9068's:
	 * client_id. */
	static const char *const client_claims[] = { "client_id", "cid", "azp", "appid" };
	const json_t *ui = json_object_get(claims, "user_info");
	const json_t *exp = json_object_get(claims, "exp");
	enum fa_rc rc;

	memset(out, 0, sizeof(*out));
	out->how = FA_GATE_BEARER;
	rc = claim_str(a, claims, "sub", FA_MAX_ID, &out->subject, err);
	if (rc == FA_OK && !out->subject)
		rc = fa_err_oauth(err, FA_EDENIED, "invalid_token", "token has no subject");
	for (size_t i = 0; rc == FA_OK && !out->client_id && i < ARRAY_LEN(client_claims); i++)
		if (i == 0 || g->external_mode)
			rc = claim_str(a, claims, client_claims[i], FA_MAX_ID, &out->client_id, err);
	if (rc == FA_OK)
		rc = claim_str(a, claims, "jti", FA_MAX_ID, &out->token_id, err);
	if (rc == FA_OK)
		rc = claim_scopes(a, claims, out, err);
	if (rc != FA_OK)
		return rc;
	if (ui && !json_is_null(ui) && !json_is_object(ui))
		return fa_err_oauth(err, FA_EDENIED, "invalid_token",
				    "token user_info claim is not an object");
	if (json_is_object(ui) && !(out->user_info = dump(a, ui)))
		return fa_err_set(err, FA_ENOMEM, "out of request memory");
	if (!(out->claims = dump(a, claims)))
		return fa_err_set(err, FA_ENOMEM, "out of request memory");
	out->audience = accepted_audience(g, claims);
	out->expires_at = json_is_integer(exp) ? (int64_t)json_integer_value(exp)
					       : (int64_t)json_number_value(exp);
	return FA_OK;
}

static enum fa_rc self_verify(const struct fa_gate *g, struct fa_arena *a, const char *token,
			      size_t len, struct fa_gate_principal *out, struct fa_err *err)
{
	struct fa_jwt_rules rules;
	json_t *claims = NULL;
	struct fa_err why;
	enum fa_rc rc;

	fa_gate_rules(g, &rules);
	rules.issuer = g->issuer;
	rules.typ = "at+jwt";
	fa_err_clear(&why);
	rc = fa_jwt_verify(g->keys, &rules, token, len, &claims, NULL, &why);
	if (rc != FA_OK)
		return fa_gate_token_refused(rc, &why, err);
	rc = fa_gate_principal_from_claims(g, a, claims, out, err);
	json_decref(claims);
	return rc;
}

const struct fa_gate_verifier fa_gate_self_verifier = {
	.name = "self",
	.how = FA_GATE_BEARER,
	.cache_ttl_s = 0,
	.verify = self_verify,
};

void fa_gate_principal_json(const struct fa_gate_principal *p, json_t **claims, json_t **ui)
{
	*claims = NULL;
	*ui = NULL;
	if (p->claims && fa_json_load(p->claims, strlen(p->claims), "claims", claims,
				      NULL) != FA_OK)
		*claims = NULL;
	if (p->user_info && fa_json_load(p->user_info, strlen(p->user_info), "user_info", ui,
					 NULL) != FA_OK)
		*ui = NULL;
}
