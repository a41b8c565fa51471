/* device.c -- the device authorization grant (RFC 8628) as logic: starting
 * a device authorization for a client, finding and deciding it by the user
 * code a logged-in user types on the verification page (with the wrong-code
 * throttle and the page's CSRF tokens), and the token endpoint's device_code
 * grant, which answers a polling client until the user has decided and then
 * issues tokens exactly once.
 *
 * What it does not do: speak HTTP, read cookies or render the page
 * (ep_device.c hands in the session cookie value and the client address and
 * turns the results into pages), or log anyone in (identity does).
 *
 * Invariants
 *  (1) A device code is 256 random bits; a user code is 8 letters of
 *      FA_DEVICE_USER_CODE_ALPHABET. Only SHA-256 of each names a record
 *      (the device code's record, and "uc:<hash>" of the normalised user
 *      code, an index to it), so neither is stored in plain. The user code
 *      is short by design: its hash only keeps it out of sight for the
 *      minutes it lives, and it is worth nothing without a login session.
 *  (2) Both records are inserted in one transaction; a user code that
 *      collides with a live one is refused by the INSERT and redrawn.
 *  (3) A device code is bound to the client it was issued to: another
 *      client presenting it gets invalid_grant and changes nothing.
 *  (4) PENDING -> APPROVED or DENIED happens once: a version-checked UPDATE
 *      committed with the DELETE of the user code's index, so a code can be
 *      neither decided twice nor found again.
 *  (5) APPROVED -> REDEEMED happens once: a version-checked UPDATE committed
 *      with the token family it starts (fa_authz_family_redeem), so of
 *      concurrent polls exactly one gets tokens. A poll that read the code
 *      APPROVED and lost that write is the losing side of a true race:
 *      plain invalid_grant, nothing written. A poll by the code's own client
 *      that READS it REDEEMED is a replay (SPEC §5: a replayed code revokes
 *      what it issued): invalid_grant, and the family the redemption
 *      started (the record keeps its id) is revoked. The REDEEMED record is
 *      kept as long as that family's first tokens can live, so a replay is
 *      recognised for as long as revoking still matters.
 *  (6) A device code's polling interval only grows: each slow_down adds
 *      FA_DEVICE_SLOW_DOWN_S (RFC 8628 §3.5), up to FA_DEVICE_MAX_INTERVAL_S,
 *      and is kept on the record with the time of the last poll.
 *  (7) Past its lifespan a device code is answered expired_token and can no
 *      longer be approved; its record stays FA_DEVICE_TOMBSTONE_S longer for
 *      that answer, and after that the code is unknown (invalid_grant).
 *  (8) Every wrong user code counts against the login session and the
 *      client address (fa_store_incr, fixed windows); over either cap no
 *      lookup is made at all. No device code, user code or session value
 *      reaches a log line or an error message.
 *  (9) A verification form's CSRF token is random, stored under its hash
 *      with the hash of the login session it was made for, and accepted
 *      only from that session (constant-time comparison).
 *
 * Device code states and the calls that move them:
 *    ABSENT   -> PENDING    [fa_authz_device_start]
 *    PENDING  -> PENDING    [fa_authz_grant_device: poll time, slow_down]
 *    PENDING  -> APPROVED   [fa_authz_device_decide, approve]
 *    PENDING  -> DENIED     [fa_authz_device_decide, deny]
 *    APPROVED -> REDEEMED   [fa_authz_grant_device]
 *    REDEEMED -> REDEEMED   [fa_authz_grant_device by its client: the
 *                            family it started is revoked]
 *    PENDING, APPROVED -> EXPIRED   [time: deviceCodeLifespan]
 *    any      -> ABSENT     [time: lifespan + FA_DEVICE_TOMBSTONE_S]
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

#define DC_INVALID "device code is invalid or expired"
#define DC_USED "device code was already used"
#define UC_WRONG "the code is not valid or has expired"
/* A user code collides with a live one about once in 2^34 draws per live
 * code; four draws in a row colliding means the RNG is broken. */
#define USER_CODE_TRIES 4
/* Bounded re-reads when a poll races another poll of the same code. */
#define POLL_TRIES 4
/* Store key prefixes inside kind "device" (the device code's own record is
 * the bare hex hash). */
