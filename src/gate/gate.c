/* gate.c -- the gate context, the verification of one request's
 * credential (fa_gate_verify: find it, have it verified through the cache,
 * check revocation and the required scope) and the http layer's
 * authenticate callback on top of it. It never logs a token or a cookie; a
 * refused token is named by fa_log_id at most.
 */
#include <stdlib.h>
#include <string.h>

#include "gate/gate_int.h"

const char fa_gate_header_repeated[] = ", ";

/* /auth/verify answers every method: Envoy's ext_authz sends the original
 * request's method (without its body); nginx and Traefik send GET. */
#define AUTH_VERIFY(m) { m, "/auth/verify", fa_gate_auth_verify, \
			 FA_R_PUBLIC | FA_R_NO_STORE | FA_R_PREFIX, 1 }
#define COMMON_ROUTES \
	{ "GET", "/me", fa_gate_me, FA_R_NO_STORE | FA_R_CORS, 0 }, \
	{ "GET", "/config/v1/flyte_client", fa_gate_ep_flyte_client, FA_R_PUBLIC | FA_R_CORS, 0 }, \
	AUTH_VERIFY("GET"), AUTH_VERIFY("HEAD"), AUTH_VERIFY("POST"), AUTH_VERIFY("PUT"), \
	AUTH_VERIFY("PATCH"), AUTH_VERIFY("DELETE"), AUTH_VERIFY("OPTIONS")

static const struct fa_route self_routes[] = { COMMON_ROUTES };

/* In External mode the authorization server's metadata is the external
 * one's, served from here (authz is not running). */
static const struct fa_route external_routes[] = {
	COMMON_ROUTES,
	{ "GET", "/.well-known/oauth-authorization-server", fa_gate_ep_external_metadata,
	  FA_R_PUBLIC | FA_R_CORS, 0 },
};

void fa_gate_routes(const struct fa_gate *g, const struct fa_route **r, size_t *n)
{
	if (g->external_mode) {
		*r = external_routes;
		*n = ARRAY_LEN(external_routes);
	} else {
		*r = self_routes;
		*n = ARRAY_LEN(self_routes);
	}
}

const char *fa_gate_required_scope(const struct fa_gate *g)
{
	return g->required_scope;
}

static enum fa_rc add_audience(struct fa_gate *g, const char *aud, struct fa_err *err)
{
	for (size_t i = 0; i < g->n_audiences; i++)
		if (strcmp(g->audiences[i], aud) == 0)
			return FA_OK;
	g->audiences[g->n_audiences] = fa_strndup(aud, strlen(aud));
	if (!g->audiences[g->n_audiences])
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	g->n_audiences++;
	return FA_OK;
}

/* Self: authorizedUris ∪ {public URL}. External: allowedAudience too. */
static enum fa_rc build_audiences(struct fa_gate *g, struct fa_err *err)
{
	const struct fa_config_list *uris = &g->cfg->auth.authorized_uris;
	const struct fa_config_list *allowed = &g->cfg->auth.app_auth.external.allowed_audience;
	size_t n = uris->count + 1 + (g->external_mode ? allowed->count : 0);

	g->audiences = calloc(n, sizeof(*g->audiences));
	if (!g->audiences)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	for (size_t i = 0; g->external_mode && i < allowed->count; i++)
		if (add_audience(g, allowed->items[i], err) != FA_OK)
			return FA_ENOMEM;
	for (size_t i = 0; i < uris->count; i++)
		if (add_audience(g, uris->items[i], err) != FA_OK)
			return FA_ENOMEM;
	return add_audience(g, g->issuer, err);
}

static enum fa_rc check_opts(const struct fa_gate_opts *o, struct fa_err *err)
{
	bool external;

	if (!o || !o->cfg || !o->issuer || !o->issuer[0])
		return fa_err_set(err, FA_EINVAL, "gate needs a config and the public URL");
	external = o->cfg->auth.app_auth.auth_server_type == FA_CONFIG_AS_EXTERNAL;
	if (!external && (!o->verify_keys || fa_jwks_count(o->verify_keys) == 0))
		return fa_err_set(err, FA_EINVAL, "gate (Self) needs the server's verification keys");
	if (external && !o->external)
		return fa_err_set(err, FA_EINVAL, "gate (External) needs the external "
				  "authorization server");
	if (!o->identity != !o->session_user)
		return fa_err_set(err, FA_EINVAL, "gate: identity and session_user go together");
	if (o->redirect_check && !o->identity)
		return fa_err_set(err, FA_EINVAL, "gate: redirect_check needs identity");
	if (!external && o->cfg->auth.app_auth.self.check_revocation && !o->revoked)
		return fa_err_set(err, FA_EINVAL, "gate: checkRevocation needs a revocation source");
	return FA_OK;
}

