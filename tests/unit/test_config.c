/* test_config.c -- the config loader's ground floor: built-in defaults, a
 * flyteadmin config that sets every key, the YAML layer (positions,
 * multi-document merge, duplicate keys, aliases, nesting and size bounds,
 * files that are not YAML or cannot be read) and key handling (case,
 * ignored flyteadmin sections, "did you mean", keys in the wrong place).
 * Value checks are in test_config_values.c; the seed's examples and Helm
 * values in test_config_seed.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

struct loaded {
	struct fa_config *cfg;
	struct fa_config_diag *d;
	struct fa_err err;
	enum fa_rc rc;
};

static void load(struct loaded *l, const char *yaml)
{
	l->d = fa_config_diag_new();
	assert_non_null(l->d);
	l->rc = fa_config_load_buffer("t.yaml", yaml, strlen(yaml), l->d, &l->cfg, &l->err);
}

static void load_file(struct loaded *l, const char *path)
{
	l->d = fa_config_diag_new();
	assert_non_null(l->d);
	l->rc = fa_config_load(path, l->d, &l->cfg, &l->err);
}

static void unload(struct loaded *l)
{
	fa_config_free(l->cfg);
	fa_config_diag_free(l->d);
}

static void dump(const struct loaded *l)
{
	for (size_t i = 0; i < fa_config_diag_count(l->d); i++)
		print_message("  diag[%zu] %s\n", i, fa_config_diag_line(l->d, i));
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

/* The file is refused, and `line` is among the error lines. */
static void expect_error(const char *yaml, const char *line)
{
	struct loaded l;

	load(&l, yaml);
	if (l.rc != FA_ECONFIG)
		dump(&l);
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_null(l.cfg);
	assert_true(has_line(&l, line));
	unload(&l);
}

/* The file loads, with no diagnostics at all. */
static void load_clean(struct loaded *l, const char *yaml)
{
	load(l, yaml);
	if (l->rc != FA_OK || fa_config_diag_count(l->d) != 0)
		dump(l);
	assert_int_equal(l->rc, FA_OK);
	assert_non_null(l->cfg);
}

/* Self AS files without a flytepropeller secret or a way to log in get
 * notes; these tests start with this document (8 lines, the test's own
 * text from line 9) so that a clean load means no lines at all. */
#define PROPELLER "auth:\n  appAuth:\n    selfAuthServer:\n      staticClients:\n" \
	"        flytepropeller: {id: flytepropeller, client_secret: " \
	"'$2b$06$09VRyJlazsRy6LcTjQc5NO92aUGlWJ8dEm5lIzG8a.M5eHgvnOR9K'}\n" \
	"  userAuth:\n    localUsers: [{username: alice, passwordHash: " \
	"'$2b$06$09VRyJlazsRy6LcTjQc5NO92aUGlWJ8dEm5lIzG8a.M5eHgvnOR9K'}]\n---\n"

