/* test_base_obs.c -- the logger's two formats and the metrics registry:
 * every JSON line parses (jansson) whatever the values hold and however
 * long they are, a text value cannot forge a line or a field, levels and
 * mute filter, audit events carry their fields; the exposition has exact
 * counts, cumulative buckets and escaped label values, and counting from
 * several threads at once loses nothing. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/base.h"

/* What one logger call wrote. */
struct capture {
	FILE *fp;
	char *buf;
	size_t len;
	struct fa_log log;
};

static void cap_open(struct capture *c, enum fa_log_format f, enum fa_log_level min)
{
	c->buf = NULL;
	c->len = 0;
	c->fp = open_memstream(&c->buf, &c->len);
	assert_non_null(c->fp);
	c->log = (struct fa_log){ .fp = c->fp, .min = min, .format = f };
}

/* Closes the stream; the caller frees c->buf. */
static const char *cap_text(struct capture *c)
{
	fclose(c->fp);
	c->fp = NULL;
	return c->buf;
}

static json_t *one_json_line(const char *text)
{
	json_error_t je;
	size_t n = strlen(text);
	json_t *o;

	assert_true(n > 0);
	assert_int_equal(text[n - 1], '\n');
	assert_null(memchr(text, '\n', n - 1));   /* one line */
	assert_true(n <= FA_LOG_LINE_MAX);
	o = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		fail_msg("not JSON (%s): %s", je.text, text);
	assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
	assert_non_null(json_string_value(json_object_get(o, "ts")));
	return o;
}

static void test_json_line(void **state)
{
	struct capture c;
	json_t *o;
	const struct fa_log_field f[] = {
		{ .key = "path", .str = "/a\"b\\c\n{\"forged\":1}\x01" },
		{ .key = "status", .num = 404, .is_num = true },
		{ .key = "left_out", .str = NULL },
		{ .key = "utf8", .str = "Zo\xc3\xab" },
	};

	(void)state;
	cap_open(&c, FA_LOG_JSON, FA_LOG_INFO);
	fa_log_event(&c.log, FA_LOG_INFO, "http", f, ARRAY_LEN(f));
	o = one_json_line(cap_text(&c));
	assert_string_equal(json_string_value(json_object_get(o, "msg")), "http");
	assert_string_equal(json_string_value(json_object_get(o, "path")),
			    "/a\"b\\c\n{\"forged\":1}\x01");
	assert_int_equal(json_integer_value(json_object_get(o, "status")), 404);
	assert_null(json_object_get(o, "left_out"));
	assert_null(json_object_get(o, "forged"));
	assert_string_equal(json_string_value(json_object_get(o, "utf8")), "Zo\xc3\xab");
	json_decref(o);
	free(c.buf);
}

/* Values far over the line's size: the line is cut, and still one valid
 * JSON object, whichever field the cut falls in. */
static void test_json_line_cut(void **state)
{
	char big[3 * FA_LOG_LINE_MAX];
	struct capture c;

	(void)state;
	for (size_t len = 1000; len < sizeof(big); len += 97) {
		/* Quotes escape to two bytes: a cut may fall between them. */
		for (size_t i = 0; i < len; i++)
			big[i] = (i % 3 == 0) ? '"' : 'x';
		big[len] = '\0';
		const struct fa_log_field f[] = {
			{ .key = "a", .str = big },
			{ .key = "b", .str = big },
			{ .key = "n", .num = 1, .is_num = true },
		};
		json_t *o;

		cap_open(&c, FA_LOG_JSON, FA_LOG_DEBUG);
		fa_log_event(&c.log, FA_LOG_INFO, "long", f, ARRAY_LEN(f));
		o = one_json_line(cap_text(&c));
		json_decref(o);
		free(c.buf);

		cap_open(&c, FA_LOG_JSON, FA_LOG_DEBUG);
		fa_log(&c.log, FA_LOG_INFO, "%s", big);
		o = one_json_line(cap_text(&c));
		json_decref(o);
		free(c.buf);
	}
}

