/* client.c -- the client's public API: building a client from the config
 * file and the environment, and the four operations on top of the flows
 * and the cache -- a token (cached, refreshed once across processes, or
 * from the flow), login, whoami, logout -- plus the hints the CLI prints.
 * The flows live in pkce.c, device.c and grant.c; the cache in cache.c.
 *
 * Token states, and the function that moves between them:
 *   NONE -> FRESH               [run_flow: login, or token on a terminal]
 *   FRESH -> DUE                (time passes: within the refresh window)
 *   DUE -> FRESH                [refresh_locked: refresh grant succeeded]
 *   DUE -> DUE                  [refresh failed: the cached file is kept and
 *                                the still-valid access token is used]
 *   DUE/EXPIRED -> FRESH        [run_flow, when interactive or ClientSecret]
 *   any -> NONE                 [fa_client_logout]
 * Every transition that writes happens under the cache lock. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/client_int.h"

/* Extra time a process waits for the cache lock beyond the longest flow
 * another process may be running under it. */
#define LOCK_SLACK_MS (60LL * 1000)

/* ---- new / free --------------------------------------------------------------------------- */

static enum fa_rc load_config(struct fa_client *c, const struct fa_client_opts *o,
			      struct fa_err *err)
{
	const char *path = o->config_path;
	char def[1024];
	struct stat st;
	enum fa_rc rc;

	if (o->config) {
		c->cfg = o->config;
		return FA_OK;
	}
	if (!path || !*path)
		path = getenv("FLYTECTL_CONFIG");
	if (!path || !*path) {
		const char *home = getenv("HOME");
		int w = home && *home ? snprintf(def, sizeof(def), "%s/.flyte/config.yaml", home) : -1;
		/* No config file is fine: the environment may say everything. */
		if (w < 0 || (size_t)w >= sizeof(def) || (stat(def, &st) != 0 && errno == ENOENT)) {
			c->own_cfg = fa_client_config_new_defaults();
			c->cfg = c->own_cfg;
			return c->cfg ? FA_OK : fa_err_set(err, FA_ENOMEM, "out of memory");
		}
		path = def;
	}
	rc = fa_client_config_load(path, o->diag, &c->own_cfg, err);
	c->cfg = c->own_cfg;
	return rc;
}

/* The HTTP settings every request of this client shares. caCertFilePath
 * replaces the system's CAs (only that file is trusted, as in flytectl). */
static enum fa_rc net_new(struct fa_client *c, struct fa_err *err)
{
	const struct fa_client_config *cfg = c->cfg;
	struct fa_remote_opts ro = {
		.system_ca_file = cfg->ca_cert_file_path,
		.proxy_url = cfg->http_proxy_url,
		.insecure_skip_verify = cfg->insecure_skip_verify,
		.connect_timeout_ms = FA_CLIENT_CONNECT_TIMEOUT_S * 1000,
		.timeout_ms = FA_CLIENT_HTTP_TIMEOUT_S * 1000,
	};
	struct fa_err e;
	enum fa_rc rc;

	fa_err_clear(&e);
	rc = fa_remote_new(&ro, &c->net, &e);
	if (rc == FA_EINVAL)
		/* Only the proxy URL can be wrong here. */
		return fa_err_set(err, FA_ECONFIG, "admin.httpProxyURL: %s", e.msg);
	if (rc != FA_OK)
		return fa_err_set(err, rc, "%s", e.msg);
	return FA_OK;
}

enum fa_rc fa_client_new(const struct fa_client_opts *o, struct fa_client **out,
			 struct fa_err *err)
{
	struct fa_client *c;
	enum fa_rc rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	c->prompt = o->prompt ? o->prompt : stderr;
	c->log = o->log;
	c->interactive = o->interactive;
	c->paste = o->paste;
	c->prompt_qr = o->prompt_qr;
	rc = load_config(c, o, err);
	if (rc == FA_OK)
		rc = cl_settings_resolve(c->cfg, &c->s, err);
	if (rc == FA_OK)
		rc = cl_cache_dir(o->cache_dir, c->cache_dir, sizeof(c->cache_dir), err);
	if (rc == FA_OK)
		rc = net_new(c, err);
	if (rc != FA_OK) {
		fa_client_free(c);
		return rc;
	}
	if (c->cfg->insecure_skip_verify)
		cl_warn(c, "admin.insecureSkipVerify is on: the server's TLS certificate is not "
			"checked");
	*out = c;
	return FA_OK;
}

