/* keygen.c -- `secrets init`: generates the four secrets a Self
 * authorization server needs and writes them into one directory, in the
 * formats flyteadmin's own `flyteadmin secret init` writes (unpadded
 * standard base64 keys without a newline, a PKCS#1 "RSA PRIVATE KEY" PEM),
 * so the directory can be mounted at /etc/secrets for either server.
 *
 * Safer than flyteadmin's version on purpose: files are 0600 (not 0777 minus
 * umask), the directory is created 0700, nothing is overwritten without
 * `force`, and each file is written to a fresh temp file (O_EXCL|O_NOFOLLOW,
 * so a planted symlink cannot redirect the key) then renamed into place, so
 * a reader never sees half a key. It does not read secrets back or touch
 * any file other than the four names and their temp files. The writing and
 * PEM helpers are shared with rotate.c through secrets_int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "secrets/secrets_int.h"

static const char *const init_names[] = {
	FA_SECRET_CLAIM_SYMMETRIC_KEY,
	FA_SECRET_COOKIE_HASH_KEY,
	FA_SECRET_COOKIE_BLOCK_KEY,
	FA_SECRET_TOKEN_RSA_KEY,
};

#define N_FILES ARRAY_LEN(init_names)

const char *const *fa_secret_init_names(size_t *n)
{
	if (n != NULL)
		*n = N_FILES;
	return init_names;
}

/* Creates dir and its missing parents; the ones it creates are 0700 so
 * that keys are never, even briefly, in a directory others can list. */
static enum fa_rc mkdir_p(const char *dir, struct fa_err *err)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);

	if (n >= sizeof(path))
		return fa_err_set(err, FA_EINVAL, "directory path is too long");
	memcpy(path, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		if (path[i - 1] == '/')
			continue;
		char saved = path[i];
		path[i] = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return fa_err_set(err, FA_EIO, "cannot create directory %s: %s", path,
					  strerror(errno));
		path[i] = saved;
	}
	return FA_OK;
}

static enum fa_rc gen_b64_key(struct fa_secret_file *p, size_t nbytes, struct fa_err *err)
{
	unsigned char key[FA_SECRET_COOKIE_HASH_KEY_LEN];
	enum fa_rc rc = FA_OK;

	if (nbytes > sizeof(key))
		return fa_err_set(err, FA_EINVAL, "key length %zu unsupported", nbytes);
	if (fa_rand_bytes(key, nbytes) != FA_OK) {
		rc = fa_err_set(err, FA_ECRYPTO, "random generator failed for %s", p->name);
		goto out;
	}
	/* Unpadded standard base64: what flyteadmin's RawStdEncoding decodes. */
	p->data = fa_b64_encode_dup(key, nbytes, FA_B64_STD | FA_B64_NOPAD);
	if (p->data == NULL) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory generating %s", p->name);
		goto out;
	}
	p->len = strlen(p->data);
out:
	fa_memzero(key, sizeof(key));
	return rc;
}

static enum fa_rc gen_rsa_pem(struct fa_secret_file *p, struct fa_err *err)
{
	EVP_PKEY *pkey = EVP_RSA_gen(FA_SECRET_RSA_BITS);
	enum fa_rc rc;

	if (pkey == NULL)
		return fa_err_set(err, FA_ECRYPTO, "RSA key generation failed");
	rc = fa_secret_pem_encode(pkey, p, err);
	EVP_PKEY_free(pkey);
	return rc;
}

enum fa_rc fa_secret_pem_encode(EVP_PKEY *pkey, struct fa_secret_file *p, struct fa_err *err)
{
	enum fa_rc rc = FA_OK;
	BIO *bio = NULL;
	char *mem = NULL;
	long n;
	int ok;

	/* secmem: OpenSSL wipes the buffer when the BIO is freed. */
	bio = BIO_new(BIO_s_secmem());
	if (bio == NULL) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory generating %s", p->name);
		goto out;
	}
	/* "traditional" = PKCS#1 RSAPrivateKey, the only form flyteadmin's
	 * x509.ParsePKCS1PrivateKey accepts (a PKCS#8 key would fail there).
	 * Other key types have no PKCS#1 form; flyteadmin signs with RSA only. */
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA)
		ok = PEM_write_bio_PrivateKey_traditional(bio, pkey, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
	if (ok != 1) {
		rc = fa_err_set(err, FA_ECRYPTO, "cannot encode the key as PEM");
		goto out;
	}
	n = BIO_get_mem_data(bio, &mem);
	if (n <= 0 || mem == NULL) {
		rc = fa_err_set(err, FA_ECRYPTO, "cannot encode the key as PEM");
		goto out;
	}
	p->data = fa_strndup(mem, (size_t)n);
	if (p->data == NULL) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory generating %s", p->name);
		goto out;
	}
	p->len = (size_t)n;
out:
	BIO_free(bio);
	return rc;
}

enum fa_rc fa_secret_file_write_temp(int dirfd, const char *dir, struct fa_secret_file *p,
				     struct fa_err *err)
{
	unsigned char rnd[8];
	char hex[2 * sizeof(rnd) + 1];
	enum fa_rc rc = FA_OK;
	int fd = -1;
	int w;