struct fa_gate *fa_gate_new(const struct fa_gate_opts *o, struct fa_err *err)
{
	const char *h;
	struct fa_gate *g;

	if (check_opts(o, err) != FA_OK)
		return NULL;
	g = calloc(1, sizeof(*g));
	if (!g) {
		(void)fa_err_set(err, FA_ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&g->meta.mu, NULL);
	g->cfg = o->cfg;
	g->log = o->log;
	g->required_scope = o->cfg->auth.required_scope;
	g->external_mode = o->cfg->auth.app_auth.auth_server_type == FA_CONFIG_AS_EXTERNAL;
	g->verifier = g->external_mode ? &fa_gate_external_verifier : &fa_gate_self_verifier;
	g->external = g->external_mode ? o->external : NULL;
	g->keys = g->external_mode ? NULL : fa_jwks_dup(o->verify_keys);
	g->idp = o->idp;
	g->metrics = o->metrics;
	g->identity = o->identity;
	g->session_user = o->session_user;
	g->redirect_check = o->redirect_check;
	g->issuer = fa_strndup(o->issuer, strlen(o->issuer));
	if (!g->issuer) {
		(void)fa_err_set(err, FA_ENOMEM, "out of memory");
		goto fail;
	}
	if (build_audiences(g, err) != FA_OK)
		goto fail;
	h = o->cfg->auth.http_authorization_header;
	g->header = (h[0] && strcasecmp(h, "authorization") != 0) ? h : NULL;
	if (!o->no_cache) {
		g->cache = fa_gate_cache_new(FA_GATE_CACHE_SLOTS);
		g->sha256 = fa_sha256_hasher_new();
		if (!g->cache || !g->sha256) {
			(void)fa_err_set(err, FA_ENOMEM, "out of memory");
			goto fail;
		}
	}
	if (!g->external_mode && o->cfg->auth.app_auth.self.check_revocation &&
	    !(g->revocations = fa_gate_revocations_new(FA_GATE_REVOCATION_SLOTS, o->revoked,
						       o->authz))) {
		(void)fa_err_set(err, FA_ENOMEM, "out of memory");
		goto fail;
	}
	if (fa_gate_documents_build(g, err) != FA_OK)
		goto fail;
	return g;
fail:
	fa_gate_free(g);
	return NULL;
}

void fa_gate_free(struct fa_gate *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_audiences; i++)
		free(g->audiences[i]);
	free(g->audiences);
	free(g->issuer);
	fa_gate_cache_free(g->cache);
	fa_sha256_hasher_free(g->sha256);
	fa_gate_revocations_free(g->revocations);
	fa_gate_metadata_cleanup(g);
	pthread_mutex_destroy(&g->meta.mu);
	fa_jwks_free(g->keys);
	free(g);
}

const struct fa_gate_principal *fa_gate_principal_get(const struct fa_req *req)
{
	return fa_req_principal(req);
}

const char *fa_gate_headers_get(void *ctx, const char *name)
{
	const struct fa_gate_headers *h = ctx;
	const char *found = NULL;

	for (size_t i = 0; i < h->n; i++) {
		if (!h->v[i].name || strcasecmp(h->v[i].name, name) != 0)
			continue;
		if (found)
			return FA_GATE_HEADER_REPEATED;
		found = h->v[i].value;
	}
	return found;
}

static bool has_scope(const struct fa_gate_principal *p, const char *scope)
{
	for (size_t i = 0; i < p->n_scopes; i++)
		if (strcmp(p->scopes[i], scope) == 0)
			return true;
	return false;
}

/* The browser session as a caller. FA_ENOTFOUND: no session. */
static enum fa_rc session_caller(const struct fa_gate *g, struct fa_req *req, struct fa_arena *a,
				 struct fa_gate_caller *c, struct fa_err *err)
{
	struct fa_gate_principal *p = &c->p;
	const char **scopes;
	json_t *user = NULL;
	char *s;
	enum fa_rc rc;

