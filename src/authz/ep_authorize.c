/* ep_authorize.c -- GET /oauth2/authorize and GET /oauth2/authorize_callback:
 * the browser half of the authorization code grant (RFC 6749 §4.1).
 *
 * A request that fails before its client and redirect_uri are known gets an
 * HTML error page (400), never a redirect: redirecting to an unverified URI
 * is an open redirect. Every later failure goes back to the redirect_uri
 * with error, error_description, state and iss (RFC 9207). A logged-in
 * browser gets its code at once. Otherwise the validated request waits in
 * the store and the browser goes to identity's login page, returning to
 * /oauth2/authorize_callback?request=<id>; a short-lived cookie binds the
 * pending request to this browser, so the callback link is useless in any
 * other one. There is no consent screen: static clients are the operator's
 * own first-party apps (as in flyteadmin).
 */
#include <string.h>

#include "authz/authz_ep_int.h"

/* The binding cookie: path-scoped to the two endpoints that use it. */
#define BIND_COOKIE "flyteauth_authreq"
#define BIND_PATH "/oauth2"
/* A redirect Location we build: redirect_uri, code, escaped state and
 * description, iss. */
#define MAX_LOCATION FA_MAX_HEADER

void fa_authz_error_page(struct fa_resp *resp, int status, const char *msg)
{
	struct fa_buf b;

	fa_buf_init(&b, FA_MAX_RESPONSE);
	if (fa_http_page_begin(&b, "Sign-in error", "Sign-in error", NULL) != FA_OK ||
	    fa_buf_appends(&b, "<p>") != FA_OK || fa_buf_append_html(&b, msg) != FA_OK ||
	    fa_buf_appends(&b, "</p>\n") != FA_OK || fa_http_page_end(&b) != FA_OK ||
	    fa_resp_page(resp, status, &b, NULL) != FA_OK)
		fa_resp_oauth_error(resp, status, "invalid_request", msg);
	fa_buf_cleanup(&b);
}

enum fa_rc fa_authz_url_param(struct fa_buf *b, bool *first, const char *name,
			      const char *value)
{
	enum fa_rc rc;

	if (value == NULL || value[0] == '\0')
		return FA_OK;
	rc = fa_buf_appendc(b, *first ? (strchr(b->data, '?') ? '&' : '?') : '&');
	*first = false;
	if (rc == FA_OK)
		rc = fa_buf_appends(b, name);
	if (rc == FA_OK)
		rc = fa_buf_appendc(b, '=');
	if (rc == FA_OK)
		rc = fa_buf_append_pct(b, value, NULL);
	return rc;
}

enum fa_rc fa_authz_page_csp(struct fa_resp *resp, const char *target, const char *nonce,
			     struct fa_err *err)
{
	char csp[FA_MAX_HEADER];
	struct fa_url u;
	int origin = 0, n;

	/* A validated redirect URI parses; its origin ends where its path
	 * starts (it has no userinfo). */
	if (target && fa_url_parse(target, strlen(target), &u, NULL) == FA_OK)
		origin = (int)(u.path - target);
	n = snprintf(csp, sizeof(csp),
			      "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
			      "%s%s%sform-action 'self'%s%.*s; frame-ancestors 'none'; "
			      "base-uri 'none'", nonce ? "script-src 'nonce-" : "",
			      nonce ? nonce : "", nonce ? "'; " : "", origin ? " " : "", origin,
			      target ? target : "");
	if (n < 0 || (size_t)n >= sizeof(csp))
		return fa_err_set(err, FA_ETOOBIG, "the page's policy is too long");
	return fa_resp_header(resp, "Content-Security-Policy", csp, err);
}

static enum fa_rc post_field(struct fa_buf *b, const char *name, const char *value)
{
	return value && value[0] ? fa_authz_page_hidden(b, name, value) : FA_OK;
}

/* response_mode=form_post (OAuth 2.0 Form Post Response Mode): the answer
 * as a form that posts itself to the redirect_uri, with a button for a
 * browser without script. */