static void test_defaults(void **state)
{
	(void)state;
	struct fa_config *c = fa_config_new_defaults();

	assert_non_null(c);
	assert_int_equal(c->source, FA_CONFIG_SOURCE_DEFAULTS);
	assert_string_equal(c->path, "");
	assert_int_equal(c->server.http_port, 8088);
	/* Unconfigured means local only. */
	assert_string_equal(c->server.bind_address, "127.0.0.1");
	assert_false(c->server.security.secure);
	assert_true(c->server.security.use_auth);
	assert_true(c->server.security.allow_cors);
	assert_false(c->server.security.insecure_cookie_header);
	assert_int_equal(c->server.security.allowed_origins.count, 1);
	assert_string_equal(c->server.security.allowed_origins.items[0], "*");
	assert_int_equal(c->server.security.allowed_headers.count, 2);
	assert_string_equal(c->server.security.allowed_headers.items[0], "Content-Type");
	assert_string_equal(c->server.security.allowed_headers.items[1], "flyte-authorization");
	assert_string_equal(c->server.security.ssl.certificate_file, "");
	assert_int_equal(c->database.kind, FA_CONFIG_DB_SQLITE);
	assert_string_equal(c->database.sqlite.file, "flyteauth.db");
	assert_int_equal(c->database.postgres.port, 5432);
	assert_string_equal(c->database.postgres.host, "");
	assert_string_equal(c->secrets.secrets_prefix, "/etc/secrets");
	assert_string_equal(c->secrets.env_prefix, "FLYTE_SECRET_");
	assert_string_equal(c->auth.http_authorization_header, "flyte-authorization");
	assert_string_equal(c->auth.grpc_authorization_header, "flyte-authorization");
	assert_false(c->auth.disable_for_http);
	assert_int_equal(c->auth.authorized_uris.count, 0);
	/* No console on the development server: its landing page. */
	assert_string_equal(c->auth.user_auth.redirect_url, "/");
	assert_string_equal(c->auth.user_auth.cookie_hash_key_secret_name, "cookie_hash_key");
	assert_string_equal(c->auth.user_auth.cookie_block_key_secret_name, "cookie_block_key");
	assert_int_equal(c->auth.user_auth.cookie_setting.same_site_policy, FA_CONFIG_SAMESITE_DEFAULT);
	assert_string_equal(c->auth.user_auth.cookie_setting.domain, "");
	assert_string_equal(c->auth.user_auth.idp_query_parameter, "");
	assert_string_equal(c->auth.user_auth.open_id.base_url, "");
	assert_string_equal(c->auth.user_auth.open_id.client_id, "");
	assert_string_equal(c->auth.user_auth.open_id.client_secret_name, "oidc_client_secret");
	assert_int_equal(c->auth.user_auth.open_id.scopes.count, 2);
	assert_string_equal(c->auth.user_auth.open_id.scopes.items[0], "openid");
	assert_string_equal(c->auth.user_auth.open_id.scopes.items[1], "profile");
	assert_int_equal(c->auth.user_auth.local_users_count, 0);
	assert_int_equal(c->auth.app_auth.auth_server_type, FA_CONFIG_AS_SELF);
	assert_string_equal(c->auth.app_auth.self.issuer, "");
	assert_int_equal(c->auth.app_auth.self.access_token_lifespan_ms, 30 * 60 * 1000);
	assert_int_equal(c->auth.app_auth.self.refresh_token_lifespan_ms, 60 * 60 * 1000);
	assert_int_equal(c->auth.app_auth.self.refresh_token_max_lifespan_ms, 168LL * 3600 * 1000);
	assert_int_equal(c->auth.app_auth.self.authorization_code_lifespan_ms, 5 * 60 * 1000);
	assert_int_equal(c->auth.app_auth.self.device_code_lifespan_ms, 10 * 60 * 1000);
	assert_int_equal(c->auth.app_auth.self.device_poll_interval_ms, 5000);
	assert_string_equal(c->auth.app_auth.self.claim_symmetric_encryption_key_secret_name,
			    "claim_symmetric_key");
	assert_string_equal(c->auth.app_auth.self.token_signing_rsa_key_secret_name, "token_rsa_key.pem");
	assert_string_equal(c->auth.app_auth.self.old_token_signing_rsa_key_secret_name,
			    "token_rsa_key_old.pem");
	assert_int_equal(c->auth.app_auth.self.token_signing_algorithm, FA_CONFIG_ALG_RS256);
	assert_string_equal(c->auth.app_auth.external.base_url, "");
	assert_int_equal(c->auth.app_auth.external.allowed_audience.count, 0);
	assert_string_equal(c->auth.app_auth.external.metadata_url, "");
	assert_int_equal(c->auth.app_auth.external.retry_attempts, 5);
	assert_int_equal(c->auth.app_auth.external.retry_delay_ms, 1000);
	assert_string_equal(c->auth.app_auth.third_party.flyte_client.client_id, "flytectl");
	assert_string_equal(c->auth.app_auth.third_party.flyte_client.redirect_uri,
			    "http://localhost:53593/callback");
	assert_int_equal(c->auth.app_auth.third_party.flyte_client.scopes.count, 2);
	assert_string_equal(c->auth.app_auth.third_party.flyte_client.scopes.items[0], "all");
	assert_string_equal(c->auth.app_auth.third_party.flyte_client.scopes.items[1], "offline");
	assert_string_equal(c->auth.app_auth.third_party.flyte_client.audience, "");
	assert_int_equal(c->inline_secrets_count, 0);
	fa_config_free(c);
	fa_config_free(NULL);
}

/* flyteadmin's default static clients, without its published secret. */
static void test_default_clients_no_public_secret(void **state)
{
	(void)state;
	struct fa_config *c = fa_config_new_defaults();
	const struct fa_config_client *cl;

	assert_non_null(c);
	assert_int_equal(c->auth.app_auth.self.static_clients_count, 3);
	cl = fa_config_client_get(c, "flyte-cli");
	assert_non_null(cl);
	assert_true(cl->is_public);
	assert_true(cl->is_default);
	assert_int_equal(cl->redirect_uris.count, 2);
	assert_string_equal(cl->redirect_uris.items[1], "http://localhost:12345/callback");
	cl = fa_config_client_get(c, "flytectl");
	assert_non_null(cl);
	assert_true(cl->is_public);
	assert_int_equal(cl->grant_types.count, 2);
	assert_string_equal(cl->grant_types.items[0], "refresh_token");
	assert_string_equal(cl->grant_types.items[1], "authorization_code");
	assert_int_equal(cl->scopes.count, 3);
	assert_string_equal(cl->scopes.items[2], "access_token");
	cl = fa_config_client_get(c, "flytepropeller");
	assert_non_null(cl);
	assert_false(cl->is_public);
	assert_string_equal(cl->client_secret, "");
	assert_string_equal(cl->grant_types.items[1], "client_credentials");
	assert_null(cl->pos.file);
	assert_null(fa_config_client_get(c, "FlyteCTL"));
	assert_null(fa_config_client_get(c, NULL));
	fa_config_free(c);
}

