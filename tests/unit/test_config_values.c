/* test_config_values.c -- every value check of the config loader, each with
 * the exact line an operator sees: wrong types, durations, URLs, enum
 * names, ports, secret names, bcrypt hashes, listen addresses, static
 * clients, local users, and the checks across keys (which authorization
 * server, which IdP, which database, TLS). Also that secret values never
 * appear in a message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "config/config.h"

#define HASH "$2b$06$09VRyJlazsRy6LcTjQc5NO92aUGlWJ8dEm5lIzG8a.M5eHgvnOR9K"
#define HASH_B64 "JDJiJDA2JDU5UnpvcHRrcnVSVXFCeDcua0t4SXVlUnpVT3VLZ1VsMEN1bmMyV1d3bFptQVd1SnBLUVl5"

/* A first document that silences the notes of a bare Self config (no
 * flytepropeller secret, no flytectl client, nobody to log in); 8 lines. */
#define QUIET "auth:\n  appAuth:\n    selfAuthServer:\n      staticClients: {flytectl: {id: flytectl, public: true, redirect_uris: ['http://localhost:53593/callback']},\n" \
	"        flytepropeller: {id: flytepropeller, client_secret: '" HASH "'}}\n" \
	"  userAuth:\n    localUsers: [{username: alice, passwordHash: '" HASH "'}]\n---\n"

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

static bool any_line_has(const struct loaded *l, const char *needle)
{
	for (size_t i = 0; i < fa_config_diag_count(l->d); i++)
		if (strstr(fa_config_diag_line(l->d, i), needle))
			return true;
	return false;
}

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

/* Loads and expects `line` as a warning or note, with no error. */
static void expect_ok_with(const char *yaml, const char *line)
{
	struct loaded l;

	load(&l, yaml);
	if (l.rc != FA_OK)
		dump(&l);
	assert_int_equal(l.rc, FA_OK);
	assert_true(has_line(&l, line));
	unload(&l);
}

static void load_clean(struct loaded *l, const char *yaml)
{
	load(l, yaml);
	if (l->rc != FA_OK || fa_config_diag_count(l->d) != 0)
		dump(l);
	assert_int_equal(l->rc, FA_OK);
	assert_int_equal(fa_config_diag_count(l->d), 0);
}

/* ---- types -------------------------------------------------------------------------- */

static void test_wrong_types(void **state)
{
	(void)state;
	expect_error("auth:\n  authorizedUris: https://flyte.example.com\n",
		     "t.yaml:2:19: auth.authorizedUris: expected a list, got \"https://flyte.example.com\"");
	expect_error("auth:\n  userAuth:\n    openId:\n      clientId: [a, b]\n",
		     "t.yaml:4:17: auth.userAuth.openId.clientId: expected a string, got a list");
	expect_error("server:\n  security:\n    useAuth: maybe\n",
		     "t.yaml:3:14: server.security.useAuth: expected a boolean (true or false), got \"maybe\"");
	expect_error("server:\n  httpPort: eighty\n",
		     "t.yaml:2:13: server.httpPort: expected an integer, got \"eighty\"");
	expect_error("server: 8088\n", "t.yaml:1:9: server: expected a mapping, got \"8088\"");
	expect_error("server:\n  security:\n    allowedHeaders: [a, {b: c}]\n",
		     "t.yaml:3:25: server.security.allowedHeaders[1]: expected a string, got a mapping");
	expect_error("server:\n  security:\n    allowedHeaders: [a, ~]\n",
		     "t.yaml:3:25: server.security.allowedHeaders[1]: expected a string, got null");
	expect_error("auth:\n  appAuth:\n    externalAuthServer:\n      allowedAudience: {a: b}\n",
		     "t.yaml:4:24: auth.appAuth.externalAuthServer.allowedAudience: expected a string or a "
		     "list, got a mapping");
	expect_error("auth:\n  appAuth:\n    selfAuthServer:\n      staticClients: [a]\n",
		     "t.yaml:4:22: auth.appAuth.selfAuthServer.staticClients: expected a mapping of client "
		     "name to client, got a list");
	expect_error("auth:\n  userAuth:\n    localUsers: alice\n",
		     "t.yaml:3:17: auth.userAuth.localUsers: expected a list of users, got \"alice\"");
	expect_error("auth:\n  appAuth:\n    externalAuthServer:\n      retryAttempts: 2.5\n",
		     "t.yaml:4:22: auth.appAuth.externalAuthServer.retryAttempts: expected an integer, got \"2.5\"");
}

static void test_weak_typing_like_flyte(void **state)
{
	(void)state;
	struct loaded l;

	/* Quoted numbers and booleans, YAML 1.1 yes/no, a number as a string. */
	load(&l, QUIET "server:\n  httpPort: \"9090\"\n  security: {secure: \"false\", allowCors: no}\n"
	     "auth:\n  userAuth:\n    openId: {baseUrl: 'https://idp.example.com', clientId: 12345}\n");
	assert_int_equal(l.rc, FA_OK);
	assert_int_equal(fa_config_diag_errors(l.d), 0);
	assert_int_equal(l.cfg->server.http_port, 9090);
	assert_false(l.cfg->server.security.allow_cors);
	assert_string_equal(l.cfg->auth.user_auth.open_id.client_id, "12345");
	unload(&l);
}

static void test_port_out_of_range(void **state)
{
	(void)state;
	expect_error("server:\n  httpPort: 70000\n",
		     "t.yaml:2:13: server.httpPort: port 70000 is out of range (1-65535)");
	expect_error("server:\n  httpPort: 0\n", "t.yaml:2:13: server.httpPort: port 0 is out of range (1-65535)");
	expect_error("server:\n  httpPort: -1\n", "t.yaml:2:13: server.httpPort: port -1 is out of range (1-65535)");
	expect_error("server:\n  httpPort: 99999999999999999999999\n",
		     "t.yaml:2:13: server.httpPort: port 99999999999999999999999 is out of range (1-65535)");
	expect_error("database:\n  postgres: {host: db, port: 65536}\n",
		     "t.yaml:2:30: database.postgres.port: port 65536 is out of range (1-65535)");
	expect_error("auth:\n  appAuth:\n    externalAuthServer: {retryAttempts: 1000}\n",
		     "t.yaml:3:41: auth.appAuth.externalAuthServer.retryAttempts: 1000 is out of range (0-100)");
}

