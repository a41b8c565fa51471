/* authz.c -- building and tearing down the authorization server: the client
 * table (validated once, sorted for binary search, never changed), the
 * per-installation secret of the default confidential client, the keys and
 * the route table.
 *
 * The default `flytepropeller` client exists, as in flyteadmin, when no
 * staticClients are configured -- but flyteadmin ships the bcrypt hash of a
 * published password for it, which makes every default install open to
 * anyone who read the source. Here its secret is 256 random bits generated
 * on the first start of an installation; only its bcrypt hash is kept (store
 * kind "install", written INSERT-once so several instances on one database
 * agree), and the plain value goes back to serve once, to be printed.
 */
#include <stdlib.h>
#include <string.h>

#include "authz/authz_ep_int.h"

/* Store key of the generated client secret's hash. */
#define INSTALL_KEY "client:" FA_AUTHZ_GENERATED_CLIENT
/* Install records are meant to last; the store caps every lifetime, and a
 * margin keeps now + ttl inside its check. */
#define INSTALL_TTL_S (FA_STORE_MAX_TTL_S - 3600)

static const struct fa_route authz_routes[] = {
	{ "GET", "/.well-known/oauth-authorization-server", fa_authz_ep_metadata,
	  FA_R_PUBLIC | FA_R_CORS, 0 },
	{ "GET", "/oauth2/jwks", fa_authz_ep_jwks, FA_R_PUBLIC | FA_R_CORS, 0 },
	{ "GET", "/oauth2/authorize", fa_authz_ep_authorize, FA_R_PUBLIC | FA_R_NO_STORE, 0 },
	{ "GET", "/oauth2/authorize_callback", fa_authz_ep_authorize_callback,
	  FA_R_PUBLIC | FA_R_NO_STORE, 0 },
	/* Client authentication happens in these handlers (RFC 6749 §2.3),
	 * not through the bearer check. */
	{ "POST", "/oauth2/token", fa_authz_ep_token, FA_R_PUBLIC | FA_R_FORM | FA_R_NO_STORE, 0 },
	{ "POST", "/oauth2/introspect", fa_authz_ep_introspect,
	  FA_R_PUBLIC | FA_R_FORM | FA_R_NO_STORE, 0 },
	{ "POST", "/oauth2/revoke", fa_authz_ep_revoke, FA_R_PUBLIC | FA_R_FORM | FA_R_NO_STORE, 0 },
	/* RFC 8628: the device authorization endpoint (client auth in the
	 * handler) and the verification page (the login session is checked
	 * in the handler, which sends a stranger to /login). */
	{ "POST", "/oauth2/device/authorize", fa_authz_ep_device_authorize,
	  FA_R_PUBLIC | FA_R_FORM | FA_R_NO_STORE, 0 },
	{ "GET", "/device", fa_authz_ep_device_get, FA_R_PUBLIC | FA_R_NO_STORE, 0 },
	{ "POST", "/device", fa_authz_ep_device_post, FA_R_PUBLIC | FA_R_FORM | FA_R_NO_STORE, 0 },
	/* OpenID Connect userinfo: the bearer token is checked in the
	 * handler (RFC 6750 answers, and a token in the POST body). */
	{ "GET", "/oauth2/userinfo", fa_authz_ep_userinfo_get,
	  FA_R_PUBLIC | FA_R_NO_STORE | FA_R_CORS, 0 },
	{ "POST", "/oauth2/userinfo", fa_authz_ep_userinfo_post,
	  FA_R_PUBLIC | FA_R_FORM | FA_R_NO_STORE | FA_R_CORS, 0 },
	/* RP-initiated logout: the login session is checked in the handler. */
	{ "GET", "/oauth2/end_session", fa_authz_ep_end_session, FA_R_PUBLIC | FA_R_NO_STORE, 0 },
	{ "POST", "/oauth2/end_session", fa_authz_ep_end_session,
	  FA_R_PUBLIC | FA_R_FORM | FA_R_NO_STORE, 0 },
};

/* Served when local users are the users (serve decides; with an upstream
 * IdP, identity points discovery at the IdP instead). */
