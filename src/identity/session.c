/* session.c -- browser login sessions: a random id kept in the store under
 * its hash, carried by one sealed cookie, and looked up for authz and gate
 * (fa_identity_session_user).
 *
 * Invariants
 *  (1) A session id is 256 bits from OpenSSL's CSPRNG, made at login and
 *      never reused; the store key is hex SHA-256 of it, so a store dump
 *      names no live session.
 *  (2) The cookie is AES-256-GCM(session key, id || expiry) with the cookie
 *      name bound in; a cookie that does not authenticate, or whose expiry
 *      has passed, is no session -- the store is not even asked.
 *  (3) A session is valid only while both the cookie's expiry and the
 *      record's lie in the future; they are set to the same instant. The
 *      timeout is absolute: use never extends it.
 *  (4) Login always starts a fresh session and ends one the request
 *      carried (no fixation); logout deletes the record, so a copied cookie
 *      dies with it.
 *  (5) Nothing here logs an id or a cookie: at most fa_log_id of the id.
 *  (6) A session is valid only while its user is (fa_identity_user_check):
 *      a user removed from the config loses every session at its next
 *      lookup, and the record is deleted then.
 *
 * States of one session and the calls that move it:
 *    ABSENT  -> LIVE     [fa_identity_session_start]
 *    LIVE    -> ABSENT   [fa_identity_session_end, or a later session_start
 *                         from the same browser]
 *    LIVE    -> EXPIRED  [time: now >= expiry; serve's purge reclaims it]
 */
#include <string.h>

#include "identity/identity_int.h"

#define KIND "session"
/* id + big-endian expiry. */
#define PLAIN_LEN (FA_SESSION_ID_LEN + 8)

static void put_be64(unsigned char *p, int64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)((uint64_t)v & 0xff);
		v = (int64_t)((uint64_t)v >> 8);
	}
}

static int64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return (int64_t)v;
}

enum fa_rc fa_identity_cookie_set(const struct fa_identity *id, struct fa_resp *resp,
				  const char *name, const char *value, const char *path,
				  int64_t max_age, struct fa_err *err)
{
	struct fa_cookie c = {
		.name = name,
		.value = value,
		.path = path,
		.domain = id->domain,
		.max_age = max_age,
		/* Scripts never need these; an XSS elsewhere on the origin
		 * must not be able to read a session. */
		.http_only = true,
		.secure = id->secure,
		.same_site = id->same_site,
	};

	return fa_resp_cookie(resp, &c, err);
}

/* The session id of req's cookie, if it unseals and has not expired. */
static enum fa_rc cookie_session_id(const struct fa_identity *id, struct fa_req *req,
				    int64_t now, unsigned char sid[FA_SESSION_ID_LEN])
{
	const char *v = fa_req_cookie(req, FA_IDENTITY_SESSION_COOKIE);
	unsigned char plain[PLAIN_LEN];
	size_t n = 0;
	enum fa_rc rc = FA_ENOTFOUND;

	if (!v)
		return FA_ENOTFOUND;
	if (fa_identity_unseal(id->session_key, FA_IDENTITY_SESSION_COOKIE, v, plain,
			       sizeof(plain), &n, NULL) != FA_OK || n != PLAIN_LEN)
		goto out;
	if (get_be64(plain + FA_SESSION_ID_LEN) <= now)
		goto out;
	memcpy(sid, plain, FA_SESSION_ID_LEN);
	rc = FA_OK;
out:
	fa_memzero(plain, sizeof(plain));
	return rc;
}

static enum fa_rc session_key(const unsigned char sid[FA_SESSION_ID_LEN],
			      char key[2 * FA_SHA256_LEN + 1], struct fa_err *err)
{
	enum fa_rc rc = fa_sha256_hex(sid, FA_SESSION_ID_LEN, key);

	if (rc != FA_OK)
		return fa_err_set(err, rc, "cannot hash the session id");
	return FA_OK;
}

