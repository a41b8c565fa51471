/* test_authz_concurrency.c -- the authorization server under threads, as
 * the HTTP worker pool runs it: eight threads refreshing one refresh token
 * (exactly one wins and the family stays intact for the winner), eight
 * threads redeeming one code (exactly one wins), and the cost of a
 * client_credentials grant next to the raw cost of signing (issue 3 item 9:
 * the grant must be bounded by signing).
 *
 * Threads only record results; all asserts run on the main thread (cmocka
 * is not thread-safe). The wall clock is used here, as in production.
 */
#include <pthread.h>

#include "test_authz_fixture.h"

#define NTHREADS 8

struct racer {
	struct afx *f;
	pthread_barrier_t *go;
	const char *token;
	const char *code;
	enum fa_rc rc;
	char oauth_error[32];
	struct fa_authz_grant g;
};

static void record(struct racer *r, enum fa_rc rc, const struct fa_err *err)
{
	r->rc = rc;
	snprintf(r->oauth_error, sizeof(r->oauth_error), "%s",
		 err->oauth_error ? err->oauth_error : "");
}

static void *refresh_racer(void *arg)
{
	struct racer *r = arg;
	struct fa_err err;
	enum fa_rc rc;

	fa_err_clear(&err);
	pthread_barrier_wait(r->go);
	rc = fa_authz_grant_refresh(r->f->az, fa_authz_client_get(r->f->az, "flytectl"), r->token,
				    NULL, &r->g, &err);
	record(r, rc, &err);
	return NULL;
}

static void *code_racer(void *arg)
{
	struct racer *r = arg;
	struct fa_err err;
	enum fa_rc rc;

	fa_err_clear(&err);
	pthread_barrier_wait(r->go);
	rc = fa_authz_grant_code(r->f->az, fa_authz_client_get(r->f->az, "flytectl"), r->code,
				 "http://localhost:53593/callback", CHALLENGE_VERIFIER, &r->g, &err);
	record(r, rc, &err);
	return NULL;
}

static int race(struct afx *f, void *(*fn)(void *), const char *token, const char *code,
		struct racer *r)
{
	pthread_t th[NTHREADS];
	pthread_barrier_t go;
	int wins = 0;

