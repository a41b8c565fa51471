/* walk.c -- applies a YAML tree to a struct through the key tables of
 * schema.c: finds each key (case-insensitively), checks its type and value
 * (booleans, integers and ports in range, Go durations, absolute http(s)
 * URLs without fragment or credentials, enum names, plain secret file names,
 * bcrypt hash shapes), stores it with its position, and explains every key
 * it does not know -- with "did you mean" for a near miss and "it belongs
 * under X" for a key in the wrong section. Keys that span several fields
 * (which AS, which database, which client) are checked by validate.c.
 * A YAML null means "not given": the default stays. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

/* A mis-indented block usually leaves several keys one level too high;
 * they are reported together, in one line. */
#define MAX_GROUPS 4
#define MAX_GROUP_KEYS 4

struct group {
	const struct cfg_field *child;      /* the section the keys belong in */
	const struct ynode *first;          /* first misplaced key */
	const struct ynode *more[MAX_GROUP_KEYS];
	size_t n_more;
};

struct walk_map_state {
	struct group groups[MAX_GROUPS];
	size_t n_groups;
};

static void apply(struct cfg_ctx *c, void *base, const struct cfg_field *f,
		  const struct yentry *e, const char *path);

/* Dotted paths for messages. A path cut at CFG_MAX_PATH still says where
 * the key is, so truncation is accepted here (and only here). */
static void pathf(char *out, size_t cap, const char *fmt, ...) FA_PRINTF(3, 4);

static void pathf(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
}

static void join(char *out, size_t cap, const char *path, const char *key)
{
	if (*path)
		pathf(out, cap, "%s.%s", path, key);
	else
		pathf(out, cap, "%s", key);
}

static void set_pos(struct cfg_ctx *c, void *base, const struct cfg_field *f,
		    const struct ynode *n)
{
	if (f->pos_off) {
		struct fa_config_pos p = cfg_at(c, n);
		memcpy((char *)base + f->pos_off, &p, sizeof(p));
	}
}

static void set_str(struct cfg_ctx *c, void *base, size_t off, const char *s)
{
	char *copy = cfg_strdup(c->cfg, s);
	if (!copy) {
		c->enomem = true;
		return;
	}
	memcpy((char *)base + off, &copy, sizeof(copy));
}

/* What a value was, for "expected X, got Y". */
static const char *got(const struct ynode *n, bool sensitive, char *buf, size_t cap)
{
	char q[80];

	if (n->kind != Y_SCALAR || sensitive)
		return ykind_str(n->kind);
	snprintf(buf, cap, "\"%s\"", cfg_quote(n->str, n->len, q, sizeof(q)));
	return buf;
}

static void expected(struct cfg_ctx *c, const struct ynode *n, const char *path,
		     const char *what, bool sensitive)
{
	char buf[96];

	cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, n),
		 "%s: expected %s, got %s", path, what, got(n, sensitive, buf, sizeof(buf)));
}

/* ---- scalar readers ---------------------------------------------------------------- */

bool cfg_get_string(struct cfg_ctx *c, const struct ynode *n, const char *path,
		    bool sensitive, const char **out)
{
	if (n->kind != Y_SCALAR) {
		expected(c, n, path, "a string", sensitive);
		return false;
	}
	*out = n->str;
	return true;
}

bool cfg_get_bool(struct cfg_ctx *c, const struct ynode *n, const char *path, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };

	if (n->kind == Y_SCALAR) {
		for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
			if (fa_str_ieq(n->str, yes[i])) {
				*out = true;
				return true;
			}
			if (fa_str_ieq(n->str, no[i])) {
				*out = false;
				return true;
			}
		}
	}
	expected(c, n, path, "a boolean (true or false)", false);
	return false;
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool get_int(struct cfg_ctx *c, const struct ynode *n, const char *path,
		    int64_t min, int64_t max, bool port, int64_t *out)
{
	uint64_t v = 0;
	char q[80];
	bool negative = n->kind == Y_SCALAR && n->len > 1 && n->str[0] == '-' &&
			all_digits(n->str + 1, n->len - 1);

	if (n->kind != Y_SCALAR || (!negative && !all_digits(n->str, n->len))) {
		expected(c, n, path, "an integer", false);
		return false;
	}
	if (negative || fa_parse_u64(n->str, n->len, (uint64_t)max, &v) != FA_OK ||
	    (int64_t)v < min) {
		cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, n),
			 "%s: %s%s is out of range (%lld-%lld)", path,
			 port ? "port " : "", cfg_quote(n->str, n->len, q, sizeof(q)),
			 (long long)min, (long long)max);
		return false;
	}
	*out = (int64_t)v;
	return true;
}

