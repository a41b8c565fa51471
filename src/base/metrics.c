/* metrics.c -- the server's counters and their Prometheus text exposition
 * (format 0.0.4): requests by route and status, token requests by grant
 * type and outcome, logins, throttle hits, store latency (a histogram per
 * store operation) and the verified-token cache.
 *
 * Invariants:
 *   1. Every series is a fixed array of atomic counters, allocated before
 *      the registry is shared; counting is one relaxed atomic add, so no
 *      worker ever waits for another or for a scrape.
 *   2. Routes are appended (fa_metrics_route) only before the registry is
 *      shared; afterwards n_routes and the route names are read-only.
 *   3. A label value comes from a const table or the routing table, never
 *      from a request: the number of series is bounded by
 *      FA_METRICS_MAX_ROUTES x 500 statuses plus the fixed ones.
 * Counters are never reset; Prometheus computes rates from them.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

/* Status codes 100..599, one counter each. */
#define STATUS_MIN 100
#define STATUS_SLOTS 500

/* Store latency buckets: SQLite answers in microseconds, PostgreSQL in a
 * round trip (~0.1-1 ms on a LAN); seconds mean trouble. */
static const int64_t bucket_us[] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
	100000, 250000, 500000, 1000000, 2500000, 5000000,
};
static const char *const bucket_le[] = {
	"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
	"0.1", "0.25", "0.5", "1", "2.5", "5",
};
#define N_BUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]))

static const char *const grant_names[FA_MG_N] = {
	"authorization_code", "refresh_token", "client_credentials", "device_code", "other",
};

/* Outcomes of a token request: success, then the error codes of RFC 6749
 * §5.2, RFC 8707 and RFC 8628 §3.5 the token endpoint can answer. */
static const char *const outcome_names[] = {
	"success", "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
	"unsupported_grant_type", "invalid_scope", "invalid_target", "authorization_pending",
	"slow_down", "access_denied", "expired_token", "temporarily_unavailable",
	"server_error", "other_error",
};
#define N_OUTCOMES (sizeof(outcome_names) / sizeof(outcome_names[0]))

static const char *const limiter_names[FA_ML_N] = { "login", "device_poll", "client_auth",
							       "unauthenticated" };
static const char *const store_op_names[FA_MS_N] = {
	"get", "apply", "incr", "purge", "count", "ping",
};

struct route_row {
	char *method;
	char *path;
	atomic_ullong status[STATUS_SLOTS];
};

struct histogram {
	atomic_ullong bucket[N_BUCKETS + 1];   /* not cumulative; the last is +Inf */
	atomic_ullong sum_us;
	atomic_ullong count;
};

struct fa_metrics {
	struct route_row *routes[FA_METRICS_MAX_ROUTES];
	unsigned n_routes;
	struct route_row other;                  /* FA_METRICS_NO_ROUTE */
	atomic_ullong grants[FA_MG_N][N_OUTCOMES];
	atomic_ullong logins[2];                 /* failure, success */
	atomic_ullong throttle[FA_ML_N];
	struct histogram store[FA_MS_N];
	atomic_ullong cache[2];                  /* miss, hit */
};

static void add(atomic_ullong *c, unsigned long long n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static unsigned long long get(const atomic_ullong *c)
{
	/* atomic_load takes a non-const pointer in C11; it only reads. */
	return atomic_load_explicit((atomic_ullong *)(uintptr_t)c, memory_order_relaxed);
}

struct fa_metrics *fa_metrics_new(void)
{
	/* calloc zeroes every counter: all-zero bits are a valid atomic 0 on
	 * every platform we build for (lock-free 64-bit atomics). */
	return calloc(1, sizeof(struct fa_metrics));
}

void fa_metrics_free(struct fa_metrics *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < m->n_routes; i++) {
		free(m->routes[i]->method);
		free(m->routes[i]->path);
		free(m->routes[i]);
	}
	free(m);
}

