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

/* Where the configured secrets are looked up: the config's inline secrets
 * (Helm values), then env, then files. Every pointer borrows from cfg and
 * `inl` (an array of at least FA_CONFIG_MAX_INLINE_SECRETS entries). */
void fa_cli_secret_source(const struct fa_config *cfg, struct fa_secret_source *src,
			  struct fa_secret_inline *inl);

/* The token keys of the Self authorization server: the current signing key
 * (tokenSigningRSAKeySecretName, whose key type must match
 * tokenSigningAlgorithm) and the public set served at /oauth2/jwks and used
 * for verification (current, then oldTokenSigningRSAKeySecretName when that
 * secret exists). Errors name the secret and the config position. */
struct fa_cli_keys {
	struct fa_jwk *signing;
	struct fa_jwks *verify;
};

enum fa_rc fa_cli_keys_load(const struct fa_config *cfg, const struct fa_secret_source *src,
			    struct fa_cli_keys *keys, struct fa_err *err) FA_WUR;
void fa_cli_keys_cleanup(struct fa_cli_keys *keys);

#endif