/* ---- durations ------------------------------------------------------------------------ */

static void test_durations(void **state)
{
	(void)state;
	struct loaded l;

	load_clean(&l, QUIET "auth:\n  appAuth:\n    selfAuthServer:\n      accessTokenLifespan: 1h30m\n"
		   "      refreshTokenLifespan: 720h\n      authorizationCodeLifespan: 90s\n"
		   "      refreshTokenMaxLifespan: 2160h\n"
		   "      devicePollInterval: 1.5s\n    externalAuthServer: {retryDelay: 500ms}\n");
	assert_int_equal(l.cfg->auth.app_auth.self.access_token_lifespan_ms, 90 * 60 * 1000);
	assert_int_equal(l.cfg->auth.app_auth.self.refresh_token_lifespan_ms, 720LL * 3600 * 1000);
	assert_int_equal(l.cfg->auth.app_auth.self.authorization_code_lifespan_ms, 90 * 1000);
	assert_int_equal(l.cfg->auth.app_auth.self.refresh_token_max_lifespan_ms,
			 2160LL * 3600 * 1000);
	assert_int_equal(l.cfg->auth.app_auth.self.device_poll_interval_ms, 1500);
	assert_int_equal(l.cfg->auth.app_auth.external.retry_delay_ms, 500);
	unload(&l);
}

static void test_bad_duration(void **state)
{
	(void)state;
	expect_error("auth:\n  appAuth:\n    selfAuthServer:\n      accessTokenLifespan: 30 minutes\n",
		     "t.yaml:4:28: auth.appAuth.selfAuthServer.accessTokenLifespan: bad duration "
		     "\"30 minutes\"; use Go syntax such as 30m, 1h30m or 500ms");
	expect_error("auth:\n  appAuth:\n    selfAuthServer:\n      accessTokenLifespan: 30\n",
		     "t.yaml:4:28: auth.appAuth.selfAuthServer.accessTokenLifespan: bad duration \"30\"; "
		     "use Go syntax such as 30m, 1h30m or 500ms");
	expect_error("auth:\n  appAuth:\n    selfAuthServer:\n      accessTokenLifespan: -5m\n",
		     "t.yaml:4:28: auth.appAuth.selfAuthServer.accessTokenLifespan: bad duration \"-5m\"; "
		     "use Go syntax such as 30m, 1h30m or 500ms");
	/* Every lifespan is whole seconds in the store: the bound is the
	 * schema's (serve used to refuse 500ms only after opening the store). */
	expect_error("auth:\n  appAuth:\n    selfAuthServer:\n      refreshTokenLifespan: 0\n",
		     "t.yaml:4:29: auth.appAuth.selfAuthServer.refreshTokenLifespan: must be at least 1s");
	expect_error("auth:\n  appAuth:\n    selfAuthServer:\n      accessTokenLifespan: 500ms\n",
		     "t.yaml:4:28: auth.appAuth.selfAuthServer.accessTokenLifespan: must be at least 1s");
	expect_error("auth:\n  appAuth:\n    selfAuthServer:\n      deviceCodeLifespan: 999ms\n",
		     "t.yaml:4:27: auth.appAuth.selfAuthServer.deviceCodeLifespan: must be at least 1s");
	expect_error("auth:\n  appAuth:\n    selfAuthServer:\n      refreshTokenMaxLifespan: 999ms\n",
		     "t.yaml:4:32: auth.appAuth.selfAuthServer.refreshTokenMaxLifespan: must be at least 1s");
	/* An absolute life shorter than the sliding one is allowed, and
	 * flagged: it is where every refresh token ends. */
	expect_ok_with("auth:\n  appAuth:\n    selfAuthServer:\n      refreshTokenLifespan: 2h\n"
		       "      refreshTokenMaxLifespan: 1h\n",
		       "t.yaml:5:32: warning: auth.appAuth.selfAuthServer.refreshTokenMaxLifespan is "
		       "shorter than refreshTokenLifespan: every refresh token dies "
		       "refreshTokenMaxLifespan after its login");
	expect_error("auth:\n  appAuth:\n    selfAuthServer:\n      devicePollInterval: 100ms\n",
		     "t.yaml:4:27: auth.appAuth.selfAuthServer.devicePollInterval: must be at least 1s");
	expect_error("auth:\n  appAuth:\n    selfAuthServer:\n      accessTokenLifespan: 9000h\n",
		     "t.yaml:4:28: auth.appAuth.selfAuthServer.accessTokenLifespan: must be at most 8784h0m0s");
	expect_error("auth:\n  appAuth:\n    selfAuthServer:\n      accessTokenLifespan: [30m]\n",
		     "t.yaml:4:28: auth.appAuth.selfAuthServer.accessTokenLifespan: expected a duration "
		     "such as 30m, got a list");
}

/* ---- URLs ----------------------------------------------------------------------------- */

