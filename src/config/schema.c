/* schema.c -- flyteadmin's config layout as data: one const table per
 * section, naming each key as flyteadmin spells it, its type, where its value
 * and position live in struct fa_config, and the keys flyteadmin knows that
 * flyteauth ignores. Also the built-in defaults (flyteadmin's, plus
 * flyteauth's extensions), and the key lookups behind "did you mean" and "it
 * belongs under". It does not read YAML (yaml.c) or apply values (walk.c). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config/config_int.h"


/* ---- enums ------------------------------------------------------------------------- */

static const struct cfg_enum_name auth_server_names[] = {
	{ "Self", FA_CONFIG_AS_SELF },
	{ "External", FA_CONFIG_AS_EXTERNAL },
};
static const struct cfg_enum auth_server_enum = {
	"Self or External", auth_server_names, ARRAY_LEN(auth_server_names),
};

/* flyteadmin's enumer names (DefaultMode, LaxMode, ...) and the short ones. */
static const struct cfg_enum_name samesite_names[] = {
	{ "DefaultMode", FA_CONFIG_SAMESITE_DEFAULT },
	{ "LaxMode", FA_CONFIG_SAMESITE_LAX },
	{ "StrictMode", FA_CONFIG_SAMESITE_STRICT },
	{ "NoneMode", FA_CONFIG_SAMESITE_NONE },
	{ "Default", FA_CONFIG_SAMESITE_DEFAULT },
	{ "Lax", FA_CONFIG_SAMESITE_LAX },
	{ "Strict", FA_CONFIG_SAMESITE_STRICT },
	{ "None", FA_CONFIG_SAMESITE_NONE },
};
static const struct cfg_enum samesite_enum = {
	"DefaultMode, LaxMode, StrictMode or NoneMode", samesite_names, ARRAY_LEN(samesite_names),
};

static const struct cfg_enum_name sig_alg_names[] = {
	{ "RS256", FA_CONFIG_ALG_RS256 },
	{ "ES256", FA_CONFIG_ALG_ES256 },
	{ "EdDSA", FA_CONFIG_ALG_EDDSA },
};
static const struct cfg_enum sig_alg_enum = {
	"RS256, ES256 or EdDSA", sig_alg_names, ARRAY_LEN(sig_alg_names),
};

static const struct cfg_enum_name log_format_names[] = {
	{ "json", FA_CONFIG_LOG_JSON },
	{ "text", FA_CONFIG_LOG_TEXT },
};
static const struct cfg_enum log_format_enum = {
	"json or text", log_format_names, ARRAY_LEN(log_format_names),
};

/* ---- flyteadmin's layout ----------------------------------------------------------- */

static const struct cfg_field ssl_fields[] = {
	{ .key = "certificateFile", .kind = CK_STR,
	  .off = offsetof(struct fa_config, server.security.ssl.certificate_file),
	  .pos_off = offsetof(struct fa_config, server.security.ssl.certificate_file_pos) },
	{ .key = "keyFile", .kind = CK_STR,
	  .off = offsetof(struct fa_config, server.security.ssl.key_file),
	  .pos_off = offsetof(struct fa_config, server.security.ssl.key_file_pos) },
	{ .key = NULL },
};

static const struct cfg_field security_fields[] = {
	{ .key = "secure", .kind = CK_BOOL,
	  .off = offsetof(struct fa_config, server.security.secure),
	  .pos_off = offsetof(struct fa_config, server.security.secure_pos) },
	{ .key = "useAuth", .kind = CK_BOOL,
	  .off = offsetof(struct fa_config, server.security.use_auth) },
	{ .key = "allowCors", .kind = CK_BOOL,
	  .off = offsetof(struct fa_config, server.security.allow_cors) },
	{ .key = "allowedOrigins", .kind = CK_LIST,
	  .off = offsetof(struct fa_config, server.security.allowed_origins),
	  .pos_off = offsetof(struct fa_config, server.security.allowed_origins_pos) },
	{ .key = "allowedHeaders", .kind = CK_LIST,
	  .off = offsetof(struct fa_config, server.security.allowed_headers),
	  .pos_off = offsetof(struct fa_config, server.security.allowed_headers_pos) },
	{ .key = "trustedProxies", .kind = CK_LIST,
	  .off = offsetof(struct fa_config, server.security.trusted_proxies),
	  .pos_off = offsetof(struct fa_config, server.security.trusted_proxies_pos) },
	{ .key = "insecureCookieHeader", .kind = CK_BOOL,
	  .off = offsetof(struct fa_config, server.security.insecure_cookie_header) },
	{ .key = "ssl", .kind = CK_SECTION, .sub = ssl_fields },
	{ .key = "auditAccess", .kind = CK_IGNORE },
	{ .key = NULL },
};

static const struct cfg_field server_fields[] = {
	{ .key = "httpPort", .kind = CK_PORT,
	  .off = offsetof(struct fa_config, server.http_port),
	  .pos_off = offsetof(struct fa_config, server.http_port_pos) },
	{ .key = "bindAddress", .kind = CK_ADDRESS,
	  .off = offsetof(struct fa_config, server.bind_address),
	  .pos_off = offsetof(struct fa_config, server.bind_address_pos) },
	{ .key = "workers", .kind = CK_INT, .min = 0, .max = FA_CONFIG_MAX_WORKERS,
	  .off = offsetof(struct fa_config, server.workers) },
	{ .key = "bcryptWorkers", .kind = CK_INT, .min = 0, .max = FA_CONFIG_MAX_BCRYPT_WORKERS,
	  .off = offsetof(struct fa_config, server.bcrypt_workers) },
	{ .key = "security", .kind = CK_SECTION, .sub = security_fields },
	{ .key = "thirdPartyConfig", .kind = CK_MOVED, .target = "auth.appAuth.thirdPartyConfig" },
	{ .key = "grpc", .kind = CK_IGNORE },
	{ .key = "grpcPort", .kind = CK_IGNORE },
	{ .key = "grpcServerReflection", .kind = CK_IGNORE },
	{ .key = "kube-config", .kind = CK_IGNORE },
	{ .key = "master", .kind = CK_IGNORE },
	{ .key = "dataProxy", .kind = CK_IGNORE },
	{ .key = "readHeaderTimeoutSeconds", .kind = CK_IGNORE },
	{ .key = "kubeClientConfig", .kind = CK_IGNORE },
	{ .key = "maxMessageSizeBytes", .kind = CK_IGNORE },
	{ .key = "maxConcurrentStreams", .kind = CK_IGNORE },
	{ .key = "watchService", .kind = CK_IGNORE },
	{ .key = NULL },
};

