/* helm.c -- Helm values files, read as the flyteadmin config their chart
 * renders. A flyte-binary values file (`auth.enabled`, `auth.oidc`,
 * `auth.internal`, `auth.authorizedUris`, `inline:` -- at the top level as the
 * seed docs write them, or under `configuration:` as the chart has them)
 * becomes the tree the chart's templates produce, with `inline` deep-merged
 * on top, exactly as flyteadmin's loader merges the rendered files. A
 * flyte-core values file contributes `configmap.adminServer` (a flyteadmin
 * config as is), `secrets.adminOauthClientCredentials` and
 * `flyteadmin.secrets`. Secret values written inline go to the config's
 * inline secrets, never into a message. Everything else in a chart
 * (deployment, ingress, storage, database, ...) is ignored. What this file
 * does not do: type-check the flyteadmin keys -- walk.c does that on the
 * tree returned here, with positions still pointing into the values file. */
#include <stdio.h>
#include <string.h>

#include "config/config_int.h"

/* ---- recognising the shape ----------------------------------------------------------- */

enum fa_config_source cfg_detect(const struct ynode *root)
{
	static const char *const core[] = {
		"configmap", "secrets.adminOauthClientCredentials", "flyteadmin.secrets",
		"flyteadmin.image", "flyteadmin.replicaCount", "flytepropeller", "flyteconsole",
		"flytescheduler",
	};
	static const char *const binary[] = {
		"inline", "configuration", "deployment", "flyte-core-components",
		"clusterResourceTemplates", "auth.enabled", "auth.oidc", "auth.internal",
		"auth.enableAuthServer", "auth.flyteClient", "auth.clientSecretsExternalSecretRef",
	};

	for (size_t i = 0; i < ARRAY_LEN(core); i++)
		if (ymap_path_get(root, core[i]))
			return FA_CONFIG_SOURCE_FLYTE_CORE;
	for (size_t i = 0; i < ARRAY_LEN(binary); i++)
		if (ymap_path_get(root, binary[i]))
			return FA_CONFIG_SOURCE_FLYTE_BINARY;
	return FA_CONFIG_SOURCE_FLYTEADMIN;
}

/* ---- flyte-binary ----------------------------------------------------------------------- */

/* The entries of a flyte-binary values file that shape flyteadmin's config. */
struct binary {
	const struct yentry *enabled;
	const struct yentry *enable_auth_server;
	const struct yentry *oidc;
	const struct yentry *oidc_base_url;
	const struct yentry *oidc_client_id;
	const struct yentry *oidc_client_secret;
	const struct yentry *internal;
	const struct yentry *internal_client_id;
	const struct yentry *internal_client_secret;
	const struct yentry *internal_hash;
	const struct yentry *flyte_client;
	const struct yentry *authorized_uris;
	const struct yentry *inline_top;
	const struct yentry *inline_conf;
};

static const struct cfg_field binary_oidc_fields[] = {
	{ .key = "baseUrl", .kind = CK_ENTRY, .off = offsetof(struct binary, oidc_base_url) },
	{ .key = "clientId", .kind = CK_ENTRY, .off = offsetof(struct binary, oidc_client_id) },
	{ .key = "clientSecret", .kind = CK_ENTRY, .off = offsetof(struct binary, oidc_client_secret) },
	{ .key = NULL },
};

static const struct cfg_field binary_internal_fields[] = {
	{ .key = "clientId", .kind = CK_ENTRY, .off = offsetof(struct binary, internal_client_id) },
	{ .key = "clientSecret", .kind = CK_ENTRY,
	  .off = offsetof(struct binary, internal_client_secret) },
	{ .key = "clientSecretHash", .kind = CK_ENTRY, .off = offsetof(struct binary, internal_hash) },
	{ .key = "audience", .kind = CK_IGNORE },
	{ .key = NULL },
};

static const struct cfg_field binary_auth_fields[] = {
	{ .key = "enabled", .kind = CK_ENTRY, .off = offsetof(struct binary, enabled) },
	{ .key = "enableAuthServer", .kind = CK_ENTRY,
	  .off = offsetof(struct binary, enable_auth_server) },
	{ .key = "oidc", .kind = CK_SECTION, .sub = binary_oidc_fields },
	{ .key = "internal", .kind = CK_SECTION, .sub = binary_internal_fields },
	{ .key = "flyteClient", .kind = CK_ENTRY, .off = offsetof(struct binary, flyte_client) },
	{ .key = "authorizedUris", .kind = CK_ENTRY, .off = offsetof(struct binary, authorized_uris) },
	{ .key = "clientSecretsExternalSecretRef", .kind = CK_IGNORE },
	{ .key = NULL },
};

