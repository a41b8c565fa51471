/* test_secrets_rotate.c -- secrets module, part 3: `secrets rotate`
 * (fa_secret_rotate) on real files: the three steps, key types kept or
 * chosen, file modes, refusals that change nothing, a symlinked key (as
 * Kubernetes mounts them), a dangling link in the old slot, and the
 * optional lookup that reads an empty old key as none. The server side of
 * a rotation is tests/bb/rotation.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "secrets/secrets.h"
#include "fa_test.h"

#define CUR FA_SECRET_TOKEN_RSA_KEY
#define OLD FA_SECRET_TOKEN_RSA_KEY_OLD

static char *slurp(const char *dir, const char *name)
{
	char path[PATH_MAX];
	char *data = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (fa_file_read(path, FA_MAX_SECRET, &data, &len, NULL) != FA_OK)
		return NULL;
	return data;
}

static void put(const char *dir, const char *name, const char *data)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(data, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, 0600), 0);
}

static void put_key(const char *dir, const char *name, EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *mem = NULL, *copy;
	long n;

	assert_non_null(k);
	assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(b, &mem);
	copy = strndup(mem, (size_t)n);
	put(dir, name, copy);
	free(copy);
	BIO_free(b);
	EVP_PKEY_free(k);
}

static EVP_PKEY *key_of(const char *dir, const char *name)
{
	char *pem = slurp(dir, name);
	BIO *b;
	EVP_PKEY *k;

	assert_non_null(pem);
	b = BIO_new_mem_buf(pem, -1);
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	free(pem);
	assert_non_null(k);
	return k;
}

static unsigned mode_of(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static bool is_regular(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static enum fa_rc rotate(const char *dir, enum fa_secret_rotate_step step,
			 enum fa_secret_key_type type, bool force, struct fa_err *err)
{
	struct fa_secret_rotation r = { dir, NULL, NULL, type, step, force };

	fa_err_clear(err);
	return fa_secret_rotate(&r, err);
}

static void test_rotate_once_keeps_the_key_type(void **state)
{
	char dir[64];
	struct fa_err err;
	char *before, *old, *cur;
	EVP_PKEY *k;
	char curve[64];

	(void)state;
	fa_test_tmpdir(dir, sizeof(dir), "fa-rotate");
	/* RSA-3072 stays RSA-3072, as PKCS#1 (what flyteadmin reads). */
	put_key(dir, CUR, EVP_RSA_gen(3072));
	before = slurp(dir, CUR);
	assert_int_equal(rotate(dir, FA_SECRET_ROTATE_ONCE, FA_SECRET_KEY_SAME, false, &err), FA_OK);
	old = slurp(dir, OLD);
	cur = slurp(dir, CUR);
	assert_string_equal(old, before);
	assert_string_not_equal(cur, before);
	assert_non_null(strstr(cur, "-----BEGIN RSA PRIVATE KEY-----"));
	k = key_of(dir, CUR);
	assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_RSA);
	assert_int_equal(EVP_PKEY_get_bits(k), 3072);
	EVP_PKEY_free(k);
	assert_int_equal(mode_of(dir, CUR), 0600);
	assert_int_equal(mode_of(dir, OLD), 0600);
	assert_int_equal(entries(dir), 2);
	free(before);
	free(old);
	free(cur);

	/* An EC key is renewed on its curve, an Ed25519 key as Ed25519. */
	fa_test_rmdir(dir);
	fa_test_tmpdir(dir, sizeof(dir), "fa-rotate");
	put_key(dir, CUR, EVP_EC_gen("P-384"));
	assert_int_equal(rotate(dir, FA_SECRET_ROTATE_ONCE, FA_SECRET_KEY_SAME, false, &err), FA_OK);
	k = key_of(dir, CUR);
	assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, curve,
							 sizeof(curve), NULL), 1);
	assert_string_equal(curve, "secp384r1");
	EVP_PKEY_free(k);
	/* --alg picks another type; --force replaces the old key. */
	assert_int_equal(rotate(dir, FA_SECRET_ROTATE_ONCE, FA_SECRET_KEY_ED25519, true, &err), FA_OK);
	k = key_of(dir, CUR);
	assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_ED25519);
	EVP_PKEY_free(k);
	k = key_of(dir, OLD);
	assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
	EVP_PKEY_free(k);
	fa_test_rmdir(dir);
}