static void test_full_flyteadmin_config(void **state)
{
	(void)state;
	struct loaded l;
	const char *path = FA_SOURCE_DIR "/tests/config/flyteadmin-full.yaml";
	const struct fa_config_client *cl;

	load_file(&l, path);
	if (l.rc != FA_OK)
		dump(&l);
	assert_int_equal(l.rc, FA_OK);
	struct fa_config *c = l.cfg;
	assert_int_equal(c->source, FA_CONFIG_SOURCE_FLYTEADMIN);
	assert_string_equal(c->path, path);
	assert_int_equal(c->server.http_port, 9443);
	assert_int_equal(c->server.http_port_pos.line, 6);
	assert_int_equal(c->server.http_port_pos.col, 13);
	assert_string_equal(c->server.bind_address, "127.0.0.2");
	assert_true(c->server.security.secure);
	assert_false(c->server.security.allow_cors);
	assert_string_equal(c->server.security.allowed_origins.items[0], "https://console.example.com");
	assert_int_equal(c->server.security.allowed_headers.count, 3);
	assert_string_equal(c->server.security.allowed_headers.items[2], "x-request-id");
	assert_string_equal(c->server.security.ssl.certificate_file, "/etc/tls/tls.crt");
	assert_string_equal(c->server.security.ssl.key_file, "/etc/tls/tls.key");
	assert_int_equal(c->server.security.ssl.key_file_pos.line, 20);
	assert_int_equal(c->database.kind, FA_CONFIG_DB_POSTGRES);
	assert_int_equal(c->database.pos.line, 23);
	assert_string_equal(c->database.postgres.host, "db.example.com");
	assert_int_equal(c->database.postgres.port, 6432);
	assert_string_equal(c->database.postgres.dbname, "flyteauth");
	assert_string_equal(c->database.postgres.username, "flyte");
	assert_string_equal(c->database.postgres.password, "");
	assert_string_equal(c->database.postgres.password_path, "/etc/db/password");
	assert_int_equal(c->database.postgres.password_path_pos.line, 28);
	assert_string_equal(c->database.postgres.options, "sslmode=require");
	assert_string_equal(c->secrets.secrets_prefix, "/var/run/secrets/flyte");
	assert_string_equal(c->secrets.env_prefix, "ACME_SECRET_");
	assert_string_equal(c->auth.http_authorization_header, "x-flyte-auth");
	assert_string_equal(c->auth.grpc_authorization_header, "x-flyte-auth-grpc");
	assert_true(c->auth.disable_for_http);
	assert_int_equal(c->auth.authorized_uris.count, 2);
	assert_string_equal(c->auth.authorized_uris.items[1], "http://flyteadmin.flyte.svc.cluster.local:80");
	assert_string_equal(c->auth.user_auth.redirect_url, "https://flyte.example.com/console");
	assert_string_equal(c->auth.user_auth.cookie_hash_key_secret_name, "hash_key");
	assert_int_equal(c->auth.user_auth.cookie_hash_key_secret_name_pos.line, 46);
	assert_int_equal(c->auth.user_auth.cookie_hash_key_secret_name_pos.col, 30);
	assert_string_equal(c->auth.user_auth.cookie_block_key_secret_name, "block_key");
	assert_int_equal(c->auth.user_auth.cookie_setting.same_site_policy, FA_CONFIG_SAMESITE_STRICT);
	assert_string_equal(c->auth.user_auth.cookie_setting.domain, "example.com");
	assert_string_equal(c->auth.user_auth.idp_query_parameter, "idp");
	assert_string_equal(c->auth.user_auth.open_id.base_url, "https://idp.example.com/oauth2/default");
	assert_int_equal(c->auth.user_auth.open_id.base_url_pos.line, 53);
	assert_int_equal(c->auth.user_auth.open_id.base_url_pos.col, 16);
	assert_string_equal(c->auth.user_auth.open_id.base_url_pos.file, path);
	assert_string_equal(c->auth.user_auth.open_id.client_id, "flyte-web");
	assert_string_equal(c->auth.user_auth.open_id.client_secret_name, "idp_secret");
	assert_int_equal(c->auth.user_auth.open_id.scopes.count, 4);
	assert_string_equal(c->auth.user_auth.open_id.scopes.items[3], "offline_access");
	assert_int_equal(c->auth.user_auth.local_users_count, 1);
	const struct fa_config_user *u = fa_config_user_get(c, "alice");
	assert_non_null(u);
	assert_string_equal(u->name, "Alice Example");
	assert_string_equal(u->email, "alice@example.com");
	assert_string_equal(u->password_hash, "$2b$06$09VRyJlazsRy6LcTjQc5NO92aUGlWJ8dEm5lIzG8a.M5eHgvnOR9K");
	assert_int_equal(u->hash_pos.line, 59);
	assert_null(fa_config_user_get(c, "bob"));
	assert_int_equal(c->auth.app_auth.auth_server_type, FA_CONFIG_AS_SELF);
	assert_int_equal(c->auth.app_auth.auth_server_type_pos.line, 63);
	assert_string_equal(c->auth.app_auth.self.issuer, "https://flyte.example.com");
	assert_int_equal(c->auth.app_auth.self.access_token_lifespan_ms, 15 * 60 * 1000);
	assert_int_equal(c->auth.app_auth.self.refresh_token_lifespan_ms, 12 * 3600 * 1000);
	assert_int_equal(c->auth.app_auth.self.authorization_code_lifespan_ms, 150 * 1000);
	assert_string_equal(c->auth.app_auth.self.claim_symmetric_encryption_key_secret_name, "claim_key");
	assert_string_equal(c->auth.app_auth.self.token_signing_rsa_key_secret_name, "signing.pem");
	assert_int_equal(c->auth.app_auth.self.token_signing_rsa_key_secret_name_pos.line, 70);
	assert_string_equal(c->auth.app_auth.self.old_token_signing_rsa_key_secret_name, "signing_old.pem");
	assert_int_equal(c->auth.app_auth.self.token_signing_algorithm, FA_CONFIG_ALG_ES256);
	assert_int_equal(c->auth.app_auth.self.device_code_lifespan_ms, 15 * 60 * 1000);
	assert_int_equal(c->auth.app_auth.self.device_poll_interval_ms, 10 * 1000);
	/* The file's three clients replace the three built-in defaults. */
	assert_int_equal(c->auth.app_auth.self.static_clients_count, 3);
	assert_null(fa_config_client_get(c, "flyte-cli"));
	cl = fa_config_client_get(c, "flytepropeller");
	assert_non_null(cl);
	assert_false(cl->is_default);
	assert_false(cl->is_public);
	assert_string_equal(cl->key, "flytepropeller");
	assert_int_equal(cl->pos.line, 76);
	assert_int_equal(cl->secret_pos.line, 78);
	assert_string_equal(cl->audience.items[0], "https://flyte.example.com");
	assert_int_equal(cl->response_types.count, 1);
	cl = fa_config_client_get(c, "ci-bot");
	assert_non_null(cl);
	assert_int_equal(cl->redirect_uris.count, 0);
	assert_int_equal(cl->grant_types.count, 1);
	assert_string_equal(c->auth.app_auth.external.base_url, "https://as.example.com/oauth2/flyte");
	assert_int_equal(c->auth.app_auth.external.allowed_audience.count, 2);
	assert_string_equal(c->auth.app_auth.external.allowed_audience.items[1], "api://flyte");
	assert_string_equal(c->auth.app_auth.external.metadata_url, ".well-known/openid-configuration");
	assert_int_equal(c->auth.app_auth.external.retry_attempts, 3);
	assert_int_equal(c->auth.app_auth.external.retry_delay_ms, 2000);
	assert_string_equal(c->auth.app_auth.third_party.flyte_client.audience, "https://flyte.example.com");
	/* A warning (disableForHttp lets unauthenticated requests through) and
	 * a note (the local user is unused while an IdP is set). */
	assert_int_equal(fa_config_diag_count(l.d), 2);
	for (size_t i = 0; i < 2; i++) {
		bool warning = strstr(fa_config_diag_line(l.d, i), "auth.disableForHttp is true");

		assert_int_equal(fa_config_diag_severity(l.d, i),
				 warning ? FA_CONFIG_WARNING : FA_CONFIG_NOTE);
	}
	assert_int_equal(fa_config_diag_errors(l.d), 0);
	unload(&l);
}

