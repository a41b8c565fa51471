/* cmd_secrets.c -- the `secrets init`, `secrets rotate` and `hash-secret`
 * subcommands: thin argument parsing around the secrets module
 * (fa_secret_init_dir, fa_secret_rotate, fa_secret_hash). They print file
 * names, key ids and hashes, never a secret: the generated keys stay in
 * their files, and the secret given to hash-secret is read without echo
 * from a terminal and wiped after use.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "jose/jose.h"
#include "secrets/secrets.h"

#define INIT "secrets init"
#define ROTATE "secrets rotate"

static bool is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

/* Matches "--name VALUE" or "--name=VALUE" (and the short form "-x VALUE").
 * Returns 1 on a match with *val set, 0 if arg is not this option, -1 if
 * the value is missing. *i advances past a separate value. */
static int opt_value(int argc, char **argv, int *i, const char *longname,
		     const char *shortname, const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(longname);

	if (strncmp(a, longname, n) == 0 && a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (strcmp(a, longname) != 0 && (shortname == NULL || strcmp(a, shortname) != 0))
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*i += 1;
	*val = argv[*i];
	return 1;
}

static int secrets_init(int argc, char **argv)
{
	const char *dir = ".";
	struct fa_err err;
	bool force = false;
	const char *const *names;
	size_t n;

	fa_err_clear(&err);
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		int m;

		if (is_help(argv[i]))
			return fa_cli_help(INIT);
		if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0) {
			force = true;
			continue;
		}
		m = opt_value(argc, argv, &i, "--localPath", "-p", &v);
		if (m < 0)
			return fa_cli_usage_fail(INIT, "%s needs a directory", argv[i]);
		if (m > 0) {
			if (v[0] == '\0')
				return fa_cli_usage_fail(INIT, "the directory is empty");
			dir = v;
			continue;
		}
		return fa_cli_usage_fail(INIT, "unknown argument \"%s\"", argv[i]);
	}

	if (fa_secret_init_dir(dir, force, &err) != FA_OK) {
		if (err.rc == FA_EEXIST)
			return fa_cli_fail("%s (use --force to replace)", err.msg);
		return fa_cli_fail("%s", err.msg);
	}
	names = fa_secret_init_names(&n);
	for (size_t k = 0; k < n; k++)
		printf("wrote %s/%s\n", dir, names[k]);
	return FA_EXIT_OK;
}

/* ---- secrets rotate ---------------------------------------------------------- */

/* Prints "DIR/NAME: <alg> key, kid <kid><note>" for a key just written. The
 * file is read directly, not through the env/file lookup, so an env
 * variable cannot stand in for it. */
static void print_key(const char *dir, const char *name, const char *note)
{
	char path[PATH_MAX];
	struct fa_jwk *k = NULL;
	struct fa_err err;
	char *pem = NULL;
	size_t len = 0;
	int w;

	fa_err_clear(&err);
	w = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (w > 0 && (size_t)w < sizeof(path) &&
	    fa_file_read(path, FA_MAX_SECRET, &pem, &len, NULL) == FA_OK &&
	    fa_jwk_from_pem(pem, len, &k, &err) == FA_OK)
		printf("%s: %s key, kid %s%s\n", path, fa_jws_alg_name(fa_jwk_alg(k)),
		       fa_jwk_kid(k), note);
	else
		printf("%s%s\n", path, note);
	fa_jwk_free(k);
	if (pem != NULL)
		fa_free_secret(pem);
}

static int parse_alg(const char *v, enum fa_secret_key_type *t)
{
	if (strcasecmp(v, "RS256") == 0)
		*t = FA_SECRET_KEY_RSA;
	else if (strcasecmp(v, "ES256") == 0)
		*t = FA_SECRET_KEY_P256;
	else if (strcasecmp(v, "EdDSA") == 0)
		*t = FA_SECRET_KEY_ED25519;
	else
		return fa_cli_usage_fail(ROTATE, "--alg must be RS256, ES256 or EdDSA");
	return FA_EXIT_OK;
}

