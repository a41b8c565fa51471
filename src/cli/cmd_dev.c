/* cmd_dev.c -- `flyteauth dev reset`, and where the development server's
 * state lives.
 *
 * The development server prints the password of the user `flyte` and the
 * generated secret of `flytepropeller` once, on its first start; only their
 * bcrypt hashes are kept. `dev reset` forgets both records in the
 * development database, so the next start generates and prints new ones.
 * The keys, sessions and tokens stay: a running server keeps the old
 * values until it restarts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authz/authz.h"
#include "cli/cli.h"
#include "identity/identity.h"
#include "store/store.h"

int fa_cli_state_dir(char *buf, size_t cap, const char *cmd)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(buf, cap, "%s/flyteauth", xdg);
	else if (home && home[0] == '/')
		n = snprintf(buf, cap, "%s/.local/state/flyteauth", home);
	else
		return fa_cli_fail("%s: neither XDG_STATE_HOME nor HOME is an absolute path, so "
				   "there is no state directory; set database.sqlite.file in a "
				   "config (--config)", cmd);
	if (n < 0 || (size_t)n >= cap)
		return fa_cli_fail("%s: the state directory path is too long", cmd);
	return FA_EXIT_OK;
}

static int dev_reset(void)
{
	struct fa_log log = { .fp = stderr, .min = FA_LOG_WARN };
	struct fa_store *store = NULL;
	char dir[1024], db[1100];
	struct fa_err err;
	int rc;

	rc = fa_cli_state_dir(dir, sizeof(dir), "dev reset");
	if (rc != FA_EXIT_OK)
		return rc;
	snprintf(db, sizeof(db), "%s/flyteauth.db", dir);
	/* Opening would create it: with no database there is nothing to forget. */
	if (access(db, F_OK) != 0) {
		printf("nothing to reset: %s does not exist (the development server has not "
		       "started yet); its first start prints the credentials\n", db);
		return FA_EXIT_OK;
	}
	fa_err_clear(&err);
	if (fa_store_open_sqlite(db, &log, &store, &err) != FA_OK)
		return fa_cli_fail("dev reset: opening %s: %s", db, err.msg);
	if (fa_identity_dev_forget(store, &err) != FA_OK ||
	    fa_authz_generated_forget(store, &err) != FA_OK) {
		fa_store_free(store);
		return fa_cli_fail("dev reset: %s: %s", db, err.msg);
	}
	fa_store_free(store);
	printf("forgot the password of the development user %s and the secret of %s in %s\n"
	       "the next `flyteauth serve` (make run) prints new ones; restart a running "
	       "development server\n", FA_IDENTITY_DEV_USER, FA_AUTHZ_GENERATED_CLIENT, db);
	return FA_EXIT_OK;
}

int fa_cli_dev(int argc, char **argv)
{
	bool have_reset = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return fa_cli_help("dev reset");
		if (strcmp(argv[i], "reset") == 0 && !have_reset)
			have_reset = true;
		else
			return fa_cli_usage_fail("dev reset", "unknown argument '%s'", argv[i]);
	}
	if (!have_reset)
		return fa_cli_usage_fail("dev reset", "missing subcommand 'reset'");
	return dev_reset();
}
