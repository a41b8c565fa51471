/* http.c -- outbound HTTP for the server side and the CLI client: one
 * libcurl easy handle per request, with settings a caller cannot get wrong.
 * http and https only; TLS verification on (only the CLI client's
 * insecureSkipVerify turns it off), against the system store plus an
 * optional private CA added to it; a caller's cap on the answer (the
 * transfer is aborted past it, and a Content-Length over it is refused
 * before the body comes); connect and total timeouts; no redirect unless asked for, and then
 * only for a GET without credentials, to https only; an optional proxy.
 * Also the bounded JSON reading of an answer and the form encoder.
 *
 * A struct fa_remote is immutable once made, so requests on many threads
 * share it; each request has its own handle and state. libcurl's global
 * init is counted by libcurl itself and is thread-safe on the libcurl we
 * require (see remote.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "remote/remote_int.h"

/* Longest Timeout a caller may ask for: a request is never a long poll. */
#define MAX_TIMEOUT_MS (5 * 60 * 1000)

/* ---- the shared settings ------------------------------------------------ */

static enum fa_rc check_proxy(const char *url, struct fa_err *err)
{
	static const char *const schemes[] = { "http://", "https://", "socks5://", "socks5h://" };
	size_t n = strnlen(url, FA_REMOTE_MAX_URL + 1);
	bool ok = false;

	if (n > FA_REMOTE_MAX_URL)
		return fa_err_set(err, FA_EINVAL, "proxy URL is longer than %d bytes",
				  FA_REMOTE_MAX_URL);
	for (size_t i = 0; i < ARRAY_LEN(schemes); i++) {
		size_t l = strlen(schemes[i]);

		if (strncmp(url, schemes[i], l) == 0 && url[l] && url[l] != '/')
			ok = true;
	}
	for (size_t i = 0; ok && i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
			ok = false;
	if (!ok)
		return fa_err_set(err, FA_EINVAL,
				  "proxy URL must be http://, https://, socks5:// or socks5h:// "
				  "with a host, without spaces");
	return FA_OK;
}

/* Reads the PEM certificates of path; at least one. */
static enum fa_rc load_cas(const char *path, STACK_OF(X509) **out, struct fa_err *err)
{
	char *pem = NULL;
	size_t len = 0;
	int saved = 0;
	BIO *bio = NULL;
	X509 *x;
	enum fa_rc rc;