static void test_bad_urls(void **state)
{
	(void)state;
	expect_error("auth:\n  authorizedUris: [ftp://flyte.example.com]\n",
		     "t.yaml:2:20: auth.authorizedUris[0]: bad URL \"ftp://flyte.example.com\": must use "
		     "http or https");
	expect_error("auth:\n  authorizedUris: ['https://flyte.example.com/#x']\n",
		     "t.yaml:2:20: auth.authorizedUris[0]: bad URL \"https://flyte.example.com/#x\": must "
		     "not contain a fragment (#...)");
	expect_error("auth:\n  authorizedUris: [/console]\n",
		     "t.yaml:2:20: auth.authorizedUris[0]: bad URL \"/console\": not an absolute http(s) URL");
	expect_error("auth:\n  authorizedUris: ['https://']\n",
		     "t.yaml:2:20: auth.authorizedUris[0]: bad URL \"https://\": has no host");
	expect_error("auth:\n  authorizedUris: ['https://flyte.example.com:0/']\n",
		     "t.yaml:2:20: auth.authorizedUris[0]: bad URL \"https://flyte.example.com:0/\": has a "
		     "bad port");
	expect_error("auth:\n  authorizedUris: ['https://flyte .example.com']\n",
		     "t.yaml:2:20: auth.authorizedUris[0]: bad URL \"https://flyte .example.com\": contains "
		     "a space or control character");
	expect_error("auth:\n  authorizedUris: ['https://[::1']\n",
		     "t.yaml:2:20: auth.authorizedUris[0]: bad URL \"https://[::1\": has a bad IPv6 address");
	expect_error("auth:\n  userAuth:\n    openId:\n      baseUrl: accounts.google.com\n",
		     "t.yaml:4:16: auth.userAuth.openId.baseUrl: bad URL \"accounts.google.com\": not an "
		     "absolute http(s) URL");
	expect_error("auth:\n  appAuth:\n    selfAuthServer:\n      staticClients:\n        app:\n"
		     "          redirect_uris: ['myapp:/callback']\n",
		     "t.yaml:6:27: auth.appAuth.selfAuthServer.staticClients.app.redirect_uris[0]: bad URL "
		     "\"myapp:/callback\": not an absolute http(s) URL");
	expect_error("auth:\n  appAuth:\n    thirdPartyConfig:\n      flyteClient: {redirectUri: 'localhost:53593'}\n",
		     "t.yaml:4:34: auth.appAuth.thirdPartyConfig.flyteClient.redirectUri: bad URL "
		     "\"localhost:53593\": not an absolute http(s) URL");
}

/* Credentials in a URL are an error, and the URL is not repeated. */
static void test_url_credentials_not_echoed(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, "auth:\n  appAuth:\n    externalAuthServer:\n      baseUrl: https://admin:hunter2@as.example.com/\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "t.yaml:4:16: auth.appAuth.externalAuthServer.baseUrl: bad URL: must not "
			     "contain credentials (user@host)"));
	assert_false(any_line_has(&l, "hunter2"));
	assert_null(strstr(l.err.msg, "hunter2"));
	unload(&l);
}

static void test_good_urls(void **state)
{
	(void)state;
	struct loaded l;

	load_clean(&l, QUIET "auth:\n  authorizedUris:\n  - HTTPS://Flyte.Example.com\n"
		   "  - http://flyteadmin:80\n  - 'http://[::1]:8088/'\n  - https://flyte.example.com/path?x=1\n"
		   "  userAuth:\n    redirectUrl: /console/projects\n"
		   "  appAuth:\n    externalAuthServer: {metadataUrl: .well-known/openid-configuration}\n");
	assert_int_equal(l.cfg->auth.authorized_uris.count, 4);
	assert_string_equal(l.cfg->auth.user_auth.redirect_url, "/console/projects");
	unload(&l);
}

/* ---- enums -------------------------------------------------------------------------------- */

static void test_bad_enums(void **state)
{
	(void)state;
	expect_error("auth:\n  appAuth:\n    authServerType: Internal\n",
		     "t.yaml:3:21: auth.appAuth.authServerType: bad value \"Internal\"; expected Self or External");
	expect_error("auth:\n  userAuth:\n    cookieSetting: {sameSitePolicy: Loose}\n",
		     "t.yaml:3:37: auth.userAuth.cookieSetting.sameSitePolicy: bad value \"Loose\"; expected "
		     "DefaultMode, LaxMode, StrictMode or NoneMode");
	expect_error("auth:\n  appAuth:\n    authServerType: [Self]\n",
		     "t.yaml:3:21: auth.appAuth.authServerType: expected Self or External, got a list");
}

/* The signing algorithm is an allowlist: no HMAC, no "none". */
static void test_signing_alg_allowlist(void **state)
{
	(void)state;
	expect_error("auth:\n  appAuth:\n    selfAuthServer: {tokenSigningAlgorithm: HS256}\n",
		     "t.yaml:3:45: auth.appAuth.selfAuthServer.tokenSigningAlgorithm: bad value \"HS256\"; "
		     "expected RS256, ES256 or EdDSA");
	expect_error("auth:\n  appAuth:\n    selfAuthServer: {tokenSigningAlgorithm: none}\n",
		     "t.yaml:3:45: auth.appAuth.selfAuthServer.tokenSigningAlgorithm: bad value \"none\"; "
		     "expected RS256, ES256 or EdDSA");
}

static void test_enum_spellings(void **state)
{
	(void)state;
	struct loaded l;

	load_clean(&l, QUIET "auth:\n  userAuth:\n    cookieSetting: {sameSitePolicy: lax}\n"
		   "  appAuth:\n    selfAuthServer: {tokenSigningAlgorithm: eddsa}\n");
	assert_int_equal(l.cfg->auth.user_auth.cookie_setting.same_site_policy, FA_CONFIG_SAMESITE_LAX);
	assert_int_equal(l.cfg->auth.app_auth.self.token_signing_algorithm, FA_CONFIG_ALG_EDDSA);
	assert_int_equal(l.cfg->auth.app_auth.self.token_signing_algorithm_pos.line, 13);
	unload(&l);
}

/* ---- names, hashes, addresses ---------------------------------------------------------------- */

