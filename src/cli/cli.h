/* cli.h -- the subcommands of the one `flyteauth` binary.
 *
 * main.c dispatches argv[1] to one of these. Each gets the arguments after
 * its own name (argv[0] is the subcommand name) and returns the process exit
 * code: 0 success, 1 failure (one clear line on stderr, prefixed
 * "flyteauth: "), 2 bad usage (a usage line on stderr). Each accepts
 * --help (usage on stdout, exit 0).
 */
#ifndef FA_CLI_H
#define FA_CLI_H

#include <stddef.h>
#include <stdio.h>

enum { FA_EXIT_OK = 0, FA_EXIT_FAIL = 1, FA_EXIT_USAGE = 2 };

int fa_cli_serve(int argc, char **argv);
int fa_cli_secrets(int argc, char **argv);      /* secrets init | rotate */
int fa_cli_hash_secret(int argc, char **argv);
int fa_cli_config(int argc, char **argv);       /* config check */
int fa_cli_login(int argc, char **argv);
int fa_cli_token(int argc, char **argv);
int fa_cli_whoami(int argc, char **argv);
int fa_cli_logout(int argc, char **argv);
int fa_cli_completion(int argc, char **argv);   /* completion bash | zsh */
int fa_cli_man(int argc, char **argv);
int fa_cli_dev(int argc, char **argv);          /* dev reset */

/* The state directory: $XDG_STATE_HOME/flyteauth, else
 * ~/.local/state/flyteauth (the path only; nothing is created). Returns an
 * exit code, having printed the failure as `cmd: ...`. */
int fa_cli_state_dir(char *buf, size_t cap, const char *cmd);

/* ---- the commands as data (commands.c) --------------------------------- */

/* Every command's usage, help text and options live in one const table:
 * `--help`, the manual page (`flyteauth man`) and the shell completions
 * (`flyteauth completion`) are all rendered from it (help.c,
 * completion.c), so they cannot say different things. */

/* One block of help text: a paragraph (term NULL), or an entry of a
 * definition list (term, then its text). Text is plain, unwrapped English;
 * the renderers wrap it. Arrays end with an entry whose text is NULL. */
struct fa_cli_text {
	const char *term;
	const char *text;
};

/* How a shell completes an option's value. */
enum fa_cli_complete {
	FA_CLI_COMPLETE_NONE = 0,   /* free text */
	FA_CLI_COMPLETE_FILE,
	FA_CLI_COMPLETE_DIR,
	FA_CLI_COMPLETE_WORDS,      /* one of fa_cli_opt.words */
};

/* One option. Arrays end with an entry whose longname is NULL; every
 * command also takes -h/--help, which the renderers add. */
struct fa_cli_opt {
	const char *shortname;      /* "-p", or NULL */
	const char *longname;       /* "--localPath" */
	const char *arg;            /* "DIR"; NULL for a flag */
	enum fa_cli_complete complete;
	const char *words;          /* FA_CLI_COMPLETE_WORDS: "RS256 ES256 EdDSA" */
	const char *help;
};

/* One command. `name` is one word ("serve") or two ("secrets init"); all
 * the commands that share a first word share its handler, which reads the
 * second word itself. */
struct fa_cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *operands;       /* after the options in the usage line, or NULL */
	const char *summary;        /* one line, no final period */
	const struct fa_cli_text *text;
	const struct fa_cli_opt *opts;
};

/* A titled part of the top-level help and of the manual page. */
struct fa_cli_section {
	const char *title;          /* lower case: "exit status" */
	const struct fa_cli_text *text;
};

/* The whole command line: the table every renderer reads. */
struct fa_cli_manual {
	const char *tagline;        /* the manual's NAME line, after "flyteauth - " */
	const struct fa_cli_text *description;
	const struct fa_cli_cmd *cmds;
	size_t n_cmds;
	const struct fa_cli_section *sections;
	size_t n_sections;
};

const struct fa_cli_manual *fa_cli_manual_get(void);
/* The command whose name is `name` ("secrets init"); NULL if none. */
const struct fa_cli_cmd *fa_cli_cmd_get(const char *name);

/* ---- rendering (help.c, completion.c) ----------------------------------- */

