/* test_config_seed.c -- every server-side YAML example of the seed docs
 * (tests/config/seed/, placeholders filled in) loads with the values it
 * writes, or -- where the example itself is mis-indented -- fails with one
 * line that names the fix, and its corrected copy loads. Then the Helm
 * values mapping in detail: flyte-binary (top-level or under
 * `configuration:`, chart defaults, `inline` on top, inline secrets) and
 * flyte-core (`configmap.adminServer`, `secrets.adminOauthClientCredentials`,
 * `flyteadmin.secrets`). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "config/config.h"

#define SEED FA_SOURCE_DIR "/tests/config/seed/"
#define HASH "$2b$06$09VRyJlazsRy6LcTjQc5NO92aUGlWJ8dEm5lIzG8a.M5eHgvnOR9K"
/* base64 of the bcrypt hash of "acme-propeller-password" in the fixtures. */
#define PROPELLER_HASH "JDJiJDA2JDU5UnpvcHRrcnVSVXFCeDcua0t4SXVlUnpVT3VLZ1VsMEN1bmMyV1d3bFptQVd1SnBLUVl5"
#define EM_DASH "\xe2\x80\x94"

struct loaded {
	struct fa_config *cfg;
	struct fa_config_diag *d;
	struct fa_err err;
	enum fa_rc rc;
};

static void dump(const struct loaded *l)
{
	for (size_t i = 0; i < fa_config_diag_count(l->d); i++)
		print_message("  diag[%zu] %s\n", i, fa_config_diag_line(l->d, i));
}

static void load_file(struct loaded *l, const char *path)
{
	l->d = fa_config_diag_new();
	assert_non_null(l->d);
	l->rc = fa_config_load(path, l->d, &l->cfg, &l->err);
}

/* The example loads; on failure the test shows why. */
static void assert_loaded(const struct loaded *l)
{
	if (l->rc != FA_OK)
		dump(l);
	assert_int_equal(l->rc, FA_OK);
}

static void load(struct loaded *l, const char *yaml)
{
	l->d = fa_config_diag_new();
	assert_non_null(l->d);
	l->rc = fa_config_load_buffer("v.yaml", yaml, strlen(yaml), l->d, &l->cfg, &l->err);
}

static void unload(struct loaded *l)
{
	fa_config_free(l->cfg);
	fa_config_diag_free(l->d);
}

static bool has_line(const struct loaded *l, const char *line)
{
	for (size_t i = 0; i < fa_config_diag_count(l->d); i++)
		if (!strcmp(fa_config_diag_line(l->d, i), line))
			return true;
	dump(l);
	print_message("  missing: %s\n", line);
	return false;
}