static void test_file_sets_bind_all(void **state)
{
	(void)state;
	struct loaded l;

	load_clean(&l, PROPELLER);
	/* flyteadmin listens on all addresses. */
	assert_string_equal(l.cfg->server.bind_address, "0.0.0.0");
	assert_string_equal(l.cfg->path, "t.yaml");
	assert_int_equal(l.cfg->source, FA_CONFIG_SOURCE_FLYTEADMIN);
	unload(&l);
}

static void test_empty_file(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, "# only a comment\n");
	assert_int_equal(l.rc, FA_OK);
	assert_true(has_line(&l, "t.yaml: warning: the file holds no settings; the built-in defaults apply"));
	assert_int_equal(l.cfg->server.http_port, 8088);
	unload(&l);
}

static void test_positions_format(void **state)
{
	(void)state;
	char buf[64];
	struct fa_config_pos p = { "a.yaml", 3, 7 };
	struct fa_config_pos f = { "a.yaml", 0, 0 };

	assert_string_equal(fa_config_pos_format(&p, buf, sizeof(buf)), "a.yaml:3:7");
	assert_string_equal(fa_config_pos_format(&f, buf, sizeof(buf)), "a.yaml");
	assert_string_equal(fa_config_pos_format(NULL, buf, sizeof(buf)), "built-in default");
	assert_string_equal(fa_config_pos_format(&p, buf, 5), "a.ya");
}

/* ---- the YAML layer --------------------------------------------------------------- */

static void test_multi_document_deep_merge(void **state)
{
	(void)state;
	struct loaded l;

	load_clean(&l, PROPELLER
		   "server:\n  httpPort: 9000\n  security: {allowCors: false, allowedOrigins: [a, b]}\n"
		   "---\n"
		   "server:\n  security:\n    allowedOrigins: [c]\n"
		   "---\n"
		   "server: {httpPort: 9001}\n"
		   "---\n");
	/* Later documents win key by key; maps merge; lists replace. */
	assert_int_equal(l.cfg->server.http_port, 9001);
	assert_int_equal(l.cfg->server.http_port_pos.line, 17);
	assert_false(l.cfg->server.security.allow_cors);
	assert_int_equal(l.cfg->server.security.allowed_origins.count, 1);
	assert_string_equal(l.cfg->server.security.allowed_origins.items[0], "c");
	unload(&l);
}

static void test_multi_document_null_keeps(void **state)
{
	(void)state;
	struct loaded l;

	load_clean(&l, PROPELLER "server: {httpPort: 9000}\n---\nserver:\n---\nserver: {httpPort: ~}\n");
	assert_int_equal(l.cfg->server.http_port, 9000);
	unload(&l);
}

static void test_document_not_mapping(void **state)
{
	(void)state;
	expect_error("- a\n- b\n", "t.yaml:1:1: a config document must be a mapping of settings, not a list");
	expect_error("server: {}\n---\njust text\n",
		     "t.yaml:3:1: a config document must be a mapping of settings, not a string");
}

static void test_duplicate_key(void **state)
{
	(void)state;
	expect_error("server:\n  httpPort: 1\n  httpPort: 2\n",
		     "t.yaml:3:3: duplicate key \"httpPort\" (first defined at 2:3)");
	/* Flyte folds case, so these are the same key too. */
	expect_error("auth:\n  appAuth:\n    externalAuthServer:\n      allowedAudience: [a]\n"
		     "      AllowedAudience: [b]\n",
		     "t.yaml:5:7: duplicate key \"AllowedAudience\" (first defined at 4:7)");
}

