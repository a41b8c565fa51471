/* test_secrets.c -- secrets module, part 1: lookup (inline, env, file),
 * newline trimming, name validation, caps, base64 key decoding, and
 * `secrets init` (files, modes, refusal to overwrite, --force).
 * bcrypt and the check cache are in test_secrets_bcrypt.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "secrets/secrets.h"

#define ENVP "FATEST_SECRET_"

/* ---- helpers ----------------------------------------------------------- */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void rm_rf(const char *dir)
{
	assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/fa-test-secrets-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void write_file(const char *dir, const char *name, const void *data, size_t n)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

/* Reads a whole (small) file; caller frees. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[PATH_MAX];
	char *buf = calloc(1, 8192);
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	r = read(fd, buf, 8191);
	assert_true(r >= 0);
	close(fd);
	*len = (size_t)r;
	return buf;
}

static mode_t mode_of(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode;
}

static bool exists(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* ---- lookup ------------------------------------------------------------- */

static void test_lookup_order(void **state)
{
	char *dir = make_tmpdir();
	struct fa_secret_inline inl[] = { { "other", "x" }, { "oidc_client_secret", "from-inline" } };
	struct fa_secret_source src = { ENVP, dir, NULL, 0 };
	enum fa_secret_origin origin;
	struct fa_err err;
	char *v = NULL;
	size_t len = 0;

	(void)state;
	write_file(dir, "oidc_client_secret", "from-file\n", 10);
	assert_int_equal(setenv(ENVP "oidc_client_secret", "from-env", 1), 0);

	/* env beats file */
	assert_int_equal(fa_secret_get(&src, "oidc_client_secret", &v, &len, &origin, &err), FA_OK);
	assert_string_equal(v, "from-env");
	assert_int_equal(len, 8);
	assert_int_equal(origin, FA_SECRET_FROM_ENV);
	fa_free_secret(v);

	/* inline beats env */
	src.inline_secrets = inl;
	src.n_inline = ARRAY_LEN(inl);
	assert_int_equal(fa_secret_get(&src, "oidc_client_secret", &v, &len, &origin, &err), FA_OK);
	assert_string_equal(v, "from-inline");
	assert_int_equal(origin, FA_SECRET_FROM_INLINE);
	fa_free_secret(v);
	src.inline_secrets = NULL;
	src.n_inline = 0;

	/* file when no env */
	assert_int_equal(unsetenv(ENVP "oidc_client_secret"), 0);
	assert_int_equal(fa_secret_get(&src, "oidc_client_secret", &v, &len, &origin, &err), FA_OK);
	assert_string_equal(v, "from-file");
	assert_int_equal(len, 9);
	assert_int_equal(origin, FA_SECRET_FROM_FILE);
	fa_free_secret(v);

	/* the env var name is the prefix plus the name as-is (no upper-casing) */
	assert_int_equal(setenv(ENVP "OIDC_CLIENT_SECRET", "upper", 1), 0);
	assert_int_equal(fa_secret_get(&src, "oidc_client_secret", &v, NULL, &origin, &err), FA_OK);
	assert_string_equal(v, "from-file");
	fa_free_secret(v);
	assert_int_equal(unsetenv(ENVP "OIDC_CLIENT_SECRET"), 0);

	/* a trailing slash on the prefix is harmless */
	{
		char slash[PATH_MAX];
		struct fa_secret_source s2 = { ENVP, slash, NULL, 0 };

		snprintf(slash, sizeof(slash), "%s/", dir);
		assert_int_equal(fa_secret_get(&s2, "oidc_client_secret", &v, NULL, NULL, &err),
				 FA_OK);
		assert_string_equal(v, "from-file");
		fa_free_secret(v);
	}
	rm_rf(dir);
	free(dir);
}

static void test_lookup_missing_names_both_places(void **state)
{
	char *dir = make_tmpdir();
	struct fa_secret_source src = { ENVP, dir, NULL, 0 };
	char want[PATH_MAX + 64];
	struct fa_err err;
	char *v = (char *)"sentinel";

	(void)state;
	assert_int_equal(fa_secret_get(&src, "claim_symmetric_key", &v, NULL, NULL, &err),
			 FA_ENOTFOUND);
	assert_null(v);
	assert_int_equal(err.rc, FA_ENOTFOUND);
	assert_non_null(strstr(err.msg, "env " ENVP "claim_symmetric_key"));
	snprintf(want, sizeof(want), "file %s/claim_symmetric_key", dir);
	assert_non_null(strstr(err.msg, want));
	rm_rf(dir);
	free(dir);
}

static void test_lookup_defaults_are_flytes(void **state)
{
	struct fa_err err;
	char *v = NULL;

	(void)state;
	/* NULL source: FLYTE_SECRET_ then /etc/secrets. */
	assert_int_equal(setenv("FLYTE_SECRET_fa_unit_test_name", "v1", 1), 0);
	assert_int_equal(fa_secret_get(NULL, "fa_unit_test_name", &v, NULL, NULL, &err), FA_OK);
	assert_string_equal(v, "v1");
	fa_free_secret(v);
	assert_int_equal(unsetenv("FLYTE_SECRET_fa_unit_test_name"), 0);
	assert_int_equal(fa_secret_get(NULL, "fa_unit_test_name", &v, NULL, NULL, &err),
			 FA_ENOTFOUND);
	assert_non_null(strstr(err.msg, "file /etc/secrets/fa_unit_test_name"));
	assert_non_null(strstr(err.msg, "env FLYTE_SECRET_fa_unit_test_name"));
}

static void test_newline_trimmed_once(void **state)
{
	static const struct {
		const char *content;
		size_t n;
		const char *want;
		size_t wantlen;
	} cases[] = {
		{ "abc", 3, "abc", 3 },
		{ "abc\n", 4, "abc", 3 },
		{ "abc\r\n", 5, "abc", 3 },
		{ "abc\n\n", 5, "abc\n", 4 },
		{ "abc\r", 4, "abc\r", 4 },
		{ " abc \n", 6, " abc ", 5 },
		{ "line1\nline2\n", 12, "line1\nline2", 11 },
	};
	char *dir = make_tmpdir();
	struct fa_secret_source src = { ENVP, dir, NULL, 0 };
	struct fa_err err;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *v = NULL;
		size_t len = 0;

		write_file(dir, "s", cases[i].content, cases[i].n);
		assert_int_equal(fa_secret_get(&src, "s", &v, &len, NULL, &err), FA_OK);
		assert_int_equal(len, cases[i].wantlen);
		assert_memory_equal(v, cases[i].want, len);
		assert_int_equal(v[len], '\0');
		fa_free_secret(v);
	}
	/* env values are trimmed the same way */
	assert_int_equal(setenv(ENVP "s", "fromenv\r\n", 1), 0);
	{
		char *v = NULL;

		assert_int_equal(fa_secret_get(&src, "s", &v, NULL, NULL, &err), FA_OK);
		assert_string_equal(v, "fromenv");
		fa_free_secret(v);
	}
	assert_int_equal(unsetenv(ENVP "s"), 0);
	rm_rf(dir);
	free(dir);
}

