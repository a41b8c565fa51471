/* load.c -- one load of a config file, the same steps for the server's
 * config and the client's: read the file bounded (or take a buffer), make
 * the object over its defaults, parse the YAML tree, apply it, check it,
 * and turn the collected diagnostics into the result. What differs between
 * the two kinds (their object, how a tree is applied, what a missing file
 * means) is a struct cfg_loader; this file also holds the server's kind:
 * recognise the file's shape (flyteadmin config or a Helm values file),
 * map a values file to the flyteadmin tree it renders, walk it, validate.
 * It does not read secrets or contact anything: later layers do. */
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

static enum fa_rc result(struct cfg_ctx *c, enum fa_rc rc, size_t first_line,
			 struct fa_err *err)
{
	const char *first = cfg_diag_first_error(c->diag, first_line);

	if (rc == FA_OK && c->enomem)
		rc = FA_ENOMEM;
	if (rc == FA_OK && c->errors)
		rc = FA_ECONFIG;
	if (rc == FA_OK) {
		fa_err_clear(err);
		return FA_OK;
	}
	if (rc == FA_ENOMEM)
		return fa_err_set(err, rc, "%s: out of memory loading the config", c->file);
	if (c->errors > 1 && first)
		return fa_err_set(err, rc, "%s (and %zu more)", first, c->errors - 1);
	return fa_err_set(err, rc, "%s", first ? first : "bad configuration");
}

/* Parses and applies data over the kind's object; the ctx records what
 * went wrong. */
static enum fa_rc load_text(const struct cfg_loader *k, struct cfg_ctx *c, const char *name,
			    const void *data, size_t len)
{
	struct ynode *root = NULL;
	enum fa_rc rc;

	if (k->make(c, name) != FA_OK) {
		c->enomem = true;
		return FA_OK;
	}
	if (len > FA_MAX_CONFIG_FILE) {
		cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, NULL), "file is larger than %d bytes",
			 FA_MAX_CONFIG_FILE);
		return FA_ETOOBIG;
	}
	c->tree = fa_arena_new(CFG_TREE_ARENA_MAX);
	if (!c->tree) {
		c->enomem = true;
		return FA_OK;
	}
	/* libyaml refuses a NULL input even when it is empty. */
	rc = cfg_yaml_parse(c, data ? data : "", data ? len : 0, &root);
	if (rc == FA_OK)
		k->apply(c, root);
	return rc;
}

enum fa_rc cfg_load(const struct cfg_loader *k, const char *name, const void *data, size_t len,
		    bool from_file, struct fa_config_diag *diag, void **out, struct fa_err *err)
{
	struct fa_config_diag *own = NULL;
	char *text = NULL;
	size_t text_len = 0, first_line;
	struct cfg_ctx c;
	enum fa_rc rc;
	int e = 0;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	if (from_file) {
		rc = fa_file_read(name, FA_MAX_CONFIG_FILE, &text, &text_len, &e);
		if (rc == FA_ENOTFOUND || rc == FA_EIO || rc == FA_ETOOBIG)
			return cfg_report_unreadable(name, rc == FA_ENOTFOUND ? k->missing : rc, e,
						     diag, err);
		if (rc != FA_OK)
			return fa_err_set(err, rc, "%s: out of memory", name);
		data = text;
		len = text_len;
	}
	if (!diag) {
		own = fa_config_diag_new();
		if (!own) {
			rc = fa_err_set(err, FA_ENOMEM, "%s: out of memory loading the config", name);
			goto out;
		}
		diag = own;
	}
	first_line = fa_config_diag_count(diag);
	c.diag = diag;
	c.file = name;
	rc = result(&c, load_text(k, &c, name, data, len), first_line, err);
	if (rc == FA_OK)
		*out = c.obj;
	else
		k->destroy(c.obj);
out:
	fa_arena_free(c.tree);
	fa_config_diag_free(own);
	/* The raw file may hold secrets (values files carry clientSecret). */
	if (text)
		fa_memzero(text, text_len);
	free(text);
	return rc;
}

/* ---- the server's config --------------------------------------------------------- */

static struct fa_config *config_alloc(void)
{
	struct fa_arena *a = fa_arena_new(CFG_ARENA_MAX);
	struct fa_config *cfg;

	if (!a)
		return NULL;
	cfg = fa_arena_alloc(a, sizeof(*cfg));
	if (!cfg) {
		fa_arena_free(a);
		return NULL;
	}
	cfg->mem_ = a;
	if (cfg_set_defaults(cfg) != FA_OK) {
		fa_arena_free(a);
		return NULL;
	}
	return cfg;
}

struct fa_config *fa_config_new_defaults(void)
{
	struct fa_config *cfg = config_alloc();

	/* The development server has no console: after a login, a browser
	 * lands on its own page at / rather than a 404 at /console. */
	if (cfg && !(cfg->auth.user_auth.redirect_url = cfg_strdup(cfg, "/"))) {
		fa_config_free(cfg);
		return NULL;
	}
	return cfg;
}

void fa_config_free(struct fa_config *cfg)
{
	if (cfg)
		fa_arena_free(cfg->mem_);   /* cfg lives in its own arena; zeroed */
}

static enum fa_rc server_make(struct cfg_ctx *c, const char *name)
{
	struct fa_config *cfg = config_alloc();

	c->cfg = cfg;
	c->obj = cfg;
	if (!cfg)
		return FA_ENOMEM;
	cfg->path = cfg_strdup(cfg, name);
	/* flyteadmin listens on every address; so does a configured flyteauth. */
	cfg->server.bind_address = cfg_strdup(cfg, "0.0.0.0");
	if (!cfg->path || !cfg->server.bind_address)
		return FA_ENOMEM;
	c->file = cfg->path;
	return FA_OK;
}

static void server_apply(struct cfg_ctx *c, struct ynode *root)
{
	struct ynode *admin = root;

	c->cfg->source = cfg_detect(root);
	if (c->cfg->source == FA_CONFIG_SOURCE_FLYTE_BINARY)
		admin = cfg_helm_binary(c, root);
	else if (c->cfg->source == FA_CONFIG_SOURCE_FLYTE_CORE)
		admin = cfg_helm_core(c, root);
	if (root->kind == Y_NULL)
		cfg_diag(c, FA_CONFIG_WARNING, cfg_at(c, NULL),
			 "the file holds no settings; the built-in defaults apply");
	if (admin && !c->enomem && !c->fatal)
		cfg_walk_admin(c, admin);
	/* Checks across keys only make sense on a tree that walked cleanly;
	 * otherwise they repeat the walk's errors in other words. */
	if (!c->enomem && !c->fatal && c->errors == 0)
		cfg_validate(c);
}

static void server_destroy(void *obj)
{
	fa_config_free(obj);
}

/* The server's config must exist: a missing one is a read error. */
static const struct cfg_loader server_kind = {
	server_make, server_apply, server_destroy, FA_EIO,
};

enum fa_rc fa_config_load_buffer(const char *name, const void *data, size_t len,
				 struct fa_config_diag *diag, struct fa_config **out,
				 struct fa_err *err)
{
	void *obj;
	enum fa_rc rc = cfg_load(&server_kind, name, data, len, false, diag, &obj, err);

	*out = obj;
	return rc;
}

enum fa_rc fa_config_load(const char *path, struct fa_config_diag *diag,
			  struct fa_config **out, struct fa_err *err)
{
	void *obj;
	enum fa_rc rc = cfg_load(&server_kind, path, NULL, 0, true, diag, &obj, err);

	*out = obj;
	return rc;
}
