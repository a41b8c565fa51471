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

void fa_identity_logout(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_identity *id = app;
	const char *target = redirect_target(id, req, resp, "/");
	const char *idp_logout;
	struct fa_err e;

	if (!target)
		return;
	fa_err_clear(&e);
	/* With an upstream IdP: on to its end_session_endpoint (oidc.c);
	 * read before the session's record, which holds the ID token hint,
	 * is deleted. */
	idp_logout = fa_identity_oidc_logout_url(id, req, target);
	if (fa_identity_session_end(id, req, resp, &e) != FA_OK ||
	    fa_resp_redirect(resp, 302, idp_logout ? idp_logout : target, &e) != FA_OK) {
		/* Not logged out: the session lives on until the store is back
		 * and the user logs out again, or until it expires. */
		if (fa_store_unavailable(&e)) {
			fa_resp_oauth_error(resp, 503, "temporarily_unavailable",
					    "logout is temporarily unavailable; try again later");
			return;
		}
		fa_log_warnx(id->log, "identity: logout failed: %s: %s", fa_rc_str(e.rc), e.msg);
		fa_resp_oauth_error(resp, 500, "server_error", "logout failed");
	}
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
