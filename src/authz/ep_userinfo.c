/* ep_userinfo.c -- GET and POST /oauth2/userinfo (OpenID Connect Core
 * §5.3): the claims of the user an access token was issued for, as far as
 * its scopes release them (idtoken.c: profile, email; `sub` always).
 *
 * The token comes as RFC 6750 allows: `Authorization: Bearer` (GET or
 * POST) or, for a form POST, the `access_token` field (§2.2); both at once
 * is invalid_request (§2: one method per request). It must be a live access
 * token of ours (introspection's test: signature, expiry, not revoked, its
 * family alive) issued with `openid`; a machine token (client_credentials)
 * names no user and is refused. Refusals carry RFC 6750 §3's
 * WWW-Authenticate: 401 invalid_token, 403 insufficient_scope, 400
 * invalid_request; with no token at all, a bare `Bearer` challenge.
 */
#include <string.h>
#include <strings.h>

#include "authz/authz_ep_int.h"

/* RFC 6750 §2.1: the scheme is case-insensitive; b64token follows one
 * space. NULL when the header is not a Bearer credential. */
static const char *bearer_of(const char *h)
{
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

static bool has_scope(const json_t *scp, const char *want)
{
	size_t i;
	json_t *v;

	json_array_foreach(scp, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
			return true;
	}
	return false;
}

/* The answer for live claims: sub and what the token's scopes release. */
static enum fa_rc userinfo_json(const json_t *claims, json_t **out)
{
	const json_t *scp = json_object_get(claims, "scp"), *ui = json_object_get(claims, "user_info");
	struct fa_scope sc;
	json_t *o = json_object();
	size_t i;
	json_t *v;

	*out = NULL;
	fa_scope_init(&sc);
	json_array_foreach(scp, i, v) {
		struct fa_err e;

		/* Our own token's scopes: parsed when minted, so they fit. */
		if (json_is_string(v) && fa_scope_add(&sc, json_string_value(v), &e) != FA_OK)
			break;
	}
	if (!o || fa_authz_user_claims(ui, &sc, o) != FA_OK) {
		json_decref(o);
		return FA_ENOMEM;
	}
	*out = o;
	return FA_OK;
}

static void userinfo(struct fa_req *req, struct fa_resp *resp, struct fa_authz *az,
		     const char *form_token)
{
	const char *header = fa_req_header(req, "Authorization");
	const char *token = bearer_of(header);
	json_t *claims = NULL, *out = NULL;
	struct fa_err err;
	enum fa_rc rc;

	fa_err_clear(&err);
	if (header != NULL && token == NULL) {
		fa_resp_bearer_error(resp, 400, "invalid_request",
				     "the Authorization header is not a Bearer token");
		return;
	}
	if (token != NULL && form_token != NULL) {
		fa_resp_bearer_error(resp, 400, "invalid_request",
				     "the access token was sent twice (header and body)");
		return;
	}
	if (token == NULL)
		token = form_token;
	if (token == NULL) {
		fa_resp_bearer_error(resp, 401, NULL, "an access token is required");
		return;
	}
	rc = fa_authz_at_active(az, token, &claims, &err);
	if (rc == FA_ENOTFOUND) {
		fa_resp_bearer_error(resp, 401, "invalid_token",
				     "the access token is invalid, expired or revoked");
		return;
	}
	if (rc != FA_OK) {
		if (fa_store_unavailable(&err)) {
			fa_resp_oauth_error(resp, 503, "temporarily_unavailable",
					    "the server is temporarily unavailable; try again later");
		} else {
			fa_log(az->log, FA_LOG_ERROR, "userinfo: %s", err.msg);
			fa_resp_oauth_error(resp, 500, "server_error", "internal error");
		}
		return;
	}
	if (!has_scope(json_object_get(claims, "scp"), "openid") ||
	    !json_is_object(json_object_get(claims, "user_info"))) {
		fa_resp_bearer_challenge(resp, 403, "insufficient_scope",
					 "userinfo needs an access token issued with openid",
					 "openid");
		json_decref(claims);
		return;
	}
	if (userinfo_json(claims, &out) != FA_OK || fa_resp_json(resp, 200, out, &err) != FA_OK)
		fa_resp_oauth_error(resp, 500, "server_error", "internal error");
	json_decref(claims);
}

void fa_authz_ep_userinfo_get(struct fa_req *req, struct fa_resp *resp, void *app)
{
	userinfo(req, resp, app, NULL);
}

void fa_authz_ep_userinfo_post(struct fa_req *req, struct fa_resp *resp, void *app)
{
	userinfo(req, resp, app, fa_req_form(req, "access_token"));
}
