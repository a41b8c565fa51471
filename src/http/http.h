/* http.h -- flyteauth's HTTP layer: a libmicrohttpd server that routes each
 * request through a const table of routes to one handler, and the request
 * and response objects handlers work with.
 *
 * The layer enforces policy so that handlers cannot forget it: every route
 * needs bearer authentication unless it opts out (FA_R_PUBLIC); request
 * line, headers, query, body and form fields are bounded before a handler
 * runs; a repeated or badly escaped parameter is a 400 before a handler
 * runs; every response carries the security headers; the access log never
 * sees a query string, header value, cookie or body. It knows nothing of
 * OAuth flows, tokens or the store: handlers translate HTTP to domain calls
 * and back.
 *
 * Threads: handlers and the authenticate callback run on the server's
 * worker threads, several at once; `app` is shared by all of them.
 * A request and its response belong to one thread at a time: a worker,
 * or for an offloaded handler (fa_http_offload) a thread of the
 * blocking-work pool, which hands it back to its worker. One more thread accepts connections and gives each to the worker with
 * the fewest open connections, so that every worker (core) gets its share
 * of a client's keep-alive connections.
 */
#ifndef FA_HTTP_H
#define FA_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- caps of this layer (the shared ones live in base/limits.h) ------- */

/* Header fields in one request: browsers send ~15; a flood of small fields
 * is an attack on lookup time, not a client. Over it: 431. */
#define FA_HTTP_MAX_REQ_HEADERS 64
/* Header fields one response may carry (security headers included). */
#define FA_HTTP_MAX_RESP_HEADERS 32
/* Cookies parsed from one request; the rest are ignored. */
#define FA_HTTP_MAX_COOKIES 32
/* Body bytes read and thrown away after a chunked body passed its route's
 * cap, so that the client can still be told 413; past this the connection
 * is closed without an answer (an endless upload gets no more of our time). */
#define FA_HTTP_MAX_DISCARD (1024 * 1024)
/* Largest max_body a route may ask for: the body lives in the request
 * arena (FA_MAX_REQUEST_ARENA) together with everything parsed from it. */
#define FA_HTTP_MAX_ROUTE_BODY (64 * 1024)
/* Entries of fa_http_opts.trusted_proxies. */
#define FA_HTTP_MAX_PROXIES 64
/* Worker threads: more than this only adds contention on 1 KiB requests. */
#define FA_HTTP_MAX_THREADS 64
/* Default time fa_http_stop lets in-flight requests finish. */
#define FA_HTTP_STOP_GRACE_MS 10000
/* The blocking-work pool (fa_http_offload): bcrypt takes tens of
 * milliseconds, so a few threads and a short queue; a request that finds
 * the queue full is answered 503 at once rather than waiting seconds. */
#define FA_HTTP_MAX_BLOCKING_THREADS 16
#define FA_HTTP_BLOCKING_QUEUE 32
#define FA_HTTP_MAX_BLOCKING_QUEUE 4096
/* MHD's per-connection memory: request line + all headers + MHD's own
 * bookkeeping and the response header it builds. Requests within it get
 * our exact 414/431 answers (JSON); beyond it MHD answers 414/431 itself. */
#define FA_HTTP_CONN_MEMORY (FA_MAX_REQUEST_LINE + FA_MAX_HEADERS_TOTAL + 8 * 1024)

/* ---- routes ------------------------------------------------------------- */

struct fa_req;   /* opaque; lives in the request arena */
struct fa_resp;  /* opaque; lives in the request arena */
struct fa_http;  /* opaque; the running server */

/* A handler fills `resp` (status, headers, body) and returns. It never
 * frees anything it got from the request: all request memory is released
 * when the response has been sent. A handler that sets no status answers
 * 500. `app` is the server's opaque context (fa_http_opts.app). */
typedef void (*fa_handler_fn)(struct fa_req *req, struct fa_resp *resp, void *app);

