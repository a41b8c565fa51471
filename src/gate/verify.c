/* verify.c -- the "self" token verifier: an access token minted by
 * flyteauth's own authorization server (SPEC §5), checked with jose against
 * the server's public keys, then turned into a principal.
 *
 * Every rule is the jose checker's, set up once per call: the allowlist is
 * every algorithm we implement but each key verifies only under its own
 * pinned algorithm, so alg=none, HS256 keyed with a public key and an
 * ES256 header on an RSA key are all refused before any signature work;
 * `typ` must be at+jwt (RFC 9068), so an ID token or any other JWT signed
 * by the same key never passes as an access token; `iss` exact; `aud` must
 * name authorizedUris or the issuer; exp is required. Scope is checked by
 * the caller (gate.c) so that a missing scope is 403, not 401.
 *
 * Successful verifications are remembered by gate.c (cache.c).
 */
#include <string.h>

#include "gate/gate_int.h"

/* Copies a claim's string into the arena; NULL when absent. FA_EINVAL
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

/* `scp` (our array) or `scope` (RFC 9068 space-separated string). */
static enum fa_rc claim_scopes(struct fa_arena *a, const json_t *claims,
			       struct fa_gate_principal *out, struct fa_err *err)
{
	const json_t *scp = json_object_get(claims, "scp");
	const json_t *scope = json_object_get(claims, "scope");
	const char **v;
	size_t n = 0;

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
	} else if (scp) {
		goto bad;
	} else if (json_is_string(scope)) {
		char *copy;
		const char *w;

		if (json_string_length(scope) > FA_MAX_SCOPE)
			goto bad;
		copy = fa_arena_strdup(a, json_string_value(scope));
		if (!copy)
			return fa_err_set(err, FA_ENOMEM, "out of request memory");
		for (char *p = copy; *p;) {
			while (*p == ' ')
				*p++ = '\0';
			if (!*p)
				break;
			if (n == FA_GATE_MAX_SCOPES)
				goto bad;
			w = p;
			while (*p && *p != ' ')
				p++;
			v[n++] = w;
		}
	} else if (scope) {
		goto bad;
	}
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

enum fa_rc fa_gate_principal_from_claims(struct fa_arena *a, const json_t *claims,
					 struct fa_gate_principal *out, struct fa_err *err)
{
	const json_t *ui = json_object_get(claims, "user_info");
	const json_t *exp = json_object_get(claims, "exp");
	enum fa_rc rc;

	memset(out, 0, sizeof(*out));
	out->how = FA_GATE_BEARER;
	rc = claim_str(a, claims, "sub", FA_MAX_ID, &out->subject, err);
	if (rc == FA_OK && !out->subject)
		rc = fa_err_oauth(err, FA_EDENIED, "invalid_token", "token has no subject");
	if (rc == FA_OK)
		rc = claim_str(a, claims, "client_id", FA_MAX_ID, &out->client_id, err);
	if (rc == FA_OK)
		rc = claim_scopes(a, claims, out, err);
	if (rc != FA_OK)
		return rc;
	if (ui && !json_is_object(ui))
		return fa_err_oauth(err, FA_EDENIED, "invalid_token",
				    "token user_info claim is not an object");
	if (ui && !(out->user_info = dump(a, ui)))
		return fa_err_set(err, FA_ENOMEM, "out of request memory");
	if (!(out->claims = dump(a, claims)))
		return fa_err_set(err, FA_ENOMEM, "out of request memory");
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

	fa_jwt_rules_init(&rules);
	rules.algs = FA_JWS_ALGS_ALL;       /* each key still verifies only its own alg */
	rules.issuer = g->issuer;
	rules.audiences = (const char *const *)g->audiences;
	rules.n_audiences = g->n_audiences;
	rules.typ = "at+jwt";
	rules.leeway = FA_GATE_LEEWAY_S;
	rules.require_exp = true;
	fa_err_clear(&why);
	rc = fa_jwt_verify(g->keys, &rules, token, len, &claims, NULL, &why);
	if (rc == FA_ENOMEM)
		return fa_err_set(err, rc, "out of memory verifying a token");
	if (rc != FA_OK)
		/* jose's messages name the rule, never the token. */
		return fa_err_oauth(err, rc == FA_EEXPIRED ? FA_EEXPIRED : FA_EDENIED, "invalid_token", "%s", why.msg);
	rc = fa_gate_principal_from_claims(a, claims, out, err);
	json_decref(claims);
	return rc;
}

const struct fa_gate_verifier fa_gate_self_verifier = {
	.name = "self",
	.verify = self_verify,
};