static void test_path_traversal_secret_name(void **state)
{
	static const char *const bad[] = {
		"../etc/passwd", "..", ".", "a/b", "/etc/shadow", "a..b", "..hidden",
		"name with space", "x\n", "tab\there", "sémantique", "a=b", "$HOME",
	};
	static const char *const good[] = {
		"token_rsa_key.pem", "claim_symmetric_key", "oidc_client_secret",
		"cookie_hash_key", "token_rsa_key_old.pem", "A-b.C_9", ".dockerconfigjson",
	};
	char *dir = make_tmpdir();
	struct fa_secret_source src = { ENVP, dir, NULL, 0 };
	char longname[FA_MAX_SECRET_NAME + 2];
	struct fa_err err;

	(void)state;
	/* A file one level up that a traversal would reach. */
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char *v = (char *)"sentinel";

		assert_int_equal(fa_secret_name_verify(bad[i], &err), FA_EINVAL);
		assert_int_equal(fa_secret_get(&src, bad[i], &v, NULL, NULL, &err), FA_EINVAL);
		assert_null(v);
		assert_true(strstr(err.msg, "secret name") != NULL);
	}
	assert_int_equal(fa_secret_name_verify("a/b", &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "outside [-._a-zA-Z0-9]"));
	assert_int_equal(fa_secret_name_verify("..", &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "is not a file name"));
	assert_int_equal(fa_secret_name_verify("", &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "empty"));
	assert_int_equal(fa_secret_name_verify(NULL, &err), FA_EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(fa_secret_name_verify(longname, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "longer than 253"));
	longname[FA_MAX_SECRET_NAME] = '\0';
	assert_int_equal(fa_secret_name_verify(longname, &err), FA_OK);
	for (size_t i = 0; i < ARRAY_LEN(good); i++)
		assert_int_equal(fa_secret_name_verify(good[i], &err), FA_OK);
	rm_rf(dir);
	free(dir);
}

