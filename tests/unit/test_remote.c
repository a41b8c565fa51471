/* test_remote.c -- the remote module's pure policies, no network: which
 * URLs may be fetched and how they appear in messages, the loopback test,
 * flyteadmin's baseUrl + metadataUrl join, the OIDC and RFC 8414
 * well-known URLs, the issuer comparison (one trailing slash, Entra ID's
 * multi-tenant template and nothing else), and discovery documents: every
 * required member, every type, the https downgrade rule, caps, JSON
 * hardening, the RSA default alg, the token issuer of a template, the
 * filtered copy, and reference counting.
 */
#include "remote_test_server.h"

#include "remote/remote.h"

#define ISS "https://idp.example.com"
#define WK ISS "/.well-known/openid-configuration"
#define TID "72f988bf-86f1-41af-91ab-2d7cd011db47"

/* ---- URLs ----------------------------------------------------------------- */

static void url_ok(const char *u)
{
	struct fa_err e;

	fa_err_clear(&e);
	if (fa_remote_url_check(u, "URL", &e) != FA_OK)
		print_error("%s: %s\n", u, e.msg);
	assert_int_equal(fa_remote_url_check(u, "URL", &e), FA_OK);
}

static void url_bad(const char *u, const char *sub)
{
	struct fa_err e;

	fa_err_clear(&e);
	expect_err(fa_remote_url_check(u, "jwks_uri", &e), &e, FA_EINVAL, sub);
	/* A refused URL's credentials never reach the message. */
	assert_null(strstr(e.msg, "hunter2"));
}

static void test_url_check(void **state)
{
	char big[FA_REMOTE_MAX_URL + 16];

	(void)state;
	url_ok("https://idp.example.com");
	url_ok("https://idp.example.com:8443/realms/flyte/protocol/openid-connect/certs");
	url_ok("http://127.0.0.1:9000/.well-known/openid-configuration");
	url_ok("https://[::1]:8443/keys");
	url_ok("https://login.microsoftonline.com/common/discovery/v2.0/keys?appid=1");
	url_bad("", "jwks_uri is empty");
	url_bad("ftp://idp.example.com/keys", "not an absolute http:// or https:// URL");
	/* Base's one grammar: the scheme is case-insensitive (RFC 3986 §3.1),
	 * as config check has always read baseUrl; refused here before. */
	url_ok("HTTPS://idp.example.com/keys");
	assert_true(fa_remote_url_is_https("HTTPS://idp.example.com/keys"));
	url_bad("//idp.example.com/keys", "not an absolute");
	url_bad("https:///keys", "with a host");
	url_bad("https://idp.example.com:x/keys", "with a host");
	url_bad("https://[::1/keys", "with a host");
	url_bad("https://user:hunter2@idp.example.com/keys", "must not carry user:password@");
	url_bad("https://idp.example.com/keys#frag", "must not have a #fragment");
	url_bad("https://idp.example.com/a b", "space, control or non-ASCII");
	url_bad("https://idp.example.com/\x01", "space, control or non-ASCII");
	url_bad("https://idp.example.com/\xc3\xa9", "non-ASCII");
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "https://x/", 10);
	big[sizeof(big) - 1] = '\0';
	url_bad(big, "longer than 2048 bytes");
	assert_true(fa_remote_url_is_https("https://x"));
	assert_false(fa_remote_url_is_https("http://x"));
	assert_false(fa_remote_url_is_https(NULL));
}

