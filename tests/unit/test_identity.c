/* test_identity.c -- the identity layer's pieces without HTTP: cookie
 * sealing (round trip, any changed byte, wrong key, wrong cookie name,
 * expiry), the open-redirect check, the login URL, the throttle counters,
 * and fa_identity_new's option and config checks.
 *
 * The HTTP flows (/login, /logout, sessions through the dispatcher) are in
 * test_identity_login.c. Every test works in its own mkdtemp() directory,
 * removed afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fa_test.h"
#include "http/http_int.h"
#include "identity/identity_int.h"

#define T0 1700000000LL

static const unsigned char block_key[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char hash_key[64] =
	"hash-key-hash-key-hash-key-hash-key-hash-key-hash-key-hash-key-h";

struct fx {
	char dir[64];
	struct fa_store *st;
	struct fa_config *cfg;
	struct fa_log log;
	char *logbuf;
	size_t loglen;
	FILE *logfp;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[128];

	assert_non_null(f);
	fa_test_tmpdir(f->dir, sizeof(f->dir), "test_identity");
	f->logfp = fa_test_log_open(&f->log, &f->logbuf, &f->loglen);
	snprintf(path, sizeof(path), "%s/db", f->dir);
	f->st = fa_test_store_open(path, &f->log);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	fa_config_free(f->cfg);
	fa_store_free(f->st);
	fclose(f->logfp);
	free(f->logbuf);
	fa_test_rmdir(f->dir);
	free(f);
	return 0;
}

static struct fa_config *load(const char *yaml)
{
	struct fa_config *cfg = NULL;
	struct fa_err err;

	fa_err_clear(&err);
	if (fa_config_load_buffer("t.yaml", yaml, strlen(yaml), NULL, &cfg, &err) != FA_OK)
		fail_msg("config: %s", err.msg);
	return cfg;
}

static void opts_init(struct fa_identity_opts *o, struct fx *f)
{
	memset(o, 0, sizeof(*o));
	o->cfg = f->cfg;
	o->store = f->st;
	o->log = &f->log;
	o->issuer = "https://flyte.example.com";
	o->cookie_block_key = block_key;
	o->cookie_block_key_len = sizeof(block_key);
	o->cookie_hash_key = hash_key;
	o->cookie_hash_key_len = sizeof(hash_key);
}

/* ---- sealing -------------------------------------------------------------------- */

static void derive(const char *purpose, unsigned char key[FA_SEAL_KEY_LEN])
{
	assert_int_equal(fa_identity_key_derive(block_key, sizeof(block_key), hash_key,
						sizeof(hash_key), purpose, key, NULL), FA_OK);
}

static void test_seal_roundtrip(void **state)
{
	struct fa_arena *a = fa_arena_new(64 * 1024);
	unsigned char key[FA_SEAL_KEY_LEN], out[64];
	char *s1 = NULL, *s2 = NULL;
	size_t n = 0;

	(void)state;
	derive("p", key);
	assert_int_equal(fa_identity_seal(key, "c", "hello", 5, a, &s1, NULL), FA_OK);
	assert_int_equal(fa_identity_seal(key, "c", "hello", 5, a, &s2, NULL), FA_OK);
	/* A fresh nonce each time: equal plaintexts never look alike. */
	assert_string_not_equal(s1, s2);
	/* version + 12 nonce + 5 + 16 tag = 34 bytes -> 46 base64url chars */
	assert_int_equal(strlen(s1), 46);
	assert_null(strpbrk(s1, "+/=;, \""));
	assert_int_equal(fa_identity_unseal(key, "c", s1, out, sizeof(out), &n, NULL), FA_OK);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "hello", 5);
	/* Empty plaintext works too. */
	assert_int_equal(fa_identity_seal(key, "c", "", 0, a, &s1, NULL), FA_OK);
	assert_int_equal(fa_identity_unseal(key, "c", s1, out, sizeof(out), &n, NULL), FA_OK);
	assert_int_equal(n, 0);
	fa_arena_free(a);
}

/* Tampering: every bit of every byte of the sealed value, flipped one at a
 * time, must be refused. */