static void test_not_yaml(void **state)
{
	(void)state;
	expect_error("server: [unclosed\n",
		     "t.yaml:2:1: not valid YAML: did not find expected ',' or ']' "
		     "(while parsing a flow sequence at 1:9)");
	expect_error("server:\n  httpPort: 1\n bad: 2\n",
		     "t.yaml:3:2: not valid YAML: did not find expected key "
		     "(while parsing a block mapping at 1:1)");
	expect_error("a: \"\\xff\xff\"\n", "t.yaml:1:9: not valid YAML: invalid leading UTF-8 octet");
}

static void test_complex_and_empty_keys(void **state)
{
	(void)state;
	expect_error("? [a, b]\n: 1\n", "t.yaml:1:3: a mapping key must be a plain string, not a list");
	expect_error("~: 1\n", "t.yaml:1:1: empty mapping key");
}

static void test_nul_in_value(void **state)
{
	(void)state;
	expect_error("auth:\n  httpAuthorizationHeader: \"a\\0b\"\n",
		     "t.yaml:2:28: value contains a NUL character");
}

/* An alias would let a small file expand exponentially. */
static void test_billion_laughs(void **state)
{
	(void)state;
	struct loaded l;

	/* One line for the first alias, not one per alias. */
	load(&l, "a: &a [x, x]\nb: [*a, *a, *a]\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_int_equal(fa_config_diag_errors(l.d), 1);
	unload(&l);
	expect_error("a: &a [x, x, x, x, x, x, x, x, x]\n"
		     "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
		     "t.yaml:2:8: YAML aliases (*a) are not supported; write the value out");
	expect_error("base: &base {httpPort: 1}\nserver:\n  <<: *base\n",
		     "t.yaml:3:7: YAML aliases (*base) are not supported; write the value out");
}

static void test_yaml_depth_bomb(void **state)
{
	(void)state;
	char *yaml = malloc(100000);
	struct loaded l;

	assert_non_null(yaml);
	memcpy(yaml, "a: ", 3);
	memset(yaml + 3, '[', 50000);
	yaml[50003] = '\0';
	load(&l, yaml);
	assert_int_equal(l.rc, FA_ECONFIG);
	/* The top-level mapping is the first level: the 32nd '[' is the 33rd. */
	assert_true(has_line(&l, "t.yaml:1:35: nesting deeper than 32 levels"));
	unload(&l);
	free(yaml);
}

static void test_too_many_nodes(void **state)
{
	(void)state;
	size_t n = 3 + 2 * 60000 + 2;
	char *yaml = malloc(n);
	struct loaded l;

	assert_non_null(yaml);
	memcpy(yaml, "a: [", 4);
	for (size_t i = 0; i < 60000; i++)
		memcpy(yaml + 4 + 2 * i, "x,", 2);
	yaml[4 + 2 * 60000 - 1] = ']';
	yaml[4 + 2 * 60000] = '\0';
	load(&l, yaml);
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_int_equal(fa_config_diag_errors(l.d), 1);
	assert_non_null(strstr(fa_config_diag_line(l.d, 0), "too many YAML nodes (more than 50000)"));
	unload(&l);
	free(yaml);
}

static void test_too_many_keys(void **state)
{
	(void)state;
	static char yaml[16 * 1024];
	size_t o = 0;

	for (int i = 0; i < 513; i++)
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "k%d: 1\n", i);
	expect_error(yaml, "t.yaml:513:1: more than 512 keys in one mapping");

	/* The same cap holds for mappings grown by merging documents. */
	o = (size_t)snprintf(yaml, sizeof(yaml), "server:\n");
	for (int i = 0; i < 300; i++)
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "  a%d: 1\n", i);
	o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "---\nserver:\n");
	for (int i = 0; i < 300; i++)
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "  b%d: 1\n", i);
	expect_error(yaml, "t.yaml:516:3: more than 512 keys in one mapping");
}

static void test_file_too_large(void **state)
{
	(void)state;
	size_t n = FA_MAX_CONFIG_FILE + 1;
	char *big = malloc(n);
	struct loaded l;

	assert_non_null(big);
	memset(big, '#', n);
	l.d = fa_config_diag_new();
	l.rc = fa_config_load_buffer("t.yaml", big, n, l.d, &l.cfg, &l.err);
	assert_int_equal(l.rc, FA_ETOOBIG);
	assert_null(l.cfg);
	assert_true(has_line(&l, "t.yaml: file is larger than 1048576 bytes"));
	assert_string_equal(l.err.msg, "t.yaml: file is larger than 1048576 bytes");
	unload(&l);

	/* The same from disk: the reader stops one byte past the cap. */
	char dir[] = "/tmp/test_config.XXXXXX";
	char path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(big, 1, n, fp), n);
	assert_int_equal(fwrite(big, 1, 100, fp), 100);
	assert_int_equal(fclose(fp), 0);
	load_file(&l, path);
	assert_int_equal(l.rc, FA_ETOOBIG);
	assert_int_equal(fa_config_diag_count(l.d), 1);
	unload(&l);
	unlink(path);
	rmdir(dir);
	free(big);
}

