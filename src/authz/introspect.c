/* introspect.c -- token introspection (RFC 7662) and revocation (RFC 7009)
 * as logic, with no HTTP.
 *
 * Introspection is where revocation of access tokens shows: an access token
 * is active only if its signature and claims verify, its jti is not
 * recorded as revoked, and the family it came from (for user tokens) is
 * still active. A refresh token is active if it is the live token of an
 * active family. Anything else -- malformed, foreign, expired, revoked --
 * is exactly {"active": false}, with nothing that tells the cases apart.
 * token_type_hint only orders the look-ups; both kinds are always tried.
 *
 * Revocation never fails for a token it does not know or that belongs to
 * another client (RFC 7009 §2.2: answer 200, revoke nothing), so it cannot
 * be used to probe which tokens exist.
 */
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

static json_t *inactive(void)
{
	return json_pack("{s:b}", "active", 0);
}

/* Is family `id` active? FA_OK yes, FA_ENOTFOUND no, else a store error. */
static enum fa_rc family_active(struct fa_authz *az, const char *id, json_t **fam,
				struct fa_err *err)
{
	json_t *f = NULL;
	enum fa_rc rc = fa_authz_rec_get(az, FA_KIND_FAMILY, id, &f, NULL, NULL, err);

	if (fam)
		*fam = NULL;
	if (rc != FA_OK)
		return rc;
	if (strcmp(fa_authz_jstr(f, "st"), "active") != 0) {
		json_decref(f);
		return FA_ENOTFOUND;
	}
	if (fam)
		*fam = f;
	else
		json_decref(f);
	return FA_OK;
}

/* The refresh token record a presented token names. FA_ENOTFOUND when it
 * cannot be one of ours (wrong length) or there is none. */
static enum fa_rc rt_get(struct fa_authz *az, const char *token, json_t **rt, int64_t *exp,
			 struct fa_err *err)
{
	char key[2 * FA_SHA256_LEN + 1];
	enum fa_rc rc;

	*rt = NULL;
	if (strnlen(token, FA_TOKEN_CHARS + 1) != FA_TOKEN_CHARS)
		return FA_ENOTFOUND;
	rc = fa_authz_token_key(token, key);
	if (rc != FA_OK)
		return fa_err_oauth(err, rc, "server_error", "hashing failed");
	return fa_authz_rec_get(az, FA_KIND_RT, key, rt, NULL, exp, err);
}

/* The claims of a presented access token of ours whose signature, typ,
 * iss and exp verify. FA_ENOTFOUND for anything else (an expired token
 * needs no revocation and is inactive; a foreign one gets neither). */
static enum fa_rc at_get(struct fa_authz *az, const char *token, json_t **claims)
{
	struct fa_err e;

	*claims = NULL;
	fa_err_clear(&e);
	if (strchr(token, '.') == NULL || fa_authz_at_verify(az, token, claims, &e) != FA_OK)
		return FA_ENOTFOUND;
	return FA_OK;
}

enum fa_rc fa_authz_jti_revoked(struct fa_authz *az, const char *jti, struct fa_err *err)
{
	json_t *rec = NULL;
	enum fa_rc rc;

	rc = fa_authz_rec_get(az, FA_KIND_REVOKED, jti, &rec, NULL, NULL, err);
	json_decref(rec);
	rec = NULL;
	if (rc == FA_OK)
		return fa_err_set(err, FA_EDENIED, "token was revoked");   /* RFC 7009 */
	if (rc != FA_ENOTFOUND)
		return rc;
	rc = fa_authz_rec_get(az, FA_KIND_AT, jti, &rec, NULL, NULL, err);
	if (rc == FA_ENOTFOUND)
		return FA_OK;               /* a machine token: no family */
	if (rc == FA_OK) {
		rc = family_active(az, fa_authz_jstr(rec, "fam"), NULL, err);
		if (rc == FA_ENOTFOUND)
			rc = fa_err_set(err, FA_EDENIED, "token's refresh family was revoked");
	}
	json_decref(rec);
	return rc;
}

enum fa_rc fa_authz_at_active(struct fa_authz *az, const char *token, json_t **claims,
			      struct fa_err *err)
{
	json_t *c = NULL;
	const char *jti;
	enum fa_rc rc;

	*claims = NULL;
	if (at_get(az, token, &c) != FA_OK)
		return FA_ENOTFOUND;
	jti = fa_authz_jstr(c, "jti");
	if (jti[0] == '\0')
		rc = FA_ENOTFOUND;          /* not minted by us: we always set one */
	else
		rc = fa_authz_jti_revoked(az, jti, err);
	if (rc == FA_EDENIED) {
		fa_err_clear(err);
		rc = FA_ENOTFOUND;          /* revoked, or its family is */
	}
	if (rc == FA_OK)
		*claims = c;
	else
		json_decref(c);
	return rc;
}

