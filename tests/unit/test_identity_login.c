/* test_identity_login.c -- identity's HTTP flows through the real
 * dispatcher (in process, no socket; see identity_gate_harness.h) against a
 * real SQLite store: the login form and its round trip with cookies, cookie
 * flags, CSRF refusals, identical answers for a wrong password and an
 * unknown user, the throttle, open redirects, sessions (fixation, expiry,
 * tampering), logout, /.well-known/openid-configuration, a store outage
 * (503, and the session outlives it), and that no password, cookie or
 * session id reaches the log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fa_test.h"
#include "fa_test_outage.h"
#include "identity/identity_int.h"
#include "identity_gate_harness.h"

static const unsigned char block_key[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char hash_key[64] =
	"hash-key-hash-key-hash-key-hash-key-hash-key-hash-key-hash-key-h";

#define PASSWORD "correct-horse-battery"

struct fx {
	char dir[64];
	struct fa_store *st;
	struct fa_config *cfg;
	struct fa_identity *id;
	struct fa_remote *remote;          /* with an upstream IdP */
	struct fa_remote_issuer *idp;
	struct fa_log log;
	char *logbuf;
	size_t loglen;
	FILE *logfp;
	struct harness h;
};

/* Starts an identity over `extra` YAML (appended to the auth section). */
static void fx_start(struct fx *f, const char *server_yaml, const char *userauth_extra)
{
	char raw[FA_BCRYPT_LEN + 1], b64[FA_BCRYPT_B64_LEN + 1], yaml[2048];
	const struct fa_route *routes;
	struct fa_identity_opts o;
	struct fa_err err;
	size_t n;

	assert_int_equal(fa_secret_hash(PASSWORD, strlen(PASSWORD), 4, b64, raw, NULL), FA_OK);
	snprintf(yaml, sizeof(yaml),
		 "%s"
		 "auth:\n"
		 "  authorizedUris: [https://flyte.example.com]\n"
		 "  userAuth:\n"
		 "    localUsers:\n"
		 "      - {username: alice, passwordHash: %s, name: Alice Example, "
		 "email: alice@example.com}\n"
		 "      - {username: bob, passwordHash: %s}\n"
		 "%s",
		 server_yaml ? server_yaml : "", b64, b64, userauth_extra ? userauth_extra : "");
	fa_err_clear(&err);
	if (fa_config_load_buffer("t.yaml", yaml, strlen(yaml), NULL, &f->cfg, &err) != FA_OK)
		fail_msg("config: %s", err.msg);
	memset(&o, 0, sizeof(o));
	o.cfg = f->cfg;
	o.store = f->st;
	o.log = &f->log;
	o.issuer = "https://flyte.example.com";
	o.cookie_block_key = block_key;
	o.cookie_block_key_len = sizeof(block_key);
	o.cookie_hash_key = hash_key;
	o.cookie_hash_key_len = sizeof(hash_key);
	if (f->cfg->auth.user_auth.open_id.base_url[0]) {
		struct fa_remote_issuer_opts io = { .kind = FA_DISCOVERY_OIDC,
						    .issuer = f->cfg->auth.user_auth.open_id.base_url,
						    .log = &f->log };

		assert_int_equal(fa_remote_new(NULL, &f->remote, NULL), FA_OK);
		assert_int_equal(fa_remote_issuer_start(f->remote, &io, &f->idp, NULL), FA_OK);
		o.idp = f->idp;
		o.idp_remote = f->remote;
		o.idp_client_secret = "idp-client-secret";
	}
	f->id = fa_identity_new(&o, &err);
	if (!f->id)
		fail_msg("identity: %s", err.msg);
	fa_identity_routes(&routes, &n);
	harness_init(&f->h, routes, n, f->id, NULL, f->logfp);
	/* serve adds these only with an upstream IdP; the handler's answer
	 * without one is tested all the same. */
	fa_identity_idp_routes(&routes, &n);
	for (size_t i = 0; i < n; i++) {
		f->h.routes[f->h.srv.n_routes] = routes[i];
		f->h.apps[f->h.srv.n_routes++] = f->id;
	}
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[128];

	assert_non_null(f);
	fa_test_tmpdir(f->dir, sizeof(f->dir), "test_identity_login");
	f->logfp = fa_test_log_open(&f->log, &f->logbuf, &f->loglen);
	snprintf(path, sizeof(path), "%s/db", f->dir);
	f->st = fa_test_store_open(path, &f->log);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	fa_identity_free(f->id);
	fa_remote_issuer_free(f->idp);
	fa_remote_free(f->remote);
	fa_config_free(f->cfg);
	fa_store_free(f->st);
	fclose(f->logfp);
	free(f->logbuf);
	fa_test_rmdir(f->dir);
	free(f);
	return 0;
}

/* The value of the form's hidden input `name`, into out. */
static void form_value(const char *html, const char *name, char *out, size_t cap)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "name=\"%s\" value=\"", name);
	p = strstr(html, pat);
	assert_non_null(p);
	p += strlen(pat);
	e = strchr(p, '"');
	assert_non_null(e);
	assert_true((size_t)(e - p) < cap);
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
}

