/* keys.c -- glue between the configuration and the secrets and jose
 * modules, shared by `serve` and `config check --online`: where secrets are
 * looked up, and the loading of the token signing keys.
 */
#include <string.h>

#include "cli/cli.h"

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

static const char *alg_name(enum fa_config_sig_alg a)
{
	switch (a) {
	case FA_CONFIG_ALG_RS256: return "RS256";
	case FA_CONFIG_ALG_ES256: return "ES256";
	case FA_CONFIG_ALG_EDDSA: return "EdDSA";
	}
	return "RS256";
}

/* An `optional` key may be absent or empty (FA_ENOTFOUND): see
 * fa_secret_get_optional. */
static enum fa_rc load_pem_key(const struct fa_secret_source *src, const char *name,
			       bool optional, const struct fa_config_pos *pos,
			       struct fa_jwk **out, struct fa_err *err)
{
	char where[256];
	char *pem = NULL;
	size_t len = 0;
	struct fa_err e;
	enum fa_rc rc;

	fa_config_pos_format(pos, where, sizeof(where));
	fa_err_clear(&e);
	rc = optional ? fa_secret_get_optional(src, name, &pem, &len, &e)
		      : fa_secret_get(src, name, &pem, &len, NULL, &e);
	if (rc != FA_OK)
		return fa_err_set(err, rc, "%s: %s", where, e.msg);
	rc = fa_jwk_from_pem(pem, len, out, &e);
	fa_free_secret(pem);
	if (rc != FA_OK)
		return fa_err_set(err, rc, "%s: secret \"%s\" is not a usable key: %s", where, name,
				  e.msg);
	return FA_OK;
}

enum fa_rc fa_cli_keys_load(const struct fa_config *cfg, const struct fa_secret_source *src,
			    struct fa_cli_keys *keys, struct fa_err *err)
{
	const __typeof__(cfg->auth.app_auth.self) *self = &cfg->auth.app_auth.self;
	const char *want = alg_name(self->token_signing_algorithm);
	struct fa_jwk *old = NULL;
	char where[256];
	enum fa_rc rc;

	memset(keys, 0, sizeof(*keys));
	rc = load_pem_key(src, self->token_signing_rsa_key_secret_name, false,
			  &self->token_signing_rsa_key_secret_name_pos, &keys->signing, err);
	if (rc != FA_OK)
		goto out;
	fa_config_pos_format(&self->token_signing_rsa_key_secret_name_pos, where, sizeof(where));
	if (!fa_jwk_has_private(keys->signing)) {
		rc = fa_err_set(err, FA_ECONFIG, "%s: secret \"%s\" holds a public key; the signing "
				"key must be private", where, self->token_signing_rsa_key_secret_name);
		goto out;
	}
	if (strcmp(fa_jws_alg_name(fa_jwk_alg(keys->signing)), want) != 0) {
		rc = fa_err_set(err, FA_ECONFIG, "%s: secret \"%s\" holds a %s key (%s) but "
				"tokenSigningAlgorithm is %s", where,
				self->token_signing_rsa_key_secret_name,
				fa_jwk_kty_name(keys->signing),
				fa_jws_alg_name(fa_jwk_alg(keys->signing)), want);
		goto out;
	}
	rc = fa_jwks_new(&keys->verify, err);
	if (rc == FA_OK)
		rc = fa_jwks_add(keys->verify, keys->signing, err);
	if (rc != FA_OK)
		goto out;
	/* The old key is optional: it exists only during a key rotation. */
	if (self->old_token_signing_rsa_key_secret_name[0]) {
		struct fa_err e;

		fa_err_clear(&e);
		rc = load_pem_key(src, self->old_token_signing_rsa_key_secret_name, true,
				  &self->old_token_signing_rsa_key_secret_name_pos, &old, &e);
		if (rc == FA_ENOTFOUND) {
			rc = FA_OK;
		} else if (rc != FA_OK) {
			fa_err_set(err, rc, "%s", e.msg);
			goto out;
		} else if (strcmp(fa_jwk_kid(old), fa_jwk_kid(keys->signing)) != 0) {
			rc = fa_jwks_add(keys->verify, old, err);
		}
	}
out:
	fa_jwk_free(old);
	if (rc != FA_OK)
		fa_cli_keys_cleanup(keys);
	return rc;
}

void fa_cli_keys_cleanup(struct fa_cli_keys *keys)
{
	fa_jwk_free(keys->signing);
	fa_jwks_free(keys->verify);
	keys->signing = NULL;
	keys->verify = NULL;
}
