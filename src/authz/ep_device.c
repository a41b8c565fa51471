/* ep_device.c -- the HTTP side of the device authorization grant (RFC
 * 8628): POST /oauth2/device/authorize, where a headless client gets its
 * device code and user code, and the verification page GET/POST /device,
 * where a logged-in user enters or confirms a user code, sees which client
 * asks for which scopes, and approves or denies. The rules live in
 * device.c; this file only translates requests and results.
 *
 * The page is plain HTML without script, so a script can drive it (SPEC
 * §4): its forms post `user_code` and a hidden `csrf_token`, and the
 * confirmation form adds `action=approve|deny`. Every value written into a
 * page is HTML-escaped; the http layer adds the security headers of HTML
 * pages (CSP without script, frame denial, nosniff) and the route flags
 * Cache-Control: no-store. GET never looks a code up or decides anything:
 * lookups are CSRF-protected POSTs, so a link can neither approve a device
 * nor spend the user's wrong-code allowance. A browser without a login
 * session is sent to identity's /login and comes back to /device with the
 * code it carried.
 */
#include <string.h>

#include "authz/authz_ep_int.h"

/* The verification page's own rules on top of the shared page shell. */
static const char page_style[] =
	"input{font-size:1.2rem;letter-spacing:.1em;text-transform:uppercase}"
	"button{padding:.6rem 1.2rem}.code{font-family:monospace;font-size:1.2rem}";

/* ---- building pages ----------------------------------------------------- */

/* `title` is static text. */
static enum fa_rc page_start(struct fa_buf *b, const char *title)
{
	return fa_http_page_begin(b, title, title, page_style);
}

static enum fa_rc page_who(struct fa_buf *b, const json_t *user)
{
	const char *name = fa_authz_jstr(user, "preferred_username");
	enum fa_rc rc;

	if (name[0] == '\0')
		name = fa_authz_jstr(user, "sub");
	rc = fa_buf_appends(b, "<p>Signed in as <strong>");
	if (rc == FA_OK)
		rc = fa_buf_append_html(b, name);
	if (rc == FA_OK)
		rc = fa_buf_appends(b, "</strong>.</p>\n");
	return rc;
}

/* `message` is static text, or NULL. */
static enum fa_rc page_message(struct fa_buf *b, const char *message)
{
	if (message == NULL)
		return FA_OK;
	return fa_buf_appendf(b, "<p class=\"error\" role=\"alert\">%s</p>\n", message);
}

enum fa_rc fa_authz_page_hidden(struct fa_buf *b, const char *name, const char *value)
{
	enum fa_rc rc = fa_buf_appendf(b, "<input type=\"hidden\" name=\"%s\" value=\"", name);

	if (rc == FA_OK)
		rc = fa_buf_append_html(b, value);
	if (rc == FA_OK)
		rc = fa_buf_appends(b, "\">\n");
	return rc;
}

/* 503 while the store is down (it logged that), else 500. */
static void fail500(struct fa_authz *az, struct fa_resp *resp, const char *what,
		    const struct fa_err *err)
{
	if (fa_store_unavailable(err)) {
		fa_resp_oauth_error(resp, 503, "temporarily_unavailable",
				    "the device page is temporarily unavailable; try again later");
		return;
	}
	fa_log(az->log, FA_LOG_ERROR, "device page: %s: %s", what, err ? err->msg : "");
	fa_resp_oauth_error(resp, 500, "server_error", "the device page is unavailable; try again");
}

/* Sends the page in b (or a 500 if it could not be built) and frees b. */
static void page_send(struct fa_authz *az, struct fa_resp *resp, int status, struct fa_buf *b,
		      enum fa_rc built)
{
	struct fa_err err;

	fa_err_clear(&err);
	if (built == FA_OK)
		built = fa_http_page_end(b);
	if (built != FA_OK)
		fail500(az, resp, "a page could not be built", NULL);
	else if (fa_resp_page(resp, status, b, &err) != FA_OK)
		fail500(az, resp, "a page could not be sent", &err);
	fa_buf_cleanup(b);
}

/* The form to enter (or confirm a prefilled) user code. `token` is the
 * form's CSRF token, or NULL to make a new one for `session`; `prefill`
 * what goes into the field (NULL: empty). */
