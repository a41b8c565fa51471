/* test_authz_fixture.h -- the fixture the authz unit tests share: a real
 * SQLite store in a mkdtemp() directory, a config loaded from YAML with real
 * bcrypt hashes (cost 4, for speed), a fresh ES256 signing key, a fake clock,
 * and the struct fa_authz built on them (without browser logins: the unit
 * tests drive the grant logic directly; the browser flow is covered by the
 * black-box tests against the real binary). Logs go to a memory stream so
 * tests can assert that no token or secret ever reaches a log line.
 */
#ifndef TEST_AUTHZ_FIXTURE_H
#define TEST_AUTHZ_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authz/authz_ep_int.h"
#include "fa_test.h"

/* ---- fixture ------------------------------------------------------------- */

#define WEB_SECRET "s3cr3t web+%:/x"
#define PROP_SECRET "propeller-secret"
#define ISSUER "https://flyte.example.com"
#define CHALLENGE_VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

struct afx {
	char dir[64];
	char path[128];
	struct fa_store *st;
	struct fa_config *cfg;
	struct fa_jwk *key;
	struct fa_jwks *jwks;
	struct fa_authz *az;
	int64_t now_ms;
	char *logbuf;
	size_t loglen;
	FILE *logfp;
	struct fa_log log;
	char *generated;
};

static inline int64_t afx_clock(void *arg)
{
	return ((struct afx *)arg)->now_ms;
}

static inline char *afx_hash(const char *secret)
{
	char b64[FA_BCRYPT_B64_LEN + 1];
	char raw[FA_BCRYPT_LEN + 1];
	struct fa_err err;

	assert_int_equal(fa_secret_hash(secret, strlen(secret), 4, b64, raw, &err), FA_OK);
	return strdup(b64);
}

/* The default test config: a public CLI, a confidential web app with an
 * audience list, a machine client, and a client without offline scope. */
static inline char *afx_yaml(bool with_clients)
{
	char *web = afx_hash(WEB_SECRET), *prop = afx_hash(PROP_SECRET);
	char *y = malloc(8192);

	assert_non_null(y);
	if (!with_clients) {
		snprintf(y, 8192,
			 "server: {httpPort: 8088, security: {insecureCookieHeader: true}}\n"
			 "auth:\n"
			 "  authorizedUris: [" ISSUER "]\n"
			 "  appAuth:\n"
			 "    selfAuthServer:\n"
			 "      issuer: " ISSUER "/\n");
	} else {
		snprintf(y, 8192,
			 "server: {httpPort: 8088, security: {insecureCookieHeader: true}}\n"
			 "auth:\n"
			 "  authorizedUris: [" ISSUER ", http://flyteadmin:80]\n"
			 "  appAuth:\n"
			 "    selfAuthServer:\n"
			 "      issuer: " ISSUER "/\n"
			 "      accessTokenLifespan: 30m\n"
			 "      refreshTokenLifespan: 1h\n"
			 "      authorizationCodeLifespan: 5m\n"
			 "      staticClients:\n"
			 "        flytectl:\n"
			 "          id: flytectl\n"
			 "          redirect_uris: [http://localhost:53593/callback, https://cli.example.com/cb?x=1]\n"
			 "          grant_types: [authorization_code, refresh_token]\n"
			 "          response_types: [code]\n"
			 "          scopes: [all, offline, access_token]\n"
			 "          public: true\n"
			 "        web:\n"
			 "          id: web\n"
			 "          client_secret: \"%s\"\n"
			 "          redirect_uris: [https://app.example.com/cb]\n"
			 "          grant_types: [authorization_code, refresh_token, client_credentials]\n"
			 "          response_types: [code]\n"
			 "          scopes: [all, offline, read]\n"
			 "          audience: [https://api.example.com]\n"
			 "          post_logout_redirect_uris: [https://app.example.com/bye]\n"
			 "          public: false\n"
			 "        flytepropeller:\n"
			 "          id: flytepropeller\n"
			 "          client_secret: \"%s\"\n"
			 "          redirect_uris: [http://localhost:3846/callback]\n"
			 "          grant_types: [refresh_token, client_credentials]\n"
			 "          response_types: [token]\n"
			 "          scopes: [all, offline, access_token]\n"
			 "          public: false\n"
			 "        shortlived:\n"
			 "          id: shortlived\n"
			 "          redirect_uris: [http://127.0.0.1:9999/cb]\n"
			 "          grant_types: [authorization_code]\n"
			 "          response_types: [code]\n"
			 "          scopes: [all, offline]\n"
			 "          public: true\n",
			 web, prop);
	}
	free(web);
	free(prop);
	return y;
}

