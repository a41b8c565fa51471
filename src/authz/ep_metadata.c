/* ep_metadata.c -- GET /.well-known/oauth-authorization-server, GET
 * /.well-known/openid-configuration and GET /oauth2/jwks: the documents
 * metadata.c built at start-up, sent as they are. Public and CORS-enabled
 * (browsers read them).
 */
#include "authz/authz_ep_int.h"

static void send_doc(struct fa_resp *resp, const char *body, size_t len)
{
	if (fa_resp_body(resp, 200, "application/json", body, len, NULL) != FA_OK)
		fa_resp_oauth_error(resp, 500, "server_error", NULL);
}

void fa_authz_ep_metadata(struct fa_req *req, struct fa_resp *resp, void *app)
{
	const struct fa_authz *az = app;

	(void)req;
	send_doc(resp, az->metadata_json, az->metadata_len);
}

void fa_authz_ep_op_metadata(struct fa_req *req, struct fa_resp *resp, void *app)
{
	const struct fa_authz *az = app;

	(void)req;
	send_doc(resp, az->op_json, az->op_len);
}

void fa_authz_ep_jwks(struct fa_req *req, struct fa_resp *resp, void *app)
{
	const struct fa_authz *az = app;

	(void)req;
	send_doc(resp, az->jwks_json, az->jwks_len);
}
