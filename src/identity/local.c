/* local.c -- the local-users provider: users from auth.userAuth.localUsers
 * (and the development user on embedded defaults), the login form of SPEC
 * §4, its CSRF protection, and the password check.
 *
 * The form is plain HTML without script, so curl or a test can drive it:
 * it posts `username`, `password`, a hidden `csrf_token` and the
 * `redirect_url` to /login. CSRF protection is csrf.c's signed
 * double-submit pair, scoped to /login.
 *
 * A wrong password and an unknown user get byte-for-byte the same answer
 * (401, the form again with one generic message) after the same work (one
 * bcrypt at the users' cost), and both count against the throttle.
 * Passwords never reach a log line or a message.
 */
#include <string.h>

#include "identity/identity_int.h"

#define INSTALL_KIND "install"
#define DEV_KEY "localuser:" FA_IDENTITY_DEV_USER

static const char generic_failure[] = "Invalid username or password.";

/* ---- users ------------------------------------------------------------------ */

/* Reads the development user's hash from the store, creating the user
 * (random password, bcrypt cost 10) if this is the installation's first
 * start. INSERT makes the first of several starting instances win. */
static enum fa_rc dev_user_load(struct fa_identity *id, struct fa_local_user *u,
				char **dev_password, struct fa_err *err)
{
	struct fa_store_rec rec = { 0 };
	char password[FA_TOKEN_CHARS + 1];
	char b64[FA_BCRYPT_B64_LEN + 1];
	json_t *doc = NULL;
	char *value = NULL;
	int64_t now = fa_now();
	enum fa_rc rc;

	u->username = FA_IDENTITY_DEV_USER;
	u->name = "";
	u->email = "";
	rc = fa_store_get(id->store, INSTALL_KIND, DEV_KEY, now, &rec, err);
	if (rc == FA_ENOTFOUND) {
		struct fa_store_op op = { .type = FA_STORE_INSERT, .kind = INSTALL_KIND,
					  .key = DEV_KEY,
					  .expires_at = now + FA_STORE_MAX_TTL_S };

		rc = fa_rand_token(password);
		if (rc == FA_OK)
			rc = fa_secret_hash(password, strlen(password), FA_BCRYPT_COST_DEFAULT,
					    b64, u->hash, err);
		if (rc != FA_OK)
			goto out;
		doc = json_pack("{s:s, s:s}", "username", FA_IDENTITY_DEV_USER, "password_hash",
				u->hash);
		value = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
		if (!value) {
			rc = fa_err_set(err, FA_ENOMEM, "cannot serialise the development user");
			goto out;
		}
		op.value = value;
		rc = fa_store_apply(id->store, &op, 1, now, err);
		if (rc == FA_OK) {
			if (dev_password) {
				*dev_password = fa_strndup(password, strlen(password));
				if (!*dev_password)
					rc = fa_err_set(err, FA_ENOMEM, "out of memory");
			}
			goto out;
		}
		if (rc != FA_EEXIST)
			goto out;
		/* Another instance created it a moment ago: use theirs. */
		rc = fa_store_get(id->store, INSTALL_KIND, DEV_KEY, now, &rec, err);
	}
	if (rc != FA_OK)
		goto out;
	json_decref(doc);
	if (fa_json_load(rec.value, rec.len, "development user", &doc, NULL) != FA_OK)
		doc = NULL;     /* then the hash below is missing: malformed */
	if (fa_secret_hash_parse(json_string_value(json_object_get(doc, "password_hash")),
				 u->hash, NULL) != FA_OK)
		rc = fa_err_oauth(err, FA_ESTORE, "server_error",
				  "the development user's record is malformed");
out:
	fa_memzero(password, sizeof(password));
	free(value);
	json_decref(doc);
	fa_store_rec_cleanup(&rec);
	return rc;
}

enum fa_rc fa_identity_dev_forget(struct fa_store *store, struct fa_err *err)
{
	struct fa_store_op op = { .type = FA_STORE_DELETE, .kind = INSTALL_KIND, .key = DEV_KEY,
				  .if_exists = true };

	return fa_store_apply(store, &op, 1, fa_now(), err);
}

