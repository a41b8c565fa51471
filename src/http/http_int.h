/* http_int.h -- internals shared by the files of src/http and by its tests
 * and fuzz targets: the request and response structs, the pure parsers
 * (query/form parameters, Cookie header, Set-Cookie formatting), CORS
 * decisions and the dispatcher's entry points.
 *
 * Not part of the module's interface: other modules include http.h only.
 * Nothing here touches libmicrohttpd except server.c, which owns the
 * daemon; everything else works on the structs below and can be tested
 * without a socket.
 */
#ifndef FA_HTTP_INT_H
#define FA_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "http/http.h"

struct MHD_Connection;

/* One name/value pair, both NUL-terminated, lengths without the NUL. A
 * NULL value marks a cookie name that was sent twice (ambiguous). */
struct fa_kv {
	const char *name;
	const char *value;
	size_t name_len;
	size_t value_len;
	unsigned seen;               /* request headers: fields merged into this one */
};

struct fa_kvs {
	struct fa_kv *v;
	size_t n;
};

/* Headers the layer itself may add after the handler (security, CORS,
 * no-store, Connection), on top of the handler's FA_HTTP_MAX_RESP_HEADERS. */
#define FA_HTTP_RESERVED_HEADERS 16

struct fa_resp {
	struct fa_arena *arena;
	int status;                  /* 0: nothing set yet */
	const char *content_type;    /* NULL: no body */
	const char *body;
	size_t body_len;
	struct fa_kv headers[FA_HTTP_MAX_RESP_HEADERS + FA_HTTP_RESERVED_HEADERS];
	size_t n_headers;
	size_t n_handler_headers;    /* counted against FA_HTTP_MAX_RESP_HEADERS */
	bool broken;                 /* an error answer could not be built: bare 500 */
};

/* CORS settings as copied and normalised by fa_http_cors_init. */
struct fa_http_cors_cfg {
	bool enabled;
	bool any_origin;             /* "*" was listed */
	char **origins;              /* exact origins, trailing '/' removed */
	size_t n_origins;
	char **headers;              /* allowed request headers, "Content-Type" first */
	size_t n_headers;
	char *allow_headers_value;   /* headers joined by ", " */
};

/* A bound, listening socket not yet served (listen.c). */
struct fa_http_listener {
	int fd;
	uint16_t port;
	bool v6;
};

/* addr (numeric; NULL: 127.0.0.1) and port as a socket address. */
enum fa_rc fa_http_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss,
			    socklen_t *len, bool *v6, struct fa_err *err) FA_WUR;

/* ---- accesslog.c: a worker's buffered access log ------------------------------ */

/* One flush: PIPE_BUF, so that it is one atomic write on a shared pipe. */
#define FA_HTTP_ALOG_BUF 4096
/* Room kept free in the buffer for the next line: one access line is at
 * most ~700 bytes (a JSON line whose 200-byte path is all escapes, plus
 * the client, method, request id, numbers and keys; server.c caps each). */
#define FA_HTTP_ALOG_LINE 1024
/* No access-log line waits longer than this to be written. */
#define FA_HTTP_ALOG_FLUSH_MS 1000

struct fa_http_alog {
	const struct fa_log *log;
	pthread_mutex_t lock;        /* the worker, the acceptor's tick, stop */
	char buf[FA_HTTP_ALOG_BUF];
	size_t len;                  /* whole lines only */
	int64_t first_mono;          /* when the oldest buffered line came
	                              * (monotonic: a clock step never holds
	                              * lines back) */
	int64_t stamp_s;             /* the second `stamp` shows */
	char stamp[FA_LOG_STAMP_LEN + 1];
};

void fa_http_alog_init(struct fa_http_alog *l, const struct fa_log *log);
/* Flushes what is left, then frees the lock. */
void fa_http_alog_cleanup(struct fa_http_alog *l);
/* One INFO line as fa_log_event(log, FA_LOG_INFO, msg, f, n) writes it,
 * buffered. */
void fa_http_alog_add(struct fa_http_alog *l, const char *msg, const struct fa_log_field *f,
		      size_t n);
/* Writes the buffer if its oldest line is half of FA_HTTP_ALOG_FLUSH_MS
 * old at now_ms (fa_mono_ms); INT64_MAX writes it whatever its age. */
void fa_http_alog_flush(struct fa_http_alog *l, int64_t now_ms);

/* ---- pool.c: the blocking-work pool ----------------------------------------- */