static void entry_page(struct fa_authz *az, struct fa_resp *resp, int status,
		       const json_t *user, const char *session, const char *token,
		       const char *prefill, const char *message)
{
	char fresh[FA_TOKEN_CHARS + 1];
	struct fa_buf b;
	struct fa_err err;
	enum fa_rc rc;

	fa_err_clear(&err);
	if (token == NULL) {
		if (fa_authz_device_csrf_new(az, session, fresh, &err) != FA_OK) {
			fail500(az, resp, "no form token", &err);
			return;
		}
		token = fresh;
	}
	if (prefill && strnlen(prefill, FA_DEVICE_MAX_USER_CODE_INPUT + 1) >
			       FA_DEVICE_MAX_USER_CODE_INPUT)
		prefill = NULL;
	fa_buf_init(&b, FA_MAX_RESPONSE);
	rc = page_start(&b, "Connect a device");
	if (rc == FA_OK)
		rc = page_who(&b, user);
	if (rc == FA_OK)
		rc = page_message(&b, message);
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, "<p>Enter the code shown on your device.</p>\n"
				    "<form method=\"post\" action=\"/device\">\n");
	if (rc == FA_OK)
		rc = fa_authz_page_hidden(&b, "csrf_token", token);
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, "<label for=\"user_code\">Code</label>"
				    "<input id=\"user_code\" name=\"user_code\" autocomplete=\"off\" "
				    "autocapitalize=\"characters\" spellcheck=\"false\" required "
				    "maxlength=\"32\" value=\"");
	if (rc == FA_OK)
		rc = fa_buf_append_html(&b, prefill);
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, "\">\n<button type=\"submit\">Continue</button>\n</form>\n");
	page_send(az, resp, status, &b, rc);
	fa_memzero(fresh, sizeof(fresh));
}

/* The confirmation: which client, which scopes, approve or deny. */
static void confirm_page(struct fa_authz *az, struct fa_resp *resp, const json_t *user,
			 const char *token, const struct fa_device_view *view)
{
	struct fa_scope sc;
	struct fa_buf b;
	struct fa_err err;
	enum fa_rc rc;

	fa_err_clear(&err);
	if (fa_scope_parse(view->scope, &sc, &err) != FA_OK)
		fa_scope_init(&sc);
	fa_buf_init(&b, FA_MAX_RESPONSE);
	rc = page_start(&b, "Connect a device");
	if (rc == FA_OK)
		rc = page_who(&b, user);
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, "<p>The application <strong>");
	if (rc == FA_OK)
		rc = fa_buf_append_html(&b, view->client->id);
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, "</strong> on a device asks to act as you with these "
				    "scopes:</p>\n<ul>\n");
	for (size_t i = 0; rc == FA_OK && i < sc.n; i++) {
		rc = fa_buf_appends(&b, "<li>");
		if (rc == FA_OK)
			rc = fa_buf_append_html(&b, fa_scope_get(&sc, i));
		if (rc == FA_OK)
			rc = fa_buf_appends(&b, "</li>\n");
	}
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, "</ul>\n<p>Approve only if you started this on your device "
				    "and it shows the code <span class=\"code\">");
	if (rc == FA_OK)
		rc = fa_buf_append_html(&b, view->user_code);
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, "</span>.</p>\n<form method=\"post\" action=\"/device\">\n");
	if (rc == FA_OK)
		rc = fa_authz_page_hidden(&b, "csrf_token", token);
	if (rc == FA_OK)
		rc = fa_authz_page_hidden(&b, "user_code", view->user_code);
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, "<button type=\"submit\" name=\"action\" value=\"approve\">"
				    "Approve</button>\n<button type=\"submit\" name=\"action\" "
				    "value=\"deny\">Deny</button>\n</form>\n");
	page_send(az, resp, 200, &b, rc);
}

static void done_page(struct fa_authz *az, struct fa_resp *resp, bool approved,
		      const struct fa_device_view *view)
{
	struct fa_buf b;
	enum fa_rc rc;

	fa_buf_init(&b, FA_MAX_RESPONSE);
	rc = page_start(&b, approved ? "Device connected" : "Device denied");
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, "<p><strong>");
	if (rc == FA_OK)
		rc = fa_buf_append_html(&b, view->client->id);
	if (rc == FA_OK)
		rc = fa_buf_appends(&b, approved ? "</strong> on your device is now signed in. You "
						   "can close this window and return to your device.</p>\n"
						 : "</strong> on the device was refused access. You "
						   "can close this window.</p>\n");
	page_send(az, resp, 200, &b, rc);
}

/* ---- the verification page ------------------------------------------------ */

/* The logged-in user and the session's cookie value (which device.c only
 * ever hashes): FA_ENOTFOUND when nobody is logged in. */
