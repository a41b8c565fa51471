/* cmd_config.c -- `flyteauth config check [--config FILE] [--online]`.
 *
 * By default it checks the file alone: YAML shape, keys, types, values,
 * printed as FILE:LINE:COL lines, then "configuration OK" and a short
 * explanation. --online also loads every secret the configuration needs and
 * fetches, through the remote module, the IdP's discovery document and the
 * external authorization server's metadata, validated as `serve` will
 * (issuer, required members, https endpoints), and their JWKS, so that a
 * deployment fails here rather than at the first login.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "remote/remote.h"


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

static void report_line(void *arg, const char *line)
{
	struct check *c = arg;

	fprintf(stderr, "%s\n", line);
	c->errors++;
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

/* The secrets, loaded exactly as serve loads them. */
static void check_secrets(struct check *c)
{
	const struct fa_config *cfg = c->cfg;
	const __typeof__(cfg->auth.user_auth) *ua = &cfg->auth.user_auth;
	struct fa_cli_secrets sec;

	if (!cfg->server.security.use_auth)
		return;
	if (fa_cli_secrets_load(cfg, &c->src, &sec, report_line, c) == FA_OK &&
	    sec.keys.signing) {
		printf("token signing key: %s, kid %s (%zu key(s) published)\n",
		       fa_jws_alg_name(fa_jwk_alg(sec.keys.signing)), fa_jwk_kid(sec.keys.signing),
		       fa_jwks_count(sec.keys.verify));
	}
	fa_cli_secrets_cleanup(&sec);
	if (ua->open_id.base_url[0])
		check_plain_secret(c, ua->open_id.client_secret_name,
				   &ua->open_id.client_secret_name_pos);
}

/* The metadata at url, checked as fa_discovery_parse does, with the issuer
 * mismatch explained in the config's terms. NULL when reported. */
static struct fa_discovery *fetch_metadata(struct check *c, const struct fa_remote *r,
					   enum fa_discovery_kind kind, const char *expected,
					   const char *url, const char *key,
					   const struct fa_config_pos *pos, const char *what)
{
	struct fa_remote_resp resp;
	struct fa_discovery *d = NULL;
	struct fa_err err;
	json_t *doc = NULL;
	const char *issuer;

	fa_err_clear(&err);
	if (fa_remote_get_json(r, url, FA_MAX_JWKS, what, NULL, &doc, &resp, &err) != FA_OK) {
		problem(c, pos, "cannot %s %s at %s", err.rc == FA_ENET ? "reach" : "use", what,
			err.msg);
		return NULL;
	}
	issuer = json_string_value(json_object_get(doc, "issuer"));
	if (issuer && !fa_discovery_issuer_matches(expected, issuer, NULL))
		problem(c, pos, "the %s at %s says its issuer is \"%s\"; set %s to exactly that",
			kind == FA_DISCOVERY_OIDC ? "IdP" : "authorization server", expected, issuer,
			key);
	else if (fa_discovery_parse(kind, expected, url, resp.body, resp.len, 0, &d, &err) != FA_OK)
		problem(c, pos, "%s", err.msg);
	json_decref(doc);
	fa_remote_resp_cleanup(&resp);
	return d;
}

/* The signing keys at d's jwks_uri; -1 when reported. */
static long count_keys(struct check *c, const struct fa_remote *r, const struct fa_discovery *d,
		       const struct fa_config_pos *pos)
{
	struct fa_remote_jwks_opts o = { .rsa_alg = fa_discovery_rsa_alg(d) };
	struct fa_remote_jwks *ks = NULL;
	struct fa_jwks *set = NULL;
	struct fa_err err;
	long n = -1;

	fa_err_clear(&err);
	if (fa_remote_jwks_new(r, d->jwks_uri, &o, &ks, &err) != FA_OK ||
	    fa_remote_jwks_get(ks, &set, &err) != FA_OK)
		problem(c, pos, "JWKS: %s", err.msg);
	else if (fa_jwks_count(set) == 0)
		problem(c, pos, "JWKS at %s has no usable signing key", d->jwks_uri);
	else
		n = (long)fa_jwks_count(set);
	fa_jwks_free(set);
	fa_remote_jwks_free(ks);
	return n;
}

static void check_idp(struct check *c, const struct fa_remote *r)
{
	const __typeof__(c->cfg->auth.user_auth.open_id) *oid = &c->cfg->auth.user_auth.open_id;
	char url[FA_REMOTE_MAX_URL + 1];
	struct fa_discovery *d;
	struct fa_err err;
	long keys;

	if (!oid->base_url[0])
		return;
	fa_err_clear(&err);
	if (fa_discovery_url(FA_DISCOVERY_OIDC, oid->base_url, url, sizeof(url), &err) != FA_OK) {
		problem(c, &oid->base_url_pos, "%s", err.msg);
		return;
	}
	d = fetch_metadata(c, r, FA_DISCOVERY_OIDC, oid->base_url, url, "openId.baseUrl",
			   &oid->base_url_pos, "the IdP's discovery document");
	if (!d)
		return;
	keys = count_keys(c, r, d, &oid->base_url_pos);
	if (keys > 0)
		printf("IdP %s: reachable, issuer matches, %ld signing key(s)%s\n", oid->base_url,
		       keys, d->issuer_is_template ? " (multi-tenant: the issuer follows each "
		       "token's tid)" : "");
	fa_discovery_free(d);
}

