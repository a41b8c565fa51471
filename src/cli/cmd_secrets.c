/* cmd_secrets.c -- the `secrets init` and `hash-secret` subcommands: thin
 * argument parsing around the secrets module (fa_secret_init_dir and
 * fa_secret_hash). They print file names and hashes, never a secret: the
 * generated keys stay in their files, and the secret given to hash-secret
 * is read without echo from a terminal and wiped after use.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "secrets/secrets.h"

static const char secrets_usage[] = "flyteauth secrets init [-p DIR] [--force]";

static const char secrets_help[] =
	"usage: flyteauth secrets init [-p DIR] [--force]\n"
	"\n"
	"Generates the secrets a Self authorization server needs, in the formats\n"
	"flyteadmin reads, and writes them into DIR (default: the current directory,\n"
	"as `flyteadmin secret init`; DIR is created with mode 0700 if missing):\n"
	"  claim_symmetric_key   32 random bytes, unpadded base64\n"
	"  cookie_hash_key       64 random bytes, unpadded base64\n"
	"  cookie_block_key      32 random bytes, unpadded base64\n"
	"  token_rsa_key.pem     RSA-2048 private key, PKCS#1 PEM\n"
	"Each file has mode 0600. Mount DIR at the server's secrets-prefix\n"
	"(default /etc/secrets).\n"
	"\n"
	"  -p, --localPath DIR   directory to write into (default: .)\n"
	"  -f, --force           replace existing files (otherwise, if any of the\n"
	"                        four exists, nothing is written)\n"
	"  -h, --help            show this help\n";

static const char hash_usage[] = "flyteauth hash-secret [--cost N]";

static const char hash_help[] =
	"usage: flyteauth hash-secret [--cost N]\n"
	"\n"
	"Reads a secret and prints base64(bcrypt(secret)) on one line: the value for\n"
	"a static client's client_secret, Helm's clientSecretHash, or a local user's\n"
	"passwordHash (the same value as the Python one-liner in Flyte's docs).\n"
	"The secret is read from standard input (one trailing newline is dropped);\n"
	"on a terminal it is prompted for twice, without echo.\n"
	"Secrets longer than 72 bytes are refused: bcrypt would ignore the rest.\n"
	"\n"
	"  --cost N     bcrypt cost, 4..31 (default 10)\n"
	"  -h, --help   show this help\n";

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

		if (is_help(argv[i])) {
			fputs(secrets_help, stdout);
			return FA_EXIT_OK;
		}
		if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0) {
			force = true;
			continue;
		}
		m = opt_value(argc, argv, &i, "--localPath", "-p", &v);
		if (m < 0)
			return fa_cli_usage_error(secrets_usage, "%s needs a directory", argv[i]);
		if (m > 0) {
			if (v[0] == '\0')
				return fa_cli_usage_error(secrets_usage, "the directory is empty");
			dir = v;
			continue;
		}
		return fa_cli_usage_error(secrets_usage, "unknown argument \"%s\"", argv[i]);
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

int fa_cli_secrets(int argc, char **argv)
{
	if (argc < 2)
		return fa_cli_usage_error(secrets_usage, "missing subcommand");
	if (is_help(argv[1])) {
		fputs(secrets_help, stdout);
		return FA_EXIT_OK;
	}
	if (strcmp(argv[1], "init") == 0)
		return secrets_init(argc - 1, argv + 1);
	return fa_cli_usage_error(secrets_usage, "unknown subcommand \"%s\"", argv[1]);
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
		return fa_cli_usage_error(hash_usage, "--cost must be a number from %d to %d",
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

		if (is_help(argv[i])) {
			fputs(hash_help, stdout);
			return FA_EXIT_OK;
		}
		m = opt_value(argc, argv, &i, "--cost", NULL, &v);
		if (m < 0)
			return fa_cli_usage_error(hash_usage, "--cost needs a number");
		if (m > 0) {
			ret = parse_cost(v, &cost);
			if (ret != FA_EXIT_OK)
				return ret;
			continue;
		}
		return fa_cli_usage_error(hash_usage, "unknown argument \"%s\"", argv[i]);
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