static enum fa_rc who(struct fa_authz *az, struct fa_req *req, json_t **user,
		      const char **session, struct fa_err *err)
{
	enum fa_rc rc;

	*user = NULL;
	*session = NULL;
	if (!az->ep->login.session_user || !az->ep->login.session_cookie)
		return FA_ENOTFOUND;
	rc = az->ep->login.session_user(az->ep->login.identity, req, user, err);
	if (rc != FA_OK)
		return rc;
	*session = fa_req_cookie(req, az->ep->login.session_cookie);
	if (*session == NULL) {
		json_decref(*user);
		*user = NULL;
		return FA_ENOTFOUND;
	}
	return FA_OK;
}

/* To /login, back to /device with the code (only a well-formed one: it is
 * then plain letters and a dash, nothing that needs escaping). */
static void to_login(struct fa_authz *az, struct fa_req *req, struct fa_resp *resp, int status,
		     const char *user_code)
{
	char norm[FA_DEVICE_USER_CODE_LEN + 1], shown[FA_DEVICE_USER_CODE_SHOWN + 1];
	const char *ret = "/device", *login;
	struct fa_err err;

	fa_err_clear(&err);
	if (fa_authz_user_code_normalize(user_code, norm)) {
		fa_authz_user_code_format(norm, shown);
		ret = fa_arena_printf(fa_req_arena(req), "/device?user_code=%s", shown);
	}
	login = ret && az->ep->login.login_url ? az->ep->login.login_url(req, ret) : NULL;
	if (!login || fa_resp_redirect(resp, status, login, &err) != FA_OK)
		fail500(az, resp, "cannot redirect to the login page", &err);
}

void fa_authz_ep_device_get(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_authz *az = app;
	const char *code = fa_req_query(req, "user_code");
	const char *session;
	json_t *user = NULL;
	struct fa_err err;
	enum fa_rc rc;

	fa_err_clear(&err);
	rc = who(az, req, &user, &session, &err);
	if (rc == FA_ENOTFOUND) {
		to_login(az, req, resp, 302, code);
		return;
	}
	if (rc != FA_OK) {
		fail500(az, resp, "session lookup failed", &err);
		return;
	}
	entry_page(az, resp, 200, user, session, NULL, code, NULL);
	json_decref(user);
}

/* Answers a refused lookup or decision with the entry form again. */
static void refused(struct fa_authz *az, struct fa_resp *resp, const json_t *user,
		    const char *session, const char *token, const char *code,
		    const struct fa_err *err, int64_t retry_after)
{
	char retry[24];

	/* Only the wrong-code throttle says how long to wait. */
	if (retry_after > 0) {
		entry_page(az, resp, 429, user, session, token, code,
			   "Too many wrong codes. Please wait a few minutes and try again.");
		snprintf(retry, sizeof(retry), "%lld", (long long)retry_after);
		if (fa_resp_header(resp, "Retry-After", retry, NULL) != FA_OK)
			fa_log(az->log, FA_LOG_ERROR, "device page: cannot set Retry-After");
		return;
	}
	switch (err->rc) {
	case FA_EINVAL:
		entry_page(az, resp, 400, user, session, token, code,
			   "Enter the code shown on your device.");
		return;
	case FA_ENOTFOUND:
		entry_page(az, resp, 400, user, session, token, code,
			   "That code is not valid or has expired. Check the code shown on your "
			   "device and try again.");
		return;
	case FA_ECONFLICT:
		entry_page(az, resp, 409, user, session, token, NULL,
			   "This code was already approved or denied.");
		return;
	default:
		fail500(az, resp, "lookup failed", err);
		return;
	}
}

