/* test_client_cache.c -- the token cache: where it lives, the 0600 file
 * written atomically (no temp file left, a new inode each time, readers
 * see whole files), files refused when others can read them, symlinks or
 * garbage, the lock that makes parallel processes wait (and time out), the
 * refresh window, JWT exp decoding without verification, and the
 * binding of a cached token to its endpoint (test_token_other_endpoint). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/client_int.h"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fa-cache-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void fill(struct cl_token *t, const char *access)
{
	cl_token_init(t);
	assert_int_equal(cl_strset(&t->endpoint, "https://flyte.example.com"), FA_OK);
	t->auth_type = FA_CLIENT_AUTH_PKCE;
	assert_int_equal(cl_strset(&t->client_id, "flytectl"), FA_OK);
	assert_int_equal(cl_strset(&t->token_url, "https://flyte.example.com/oauth2/token"), FA_OK);
	assert_int_equal(cl_strset(&t->revocation_url, ""), FA_OK);
	assert_int_equal(cl_strset(&t->header, "flyte-authorization"), FA_OK);
	assert_int_equal(cl_strset(&t->access_token, access), FA_OK);
	assert_int_equal(cl_strset(&t->token_type, "bearer"), FA_OK);
	assert_int_equal(cl_strset(&t->refresh_token, "refresh-1"), FA_OK);
	assert_int_equal(cl_strset(&t->scope, "all offline"), FA_OK);
	t->obtained_at = 1000;
	t->expires_at = 2800;
}

static void test_cache_dir(void **state)
{
	char out[256];
	struct fa_err err;

	(void)state;
	setenv("HOME", "/home/u", 1);
	setenv("XDG_CACHE_HOME", "/var/cache/u", 1);
	assert_int_equal(cl_cache_dir(NULL, out, sizeof(out), &err), FA_OK);
	assert_string_equal(out, "/var/cache/u/flyteauth");
	setenv("XDG_CACHE_HOME", "relative/cache", 1);    /* ignored, per XDG */
	assert_int_equal(cl_cache_dir(NULL, out, sizeof(out), &err), FA_OK);
	assert_string_equal(out, "/home/u/.cache/flyteauth");
	unsetenv("XDG_CACHE_HOME");
	assert_int_equal(cl_cache_dir(NULL, out, sizeof(out), &err), FA_OK);
	assert_string_equal(out, "/home/u/.cache/flyteauth");
	assert_int_equal(cl_cache_dir("/given", out, sizeof(out), &err), FA_OK);
	assert_string_equal(out, "/given");
	unsetenv("HOME");
	assert_int_equal(cl_cache_dir(NULL, out, sizeof(out), &err), FA_ECONFIG);
	assert_string_equal(err.msg, "no cache directory: set HOME or XDG_CACHE_HOME");
	assert_int_equal(cl_cache_dir(NULL, out, 4, &err), FA_ECONFIG);
	setenv("HOME", "/home/u", 1);
	assert_int_equal(cl_cache_dir(NULL, out, 8, &err), FA_ETOOBIG);
}

/* test_token_other_endpoint: each endpoint has its own file, so a token is
 * never read for another endpoint. */
static void test_cache_path_per_endpoint(void **state)
{
	char a[512], b[512], c2[512];
	struct fa_err err;

	(void)state;
	assert_int_equal(cl_cache_path("/d", "https://a.example.com", a, sizeof(a), &err), FA_OK);
	assert_int_equal(cl_cache_path("/d", "https://b.example.com", b, sizeof(b), &err), FA_OK);
	assert_int_equal(cl_cache_path("/d", "https://a.example.com", c2, sizeof(c2), &err), FA_OK);
	assert_string_not_equal(a, b);
	assert_string_equal(a, c2);
	assert_int_equal(strlen(a), strlen("/d/") + 64 + strlen(".json"));
	assert_int_equal(strncmp(a, "/d/", 3), 0);
}

