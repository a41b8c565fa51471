/* device.c -- the DeviceFlow (RFC 8628) for machines without a browser:
 * asks the device authorization endpoint for a code, shows the
 * verification URI and user code (and a terminal QR code of the complete
 * URI, via libqrencode), then polls the token endpoint at the server's
 * interval, adding 5 s on slow_down and stopping on expired_token,
 * access_denied, any other error, the code's expiry or
 * deviceFlowConfig.timeout. The refresh token it gets is cached like any
 * other, so a headless machine logs in once, not once per token. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <qrencode.h>

#include "client/client_int.h"

/* RFC 8628 §3.5: slow_down adds 5 seconds. */
#define SLOW_DOWN_STEP_MS 5000
/* An interval beyond this (from the server or after many slow_downs) is
 * capped: the user is waiting. */
#define MAX_INTERVAL_MS (60LL * 1000)
/* A QR code on a terminal: the quiet zone is two modules, not the
 * standard's four, to fit an 80-column terminal; scanners cope. */
#define QR_MARGIN 2
/* Longest text put in a QR code (a verification URI with its code). */
#define QR_MAX_TEXT 1024

enum cl_poll cl_device_poll_step(const char *oauth_error, int64_t *interval_ms)
{
	if (oauth_error && !strcmp(oauth_error, "authorization_pending"))
		return CL_POLL_WAIT;
	if (oauth_error && !strcmp(oauth_error, "slow_down")) {
		*interval_ms += SLOW_DOWN_STEP_MS;
		if (*interval_ms > MAX_INTERVAL_MS)
			*interval_ms = MAX_INTERVAL_MS;
		return CL_POLL_SLOW_DOWN;
	}
	return CL_POLL_STOP;
}

static bool dark(const QRcode *q, int x, int y)
{
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return false;
	return q->data[(size_t)y * (size_t)q->width + (size_t)x] & 1;
}

enum fa_rc cl_qr_render(const char *text, struct fa_buf *out, struct fa_err *err)
{
	/* Index: top light?, bottom light? -> full, upper half, lower half,
	 * blank (light modules are drawn: a dark terminal shows them white). */
	static const char *const cell[4] = { " ", "\xe2\x96\x84", "\xe2\x96\x80", "\xe2\x96\x88" };
	QRcode *q;
	enum fa_rc rc = FA_OK;
	int lo, hi;

	if (strlen(text) > QR_MAX_TEXT)
		return fa_err_set(err, FA_ETOOBIG, "text too long for a QR code");
	q = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	if (!q)
		return fa_err_set(err, errno == ENOMEM ? FA_ENOMEM : FA_EINVAL,
				  "cannot make a QR code");
	lo = -QR_MARGIN;
	hi = q->width + QR_MARGIN;
	for (int y = lo; y < hi && rc == FA_OK; y += 2) {
		for (int x = lo; x < hi && rc == FA_OK; x++) {
			int top_light = !dark(q, x, y);
			int bottom_light = y + 1 < hi ? !dark(q, x, y + 1) : 0;
			rc = fa_buf_appends(out, cell[top_light * 2 + bottom_light]);
		}
		if (rc == FA_OK)
			rc = fa_buf_appendc(out, '\n');
	}
	QRcode_free(q);
	if (rc != FA_OK)
		return fa_err_set(err, rc, "the QR code does not fit");
	return FA_OK;
}

struct device_answer {
	char *device_code;
	char *user_code;
	char *verification_uri;
	char *verification_uri_complete;
	int64_t expires_in_s;
	int64_t interval_ms;
};

static void answer_cleanup(struct device_answer *a)
{
	fa_free_secret(a->device_code);
	free(a->user_code);
	free(a->verification_uri);
	free(a->verification_uri_complete);
	memset(a, 0, sizeof(*a));
}