#define UC_PREFIX "uc:"
#define CSRF_PREFIX "csrf:"
#define FAIL_SESSION_PREFIX "fail:s:"
#define FAIL_ADDR_PREFIX "fail:ip:"
#define FAIL_DELAY_PREFIX "fail:d:"

/* Room for one store key and its NUL. */
#define KEY_CAP (FA_STORE_MAX_KEY + 1)

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* ---- user codes ------------------------------------------------------------ */

bool fa_authz_user_code_normalize(const char *in, char out[FA_DEVICE_USER_CODE_LEN + 1])
{
	size_t n = 0;

	out[0] = '\0';
	if (in == NULL || strnlen(in, FA_DEVICE_MAX_USER_CODE_INPUT + 1) >
				  FA_DEVICE_MAX_USER_CODE_INPUT)
		return false;
	for (; *in; in++) {
		char c = *in;

		if (c == '-' || c == ' ')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (n == FA_DEVICE_USER_CODE_LEN || strchr(FA_DEVICE_USER_CODE_ALPHABET, c) == NULL) {
			out[0] = '\0';
			return false;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	if (n != FA_DEVICE_USER_CODE_LEN)
		out[0] = '\0';
	return n == FA_DEVICE_USER_CODE_LEN;
}

void fa_authz_user_code_format(const char norm[FA_DEVICE_USER_CODE_LEN + 1],
			       char out[FA_DEVICE_USER_CODE_SHOWN + 1])
{
	memcpy(out, norm, 4);
	out[4] = '-';
	memcpy(out + 5, norm + 4, 4);
	out[FA_DEVICE_USER_CODE_SHOWN] = '\0';
}

/* Uniform letters by rejection: 240 = 12 * 20, so bytes below it map
 * evenly onto the alphabet. */
static enum fa_rc user_code_new(char out[FA_DEVICE_USER_CODE_LEN + 1])
{
	unsigned char r[32];
	size_t n = 0;
	enum fa_rc rc = FA_OK;

	for (int round = 0; n < FA_DEVICE_USER_CODE_LEN && round < 8; round++) {
		rc = fa_rand_bytes(r, sizeof(r));
		if (rc != FA_OK)
			break;
		for (size_t i = 0; i < sizeof(r) && n < FA_DEVICE_USER_CODE_LEN; i++) {
			if (r[i] < 240)
				out[n++] = FA_DEVICE_USER_CODE_ALPHABET[r[i] % 20];
		}
	}
	fa_memzero(r, sizeof(r));
	out[n] = '\0';
	if (rc == FA_OK && n != FA_DEVICE_USER_CODE_LEN)
		rc = FA_ECRYPTO;
	return rc;
}

/* prefix + hex SHA-256 of n bytes. */
static enum fa_rc hashed_key(const char *prefix, const void *data, size_t n, char out[KEY_CAP])
{
	char hex[2 * FA_SHA256_LEN + 1];
	enum fa_rc rc = fa_sha256_hex(data, n, hex);

	if (rc == FA_OK && (size_t)snprintf(out, KEY_CAP, "%s%s", prefix, hex) >=
				   KEY_CAP)
		rc = FA_ETOOBIG;
	if (rc != FA_OK)
		out[0] = '\0';
	return rc;
}

/* ---- set-up --------------------------------------------------------------- */

void fa_authz_device_init(struct fa_authz *az)
{
	const struct fa_config *cfg = az->cfg;

	/* The config module bounds both (1 s .. a year; the interval 1 s ..
	 * 1 h), so the code and its tombstone fit the store. */
	az->device_ttl_s = cfg->auth.app_auth.self.device_code_lifespan_ms / 1000;
	/* Rounded up: RFC 8628 speaks whole seconds, and a client told to wait
	 * less than the operator asked would be polling too fast. */
	az->device_interval_s = (cfg->auth.app_auth.self.device_poll_interval_ms + 999) / 1000;
	/* The endpoint is advertised only where some client may use it. */
	az->device_enabled = false;
	for (size_t i = 0; i < az->n_clients; i++) {
		if (az->clients[i].grants & FA_GRANT_DEVICE)
			az->device_enabled = true;
	}
}

/* ---- device authorization (RFC 8628 §3.1-3.2) ----------------------------- */

enum fa_rc fa_authz_device_start(struct fa_authz *az, const struct fa_authz_client *c,
				 const char *scope, const char *audience,
				 struct fa_device_auth *out, struct fa_err *err)
{
	char norm[FA_DEVICE_USER_CODE_LEN + 1];
	char scp[FA_MAX_SCOPE + 1];
	char key[KEY_CAP], uc_key[KEY_CAP];
	struct fa_store_op ops[2];
	struct fa_scope want;
	json_t *rec = NULL, *idx = NULL, *aud = NULL;
	char *value = NULL, *idx_value = NULL;
	int64_t now = fa_authz_now(az), exp = now + az->device_ttl_s;
	enum fa_rc rc;

	memset(out, 0, sizeof(*out));
	if (!(c->grants & FA_GRANT_DEVICE))
		return fa_err_oauth(err, FA_EDENIED, "unauthorized_client",
				    "this client may not use the device authorization grant");
	rc = fa_scope_request(scope, &c->scopes, &c->allowed, &want, err);
	if (rc != FA_OK)
		return rc;
	/* Validated now so that a bad audience fails here, not at the poll. */
	rc = fa_authz_audience(az, c, audience, &aud, err);
	json_decref(aud);
	if (rc != FA_OK)
		return rc;
	fa_scope_format(&want, scp, sizeof(scp));
	rc = fa_rand_token(out->device_code);
	if (rc == FA_OK)
		rc = hashed_key("", out->device_code, FA_TOKEN_CHARS, key);
	if (rc != FA_OK) {
		rc = fa_err_oauth(err, rc, "server_error", "random generator failed");
		goto out;
	}
	rec = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "st", "pending", "cid", c->id,
			"scp", scp, "aud", audience ? audience : "", "exp", (json_int_t)exp,
			"iv", (json_int_t)az->device_interval_s, "last_ms", (json_int_t)0);
	idx = json_pack("{s:s}", "dc", key);
	if (!rec || !idx || !(idx_value = fa_authz_json_dump(idx))) {
		rc = fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
		goto out;
	}
	/* Invariant 2: a user code that is taken is drawn again. */
	rc = FA_EEXIST;
	for (int i = 0; i < USER_CODE_TRIES && rc == FA_EEXIST; i++) {
		FA_FREE(value);
		if (user_code_new(norm) != FA_OK ||
		    hashed_key(UC_PREFIX, norm, FA_DEVICE_USER_CODE_LEN, uc_key) != FA_OK) {
			rc = fa_err_oauth(err, FA_ECRYPTO, "server_error",
					  "random generator failed");
			goto out;
		}
		if (json_object_set_new(rec, "uc", json_string(uc_key)) != 0 ||
		    !(value = fa_authz_json_dump(rec))) {
			rc = fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
			goto out;
		}
		ops[0] = (struct fa_store_op){ .type = FA_STORE_INSERT, .kind = FA_KIND_DEVICE,
					       .key = key, .value = value,
					       .expires_at = exp + FA_DEVICE_TOMBSTONE_S };
		/* The index dies with the code's lifespan: an expired code can
		 * no longer be found to approve. */
		ops[1] = (struct fa_store_op){ .type = FA_STORE_INSERT, .kind = FA_KIND_DEVICE,
					       .key = uc_key, .value = idx_value, .expires_at = exp };
		rc = fa_store_apply(az->store, ops, ARRAY_LEN(ops), now, err);
	}
	if (rc != FA_OK) {
		rc = fa_authz_store_fail(az, rc, err, "starting a device authorization");
		goto out;
	}
	fa_authz_user_code_format(norm, out->user_code);
	out->expires_in = az->device_ttl_s;
	out->interval = az->device_interval_s;
out:
	if (rc != FA_OK)
		fa_memzero(out, sizeof(*out));
	fa_memzero(norm, sizeof(norm));
	free(value);
	free(idx_value);
	json_decref(rec);
	json_decref(idx);
	return rc;
}

/* ---- the wrong-code throttle ------------------------------------------------ */

static enum fa_rc throttle_keys(const char *session, const char *addr, char skey[KEY_CAP],
				char akey[KEY_CAP])
{
	unsigned char v6[16];
	const void *a = addr;
	size_t an = strlen(addr);
	enum fa_rc rc;

	/* One IPv6 host usually owns a whole /64: count the prefix. */
	if (inet_pton(AF_INET6, addr, v6) == 1) {
		memset(v6 + 8, 0, 8);
		a = v6;
		an = sizeof(v6);
	}
	rc = hashed_key(FAIL_SESSION_PREFIX, session, strlen(session), skey);
	if (rc == FA_OK)
		rc = hashed_key(FAIL_ADDR_PREFIX, a, an, akey);
	return rc;
}

/* The session's delay record ("fail:d:" hashed session): it lives 1, 2,
 * 4 ... FA_DEVICE_MAX_DELAY_S seconds from the session's latest wrong code
 * once it has had FA_DEVICE_SESSION_FREE_FAILURES. */
static enum fa_rc delay_key(const char *skey, char dkey[KEY_CAP])
{
	return hashed_key(FAIL_DELAY_PREFIX, skey, strlen(skey), dkey);
}

static int64_t delay_after(int64_t failures)
{
	int64_t d = 1;

	for (int64_t i = FA_DEVICE_SESSION_FREE_FAILURES; i < failures; i++) {
		d *= 2;
		if (d >= FA_DEVICE_MAX_DELAY_S)
			return FA_DEVICE_MAX_DELAY_S;
	}
	return d;
}

static enum fa_rc throttle_check(struct fa_authz *az, const char *skey, const char *akey,
				 int64_t now, int64_t *retry_after, struct fa_err *err)
{
	char dkey[KEY_CAP];
	int64_t dc, dr, ac, ar, wait = 0;
	enum fa_rc rc;

	if (delay_key(skey, dkey) != FA_OK)
		return fa_err_oauth(err, FA_ECRYPTO, "server_error", "hashing failed");
	rc = fa_store_counter_get(az->store, FA_KIND_DEVICE, dkey, now, &dc, &dr, err);
	if (rc == FA_OK)
		rc = fa_store_counter_get(az->store, FA_KIND_DEVICE, akey, now, &ac, &ar, err);
	if (rc != FA_OK)
		return fa_authz_store_fail(az, rc, err, "reading the device code throttle");
	if (dc > 0 && dr > wait)
		wait = dr;
	if (ac >= FA_DEVICE_ADDR_MAX_FAILURES && ar > wait)
		wait = ar;
	if (wait == 0)
		return FA_OK;
	*retry_after = wait;
	return fa_err_oauth(err, FA_EDENIED, "slow_down",
			    "too many wrong codes; try again in %lld seconds", (long long)wait);
}

/* Counts one wrong code and gives the one answer every wrong code gets. */
static enum fa_rc wrong_code(struct fa_authz *az, const char *skey, const char *akey,
			     const char *session, const char *addr, int64_t now,
			     struct fa_err *err)
{
	struct fa_err e;
	int64_t n = 0;
	char sid[9];

	fa_err_clear(&e);
	/* A wrong code that cannot be counted is refused as unavailable: the
	 * throttle fails closed. */
	int64_t ignored;
	char dkey[KEY_CAP];

	if (delay_key(skey, dkey) != FA_OK)
		return fa_err_oauth(err, FA_ECRYPTO, "server_error", "hashing failed");
	if (fa_store_incr(az->store, FA_KIND_DEVICE, skey, FA_DEVICE_THROTTLE_WINDOW_S, now, &n,
			  &e) != FA_OK ||
	    fa_store_incr(az->store, FA_KIND_DEVICE, akey, FA_DEVICE_THROTTLE_WINDOW_S, now,
			  &ignored, &e) != FA_OK ||
	    (n >= FA_DEVICE_SESSION_FREE_FAILURES &&
	     fa_store_incr(az->store, FA_KIND_DEVICE, dkey, delay_after(n), now, &ignored,
			   &e) != FA_OK)) {
		*err = e;
		return fa_authz_store_fail(az, e.rc, err, "counting a wrong device user code");
	}
	fa_log_id(session, strlen(session), sid);
	fa_log(az->log, FA_LOG_WARN, "wrong device user code entered (session %s, address %s)", sid,
	       addr);
	return fa_err_oauth(err, FA_ENOTFOUND, "invalid_request", UC_WRONG);
}

/* ---- the verification page's lookups ---------------------------------------- */

/* A pending device code found by its user code. */
struct found {
	char key[KEY_CAP];       /* the device record */
	char uc_key[KEY_CAP];    /* its user-code index */
	json_t *rec;
	int64_t version;
	int64_t store_exp;
};

static enum fa_rc find_pending(struct fa_authz *az, const char *user_code, const char *session,
			       const char *addr, struct found *f, struct fa_device_view *view,
			       int64_t *retry_after, struct fa_err *err)
{
	char norm[FA_DEVICE_USER_CODE_LEN + 1];
	char skey[KEY_CAP], akey[KEY_CAP];
	json_t *idx = NULL;
	const char *dc;
	int64_t now = fa_authz_now(az);
	enum fa_rc rc;

	memset(f, 0, sizeof(*f));
	memset(view, 0, sizeof(*view));
	*retry_after = 0;
	if (session == NULL || session[0] == '\0' || addr == NULL)
		return fa_err_oauth(err, FA_EDENIED, "access_denied", "no login session");
	if (user_code == NULL || user_code[0] == '\0')
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "enter the code shown on your device");
	if (throttle_keys(session, addr, skey, akey) != FA_OK)
		return fa_err_oauth(err, FA_ECRYPTO, "server_error", "hashing failed");
	/* Before anything is looked up: a throttled guesser learns nothing,
	 * not even from a right code. */
	rc = throttle_check(az, skey, akey, now, retry_after, err);
	if (rc != FA_OK)
		return rc;
	if (!fa_authz_user_code_normalize(user_code, norm) ||
	    hashed_key(UC_PREFIX, norm, FA_DEVICE_USER_CODE_LEN, f->uc_key) != FA_OK)
		return wrong_code(az, skey, akey, session, addr, now, err);
	rc = fa_authz_rec_get(az, FA_KIND_DEVICE, f->uc_key, &idx, NULL, NULL, err);
	if (rc == FA_OK) {
		dc = fa_authz_jstr(idx, "dc");
		if (fa_strlcpy(f->key, dc, sizeof(f->key)) != FA_OK || f->key[0] == '\0')
			rc = FA_ENOTFOUND;
	}
	if (rc == FA_OK)
		rc = fa_authz_rec_get(az, FA_KIND_DEVICE, f->key, &f->rec, &f->version,
				      &f->store_exp, err);
	json_decref(idx);
	if (rc == FA_OK && (strcmp(fa_authz_jstr(f->rec, "st"), "pending") != 0 ||
			    fa_authz_jint(f->rec, "exp") <= now))
		rc = FA_ENOTFOUND;
	if (rc == FA_OK) {
		view->client = fa_authz_client_get(az, fa_authz_jstr(f->rec, "cid"));
		if (view->client == NULL)
			rc = FA_ENOTFOUND;   /* the config changed under it */
	}
	if (rc == FA_ENOTFOUND) {
		json_decref(f->rec);
		f->rec = NULL;
		return wrong_code(az, skey, akey, session, addr, now, err);
	}
	if (rc != FA_OK) {
		json_decref(f->rec);
		f->rec = NULL;
		return fa_authz_store_fail(az, rc, err, "reading a device code");
	}
	if (fa_strlcpy(view->scope, fa_authz_jstr(f->rec, "scp"), sizeof(view->scope)) != FA_OK)
		view->scope[0] = '\0';
	fa_authz_user_code_format(norm, view->user_code);
	return FA_OK;
}

