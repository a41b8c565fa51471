/* util.c -- small helpers the grant files share: the server clock (which
 * tests replace), reading one of our own JSON records from the store,
 * naming a token in the store by its SHA-256, mapping a store failure to
 * temporarily_unavailable (the database is unavailable) or server_error
 * (anything else), and filtering a user object down to the claims a token
 * may carry.
 *
 * Nothing here speaks HTTP, and no helper ever puts a token, code or secret
 * into a log line or an error message.
 */
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

void fa_authz_set_clock(struct fa_authz *az, int64_t (*clock_ms)(void *), void *arg)
{
	az->clock_ms = clock_ms;
	az->clock_arg = arg;
}

int64_t fa_authz_now_ms(const struct fa_authz *az)
{
	return az->clock_ms ? az->clock_ms(az->clock_arg) : fa_now_ms();
}

int64_t fa_authz_now(const struct fa_authz *az)
{
	return fa_authz_now_ms(az) / 1000;
}

enum fa_rc fa_authz_token_key(const char *token, char key[2 * FA_SHA256_LEN + 1])
{
	return fa_sha256_hex(token, strlen(token), key);
}

enum fa_rc fa_authz_store_fail(struct fa_authz *az, enum fa_rc rc, struct fa_err *err,
			       const char *what)
{
	/* The database is down or refusing us: nothing was written, the
	 * client may retry. The store logs the outage itself (once, not per
	 * request), so this is only a debug line. */
	if (rc == FA_ESTORE && (!err || fa_store_unavailable(err))) {
		fa_log(az->log, FA_LOG_DEBUG, "%s: %s", what, err ? err->msg : fa_rc_str(rc));
		return fa_err_oauth(err, rc, "temporarily_unavailable",
				    "the server cannot reach its store; try again later");
	}
	/* err->msg may name a store op index; it never holds a key or value. */
	fa_log(az->log, FA_LOG_ERROR, "%s: %s", what, err ? err->msg : fa_rc_str(rc));
	return fa_err_oauth(err, rc, "server_error", "the server could not complete the "
			    "request; try again");
}

enum fa_rc fa_authz_rec_get(struct fa_authz *az, const char *kind, const char *key,
			    json_t **out, int64_t *version, int64_t *expires_at,
			    struct fa_err *err)
{
	struct fa_store_rec rec;
	enum fa_rc rc;

	*out = NULL;
	rc = fa_store_get(az->store, kind, key, fa_authz_now(az), &rec, err);
	if (rc != FA_OK)
		goto out;
	if (fa_json_load(rec.value, rec.len, "record", out, NULL) != FA_OK) {
		rc = fa_err_oauth(err, FA_ESTORE, "server_error",
				  "a %s record is not a JSON object", kind);
		goto out;
	}
	if (version)
		*version = rec.version;
	if (expires_at)
		*expires_at = rec.expires_at;
out:
	fa_store_rec_cleanup(&rec);
	return rc;
}

char *fa_authz_json_dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT);
}

const char *fa_authz_jstr(const json_t *o, const char *name)
{
	const char *s = json_string_value(json_object_get(o, name));

	return s ? s : "";
}

int64_t fa_authz_jint(const json_t *o, const char *name)
{
	return (int64_t)json_integer_value(json_object_get(o, name));
}

/* The claims an access token's user_info may carry (SPEC §5), in order. */
static const char *const user_claims[] = {
	"sub", "name", "preferred_username", "given_name", "family_name", "email", "picture",
};

/* Copies the user's groups (strings within the caps; others are left out,
 * as oversized claims are) into o. */
static enum fa_rc groups_copy(const json_t *groups, json_t *o)
{
	json_t *g;
	size_t i;
	const json_t *v;

	if (!json_is_array(groups) || json_array_size(groups) == 0)
		return FA_OK;
	g = json_array();
	if (!g || json_object_set_new(o, "groups", g) != 0)
		return FA_ENOMEM;
	json_array_foreach(groups, i, v) {
		const char *s = json_string_value(v);

		if (json_array_size(g) >= FA_AUTHZ_MAX_GROUPS)
			break;
		if (s && s[0] && strnlen(s, FA_AUTHZ_MAX_GROUP + 1) <= FA_AUTHZ_MAX_GROUP &&
		    json_array_append_new(g, json_string(s)) != 0)
			return FA_ENOMEM;
	}
	return FA_OK;
}

enum fa_rc fa_authz_user_filter(const json_t *user, json_t **out, struct fa_err *err)
{
	const json_t *ev = json_object_get(user, "email_verified");

	const char *sub;
	json_t *o;

	*out = NULL;
	sub = json_string_value(json_object_get(user, "sub"));
	if (sub == NULL || sub[0] == '\0' || strnlen(sub, FA_MAX_ID + 1) > FA_MAX_ID)
		return fa_err_oauth(err, FA_EINVAL, "server_error",
				    "the logged-in user has no usable subject");
	o = json_object();
	if (!o)
		return fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
	for (size_t i = 0; i < ARRAY_LEN(user_claims); i++) {
		const json_t *v = json_object_get(user, user_claims[i]);
		const char *s = json_string_value(v);

		/* Oversized or non-string claims are left out rather than
		 * failing the login: the token stays bounded and still names
		 * the user by sub. */
		if (s == NULL || s[0] == '\0' || strnlen(s, FA_AUTHZ_MAX_CLAIM + 1) > FA_AUTHZ_MAX_CLAIM)
			continue;
		if (json_object_set_new(o, user_claims[i], json_string(s)) != 0) {
			json_decref(o);
			return fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
		}
	}
	if ((json_is_boolean(ev) && json_object_set_new(o, "email_verified",
							 json_boolean(json_is_true(ev))) != 0) ||
	    groups_copy(json_object_get(user, "groups"), o) != FA_OK) {
		json_decref(o);
		return fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
	}
	*out = o;
	return FA_OK;
}

/* Longest provider name a record keeps ("local", "oidc"). */
#define PROVIDER_MAX 16

enum fa_rc fa_authz_rec_login(json_t *rec, const json_t *user, int64_t now, struct fa_err *err)
{
	const json_t *at = json_object_get(user, "auth_time");
	const char *prov = json_string_value(json_object_get(user, "login_provider"));
	int64_t auth_time = now;
	json_t *fuser;
	enum fa_rc rc = fa_authz_user_filter(user, &fuser, err);

	if (rc != FA_OK)
		return rc;
	if (json_is_integer(at) && json_integer_value(at) > 0 && json_integer_value(at) <= now)
		auth_time = (int64_t)json_integer_value(at);
	if (json_object_set_new(rec, "user", fuser) != 0 ||
	    json_object_set_new(rec, "auth_time", json_integer(auth_time)) != 0 ||
	    (prov && prov[0] && strnlen(prov, PROVIDER_MAX + 1) <= PROVIDER_MAX &&
	     json_object_set_new(rec, "prov", json_string(prov)) != 0))
		return fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
	return FA_OK;
}