/* GET /login into jar; returns the form's csrf_token in tok. */
static void get_form(struct fx *f, struct jar *j, const char *query, char *tok, size_t cap)
{
	const char *hdr[2] = { jar_header(j), NULL };
	char target[512];
	struct fa_req *r;

	snprintf(target, sizeof(target), "/login%s", query ? query : "");
	r = harness_call(&f->h, "GET", target, hdr[0] ? hdr : NULL, NULL, NULL);
	assert_int_equal(resp_status(r), 200);
	form_value(resp_body(r), "csrf_token", tok, cap);
	jar_update(j, r);
	harness_done(r);
}

/* POST /login with the jar's cookies; the caller frees the request. */
static struct fa_req *post_login(struct fx *f, struct jar *j, const char *body, const char *addr)
{
	const char *hdr[2] = { jar_header(j), NULL };
	struct fa_req *r = harness_call(&f->h, "POST", "/login", hdr[0] ? hdr : NULL, body, addr);

	jar_update(j, r);
	return r;
}

static struct fa_req *login(struct fx *f, struct jar *j, const char *user, const char *pw,
			    const char *addr)
{
	char tok[64], body[512];

	get_form(f, j, NULL, tok, sizeof(tok));
	snprintf(body, sizeof(body), "csrf_token=%s&username=%s&password=%s", tok, user, pw);
	return post_login(f, j, body, addr);
}

static json_t *session_user(struct fx *f, struct jar *j, enum fa_rc want)
{
	const char *hdr[2] = { jar_header(j), NULL };
	struct fa_req *r = fa_http_req_new(&f->h.srv, fa_arena_new(FA_MAX_REQUEST_ARENA), "/x");
	json_t *user = NULL;
	struct fa_err err;

	for (size_t i = 0; hdr[0] && i < 1; i++)
		assert_int_equal(fa_http_req_add_header(r, "Cookie", 6, hdr[0] + 8,
							strlen(hdr[0] + 8)), FA_OK);
	if (hdr[0])
		assert_int_equal(fa_http_cookies_parse(r->arena, hdr[0] + 8, strlen(hdr[0] + 8),
						       &r->cookies, NULL), FA_OK);
	fa_err_clear(&err);
	assert_int_equal(fa_identity_session_user(f->id, r, &user, &err), want);
	if (want != FA_OK)
		assert_null(user);
	fa_arena_free(r->arena);
	return user;
}

static void test_login_form(void **state)
{
	struct fx *f = *state;
	struct fa_req *r;
	const char *c, *b;

	fx_start(f, NULL, NULL);
	r = harness_call(&f->h, "GET", "/login?redirect_url=%2Fconsole%2Fprojects", NULL, NULL, NULL);
	assert_int_equal(resp_status(r), 200);
	assert_string_equal(resp_header(r, "Cache-Control"), "no-store");
	assert_non_null(strstr(resp_header(r, "Content-Security-Policy"), "frame-ancestors 'none'"));
	assert_string_equal(resp_header(r, "X-Frame-Options"), "DENY");
	b = resp_body(r);
	assert_non_null(strstr(b, "<form method=\"post\" action=\"/login\">"));
	assert_non_null(strstr(b, "name=\"username\""));
	assert_non_null(strstr(b, "name=\"password\" type=\"password\""));
	assert_non_null(strstr(b, "name=\"redirect_url\" value=\"/console/projects\""));
	assert_non_null(strstr(b, "name=\"csrf_token\" value=\""));
	assert_null(strstr(b, "<script"));
	/* The CSRF cookie: HttpOnly, Lax, Secure, scoped to /login, short. */
	c = resp_set_cookie(r, FA_IDENTITY_CSRF_COOKIE);
	assert_non_null(c);
	assert_non_null(strstr(c, "HttpOnly"));
	assert_non_null(strstr(c, "SameSite=Lax"));
	assert_non_null(strstr(c, "Secure"));
	assert_non_null(strstr(c, "Path=/login"));
	assert_non_null(strstr(c, "Max-Age=900"));
	harness_done(r);
}

