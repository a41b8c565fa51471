/* authorize.c -- the authorization request (RFC 6749 §4.1.1) as logic:
 * validating it against the client, issuing the authorization code for a
 * logged-in user, and parking the request in the store while the user logs
 * in. The endpoint (ep_authorize.c) turns the results into pages and
 * redirects; nothing here speaks HTTP.
 *
 * Invariants of an authorization code
 *  (1) A code is 256 random bits; only its SHA-256 is stored, so a copy of
 *      the store yields no usable code.
 *  (2) A code is bound at issue to its client, its redirect_uri (and
 *      whether the request named one), its PKCE challenge, scope, audience
 *      and user; the token endpoint checks each binding again.
 *  (3) A code moves ISSUED -> REDEEMED exactly once: the move is a
 *      version-checked UPDATE committed together with the family it
 *      creates, so of concurrent redemptions exactly one wins.
 *  (4) A REDEEMED code stays in the store (as long as the tokens it first
 *      issued can live), so that a replay is recognised and revokes them.
 *  (5) A pending request (kind "authreq") is consumed by the same
 *      transaction that issues its code, and only from the browser holding
 *      the binding cookie whose hash it records.
 *
 * Code states and the calls that move them:
 *    ABSENT   -> ISSUED          [fa_authz_code_issue]
 *    ISSUED   -> REDEEMED        [fa_authz_grant_code]
 *    REDEEMED -> REVOKED-FAMILY  [fa_authz_grant_code on replay]
 *    ISSUED   -> EXPIRED         [time: authorizationCodeLifespan]
 * Pending request states:
 *    ABSENT   -> PENDING         [fa_authz_authreq_save]
 *    PENDING  -> ABSENT          [fa_authz_code_issue with its DELETE]
 *    PENDING  -> EXPIRED         [time: FA_AUTHZ_AUTHREQ_TTL_S]
 */
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

static enum fa_rc page_err(struct fa_err *err, const char *msg)
{
	return fa_err_oauth(err, FA_EINVAL, "invalid_request", "%s", msg);
}

static enum fa_rc copy_str(char *dst, size_t cap, const char *src)
{
	return fa_strlcpy(dst, src ? src : "", cap);
}

static enum fa_rc check_redirect(const struct fa_authz_client *c, const struct fa_authz_params *p,
				 struct fa_authz_areq *areq, struct fa_err *err)
{
	if (p->redirect_uri != NULL) {
		if (!fa_redirect_match(p->redirect_uri, c->redirect_uris, c->n_redirect_uris))
			return page_err(err, "redirect_uri is not registered for this client");
		areq->redirect_given = true;
		return copy_str(areq->redirect_uri, sizeof(areq->redirect_uri), p->redirect_uri);
	}
	/* RFC 6749 §3.1.2.3: without redirect_uri, only a client with exactly
	 * one registered URI can be answered. */
	if (c->n_redirect_uris != 1)
		return page_err(err, "redirect_uri is required for this client");
	return copy_str(areq->redirect_uri, sizeof(areq->redirect_uri), c->redirect_uris[0]);
}

static enum fa_rc check_pkce(const struct fa_authz_client *c, const struct fa_authz_params *p,
			     struct fa_authz_areq *areq, struct fa_err *err)
{
	enum fa_rc rc;

	if (p->code_challenge == NULL && p->code_challenge_method == NULL) {
		/* Public clients cannot keep a secret, so PKCE is the only thing
		 * that binds the code to the app that asked for it. */
		if (c->is_public)
			return fa_err_oauth(err, FA_EDENIED, "invalid_request",
					    "PKCE (an S256 code_challenge) is required for public "
					    "clients");
		return FA_OK;
	}
	rc = fa_pkce_challenge_check(p->code_challenge, p->code_challenge_method, err);
	if (rc != FA_OK)
		return rc;
	return copy_str(areq->challenge, sizeof(areq->challenge), p->code_challenge);
}

/* OpenID Connect Core §3.1.2.1's prompt: space-separated none, login,
 * consent, select_account; none stands alone. consent and select_account
 * ask for nothing we would not do anyway (no consent screen for the
 * operator's own clients; one account per browser). */
