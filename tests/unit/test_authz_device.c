/* test_authz_device.c -- the device authorization grant (RFC 8628) as
 * logic, on a real SQLite store with a fake clock: the state machine
 * (PENDING -> APPROVED -> REDEEMED, DENIED, EXPIRED), slow_down arithmetic,
 * the user code alphabet and its normalisation, the wrong-code throttle,
 * the verification form's CSRF tokens, client binding, replay of a
 * redeemed device code (revokes what it issued, test_device_code_replay),
 * and eight threads polling one approved code (exactly one gets tokens).
 *
 * The HTTP half (the /device page, the login round trip, a real client
 * library polling) is covered by tests/bb/device_flow.test.mjs against the
 * real binary.
 */
#include <pthread.h>

#include "test_authz_fixture.h"

#define SESSION_A "sealed-session-cookie-of-alice"
#define SESSION_B "sealed-session-cookie-of-bob"
#define ADDR "192.0.2.10"
#define ADDR2 "198.51.100.7"
#define NTHREADS 8

/* ---- fixture ------------------------------------------------------------------ */

/* A device-capable public CLI (with refresh), a device-only client without
 * refresh, and a client without the device grant. */
static char *dfx_yaml(const char *lifespan)
{
	char *web = afx_hash(WEB_SECRET);
	char *y = malloc(4096);

	assert_non_null(y);
	snprintf(y, 4096,
		 "server: {httpPort: 8088, security: {insecureCookieHeader: true}}\n"
		 "auth:\n"
		 "  authorizedUris: [" ISSUER "]\n"
		 "  appAuth:\n"
		 "    selfAuthServer:\n"
		 "      issuer: " ISSUER "\n"
		 "      deviceCodeLifespan: %s\n"
		 "      staticClients:\n"
		 "        flytectl:\n"
		 "          id: flytectl\n"
		 "          redirect_uris: [http://localhost:53593/callback]\n"
		 "          grant_types: [authorization_code, refresh_token, "
		 "\"urn:ietf:params:oauth:grant-type:device_code\"]\n"
		 "          response_types: [code]\n"
		 "          scopes: [all, offline, access_token]\n"
		 "          audience: [https://api.example.com]\n"
		 "          public: true\n"
		 "        tv:\n"
		 "          id: tv\n"
		 "          grant_types: [\"urn:ietf:params:oauth:grant-type:device_code\"]\n"
		 "          scopes: [all, offline]\n"
		 "          public: true\n"
		 "        web:\n"
		 "          id: web\n"
		 "          client_secret: \"%s\"\n"
		 "          redirect_uris: [https://app.example.com/cb]\n"
		 "          grant_types: [authorization_code]\n"
		 "          response_types: [code]\n"
		 "          scopes: [all]\n"
		 "          public: false\n",
		 lifespan, web);
	free(web);
	return y;
}

static struct afx *dfx_new(const char *lifespan)
{
	char *yaml = dfx_yaml(lifespan);
	struct afx *f = afx_new_yaml(yaml, 1700000000000LL);

	free(yaml);
	return f;
}

static int dfx_setup(void **state)
{
	*state = dfx_new("10m");
	return 0;
}

/* Starts a device authorization for `client`. */
static void start(struct afx *f, const char *client, const char *scope, struct fa_device_auth *da)
{
	struct fa_err err;

	fa_err_clear(&err);
	if (fa_authz_device_start(f->az, afx_client(f, client), scope, NULL, da, &err) != FA_OK)
		fail_msg("device start: %s", err.msg);
}

/* One poll; returns rc and copies the OAuth error (or "" on success). */
static enum fa_rc poll(struct afx *f, const char *client, const char *device_code,
		       struct fa_authz_grant *g, char error[32])
{
	struct fa_err err;
	enum fa_rc rc;

	fa_err_clear(&err);
	rc = fa_authz_grant_device(f->az, afx_client(f, client), device_code, g, &err);
	snprintf(error, 32, "%s", rc == FA_OK ? "" : (err.oauth_error ? err.oauth_error : "?"));
	if (rc != FA_OK)
		assert_int_equal(fa_authz_status(&err), 400);
	return rc;
}

static void expect_poll(struct afx *f, const char *client, const char *device_code,
			const char *want)
{
	struct fa_authz_grant g;
	char error[32];

	assert_int_not_equal(poll(f, client, device_code, &g, error), FA_OK);
	assert_string_equal(error, want);
	assert_null(g.access_token);
}

static enum fa_rc decide(struct afx *f, const char *user_code, const char *session,
			 const char *addr, bool approve, struct fa_err *err)
{
	struct fa_device_view view;
	json_t *user = afx_user();
	int64_t retry = 0;
	enum fa_rc rc;

	fa_err_clear(err);
	rc = fa_authz_device_decide(f->az, user_code, session, addr, user, approve, &view, &retry,
				    err);
	json_decref(user);
	return rc;
}

/* The device record as stored, by the device code's hash. */
static json_t *device_rec(struct afx *f, const char *device_code, int64_t *version)
{
	char key[2 * FA_SHA256_LEN + 1];
	json_t *rec = NULL;
	struct fa_err err;

	assert_int_equal(fa_authz_token_key(device_code, key), FA_OK);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_rec_get(f->az, FA_KIND_DEVICE, key, &rec, version, NULL, &err),
			 FA_OK);
	return rec;
}

static bool introspect_active(struct afx *f, const char *token)
{
	json_t *o = NULL;
	struct fa_err err;
	bool active;

	fa_err_clear(&err);
	assert_int_equal(fa_authz_introspect(f->az, token, NULL, &o, &err), FA_OK);
	active = json_is_true(json_object_get(o, "active"));
	json_decref(o);
	return active;
}

/* ---- user codes --------------------------------------------------------------- */

