/* test_config_client.c -- the client config loader (src/config/client_config.c):
 * flyteidl's defaults, every admin key, authType spellings and aliases,
 * case-insensitive keys, the flytectl keys and sections that are ignored,
 * unknown keys with did-you-mean at FILE:LINE:COL, the checks across keys,
 * the seed's client examples, file errors, and the endpoint forms. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

struct loaded {
	struct fa_client_config *cc;
	struct fa_config_diag *d;
	struct fa_err err;
	enum fa_rc rc;
};

static void load(struct loaded *l, const char *yaml)
{
	l->d = fa_config_diag_new();
	assert_non_null(l->d);
	l->rc = fa_client_config_load_buffer("c.yaml", yaml, strlen(yaml), l->d, &l->cc, &l->err);
}

static void unload(struct loaded *l)
{
	fa_client_config_free(l->cc);
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

static void load_clean(struct loaded *l, const char *yaml)
{
	load(l, yaml);
	if (l->rc != FA_OK || fa_config_diag_count(l->d) != 0)
		dump(l);
	assert_int_equal(l->rc, FA_OK);
	assert_int_equal(fa_config_diag_count(l->d), 0);
}

static void expect_error(const char *yaml, const char *line)
{
	struct loaded l;

	load(&l, yaml);
	if (l.rc != FA_ECONFIG)
		dump(&l);
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_null(l.cc);
	assert_true(has_line(&l, line));
	/* err carries the first error line, cut to fit struct fa_err. */
	assert_int_equal(l.err.rc, FA_ECONFIG);
	assert_int_equal(strncmp(l.err.msg, line, strlen(l.err.msg)), 0);
	unload(&l);
}

static void test_defaults(void **state)
{
	struct fa_client_config *cc = fa_client_config_new_defaults();

	(void)state;
	assert_non_null(cc);
	assert_string_equal(cc->path, "");
	assert_string_equal(cc->endpoint, "");
	assert_false(cc->insecure);
	assert_false(cc->insecure_skip_verify);
	assert_int_equal(cc->auth_type, FA_CLIENT_AUTH_PKCE);
	assert_string_equal(cc->client_id, "");
	assert_string_equal(cc->client_secret_location, "/etc/secrets/client_secret");
	assert_string_equal(cc->client_secret_env_var, "");
	assert_int_equal(cc->scopes.count, 0);
	assert_int_equal(cc->command.count, 0);
	assert_true(cc->pkce_timeout_ms == 120000);
	assert_true(cc->pkce_refresh_time_ms == 300000);
	assert_true(cc->device_timeout_ms == 600000);
	assert_true(cc->device_poll_interval_ms == 5000);
	assert_true(cc->device_refresh_time_ms == 300000);
	assert_string_equal(cc->token_url, "");
	assert_string_equal(cc->authorization_header, "");
	assert_string_equal(cc->http_proxy_url, "");
	fa_client_config_free(cc);
	fa_client_config_free(NULL);
}