static void test_login_roundtrip(void **state)
{
	struct fx *f = *state;
	struct jar j = { 0 };
	struct fa_req *r;
	char tok[64];
	const char *c;
	json_t *u;

	fx_start(f, NULL, NULL);
	assert_null(session_user(f, &j, FA_ENOTFOUND));
	get_form(f, &j, "?redirect_url=https%3A%2F%2Fflyte.example.com%2Fconsole", tok, sizeof(tok));
	r = post_login(f, &j, "username=alice&password=" PASSWORD "&csrf_token=XX", NULL);
	/* the forged token is refused */
	assert_int_equal(resp_status(r), 403);
	harness_done(r);
	get_form(f, &j, "?redirect_url=https%3A%2F%2Fflyte.example.com%2Fconsole", tok, sizeof(tok));
	{
		char body[256];

		/* No redirect_url field: the one recorded with the form is used. */
		snprintf(body, sizeof(body), "username=alice&password=%s&csrf_token=%s", PASSWORD,
			 tok);
		r = post_login(f, &j, body, NULL);
	}
	assert_int_equal(resp_status(r), 303);
	assert_string_equal(resp_header(r, "Location"), "https://flyte.example.com/console");
	assert_string_equal(resp_header(r, "Cache-Control"), "no-store");
	c = resp_set_cookie(r, FA_IDENTITY_SESSION_COOKIE);
	assert_non_null(c);
	assert_non_null(strstr(c, "; HttpOnly"));
	assert_non_null(strstr(c, "; SameSite=Lax"));
	assert_non_null(strstr(c, "; Secure"));
	assert_non_null(strstr(c, "; Path=/"));
	assert_non_null(strstr(c, "; Max-Age=3600"));
	assert_null(strstr(c, "Domain="));
	/* The used form's cookie is cleared. */
	assert_non_null(strstr(resp_set_cookie(r, FA_IDENTITY_CSRF_COOKIE), "Max-Age=0"));
	harness_done(r);
	assert_null(jar_get(&j, FA_IDENTITY_CSRF_COOKIE));

	u = session_user(f, &j, FA_OK);
	assert_string_equal(json_string_value(json_object_get(u, "sub")), "alice");
	assert_string_equal(json_string_value(json_object_get(u, "preferred_username")), "alice");
	assert_string_equal(json_string_value(json_object_get(u, "name")), "Alice Example");
	assert_string_equal(json_string_value(json_object_get(u, "email")), "alice@example.com");
	json_decref(u);

	/* Logged in: GET /login goes straight on. */
	{
		const char *hdr[2] = { jar_header(&j), NULL };

		r = harness_call(&f->h, "GET", "/login?redirect_url=/console/x", hdr, NULL, NULL);
		assert_int_equal(resp_status(r), 302);
		assert_string_equal(resp_header(r, "Location"), "/console/x");
		harness_done(r);
	}

	/* The password, the session cookie and the form token never reach
	 * the log. */
	fflush(f->logfp);
	assert_null(strstr(f->logbuf, PASSWORD));
	assert_null(strstr(f->logbuf, jar_get(&j, FA_IDENTITY_SESSION_COOKIE)));
	assert_null(strstr(f->logbuf, tok));
	assert_non_null(strstr(f->logbuf, "started for alice"));
}

static void test_logout(void **state)
{
	struct fx *f = *state;
	struct jar j = { 0 }, stolen = { 0 };
	struct fa_req *r;
	const char *hdr[2], *hdr2[3];
	int64_t n = -1;

	fx_start(f, NULL, NULL);
	r = login(f, &j, "alice", PASSWORD, NULL);
	assert_int_equal(resp_status(r), 303);
	assert_string_equal(resp_header(r, "Location"), "/console");   /* userAuth.redirectUrl */
	harness_done(r);
	jar_put(&stolen, FA_IDENTITY_SESSION_COOKIE, jar_get(&j, FA_IDENTITY_SESSION_COOKIE));
	assert_int_equal(fa_store_count(f->st, "session", fa_now(), &n, NULL), FA_OK);
	assert_int_equal(n, 1);

	/* An unsafe target is refused and logs nobody out. */
	hdr[0] = jar_header(&j);
	hdr[1] = NULL;
	r = harness_call(&f->h, "GET", "/logout?redirect_url=https%3A%2F%2Fevil.com", hdr, NULL, NULL);
	assert_int_equal(resp_status(r), 400);
	assert_non_null(strstr(resp_body(r), "invalid_request"));
	harness_done(r);
	json_decref(session_user(f, &j, FA_OK));

	/* A GET that is not same-origin only shows the confirmation form. */
	r = harness_call(&f->h, "GET", "/logout?redirect_url=/bye", hdr, NULL, NULL);
	assert_int_equal(resp_status(r), 200);
	assert_non_null(strstr(resp_body(r), "<form method=\"post\" action=\"/logout\">"));
	assert_null(resp_set_cookie(r, FA_IDENTITY_SESSION_COOKIE));
	harness_done(r);
	json_decref(session_user(f, &j, FA_OK));

	hdr2[0] = hdr[0];
	hdr2[1] = "Sec-Fetch-Site: same-origin";
	hdr2[2] = NULL;
	r = harness_call(&f->h, "GET", "/logout?redirect_url=/bye", hdr2, NULL, NULL);
	assert_int_equal(resp_status(r), 303);
	assert_string_equal(resp_header(r, "Location"), "/bye");
	assert_non_null(strstr(resp_set_cookie(r, FA_IDENTITY_SESSION_COOKIE), "Max-Age=0"));
	jar_update(&j, r);
	harness_done(r);
	assert_null(jar_get(&j, FA_IDENTITY_SESSION_COOKIE));
	assert_int_equal(fa_store_count(f->st, "session", fa_now(), &n, NULL), FA_OK);
	assert_int_equal(n, 0);
	/* A copy of the cookie died with the record. */
	assert_null(session_user(f, &stolen, FA_ENOTFOUND));

	/* Logout without a session: still clears the cookie, default "/". */
	r = harness_call(&f->h, "GET", "/logout", NULL, NULL, NULL);
	assert_int_equal(resp_status(r), 303);
	assert_string_equal(resp_header(r, "Location"), "/");
	harness_done(r);
}

/* Replaces the attribute value after `prefix` (every occurrence) by "X". */
static void blank_attr(char *html, const char *prefix)
{
	char *p = html;

	while ((p = strstr(p, prefix)) != NULL) {
		char *v = p + strlen(prefix);
		char *e = strchr(v, '"');

		assert_non_null(e);
		memmove(v + 1, e, strlen(e) + 1);
		*v = 'X';
		p = v;
	}
}

