/* test_remote_keyset.c -- what the remote module keeps about other
 * servers, against a real server (remote_test_server.h): the key set
 * (cached, rotated in by one refetch on a new kid, unknown kids throttled
 * to one fetch per window, concurrent misses sharing one fetch, keys kept
 * while the server fails, a set never loaded failing fast, the RSA alg
 * pinned by the caller), the background holder (backoff, one log line per
 * new error, giving up, a cached initial value, refresh, stopping a load
 * in flight), and the issuer (discovery + keys + verification; down at
 * start then up; Entra ID's tenant template over TLS).
 */
#include "remote_test_server.h"

#include "remote/remote.h"

#define WINDOW_MS 400

/* A log written to memory. */
struct memlog {
	struct fa_log log;
	char *buf;
	size_t len;
};

static void memlog_open(struct memlog *m)
{
	memset(m, 0, sizeof(*m));
	m->log.fp = open_memstream(&m->buf, &m->len);
	m->log.min = FA_LOG_DEBUG;
	assert_non_null(m->log.fp);
}

/* Occurrences of s in what was logged so far. */
static int memlog_count(struct memlog *m, const char *s)
{
	int n = 0;

	fflush(m->log.fp);
	for (const char *p = m->buf; p && (p = strstr(p, s)); p++)
		n++;
	return n;
}

static void memlog_close(struct memlog *m)
{
	fclose(m->log.fp);
	free(m->buf);
}

struct fix {
	struct rts *s;
	struct fa_remote *r;
	struct fa_jwk *k1, *k2, *k3;
	char iss[64];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct fa_err e;

	f->s = rts_start(NULL, NULL);
	assert_int_equal(fa_remote_new(NULL, &f->r, &e), FA_OK);
	assert_int_equal(fa_jwk_generate("RS256", &f->k1, &e), FA_OK);
	assert_int_equal(fa_jwk_generate("ES256", &f->k2, &e), FA_OK);
	assert_int_equal(fa_jwk_generate("EdDSA", &f->k3, &e), FA_OK);
	rts_url(f->s, "", f->iss, sizeof(f->iss));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	fa_remote_free(f->r);
	rts_stop(f->s);
	fa_jwk_free(f->k1);
	fa_jwk_free(f->k2);
	fa_jwk_free(f->k3);
	free(f);
	return 0;
}

/* Serves the public JWKS of the given keys (NULL-terminated). */
static void serve_keys(struct fix *f, const struct fa_jwk *a, const struct fa_jwk *b)
{
	struct fa_jwks *s;
	char *text;
	struct fa_err e;

	assert_int_equal(fa_jwks_new(&s, &e), FA_OK);
	if (a)
		assert_int_equal(fa_jwks_add(s, a, &e), FA_OK);
	if (b)
		assert_int_equal(fa_jwks_add(s, b, &e), FA_OK);
	assert_int_equal(fa_jwks_format(s, &text, NULL, &e), FA_OK);
	rts_set_jwks(f->s, text, 200);
	free(text);
	fa_jwks_free(s);
}

static char *token(const struct fa_jwk *k, const char *iss, const char *tid)
{
	json_t *c = json_pack("{s:s,s:s,s:s,s:I}", "iss", iss, "sub", "alice", "aud", "flyteauth",
			      "exp", (json_int_t)(fa_now() + 300));
	char *t = NULL;

	if (tid)
		json_object_set_new(c, "tid", json_string(tid));
	assert_int_equal(fa_jwt_sign(k, "JWT", NULL, c, &t, NULL), FA_OK);
	json_decref(c);
	return t;
}

static enum fa_rc verify(struct fa_remote_jwks *ks, const char *tok, struct fa_err *e)
{
	struct fa_jwt_rules rules;
	json_t *claims = NULL;
	enum fa_rc rc;

	fa_jwt_rules_init(&rules);
	fa_err_clear(e);
	rc = fa_remote_jwks_verify(ks, &rules, tok, strlen(tok), &claims, NULL, e);
	if (rc == FA_OK)
		assert_string_equal(json_string_value(json_object_get(claims, "sub")), "alice");
	else
		assert_null(claims);
	json_decref(claims);
	return rc;
}

static struct fa_remote_jwks *keyset(struct fix *f, const struct fa_remote_jwks_opts *o)
{
	struct fa_remote_jwks *ks = NULL;
	char url[128];
	struct fa_err e;

	rts_url(f->s, "/jwks", url, sizeof(url));
	assert_int_equal(fa_remote_jwks_new(f->r, url, o, &ks, &e), FA_OK);
	assert_string_equal(fa_remote_jwks_uri(ks), url);
	return ks;
}

/* ---- key set ----------------------------------------------------------------- */

