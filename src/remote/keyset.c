/* keyset.c -- the last good JWKS of one jwks_uri, shared by every thread
 * that verifies tokens of that issuer.
 *
 * Invariants (remote.h lists them for callers):
 *  1. set only changes on a successful fetch; a failure keeps it.
 *  2. fetching is true while exactly one thread fetches, without the lock;
 *     everyone else who needs that fetch waits on cv for generation to
 *     move, then reads set.
 *  3. last_attempt_ms is stamped when a fetch starts; a fetch for an
 *     unknown kid, or after a failure, starts only when min_refetch_ms has
 *     passed since it.
 *  4. A stale set is refreshed by the caller that notices (if 3 allows and
 *     nobody is fetching); others read the old set meanwhile.
 *  5. set is only ever replaced, never modified: readers hold their own
 *     reference.
 *
 * State by (set, fetching):
 *   EMPTY   (NULL, false) -> FETCHING [fa_remote_jwks_get, first use]
 *   FETCHING(any,  true)  -> LOADED on success, back on failure [do_fetch]
 *   LOADED  (set,  false) -> FETCHING [stale in get, unknown kid in verify]
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "remote/remote_int.h"

struct fa_remote_jwks {
	atomic_int refs;
	const struct fa_remote *r;
	char *uri;
	int64_t min_refetch_ms;
	int64_t max_age_ms;
	size_t max_bytes;
	enum fa_jws_alg rsa_alg;
	const struct fa_log *log;
	int64_t (*clock_ms)(void *arg);
	void *clock_arg;

	pthread_mutex_t mu;             /* guards everything below */
	pthread_cond_t cv;              /* generation moved */
	struct fa_jwks *set;            /* NULL until the first success */
	int64_t loaded_ms;              /* monotonic time of the last success */
	int64_t last_attempt_ms;        /* monotonic start of the last fetch; 0: never */
	uint64_t generation;            /* completed fetches */
	bool fetching;
	bool failing;                   /* the last fetch failed */
	struct fa_err last_err;
	struct fa_remote_jwks_stats st;
};

enum fa_rc fa_remote_jwks_new(const struct fa_remote *r, const char *jwks_uri,
			      const struct fa_remote_jwks_opts *opts,
			      struct fa_remote_jwks **out, struct fa_err *err)
{
	static const struct fa_remote_jwks_opts none;
	struct fa_remote_jwks *ks;
	enum fa_rc rc;

	*out = NULL;
	if (!opts)
		opts = &none;
	if ((rc = fa_remote_url_check(jwks_uri, "jwks_uri", err)) != FA_OK)
		return rc;
	if (opts->min_refetch_ms < 0 || opts->max_age_ms < 0)
		return fa_err_set(err, FA_EINVAL, "key set intervals must not be negative");
	if (opts->rsa_alg && !fa_jws_alg_is_rsa(opts->rsa_alg))
		return fa_err_set(err, FA_EINVAL, "the alg of RSA keys must be an RSA alg");
	if (!(ks = calloc(1, sizeof(*ks))))
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	if (!(ks->uri = strdup(jwks_uri))) {
		free(ks);
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	}
	atomic_init(&ks->refs, 1);
	ks->r = r;
	ks->min_refetch_ms = opts->min_refetch_ms ? opts->min_refetch_ms : FA_REMOTE_JWKS_MIN_REFETCH_MS;
	ks->max_age_ms = opts->max_age_ms ? opts->max_age_ms : FA_REMOTE_JWKS_MAX_AGE_MS;
	ks->max_bytes = opts->max_bytes ? opts->max_bytes : FA_MAX_JWKS;
	ks->rsa_alg = opts->rsa_alg ? opts->rsa_alg : FA_JWS_RS256;
	ks->log = opts->log;
	ks->clock_ms = opts->clock_ms;
	ks->clock_arg = opts->clock_arg;
	pthread_mutex_init(&ks->mu, NULL);
	pthread_cond_init(&ks->cv, NULL);
	fa_err_clear(&ks->last_err);
	*out = ks;
	return FA_OK;
}

struct fa_remote_jwks *fa_remote_jwks_dup(struct fa_remote_jwks *ks)
{
	atomic_fetch_add(&ks->refs, 1);
	return ks;
}

