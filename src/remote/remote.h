/* remote.h -- the whole interface of flyteauth's remote module: what
 * flyteauth learns from other servers. Outbound HTTP through libcurl with
 * fixed, safe settings; bounded JSON from a response; OpenID Connect
 * Discovery 1.0 and RFC 8414 metadata, fetched and validated into a plain C
 * struct; a remote key set (JWKS) with rate-limited, single-flight refetch;
 * a background holder that loads a document with retries and backoff; and
 * an issuer object that puts discovery, key set and token verification
 * together for the relying party (upstream IdP login) and External mode.
 *
 * It knows nothing about the config file, the store or the HTTP server:
 * callers pass plain values. It depends on base, jose, libcurl and jansson.
 *
 * TLS: verification is on for every server-side caller. The one switch
 * that turns it off, fa_remote_opts.insecure_skip_verify, is flytectl's
 * insecureSkipVerify and belongs to the CLI client only (scripts/checksrc.sh
 * fails when anything else sets it). Peers are checked against the system
 * CA store plus, when given, a private CA file that is added to it, never
 * instead of it.
 *
 * libcurl's global state: fa_remote_new calls curl_global_init and
 * fa_remote_free curl_global_cleanup (libcurl counts the calls). Since
 * libcurl 7.84.0 both are thread-safe when curl_version_info() reports
 * CURL_VERSION_THREADSAFE, which Debian 12's 7.88.1 (OpenSSL 3 flavour)
 * does; fa_remote_new refuses to run on a libcurl without it
 * (FA_EUNSUPPORTED), so no caller needs a process-wide init of its own and
 * this module keeps no mutable global.
 *
 * Errors: every fallible function returns enum fa_rc and fills err (may be
 * NULL). A message names the URL without its query, fragment or user info,
 * and the cause; it never holds a credential, a token or a response body.
 * Codes: FA_ENET (unreachable, TLS refused, timeout, HTTP status not
 * wanted, transfer aborted), FA_ETOOBIG (response over the caller's cap),
 * FA_EINVAL (bad URL, malformed or invalid document), FA_EDENIED (a
 * document or token refused by policy: issuer mismatch, http endpoint
 * under an https issuer, signature/claims), FA_ENOTFOUND (no key for a
 * token after the allowed refetch), FA_EUNSUPPORTED, FA_ENOMEM.
 */
#ifndef FA_REMOTE_H
#define FA_REMOTE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/base.h"
#include "jose/jose.h"

/* ---- limits (only this module uses them) ---------------------------------- */

/* A URL we fetch or read from a document: base's one URL cap (limits.h). */
#define FA_REMOTE_MAX_URL FA_MAX_URL
/* Connecting (DNS + TCP + TLS) may take this long: a healthy IdP answers in
 * well under a second; a black hole must not hold a login for long. */
#define FA_REMOTE_CONNECT_TIMEOUT_MS 5000
/* A whole request may take this long. */
#define FA_REMOTE_TIMEOUT_MS 10000
/* Redirects a GET may follow when its caller allows them at all. */
#define FA_REMOTE_MAX_REDIRECTS 5
/* A private CA file (PEM): a few certificates; the whole Mozilla bundle is
 * ~220 KiB. */
#define FA_REMOTE_MAX_CA_FILE (1024 * 1024)
/* Entries of one list in a discovery document (scopes_supported,
 * claims_supported...): IdPs list tens; thousands are an attack. */
#define FA_DISCOVERY_MAX_LIST 256
/* One list entry (a scope, claim or method name). */
#define FA_DISCOVERY_MAX_NAME 256
/* The JWKS refetch an unknown kid may trigger happens at most this often
 * (per key set): a stream of forged kids must not become a stream of
 * requests to the IdP. */
#define FA_REMOTE_JWKS_MIN_REFETCH_MS 10000
/* A key set older than this is refreshed on its next use. */
#define FA_REMOTE_JWKS_MAX_AGE_MS (15 * 60 * 1000)
/* Background retries start after this and double up to the cap. */
#define FA_REMOTE_RETRY_FIRST_MS 1000
#define FA_REMOTE_RETRY_MAX_MS 60000
/* A loaded discovery document is fetched again this often. */
#define FA_REMOTE_DISCOVERY_REFRESH_MS (60 * 60 * 1000)