static void test_jwks_cached(void **state)
{
	struct fix *f = *state;
	struct fa_remote_jwks_opts o = { .min_refetch_ms = WINDOW_MS };
	struct fa_remote_jwks *ks;
	struct fa_remote_jwks_stats st;
	struct fa_jwks *set = NULL;
	char *t = token(f->k1, f->iss, NULL);
	struct fa_err e;

	serve_keys(f, f->k1, NULL);
	ks = keyset(f, &o);
	assert_int_equal(rts_jwks_hits(f->s), 0);   /* nothing until used */
	assert_int_equal(fa_remote_jwks_get(ks, &set, &e), FA_OK);
	assert_int_equal(fa_jwks_count(set), 1);
	fa_jwks_free(set);
	assert_int_equal(fa_remote_jwks_get(ks, &set, &e), FA_OK);
	fa_jwks_free(set);
	assert_int_equal(verify(ks, t, &e), FA_OK);
	assert_int_equal(rts_jwks_hits(f->s), 1);
	fa_remote_jwks_stats(ks, &st);
	assert_int_equal(st.fetches, 1);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.keys, 1);
	assert_true(st.last_success > 0);
	/* A reference outlives the creator's. */
	{
		struct fa_remote_jwks *again = fa_remote_jwks_dup(ks);

		fa_remote_jwks_free(ks);
		assert_int_equal(verify(again, t, &e), FA_OK);
		fa_remote_jwks_free(again);
	}
	free(t);
}

static void test_jwks_rotation(void **state)
{
	struct fix *f = *state;
	struct fa_remote_jwks_opts o = { .min_refetch_ms = WINDOW_MS };
	struct fa_remote_jwks *ks;
	struct fa_remote_jwks_stats st;
	struct rts_clock c;
	char *t1 = token(f->k1, f->iss, NULL), *t2 = token(f->k2, f->iss, NULL);
	struct fa_err e;

	rts_clock_start(&c);
	rts_clock_use(&c, &o);
	serve_keys(f, f->k1, NULL);
	ks = keyset(f, &o);
	assert_int_equal(verify(ks, t1, &e), FA_OK);
	assert_int_equal(rts_jwks_hits(f->s), 1);
	rts_clock_advance(&c, WINDOW_MS);
	/* The IdP rotates: the new kid is picked up after one refetch. */
	serve_keys(f, f->k2, NULL);
	assert_int_equal(verify(ks, t2, &e), FA_OK);
	assert_int_equal(rts_jwks_hits(f->s), 2);
	/* The retired key is gone, and inside the window asking again
	 * costs no request, up to its last millisecond. */
	expect_err(verify(ks, t1, &e), &e, FA_ENOTFOUND, "no key with kid");
	rts_clock_advance(&c, WINDOW_MS - 1);
	expect_err(verify(ks, t1, &e), &e, FA_ENOTFOUND, "no key with kid");
	assert_int_equal(rts_jwks_hits(f->s), 2);
	fa_remote_jwks_stats(ks, &st);
	assert_int_equal(st.kid_refetches, 1);
	assert_int_equal(st.throttled, 2);
	/* After the window, one more fetch. */
	rts_clock_advance(&c, 1);
	expect_err(verify(ks, t1, &e), &e, FA_ENOTFOUND, "no key with kid");
	assert_int_equal(rts_jwks_hits(f->s), 3);
	fa_remote_jwks_free(ks);
	free(t1);
	free(t2);
}

struct racer {
	struct fa_remote_jwks *ks;
	const char *tok;
	enum fa_rc rc;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct fa_err e;

	r->rc = verify(r->ks, r->tok, &e);
	return NULL;
}

static void run_racers(struct fa_remote_jwks *ks, const char *tok, enum fa_rc want)
{
	struct racer r[8];
	pthread_t t[8];

	for (int i = 0; i < 8; i++) {
		r[i] = (struct racer){ ks, tok, FA_EINVAL };
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(r[i].rc, want);
	}
}

