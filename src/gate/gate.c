/* gate.c -- the gate context and the http layer's authenticate callback:
 * find the caller's credential (bearer token, else browser session), have
 * it verified, require scope `all`, and record the principal on the
 * request. It never logs a token or a cookie; a refused token is named by
 * fa_log_id at most.
 */
#include <string.h>

#include "gate/gate_int.h"

static const struct fa_route routes[] = {
	{ "GET", "/me", fa_gate_me, FA_R_NO_STORE | FA_R_CORS, 0 },
};

void fa_gate_routes(const struct fa_route **r, size_t *n)
{
	*r = routes;
	*n = ARRAY_LEN(routes);
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

struct fa_gate *fa_gate_new(const struct fa_gate_opts *o, struct fa_err *err)
{
	const struct fa_config_list *uris;
	const char *h;
	struct fa_gate *g;

	if (!o || !o->cfg || !o->verify_keys || fa_jwks_count(o->verify_keys) == 0 ||
	    !o->issuer || !o->issuer[0]) {
		(void)fa_err_set(err, FA_EINVAL, "gate needs a config, verification keys and an "
				 "issuer");
		return NULL;
	}
	if (!o->identity != !o->session_user) {
		(void)fa_err_set(err, FA_EINVAL, "gate: identity and session_user go together");
		return NULL;
	}
	if (o->cfg->auth.app_auth.auth_server_type != FA_CONFIG_AS_SELF) {
		(void)fa_err_set(err, FA_EUNSUPPORTED, "auth.appAuth.authServerType External: "
				 "verifying an external authorization server's tokens is not "
				 "available yet");
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		(void)fa_err_set(err, FA_ENOMEM, "out of memory");
		return NULL;
	}
	g->cfg = o->cfg;
	g->log = o->log;
	g->metrics = o->metrics;
	g->keys = fa_jwks_dup(o->verify_keys);
	g->verifier = &fa_gate_self_verifier;
	g->identity = o->identity;
	g->session_user = o->session_user;
	g->issuer = fa_strndup(o->issuer, strlen(o->issuer));
	uris = &o->cfg->auth.authorized_uris;
	g->audiences = calloc(uris->count + 1, sizeof(*g->audiences));
	if (!g->issuer || !g->audiences) {
		(void)fa_err_set(err, FA_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < uris->count; i++)
		if (add_audience(g, uris->items[i], err) != FA_OK)
			goto fail;
	if (add_audience(g, g->issuer, err) != FA_OK)
		goto fail;
	h = o->cfg->auth.http_authorization_header;
	g->header = (h[0] && strcasecmp(h, "authorization") != 0) ? h : NULL;
	if (!o->no_cache) {
		g->cache = fa_gate_cache_new(FA_GATE_CACHE_SLOTS);
		if (!g->cache) {
			(void)fa_err_set(err, FA_ENOMEM, "out of memory");
			goto fail;
		}
	}
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
	fa_jwks_free(g->keys);
	free(g);
}

const struct fa_gate_principal *fa_gate_principal_get(const struct fa_req *req)
{
	return fa_req_principal(req);
}

static bool has_scope(const struct fa_gate_principal *p, const char *scope)
{
	for (size_t i = 0; i < p->n_scopes; i++)
		if (strcmp(p->scopes[i], scope) == 0)
			return true;
	return false;
}

/* The browser session as a principal. FA_ENOTFOUND: no session. */
static enum fa_rc session_principal(const struct fa_gate *g, struct fa_req *req,
				    struct fa_gate_principal *p, struct fa_err *err)
{
	static const char *const session_scopes[] = { FA_GATE_REQUIRED_SCOPE };
	struct fa_arena *a = fa_req_arena(req);
	json_t *user = NULL;
	char *s;
	enum fa_rc rc;

	if (!g->session_user)
		return FA_ENOTFOUND;
	rc = g->session_user(g->identity, req, &user, err);
	if (rc != FA_OK)
		return rc;
	memset(p, 0, sizeof(*p));
	p->how = FA_GATE_SESSION;
	/* A logged-in browser may do what its user may: flyteadmin grants a
	 * login cookie the blanket scope too. */
	p->scopes = session_scopes;
	p->n_scopes = 1;
	p->subject = fa_arena_strdup(a, json_string_value(json_object_get(user, "sub")));
	s = json_dumps(user, JSON_COMPACT);
	p->user_info = s ? fa_arena_strdup(a, s) : NULL;
	p->claims = p->user_info;
	free(s);
	json_decref(user);
	if (!p->subject || !p->user_info)
		return fa_err_set(err, FA_ENOMEM, "out of request memory");
	return FA_OK;
}

/* The verifier, through the cache of verified tokens. */
static enum fa_rc verify_token(const struct fa_gate *g, struct fa_arena *a, const char *token,
			       size_t len, struct fa_gate_principal *p, struct fa_err *err)
{
	unsigned char key[FA_SHA256_LEN];
	int64_t now = fa_now();
	enum fa_rc rc;

	if (!g->cache)
		return g->verifier->verify(g, a, token, len, p, err);
	if (fa_sha256(token, len, key) != FA_OK)
		return fa_err_set(err, FA_ECRYPTO, "cannot hash the token");
	if (fa_gate_cache_get(g->cache, key, now, a, p)) {
		fa_metrics_token_cache(g->metrics, true);
		return FA_OK;
	}
	fa_metrics_token_cache(g->metrics, false);
	rc = g->verifier->verify(g, a, token, len, p, err);
	if (rc == FA_OK)
		fa_gate_cache_put(g->cache, key, now, p);
	return rc;
}

enum fa_rc fa_gate_authenticate(struct fa_req *req, void *app, struct fa_err *err)
{
	const struct fa_gate *g = app;
	const char *std = fa_req_header(req, "authorization");
	const char *cfg = g->header ? fa_req_header(req, g->header) : NULL;
	const char *token = NULL, *t2 = NULL;
	struct fa_gate_principal *p;
	char logid[9];
	size_t len = 0, l2 = 0;
	enum fa_rc rc, rc2;

	fa_err_clear(err);
	p = fa_arena_alloc(fa_req_arena(req), sizeof(*p));
	if (!p)
		return fa_err_set(err, FA_ENOMEM, "out of request memory");
	/* The configured header exists so that a proxy may own
	 * `authorization` (e.g. Basic): another scheme there is not ours. */
	rc = fa_gate_bearer_parse(cfg, &token, &len, err);
	if (rc != FA_OK && rc != FA_ENOTFOUND)
		return rc;
	rc2 = fa_gate_bearer_parse(std, &t2, &l2, err);
	if (rc2 != FA_OK && rc2 != FA_ENOTFOUND)
		return rc2;
	if (rc == FA_OK && rc2 == FA_OK)
		/* RFC 6750 §3.1: more than one token in one request. */
		return fa_err_oauth(err, FA_EINVAL, "invalid_request",
				    "bearer tokens in both authorization and %s", g->header);
	if (rc2 == FA_OK) {
		token = t2;
		len = l2;
		rc = FA_OK;
	}
	fa_err_clear(err);
	if (rc == FA_ENOTFOUND) {
		rc = session_principal(g, req, p, err);
		if (rc == FA_ENOTFOUND) {
			fa_err_clear(err);
			return fa_err_oauth(err, FA_EDENIED, NULL, "authentication required");
		}
		if (rc != FA_OK) {
			/* The session store is down (its failure names no OAuth
			 * error): temporarily_unavailable, the client may retry. */
			if (rc == FA_ESTORE && !err->oauth_error)
				err->oauth_error = "temporarily_unavailable";
			else
				err->oauth_error = "server_error";
			return rc;
		}
	} else {
		rc = verify_token(g, fa_req_arena(req), token, len, p, err);
		if (rc != FA_OK) {
			if (rc == FA_EDENIED || rc == FA_EEXPIRED) {
				fa_log_id(token, len, logid);
				fa_log(g->log, FA_LOG_INFO, "gate: token %s refused: %s", logid,
				       err->msg);
			} else {
				err->oauth_error = "server_error";
			}
			return rc;
		}
	}
	if (!has_scope(p, FA_GATE_REQUIRED_SCOPE))
		return fa_err_oauth(err, FA_EDENIED, "insufficient_scope",
				    "the token does not grant the scope %s",
				    FA_GATE_REQUIRED_SCOPE);
	fa_req_set_principal(req, p);
	return FA_OK;
}