/* Called after routing and before the query and body are parsed, for
 * every route without FA_R_PUBLIC. Only headers, cookies and the client
 * address are available. Returns FA_OK to let the request through (and may set the
 * principal with fa_req_set_principal); any other code refuses it:
 *   err->oauth_error, the RFC 6750 code, picks the status (§3.1):
 *   "invalid_request" 400, "invalid_token" 401, "insufficient_scope" 403;
 *   "temporarily_unavailable" 503, not logged (what authentication needs
 *   is down, and its owner logs that); NULL when the request carried no
 *   credentials at all (401 with only `WWW-Authenticate: Bearer`, for
 *   FA_ENOTFOUND, FA_EDENIED and FA_EEXPIRED); anything else is 500 "authentication
 *   unavailable" (logged with err->msg); err->msg the
 *   error_description (it reaches the client: no secrets). Refusals other
 *   than 500 are answered with fa_resp_bearer_error. */
typedef enum fa_rc (*fa_authenticate_fn)(struct fa_req *req, void *app, struct fa_err *err);

/* The status of a refused bearer authentication as fa_authenticate_fn
 * documents it (RFC 6750 §3.1), from its rc and err->oauth_error: the one
 * mapping, for the layer and for handlers that answer an authentication
 * question themselves (the gate's /auth/verify). A refusal without an
 * OAuth error is 401 for FA_ENOTFOUND (nothing was presented),
 * FA_EDENIED and FA_EEXPIRED, else 500. */
int fa_http_bearer_status(enum fa_rc rc, const char *oauth_error);

enum fa_route_flag {
	/* No bearer authentication: the authenticate callback is not called.
	 * Routes are authenticated unless they say this (Redis CMD_NO_AUTH). */
	FA_R_PUBLIC = 1u << 0,
	/* Body is application/x-www-form-urlencoded, parsed strictly (see
	 * fa_req_form); any other Content-Type is 400 invalid_request. */
	FA_R_FORM = 1u << 1,
	/* Every response of the route, errors included, carries
	 * `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1). */
	FA_R_NO_STORE = 1u << 2,
	/* CORS headers per fa_http_cors; OPTIONS preflights on the path are
	 * answered by the layer without authentication. */
	FA_R_CORS = 1u << 3,
	/* The route also serves every path below its own ("/auth/verify/a/b"
	 * for "/auth/verify"), for callers that append the original path to
	 * ours (Envoy ext_authz's path_prefix). The handler reads the rest
	 * from fa_req_path. */
	FA_R_PREFIX = 1u << 4,
};

/* One row of the routing table: exact method and exact path (no prefixes
 * unless FA_R_PREFIX, no percent-decoding: "/a%2Fb" is not "/a/b"). The table is const and must
 * outlive the server. A known path with another method is 405 with `Allow`;
 * an unknown path is 404. HEAD is only routed where a row says "HEAD". */
struct fa_route {
	const char *method;   /* "GET", "POST", ... */
	const char *path;     /* starts with '/', no '?' */
	fa_handler_fn fn;
	unsigned flags;       /* enum fa_route_flag bits */
	size_t max_body;      /* body cap in bytes; 0: FA_MAX_BODY; at most
	                       * FA_HTTP_MAX_ROUTE_BODY. Over it: 413. */
};

/* ---- server --------------------------------------------------------------- */

/* CORS as flyteadmin's server.security {allowCors, allowedOrigins,
 * allowedHeaders}. Applies to FA_R_CORS routes only. An origin "*" allows
 * any origin, answered with a literal `*` and never with credentials; a
 * listed origin is echoed with `Vary: Origin` and
 * `Access-Control-Allow-Credentials: true` (flyteadmin's behaviour, minus
 * credentials for "*"). "Content-Type" is always an allowed header
 * (flyteadmin's default). Strings are copied by fa_http_start. */
struct fa_http_cors {
	bool allow_cors;
	const char *const *allowed_origins;   /* e.g. {"https://console.example.com"} */
	size_t n_allowed_origins;
	const char *const *allowed_headers;   /* e.g. {"flyte-authorization"} */
	size_t n_allowed_headers;
};

/* A module's route table served with that module's own context: its
 * handlers get `app`. Lets each module (authz, identity, gate) keep a const
 * table of its own. */
struct fa_route_set {
	const struct fa_route *routes;    /* borrowed; must outlive the server */
	size_t n_routes;
	void *app;
};