static void test_seal_tamper_any_byte(void **state)
{
	struct fa_arena *a = fa_arena_new(64 * 1024);
	unsigned char key[FA_SEAL_KEY_LEN], raw[128], out[64];
	char *s = NULL, enc[256];
	size_t rawlen = 0, n;
	struct fa_err err;

	(void)state;
	derive("p", key);
	assert_int_equal(fa_identity_seal(key, "flyte_session", "session-id-and-expiry", 21, a, &s,
					  NULL), FA_OK);
	assert_int_equal(fa_b64_decode(s, strlen(s), FA_B64_URL | FA_B64_NOPAD, raw, sizeof(raw),
				       &rawlen), FA_OK);
	for (size_t i = 0; i < rawlen; i++)
		for (int bit = 0; bit < 8; bit++) {
			raw[i] ^= (unsigned char)(1u << bit);
			assert_int_equal(fa_b64_encode(raw, rawlen, FA_B64_URL | FA_B64_NOPAD, enc,
						       sizeof(enc)), FA_OK);
			fa_err_clear(&err);
			assert_int_equal(fa_identity_unseal(key, "flyte_session", enc, out,
							    sizeof(out), &n, &err), FA_EDENIED);
			assert_int_equal(n, 0);
			raw[i] ^= (unsigned char)(1u << bit);
		}
	/* Truncated, extended, garbage, empty. */
	enc[0] = '\0';
	snprintf(enc, sizeof(enc), "%.*s", (int)strlen(s) - 1, s);
	assert_int_equal(fa_identity_unseal(key, "flyte_session", enc, out, sizeof(out), &n, NULL),
			 FA_EDENIED);
	snprintf(enc, sizeof(enc), "%sAA", s);
	assert_int_equal(fa_identity_unseal(key, "flyte_session", enc, out, sizeof(out), &n, NULL),
			 FA_EDENIED);
	assert_int_equal(fa_identity_unseal(key, "flyte_session", "not base64!", out, sizeof(out),
					    &n, &err), FA_EDENIED);
	assert_non_null(strstr(err.msg, "not a sealed value"));
	assert_int_equal(fa_identity_unseal(key, "flyte_session", "", out, sizeof(out), &n, NULL),
			 FA_EDENIED);
	/* The untouched value still opens. */
	assert_int_equal(fa_identity_unseal(key, "flyte_session", s, out, sizeof(out), &n, NULL),
			 FA_OK);
	fa_arena_free(a);
}

static void test_seal_wrong_key(void **state)
{
	struct fa_arena *a = fa_arena_new(64 * 1024);
	unsigned char k1[FA_SEAL_KEY_LEN], k2[FA_SEAL_KEY_LEN], other_block[32], out[64];
	char *s = NULL;
	size_t n;
	struct fa_err err;

	(void)state;
	derive("flyteauth session cookie v1", k1);
	/* Another purpose from the same keys is another key. */
	derive("flyteauth login form v1", k2);
	assert_memory_not_equal(k1, k2, sizeof(k1));
	assert_int_equal(fa_identity_seal(k1, "c", "secret", 6, a, &s, NULL), FA_OK);
	fa_err_clear(&err);
	assert_int_equal(fa_identity_unseal(k2, "c", s, out, sizeof(out), &n, &err), FA_EDENIED);
	assert_non_null(strstr(err.msg, "does not authenticate"));
	/* A different block key (same hash key) derives a different key. */
	memcpy(other_block, block_key, sizeof(other_block));
	other_block[0] ^= 1;
	assert_int_equal(fa_identity_key_derive(other_block, 32, hash_key, 64,
						"flyteauth session cookie v1", k2, NULL), FA_OK);
	assert_int_equal(fa_identity_unseal(k2, "c", s, out, sizeof(out), &n, NULL), FA_EDENIED);
	/* ... and a different hash key too: both keys are bound in. */
	{
		unsigned char other_hash[64];

		memcpy(other_hash, hash_key, sizeof(other_hash));
		other_hash[63] ^= 1;
		assert_int_equal(fa_identity_key_derive(block_key, 32, other_hash, 64,
							"flyteauth session cookie v1", k2, NULL),
				 FA_OK);
		assert_int_equal(fa_identity_unseal(k2, "c", s, out, sizeof(out), &n, NULL),
				 FA_EDENIED);
	}
	fa_arena_free(a);
}

