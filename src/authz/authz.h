/* authz.h -- flyteauth's own OAuth 2.0 authorization server ("Self",
 * auth.appAuth.authServerType: Self): static clients, the authorization code
 * grant with PKCE, refresh-token rotation with reuse detection, client
 * credentials, the device authorization grant (RFC 8628) with its
 * verification page, access tokens as signed JWTs (RFC 9068), discovery
 * (RFC 8414, JWKS), introspection (RFC
 * 7662) and revocation (RFC 7009).
 *
 * What it does not do: log users in (identity does, behind struct
 * fa_authz_login: authz asks it who the browser is and where to send one
 * that must log in, through functions serve hands over), verify tokens
 * for protected resources (gate does, without the store), or load keys and
 * config (serve does and lends them here). There is no consent screen: as in
 * flyteadmin, static clients are the operator's own first-party apps, so a
 * logged-in user who starts a flow with one of them is taken to have agreed.
 * The device grant is the exception: the request comes from a device the
 * user may not be sitting at, so /device shows the client and scopes and
 * asks to approve or deny (a phished user code must not pass silently).
 *
 * Where flyteadmin is weak, this server is strict: codes are single-use and
 * a replayed code revokes what it issued; refresh tokens rotate and a reused
 * one revokes its whole family; PKCE (S256 only) is required of public
 * clients; redirect_uri matches exactly (loopback: any port) and is checked
 * again at the token endpoint; there is no built-in client secret.
 *
 * Threads: one struct fa_authz serves all HTTP worker threads at once; it is
 * immutable after fa_authz_new except for the store (itself thread-safe)
 * and the remembered secret checks (locked inside secrets).
 */
#ifndef FA_AUTHZ_H
#define FA_AUTHZ_H

#include <stddef.h>

#include "base/base.h"
#include "config/config.h"
#include "http/http.h"
#include "jose/jose.h"
#include "store/store.h"

struct fa_identity;   /* identity/identity.h */
struct fa_authz;      /* opaque */

/* Browser logins, from the identity layer. serve passes identity's
 * fa_identity_session_user, fa_identity_login_url,
 * FA_IDENTITY_SESSION_COOKIE and fa_identity_session_logout; pointers rather than calls keep authz free
 * of a link-time dependency on identity, as gate's session callback does
 * (and let an upstream-IdP layer plug in). All NULL: no browser is ever
 * logged in (the authorize endpoint saves the request and cannot send the
 * browser anywhere) -- for unit tests of the grant logic. */
struct fa_authz_login {
	struct fa_identity *identity;    /* borrowed; outlives the server */
	/* FA_OK with *user a new reference to a JSON object with `sub`;
	 * FA_ENOTFOUND when the request has no valid session; anything else
	 * is an internal failure. */
	enum fa_rc (*session_user)(struct fa_identity *id, struct fa_req *req, json_t **user,
				   struct fa_err *err);
	/* The URL that logs a browser in and returns it to return_to (a path
	 * on this server), in the request arena; NULL on failure. */
	const char *(*login_url)(struct fa_req *req, const char *return_to);
	/* Name of the login session cookie: the device page binds its CSRF
	 * token and wrong-code count to that session. */
	const char *session_cookie;
	/* Ends the browser session of req and clears its cookie on resp
	 * (RP-initiated logout); NULL: /oauth2/end_session cannot log out. */
	enum fa_rc (*logout)(struct fa_identity *id, struct fa_req *req, struct fa_resp *resp,
			     struct fa_err *err);
	/* Whether the user of a login (`user`: the claims a refresh family
	 * keeps, with `sub`; `provider`: the login's "login_provider" as the
	 * family kept it, or NULL) may still use what that login gave: FA_OK
	 * yes; FA_EDENIED no longer (removed from the config, or refused by
	 * the upstream IdP); anything else is an internal failure. Asked at
	 * every refresh. NULL: not asked. */
	enum fa_rc (*user_check)(struct fa_identity *id, const char *provider, const json_t *user,
				 struct fa_err *err);
};

/* The default confidential client whose secret is generated per
 * installation (flyteadmin's default client, minus its public hash). */
#define FA_AUTHZ_GENERATED_CLIENT "flytepropeller"

