/* http.c -- the client's HTTP: one libcurl easy request at a time with the
 * settings of the config (caCertFilePath, insecureSkipVerify, httpProxyURL),
 * fixed timeouts, http/https only, no redirects followed (a token or secret
 * is never carried to a place the server points at), and a bounded body.
 * Also the small form and URL encoders, the sanitizer for text a server
 * sends back, and the one warning line every flow writes (cl_warn). It
 * knows nothing about OAuth. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "client/client_int.h"

struct sink {
	struct fa_buf *b;
	bool too_big;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;

	if (fa_buf_append(s->b, p, n) != FA_OK) {
		s->too_big = true;
		return 0;       /* aborts the transfer */
	}
	return n;
}

enum fa_rc cl_form_add(struct fa_buf *b, const char *name, const char *value)
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

void cl_warn(const struct fa_client *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!c->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fa_log(c->log, FA_LOG_WARN, "%s", line);
}

void cl_sanitize(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	if (!cap)
		return;
	for (; in && *in && o + 1 < cap; in++) {
		unsigned char ch = (unsigned char)*in;
		out[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	out[o] = '\0';
}

/* "Authorization: Basic base64(urlenc(id):urlenc(secret))" (RFC 6749
 * §2.3.1: both parts form-encoded first). Caller zeroes and frees *out. */
static enum fa_rc basic_header(const char *id, const char *secret, struct fa_buf *out)
{
	struct fa_buf raw;
	char *b64 = NULL;
	enum fa_rc rc;

	fa_buf_init(&raw, 4 * (FA_MAX_ID + FA_MAX_PASSWORD));
	rc = fa_buf_append_pct(&raw, id, NULL);
	if (rc == FA_OK)
		rc = fa_buf_appendc(&raw, ':');
	if (rc == FA_OK)
		rc = fa_buf_append_pct(&raw, secret, NULL);
	if (rc == FA_OK) {
		b64 = fa_b64_encode_dup(raw.data, raw.len, FA_B64_STD);
		if (!b64)
			rc = FA_ENOMEM;
	}
	if (rc == FA_OK)
		rc = fa_buf_appendf(out, "Authorization: Basic %s", b64);
	if (b64)
		fa_free_secret(b64);
	fa_buf_cleanup(&raw);
	return rc;
}

static enum fa_rc add_header(struct curl_slist **h, const char *line)
{
	struct curl_slist *n = curl_slist_append(*h, line);

	if (!n)
		return FA_ENOMEM;
	*h = n;
	return FA_OK;
}

/* Zeroes header lines that held a secret before libcurl frees them. */
static void free_headers(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p; p = p->next)
		fa_memzero(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

static enum fa_rc build_headers(const struct cl_req *rq, struct curl_slist **h)
{
	struct fa_buf line;
	enum fa_rc rc;

	fa_buf_init(&line, FA_MAX_TOKEN + 2 * FA_MAX_HEADER);
	rc = add_header(h, "Accept: application/json");
	if (rc == FA_OK && rq->form)
		rc = add_header(h, "Content-Type: application/x-www-form-urlencoded");
	if (rc == FA_OK && rq->basic_id) {
		rc = basic_header(rq->basic_id, rq->basic_secret ? rq->basic_secret : "", &line);
		if (rc == FA_OK)
			rc = add_header(h, line.data);
		fa_buf_cleanup(&line);
	}
	if (rc == FA_OK && rq->bearer_token) {
		rc = fa_buf_appendf(&line, "%s: Bearer %s", rq->bearer_header, rq->bearer_token);
		if (rc == FA_OK)
			rc = add_header(h, line.data);
		fa_buf_cleanup(&line);
	}
	/* No "Expect: 100-continue" round trip for small forms. */
	if (rc == FA_OK && rq->form)
		rc = add_header(h, "Expect:");
	return rc;
}

enum fa_rc cl_http(const struct fa_client *c, const struct cl_req *rq, struct cl_resp *resp,
		   struct fa_err *err)
{
	const struct fa_client_config *cfg = c->cfg;
	struct curl_slist *headers = NULL;
	char ebuf[CURL_ERROR_SIZE], what[200];
	struct sink sink;
	CURL *h = NULL;
	CURLcode cc;
	enum fa_rc rc = FA_OK;

	resp->status = 0;
	fa_buf_init(&resp->body, rq->max);
	sink.b = &resp->body;
	sink.too_big = false;
	ebuf[0] = '\0';
	cl_sanitize(rq->url, what, sizeof(what));
	h = curl_easy_init();
	if (!h) {
		rc = fa_err_set(err, FA_ENOMEM, "cannot start an HTTP request");
		goto out;
	}
	if (build_headers(rq, &headers) != FA_OK) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	cc = curl_easy_setopt(h, CURLOPT_URL, rq->url);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)FA_CLIENT_HTTP_TIMEOUT_S);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)FA_CLIENT_CONNECT_TIMEOUT_S);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_USERAGENT, "flyteauth/" FA_VERSION);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	if (cc == CURLE_OK && rq->form)
		cc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->form);
	if (cc == CURLE_OK && *cfg->ca_cert_file_path)
		cc = curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_cert_file_path);
	if (cc == CURLE_OK && cfg->insecure_skip_verify) {
		cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		if (cc == CURLE_OK)
			cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (cc == CURLE_OK && *cfg->http_proxy_url)
		cc = curl_easy_setopt(h, CURLOPT_PROXY, cfg->http_proxy_url);
	if (cc != CURLE_OK) {
		rc = fa_err_set(err, FA_ENET, "cannot set up the request to %s: %s", what,
				curl_easy_strerror(cc));
		goto out;
	}
	cc = curl_easy_perform(h);
	if (sink.too_big) {
		rc = fa_err_set(err, FA_ENET, "%s: the answer is larger than %zu bytes", what, rq->max);
		goto out;
	}
	if (cc != CURLE_OK) {
		rc = fa_err_set(err, FA_ENET, "cannot reach %s: %s", what,
				*ebuf ? ebuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
out:
	if (h)
		curl_easy_cleanup(h);
	free_headers(headers);
	if (rc != FA_OK)
		fa_buf_cleanup(&resp->body);
	return rc;
}

void cl_resp_cleanup(struct cl_resp *resp)
{
	fa_buf_cleanup(&resp->body);
}

enum fa_rc cl_resp_json(const struct cl_resp *resp, const char *what, json_t **out,
			struct fa_err *err)
{
	struct fa_err e;

	*out = NULL;
	if (!resp->body.len)
		return fa_err_set(err, FA_ENET, "%s: empty answer (HTTP %ld)", what, resp->status);
	/* A server's answer is network input: base's loader bounds its
	 * nesting like every other JSON we read. */
	fa_err_clear(&e);
	if (fa_json_load(resp->body.data, resp->body.len, "the answer", out, &e) != FA_OK)
		return fa_err_set(err, e.rc == FA_ENOMEM ? FA_ENOMEM : FA_ENET, "%s: %s (HTTP %ld)",
				  what, e.msg, resp->status);
	return FA_OK;
}