static const struct cfg_field sqlite_fields[] = {
	{ .key = "file", .kind = CK_STR,
	  .off = offsetof(struct fa_config, database.sqlite.file),
	  .pos_off = offsetof(struct fa_config, database.sqlite.file_pos) },
	{ .key = NULL },
};

static const struct cfg_field postgres_fields[] = {
	{ .key = "host", .kind = CK_STR,
	  .off = offsetof(struct fa_config, database.postgres.host),
	  .pos_off = offsetof(struct fa_config, database.postgres.host_pos) },
	{ .key = "port", .kind = CK_PORT,
	  .off = offsetof(struct fa_config, database.postgres.port) },
	{ .key = "dbname", .kind = CK_STR,
	  .off = offsetof(struct fa_config, database.postgres.dbname) },
	{ .key = "username", .kind = CK_STR,
	  .off = offsetof(struct fa_config, database.postgres.username) },
	{ .key = "password", .kind = CK_STR, .sensitive = true,
	  .off = offsetof(struct fa_config, database.postgres.password) },
	{ .key = "passwordPath", .kind = CK_STR,
	  .off = offsetof(struct fa_config, database.postgres.password_path),
	  .pos_off = offsetof(struct fa_config, database.postgres.password_path_pos) },
	{ .key = "options", .kind = CK_STR,
	  .off = offsetof(struct fa_config, database.postgres.options) },
	{ .key = "debug", .kind = CK_IGNORE },
	{ .key = "readReplicaHost", .kind = CK_IGNORE },
	{ .key = NULL },
};

static const struct cfg_field database_fields[] = {
	{ .key = "sqlite", .kind = CK_SECTION, .sub = sqlite_fields,
	  .pos_off = offsetof(struct fa_config, database.sqlite.pos) },
	{ .key = "postgres", .kind = CK_SECTION, .sub = postgres_fields,
	  .pos_off = offsetof(struct fa_config, database.postgres.pos) },
	/* flyteadmin's deprecated spellings directly under database. */
	{ .key = "host", .kind = CK_MOVED, .target = "database.postgres.host" },
	{ .key = "port", .kind = CK_MOVED, .target = "database.postgres.port" },
	{ .key = "dbname", .kind = CK_MOVED, .target = "database.postgres.dbname" },
	{ .key = "username", .kind = CK_MOVED, .target = "database.postgres.username" },
	{ .key = "password", .kind = CK_MOVED, .target = "database.postgres.password" },
	{ .key = "passwordPath", .kind = CK_MOVED, .target = "database.postgres.passwordPath" },
	{ .key = "options", .kind = CK_MOVED, .target = "database.postgres.options" },
	{ .key = "connMaxLifeTime", .kind = CK_IGNORE },
	{ .key = "maxIdleConnections", .kind = CK_IGNORE },
	{ .key = "maxOpenConnections", .kind = CK_IGNORE },
	{ .key = "enableForeignKeyConstraintWhenMigrating", .kind = CK_IGNORE },
	{ .key = "debug", .kind = CK_IGNORE },
	{ .key = NULL },
};

static const struct cfg_field secrets_fields[] = {
	{ .key = "secrets-prefix", .kind = CK_STR,
	  .off = offsetof(struct fa_config, secrets.secrets_prefix),
	  .pos_off = offsetof(struct fa_config, secrets.secrets_prefix_pos) },
	{ .key = "env-prefix", .kind = CK_STR,
	  .off = offsetof(struct fa_config, secrets.env_prefix),
	  .pos_off = offsetof(struct fa_config, secrets.env_prefix_pos) },
	{ .key = "type", .kind = CK_IGNORE },
	{ .key = NULL },
};

static const struct cfg_field cookie_fields[] = {
	{ .key = "sameSitePolicy", .kind = CK_ENUM, .en = &samesite_enum,
	  .off = offsetof(struct fa_config, auth.user_auth.cookie_setting.same_site_policy),
	  .pos_off = offsetof(struct fa_config,
			      auth.user_auth.cookie_setting.same_site_policy_pos) },
	{ .key = "domain", .kind = CK_STR,
	  .off = offsetof(struct fa_config, auth.user_auth.cookie_setting.domain) },
	{ .key = NULL },
};

static const struct cfg_field openid_fields[] = {
	{ .key = "clientId", .kind = CK_STR,
	  .off = offsetof(struct fa_config, auth.user_auth.open_id.client_id),
	  .pos_off = offsetof(struct fa_config, auth.user_auth.open_id.client_id_pos) },
	{ .key = "clientSecretName", .kind = CK_SECRET_NAME,
	  .off = offsetof(struct fa_config, auth.user_auth.open_id.client_secret_name),
	  .pos_off = offsetof(struct fa_config, auth.user_auth.open_id.client_secret_name_pos) },
	{ .key = "baseUrl", .kind = CK_URL,
	  .off = offsetof(struct fa_config, auth.user_auth.open_id.base_url),
	  .pos_off = offsetof(struct fa_config, auth.user_auth.open_id.base_url_pos) },
	{ .key = "scopes", .kind = CK_LIST,
	  .off = offsetof(struct fa_config, auth.user_auth.open_id.scopes) },
	/* flyteadmin still reads a client secret from this file; flyteauth
	 * reads secrets only by name, so say so instead of ignoring it. */
	{ .key = "clientSecretFile", .kind = CK_UNSUPPORTED,
	  .target = "flyteauth reads secrets by name; use clientSecretName" },
	{ .key = "onlyStartIfOIDCIsAvailable", .kind = CK_IGNORE },
	{ .key = NULL },
};