/* The record of j's session, as the store holds it: *key gets its key. */
static json_t *session_record(struct fx *f, struct jar *j, char key[2 * FA_SHA256_LEN + 1],
			      struct fa_store_rec *rec)
{
	unsigned char plain[FA_SESSION_ID_LEN + 8];
	size_t n = 0;
	json_t *doc = NULL;

	assert_int_equal(fa_identity_unseal(f->id->session_key, FA_IDENTITY_SESSION_COOKIE,
					    jar_get(j, FA_IDENTITY_SESSION_COOKIE), plain,
					    sizeof(plain), &n, NULL), FA_OK);
	assert_int_equal(fa_sha256_hex(plain, FA_SESSION_ID_LEN, key), FA_OK);
	assert_int_equal(fa_store_get(f->st, "session", key, fa_now(), rec, NULL), FA_OK);
	assert_int_equal(fa_json_load(rec->value, rec->len, "record", &doc, NULL), FA_OK);
	return doc;
}

/* A session unused for the idle timeout ends (its record is deleted); one
 * used within it lives on, and its last use is written at most once a
 * minute. */
static void test_session_idle(void **state)
{
	struct fx *f = *state;
	struct jar j = { 0 };
	struct fa_store_rec rec = { 0 };
	char key[2 * FA_SHA256_LEN + 1];
	struct fa_store_op op = { .type = FA_STORE_UPDATE, .kind = "session" };
	int64_t now = fa_now(), n = -1;
	json_t *doc;
	char *v;

	fx_start(f, NULL, NULL);
	assert_int_equal(f->id->session_idle_s, 3600);   /* the default, clamped to the 1 h TTL */
	harness_done(login(f, &j, "alice", PASSWORD, NULL));
	doc = session_record(f, &j, key, &rec);
	assert_true(json_integer_value(json_object_get(doc, "seen")) >= now);
	/* Last used 30 minutes ago: still on, and the use is recorded. */
	json_object_set_new(doc, "seen", json_integer(now - 1800));
	v = json_dumps(doc, JSON_COMPACT);
	op.key = key;
	op.value = v;
	op.expires_at = rec.expires_at;
	assert_int_equal(fa_store_apply(f->st, &op, 1, now, NULL), FA_OK);
	free(v);
	json_decref(doc);
	fa_store_rec_cleanup(&rec);
	json_decref(session_user(f, &j, FA_OK));
	doc = session_record(f, &j, key, &rec);
	assert_true(json_integer_value(json_object_get(doc, "seen")) >= now);
	/* Last used an hour ago: ended. */
	json_object_set_new(doc, "seen", json_integer(fa_now() - 3600));
	v = json_dumps(doc, JSON_COMPACT);
	op.value = v;
	op.expires_at = rec.expires_at;
	assert_int_equal(fa_store_apply(f->st, &op, 1, fa_now(), NULL), FA_OK);
	free(v);
	json_decref(doc);
	fa_store_rec_cleanup(&rec);
	assert_null(session_user(f, &j, FA_ENOTFOUND));
	assert_int_equal(fa_store_count(f->st, "session", fa_now(), &n, NULL), FA_OK);
	assert_int_equal(n, 0);
}

static void test_wrong_password_unknown_user_identical(void **state)
{
	struct fx *f = *state;
	struct jar j1 = { 0 }, j2 = { 0 };
	struct fa_req *r1, *r2;
	char *b1, *b2;

	fx_start(f, NULL, NULL);
	r1 = login(f, &j1, "alice", "wrong-password", "10.0.0.1");
	r2 = login(f, &j2, "nobody", "wrong-password", "10.0.0.2");
	assert_int_equal(resp_status(r1), 401);
	assert_int_equal(resp_status(r2), 401);
	b1 = strdup(resp_body(r1));
	b2 = strdup(resp_body(r2));
	assert_non_null(strstr(b1, "<p class=\"error\" role=\"alert\">Invalid username or password."));
	assert_non_null(strstr(b1, "required value=\"alice\""));
	assert_non_null(strstr(b2, "required value=\"nobody\""));
	/* The same page but for the echoed username and the fresh token. */
	blank_attr(b1, "name=\"csrf_token\" value=\"");
	blank_attr(b2, "name=\"csrf_token\" value=\"");
	blank_attr(b1, "required value=\"");
	blank_attr(b2, "required value=\"");
	assert_string_equal(b1, b2);
	/* The same headers: names and count. */
	assert_int_equal(r1->resp.n_headers, r2->resp.n_headers);
	for (size_t i = 0; i < r1->resp.n_headers; i++)
		assert_string_equal(r1->resp.headers[i].name, r2->resp.headers[i].name);
	assert_null(resp_set_cookie(r1, FA_IDENTITY_SESSION_COOKIE));
	assert_null(resp_set_cookie(r2, FA_IDENTITY_SESSION_COOKIE));
	free(b1);
	free(b2);
	harness_done(r1);
	harness_done(r2);
}