/* The access-token answer: FA_OK with *out set (active or not), or a store
 * error. FA_ENOTFOUND: not one of our access tokens at all. */
static enum fa_rc introspect_at(struct fa_authz *az, const char *token, json_t **out,
				struct fa_err *err)
{
	json_t *claims = NULL, *scp, *v, *o = NULL;
	const char *jti, *name;
	enum fa_rc rc;
	size_t i;

	*out = NULL;
	if (strchr(token, '.') == NULL)
		return FA_ENOTFOUND;
	rc = fa_authz_at_active(az, token, &claims, err);
	if (rc == FA_ENOTFOUND) {
		/* A JWT that is ours but inactive, or not ours at all: either
		 * way the answer is {"active": false}... */
		json_t *probe = NULL;

		if (at_get(az, token, &probe) != FA_OK)
			return FA_ENOTFOUND;   /* ...but only ours stop the search */
		json_decref(probe);
		*out = inactive();
		return FA_OK;
	}
	if (rc != FA_OK)
		return rc;
	jti = fa_authz_jstr(claims, "jti");
	o = json_pack("{s:b, s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:s}", "active", 1,
		      "token_type", "Bearer",
		      "client_id", json_object_get(claims, "client_id"),
		      "sub", json_object_get(claims, "sub"),
		      "exp", json_object_get(claims, "exp"),
		      "iat", json_object_get(claims, "iat"),
		      "iss", json_object_get(claims, "iss"),
		      "aud", json_object_get(claims, "aud"),
		      "jti", jti);
	scp = json_object_get(claims, "scp");
	if (o && json_is_array(scp)) {
		struct fa_buf b;
		char *s;

		fa_buf_init(&b, FA_MAX_SCOPE + 1);
		json_array_foreach(scp, i, v) {
			if (json_is_string(v) &&
			    ((i && fa_buf_appendc(&b, ' ') != FA_OK) ||
			     fa_buf_appends(&b, json_string_value(v)) != FA_OK))
				break;
		}
		s = fa_buf_take(&b, NULL);
		if (!s || json_object_set_new(o, "scope", json_string(s)) != 0) {
			json_decref(o);
			o = NULL;
		}
		free(s);
		fa_buf_cleanup(&b);
	}
	name = json_string_value(json_object_get(json_object_get(claims, "user_info"),
						 "preferred_username"));
	if (o && name && json_object_set_new(o, "username", json_string(name)) != 0) {
		json_decref(o);
		o = NULL;
	}
	*out = o;
	rc = o ? FA_OK : fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
	json_decref(claims);
	return rc;
}

/* The refresh-token answer, as introspect_at. */
static enum fa_rc introspect_rt(struct fa_authz *az, const char *token, json_t **out,
				struct fa_err *err)
{
	json_t *rt = NULL, *fam = NULL;
	int64_t exp = 0;
	enum fa_rc rc;

	*out = NULL;
	rc = rt_get(az, token, &rt, &exp, err);
	if (rc != FA_OK)
		goto out;
	if (strcmp(fa_authz_jstr(rt, "st"), "active") != 0) {
		*out = inactive();
		goto out;
	}
	rc = family_active(az, fa_authz_jstr(rt, "fam"), &fam, err);
	if (rc == FA_ENOTFOUND) {
		*out = inactive();
		rc = FA_OK;
		goto out;
	}
	if (rc != FA_OK)
		goto out;
	*out = json_pack("{s:b, s:s, s:s, s:s, s:I, s:s}", "active", 1,
			 "client_id", fa_authz_jstr(rt, "cid"), "scope", fa_authz_jstr(rt, "scp"),
			 "sub", fa_authz_jstr(fam, "sub"), "exp", (json_int_t)exp,
			 "iss", az->issuer);
	if (!*out)
		rc = fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
out:
	json_decref(rt);
	json_decref(fam);
	return rc;
}

static enum fa_rc revoke_rt(struct fa_authz *az, const struct fa_authz_client *c,
			    const char *token, struct fa_err *err)
{
	json_t *rt = NULL;
	enum fa_rc rc = rt_get(az, token, &rt, NULL, err);

	if (rc != FA_OK)
		return rc;
	/* RFC 7009 §2.1: only the client the token was issued to may revoke
	 * it; for anyone else the answer is the same 200, with no effect. */
	if (strcmp(fa_authz_jstr(rt, "cid"), c->id) == 0)
		rc = fa_authz_family_revoke(az, fa_authz_jstr(rt, "fam"), "revoked by its client",
					    err);
	json_decref(rt);
	return rc;
}