/* ---- outbound HTTP ------------------------------------------------------- */

/* Settings shared by every request of one user (the IdP client, the
 * external AS client). Opaque and immutable after fa_remote_new, so any
 * number of threads may use one at once. */
struct fa_remote;

struct fa_remote_opts {
	/* PEM file of CA certificates trusted in addition to the system
	 * store (flyteadmin's caCertFilePath idea). NULL or "": none. Read
	 * and checked once by fa_remote_new (<= FA_REMOTE_MAX_CA_FILE, at
	 * least one certificate). */
	const char *ca_file;
	/* Proxy for every request (userAuth.httpProxyURL,
	 * externalAuthServer.httpProxyURL): http://, https://, socks5:// or
	 * socks5h://, user info allowed (never printed). NULL or "": none
	 * given, and then libcurl honours http_proxy / https_proxy /
	 * no_proxy from the environment as Go's ProxyFromEnvironment does. */
	const char *proxy_url;
	int64_t connect_timeout_ms;   /* 0: FA_REMOTE_CONNECT_TIMEOUT_MS */
	int64_t timeout_ms;           /* 0: FA_REMOTE_TIMEOUT_MS */
	/* Replaces the system CA bundle file (the store ca_file is added
	 * to). The CLI client's caCertFilePath (only that file is trusted,
	 * as flytectl does), and tests that need a "system" store they
	 * control; NULL in the server. Verification stays on. */
	const char *system_ca_file;
	/* flytectl's insecureSkipVerify: the server's certificate and name
	 * are not checked. Only the CLI client sets it, on its user's
	 * explicit choice (and it says so); the server never does. */
	bool insecure_skip_verify;
};

/* opts may be NULL (all defaults). *out is freed with fa_remote_free.
 * FA_EINVAL: bad proxy URL or timeouts; FA_ENOTFOUND/FA_EIO: CA file not
 * readable; FA_EINVAL: CA file without a certificate; FA_EUNSUPPORTED:
 * libcurl without thread-safe global init. */
enum fa_rc fa_remote_new(const struct fa_remote_opts *opts, struct fa_remote **out,
			 struct fa_err *err) FA_WUR;
/* NULL is a no-op. Every object made from r (key sets, holders, issuers)
 * must be freed first. */
void fa_remote_free(struct fa_remote *r);

/* One request. Pointers are borrowed for the call. */
struct fa_remote_req {
	const char *url;            /* absolute http(s) URL, no user info or fragment */
	/* Non-NULL: POST this application/x-www-form-urlencoded body
	 * (<= FA_MAX_BODY; see fa_remote_form_add). NULL: GET. */
	const char *form;
	const char *accept;         /* NULL: "application/json" */
	/* client_secret_basic (RFC 6749 §2.3.1: id and secret are
	 * form-encoded before base64). basic_id NULL: none. */
	const char *basic_id;
	const char *basic_secret;
	const char *bearer;         /* Authorization: Bearer <token>; NULL: none */
	/* The header that carries bearer (an HTTP token, e.g. flytectl's
	 * authorizationHeader); NULL: "Authorization". */
	const char *bearer_header;
	size_t max_body;            /* > 0: a longer answer is FA_ETOOBIG, aborted */
	/* 0: no redirect is followed (a 3xx is returned as it is). 1..
	 * FA_REMOTE_MAX_REDIRECTS: a GET without credentials may follow that
	 * many, to https only. A request with credentials or a body never
	 * follows one (FA_EINVAL if asked), so a secret is never carried to
	 * a place the server points at. */
	int max_redirects;
	/* Optional: set it (from another thread) to abort the transfer. */
	const atomic_bool *cancel;
};

/* An answer, any HTTP status. */
struct fa_remote_resp {
	long status;
	char *body;                 /* malloc'd, NUL-terminated ("" if empty) */
	size_t len;
	/* Media type, lower-case, without parameters; "" when absent. */
	char content_type[128];
	/* Cache-Control max-age in seconds; 0 with no-store or no-cache; -1
	 * when the answer says nothing. */
	int64_t max_age_s;
	/* Set on failure when the peer's TLS certificate did not verify, so a
	 * caller can name its own setting for the trusted CAs. */
	bool tls_unverified;
};