	if (!req || !g->session_user)
		return FA_ENOTFOUND;
	rc = g->session_user(g->identity, req, &user, err);
	if (rc == FA_ESTORE)
		return fa_err_oauth(err, rc, "temporarily_unavailable",
				    "the session store is unavailable");
	if (rc != FA_OK) {
		if (rc != FA_ENOTFOUND)
			err->oauth_error = "server_error";
		return rc;
	}
	memset(c, 0, sizeof(*c));
	p->how = FA_GATE_SESSION;
	/* A logged-in browser may do what its user may: flyteadmin grants a
	 * login cookie the blanket scope too. */
	scopes = fa_arena_alloc(a, sizeof(*scopes));
	if (scopes)
		scopes[0] = g->required_scope;
	p->scopes = scopes;
	p->n_scopes = 1;
	p->subject = fa_arena_strdup(a, json_string_value(json_object_get(user, "sub")));
	s = json_dumps(user, JSON_COMPACT);
	p->user_info = s ? fa_arena_strdup(a, s) : NULL;
	p->claims = p->user_info;
	free(s);
	json_decref(user);
	if (!scopes || !p->subject || !p->user_info)
		return fa_err_set(err, FA_ENOMEM, "out of request memory");
	return FA_OK;
}

/* An arena copy of n bytes of malloc'd src (freed here), NUL-terminated;
 * NULL when src is NULL or the arena is full. */
static const char *arena_keep(struct fa_arena *a, char *src, size_t *n)
{
	char *copy = src ? fa_arena_alloc(a, *n + 1) : NULL;

	if (copy)
		memcpy(copy, src, *n);
	else
		*n = 0;
	free(src);
	return copy;
}

/* The verifier, through the cache of verified tokens. A newly verified
 * token is remembered with what the gate answers for it: the /auth/verify
 * headers and the GET /me body, built now so that each later request with
 * the token is a copy. */
static enum fa_rc verify_token(const struct fa_gate *g, const struct fa_gate_verifier *v,
			       struct fa_arena *a, const char *token, size_t len,
			       struct fa_gate_caller *c, struct fa_err *err)
{
	unsigned char key[FA_SHA256_LEN];
	int64_t now = fa_now(), until;
	char *headers, *me;
	enum fa_rc rc;

	memset(c, 0, sizeof(*c));
	if (!g->cache)
		return v->verify(g, a, token, len, &c->p, err);
	if (fa_sha256_with(g->sha256, token, len, key) != FA_OK)
		return fa_err_oauth(err, FA_ECRYPTO, "server_error", "cannot hash the token");
	if (fa_gate_cache_get(g->cache, key, v->how, now, a, c)) {
		fa_metrics_token_cache(g->metrics, true);
		return FA_OK;
	}
	fa_metrics_token_cache(g->metrics, false);
	rc = v->verify(g, a, token, len, &c->p, err);
	if (rc != FA_OK)
		return rc;
	c->headers = headers = fa_gate_identity_headers(g, &c->p, &c->headers_len);
	c->me_body = me = fa_gate_me_json(&c->p, &c->me_len);
	until = v->cache_ttl_s ? now + v->cache_ttl_s : c->p.expires_at;
	fa_gate_cache_put(g->cache, key, now, until, c);
	/* The request keeps its own copies. */
	c->headers = arena_keep(a, headers, &c->headers_len);
	c->me_body = arena_keep(a, me, &c->me_len);
	return FA_OK;
}

/* The one credential of the request: FA_OK with scheme/token, FA_ENOTFOUND
 * when there is none, else a 400. */
static enum fa_rc find_credential(const struct fa_gate *g, const struct fa_gate_request *in,
				  enum fa_gate_scheme *scheme, const char **token, size_t *len,
				  struct fa_err *err)
{
	const char *std = in->header(in->ctx, "authorization");
	const char *cfg = g->header ? in->header(in->ctx, g->header) : NULL;
	enum fa_gate_scheme s2 = 0;
	const char *t2 = NULL;
	size_t l2 = 0;
	enum fa_rc rc, rc2;

	if (std == FA_GATE_HEADER_REPEATED || cfg == FA_GATE_HEADER_REPEATED)
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "a credential header was sent more than once");
	/* The configured header exists so that a proxy may own
	 * `authorization` (e.g. Basic): another scheme there is not ours. */
	rc = fa_gate_credential_parse(cfg, scheme, token, len, err);
	if (rc != FA_OK && rc != FA_ENOTFOUND)
		return rc;
	rc2 = fa_gate_credential_parse(std, &s2, &t2, &l2, err);
	if (rc2 != FA_OK && rc2 != FA_ENOTFOUND)
		return rc2;
	fa_err_clear(err);
	if (rc == FA_OK && rc2 == FA_OK) {
		/* A proxy that copies one header into the other sends the
		 * same credential twice; two different ones are an attempt
		 * to have one checked and the other used (RFC 6750 §3.1). */
		if (*scheme != s2 || !fa_ct_eq(*token, *len, t2, l2))
			return fa_err_oauth(err, FA_EINVAL, "invalid_request",
					    "different credentials in authorization and %s",
					    g->header);
		return FA_OK;
	}
	if (rc2 == FA_OK) {
		*scheme = s2;
		*token = t2;
		*len = l2;
		return FA_OK;
	}
	return rc;
}

