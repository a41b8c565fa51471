/* client_config.c -- the client half of the config module: the `admin:`
 * section of a flytectl / flytekit config file (~/.flyte/config.yaml) read
 * into struct fa_client_config with flyteidl's defaults, through the same
 * YAML tree, key tables, walker and diagnostics as the server config (so the
 * same case-insensitive keys, "did you mean", FILE:LINE:COL lines and
 * bounds), plus the checks across keys and the endpoint forms Flyte accepts.
 * It reads no environment variable and contacts nothing: the client module
 * layers FLYTE_CREDENTIALS_* / FLYTE_PLATFORM_* on top and does the I/O.
 *
 * The walker stores strings through a struct fa_config (cfg_strdup and
 * cfg_list_set use only its arena): a client load lends it a holder whose
 * arena is the client config's own, so nothing of the server config is
 * built or touched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

/* Longest client timeout or refresh window: an hour. A login that waits
 * longer is forgotten by its user; longer values are typos. */
#define CLIENT_DURATION_MAX_MS (60LL * 60 * 1000)
/* Longest device-flow poll interval (RFC 8628 servers ask for ~5 s). */
#define CLIENT_POLL_MAX_MS (5LL * 60 * 1000)

/* ---- the key tables ---------------------------------------------------------------- */

static const struct cfg_enum_name auth_type_names[] = {
	{ "Pkce", FA_CLIENT_AUTH_PKCE },
	{ "ClientSecret", FA_CLIENT_AUTH_CLIENT_SECRET },
	{ "DeviceFlow", FA_CLIENT_AUTH_DEVICE_FLOW },
	{ "ExternalCommand", FA_CLIENT_AUTH_EXTERNAL_COMMAND },
	/* flytekit's names (PlatformConfig.auth_mode). */
	{ "standard", FA_CLIENT_AUTH_PKCE },
	{ "basic", FA_CLIENT_AUTH_CLIENT_SECRET },
	{ "client_credentials", FA_CLIENT_AUTH_CLIENT_SECRET },
	{ "external_process", FA_CLIENT_AUTH_EXTERNAL_COMMAND },
};
static const struct cfg_enum auth_type_enum = {
	"Pkce, ClientSecret, DeviceFlow or ExternalCommand (or flytekit's standard, basic, "
	"client_credentials, external_process)",
	auth_type_names, ARRAY_LEN(auth_type_names),
};

static const struct cfg_field pkce_fields[] = {
	{ .key = "timeout", .kind = CK_DURATION, .min = 1000, .max = CLIENT_DURATION_MAX_MS,
	  .off = offsetof(struct fa_client_config, pkce_timeout_ms) },
	{ .key = "refreshTime", .kind = CK_DURATION, .min = 0, .max = CLIENT_DURATION_MAX_MS,
	  .off = offsetof(struct fa_client_config, pkce_refresh_time_ms) },
	{ .key = NULL },
};

static const struct cfg_field device_fields[] = {
	{ .key = "timeout", .kind = CK_DURATION, .min = 1000, .max = CLIENT_DURATION_MAX_MS,
	  .off = offsetof(struct fa_client_config, device_timeout_ms) },
	{ .key = "pollInterval", .kind = CK_DURATION, .min = 1000, .max = CLIENT_POLL_MAX_MS,
	  .off = offsetof(struct fa_client_config, device_poll_interval_ms) },
	{ .key = "refreshTime", .kind = CK_DURATION, .min = 0, .max = CLIENT_DURATION_MAX_MS,
	  .off = offsetof(struct fa_client_config, device_refresh_time_ms) },
	{ .key = NULL },
};

