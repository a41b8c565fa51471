/* cmd_client.c -- login, token, whoami, logout: the command-line client,
 * thin wrappers around the client library (src/client/client.h) so that
 * the CLI and a C program authenticate the same way.
 *
 * `login` runs the configured flow now and says who you are; `token` prints
 * only the access token (for $(flyteauth token)), refreshing silently, and
 * starts a browser or device flow only when stdin and stderr are a
 * terminal; `whoami` prints /me as JSON; `logout` revokes and forgets the
 * cached tokens. Prompts, warnings and errors go to stderr. A failure is one
 * line naming the endpoint, the auth mode and what to do next (config
 * problems are listed first, one FILE:LINE:COL line each).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "client/client.h"

struct client_cmd {
	const char *name;
	bool interactive;       /* may run a flow even off a terminal */
	int (*run)(struct fa_client *c, const char *name);
};

static int fail(struct fa_client *c, const char *name, const struct fa_err *err)
{
	const char *endpoint = fa_client_endpoint(c);

	return fa_cli_fail("%s: %s (%s): %s; %s", name, *endpoint ? endpoint : "no endpoint",
			   fa_client_auth_type_str(fa_client_auth_type(c)), err->msg,
			   fa_client_hint(c, err));
}

static int run_login(struct fa_client *c, const char *name)
{
	struct fa_err err;
	json_t *user = NULL;
	const char *sub, *who;

	if (fa_client_login(c, &err) != FA_OK)
		return fail(c, name, &err);
	if (fa_client_auth_type(c) == FA_CLIENT_AUTH_EXTERNAL_COMMAND && !*fa_client_endpoint(c)) {
		printf("admin.command printed a token\n");
		return FA_EXIT_OK;
	}
	/* Logged in: a /me that does not answer is worth a warning, not a
	 * failed login. */
	if (fa_client_whoami(c, &user, &err) != FA_OK) {
		printf("Logged in to %s\n", fa_client_endpoint(c));
		fprintf(stderr, "flyteauth: login: %s\n", err.msg);
		return FA_EXIT_OK;
	}
	sub = json_string_value(json_object_get(user, "subject"));
	who = json_string_value(json_object_get(user, "name"));
	printf("Logged in to %s as %s%s%s%s\n", fa_client_endpoint(c), sub ? sub : "(unknown)",
	       who && *who ? " (" : "", who && *who ? who : "", who && *who ? ")" : "");
	json_decref(user);
	return FA_EXIT_OK;
}

static int run_token(struct fa_client *c, const char *name)
{
	struct fa_err err;
	char *tok = NULL;

	if (fa_client_token(c, &tok, &err) != FA_OK)
		return fail(c, name, &err);
	printf("%s\n", tok);
	fa_free_secret(tok);
	return fflush(stdout) == 0 ? FA_EXIT_OK : FA_EXIT_FAIL;
}

static int run_whoami(struct fa_client *c, const char *name)
{
	struct fa_err err;
	json_t *user = NULL;
	char *text;

	if (fa_client_whoami(c, &user, &err) != FA_OK)
		return fail(c, name, &err);
	text = json_dumps(user, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(user);
	if (!text)
		return fa_cli_fail("%s: out of memory", name);
	printf("%s\n", text);
	free(text);
	return FA_EXIT_OK;
}

static int run_logout(struct fa_client *c, const char *name)
{
	struct fa_err err;
	enum fa_rc rc = fa_client_logout(c, &err);

	if (rc == FA_ENOTFOUND) {
		printf("Not logged in to %s; nothing to do\n", fa_client_endpoint(c));
		return FA_EXIT_OK;
	}
	if (rc != FA_OK)
		return fail(c, name, &err);
	printf("Logged out of %s\n", fa_client_endpoint(c));
	return FA_EXIT_OK;
}

static void print_diag(const struct fa_config_diag *d)
{
	for (size_t i = 0; i < fa_config_diag_count(d); i++)
		if (fa_config_diag_severity(d, i) != FA_CONFIG_NOTE)
			fprintf(stderr, "%s\n", fa_config_diag_line(d, i));
}

static int client_main(const struct client_cmd *cmd, int argc, char **argv)
{
	struct fa_client_opts o;
	struct fa_log log = { .fp = stderr, .min = FA_LOG_WARN };
	struct fa_client *c = NULL;
	struct fa_config_diag *diag;
	struct fa_err err;
	bool tty = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
	int code;

	memset(&o, 0, sizeof(o));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return fa_cli_help(cmd->name);
		if (strcmp(argv[i], "--config") == 0) {
			if (++i >= argc)
				return fa_cli_usage_fail(cmd->name, "--config needs a file");
			o.config_path = argv[i];
			continue;
		}
		return fa_cli_usage_fail(cmd->name, "unknown option '%s'", argv[i]);
	}
	diag = fa_config_diag_new();
	if (!diag)
		return fa_cli_fail("%s: out of memory", cmd->name);
	o.diag = diag;
	o.log = &log;
	o.prompt = stderr;
	o.interactive = cmd->interactive || tty;
	o.paste = isatty(STDIN_FILENO);
	/* The QR code is for a person looking at a terminal. */
	o.prompt_qr = isatty(STDOUT_FILENO) && isatty(STDERR_FILENO);
	if (fa_client_new(&o, &c, &err) != FA_OK) {
		size_t nerr = err.rc == FA_ECONFIG ? fa_config_diag_errors(diag) : 0;

		/* Each problem once: the FILE:LINE:COL lines, then a summary that
		 * does not repeat them. (An unreadable file has no such line: the
		 * message below says it.) */
		if (err.rc == FA_ECONFIG)
			print_diag(diag);
		if (nerr) {
			fa_config_diag_free(diag);
			return fa_cli_fail("%s: %zu error(s) in the client config, above; fix them",
					   cmd->name, nerr);
		}
		fa_config_diag_free(diag);
		return fa_cli_fail("%s: %s; %s", cmd->name, err.msg,
				   err.rc == FA_ENOTFOUND || err.rc == FA_EIO ?
				   "check --config and $FLYTECTL_CONFIG" : fa_client_hint(NULL, &err));
	}
	print_diag(diag);
	fa_config_diag_free(diag);
	code = cmd->run(c, cmd->name);
	fa_client_free(c);
	return code;
}

int fa_cli_login(int argc, char **argv)
{
	static const struct client_cmd c = { "login", true, run_login };

	return client_main(&c, argc, argv);
}

int fa_cli_token(int argc, char **argv)
{
	static const struct client_cmd c = { "token", false, run_token };

	return client_main(&c, argc, argv);
}

int fa_cli_whoami(int argc, char **argv)
{
	static const struct client_cmd c = { "whoami", false, run_whoami };

	return client_main(&c, argc, argv);
}

int fa_cli_logout(int argc, char **argv)
{
	static const struct client_cmd c = { "logout", false, run_logout };

	return client_main(&c, argc, argv);
}
