/* cmd_config.c -- `flyteauth config check [--config FILE] [--online]`.
 *
 * By default it checks the file alone: YAML shape, keys, types, values,
 * printed as FILE:LINE:COL lines, then "configuration OK" and a short
 * explanation. --online also loads every secret the configuration needs and
 * reaches the IdP's discovery document and the external authorization
 * server's metadata and JWKS, so that a deployment fails here rather than at
 * the first login.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define CONFIG_USAGE "flyteauth config check [--config FILE] [--online]"
/* A remote metadata fetch may take this long before the check fails. */
#define FETCH_TIMEOUT_S 10L

struct check {
	const struct fa_config *cfg;
	struct fa_secret_source src;
	struct fa_secret_inline inl[FA_CONFIG_MAX_INLINE_SECRETS];
	int errors;
};

static void problem(struct check *c, const struct fa_config_pos *pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct check *c, const struct fa_config_pos *pos, const char *fmt, ...)
{
	char where[256];
	va_list ap;

	fa_config_pos_format(pos, where, sizeof(where));
	fprintf(stderr, "%s: ", where);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	c->errors++;
}

static void check_key_secret(struct check *c, const char *name, size_t want,
			     const struct fa_config_pos *pos)
{
	unsigned char key[64];
	struct fa_err err;

	fa_err_clear(&err);
	if (fa_secret_get_key(&c->src, name, key, want, &err) != FA_OK)
		problem(c, pos, "%s", err.msg);
	fa_memzero(key, sizeof(key));
}

static void check_plain_secret(struct check *c, const char *name, const struct fa_config_pos *pos)
{
	struct fa_err err;
	char *v = NULL;

	fa_err_clear(&err);
	if (fa_secret_get(&c->src, name, &v, NULL, NULL, &err) != FA_OK)
		problem(c, pos, "%s", err.msg);
	fa_free_secret(v);
}

static void check_secrets(struct check *c)
{
	const struct fa_config *cfg = c->cfg;
	const __typeof__(cfg->auth.user_auth) *ua = &cfg->auth.user_auth;

	if (!cfg->server.security.use_auth)
		return;
	check_key_secret(c, ua->cookie_hash_key_secret_name, FA_SECRET_COOKIE_HASH_KEY_LEN,
			 &ua->cookie_hash_key_secret_name_pos);
	check_key_secret(c, ua->cookie_block_key_secret_name, FA_SECRET_COOKIE_BLOCK_KEY_LEN,
			 &ua->cookie_block_key_secret_name_pos);
	if (ua->open_id.base_url[0])
		check_plain_secret(c, ua->open_id.client_secret_name,
				   &ua->open_id.client_secret_name_pos);
	if (cfg->auth.app_auth.auth_server_type == FA_CONFIG_AS_SELF) {
		const __typeof__(cfg->auth.app_auth.self) *self = &cfg->auth.app_auth.self;
		struct fa_cli_keys keys;
		struct fa_err err;

		check_key_secret(c, self->claim_symmetric_encryption_key_secret_name,
				 FA_SECRET_CLAIM_KEY_LEN,
				 &self->claim_symmetric_encryption_key_secret_name_pos);
		fa_err_clear(&err);
		if (fa_cli_keys_load(cfg, &c->src, &keys, &err) != FA_OK) {
			fprintf(stderr, "%s\n", err.msg);
			c->errors++;
		} else {
			printf("token signing key: %s, kid %s (%zu key(s) published)\n",
			       fa_jws_alg_name(fa_jwk_alg(keys.signing)), fa_jwk_kid(keys.signing),
			       fa_jwks_count(keys.verify));
			fa_cli_keys_cleanup(&keys);
		}
	}
}

struct body {
	struct fa_buf buf;
	bool too_big;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct body *b = ud;

	if (fa_buf_append(&b->buf, p, size * n) != FA_OK) {
		b->too_big = true;
		return 0;
	}
	return size * n;
}