static void test_user_code_alphabet(void **state)
{
	struct afx *f = *state;
	struct fa_device_auth da;
	unsigned seen[26] = { 0 };

	for (int i = 0; i < 200; i++) {
		char norm[FA_DEVICE_USER_CODE_LEN + 1];

		start(f, "tv", NULL, &da);
		/* Shown as XXXX-XXXX, letters of the alphabet only. */
		assert_int_equal(strlen(da.user_code), 9);
		assert_int_equal(da.user_code[4], '-');
		for (int k = 0; k < 9; k++) {
			if (k == 4)
				continue;
			assert_non_null(strchr(FA_DEVICE_USER_CODE_ALPHABET, da.user_code[k]));
			seen[da.user_code[k] - 'A']++;
		}
		assert_true(fa_authz_user_code_normalize(da.user_code, norm));
		assert_int_equal(strlen(da.device_code), FA_TOKEN_CHARS);
	}
	/* 1600 letters: every one of the 20 shows up, and no vowel ever. */
	for (const char *p = FA_DEVICE_USER_CODE_ALPHABET; *p; p++)
		assert_true(seen[*p - 'A'] > 0);
	for (const char *p = "AEIOUY"; *p; p++)
		assert_int_equal(seen[*p - 'A'], 0);
	assert_int_equal(afx_count(f, FA_KIND_DEVICE), 400);   /* record + index each */
}

static void test_user_code_normalize(void **state)
{
	char n[FA_DEVICE_USER_CODE_LEN + 1], shown[FA_DEVICE_USER_CODE_SHOWN + 1];

	(void)state;
	assert_true(fa_authz_user_code_normalize("BCDF-GHJK", n));
	assert_string_equal(n, "BCDFGHJK");
	assert_true(fa_authz_user_code_normalize("bcdf-ghjk", n));
	assert_string_equal(n, "BCDFGHJK");
	assert_true(fa_authz_user_code_normalize("bcdfghjk", n));
	assert_string_equal(n, "BCDFGHJK");
	assert_true(fa_authz_user_code_normalize(" bc-df gh-jk ", n));
	assert_string_equal(n, "BCDFGHJK");
	fa_authz_user_code_format(n, shown);
	assert_string_equal(shown, "BCDF-GHJK");
	/* Wrong length, vowels, digits, other punctuation, too long, NULL. */
	assert_false(fa_authz_user_code_normalize("BCDF-GHJ", n));
	assert_string_equal(n, "");
	assert_false(fa_authz_user_code_normalize("BCDF-GHJKL", n));
	assert_false(fa_authz_user_code_normalize("ABCD-EFGH", n));
	assert_false(fa_authz_user_code_normalize("BCDF-GHJ1", n));
	assert_false(fa_authz_user_code_normalize("BCDF_GHJK", n));
	assert_false(fa_authz_user_code_normalize("BCDF\xc3\x89GHJK", n));
	assert_false(fa_authz_user_code_normalize("", n));
	assert_false(fa_authz_user_code_normalize(NULL, n));
	assert_false(fa_authz_user_code_normalize("----------------------------BCDFGHJK", n));
}

/* ---- device authorization ------------------------------------------------------ */

/* A store double in front of the real one: the first `collisions` applies
 * that insert a user-code index fail as if that code were taken. */
struct collider {
	struct fa_store *real;
	int collisions;
	int applies;
};

static enum fa_rc col_get(void *impl, const char *kind, const char *key, int64_t now,
			  struct fa_store_rec *out, struct fa_err *err)
{
	return fa_store_get(((struct collider *)impl)->real, kind, key, now, out, err);
}

static enum fa_rc col_apply(void *impl, const struct fa_store_op *ops, size_t n, int64_t now,
			    struct fa_err *err)
{
	struct collider *c = impl;

	c->applies++;
	for (size_t i = 0; i < n; i++) {
		if (ops[i].type == FA_STORE_INSERT && strncmp(ops[i].key, "uc:", 3) == 0 &&
		    c->collisions > 0) {
			c->collisions--;
			return fa_err_set(err, FA_EEXIST, "store op %zu: exists", i);
		}
	}
	return fa_store_apply(c->real, ops, n, now, err);
}

static enum fa_rc col_incr(void *impl, const char *kind, const char *key, int64_t ttl_s,
			   int64_t now, int64_t *count, struct fa_err *err)
{
	return fa_store_incr(((struct collider *)impl)->real, kind, key, ttl_s, now, count, err);
}

static enum fa_rc col_purge(void *impl, int64_t now, size_t limit, size_t *deleted,
			    struct fa_err *err)
{
	return fa_store_purge(((struct collider *)impl)->real, now, limit, deleted, err);
}

static enum fa_rc col_count(void *impl, const char *kind, int64_t now, int64_t *n,
			    struct fa_err *err)
{
	return fa_store_count(((struct collider *)impl)->real, kind, now, n, err);
}

static enum fa_rc col_ping(void *impl, struct fa_err *err)
{
	return fa_store_ping(((struct collider *)impl)->real, err);
}

static void col_free(void *impl)
{
	(void)impl;   /* the collider lives on the test's stack */
}

static const struct fa_store_ops collider_ops = {
	.name = "collider", .get = col_get, .apply = col_apply, .incr = col_incr,
	.purge = col_purge, .count = col_count, .ping = col_ping, .free = col_free,
};