static const struct fa_route op_routes[] = {
	{ "GET", "/.well-known/openid-configuration", fa_authz_ep_op_metadata,
	  FA_R_PUBLIC | FA_R_CORS, 0 },
};

void fa_authz_routes(const struct fa_route **routes, size_t *n)
{
	*routes = authz_routes;
	*n = ARRAY_LEN(authz_routes);
}

void fa_authz_op_routes(const struct fa_route **routes, size_t *n)
{
	*routes = op_routes;
	*n = ARRAY_LEN(op_routes);
}

static int client_sort(const void *a, const void *b)
{
	const struct fa_authz_client *x = a, *y = b;

	return strcmp(x->id, y->id);
}

static enum fa_rc cfg_err(struct fa_err *err, const struct fa_config_pos *pos, const char *fmt,
			  const char *a, const char *b)
{
	char where[256];

	fa_config_pos_format(pos, where, sizeof(where));
	return fa_err_set(err, FA_ECONFIG, "%s: staticClients %s: %s%s", where, a, fmt, b ? b : "");
}

static enum fa_rc client_hashes(struct fa_authz *az, const struct fa_config_client *cc,
				struct fa_authz_client *c, struct fa_err *err)
{
	size_t n = cc->rotated_secrets.count + 1;
	struct fa_err e;

	c->hashes = calloc(n, sizeof(*c->hashes));
	if (!c->hashes)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	if (cc->client_secret[0] != '\0') {
		fa_err_clear(&e);
		if (fa_secret_hash_parse(cc->client_secret, c->hashes[c->n_hashes], &e) != FA_OK)
			return cfg_err(err, &cc->secret_pos, "client_secret: ", cc->key, e.msg);
		c->n_hashes++;
	}
	for (size_t i = 0; i < cc->rotated_secrets.count; i++) {
		fa_err_clear(&e);
		if (fa_secret_hash_parse(cc->rotated_secrets.items[i], c->hashes[c->n_hashes],
					 &e) != FA_OK)
			return cfg_err(err, &cc->pos, "rotated_secrets: ", cc->key, e.msg);
		c->n_hashes++;
	}
	/* The generated secret's hash is filled in last (install_secret). */
	if (c->n_hashes == 0 && fa_config_client_secret_generated(cc))
		return FA_OK;
	if (c->n_hashes == 0)
		fa_log(az->log, FA_LOG_WARN, "static client %s is confidential but has no "
		       "client_secret: it can never authenticate", cc->id);
	return FA_OK;
}

static enum fa_rc client_build(struct fa_authz *az, const struct fa_config_client *cc,
			       struct fa_authz_client *c, struct fa_err *err)
{
	struct fa_err e;

	if (cc->id[0] == '\0' || strlen(cc->id) > FA_MAX_ID)
		return cfg_err(err, &cc->id_pos, "id is empty or too long", cc->key, NULL);
	c->id = cc->id;
	c->is_public = cc->is_public;
	for (size_t i = 0; i < cc->grant_types.count; i++) {
		unsigned bit = fa_authz_grant_bit(cc->grant_types.items[i]);

		if (bit == 0)
			fa_log(az->log, FA_LOG_WARN, "static client %s: grant type %s is not "
			       "supported and is ignored", cc->id, cc->grant_types.items[i]);
		c->grants |= bit;
	}
	/* flyteadmin's default flytectl gets the device grant too, for
	 * headless machines (RFC 8628, device.c). */
	if (cc->is_default && strcmp(cc->id, "flytectl") == 0)
		c->grants |= FA_GRANT_DEVICE;
	for (size_t i = 0; i < cc->response_types.count; i++) {
		if (strcmp(cc->response_types.items[i], "code") == 0)
			c->response_code = true;
	}
	fa_err_clear(&e);
	if (fa_scope_from_list(cc->scopes.items, cc->scopes.count, &c->scopes, &e) != FA_OK)
		return cfg_err(err, &cc->pos, "scopes: ", cc->key, e.msg);
	c->logs_in = (c->response_code && (c->grants & FA_GRANT_CODE)) ||
		     (c->grants & FA_GRANT_DEVICE);
	if (fa_scope_allowed_build(&c->scopes, c->logs_in, &c->allowed, &e) != FA_OK)
		return cfg_err(err, &cc->pos, "scopes: ", cc->key, e.msg);
	c->post_logout_uris = cc->post_logout_redirect_uris.items;
	c->n_post_logout_uris = cc->post_logout_redirect_uris.count;
	for (size_t i = 0; i < cc->redirect_uris.count; i++) {
		if (!fa_url_redirect_ok(cc->redirect_uris.items[i]))
			return cfg_err(err, &cc->pos, "redirect_uris: not an absolute http(s) URL "
				       "without fragment or userinfo: ", cc->key,
				       cc->redirect_uris.items[i]);
	}
	c->redirect_uris = cc->redirect_uris.items;
	c->n_redirect_uris = cc->redirect_uris.count;
	c->audience = cc->audience.items;
	c->n_audience = cc->audience.count;
	if (c->is_public) {
		if (cc->client_secret[0] != '\0')
			fa_log(az->log, FA_LOG_WARN, "static client %s is public: its client_secret "
			       "is ignored", cc->id);
		return FA_OK;
	}
	return client_hashes(az, cc, c, err);
}

