/* ep_introspect.c -- POST /oauth2/introspect (RFC 7662) and POST
 * /oauth2/revoke (RFC 7009): client authentication, then introspect.c.
 *
 * Introspection tells whether any token is alive and whose it is, so only
 * confidential clients that authenticate may ask (a public client id is no
 * credential). Revocation accepts public clients by client_id alone
 * (RFC 7009 §2.1), since a CLI must be able to log out; it can only ever
 * revoke that client's own tokens.
 */
#include <string.h>

#include "authz/authz_ep_int.h"

void fa_authz_ep_introspect(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_authz *az = app;
	const struct fa_authz_client *c = NULL;
	json_t *out = NULL;
	struct fa_err err;
	enum fa_rc rc;

	fa_err_clear(&err);
	rc = fa_authz_req_client(az, req, resp, &c, &err);
	if (rc == FA_AUTHZ_HANDLED)
		return;
	if (rc == FA_OK && c->is_public)
		rc = fa_err_oauth(&err, FA_EDENIED, "invalid_client",
				  "introspection requires a confidential client");
	if (rc == FA_OK)
		rc = fa_authz_introspect(az, fa_req_form(req, "token"),
					 fa_req_form(req, "token_type_hint"), &out, &err);
	if (rc == FA_OK) {
		if (fa_resp_json(resp, 200, out, &err) != FA_OK)
			fa_resp_oauth_error(resp, 500, "server_error", NULL);
		return;
	}
	fa_authz_send_error(az, resp, &err);
}

void fa_authz_ep_revoke(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_authz *az = app;
	const struct fa_authz_client *c = NULL;
	struct fa_err err;
	enum fa_rc rc;

	fa_err_clear(&err);
	rc = fa_authz_req_client(az, req, resp, &c, &err);
	if (rc == FA_AUTHZ_HANDLED)
		return;
	if (rc == FA_OK)
		rc = fa_authz_revoke(az, c, fa_req_form(req, "token"),
				     fa_req_form(req, "token_type_hint"), &err);
	fa_authz_audit(az, req, &(struct fa_audit){ .event = "revoke",
						    .client_id = c ? c->id : NULL },
		       rc == FA_OK ? NULL : &err);
	if (rc == FA_OK) {
		/* RFC 7009 §2.2: 200 whether or not anything was revoked. */
		if (fa_resp_status(resp, 200, &err) != FA_OK)
			fa_resp_oauth_error(resp, 500, "server_error", NULL);
		return;
	}
	fa_authz_send_error(az, resp, &err);
}
