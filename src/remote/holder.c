/* holder.c -- a value loaded from another server and kept up to date by a
 * thread of its own: the first load starts at once, failures are retried
 * with exponential backoff, a success is reloaded every refresh_ms, and the
 * last good value is served through later failures.
 *
 * Invariants:
 *  1. value changes only on a successful load; readers get their own
 *     reference (ops->dup), so a swap never frees what a reader holds.
 *  2. The load runs without the lock; everything else holds it.
 *  3. stop, once set, is never cleared; the thread exits at its next look
 *     at it, and cancel aborts a load in flight.
 *  4. After max_attempts consecutive failures with no value ever held the
 *     holder is FAILED and loads no more.
 *
 * States: LOADING -> READY [first successful load]
 *         LOADING -> FAILED [max_attempts spent]
 *         READY stays READY through failures (the old value is served).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "remote/remote_int.h"

struct fa_remote_holder {
	struct fa_remote_holder_ops ops;
	void *ctx;
	char *what;
	int64_t first_delay_ms, max_delay_ms, refresh_ms;
	int max_attempts;
	char max_delay_str[32];         /* max_delay_ms, Go style, for log lines */
	const struct fa_log *log;
	pthread_t thread;
	atomic_bool cancel;

	pthread_mutex_t mu;             /* guards everything below */
	pthread_cond_t cv;              /* CLOCK_MONOTONIC: stop, or a load ended */
	bool stop;
	bool tried;                     /* a load attempt has ended */
	void *value;
	enum fa_holder_state state;
	uint64_t attempts, failures;
	int consecutive;
	int64_t next_ms;                /* monotonic time of the next load; -1 none */
	struct fa_err last_err;
};

/* A fa_mono_ms() time (CLOCK_MONOTONIC, as cv's clock) as a timespec. */
static struct timespec abs_mono(int64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	return ts;
}

static int64_t backoff(const struct fa_remote_holder *h)
{
	int64_t d = h->first_delay_ms;

	for (int i = 1; i < h->consecutive && d < h->max_delay_ms; i++)
		d *= 2;
	return d < h->max_delay_ms ? d : h->max_delay_ms;
}

/* Records one load's outcome. mu held. */
static void settle(struct fa_remote_holder *h, enum fa_rc rc, void *fresh, const struct fa_err *e)
{
	int64_t now = fa_mono_ms();
	char delay[32];

	h->tried = true;
	if (rc == FA_OK) {
		if (h->value)
			h->ops.free(h->value);
		h->value = fresh;
		if (h->consecutive && h->log)
			fa_log(h->log, FA_LOG_INFO, "loaded %s after %d failed attempt(s)", h->what,
			       h->consecutive);
		else if (h->log)
			fa_log(h->log, FA_LOG_DEBUG, "loaded %s", h->what);
		h->consecutive = 0;
		h->state = FA_HOLDER_READY;
		h->next_ms = h->refresh_ms ? now + h->refresh_ms : -1;
		return;
	}
	h->failures++;
	h->consecutive++;
	if (h->state != FA_HOLDER_READY && h->max_attempts && h->consecutive >= h->max_attempts) {
		h->state = FA_HOLDER_FAILED;
		h->next_ms = -1;
		if (h->log)
			fa_log(h->log, FA_LOG_ERROR, "giving up on %s after %d attempt(s): %s",
			       h->what, h->consecutive, e->msg);
		h->last_err = *e;
		return;
	}
	h->next_ms = now + backoff(h);
	fa_duration_format(backoff(h), delay, sizeof(delay));
	/* One line when it starts failing and when the error changes, not
	 * one per retry. */
	if (h->log && (h->consecutive == 1 || strcmp(e->msg, h->last_err.msg) != 0))
		fa_log_warnx(h->log, "cannot load %s: %s; %s, retrying in %s (backing off to %s)",
			     h->what, e->msg,
			     h->state == FA_HOLDER_READY ? "serving the copy loaded before" : "none loaded yet",
			     delay, h->max_delay_str);
	h->last_err = *e;
}

static void *run(void *arg)
{
	struct fa_remote_holder *h = arg;

	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		int64_t now = fa_mono_ms();
		void *fresh = NULL;
		struct fa_err e;
		enum fa_rc rc;

		if (h->next_ms < 0) {
			pthread_cond_wait(&h->cv, &h->mu);
			continue;
		}
		if (h->next_ms > now) {
			struct timespec ts = abs_mono(h->next_ms);

			pthread_cond_timedwait(&h->cv, &h->mu, &ts);
			continue;
		}
		h->attempts++;
		pthread_mutex_unlock(&h->mu);
		fa_err_clear(&e);
		rc = h->ops.load(h->ctx, &h->cancel, &fresh, &e);
		pthread_mutex_lock(&h->mu);
		if (h->stop) {
			if (rc == FA_OK)
				h->ops.free(fresh);
			break;
		}
		settle(h, rc, fresh, &e);
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static void holder_destroy(struct fa_remote_holder *h)
{
	if (h->value)
		h->ops.free(h->value);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h->what);
	free(h);
}