/* Secret names are file names under secrets-prefix. */
static void test_secret_name_path_traversal(void **state)
{
	(void)state;
	expect_error("auth:\n  userAuth:\n    openId:\n      clientSecretName: ../../etc/shadow\n",
		     "t.yaml:4:25: auth.userAuth.openId.clientSecretName: bad secret name "
		     "\"../../etc/shadow\": use a plain file name (letters, digits, '.', '_' and '-')");
	expect_error("auth:\n  appAuth:\n    selfAuthServer: {tokenSigningRSAKeySecretName: /etc/ssl/key.pem}\n",
		     "t.yaml:3:52: auth.appAuth.selfAuthServer.tokenSigningRSAKeySecretName: bad secret name "
		     "\"/etc/ssl/key.pem\": use a plain file name (letters, digits, '.', '_' and '-')");
	expect_error("auth:\n  userAuth: {cookieHashKeySecretName: ..}\n",
		     "t.yaml:2:39: auth.userAuth.cookieHashKeySecretName: bad secret name \"..\": use a plain "
		     "file name (letters, digits, '.', '_' and '-')");
	expect_error("flyteadmin:\n  secrets:\n    ../x: value\n",
		     "t.yaml:3:5: flyteadmin.secrets: bad secret name \"../x\": use a plain file name "
		     "(letters, digits, '.', '_' and '-')");
}

static void test_bad_hash_not_echoed(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, "auth:\n  appAuth:\n    selfAuthServer:\n      staticClients:\n        bot:\n"
	     "          id: bot\n          client_secret: plaintext-s3cret\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "t.yaml:7:26: auth.appAuth.selfAuthServer.staticClients.bot.client_secret: "
			     "not a bcrypt hash (the raw $2a$/$2b$/$2y$ hash or its base64); make one with "
			     "\"flyteauth hash-secret\""));
	assert_false(any_line_has(&l, "plaintext-s3cret"));
	unload(&l);
	expect_error("auth:\n  userAuth:\n    localUsers: [{username: bob, passwordHash: '$2b$03$abc'}]\n",
		     "t.yaml:3:48: auth.userAuth.localUsers[0].passwordHash: not a bcrypt hash (the raw "
		     "$2a$/$2b$/$2y$ hash or its base64); make one with \"flyteauth hash-secret\"");
	/* Sensitive values of the wrong type are not echoed either. */
	load(&l, "database:\n  postgres: {host: db, password: 12345}\n---\ndatabase:\n  postgres: {password: [s3cret]}\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "t.yaml:5:24: database.postgres.password: expected a string, got a list"));
	assert_false(any_line_has(&l, "s3cret"));
	unload(&l);
}

static void test_hash_forms_accepted(void **state)
{
	(void)state;
	struct loaded l;

	load_clean(&l, QUIET "auth:\n  appAuth:\n    selfAuthServer:\n      staticClients:\n"
		   "        raw: {id: raw, client_secret: '" HASH "'}\n"
		   "        b64: {id: b64, client_secret: " HASH_B64 ", rotated_secrets: ['" HASH "']}\n"
		   "        y: {id: y, client_secret: '$2y$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234'}\n");
	assert_string_equal(fa_config_client_get(l.cfg, "b64")->client_secret, HASH_B64);
	assert_int_equal(fa_config_client_get(l.cfg, "b64")->rotated_secrets.count, 1);
	unload(&l);
}

static void test_bind_address(void **state)
{
	(void)state;
	struct loaded l;

	expect_error("server:\n  bindAddress: 'not an address'\n",
		     "t.yaml:2:16: server.bindAddress: bad address \"not an address\": expected an IP address "
		     "such as 0.0.0.0, 127.0.0.1 or ::");
	load_clean(&l, QUIET "server: {bindAddress: '::1'}\n");
	assert_string_equal(l.cfg->server.bind_address, "::1");
	assert_int_equal(l.cfg->server.bind_address_pos.line, 9);
	unload(&l);
}

static void expect_threads(const struct fa_config *cfg, unsigned cpus, unsigned http,
			   unsigned bcrypt)
{
	struct fa_config_threads t = fa_config_threads(cfg, cpus);

	if (t.http != http || t.bcrypt != bcrypt)
		print_error("%u CPUs: %u HTTP, %u bcrypt; want %u, %u\n", cpus, t.http, t.bcrypt,
			    http, bcrypt);
	assert_int_equal(t.http, http);
	assert_int_equal(t.bcrypt, bcrypt);
}

/* server.workers / bcryptWorkers: bounded, 0 or absent for the CPUs usable,
 * and the threads serve starts from them. */
static void test_workers(void **state)
{
	struct loaded l;
	struct fa_buf b;

	(void)state;
	expect_error("server:\n  workers: 65\n", "t.yaml:2:12: server.workers: 65 is out of range (0-64)");
	expect_error("server:\n  workers: -1\n", "t.yaml:2:12: server.workers: -1 is out of range (0-64)");
	expect_error("server:\n  bcryptWorkers: 17\n",
		     "t.yaml:2:18: server.bcryptWorkers: 17 is out of range (0-16)");
	expect_error("server:\n  workers: many\n",
		     "t.yaml:2:12: server.workers: expected an integer, got \"many\"");
	expect_error("server:\n  worker: 4\n",
		     "t.yaml:2:3: unknown key \"worker\" in server; did you mean \"workers\"?");

	/* Absent: one HTTP worker per CPU (64 at most), bcrypt on half. */
	load_clean(&l, QUIET "server: {httpPort: 8088}\n");
	expect_threads(l.cfg, 1, 1, 1);
	expect_threads(l.cfg, 0, 1, 1);
	expect_threads(l.cfg, 5, 5, 2);
	expect_threads(l.cfg, 128, 64, 16);
	unload(&l);
	/* 0 means the same as absent. */
	load_clean(&l, QUIET "server: {workers: 0, bcryptWorkers: 0}\n");
	expect_threads(l.cfg, 8, 8, 4);
	unload(&l);
	/* Set: whatever the CPUs. */
	load_clean(&l, QUIET "server: {workers: 3, bcryptWorkers: 16}\n");
	assert_int_equal(l.cfg->server.workers, 3);
	expect_threads(l.cfg, 64, 3, 16);
	expect_threads(l.cfg, 1, 3, 16);
	/* config check says where the numbers come from. */
	fa_buf_init(&b, 8192);
	assert_int_equal(fa_config_explain(l.cfg, &b), FA_OK);
	assert_non_null(strstr(fa_buf_str(&b), "threads: 3 HTTP workers (server.workers), "
				       "16 bcrypt workers (server.bcryptWorkers)\n"));
	fa_buf_cleanup(&b);
	unload(&l);
}