static enum fa_rc check_prompt(const char *prompt, struct fa_authz_areq *areq,
			       struct fa_err *err)
{
	struct fa_scope v;
	struct fa_err e;

	if (prompt == NULL)
		return FA_OK;
	/* The same token grammar as scope. */
	if (fa_scope_parse(prompt, &v, &e) != FA_OK)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request", "prompt is malformed");
	for (size_t i = 0; i < v.n; i++) {
		const char *t = fa_scope_get(&v, i);

		if (strcmp(t, "none") == 0)
			areq->prompt_none = true;
		else if (strcmp(t, "login") == 0)
			areq->prompt_login = true;
		else if (strcmp(t, "consent") != 0 && strcmp(t, "select_account") != 0)
			return fa_err_oauth(err, FA_EINVAL, "invalid_request",
					    "prompt has an unknown value");
	}
	if (areq->prompt_none && v.n > 1)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "prompt=none cannot be combined with other values");
	return FA_OK;
}

static enum fa_rc check_max_age(const char *s, struct fa_authz_areq *areq, struct fa_err *err)
{
	int64_t v = 0;

	areq->max_age = -1;
	if (s == NULL)
		return FA_OK;
	if (s[0] == '\0' || strspn(s, "0123456789") != strlen(s) || strlen(s) > 12)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "max_age must be a number of seconds");
	for (const char *c = s; *c; c++)
		v = v * 10 + (*c - '0');
	/* Beyond ten years it limits nothing. */
	areq->max_age = v > FA_AUTHZ_MAX_MAX_AGE ? -1 : v;
	return FA_OK;
}

/* The OpenID Connect parameters that change nothing here are still
 * bounded: display, ui_locales, claims_locales, acr_values (no acr is
 * ever asserted), claims (the claims parameter is not supported: the
 * scopes decide). */
static enum fa_rc check_ignored(const struct fa_authz_params *p, struct fa_err *err)
{
	const char *const v[] = { p->display, p->ui_locales, p->claims_locales, p->acr_values,
				  p->claims };

	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		if (v[i] && strnlen(v[i], FA_MAX_SCOPE + 1) > FA_MAX_SCOPE)
			return fa_err_oauth(err, FA_ETOOBIG, "invalid_request",
					    "a request parameter is too long");
	}
	return FA_OK;
}

/* OpenID Connect Core §3.1.2.1 beyond OAuth: prompt, max_age, login_hint,
 * id_token_hint. */
static enum fa_rc check_oidc(struct fa_authz *az, const struct fa_authz_params *p,
			     struct fa_authz_areq *areq, struct fa_err *err)
{
	enum fa_rc rc;

	rc = check_prompt(p->prompt, areq, err);
	if (rc == FA_OK)
		rc = check_max_age(p->max_age, areq, err);
	if (rc == FA_OK)
		rc = check_ignored(p, err);
	if (rc != FA_OK)
		return rc;
	if (p->login_hint &&
	    copy_str(areq->login_hint, sizeof(areq->login_hint), p->login_hint) != FA_OK)
		return fa_err_oauth(err, FA_ETOOBIG, "invalid_request", "login_hint is too long");
	if (p->id_token_hint) {
		json_t *claims = NULL;

		rc = fa_authz_idt_hint(az, p->id_token_hint, &claims, err);
		if (rc == FA_OK && copy_str(areq->hint_sub, sizeof(areq->hint_sub),
					    fa_authz_jstr(claims, "sub")) != FA_OK)
			rc = fa_err_oauth(err, FA_EINVAL, "invalid_request",
					  "id_token_hint names an unusable subject");
		json_decref(claims);
	}
	return rc;
}

bool fa_authz_login_needed(const struct fa_authz_areq *areq, const json_t *user, int64_t now)
{
	int64_t at = (int64_t)json_integer_value(json_object_get(user, "auth_time"));

	if (areq->prompt_login)
		return true;
	/* Core §3.1.2.1: a login older than max_age must be done again. */
	if (areq->max_age >= 0 && (at <= 0 || now - at > areq->max_age))
		return true;
	return areq->hint_sub[0] != '\0' && strcmp(areq->hint_sub, fa_authz_jstr(user, "sub")) != 0;
}