static const struct cfg_field binary_configuration_fields[] = {
	{ .key = "auth", .kind = CK_SECTION, .sub = binary_auth_fields },
	{ .key = "inline", .kind = CK_ENTRY, .off = offsetof(struct binary, inline_conf) },
	{ .key = "database", .kind = CK_IGNORE },
	{ .key = "storage", .kind = CK_IGNORE },
	{ .key = "logging", .kind = CK_IGNORE },
	{ .key = "co-pilot", .kind = CK_IGNORE },
	{ .key = "agentService", .kind = CK_IGNORE },
	{ .key = "externalConfigMap", .kind = CK_IGNORE },
	{ .key = "externalSecretRef", .kind = CK_IGNORE },
	{ .key = "inlineConfigMap", .kind = CK_IGNORE },
	{ .key = "inlineSecretRef", .kind = CK_IGNORE },
	{ .key = "labels", .kind = CK_IGNORE },
	{ .key = "annotations", .kind = CK_IGNORE },
	{ .key = NULL },
};

#define BINARY_HINT "in a flyte-binary values file, flyteadmin settings go under inline:"

static const struct cfg_field binary_root_fields[] = {
	{ .key = "auth", .kind = CK_SECTION, .sub = binary_auth_fields },
	{ .key = "inline", .kind = CK_ENTRY, .off = offsetof(struct binary, inline_top) },
	{ .key = "configuration", .kind = CK_SECTION, .sub = binary_configuration_fields,
	  .lenient = true },
	{ .key = "nameOverride", .kind = CK_IGNORE },
	{ .key = "fullnameOverride", .kind = CK_IGNORE },
	{ .key = "commonLabels", .kind = CK_IGNORE },
	{ .key = "commonAnnotations", .kind = CK_IGNORE },
	{ .key = "flyte-core-components", .kind = CK_IGNORE },
	{ .key = "clusterResourceTemplates", .kind = CK_IGNORE },
	{ .key = "deployment", .kind = CK_IGNORE },
	{ .key = "service", .kind = CK_IGNORE },
	{ .key = "ingress", .kind = CK_IGNORE },
	{ .key = "rbac", .kind = CK_IGNORE },
	{ .key = "serviceAccount", .kind = CK_IGNORE },
	{ .key = "flyteagent", .kind = CK_IGNORE },
	{ .key = "enabled_plugins", .kind = CK_IGNORE },
	/* flyteadmin sections written at the top of a values file: the chart
	 * never renders them, so say where they go. */
	{ .key = "server", .kind = CK_UNSUPPORTED, .target = BINARY_HINT },
	{ .key = "database", .kind = CK_UNSUPPORTED, .target = BINARY_HINT },
	{ .key = "secrets", .kind = CK_UNSUPPORTED, .target = BINARY_HINT },
	{ .key = "userAuth", .kind = CK_UNSUPPORTED, .target = BINARY_HINT },
	{ .key = "appAuth", .kind = CK_UNSUPPORTED, .target = BINARY_HINT },
	{ .key = NULL },
};

/* What the flyte-binary chart renders when auth.enabled is true
 * (templates/configmap.yaml, 004-auth.yaml), with its values defaults for
 * auth.flyteClient. */
static const char binary_auth_template[] =
	"server:\n"
	"  security:\n"
	"    useAuth: true\n"
	"auth:\n"
	"  appAuth:\n"
	"    thirdPartyConfig:\n"
	"      flyteClient:\n"
	"        clientId: flytectl\n"
	"        redirectUri: http://localhost:53593/callback\n"
	"        scopes: [all]\n"
	"        audience: ''\n"
	"  userAuth:\n"
	"    openId:\n"
	"      scopes: [profile, openid]\n";