static void test_jwks_single_flight(void **state)
{
	struct fix *f = *state;
	struct fa_remote_jwks_opts o = { .min_refetch_ms = WINDOW_MS };
	struct fa_remote_jwks *ks;
	struct rts_clock c;
	char *t2 = token(f->k2, f->iss, NULL), *t3 = token(f->k3, f->iss, NULL);
	struct fa_err e;

	rts_clock_start(&c);
	rts_clock_use(&c, &o);
	serve_keys(f, f->k2, NULL);
	ks = keyset(f, &o);
	/* Eight threads meet an empty set: one fetch serves them all. */
	run_racers(ks, t2, FA_OK);
	assert_int_equal(rts_jwks_hits(f->s), 1);
	/* Eight threads with a kid nobody has: at most one fetch per
	 * window (here none: the first fetch was just now). */
	serve_keys(f, f->k2, f->k3);
	run_racers(ks, t3, FA_ENOTFOUND);
	assert_int_equal(rts_jwks_hits(f->s), 1);
	fa_remote_jwks_free(ks);

	/* A fresh set, loaded, then a window that has passed: eight misses
	 * of the same new kid share one refetch. */
	ks = keyset(f, &o);
	serve_keys(f, f->k2, NULL);
	assert_int_equal(verify(ks, t2, &e), FA_OK);
	assert_int_equal(rts_jwks_hits(f->s), 2);
	rts_clock_advance(&c, WINDOW_MS);
	serve_keys(f, f->k2, f->k3);
	run_racers(ks, t3, FA_OK);
	assert_int_equal(rts_jwks_hits(f->s), 3);
	fa_remote_jwks_free(ks);
	free(t2);
	free(t3);
}

static void test_jwks_kept_while_down(void **state)
{
	struct fix *f = *state;
	struct fa_remote_jwks_opts o = { .min_refetch_ms = 100, .max_age_ms = 150 };
	struct fa_remote_jwks *ks;
	struct fa_remote_jwks_stats st;
	struct rts_clock c;
	struct memlog m;
	char *t1 = token(f->k1, f->iss, NULL), *t3 = token(f->k3, f->iss, NULL);
	struct fa_err e;

	memlog_open(&m);
	o.log = &m.log;
	rts_clock_start(&c);
	rts_clock_use(&c, &o);
	serve_keys(f, f->k1, NULL);
	ks = keyset(f, &o);
	assert_int_equal(verify(ks, t1, &e), FA_OK);
	/* Younger than max_age: no request. */
	rts_clock_advance(&c, 149);
	assert_int_equal(verify(ks, t1, &e), FA_OK);
	assert_int_equal(rts_jwks_hits(f->s), 1);
	/* The server breaks; the stale set is refreshed, fails, is kept. */
	rts_set_jwks(f->s, "{\"error\":\"down\"}", 500);
	rts_clock_advance(&c, 1);
	assert_int_equal(verify(ks, t1, &e), FA_OK);
	assert_int_equal(rts_jwks_hits(f->s), 2);
	/* Inside min_refetch after that failure: the old keys, no request. */
	rts_clock_advance(&c, 99);
	assert_int_equal(verify(ks, t1, &e), FA_OK);
	assert_int_equal(rts_jwks_hits(f->s), 2);
	assert_int_equal(memlog_count(&m, "cannot load JWKS"), 1);
	assert_int_equal(memlog_count(&m, "answered HTTP 500 (keeping the keys loaded before)"), 1);
	/* Garbage is a failure too, logged once as a new error. */
	rts_set_jwks(f->s, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"!\",\"e\":\"AQAB\"}]}", 200);
	rts_clock_advance(&c, 1);
	assert_int_equal(verify(ks, t1, &e), FA_OK);
	rts_clock_advance(&c, 100);
	assert_int_equal(verify(ks, t1, &e), FA_OK);
	assert_int_equal(rts_jwks_hits(f->s), 4);
	assert_int_equal(memlog_count(&m, "cannot load JWKS"), 2);
	/* Unknown kids fail closed and say the refetch failed. */
	rts_clock_advance(&c, 100);
	expect_err(verify(ks, t3, &e), &e, FA_ENOTFOUND, "(refetch failed)");
	assert_int_equal(rts_jwks_hits(f->s), 5);
	fa_remote_jwks_stats(ks, &st);
	assert_int_equal(st.fetches, 5);
	assert_int_equal(st.failures, 4);
	assert_int_equal(st.keys, 1);
	/* Back up: logged once. */
	serve_keys(f, f->k1, f->k3);
	rts_clock_advance(&c, 100);
	assert_int_equal(verify(ks, t3, &e), FA_OK);
	assert_int_equal(memlog_count(&m, "loaded again (2 keys)"), 1);
	fa_remote_jwks_free(ks);
	memlog_close(&m);
	free(t1);
	free(t3);
}