static void test_unreadable_file(void **state)
{
	(void)state;
	struct loaded l;
	char dir[] = "/tmp/test_config.XXXXXX";

	load_file(&l, "/nonexistent/flyteauth.yaml");
	assert_int_equal(l.rc, FA_EIO);
	assert_null(l.cfg);
	assert_true(has_line(&l, "/nonexistent/flyteauth.yaml: cannot read the file: No such file or directory"));
	assert_int_equal(l.err.rc, FA_EIO);
	unload(&l);

	assert_non_null(mkdtemp(dir));
	load_file(&l, dir);
	assert_int_equal(l.rc, FA_EIO);
	assert_non_null(strstr(fa_config_diag_line(l.d, 0), ": cannot read the file: Is a directory"));
	unload(&l);
	rmdir(dir);

	/* Without a diag, err alone tells. */
	struct fa_config *cfg = (struct fa_config *)&l;
	struct fa_err err;
	assert_int_equal(fa_config_load("/nonexistent/x.yaml", NULL, &cfg, &err), FA_EIO);
	assert_null(cfg);
	assert_string_equal(err.msg, "/nonexistent/x.yaml: cannot read the file: No such file or directory");
}

static void test_load_without_diag(void **state)
{
	(void)state;
	struct fa_config *cfg = NULL;
	struct fa_err err;
	const char *bad = "server:\n  httpPrt: 1\n  httpPort: 0\n";

	assert_int_equal(fa_config_load_buffer("t.yaml", bad, strlen(bad), NULL, &cfg, &err), FA_ECONFIG);
	assert_null(cfg);
	assert_int_equal(err.rc, FA_ECONFIG);
	assert_string_equal(err.msg, "t.yaml:2:3: unknown key \"httpPrt\" in server; did you mean "
			    "\"httpPort\"? (and 1 more)");
	assert_int_equal(fa_config_load_buffer("t.yaml", "server: {}", 10, NULL, &cfg, NULL), FA_OK);
	fa_config_free(cfg);
}

/* ---- keys ---------------------------------------------------------------------- */

static void test_keys_case_insensitive(void **state)
{
	(void)state;
	struct loaded l;

	load_clean(&l, PROPELLER "SERVER:\n  HttpPort: 7000\n  Security: {USEAUTH: yes, AllowCors: off}\n"
		   "Auth:\n  AppAuth:\n    ExternalAuthServer:\n      AllowedAudience: [x]\n");
	assert_int_equal(l.cfg->server.http_port, 7000);
	assert_true(l.cfg->server.security.use_auth);
	assert_false(l.cfg->server.security.allow_cors);
	assert_int_equal(l.cfg->auth.app_auth.external.allowed_audience.count, 1);
	unload(&l);
}

static void test_ignored_flyteadmin_keys(void **state)
{
	(void)state;
	struct loaded l;

	load_clean(&l, PROPELLER
		   "logger: {level: 5, show-source: true}\nstorage: {type: minio}\nscheduler: {}\n"
		   "propeller: {}\nplugins: {}\ntasks: {}\ncluster_resources: {}\nflyteadmin: {}\n"
		   "server:\n  grpc: {port: 8089}\n  kube-config: /x\n  dataProxy: {upload: {}}\n"
		   "  security: {auditAccess: true}\n"
		   "database:\n  connMaxLifeTime: 1h\n  maxOpenConnections: 10\n"
		   "  sqlite: {file: /var/lib/flyteauth.db}\n"
		   "secrets: {type: local}\n");
	assert_string_equal(l.cfg->database.sqlite.file, "/var/lib/flyteauth.db");
	assert_int_equal(l.cfg->database.kind, FA_CONFIG_DB_SQLITE);
	assert_int_equal(l.cfg->database.pos.line, 25);
	unload(&l);
}

static void test_unknown_top_level_note(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, PROPELLER "myCompanyExtras: {a: 1}\n");
	assert_int_equal(l.rc, FA_OK);
	assert_true(has_line(&l, "t.yaml:9:1: note: top-level key \"myCompanyExtras\" is not used by "
			     "flyteauth; ignored"));
	unload(&l);
}

static void test_did_you_mean(void **state)
{
	(void)state;
	expect_error("server:\n  httpPrt: 80\n",
		     "t.yaml:2:3: unknown key \"httpPrt\" in server; did you mean \"httpPort\"?");
	expect_error("servr:\n  httpPort: 80\n",
		     "t.yaml:1:1: unknown top-level key \"servr\"; did you mean \"server\"?");
	expect_error("loger: {}\n", "t.yaml:1:1: unknown top-level key \"loger\"; did you mean \"logger\"?");
	/* Separator and case variants. */
	expect_error("secrets:\n  secrets_prefix: /x\n",
		     "t.yaml:2:3: unknown key \"secrets_prefix\" in secrets; did you mean \"secrets-prefix\"?");
	expect_error("auth:\n  appAuth:\n    selfAuthServer:\n      staticClients:\n        x:\n"
		     "          clientSecret: a\n",
		     "t.yaml:6:11: unknown key \"clientSecret\" in "
		     "auth.appAuth.selfAuthServer.staticClients.x; did you mean \"client_secret\"?");
}

static void test_unknown_key_plain(void **state)
{
	(void)state;
	expect_error("server:\n  security:\n    frobnicate: 1\n",
		     "t.yaml:3:5: unknown key \"frobnicate\" in server.security");
}

static void test_key_belongs_elsewhere(void **state)
{
	(void)state;
	expect_error("auth:\n  userAuth:\n    authorizedUris: [https://x.example.com]\n",
		     "t.yaml:3:5: key \"authorizedUris\" is not valid under auth.userAuth; it belongs under auth");
	expect_error("server:\n  useAuth: true\n",
		     "t.yaml:2:3: key \"useAuth\" is not valid under server; it belongs under server.security "
		     "\xe2\x80\x94 indent it under \"security:\"");
	expect_error("httpPort: 80\n",
		     "t.yaml:1:1: key \"httpPort\" is not valid at the top level; it belongs under server "
		     "\xe2\x80\x94 indent it under \"server:\"");
	expect_error("auth:\n  baseUrl: https://x.example.com\n",
		     "t.yaml:2:3: key \"baseUrl\" is not valid under auth; it belongs under "
		     "auth.userAuth.openId");
}