/* ---- static clients ----------------------------------------------------------------------------- */

static void test_static_client_no_id(void **state)
{
	(void)state;
	expect_error(QUIET "auth:\n  appAuth:\n    selfAuthServer:\n      staticClients:\n"
		     "        ci: {public: true, redirect_uris: [http://localhost:1/cb]}\n",
		     "t.yaml:13:9: auth.appAuth.selfAuthServer.staticClients.ci: static client has no id");
}

static void test_static_client_confidential_no_secret(void **state)
{
	(void)state;
	expect_error(QUIET "auth:\n  appAuth:\n    selfAuthServer:\n      staticClients:\n"
		     "        ci: {id: ci, grant_types: [client_credentials]}\n",
		     "t.yaml:13:9: auth.appAuth.selfAuthServer.staticClients.ci: confidential client "
		     "(public: false) has no client_secret; set it to the output of \"flyteauth hash-secret\"");
}

static void test_static_client_duplicate_id(void **state)
{
	(void)state;
	expect_error(QUIET "auth:\n  appAuth:\n    selfAuthServer:\n      staticClients:\n"
		     "        cli2: {id: flytectl, public: true}\n",
		     "t.yaml:13:20: auth.appAuth.selfAuthServer.staticClients.cli2: client id \"flytectl\" is "
		     "already used by staticClients.flytectl");
}

static void test_static_client_not_mapping(void **state)
{
	(void)state;
	expect_error("auth:\n  appAuth:\n    selfAuthServer:\n      staticClients:\n        ci: yes\n",
		     "t.yaml:5:13: auth.appAuth.selfAuthServer.staticClients.ci: expected a mapping (id, "
		     "client_secret, redirect_uris, ...), got \"yes\"");
}

/* flyteadmin decodes each client afresh: a client in the file replaces the
 * default of the same name whole; other defaults stay. */
static void test_static_client_replaces_default(void **state)
{
	(void)state;
	struct loaded l;

	load_clean(&l, QUIET "auth:\n  appAuth:\n    selfAuthServer:\n      staticClients:\n"
		   "        FlyteCTL: {id: flytectl, public: true, redirect_uris: ['http://localhost:53593/callback']}\n");
	const struct fa_config_client *cl = fa_config_client_get(l.cfg, "flytectl");
	assert_non_null(cl);
	assert_false(cl->is_default);
	assert_int_equal(cl->redirect_uris.count, 1);
	assert_int_equal(cl->grant_types.count, 0);
	/* Given clients replace the built-in defaults: only QUIET's
	 * flytepropeller and this flytectl are left, no flyte-cli. */
	assert_int_equal(l.cfg->auth.app_auth.self.static_clients_count, 2);
	assert_null(fa_config_client_get(l.cfg, "flyte-cli"));
	assert_false(fa_config_client_get(l.cfg, "flytepropeller")->is_default);
	unload(&l);
}

static void test_unknown_grant_type_warns(void **state)
{
	(void)state;
	expect_ok_with(QUIET "auth:\n  appAuth:\n    selfAuthServer:\n      staticClients:\n"
		       "        x: {id: x, public: true, grant_types: [authorization_code, magic]}\n",
		       "t.yaml:13:9: warning: auth.appAuth.selfAuthServer.staticClients.x.grant_types: "
		       "\"magic\" is not a grant type flyteauth knows; it is ignored");
}

static void test_flyte_client_must_exist(void **state)
{
	(void)state;
	expect_ok_with(QUIET "auth:\n  appAuth:\n    thirdPartyConfig:\n      flyteClient: {clientId: nope}\n",
		       "t.yaml:12:31: warning: auth.appAuth.thirdPartyConfig.flyteClient.clientId \"nope\" is "
		       "not one of the static clients: flytectl logins will be refused");
	expect_ok_with(QUIET "auth:\n  appAuth:\n    thirdPartyConfig:\n"
		       "      flyteClient: {redirectUri: 'http://localhost:1/cb'}\n",
		       "t.yaml: warning: auth.appAuth.thirdPartyConfig.flyteClient.redirectUri is not one of "
		       "the redirect_uris of static client flytectl: flytectl logins will be refused");
	/* Loopback redirect URIs match on any port (RFC 8252 §7.3): no warning. */
	{
		struct loaded l;

		load_clean(&l, QUIET "auth:\n  appAuth:\n    thirdPartyConfig:\n"
			   "      flyteClient: {redirectUri: 'http://localhost:8123/callback'}\n");
		unload(&l);
	}
}