static enum fa_rc revoke_at(struct fa_authz *az, const struct fa_authz_client *c,
			    const char *token, struct fa_err *err)
{
	json_t *claims = NULL;
	struct fa_store_op op;
	const char *jti;
	int64_t exp, now = fa_authz_now(az);
	enum fa_rc rc;

	if (at_get(az, token, &claims) != FA_OK)
		return FA_ENOTFOUND;
	jti = fa_authz_jstr(claims, "jti");
	exp = fa_authz_jint(claims, "exp");
	rc = FA_OK;
	if (strcmp(fa_authz_jstr(claims, "client_id"), c->id) != 0 || jti[0] == '\0' || exp <= now)
		goto out;
	op = (struct fa_store_op){ .type = FA_STORE_INSERT, .kind = FA_KIND_REVOKED, .key = jti,
				   .value = "{}", .expires_at = exp };
	rc = fa_store_apply(az->store, &op, 1, now, err);
	if (rc == FA_EEXIST)
		rc = FA_OK;   /* revoked twice */
	else if (rc != FA_OK)
		rc = fa_authz_store_fail(az, rc, err, "revoking an access token");
	if (rc == FA_OK)
		fa_log(az->log, FA_LOG_INFO, "access token %s revoked by client %s", jti, c->id);
out:
	json_decref(claims);
	return rc;
}

/* The two kinds of token, each with its look-up for introspection and for
 * revocation; token_type_hint (RFC 7009 §2.1, RFC 7662 §2.1) only says
 * which is tried first. */
struct token_kind {
	const char *hint;
	enum fa_rc (*introspect)(struct fa_authz *az, const char *token, json_t **out,
				 struct fa_err *err);
	enum fa_rc (*revoke)(struct fa_authz *az, const struct fa_authz_client *c,
			     const char *token, struct fa_err *err);
};

static const struct token_kind kinds[] = {
	{ "access_token", introspect_at, revoke_at },
	{ "refresh_token", introspect_rt, revoke_rt },
};

/* Introspects (out set) or revokes (on behalf of c) token as each kind in
 * turn, the hinted one first (else: access tokens for introspection,
 * refresh tokens for revocation), until one knows it. FA_ENOTFOUND when
 * neither does, or the token is over FA_MAX_TOKEN (none of ours is). */
static enum fa_rc each_kind(struct fa_authz *az, const struct fa_authz_client *c,
			    const char *token, const char *hint, json_t **out, struct fa_err *err)
{
	size_t first = out ? 0 : 1;
	enum fa_rc rc = FA_ENOTFOUND;

	if (token == NULL)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request", "token is missing");
	if (strnlen(token, FA_MAX_TOKEN + 1) > FA_MAX_TOKEN)
		return FA_ENOTFOUND;
	for (size_t i = 0; hint && i < ARRAY_LEN(kinds); i++)
		if (strcmp(hint, kinds[i].hint) == 0)
			first = i;
	for (size_t i = 0; i < ARRAY_LEN(kinds) && rc == FA_ENOTFOUND; i++) {
		const struct token_kind *k = &kinds[(first + i) % ARRAY_LEN(kinds)];

		rc = out ? k->introspect(az, token, out, err) : k->revoke(az, c, token, err);
	}
	return rc;
}

enum fa_rc fa_authz_introspect(struct fa_authz *az, const char *token, const char *hint,
			       json_t **out, struct fa_err *err)
{
	enum fa_rc rc;

	*out = NULL;
	rc = each_kind(az, NULL, token, hint, out, err);
	if (rc == FA_ENOTFOUND) {
		*out = inactive();
		rc = FA_OK;
	} else if (rc != FA_OK && (!err || !err->oauth_error)) {
		rc = fa_authz_store_fail(az, rc, err, "introspecting a token");
	}
	if (rc == FA_OK && *out == NULL)
		rc = fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
	return rc;
}

enum fa_rc fa_authz_revoke(struct fa_authz *az, const struct fa_authz_client *c,
			   const char *token, const char *hint, struct fa_err *err)
{
	enum fa_rc rc = each_kind(az, c, token, hint, NULL, err);

	if (rc == FA_ENOTFOUND)
		return FA_OK;
	if (rc != FA_OK && (!err || !err->oauth_error))
		rc = fa_authz_store_fail(az, rc, err, "revoking a token");
	return rc;
}
