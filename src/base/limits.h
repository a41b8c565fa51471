/* limits.h -- the size, count and time caps of flyteauth that more than one
 * module must agree on, each with its reason, written once.
 *
 * A value that crosses a trust boundary (network, config file, environment)
 * is checked against one of these before it is stored or parsed further.
 * Exceeding a cap is an error, never a silent truncation.
 *
 * A cap that one module enforces stays next to its code in that module's
 * header, with its reason there: inside the module (the gate's cache slots,
 * the remote module's timeouts, the HTTP server's header counts, the config
 * file's node count) or as part of its interface that its callers size
 * buffers by (jose's key sizes, the store's key length). When two modules
 * come to enforce the same bound, it moves here (as FA_MAX_URL,
 * FA_MAX_SCOPES and FA_MAX_LIFETIME_S did), so that it is written once.
 */
#ifndef FA_BASE_LIMITS_H
#define FA_BASE_LIMITS_H

/* HTTP request line (method + target + version): longest legitimate target is
 * an authorize URL with a 2 KiB redirect_uri and a 1 KiB scope, plus slack. */
#define FA_MAX_REQUEST_LINE (8 * 1024)
/* One header field. Cookies and bearer tokens are the largest ones. */
#define FA_MAX_HEADER (8 * 1024)
/* All header fields of one request together (MHD's connection pool shares
 * this with the request line). Over it the client gets 431. */
#define FA_MAX_HEADERS_TOTAL (16 * 1024)
/* Request body: OAuth forms are small; nothing we accept is larger. */
#define FA_MAX_BODY (16 * 1024)
/* Parameters in one query string or form body: no endpoint needs more than a
 * dozen; a flood of fields is an attack on the parser. */
#define FA_MAX_FIELDS 32
/* One parameter's name or value after percent-decoding. */
#define FA_MAX_FIELD_VALUE (4 * 1024)
/* A compact JWS / JWT. */
#define FA_MAX_TOKEN (8 * 1024)
/* scope parameter. */
#define FA_MAX_SCOPE 1024
/* Scope tokens in one scope value or one client: Flyte uses three; subset
 * checks are quadratic in this, so a flood of tokens is refused early. */
#define FA_MAX_SCOPES 32
/* Any URL we parse (fa_url_parse): browsers and proxies commonly stop at
 * 2 KiB, and an authorize URL carrying one must fit FA_MAX_REQUEST_LINE. */
#define FA_MAX_URL 2048
/* redirect_uri parameter and configured redirect URIs. */
#define FA_MAX_REDIRECT_URI FA_MAX_URL
/* A fetched JWKS or discovery document. */
#define FA_MAX_JWKS (256 * 1024)
/* JSON nesting depth accepted from the network (tokens, JWKS, metadata). */
#define FA_MAX_JSON_DEPTH 16
/* One cookie value (sealed session cookie). */
#define FA_MAX_COOKIE 4096
/* A config file: flyteadmin configs are a few KiB; 1 MiB leaves room for
 * large Helm values files and bounds memory for a hostile one. */
#define FA_MAX_CONFIG_FILE (1024 * 1024)
/* YAML nesting depth in a config file. */
#define FA_MAX_YAML_DEPTH 32
/* A secret read from a file or the environment (PEM keys are ~1.7 KiB). */
#define FA_MAX_SECRET (64 * 1024)
/* A client secret or password presented to us; bcrypt reads 72 bytes. */
#define FA_MAX_PASSWORD 256
/* client_id, username and similar identifiers. */
#define FA_MAX_ID 256
/* A stored record's JSON value. */
#define FA_MAX_STORE_VALUE (16 * 1024)
/* Per-request arena: body + parsed fields + response building. */
#define FA_MAX_REQUEST_ARENA (256 * 1024)
/* Response body we build (JWKS with two keys, metadata, HTML pages). */
#define FA_MAX_RESPONSE (64 * 1024)
/* Longest lifetime of anything that expires: a stored record, a token a
 * server hands the client. Ten years is far beyond any configured lifespan
 * (FA_MAX_LIFESPAN_MS) and still catches an expiry computed in
 * milliseconds instead of seconds. */
#define FA_MAX_LIFETIME_S (10LL * 366 * 24 * 3600)
/* Longest lifespan, delay or interval a config may set: a year. Longer is
 * a typo, and the cap keeps arithmetic in milliseconds far from overflow. */
#define FA_MAX_LIFESPAN_MS (366LL * 24 * 3600 * 1000)
/* Shortest lifespan of anything the server issues: the store keeps whole
 * seconds, so anything shorter would expire on arrival. */
#define FA_MIN_LIFESPAN_MS 1000
/* CORS allowedOrigins and allowedHeaders, each: flyteadmin configs list a
 * handful; every preflight scans them. */
#define FA_MAX_CORS_ENTRIES 64
/* Simultaneous connections, in total and from one address. */
#define FA_MAX_CONNECTIONS 1024
#define FA_MAX_CONNECTIONS_PER_IP 256
/* Idle connection timeout, seconds. */
#define FA_CONNECTION_TIMEOUT_S 30

#endif