struct fa_http_opts {
	/* Numeric IPv4 or IPv6 address; NULL: "127.0.0.1" (loopback unless
	 * the operator asks for more). */
	const char *bind_addr;
	uint16_t port;                    /* 0: ephemeral, see fa_http_port */
	/* A socket bound earlier by fa_http_listen: served instead of binding
	 * bind_addr:port. Borrowed: the server keeps its own copy, so the
	 * caller frees it either way. NULL: bind at start. */
	const struct fa_http_listener *listener;
	const struct fa_route *routes;    /* borrowed; must outlive the server */
	size_t n_routes;
	void *app;                        /* passed to handlers, borrowed */
	/* More tables, each with its own app pointer, served after `routes`.
	 * A method+path may appear once across all of them. */
	const struct fa_route_set *route_sets;
	size_t n_route_sets;
	/* NULL: every non-public route answers 401 (fail closed). */
	fa_authenticate_fn authenticate;
	void *auth_app;                   /* authenticate's app; NULL: `app` */
	/* The scope the authenticate callback requires, named as `scope` in
	 * the challenge of an insufficient_scope refusal (RFC 6750 §3);
	 * NULL: not named. Copied. */
	const char *required_scope;
	/* Access log (INFO, one line per request) and errors; borrowed, must
	 * outlive the server; NULL: stderr at INFO. */
	const struct fa_log *log;
	struct fa_http_cors cors;
	/* Worker threads, each serving its own connections; 0: the CPUs
	 * usable (fa_cpus_usable; max FA_HTTP_MAX_THREADS). */
	unsigned threads;
	/* PEM files; both or neither. TLS is served by MHD (GnuTLS); start
	 * fails clearly if this MHD was built without it. */
	const char *tls_cert_file;
	const char *tls_key_file;
	/* Peers whose forwarding headers are believed (server.security.
	 * trustedProxies): CIDRs or bare addresses, copied. From such a peer
	 * the client address is the rightmost X-Forwarded-For entry (else
	 * RFC 7239 Forwarded `for=`) that is not itself a trusted proxy, and
	 * the scheme comes from X-Forwarded-Proto; from any other peer these
	 * headers are ignored. A bad entry fails the start (FA_ECONFIG). */
	const char *const *trusted_proxies;
	size_t n_trusted_proxies;
	/* Trust every peer's forwarding headers, as if each were a trusted
	 * proxy (tests; a server only a proxy can reach). */
	bool trust_forwarded;
	unsigned stop_grace_ms;           /* 0: FA_HTTP_STOP_GRACE_MS */
	/* The blocking-work pool of fa_http_offload: threads (0: max(1,
	 * CPUs usable / 2), at most FA_HTTP_MAX_BLOCKING_THREADS) and the requests
	 * that may wait for them (0: FA_HTTP_BLOCKING_QUEUE, at most
	 * FA_HTTP_MAX_BLOCKING_QUEUE). */
	unsigned blocking_threads;
	unsigned blocking_queue;
	/* Counts every answered request by route and status; borrowed, must
	 * outlive the server; NULL: not counted. fa_http_start registers
	 * the routes in it. */
	struct fa_metrics *metrics;
};

/* Binds and listens on bind_addr:port (numeric IPv4 or IPv6, NULL:
 * 127.0.0.1; port 0: ephemeral) without serving yet: a caller that must not
 * change anything unless it can listen binds first, then prepares, then
 * starts the server on the socket (fa_http_opts.listener). A port taken is
 * FA_EIO with a message that says so; a bad address FA_EINVAL. */
struct fa_http_listener;
enum fa_rc fa_http_listen(const char *bind_addr, uint16_t port, struct fa_http_listener **out,
			  struct fa_err *err) FA_WUR;
/* The port bound (useful with port 0). */
uint16_t fa_http_listener_port(const struct fa_http_listener *l);
/* Closes the caller's socket; a server started on it keeps listening.
 * NULL is a no-op. */
void fa_http_listener_free(struct fa_http_listener *l);

/* Validates the options and the route table (unique method+path, sane
 * flags and caps), binds and starts serving. Returns NULL and fills err on
 * failure (bad option: FA_EINVAL/FA_ECONFIG; bind failure: FA_EIO; TLS
 * unavailable: FA_EUNSUPPORTED). Free with fa_http_stop. */