void fa_client_free(struct fa_client *c)
{
	if (!c)
		return;
	cl_settings_cleanup(&c->s);
	cl_discovery_cleanup(c);
	fa_client_config_free(c->own_cfg);
	fa_remote_free(c->net);
	free(c);
}

const char *fa_client_endpoint(const struct fa_client *c)
{
	return c->s.base_url;
}

enum fa_client_auth_type fa_client_auth_type(const struct fa_client *c)
{
	return c->s.auth_type;
}

const char *fa_client_header_name(const struct fa_client *c)
{
	if (*c->s.header)
		return c->s.header;
	if (*c->header)
		return c->header;
	return "authorization";
}

enum fa_rc fa_client_cache_path(const struct fa_client *c, char *out, size_t cap,
				struct fa_err *err)
{
	return cl_cache_path(c->cache_dir, c->s.base_url, out, cap, err);
}

/* ---- the cache around the flows ----------------------------------------------------------- */

static void remember_header(struct fa_client *c, const struct cl_token *t)
{
	if (t->header && *t->header && strlen(t->header) < sizeof(c->header))
		snprintf(c->header, sizeof(c->header), "%s", t->header);
}

/* Whether a cached token belongs to this client's settings: the same
 * endpoint, auth type, token URL when one is configured, and client id when
 * one is known -- a token is never offered where it was not issued for. */
static bool bound_ok(const struct fa_client *c, const struct cl_token *t)
{
	const char *want = *c->s.client_id ? c->s.client_id :
			   c->s.auth_type == FA_CLIENT_AUTH_CLIENT_SECRET ? "flytepropeller" : NULL;

	if (t->auth_type != c->s.auth_type || strcmp(t->endpoint, c->s.base_url) != 0)
		return false;
	if (want && strcmp(t->client_id, want) != 0)
		return false;
	if (*c->cfg->token_url && strcmp(t->token_url, c->cfg->token_url) != 0) /* not secret */
		return false;
	return true;
}

static int64_t refresh_window_s(const struct fa_client *c)
{
	switch (c->s.auth_type) {
	case FA_CLIENT_AUTH_PKCE:
		return c->cfg->pkce_refresh_time_ms / 1000;
	case FA_CLIENT_AUTH_DEVICE_FLOW:
		return c->cfg->device_refresh_time_ms / 1000;
	case FA_CLIENT_AUTH_CLIENT_SECRET:
	case FA_CLIENT_AUTH_EXTERNAL_COMMAND:
		break;
	}
	return FA_CLIENT_REFRESH_WINDOW_S;
}

/* How long to wait for the cache lock: as long as the longest thing a
 * process of the same settings may do while holding it. */
static int64_t lock_wait_ms(const struct fa_client *c)
{
	switch (c->s.auth_type) {
	case FA_CLIENT_AUTH_PKCE:
		return c->cfg->pkce_timeout_ms + LOCK_SLACK_MS;
	case FA_CLIENT_AUTH_DEVICE_FLOW:
		return c->cfg->device_timeout_ms + LOCK_SLACK_MS;
	case FA_CLIENT_AUTH_CLIENT_SECRET:
	case FA_CLIENT_AUTH_EXTERNAL_COMMAND:
		break;
	}
	/* discovery (two requests) and the grant */
	return 3LL * FA_CLIENT_HTTP_TIMEOUT_S * 1000 + LOCK_SLACK_MS;
}

static enum fa_rc run_flow(struct fa_client *c, struct cl_token *t, struct fa_err *err)
{
	switch (c->s.auth_type) {
	case FA_CLIENT_AUTH_PKCE:
		return cl_flow_pkce(c, t, err);
	case FA_CLIENT_AUTH_DEVICE_FLOW:
		return cl_flow_device(c, t, err);
	case FA_CLIENT_AUTH_CLIENT_SECRET:
		return cl_grant_client_credentials(c, t, err);
	case FA_CLIENT_AUTH_EXTERNAL_COMMAND:
		break;
	}
	return fa_err_set(err, FA_EUNSUPPORTED, "ExternalCommand has no flow to run");
}

static enum fa_rc open_cache(struct fa_client *c, char *path, size_t cap, int *lock,
			     struct fa_err *err)
{
	enum fa_rc rc = cl_cache_prepare(c->cache_dir, err);

