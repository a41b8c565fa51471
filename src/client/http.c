/* http.c -- the client's HTTP: every request goes through the fa_remote
 * made from the config (caCertFilePath, insecureSkipVerify, httpProxyURL)
 * with the client's timeouts; its failures read "cannot reach URL: why".
 * Also the sanitizer for text a server sends back, and the one warning
 * line every flow writes (cl_warn). It knows nothing about OAuth. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"

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

enum fa_rc cl_http(const struct fa_client *c, const struct fa_remote_req *rq,
		   struct fa_remote_resp *resp, struct fa_err *err)
{
	struct fa_err e;
	enum fa_rc rc;

	fa_err_clear(&e);
	rc = fa_remote_fetch(c->net, rq, resp, &e);
	if (rc == FA_OK)
		return FA_OK;
	/* The message already names the URL (without its query). */
	if (rc == FA_ENET && resp->tls_unverified) {
		char shown[100];

		/* curl's own words add nothing to this, and would not fit. */
		fa_remote_url_redact(rq->url, shown, sizeof(shown));
		return fa_err_set(err, FA_ECRYPTO, "%s: the server's TLS certificate is not "
				  "signed by a CA this machine trusts", shown);
	}
	if (rc == FA_ENET)
		return fa_err_set(err, FA_ENET, "cannot reach %s", e.msg);
	return fa_err_set(err, rc == FA_ETOOBIG ? FA_ENET : rc, "%s", e.msg);
}

enum fa_rc cl_resp_json(const struct fa_remote_resp *resp, const char *what, json_t **out,
			struct fa_err *err)
{
	struct fa_err e;

	*out = NULL;
	if (!resp->len)
		return fa_err_set(err, FA_ENET, "%s: empty answer (HTTP %ld)", what, resp->status);
	/* A server's answer is network input: base's loader bounds its
	 * nesting like every other JSON we read. */
	fa_err_clear(&e);
	if (fa_json_load(resp->body, resp->len, "the answer", out, &e) != FA_OK)
		return fa_err_set(err, e.rc == FA_ENOMEM ? FA_ENOMEM : FA_ENET, "%s: %s (HTTP %ld)",
				  what, e.msg, resp->status);
	return FA_OK;
}
