/* config.c -- the config module's entry points: building the defaults,
 * loading a file (read it bounded, parse it, recognise its shape, apply it
 * over the defaults, validate it), freeing, the small lookups other modules
 * use, and the human summary printed by `flyteauth config check`. A config
 * owns one capped arena holding every string and array, so freeing is one
 * call and zeroes everything (inline secrets, database passwords). It does
 * not read secrets or contact anything: later layers do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

/* ---- memory ---------------------------------------------------------------------- */

char *cfg_strdup(struct fa_config *cfg, const char *s)
{
	return fa_arena_strndup(cfg->mem_, s, strlen(s));
}

enum fa_rc cfg_list_set(struct fa_config *cfg, struct fa_config_list *list,
			const char *const *items, size_t n)
{
	char **v = NULL;

	if (n) {
		v = fa_arena_alloc(cfg->mem_, n * sizeof(*v));
		if (!v)
			return FA_ENOMEM;
		for (size_t i = 0; i < n; i++) {
			v[i] = cfg_strdup(cfg, items[i]);
			if (!v[i])
				return FA_ENOMEM;
		}
	}
	list->items = v;
	list->count = n;
	return FA_OK;
}

/* Arrays grow by doubling from 4; the arena cannot realloc, so growth
 * copies (the old array stays until the config is freed: at most 2x). */
static bool needs_growth(size_t count)
{
	return count == 0 || (count >= 4 && (count & (count - 1)) == 0);
}

struct fa_config_client *cfg_client_add(struct fa_config *cfg)
{
	size_t n = cfg->auth.app_auth.self.static_clients_count;
	struct fa_config_client *arr = cfg->auth.app_auth.self.static_clients;

	if (needs_growth(n)) {
		size_t cap = n ? n * 2 : 4;
		struct fa_config_client *na = fa_arena_alloc(cfg->mem_, cap * sizeof(*na));
		if (!na)
			return NULL;
		if (n)
			memcpy(na, arr, n * sizeof(*na));
		arr = na;
		cfg->auth.app_auth.self.static_clients = na;
	}
	cfg->auth.app_auth.self.static_clients_count = n + 1;
	memset(&arr[n], 0, sizeof(arr[n]));
	return &arr[n];
}

struct fa_config_user *cfg_users_alloc(struct fa_config *cfg, size_t n)
{
	return n ? fa_arena_alloc(cfg->mem_, n * sizeof(struct fa_config_user)) : NULL;
}

enum fa_rc cfg_client_init(struct fa_config *cfg, struct fa_config_client *cl)
{
	cl->key = cfg_strdup(cfg, "");
	cl->id = cfg_strdup(cfg, "");
	cl->client_secret = cfg_strdup(cfg, "");
	return cl->key && cl->id && cl->client_secret ? FA_OK : FA_ENOMEM;
}

enum fa_rc cfg_inline_secret_set(struct fa_config *cfg, const char *name, const char *value,
				 const struct fa_config_pos *pos)
{
	struct fa_config_secret *s = NULL;

	for (size_t i = 0; i < cfg->inline_secrets_count; i++)
		if (!strcmp(cfg->inline_secrets[i].name, name)) /* not secret: a name */
			s = &cfg->inline_secrets[i];
	if (!s) {
		if (cfg->inline_secrets_count >= FA_CONFIG_MAX_INLINE_SECRETS)
			return FA_ETOOBIG;
		if (!cfg->inline_secrets) {
			cfg->inline_secrets = fa_arena_alloc(cfg->mem_, FA_CONFIG_MAX_INLINE_SECRETS *
							     sizeof(struct fa_config_secret));
			if (!cfg->inline_secrets)
				return FA_ENOMEM;
		}
		s = &cfg->inline_secrets[cfg->inline_secrets_count++];
		s->name = cfg_strdup(cfg, name);
		if (!s->name)
			return FA_ENOMEM;
	}
	s->value = cfg_strdup(cfg, value);
	if (!s->value)
		return FA_ENOMEM;
	s->pos = *pos;
	return FA_OK;
}

/* ---- new, free, load --------------------------------------------------------------- */