static void test_text_line(void **state)
{
	struct capture c;
	const char *t;
	const struct fa_log_field f[] = {
		{ .key = "plain", .str = "alice" },
		{ .key = "spaced", .str = "a b" },
		{ .key = "forge", .str = "x\nfake=1 \"q\" \\" },
		{ .key = "empty", .str = "" },
		{ .key = "n", .num = -3, .is_num = true },
	};

	(void)state;
	cap_open(&c, FA_LOG_TEXT, FA_LOG_INFO);
	fa_log_event(&c.log, FA_LOG_INFO, "audit", f, ARRAY_LEN(f));
	t = cap_text(&c);
	/* "YYYY-MM-DDTHH:MM:SS.mmmZ info audit ..." */
	assert_int_equal(strlen(t) > 25, 1);
	assert_int_equal(t[23], 'Z');
	assert_string_equal(t + 24, " info audit plain=alice spaced=\"a b\" "
			    "forge=\"x?fake=1 \\\"q\\\" \\\\\" empty=\"\" n=-3\n");
	free(c.buf);
}

/* A rendered line (the batching access log's) is, after its time stamp,
 * byte for byte what fa_log_event writes, in both formats; a small buffer
 * gets a cut line that is still whole, and one under FA_LOG_RENDER_MIN
 * gets nothing. */
static void test_render_event(void **state)
{
	const struct fa_log_field f[] = {
		{ .key = "path", .str = "/a\"b\n" },
		{ .key = "status", .num = 200, .is_num = true },
		{ .key = "gone", .str = NULL },
	};
	static const enum fa_log_format formats[] = { FA_LOG_TEXT, FA_LOG_JSON };
	char ts[FA_LOG_STAMP_LEN + 1], out[FA_LOG_LINE_MAX], big[600];
	struct capture c;

	(void)state;
	fa_log_stamp(86400000 + 1234, ts);
	assert_string_equal(ts, "1970-01-02T00:00:01.234Z");
	for (size_t i = 0; i < ARRAY_LEN(formats); i++) {
		const char *t;
		size_t n, skip;

		cap_open(&c, formats[i], FA_LOG_INFO);
		fa_log_event(&c.log, FA_LOG_INFO, "http", f, ARRAY_LEN(f));
		t = cap_text(&c);
		n = fa_log_render_event(&c.log, FA_LOG_INFO, ts, "http", f, ARRAY_LEN(f), out,
					sizeof(out));
		skip = formats[i] == FA_LOG_JSON ? 7 : 0;   /* {"ts":" */
		assert_int_equal(n, strlen(t));
		assert_memory_equal(out, t, skip);
		assert_memory_equal(out + skip, ts, FA_LOG_STAMP_LEN);
		assert_memory_equal(out + skip + FA_LOG_STAMP_LEN, t + skip + FA_LOG_STAMP_LEN,
				    n - skip - FA_LOG_STAMP_LEN);
		free(c.buf);
	}
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	{
		const struct fa_log_field g[] = { { .key = "path", .str = big } };
		struct fa_log jl = { .fp = NULL, .min = FA_LOG_INFO, .format = FA_LOG_JSON };
		json_t *o;
		size_t n = fa_log_render_event(&jl, FA_LOG_INFO, ts, "http", g, 1, out, 300);

		assert_true(n > 0 && n <= 300);
		out[n] = '\0';
		o = one_json_line(out);
		json_decref(o);
		assert_int_equal(fa_log_render_event(&jl, FA_LOG_INFO, ts, "http", g, 1, out,
						     FA_LOG_RENDER_MIN - 1), 0);
	}
}

static void test_levels_and_mute(void **state)
{
	struct capture c;

	(void)state;
	cap_open(&c, FA_LOG_TEXT, FA_LOG_WARN);
	fa_log(&c.log, FA_LOG_INFO, "dropped");
	fa_log(&c.log, FA_LOG_DEBUG, "dropped");
	fa_log_warnx(&c.log, "kept");
	assert_non_null(strstr(cap_text(&c), " warn kept\n"));
	assert_null(strstr(c.buf, "dropped"));
	free(c.buf);

	cap_open(&c, FA_LOG_JSON, FA_LOG_OFF);
	fa_log(&c.log, FA_LOG_ERROR, "muted");
	fa_log_audit(&c.log, &(struct fa_audit){ .event = "login", .outcome = "success" });
	assert_string_equal(cap_text(&c), "");
	free(c.buf);
	assert_false(fa_log_enabled(&(struct fa_log){ .min = FA_LOG_OFF }, FA_LOG_ERROR));
	assert_true(fa_log_enabled(&(struct fa_log){ .min = FA_LOG_ERROR }, FA_LOG_ERROR));

	/* JSON carries logrus's "warning". */
	cap_open(&c, FA_LOG_JSON, FA_LOG_DEBUG);
	fa_log_warnx(&c.log, "w");
	assert_non_null(strstr(cap_text(&c), "\"level\":\"warning\",\"msg\":\"w\"}\n"));
	free(c.buf);
}

