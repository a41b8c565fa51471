/* config_int.h -- what the files of the config module share with each other
 * and with nobody else (config.h is the module's interface): the YAML node
 * tree with positions (yaml.c), diagnostics (diag.c), the key tables of
 * flyteadmin's layout (schema.c), the walker that applies a tree to struct
 * fa_config (walk.c), the Helm values mapping (helm.c), the semantic checks
 * (validate.c), the config's memory (mem.c) and one load (load.c). */
#ifndef FA_CONFIG_INT_H
#define FA_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "config/config.h"
#include "secrets/secrets.h"

/* Memory of one parse tree: FA_CONFIG_MAX_NODES nodes of ~100 bytes each plus
 * copies of at most FA_MAX_CONFIG_FILE bytes of scalars, with slack for the
 * arena's alignment. Freed as soon as the config is built. */
#define CFG_TREE_ARENA_MAX (16u * 1024 * 1024)
/* Memory of one loaded config: its strings are copies of at most
 * FA_MAX_CONFIG_FILE bytes of scalars, and its lists are capped by
 * FA_CONFIG_MAX_LIST / _CLIENTS / _USERS; growth copies at most double it. */
#define CFG_ARENA_MAX (8u * 1024 * 1024)
/* Keys in one mapping: flyteadmin's largest section has ~20, a Helm chart's
 * ~40. The cap keeps the duplicate-key check (linear per key) cheap on a
 * hostile file of one huge mapping. */
#define CFG_MAX_MAP_KEYS 512
/* Longest key compared for "did you mean": keys are short words. */
#define CFG_MAX_KEY_SUGGEST 64
/* Longest dotted path printed in a message. */
#define CFG_MAX_PATH 256

/* ---- YAML tree (yaml.c) ------------------------------------------------------ */

enum ykind {
	Y_NULL = 0,     /* "", "~", "null" (plain), or an empty value */
	Y_SCALAR = 1,
	Y_MAP = 2,
	Y_SEQ = 3,
};

struct ynode;

/* A mapping entry (key is a Y_SCALAR) or a sequence item (key NULL). */
struct yentry {
	struct ynode *key;
	struct ynode *val;
	struct yentry *next;
};

struct ynode {
	enum ykind kind;
	int line;               /* 1-based; 0 for a node made by the loader */
	int col;
	const char *str;        /* Y_SCALAR / Y_NULL text, NUL-terminated, no NUL inside */
	size_t len;
	bool quoted;            /* not a plain scalar: never null or boolean */
	struct yentry *first;   /* Y_MAP / Y_SEQ */
	struct yentry *last;
	size_t count;
};

/* ---- one load ------------------------------------------------------------------ */

struct cfg_ctx {
	struct fa_config_diag *diag;   /* never NULL inside the module */
	const char *file;              /* the config's copy of the name, for positions */
	struct fa_arena *tree;         /* nodes of the parse tree */
	size_t nodes;
	struct fa_config *cfg;         /* being built (a client config: a holder
				        * of its arena, for the walker) */
	void *obj;                     /* what the load returns: cfg, or the
				        * client config */
	size_t errors;                 /* error lines of this load (diag may be shared) */
	bool enomem;                   /* an allocation failed: the load fails */
	bool fatal;                    /* the tree could not be built */
	/* Set by the flyte-binary mapping when it already reported the missing
	 * auth.internal.clientSecretHash, so validate.c does not report the same
	 * gap again as a static-client error. */
	bool propeller_secret_reported;
	/* secrets.adminOauthClientCredentials.clientId of a flyte-core file:
	 * the client flytepropeller will use (checked against staticClients). */
	const struct ynode *propeller_client_id;
};

/* ---- diagnostics (diag.c) ------------------------------------------------------ */

/* Records one line at `at` (line 0: no position) of ctx->file. Errors
 * count in ctx->errors even past the cap. */
void cfg_diag(struct cfg_ctx *c, enum fa_config_severity sev, struct fa_config_pos at,
	      const char *fmt, ...) FA_PRINTF(4, 5);
/* The position of a node (NULL: no position), or of a line and column. */
struct fa_config_pos cfg_at(const struct cfg_ctx *c, const struct ynode *n);
struct fa_config_pos cfg_line(const struct cfg_ctx *c, int line, int col);
/* A printable, shortened copy of s for a message (control bytes become '?',
 * long values end in "..."). Returns buf. */
const char *cfg_quote(const char *s, size_t n, char *buf, size_t cap);
/* validate.c: base's RFC 6749 §3.3 scope-token of at most FA_MAX_SCOPE
 * bytes (auth.requiredScope, the client's scopes). */
bool cfg_scope_token_ok(const char *s);
/* First error line of this load (for struct fa_err), or NULL. */
const char *cfg_diag_first_error(const struct fa_config_diag *d, size_t from);
/* What fa_config_load and fa_client_config_load say about a file that
 * fa_file_read could not read: rc FA_EIO or FA_ENOTFOUND (e: its errno) or
 * FA_ETOOBIG (over FA_MAX_CONFIG_FILE, in the words the _load_buffer
 * functions use). One error line without a position goes into diag (may be
 * NULL), the same text into err; returns rc. */