enum fa_rc fa_identity_local_init(struct fa_identity *id, bool dev_default_user,
				  char **dev_password, struct fa_err *err)
{
	const struct fa_config *cfg = id->cfg;
	size_t n = cfg->auth.user_auth.local_users_count;
	bool dev = dev_default_user && n == 0;
	char secret[FA_TOKEN_CHARS + 1], b64[FA_BCRYPT_B64_LEN + 1], pos[256];
	unsigned cost = FA_BCRYPT_COST_DEFAULT;
	struct fa_err why;
	enum fa_rc rc = FA_OK;

	id->users = calloc(n + 1, sizeof(*id->users));
	if (!id->users)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct fa_config_user *cu = &cfg->auth.user_auth.local_users[i];
		struct fa_local_user *u = &id->users[id->n_users];

		fa_err_clear(&why);
		if (fa_secret_hash_parse(cu->password_hash, u->hash, &why) != FA_OK)
			return fa_err_set(err, FA_ECONFIG, "%s: local user %s: passwordHash: %s",
					  fa_config_pos_format(&cu->hash_pos, pos, sizeof(pos)),
					  cu->username, why.msg);
		u->username = cu->username;
		u->name = cu->name;
		u->email = cu->email;
		u->email_verified = cu->email_verified;
		u->groups = &cu->groups;
		id->n_users++;
	}
	if (dev) {
		rc = dev_user_load(id, &id->users[id->n_users], dev_password, err);
		if (rc != FA_OK)
			return rc;
		id->n_users++;
	}
	/* Unknown users cost what a known one costs: one bcrypt at the cost
	 * of the first user's hash. */
	if (id->n_users > 0)
		cost = (unsigned)(id->users[0].hash[4] - '0') * 10 +
		       (unsigned)(id->users[0].hash[5] - '0');
	rc = fa_rand_token(secret);
	if (rc == FA_OK)
		rc = fa_secret_hash(secret, strlen(secret), cost, b64, id->dummy_hash, err);
	fa_memzero(secret, sizeof(secret));
	if (rc != FA_OK)
		return rc;
	if (id->n_users == 0 && !id->idp)
		fa_log_warnx(id->log, "identity: no local users are configured "
			     "(auth.userAuth.localUsers) and no IdP: nobody can log in");
	return FA_OK;
}

/* The configured user of that name, or NULL. */
static const char *known_user(const struct fa_identity *id, const char *username)
{
	for (size_t i = 0; i < id->n_users; i++)
		if (strcmp(id->users[i].username, username) == 0)
			return id->users[i].username;
	return NULL;
}

/* A login's audit event. A name that is not a configured user is left
 * out: it may be a password typed into the wrong field. */
static void audit(const struct fa_identity *id, struct fa_req *req, const char *username,
		  const char *outcome, const char *reason)
{
	fa_log_audit(id->log, &(struct fa_audit){
		.event = "login",
		.outcome = outcome,
		.subject = known_user(id, username),
		.reason = reason,
		.remote_addr = fa_req_client_addr(req),
		.request_id = fa_req_id(req),
	});
}

/* The user's OIDC claims (SPEC §3: a local user's subject and
 * preferred_username are its username); NULL when memory runs out. */
