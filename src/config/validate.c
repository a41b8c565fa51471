/* validate.c -- the checks that need more than one key: which database,
 * TLS files when `secure` is on, the identity provider's settings belonging
 * together, the External authorization server's base URL (defaulting to the
 * IdP's, as in flyteadmin), static clients (an id; a secret for a
 * confidential client; ids unique), local users, and the client ids the Flyte
 * tools will use. Each finding is one line at the position of the value it
 * is about. Single values were already checked by walk.c; nothing here reads
 * a secret or contacts anything. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config/config_int.h"

#define STATIC_CLIENTS "auth.appAuth.selfAuthServer.staticClients"

/* http:// to a host other than this machine sends codes and tokens in the
 * clear. */
static bool plain_http_remote(const char *url)
{
	struct fa_url u;

	return fa_url_parse(url, strlen(url), &u, NULL) == FA_OK && !u.https &&
	       !fa_host_is_loopback(u.host, u.host_len);
}

static bool list_has(const struct fa_config_list *l, const char *s)
{
	for (size_t i = 0; i < l->count; i++)
		if (!strcmp(l->items[i], s))
			return true;
	return false;
}

static void check_database(struct cfg_ctx *c)
{
	struct fa_config *cfg = c->cfg;
	const struct fa_config_pos *sq = &cfg->database.sqlite.pos;
	const struct fa_config_pos *pg = &cfg->database.postgres.pos;
	bool want_pg = pg->line > 0 || cfg->database.postgres.host_pos.line > 0 ||
		       cfg->database.postgres.password_path_pos.line > 0;

	if (want_pg && sq->line > 0) {
		cfg_diag(c, FA_CONFIG_ERROR, *(pg->line ? pg : sq),
			 "database: both sqlite and postgres are configured; keep one");
		return;
	}
	if (want_pg) {
		cfg->database.kind = FA_CONFIG_DB_POSTGRES;
		cfg->database.pos = pg->line ? *pg : cfg->database.postgres.host_pos;
		if (*cfg->database.postgres.password && *cfg->database.postgres.password_path)
			cfg_diag(c, FA_CONFIG_NOTE, cfg->database.postgres.password_path_pos,
				 "database.postgres: passwordPath is used; password is ignored");
		return;
	}
	cfg->database.kind = FA_CONFIG_DB_SQLITE;
	cfg->database.pos = *sq;
	if (sq->line > 0 && !*cfg->database.sqlite.file)
		cfg_diag(c, FA_CONFIG_ERROR, *sq, "database.sqlite.file must not be empty");
}

static void check_server(struct cfg_ctx *c)
{
	struct fa_config *cfg = c->cfg;

	if (cfg->server.security.secure && (!*cfg->server.security.ssl.certificate_file ||
					    !*cfg->server.security.ssl.key_file))
		cfg_diag(c, FA_CONFIG_ERROR, cfg->server.security.secure_pos,
			 "server.security.secure is true but server.security.ssl.certificateFile "
			 "and keyFile are not both set");
	if (!cfg->server.security.use_auth && cfg->source != FA_CONFIG_SOURCE_FLYTE_BINARY)
		cfg_diag(c, FA_CONFIG_WARNING, cfg_at(c, NULL),
			 "server.security.useAuth is false: flyteauth will not "
			 "require authentication");
	/* Browsers drop SameSite=None cookies that are not Secure: no login
	 * could ever stick. */
	if (cfg->auth.user_auth.cookie_setting.same_site_policy == FA_CONFIG_SAMESITE_NONE &&
	    cfg->server.security.insecure_cookie_header)
		cfg_diag(c, FA_CONFIG_ERROR, cfg->auth.user_auth.cookie_setting.same_site_policy_pos,
			 "auth.userAuth.cookieSetting.sameSitePolicy NoneMode needs Secure "
			 "cookies: unset server.security.insecureCookieHeader (browsers drop "
			 "SameSite=None cookies that are not Secure)");
}

/* Both listeners on one port cannot both bind; say so here rather than
 * as a bind failure at start. 0.0.0.0 and :: overlap every address. */
