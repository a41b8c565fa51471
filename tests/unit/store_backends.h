/* store_backends.h -- the two store backends as fixtures for the store's
 * conformance suites (test_store.c, test_store_concurrency.c): every test
 * of a suite runs once against SQLite and once against PostgreSQL, with the
 * same assertions, so store.h's invariants are checked on both.
 *
 * A cmocka group per backend: the group setup makes the backend (for
 * PostgreSQL a throwaway cluster, fa_test_pg.h) and every test of the group
 * gets it as its initial state; the test's own setup replaces that with a
 * struct sfx and starts from an empty database (SQLite: a new temp file;
 * PostgreSQL: flyteauth's tables dropped, so each test migrates afresh).
 * Without PostgreSQL's server binaries its group is skipped (see
 * fa_test_pg_wanted).
 */
#ifndef STORE_BACKENDS_H
#define STORE_BACKENDS_H

#include <sqlite3.h>

#include "fa_test.h"
#include "fa_test_pg.h"
#include "store/store.h"

enum sbe_kind { SBE_SQLITE, SBE_POSTGRES };

/* One backend under test: the group state. */
struct sbe {
	enum sbe_kind kind;
	bool skip;                  /* PostgreSQL is not installed */
	struct fa_test_pg pg;
};

/* One test: its backend, database and log. */
struct sfx {
	struct sbe *be;
	char dir[64];               /* SQLite: the test's temp dir */
	char path[128];             /* SQLite: the database file */
	struct fa_log log;
	char *logbuf;
	size_t loglen;
	struct fa_store *st;
};

static inline int sbe_setup_sqlite(void **state)
{
	struct sbe *be = calloc(1, sizeof(*be));

	assert_non_null(be);
	be->kind = SBE_SQLITE;
	*state = be;
	return 0;
}

static inline int sbe_setup_postgres(void **state)
{
	struct sbe *be = calloc(1, sizeof(*be));

	assert_non_null(be);
	be->kind = SBE_POSTGRES;
	if (fa_test_pg_wanted(&be->pg))
		fa_test_pg_start(&be->pg, "test_store_pg");
	else
		be->skip = true;
	*state = be;
	return 0;
}

static inline int sbe_teardown(void **state)
{
	struct sbe *be = *state;

	if (be->kind == SBE_POSTGRES && !be->skip)
		fa_test_pg_stop(&be->pg);
	free(be);
	return 0;
}

static inline int sfx_setup(void **state)
{
	struct sfx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->be = *state;
	fa_test_log_open(&f->log, &f->logbuf, &f->loglen);
	if (f->be->kind == SBE_SQLITE) {
		fa_test_tmpdir(f->dir, sizeof(f->dir), "test_store");
		snprintf(f->path, sizeof(f->path), "%s/flyteauth.db", f->dir);
	} else if (!f->be->skip) {
		fa_test_pg_exec(&f->be->pg, "postgres",
				"DROP TABLE IF EXISTS flyteauth_records, flyteauth_schema;"
				"DROP FUNCTION IF EXISTS fa_test_boom() CASCADE;");
	}
	*state = f;
	return 0;
}

static inline int sfx_teardown(void **state)
{
	struct sfx *f = *state;

	fa_store_free(f->st);
	fclose(f->log.fp);
	free(f->logbuf);
	if (f->dir[0])
		fa_test_rmdir(f->dir);
	free(f);
	return 0;
}

/* Opens another store on the test's database (another server instance, as
 * far as the database can tell), logging to log (NULL: stderr). Skips the
 * test when its backend cannot run here. */
static inline struct fa_store *sfx_open_another(struct sfx *f, const struct fa_log *log)
{
	struct fa_store_pg_opts o;
	struct fa_store *st = NULL;
	struct fa_err err;

	if (f->be->skip)
		skip();
	if (f->be->kind == SBE_SQLITE)
		return fa_test_store_open(f->path, log);
	o = fa_test_pg_opts(&f->be->pg);
	fa_err_clear(&err);
	if (fa_store_open_postgres(&o, log, &st, &err) != FA_OK)
		fail_msg("postgres store: %s", err.msg);
	assert_non_null(st);
	return st;
}