static void test_url_loopback(void **state)
{
	(void)state;
	assert_true(fa_remote_url_is_loopback("http://127.0.0.1:8080/x"));
	assert_true(fa_remote_url_is_loopback("http://127.1.2.3/"));
	assert_true(fa_remote_url_is_loopback("https://localhost"));
	assert_true(fa_remote_url_is_loopback("https://LOCALHOST:1/"));
	assert_true(fa_remote_url_is_loopback("http://[::1]:9/"));
	assert_false(fa_remote_url_is_loopback("http://127.0.0.1.evil.com/"));
	assert_false(fa_remote_url_is_loopback("http://127.0.0/"));
	assert_false(fa_remote_url_is_loopback("http://127.0.0.256/"));
	assert_false(fa_remote_url_is_loopback("http://127.0.0.01111/"));
	assert_false(fa_remote_url_is_loopback("http://128.0.0.1/"));
	assert_false(fa_remote_url_is_loopback("http://localhost.example.com/"));
	assert_false(fa_remote_url_is_loopback("http://10.0.0.1/"));
	assert_false(fa_remote_url_is_loopback("http://user@127.0.0.1.x/"));
	assert_false(fa_remote_url_is_loopback("not a url"));
}

static void test_url_redact(void **state)
{
	char out[FA_REMOTE_MAX_URL];

	(void)state;
	fa_remote_url_redact("https://u:hunter2@idp.example.com:8443/keys?client_secret=s3#f", out,
			     sizeof(out));
	assert_string_equal(out, "https://idp.example.com:8443/keys");
	/* A scheme in capitals is still a URL whose user info is left out. */
	fa_remote_url_redact("HTTPS://u:hunter2@idp.example.com/keys?x=1", out, sizeof(out));
	assert_string_equal(out, "https://idp.example.com/keys");
	fa_remote_url_redact("http://idp/a\x01" "b?x", out, sizeof(out));
	assert_string_equal(out, "http://idp/a?b");
	fa_remote_url_redact("garbage?token=x", out, sizeof(out));
	assert_string_equal(out, "garbage");
	fa_remote_url_redact("https://idp.example.com/a/very/long/path", out, 20);
	assert_int_equal(strlen(out), 19);
	assert_string_equal(out + 16, "...");
	fa_remote_url_redact(NULL, out, sizeof(out));
	assert_string_equal(out, "");
}

static void test_url_join(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(fa_remote_url_join("https://x/oauth2/default", ".well-known/a", out,
					    sizeof(out)), FA_OK);
	assert_string_equal(out, "https://x/oauth2/default/.well-known/a");
	assert_int_equal(fa_remote_url_join("https://x/v2.0/", "/.well-known/a", out, sizeof(out)),
			 FA_OK);
	assert_string_equal(out, "https://x/v2.0/.well-known/a");
	assert_int_equal(fa_remote_url_join("https://x", "https://y/meta", out, sizeof(out)), FA_OK);
	assert_string_equal(out, "https://y/meta");
	assert_int_equal(fa_remote_url_join("https://x", "a-very-long-relative-reference-that-"
					    "does-not-fit-in-the-buffer", out, sizeof(out)),
			 FA_ETOOBIG);
	assert_string_equal(out, "");
}

static void test_discovery_url(void **state)
{
	char out[256];
	struct fa_err e;

	(void)state;
	assert_int_equal(fa_discovery_url(FA_DISCOVERY_OIDC, ISS, out, sizeof(out), &e), FA_OK);
	assert_string_equal(out, WK);
	assert_int_equal(fa_discovery_url(FA_DISCOVERY_OIDC, ISS "/realms/flyte/", out, sizeof(out),
					  &e), FA_OK);
	assert_string_equal(out, ISS "/realms/flyte/.well-known/openid-configuration");
	/* RFC 8414 §3.1: the well-known segment goes before the path. */
	assert_int_equal(fa_discovery_url(FA_DISCOVERY_OAUTH, ISS "/tenant1", out, sizeof(out), &e),
			 FA_OK);
	assert_string_equal(out, ISS "/.well-known/oauth-authorization-server/tenant1");
	assert_int_equal(fa_discovery_url(FA_DISCOVERY_OAUTH, ISS "/", out, sizeof(out), &e), FA_OK);
	assert_string_equal(out, ISS "/.well-known/oauth-authorization-server");
	expect_err(fa_discovery_url(FA_DISCOVERY_OIDC, ISS "?x=1", out, sizeof(out), &e), &e,
		   FA_EINVAL, "must not have a query");
	expect_err(fa_discovery_url(FA_DISCOVERY_OIDC, ISS, out, 20, &e), &e, FA_ETOOBIG,
		   "longer than");
}

