/* lookup.c -- finding a secret by name: the configuration's inline map,
 * then the environment, then a file under the secrets directory, in the
 * order and with the names flytestdlib's FileEnvSecretManager uses (env var
 * `<env-prefix><name>` with the name as-is, file `<secrets-prefix>/<name>`);
 * and decoding the base64 symmetric keys that flyteadmin keeps there.
 *
 * It does not cache, log, or interpret a secret beyond trimming one trailing
 * newline. Unlike flyteadmin (which logs a found env secret at debug level),
 * nothing here ever writes a value anywhere: messages name the places tried.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secrets/secrets.h"

enum fa_rc fa_secret_name_verify(const char *name, struct fa_err *err)
{
	size_t n;

	if (name == NULL || name[0] == '\0')
		return fa_err_set(err, FA_EINVAL, "secret name is empty");
	n = strnlen(name, FA_MAX_SECRET_NAME + 1);
	if (n > FA_MAX_SECRET_NAME)
		return fa_err_set(err, FA_EINVAL, "secret name is longer than %d characters",
				  FA_MAX_SECRET_NAME);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (!ok)
			return fa_err_set(err, FA_EINVAL,
					  "secret name has a character outside [-._a-zA-Z0-9] at "
					  "offset %zu", i);
	}
	/* "." and ".." name directories; any ".." is refused outright so no
	 * later path joining can ever turn a name into a parent reference. */
	if (strcmp(name, ".") == 0 || strstr(name, "..") != NULL)
		return fa_err_set(err, FA_EINVAL, "secret name \"%s\" is not a file name", name);
	return FA_OK;
}

/* Removes exactly one trailing "\n" or "\r\n": what `echo` or an editor
 * adds to a file. More than one is kept, as the value then means it. */
static size_t trim_newline(const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '\n') {
		n--;
		if (n > 0 && s[n - 1] == '\r')
			n--;
	}
	return n;
}

/* Validates and copies a found value. `where` describes the place for
 * messages ("env FLYTE_SECRET_x", "file /etc/secrets/x"). An empty value
 * is FA_ENOTFOUND for an `optional` secret, else FA_EINVAL. */
static enum fa_rc take_value(const char *name, const char *where, const char *v, size_t n,
			     bool optional, char **out, size_t *len, struct fa_err *err)
{
	n = trim_newline(v, n);
	if (n > FA_MAX_SECRET)
		return fa_err_set(err, FA_ETOOBIG, "secret %s (%s) is larger than %d bytes", name,
				  where, FA_MAX_SECRET);
	if (n == 0)
		return fa_err_set(err, optional ? FA_ENOTFOUND : FA_EINVAL,
				  "secret %s (%s) is empty", name, where);
	if (memchr(v, '\0', n) != NULL)
		return fa_err_set(err, FA_EINVAL, "secret %s (%s) contains a NUL byte", name,
				  where);
	*out = fa_strndup(v, n);
	if (*out == NULL)
		return fa_err_set(err, FA_ENOMEM, "out of memory reading secret %s", name);
	if (len != NULL)
		*len = n;
	return FA_OK;
}

/* Reads a regular file of at most FA_MAX_SECRET (+2 for a trailing CRLF)
 * bytes. FA_ENOTFOUND with *exists false when it does not exist (err
 * untouched: the caller names every place it tried). */
