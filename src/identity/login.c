/* login.c -- identity's HTTP endpoints: /login (handed to the provider once
 * the redirect target is known to be safe), /logout and
 * /.well-known/openid-configuration. Each handler only translates HTTP to
 * the session, redirect and provider calls and back.
 */
#include <string.h>

#include "identity/identity_int.h"

/* redirect_url from the query, else `fallback`; NULL (and resp answered
 * 400) when it is not a safe target. */
static const char *redirect_target(struct fa_identity *id, struct fa_req *req,
				   struct fa_resp *resp, const char *fallback)
{
	const char *r = fa_req_query(req, "redirect_url");
	struct fa_err e;

	fa_err_clear(&e);
	if (!r)
		r = fallback;
	if (fa_identity_redirect_check(id->origins, id->n_origins, r, &e) != FA_OK) {
		fa_resp_oauth_error(resp, 400, "invalid_request", e.msg);
		return NULL;
	}
	return r;
}

void fa_identity_login_get(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_identity *id = app;
	const char *target = redirect_target(id, req, resp, id->cfg->auth.user_auth.redirect_url);
	json_t *user = NULL;
	struct fa_err e;

	if (!target)
		return;
	fa_err_clear(&e);
	/* Already logged in: no form, straight on. */
	if (fa_identity_session_user(id, req, &user, &e) == FA_OK) {
		json_decref(user);
		if (fa_resp_redirect(resp, 302, target, &e) != FA_OK)
			fa_resp_oauth_error(resp, 500, "server_error", "cannot redirect");
		return;
	}
	if (fa_store_unavailable(&e)) {
		/* The store logged the outage; the user may retry. */
		fa_resp_oauth_error(resp, 503, "temporarily_unavailable",
				    "login is temporarily unavailable; try again later");
		return;
	}
	if (e.rc != FA_ENOTFOUND) {
		fa_log_warnx(id->log, "identity: session lookup failed: %s", e.msg);
		fa_resp_oauth_error(resp, 500, "server_error", "login is unavailable");
		return;
	}
	id->provider->login_get(id, req, resp, target);
}

void fa_identity_login_post(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_identity *id = app;

	id->provider->login_post(id, req, resp);
}

/* ---- /logout --------------------------------------------------------------- */

/* Where the browser goes once its session is gone: the one continuation of
 * every logout (a same-origin GET, a confirmed POST, a GET without a
 * session). ended: the claims of the session that was just deleted
 * (fa_identity_session_user's answer), NULL when there was none. Whatever
 * must happen after a logout goes here. target: the validated redirect_url,
 * or with an upstream IdP its end_session_endpoint, computed by logout_now
 * before the record that holds the ID token hint was deleted. */
static void logout_done(struct fa_identity *id, struct fa_req *req, struct fa_resp *resp,
			const char *target, const json_t *ended)
{
	struct fa_err e;

	(void)req;
	(void)ended;
	fa_err_clear(&e);
	if (fa_resp_redirect(resp, 303, target, &e) != FA_OK)
		fa_identity_fail500(id, resp, &e);
}

/* Deletes the session (cookie cleared; also the logout form's CSRF cookie
 * when form is set), then logout_done. */
static void logout_now(struct fa_identity *id, struct fa_req *req, struct fa_resp *resp,
		       const char *target, const json_t *ended, bool form)
{
	const char *idp_logout;
	struct fa_err e;

	fa_err_clear(&e);
	/* With an upstream IdP: on to its end_session_endpoint (oidc.c);
	 * read before the session's record, which holds the ID token hint,
	 * is deleted. */
	idp_logout = fa_identity_oidc_logout_url(id, req, target);
	if (fa_identity_session_end(id, req, resp, &e) != FA_OK ||
	    (form && fa_identity_cookie_set(id, resp, FA_IDENTITY_CSRF_COOKIE, "", "/logout", 0,
					    &e) != FA_OK)) {
		/* Not logged out: the session lives on until the store is back
		 * and the user logs out again, or until it expires. */
		if (fa_store_unavailable(&e)) {
			fa_resp_oauth_error(resp, 503, "temporarily_unavailable",
					    "logout is temporarily unavailable; try again later");
			return;
		}
		fa_log_warnx(id->log, "identity: logout failed: %s: %s", fa_rc_str(e.rc), e.msg);
		fa_resp_oauth_error(resp, 500, "server_error", "logout failed");
		return;
	}
	logout_done(id, req, resp, idp_logout ? idp_logout : target, ended);
}

/* The request comes from a page of this origin (Fetch Metadata): a link
 * or form on our own pages. Any other site, and clients that send no
 * metadata, get the confirmation form instead. */
static bool same_origin(struct fa_req *req)
{
	const char *v = fa_req_header(req, "Sec-Fetch-Site");

	return v && strcmp(v, "same-origin") == 0;
}

