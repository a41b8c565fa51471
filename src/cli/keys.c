/* keys.c -- glue between the configuration and the secrets, jose and http
 * modules, shared by `serve` and `config check`: loading the
 * configuration, where secrets are looked up, the loading of the token
 * signing keys, and the check of the TLS files.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "http/http.h"

enum fa_rc fa_cli_config_load(const char *path, struct fa_config_diag *diag,
			      struct fa_config **out, struct fa_err *err)
{
	enum fa_rc rc;

	*out = NULL;
	if (path) {
		rc = fa_config_load(path, diag, out, err);
	} else {
		*out = fa_config_new_defaults();
		rc = *out ? FA_OK : fa_err_set(err, FA_ENOMEM, "out of memory");
	}
	if (rc == FA_OK)
		rc = fa_config_supported(*out, diag, err);
	if (rc != FA_OK) {
		fa_config_free(*out);
		*out = NULL;
	}
	return rc;
}

enum fa_rc fa_cli_tls_check(const struct fa_config *cfg, char what[FA_CLI_TLS_WHAT_MAX],
			    const struct fa_config_pos **pos, struct fa_err *err)
{
	const __typeof__(cfg->server.security.ssl) *ssl = &cfg->server.security.ssl;
	int which = 0;
	enum fa_rc rc = fa_http_tls_check(ssl->certificate_file, ssl->key_file, &which, err);

	what[0] = '\0';
	if (pos)
		*pos = which == 1 ? &ssl->key_file_pos : &ssl->certificate_file_pos;
	if (rc == FA_OK)
		return rc;
	if (which == 0)
		snprintf(what, FA_CLI_TLS_WHAT_MAX, "server.security.ssl.certificateFile %s",
			 ssl->certificate_file);
	else if (which == 1)
		snprintf(what, FA_CLI_TLS_WHAT_MAX, "server.security.ssl.keyFile %s", ssl->key_file);
	else
		snprintf(what, FA_CLI_TLS_WHAT_MAX,
			 "server.security.ssl.certificateFile %s with keyFile %s",
			 ssl->certificate_file, ssl->key_file);
	return rc;
}

void fa_cli_secret_source(const struct fa_config *cfg, struct fa_secret_source *src,
			  struct fa_secret_inline *inl)
{
	size_t n = cfg->inline_secrets_count;

	if (n > FA_CONFIG_MAX_INLINE_SECRETS)
		n = FA_CONFIG_MAX_INLINE_SECRETS;
	for (size_t i = 0; i < n; i++) {
		inl[i].name = cfg->inline_secrets[i].name;
		inl[i].value = cfg->inline_secrets[i].value;
	}
	memset(src, 0, sizeof(*src));
	src->secrets_prefix = cfg->secrets.secrets_prefix;
	src->env_prefix = cfg->secrets.env_prefix;
	src->inline_secrets = n ? inl : NULL;
	src->n_inline = n;
}

/* Where secret problems go (fa_cli_secrets_load's caller), and the first
 * one's rc. */
struct sink {
	const struct fa_config *cfg;
	void (*report)(void *arg, const char *line);
	void *arg;
	enum fa_rc first;
};

/* Reports one problem with a secret as "FILE:LINE:COL: message": at its
 * name's key when the file set the name; else where the file set
 * secrets-prefix (or env-prefix), which chose where the default name was
 * looked up, saying so; else "FILE: message", saying the prefixes are the
 * built-in defaults; "built-in default" only with no file. Returns rc. */
static enum fa_rc secret_fail(struct sink *k, const struct fa_config_pos *name_pos, enum fa_rc rc,
			      const char *fmt, ...) FA_PRINTF(4, 5);

static enum fa_rc secret_fail(struct sink *k, const struct fa_config_pos *name_pos, enum fa_rc rc,
			      const char *fmt, ...)
{
	const struct fa_config_pos *p = name_pos;
	struct fa_config_pos file = { k->cfg->path, 0, 0 };
	const char *via = "";
	char where[256], msg[512], line[800];
	va_list ap;

	if (p->line == 0 && k->cfg->secrets.secrets_prefix_pos.line > 0) {
		p = &k->cfg->secrets.secrets_prefix_pos;
		via = " (looked up under secrets.secrets-prefix)";
	} else if (p->line == 0 && k->cfg->secrets.env_prefix_pos.line > 0) {
		p = &k->cfg->secrets.env_prefix_pos;
		via = " (looked up with secrets.env-prefix)";
	} else if (p->line == 0 && k->cfg->path && k->cfg->path[0]) {
		/* The file chose neither: say the defaults did, and whose file. */
		p = &file;
		via = " (secrets.secrets-prefix and secrets.env-prefix are not set in the file: "
		      "the built-in defaults)";
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s: %s%s", fa_config_pos_format(p, where, sizeof(where)), msg,
		 via);
	k->report(k->arg, line);
	if (k->first == FA_OK)
		k->first = rc;
	return rc;
}

/* An `optional` key may be absent or empty (FA_ENOTFOUND, not reported):
 * see fa_secret_get_optional. */
static enum fa_rc load_pem_key(struct sink *k, const struct fa_secret_source *src, const char *name,
			       const struct fa_config_pos *pos, bool optional, struct fa_jwk **out)
{
	char *pem = NULL;
	size_t len = 0;
	struct fa_err e;
	enum fa_rc rc;

	fa_err_clear(&e);
	rc = optional ? fa_secret_get_optional(src, name, &pem, &len, &e)
		      : fa_secret_get(src, name, &pem, &len, NULL, &e);
	if (rc == FA_ENOTFOUND && optional)
		return rc;
	if (rc != FA_OK)
		return secret_fail(k, pos, rc, "%s", e.msg);
	rc = fa_jwk_from_pem(pem, len, out, &e);
	fa_free_secret(pem);
	if (rc != FA_OK)
		return secret_fail(k, pos, rc, "secret \"%s\" is not a usable key: %s", name, e.msg);
	return FA_OK;
}

