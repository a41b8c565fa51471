/* ep_token.c -- POST /oauth2/token (RFC 6749 §3.2): translates the form into
 * client authentication and one grant (grant.c, family.c, device.c), and
 * the result into RFC 6749 §5.1 JSON or a §5.2 error. Cache-Control:
 * no-store on every answer comes from the route flag (FA_R_NO_STORE).
 *
 * Order of checks: grant_type present, then who the client is, then
 * whether the grant exists and the client may use it. Authenticating
 * before judging the grant keeps an unauthenticated caller from learning
 * anything about a client's configuration.
 */
#include <stdlib.h>
#include <string.h>

#include "authz/authz_ep_int.h"

int fa_authz_status(const struct fa_err *err)
{
	const char *code = err->oauth_error;

	if (!code || strcmp(code, "server_error") == 0)
		return 500;
	if (strcmp(code, "temporarily_unavailable") == 0)
		return 503;
	/* RFC 6749 §5.2: a client that failed to authenticate. */
	if (strcmp(code, "invalid_client") == 0)
		return 401;
	/* Every other error of RFC 6749 §5.2, RFC 7009, RFC 7662 and RFC
	 * 8628 §3.5 (authorization_pending, slow_down, ...). */
	return 400;
}

void fa_authz_send_error(struct fa_authz *az, struct fa_resp *resp, const struct fa_err *err)
{
	int status = fa_authz_status(err);
	const char *code = err->oauth_error ? err->oauth_error : "server_error";

	if (status == 503 && fa_store_unavailable(err)) {
		/* The store is down: already logged by it; the client may retry. */
		fa_resp_oauth_error(resp, 503, "temporarily_unavailable", err->msg);
		return;
	}
	if (status >= 500) {
		if (!err->oauth_error)
			fa_log(az->log, FA_LOG_ERROR, "authorization server: %s", err->msg);
		/* Internal detail stays in the log. */
		fa_resp_oauth_error(resp, status, code, "internal error");
		return;
	}
	fa_resp_oauth_error(resp, status, code, err->msg);
	/* RFC 6749 §5.2: invalid_client is a 401 with a challenge for the
	 * scheme the client can use. */
	if (status == 401 &&
	    fa_resp_header(resp, "WWW-Authenticate", "Basic realm=\"flyteauth\"", NULL) != FA_OK)
		fa_log(az->log, FA_LOG_ERROR, "cannot set WWW-Authenticate");
}

enum fa_rc fa_authz_req_client(struct fa_authz *az, struct fa_req *req,
			       const struct fa_authz_client **c, struct fa_err *err)
{
	struct fa_authz_creds cr = {
		.authorization = fa_req_header(req, "Authorization"),
		.client_id = fa_req_form(req, "client_id"),
		.client_secret = fa_req_form(req, "client_secret"),
	};
	bool basic;

	return fa_authz_client_auth(az, &cr, c, &basic, err);
}

static enum fa_rc send_tokens(struct fa_resp *resp, const struct fa_authz_grant *g,
			      struct fa_err *err)
{
	json_t *o = json_pack("{s:s, s:s, s:I, s:s}", "access_token", g->access_token,
			      "token_type", "Bearer", "expires_in", (json_int_t)g->expires_in,
			      "scope", g->scope);

	if (o && ((g->refresh_token[0] != '\0' &&
		   json_object_set_new(o, "refresh_token", json_string(g->refresh_token)) != 0) ||
		  (g->id_token && json_object_set_new(o, "id_token", json_string(g->id_token)) != 0))) {
		json_decref(o);
		o = NULL;
	}
	if (!o)
		return fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
	/* json memory holding the tokens is freed by the response layer. */
	return fa_resp_json(resp, 200, o, err);
}

static enum fa_rc run_grant(struct fa_authz *az, struct fa_req *req,
			    const struct fa_authz_client *c, unsigned bit,
			    struct fa_authz_grant *g, struct fa_err *err)
{
	switch (bit) {
	case FA_GRANT_CODE:
		return fa_authz_grant_code(az, c, fa_req_form(req, "code"),
					   fa_req_form(req, "redirect_uri"),
					   fa_req_form(req, "code_verifier"), g, err);
	case FA_GRANT_REFRESH:
		return fa_authz_grant_refresh(az, c, fa_req_form(req, "refresh_token"),
					      fa_req_form(req, "scope"), g, err);
	case FA_GRANT_CLIENT_CREDENTIALS:
		return fa_authz_grant_client_credentials(az, c, fa_req_form(req, "scope"),
							 fa_req_form(req, "audience"), g, err);
	case FA_GRANT_DEVICE:
		return fa_authz_grant_device(az, c, fa_req_form(req, "device_code"), g, err);
	default:
		break;
	}
	return fa_err_oauth(err, FA_EUNSUPPORTED, "unsupported_grant_type",
			    "unsupported grant_type");
}

void fa_authz_ep_token(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_authz *az = app;
	const struct fa_authz_client *c = NULL;
	const char *grant_type = fa_req_form(req, "grant_type");
	struct fa_authz_grant g;
	struct fa_err err;
	unsigned bit;
	enum fa_rc rc;

	memset(&g, 0, sizeof(g));
	fa_err_clear(&err);
	if (grant_type == NULL) {
		rc = fa_err_oauth(&err, FA_EINVAL, "invalid_request", "grant_type is missing");
		goto out;
	}
	rc = fa_authz_req_client(az, req, &c, &err);
	if (rc != FA_OK)
		goto out;
	bit = fa_authz_grant_bit(grant_type);
	if (bit == 0) {
		rc = fa_err_oauth(&err, FA_EUNSUPPORTED, "unsupported_grant_type",
				  "unsupported grant_type");
		goto out;
	}
	if (!(c->grants & bit)) {
		rc = fa_err_oauth(&err, FA_EDENIED, "unauthorized_client",
				  "this client may not use the %s grant", grant_type);
		goto out;
	}
	rc = run_grant(az, req, c, bit, &g, &err);
	if (rc == FA_OK) {
		/* Machine tokens are the hot path: their audit line is debug. */
		fa_log(az->log, bit == FA_GRANT_CLIENT_CREDENTIALS ? FA_LOG_DEBUG : FA_LOG_INFO,
		       "token issued: client %s grant %s jti %s", c->id, grant_type, g.jti);
		rc = send_tokens(resp, &g, &err);
	}
out:
	if (rc != FA_OK) {
		/* A device polling every few seconds is not news (RFC 8628 §3.5). */
		bool polling = err.oauth_error && (strcmp(err.oauth_error, "authorization_pending") == 0 ||
						   strcmp(err.oauth_error, "slow_down") == 0);

		if (c && fa_authz_status(&err) < 500)
			fa_log(az->log, polling ? FA_LOG_DEBUG : FA_LOG_INFO,
			       "token refused: client %s: %s: %s", c->id,
			       err.oauth_error ? err.oauth_error : "?", err.msg);
		fa_authz_send_error(az, resp, &err);
	}
	fa_authz_grant_cleanup(&g);
}
