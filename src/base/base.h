/* base.h -- the ground every flyteauth module stands on: error codes and the
 * caller-owned error record, logging, bounded buffers, a capped arena,
 * base64/base64url, randomness, constant-time comparison, SHA-256, URLs
 * and percent-decoding, bounded JSON, bounded whole-file reads and writes,
 * time, Go-style durations, strict number parsing and the CPUs usable.
 *
 * Nothing here knows about HTTP requests, OAuth flows or the store; the
 * URL rules are here because the server, the client and `config check`
 * must apply the very same ones. Crypto comes from OpenSSL; nothing here
 * implements a hash or cipher itself.
 */
#ifndef FA_BASE_H
#define FA_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/limits.h"

#define FA_WUR __attribute__((warn_unused_result))
#define FA_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define FA_FREE(p) do { free(p); (p) = NULL; } while (0)

/* ---- errors ------------------------------------------------------------ */

/* Result of every fallible function. Values are never renumbered; a retired
 * one stays as a comment. */
enum fa_rc {
	FA_OK = 0,
	FA_ENOMEM = 1,       /* allocation failed */
	FA_EINVAL = 2,       /* malformed input */
	FA_ETOOBIG = 3,      /* input over a cap in limits.h */
	FA_EIO = 4,          /* file or socket error */
	FA_ECRYPTO = 5,      /* OpenSSL failure, or a signature that does not verify */
	FA_ENOTFOUND = 6,    /* no such record / key / file */
	FA_EEXIST = 7,       /* already exists */
	FA_EDENIED = 8,      /* authentication or authorization refused */
	FA_ECONFLICT = 9,    /* lost a race, or a version check failed */
	FA_EEXPIRED = 10,    /* past its lifetime */
	FA_EUNSUPPORTED = 11, /* valid but not supported */
	FA_ESTORE = 12,      /* the store failed */
	FA_ENET = 13,        /* a remote peer could not be reached or misbehaved */
	FA_ECONFIG = 14,     /* bad configuration */
	FA_EUSAGE = 15,      /* bad command-line usage */
};

/* Static English name of a code; never NULL. */
const char *fa_rc_str(enum fa_rc rc);

/* Detail of a failure, in caller-owned memory so the error path never
 * allocates. `oauth_error` is filled only where a layer knows the OAuth
 * error a client should get (RFC 6749 §5.2, RFC 6750 §3.1, RFC 8628
 * §3.5), NULL otherwise; which HTTP status carries it is decided by the
 * endpoint that answers, never by the logic that failed. `msg` never
 * holds a token, code, secret or password. */
struct fa_err {
	enum fa_rc rc;
	const char *oauth_error; /* static string, e.g. "invalid_grant" */
	char msg[160];
};

void fa_err_clear(struct fa_err *err);
/* Records rc and a formatted message (truncated to fit msg) and returns rc,
 * so callers can write `return fa_err_set(err, FA_EINVAL, "...")`.
 * err may be NULL. */
enum fa_rc fa_err_set(struct fa_err *err, enum fa_rc rc, const char *fmt, ...)
	FA_PRINTF(3, 4);
/* As fa_err_set, and also sets the OAuth error code (a static string, or
 * NULL for none). */
enum fa_rc fa_err_oauth(struct fa_err *err, enum fa_rc rc, const char *oauth_error,
			const char *fmt, ...) FA_PRINTF(4, 5);

/* ---- logging (log.c) ---------------------------------------------------- */

enum fa_log_level { FA_LOG_DEBUG = 0, FA_LOG_INFO = 1, FA_LOG_WARN = 2, FA_LOG_ERROR = 3,
		    /* `min` only: nothing is logged (flytestdlib's logger.mute) */
		    FA_LOG_OFF = 4 };

/* How a line is written (flytestdlib's logger.formatter.type). */
enum fa_log_format {
	/* "2026-01-02T03:04:05.678Z info msg key=value ..." */
	FA_LOG_TEXT = 0,
	/* One JSON object per line, as flytestdlib's (logrus) JSON formatter:
	 * {"ts":"2026-01-02T03:04:05.678Z","level":"info","msg":"...",
	 * "key":"value",...}; level is debug, info, warning or error. */
	FA_LOG_JSON = 1,
};

