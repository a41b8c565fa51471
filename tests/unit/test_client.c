/* test_client.c -- the client's settings: every FLYTE_CREDENTIALS_* and
 * FLYTE_PLATFORM_* variable with its _FROM_ENV_VAR and _FROM_FILE
 * redirections, in the documented precedence (env > _FROM_ENV_VAR >
 * _FROM_FILE > config file > default); bounds and bad values with the exact
 * error (never echoing a secret); the client secret lookup order; which
 * config file is read; token response parsing; which URLs may receive
 * credentials; form encoding; ExternalCommand; and the hints. */
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

#include "client/client_int.h"

static const char *const vars[] = {
	"FLYTE_PLATFORM_URL", "FLYTE_PLATFORM_INSECURE", "FLYTE_PLATFORM_AUTH",
	"FLYTE_CREDENTIALS_AUTH_MODE", "FLYTE_CREDENTIALS_CLIENT_ID",
	"FLYTE_CREDENTIALS_CLIENT_SECRET", "FLYTE_CREDENTIALS_OAUTH_SCOPES",
	"FLYTE_CREDENTIALS_AUTHORIZATION_METADATA_KEY",
};

static char tmpdir[64];

static void clear_env(void)
{
	char name[128];

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		unsetenv(vars[i]);
		snprintf(name, sizeof(name), "%s_FROM_ENV_VAR", vars[i]);
		unsetenv(name);
		snprintf(name, sizeof(name), "%s_FROM_FILE", vars[i]);
		unsetenv(name);
	}
	unsetenv("FLYTECTL_CONFIG");
	unsetenv("OTHER_VAR");
	unsetenv("MY_CI_SECRET");
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fa-client-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	setenv("HOME", tmpdir, 1);
	setenv("XDG_CACHE_HOME", tmpdir, 1);
	clear_env();
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	clear_env();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text, char *path, size_t cap)
{
	FILE *fp;

	snprintf(path, cap, "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static struct fa_client_config *cfg_from(const char *yaml)
{
	struct fa_client_config *cc = NULL;
	struct fa_err err;

	assert_int_equal(fa_client_config_load_buffer("c.yaml", yaml, strlen(yaml), NULL, &cc, &err),
			 FA_OK);
	return cc;
}

/* ---- precedence ------------------------------------------------------------------------- */

struct layer_case {
	const char *var;
	const char *cfg_line;       /* the admin key for the config layer (NULL: none) */
	const char *file, *redir, *direct;   /* the three environment layers */
	const char *want_default, *want_cfg, *want_file, *want_redir, *want_direct;
};

/* One setting as a string, whichever field it lands in. */
static void observe(const char *var, const struct fa_client_config *cc, char *out, size_t cap)
{
	struct cl_settings s;
	struct fa_err err;

	if (!strcmp(var, "FLYTE_CREDENTIALS_CLIENT_SECRET")) {
		char *secret = NULL;
		if (cl_client_secret(cc, &secret, &err) == FA_OK)
			snprintf(out, cap, "%s", secret);
		else
			snprintf(out, cap, "error");
		fa_free_secret(secret);
		return;
	}
	assert_int_equal(cl_settings_resolve(cc, &s, &err), FA_OK);
	if (!strcmp(var, "FLYTE_PLATFORM_URL") || !strcmp(var, "FLYTE_PLATFORM_INSECURE"))
		assert_true(snprintf(out, cap, "%s", s.base_url) < (int)cap);
	else if (!strcmp(var, "FLYTE_PLATFORM_AUTH"))
		snprintf(out, cap, "%s", s.platform_auth ? "yes" : "no");
	else if (!strcmp(var, "FLYTE_CREDENTIALS_AUTH_MODE"))
		snprintf(out, cap, "%s", fa_client_auth_type_str(s.auth_type));
	else if (!strcmp(var, "FLYTE_CREDENTIALS_CLIENT_ID"))
		snprintf(out, cap, "%s", s.client_id);
	else if (!strcmp(var, "FLYTE_CREDENTIALS_AUTHORIZATION_METADATA_KEY"))
		snprintf(out, cap, "%s", s.header);
	else if (!strcmp(var, "FLYTE_CREDENTIALS_OAUTH_SCOPES")) {
		size_t o = 0;
		out[0] = '\0';
		for (size_t i = 0; i < s.n_scopes; i++)
			o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "," : "", s.scopes[i]);
	}
	cl_settings_cleanup(&s);
}

static void test_env_precedence(void **state)
{
	static const struct layer_case cases[] = {
		{ "FLYTE_PLATFORM_URL", "endpoint: cfg.example.com", " file.example.com \n",
		  "redir.example.com", "env.example.com",
		  "", "https://cfg.example.com", "https://file.example.com",
		  "https://redir.example.com", "https://env.example.com" },
		{ "FLYTE_PLATFORM_INSECURE", "insecure: true", "false\n", "true", "false",
		  "https://x.example.com", "http://x.example.com", "https://x.example.com",
		  "http://x.example.com", "https://x.example.com" },
		{ "FLYTE_PLATFORM_AUTH", NULL, "True\n", "false", "1",
		  "no", "no", "yes", "no", "yes" },
		{ "FLYTE_CREDENTIALS_AUTH_MODE", "authType: DeviceFlow", "basic\n", "standard",
		  "client_credentials",
		  "Pkce", "DeviceFlow", "ClientSecret", "Pkce", "ClientSecret" },
		{ "FLYTE_CREDENTIALS_CLIENT_ID", "clientId: from-config", "from-file\n", "from-redir",
		  "from-env",
		  "", "from-config", "from-file", "from-redir", "from-env" },
		{ "FLYTE_CREDENTIALS_CLIENT_SECRET", "clientSecretEnvVar: MY_CI_SECRET",
		  "  file-secret\n\n", "redir-secret", "env-secret",
		  "error", "cfg-secret", "file-secret", "redir-secret", "env-secret" },
		{ "FLYTE_CREDENTIALS_OAUTH_SCOPES", "scopes: [cfg1, cfg2]", "f1,f2\n", "r1 r2, r3",
		  "all",
		  "", "cfg1,cfg2", "f1,f2", "r1,r2,r3", "all" },
		{ "FLYTE_CREDENTIALS_AUTHORIZATION_METADATA_KEY", "authorizationHeader: cfg-header",
		  "file-header\n", "redir-header", "env-header",
		  "", "cfg-header", "file-header", "redir-header", "env-header" },
	};
	char yaml[256], path[256], redir[160], got[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct layer_case *k = &cases[i];
		struct fa_client_config *cc;
		const char *endpoint = strcmp(k->var, "FLYTE_PLATFORM_URL") ? "  endpoint: x.example.com\n" : "";

		clear_env();
		print_message("  %s\n", k->var);
		/* default (for the URL itself: none, checked in test_no_endpoint) */
		snprintf(yaml, sizeof(yaml), "admin:\n%s", *endpoint ? endpoint : "  endpoint: ''\n");
		if (strcmp(k->var, "FLYTE_PLATFORM_URL")) {
			cc = cfg_from(yaml);
			if (!strcmp(k->var, "FLYTE_CREDENTIALS_CLIENT_SECRET"))
				cc->client_secret_location = (char *)"/nonexistent/secret";
			observe(k->var, cc, got, sizeof(got));
			assert_string_equal(got, k->want_default);
			fa_client_config_free(cc);
		}
		/* config file */
		setenv("MY_CI_SECRET", "cfg-secret", 1);
		snprintf(yaml, sizeof(yaml), "admin:\n%s%s%s%s", endpoint, k->cfg_line ? "  " : "",
			 k->cfg_line ? k->cfg_line : "", k->cfg_line ? "\n" : "");
		cc = cfg_from(yaml);
		if (!*endpoint && !k->cfg_line)
			cc->endpoint = (char *)"x.example.com";
		observe(k->var, cc, got, sizeof(got));
		assert_string_equal(got, k->want_cfg);
		/* _FROM_FILE beats the file */
		write_file("value.txt", k->file, path, sizeof(path));
		snprintf(redir, sizeof(redir), "%s_FROM_FILE", k->var);
		setenv(redir, path, 1);
		observe(k->var, cc, got, sizeof(got));
		assert_string_equal(got, k->want_file);
		/* _FROM_ENV_VAR beats _FROM_FILE */
		setenv("OTHER_VAR", k->redir, 1);
		snprintf(redir, sizeof(redir), "%s_FROM_ENV_VAR", k->var);
		setenv(redir, "OTHER_VAR", 1);
		observe(k->var, cc, got, sizeof(got));
		assert_string_equal(got, k->want_redir);
		/* the variable beats everything; an empty one counts as unset */
		setenv(k->var, "", 1);
		observe(k->var, cc, got, sizeof(got));
		assert_string_equal(got, k->want_redir);
		setenv(k->var, k->direct, 1);
		observe(k->var, cc, got, sizeof(got));
		assert_string_equal(got, k->want_direct);
		fa_client_config_free(cc);
		unlink(path);
	}
	clear_env();
}

static void test_sources_are_named(void **state)
{
	struct fa_client_config *cc = cfg_from("admin:\n  endpoint: cfg.example.com\n"
					       "  clientId: abc\n");
	struct cl_settings s;
	struct fa_err err;
	char path[256];

	(void)state;
	assert_int_equal(cl_settings_resolve(cc, &s, &err), FA_OK);
	assert_string_equal(s.endpoint_src, "admin.endpoint (c.yaml:2:13)");
	assert_string_equal(s.client_id_src, "admin.clientId (c.yaml:3:13)");
	assert_string_equal(s.auth_type_src, "admin.authType (the default)");
	cl_settings_cleanup(&s);
	write_file("url", "env.example.com", path, sizeof(path));
	setenv("FLYTE_PLATFORM_URL_FROM_FILE", path, 1);
	setenv("OTHER_VAR", "abc", 1);
	setenv("FLYTE_CREDENTIALS_CLIENT_ID_FROM_ENV_VAR", "OTHER_VAR", 1);
	assert_int_equal(cl_settings_resolve(cc, &s, &err), FA_OK);
	assert_non_null(strstr(s.endpoint_src, "FLYTE_PLATFORM_URL_FROM_FILE ("));
	assert_string_equal(s.client_id_src, "FLYTE_CREDENTIALS_CLIENT_ID_FROM_ENV_VAR=OTHER_VAR");
	cl_settings_cleanup(&s);
	fa_client_config_free(cc);
	clear_env();
}

/* ---- rejections --------------------------------------------------------------------------- */

static void expect_resolve_error(const char *msg)
{
	struct fa_client_config *cc = cfg_from("admin:\n  endpoint: x.example.com\n");
	struct cl_settings s;
	struct fa_err err;

	assert_int_equal(cl_settings_resolve(cc, &s, &err), FA_ECONFIG);
	if (!strstr(err.msg, msg))
		print_message("got: %s\n", err.msg);
	assert_non_null(strstr(err.msg, msg));
	assert_int_equal(err.rc, FA_ECONFIG);
	assert_null(s.client_id);
	fa_client_config_free(cc);
	clear_env();
}

static void test_redirect_to_unset_variable(void **state)
{
	(void)state;
	setenv("FLYTE_CREDENTIALS_CLIENT_ID_FROM_ENV_VAR", "NOT_SET_ANYWHERE", 1);
	expect_resolve_error("FLYTE_CREDENTIALS_CLIENT_ID_FROM_ENV_VAR names NOT_SET_ANYWHERE, "
			     "which is not set");
}

static void test_redirect_to_missing_file(void **state)
{
	(void)state;
	setenv("FLYTE_PLATFORM_URL_FROM_FILE", "/nonexistent/url.txt", 1);
	expect_resolve_error("FLYTE_PLATFORM_URL_FROM_FILE: cannot read /nonexistent/url.txt: No "
			     "such file or directory");
}

static void test_redirect_to_empty_file(void **state)
{
	char path[256];

	(void)state;
	write_file("empty", " \n\n", path, sizeof(path));
	setenv("FLYTE_CREDENTIALS_CLIENT_ID_FROM_FILE", path, 1);
	expect_resolve_error("is empty");
	unlink(path);
}

static void test_value_too_long(void **state)
{
	char big[400], path[256];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	setenv("FLYTE_CREDENTIALS_CLIENT_ID", big, 1);
	expect_resolve_error("FLYTE_CREDENTIALS_CLIENT_ID is longer than 256 bytes");
	write_file("big", big, path, sizeof(path));
	setenv("FLYTE_CREDENTIALS_AUTHORIZATION_METADATA_KEY_FROM_FILE", path, 1);
	expect_resolve_error("holds more than 128 bytes");
	unlink(path);
}

static void test_bad_values_named(void **state)
{
	(void)state;
	setenv("FLYTE_PLATFORM_INSECURE", "maybe", 1);
	expect_resolve_error("FLYTE_PLATFORM_INSECURE: expected true or false");
	setenv("FLYTE_PLATFORM_AUTH", "sometimes", 1);
	expect_resolve_error("FLYTE_PLATFORM_AUTH: expected true or false");
	setenv("FLYTE_CREDENTIALS_AUTH_MODE", "password", 1);
	expect_resolve_error("FLYTE_CREDENTIALS_AUTH_MODE: bad auth type \"password\"");
	setenv("FLYTE_PLATFORM_URL", "ftp://x", 1);
	expect_resolve_error("FLYTE_PLATFORM_URL: bad endpoint \"ftp://x\": the scheme must be");
	setenv("FLYTE_CREDENTIALS_AUTHORIZATION_METADATA_KEY", "bad header", 1);
	expect_resolve_error("FLYTE_CREDENTIALS_AUTHORIZATION_METADATA_KEY: not an HTTP header name");
	setenv("FLYTE_CREDENTIALS_CLIENT_ID", "two words", 1);
	expect_resolve_error("FLYTE_CREDENTIALS_CLIENT_ID: a client id has no spaces");
	setenv("FLYTE_CREDENTIALS_OAUTH_SCOPES", "all,\"x\"", 1);
	expect_resolve_error("FLYTE_CREDENTIALS_OAUTH_SCOPES: a scope may not contain quotes");
}

/* test_secret_not_echoed: every rejection of a secret names the variable,
 * never the value. */
static void test_secret_not_echoed(void **state)
{
	struct fa_client_config *cc = cfg_from("admin:\n  endpoint: x.example.com\n");
	struct fa_err err;
	char *secret = NULL, big[400];

	(void)state;
	setenv("FLYTE_CREDENTIALS_CLIENT_SECRET", "hunter2\x01hunter2", 1);
	assert_int_equal(cl_client_secret(cc, &secret, &err), FA_ECONFIG);
	assert_null(secret);
	assert_string_equal(err.msg, "FLYTE_CREDENTIALS_CLIENT_SECRET contains a control character");
	memset(big, 's', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	setenv("FLYTE_CREDENTIALS_CLIENT_SECRET", big, 1);
	assert_int_equal(cl_client_secret(cc, &secret, &err), FA_ECONFIG);
	assert_string_equal(err.msg, "FLYTE_CREDENTIALS_CLIENT_SECRET is longer than 256 bytes");
	assert_null(strstr(err.msg, "sss"));
	fa_client_config_free(cc);
	clear_env();
}

static void test_client_secret_order(void **state)
{
	struct fa_client_config *cc;
	struct fa_err err;
	char *secret = NULL, path[256], yaml[512];

	(void)state;
	write_file("client_secret", "  from-location \n", path, sizeof(path));
	snprintf(yaml, sizeof(yaml), "admin:\n  endpoint: x.example.com\n"
		 "  clientSecretLocation: %s\n", path);
	cc = cfg_from(yaml);
	assert_int_equal(cl_client_secret(cc, &secret, &err), FA_OK);
	assert_string_equal(secret, "from-location");
	fa_free_secret(secret);
	fa_client_config_free(cc);

	snprintf(yaml, sizeof(yaml), "admin:\n  endpoint: x.example.com\n"
		 "  clientSecretLocation: %s\n  clientSecretEnvVar: MY_CI_SECRET\n", path);
	cc = cfg_from(yaml);
	assert_int_equal(cl_client_secret(cc, &secret, &err), FA_ECONFIG);
	assert_string_equal(err.msg, "admin.clientSecretEnvVar (config line 4) names MY_CI_SECRET, "
			    "which is not set");
	setenv("MY_CI_SECRET", "from-env-var", 1);
	assert_int_equal(cl_client_secret(cc, &secret, &err), FA_OK);
	assert_string_equal(secret, "from-env-var");
	fa_free_secret(secret);
	setenv("FLYTE_CREDENTIALS_CLIENT_SECRET", "from-flytekit", 1);
	assert_int_equal(cl_client_secret(cc, &secret, &err), FA_OK);
	assert_string_equal(secret, "from-flytekit");
	fa_free_secret(secret);
	fa_client_config_free(cc);
	unlink(path);
	clear_env();

	/* The default location, missing. */
	cc = cfg_from("admin:\n  endpoint: x.example.com\n");
	cc->client_secret_location = (char *)"/nonexistent/client_secret";
	assert_int_equal(cl_client_secret(cc, &secret, &err), FA_ECONFIG);
	assert_non_null(strstr(err.msg, "no client secret: cannot read /nonexistent/client_secret: "
			       "No such file or directory (admin.clientSecretLocation, the default)"));
	fa_client_config_free(cc);
}

static void test_no_endpoint(void **state)
{
	struct fa_client_config *cc = cfg_from("admin: {}\n");
	struct cl_settings s;
	struct fa_err err;

	(void)state;
	assert_int_equal(cl_settings_resolve(cc, &s, &err), FA_ECONFIG);
	assert_string_equal(err.msg, "no endpoint: set admin.endpoint in the config file or "
			    "FLYTE_PLATFORM_URL");
	fa_client_config_free(cc);
	/* ExternalCommand needs none. */
	cc = cfg_from("admin: {authType: ExternalCommand, command: [echo, t]}\n");
	assert_int_equal(cl_settings_resolve(cc, &s, &err), FA_OK);
	assert_string_equal(s.base_url, "");
	cl_settings_cleanup(&s);
	fa_client_config_free(cc);
}

/* ---- which config file ----------------------------------------------------------------------- */

static void test_config_file_choice(void **state)
{
	struct fa_client_opts o;
	struct fa_client *c = NULL;
	struct fa_err err;
	char path[256], dir[256], flytectl[256];

	(void)state;
	memset(&o, 0, sizeof(o));
	/* No file anywhere: the environment alone. */
	setenv("FLYTE_PLATFORM_URL", "env.example.com", 1);
	assert_int_equal(fa_client_new(&o, &c, &err), FA_OK);
	assert_string_equal(fa_client_endpoint(c), "https://env.example.com");
	assert_int_equal(fa_client_auth_type(c), FA_CLIENT_AUTH_PKCE);
	assert_string_equal(fa_client_header_name(c), "authorization");
	fa_client_free(c);
	unsetenv("FLYTE_PLATFORM_URL");
	/* ~/.flyte/config.yaml */
	snprintf(dir, sizeof(dir), "%s/.flyte", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	write_file(".flyte/config.yaml", "admin: {endpoint: home.example.com}\n", path, sizeof(path));
	assert_int_equal(fa_client_new(&o, &c, &err), FA_OK);
	assert_string_equal(fa_client_endpoint(c), "https://home.example.com");
	fa_client_free(c);
	/* $FLYTECTL_CONFIG beats it */
	write_file("flytectl.yaml", "admin: {endpoint: 'dns:///ctl.example.com:443'}\n", flytectl,
		   sizeof(flytectl));
	setenv("FLYTECTL_CONFIG", flytectl, 1);
	assert_int_equal(fa_client_new(&o, &c, &err), FA_OK);
	assert_string_equal(fa_client_endpoint(c), "https://ctl.example.com:443");
	fa_client_free(c);
	/* --config beats both, and must exist */
	o.config_path = "/nonexistent/config.yaml";
	assert_int_equal(fa_client_new(&o, &c, &err), FA_ENOTFOUND);
	assert_null(c);
	assert_string_equal(err.msg, "/nonexistent/config.yaml: cannot read the file: No such file "
			    "or directory");
	o.config_path = path;
	assert_int_equal(fa_client_new(&o, &c, &err), FA_OK);
	assert_string_equal(fa_client_endpoint(c), "https://home.example.com");
	fa_client_free(c);
	/* A named $FLYTECTL_CONFIG must exist too. */
	o.config_path = NULL;
	setenv("FLYTECTL_CONFIG", "/nonexistent/flytectl.yaml", 1);
	assert_int_equal(fa_client_new(&o, &c, &err), FA_ENOTFOUND);
	/* A bad file is refused with its line. */
	write_file("bad.yaml", "admin:\n  endpont: x\n", path, sizeof(path));
	o.config_path = path;
	assert_int_equal(fa_client_new(&o, &c, &err), FA_ECONFIG);
	assert_non_null(strstr(err.msg, "bad.yaml:2:3: unknown key \"endpont\" in admin"));
	clear_env();
	unlink(flytectl);
	snprintf(path, sizeof(path), "%s/.flyte/config.yaml", tmpdir);
	unlink(path);
	rmdir(dir);
	fa_client_free(NULL);
}

/* ---- tokens ------------------------------------------------------------------------------------ */

static json_t *js(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	return j;
}

/* A JWT-shaped token with the given payload (signature irrelevant). */
static char *fake_jwt(const char *payload)
{
	char *p = fa_b64_encode_dup(payload, strlen(payload), FA_B64_URL | FA_B64_NOPAD);
	size_t n = strlen(p) + 64;
	char *t = malloc(n);

	assert_non_null(t);
	snprintf(t, n, "eyJhbGciOiJSUzI1NiJ9.%s.c2ln", p);
	free(p);
	return t;
}

static void test_token_parse(void **state)
{
	struct cl_token t;
	struct fa_err err;
	json_t *j;
	char *jwt, text[512];

	(void)state;
	cl_token_init(&t);
	j = js("{\"access_token\":\"abc.def\",\"token_type\":\"bearer\",\"expires_in\":600,"
	       "\"refresh_token\":\"r1\",\"scope\":\"all offline\"}");
	assert_int_equal(cl_token_parse(j, 1000, &t, &err), FA_OK);
	assert_string_equal(t.access_token, "abc.def");
	assert_string_equal(t.refresh_token, "r1");
	assert_string_equal(t.scope, "all offline");
	assert_true(t.expires_at == 1600 && t.obtained_at == 1000);
	json_decref(j);
	/* Entra ID v1 writes expires_in as a string. */
	j = js("{\"access_token\":\"x\",\"expires_in\":\"3599\"}");
	assert_int_equal(cl_token_parse(j, 1000, &t, &err), FA_OK);
	assert_true(t.expires_at == 4599);
	assert_string_equal(t.refresh_token, "");
	json_decref(j);
	/* A JWT's exp wins when it is earlier. */
	jwt = fake_jwt("{\"sub\":\"a\",\"exp\":1300}");
	snprintf(text, sizeof(text), "{\"access_token\":\"%s\",\"expires_in\":3600}", jwt);
	j = js(text);
	assert_int_equal(cl_token_parse(j, 1000, &t, &err), FA_OK);
	assert_true(t.expires_at == 1300);
	json_decref(j);
	free(jwt);
	/* Neither: an hour. */
	j = js("{\"access_token\":\"opaque\"}");
	assert_int_equal(cl_token_parse(j, 1000, &t, &err), FA_OK);
	assert_true(t.expires_at == 4600);
	json_decref(j);
	cl_token_cleanup(&t);

	j = js("{\"token_type\":\"bearer\"}");
	assert_int_equal(cl_token_parse(j, 1000, &t, &err), FA_ENET);
	assert_string_equal(err.msg, "token response has no access_token");
	json_decref(j);
	j = js("{\"access_token\":\"x\",\"token_type\":\"mac\"}");
	assert_int_equal(cl_token_parse(j, 1000, &t, &err), FA_EUNSUPPORTED);
	assert_string_equal(err.msg, "token type \"mac\" is not supported (only Bearer)");
	json_decref(j);
	j = js("{\"access_token\":\"two words\"}");
	assert_int_equal(cl_token_parse(j, 1000, &t, &err), FA_ENET);
	assert_string_equal(err.msg, "token response: bad \"access_token\"");
	json_decref(j);
	j = js("{\"access_token\":\"x\",\"expires_in\":-5}");
	assert_int_equal(cl_token_parse(j, 1000, &t, &err), FA_ENET);
	assert_string_equal(err.msg, "token response: bad \"expires_in\"");
	json_decref(j);
	cl_token_cleanup(&t);
}

static struct fa_client *client_for(const char *endpoint)
{
	struct fa_client_opts o;
	struct fa_client *c = NULL;
	struct fa_err err;

	memset(&o, 0, sizeof(o));
	setenv("FLYTE_PLATFORM_URL", endpoint, 1);
	setenv("FLYTE_PLATFORM_INSECURE", "true", 1);
	assert_int_equal(fa_client_new(&o, &c, &err), FA_OK);
	clear_env();
	return c;
}

/* test_credentials_downgrade: a server cannot point the client's secrets
 * at plain http (unless the operator chose http, or nothing leaves the
 * machine). */
static void test_credentials_downgrade(void **state)
{
	struct fa_client *c = client_for("https://flyte.example.com");

	(void)state;
	assert_true(cl_url_acceptable(c, "https://idp.example.com/token"));
	assert_false(cl_url_acceptable(c, "http://idp.example.com/token"));
	assert_true(cl_url_acceptable(c, "http://localhost:8080/token"));
	assert_true(cl_url_acceptable(c, "http://127.0.0.1/token"));
	assert_true(cl_url_acceptable(c, "http://[::1]:9/token"));
	assert_false(cl_url_acceptable(c, "http://localhost.evil.com/token"));
	/* The one loopback predicate (base): all of 127/8 is this machine, a
	 * host name that merely starts with "127." is not (it was taken for
	 * loopback here before, letting plain http reach another host). */
	assert_true(cl_url_acceptable(c, "http://127.0.0.2:8080/token"));
	assert_false(cl_url_acceptable(c, "http://127.0.0.1.evil.com/token"));
	assert_false(cl_url_acceptable(c, "http://127.evil.com/token"));
	assert_false(cl_url_acceptable(c, "https://user:pw@idp.example.com/token"));
	assert_false(cl_url_acceptable(c, "ftp://idp.example.com/token"));
	assert_false(cl_url_acceptable(c, "https://idp.example.com/to ken"));
	assert_false(cl_url_acceptable(c, ""));
	fa_client_free(c);
	c = client_for("flyte.example.com:80");
	assert_true(cl_url_acceptable(c, "http://idp.example.com/token"));
	fa_client_free(c);
}

/* A server's answer is network input: nesting is bounded as for every
 * JSON document (it was parsed with jansson's 2048-level limit before). */
static void test_answer_json_bounded(void **state)
{
	struct fa_remote_resp resp = { .status = 200 };
	struct fa_err err;
	json_t *j = NULL;
	char doc[64], twice[] = "{\"a\":1,\"a\":2}", fine[] = "{\"a\":[1]}";

	(void)state;
	memcpy(doc, "{\"a\":", 5);
	memset(doc + 5, '[', 40);
	memcpy(doc + 45, "{}", 3);
	resp.body = doc;
	resp.len = strlen(doc);
	assert_int_equal(cl_resp_json(&resp, "token answer", &j, &err), FA_ENET);
	assert_null(j);
	assert_string_equal(err.msg, "token answer: the answer nests deeper than 16 levels (HTTP 200)");
	resp.body = twice;
	resp.len = strlen(twice);
	assert_int_equal(cl_resp_json(&resp, "token answer", &j, &err), FA_ENET);
	resp.body = fine;
	resp.len = strlen(fine);
	assert_int_equal(cl_resp_json(&resp, "token answer", &j, &err), FA_OK);
	assert_true(json_is_array(json_object_get(j, "a")));
	json_decref(j);
}

static void test_form_encoding(void **state)
{
	struct fa_buf b;
	char out[64];

	(void)state;
	fa_buf_init(&b, 256);
	assert_int_equal(fa_remote_form_add(&b, "grant_type", "client_credentials"), FA_OK);
	assert_int_equal(fa_remote_form_add(&b, "scope", "all offline"), FA_OK);
	assert_int_equal(fa_remote_form_add(&b, "x", "a+b&c=d/é~"), FA_OK);
	assert_string_equal(b.data, "grant_type=client_credentials&scope=all%20offline&"
			    "x=a%2Bb%26c%3Dd%2F%C3%A9~");
	fa_buf_cleanup(&b);
	fa_buf_init(&b, 8);
	assert_int_equal(fa_remote_form_add(&b, "toolong", "value"), FA_ETOOBIG);
	fa_buf_cleanup(&b);
	cl_sanitize("bad\x1b[31m\nnews\x7f", out, sizeof(out));
	assert_string_equal(out, "bad?[31m?news?");
	cl_sanitize("abcdef", out, 4);
	assert_string_equal(out, "abc");
}

static struct fa_client_config *ext_cfg;

static struct fa_client *external(const char *command)
{
	struct fa_client_opts o;
	struct fa_client *c = NULL;
	struct fa_err err;
	char yaml[512];

	memset(&o, 0, sizeof(o));
	snprintf(yaml, sizeof(yaml), "admin:\n  authType: ExternalCommand\n  command: %s\n", command);
	ext_cfg = cfg_from(yaml);
	o.config = ext_cfg;
	assert_int_equal(fa_client_new(&o, &c, &err), FA_OK);
	return c;
}

static void free_external(struct fa_client *c)
{
	fa_client_free(c);
	fa_client_config_free(ext_cfg);
	ext_cfg = NULL;
}

static void test_external_command(void **state)
{
	struct fa_client *c;
	struct fa_err err;
	char *tok = NULL;

	(void)state;
	c = external("[/bin/sh, -c, \"printf '  tok.123 \\\\n'\"]");
	assert_int_equal(fa_client_token(c, &tok, &err), FA_OK);
	assert_string_equal(tok, "tok.123");
	fa_free_secret(tok);
	assert_int_equal(fa_client_logout(c, &err), FA_ENOTFOUND);
	free_external(c);

	c = external("[/bin/sh, -c, 'exit 3']");
	assert_int_equal(fa_client_token(c, &tok, &err), FA_EDENIED);
	assert_string_equal(err.msg, "admin.command (/bin/sh) failed (exit status 3)");
	assert_null(tok);
	free_external(c);

	c = external("[/bin/sh, -c, 'echo two words']");
	assert_int_equal(fa_client_token(c, &tok, &err), FA_EINVAL);
	assert_string_equal(err.msg, "admin.command (/bin/sh) did not print a token (one word of "
			    "printable characters)");
	free_external(c);

	c = external("[/nonexistent/program]");
	assert_int_equal(fa_client_token(c, &tok, &err), FA_EDENIED);
	assert_string_equal(err.msg, "admin.command (/nonexistent/program) failed (exit status 127)");
	free_external(c);
}

static const char *hint(enum fa_rc rc, const char *oauth_error)
{
	struct fa_err err;

	fa_err_clear(&err);
	err.rc = rc;
	err.oauth_error = oauth_error;
	return fa_client_hint(NULL, &err);
}

static void test_hints(void **state)
{
	(void)state;
	assert_string_equal(hint(FA_ENOTFOUND, NULL), "run `flyteauth login` (on a terminal) first");
	assert_non_null(strstr(hint(FA_ENET, NULL), "admin.endpoint"));
	assert_non_null(strstr(hint(FA_EUNSUPPORTED, NULL), "admin.authType"));
	assert_string_equal(hint(FA_EDENIED, NULL), "run `flyteauth login` again");
	assert_non_null(strstr(hint(FA_EDENIED, "invalid_scope"), "check admin.scopes"));
	assert_non_null(strstr(hint(FA_EDENIED, "unauthorized_client"), "may not use this flow"));
	assert_string_equal(fa_client_hint(NULL, NULL), "see the message above");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_precedence),
		cmocka_unit_test(test_sources_are_named),
		cmocka_unit_test(test_redirect_to_unset_variable),
		cmocka_unit_test(test_redirect_to_missing_file),
		cmocka_unit_test(test_redirect_to_empty_file),
		cmocka_unit_test(test_value_too_long),
		cmocka_unit_test(test_bad_values_named),
		cmocka_unit_test(test_secret_not_echoed),
		cmocka_unit_test(test_client_secret_order),
		cmocka_unit_test(test_no_endpoint),
		cmocka_unit_test(test_config_file_choice),
		cmocka_unit_test(test_token_parse),
		cmocka_unit_test(test_credentials_downgrade),
		cmocka_unit_test(test_answer_json_bounded),
		cmocka_unit_test(test_form_encoding),
		cmocka_unit_test(test_external_command),
		cmocka_unit_test(test_hints),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
