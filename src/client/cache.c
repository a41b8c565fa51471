/* cache.c -- the token cache: one JSON file per endpoint under
 * $XDG_CACHE_HOME/flyteauth (else ~/.cache/flyteauth), named by the
 * SHA-256 of the endpoint URL, holding the tokens and what they are bound
 * to (endpoint, auth type, client id, token URL). It needs no desktop
 * keyring, so it works on servers and in containers.
 *
 * Invariants:
 *   (1) The file is mode 0600 in a directory only its owner can write; a
 *       file that others can read or that another user owns is refused.
 *   (2) The file is replaced, never rewritten in place: a temp file in the
 *       same directory is written, fsync'ed and renamed over it, so a
 *       reader sees the old or the new tokens, never a mix.
 *   (3) Every read-refresh-write happens under flock() on "<file>.lock", so
 *       parallel processes refresh once. Only logout deletes the lock file,
 *       while holding it; a process that then gets the lock checks that it
 *       locked the file the path still names, and otherwise locks again,
 *       so two processes never both hold "the" lock.
 *   (4) Nothing here deletes a token except cl_cache_delete (logout).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/client_int.h"

/* How often a waiting process retries the lock. */
#define LOCK_POLL_MS 20
/* Cache file format; bumped when a field changes meaning. */
#define CACHE_VERSION 1
/* An access token this close to expiry is not handed out: it could die on
 * the way to the server. */
#define EXPIRY_SKEW_S 10

enum fa_rc cl_cache_dir(const char *given, char *out, size_t cap, struct fa_err *err)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int w;

	if (given && *given)
		w = snprintf(out, cap, "%s", given);
	else if (xdg && xdg[0] == '/')    /* XDG: relative paths are ignored */
		w = snprintf(out, cap, "%s/flyteauth", xdg);
	else if (home && home[0] == '/')
		w = snprintf(out, cap, "%s/.cache/flyteauth", home);
	else
		return fa_err_set(err, FA_ECONFIG, "no cache directory: set HOME or XDG_CACHE_HOME");
	if (w < 0 || (size_t)w >= cap)
		return fa_err_set(err, FA_ETOOBIG, "the cache directory path is too long");
	return FA_OK;
}

enum fa_rc cl_cache_path(const char *dir, const char *endpoint, char *out, size_t cap,
			 struct fa_err *err)
{
	char hex[2 * FA_SHA256_LEN + 1];
	int w;

	if (fa_sha256_hex(endpoint, strlen(endpoint), hex) != FA_OK)
		return fa_err_set(err, FA_ECRYPTO, "cannot name the cache file");
	w = snprintf(out, cap, "%s/%s.json", dir, hex);
	if (w < 0 || (size_t)w >= cap)
		return fa_err_set(err, FA_ETOOBIG, "the cache path is too long");
	return FA_OK;
}

static enum fa_rc check_dir(const char *dir, struct fa_err *err)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return fa_err_set(err, FA_EIO, "cache directory %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fa_err_set(err, FA_EIO, "cache directory %s is not a directory", dir);
	if (st.st_uid != geteuid())
		return fa_err_set(err, FA_EDENIED, "cache directory %s belongs to another user", dir);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return fa_err_set(err, FA_EDENIED, "cache directory %s is writable by others; "
				  "run chmod 700 on it", dir);
	return FA_OK;
}

enum fa_rc cl_cache_prepare(const char *dir, struct fa_err *err)
{
	char path[1024];
	int w = snprintf(path, sizeof(path), "%s", dir);

	if (w < 0 || (size_t)w >= sizeof(path))
		return fa_err_set(err, FA_ETOOBIG, "the cache directory path is too long");
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			int e = errno;
			*p = '/';
			return fa_err_set(err, FA_EIO, "cannot create %s: %s", dir, strerror(e));
		}
		*p = '/';
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return fa_err_set(err, FA_EIO, "cannot create %s: %s", dir, strerror(errno));
	return check_dir(dir, err);
}

enum fa_rc cl_cache_lock(const char *path, int64_t timeout_ms, int *fd, struct fa_err *err)
{
	char lock[1100];
	int64_t deadline = fa_mono_ms() + timeout_ms;
	int w = snprintf(lock, sizeof(lock), "%s.lock", path);

