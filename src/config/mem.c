/* mem.c -- the memory of a config: every string, list and array of a
 * struct fa_config (or of a client config, through a holder sharing its
 * arena) lives in one capped arena, so freeing is one call that zeroes
 * everything (inline secrets, database passwords). The walker, the Helm
 * mapping and the defaults allocate through these helpers; none of them
 * knows where a value came from. */
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

char *cfg_strdup(struct fa_config *cfg, const char *s)
{
	return fa_arena_strndup(cfg->mem_, s, strlen(s));
}

enum fa_rc cfg_list_set(struct fa_config *cfg, struct fa_config_list *list,
			const char *const *items, size_t n)
{
	char **v = NULL;

	if (n) {
		v = fa_arena_alloc(cfg->mem_, n * sizeof(*v));
		if (!v)
			return FA_ENOMEM;
		for (size_t i = 0; i < n; i++) {
			v[i] = cfg_strdup(cfg, items[i]);
			if (!v[i])
				return FA_ENOMEM;
		}
	}
	list->items = v;
	list->count = n;
	return FA_OK;
}

/* Arrays grow by doubling from 4; the arena cannot realloc, so growth
 * copies (the old array stays until the config is freed: at most 2x). */
static bool needs_growth(size_t count)
{
	return count == 0 || (count >= 4 && (count & (count - 1)) == 0);
}

struct fa_config_client *cfg_client_add(struct fa_config *cfg)
{
	size_t n = cfg->auth.app_auth.self.static_clients_count;
	struct fa_config_client *arr = cfg->auth.app_auth.self.static_clients;

	if (needs_growth(n)) {
		size_t cap = n ? n * 2 : 4;
		struct fa_config_client *na = fa_arena_alloc(cfg->mem_, cap * sizeof(*na));
		if (!na)
			return NULL;
		if (n)
			memcpy(na, arr, n * sizeof(*na));
		arr = na;
		cfg->auth.app_auth.self.static_clients = na;
	}
	cfg->auth.app_auth.self.static_clients_count = n + 1;
	memset(&arr[n], 0, sizeof(arr[n]));
	return &arr[n];
}

struct fa_config_user *cfg_users_alloc(struct fa_config *cfg, size_t n)
{
	return n ? fa_arena_alloc(cfg->mem_, n * sizeof(struct fa_config_user)) : NULL;
}

enum fa_rc cfg_client_init(struct fa_config *cfg, struct fa_config_client *cl)
{
	cl->key = cfg_strdup(cfg, "");
	cl->id = cfg_strdup(cfg, "");
	cl->client_secret = cfg_strdup(cfg, "");
	return cl->key && cl->id && cl->client_secret ? FA_OK : FA_ENOMEM;
}

enum fa_rc cfg_inline_secret_set(struct fa_config *cfg, const char *name, const char *value,
				 const struct fa_config_pos *pos)
{
	struct fa_config_secret *s = NULL;

	for (size_t i = 0; i < cfg->inline_secrets_count; i++)
		if (!strcmp(cfg->inline_secrets[i].name, name)) /* not secret: a name */
			s = &cfg->inline_secrets[i];
	if (!s) {
		if (cfg->inline_secrets_count >= FA_CONFIG_MAX_INLINE_SECRETS)
			return FA_ETOOBIG;
		if (!cfg->inline_secrets) {
			cfg->inline_secrets = fa_arena_alloc(cfg->mem_, FA_CONFIG_MAX_INLINE_SECRETS *
							     sizeof(struct fa_config_secret));
			if (!cfg->inline_secrets)
				return FA_ENOMEM;
		}
		char *copy = cfg_strdup(cfg, name);

		if (!copy)
			return FA_ENOMEM;
		s = &cfg->inline_secrets[cfg->inline_secrets_count++];
		s->name = copy;
		s->value = NULL;
	}
	s->value = cfg_strdup(cfg, value);
	if (!s->value)
		return FA_ENOMEM;
	s->pos = *pos;
	return FA_OK;
}