/* ... and, with auth.enableAuthServer (the default), its static clients. */
static const char binary_clients_template[] =
	"auth:\n"
	"  appAuth:\n"
	"    selfAuthServer:\n"
	"      staticClients:\n"
	"        flytepropeller:\n"
	"          id: flytepropeller\n"
	"          grant_types: [refresh_token, client_credentials]\n"
	"          response_types: [token]\n"
	"          scopes: [all, offline, access_token]\n"
	"        flyte-cli:\n"
	"          id: flyte-cli\n"
	"          public: true\n"
	"          redirect_uris: ['http://localhost:53593/callback', 'http://localhost:12345/callback']\n"
	"          grant_types: [refresh_token, authorization_code]\n"
	"          response_types: [code, token]\n"
	"          scopes: [all, offline, access_token]\n"
	"        flytectl:\n"
	"          id: flytectl\n"
	"          public: true\n"
	"          redirect_uris: ['http://localhost:53593/callback', 'http://localhost:12345/callback']\n"
	"          grant_types: [refresh_token, authorization_code]\n"
	"          response_types: [code, token]\n"
	"          scopes: [all, offline, access_token]\n";

/* Parses one of the templates above and merges it into tree, every node
 * placed at `at` (the values file's auth: key) so messages point there. */
static void merge_template(struct cfg_ctx *c, struct ynode *tree, const char *tmpl,
			   const struct ynode *at)
{
	struct ynode *t = NULL;

	if (cfg_yaml_parse(c, tmpl, strlen(tmpl), &t) != FA_OK || !t || t->kind != Y_MAP) {
		c->fatal = true;
		return;
	}
	yrelocate(t, at ? at->line : 0, at ? at->col : 0);
	ymerge(c, tree, t);
}

static bool given(const struct yentry *e)
{
	return e && e->val->kind != Y_NULL && !(e->val->kind == Y_SCALAR && e->val->len == 0);
}

static void put(struct cfg_ctx *c, struct ynode *tree, const char *path, struct ynode *val,
		const struct ynode *at)
{
	if (ymap_path_set(c, tree, path, val, at ? at->line : 0, at ? at->col : 0) != FA_OK)
		c->enomem = true;
}

/* A secret value written in the values file: kept for the secrets layer. */
static void take_secret(struct cfg_ctx *c, const struct yentry *e, const char *path,
			const char *name)
{
	const char *v;

	if (!given(e))
		return;
	if (!cfg_get_string(c, e->val, path, true, &v))
		return;
	struct fa_config_pos pos = cfg_at(c, e->val);
	enum fa_rc rc = cfg_inline_secret_set(c->cfg, name, v, &pos);
	if (rc == FA_ETOOBIG)
		cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, e->key),
			 "%s: more than %d inline secrets", path,
			 FA_CONFIG_MAX_INLINE_SECRETS);
	else if (rc != FA_OK)
		c->enomem = true;
}

static void binary_required(struct cfg_ctx *c, const struct yentry *e, const struct yentry *parent,
			    const struct ynode *auth_key, const char *path)
{
	if (given(e))
		return;
	cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, e ? e->key : parent ? parent->key : auth_key),
		 "%s is required when auth.enabled is true (the flyte-binary chart refuses "
		 "to render without it)", path);
}

static void binary_auth(struct cfg_ctx *c, struct ynode *tree, const struct binary *hb,
			const struct ynode *auth_key)
{
	bool enable_as = true;

	merge_template(c, tree, binary_auth_template, auth_key);
	/* A bad value is reported; the chart's default (true) keeps the rest
	 * of the file checked. */
	if (hb->enable_auth_server && hb->enable_auth_server->val->kind != Y_NULL &&
	    !cfg_get_bool(c, hb->enable_auth_server->val, "auth.enableAuthServer", &enable_as))
		enable_as = true;
	if (enable_as) {
		merge_template(c, tree, binary_clients_template, auth_key);
		if (given(hb->internal_client_id))
			put(c, tree, "auth.appAuth.selfAuthServer.staticClients.flytepropeller.id",
			    hb->internal_client_id->val, hb->internal_client_id->key);
		if (given(hb->internal_hash)) {
			put(c, tree, "auth.appAuth.selfAuthServer.staticClients.flytepropeller.client_secret",
			    hb->internal_hash->val, hb->internal_hash->key);
		} else {
			const struct ynode *at = hb->internal_hash ? hb->internal_hash->key :
						 hb->internal ? hb->internal->key : auth_key;
			cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, at),
				 "auth.internal.clientSecretHash is required with the built-in "
				 "authorization server (auth.enableAuthServer): the bcrypt hash of "
				 "auth.internal.clientSecret; make it with \"flyteauth hash-secret\"");
			c->propeller_secret_reported = true;
		}
	}
	if (hb->flyte_client && hb->flyte_client->val->kind != Y_NULL) {
		struct ynode *fc = ymap_path_get(tree, "auth.appAuth.thirdPartyConfig.flyteClient");
		if (hb->flyte_client->val->kind != Y_MAP)
			cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, hb->flyte_client->val),
				 "auth.flyteClient: expected a mapping, got %s",
				 ykind_str(hb->flyte_client->val->kind));
		else if (fc)
			ymerge(c, fc, hb->flyte_client->val);
	}
	if (given(hb->authorized_uris))
		put(c, tree, "auth.authorizedUris", hb->authorized_uris->val, hb->authorized_uris->key);
	binary_required(c, hb->oidc_base_url, hb->oidc, auth_key, "auth.oidc.baseUrl");
	binary_required(c, hb->oidc_client_id, hb->oidc, auth_key, "auth.oidc.clientId");
	if (given(hb->oidc_base_url))
		put(c, tree, "auth.userAuth.openId.baseUrl", hb->oidc_base_url->val,
		    hb->oidc_base_url->key);
	if (given(hb->oidc_client_id))
		put(c, tree, "auth.userAuth.openId.clientId", hb->oidc_client_id->val,
		    hb->oidc_client_id->key);
	/* The chart mounts these two as the secrets oidc_client_secret and
	 * client_secret. */
	take_secret(c, hb->oidc_client_secret, "auth.oidc.clientSecret", "oidc_client_secret");
	take_secret(c, hb->internal_client_secret, "auth.internal.clientSecret", "client_secret");
}