static struct fa_config *config_alloc(void)
{
	struct fa_arena *a = fa_arena_new(CFG_ARENA_MAX);
	struct fa_config *cfg;

	if (!a)
		return NULL;
	cfg = fa_arena_alloc(a, sizeof(*cfg));
	if (!cfg) {
		fa_arena_free(a);
		return NULL;
	}
	cfg->mem_ = a;
	if (cfg_set_defaults(cfg) != FA_OK) {
		fa_arena_free(a);
		return NULL;
	}
	return cfg;
}

struct fa_config *fa_config_new_defaults(void)
{
	return config_alloc();
}

void fa_config_free(struct fa_config *cfg)
{
	if (cfg)
		fa_arena_free(cfg->mem_);   /* cfg lives in its own arena; zeroed */
}

static enum fa_rc finish(struct cfg_ctx *c, enum fa_rc rc, size_t first_line,
			 struct fa_config **out, struct fa_err *err)
{
	const char *first = cfg_diag_first_error(c->diag, first_line);

	if (rc == FA_OK && c->enomem)
		rc = FA_ENOMEM;
	if (rc == FA_OK && c->errors)
		rc = FA_ECONFIG;
	if (rc == FA_OK) {
		*out = c->cfg;
		fa_err_clear(err);
		return FA_OK;
	}
	fa_config_free(c->cfg);
	c->cfg = NULL;
	if (rc == FA_ENOMEM)
		return fa_err_set(err, rc, "%s: out of memory loading the config", c->file);
	if (c->errors > 1 && first)
		return fa_err_set(err, rc, "%s (and %zu more)", first, c->errors - 1);
	return fa_err_set(err, rc, "%s", first ? first : "bad configuration");
}

enum fa_rc fa_config_load_buffer(const char *name, const void *data, size_t len,
				 struct fa_config_diag *diag, struct fa_config **out,
				 struct fa_err *err)
{
	struct fa_config_diag *own = NULL;
	struct cfg_ctx c;
	struct ynode *root = NULL, *admin = NULL;
	enum fa_rc rc = FA_OK;
	size_t first_line;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	if (!diag) {
		own = fa_config_diag_new();
		if (!own)
			return fa_err_set(err, FA_ENOMEM, "%s: out of memory loading the config", name);
		diag = own;
	}
	first_line = fa_config_diag_count(diag);
	c.diag = diag;
	c.file = name;
	c.cfg = config_alloc();
	if (!c.cfg) {
		c.enomem = true;
		goto out;
	}
	c.cfg->path = cfg_strdup(c.cfg, name);
	/* flyteadmin listens on every address; so does a configured flyteauth. */
	c.cfg->server.bind_address = cfg_strdup(c.cfg, "0.0.0.0");
	if (!c.cfg->path || !c.cfg->server.bind_address) {
		c.enomem = true;
		goto out;
	}
	c.file = c.cfg->path;
	if (len > FA_MAX_CONFIG_FILE) {
		cfg_report(&c, FA_CONFIG_ERROR, 0, 0, "file is larger than %d bytes",
			   FA_MAX_CONFIG_FILE);
		rc = FA_ETOOBIG;
		goto out;
	}
	c.tree = fa_arena_new(CFG_TREE_ARENA_MAX);
	if (!c.tree) {
		c.enomem = true;
		goto out;
	}
	/* libyaml refuses a NULL input even when it is empty. */
	rc = cfg_yaml_parse(&c, data ? data : "", data ? len : 0, &root);
	if (rc != FA_OK)
		goto out;
	c.cfg->source = cfg_detect(root);
	if (c.cfg->source == FA_CONFIG_SOURCE_FLYTE_BINARY)
		admin = cfg_helm_binary(&c, root);
	else if (c.cfg->source == FA_CONFIG_SOURCE_FLYTE_CORE)
		admin = cfg_helm_core(&c, root);
	else
		admin = root;
	if (root->kind == Y_NULL)
		cfg_warn_at(&c, NULL, "the file holds no settings; the built-in defaults apply");
	if (admin && !c.enomem && !c.fatal)
		cfg_walk_admin(&c, admin);
	/* Checks across keys only make sense on a tree that walked cleanly;
	 * otherwise they repeat the walk's errors in other words. */
	if (!c.enomem && !c.fatal && c.errors == 0)
		cfg_validate(&c);
out:
	fa_arena_free(c.tree);
	rc = finish(&c, rc, first_line, out, err);
	fa_config_diag_free(own);
	return rc;
}