static enum fa_rc clients_build(struct fa_authz *az, struct fa_err *err)
{
	const struct fa_config *cfg = az->cfg;
	size_t n = cfg->auth.app_auth.self.static_clients_count;
	enum fa_rc rc;

	if (n == 0)
		return FA_OK;
	az->clients = calloc(n, sizeof(*az->clients));
	if (!az->clients)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		rc = client_build(az, &cfg->auth.app_auth.self.static_clients[i], &az->clients[i], err);
		az->n_clients = i + 1;
		if (rc != FA_OK)
			return rc;
	}
	qsort(az->clients, n, sizeof(*az->clients), client_sort);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(az->clients[i - 1].id, az->clients[i].id) == 0)
			return fa_err_set(err, FA_ECONFIG, "staticClients: two clients have the id %s",
					  az->clients[i].id);
	}
	return FA_OK;
}

static bool needs_generated_secret(const struct fa_config *cfg)
{
	for (size_t i = 0; i < cfg->auth.app_auth.self.static_clients_count; i++) {
		if (fa_config_client_secret_generated(&cfg->auth.app_auth.self.static_clients[i]))
			return true;
	}
	return false;
}

static enum fa_rc install_read(struct fa_authz *az, bool *found, struct fa_err *err)
{
	json_t *rec = NULL;
	enum fa_rc rc = fa_authz_rec_get(az, FA_KIND_INSTALL, INSTALL_KEY, &rec, NULL, NULL, err);

	*found = false;
	if (rc == FA_ENOTFOUND)
		return FA_OK;
	if (rc == FA_OK) {
		struct fa_err e;

		fa_err_clear(&e);
		rc = fa_secret_hash_parse(fa_authz_jstr(rec, "hash"), az->install_hash, &e);
		if (rc != FA_OK)
			rc = fa_err_set(err, FA_ESTORE, "the stored %s secret hash is damaged: %s",
					FA_AUTHZ_GENERATED_CLIENT, e.msg);
		*found = rc == FA_OK;
	}
	json_decref(rec);
	return rc;
}

/* First start of an installation: make the secret, keep its hash. This is
 * the last fallible step of fa_authz_new, so a secret that was generated
 * is always handed back (it is never shown again). */
static enum fa_rc install_secret(struct fa_authz *az, char **generated, struct fa_err *err)
{
	char plain[FA_TOKEN_CHARS + 1];
	char b64[FA_BCRYPT_B64_LEN + 1];
	char raw[FA_BCRYPT_LEN + 1];
	char value[FA_BCRYPT_LEN + 16];
	struct fa_store_op op;
	int64_t now = fa_authz_now(az);
	bool found;
	enum fa_rc rc;