static void test_user_code_collision_redrawn(void **state)
{
	struct afx *f = *state;
	struct collider col = { .real = f->st, .collisions = 3 };
	struct fa_store *wrapped = NULL;
	struct fa_device_auth da;
	struct fa_err err;

	fa_err_clear(&err);
	assert_int_equal(fa_store_new(&collider_ops, &col, NULL, &wrapped, &err), FA_OK);
	f->az->store = wrapped;
	/* Three taken codes in a row: the fourth draw is stored. */
	start(f, "tv", NULL, &da);
	assert_int_equal(col.applies, 4);
	assert_int_equal(afx_count(f, FA_KIND_DEVICE), 2);
	/* Four in a row means something is broken: 500, nothing stored. */
	col.collisions = 4;
	col.applies = 0;
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_start(f->az, afx_client(f, "tv"), NULL, NULL, &da, &err),
			 FA_EEXIST);
	assert_int_equal(fa_authz_status(&err), 500);
	assert_string_equal(err.oauth_error, "server_error");
	assert_string_equal(da.device_code, "");
	assert_int_equal(col.applies, 4);
	assert_int_equal(afx_count(f, FA_KIND_DEVICE), 2);
	f->az->store = f->st;
	fa_store_free(wrapped);
}

static void test_start_response(void **state)
{
	struct afx *f = *state;
	struct fa_device_auth da;
	json_t *rec;
	int64_t ver = 0;

	start(f, "flytectl", "all offline", &da);
	assert_int_equal(da.expires_in, 600);
	assert_int_equal(da.interval, 5);
	rec = device_rec(f, da.device_code, &ver);
	assert_int_equal(ver, 1);
	assert_string_equal(fa_authz_jstr(rec, "st"), "pending");
	assert_string_equal(fa_authz_jstr(rec, "cid"), "flytectl");
	assert_string_equal(fa_authz_jstr(rec, "scp"), "all offline");
	assert_int_equal(fa_authz_jint(rec, "iv"), 5);
	assert_int_equal(fa_authz_jint(rec, "exp"), f->now_ms / 1000 + 600);
	json_decref(rec);
	/* Empty scope: the client's own scopes. */
	start(f, "tv", NULL, &da);
	rec = device_rec(f, da.device_code, NULL);
	assert_string_equal(fa_authz_jstr(rec, "scp"), "all offline");
	json_decref(rec);
	/* Metadata advertises the endpoint and the grant. */
	assert_true(f->az->device_enabled);
	assert_non_null(strstr(f->az->metadata_json, "\"device_authorization_endpoint\":\""
			       ISSUER "/oauth2/device/authorize\""));
	assert_non_null(strstr(f->az->metadata_json, FA_GRANT_TYPE_DEVICE));
}

static void test_device_code_hashed(void **state)
{
	struct afx *f = *state;
	struct fa_device_auth da;
	struct fa_store_rec rec;
	char norm[FA_DEVICE_USER_CODE_LEN + 1];
	struct fa_err err;

	start(f, "flytectl", NULL, &da);
	assert_true(fa_authz_user_code_normalize(da.user_code, norm));
	/* Neither code names a record; only their hashes do. */
	fa_err_clear(&err);
	assert_int_equal(fa_store_get(f->st, FA_KIND_DEVICE, da.device_code, f->now_ms / 1000,
				      &rec, &err), FA_ENOTFOUND);
	assert_int_equal(fa_store_get(f->st, FA_KIND_DEVICE, norm, f->now_ms / 1000, &rec, &err),
			 FA_ENOTFOUND);
	json_decref(device_rec(f, da.device_code, NULL));
	afx_assert_log_clean(f, da.device_code);
	afx_assert_log_clean(f, da.user_code);
	afx_assert_log_clean(f, norm);
}

static void test_start_errors(void **state)
{
	struct afx *f = *state;
	struct fa_device_auth da;
	struct fa_err err;

	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_start(f->az, afx_client(f, "web"), NULL, NULL, &da, &err),
			 FA_EDENIED);
	assert_int_equal(fa_authz_status(&err), 400);
	assert_string_equal(err.oauth_error, "unauthorized_client");
	assert_string_equal(da.device_code, "");
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_start(f->az, afx_client(f, "tv"), "admin", NULL, &da,
					       &err), FA_EDENIED);
	assert_string_equal(err.oauth_error, "invalid_scope");
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_start(f->az, afx_client(f, "tv"), "all  offline", NULL, &da,
					       &err), FA_EINVAL);
	assert_string_equal(err.oauth_error, "invalid_scope");
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_start(f->az, afx_client(f, "tv"), NULL,
					       "https://evil.example.com", &da, &err), FA_EDENIED);
	assert_string_equal(err.oauth_error, "invalid_request");
	assert_non_null(strstr(err.msg, "audience is not allowed"));
	/* Nothing was stored by any refusal. */
	assert_int_equal(afx_count(f, FA_KIND_DEVICE), 0);
}

/* ---- the state machine --------------------------------------------------------- */