/* A value sealed for one cookie never opens as another (AAD = name). */
static void test_seal_cookie_swap(void **state)
{
	struct fa_arena *a = fa_arena_new(64 * 1024);
	unsigned char key[FA_SEAL_KEY_LEN], out[64];
	char *s = NULL;
	size_t n;

	(void)state;
	derive("p", key);
	assert_int_equal(fa_identity_seal(key, FA_IDENTITY_CSRF_COOKIE, "x", 1, a, &s, NULL), FA_OK);
	assert_int_equal(fa_identity_unseal(key, FA_IDENTITY_SESSION_COOKIE, s, out, sizeof(out), &n,
					    NULL), FA_EDENIED);
	/* Too small a buffer is refused, not overflowed. */
	assert_int_equal(fa_identity_seal(key, "c", "0123456789", 10, a, &s, NULL), FA_OK);
	assert_int_equal(fa_identity_unseal(key, "c", s, out, 4, &n, NULL), FA_EDENIED);
	fa_arena_free(a);
}

static void test_seal_limits(void **state)
{
	struct fa_arena *a = fa_arena_new(64 * 1024);
	unsigned char key[FA_SEAL_KEY_LEN];
	static char big[FA_SEAL_MAX_PLAIN + 1];
	char *s = NULL;
	struct fa_err err;

	(void)state;
	derive("p", key);
	memset(big, 'x', sizeof(big));
	assert_int_equal(fa_identity_seal(key, "c", big, FA_SEAL_MAX_PLAIN, a, &s, NULL), FA_OK);
	assert_true(strlen(s) <= FA_MAX_COOKIE);
	fa_err_clear(&err);
	assert_int_equal(fa_identity_seal(key, "c", big, sizeof(big), a, &s, &err), FA_ETOOBIG);
	assert_non_null(strstr(err.msg, "over"));
	fa_err_clear(&err);
	assert_int_equal(fa_identity_seal(key, "", "x", 1, a, &s, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "bad cookie name"));
	fa_err_clear(&err);
	assert_int_equal(fa_identity_key_derive(block_key, 32, NULL, 0, "p", key, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "both cookie keys"));
	fa_arena_free(a);
}

static void test_mac(void **state)
{
	unsigned char key[FA_SEAL_KEY_LEN];
	char m1[FA_TOKEN_CHARS + 1], m2[FA_TOKEN_CHARS + 1];

	(void)state;
	derive("flyteauth csrf token v1", key);
	assert_int_equal(fa_identity_mac(key, "nonce", 5, m1, NULL), FA_OK);
	assert_int_equal(strlen(m1), FA_TOKEN_CHARS);
	assert_int_equal(fa_identity_mac(key, "nonce", 5, m2, NULL), FA_OK);
	assert_string_equal(m1, m2);
	assert_int_equal(fa_identity_mac(key, "nonce2", 6, m2, NULL), FA_OK);
	assert_string_not_equal(m1, m2);
}

/* ---- redirects --------------------------------------------------------------- */

/* Accepted origins, as URLs (authorizedUris and the issuer). */
static const char *const origins[3] = {
	"https://flyte.example.com", "http://localhost:30081/console", "https://[::1]:8443",
};