	rc = install_read(az, &found, err);
	if (rc != FA_OK || found)
		return rc;
	rc = fa_rand_token(plain);
	if (rc == FA_OK)
		rc = fa_secret_hash(plain, strlen(plain), FA_BCRYPT_COST_DEFAULT, b64, raw, err);
	if (rc != FA_OK)
		goto out;
	snprintf(value, sizeof(value), "{\"hash\":\"%s\"}", raw);
	op = (struct fa_store_op){ .type = FA_STORE_INSERT, .kind = FA_KIND_INSTALL,
				   .key = INSTALL_KEY, .value = value,
				   .expires_at = now + INSTALL_TTL_S };
	rc = fa_store_apply(az->store, &op, 1, now, err);
	if (rc == FA_EEXIST) {
		/* Another instance on the same database got there first: its
		 * secret is the installation's; ours is thrown away. */
		rc = install_read(az, &found, err);
		if (rc == FA_OK && !found)
			rc = fa_err_set(err, FA_ESTORE, "the %s secret vanished", FA_AUTHZ_GENERATED_CLIENT);
		goto out;
	}
	if (rc != FA_OK)
		goto out;
	memcpy(az->install_hash, raw, sizeof(raw));
	if (generated) {
		*generated = fa_strndup(plain, strlen(plain));
		if (!*generated)
			fa_log(az->log, FA_LOG_ERROR, "out of memory: the generated %s secret cannot "
			       "be shown; delete its install record to generate a new one",
			       FA_AUTHZ_GENERATED_CLIENT);
	}
	fa_log(az->log, FA_LOG_INFO, "generated the client secret of %s for this installation",
	       FA_AUTHZ_GENERATED_CLIENT);
out:
	fa_memzero(plain, sizeof(plain));
	fa_memzero(b64, sizeof(b64));
	return rc;
}

/* Gives the default client its generated hash (slot 0 was left free). */
static void install_hash_set(struct fa_authz *az)
{
	for (size_t i = 0; i < az->n_clients; i++) {
		struct fa_authz_client *c = &az->clients[i];

		if (strcmp(c->id, FA_AUTHZ_GENERATED_CLIENT) == 0 && !c->is_public &&
		    c->n_hashes == 0 && c->hashes) {
			memcpy(c->hashes[0], az->install_hash, sizeof(c->hashes[0]));
			c->n_hashes = 1;
		}
	}
}

static enum fa_rc keys_take(struct fa_authz *az, const struct fa_authz_opts *o, struct fa_err *err)
{
	if (!fa_jwk_has_private(o->signing_key))
		return fa_err_set(err, FA_EINVAL, "the token signing key has no private part");
	az->signing_key = fa_jwk_dup(o->signing_key);
	az->verify_keys = fa_jwks_dup(o->verify_keys);
	if (fa_jwks_find(az->verify_keys, fa_jwk_kid(az->signing_key)) == NULL)
		return fa_err_set(err, FA_EINVAL, "the signing key is not in the verification set");
	/* key_id repeats kid for flyteadmin's token validator. */
	az->jws_extra = json_pack("{s:s}", "key_id", fa_jwk_kid(az->signing_key));
	if (!az->jws_extra)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	return FA_OK;
}

static enum fa_rc settings_take(struct fa_authz *az, const struct fa_authz_opts *o,
				struct fa_err *err)
{
	const struct fa_config *cfg = o->cfg;

	if (o->issuer[0] == '\0')
		return fa_err_set(err, FA_EINVAL, "the issuer is empty");
	az->issuer = fa_strndup(o->issuer, strlen(o->issuer));
	if (!az->issuer)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	az->default_audience = cfg->auth.authorized_uris.count > 0
				       ? cfg->auth.authorized_uris.items[0]
				       : az->issuer;
	/* The config module bounds every lifespan (whole seconds, at most a
	 * year: limits.h), so these fit the store; serve trusts it. */
	az->at_ttl_s = cfg->auth.app_auth.self.access_token_lifespan_ms / 1000;
	az->rt_ttl_s = cfg->auth.app_auth.self.refresh_token_lifespan_ms / 1000;
	az->rt_max_s = cfg->auth.app_auth.self.refresh_token_max_lifespan_ms / 1000;
	/* A config built in code (tests) may leave it 0: then no cap beyond
	 * the sliding lifetime's. */
	if (az->rt_max_s <= 0)
		az->rt_max_s = FA_MAX_LIFESPAN_MS / 1000;
	az->code_ttl_s = cfg->auth.app_auth.self.authorization_code_lifespan_ms / 1000;
	return FA_OK;
}

struct fa_authz *fa_authz_new(const struct fa_authz_opts *o, struct fa_err *err)
{
	struct fa_authz *az = NULL;
	enum fa_rc rc;