static bool get_duration(struct cfg_ctx *c, const struct ynode *n, const char *path,
			 int64_t min, int64_t max, int64_t *out)
{
	char q[80], lim[32];
	int64_t ms = 0;

	if (n->kind != Y_SCALAR) {
		expected(c, n, path, "a duration such as 30m", false);
		return false;
	}
	if (fa_duration_parse(n->str, n->len, &ms) != FA_OK) {
		cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, n),
			 "%s: bad duration \"%s\"; use Go syntax such as 30m, 1h30m or 500ms",
			 path, cfg_quote(n->str, n->len, q, sizeof(q)));
		return false;
	}
	if (ms < min) {
		if (min <= 1) {
			cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, n),
				 "%s: must be longer than 0", path);
		} else {
			fa_duration_format(min, lim, sizeof(lim));
			cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, n),
				 "%s: must be at least %s", path, lim);
		}
		return false;
	}
	if (ms > max) {
		fa_duration_format(max, lim, sizeof(lim));
		cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, n), "%s: must be at most %s", path, lim);
		return false;
	}
	*out = ms;
	return true;
}

/* ---- value checks ------------------------------------------------------------------ */

/* Why s is not acceptable as a URL (NULL when fine): base's URL grammar,
 * the one every module parses with, and no fragment. allow_path admits
 * "/console" and ".well-known/..." forms. */
static const char *url_problem(const char *s, bool allow_path)
{
	size_t n = strlen(s);
	const char *why = NULL, *colon = strchr(s, ':'), *slash = strchr(s, '/');
	struct fa_url u;

	if (strchr(s, '#'))
		return "must not contain a fragment (#...)";
	if (fa_url_parse(s, n, &u, &why) == FA_OK)
		return NULL;
	/* A path: "/console", ".well-known/openid-configuration". */
	if (allow_path && !strstr(s, "://") && (!colon || (slash && slash < colon)) &&
	    strcmp(why, "not an absolute http(s) URL") == 0)
		return NULL;
	return why;
}

static bool check_url(struct cfg_ctx *c, const struct ynode *n, const char *path, bool allow_path)
{
	const char *why = n->len ? url_problem(n->str, allow_path) : NULL;
	char q[80];

	if (!why)
		return true;
	if (strchr(n->str, '@'))   /* may hold a password: do not repeat it */
		cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, n), "%s: bad URL: %s", path, why);
	else
		cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, n), "%s: bad URL \"%s\": %s", path,
			 cfg_quote(n->str, n->len, q, sizeof(q)), why);
	return false;
}

/* Whether s is a stored secret hash the server will accept: the secrets
 * module's own rule (base64(bcrypt) or a raw $2a$/$2b$/$2y$ hash), so
 * config check cannot pass a hash serve refuses. */
static bool bcrypt_ok(const char *s)
{
	char raw[FA_BCRYPT_LEN + 1];
	bool ok = fa_secret_hash_parse(s, raw, NULL) == FA_OK;

	fa_memzero(raw, sizeof(raw));
	return ok;
}