/* The Entra ID shape: an empty "openId:" and its keys one level too high,
 * reported as one line that names the fix. */
static void test_misindented_block_one_line(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, "auth:\n  userAuth:\n    openId:\n    baseUrl: https://idp.example.com\n"
	     "    scopes: [openid]\n    clientId: web\n    redirectUrl: /console\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_int_equal(fa_config_diag_count(l.d), 1);
	assert_string_equal(fa_config_diag_line(l.d, 0),
			    "t.yaml:4:5: key \"baseUrl\" is not valid under auth.userAuth; it belongs under "
			    "auth.userAuth.openId \xe2\x80\x94 indent it under \"openId:\" (also \"scopes\", "
			    "\"clientId\")");
	unload(&l);
}

static void test_moved_keys_warn(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, PROPELLER "database:\n  host: db.example.com\n  port: 6543\n"
	     "server:\n  thirdPartyConfig: {flyteClient: {clientId: flytectl, audience: aud}}\n"
	     "appAuth:\n  authServerType: Self\n");
	assert_int_equal(l.rc, FA_OK);
	assert_true(has_line(&l, "t.yaml:10:3: warning: \"host\" belongs under database.postgres, not under "
			     "database; read as database.postgres.host"));
	assert_true(has_line(&l, "t.yaml:13:3: warning: \"thirdPartyConfig\" belongs under auth.appAuth, "
			     "not under server; read as auth.appAuth.thirdPartyConfig"));
	assert_true(has_line(&l, "t.yaml:14:1: warning: \"appAuth\" belongs under auth, not at the top level; "
			     "read as auth.appAuth"));
	assert_int_equal(l.cfg->database.kind, FA_CONFIG_DB_POSTGRES);
	assert_string_equal(l.cfg->database.postgres.host, "db.example.com");
	assert_int_equal(l.cfg->database.postgres.port, 6543);
	assert_string_equal(l.cfg->auth.app_auth.third_party.flyte_client.audience, "aud");
	unload(&l);
}

static void test_unsupported_client_secret_file(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, PROPELLER "auth:\n  userAuth:\n    openId:\n      clientSecretFile: /etc/secret\n");
	assert_int_equal(l.rc, FA_OK);
	assert_true(has_line(&l, "t.yaml:12:7: warning: auth.userAuth.openId.clientSecretFile is ignored: "
			     "flyteauth reads secrets by name; use clientSecretName"));
	unload(&l);
}

static void test_null_keeps_default(void **state)
{
	(void)state;
	struct loaded l;

	load_clean(&l, PROPELLER "server:\n  httpPort:\n  security:\n    allowedOrigins: ~\n"
		   "  bindAddress: null\n");
	assert_int_equal(l.cfg->server.http_port, 8088);
	assert_string_equal(l.cfg->server.security.allowed_origins.items[0], "*");
	assert_string_equal(l.cfg->server.bind_address, "0.0.0.0");
	unload(&l);
}

static void test_error_cap(void **state)
{
	(void)state;
	char yaml[4096];
	size_t o = 0;
	struct loaded l;

	o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "server:\n");
	for (int i = 0; i < 30; i++)
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "  zz%02dqq: 1\n", i);
	load(&l, yaml);
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_int_equal(fa_config_diag_errors(l.d), 21);
	assert_true(has_line(&l, "t.yaml: too many errors; stopped after 20"));
	assert_string_equal(l.err.msg, "t.yaml:2:3: unknown key \"zz00qq\" in server (and 29 more)");
	unload(&l);
}

static void test_diag_accessors(void **state)
{
	(void)state;
	struct fa_config_diag *d = fa_config_diag_new();
	struct fa_config *cfg = NULL;

	assert_int_equal(fa_config_diag_count(NULL), 0);
	assert_int_equal(fa_config_diag_errors(NULL), 0);
	assert_null(fa_config_diag_line(d, 0));
	assert_int_equal(fa_config_diag_severity(d, 5), FA_CONFIG_NOTE);
	/* A diag collects across loads. */
	assert_int_equal(fa_config_load_buffer("a.yaml", "x: [", 4, d, &cfg, NULL), FA_ECONFIG);
	assert_int_equal(fa_config_load_buffer("b.yaml", "servr: {}", 9, d, &cfg, NULL), FA_ECONFIG);
	assert_int_equal(fa_config_diag_count(d), 2);
	assert_int_equal(fa_config_diag_severity(d, 1), FA_CONFIG_ERROR);
	assert_non_null(strstr(fa_config_diag_line(d, 0), "a.yaml:"));
	assert_non_null(strstr(fa_config_diag_line(d, 1), "b.yaml:1:1: unknown top-level key"));
	fa_config_diag_free(d);
	fa_config_diag_free(NULL);
}