static inline struct fa_authz *afx_authz(struct afx *f, char **generated, struct fa_err *err)
{
	char issuer[FA_MAX_URL + 1];
	struct fa_authz_opts o = {
		.cfg = f->cfg, .store = f->st, .log = &f->log, .signing_key = f->key,
		.verify_keys = f->jwks, .issuer = issuer, .generated_secret = generated,
	};
	struct fa_authz *az;

	/* As serve does: the one normalised issuer of the config. */
	assert_int_equal(fa_config_issuer(f->cfg, 8088, issuer, sizeof(issuer)), FA_OK);
	az = fa_authz_new(&o, err);

	if (az)
		fa_authz_set_clock(az, afx_clock, f);
	return az;
}

/* The fixture over a config (YAML text), with the clock at now_ms. */
static inline struct afx *afx_new_yaml(const char *yaml, int64_t now_ms)
{
	struct afx *f = calloc(1, sizeof(*f));
	struct fa_err err;

	assert_non_null(f);
	fa_test_tmpdir(f->dir, sizeof(f->dir), "test_authz");
	snprintf(f->path, sizeof(f->path), "%s/flyteauth.db", f->dir);
	f->logfp = fa_test_log_open(&f->log, &f->logbuf, &f->loglen);
	f->st = fa_test_store_open(f->path, &f->log);
	fa_err_clear(&err);
	if (fa_config_load_buffer("test.yaml", yaml, strlen(yaml), NULL, &f->cfg, &err) != FA_OK)
		fail_msg("config: %s", err.msg);
	assert_int_equal(fa_jwk_generate("ES256", &f->key, &err), FA_OK);
	assert_int_equal(fa_jwks_new(&f->jwks, &err), FA_OK);
	assert_int_equal(fa_jwks_add(f->jwks, f->key, &err), FA_OK);
	f->now_ms = now_ms;
	fa_err_clear(&err);
	f->az = afx_authz(f, &f->generated, &err);
	if (!f->az)
		fail_msg("authz: %s", err.msg);
	return f;
}

static inline struct afx *afx_new(bool with_clients)
{
	char *yaml = afx_yaml(with_clients);
	struct afx *f = afx_new_yaml(yaml, fa_now_ms());

	free(yaml);
	return f;
}

static inline int afx_setup(void **state)
{
	*state = afx_new(true);
	return 0;
}

/* The log must never contain a token, code or secret. */
static inline void afx_assert_log_clean(struct afx *f, const char *secret)
{
	fflush(f->logfp);
	if (secret && secret[0] && f->logbuf && strstr(f->logbuf, secret))
		fail_msg("a secret reached the log");
}

static inline int afx_teardown(void **state)
{
	struct afx *f = *state;

	fa_authz_free(f->az);
	fa_free_secret(f->generated);
	fa_jwks_free(f->jwks);
	fa_jwk_free(f->key);
	fa_config_free(f->cfg);
	fa_store_free(f->st);
	fclose(f->logfp);
	free(f->logbuf);
	fa_test_rmdir(f->dir);
	free(f);
	return 0;
}

static inline const struct fa_authz_client *afx_client(struct afx *f, const char *id)
{
	const struct fa_authz_client *c = fa_authz_client_get(f->az, id);

	assert_non_null(c);
	return c;
}

static inline json_t *afx_user(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "sub", "alice", "preferred_username",
			 "alice", "name", "Alice Example", "email", "alice@example.com",
			 "secret_claim", "never copied", "login_provider", "local");
}

/* Runs the authorize step for a client and issues a code for alice. */
static inline void afx_code(struct afx *f, const char *client, const char *redirect_uri,
		     const char *scope, const char *challenge, char code[FA_TOKEN_CHARS + 1])
{
	struct fa_authz_params p = {
		.response_type = "code", .client_id = client, .redirect_uri = redirect_uri,
		.scope = scope, .state = "state-123456",
		.code_challenge = challenge, .code_challenge_method = challenge ? "S256" : NULL,
	};
	struct fa_authz_areq areq;
	struct fa_err err;
	json_t *user = afx_user();

	fa_err_clear(&err);
	if (fa_authz_authorize_check(f->az, &p, &areq, &err) != FA_OK)
		fail_msg("authorize: %s", err.msg);
	assert_int_equal(fa_authz_code_issue(f->az, &areq, user, NULL, code, &err), FA_OK);
	json_decref(user);
}

static inline int64_t afx_count(struct afx *f, const char *kind)
{
	int64_t n = -1;
	struct fa_err err;

	assert_int_equal(fa_store_count(f->st, kind, f->now_ms / 1000, &n, &err), FA_OK);
	return n;
}

#endif