static void test_open_redirect(void **state)
{
	static const char *const bad[] = {
		"//evil.com",
		"//evil.com/",
		"/\\evil.com",
		"\\\\evil.com",
		"/\\/evil.com",
		"https://evil.com",
		"http://evil.com/console",
		"https://flyte.example.com.evil.com",
		"https://flyte.example.com.evil.com/console",
		"https://flyte.example.com@evil.com",
		"https://flyte.example.com:443@evil.com/",
		"https://user:pass@flyte.example.com/",
		"https://flyte.example.com%40evil.com",
		"https://evil.com#@flyte.example.com",
		"https://evil.com\\@flyte.example.com",
		"javascript:alert(1)",
		"JaVaScRiPt:alert(document.cookie)",
		"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
		"%2F%2Fevil.com",
		"%2f%2fevil.com",
		"/%2F/evil.com/\\x",
		"https:evil.com",
		"https:/evil.com",
		"https:///evil.com",
		"http://flyte.example.com",        /* scheme differs */
		"https://flyte.example.com:8443/", /* port differs */
		"http://localhost:30082/",
		"ftp://flyte.example.com/",
		"evil.com",
		"./evil",
		" /console",
		"/console evil",
		"/\tconsole",
		"/\nLocation: https://evil.com",
		"https://evil.com\r\n",
		"/caf\xc3\xa9",
		"https://[::2]:8443/",
		"https://flyte.example.com:0/",
		"https://flyte.example.com:99999/",
		"https://flyte.example.com:/",
		"https://fly_te.example.com/",
		"",
	};
	static const char *const good[] = {
		"/console",
		"/",
		"/console/projects?domain=development#x",
		"/oauth2/authorize_callback?request=abc",
		"/%2F%2Fevil.com",                 /* a path on this server */
		"https://flyte.example.com",
		"https://flyte.example.com/console",
		"HTTPS://FLYTE.EXAMPLE.COM/Console",
		"https://flyte.example.com:443/console",
		"https://flyte.example.com./console",
		"http://localhost:30081/console",
		"https://[::1]:8443/x",
	};
	struct fa_err err;
	char longp[FA_MAX_REDIRECT_URI + 2];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		fa_err_clear(&err);
		if (fa_identity_redirect_check(origins, 3, bad[i], &err) != FA_EINVAL)
			fail_msg("accepted open redirect payload #%zu", i);
		assert_string_equal(err.oauth_error, "invalid_request");
		/* The message never quotes the payload. */
		if (strlen(bad[i]) > 6)
			assert_null(strstr(err.msg, bad[i]));
	}
	for (size_t i = 0; i < ARRAY_LEN(good); i++)
		if (fa_identity_redirect_check(origins, 3, good[i], &err) != FA_OK)
			fail_msg("refused safe target %s: %s", good[i], err.msg);
	/* NULL, too long, no origins at all. */
	fa_err_clear(&err);
	assert_int_equal(fa_identity_redirect_check(origins, 3, NULL, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "empty"));
	memset(longp, 'a', sizeof(longp));
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	fa_err_clear(&err);
	assert_int_equal(fa_identity_redirect_check(origins, 3, longp, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "longer than"));
	longp[FA_MAX_REDIRECT_URI] = '\0';
	assert_int_equal(fa_identity_redirect_check(origins, 3, longp, NULL), FA_OK);
	fa_err_clear(&err);
	assert_int_equal(fa_identity_redirect_check(NULL, 0, "https://flyte.example.com/", &err),
			 FA_EINVAL);
	assert_non_null(strstr(err.msg, "authorized origin"));
	fa_err_clear(&err);
	assert_int_equal(fa_identity_redirect_check(origins, 3, "https://flyte.example.com@evil.com",
						    &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "path on this server or an absolute URL"));
	fa_err_clear(&err);
	assert_int_equal(fa_identity_redirect_check(origins, 3, "/\\evil.com", &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "visible ASCII"));
	fa_err_clear(&err);
	assert_int_equal(fa_identity_redirect_check(origins, 3, "//evil.com", &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "'//'"));
}

static void test_escape(void **state)
{
	struct fa_arena *a = fa_arena_new(64 * 1024);

	(void)state;
	assert_string_equal(fa_identity_query_escape(a, "/oauth2/authorize_callback?request=a b&c"),
			    "/oauth2/authorize_callback%3Frequest%3Da%20b%26c");
	fa_arena_free(a);
}

static void test_login_url(void **state)
{
	struct fa_http srv;
	struct fa_req *req;
	const char *u;
	char longp[FA_MAX_REDIRECT_URI + 2];

	(void)state;
	memset(&srv, 0, sizeof(srv));
	req = fa_http_req_new(&srv, fa_arena_new(FA_MAX_REQUEST_ARENA), "/x");
	u = fa_identity_login_url(req, "/oauth2/authorize_callback?request=R1&x=%");
	assert_string_equal(u, "/login?redirect_url=/oauth2/authorize_callback%3Frequest%3DR1%26x%3D%25");
	assert_null(fa_identity_login_url(req, NULL));
	memset(longp, 'a', sizeof(longp));
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_null(fa_identity_login_url(req, longp));
	fa_arena_free(fa_req_arena(req));
}