static void check_metrics(struct cfg_ctx *c)
{
	const struct fa_config *cfg = c->cfg;
	const char *a = cfg->metrics.bind_address, *b = cfg->server.bind_address;
	bool any = strcmp(a, "0.0.0.0") == 0 || strcmp(a, "::") == 0 ||
		   strcmp(b, "0.0.0.0") == 0 || strcmp(b, "::") == 0;

	if (cfg->metrics.enabled && cfg->metrics.port == cfg->server.http_port &&
	    (any || strcmp(a, b) == 0))
		cfg_diag(c, FA_CONFIG_ERROR, cfg->metrics.port_pos.line ? cfg->metrics.port_pos
									 : cfg->metrics.enabled_pos,
			 "metrics.port %d is server.httpPort too: the metrics listener needs a "
			 "port of its own", cfg->metrics.port);
}

/* The HTTP layer's CORS rules (http/cors.c), checked here so that serve
 * never refuses them at start: at most FA_MAX_CORS_ENTRIES of each, origins
 * without spaces or controls, headers that are header names and that fit
 * one Access-Control-Allow-Headers value together with Content-Type. */
static void check_cors(struct cfg_ctx *c)
{
	static const char *const implied[] = {
		"Content-Type", "Accept", "Accept-Language", "Content-Language",
	};
	const struct fa_config *cfg = c->cfg;
	const struct fa_config_list *o = &cfg->server.security.allowed_origins;
	const struct fa_config_list *h = &cfg->server.security.allowed_headers;
	size_t joined = strlen(implied[0]);

	if (!cfg->server.security.allow_cors)
		return;
	if (o->count > FA_MAX_CORS_ENTRIES || h->count > FA_MAX_CORS_ENTRIES)
		cfg_diag(c, FA_CONFIG_ERROR, *(o->count > FA_MAX_CORS_ENTRIES ?
					       &cfg->server.security.allowed_origins_pos :
					       &cfg->server.security.allowed_headers_pos),
			 "server.security: more than %d allowedOrigins or allowedHeaders",
			 FA_MAX_CORS_ENTRIES);
	for (size_t i = 0; i < o->count; i++) {
		const char *s = o->items[i];
		bool ok = *s != '\0';

		for (; *s && ok; s++)
			ok = (unsigned char)*s > 0x20 && (unsigned char)*s < 0x7f;
		if (!ok)
			cfg_diag(c, FA_CONFIG_ERROR, cfg->server.security.allowed_origins_pos,
				 "server.security.allowedOrigins[%zu] is empty or has spaces or "
				 "control characters", i);
	}
	for (size_t i = 0; i < h->count; i++) {
		const char *s = h->items[i];
		bool counted = false;

		if (!fa_token_ok(s, strlen(s))) {
			cfg_diag(c, FA_CONFIG_ERROR, cfg->server.security.allowed_headers_pos,
				 "server.security.allowedHeaders[%zu] is not a header name", i);
			continue;
		}
		for (size_t k = 0; k < ARRAY_LEN(implied) && !counted; k++)
			counted = fa_str_ieq(s, implied[k]);
		for (size_t k = 0; k < i && !counted; k++)
			counted = fa_str_ieq(s, h->items[k]);
		if (!counted)
			joined += 2 + strlen(s);
	}
	if (joined > FA_MAX_HEADER)
		cfg_diag(c, FA_CONFIG_ERROR, cfg->server.security.allowed_headers_pos,
			 "server.security.allowedHeaders: longer than %d bytes together",
			 FA_MAX_HEADER);
}

/* server.security.trustedProxies: addresses or CIDR ranges the HTTP layer
 * can parse (fa_cidr_parse), at most FA_CONFIG_MAX_PROXIES. */
static void check_proxies(struct cfg_ctx *c)
{
	const struct fa_config *cfg = c->cfg;
	const struct fa_config_list *p = &cfg->server.security.trusted_proxies;
	struct fa_cidr cidr;

	if (p->count > FA_CONFIG_MAX_PROXIES)
		cfg_diag(c, FA_CONFIG_ERROR, cfg->server.security.trusted_proxies_pos,
			 "server.security.trustedProxies: more than %d entries",
			 FA_CONFIG_MAX_PROXIES);
	for (size_t i = 0; i < p->count; i++)
		if (fa_cidr_parse(p->items[i], &cidr) != FA_OK)
			cfg_diag(c, FA_CONFIG_ERROR, cfg->server.security.trusted_proxies_pos,
				 "server.security.trustedProxies[%zu] is not an IP address or CIDR "
				 "range (e.g. 10.0.0.0/8, 2001:db8::/32)", i);
}

