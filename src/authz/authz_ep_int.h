/* authz_ep_int.h -- what the endpoint files of src/authz (ep_*.c, and
 * authz.c which wires the module into the HTTP layer) share: the state only
 * they use, the handlers of the route table, and the answers they build
 * from the logic's results. The logic (authz_int.h) never sees this header
 * or any HTTP type; only the files that include it choose HTTP statuses.
 */
#ifndef FA_AUTHZ_EP_INT_H
#define FA_AUTHZ_EP_INT_H

#include "authz/authz.h"
#include "authz/authz_int.h"
#include "http/http.h"

/* Endpoint state, set once by fa_authz_new. */
struct fa_authz_ep {
	struct fa_authz_login login;     /* browser logins, from identity */
	/* Cookies are Secure unless the operator explicitly serves plain
	 * HTTP to browsers (insecureCookieHeader). */
	bool secure_cookies;
};

/* ---- handlers -------------------------------------------------------------- */

void fa_authz_ep_metadata(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_authz_ep_op_metadata(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_authz_ep_jwks(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_authz_ep_authorize(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_authz_ep_authorize_callback(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_authz_ep_token(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_authz_ep_introspect(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_authz_ep_revoke(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_authz_ep_device_authorize(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_authz_ep_device_get(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_authz_ep_device_post(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_authz_ep_userinfo_get(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_authz_ep_userinfo_post(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_authz_ep_end_session(struct fa_req *req, struct fa_resp *resp, void *app);

/* Shared page and URL pieces (ep_authorize.c, ep_device.c). */
/* An HTML error page with `msg` (escaped); never fails from the caller's
 * view (falls back to a JSON error). */
void fa_authz_error_page(struct fa_resp *resp, int status, const char *msg);
/* Appends `name=value` (value percent-encoded) to the URL in b, after '?'
 * the first time (or '&' when b already has a query); an empty or NULL
 * value appends nothing. */
enum fa_rc fa_authz_url_param(struct fa_buf *b, bool *first, const char *name,
			      const char *value) FA_WUR;
/* Content-Security-Policy for a page whose form leads to `target` (a
 * validated absolute URL, or NULL): the pages' usual policy with
 * form-action widened to target's origin (browsers apply form-action to
 * the redirect a form post ends in), and script-src 'nonce-<nonce>' when
 * nonce is not NULL. */
enum fa_rc fa_authz_page_csp(struct fa_resp *resp, const char *target, const char *nonce,
			     struct fa_err *err) FA_WUR;
/* <input type="hidden" name="name" value="value (escaped)">. */
enum fa_rc fa_authz_page_hidden(struct fa_buf *b, const char *name, const char *value) FA_WUR;

/* The HTTP status of the logic's OAuth error at the token, introspection,
 * revocation and device authorization endpoints (ep_token.c): 500 for
 * server_error or none, 503 temporarily_unavailable, 401 invalid_client,
 * else 400 (RFC 6749 §5.2, RFC 8628 §3.5). The logic never chooses it. */
int fa_authz_status(const struct fa_err *err);
/* The RFC 6749 §5.2 answer for err (ep_token.c): fa_authz_status (500 is
 * logged, with an opaque description when the logic named no error),
 * err->oauth_error, err->msg, and on 401 `WWW-Authenticate: Basic
 * realm="flyteauth"`. */
void fa_authz_send_error(struct fa_authz *az, struct fa_resp *resp, const struct fa_err *err);
/* Writes an audit event (ep_token.c) for a request of an endpoint: the
 * caller fills event, subject, client_id, grant_type (and outcome when it
 * is not success/refused/error); this adds the outcome from err (NULL:
 * success; a 5xx: error; else refused), err's OAuth code as the reason,
 * the client address and the request id. */
void fa_authz_audit(struct fa_authz *az, struct fa_req *req, struct fa_audit *ev,
		    const struct fa_err *err);
/* fa_authz_client_auth with the request's Authorization header, form and
 * client address, never running bcrypt on an HTTP worker: a check that
 * needs it is handed to the blocking-work pool (fa_http_offload), where
 * the handler runs again. Returns FA_AUTHZ_HANDLED when the handler must
 * return at once without answering or counting anything: deferred to the
 * pool, or already answered here (429 slow_down with Retry-After for a
 * throttled caller, 503 temporarily_unavailable when the pool is full).
 * Otherwise as fa_authz_client_auth. */
#define FA_AUTHZ_HANDLED FA_EEXIST
enum fa_rc fa_authz_req_client(struct fa_authz *az, struct fa_req *req, struct fa_resp *resp,
			       const struct fa_authz_client **c, struct fa_err *err) FA_WUR;

#endif