struct fa_authz_opts {
	/* Borrowed; must outlive the server. Clients, lifetimes, authorizedUris,
	 * thirdPartyConfig.flyteClient, grpcAuthorizationHeader and
	 * insecureCookieHeader are read from it. */
	const struct fa_config *cfg;
	/* Borrowed; must outlive the server. */
	struct fa_store *store;
	/* Borrowed; NULL: stderr at INFO. Audit events (token grants and
	 * refusals, revocations, device decisions) go here too. */
	const struct fa_log *log;
	/* Token requests are counted here by grant type and outcome
	 * (borrowed, outlives the server; NULL: not counted). */
	struct fa_metrics *metrics;
	/* Current private signing key and the public set (current, then old)
	 * served at /oauth2/jwks and used for introspection. authz takes its
	 * own references (fa_jwk_dup / fa_jwks_dup), so the caller may free
	 * its own after fa_authz_new. */
	const struct fa_jwk *signing_key;
	const struct fa_jwks *verify_keys;
	/* The `iss` of every token and the base of every endpoint URL in the
	 * metadata, as fa_config_issuer normalised it (copied). */
	const char *issuer;
	/* How browsers log in (copied). */
	struct fa_authz_login login;
	/* Out, may be NULL: when this start generated the secret of the default
	 * FA_AUTHZ_GENERATED_CLIENT client (first start of an installation, no
	 * staticClients configured), *generated_secret gets the plain secret
	 * (malloc'd; print it once, then release it with fa_free_secret);
	 * otherwise NULL. Only its bcrypt hash is kept (store kind "install"),
	 * so the value cannot be shown again: generating it is the last step
	 * of fa_authz_new (a NULL return generated nothing), and the caller
	 * should print it before anything else can fail. */
	char **generated_secret;
};

/* Builds the server: validates and indexes the clients (a bad client_secret
 * hash or redirect URI is FA_ECONFIG naming the client), generates the
 * default client's secret on first start (INSERT-once in the store, so
 * concurrent instances agree), and pre-builds the public documents.
 * Returns NULL and fills err on failure (FA_EINVAL bad opts, FA_ECONFIG,
 * FA_ESTORE, FA_ECRYPTO, FA_ENOMEM). Free with fa_authz_free. */
struct fa_authz *fa_authz_new(const struct fa_authz_opts *opts, struct fa_err *err) FA_WUR;
/* NULL is a no-op. No request may be running. */
void fa_authz_free(struct fa_authz *az);
/* Forgets the generated secret of FA_AUTHZ_GENERATED_CLIENT (`flyteauth
 * dev reset`): the next start generates and prints a new one. A missing
 * record is not an error. */
enum fa_rc fa_authz_generated_forget(struct fa_store *store, struct fa_err *err) FA_WUR;

/* The routes of the authorization server (handlers take `app` = the
 * struct fa_authz *). Static table; never fails.
 *   GET  /.well-known/oauth-authorization-server   public, CORS
 *   GET  /oauth2/jwks                              public, CORS
 *   GET  /oauth2/authorize                         public, no-store
 *   GET  /oauth2/authorize_callback                public, no-store
 *   POST /oauth2/token                             public (client auth in
 *   POST /oauth2/introspect                          the handler), form,
 *   POST /oauth2/revoke                              no-store
 *   POST /oauth2/device/authorize                  (RFC 8628 §3.1)
 *   GET  /oauth2/userinfo                          public (bearer checked in
 *   POST /oauth2/userinfo                            the handler), no-store,
 *                                                    CORS; POST is a form
 *   GET  /oauth2/end_session                       public, no-store: RP-
 *   POST /oauth2/end_session                         initiated logout (POST
 *                                                    is a form)
 *   GET  /device                                   public, no-store: the
 *   POST /device                                     verification page (login
 *                                                    session checked in the
 *                                                    handler; POST is a form) */
void fa_authz_routes(const struct fa_route **routes, size_t *n);
/* The OpenID Provider's discovery document (OpenID Connect Discovery 1.0),
 * for serve to add when flyteauth's own users are the identity source:
 *   GET  /.well-known/openid-configuration         public, CORS */
void fa_authz_op_routes(const struct fa_route **routes, size_t *n);

/* Whether the access token with this jti was revoked: its jti revoked
 * through RFC 7009, or (for a user token) its refresh family revoked or
 * gone. One or two store reads; the gate calls it (through its own short
 * cache) when selfAuthServer.checkRevocation is set, and introspection
 * and userinfo answer from it. FA_OK: not revoked; FA_EDENIED: revoked; anything else
 * is the store's failure. */
enum fa_rc fa_authz_token_revoked(struct fa_authz *az, const char *jti,
				  struct fa_err *err) FA_WUR;

#endif
