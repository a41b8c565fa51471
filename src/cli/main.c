/* main.c -- the `flyteauth` binary: dispatches to one subcommand.
 *
 * Commands are data (a const table), as in Redis: name, handler, one line of
 * help. Exit codes everywhere: 0 success, 1 failure, 2 bad usage.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "serve", fa_cli_serve, "run the authorization server" },
	{ "config", fa_cli_config, "check a server configuration (config check)" },
	{ "secrets", fa_cli_secrets, "create the server's secrets (secrets init)" },
	{ "hash-secret", fa_cli_hash_secret, "print base64(bcrypt(secret)) for a static client" },
	{ "login", fa_cli_login, "log in to a Flyte endpoint" },
	{ "token", fa_cli_token, "print a valid access token" },
	{ "whoami", fa_cli_whoami, "show who you are logged in as" },
	{ "logout", fa_cli_logout, "revoke and forget the cached tokens" },
};

static void usage(FILE *fp)
{
	fprintf(fp, "usage: flyteauth [--version] [--help] <command> [<args>]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(fp, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(fp, "\nRun 'flyteauth <command> --help' for a command's options.\n");
}

int fa_cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("flyteauth: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return FA_EXIT_FAIL;
}

int fa_cli_usage_error(const char *usage_line, const char *fmt, ...)
{
	va_list ap;

	fputs("flyteauth: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s\n", usage_line);
	return FA_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return FA_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return FA_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("flyteauth %s\n", FA_VERSION);
		return FA_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "flyteauth: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return FA_EXIT_USAGE;
}
