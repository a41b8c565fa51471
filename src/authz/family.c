/* family.c -- refresh-token families: what one authorization code leads to.
 * A family is created when a code is redeemed; its refresh tokens rotate
 * (each use spends the token and issues its successor); reuse of a spent
 * token, a replayed code or a revocation request revokes the family, and
 * with it every refresh token and every access token it issued (access
 * tokens show inactive at introspection; the gate does not look at the
 * store, by design: see SPEC §6 and gate.h).
 *
 * Invariants
 *  (1) A family is created by exactly one code redemption, in the same
 *      transaction that marks the code REDEEMED (fa_authz_family_redeem).
 *  (2) At most one refresh token of a family is ACTIVE: rotation marks the
 *      presented token SPENT and inserts its successor in one
 *      fa_store_apply, version-checked on the token AND on the family, so
 *      of concurrent rotations exactly one wins, and no rotation commits
 *      after a revocation it raced with.
 *  (2a) Reuse is decided by what a request READ, never by the clock: a
 *      request that reads its token as SPENT is a reuse and revokes the
 *      family, however soon after the rotation it arrives (a thief who
 *      rotates a stolen token first must not keep the family when the
 *      real client presents the old one). A request that read the token
 *      ACTIVE but lost the version-checked write is the loser of a true
 *      concurrent race: invalid_grant, and the family is left alone.
 *  (3) A REVOKED family never becomes ACTIVE again; a token whose family is
 *      revoked or missing yields nothing (rotation, introspection).
 *  (4) The family record outlives every token it issued: its expiry is
 *      last rotation + max(refreshTokenLifespan, accessTokenLifespan), so
 *      introspection of a live access token always finds its family.
 *  (5) A SPENT token record lives until the family's expiry as of its
 *      rotation -- as long as the successor minted in that rotation can
 *      live -- so its reuse is recognised while anything it led to is
 *      usable without a further rotation.
 *  (6) The family keeps the original user, auth_time, audience and granted
 *      scope; a refresh may narrow the access token's scope, never widen
 *      it, and the successor refresh token keeps the original scope
 *      (RFC 6749 §6).
 *  (7) Lifetime is sliding: each rotation gives the new refresh token (and
 *      the family) refreshTokenLifespan from that rotation, as fosite and
 *      flyteadmin do. An unused family dies refreshTokenLifespan after its
 *      last rotation.
 *  (8) ... but bounded: no refresh token outlives auth_time +
 *      refreshTokenMaxLifespan (its record expires then at the latest), and
 *      a refresh at or after that instant is invalid_grant. A login older
 *      than that gets no refresh token at all.
 *  (9) Every refresh asks the identity layer whether the family's user
 *      still exists (az->user_check), of the provider that logged it in
 *      ("prov", kept from the login): a break-glass local user beside an
 *      upstream IdP is checked against localUsers. A user it refuses gets
 *      invalid_grant and the family is revoked.
 *
 * Refresh token states and the calls that move them:
 *    ABSENT -> ACTIVE          [fa_authz_family_redeem, fa_authz_grant_refresh
 *                               (the successor)]
 *    ACTIVE -> SPENT           [fa_authz_grant_refresh]
 *    SPENT  -> REVOKED-FAMILY  [fa_authz_grant_refresh reading it SPENT]
 *    any    -> EXPIRED         [time]
 * Family states:
 *    ABSENT  -> ACTIVE         [fa_authz_family_redeem]
 *    ACTIVE  -> ACTIVE(v+1)    [fa_authz_grant_refresh]
 *    ACTIVE  -> REVOKED        [fa_authz_family_revoke: refresh reuse, code
 *                               replay, RFC 7009 revocation]
 *    any     -> EXPIRED        [time]
 */
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

#define RT_INVALID "refresh token is invalid or expired"
#define RT_USED "refresh token was already used"
/* Bounded retries of a revocation that raced a rotation. */
#define REVOKE_TRIES 4

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* When a family of a login at auth_time must stop refreshing (invariant
 * 8); a family without a login time ends at once. */
static int64_t family_end(const struct fa_authz *az, int64_t auth_time)
{
	return auth_time > 0 ? auth_time + az->rt_max_s : 0;
}

