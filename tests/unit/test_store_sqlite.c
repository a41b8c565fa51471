/* test_store_sqlite.c -- what only the SQLite backend has: the database
 * file (paths refused, a file that is not a database, mode 0600 with its
 * -wal/-shm files, a loose mode warned), migrations (fresh, reopen, an empty
 * file adopted, a newer schema and a foreign database refused unchanged),
 * persistence across reopen, and a tampered value refused.
 *
 * The record semantics both backends share are in test_store.c. Every test
 * works in its own mkdtemp() directory, removed afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store_backends.h"

#define T0 1700000000LL   /* a fixed "now" */

/* Runs SQL on the database file directly (another program's view). */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int64_t raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* A value past the cap can only come from a tampered file: refused. */
static void test_tampered_oversized_value(void **state)
{
	struct sfx *f = *state;
	struct fa_store_rec rec;
	struct fa_err err;

	sfx_open(f);
	raw_exec(f->path, "INSERT INTO records VALUES ('code', 'big', "
			  "printf('%.20000c', 'x'), 1800000000, 1)");
	assert_int_equal(fa_store_get(f->st, "code", "big", T0, &rec, &err), FA_ESTORE);
	assert_string_equal(err.msg, "sqlite get: stored value is over 16384 bytes");
	assert_null(rec.value);
}

/* ---- opening, files, migrations ------------------------------------------------------ */

static void test_open_bad_paths(void **state)
{
	struct sfx *f = *state;
	struct fa_store *st = (struct fa_store *)1;
	struct fa_err err;
	char p[256];

	assert_int_equal(fa_store_open_sqlite(NULL, &f->log, &st, &err), FA_EINVAL);
	assert_null(st);
	assert_string_equal(err.msg, "sqlite: database path is empty");
	assert_int_equal(fa_store_open_sqlite("", &f->log, &st, &err), FA_EINVAL);
	assert_int_equal(fa_store_open_sqlite(":memory:", &f->log, &st, &err), FA_EINVAL);
	assert_string_equal(err.msg,
			    "sqlite: :memory: cannot be shared by the connection pool; use a file");
	assert_int_equal(fa_store_open_sqlite("file:x.db?mode=memory", &f->log, &st, &err),
			 FA_EINVAL);
	assert_string_equal(err.msg, "sqlite: URIs are not accepted; give a plain file path");
	snprintf(p, sizeof(p), "%s/no/such/dir.db", f->dir);
	assert_int_equal(fa_store_open_sqlite(p, &f->log, &st, &err), FA_EIO);
	assert_non_null(strstr(err.msg, "No such file or directory"));
	assert_int_equal(fa_store_open_sqlite(f->dir, &f->log, &st, &err), FA_EIO);
	assert_non_null(strstr(err.msg, "Is a directory"));
	assert_int_equal(fa_store_open_sqlite(f->path, &f->log, NULL, &err), FA_EINVAL);
}

static void test_not_a_database(void **state)
{
	struct sfx *f = *state;
	struct fa_err err;
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	for (int i = 0; i < 200; i++)
		fputs("this is not an SQLite file\n", fp);
	fclose(fp);
	assert_int_equal(fa_store_open_sqlite(f->path, &f->log, &f->st, &err), FA_ESTORE);
	assert_null(f->st);
	assert_non_null(strstr(err.msg, "file is not a database"));
}

/* The file holds token hashes and sessions: 0600 even with a permissive
 * umask, and SQLite's -wal/-shm files follow it. */