static void test_issuer_matches(void **state)
{
	bool tmpl = true;

	(void)state;
	assert_true(fa_discovery_issuer_matches(ISS, ISS, &tmpl));
	assert_false(tmpl);
	/* One trailing slash on either side, no more. */
	assert_true(fa_discovery_issuer_matches(ISS "/", ISS, NULL));
	assert_true(fa_discovery_issuer_matches(ISS, ISS "/", NULL));
	assert_false(fa_discovery_issuer_matches(ISS, ISS "//", NULL));
	/* Nothing else is normalised. */
	assert_false(fa_discovery_issuer_matches(ISS, "https://IDP.example.com", NULL));
	assert_false(fa_discovery_issuer_matches(ISS, "https://idp.example.com:443", NULL));
	assert_false(fa_discovery_issuer_matches(ISS, "http://idp.example.com", NULL));
	assert_false(fa_discovery_issuer_matches(ISS "/a", ISS "/A", NULL));
	assert_false(fa_discovery_issuer_matches(ISS, ISS "/x", NULL));
	assert_false(fa_discovery_issuer_matches("", "", NULL));
	assert_false(fa_discovery_issuer_matches(NULL, ISS, NULL));
	/* Entra ID's multi-tenant endpoints publish a template. */
	assert_true(fa_discovery_issuer_matches("https://login.microsoftonline.com/common/v2.0",
						"https://login.microsoftonline.com/{tenantid}/v2.0",
						&tmpl));
	assert_true(tmpl);
	assert_true(fa_discovery_issuer_matches("https://login.microsoftonline.com/organizations/v2.0/",
						"https://login.microsoftonline.com/{tenantid}/v2.0",
						NULL));
	/* ...but only those. */
	assert_false(fa_discovery_issuer_matches("https://login.microsoftonline.com/" TID "/v2.0",
						 "https://login.microsoftonline.com/{tenantid}/v2.0",
						 &tmpl));
	assert_false(tmpl);
	assert_false(fa_discovery_issuer_matches("https://evil.example.com/common/v2.0",
						 "https://login.microsoftonline.com/{tenantid}/v2.0",
						 NULL));
	assert_false(fa_discovery_issuer_matches("https://login.microsoftonline.com/common",
						 "https://login.microsoftonline.com/{tenantid}/v2.0",
						 NULL));
	assert_false(fa_discovery_issuer_matches("https://login.microsoftonline.com/common/v2.0",
						 "https://login.microsoftonline.com/{tenant}/v2.0",
						 NULL));
}

/* ---- discovery documents ---------------------------------------------------- */

/* A document like the ones the big IdPs publish, with slots for the
 * issuer, one endpoint's value and extra members. */
static char *doc_text(const char *issuer, const char *jwks_uri, const char *extra)
{
	char *s = NULL;
	int n = asprintf(&s,
		"{\"issuer\":\"%s\",\"authorization_endpoint\":\"%s/authorize\","
		"\"token_endpoint\":\"%s/token\",\"jwks_uri\":\"%s\","
		"\"userinfo_endpoint\":\"%s/userinfo\",\"end_session_endpoint\":\"%s/logout\","
		"\"device_authorization_endpoint\":\"%s/device\","
		"\"response_types_supported\":[\"code\",\"id_token\"],"
		"\"subject_types_supported\":[\"public\"],"
		"\"id_token_signing_alg_values_supported\":[\"RS256\",\"PS256\",\"ES384\",\"HS256\",\"none\"],"
		"\"scopes_supported\":[\"openid\",\"profile\",\"email\",\"offline_access\"],"
		"\"code_challenge_methods_supported\":[\"S256\"],"
		"\"token_endpoint_auth_methods_supported\":[\"client_secret_basic\",\"client_secret_post\"],"
		"\"claims_supported\":[\"sub\",\"email\"],\"x_vendor\":{\"a\":[1,2]}%s}",
		issuer, ISS, ISS, jwks_uri, ISS, ISS, ISS, extra);

	assert_true(n > 0);
	return s;
}