static void test_every_key(void **state)
{
	struct loaded l;

	(void)state;
	load_clean(&l,
		   "admin:\n"
		   "  endpoint: dns:///flyte.example.com:443\n"
		   "  insecure: false\n"
		   "  insecureSkipVerify: true\n"
		   "  caCertFilePath: /etc/ssl/ca.pem\n"
		   "  authType: ClientSecret\n"
		   "  clientId: flytepropeller\n"
		   "  clientSecretLocation: /run/secrets/cs\n"
		   "  clientSecretEnvVar: MY_SECRET\n"
		   "  scopes: [all, offline]\n"
		   "  audience: https://flyte.example.com\n"
		   "  useAudienceFromAdmin: true\n"
		   "  tokenUrl: https://idp.example.com/oauth2/token\n"
		   "  authorizationHeader: flyte-authorization\n"
		   "  command: [gcloud, auth, print-identity-token]\n"
		   "  pkceConfig: {timeout: 3m, refreshTime: 1m}\n"
		   "  deviceFlowConfig: {timeout: 15m, pollInterval: 2s, refreshTime: 4m}\n"
		   "  httpProxyURL: http://proxy.example.com:3128\n");
	assert_string_equal(l.cc->path, "c.yaml");
	assert_string_equal(l.cc->endpoint, "dns:///flyte.example.com:443");
	assert_true(l.cc->insecure_skip_verify);
	assert_string_equal(l.cc->ca_cert_file_path, "/etc/ssl/ca.pem");
	assert_int_equal(l.cc->auth_type, FA_CLIENT_AUTH_CLIENT_SECRET);
	assert_string_equal(l.cc->client_id, "flytepropeller");
	assert_string_equal(l.cc->client_secret_location, "/run/secrets/cs");
	assert_string_equal(l.cc->client_secret_env_var, "MY_SECRET");
	assert_int_equal(l.cc->scopes.count, 2);
	assert_string_equal(l.cc->scopes.items[1], "offline");
	assert_string_equal(l.cc->audience, "https://flyte.example.com");
	assert_true(l.cc->use_audience_from_admin);
	assert_string_equal(l.cc->token_url, "https://idp.example.com/oauth2/token");
	assert_string_equal(l.cc->authorization_header, "flyte-authorization");
	assert_int_equal(l.cc->command.count, 3);
	assert_string_equal(l.cc->command.items[2], "print-identity-token");
	assert_true(l.cc->pkce_timeout_ms == 180000);
	assert_true(l.cc->pkce_refresh_time_ms == 60000);
	assert_true(l.cc->device_timeout_ms == 900000);
	assert_true(l.cc->device_poll_interval_ms == 2000);
	assert_true(l.cc->device_refresh_time_ms == 240000);
	assert_string_equal(l.cc->http_proxy_url, "http://proxy.example.com:3128");
	assert_int_equal(l.cc->endpoint_pos.line, 2);
	assert_int_equal(l.cc->endpoint_pos.col, 13);
	assert_int_equal(l.cc->auth_type_pos.line, 6);
	unload(&l);
}

static void test_auth_type_spellings(void **state)
{
	static const struct { const char *name; enum fa_client_auth_type t; } cases[] = {
		{ "Pkce", FA_CLIENT_AUTH_PKCE }, { "pkce", FA_CLIENT_AUTH_PKCE },
		{ "standard", FA_CLIENT_AUTH_PKCE }, { "PKCE", FA_CLIENT_AUTH_PKCE },
		{ "ClientSecret", FA_CLIENT_AUTH_CLIENT_SECRET },
		{ "clientsecret", FA_CLIENT_AUTH_CLIENT_SECRET },
		{ "basic", FA_CLIENT_AUTH_CLIENT_SECRET },
		{ "client_credentials", FA_CLIENT_AUTH_CLIENT_SECRET },
		{ "DeviceFlow", FA_CLIENT_AUTH_DEVICE_FLOW },
		{ "deviceflow", FA_CLIENT_AUTH_DEVICE_FLOW },
		{ "ExternalCommand", FA_CLIENT_AUTH_EXTERNAL_COMMAND },
		{ "externalcommand", FA_CLIENT_AUTH_EXTERNAL_COMMAND },
		{ "external_process", FA_CLIENT_AUTH_EXTERNAL_COMMAND },
	};
	char yaml[200];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct loaded l;
		enum fa_client_auth_type t = FA_CLIENT_AUTH_PKCE;

		snprintf(yaml, sizeof(yaml), "admin:\n  authType: %s\n  command: [x]\n", cases[i].name);
		load_clean(&l, yaml);
		assert_int_equal(l.cc->auth_type, cases[i].t);
		unload(&l);
		assert_int_equal(fa_client_auth_type_parse(cases[i].name, &t, NULL), FA_OK);
		assert_int_equal(t, cases[i].t);
	}
	assert_string_equal(fa_client_auth_type_str(FA_CLIENT_AUTH_DEVICE_FLOW), "DeviceFlow");
	assert_string_equal(fa_client_auth_type_str(FA_CLIENT_AUTH_CLIENT_SECRET), "ClientSecret");
}

static void test_bad_auth_type(void **state)
{
	struct fa_err err;
	enum fa_client_auth_type t;

	(void)state;
	expect_error("admin:\n  authType: Password\n",
		     "c.yaml:2:13: admin.authType: bad value \"Password\"; expected Pkce, ClientSecret, "
		     "DeviceFlow or ExternalCommand (or flytekit's standard, basic, client_credentials, "
		     "external_process)");
	assert_int_equal(fa_client_auth_type_parse("oauth", &t, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "bad auth type \"oauth\""));
}