enum fa_rc cfg_report_unreadable(const char *path, enum fa_rc rc, int e,
				 struct fa_config_diag *diag, struct fa_err *err);

/* ---- YAML tree (yaml.c) ---------------------------------------------------------- */

/* Parses data (all `---` documents, deep-merged in order) into *root: a
 * Y_MAP, or Y_NULL for an empty file. Reports problems in c; returns FA_OK
 * unless the tree cannot be built (FA_ECONFIG, FA_ENOMEM). Soft problems
 * (duplicate keys, aliases) are reported and the tree is still returned. */
enum fa_rc cfg_yaml_parse(struct cfg_ctx *c, const char *data, size_t len,
			  struct ynode **root) FA_WUR;
/* New nodes in the tree arena (NULL and c->enomem on failure). */
struct ynode *ynode_new(struct cfg_ctx *c, enum ykind kind, int line, int col);
struct ynode *yscalar_new(struct cfg_ctx *c, const char *s, int line, int col);
/* Case-insensitive lookup of a mapping entry; NULL when absent or map is not
 * a Y_MAP. */
struct yentry *ymap_entry(const struct ynode *map, const char *key);
struct ynode *ymap_get(const struct ynode *map, const char *key);
/* Dotted lookup, e.g. "secrets.adminOauthClientCredentials". */
struct ynode *ymap_path_get(const struct ynode *map, const char *dotted);
/* Sets map[dotted path] = val, creating (or replacing non-mapping) parents;
 * new parents and keys take line:col. FA_ENOMEM on failure. */
enum fa_rc ymap_path_set(struct cfg_ctx *c, struct ynode *map, const char *dotted,
			 struct ynode *val, int line, int col) FA_WUR;
/* Deep-merges src into dst (both Y_MAP): mappings merge key by key
 * (case-insensitively), anything else in src replaces dst's value; a null in
 * src leaves dst's value alone. On failure sets c->enomem, or reports a
 * mapping over CFG_MAX_MAP_KEYS and sets c->fatal. */
void ymerge(struct cfg_ctx *c, struct ynode *dst, const struct ynode *src);
/* Moves every node of the subtree to line:col (for trees made from the
 * loader's own templates, so messages point at the values file). */
void yrelocate(struct ynode *n, int line, int col);
/* "a string", "a mapping", "a list", "null". */
const char *ykind_str(enum ykind k);

/* ---- key tables (schema.c) ------------------------------------------------------- */

enum cfg_kind {
	CK_SECTION = 0,     /* a mapping: walk `sub` */
	CK_STR,             /* any scalar */
	CK_SECRET_NAME,     /* a plain file name under secrets-prefix */
	CK_HASH,            /* a bcrypt hash, raw or base64 (never echoed) */
	CK_BOOL,
	CK_INT,             /* min..max */
	CK_PORT,            /* 1..65535 */
	CK_DURATION,        /* Go syntax, min..max ms */
	CK_URL,             /* absolute http(s) URL, or "" */
	CK_URL_OR_PATH,     /* absolute http(s) URL, a path, or "" */
	CK_ADDRESS,         /* listen address */
	CK_LIST,            /* list of scalars */
	CK_URL_LIST,        /* list of absolute http(s) URLs */
	CK_AUDIENCE,        /* one string or a list of strings */
	CK_ENUM,
	CK_CLIENTS,         /* staticClients */
	CK_USERS,           /* localUsers */
	CK_IGNORE,          /* known to flyteadmin, unused by flyteauth */
	CK_MOVED,           /* misplaced key: warn, then read at `target` */
	CK_UNSUPPORTED,     /* a key flyteauth will not read: warn "ignored: <target>" */
	CK_ENTRY,           /* Helm mapping: keep the entry (struct yentry *) */
};

struct cfg_enum_name {
	const char *name;
	int value;
};

struct cfg_enum {
	const char *expected;                 /* "Self or External" */
	const struct cfg_enum_name *names;
	size_t count;
};

struct cfg_field {
	const char *key;                      /* spelled as flyteadmin does */
	enum cfg_kind kind;
	size_t off;                           /* value, from the walked base */
	size_t pos_off;                       /* struct fa_config_pos; 0 = none */
	const struct cfg_field *sub;          /* CK_SECTION; NULL-key terminated */
	const struct cfg_enum *en;            /* CK_ENUM */
	int64_t min;                          /* CK_INT, CK_DURATION (ms) */
	int64_t max;
	const char *target;                   /* CK_MOVED: full dotted path;
					       * CK_UNSUPPORTED: why, and what to do */
	bool lenient;                         /* CK_SECTION: unknown keys are notes */
	bool sensitive;                       /* never echo the value */
};