/* GETs url and parses it as a JSON object. NULL on failure (reported). */
static json_t *fetch_json(struct check *c, const char *url, const struct fa_config_pos *pos,
			  const char *what)
{
	CURL *h = curl_easy_init();
	struct body b;
	char cerr[CURL_ERROR_SIZE] = "";
	long status = 0;
	json_t *doc = NULL;
	json_error_t jerr;
	CURLcode rc;

	if (!h) {
		problem(c, pos, "cannot fetch %s: out of memory", what);
		return NULL;
	}
	fa_buf_init(&b.buf, FA_MAX_JWKS);
	b.too_big = false;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, FETCH_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "flyteauth/" FA_VERSION);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (b.too_big)
		problem(c, pos, "%s at %s is larger than %d bytes", what, url, FA_MAX_JWKS);
	else if (rc != CURLE_OK)
		problem(c, pos, "cannot reach %s at %s: %s", what, url,
			cerr[0] ? cerr : curl_easy_strerror(rc));
	else if (status != 200)
		problem(c, pos, "%s at %s answered HTTP %ld", what, url, status);
	else if (!(doc = json_loadb(fa_buf_str(&b.buf), b.buf.len, JSON_REJECT_DUPLICATES, &jerr)) ||
		 !json_is_object(doc)) {
		problem(c, pos, "%s at %s is not a JSON object", what, url);
		json_decref(doc);
		doc = NULL;
	}
	fa_buf_cleanup(&b.buf);
	curl_easy_cleanup(h);
	return doc;
}

static const char *doc_str(const json_t *doc, const char *name)
{
	const char *s = json_string_value(json_object_get(doc, name));

	return s && s[0] ? s : NULL;
}

static bool same_issuer(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	/* Tolerate one trailing slash, as Okta and Entra ID issuers differ on it. */
	if (la && a[la - 1] == '/')
		la--;
	if (lb && b[lb - 1] == '/')
		lb--;
	return la == lb && strncmp(a, b, la) == 0;
}

static void join_url(char *out, size_t cap, const char *base, const char *path)
{
	size_t lb = strlen(base);
	bool slash_b = lb && base[lb - 1] == '/';

	if (strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0)
		snprintf(out, cap, "%s", path);
	else
		snprintf(out, cap, "%.*s/%s", (int)(slash_b ? lb - 1 : lb), base,
			 path[0] == '/' ? path + 1 : path);
}

static void check_idp(struct check *c)
{
	const __typeof__(c->cfg->auth.user_auth.open_id) *oid = &c->cfg->auth.user_auth.open_id;
	char url[2048];
	json_t *doc;

	if (!oid->base_url[0])
		return;
	join_url(url, sizeof(url), oid->base_url, ".well-known/openid-configuration");
	doc = fetch_json(c, url, &oid->base_url_pos, "the IdP's discovery document");
	if (!doc)
		return;
	if (!doc_str(doc, "issuer") || !same_issuer(doc_str(doc, "issuer"), oid->base_url))
		problem(c, &oid->base_url_pos, "the IdP at %s says its issuer is \"%s\"; set "
			"openId.baseUrl to exactly that", oid->base_url,
			doc_str(doc, "issuer") ? doc_str(doc, "issuer") : "");
	else if (!doc_str(doc, "authorization_endpoint") || !doc_str(doc, "token_endpoint") ||
		 !doc_str(doc, "jwks_uri"))
		problem(c, &oid->base_url_pos, "the IdP's discovery document at %s lacks "
			"authorization_endpoint, token_endpoint or jwks_uri", url);
	else
		printf("IdP %s: reachable, issuer matches\n", oid->base_url);
	json_decref(doc);
}