	*lock = -1;
	if (rc == FA_OK)
		rc = cl_cache_path(c->cache_dir, c->s.base_url, path, cap, err);
	if (rc != FA_OK)
		return rc;
	rc = cl_cache_lock(path, 0, lock, err);
	if (rc != FA_ECONFLICT)
		return rc;
	/* Say why nothing happens: another process (typically a login
	 * waiting for its browser) has this endpoint's cache. */
	fprintf(c->prompt, "waiting for another flyteauth process (a login in progress?) that "
		"holds the token cache of %s; up to %llds\n", c->s.base_url,
		(long long)(lock_wait_ms(c) / 1000));
	fflush(c->prompt);
	return cl_cache_lock(path, lock_wait_ms(c), lock, err);
}

static enum fa_rc take_access(struct cl_token *t, char **out, struct fa_err *err)
{
	*out = t->access_token;
	t->access_token = NULL;
	return *out ? FA_OK : fa_err_set(err, FA_ENOMEM, "out of memory");
}

static enum fa_rc store(struct fa_client *c, const char *path, const struct cl_token *t,
			bool must, struct fa_err *err)
{
	struct fa_err e;
	enum fa_rc rc = cl_cache_write(path, t, &e);

	remember_header(c, t);
	if (rc == FA_OK)
		return FA_OK;
	if (must) {
		if (err)
			*err = e;
		return rc;
	}
	cl_warn(c, "the token was not cached: %s", e.msg);
	return FA_OK;
}

/* Under the lock: the cached token if fresh, else refreshed, else a new
 * one from the flow when allowed. */
static enum fa_rc token_locked(struct fa_client *c, const char *path, char **out,
			       struct fa_err *err)
{
	struct cl_token old, nt;
	struct fa_err e;
	bool have;
	int64_t now = fa_now();
	enum fa_rc rc;

	cl_token_init(&nt);
	rc = cl_cache_read(path, &old, &e);
	have = rc == FA_OK && bound_ok(c, &old);
	if (rc == FA_OK && !have)
		cl_warn(c, "the cached token for %s was issued for other settings; not used",
			c->s.base_url);
	else if (rc != FA_OK && rc != FA_ENOTFOUND)
		cl_warn(c, "%s", e.msg);
	if (have) {
		remember_header(c, &old);
		if (!cl_token_needs_refresh(&old, now, refresh_window_s(c))) {
			rc = take_access(&old, out, err);
			goto out;
		}
		if (*old.refresh_token) {
			rc = cl_grant_refresh(c, &old, &nt, &e);
			if (rc == FA_OK) {
				rc = store(c, path, &nt, false, err);
				if (rc == FA_OK)
					rc = take_access(&nt, out, err);
				goto out;
			}
			cl_warn(c, "refreshing the token for %s failed: %s", c->s.base_url, e.msg);
			cl_token_cleanup(&nt);
		}
	}
	if (c->s.auth_type == FA_CLIENT_AUTH_CLIENT_SECRET || c->interactive) {
		rc = run_flow(c, &nt, err);
		if (rc == FA_OK) {
			rc = store(c, path, &nt, false, err);
			if (rc == FA_OK)
				rc = take_access(&nt, out, err);
			goto out;
		}
		/* The flow failed; a still-valid cached token is better than
		 * nothing, and it is never deleted here. */
		if (have && !cl_token_expired(&old, fa_now())) {
			cl_warn(c, "%s; using the cached token until it expires",
				err ? err->msg : "getting a new token failed");
			rc = take_access(&old, out, err);
		}
		goto out;
	}
	if (have && !cl_token_expired(&old, now)) {
		rc = take_access(&old, out, err);
		goto out;
	}
	rc = fa_err_set(err, FA_ENOTFOUND, have ? "the cached token for %s has expired and "
			"could not be refreshed" : "no cached token for %s", c->s.base_url);
out:
	cl_token_cleanup(&old);
	cl_token_cleanup(&nt);
	return rc;
}

enum fa_rc fa_client_token(struct fa_client *c, char **access_token, struct fa_err *err)
{
	char path[1100];
	int lock = -1;
	enum fa_rc rc;

	*access_token = NULL;
	fa_err_clear(err);
	if (c->s.auth_type == FA_CLIENT_AUTH_EXTERNAL_COMMAND)
		return cl_external_command(c, access_token, err);
	rc = open_cache(c, path, sizeof(path), &lock, err);
	if (rc == FA_OK)
		rc = token_locked(c, path, access_token, err);
	cl_cache_unlock(lock);
	return rc;
}

/* ---- revocation ---------------------------------------------------------------------------- */