enum fa_rc fa_authz_authorize_check(struct fa_authz *az, const struct fa_authz_params *p,
				    struct fa_authz_areq *areq, struct fa_err *err)
{
	const struct fa_authz_client *c;
	json_t *aud = NULL;
	size_t len;
	enum fa_rc rc;

	memset(areq, 0, sizeof(*areq));
	fa_scope_init(&areq->scope);
	if (p->client_id == NULL)
		return page_err(err, "client_id is missing");
	c = fa_authz_client_get(az, p->client_id);
	if (c == NULL)
		return page_err(err, "unknown client_id");
	areq->client = c;
	rc = check_redirect(c, p, areq, err);
	if (rc != FA_OK)
		return rc == FA_ETOOBIG ? page_err(err, "redirect_uri is too long") : rc;
	/* From here on the redirect_uri is trusted: errors go back to it, in
	 * the response mode asked for (Core §3.1.2.6) when it is one we have. */
	areq->redirect_ok = true;
	areq->max_age = -1;
	if (p->state != NULL && strnlen(p->state, FA_AUTHZ_MAX_STATE + 1) <= FA_AUTHZ_MAX_STATE)
		(void)copy_str(areq->state, sizeof(areq->state), p->state);
	if (p->response_mode && strcmp(p->response_mode, "form_post") == 0)
		areq->form_post = true;
	else if (p->response_mode && strcmp(p->response_mode, "query") != 0)
		return fa_err_oauth(err, FA_EUNSUPPORTED, "invalid_request",
				    "response_mode must be query or form_post");
	/* Request objects (Core §6) are not supported; a client that sends
	 * one may have left the other parameters out, so this comes first. */
	if (p->request)
		return fa_err_oauth(err, FA_EUNSUPPORTED, "request_not_supported",
				    "request objects are not supported");
	if (p->request_uri)
		return fa_err_oauth(err, FA_EUNSUPPORTED, "request_uri_not_supported",
				    "request_uri is not supported");

	if (p->response_type == NULL)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request", "response_type is missing");
	if (strcmp(p->response_type, "code") != 0)
		return fa_err_oauth(err, FA_EUNSUPPORTED, "unsupported_response_type",
				    "only response_type=code is supported");
	if (!c->response_code || !(c->grants & FA_GRANT_CODE))
		return fa_err_oauth(err, FA_EDENIED, "unauthorized_client",
				    "this client may not use the authorization code grant");
	if (p->state == NULL)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request", "state is required");
	len = strnlen(p->state, FA_AUTHZ_MAX_STATE + 1);
	if (len < FA_AUTHZ_MIN_STATE)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "state must be at least 8 characters");
	if (len > FA_AUTHZ_MAX_STATE)
		return fa_err_oauth(err, FA_ETOOBIG, "invalid_request", "state is too long");

	/* SPEC §5: what the client may not have is dropped; the token
	 * response's scope tells the client what it got. */
	rc = fa_scope_request(p->scope, &c->scopes, &c->allowed, &areq->scope, err);
	if (rc != FA_OK)
		return rc;

	rc = check_pkce(c, p, areq, err);
	if (rc == FA_OK)
		rc = check_oidc(az, p, areq, err);
	if (rc != FA_OK)
		return rc;
	if (p->nonce != NULL) {
		if (copy_str(areq->nonce, sizeof(areq->nonce), p->nonce) != FA_OK)
			return fa_err_oauth(err, FA_ETOOBIG, "invalid_request", "nonce is too long");
	}
	if (p->audience != NULL) {
		rc = fa_authz_audience(az, c, p->audience, &aud, err);
		json_decref(aud);
		if (rc != FA_OK)
			return rc;
		(void)copy_str(areq->audience, sizeof(areq->audience), p->audience);
	}
	return FA_OK;
}