enum fa_rc fa_identity_session_start(struct fa_identity *id, struct fa_req *req,
				     struct fa_resp *resp, const json_t *user,
				     const json_t *extra, struct fa_err *err)
{
	unsigned char sid[FA_SESSION_ID_LEN];
	unsigned char plain[PLAIN_LEN];
	char key[2 * FA_SHA256_LEN + 1], logid[9];
	char *value = NULL, *sealed = NULL;
	struct fa_store_op op;
	int64_t now = fa_now(), exp = now + id->session_ttl_s;
	json_t *rec = NULL;
	enum fa_rc rc;

	if (!json_is_object(user) || !json_is_string(json_object_get(user, "sub")))
		return fa_err_set(err, FA_EINVAL, "a session needs a user with a subject");
	/* (4): whatever session this browser had ends here. */
	if (cookie_session_id(id, req, now, sid) == FA_OK) {
		struct fa_store_op del = { .type = FA_STORE_DELETE, .kind = KIND, .key = key,
					   .if_exists = true };

		if (session_key(sid, key, NULL) == FA_OK &&
		    fa_store_apply(id->store, &del, 1, now, NULL) != FA_OK)
			fa_log_warnx(id->log, "identity: could not end the previous session");
	}
	rc = fa_rand_bytes(sid, sizeof(sid));
	if (rc != FA_OK) {
		rc = fa_err_set(err, rc, "no randomness for a session id");
		goto out;
	}
	rc = session_key(sid, key, err);
	if (rc != FA_OK)
		goto out;
	rec = json_pack("{s:i, s:O, s:I, s:I, s:s}", "v", 1, "user", (json_t *)(uintptr_t)user,
			"auth_time", (json_int_t)now, "seen", (json_int_t)now, "provider",
			id->provider ? id->provider->name : "-");
	if (rec && extra && json_object_update(rec, (json_t *)(uintptr_t)extra) != 0) {
		json_decref(rec);
		rec = NULL;
	}
	value = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	if (!value) {
		rc = fa_err_set(err, FA_ENOMEM, "cannot serialise the session");
		goto out;
	}
	op = (struct fa_store_op){ .type = FA_STORE_INSERT, .kind = KIND, .key = key,
				   .value = value, .expires_at = exp };
	rc = fa_store_apply(id->store, &op, 1, now, err);
	if (rc != FA_OK)
		goto out;
	memcpy(plain, sid, FA_SESSION_ID_LEN);
	put_be64(plain + FA_SESSION_ID_LEN, exp);
	rc = fa_identity_seal(id->session_key, FA_IDENTITY_SESSION_COOKIE, plain, sizeof(plain),
			      fa_req_arena(req), &sealed, err);
	if (rc == FA_OK)
		rc = fa_identity_cookie_set(id, resp, FA_IDENTITY_SESSION_COOKIE, sealed, "/",
					    id->session_ttl_s, err);
	if (rc != FA_OK) {
		/* No cookie, no session: do not leave an orphan record. */
		struct fa_store_op del = { .type = FA_STORE_DELETE, .kind = KIND, .key = key,
					   .if_exists = true };

		if (fa_store_apply(id->store, &del, 1, now, NULL) != FA_OK)
			fa_log_warnx(id->log, "identity: could not remove an unused session");
		goto out;
	}
	fa_log_id(sid, sizeof(sid), logid);
	fa_log(id->log, FA_LOG_INFO, "identity: session %s started for %s (%lld s)", logid,
	       json_string_value(json_object_get(user, "sub")), (long long)id->session_ttl_s);
out:
	fa_memzero(sid, sizeof(sid));
	fa_memzero(plain, sizeof(plain));
	free(value);
	json_decref(rec);
	return rc;
}