/* doc_text as a JSON object to edit. */
static json_t *doc_json(void)
{
	char *t = doc_text(ISS, ISS "/jwks", "");
	json_t *o = json_loads(t, 0, NULL);

	assert_non_null(o);
	free(t);
	return o;
}

static struct fa_discovery *parse_ok(enum fa_discovery_kind kind, const char *expected,
				     const char *text)
{
	struct fa_discovery *d = NULL;
	struct fa_err e;

	fa_err_clear(&e);
	if (fa_discovery_parse(kind, expected, WK, text, strlen(text), 0, &d, &e) != FA_OK)
		print_error("parse: %s\n", e.msg);
	assert_non_null(d);
	return d;
}

static void parse_fails(enum fa_discovery_kind kind, const char *text, enum fa_rc want,
			const char *sub)
{
	struct fa_discovery *d = (struct fa_discovery *)1;
	struct fa_err e;

	fa_err_clear(&e);
	expect_err(fa_discovery_parse(kind, ISS, WK, text, strlen(text), 0, &d, &e), &e, want, sub);
	assert_null(d);
}

static void test_discovery_parse_fields(void **state)
{
	char *t = doc_text(ISS, ISS "/jwks", "");
	struct fa_discovery *d = parse_ok(FA_DISCOVERY_OIDC, ISS "/", t), *d2;
	int64_t before = fa_now();

	(void)state;
	assert_int_equal(d->kind, FA_DISCOVERY_OIDC);
	assert_string_equal(d->issuer, ISS);   /* the document's spelling */
	assert_false(d->issuer_is_template);
	assert_string_equal(d->authorization_endpoint, ISS "/authorize");
	assert_string_equal(d->token_endpoint, ISS "/token");
	assert_string_equal(d->jwks_uri, ISS "/jwks");
	assert_string_equal(d->userinfo_endpoint, ISS "/userinfo");
	assert_string_equal(d->end_session_endpoint, ISS "/logout");
	assert_string_equal(d->device_authorization_endpoint, ISS "/device");
	assert_null(d->revocation_endpoint);
	assert_null(d->introspection_endpoint);
	assert_int_equal(d->scopes_supported.n, 4);
	assert_string_equal(d->scopes_supported.v[3], "offline_access");
	assert_true(fa_strlist_has(&d->code_challenge_methods_supported, "S256"));
	assert_false(fa_strlist_has(&d->code_challenge_methods_supported, "plain"));
	assert_true(fa_strlist_has(&d->token_endpoint_auth_methods_supported, "client_secret_post"));
	assert_int_equal(d->grant_types_supported.n, 0);
	assert_int_equal(d->claims_supported.n, 2);
	/* Only the algs we implement; none and HS256 never. */
	assert_int_equal(d->id_token_algs, FA_JWS_ALG_BIT(FA_JWS_RS256) | FA_JWS_ALG_BIT(FA_JWS_PS256) |
			 FA_JWS_ALG_BIT(FA_JWS_ES384));
	/* Two RSA algs: the default stays RS256. */
	assert_int_equal(fa_discovery_rsa_alg(d), FA_JWS_RS256);
	assert_string_equal(d->url, WK);
	assert_int_equal(d->raw_len, strlen(t));
	assert_memory_equal(d->raw, t, d->raw_len);
	assert_true(d->fetched_at >= before - 1 && d->fetched_at <= fa_now());
	assert_int_equal(d->max_age_s, -1);
	/* References: the struct lives until the last one is dropped. */
	d2 = fa_discovery_dup(d);
	assert_ptr_equal(d2, d);
	fa_discovery_free(d);
	assert_string_equal(d2->issuer, ISS);
	fa_discovery_free(d2);
	fa_discovery_free(NULL);
	free(t);

	/* A cached copy keeps its fetch time. */
	t = doc_text(ISS, ISS "/jwks", "");
	assert_int_equal(fa_discovery_parse(FA_DISCOVERY_OIDC, ISS, WK, t, strlen(t), 1234, &d, NULL),
			 FA_OK);
	assert_int_equal(d->fetched_at, 1234);
	fa_discovery_free(d);
	free(t);
}