enum fa_rc fa_metrics_route(struct fa_metrics *m, const char *method, const char *path,
			    unsigned *id, struct fa_err *err)
{
	struct route_row *r;

	if (!m || !method || !path || !id)
		return fa_err_set(err, FA_EINVAL, "metrics: no registry or route");
	for (unsigned i = 0; i < m->n_routes; i++) {
		if (strcmp(m->routes[i]->method, method) == 0 &&
		    strcmp(m->routes[i]->path, path) == 0) {
			*id = i;
			return FA_OK;
		}
	}
	if (m->n_routes >= FA_METRICS_MAX_ROUTES)
		return fa_err_set(err, FA_ETOOBIG, "metrics: more than %d routes",
				  FA_METRICS_MAX_ROUTES);
	r = calloc(1, sizeof(*r));
	if (!r || !(r->method = fa_strndup(method, strlen(method))) ||
	    !(r->path = fa_strndup(path, strlen(path)))) {
		if (r)
			free(r->method);
		free(r);
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	}
	m->routes[m->n_routes] = r;
	*id = m->n_routes++;
	return FA_OK;
}

void fa_metrics_request(struct fa_metrics *m, unsigned id, int status)
{
	struct route_row *r;

	if (!m || status < STATUS_MIN || status >= STATUS_MIN + STATUS_SLOTS)
		return;
	r = id < m->n_routes ? m->routes[id] : &m->other;
	add(&r->status[status - STATUS_MIN], 1);
}

void fa_metrics_grant(struct fa_metrics *m, enum fa_metrics_grant g, const char *oauth_error)
{
	size_t o = N_OUTCOMES - 1;

	if (!m || (unsigned)g >= FA_MG_N)
		return;
	if (!oauth_error) {
		o = 0;
	} else {
		for (size_t i = 1; i + 1 < N_OUTCOMES; i++) {
			if (strcmp(oauth_error, outcome_names[i]) == 0) {
				o = i;
				break;
			}
		}
	}
	add(&m->grants[g][o], 1);
}

void fa_metrics_login(struct fa_metrics *m, bool success)
{
	if (m)
		add(&m->logins[success], 1);
}

void fa_metrics_throttle(struct fa_metrics *m, enum fa_metrics_limiter l)
{
	if (m && (unsigned)l < FA_ML_N)
		add(&m->throttle[l], 1);
}

void fa_metrics_store(struct fa_metrics *m, enum fa_metrics_store_op op, int64_t us)
{
	struct histogram *h;
	size_t b = 0;

	if (!m || (unsigned)op >= FA_MS_N)
		return;
	if (us < 0)
		us = 0;
	h = &m->store[op];
	while (b < N_BUCKETS && us > bucket_us[b])
		b++;
	add(&h->bucket[b], 1);
	add(&h->sum_us, (unsigned long long)us);
	add(&h->count, 1);
}

void fa_metrics_token_cache(struct fa_metrics *m, bool hit)
{
	if (m)
		add(&m->cache[hit], 1);
}

/* ---- exposition ------------------------------------------------------------ */

static enum fa_rc family(struct fa_buf *b, const char *name, const char *type, const char *help)
{
	return fa_buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: '\', '"' and newline escaped (the format's only three). */
static enum fa_rc label_value(struct fa_buf *b, const char *v)
{
	enum fa_rc rc = fa_buf_appendc(b, '"');

	for (; *v && rc == FA_OK; v++) {
		if (*v == '\\' || *v == '"')
			rc = fa_buf_appendc(b, '\\');
		if (rc == FA_OK)
			rc = *v == '\n' ? fa_buf_appends(b, "\\n") : fa_buf_appendc(b, *v);
	}
	return rc == FA_OK ? fa_buf_appendc(b, '"') : rc;
}

static enum fa_rc requests(const struct fa_metrics *m, struct fa_buf *b)
{
	enum fa_rc rc = family(b, "flyteauth_http_requests_total", "counter",
			       "HTTP requests answered, by route (method and path of the routing "
			       "table, or other for none) and status code.");

	for (unsigned i = 0; i <= m->n_routes && rc == FA_OK; i++) {
		const struct route_row *r = i < m->n_routes ? m->routes[i] : &m->other;

		for (int s = 0; s < STATUS_SLOTS && rc == FA_OK; s++) {
			unsigned long long v = get(&r->status[s]);

			if (v == 0)
				continue;
			rc = fa_buf_appends(b, "flyteauth_http_requests_total{method=");
			if (rc == FA_OK)
				rc = label_value(b, i < m->n_routes ? r->method : "other");
			if (rc == FA_OK)
				rc = fa_buf_appends(b, ",route=");
			if (rc == FA_OK)
				rc = label_value(b, i < m->n_routes ? r->path : "other");
			if (rc == FA_OK)
				rc = fa_buf_appendf(b, ",code=\"%d\"} %llu\n", s + STATUS_MIN, v);
		}
	}
	return rc;
}

static enum fa_rc grants(const struct fa_metrics *m, struct fa_buf *b)
{
	enum fa_rc rc = family(b, "flyteauth_token_requests_total", "counter",
			       "Token endpoint requests, by grant type and outcome (success or "
			       "the OAuth error code answered).");

