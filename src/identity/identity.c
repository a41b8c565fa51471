/* identity.c -- the identity context: options checked once at start-up
 * (keys, cookie policy, accepted redirect origins, the default redirect
 * target), the provider chosen from the config, the route table, and the
 * login URL other modules send browsers to.
 *
 * Which provider: with userAuth.openId.baseUrl empty, local users
 * (local.c); with it set, the upstream IdP (oidc.c), which keeps any
 * configured local users as break-glass accounts beside it.
 */
#include <string.h>

#include "identity/identity_int.h"

static const struct fa_route routes[] = {
	{ "GET", "/login", fa_identity_login_get, FA_R_PUBLIC | FA_R_NO_STORE, 0 },
	{ "POST", "/login", fa_identity_login_post, FA_R_PUBLIC | FA_R_FORM | FA_R_NO_STORE, 0 },
	{ "GET", "/logout", fa_identity_logout, FA_R_PUBLIC | FA_R_NO_STORE, 0 },
	{ "POST", "/logout", fa_identity_logout_post, FA_R_PUBLIC | FA_R_FORM | FA_R_NO_STORE, 0 },
	{ "GET", "/callback", fa_identity_callback, FA_R_PUBLIC | FA_R_NO_STORE, 0 },
	{ "GET", "/", fa_identity_home, FA_R_PUBLIC | FA_R_NO_STORE, 0 },
};

/* Discovery belongs to whoever knows the users: with an upstream IdP it
 * points at the IdP's document, as flyteadmin does; with local users the
 * authorization server serves its own OpenID Provider document. */
static const struct fa_route idp_routes[] = {
	{ "GET", "/.well-known/openid-configuration", fa_identity_oidc_config,
	  FA_R_PUBLIC | FA_R_CORS, 0 },
};

void fa_identity_routes(const struct fa_route **r, size_t *n)
{
	*r = routes;
	*n = ARRAY_LEN(routes);
}

void fa_identity_idp_routes(const struct fa_route **r, size_t *n)
{
	*r = idp_routes;
	*n = ARRAY_LEN(idp_routes);
}

/* The origins a browser may be sent back to: authorizedUris (URLs the
 * config module checked) and the issuer. */
static enum fa_rc origins_init(struct fa_identity *id, const char *issuer, struct fa_err *err)
{
	const struct fa_config_list *uris = &id->cfg->auth.authorized_uris;
	const char *why = NULL;
	struct fa_url u;

	if (fa_url_parse(issuer, strlen(issuer), &u, &why) != FA_OK)
		return fa_err_set(err, FA_EINVAL, "issuer: URL %s", why);
	id->origins = calloc(uris->count + 1, sizeof(*id->origins));
	id->issuer_copy = fa_strndup(issuer, strlen(issuer));
	if (!id->origins || !id->issuer_copy)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	for (size_t i = 0; i < uris->count; i++)
		id->origins[id->n_origins++] = uris->items[i];
	id->origins[id->n_origins++] = id->issuer_copy;
	return FA_OK;
}

static void cookies_init(struct fa_identity *id)
{
	const struct fa_config *cfg = id->cfg;

	id->secure = !cfg->server.security.insecure_cookie_header;
	switch (cfg->auth.user_auth.cookie_setting.same_site_policy) {
	case FA_CONFIG_SAMESITE_DEFAULT:
	case FA_CONFIG_SAMESITE_LAX:
		/* Lax: sent on top-level navigations (the OAuth redirects
		 * back to us), never on cross-site POSTs or subresources. */
		id->same_site = FA_SAME_SITE_LAX;
		break;
	case FA_CONFIG_SAMESITE_STRICT:
		id->same_site = FA_SAME_SITE_STRICT;
		break;
	case FA_CONFIG_SAMESITE_NONE:
		id->same_site = FA_SAME_SITE_NONE;
		break;
	}
	/* SameSite=None without Secure is refused by the config module. */
	id->domain = cfg->auth.user_auth.cookie_setting.domain[0]
			     ? cfg->auth.user_auth.cookie_setting.domain : NULL;
}

static enum fa_rc keys_init(struct fa_identity *id, const struct fa_identity_opts *o,
			    struct fa_err *err)
{
	static const struct {
		const char *info;
		size_t off;
	} purposes[] = {
		{ "flyteauth session cookie v1", offsetof(struct fa_identity, session_key) },
		{ "flyteauth login form v1", offsetof(struct fa_identity, form_key) },
		{ "flyteauth csrf token v1", offsetof(struct fa_identity, csrf_mac_key) },
	};