struct fa_http *fa_http_start(const struct fa_http_opts *opts, struct fa_err *err) FA_WUR;
/* Whether fa_http_start could serve TLS with these files: reads both as it
 * will (bounded by FA_MAX_SECRET), checks them as a pair
 * (fa_tls_pair_check), then has the TLS library load them with the options
 * every worker starts with (a daemon without socket or thread, stopped at
 * once). FA_OK; otherwise err holds the reason alone and *which says what
 * it is about: 0 the certificate file, 1 the key file (FA_EIO: cannot
 * read, strerror; FA_ETOOBIG), 2 the pair (FA_ECONFIG: not PEM, not a
 * pair, or refused by the TLS library in its own words). FA_EUNSUPPORTED:
 * no TLS in this libmicrohttpd.
 * For serve before it binds, and config check --online. */
enum fa_rc fa_http_tls_check(const char *cert_file, const char *key_file, int *which,
			     struct fa_err *err) FA_WUR;
/* The port actually bound (useful with port 0). */
uint16_t fa_http_port(const struct fa_http *h);
/* The first half of a graceful stop: stops accepting (new connections
 * are refused) and waits until every request in flight -- one a handler
 * has suspended included -- has completed, at most stop_grace_ms; their
 * responses carry `Connection: close`. The workers keep running, so work
 * an application deferred (and resumes on a worker) can still finish:
 * drain, then stop what feeds the workers, then fa_http_stop. Idempotent;
 * never from a handler (it would wait for itself). NULL is a no-op. */
void fa_http_drain(struct fa_http *h);
/* Graceful stop: fa_http_drain (if not done yet), then closes every
 * connection, stops the workers, writes the rest of the access log and
 * the requests-per-worker line (fa_http_log_workers), and frees the
 * server. Never call it from a handler. NULL is a no-op. */
void fa_http_stop(struct fa_http *h);
/* Writes the access-log lines still buffered, then logs (INFO) how many
 * requests each worker has completed since the start and the connections
 * each holds now: "http: requests per worker: 10234 10198; open
 * connections: 8 8". Any thread; NULL is a no-op. How evenly connections spread over the cores shows here
 * (bench/ reads it; serve logs it on SIGUSR1 and at stop). */
void fa_http_log_workers(struct fa_http *h);

/* ---- request ------------------------------------------------------------- */

/* Every string returned below is borrowed from the request and valid until
 * the handler returns. Query and form values have been percent-decoded
 * ('+' is a space), are valid UTF-8 without NUL bytes, at most
 * FA_MAX_FIELD_VALUE bytes, and no name occurs twice (a request that broke
 * any of this got 400 invalid_request before the handler ran). */

const char *fa_req_method(const struct fa_req *req);
/* Path as sent, without the query; never NULL. */
const char *fa_req_path(const struct fa_req *req);
/* Value of a query parameter; NULL when absent or empty (RFC 6749 §3.1:
 * a parameter without a value is treated as omitted). */
const char *fa_req_query(const struct fa_req *req, const char *name);
/* Value of a form field (FA_R_FORM routes); NULL as fa_req_query, and
 * always NULL on other routes. */
const char *fa_req_form(const struct fa_req *req, const char *name);
/* Header value, name matched case-insensitively; NULL when absent. A field
 * sent more than once comes back joined by ", " (RFC 9110 §5.3), so two
 * Authorization headers never parse as one credential. */
const char *fa_req_header(const struct fa_req *req, const char *name);
/* Cookie value (surrounding quotes removed); NULL when absent, empty,
 * malformed, over FA_MAX_COOKIE, or sent more than once (a second cookie of
 * the same name is how a sibling domain plants one: test_cookie_tossing). */
const char *fa_req_cookie(const struct fa_req *req, const char *name);
/* Client address as a numeric string ("127.0.0.1", "::1"); never NULL.
 * Behind a trusted proxy, the address the proxy names (see
 * fa_http_opts.trusted_proxies). */