static const struct cfg_field userauth_fields[] = {
	{ .key = "redirectUrl", .kind = CK_URL_OR_PATH,
	  .off = offsetof(struct fa_config, auth.user_auth.redirect_url),
	  .pos_off = offsetof(struct fa_config, auth.user_auth.redirect_url_pos) },
	{ .key = "cookieHashKeySecretName", .kind = CK_SECRET_NAME,
	  .off = offsetof(struct fa_config, auth.user_auth.cookie_hash_key_secret_name),
	  .pos_off = offsetof(struct fa_config, auth.user_auth.cookie_hash_key_secret_name_pos) },
	{ .key = "cookieBlockKeySecretName", .kind = CK_SECRET_NAME,
	  .off = offsetof(struct fa_config, auth.user_auth.cookie_block_key_secret_name),
	  .pos_off = offsetof(struct fa_config, auth.user_auth.cookie_block_key_secret_name_pos) },
	{ .key = "cookieSetting", .kind = CK_SECTION, .sub = cookie_fields },
	{ .key = "idpQueryParameter", .kind = CK_STR,
	  .off = offsetof(struct fa_config, auth.user_auth.idp_query_parameter) },
	{ .key = "openId", .kind = CK_SECTION, .sub = openid_fields },
	{ .key = "localUsers", .kind = CK_USERS },
	{ .key = "httpProxyURL", .kind = CK_IGNORE },
	{ .key = NULL },
};

/* selfAuthServer.rateLimits.<name>: {burst, perMinute}. */
#define RATE_FIELDS(member)                                                                  \
	{ .key = "burst", .kind = CK_INT, .min = 1, .max = 1000000,                          \
	  .off = offsetof(struct fa_config, auth.app_auth.self.rate_limits.member.burst) },  \
	{ .key = "perMinute", .kind = CK_INT, .min = 1, .max = 6000000,                      \
	  .off = offsetof(struct fa_config, auth.app_auth.self.rate_limits.member.per_minute) }, \
	{ .key = NULL }

static const struct cfg_field rate_authorize_address_fields[] = { RATE_FIELDS(authorize_per_address) };
static const struct cfg_field rate_authorize_client_fields[] = { RATE_FIELDS(authorize_per_client) };
static const struct cfg_field rate_device_address_fields[] = { RATE_FIELDS(device_per_address) };
static const struct cfg_field rate_device_client_fields[] = { RATE_FIELDS(device_per_client) };

static const struct cfg_field rate_limit_fields[] = {
	{ .key = "authorizePerAddress", .kind = CK_SECTION, .sub = rate_authorize_address_fields },
	{ .key = "authorizePerClient", .kind = CK_SECTION, .sub = rate_authorize_client_fields },
	{ .key = "devicePerAddress", .kind = CK_SECTION, .sub = rate_device_address_fields },
	{ .key = "devicePerClient", .kind = CK_SECTION, .sub = rate_device_client_fields },
	{ .key = NULL },
};

