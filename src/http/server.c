/* server.c -- the libmicrohttpd adapter: starts and stops the workers (one
 * MHD daemon each, fed by the acceptor of listen.c), turns MHD's callbacks
 * into the dispatcher's calls, queues responses and writes the access log.
 *
 * Request lifecycle (MHD 0.9.75, see STYLE.md §5):
 *   1. MHD_OPTION_URI_LOG_CALLBACK (on_uri): the request line is in; the
 *      request and its arena are created here, with the raw target (MHD
 *      unescapes and cuts the query out of what it passes later), and the
 *      in-flight count goes up. Its return value becomes *con_cls.
 *   2. Access handler, first call: headers are in; fa_http_dispatch_begin
 *      decides whether to answer now (MHD then discards any body and
 *      closes) or to read the body.
 *   3. Access handler, upload calls: body bytes to fa_http_body_feed.
 *   4. Access handler, final call: fa_http_dispatch_finish runs the
 *      handler; the response is queued.
 *   5. MHD_OPTION_NOTIFY_COMPLETED (on_completed): one access-log line
 *      (buffered per worker, accesslog.c), the worker's request count goes
 *      up, the arena is freed, the in-flight count goes down.
 * If *con_cls is NULL in the handler (on_uri ran out of memory), the
 * client gets a bare 503.
 *
 * The access log names the client, method, path (never the query: it can
 * hold codes and tokens), status, body bytes, duration and the request id;
 * never a header, cookie, query or body. With the JSON log format these
 * are fields of the line (method, path, status, bytes, duration_ms,
 * remote_addr, request_id). on_completed also counts the request in the
 * metrics registry, by route and status.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_int.h"

/* Longest path the access log shows; the rest is "...". */
#define LOG_PATH_MAX 200

/* Default logger when the caller gives none: stderr at INFO. */
static const struct fa_log default_log = { .fp = NULL, .min = FA_LOG_INFO };

/* Copies s into out with everything but visible ASCII replaced by '?', so
 * a hostile path cannot forge log lines or terminal escapes. */
static void log_safe(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s && o + 4 < cap; s++)
		out[o++] = ((unsigned char)*s > 0x20 && (unsigned char)*s < 0x7F) ? *s : '?';
	if (*s)
		for (int i = 0; i < 3; i++)
			out[o++] = '.';
	out[o] = '\0';
}

static void set_client_addr(struct fa_req *req, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	req->client_addr[0] = '\0';
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in in;

		memcpy(&in, sa, sizeof(in));
		(void)inet_ntop(AF_INET, &in.sin_addr, req->client_addr, sizeof(req->client_addr));
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 in6;

		memcpy(&in6, sa, sizeof(in6));
		(void)inet_ntop(AF_INET6, &in6.sin6_addr, req->client_addr,
				sizeof(req->client_addr));
	}
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct fa_http_worker *w = cls;
	struct fa_http *srv = w->srv;
	struct fa_arena *a = w->n_spare ? w->spare[--w->n_spare]
					: fa_arena_new(FA_MAX_REQUEST_ARENA);
	struct fa_req *req = fa_http_req_new(srv, a, uri);

	if (!req) {
		fa_arena_free(a);
		return NULL;
	}
	set_client_addr(req, conn);
	snprintf(req->id, sizeof(req->id), "%s-%llx", srv->id_prefix,
		 (unsigned long long)atomic_fetch_add_explicit(&srv->next_id, 1,
							       memory_order_relaxed) + 1);
	req->https = srv->tls;
	atomic_fetch_add(&srv->in_flight, 1);
	return req;
}

/* The request's arena, emptied (zeroed) for the worker's next request. */
static void arena_release(struct fa_http_worker *w, struct fa_arena *a)
{
	if (w->n_spare == FA_HTTP_SPARE_ARENAS) {
		fa_arena_free(a);
		return;
	}
	fa_arena_reset(a);
	w->spare[w->n_spare++] = a;
}

