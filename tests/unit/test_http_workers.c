/* test_http_workers.c -- how the HTTP server spreads connections over its
 * workers and guards its listening address: keep-alive connections opened
 * all at once are dealt out evenly (the wave-1 bench saw one worker take
 * all 16), the per-address and total connection caps hold across workers
 * and free up again when connections close, a second server cannot share
 * the port, and the buffered access log is written whole, in order, within
 * a second and at stop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"

static void h_ok(struct fa_req *req, struct fa_resp *resp, void *app)
{
	(void)req;
	(void)app;
	if (fa_resp_body(resp, 200, "text/plain", "ok", 2, NULL) != FA_OK)
		return;
}

/* "/ok", then "/s/0000" .. "/s/0149" (numbered requests for the log's
 * order), filled in by main(). */
#define SEQ 150
static struct fa_route routes[1 + SEQ];
static char seq_paths[SEQ][16];

static void routes_init(void)
{
	routes[0] = (struct fa_route){ "GET", "/ok", h_ok, FA_R_PUBLIC, 0 };
	for (int i = 0; i < SEQ; i++) {
		snprintf(seq_paths[i], sizeof(seq_paths[i]), "/s/%04d", i);
		routes[1 + i] = (struct fa_route){ "GET", seq_paths[i], h_ok, FA_R_PUBLIC, 0 };
	}
}

struct fixture {
	struct fa_http *srv;
	uint16_t port;
	char *logbuf;
	size_t loglen;
	FILE *logf;
	struct fa_log log;
};

static struct fixture *start(unsigned threads)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct fa_http_opts o = { .bind_addr = "127.0.0.1", .routes = routes,
				  .n_routes = ARRAY_LEN(routes), .threads = threads };
	struct fa_err err;

	assert_non_null(f);
	f->logf = tmpfile();
	assert_non_null(f->logf);
	f->log = (struct fa_log){ .fp = f->logf, .min = FA_LOG_INFO };
	o.log = &f->log;
	f->srv = fa_http_start(&o, &err);
	if (!f->srv)
		fail_msg("fa_http_start: %s", err.msg);
	f->port = fa_http_port(f->srv);
	return f;
}

/* The whole log so far (static buffer, NUL-terminated). */
static const char *log_text(struct fixture *f)
{
	static char buf[512 * 1024];
	size_t n;

	fflush(f->logf);
	rewind(f->logf);
	n = fread(buf, 1, sizeof(buf) - 1, f->logf);
	buf[n] = '\0';
	fseek(f->logf, 0, SEEK_END);
	return buf;
}