static void check_external_as(struct check *c, const struct fa_remote *r)
{
	const __typeof__(c->cfg->auth.app_auth.external) *ext = &c->cfg->auth.app_auth.external;
	char url[FA_REMOTE_MAX_URL + 1];
	struct fa_discovery *d;
	long keys;

	if (c->cfg->auth.app_auth.auth_server_type != FA_CONFIG_AS_EXTERNAL)
		return;
	if (fa_remote_url_join(ext->base_url, ext->metadata_url[0] ? ext->metadata_url :
			       ".well-known/oauth-authorization-server", url, sizeof(url)) != FA_OK) {
		problem(c, &ext->metadata_url_pos, "metadata URL is longer than %d bytes",
			FA_REMOTE_MAX_URL);
		return;
	}
	d = fetch_metadata(c, r, FA_DISCOVERY_OAUTH, ext->base_url, url,
			   "externalAuthServer.baseUrl", &ext->metadata_url_pos,
			   "the external authorization server's metadata");
	if (!d)
		return;
	keys = count_keys(c, r, d, &ext->metadata_url_pos);
	if (keys > 0)
		printf("external authorization server %s: reachable, %ld signing key(s)\n",
		       d->issuer, keys);
	fa_discovery_free(d);
}

/* The TLS files serve will serve, loaded as it will load them. */
static void check_tls(struct check *c)
{
	const struct fa_config_pos *pos = NULL;
	char what[FA_CLI_TLS_WHAT_MAX];
	struct fa_err err;

	if (!c->cfg->server.security.secure)
		return;
	fa_err_clear(&err);
	if (fa_cli_tls_check(c->cfg, what, &pos, &err) != FA_OK)
		problem(c, pos, "%s: %s", what, err.msg);
}

/* An outbound HTTP client through proxy ("": the environment's), as
 * serve makes one; NULL when reported. */
static struct fa_remote *remote_via(struct check *c, const char *proxy)
{
	struct fa_remote_opts o = { .proxy_url = proxy };
	struct fa_remote *r = NULL;
	struct fa_err err;

	fa_err_clear(&err);
	if (fa_remote_new(&o, &r, &err) != FA_OK) {
		fprintf(stderr, "%s\n", err.msg);
		c->errors++;
		return NULL;
	}
	return r;
}

/* The remote checks, each through the proxy serve would use. */
static void check_remote(struct check *c)
{
	const struct fa_config *cfg = c->cfg;
	const char *ext_proxy = cfg->auth.app_auth.external.http_proxy_url;
	struct fa_remote *r;

	if (cfg->auth.user_auth.open_id.base_url[0] && (r = remote_via(c, cfg->auth.http_proxy_url))) {
		check_idp(c, r);
		fa_remote_free(r);
	}
	if (cfg->auth.app_auth.auth_server_type == FA_CONFIG_AS_EXTERNAL &&
	    (r = remote_via(c, ext_proxy[0] ? ext_proxy : cfg->auth.http_proxy_url))) {
		check_external_as(c, r);
		fa_remote_free(r);
	}
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
	/* The very load and checks `serve` runs. */
	rc = fa_cli_config_load(path, diag, &cfg, &err);
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
		check_secrets(&c);
		check_tls(&c);
		check_remote(&c);
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
	/* What the file alone cannot tell: serve also needs its secrets (and
	 * any remote service the config names). */
	if (!online)
		printf("hint: secrets were not loaded and no remote service was reached; "
		       "\"flyteauth config check --online\" does both, as serve will\n");
	fa_config_free(cfg);
	return FA_EXIT_OK;
}

int fa_cli_config(int argc, char **argv)
{
	const char *path = NULL;
	bool online = false, have_check = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return fa_cli_help("config check");
		if (strcmp(argv[i], "check") == 0 && !have_check) {
			have_check = true;
		} else if (strcmp(argv[i], "--online") == 0) {
			online = true;
		} else if (strcmp(argv[i], "--config") == 0) {
			if (++i >= argc)
				return fa_cli_usage_fail("config check", "--config needs a file");
			path = argv[i];
		} else {
			return fa_cli_usage_fail("config check", "unknown argument '%s'", argv[i]);
		}
	}
	if (!have_check)
		return fa_cli_usage_fail("config check", "missing subcommand 'check'");
	return config_check(path, online);
}