/* What a new family keeps (invariant 6). Pointers borrowed. */
struct family_new {
	const char *client_id;
	const json_t *user;              /* filtered claims */
	int64_t auth_time;
	const struct fa_scope *scope;    /* granted at the code */
	const json_t *aud;
	const char *sid;                 /* the login session's public name, or "" */
	const char *provider;            /* who logged the user in (fa_authz_rec_login), or "" */
};

/* Writes a new family id into out. */
static enum fa_rc family_id_new(char out[FA_AUTHZ_FAMILY_ID_LEN + 1])
{
	unsigned char r[FA_AUTHZ_FAMILY_ID_LEN / 2];
	enum fa_rc rc = fa_rand_bytes(r, sizeof(r));

	if (rc == FA_OK)
		fa_hex(r, sizeof(r), out);
	return rc;
}

void fa_authz_grant_cleanup(struct fa_authz_grant *g)
{
	if (!g)
		return;
	free(g->access_token);
	g->access_token = NULL;
	free(g->id_token);
	g->id_token = NULL;
	fa_memzero(g->refresh_token, sizeof(g->refresh_token));
}

enum fa_rc fa_authz_family_revoke(struct fa_authz *az, const char *id, const char *why,
				  struct fa_err *err)
{
	enum fa_rc rc = FA_OK;

	for (int i = 0; i < REVOKE_TRIES; i++) {
		json_t *fam = NULL;
		char *value = NULL;
		int64_t ver = 0, exp = 0, now = fa_authz_now(az);
		struct fa_store_op op;

		rc = fa_authz_rec_get(az, FA_KIND_FAMILY, id, &fam, &ver, &exp, err);
		if (rc == FA_ENOTFOUND)
			return FA_OK;   /* expired: nothing it issued is alive */
		if (rc != FA_OK)
			return fa_authz_store_fail(az, rc, err, "reading a token family");
		if (strcmp(fa_authz_jstr(fam, "st"), "revoked") == 0) {
			json_decref(fam);
			return FA_OK;
		}
		if (json_object_set_new(fam, "st", json_string("revoked")) != 0 ||
		    json_object_set_new(fam, "why", json_string(why)) != 0 ||
		    !(value = fa_authz_json_dump(fam))) {
			json_decref(fam);
			return fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
		}
		/* Keep the revoked record at least as long as any access token
		 * of the family can live (invariant 4). */
		op = (struct fa_store_op){ .type = FA_STORE_UPDATE, .kind = FA_KIND_FAMILY, .key = id,
					   .value = value,
					   .expires_at = max64(exp, now + az->at_ttl_s),
					   .expect_version = ver };
		rc = fa_store_apply(az->store, &op, 1, now, err);
		free(value);
		json_decref(fam);
		if (rc == FA_OK) {
			fa_log(az->log, FA_LOG_WARN, "token family %.8s revoked: %s", id, why);
			return FA_OK;
		}
		if (rc != FA_ECONFLICT && rc != FA_ENOTFOUND)
			return fa_authz_store_fail(az, rc, err, "revoking a token family");
		/* A rotation won the race: read again and revoke its state. */
	}
	return fa_authz_store_fail(az, rc, err, "revoking a token family (contended)");
}

/* Everything both family_start and rotation mint: the access token (signed
 * before the transaction so the jti is known; handed out only if the
 * transaction commits) and optionally a fresh refresh token. */
struct mint {
	char rt_key[2 * FA_SHA256_LEN + 1];
	char *rt_value;
	char *at_value;
	int64_t at_exp;
};

/* With `openid` in the scope, the ID token that goes with out's access
 * token (Core §3.1.3.3, §12.2: on refresh too, without a nonce). */
static enum fa_rc mint_id_token(struct fa_authz *az, const struct fa_authz_client *c,
				const json_t *fam, const struct fa_scope *scope, const char *nonce,
				int64_t now, struct fa_authz_grant *out, struct fa_err *err)
{
	struct fa_authz_idt idt = {
		.client_id = c->id,
		.user = json_object_get(fam, "user"),
		.scope = scope,
		.auth_time = fa_authz_jint(fam, "auth_time"),
		.nonce = nonce,
		.sid = fa_authz_jstr(fam, "sid"),
		.access_token = out->access_token,
		.now = now,
	};

	if (!fa_scope_has(scope, "openid"))
		return FA_OK;
	return fa_authz_idt_mint(az, &idt, &out->id_token, err);
}

