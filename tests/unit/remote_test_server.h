/* remote_test_server.h -- a real HTTP(S) server (libmicrohttpd, one thread
 * per connection) on a free 127.0.0.1 port for the unit tests of the
 * remote module and of the client (whose requests go through remote), with
 * routes whose answers a test sets and requests it counts:
 *
 *   /json /nostore /html /badjson /array  small fixed answers
 *   /big-cl /big-chunked                  300 KiB, with and without length
 *   /redirect                             302 to /json
 *   /slow                                 answers after delay_ms
 *   /echo                                 records Authorization,
 *                                         flyte-authorization, Content-Type,
 *                                         Expect and the body
 *   /status/500                           500
 *   /jwks                                 jwks text with jwks_status, counted
 *   /.well-known/openid-configuration     disc text, counted
 *   /common/v2.0/.well-known/openid-configuration  the same
 *
 * Header only (static inline), as fa_test.h. Also a throwaway CA and server
 * certificate made with the openssl command line, for the TLS tests, and
 * the assertion every remote test uses on a failure's code and message.
 */
#ifndef REMOTE_TEST_SERVER_H
#define REMOTE_TEST_SERVER_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"
#include "remote/remote.h"

#define RTS_BIG (300 * 1024)

/* rc is want and the message holds sub (printed when not). */
static inline void expect_err(enum fa_rc rc, const struct fa_err *e, enum fa_rc want,
			      const char *sub)
{
	if (rc != want || !strstr(e->msg, sub))
		print_error("got rc %d (%s) msg \"%s\"; want rc %d with \"%s\"\n", rc, fa_rc_str(rc),
			    e->msg, want, sub);
	assert_int_equal(rc, want);
	assert_non_null(strstr(e->msg, sub));
}

struct rts {
	struct MHD_Daemon *d;
	unsigned port;
	pthread_mutex_t mu;
	char *cert_pem, *key_pem;       /* TLS when set */
	/* set by the test */
	int delay_ms;
	int jwks_status;
	char jwks[16 * 1024];
	char disc[16 * 1024];
	/* seen by the server */
	int jwks_hits, disc_hits;
	char auth[2048], ctype[256], expect[64], body[4096];
	char flyte_auth[2048];          /* flytectl's authorizationHeader */
};

struct rts_upload {
	char body[4096];
	size_t len;
};

static inline void rts_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* A monotonic clock moved by hand, for a key set's windows
 * (fa_remote_jwks_opts.clock_ms): a test decides when a window has passed,
 * not how busy the machine is. Starts far from 0, which the set reads as
 * "never". */
struct rts_clock {
	_Atomic int64_t ms;
};

static inline int64_t rts_clock_now(void *arg)
{
	return atomic_load(&((struct rts_clock *)arg)->ms);
}

static inline void rts_clock_start(struct rts_clock *c)
{
	atomic_init(&c->ms, 1000000);
}

/* Key sets made with o read c. */
static inline void rts_clock_use(struct rts_clock *c, struct fa_remote_jwks_opts *o)
{
	o->clock_ms = rts_clock_now;
	o->clock_arg = c;
}

static inline void rts_clock_advance(struct rts_clock *c, int64_t ms)
{
	atomic_fetch_add(&c->ms, ms);
}

static inline enum MHD_Result rts_send(struct MHD_Connection *c, unsigned status, const char *ct,
				       const char *extra_name, const char *extra_value,
				       const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
								 MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (ct)
		MHD_add_response_header(r, "Content-Type", ct);
	if (extra_name)
		MHD_add_response_header(r, extra_name, extra_value);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static inline ssize_t rts_chunks(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	if (pos >= RTS_BIG)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (max > 4096)
		max = 4096;
	memset(buf, ' ', max);
	return (ssize_t)max;
}

static inline void rts_copy_header(struct MHD_Connection *c, const char *name, char *out,
				   size_t cap)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);

	snprintf(out, cap, "%s", v ? v : "");
}