static void test_discovery_rsa_alg(void **state)
{
	char *t = doc_text(ISS, ISS "/jwks", "");
	struct fa_discovery *d;
	char *p;

	(void)state;
	/* Exactly one RSA alg listed: RSA keys without alg are pinned to it. */
	p = strstr(t, "[\"RS256\",\"PS256\",");
	memcpy(p, "[\"PS384\",\"ES256\",", 17);
	d = parse_ok(FA_DISCOVERY_OIDC, ISS, t);
	assert_int_equal(fa_discovery_rsa_alg(d), FA_JWS_PS384);
	fa_discovery_free(d);
	free(t);
}

static void test_discovery_required(void **state)
{
	static const char *const oidc_required[] = {
		"authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
		"subject_types_supported", "id_token_signing_alg_values_supported",
	};
	json_t *base = doc_json();
	char *t;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(oidc_required); i++) {
		json_t *o = json_deep_copy(base);
		char want[128];

		json_object_del(o, oidc_required[i]);
		t = json_dumps(o, JSON_COMPACT);
		snprintf(want, sizeof(want), "OpenID configuration lacks %s", oidc_required[i]);
		parse_fails(FA_DISCOVERY_OIDC, t, FA_EINVAL, want);
		free(t);
		/* An explicit null is absence too. */
		json_object_set_new(o, oidc_required[i], json_null());
		t = json_dumps(o, JSON_COMPACT);
		parse_fails(FA_DISCOVERY_OIDC, t, FA_EINVAL, "lacks");
		free(t);
		json_decref(o);
	}
	/* RFC 8414 metadata needs fewer members. */
	json_object_del(base, "subject_types_supported");
	json_object_del(base, "id_token_signing_alg_values_supported");
	t = json_dumps(base, JSON_COMPACT);
	{
		struct fa_discovery *d = parse_ok(FA_DISCOVERY_OAUTH, ISS, t);

		assert_int_equal(d->kind, FA_DISCOVERY_OAUTH);
		assert_int_equal(d->id_token_algs, 0);
		fa_discovery_free(d);
	}
	free(t);
	json_object_del(base, "jwks_uri");
	t = json_dumps(base, JSON_COMPACT);
	parse_fails(FA_DISCOVERY_OAUTH, t, FA_EINVAL, "authorization server metadata lacks jwks_uri");
	free(t);
	json_object_del(base, "issuer");
	t = json_dumps(base, JSON_COMPACT);
	parse_fails(FA_DISCOVERY_OAUTH, t, FA_EINVAL, "has no issuer");
	free(t);
	json_decref(base);
	/* The code flow is the only one we use. */
	t = doc_text(ISS, ISS "/jwks", "");
	memcpy(strstr(t, "[\"code\","), "[\"cxde\",", 8);
	parse_fails(FA_DISCOVERY_OIDC, t, FA_EUNSUPPORTED, "response_types_supported lacks \"code\"");
	free(t);
}