	if (o && o->generated_secret)
		*o->generated_secret = NULL;
	if (!o || !o->cfg || !o->store || !o->signing_key || !o->verify_keys || !o->issuer) {
		fa_err_set(err, FA_EINVAL, "authz: cfg, store, keys and issuer are required");
		return NULL;
	}
	az = calloc(1, sizeof(*az));
	if (!az) {
		fa_err_set(err, FA_ENOMEM, "out of memory");
		return NULL;
	}
	az->cfg = o->cfg;
	az->store = o->store;
	az->ep = calloc(1, sizeof(*az->ep));
	if (!az->ep) {
		free(az);
		fa_err_set(err, FA_ENOMEM, "out of memory");
		return NULL;
	}
	az->ep->login = o->login;
	az->user_check = o->login.user_check;
	az->user_check_id = o->login.identity;
	az->ep->secure_cookies = !o->cfg->server.security.insecure_cookie_header;
	az->own_log.fp = stderr;
	az->own_log.min = FA_LOG_INFO;
	az->log = o->log ? o->log : &az->own_log;
	az->metrics = o->metrics;
	rc = settings_take(az, o, err);
	if (rc == FA_OK)
		rc = keys_take(az, o, err);
	if (rc == FA_OK) {
		az->secret_cache = fa_secret_cache_new(FA_AUTHZ_SECRET_CACHE_ENTRIES,
						       FA_AUTHZ_SECRET_CACHE_TTL_S);
		az->fail_addr = fa_limiter_new(FA_AUTHZ_FAIL_KEYS, FA_AUTHZ_FAIL_BURST,
					       FA_AUTHZ_FAIL_ADDR_PER_S);
		az->fail_client = fa_limiter_new(FA_AUTHZ_FAIL_KEYS, FA_AUTHZ_FAIL_BURST,
						 FA_AUTHZ_FAIL_CLIENT_PER_S);
		if (!az->secret_cache || !az->fail_addr || !az->fail_client)
			rc = fa_err_set(err, FA_ENOMEM, "cannot create the secret check cache");
	}
	if (rc == FA_OK)
		rc = fa_authz_admit_init(az, err);
	if (rc == FA_OK)
		rc = clients_build(az, err);
	if (rc == FA_OK)
		fa_authz_device_init(az);
	if (rc == FA_OK)
		rc = fa_authz_documents_build(az, err);
	if (rc == FA_OK && needs_generated_secret(o->cfg))
		rc = install_secret(az, o->generated_secret, err);
	if (rc != FA_OK) {
		fa_authz_free(az);
		return NULL;
	}
	if (az->install_hash[0] != '\0')
		install_hash_set(az);
	return az;
}

enum fa_rc fa_authz_generated_forget(struct fa_store *store, struct fa_err *err)
{
	struct fa_store_op op = { .type = FA_STORE_DELETE, .kind = FA_KIND_INSTALL,
				  .key = INSTALL_KEY, .if_exists = true };

	return fa_store_apply(store, &op, 1, fa_now(), err);
}

void fa_authz_free(struct fa_authz *az)
{
	if (!az)
		return;
	for (size_t i = 0; i < az->n_clients; i++) {
		if (az->clients[i].hashes)
			fa_memzero(az->clients[i].hashes,
				   az->clients[i].n_hashes * sizeof(*az->clients[i].hashes));
		free(az->clients[i].hashes);
	}
	free(az->clients);
	fa_secret_cache_free(az->secret_cache);
	fa_limiter_free(az->fail_addr);
	fa_limiter_free(az->fail_client);
	fa_authz_admit_free(az);
	json_decref(az->jws_extra);
	fa_jwk_free(az->signing_key);
	fa_jwks_free(az->verify_keys);
	free(az->issuer);
	free(az->metadata_json);
	free(az->op_json);
	free(az->jwks_json);
	free(az->ep);
	fa_memzero(az->install_hash, sizeof(az->install_hash));
	free(az);
}

enum fa_rc fa_authz_token_revoked(struct fa_authz *az, const char *jti, struct fa_err *err)
{
	return fa_authz_jti_revoked(az, jti, err);
}
