/* yaml.c -- turns the bytes of a config file into a small tree of mappings,
 * lists and scalars that remembers the line and column (1-based) of every key
 * and value, using libyaml's event parser. All `---` documents of the file
 * are deep-merged in order into one tree. The tree is bounded: nesting by
 * FA_MAX_YAML_DEPTH, nodes by FA_CONFIG_MAX_NODES, memory by a capped arena;
 * aliases (*name) are refused, so a "billion laughs" file cannot expand.
 * Duplicate keys in one mapping are errors (compared case-insensitively, as
 * Flyte's loader folds case). It gives no meaning to any key: walk.c does.
 *
 * Why the event API and not yaml_parser_load: the document loader recurses
 * once per nesting level with no limit, and it resolves aliases to shared
 * nodes whose walk can be exponential. Here nesting is counted on an explicit
 * stack and an alias is an error. */
#include <string.h>

#include <yaml.h>

#include "config/config_int.h"

struct frame {
	struct ynode *node;
	struct ynode *key;      /* Y_MAP: the key waiting for its value */
	bool bad_key;           /* that key was not a scalar: drop the entry */
};

struct builder {
	struct cfg_ctx *c;
	struct frame stack[FA_MAX_YAML_DEPTH + 1];
	int depth;
	struct ynode *doc;      /* root of the current document */
	struct ynode *acc;      /* documents merged so far */
	bool alias_reported;    /* one line for the first alias is enough */
};

const char *ykind_str(enum ykind k)
{
	switch (k) {
	case Y_NULL: return "null";
	case Y_SCALAR: return "a string";
	case Y_MAP: return "a mapping";
	case Y_SEQ: return "a list";
	}
	return "?";
}

static int mark_int(size_t v)
{
	/* Files are capped at 1 MiB, so lines and columns fit; clamp anyway. */
	return v >= (size_t)(1 << 30) ? (1 << 30) : (int)v + 1;
}

struct ynode *ynode_new(struct cfg_ctx *c, enum ykind kind, int line, int col)
{
	if (c->nodes >= FA_CONFIG_MAX_NODES) {
		if (!c->fatal)
			cfg_diag(c, FA_CONFIG_ERROR, cfg_line(c, line, col),
				 "too many YAML nodes (more than %d); is this a config file?",
				 FA_CONFIG_MAX_NODES);
		c->fatal = true;
		return NULL;
	}
	struct ynode *n = fa_arena_alloc(c->tree, sizeof(*n));
	if (!n) {
		c->enomem = true;
		return NULL;
	}
	c->nodes++;
	n->kind = kind;
	n->line = line;
	n->col = col;
	n->str = "";
	return n;
}

struct ynode *yscalar_new(struct cfg_ctx *c, const char *s, int line, int col)
{
	struct ynode *n = ynode_new(c, Y_SCALAR, line, col);
	if (!n)
		return NULL;
	char *copy = fa_arena_strdup(c->tree, s);
	if (!copy) {
		c->enomem = true;
		return NULL;
	}
	n->str = copy;
	n->len = strlen(copy);
	n->quoted = true;
	return n;
}

static struct yentry *entry_new(struct cfg_ctx *c, struct ynode *key, struct ynode *val)
{
	struct yentry *e = fa_arena_alloc(c->tree, sizeof(*e));
	if (!e) {
		c->enomem = true;
		return NULL;
	}
	e->key = key;
	e->val = val;
	return e;
}

static void container_append(struct ynode *n, struct yentry *e)
{
	if (n->last)
		n->last->next = e;
	else
		n->first = e;
	n->last = e;
	n->count++;
}

struct yentry *ymap_entry(const struct ynode *map, const char *key)
{
	if (!map || map->kind != Y_MAP)
		return NULL;
	for (struct yentry *e = map->first; e; e = e->next)
		if (fa_str_ieq(e->key->str, key))
			return e;
	return NULL;
}

struct ynode *ymap_get(const struct ynode *map, const char *key)
{
	struct yentry *e = ymap_entry(map, key);
	return e ? e->val : NULL;
}