/* Caller-owned logger, passed down explicitly (no global logger). Each call
 * writes one whole line of at most FA_LOG_LINE_MAX bytes to `fp` (stdio
 * locks per call); longer messages and values are cut, and a JSON line
 * stays valid JSON when they are. */
struct fa_log {
	FILE *fp;                 /* NULL: stderr */
	enum fa_log_level min;
	enum fa_log_format format;
};

/* One line, whatever the format: the longest useful message plus a
 * handful of fields, small enough for the stack of any thread. */
#define FA_LOG_LINE_MAX 2048

/* Parses "debug|info|warn|error" (case-insensitive). */
enum fa_rc fa_log_level_parse(const char *s, enum fa_log_level *out) FA_WUR;
/* Whether a line of `lvl` would be written. */
bool fa_log_enabled(const struct fa_log *log, enum fa_log_level lvl);
void fa_log(const struct fa_log *log, enum fa_log_level lvl, const char *fmt, ...)
	FA_PRINTF(3, 4);
/* Warning with ": strerror(errno)" appended. */
void fa_log_warn(const struct fa_log *log, const char *fmt, ...) FA_PRINTF(2, 3);
/* Warning without errno. */
void fa_log_warnx(const struct fa_log *log, const char *fmt, ...) FA_PRINTF(2, 3);

/* A named value of a structured line. `key` is a static name of
 * [a-z_]; a field whose `str` is NULL and that is not `is_num` is left
 * out. Values are escaped for the format (JSON string escapes; in text,
 * a value with anything but visible ASCII is quoted, and control and
 * non-ASCII bytes become '?'), so a hostile value cannot forge a line. */
struct fa_log_field {
	const char *key;
	const char *str;
	int64_t num;
	bool is_num;
};

/* A line with fields: text "msg k=v k=v", JSON {"ts","level","msg",k:v...}.
 * At most FA_LOG_MAX_FIELDS fields are written. */
#define FA_LOG_MAX_FIELDS 16
void fa_log_event(const struct fa_log *log, enum fa_log_level lvl, const char *msg,
		  const struct fa_log_field *fields, size_t n);

/* The time stamp of a line at ms (Unix milliseconds, UTC):
 * "YYYY-MM-DDTHH:MM:SS.mmmZ". */
#define FA_LOG_STAMP_LEN 24
void fa_log_stamp(int64_t ms, char out[FA_LOG_STAMP_LEN + 1]);
/* For a writer that batches lines (the HTTP workers' access log): the
 * line fa_log_event would write, with time stamp ts (fa_log_stamp's form)
 * and its newline, rendered into out instead of written. Returns its
 * length: at most cap (capped at FA_LOG_LINE_MAX; a longer line is cut as
 * fa_log_event cuts it), 0 when cap < FA_LOG_RENDER_MIN. No NUL is added.
 * Whether lvl is enabled is the caller's question (fa_log_enabled). */
#define FA_LOG_RENDER_MIN 128
size_t fa_log_render_event(const struct fa_log *log, enum fa_log_level lvl, const char *ts,
			   const char *msg, const struct fa_log_field *fields, size_t n,
			   char *out, size_t cap);

/* An audit event: who did what, from where, and how it ended. Written at
 * INFO as a line with msg "audit" and these fields (NULL ones left out).
 * Callers pass names and codes only: never a token, code, secret or
 * password (a subject that failed to log in is named only when it is a
 * known account; see identity). */
struct fa_audit {
	const char *event;        /* "login", "token", "revoke", "device" */
	const char *outcome;      /* "success", "failure", "refused", "approved", "denied" */
	const char *subject;      /* the user or client acting, when known */
	const char *client_id;    /* the OAuth client, when there is one */
	const char *grant_type;   /* token events */
	const char *reason;       /* an OAuth error code or a short static phrase */
	const char *remote_addr;
	const char *request_id;   /* ties it to the request's access line */
};
void fa_log_audit(const struct fa_log *log, const struct fa_audit *ev);

/* ---- bounded growable buffer -------------------------------------------- */