enum fa_rc fa_authz_device_lookup(struct fa_authz *az, const char *user_code,
				  const char *session, const char *addr,
				  struct fa_device_view *view, int64_t *retry_after,
				  struct fa_err *err)
{
	struct found f;
	enum fa_rc rc = find_pending(az, user_code, session, addr, &f, view, retry_after, err);

	json_decref(f.rec);
	return rc;
}

enum fa_rc fa_authz_device_decide(struct fa_authz *az, const char *user_code,
				  const char *session, const char *addr, const json_t *user,
				  bool approve, struct fa_device_view *view,
				  int64_t *retry_after, struct fa_err *err)
{
	struct fa_store_op ops[2];
	struct found f;
	char *value = NULL;
	int64_t now = fa_authz_now(az);
	enum fa_rc rc;

	rc = find_pending(az, user_code, session, addr, &f, view, retry_after, err);
	if (rc != FA_OK)
		goto out;
	/* The login time when identity tells it, else now. */
	if (approve && (rc = fa_authz_rec_login(f.rec, user, now, err)) != FA_OK)
		goto out;
	if (json_object_set_new(f.rec, "st", json_string(approve ? "approved" : "denied")) != 0 ||
	    !(value = fa_authz_json_dump(f.rec))) {
		rc = fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
		goto out;
	}
	/* Invariant 4: decided once, and the user code is gone with it. */
	ops[0] = (struct fa_store_op){ .type = FA_STORE_UPDATE, .kind = FA_KIND_DEVICE,
				       .key = f.key, .value = value, .expires_at = f.store_exp,
				       .expect_version = f.version };
	ops[1] = (struct fa_store_op){ .type = FA_STORE_DELETE, .kind = FA_KIND_DEVICE,
				       .key = f.uc_key, .if_exists = true };
	rc = fa_store_apply(az->store, ops, ARRAY_LEN(ops), now, err);
	if (rc == FA_ECONFLICT || rc == FA_ENOTFOUND) {
		rc = fa_err_oauth(err, FA_ECONFLICT, "invalid_request",
				  "this code was already approved or denied");
		goto out;
	}
	if (rc != FA_OK) {
		rc = fa_authz_store_fail(az, rc, err, "deciding a device code");
		goto out;
	}
	fa_log(az->log, FA_LOG_INFO, "device authorization for client %s %s by %s",
	       view->client->id, approve ? "approved" : "denied",
	       fa_authz_jstr(user, "sub"));
out:
	json_decref(f.rec);
	free(value);
	return rc;
}