void fa_remote_jwks_free(struct fa_remote_jwks *ks)
{
	if (!ks || atomic_fetch_sub(&ks->refs, 1) != 1)
		return;
	fa_jwks_free(ks->set);
	pthread_cond_destroy(&ks->cv);
	pthread_mutex_destroy(&ks->mu);
	free(ks->uri);
	free(ks);
}

const char *fa_remote_jwks_uri(const struct fa_remote_jwks *ks)
{
	return ks->uri;
}

/* GET and parse, without the lock. */
static enum fa_rc load(const struct fa_remote_jwks *ks, const atomic_bool *cancel,
		       struct fa_jwks **out, struct fa_err *err)
{
	struct fa_remote_resp resp;
	char shown[FA_REMOTE_SHOWN_URL];
	struct fa_err jerr;
	json_t *doc = NULL;
	enum fa_rc rc;

	*out = NULL;
	rc = fa_remote_get_json(ks->r, ks->uri, ks->max_bytes, "JWKS", cancel, &doc, &resp, err);
	json_decref(doc);
	if (rc != FA_OK)
		return rc;
	fa_err_clear(&jerr);
	rc = fa_jwks_parse_rsa(resp.body, resp.len, ks->rsa_alg, out, &jerr);
	if (rc != FA_OK) {
		fa_remote_url_redact(ks->uri, shown, sizeof(shown));
		rc = fa_err_set(err, rc, "%s: %s", shown, jerr.msg);
	}
	fa_remote_resp_cleanup(&resp);
	return rc;
}

static int64_t ks_now(const struct fa_remote_jwks *ks)
{
	return ks->clock_ms ? ks->clock_ms(ks->clock_arg) : fa_mono_ms();
}

/* One fetch by this thread (invariant 2). Called and returns with mu held. */
static void do_fetch(struct fa_remote_jwks *ks, const atomic_bool *cancel)
{
	struct fa_jwks *fresh = NULL;
	struct fa_err e;
	enum fa_rc rc;
	char shown[FA_REMOTE_SHOWN_URL];

	ks->fetching = true;
	ks->last_attempt_ms = ks_now(ks);
	ks->st.fetches++;
	pthread_mutex_unlock(&ks->mu);
	fa_err_clear(&e);
	rc = load(ks, cancel, &fresh, &e);
	pthread_mutex_lock(&ks->mu);
	if (rc == FA_OK) {
		fa_jwks_free(ks->set);
		ks->set = fresh;
		ks->loaded_ms = ks_now(ks);
		ks->st.last_success = fa_now();
		ks->st.keys = fa_jwks_count(fresh);
		fa_remote_url_redact(ks->uri, shown, sizeof(shown));
		if (ks->failing && ks->log)
			fa_log(ks->log, FA_LOG_INFO, "JWKS %s loaded again (%zu keys)", shown,
			       fa_jwks_count(fresh));
		if (fa_jwks_count(fresh) == 0 && ks->log)
			fa_log_warnx(ks->log, "JWKS %s has no usable signing key (%zu skipped)", shown,
				     fa_jwks_skipped(fresh));
		ks->failing = false;
	} else {
		ks->st.failures++;
		/* One line per new failure, not one per retry; none for a
		 * fetch cancelled because its holder stops. */
		if (ks->log && !(cancel && atomic_load(cancel)) &&
		    (!ks->failing || strcmp(e.msg, ks->last_err.msg) != 0))
			fa_log_warnx(ks->log, "cannot load JWKS: %s (%s)", e.msg,
				     ks->set ? "keeping the keys loaded before" : "no keys yet");
		ks->last_err = e;
		ks->failing = true;
	}
	ks->fetching = false;
	ks->generation++;
	pthread_cond_broadcast(&ks->cv);
}

/* Waits for the fetch in flight to end. mu held. */
static void wait_fetch(struct fa_remote_jwks *ks)
{
	uint64_t gen = ks->generation;

	while (ks->fetching && ks->generation == gen)
		pthread_cond_wait(&ks->cv, &ks->mu);
}