/* flyteadmin's layout (base: struct fa_config), a static client (base:
 * struct fa_config_client) and a local user (base: struct fa_config_user). */
extern const struct cfg_field cfg_admin_root[];
extern const struct cfg_field cfg_client_fields[];
extern const struct cfg_field cfg_user_fields[];

/* The field of tab named key (case-insensitive), or NULL. */
const struct cfg_field *cfg_field_find(const struct cfg_field *tab, const char *key);
/* The closest key of tab to `key` (same letters ignoring case, '-' and '_',
 * or at most 2 edits away), or NULL. */
const char *cfg_suggest(const struct cfg_field *tab, const char *key);
/* Finds where `key` is a valid flyteadmin key: writes the dotted path of the
 * section holding it into out ("" = top level). false when nowhere. */
bool cfg_locate(const char *key, char *out, size_t cap);
/* Resolves a dotted flyteadmin path to its field; NULL when unknown. */
const struct cfg_field *cfg_field_at(const char *dotted);
/* Fills cfg with the built-in defaults. FA_ENOMEM on failure. */
enum fa_rc cfg_set_defaults(struct fa_config *cfg) FA_WUR;

/* ---- one load (load.c) ---------------------------------------------------------- */

/* What differs between the server's config and the client's. */
struct cfg_loader {
	/* Makes the object over its defaults into c->obj, points c->cfg at
	 * the struct fa_config the walker allocates from, and c->file at the
	 * object's copy of name. FA_ENOMEM on failure (c->obj may be set). */
	enum fa_rc (*make)(struct cfg_ctx *c, const char *name);
	/* Applies a parsed root (Y_MAP or Y_NULL) and checks the result. */
	void (*apply)(struct cfg_ctx *c, struct ynode *root);
	void (*destroy)(void *obj);     /* NULL is a no-op */
	/* What a missing file is: FA_EIO where the file must exist,
	 * FA_ENOTFOUND where the caller may do without it. */
	enum fa_rc missing;
};

/* Loads `name` (the file when from_file, else data[0..len)) by loader k:
 * *out is the new object on FA_OK; the errors are those of
 * fa_config_load. */
enum fa_rc cfg_load(const struct cfg_loader *k, const char *name, const void *data, size_t len,
		    bool from_file, struct fa_config_diag *diag, void **out,
		    struct fa_err *err) FA_WUR;

/* ---- config memory (mem.c) --------------------------------------------------- */

/* Copies s into the config's arena; NULL on failure. */
char *cfg_strdup(struct fa_config *cfg, const char *s);
/* Sets *list to a copy of items. FA_ENOMEM on failure. */
enum fa_rc cfg_list_set(struct fa_config *cfg, struct fa_config_list *list,
			const char *const *items, size_t n) FA_WUR;
/* Appends a zeroed client / user / inline secret, growing the array; NULL on
 * allocation failure. Counts are checked by the callers. */
struct fa_config_client *cfg_client_add(struct fa_config *cfg);
struct fa_config_user *cfg_users_alloc(struct fa_config *cfg, size_t n);
/* Sets the inline secret `name` (replacing an earlier value). */
enum fa_rc cfg_inline_secret_set(struct fa_config *cfg, const char *name, const char *value,
				 const struct fa_config_pos *pos) FA_WUR;
/* Fills every string of a client with "" (the non-NULL contract). */
enum fa_rc cfg_client_init(struct fa_config *cfg, struct fa_config_client *cl) FA_WUR;

/* ---- walking (walk.c) --------------------------------------------------------------- */

/* Applies a flyteadmin-shaped tree (Y_MAP or Y_NULL) to c->cfg. */
void cfg_walk_admin(struct cfg_ctx *c, const struct ynode *root);
/* Walks map with tab over base, reporting unknown keys under `path` (""
 * for the top level); lenient: unknown keys not close to a known one are
 * notes, not errors. `what` names the file kind in those notes. */
void cfg_walk_map(struct cfg_ctx *c, void *base, const struct cfg_field *tab,
		  const struct ynode *map, const char *path, bool lenient);
/* Scalar readers shared with helm.c: report and return false on a bad value. */
bool cfg_get_bool(struct cfg_ctx *c, const struct ynode *n, const char *path, bool *out);
bool cfg_get_string(struct cfg_ctx *c, const struct ynode *n, const char *path,
		    bool sensitive, const char **out);

/* ---- Helm values (helm.c) ------------------------------------------------------------ */

/* Recognises the shape of a merged root. */
enum fa_config_source cfg_detect(const struct ynode *root);
/* Turns a values file into the flyteadmin tree it renders (and collects its
 * inline secrets into c->cfg). NULL with c->enomem or c->fatal on failure. */
struct ynode *cfg_helm_binary(struct cfg_ctx *c, const struct ynode *root);
struct ynode *cfg_helm_core(struct cfg_ctx *c, const struct ynode *root);

/* ---- checks across keys (validate.c) ------------------------------------------------- */

void cfg_validate(struct cfg_ctx *c);

#endif