static void test_gate_settings(void **state)
{
	struct loaded l;

	(void)state;
	/* Defaults: Flyte's blanket scope, no revocation look-ups, no proxy. */
	load_clean(&l, QUIET "");
	assert_string_equal(l.cfg->auth.required_scope, "all");
	assert_false(l.cfg->auth.app_auth.self.check_revocation);
	assert_string_equal(l.cfg->auth.http_proxy_url, "");
	assert_string_equal(l.cfg->auth.app_auth.external.http_proxy_url, "");
	unload(&l);
	load_clean(&l, QUIET "auth:\n  requiredScope: flyte.admin\n  httpProxyURL: 'http://proxy:3128'\n"
		   "  appAuth:\n    selfAuthServer: {checkRevocation: true}\n");
	assert_string_equal(l.cfg->auth.required_scope, "flyte.admin");
	assert_true(l.cfg->auth.app_auth.self.check_revocation);
	assert_string_equal(l.cfg->auth.http_proxy_url, "http://proxy:3128");
	unload(&l);
	expect_error(QUIET "auth:\n  requiredScope: 'all offline'\n",
		     "t.yaml:10:18: auth.requiredScope must be one scope (visible ASCII without space, "
		     "'\"' or '\\', at most 1024 bytes); Flyte's is \"all\"");
	expect_error(QUIET "auth:\n  requiredScope: ''\n",
		     "t.yaml:10:18: auth.requiredScope must be one scope (visible ASCII without space, "
		     "'\"' or '\\', at most 1024 bytes); Flyte's is \"all\"");
	expect_error(QUIET "auth:\n  requiredScope: [all]\n",
		     "t.yaml:10:18: auth.requiredScope: expected a string, got a list");
	expect_error(QUIET "auth:\n  appAuth:\n    selfAuthServer: {checkRevocation: maybe}\n",
		     "t.yaml:11:39: auth.appAuth.selfAuthServer.checkRevocation: expected a boolean "
		     "(true or false), got \"maybe\"");
	/* A proxy URL may hold a password: the message never quotes it. */
	load(&l, QUIET "auth:\n  appAuth:\n    authServerType: External\n    externalAuthServer:\n"
	     "      baseUrl: 'https://as.example.com'\n      httpProxyURL: 'ftp://u:s3cret@p'\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "t.yaml:14:21: auth.appAuth.externalAuthServer.httpProxyURL must be "
			     "an http://, https://, socks5:// or socks5h:// URL without spaces"));
	assert_false(any_line_has(&l, "s3cret"));
	unload(&l);
	expect_ok_with(QUIET "auth:\n  appAuth:\n    authServerType: External\n"
		       "    externalAuthServer: {baseUrl: 'https://as.example.com', "
		       "httpProxyURL: 'socks5h://proxy:1080'}\n    selfAuthServer: {checkRevocation: true}\n",
		       "t.yaml:11:21: warning: auth.appAuth.selfAuthServer.checkRevocation applies to "
		       "flyteauth's own tokens; with authServerType External it is ignored");
	expect_ok_with(QUIET "auth:\n  disableForHttp: true\n",
		       "t.yaml: warning: auth.disableForHttp is true: requests without a valid token or "
		       "session pass /auth/verify (200, no identity headers), as flyteadmin lets them "
		       "through its HTTP API");
}

static void test_too_many_list_items(void **state)
{
	(void)state;
	char yaml[4096];
	size_t o = (size_t)snprintf(yaml, sizeof(yaml), "server:\n  security:\n    allowedHeaders: [");

	for (int i = 0; i < 257; i++)
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "h%d,", i);
	snprintf(yaml + o - 1, sizeof(yaml) - o + 1, "]\n");
	expect_error(yaml, "t.yaml:3:21: server.security.allowedHeaders: more than 256 items");
}

/* Counts are capped: each list is scanned per request. */
static void test_count_caps(void **state)
{
	(void)state;
	static char yaml[96 * 1024];
	size_t o = (size_t)snprintf(yaml, sizeof(yaml),
				    "auth:\n  appAuth:\n    selfAuthServer:\n      staticClients:\n");

	for (int i = 0; i < 129; i++)
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "        c%d: {id: c%d, public: true}\n", i, i);
	/* The file's clients replace the defaults: the 129th is one too many. */
	expect_error(yaml, "t.yaml:133:9: auth.appAuth.selfAuthServer.staticClients: more than 128 clients");

	o = (size_t)snprintf(yaml, sizeof(yaml), "auth:\n  userAuth:\n    localUsers:\n");
	for (int i = 0; i < 1025; i++)
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "    - {username: u%d}\n", i);
	expect_error(yaml, "t.yaml:4:5: auth.userAuth.localUsers: more than 1024 users");

	o = (size_t)snprintf(yaml, sizeof(yaml), "flyteadmin:\n  secrets:\n");
	for (int i = 0; i < 65; i++)
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "    s%d: v\n", i);
	expect_error(yaml, "t.yaml:67:5: flyteadmin.secrets.s64: more than 64 inline secrets");
}

/* ---- local users --------------------------------------------------------------------------------- */

static void test_local_users(void **state)
{
	(void)state;
	struct loaded l;

	load_clean(&l, "auth:\n  userAuth:\n    localUsers:\n"
		   "    - {username: alice, passwordHash: '" HASH "', name: Alice, email: a@example.com}\n"
		   "    - {username: bob@example.com, passwordHash: " HASH_B64 "}\n"
		   "  appAuth:\n    selfAuthServer:\n      staticClients:\n"
		   "        flytepropeller: {id: flytepropeller, client_secret: '" HASH "'}\n"
		   "        flytectl: {id: flytectl, public: true, redirect_uris: ['http://localhost:53593/callback']}\n");
	assert_int_equal(l.cfg->auth.user_auth.local_users_count, 2);
	assert_string_equal(fa_config_user_get(l.cfg, "alice")->name, "Alice");
	assert_string_equal(fa_config_user_get(l.cfg, "bob@example.com")->email, "");
	assert_int_equal(fa_config_user_get(l.cfg, "bob@example.com")->pos.line, 5);
	unload(&l);
}