enum fa_rc fa_gate_verify_caller(const struct fa_gate *g, const struct fa_gate_request *in,
				 struct fa_arena *a, struct fa_gate_caller *c,
				 struct fa_err *err)
{
	const struct fa_gate_verifier *v;
	enum fa_gate_scheme scheme = 0;
	const char *token = NULL;
	char logid[9];
	size_t len = 0;
	enum fa_rc rc;

	fa_err_clear(err);
	memset(c, 0, sizeof(*c));
	if (!in || !in->header)
		return fa_err_oauth(err, FA_EINVAL, "server_error", "no request to verify");
	rc = find_credential(g, in, &scheme, &token, &len, err);
	if (rc == FA_ENOTFOUND) {
		rc = session_caller(g, in->req, a, c, err);
		if (rc == FA_ENOTFOUND) {
			fa_err_clear(err);
			return fa_err_oauth(err, FA_ENOTFOUND, NULL, "authentication required");
		}
	} else if (rc == FA_OK) {
		v = scheme == FA_GATE_SCHEME_IDTOKEN ? &fa_gate_idtoken_verifier : g->verifier;
		rc = verify_token(g, v, a, token, len, c, err);
		if (rc == FA_OK && g->revocations && v == &fa_gate_self_verifier) {
			if (!c->p.token_id)
				rc = fa_err_oauth(err, FA_EDENIED, "invalid_token",
						  "token has no jti to check for revocation");
			else
				rc = fa_gate_revocation_check(g->revocations, c->p.token_id,
							      c->p.expires_at, fa_now(), err);
		}
		if (rc == FA_EDENIED || rc == FA_EEXPIRED) {
			fa_log_id(token, len, logid);
			fa_log(g->log, FA_LOG_INFO, "gate: %s token %s refused: %s", v->name, logid,
			       err->msg);
		}
	}
	if (rc != FA_OK)
		return rc;
	if (!has_scope(&c->p, g->required_scope))
		return fa_err_oauth(err, FA_EDENIED, "insufficient_scope",
				    "the token does not grant the scope %s", g->required_scope);
	return FA_OK;
}

bool fa_gate_refusal_skippable(enum fa_rc rc, const struct fa_err *err)
{
	int status = fa_http_bearer_status(rc, err->oauth_error);

	return status == 400 || status == 401;
}

enum fa_rc fa_gate_verify(const struct fa_gate *g, const struct fa_gate_request *in,
			  struct fa_arena *a, struct fa_gate_principal *out, struct fa_err *err)
{
	struct fa_gate_caller c;
	enum fa_rc rc = fa_gate_verify_caller(g, in, a, &c, err);

	*out = c.p;
	return rc;
}

const char *fa_gate_req_header(void *ctx, const char *name)
{
	return fa_req_header(ctx, name);
}

enum fa_rc fa_gate_authenticate(struct fa_req *req, void *app, struct fa_err *err)
{
	const struct fa_gate *g = app;
	struct fa_gate_request in = { fa_gate_req_header, req, req };
	struct fa_gate_caller *c;
	enum fa_rc rc;

	c = fa_arena_alloc(fa_req_arena(req), sizeof(*c));
	if (!c)
		return fa_err_oauth(err, FA_ENOMEM, "server_error", "out of request memory");
	rc = fa_gate_verify_caller(g, &in, fa_req_arena(req), c, err);
	if (rc == FA_OK) {
		fa_req_set_principal(req, c);
		return FA_OK;
	}
	if (g->cfg->auth.disable_for_http && fa_gate_refusal_skippable(rc, err)) {
		/* flyteadmin's disableForHttp: only enforcement is skipped; the
		 * request goes on without an identity. */
		fa_log(g->log, FA_LOG_DEBUG, "gate: %s %s passes without identity "
		       "(auth.disableForHttp): %s", fa_req_method(req), fa_req_path(req), err->msg);
		fa_err_clear(err);
		return FA_OK;
	}
	return rc;
}