static void test_prepare_dir(void **state)
{
	char dir[256];
	struct fa_err err;
	struct stat st;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/x/y/flyteauth", tmpdir);
	assert_int_equal(cl_cache_prepare(dir, &err), FA_OK);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(cl_cache_prepare(dir, &err), FA_EDENIED);
	assert_non_null(strstr(err.msg, "is writable by others; run chmod 700 on it"));
	assert_int_equal(chmod(dir, 0700), 0);
}

static void test_write_read_atomic(void **state)
{
	char dir[256], path[512], tmpcheck[600];
	struct cl_token t, r;
	struct fa_err err;
	struct stat st1, st2;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/c1", tmpdir);
	assert_int_equal(cl_cache_prepare(dir, &err), FA_OK);
	assert_int_equal(cl_cache_path(dir, "https://flyte.example.com", path, sizeof(path), &err),
			 FA_OK);
	assert_int_equal(cl_cache_read(path, &r, &err), FA_ENOTFOUND);
	fill(&t, "access-1");
	assert_int_equal(cl_cache_write(path, &t, &err), FA_OK);
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_mode & 0777, 0600);
	assert_int_equal(cl_cache_read(path, &r, &err), FA_OK);
	assert_string_equal(r.endpoint, "https://flyte.example.com");
	assert_int_equal(r.auth_type, FA_CLIENT_AUTH_PKCE);
	assert_string_equal(r.client_id, "flytectl");
	assert_string_equal(r.header, "flyte-authorization");
	assert_string_equal(r.access_token, "access-1");
	assert_string_equal(r.refresh_token, "refresh-1");
	assert_string_equal(r.scope, "all offline");
	assert_true(r.expires_at == 2800 && r.obtained_at == 1000);
	cl_token_cleanup(&r);
	/* Replaced, not rewritten: a new inode, and no temp file left. */
	assert_int_equal(cl_strset(&t.access_token, "access-2"), FA_OK);
	assert_int_equal(cl_cache_write(path, &t, &err), FA_OK);
	assert_int_equal(stat(path, &st2), 0);
	assert_true(st1.st_ino != st2.st_ino);
	snprintf(tmpcheck, sizeof(tmpcheck), "ls -A '%s' | grep -v -e '\\.json$' -e '\\.lock$' | "
		 "grep -q .", dir);
	assert_int_not_equal(system(tmpcheck), 0);
	assert_int_equal(cl_cache_read(path, &r, &err), FA_OK);
	assert_string_equal(r.access_token, "access-2");
	cl_token_cleanup(&r);
	assert_int_equal(cl_cache_delete(path, &err), FA_OK);
	assert_int_equal(cl_cache_read(path, &r, &err), FA_ENOTFOUND);
	assert_int_equal(cl_cache_delete(path, &err), FA_OK);
	cl_token_cleanup(&t);
}

/* Forks a process that takes the lock of path, says so on the pipe, holds
 * it hold_ms, then (with logout) deletes the cache as logout does, and
 * lets go. Returns once the child holds the lock. */
static pid_t lock_elsewhere(const char *path, int hold_ms, bool logout, int pipefd[2])
{
	pid_t pid;
	char ch;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int cfd;
		struct fa_err e;
		if (cl_cache_lock(path, 1000, &cfd, &e) != FA_OK)
			_exit(1);
		(void)!write(pipefd[1], "L", 1);
		usleep((useconds_t)hold_ms * 1000);
		if (logout && cl_cache_delete(path, &e) != FA_OK)
			_exit(2);
		cl_cache_unlock(cfd);
		_exit(0);
	}
	assert_int_equal(read(pipefd[0], &ch, 1), 1);
	return pid;
}

/* Logout deletes the lock file while holding it. A process that waited on
 * the deleted file must not count it as the lock: it locks the file the
 * path names now, so it and a newcomer never both hold the lock. */