static void test_discovery_types(void **state)
{
	static const struct {
		const char *member, *value, *msg;
	} cases[] = {
		{ "issuer", "7", "issuer must be a string" },
		{ "token_endpoint", "[\"x\"]", "token_endpoint must be a string" },
		{ "userinfo_endpoint", "\"mailto:a@b\"", "userinfo_endpoint mailto:a" },
		{ "jwks_uri", "\"https://idp.example.com/k#x\"", "must not have a #fragment" },
		{ "scopes_supported", "\"openid\"", "scopes_supported must be an array" },
		{ "scopes_supported", "[\"openid\",7]", "scopes_supported must hold strings" },
		{ "claims_supported", "[\"\"]", "claims_supported must hold strings of 1 to 256" },
	};
	json_t *base = doc_json();
	char *t;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		json_t *o = json_deep_copy(base);

		json_object_set_new(o, cases[i].member, json_loads(cases[i].value, JSON_DECODE_ANY, NULL));
		t = json_dumps(o, JSON_COMPACT);
		parse_fails(FA_DISCOVERY_OIDC, t, cases[i].member[0] == 'i' ? FA_EINVAL : FA_EINVAL,
			    cases[i].msg);
		free(t);
		json_decref(o);
	}
	json_decref(base);
}

static void test_discovery_issuer_policy(void **state)
{
	struct fa_discovery *d;
	struct fa_err e;
	char *t;

	(void)state;
	t = doc_text("https://other.example.com", ISS "/jwks", "");
	parse_fails(FA_DISCOVERY_OIDC, t, FA_EDENIED,
		    "issuer \"https://other.example.com\" is not the expected \"https://idp.example.com\"");
	free(t);
	t = doc_text(ISS "?tenant=1", ISS "/jwks", "");
	parse_fails(FA_DISCOVERY_OIDC, t, FA_EINVAL, "issuer must not have a query");
	free(t);
	t = doc_text("https://idp.example.com/{tenant}", ISS "/jwks", "");
	parse_fails(FA_DISCOVERY_OIDC, t, FA_EDENIED, "is a template; only Entra ID");
	free(t);
	/* Entra ID's v1.0 endpoint names another host: say what to do. */
	t = doc_text("https://sts.windows.net/" TID "/", ISS "/jwks", "");
	parse_fails(FA_DISCOVERY_OIDC, t, FA_EDENIED, "use the v2.0 endpoint");
	free(t);

	/* Entra ID multi-tenant: accepted on purpose, flagged. */
	t = doc_text("https://login.microsoftonline.com/{tenantid}/v2.0", ISS "/jwks", "");
	fa_err_clear(&e);
	assert_int_equal(fa_discovery_parse(FA_DISCOVERY_OIDC,
					    "https://login.microsoftonline.com/common/v2.0",
					    "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration",
					    t, strlen(t), 0, &d, &e), FA_OK);
	assert_true(d->issuer_is_template);
	{
		char out[256];
		json_t *claims = json_pack("{s:s}", "tid", TID);

		assert_int_equal(fa_discovery_token_issuer(d, claims, out, sizeof(out), &e), FA_OK);
		assert_string_equal(out, "https://login.microsoftonline.com/" TID "/v2.0");
		/* tid is spliced into a URL: only a GUID. */
		json_object_set_new(claims, "tid", json_string("x/../evil"));
		expect_err(fa_discovery_token_issuer(d, claims, out, sizeof(out), &e), &e, FA_EDENIED,
			   "no tid claim holding a GUID");
		json_object_set_new(claims, "tid", json_string(TID "0"));
		expect_err(fa_discovery_token_issuer(d, claims, out, sizeof(out), &e), &e, FA_EDENIED,
			   "GUID");
		json_object_del(claims, "tid");
		expect_err(fa_discovery_token_issuer(d, claims, out, sizeof(out), &e), &e, FA_EDENIED,
			   "no tid");
		expect_err(fa_discovery_token_issuer(d, NULL, out, sizeof(out), &e), &e, FA_EDENIED,
			   "no tid");
		json_decref(claims);
	}
	fa_discovery_free(d);
	/* The template's own spelling is https, so its endpoints must be. */
	fa_err_clear(&e);
	assert_int_equal(fa_discovery_parse(FA_DISCOVERY_OIDC,
					    "https://login.microsoftonline.com/common/v2.0",
					    "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration",
					    t, strlen(t), 0, &d, &e), FA_OK);
	fa_discovery_free(d);
	free(t);
	/* A template for a single-tenant base is a mismatch. */
	t = doc_text("https://login.microsoftonline.com/{tenantid}/v2.0", ISS "/jwks", "");
	fa_err_clear(&e);
	expect_err(fa_discovery_parse(FA_DISCOVERY_OIDC, "https://login.microsoftonline.com/" TID "/v2.0",
				      WK, t, strlen(t), 0, &d, &e), &e, FA_EDENIED, "is a template");
	free(t);

	/* A plain issuer: the token issuer is the issuer. */
	t = doc_text(ISS, ISS "/jwks", "");
	d = parse_ok(FA_DISCOVERY_OIDC, ISS, t);
	{
		char out[64];

		assert_int_equal(fa_discovery_token_issuer(d, NULL, out, sizeof(out), &e), FA_OK);
		assert_string_equal(out, ISS);
		expect_err(fa_discovery_token_issuer(d, NULL, out, 8, &e), &e, FA_ETOOBIG, "longer");
	}
	fa_discovery_free(d);
	free(t);
}