	*out = NULL;
	rc = fa_file_read(path, FA_REMOTE_MAX_CA_FILE, &pem, &len, &saved);
	if (rc == FA_ETOOBIG)
		return fa_err_set(err, rc, "CA file %.80s is larger than %d bytes", path,
				  FA_REMOTE_MAX_CA_FILE);
	if (rc != FA_OK)
		return fa_err_set(err, rc, "cannot read CA file %.80s: %s", path,
				  saved ? strerror(saved) : fa_rc_str(rc));
	if (!(bio = BIO_new_mem_buf(pem, (int)len)) || !(*out = sk_X509_new_null())) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(*out, x)) {
			X509_free(x);
			rc = fa_err_set(err, FA_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (sk_X509_num(*out) == 0)
		rc = fa_err_set(err, FA_EINVAL, "CA file %.80s holds no PEM certificate", path);
out:
	ERR_clear_error();
	BIO_free(bio);
	free(pem);
	if (rc != FA_OK) {
		sk_X509_pop_free(*out, X509_free);
		*out = NULL;
	}
	return rc;
}

static enum fa_rc timeout_of(int64_t given, long def, const char *what, long *out,
			     struct fa_err *err)
{
	if (given < 0 || given > MAX_TIMEOUT_MS)
		return fa_err_set(err, FA_EINVAL, "%s must be between 0 and %d ms", what,
				  MAX_TIMEOUT_MS);
	*out = given ? (long)given : def;
	return FA_OK;
}

enum fa_rc fa_remote_new(const struct fa_remote_opts *opts, struct fa_remote **out,
			 struct fa_err *err)
{
	static const struct fa_remote_opts none;
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	struct fa_remote *r = NULL;
	bool inited = false;
	enum fa_rc rc;

	*out = NULL;
	if (!opts)
		opts = &none;
	/* Without it curl_global_init would need a lock of ours (or a call
	 * from main before any thread); with it libcurl counts and locks. */
	if (!v || !(v->features & CURL_VERSION_THREADSAFE))
		return fa_err_set(err, FA_EUNSUPPORTED,
				  "libcurl %s lacks thread-safe initialisation (7.84.0 or later "
				  "built with it is needed)", v ? v->version : "?");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return fa_err_set(err, FA_ENOMEM, "libcurl initialisation failed");
	inited = true;
	r = calloc(1, sizeof(*r));
	if (!r) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = timeout_of(opts->connect_timeout_ms, FA_REMOTE_CONNECT_TIMEOUT_MS,
			     "connect timeout", &r->connect_timeout_ms, err)) != FA_OK ||
	    (rc = timeout_of(opts->timeout_ms, FA_REMOTE_TIMEOUT_MS, "timeout", &r->timeout_ms,
			     err)) != FA_OK)
		goto out;
	if (opts->proxy_url && opts->proxy_url[0]) {
		if ((rc = check_proxy(opts->proxy_url, err)) != FA_OK)
			goto out;
		if (!(r->proxy_url = strdup(opts->proxy_url))) {
			rc = fa_err_set(err, FA_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (opts->system_ca_file && opts->system_ca_file[0] &&
	    !(r->system_ca_file = strdup(opts->system_ca_file))) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	r->insecure_skip_verify = opts->insecure_skip_verify;
	if (opts->ca_file && opts->ca_file[0] &&
	    (rc = load_cas(opts->ca_file, &r->extra_cas, err)) != FA_OK)
		goto out;
	*out = r;
	r = NULL;
	inited = false;
	rc = FA_OK;
out:
	if (r) {
		fa_free_secret(r->proxy_url);   /* may hold proxy credentials */
		free(r->system_ca_file);
		free(r);
	}
	if (inited)
		curl_global_cleanup();
	return rc;
}

void fa_remote_free(struct fa_remote *r)
{
	if (!r)
		return;
	fa_free_secret(r->proxy_url);
	free(r->system_ca_file);
	sk_X509_pop_free(r->extra_cas, X509_free);
	free(r);
	curl_global_cleanup();
}

/* ---- one request ---------------------------------------------------------- */

/* Per-request state the callbacks see. */
struct xfer {
	struct fa_buf body;
	bool too_big;
	int64_t max_age_s;
	const atomic_bool *cancel;
	const struct fa_remote *r;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	if (fa_buf_append(&x->body, p, n) != FA_OK) {
		x->too_big = true;
		return 0;       /* aborts the transfer */
	}
	return n;
}

/* Cache-Control of the last response (a redirect's headers come first and
 * are forgotten at the next status line). */
static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb, i;
	char line[512];

	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		x->max_age_s = -1;
		return n;
	}
	if (n < 14 || n >= sizeof(line) || strncasecmp(p, "cache-control:", 14) != 0)
		return n;
	memcpy(line, p + 14, n - 14);
	line[n - 14] = '\0';
	for (i = 0; line[i]; i++)
		line[i] = (char)((line[i] >= 'A' && line[i] <= 'Z') ? line[i] + 32 : line[i]);
	if (strstr(line, "no-store") || strstr(line, "no-cache")) {
		x->max_age_s = 0;
	} else {
		const char *m = strstr(line, "max-age=");
		uint64_t v;

		if (m && x->max_age_s != 0) {
			m += 8;
			if (fa_parse_u64(m, strspn(m, "0123456789"), INT32_MAX, &v) == FA_OK)
				x->max_age_s = (int64_t)v;
		}
	}
	return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct xfer *x = ud;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return x->cancel && atomic_load(x->cancel) ? 1 : 0;
}

/* Adds the private CAs to the store libcurl built from the system's. */
static CURLcode on_ssl_ctx(CURL *h, void *sslctx, void *ud)
{
	const struct xfer *x = ud;
	X509_STORE *st = SSL_CTX_get_cert_store(sslctx);

	(void)h;
	for (int i = 0; st && i < sk_X509_num(x->r->extra_cas); i++)
		X509_STORE_add_cert(st, sk_X509_value(x->r->extra_cas, i));
	ERR_clear_error();   /* an already-present certificate is not an error */
	return CURLE_OK;
}

static enum fa_rc add_header(struct curl_slist **h, const char *line)
{
	struct curl_slist *n = curl_slist_append(*h, line);