static void test_jwks_never_loaded(void **state)
{
	struct fix *f = *state;
	struct fa_remote_jwks_opts o = { .min_refetch_ms = WINDOW_MS };
	struct fa_remote_jwks *ks;
	struct fa_jwks *set = NULL;
	struct rts_clock c;
	char *t1 = token(f->k1, f->iss, NULL);
	struct fa_err e;

	rts_clock_start(&c);
	rts_clock_use(&c, &o);
	rts_set_jwks(f->s, "<html>", 502);
	ks = keyset(f, &o);
	expect_err(fa_remote_jwks_get(ks, &set, &e), &e, FA_ENET, "answered HTTP 502");
	/* Inside the window no new request: the last failure again. */
	rts_clock_advance(&c, WINDOW_MS - 1);
	expect_err(verify(ks, t1, &e), &e, FA_ENET, "answered HTTP 502");
	assert_int_equal(rts_jwks_hits(f->s), 1);
	rts_clock_advance(&c, 1);
	serve_keys(f, f->k1, NULL);
	assert_int_equal(verify(ks, t1, &e), FA_OK);
	assert_int_equal(rts_jwks_hits(f->s), 2);
	assert_null(set);
	fa_remote_jwks_free(ks);
	free(t1);
}

static void test_jwks_rsa_alg(void **state)
{
	struct fix *f = *state;
	struct fa_remote_jwks_opts o = { .rsa_alg = FA_JWS_PS256 };
	struct fa_remote_jwks *ks;
	struct fa_jwk *ps = NULL;
	char *pem, *t_ps, *t_rs;
	size_t len;
	struct fa_err e;
	json_t *pub;
	char *text, doc[8192];

	/* The IdP publishes its RSA key without alg and signs PS256. */
	assert_int_equal(fa_jwk_private_pem_dup(f->k1, &pem, &len, &e), FA_OK);
	assert_int_equal(fa_jwk_from_pem_alg(pem, len, FA_JWS_PS256, &ps, &e), FA_OK);
	fa_free_secret(pem);
	assert_int_equal(fa_jwk_public_json(f->k1, &pub, &e), FA_OK);
	json_object_del(pub, "alg");
	text = json_dumps(pub, JSON_COMPACT);
	snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", text);
	rts_set_jwks(f->s, doc, 200);
	t_ps = token(ps, f->iss, NULL);
	t_rs = token(f->k1, f->iss, NULL);
	ks = keyset(f, &o);
	assert_int_equal(verify(ks, t_ps, &e), FA_OK);
	expect_err(verify(ks, t_rs, &e), &e, FA_EDENIED, "alg RS256 is not the alg PS256 of key");
	fa_remote_jwks_free(ks);
	o.rsa_alg = FA_JWS_ES256;
	expect_err(fa_remote_jwks_new(f->r, "http://127.0.0.1/jwks", &o, &ks, &e), &e, FA_EINVAL,
		   "must be an RSA alg");
	free(text);
	json_decref(pub);
	free(t_ps);
	free(t_rs);
	fa_jwk_free(ps);
}

/* ---- holder ----------------------------------------------------------------------- */

/* A load that fails `fail` times, then hands out 1, 2, 3... (or blocks
 * until cancelled when `block`). Values are ints in malloc'd refcounted
 * cells: [refs, value]. */
struct source {
	pthread_mutex_t mu;
	int fail, calls, next;
	bool block;
	int64_t at[16];
};

static void *cell_dup(void *v)
{
	__atomic_add_fetch(&((int *)v)[0], 1, __ATOMIC_SEQ_CST);
	return v;
}

static void cell_free(void *v)
{
	if (__atomic_sub_fetch(&((int *)v)[0], 1, __ATOMIC_SEQ_CST) == 0)
		free(v);
}

static int *cell_new(int value)
{
	int *c = malloc(2 * sizeof(int));

	c[0] = 1;
	c[1] = value;
	return c;
}

static enum fa_rc source_load(void *ctx, const atomic_bool *cancel, void **out, struct fa_err *err)
{
	struct source *s = ctx;
	bool fail, block;

	pthread_mutex_lock(&s->mu);
	if (s->calls < 16)
		s->at[s->calls] = fa_mono_ms();
	s->calls++;
	fail = s->fail > 0;
	if (fail)
		s->fail--;
	block = s->block;
	pthread_mutex_unlock(&s->mu);
	if (block) {
		for (int i = 0; i < 1000 && !atomic_load(cancel); i++)
			rts_sleep_ms(10);
		return fa_err_set(err, FA_ENET, "http://src/doc: cancelled");
	}
	if (fail)
		return fa_err_set(err, FA_ENET, "http://src/doc: Connection refused");
	pthread_mutex_lock(&s->mu);
	*out = cell_new(++s->next);
	pthread_mutex_unlock(&s->mu);
	return FA_OK;
}

static const struct fa_remote_holder_ops source_ops = { source_load, cell_dup, cell_free };

/* Starts a holder on src that logs into m. */
static struct fa_remote_holder *start_logged(struct source *src, struct fa_remote_holder_opts *o,
					     struct memlog *m)
{
	struct fa_remote_holder *h = NULL;
	struct fa_err e;