static void assert_list(const struct fa_config_list *l, size_t n, ...)
{
	va_list ap;

	assert_int_equal(l->count, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(l->items[i], va_arg(ap, const char *));
	va_end(ap);
}

static const struct fa_config_secret *inline_secret(const struct fa_config *c, const char *name)
{
	for (size_t i = 0; i < c->inline_secrets_count; i++)
		if (!strcmp(c->inline_secrets[i].name, name))
			return &c->inline_secrets[i];
	fail_msg("no inline secret %s", name);
	return NULL;
}

/* ---- the seed's examples ----------------------------------------------------------------- */

static void test_seed_flyte_binary_oidc(void **state)
{
	(void)state;
	struct loaded l;

	load_file(&l, SEED "flyte-binary-oidc.yaml");
	assert_loaded(&l);
	assert_int_equal(fa_config_diag_count(l.d), 0);
	const struct fa_config *c = l.cfg;
	assert_int_equal(c->source, FA_CONFIG_SOURCE_FLYTE_BINARY);
	assert_true(c->server.security.use_auth);
	assert_int_equal(c->auth.app_auth.auth_server_type, FA_CONFIG_AS_SELF);
	assert_string_equal(c->auth.user_auth.open_id.base_url, "https://dev-acme.okta.com/oauth2/default");
	assert_int_equal(c->auth.user_auth.open_id.base_url_pos.line, 11);
	assert_int_equal(c->auth.user_auth.open_id.base_url_pos.col, 14);
	assert_string_equal(c->auth.user_auth.open_id.client_id, "0oa1acmeflyteweb");
	/* What the chart renders. */
	assert_list(&c->auth.user_auth.open_id.scopes, 2, "profile", "openid");
	assert_list(&c->auth.authorized_uris, 1, "https://flyte.acme.example.com");
	assert_list(&c->auth.app_auth.third_party.flyte_client.scopes, 1, "all");
	assert_int_equal(c->auth.app_auth.self.static_clients_count, 3);
	const struct fa_config_client *p = fa_config_client_get(c, "flytepropeller");
	assert_non_null(p);
	assert_false(p->is_public);
	assert_false(p->is_default);
	assert_string_equal(p->client_secret, PROPELLER_HASH);
	assert_int_equal(p->secret_pos.line, 18);
	assert_list(&p->grant_types, 2, "refresh_token", "client_credentials");
	assert_list(&p->scopes, 3, "all", "offline", "access_token");
	assert_true(fa_config_client_get(c, "flytectl")->is_public);
	assert_list(&fa_config_client_get(c, "flyte-cli")->response_types, 2, "code", "token");
	/* Inline secrets, named as the chart mounts them. */
	assert_int_equal(c->inline_secrets_count, 2);
	assert_string_equal(fa_config_inline_secret_get(c, "oidc_client_secret"), "acme-oidc-client-secret");
	assert_string_equal(fa_config_inline_secret_get(c, "client_secret"), "acme-propeller-password");
	assert_int_equal(inline_secret(c, "oidc_client_secret")->pos.line, 14);
	assert_int_equal(inline_secret(c, "oidc_client_secret")->pos.col, 19);
	assert_null(fa_config_inline_secret_get(c, "cookie_hash_key"));
	assert_null(fa_config_inline_secret_get(NULL, "x"));
	unload(&l);
}

/* The seed's flyte-core OIDC example has the same mis-indented openId
 * block as the Entra ID one: one error line that says how to fix it. */
static void test_seed_flyte_core_oidc_misindented(void **state)
{
	(void)state;
	struct loaded l;

	load_file(&l, SEED "flyte-core-oidc.yaml");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_null(l.cfg);
	assert_int_equal(fa_config_diag_count(l.d), 1);
	assert_string_equal(fa_config_diag_line(l.d, 0),
			    SEED "flyte-core-oidc.yaml:93:9: key \"baseUrl\" is not valid under auth.userAuth; "
			    "it belongs under auth.userAuth.openId " EM_DASH " indent it under \"openId:\" "
			    "(also \"clientId\", \"scopes\")");
	unload(&l);
}

static void test_seed_flyte_core_oidc_fixed(void **state)
{
	(void)state;
	struct loaded l;

	load_file(&l, SEED "flyte-core-oidc-fixed.yaml");
	assert_loaded(&l);
	assert_int_equal(fa_config_diag_count(l.d), 0);
	const struct fa_config *c = l.cfg;
	assert_int_equal(c->source, FA_CONFIG_SOURCE_FLYTE_CORE);
	assert_int_equal(c->server.http_port, 8088);
	assert_false(c->server.security.secure);
	assert_true(c->server.security.use_auth);
	assert_true(c->server.security.allow_cors);
	assert_list(&c->server.security.allowed_origins, 1, "*");
	assert_list(&c->server.security.allowed_headers, 1, "Content-Type");
	assert_string_equal(c->auth.app_auth.third_party.flyte_client.client_id, "flytectl");
	assert_list(&c->auth.app_auth.third_party.flyte_client.scopes, 2, "offline", "all");
	assert_int_equal(c->auth.app_auth.self.static_clients_count, 3);
	const struct fa_config_client *p = fa_config_client_get(c, "flytepropeller");
	assert_string_equal(p->client_secret, PROPELLER_HASH);
	assert_int_equal(p->pos.line, 65);
	assert_list(&p->redirect_uris, 1, "http://localhost:3846/callback");
	assert_list(&fa_config_client_get(c, "flyte-cli")->redirect_uris, 2,
		    "http://localhost:53593/callback", "http://localhost:12345/callback");
	assert_list(&c->auth.authorized_uris, 3, "https://flyte.acme.example.com", "http://flyteadmin:80",
		    "http://flyteadmin.flyte.svc.cluster.local:80");
	assert_string_equal(c->auth.user_auth.open_id.base_url, "https://dev-acme.okta.com/oauth2/default");
	assert_int_equal(c->auth.user_auth.open_id.base_url_pos.line, 92);
	assert_string_equal(c->auth.user_auth.open_id.client_id, "0oa1acmeflyteweb");
	assert_list(&c->auth.user_auth.open_id.scopes, 2, "profile", "openid");
	assert_string_equal(fa_config_inline_secret_get(c, "oidc_client_secret"), "acme-oidc-client-secret");
	assert_int_equal(inline_secret(c, "oidc_client_secret")->pos.line, 6);
	assert_int_equal(inline_secret(c, "client_secret")->pos.line, 108);
	assert_string_equal(fa_config_inline_secret_get(c, "client_secret"), "acme-propeller-password");
	unload(&l);
}

static void test_seed_flyte_binary_external(void **state)
{
	(void)state;
	struct loaded l;

	load_file(&l, SEED "flyte-binary-external.yaml");
	assert_loaded(&l);
	assert_int_equal(fa_config_diag_count(l.d), 0);
	const struct fa_config *c = l.cfg;
	assert_int_equal(c->source, FA_CONFIG_SOURCE_FLYTE_BINARY);
	assert_int_equal(c->auth.app_auth.auth_server_type, FA_CONFIG_AS_EXTERNAL);
	assert_string_equal(c->auth.app_auth.external.base_url, "https://dev-acme.okta.com/oauth2/aus1acmeflyte");
	assert_int_equal(c->auth.app_auth.external.base_url_pos.line, 32);
	assert_string_equal(c->auth.app_auth.external.metadata_url, ".well-known/oauth-authorization-server");
	assert_int_equal(c->auth.app_auth.external.allowed_audience.count, 0);
	assert_string_equal(c->auth.app_auth.third_party.flyte_client.client_id, "0oa1acmeflytectl");
	assert_string_equal(c->auth.app_auth.third_party.flyte_client.redirect_uri,
			    "http://localhost:53593/callback");
	assert_list(&c->auth.app_auth.third_party.flyte_client.scopes, 2, "offline", "all");
	/* inline: wins over what the chart renders from auth.oidc. */
	assert_string_equal(c->auth.user_auth.open_id.base_url, "https://dev-acme.okta.com/oauth2/aus1acmeflyte");
	assert_int_equal(c->auth.user_auth.open_id.base_url_pos.line, 47);
	assert_string_equal(c->auth.user_auth.open_id.client_id, "0oa1acmeflyteweb");
	assert_list(&c->auth.user_auth.open_id.scopes, 2, "profile", "openid");
	assert_list(&c->auth.authorized_uris, 1, "https://flyte.acme.example.com");
	/* The chart's propeller client takes auth.internal.clientId. */
	const struct fa_config_client *p = fa_config_client_get(c, "0oa1acmepropeller");
	assert_non_null(p);
	assert_string_equal(p->key, "flytepropeller");
	assert_int_equal(p->id_pos.line, 16);
	assert_string_equal(p->client_secret, PROPELLER_HASH);
	assert_string_equal(fa_config_inline_secret_get(c, "oidc_client_secret"), "acme-oidc-client-secret");
	assert_string_equal(fa_config_inline_secret_get(c, "client_secret"), "acme-propeller-password");
	unload(&l);
}

/* The seed puts externalAuthServer under auth and userAuth under
 * adminServer: read where they belong, with a warning for each. */
static void test_seed_flyte_core_external(void **state)
{
	(void)state;
	struct loaded l;

	load_file(&l, SEED "flyte-core-external.yaml");
	assert_loaded(&l);
	assert_int_equal(fa_config_diag_count(l.d), 2);
	assert_true(has_line(&l, SEED "flyte-core-external.yaml:11:7: warning: \"externalAuthServer\" belongs "
			     "under auth.appAuth, not under auth; read as auth.appAuth.externalAuthServer"));
	assert_true(has_line(&l, SEED "flyte-core-external.yaml:21:5: warning: \"userAuth\" belongs under auth, "
			     "not at the top level; read as auth.userAuth"));
	const struct fa_config *c = l.cfg;
	assert_int_equal(c->source, FA_CONFIG_SOURCE_FLYTE_CORE);
	assert_int_equal(c->auth.app_auth.auth_server_type, FA_CONFIG_AS_EXTERNAL);
	assert_string_equal(c->auth.app_auth.external.base_url, "https://dev-acme.okta.com/oauth2/aus1acmeflyte");
	assert_int_equal(c->auth.app_auth.external.base_url_pos.line, 17);
	/* One audience written as a plain string. */
	assert_list(&c->auth.app_auth.external.allowed_audience, 1, "https://flyte.acme.example.com");
	assert_string_equal(c->auth.app_auth.external.metadata_url, ".well-known/openid-configuration");
	assert_string_equal(c->auth.user_auth.open_id.base_url, "https://dev-acme.okta.com/oauth2/aus1acmeflyte");
	assert_int_equal(c->auth.user_auth.open_id.base_url_pos.line, 26);
	assert_string_equal(c->auth.user_auth.open_id.client_id, "0oa1acmeflyteweb");
	assert_list(&c->auth.user_auth.open_id.scopes, 2, "profile", "openid");
	assert_string_equal(fa_config_inline_secret_get(c, "client_secret"), "acme-propeller-secret");
	assert_int_equal(c->inline_secrets_count, 1);
	unload(&l);
}

static void test_seed_entra_misindented(void **state)
{
	(void)state;
	struct loaded l;

	load_file(&l, SEED "flyte-core-entra.yaml");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_null(l.cfg);
	assert_int_equal(fa_config_diag_count(l.d), 1);
	assert_string_equal(fa_config_diag_line(l.d, 0),
			    SEED "flyte-core-entra.yaml:41:9: key \"baseUrl\" is not valid under auth.userAuth; "
			    "it belongs under auth.userAuth.openId " EM_DASH " indent it under \"openId:\" "
			    "(also \"scopes\", \"clientId\")");
	assert_int_equal(l.err.rc, FA_ECONFIG);
	assert_non_null(strstr(l.err.msg, "flyte-core-entra.yaml:41:9: key \"baseUrl\""));
	unload(&l);
}

static void test_seed_entra_fixed(void **state)
{
	(void)state;
	struct loaded l;
	const char *client = "5f0c2a9e-1d2b-4c3d-8e4f-acme00000001";

	load_file(&l, SEED "flyte-core-entra-fixed.yaml");
	assert_loaded(&l);
	assert_int_equal(fa_config_diag_count(l.d), 0);
	const struct fa_config *c = l.cfg;
	assert_int_equal(c->source, FA_CONFIG_SOURCE_FLYTE_CORE);
	assert_int_equal(c->auth.app_auth.auth_server_type, FA_CONFIG_AS_EXTERNAL);
	assert_string_equal(c->auth.app_auth.external.base_url,
			    "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-acme00000000/v2.0/");
	assert_int_equal(c->auth.app_auth.external.base_url_pos.line, 27);
	assert_string_equal(c->auth.app_auth.external.metadata_url, ".well-known/openid-configuration");
	/* Written "AllowedAudience": keys fold case. */
	assert_list(&c->auth.app_auth.external.allowed_audience, 1,
		    "api://5f0c2a9e-1d2b-4c3d-8e4f-acme00000001");
	assert_string_equal(c->auth.app_auth.third_party.flyte_client.client_id, client);
	assert_list(&c->auth.app_auth.third_party.flyte_client.scopes, 1,
		    "api://5f0c2a9e-1d2b-4c3d-8e4f-acme00000001/access_flyte");
	assert_string_equal(c->auth.user_auth.open_id.base_url,
			    "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-acme00000000/v2.0");
	assert_int_equal(c->auth.user_auth.open_id.base_url_pos.line, 40);
	assert_list(&c->auth.user_auth.open_id.scopes, 2, "openid", "profile");
	assert_string_equal(c->auth.user_auth.open_id.client_id, client);
	/* First document: the propeller's secret; second: a client config,
	 * ignored. */
	assert_string_equal(fa_config_inline_secret_get(c, "client_secret"), "acme-entra-client-secret");
	assert_int_equal(inline_secret(c, "client_secret")->pos.line, 7);
	unload(&l);
}

static void test_seed_disable_helm_secret(void **state)
{
	(void)state;
	struct loaded l;

	load_file(&l, SEED "disable-helm-secret.yaml");
	assert_loaded(&l);
	assert_int_equal(l.cfg->source, FA_CONFIG_SOURCE_FLYTE_CORE);
	/* clientSecret: null -- Helm creates no secret, and neither do we. */
	assert_int_equal(l.cfg->inline_secrets_count, 0);
	assert_true(has_line(&l, SEED "disable-helm-secret.yaml:9:18: warning: "
			     "secrets.adminOauthClientCredentials.clientId \"0oa1acmepropeller\" is not one of "
			     "the static clients: flytepropeller will be refused"));
	assert_int_equal(fa_config_diag_errors(l.d), 0);
	unload(&l);
}

/* ---- flyte-binary in detail -------------------------------------------------------------- */

#define BINARY_AUTH "  auth:\n    enabled: true\n" \
	"    oidc: {baseUrl: 'https://idp.example.com', clientId: web, clientSecret: s3cret}\n" \
	"    internal: {clientSecret: pw, clientSecretHash: '" HASH "'}\n"

static void test_binary_configuration_nesting(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, "deployment: {image: {tag: latest}}\ningress: {create: true}\n"
	     "configuration:\n  database: {host: db, password: pw}\n  storage: {provider: s3}\n"
	     BINARY_AUTH
	     "    authorizedUris: [https://flyte.example.com]\n"
	     "    flyteClient: {clientId: cli}\n"
	     "  inline:\n    auth:\n      appAuth:\n        selfAuthServer:\n"
	     "          accessTokenLifespan: 5m\n"
	     "          staticClients:\n            cli: {id: cli, public: true, "
	     "redirect_uris: ['http://localhost:53593/callback']}\n"
	     "    server: {httpPort: 8080}\n");
	if (l.rc != FA_OK)
		dump(&l);
	assert_int_equal(l.rc, FA_OK);
	assert_int_equal(fa_config_diag_count(l.d), 0);
	const struct fa_config *c = l.cfg;
	assert_int_equal(c->source, FA_CONFIG_SOURCE_FLYTE_BINARY);
	assert_int_equal(c->server.http_port, 8080);
	assert_int_equal(c->auth.app_auth.self.access_token_lifespan_ms, 5 * 60 * 1000);
	assert_int_equal(c->auth.app_auth.self.static_clients_count, 4);
	/* The values file's flyteClient merged over the chart's defaults. */
	assert_string_equal(c->auth.app_auth.third_party.flyte_client.client_id, "cli");
	assert_string_equal(c->auth.app_auth.third_party.flyte_client.redirect_uri,
			    "http://localhost:53593/callback");
	assert_list(&c->auth.app_auth.third_party.flyte_client.scopes, 1, "all");
	/* configuration.database is the chart's own; flyteauth keeps sqlite. */
	assert_int_equal(c->database.kind, FA_CONFIG_DB_SQLITE);
	assert_string_equal(fa_config_inline_secret_get(c, "oidc_client_secret"), "s3cret");
	unload(&l);
}

