/* oidc.c -- the upstream IdP provider: flyteauth as an OpenID Connect
 * relying party (Core 1.0, authorization code flow with PKCE) of the
 * organisation's IdP, userAuth.openId.
 *
 * GET /login sends the browser to the IdP's authorization endpoint with a
 * fresh state, nonce and PKCE verifier; GET /callback takes it back,
 * exchanges the code (client secret: client_secret_basic, or
 * client_secret_post when the IdP's metadata lists only that), verifies the
 * ID token through the IdP's key set, reads userinfo when the IdP offers
 * it, and starts the same server-side session local users get.
 *
 * Invariants
 *  (1) state, nonce and verifier are 256 random bits each, kept by the
 *      browser only in one cookie sealed under a key of their own
 *      (flyte_csrf_state, Path=/callback): a third site can neither read
 *      nor forge them, and /login writes nothing to the store.
 *  (2) /callback compares the state parameter with the cookie's in
 *      constant time before anything else; a mismatch, a missing or
 *      expired cookie answers 400 with nothing written.
 *  (3) A state is spent once: the first callback that gets past (2)
 *      inserts its hash into the store; a replay finds it and changes
 *      nothing.
 *  (4) The ID token counts only after its signature (the IdP's key set,
 *      each key with its own alg), iss (Entra ID's {tenantid} template
 *      resolved by remote), aud, azp, exp/iat/nbf within
 *      FA_OIDC_LEEWAY_S, and nonce check out; userinfo, when read, must
 *      name the same sub.
 *  (5) The IdP's refresh token and ID token are kept only in the session
 *      record, sealed under a key derived from the cookie keys; no token,
 *      code or secret reaches a log line or a page.
 */
#include <string.h>

#include "identity/identity_int.h"
#include "jose/jose.h"

/* plain of the state cookie: state, nonce, verifier, expiry, redirect. */
#define RAND_LEN 32
#define OFF_NONCE RAND_LEN
#define OFF_VERIFIER (2 * RAND_LEN)
#define OFF_EXP (3 * RAND_LEN)
#define STATE_HEAD (3 * RAND_LEN + 8)
#define STATE_KIND "idp_state"
/* An ID token we accept: Entra ID's with many groups run to a few KiB. */
#define MAX_ID_TOKEN (16 * 1024)
/* error / error_description shown from the IdP. */
#define MAX_IDP_ERROR 256
#define MAX_IDP_ERROR_DESC 1024

static const char page_style[] = "main{max-width:32rem}";

/* ---- pages ---------------------------------------------------------------- */

/* An HTML page: heading and text are static; detail (may be NULL) is
 * escaped. link (static or escaped by the caller... always a path we
 * made) adds a "try again" link when not NULL. */
static void page(struct fa_identity *id, struct fa_resp *resp, int status, const char *heading,
		 const char *text, const char *detail, const char *link)
{
	struct fa_buf b;
	struct fa_err e;
	enum fa_rc rc;

	fa_err_clear(&e);
	fa_buf_init(&b, FA_MAX_RESPONSE);
	rc = fa_http_page_begin(&b, heading, heading, page_style);
	if (rc == FA_OK)
		rc = fa_buf_appendf(&b, "<p>%s</p>\n", text);
	if (rc == FA_OK && detail && detail[0]) {
		rc = fa_buf_appends(&b, "<p class=\"error\" role=\"alert\">");
		if (rc == FA_OK)
			rc = fa_buf_append_html(&b, detail);
		if (rc == FA_OK)
			rc = fa_buf_appends(&b, "</p>\n");
	}
	if (rc == FA_OK && link) {
		rc = fa_buf_appends(&b, "<p><a href=\"");
		if (rc == FA_OK)
			rc = fa_buf_append_html(&b, link);
		if (rc == FA_OK)
			rc = fa_buf_appends(&b, "\">Sign in again</a></p>\n");
	}
	if (rc == FA_OK)
		rc = fa_http_page_end(&b);
	if (rc != FA_OK ||
	    fa_resp_header(resp, "Content-Security-Policy", fa_identity_page_csp, &e) != FA_OK ||
	    fa_resp_page(resp, status, &b, &e) != FA_OK) {
		fa_log_warnx(id->log, "identity: cannot render a page");
		fa_resp_oauth_error(resp, status, "server_error", text);
	}
	fa_buf_cleanup(&b);
}

static void audit(const struct fa_identity *id, struct fa_req *req, const char *subject,
		  const char *outcome, const char *reason)
{
	fa_log_audit(id->log, &(struct fa_audit){
		.event = "login",
		.outcome = outcome,
		.subject = subject,
		.reason = reason,
		.remote_addr = fa_req_client_addr(req),
		.request_id = fa_req_id(req),
	});
}

/* ---- set-up ------------------------------------------------------------------ */

enum fa_rc fa_identity_oidc_init(struct fa_identity *id, const struct fa_identity_opts *o,
				 struct fa_err *err)
{
	const char *base = id->cfg->auth.user_auth.open_id.base_url;
	const char *why = NULL;
	size_t n = strlen(id->issuer_copy);
	struct fa_url u;
	enum fa_rc rc;