/* Performs req. FA_OK means an HTTP answer arrived (any status) within
 * req->max_body; *resp is then filled (release with
 * fa_remote_resp_cleanup). On failure *resp is empty but for
 * tls_unverified. */
enum fa_rc fa_remote_fetch(const struct fa_remote *r, const struct fa_remote_req *req,
			   struct fa_remote_resp *resp, struct fa_err *err) FA_WUR;
/* Frees the body; safe on a zeroed or cleaned struct. */
void fa_remote_resp_cleanup(struct fa_remote_resp *resp);

/* The answer as a JSON object: the Content-Type must be absent,
 * application/json or application/<x>+json (a login page or proxy error
 * in text/html is refused by name), the body a JSON object without
 * duplicate members nested at most FA_MAX_JSON_DEPTH. what names the
 * document in messages. *out is a new reference. */
enum fa_rc fa_remote_json(const struct fa_remote_resp *resp, const char *url, const char *what,
			  json_t **out, struct fa_err *err) FA_WUR;

/* GET url (no credentials, no redirect), require 200 and a JSON object
 * (fa_remote_json) within max_body. *out is a new reference; resp may be
 * NULL, else it receives the answer (body included) for a cache. */
enum fa_rc fa_remote_get_json(const struct fa_remote *r, const char *url, size_t max_body,
			      const char *what, const atomic_bool *cancel, json_t **out,
			      struct fa_remote_resp *resp, struct fa_err *err) FA_WUR;

/* Appends name=value to a form body, percent-encoded, '&'-separated. */
enum fa_rc fa_remote_form_add(struct fa_buf *b, const char *name, const char *value) FA_WUR;
/* fa_remote_form_add of each pair of kv: name, value, name, value, ...,
 * ended by a NULL name; a pair whose value is NULL is left out (an
 * optional parameter). Stops at the first failure. */
enum fa_rc fa_remote_form_pairs(struct fa_buf *b, const char *const *kv) FA_WUR;

/* ---- URLs -------------------------------------------------------------- */

/* Checks an absolute URL we may fetch: http or https (the scheme in any
 * case, RFC 3986 §3.1; fa_remote_url_is_https agrees), a host,
 * no user info, no fragment, no whitespace or control characters, at most
 * FA_REMOTE_MAX_URL. what names it in messages. */
enum fa_rc fa_remote_url_check(const char *url, const char *what, struct fa_err *err) FA_WUR;
/* True for an https URL. */
bool fa_remote_url_is_https(const char *url);
/* True when the URL's host is localhost, 127.0.0.0/8 or [::1]. */
bool fa_remote_url_is_loopback(const char *url);
/* The URL as it may appear in a message: scheme://host[:port]/path, without
 * user info, query or fragment, non-printable bytes as '?', cut to cap - 1
 * characters with "..." when longer. */
void fa_remote_url_redact(const char *url, char *out, size_t cap);
/* base + ref as flyteadmin joins baseUrl and metadataUrl: an absolute
 * http(s) ref is taken as it is; otherwise base without its trailing '/',
 * then '/', then ref without its leading '/'. FA_ETOOBIG past cap. */
enum fa_rc fa_remote_url_join(const char *base, const char *ref, char *out, size_t cap) FA_WUR;

/* ---- discovery documents ------------------------------------------------ */

enum fa_discovery_kind {
	FA_DISCOVERY_OIDC = 1,      /* OpenID Connect Discovery 1.0 */
	FA_DISCOVERY_OAUTH = 2,     /* RFC 8414 authorization server metadata */
};

/* A list of names from the document; entries borrowed from it. */
struct fa_strlist {
	size_t n;
	const char *const *v;
};