static void test_login_csrf(void **state)
{
	struct fx *f = *state;
	struct jar j = { 0 }, other = { 0 };
	struct fa_req *r;
	char tok[64], tok2[64], body[512];

	fx_start(f, NULL, NULL);
	/* No form cookie at all (a cross-site post). */
	snprintf(body, sizeof(body), "username=alice&password=%s&csrf_token=abc", PASSWORD);
	r = post_login(f, &j, body, NULL);
	assert_int_equal(resp_status(r), 403);
	assert_non_null(strstr(resp_body(r), "Your sign-in form has expired"));
	assert_null(resp_set_cookie(r, FA_IDENTITY_SESSION_COOKIE));
	harness_done(r);
	/* A token from another browser's form does not match this cookie. */
	get_form(f, &j, NULL, tok, sizeof(tok));
	get_form(f, &other, NULL, tok2, sizeof(tok2));
	assert_string_not_equal(tok, tok2);
	snprintf(body, sizeof(body), "username=alice&password=%s&csrf_token=%s", PASSWORD, tok2);
	r = post_login(f, &j, body, NULL);
	assert_int_equal(resp_status(r), 403);
	harness_done(r);
	/* The other browser's cookie with this one's token neither. */
	snprintf(body, sizeof(body), "username=alice&password=%s&csrf_token=%s", PASSWORD, tok);
	r = post_login(f, &other, body, NULL);
	assert_int_equal(resp_status(r), 403);
	harness_done(r);
	/* Token missing. */
	get_form(f, &j, NULL, tok, sizeof(tok));
	snprintf(body, sizeof(body), "username=alice&password=%s", PASSWORD);
	r = post_login(f, &j, body, NULL);
	assert_int_equal(resp_status(r), 403);
	/* The refusal is itself a fresh form, and it works. */
	form_value(resp_body(r), "csrf_token", tok, sizeof(tok));
	harness_done(r);
	snprintf(body, sizeof(body), "username=alice&password=%s&csrf_token=%s", PASSWORD, tok);
	r = post_login(f, &j, body, NULL);
	assert_int_equal(resp_status(r), 303);
	harness_done(r);
	/* A form's token is not reusable once its cookie was consumed. */
	r = post_login(f, &j, body, NULL);
	assert_int_equal(resp_status(r), 403);
	harness_done(r);
}

/* An expired form (its sealed expiry is past) is refused even with a
 * matching token. */
static void test_login_form_expired(void **state)
{
	struct fx *f = *state;
	unsigned char plain[40], macin[38];
	char tok[FA_TOKEN_CHARS + 1], body[256], cookie[4200];
	struct fa_arena *a = fa_arena_new(64 * 1024);
	const char *hdr[2] = { cookie, NULL };
	struct fa_req *r;
	char *sealed = NULL;
	int64_t past = fa_now() - 1;

	fx_start(f, NULL, NULL);
	memset(plain, 7, 32);
	for (int i = 0; i < 8; i++)
		plain[32 + i] = (unsigned char)((uint64_t)past >> (8 * (7 - i)));
	/* The token is the MAC of nonce || the form's path. */
	memcpy(macin, plain, 32);
	memcpy(macin + 32, "/login", 6);
	assert_int_equal(fa_identity_mac(f->id->csrf_mac_key, macin, sizeof(macin), tok, NULL),
			 FA_OK);
	assert_int_equal(fa_identity_seal(f->id->form_key, FA_IDENTITY_CSRF_COOKIE, plain, 40, a,
					  &sealed, NULL), FA_OK);
	snprintf(cookie, sizeof(cookie), "Cookie: %s=%s", FA_IDENTITY_CSRF_COOKIE, sealed);
	snprintf(body, sizeof(body), "username=alice&password=%s&csrf_token=%s", PASSWORD, tok);
	r = harness_call(&f->h, "POST", "/login", hdr, body, NULL);
	assert_int_equal(resp_status(r), 403);
	harness_done(r);
	/* The same with a future expiry passes: only the expiry differed. */
	past = fa_now() + 60;
	for (int i = 0; i < 8; i++)
		plain[32 + i] = (unsigned char)((uint64_t)past >> (8 * (7 - i)));
	assert_int_equal(fa_identity_seal(f->id->form_key, FA_IDENTITY_CSRF_COOKIE, plain, 40, a,
					  &sealed, NULL), FA_OK);
	snprintf(cookie, sizeof(cookie), "Cookie: %s=%s", FA_IDENTITY_CSRF_COOKIE, sealed);
	r = harness_call(&f->h, "POST", "/login", hdr, body, NULL);
	assert_int_equal(resp_status(r), 303);
	harness_done(r);
	fa_arena_free(a);
}

static void test_login_missing_fields(void **state)
{
	struct fx *f = *state;
	struct jar j = { 0 };
	struct fa_req *r;
	char tok[64], body[256];

	fx_start(f, NULL, NULL);
	get_form(f, &j, NULL, tok, sizeof(tok));
	snprintf(body, sizeof(body), "username=alice&password=&csrf_token=%s", tok);
	r = post_login(f, &j, body, NULL);
	assert_int_equal(resp_status(r), 400);
	assert_non_null(strstr(resp_body(r), "Enter your username and password."));
	harness_done(r);
	/* Not counted as a failure. */
	{
		int64_t n = -1;

		assert_int_equal(fa_store_count(f->st, "throttle", fa_now(), &n, NULL), FA_OK);
		assert_int_equal(n, 0);
	}
}