	if (!o->idp || !o->idp_remote || !o->idp_client_secret || !o->idp_client_secret[0])
		return fa_err_set(err, FA_EINVAL, "an upstream IdP needs its issuer, HTTP client and "
				  "client secret");
	id->idp = o->idp;
	id->idp_remote = o->idp_remote;
	id->idp_secret = fa_strndup(o->idp_client_secret, strlen(o->idp_client_secret));
	while (n > 0 && id->issuer_copy[n - 1] == '/')
		n--;
	id->idp_redirect_uri = malloc(n + sizeof("/callback"));
	if (!id->idp_secret || !id->idp_redirect_uri)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	memcpy(id->idp_redirect_uri, id->issuer_copy, n);
	memcpy(id->idp_redirect_uri + n, "/callback", sizeof("/callback"));
	if (fa_url_parse(base, strlen(base), &u, &why) != FA_OK)
		return fa_err_set(err, FA_ECONFIG, "auth.userAuth.openId.baseUrl: URL %s", why);
	id->idp_label = fa_strndup(u.host, u.host_len);
	if (!id->idp_label)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	rc = fa_discovery_url(FA_DISCOVERY_OIDC, base, id->idp_discovery_url,
			      sizeof(id->idp_discovery_url), err);
	if (rc != FA_OK)
		return rc;
	id->callback_rate = fa_limiter_new(FA_OIDC_CALLBACK_KEYS, FA_OIDC_CALLBACK_BURST,
					   FA_OIDC_CALLBACK_PER_S);
	if (!id->callback_rate)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	rc = fa_identity_key_derive(o->cookie_block_key, o->cookie_block_key_len,
				    o->cookie_hash_key, o->cookie_hash_key_len,
				    "flyteauth idp state cookie v1", id->idp_state_key, err);
	if (rc == FA_OK)
		rc = fa_identity_key_derive(o->cookie_block_key, o->cookie_block_key_len,
					    o->cookie_hash_key, o->cookie_hash_key_len,
					    "flyteauth idp tokens v1", id->idp_token_key, err);
	return rc;
}

/* ---- pure checks ----------------------------------------------------------- */

enum fa_rc fa_identity_oidc_idtoken_check(const json_t *claims, const char *client_id,
					  const char *nonce, struct fa_err *err)
{
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	const char *got = json_string_value(json_object_get(claims, "nonce"));
	const json_t *aud = json_object_get(claims, "aud");
	const json_t *azp = json_object_get(claims, "azp");

	if (!sub || !sub[0] || strnlen(sub, FA_MAX_ID + 1) > FA_MAX_ID)
		return fa_err_set(err, FA_EDENIED, "the ID token has no usable sub");
	if (!json_is_number(json_object_get(claims, "iat")))
		return fa_err_set(err, FA_EDENIED, "the ID token has no iat");
	if (!got || !fa_ct_eq(got, strnlen(got, FA_MAX_TOKEN), nonce, strlen(nonce)))
		return fa_err_set(err, FA_EDENIED, "the ID token's nonce is not this sign-in's");
	if ((azp || (json_is_array(aud) && json_array_size(aud) > 1)) &&
	    (!json_is_string(azp) || strcmp(json_string_value(azp), client_id) != 0))
		return fa_err_set(err, FA_EDENIED, "the ID token's azp is not this client");
	return FA_OK;
}

/* Claims of the IdP's answers that describe the token, not the user. */
static const char *const protocol_claims[] = {
	"sub", "iss", "aud", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "s_hash", "azp",
	"auth_time", "sid", "jti", "typ", "sid_hash", "uti", "rh", "aio",
};

static const char *const profile_claims[] = {
	"name", "preferred_username", "given_name", "family_name", "email", "email_verified",
	"picture", "groups",
};

static bool in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