/* One access-log line (never a query, header, cookie or body), into the
 * worker's buffer. */
static void access_line(struct fa_http_worker *w, const struct fa_req *req, int status,
			size_t bytes, bool completed)
{
	const struct fa_log *log = w->srv->log;
	char path[LOG_PATH_MAX + 4], method[24], text[FA_HTTP_ALOG_LINE / 2];
	int64_t ms = fa_mono_ms() - req->start_ms;

	if (!fa_log_enabled(log, FA_LOG_INFO))
		return;
	log_safe(req->path, path, sizeof(path));
	log_safe(req->method ? req->method : "-", method, sizeof(method));
	if (log->format == FA_LOG_JSON) {
		const struct fa_log_field f[] = {
			{ .key = "method", .str = method },
			{ .key = "path", .str = path },
			{ .key = "status", .num = status, .is_num = true },
			{ .key = "bytes", .num = (int64_t)bytes, .is_num = true },
			{ .key = "duration_ms", .num = ms, .is_num = true },
			{ .key = "remote_addr", .str = fa_req_client_addr(req) },
			{ .key = "request_id", .str = req->id },
			{ .key = "completed", .str = completed ? NULL : "false" },
		};

		fa_http_alog_add(&w->alog, "http", f, ARRAY_LEN(f));
		return;
	}
	snprintf(text, sizeof(text), "http %s %s %s %d %zu %lldms id=%s%s", fa_req_client_addr(req),
		 method, path, status, bytes, (long long)ms, req->id,
		 completed ? "" : " (not completed)");
	fa_http_alog_add(&w->alog, text, NULL, 0);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct fa_http_worker *w = cls;
	struct fa_http *srv = w->srv;
	struct fa_req *req = *con_cls;
	int status = 0;
	size_t bytes = 0;

	if (!req)
		return;
	*con_cls = NULL;
	if (req->phase == FA_REQ_ANSWERED) {
		status = req->resp.status;
		bytes = req->resp.body_len;
	} else {
		/* MHD answered by itself (e.g. 431), or the client went away. */
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);

		if (ci)
			status = (int)ci->http_status;
	}
	fa_metrics_request(srv->metrics,
			   req->route ? srv->route_metric[req->route - srv->routes]
				      : FA_METRICS_NO_ROUTE, status);
	access_line(w, req, status, bytes, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	atomic_fetch_add_explicit(&w->requests, 1, memory_order_relaxed);
	arena_release(w, req->arena);
	/* Only a drain waits for the count to reach 0: it sets `stopping`
	 * before it looks (under the lock), so a last request either sees it
	 * and wakes the drain, or finished before the drain looked. */
	if (atomic_fetch_sub(&srv->in_flight, 1) == 1 && atomic_load(&srv->stopping)) {
		pthread_mutex_lock(&srv->lock);
		pthread_cond_broadcast(&srv->idle);
		pthread_mutex_unlock(&srv->lock);
	}
}

/* A connection the acceptor handed to this worker is gone: its slot in the
 * connection caps is free again. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *ci;

	(void)socket_context;
	if (code != MHD_CONNECTION_NOTIFY_CLOSED)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	fa_http_conn_release(cls, ci ? ci->client_addr : NULL);
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      size_t key_size, const char *value, size_t value_size)
{
	struct fa_req *req = cls;

	(void)kind;
	if (fa_http_req_add_header(req, key, key_size, value ? value : "",
				   value ? value_size : 0) != FA_OK)
		req->resp.broken = true;
	return MHD_YES;
}

/* Hands the finished response to MHD. */
static enum MHD_Result queue(struct fa_req *req, struct MHD_Connection *conn)
{
	struct fa_resp *resp = &req->resp;
	struct MHD_Response *r;
	enum MHD_Result ret = MHD_NO;