static bool address_ok(const char *s)
{
	unsigned char buf[16];
	size_t n = strlen(s);

	if (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1)
		return true;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

/* ---- lists -------------------------------------------------------------------------- */

static void apply_list(struct cfg_ctx *c, void *base, const struct cfg_field *f,
		       const struct ynode *n, const char *path)
{
	const char **items = NULL;
	size_t count = 0;
	bool ok = true;
	char ipath[CFG_MAX_PATH];

	if (n->kind == Y_SCALAR && f->kind == CK_AUDIENCE) {
		/* flyteadmin takes one audience as a plain string too. */
		const char *one = n->str;
		if (n->len == 0)
			return;
		if (cfg_list_set(c->cfg, (struct fa_config_list *)((char *)base + f->off), &one, 1))
			c->enomem = true;
		return;
	}
	if (n->kind != Y_SEQ) {
		expected(c, n, path, f->kind == CK_AUDIENCE ? "a string or a list" : "a list",
			 f->sensitive);
		return;
	}
	if (n->count > FA_CONFIG_MAX_LIST) {
		cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, n),
			 "%s: more than %d items", path, FA_CONFIG_MAX_LIST);
		return;
	}
	if (n->count) {
		items = calloc(n->count, sizeof(*items));
		if (!items) {
			c->enomem = true;
			return;
		}
	}
	for (const struct yentry *e = n->first; e; e = e->next, count++) {
		pathf(ipath, sizeof(ipath), "%s[%zu]", path, count);
		if (e->val->kind != Y_SCALAR) {
			expected(c, e->val, ipath, "a string", f->sensitive);
			ok = false;
			continue;
		}
		if (f->kind == CK_URL_LIST && !check_url(c, e->val, ipath, false))
			ok = false;
		items[count] = e->val->str;
	}
	if (ok && cfg_list_set(c->cfg, (struct fa_config_list *)((char *)base + f->off),
			       items, count) != FA_OK)
		c->enomem = true;
	free(items);
}

/* ---- static clients and local users ----------------------------------------------- */

static struct fa_config_client *client_slot(struct cfg_ctx *c, const struct ynode *key)
{
	struct fa_config *cfg = c->cfg;
	struct fa_config_client *cl = NULL;
	size_t n = cfg->auth.app_auth.self.static_clients_count;

	for (size_t i = 0; i < n; i++)
		if (fa_str_ieq(cfg->auth.app_auth.self.static_clients[i].key, key->str))
			cl = &cfg->auth.app_auth.self.static_clients[i];
	if (!cl) {
		if (n >= FA_CONFIG_MAX_CLIENTS) {
			cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, key),
				 "auth.appAuth.selfAuthServer.staticClients: more than %d clients",
				 FA_CONFIG_MAX_CLIENTS);
			return NULL;
		}
		cl = cfg_client_add(cfg);
		if (!cl) {
			c->enomem = true;
			return NULL;
		}
	}
	/* A client given in the file replaces the default one whole, as
	 * flyteadmin decodes each map value afresh. */
	memset(cl, 0, sizeof(*cl));
	if (cfg_client_init(cfg, cl) != FA_OK) {
		c->enomem = true;
		return NULL;
	}
	cl->key = cfg_strdup(cfg, key->str);
	if (!cl->key) {
		c->enomem = true;
		return NULL;
	}
	cl->pos = cfg_at(c, key);
	return cl;
}

static void apply_clients(struct cfg_ctx *c, const struct ynode *n, const char *path)
{
	char cpath[CFG_MAX_PATH], q[80];

	if (n->kind != Y_MAP) {
		expected(c, n, path, "a mapping of client name to client", false);
		return;
	}
	/* Clients given in a file replace the three built-in defaults. (flyteadmin
	 * merges them in, so a config naming only its own clients still gets a
	 * public flyte-cli and a flytepropeller nobody asked for.) */
	if (c->cfg->auth.app_auth.self.static_clients_count &&
	    c->cfg->auth.app_auth.self.static_clients[0].is_default)
		c->cfg->auth.app_auth.self.static_clients_count = 0;
	for (const struct yentry *e = n->first; e && !c->enomem; e = e->next) {
		pathf(cpath, sizeof(cpath), "%s.%s", path,
		      cfg_quote(e->key->str, e->key->len, q, sizeof(q)));
		if (e->val->kind != Y_MAP) {
			expected(c, e->val, cpath, "a mapping (id, client_secret, redirect_uris, ...)",
				 false);
			continue;
		}
		struct fa_config_client *cl = client_slot(c, e->key);
		if (cl)
			cfg_walk_map(c, cl, cfg_client_fields, e->val, cpath, false);
	}
}