static void test_audit_fields(void **state)
{
	struct capture c;
	json_t *o;

	(void)state;
	cap_open(&c, FA_LOG_JSON, FA_LOG_INFO);
	fa_log_audit(&c.log, &(struct fa_audit){
		.event = "token", .outcome = "refused", .client_id = "svc",
		.grant_type = "client_credentials", .reason = "invalid_scope",
		.remote_addr = "::1", .request_id = "0a0b0c0d-1" });
	o = one_json_line(cap_text(&c));
	assert_string_equal(json_string_value(json_object_get(o, "msg")), "audit");
	assert_string_equal(json_string_value(json_object_get(o, "event")), "token");
	assert_string_equal(json_string_value(json_object_get(o, "outcome")), "refused");
	assert_string_equal(json_string_value(json_object_get(o, "client_id")), "svc");
	assert_string_equal(json_string_value(json_object_get(o, "reason")), "invalid_scope");
	assert_string_equal(json_string_value(json_object_get(o, "remote_addr")), "::1");
	assert_null(json_object_get(o, "subject"));
	assert_int_equal(json_object_size(o), 10);
	json_decref(o);
	free(c.buf);
}

/* ---- metrics ------------------------------------------------------------ */

static char *exposition(const struct fa_metrics *m)
{
	struct fa_buf b;

	fa_buf_init(&b, FA_METRICS_MAX_TEXT);
	assert_int_equal(fa_metrics_format(m, &b), FA_OK);
	return fa_buf_take(&b, NULL);
}

static void has_line(const char *text, const char *line)
{
	char *want = malloc(strlen(line) + 3);

	assert_non_null(want);
	snprintf(want, strlen(line) + 3, "\n%s\n", line);
	if (!strstr(text, want))
		fail_msg("no line \"%s\" in:\n%s", line, text);
	free(want);
}

static void test_metrics_exposition(void **state)
{
	struct fa_metrics *m = fa_metrics_new();
	unsigned tok, hc, again;
	struct fa_err err;
	char *t;

	(void)state;
	assert_non_null(m);
	assert_int_equal(fa_metrics_route(m, "POST", "/oauth2/token", &tok, &err), FA_OK);
	assert_int_equal(fa_metrics_route(m, "GET", "/a\"b\\", &hc, &err), FA_OK);
	assert_int_equal(fa_metrics_route(m, "POST", "/oauth2/token", &again, &err), FA_OK);
	assert_int_equal(again, tok);
	fa_metrics_request(m, tok, 200);
	fa_metrics_request(m, tok, 200);
	fa_metrics_request(m, tok, 400);
	fa_metrics_request(m, hc, 599);
	fa_metrics_request(m, FA_METRICS_NO_ROUTE, 404);
	fa_metrics_request(m, tok, 0);      /* never answered: not counted */
	fa_metrics_request(m, tok, 600);
	fa_metrics_grant(m, FA_MG_CLIENT_CREDENTIALS, NULL);
	fa_metrics_grant(m, FA_MG_DEVICE_CODE, "slow_down");
	fa_metrics_grant(m, FA_MG_OTHER, "made_up_error");
	fa_metrics_login(m, true);
	fa_metrics_login(m, false);
	fa_metrics_login(m, false);
	fa_metrics_throttle(m, FA_ML_LOGIN);
	fa_metrics_token_cache(m, true);
	fa_metrics_store(m, FA_MS_GET, 50);        /* <= 0.0001 */
	fa_metrics_store(m, FA_MS_GET, 100);       /* on the bound: still that bucket */
	fa_metrics_store(m, FA_MS_GET, 3000);      /* 0.005 */
	fa_metrics_store(m, FA_MS_GET, 9000000);   /* +Inf only */
	t = exposition(m);
	has_line(t, "# TYPE flyteauth_http_requests_total counter");
	has_line(t, "flyteauth_http_requests_total{method=\"POST\",route=\"/oauth2/token\",code=\"200\"} 2");
	has_line(t, "flyteauth_http_requests_total{method=\"POST\",route=\"/oauth2/token\",code=\"400\"} 1");
	has_line(t, "flyteauth_http_requests_total{method=\"GET\",route=\"/a\\\"b\\\\\",code=\"599\"} 1");
	has_line(t, "flyteauth_http_requests_total{method=\"other\",route=\"other\",code=\"404\"} 1");
	assert_null(strstr(t, "code=\"0\""));
	assert_null(strstr(t, "code=\"600\""));
	has_line(t, "flyteauth_token_requests_total{grant_type=\"client_credentials\",outcome=\"success\"} 1");
	has_line(t, "flyteauth_token_requests_total{grant_type=\"device_code\",outcome=\"slow_down\"} 1");
	has_line(t, "flyteauth_token_requests_total{grant_type=\"other\",outcome=\"other_error\"} 1");
	assert_null(strstr(t, "made_up_error"));
	has_line(t, "flyteauth_logins_total{outcome=\"success\"} 1");
	has_line(t, "flyteauth_logins_total{outcome=\"failure\"} 2");
	has_line(t, "flyteauth_throttle_hits_total{limiter=\"login\"} 1");
	has_line(t, "flyteauth_throttle_hits_total{limiter=\"device_poll\"} 0");
	has_line(t, "flyteauth_verified_token_cache_total{result=\"hit\"} 1");
	has_line(t, "flyteauth_verified_token_cache_total{result=\"miss\"} 0");
	has_line(t, "# TYPE flyteauth_store_duration_seconds histogram");
	has_line(t, "flyteauth_store_duration_seconds_bucket{op=\"get\",le=\"0.0001\"} 2");
	has_line(t, "flyteauth_store_duration_seconds_bucket{op=\"get\",le=\"0.0025\"} 2");
	has_line(t, "flyteauth_store_duration_seconds_bucket{op=\"get\",le=\"0.005\"} 3");
	has_line(t, "flyteauth_store_duration_seconds_bucket{op=\"get\",le=\"5\"} 3");
	has_line(t, "flyteauth_store_duration_seconds_bucket{op=\"get\",le=\"+Inf\"} 4");
	has_line(t, "flyteauth_store_duration_seconds_sum{op=\"get\"} 9.003150");
	has_line(t, "flyteauth_store_duration_seconds_count{op=\"get\"} 4");
	assert_null(strstr(t, "op=\"apply\""));   /* never observed */
	free(t);
	fa_metrics_free(m);
	fa_metrics_free(NULL);
	/* NULL registry: counting is a no-op. */
	fa_metrics_request(NULL, 0, 200);
	fa_metrics_grant(NULL, FA_MG_OTHER, NULL);
}

