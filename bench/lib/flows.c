/* flows.c -- the load driver for the two browser-shaped scenarios of
 * bench/run that wrk cannot drive: full authorization code + PKCE logins and
 * device-flow completions against flyteauth. WORKERS threads run the flow
 * back to back for SECONDS; only flows that end with an access token count.
 * It is written in C on libcurl so that the driver takes as little as
 * possible of the two cores it shares with the server (a Node driver cost
 * about 3.7 ms of CPU per login, more than half of what the server spends).
 *
 * login: each flow is a fresh browser (cookies cleared) with the public
 *   client: GET /oauth2/authorize (S256 challenge) -> GET /login (form with
 *   csrf_token) -> POST /login (local user; bcrypt on the server) -> GET
 *   /oauth2/authorize_callback -> redirect_uri?code=&state= -> POST
 *   /oauth2/token (code + verifier). The state is checked.
 * device: each worker logs in once (one browser session), then per flow:
 *   POST /oauth2/device/authorize -> GET /device (csrf_token) -> POST /device
 *   (user_code, action=approve) -> POST /oauth2/token (device_code grant).
 *
 * Each worker keeps its connection alive, as a browser does. Latency is per
 * completed flow. Prints one line, the shape wrk/request.lua prints:
 *   BENCH_RESULT {"requests":<flows>,"duration_us":..,"p50_us":..,
 *                 "p99_us":..,"errors":{..,"status":<failed flows>},..}
 * and the first failure's reason on stderr.
 *
 * Usage: flows login|device URL[,URL...] SECONDS WORKERS
 * With several URLs (the instances of one system) worker i uses URL i mod
 * n for all its flows, as a load balancer spreading connections would.
 * Env: BENCH_USER, BENCH_PASSWORD, BENCH_PUBLIC_CLIENT, BENCH_REDIRECT_URI.
 * Build: cc -O2 flows.c -o flows -lcurl -lcrypto -lpthread (bench/run does).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define MAX_BODY (256 * 1024)
#define MAX_FORM 8192

#define MAX_BASES 16

struct settings {
	const char *mode, *user, *password, *client, *redirect;
	char *bases[MAX_BASES];
	int n_bases;
	double seconds;
	struct timespec end;
};

struct worker {
	const struct settings *s;
	const char *base;    /* the instance this worker talks to */
	pthread_t thread;
	CURL *h;
	char *body;          /* last response body, NUL-terminated */
	size_t body_len;
	long status;
	char location[4096]; /* last absolute redirect target */
	double *lat_us;      /* latencies of completed flows */
	size_t n_lat, cap_lat;
	long failed, http_requests;
	char error[512];     /* first failure */
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct worker *w = arg;
	size_t len = size * n;

	if (w->body_len + len > MAX_BODY)
		return 0; /* makes curl fail: no page of these flows is this big */
	memcpy(w->body + w->body_len, p, len);
	w->body_len += len;
	w->body[w->body_len] = '\0';
	return len;
}

/* Records the first failure of this worker; always returns false. */
static bool fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->error[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(w->error, sizeof(w->error), fmt, ap);
		va_end(ap);
	}
	return false;
}

/* One exchange: GET when form is NULL, else POST of the form. The URL is a
 * path on the server or an absolute URL. Fills status, body and location. */