	if (!o->cookie_block_key || o->cookie_block_key_len != FA_IDENTITY_BLOCK_KEY_LEN)
		return fa_err_set(err, FA_EINVAL, "cookie_block_key must be %d bytes, got %zu",
				  FA_IDENTITY_BLOCK_KEY_LEN,
				  o->cookie_block_key ? o->cookie_block_key_len : 0);
	if (!o->cookie_hash_key || o->cookie_hash_key_len != FA_IDENTITY_HASH_KEY_LEN)
		return fa_err_set(err, FA_EINVAL, "cookie_hash_key must be %d bytes, got %zu",
				  FA_IDENTITY_HASH_KEY_LEN,
				  o->cookie_hash_key ? o->cookie_hash_key_len : 0);
	for (size_t i = 0; i < ARRAY_LEN(purposes); i++) {
		enum fa_rc rc = fa_identity_key_derive(o->cookie_block_key, o->cookie_block_key_len,
						       o->cookie_hash_key, o->cookie_hash_key_len,
						       purposes[i].info,
						       (unsigned char *)id + purposes[i].off, err);

		if (rc != FA_OK)
			return rc;
	}
	return FA_OK;
}

struct fa_identity *fa_identity_new(const struct fa_identity_opts *o, struct fa_err *err)
{
	struct fa_identity *id = NULL;
	int64_t ttl;
	enum fa_rc rc;

	if (o && o->dev_password)
		*o->dev_password = NULL;
	if (!o || !o->cfg || !o->store || !o->issuer || !o->issuer[0]) {
		(void)fa_err_set(err, FA_EINVAL, "identity needs a config, a store and an issuer");
		return NULL;
	}
	id = calloc(1, sizeof(*id));
	if (!id) {
		(void)fa_err_set(err, FA_ENOMEM, "out of memory");
		return NULL;
	}
	id->cfg = o->cfg;
	id->store = o->store;
	id->log = o->log;
	id->metrics = o->metrics;
	ttl = o->session_ttl_s ? o->session_ttl_s
			       : o->cfg->auth.app_auth.self.refresh_token_lifespan_ms / 1000;
	if (ttl < FA_IDENTITY_SESSION_MIN_S)
		ttl = FA_IDENTITY_SESSION_MIN_S;
	if (ttl > FA_IDENTITY_SESSION_MAX_S)
		ttl = FA_IDENTITY_SESSION_MAX_S;
	id->session_ttl_s = ttl;
	id->session_idle_s = o->session_idle_s ? o->session_idle_s
					       : FA_IDENTITY_SESSION_IDLE_DEFAULT_S;
	if (id->session_idle_s < FA_IDENTITY_SESSION_MIN_S)
		id->session_idle_s = FA_IDENTITY_SESSION_MIN_S;
	if (id->session_idle_s > ttl)
		id->session_idle_s = ttl;
	rc = keys_init(id, o, err);
	if (rc == FA_OK)
		cookies_init(id);
	if (rc == FA_OK)
		rc = origins_init(id, o->issuer, err);
	if (rc != FA_OK)
		goto fail;
	if (o->cfg->auth.user_auth.open_id.base_url[0]) {
		id->provider = &fa_identity_oidc_provider;
		if (fa_identity_oidc_init(id, o, err) != FA_OK)
			goto fail;
		/* Local users beside the IdP: break-glass accounts. */
		if (o->cfg->auth.user_auth.local_users_count > 0 &&
		    fa_identity_local_init(id, false, NULL, err) != FA_OK)
			goto fail;
		return id;
	}
	id->provider = &fa_identity_local_provider;
	if (fa_identity_local_init(id, o->dev_default_user, o->dev_password, err) != FA_OK)
		goto fail;
	return id;
fail:
	if (o->dev_password) {
		fa_free_secret(*o->dev_password);
		*o->dev_password = NULL;
	}
	fa_identity_free(id);
	return NULL;
}

void fa_identity_free(struct fa_identity *id)
{
	if (!id)
		return;
	if (id->users)
		fa_memzero(id->users, id->n_users * sizeof(*id->users));
	free(id->users);
	free(id->origins);
	free(id->issuer_copy);
	fa_free_secret(id->idp_secret);
	fa_limiter_free(id->callback_rate);
	free(id->idp_redirect_uri);
	free(id->idp_label);
	fa_memzero(id, sizeof(*id));
	free(id);
}

const char *fa_identity_login_url(struct fa_req *req, const char *return_to)
{
	struct fa_arena *a;
	const char *esc;

	if (!req || !return_to || strnlen(return_to, FA_MAX_REDIRECT_URI + 1) > FA_MAX_REDIRECT_URI)
		return NULL;
	a = fa_req_arena(req);
	esc = fa_identity_query_escape(a, return_to);
	return esc ? fa_arena_printf(a, "/login?redirect_url=%s", esc) : NULL;
}

enum fa_rc fa_identity_user_check(struct fa_identity *id, const char *provider,
				  const json_t *user, struct fa_err *err)
{
	if (!id || !json_is_string(json_object_get(user, "sub")))
		return fa_err_oauth(err, FA_EDENIED, "access_denied", "no user");
	if (provider && strcmp(provider, fa_identity_local_provider.name) == 0)
		return fa_identity_local_provider.user_check(id, user, err);
	if (!id->provider)
		return fa_err_oauth(err, FA_EDENIED, "access_denied",
				    "no identity provider is configured");
	return id->provider->user_check(id, user, err);
}