	pthread_mutex_init(&src->mu, NULL);
	memlog_open(m);
	o->log = &m->log;
	assert_int_equal(fa_remote_holder_start(&source_ops, src, o, NULL, &h, &e), FA_OK);
	return h;
}

static int source_calls(struct source *s)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->calls;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void test_holder_backoff(void **state)
{
	struct source src = { .fail = 3 };
	struct fa_remote_holder_opts o = { .what = "the test document", .first_delay_ms = 60,
					   .max_delay_ms = 120 };
	struct memlog m;
	struct fa_remote_holder *h = start_logged(&src, &o, &m);
	struct fa_remote_holder_stats st;
	struct fa_err e;
	void *v = NULL;

	(void)state;
	assert_int_equal(fa_remote_holder_wait(h, 2000), FA_HOLDER_LOADING);
	expect_err(fa_remote_holder_get(h, &v, &e), &e, FA_ENET, "http://src/doc: Connection refused");
	for (int i = 0; i < 300 && fa_remote_holder_get(h, &v, NULL) != FA_OK; i++)
		rts_sleep_ms(10);
	assert_non_null(v);
	assert_int_equal(((int *)v)[1], 1);
	cell_free(v);
	fa_remote_holder_stats(h, &st);
	assert_int_equal(st.state, FA_HOLDER_READY);
	assert_int_equal(st.attempts, 4);
	assert_int_equal(st.failures, 3);
	assert_int_equal(st.consecutive_failures, 0);
	assert_int_equal(st.next_attempt_in_ms, -1);   /* no refresh asked for */
	/* 60 ms, then doubling to the 120 ms cap. */
	assert_true(src.at[1] - src.at[0] >= 55);
	assert_true(src.at[2] - src.at[1] >= 115);
	assert_true(src.at[3] - src.at[2] >= 115);
	assert_true(src.at[3] - src.at[2] < 1000);
	/* One line for three identical failures, one for the recovery. */
	assert_int_equal(memlog_count(&m, "cannot load the test document: http://src/doc: "
				      "Connection refused; none loaded yet, retrying in 60ms "
				      "(backing off to 120ms)"), 1);
	assert_int_equal(memlog_count(&m, "cannot load"), 1);
	assert_int_equal(memlog_count(&m, "loaded the test document after 3 failed attempt(s)"), 1);
	fa_remote_holder_free(h);
	fa_remote_holder_free(NULL);
	memlog_close(&m);
	pthread_mutex_destroy(&src.mu);
}

static void test_holder_gives_up(void **state)
{
	struct source src = { .fail = 100 };
	struct fa_remote_holder_opts o = { .what = "the metadata", .first_delay_ms = 20,
					   .max_attempts = 3 };
	struct memlog m;
	struct fa_remote_holder *h = start_logged(&src, &o, &m);
	struct fa_remote_holder_stats st;
	struct fa_err e;
	void *v = NULL;

	(void)state;
	for (int i = 0; i < 300; i++) {
		fa_remote_holder_stats(h, &st);
		if (st.state == FA_HOLDER_FAILED)
			break;
		rts_sleep_ms(10);
	}
	assert_int_equal(st.state, FA_HOLDER_FAILED);
	assert_int_equal(st.attempts, 3);
	assert_int_equal(st.next_attempt_in_ms, -1);
	expect_err(fa_remote_holder_get(h, &v, &e), &e, FA_EEXPIRED, "Connection refused");
	assert_int_equal(fa_remote_holder_wait(h, 10), FA_HOLDER_FAILED);
	rts_sleep_ms(100);
	assert_int_equal(source_calls(&src), 3);
	assert_int_equal(memlog_count(&m, "giving up on the metadata after 3 attempt(s)"), 1);
	fa_remote_holder_free(h);
	memlog_close(&m);
	pthread_mutex_destroy(&src.mu);
}

static void test_holder_initial_and_refresh(void **state)
{
	struct source src = { .next = 100 };
	struct fa_remote_holder_opts o = { .first_delay_ms = 20, .refresh_ms = 50 };
	struct fa_remote_holder *h;
	struct fa_err e;
	void *v = NULL;
	int seen;

	(void)state;
	pthread_mutex_init(&src.mu, NULL);
	/* The cached copy is served at once. */
	pthread_mutex_lock(&src.mu);
	src.block = false;
	pthread_mutex_unlock(&src.mu);
	assert_int_equal(fa_remote_holder_start(&source_ops, &src, &o, cell_new(7), &h, &e), FA_OK);
	assert_int_equal(fa_remote_holder_wait(h, 0), FA_HOLDER_READY);
	assert_int_equal(fa_remote_holder_get(h, &v, &e), FA_OK);
	seen = ((int *)v)[1];
	assert_true(seen == 7 || seen == 101);
	cell_free(v);
	/* Refreshed every 50 ms. */
	rts_sleep_ms(300);
	assert_int_equal(fa_remote_holder_get(h, &v, &e), FA_OK);
	assert_true(((int *)v)[1] >= 103);
	cell_free(v);
	/* Failures keep the last good value. */
	pthread_mutex_lock(&src.mu);
	src.fail = 1000;
	pthread_mutex_unlock(&src.mu);
	rts_sleep_ms(150);
	assert_int_equal(fa_remote_holder_get(h, &v, &e), FA_OK);
	assert_true(((int *)v)[1] >= 103);
	cell_free(v);
	fa_remote_holder_free(h);
	pthread_mutex_destroy(&src.mu);
}