/* data is always NUL-terminated once anything was appended (data may be NULL
 * while len == 0). Appending past `max` fails with FA_ETOOBIG and leaves the
 * buffer unchanged. */
struct fa_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

void fa_buf_init(struct fa_buf *b, size_t max);
enum fa_rc fa_buf_append(struct fa_buf *b, const void *p, size_t n) FA_WUR;
enum fa_rc fa_buf_appends(struct fa_buf *b, const char *s) FA_WUR;
enum fa_rc fa_buf_appendc(struct fa_buf *b, char c) FA_WUR;
enum fa_rc fa_buf_appendf(struct fa_buf *b, const char *fmt, ...) FA_PRINTF(2, 3) FA_WUR;
/* Appends s with & < > " ' escaped for HTML text and attribute values.
 * s NULL appends nothing. */
enum fa_rc fa_buf_append_html(struct fa_buf *b, const char *s) FA_WUR;
/* Appends s percent-encoded (RFC 3986 §2.1, upper-case hex): unreserved
 * characters (ALPHA DIGIT - . _ ~) and those in `keep` (may be NULL, e.g.
 * "/" for a path) pass; every other byte becomes %XX. */
enum fa_rc fa_buf_append_pct(struct fa_buf *b, const char *s, const char *keep) FA_WUR;
/* Appends s as a JSON string (RFC 8259 §7): in quotes, with '"' and '\\'
 * escaped and control characters as \u00XX; other bytes (UTF-8) as they
 * are. */
enum fa_rc fa_buf_append_json(struct fa_buf *b, const char *s) FA_WUR;
/* Borrow as a C string: "" when empty. */
const char *fa_buf_str(const struct fa_buf *b);
/* Ownership of the NUL-terminated data moves to the caller (never NULL on
 * success: an empty buffer gives a malloc'd ""). The buffer is reset. */
char *fa_buf_take(struct fa_buf *b, size_t *len) FA_WUR;
void fa_buf_reset(struct fa_buf *b);
/* Zeroes and frees the data. */
void fa_buf_cleanup(struct fa_buf *b);

/* ---- arena ---------------------------------------------------------------- */

/* Capped bump allocator for one request: everything is freed at once by
 * fa_arena_free. Allocation past the cap returns NULL. Not thread-safe. */
struct fa_arena;

struct fa_arena *fa_arena_new(size_t max);
void fa_arena_free(struct fa_arena *a);   /* NULL is a no-op; memory is zeroed */
/* Empties the arena for another use, as if new: everything handed out is
 * zeroed and forgotten, and the memory of the last use is kept (one chunk,
 * at most 64 KiB) so that the same use again needs no malloc. */
void fa_arena_reset(struct fa_arena *a);
void *fa_arena_alloc(struct fa_arena *a, size_t n);        /* 16-byte aligned, zeroed */
char *fa_arena_strndup(struct fa_arena *a, const char *s, size_t n);
char *fa_arena_strdup(struct fa_arena *a, const char *s);
char *fa_arena_printf(struct fa_arena *a, const char *fmt, ...) FA_PRINTF(2, 3);
size_t fa_arena_used(const struct fa_arena *a);

/* ---- base64 ---------------------------------------------------------------- */

enum {
	FA_B64_STD = 0,     /* RFC 4648 §4 alphabet, padded */
	FA_B64_URL = 1,     /* RFC 4648 §5 alphabet */
	FA_B64_NOPAD = 2,   /* encode: no '='; decode: reject '=' */
};

/* Bytes needed for the encoding of n bytes, including the NUL. */
size_t fa_b64_encoded_size(size_t n, int flags);
/* Encodes into out (NUL-terminated). FA_ETOOBIG if outcap is too small. */
enum fa_rc fa_b64_encode(const void *in, size_t n, int flags, char *out, size_t outcap) FA_WUR;
/* Malloc'd encoding, or NULL on allocation failure. */
char *fa_b64_encode_dup(const void *in, size_t n, int flags);
/* Strict decoding: characters outside the alphabet (whitespace included)
 * fail with FA_EINVAL. Without FA_B64_NOPAD, padding is optional but must be
 * correct when present. Non-zero trailing bits are rejected. */