/* ---- CSRF tokens of the verification form ---------------------------------- */

enum fa_rc fa_authz_device_csrf_new(struct fa_authz *az, const char *session,
				    char token[FA_TOKEN_CHARS + 1], struct fa_err *err)
{
	char sess_hash[2 * FA_SHA256_LEN + 1];
	char value[2 * FA_SHA256_LEN + 16];
	char key[KEY_CAP];
	struct fa_store_op op;
	int64_t now = fa_authz_now(az);
	enum fa_rc rc;

	token[0] = '\0';
	if (session == NULL || session[0] == '\0')
		return fa_err_oauth(err, FA_EDENIED, "access_denied", "no login session");
	rc = fa_rand_token(token);
	if (rc == FA_OK)
		rc = hashed_key(CSRF_PREFIX, token, FA_TOKEN_CHARS, key);
	if (rc == FA_OK)
		rc = fa_sha256_hex(session, strlen(session), sess_hash);
	if (rc != FA_OK) {
		fa_memzero(token, FA_TOKEN_CHARS + 1);
		return fa_err_oauth(err, rc, "server_error", "random generator failed");
	}
	snprintf(value, sizeof(value), "{\"s\":\"%s\"}", sess_hash);
	op = (struct fa_store_op){ .type = FA_STORE_INSERT, .kind = FA_KIND_DEVICE, .key = key,
				   .value = value, .expires_at = now + FA_DEVICE_FORM_TTL_S };
	rc = fa_store_apply(az->store, &op, 1, now, err);
	if (rc != FA_OK) {
		fa_memzero(token, FA_TOKEN_CHARS + 1);
		return fa_authz_store_fail(az, rc, err, "saving a device form token");
	}
	return FA_OK;
}

