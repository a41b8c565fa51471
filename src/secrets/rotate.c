/* rotate.c -- `secrets rotate`: replaces the token signing key while the
 * tokens it signed stay verifiable. flyteadmin's layout has two slots, the
 * current key (tokenSigningRSAKeySecretName, signs) and the old one
 * (oldTokenSigningRSAKeySecretName, only verifies); the server publishes
 * both at /oauth2/jwks, current first.
 *
 * Three operations on the two slots (C = current, O = old, N = new key):
 *
 *   ONCE     (C, -) -> (N, C)    one instance: restart, and it signs with N
 *   STAGE    (C, -) -> (C, N)    N is published and accepted everywhere...
 *   PROMOTE  (C, N) -> (N, C)    ...before any instance signs with it
 *
 * Invariants:
 *  (1) An existing old key is replaced only with `force`: tokens signed
 *      with it may still be live.
 *  (2) The directory holds a usable pair at every instant: the old slot is
 *      written before the current one, so a server (re)started in between
 *      sees (C, C) for ONCE -- which the server treats as one key -- and
 *      (C, C) for PROMOTE, where no token signed with N exists yet.
 *  (3) Every file is written 0600 to a temp file, fsync'd and renamed into
 *      place; the directory is fsync'd at the end. A failure leaves no temp
 *      file, and an old key this call created is removed again.
 *  (4) Key material never appears in a message; the keys are wiped from
 *      memory when done.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "secrets/secrets_int.h"

/* RSA keys are renewed at the current key's modulus size up to this; a
 * larger one is refused rather than spending minutes generating it. */
#define ROTATE_RSA_MAX_BITS 8192

/* Reads name in dirfd (following a symlink, as the server does) into f as
 * is. FA_ENOTFOUND when it does not exist. */
static enum fa_rc read_key(int dirfd, const char *dir, const char *name,
			   struct fa_secret_file *f, struct fa_err *err)
{
	enum fa_rc rc;
	struct stat st;
	int fd, e = 0;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return fa_err_set(err, FA_ENOTFOUND, "%s/%s does not exist", dir, name);
		return fa_err_set(err, FA_EIO, "cannot open %s/%s: %s", dir, name, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = fa_err_set(err, FA_EIO, "%s/%s is not a regular file", dir, name);
		goto out;
	}
	rc = fa_fd_read(fd, FA_MAX_SECRET, &f->data, &f->len, &e);
	if (rc == FA_ETOOBIG)
		rc = fa_err_set(err, FA_EINVAL, "%s/%s is larger than %d bytes", dir, name,
				FA_MAX_SECRET);
	else if (rc == FA_EIO)
		rc = fa_err_set(err, FA_EIO, "cannot read %s/%s: %s", dir, name, strerror(e));
	else if (rc != FA_OK)
		rc = fa_err_set(err, FA_ENOMEM, "out of memory reading %s/%s", dir, name);
out:
	close(fd);
	return rc;
}

/* Parses f as a PEM private key. */
static enum fa_rc parse_key(const char *dir, const struct fa_secret_file *f, EVP_PKEY **out,
			    struct fa_err *err)
{
	BIO *bio = BIO_new_mem_buf(f->data, (int)f->len);
	char no_pass[1] = { 0 };

	*out = NULL;
	if (bio == NULL)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	/* Without a pass phrase OpenSSL would prompt on the terminal: an
	 * encrypted key is refused instead (the server cannot read it either). */
	*out = PEM_read_bio_PrivateKey(bio, NULL, NULL, no_pass);
	BIO_free(bio);
	if (*out == NULL)
		return fa_err_set(err, FA_EINVAL, "%s/%s is not an unencrypted PEM private key",
				  dir, f->name);
	return FA_OK;
}

/* A new key of the type `t`, or of the current key's type for SAME. */
static enum fa_rc new_key(enum fa_secret_key_type t, EVP_PKEY *cur, const char *cur_name,
			  EVP_PKEY **out, struct fa_err *err)
{
	char curve[64];
	int bits;

	*out = NULL;
	switch (t) {
	case FA_SECRET_KEY_RSA:
		*out = EVP_RSA_gen(FA_SECRET_RSA_BITS);
		break;
	case FA_SECRET_KEY_P256:
		*out = EVP_EC_gen("P-256");
		break;
	case FA_SECRET_KEY_ED25519:
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	case FA_SECRET_KEY_SAME:
		switch (EVP_PKEY_get_base_id(cur)) {
		case EVP_PKEY_RSA:
			bits = EVP_PKEY_get_bits(cur);
			if (bits > ROTATE_RSA_MAX_BITS)
				return fa_err_set(err, FA_EUNSUPPORTED, "%s is RSA-%d; name the new "
						  "key's algorithm", cur_name, bits);
			*out = EVP_RSA_gen((unsigned)(bits < FA_SECRET_RSA_BITS ?
						      FA_SECRET_RSA_BITS : bits));
			break;
		case EVP_PKEY_EC:
			if (EVP_PKEY_get_utf8_string_param(cur, OSSL_PKEY_PARAM_GROUP_NAME, curve,
							   sizeof(curve), NULL) != 1)
				return fa_err_set(err, FA_EUNSUPPORTED, "%s: unknown EC curve; name "
						  "the new key's algorithm", cur_name);
			*out = EVP_EC_gen(curve);
			break;
		case EVP_PKEY_ED25519:
			*out = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
			break;
		default:
			return fa_err_set(err, FA_EUNSUPPORTED, "%s holds a %s key, which flyteauth "
					  "does not sign with; name the new key's algorithm",
					  cur_name, EVP_PKEY_get0_type_name(cur));
		}
		break;
	}
	if (*out == NULL)
		return fa_err_set(err, FA_ECRYPTO, "key generation failed");
	return FA_OK;
}