	req->phase = FA_REQ_ANSWERED;
	/* MUST_COPY: MHD keeps its own copy; our arena dies with the request.
	 * MHD only reads the buffer (the cast drops const for its old API). */
	r = MHD_create_response_from_buffer(resp->body_len, (void *)(uintptr_t)resp->body,
					    MHD_RESPMEM_MUST_COPY);
	if (!r)
		goto out;
	if (resp->content_type &&
	    MHD_add_response_header(r, "Content-Type", resp->content_type) != MHD_YES)
		goto out;
	for (size_t i = 0; i < resp->n_headers; i++)
		if (MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value) !=
		    MHD_YES)
			goto out;
	if (atomic_load(&req->srv->stopping) &&
	    MHD_add_response_header(r, "Connection", "close") != MHD_YES)
		goto out;
	ret = MHD_queue_response(conn, (unsigned)resp->status, r);
out:
	if (ret != MHD_YES)
		fa_log_warnx(req->srv->log, "http: could not queue the response to %s",
			     fa_req_client_addr(req));
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result queue_unavailable(struct MHD_Connection *conn)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	ret = MHD_queue_response(conn, 503, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct fa_req *req = *con_cls;

	(void)cls;
	(void)url;       /* unescaped by MHD: we route on the raw target */
	(void)version;
	if (!req)
		return queue_unavailable(conn);
	switch (req->phase) {
	case FA_REQ_NEW:
		(void)MHD_get_connection_values_n(conn, MHD_HEADER_KIND, collect_header, req);
		if (req->resp.broken || fa_http_dispatch_begin(req, method)) {
			fa_http_dispatch_seal(req);
			return queue(req, conn);
		}
		return MHD_YES;
	case FA_REQ_BODY:
		if (*upload_data_size) {
			bool more = fa_http_body_feed(req, upload_data, *upload_data_size);

			*upload_data_size = 0;
			/* MHD_NO closes the connection: an endless body past the cap. */
			return more ? MHD_YES : MHD_NO;
		}
		fa_http_dispatch_finish(req);
		if (req->phase == FA_REQ_DEFERRED) {
			/* Suspended before it is queued, so that the pool's
			 * resume always finds it suspended (pool.c). */
			req->conn = conn;
			MHD_suspend_connection(conn);
			fa_http_pool_push(&req->srv->pool, req);
			return MHD_YES;
		}
		return queue(req, conn);
	case FA_REQ_RESUMED:
		return queue(req, conn);
	case FA_REQ_DEFERRED:
	case FA_REQ_ANSWERED:
		break;
	}
	*upload_data_size = 0;
	return MHD_YES;
}

/* MHD's own diagnostics. They can name a path but never a query or a
 * header value; still DEBUG, since a client can trigger them at will. */
__attribute__((format(printf, 2, 0)))
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct fa_http *srv = cls;
	char line[512];
	size_t n;

	if (vsnprintf(line, sizeof(line), fmt, ap) < 0)
		return;
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	fa_log(srv->log, FA_LOG_DEBUG, "http: mhd: %s", line);
}

/* Reads a whole PEM file, bounded by FA_MAX_SECRET; the reason alone in
 * err (the caller names the file). */
static enum fa_rc read_pem(const char *path, char **out, struct fa_err *err)
{
	size_t len = 0;
	int e = 0;
	enum fa_rc rc = fa_file_read(path, FA_MAX_SECRET, out, &len, &e);

	if (rc == FA_ETOOBIG)
		return fa_err_set(err, rc, "over %d bytes", FA_MAX_SECRET);
	if (rc == FA_ENOMEM)
		return fa_err_set(err, rc, "out of memory");
	if (rc != FA_OK)
		return fa_err_set(err, FA_EIO, "%s", strerror(e ? e : EIO));
	return FA_OK;
}

/* The TLS library's first complaint while fa_http_tls_check's daemon starts. */
struct tls_probe {
	char msg[256];
};