static void test_discovery_downgrade(void **state)
{
	struct fa_discovery *d;
	struct fa_err e;
	char *t;

	(void)state;
	/* An https issuer cannot point at http endpoints. */
	t = doc_text(ISS, "http://idp.example.com/jwks", "");
	parse_fails(FA_DISCOVERY_OIDC, t, FA_EDENIED, "jwks_uri is http under an https issuer");
	free(t);
	/* An http issuer (the operator's choice: loopback, in-cluster) may. */
	t = doc_text("http://idp.internal:8080", "http://idp.internal:8080/jwks", "");
	fa_err_clear(&e);
	assert_int_equal(fa_discovery_parse(FA_DISCOVERY_OIDC, "http://idp.internal:8080",
					    "http://idp.internal:8080/.well-known/openid-configuration",
					    t, strlen(t), 0, &d, &e), FA_OK);
	assert_string_equal(d->jwks_uri, "http://idp.internal:8080/jwks");
	fa_discovery_free(d);
	free(t);
}

static void test_discovery_hardening(void **state)
{
	char *t, *big;
	struct fa_discovery *d = NULL;
	struct fa_err e;
	struct fa_buf b;

	(void)state;
	parse_fails(FA_DISCOVERY_OIDC, "", FA_EINVAL, "not valid JSON");
	parse_fails(FA_DISCOVERY_OIDC, "[1,2]", FA_EINVAL, "is not a JSON object");
	parse_fails(FA_DISCOVERY_OIDC, "{\"issuer\":\"" ISS "\",\"issuer\":\"https://evil\"}",
		    FA_EINVAL, "not valid JSON");
	t = doc_text(ISS, ISS "/jwks", ",\"deep\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]");
	parse_fails(FA_DISCOVERY_OIDC, t, FA_EINVAL, "nests deeper than 16 levels");
	free(t);
	/* Caps: the document, a list's length. */
	big = calloc(1, FA_MAX_JWKS + 2);
	memset(big, ' ', FA_MAX_JWKS + 1);
	expect_err(fa_discovery_parse(FA_DISCOVERY_OIDC, ISS, WK, big, FA_MAX_JWKS + 1, 0, &d, &e), &e,
		   FA_ETOOBIG, "larger than 262144 bytes");
	free(big);
	fa_buf_init(&b, FA_MAX_JWKS);
	assert_int_equal(fa_buf_appends(&b, ",\"grant_types_supported\":[\"a\""), FA_OK);
	for (int i = 0; i < FA_DISCOVERY_MAX_LIST; i++)
		assert_int_equal(fa_buf_appends(&b, ",\"a\""), FA_OK);
	assert_int_equal(fa_buf_appends(&b, "]"), FA_OK);
	t = doc_text(ISS, ISS "/jwks", b.data);
	parse_fails(FA_DISCOVERY_OIDC, t, FA_ETOOBIG, "grant_types_supported has more than 256");
	free(t);
	fa_buf_cleanup(&b);
	/* Bad arguments. */
	t = doc_text(ISS, ISS "/jwks", "");
	expect_err(fa_discovery_parse(FA_DISCOVERY_OIDC, "not a url", WK, t, strlen(t), 0, &d, &e),
		   &e, FA_EINVAL, "expected issuer");
	expect_err(fa_discovery_parse(FA_DISCOVERY_OIDC, ISS, "ftp://x", t, strlen(t), 0, &d, &e), &e,
		   FA_EINVAL, "metadata URL");
	expect_err(fa_discovery_parse(0, ISS, WK, t, strlen(t), 0, &d, &e), &e, FA_EINVAL,
		   "unknown metadata kind");
	assert_null(d);
	free(t);
}