static bool http(struct worker *w, const char *url, const char *form)
{
	char full[8192];
	char *loc = NULL;
	CURLcode rc;

	if (url[0] == '/')
		snprintf(full, sizeof(full), "%s%s", w->base, url);
	else
		snprintf(full, sizeof(full), "%s", url);
	w->body_len = 0;
	w->body[0] = '\0';
	w->location[0] = '\0';
	curl_easy_setopt(w->h, CURLOPT_URL, full);
	if (form) {
		curl_easy_setopt(w->h, CURLOPT_POSTFIELDS, form);
	} else {
		curl_easy_setopt(w->h, CURLOPT_HTTPGET, 1L);
	}
	w->http_requests++;
	rc = curl_easy_perform(w->h);
	if (rc != CURLE_OK)
		return fail(w, "%s: %s", url, curl_easy_strerror(rc));
	curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->status);
	if (curl_easy_getinfo(w->h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
		snprintf(w->location, sizeof(w->location), "%s", loc);
	return true;
}

static bool expect(struct worker *w, const char *what, long a, long b)
{
	if (w->status == a || w->status == b)
		return true;
	return fail(w, "%s: HTTP %ld %.160s", what, w->status, w->body);
}

static void b64url(const unsigned char *in, size_t n, char *out)
{
	int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);

	for (int i = 0; i < len; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
}

static void random_b64url(size_t n, char *out)
{
	unsigned char raw[64];

	RAND_bytes(raw, (int)n);
	b64url(raw, n, out);
}

/* Appends name=value (value URL-encoded) to a form. */
static bool form_add(struct worker *w, char *form, const char *name, const char *value)
{
	char *esc = curl_easy_escape(w->h, value, 0);
	size_t used = strlen(form);
	int n = snprintf(form + used, MAX_FORM - used, "%s%s=%s", used ? "&" : "", name,
			 esc ? esc : "");

	curl_free(esc);
	if (n < 0 || (size_t)n >= MAX_FORM - used)
		return fail(w, "form too long");
	return true;
}

/* Copies an HTML attribute value, undoing the entities a server escapes. */
static void html_unescape(const char *p, size_t n, char *out, size_t cap)
{
	static const struct { const char *ent; char c; } ents[] = {
		{ "&amp;", '&' }, { "&quot;", '"' }, { "&#39;", '\'' }, { "&lt;", '<' }, { "&gt;", '>' },
	};
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		char c = p[i];

		for (size_t k = 0; c == '&' && k < sizeof(ents) / sizeof(ents[0]); k++) {
			size_t l = strlen(ents[k].ent);

			if (i + l <= n && strncmp(p + i, ents[k].ent, l) == 0) {
				c = ents[k].c;
				i += l - 1;
				break;
			}
		}
		out[o++] = c;
	}
	out[o] = '\0';
}

/* Adds every <input type="hidden" name=".." value=".."> of the last page to
 * form (the csrf_token and whatever else the server round-trips). */
static bool form_hidden(struct worker *w, char *form, bool *has_csrf)
{
	const char *p = w->body;
	char name[256], value[4096];

	*has_csrf = false;
	while ((p = strstr(p, "<input")) != NULL) {
		const char *end = strchr(p, '>');
		const char *n, *v, *q;

		if (!end)
			break;
		if (!memmem(p, (size_t)(end - p), "type=\"hidden\"", 13)) {
			p = end;
			continue;
		}
		n = memmem(p, (size_t)(end - p), "name=\"", 6);
		v = memmem(p, (size_t)(end - p), "value=\"", 7);
		if (n) {
			n += 6;
			q = memchr(n, '"', (size_t)(end - n));
			html_unescape(n, q ? (size_t)(q - n) : 0, name, sizeof(name));
			value[0] = '\0';
			if (v) {
				v += 7;
				q = memchr(v, '"', (size_t)(end - v));
				html_unescape(v, q ? (size_t)(q - v) : 0, value, sizeof(value));
			}
			if (strcmp(name, "csrf_token") == 0)
				*has_csrf = true;
			if (!form_add(w, form, name, value))
				return false;
		}
		p = end;
	}
	return true;
}

/* The value of query parameter `name` in url, decoded; false if absent. */
static bool query_param(struct worker *w, const char *url, const char *name, char *out, size_t cap)
{
	const char *q = strchr(url, '?');
	size_t nl = strlen(name);

	while (q) {
		const char *start = q + 1, *amp = strchr(start, '&');
		size_t len = amp ? (size_t)(amp - start) : strlen(start);

		if (len > nl && strncmp(start, name, nl) == 0 && start[nl] == '=') {
			int dl = 0;
			char *dec = curl_easy_unescape(w->h, start + nl + 1, (int)(len - nl - 1), &dl);

			if (!dec || (size_t)dl >= cap) {
				curl_free(dec);
				return false;
			}
			memcpy(out, dec, (size_t)dl);
			out[dl] = '\0';
			curl_free(dec);
			return true;
		}
		q = amp;
	}
	return false;
}

/* GET the login page at `path`, then POST the form with the user's
 * credentials. Leaves the redirect after login in w->location. */
static bool submit_login(struct worker *w, const char *path)
{
	char form[MAX_FORM] = "";
	bool has_csrf;

	if (!http(w, path, NULL) || !expect(w, "GET /login", 200, 200))
		return false;
	if (!form_hidden(w, form, &has_csrf))
		return false;
	if (!has_csrf)
		return fail(w, "GET /login: no csrf_token in the form");
	if (!form_add(w, form, "username", w->s->user) ||
	    !form_add(w, form, "password", w->s->password))
		return false;
	return http(w, "/login", form) && expect(w, "POST /login", 302, 303);
}