	*fd = -1;
	if (w < 0 || (size_t)w >= sizeof(lock))
		return fa_err_set(err, FA_ETOOBIG, "the cache path is too long");
	for (;;) {
		struct timespec ts = { 0, LOCK_POLL_MS * 1000000L };
		struct stat held, named;

		if (*fd < 0)
			*fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (*fd < 0)
			return fa_err_set(err, FA_EIO, "cannot open %s: %s", lock, strerror(errno));
		if (flock(*fd, LOCK_EX | LOCK_NB) == 0) {
			if (fstat(*fd, &held) == 0 && lstat(lock, &named) == 0 &&
			    held.st_ino == named.st_ino && held.st_dev == named.st_dev)
				return FA_OK;
			/* A logout deleted the file we waited on: lock the new one. */
			close(*fd);
			*fd = -1;
			continue;
		}
		if (errno != EWOULDBLOCK && errno != EINTR) {
			int e = errno;
			close(*fd);
			*fd = -1;
			return fa_err_set(err, FA_EIO, "cannot lock %s: %s", lock, strerror(e));
		}
		if (fa_mono_ms() >= deadline) {
			close(*fd);
			*fd = -1;
			return fa_err_set(err, FA_ECONFLICT, "another flyteauth process (a login, or "
					  "a refresh of the same endpoint's token) still holds %s", lock);
		}
		nanosleep(&ts, NULL);
	}
}

void cl_cache_unlock(int fd)
{
	if (fd >= 0) {
		flock(fd, LOCK_UN);
		close(fd);
	}
}

/* ---- reading ---------------------------------------------------------------------------- */

static enum fa_rc get_str(const json_t *j, const char *name, bool required, char **out)
{
	const json_t *v = json_object_get(j, name);

	if (!v)
		return required ? FA_EINVAL : cl_strset(out, "");
	if (!json_is_string(v) || json_string_length(v) > FA_MAX_TOKEN ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return FA_EINVAL;
	return cl_strset(out, json_string_value(v));
}

static enum fa_rc get_int(const json_t *j, const char *name, int64_t *out)
{
	const json_t *v = json_object_get(j, name);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return FA_EINVAL;
	*out = (int64_t)json_integer_value(v);
	return FA_OK;
}

static enum fa_rc token_from_json(const json_t *j, struct cl_token *t)
{
	const json_t *ver = json_object_get(j, "version");
	const char *at = json_string_value(json_object_get(j, "auth_type"));
	enum fa_rc rc;

	if (!json_is_integer(ver) || json_integer_value(ver) != CACHE_VERSION || !at ||
	    fa_client_auth_type_parse(at, &t->auth_type, NULL) != FA_OK)
		return FA_EINVAL;
	rc = get_str(j, "endpoint", true, &t->endpoint);
	if (rc == FA_OK)
		rc = get_str(j, "client_id", true, &t->client_id);
	if (rc == FA_OK)
		rc = get_str(j, "token_url", false, &t->token_url);
	if (rc == FA_OK)
		rc = get_str(j, "revocation_url", false, &t->revocation_url);
	if (rc == FA_OK)
		rc = get_str(j, "header", false, &t->header);
	if (rc == FA_OK)
		rc = get_str(j, "access_token", true, &t->access_token);
	if (rc == FA_OK)
		rc = get_str(j, "token_type", false, &t->token_type);
	if (rc == FA_OK)
		rc = get_str(j, "refresh_token", false, &t->refresh_token);
	if (rc == FA_OK)
		rc = get_str(j, "scope", false, &t->scope);
	if (rc == FA_OK)
		rc = get_int(j, "expires_at", &t->expires_at);
	if (rc == FA_OK)
		rc = get_int(j, "obtained_at", &t->obtained_at);
	return rc;
}

enum fa_rc cl_cache_read(const char *path, struct cl_token *t, struct fa_err *err)
{
	char *data = NULL;
	size_t len = 0;
	struct stat st;
	json_t *j = NULL;
	int fd, e = 0;
	enum fa_rc rc = FA_OK;