static enum fa_rc str_member(const json_t *j, const char *name, size_t max, bool required,
			     char **out, struct fa_err *err)
{
	const json_t *v = json_object_get(j, name);
	const char *s = json_string_value(v);

	if (!v && !required)
		return cl_strset(out, "") == FA_OK ? FA_OK : fa_err_set(err, FA_ENOMEM, "out of memory");
	if (!s || !*s || json_string_length(v) > max || strlen(s) != json_string_length(v))
		return fa_err_set(err, FA_ENET, "device authorization: bad or missing \"%s\"", name);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return fa_err_set(err, FA_ENET, "device authorization: bad \"%s\"", name);
	return cl_strset(out, s) == FA_OK ? FA_OK : fa_err_set(err, FA_ENOMEM, "out of memory");
}

static enum fa_rc parse_answer(const struct fa_client *c, const json_t *j,
			       struct device_answer *a, struct fa_err *err)
{
	const json_t *ei = json_object_get(j, "expires_in");
	const json_t *iv = json_object_get(j, "interval");
	enum fa_rc rc;

	rc = str_member(j, "device_code", CL_MAX_CODE, true, &a->device_code, err);
	if (rc == FA_OK)
		rc = str_member(j, "user_code", 64, true, &a->user_code, err);
	/* Google (pre-RFC) says verification_url. */
	if (rc == FA_OK)
		rc = str_member(j, json_object_get(j, "verification_uri") ? "verification_uri" :
				"verification_url", FA_MAX_REDIRECT_URI, true, &a->verification_uri, err);
	if (rc == FA_OK)
		rc = str_member(j, "verification_uri_complete", FA_MAX_REDIRECT_URI, false,
				&a->verification_uri_complete, err);
	if (rc != FA_OK)
		return rc;
	if (!json_is_integer(ei) || json_integer_value(ei) <= 0 || json_integer_value(ei) > 86400)
		return fa_err_set(err, FA_ENET, "device authorization: bad \"expires_in\"");
	a->expires_in_s = (int64_t)json_integer_value(ei);
	a->interval_ms = c->cfg->device_poll_interval_ms;
	if (iv && (!json_is_integer(iv) || json_integer_value(iv) < 0))
		return fa_err_set(err, FA_ENET, "device authorization: bad \"interval\"");
	if (iv && json_integer_value(iv) > 0)
		a->interval_ms = (int64_t)json_integer_value(iv) * 1000;
	if (a->interval_ms > MAX_INTERVAL_MS)
		a->interval_ms = MAX_INTERVAL_MS;
	return FA_OK;
}

static enum fa_rc request_code(struct fa_client *c, const char *client_id,
			       struct device_answer *a, struct fa_err *err)
{
	struct fa_remote_req rq = { .url = c->md.device_endpoint,
				    .max_body = FA_CLIENT_MAX_RESPONSE };
	struct fa_remote_resp resp;
	struct fa_buf form;
	json_t *j = NULL;
	enum fa_rc rc;

	fa_buf_init(&form, FA_MAX_BODY);
	rc = fa_remote_form_add(&form, "client_id", client_id);
	if (rc == FA_OK)
		rc = cl_form_scope_audience(c, &form);
	if (rc != FA_OK) {
		rc = fa_err_set(err, rc, "the device request is too large");
		goto out;
	}
	rq.form = form.data;
	rc = cl_http(c, &rq, &resp, err);
	if (rc != FA_OK)
		goto out;
	if (resp.status == 200)
		rc = cl_resp_json(&resp, "device authorization", &j, err);
	else
		rc = fa_err_set(err, resp.status >= 400 && resp.status < 500 ? FA_EDENIED : FA_ENET,
				"the device authorization endpoint answered HTTP %ld", resp.status);
	if (rc == FA_OK)
		rc = parse_answer(c, j, a, err);
	fa_remote_resp_cleanup(&resp);
out:
	json_decref(j);
	fa_buf_cleanup(&form);
	return rc;
}