enum fa_rc fa_authz_device_csrf_check(struct fa_authz *az, const char *session,
				      const char *token, struct fa_err *err)
{
	char sess_hash[2 * FA_SHA256_LEN + 1];
	char key[KEY_CAP];
	json_t *rec = NULL;
	const char *want;
	enum fa_rc rc;

	if (session == NULL || session[0] == '\0' || token == NULL ||
	    strnlen(token, FA_TOKEN_CHARS + 1) != FA_TOKEN_CHARS)
		return fa_err_oauth(err, FA_EDENIED, "access_denied",
				    "the form is missing its CSRF token or has a malformed one");
	if (hashed_key(CSRF_PREFIX, token, FA_TOKEN_CHARS, key) != FA_OK ||
	    fa_sha256_hex(session, strlen(session), sess_hash) != FA_OK)
		return fa_err_oauth(err, FA_ECRYPTO, "server_error", "hashing failed");
	rc = fa_authz_rec_get(az, FA_KIND_DEVICE, key, &rec, NULL, NULL, err);
	if (rc == FA_ENOTFOUND)
		return fa_err_oauth(err, FA_EDENIED, "access_denied",
				    "the form's CSRF token is unknown or expired");
	if (rc != FA_OK)
		return fa_authz_store_fail(az, rc, err, "reading a device form token");
	want = fa_authz_jstr(rec, "s");
	if (!fa_ct_eq(sess_hash, strlen(sess_hash), want, strlen(want)))
		rc = fa_err_oauth(err, FA_EDENIED, "access_denied",
				  "the form's CSRF token belongs to another session");
	json_decref(rec);
	return rc;
}