static const struct cfg_field self_fields[] = {
	{ .key = "issuer", .kind = CK_URL,
	  .off = offsetof(struct fa_config, auth.app_auth.self.issuer),
	  .pos_off = offsetof(struct fa_config, auth.app_auth.self.issuer_pos) },
	{ .key = "accessTokenLifespan", .kind = CK_DURATION,
	  .min = FA_MIN_LIFESPAN_MS, .max = FA_MAX_LIFESPAN_MS,
	  .off = offsetof(struct fa_config, auth.app_auth.self.access_token_lifespan_ms) },
	{ .key = "refreshTokenLifespan", .kind = CK_DURATION,
	  .min = FA_MIN_LIFESPAN_MS, .max = FA_MAX_LIFESPAN_MS,
	  .off = offsetof(struct fa_config, auth.app_auth.self.refresh_token_lifespan_ms) },
	{ .key = "authorizationCodeLifespan", .kind = CK_DURATION,
	  .min = FA_MIN_LIFESPAN_MS, .max = FA_MAX_LIFESPAN_MS,
	  .off = offsetof(struct fa_config, auth.app_auth.self.authorization_code_lifespan_ms) },
	{ .key = "claimSymmetricEncryptionKeySecretName", .kind = CK_SECRET_NAME,
	  .off = offsetof(struct fa_config, auth.app_auth.self.claim_symmetric_encryption_key_secret_name),
	  .pos_off = offsetof(struct fa_config,
			      auth.app_auth.self.claim_symmetric_encryption_key_secret_name_pos) },
	{ .key = "tokenSigningRSAKeySecretName", .kind = CK_SECRET_NAME,
	  .off = offsetof(struct fa_config, auth.app_auth.self.token_signing_rsa_key_secret_name),
	  .pos_off = offsetof(struct fa_config,
			      auth.app_auth.self.token_signing_rsa_key_secret_name_pos) },
	{ .key = "oldTokenSigningRSAKeySecretName", .kind = CK_SECRET_NAME,
	  .off = offsetof(struct fa_config, auth.app_auth.self.old_token_signing_rsa_key_secret_name),
	  .pos_off = offsetof(struct fa_config,
			      auth.app_auth.self.old_token_signing_rsa_key_secret_name_pos) },
	{ .key = "staticClients", .kind = CK_CLIENTS },
	/* flyteauth extensions. */
	{ .key = "tokenSigningAlgorithm", .kind = CK_ENUM, .en = &sig_alg_enum,
	  .off = offsetof(struct fa_config, auth.app_auth.self.token_signing_algorithm),
	  .pos_off = offsetof(struct fa_config, auth.app_auth.self.token_signing_algorithm_pos) },
	{ .key = "deviceCodeLifespan", .kind = CK_DURATION,
	  .min = FA_MIN_LIFESPAN_MS, .max = FA_MAX_LIFESPAN_MS,
	  .off = offsetof(struct fa_config, auth.app_auth.self.device_code_lifespan_ms) },
	/* RFC 8628 §3.5: clients poll at this interval; under a second is a
	 * request flood, over an hour outlives any device code. */
	{ .key = "devicePollInterval", .kind = CK_DURATION, .min = 1000, .max = 3600 * 1000,
	  .off = offsetof(struct fa_config, auth.app_auth.self.device_poll_interval_ms) },
	{ .key = "refreshTokenMaxLifespan", .kind = CK_DURATION,
	  .min = FA_MIN_LIFESPAN_MS, .max = FA_MAX_LIFESPAN_MS,
	  .off = offsetof(struct fa_config, auth.app_auth.self.refresh_token_max_lifespan_ms),
	  .pos_off = offsetof(struct fa_config, auth.app_auth.self.refresh_token_max_lifespan_pos) },
	{ .key = "checkRevocation", .kind = CK_BOOL,
	  .off = offsetof(struct fa_config, auth.app_auth.self.check_revocation) },
	{ .key = "maxPendingDeviceCodes", .kind = CK_INT, .min = 1, .max = 1000000,
	  .off = offsetof(struct fa_config, auth.app_auth.self.max_pending_device_codes) },
	{ .key = "maxPendingAuthorizationRequests", .kind = CK_INT, .min = 1, .max = 1000000,
	  .off = offsetof(struct fa_config,
			  auth.app_auth.self.max_pending_authorization_requests) },
	{ .key = "rateLimits", .kind = CK_SECTION, .sub = rate_limit_fields },
	{ .key = NULL },
};

static const struct cfg_field external_fields[] = {
	{ .key = "baseUrl", .kind = CK_URL,
	  .off = offsetof(struct fa_config, auth.app_auth.external.base_url),
	  .pos_off = offsetof(struct fa_config, auth.app_auth.external.base_url_pos) },
	{ .key = "allowedAudience", .kind = CK_AUDIENCE,
	  .off = offsetof(struct fa_config, auth.app_auth.external.allowed_audience) },
	{ .key = "metadataUrl", .kind = CK_URL_OR_PATH,
	  .off = offsetof(struct fa_config, auth.app_auth.external.metadata_url),
	  .pos_off = offsetof(struct fa_config, auth.app_auth.external.metadata_url_pos) },
	{ .key = "retryAttempts", .kind = CK_INT, .min = 0, .max = 100,
	  .off = offsetof(struct fa_config, auth.app_auth.external.retry_attempts) },
	{ .key = "retryDelay", .kind = CK_DURATION, .min = 0, .max = 3600 * 1000,
	  .off = offsetof(struct fa_config, auth.app_auth.external.retry_delay_ms) },
	{ .key = "httpProxyURL", .kind = CK_STR, .sensitive = true,
	  .off = offsetof(struct fa_config, auth.app_auth.external.http_proxy_url),
	  .pos_off = offsetof(struct fa_config, auth.app_auth.external.http_proxy_url_pos) },
	{ .key = NULL },
};

static const struct cfg_field flyte_client_fields[] = {
	{ .key = "clientId", .kind = CK_STR,
	  .off = offsetof(struct fa_config, auth.app_auth.third_party.flyte_client.client_id),
	  .pos_off = offsetof(struct fa_config, auth.app_auth.third_party.flyte_client.client_id_pos) },
	{ .key = "redirectUri", .kind = CK_URL,
	  .off = offsetof(struct fa_config, auth.app_auth.third_party.flyte_client.redirect_uri) },
	{ .key = "scopes", .kind = CK_LIST,
	  .off = offsetof(struct fa_config, auth.app_auth.third_party.flyte_client.scopes) },
	{ .key = "audience", .kind = CK_STR,
	  .off = offsetof(struct fa_config, auth.app_auth.third_party.flyte_client.audience) },
	{ .key = NULL },
};

static const struct cfg_field third_party_fields[] = {
	{ .key = "flyteClient", .kind = CK_SECTION, .sub = flyte_client_fields },
	{ .key = NULL },
};

static const struct cfg_field appauth_fields[] = {
	{ .key = "authServerType", .kind = CK_ENUM, .en = &auth_server_enum,
	  .off = offsetof(struct fa_config, auth.app_auth.auth_server_type),
	  .pos_off = offsetof(struct fa_config, auth.app_auth.auth_server_type_pos) },
	{ .key = "selfAuthServer", .kind = CK_SECTION, .sub = self_fields },
	{ .key = "externalAuthServer", .kind = CK_SECTION, .sub = external_fields },
	{ .key = "thirdPartyConfig", .kind = CK_SECTION, .sub = third_party_fields },
	{ .key = NULL },
};