/* ---- throttle -------------------------------------------------------------- */

static void test_throttle(void **state)
{
	struct fx *f = *state;
	struct fa_err err;
	int64_t wait = -1;

	for (int i = 0; i < FA_IDENTITY_USER_FREE_FAILURES; i++) {
		assert_int_equal(fa_identity_throttle_check(f->st, "10.0.0.1", "alice", T0, &wait,
							    NULL), FA_OK);
		assert_int_equal(wait, 0);
		assert_int_equal(fa_identity_throttle_fail(f->st, "10.0.0.1", "alice", T0, NULL),
				 FA_OK);
	}
	/* After the fifth failure: a delay of 1 s for the username, from any
	 * address, and told when to come back. */
	fa_err_clear(&err);
	assert_int_equal(fa_identity_throttle_check(f->st, "10.0.0.2", "alice", T0, &wait,
						    &err), FA_EDENIED);
	assert_string_equal(err.oauth_error, "slow_down");
	assert_int_equal(wait, 1);
	assert_non_null(strstr(err.msg, "too many failed logins"));
	/* A delay, not a lock: once it has passed, the real user may try. */
	assert_int_equal(fa_identity_throttle_check(f->st, "10.0.0.2", "alice", T0 + 1, &wait,
						    NULL), FA_OK);
	/* Each further failure doubles it, up to a minute. */
	assert_int_equal(fa_identity_throttle_fail(f->st, "10.0.0.1", "alice", T0 + 1, NULL), FA_OK);
	assert_int_equal(fa_identity_throttle_check(f->st, "10.0.0.2", "alice", T0 + 2, &wait,
						    NULL), FA_EDENIED);
	assert_int_equal(wait, 1);
	assert_int_equal(fa_identity_throttle_check(f->st, "10.0.0.2", "alice", T0 + 3, &wait,
						    NULL), FA_OK);
	assert_int_equal(fa_identity_throttle_delay(4), 0);
	assert_int_equal(fa_identity_throttle_delay(5), 1);
	assert_int_equal(fa_identity_throttle_delay(6), 2);
	assert_int_equal(fa_identity_throttle_delay(8), 8);
	assert_int_equal(fa_identity_throttle_delay(11), 60);
	assert_int_equal(fa_identity_throttle_delay(1000), 60);
	/* Another user from the first address is fine. */
	assert_int_equal(fa_identity_throttle_check(f->st, "10.0.0.1", "bob", T0, &wait, NULL),
			 FA_OK);
	/* The (address, username) pair has a cap of its own: past it, that
	 * address may not try that username until the window ends, while
	 * another address may (after the delay). */
	for (int i = 0; i < FA_IDENTITY_PAIR_MAX_FAILURES; i++)
		assert_int_equal(fa_identity_throttle_fail(f->st, "10.5.5.5", "carol", T0, NULL),
				 FA_OK);
	assert_int_equal(fa_identity_throttle_check(f->st, "10.5.5.5", "carol", T0 + 120, &wait,
						    NULL), FA_EDENIED);
	assert_int_equal(wait, FA_IDENTITY_THROTTLE_WINDOW_S - 120);
	assert_int_equal(fa_identity_throttle_check(f->st, "10.5.5.6", "carol", T0 + 120, &wait,
						    NULL), FA_OK);
	/* The window ends. */
	assert_int_equal(fa_identity_throttle_check(f->st, "10.5.5.5", "carol",
						    T0 + FA_IDENTITY_THROTTLE_WINDOW_S, &wait, NULL),
			 FA_OK);
	/* An address spraying many usernames hits the address cap. */
	for (int i = 0; i < FA_IDENTITY_ADDR_MAX_FAILURES; i++) {
		char user[16];

		snprintf(user, sizeof(user), "u%d", i);
		assert_int_equal(fa_identity_throttle_fail(f->st, "10.9.9.9", user, T0, NULL), FA_OK);
	}
	assert_int_equal(fa_identity_throttle_check(f->st, "10.9.9.9", "fresh", T0, &wait, NULL),
			 FA_EDENIED);
	assert_int_equal(fa_identity_throttle_check(f->st, "10.9.9.8", "fresh", T0, &wait, NULL),
			 FA_OK);
}

