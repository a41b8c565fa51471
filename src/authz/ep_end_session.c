/* ep_end_session.c -- GET and POST /oauth2/end_session: OpenID Connect
 * RP-Initiated Logout 1.0. A relying party sends the browser here to end
 * the user's flyteauth session; afterwards the browser goes to the
 * client's registered post_logout_redirect_uri (with `state`), or sees a
 * "signed out" page.
 *
 * Logging someone out is a state change a third-party page must not be
 * able to trigger (logout CSRF), so the session ends at once only when the
 * request carries an id_token_hint naming the user who is signed in -- a
 * token only the relying party that logged them in holds. Otherwise
 * (no hint, or a hint for someone else) the user is asked to confirm on a
 * page whose form posts back here with a CSRF token bound to the login
 * session (the device page's tokens, device.c). A browser with no session
 * has nothing to end and goes straight on.
 */
#include <string.h>

#include "authz/authz_ep_int.h"

/* The request's parameters: query for GET, form for POST (§2 allows
 * both). */
static const char *arg(struct fa_req *req, const char *name)
{
	return strcmp(fa_req_method(req), "POST") == 0 ? fa_req_form(req, name)
						       : fa_req_query(req, name);
}

static void signed_out(struct fa_authz *az, struct fa_resp *resp, const struct fa_authz_logout *lo)
{
	struct fa_buf b;
	bool first = true;
	enum fa_rc rc;

	fa_buf_init(&b, FA_MAX_RESPONSE);
	if (lo->redirect[0]) {
		rc = fa_buf_appends(&b, lo->redirect);
		if (rc == FA_OK)
			rc = fa_authz_url_param(&b, &first, "state", lo->state);
		if (rc != FA_OK || fa_resp_redirect(resp, 302, b.data, NULL) != FA_OK)
			fa_authz_error_page(resp, 500, "The sign-out answer could not be built.");
		fa_buf_cleanup(&b);
		return;
	}
	if (fa_http_page_begin(&b, "Signed out", "Signed out", NULL) != FA_OK ||
	    fa_buf_appends(&b, "<p>You are signed out of flyteauth.</p>\n") != FA_OK ||
	    fa_http_page_end(&b) != FA_OK || fa_resp_page(resp, 200, &b, NULL) != FA_OK) {
		fa_log(az->log, FA_LOG_ERROR, "end_session: the signed-out page could not be built");
		fa_authz_error_page(resp, 500, "The sign-out page could not be built.");
	}
	fa_buf_cleanup(&b);
}

/* Asks the signed-in user to confirm, carrying the request along. */
static void confirm_page(struct fa_authz *az, struct fa_req *req, struct fa_resp *resp,
			 const json_t *user, const char *session, const char *target)
{
	static const char *const keep[] = {
		"id_token_hint", "client_id", "post_logout_redirect_uri", "state",
	};
	char token[FA_TOKEN_CHARS + 1];
	struct fa_buf b;
	struct fa_err err;
	enum fa_rc rc;

	fa_err_clear(&err);
	if (fa_authz_device_csrf_new(az, session, token, &err) != FA_OK) {
		fa_authz_error_page(resp, fa_store_unavailable(&err) ? 503 : 500,
				    "Sign-out is unavailable; try again in a moment.");
		return;
	}
	fa_buf_init(&b, FA_MAX_RESPONSE);
	rc = fa_http_page_begin(&b, "Sign out", "Sign out", NULL);
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, "<p>Sign out <strong>");
	if (rc == FA_OK)
		rc = fa_buf_append_html(&b, fa_authz_jstr(user, "sub"));
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, "</strong> of flyteauth?</p>\n"
				    "<form method=\"post\" action=\"/oauth2/end_session\">\n");
	if (rc == FA_OK)
		rc = fa_authz_page_hidden(&b, "csrf_token", token);
	for (size_t i = 0; rc == FA_OK && i < ARRAY_LEN(keep); i++) {
		const char *v = arg(req, keep[i]);

		if (v)
			rc = fa_authz_page_hidden(&b, keep[i], v);
	}
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, "<button type=\"submit\">Sign out</button>\n</form>\n");
	if (rc == FA_OK)
		rc = fa_http_page_end(&b);
	/* The form's answer redirects to the post-logout URI, if any. */
	if (rc == FA_OK)
		rc = fa_authz_page_csp(resp, target, NULL, NULL);
	if (rc != FA_OK || fa_resp_page(resp, 200, &b, NULL) != FA_OK)
		fa_authz_error_page(resp, 500, "The sign-out page could not be built.");
	fa_buf_cleanup(&b);
	fa_memzero(token, sizeof(token));
}

void fa_authz_ep_end_session(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_authz *az = app;
	const struct fa_authz_login *login = &az->ep->login;
	struct fa_authz_logout_params p = {
		.id_token_hint = arg(req, "id_token_hint"),
		.client_id = arg(req, "client_id"),
		.post_logout_redirect_uri = arg(req, "post_logout_redirect_uri"),
		.state = arg(req, "state"),
	};
	const char *session = login->session_cookie ? fa_req_cookie(req, login->session_cookie)
						    : NULL;
	const char *csrf = strcmp(fa_req_method(req), "POST") == 0 ? fa_req_form(req, "csrf_token") /* not secret: the method */
								    : NULL;
	struct fa_authz_logout lo;
	json_t *user = NULL;
	struct fa_err err;
	enum fa_rc rc;

	fa_err_clear(&err);
	rc = fa_authz_logout_check(az, &p, &lo, &err);
	if (rc != FA_OK) {
		/* Never a redirect: the target is not verified. */
		fa_authz_error_page(resp, 400, err.msg);
		return;
	}
	rc = login->session_user ? login->session_user(login->identity, req, &user, &err)
				 : FA_ENOTFOUND;
	if (rc == FA_ENOTFOUND) {
		signed_out(az, resp, &lo);       /* nobody to sign out */
		return;
	}
	if (rc == FA_OK && !login->logout)
		rc = fa_err_set(&err, FA_EUNSUPPORTED, "no logout for browser sessions");
	if (rc != FA_OK) {
		fa_authz_error_page(resp, fa_store_unavailable(&err) ? 503 : 500,
				    "Sign-out is unavailable; try again in a moment.");
		return;
	}
	/* The hint proves the relying party asks for this very user; else
	 * the user confirms with a session-bound token. */
	if (!(lo.sub[0] && strcmp(lo.sub, fa_authz_jstr(user, "sub")) == 0)) {
		if (!csrf || !session ||
		    fa_authz_device_csrf_check(az, session, csrf, &err) != FA_OK) {
			confirm_page(az, req, resp, user, session ? session : "",
				     lo.redirect[0] ? lo.redirect : NULL);
			json_decref(user);
			return;
		}
	}
	fa_log(az->log, FA_LOG_INFO, "end_session: signing out %s%s%s",
	       fa_authz_jstr(user, "sub"), lo.client ? " for client " : "",
	       lo.client ? lo.client->id : "");
	json_decref(user);
	if (login->logout(login->identity, req, resp, &err) != FA_OK) {
		fa_authz_error_page(resp, fa_store_unavailable(&err) ? 503 : 500,
				    "Sign-out failed; try again in a moment.");
		return;
	}
	signed_out(az, resp, &lo);
}
