/* fa_test.h -- fixture pieces several unit tests share: a fresh mkdtemp()
 * directory and its removal, a log written to memory (so a test can assert
 * what reached it, and that no secret did), and a SQLite store opened with
 * its success asserted.
 *
 * Header only, every helper static inline: each test file is its own
 * executable and takes what it uses (a test that never opens a store does
 * not link the store). Failures fail the running cmocka test.
 */
#ifndef FA_TEST_H
#define FA_TEST_H

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"
#include "store/store.h"

/* Makes the directory /tmp/<name>.XXXXXX and writes its path into dir
 * (cap bytes; 64 is plenty for a test's name). */
static inline void fa_test_tmpdir(char *dir, size_t cap, const char *name)
{
	int n = snprintf(dir, cap, "/tmp/%s.XXXXXX", name);

	assert_true(n > 0 && (size_t)n < cap);
	assert_non_null(mkdtemp(dir));
}

/* Removes dir and the files in it (a store's database with its -wal and
 * -shm files, a test's own files). Not recursive: a test that makes a
 * subdirectory removes it itself. */
static inline void fa_test_rmdir(const char *dir)
{
	char p[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* Points log at a new memory stream, at debug level, and returns the
 * stream: after fflush (or fclose) *buf holds the *len bytes written. The
 * caller fcloses the stream, then frees *buf. */
static inline FILE *fa_test_log_open(struct fa_log *log, char **buf, size_t *len)
{
	FILE *fp = open_memstream(buf, len);

	assert_non_null(fp);
	log->fp = fp;
	log->min = FA_LOG_DEBUG;
	return fp;
}

/* Opens (creating) the SQLite store at path, logging to log (NULL: stderr);
 * fails the test with the store's message if it cannot. The caller frees
 * the store with fa_store_free. */
static inline struct fa_store *fa_test_store_open(const char *path, const struct fa_log *log)
{
	struct fa_store *st = NULL;
	struct fa_err err;

	fa_err_clear(&err);
	if (fa_store_open_sqlite(path, log, &st, &err) != FA_OK)
		fail_msg("store %s: %s", path, err.msg);
	assert_non_null(st);
	return st;
}

#endif