static void test_throttle_keys(void **state)
{
	struct fa_throttle_keys k1, k2;

	(void)state;
	/* One IPv6 /64 is one address for the throttle. */
	fa_identity_throttle_keys("2001:db8:1:2::1", "alice", &k1);
	fa_identity_throttle_keys("2001:db8:1:2:ffff::9", "Alice", &k2);
	assert_string_equal(k1.addr, k2.addr);
	assert_string_not_equal(k1.user, k2.user);
	assert_string_not_equal(k1.pair, k2.pair);
	assert_string_not_equal(k1.delay, k2.delay);
	fa_identity_throttle_keys("2001:db8:1:3::1", "alice", &k2);
	assert_string_not_equal(k1.addr, k2.addr);
	assert_string_equal(k1.user, k2.user);
	assert_string_equal(k1.delay, k2.delay);
	assert_string_not_equal(k1.pair, k2.pair);
	/* Hashed: the key names neither the address nor the user. */
	assert_int_equal(strncmp(k1.addr, "ip:", 3), 0);
	assert_int_equal(strlen(k1.addr), 3 + 64);
	assert_int_equal(strncmp(k1.user, "user:", 5), 0);
	assert_null(strstr(k1.user, "alice"));
	assert_int_equal(strncmp(k1.pair, "pair:", 5), 0);
	assert_int_equal(strncmp(k1.delay, "delay:", 6), 0);
	fa_identity_throttle_keys("127.0.0.1", "alice", &k1);
	fa_identity_throttle_keys("127.0.0.2", "alice", &k2);
	assert_string_not_equal(k1.addr, k2.addr);
	assert_string_not_equal(k1.pair, k2.pair);
	assert_string_equal(k1.delay, k2.delay);
}

/* ---- fa_identity_new ---------------------------------------------------------- */

static void test_new_options(void **state)
{
	struct fx *f = *state;
	struct fa_identity_opts o;
	struct fa_identity *id;
	struct fa_err err;

	f->cfg = load("auth: {authorizedUris: [https://flyte.example.com]}\n");
	opts_init(&o, f);
	{
		char *pw = (char *)"sentinel";

		o.dev_password = &pw;
		id = fa_identity_new(&o, NULL);
		assert_non_null(id);
		/* No dev user unless asked: nothing to print. */
		assert_null(pw);
		o.dev_password = NULL;
	}
	assert_int_equal(id->session_ttl_s, 3600);   /* refreshTokenLifespan 1h */
	assert_true(id->secure);
	assert_int_equal(id->same_site, FA_SAME_SITE_LAX);
	assert_null(id->domain);
	fa_identity_free(id);
	fa_identity_free(NULL);

	o.cookie_block_key_len = 16;
	fa_err_clear(&err);
	assert_null(fa_identity_new(&o, &err));
	assert_int_equal(err.rc, FA_EINVAL);
	assert_non_null(strstr(err.msg, "cookie_block_key must be 32 bytes, got 16"));
	opts_init(&o, f);
	o.cookie_hash_key = NULL;
	fa_err_clear(&err);
	assert_null(fa_identity_new(&o, &err));
	assert_non_null(strstr(err.msg, "cookie_hash_key must be 64 bytes, got 0"));
	opts_init(&o, f);
	o.issuer = NULL;
	fa_err_clear(&err);
	assert_null(fa_identity_new(&o, &err));
	assert_non_null(strstr(err.msg, "needs a config, a store and an issuer"));
	opts_init(&o, f);
	o.issuer = "not a url";
	fa_err_clear(&err);
	assert_null(fa_identity_new(&o, &err));
	assert_non_null(strstr(err.msg, "issuer:"));
	opts_init(&o, f);
	o.session_ttl_s = 5;
	id = fa_identity_new(&o, NULL);
	assert_int_equal(id->session_ttl_s, FA_IDENTITY_SESSION_MIN_S);
	fa_identity_free(id);
}