static void test_binary_auth_disabled(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, "auth:\n  enabled: false\n  oidc: {baseUrl: 'https://idp.example.com'}\n");
	assert_int_equal(l.rc, FA_OK);
	assert_false(l.cfg->server.security.use_auth);
	assert_string_equal(l.cfg->auth.user_auth.open_id.base_url, "");
	assert_true(has_line(&l, "v.yaml:2:3: warning: auth.enabled is not true: the flyte-binary chart leaves "
			     "authentication off (server.security.useAuth: false) and ignores the rest of auth"));
	unload(&l);

	load(&l, "inline:\n  server: {httpPort: 9000}\n");
	assert_int_equal(l.rc, FA_OK);
	assert_false(l.cfg->server.security.use_auth);
	assert_int_equal(l.cfg->server.http_port, 9000);
	assert_true(has_line(&l, "v.yaml: warning: auth.enabled is not true: the flyte-binary chart leaves "
			     "authentication off (server.security.useAuth: false)"));
	unload(&l);
}

static void test_binary_missing_hash(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, "auth:\n  enabled: true\n  oidc: {baseUrl: 'https://idp.example.com', clientId: web}\n"
	     "  internal:\n    clientSecret: pw\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	/* One line, in the values file's words; not a second one about
	 * staticClients.flytepropeller. */
	assert_int_equal(fa_config_diag_errors(l.d), 1);
	assert_true(has_line(&l, "v.yaml:4:3: auth.internal.clientSecretHash is required with the built-in "
			     "authorization server (auth.enableAuthServer): the bcrypt hash of "
			     "auth.internal.clientSecret; make it with \"flyteauth hash-secret\""));
	unload(&l);
}

