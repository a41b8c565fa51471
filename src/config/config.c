/* config.c -- reading a loaded config: the small lookups other modules
 * use, the names of its enums, and the human summary printed by
 * `flyteauth config check`. Loading lives in load.c, the config's memory in
 * mem.c; nothing here changes a config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

/* ---- lookups ------------------------------------------------------------------------- */

const struct fa_config_client *fa_config_client_get(const struct fa_config *cfg,
						    const char *client_id)
{
	if (!cfg || !client_id)
		return NULL;
	for (size_t i = 0; i < cfg->auth.app_auth.self.static_clients_count; i++)
		if (!strcmp(cfg->auth.app_auth.self.static_clients[i].id, client_id))
			return &cfg->auth.app_auth.self.static_clients[i];
	return NULL;
}

bool fa_config_client_secret_generated(const struct fa_config_client *cl)
{
	return cl->is_default && !cl->is_public && cl->client_secret[0] == '\0' &&
	       cl->rotated_secrets.count == 0 && strcmp(cl->id, "flytepropeller") == 0;
}

const struct fa_config_user *fa_config_user_get(const struct fa_config *cfg,
						const char *username)
{
	if (!cfg || !username)
		return NULL;
	for (size_t i = 0; i < cfg->auth.user_auth.local_users_count; i++)
		if (!strcmp(cfg->auth.user_auth.local_users[i].username, username))
			return &cfg->auth.user_auth.local_users[i];
	return NULL;
}

const char *fa_config_inline_secret_get(const struct fa_config *cfg, const char *name)
{
	if (!cfg || !name)
		return NULL;
	for (size_t i = 0; i < cfg->inline_secrets_count; i++)
		if (!strcmp(cfg->inline_secrets[i].name, name)) /* not secret: a name */
			return cfg->inline_secrets[i].value;
	return NULL;
}

enum fa_rc fa_config_issuer(const struct fa_config *cfg, int port, char *out, size_t cap)
{
	const char *iss = cfg->auth.app_auth.self.issuer;
	size_t len;
	int n;

	if (!iss[0] && cfg->auth.authorized_uris.count)
		iss = cfg->auth.authorized_uris.items[0];
	len = strlen(iss);
	while (len > 0 && iss[len - 1] == '/')
		len--;
	if (len)
		n = snprintf(out, cap, "%.*s", (int)len, iss);
	else
		n = snprintf(out, cap, "%s://localhost:%d",
			     cfg->server.security.secure ? "https" : "http", port);
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			out[0] = '\0';
		return FA_ETOOBIG;
	}
	return FA_OK;
}

/* ---- names ------------------------------------------------------------------------------ */

const char *fa_config_source_str(enum fa_config_source s)
{
	switch (s) {
	case FA_CONFIG_SOURCE_DEFAULTS: return "built-in defaults";
	case FA_CONFIG_SOURCE_FLYTEADMIN: return "flyteadmin config";
	case FA_CONFIG_SOURCE_FLYTE_BINARY: return "flyte-binary Helm values";
	case FA_CONFIG_SOURCE_FLYTE_CORE: return "flyte-core Helm values";
	}
	return "unknown";
}

const char *fa_config_auth_server_str(enum fa_config_auth_server t)
{
	switch (t) {
	case FA_CONFIG_AS_SELF: return "Self";
	case FA_CONFIG_AS_EXTERNAL: return "External";
	}
	return "unknown";
}

const char *fa_config_samesite_str(enum fa_config_samesite s)
{
	switch (s) {
	case FA_CONFIG_SAMESITE_DEFAULT: return "DefaultMode";
	case FA_CONFIG_SAMESITE_LAX: return "LaxMode";
	case FA_CONFIG_SAMESITE_STRICT: return "StrictMode";
	case FA_CONFIG_SAMESITE_NONE: return "NoneMode";
	}
	return "unknown";
}

const char *fa_config_sig_alg_str(enum fa_config_sig_alg a)
{
	switch (a) {
	case FA_CONFIG_ALG_RS256: return "RS256";
	case FA_CONFIG_ALG_ES256: return "ES256";
	case FA_CONFIG_ALG_EDDSA: return "EdDSA";
	}
	return "unknown";
}

const char *fa_config_db_str(enum fa_config_db d)
{
	switch (d) {
	case FA_CONFIG_DB_SQLITE: return "sqlite";
	case FA_CONFIG_DB_POSTGRES: return "postgres";
	}
	return "unknown";
}

/* ---- explain ----------------------------------------------------------------------------- */

static enum fa_rc explain_list(struct fa_buf *b, const char *label,
			       const struct fa_config_list *l)
{
	enum fa_rc rc = fa_buf_appendf(b, "%s", label);

	for (size_t i = 0; rc == FA_OK && i < l->count; i++)
		rc = fa_buf_appendf(b, "%s%s", i ? ", " : " ", l->items[i]);
	if (rc == FA_OK && l->count == 0)
		rc = fa_buf_appends(b, " (none)");
	if (rc == FA_OK)
		rc = fa_buf_appendc(b, '\n');
	return rc;
}