static void binary_inline(struct cfg_ctx *c, struct ynode *tree, const struct yentry *e,
			  const char *path)
{
	if (!e || e->val->kind == Y_NULL)
		return;
	if (e->val->kind != Y_MAP) {
		cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, e->val),
			 "%s: expected a mapping (a flyteadmin config), got %s", path,
			 ykind_str(e->val->kind));
		return;
	}
	ymerge(c, tree, e->val);
}

struct ynode *cfg_helm_binary(struct cfg_ctx *c, const struct ynode *root)
{
	struct binary hb;
	struct ynode *tree;
	const struct yentry *auth = ymap_entry(root, "auth");
	const struct yentry *conf = ymap_entry(root, "configuration");
	const struct yentry *conf_auth = conf ? ymap_entry(conf->val, "auth") : NULL;
	bool enabled = false;

	memset(&hb, 0, sizeof(hb));
	cfg_walk_map(c, &hb, binary_root_fields, root, "", true);
	if (conf_auth)
		auth = conf_auth;
	if (auth) {     /* for positions of "required" messages */
		hb.oidc = ymap_entry(auth->val, "oidc");
		hb.internal = ymap_entry(auth->val, "internal");
	}
	tree = ynode_new(c, Y_MAP, 0, 0);
	if (!tree)
		return NULL;
	if (hb.enabled && hb.enabled->val->kind != Y_NULL &&
	    !cfg_get_bool(c, hb.enabled->val, "auth.enabled", &enabled))
		return tree;
	if (enabled) {
		binary_auth(c, tree, &hb, auth->key);
	} else {
		struct ynode *off = yscalar_new(c, "false", 0, 0);
		if (!off)
			return NULL;
		if (hb.enabled)
			yrelocate(off, hb.enabled->val->line, hb.enabled->val->col);
		put(c, tree, "server.security.useAuth", off, NULL);
		cfg_diag(c, FA_CONFIG_WARNING,
			 cfg_at(c, hb.enabled ? hb.enabled->key : auth ? auth->key : NULL),
			 "auth.enabled is not true: the flyte-binary chart leaves authentication off "
			 "(server.security.useAuth: false)%s",
			 auth && auth->val->count > (hb.enabled ? 1u : 0u) ?
			 " and ignores the rest of auth" : "");
	}
	binary_inline(c, tree, hb.inline_top, "inline");
	binary_inline(c, tree, hb.inline_conf, "configuration.inline");
	return tree;
}

/* ---- flyte-core -------------------------------------------------------------------------- */

struct core {
	const struct yentry *admin_server;
	const struct yentry *oauth_enabled;
	const struct yentry *oauth_client_secret;
	const struct yentry *oauth_client_id;
	const struct yentry *admin_secrets;
};