#define CC_STR(k, field) \
	{ .key = k, .kind = CK_STR, .off = offsetof(struct fa_client_config, field), \
	  .pos_off = offsetof(struct fa_client_config, field##_pos) }

static const struct cfg_field admin_fields[] = {
	CC_STR("endpoint", endpoint),
	{ .key = "insecure", .kind = CK_BOOL,
	  .off = offsetof(struct fa_client_config, insecure),
	  .pos_off = offsetof(struct fa_client_config, insecure_pos) },
	{ .key = "insecureSkipVerify", .kind = CK_BOOL,
	  .off = offsetof(struct fa_client_config, insecure_skip_verify) },
	CC_STR("caCertFilePath", ca_cert_file_path),
	{ .key = "authType", .kind = CK_ENUM, .en = &auth_type_enum,
	  .off = offsetof(struct fa_client_config, auth_type),
	  .pos_off = offsetof(struct fa_client_config, auth_type_pos) },
	CC_STR("clientId", client_id),
	CC_STR("clientSecretLocation", client_secret_location),
	CC_STR("clientSecretEnvVar", client_secret_env_var),
	{ .key = "scopes", .kind = CK_LIST,
	  .off = offsetof(struct fa_client_config, scopes),
	  .pos_off = offsetof(struct fa_client_config, scopes_pos) },
	CC_STR("audience", audience),
	{ .key = "useAudienceFromAdmin", .kind = CK_BOOL,
	  .off = offsetof(struct fa_client_config, use_audience_from_admin) },
	{ .key = "tokenUrl", .kind = CK_URL,
	  .off = offsetof(struct fa_client_config, token_url),
	  .pos_off = offsetof(struct fa_client_config, token_url_pos) },
	CC_STR("authorizationHeader", authorization_header),
	{ .key = "command", .kind = CK_LIST,
	  .off = offsetof(struct fa_client_config, command),
	  .pos_off = offsetof(struct fa_client_config, command_pos) },
	{ .key = "pkceConfig", .kind = CK_SECTION, .sub = pkce_fields },
	{ .key = "deviceFlowConfig", .kind = CK_SECTION, .sub = device_fields },
	/* May carry a proxy password: never echoed. */
	{ .key = "httpProxyURL", .kind = CK_STR, .sensitive = true,
	  .off = offsetof(struct fa_client_config, http_proxy_url),
	  .pos_off = offsetof(struct fa_client_config, http_proxy_url_pos) },
	/* flyteidl's admin keys for its gRPC connection and deprecated ones:
	 * meaningful to flytectl, nothing to do for flyteauth. */
	{ .key = "maxBackoffDelay", .kind = CK_IGNORE },
	{ .key = "perRetryTimeout", .kind = CK_IGNORE },
	{ .key = "maxRetries", .kind = CK_IGNORE },
	{ .key = "maxMessageSizeBytes", .kind = CK_IGNORE },
	{ .key = "tokenRefreshWindow", .kind = CK_IGNORE },
	{ .key = "useAuth", .kind = CK_IGNORE },
	{ .key = "authorizationServerUrl", .kind = CK_IGNORE },
	{ .key = "proxyCommand", .kind = CK_IGNORE },
	{ .key = "defaultServiceConfig", .kind = CK_IGNORE },
	{ .key = NULL },
};

/* A flytectl config's other sections; anything else at the top level is a
 * note, not an error (flytekit and plugins add their own sections). */
static const struct cfg_field client_root[] = {
	{ .key = "admin", .kind = CK_SECTION, .sub = admin_fields },
	{ .key = "logger", .kind = CK_IGNORE },
	{ .key = "storage", .kind = CK_IGNORE },
	{ .key = "console", .kind = CK_IGNORE },
	{ .key = "files", .kind = CK_IGNORE },
	{ .key = "project", .kind = CK_IGNORE },
	{ .key = "domain", .kind = CK_IGNORE },
	{ .key = "output", .kind = CK_IGNORE },
	{ .key = "task_resources", .kind = CK_IGNORE },
	{ .key = "plugins", .kind = CK_IGNORE },
	{ .key = "sandbox", .kind = CK_IGNORE },
	{ .key = "demo", .kind = CK_IGNORE },
	{ .key = "docker", .kind = CK_IGNORE },
	{ .key = "images", .kind = CK_IGNORE },
	{ .key = "secrets", .kind = CK_IGNORE },
	{ .key = "local", .kind = CK_IGNORE },
	{ .key = NULL },
};

/* ---- auth types and endpoints ---------------------------------------------------------- */

enum fa_rc fa_client_auth_type_parse(const char *s, enum fa_client_auth_type *out,
				     struct fa_err *err)
{
	/* flytekit also writes these without the separator. */
	static const struct cfg_enum_name more[] = {
		{ "clientsecret", FA_CLIENT_AUTH_CLIENT_SECRET },
		{ "deviceflow", FA_CLIENT_AUTH_DEVICE_FLOW },
		{ "externalcommand", FA_CLIENT_AUTH_EXTERNAL_COMMAND },
	};
	char q[80];

	for (size_t i = 0; s && i < ARRAY_LEN(auth_type_names); i++) {
		if (fa_str_ieq(s, auth_type_names[i].name)) {
			*out = (enum fa_client_auth_type)auth_type_names[i].value;
			return FA_OK;
		}
	}
	for (size_t i = 0; s && i < ARRAY_LEN(more); i++) {
		if (fa_str_ieq(s, more[i].name)) {
			*out = (enum fa_client_auth_type)more[i].value;
			return FA_OK;
		}
	}
	return fa_err_set(err, FA_EINVAL, "bad auth type \"%s\"; expected %s",
			  s ? cfg_quote(s, strlen(s), q, sizeof(q)) : "", auth_type_enum.expected);
}

const char *fa_client_auth_type_str(enum fa_client_auth_type t)
{
	switch (t) {
	case FA_CLIENT_AUTH_PKCE: return "Pkce";
	case FA_CLIENT_AUTH_CLIENT_SECRET: return "ClientSecret";
	case FA_CLIENT_AUTH_DEVICE_FLOW: return "DeviceFlow";
	case FA_CLIENT_AUTH_EXTERNAL_COMMAND: return "ExternalCommand";
	}
	return "unknown";
}

enum fa_rc fa_client_endpoint_parse(const char *ep, bool insecure, char *url, size_t cap,
				    struct fa_err *err)
{
	const char *scheme = insecure ? "http" : "https";
	const char *rest, *sep, *why = NULL, *slash;
	struct fa_url u;
	size_t n, alen, plen;
	bool explicit_scheme = false;
	char q[80];
	int w;

	if (cap)
		url[0] = '\0';
	n = ep ? strlen(ep) : 0;
	if (n == 0)
		return fa_err_set(err, FA_EINVAL, "the endpoint is empty");
	if (n > FA_CLIENT_MAX_ENDPOINT)
		return fa_err_set(err, FA_ETOOBIG, "the endpoint is longer than %d bytes",
				  FA_CLIENT_MAX_ENDPOINT);
	cfg_quote(ep, n, q, sizeof(q));
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)ep[i] <= 0x20 || ep[i] == 0x7f)
			return fa_err_set(err, FA_EINVAL, "bad endpoint \"%s\": contains a space or "
					  "control character", q);
	if (strpbrk(ep, "?#"))
		return fa_err_set(err, FA_EINVAL, "bad endpoint \"%s\": must not have a query or "
				  "fragment", q);
	rest = ep;
	sep = strstr(ep, "://");
	if (sep) {
		size_t slen = (size_t)(sep - ep);
		if (slen == 3 && fa_strn_ieq(ep, 3, "dns")) {
			/* gRPC's resolver form: dns:[//authority]/host:port. */
			if (sep[3] != '/')
				return fa_err_set(err, FA_EINVAL, "bad endpoint \"%s\": write "
						  "dns:///host:port (three slashes)", q);
			rest = sep + 4;
		} else if (slen == 4 && fa_strn_ieq(ep, 4, "http")) {
			scheme = "http";
			explicit_scheme = true;
			rest = sep + 3;
		} else if (slen == 5 && fa_strn_ieq(ep, 5, "https")) {
			scheme = "https";
			explicit_scheme = true;
			rest = sep + 3;
		} else {
			return fa_err_set(err, FA_EINVAL, "bad endpoint \"%s\": the scheme must be "
					  "https, http or dns", q);
		}
	}
	slash = strchr(rest, '/');
	alen = slash ? (size_t)(slash - rest) : strlen(rest);
	plen = slash ? strlen(slash) : 0;
	while (plen > 0 && slash[plen - 1] == '/')
		plen--;
	w = snprintf(url, cap, "%s://%.*s%.*s", scheme, (int)alen, rest, (int)plen,
		     slash ? slash : "");
	if (w < 0 || (size_t)w >= cap) {
		if (cap)
			url[0] = '\0';
		return fa_err_set(err, FA_ETOOBIG, "the endpoint is too long");
	}
	/* The authority is checked by base's URL grammar, as every URL is. */
	if (fa_url_parse(url, (size_t)w, &u, &why) != FA_OK) {
		url[0] = '\0';
		return fa_err_set(err, FA_EINVAL, "bad endpoint \"%s\": %s", q, why);
	}
	if (plen && !explicit_scheme) {
		url[0] = '\0';
		return fa_err_set(err, FA_EINVAL, "bad endpoint \"%s\": a path needs an explicit "
				  "https:// or http://", q);
	}
	return FA_OK;
}

