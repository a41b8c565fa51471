/* commands.c -- every command of the `flyteauth` binary as data: name,
 * handler, one-line summary, help text and options. This table is the one
 * source of `flyteauth --help`, `flyteauth <command> --help`, the manual
 * page (`flyteauth man`) and the bash and zsh completions (`flyteauth
 * completion`); the handlers parse their own arguments, and a black-box
 * test checks that each option listed here is one they accept.
 *
 * Text is plain English without line breaks: the renderers wrap it for a
 * terminal and escape it for roff. Keep each option's help short; what a
 * command does belongs in its paragraphs.
 */
#include <string.h>

#include "cli/cli.h"

#define END_TEXT { NULL, NULL }
#define END_OPTS { NULL, NULL, NULL, FA_CLI_COMPLETE_NONE, NULL, NULL }

/* ---- serve --------------------------------------------------------------- */

static const struct fa_cli_text serve_text[] = {
	{ NULL, "Runs the flyteauth server: the OAuth 2.0 authorization server and the "
		"protected routes of a Flyte deployment, configured by a flyteadmin config "
		"file. A configuration it cannot serve stops it before it listens, with one "
		"FILE:LINE:COL line per problem. SIGTERM or SIGINT stops it after the "
		"requests in flight." },
	{ NULL, "It checks before it writes: the config, the secrets, the TLS files and the "
		"port come first; only then are the state directory and the database created "
		"and a first start's credentials printed. A config that names no "
		"database.sqlite.file keeps flyteauth.db in the state directory "
		"($XDG_STATE_HOME/flyteauth, else ~/.local/state/flyteauth)." },
	END_TEXT,
};

static const struct fa_cli_opt serve_opts[] = {
	{ NULL, "--config", "FILE", FA_CLI_COMPLETE_FILE, NULL,
	  "a flyteadmin config or a flyte-binary/flyte-core Helm values file; without it, "
	  "the development server on http://localhost:8088 with state in "
	  "$XDG_STATE_HOME/flyteauth (~/.local/state/flyteauth)" },
	{ NULL, "--listen", "ADDR:PORT", FA_CLI_COMPLETE_NONE, NULL,
	  "listen there instead of server.bindAddress and server.httpPort (also "
	  "FLYTEAUTH_LISTEN; the flag wins); \"PORT\" or \":PORT\" keeps the address" },
	{ NULL, "--allow-root", NULL, FA_CLI_COMPLETE_NONE, NULL,
	  "run even as root (uid 0), which serve otherwise refuses: a server that holds "
	  "signing keys and password hashes should run as an unprivileged user" },
	END_OPTS,
};

/* ---- config check ------------------------------------------------------------ */

static const struct fa_cli_text config_text[] = {
	{ NULL, "Checks a server configuration: a flyteadmin config file or a flyte-binary / "
		"flyte-core Helm values file. It explains what the server would do and ends "
		"in \"configuration OK\", or prints one FILE:LINE:COL line per problem and "
		"exits 1." },
	END_TEXT,
};

static const struct fa_cli_opt config_opts[] = {
	{ NULL, "--config", "FILE", FA_CLI_COMPLETE_FILE, NULL,
	  "the file to check (default: the built-in defaults)" },
	{ NULL, "--online", NULL, FA_CLI_COMPLETE_NONE, NULL,
	  "also load every secret it names and the TLS certificate and key, and reach "
	  "the IdP and the external authorization server" },
	END_OPTS,
};

/* ---- secrets init / rotate ------------------------------------------------------ */

static const struct fa_cli_text secrets_init_text[] = {
	{ NULL, "Generates the secrets a Self authorization server needs, in the formats "
		"flyteadmin reads, and writes them into DIR (default: the current directory, "
		"as `flyteadmin secret init`; DIR is created with mode 0700 if missing):" },
	{ "claim_symmetric_key", "32 random bytes, unpadded base64" },
	{ "cookie_hash_key", "64 random bytes, unpadded base64" },
	{ "cookie_block_key", "32 random bytes, unpadded base64" },
	{ "token_rsa_key.pem", "RSA-2048 private key, PKCS#1 PEM" },
	{ NULL, "Each file has mode 0600. Mount DIR at the server's secrets-prefix "
		"(default /etc/secrets)." },
	END_TEXT,
};

static const struct fa_cli_opt secrets_init_opts[] = {
	{ "-p", "--localPath", "DIR", FA_CLI_COMPLETE_DIR, NULL,
	  "directory to write into (default: .)" },
	{ "-f", "--force", NULL, FA_CLI_COMPLETE_NONE, NULL,
	  "replace existing files (otherwise, if any of the four exists, nothing is written)" },
	END_OPTS,
};