/* The store goes down: sign-in, the "already logged in" check and logout
 * answer 503 temporarily_unavailable (fail closed: no store, no password
 * check), nothing is logged per request, and once it is back the session
 * started before the outage still works. */
static void test_store_outage(void **state)
{
	struct fx *f = *state;
	struct fa_test_outage o = { .real = f->st };
	struct jar j = { 0 }, k = { 0 };
	const char *hdr[2];
	struct fa_req *r;
	char tok[64], body[256];

	f->st = fa_test_outage_wrap(&o, &f->log);
	fx_start(f, NULL, NULL);
	r = login(f, &j, "alice", PASSWORD, NULL);
	assert_int_equal(resp_status(r), 303);
	harness_done(r);
	get_form(f, &k, NULL, tok, sizeof(tok));
	o.down = true;
	snprintf(body, sizeof(body), "csrf_token=%s&username=bob&password=%s", tok, PASSWORD);
	r = post_login(f, &k, body, NULL);
	assert_int_equal(resp_status(r), 503);
	assert_non_null(strstr(resp_body(r), "\"error\":\"temporarily_unavailable\""));
	assert_null(resp_set_cookie(r, FA_IDENTITY_SESSION_COOKIE));
	harness_done(r);
	hdr[0] = jar_header(&j);
	hdr[1] = NULL;
	r = harness_call(&f->h, "GET", "/login", hdr, NULL, NULL);
	assert_int_equal(resp_status(r), 503);
	harness_done(r);
	r = harness_call(&f->h, "GET", "/logout", hdr, NULL, NULL);
	assert_int_equal(resp_status(r), 503);
	assert_null(resp_set_cookie(r, FA_IDENTITY_SESSION_COOKIE));
	harness_done(r);
	fflush(f->logfp);
	assert_null(strstr(f->logbuf, "login failed internally"));
	assert_null(strstr(f->logbuf, "session lookup failed"));
	assert_non_null(strstr(f->logbuf, "store (outage) failed: "));
	o.down = false;
	json_decref(session_user(f, &j, FA_OK));
	fa_identity_free(f->id);
	f->id = NULL;
	fa_store_free(f->st);
	f->st = o.real;
}

static void test_login_throttle(void **state)
{
	struct fx *f = *state;
	struct fa_req *r;

	fx_start(f, NULL, NULL);
	/* Five failures for alice, each from a fresh browser (new cookies):
	 * nothing the browser keeps resets the count. */
	for (int i = 0; i < FA_IDENTITY_USER_FREE_FAILURES; i++) {
		struct jar j = { 0 };

		r = login(f, &j, "alice", "nope", NULL);
		assert_int_equal(resp_status(r), 401);
		harness_done(r);
	}
	/* Within the delay even the right password is not looked at. */
	{
		struct jar j = { 0 };
		int64_t ra = 0;

		r = login(f, &j, "alice", PASSWORD, NULL);
		assert_int_equal(resp_status(r), 429);
		assert_non_null(resp_header(r, "Retry-After"));
		assert_int_equal(fa_parse_u64(resp_header(r, "Retry-After"),
					      strlen(resp_header(r, "Retry-After")), 900,
					      (uint64_t *)&ra), FA_OK);
		assert_true(ra > 0 && ra <= FA_IDENTITY_THROTTLE_WINDOW_S);
		assert_non_null(strstr(resp_body(r), "Too many failed sign-in attempts"));
		assert_null(resp_set_cookie(r, FA_IDENTITY_SESSION_COOKIE));
		harness_done(r);
	}
	/* From another address too: the username is throttled. */
	{
		struct jar j = { 0 };

		r = login(f, &j, "alice", PASSWORD, "192.0.2.7");
		assert_int_equal(resp_status(r), 429);
		harness_done(r);
	}
	/* Bob, from the first address, is not. */
	{
		struct jar j = { 0 };

		r = login(f, &j, "bob", PASSWORD, NULL);
		assert_int_equal(resp_status(r), 303);
		harness_done(r);
	}
	/* A delay, not a lock: once it has passed (1 s after the fifth
	 * failure), alice signs in from elsewhere. */
	sleep(2);
	{
		struct jar j = { 0 };

		r = login(f, &j, "alice", PASSWORD, "192.0.2.7");
		assert_int_equal(resp_status(r), 303);
		harness_done(r);
	}
}