enum fa_rc fa_identity_session_end(struct fa_identity *id, struct fa_req *req,
				   struct fa_resp *resp, struct fa_err *err)
{
	unsigned char sid[FA_SESSION_ID_LEN];
	char key[2 * FA_SHA256_LEN + 1], logid[9];
	int64_t now = fa_now();
	enum fa_rc rc;

	if (cookie_session_id(id, req, now, sid) == FA_OK) {
		struct fa_store_op del = { .type = FA_STORE_DELETE, .kind = KIND, .key = key,
					   .if_exists = true };

		rc = session_key(sid, key, err);
		if (rc == FA_OK)
			rc = fa_store_apply(id->store, &del, 1, now, err);
		fa_log_id(sid, sizeof(sid), logid);
		fa_memzero(sid, sizeof(sid));
		if (rc != FA_OK)
			return rc;
		fa_log(id->log, FA_LOG_INFO, "identity: session %s ended", logid);
	}
	return fa_identity_cookie_set(id, resp, FA_IDENTITY_SESSION_COOKIE, "", "/", 0, err);
}

/* The session's user as fa_identity_session_user answers it: a copy of the
 * stored claims plus auth_time (the login), login_provider (the provider
 * that logged it in, when the record names one: authz keeps it with a
 * refresh family, for fa_identity_user_check) and sid, the session's
 * public name for OpenID Connect: hex of SHA-256 over its store key, so it
 * names the session without being a way to look it up. */
static enum fa_rc user_with_session(const json_t *u, const json_t *auth_time,
				    const char *provider, const char *key, json_t **out,
				    struct fa_err *err)
{
	char sid[2 * FA_SHA256_LEN + 1];
	json_t *c = json_copy((json_t *)(uintptr_t)u);

	if (!c || fa_sha256_hex(key, strlen(key), sid) != FA_OK ||
	    (json_is_integer(auth_time) && json_object_set(c, "auth_time",
							    (json_t *)(uintptr_t)auth_time) != 0) ||
	    (provider && json_object_set_new(c, "login_provider", json_string(provider)) != 0) ||
	    json_object_set_new(c, "sid", json_stringn(sid, 32)) != 0) {
		json_decref(c);
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	}
	*out = c;
	return FA_OK;
}

static void session_delete(struct fa_identity *id, const char *key, int64_t now)
{
	struct fa_store_op del = { .type = FA_STORE_DELETE, .kind = KIND, .key = key,
				   .if_exists = true };

	if (fa_store_apply(id->store, &del, 1, now, NULL) != FA_OK)
		fa_log_warnx(id->log, "identity: could not delete an ended session");
}

/* Writes doc back over the record read as rec. On a version conflict (a
 * concurrent touch or refresh), reads it again and, when `keep_idp`, puts
 * doc's IdP tokens into the fresh copy before one more try; a touch alone
 * gives way. */
static void session_write(struct fa_identity *id, const char *key, const struct fa_store_rec *rec,
			  json_t *doc, bool keep_idp, int64_t now)
{
	static const char *const idp_members[] = { "idp_rt", "idp_idt", "idp_at_exp" };
	struct fa_store_op op = { .type = FA_STORE_UPDATE, .kind = KIND, .key = key,
				  .expires_at = rec->expires_at,
				  .expect_version = rec->version };
	struct fa_store_rec again = { 0 };
	json_t *fresh = NULL;
	char *value = json_dumps(doc, JSON_COMPACT);
	enum fa_rc rc = FA_ENOMEM;

	if (value) {
		op.value = value;
		rc = fa_store_apply(id->store, &op, 1, now, NULL);
	}
	if (rc == FA_ECONFLICT && keep_idp &&
	    fa_store_get(id->store, KIND, key, now, &again, NULL) == FA_OK &&
	    fa_json_load(again.value, again.len, "session record", &fresh, NULL) == FA_OK) {
		for (size_t i = 0; i < ARRAY_LEN(idp_members); i++) {
			json_t *v = json_object_get(doc, idp_members[i]);

			if (v)
				json_object_set(fresh, idp_members[i], v);
		}
		fa_memzero(value, strlen(value));
		free(value);
		value = json_dumps(fresh, JSON_COMPACT);
		op.value = value;
		op.expect_version = again.version;
		rc = value ? fa_store_apply(id->store, &op, 1, now, NULL) : FA_ENOMEM;
	}
	if (rc != FA_OK && rc != FA_ECONFLICT)
		fa_log_warnx(id->log, "identity: could not update a session: %s", fa_rc_str(rc));
	if (value) {
		fa_memzero(value, strlen(value));
		free(value);
	}
	json_decref(fresh);
	fa_store_rec_cleanup(&again);
}