	cl_token_init(t);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return fa_err_set(err, FA_ENOTFOUND, "no cached token");
		return fa_err_set(err, FA_EIO, "cannot open %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = fa_err_set(err, FA_EIO, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077)) {
		rc = fa_err_set(err, FA_EDENIED, "%s is readable by others or not yours; refusing "
				"it (delete it and log in again)", path);
		goto out;
	}
	if (st.st_size > CL_MAX_CACHE_FILE) {
		rc = fa_err_set(err, FA_ETOOBIG, "%s is larger than %d bytes", path, CL_MAX_CACHE_FILE);
		goto out;
	}
	rc = fa_fd_read(fd, CL_MAX_CACHE_FILE, &data, &len, &e);
	if (rc != FA_OK) {
		rc = rc == FA_ETOOBIG ? fa_err_set(err, rc, "%s is larger than %d bytes", path,
						   CL_MAX_CACHE_FILE)
		   : rc == FA_EIO ? fa_err_set(err, rc, "cannot read %s: %s", path, strerror(e))
		   : fa_err_set(err, rc, "out of memory");
		goto out;
	}
	if (fa_json_load(data, len, "cache", &j, NULL) != FA_OK || token_from_json(j, t) != FA_OK) {
		cl_token_cleanup(t);
		rc = fa_err_set(err, FA_EINVAL, "%s is not a flyteauth token cache file", path);
	}
out:
	json_decref(j);      /* jansson does not zero its strings; the file is 0600 anyway */
	if (data)
		fa_memzero(data, len);
	free(data);
	close(fd);
	return rc;
}

/* ---- writing ---------------------------------------------------------------------------- */

static json_t *token_to_json(const struct cl_token *t)
{
	json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}",
			      "version", CACHE_VERSION,
			      "endpoint", t->endpoint ? t->endpoint : "",
			      "auth_type", fa_client_auth_type_str(t->auth_type),
			      "client_id", t->client_id ? t->client_id : "",
			      "token_url", t->token_url ? t->token_url : "",
			      "revocation_url", t->revocation_url ? t->revocation_url : "",
			      "header", t->header ? t->header : "",
			      "access_token", t->access_token ? t->access_token : "",
			      "token_type", t->token_type ? t->token_type : "",
			      "refresh_token", t->refresh_token ? t->refresh_token : "",
			      "scope", t->scope ? t->scope : "",
			      "expires_at", (json_int_t)t->expires_at,
			      "obtained_at", (json_int_t)t->obtained_at);
	return j;
}

enum fa_rc cl_cache_write(const char *path, const struct cl_token *t, struct fa_err *err)
{
	char tmp[1100];
	char *text = NULL;
	json_t *j = NULL;
	int fd = -1, w;
	bool created = false;
	enum fa_rc rc = FA_OK;

	w = snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if (w < 0 || (size_t)w >= sizeof(tmp))
		return fa_err_set(err, FA_ETOOBIG, "the cache path is too long");
	j = token_to_json(t);
	text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	if (!text) {
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);      /* created 0600 */
	if (fd < 0) {
		rc = fa_err_set(err, FA_EIO, "cannot write the token cache in %s: %s", path,
				strerror(errno));
		goto out;
	}
	created = true;
	if (fchmod(fd, 0600) != 0 || fa_fd_write_all(fd, text, strlen(text)) != FA_OK ||
	    fa_fd_write_all(fd, "\n", 1) != FA_OK || fsync(fd) != 0) {
		rc = fa_err_set(err, FA_EIO, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = fa_err_set(err, FA_EIO, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = fa_err_set(err, FA_EIO, "cannot replace %s: %s", path, strerror(errno));
		goto out;
	}
	created = false;
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	if (text) {
		fa_memzero(text, strlen(text));
		free(text);
	}
	json_decref(j);
	return rc;
}

enum fa_rc cl_cache_delete(const char *path, struct fa_err *err)
{
	char lock[1100];
	int w = snprintf(lock, sizeof(lock), "%s.lock", path);

	if (unlink(path) != 0 && errno != ENOENT)
		return fa_err_set(err, FA_EIO, "cannot delete %s: %s", path, strerror(errno));
	/* Safe under the lock: see (3) above. */
	if (w > 0 && (size_t)w < sizeof(lock) && unlink(lock) != 0 && errno != ENOENT)
		return fa_err_set(err, FA_EIO, "cannot delete %s: %s", lock, strerror(errno));
	return FA_OK;
}

bool cl_token_needs_refresh(const struct cl_token *t, int64_t now, int64_t window_s)
{
	int64_t margin = window_s;

	if (t->obtained_at > 0 && t->expires_at > t->obtained_at &&
	    (t->expires_at - t->obtained_at) / 2 < margin)
		margin = (t->expires_at - t->obtained_at) / 2;
	return now >= t->expires_at - margin;
}

bool cl_token_expired(const struct cl_token *t, int64_t now)
{
	return now + EXPIRY_SKEW_S >= t->expires_at;
}