static void finish(struct fixture *f)
{
	fa_http_stop(f->srv);
	fclose(f->logf);
	free(f);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A connection to the server from source address `from` (127.0.0.x). */
static int dial(uint16_t port, const char *from)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(inet_pton(AF_INET, from, &src.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One keep-alive request for `path`; the status, or -1 when the server
 * closed the connection without answering. */
static int ask(int fd, const char *path)
{
	char req[256], resp[1024];
	size_t got = 0;
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
	int status = -1;

	assert_true(n > 0 && (size_t)n < sizeof(req));
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		return -1;
	/* Our answers are small: read until the end of the body. */
	while (got < sizeof(resp) - 1) {
		ssize_t r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
		const char *end, *cl;

		if (r <= 0)
			return -1;
		got += (size_t)r;
		resp[got] = '\0';
		end = strstr(resp, "\r\n\r\n");
		cl = strcasestr(resp, "Content-Length:");
		if (end && cl && (size_t)(resp + got - (end + 4)) >= strtoul(cl + 15, NULL, 10))
			break;
	}
	if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
		return -1;
	return status;
}

/* The numbers of the last "http: requests per worker:" line: requests
 * into reqs, open connections into conns; returns how many workers. */
static unsigned worker_line(struct fixture *f, unsigned long *reqs, unsigned long *conns,
			    unsigned cap)
{
	const char *log, *p, *line = NULL;
	unsigned n = 0, k = 0;
	char *end;

	fa_http_log_workers(f->srv);
	log = log_text(f);
	for (p = log; (p = strstr(p, "http: requests per worker:")); p++)
		line = p;
	assert_non_null(line);
	p = line + strlen("http: requests per worker:");
	while (n < cap && *p == ' ') {
		reqs[n++] = strtoul(p, &end, 10);
		p = end;
	}
	assert_true(strncmp(p, "; open connections:", 19) == 0);
	p += 19;
	while (k < cap && *p == ' ') {
		conns[k++] = strtoul(p, &end, 10);
		p = end;
	}
	assert_int_equal(n, k);
	return n;
}

/* 16 keep-alive connections opened at once, one request on each: every
 * worker gets the same share (the remainder one each), whatever order the
 * kernel completes the handshakes in. */
static void spread(unsigned threads)
{
	struct fixture *f = start(threads);
	unsigned long reqs[8], conns[8], fair = 16 / threads;
	int fds[16];
	unsigned n;

	for (int i = 0; i < 16; i++) {
		fds[i] = dial(f->port, "127.0.0.1");
		assert_true(fds[i] >= 0);
	}
	for (int i = 0; i < 16; i++)
		assert_int_equal(ask(fds[i], "/ok"), 200);
	/* A request counts once MHD reports it complete, which may be just
	 * after the client has its answer. */
	for (int t = 0; t < 200; t++) {
		unsigned long sum = 0;

		n = worker_line(f, reqs, conns, 8);
		for (unsigned i = 0; i < n; i++)
			sum += reqs[i];
		if (sum == 16)
			break;
		sleep_ms(10);
	}
	assert_int_equal(n, threads);
	for (unsigned i = 0; i < n; i++) {
		if (reqs[i] < fair || reqs[i] > fair + 1 || conns[i] < fair || conns[i] > fair + 1)
			fail_msg("worker %u: %lu requests, %lu connections (fair share %lu)", i,
				 reqs[i], conns[i], fair);
	}
	/* Closed connections leave their worker: all back to 0. */
	for (int i = 0; i < 16; i++)
		close(fds[i]);
	for (int t = 0; t < 200; t++) {
		unsigned long sum = 0;

		worker_line(f, reqs, conns, 8);
		for (unsigned i = 0; i < n; i++)
			sum += conns[i];
		if (sum == 0)
			break;
		sleep_ms(20);
	}
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(conns[i], 0);
	finish(f);
}

static void test_keepalive_spread_even(void **state)
{
	(void)state;
	spread(2);
	spread(3);
	spread(4);
}

/* Waits until the server has seen `fd` closed by the client. */
static void wait_released(struct fixture *f, unsigned long want_total)
{
	unsigned long reqs[8], conns[8], sum = 0;
	unsigned n;

	for (int t = 0; t < 200; t++) {
		n = worker_line(f, reqs, conns, 8);
		sum = 0;
		for (unsigned i = 0; i < n; i++)
			sum += conns[i];
		if (sum == want_total)
			return;
		sleep_ms(20);
	}
	fail_msg("open connections %lu, expected %lu", sum, want_total);
}

/* One address may hold FA_MAX_CONNECTIONS_PER_IP connections across all
 * workers together; the next is closed unanswered, and a slot freed by a
 * close is usable again. */
static void test_per_address_cap(void **state)
{
	struct fixture *f = start(2);
	int fds[FA_MAX_CONNECTIONS_PER_IP], extra;

	(void)state;
	for (int i = 0; i < FA_MAX_CONNECTIONS_PER_IP; i++) {
		fds[i] = dial(f->port, "127.0.0.1");
		assert_true(fds[i] >= 0);
		assert_int_equal(ask(fds[i], "/ok"), 200);
	}
	extra = dial(f->port, "127.0.0.1");
	assert_true(extra >= 0);              /* the kernel completes the handshake */
	assert_int_equal(ask(extra, "/ok"), -1);
	close(extra);
	/* Another address is not affected. */
	extra = dial(f->port, "127.0.0.2");
	assert_true(extra >= 0);
	assert_int_equal(ask(extra, "/ok"), 200);
	close(extra);
	close(fds[0]);
	wait_released(f, FA_MAX_CONNECTIONS_PER_IP - 1);
	fds[0] = dial(f->port, "127.0.0.1");
	assert_int_equal(ask(fds[0], "/ok"), 200);
	for (int i = 0; i < FA_MAX_CONNECTIONS_PER_IP; i++)
		close(fds[i]);
	finish(f);
}

/* FA_MAX_CONNECTIONS in total, from several addresses, across workers. */
static void test_total_cap(void **state)
{
	enum { PER = FA_MAX_CONNECTIONS_PER_IP, ADDRS = FA_MAX_CONNECTIONS / PER };
	struct rlimit rl;
	struct fixture *f;
	int *fds = calloc(FA_MAX_CONNECTIONS, sizeof(*fds)), extra;
	char from[32];

	(void)state;
	assert_non_null(fds);
	/* Both ends of every connection live in this process. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < 2 * FA_MAX_CONNECTIONS + 64) {
		free(fds);
		skip();
	}
	if (rl.rlim_cur < 2 * FA_MAX_CONNECTIONS + 64) {
		rl.rlim_cur = 2 * FA_MAX_CONNECTIONS + 64;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	f = start(2);
	for (int a = 0; a < ADDRS; a++) {
		snprintf(from, sizeof(from), "127.0.0.%d", 10 + a);
		for (int i = 0; i < PER; i++) {
			int k = a * PER + i;

			fds[k] = dial(f->port, from);
			assert_true(fds[k] >= 0);
			assert_int_equal(ask(fds[k], "/ok"), 200);
		}
	}
	extra = dial(f->port, "127.0.0.99");
	assert_true(extra >= 0);
	assert_int_equal(ask(extra, "/ok"), -1);
	close(extra);
	for (int k = 0; k < FA_MAX_CONNECTIONS; k++)
		close(fds[k]);
	wait_released(f, 0);
	extra = dial(f->port, "127.0.0.99");
	assert_int_equal(ask(extra, "/ok"), 200);
	close(extra);
	free(fds);
	finish(f);
}

/* A second server on an address in use fails, saying so, and the first
 * one keeps serving. */
static void test_second_server_refused(void **state)
{
	struct fixture *f = start(2);
	struct fa_http_opts o = { .bind_addr = "127.0.0.1", .port = f->port, .routes = routes,
				  .n_routes = ARRAY_LEN(routes), .log = &f->log, .threads = 2 };
	struct fa_err err;
	int fd;

	(void)state;
	fa_err_clear(&err);
	assert_null(fa_http_start(&o, &err));
	assert_int_equal(err.rc, FA_EIO);
	assert_string_equal(err.msg, "Address already in use (another process listens there)");
	fd = dial(f->port, "127.0.0.1");
	assert_int_equal(ask(fd, "/ok"), 200);
	close(fd);
	finish(f);
}

/* Access-log lines: written within a second without a stop, whole, in the
 * order each connection's requests completed, and all of them at stop,
 * followed by the per-worker line. Each connection comes from its own
 * address, so that its lines can be told apart. */
static void test_access_log_buffered(void **state)
{
	struct fixture *f = start(2);
	enum { CONNS = 4 };
	int fds[CONNS];
	char from[32], line[96];
	const char *log;
	bool seen = false;

	(void)state;
	for (int c = 0; c < CONNS; c++) {
		snprintf(from, sizeof(from), "127.0.0.%d", c + 1);
		fds[c] = dial(f->port, from);
		assert_true(fds[c] >= 0);
	}
	assert_int_equal(ask(fds[0], "/ok"), 200);
	for (int t = 0; t < 60 && !seen; t++) {
		sleep_ms(50);
		seen = strstr(log_text(f), " info http 127.0.0.1 GET /ok 200 2 ") != NULL;
	}
	assert_true(seen);
	for (int i = 0; i < SEQ; i++)
		for (int c = 0; c < CONNS; c++)
			assert_int_equal(ask(fds[c], seq_paths[i]), 200);
	for (int c = 0; c < CONNS; c++)
		close(fds[c]);
	fa_http_stop(f->srv);
	f->srv = NULL;
	log = log_text(f);
	for (int c = 0; c < CONNS; c++) {
		const char *prev = log;

		for (int i = 0; i < SEQ; i++) {
			const char *at;

			snprintf(line, sizeof(line), " info http 127.0.0.%d GET %s 200 2 ", c + 1,
				 seq_paths[i]);
			at = strstr(log, line);
			if (!at || at < prev)
				fail_msg("line%s missing or out of order", line);
			prev = at;
		}
	}
	/* Every line is whole: a time stamp, a level, a message. */
	for (const char *p = log; *p;) {
		const char *nl = strchr(p, '\n');

		if (!nl || nl - p < 30 || p[4] != '-' || p[10] != 'T' || p[23] != 'Z' ||
		    strncmp(p + 24, " info ", 6) != 0)
			fail_msg("malformed line: %.80s", p);
		p = nl + 1;
	}
	snprintf(line, sizeof(line), " GET %s 200 ", seq_paths[SEQ - 1]);
	assert_non_null(strstr(log, "http: requests per worker:"));
	assert_true(strstr(log, "http: requests per worker:") > strstr(log, line));
	fclose(f->logf);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keepalive_spread_even),
		cmocka_unit_test(test_per_address_cap),
		cmocka_unit_test(test_total_cap),
		cmocka_unit_test(test_second_server_refused),
		cmocka_unit_test(test_access_log_buffered),
	};

	routes_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