static enum fa_rc explain_self(const struct fa_config *cfg, struct fa_buf *b)
{
	const struct fa_config_client *clients = cfg->auth.app_auth.self.static_clients;
	size_t n_clients = cfg->auth.app_auth.self.static_clients_count;
	const char *issuer = cfg->auth.app_auth.self.issuer;
	const char *key = cfg->auth.app_auth.self.token_signing_rsa_key_secret_name;
	const char *old = cfg->auth.app_auth.self.old_token_signing_rsa_key_secret_name;
	char at[32], rt[32], ct[32], dt[32], mx[32];
	enum fa_rc rc;

	fa_duration_format(cfg->auth.app_auth.self.access_token_lifespan_ms, at, sizeof(at));
	fa_duration_format(cfg->auth.app_auth.self.refresh_token_lifespan_ms, rt, sizeof(rt));
	fa_duration_format(cfg->auth.app_auth.self.authorization_code_lifespan_ms, ct, sizeof(ct));
	fa_duration_format(cfg->auth.app_auth.self.device_code_lifespan_ms, dt, sizeof(dt));
	fa_duration_format(cfg->auth.app_auth.self.refresh_token_max_lifespan_ms, mx, sizeof(mx));
	rc = fa_buf_appendf(b, "authorization server: Self (flyteauth issues tokens); issuer %s\n",
			    *issuer ? issuer : "derived from authorizedUris or the listen address");
	if (rc == FA_OK)
		rc = fa_buf_appendf(b, "  signing: %s with secret %s (old key: %s)\n",
				    fa_config_sig_alg_str(cfg->auth.app_auth.self.token_signing_algorithm),
				    key, *old ? old : "none");
	if (rc == FA_OK)
		rc = fa_buf_appendf(b, "  lifespans: access token %s, refresh token %s (at most "
				    "%s from the login), authorization code %s, device code %s\n",
				    at, rt, mx, ct, dt);
	if (rc == FA_OK)
		rc = fa_buf_appendf(b, "  static clients:");
	for (size_t i = 0; rc == FA_OK && i < n_clients; i++) {
		const struct fa_config_client *cl = &clients[i];
		rc = fa_buf_appendf(b, "%s%s (%s%s)", i ? ", " : " ", cl->id,
				    cl->is_public ? "public" : "confidential",
				    fa_config_client_secret_generated(cl)
					    ? ", secret generated on first start"
				    : !cl->is_public && !*cl->client_secret ? ", no secret: disabled" : "");
	}
	if (rc == FA_OK)
		rc = fa_buf_appendc(b, '\n');
	return rc;
}

static enum fa_rc explain_identity(const struct fa_config *cfg, struct fa_buf *b)
{
	enum fa_rc rc;

	if (*cfg->auth.user_auth.open_id.base_url)
		rc = fa_buf_appendf(b, "identity provider: %s (client %s, secret %s)\n",
				    cfg->auth.user_auth.open_id.base_url,
				    cfg->auth.user_auth.open_id.client_id,
				    cfg->auth.user_auth.open_id.client_secret_name);
	else
		rc = fa_buf_appendf(b, "identity provider: none; %zu local user(s)\n",
				    cfg->auth.user_auth.local_users_count);
	if (rc == FA_OK)
		rc = fa_buf_appendf(b, "cookies: keys %s and %s, SameSite %s, %s\n",
				    cfg->auth.user_auth.cookie_hash_key_secret_name,
				    cfg->auth.user_auth.cookie_block_key_secret_name,
				    fa_config_samesite_str(cfg->auth.user_auth.cookie_setting.same_site_policy),
				    cfg->server.security.insecure_cookie_header ? "not Secure" : "Secure");
	return rc;
}

struct fa_config_threads fa_config_threads(const struct fa_config *cfg, unsigned cpus)
{
	struct fa_config_threads t;

	if (cpus == 0)
		cpus = 1;
	t.http = cpus > FA_CONFIG_MAX_WORKERS ? FA_CONFIG_MAX_WORKERS : cpus;
	t.bcrypt = cpus > 1 ? cpus / 2 : 1;
	if (t.bcrypt > FA_CONFIG_MAX_BCRYPT_WORKERS)
		t.bcrypt = FA_CONFIG_MAX_BCRYPT_WORKERS;
	if (cfg->server.workers > 0)
		t.http = (unsigned)cfg->server.workers;
	if (cfg->server.bcrypt_workers > 0)
		t.bcrypt = (unsigned)cfg->server.bcrypt_workers;
	return t;
}

enum fa_rc fa_config_explain(const struct fa_config *cfg, struct fa_buf *out)
{
	unsigned cpus = fa_cpus_usable();
	struct fa_config_threads t = fa_config_threads(cfg, cpus);
	struct fa_buf b;
	enum fa_rc rc;