static void test_holder_stop_cancels(void **state)
{
	struct source src = { .block = true };
	struct fa_remote_holder_opts o = { 0 };
	struct fa_remote_holder *h;
	struct fa_err e;
	int64_t t0;

	(void)state;
	pthread_mutex_init(&src.mu, NULL);
	assert_int_equal(fa_remote_holder_start(&source_ops, &src, &o, NULL, &h, &e), FA_OK);
	while (source_calls(&src) == 0)
		rts_sleep_ms(5);
	t0 = fa_mono_ms();
	fa_remote_holder_free(h);
	assert_true(fa_mono_ms() - t0 < 1000);
	/* Bad arguments. */
	expect_err(fa_remote_holder_start(NULL, &src, &o, NULL, &h, &e), &e, FA_EINVAL,
		   "needs load, dup, free");
	o.first_delay_ms = -1;
	expect_err(fa_remote_holder_start(&source_ops, &src, &o, NULL, &h, &e), &e, FA_EINVAL,
		   "must not be negative");
	pthread_mutex_destroy(&src.mu);
}

/* ---- issuer --------------------------------------------------------------------- */

static void serve_discovery(struct fix *f, const char *issuer, const char *base)
{
	pthread_mutex_lock(&f->s->mu);
	snprintf(f->s->disc, sizeof(f->s->disc),
		 "{\"issuer\":\"%s\",\"authorization_endpoint\":\"%s/auth\",\"token_endpoint\":"
		 "\"%s/token\",\"jwks_uri\":\"%s/jwks\",\"response_types_supported\":[\"code\"],"
		 "\"subject_types_supported\":[\"public\"],"
		 "\"id_token_signing_alg_values_supported\":[\"RS256\",\"ES256\"]}",
		 issuer, base, base, base);
	pthread_mutex_unlock(&f->s->mu);
}

static void on_update(void *ctx, const struct fa_discovery *d)
{
	(void)d;
	__atomic_add_fetch((int *)ctx, 1, __ATOMIC_SEQ_CST);
}

static enum fa_rc issuer_verify(struct fa_remote_issuer *iss, const char *tok, struct fa_err *e)
{
	struct fa_jwt_rules rules;
	json_t *claims = NULL, *header = NULL;
	enum fa_rc rc;
	static const char *const aud[] = { "flyteauth" };

	fa_jwt_rules_init(&rules);
	rules.audiences = aud;
	rules.n_audiences = 1;
	rules.issuer = "https://ignored.example.com";   /* the document decides */
	fa_err_clear(e);
	rc = fa_remote_issuer_verify(iss, &rules, tok, strlen(tok), &claims, &header, e);
	if (rc == FA_OK)
		assert_non_null(json_object_get(header, "kid"));
	else
		assert_null(claims);
	json_decref(claims);
	json_decref(header);
	return rc;
}

static void test_issuer(void **state)
{
	struct fix *f = *state;
	struct fa_remote_issuer_opts o = { .kind = FA_DISCOVERY_OIDC, .first_delay_ms = 50 };
	struct fa_remote_issuer *iss;
	struct fa_remote_issuer_stats st;
	struct fa_discovery *d = NULL;
	int count = 0;
	char *good, *wrong;
	struct fa_err e;

	o.issuer = f->iss;
	o.on_update = on_update;
	o.ctx = &count;
	serve_discovery(f, f->iss, f->iss);
	serve_keys(f, f->k1, f->k2);
	assert_int_equal(fa_remote_issuer_start(f->r, &o, &iss, &e), FA_OK);
	assert_int_equal(fa_remote_issuer_wait(iss, 5000), FA_HOLDER_READY);
	assert_int_equal(fa_remote_issuer_discovery(iss, &d, &e), FA_OK);
	assert_string_equal(d->issuer, f->iss);
	fa_discovery_free(d);
	assert_int_equal(__atomic_load_n(&count, __ATOMIC_SEQ_CST), 1);
	/* The key set was warmed by the load. */
	assert_int_equal(rts_jwks_hits(f->s), 1);
	good = token(f->k2, f->iss, NULL);
	assert_int_equal(issuer_verify(iss, good, &e), FA_OK);
	wrong = token(f->k2, "http://127.0.0.1:1", NULL);
	expect_err(issuer_verify(iss, wrong, &e), &e, FA_EDENIED, "token issuer is not");
	assert_int_equal(rts_jwks_hits(f->s), 1);
	fa_remote_issuer_stats(iss, &st);
	assert_int_equal(st.discovery.state, FA_HOLDER_READY);
	assert_int_equal(st.discovery.attempts, 1);
	assert_int_equal(st.jwks.fetches, 1);
	assert_int_equal(st.jwks.keys, 2);
	fa_remote_issuer_free(iss);
	free(good);
	free(wrong);
}