static inline enum MHD_Result rts_handle(void *cls, struct MHD_Connection *c, const char *url,
					 const char *method, const char *version,
					 const char *upload, size_t *upload_size, void **con_cls)
{
	struct rts *s = cls;
	struct rts_upload *u = *con_cls;
	char text[16 * 1024];
	int status;

	(void)version;
	if (!u) {
		*con_cls = u = calloc(1, sizeof(*u));
		return u ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		if (u->len + n < sizeof(u->body)) {
			memcpy(u->body + u->len, upload, n);
			u->len += n;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/json") == 0)
		return rts_send(c, 200, "application/json; charset=utf-8", "Cache-Control",
				"public, max-age=300", "{\"a\":1}");
	if (strcmp(url, "/nostore") == 0)
		return rts_send(c, 200, "application/jwk-set+json", "Cache-Control",
				"max-age=60, no-store", "{\"keys\":[]}");
	if (strcmp(url, "/html") == 0)
		return rts_send(c, 200, "text/html", NULL, NULL, "<html>log in</html>");
	if (strcmp(url, "/badjson") == 0)
		return rts_send(c, 200, "application/json", NULL, NULL, "{\"a\":");
	if (strcmp(url, "/array") == 0)
		return rts_send(c, 200, "application/json", NULL, NULL, "[1]");
	if (strcmp(url, "/big-cl") == 0) {
		char *big = malloc(RTS_BIG + 1);
		enum MHD_Result ret;

		memset(big, ' ', RTS_BIG);
		big[RTS_BIG] = '\0';
		ret = rts_send(c, 200, "application/json", NULL, NULL, big);
		free(big);
		return ret;
	}
	if (strcmp(url, "/big-chunked") == 0) {
		struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
									   rts_chunks, NULL, NULL);
		enum MHD_Result ret;

		MHD_add_response_header(r, "Content-Type", "application/json");
		ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (strcmp(url, "/redirect") == 0) {
		snprintf(text, sizeof(text), "http://127.0.0.1:%u/json", s->port);
		return rts_send(c, 302, "text/plain", "Location", text, "moved");
	}
	if (strcmp(url, "/slow") == 0) {
		pthread_mutex_lock(&s->mu);
		status = s->delay_ms;
		pthread_mutex_unlock(&s->mu);
		rts_sleep_ms(status);
		return rts_send(c, 200, "application/json", NULL, NULL, "{\"slow\":true}");
	}
	if (strcmp(url, "/echo") == 0) {
		pthread_mutex_lock(&s->mu);
		rts_copy_header(c, "Authorization", s->auth, sizeof(s->auth));
		rts_copy_header(c, "flyte-authorization", s->flyte_auth, sizeof(s->flyte_auth));
		rts_copy_header(c, "Content-Type", s->ctype, sizeof(s->ctype));
		rts_copy_header(c, "Expect", s->expect, sizeof(s->expect));
		snprintf(s->body, sizeof(s->body), "%.*s", (int)u->len, u->body);
		pthread_mutex_unlock(&s->mu);
		return rts_send(c, 200, "application/json", NULL, NULL, method[0] == 'P' ?
				"{\"method\":\"POST\"}" : "{\"method\":\"GET\"}");
	}
	if (strcmp(url, "/status/500") == 0)
		return rts_send(c, 500, "application/json", NULL, NULL, "{\"error\":\"x\"}");
	if (strcmp(url, "/jwks") == 0) {
		pthread_mutex_lock(&s->mu);
		s->jwks_hits++;
		status = s->jwks_status ? s->jwks_status : 200;
		snprintf(text, sizeof(text), "%s", s->jwks);
		pthread_mutex_unlock(&s->mu);
		rts_sleep_ms(50);   /* long enough for concurrent misses to meet */
		return rts_send(c, (unsigned)status, "application/json", NULL, NULL, text);
	}
	if (strcmp(url, "/.well-known/openid-configuration") == 0 ||
	    strcmp(url, "/common/v2.0/.well-known/openid-configuration") == 0) {
		pthread_mutex_lock(&s->mu);
		s->disc_hits++;
		snprintf(text, sizeof(text), "%s", s->disc);
		pthread_mutex_unlock(&s->mu);
		return rts_send(c, text[0] ? 200 : 503, "application/json", NULL, NULL,
				text[0] ? text : "{}");
	}
	return rts_send(c, 404, "text/plain", NULL, NULL, "not found");
}

static inline void rts_completed(void *cls, struct MHD_Connection *c, void **con_cls,
				 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

/* Starts a server; with cert/key PEM text, over TLS. */
static inline struct rts *rts_start(const char *cert_pem, const char *key_pem)
{
	struct rts *s = calloc(1, sizeof(*s));
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
	const union MHD_DaemonInfo *info;
	struct sockaddr_in sa;

	assert_non_null(s);
	pthread_mutex_init(&s->mu, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);   /* loopback only, any free port */
	if (cert_pem) {
		s->cert_pem = strdup(cert_pem);
		s->key_pem = strdup(key_pem);
		s->d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, rts_handle, s,
					MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
					MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem,
					MHD_OPTION_HTTPS_MEM_KEY, s->key_pem,
					MHD_OPTION_NOTIFY_COMPLETED, rts_completed, s,
					MHD_OPTION_END);
	} else {
		s->d = MHD_start_daemon(flags, 0, NULL, NULL, rts_handle, s,
					MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
					MHD_OPTION_NOTIFY_COMPLETED, rts_completed, s,
					MHD_OPTION_END);
	}
	assert_non_null(s->d);
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	s->port = info->port;
	return s;
}

static inline void rts_stop(struct rts *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	pthread_mutex_destroy(&s->mu);
	free(s->cert_pem);
	free(s->key_pem);
	free(s);
}

static inline void rts_set_jwks(struct rts *s, const char *text, int status)
{
	pthread_mutex_lock(&s->mu);
	snprintf(s->jwks, sizeof(s->jwks), "%s", text);
	s->jwks_status = status;
	pthread_mutex_unlock(&s->mu);
}

static inline int rts_jwks_hits(struct rts *s)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->jwks_hits;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* "http://127.0.0.1:<port><path>" (https when TLS). */
static inline void rts_url(const struct rts *s, const char *path, char *out, size_t cap)
{
	snprintf(out, cap, "%s://127.0.0.1:%u%s", s->cert_pem ? "https" : "http", s->port, path);
}

/* ---- throwaway PKI ---------------------------------------------------------- */

/* In dir: <name>-ca.pem (a CA) and <name>-cert.pem / <name>-key.pem (a
 * server certificate for IP 127.0.0.1 signed by it). */
static inline void rts_make_pki(const char *dir, const char *name)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
		 "cd %s && "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout %s-ca-key.pem -out %s-ca.pem -days 1 -subj /CN=%s-test-ca "
		 "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign "
		 ">/dev/null 2>&1 && "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout %s-key.pem -out %s.csr -subj /CN=127.0.0.1 >/dev/null 2>&1 && "
		 "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > %s.ext && "
		 "openssl x509 -req -in %s.csr -CA %s-ca.pem -CAkey %s-ca-key.pem -CAcreateserial "
		 "-out %s-cert.pem -days 1 -extfile %s.ext >/dev/null 2>&1",
		 dir, name, name, name, name, name, name, name, name, name, name, name);
	assert_int_equal(system(cmd), 0);
}

/* Two unrelated CAs, "a" and "b", each with a 127.0.0.1 server
 * certificate (rts_make_pki), in a new temp dir named after `what`
 * (dir[64]; the caller removes it with rts_rm_dir); ca_a and ca_b
 * (128 bytes each) get the CA files' paths. */
static inline void rts_make_two_pkis(const char *what, char dir[64], char ca_a[128],
				     char ca_b[128])
{
	snprintf(dir, 64, "/tmp/fa_%s.XXXXXX", what);
	assert_non_null(mkdtemp(dir));
	rts_make_pki(dir, "a");
	rts_make_pki(dir, "b");
	snprintf(ca_a, 128, "%s/a-ca.pem", dir);
	snprintf(ca_b, 128, "%s/b-ca.pem", dir);
}

static inline char *rts_read(const char *dir, const char *file)
{
	char path[512], *data = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	assert_int_equal(fa_file_read(path, 64 * 1024, &data, &len, NULL), FA_OK);
	return data;
}

/* Removes dir and everything in it. */
static inline void rts_rm_dir(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

#endif