/* ---- the token endpoint's device_code grant (RFC 8628 §3.4-3.5) ----------- */

static enum fa_rc dc_refused(struct fa_err *err, const char *error, const char *msg)
{
	return fa_err_oauth(err, FA_EDENIED, error, "%s", msg);
}

/* APPROVED -> REDEEMED together with the family of the first tokens
 * (invariant 5): a poll that read the code APPROVED and lost that write to
 * another poll gets DC_USED, and nothing changes. */
static enum fa_rc redeem(struct fa_authz *az, const struct fa_authz_client *c, const char *key,
			 json_t *rec, int64_t version, int64_t store_exp,
			 struct fa_authz_grant *out, struct fa_err *err)
{
	const struct fa_authz_redeem r = {
		.kind = FA_KIND_DEVICE, .key = key, .version = version, .expires_at = store_exp,
		.damaged = "a stored device code is damaged", .used = DC_USED,
	};

	return fa_authz_family_redeem(az, c, rec, &r, out, err);
}

/* A poll by its own client that read the code REDEEMED (invariant 5): one
 * of the two holders of the device code is not its owner, so what the
 * redemption issued is revoked. */
static enum fa_rc dc_replayed(struct fa_authz *az, const json_t *rec, struct fa_err *err)
{
	const char *fam = fa_authz_jstr(rec, "fam");
	enum fa_rc rc;