enum fa_rc fa_b64_decode(const char *in, size_t n, int flags, unsigned char *out,
			 size_t outcap, size_t *outlen) FA_WUR;
/* Malloc'd decoding (with an extra NUL after the data, not counted). */
enum fa_rc fa_b64_decode_dup(const char *in, size_t n, int flags, unsigned char **out,
			     size_t *outlen) FA_WUR;

/* ---- randomness, hashing, comparison ---------------------------------- */

/* OpenSSL's CSPRNG. */
enum fa_rc fa_rand_bytes(void *out, size_t n) FA_WUR;
/* 256-bit random value as unpadded base64url (43 chars + NUL): every code,
 * token, session id, generated secret and PKCE verifier flyteauth makes. */
#define FA_TOKEN_CHARS 43
enum fa_rc fa_rand_token(char out[FA_TOKEN_CHARS + 1]) FA_WUR;

#define FA_SHA256_LEN 32
enum fa_rc fa_sha256(const void *in, size_t n, unsigned char out[FA_SHA256_LEN]) FA_WUR;
/* Unpadded base64url of SHA-256 (43 chars + NUL): an RFC 7636 S256
 * code_challenge of a verifier. */
enum fa_rc fa_sha256_b64url(const void *in, size_t n, char out[FA_TOKEN_CHARS + 1]) FA_WUR;
/* Lower-case hex SHA-256 of the input (64 chars + NUL). */
enum fa_rc fa_sha256_hex(const void *in, size_t n, char out[2 * FA_SHA256_LEN + 1]) FA_WUR;
/* SHA-256 for a hot path: fa_sha256 has OpenSSL look the implementation
 * up (under a lock every thread shares) on each call; a hasher fetched once
 * and kept by its owner skips that. Immutable once made: any number of
 * threads may use one at once. */
struct fa_sha256_hasher;
struct fa_sha256_hasher *fa_sha256_hasher_new(void);   /* NULL: no memory or no SHA-256 */
void fa_sha256_hasher_free(struct fa_sha256_hasher *h);   /* NULL is a no-op */
enum fa_rc fa_sha256_with(const struct fa_sha256_hasher *h, const void *in, size_t n,
			  unsigned char out[FA_SHA256_LEN]) FA_WUR;
/* OpenID Connect's at_hash (Core §3.1.3.6): unpadded base64url of the left
 * half of SHA-`bits` (256, 384 or 512) of in, into out (cap >= 44 always
 * fits). FA_EINVAL for another size. */
enum fa_rc fa_sha_left_half_b64url(unsigned bits, const void *in, size_t n, char *out,
				   size_t cap) FA_WUR;
/* First 8 hex digits of SHA-256: how a token is named in a log line. */
void fa_log_id(const void *in, size_t n, char out[9]);
/* Constant-time equality (length is not secret). */
bool fa_ct_eq(const void *a, size_t alen, const void *b, size_t blen);
bool fa_ct_streq(const char *a, const char *b);

/* Whether cert_pem (PEM certificates, the server's first, then its chain)
 * and key_pem (a PEM private key without passphrase) make a TLS server's
 * pair: OpenSSL parses both and checks that the key is the first
 * certificate's. FA_OK; FA_ECONFIG with the reason (nothing of either PEM
 * in it). */
enum fa_rc fa_tls_pair_check(const char *cert_pem, const char *key_pem,
			     struct fa_err *err) FA_WUR;

/* Zeroes memory in a way the compiler cannot remove. */
void fa_memzero(void *p, size_t n);
/* Zeroes then frees a NUL-terminated string; NULL is a no-op. */
void fa_free_secret(char *s);

/* ---- strings and numbers ------------------------------------------------ */

/* Copies with truncation as an error (FA_ETOOBIG, dst left ""). */
enum fa_rc fa_strlcpy(char *dst, const char *src, size_t dstcap) FA_WUR;
bool fa_str_ieq(const char *a, const char *b);
bool fa_strn_ieq(const char *a, size_t alen, const char *b);
/* Malloc'd copy of n bytes plus NUL; NULL on allocation failure. */
char *fa_strndup(const char *s, size_t n);
/* Decimal unsigned integer, no sign, no spaces, no overflow, <= max. */
enum fa_rc fa_parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out) FA_WUR;
/* s[0..n) is an RFC 9110 §5.6.2 token (1*tchar): what header names,
 * methods and cookie names are made of. */