static void test_keys_case_insensitive(void **state)
{
	struct loaded l;

	(void)state;
	load_clean(&l, "ADMIN:\n  EndPoint: localhost:30080\n  INSECURE: true\n"
		   "  authtype: deviceflow\n  DeviceFlowConfig: {PollInterval: 1s}\n");
	assert_string_equal(l.cc->endpoint, "localhost:30080");
	assert_true(l.cc->insecure);
	assert_int_equal(l.cc->auth_type, FA_CLIENT_AUTH_DEVICE_FLOW);
	assert_true(l.cc->device_poll_interval_ms == 1000);
	unload(&l);
}

/* A real flytectl config: gRPC keys under admin and other sections are
 * accepted without a word; an unknown top-level section is a note. */
static void test_flytectl_config_ignored_keys(void **state)
{
	struct loaded l;

	(void)state;
	load_clean(&l,
		   "admin:\n"
		   "  endpoint: dns:///localhost:30080\n"
		   "  insecure: true\n"
		   "  maxBackoffDelay: 8s\n  perRetryTimeout: 15s\n  maxRetries: 4\n"
		   "  useAuth: true\n  authorizationServerUrl: http://x\n"
		   "  proxyCommand: [a]\n  defaultServiceConfig: '{}'\n  tokenRefreshWindow: 0s\n"
		   "logger:\n  show-source: true\n  level: 0\n"
		   "storage:\n  type: stow\n  stow: {kind: s3}\n"
		   "console:\n  endpoint: http://localhost:30080\n"
		   "files: {}\n");
	unload(&l);
	load(&l, "admin: {endpoint: localhost:1}\nmyplugin: {a: 1}\n");
	assert_int_equal(l.rc, FA_OK);
	assert_true(has_line(&l, "c.yaml:2:1: note: top-level key \"myplugin\" is not used by "
			     "flyteauth; ignored"));
	unload(&l);
}

static void test_did_you_mean(void **state)
{
	(void)state;
	expect_error("admin:\n  endpont: localhost:1\n",
		     "c.yaml:2:3: unknown key \"endpont\" in admin; did you mean \"endpoint\"?");
	expect_error("admin:\n  clientSecretLocaton: /x\n",
		     "c.yaml:2:3: unknown key \"clientSecretLocaton\" in admin; did you mean "
		     "\"clientSecretLocation\"?");
	expect_error("admn:\n  endpoint: x\n",
		     "c.yaml:1:1: unknown top-level key \"admn\"; did you mean \"admin\"?");
	expect_error("admin:\n  colour: red\n", "c.yaml:2:3: unknown key \"colour\" in admin");
}

static void test_misplaced_key(void **state)
{
	(void)state;
	expect_error("admin:\n  pollInterval: 3s\n",
		     "c.yaml:2:3: key \"pollInterval\" is not valid under admin; it belongs under "
		     "admin.deviceFlowConfig \xe2\x80\x94 indent it under \"deviceFlowConfig:\"");
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_error("admin:\n  insecure: maybe\n",
		     "c.yaml:2:13: admin.insecure: expected a boolean (true or false), got \"maybe\"");
	expect_error("admin:\n  pkceConfig: {timeout: 2 minutes}\n",
		     "c.yaml:2:25: admin.pkceConfig.timeout: bad duration \"2 minutes\"; use Go syntax "
		     "such as 30m, 1h30m or 500ms");
	expect_error("admin:\n  deviceFlowConfig: {pollInterval: 10m}\n",
		     "c.yaml:2:36: admin.deviceFlowConfig.pollInterval: must be at most 5m0s");
	expect_error("admin:\n  scopes: all\n", "c.yaml:2:11: admin.scopes: expected a list, got \"all\"");
	expect_error("admin:\n  tokenUrl: ftp://x/token\n",
		     "c.yaml:2:13: admin.tokenUrl: bad URL \"ftp://x/token\": must use http or https");
	expect_error("admin:\n  scopes: [all, 'two words']\n",
		     "c.yaml:2:3: admin.scopes[1]: \"two words\" is not a scope (one word, no spaces or "
		     "quotes)");
	expect_error("admin:\n  authorizationHeader: 'flyte authorization'\n",
		     "c.yaml:2:24: admin.authorizationHeader: \"flyte authorization\" is not an HTTP "
		     "header name (letters, digits and -, up to 128)");
	expect_error("admin:\n  clientSecretEnvVar: 'MY-SECRET'\n",
		     "c.yaml:2:23: admin.clientSecretEnvVar: \"MY-SECRET\" is not an environment "
		     "variable name");
	expect_error("admin:\n  clientId: 'a b'\n",
		     "c.yaml:2:13: admin.clientId: must be printable, without spaces, at most 256 bytes");
}