	if (fam[0] != '\0') {
		rc = fa_authz_family_revoke(az, fam, "device code replay", err);
		/* A server_error already; never FA_ECONFLICT, which the poll loop would
		 * take for a lost race and retry. */
		if (rc == FA_ECONFLICT || rc == FA_ENOTFOUND)
			rc = FA_ESTORE;
		if (rc != FA_OK)
			return rc;
	}
	return dc_refused(err, "invalid_grant", "device code was already used; the tokens it "
			  "issued are revoked");
}

/* A poll of a PENDING code: records it and says whether it came too soon.
 * FA_ECONFLICT when another poll updated the record first (re-read). */
static enum fa_rc poll_pending(struct fa_authz *az, const char *key, json_t *rec,
			       int64_t version, int64_t store_exp, struct fa_err *err)
{
	int64_t now_ms = fa_authz_now_ms(az);
	int64_t last_ms = fa_authz_jint(rec, "last_ms");
	int64_t iv = fa_authz_jint(rec, "iv");
	bool too_fast;
	struct fa_store_op op;
	char *value;
	enum fa_rc rc;

	if (iv < 1)
		iv = az->device_interval_s;
	too_fast = last_ms > 0 && now_ms - last_ms + FA_DEVICE_POLL_SLACK_MS < iv * 1000;
	if (too_fast)
		iv = min64(iv + FA_DEVICE_SLOW_DOWN_S, FA_DEVICE_MAX_INTERVAL_S);
	if (json_object_set_new(rec, "iv", json_integer(iv)) != 0 ||
	    json_object_set_new(rec, "last_ms", json_integer(now_ms)) != 0 ||
	    !(value = fa_authz_json_dump(rec)))
		return fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
	op = (struct fa_store_op){ .type = FA_STORE_UPDATE, .kind = FA_KIND_DEVICE, .key = key,
				   .value = value, .expires_at = store_exp,
				   .expect_version = version };
	rc = fa_store_apply(az->store, &op, 1, now_ms / 1000, err);
	free(value);
	if (rc == FA_ECONFLICT || rc == FA_ENOTFOUND)
		return rc;
	if (rc != FA_OK)
		return fa_authz_store_fail(az, rc, err, "recording a device code poll");
	if (too_fast)
		return fa_err_oauth(err, FA_EDENIED, "slow_down",
				    "polling too fast: wait at least %lld seconds between requests",
				    (long long)iv);
	return dc_refused(err, "authorization_pending",
			  "the user has not yet approved this device");
}