/* Where identity sends a browser after login by default must pass
 * identity's own rule (base: a path on this server, or a URL on an
 * authorizedUris origin or the issuer's). */
static void check_redirect_url(struct cfg_ctx *c)
{
	const struct fa_config *cfg = c->cfg;
	const struct fa_config_list *uris = &cfg->auth.authorized_uris;
	const char *origins[FA_CONFIG_MAX_LIST + 1];
	char issuer[FA_MAX_URL + 1];
	const char *why;
	size_t n = 0;

	if (!cfg->server.security.use_auth)
		return;
	for (size_t i = 0; i < uris->count && n < FA_CONFIG_MAX_LIST; i++)
		origins[n++] = uris->items[i];
	if (fa_config_issuer(cfg, cfg->server.http_port, issuer, sizeof(issuer)) == FA_OK)
		origins[n++] = issuer;
	why = fa_url_target_problem(cfg->auth.user_auth.redirect_url, origins, n);
	if (why)
		cfg_diag(c, FA_CONFIG_ERROR, cfg->auth.user_auth.redirect_url_pos,
			 "auth.userAuth.redirectUrl %s", why);
}

static void check_secrets(struct cfg_ctx *c)
{
	struct fa_config *cfg = c->cfg;
	const char *env = cfg->secrets.env_prefix;
	char q[80];

	if (strspn(env, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != strlen(env))
		cfg_diag(c, FA_CONFIG_ERROR, cfg->secrets.env_prefix_pos,
			 "secrets.env-prefix: bad prefix \"%s\": use letters, digits and '_'",
			 cfg_quote(env, strlen(env), q, sizeof(q)));
	if (!*cfg->secrets.secrets_prefix)
		cfg_diag(c, FA_CONFIG_ERROR, cfg->secrets.secrets_prefix_pos,
			 "secrets.secrets-prefix must not be empty");
	if (!*cfg->auth.user_auth.cookie_hash_key_secret_name)
		cfg_diag(c, FA_CONFIG_ERROR, cfg->auth.user_auth.cookie_hash_key_secret_name_pos,
			 "auth.userAuth.cookieHashKeySecretName must not be empty");
	if (!*cfg->auth.user_auth.cookie_block_key_secret_name)
		cfg_diag(c, FA_CONFIG_ERROR, cfg->auth.user_auth.cookie_block_key_secret_name_pos,
			 "auth.userAuth.cookieBlockKeySecretName must not be empty");
}

static void check_identity(struct cfg_ctx *c)
{
	struct fa_config *cfg = c->cfg;
	const char *base = cfg->auth.user_auth.open_id.base_url;
	const struct fa_config_pos *bp = &cfg->auth.user_auth.open_id.base_url_pos;

	if (!*base) {
		if (*cfg->auth.user_auth.open_id.client_id)
			cfg_diag(c, FA_CONFIG_ERROR, cfg->auth.user_auth.open_id.client_id_pos,
				 "auth.userAuth.openId.baseUrl is required when clientId is set");
		else if (!cfg->auth.user_auth.local_users_count && cfg->server.security.use_auth)
			cfg_diag(c, FA_CONFIG_NOTE, cfg_at(c, NULL),
				 "no identity provider (auth.userAuth.openId.baseUrl) and "
				 "no auth.userAuth.localUsers: nobody can log in with a browser");
		return;
	}
	if (!*cfg->auth.user_auth.open_id.client_id)
		cfg_diag(c, FA_CONFIG_ERROR, *bp,
			 "auth.userAuth.openId.clientId is required when baseUrl is set");
	if (!list_has(&cfg->auth.user_auth.open_id.scopes, "openid"))
		cfg_diag(c, FA_CONFIG_ERROR, *bp, "auth.userAuth.openId.scopes must include openid "
			 "(OpenID Connect logins need it)");
	if (!*cfg->auth.user_auth.open_id.client_secret_name)
		cfg_diag(c, FA_CONFIG_ERROR, cfg->auth.user_auth.open_id.client_secret_name_pos,
			 "auth.userAuth.openId.clientSecretName must not be empty");
	if (plain_http_remote(base))
		cfg_diag(c, FA_CONFIG_WARNING, *bp,
			 "auth.userAuth.openId.baseUrl uses plain http to another host: "
			 "codes and tokens would cross the network unencrypted");
	if (cfg->auth.user_auth.local_users_count)
		cfg_diag(c, FA_CONFIG_NOTE, cfg->auth.user_auth.local_users[0].pos,
			 "auth.userAuth.localUsers are break-glass accounts while openId.baseUrl "
			 "is set: the login page offers them below the IdP");
}

static void check_external(struct cfg_ctx *c)
{
	struct fa_config *cfg = c->cfg;
	const struct fa_config_pos *tp = &cfg->auth.app_auth.auth_server_type_pos;

	if (cfg->auth.app_auth.auth_server_type != FA_CONFIG_AS_EXTERNAL)
		return;
	if (!*cfg->auth.app_auth.external.base_url) {
		if (!*cfg->auth.user_auth.open_id.base_url) {
			cfg_diag(c, FA_CONFIG_ERROR, *tp,
				 "auth.appAuth.authServerType is External but "
				 "auth.appAuth.externalAuthServer.baseUrl is not set (nor "
				 "auth.userAuth.openId.baseUrl, which it defaults to)");
			return;
		}
		/* flyteadmin: "If not provided, the OpenID.BaseURL will be assumed". */
		cfg->auth.app_auth.external.base_url = cfg->auth.user_auth.open_id.base_url;
		cfg->auth.app_auth.external.base_url_pos = cfg->auth.user_auth.open_id.base_url_pos;
		cfg_diag(c, FA_CONFIG_NOTE, *tp,
			 "auth.appAuth.externalAuthServer.baseUrl is not set: using "
			 "auth.userAuth.openId.baseUrl, as flyteadmin does");
	} else if (plain_http_remote(cfg->auth.app_auth.external.base_url)) {
		cfg_diag(c, FA_CONFIG_WARNING, cfg->auth.app_auth.external.base_url_pos,
			 "auth.appAuth.externalAuthServer.baseUrl uses plain http to another host: "
			 "tokens would cross the network unencrypted");
	}
}

/* A proxy URL as libcurl takes one: a scheme it can proxy through, a host,
 * no space or control byte. Its user info may hold a password, so a
 * message never quotes it. */
static bool proxy_url_ok(const char *u)
{
	static const char *const schemes[] = { "http://", "https://", "socks5://", "socks5h://" };
	size_t n = strlen(u);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
			return false;
	for (size_t i = 0; i < ARRAY_LEN(schemes); i++) {
		size_t k = strlen(schemes[i]);

		if (n > k && fa_strn_ieq(u, k, schemes[i]) && u[k] != '/')
			return true;
	}
	return false;
}

bool cfg_scope_token_ok(const char *s)
{
	size_t n = strlen(s);

	return n <= FA_MAX_SCOPE && fa_scope_token_ok(s, n);
}

/* What the gate (/me, /auth/verify) needs: the scope it demands, the
 * proxy to the external authorization server, revocation checks. */
static void check_gate(struct cfg_ctx *c)
{
	struct fa_config *cfg = c->cfg;
	const char *ext_proxy = cfg->auth.app_auth.external.http_proxy_url;

	if (!cfg_scope_token_ok(cfg->auth.required_scope))
		cfg_diag(c, FA_CONFIG_ERROR, cfg->auth.required_scope_pos,
			 "auth.requiredScope must be one scope (visible ASCII without space, "
			 "'\"' or '\\', at most %d bytes); Flyte's is \"all\"", FA_MAX_SCOPE);
	if (*cfg->auth.http_proxy_url && !proxy_url_ok(cfg->auth.http_proxy_url))
		cfg_diag(c, FA_CONFIG_ERROR, cfg->auth.http_proxy_url_pos,
			 "auth.httpProxyURL must be an http://, https://, socks5:// or "
			 "socks5h:// URL without spaces");
	if (*ext_proxy && !proxy_url_ok(ext_proxy))
		cfg_diag(c, FA_CONFIG_ERROR, cfg->auth.app_auth.external.http_proxy_url_pos,
			 "auth.appAuth.externalAuthServer.httpProxyURL must be an http://, "
			 "https://, socks5:// or socks5h:// URL without spaces");
	if (cfg->auth.app_auth.self.check_revocation &&
	    cfg->auth.app_auth.auth_server_type != FA_CONFIG_AS_SELF)
		cfg_diag(c, FA_CONFIG_WARNING, cfg->auth.app_auth.auth_server_type_pos,
			 "auth.appAuth.selfAuthServer.checkRevocation applies to flyteauth's own "
			 "tokens; with authServerType External it is ignored");
	if (cfg->auth.disable_for_http && cfg->server.security.use_auth)
		cfg_diag(c, FA_CONFIG_WARNING, cfg_at(c, NULL),
			 "auth.disableForHttp is true: requests without a valid token or session "
			 "pass /auth/verify (200, no identity headers), as flyteadmin lets them "
			 "through its HTTP API");
}

static void check_grants(struct cfg_ctx *c, const struct fa_config_client *cl)
{
	static const char *const known[] = {
		"authorization_code", "refresh_token", "client_credentials",
		"urn:ietf:params:oauth:grant-type:device_code", "implicit",
	};
	char q[80];

	for (size_t i = 0; i < cl->grant_types.count; i++) {
		const char *g = cl->grant_types.items[i];
		bool ok = false;
		for (size_t k = 0; k < ARRAY_LEN(known); k++)
			ok = ok || !strcmp(g, known[k]);
		if (!ok)
			cfg_diag(c, FA_CONFIG_WARNING, cl->pos,
				 STATIC_CLIENTS ".%s.grant_types: \"%s\" is not a grant "
				 "type flyteauth knows; it is ignored", cl->key,
				 cfg_quote(g, strlen(g), q, sizeof(q)));
	}
}

/* The authorization server's scope sets: scope tokens (RFC 6749 §3.3), at
 * most FA_MAX_SCOPES different ones, FA_MAX_SCOPE bytes joined. */
static void check_scopes(struct cfg_ctx *c, const struct fa_config_client *cl)
{
	const struct fa_config_list *l = &cl->scopes;
	size_t distinct = 0, joined = 0;
	char q[80];

	for (size_t i = 0; i < l->count; i++) {
		const char *s = l->items[i];
		bool seen = false;

		if (!fa_scope_token_ok(s, strlen(s))) {
			cfg_diag(c, FA_CONFIG_ERROR, cl->pos, STATIC_CLIENTS ".%s.scopes[%zu]: \"%s\" is "
				 "not a scope (one word, no spaces or quotes)", cl->key, i,
				 cfg_quote(s, strlen(s), q, sizeof(q)));
			return;
		}
		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(l->items[k], s) == 0;
		if (!seen) {
			distinct++;
			joined += strlen(s) + 1;
		}
	}
	if (distinct > FA_MAX_SCOPES || joined > FA_MAX_SCOPE + 1)
		cfg_diag(c, FA_CONFIG_ERROR, cl->pos, STATIC_CLIENTS ".%s.scopes: more than %d scopes "
			 "or %d bytes", cl->key, FA_MAX_SCOPES, FA_MAX_SCOPE);
}

static void check_client(struct cfg_ctx *c, size_t i)
{
	const struct fa_config *cfg = c->cfg;
	const struct fa_config_client *cl = &cfg->auth.app_auth.self.static_clients[i];
	char q[80];

	if (!*cl->id) {
		cfg_diag(c, FA_CONFIG_ERROR, cl->pos, STATIC_CLIENTS ".%s: static client has no id", cl->key);
		return;
	}
	for (size_t k = 0; k < i; k++) {
		const struct fa_config_client *o = &cfg->auth.app_auth.self.static_clients[k];
		if (!strcmp(o->id, cl->id)) {
			cfg_diag(c, FA_CONFIG_ERROR, *(cl->id_pos.line ? &cl->id_pos : &cl->pos),
				 STATIC_CLIENTS ".%s: client id \"%s\" is already used by "
				 "staticClients.%s", cl->key,
				 cfg_quote(cl->id, strlen(cl->id), q, sizeof(q)), o->key);
			return;
		}
	}
	if (strlen(cl->id) > FA_MAX_ID)
		cfg_diag(c, FA_CONFIG_ERROR, *(cl->id_pos.line ? &cl->id_pos : &cl->pos),
			 STATIC_CLIENTS ".%s: client id is longer than %d bytes", cl->key, FA_MAX_ID);
	check_scopes(c, cl);
	if (!cl->is_public && !*cl->client_secret) {
		if (fa_config_client_secret_generated(cl))
			cfg_diag(c, FA_CONFIG_NOTE, cfg_at(c, NULL),
				 "the built-in static client %s gets a secret generated on "
				 "the installation's first start (printed once by serve); to choose "
				 "it, set " STATIC_CLIENTS ".%s.client_secret to the output of "
				 "\"flyteauth hash-secret\"", cl->id, cl->key);
		else if (!(c->propeller_secret_reported && !strcmp(cl->key, "flytepropeller")))
			cfg_diag(c, FA_CONFIG_ERROR, cl->pos, STATIC_CLIENTS ".%s: confidential client "
				 "(public: false) has no client_secret; set it to the output of "
				 "\"flyteauth hash-secret\"", cl->key);
	}
	check_grants(c, cl);
}

/* The authorization server's own rule (base: exact, or any port on a
 * loopback http URI), so this check and the server cannot disagree. */
static bool redirect_registered(const struct fa_config_list *l, const char *uri)
{
	for (size_t i = 0; i < l->count; i++) {
		if (fa_url_redirect_match(uri, l->items[i]))
			return true;
	}
	return false;
}

static void check_self(struct cfg_ctx *c)
{
	const struct fa_config *cfg = c->cfg;
	const char *fc_id = cfg->auth.app_auth.third_party.flyte_client.client_id;
	const char *fc_uri = cfg->auth.app_auth.third_party.flyte_client.redirect_uri;
	const struct fa_config_client *fc;
	char q[80];

	if (cfg->auth.app_auth.auth_server_type != FA_CONFIG_AS_SELF)
		return;
	if (cfg->auth.app_auth.self.refresh_token_max_lifespan_ms <
	    cfg->auth.app_auth.self.refresh_token_lifespan_ms) {
		struct fa_config_pos p = cfg->auth.app_auth.self.refresh_token_max_lifespan_pos;

		cfg_diag(c, FA_CONFIG_WARNING, p.line ? p : cfg_at(c, NULL),
			 "auth.appAuth.selfAuthServer.refreshTokenMaxLifespan is shorter than "
			 "refreshTokenLifespan: every refresh token dies refreshTokenMaxLifespan "
			 "after its login");
	}
	for (size_t i = 0; i < cfg->auth.app_auth.self.static_clients_count; i++)
		check_client(c, i);
	fc = fa_config_client_get(cfg, fc_id);
	if (!fc)
		cfg_diag(c, FA_CONFIG_WARNING, cfg->auth.app_auth.third_party.flyte_client.client_id_pos,
			 "auth.appAuth.thirdPartyConfig.flyteClient.clientId \"%s\" is not one of "
			 "the static clients: flytectl logins will be refused",
			 cfg_quote(fc_id, strlen(fc_id), q, sizeof(q)));
	else if (*fc_uri && !redirect_registered(&fc->redirect_uris, fc_uri))
		cfg_diag(c, FA_CONFIG_WARNING, cfg->auth.app_auth.third_party.flyte_client.client_id_pos,
			 "auth.appAuth.thirdPartyConfig.flyteClient.redirectUri is not one of the "
			 "redirect_uris of static client %s: flytectl logins will be refused",
			 fc->key);
	if (c->propeller_client_id && !fa_config_client_get(cfg, c->propeller_client_id->str))
		cfg_diag(c, FA_CONFIG_WARNING, cfg_at(c, c->propeller_client_id),
			 "secrets.adminOauthClientCredentials.clientId \"%s\" is not one of the "
			 "static clients: flytepropeller will be refused",
			 cfg_quote(c->propeller_client_id->str, c->propeller_client_id->len, q,
				   sizeof(q)));
}

/* A local user's name is its subject (sub, /me): keep it to characters that
 * need no escaping anywhere it is printed. */
static bool username_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= FA_MAX_ID &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@+-") == n;
}