void fa_authz_ep_device_post(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_authz *az = app;
	const char *code = fa_req_form(req, "user_code");
	const char *action = fa_req_form(req, "action");
	const char *token = fa_req_form(req, "csrf_token");
	const char *addr = fa_req_client_addr(req);
	const char *session;
	struct fa_device_view view;
	json_t *user = NULL;
	int64_t retry_after = 0;
	bool approve;
	struct fa_err err;
	enum fa_rc rc;

	fa_err_clear(&err);
	rc = who(az, req, &user, &session, &err);
	if (rc == FA_ENOTFOUND) {
		to_login(az, req, resp, 303, code);
		return;
	}
	if (rc != FA_OK) {
		fail500(az, resp, "session lookup failed", &err);
		return;
	}
	rc = fa_authz_device_csrf_check(az, session, token, &err);
	if (rc == FA_EDENIED) {
		/* Not an error page: the user's own stale tab lands here too.
		 * Nothing was looked up or counted. */
		fa_log(az->log, FA_LOG_WARN, "device page: form refused from %s: %s", addr, err.msg);
		entry_page(az, resp, 403, user, session, NULL, code,
			   "This form has expired or did not come from this page. Please try again.");
		goto out;
	}
	if (rc != FA_OK) {
		fail500(az, resp, "form token check failed", &err);
		goto out;
	}
	if (action == NULL) {
		rc = fa_authz_device_lookup(az, code, session, addr, &view, &retry_after, &err);
		if (rc == FA_OK)
			confirm_page(az, resp, user, token, &view);
		else
			refused(az, resp, user, session, token, code, &err, retry_after);
		goto out;
	}
	if (strcmp(action, "approve") != 0 && strcmp(action, "deny") != 0) {
		entry_page(az, resp, 400, user, session, token, code, "Choose approve or deny.");
		goto out;
	}
	approve = strcmp(action, "approve") == 0;
	memset(&view, 0, sizeof(view));
	rc = fa_authz_device_decide(az, code, session, addr, user, approve, &view, &retry_after,
				    &err);
	/* Who decided, for which client; never the user code. */
	fa_authz_audit(az, req, &(struct fa_audit){
			       .event = "device",
			       .outcome = rc != FA_OK ? NULL : approve ? "approved" : "denied",
			       .subject = fa_authz_jstr(user, "sub"),
			       .client_id = view.client ? view.client->id : NULL },
		       rc == FA_OK ? NULL : &err);
	if (rc == FA_OK)
		done_page(az, resp, approve, &view);
	else
		refused(az, resp, user, session, token, code, &err, retry_after);
out:
	json_decref(user);
}

/* ---- the device authorization endpoint (RFC 8628 §3.1-3.2) ---------------- */

static enum fa_rc send_auth(struct fa_authz *az, struct fa_req *req, struct fa_resp *resp,
			    const struct fa_device_auth *da, struct fa_err *err)
{
	struct fa_arena *a = fa_req_arena(req);
	const char *uri = fa_arena_printf(a, "%s/device", az->issuer);
	const char *complete = fa_arena_printf(a, "%s/device?user_code=%s", az->issuer,
					       da->user_code);
	json_t *o = NULL;

	if (uri && complete)
		o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "device_code", da->device_code,
			      "user_code", da->user_code, "verification_uri", uri,
			      "verification_uri_complete", complete,
			      "expires_in", (json_int_t)da->expires_in,
			      "interval", (json_int_t)da->interval);
	if (!o)
		return fa_err_oauth(err, FA_ENOMEM, "server_error", "out of memory");
	return fa_resp_json(resp, 200, o, err);
}

void fa_authz_ep_device_authorize(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_authz *az = app;
	const struct fa_authz_client *c = NULL;
	struct fa_device_auth da;
	struct fa_err err;
	int64_t retry = 0;
	char ra[24];
	enum fa_rc rc;

	memset(&da, 0, sizeof(da));
	fa_err_clear(&err);
	/* As at the token endpoint: who the client is before anything else. */
	rc = fa_authz_req_client(az, req, resp, &c, &err);
	if (rc == FA_AUTHZ_HANDLED)
		return;
	/* Unauthenticated for a public client: rate and pending cap before
	 * anything is written (admit.c). */
	if (rc == FA_OK && (c->grants & FA_GRANT_DEVICE) &&
	    (rc = fa_authz_admit(az, FA_ADMIT_DEVICE, fa_req_client_addr(req), c->id, &retry,
				 &err)) != FA_OK && !fa_store_unavailable(&err)) {
		bool cap = strcmp(err.oauth_error, "temporarily_unavailable") == 0;

		/* RFC 8628's slow_down, as a 429 over a rate and a 503 over
		 * the cap; either way with Retry-After. */
		fa_resp_oauth_error(resp, cap ? 503 : 429, "slow_down", err.msg);
		snprintf(ra, sizeof(ra), "%lld", (long long)retry);
		if (fa_resp_header(resp, "Retry-After", ra, NULL) != FA_OK)
			fa_log(az->log, FA_LOG_ERROR, "cannot set Retry-After");
		return;
	}
	if (rc == FA_OK)
		rc = fa_authz_device_start(az, c, fa_req_form(req, "scope"),
					   fa_req_form(req, "audience"), &da, &err);
	if (rc == FA_OK)
		rc = send_auth(az, req, resp, &da, &err);
	if (rc == FA_OK) {
		fa_log(az->log, FA_LOG_INFO, "device authorization started for client %s "
		       "(expires in %llds)", c->id, (long long)da.expires_in);
	} else {
		if (c && fa_authz_status(&err) < 500)
			fa_log(az->log, FA_LOG_INFO, "device authorization refused: client %s: %s: %s",
			       c->id, err.oauth_error ? err.oauth_error : "?", err.msg);
		fa_authz_send_error(az, resp, &err);
	}
	fa_memzero(&da, sizeof(da));
}