static void test_local_user_errors(void **state)
{
	(void)state;
	expect_error("auth:\n  userAuth:\n    localUsers:\n    - {name: Nobody, passwordHash: '" HASH "'}\n",
		     "t.yaml:4:7: auth.userAuth.localUsers[0]: local user has no username");
	expect_error("auth:\n  userAuth:\n    localUsers:\n    - {username: carol}\n",
		     "t.yaml:4:7: auth.userAuth.localUsers[0]: local user \"carol\" has no passwordHash; make "
		     "one with \"flyteauth hash-secret\"");
	expect_error("auth:\n  userAuth:\n    localUsers:\n    - {username: a, passwordHash: '" HASH "'}\n"
		     "    - {username: a, passwordHash: '" HASH "'}\n",
		     "t.yaml:5:7: auth.userAuth.localUsers[1]: user \"a\" is already defined");
	expect_error("auth:\n  userAuth:\n    localUsers:\n    - {username: 'a b', passwordHash: '" HASH "'}\n",
		     "t.yaml:4:7: auth.userAuth.localUsers[0]: bad username \"a b\": use letters, digits and "
		     ". _ @ + -");
	expect_error("auth:\n  userAuth:\n    localUsers: [alice]\n",
		     "t.yaml:3:18: auth.userAuth.localUsers[0]: expected a mapping (username, passwordHash, "
		     "name, email, emailVerified, groups), got \"alice\"");
	expect_error("auth:\n  userAuth:\n    localUsers:\n    - {username: a, passwordHash: '" HASH "', "
		     "emailVerified: maybe}\n", "t.yaml:4:114: auth.userAuth.localUsers[0].emailVerified: "
		     "expected a boolean (true or false), got \"maybe\"");
	expect_error("auth:\n  userAuth:\n    localUsers:\n    - {username: a, passwordHash: '" HASH "', "
		     "groups: admins}\n", "t.yaml:4:107: auth.userAuth.localUsers[0].groups: expected a list, "
		     "got \"admins\"");
	expect_error("auth:\n  appAuth:\n    selfAuthServer:\n      staticClients:\n        c: {id: c, "
		     "public: true, post_logout_redirect_uris: ['not a url']}\n",
		     "t.yaml:5:62: auth.appAuth.selfAuthServer.staticClients.c.post_logout_redirect_uris[0]: "
		     "bad URL \"not a url\": contains a space or control character");
	expect_error("auth:\n  userAuth:\n    localUsers:\n    - {username: a, password: x}\n",
		     "t.yaml:4:21: unknown key \"password\" in auth.userAuth.localUsers[0]; did you mean "
		     "\"passwordHash\"?");
}

/* ---- across keys ------------------------------------------------------------------------------------ */

static void test_external_without_base_url(void **state)
{
	(void)state;
	expect_error("auth:\n  appAuth:\n    authServerType: External\n",
		     "t.yaml:3:21: auth.appAuth.authServerType is External but "
		     "auth.appAuth.externalAuthServer.baseUrl is not set (nor auth.userAuth.openId.baseUrl, "
		     "which it defaults to)");
}

static void test_external_defaults_to_openid(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, "auth:\n  appAuth:\n    authServerType: External\n"
	     "  userAuth:\n    openId: {baseUrl: 'https://idp.example.com/', clientId: web}\n");
	assert_int_equal(l.rc, FA_OK);
	assert_true(has_line(&l, "t.yaml:3:21: note: auth.appAuth.externalAuthServer.baseUrl is not set: "
			     "using auth.userAuth.openId.baseUrl, as flyteadmin does"));
	assert_string_equal(l.cfg->auth.app_auth.external.base_url, "https://idp.example.com/");
	assert_int_equal(l.cfg->auth.app_auth.external.base_url_pos.line, 5);
	assert_int_equal(l.cfg->auth.app_auth.auth_server_type, FA_CONFIG_AS_EXTERNAL);
	/* Static clients are not checked for an External AS. */
	assert_int_equal(fa_config_diag_count(l.d), 1);
	unload(&l);
}

/* The SPEC's case: Self with no authorizedUris is fine (the issuer comes
 * from the listen address). */
static void test_self_without_authorized_uris(void **state)
{
	(void)state;
	struct loaded l;

	load_clean(&l, QUIET "auth:\n  appAuth:\n    authServerType: Self\n");
	assert_int_equal(l.cfg->auth.authorized_uris.count, 0);
	unload(&l);
}

static void test_openid_settings_together(void **state)
{
	(void)state;
	expect_error("auth:\n  userAuth:\n    openId: {baseUrl: 'https://idp.example.com'}\n",
		     "t.yaml:3:23: auth.userAuth.openId.clientId is required when baseUrl is set");
	expect_error("auth:\n  userAuth:\n    openId: {clientId: web}\n",
		     "t.yaml:3:24: auth.userAuth.openId.baseUrl is required when clientId is set");
	expect_error("auth:\n  userAuth:\n    openId: {baseUrl: 'https://idp.example.com', clientId: web, "
		     "scopes: [profile]}\n",
		     "t.yaml:3:23: auth.userAuth.openId.scopes must include openid (OpenID Connect logins need it)");
	expect_error("auth:\n  userAuth:\n    openId: {baseUrl: 'https://idp.example.com', clientId: web, "
		     "clientSecretName: ''}\n",
		     "t.yaml:3:83: auth.userAuth.openId.clientSecretName must not be empty");
	expect_ok_with(QUIET "auth:\n  userAuth:\n    openId: {baseUrl: 'http://idp.example.com', clientId: web}\n",
		       "t.yaml:11:23: warning: auth.userAuth.openId.baseUrl uses plain http to another host: "
		       "codes and tokens would cross the network unencrypted");
}

static void test_external_plain_http_warns(void **state)
{
	(void)state;
	expect_ok_with("auth:\n  appAuth:\n    authServerType: External\n"
		       "    externalAuthServer: {baseUrl: 'http://as.example.com/'}\n",
		       "t.yaml:4:35: warning: auth.appAuth.externalAuthServer.baseUrl uses plain http to "
		       "another host: tokens would cross the network unencrypted");
}