static void check_external_as(struct check *c)
{
	const __typeof__(c->cfg->auth.app_auth.external) *ext = &c->cfg->auth.app_auth.external;
	char url[2048];
	json_t *doc, *jwks_doc;
	const char *jwks_uri;

	if (c->cfg->auth.app_auth.auth_server_type != FA_CONFIG_AS_EXTERNAL)
		return;
	join_url(url, sizeof(url), ext->base_url,
		 ext->metadata_url[0] ? ext->metadata_url : ".well-known/oauth-authorization-server");
	doc = fetch_json(c, url, &ext->metadata_url_pos, "the external authorization server's metadata");
	if (!doc)
		return;
	jwks_uri = doc_str(doc, "jwks_uri");
	if (!doc_str(doc, "issuer") || !jwks_uri) {
		problem(c, &ext->metadata_url_pos, "metadata at %s lacks issuer or jwks_uri", url);
	} else if ((jwks_doc = fetch_json(c, jwks_uri, &ext->metadata_url_pos,
					  "the external authorization server's JWKS"))) {
		char *text = json_dumps(jwks_doc, JSON_COMPACT);
		struct fa_jwks *set = NULL;
		struct fa_err err;

		fa_err_clear(&err);
		if (!text || fa_jwks_parse(text, strlen(text), &set, &err) != FA_OK)
			problem(c, &ext->metadata_url_pos, "JWKS at %s: %s", jwks_uri,
				text ? err.msg : "out of memory");
		else if (fa_jwks_count(set) == 0)
			problem(c, &ext->metadata_url_pos, "JWKS at %s has no usable signing key", jwks_uri);
		else
			printf("external authorization server %s: reachable, %zu signing key(s)\n",
			       doc_str(doc, "issuer"), fa_jwks_count(set));
		fa_jwks_free(set);
		free(text);
		json_decref(jwks_doc);
	}
	json_decref(doc);
}

static int config_check(const char *path, bool online)
{
	struct fa_config_diag *diag = fa_config_diag_new();
	struct fa_config *cfg = NULL;
	struct fa_err err;
	struct fa_buf explain;
	struct check c;
	enum fa_rc rc;

	if (!diag)
		return fa_cli_fail("config check: out of memory");
	fa_err_clear(&err);
	if (path)
		rc = fa_config_load(path, diag, &cfg, &err);
	else
		rc = (cfg = fa_config_new_defaults()) ? FA_OK : FA_ENOMEM;
	for (size_t i = 0; i < fa_config_diag_count(diag); i++)
		fprintf(fa_config_diag_severity(diag, i) == FA_CONFIG_ERROR ? stderr : stdout, "%s\n",
			fa_config_diag_line(diag, i));
	if (rc != FA_OK) {
		size_t nerr = fa_config_diag_errors(diag);

		if (nerr == 0)
			fprintf(stderr, "%s\n", err.msg[0] ? err.msg : fa_rc_str(rc));
		fa_config_diag_free(diag);
		return fa_cli_fail("config check: %s has %zu error(s)", path ? path : "the defaults",
				   nerr ? nerr : 1);
	}
	fa_config_diag_free(diag);
	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	if (online) {
		fa_cli_secret_source(cfg, &c.src, c.inl);
		curl_global_init(CURL_GLOBAL_DEFAULT);
		check_secrets(&c);
		check_idp(&c);
		check_external_as(&c);
		curl_global_cleanup();
	}
	if (c.errors) {
		fa_config_free(cfg);
		return fa_cli_fail("config check: %d problem(s) found online", c.errors);
	}
	fa_buf_init(&explain, 64 * 1024);
	if (fa_config_explain(cfg, &explain) == FA_OK)
		fputs(fa_buf_str(&explain), stdout);
	fa_buf_cleanup(&explain);
	printf("configuration OK%s\n", online ? " (secrets loaded, remote services reached)" : "");
	fa_config_free(cfg);
	return FA_EXIT_OK;
}

int fa_cli_config(int argc, char **argv)
{
	const char *path = NULL;
	bool online = false, have_check = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: %s\n\n"
			       "Checks a server configuration: a flyteadmin config file or a\n"
			       "flyte-binary / flyte-core Helm values file.\n\n"
			       "  --config FILE  the file to check (default: the built-in defaults)\n"
			       "  --online       also load every secret it names and reach the IdP\n"
			       "                 and the external authorization server\n",
			       CONFIG_USAGE);
			return FA_EXIT_OK;
		}
		if (strcmp(argv[i], "check") == 0 && !have_check) {
			have_check = true;
		} else if (strcmp(argv[i], "--online") == 0) {
			online = true;
		} else if (strcmp(argv[i], "--config") == 0) {
			if (++i >= argc)
				return fa_cli_usage_error(CONFIG_USAGE, "--config needs a file");
			path = argv[i];
		} else {
			return fa_cli_usage_error(CONFIG_USAGE, "unknown argument '%s'", argv[i]);
		}
	}
	if (!have_check)
		return fa_cli_usage_error(CONFIG_USAGE, "missing subcommand 'check'");
	return config_check(path, online);
}