static const struct cfg_field core_configmap_fields[] = {
	{ .key = "adminServer", .kind = CK_ENTRY, .off = offsetof(struct core, admin_server) },
	{ .key = "admin", .kind = CK_IGNORE },
	{ .key = "catalog", .kind = CK_IGNORE },
	{ .key = "clusters", .kind = CK_IGNORE },
	{ .key = "console", .kind = CK_IGNORE },
	{ .key = "copilot", .kind = CK_IGNORE },
	{ .key = "core", .kind = CK_IGNORE },
	{ .key = "datacatalogServer", .kind = CK_IGNORE },
	{ .key = "domain", .kind = CK_IGNORE },
	{ .key = "enabled_plugins", .kind = CK_IGNORE },
	{ .key = "k8s", .kind = CK_IGNORE },
	{ .key = "logger", .kind = CK_IGNORE },
	{ .key = "namespace_config", .kind = CK_IGNORE },
	{ .key = "qualityOfService", .kind = CK_IGNORE },
	{ .key = "remoteData", .kind = CK_IGNORE },
	{ .key = "resource_manager", .kind = CK_IGNORE },
	{ .key = "schedulerConfig", .kind = CK_IGNORE },
	{ .key = "task_logs", .kind = CK_IGNORE },
	{ .key = "task_resource_defaults", .kind = CK_IGNORE },
	{ .key = NULL },
};

static const struct cfg_field core_oauth_fields[] = {
	{ .key = "enabled", .kind = CK_ENTRY, .off = offsetof(struct core, oauth_enabled) },
	{ .key = "clientSecret", .kind = CK_ENTRY, .off = offsetof(struct core, oauth_client_secret) },
	{ .key = "clientId", .kind = CK_ENTRY, .off = offsetof(struct core, oauth_client_id) },
	{ .key = NULL },
};

static const struct cfg_field core_secrets_fields[] = {
	{ .key = "adminOauthClientCredentials", .kind = CK_SECTION, .sub = core_oauth_fields },
	{ .key = NULL },
};

static const struct cfg_field core_admin_fields[] = {
	{ .key = "secrets", .kind = CK_ENTRY, .off = offsetof(struct core, admin_secrets) },
	{ .key = "enabled", .kind = CK_IGNORE },
	{ .key = "replicaCount", .kind = CK_IGNORE },
	{ .key = "image", .kind = CK_IGNORE },
	{ .key = "env", .kind = CK_IGNORE },
	{ .key = "resources", .kind = CK_IGNORE },
	{ .key = "service", .kind = CK_IGNORE },
	{ .key = "serviceAccount", .kind = CK_IGNORE },
	{ .key = "serviceMonitor", .kind = CK_IGNORE },
	{ .key = "podAnnotations", .kind = CK_IGNORE },
	{ .key = "podLabels", .kind = CK_IGNORE },
	{ .key = "podEnv", .kind = CK_IGNORE },
	{ .key = "nodeSelector", .kind = CK_IGNORE },
	{ .key = "tolerations", .kind = CK_IGNORE },
	{ .key = "affinity", .kind = CK_IGNORE },
	{ .key = "securityContext", .kind = CK_IGNORE },
	{ .key = "initialProjects", .kind = CK_IGNORE },
	{ .key = "extraArgs", .kind = CK_IGNORE },
	{ .key = "additionalVolumes", .kind = CK_IGNORE },
	{ .key = "additionalVolumeMounts", .kind = CK_IGNORE },
	{ .key = "additionalContainers", .kind = CK_IGNORE },
	{ .key = "initContainerClusterSyncAdditionalVolumeMounts", .kind = CK_IGNORE },
	{ .key = "priorityClassName", .kind = CK_IGNORE },
	{ .key = "configPath", .kind = CK_IGNORE },
	{ .key = "deployRedoc", .kind = CK_IGNORE },
	{ .key = NULL },
};

#define CORE_HINT "in a flyte-core values file, flyteadmin settings go under configmap.adminServer"