enum fa_rc fa_authz_grant_device(struct fa_authz *az, const struct fa_authz_client *c,
				 const char *device_code, struct fa_authz_grant *out,
				 struct fa_err *err)
{
	char key[KEY_CAP];
	enum fa_rc rc = FA_ECONFLICT;

	memset(out, 0, sizeof(*out));
	if (!(c->grants & FA_GRANT_DEVICE))
		return fa_err_oauth(err, FA_EDENIED, "unauthorized_client",
				    "this client may not use the device_code grant");
	if (device_code == NULL)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request", "device_code is missing");
	if (strnlen(device_code, FA_TOKEN_CHARS + 1) != FA_TOKEN_CHARS)
		return dc_refused(err, "invalid_grant", DC_INVALID);
	if (hashed_key("", device_code, FA_TOKEN_CHARS, key) != FA_OK)
		return fa_err_oauth(err, FA_ECRYPTO, "server_error", "hashing failed");
	/* FA_ECONFLICT / FA_ENOTFOUND from a write: another poll changed the
	 * record (or it expired) since it was read; read it again. */
	for (int i = 0; i < POLL_TRIES && (rc == FA_ECONFLICT || rc == FA_ENOTFOUND); i++) {
		json_t *rec = NULL;
		int64_t ver = 0, store_exp = 0, now = fa_authz_now(az);
		const char *st;

		rc = fa_authz_rec_get(az, FA_KIND_DEVICE, key, &rec, &ver, &store_exp, err);
		if (rc == FA_ENOTFOUND)
			return dc_refused(err, "invalid_grant", DC_INVALID);
		if (rc != FA_OK)
			return fa_authz_store_fail(az, rc, err, "reading a device code");
		st = fa_authz_jstr(rec, "st");
		/* Invariant 3: the same answer as an unknown code, and no write. */
		if (strcmp(fa_authz_jstr(rec, "cid"), c->id) != 0)
			rc = dc_refused(err, "invalid_grant", DC_INVALID);
		else if (strcmp(st, "redeemed") == 0)
			rc = dc_replayed(az, rec, err);
		else if (strcmp(st, "denied") == 0)
			rc = dc_refused(err, "access_denied", "the user denied this device");
		else if (fa_authz_jint(rec, "exp") <= now)
			rc = dc_refused(err, "expired_token", "the device code has expired; start "
					"the device authorization again");
		else if (strcmp(st, "approved") == 0)
			rc = redeem(az, c, key, rec, ver, store_exp, out, err);
		else if (strcmp(st, "pending") == 0)
			rc = poll_pending(az, key, rec, ver, store_exp, err);
		else
			rc = fa_err_oauth(err, FA_ESTORE, "server_error",
					  "a stored device code is damaged");
		json_decref(rec);
	}
	if (rc == FA_ECONFLICT || rc == FA_ENOTFOUND)
		/* Contended past POLL_TRIES: the client polls far too fast. */
		rc = fa_err_oauth(err, FA_EDENIED, "slow_down", "polling too fast");
	return rc;
}