bool fa_token_ok(const char *s, size_t n);
/* s[0..n) is an RFC 6749 §3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E ),
 * printable ASCII without space, '"' or '\'. */
bool fa_scope_token_ok(const char *s, size_t n);
/* Writes lower-case hex of n bytes into out (2n+1 bytes). */
void fa_hex(const void *in, size_t n, char *out);

/* ---- URLs (url.c) ---------------------------------------------------------- */

/* An absolute http(s) URL split into its parts. Every part points into the
 * parsed text (nothing is copied or decoded); a part that is absent is NULL
 * with length 0.
 *
 * The grammar is deliberately narrower than RFC 3986, so that no two
 * readers of a URL we accept can disagree about where it goes: at most
 * FA_MAX_URL bytes of visible ASCII (no space, control byte, backslash or
 * non-ASCII byte: browsers strip, fold or re-encode those before parsing),
 * the scheme http or https (any case), no userinfo ("https://good@evil"),
 * a host that is a DNS name or IPv4 literal of [A-Za-z0-9._-] (at most
 * 253 bytes) or a bracketed IPv6 literal that inet_pton accepts, and an
 * optional port 1..65535. */
struct fa_url {
	bool https;                 /* the scheme is https (else http) */
	const char *host;           /* as written, brackets included: "[::1]" */
	size_t host_len;
	bool has_port;              /* a port was written */
	unsigned port;              /* as written, else 80 / 443 */
	const char *rest;           /* all after the authority: path, query, fragment */
	size_t rest_len;
	const char *path;           /* from the authority up to '?' or '#' (may be empty) */
	size_t path_len;
	const char *query;          /* after '?', up to '#' */
	size_t query_len;
	const char *fragment;       /* after '#' */
	size_t fragment_len;
};

/* Parses s[0..n) (need not be NUL-terminated). FA_OK fills *u. FA_EINVAL
 * (or FA_ETOOBIG over FA_MAX_URL) sets *why, when why is not NULL, to a
 * static phrase that completes "bad URL: ...", e.g. "has a bad port";
 * callers decide what a fragment or query may mean. */
enum fa_rc fa_url_parse(const char *s, size_t n, struct fa_url *u, const char **why) FA_WUR;

/* Does host (a URL host as fa_url_parse returns it, or a bare address:
 * "localhost", "127.0.0.1", "[::1]", "::1") name this machine's loopback
 * interface? True for "localhost" in any case (RFC 6761 §6.3 reserves it
 * for loopback), for every IPv4 literal in 127.0.0.0/8 (RFC 1122
 * §3.2.1.3: the whole block is the host's own loopback), and for the IPv6
 * literal ::1 in any spelling (RFC 4291 §2.5.3). Literals are parsed by
 * inet_pton, so "127.evil.example" or "127.1" are NOT loopback.
 *
 * This is flyteauth's ONE loopback predicate. Its one meaning is "traffic
 * to this host never leaves the machine", which is what every caller
 * needs: RFC 8252 §7.3 redirect URIs (any port), plain http that stays on
 * the machine, and listen addresses. */
bool fa_host_is_loopback(const char *host, size_t n);

/* Is uri usable as an OAuth redirect target: fa_url_parse accepts it and
 * it has no fragment (RFC 6749 §3.1.2)? NULL is false. */
bool fa_url_redirect_ok(const char *uri);

/* The one redirect_uri matching rule, shared by the authorization server
 * and `config check`: `requested` matches `registered` when the two are
 * byte-for-byte equal (RFC 6749 §3.1.2.3, no normalisation, no prefix, no
 * wildcard), or -- RFC 8252 §7.3, a native app's ephemeral port -- when
 * `registered` is an http URI on a loopback host and `requested` is the
 * same URI on any port: http, the same host (ignoring case) and the same
 * path and query, byte for byte. A requested URI that fa_url_redirect_ok
 * refuses never matches. */
bool fa_url_redirect_match(const char *requested, const char *registered);

