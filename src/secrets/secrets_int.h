/* secrets_int.h -- internals shared by keygen.c (`secrets init`) and
 * rotate.c (`secrets rotate`): writing a key file atomically, and
 * encoding a private key as PEM.
 *
 * Not part of the module's interface: other modules include secrets.h only.
 */
#ifndef FA_SECRETS_INT_H
#define FA_SECRETS_INT_H

#include <openssl/evp.h>

#include "secrets/secrets.h"

/* One file to write into a directory: its final name, its content (owned,
 * wiped and freed by fa_secret_file_cleanup) and, once made, the name of
 * its temp file next to it. */
struct fa_secret_file {
	const char *name;
	char *data;
	size_t len;
	char tmp[FA_MAX_SECRET_NAME + 32];
	bool tmp_made;
};

/* Writes f->data to a fresh temp file in dirfd (O_EXCL|O_NOFOLLOW, mode
 * exactly 0600, fsync'd). `dir` only names the directory in messages.
 * Errors: FA_EIO, FA_ECRYPTO (no randomness for the temp name), FA_EINVAL. */
enum fa_rc fa_secret_file_write_temp(int dirfd, const char *dir, struct fa_secret_file *f,
				     struct fa_err *err) FA_WUR;

/* Renames the temp file to f->name. Without `replace` the name must still
 * be free (renameat2 RENAME_NOREPLACE, or link+unlink where the file
 * system lacks it): FA_EEXIST when a file appeared there meanwhile.
 * Errors: FA_EEXIST, FA_EIO. */
enum fa_rc fa_secret_file_install(int dirfd, const char *dir, struct fa_secret_file *f,
				  bool replace, struct fa_err *err) FA_WUR;

/* Removes a temp file left behind by a failure and wipes and frees data. */
void fa_secret_file_cleanup(int dirfd, struct fa_secret_file *f);

/* f->data = pkey as PEM: an RSA key in PKCS#1 ("RSA PRIVATE KEY", the only
 * form flyteadmin reads), any other in PKCS#8 ("PRIVATE KEY").
 * Errors: FA_ECRYPTO, FA_ENOMEM. */
enum fa_rc fa_secret_pem_encode(EVP_PKEY *pkey, struct fa_secret_file *f,
				struct fa_err *err) FA_WUR;

/* Opens dir (O_DIRECTORY). Errors: FA_EIO naming it. */
enum fa_rc fa_secret_dir_open(const char *dir, int *dirfd, struct fa_err *err) FA_WUR;

#endif