	if (!n)
		return FA_ENOMEM;
	*h = n;
	return FA_OK;
}

/* Zeroes header lines that held a credential before libcurl frees them. */
static void free_headers(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p; p = p->next)
		fa_memzero(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

/* RFC 6749 §2.3.1: id and secret are form-encoded, joined by ':', base64. */
static enum fa_rc basic_header(const char *id, const char *secret, struct fa_buf *line)
{
	struct fa_buf raw;
	char *b64 = NULL;
	enum fa_rc rc;

	fa_buf_init(&raw, 4 * (FA_MAX_ID + FA_MAX_PASSWORD));
	rc = fa_buf_append_pct(&raw, id, NULL);
	if (rc == FA_OK)
		rc = fa_buf_appendc(&raw, ':');
	if (rc == FA_OK)
		rc = fa_buf_append_pct(&raw, secret ? secret : "", NULL);
	if (rc == FA_OK && !(b64 = fa_b64_encode_dup(raw.data, raw.len, FA_B64_STD)))
		rc = FA_ENOMEM;
	if (rc == FA_OK)
		rc = fa_buf_appendf(line, "Authorization: Basic %s", b64);
	fa_free_secret(b64);
	fa_buf_cleanup(&raw);
	return rc;
}

static enum fa_rc build_headers(const struct fa_remote_req *rq, struct curl_slist **h)
{
	struct fa_buf line;
	enum fa_rc rc;

	fa_buf_init(&line, 2 * FA_MAX_TOKEN + 4 * (FA_MAX_ID + FA_MAX_PASSWORD));
	rc = fa_buf_appendf(&line, "Accept: %s", rq->accept ? rq->accept : "application/json");
	if (rc == FA_OK)
		rc = add_header(h, line.data);
	fa_buf_reset(&line);
	if (rc == FA_OK && rq->form) {
		rc = add_header(h, "Content-Type: application/x-www-form-urlencoded");
		/* No "Expect: 100-continue" round trip for a small form. */
		if (rc == FA_OK)
			rc = add_header(h, "Expect:");
	}
	if (rc == FA_OK && rq->basic_id) {
		rc = basic_header(rq->basic_id, rq->basic_secret, &line);
		if (rc == FA_OK)
			rc = add_header(h, line.data);
	}
	if (rc == FA_OK && rq->bearer) {
		rc = fa_buf_appendf(&line, "%s: Bearer %s",
				    rq->bearer_header ? rq->bearer_header : "Authorization",
				    rq->bearer);
		if (rc == FA_OK)
			rc = add_header(h, line.data);
	}
	fa_buf_cleanup(&line);
	return rc;
}

static enum fa_rc check_req(const struct fa_remote_req *rq, struct fa_err *err)
{
	enum fa_rc rc = fa_remote_url_check(rq->url, "request URL", err);

	if (rc != FA_OK)
		return rc;
	if (rq->max_body == 0)
		return fa_err_set(err, FA_EINVAL, "a request needs a cap on its answer");
	if (rq->form && strlen(rq->form) > FA_MAX_BODY)
		return fa_err_set(err, FA_EINVAL, "request body is larger than %d bytes",
				  FA_MAX_BODY);
	if (rq->basic_id && rq->bearer)
		return fa_err_set(err, FA_EINVAL, "a request has one Authorization, not two");
	if (rq->bearer_header && !fa_token_ok(rq->bearer_header, strlen(rq->bearer_header)))
		return fa_err_set(err, FA_EINVAL, "the bearer header name is not an HTTP token");
	if (rq->max_redirects < 0 || rq->max_redirects > FA_REMOTE_MAX_REDIRECTS)
		return fa_err_set(err, FA_EINVAL, "redirects must be 0 to %d",
				  FA_REMOTE_MAX_REDIRECTS);
	/* A redirect would carry the secret or the body to wherever the
	 * server points: never for such a request. */
	if (rq->max_redirects && (rq->form || rq->basic_id || rq->bearer))
		return fa_err_set(err, FA_EINVAL,
				  "a request with credentials or a body never follows redirects");
	return FA_OK;
}

static CURLcode setup(CURL *h, const struct fa_remote *r, const struct fa_remote_req *rq,
		      struct curl_slist *headers, struct xfer *x, char *ebuf)
{
	CURLcode cc = CURLE_OK;

#define SET(opt, val) \
	do { if (cc == CURLE_OK) cc = curl_easy_setopt(h, opt, val); } while (0)
	SET(CURLOPT_URL, rq->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, rq->max_redirects ? 1L : 0L);
	SET(CURLOPT_MAXREDIRS, (long)rq->max_redirects);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, r->timeout_ms);
	SET(CURLOPT_USERAGENT, "flyteauth/" FA_VERSION);
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_ACCEPT_ENCODING, "");
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rq->max_body);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, x);
	SET(CURLOPT_ERRORBUFFER, ebuf);
	/* libcurl's defaults, stated so that no later edit can drop them;
	 * off only for the CLI client's insecureSkipVerify. */
	SET(CURLOPT_SSL_VERIFYPEER, r->insecure_skip_verify ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, r->insecure_skip_verify ? 0L : 2L);
	if (rq->form)
		SET(CURLOPT_POSTFIELDS, rq->form);
	if (r->system_ca_file)
		SET(CURLOPT_CAINFO, r->system_ca_file);
	if (r->extra_cas) {
		SET(CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
		SET(CURLOPT_SSL_CTX_DATA, x);
	}
	if (r->proxy_url) {
		SET(CURLOPT_PROXY, r->proxy_url);
		/* The operator's proxy is for every request, as Go's
		 * http.ProxyURL: no_proxy from the environment does not
		 * apply. */
		SET(CURLOPT_NOPROXY, "");
	}
#undef SET
	return cc;
}

