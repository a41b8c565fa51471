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

#endif