/* A validated metadata document. Immutable and reference-counted
 * (fa_discovery_dup / fa_discovery_free), so a holder can hand the same
 * one to many threads. Strings are borrowed from the struct and live as
 * long as it does; absent optional members are NULL (lists: n 0).
 *
 * Policy applied by fa_discovery_parse:
 *  - issuer: an absolute http(s) URL with no query or fragment, equal to
 *    the expected issuer after removing at most one trailing '/' from each
 *    (OIDC Discovery §4.1 and RFC 8414 §3.1 strip that slash to build the
 *    well-known URL, so "https://x/" and "https://x" name the same
 *    document; Auth0's issuers end in '/', Okta's do not). Nothing else is
 *    normalised: case, default ports and escapes must match. issuer keeps
 *    the document's exact spelling, which is what an `iss` claim must
 *    equal.
 *  - Entra ID's multi-tenant endpoints: when the expected issuer is
 *    https://login.microsoftonline.com/{common,organizations,consumers}/v2.0
 *    and the document says https://login.microsoftonline.com/{tenantid}/v2.0
 *    literally, the document is accepted with issuer_is_template set. A
 *    token's issuer is then that template with "{tenantid}" replaced by
 *    the token's own `tid` claim (a GUID), see fa_discovery_token_issuer;
 *    users of every tenant can sign in, so a caller that must restrict
 *    tenants checks `tid` itself. Any other issuer with a '{' is refused.
 *  - Required members: OIDC: issuer, authorization_endpoint,
 *    token_endpoint, jwks_uri, response_types_supported (with "code"),
 *    subject_types_supported, id_token_signing_alg_values_supported (OIDC
 *    Discovery §3). OAUTH: issuer, authorization_endpoint, token_endpoint,
 *    jwks_uri (flyteauth verifies tokens, so it needs keys; RFC 8414 makes
 *    it optional), response_types_supported.
 *  - Endpoint URLs are checked as fa_remote_url_check. Under an https
 *    issuer every endpoint must be https (no downgrade). An http issuer is
 *    the operator's explicit choice (a loopback test IdP, an in-cluster
 *    IdP behind a mesh): its endpoints may be http or https.
 *  - Lists hold strings only, at most FA_DISCOVERY_MAX_LIST of at most
 *    FA_DISCOVERY_MAX_NAME bytes. Unknown members are kept in raw only.
 */
struct fa_discovery {
	enum fa_discovery_kind kind;
	const char *issuer;
	bool issuer_is_template;
	const char *authorization_endpoint;
	const char *token_endpoint;
	const char *jwks_uri;
	const char *userinfo_endpoint;
	const char *end_session_endpoint;
	const char *device_authorization_endpoint;
	const char *revocation_endpoint;
	const char *introspection_endpoint;
	const char *registration_endpoint;
	struct fa_strlist scopes_supported;
	struct fa_strlist response_types_supported;
	struct fa_strlist response_modes_supported;
	struct fa_strlist grant_types_supported;
	struct fa_strlist subject_types_supported;
	struct fa_strlist id_token_signing_alg_values_supported;
	struct fa_strlist token_endpoint_auth_methods_supported;
	struct fa_strlist code_challenge_methods_supported;
	struct fa_strlist claims_supported;
	/* FA_JWS_ALG_BIT mask of the id_token_signing_alg_values_supported we
	 * implement (0 when none or absent). */
	unsigned id_token_algs;
	const char *url;            /* where it came from */
	const char *raw;            /* the document as received (<= FA_MAX_JWKS) */
	size_t raw_len;
	int64_t fetched_at;         /* seconds since the epoch */
	int64_t max_age_s;          /* the answer's Cache-Control max-age, or -1 */
};

/* The well-known URL of issuer: OIDC: issuer without its trailing '/' +
 * "/.well-known/openid-configuration"; OAUTH (RFC 8414 §3.1): the path
 * component moves after "/.well-known/oauth-authorization-server". */
enum fa_rc fa_discovery_url(enum fa_discovery_kind kind, const char *issuer, char *out,
			    size_t cap, struct fa_err *err) FA_WUR;

/* Parses and validates text (len <= FA_MAX_JWKS) that came from url as
 * the metadata of expected_issuer (policy above). fetched_at 0 means now
 * (a caller restoring a cached copy passes its original time). *out is a
 * new document (fa_discovery_free). */
enum fa_rc fa_discovery_parse(enum fa_discovery_kind kind, const char *expected_issuer,
			      const char *url, const char *text, size_t len, int64_t fetched_at,
			      struct fa_discovery **out, struct fa_err *err) FA_WUR;