static void test_proxy_password_not_echoed(void **state)
{
	struct loaded l;

	(void)state;
	load(&l, "admin:\n  httpProxyURL: [user:s3cret@proxy]\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "c.yaml:2:17: admin.httpProxyURL: expected a string, got a list"));
	unload(&l);
	load(&l, "admin:\n  httpProxyURL: 's3cret proxy'\n");
	assert_int_equal(l.rc, FA_ECONFIG);
	assert_true(has_line(&l, "c.yaml:2:17: admin.httpProxyURL: expected a URL such as "
			     "http://proxy.example.com:3128"));
	assert_null(strstr(l.err.msg, "s3cret"));
	unload(&l);
}

static void test_external_command_needs_command(void **state)
{
	(void)state;
	expect_error("admin:\n  authType: ExternalCommand\n",
		     "c.yaml:2:13: admin.authType ExternalCommand needs admin.command (the program "
		     "that prints a token, and its arguments)");
	expect_error("admin:\n  authType: ExternalCommand\n  command: ['', x]\n",
		     "c.yaml:3:3: admin.command: the first item (the program) is empty");
}

static void test_bad_endpoint_position(void **state)
{
	(void)state;
	expect_error("admin:\n  endpoint: https://user:pw@flyte.example.com\n",
		     "c.yaml:2:13: admin.endpoint: bad endpoint \"https://user:pw@flyte.example.com\": "
		     "must not contain credentials (user@host); expected dns:///host:port, host:port "
		     "or https://host");
	expect_error("admin:\n  endpoint: grpc://flyte:81\n",
		     "c.yaml:2:13: admin.endpoint: bad endpoint \"grpc://flyte:81\": the scheme must be "
		     "https, http or dns; expected dns:///host:port, host:port or https://host");
}

/* The seed's three "Client configuration" blocks, placeholders filled. */
static void test_seed_examples(void **state)
{
	struct loaded l;

	(void)state;
	load_clean(&l, "admin:\n  authType: Pkce\n");
	assert_int_equal(l.cc->auth_type, FA_CLIENT_AUTH_PKCE);
	unload(&l);
	load_clean(&l, "admin:\n  endpoint: dns:///flyte.example.com\n  authType: ClientSecret\n"
		   "  clientId: flytepropeller #provided by your IdP\n"
		   "  clientSecretLocation: /etc/secrets/client_secret\n");
	assert_int_equal(l.cc->auth_type, FA_CLIENT_AUTH_CLIENT_SECRET);
	assert_string_equal(l.cc->client_id, "flytepropeller");
	unload(&l);
	load_clean(&l, "admin:\n  endpoint: dns:///flyte.example.com\n  authType: DeviceFlow\n"
		   "  clientId: flytectl #provided by your IdP\n");
	assert_int_equal(l.cc->auth_type, FA_CLIENT_AUTH_DEVICE_FLOW);
	unload(&l);
}

static void test_empty_and_null(void **state)
{
	struct loaded l;

	(void)state;
	load_clean(&l, "");
	assert_int_equal(l.cc->auth_type, FA_CLIENT_AUTH_PKCE);
	unload(&l);
	load_clean(&l, "admin:\n  clientSecretLocation:\n  authType: ~\n");
	assert_string_equal(l.cc->client_secret_location, "/etc/secrets/client_secret");
	unload(&l);
}

static void test_file_errors(void **state)
{
	char dir[] = "/tmp/fa-cc-XXXXXX", path[256];
	struct fa_client_config *cc = NULL;
	struct fa_config_diag *d = fa_config_diag_new();
	struct fa_err err;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/missing.yaml", dir);
	assert_int_equal(fa_client_config_load(path, d, &cc, &err), FA_ENOTFOUND);
	assert_null(cc);
	assert_non_null(strstr(err.msg, "cannot read the file: No such file or directory"));
	snprintf(path, sizeof(path), "%s/config.yaml", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("admin:\n  endpoint: flyte.example.com:443\n", fp);
	fclose(fp);
	assert_int_equal(fa_client_config_load(path, d, &cc, &err), FA_OK);
	assert_string_equal(cc->path, path);
	assert_string_equal(cc->endpoint, "flyte.example.com:443");
	fa_client_config_free(cc);
	fp = fopen(path, "w");
	assert_non_null(fp);
	for (int i = 0; i < 1024 * 1024 / 16 + 1; i++)
		fputs("# padding line.\n", fp);
	fclose(fp);
	assert_int_equal(fa_client_config_load(path, d, &cc, &err), FA_ETOOBIG);
	assert_non_null(strstr(err.msg, "file is larger than 1048576 bytes"));
	unlink(path);
	rmdir(dir);
	fa_config_diag_free(d);
}

static void test_yaml_attacks(void **state)
{
	(void)state;
	/* test_billion_laughs: aliases are refused, not expanded. */
	expect_error("a: &a [x, x]\nadmin:\n  scopes: *a\n",
		     "c.yaml:3:11: YAML aliases (*a) are not supported; write the value out");
	expect_error("admin:\n  endpoint: a\n  endpoint: b\n",
		     "c.yaml:3:3: duplicate key \"endpoint\" (first defined at 2:3)");
}

struct ep_case {
	const char *in;
	bool insecure;
	const char *out;
};

static void test_endpoint_forms(void **state)
{
	static const struct ep_case ok[] = {
		{ "dns:///flyte.example.com:443", false, "https://flyte.example.com:443" },
		{ "dns:///localhost:30080", true, "http://localhost:30080" },
		{ "flyte.example.com:443", false, "https://flyte.example.com:443" },
		{ "flyte.example.com", false, "https://flyte.example.com" },
		{ "localhost:8088", true, "http://localhost:8088" },
		{ "https://flyte.example.com", false, "https://flyte.example.com" },
		{ "https://flyte.example.com/", true, "https://flyte.example.com" },
		{ "HTTP://127.0.0.1:8088//", false, "http://127.0.0.1:8088" },
		{ "https://flyte.example.com/flyte/", false, "https://flyte.example.com/flyte" },
		{ "[::1]:8088", true, "http://[::1]:8088" },
	};
	static const struct { const char *in; const char *why; } bad[] = {
		{ "", "the endpoint is empty" },
		{ "flyte .example.com", "contains a space or control character" },
		{ "https://flyte.example.com/?x=1", "must not have a query or fragment" },
		{ "https://u:p@flyte.example.com", "must not contain credentials" },
		{ "ftp://flyte.example.com", "the scheme must be https, http or dns" },
		{ "dns://flyte.example.com:443", "write dns:///host:port (three slashes)" },
		{ "flyte.example.com:99999", "has a bad port" },
		{ "flyte.example.com:", "has a bad port" },
		{ ":443", "has no host" },
		{ "[::g]:1", "has a bad IPv6 address" },
		{ "flyte.example.com/x", "a path needs an explicit https:// or http://" },
		{ "fly$te:1", "has a bad host name" },
	};
	char url[1100], big[1200];
	struct fa_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(fa_client_endpoint_parse(ok[i].in, ok[i].insecure, url, sizeof(url),
							  &err), FA_OK);
		assert_string_equal(url, ok[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(fa_client_endpoint_parse(bad[i].in, false, url, sizeof(url), &err),
				     FA_OK);
		if (!strstr(err.msg, bad[i].why))
			print_message("%s -> %s\n", bad[i].in, err.msg);
		assert_non_null(strstr(err.msg, bad[i].why));
		assert_string_equal(url, "");
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(fa_client_endpoint_parse(big, false, url, sizeof(url), &err), FA_ETOOBIG);
	assert_int_equal(fa_client_endpoint_parse("flyte.example.com", false, url, 10, &err),
			 FA_ETOOBIG);
	assert_string_equal(url, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_auth_type_spellings),
		cmocka_unit_test(test_bad_auth_type),
		cmocka_unit_test(test_keys_case_insensitive),
		cmocka_unit_test(test_flytectl_config_ignored_keys),
		cmocka_unit_test(test_did_you_mean),
		cmocka_unit_test(test_misplaced_key),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_proxy_password_not_echoed),
		cmocka_unit_test(test_external_command_needs_command),
		cmocka_unit_test(test_bad_endpoint_position),
		cmocka_unit_test(test_seed_examples),
		cmocka_unit_test(test_empty_and_null),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_yaml_attacks),
		cmocka_unit_test(test_endpoint_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