static enum fa_rc mint_tokens(struct fa_authz *az, const struct fa_authz_client *c,
			      const json_t *fam, const struct fa_scope *at_scope,
			      const char *family_id, const char *rt_scope, bool issue_rt,
			      const char *nonce, int64_t now, struct mint *m,
			      struct fa_authz_grant *out, struct fa_err *err)
{
	const json_t *user = json_object_get(fam, "user");
	struct fa_authz_at at = {
		.sub = fa_authz_jstr(user, "sub"),
		.client_id = c->id,
		.aud = json_object_get(fam, "aud"),
		.scope = at_scope,
		.user_info = user,
		.now = now,
	};
	enum fa_rc rc;

	memset(m, 0, sizeof(*m));
	if (!json_is_array(at.aud) || at.sub[0] == '\0')
		return fa_err_oauth(err, FA_ESTORE, "server_error", "a token family is damaged");
	rc = fa_authz_at_mint(az, &at, &out->access_token, out->jti, &m->at_exp, err);
	if (rc != FA_OK)
		return rc;
	snprintf(out->sub, sizeof(out->sub), "%s", at.sub);
	out->expires_in = m->at_exp - now;
	fa_scope_format(at_scope, out->scope, sizeof(out->scope));
	rc = mint_id_token(az, c, fam, at_scope, nonce, now, out, err);
	if (rc != FA_OK)
		return rc;
	{
		json_t *atrec = json_pack("{s:s}", "fam", family_id);

		m->at_value = atrec ? fa_authz_json_dump(atrec) : NULL;
		json_decref(atrec);
	}
	if (issue_rt) {
		json_t *rt = json_pack("{s:s, s:s, s:s, s:s}", "st", "active", "fam", family_id,
				       "cid", c->id, "scp", rt_scope);

		m->rt_value = rt ? fa_authz_json_dump(rt) : NULL;
		json_decref(rt);
		rc = fa_rand_token(out->refresh_token);
		if (rc == FA_OK)
			rc = fa_authz_token_key(out->refresh_token, m->rt_key);
		if (rc != FA_OK)
			return fa_err_oauth(err, rc, "server_error", "random generator failed");
	}
	if (!m->at_value || (issue_rt && !m->rt_value))
		return fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
	return FA_OK;
}

static void mint_cleanup(struct mint *m)
{
	free(m->rt_value);
	free(m->at_value);
	memset(m, 0, sizeof(*m));
}

/* Creates family `family_id` (from family_id_new) and mints its first
 * tokens: an access token with at_scope, and a refresh token when the
 * client has the refresh_token grant and fn->scope has offline access.
 * `ops` (n_ops, at most 2) are the caller's writes (the code's UPDATE) that
 * commit in the same transaction. Store errors are returned as the store
 * gave them (FA_ECONFLICT / FA_ENOTFOUND: the caller's op lost a race). */