static void test_binary_required_oidc(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, "auth:\n  enabled: true\n  oidc: {clientId: web}\n"
	     "  internal: {clientSecretHash: '" HASH "'}\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "v.yaml:3:3: auth.oidc.baseUrl is required when auth.enabled is true (the "
			     "flyte-binary chart refuses to render without it)"));
	unload(&l);
	load(&l, "auth:\n  enabled: true\n  internal: {clientSecretHash: '" HASH "'}\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "v.yaml:1:1: auth.oidc.clientId is required when auth.enabled is true (the "
			     "flyte-binary chart refuses to render without it)"));
	unload(&l);
}

static void test_binary_no_auth_server(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, "auth:\n  enabled: true\n  enableAuthServer: false\n"
	     "  oidc: {baseUrl: 'https://idp.example.com', clientId: web}\n"
	     "inline:\n  auth: {appAuth: {authServerType: External}}\n");
	assert_int_equal(l.rc, FA_OK);
	assert_int_equal(fa_config_diag_errors(l.d), 0);
	assert_int_equal(l.cfg->auth.app_auth.auth_server_type, FA_CONFIG_AS_EXTERNAL);
	/* No chart clients: flyteadmin's defaults stay. */
	assert_true(fa_config_client_get(l.cfg, "flytepropeller")->is_default);
	assert_string_equal(l.cfg->auth.app_auth.external.base_url, "https://idp.example.com");
	unload(&l);
}