/* "type/subtype" in lower case, without parameters or spaces. */
static void media_type(const char *ct, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	if (!ct)
		return;
	ct += strspn(ct, " \t");
	for (; *ct && *ct != ';' && *ct != ' ' && *ct != '\t' && o + 1 < cap; ct++)
		out[o++] = (char)((*ct >= 'A' && *ct <= 'Z') ? *ct + 32 : *ct);
	out[o] = '\0';
}

/* The human part of a libcurl failure, printable only. */
static void cause_of(CURLcode cc, const char *ebuf, char *out, size_t cap)
{
	const char *s = ebuf[0] ? ebuf : curl_easy_strerror(cc);
	size_t o = 0;

	for (; *s && o + 1 < cap; s++)
		out[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

enum fa_rc fa_remote_fetch(const struct fa_remote *r, const struct fa_remote_req *rq,
			   struct fa_remote_resp *resp, struct fa_err *err)
{
	struct curl_slist *headers = NULL;
	char ebuf[CURL_ERROR_SIZE], shown[FA_REMOTE_SHOWN_URL], cause[CURL_ERROR_SIZE];
	const char *ct = NULL;
	struct xfer x;
	CURL *h = NULL;
	CURLcode cc;
	enum fa_rc rc;
	bool unverified = false;

	memset(resp, 0, sizeof(*resp));
	resp->max_age_s = -1;
	memset(&x, 0, sizeof(x));
	fa_buf_init(&x.body, rq->max_body);
	x.max_age_s = -1;
	x.cancel = rq->cancel;
	x.r = r;
	ebuf[0] = '\0';
	if ((rc = check_req(rq, err)) != FA_OK)
		goto out;
	fa_remote_url_redact(rq->url, shown, sizeof(shown));
	if (!(h = curl_easy_init()) || build_headers(rq, &headers) != FA_OK) {
		rc = fa_err_set(err, FA_ENOMEM, "%s: out of memory", shown);
		goto out;
	}
	if ((cc = setup(h, r, rq, headers, &x, ebuf)) != CURLE_OK) {
		rc = fa_err_set(err, FA_ENET, "%s: cannot set up the request: %s", shown,
				curl_easy_strerror(cc));
		goto out;
	}
	cc = curl_easy_perform(h);
	if (x.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		rc = fa_err_set(err, FA_ETOOBIG, "%s: the answer is larger than %zu bytes", shown,
				rq->max_body);
		goto out;
	}
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		rc = fa_err_set(err, FA_ENET, "%s: cancelled", shown);
		goto out;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		rc = fa_err_set(err, FA_ENET, "%s: no answer within %ld ms", shown, r->timeout_ms);
		goto out;
	}
	if (cc != CURLE_OK) {
		cause_of(cc, ebuf, cause, sizeof(cause));
		rc = fa_err_set(err, FA_ENET, "%s: %s", shown, cause);
		unverified = cc == CURLE_PEER_FAILED_VERIFICATION;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	media_type(ct, resp->content_type, sizeof(resp->content_type));
	resp->max_age_s = x.max_age_s;
	resp->body = fa_buf_take(&x.body, &resp->len);
	if (!resp->body) {
		rc = fa_err_set(err, FA_ENOMEM, "%s: out of memory", shown);
		goto out;
	}
	rc = FA_OK;
out:
	if (rc != FA_OK) {
		fa_remote_resp_cleanup(resp);
		resp->max_age_s = -1;
		resp->tls_unverified = unverified;
	}
	fa_buf_cleanup(&x.body);
	free_headers(headers);
	curl_easy_cleanup(h);
	return rc;
}

void fa_remote_resp_cleanup(struct fa_remote_resp *resp)
{
	if (!resp)
		return;
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

/* ---- JSON answers ------------------------------------------------------- */

static bool json_media_type(const char *mt)
{
	size_t n = strlen(mt);

	/* Absent: some static hosts send none; the body is still parsed
	 * strictly. */
	if (n == 0 || strcmp(mt, "application/json") == 0)
		return true;
	/* application/jwk-set+json, application/problem+json... */
	return strncmp(mt, "application/", 12) == 0 && n > 17 && strcmp(mt + n - 5, "+json") == 0;
}

enum fa_rc fa_remote_json(const struct fa_remote_resp *resp, const char *url, const char *what,
			  json_t **out, struct fa_err *err)
{
	char shown[FA_REMOTE_SHOWN_URL];
	struct fa_err jerr;
	enum fa_rc rc;

	*out = NULL;
	fa_remote_url_redact(url, shown, sizeof(shown));
	if (!json_media_type(resp->content_type))
		/* A login page, a proxy's error page, a captive portal. */
		return fa_err_set(err, FA_EINVAL, "%s: %s is %.40s, not JSON", shown, what,
				  resp->content_type);
	fa_err_clear(&jerr);
	rc = fa_json_load(resp->body ? resp->body : "", resp->len, what, out, &jerr);
	if (rc != FA_OK)
		return fa_err_set(err, rc, "%s: %s", shown, jerr.msg);
	return FA_OK;
}

enum fa_rc fa_remote_get_json(const struct fa_remote *r, const char *url, size_t max_body,
			      const char *what, const atomic_bool *cancel, json_t **out,
			      struct fa_remote_resp *keep, struct fa_err *err)
{
	struct fa_remote_req rq = { .url = url, .max_body = max_body, .cancel = cancel };
	struct fa_remote_resp resp;
	char shown[FA_REMOTE_SHOWN_URL];
	enum fa_rc rc;

	*out = NULL;
	if (keep)
		memset(keep, 0, sizeof(*keep));
	if ((rc = fa_remote_fetch(r, &rq, &resp, err)) != FA_OK)
		return rc;
	fa_remote_url_redact(url, shown, sizeof(shown));
	if (resp.status != 200) {
		rc = fa_err_set(err, FA_ENET, "%s: answered HTTP %ld%s", shown, resp.status,
				resp.status >= 300 && resp.status < 400 ?
				" (redirects are not followed)" : "");
		goto out;
	}
	if ((rc = fa_remote_json(&resp, url, what, out, err)) != FA_OK)
		goto out;
	if (keep) {
		*keep = resp;
		memset(&resp, 0, sizeof(resp));
	}
out:
	fa_remote_resp_cleanup(&resp);
	return rc;
}

enum fa_rc fa_remote_form_pairs(struct fa_buf *b, const char *const *kv)
{
	enum fa_rc rc = FA_OK;

	for (; rc == FA_OK && kv[0]; kv += 2)
		if (kv[1])
			rc = fa_remote_form_add(b, kv[0], kv[1]);
	return rc;
}

enum fa_rc fa_remote_form_add(struct fa_buf *b, const char *name, const char *value)
{
	enum fa_rc rc = FA_OK;

	if (b->len)
		rc = fa_buf_appendc(b, '&');
	if (rc == FA_OK)
		rc = fa_buf_append_pct(b, name, NULL);
	if (rc == FA_OK)
		rc = fa_buf_appendc(b, '=');
	if (rc == FA_OK)
		rc = fa_buf_append_pct(b, value, NULL);
	return rc;
}