static const struct cfg_field core_root_fields[] = {
	{ .key = "configmap", .kind = CK_SECTION, .sub = core_configmap_fields, .lenient = true },
	{ .key = "secrets", .kind = CK_SECTION, .sub = core_secrets_fields, .lenient = true },
	{ .key = "flyteadmin", .kind = CK_SECTION, .sub = core_admin_fields, .lenient = true },
	{ .key = "flytescheduler", .kind = CK_IGNORE },
	{ .key = "datacatalog", .kind = CK_IGNORE },
	{ .key = "flytepropeller", .kind = CK_IGNORE },
	{ .key = "flyteconsole", .kind = CK_IGNORE },
	{ .key = "flyteagent", .kind = CK_IGNORE },
	{ .key = "webhook", .kind = CK_IGNORE },
	{ .key = "common", .kind = CK_IGNORE },
	{ .key = "storage", .kind = CK_IGNORE },
	{ .key = "db", .kind = CK_IGNORE },
	{ .key = "cluster_resource_manager", .kind = CK_IGNORE },
	{ .key = "workflow_scheduler", .kind = CK_IGNORE },
	{ .key = "workflow_notifications", .kind = CK_IGNORE },
	{ .key = "external_events", .kind = CK_IGNORE },
	{ .key = "cloud_events", .kind = CK_IGNORE },
	{ .key = "deployRedoc", .kind = CK_IGNORE },
	{ .key = "sparkoperator", .kind = CK_IGNORE },
	{ .key = "daskoperator", .kind = CK_IGNORE },
	{ .key = "databricks", .kind = CK_IGNORE },
	{ .key = "redoc", .kind = CK_IGNORE },
	{ .key = "server", .kind = CK_UNSUPPORTED, .target = CORE_HINT },
	{ .key = "database", .kind = CK_UNSUPPORTED, .target = CORE_HINT },
	{ .key = "auth", .kind = CK_UNSUPPORTED, .target = CORE_HINT },
	{ .key = "userAuth", .kind = CK_UNSUPPORTED, .target = CORE_HINT },
	{ .key = "appAuth", .kind = CK_UNSUPPORTED, .target = CORE_HINT },
	{ .key = NULL },
};

/* Secret names become file names under secrets-prefix: the same rule as
 * for the *SecretName keys. */
static bool secret_key_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static void core_admin_secrets(struct cfg_ctx *c, const struct yentry *secrets)
{
	char path[CFG_MAX_PATH], q[80];

	if (!secrets || secrets->val->kind == Y_NULL)
		return;
	if (secrets->val->kind != Y_MAP) {
		cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, secrets->val),
			 "flyteadmin.secrets: expected a mapping of secret name "
			 "to value, got %s", ykind_str(secrets->val->kind));
		return;
	}
	for (const struct yentry *e = secrets->val->first; e; e = e->next) {
		cfg_quote(e->key->str, e->key->len, q, sizeof(q));
		if (!secret_key_ok(e->key->str)) {
			cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, e->key),
				 "flyteadmin.secrets: bad secret name \"%s\": use a plain "
				 "file name (letters, digits, '.', '_' and '-')", q);
			continue;
		}
		snprintf(path, sizeof(path), "flyteadmin.secrets.%s", q);
		take_secret(c, e, path, e->key->str);
	}
}

struct ynode *cfg_helm_core(struct cfg_ctx *c, const struct ynode *root)
{
	struct core hc;
	struct ynode *tree = NULL;
	bool enabled = true;

	memset(&hc, 0, sizeof(hc));
	cfg_walk_map(c, &hc, core_root_fields, root, "", true);
	if (hc.admin_server && hc.admin_server->val->kind == Y_MAP) {
		tree = hc.admin_server->val;
	} else {
		if (hc.admin_server && hc.admin_server->val->kind != Y_NULL)
			cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, hc.admin_server->val),
				 "configmap.adminServer: expected a mapping "
				 "(a flyteadmin config), got %s", ykind_str(hc.admin_server->val->kind));
		tree = ynode_new(c, Y_MAP, 0, 0);
	}
	if (hc.oauth_enabled && hc.oauth_enabled->val->kind != Y_NULL)
		(void)cfg_get_bool(c, hc.oauth_enabled->val,
				   "secrets.adminOauthClientCredentials.enabled", &enabled);
	if (!enabled && given(hc.oauth_client_secret))
		cfg_diag(c, FA_CONFIG_WARNING, cfg_at(c, hc.oauth_client_secret->key),
			 "secrets.adminOauthClientCredentials: enabled: false with a clientSecret "
			 "is a combination the flyte-core chart does not support");
	take_secret(c, hc.oauth_client_secret, "secrets.adminOauthClientCredentials.clientSecret",
		    "client_secret");
	if (given(hc.oauth_client_id)) {
		const char *id;
		if (cfg_get_string(c, hc.oauth_client_id->val,
				   "secrets.adminOauthClientCredentials.clientId", false, &id))
			c->propeller_client_id = hc.oauth_client_id->val;
	}
	core_admin_secrets(c, hc.admin_secrets);
	return tree;
}
