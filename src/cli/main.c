/* main.c -- the `flyteauth` binary: dispatches to one subcommand.
 *
 * Commands are data (a const table, commands.c), as in Redis: name,
 * handler, help text and options. Exit codes everywhere: 0 success, 1
 * failure, 2 bad usage.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
	const struct fa_cli_manual *m = fa_cli_manual_get();
	size_t len;

	if (argc < 2) {
		fa_cli_help_top(stderr);
		return FA_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return fa_cli_help(argc > 2 && strcmp(argv[1], "help") == 0 ? argv[2] : NULL);
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("flyteauth %s\n", FA_VERSION);
		return FA_EXIT_OK;
	}
	/* A command's first word picks its handler ("secrets" for both
	 * "secrets init" and "secrets rotate"). */
	len = strlen(argv[1]);
	for (size_t i = 0; i < m->n_cmds; i++) {
		const char *name = m->cmds[i].name;
		if (strncmp(name, argv[1], len) == 0 && (name[len] == '\0' || name[len] == ' '))
			return m->cmds[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "flyteauth: unknown command '%s'\n", argv[1]);
	fa_cli_help_top(stderr);
	return FA_EXIT_USAGE;
}