json_t *fa_authz_areq_json(const struct fa_authz_areq *areq)
{
	char scope[FA_MAX_SCOPE + 1];

	fa_scope_format(&areq->scope, scope, sizeof(scope));
	return json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:s}",
			 "cid", areq->client->id, "ruri", areq->redirect_uri,
			 "ruri_given", areq->redirect_given, "state", areq->state, "scp", scope,
			 "cc", areq->challenge, "nonce", areq->nonce, "aud", areq->audience,
			 "fp", areq->form_post, "pl", areq->prompt_login,
			 "ma", (json_int_t)areq->max_age, "lh", areq->login_hint);
}

enum fa_rc fa_authz_areq_from_json(struct fa_authz *az, const json_t *j, struct fa_authz_areq *areq,
				   struct fa_err *err)
{
	memset(areq, 0, sizeof(*areq));
	fa_scope_init(&areq->scope);
	areq->client = fa_authz_client_get(az, fa_authz_jstr(j, "cid"));
	if (areq->client == NULL)
		/* The config changed under a pending request or code. */
		return fa_err_oauth(err, FA_ENOTFOUND, "invalid_grant",
				    "the client of this request no longer exists");
	areq->redirect_ok = true;
	areq->redirect_given = json_is_true(json_object_get(j, "ruri_given"));
	areq->form_post = json_is_true(json_object_get(j, "fp"));
	areq->prompt_login = json_is_true(json_object_get(j, "pl"));
	areq->max_age = json_is_integer(json_object_get(j, "ma")) ? fa_authz_jint(j, "ma") : -1;
	if (copy_str(areq->redirect_uri, sizeof(areq->redirect_uri), fa_authz_jstr(j, "ruri")) ||
	    copy_str(areq->state, sizeof(areq->state), fa_authz_jstr(j, "state")) ||
	    copy_str(areq->challenge, sizeof(areq->challenge), fa_authz_jstr(j, "cc")) ||
	    copy_str(areq->nonce, sizeof(areq->nonce), fa_authz_jstr(j, "nonce")) ||
	    copy_str(areq->audience, sizeof(areq->audience), fa_authz_jstr(j, "aud")) ||
	    copy_str(areq->login_hint, sizeof(areq->login_hint), fa_authz_jstr(j, "lh")) ||
	    fa_scope_parse(fa_authz_jstr(j, "scp"), &areq->scope, err))
		return fa_err_oauth(err, FA_ESTORE, "server_error", "a stored request is damaged");
	return FA_OK;
}

enum fa_rc fa_authz_code_issue(struct fa_authz *az, const struct fa_authz_areq *areq,
			       const json_t *user, const struct fa_store_op *also,
			       char code[FA_TOKEN_CHARS + 1], struct fa_err *err)
{
	struct fa_store_op ops[2];
	size_t n = 0;
	char key[2 * FA_SHA256_LEN + 1];
	json_t *rec = NULL;
	const char *sid;
	char *value = NULL;
	int64_t now = fa_authz_now(az);
	enum fa_rc rc;

	code[0] = '\0';
	/* The login session's public name, for the ID token's sid. */
	sid = json_string_value(json_object_get(user, "sid"));
	if (!sid || strnlen(sid, FA_AUTHZ_MAX_SID + 1) > FA_AUTHZ_MAX_SID)
		sid = "";
	rec = fa_authz_areq_json(areq);
	if (!rec || json_object_set_new(rec, "st", json_string("issued")) != 0 ||
	    json_object_set_new(rec, "sid", json_string(sid)) != 0) {
		rc = fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
		goto out;
	}
	/* The login time when identity tells it, else now (the user has just
	 * been seen by their session). */
	rc = fa_authz_rec_login(rec, user, now, err);
	if (rc != FA_OK)
		goto out;
	if (!(value = fa_authz_json_dump(rec))) {
		rc = fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
		goto out;
	}
	rc = fa_rand_token(code);
	if (rc == FA_OK)
		rc = fa_authz_token_key(code, key);
	if (rc != FA_OK) {
		rc = fa_err_oauth(err, rc, "server_error", "random generator failed");
		goto out;
	}
	if (also)
		ops[n++] = *also;
	ops[n++] = (struct fa_store_op){ .type = FA_STORE_INSERT, .kind = FA_KIND_CODE, .key = key,
					 .value = value, .expires_at = now + az->code_ttl_s };
	rc = fa_store_apply(az->store, ops, n, now, err);
	if (rc == FA_ENOTFOUND || rc == FA_ECONFLICT)
		/* The pending request was consumed by a concurrent callback. */
		rc = fa_err_oauth(err, rc, "invalid_request",
				  "this sign-in request was already used");
	else if (rc != FA_OK)
		rc = fa_authz_store_fail(az, rc, err, "issuing an authorization code");
out:
	if (rc != FA_OK)
		fa_memzero(code, FA_TOKEN_CHARS + 1);
	free(value);
	json_decref(rec);
	return rc;
}