static enum fa_rc revoke_token(struct fa_client *c, const struct cl_token *t, struct fa_err *err)
{
	bool refresh = t->refresh_token && *t->refresh_token;
	bool confidential = t->auth_type == FA_CLIENT_AUTH_CLIENT_SECRET;
	char url[CL_URL_MAX + 32], *secret = NULL;
	struct fa_remote_req rq = { .url = url, .max_body = FA_CLIENT_MAX_RESPONSE };
	struct fa_remote_resp resp;
	struct fa_buf form;
	struct fa_err ignored;
	enum fa_rc rc;

	if (*t->revocation_url)
		snprintf(url, sizeof(url), "%s", t->revocation_url);
	else if (cl_discover_metadata(c, &ignored) == FA_OK && *c->md.revocation_endpoint)
		snprintf(url, sizeof(url), "%s", c->md.revocation_endpoint);
	else
		snprintf(url, sizeof(url), "%s/oauth2/revoke", c->s.base_url);
	if (!cl_url_acceptable(c, url))
		return fa_err_set(err, FA_ECONFIG, "refusing to send the token to a non-https "
				  "revocation URL");
	fa_buf_init(&form, FA_MAX_BODY);
	rc = fa_remote_form_pairs(&form, (const char *const[]){
		"token", refresh ? t->refresh_token : t->access_token,
		"token_type_hint", refresh ? "refresh_token" : "access_token",
		"client_id", confidential ? NULL : t->client_id, NULL });
	if (rc != FA_OK) {
		rc = fa_err_set(err, rc, "the revocation request is too large");
		goto out;
	}
	if (confidential && (rc = cl_client_secret(c->cfg, &secret, err)) != FA_OK)
		goto out;
	rq.form = form.data;
	rq.basic_id = confidential ? t->client_id : NULL;
	rq.basic_secret = secret;
	rc = cl_http(c, &rq, &resp, err);
	if (rc != FA_OK)
		goto out;
	/* RFC 7009 §2.2: 200 also for a token that was already invalid. */
	if (resp.status != 200)
		rc = fa_err_set(err, resp.status >= 400 && resp.status < 500 ? FA_EDENIED : FA_ENET,
				"the revocation endpoint answered HTTP %ld", resp.status);
	fa_remote_resp_cleanup(&resp);
out:
	fa_free_secret(secret);
	fa_buf_cleanup(&form);
	return rc;
}

/* ---- login, whoami, logout ---------------------------------------------------------------- */

enum fa_rc fa_client_login(struct fa_client *c, struct fa_err *err)
{
	struct cl_token old, nt;
	struct fa_err ignored;
	char path[1100], *tok = NULL;
	int lock = -1;
	enum fa_rc rc;

	fa_err_clear(err);
	if (c->s.auth_type == FA_CLIENT_AUTH_EXTERNAL_COMMAND) {
		rc = cl_external_command(c, &tok, err);
		fa_free_secret(tok);
		return rc;
	}
	cl_token_init(&old);
	cl_token_init(&nt);
	rc = open_cache(c, path, sizeof(path), &lock, err);
	if (rc != FA_OK)
		goto out;
	if (cl_cache_read(path, &old, &ignored) != FA_OK)
		cl_token_init(&old);
	rc = run_flow(c, &nt, err);
	if (rc == FA_OK)
		rc = store(c, path, &nt, true, err);
	/* The replaced login's refresh token is of no use to anyone now. */
	if (rc == FA_OK && old.refresh_token && *old.refresh_token && bound_ok(c, &old) &&
	    !fa_ct_streq(old.refresh_token, nt.refresh_token) &&
	    revoke_token(c, &old, &ignored) != FA_OK)
		cl_warn(c, "the previous refresh token could not be revoked: %s", ignored.msg);
out:
	cl_cache_unlock(lock);
	cl_token_cleanup(&old);
	cl_token_cleanup(&nt);
	return rc;
}

enum fa_rc fa_client_whoami(struct fa_client *c, json_t **user, struct fa_err *err)
{
	char url[CL_URL_MAX + 8], *tok = NULL;
	struct fa_remote_req rq = { .url = url, .max_body = FA_CLIENT_MAX_RESPONSE };
	struct fa_remote_resp resp;
	enum fa_rc rc;