/* ---- defaults ----------------------------------------------------------------------------- */

struct cc_default_str {
	size_t off;
	const char *value;
};

static const struct cc_default_str cc_default_strs[] = {
	{ offsetof(struct fa_client_config, path), "" },
	{ offsetof(struct fa_client_config, endpoint), "" },
	{ offsetof(struct fa_client_config, ca_cert_file_path), "" },
	{ offsetof(struct fa_client_config, client_id), "" },
	{ offsetof(struct fa_client_config, client_secret_location), FA_CLIENT_DEFAULT_SECRET_LOCATION },
	{ offsetof(struct fa_client_config, client_secret_env_var), "" },
	{ offsetof(struct fa_client_config, audience), "" },
	{ offsetof(struct fa_client_config, token_url), "" },
	{ offsetof(struct fa_client_config, authorization_header), "" },
	{ offsetof(struct fa_client_config, http_proxy_url), "" },
};

static struct fa_client_config *cc_alloc(void)
{
	struct fa_arena *a = fa_arena_new(CFG_ARENA_MAX);
	struct fa_client_config *cc;
	char *base;

	if (!a)
		return NULL;
	cc = fa_arena_alloc(a, sizeof(*cc));
	if (!cc)
		goto fail;
	cc->mem_ = a;
	base = (char *)cc;
	for (size_t i = 0; i < ARRAY_LEN(cc_default_strs); i++) {
		char *s = fa_arena_strdup(a, cc_default_strs[i].value);
		if (!s)
			goto fail;
		memcpy(base + cc_default_strs[i].off, &s, sizeof(s));
	}
	/* The seed calls Pkce the default flow (flyteidl's Go default is
	 * ClientSecret; flytekit's is standard = Pkce). */
	cc->auth_type = FA_CLIENT_AUTH_PKCE;
	cc->pkce_timeout_ms = 2LL * 60 * 1000;
	cc->pkce_refresh_time_ms = 5LL * 60 * 1000;
	cc->device_timeout_ms = 10LL * 60 * 1000;
	cc->device_poll_interval_ms = 5LL * 1000;
	cc->device_refresh_time_ms = 5LL * 60 * 1000;
	return cc;
fail:
	fa_arena_free(a);
	return NULL;
}