static void test_size_cap(void **state)
{
	char *dir = make_tmpdir();
	struct fa_secret_source src = { ENVP, dir, NULL, 0 };
	size_t big = (size_t)FA_MAX_SECRET + 2;
	char *data = malloc(big);
	struct fa_err err;
	char *v = NULL;
	size_t len = 0;

	(void)state;
	memset(data, 'k', big);
	/* exactly the cap: accepted */
	write_file(dir, "s", data, FA_MAX_SECRET);
	assert_int_equal(fa_secret_get(&src, "s", &v, &len, NULL, &err), FA_OK);
	assert_int_equal(len, FA_MAX_SECRET);
	fa_free_secret(v);
	/* the cap plus a trailing CRLF: accepted, trimmed to the cap */
	data[FA_MAX_SECRET] = '\r';
	data[FA_MAX_SECRET + 1] = '\n';
	write_file(dir, "s", data, FA_MAX_SECRET + 2);
	assert_int_equal(fa_secret_get(&src, "s", &v, &len, NULL, &err), FA_OK);
	assert_int_equal(len, FA_MAX_SECRET);
	fa_free_secret(v);
	/* one byte over: refused */
	memset(data, 'k', big);
	write_file(dir, "s", data, FA_MAX_SECRET + 1);
	v = (char *)"sentinel";
	assert_int_equal(fa_secret_get(&src, "s", &v, &len, NULL, &err), FA_ETOOBIG);
	assert_null(v);
	assert_non_null(strstr(err.msg, "larger than 65536 bytes"));
	/* far over: refused before reading */
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/s", dir);
		assert_int_equal(truncate(path, 10 * 1024 * 1024), 0);
		assert_int_equal(fa_secret_get(&src, "s", &v, &len, NULL, &err), FA_ETOOBIG);
	}
	/* environment too */
	data[FA_MAX_SECRET + 1] = '\0';
	assert_int_equal(setenv(ENVP "s", data, 1), 0);
	assert_int_equal(fa_secret_get(&src, "s", &v, &len, NULL, &err), FA_ETOOBIG);
	assert_non_null(strstr(err.msg, "env " ENVP "s"));
	assert_int_equal(unsetenv(ENVP "s"), 0);
	free(data);
	rm_rf(dir);
	free(dir);
}