static void test_lock_survives_deleted_lock_file(void **state)
{
	char path[128], lock[140];
	struct stat held, named;
	struct fa_err err;
	int fd = -1, fd2 = -1, pipefd[2];
	pid_t pid;

	(void)state;
	snprintf(path, sizeof(path), "%s/deleted.json", tmpdir);
	snprintf(lock, sizeof(lock), "%s.lock", path);
	/* logout elsewhere: tokens and lock file gone, then the lock let go */
	pid = lock_elsewhere(path, 300, true, pipefd);
	assert_int_equal(cl_cache_lock(path, 5000, &fd, &err), FA_OK);
	/* What we hold is the file the path names. */
	assert_int_equal(fstat(fd, &held), 0);
	assert_int_equal(lstat(lock, &named), 0);
	assert_true(held.st_ino == named.st_ino);
	/* So a newcomer cannot get it meanwhile. */
	assert_int_equal(cl_cache_lock(path, 0, &fd2, &err), FA_ECONFLICT);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(cl_cache_delete(path, &err), FA_OK);
	cl_cache_unlock(fd);
	assert_int_not_equal(access(lock, F_OK), 0);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* A write that fails half-way (the disk is full: here, a file size limit
 * that root is subject to as well) leaves the old file whole and no temp
 * file behind. */
static void test_failed_write_keeps_old(void **state)
{
	char dir[256], path[512], tmpcheck[600];
	struct cl_token t, r;
	struct fa_err err;
	struct rlimit old, small;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/c2", tmpdir);
	assert_int_equal(cl_cache_prepare(dir, &err), FA_OK);
	assert_int_equal(cl_cache_path(dir, "https://flyte.example.com", path, sizeof(path), &err),
			 FA_OK);
	fill(&t, "keep-me");
	assert_int_equal(cl_cache_write(path, &t, &err), FA_OK);
	assert_int_equal(cl_strset(&t.access_token, "lost"), FA_OK);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 16;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(cl_cache_write(path, &t, &err), FA_EIO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_non_null(strstr(err.msg, "cannot write"));
	assert_int_equal(cl_cache_read(path, &r, &err), FA_OK);
	assert_string_equal(r.access_token, "keep-me");
	cl_token_cleanup(&r);
	snprintf(tmpcheck, sizeof(tmpcheck), "ls -A '%s' | grep -v -e '\\.json$' -e '\\.lock$' | "
		 "grep -q .", dir);
	assert_int_not_equal(system(tmpcheck), 0);
	cl_token_cleanup(&t);
}

static void write_raw(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_read_refusals(void **state)
{
	char path[256], link[256];
	struct cl_token r;
	struct fa_err err;

	(void)state;
	snprintf(path, sizeof(path), "%s/bad.json", tmpdir);
	write_raw(path, "{\"version\":1}", 0600);
	assert_int_equal(cl_cache_read(path, &r, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "is not a flyteauth token cache file"));
	write_raw(path, "not json", 0600);
	assert_int_equal(cl_cache_read(path, &r, &err), FA_EINVAL);
	write_raw(path, "{\"version\":1,\"auth_type\":\"Pkce\",\"endpoint\":\"e\",\"client_id\":\"c\","
		  "\"access_token\":\"a\",\"expires_at\":1,\"obtained_at\":1}", 0644);
	assert_int_equal(cl_cache_read(path, &r, &err), FA_EDENIED);
	assert_non_null(strstr(err.msg, "is readable by others or not yours; refusing it"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(cl_cache_read(path, &r, &err), FA_OK);
	cl_token_cleanup(&r);
	/* A symlink planted in the cache directory is not followed. */
	snprintf(link, sizeof(link), "%s/link.json", tmpdir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(cl_cache_read(link, &r, &err), FA_EIO);
	unlink(link);
	unlink(path);
}

static void test_lock_waits_and_times_out(void **state)
{
	char path[256];
	struct fa_err err;
	int fd = -1, pipefd[2];
	pid_t pid;
	int64_t t0;

	(void)state;
	snprintf(path, sizeof(path), "%s/lock.json", tmpdir);
	pid = lock_elsewhere(path, 400, false, pipefd);
	/* Held elsewhere: a short wait fails with the exact error ... */
	assert_int_equal(cl_cache_lock(path, 50, &fd, &err), FA_ECONFLICT);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(err.msg, "another flyteauth process (a login, or a refresh of "
			       "the same endpoint's token) still holds"));
	/* ... a longer one gets it once the holder lets go. */
	t0 = fa_mono_ms();
	assert_int_equal(cl_cache_lock(path, 5000, &fd, &err), FA_OK);
	assert_true(fa_mono_ms() - t0 >= 100);
	cl_cache_unlock(fd);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(pipefd[0]);
	close(pipefd[1]);
}

static void test_refresh_window(void **state)
{
	struct cl_token t;

	(void)state;
	cl_token_init(&t);
	/* A 30-minute token refreshes in its last 5 minutes. */
	t.obtained_at = 10000;
	t.expires_at = 11800;
	assert_false(cl_token_needs_refresh(&t, 11499, 300));
	assert_true(cl_token_needs_refresh(&t, 11500, 300));
	assert_false(cl_token_expired(&t, 11500));
	assert_true(cl_token_expired(&t, 11790));
	/* A 4-minute token is refreshed after half its life, not every call. */
	t.expires_at = 10240;
	assert_false(cl_token_needs_refresh(&t, 10119, 300));
	assert_true(cl_token_needs_refresh(&t, 10120, 300));
	/* Lifetime unknown: the full window. */
	t.expires_at = 1000;
	t.obtained_at = 5000;
	assert_true(cl_token_needs_refresh(&t, 700, 300));
	assert_false(cl_token_needs_refresh(&t, 699, 300));
}

static char *fake_jwt(const char *payload)
{
	char *p = fa_b64_encode_dup(payload, strlen(payload), FA_B64_URL | FA_B64_NOPAD);
	size_t n = strlen(p) + 64;
	char *t = malloc(n);

	assert_non_null(t);
	snprintf(t, n, "eyJhbGciOiJSUzI1NiJ9.%s.c2ln", p);
	free(p);
	return t;
}

static void test_jwt_exp(void **state)
{
	int64_t exp;
	char *t;

	(void)state;
	t = fake_jwt("{\"iss\":\"x\",\"exp\":1700000000}");
	assert_int_equal(cl_jwt_exp(t, &exp), FA_OK);
	assert_true(exp == 1700000000);
	free(t);
	t = fake_jwt("{\"exp\":1700000000.5}");
	assert_int_equal(cl_jwt_exp(t, &exp), FA_OK);
	assert_true(exp == 1700000000);
	free(t);
	t = fake_jwt("{\"exp\":0.00004}");          /* found by fuzz_client_callback */
	assert_int_equal(cl_jwt_exp(t, &exp), FA_EINVAL);
	free(t);
	t = fake_jwt("{\"iss\":\"x\"}");
	assert_int_equal(cl_jwt_exp(t, &exp), FA_EINVAL);
	free(t);
	t = fake_jwt("{\"exp\":\"soon\"}");
	assert_int_equal(cl_jwt_exp(t, &exp), FA_EINVAL);
	free(t);
	t = fake_jwt("{\"exp\":1,\"exp\":2}");        /* duplicate members refused */
	assert_int_equal(cl_jwt_exp(t, &exp), FA_EINVAL);
	free(t);
	assert_int_equal(cl_jwt_exp("opaque-token", &exp), FA_EINVAL);
	assert_int_equal(cl_jwt_exp("a.b", &exp), FA_EINVAL);
	assert_int_equal(cl_jwt_exp("a.b.c.d", &exp), FA_EINVAL);
	assert_int_equal(cl_jwt_exp("a.!!!.c", &exp), FA_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_dir),
		cmocka_unit_test(test_cache_path_per_endpoint),
		cmocka_unit_test(test_prepare_dir),
		cmocka_unit_test(test_write_read_atomic),
		cmocka_unit_test(test_failed_write_keeps_old),
		cmocka_unit_test(test_read_refusals),
		cmocka_unit_test(test_lock_waits_and_times_out),
		cmocka_unit_test(test_lock_survives_deleted_lock_file),
		cmocka_unit_test(test_refresh_window),
		cmocka_unit_test(test_jwt_exp),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