static void test_new_cookie_settings(void **state)
{
	static const char none_insecure[] = "server: {security: {insecureCookieHeader: true}}\n"
		"auth:\n  userAuth:\n    cookieSetting: {sameSitePolicy: NoneMode}\n";
	static const char evil_default[] = "auth: {userAuth: {redirectUrl: 'https://evil.com/'}}\n";
	struct fx *f = *state;
	struct fa_identity_opts o;
	struct fa_identity *id;
	struct fa_err err;

	f->cfg = load("server: {security: {insecureCookieHeader: true}}\n"
		      "auth:\n  userAuth:\n    cookieSetting: {sameSitePolicy: StrictMode, "
		      "domain: example.com}\n");
	opts_init(&o, f);
	id = fa_identity_new(&o, NULL);
	assert_non_null(id);
	assert_false(id->secure);
	assert_int_equal(id->same_site, FA_SAME_SITE_STRICT);
	assert_string_equal(id->domain, "example.com");
	fa_identity_free(id);
	fa_config_free(f->cfg);

	/* SameSite=None without Secure would be dropped by browsers, and the
	 * default redirect target must itself be safe: the config module
	 * refuses both (identity used to, only when serve started it). */
	assert_int_equal(fa_config_load_buffer("t.yaml", none_insecure, strlen(none_insecure), NULL,
					       &f->cfg, &err), FA_ECONFIG);
	assert_non_null(strstr(err.msg, "NoneMode needs Secure cookies"));
	assert_int_equal(fa_config_load_buffer("t.yaml", evil_default, strlen(evil_default), NULL,
					       &f->cfg, &err), FA_ECONFIG);
	assert_non_null(strstr(err.msg, "auth.userAuth.redirectUrl is not on an authorized origin"));
	assert_null(f->cfg);
}

static void test_dev_user(void **state)
{
	struct fx *f = *state;
	struct fa_identity_opts o;
	struct fa_identity *id, *id2;
	json_t *user = NULL;
	char *pw, *pw2;

	f->cfg = fa_config_new_defaults();
	assert_non_null(f->cfg);
	opts_init(&o, f);
	o.dev_default_user = true;
	o.dev_password = &pw;
	id = fa_identity_new(&o, NULL);
	assert_non_null(id);
	assert_non_null(pw);
	assert_int_equal(strlen(pw), FA_TOKEN_CHARS);
	assert_int_equal(fa_identity_local_check(id, FA_IDENTITY_DEV_USER, pw, &user, NULL), FA_OK);
	assert_string_equal(json_string_value(json_object_get(user, "sub")), "flyte");
	assert_string_equal(json_string_value(json_object_get(user, "preferred_username")), "flyte");
	json_decref(user);
	/* A second instance (or the next start) shares the hash and never
	 * sees the password. */
	pw2 = (char *)"sentinel";
	o.dev_password = &pw2;
	id2 = fa_identity_new(&o, NULL);
	assert_non_null(id2);
	assert_null(pw2);
	assert_int_equal(fa_identity_local_check(id2, FA_IDENTITY_DEV_USER, pw, &user, NULL), FA_OK);
	json_decref(user);
	assert_int_equal(fa_identity_local_check(id2, FA_IDENTITY_DEV_USER, "wrong", &user, NULL),
			 FA_EDENIED);
	assert_null(user);
	/* The password is not in the store or the log. */
	assert_non_null(f->logbuf);
	fflush(f->logfp);
	assert_null(strstr(f->logbuf, pw));
	fa_free_secret(pw);
	fa_identity_free(id2);
	fa_identity_free(id);
}