static void test_binary_key_errors(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, "auth:\n  enabled: true\n  oidc: {baseUrl: 'https://idp.example.com', clientId: web, "
	     "clientSecrett: x}\n  clientSecretHash: '" HASH "'\n  enabled2: yes\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "v.yaml:3:61: unknown key \"clientSecrett\" in auth.oidc; did you mean "
			     "\"clientSecret\"?"));
	assert_true(has_line(&l, "v.yaml:4:3: key \"clientSecretHash\" is not valid under auth; it belongs "
			     "under auth.internal " EM_DASH " indent it under \"internal:\""));
	assert_true(has_line(&l, "v.yaml:5:3: unknown key \"enabled2\" in auth; did you mean \"enabled\"?"));
	unload(&l);
	load(&l, "auth:\n  enabled: sure\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "v.yaml:2:12: auth.enabled: expected a boolean (true or false), got \"sure\""));
	unload(&l);
	load(&l, "inline: [a]\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "v.yaml:1:9: inline: expected a mapping (a flyteadmin config), got a list"));
	unload(&l);
	load(&l, "auth:\n  enabled: true\n  enableAuthServer: 1.0\n  flyteClient: flytectl\n"
	     "  oidc: {baseUrl: 'https://idp.example.com', clientId: web}\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "v.yaml:3:21: auth.enableAuthServer: expected a boolean (true or false), "
			     "got \"1.0\""));
	assert_true(has_line(&l, "v.yaml:4:16: auth.flyteClient: expected a mapping, got a string"));
	unload(&l);
	load(&l, "secrets:\n  adminOauthClientCredentials: {enabled: 2, clientId: [x]}\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "v.yaml:2:42: secrets.adminOauthClientCredentials.enabled: expected a "
			     "boolean (true or false), got \"2\""));
	assert_true(has_line(&l, "v.yaml:2:55: secrets.adminOauthClientCredentials.clientId: expected a "
			     "string, got a list"));
	unload(&l);
	load(&l, "configuration:\n  inline:\n    server: {htpPort: 1}\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "v.yaml:3:14: unknown key \"htpPort\" in server; did you mean \"httpPort\"?"));
	unload(&l);
}