struct fa_client_config *fa_client_config_new_defaults(void)
{
	return cc_alloc();
}

void fa_client_config_free(struct fa_client_config *cc)
{
	if (cc)
		fa_arena_free(cc->mem_);    /* cc lives in its own arena; zeroed */
}

/* ---- checks across keys ------------------------------------------------------------------ */

/* A header name (RFC 9110 token) of bounded length. */
static bool header_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n <= FA_CLIENT_MAX_HEADER_NAME && fa_token_ok(s, n);
}

static bool env_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return true;
}

/* Printable ASCII without spaces: client ids and paths we pass on. */
static bool printable_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static void validate_client(struct cfg_ctx *c, const struct fa_client_config *cc)
{
	char url[FA_CLIENT_MAX_ENDPOINT + 16], q[80];
	struct fa_err e;
	size_t total = 0;

	if (*cc->endpoint &&
	    fa_client_endpoint_parse(cc->endpoint, cc->insecure, url, sizeof(url), &e) != FA_OK)
		cfg_diag(c, FA_CONFIG_ERROR, cc->endpoint_pos,
			 "admin.endpoint: %s; expected dns:///host:port, "
			 "host:port or https://host", e.msg);
	if (cc->auth_type == FA_CLIENT_AUTH_EXTERNAL_COMMAND && cc->command.count == 0)
		cfg_diag(c, FA_CONFIG_ERROR, cc->auth_type_pos,
			 "admin.authType ExternalCommand needs "
			 "admin.command (the program that prints a token, and its arguments)");
	if (cc->command.count > FA_CLIENT_MAX_COMMAND_ARGS)
		cfg_diag(c, FA_CONFIG_ERROR, cc->command_pos, "admin.command: more than %d items",
			 FA_CLIENT_MAX_COMMAND_ARGS);
	else if (cc->command.count && !*cc->command.items[0])
		cfg_diag(c, FA_CONFIG_ERROR, cc->command_pos,
			 "admin.command: the first item (the program) "
			 "is empty");
	if (*cc->authorization_header && !header_name_ok(cc->authorization_header))
		cfg_diag(c, FA_CONFIG_ERROR, cc->authorization_header_pos,
			 "admin.authorizationHeader: \"%s\" "
			 "is not an HTTP header name (letters, digits and -, up to %d)",
			 cfg_quote(cc->authorization_header, strlen(cc->authorization_header),
				   q, sizeof(q)), FA_CLIENT_MAX_HEADER_NAME);
	for (size_t i = 0; i < cc->scopes.count; i++) {
		total += strlen(cc->scopes.items[i]) + 1;
		if (!cfg_scope_token_ok(cc->scopes.items[i])) {
			cfg_diag(c, FA_CONFIG_ERROR, cc->scopes_pos,
				 "admin.scopes[%zu]: \"%s\" is not a scope "
				 "(one word, no spaces or quotes)", i,
				 cfg_quote(cc->scopes.items[i], strlen(cc->scopes.items[i]),
					   q, sizeof(q)));
			return;
		}
	}
	if (total > FA_MAX_SCOPE)
		cfg_diag(c, FA_CONFIG_ERROR, cc->scopes_pos,
			 "admin.scopes: longer than %d bytes together",
			 FA_MAX_SCOPE);
	if (!printable_ok(cc->client_id, FA_MAX_ID))
		cfg_diag(c, FA_CONFIG_ERROR, cc->client_id_pos,
			 "admin.clientId: must be printable, without "
			 "spaces, at most %d bytes", FA_MAX_ID);
	if (*cc->client_secret_env_var && !env_name_ok(cc->client_secret_env_var))
		cfg_diag(c, FA_CONFIG_ERROR, cc->client_secret_env_var_pos,
			 "admin.clientSecretEnvVar: \"%s\" "
			 "is not an environment variable name",
			 cfg_quote(cc->client_secret_env_var, strlen(cc->client_secret_env_var),
				   q, sizeof(q)));
	if (!*cc->client_secret_location)
		cfg_diag(c, FA_CONFIG_ERROR, cc->client_secret_location_pos,
			 "admin.clientSecretLocation: "
			 "empty; leave it out for the default %s",
			 FA_CLIENT_DEFAULT_SECRET_LOCATION);
	if (!printable_ok(cc->http_proxy_url, FA_CLIENT_MAX_ENDPOINT) ||
	    (*cc->http_proxy_url && !strstr(cc->http_proxy_url, "://")))
		cfg_diag(c, FA_CONFIG_ERROR, cc->http_proxy_url_pos,
			 "admin.httpProxyURL: expected a URL such "
			 "as http://proxy.example.com:3128");
	if (!printable_ok(cc->audience, FA_MAX_REDIRECT_URI))
		cfg_diag(c, FA_CONFIG_ERROR, cc->audience_pos,
			 "admin.audience: must be printable, without "
			 "spaces");
}