static void apply_users(struct cfg_ctx *c, const struct ynode *n, const char *path)
{
	struct fa_config *cfg = c->cfg;
	char upath[CFG_MAX_PATH];
	size_t i = 0, kept = 0;

	if (n->kind != Y_SEQ) {
		expected(c, n, path, "a list of users", false);
		return;
	}
	if (n->count > FA_CONFIG_MAX_USERS) {
		cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, n),
			 "%s: more than %d users", path, FA_CONFIG_MAX_USERS);
		return;
	}
	struct fa_config_user *users = cfg_users_alloc(cfg, n->count);
	if (!users && n->count) {
		c->enomem = true;
		return;
	}
	for (const struct yentry *e = n->first; e; e = e->next, i++) {
		pathf(upath, sizeof(upath), "%s[%zu]", path, i);
		if (e->val->kind != Y_MAP) {
			expected(c, e->val, upath, "a mapping (username, passwordHash, name, email, emailVerified, groups)",
				 false);
			continue;
		}
		struct fa_config_user *u = &users[kept++];
		u->username = cfg_strdup(cfg, "");
		u->password_hash = cfg_strdup(cfg, "");
		u->name = cfg_strdup(cfg, "");
		u->email = cfg_strdup(cfg, "");
		if (!u->username || !u->password_hash || !u->name || !u->email) {
			c->enomem = true;
			return;
		}
		u->pos = cfg_at(c, e->val);
		cfg_walk_map(c, u, cfg_user_fields, e->val, upath, false);
	}
	/* Lists replace, as in flyteadmin: the file's users are all the users. */
	cfg->auth.user_auth.local_users = kept ? users : NULL;
	cfg->auth.user_auth.local_users_count = kept;
}

/* ---- one key ------------------------------------------------------------------------ */

static void apply_enum(struct cfg_ctx *c, void *base, const struct cfg_field *f,
		       const struct ynode *n, const char *path)
{
	char q[80];

	if (n->kind == Y_SCALAR) {
		for (size_t i = 0; i < f->en->count; i++) {
			if (fa_str_ieq(n->str, f->en->names[i].name)) {
				int v = f->en->names[i].value;
				memcpy((char *)base + f->off, &v, sizeof(v));
				set_pos(c, base, f, n);
				return;
			}
		}
		cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, n),
			 "%s: bad value \"%s\"; expected %s", path,
			 cfg_quote(n->str, n->len, q, sizeof(q)), f->en->expected);
		return;
	}
	expected(c, n, path, f->en->expected, false);
}

static void apply_scalar(struct cfg_ctx *c, void *base, const struct cfg_field *f,
			 const struct ynode *n, const char *path)
{
	const char *s = NULL;
	char q[80];
	bool b;
	int64_t v;

	switch (f->kind) {
	case CK_BOOL:
		if (cfg_get_bool(c, n, path, &b)) {
			memcpy((char *)base + f->off, &b, sizeof(b));
			set_pos(c, base, f, n);
		}
		return;
	case CK_INT:
	case CK_PORT:
		if (get_int(c, n, path, f->kind == CK_PORT ? 1 : f->min,
			    f->kind == CK_PORT ? 65535 : f->max, f->kind == CK_PORT, &v)) {
			int iv = (int)v;
			memcpy((char *)base + f->off, &iv, sizeof(iv));
			set_pos(c, base, f, n);
		}
		return;
	case CK_DURATION:
		if (get_duration(c, n, path, f->min, f->max, &v)) {
			memcpy((char *)base + f->off, &v, sizeof(v));
			set_pos(c, base, f, n);
		}
		return;
	default:
		break;
	}
	if (!cfg_get_string(c, n, path, f->sensitive, &s))
		return;
	switch (f->kind) {
	case CK_URL:
	case CK_URL_OR_PATH:
		if (!check_url(c, n, path, f->kind == CK_URL_OR_PATH))
			return;
		break;
	case CK_SECRET_NAME:
		/* An empty name is reported by validate.c where it matters;
		 * any other is held to the secrets module's own rule, as
		 * serve will (a '/' or ".." would read any file). */
		if (*s && fa_secret_name_verify(s, NULL) != FA_OK) {
			cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, n),
				 "%s: bad secret name \"%s\": use a plain file name "
				 "(letters, digits, '.', '_' and '-')", path,
				 cfg_quote(n->str, n->len, q, sizeof(q)));
			return;
		}
		break;
	case CK_HASH:
		if (*s && !bcrypt_ok(s)) {
			cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, n),
				 "%s: not a bcrypt hash (the raw $2a$/$2b$/$2y$ hash "
				 "or its base64); make one with \"flyteauth hash-secret\"", path);
			return;
		}
		break;
	case CK_ADDRESS:
		if (!address_ok(s)) {
			cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, n),
				 "%s: bad address \"%s\": expected an IP address "
				 "such as 0.0.0.0, 127.0.0.1 or ::", path,
				 cfg_quote(n->str, n->len, q, sizeof(q)));
			return;
		}
		break;
	default:
		break;
	}
	set_str(c, base, f->off, s);
	set_pos(c, base, f, n);
}