/* The value's compact JSON size, 0 when it cannot be serialised. */
static size_t json_size(const json_t *v)
{
	return json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

static bool profile_type_ok(const char *name, const json_t *v)
{
	if (strcmp(name, "email_verified") == 0)
		return json_is_boolean(v);
	if (strcmp(name, "groups") == 0)
		return json_is_array(v);
	return json_is_string(v);
}

enum fa_rc fa_identity_oidc_user(const json_t *idt, const json_t *userinfo, json_t **user,
				 struct fa_err *err)
{
	const char *sub = json_string_value(json_object_get(idt, "sub"));
	const json_t *src[2] = { userinfo, idt };
	size_t total = 0;
	json_t *u;

	*user = NULL;
	if (!sub || !sub[0] || strnlen(sub, FA_MAX_ID + 1) > FA_MAX_ID)
		return fa_err_set(err, FA_EDENIED, "the ID token has no usable sub");
	if (userinfo) {
		const char *usub = json_string_value(json_object_get(userinfo, "sub"));

		if (!usub || strcmp(usub, sub) != 0)
			return fa_err_set(err, FA_EDENIED,
					  "userinfo names another subject than the ID token");
	}
	u = json_pack("{s:s}", "sub", sub);
	if (!u)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	/* Profile claims: userinfo's (fresher, often fuller), else the ID
	 * token's. */
	for (size_t i = 0; i < ARRAY_LEN(profile_claims); i++) {
		const char *name = profile_claims[i];

		for (size_t s = 0; s < 2; s++) {
			const json_t *v = src[s] ? json_object_get(src[s], name) : NULL;
			size_t sz;

			if (!v || !profile_type_ok(name, v))
				continue;
			/* the value, its name, quotes, colon and comma */
			sz = json_size(v) + strlen(name) + 4;
			if (sz == 4 + strlen(name) || sz > FA_OIDC_MAX_CLAIM ||
			    total + sz > FA_OIDC_MAX_CLAIMS)
				break;
			if (json_object_set(u, name, (json_t *)(uintptr_t)v) != 0)
				goto nomem;
			total += sz;
			break;
		}
	}
	/* Everything else the IdP said about the user, for /me's
	 * additional_claims, within the caps. */
	for (size_t s = 0; s < 2; s++) {
		const char *name;
		json_t *v;

		if (!src[s])
			continue;
		json_object_foreach((json_t *)(uintptr_t)src[s], name, v) {
			size_t sz;

			if (in_list(protocol_claims, ARRAY_LEN(protocol_claims), name) ||
			    in_list(profile_claims, ARRAY_LEN(profile_claims), name) ||
			    json_object_get(u, name) || strlen(name) > FA_MAX_ID)
				continue;
			sz = json_size(v) + strlen(name) + 4;
			if (sz == strlen(name) + 4 || sz > FA_OIDC_MAX_CLAIM ||
			    total + sz > FA_OIDC_MAX_CLAIMS)
				continue;
			if (json_object_set(u, name, v) != 0)
				goto nomem;
			total += sz;
		}
	}
	*user = u;
	return FA_OK;
nomem:
	json_decref(u);
	return fa_err_set(err, FA_ENOMEM, "out of memory");
}

/* ---- GET /login --------------------------------------------------------------- */

/* A value passed through to the IdP's authorization request: printable
 * ASCII, at most FA_MAX_ID bytes; else NULL. */
static const char *passable(const char *v)
{
	size_t n;

	if (!v)
		return NULL;
	n = strnlen(v, FA_MAX_ID + 1);
	if (n == 0 || n > FA_MAX_ID)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			return NULL;
	return v;
}

static bool host_is(const char *url, const char *host)
{
	struct fa_url u;
	const char *why = NULL;

	return fa_url_parse(url, strlen(url), &u, &why) == FA_OK && u.host_len == strlen(host) &&
	       strncmp(u.host, host, u.host_len) == 0;
}

/* The query of the authorization request (RFC 6749 §4.1.1, OIDC Core
 * §3.1.2.1, RFC 7636 §4.3). */
static enum fa_rc auth_query(struct fa_identity *id, struct fa_req *req,
			     const struct fa_discovery *d, const char *state, const char *nonce,
			     const char *challenge, struct fa_buf *q)
{
	const __typeof__(id->cfg->auth.user_auth) *ua = &id->cfg->auth.user_auth;
	const char *qp = ua->idp_query_parameter;
	struct fa_buf scope;
	enum fa_rc rc = FA_OK;

	fa_buf_init(&scope, FA_MAX_URL);
	for (size_t i = 0; rc == FA_OK && i < ua->open_id.scopes.count; i++) {
		if (i > 0)
			rc = fa_buf_appendc(&scope, ' ');
		if (rc == FA_OK)
			rc = fa_buf_appends(&scope, ua->open_id.scopes.items[i]);
	}
	/* PKCE: sent whether or not the metadata lists it; an IdP that does
	 * not know the parameters ignores them (RFC 6749 §3.1). */
	if (rc == FA_OK)
		rc = fa_remote_form_pairs(q, (const char *const[]){
			"response_type", "code", "client_id", ua->open_id.client_id,
			"redirect_uri", id->idp_redirect_uri,
			"scope", scope.data ? scope.data : "openid", "state", state, "nonce", nonce,
			"code_challenge", challenge, "code_challenge_method", "S256", NULL });
	/* flyteadmin's idpQueryParameter: /login?<name>=<v> is passed on as
	 * <name>=<v> (Okta's idp, for one). */
	if (rc == FA_OK && qp[0] && passable(fa_req_query(req, qp)))
		rc = fa_remote_form_add(q, qp, fa_req_query(req, qp));
	/* What a client may ask of the IdP through us. */
	if (rc == FA_OK && passable(fa_req_query(req, "prompt")))
		rc = fa_remote_form_add(q, "prompt", fa_req_query(req, "prompt"));
	if (rc == FA_OK && passable(fa_req_query(req, "login_hint")))
		rc = fa_remote_form_add(q, "login_hint", fa_req_query(req, "login_hint"));
	/* Google grants a refresh token only with access_type=offline. */
	if (rc == FA_OK && host_is(d->authorization_endpoint, "accounts.google.com"))
		rc = fa_remote_form_add(q, "access_type", "offline");
	fa_buf_cleanup(&scope);
	return rc;
}

/* 503 while the IdP's discovery document is not loaded. */
/* The page names the discovery URL, also while the first fetch is still
 * under way (the error then does not). */
static void idp_unavailable(struct fa_identity *id, struct fa_req *req, struct fa_resp *resp,
			    const struct fa_err *e)
{
	const char *detail = e->msg;

	if (!strstr(e->msg, id->idp_discovery_url))
		detail = fa_arena_printf(fa_req_arena(req), "%s: %s", id->idp_discovery_url, e->msg);
	if (fa_resp_header(resp, "Retry-After", "5", NULL) != FA_OK)
		fa_log_warnx(id->log, "identity: cannot set Retry-After");
	page(id, resp, 503, "Sign-in is temporarily unavailable",
	     "The identity provider cannot be reached right now. Please try again in a moment.",
	     detail ? detail : e->msg, NULL);
}

static void put_exp(unsigned char *p, int64_t v)
{
	for (int i = 7; i >= 0; i--)
		p[7 - i] = (unsigned char)((uint64_t)v >> (8 * i));
}

static int64_t get_exp(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return (int64_t)v;
}

/* The state cookie (value "" and max_age 0 clear it). It must come back
 * on the IdP's redirect, a cross-site top-level navigation, which a
 * SameSite=Strict cookie does not: Strict is relaxed to Lax for it (its
 * CSRF protection is the state comparison itself). */
static enum fa_rc state_cookie(const struct fa_identity *id, struct fa_resp *resp,
			       const char *value, int64_t max_age, struct fa_err *err)
{
	struct fa_cookie c = {
		.name = FA_IDENTITY_CSRF_COOKIE,
		.value = value,
		.path = "/callback",
		.domain = id->domain,
		.max_age = max_age,
		.http_only = true,
		.secure = id->secure,
		.same_site = id->same_site == FA_SAME_SITE_STRICT ? FA_SAME_SITE_LAX : id->same_site,
	};

	return fa_resp_cookie(resp, &c, err);
}

/* Unpadded base64url of n bytes into out (cap >= 44 for 32 bytes). */
static enum fa_rc b64(const unsigned char *p, size_t n, char *out, size_t cap)
{
	return fa_b64_encode(p, n, FA_B64_URL | FA_B64_NOPAD, out, cap);
}

static void oidc_redirect(struct fa_identity *id, struct fa_req *req, struct fa_resp *resp,
			  const char *redirect_url)
{
	unsigned char plain[STATE_HEAD + FA_MAX_REDIRECT_URI];
	char state[FA_TOKEN_CHARS + 1], nonce[FA_TOKEN_CHARS + 1];
	char verifier[FA_TOKEN_CHARS + 1], challenge[FA_TOKEN_CHARS + 1];
	size_t rlen = strlen(redirect_url);
	struct fa_discovery *d = NULL;
	char *sealed = NULL;
	const char *url;
	struct fa_buf q;
	struct fa_err e;
	enum fa_rc rc;

	fa_err_clear(&e);
	fa_buf_init(&q, FA_MAX_URL * 2);
	if (rlen > FA_MAX_REDIRECT_URI) {
		fa_resp_oauth_error(resp, 400, "invalid_request", "redirect_url is too long");
		return;
	}
	if (fa_remote_issuer_discovery(id->idp, &d, &e) != FA_OK) {
		idp_unavailable(id, req, resp, &e);
		return;
	}
	rc = fa_rand_bytes(plain, 3 * RAND_LEN);
	if (rc == FA_OK)
		rc = b64(plain, RAND_LEN, state, sizeof(state));
	if (rc == FA_OK)
		rc = b64(plain + OFF_NONCE, RAND_LEN, nonce, sizeof(nonce));
	if (rc == FA_OK)
		rc = b64(plain + OFF_VERIFIER, RAND_LEN, verifier, sizeof(verifier));
	if (rc == FA_OK)
		rc = fa_sha256_b64url(verifier, strlen(verifier), challenge);
	if (rc != FA_OK) {
		e.rc = FA_ECRYPTO;
		fa_identity_fail500(id, resp, &e);
		goto out;
	}
	put_exp(plain + OFF_EXP, fa_now() + FA_IDENTITY_LOGIN_FORM_TTL_S);
	memcpy(plain + STATE_HEAD, redirect_url, rlen);
	rc = auth_query(id, req, d, state, nonce, challenge, &q);
	url = rc == FA_OK ? fa_arena_printf(fa_req_arena(req), "%s%c%s", d->authorization_endpoint,
					    strchr(d->authorization_endpoint, '?') ? '&' : '?',
					    q.data) : NULL;
	if (!url) {
		fa_resp_oauth_error(resp, 400, "invalid_request",
				    "the authorization request to the IdP is too long");
		goto out;
	}
	if (fa_identity_seal(id->idp_state_key, FA_IDENTITY_CSRF_COOKIE, plain, STATE_HEAD + rlen,
			     fa_req_arena(req), &sealed, &e) != FA_OK ||
	    state_cookie(id, resp, sealed, FA_IDENTITY_LOGIN_FORM_TTL_S, &e) != FA_OK ||
	    fa_resp_redirect(resp, 302, url, &e) != FA_OK)
		fa_identity_fail500(id, resp, &e);
out:
	fa_memzero(plain, sizeof(plain));
	fa_memzero(state, sizeof(state));
	fa_memzero(nonce, sizeof(nonce));
	fa_memzero(verifier, sizeof(verifier));
	fa_buf_cleanup(&q);
	fa_discovery_free(d);
}

static void oidc_login_get(struct fa_identity *id, struct fa_req *req, struct fa_resp *resp,
			   const char *redirect_url)
{
	/* Break-glass local users beside the IdP: their form, with a link
	 * to the IdP (/login?upstream=1). */
	if (id->n_users > 0 && !fa_req_query(req, "upstream")) {
		fa_identity_local_provider.login_get(id, req, resp, redirect_url);
		return;
	}
	oidc_redirect(id, req, resp, redirect_url);
}

static void oidc_login_post(struct fa_identity *id, struct fa_req *req, struct fa_resp *resp)
{
	if (id->n_users > 0) {
		fa_identity_local_provider.login_post(id, req, resp);
		return;
	}
	page(id, resp, 400, "Sign in", "This server signs users in through their identity "
	     "provider; there is no password sign-in.", NULL, "/login");
}

/* The IdP is the authority on its users: a session of an IdP user is
 * re-asked through its refresh token (fa_identity_session_user ends it when
 * the IdP refuses), so every subject it logged in is accepted here. A
 * break-glass local user's sessions and refresh families name the local
 * provider and are checked by it (fa_identity_user_check). */
static enum fa_rc oidc_user_check(const struct fa_identity *id, const json_t *user,
				  struct fa_err *err)
{
	(void)id;
	(void)user;
	(void)err;
	return FA_OK;
}

const struct fa_identity_provider fa_identity_oidc_provider = {
	.name = "oidc",
	.login_get = oidc_login_get,
	.login_post = oidc_login_post,
	.user_check = oidc_user_check,
};

/* ---- GET /callback ------------------------------------------------------------ */

/* What one callback works with; freed by callback_cleanup. */
struct cb {
	unsigned char plain[STATE_HEAD + FA_MAX_REDIRECT_URI];
	size_t plain_len;
	char nonce[FA_TOKEN_CHARS + 1];
	char verifier[FA_TOKEN_CHARS + 1];
	const char *redirect;            /* arena */
	int64_t exp;
	struct fa_discovery *d;
	json_t *tok;                     /* the token response */
	json_t *idt;                     /* the ID token's claims */
	json_t *userinfo;
	json_t *user;
};

static void cb_cleanup(struct cb *c)
{
	fa_memzero(c->plain, sizeof(c->plain));
	fa_memzero(c->nonce, sizeof(c->nonce));
	fa_memzero(c->verifier, sizeof(c->verifier));
	fa_discovery_free(c->d);
	json_decref(c->tok);
	json_decref(c->idt);
	json_decref(c->userinfo);
	json_decref(c->user);
}

static void clear_state_cookie(struct fa_identity *id, struct fa_resp *resp)
{
	if (state_cookie(id, resp, "", 0, NULL) != FA_OK)
		fa_log_warnx(id->log, "identity: cannot clear the sign-in state cookie");
}

/* (2): the cookie unseals, is fresh, and its state is the parameter's. */
static enum fa_rc state_check(struct fa_identity *id, struct fa_req *req, struct cb *c)
{
	const char *cookie = fa_req_cookie(req, FA_IDENTITY_CSRF_COOKIE);
	const char *state = fa_req_query(req, "state");
	char want[FA_TOKEN_CHARS + 1];
	bool same;

	if (!cookie || !state)
		return FA_EDENIED;
	if (fa_identity_unseal(id->idp_state_key, FA_IDENTITY_CSRF_COOKIE, cookie, c->plain,
			       sizeof(c->plain), &c->plain_len, NULL) != FA_OK ||
	    c->plain_len < STATE_HEAD)
		return FA_EDENIED;
	c->exp = get_exp(c->plain + OFF_EXP);
	if (c->exp <= fa_now())
		return FA_EDENIED;
	if (b64(c->plain, RAND_LEN, want, sizeof(want)) != FA_OK)
		return FA_EDENIED;
	same = fa_ct_eq(want, strlen(want), state, strnlen(state, FA_TOKEN_CHARS + 1));
	fa_memzero(want, sizeof(want));
	if (!same)
		return FA_EDENIED;
	if (b64(c->plain + OFF_NONCE, RAND_LEN, c->nonce, sizeof(c->nonce)) != FA_OK ||
	    b64(c->plain + OFF_VERIFIER, RAND_LEN, c->verifier, sizeof(c->verifier)) != FA_OK)
		return FA_ECRYPTO;
	c->redirect = fa_arena_strndup(fa_req_arena(req), (const char *)c->plain + STATE_HEAD,
				       c->plain_len - STATE_HEAD);
	return c->redirect ? FA_OK : FA_ENOMEM;
}

/* (3): spends the state. FA_EEXIST when it was spent before. */
static enum fa_rc state_spend(struct fa_identity *id, const struct cb *c, struct fa_err *err)
{
	char key[2 * FA_SHA256_LEN + 1];
	struct fa_store_op op = { .type = FA_STORE_INSERT, .kind = STATE_KIND, .key = key,
				  .value = "1", .expires_at = c->exp };
	enum fa_rc rc = fa_sha256_hex(c->plain, RAND_LEN, key);

	if (rc != FA_OK)
		return fa_err_set(err, rc, "cannot hash the state");
	return fa_store_apply(id->store, &op, 1, fa_now(), err);
}

/* The IdP's error=... answer of a failed request, for a log line: its
 * `error` code when the body is JSON with one, else "". */
static const char *idp_error_code(const struct fa_remote_resp *r, char *buf, size_t cap)
{
	json_t *j = NULL;
	const char *s;

	buf[0] = '\0';
	if (fa_json_load(r->body, r->len, "IdP error", &j, NULL) == FA_OK &&
	    (s = json_string_value(json_object_get(j, "error"))) && passable(s))
		snprintf(buf, cap, "%s", s);
	json_decref(j);
	return buf;
}

/* client_secret_post only when the IdP lists it and not
 * client_secret_basic (OIDC Discovery: the default is basic). */
static bool use_post(const struct fa_discovery *d)
{
	const struct fa_strlist *m = &d->token_endpoint_auth_methods_supported;

	return m->n > 0 && !fa_strlist_has(m, "client_secret_basic") &&
	       fa_strlist_has(m, "client_secret_post");
}

/* A request to the IdP's token endpoint with the form in `form` plus the
 * client's authentication: FA_OK with the JSON answer in *out, FA_EDENIED
 * when the IdP answered 400/401 (idp_err gets its error code), FA_ENET
 * when it could not be asked or answered otherwise. The form is wiped. */
static enum fa_rc token_call(struct fa_identity *id, const struct fa_discovery *d,
			     struct fa_buf *form, json_t **out, char *idp_err, size_t cap,
			     struct fa_err *err)
{
	const char *client_id = id->cfg->auth.user_auth.open_id.client_id;
	struct fa_remote_req rq = { 0 };
	struct fa_remote_resp rs = { 0 };
	bool post = use_post(d);
	enum fa_rc rc = FA_OK;

	*out = NULL;
	idp_err[0] = '\0';
	if (post)
		rc = fa_remote_form_pairs(form, (const char *const[]){
			"client_id", client_id, "client_secret", id->idp_secret, NULL });
	if (rc != FA_OK) {
		fa_buf_cleanup(form);
		return fa_err_set(err, rc, "cannot build the token request");
	}
	rq.url = d->token_endpoint;
	rq.form = form->data;
	rq.basic_id = post ? NULL : client_id;
	rq.basic_secret = post ? NULL : id->idp_secret;
	rq.max_body = FA_OIDC_MAX_RESPONSE;
	rc = fa_remote_fetch(id->idp_remote, &rq, &rs, err);
	fa_buf_cleanup(form);       /* wipes: it held a secret or a token */
	if (rc != FA_OK)
		return rc;
	if (rs.status == 400 || rs.status == 401) {
		idp_error_code(&rs, idp_err, cap);
		rc = fa_err_set(err, FA_EDENIED, "the IdP's token endpoint answered %ld%s%s",
				rs.status, idp_err[0] ? " " : "", idp_err);
	} else if (rs.status != 200) {
		rc = fa_err_set(err, FA_ENET, "the IdP's token endpoint answered %ld", rs.status);
	} else {
		rc = fa_remote_json(&rs, rq.url, "the IdP's token response", out, err);
	}
	fa_memzero(rs.body, rs.len);
	fa_remote_resp_cleanup(&rs);
	return rc;
}

/* The code for tokens (c->tok). */
static enum fa_rc exchange(struct fa_identity *id, const char *code, struct cb *c,
			   char *idp_err, size_t cap, struct fa_err *err)
{
	struct fa_buf form;
	enum fa_rc rc;

	fa_buf_init(&form, FA_MAX_BODY);
	rc = fa_remote_form_pairs(&form, (const char *const[]){
		"grant_type", "authorization_code", "code", code,
		"redirect_uri", id->idp_redirect_uri, "code_verifier", c->verifier, NULL });
	if (rc != FA_OK) {
		fa_buf_cleanup(&form);
		return fa_err_set(err, rc, "cannot build the token request");
	}
	return token_call(id, c->d, &form, &c->tok, idp_err, cap, err);
}

/* (4): the ID token of the token response. */
static enum fa_rc idtoken_verify(struct fa_identity *id, struct cb *c, struct fa_err *err)
{
	const char *client_id = id->cfg->auth.user_auth.open_id.client_id;
	const char *idt = json_string_value(json_object_get(c->tok, "id_token"));
	const char *const auds[] = { client_id };
	struct fa_jwt_rules r;
	size_t n;
	enum fa_rc rc;

	if (!idt)
		return fa_err_set(err, FA_EDENIED, "the IdP's token response has no id_token");
	n = strnlen(idt, MAX_ID_TOKEN + 1);
	if (n > MAX_ID_TOKEN)
		return fa_err_set(err, FA_EDENIED, "the IdP's ID token is over %d bytes",
				  MAX_ID_TOKEN);
	fa_jwt_rules_init(&r);
	r.algs = c->d->id_token_algs ? c->d->id_token_algs : FA_JWS_ALGS_ALL;
	r.issuer = c->d->issuer;
	r.audiences = auds;
	r.n_audiences = 1;
	r.leeway = FA_OIDC_LEEWAY_S;
	r.require_exp = true;
	rc = fa_remote_issuer_verify(id->idp, &r, idt, n, &c->idt, NULL, err);
	if (rc == FA_OK)
		rc = fa_identity_oidc_idtoken_check(c->idt, client_id, c->nonce, err);
	return rc;
}

/* Userinfo with the access token, when the IdP has the endpoint and gave
 * an access token (OIDC Core §5.3). */
static enum fa_rc userinfo(struct fa_identity *id, struct cb *c, struct fa_err *err)
{
	const char *at = json_string_value(json_object_get(c->tok, "access_token"));
	struct fa_remote_req rq = { 0 };
	struct fa_remote_resp rs = { 0 };
	enum fa_rc rc;

	if (!c->d->userinfo_endpoint || !at || !at[0])
		return FA_OK;
	if (strnlen(at, FA_MAX_TOKEN * 2 + 1) > FA_MAX_TOKEN * 2)
		return fa_err_set(err, FA_EDENIED, "the IdP's access token is too long");
	rq.url = c->d->userinfo_endpoint;
	rq.bearer = at;
	rq.max_body = FA_OIDC_MAX_RESPONSE;
	rc = fa_remote_fetch(id->idp_remote, &rq, &rs, err);
	if (rc != FA_OK)
		return rc;
	if (rs.status != 200)
		rc = fa_err_set(err, FA_EDENIED, "the IdP's userinfo endpoint answered %ld",
				rs.status);
	else
		rc = fa_remote_json(&rs, rq.url, "the IdP's userinfo", &c->userinfo, err);
	fa_remote_resp_cleanup(&rs);
	return rc;
}

/* (5): the IdP's tokens of a token response, sealed, as members of x
 * (idp_rt, idp_idt; idp_at_exp from expires_in, removed when the answer
 * has none). A member the answer lacks is left as it is. */
static enum fa_rc tokens_keep(struct fa_identity *id, struct fa_arena *a, const json_t *tok,
			      json_t *x, struct fa_err *err)
{
	static const struct {
		const char *claim, *member;
	} keep[] = {
		{ "refresh_token", "idp_rt" },
		{ "id_token", "idp_idt" },
	};
	json_t *ei = json_object_get(tok, "expires_in");

	for (size_t i = 0; i < ARRAY_LEN(keep); i++) {
		const char *v = json_string_value(json_object_get(tok, keep[i].claim));
		char *sealed = NULL;
		size_t n;
		enum fa_rc rc;

		if (!v || !v[0])
			continue;
		n = strnlen(v, FA_SEAL_MAX_PLAIN + 1);
		if (n > FA_SEAL_MAX_PLAIN) {
			fa_log(id->log, FA_LOG_INFO, "identity: the IdP's %s is over %d bytes; "
			       "not kept", keep[i].claim, FA_SEAL_MAX_PLAIN);
			json_object_del(x, keep[i].member);
			continue;
		}
		rc = fa_identity_seal(id->idp_token_key, keep[i].member, v, n, a, &sealed, err);
		if (rc != FA_OK)
			return rc;
		if (json_object_set_new(x, keep[i].member, json_string(sealed)) != 0)
			return fa_err_set(err, FA_ENOMEM, "out of memory");
	}
	if (json_is_integer(ei) && json_integer_value(ei) > 0 &&
	    json_integer_value(ei) < FA_STORE_MAX_TTL_S) {
		if (json_object_set_new(x, "idp_at_exp",
					json_integer(fa_now() + json_integer_value(ei))) != 0)
			return fa_err_set(err, FA_ENOMEM, "out of memory");
	} else {
		json_object_del(x, "idp_at_exp");
	}
	return FA_OK;
}

/* The record's extra members for a new session. */
static enum fa_rc session_extra(struct fa_identity *id, struct fa_req *req, const struct cb *c,
				json_t **out, struct fa_err *err)
{
	json_t *x = json_pack("{s:s}", "provider", "oidc");
	enum fa_rc rc;

	*out = NULL;
	if (!x)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	rc = tokens_keep(id, fa_req_arena(req), c->tok, x, err);
	if (rc != FA_OK) {
		json_decref(x);
		return rc;
	}
	*out = x;
	return FA_OK;
}

void fa_identity_callback(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct fa_identity *id = app;
	const char *code = fa_req_query(req, "code");
	const char *error = fa_req_query(req, "error");
	char idp_err[MAX_IDP_ERROR + 1];
	struct cb c;
	json_t *extra = NULL;
	struct fa_err e;
	enum fa_rc rc;

	memset(&c, 0, sizeof(c));
	idp_err[0] = '\0';
	fa_err_clear(&e);
	if (!id->idp) {
		fa_resp_oauth_error(resp, 404, "not_found", "no upstream identity provider is "
				    "configured");
		return;
	}
	rc = state_check(id, req, &c);
	if (rc == FA_ENOMEM || rc == FA_ECRYPTO) {
		e.rc = rc;
		fa_identity_fail500(id, resp, &e);
		goto out;
	}
	if (rc != FA_OK) {
		audit(id, req, NULL, "refused", "state mismatch");
		page(id, resp, 400, "Sign-in failed",
		     "This sign-in cannot be completed: it was not started in this browser, it "
		     "took too long, or it was already used.", NULL, "/login");
		goto out;
	}
	if (error) {
		const char *desc = fa_req_query(req, "error_description");
		char *detail;

		clear_state_cookie(id, resp);
		detail = fa_arena_printf(fa_req_arena(req), "%.*s%s%.*s", MAX_IDP_ERROR, error,
					 desc ? ": " : "", MAX_IDP_ERROR_DESC, desc ? desc : "");
		audit(id, req, NULL, "failure", "the IdP answered an error");
		page(id, resp, strcmp(error, "access_denied") == 0 ? 403 : 400, "Sign-in failed",
		     "The identity provider did not sign you in:", detail, "/login");
		goto out;
	}
	if (!code || !code[0] || strnlen(code, FA_MAX_TOKEN + 1) > FA_MAX_TOKEN) {
		page(id, resp, 400, "Sign-in failed", "The identity provider sent no usable "
		     "authorization code.", NULL, "/login");
		goto out;
	}
	{
		const char *addr = fa_req_client_addr(req);
		int64_t wait_ms = 0;
		char retry[24];

		if (!fa_limiter_take(id->callback_rate, addr, strlen(addr), fa_mono_ms(), &wait_ms)) {
			snprintf(retry, sizeof(retry), "%lld", (long long)((wait_ms + 999) / 1000));
			fa_metrics_throttle(id->metrics, FA_ML_LOGIN);
			audit(id, req, NULL, "refused", "throttled");
			if (fa_resp_header(resp, "Retry-After", retry, NULL) != FA_OK)
				fa_log_warnx(id->log, "identity: cannot set Retry-After");
			page(id, resp, 429, "Sign-in failed", "Too many sign-ins from this address. "
			     "Please wait a moment and sign in again.", NULL, "/login");
			goto out;
		}
	}
	rc = state_spend(id, &c, &e);
	if (rc == FA_EEXIST) {
		audit(id, req, NULL, "refused", "state replayed");
		page(id, resp, 400, "Sign-in failed", "This sign-in was already completed or "
		     "abandoned; it cannot be used again.", NULL, "/login");
		goto out;
	}
	if (rc != FA_OK) {
		fa_identity_fail500(id, resp, &e);
		goto out;
	}
	clear_state_cookie(id, resp);
	if (fa_remote_issuer_discovery(id->idp, &c.d, &e) != FA_OK) {
		idp_unavailable(id, req, resp, &e);
		goto out;
	}
	rc = exchange(id, code, &c, idp_err, sizeof(idp_err), &e);
	if (rc == FA_OK)
		rc = idtoken_verify(id, &c, &e);
	if (rc == FA_OK)
		rc = userinfo(id, &c, &e);
	if (rc == FA_OK)
		rc = fa_identity_oidc_user(c.idt, c.userinfo, &c.user, &e);
	if (rc == FA_ENOMEM) {
		fa_identity_fail500(id, resp, &e);
		goto out;
	}
	if (rc != FA_OK) {
		fa_log_warnx(id->log, "identity: sign-in through the IdP refused: %s", e.msg);
		fa_metrics_login(id->metrics, false);
		audit(id, req, NULL, "failure", "IdP answer refused");
		page(id, resp, 502, "Sign-in failed",
		     "The identity provider's answer could not be accepted. Please try again; if "
		     "it keeps failing, tell your administrator.",
		     idp_err[0] ? idp_err : NULL, "/login");
		goto out;
	}
	rc = session_extra(id, req, &c, &extra, &e);
	/* The record must fit the store (FA_MAX_STORE_VALUE): the claims are
	 * capped, and the ID token, kept only as logout's hint, gives way. */
	if (rc == FA_OK && json_size(c.user) + json_size(extra) + 256 > FA_MAX_STORE_VALUE) {
		fa_log(id->log, FA_LOG_INFO, "identity: the IdP's ID token is not kept (the session "
		       "record would be too large); logout goes to the IdP without id_token_hint");
		json_object_del(extra, "idp_idt");
	}
	if (rc == FA_OK)
		rc = fa_identity_session_start(id, req, resp, c.user, extra, &e);
	if (rc == FA_OK)
		rc = fa_resp_redirect(resp, 302, c.redirect, &e);
	if (rc != FA_OK) {
		fa_identity_fail500(id, resp, &e);
		goto out;
	}
	fa_metrics_login(id->metrics, true);
	audit(id, req, json_string_value(json_object_get(c.user, "sub")), "success", NULL);
out:
	json_decref(extra);
	cb_cleanup(&c);
}

/* ---- refresh and logout ---------------------------------------------------------- */

/* The sealed token of a session record member, unsealed into buf. */
static enum fa_rc record_token(struct fa_identity *id, const json_t *doc, const char *member,
			       char *buf, size_t cap)
{
	const char *sealed = json_string_value(json_object_get(doc, member));
	size_t n = 0;

	if (!sealed || fa_identity_unseal(id->idp_token_key, member, sealed, (unsigned char *)buf,
					  cap - 1, &n, NULL) != FA_OK)
		return FA_EDENIED;
	buf[n] = '\0';
	return strlen(buf) == n ? FA_OK : FA_EDENIED;
}

enum fa_rc fa_identity_oidc_refresh(struct fa_identity *id, json_t *doc, struct fa_err *err)
{
	char rt[FA_SEAL_MAX_PLAIN + 1], idp_err[MAX_IDP_ERROR + 1];
	struct fa_discovery *d = NULL;
	struct fa_arena *a = NULL;
	json_t *tok = NULL;
	struct fa_buf form;
	enum fa_rc rc;

	fa_buf_init(&form, FA_MAX_BODY);
	if (record_token(id, doc, "idp_rt", rt, sizeof(rt)) != FA_OK)
		return fa_err_set(err, FA_EDENIED, "the session's IdP refresh token does not unseal");
	rc = fa_remote_issuer_discovery(id->idp, &d, err);
	if (rc == FA_OK)
		rc = fa_remote_form_pairs(&form, (const char *const[]){
			"grant_type", "refresh_token", "refresh_token", rt, NULL });
	fa_memzero(rt, sizeof(rt));
	if (rc == FA_OK)
		rc = token_call(id, d, &form, &tok, idp_err, sizeof(idp_err), err);
	if (rc == FA_OK && !(a = fa_arena_new(4 * FA_MAX_COOKIE)))
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
	if (rc == FA_OK)
		rc = tokens_keep(id, a, tok, doc, err);
	/* As at the callback: the ID token gives way to a record that fits. */
	if (rc == FA_OK && json_size(doc) + 256 > FA_MAX_STORE_VALUE)
		json_object_del(doc, "idp_idt");
	if (rc == FA_OK)
		fa_log(id->log, FA_LOG_DEBUG, "identity: refreshed a session's IdP tokens");
	fa_buf_cleanup(&form);
	fa_arena_free(a);
	json_decref(tok);
	fa_discovery_free(d);
	return rc;
}

const char *fa_identity_oidc_logout_url(struct fa_identity *id, struct fa_req *req,
					const char *target)
{
	struct fa_arena *a = fa_req_arena(req);
	char idt[FA_SEAL_MAX_PLAIN + 1];
	struct fa_discovery *d = NULL;
	json_t *doc = NULL;
	const char *back = target, *url = NULL;
	struct fa_buf q;
	enum fa_rc rc = FA_OK;

	if (!id->idp)
		return NULL;
	fa_buf_init(&q, FA_MAX_URL * 4);
	if (fa_identity_session_record(id, req, &doc) != FA_OK ||
	    fa_remote_issuer_discovery(id->idp, &d, NULL) != FA_OK || !d->end_session_endpoint)
		goto out;
	/* post_logout_redirect_uri must be absolute (RP-Initiated Logout
	 * 1.0 §2); a path is on the public URL. */
	if (target[0] == '/')
		back = fa_arena_printf(a, "%.*s%s", (int)(strlen(id->idp_redirect_uri) -
							  strlen("/callback")),
				       id->idp_redirect_uri, target);
	if (record_token(id, doc, "idp_idt", idt, sizeof(idt)) == FA_OK)
		rc = fa_remote_form_add(&q, "id_token_hint", idt);
	if (rc == FA_OK)
		rc = fa_remote_form_add(&q, "client_id", id->cfg->auth.user_auth.open_id.client_id);
	if (rc == FA_OK && back)
		rc = fa_remote_form_add(&q, "post_logout_redirect_uri", back);
	if (rc == FA_OK)
		url = fa_arena_printf(a, "%s%c%s", d->end_session_endpoint,
				      strchr(d->end_session_endpoint, '?') ? '&' : '?', q.data);
out:
	fa_memzero(idt, sizeof(idt));
	fa_buf_cleanup(&q);
	fa_discovery_free(d);
	json_decref(doc);
	return url;
}