enum fa_rc fa_config_load(const char *path, struct fa_config_diag *diag,
			  struct fa_config **out, struct fa_err *err)
{
	char *data = NULL;
	size_t len = 0;
	int e = 0;
	enum fa_rc rc;

	*out = NULL;
	rc = fa_file_read(path, FA_MAX_CONFIG_FILE, &data, &len, &e);
	if (rc == FA_ENOTFOUND || rc == FA_EIO || rc == FA_ETOOBIG) {
		/* The server's config must exist: a missing one is a read error. */
		rc = cfg_report_unreadable(path, rc == FA_ETOOBIG ? rc : FA_EIO, e, diag, err);
		goto out;
	}
	if (rc != FA_OK) {
		rc = fa_err_set(err, rc, "%s: out of memory", path);
		goto out;
	}
	rc = fa_config_load_buffer(path, data, len, diag, out, err);
out:
	/* The raw file may hold secrets (values files carry clientSecret). */
	if (data)
		fa_memzero(data, len);
	free(data);
	return rc;
}

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
	char at[32], rt[32], ct[32], dt[32];
	enum fa_rc rc;

	fa_duration_format(cfg->auth.app_auth.self.access_token_lifespan_ms, at, sizeof(at));
	fa_duration_format(cfg->auth.app_auth.self.refresh_token_lifespan_ms, rt, sizeof(rt));
	fa_duration_format(cfg->auth.app_auth.self.authorization_code_lifespan_ms, ct, sizeof(ct));
	fa_duration_format(cfg->auth.app_auth.self.device_code_lifespan_ms, dt, sizeof(dt));
	rc = fa_buf_appendf(b, "authorization server: Self (flyteauth issues tokens); issuer %s\n",
			    *issuer ? issuer : "derived from authorizedUris or the listen address");
	if (rc == FA_OK)
		rc = fa_buf_appendf(b, "  signing: %s with secret %s (old key: %s)\n",
				    fa_config_sig_alg_str(cfg->auth.app_auth.self.token_signing_algorithm),
				    key, *old ? old : "none");
	if (rc == FA_OK)
		rc = fa_buf_appendf(b, "  lifespans: access token %s, refresh token %s, "
				    "authorization code %s, device code %s\n", at, rt, ct, dt);
	if (rc == FA_OK)
		rc = fa_buf_appendf(b, "  static clients:");
	for (size_t i = 0; rc == FA_OK && i < n_clients; i++) {
		const struct fa_config_client *cl = &clients[i];
		rc = fa_buf_appendf(b, "%s%s (%s%s)", i ? ", " : " ", cl->id,
				    cl->is_public ? "public" : "confidential",
				    !cl->is_public && !*cl->client_secret ? ", no secret: disabled" : "");
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

enum fa_rc fa_config_explain(const struct fa_config *cfg, struct fa_buf *out)
{
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
		rc = fa_buf_appendf(&b, "authentication: %s\n",
				    cfg->server.security.use_auth ? "on" : "OFF (server.security.useAuth: false)");
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
		rc = fa_buf_appendf(&b, "database: sqlite %s\n", cfg->database.sqlite.file);
	if (rc == FA_OK && cfg->database.kind == FA_CONFIG_DB_POSTGRES)
		rc = fa_buf_appendf(&b, "database: postgres %s:%d/%s\n",
				    *cfg->database.postgres.host ? cfg->database.postgres.host : "(libpq default)",
				    cfg->database.postgres.port, cfg->database.postgres.dbname);
	if (rc == FA_OK && b.len)
		rc = fa_buf_append(out, b.data, b.len);
	fa_buf_cleanup(&b);
	return rc;
}