static void apply_moved(struct cfg_ctx *c, const struct cfg_field *f, const struct yentry *e,
			const char *path)
{
	char parent[CFG_MAX_PATH], where[CFG_MAX_PATH + 16], q[80];
	const struct cfg_field *tf = cfg_field_at(f->target);
	const char *dot = strrchr(f->target, '.');

	if (!tf || !dot)
		return;   /* the tables are wrong; test_config catches it */
	snprintf(parent, sizeof(parent), "%.*s", (int)(dot - f->target), f->target);
	if (*path)
		snprintf(where, sizeof(where), "under %s", path);
	else
		snprintf(where, sizeof(where), "at the top level");
	cfg_diag(c, FA_CONFIG_WARNING, cfg_at(c, e->key),
		 "\"%s\" belongs under %s, not %s; read as %s",
		 cfg_quote(e->key->str, e->key->len, q, sizeof(q)), parent, where, f->target);
	apply(c, c->cfg, tf, e, parent);
}

static void apply(struct cfg_ctx *c, void *base, const struct cfg_field *f,
		  const struct yentry *e, const char *path)
{
	char fpath[CFG_MAX_PATH];
	const struct ynode *n = e->val;

	join(fpath, sizeof(fpath), path, f->key);
	if (f->kind == CK_ENTRY) {
		memcpy((char *)base + f->off, &e, sizeof(e));
		return;
	}
	if (f->kind == CK_IGNORE)
		return;
	if (f->kind == CK_MOVED) {
		apply_moved(c, f, e, path);
		return;
	}
	if (f->kind == CK_UNSUPPORTED) {
		cfg_diag(c, FA_CONFIG_WARNING, cfg_at(c, e->key),
			 "%s is ignored: %s", fpath, f->target);
		return;
	}
	if (n->kind == Y_NULL)
		return;         /* "key:" with no value: the default stays */
	switch (f->kind) {
	case CK_SECTION:
		if (n->kind != Y_MAP) {
			expected(c, n, fpath, "a mapping", false);
			return;
		}
		set_pos(c, base, f, e->key);
		cfg_walk_map(c, base, f->sub, n, fpath, f->lenient);
		return;
	case CK_LIST:
	case CK_URL_LIST:
	case CK_AUDIENCE:
		set_pos(c, base, f, e->key);
		apply_list(c, base, f, n, fpath);
		return;
	case CK_ENUM:
		apply_enum(c, base, f, n, fpath);
		return;
	case CK_CLIENTS:
		apply_clients(c, n, fpath);
		return;
	case CK_USERS:
		apply_users(c, n, fpath);
		return;
	default:
		apply_scalar(c, base, f, n, fpath);
		return;
	}
}

/* ---- unknown keys ------------------------------------------------------------------- */

/* A child section of tab that knows `key`; one that appears in this map as
 * an empty "child:" wins (the signature of a block indented one level too
 * little). */
static const struct cfg_field *child_with(const struct cfg_field *tab, const struct ynode *map,
					  const char *key)
{
	const struct cfg_field *first = NULL;

	for (const struct cfg_field *f = tab; f->key; f++) {
		if (f->kind != CK_SECTION || !cfg_field_find(f->sub, key))
			continue;
		const struct cfg_field *in = cfg_field_find(f->sub, key);
		if (in->kind == CK_MOVED || in->kind == CK_IGNORE)
			continue;
		const struct ynode *v = ymap_get(map, f->key);
		if (v && v->kind == Y_NULL)
			return f;
		if (!first)
			first = f;
	}
	return first;
}

