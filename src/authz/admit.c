/* admit.c -- what the unauthenticated endpoints may write (issue 9): POST
 * /oauth2/device/authorize writes a device code and its user-code index,
 * an anonymous GET /oauth2/authorize parks the request for the login; both
 * can be asked for by anyone, at any rate. Two defences, checked before
 * anything is written:
 *
 *  - rate: token buckets per client address and per client id
 *    (selfAuthServer.rateLimits; fa_limiter, in memory per process). In
 *    memory because a refusal must cost nothing (a store counter would be
 *    a write per refused request, the very load being refused), and
 *    because the cap below is what bounds the store across instances; N
 *    instances allow N times the rate.
 *  - cap: the live rows of the kind in the store (fa_store_count, so across
 *    instances), read at most once a second per process and raised locally
 *    by every admission since, so a flood between two reads cannot pass
 *    the cap on one instance (several instances can pass it by what they
 *    admit within that second). Device codes are counted by their rows:
 *    two per pending code, plus the tombstones of expired codes and the
 *    wrong-code counters, so the pending codes never exceed the cap.
 */
#include <string.h>

#include "authz/authz_int.h"

/* The rows one admission writes, per kind. */
static int64_t rows_of(enum fa_authz_admit what)
{
	return what == FA_ADMIT_DEVICE ? 2 : 1;
}

enum fa_rc fa_authz_admit_init(struct fa_authz *az, struct fa_err *err)
{
	const struct fa_config *cfg = az->cfg;
	struct fa_authz_pending *d = &az->pending[FA_ADMIT_DEVICE];
	struct fa_authz_pending *a = &az->pending[FA_ADMIT_AUTHORIZE];

	const struct fa_config_rate *rates[FA_ADMIT_N][2] = {
		[FA_ADMIT_DEVICE] = { &cfg->auth.app_auth.self.rate_limits.device_per_address,
				      &cfg->auth.app_auth.self.rate_limits.device_per_client },
		[FA_ADMIT_AUTHORIZE] = { &cfg->auth.app_auth.self.rate_limits.authorize_per_address,
					 &cfg->auth.app_auth.self.rate_limits.authorize_per_client },
	};

	for (int i = 0; i < FA_ADMIT_N; i++) {
		az->rate_addr[i] = fa_limiter_new(FA_AUTHZ_RATE_KEYS, rates[i][0]->burst,
						  rates[i][0]->per_minute / 60.0);
		az->rate_client[i] = fa_limiter_new(FA_AUTHZ_RATE_KEYS, rates[i][1]->burst,
						    rates[i][1]->per_minute / 60.0);
	}
	for (int i = 0; i < FA_ADMIT_N; i++)
		if (!az->rate_addr[i] || !az->rate_client[i])
			return fa_err_set(err, FA_ENOMEM, "cannot create the request rate limits");
	d->kind = FA_KIND_DEVICE;
	d->cap_rows = 2 * (int64_t)cfg->auth.app_auth.self.max_pending_device_codes;
	a->kind = FA_KIND_AUTHREQ;
	a->cap_rows = cfg->auth.app_auth.self.max_pending_authorization_requests;
	for (int i = 0; i < FA_ADMIT_N; i++) {
		atomic_init(&az->pending[i].at_ms, 0);
		atomic_init(&az->pending[i].rows, 0);
		atomic_init(&az->pending[i].added, 0);
	}
	return FA_OK;
}

void fa_authz_admit_free(struct fa_authz *az)
{
	for (int i = 0; i < FA_ADMIT_N; i++) {
		fa_limiter_free(az->rate_addr[i]);
		fa_limiter_free(az->rate_client[i]);
		az->rate_addr[i] = az->rate_client[i] = NULL;
	}
}

/* Re-reads the kind's live rows when the last read is a second old; one
 * thread reads, the others go on with what was read. */
static enum fa_rc pending_refresh(struct fa_authz *az, struct fa_authz_pending *p, int64_t now_ms,
				  struct fa_err *err)
{
	long long at = atomic_load(&p->at_ms);
	int64_t n = 0;
	enum fa_rc rc;

	if (at != 0 && now_ms - at < FA_AUTHZ_PENDING_READ_MS)
		return FA_OK;
	if (!atomic_compare_exchange_strong(&p->at_ms, &at, now_ms))
		return FA_OK;
	rc = fa_store_count(az->store, p->kind, now_ms / 1000, &n, err);
	if (rc != FA_OK) {
		atomic_store(&p->at_ms, 0);   /* read again next time */
		return fa_authz_store_fail(az, rc, err, "counting pending requests");
	}
	atomic_store(&p->rows, n);
	atomic_store(&p->added, 0);
	return FA_OK;
}

enum fa_rc fa_authz_admit(struct fa_authz *az, enum fa_authz_admit what, const char *addr,
			  const char *client_id, int64_t *retry_s, struct fa_err *err)
{
	struct fa_authz_pending *p = &az->pending[what];
	int64_t now_ms = fa_mono_ms(), wait = 0, w2 = 0, need = rows_of(what), total;
	enum fa_rc rc;

	*retry_s = 0;
	/* The address first: a flood from one host does not drain the
	 * client's bucket that everybody else shares. */
	if (!fa_limiter_take(az->rate_addr[what], addr, strlen(addr), now_ms, &wait) ||
	    !fa_limiter_take(az->rate_client[what], client_id, strlen(client_id), now_ms, &w2)) {
		if (w2 > wait)
			wait = w2;
		*retry_s = (wait + 999) / 1000;
		fa_metrics_throttle(az->metrics, FA_ML_UNAUTHENTICATED);
		return fa_err_oauth(err, FA_EDENIED, "slow_down",
				    "too many requests; try again in %lld seconds",
				    (long long)*retry_s);
	}
	rc = pending_refresh(az, p, fa_authz_now_ms(az), err);
	if (rc != FA_OK)
		return rc;
	total = atomic_load(&p->rows) + atomic_fetch_add(&p->added, need) + need;
	if (total > p->cap_rows) {
		atomic_fetch_sub(&p->added, need);
		*retry_s = FA_AUTHZ_PENDING_RETRY_S;
		fa_metrics_throttle(az->metrics, FA_ML_UNAUTHENTICATED);
		fa_log(az->log, FA_LOG_WARN, "%s: the pending cap (%lld) is reached; refusing new ones",
		       what == FA_ADMIT_DEVICE ? "device authorization" : "authorization request",
		       (long long)(what == FA_ADMIT_DEVICE ? p->cap_rows / 2 : p->cap_rows));
		return fa_err_oauth(err, FA_EDENIED, "temporarily_unavailable",
				    "too many pending requests; try again later");
	}
	return FA_OK;
}