/* The token keys of the Self authorization server: the current signing
 * key (tokenSigningRSAKeySecretName, whose key type must match
 * tokenSigningAlgorithm) and the public set served at /oauth2/jwks and
 * used for verification (current, then oldTokenSigningRSAKeySecretName
 * when that secret exists). */
static enum fa_rc keys_load(struct sink *k, const struct fa_secret_source *src,
			    struct fa_cli_keys *keys)
{
	const __typeof__(k->cfg->auth.app_auth.self) *self = &k->cfg->auth.app_auth.self;
	const struct fa_config_pos *pos = &self->token_signing_rsa_key_secret_name_pos;
	const char *name = self->token_signing_rsa_key_secret_name;
	const char *want = fa_config_sig_alg_str(self->token_signing_algorithm);
	struct fa_jwk *old = NULL;
	struct fa_err e;
	enum fa_rc rc;

	memset(keys, 0, sizeof(*keys));
	fa_err_clear(&e);
	rc = load_pem_key(k, src, name, pos, false, &keys->signing);
	if (rc != FA_OK)
		return rc;
	if (!fa_jwk_has_private(keys->signing))
		return secret_fail(k, pos, FA_ECONFIG, "secret \"%s\" holds a public key; the "
				   "signing key must be private", name);
	if (strcmp(fa_jws_alg_name(fa_jwk_alg(keys->signing)), want) != 0)
		return secret_fail(k, pos, FA_ECONFIG, "secret \"%s\" holds a %s key (%s) but "
				   "tokenSigningAlgorithm is %s", name, fa_jwk_kty_name(keys->signing),
				   fa_jws_alg_name(fa_jwk_alg(keys->signing)), want);
	rc = fa_jwks_new(&keys->verify, &e);
	if (rc == FA_OK)
		rc = fa_jwks_add(keys->verify, keys->signing, &e);
	if (rc != FA_OK)
		return secret_fail(k, pos, rc, "%s", e.msg);
	/* The old key is optional: it exists only during a key rotation. */
	if (self->old_token_signing_rsa_key_secret_name[0]) {
		rc = load_pem_key(k, src, self->old_token_signing_rsa_key_secret_name,
				  &self->old_token_signing_rsa_key_secret_name_pos, true, &old);
		if (rc == FA_OK && strcmp(fa_jwk_kid(old), fa_jwk_kid(keys->signing)) != 0 &&
		    fa_jwks_add(keys->verify, old, &e) != FA_OK)
			rc = secret_fail(k, &self->old_token_signing_rsa_key_secret_name_pos,
					 FA_ENOMEM, "%s", e.msg);
		fa_jwk_free(old);
		if (rc == FA_ENOTFOUND)
			rc = FA_OK;
	}
	return rc;
}

static void keys_cleanup(struct fa_cli_keys *keys)
{
	fa_jwk_free(keys->signing);
	fa_jwks_free(keys->verify);
	keys->signing = NULL;
	keys->verify = NULL;
}

enum fa_rc fa_cli_secrets_load(const struct fa_config *cfg, const struct fa_secret_source *src,
			       struct fa_cli_secrets *out,
			       void (*report)(void *arg, const char *line), void *arg)
{
	const __typeof__(cfg->auth.user_auth) *ua = &cfg->auth.user_auth;
	const __typeof__(cfg->auth.app_auth.self) *self = &cfg->auth.app_auth.self;
	unsigned char claim[FA_SECRET_CLAIM_KEY_LEN];
	const struct {
		const char *name;
		const struct fa_config_pos *pos;
		unsigned char *key;
		size_t len;
	} keys[] = {
		{ ua->cookie_hash_key_secret_name, &ua->cookie_hash_key_secret_name_pos,
		  out->cookie_hash_key, sizeof(out->cookie_hash_key) },
		{ ua->cookie_block_key_secret_name, &ua->cookie_block_key_secret_name_pos,
		  out->cookie_block_key, sizeof(out->cookie_block_key) },
		/* Checked, not used: flyteadmin's layout requires it. */
		{ self->claim_symmetric_encryption_key_secret_name,
		  &self->claim_symmetric_encryption_key_secret_name_pos, claim, sizeof(claim) },
	};
	struct sink k = { cfg, report, arg, FA_OK };
	struct fa_err e;

	memset(out, 0, sizeof(*out));
	/* Every problem is reported, not just the first: an operator fixes
	 * them in one go. */
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		fa_err_clear(&e);
		if (fa_secret_get_key(src, keys[i].name, keys[i].key, keys[i].len, &e) != FA_OK)
			(void)secret_fail(&k, keys[i].pos, e.rc, "%s", e.msg);
	}
	/* The token keys are the Self authorization server's; in External
	 * mode nothing signs with them (flyteadmin does not read them
	 * either). */
	if (cfg->auth.app_auth.auth_server_type != FA_CONFIG_AS_EXTERNAL)
		(void)keys_load(&k, src, &out->keys);
	fa_memzero(claim, sizeof(claim));
	if (k.first != FA_OK)
		fa_cli_secrets_cleanup(out);
	return k.first;
}

void fa_cli_secrets_cleanup(struct fa_cli_secrets *s)
{
	keys_cleanup(&s->keys);
	fa_memzero(s->cookie_hash_key, sizeof(s->cookie_hash_key));
	fa_memzero(s->cookie_block_key, sizeof(s->cookie_block_key));
}