static void test_bad_values(void **state)
{
	char *dir = make_tmpdir();
	struct fa_secret_source src = { ENVP, dir, NULL, 0 };
	struct fa_err err;
	char *v = NULL;

	(void)state;
	/* only a newline: empty */
	write_file(dir, "s", "\n", 1);
	assert_int_equal(fa_secret_get(&src, "s", &v, NULL, NULL, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "is empty"));
	/* a set but empty env var wins (as Go's LookupEnv) and is refused */
	write_file(dir, "s", "filevalue", 9);
	assert_int_equal(setenv(ENVP "s", "", 1), 0);
	assert_int_equal(fa_secret_get(&src, "s", &v, NULL, NULL, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "secret s (env " ENVP "s) is empty"));
	assert_int_equal(unsetenv(ENVP "s"), 0);
	/* NUL inside */
	write_file(dir, "s", "ab\0cd", 5);
	assert_int_equal(fa_secret_get(&src, "s", &v, NULL, NULL, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "NUL byte"));
	/* a directory is not a secret */
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/d", dir);
		assert_int_equal(mkdir(path, 0700), 0);
		assert_int_equal(fa_secret_get(&src, "d", &v, NULL, NULL, &err), FA_EIO);
		assert_non_null(strstr(err.msg, "not a regular file"));
	}
	/* symlinks are followed (Kubernetes mounts keys as links) */
	{
		char path[PATH_MAX];

		write_file(dir, "target", "linked\n", 7);
		snprintf(path, sizeof(path), "%s/link", dir);
		assert_int_equal(symlink("target", path), 0);
		assert_int_equal(fa_secret_get(&src, "link", &v, NULL, NULL, &err), FA_OK);
		assert_string_equal(v, "linked");
		fa_free_secret(v);
	}
	/* a bad env prefix */
	{
		struct fa_secret_source s2 = { "A=B", dir, NULL, 0 };

		assert_int_equal(fa_secret_get(&s2, "s", &v, NULL, NULL, &err), FA_EINVAL);
		assert_non_null(strstr(err.msg, "env-prefix"));
	}
	{
		struct fa_secret_source s3 = { ENVP, "", NULL, 0 };

		assert_int_equal(fa_secret_get(&s3, "s", &v, NULL, NULL, &err), FA_EINVAL);
		assert_non_null(strstr(err.msg, "secrets-prefix is empty"));
	}
	rm_rf(dir);
	free(dir);
}

/* ---- base64 keys ------------------------------------------------------- */

static void test_key_decode(void **state)
{
	unsigned char raw[64], out[64];
	char enc[128];
	struct fa_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(0xfb + i * 7); /* gives '+' '/' in std base64 */

	/* unpadded std (what init writes) */
	assert_int_equal(fa_b64_encode(raw, 32, FA_B64_STD | FA_B64_NOPAD, enc, sizeof(enc)), FA_OK);
	assert_int_equal(strlen(enc), 43);
	assert_int_equal(fa_secret_key_decode("claim_symmetric_key", enc, strlen(enc), out, 32, &err),
			 FA_OK);
	assert_memory_equal(out, raw, 32);
	/* padded std */
	assert_int_equal(fa_b64_encode(raw, 32, FA_B64_STD, enc, sizeof(enc)), FA_OK);
	assert_int_equal(enc[43], '=');
	assert_int_equal(fa_secret_key_decode("k", enc, strlen(enc), out, 32, &err), FA_OK);
	assert_memory_equal(out, raw, 32);
	/* url alphabet */
	assert_int_equal(fa_b64_encode(raw, 64, FA_B64_URL | FA_B64_NOPAD, enc, sizeof(enc)), FA_OK);
	assert_true(strpbrk(enc, "-_") != NULL);
	assert_int_equal(fa_secret_key_decode("cookie_hash_key", enc, strlen(enc), out, 64, &err),
			 FA_OK);
	assert_memory_equal(out, raw, 64);

	/* wrong length, stated in bytes */
	assert_int_equal(fa_b64_encode(raw, 31, FA_B64_STD, enc, sizeof(enc)), FA_OK);
	assert_int_equal(fa_secret_key_decode("claim_symmetric_key", enc, strlen(enc), out, 32, &err),
			 FA_EINVAL);
	assert_non_null(strstr(err.msg, "decodes to 31 bytes, expected 32"));
	assert_int_equal(fa_b64_encode(raw, 32, FA_B64_STD, enc, sizeof(enc)), FA_OK);
	assert_int_equal(fa_secret_key_decode("cookie_hash_key", enc, strlen(enc), out, 64, &err),
			 FA_EINVAL);
	assert_non_null(strstr(err.msg, "expected 64"));
	/* not base64; the message never echoes the value */
	assert_int_equal(fa_secret_key_decode("k", "s3cr3t value!", 13, out, 32, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "not valid base64"));
	assert_null(strstr(err.msg, "s3cr3t"));
	for (size_t i = 0; i < 32; i++)
		assert_int_equal(out[i], 0); /* zeroed on failure */
	assert_int_equal(fa_secret_key_decode("k", "", 0, out, 32, &err), FA_EINVAL);
	/* absurdly long input */
	memset(enc, 'A', sizeof(enc) - 1);
	enc[sizeof(enc) - 1] = '\0';
	assert_int_equal(fa_secret_key_decode("k", enc, strlen(enc), out, 32, &err), FA_EINVAL);
}