/* ---- flyte-core in detail ------------------------------------------------------------------ */

static void test_core_admin_secrets(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, "flyteadmin:\n  replicaCount: 2\n  secrets:\n    oidc_client_secret: a\n"
	     "    cookie_hash_key: b\n    unused: ~\n");
	assert_int_equal(l.rc, FA_OK);
	assert_int_equal(l.cfg->source, FA_CONFIG_SOURCE_FLYTE_CORE);
	assert_int_equal(l.cfg->inline_secrets_count, 2);
	assert_string_equal(fa_config_inline_secret_get(l.cfg, "oidc_client_secret"), "a");
	assert_string_equal(fa_config_inline_secret_get(l.cfg, "cookie_hash_key"), "b");
	assert_null(fa_config_inline_secret_get(l.cfg, "unused"));
	assert_int_equal(fa_config_diag_errors(l.d), 0);
	unload(&l);
	load(&l, "flyteadmin:\n  secrets:\n    oidc_client_secret: [a]\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "v.yaml:3:25: flyteadmin.secrets.oidc_client_secret: expected a string, got a list"));
	unload(&l);
	load(&l, "flyteadmin:\n  secrets: [a]\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "v.yaml:2:12: flyteadmin.secrets: expected a mapping of secret name to value, "
			     "got a list"));
	unload(&l);
}