static void test_pending_approved_redeemed(void **state)
{
	struct afx *f = *state;
	struct fa_device_auth da;
	struct fa_device_view view;
	struct fa_authz_grant g;
	json_t *claims = NULL, *rec;
	int64_t retry = 0;
	char error[32];
	struct fa_err err;

	start(f, "flytectl", "all offline", &da);
	expect_poll(f, "flytectl", da.device_code, "authorization_pending");
	/* The user looks the code up (typed in lower case, no dash). */
	char typed[16];
	snprintf(typed, sizeof(typed), "%.4s%.4s", da.user_code, da.user_code + 5);
	for (char *p = typed; *p; p++)
		*p = (char)(*p - 'A' + 'a');
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_lookup(f->az, typed, SESSION_A, ADDR, &view, &retry, &err),
			 FA_OK);
	assert_string_equal(view.client->id, "flytectl");
	assert_string_equal(view.scope, "all offline");
	assert_string_equal(view.user_code, da.user_code);
	f->now_ms += 5000;
	expect_poll(f, "flytectl", da.device_code, "authorization_pending");
	assert_int_equal(decide(f, typed, SESSION_A, ADDR, true, &err), FA_OK);
	rec = device_rec(f, da.device_code, NULL);
	assert_string_equal(fa_authz_jstr(rec, "st"), "approved");
	assert_string_equal(fa_authz_jstr(json_object_get(rec, "user"), "sub"), "alice");
	assert_null(json_object_get(json_object_get(rec, "user"), "secret_claim"));
	/* Who logged the user in is kept beside the claims, not in them. */
	assert_null(json_object_get(json_object_get(rec, "user"), "login_provider"));
	assert_string_equal(fa_authz_jstr(rec, "prov"), "local");
	json_decref(rec);
	/* The user code is gone with the decision. */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_lookup(f->az, da.user_code, SESSION_A, ADDR, &view, &retry,
						&err), FA_ENOTFOUND);
	/* Approved: the next poll gets the tokens, refresh token included. */
	f->now_ms += 5000;
	assert_int_equal(poll(f, "flytectl", da.device_code, &g, error), FA_OK);
	assert_non_null(g.access_token);
	assert_int_equal(strlen(g.refresh_token), FA_TOKEN_CHARS);
	assert_string_equal(g.scope, "all offline");
	assert_int_equal(g.expires_in, 1800);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_at_verify(f->az, g.access_token, &claims, &err), FA_OK);
	assert_string_equal(json_string_value(json_object_get(claims, "sub")), "alice");
	assert_string_equal(json_string_value(json_object_get(claims, "client_id")), "flytectl");
	assert_string_equal(json_string_value(json_array_get(json_object_get(claims, "aud"), 0)),
			    ISSUER);
	assert_string_equal(json_string_value(json_object_get(json_object_get(claims, "user_info"),
							      "email")), "alice@example.com");
	json_decref(claims);
	/* The refresh token works like any other. */
	{
		struct fa_authz_grant g2;

		fa_err_clear(&err);
		assert_int_equal(fa_authz_grant_refresh(f->az, afx_client(f, "flytectl"),
							g.refresh_token, NULL, &g2, &err), FA_OK);
		assert_true(introspect_active(f, g2.refresh_token));
		/* Exactly once: presented again, the device code is a replay,
		 * and what it issued is revoked (SPEC §5). */
		f->now_ms += 5000;
		expect_poll(f, "flytectl", da.device_code, "invalid_grant");
		assert_false(introspect_active(f, g2.refresh_token));
		assert_false(introspect_active(f, g.access_token));
		fa_authz_grant_cleanup(&g2);
	}
	rec = device_rec(f, da.device_code, NULL);
	assert_string_equal(fa_authz_jstr(rec, "st"), "redeemed");
	assert_int_equal(strlen(fa_authz_jstr(rec, "fam")), FA_AUTHZ_FAMILY_ID_LEN);
	json_decref(rec);
	afx_assert_log_clean(f, da.device_code);
	afx_assert_log_clean(f, g.access_token);
	afx_assert_log_clean(f, g.refresh_token);
	fa_authz_grant_cleanup(&g);
}

/* A redeemed device code presented again by its own client revokes the
 * family it issued -- also after the code's lifespan and tombstone, while
 * its tokens can still live -- and another client's attempt writes
 * nothing and revokes nothing. */
static void test_device_code_replay(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *cli = afx_client(f, "flytectl");
	struct fa_device_auth da;
	struct fa_authz_grant g, g2, g3;
	struct fa_err err;
	char error[32];
	int64_t v1 = 0, v2 = 0;

	start(f, "flytectl", "all offline", &da);
	assert_int_equal(decide(f, da.user_code, SESSION_A, ADDR, true, &err), FA_OK);
	assert_int_equal(poll(f, "flytectl", da.device_code, &g, error), FA_OK);
	/* Another client: invalid_grant, no write, the family lives. */
	json_decref(device_rec(f, da.device_code, &v1));
	expect_poll(f, "tv", da.device_code, "invalid_grant");
	json_decref(device_rec(f, da.device_code, &v2));
	assert_int_equal(v1, v2);
	assert_true(introspect_active(f, g.access_token));
	assert_true(introspect_active(f, g.refresh_token));
	/* Later than lifespan + tombstone, with the refresh token alive. */
	f->now_ms += (f->az->device_ttl_s + FA_DEVICE_TOMBSTONE_S + 300) * 1000LL;
	assert_true(f->az->device_ttl_s + FA_DEVICE_TOMBSTONE_S + 300 < f->az->rt_ttl_s);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, cli, g.refresh_token, NULL, &g2, &err), FA_OK);
	/* The replay by the same client. */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_device(f->az, cli, da.device_code, &g3, &err), FA_EDENIED);
	assert_int_equal(fa_authz_status(&err), 400);
	assert_string_equal(err.oauth_error, "invalid_grant");
	assert_non_null(strstr(err.msg, "tokens it issued are revoked"));
	assert_null(g3.access_token);
	assert_false(introspect_active(f, g2.refresh_token));
	assert_false(introspect_active(f, g2.access_token));
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, cli, g2.refresh_token, NULL, &g3, &err),
			 FA_EDENIED);
	assert_string_equal(err.oauth_error, "invalid_grant");
	fflush(f->logfp);
	assert_non_null(strstr(f->logbuf, "device code replay"));
	afx_assert_log_clean(f, da.device_code);
	fa_authz_grant_cleanup(&g);
	fa_authz_grant_cleanup(&g2);
}

static void test_no_refresh_without_offline(void **state)
{
	struct afx *f = *state;
	struct fa_device_auth da;
	struct fa_authz_grant g;
	struct fa_err err;
	char error[32];

	/* flytectl may refresh, but did not ask for offline access. */
	start(f, "flytectl", "all", &da);
	assert_int_equal(decide(f, da.user_code, SESSION_A, ADDR, true, &err), FA_OK);
	assert_int_equal(poll(f, "flytectl", da.device_code, &g, error), FA_OK);
	assert_string_equal(g.refresh_token, "");
	assert_string_equal(g.scope, "all");
	fa_authz_grant_cleanup(&g);
	/* tv asked for offline but has no refresh_token grant. */
	start(f, "tv", "all offline", &da);
	assert_int_equal(decide(f, da.user_code, SESSION_A, ADDR, true, &err), FA_OK);
	assert_int_equal(poll(f, "tv", da.device_code, &g, error), FA_OK);
	assert_string_equal(g.refresh_token, "");
	fa_authz_grant_cleanup(&g);
}