/* The issuer comparison of fa_discovery_parse: true when issuer (from a
 * document) is acceptable for expected (configured). *is_template (may be
 * NULL) tells whether it matched as Entra ID's {tenantid} template. */
bool fa_discovery_issuer_matches(const char *expected, const char *issuer, bool *is_template);

/* GET url (NULL: fa_discovery_url of expected_issuer) and fa_discovery_parse
 * it: 200, JSON per fa_remote_json, <= FA_MAX_JWKS, no redirects. */
enum fa_rc fa_discovery_fetch(const struct fa_remote *r, enum fa_discovery_kind kind,
			      const char *expected_issuer, const char *url,
			      const atomic_bool *cancel, struct fa_discovery **out,
			      struct fa_err *err) FA_WUR;

struct fa_discovery *fa_discovery_dup(const struct fa_discovery *d);   /* new reference */
void fa_discovery_free(struct fa_discovery *d);                        /* NULL: no-op */

/* True when list holds s exactly. */
bool fa_strlist_has(const struct fa_strlist *list, const char *s);

/* The alg an RSA key of this issuer's JWKS gets when it names none: the
 * only RSA alg in id_token_signing_alg_values_supported when there is
 * exactly one we implement, else RS256 (OIDC Core §15.1's default). */
enum fa_jws_alg fa_discovery_rsa_alg(const struct fa_discovery *d);

/* The issuer a token from this server must carry: d->issuer, or for an
 * Entra ID template the template with the token's `tid` claim (claims,
 * borrowed; a GUID, else FA_EDENIED) in place of "{tenantid}".
 * Written into out (cap bytes). */
enum fa_rc fa_discovery_token_issuer(const struct fa_discovery *d, const json_t *claims,
				     char *out, size_t cap, struct fa_err *err) FA_WUR;

/* A new JSON object holding only the members of the raw document whose
 * names are in names (n of them), for serving a filtered copy. */
enum fa_rc fa_discovery_subset(const struct fa_discovery *d, const char *const *names, size_t n,
			       json_t **out, struct fa_err *err) FA_WUR;

/* ---- a remote key set ----------------------------------------------------- */

/* The last good JWKS of one jwks_uri, shared by threads. Invariants:
 *  1. A failed fetch never changes the set: keys are kept while the server
 *     is down or answers garbage.
 *  2. At most one fetch runs at a time (single flight); a caller that
 *     needs a fetch while one runs waits for it and uses its result.
 *  3. Fetches caused by an unknown kid, and retries after a failure,
 *     start at most once per min_refetch_ms; a miss inside that window
 *     fails closed (FA_ENOTFOUND) without a request.
 *  4. A set older than max_age_ms is refreshed by the first caller that
 *     notices (bounded by 3 as well); others keep using the old set
 *     meanwhile instead of waiting.
 *  5. Readers get a reference to an immutable struct fa_jwks; a refresh
 *     swaps the pointer and never touches a set a reader holds.
 * Reference-counted: fa_remote_jwks_dup / fa_remote_jwks_free. */
struct fa_remote_jwks;

struct fa_remote_jwks_opts {
	int64_t min_refetch_ms;     /* 0: FA_REMOTE_JWKS_MIN_REFETCH_MS */
	int64_t max_age_ms;         /* 0: FA_REMOTE_JWKS_MAX_AGE_MS */
	size_t max_bytes;           /* 0: FA_MAX_JWKS */
	enum fa_jws_alg rsa_alg;    /* alg of RSA keys without "alg"; 0: RS256 */
	const struct fa_log *log;   /* NULL: silent; else one line per failure / recovery */
	/* Monotonic milliseconds for invariants 3 and 4, called under the
	 * set's lock; NULL: fa_mono_ms. A test passes a clock it moves by
	 * hand, so a window is never decided by how busy the machine is. */
	int64_t (*clock_ms)(void *arg);
	void *clock_arg;
};

/* Counts for metrics, copied under the set's lock. */
struct fa_remote_jwks_stats {
	uint64_t fetches;           /* requests made */
	uint64_t failures;          /* of those, failed (set kept) */
	uint64_t kid_refetches;     /* fetches caused by an unknown kid */
	uint64_t throttled;         /* unknown kids refused inside the window */
	size_t keys;                /* keys in the current set */
	int64_t last_success;       /* seconds since the epoch, 0: never */
};