enum fa_rc fa_remote_holder_start(const struct fa_remote_holder_ops *ops, void *ctx,
				  const struct fa_remote_holder_opts *opts, void *initial,
				  struct fa_remote_holder **out, struct fa_err *err)
{
	pthread_condattr_t ca;
	struct fa_remote_holder *h;
	int e;

	*out = NULL;
	if (!ops || !ops->load || !ops->dup || !ops->free || !opts)
		return fa_err_set(err, FA_EINVAL, "a holder needs load, dup, free and options");
	if (opts->first_delay_ms < 0 || opts->max_delay_ms < 0 || opts->refresh_ms < 0 ||
	    opts->max_attempts < 0)
		return fa_err_set(err, FA_EINVAL, "holder delays and attempts must not be negative");
	if (!(h = calloc(1, sizeof(*h))))
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	h->ops = *ops;
	h->ctx = ctx;
	h->what = strdup(opts->what ? opts->what : "a remote document");
	h->first_delay_ms = opts->first_delay_ms ? opts->first_delay_ms : FA_REMOTE_RETRY_FIRST_MS;
	h->max_delay_ms = opts->max_delay_ms ? opts->max_delay_ms : FA_REMOTE_RETRY_MAX_MS;
	if (h->max_delay_ms < h->first_delay_ms)
		h->max_delay_ms = h->first_delay_ms;
	fa_duration_format(h->max_delay_ms, h->max_delay_str, sizeof(h->max_delay_str));
	h->refresh_ms = opts->refresh_ms;
	h->max_attempts = opts->max_attempts;
	h->log = opts->log;
	atomic_init(&h->cancel, false);
	h->value = initial;
	h->state = initial ? FA_HOLDER_READY : FA_HOLDER_LOADING;
	h->next_ms = 0;   /* load at once, cached copy or not */
	fa_err_clear(&h->last_err);
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (!h->what) {
		h->value = NULL;   /* the caller keeps initial on failure */
		holder_destroy(h);
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	}
	if ((e = pthread_create(&h->thread, NULL, run, h)) != 0) {
		h->value = NULL;
		holder_destroy(h);
		return fa_err_set(err, FA_ENOMEM, "cannot start a thread: %s", strerror(e));
	}
	*out = h;
	return FA_OK;
}

void fa_remote_holder_free(struct fa_remote_holder *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	atomic_store(&h->cancel, true);
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	holder_destroy(h);
}

enum fa_rc fa_remote_holder_get(struct fa_remote_holder *h, void **value, struct fa_err *err)
{
	enum fa_rc rc = FA_OK;

	*value = NULL;
	pthread_mutex_lock(&h->mu);
	if (h->value)
		*value = h->ops.dup(h->value);
	else if (h->state == FA_HOLDER_FAILED)
		rc = fa_err_set(err, FA_EEXPIRED, "%s", h->last_err.msg);
	else if (h->last_err.msg[0])
		rc = fa_err_set(err, FA_ENET, "%s", h->last_err.msg);
	else
		rc = fa_err_set(err, FA_ENET, "%s is still loading", h->what);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

enum fa_holder_state fa_remote_holder_wait(struct fa_remote_holder *h, int64_t timeout_ms)
{
	struct timespec ts = abs_mono(fa_mono_ms() + timeout_ms);
	enum fa_holder_state st;

	pthread_mutex_lock(&h->mu);
	while (!h->tried && !h->value && !h->stop) {
		if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) != 0)
			break;
	}
	st = h->state;
	pthread_mutex_unlock(&h->mu);
	return st;
}

void fa_remote_holder_stats(struct fa_remote_holder *h, struct fa_remote_holder_stats *out)
{
	pthread_mutex_lock(&h->mu);
	out->state = h->state;
	out->attempts = h->attempts;
	out->failures = h->failures;
	out->consecutive_failures = h->consecutive;
	out->next_attempt_in_ms = h->next_ms < 0 ? -1 : h->next_ms > fa_mono_ms() ? h->next_ms - fa_mono_ms() : 0;
	pthread_mutex_unlock(&h->mu);
}