__attribute__((format(printf, 2, 0)))
static void on_probe_log(void *cls, const char *fmt, va_list ap)
{
	struct tls_probe *p = cls;
	size_t n;

	if (p->msg[0] || vsnprintf(p->msg, sizeof(p->msg), fmt, ap) < 0)
		return;
	n = strlen(p->msg);
	while (n && (p->msg[n - 1] == '\n' || p->msg[n - 1] == '\r' || p->msg[n - 1] == '.'))
		p->msg[--n] = '\0';
}

static enum MHD_Result on_probe_request(void *cls, struct MHD_Connection *c, const char *url,
					const char *method, const char *version,
					const char *upload_data, size_t *upload_data_size,
					void **con_cls)
{
	(void)cls, (void)c, (void)url, (void)method, (void)version, (void)upload_data;
	(void)upload_data_size, (void)con_cls;
	return MHD_NO;
}

enum fa_rc fa_http_tls_check(const char *cert_file, const char *key_file, int *which,
			     struct fa_err *err)
{
	struct tls_probe probe = { .msg = "" };
	char *cert = NULL, *key = NULL;
	struct MHD_Daemon *d;
	enum fa_rc rc;

	*which = 0;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return fa_err_set(err, FA_EUNSUPPORTED, "this libmicrohttpd was built without TLS");
	rc = read_pem(cert_file, &cert, err);
	if (rc == FA_OK) {
		*which = 1;
		rc = read_pem(key_file, &key, err);
	}
	if (rc != FA_OK)
		goto out;
	/* OpenSSL first: GnuTLS leaks what it parsed when it refuses a file
	 * that is not PEM. Then the very options a worker starts with
	 * (worker_start), on a daemon without socket or thread: GnuTLS parses
	 * both and matches the key to the certificate again. */
	*which = 2;
	if ((rc = fa_tls_pair_check(cert, key, err)) != FA_OK)
		goto out;
	d = MHD_start_daemon(MHD_USE_TLS | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG, 0, NULL,
			     NULL, on_probe_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_probe_log,
			     &probe, MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
			     MHD_OPTION_END);
	if (d)
		MHD_stop_daemon(d);
	else
		rc = fa_err_set(err, FA_ECONFIG, "the TLS library refuses the pair (%s)",
				probe.msg[0] ? probe.msg : "no reason given");
out:
	fa_free_secret(cert);
	fa_free_secret(key);
	return rc;
}

static unsigned thread_count(unsigned asked)
{
	if (asked == 0)
		asked = fa_cpus_usable();
	return asked > FA_HTTP_MAX_THREADS ? FA_HTTP_MAX_THREADS : asked;
}

/* Stops every worker's daemon (closing its connections), then writes what
 * is left of its access log. */
static void workers_stop(struct fa_http *srv)
{
	for (unsigned i = 0; i < srv->n_workers; i++) {
		struct fa_http_worker *w = &srv->workers[i];

		if (w->daemon)
			MHD_stop_daemon(w->daemon);
		w->daemon = NULL;
		while (w->n_spare)
			fa_arena_free(w->spare[--w->n_spare]);
	}
	for (unsigned i = 0; i < srv->n_workers; i++)
		fa_http_alog_flush(&srv->workers[i].alog, INT64_MAX);
}

static void server_free(struct fa_http *srv)
{
	fa_http_acceptor_stop(srv);
	fa_http_pool_stop(&srv->pool);
	if (srv->workers) {
		workers_stop(srv);
		for (unsigned i = 0; i < srv->n_workers; i++)
			fa_http_alog_cleanup(&srv->workers[i].alog);
	}
	fa_http_conns_cleanup(srv);
	free(srv->workers);
	fa_http_pool_cleanup(&srv->pool);
	fa_http_cors_cleanup(&srv->cors);
	fa_free_secret(srv->tls_key);
	free(srv->tls_cert);
	pthread_cond_destroy(&srv->idle);
	pthread_mutex_destroy(&srv->lock);
	pthread_mutex_destroy(&srv->conn_lock);
	free(srv->routes);
	free(srv->apps);
	free(srv->route_metric);
	free(srv->required_scope);
	free(srv->proxies);
	free(srv);
}

