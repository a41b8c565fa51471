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

void fa_authz_audit(struct fa_authz *az, struct fa_req *req, struct fa_audit *ev,
		    const struct fa_err *err)
{
	if (!ev->outcome)
		ev->outcome = !err ? "success" : fa_authz_status(err) >= 500 ? "error" : "refused";
	if (err && !ev->reason)
		ev->reason = err->oauth_error ? err->oauth_error : "server_error";
	ev->remote_addr = fa_req_client_addr(req);
	ev->request_id = fa_req_id(req);
	fa_log_audit(az->log, ev);
}

enum fa_rc fa_authz_req_client(struct fa_authz *az, struct fa_req *req, struct fa_resp *resp,
			       const struct fa_authz_client **c, struct fa_err *err)
{
	struct fa_authz_creds cr = {
		.authorization = fa_req_header(req, "Authorization"),
		.client_id = fa_req_form(req, "client_id"),
		.client_secret = fa_req_form(req, "client_secret"),
		.addr = fa_req_client_addr(req),
		.no_block = !fa_req_offloaded(req),
	};
	char retry[24];
	bool basic;
	enum fa_rc rc = fa_authz_client_auth(az, &cr, c, &basic, err);

	if (rc == FA_OK)
		return FA_OK;
	if (cr.needs_block) {
		if (fa_http_offload(req))
			return FA_AUTHZ_HANDLED;
		fa_metrics_throttle(az->metrics, FA_ML_CLIENT_AUTH);
		fa_resp_oauth_error(resp, 503, "temporarily_unavailable",
				    "too many client authentications at once; try again later");
		if (fa_resp_header(resp, "Retry-After", "1", NULL) != FA_OK)
			fa_log(az->log, FA_LOG_ERROR, "cannot set Retry-After");
		return FA_AUTHZ_HANDLED;
	}
	if (cr.retry_ms > 0) {
		fa_metrics_throttle(az->metrics, FA_ML_CLIENT_AUTH);
		snprintf(retry, sizeof(retry), "%lld", (long long)((cr.retry_ms + 999) / 1000));
		fa_resp_oauth_error(resp, 429, "slow_down", err->msg);
		if (fa_resp_header(resp, "Retry-After", retry, NULL) != FA_OK)
			fa_log(az->log, FA_LOG_ERROR, "cannot set Retry-After");
		return FA_AUTHZ_HANDLED;
	}
	return rc;
}

/* RFC 6749 §5.1, the answer of every token request, written directly:
 * through a JSON tree it cost more than the rest of the request outside
 * the signature (callgrind: 80k instructions, mostly jansson checking the
 * ~850-byte token as UTF-8). */
static enum fa_rc send_tokens(struct fa_resp *resp, const struct fa_authz_grant *g,
			      struct fa_err *err)
{
	struct fa_buf b;
	char num[24];
	enum fa_rc rc;

	fa_buf_init(&b, FA_MAX_RESPONSE);
	snprintf(num, sizeof(num), "%lld", (long long)g->expires_in);
	rc = fa_buf_appends(&b, "{\"access_token\":");
	if (rc == FA_OK)
		rc = fa_buf_append_json(&b, g->access_token);
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, ",\"token_type\":\"Bearer\",\"expires_in\":");
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, num);
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, ",\"scope\":");
	if (rc == FA_OK)
		rc = fa_buf_append_json(&b, g->scope);
	if (rc == FA_OK && g->refresh_token[0] != '\0') {
		rc = fa_buf_appends(&b, ",\"refresh_token\":");
		if (rc == FA_OK)
			rc = fa_buf_append_json(&b, g->refresh_token);
	}
	if (rc == FA_OK && g->id_token) {
		rc = fa_buf_appends(&b, ",\"id_token\":");
		if (rc == FA_OK)
			rc = fa_buf_append_json(&b, g->id_token);
	}
	if (rc == FA_OK)
		rc = fa_buf_appendc(&b, '}');
	if (rc == FA_OK)
		rc = fa_resp_body(resp, 200, "application/json", b.data, b.len, err);
	else
		rc = fa_err_oauth(err, rc, "server_error", "cannot build the token response");
	/* The buffer held the tokens. */
	fa_buf_cleanup(&b);
	return rc;
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

static enum fa_metrics_grant metric_grant(unsigned bit)
{
	switch (bit) {
	case FA_GRANT_CODE: return FA_MG_AUTHORIZATION_CODE;
	case FA_GRANT_REFRESH: return FA_MG_REFRESH_TOKEN;
	case FA_GRANT_CLIENT_CREDENTIALS: return FA_MG_CLIENT_CREDENTIALS;
	case FA_GRANT_DEVICE: return FA_MG_DEVICE_CODE;
	default: return FA_MG_OTHER;
	}
}

/* Counts the request and writes its audit event. The grant type is named
 * from our own table (the form's value is the client's text) and the
 * client only when it authenticated as a configured one. A device that
 * polls every few seconds (RFC 8628 §3.5) is counted, and only logged at
 * debug: it is not news. */
static void token_outcome(struct fa_authz *az, struct fa_req *req,
			  const struct fa_authz_client *c, unsigned bit,
			  const struct fa_authz_grant *g, const struct fa_err *err)
{
	static const char *const names[FA_MG_N] = {
		"authorization_code", "refresh_token", "client_credentials", "device_code", "other",
	};
	enum fa_metrics_grant mg = metric_grant(bit);
	const char *code = err ? (err->oauth_error ? err->oauth_error : "server_error") : NULL;
	bool polling = code && (strcmp(code, "authorization_pending") == 0 ||
				strcmp(code, "slow_down") == 0);
	struct fa_audit ev = {
		.event = "token",
		.subject = err ? NULL : g->sub,
		.client_id = c ? c->id : NULL,
		.grant_type = names[mg],
	};

	fa_metrics_grant(az->metrics, mg, code);
	if (code && strcmp(code, "slow_down") == 0)
		fa_metrics_throttle(az->metrics, FA_ML_DEVICE_POLL);
	if (polling) {
		fa_log(az->log, FA_LOG_DEBUG, "token: client %s polls: %s", c ? c->id : "-", code);
		return;
	}
	fa_authz_audit(az, req, &ev, err);
}

void fa_authz_ep_token(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_authz *az = app;
	const struct fa_authz_client *c = NULL;
	const char *grant_type = fa_req_form(req, "grant_type");
	struct fa_authz_grant g;
	struct fa_err err;
	unsigned bit = 0;
	enum fa_rc rc;

	memset(&g, 0, sizeof(g));
	fa_err_clear(&err);
	if (grant_type == NULL) {
		rc = fa_err_oauth(&err, FA_EINVAL, "invalid_request", "grant_type is missing");
		goto out;
	}
	bit = fa_authz_grant_bit(grant_type);
	rc = fa_authz_req_client(az, req, resp, &c, &err);
	if (rc == FA_AUTHZ_HANDLED)
		return;
	if (rc != FA_OK)
		goto out;
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
	if (rc == FA_OK)
		rc = send_tokens(resp, &g, &err);
out:
	token_outcome(az, req, c, bit, &g, rc == FA_OK ? NULL : &err);
	if (rc != FA_OK)
		fa_authz_send_error(az, resp, &err);
	fa_authz_grant_cleanup(&g);
}
