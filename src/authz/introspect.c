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

/* The access-token answer: FA_OK with *out set (active or not), or a store
 * error. FA_ENOTFOUND: not one of our access tokens at all. */
static enum fa_rc introspect_at(struct fa_authz *az, const char *token, json_t **out,
				struct fa_err *err)
{
	json_t *claims = NULL, *rec = NULL, *scp, *v, *o = NULL;
	struct fa_err e;
	const char *jti, *name;
	enum fa_rc rc;
	size_t i;

	*out = NULL;
	if (strchr(token, '.') == NULL)
		return FA_ENOTFOUND;
	fa_err_clear(&e);
	if (fa_authz_at_verify(az, token, &claims, &e) != FA_OK)
		return FA_ENOTFOUND;
	jti = fa_authz_jstr(claims, "jti");
	if (jti[0] == '\0') {
		*out = inactive();          /* not minted by us: we always set one */
		rc = FA_OK;
		goto out;
	}
	rc = fa_authz_rec_get(az, FA_KIND_REVOKED, jti, &rec, NULL, NULL, err);
	if (rc == FA_OK) {
		*out = inactive();          /* revoked through RFC 7009 */
		goto out;
	}
	if (rc != FA_ENOTFOUND)
		goto out;
	rc = fa_authz_rec_get(az, FA_KIND_AT, jti, &rec, NULL, NULL, err);
	if (rc == FA_OK) {
		rc = family_active(az, fa_authz_jstr(rec, "fam"), NULL, err);
		if (rc == FA_ENOTFOUND) {
			*out = inactive();  /* its family was revoked */
			rc = FA_OK;
			goto out;
		}
	} else if (rc == FA_ENOTFOUND) {
		rc = FA_OK;                 /* a machine token: no family */
	}
	if (rc != FA_OK)
		goto out;
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
	rc = o ? FA_OK : fa_err_oauth(err, FA_ENOMEM, 500, "server_error", "out of memory");
out:
	json_decref(rec);
	json_decref(claims);
	return rc;
}

/* The refresh-token answer, as introspect_at. */
static enum fa_rc introspect_rt(struct fa_authz *az, const char *token, json_t **out,
				struct fa_err *err)
{
	char key[2 * FA_SHA256_LEN + 1];
	json_t *rt = NULL, *fam = NULL;
	int64_t exp = 0;
	enum fa_rc rc;

	*out = NULL;
	if (strnlen(token, FA_TOKEN_CHARS + 1) != FA_TOKEN_CHARS)
		return FA_ENOTFOUND;
	rc = fa_authz_token_key(token, key);
	if (rc != FA_OK)
		return fa_err_oauth(err, rc, 500, "server_error", "hashing failed");
	rc = fa_authz_rec_get(az, FA_KIND_RT, key, &rt, NULL, &exp, err);
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
		rc = fa_err_oauth(err, FA_ENOMEM, 500, "server_error", "out of memory");
out:
	json_decref(rt);
	json_decref(fam);
	return rc;
}

enum fa_rc fa_authz_introspect(struct fa_authz *az, const char *token, const char *hint,
			       json_t **out, struct fa_err *err)
{
	enum fa_rc (*order[2])(struct fa_authz *, const char *, json_t **, struct fa_err *) = {
		introspect_at, introspect_rt,
	};
	enum fa_rc rc = FA_ENOTFOUND;

	*out = NULL;
	if (token == NULL)
		return fa_err_oauth(err, FA_EINVAL, 400, "invalid_request", "token is missing");
	if (hint && strcmp(hint, "refresh_token") == 0) {
		order[0] = introspect_rt;
		order[1] = introspect_at;
	}
	if (strnlen(token, FA_MAX_TOKEN + 1) <= FA_MAX_TOKEN) {
		for (size_t i = 0; i < ARRAY_LEN(order) && rc == FA_ENOTFOUND; i++)
			rc = order[i](az, token, out, err);
	}
	if (rc == FA_ENOTFOUND) {
		*out = inactive();
		rc = FA_OK;
	} else if (rc != FA_OK && (!err || err->http == 0)) {
		rc = fa_authz_store_fail(az, rc, err, "introspecting a token");
	}
	if (rc == FA_OK && *out == NULL)
		rc = fa_err_oauth(err, FA_ENOMEM, 500, "server_error", "out of memory");
	return rc;
}

static enum fa_rc revoke_rt(struct fa_authz *az, const struct fa_authz_client *c,
			    const char *token, struct fa_err *err)
{
	char key[2 * FA_SHA256_LEN + 1];
	json_t *rt = NULL;
	enum fa_rc rc;

	if (strnlen(token, FA_TOKEN_CHARS + 1) != FA_TOKEN_CHARS)
		return FA_ENOTFOUND;
	rc = fa_authz_token_key(token, key);
	if (rc != FA_OK)
		return fa_err_oauth(err, rc, 500, "server_error", "hashing failed");
	rc = fa_authz_rec_get(az, FA_KIND_RT, key, &rt, NULL, NULL, err);
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
	struct fa_err e;
	const char *jti;
	int64_t exp, now = fa_authz_now(az);
	enum fa_rc rc;

	if (strchr(token, '.') == NULL)
		return FA_ENOTFOUND;
	fa_err_clear(&e);
	/* An expired token needs no revocation; a foreign one gets none. */
	if (fa_authz_at_verify(az, token, &claims, &e) != FA_OK)
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

enum fa_rc fa_authz_revoke(struct fa_authz *az, const struct fa_authz_client *c,
			   const char *token, const char *hint, struct fa_err *err)
{
	enum fa_rc (*order[2])(struct fa_authz *, const struct fa_authz_client *, const char *,
			       struct fa_err *) = { revoke_rt, revoke_at };
	enum fa_rc rc = FA_ENOTFOUND;

	if (token == NULL)
		return fa_err_oauth(err, FA_EINVAL, 400, "invalid_request", "token is missing");
	if (hint && strcmp(hint, "access_token") == 0) {
		order[0] = revoke_at;
		order[1] = revoke_rt;
	}
	if (strnlen(token, FA_MAX_TOKEN + 1) > FA_MAX_TOKEN)
		return FA_OK;
	for (size_t i = 0; i < ARRAY_LEN(order) && rc == FA_ENOTFOUND; i++)
		rc = order[i](az, c, token, err);
	if (rc == FA_ENOTFOUND)
		return FA_OK;
	if (rc != FA_OK && (!err || err->http == 0))
		rc = fa_authz_store_fail(az, rc, err, "revoking a token");
	return rc;
}