struct fa_http_pool {
	pthread_mutex_t lock;
	pthread_cond_t more;         /* a request was queued, or stop */
	pthread_t *threads;
	unsigned n_threads;
	struct fa_req **queue;       /* ring of cap entries */
	unsigned cap;
	unsigned head;
	unsigned len;                /* queued */
	unsigned reserved;           /* queued + promised by fa_http_offload */
	bool stop;
	bool inited;
};

/* max(1, CPUs / 2), at most FA_HTTP_MAX_BLOCKING_THREADS. */
unsigned fa_http_pool_default_threads(void);
/* threads 0: the default; queue 0: FA_HTTP_BLOCKING_QUEUE. On failure
 * the pool is still safe to clean up. */
enum fa_rc fa_http_pool_start(struct fa_http_pool *p, unsigned threads, unsigned queue,
			      struct fa_err *err) FA_WUR;
/* Promises a slot for one request; false when the queue is full or the
 * pool stops. */
bool fa_http_pool_reserve(struct fa_http_pool *p);
/* Queues a request whose connection is suspended, in a reserved slot. */
void fa_http_pool_push(struct fa_http_pool *p, struct fa_req *req);
/* Runs what is running to its end, answers what is queued 503 and joins
 * the threads. Idempotent. */
void fa_http_pool_stop(struct fa_http_pool *p);
void fa_http_pool_cleanup(struct fa_http_pool *p);

/* ---- the running server ------------------------------------------------------ */

/* Request arenas a worker keeps for reuse: more than the requests one
 * worker usually has in flight at once. */
#define FA_HTTP_SPARE_ARENAS 16

/* One worker: an MHD daemon with its own polling thread, serving the
 * connections the acceptor gives it (listen.c). */
struct fa_http_worker {
	struct fa_http *srv;
	struct MHD_Daemon *daemon;
	unsigned idx;
	size_t conns;                /* open connections; srv->conn_lock */
	atomic_ulong requests;       /* completed requests, for the stats line */
	/* Emptied request arenas kept for the next requests, so that a
	 * request costs no malloc of its own; only this worker's thread
	 * touches them. */
	struct fa_arena *spare[FA_HTTP_SPARE_ARENAS];
	unsigned n_spare;
	struct fa_http_alog alog;
};

struct fa_http {
	struct fa_http_worker *workers;
	unsigned n_workers;
	struct fa_route *routes;     /* every table flattened, owned */
	void **apps;                 /* apps[i]: the context of routes[i], owned array */
	size_t n_routes;
	fa_authenticate_fn authenticate;
	void *auth_app;
	char *required_scope;        /* owned copy, or NULL */
	const struct fa_log *log;
	struct fa_http_cors_cfg cors;
	bool trust_forwarded;
	bool tls;
	unsigned stop_grace_ms;
	uint16_t port;
	int listen_fd;               /* ours; -1 once closed */
	int wake[2];                 /* pipe that stops the acceptor */
	pthread_t acceptor;
	bool acceptor_running;
	pthread_mutex_t conn_lock;   /* guards the counts below and workers[].conns */
	size_t n_conns;
	void *by_addr;               /* tsearch tree of open connections per address */
	unsigned next_worker;        /* where the next tie goes */
	char *tls_cert;              /* PEM text kept for MHD while it runs */
	char *tls_key;               /* zeroed before it is freed */
	atomic_bool stopping;        /* responses then carry Connection: close */
	struct fa_metrics *metrics;  /* borrowed; NULL: not counted */
	unsigned *route_metric;      /* route_metric[i]: routes[i]'s id in metrics */
	char id_prefix[9];           /* random, per start: request ids of two runs differ */
	atomic_ullong next_id;
	pthread_mutex_t lock;        /* with idle: fa_http_drain's wait */
	pthread_cond_t idle;         /* signalled when in_flight drops to 0 while stopping */
	atomic_ulong in_flight;      /* requests between on_uri and on_completed */
	bool drained;                /* fa_http_drain has run */
	struct fa_http_pool pool;    /* fa_http_offload's threads */
	struct fa_cidr *proxies;     /* trusted proxies (owned), n_proxies of them */
	size_t n_proxies;
};

/* ---- listen.c: the listening socket and the acceptor ------------------------- */

/* Takes the listening socket: a copy of opts->listener's, or one bound
 * now on opts->bind_addr:port (fa_http_listen; no SO_REUSEPORT, so a
 * second server on the same address fails here). Sets srv->listen_fd and
 * srv->port. */
enum fa_rc fa_http_listen_take(struct fa_http *srv, const struct fa_http_opts *opts,
			       struct fa_err *err) FA_WUR;