static void test_discovery_subset(void **state)
{
	static const char *const names[] = { "issuer", "scopes_supported", "x_vendor", "missing" };
	char *t = doc_text(ISS, ISS "/jwks", "");
	struct fa_discovery *d = parse_ok(FA_DISCOVERY_OIDC, ISS, t);
	json_t *o = NULL;
	char *s;

	(void)state;
	assert_int_equal(fa_discovery_subset(d, names, ARRAY_LEN(names), &o, NULL), FA_OK);
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"issuer\":\"" ISS "\",\"scopes_supported\":[\"openid\",\"profile\","
			    "\"email\",\"offline_access\"],\"x_vendor\":{\"a\":[1,2]}}");
	free(s);
	json_decref(o);
	fa_discovery_free(d);
	free(t);
}

static void test_form_add(void **state)
{
	struct fa_buf b;

	(void)state;
	fa_buf_init(&b, 256);
	assert_int_equal(fa_remote_form_add(&b, "grant_type", "authorization_code"), FA_OK);
	assert_int_equal(fa_remote_form_add(&b, "redirect_uri", "https://x/cb?a=1&b= 2"), FA_OK);
	assert_string_equal(b.data, "grant_type=authorization_code&redirect_uri="
			    "https%3A%2F%2Fx%2Fcb%3Fa%3D1%26b%3D%202");
	fa_buf_cleanup(&b);
	/* Pairs: a NULL value is left out; the buffer's cap stops it. */
	fa_buf_init(&b, 256);
	assert_int_equal(fa_remote_form_pairs(&b, (const char *const[]){
		"grant_type", "refresh_token", "client_id", NULL, "refresh_token", "r&t", NULL }),
		FA_OK);
	assert_string_equal(b.data, "grant_type=refresh_token&refresh_token=r%26t");
	fa_buf_cleanup(&b);
	fa_buf_init(&b, 16);
	assert_int_not_equal(fa_remote_form_pairs(&b, (const char *const[]){
		"a", "1", "b", "0123456789abcdef", "c", "3", NULL }), FA_OK);
	fa_buf_cleanup(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_check),
		cmocka_unit_test(test_url_loopback),
		cmocka_unit_test(test_url_redact),
		cmocka_unit_test(test_url_join),
		cmocka_unit_test(test_discovery_url),
		cmocka_unit_test(test_issuer_matches),
		cmocka_unit_test(test_discovery_parse_fields),
		cmocka_unit_test(test_discovery_rsa_alg),
		cmocka_unit_test(test_discovery_required),
		cmocka_unit_test(test_discovery_types),
		cmocka_unit_test(test_discovery_issuer_policy),
		cmocka_unit_test(test_discovery_downgrade),
		cmocka_unit_test(test_discovery_hardening),
		cmocka_unit_test(test_discovery_subset),
		cmocka_unit_test(test_form_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