	for (size_t g = 0; g < FA_MG_N && rc == FA_OK; g++) {
		for (size_t o = 0; o < N_OUTCOMES && rc == FA_OK; o++) {
			unsigned long long v = get(&m->grants[g][o]);

			if (v)
				rc = fa_buf_appendf(b, "flyteauth_token_requests_total{grant_type=\"%s\","
						    "outcome=\"%s\"} %llu\n", grant_names[g],
						    outcome_names[o], v);
		}
	}
	return rc;
}

static enum fa_rc simple(const struct fa_metrics *m, struct fa_buf *b)
{
	enum fa_rc rc = family(b, "flyteauth_logins_total", "counter",
			       "Local-user logins, by outcome.");

	if (rc == FA_OK)
		rc = fa_buf_appendf(b, "flyteauth_logins_total{outcome=\"success\"} %llu\n"
				    "flyteauth_logins_total{outcome=\"failure\"} %llu\n",
				    get(&m->logins[1]), get(&m->logins[0]));
	if (rc == FA_OK)
		rc = family(b, "flyteauth_throttle_hits_total", "counter",
			    "Requests refused for coming too fast, by limiter.");
	for (size_t l = 0; l < FA_ML_N && rc == FA_OK; l++)
		rc = fa_buf_appendf(b, "flyteauth_throttle_hits_total{limiter=\"%s\"} %llu\n",
				    limiter_names[l], get(&m->throttle[l]));
	if (rc == FA_OK)
		rc = family(b, "flyteauth_verified_token_cache_total", "counter",
			    "Lookups in the cache of verified access tokens, by result.");
	if (rc == FA_OK)
		rc = fa_buf_appendf(b, "flyteauth_verified_token_cache_total{result=\"hit\"} %llu\n"
				    "flyteauth_verified_token_cache_total{result=\"miss\"} %llu\n",
				    get(&m->cache[1]), get(&m->cache[0]));
	return rc;
}

static enum fa_rc store(const struct fa_metrics *m, struct fa_buf *b)
{
	static const char name[] = "flyteauth_store_duration_seconds";
	enum fa_rc rc = family(b, name, "histogram",
			       "Time of store calls (database round trips), by operation.");

	for (size_t op = 0; op < FA_MS_N && rc == FA_OK; op++) {
		const struct histogram *h = &m->store[op];
		unsigned long long cum = 0, sum = get(&h->sum_us);

		/* A histogram with no observation is left out: an operation
		 * the server never ran (e.g. purge in the first minute). */
		if (get(&h->count) == 0)
			continue;
		for (size_t i = 0; i <= N_BUCKETS && rc == FA_OK; i++) {
			cum += get(&h->bucket[i]);
			rc = fa_buf_appendf(b, "%s_bucket{op=\"%s\",le=\"%s\"} %llu\n", name,
					    store_op_names[op], i < N_BUCKETS ? bucket_le[i] : "+Inf",
					    cum);
		}
		/* _count is the +Inf bucket, so the two always agree even
		 * while workers add to them during the scrape. */
		if (rc == FA_OK)
			rc = fa_buf_appendf(b, "%s_sum{op=\"%s\"} %llu.%06llu\n%s_count{op=\"%s\"} %llu\n",
					    name, store_op_names[op], sum / 1000000, sum % 1000000,
					    name, store_op_names[op], cum);
	}
	return rc;
}

enum fa_rc fa_metrics_format(const struct fa_metrics *m, struct fa_buf *out)
{
	enum fa_rc rc;

	if (!m || !out)
		return FA_EINVAL;
	rc = requests(m, out);
	if (rc == FA_OK)
		rc = grants(m, out);
	if (rc == FA_OK)
		rc = simple(m, out);
	if (rc == FA_OK)
		rc = store(m, out);
	return rc;
}