/* Opens the test's store into f->st. */
static inline void sfx_open(struct sfx *f)
{
	f->st = sfx_open_another(f, &f->log);
}

/* The backend's name as fa_store_backend_name gives it. */
static inline const char *sfx_name(const struct sfx *f)
{
	return f->be->kind == SBE_SQLITE ? "sqlite" : "postgres";
}

/* Makes the database itself refuse an insert of key "boom" with the
 * message "injected failure" (a trigger), as a full disk or a constraint
 * someone added would. */
static inline void sfx_inject_failure(struct sfx *f)
{
	sqlite3 *db = NULL;

	if (f->be->kind == SBE_POSTGRES) {
		fa_test_pg_exec(&f->be->pg, "postgres",
				"CREATE FUNCTION fa_test_boom() RETURNS trigger LANGUAGE plpgsql AS "
				"$$BEGIN IF NEW.key = 'boom' THEN RAISE EXCEPTION 'injected failure'; "
				"END IF; RETURN NEW; END$$;"
				"CREATE TRIGGER boom BEFORE INSERT ON flyteauth_records FOR EACH ROW "
				"EXECUTE FUNCTION fa_test_boom();");
		return;
	}
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TRIGGER boom BEFORE INSERT ON records WHEN "
				      "NEW.key = 'boom' BEGIN SELECT RAISE(ABORT, "
				      "'injected failure'); END;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* ---- records, briefly --------------------------------------------------------- */

static inline struct fa_store_op op_insert(const char *kind, const char *key, const char *value,
				    int64_t exp)
{
	struct fa_store_op op = { .type = FA_STORE_INSERT, .kind = kind, .key = key,
				  .value = value, .expires_at = exp };
	return op;
}

static inline struct fa_store_op op_update(const char *kind, const char *key, const char *value,
				    int64_t exp, int64_t ver)
{
	struct fa_store_op op = { .type = FA_STORE_UPDATE, .kind = kind, .key = key,
				  .value = value, .expires_at = exp, .expect_version = ver };
	return op;
}

static inline struct fa_store_op op_delete(const char *kind, const char *key, int64_t ver,
				    bool if_exists)
{
	struct fa_store_op op = { .type = FA_STORE_DELETE, .kind = kind, .key = key,
				  .expect_version = ver, .if_exists = if_exists };
	return op;
}

static inline enum fa_rc apply1(struct fa_store *st, struct fa_store_op op, int64_t now,
			 struct fa_err *err)
{
	return fa_store_apply(st, &op, 1, now, err);
}

/* Asserts that (kind, key) is live at now with this value and version. */
static inline void assert_rec(struct fa_store *st, const char *kind, const char *key, int64_t now,
		       const char *value, int64_t version)
{
	struct fa_store_rec rec;
	struct fa_err err;

	assert_int_equal(fa_store_get(st, kind, key, now, &rec, &err), FA_OK);
	assert_string_equal(rec.value, value);
	assert_int_equal(rec.len, strlen(value));
	assert_int_equal(rec.version, version);
	fa_store_rec_cleanup(&rec);
}

static inline void assert_absent(struct fa_store *st, const char *kind, const char *key, int64_t now)
{
	struct fa_store_rec rec;
	struct fa_err err;

	assert_int_equal(fa_store_get(st, kind, key, now, &rec, &err), FA_ENOTFOUND);
	assert_null(rec.value);
}

/* A test of the suite, run against the group's backend. */
#define SUITE_TEST(fn) cmocka_unit_test_setup_teardown(fn, sfx_setup, sfx_teardown)

/* Runs a suite against both backends; returns the number of failures. */
#define RUN_SUITE_BOTH(tests) \
	(cmocka_run_group_tests_name("sqlite", tests, sbe_setup_sqlite, sbe_teardown) + \
	 cmocka_run_group_tests_name("postgres", tests, sbe_setup_postgres, sbe_teardown))

#endif