	pthread_barrier_init(&go, NULL, NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		r[i] = (struct racer){ .f = f, .go = &go, .token = token, .code = code };
		assert_int_equal(pthread_create(&th[i], NULL, fn, &r[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < NTHREADS; i++) {
		if (r[i].rc == FA_OK) {
			wins++;
		} else {
			/* Every loser gets invalid_grant, never a 500. */
			assert_int_equal(r[i].rc, FA_EDENIED);
			assert_string_equal(r[i].oauth_error, "invalid_grant");
		}
	}
	return wins;
}

static void start(struct afx *f, struct fa_authz_grant *g)
{
	char code[FA_TOKEN_CHARS + 1];
	struct fa_err err;

	afx_code(f, "flytectl", "http://localhost:53593/callback", "all offline", CHALLENGE, code);
	fa_err_clear(&err);
	assert_int_equal(fa_authz_grant_code(f->az, fa_authz_client_get(f->az, "flytectl"), code,
					     "http://localhost:53593/callback", CHALLENGE_VERIFIER,
					     g, &err), FA_OK);
}

static void test_refresh_race(void **state)
{
	struct afx *f = *state;
	struct racer r[NTHREADS];
	struct fa_authz_grant g0, next;
	struct fa_err err;
	int winner = -1;

	fa_authz_set_clock(f->az, NULL, NULL);
	for (int round = 0; round < 3; round++) {
		start(f, &g0);
		assert_int_equal(race(f, refresh_racer, g0.refresh_token, NULL, r), 1);
		for (int i = 0; i < NTHREADS; i++) {
			if (r[i].rc == FA_OK)
				winner = i;
		}
		/* The family is intact for the winner: its refresh token rotates
		 * and its access token is live. */
		fa_err_clear(&err);
		assert_int_equal(fa_authz_grant_refresh(f->az, fa_authz_client_get(f->az, "flytectl"),
							r[winner].g.refresh_token, NULL, &next,
							&err), FA_OK);
		{
			json_t *o = NULL;

			assert_int_equal(fa_authz_introspect(f->az, r[winner].g.access_token, NULL, &o,
							     &err), FA_OK);
			assert_true(json_is_true(json_object_get(o, "active")));
			json_decref(o);
		}
		fa_authz_grant_cleanup(&next);
		for (int i = 0; i < NTHREADS; i++)
			fa_authz_grant_cleanup(&r[i].g);
		fa_authz_grant_cleanup(&g0);
	}
}

static void test_code_race(void **state)
{
	struct afx *f = *state;
	struct racer r[NTHREADS];
	char code[FA_TOKEN_CHARS + 1];

	fa_authz_set_clock(f->az, NULL, NULL);
	for (int round = 0; round < 3; round++) {
		afx_code(f, "flytectl", "http://localhost:53593/callback", "all offline", CHALLENGE,
			 code);
		assert_int_equal(race(f, code_racer, NULL, code, r), 1);
		for (int i = 0; i < NTHREADS; i++)
			fa_authz_grant_cleanup(&r[i].g);
	}
	/* One family per code, never two. */
	assert_int_equal(afx_count(f, FA_KIND_FAMILY), 3);
}

static double rate(int64_t n, int64_t ms)
{
	return ms > 0 ? (double)n * 1000.0 / (double)ms : 0.0;
}

/* client_credentials = client auth (remembered check) + claims + one RSA
 * signature. The grant must stay close to the bare signing rate. */
static void test_client_credentials_speed(void **state)
{
	struct afx *f = *state;
	struct fa_jwk *rsa = NULL;
	struct fa_jwks *set = NULL;
	struct fa_authz *az;
	struct fa_authz_opts o;
	struct fa_authz_creds cr = { .client_id = "flytepropeller", .client_secret = PROP_SECRET };
	const struct fa_authz_client *c;
	struct fa_authz_grant g;
	struct fa_err err;
	const int n = 300;
	int64_t t0, sign_ms, grant_ms;
	bool basic;
	double sign_rate, grant_rate;

	fa_err_clear(&err);
	assert_int_equal(fa_jwk_generate("RS256", &rsa, &err), FA_OK);
	assert_int_equal(fa_jwks_new(&set, &err), FA_OK);
	assert_int_equal(fa_jwks_add(set, rsa, &err), FA_OK);
	o = (struct fa_authz_opts){ .cfg = f->cfg, .store = f->st, .log = &f->log,
				    .signing_key = rsa, .verify_keys = set, .issuer = ISSUER };
	az = fa_authz_new(&o, &err);
	assert_non_null(az);
	/* Warm the remembered secret check (one bcrypt). */
	assert_int_equal(fa_authz_client_auth(az, &cr, &c, &basic, &err), FA_OK);

	t0 = fa_mono_ms();
	for (int i = 0; i < n; i++) {
		char *tok = NULL;

		assert_int_equal(fa_jws_sign(rsa, "at+jwt", NULL, "{\"sub\":\"flytepropeller\"}", 24,
					     &tok, &err), FA_OK);
		free(tok);
	}
	sign_ms = fa_mono_ms() - t0;
	t0 = fa_mono_ms();
	for (int i = 0; i < n; i++) {
		assert_int_equal(fa_authz_client_auth(az, &cr, &c, &basic, &err), FA_OK);
		assert_int_equal(fa_authz_grant_client_credentials(az, c, NULL, NULL, &g, &err),
				 FA_OK);
		fa_authz_grant_cleanup(&g);
	}
	grant_ms = fa_mono_ms() - t0;
	sign_rate = rate(n, sign_ms);
	grant_rate = rate(n, grant_ms);
	print_message("client_credentials: %.0f grants/s, RS256 sign: %.0f/s (%.0f%%)\n",
		      grant_rate, sign_rate, sign_rate > 0 ? 100.0 * grant_rate / sign_rate : 0.0);
	/* Loose bound so it holds under sanitizers; release builds are far
	 * closer (see the report in bench/). */
	assert_true(grant_rate >= 0.5 * sign_rate);
	fa_authz_free(az);
	fa_jwks_free(set);
	fa_jwk_free(rsa);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, afx_setup, afx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_refresh_race),
		T(test_code_race),
		T(test_client_credentials_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