/* Starts the thread that accepts connections and hands them to workers. */
enum fa_rc fa_http_acceptor_start(struct fa_http *srv, struct fa_err *err) FA_WUR;
/* Stops it and closes the listening socket: new connections are refused. */
void fa_http_acceptor_stop(struct fa_http *srv);
/* A connection from sa that w served is closed (MHD's notification). */
void fa_http_conn_release(struct fa_http_worker *w, const struct sockaddr *sa);
/* Frees the per-address counts (after every worker has stopped). */
void fa_http_conns_cleanup(struct fa_http *srv);

enum fa_req_phase {
	FA_REQ_NEW = 0,       /* created, headers not yet seen by the dispatcher */
	FA_REQ_BODY,          /* admitted; reading the body */
	FA_REQ_ANSWERED,      /* a response was queued */
	FA_REQ_DEFERRED,      /* suspended, waiting for the blocking-work pool */
	FA_REQ_RESUMED,       /* the pool answered it; the worker queues it */
};

struct fa_req {
	struct fa_http *srv;
	struct fa_arena *arena;
	enum fa_req_phase phase;
	const struct fa_route *route;
	const char *method;
	const char *target;          /* raw request-target, as received */
	size_t target_len;
	const char *path;            /* target up to '?' */
	const char *query;           /* after '?', NULL when there is none */
	size_t query_len;
	struct fa_kvs raw_headers;   /* fields as sent, while within the caps */
	size_t raw_headers_cap;      /* entries allocated in raw_headers.v */
	struct fa_kvs headers;       /* one entry per name, repeats joined */
	size_t header_fields;        /* fields as sent, before joining */
	size_t header_bytes;         /* their names and values together */
	bool header_too_big;         /* one field over FA_MAX_HEADER */
	unsigned flags;              /* the route's flags, or all flags of the path */
	struct fa_kvs params;        /* query */
	struct fa_kvs form;
	struct fa_kvs cookies;
	bool cookies_parsed;
	char client_addr[48];
	char id[32];                 /* fa_req_id */
	bool https;
	bool fwd_trusted;            /* the peer is a trusted proxy */
	void *principal;
	char *body;                  /* arena; NUL-terminated */
	size_t body_len;
	size_t body_max;             /* the route's cap */
	size_t discarded;            /* bytes thrown away past the cap */
	bool body_too_big;
	bool mhd_answered;           /* MHD answered by itself (no handler ran) */
	int64_t start_ms;
	struct MHD_Connection *conn; /* set while deferred */
	bool offload_wanted;         /* the handler called fa_http_offload */
	bool offloaded;              /* the handler runs on the pool */
	struct fa_resp resp;
};

/* ---- form.c: query strings and form bodies -------------------------------- */

/* Parses application/x-www-form-urlencoded text (a query string or a form
 * body) of n bytes into out (arena memory). Strict: '%' must be followed by
 * two hex digits, '+' is a space, decoded names and values must be valid
 * UTF-8 without NUL, at most FA_MAX_FIELD_VALUE bytes each, at most
 * FA_MAX_FIELDS pairs, no empty name, no name twice (RFC 6749 §3.1). Empty
 * segments ("a=1&&b=2") are skipped; "a" alone is a with value "".
 * Every failure is FA_EINVAL or FA_ETOOBIG with err->oauth_error
 * "invalid_request" (a 400); the message names the parameter but
 * never quotes a value. FA_ENOMEM when the arena is exhausted. */
enum fa_rc fa_http_params_parse(struct fa_arena *a, const char *s, size_t n,
				struct fa_kvs *out, struct fa_err *err) FA_WUR;
/* Exact (case-sensitive) lookup; NULL when absent, ambiguous or empty. */
const char *fa_http_kvs_get(const struct fa_kvs *kvs, const char *name);
/* true for "application/x-www-form-urlencoded", any case, with or without
 * parameters (";charset=UTF-8"). */
bool fa_http_is_form_type(const char *content_type);
/* RFC 3629 UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF). */
bool fa_http_utf8_ok(const char *s, size_t n);

/* ---- cookie.c ------------------------------------------------------------- */

/* Parses a Cookie header value the way RFC 6265 §5.4 user agents write it,
 * leniently: pairs that are malformed (no '=', name not a token, value not
 * cookie-octets) or whose value is over FA_MAX_COOKIE are skipped; pairs
 * past FA_HTTP_MAX_COOKIES are ignored; a name sent twice is kept with a
 * NULL value (ambiguous). Only FA_ENOMEM can fail. */