static void test_rotate_refuses_live_old_key(void **state)
{
	char dir[64];
	struct fa_err err;
	char *cur, *old;

	(void)state;
	fa_test_tmpdir(dir, sizeof(dir), "fa-rotate");
	put_key(dir, CUR, EVP_EC_gen("P-256"));
	put(dir, OLD, "whatever is there\n");
	cur = slurp(dir, CUR);
	assert_int_equal(rotate(dir, FA_SECRET_ROTATE_ONCE, FA_SECRET_KEY_SAME, false, &err),
			 FA_EEXIST);
	assert_non_null(strstr(err.msg, "may still be live"));
	assert_int_equal(rotate(dir, FA_SECRET_ROTATE_STAGE, FA_SECRET_KEY_SAME, false, &err),
			 FA_EEXIST);
	old = slurp(dir, OLD);
	assert_string_equal(old, "whatever is there\n");
	free(old);
	old = slurp(dir, CUR);
	assert_string_equal(old, cur);
	free(old);
	free(cur);
	assert_int_equal(entries(dir), 2);
	/* A dangling link in the old slot is a taken name too, and with
	 * --force the link is replaced, never followed. */
	{
		char link[PATH_MAX], target[PATH_MAX];

		snprintf(link, sizeof(link), "%s/%s", dir, OLD);
		snprintf(target, sizeof(target), "%s/victim", dir);
		assert_int_equal(unlink(link), 0);
		assert_int_equal(symlink(target, link), 0);
		assert_int_equal(rotate(dir, FA_SECRET_ROTATE_ONCE, FA_SECRET_KEY_SAME, false, &err),
				 FA_EEXIST);
		assert_int_equal(rotate(dir, FA_SECRET_ROTATE_ONCE, FA_SECRET_KEY_SAME, true, &err),
				 FA_OK);
		assert_true(is_regular(dir, OLD));
		assert_int_equal(access(target, F_OK), -1);
	}
	fa_test_rmdir(dir);
}