static void test_login_open_redirect(void **state)
{
	static const char *const payloads[] = {
		"%2F%2Fevil.com", "%2F%5Cevil.com", "https%3A%2F%2Fevil.com",
		"https%3A%2F%2Fflyte.example.com.evil.com", "javascript%3Aalert(1)",
		"%252F%252Fevil.com", "https%3A%2F%2Fflyte.example.com%40evil.com",
		"%2F%09%2Fevil.com",
	};
	struct fx *f = *state;
	struct jar j = { 0 };
	struct fa_req *r;
	char target[256], tok[64], body[512];

	fx_start(f, NULL, NULL);
	for (size_t i = 0; i < ARRAY_LEN(payloads); i++) {
		snprintf(target, sizeof(target), "/login?redirect_url=%s", payloads[i]);
		r = harness_call(&f->h, "GET", target, NULL, NULL, NULL);
		if (resp_status(r) != 400)
			fail_msg("GET /login accepted payload %s", payloads[i]);
		assert_non_null(strstr(resp_body(r), "\"error\":\"invalid_request\""));
		assert_null(resp_header(r, "Location"));
		harness_done(r);
		/* And the form field cannot smuggle one in either. */
		get_form(f, &j, NULL, tok, sizeof(tok));
		snprintf(body, sizeof(body), "username=alice&password=%s&csrf_token=%s&redirect_url=%s",
			 PASSWORD, tok, payloads[i]);
		r = post_login(f, &j, body, NULL);
		if (resp_status(r) != 400)
			fail_msg("POST /login accepted payload %s", payloads[i]);
		assert_null(resp_set_cookie(r, FA_IDENTITY_SESSION_COOKIE));
		harness_done(r);
	}
}

static void test_session_fixation(void **state)
{
	struct fx *f = *state;
	struct jar a = { 0 }, b = { 0 }, old = { 0 };
	struct fa_req *r;
	char tok[64], body[256];
	int64_t n = -1;
	json_t *u;

	fx_start(f, NULL, NULL);
	r = login(f, &a, "alice", PASSWORD, NULL);
	assert_int_equal(resp_status(r), 303);
	harness_done(r);
	/* A planted session cookie (alice's) in the browser where bob logs in. */
	get_form(f, &b, NULL, tok, sizeof(tok));
	jar_put(&b, FA_IDENTITY_SESSION_COOKIE, jar_get(&a, FA_IDENTITY_SESSION_COOKIE));
	jar_put(&old, FA_IDENTITY_SESSION_COOKIE, jar_get(&a, FA_IDENTITY_SESSION_COOKIE));
	snprintf(body, sizeof(body), "username=bob&password=%s&csrf_token=%s", PASSWORD, tok);
	r = post_login(f, &b, body, NULL);
	assert_int_equal(resp_status(r), 303);
	harness_done(r);
	assert_string_not_equal(jar_get(&b, FA_IDENTITY_SESSION_COOKIE),
				jar_get(&old, FA_IDENTITY_SESSION_COOKIE));
	u = session_user(f, &b, FA_OK);
	assert_string_equal(json_string_value(json_object_get(u, "sub")), "bob");
	json_decref(u);
	/* The planted session was ended, not kept alive beside the new one. */
	assert_null(session_user(f, &old, FA_ENOTFOUND));
	assert_int_equal(fa_store_count(f->st, "session", fa_now(), &n, NULL), FA_OK);
	assert_int_equal(n, 1);
}

/* A session cookie is only as good as its sealed expiry, its integrity
 * and its record. */
static void test_session_cookie_checks(void **state)
{
	struct fx *f = *state;
	struct jar j = { 0 }, k = { 0 };
	struct fa_arena *a = fa_arena_new(64 * 1024);
	unsigned char plain[64];
	char *sealed = NULL, tampered[4200];
	struct fa_req *r;
	int64_t exp;
	size_t n = 0;

	fx_start(f, NULL, NULL);
	r = login(f, &j, "alice", PASSWORD, NULL);
	harness_done(r);
	assert_int_equal(fa_identity_unseal(f->id->session_key, FA_IDENTITY_SESSION_COOKIE,
					    jar_get(&j, FA_IDENTITY_SESSION_COOKIE), plain,
					    sizeof(plain), &n, NULL), FA_OK);
	assert_int_equal(n, FA_SESSION_ID_LEN + 8);
	/* Expired: same id, expiry in the past. */
	exp = fa_now() - 1;
	for (int i = 0; i < 8; i++)
		plain[FA_SESSION_ID_LEN + i] = (unsigned char)((uint64_t)exp >> (8 * (7 - i)));
	assert_int_equal(fa_identity_seal(f->id->session_key, FA_IDENTITY_SESSION_COOKIE, plain, n,
					  a, &sealed, NULL), FA_OK);
	jar_put(&k, FA_IDENTITY_SESSION_COOKIE, sealed);
	assert_null(session_user(f, &k, FA_ENOTFOUND));
	/* ... and the same id with a future expiry is accepted. */
	exp = fa_now() + 60;
	for (int i = 0; i < 8; i++)
		plain[FA_SESSION_ID_LEN + i] = (unsigned char)((uint64_t)exp >> (8 * (7 - i)));
	assert_int_equal(fa_identity_seal(f->id->session_key, FA_IDENTITY_SESSION_COOKIE, plain, n,
					  a, &sealed, NULL), FA_OK);
	jar_put(&k, FA_IDENTITY_SESSION_COOKIE, sealed);
	json_decref(session_user(f, &k, FA_OK));
	/* Tampered: one character changed. */
	snprintf(tampered, sizeof(tampered), "%s", jar_get(&j, FA_IDENTITY_SESSION_COOKIE));
	tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
	jar_put(&k, FA_IDENTITY_SESSION_COOKIE, tampered);
	assert_null(session_user(f, &k, FA_ENOTFOUND));
	/* Sealed under another key (another installation's cookie). */
	{
		unsigned char other[FA_SEAL_KEY_LEN];

		memset(other, 0x5a, sizeof(other));
		assert_int_equal(fa_identity_seal(other, FA_IDENTITY_SESSION_COOKIE, plain, n, a,
						  &sealed, NULL), FA_OK);
		jar_put(&k, FA_IDENTITY_SESSION_COOKIE, sealed);
		assert_null(session_user(f, &k, FA_ENOTFOUND));
	}
	/* Its record expired or purged: no session either. */
	{
		char key[65];
		struct fa_store_op del = { .type = FA_STORE_DELETE, .kind = "session", .key = key };

		assert_int_equal(fa_sha256_hex(plain, FA_SESSION_ID_LEN, key), FA_OK);
		assert_int_equal(fa_store_apply(f->st, &del, 1, fa_now(), NULL), FA_OK);
		assert_null(session_user(f, &j, FA_ENOTFOUND));
	}
	fa_arena_free(a);
}