static enum fa_rc family_start(struct fa_authz *az, const struct fa_authz_client *c,
			       const struct family_new *fn, const struct fa_scope *at_scope,
			       const struct fa_store_op *ops, size_t n_ops,
			       const char *family_id, const char *nonce,
			       struct fa_authz_grant *out, struct fa_err *err)
{
	struct fa_store_op all[5];
	char scope[FA_MAX_SCOPE + 1];
	struct mint m;
	json_t *fam = NULL;
	char *fam_value = NULL;
	size_t n = 0;
	int64_t now = fa_authz_now(az);
	/* Refresh tokens only for clients allowed the grant that asked for
	 * offline access (the scope a user consents to long-lived access by). */
	bool issue_rt = (c->grants & FA_GRANT_REFRESH) && fa_scope_has_offline(fn->scope) &&
			family_end(az, fn->auth_time) > now;
	int64_t fam_exp = now + max64(issue_rt ? az->rt_ttl_s : 0, az->at_ttl_s);
	enum fa_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&m, 0, sizeof(m));
	if (n_ops > 2)
		return fa_err_oauth(err, FA_EINVAL, "server_error", "too many store ops");
	fa_scope_format(fn->scope, scope, sizeof(scope));
	fam = json_pack("{s:s, s:s, s:s, s:O, s:I, s:s, s:O, s:I, s:s, s:s}", "st", "active",
			"cid", c->id, "sub", fa_authz_jstr(fn->user, "sub"), "user", fn->user,
			"auth_time", (json_int_t)fn->auth_time, "scp", scope, "aud", fn->aud,
			"rotated_at", (json_int_t)now, "sid", fn->sid, "prov", fn->provider);
	if (!fam || !(fam_value = fa_authz_json_dump(fam))) {
		rc = fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
		goto out;
	}
	rc = mint_tokens(az, c, fam, at_scope, family_id, scope, issue_rt, nonce, now, &m, out,
			 err);
	if (rc != FA_OK)
		goto out;
	for (size_t i = 0; i < n_ops; i++)
		all[n++] = ops[i];
	all[n++] = (struct fa_store_op){ .type = FA_STORE_INSERT, .kind = FA_KIND_FAMILY,
					 .key = family_id, .value = fam_value, .expires_at = fam_exp };
	if (issue_rt)
		all[n++] = (struct fa_store_op){ .type = FA_STORE_INSERT, .kind = FA_KIND_RT,
						 .key = m.rt_key, .value = m.rt_value,
						 .expires_at = min64(now + az->rt_ttl_s,
								     family_end(az, fn->auth_time)) };
	all[n++] = (struct fa_store_op){ .type = FA_STORE_INSERT, .kind = FA_KIND_AT,
					 .key = out->jti, .value = m.at_value,
					 .expires_at = m.at_exp };
	rc = fa_store_apply(az->store, all, n, now, err);
	if (rc != FA_OK && rc != FA_ECONFLICT && rc != FA_ENOTFOUND)
		rc = fa_authz_store_fail(az, rc, err, "starting a token family");
out:
	if (rc != FA_OK)
		fa_authz_grant_cleanup(out);
	mint_cleanup(&m);
	free(fam_value);
	json_decref(fam);
	return rc;
}

enum fa_rc fa_authz_family_redeem(struct fa_authz *az, const struct fa_authz_client *c,
				  json_t *rec, const struct fa_authz_redeem *r,
				  struct fa_authz_grant *out, struct fa_err *err)
{
	char fam_id[FA_AUTHZ_FAMILY_ID_LEN + 1];
	struct family_new fn;
	struct fa_store_op op;
	struct fa_scope scope;
	json_t *aud = NULL;
	char *value = NULL;
	int64_t now = fa_authz_now(az);
	enum fa_rc rc;

	if (fa_scope_parse(fa_authz_jstr(rec, "scp"), &scope, err) != FA_OK ||
	    !json_is_object(json_object_get(rec, "user")) ||
	    family_id_new(fam_id) != FA_OK)
		return fa_err_oauth(err, FA_ESTORE, "server_error", "%s", r->damaged);
	rc = fa_authz_audience(az, c, fa_authz_jstr(rec, "aud"), &aud, err);
	if (rc != FA_OK)
		return rc;
	fn = (struct family_new){
		.client_id = c->id,
		.user = json_object_get(rec, "user"),
		.auth_time = fa_authz_jint(rec, "auth_time"),
		.scope = &scope,
		.aud = aud,
		.sid = fa_authz_jstr(rec, "sid"),
		.provider = fa_authz_jstr(rec, "prov"),
	};
	/* -> REDEEMED, remembering the family for replay detection. */
	if (json_object_set_new(rec, "st", json_string("redeemed")) != 0 ||
	    json_object_set_new(rec, "fam", json_string(fam_id)) != 0 ||
	    !(value = fa_authz_json_dump(rec))) {
		rc = fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
		goto out;
	}
	/* The REDEEMED record outlives the first tokens of the family, so that
	 * a replay can still revoke them. */
	op = (struct fa_store_op){ .type = FA_STORE_UPDATE, .kind = r->kind, .key = r->key,
				   .value = value,
				   .expires_at = max64(r->expires_at,
						       now + max64(az->rt_ttl_s, az->at_ttl_s)),
				   .expect_version = r->version };
	rc = family_start(az, c, &fn, &scope, &op, 1, fam_id, fa_authz_jstr(rec, "nonce"), out,
			  err);
	if (rc == FA_ECONFLICT || rc == FA_ENOTFOUND)
		/* This request read the record redeemable and lost the write to
		 * a concurrent redemption: a race, not a replay; nothing changes. */
		rc = fa_err_oauth(err, FA_EDENIED, "invalid_grant", "%s", r->used);
out:
	json_decref(aud);
	free(value);
	return rc;
}