static void test_get_key(void **state)
{
	unsigned char raw[32], out[32];
	char enc[64];
	struct fa_secret_source src = { ENVP, "/nonexistent", NULL, 0 };
	struct fa_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)i;
	assert_int_equal(fa_b64_encode(raw, 32, FA_B64_STD | FA_B64_NOPAD, enc, sizeof(enc)), FA_OK);
	enc[43] = '\n'; /* a key with a trailing newline, as from a file */
	enc[44] = '\0';
	assert_int_equal(setenv(ENVP "cookie_block_key", enc, 1), 0);
	assert_int_equal(fa_secret_get_key(&src, "cookie_block_key", out, 32, &err), FA_OK);
	assert_memory_equal(out, raw, 32);
	assert_int_equal(fa_secret_get_key(&src, "cookie_hash_key", out, 32, &err),
			 FA_ENOTFOUND);
	assert_int_equal(unsetenv(ENVP "cookie_block_key"), 0);
}

/* ---- secrets init ------------------------------------------------------ */

static void check_init_files(const char *dir)
{
	static const struct { const char *name; size_t raw; } keys[] = {
		{ FA_SECRET_CLAIM_SYMMETRIC_KEY, 32 },
		{ FA_SECRET_COOKIE_HASH_KEY, 64 },
		{ FA_SECRET_COOKIE_BLOCK_KEY, 32 },
	};
	unsigned char out[64];
	struct fa_err err;
	size_t len;
	char *s;

	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		mode_t m = mode_of(dir, keys[i].name);

		assert_true(S_ISREG(m));
		assert_int_equal(m & 07777, 0600);
		s = slurp(dir, keys[i].name, &len);
		/* unpadded base64, no newline */
		assert_int_equal(len, (keys[i].raw * 4 + 2) / 3);
		assert_null(strpbrk(s, "=\n"));
		assert_int_equal(fa_secret_key_decode(keys[i].name, s, len, out, keys[i].raw, &err),
				 FA_OK);
		free(s);
	}
	assert_int_equal(mode_of(dir, FA_SECRET_TOKEN_RSA_KEY) & 07777, 0600);
	s = slurp(dir, FA_SECRET_TOKEN_RSA_KEY, &len);
	/* PKCS#1, what flyteadmin's x509.ParsePKCS1PrivateKey reads */
	assert_true(strncmp(s, "-----BEGIN RSA PRIVATE KEY-----\n", 32) == 0);
	{
		BIO *b = BIO_new_mem_buf(s, (int)len);
		EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);

		assert_non_null(k);
		assert_int_equal(EVP_PKEY_get_bits(k), 2048);
		assert_true(EVP_PKEY_is_a(k, "RSA"));
		EVP_PKEY_free(k);
		BIO_free(b);
	}
	free(s);
	/* no temp files left behind */
	assert_int_equal(count_entries(dir), 4);
}

static void test_init_writes_four_files(void **state)
{
	char *base = make_tmpdir();
	char dir[PATH_MAX];
	struct fa_err err;
	struct stat st;
	mode_t old;
	size_t n;
	const char *const *names = fa_secret_init_names(&n);

	(void)state;
	assert_int_equal(n, 4);
	assert_string_equal(names[3], "token_rsa_key.pem");
	/* nested, missing directories are created 0700; umask 0 must not
	 * loosen the files */
	snprintf(dir, sizeof(dir), "%s/a/secrets", base);
	old = umask(0);
	assert_int_equal(fa_secret_init_dir(dir, false, &err), FA_OK);
	umask(old);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	check_init_files(dir);
	rm_rf(base);
	free(base);
}