static int secrets_rotate(int argc, char **argv)
{
	/* The options that take a value, and where each one goes. */
	static const char *const valued[] = { "--localPath", "--alg", "--key", "--old-key" };
	struct fa_secret_rotation r;
	const char *alg = NULL;
	const char **slot[ARRAY_LEN(valued)] = { &r.dir, &alg, &r.key_name, &r.old_name };
	struct fa_err err;
	bool stage = false, promote = false;

	memset(&r, 0, sizeof(r));
	r.dir = ".";
	r.key_name = FA_SECRET_TOKEN_RSA_KEY;
	r.old_name = FA_SECRET_TOKEN_RSA_KEY_OLD;
	fa_err_clear(&err);
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		size_t k;
		int m = 0;

		if (is_help(argv[i]))
			return fa_cli_help(ROTATE);
		if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0) {
			r.force = true;
			continue;
		}
		if (strcmp(argv[i], "--stage") == 0 || strcmp(argv[i], "--promote") == 0) {
			*(argv[i][2] == 's' ? &stage : &promote) = true;
			continue;
		}
		for (k = 0; k < ARRAY_LEN(valued) && m == 0; k++)
			m = opt_value(argc, argv, &i, valued[k], k == 0 ? "-p" : NULL, &v);
		if (m == 0)
			return fa_cli_usage_fail(ROTATE, "unknown argument \"%s\"", argv[i]);
		if (m < 0 || v[0] == '\0')
			return fa_cli_usage_fail(ROTATE, "%s needs a value", valued[k - 1]);
		*slot[k - 1] = v;
	}
	if (alg != NULL) {
		int rc = parse_alg(alg, &r.type);
		if (rc != FA_EXIT_OK)
			return rc;
	}
	if (stage && promote)
		return fa_cli_usage_fail(ROTATE, "--stage and --promote are two separate steps");
	if (promote && r.type != FA_SECRET_KEY_SAME)
		return fa_cli_usage_fail(ROTATE, "--alg goes with --stage: --promote makes no key");
	r.step = stage ? FA_SECRET_ROTATE_STAGE :
		 promote ? FA_SECRET_ROTATE_PROMOTE : FA_SECRET_ROTATE_ONCE;

	if (fa_secret_rotate(&r, &err) != FA_OK) {
		if (err.rc == FA_EEXIST)
			return fa_cli_fail("%s (they verify until they expire, accessTokenLifespan "
					   "after the restart that retired the key); delete it once "
					   "they have, or use --force to drop it now", err.msg);
		return fa_cli_fail("%s", err.msg);
	}
	switch (r.step) {
	case FA_SECRET_ROTATE_ONCE:
		print_key(r.dir, r.old_name, ": the previous key, still accepted");
		print_key(r.dir, r.key_name, ": the new signing key");
		printf("Restart flyteauth to sign with the new key. Delete %s/%s once the tokens "
		       "it signed have expired (accessTokenLifespan, 30m by default).\n", r.dir,
		       r.old_name);
		break;
	case FA_SECRET_ROTATE_STAGE:
		print_key(r.dir, r.key_name, ": the signing key, unchanged");
		print_key(r.dir, r.old_name, ": the new key, staged (accepted, not yet used)");
		printf("Copy %s to every instance and restart each; then run "
		       "`flyteauth secrets rotate --promote`.\n", r.dir);
		break;
	case FA_SECRET_ROTATE_PROMOTE:
		print_key(r.dir, r.old_name, ": the previous key, still accepted");
		print_key(r.dir, r.key_name, ": the new signing key");
		printf("Copy %s to every instance and restart each. Delete %s/%s once the "
		       "tokens it signed have expired (accessTokenLifespan, 30m by default).\n",
		       r.dir, r.dir, r.old_name);
		break;
	}
	return FA_EXIT_OK;
}

int fa_cli_secrets(int argc, char **argv)
{
	if (argc < 2)
		return fa_cli_usage_fail("secrets", "missing subcommand: init or rotate");
	if (is_help(argv[1]))
		return fa_cli_help("secrets");
	if (strcmp(argv[1], "init") == 0)
		return secrets_init(argc - 1, argv + 1);
	if (strcmp(argv[1], "rotate") == 0)
		return secrets_rotate(argc - 1, argv + 1);
	return fa_cli_usage_fail("secrets", "unknown subcommand \"%s\": init or rotate",
				 argv[1]);
}

/* ---- hash-secret ----------------------------------------------------------- */

/* Room for the longest secret we would accept to read, a CRLF, and one more
 * byte to tell "too long" apart. */
#define READ_CAP (FA_MAX_PASSWORD + 3)

