/* gate_fixture.h -- the fixture the gate's unit tests share: a config
 * from YAML, the server's keys and a stranger's, a gate driven through the
 * real dispatcher (identity_gate_harness.h), fake session, redirect and
 * revocation sources (the gate takes them as function pointers; the real
 * ones are identity's and authz's, tested there and in tests/bb), and
 * token makers, honest and forged.
 *
 * Header only, every helper static inline, as fa_test.h.
 */
#ifndef GATE_FIXTURE_H
#define GATE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fa_test.h"
#include "gate/gate_int.h"
#include "identity_gate_harness.h"

#define ISSUER "http://127.0.0.1:8088"
#define AUD "https://flyte.example.com"

struct fx {
	struct fa_config *cfg;
	struct fa_jwk *key, *other;
	struct fa_jwks *keys;
	struct fa_gate *gate;
	struct fa_log log;
	char *logbuf;
	size_t loglen;
	FILE *logfp;
	struct harness h;
	/* the fake session source */
	enum fa_rc session_rc;
	const char *session_sub;
	int session_calls;
	/* the fake revocation source: jtis revoked, calls, a forced answer */
	const char *revoked[4];
	int revoke_calls;
	enum fa_rc revoke_rc;
	/* other servers (test_gate_remote.c) */
	struct fa_remote_issuer *external, *idp;
};

enum fx_flag {
	FX_SESSIONS = 1,       /* the fake session source */
	FX_REDIRECT = 2,       /* and the fake /login redirect rule */
	FX_REVOCATION = 4,     /* the fake revocation source */
};

/* The gate passes its opaque identity pointer back: here, the fixture. */
static inline enum fa_rc fake_session(struct fa_identity *id, struct fa_req *req, json_t **user,
			       struct fa_err *err)
{
	struct fx *current = (struct fx *)(void *)id;

	(void)req;
	current->session_calls++;
	*user = NULL;
	if (current->session_rc != FA_OK)
		return fa_err_set(err, current->session_rc, "fake session: %s",
				  fa_rc_str(current->session_rc));
	*user = json_pack("{s:s, s:s, s:s}", "sub", current->session_sub, "preferred_username",
			  current->session_sub, "name", "Alice Example");
	return FA_OK;
}

static inline struct fa_config *load(const char *yaml)
{
	struct fa_config *cfg = NULL;
	struct fa_err err;

	fa_err_clear(&err);
	if (fa_config_load_buffer("t.yaml", yaml, strlen(yaml), NULL, &cfg, &err) != FA_OK)
		fail_msg("config: %s", err.msg);
	return cfg;
}

/* The rule /login applies, reduced to what these tests need: a path here
 * (not "//"), or a URL on AUD's origin. The real rule and its attack cases
 * are identity's (test_identity*, tests/bb/gate_verify.test.mjs). */
static inline enum fa_rc fake_redirect(struct fa_identity *id, const char *url, struct fa_err *err)
{
	size_t n = strlen(AUD);

	(void)id;
	if ((url[0] == '/' && url[1] != '/' && url[1] != '\\') ||
	    (strncmp(url, AUD, n) == 0 && (url[n] == '/' || url[n] == '\0')))
		return FA_OK;
	return fa_err_set(err, FA_EINVAL, "redirect_url is not on an authorized origin");
}

static inline enum fa_rc fake_revoked(struct fa_authz *az, const char *jti, struct fa_err *err)
{
	struct fx *current = (struct fx *)(void *)az;

	current->revoke_calls++;
	if (current->revoke_rc != FA_OK)
		return fa_err_set(err, current->revoke_rc, "fake store: down");
	for (size_t i = 0; i < ARRAY_LEN(current->revoked); i++)
		if (current->revoked[i] && strcmp(current->revoked[i], jti) == 0)
			return fa_err_set(err, FA_EDENIED, "revoked");
	return FA_OK;
}

static inline void start_flags(struct fx *f, const char *yaml, unsigned flags)
{
	const struct fa_route *routes;
	struct fa_gate_opts o = { 0 };
	struct fa_err err;
	size_t n;

	f->cfg = load(yaml ? yaml : "auth: {authorizedUris: [" AUD ", 'http://flyteadmin:80']}\n");
	o.cfg = f->cfg;
	o.log = &f->log;
	o.verify_keys = f->keys;
	o.issuer = ISSUER;
	o.external = f->external;
	o.idp = f->idp;
	if (flags & (FX_SESSIONS | FX_REDIRECT)) {
		o.identity = (struct fa_identity *)(void *)f;   /* opaque to the gate */
		o.session_user = fake_session;
	}
	if (flags & FX_REDIRECT)
		o.redirect_check = fake_redirect;
	if (flags & FX_REVOCATION) {
		o.revoked = fake_revoked;
		o.authz = (struct fa_authz *)(void *)f;
	}
	fa_err_clear(&err);
	f->gate = fa_gate_new(&o, &err);
	if (!f->gate)
		fail_msg("gate: %s", err.msg);
	fa_gate_routes(f->gate, &routes, &n);
	harness_init(&f->h, routes, n, f->gate, fa_gate_authenticate, f->logfp);
}