const char *fa_req_client_addr(const struct fa_req *req);
/* This request's id, unique within the server's run ("<8 hex of this
 * start>-<hex counter>"): the access line and audit events of one request
 * carry it. Never NULL. */
const char *fa_req_id(const struct fa_req *req);
/* true when the client reached us over TLS (or, with trust_forwarded, the
 * proxy says X-Forwarded-Proto: https). */
bool fa_req_is_https(const struct fa_req *req);
/* true when this request's forwarding headers (X-Forwarded-*) are believed:
 * it came from a proxy the server was told to trust (trusted_proxies). Handlers that read
 * other forwarded headers (X-Forwarded-Host, -Uri) must ask this first. */
bool fa_req_forwarded_trusted(const struct fa_req *req);
/* The request arena: memory for the handler's own scratch data, freed with
 * the request. Capped at FA_MAX_REQUEST_ARENA; allocation past it is NULL. */
struct fa_arena *fa_req_arena(struct fa_req *req);
/* Raw body (NUL-terminated, not counted in *len); "" when there is none. */
const char *fa_req_body(const struct fa_req *req, size_t *len);
/* Blocking work (bcrypt) never runs on an HTTP worker: a handler that
 * needs it calls fa_http_offload and, when that returns true, returns at
 * once without answering. The layer then suspends the connection and runs
 * the same handler again on a thread of the blocking-work pool, where
 * fa_req_offloaded is true and the handler does the slow work and answers
 * as usual. So everything a handler does before it asks must be repeatable
 * (checks and reads, no writes). false: the pool's queue is full (or the
 * request already runs there, or the server stops): the handler answers
 * 503 temporarily_unavailable itself -- at once, so a flood of slow
 * requests cannot queue up behind each other. Only from a handler. */
bool fa_http_offload(struct fa_req *req);
/* true when the handler runs on the blocking-work pool (see above). */
bool fa_req_offloaded(const struct fa_req *req);
/* Slot for the authenticate callback's result (the caller's identity);
 * the pointer is the callback's (typically arena memory). NULL until set. */
void fa_req_set_principal(struct fa_req *req, void *principal);
void *fa_req_principal(const struct fa_req *req);

/* ---- response ------------------------------------------------------------ */

/* Every setter validates its input and on failure changes nothing and
 * returns the error (so a handler can still answer something else). Body
 * setters replace any earlier body. Memory comes from the request arena.
 * Each response also gets `X-Content-Type-Options: nosniff` and
 * `Referrer-Policy: no-referrer`, and text/html ones `X-Frame-Options: DENY`
 * and a Content-Security-Policy (default-src 'none'; style-src
 * 'unsafe-inline'; img-src 'self' data:; form-action 'self';
 * frame-ancestors 'none'; base-uri 'none'); a handler that sets one of
 * these headers itself replaces the default (e.g. a page whose form
 * submission redirects to another origin needs a wider form-action). */

/* Status only (e.g. 204), no body. Status must be 200..599. */
enum fa_rc fa_resp_status(struct fa_resp *resp, int status, struct fa_err *err) FA_WUR;
/* Sets a header, replacing one of the same name (case-insensitive). The
 * name must be an RFC 9110 token; the value at most FA_MAX_HEADER bytes of
 * visible ASCII, space and tab (CR, LF, NUL: FA_EINVAL, header injection).
 * Content-Type, Content-Length, Transfer-Encoding, Connection and
 * Set-Cookie are refused: use the body and cookie setters. */
enum fa_rc fa_resp_header(struct fa_resp *resp, const char *name, const char *value,
			  struct fa_err *err) FA_WUR;
/* As fa_resp_header, checked the same way, for a handler that sends many
 * headers of distinct names on a hot path (/auth/verify's identity
 * headers): it appends without looking for one of the same name, and does
 * not copy -- name and value must stay valid until the response is sent
 * (request-arena memory, or static). */
enum fa_rc fa_resp_header_add(struct fa_resp *resp, const char *name, const char *value,
			      struct fa_err *err) FA_WUR;
/* Status plus a body copied from `body` (len bytes, at most
 * FA_MAX_RESPONSE) with the given Content-Type (validated as a header
 * value, e.g. "text/html; charset=utf-8"). */