/* Reads up to cap bytes from fd, stopping after a newline when `line`. */
static enum fa_rc read_fd(int fd, bool line, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;

	while (n < cap) {
		ssize_t r = read(fd, buf + n, line ? 1 : cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return FA_EIO;
		if (r == 0)
			break;
		n += (size_t)r;
		if (line && buf[n - 1] == '\n')
			break;
	}
	*len = n;
	return FA_OK;
}

static size_t drop_newline(const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '\n') {
		n--;
		if (n > 0 && s[n - 1] == '\r')
			n--;
	}
	return n;
}

/* Prompts on stderr and reads one line from the terminal on fd 0 with echo
 * off. Terminating signals are held while echo is off and delivered after
 * the terminal is restored, so an interrupted prompt never leaves the
 * terminal silent. */
static enum fa_rc prompt_hidden(const char *prompt, char *buf, size_t cap, size_t *len)
{
	struct termios saved, quiet;
	sigset_t block, old;
	enum fa_rc rc;

	if (tcgetattr(STDIN_FILENO, &saved) != 0)
		return FA_EIO;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTSTP);
	sigprocmask(SIG_BLOCK, &block, &old);
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	/* Echo off (dropping typeahead) before the prompt shows, so nothing
	 * typed in answer to it is ever echoed or lost. */
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
		rc = FA_EIO;
		goto out;
	}
	fputs(prompt, stderr);
	fflush(stderr);
	rc = read_fd(STDIN_FILENO, true, buf, cap, len);
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	fputc('\n', stderr);
out:
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static int parse_cost(const char *v, unsigned *cost)
{
	uint64_t c = 0;

	if (fa_parse_u64(v, strlen(v), FA_BCRYPT_COST_MAX, &c) != FA_OK ||
	    c < FA_BCRYPT_COST_MIN)
		return fa_cli_usage_fail("hash-secret", "--cost must be a number from %d to %d",
					 FA_BCRYPT_COST_MIN, FA_BCRYPT_COST_MAX);
	*cost = (unsigned)c;
	return FA_EXIT_OK;
}

int fa_cli_hash_secret(int argc, char **argv)
{
	char secret[READ_CAP], again[READ_CAP];
	char b64[FA_BCRYPT_B64_LEN + 1];
	unsigned cost = FA_BCRYPT_COST_DEFAULT;
	size_t len = 0, len2 = 0;
	struct fa_err err;
	int ret = FA_EXIT_OK;

	fa_err_clear(&err);
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		int m;

		if (is_help(argv[i]))
			return fa_cli_help("hash-secret");
		m = opt_value(argc, argv, &i, "--cost", NULL, &v);
		if (m < 0)
			return fa_cli_usage_fail("hash-secret", "--cost needs a number");
		if (m > 0) {
			ret = parse_cost(v, &cost);
			if (ret != FA_EXIT_OK)
				return ret;
			continue;
		}
		return fa_cli_usage_fail("hash-secret", "unknown argument \"%s\"", argv[i]);
	}

	if (isatty(STDIN_FILENO)) {
		if (prompt_hidden("Secret (input hidden): ", secret, sizeof(secret), &len) != FA_OK ||
		    prompt_hidden("Repeat secret: ", again, sizeof(again), &len2) != FA_OK) {
			ret = fa_cli_fail("cannot read the secret from the terminal");
			goto out;
		}
		len = drop_newline(secret, len);
		len2 = drop_newline(again, len2);
		if (!fa_ct_eq(secret, len, again, len2)) {
			ret = fa_cli_fail("the two secrets do not match");
			goto out;
		}
	} else {
		if (read_fd(STDIN_FILENO, false, secret, sizeof(secret), &len) != FA_OK) {
			ret = fa_cli_fail("cannot read the secret from standard input: %s",
					  strerror(errno));
			goto out;
		}
		if (len == sizeof(secret)) {
			ret = fa_cli_fail("the secret on standard input is longer than %d bytes",
					  FA_BCRYPT_MAX_SECRET);
			goto out;
		}
		len = drop_newline(secret, len);
	}

	if (fa_secret_hash(secret, len, cost, b64, NULL, &err) != FA_OK) {
		ret = fa_cli_fail("%s", err.msg);
		goto out;
	}
	printf("%s\n", b64);
	if (fflush(stdout) != 0)
		ret = fa_cli_fail("cannot write the hash: %s", strerror(errno));
out:
	fa_memzero(secret, sizeof(secret));
	fa_memzero(again, sizeof(again));
	return ret;
}