static void test_cookie_flags_insecure(void **state)
{
	struct fx *f = *state;
	struct jar j = { 0 };
	struct fa_req *r;
	const char *c;

	fx_start(f, "server: {security: {insecureCookieHeader: true}}\n",
		 "    cookieSetting: {domain: flyte.example.com}\n");
	r = login(f, &j, "alice", PASSWORD, NULL);
	assert_int_equal(resp_status(r), 303);
	c = resp_set_cookie(r, FA_IDENTITY_SESSION_COOKIE);
	assert_non_null(c);
	assert_null(strstr(c, "Secure"));
	assert_non_null(strstr(c, "HttpOnly"));
	assert_non_null(strstr(c, "SameSite=Lax"));
	assert_non_null(strstr(c, "Domain=flyte.example.com"));
	harness_done(r);
}

static void test_oidc_configuration(void **state)
{
	struct fx *f = *state;
	struct fa_req *r;

	fx_start(f, NULL, NULL);
	r = harness_call(&f->h, "GET", "/.well-known/openid-configuration", NULL, NULL, NULL);
	assert_int_equal(resp_status(r), 404);
	assert_non_null(strstr(resp_body(r), "no OpenID provider is configured"));
	harness_done(r);
}

static void test_oidc_configuration_redirect(void **state)
{
	struct fx *f = *state;
	struct fa_req *r;

	/* Port 9 on loopback: nothing listens, the IdP stays unreachable. */
	fx_start(f, NULL, "    openId: {baseUrl: 'http://127.0.0.1:9/oauth2/default/', "
		 "clientId: flyte}\n");
	r = harness_call(&f->h, "GET", "/.well-known/openid-configuration", NULL, NULL, NULL);
	assert_int_equal(resp_status(r), 303);
	assert_string_equal(resp_header(r, "Location"),
			    "http://127.0.0.1:9/oauth2/default/.well-known/openid-configuration");
	harness_done(r);
	/* Local users beside the IdP: the form, with the IdP offered first. */
	r = harness_call(&f->h, "GET", "/login", NULL, NULL, NULL);
	assert_int_equal(resp_status(r), 200);
	assert_non_null(strstr(resp_body(r), "Sign in with 127.0.0.1"));
	assert_non_null(strstr(resp_body(r), "href=\"/login?upstream=1&amp;redirect_url="));
	harness_done(r);
	/* The IdP cannot be reached: a readable 503 naming its URL. */
	fa_remote_issuer_wait(f->idp, 5000);
	r = harness_call(&f->h, "GET", "/login?upstream=1", NULL, NULL, NULL);
	assert_int_equal(resp_status(r), 503);
	assert_non_null(strstr(resp_body(r), "Sign-in is temporarily unavailable"));
	assert_non_null(strstr(resp_body(r),
			       "http://127.0.0.1:9/oauth2/default/.well-known/openid-configuration"));
	assert_string_equal(resp_header(r, "Retry-After"), "5");
	harness_done(r);
	/* No state cookie: the callback refuses, nothing written. */
	r = harness_call(&f->h, "GET", "/callback?code=x&state=y", NULL, NULL, NULL);
	assert_int_equal(resp_status(r), 400);
	harness_done(r);
}

static void test_login_url_roundtrip(void **state)
{
	struct fx *f = *state;
	struct fa_req *r, *q;
	const char *url;

	fx_start(f, NULL, NULL);
	/* authz's URL leads to a form that comes back to the same place. */
	q = fa_http_req_new(&f->h.srv, fa_arena_new(FA_MAX_REQUEST_ARENA), "/x");
	url = fa_identity_login_url(q, "/oauth2/authorize_callback?request=abc&x=1");
	r = harness_call(&f->h, "GET", url, NULL, NULL, NULL);
	assert_int_equal(resp_status(r), 200);
	assert_non_null(strstr(resp_body(r), "name=\"redirect_url\" value=\"/oauth2/authorize_callback"
				"?request=abc&amp;x=1\""));
	harness_done(r);
	fa_arena_free(q->arena);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_login_form, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_roundtrip, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_logout, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_session_idle, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_password_unknown_user_identical, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_csrf, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_form_expired, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_missing_fields, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_throttle, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_outage, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_open_redirect, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_session_fixation, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_session_cookie_checks, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cookie_flags_insecure, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_oidc_configuration, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_oidc_configuration_redirect, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_url_roundtrip, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