static void test_init_refuses_overwrite(void **state)
{
	char *dir = make_tmpdir();
	struct fa_err err;
	size_t len;
	char *s;

	(void)state;
	write_file(dir, FA_SECRET_COOKIE_BLOCK_KEY, "keep", 4);
	assert_int_equal(fa_secret_init_dir(dir, false, &err), FA_EEXIST);
	assert_non_null(strstr(err.msg, "cookie_block_key already exists; nothing was written"));
	/* nothing written, the existing file untouched */
	assert_false(exists(dir, FA_SECRET_CLAIM_SYMMETRIC_KEY));
	assert_false(exists(dir, FA_SECRET_COOKIE_HASH_KEY));
	assert_false(exists(dir, FA_SECRET_TOKEN_RSA_KEY));
	assert_int_equal(count_entries(dir), 1);
	s = slurp(dir, FA_SECRET_COOKIE_BLOCK_KEY, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(s, "keep", 4);
	free(s);
	rm_rf(dir);
	free(dir);
}

static void test_init_symlink_not_followed(void **state)
{
	char *dir = make_tmpdir();
	char link[PATH_MAX], target[PATH_MAX];
	struct fa_err err;
	size_t len;
	char *s;

	(void)state;
	/* a planted (dangling) link counts as existing: refused */
	snprintf(link, sizeof(link), "%s/%s", dir, FA_SECRET_TOKEN_RSA_KEY);
	snprintf(target, sizeof(target), "%s/victim", dir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(fa_secret_init_dir(dir, false, &err), FA_EEXIST);
	assert_false(exists(dir, "victim"));
	/* with --force the link itself is replaced; its target is never written */
	write_file(dir, "victim", "original", 8);
	assert_int_equal(fa_secret_init_dir(dir, true, &err), FA_OK);
	assert_true(S_ISREG(mode_of(dir, FA_SECRET_TOKEN_RSA_KEY)));
	s = slurp(dir, "victim", &len);
	assert_int_equal(len, 8);
	assert_memory_equal(s, "original", 8);
	free(s);
	rm_rf(dir);
	free(dir);
}

static void test_init_force_replaces(void **state)
{
	char *dir = make_tmpdir();
	struct fa_err err;
	char *before, *after;
	size_t l1, l2;

	(void)state;
	assert_int_equal(fa_secret_init_dir(dir, false, &err), FA_OK);
	before = slurp(dir, FA_SECRET_COOKIE_HASH_KEY, &l1);
	assert_int_equal(fa_secret_init_dir(dir, false, &err), FA_EEXIST);
	assert_non_null(strstr(err.msg, "claim_symmetric_key already exists"));
	after = slurp(dir, FA_SECRET_COOKIE_HASH_KEY, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(before, after, l1);
	free(after);
	/* a loosened mode is corrected by the rewrite */
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", dir, FA_SECRET_COOKIE_HASH_KEY);
		assert_int_equal(chmod(path, 0644), 0);
	}
	assert_int_equal(fa_secret_init_dir(dir, true, &err), FA_OK);
	after = slurp(dir, FA_SECRET_COOKIE_HASH_KEY, &l2);
	assert_int_equal(l2, 86);
	assert_memory_not_equal(before, after, l2); /* fresh keys */
	free(before);
	free(after);
	check_init_files(dir);
	rm_rf(dir);
	free(dir);
}

static void test_init_bad_dir(void **state)
{
	char *dir = make_tmpdir();
	struct fa_err err;

	(void)state;
	assert_int_equal(fa_secret_init_dir("", false, &err), FA_EINVAL);
	assert_int_equal(fa_secret_init_dir(NULL, false, &err), FA_EINVAL);
	/* a file where the directory should be */
	write_file(dir, "file", "x", 1);
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/file", dir);
		assert_int_equal(fa_secret_init_dir(path, false, &err), FA_EIO);
		assert_non_null(strstr(err.msg, "cannot open directory"));
		snprintf(path, sizeof(path), "%s/file/sub", dir);
		assert_int_equal(fa_secret_init_dir(path, false, &err), FA_EIO);
		assert_non_null(strstr(err.msg, "cannot create directory"));
	}
	rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_order),
		cmocka_unit_test(test_lookup_missing_names_both_places),
		cmocka_unit_test(test_lookup_defaults_are_flytes),
		cmocka_unit_test(test_newline_trimmed_once),
		cmocka_unit_test(test_path_traversal_secret_name),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_key_decode),
		cmocka_unit_test(test_get_key),
		cmocka_unit_test(test_init_writes_four_files),
		cmocka_unit_test(test_init_refuses_overwrite),
		cmocka_unit_test(test_init_symlink_not_followed),
		cmocka_unit_test(test_init_force_replaces),
		cmocka_unit_test(test_init_bad_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