static void logout_confirm(struct fa_identity *id, struct fa_req *req, struct fa_resp *resp,
			   const char *target)
{
	char token[FA_TOKEN_CHARS + 1];
	struct fa_buf page;
	struct fa_err e;
	enum fa_rc rc;

	fa_err_clear(&e);
	fa_buf_init(&page, FA_MAX_RESPONSE);
	rc = fa_identity_csrf_issue(id, req, resp, "/logout", target, token, &e);
	if (rc == FA_EINVAL) {
		fa_resp_oauth_error(resp, 400, "invalid_request", e.msg);
		goto out;
	}
	if (rc == FA_OK)
		rc = fa_http_page_begin(&page, "Sign out", "Sign out of Flyte?", NULL);
	if (rc == FA_OK)
		rc = fa_buf_appendf(&page, "<form method=\"post\" action=\"/logout\">\n"
				    "<input type=\"hidden\" name=\"csrf_token\" value=\"%s\">\n"
				    "<input type=\"hidden\" name=\"redirect_url\" value=\"", token);
	if (rc == FA_OK)
		rc = fa_buf_append_html(&page, target);
	if (rc == FA_OK)
		rc = fa_buf_appends(&page, "\">\n<button type=\"submit\">Sign out</button>\n"
				    "</form>\n<p><a href=\"/\">Stay signed in</a></p>\n");
	if (rc == FA_OK)
		rc = fa_http_page_end(&page);
	if (rc == FA_OK)
		rc = fa_resp_header(resp, "Content-Security-Policy", fa_identity_page_csp, &e);
	if (rc == FA_OK)
		rc = fa_resp_page(resp, 200, &page, &e);
	if (rc != FA_OK) {
		if (e.rc == FA_OK)
			e.rc = rc;
		fa_identity_fail500(id, resp, &e);
	}
out:
	fa_buf_cleanup(&page);
	fa_memzero(token, sizeof(token));
}

/* GET /logout: a cross-site GET must not end a session (any page could
 * embed it), so only a same-origin request logs out at once; otherwise the
 * user confirms with a form that POSTs the CSRF token. Without a session
 * there is nothing to protect: the cookie is cleared and the browser sent
 * on. */
void fa_identity_logout(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_identity *id = app;
	const char *target = redirect_target(id, req, resp, "/");
	json_t *user = NULL;
	struct fa_err e;
	enum fa_rc rc;

	if (!target)
		return;
	fa_err_clear(&e);
	rc = fa_identity_session_user(id, req, &user, &e);
	if (rc == FA_ENOTFOUND)
		logout_now(id, req, resp, target, NULL, false);
	else if (rc != FA_OK)
		fa_identity_fail500(id, resp, &e);
	else if (same_origin(req))
		logout_now(id, req, resp, target, user, false);
	else
		logout_confirm(id, req, resp, target);
	json_decref(user);
}

/* POST /logout: the confirmation form. A missing, foreign or stale token is
 * 400 and changes nothing. */
void fa_identity_logout_post(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_identity *id = app;
	const char *target = fa_req_form(req, "redirect_url");
	const char *saved = NULL;
	json_t *user = NULL;
	struct fa_err e;
	enum fa_rc rc;

	fa_err_clear(&e);
	rc = fa_identity_csrf_verify(id, req, "/logout", &saved);
	if (rc == FA_ENOMEM) {
		e.rc = rc;
		fa_identity_fail500(id, resp, &e);
		return;
	}
	if (rc != FA_OK) {
		fa_resp_oauth_error(resp, 400, "invalid_request",
				    "the sign-out form is missing, expired or not ours; "
				    "nothing was changed");
		return;
	}
	if (!target)
		target = saved[0] ? saved : "/";
	if (fa_identity_redirect_check(id->origins, id->n_origins, target, &e) != FA_OK) {
		fa_resp_oauth_error(resp, 400, "invalid_request", e.msg);
		return;
	}
	rc = fa_identity_session_user(id, req, &user, &e);
	if (rc != FA_OK && rc != FA_ENOTFOUND) {
		fa_identity_fail500(id, resp, &e);
		return;
	}
	logout_now(id, req, resp, target, user, true);
	json_decref(user);
}

void fa_identity_oidc_config(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_identity *id = app;
	const char *base = id->cfg->auth.user_auth.open_id.base_url;
	size_t n = strlen(base);
	const char *url;
	struct fa_err e;

	if (n == 0) {
		/* SPEC §4: 404 until flyteauth is itself an OpenID Provider. */
		fa_resp_oauth_error(resp, 404, "not_found", "no OpenID provider is configured");
		return;
	}
	while (n > 0 && base[n - 1] == '/')
		n--;
	fa_err_clear(&e);
	url = fa_arena_printf(fa_req_arena(req), "%.*s/.well-known/openid-configuration", (int)n,
			      base);
	/* flyteadmin answers 303 to the IdP's own document. */
	if (!url || fa_resp_redirect(resp, 303, url, &e) != FA_OK)
		fa_resp_oauth_error(resp, 500, "server_error", "cannot redirect to the IdP");
}