static void test_denied(void **state)
{
	struct afx *f = *state;
	struct fa_device_auth da;
	struct fa_err err;
	json_t *rec;

	start(f, "flytectl", NULL, &da);
	assert_int_equal(decide(f, da.user_code, SESSION_A, ADDR, false, &err), FA_OK);
	rec = device_rec(f, da.device_code, NULL);
	assert_string_equal(fa_authz_jstr(rec, "st"), "denied");
	assert_null(json_object_get(rec, "user"));
	json_decref(rec);
	expect_poll(f, "flytectl", da.device_code, "access_denied");
	f->now_ms += 10000;
	expect_poll(f, "flytectl", da.device_code, "access_denied");
	/* Decided once: approving afterwards finds nothing to approve. */
	assert_int_equal(decide(f, da.user_code, SESSION_A, ADDR, true, &err), FA_ENOTFOUND);
	expect_poll(f, "flytectl", da.device_code, "access_denied");
}

static void test_decide_once(void **state)
{
	struct afx *f = *state;
	struct fa_device_auth da;
	struct fa_err err;
	json_t *rec;

	start(f, "flytectl", NULL, &da);
	assert_int_equal(decide(f, da.user_code, SESSION_A, ADDR, true, &err), FA_OK);
	/* A later decision -- by anyone -- finds no pending code. */
	assert_int_equal(decide(f, da.user_code, SESSION_B, ADDR2, false, &err), FA_ENOTFOUND);
	assert_int_equal(decide(f, da.user_code, SESSION_A, ADDR, true, &err), FA_ENOTFOUND);
	rec = device_rec(f, da.device_code, NULL);
	assert_string_equal(fa_authz_jstr(rec, "st"), "approved");
	json_decref(rec);
}

static void test_expired(void **state)
{
	struct afx *f = *state;
	struct fa_device_auth da, approved;
	struct fa_err err;

	start(f, "flytectl", NULL, &da);
	start(f, "flytectl", NULL, &approved);
	assert_int_equal(decide(f, approved.user_code, SESSION_A, ADDR, true, &err), FA_OK);
	/* One second before the end: still pending. */
	f->now_ms += 599 * 1000;
	expect_poll(f, "flytectl", da.device_code, "authorization_pending");
	f->now_ms += 1000;
	expect_poll(f, "flytectl", da.device_code, "expired_token");
	/* An approval not redeemed in time is expired too. */
	expect_poll(f, "flytectl", approved.device_code, "expired_token");
	/* Too late to approve. */
	assert_int_equal(decide(f, da.user_code, SESSION_A, ADDR, true, &err), FA_ENOTFOUND);
	assert_string_equal(err.msg, "the code is not valid or has expired");
	/* Once the tombstone is gone the code is unknown. */
	f->now_ms += (FA_DEVICE_TOMBSTONE_S - 1) * 1000LL;
	expect_poll(f, "flytectl", da.device_code, "expired_token");
	f->now_ms += 1000;
	expect_poll(f, "flytectl", da.device_code, "invalid_grant");
}

static void test_slow_down_arithmetic(void **state)
{
	struct afx *f = *state;
	struct fa_device_auth da;
	json_t *rec;

	start(f, "tv", NULL, &da);
	expect_poll(f, "tv", da.device_code, "authorization_pending");   /* t = 0 */
	f->now_ms += 1000;
	expect_poll(f, "tv", da.device_code, "slow_down");               /* 1 s < 5 s */
	rec = device_rec(f, da.device_code, NULL);
	assert_int_equal(fa_authz_jint(rec, "iv"), 10);
	assert_int_equal(fa_authz_jint(rec, "last_ms"), f->now_ms);
	json_decref(rec);
	f->now_ms += 6000;
	expect_poll(f, "tv", da.device_code, "slow_down");               /* 6 s < 10 s */
	rec = device_rec(f, da.device_code, NULL);
	assert_int_equal(fa_authz_jint(rec, "iv"), 15);
	json_decref(rec);
	/* Waiting the new interval (less the allowed slack) is on time and
	 * the interval stays where it is. */
	f->now_ms += 15000 - FA_DEVICE_POLL_SLACK_MS;
	expect_poll(f, "tv", da.device_code, "authorization_pending");
	rec = device_rec(f, da.device_code, NULL);
	assert_int_equal(fa_authz_jint(rec, "iv"), 15);
	json_decref(rec);
	/* Just beyond the slack is early. */
	f->now_ms += 15000 - FA_DEVICE_POLL_SLACK_MS - 1;
	expect_poll(f, "tv", da.device_code, "slow_down");
	rec = device_rec(f, da.device_code, NULL);
	assert_int_equal(fa_authz_jint(rec, "iv"), 20);
	json_decref(rec);
	/* The interval is capped. */
	for (int i = 0; i < 1000; i++)
		expect_poll(f, "tv", da.device_code, "slow_down");
	rec = device_rec(f, da.device_code, NULL);
	assert_int_equal(fa_authz_jint(rec, "iv"), FA_DEVICE_MAX_INTERVAL_S);
	json_decref(rec);
}

/* ---- bad input ------------------------------------------------------------------ */