/* Longest usage line any command has (checked by the renderer). */
#define FA_CLI_USAGE_MAX 160

/* "flyteauth secrets init [-p DIR] [--force]" into buf (truncation is a
 * bug the unit test catches: the result then ends in "..."). */
void fa_cli_usage_format(const struct fa_cli_cmd *cmd, char buf[FA_CLI_USAGE_MAX]);
/* Prints the top-level help (name NULL), one command's help, or, for the
 * first word of a group ("secrets"), the help of each of its commands, to
 * stdout; returns FA_EXIT_OK (FA_EXIT_USAGE for an unknown name). */
int fa_cli_help(const char *name);
/* fa_cli_usage_error() with the usage line of command `name`. */
int fa_cli_usage_fail(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The top-level usage and command list (for a bad or missing command). */
void fa_cli_help_top(FILE *fp);

/* Prints "flyteauth: <message>\n" to stderr and returns FA_EXIT_FAIL. */
int fa_cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "flyteauth <cmd>: <message>\n" and the usage line to stderr and
 * returns FA_EXIT_USAGE. */
int fa_cli_usage_error(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- glue shared by serve and config check (keys.c) ------------------ */

#include "base/base.h"
#include "config/config.h"
#include "jose/jose.h"
#include "secrets/secrets.h"

/* The one way `serve` and `config check` get their configuration, so they
 * cannot disagree: the file at path (NULL: the built-in defaults) loaded
 * and validated by the config module, then refused when it asks for what
 * this build cannot serve yet (fa_config_supported). Every finding is one
 * line in diag; on failure *out is NULL and err holds the first error. */
enum fa_rc fa_cli_config_load(const char *path, struct fa_config_diag *diag,
			      struct fa_config **out, struct fa_err *err) FA_WUR;

/* server.security.ssl's files as serve will serve them (fa_http_tls_check):
 * FA_OK, or err holds the reason and `what` names what it is about
 * ("server.security.ssl.certificateFile PATH", the keyFile, or both);
 * *pos (may be NULL) gets the config position of that key. */
#define FA_CLI_TLS_WHAT_MAX 2200
enum fa_rc fa_cli_tls_check(const struct fa_config *cfg, char what[FA_CLI_TLS_WHAT_MAX],
			    const struct fa_config_pos **pos, struct fa_err *err) FA_WUR;

/* Where the configured secrets are looked up: the config's inline secrets
 * (Helm values), then env, then files. Every pointer borrows from cfg and
 * `inl` (an array of at least FA_CONFIG_MAX_INLINE_SECRETS entries). */
void fa_cli_secret_source(const struct fa_config *cfg, struct fa_secret_source *src,
			  struct fa_secret_inline *inl);

/* The token keys of the Self authorization server: the current private
 * signing key and the public set (current, then old) served at
 * /oauth2/jwks and used for verification. */
struct fa_cli_keys {
	struct fa_jwk *signing;
	struct fa_jwks *verify;
};

/* Every secret serve runs on, loaded the one way both `serve` and `config
 * check --online` do: the two cookie keys, the claim key (checked only:
 * flyteadmin's layout requires it) and, unless authServerType is External,
 * the token keys. Each problem is
 * passed to report as one line "FILE:LINE:COL: message" -- at the key that
 * named the secret, or, for a built-in name, where the file set
 * secrets-prefix or env-prefix (the line says which) -- and all of them
 * are reported before the first one's rc is returned. On failure *out is
 * wiped. */
struct fa_cli_secrets {
	unsigned char cookie_hash_key[FA_SECRET_COOKIE_HASH_KEY_LEN];
	unsigned char cookie_block_key[FA_SECRET_COOKIE_BLOCK_KEY_LEN];
	struct fa_cli_keys keys;
};

enum fa_rc fa_cli_secrets_load(const struct fa_config *cfg, const struct fa_secret_source *src,
			       struct fa_cli_secrets *out,
			       void (*report)(void *arg, const char *line), void *arg) FA_WUR;
/* Wipes the keys and frees the token keys. */
void fa_cli_secrets_cleanup(struct fa_cli_secrets *s);

#endif
