/* fuzz_config_yaml.c -- libFuzzer target for the config loader
 * (fa_config_load_buffer): YAML events, the tree with positions, the
 * multi-document merge, shape detection, Helm values mapping, the key
 * walker and the checks across keys.
 *
 * Besides "no crash, no leak, no UB", it checks the loader's promises on
 * every input: a config comes back exactly when the answer is FA_OK and no
 * line is an error; a refusal names at least one error line; there are at
 * most FA_CONFIG_MAX_ERRORS error lines (plus the "too many errors" one);
 * every line starts with the file name; an accepted config keeps the
 * non-NULL contract and its caps, and can be explained.
 */
#include <stdint.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_list(const struct fa_config_list *l)
{
	if (l->count > FA_CONFIG_MAX_LIST || (l->count && !l->items))
		__builtin_trap();
	for (size_t i = 0; i < l->count; i++)
		if (!l->items[i])
			__builtin_trap();
}

static void check_config(const struct fa_config *c)
{
	struct fa_buf b;

	if (!c->server.bind_address || !c->auth.user_auth.open_id.base_url ||
	    !c->auth.app_auth.external.base_url || !c->secrets.secrets_prefix ||
	    c->server.http_port < 1 || c->server.http_port > 65535 ||
	    c->auth.app_auth.self.static_clients_count > FA_CONFIG_MAX_CLIENTS ||
	    c->auth.user_auth.local_users_count > FA_CONFIG_MAX_USERS ||
	    c->inline_secrets_count > FA_CONFIG_MAX_INLINE_SECRETS ||
	    c->auth.app_auth.self.access_token_lifespan_ms <= 0)
		__builtin_trap();
	/* External always ends up with a base URL (its own or the IdP's). */
	if (c->auth.app_auth.auth_server_type == FA_CONFIG_AS_EXTERNAL &&
	    !c->auth.app_auth.external.base_url[0])
		__builtin_trap();
	check_list(&c->auth.authorized_uris);
	check_list(&c->auth.user_auth.open_id.scopes);
	for (size_t i = 0; i < c->auth.app_auth.self.static_clients_count; i++) {
		const struct fa_config_client *cl = &c->auth.app_auth.self.static_clients[i];
		if (!cl->id || !cl->client_secret || !cl->key)
			__builtin_trap();
		check_list(&cl->redirect_uris);
		check_list(&cl->scopes);
	}
	fa_buf_init(&b, 64 * 1024);
	if (fa_config_explain(c, &b) != FA_OK)
		__builtin_trap();
	fa_buf_cleanup(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fa_config_diag *d = fa_config_diag_new();
	struct fa_config *cfg = NULL;
	struct fa_err err;
	enum fa_rc rc;
	size_t errors;

	if (!d)
		return 0;
	rc = fa_config_load_buffer("fuzz.yaml", data, size, d, &cfg, &err);
	errors = fa_config_diag_errors(d);
	if ((rc == FA_OK) != (cfg != NULL))
		__builtin_trap();
	if (rc == FA_OK && errors)
		__builtin_trap();
	if ((rc == FA_ECONFIG || rc == FA_ETOOBIG) && !errors)
		__builtin_trap();
	if (errors > FA_CONFIG_MAX_ERRORS + 1)
		__builtin_trap();
	for (size_t i = 0; i < fa_config_diag_count(d); i++)
		if (strncmp(fa_config_diag_line(d, i), "fuzz.yaml:", 10) != 0)
			__builtin_trap();
	if (cfg)
		check_config(cfg);
	fa_config_free(cfg);
	fa_config_diag_free(d);
	return 0;
}