static void test_issuer_down_at_start(void **state)
{
	struct fix *f = *state;
	struct fa_remote_issuer_opts o = { .kind = FA_DISCOVERY_OIDC, .first_delay_ms = 50,
					   .max_delay_ms = 100 };
	struct fa_remote_issuer *iss;
	struct fa_discovery *d = NULL;
	struct memlog m;
	char want[512], *good;
	struct fa_err e;
	int i;

	memlog_open(&m);
	o.log = &m.log;
	o.issuer = f->iss;
	serve_keys(f, f->k1, NULL);
	/* disc empty: the server answers 503. */
	assert_int_equal(fa_remote_issuer_start(f->r, &o, &iss, &e), FA_OK);
	assert_int_equal(fa_remote_issuer_wait(iss, 5000), FA_HOLDER_LOADING);
	snprintf(want, sizeof(want), "%s/.well-known/openid-configuration: answered HTTP 503", f->iss);
	expect_err(fa_remote_issuer_discovery(iss, &d, &e), &e, FA_ENET, want);
	good = token(f->k1, f->iss, NULL);
	expect_err(issuer_verify(iss, good, &e), &e, FA_ENET, "answered HTTP 503");
	snprintf(want, sizeof(want), "cannot load the IdP's discovery document: %s/.well-known/"
		 "openid-configuration: answered HTTP 503; none loaded yet, retrying in 50ms", f->iss);
	rts_sleep_ms(300);
	assert_int_equal(memlog_count(&m, want), 1);
	assert_int_equal(memlog_count(&m, "cannot load"), 1);
	/* The IdP comes up. */
	serve_discovery(f, f->iss, f->iss);
	for (i = 0; i < 200 && fa_remote_issuer_discovery(iss, &d, NULL) != FA_OK; i++)
		rts_sleep_ms(10);
	assert_non_null(d);
	fa_discovery_free(d);
	assert_int_equal(issuer_verify(iss, good, &e), FA_OK);
	assert_int_equal(memlog_count(&m, "loaded the IdP's discovery document after"), 1);
	fa_remote_issuer_free(iss);
	memlog_close(&m);
	free(good);
	/* A document whose issuer is not ours never becomes READY. */
	serve_discovery(f, "http://127.0.0.1:1", f->iss);
	o.log = NULL;
	o.max_attempts = 1;
	assert_int_equal(fa_remote_issuer_start(f->r, &o, &iss, &e), FA_OK);
	assert_int_equal(fa_remote_issuer_wait(iss, 5000), FA_HOLDER_FAILED);
	expect_err(fa_remote_issuer_discovery(iss, &d, &e), &e, FA_EEXPIRED, "is not the expected");
	fa_remote_issuer_free(iss);
}

/* Stopping an issuer aborts the key set fetch its holder is making. */
static void test_issuer_stops_during_warmup(void **state)
{
	struct fix *f = *state;
	struct fa_remote_issuer_opts o = { .kind = FA_DISCOVERY_OIDC };
	struct fa_remote_issuer *iss;
	struct fa_err e;
	int64_t t0;

	o.issuer = f->iss;
	pthread_mutex_lock(&f->s->mu);
	f->s->delay_ms = 4000;
	snprintf(f->s->disc, sizeof(f->s->disc),
		 "{\"issuer\":\"%s\",\"authorization_endpoint\":\"%s/auth\",\"token_endpoint\":"
		 "\"%s/token\",\"jwks_uri\":\"%s/slow\",\"response_types_supported\":[\"code\"],"
		 "\"subject_types_supported\":[\"public\"],"
		 "\"id_token_signing_alg_values_supported\":[\"RS256\"]}", f->iss, f->iss, f->iss, f->iss);
	pthread_mutex_unlock(&f->s->mu);
	assert_int_equal(fa_remote_issuer_start(f->r, &o, &iss, &e), FA_OK);
	for (int hits = 0; hits == 0; rts_sleep_ms(10)) {
		pthread_mutex_lock(&f->s->mu);
		hits = f->s->disc_hits;
		pthread_mutex_unlock(&f->s->mu);
	}
	rts_sleep_ms(200);   /* now inside the key set fetch */
	t0 = fa_mono_ms();
	fa_remote_issuer_free(iss);
	assert_true(fa_mono_ms() - t0 < 2500);
}