static bool login_flow(struct worker *w)
{
	char verifier[64], challenge[64], state[32], url[4096], form[MAX_FORM] = "";
	char code[1024], got_state[64], *redirect_esc;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	size_t rl = strlen(w->s->redirect);

	curl_easy_setopt(w->h, CURLOPT_COOKIELIST, "ALL"); /* a fresh browser */
	random_b64url(32, verifier);
	SHA256((const unsigned char *)verifier, strlen(verifier), digest);
	b64url(digest, sizeof(digest), challenge);
	random_b64url(16, state);
	redirect_esc = curl_easy_escape(w->h, w->s->redirect, 0);
	snprintf(url, sizeof(url),
		 "/oauth2/authorize?response_type=code&client_id=%s&redirect_uri=%s"
		 "&scope=all%%20offline&state=%s&code_challenge=%s&code_challenge_method=S256",
		 w->s->client, redirect_esc, state, challenge);
	curl_free(redirect_esc);

	if (!http(w, url, NULL) || !expect(w, "authorize", 302, 303))
		return false;
	snprintf(url, sizeof(url), "%s", w->location);
	if (!submit_login(w, url))
		return false;
	snprintf(url, sizeof(url), "%s", w->location);
	if (!http(w, url, NULL) || !expect(w, "authorize_callback", 302, 303))
		return false;
	if (strncmp(w->location, w->s->redirect, rl) != 0 || w->location[rl] != '?')
		return fail(w, "callback went to %.200s", w->location);
	if (!query_param(w, w->location, "state", got_state, sizeof(got_state)) ||
	    strcmp(got_state, state) != 0)
		return fail(w, "callback: state missing or different");
	if (!query_param(w, w->location, "code", code, sizeof(code)))
		return fail(w, "callback without code: %.200s", w->location);

	if (!form_add(w, form, "grant_type", "authorization_code") ||
	    !form_add(w, form, "code", code) || !form_add(w, form, "redirect_uri", w->s->redirect) ||
	    !form_add(w, form, "client_id", w->s->client) ||
	    !form_add(w, form, "code_verifier", verifier))
		return false;
	if (!http(w, "/oauth2/token", form) || !expect(w, "token (code)", 200, 200))
		return false;
	return strstr(w->body, "\"access_token\"") ? true : fail(w, "token (code): no access_token");
}

/* The string value of "key" in a flat JSON object (the device answer). */
static bool json_string(const char *json, const char *key, char *out, size_t cap)
{
	char pat[64];
	const char *p, *q;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	if (!(p = strstr(json, pat)) || !(p = strchr(p + strlen(pat), '"')))
		return false;
	p++;
	if (!(q = strchr(p, '"')) || (size_t)(q - p) >= cap)
		return false;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
	return true;
}