static const struct cfg_field auth_fields[] = {
	{ .key = "httpAuthorizationHeader", .kind = CK_STR,
	  .off = offsetof(struct fa_config, auth.http_authorization_header) },
	{ .key = "grpcAuthorizationHeader", .kind = CK_STR,
	  .off = offsetof(struct fa_config, auth.grpc_authorization_header) },
	{ .key = "disableForHttp", .kind = CK_BOOL,
	  .off = offsetof(struct fa_config, auth.disable_for_http) },
	{ .key = "authorizedUris", .kind = CK_URL_LIST,
	  .off = offsetof(struct fa_config, auth.authorized_uris),
	  .pos_off = offsetof(struct fa_config, auth.authorized_uris_pos) },
	{ .key = "userAuth", .kind = CK_SECTION, .sub = userauth_fields },
	{ .key = "appAuth", .kind = CK_SECTION, .sub = appauth_fields },
	/* Misplacements seen in the wild (the seed's flyte-core external AS
	 * example has externalAuthServer here): read them where they belong. */
	{ .key = "externalAuthServer", .kind = CK_MOVED, .target = "auth.appAuth.externalAuthServer" },
	{ .key = "selfAuthServer", .kind = CK_MOVED, .target = "auth.appAuth.selfAuthServer" },
	{ .key = "thirdPartyConfig", .kind = CK_MOVED, .target = "auth.appAuth.thirdPartyConfig" },
	{ .key = "authServerType", .kind = CK_MOVED, .target = "auth.appAuth.authServerType" },
	{ .key = "openId", .kind = CK_MOVED, .target = "auth.userAuth.openId" },
	{ .key = "disableForGrpc", .kind = CK_IGNORE },
	{ .key = "httpProxyURL", .kind = CK_STR, .sensitive = true,
	  .off = offsetof(struct fa_config, auth.http_proxy_url),
	  .pos_off = offsetof(struct fa_config, auth.http_proxy_url_pos) },
	{ .key = "tokenEndpointProxyConfig", .kind = CK_IGNORE },
	/* flyteauth extension. */
	{ .key = "requiredScope", .kind = CK_STR,
	  .off = offsetof(struct fa_config, auth.required_scope),
	  .pos_off = offsetof(struct fa_config, auth.required_scope_pos) },
	{ .key = NULL },
};

static const struct cfg_field formatter_fields[] = {
	{ .key = "type", .kind = CK_ENUM, .en = &log_format_enum,
	  .off = offsetof(struct fa_config, logger.format) },
	{ .key = NULL },
};

/* flytestdlib's logger: level is its number (logrus), not a name. */
static const struct cfg_field logger_fields[] = {
	{ .key = "level", .kind = CK_INT, .min = 0, .max = 6,
	  .off = offsetof(struct fa_config, logger.level),
	  .pos_off = offsetof(struct fa_config, logger.level_pos) },
	{ .key = "formatter", .kind = CK_SECTION, .sub = formatter_fields },
	{ .key = "mute", .kind = CK_BOOL, .off = offsetof(struct fa_config, logger.mute) },
	{ .key = "show-source", .kind = CK_IGNORE },
	{ .key = NULL },
};

/* flyteauth extension. */
static const struct cfg_field metrics_fields[] = {
	{ .key = "enabled", .kind = CK_BOOL,
	  .off = offsetof(struct fa_config, metrics.enabled),
	  .pos_off = offsetof(struct fa_config, metrics.enabled_pos) },
	{ .key = "bindAddress", .kind = CK_ADDRESS,
	  .off = offsetof(struct fa_config, metrics.bind_address),
	  .pos_off = offsetof(struct fa_config, metrics.bind_address_pos) },
	{ .key = "port", .kind = CK_PORT,
	  .off = offsetof(struct fa_config, metrics.port),
	  .pos_off = offsetof(struct fa_config, metrics.port_pos) },
	{ .key = NULL },
};

const struct cfg_field cfg_admin_root[] = {
	{ .key = "server", .kind = CK_SECTION, .sub = server_fields },
	{ .key = "database", .kind = CK_SECTION, .sub = database_fields },
	{ .key = "secrets", .kind = CK_SECTION, .sub = secrets_fields },
	{ .key = "auth", .kind = CK_SECTION, .sub = auth_fields },
	/* The seed's flyte-core external AS example puts userAuth directly
	 * under adminServer. */
	{ .key = "userAuth", .kind = CK_MOVED, .target = "auth.userAuth" },
	{ .key = "appAuth", .kind = CK_MOVED, .target = "auth.appAuth" },
	/* Sections of a flyteadmin (or single-binary) config that flyteauth
	 * does not use. */
	{ .key = "admin", .kind = CK_IGNORE },
	{ .key = "application", .kind = CK_IGNORE },
	{ .key = "artifacts", .kind = CK_IGNORE },
	{ .key = "catalog-cache", .kind = CK_IGNORE },
	{ .key = "cloudEvents", .kind = CK_IGNORE },
	{ .key = "cluster_resources", .kind = CK_IGNORE },
	{ .key = "clusterPools", .kind = CK_IGNORE },
	{ .key = "clusters", .kind = CK_IGNORE },
	{ .key = "datacatalog", .kind = CK_IGNORE },
	{ .key = "domains", .kind = CK_IGNORE },
	{ .key = "event", .kind = CK_IGNORE },
	{ .key = "externalEvents", .kind = CK_IGNORE },
	{ .key = "flyte", .kind = CK_IGNORE },
	{ .key = "flyteadmin", .kind = CK_IGNORE },
	{ .key = "k8s", .kind = CK_IGNORE },
	{ .key = "logger", .kind = CK_SECTION, .sub = logger_fields },
	{ .key = "metrics", .kind = CK_SECTION, .sub = metrics_fields },
	{ .key = "namespace_mapping", .kind = CK_IGNORE },
	{ .key = "notifications", .kind = CK_IGNORE },
	{ .key = "otel", .kind = CK_IGNORE },
	{ .key = "plugins", .kind = CK_IGNORE },
	{ .key = "propeller", .kind = CK_IGNORE },
	{ .key = "qualityOfService", .kind = CK_IGNORE },
	{ .key = "queues", .kind = CK_IGNORE },
	{ .key = "registration", .kind = CK_IGNORE },
	{ .key = "remoteData", .kind = CK_IGNORE },
	{ .key = "resource_manager", .kind = CK_IGNORE },
	{ .key = "scheduler", .kind = CK_IGNORE },
	{ .key = "storage", .kind = CK_IGNORE },
	{ .key = "task_resources", .kind = CK_IGNORE },
	{ .key = "task_type_whitelist", .kind = CK_IGNORE },
	{ .key = "tasks", .kind = CK_IGNORE },
	{ .key = "webhook", .kind = CK_IGNORE },
	{ .key = NULL },
};