#define REFRESH_KIND "idp_refresh"

/* One request at a time refreshes a session's IdP tokens: the first to
 * insert this marker does. It is removed after a successful refresh;
 * after a failed one it lapses on its own, which spaces the retries of an
 * IdP that cannot be reached. */
static bool refresh_claim(struct fa_identity *id, const char *key, int64_t now)
{
	struct fa_store_op op = { .type = FA_STORE_INSERT, .kind = REFRESH_KIND, .key = key,
				  .value = "1",
				  .expires_at = now + FA_REMOTE_TIMEOUT_MS / 1000 * 3 };

	return fa_store_apply(id->store, &op, 1, now, NULL) == FA_OK;
}

static void refresh_release(struct fa_identity *id, const char *key, int64_t now)
{
	struct fa_store_op op = { .type = FA_STORE_DELETE, .kind = REFRESH_KIND, .key = key,
				  .if_exists = true };

	if (fa_store_apply(id->store, &op, 1, now, NULL) != FA_OK)
		fa_log_warnx(id->log, "identity: could not release a session's refresh marker");
}

/* Idle timeout, last use, and the IdP's tokens. FA_ENOTFOUND when the
 * session ended here. */
static enum fa_rc session_maintain(struct fa_identity *id, const char *key,
				   const struct fa_store_rec *rec, json_t *doc, int64_t now,
				   struct fa_err *err)
{
	const json_t *seen_j = json_object_get(doc, "seen");
	const json_t *at_exp = json_object_get(doc, "idp_at_exp");
	int64_t seen = json_is_integer(seen_j) ? json_integer_value(seen_j)
					       : json_integer_value(json_object_get(doc, "auth_time"));
	bool touch = false, refreshed = false;

	if (now - seen >= id->session_idle_s) {
		session_delete(id, key, now);
		fa_log(id->log, FA_LOG_INFO, "identity: a session ended after %lld s unused",
		       (long long)(now - seen));
		return fa_err_set(err, FA_ENOTFOUND, "session was idle for too long");
	}
	if (now - seen >= FA_IDENTITY_SESSION_TOUCH_S)
		touch = json_object_set_new(doc, "seen", json_integer(now)) == 0;
	if (id->idp && json_is_string(json_object_get(doc, "idp_rt")) && json_is_integer(at_exp) &&
	    json_integer_value(at_exp) <= now && refresh_claim(id, key, now)) {
		struct fa_err re;
		enum fa_rc rc;

		fa_err_clear(&re);
		rc = fa_identity_oidc_refresh(id, doc, &re);
		if (rc == FA_EDENIED) {
			session_delete(id, key, now);
			fa_log(id->log, FA_LOG_INFO, "identity: a session ended: %s", re.msg);
			return fa_err_set(err, FA_ENOTFOUND, "the IdP refused to refresh the session");
		}
		if (rc == FA_OK)
			refreshed = true;
		else
			fa_log_warnx(id->log, "identity: cannot refresh a session's IdP tokens "
				     "(kept, retried later): %s", re.msg);
	}
	if (touch || refreshed)
		session_write(id, key, rec, doc, refreshed, now);
	if (refreshed)
		refresh_release(id, key, now);
	return FA_OK;
}