static void test_explain(void **state)
{
	(void)state;
	struct loaded l;
	struct fa_buf b;

	load_file(&l, FA_SOURCE_DIR "/tests/config/flyteadmin-full.yaml");
	assert_int_equal(l.rc, FA_OK);
	fa_buf_init(&b, 64 * 1024);
	assert_int_equal(fa_config_explain(l.cfg, &b), FA_OK);
	const char *s = fa_buf_str(&b);
	assert_non_null(strstr(s, "listen: 127.0.0.2:9443 (https)\n"));
	assert_non_null(strstr(s, "gate: scope all required; disableForHttp: requests without a valid "
			       "token pass without an identity\n"));
	assert_non_null(strstr(s, "authorization server: Self (flyteauth issues tokens); issuer "
			       "https://flyte.example.com\n"));
	assert_non_null(strstr(s, "  signing: ES256 with secret signing.pem (old key: signing_old.pem)\n"));
	assert_non_null(strstr(s, "  static clients: flytepropeller (confidential), ci-bot "
			       "(confidential), flytectl (public)\n"));
	assert_non_null(strstr(s, "identity provider: https://idp.example.com/oauth2/default (client "
			       "flyte-web, secret idp_secret)\n"));
	assert_non_null(strstr(s, "secrets: env ACME_SECRET_<name>, then /var/run/secrets/flyte/<name>\n"));
	assert_non_null(strstr(s, "database: postgres db.example.com:6432/flyteauth\n"));
	/* No secret material: hashes are not printed either. */
	assert_null(strstr(s, "$2b$"));
	assert_null(strstr(s, "JDJi"));
	fa_buf_cleanup(&b);

	/* Too small a buffer: FA_ETOOBIG, buffer unchanged. */
	fa_buf_init(&b, 32);
	assert_int_equal(fa_config_explain(l.cfg, &b), FA_ETOOBIG);
	assert_int_equal(b.len, 0);
	fa_buf_cleanup(&b);
	unload(&l);
}

static void test_enum_names(void **state)
{
	(void)state;
	assert_string_equal(fa_config_source_str(FA_CONFIG_SOURCE_FLYTE_CORE), "flyte-core Helm values");
	assert_string_equal(fa_config_source_str(FA_CONFIG_SOURCE_FLYTE_BINARY), "flyte-binary Helm values");
	assert_string_equal(fa_config_source_str(FA_CONFIG_SOURCE_FLYTEADMIN), "flyteadmin config");
	assert_string_equal(fa_config_source_str(FA_CONFIG_SOURCE_DEFAULTS), "built-in defaults");
	assert_string_equal(fa_config_auth_server_str(FA_CONFIG_AS_EXTERNAL), "External");
	assert_string_equal(fa_config_samesite_str(FA_CONFIG_SAMESITE_LAX), "LaxMode");
	assert_string_equal(fa_config_sig_alg_str(FA_CONFIG_ALG_EDDSA), "EdDSA");
	assert_string_equal(fa_config_db_str(FA_CONFIG_DB_POSTGRES), "postgres");
}

/* The public URL is normalised in this one place (issue: a trailing '/'
 * in authorizedUris made authz strip it while the gate compared it raw). */
static void test_issuer(void **state)
{
	static const struct {
		const char *yaml;
		const char *want;
	} cases[] = {
		{ "auth: {authorizedUris: ['http://localhost:8099/']}\n", "http://localhost:8099" },
		{ "auth: {authorizedUris: ['http://localhost:8099']}\n", "http://localhost:8099" },
		{ "auth: {authorizedUris: ['https://a.example/flyte//'], appAuth: {selfAuthServer: "
		  "{issuer: 'https://iss.example/'}}}\n", "https://iss.example" },
		{ "server: {httpPort: 9000}\n", "http://localhost:7000" },
		/* serve speaks TLS: its own URL is https. */
		{ "server: {security: {secure: true, ssl: {certificateFile: /tls/c.pem, "
		  "keyFile: /tls/k.pem}}}\n", "https://localhost:7000" },
	};
	char out[FA_MAX_URL + 1], small[8];
	struct loaded l;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load(&l, cases[i].yaml);
		assert_int_equal(l.rc, FA_OK);
		/* The port is the one serve listens on (--listen may change it). */
		assert_int_equal(fa_config_issuer(l.cfg, 7000, out, sizeof(out)), FA_OK);
		assert_string_equal(out, cases[i].want);
		assert_int_equal(fa_config_issuer(l.cfg, 7000, small, sizeof(small)), FA_ETOOBIG);
		assert_string_equal(small, "");
		unload(&l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_default_clients_no_public_secret),
		cmocka_unit_test(test_full_flyteadmin_config),
		cmocka_unit_test(test_file_sets_bind_all),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_positions_format),
		cmocka_unit_test(test_multi_document_deep_merge),
		cmocka_unit_test(test_multi_document_null_keeps),
		cmocka_unit_test(test_document_not_mapping),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_not_yaml),
		cmocka_unit_test(test_complex_and_empty_keys),
		cmocka_unit_test(test_nul_in_value),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_yaml_depth_bomb),
		cmocka_unit_test(test_too_many_nodes),
		cmocka_unit_test(test_too_many_keys),
		cmocka_unit_test(test_file_too_large),
		cmocka_unit_test(test_unreadable_file),
		cmocka_unit_test(test_load_without_diag),
		cmocka_unit_test(test_keys_case_insensitive),
		cmocka_unit_test(test_ignored_flyteadmin_keys),
		cmocka_unit_test(test_unknown_top_level_note),
		cmocka_unit_test(test_did_you_mean),
		cmocka_unit_test(test_unknown_key_plain),
		cmocka_unit_test(test_key_belongs_elsewhere),
		cmocka_unit_test(test_misindented_block_one_line),
		cmocka_unit_test(test_moved_keys_warn),
		cmocka_unit_test(test_unsupported_client_secret_file),
		cmocka_unit_test(test_null_keeps_default),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_diag_accessors),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_enum_names),
		cmocka_unit_test(test_issuer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