static void test_device_code_other_client(void **state)
{
	struct afx *f = *state;
	struct fa_device_auth da;
	struct fa_authz_grant g;
	struct fa_err err;
	char error[32];
	int64_t v1 = 0, v2 = 0;

	start(f, "flytectl", NULL, &da);
	json_decref(device_rec(f, da.device_code, &v1));
	expect_poll(f, "tv", da.device_code, "invalid_grant");
	/* Nothing changed: not even the poll time. */
	json_decref(device_rec(f, da.device_code, &v2));
	assert_int_equal(v1, v2);
	/* Not after approval either: the tokens stay for flytectl. */
	assert_int_equal(decide(f, da.user_code, SESSION_A, ADDR, true, &err), FA_OK);
	expect_poll(f, "tv", da.device_code, "invalid_grant");
	assert_int_equal(poll(f, "flytectl", da.device_code, &g, error), FA_OK);
	fa_authz_grant_cleanup(&g);
	/* A client without the grant at all. */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_device(f->az, afx_client(f, "web"), da.device_code, &g, &err),
			 FA_EDENIED);
	assert_string_equal(err.oauth_error, "unauthorized_client");
}

static void test_unknown_device_code(void **state)
{
	struct afx *f = *state;
	struct fa_authz_grant g;
	struct fa_err err;

	expect_poll(f, "flytectl", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "invalid_grant");
	expect_poll(f, "flytectl", "short", "invalid_grant");
	expect_poll(f, "flytectl", "", "invalid_grant");
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_device(f->az, afx_client(f, "flytectl"), NULL, &g, &err),
			 FA_EINVAL);
	assert_string_equal(err.oauth_error, "invalid_request");
	assert_string_equal(err.msg, "device_code is missing");
}

static void test_user_code_brute_force(void **state)
{
	struct afx *f = *state;
	struct fa_device_auth da;
	struct fa_device_view view;
	struct fa_err err;
	int64_t retry = 0;
	char guess[16];

	start(f, "flytectl", NULL, &da);
	/* No code typed: refused but not counted. */
	for (int i = 0; i < 10; i++) {
		fa_err_clear(&err);
		assert_int_equal(fa_authz_device_lookup(f->az, "", SESSION_A, ADDR, &view, &retry,
							&err), FA_EINVAL);
	}
	/* Five wrong codes from one session... */
	for (int i = 0; i < FA_DEVICE_SESSION_FREE_FAILURES; i++) {
		snprintf(guess, sizeof(guess), "BBBB-BBB%c", "BCDFG"[i]);
		fa_err_clear(&err);
		assert_int_equal(fa_authz_device_lookup(f->az, guess, SESSION_A, ADDR, &view, &retry,
							&err), FA_ENOTFOUND);
		assert_int_equal(fa_authz_status(&err), 400);
		assert_string_equal(err.msg, "the code is not valid or has expired");
		afx_assert_log_clean(f, guess);
	}
	/* ...and within the delay (1 s) even the right one is refused,
	 * before any lookup. */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_lookup(f->az, da.user_code, SESSION_A, ADDR, &view, &retry,
						&err), FA_EDENIED);
	assert_true(retry > 0 && !strcmp(err.oauth_error, "slow_down"));   /* the page: 429 */
	assert_non_null(strstr(err.msg, "too many wrong codes"));
	assert_int_equal(retry, 1);
	fa_err_clear(&err);
	assert_int_equal(decide(f, da.user_code, SESSION_A, ADDR, true, &err), FA_EDENIED);
	assert_true(retry > 0 && !strcmp(err.oauth_error, "slow_down"));   /* the page: 429 */
	/* Each further wrong code doubles the delay: 2 s after the sixth. */
	f->now_ms += 1000;
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_lookup(f->az, "BBBB-BBBB", SESSION_A, ADDR, &view, &retry,
						&err), FA_ENOTFOUND);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_lookup(f->az, da.user_code, SESSION_A, ADDR, &view, &retry,
						&err), FA_EDENIED);
	assert_int_equal(retry, 2);
	f->now_ms += 2000;
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_lookup(f->az, da.user_code, SESSION_A, ADDR, &view, &retry,
						&err), FA_OK);
	/* A fresh cookie from the same address is not a way around it for
	 * long: the address has its own (higher) cap. */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_lookup(f->az, da.user_code, SESSION_B, ADDR, &view, &retry,
						&err), FA_OK);
	for (int i = FA_DEVICE_SESSION_FREE_FAILURES + 1; i < FA_DEVICE_ADDR_MAX_FAILURES; i++) {
		char s[32];

		snprintf(s, sizeof(s), "session-%d", i);
		fa_err_clear(&err);
		assert_int_equal(fa_authz_device_lookup(f->az, "BBBB-BBBB", s, ADDR, &view, &retry,
							&err), FA_ENOTFOUND);
	}
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_lookup(f->az, da.user_code, SESSION_B, ADDR, &view, &retry,
						&err), FA_EDENIED);
	assert_true(retry > 0 && !strcmp(err.oauth_error, "slow_down"));   /* the page: 429 */
	/* Another session from another address is unaffected. */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_lookup(f->az, da.user_code, "session-other", ADDR2, &view,
						&retry, &err), FA_OK);
	/* The window ends. */
	f->now_ms += FA_DEVICE_THROTTLE_WINDOW_S * 1000LL;
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_lookup(f->az, da.user_code, SESSION_A, ADDR, &view, &retry,
						&err), FA_ENOTFOUND);   /* expired by now */
	assert_int_equal(fa_authz_status(&err), 400);
	/* Wrong codes were logged, without the code or the session. */
	fflush(f->logfp);
	assert_non_null(strstr(f->logbuf, "wrong device user code entered"));
	afx_assert_log_clean(f, SESSION_A);
	afx_assert_log_clean(f, "BBBB-BBBB");
	afx_assert_log_clean(f, da.user_code);
}