/* Same origin (RFC 6454): the same scheme, the same host ignoring case and
 * one trailing dot (it names the same DNS host), the same port (80/443
 * when absent). */
bool fa_url_same_origin(const struct fa_url *a, const struct fa_url *b);

/* Where identity may send a browser after a login or a logout -- and so
 * what `config check` accepts as auth.userAuth.redirectUrl: NULL when
 * target is a path on this server (one leading '/', not "//": that is
 * another origin) or an absolute URL whose origin is that of one of
 * origins[0..n) (URLs; their path does not matter); else why not, a static
 * phrase that completes "redirect_url ...", e.g. "must not start with
 * '//'". Nothing is decoded: "%2F%2Fevil.com" is a relative reference,
 * refused. NULL target: "is empty". */
const char *fa_url_target_problem(const char *target, const char *const *origins, size_t n);

/* Percent-decodes in[0..n) (RFC 3986 §2.1; with FA_PCT_PLUS also '+' as a
 * space, the application/x-www-form-urlencoded rule) into out, which must
 * hold n + 1 bytes: decoding never makes text longer. out is
 * NUL-terminated and *outlen gets the decoded length. FA_EINVAL when a '%'
 * is not followed by two hex digits (out is then ""). A decoded NUL byte
 * is written like any other: callers that need C strings look for it. */
#define FA_PCT_PLUS 1u
enum fa_rc fa_pct_decode(const char *in, size_t n, unsigned flags, char *out,
			 size_t *outlen) FA_WUR;

/* ---- JSON (json.c) ------------------------------------------------------ */

struct json_t;   /* jansson's; include <jansson.h> to use one */

/* Parses buf[0..len) (need not be NUL-terminated) into a new object *out
 * (json_decref it): nesting at most FA_MAX_JSON_DEPTH (jansson's own limit
 * of 2048 can exhaust a thread's stack), duplicate members refused (two
 * parsers must not read two values), the top level an object. `what`
 * names the document in messages ("JWKS", "JWS header"); a message never
 * quotes the input. FA_EINVAL (not JSON, too deep, not an object) or
 * FA_ENOMEM; *out is NULL on failure. */
enum fa_rc fa_json_load(const char *buf, size_t len, const char *what, struct json_t **out,
			struct fa_err *err) FA_WUR;
/* A new JSON array of the strings v[0..n) (for a document's list members),
 * or NULL when memory runs out. */
struct json_t *fa_json_strings(const char *const *v, size_t n);

/* ---- files ------------------------------------------------------------------ */

/* Reads the rest of the open file fd (left open; the caller's) into memory,
 * at most max bytes; EINTR is retried. A file is never trusted to be as
 * long as stat says: reading stops one byte past max, and that byte makes
 * it FA_ETOOBIG (so pipes such as /dev/stdin work too).
 * On FA_OK *data is malloc'd and NUL-terminated (the NUL not counted in
 * *len; "" for an empty file, never NULL); the caller frees it, zeroing it
 * first when it may hold secrets. On failure *data is NULL, *len 0, and
 * whatever was read is zeroed and freed: FA_ETOOBIG (more than max bytes),
 * FA_EIO (read failed; *saved_errno gets errno), FA_ENOMEM, FA_EINVAL (max
 * over SIZE_MAX - 2). saved_errno may be NULL; it is 0 unless set. */
enum fa_rc fa_fd_read(int fd, size_t max, char **data, size_t *len, int *saved_errno) FA_WUR;
/* fa_fd_read of the file at path, opened O_RDONLY | O_CLOEXEC (symlinks are
 * followed and any file type is read; callers with stricter rules open the
 * file themselves). An open failure is FA_ENOTFOUND for ENOENT and FA_EIO
 * otherwise, with errno in *saved_errno. */
enum fa_rc fa_file_read(const char *path, size_t max, char **data, size_t *len,
			int *saved_errno) FA_WUR;

/* Writes all n bytes of p to fd, retrying short writes and EINTR. FA_EIO
 * on failure, with errno as write left it. */
enum fa_rc fa_fd_write_all(int fd, const void *p, size_t n) FA_WUR;

/* ---- time ------------------------------------------------------------------- */