static enum fa_rc rt_invalid(struct fa_err *err, const char *msg)
{
	return fa_err_oauth(err, FA_EDENIED, "invalid_grant", "%s", msg);
}

/* A token read as spent came back (invariant 2a): one of its two holders
 * is a thief, and we cannot tell which, so the family dies. No time window
 * excuses it: a request racing the rotation either read the token active
 * (and lost the write, see fa_authz_grant_refresh) or arrived after the
 * rotation committed, which is reuse like any other. */
static enum fa_rc rt_reused(struct fa_authz *az, const json_t *rt, struct fa_err *err)
{
	enum fa_rc rc;

	rc = fa_authz_family_revoke(az, fa_authz_jstr(rt, "fam"), "refresh token reuse", err);
	if (rc != FA_OK)
		return rc;
	return rt_invalid(err, "refresh token was already used; every token of its grant is "
			  "now revoked");
}

enum fa_rc fa_authz_grant_refresh(struct fa_authz *az, const struct fa_authz_client *c,
				  const char *refresh_token, const char *scope,
				  struct fa_authz_grant *out, struct fa_err *err)
{
	char key[2 * FA_SHA256_LEN + 1];
	struct fa_scope orig, want;
	struct fa_store_op ops[4];
	struct mint m;
	json_t *rt = NULL, *fam = NULL;
	char *rt_spent = NULL, *fam_value = NULL;
	int64_t rt_ver = 0, fam_ver = 0, now = fa_authz_now(az);
	int64_t fam_exp = now + max64(az->rt_ttl_s, az->at_ttl_s), fam_end;
	const char *fam_id;
	enum fa_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&m, 0, sizeof(m));
	if (!(c->grants & FA_GRANT_REFRESH))
		return fa_err_oauth(err, FA_EDENIED, "unauthorized_client",
				    "this client may not use the refresh_token grant");
	if (refresh_token == NULL)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "refresh_token is missing");
	rc = fa_scope_parse(scope, &want, err);
	if (rc != FA_OK)
		return rc;
	if (strnlen(refresh_token, FA_TOKEN_CHARS + 1) != FA_TOKEN_CHARS)
		return rt_invalid(err, RT_INVALID);
	rc = fa_authz_token_key(refresh_token, key);
	if (rc != FA_OK)
		return fa_err_oauth(err, rc, "server_error", "hashing failed");
	rc = fa_authz_rec_get(az, FA_KIND_RT, key, &rt, &rt_ver, NULL, err);
	if (rc == FA_ENOTFOUND) {
		rc = rt_invalid(err, RT_INVALID);
		goto out;
	}
	if (rc != FA_OK) {
		rc = fa_authz_store_fail(az, rc, err, "reading a refresh token");
		goto out;
	}
	/* Bound to the client it was issued to (RFC 6749 §6). */
	if (strcmp(fa_authz_jstr(rt, "cid"), c->id) != 0) {
		rc = rt_invalid(err, RT_INVALID);
		goto out;
	}
	if (strcmp(fa_authz_jstr(rt, "st"), "active") != 0) {
		rc = rt_reused(az, rt, err);
		goto out;
	}
	fam_id = fa_authz_jstr(rt, "fam");
	rc = fa_authz_rec_get(az, FA_KIND_FAMILY, fam_id, &fam, &fam_ver, NULL, err);
	if (rc == FA_ENOTFOUND || (rc == FA_OK && strcmp(fa_authz_jstr(fam, "st"), "active") != 0)) {
		rc = rt_invalid(err, "refresh token was revoked");
		goto out;
	}
	if (rc != FA_OK) {
		rc = fa_authz_store_fail(az, rc, err, "reading a token family");
		goto out;
	}
	/* (8) The login is too old to refresh from. */
	fam_end = family_end(az, fa_authz_jint(fam, "auth_time"));
	if (now >= fam_end) {
		rc = rt_invalid(err, "refresh token has reached refreshTokenMaxLifespan; "
				"log in again");
		goto out;
	}
	/* (9) The user is still there. */
	if (az->user_check) {
		const char *prov = fa_authz_jstr(fam, "prov");

		rc = az->user_check(az->user_check_id, prov[0] ? prov : NULL,
				    json_object_get(fam, "user"), err);
		if (rc == FA_EDENIED) {
			rc = fa_authz_family_revoke(az, fam_id, "user no longer exists", err);
			if (rc == FA_OK)
				rc = rt_invalid(err, "the user of this refresh token no longer "
						"exists or was refused");
			goto out;
		}
		if (rc != FA_OK) {
			rc = fa_err_oauth(err, rc, "server_error", "cannot check the user");
			goto out;
		}
	}
	rc = fa_scope_parse(fa_authz_jstr(rt, "scp"), &orig, err);
	if (rc != FA_OK) {
		rc = fa_err_oauth(err, FA_ESTORE, "server_error", "a refresh token is damaged");
		goto out;
	}
	if (want.n == 0)
		want = orig;
	else if (!fa_scope_subset(&want, &orig)) {
		rc = fa_err_oauth(err, FA_EDENIED, "invalid_scope",
				  "a refresh may narrow the scope, never widen it");
		goto out;
	}
	rc = mint_tokens(az, c, fam, &want, fam_id, fa_authz_jstr(rt, "scp"), true, NULL, now, &m,
			 out, err);
	if (rc != FA_OK)
		goto out;
	if (json_object_set_new(rt, "st", json_string("spent")) != 0 ||
	    json_object_set_new(fam, "rotated_at", json_integer(now)) != 0 ||
	    !(rt_spent = fa_authz_json_dump(rt)) || !(fam_value = fa_authz_json_dump(fam))) {
		rc = fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
		goto out;
	}
	ops[0] = (struct fa_store_op){ .type = FA_STORE_UPDATE, .kind = FA_KIND_RT, .key = key,
				       .value = rt_spent, .expires_at = fam_exp,
				       .expect_version = rt_ver };
	ops[1] = (struct fa_store_op){ .type = FA_STORE_UPDATE, .kind = FA_KIND_FAMILY,
				       .key = fam_id, .value = fam_value, .expires_at = fam_exp,
				       .expect_version = fam_ver };
	ops[2] = (struct fa_store_op){ .type = FA_STORE_INSERT, .kind = FA_KIND_RT,
				       .key = m.rt_key, .value = m.rt_value,
				       .expires_at = min64(now + az->rt_ttl_s, fam_end) };
	ops[3] = (struct fa_store_op){ .type = FA_STORE_INSERT, .kind = FA_KIND_AT, .key = out->jti,
				       .value = m.at_value, .expires_at = m.at_exp };
	rc = fa_store_apply(az->store, ops, ARRAY_LEN(ops), now, err);
	if (rc == FA_ECONFLICT || rc == FA_ENOTFOUND)
		/* Read the token active but lost the version-checked write to
		 * a concurrent rotation (or a revocation): the losing side of
		 * a true race, not a reuse, so the family is left alone. */
		rc = rt_invalid(err, RT_USED);
	else if (rc != FA_OK)
		rc = fa_authz_store_fail(az, rc, err, "rotating a refresh token");
out:
	if (rc != FA_OK)
		fa_authz_grant_cleanup(out);
	mint_cleanup(&m);
	free(rt_spent);
	free(fam_value);
	json_decref(rt);
	json_decref(fam);
	return rc;
}