static void form_post(struct fa_authz *az, struct fa_resp *resp, const struct fa_authz_areq *areq,
		      const char *code, const char *error, const char *description)
{
	char nonce[FA_TOKEN_CHARS + 1];
	struct fa_buf b;
	enum fa_rc rc;

	fa_buf_init(&b, FA_MAX_RESPONSE);
	rc = fa_rand_token(nonce);
	if (rc == FA_OK)
		rc = fa_http_page_begin(&b, "Signing in", "Signing in", NULL);
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, "<form method=\"post\" action=\"");
	if (rc == FA_OK)
		rc = fa_buf_append_html(&b, areq->redirect_uri);
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, "\">\n");
	if (rc == FA_OK)
		rc = post_field(&b, "code", code);
	if (rc == FA_OK)
		rc = post_field(&b, "error", error);
	if (rc == FA_OK)
		rc = post_field(&b, "error_description", description);
	if (rc == FA_OK)
		rc = post_field(&b, "state", areq->state);
	if (rc == FA_OK)
		rc = post_field(&b, "iss", az->issuer);
	if (rc == FA_OK)
		rc = fa_buf_appendf(&b, "<button type=\"submit\">Continue</button>\n</form>\n"
				    "<script nonce=\"%s\">document.forms[0].submit();</script>\n",
				    nonce);
	if (rc == FA_OK)
		rc = fa_http_page_end(&b);
	if (rc == FA_OK)
		rc = fa_authz_page_csp(resp, areq->redirect_uri, nonce, NULL);
	if (rc != FA_OK || fa_resp_page(resp, 200, &b, NULL) != FA_OK)
		fa_authz_error_page(resp, 500, "The sign-in answer could not be built.");
	fa_buf_cleanup(&b);
}

/* 302 to the client's (validated) redirect_uri with either a code or an
 * error, plus state and iss (or the same as a form_post page). */
static void redirect_back(struct fa_authz *az, struct fa_resp *resp,
			  const struct fa_authz_areq *areq, const char *code, const char *error,
			  const char *description)
{
	struct fa_buf b;
	bool first = true;
	enum fa_rc rc;

	if (areq->form_post) {
		form_post(az, resp, areq, code, error, description);
		return;
	}
	fa_buf_init(&b, MAX_LOCATION);
	rc = fa_buf_appends(&b, areq->redirect_uri);
	if (rc == FA_OK)
		rc = fa_authz_url_param(&b, &first, "code", code);
	if (rc == FA_OK)
		rc = fa_authz_url_param(&b, &first, "error", error);
	if (rc == FA_OK)
		rc = fa_authz_url_param(&b, &first, "error_description", description);
	if (rc == FA_OK)
		rc = fa_authz_url_param(&b, &first, "state", areq->state);
	if (rc == FA_OK)
		rc = fa_authz_url_param(&b, &first, "iss", az->issuer);
	if (rc != FA_OK || fa_resp_redirect(resp, 302, b.data, NULL) != FA_OK)
		fa_authz_error_page(resp, 500, "The sign-in answer could not be built.");
	fa_buf_cleanup(&b);
}

static void fail(struct fa_authz *az, struct fa_resp *resp, const struct fa_authz_areq *areq,
		 const struct fa_err *err)
{
	if (!areq->redirect_ok) {
		fa_authz_error_page(resp, 400, err->msg[0] ? err->msg : "Invalid authorization request.");
		return;
	}
	if (fa_store_unavailable(err)) {
		/* RFC 6749 §4.1.2.1: the store is down (and logged that); the
		 * client may send the user again. */
		redirect_back(az, resp, areq, NULL, "temporarily_unavailable",
			      "the server is temporarily unavailable; try again later");
		return;
	}
	if (fa_authz_status(err) >= 500) {
		fa_log(az->log, FA_LOG_ERROR, "authorize: %s", err->msg);
		redirect_back(az, resp, areq, NULL, "server_error", "internal error");
		return;
	}
	redirect_back(az, resp, areq, NULL, err->oauth_error ? err->oauth_error : "invalid_request",
		      err->msg);
}

/* The browser's binding value: reuse a well-formed one (several tabs may
 * run flows at once), else make a new one; either way the cookie is set
 * again so it lives as long as this newest pending request. */