static bool device_flow(struct worker *w)
{
	char form[MAX_FORM] = "", device_code[512], user_code[64];
	bool has_csrf;

	if (!form_add(w, form, "client_id", w->s->client) || !form_add(w, form, "scope", "all offline"))
		return false;
	if (!http(w, "/oauth2/device/authorize", form) || !expect(w, "device/authorize", 200, 200))
		return false;
	if (!json_string(w->body, "device_code", device_code, sizeof(device_code)) ||
	    !json_string(w->body, "user_code", user_code, sizeof(user_code)))
		return fail(w, "device/authorize: no device_code/user_code");
	if (!http(w, "/device", NULL) || !expect(w, "GET /device", 200, 200))
		return false;
	form[0] = '\0';
	if (!form_hidden(w, form, &has_csrf))
		return false;
	if (!has_csrf)
		return fail(w, "GET /device: no csrf_token in the form");
	if (!form_add(w, form, "user_code", user_code) || !form_add(w, form, "action", "approve"))
		return false;
	if (!http(w, "/device", form) || (w->status != 200 && !expect(w, "POST /device", 302, 303)))
		return false;
	form[0] = '\0';
	if (!form_add(w, form, "grant_type", "urn:ietf:params:oauth:grant-type:device_code") ||
	    !form_add(w, form, "device_code", device_code) ||
	    !form_add(w, form, "client_id", w->s->client))
		return false;
	if (!http(w, "/oauth2/token", form) || !expect(w, "token (device_code)", 200, 200))
		return false;
	return strstr(w->body, "\"access_token\"") ? true
						   : fail(w, "token (device_code): no access_token");
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	double end = (double)w->s->end.tv_sec + (double)w->s->end.tv_nsec / 1e9;
	bool device = strcmp(w->s->mode, "device") == 0;

	if (device && !submit_login(w, "/login?redirect_url=%2Fdevice")) {
		w->failed++;
		return NULL;
	}
	while (now_s() < end) {
		double t = now_s();
		bool ok = device ? device_flow(w) : login_flow(w);

		if (!ok) {
			w->failed++;
			continue;
		}
		if (w->n_lat == w->cap_lat) {
			w->cap_lat = w->cap_lat ? 2 * w->cap_lat : 1024;
			w->lat_us = realloc(w->lat_us, w->cap_lat * sizeof(double));
			if (!w->lat_us) {
				fail(w, "out of memory");
				break;
			}
		}
		w->lat_us[w->n_lat++] = (now_s() - t) * 1e6;
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	struct settings s = { 0 };
	struct worker *ws;
	double t0, *all;
	size_t n = 0, k = 0;
	long failed = 0, reqs = 0;
	int nw;
	const char *first_error = NULL;

	if (argc != 5 || (strcmp(argv[1], "login") != 0 && strcmp(argv[1], "device") != 0)) {
		fprintf(stderr, "usage: flows login|device URL[,URL...] SECONDS WORKERS\n");
		return 2;
	}
	s.mode = argv[1];
	for (char *save = NULL, *b = strtok_r(argv[2], ",", &save); b && s.n_bases < MAX_BASES;
	     b = strtok_r(NULL, ",", &save))
		s.bases[s.n_bases++] = b;
	s.seconds = strtod(argv[3], NULL);
	nw = (int)strtod(argv[4], NULL);
	s.user = getenv("BENCH_USER");
	s.password = getenv("BENCH_PASSWORD");
	s.client = getenv("BENCH_PUBLIC_CLIENT");
	s.redirect = getenv("BENCH_REDIRECT_URI");
	if (s.seconds <= 0 || nw <= 0 || nw > 256 || !s.user || !s.password || !s.client ||
	    !s.redirect || s.n_bases == 0) {
		fprintf(stderr, "flows: bad arguments or BENCH_* environment missing\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ws = calloc((size_t)nw, sizeof(*ws));
	if (!ws)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &s.end);
	s.end.tv_sec += (time_t)s.seconds;
	s.end.tv_nsec += (long)((s.seconds - (double)(time_t)s.seconds) * 1e9);
	if (s.end.tv_nsec >= 1000000000L) {
		s.end.tv_sec++;
		s.end.tv_nsec -= 1000000000L;
	}
	t0 = now_s();
	for (int i = 0; i < nw; i++) {
		struct worker *w = &ws[i];

		w->s = &s;
		w->base = s.bases[i % s.n_bases];
		w->body = malloc(MAX_BODY + 1);
		w->h = curl_easy_init();
		if (!w->body || !w->h)
			return 1;
		curl_easy_setopt(w->h, CURLOPT_COOKIEFILE, ""); /* cookie engine on */
		curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(w->h, CURLOPT_WRITEDATA, w);
		curl_easy_setopt(w->h, CURLOPT_TIMEOUT, 10L);
		curl_easy_setopt(w->h, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(w->h, CURLOPT_NOSIGNAL, 1L);
		pthread_create(&w->thread, NULL, run_worker, w);
	}
	for (int i = 0; i < nw; i++) {
		pthread_join(ws[i].thread, NULL);
		n += ws[i].n_lat;
		failed += ws[i].failed;
		reqs += ws[i].http_requests;
		if (!first_error && ws[i].error[0])
			first_error = ws[i].error;
	}
	double duration = now_s() - t0;

	all = malloc((n ? n : 1) * sizeof(double));
	if (!all)
		return 1;
	for (int i = 0; i < nw; i++) {
		memcpy(all + k, ws[i].lat_us, ws[i].n_lat * sizeof(double));
		k += ws[i].n_lat;
	}
	qsort(all, n, sizeof(double), cmp_double);
	if (first_error)
		fprintf(stderr, "flows %s: %ld failed flow(s), first: %s\n", s.mode, failed, first_error);
	printf("BENCH_RESULT {\"requests\":%zu,\"duration_us\":%.0f,\"p50_us\":%.0f,\"p99_us\":%.0f,"
	       "\"errors\":{\"connect\":0,\"read\":0,\"write\":0,\"status\":%ld,\"timeout\":0},"
	       "\"http_requests\":%ld}\n",
	       n, duration * 1e6, n ? all[n * 50 / 100] : 0.0, n ? all[n * 99 / 100] : 0.0, failed,
	       reqs);
	for (int i = 0; i < nw; i++) {
		curl_easy_cleanup(ws[i].h);
		free(ws[i].body);
		free(ws[i].lat_us);
	}
	free(all);
	free(ws);
	curl_global_cleanup();
	return 0;
}