enum fa_rc fa_identity_session_user(struct fa_identity *id, struct fa_req *req, json_t **user,
				    struct fa_err *err)
{
	unsigned char sid[FA_SESSION_ID_LEN];
	char key[2 * FA_SHA256_LEN + 1];
	struct fa_store_rec rec = { 0 };
	json_t *doc = NULL, *u;
	const char *pname;
	int64_t now = fa_now();
	enum fa_rc rc;

	*user = NULL;
	if (!id || !req)
		return fa_err_set(err, FA_EINVAL, "no identity or request");
	if (cookie_session_id(id, req, now, sid) != FA_OK)
		return fa_err_set(err, FA_ENOTFOUND, "no valid session cookie");
	rc = session_key(sid, key, err);
	fa_memzero(sid, sizeof(sid));
	if (rc != FA_OK)
		return rc;
	rc = fa_store_get(id->store, KIND, key, now, &rec, err);
	if (rc == FA_ENOTFOUND)
		return fa_err_set(err, FA_ENOTFOUND, "session has ended");
	if (rc != FA_OK)
		return rc;
	if (fa_json_load(rec.value, rec.len, "session record", &doc, NULL) != FA_OK)
		doc = NULL;
	u = doc ? json_object_get(doc, "user") : NULL;
	if (!json_is_object(u) || !json_is_string(json_object_get(u, "sub"))) {
		rc = fa_err_oauth(err, FA_ESTORE, "server_error", "session record is malformed");
		goto out;
	}
	/* (6) The user must still be one: of the provider that logged it in
	 * (a break-glass local user beside an upstream IdP is checked against
	 * localUsers). */
	pname = json_string_value(json_object_get(doc, "provider"));
	rc = fa_identity_user_check(id, pname, u, err);
	if (rc == FA_EDENIED) {
		struct fa_store_op del = { .type = FA_STORE_DELETE, .kind = KIND, .key = key,
					   .if_exists = true };

		if (fa_store_apply(id->store, &del, 1, now, NULL) != FA_OK)
			fa_log_warnx(id->log, "identity: could not end a removed user's session");
		else
			fa_log(id->log, FA_LOG_INFO, "identity: session of removed user %s ended",
			       json_string_value(json_object_get(u, "sub")));
		rc = fa_err_set(err, FA_ENOTFOUND, "the session's user no longer exists");
		goto out;
	}
	if (rc != FA_OK)
		goto out;
	rc = session_maintain(id, key, &rec, doc, now, err);
	if (rc == FA_OK)
		rc = user_with_session(u, json_object_get(doc, "auth_time"), pname, key, user, err);
out:
	json_decref(doc);
	fa_store_rec_cleanup(&rec);
	return rc;
}

enum fa_rc fa_identity_session_record(struct fa_identity *id, struct fa_req *req, json_t **doc)
{
	unsigned char sid[FA_SESSION_ID_LEN];
	char key[2 * FA_SHA256_LEN + 1];
	struct fa_store_rec rec = { 0 };
	int64_t now = fa_now();
	enum fa_rc rc;

	*doc = NULL;
	if (cookie_session_id(id, req, now, sid) != FA_OK)
		return FA_ENOTFOUND;
	rc = session_key(sid, key, NULL);
	fa_memzero(sid, sizeof(sid));
	if (rc == FA_OK)
		rc = fa_store_get(id->store, KIND, key, now, &rec, NULL);
	if (rc == FA_OK && fa_json_load(rec.value, rec.len, "session record", doc, NULL) != FA_OK)
		rc = FA_ESTORE;
	fa_store_rec_cleanup(&rec);
	return rc;
}

enum fa_rc fa_identity_session_logout(struct fa_identity *id, struct fa_req *req,
				      struct fa_resp *resp, struct fa_err *err)
{
	return fa_identity_session_end(id, req, resp, err);
}