static const struct fa_cli_text secrets_rotate_text[] = {
	{ NULL, "Rotates the token signing key in DIR (default: the current directory): the "
		"current key (token_rsa_key.pem) moves to the old slot (token_rsa_key_old.pem, "
		"the server's oldTokenSigningRSAKeySecretName) and a new key takes its place. "
		"Once restarted, the server signs access tokens with the new key and still "
		"accepts those signed with the old one; /oauth2/jwks publishes both, the "
		"current key first. Remove the old key when every token signed with it has "
		"expired (accessTokenLifespan after the restart, 30m by default)." },
	{ NULL, "The new key is of the current key's type and size (the same RSA modulus "
		"size, the same EC curve, Ed25519) unless --alg names another; then set "
		"tokenSigningAlgorithm to match. Each file is written mode 0600 to a temporary "
		"name and renamed into place, so the directory always holds usable keys." },
	{ NULL, "An existing old key is kept unless --force is given: tokens signed with it "
		"may still be live, and would fail verification once it is gone." },
	{ NULL, "With several instances, rotate in two steps so that every instance accepts "
		"the new key before any signs with it: --stage writes the new key to the old "
		"slot only (published and accepted, not yet used); copy DIR to every instance "
		"and restart them; then --promote swaps the two keys; copy and restart again." },
	END_TEXT,
};

static const struct fa_cli_opt secrets_rotate_opts[] = {
	{ "-p", "--localPath", "DIR", FA_CLI_COMPLETE_DIR, NULL,
	  "directory holding the keys (default: .)" },
	{ NULL, "--alg", "ALG", FA_CLI_COMPLETE_WORDS, "RS256 ES256 EdDSA",
	  "make the new key an RS256 (RSA-2048), ES256 (P-256) or EdDSA (Ed25519) key" },
	{ NULL, "--key", "NAME", FA_CLI_COMPLETE_NONE, NULL,
	  "file name of the current key, tokenSigningRSAKeySecretName (default: "
	  "token_rsa_key.pem)" },
	{ NULL, "--old-key", "NAME", FA_CLI_COMPLETE_NONE, NULL,
	  "file name of the old key, oldTokenSigningRSAKeySecretName (default: "
	  "token_rsa_key_old.pem)" },
	{ NULL, "--stage", NULL, FA_CLI_COMPLETE_NONE, NULL,
	  "step 1 of 2: write the new key to the old slot only" },
	{ NULL, "--promote", NULL, FA_CLI_COMPLETE_NONE, NULL,
	  "step 2 of 2: swap the current and the old key" },
	{ "-f", "--force", NULL, FA_CLI_COMPLETE_NONE, NULL,
	  "replace an existing old key" },
	END_OPTS,
};

/* ---- dev reset ------------------------------------------------------------------ */

static const struct fa_cli_text dev_reset_text[] = {
	{ NULL, "Forgets the development server's printed credentials: the password of the "
		"user flyte and the generated secret of flytepropeller, in the database of "
		"the state directory ($XDG_STATE_HOME/flyteauth, else "
		"~/.local/state/flyteauth). The next `flyteauth serve` without --config "
		"prints new ones; keys, sessions and tokens stay. A running development "
		"server keeps the old ones until it restarts." },
	END_TEXT,
};

/* ---- hash-secret ------------------------------------------------------------------ */

static const struct fa_cli_text hash_text[] = {
	{ NULL, "Reads a secret and prints base64(bcrypt(secret)) on one line: the value for "
		"a static client's client_secret, Helm's clientSecretHash, or a local user's "
		"passwordHash (the same value as the Python one-liner in Flyte's docs). The "
		"secret is read from standard input (one trailing newline is dropped); on a "
		"terminal it is prompted for twice, without echo. Secrets longer than 72 bytes "
		"are refused: bcrypt would ignore the rest." },
	END_TEXT,
};

static const struct fa_cli_opt hash_opts[] = {
	{ NULL, "--cost", "N", FA_CLI_COMPLETE_NONE, NULL, "bcrypt cost, 4..31 (default 10)" },
	END_OPTS,
};

/* ---- the client: login, token, whoami, logout ----------------------------------------- */

/* The text the four client commands share, after their own first paragraph. */
#define CLIENT_TEXT                                                                          \
	{ NULL, "The environment overrides the file: FLYTE_PLATFORM_URL, "                   \
		"FLYTE_PLATFORM_INSECURE, FLYTE_CREDENTIALS_AUTH_MODE, _CLIENT_ID, "         \
		"_CLIENT_SECRET, _OAUTH_SCOPES, _AUTHORIZATION_METADATA_KEY, each also as "  \
		"<NAME>_FROM_ENV_VAR=OTHER or <NAME>_FROM_FILE=/path." },                    \
	{ NULL, "Pkce starts $BROWSER (else xdg-open or open when there is a display) and "  \
		"always prints the URL. Tokens are cached per endpoint in "                  \
		"$XDG_CACHE_HOME/flyteauth (else ~/.cache/flyteauth)." },                    \
	END_TEXT

static const struct fa_cli_opt client_opts[] = {
	{ NULL, "--config", "FILE", FA_CLI_COMPLETE_FILE, NULL,
	  "client config (default: $FLYTECTL_CONFIG, then ~/.flyte/config.yaml); its admin: "
	  "section" },
	END_OPTS,
};

static const struct fa_cli_text login_text[] = {
	{ NULL, "Runs the configured auth flow now, caches the tokens and shows who you are." },
	CLIENT_TEXT,
};