enum fa_rc fa_http_cookies_parse(struct fa_arena *a, const char *s, size_t n,
				 struct fa_kvs *out, struct fa_err *err) FA_WUR;
/* Formats a Set-Cookie value into arena memory (*out), validating as
 * fa_resp_cookie documents. */
enum fa_rc fa_http_set_cookie_format(struct fa_arena *a, const struct fa_cookie *c,
				     char **out, struct fa_err *err) FA_WUR;

/* ---- response.c -------------------------------------------------------------- */

void fa_resp_init(struct fa_resp *resp, struct fa_arena *a);
/* Sets a header without the public setter's refusals (the layer's own
 * Content-Type-free headers: security, CORS, Connection). Replaces one of
 * the same name unless append. Value must still be a valid header value. */
enum fa_rc fa_resp_set_internal(struct fa_resp *resp, const char *name, const char *value,
				bool append) FA_WUR;
/* Looks a response header up (case-insensitive); NULL when absent. */
const char *fa_resp_header_get(const struct fa_resp *resp, const char *name);
/* Adds the security headers (unless the handler set them) and, for
 * FA_R_NO_STORE, the no-store pair. A response without status, or a
 * broken one, becomes 500 server_error here. */
void fa_resp_finish(struct fa_resp *resp, unsigned route_flags);
/* true when the value is at most FA_MAX_HEADER bytes of VCHAR/SP/HTAB. */
bool fa_http_header_value_ok(const char *v);

/* ---- cors.c ----------------------------------------------------------------- */

enum fa_rc fa_http_cors_init(struct fa_http_cors_cfg *cfg, const struct fa_http_cors *in,
			     struct fa_err *err) FA_WUR;
void fa_http_cors_cleanup(struct fa_http_cors_cfg *cfg);
/* Adds Access-Control-Allow-Origin (and Vary, credentials) to an actual
 * response when the request's Origin is allowed. */
void fa_http_cors_apply(const struct fa_http_cors_cfg *cfg, const char *origin,
			struct fa_resp *resp);
/* Answers a preflight: 204 with the allow headers when origin, requested
 * method (one of `methods`, a ", "-joined list) and requested headers are
 * all allowed; 403 otherwise. */
void fa_http_cors_preflight(const struct fa_http_cors_cfg *cfg, const char *origin,
			    const char *req_method, const char *req_headers,
			    const char *methods, struct fa_resp *resp);

/* ---- dispatch.c: policy between MHD and the handlers ------------------------ */

/* Creates a request in arena `a` (an empty arena of FA_MAX_REQUEST_ARENA,
 * which the request then owns: freed or reset by whoever completes it) for
 * the raw request-target as received; splits path and query. NULL when
 * memory is exhausted (the caller still owns `a`). */
struct fa_req *fa_http_req_new(struct fa_http *srv, struct fa_arena *a, const char *target);
/* Records one header field as received (counted always, kept while within
 * the caps). dispatch_begin refuses a request over them with 431 and joins
 * repeats of a name with ", " ("; " for Cookie). */
enum fa_rc fa_http_req_add_header(struct fa_req *req, const char *name, size_t name_len,
				  const char *value, size_t value_len) FA_WUR;

/* Validates a route table for fa_http_start. */
enum fa_rc fa_http_routes_check(const struct fa_route *routes, size_t n,
				struct fa_err *err) FA_WUR;
/* First look at a request whose target, method, headers, client address
 * and scheme are filled in: routing, header caps, CORS preflight,
 * authentication, query parsing, body admission. Returns true when
 * req->resp is the final answer (queue it now, the body is not read);
 * false when the body (if any) should be read with fa_http_body_feed and
 * then fa_http_dispatch_finish called. */
bool fa_http_dispatch_begin(struct fa_req *req, const char *method);
/* Appends body bytes under the route's cap. Returns false when the client
 * has sent more than FA_HTTP_MAX_DISCARD past the cap (close it). */
bool fa_http_body_feed(struct fa_req *req, const char *data, size_t n);
/* Whole body received: parses the form, runs the handler, and finishes
 * req->resp (security, CORS, no-store headers). */
void fa_http_dispatch_finish(struct fa_req *req);
/* Finishes an answer decided before the handler (errors, preflights). */
void fa_http_dispatch_seal(struct fa_req *req);
/* On a pool thread: runs a deferred request's handler again, with
 * fa_req_offloaded true, and finishes its response. */
void fa_http_dispatch_rerun(struct fa_req *req);
/* Answers a deferred request 503 temporarily_unavailable (the pool
 * stopped before it ran). */
void fa_http_dispatch_unavailable(struct fa_req *req);

#endif
