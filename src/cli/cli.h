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

enum { FA_EXIT_OK = 0, FA_EXIT_FAIL = 1, FA_EXIT_USAGE = 2 };

int fa_cli_serve(int argc, char **argv);
int fa_cli_secrets(int argc, char **argv);      /* secrets init */
int fa_cli_hash_secret(int argc, char **argv);
int fa_cli_config(int argc, char **argv);       /* config check */
int fa_cli_login(int argc, char **argv);
int fa_cli_token(int argc, char **argv);
int fa_cli_whoami(int argc, char **argv);
int fa_cli_logout(int argc, char **argv);

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