static void test_ipv6_throttle_per_prefix(void **state)
{
	struct afx *f = *state;
	struct fa_device_view view;
	struct fa_err err;
	int64_t retry = 0;
	char addr[64], s[32];

	/* One host rotating through its /64 counts as one address. */
	for (int i = 0; i < FA_DEVICE_ADDR_MAX_FAILURES; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:1:2::%x", i + 1);
		snprintf(s, sizeof(s), "s%d", i);
		fa_err_clear(&err);
		assert_int_equal(fa_authz_device_lookup(f->az, "BBBB-BBBB", s, addr, &view, &retry,
							&err), FA_ENOTFOUND);
	}
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_lookup(f->az, "BBBB-BBBB", "fresh", "2001:db8:1:2::ffff",
						&view, &retry, &err), FA_EDENIED);
	assert_true(retry > 0 && !strcmp(err.oauth_error, "slow_down"));   /* the page: 429 */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_lookup(f->az, "BBBB-BBBB", "fresh", "2001:db8:1:3::1",
						&view, &retry, &err), FA_ENOTFOUND);
}

static void test_csrf(void **state)
{
	struct afx *f = *state;
	char token[FA_TOKEN_CHARS + 1], other[FA_TOKEN_CHARS + 1];
	struct fa_err err;

	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_csrf_new(f->az, SESSION_A, token, &err), FA_OK);
	assert_int_equal(strlen(token), FA_TOKEN_CHARS);
	assert_int_equal(fa_authz_device_csrf_check(f->az, SESSION_A, token, &err), FA_OK);
	/* Usable again within its lifetime (the page re-renders with it). */
	assert_int_equal(fa_authz_device_csrf_check(f->az, SESSION_A, token, &err), FA_OK);
	/* Another session's token. */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_csrf_check(f->az, SESSION_B, token, &err), FA_EDENIED);
	assert_string_equal(err.oauth_error, "access_denied");   /* the page: 403 */
	assert_non_null(strstr(err.msg, "another session"));
	/* Missing, malformed, unknown. */
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_csrf_check(f->az, SESSION_A, NULL, &err), FA_EDENIED);
	assert_non_null(strstr(err.msg, "missing its CSRF token"));
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_csrf_check(f->az, SESSION_A, "short", &err), FA_EDENIED);
	memcpy(other, token, sizeof(other));
	other[0] = other[0] == 'A' ? 'B' : 'A';
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_csrf_check(f->az, SESSION_A, other, &err), FA_EDENIED);
	assert_non_null(strstr(err.msg, "unknown or expired"));
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_csrf_check(f->az, NULL, token, &err), FA_EDENIED);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_csrf_new(f->az, "", other, &err), FA_EDENIED);
	/* Expired. */
	f->now_ms += FA_DEVICE_FORM_TTL_S * 1000LL;
	fa_err_clear(&err);
	assert_int_equal(fa_authz_device_csrf_check(f->az, SESSION_A, token, &err), FA_EDENIED);
	afx_assert_log_clean(f, token);
}

static void test_short_lifespan_config(void **state)
{
	struct afx *f = dfx_new("1500ms");
	struct fa_device_auth da;

	(void)state;
	assert_int_equal(f->az->device_ttl_s, 1);
	start(f, "tv", NULL, &da);
	assert_int_equal(da.expires_in, 1);
	f->now_ms += 1000;
	expect_poll(f, "tv", da.device_code, "expired_token");
	afx_teardown((void **)&f);
}

static void test_disabled_without_device_clients(void **state)
{
	struct afx *f = afx_new(true);   /* the default clients: none has the grant */

	(void)state;
	assert_false(f->az->device_enabled);
	assert_null(strstr(f->az->metadata_json, "device_authorization_endpoint"));
	assert_null(strstr(f->az->metadata_json, FA_GRANT_TYPE_DEVICE));
	afx_teardown((void **)&f);
	/* flyteadmin's default flytectl has it. */
	f = afx_new(false);
	assert_true(f->az->device_enabled);
	assert_true(afx_client(f, "flytectl")->grants & FA_GRANT_DEVICE);
	afx_teardown((void **)&f);
}

/* ---- concurrency ----------------------------------------------------------------- */

struct racer {
	struct afx *f;
	pthread_barrier_t *go;
	const char *device_code;
	enum fa_rc rc;
	char error[32];
	char msg[160];
	struct fa_authz_grant g;
};

static void *poll_racer(void *arg)
{
	struct racer *r = arg;
	struct fa_err err;

	fa_err_clear(&err);
	pthread_barrier_wait(r->go);
	r->rc = fa_authz_grant_device(r->f->az, fa_authz_client_get(r->f->az, "flytectl"),
				      r->device_code, &r->g, &err);
	snprintf(r->error, sizeof(r->error), "%s", err.oauth_error ? err.oauth_error : "");
	snprintf(r->msg, sizeof(r->msg), "%s", r->rc == FA_OK ? "" : err.msg);
	return NULL;
}