enum fa_rc fa_authz_authreq_save(struct fa_authz *az, const struct fa_authz_areq *areq,
				 const char *bind, char id[FA_TOKEN_CHARS + 1], struct fa_err *err)
{
	char key[2 * FA_SHA256_LEN + 1];
	char bind_hash[2 * FA_SHA256_LEN + 1];
	struct fa_store_op op;
	json_t *rec = NULL;
	char *value = NULL;
	int64_t now = fa_authz_now(az);
	enum fa_rc rc;

	id[0] = '\0';
	rc = fa_rand_token(id);
	if (rc == FA_OK)
		rc = fa_authz_token_key(id, key);
	if (rc == FA_OK)
		rc = fa_authz_token_key(bind, bind_hash);
	if (rc != FA_OK) {
		rc = fa_err_oauth(err, rc, "server_error", "random generator failed");
		goto out;
	}
	rec = fa_authz_areq_json(areq);
	if (!rec || json_object_set_new(rec, "bind", json_string(bind_hash)) != 0 ||
	    !(value = fa_authz_json_dump(rec))) {
		rc = fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
		goto out;
	}
	op = (struct fa_store_op){ .type = FA_STORE_INSERT, .kind = FA_KIND_AUTHREQ, .key = key,
				   .value = value, .expires_at = now + FA_AUTHZ_AUTHREQ_TTL_S };
	rc = fa_store_apply(az->store, &op, 1, now, err);
	if (rc != FA_OK)
		rc = fa_authz_store_fail(az, rc, err, "saving an authorization request");
out:
	if (rc != FA_OK)
		id[0] = '\0';
	free(value);
	json_decref(rec);
	return rc;
}

enum fa_rc fa_authz_authreq_load(struct fa_authz *az, const char *id, const char *bind,
				 struct fa_authz_areq *areq, int64_t *version, struct fa_err *err)
{
	char key[2 * FA_SHA256_LEN + 1];
	char bind_hash[2 * FA_SHA256_LEN + 1];
	const char *want;
	json_t *rec = NULL;
	enum fa_rc rc;

	memset(areq, 0, sizeof(*areq));
	if (id == NULL || strnlen(id, FA_TOKEN_CHARS + 1) != FA_TOKEN_CHARS)
		return fa_err_oauth(err, FA_ENOTFOUND, "invalid_request",
				    "unknown or expired sign-in request");
	rc = fa_authz_token_key(id, key);
	if (rc != FA_OK)
		return fa_err_oauth(err, rc, "server_error", "hashing failed");
	rc = fa_authz_rec_get(az, FA_KIND_AUTHREQ, key, &rec, version, NULL, err);
	if (rc == FA_ENOTFOUND) {
		rc = fa_err_oauth(err, rc, "invalid_request",
				  "unknown or expired sign-in request");
		goto out;
	}
	if (rc != FA_OK) {
		rc = fa_authz_store_fail(az, rc, err, "reading an authorization request");
		goto out;
	}
	/* The link alone is not enough: it must come back to the browser that
	 * started the flow (login CSRF / session fixation through a crafted
	 * callback link). */
	want = fa_authz_jstr(rec, "bind");
	if (bind == NULL || fa_authz_token_key(bind, bind_hash) != FA_OK ||
	    !fa_ct_eq(bind_hash, strlen(bind_hash), want, strlen(want))) {
		rc = fa_err_oauth(err, FA_EDENIED, "invalid_request",
				  "this sign-in request was started in another browser");
		goto out;
	}
	rc = fa_authz_areq_from_json(az, rec, areq, err);
out:
	json_decref(rec);
	return rc;
}