static bool may_fetch(const struct fa_remote_jwks *ks, int64_t now)
{
	return ks->last_attempt_ms == 0 || now - ks->last_attempt_ms >= ks->min_refetch_ms;
}

enum fa_rc fa_remote_jwks_get(struct fa_remote_jwks *ks, struct fa_jwks **out,
			      struct fa_err *err)
{
	return rm_jwks_get(ks, NULL, out, err);
}

enum fa_rc rm_jwks_get(struct fa_remote_jwks *ks, const atomic_bool *cancel, struct fa_jwks **out,
		       struct fa_err *err)
{
	int64_t now;
	enum fa_rc rc = FA_OK;

	*out = NULL;
	pthread_mutex_lock(&ks->mu);
	now = ks_now(ks);
	if (!ks->set) {
		if (ks->fetching)
			wait_fetch(ks);
		else if (may_fetch(ks, now))
			do_fetch(ks, cancel);
	} else if (now - ks->loaded_ms >= ks->max_age_ms && !ks->fetching && may_fetch(ks, now)) {
		do_fetch(ks, cancel);   /* invariant 4: only this caller waits */
	}
	if (ks->set) {
		*out = fa_jwks_dup(ks->set);
	} else {
		char shown[FA_REMOTE_SHOWN_URL];

		fa_remote_url_redact(ks->uri, shown, sizeof(shown));
		rc = fa_err_set(err, FA_ENET, "%s", ks->last_err.msg[0] ? ks->last_err.msg : shown);
	}
	pthread_mutex_unlock(&ks->mu);
	return rc;
}

/* After a miss with *set: a newer set, by one fetch within invariant 3
 * (or the one already running). FA_ENOTFOUND when none may start. */
static enum fa_rc refetch_for_kid(struct fa_remote_jwks *ks, struct fa_jwks **set,
				  struct fa_err *err)
{
	struct fa_jwks *seen = *set;
	enum fa_rc rc = FA_OK;

	pthread_mutex_lock(&ks->mu);
	if (ks->fetching) {
		wait_fetch(ks);
	} else if (ks->set == seen && may_fetch(ks, ks_now(ks))) {
		ks->st.kid_refetches++;
		do_fetch(ks, NULL);
	}
	if (ks->set == seen || !ks->set) {
		/* Nothing newer: fail closed without another request. */
		if (ks->failing)
			rc = fa_err_set(err, FA_ENOTFOUND, "%s", ks->last_err.msg);
		else {
			ks->st.throttled++;
			rc = FA_ENOTFOUND;
		}
	} else {
		fa_jwks_free(*set);
		*set = fa_jwks_dup(ks->set);
	}
	pthread_mutex_unlock(&ks->mu);
	return rc;
}

enum fa_rc fa_remote_jwks_verify(struct fa_remote_jwks *ks, const struct fa_jwt_rules *rules,
				 const char *token, size_t len, json_t **claims, json_t **header,
				 struct fa_err *err)
{
	struct fa_jwks *set = NULL;
	struct fa_err miss;
	enum fa_rc rc;

	*claims = NULL;
	if (header)
		*header = NULL;
	if ((rc = fa_remote_jwks_get(ks, &set, err)) != FA_OK)
		return rc;
	fa_err_clear(&miss);
	rc = fa_jwt_verify(set, rules, token, len, claims, header, &miss);
	if (rc == FA_ENOTFOUND) {
		struct fa_err why;

		fa_err_clear(&why);
		if (refetch_for_kid(ks, &set, &why) == FA_OK)
			rc = fa_jwt_verify(set, rules, token, len, claims, header, &miss);
		else if (why.msg[0])
			/* The key set could not be refreshed: say so. */
			snprintf(miss.msg + strlen(miss.msg), sizeof(miss.msg) - strlen(miss.msg),
				 " (refetch failed)");
	}
	if (rc != FA_OK)
		fa_err_set(err, rc, "%s", miss.msg);
	fa_jwks_free(set);
	return rc;
}

void fa_remote_jwks_stats(struct fa_remote_jwks *ks, struct fa_remote_jwks_stats *out)
{
	pthread_mutex_lock(&ks->mu);
	*out = ks->st;
	pthread_mutex_unlock(&ks->mu);
}