/* Copies the first key of a dotted path into part and advances *dotted
 * past it (and its dot). false when the key does not fit. */
static bool path_next(const char **dotted, char part[CFG_MAX_KEY_SUGGEST], bool *last)
{
	const char *dot = strchr(*dotted, '.');
	size_t len = dot ? (size_t)(dot - *dotted) : strlen(*dotted);

	if (len >= CFG_MAX_KEY_SUGGEST)
		return false;
	memcpy(part, *dotted, len);
	part[len] = '\0';
	*dotted += len + (dot ? 1 : 0);
	*last = dot == NULL;
	return true;
}

struct ynode *ymap_path_get(const struct ynode *map, const char *dotted)
{
	char part[CFG_MAX_KEY_SUGGEST];
	struct ynode *n = NULL;
	const struct ynode *cur = map;
	bool last;

	while (cur && *dotted) {
		if (!path_next(&dotted, part, &last))
			return NULL;
		n = ymap_get(cur, part);
		cur = n;
	}
	return n;
}

static enum fa_rc entry_add(struct cfg_ctx *c, struct ynode *map, const char *key,
			    struct ynode *val, int line, int col)
{
	struct ynode *k = yscalar_new(c, key, line, col);
	struct yentry *e = k ? entry_new(c, k, val) : NULL;

	if (!e)
		return FA_ENOMEM;
	container_append(map, e);
	return FA_OK;
}

enum fa_rc ymap_path_set(struct cfg_ctx *c, struct ynode *map, const char *dotted,
			 struct ynode *val, int line, int col)
{
	char part[CFG_MAX_KEY_SUGGEST];
	struct ynode *n = map;
	bool last = false;

	while (!last) {
		struct yentry *e;
		struct ynode *v;

		if (!path_next(&dotted, part, &last))
			return FA_EINVAL;
		e = ymap_entry(n, part);
		if (last)
			v = val;
		else if (e && e->val->kind == Y_MAP)
			v = e->val;
		else if (!(v = ynode_new(c, Y_MAP, line, col)))
			return FA_ENOMEM;
		if (e)
			e->val = v;
		else if (entry_add(c, n, part, v, line, col) != FA_OK)
			return FA_ENOMEM;
		n = v;
	}
	return FA_OK;
}

void ymerge(struct cfg_ctx *c, struct ynode *dst, const struct ynode *src)
{
	for (const struct yentry *se = src->first; se && !c->enomem && !c->fatal; se = se->next) {
		struct yentry *de = ymap_entry(dst, se->key->str);
		if (!de) {
			if (dst->count >= CFG_MAX_MAP_KEYS) {
				cfg_diag(c, FA_CONFIG_ERROR, cfg_line(c, se->key->line, se->key->col),
					 "more than %d keys in one mapping", CFG_MAX_MAP_KEYS);
				c->fatal = true;
				return;
			}
			struct yentry *ne = entry_new(c, se->key, se->val);
			if (!ne)
				return;
			container_append(dst, ne);
		} else if (se->val->kind == Y_NULL) {
			continue;       /* "key:" with nothing adds nothing */
		} else if (de->val->kind == Y_MAP && se->val->kind == Y_MAP) {
			ymerge(c, de->val, se->val);
		} else {
			de->key = se->key;
			de->val = se->val;
		}
	}
}

void yrelocate(struct ynode *n, int line, int col)
{
	n->line = line;
	n->col = col;
	for (struct yentry *e = n->first; e; e = e->next) {
		if (e->key)
			yrelocate(e->key, line, col);
		yrelocate(e->val, line, col);
	}
}

/* ---- building from events -------------------------------------------------------- */

static bool plain_null(const char *s, size_t n)
{
	return n == 0 || (n == 1 && s[0] == '~') ||
	       (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) ||
			   !memcmp(s, "NULL", 4)));
}