/* Copies opts->routes and every route set into one owned table, with each
 * route's context beside it. */
static enum fa_rc flatten_routes(struct fa_http *srv, const struct fa_http_opts *opts,
				 struct fa_err *err)
{
	size_t n = opts->n_routes, k = 0;

	if ((!opts->routes && opts->n_routes) || (!opts->route_sets && opts->n_route_sets))
		return fa_err_set(err, FA_EINVAL, "routes is NULL");
	for (size_t s = 0; s < opts->n_route_sets; s++) {
		if (!opts->route_sets[s].routes && opts->route_sets[s].n_routes)
			return fa_err_set(err, FA_EINVAL, "route set %zu: routes is NULL", s);
		n += opts->route_sets[s].n_routes;
	}
	srv->routes = calloc(n ? n : 1, sizeof(*srv->routes));
	srv->apps = calloc(n ? n : 1, sizeof(*srv->apps));
	if (!srv->routes || !srv->apps)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	for (size_t i = 0; i < opts->n_routes; i++, k++) {
		srv->routes[k] = opts->routes[i];
		srv->apps[k] = opts->app;
	}
	for (size_t s = 0; s < opts->n_route_sets; s++) {
		for (size_t i = 0; i < opts->route_sets[s].n_routes; i++, k++) {
			srv->routes[k] = opts->route_sets[s].routes[i];
			srv->apps[k] = opts->route_sets[s].app;
		}
	}
	srv->n_routes = n;
	return FA_OK;
}

/* Registers every route in the metrics registry and names this start. */
static enum fa_rc metrics_and_ids(struct fa_http *srv, const struct fa_http_opts *opts,
				  struct fa_err *err)
{
	unsigned char r[4];
	enum fa_rc rc;

	if (fa_rand_bytes(r, sizeof(r)) != FA_OK)
		return fa_err_set(err, FA_ECRYPTO, "no randomness for request ids");
	fa_hex(r, sizeof(r), srv->id_prefix);
	atomic_init(&srv->next_id, 0);
	srv->metrics = opts->metrics;
	srv->route_metric = calloc(srv->n_routes ? srv->n_routes : 1, sizeof(*srv->route_metric));
	if (!srv->route_metric)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	for (size_t i = 0; i < srv->n_routes; i++) {
		srv->route_metric[i] = FA_METRICS_NO_ROUTE;
		if (srv->metrics &&
		    (rc = fa_metrics_route(srv->metrics, srv->routes[i].method, srv->routes[i].path,
					   &srv->route_metric[i], err)) != FA_OK)
			return rc;
	}
	return FA_OK;
}

/* Validates opts and fills srv (everything but the daemon). */
static enum fa_rc configure(struct fa_http *srv, const struct fa_http_opts *opts,
			    struct fa_err *err)
{
	enum fa_rc rc;