	fa_buf_init(&b, out->max > out->len ? out->max - out->len : 0);
	if (*cfg->path)
		rc = fa_buf_appendf(&b, "source: %s (%s)\n", fa_config_source_str(cfg->source), cfg->path);
	else
		rc = fa_buf_appendf(&b, "source: %s\n", fa_config_source_str(cfg->source));
	if (rc == FA_OK)
		rc = fa_buf_appendf(&b, "listen: %s:%d (%s)\n", cfg->server.bind_address,
				    cfg->server.http_port, cfg->server.security.secure ? "https" : "http");
	if (rc == FA_OK)
		rc = fa_buf_appendf(&b, "threads: %u HTTP worker%s (%s), %u bcrypt worker%s (%s)\n",
				    t.http, t.http == 1 ? "" : "s",
				    cfg->server.workers > 0 ? "server.workers" : "one per CPU usable here",
				    t.bcrypt, t.bcrypt == 1 ? "" : "s",
				    cfg->server.bcrypt_workers > 0 ? "server.bcryptWorkers" :
				    "half the CPUs usable here");
	if (rc == FA_OK && cfg->metrics.enabled)
		rc = fa_buf_appendf(&b, "metrics: GET /metrics on %s port %d\n", cfg->metrics.bind_address,
				    cfg->metrics.port);
	if (rc == FA_OK)
		rc = fa_buf_appendf(&b, "logging: %s, level %d%s\n",
				    cfg->logger.format == FA_CONFIG_LOG_JSON ? "json" : "text",
				    cfg->logger.level, cfg->logger.mute ? ", muted" : "");
	if (rc == FA_OK)
		rc = fa_buf_appendf(&b, "authentication: %s\n",
				    cfg->server.security.use_auth ? "on" : "OFF (server.security.useAuth: false)");
	if (rc == FA_OK && cfg->server.security.use_auth)
		rc = fa_buf_appendf(&b, "gate: scope %s required%s%s\n", cfg->auth.required_scope,
				    cfg->auth.app_auth.auth_server_type == FA_CONFIG_AS_SELF &&
				    cfg->auth.app_auth.self.check_revocation ?
				    "; revocation checked (within 5 s)" : "",
				    cfg->auth.disable_for_http ?
				    "; disableForHttp: requests without a valid token pass without an "
				    "identity" : "");
	if (rc == FA_OK && cfg->auth.app_auth.auth_server_type == FA_CONFIG_AS_SELF)
		rc = explain_self(cfg, &b);
	if (rc == FA_OK && cfg->auth.app_auth.auth_server_type == FA_CONFIG_AS_EXTERNAL)
		rc = fa_buf_appendf(&b, "authorization server: External %s (metadata %s)\n",
				    cfg->auth.app_auth.external.base_url,
				    *cfg->auth.app_auth.external.metadata_url ? cfg->auth.app_auth.external.metadata_url :
				    ".well-known/oauth-authorization-server");
	if (rc == FA_OK && cfg->auth.app_auth.auth_server_type == FA_CONFIG_AS_EXTERNAL)
		rc = explain_list(&b, "  allowed audience:", &cfg->auth.app_auth.external.allowed_audience);
	if (rc == FA_OK)
		rc = explain_identity(cfg, &b);
	if (rc == FA_OK)
		rc = explain_list(&b, "authorized URIs:", &cfg->auth.authorized_uris);
	if (rc == FA_OK)
		rc = fa_buf_appendf(&b, "flyte client: %s, redirect %s\n",
				    cfg->auth.app_auth.third_party.flyte_client.client_id,
				    cfg->auth.app_auth.third_party.flyte_client.redirect_uri);
	if (rc == FA_OK)
		rc = fa_buf_appendf(&b, "secrets: env %s<name>, then %s/<name>%s\n",
				    cfg->secrets.env_prefix, cfg->secrets.secrets_prefix,
				    cfg->inline_secrets_count ? "; some given inline in the values file" : "");
	if (rc == FA_OK && cfg->database.kind == FA_CONFIG_DB_SQLITE)
		rc = fa_buf_appendf(&b, "database: sqlite %s%s\n", cfg->database.sqlite.file,
				    cfg->database.sqlite.file_pos.line ? "" :
				    " in the state directory ($XDG_STATE_HOME/flyteauth or "
				    "~/.local/state/flyteauth; database.sqlite.file to choose)");
	if (rc == FA_OK && cfg->database.kind == FA_CONFIG_DB_POSTGRES)
		rc = fa_buf_appendf(&b, "database: postgres %s:%d/%s\n",
				    *cfg->database.postgres.host ? cfg->database.postgres.host : "(libpq default)",
				    cfg->database.postgres.port, cfg->database.postgres.dbname);
	if (rc == FA_OK && b.len)
		rc = fa_buf_append(out, b.data, b.len);
	fa_buf_cleanup(&b);
	return rc;
}