static void check_users(struct cfg_ctx *c)
{
	const struct fa_config *cfg = c->cfg;
	char q[80];

	for (size_t i = 0; i < cfg->auth.user_auth.local_users_count; i++) {
		const struct fa_config_user *u = &cfg->auth.user_auth.local_users[i];
		if (!*u->username) {
			cfg_diag(c, FA_CONFIG_ERROR, u->pos,
				 "auth.userAuth.localUsers[%zu]: local user has no "
				 "username", i);
			continue;
		}
		cfg_quote(u->username, strlen(u->username), q, sizeof(q));
		if (!username_ok(u->username)) {
			cfg_diag(c, FA_CONFIG_ERROR, u->pos,
				 "auth.userAuth.localUsers[%zu]: bad username \"%s\": "
				 "use letters, digits and . _ @ + -", i, q);
			continue;
		}
		for (size_t k = 0; k < i; k++) {
			if (!strcmp(cfg->auth.user_auth.local_users[k].username, u->username)) {
				cfg_diag(c, FA_CONFIG_ERROR, u->pos,
					 "auth.userAuth.localUsers[%zu]: user \"%s\" "
					 "is already defined", i, q);
				break;
			}
		}
		if (!*u->password_hash)
			cfg_diag(c, FA_CONFIG_ERROR, u->pos,
				 "auth.userAuth.localUsers[%zu]: local user \"%s\" has "
				 "no passwordHash; make one with \"flyteauth hash-secret\"", i, q);
	}
}

