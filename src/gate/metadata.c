/* metadata.c -- what a Flyte client reads before it asks for a token, as
 * the resource server publishes it (flyteadmin's AuthMetadataService):
 *
 *  - GET /config/v1/flyte_client: Flyte's public client settings
 *    (flyteidl PublicClientAuthConfigResponse, snake_case as flyteadmin's
 *    gateway writes it) from auth.appAuth.thirdPartyConfig.flyteClient, in
 *    both modes; built once at start-up.
 *  - GET /.well-known/oauth-authorization-server in External mode: the
 *    external authorization server's metadata, filtered to the members of
 *    flyteadmin's OAuth2MetadataResponse, so that flytectl, flytekit and
 *    `flyteauth login/token` go to the external server for tokens. The
 *    document comes from the issuer object serve keeps (re-read from the AS
 *    every FA_GATE_EXTERNAL_METADATA_TTL_MS, kept while the AS is down);
 *    the filtered copy is rendered once per document. In Self mode authz
 *    serves its own metadata.
 */
#include <stdlib.h>
#include <string.h>

#include "gate/gate_int.h"

/* flyteidl's OAuth2MetadataResponse, field by field. */
static const char *const metadata_members[] = {
	"issuer", "authorization_endpoint", "token_endpoint", "response_types_supported",
	"scopes_supported", "token_endpoint_auth_methods_supported", "jwks_uri",
	"code_challenge_methods_supported", "grant_types_supported",
	"device_authorization_endpoint",
};

enum fa_rc fa_gate_documents_build(struct fa_gate *g, struct fa_err *err)
{
	const struct fa_config *cfg = g->cfg;
	const __typeof__(cfg->auth.app_auth.third_party.flyte_client) *fc =
		&cfg->auth.app_auth.third_party.flyte_client;
	json_t *doc;

	doc = json_pack("{s:s, s:s, s:o, s:s, s:s, s:s}",
			"client_id", fc->client_id,
			"redirect_uri", fc->redirect_uri,
			"scopes", fa_json_strings((const char *const *)fc->scopes.items,
						  fc->scopes.count),
			"authorization_metadata_key", cfg->auth.grpc_authorization_header,
			"service_http_endpoint", g->issuer,
			"audience", fc->audience);
	g->flyte_client_json = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!g->flyte_client_json)
		return fa_err_set(err, FA_ENOMEM, "cannot build /config/v1/flyte_client");
	g->flyte_client_len = strlen(g->flyte_client_json);
	if (g->flyte_client_len > FA_MAX_RESPONSE)
		return fa_err_set(err, FA_ETOOBIG, "/config/v1/flyte_client is larger than %d bytes",
				  FA_MAX_RESPONSE);
	return FA_OK;
}

void fa_gate_metadata_cleanup(struct fa_gate *g)
{
	free(g->flyte_client_json);
	g->flyte_client_json = NULL;
	free(g->meta.body);
	g->meta.body = NULL;
	fa_discovery_free(g->meta.doc);
	g->meta.doc = NULL;
}

static void send_doc(struct fa_resp *resp, const char *body, size_t len)
{
	if (fa_resp_body(resp, 200, "application/json", body, len, NULL) != FA_OK)
		fa_resp_oauth_error(resp, 500, "server_error", NULL);
}

void fa_gate_ep_flyte_client(struct fa_req *req, struct fa_resp *resp, void *app)
{
	const struct fa_gate *g = app;

	(void)req;
	send_doc(resp, g->flyte_client_json, g->flyte_client_len);
}

/* The filtered copy of d, malloc'd. */
static char *render(const struct fa_discovery *d, size_t *len, struct fa_err *err)
{
	json_t *doc = NULL;
	char *s = NULL;

	if (fa_discovery_subset(d, metadata_members, ARRAY_LEN(metadata_members), &doc, err) != FA_OK)
		return NULL;
	s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (!s) {
		(void)fa_err_set(err, FA_ENOMEM, "out of memory");
		return NULL;
	}
	*len = strlen(s);
	return s;
}

void fa_gate_ep_external_metadata(struct fa_req *req, struct fa_resp *resp, void *app)
{
	/* The rendered copy is the gate's one mutable cache besides the
	 * token caches; its lock is all that guards it. */
	struct fa_gate *g = app;
	struct fa_discovery *d = NULL;
	struct fa_err err;
	char *body = NULL;
	size_t len = 0;

	(void)req;
	fa_err_clear(&err);
	if (fa_remote_issuer_discovery(g->external, &d, &err) != FA_OK) {
		fa_resp_oauth_error(resp, 503, "temporarily_unavailable", err.msg);
		return;
	}
	pthread_mutex_lock(&g->meta.mu);
	if (g->meta.doc != d) {
		/* A new document (we hold a reference to the old one, so a
		 * pointer cannot be reused behind our back). */
		body = render(d, &len, &err);
		if (body) {
			free(g->meta.body);
			fa_discovery_free(g->meta.doc);
			g->meta.body = body;
			g->meta.len = len;
			g->meta.doc = fa_discovery_dup(d);
		}
	}
	if (g->meta.doc == d)
		send_doc(resp, g->meta.body, g->meta.len);
	else
		fa_resp_oauth_error(resp, 502, "server_error", "the external authorization "
				    "server's metadata cannot be served");
	pthread_mutex_unlock(&g->meta.mu);
	fa_discovery_free(d);
}