static json_t *user_json(const struct fa_local_user *u)
{
	json_t *o = json_pack("{s:s, s:s}", "sub", u->username, "preferred_username", u->username);
	json_t *g;
	bool ok = o != NULL;

	if (ok && u->name[0])
		ok = json_object_set_new(o, "name", json_string(u->name)) == 0;
	if (ok && u->email[0]) {
		ok = json_object_set_new(o, "email", json_string(u->email)) == 0 &&
		     json_object_set_new(o, "email_verified", json_boolean(u->email_verified)) == 0;
	}
	if (ok && u->groups && u->groups->count > 0) {
		g = json_array();
		ok = g && json_object_set_new(o, "groups", g) == 0;
		for (size_t i = 0; ok && i < u->groups->count; i++)
			ok = json_array_append_new(g, json_string(u->groups->items[i])) == 0;
	}
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

enum fa_rc fa_identity_local_check(const struct fa_identity *id, const char *username,
				   const char *password, json_t **user, struct fa_err *err)
{
	const struct fa_local_user *u = NULL;
	size_t plen = strnlen(password, FA_MAX_PASSWORD + 1);
	enum fa_rc rc;

	*user = NULL;
	for (size_t i = 0; i < id->n_users; i++)
		if (strcmp(id->users[i].username, username) == 0)
			u = &id->users[i];
	/* Same work either way (see dummy_hash). */
	rc = fa_secret_check(u ? u->hash : id->dummy_hash, password, plen, NULL);
	if (rc == FA_OK && !u)
		rc = FA_EDENIED;
	if (rc == FA_EDENIED)
		return fa_err_oauth(err, FA_EDENIED, "access_denied", "%s", generic_failure);
	if (rc != FA_OK)
		return fa_err_set(err, rc, "password check failed");
	*user = user_json(u);
	if (!*user)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	return FA_OK;
}

/* ---- the form ----------------------------------------------------------------- */

/* The login page's policy: the default CSP minus form-action. After a
 * successful post the browser follows redirects to the authorized origin
 * and on to an OAuth client's redirect_uri, which form-action would block
 * in browsers that check redirects; the form's own action is the fixed
 * "/login". */
const char fa_identity_page_csp[] =
	"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
	"frame-ancestors 'none'; base-uri 'none'";

/* The login page's own rules on top of the shared page shell. */
static const char page_style[] = "main{max-width:22rem}button{width:100%}";

/* The login form. message is static text or NULL; every other value is
 * escaped. */
static enum fa_rc form_page(struct fa_buf *b, const char *message, const char *token,
			    const char *redirect_url, const char *username,
			    const char *idp_label, const char *idp_href)
{
	enum fa_rc rc = fa_http_page_begin(b, "Sign in", "Sign in to Flyte", page_style);

	if (rc == FA_OK && message)
		rc = fa_buf_appendf(b, "<p class=\"error\" role=\"alert\">%s</p>\n", message);
	/* With an upstream IdP beside local users: the IdP first (most
	 * people), the form below for break-glass accounts. */
	if (rc == FA_OK && idp_label && idp_href) {
		rc = fa_buf_appends(b, "<p><a class=\"button\" id=\"idp\" href=\"");
		if (rc == FA_OK)
			rc = fa_buf_append_html(b, idp_href);
		if (rc == FA_OK)
			rc = fa_buf_appends(b, "\">Sign in with ");
		if (rc == FA_OK)
			rc = fa_buf_append_html(b, idp_label);
		if (rc == FA_OK)
			rc = fa_buf_appends(b, "</a></p>\n<p>Or with a local account:</p>\n");
	}
	if (rc == FA_OK)
		rc = fa_buf_appendf(b, "<form method=\"post\" action=\"/login\">\n"
				    "<input type=\"hidden\" name=\"csrf_token\" value=\"%s\">\n"
				    "<input type=\"hidden\" name=\"redirect_url\" value=\"", token);
	if (rc == FA_OK)
		rc = fa_buf_append_html(b, redirect_url);
	if (rc == FA_OK)
		rc = fa_buf_appends(b, "\">\n<label for=\"username\">Username</label>"
				    "<input id=\"username\" name=\"username\" autocomplete=\"username\" "
				    "autocapitalize=\"none\" required value=\"");
	if (rc == FA_OK)
		rc = fa_buf_append_html(b, username);
	if (rc == FA_OK)
		rc = fa_buf_appends(b, "\">\n<label for=\"password\">Password</label>"
				    "<input id=\"password\" name=\"password\" type=\"password\" "
				    "autocomplete=\"current-password\" required>\n"
				    "<button type=\"submit\">Sign in</button>\n</form>");
	if (rc == FA_OK)
		rc = fa_http_page_end(b);
	return rc;
}

/* 503 while the store is down (it logged that; the user may retry), else
 * 500. */
void fa_identity_fail500(struct fa_identity *id, struct fa_resp *resp, const struct fa_err *e)
{
	if (fa_store_unavailable(e)) {
		fa_resp_oauth_error(resp, 503, "temporarily_unavailable",
				    "login is temporarily unavailable; try again later");
		return;
	}
	fa_log_warnx(id->log, "identity: login failed internally: %s: %s", fa_rc_str(e->rc),
		     e->msg);
	fa_resp_oauth_error(resp, 500, "server_error", "login is unavailable");
}

/* Answers `status` with a fresh form (new nonce, new CSRF cookie). username
 * is echoed back escaped (may be NULL), message is shown above the form
 * (static text or NULL). */
static void render_form(struct fa_identity *id, struct fa_req *req, struct fa_resp *resp,
			int status, const char *redirect_url, const char *username,
			const char *message)
{
	char token[FA_TOKEN_CHARS + 1];
	struct fa_arena *a = fa_req_arena(req);
	const char *idp_href = NULL;
	struct fa_buf page;
	struct fa_err e;

	fa_err_clear(&e);
	fa_buf_init(&page, FA_MAX_RESPONSE);
	if (fa_identity_csrf_issue(id, req, resp, "/login", redirect_url, token, &e) != FA_OK) {
		if (e.rc == FA_EINVAL)
			fa_resp_oauth_error(resp, 400, "invalid_request", e.msg);
		else
			fa_identity_fail500(id, resp, &e);
		goto out;
	}
	if (id->idp) {
		const char *esc = fa_identity_query_escape(a, redirect_url);

		idp_href = esc ? fa_arena_printf(a, "/login?upstream=1&redirect_url=%s", esc) : NULL;
	}
	if (form_page(&page, message, token, redirect_url, username ? username : "",
		      id->idp_label, idp_href) != FA_OK) {
		e.rc = FA_ENOMEM;
		fa_identity_fail500(id, resp, &e);
		goto out;
	}
	if (fa_resp_header(resp, "Content-Security-Policy", fa_identity_page_csp, &e) != FA_OK ||
	    fa_resp_page(resp, status, &page, &e) != FA_OK)
		fa_identity_fail500(id, resp, &e);
out:
	fa_buf_cleanup(&page);
	fa_memzero(token, sizeof(token));
}

static void local_login_get(struct fa_identity *id, struct fa_req *req, struct fa_resp *resp,
			    const char *redirect_url)
{
	/* OpenID Connect's login_hint, passed on by the authorization
	 * server: pre-fills the username (a hint only; nothing trusts it). */
	const char *hint = fa_req_query(req, "login_hint");

	if (hint && strnlen(hint, FA_MAX_ID + 1) > FA_MAX_ID)
		hint = NULL;
	render_form(id, req, resp, 200, redirect_url, hint, NULL);
}

/* 503 when the blocking-work pool is full: a page that costs nothing to
 * build (no store, no new form), so that answering a flood stays cheap. */
static void busy_page(struct fa_identity *id, struct fa_resp *resp)
{
	struct fa_buf page;
	struct fa_err e;
	enum fa_rc rc;

	fa_err_clear(&e);
	fa_metrics_throttle(id->metrics, FA_ML_LOGIN);
	fa_buf_init(&page, FA_MAX_RESPONSE);
	rc = fa_http_page_begin(&page, "Sign in", "Sign in to Flyte", page_style);
	if (rc == FA_OK)
		rc = fa_buf_appends(&page, "<p class=\"error\" role=\"alert\">Too many sign-ins are "
				    "being checked right now. Please wait a moment, then go back "
				    "and sign in again.</p>\n<p><a href=\"/login\">Sign in</a></p>");
	if (rc == FA_OK)
		rc = fa_http_page_end(&page);
	if (rc != FA_OK || fa_resp_page(resp, 503, &page, &e) != FA_OK ||
	    fa_resp_header(resp, "Retry-After", "1", &e) != FA_OK)
		fa_resp_oauth_error(resp, 503, "temporarily_unavailable",
				    "login is busy; try again in a moment");
	fa_buf_cleanup(&page);
}

static void local_login_post(struct fa_identity *id, struct fa_req *req, struct fa_resp *resp)
{
	const char *redirect = fa_req_form(req, "redirect_url");
	const char *username = fa_req_form(req, "username");
	const char *password = fa_req_form(req, "password");
	const char *addr = fa_req_client_addr(req);
	const char *saved = NULL;
	char retry[24];
	int64_t wait = 0;
	json_t *user = NULL;
	struct fa_err e;
	enum fa_rc rc;

	fa_err_clear(&e);
	/* The whole post runs on the blocking-work pool (bcrypt never runs on
	 * an HTTP worker, and a flood of posts costs the workers nothing but
	 * this): the handler is called again there. */
	if (!fa_req_offloaded(req)) {
		if (!fa_http_offload(req))
			busy_page(id, resp);
		return;
	}
	rc = fa_identity_csrf_verify(id, req, "/login", &saved);
	if (rc == FA_ENOMEM) {
		e.rc = rc;
		fa_identity_fail500(id, resp, &e);
		return;
	}
	if (!redirect)
		redirect = (saved && saved[0]) ? saved : id->cfg->auth.user_auth.redirect_url;
	if (fa_identity_redirect_check(id->origins, id->n_origins, redirect, &e) != FA_OK) {
		fa_resp_oauth_error(resp, 400, "invalid_request", e.msg);
		return;
	}
	if (rc != FA_OK) {
		render_form(id, req, resp, 403, redirect, username,
			    "Your sign-in form has expired. Please sign in again.");
		return;
	}
	if (!username || !password) {
		render_form(id, req, resp, 400, redirect, username,
			    "Enter your username and password.");
		return;
	}
	/* (throttle.c) Checked before the password is looked at. */
	rc = fa_identity_throttle_check(id->store, addr, username, fa_now(), &wait, &e);
	if (rc == FA_EDENIED) {
		snprintf(retry, sizeof(retry), "%lld", (long long)wait);
		fa_metrics_throttle(id->metrics, FA_ML_LOGIN);
		audit(id, req, username, "refused", "throttled");
		render_form(id, req, resp, 429, redirect, username,
			    "Too many failed sign-in attempts. Please wait and try again.");
		if (fa_resp_header(resp, "Retry-After", retry, NULL) != FA_OK)
			fa_log_warnx(id->log, "identity: cannot set Retry-After");
		return;
	}
	if (rc != FA_OK) {
		fa_identity_fail500(id, resp, &e);     /* fail closed: no store, no guessing */
		return;
	}
	rc = fa_identity_local_check(id, username, password, &user, &e);
	if (rc == FA_EDENIED) {
		fa_metrics_login(id->metrics, false);
		audit(id, req, username, "failure",
		      known_user(id, username) ? "wrong password" : "unknown user");
		if (fa_identity_throttle_fail(id->store, addr, username, fa_now(), &e) != FA_OK)
			fa_log_warnx(id->log, "identity: cannot count a failed login: %s", e.msg);
		render_form(id, req, resp, 401, redirect, username, generic_failure);
		return;
	}
	if (rc != FA_OK) {
		fa_identity_fail500(id, resp, &e);
		return;
	}
	fa_metrics_login(id->metrics, true);
	audit(id, req, username, "success", NULL);
	rc = fa_identity_session_start(id, req, resp, user, NULL, &e);
	json_decref(user);
	if (rc == FA_OK)
		rc = fa_identity_cookie_set(id, resp, FA_IDENTITY_CSRF_COOKIE, "", "/login", 0, &e);
	if (rc == FA_OK)
		rc = fa_resp_redirect(resp, 303, redirect, &e);
	if (rc != FA_OK)
		fa_identity_fail500(id, resp, &e);
}

/* A local user stays a user while the config (or the development user's
 * record, loaded at start) names it: removing alice from localUsers and
 * restarting ends her sessions and refresh families. */
static enum fa_rc local_user_check(const struct fa_identity *id, const json_t *user,
				   struct fa_err *err)
{
	const char *sub = json_string_value(json_object_get(user, "sub"));

	if (sub && known_user(id, sub))
		return FA_OK;
	return fa_err_oauth(err, FA_EDENIED, "access_denied", "the user no longer exists");
}

const struct fa_identity_provider fa_identity_local_provider = {
	.name = "local",
	.login_get = local_login_get,
	.login_post = local_login_post,
	.user_check = local_user_check,
};