void cfg_validate(struct cfg_ctx *c)
{
	check_database(c);
	check_server(c);
	check_metrics(c);
	check_cors(c);
	check_proxies(c);
	check_redirect_url(c);
	check_secrets(c);
	check_identity(c);
	check_external(c);
	check_gate(c);
	check_self(c);
	check_users(c);
}

/* ---- what this build does not serve yet ------------------------------------------------ */

/* A feature flyteadmin's layout has and this build does not implement yet,
 * found by a field of the loaded config: a string that is set, or an enum
 * with a given value. The change that builds a feature deletes its row. */
struct not_yet {
	size_t off;              /* the field */
	bool is_string;          /* char *: refused when set; else an enum */
	int value;               /* the refused enum value */
	bool with_auth_only;     /* irrelevant when server.security.useAuth is false */
	size_t pos_off;          /* struct fa_config_pos of the key */
	const char *msg;
};

_Static_assert(sizeof(enum fa_config_auth_server) == sizeof(int), "not_yet reads enums as int");

/* Every feature of the layout is built today; the row with msg NULL ends
 * the table (ISO C has no empty arrays). */
static const struct not_yet not_yet[] = {
	{ 0, false, 0, false, 0, NULL },
};

enum fa_rc fa_config_supported(const struct fa_config *cfg, struct fa_config_diag *diag,
			       struct fa_err *err)
{
	struct fa_config_diag *own = diag ? NULL : fa_config_diag_new();
	struct cfg_ctx c;
	size_t first;
	enum fa_rc rc = FA_OK;

	memset(&c, 0, sizeof(c));
	c.diag = diag ? diag : own;
	c.file = cfg->path[0] ? cfg->path : NULL;
	if (!c.diag)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	first = fa_config_diag_count(c.diag);
	for (size_t i = 0; i < ARRAY_LEN(not_yet) && not_yet[i].msg; i++) {
		const struct not_yet *n = &not_yet[i];
		const char *base = (const char *)cfg;
		bool asked;

		if (n->with_auth_only && !cfg->server.security.use_auth)
			continue;
		if (n->is_string) {
			const char *s;

			memcpy(&s, base + n->off, sizeof(s));
			asked = s[0] != '\0';
		} else {
			int v;

			memcpy(&v, base + n->off, sizeof(v));
			asked = v == n->value;
		}
		if (asked)
			cfg_diag(&c, FA_CONFIG_ERROR,
				 *(const struct fa_config_pos *)(const void *)(base + n->pos_off), "%s",
				 n->msg);
	}
	if (c.errors)
		rc = fa_err_set(err, FA_EUNSUPPORTED, "%s", cfg_diag_first_error(c.diag, first));
	else if (c.enomem)
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
	fa_config_diag_free(own);
	return rc;
}