static const struct fa_cli_text token_text[] = {
	{ NULL, "Prints a valid access token (only the token), refreshing it silently." },
	CLIENT_TEXT,
};

static const struct fa_cli_text whoami_text[] = {
	{ NULL, "Prints who the token belongs to (the server's /me), as JSON." },
	CLIENT_TEXT,
};

static const struct fa_cli_text logout_text[] = {
	{ NULL, "Revokes the refresh token and deletes the cached tokens." },
	CLIENT_TEXT,
};

/* ---- completion, man ----------------------------------------------------------------- */

static const struct fa_cli_text completion_text[] = {
	{ NULL, "Prints a completion script for bash or zsh, covering every command and "
		"option. For bash, save it as "
		"/usr/share/bash-completion/completions/flyteauth or run "
		"`source <(flyteauth completion bash)`; for zsh, save it as _flyteauth in a "
		"directory of $fpath. `make install` installs both." },
	END_TEXT,
};

static const struct fa_cli_text man_text[] = {
	{ NULL, "Prints this manual as a flyteauth(1) page in roff: `flyteauth man | man -l -` "
		"reads it. `make install` installs it." },
	END_TEXT,
};

static const struct fa_cli_opt no_opts[] = {
	END_OPTS,
};

static const struct fa_cli_cmd cmds[] = {
	{ "serve", fa_cli_serve, NULL, "run the authorization server", serve_text, serve_opts },
	{ "config check", fa_cli_config, NULL, "check a server configuration", config_text,
	  config_opts },
	{ "secrets init", fa_cli_secrets, NULL, "create the server's secrets", secrets_init_text,
	  secrets_init_opts },
	{ "secrets rotate", fa_cli_secrets, NULL, "rotate the token signing key",
	  secrets_rotate_text, secrets_rotate_opts },
	{ "dev reset", fa_cli_dev, NULL, "new credentials for the development server",
	  dev_reset_text, no_opts },
	{ "hash-secret", fa_cli_hash_secret, NULL,
	  "print base64(bcrypt(secret)) for a static client", hash_text, hash_opts },
	{ "login", fa_cli_login, NULL, "log in to a Flyte endpoint", login_text, client_opts },
	{ "token", fa_cli_token, NULL, "print a valid access token", token_text, client_opts },
	{ "whoami", fa_cli_whoami, NULL, "show who you are logged in as", whoami_text,
	  client_opts },
	{ "logout", fa_cli_logout, NULL, "revoke and forget the cached tokens", logout_text,
	  client_opts },
	{ "completion", fa_cli_completion, "bash|zsh", "print a shell completion script",
	  completion_text, no_opts },
	{ "man", fa_cli_man, NULL, "print the manual page", man_text, no_opts },
};

/* ---- the top level ------------------------------------------------------------------ */

static const struct fa_cli_text description[] = {
	{ NULL, "flyteauth is the authentication system of the Flyte platform: an OAuth 2.0 "
		"authorization server that reads flyteadmin's own configuration, the checks "
		"that guard its protected routes, and the command-line client that gets "
		"tokens the way flytectl and flytekit do. One binary holds them all; the "
		"first argument names the command." },
	END_TEXT,
};

static const struct fa_cli_text exit_text[] = {
	{ "0", "success" },
	{ "1", "failure, explained on one line of standard error" },
	{ "2", "bad usage: an unknown command or option, or a missing value" },
	END_TEXT,
};

static const struct fa_cli_text env_text[] = {
	{ "FLYTEAUTH_LISTEN", "ADDR:PORT for serve, as --listen" },
	{ "FLYTE_SECRET_<name>", "a server secret, read before the file "
	  "<secrets-prefix>/<name> (FLYTE_SECRET_ is the default secrets.env-prefix)" },
	{ "XDG_STATE_HOME", "where the development server keeps its state "
	  "(default ~/.local/state)" },
	{ "FLYTECTL_CONFIG", "the client's config file when --config is not given" },
	{ "XDG_CACHE_HOME", "where the client caches tokens (default ~/.cache)" },
	END_TEXT,
};

static const struct fa_cli_text files_text[] = {
	{ "/etc/flyteauth/flyteauth.yaml", "the server's config in the packaged systemd "
	  "unit, the container image and the Kubernetes example" },
	{ "/etc/secrets", "the default secrets-prefix, where the server looks for the "
	  "files that secrets init writes" },
	{ "~/.flyte/config.yaml", "the client's default config, as flytectl's" },
	END_TEXT,
};

static const struct fa_cli_section sections[] = {
	{ "exit status", exit_text },
	{ "environment", env_text },
	{ "files", files_text },
};

static const struct fa_cli_manual manual = {
	"OAuth 2.0 authorization server and command-line client for Flyte",
	description,
	cmds, ARRAY_LEN(cmds),
	sections, ARRAY_LEN(sections),
};

const struct fa_cli_manual *fa_cli_manual_get(void)
{
	return &manual;
}

const struct fa_cli_cmd *fa_cli_cmd_get(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(cmds); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}