/* ---- static clients and local users ------------------------------------------------ */

const struct cfg_field cfg_client_fields[] = {
	{ .key = "id", .kind = CK_STR,
	  .off = offsetof(struct fa_config_client, id),
	  .pos_off = offsetof(struct fa_config_client, id_pos) },
	{ .key = "client_secret", .kind = CK_HASH, .sensitive = true,
	  .off = offsetof(struct fa_config_client, client_secret),
	  .pos_off = offsetof(struct fa_config_client, secret_pos) },
	{ .key = "rotated_secrets", .kind = CK_LIST, .sensitive = true,
	  .off = offsetof(struct fa_config_client, rotated_secrets) },
	{ .key = "redirect_uris", .kind = CK_URL_LIST,
	  .off = offsetof(struct fa_config_client, redirect_uris) },
	{ .key = "grant_types", .kind = CK_LIST,
	  .off = offsetof(struct fa_config_client, grant_types) },
	{ .key = "response_types", .kind = CK_LIST,
	  .off = offsetof(struct fa_config_client, response_types) },
	{ .key = "scopes", .kind = CK_LIST,
	  .off = offsetof(struct fa_config_client, scopes) },
	{ .key = "audience", .kind = CK_LIST,
	  .off = offsetof(struct fa_config_client, audience) },
	{ .key = "post_logout_redirect_uris", .kind = CK_URL_LIST,
	  .off = offsetof(struct fa_config_client, post_logout_redirect_uris) },
	{ .key = "public", .kind = CK_BOOL,
	  .off = offsetof(struct fa_config_client, is_public) },
	{ .key = NULL },
};

const struct cfg_field cfg_user_fields[] = {
	{ .key = "username", .kind = CK_STR,
	  .off = offsetof(struct fa_config_user, username) },
	{ .key = "passwordHash", .kind = CK_HASH, .sensitive = true,
	  .off = offsetof(struct fa_config_user, password_hash),
	  .pos_off = offsetof(struct fa_config_user, hash_pos) },
	{ .key = "name", .kind = CK_STR,
	  .off = offsetof(struct fa_config_user, name) },
	{ .key = "email", .kind = CK_STR,
	  .off = offsetof(struct fa_config_user, email) },
	{ .key = "emailVerified", .kind = CK_BOOL,
	  .off = offsetof(struct fa_config_user, email_verified) },
	{ .key = "groups", .kind = CK_LIST,
	  .off = offsetof(struct fa_config_user, groups) },
	{ .key = NULL },
};

/* ---- lookups ----------------------------------------------------------------------- */

const struct cfg_field *cfg_field_find(const struct cfg_field *tab, const char *key)
{
	for (const struct cfg_field *f = tab; f->key; f++)
		if (fa_str_ieq(f->key, key))
			return f;
	return NULL;
}

/* Lower-cased key without '-' and '_': "secrets_prefix", "SecretsPrefix"
 * and "secrets-prefix" are the same word to a reader. */
static size_t fold(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s && o + 1 < cap; s++) {
		char ch = *s;
		if (ch == '-' || ch == '_')
			continue;
		out[o++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
	}
	out[o] = '\0';
	return o;
}

/* Levenshtein distance of two short folded words, capped at 3. */
static int distance(const char *a, size_t la, const char *b, size_t lb)
{
	int row[CFG_MAX_KEY_SUGGEST + 1];

	if (la > CFG_MAX_KEY_SUGGEST || lb > CFG_MAX_KEY_SUGGEST)
		return 3;
	if (la > lb + 2 || lb > la + 2)
		return 3;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int diag = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int up = row[j];
			int best = diag + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb] > 3 ? 3 : row[lb];
}

const char *cfg_suggest(const struct cfg_field *tab, const char *key)
{
	char fk[CFG_MAX_KEY_SUGGEST + 1], ff[CFG_MAX_KEY_SUGGEST + 1];
	size_t lk = fold(key, fk, sizeof(fk));
	const char *best = NULL;
	int best_d = 3;

	if (strlen(key) > CFG_MAX_KEY_SUGGEST)
		return NULL;
	for (const struct cfg_field *f = tab; f->key; f++) {
		size_t lf = fold(f->key, ff, sizeof(ff));
		int d = (lk == lf && !memcmp(fk, ff, lk)) ? 0 : distance(fk, lk, ff, lf);
		/* Two edits turn any 3-letter word into another: only suggest
		 * an edited word when both are long enough to be recognisable. */
		if (d > 0 && (lk < 4 || lf < 4))
			continue;
		/* A word cut short or run on ("password" for "passwordHash")
		 * is as good a guess as two typos. */
		if (d > 2 && lk >= 5 && lf >= 5 &&
		    !memcmp(fk, ff, lk < lf ? lk : lf))
			d = 2;
		if (d < best_d) {
			best_d = d;
			best = f->key;
		}
	}
	return best_d <= 2 ? best : NULL;
}