static bool exists(int dirfd, const char *name)
{
	struct stat st;

	/* A dangling symlink counts: the name is taken. */
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Loads and checks the current key; for ONCE and STAGE also makes the new
 * one into `fresh`. */
static enum fa_rc prepare(const struct fa_secret_rotation *r, int dirfd,
			  struct fa_secret_file *cur, struct fa_secret_file *old,
			  struct fa_secret_file *fresh, struct fa_err *err)
{
	EVP_PKEY *k = NULL, *n = NULL;
	enum fa_rc rc;

	rc = read_key(dirfd, r->dir, cur->name, cur, err);
	if (rc == FA_ENOTFOUND)
		return fa_err_set(err, FA_ENOTFOUND, "%s/%s does not exist: there is no key to "
				  "rotate (create one with `flyteauth secrets init`)", r->dir,
				  cur->name);
	if (rc == FA_OK)
		rc = parse_key(r->dir, cur, &k, err);
	if (rc != FA_OK)
		goto out;
	if (r->step == FA_SECRET_ROTATE_PROMOTE) {
		rc = read_key(dirfd, r->dir, old->name, old, err);
		if (rc == FA_ENOTFOUND)
			rc = fa_err_set(err, FA_ENOTFOUND, "%s/%s does not exist: nothing is "
					"staged to promote (run --stage first)", r->dir, old->name);
		if (rc == FA_OK)
			rc = parse_key(r->dir, old, &n, err);
		goto out;
	}
	if (!r->force && exists(dirfd, old->name)) {
		rc = fa_err_set(err, FA_EEXIST, "%s/%s exists; tokens signed with it may still be "
				"live", r->dir, old->name);
		goto out;
	}
	rc = new_key(r->type, k, cur->name, &n, err);
	if (rc == FA_OK)
		rc = fa_secret_pem_encode(n, fresh, err);
out:
	EVP_PKEY_free(k);
	EVP_PKEY_free(n);
	return rc;
}

static enum fa_rc check_names(const struct fa_secret_rotation *r, struct fa_err *err)
{
	struct fa_err e;

	fa_err_clear(&e);
	if (r->dir == NULL || r->dir[0] == '\0')
		return fa_err_set(err, FA_EINVAL, "no directory given");
	if (fa_secret_name_verify(r->key_name, &e) != FA_OK ||
	    fa_secret_name_verify(r->old_name, &e) != FA_OK)
		return fa_err_set(err, FA_EINVAL, "%s", e.msg);
	if (strcmp(r->key_name, r->old_name) == 0)
		return fa_err_set(err, FA_EINVAL, "the current and the old key have the same "
				  "name, %s", r->key_name);
	return FA_OK;
}

enum fa_rc fa_secret_rotate(const struct fa_secret_rotation *req, struct fa_err *err)
{
	struct fa_secret_rotation r = *req;
	struct fa_secret_file cur, old, fresh;
	/* What goes where: `to_old` into the old slot, `to_cur` (or nothing)
	 * into the current one. */
	struct fa_secret_file *to_old = NULL, *to_cur = NULL;
	bool old_created = false;
	enum fa_rc rc;
	int dirfd = -1;

	memset(&cur, 0, sizeof(cur));
	memset(&old, 0, sizeof(old));
	memset(&fresh, 0, sizeof(fresh));
	if (r.key_name == NULL)
		r.key_name = FA_SECRET_TOKEN_RSA_KEY;
	if (r.old_name == NULL)
		r.old_name = FA_SECRET_TOKEN_RSA_KEY_OLD;
	rc = check_names(&r, err);
	if (rc != FA_OK)
		return rc;
	/* The temp files are named after the slot they go to. */
	cur.name = r.key_name;
	old.name = r.old_name;
	rc = fa_secret_dir_open(r.dir, &dirfd, err);
	if (rc == FA_OK)
		rc = prepare(&r, dirfd, &cur, &old, &fresh, err);
	if (rc != FA_OK)
		goto out;

	switch (r.step) {
	case FA_SECRET_ROTATE_ONCE:
		fresh.name = r.key_name;
		cur.name = r.old_name;
		to_old = &cur;
		to_cur = &fresh;
		break;
	case FA_SECRET_ROTATE_STAGE:
		fresh.name = r.old_name;
		to_old = &fresh;
		break;
	case FA_SECRET_ROTATE_PROMOTE:
		cur.name = r.old_name;
		old.name = r.key_name;
		to_old = &cur;
		to_cur = &old;
		break;
	}
	rc = fa_secret_file_write_temp(dirfd, r.dir, to_old, err);
	if (rc == FA_OK && to_cur != NULL)
		rc = fa_secret_file_write_temp(dirfd, r.dir, to_cur, err);
	if (rc != FA_OK)
		goto out;
	/* Invariant (2): the old slot first. PROMOTE replaces it by design. */
	old_created = !exists(dirfd, r.old_name);
	rc = fa_secret_file_install(dirfd, r.dir, to_old,
				    r.force || r.step == FA_SECRET_ROTATE_PROMOTE, err);
	if (rc != FA_OK) {
		old_created = false;
		goto out;
	}
	if (to_cur != NULL)
		rc = fa_secret_file_install(dirfd, r.dir, to_cur, true, err);
	if (rc == FA_OK && fsync(dirfd) != 0)
		rc = fa_err_set(err, FA_EIO, "cannot sync directory %s: %s", r.dir,
				strerror(errno));
	if (rc != FA_OK && old_created)
		(void)unlinkat(dirfd, r.old_name, 0);
out:
	fa_secret_file_cleanup(dirfd, &cur);
	fa_secret_file_cleanup(dirfd, &old);
	fa_secret_file_cleanup(dirfd, &fresh);
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}