static void show(struct fa_client *c, const struct device_answer *a)
{
	const char *complete = *a->verification_uri_complete ? a->verification_uri_complete : NULL;
	struct fa_buf qr;
	struct fa_err e;
	char uri[FA_MAX_REDIRECT_URI + 1], code[65];

	cl_sanitize(a->verification_uri, uri, sizeof(uri));
	cl_sanitize(a->user_code, code, sizeof(code));
	fprintf(c->prompt, "To log in to %s, open %s on any device and enter the code %s\n",
		c->s.base_url, uri, code);
	if (complete) {
		cl_sanitize(complete, uri, sizeof(uri));
		fprintf(c->prompt, "or open %s\n", uri);
	}
	fa_buf_init(&qr, 64 * 1024);
	if (c->prompt_qr && cl_qr_render(complete ? complete : a->verification_uri, &qr, &e) == FA_OK)
		fprintf(c->prompt, "%s", qr.data);
	fa_buf_cleanup(&qr);
	fflush(c->prompt);
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static enum fa_rc poll_token(struct fa_client *c, const char *client_id, const char *token_url,
			     struct device_answer *a, struct cl_token *t, struct fa_err *err)
{
	int64_t deadline = fa_mono_ms() + (c->cfg->device_timeout_ms < a->expires_in_s * 1000 ?
					   c->cfg->device_timeout_ms : a->expires_in_s * 1000);
	struct fa_buf form;
	enum fa_rc rc;

	fa_buf_init(&form, FA_MAX_BODY);
	rc = fa_remote_form_pairs(&form, (const char *const[]){
		"grant_type", "urn:ietf:params:oauth:grant-type:device_code",
		"device_code", a->device_code, "client_id", client_id, NULL });
	if (rc != FA_OK) {
		rc = fa_err_set(err, rc, "the device token request is too large");
		goto out;
	}
	for (;;) {
		struct fa_err e;
		enum cl_poll step;

		if (fa_mono_ms() + a->interval_ms > deadline) {
			rc = fa_err_set(err, FA_EEXPIRED, "the device code was not approved in time");
			goto out;
		}
		sleep_ms(a->interval_ms);
		fa_err_clear(&e);
		rc = cl_token_request(c, token_url, form.data, NULL, NULL, t, &e);
		if (rc == FA_OK)
			goto out;
		if (rc != FA_EDENIED) {
			if (err)
				*err = e;
			goto out;
		}
		step = cl_device_poll_step(e.oauth_error, &a->interval_ms);
		if (step == CL_POLL_STOP) {
			if (e.oauth_error && !strcmp(e.oauth_error, "expired_token")) /* not secret: an error code */
				e.rc = rc = FA_EEXPIRED;
			if (err)
				*err = e;
			goto out;
		}
	}
out:
	fa_buf_cleanup(&form);
	return rc;
}

enum fa_rc cl_flow_device(struct fa_client *c, struct cl_token *t, struct fa_err *err)
{
	struct device_answer a;
	const char *client_id, *token_url;
	enum fa_rc rc;

	memset(&a, 0, sizeof(a));
	rc = cl_discover_metadata(c, err);
	if (rc == FA_OK)
		rc = cl_discover_public(c, err);
	if (rc != FA_OK)
		goto out;
	if (!*c->md.device_endpoint) {
		rc = fa_err_set(err, FA_EUNSUPPORTED, "%s does not offer the device flow (no "
				"device_authorization_endpoint in its metadata)", c->s.base_url);
		goto out;
	}
	client_id = cl_effective_client_id(c, "flytectl");
	token_url = *c->cfg->token_url ? c->cfg->token_url : c->md.token_endpoint;
	rc = request_code(c, client_id, &a, err);
	if (rc != FA_OK)
		goto out;
	show(c, &a);
	rc = poll_token(c, client_id, token_url, &a, t, err);
	if (rc == FA_OK && cl_token_bind(c, client_id, token_url, t) != FA_OK)
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
out:
	answer_cleanup(&a);
	return rc;
}