static bool locate_in(const struct cfg_field *tab, const char *key, const char *path,
		      char *out, size_t cap)
{
	char sub[CFG_MAX_PATH];

	for (const struct cfg_field *f = tab; f->key; f++) {
		if (f->kind == CK_MOVED || f->kind == CK_IGNORE || f->kind == CK_UNSUPPORTED)
			continue;
		if (fa_str_ieq(f->key, key)) {
			snprintf(out, cap, "%s", path);
			return true;
		}
	}
	for (const struct cfg_field *f = tab; f->key; f++) {
		if (f->kind != CK_SECTION)
			continue;
		if (*path)
			snprintf(sub, sizeof(sub), "%s.%s", path, f->key);
		else
			snprintf(sub, sizeof(sub), "%s", f->key);
		if (locate_in(f->sub, key, sub, out, cap))
			return true;
	}
	return false;
}

bool cfg_locate(const char *key, char *out, size_t cap)
{
	return locate_in(cfg_admin_root, key, "", out, cap);
}

const struct cfg_field *cfg_field_at(const char *dotted)
{
	char part[CFG_MAX_KEY_SUGGEST];
	const struct cfg_field *tab = cfg_admin_root;
	const struct cfg_field *f = NULL;

	while (*dotted) {
		const char *dot = strchr(dotted, '.');
		size_t len = dot ? (size_t)(dot - dotted) : strlen(dotted);
		if (!tab || len >= sizeof(part))
			return NULL;
		memcpy(part, dotted, len);
		part[len] = '\0';
		f = cfg_field_find(tab, part);
		if (!f)
			return NULL;
		tab = f->kind == CK_SECTION ? f->sub : NULL;
		dotted += len + (dot ? 1 : 0);
	}
	return f;
}

/* ---- defaults --------------------------------------------------------------------- */

struct default_client {
	const char *id;
	bool is_public;
	const char *redirect_uris[2];
	size_t n_redirect;
	const char *response_types[2];
	size_t n_response;
	const char *grant_types[2];
};

/* flyteadmin's default static clients. flytepropeller deliberately comes
 * without flyteadmin's default secret: that bcrypt hash is published in
 * flyteadmin's source, so anyone could use it. */
static const struct default_client default_clients[] = {
	{ "flyte-cli", true,
	  { "http://localhost:53593/callback", "http://localhost:12345/callback" }, 2,
	  { "code", "token" }, 2, { "refresh_token", "authorization_code" } },
	{ "flytectl", true,
	  { "http://localhost:53593/callback", "http://localhost:12345/callback" }, 2,
	  { "code", "token" }, 2, { "refresh_token", "authorization_code" } },
	{ "flytepropeller", false,
	  { "http://localhost:3846/callback", NULL }, 1,
	  { "token", NULL }, 1, { "refresh_token", "client_credentials" } },
};

static const char *const client_scopes[] = { "all", "offline", "access_token" };

static enum fa_rc set_default_clients(struct fa_config *cfg)
{
	for (size_t i = 0; i < ARRAY_LEN(default_clients); i++) {
		const struct default_client *d = &default_clients[i];
		struct fa_config_client *cl = cfg_client_add(cfg);
		enum fa_rc rc;

		if (!cl || cfg_client_init(cfg, cl) != FA_OK)
			return FA_ENOMEM;
		cl->key = cfg_strdup(cfg, d->id);
		cl->id = cfg_strdup(cfg, d->id);
		if (!cl->key || !cl->id)
			return FA_ENOMEM;
		cl->is_public = d->is_public;
		cl->is_default = true;
		rc = cfg_list_set(cfg, &cl->redirect_uris, d->redirect_uris, d->n_redirect);
		if (rc == FA_OK)
			rc = cfg_list_set(cfg, &cl->response_types, d->response_types, d->n_response);
		if (rc == FA_OK)
			rc = cfg_list_set(cfg, &cl->grant_types, d->grant_types, 2);
		if (rc == FA_OK)
			rc = cfg_list_set(cfg, &cl->scopes, client_scopes, ARRAY_LEN(client_scopes));
		if (rc != FA_OK)
			return rc;
	}
	return FA_OK;
}

struct default_str {
	size_t off;
	const char *value;
};

/* Every string field of struct fa_config with its default ("" = unset). */
static const struct default_str default_strs[] = {
	{ offsetof(struct fa_config, path), "" },
	{ offsetof(struct fa_config, server.bind_address), "127.0.0.1" },
	{ offsetof(struct fa_config, metrics.bind_address), "127.0.0.1" },
	{ offsetof(struct fa_config, server.security.ssl.certificate_file), "" },
	{ offsetof(struct fa_config, server.security.ssl.key_file), "" },
	{ offsetof(struct fa_config, database.sqlite.file), "flyteauth.db" },
	{ offsetof(struct fa_config, database.postgres.host), "" },
	{ offsetof(struct fa_config, database.postgres.dbname), "" },
	{ offsetof(struct fa_config, database.postgres.username), "" },
	{ offsetof(struct fa_config, database.postgres.password), "" },
	{ offsetof(struct fa_config, database.postgres.password_path), "" },
	{ offsetof(struct fa_config, database.postgres.options), "" },
	{ offsetof(struct fa_config, secrets.secrets_prefix), "/etc/secrets" },
	{ offsetof(struct fa_config, secrets.env_prefix), "FLYTE_SECRET_" },
	{ offsetof(struct fa_config, auth.http_authorization_header), "flyte-authorization" },
	{ offsetof(struct fa_config, auth.grpc_authorization_header), "flyte-authorization" },
	{ offsetof(struct fa_config, auth.required_scope), "all" },
	{ offsetof(struct fa_config, auth.http_proxy_url), "" },
	{ offsetof(struct fa_config, auth.user_auth.redirect_url), "/console" },
	{ offsetof(struct fa_config, auth.user_auth.cookie_hash_key_secret_name), "cookie_hash_key" },
	{ offsetof(struct fa_config, auth.user_auth.cookie_block_key_secret_name), "cookie_block_key" },
	{ offsetof(struct fa_config, auth.user_auth.cookie_setting.domain), "" },
	{ offsetof(struct fa_config, auth.user_auth.idp_query_parameter), "" },
	{ offsetof(struct fa_config, auth.user_auth.open_id.base_url), "" },
	{ offsetof(struct fa_config, auth.user_auth.open_id.client_id), "" },
	{ offsetof(struct fa_config, auth.user_auth.open_id.client_secret_name), "oidc_client_secret" },
	{ offsetof(struct fa_config, auth.app_auth.self.issuer), "" },
	{ offsetof(struct fa_config, auth.app_auth.self.claim_symmetric_encryption_key_secret_name),
	  "claim_symmetric_key" },
	{ offsetof(struct fa_config, auth.app_auth.self.token_signing_rsa_key_secret_name),
	  "token_rsa_key.pem" },
	{ offsetof(struct fa_config, auth.app_auth.self.old_token_signing_rsa_key_secret_name),
	  "token_rsa_key_old.pem" },
	{ offsetof(struct fa_config, auth.app_auth.external.base_url), "" },
	{ offsetof(struct fa_config, auth.app_auth.external.metadata_url), "" },
	{ offsetof(struct fa_config, auth.app_auth.external.http_proxy_url), "" },
	{ offsetof(struct fa_config, auth.app_auth.third_party.flyte_client.client_id), "flytectl" },
	{ offsetof(struct fa_config, auth.app_auth.third_party.flyte_client.redirect_uri),
	  "http://localhost:53593/callback" },
	{ offsetof(struct fa_config, auth.app_auth.third_party.flyte_client.audience), "" },
};