	*user = NULL;
	if (!*c->s.base_url)
		return fa_err_set(err, FA_ECONFIG, "no endpoint: set admin.endpoint or "
				  "FLYTE_PLATFORM_URL");
	rc = fa_client_token(c, &tok, err);
	if (rc != FA_OK)
		return rc;
	snprintf(url, sizeof(url), "%s/me", c->s.base_url);
	rq.bearer_header = fa_client_header_name(c);
	rq.bearer = tok;
	rc = cl_http(c, &rq, &resp, err);
	fa_free_secret(tok);
	if (rc != FA_OK)
		return rc;
	if (resp.status == 401 || resp.status == 403)
		rc = fa_err_set(err, FA_EDENIED, "%s/me refused the token (HTTP %ld)",
				c->s.base_url, resp.status);
	else if (resp.status != 200)
		rc = fa_err_set(err, FA_ENET, "%s/me answered HTTP %ld", c->s.base_url, resp.status);
	else
		rc = cl_resp_json(&resp, "/me", user, err);
	fa_remote_resp_cleanup(&resp);
	return rc;
}

enum fa_rc fa_client_logout(struct fa_client *c, struct fa_err *err)
{
	struct cl_token t;
	struct fa_err e;
	char path[1100];
	int lock = -1;
	enum fa_rc rc, rrc = FA_OK;

	fa_err_clear(err);
	cl_token_init(&t);
	if (c->s.auth_type == FA_CLIENT_AUTH_EXTERNAL_COMMAND)
		return fa_err_set(err, FA_ENOTFOUND, "ExternalCommand tokens are not cached");
	rc = open_cache(c, path, sizeof(path), &lock, err);
	if (rc != FA_OK)
		goto out;
	rc = cl_cache_read(path, &t, &e);
	if (rc == FA_ENOTFOUND) {
		/* Nothing to forget; the lock file open_cache made goes too. */
		rc = cl_cache_delete(path, err);
		if (rc == FA_OK)
			rc = fa_err_set(err, FA_ENOTFOUND, "not logged in to %s", c->s.base_url);
		goto out;
	}
	if (rc == FA_OK)
		rrc = revoke_token(c, &t, &e);
	/* Forget the tokens even when the server could not be told. */
	rc = cl_cache_delete(path, err);
	if (rc == FA_OK && rrc != FA_OK) {
		rc = rrc;
		fa_err_set(err, rrc, "forgot the tokens for %s, but could not revoke them: %s",
			   c->s.base_url, e.msg);
	}
out:
	cl_cache_unlock(lock);
	cl_token_cleanup(&t);
	return rc;
}

/* ---- hints ---------------------------------------------------------------------------------- */

const char *fa_client_hint(const struct fa_client *c, const struct fa_err *err)
{
	enum fa_client_auth_type t = c ? c->s.auth_type : FA_CLIENT_AUTH_PKCE;
	const char *oe = err ? err->oauth_error : NULL;

	/* The server's OAuth error says more than our code. */
	if (oe && !strcmp(oe, "invalid_scope"))
		return "check admin.scopes (or FLYTE_CREDENTIALS_OAUTH_SCOPES) against the scopes "
		       "the client may have";
	if (oe && (!strcmp(oe, "unauthorized_client") || !strcmp(oe, "unsupported_grant_type")))
		return "this client may not use this flow: check admin.authType and the client's "
		       "grant types on the server";
	switch (err ? err->rc : FA_OK) {
	case FA_ENOTFOUND:
		return "run `flyteauth login` (on a terminal) first";
	case FA_EDENIED:
		if (t == FA_CLIENT_AUTH_CLIENT_SECRET)
			return "check the client id and secret (FLYTE_CREDENTIALS_CLIENT_ID / "
			       "FLYTE_CREDENTIALS_CLIENT_SECRET, or admin.clientId and "
			       "admin.clientSecretLocation)";
		if (t == FA_CLIENT_AUTH_EXTERNAL_COMMAND)
			return "check admin.command";
		return "run `flyteauth login` again";
	case FA_EEXPIRED:
		return "run `flyteauth login` again and finish it before the timeout";
	case FA_ENET:
		return "check admin.endpoint (or FLYTE_PLATFORM_URL) and that the server is reachable";
	case FA_EUNSUPPORTED:
		return "choose another admin.authType (Pkce, ClientSecret, DeviceFlow or "
		       "ExternalCommand)";
	case FA_ECONFIG:
	case FA_EINVAL:
	case FA_ETOOBIG:
		return "fix the setting named above";
	case FA_ECONFLICT:
		return "let the other process named above finish (or stop it) and try again";
	case FA_ECRYPTO:
		return "set admin.caCertFilePath to the PEM file of the CA that signed the "
		       "server's certificate";
	case FA_EIO:
		return "check the cache directory ($XDG_CACHE_HOME/flyteauth or ~/.cache/flyteauth)";
	default:
		return "see the message above";
	}
}