static enum fa_rc bind_value(struct fa_authz *az, struct fa_req *req, struct fa_resp *resp,
			     char out[FA_TOKEN_CHARS + 1], struct fa_err *err)
{
	const char *have = fa_req_cookie(req, BIND_COOKIE);
	struct fa_cookie ck;

	if (have && strlen(have) == FA_TOKEN_CHARS && strspn(have,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == FA_TOKEN_CHARS) {
		if (fa_strlcpy(out, have, FA_TOKEN_CHARS + 1) != FA_OK)
			return fa_err_set(err, FA_EINVAL, "bad binding cookie");
	} else if (fa_rand_token(out) != FA_OK) {
		return fa_err_set(err, FA_ECRYPTO, "random generator failed");
	}
	ck = (struct fa_cookie){
		.name = BIND_COOKIE,
		.value = out,
		.path = BIND_PATH,
		.max_age = FA_AUTHZ_AUTHREQ_TTL_S,
		.http_only = true,
		.secure = az->ep->secure_cookies,
		/* Lax: sent on the top-level navigation back from /login. */
		.same_site = FA_SAME_SITE_LAX,
	};
	return fa_resp_cookie(resp, &ck, err);
}

/* Sends the browser to log in, parking the request. */
static void to_login(struct fa_authz *az, struct fa_req *req, struct fa_resp *resp,
		     const struct fa_authz_areq *areq, const char *existing_id)
{
	char bind[FA_TOKEN_CHARS + 1];
	char id[FA_TOKEN_CHARS + 1];
	const char *ret, *login = NULL;
	int64_t retry = 0;
	char ra[24];
	struct fa_err err;

	fa_err_clear(&err);
	if (existing_id) {
		if (fa_strlcpy(id, existing_id, sizeof(id)) != FA_OK) {
			fa_authz_error_page(resp, 400, "Invalid sign-in request.");
			return;
		}
	} else if (fa_authz_admit(az, FA_ADMIT_AUTHORIZE, fa_req_client_addr(req), areq->client->id,
				  &retry, &err) != FA_OK) {
		/* Over a rate or the pending cap: nothing is written, and the
		 * client hears it at its (validated) redirect_uri. */
		if (fa_store_unavailable(&err)) {
			fail(az, resp, areq, &err);
			return;
		}
		redirect_back(az, resp, areq, NULL, "temporarily_unavailable", err.msg);
		snprintf(ra, sizeof(ra), "%lld", (long long)retry);
		if (retry > 0 && fa_resp_header(resp, "Retry-After", ra, NULL) != FA_OK)
			fa_log(az->log, FA_LOG_ERROR, "cannot set Retry-After");
		return;
	} else if (bind_value(az, req, resp, bind, &err) != FA_OK ||
		   fa_authz_authreq_save(az, areq, bind, id, &err) != FA_OK) {
		fa_memzero(bind, sizeof(bind));
		fail(az, resp, areq, &err);
		return;
	}
	fa_memzero(bind, sizeof(bind));
	ret = fa_arena_printf(fa_req_arena(req), "/oauth2/authorize_callback?request=%s", id);
	if (ret && az->ep->login.login_url)
		login = az->ep->login.login_url(req, ret);
	/* OpenID Connect's login_hint pre-fills the login form (identity's
	 * login URL is /login?redirect_url=...). */
	if (login && areq->login_hint[0]) {
		struct fa_buf b;
		bool first = false;

		fa_buf_init(&b, MAX_LOCATION);
		if (fa_buf_appends(&b, login) == FA_OK &&
		    fa_authz_url_param(&b, &first, "login_hint", areq->login_hint) == FA_OK)
			login = fa_arena_strdup(fa_req_arena(req), b.data);
		fa_buf_cleanup(&b);
	}
	if (!login || fa_resp_redirect(resp, 302, login, NULL) != FA_OK)
		fa_authz_error_page(resp, 500, "The login page could not be reached.");
}

/* Who is logged in: FA_OK with *user, FA_ENOTFOUND, or an internal error. */
static enum fa_rc session_user(struct fa_authz *az, struct fa_req *req, json_t **user,
			       struct fa_err *err)
{
	*user = NULL;
	if (!az->ep->login.session_user)
		return FA_ENOTFOUND;
	return az->ep->login.session_user(az->ep->login.identity, req, user, err);
}

void fa_authz_ep_authorize(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_authz *az = app;
	struct fa_authz_areq areq;
	struct fa_authz_params p = {
		.response_type = fa_req_query(req, "response_type"),
		.client_id = fa_req_query(req, "client_id"),
		.redirect_uri = fa_req_query(req, "redirect_uri"),
		.scope = fa_req_query(req, "scope"),
		.state = fa_req_query(req, "state"),
		.code_challenge = fa_req_query(req, "code_challenge"),
		.code_challenge_method = fa_req_query(req, "code_challenge_method"),
		.nonce = fa_req_query(req, "nonce"),
		.audience = fa_req_query(req, "audience"),
		.response_mode = fa_req_query(req, "response_mode"),
		.prompt = fa_req_query(req, "prompt"),
		.max_age = fa_req_query(req, "max_age"),
		.login_hint = fa_req_query(req, "login_hint"),
		.id_token_hint = fa_req_query(req, "id_token_hint"),
		.display = fa_req_query(req, "display"),
		.ui_locales = fa_req_query(req, "ui_locales"),
		.claims_locales = fa_req_query(req, "claims_locales"),
		.acr_values = fa_req_query(req, "acr_values"),
		.claims = fa_req_query(req, "claims"),
		.request = fa_req_query(req, "request"),
		.request_uri = fa_req_query(req, "request_uri"),
	};
	char code[FA_TOKEN_CHARS + 1];
	json_t *user = NULL;
	struct fa_err err;
	enum fa_rc rc;

	fa_err_clear(&err);
	rc = fa_authz_authorize_check(az, &p, &areq, &err);
	if (rc != FA_OK) {
		fail(az, resp, &areq, &err);
		return;
	}
	rc = session_user(az, req, &user, &err);
	if (rc == FA_OK && fa_authz_login_needed(&areq, user, fa_authz_now(az))) {
		json_decref(user);
		user = NULL;
		/* prompt=login, an old login under max_age, or a hint for another
		 * user: this session will not do. Unless no page may be shown,
		 * it ends here, and the user logs in afresh. */
		rc = areq.prompt_none || !az->ep->login.logout
			     ? FA_ENOTFOUND
			     : az->ep->login.logout(az->ep->login.identity, req, resp, &err);
		if (rc == FA_OK)
			rc = FA_ENOTFOUND;
	}
	if (rc == FA_ENOTFOUND) {
		if (areq.prompt_none) {
			/* Core §3.1.2.6: no page may be shown, so no login. */
			redirect_back(az, resp, &areq, NULL, "login_required",
				      "the user is not signed in (prompt=none)");
			return;
		}
		to_login(az, req, resp, &areq, NULL);
		return;
	}
	if (rc == FA_OK)
		rc = fa_authz_code_issue(az, &areq, user, NULL, code, &err);
	json_decref(user);
	if (rc != FA_OK) {
		fail(az, resp, &areq, &err);
		return;
	}
	fa_log(az->log, FA_LOG_INFO, "authorization code issued to client %s", areq.client->id);
	redirect_back(az, resp, &areq, code, NULL, NULL);
	fa_memzero(code, sizeof(code));
}

void fa_authz_ep_authorize_callback(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_authz *az = app;
	const char *id = fa_req_query(req, "request");
	char key[2 * FA_SHA256_LEN + 1];
	char code[FA_TOKEN_CHARS + 1];
	struct fa_authz_areq areq;
	struct fa_store_op del;
	json_t *user = NULL;
	int64_t ver = 0;
	struct fa_err err;
	enum fa_rc rc;

	fa_err_clear(&err);
	memset(&areq, 0, sizeof(areq));
	rc = fa_authz_authreq_load(az, id, fa_req_cookie(req, BIND_COOKIE), &areq, &ver, &err);
	if (rc != FA_OK) {
		/* Not a redirect: a pending request that is unknown or bound to
		 * another browser must not reach the client. */
		if (fa_store_unavailable(&err))
			fa_authz_error_page(resp, 503, "The sign-in service is temporarily unavailable; "
				   "try again in a moment.");
		else if (fa_authz_status(&err) >= 500)
			fa_authz_error_page(resp, 500, "The sign-in request could not be read; try again.");
		else if (rc == FA_EDENIED)
			fa_authz_error_page(resp, 400, "This sign-in was started in another browser. Start "
				   "again from the application.");
		else
			fa_authz_error_page(resp, 400, "This sign-in request has expired or was already used. "
				   "Start again from the application.");
		return;
	}
	rc = session_user(az, req, &user, &err);
	if (rc == FA_ENOTFOUND) {
		to_login(az, req, resp, &areq, id);    /* not logged in (yet) */
		return;
	}
	if (rc == FA_OK)
		rc = fa_authz_token_key(id, key);
	if (rc == FA_OK) {
		/* Consume the pending request in the code's transaction. */
		del = (struct fa_store_op){ .type = FA_STORE_DELETE, .kind = FA_KIND_AUTHREQ,
					    .key = key, .expect_version = ver };
		rc = fa_authz_code_issue(az, &areq, user, &del, code, &err);
	}
	json_decref(user);
	if (rc != FA_OK) {
		if (rc == FA_ENOTFOUND || rc == FA_ECONFLICT)
			fa_authz_error_page(resp, 400, "This sign-in request was already used.");
		else
			fail(az, resp, &areq, &err);
		return;
	}
	fa_log(az->log, FA_LOG_INFO, "authorization code issued to client %s", areq.client->id);
	redirect_back(az, resp, &areq, code, NULL, NULL);
	fa_memzero(code, sizeof(code));
}