int64_t fa_now(void);      /* seconds since the epoch (wall clock) */
int64_t fa_now_ms(void);   /* milliseconds since the epoch (wall clock) */
int64_t fa_mono_ms(void);  /* monotonic milliseconds, for intervals */
int64_t fa_mono_us(void);  /* monotonic microseconds, for latencies */

/* Go time.ParseDuration syntax ("300ms", "1h30m", "1.5h", "0"), with units
 * ns us µs ms s m h; result in milliseconds (sub-millisecond parts are
 * truncated). Negative durations are rejected. */
enum fa_rc fa_duration_parse(const char *s, size_t n, int64_t *ms) FA_WUR;
/* Formats ms in Go style ("1h30m0s", "500ms"). */
void fa_duration_format(int64_t ms, char *out, size_t outcap);

/* ---- CPUs (cpu.c) ------------------------------------------------------------ */

/* The CPUs this process may use: its affinity mask (sysconf's online
 * count if that fails), lowered to the CPU quota of its cgroup or of any
 * parent, rounded up (1.5 CPUs: 2); at least 1. */
unsigned fa_cpus_usable(void);
/* The same limit from the files a test names: proc_cgroup stands for
 * /proc/self/cgroup and cgroup_root for /sys/fs/cgroup (v1's cpu
 * controller under cgroup_root/cpu); cpus is the affinity count. A file
 * missing or not parsing is no limit. */
unsigned fa_cpus_in(const char *proc_cgroup, const char *cgroup_root, unsigned cpus);
/* cgroup v2's cpu.max, "max <period>" or "<quota> <period>" (one trailing
 * newline allowed): *cpus 0 for no limit, else quota / period rounded up.
 * FA_EINVAL for anything else (a zero quota or period among it). */
enum fa_rc fa_cpu_max_parse(const char *text, size_t len, unsigned *cpus) FA_WUR;

/* ---- metrics (metrics.c) ------------------------------------------------ */

/* The server's counters, rendered in the Prometheus text exposition
 * format (version 0.0.4) for GET /metrics. One registry per server, made
 * by serve and handed to every module that counts (no global registry).
 *
 * Every label value is from a fixed, small set: a route of the routing
 * table (never a requested path), a status, a grant type, an OAuth error
 * code. Never a subject, client, token or address: those make the series
 * unbounded and some are secret.
 *
 * Threads: counting is lock-free (relaxed atomic adds on counters of
 * their own), so any number of workers count at once and a scrape reads
 * while they do; a scrape may see one counter of a request before another.
 * Routes are registered before the registry is shared. Every counting
 * call takes a NULL registry as "not counting". */
struct fa_metrics;

/* Routes one registry counts: the routing tables have ~40. */
#define FA_METRICS_MAX_ROUTES 128
/* A request that matched no route (404, 405 on an unknown method, or
 * refused before routing): counted under route="other". */
#define FA_METRICS_NO_ROUTE 0xFFFFFFFFu
/* The largest /metrics answer (one response): every route with a dozen
 * statuses plus the fixed series is under 40 KiB. */
#define FA_METRICS_MAX_TEXT FA_MAX_RESPONSE

enum fa_metrics_grant {
	FA_MG_AUTHORIZATION_CODE = 0,
	FA_MG_REFRESH_TOKEN = 1,
	FA_MG_CLIENT_CREDENTIALS = 2,
	FA_MG_DEVICE_CODE = 3,
	FA_MG_OTHER = 4,           /* missing or unsupported grant_type */
	FA_MG_N = 5,
};

enum fa_metrics_limiter {
	FA_ML_LOGIN = 0,           /* the failed-login throttle */
	FA_ML_DEVICE_POLL = 1,     /* a device polled too fast: slow_down */
	FA_ML_CLIENT_AUTH = 2,     /* failed client authentications; pool full */
	FA_ML_UNAUTHENTICATED = 3, /* rate and pending caps of /oauth2/authorize
	                            * and /oauth2/device/authorize */
	FA_ML_N = 4,
};

enum fa_metrics_store_op {
	FA_MS_GET = 0,
	FA_MS_APPLY = 1,
	FA_MS_INCR = 2,
	FA_MS_PURGE = 3,
	FA_MS_COUNT = 4,
	FA_MS_PING = 5,
	FA_MS_N = 6,
};