static inline void start(struct fx *f, const char *yaml, bool sessions)
{
	start_flags(f, yaml, sessions ? FX_SESSIONS : 0);
}

static inline int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->logfp = fa_test_log_open(&f->log, &f->logbuf, &f->loglen);
	assert_int_equal(fa_jwk_generate("RS256", &f->key, NULL), FA_OK);
	assert_int_equal(fa_jwk_generate("ES256", &f->other, NULL), FA_OK);
	assert_int_equal(fa_jwks_new(&f->keys, NULL), FA_OK);
	assert_int_equal(fa_jwks_add(f->keys, f->key, NULL), FA_OK);
	f->session_rc = FA_ENOTFOUND;
	f->session_sub = "alice";
	*state = f;
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct fx *f = *state;

	fa_gate_free(f->gate);
	fa_jwks_free(f->keys);
	fa_jwk_free(f->key);
	fa_jwk_free(f->other);
	fa_config_free(f->cfg);
	fclose(f->logfp);
	free(f->logbuf);
	free(f);
	return 0;
}

/* Claims of a user access token as authz mints them. */
static inline json_t *user_claims(int64_t exp_in)
{
	int64_t now = fa_now();

	return json_pack("{s:s, s:s, s:[s,s], s:I, s:I, s:s, s:[s,s], s:s, s:{s:s, s:s, s:s, s:s}}",
			 "iss", ISSUER, "sub", "alice", "aud", "https://other.example", AUD,
			 "exp", (json_int_t)(now + exp_in), "iat", (json_int_t)now,
			 "jti", "j-123", "scp", "all", "offline", "client_id", "flytectl",
			 "user_info", "sub", "alice", "preferred_username", "alice", "name",
			 "Alice Example", "email", "alice@example.com");
}

static inline char *sign_with(const struct fa_jwk *key, const char *typ, const json_t *claims)
{
	json_t *extra = json_pack("{s:s}", "key_id", fa_jwk_kid(key));
	char *tok = NULL;

	assert_int_equal(fa_jwt_sign(key, typ, extra, claims, &tok, NULL), FA_OK);
	json_decref(extra);
	return tok;
}

/* Signs and frees claims. */
static inline char *mint(struct fx *f, json_t *claims)
{
	char *tok = sign_with(f->key, "at+jwt", claims);

	json_decref(claims);
	return tok;
}

static inline struct fa_req *get_me(struct fx *f, const char *hname, const char *tok)
{
	char hdr[FA_MAX_TOKEN + 256];
	const char *hs[2] = { hdr, NULL };

	if (!tok)
		return harness_call(&f->h, "GET", "/me", NULL, NULL, NULL);
	snprintf(hdr, sizeof(hdr), "%s: Bearer %s", hname, tok);
	return harness_call(&f->h, "GET", "/me", hs, NULL, NULL);
}

/* Asserts a 401 invalid_token refusal whose description mentions `why`. */
static inline void expect_invalid_token(struct fx *f, const char *tok, const char *why)
{
	struct fa_req *r = get_me(f, "Authorization", tok);
	const char *www = resp_header(r, "WWW-Authenticate");

	if (resp_status(r) != 401)
		fail_msg("expected 401 (%s), got %d: %s", why, resp_status(r), resp_body(r));
	assert_non_null(www);
	assert_non_null(strstr(www, "Bearer error=\"invalid_token\""));
	if (!strstr(resp_body(r), why))
		fail_msg("expected '%s' in %s", why, resp_body(r));
	assert_null(resp_header(r, "X-User-Subject"));
	harness_done(r);
}

static inline char *b64url(const void *p, size_t n)
{
	char *s = fa_b64_encode_dup(p, n, FA_B64_URL | FA_B64_NOPAD);

	assert_non_null(s);
	return s;
}

/* A compact JWS with the given header and claims and raw signature. */
static inline char *forge(const char *header, const json_t *claims, const char *sig_b64)
{
	char *h = b64url(header, strlen(header));
	char *c = json_dumps(claims, JSON_COMPACT);
	char *p = b64url(c, strlen(c));
	size_t n = strlen(h) + strlen(p) + strlen(sig_b64) + 3;
	char *tok = malloc(n);

	snprintf(tok, n, "%s.%s.%s", h, p, sig_b64);
	free(h);
	free(c);
	free(p);
	return tok;
}


#endif