static enum fa_rc read_file(const char *name, const char *path, bool optional, char **out,
			    size_t *len, bool *exists, struct fa_err *err)
{
	/* The largest acceptable content: a value and its CRLF. */
	const size_t max = (size_t)FA_MAX_SECRET + 2;
	enum fa_rc rc = FA_OK;
	char *buf = NULL;
	size_t n = 0;
	struct stat st;
	int fd, e = 0;

	/* Symlinks are followed on purpose: Kubernetes mounts a Secret's keys as
	 * links into a ..data directory. O_NONBLOCK keeps a FIFO from hanging
	 * start-up before fstat refuses it. */
	*exists = true;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			*exists = false;
			return FA_ENOTFOUND;
		}
		return fa_err_set(err, FA_EIO, "secret %s: cannot open file %s: %s", name, path,
				  strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = fa_err_set(err, FA_EIO, "secret %s: %s is not a regular file", name, path);
		goto out;
	}
	/* fstat's size spares reading a huge file; fa_fd_read still stops one
	 * byte past max, as the file may grow in between. */
	rc = st.st_size > (off_t)max ? FA_ETOOBIG : fa_fd_read(fd, max, &buf, &n, &e);
	if (rc == FA_ETOOBIG) {
		rc = fa_err_set(err, FA_ETOOBIG, "secret %s (file %s) is larger than %d bytes",
				name, path, FA_MAX_SECRET);
		goto out;
	}
	if (rc == FA_EIO) {
		rc = fa_err_set(err, FA_EIO, "secret %s: cannot read file %s: %s", name, path,
				strerror(e));
		goto out;
	}
	if (rc != FA_OK) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory reading secret %s", name);
		goto out;
	}
	{
		char where[PATH_MAX + 8];
		int w = snprintf(where, sizeof(where), "file %s", path);
		if (w < 0 || (size_t)w >= sizeof(where)) {
			rc = fa_err_set(err, FA_EINVAL, "secret %s: path too long", name);
			goto out;
		}
		rc = take_value(name, where, buf, n, optional, out, len, err);
	}
out:
	if (buf != NULL) {
		fa_memzero(buf, n);
		free(buf);
	}
	close(fd);
	return rc;
}

static const char *inline_value(const struct fa_secret_source *src, const char *name)
{
	if (src == NULL || src->inline_secrets == NULL)
		return NULL;
	for (size_t i = 0; i < src->n_inline; i++) {
		const struct fa_secret_inline *e = &src->inline_secrets[i];
		if (e->name != NULL && e->value != NULL && strcmp(e->name, name) == 0)
			return e->value;
	}
	return NULL;
}

static enum fa_rc lookup(const struct fa_secret_source *src, const char *name, bool optional,
			 char **out, size_t *len, enum fa_secret_origin *origin,
			 struct fa_err *err)
{
	const char *env_prefix = FA_SECRET_DEFAULT_ENV_PREFIX;
	const char *dir = FA_SECRET_DEFAULT_PREFIX;
	char envname[FA_MAX_SECRET_ENV_PREFIX + FA_MAX_SECRET_NAME + 1];
	char path[PATH_MAX];
	const char *v;
	size_t dirlen;
	bool exists;
	enum fa_rc rc;
	int w;

	if (out == NULL)
		return fa_err_set(err, FA_EINVAL, "fa_secret_get: no output");
	*out = NULL;
	rc = fa_secret_name_verify(name, err);
	if (rc != FA_OK)
		return rc;
	if (src != NULL && src->env_prefix != NULL)
		env_prefix = src->env_prefix;
	if (src != NULL && src->secrets_prefix != NULL)
		dir = src->secrets_prefix;
	if (strnlen(env_prefix, FA_MAX_SECRET_ENV_PREFIX + 1) > FA_MAX_SECRET_ENV_PREFIX ||
	    strchr(env_prefix, '=') != NULL)
		return fa_err_set(err, FA_EINVAL, "secrets env-prefix is longer than %d "
				  "characters or contains '='", FA_MAX_SECRET_ENV_PREFIX);
	if (dir[0] == '\0')
		return fa_err_set(err, FA_EINVAL, "secrets secrets-prefix is empty");

	v = inline_value(src, name);
	if (v != NULL) {
		size_t n = strnlen(v, (size_t)FA_MAX_SECRET + 3);
		rc = take_value(name, "inline", v, n, optional, out, len, err);
		if (rc == FA_OK && origin != NULL)
			*origin = FA_SECRET_FROM_INLINE;
		return rc;
	}