static void test_rotate_stage_then_promote(void **state)
{
	char dir[64];
	struct fa_err err;
	char *c0, *staged, *c1, *o1;

	(void)state;
	fa_test_tmpdir(dir, sizeof(dir), "fa-rotate");
	assert_int_equal(rotate(dir, FA_SECRET_ROTATE_PROMOTE, FA_SECRET_KEY_SAME, false, &err),
			 FA_ENOTFOUND);
	put_key(dir, CUR, EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
	assert_int_equal(rotate(dir, FA_SECRET_ROTATE_PROMOTE, FA_SECRET_KEY_SAME, false, &err),
			 FA_ENOTFOUND);
	assert_non_null(strstr(err.msg, "nothing is staged"));
	c0 = slurp(dir, CUR);
	assert_int_equal(rotate(dir, FA_SECRET_ROTATE_STAGE, FA_SECRET_KEY_SAME, false, &err), FA_OK);
	staged = slurp(dir, OLD);
	c1 = slurp(dir, CUR);
	assert_string_equal(c1, c0);            /* the current key is untouched */
	assert_string_not_equal(staged, c0);
	free(c1);
	assert_int_equal(rotate(dir, FA_SECRET_ROTATE_PROMOTE, FA_SECRET_KEY_SAME, false, &err), FA_OK);
	c1 = slurp(dir, CUR);
	o1 = slurp(dir, OLD);
	assert_string_equal(c1, staged);
	assert_string_equal(o1, c0);
	assert_int_equal(mode_of(dir, CUR), 0600);
	assert_int_equal(mode_of(dir, OLD), 0600);
	assert_int_equal(entries(dir), 2);
	free(c0);
	free(c1);
	free(o1);
	free(staged);
	fa_test_rmdir(dir);
}

static void test_rotate_bad_input_changes_nothing(void **state)
{
	char dir[64];
	struct fa_err err;
	struct fa_secret_rotation r;

	(void)state;
	fa_test_tmpdir(dir, sizeof(dir), "fa-rotate");
	assert_int_equal(rotate(dir, FA_SECRET_ROTATE_ONCE, FA_SECRET_KEY_SAME, false, &err),
			 FA_ENOTFOUND);
	assert_non_null(strstr(err.msg, "no key to rotate"));
	put(dir, CUR, "-----BEGIN PUBLIC KEY-----\nnot really\n-----END PUBLIC KEY-----\n");
	assert_int_equal(rotate(dir, FA_SECRET_ROTATE_ONCE, FA_SECRET_KEY_SAME, false, &err),
			 FA_EINVAL);
	assert_null(strstr(err.msg, "not really"));
	assert_int_equal(entries(dir), 1);
	/* Names are secret names: nothing outside the directory. */
	memset(&r, 0, sizeof(r));
	r.dir = dir;
	r.key_name = "../token_rsa_key.pem";
	assert_int_equal(fa_secret_rotate(&r, &err), FA_EINVAL);
	r.key_name = OLD;
	r.old_name = OLD;
	assert_int_equal(fa_secret_rotate(&r, &err), FA_EINVAL);
	r.dir = "";
	assert_int_equal(fa_secret_rotate(&r, &err), FA_EINVAL);
	r.dir = "/nonexistent/fa-rotate";
	r.key_name = NULL;
	r.old_name = NULL;
	assert_int_equal(fa_secret_rotate(&r, &err), FA_EIO);
	assert_int_equal(entries(dir), 1);
	fa_test_rmdir(dir);
}

static void test_rotate_follows_a_symlinked_key(void **state)
{
	char dir[64], path[PATH_MAX];
	struct fa_err err;
	char *before, *old;

	(void)state;
	/* Kubernetes mounts keys as links into ..data; the old slot gets the
	 * key's content, and the link in the current slot is replaced. */
	fa_test_tmpdir(dir, sizeof(dir), "fa-rotate");
	put_key(dir, "real.pem", EVP_RSA_gen(2048));
	snprintf(path, sizeof(path), "%s/%s", dir, CUR);
	assert_int_equal(symlink("real.pem", path), 0);
	before = slurp(dir, "real.pem");
	assert_int_equal(rotate(dir, FA_SECRET_ROTATE_ONCE, FA_SECRET_KEY_SAME, false, &err), FA_OK);
	old = slurp(dir, OLD);
	assert_string_equal(old, before);
	free(old);
	old = slurp(dir, "real.pem");
	assert_string_equal(old, before);       /* the link's target is not written */
	free(old);
	free(before);
	fa_test_rmdir(dir);
}

static void test_get_optional_empty_is_absent(void **state)
{
	char dir[64];
	struct fa_secret_source src = { "FATEST_ROTATE_UNUSED_", NULL, NULL, 0 };
	struct fa_err err;
	char *v = NULL;
	size_t n = 0;

	(void)state;
	fa_test_tmpdir(dir, sizeof(dir), "fa-rotate");
	src.secrets_prefix = dir;
	assert_int_equal(fa_secret_get_optional(&src, OLD, &v, &n, &err), FA_ENOTFOUND);
	put(dir, OLD, "\n");                    /* systemd's SetCredential= default */
	assert_int_equal(fa_secret_get_optional(&src, OLD, &v, &n, &err), FA_ENOTFOUND);
	assert_null(v);
	/* The required lookup still calls it what it is. */
	assert_int_equal(fa_secret_get(&src, OLD, &v, &n, NULL, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "is empty"));
	put(dir, OLD, "x\n");
	assert_int_equal(fa_secret_get_optional(&src, OLD, &v, &n, &err), FA_OK);
	assert_int_equal(n, 1);
	fa_free_secret(v);
	fa_test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotate_once_keeps_the_key_type),
		cmocka_unit_test(test_rotate_refuses_live_old_key),
		cmocka_unit_test(test_rotate_stage_then_promote),
		cmocka_unit_test(test_rotate_bad_input_changes_nothing),
		cmocka_unit_test(test_rotate_follows_a_symlinked_key),
		cmocka_unit_test(test_get_optional_empty_is_absent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