/* ---- loading ------------------------------------------------------------------------------- */

static enum fa_rc client_make(struct cfg_ctx *c, const char *name)
{
	struct fa_client_config *cc = cc_alloc();

	c->obj = cc;
	if (!cc)
		return FA_ENOMEM;
	cc->path = fa_arena_strdup(cc->mem_, name);
	/* The walker allocates through a struct fa_config sharing the arena. */
	c->cfg = fa_arena_alloc(cc->mem_, sizeof(*c->cfg));
	if (!cc->path || !c->cfg)
		return FA_ENOMEM;
	c->cfg->mem_ = cc->mem_;
	c->file = cc->path;
	return FA_OK;
}

static void client_apply(struct cfg_ctx *c, struct ynode *root)
{
	if (root->kind == Y_MAP)
		cfg_walk_map(c, c->obj, client_root, root, "", true);
	if (!c->enomem && c->errors == 0)
		validate_client(c, c->obj);
}

static void client_destroy(void *obj)
{
	fa_client_config_free(obj);
}

/* No file is fine: the environment may say everything. */
static const struct cfg_loader client_kind = {
	client_make, client_apply, client_destroy, FA_ENOTFOUND,
};

enum fa_rc fa_client_config_load_buffer(const char *name, const void *data, size_t len,
					struct fa_config_diag *diag,
					struct fa_client_config **out, struct fa_err *err)
{
	void *obj;
	enum fa_rc rc = cfg_load(&client_kind, name, data, len, false, diag, &obj, err);

	*out = obj;
	return rc;
}

enum fa_rc fa_client_config_load(const char *path, struct fa_config_diag *diag,
				 struct fa_client_config **out, struct fa_err *err)
{
	void *obj;
	enum fa_rc rc = cfg_load(&client_kind, path, NULL, 0, true, diag, &obj, err);

	*out = obj;
	return rc;
}