/* r must outlive the set. No request is made until the first use. */
enum fa_rc fa_remote_jwks_new(const struct fa_remote *r, const char *jwks_uri,
			      const struct fa_remote_jwks_opts *opts,
			      struct fa_remote_jwks **out, struct fa_err *err) FA_WUR;
struct fa_remote_jwks *fa_remote_jwks_dup(struct fa_remote_jwks *ks);
void fa_remote_jwks_free(struct fa_remote_jwks *ks);   /* NULL: no-op */
const char *fa_remote_jwks_uri(const struct fa_remote_jwks *ks);

/* The current set (fetched on first use, refreshed when stale). *out is a
 * new reference (fa_jwks_free). FA_ENET when no set was ever loaded (the
 * message holds the last failure). */
enum fa_rc fa_remote_jwks_get(struct fa_remote_jwks *ks, struct fa_jwks **out,
			      struct fa_err *err) FA_WUR;
/* fa_jwt_verify against the set; when no key matches the token's kid (or
 * its alg, without a kid), one refetch within invariant 3, then once
 * more. */
enum fa_rc fa_remote_jwks_verify(struct fa_remote_jwks *ks, const struct fa_jwt_rules *rules,
				 const char *token, size_t len, json_t **claims, json_t **header,
				 struct fa_err *err) FA_WUR;
void fa_remote_jwks_stats(struct fa_remote_jwks *ks, struct fa_remote_jwks_stats *out);

/* ---- a document held up to date in the background ------------------------ */

/* One thread per holder loads a value, retries failures with exponential
 * backoff (first_delay_ms doubling to max_delay_ms), and after a success
 * loads again every refresh_ms, keeping the last good value through later
 * failures. Stopping (fa_remote_holder_free) wakes the thread, aborts a
 * transfer in flight through the load's cancel flag, and joins it.
 *
 * Why a thread and not a tick from serve's loop: serve sleeps in
 * sigtimedwait for a minute at a time and must stay responsive to
 * signals; a fetch takes up to a timeout; and a holder is then the same
 * object in `serve`, in `config check` and in a unit test.
 *
 * Log lines (when opts->log is set): the first failure, WARN, naming what
 * and the error and the next retry; a changed error, WARN; the recovery
 * after failures, INFO; giving up after max_attempts, ERROR. Repeated
 * identical failures are not logged again. */
struct fa_remote_holder;

struct fa_remote_holder_ops {
	/* Loads a fresh value on the holder's thread; *out is then owned by
	 * the holder. cancel is set when the holder stops. */
	enum fa_rc (*load)(void *ctx, const atomic_bool *cancel, void **out, struct fa_err *err);
	void *(*dup)(void *value);      /* a new reference for a reader */
	void (*free)(void *value);      /* drops one */
};

struct fa_remote_holder_opts {
	const char *what;               /* for log lines, e.g. "the IdP's discovery document at URL" */
	int64_t first_delay_ms;         /* 0: FA_REMOTE_RETRY_FIRST_MS */
	int64_t max_delay_ms;           /* 0: FA_REMOTE_RETRY_MAX_MS */
	/* 0: retry for ever. N: after N consecutive failures before any
	 * success, give up (state FA_HOLDER_FAILED; flyteadmin's
	 * externalAuthServer.retryAttempts). */
	int max_attempts;
	int64_t refresh_ms;             /* 0: never reload after a success */
	const struct fa_log *log;
};

enum fa_holder_state {
	FA_HOLDER_LOADING = 0,          /* no value yet, still trying */
	FA_HOLDER_READY = 1,            /* a value is held */
	FA_HOLDER_FAILED = 2,           /* no value, and max_attempts spent */
};

/* Starts the thread; the first load begins at once. ctx is borrowed and
 * must outlive the holder. initial (may be NULL): a value to serve until
 * the first load succeeds (a cached copy); the holder takes it. */
enum fa_rc fa_remote_holder_start(const struct fa_remote_holder_ops *ops, void *ctx,
				  const struct fa_remote_holder_opts *opts, void *initial,
				  struct fa_remote_holder **out, struct fa_err *err) FA_WUR;