static void report_group(struct cfg_ctx *c, const struct group *g, const char *path)
{
	char q[80], also[CFG_MAX_PATH], where[CFG_MAX_PATH + 16], target[CFG_MAX_PATH];
	size_t o = 0;

	also[0] = '\0';
	for (size_t i = 0; i < g->n_more && o < sizeof(also); i++) {
		int w = snprintf(also + o, sizeof(also) - o, "%s\"%s\"", i ? ", " : " (also ",
				 cfg_quote(g->more[i]->str, g->more[i]->len, q, sizeof(q)));
		if (w < 0 || (size_t)w >= sizeof(also) - o)
			break;
		o += (size_t)w;
	}
	if (g->n_more && o + 1 < sizeof(also)) {
		also[o++] = ')';
		also[o] = '\0';
	}
	if (*path)
		snprintf(where, sizeof(where), "under %s", path);
	else
		snprintf(where, sizeof(where), "at the top level");
	join(target, sizeof(target), path, g->child->key);
	cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, g->first),
		 "key \"%s\" is not valid %s; it belongs under %s \xe2\x80\x94 "
		 "indent it under \"%s:\"%s",
		 cfg_quote(g->first->str, g->first->len, q, sizeof(q)), where, target,
		 g->child->key, also);
}

static void unknown_key(struct cfg_ctx *c, void *base, const struct cfg_field *tab,
			const struct ynode *map, const struct yentry *e, const char *path,
			bool lenient, struct walk_map_state *st)
{
	const char *key = e->key->str;
	char q[80], where[CFG_MAX_PATH], in[CFG_MAX_PATH + 8], under[CFG_MAX_PATH + 8];
	struct fa_config_pos at = cfg_at(c, e->key);
	const struct cfg_field *child;
	const char *near, *kind;

	/* Past the error cap nobody reads the hint: count it, skip the work. */
	if (!lenient && c->errors > FA_CONFIG_MAX_ERRORS) {
		cfg_diag(c, FA_CONFIG_ERROR, cfg_at(c, e->key), "unknown key");
		return;
	}
	child = child_with(tab, map, key);

	if (child) {
		for (size_t i = 0; i < st->n_groups; i++) {
			struct group *g = &st->groups[i];
			if (g->child == child) {
				if (g->n_more < MAX_GROUP_KEYS)
					g->more[g->n_more++] = e->key;
				return;
			}
		}
		if (st->n_groups < MAX_GROUPS) {
			struct group *g = &st->groups[st->n_groups++];
			g->child = child;
			g->first = e->key;
			g->n_more = 0;
			return;
		}
		struct group one = { child, e->key, { NULL }, 0 };
		report_group(c, &one, path);
		return;
	}
	cfg_quote(key, e->key->len, q, sizeof(q));
	near = cfg_suggest(tab, key);
	/* The same sentences for a nested and a top-level key. */
	kind = *path ? "key " : "top-level key ";
	in[0] = under[0] = '\0';
	if (*path) {
		snprintf(in, sizeof(in), " in %s", path);
		snprintf(under, sizeof(under), " under %s", path);
	}
	if (near) {
		cfg_diag(c, FA_CONFIG_ERROR, at, "unknown %s\"%s\"%s; did you mean \"%s\"?", kind, q,
			 in, near);
	} else if (base == c->cfg && cfg_locate(key, where, sizeof(where))) {
		cfg_diag(c, FA_CONFIG_ERROR, at, "key \"%s\" is not valid %s%s; it belongs %s%s", q,
			 *path ? "under " : "at the top level", path,
			 *where ? "under " : "at the top level", where);
	} else if (lenient) {
		cfg_diag(c, FA_CONFIG_NOTE, at, "%s\"%s\"%s is not used by flyteauth; ignored",
			 *path ? "" : kind, q, under);
	} else {
		cfg_diag(c, FA_CONFIG_ERROR, at, "unknown %s\"%s\"%s", kind, q, in);
	}
}

void cfg_walk_map(struct cfg_ctx *c, void *base, const struct cfg_field *tab,
		  const struct ynode *map, const char *path, bool lenient)
{
	struct walk_map_state st;

	st.n_groups = 0;
	for (const struct yentry *e = map->first; e && !c->enomem; e = e->next) {
		const struct cfg_field *f = cfg_field_find(tab, e->key->str);
		if (f)
			apply(c, base, f, e, path);
		else
			unknown_key(c, base, tab, map, e, path, lenient, &st);
	}
	for (size_t i = 0; i < st.n_groups; i++)
		report_group(c, &st.groups[i], path);
}

void cfg_walk_admin(struct cfg_ctx *c, const struct ynode *root)
{
	if (root && root->kind == Y_MAP)
		cfg_walk_map(c, c->cfg, cfg_admin_root, root, "", true);
}