static void test_local_users(void **state)
{
	struct fx *f = *state;
	struct fa_identity_opts o;
	struct fa_identity *id;
	char b64[FA_BCRYPT_B64_LEN + 1], raw[FA_BCRYPT_LEN + 1], yaml[1024];
	json_t *user = NULL;
	struct fa_err err;

	assert_int_equal(fa_secret_hash("s3cret", 6, 4, b64, raw, NULL), FA_OK);
	snprintf(yaml, sizeof(yaml),
		 "auth:\n  userAuth:\n    localUsers:\n"
		 "      - {username: alice, passwordHash: %s, name: Alice Example, "
		 "email: alice@example.com}\n"
		 "      - {username: bob, passwordHash: '%s'}\n", b64, raw);
	f->cfg = load(yaml);
	opts_init(&o, f);
	o.dev_default_user = true;      /* ignored: users are configured */
	{
		char *pw = (char *)"sentinel";

		o.dev_password = &pw;
		id = fa_identity_new(&o, NULL);
		assert_non_null(id);
		assert_null(pw);
	}
	assert_int_equal(id->n_users, 2);
	/* The dummy hash has the users' cost, so unknown users cost the same. */
	assert_int_equal(strncmp(id->dummy_hash, "$2b$04$", 7), 0);
	assert_int_equal(fa_identity_local_check(id, "alice", "s3cret", &user, NULL), FA_OK);
	assert_string_equal(json_string_value(json_object_get(user, "sub")), "alice");
	assert_string_equal(json_string_value(json_object_get(user, "name")), "Alice Example");
	assert_string_equal(json_string_value(json_object_get(user, "email")), "alice@example.com");
	json_decref(user);
	assert_int_equal(fa_identity_local_check(id, "bob", "s3cret", &user, NULL), FA_OK);
	assert_null(json_object_get(user, "name"));
	json_decref(user);
	fa_err_clear(&err);
	assert_int_equal(fa_identity_local_check(id, "alice", "S3cret", &user, &err), FA_EDENIED);
	assert_string_equal(err.msg, "Invalid username or password.");
	assert_string_equal(err.oauth_error, "access_denied");
	{
		struct fa_err err2;

		fa_err_clear(&err2);
		assert_int_equal(fa_identity_local_check(id, "mallory", "s3cret", &user, &err2),
				 FA_EDENIED);
		assert_string_equal(err.msg, err2.msg);
		assert_string_equal(err.oauth_error, err2.oauth_error);
	}
	/* Case matters: usernames are exact. */
	assert_int_equal(fa_identity_local_check(id, "Alice", "s3cret", &user, NULL), FA_EDENIED);
	fa_identity_free(id);
}

static void test_openid_configured(void **state)
{
	struct fx *f = *state;
	struct fa_identity_opts o;
	struct fa_identity *id;
	struct fa_remote *r = NULL;
	struct fa_remote_issuer *iss = NULL;
	struct fa_remote_issuer_opts io = { .kind = FA_DISCOVERY_OIDC,
					    .issuer = "http://127.0.0.1:9/realms/x" };
	struct fa_err e;

	f->cfg = load("auth: {userAuth: {openId: {baseUrl: 'http://127.0.0.1:9/realms/x', "
		      "clientId: flyte}}}\n");
	opts_init(&o, f);
	o.dev_default_user = true;
	/* The IdP's issuer, HTTP client and secret are required. */
	fa_err_clear(&e);
	assert_null(fa_identity_new(&o, &e));
	assert_int_equal(e.rc, FA_EINVAL);
	assert_int_equal(fa_remote_new(NULL, &r, NULL), FA_OK);
	assert_int_equal(fa_remote_issuer_start(r, &io, &iss, NULL), FA_OK);
	o.idp = iss;
	o.idp_remote = r;
	o.idp_client_secret = "idp-secret";
	{
		char *pw = (char *)"sentinel";

		o.dev_password = &pw;
		id = fa_identity_new(&o, NULL);
		assert_non_null(id);
		assert_ptr_equal(id->provider, &fa_identity_oidc_provider);
		/* No development user beside an IdP. */
		assert_null(pw);
		assert_int_equal(id->n_users, 0);
		assert_string_equal(id->idp_redirect_uri, "https://flyte.example.com/callback");
	}
	fa_identity_free(id);
	fa_remote_issuer_free(iss);
	fa_remote_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_roundtrip),
		cmocka_unit_test(test_seal_tamper_any_byte),
		cmocka_unit_test(test_seal_wrong_key),
		cmocka_unit_test(test_seal_cookie_swap),
		cmocka_unit_test(test_seal_limits),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_open_redirect),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_login_url),
		cmocka_unit_test_setup_teardown(test_throttle, fx_setup, fx_teardown),
		cmocka_unit_test(test_throttle_keys),
		cmocka_unit_test_setup_teardown(test_new_options, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_new_cookie_settings, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dev_user, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_local_users, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_openid_configured, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