	rc = flatten_routes(srv, opts, err);
	if (rc != FA_OK)
		return rc;
	rc = fa_http_routes_check(srv->routes, srv->n_routes, err);
	if (rc == FA_OK)
		rc = metrics_and_ids(srv, opts, err);
	if (rc != FA_OK)
		return rc;
	if (!opts->tls_cert_file != !opts->tls_key_file)
		return fa_err_set(err, FA_ECONFIG, "TLS needs both a certificate and a key file");
	srv->authenticate = opts->authenticate;
	srv->auth_app = opts->auth_app ? opts->auth_app : opts->app;
	if (opts->required_scope && !(srv->required_scope = fa_strndup(opts->required_scope,
								       strlen(opts->required_scope))))
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	srv->log = opts->log ? opts->log : &default_log;
	srv->trust_forwarded = opts->trust_forwarded;
	if (opts->n_trusted_proxies > FA_HTTP_MAX_PROXIES)
		return fa_err_set(err, FA_ECONFIG, "more than %d trusted proxies",
				  FA_HTTP_MAX_PROXIES);
	if (opts->n_trusted_proxies) {
		srv->proxies = calloc(opts->n_trusted_proxies, sizeof(*srv->proxies));
		if (!srv->proxies)
			return fa_err_set(err, FA_ENOMEM, "out of memory");
		for (size_t i = 0; i < opts->n_trusted_proxies; i++)
			if (fa_cidr_parse(opts->trusted_proxies[i], &srv->proxies[i]) != FA_OK)
				return fa_err_set(err, FA_ECONFIG, "trusted proxy %zu is not an "
						  "address or CIDR range", i);
		srv->n_proxies = opts->n_trusted_proxies;
	}
	srv->stop_grace_ms = opts->stop_grace_ms ? opts->stop_grace_ms : FA_HTTP_STOP_GRACE_MS;
	rc = fa_http_cors_init(&srv->cors, &opts->cors, err);
	if (rc != FA_OK)
		return rc;
	if (opts->tls_cert_file) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			return fa_err_set(err, FA_EUNSUPPORTED, "TLS requested, but this "
					  "libmicrohttpd was built without TLS support");
		srv->tls = true;
		rc = read_pem(opts->tls_cert_file, &srv->tls_cert, err);
		if (rc == FA_OK)
			rc = read_pem(opts->tls_key_file, &srv->tls_key, err);
		if (rc != FA_OK) {
			char why[sizeof(err->msg)];

			snprintf(why, sizeof(why), "%s", err->msg);
			return fa_err_set(err, rc, "TLS: cannot read %s: %s",
					  srv->tls_cert ? opts->tls_key_file : opts->tls_cert_file,
					  why);
		}
	}
	return rc;
}

/* Starts worker w: an MHD daemon with its own polling thread and no
 * listening socket of its own (the acceptor adds its connections). */
static enum fa_rc worker_start(struct fa_http *srv, struct fa_http_worker *w, struct fa_err *err)
{
	struct MHD_OptionItem extra[3];
	unsigned flags;
	size_t ne = 0;

	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
		MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME;
	flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL
									 : MHD_USE_POLL;
	if (srv->tls) {
		flags |= MHD_USE_TLS;
		extra[ne++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert };
		extra[ne++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key };
	}
	extra[ne] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	w->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv,
		/* First, so that MHD's option parsing already logs through it. */
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, w,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, w,
		/* Request line + headers + MHD's bookkeeping: an oversized
		 * request is a 414/431, not memory. */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)FA_HTTP_CONN_MEMORY,
		/* The acceptor enforces the connection caps across workers
		 * (listen.c); this one is never reached. */
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)FA_MAX_CONNECTIONS,
		/* Idle and slow-drip connections are closed. */
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)FA_CONNECTION_TIMEOUT_S,
		/* Host required on HTTP/1.1, no spaces in the target. */
		MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
		MHD_OPTION_ARRAY, extra,
		MHD_OPTION_END);
	if (!w->daemon)
		return fa_err_set(err, FA_EIO, "cannot start HTTP worker %u", w->idx);
	return FA_OK;
}

struct fa_http *fa_http_start(const struct fa_http_opts *opts, struct fa_err *err)
{
	struct fa_http *srv = NULL;