static void test_plain_http_loopback_ok(void **state)
{
	(void)state;
	struct loaded l;

	load(&l, QUIET "auth:\n  userAuth:\n    openId: {baseUrl: 'http://127.0.0.1:4000/', clientId: web}\n");
	assert_int_equal(l.rc, FA_OK);
	assert_false(any_line_has(&l, "plain http"));
	unload(&l);
}

static void test_nobody_can_log_in_note(void **state)
{
	(void)state;
	expect_ok_with("auth:\n  appAuth:\n    selfAuthServer:\n      staticClients:\n"
		       "        flytepropeller: {id: flytepropeller, client_secret: '" HASH "'}\n",
		       "t.yaml: note: no identity provider (auth.userAuth.openId.baseUrl) and no "
		       "auth.userAuth.localUsers: nobody can log in with a browser");
	expect_ok_with("server: {httpPort: 8089}\n",
		       "t.yaml: note: the built-in static client flytepropeller gets a secret generated "
		       "on the installation's first start (printed once by serve); to choose it, set "
		       "auth.appAuth.selfAuthServer.staticClients.flytepropeller.client_secret to the "
		       "output of \"flyteauth hash-secret\"");
}

static void test_use_auth_off_warns(void **state)
{
	(void)state;
	expect_ok_with(QUIET "server: {security: {useAuth: false}}\n",
		       "t.yaml: warning: server.security.useAuth is false: flyteauth will not require "
		       "authentication");
}

static void test_secure_needs_tls_files(void **state)
{
	(void)state;
	expect_error("server:\n  security:\n    secure: true\n    ssl: {certificateFile: /x.crt}\n",
		     "t.yaml:3:13: server.security.secure is true but server.security.ssl.certificateFile and "
		     "keyFile are not both set");
}

static void test_samesite_none_needs_secure(void **state)
{
	(void)state;
	/* serve refused this while config check only warned; now both refuse. */
	expect_error("server: {security: {insecureCookieHeader: true}}\n"
		     "auth: {userAuth: {cookieSetting: {sameSitePolicy: NoneMode}}}\n",
		     "t.yaml:2:51: auth.userAuth.cookieSetting.sameSitePolicy NoneMode needs Secure "
		     "cookies: unset server.security.insecureCookieHeader (browsers drop SameSite=None "
		     "cookies that are not Secure)");
}

static void test_database_choice(void **state)
{
	(void)state;
	struct loaded l;

	expect_error("database:\n  sqlite: {file: a.db}\n  postgres: {host: db}\n",
		     "t.yaml:3:3: database: both sqlite and postgres are configured; keep one");
	expect_error("database:\n  sqlite: {file: ''}\n",
		     "t.yaml:2:3: database.sqlite.file must not be empty");
	load(&l, QUIET "database:\n  postgres: {host: db, password: pw, passwordPath: /run/pw}\n");
	assert_int_equal(l.rc, FA_OK);
	assert_int_equal(l.cfg->database.kind, FA_CONFIG_DB_POSTGRES);
	assert_int_equal(l.cfg->database.pos.line, 10);
	assert_int_equal(l.cfg->database.postgres.port, 5432);
	assert_true(has_line(&l, "t.yaml:10:52: note: database.postgres: passwordPath is used; password is ignored"));
	unload(&l);
}

static void test_secrets_section(void **state)
{
	(void)state;
	expect_error("secrets:\n  env-prefix: 'FLYTE SECRET'\n",
		     "t.yaml:2:15: secrets.env-prefix: bad prefix \"FLYTE SECRET\": use letters, digits and '_'");
	expect_error("secrets:\n  secrets-prefix: ''\n",
		     "t.yaml:2:19: secrets.secrets-prefix must not be empty");
	expect_error("auth:\n  userAuth: {cookieBlockKeySecretName: ''}\n",
		     "t.yaml:2:40: auth.userAuth.cookieBlockKeySecretName must not be empty");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_weak_typing_like_flyte),
		cmocka_unit_test(test_port_out_of_range),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_bad_duration),
		cmocka_unit_test(test_bad_urls),
		cmocka_unit_test(test_url_credentials_not_echoed),
		cmocka_unit_test(test_good_urls),
		cmocka_unit_test(test_bad_enums),
		cmocka_unit_test(test_signing_alg_allowlist),
		cmocka_unit_test(test_enum_spellings),
		cmocka_unit_test(test_secret_name_path_traversal),
		cmocka_unit_test(test_bad_hash_not_echoed),
		cmocka_unit_test(test_hash_forms_accepted),
		cmocka_unit_test(test_bind_address),
		cmocka_unit_test(test_workers),
		cmocka_unit_test(test_static_client_no_id),
		cmocka_unit_test(test_static_client_confidential_no_secret),
		cmocka_unit_test(test_static_client_duplicate_id),
		cmocka_unit_test(test_static_client_not_mapping),
		cmocka_unit_test(test_static_client_replaces_default),
		cmocka_unit_test(test_unknown_grant_type_warns),
		cmocka_unit_test(test_flyte_client_must_exist),
		cmocka_unit_test(test_gate_settings),
		cmocka_unit_test(test_too_many_list_items),
		cmocka_unit_test(test_count_caps),
		cmocka_unit_test(test_local_users),
		cmocka_unit_test(test_local_user_errors),
		cmocka_unit_test(test_external_without_base_url),
		cmocka_unit_test(test_external_defaults_to_openid),
		cmocka_unit_test(test_self_without_authorized_uris),
		cmocka_unit_test(test_openid_settings_together),
		cmocka_unit_test(test_external_plain_http_warns),
		cmocka_unit_test(test_plain_http_loopback_ok),
		cmocka_unit_test(test_nobody_can_log_in_note),
		cmocka_unit_test(test_use_auth_off_warns),
		cmocka_unit_test(test_secure_needs_tls_files),
		cmocka_unit_test(test_samesite_none_needs_secure),
		cmocka_unit_test(test_database_choice),
		cmocka_unit_test(test_secrets_section),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