enum fa_rc fa_resp_body(struct fa_resp *resp, int status, const char *content_type,
			const void *body, size_t len, struct fa_err *err) FA_WUR;
/* Status plus `json` serialised compactly as application/json. Steals the
 * reference to `json` in every case, failure included (NULL: FA_EINVAL). */
enum fa_rc fa_resp_json(struct fa_resp *resp, int status, json_t *json, struct fa_err *err) FA_WUR;
/* 302 or 303 (other status: FA_EINVAL) to `location`, which must be a
 * valid header value; the caller decides it is a safe target (open
 * redirects are the caller's concern, see identity's redirect checks). */
enum fa_rc fa_resp_redirect(struct fa_resp *resp, int status, const char *location,
			    struct fa_err *err) FA_WUR;

enum fa_same_site {
	FA_SAME_SITE_DEFAULT = 0,   /* attribute omitted: the browser's default */
	FA_SAME_SITE_LAX = 1,
	FA_SAME_SITE_STRICT = 2,
	FA_SAME_SITE_NONE = 3,      /* requires secure */
};

struct fa_cookie {
	const char *name;     /* RFC 6265 token */
	const char *value;    /* cookie-octets, at most FA_MAX_COOKIE; "" allowed */
	const char *path;     /* NULL: no Path attribute */
	const char *domain;   /* NULL: host-only cookie (the safer choice) */
	int64_t max_age;      /* -1: session cookie; 0: delete; > 0: seconds */
	bool http_only;
	bool secure;
	enum fa_same_site same_site;
};

/* Appends a Set-Cookie header. Refused with FA_EINVAL: a bad name or
 * value, ';' or a control character in path/domain, SameSite=None without
 * Secure, a "__Host-" name without Secure + Path=/ + no Domain, or a
 * "__Secure-" name without Secure. At most FA_HTTP_MAX_COOKIES per response. */
enum fa_rc fa_resp_cookie(struct fa_resp *resp, const struct fa_cookie *cookie,
			  struct fa_err *err) FA_WUR;

/* ---- HTML pages (page.c) ---------------------------------------------- */

/* Every page flyteauth serves (login, device verification, sign-in errors)
 * is one shell: fa_http_page_begin appends the doctype, the head (title
 * "<title> - Flyte", viewport, the shared style sheet and then `style`,
 * which may be NULL, for the page's own rules) and "<body><main><h1>"
 * heading "</h1>"; the caller appends the page's content (escaping every
 * value with fa_buf_append_html); fa_http_page_end closes it. title,
 * heading and style are static text, never escaped. Scripts are never
 * part of a page: the HTML CSP (response.c) forbids them. */
enum fa_rc fa_http_page_begin(struct fa_buf *b, const char *title, const char *heading,
			      const char *style) FA_WUR;
enum fa_rc fa_http_page_end(struct fa_buf *b) FA_WUR;
/* Sends the page in b as text/html with `status`. */
enum fa_rc fa_resp_page(struct fa_resp *resp, int status, const struct fa_buf *b,
			struct fa_err *err) FA_WUR;

/* The answer on an error path, so it cannot fail from the caller's view:
 * RFC 6749 §5.2 JSON {"error": error, "error_description": description}
 * with `status`. `description` may be NULL; characters RFC 6749 does not
 * allow in it (outside %x20-7E, '"', '\') are replaced. If even this
 * cannot be built (arena exhausted), the client gets a bare 500. */
void fa_resp_oauth_error(struct fa_resp *resp, int status, const char *error,
			 const char *description);
/* RFC 6750 §3 refusal: as fa_resp_oauth_error, plus
 * `WWW-Authenticate: Bearer error="...", error_description="..."`;
 * with error NULL (no credentials were sent) just `Bearer` and a body
 * error "unauthorized". */
void fa_resp_bearer_error(struct fa_resp *resp, int status, const char *error,
			  const char *description);
/* As fa_resp_bearer_error, naming `scope` (may be NULL) in the challenge:
 * `Bearer error="insufficient_scope", error_description="...", scope="all"`. */
void fa_resp_bearer_challenge(struct fa_resp *resp, int status, const char *error,
			      const char *description, const char *scope);

#endif