/* NULL on allocation failure. */
struct fa_metrics *fa_metrics_new(void);
void fa_metrics_free(struct fa_metrics *m);   /* NULL is a no-op */
/* Registers a route (method and path are copied) and gives its id; the
 * same method and path again give the same id. Only before the registry
 * is shared with other threads. FA_ETOOBIG past FA_METRICS_MAX_ROUTES. */
enum fa_rc fa_metrics_route(struct fa_metrics *m, const char *method, const char *path,
			    unsigned *id, struct fa_err *err) FA_WUR;
/* A request answered with `status` (100..599; others are not counted) on
 * route `id` (or FA_METRICS_NO_ROUTE). */
void fa_metrics_request(struct fa_metrics *m, unsigned id, int status);
/* A token request of grant `g` ended: oauth_error NULL is a token issued,
 * else its RFC 6749 / 8628 error code (one not known here counts as
 * "other_error"). */
void fa_metrics_grant(struct fa_metrics *m, enum fa_metrics_grant g, const char *oauth_error);
/* A login (password checked, or refused) ended. */
void fa_metrics_login(struct fa_metrics *m, bool success);
void fa_metrics_throttle(struct fa_metrics *m, enum fa_metrics_limiter l);
/* One store call took `us` microseconds. */
void fa_metrics_store(struct fa_metrics *m, enum fa_metrics_store_op op, int64_t us);
/* The gate's verified-token cache answered (hit) or not (miss). */
void fa_metrics_token_cache(struct fa_metrics *m, bool hit);
/* Appends every series (a counter that is zero is written when it has no
 * labels that vary, else left out) to `out`, whose cap should be
 * FA_METRICS_MAX_TEXT. */
enum fa_rc fa_metrics_format(const struct fa_metrics *m, struct fa_buf *out) FA_WUR;


/* ---- keyed token buckets (limiter.c) ------------------------------------ */

/* In-memory rate limits per key (a client address, a client id): each key
 * has a bucket of `burst` tokens that refills at `per_s` tokens a second.
 * Bounded: at most `entries` keys are remembered (a set-associative table;
 * a new key replaces the fullest bucket of its set, the one whose loss
 * forgives least). Keys are hashed with SHA-256 under a random salt, so
 * nobody can aim keys at one set. Thread-safe. Per process: several
 * instances each allow their own burst (stated where it is used). */
struct fa_limiter;
/* entries 8..1,048,576 (rounded up to a multiple of 8), burst >= 1,
 * per_s > 0. NULL on bad arguments or no memory. */
struct fa_limiter *fa_limiter_new(size_t entries, double burst, double per_s);
void fa_limiter_free(struct fa_limiter *l);   /* NULL is a no-op */
/* Takes one token from key's bucket at now_ms (fa_mono_ms). true when
 * there was one; false (nothing taken) when empty, and *retry_ms (may be
 * NULL) gets the milliseconds until the next token. l NULL: true. */
bool fa_limiter_take(struct fa_limiter *l, const void *key, size_t n, int64_t now_ms,
		     int64_t *retry_ms);
/* As fa_limiter_take without taking: is a token there now? */
bool fa_limiter_peek(struct fa_limiter *l, const void *key, size_t n, int64_t now_ms,
		     int64_t *retry_ms);


/* ---- address ranges (cidr.c) ---------------------------------------------- */

/* "10.0.0.0/8", "2001:db8::/32", or a bare address (one host). IPv4-mapped
 * IPv6 addresses count as IPv4. */
struct fa_cidr {
	unsigned char addr[16];
	unsigned bits;
	bool v6;
};
/* FA_EINVAL for anything else (a name, a prefix too long, spaces). */
enum fa_rc fa_cidr_parse(const char *s, struct fa_cidr *out) FA_WUR;
/* Is the numeric address (as inet_ntop writes it) inside c? */
bool fa_cidr_match(const struct fa_cidr *c, const char *addr);
/* Inside any of list[0..n)? */
bool fa_cidr_any(const struct fa_cidr *list, size_t n, const char *addr);

#endif