	w = snprintf(envname, sizeof(envname), "%s%s", env_prefix, name);
	if (w < 0 || (size_t)w >= sizeof(envname))
		return fa_err_set(err, FA_EINVAL, "secret %s: env var name too long", name);
	/* As Go's os.LookupEnv: a variable that is set wins even when empty
	 * (and is then refused as empty rather than silently skipped). */
	v = getenv(envname);
	if (v != NULL) {
		char where[sizeof(envname) + 8];
		size_t n = strnlen(v, (size_t)FA_MAX_SECRET + 3);
		w = snprintf(where, sizeof(where), "env %s", envname);
		if (w < 0 || (size_t)w >= sizeof(where))
			return fa_err_set(err, FA_EINVAL, "secret %s: env var name too long", name);
		rc = take_value(name, where, v, n, optional, out, len, err);
		if (rc == FA_OK && origin != NULL)
			*origin = FA_SECRET_FROM_ENV;
		return rc;
	}

	dirlen = strlen(dir);
	while (dirlen > 1 && dir[dirlen - 1] == '/')
		dirlen--;
	w = snprintf(path, sizeof(path), "%.*s/%s", (int)dirlen, dir, name);
	if (w < 0 || (size_t)w >= sizeof(path))
		return fa_err_set(err, FA_EINVAL, "secret %s: secrets-prefix path too long", name);
	if (dirlen == 1 && dir[0] == '/')
		memmove(path, path + 1, strlen(path)); /* "//name" -> "/name" */
	rc = read_file(name, path, optional, out, len, &exists, err);
	if (!exists)
		return fa_err_set(err, FA_ENOTFOUND, "secret %s not found (tried env %s, file %s)",
				  name, envname, path);
	if (rc == FA_OK && origin != NULL)
		*origin = FA_SECRET_FROM_FILE;
	return rc;
}

enum fa_rc fa_secret_get(const struct fa_secret_source *src, const char *name, char **out,
			 size_t *len, enum fa_secret_origin *origin, struct fa_err *err)
{
	return lookup(src, name, false, out, len, origin, err);
}

enum fa_rc fa_secret_get_optional(const struct fa_secret_source *src, const char *name,
				  char **out, size_t *len, struct fa_err *err)
{
	return lookup(src, name, true, out, len, NULL, err);
}

enum fa_rc fa_secret_key_decode(const char *name, const char *value, size_t len,
				unsigned char *out, size_t want, struct fa_err *err)
{
	/* Room for one byte more than wanted, so a longer key is detected. */
	unsigned char buf[FA_SECRET_COOKIE_HASH_KEY_LEN * 2 + 1];
	enum fa_rc rc = FA_OK;
	size_t got = 0;

	if (name == NULL)
		name = "key";
	if (out == NULL || want == 0 || want >= sizeof(buf))
		return fa_err_set(err, FA_EINVAL, "secret %s: unsupported key length %zu", name,
				  want);
	fa_memzero(out, want);
	if (value == NULL || len == 0)
		return fa_err_set(err, FA_EINVAL, "secret %s is empty", name);
	if (len > fa_b64_encoded_size(sizeof(buf) - 1, FA_B64_STD)) {
		rc = fa_err_set(err, FA_EINVAL, "secret %s is not a %zu-byte base64 key (too long)",
				name, want);
		goto out;
	}
	/* flyteadmin writes unpadded standard base64; operators also paste
	 * padded or URL-safe keys from other tools. */
	if (fa_b64_decode(value, len, FA_B64_STD, buf, sizeof(buf), &got) != FA_OK &&
	    fa_b64_decode(value, len, FA_B64_URL, buf, sizeof(buf), &got) != FA_OK) {
		rc = fa_err_set(err, FA_EINVAL, "secret %s is not valid base64", name);
		goto out;
	}
	if (got != want) {
		rc = fa_err_set(err, FA_EINVAL, "secret %s decodes to %zu bytes, expected %zu "
				"(generate it with `flyteauth secrets init`)", name, got, want);
		goto out;
	}
	memcpy(out, buf, want);
out:
	fa_memzero(buf, sizeof(buf));
	return rc;
}

enum fa_rc fa_secret_get_key(const struct fa_secret_source *src, const char *name,
			     unsigned char *out, size_t want, struct fa_err *err)
{
	char *v = NULL;
	size_t n = 0;
	enum fa_rc rc;

	rc = fa_secret_get(src, name, &v, &n, NULL, err);
	if (rc != FA_OK)
		goto out;
	rc = fa_secret_key_decode(name, v, n, out, want, err);
out:
	fa_free_secret(v);
	return rc;
}