static void test_file_mode_0600(void **state)
{
	struct sfx *f = *state;
	struct fa_err err;
	struct stat sb;
	char wal[160];
	mode_t old = umask(0);

	sfx_open(f);
	umask(old);
	assert_int_equal(apply1(f->st, op_insert("session", "s", "{}", T0 + 5), T0, &err), FA_OK);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	snprintf(wal, sizeof(wal), "%s-shm", f->path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
}

static void test_loose_mode_warned(void **state)
{
	struct sfx *f = *state;
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(chmod(f->path, 0644), 0);
	sfx_open(f);
	fflush(f->log.fp);
	assert_non_null(strstr(f->logbuf, "has mode 0644; it holds token hashes and sessions"));
}

static void test_migrate_fresh_and_reopen(void **state)
{
	struct sfx *f = *state;
	struct fa_err err;
	size_t seen;

	sfx_open(f);
	fflush(f->log.fp);
	assert_non_null(strstr(f->logbuf, "schema upgraded from version 0 to 1"));
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema WHERE "
					  "name IN ('records', 'records_expires_at')"), 2);
	assert_int_equal(raw_int(f->path, "SELECT journal_mode = 'wal' FROM "
					  "pragma_journal_mode"), 1);
	assert_int_equal(apply1(f->st, op_insert("rt", "keep", "{\"a\":1}", T0 + 600), T0, &err),
			 FA_OK);
	fa_store_free(f->st);
	f->st = NULL;

	/* Reopen: nothing to migrate, data still there. */
	fflush(f->log.fp);
	seen = f->loglen;
	sfx_open(f);
	fflush(f->log.fp);
	assert_null(strstr(f->logbuf + seen, "schema upgraded"));
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 1);
	assert_rec(f->st, "rt", "keep", T0 + 1, "{\"a\":1}", 1);
}

/* An empty SQLite file made elsewhere (version 0, no tables) is adopted. */
static void test_migrate_empty_sqlite_file(void **state)
{
	struct sfx *f = *state;
	struct fa_err err;

	raw_exec(f->path, "PRAGMA user_version = 0");
	sfx_open(f);
	assert_int_equal(apply1(f->st, op_insert("code", "k", "v", T0 + 5), T0, &err), FA_OK);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 1);
}

static void test_newer_schema_refused(void **state)
{
	struct sfx *f = *state;
	struct fa_err err;

	sfx_open(f);
	fa_store_free(f->st);
	f->st = NULL;
	raw_exec(f->path, "PRAGMA user_version = 99");
	assert_int_equal(fa_store_open_sqlite(f->path, &f->log, &f->st, &err), FA_EUNSUPPORTED);
	assert_null(f->st);
	assert_non_null(strstr(err.msg, "sqlite: schema version 99 is newer than this "
					"flyteauth knows (1); upgrade flyteauth: "));
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 99);
}

/* Pointing the config at another program's database changes nothing in it. */
static void test_foreign_database_refused(void **state)
{
	struct sfx *f = *state;
	struct fa_err err;

	raw_exec(f->path, "CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('x');");
	assert_int_equal(fa_store_open_sqlite(f->path, &f->log, &f->st, &err), FA_EUNSUPPORTED);
	assert_null(f->st);
	assert_non_null(strstr(err.msg, "sqlite: not a flyteauth database (it has other tables)"));
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema"), 1);
	assert_int_equal(raw_int(f->path, "SELECT journal_mode = 'delete' FROM "
					  "pragma_journal_mode"), 1);
}

static void test_reopen_persists(void **state)
{
	struct sfx *f = *state;
	struct fa_err err;
	int64_t c;

	sfx_open(f);
	assert_int_equal(apply1(f->st, op_insert("session", "s1", "{\"u\":\"bob\"}", T0 + 600), T0,
				&err), FA_OK);
	assert_int_equal(apply1(f->st, op_update("session", "s1", "{\"u\":\"bob2\"}", T0 + 900, 1),
				T0, &err), FA_OK);
	assert_int_equal(fa_store_incr(f->st, "throttle", "k", 60, T0, &c, &err), FA_OK);
	fa_store_free(f->st);
	f->st = NULL;
	sfx_open(f);
	assert_rec(f->st, "session", "s1", T0 + 899, "{\"u\":\"bob2\"}", 2);
	assert_int_equal(fa_store_incr(f->st, "throttle", "k", 60, T0 + 1, &c, &err), FA_OK);
	assert_int_equal(c, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUITE_TEST(test_tampered_oversized_value),
		SUITE_TEST(test_open_bad_paths),
		SUITE_TEST(test_not_a_database),
		SUITE_TEST(test_file_mode_0600),
		SUITE_TEST(test_loose_mode_warned),
		SUITE_TEST(test_migrate_fresh_and_reopen),
		SUITE_TEST(test_migrate_empty_sqlite_file),
		SUITE_TEST(test_newer_schema_refused),
		SUITE_TEST(test_foreign_database_refused),
		SUITE_TEST(test_reopen_persists),
	};

	return cmocka_run_group_tests_name("sqlite", tests, sbe_setup_sqlite, sbe_teardown);
}