static struct ynode *scalar_from_event(struct cfg_ctx *c, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	int line = mark_int(ev->start_mark.line), col = mark_int(ev->start_mark.column);
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	const char *tag = (const char *)ev->data.scalar.tag;

	/* An explicit !!str tag keeps "null" and "true" as strings, as in Go. */
	if (tag && !strcmp(tag, YAML_STR_TAG))
		plain = false;
	if (memchr(s, '\0', n)) {
		cfg_diag(c, FA_CONFIG_ERROR, cfg_line(c, line, col),
			 "value contains a NUL character");
		n = strlen(s);
	}
	struct ynode *node = ynode_new(c, plain && plain_null(s, n) ? Y_NULL : Y_SCALAR,
				       line, col);
	if (!node)
		return NULL;
	char *copy = fa_arena_strndup(c->tree, s, n);
	if (!copy) {
		c->enomem = true;
		return NULL;
	}
	node->str = copy;
	node->len = n;
	node->quoted = !plain;
	return node;
}

/* Places a finished (or just opened) node into the current container. */
static void attach(struct builder *b, struct ynode *n)
{
	struct cfg_ctx *c = b->c;

	if (b->depth == 0) {
		b->doc = n;
		return;
	}
	struct frame *f = &b->stack[b->depth - 1];
	if (f->node->kind == Y_SEQ) {
		struct yentry *e = entry_new(c, NULL, n);
		if (e)
			container_append(f->node, e);
		return;
	}
	if (!f->key) {
		f->key = n;
		f->bad_key = n->kind != Y_SCALAR && n->kind != Y_NULL;
		if (f->bad_key)
			cfg_diag(c, FA_CONFIG_ERROR, cfg_line(c, n->line, n->col),
				 "a mapping key must be a plain string, not %s",
				 ykind_str(n->kind));
		return;
	}
	struct ynode *key = f->key;
	bool bad = f->bad_key;
	f->key = NULL;
	f->bad_key = false;
	if (bad)
		return;
	if (key->kind == Y_NULL) {
		/* "null:" or ": x" -- a key nobody can mean. */
		cfg_diag(c, FA_CONFIG_ERROR, cfg_line(c, key->line, key->col), "empty mapping key");
		return;
	}
	if (f->node->count >= CFG_MAX_MAP_KEYS) {
		cfg_diag(c, FA_CONFIG_ERROR, cfg_line(c, key->line, key->col),
			 "more than %d keys in one mapping", CFG_MAX_MAP_KEYS);
		c->fatal = true;
		return;
	}
	struct yentry *prev = ymap_entry(f->node, key->str);
	if (prev) {
		char q[80];
		cfg_diag(c, FA_CONFIG_ERROR, cfg_line(c, key->line, key->col),
			 "duplicate key \"%s\" (first defined at %d:%d)",
			 cfg_quote(key->str, key->len, q, sizeof(q)),
			 prev->key->line, prev->key->col);
		return;
	}
	struct yentry *e = entry_new(c, key, n);
	if (e)
		container_append(f->node, e);
}

static void end_document(struct builder *b)
{
	struct cfg_ctx *c = b->c;
	struct ynode *doc = b->doc;

	b->doc = NULL;
	if (!doc || doc->kind == Y_NULL)
		return;
	if (doc->kind != Y_MAP) {
		cfg_diag(c, FA_CONFIG_ERROR, cfg_line(c, doc->line, doc->col),
			 "a config document must be a mapping of settings, not %s",
			 ykind_str(doc->kind));
		return;
	}
	if (!b->acc) {
		b->acc = doc;
		return;
	}
	ymerge(c, b->acc, doc);
}

/* Line and column of a byte offset, for reader errors that carry only one. */
static void offset_mark(const char *data, size_t len, size_t off, int *line, int *col)
{
	int l = 1, cl = 1;

	for (size_t i = 0; i < off && i < len; i++) {
		if (data[i] == '\n') {
			l++;
			cl = 1;
		} else {
			cl++;
		}
	}
	*line = l;
	*col = cl;
}