/* Stops and joins the thread, frees the value. NULL: no-op. */
void fa_remote_holder_free(struct fa_remote_holder *h);
/* The current value as a new reference (ops->dup). Without one: FA_ENET
 * (still loading) or FA_EEXPIRED (gave up), with the last failure in err. */
enum fa_rc fa_remote_holder_get(struct fa_remote_holder *h, void **value,
				struct fa_err *err) FA_WUR;
/* Waits until the first load attempt has ended (or a value is held), at
 * most timeout_ms; returns the state then. */
enum fa_holder_state fa_remote_holder_wait(struct fa_remote_holder *h, int64_t timeout_ms);

struct fa_remote_holder_stats {
	enum fa_holder_state state;
	uint64_t attempts;              /* loads started */
	uint64_t failures;
	int consecutive_failures;
	int64_t next_attempt_in_ms;     /* -1: none scheduled */
};
void fa_remote_holder_stats(struct fa_remote_holder *h, struct fa_remote_holder_stats *out);

/* ---- an issuer: discovery + key set + token verification ---------------- */

/* What a relying party or resource server keeps about one issuer: its
 * discovery document in a holder (loaded in the background, retried with
 * backoff, refreshed), and the key set of the document's jwks_uri
 * (replaced when a refresh changes the URI). */
struct fa_remote_issuer;

struct fa_remote_issuer_opts {
	enum fa_discovery_kind kind;
	const char *issuer;             /* expected issuer: openId.baseUrl / externalAuthServer.baseUrl */
	const char *metadata_url;       /* NULL: fa_discovery_url(kind, issuer) */
	const char *what;               /* "the IdP" (default) or "the external authorization server" */
	int64_t first_delay_ms;         /* holder retry settings (0: defaults) */
	int64_t max_delay_ms;
	int max_attempts;               /* 0: for ever */
	int64_t refresh_ms;             /* 0: FA_REMOTE_DISCOVERY_REFRESH_MS */
	struct fa_remote_jwks_opts jwks;    /* rsa_alg 0: fa_discovery_rsa_alg */
	const struct fa_log *log;
	/* Called on the holder's thread after each successful load (to
	 * cache the document in a store, say). May be NULL. */
	void (*on_update)(void *ctx, const struct fa_discovery *d);
	void *ctx;
	/* A cached document to serve until the first load succeeds (a new
	 * reference is taken); NULL: none. */
	const struct fa_discovery *initial;
};

/* r must outlive the issuer. Returns at once; loading runs behind. */
enum fa_rc fa_remote_issuer_start(const struct fa_remote *r, const struct fa_remote_issuer_opts *opts,
				  struct fa_remote_issuer **out, struct fa_err *err) FA_WUR;
void fa_remote_issuer_free(struct fa_remote_issuer *iss);   /* NULL: no-op */
/* The current document (new reference). FA_ENET while not loaded yet,
 * FA_EEXPIRED after giving up; err names the URL and the last error (what
 * a 503 page or `config check --online` shows). */
enum fa_rc fa_remote_issuer_discovery(struct fa_remote_issuer *iss, struct fa_discovery **out,
				      struct fa_err *err) FA_WUR;
/* fa_remote_holder_wait for the discovery document. */
enum fa_holder_state fa_remote_issuer_wait(struct fa_remote_issuer *iss, int64_t timeout_ms);
/* Verifies a JWT from this issuer: signature through the key set (rules
 * ->algs still applies; each key verifies only its own alg), then rules'
 * claim checks with rules->issuer replaced by the issuer the token must
 * carry (fa_discovery_token_issuer: exact, template-aware). */
enum fa_rc fa_remote_issuer_verify(struct fa_remote_issuer *iss, const struct fa_jwt_rules *rules,
				   const char *token, size_t len, json_t **claims, json_t **header,
				   struct fa_err *err) FA_WUR;

struct fa_remote_issuer_stats {
	struct fa_remote_holder_stats discovery;
	struct fa_remote_jwks_stats jwks;   /* zero until the key set exists */
};
void fa_remote_issuer_stats(struct fa_remote_issuer *iss, struct fa_remote_issuer_stats *out);

#endif