static int race(struct afx *f, const char *device_code, struct racer *r)
{
	pthread_t th[NTHREADS];
	pthread_barrier_t go;
	int wins = 0;

	pthread_barrier_init(&go, NULL, NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		r[i] = (struct racer){ .f = f, .go = &go, .device_code = device_code };
		assert_int_equal(pthread_create(&th[i], NULL, poll_racer, &r[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < NTHREADS; i++) {
		if (r[i].rc == FA_OK)
			wins++;
	}
	return wins;
}

/* Eight polls of one approved code: exactly one gets tokens. A loser that
 * read the code APPROVED and lost the redemption write is a plain
 * invalid_grant; one that read it REDEEMED is a replay and revokes the
 * family -- which of the two happens depends on the interleaving, so the
 * family's state is asserted from what the losers saw. A later replay
 * revokes it in any case. */
static void test_concurrent_redemption(void **state)
{
	struct afx *f = *state;
	struct racer r[NTHREADS];
	struct fa_device_auth da;
	struct fa_authz_grant w, g;
	struct fa_err err;
	int winner = -1, replays = 0;

	start(f, "flytectl", "all offline", &da);
	assert_int_equal(decide(f, da.user_code, SESSION_A, ADDR, true, &err), FA_OK);
	assert_int_equal(race(f, da.device_code, r), 1);
	for (int i = 0; i < NTHREADS; i++) {
		if (r[i].rc == FA_OK) {
			assert_non_null(r[i].g.access_token);
			assert_int_equal(strlen(r[i].g.refresh_token), FA_TOKEN_CHARS);
			winner = i;
		} else {
			assert_string_equal(r[i].error, "invalid_grant");
			assert_null(r[i].g.access_token);
			if (strstr(r[i].msg, "tokens it issued are revoked"))
				replays++;
			else
				assert_string_equal(r[i].msg, "device code was already used");
		}
	}
	w = r[winner].g;
	/* One family, one refresh token. */
	assert_int_equal(afx_count(f, FA_KIND_FAMILY), 1);
	assert_int_equal(afx_count(f, FA_KIND_RT), 1);
	assert_int_equal(introspect_active(f, w.refresh_token), replays == 0);
	assert_int_equal(introspect_active(f, w.access_token), replays == 0);
	/* A later replay: invalid_grant, and the winner's tokens are dead. */
	f->now_ms += 5000;
	expect_poll(f, "flytectl", da.device_code, "invalid_grant");
	assert_false(introspect_active(f, w.access_token));
	assert_false(introspect_active(f, w.refresh_token));
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_refresh(f->az, afx_client(f, "flytectl"), w.refresh_token,
						NULL, &g, &err), FA_EDENIED);
	assert_string_equal(err.oauth_error, "invalid_grant");
	for (int i = 0; i < NTHREADS; i++)
		fa_authz_grant_cleanup(&r[i].g);
}

struct decider {
	struct afx *f;
	pthread_barrier_t *go;
	const char *user_code;
	char session[32];
	bool approve;
	enum fa_rc rc;
};

static void *decide_racer(void *arg)
{
	struct decider *d = arg;
	struct fa_device_view view;
	json_t *user = afx_user();
	int64_t retry = 0;
	struct fa_err err;

	fa_err_clear(&err);
	pthread_barrier_wait(d->go);
	d->rc = fa_authz_device_decide(d->f->az, d->user_code, d->session, ADDR, user, d->approve,
				       &view, &retry, &err);
	json_decref(user);
	return NULL;
}

static void test_concurrent_decisions(void **state)
{
	struct afx *f = *state;
	struct decider d[NTHREADS];
	pthread_t th[NTHREADS];
	pthread_barrier_t go;
	struct fa_device_auth da;
	struct fa_authz_grant g;
	char error[32];
	bool winner_approved = false;
	int wins = 0;

	/* Approve and deny clicked in eight tabs at once: one decision. */
	start(f, "flytectl", NULL, &da);
	pthread_barrier_init(&go, NULL, NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		d[i] = (struct decider){ .f = f, .go = &go, .user_code = da.user_code,
					 .approve = i % 2 == 0 };
		snprintf(d[i].session, sizeof(d[i].session), "tab-%d", i);
		assert_int_equal(pthread_create(&th[i], NULL, decide_racer, &d[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < NTHREADS; i++) {
		if (d[i].rc == FA_OK) {
			wins++;
			winner_approved = d[i].approve;
		} else {
			assert_true(d[i].rc == FA_ECONFLICT || d[i].rc == FA_ENOTFOUND);
		}
	}
	assert_int_equal(wins, 1);
	if (winner_approved) {
		assert_int_equal(poll(f, "flytectl", da.device_code, &g, error), FA_OK);
		fa_authz_grant_cleanup(&g);
	} else {
		expect_poll(f, "flytectl", da.device_code, "access_denied");
	}
}

static void test_concurrent_pending_polls(void **state)
{
	struct afx *f = *state;
	struct racer r[NTHREADS];
	struct fa_device_auth da;
	int pending = 0, slow = 0;
	json_t *rec;

	/* Eight polls at one instant: exactly one is on time and the rest are
	 * too fast; each of those that lands within its bounded retries adds
	 * its 5 s (the rest are told slow_down all the same). */
	start(f, "flytectl", NULL, &da);
	assert_int_equal(race(f, da.device_code, r), 0);
	for (int i = 0; i < NTHREADS; i++) {
		if (strcmp(r[i].error, "authorization_pending") == 0)
			pending++;
		else if (strcmp(r[i].error, "slow_down") == 0)
			slow++;
	}
	assert_int_equal(pending, 1);
	assert_int_equal(slow, NTHREADS - 1);
	rec = device_rec(f, da.device_code, NULL);
	assert_true(fa_authz_jint(rec, "iv") >= 10);
	assert_true(fa_authz_jint(rec, "iv") <= 5 + 5 * (NTHREADS - 1));
	assert_int_equal(fa_authz_jint(rec, "iv") % 5, 0);
	json_decref(rec);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, dfx_setup, afx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_user_code_alphabet),
		cmocka_unit_test(test_user_code_normalize),
		T(test_start_response),
		T(test_user_code_collision_redrawn),
		T(test_device_code_hashed),
		T(test_start_errors),
		T(test_pending_approved_redeemed),
		T(test_no_refresh_without_offline),
		T(test_denied),
		T(test_decide_once),
		T(test_expired),
		T(test_slow_down_arithmetic),
		T(test_device_code_other_client),
		T(test_device_code_replay),
		T(test_unknown_device_code),
		T(test_user_code_brute_force),
		T(test_ipv6_throttle_per_prefix),
		T(test_csrf),
		cmocka_unit_test(test_short_lifespan_config),
		cmocka_unit_test(test_disabled_without_device_clients),
		T(test_concurrent_redemption),
		T(test_concurrent_decisions),
		T(test_concurrent_pending_polls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
