/* cmd_client.c -- login, token, whoami, logout: the command-line client.
 *
 * The client flows (Pkce, ClientSecret, DeviceFlow, ExternalCommand) are not
 * built yet; until they are, these commands parse their options, answer
 * --help, and fail with a line that says so rather than pretending.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct client_cmd {
	const char *name;
	const char *what;
};

static int client_main(const struct client_cmd *cmd, int argc, char **argv)
{
	char usage[128];

	snprintf(usage, sizeof(usage), "flyteauth %s [--config FILE]", cmd->name);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: %s\n\n%s\n\n"
			       "  --config FILE  client config (default: $FLYTECTL_CONFIG, then\n"
			       "                 ~/.flyte/config.yaml)\n",
			       usage, cmd->what);
			return FA_EXIT_OK;
		}
		if (strcmp(argv[i], "--config") == 0) {
			if (++i >= argc)
				return fa_cli_usage_error(usage, "--config needs a file");
			continue;
		}
		return fa_cli_usage_error(usage, "unknown option '%s'", argv[i]);
	}
	return fa_cli_fail("%s: the client is not available in this version of flyteauth",
			   cmd->name);
}

int fa_cli_login(int argc, char **argv)
{
	static const struct client_cmd c = { "login", "Runs the configured auth flow and caches the tokens." };

	return client_main(&c, argc, argv);
}

int fa_cli_token(int argc, char **argv)
{
	static const struct client_cmd c = { "token", "Prints a valid access token, refreshing it silently." };

	return client_main(&c, argc, argv);
}

int fa_cli_whoami(int argc, char **argv)
{
	static const struct client_cmd c = { "whoami", "Shows the identity behind the cached token (/me)." };

	return client_main(&c, argc, argv);
}

int fa_cli_logout(int argc, char **argv)
{
	static const struct client_cmd c = { "logout", "Revokes the refresh token and deletes the cached tokens." };

	return client_main(&c, argc, argv);
}