static void test_core_admin_server_shape(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, "configmap:\n  adminServer: yes\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "v.yaml:2:16: configmap.adminServer: expected a mapping (a flyteadmin config), "
			     "got a string"));
	unload(&l);
	load(&l, "configmap:\n  logger: {level: 5}\n  clusters: {}\n  myOwnThing: 1\n"
	     "webhook: {enabled: true}\nsecrets:\n  adminOauthClientCredentials:\n    enabled: false\n"
	     "    clientSecret: x\n");
	assert_int_equal(l.rc, FA_OK);
	assert_true(has_line(&l, "v.yaml:4:3: note: \"myOwnThing\" under configmap is not used by flyteauth; ignored"));
	assert_true(has_line(&l, "v.yaml:9:5: warning: secrets.adminOauthClientCredentials: enabled: false with "
			     "a clientSecret is a combination the flyte-core chart does not support"));
	unload(&l);
}

/* flyteadmin sections at the top of a values file are never rendered by
 * the chart: say where they belong instead of silently ignoring them. */
static void test_values_file_admin_sections(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, "inline: {}\nserver: {httpPort: 9000}\n");
	assert_int_equal(l.rc, FA_OK);
	assert_int_equal(l.cfg->server.http_port, 8088);
	assert_true(has_line(&l, "v.yaml:2:1: warning: server is ignored: in a flyte-binary values file, "
			     "flyteadmin settings go under inline:"));
	unload(&l);
	load(&l, "configmap: {}\nauth:\n  appAuth: {authServerType: External}\n");
	assert_int_equal(l.rc, FA_OK);
	assert_int_equal(l.cfg->auth.app_auth.auth_server_type, FA_CONFIG_AS_SELF);
	assert_true(has_line(&l, "v.yaml:2:1: warning: auth is ignored: in a flyte-core values file, "
			     "flyteadmin settings go under configmap.adminServer"));
	unload(&l);
}

static void test_detection(void **state)
{
	(void)state;
	struct loaded l;

	/* flyteadmin's own secrets section is not flyte-core's. */
	load(&l, "secrets: {secrets-prefix: /s}\nserver: {httpPort: 1234}\n");
	assert_int_equal(l.cfg->source, FA_CONFIG_SOURCE_FLYTEADMIN);
	assert_string_equal(l.cfg->secrets.secrets_prefix, "/s");
	unload(&l);
	load(&l, "auth:\n  enabled: false\n");
	assert_int_equal(l.cfg->source, FA_CONFIG_SOURCE_FLYTE_BINARY);
	unload(&l);
	load(&l, "configmap: {}\n");
	assert_int_equal(l.cfg->source, FA_CONFIG_SOURCE_FLYTE_CORE);
	unload(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_flyte_binary_oidc),
		cmocka_unit_test(test_seed_flyte_core_oidc_misindented),
		cmocka_unit_test(test_seed_flyte_core_oidc_fixed),
		cmocka_unit_test(test_seed_flyte_binary_external),
		cmocka_unit_test(test_seed_flyte_core_external),
		cmocka_unit_test(test_seed_entra_misindented),
		cmocka_unit_test(test_seed_entra_fixed),
		cmocka_unit_test(test_seed_disable_helm_secret),
		cmocka_unit_test(test_binary_configuration_nesting),
		cmocka_unit_test(test_binary_auth_disabled),
		cmocka_unit_test(test_binary_missing_hash),
		cmocka_unit_test(test_binary_required_oidc),
		cmocka_unit_test(test_binary_no_auth_server),
		cmocka_unit_test(test_binary_key_errors),
		cmocka_unit_test(test_core_admin_secrets),
		cmocka_unit_test(test_core_admin_server_shape),
		cmocka_unit_test(test_values_file_admin_sections),
		cmocka_unit_test(test_detection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