static void test_issuer_entra_template(void **state)
{
	static const char tid[] = "72f988bf-86f1-41af-91ab-2d7cd011db47";
	static const char other[] = "9188040d-6c67-4c5b-b112-36a304b66dad";
	struct fix *f = *state;
	struct fa_remote_issuer_opts io = { .kind = FA_DISCOVERY_OIDC };
	struct fa_remote_opts ro = { 0 };
	struct fa_remote *r;
	struct fa_remote_issuer *iss;
	struct rts *tls;
	char dir[64], ca[128], base[128], meta[256], iss_tid[128], iss_other[128];
	char *cert, *key, *t_ok, *t_swapped, *t_none;
	struct fa_err e;

	if (system("command -v openssl >/dev/null 2>&1") != 0)
		skip();
	snprintf(dir, sizeof(dir), "/tmp/fa_remote_entra.XXXXXX");
	assert_non_null(mkdtemp(dir));
	rts_make_pki(dir, "e");
	snprintf(ca, sizeof(ca), "%s/e-ca.pem", dir);
	cert = rts_read(dir, "e-cert.pem");
	key = rts_read(dir, "e-key.pem");
	tls = rts_start(cert, key);
	rts_url(tls, "", base, sizeof(base));
	rts_url(tls, "/common/v2.0/.well-known/openid-configuration", meta, sizeof(meta));
	/* Entra ID's common endpoint publishes the {tenantid} template; the
	 * document is served from here, its keys too. */
	pthread_mutex_lock(&tls->mu);
	snprintf(tls->disc, sizeof(tls->disc),
		 "{\"issuer\":\"https://login.microsoftonline.com/{tenantid}/v2.0\","
		 "\"authorization_endpoint\":\"%s/auth\",\"token_endpoint\":\"%s/token\","
		 "\"jwks_uri\":\"%s/jwks\",\"response_types_supported\":[\"code\"],"
		 "\"subject_types_supported\":[\"pairwise\"],"
		 "\"id_token_signing_alg_values_supported\":[\"RS256\"]}", base, base, base);
	pthread_mutex_unlock(&tls->mu);
	{
		struct fix tf = { .s = tls };

		serve_keys(&tf, f->k1, NULL);
	}
	ro.ca_file = ca;
	assert_int_equal(fa_remote_new(&ro, &r, &e), FA_OK);
	io.issuer = "https://login.microsoftonline.com/common/v2.0";
	io.metadata_url = meta;
	assert_int_equal(fa_remote_issuer_start(r, &io, &iss, &e), FA_OK);
	assert_int_equal(fa_remote_issuer_wait(iss, 5000), FA_HOLDER_READY);
	snprintf(iss_tid, sizeof(iss_tid), "https://login.microsoftonline.com/%s/v2.0", tid);
	snprintf(iss_other, sizeof(iss_other), "https://login.microsoftonline.com/%s/v2.0", other);
	/* The issuer must be the template filled with the token's own tid. */
	t_ok = token(f->k1, iss_tid, tid);
	assert_int_equal(issuer_verify(iss, t_ok, &e), FA_OK);
	t_swapped = token(f->k1, iss_other, tid);
	expect_err(issuer_verify(iss, t_swapped, &e), &e, FA_EDENIED, "token issuer is not");
	t_none = token(f->k1, iss_tid, NULL);
	expect_err(issuer_verify(iss, t_none, &e), &e, FA_EDENIED, "no tid claim holding a GUID");
	fa_remote_issuer_free(iss);
	fa_remote_free(r);
	rts_stop(tls);
	free(cert);
	free(key);
	free(t_ok);
	free(t_swapped);
	free(t_none);
	rts_rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_jwks_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jwks_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jwks_single_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jwks_kept_while_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jwks_never_loaded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jwks_rsa_alg, setup, teardown),
		cmocka_unit_test(test_holder_backoff),
		cmocka_unit_test(test_holder_gives_up),
		cmocka_unit_test(test_holder_initial_and_refresh),
		cmocka_unit_test(test_holder_stop_cancels),
		cmocka_unit_test_setup_teardown(test_issuer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issuer_down_at_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issuer_stops_during_warmup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issuer_entra_template, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