static void report_parser_error(struct cfg_ctx *c, const yaml_parser_t *p,
				const char *data, size_t len)
{
	const char *problem = p->problem ? p->problem : "unknown problem";
	int line, col;

	if (p->error == YAML_MEMORY_ERROR) {
		c->enomem = true;
		return;
	}
	c->fatal = true;
	if (p->error == YAML_READER_ERROR) {
		offset_mark(data, len, p->problem_offset, &line, &col);
		cfg_diag(c, FA_CONFIG_ERROR, cfg_line(c, line, col), "not valid YAML: %s", problem);
		return;
	}
	line = mark_int(p->problem_mark.line);
	col = mark_int(p->problem_mark.column);
	if (p->context)
		cfg_diag(c, FA_CONFIG_ERROR, cfg_line(c, line, col),
			 "not valid YAML: %s (%s at %d:%d)",
			 problem, p->context, mark_int(p->context_mark.line),
			 mark_int(p->context_mark.column));
	else
		cfg_diag(c, FA_CONFIG_ERROR, cfg_line(c, line, col), "not valid YAML: %s", problem);
}

/* An alias would share (or, expanded, multiply) a subtree: refused, and
 * replaced by null so the rest of the file is still checked. */
static void report_alias(struct cfg_ctx *c, const yaml_event_t *ev, int line, int col)
{
	const char *a = (const char *)ev->data.alias.anchor;
	char q[80];

	cfg_diag(c, FA_CONFIG_ERROR, cfg_line(c, line, col),
		 "YAML aliases (*%s) are not supported; write the value out",
		 cfg_quote(a, strlen(a), q, sizeof(q)));
}

/* Handles one event; false stops the parse. */
static bool on_event(struct builder *b, const yaml_event_t *ev)
{
	struct cfg_ctx *c = b->c;
	int line = mark_int(ev->start_mark.line), col = mark_int(ev->start_mark.column);
	struct ynode *n;

	switch (ev->type) {
	case YAML_NO_EVENT:
	case YAML_STREAM_START_EVENT:
	case YAML_DOCUMENT_START_EVENT:
		return true;
	case YAML_STREAM_END_EVENT:
		return false;
	case YAML_DOCUMENT_END_EVENT:
		end_document(b);
		return !c->enomem && !c->fatal;
	case YAML_ALIAS_EVENT:
		if (!b->alias_reported)
			report_alias(c, ev, line, col);
		b->alias_reported = true;
		n = ynode_new(c, Y_NULL, line, col);
		if (n)
			attach(b, n);
		return !c->enomem && !c->fatal;
	case YAML_SCALAR_EVENT:
		n = scalar_from_event(c, ev);
		if (n)
			attach(b, n);
		return !c->enomem && !c->fatal;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (b->depth >= FA_MAX_YAML_DEPTH) {
			cfg_diag(c, FA_CONFIG_ERROR, cfg_line(c, line, col),
				 "nesting deeper than %d levels", FA_MAX_YAML_DEPTH);
			c->fatal = true;
			return false;
		}
		n = ynode_new(c, ev->type == YAML_MAPPING_START_EVENT ? Y_MAP : Y_SEQ, line, col);
		if (!n)
			return false;
		attach(b, n);
		b->stack[b->depth].node = n;
		b->stack[b->depth].key = NULL;
		b->stack[b->depth].bad_key = false;
		b->depth++;
		return !c->enomem && !c->fatal;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->depth > 0)
			b->depth--;
		return true;
	}
	return true;
}

enum fa_rc cfg_yaml_parse(struct cfg_ctx *c, const char *data, size_t len,
			  struct ynode **root)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct builder b;
	enum fa_rc rc = FA_OK;

	*root = NULL;
	memset(&b, 0, sizeof(b));
	b.c = c;
	if (!yaml_parser_initialize(&p))
		return FA_ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			report_parser_error(c, &p, data, len);
			break;
		}
		bool more = on_event(&b, &ev);
		yaml_event_delete(&ev);
		if (!more)
			break;
	}
	if (c->enomem) {
		rc = FA_ENOMEM;
		goto out;
	}
	if (c->fatal) {
		rc = FA_ECONFIG;
		goto out;
	}
	if (b.acc) {
		*root = b.acc;
	} else {
		*root = ynode_new(c, Y_NULL, 0, 0);
		if (!*root)
			rc = c->enomem ? FA_ENOMEM : FA_ECONFIG;
	}
out:
	yaml_parser_delete(&p);
	return rc;
}