struct default_list {
	size_t off;
	const char *items[2];
	size_t n;
};

static const struct default_list default_lists[] = {
	{ offsetof(struct fa_config, server.security.allowed_origins), { "*", NULL }, 1 },
	{ offsetof(struct fa_config, server.security.allowed_headers),
	  { "Content-Type", "flyte-authorization" }, 2 },
	{ offsetof(struct fa_config, auth.user_auth.open_id.scopes), { "openid", "profile" }, 2 },
	{ offsetof(struct fa_config, auth.app_auth.third_party.flyte_client.scopes),
	  { "all", "offline" }, 2 },
};

enum fa_rc cfg_set_defaults(struct fa_config *cfg)
{
	char *base = (char *)cfg;

	cfg->source = FA_CONFIG_SOURCE_DEFAULTS;
	for (size_t i = 0; i < ARRAY_LEN(default_strs); i++) {
		char *s = cfg_strdup(cfg, default_strs[i].value);
		if (!s)
			return FA_ENOMEM;
		memcpy(base + default_strs[i].off, &s, sizeof(s));
	}
	for (size_t i = 0; i < ARRAY_LEN(default_lists); i++) {
		struct fa_config_list *l = (struct fa_config_list *)(base + default_lists[i].off);
		if (cfg_list_set(cfg, l, default_lists[i].items, default_lists[i].n) != FA_OK)
			return FA_ENOMEM;
	}
	cfg->server.http_port = 8088;
	cfg->server.security.secure = false;
	/* SPEC §3: authentication is on unless the file turns it off. */
	cfg->server.security.use_auth = true;
	cfg->server.security.allow_cors = true;
	cfg->server.security.insecure_cookie_header = false;
	cfg->database.kind = FA_CONFIG_DB_SQLITE;
	cfg->database.postgres.port = 5432;
	cfg->auth.user_auth.cookie_setting.same_site_policy = FA_CONFIG_SAMESITE_DEFAULT;
	cfg->auth.app_auth.auth_server_type = FA_CONFIG_AS_SELF;
	cfg->auth.app_auth.self.access_token_lifespan_ms = 30LL * 60 * 1000;
	cfg->auth.app_auth.self.refresh_token_lifespan_ms = 60LL * 60 * 1000;
	cfg->auth.app_auth.self.authorization_code_lifespan_ms = 5LL * 60 * 1000;
	cfg->auth.app_auth.self.device_code_lifespan_ms = 10LL * 60 * 1000;
	cfg->auth.app_auth.self.device_poll_interval_ms = 5LL * 1000;
	cfg->auth.app_auth.self.refresh_token_max_lifespan_ms = 168LL * 3600 * 1000;
	cfg->auth.app_auth.self.token_signing_algorithm = FA_CONFIG_ALG_RS256;
	cfg->auth.app_auth.self.max_pending_device_codes = 10000;
	cfg->auth.app_auth.self.max_pending_authorization_requests = 10000;
	/* A browser bounces through /oauth2/authorize a few times per login
	 * and a user starts one device flow; a flood from one address gets a
	 * handful. Per client they bound what one public client id (flytectl,
	 * which anyone may name) can write: 10/s x 10 min of device codes
	 * stays under the default cap of 10,000. */
	cfg->auth.app_auth.self.rate_limits.authorize_per_address =
		(struct fa_config_rate){ .burst = 60, .per_minute = 120 };
	cfg->auth.app_auth.self.rate_limits.authorize_per_client =
		(struct fa_config_rate){ .burst = 300, .per_minute = 900 };
	cfg->auth.app_auth.self.rate_limits.device_per_address =
		(struct fa_config_rate){ .burst = 30, .per_minute = 30 };
	cfg->auth.app_auth.self.rate_limits.device_per_client =
		(struct fa_config_rate){ .burst = 100, .per_minute = 600 };
	cfg->auth.app_auth.external.retry_attempts = 5;
	cfg->auth.app_auth.external.retry_delay_ms = 1000;
	cfg->logger.level = 4;
	cfg->logger.format = FA_CONFIG_LOG_TEXT;
	cfg->metrics.port = 10254;
	return set_default_clients(cfg);
}