	if (!opts) {
		fa_err_set(err, FA_EINVAL, "no server options");
		goto fail;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		fa_err_set(err, FA_ENOMEM, "out of memory");
		goto fail;
	}
	srv->listen_fd = -1;
	srv->wake[0] = srv->wake[1] = -1;
	atomic_init(&srv->stopping, false);
	atomic_init(&srv->in_flight, 0);
	pthread_mutex_init(&srv->lock, NULL);
	pthread_mutex_init(&srv->conn_lock, NULL);
	pthread_cond_init(&srv->idle, NULL);
	if (configure(srv, opts, err) != FA_OK)
		goto fail;
	srv->n_workers = thread_count(opts->threads);
	srv->workers = calloc(srv->n_workers, sizeof(*srv->workers));
	if (!srv->workers) {
		srv->n_workers = 0;
		fa_err_set(err, FA_ENOMEM, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < srv->n_workers; i++) {
		srv->workers[i].srv = srv;
		srv->workers[i].idx = i;
		atomic_init(&srv->workers[i].requests, 0);
		fa_http_alog_init(&srv->workers[i].alog, srv->log);
	}
	if (fa_http_pool_start(&srv->pool, opts->blocking_threads, opts->blocking_queue, err) !=
	    FA_OK)
		goto fail;
	if (fa_http_listen_take(srv, opts, err) != FA_OK)
		goto fail;
	for (unsigned i = 0; i < srv->n_workers; i++)
		if (worker_start(srv, &srv->workers[i], err) != FA_OK)
			goto fail;
	if (fa_http_acceptor_start(srv, err) != FA_OK)
		goto fail;
	return srv;
fail:
	if (srv)
		server_free(srv);
	return NULL;
}

uint16_t fa_http_port(const struct fa_http *h)
{
	return h ? h->port : 0;
}

void fa_http_log_workers(struct fa_http *h)
{
	char reqs[FA_HTTP_MAX_THREADS * 24], conns[FA_HTTP_MAX_THREADS * 12];
	size_t n = 0, c = 0;

	if (!h)
		return;
	/* The access lines of the requests counted come first. */
	for (unsigned i = 0; i < h->n_workers; i++)
		fa_http_alog_flush(&h->workers[i].alog, INT64_MAX);
	reqs[0] = conns[0] = '\0';
	pthread_mutex_lock(&h->conn_lock);
	for (unsigned i = 0; i < h->n_workers; i++) {
		int m = snprintf(reqs + n, sizeof(reqs) - n, " %lu",
				 atomic_load_explicit(&h->workers[i].requests, memory_order_relaxed));
		int k = snprintf(conns + c, sizeof(conns) - c, " %zu", h->workers[i].conns);

		if (m < 0 || (size_t)m >= sizeof(reqs) - n || k < 0 || (size_t)k >= sizeof(conns) - c)
			break;
		n += (size_t)m;
		c += (size_t)k;
	}
	pthread_mutex_unlock(&h->conn_lock);
	fa_log(h->log, FA_LOG_INFO, "http: requests per worker:%s; open connections:%s", reqs,
	       conns);
}

void fa_http_drain(struct fa_http *h)
{
	struct timespec deadline;
	bool drained = true;

	if (!h || h->drained)
		return;
	h->drained = true;
	atomic_store(&h->stopping, true);
	/* Stop accepting: connection attempts are refused from here on. */
	fa_http_acceptor_stop(h);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += h->stop_grace_ms / 1000;
	deadline.tv_nsec += (long)(h->stop_grace_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&h->lock);
	while (atomic_load(&h->in_flight) > 0 && drained)
		drained = pthread_cond_timedwait(&h->idle, &h->lock, &deadline) != ETIMEDOUT;
	pthread_mutex_unlock(&h->lock);
	if (!drained)
		fa_log_warnx(h->log, "http: stopping with requests still in flight after %u ms",
			     h->stop_grace_ms);
}

void fa_http_stop(struct fa_http *h)
{
	if (!h)
		return;
	fa_http_drain(h);
	/* Deferred requests need the workers to be answered: pool first. */
	fa_http_pool_stop(&h->pool);
	workers_stop(h);
	fa_http_log_workers(h);
	server_free(h);
}