	if (fa_rand_bytes(rnd, sizeof(rnd)) != FA_OK)
		return fa_err_set(err, FA_ECRYPTO, "random generator failed");
	fa_hex(rnd, sizeof(rnd), hex);
	w = snprintf(p->tmp, sizeof(p->tmp), ".%s.tmp-%s", p->name, hex);
	if (w < 0 || (size_t)w >= sizeof(p->tmp))
		return fa_err_set(err, FA_EINVAL, "temp name too long for %s", p->name);
	fd = openat(dirfd, p->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return fa_err_set(err, FA_EIO, "cannot create %s/%s: %s", dir, p->tmp,
				  strerror(errno));
	p->tmp_made = true;
	/* The umask may only have removed bits; make the mode exactly 0600. */
	if (fchmod(fd, 0600) != 0 || fa_fd_write_all(fd, p->data, p->len) != FA_OK ||
	    fsync(fd) != 0) {
		rc = fa_err_set(err, FA_EIO, "cannot write %s/%s: %s", dir, p->tmp,
				strerror(errno));
		goto out;
	}
out:
	if (close(fd) != 0 && rc == FA_OK)
		rc = fa_err_set(err, FA_EIO, "cannot write %s/%s: %s", dir, p->tmp,
				strerror(errno));
	return rc;
}

/* Without replace, a file created since the caller's up-front check
 * survives: the rename itself refuses to clobber it. */
enum fa_rc fa_secret_file_install(int dirfd, const char *dir, struct fa_secret_file *p,
				  bool replace, struct fa_err *err)
{
	if (replace) {
		if (renameat(dirfd, p->tmp, dirfd, p->name) != 0)
			return fa_err_set(err, FA_EIO, "cannot replace %s/%s: %s", dir, p->name,
					  strerror(errno));
		p->tmp_made = false;
		return FA_OK;
	}
	if (renameat2(dirfd, p->tmp, dirfd, p->name, RENAME_NOREPLACE) == 0) {
		p->tmp_made = false;
		return FA_OK;
	}
	if (errno == EINVAL || errno == ENOSYS) {
		if (linkat(dirfd, p->tmp, dirfd, p->name, 0) == 0) {
			(void)unlinkat(dirfd, p->tmp, 0);
			p->tmp_made = false;
			return FA_OK;
		}
	}
	if (errno == EEXIST)
		return fa_err_set(err, FA_EEXIST, "%s/%s appeared while writing; not replaced",
				  dir, p->name);
	return fa_err_set(err, FA_EIO, "cannot create %s/%s: %s", dir, p->name,
			  strerror(errno));
}

enum fa_rc fa_secret_dir_open(const char *dir, int *dirfd, struct fa_err *err)
{
	*dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*dirfd < 0)
		return fa_err_set(err, FA_EIO, "cannot open directory %s: %s", dir, strerror(errno));
	return FA_OK;
}

void fa_secret_file_cleanup(int dirfd, struct fa_secret_file *f)
{
	if (f->tmp_made && dirfd >= 0)
		(void)unlinkat(dirfd, f->tmp, 0);
	f->tmp_made = false;
	if (f->data != NULL) {
		fa_memzero(f->data, f->len);
		free(f->data);
	}
	f->data = NULL;
	f->len = 0;
}

enum fa_rc fa_secret_init_dir(const char *dir, bool force, struct fa_err *err)
{
	struct fa_secret_file files[N_FILES];
	enum fa_rc rc = FA_OK;
	int dirfd = -1;

	memset(files, 0, sizeof(files));
	for (size_t i = 0; i < N_FILES; i++)
		files[i].name = init_names[i];
	if (dir == NULL || dir[0] == '\0')
		return fa_err_set(err, FA_EINVAL, "no directory given");

	rc = mkdir_p(dir, err);
	if (rc != FA_OK)
		goto out;
	rc = fa_secret_dir_open(dir, &dirfd, err);
	if (rc != FA_OK)
		goto out;

	/* All checks before any write: either every file is new or none is
	 * written. A dangling symlink counts as existing (lstat semantics). */
	if (!force) {
		for (size_t i = 0; i < N_FILES; i++) {
			struct stat st;
			if (fstatat(dirfd, files[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				rc = fa_err_set(err, FA_EEXIST, "%s/%s already exists; nothing was "
						"written", dir, files[i].name);
				goto out;
			}
			if (errno != ENOENT) {
				rc = fa_err_set(err, FA_EIO, "cannot check %s/%s: %s", dir,
						files[i].name, strerror(errno));
				goto out;
			}
		}
	}

	rc = gen_b64_key(&files[0], FA_SECRET_CLAIM_KEY_LEN, err);
	if (rc == FA_OK)
		rc = gen_b64_key(&files[1], FA_SECRET_COOKIE_HASH_KEY_LEN, err);
	if (rc == FA_OK)
		rc = gen_b64_key(&files[2], FA_SECRET_COOKIE_BLOCK_KEY_LEN, err);
	if (rc == FA_OK)
		rc = gen_rsa_pem(&files[3], err);
	for (size_t i = 0; rc == FA_OK && i < N_FILES; i++)
		rc = fa_secret_file_write_temp(dirfd, dir, &files[i], err);
	for (size_t i = 0; rc == FA_OK && i < N_FILES; i++)
		rc = fa_secret_file_install(dirfd, dir, &files[i], force, err);
	if (rc == FA_OK && fsync(dirfd) != 0)
		rc = fa_err_set(err, FA_EIO, "cannot sync directory %s: %s", dir, strerror(errno));
out:
	for (size_t i = 0; i < N_FILES; i++)
		fa_secret_file_cleanup(dirfd, &files[i]);
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}