static void test_metrics_route_cap(void **state)
{
	struct fa_metrics *m = fa_metrics_new();
	struct fa_err err;
	char path[32];
	unsigned id;

	(void)state;
	for (int i = 0; i < FA_METRICS_MAX_ROUTES; i++) {
		snprintf(path, sizeof(path), "/r%d", i);
		assert_int_equal(fa_metrics_route(m, "GET", path, &id, &err), FA_OK);
		assert_int_equal(id, (unsigned)i);
	}
	assert_int_equal(fa_metrics_route(m, "GET", "/one-more", &id, &err), FA_ETOOBIG);
	fa_metrics_free(m);
}

#define THREADS 4
#define PER_THREAD 20000

struct worker_arg {
	struct fa_metrics *m;
	unsigned route;
};

static void *count_many(void *p)
{
	struct worker_arg *a = p;

	for (int i = 0; i < PER_THREAD; i++) {
		fa_metrics_request(a->m, a->route, 200);
		fa_metrics_store(a->m, FA_MS_APPLY, i % 7000);
	}
	return NULL;
}

/* Lock-free counting from several threads loses no count. */
static void test_metrics_threads(void **state)
{
	struct fa_metrics *m = fa_metrics_new();
	struct worker_arg a = { m, 0 };
	pthread_t th[THREADS];
	struct fa_err err;
	char *t, want[128];

	(void)state;
	assert_int_equal(fa_metrics_route(m, "GET", "/x", &a.route, &err), FA_OK);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, count_many, &a), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	t = exposition(m);
	snprintf(want, sizeof(want),
		 "flyteauth_http_requests_total{method=\"GET\",route=\"/x\",code=\"200\"} %d",
		 THREADS * PER_THREAD);
	has_line(t, want);
	snprintf(want, sizeof(want), "flyteauth_store_duration_seconds_count{op=\"apply\"} %d",
		 THREADS * PER_THREAD);
	has_line(t, want);
	free(t);
	fa_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_line),
		cmocka_unit_test(test_json_line_cut),
		cmocka_unit_test(test_text_line),
		cmocka_unit_test(test_render_event),
		cmocka_unit_test(test_levels_and_mute),
		cmocka_unit_test(test_audit_fields),
		cmocka_unit_test(test_metrics_exposition),
		cmocka_unit_test(test_metrics_route_cap),
		cmocka_unit_test(test_metrics_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
