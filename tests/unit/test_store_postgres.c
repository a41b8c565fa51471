/* test_store_postgres.c -- what only the PostgreSQL backend has, against a
 * throwaway cluster (fa_test_pg.h): migrations when several instances
 * start at once (one migrates, under the advisory lock), a newer or foreign
 * schema refused, other programs' tables left alone; connection settings
 * (the password file, values with quotes and spaces passed safely, the
 * options string, bad settings, no privilege); the database restarted under
 * a live store (503-style failures, logged once, then recovery without a
 * restart of ours); connections killed by the server; batches that
 * deadlock or fail to serialize, retried until they all go through; and
 * tampered values refused.
 *
 * The record semantics both backends share are in test_store.c and
 * test_store_concurrency.c.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_backends.h"

#define T0 1700000000LL

static struct fa_store_pg_opts opts_of(struct sfx *f)
{
	if (f->be->skip)
		skip();
	return fa_test_pg_opts(&f->be->pg);
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static const char *log_text(struct sfx *f)
{
	fflush(f->log.fp);
	return f->logbuf ? f->logbuf : "";
}

/* A file in the cluster's temp dir (removed with it). */
static void write_file(struct sfx *f, const char *name, const char *text, char *path,
		       size_t cap)
{
	FILE *fp;

	snprintf(path, cap, "%s/%s", f->be->pg.dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* ---- migrations ------------------------------------------------------------------ */

struct starter {
	struct fa_store_pg_opts o;
	const struct fa_log *log;
	pthread_barrier_t *go;
	struct fa_store *st;
	enum fa_rc rc;
	struct fa_err err;
};

static void *starter_main(void *arg)
{
	struct starter *s = arg;

	pthread_barrier_wait(s->go);
	s->rc = fa_store_open_postgres(&s->o, s->log, &s->st, &s->err);
	return NULL;
}

/* Six instances started at the same moment on an empty database: every one
 * opens, the schema is created once (one "upgraded" line), and a record
 * written through one is read through another. */
static void test_migrate_concurrent_starts(void **state)
{
	struct sfx *f = *state;
	struct fa_store_pg_opts o = opts_of(f);
	struct starter s[6];
	pthread_t th[6];
	pthread_barrier_t go;
	struct fa_err err;
	int i;

	assert_int_equal(pthread_barrier_init(&go, NULL, 6), 0);
	for (i = 0; i < 6; i++) {
		s[i] = (struct starter){ .o = o, .log = &f->log, .go = &go };
		assert_int_equal(pthread_create(&th[i], NULL, starter_main, &s[i]), 0);
	}
	for (i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < 6; i++)
		if (s[i].rc != FA_OK)
			fail_msg("instance %d: %s", i, s[i].err.msg);
	assert_int_equal(count_of(log_text(f), "schema upgraded from version 0 to 1"), 1);
	assert_int_equal(fa_test_pg_int(&f->be->pg, "postgres",
					"SELECT count(*) FROM flyteauth_schema"), 1);
	assert_int_equal(fa_test_pg_int(&f->be->pg, "postgres",
					"SELECT version FROM flyteauth_schema"), 1);
	assert_int_equal(apply1(s[0].st, op_insert("code", "k", "v", T0 + 60), T0, &err), FA_OK);
	assert_rec(s[5].st, "code", "k", T0, "v", 1);
	for (i = 0; i < 6; i++)
		fa_store_free(s[i].st);
	/* A later start finds nothing to do. */
	sfx_open(f);
	assert_int_equal(count_of(log_text(f), "schema upgraded"), 1);
	assert_rec(f->st, "code", "k", T0, "v", 1);
	assert_string_equal(fa_store_backend_name(f->st), "postgres");
}

static void test_newer_schema_refused(void **state)
{
	struct sfx *f = *state;
	struct fa_store_pg_opts o = opts_of(f);
	struct fa_store *st = (struct fa_store *)1;
	struct fa_err err;
	char want[128];

	sfx_open(f);
	fa_store_free(f->st);
	f->st = NULL;
	fa_test_pg_exec(&f->be->pg, "postgres", "UPDATE flyteauth_schema SET version = 99");
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_EUNSUPPORTED);
	assert_null(st);
	snprintf(want, sizeof(want), "postgres: schema version 99 is newer than this flyteauth "
		 "knows (1); upgrade flyteauth: 127.0.0.1:%d/postgres", f->be->pg.port);
	assert_string_equal(err.msg, want);
	assert_int_equal(fa_test_pg_int(&f->be->pg, "postgres",
					"SELECT version FROM flyteauth_schema"), 99);
}

/* A flyteauth_schema table we did not write is not ours to change. */
static void test_foreign_schema_table_refused(void **state)
{
	struct sfx *f = *state;
	struct fa_store_pg_opts o = opts_of(f);
	struct fa_store *st = NULL;
	struct fa_err err;

	fa_test_pg_exec(&f->be->pg, "postgres", "CREATE TABLE flyteauth_schema (version integer);"
			"INSERT INTO flyteauth_schema VALUES (1), (2);");
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "flyteauth_schema has 2 rows; it was not written by "
				"flyteauth"));
	assert_null(st);
	/* Refused before anything was created. */
	assert_int_equal(fa_test_pg_int(&f->be->pg, "postgres", "SELECT count(*) FROM pg_tables "
					"WHERE tablename = 'flyteauth_records'"), 0);
}

/* The database may be flyteadmin's own: its tables are left alone. */
static void test_other_tables_untouched(void **state)
{
	struct sfx *f = *state;
	struct fa_err err;

	fa_test_pg_exec(&f->be->pg, "postgres", "DROP TABLE IF EXISTS executions;"
			"CREATE TABLE executions (id integer); INSERT INTO executions VALUES (7);");
	sfx_open(f);
	assert_int_equal(apply1(f->st, op_insert("session", "s", "{}", T0 + 60), T0, &err), FA_OK);
	assert_int_equal(fa_test_pg_int(&f->be->pg, "postgres",
					"SELECT count(*) FROM executions WHERE id = 7"), 1);
	fa_test_pg_exec(&f->be->pg, "postgres", "DROP TABLE executions");
}

/* ---- connection settings ------------------------------------------------------------- */

static void test_password_file(void **state)
{
	struct sfx *f = *state;
	struct fa_store_pg_opts o = opts_of(f);
	char path[160], text[96], big[FA_STORE_PG_MAX_PASSWORD + 8];
	struct fa_store *st = NULL;
	struct fa_err err;

	/* passwordPath wins over password, and is trimmed (a mounted secret
	 * often ends in a newline). */
	snprintf(text, sizeof(text), " \t%s\r\n\n", f->be->pg.password);
	write_file(f, "pgpass", text, path, sizeof(path));
	o.password = "not-the-password";
	o.password_path = path;
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_OK);
	fa_store_free(st);
	st = NULL;

	write_file(f, "empty", " \n", path, sizeof(path));
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "postgres: the password file "));
	assert_non_null(strstr(err.msg, "/empty is empty or not text"));

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(f, "big", big, path, sizeof(path));
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_ETOOBIG);
	assert_non_null(strstr(err.msg, "/big is over 1024 bytes"));

	snprintf(path, sizeof(path), "%s/missing", f->be->pg.dir);
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_ENOTFOUND);
	assert_non_null(strstr(err.msg, "cannot read the password file "));
	assert_non_null(strstr(err.msg, "No such file or directory"));
	assert_null(st);
}

/* A wrong password is the server's refusal, named as such; the password is
 * in no message and no log line. */
static void test_wrong_password(void **state)
{
	struct sfx *f = *state;
	struct fa_store_pg_opts o = opts_of(f);
	struct fa_store *st = NULL;
	struct fa_err err;

	o.password = "Wrong-Pass-4711";
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_ESTORE);
	assert_null(st);
	assert_non_null(strstr(err.msg, "password authentication failed for user \"postgres\""));
	assert_null(strstr(err.msg, "Wrong-Pass-4711"));
	assert_null(strstr(log_text(f), "Wrong-Pass-4711"));
	assert_null(strstr(log_text(f), f->be->pg.password));
}

/* Values with spaces, quotes, backslashes and '=' reach the server as they
 * are: no connection string is ever pasted together. */
static void test_settings_with_quotes(void **state)
{
	struct sfx *f = *state;
	struct fa_store_pg_opts o = opts_of(f);
	struct fa_store *st = NULL;
	struct fa_err err;

	fa_test_pg_exec(&f->be->pg, "postgres", "DROP DATABASE IF EXISTS \"fa db's\"");
	fa_test_pg_exec(&f->be->pg, "postgres", "DROP ROLE IF EXISTS \"o'brien = x\";"
			"CREATE ROLE \"o'brien = x\" LOGIN PASSWORD 'it''s a \"pw\" \\ with=signs ';");
	fa_test_pg_exec(&f->be->pg, "postgres", "CREATE DATABASE \"fa db's\" OWNER \"o'brien = x\"");
	o.dbname = "fa db's";
	o.user = "o'brien = x";
	o.password = "it's a \"pw\" \\ with=signs ";
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_OK);
	assert_int_equal(apply1(st, op_insert("code", "q", "v", T0 + 60), T0, &err), FA_OK);
	assert_rec(st, "code", "q", T0, "v", 1);
	fa_store_free(st);
	assert_int_equal(fa_test_pg_int(&f->be->pg, "fa db's",
					"SELECT count(*) FROM flyteauth_records"), 1);
	fa_test_pg_exec(&f->be->pg, "postgres", "DROP DATABASE \"fa db's\"");
	fa_test_pg_exec(&f->be->pg, "postgres", "DROP ROLE \"o'brien = x\"");
}

static void test_options_string(void **state)
{
	struct sfx *f = *state;
	struct fa_store_pg_opts o = opts_of(f);
	struct fa_store *st = NULL;
	struct fa_err err;
	char uri[128], port[96];

	/* Passed through, and over the keys: the port here is the one used. */
	snprintf(port, sizeof(port), "port=%d application_name=fa_opt_test sslmode=disable",
		 f->be->pg.port);
	o.port = 1;
	o.options = port;
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_OK);
	assert_int_equal(fa_test_pg_int(&f->be->pg, "postgres", "SELECT count(*) FROM "
					"pg_stat_activity WHERE application_name = 'fa_opt_test'"), 1);
	fa_store_free(st);
	st = NULL;
	/* A URI works too. */
	snprintf(uri, sizeof(uri), "postgresql://127.0.0.1:%d/postgres?sslmode=disable",
		 f->be->pg.port);
	o.options = uri;
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_OK);
	fa_store_free(st);
	st = NULL;
	/* Not libpq's syntax: refused without quoting it (it may hold a
	 * password). */
	o.options = "password=hunter2 oops";
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_EINVAL);
	assert_string_equal(err.msg, "postgres: options is not a libpq connection string "
			    "(keyword=value pairs, or a postgresql:// URI)");
	o.options = "nosuchkeyword=1";
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_EINVAL);
	assert_null(st);
	assert_null(strstr(log_text(f), "hunter2"));
}

static void test_bad_settings(void **state)
{
	struct sfx *f = *state;
	struct fa_store_pg_opts o = opts_of(f);
	struct fa_store *st = NULL;
	char host[FA_STORE_PG_MAX_SETTING + 2];
	struct fa_err err;

	o.port = 70000;
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_EINVAL);
	assert_string_equal(err.msg, "postgres: port 70000 is not in 1..65535");
	o = opts_of(f);
	o.pool_size = FA_STORE_PG_MAX_POOL + 1;
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_ETOOBIG);
	assert_string_equal(err.msg, "postgres: pool of 66 connections is over 65");
	o = opts_of(f);
	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	o.host = host;
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_ETOOBIG);
	assert_string_equal(err.msg, "postgres: host is over 1024 bytes");
	assert_int_equal(fa_store_open_postgres(NULL, &f->log, &st, &err), FA_EINVAL);
	assert_int_equal(fa_store_open_postgres(&o, &f->log, NULL, &err), FA_EINVAL);
	assert_null(st);
}

/* Nothing listens there: the start fails at once, naming where. */
static void test_unreachable_at_start(void **state)
{
	struct sfx *f = *state;
	struct fa_store_pg_opts o = opts_of(f);
	struct fa_store *st = NULL;
	struct fa_err err;
	char want[64];

	o.port = fa_test_pg_free_port();
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_ESTORE);
	assert_null(st);
	snprintf(want, sizeof(want), "postgres 127.0.0.1:%d/postgres: ", o.port);
	assert_true(strncmp(err.msg, want, strlen(want)) == 0);
	assert_non_null(strstr(err.msg, "Connection refused"));
}

/* A role that may not create tables gets the server's reason. */
static void test_no_create_privilege(void **state)
{
	struct sfx *f = *state;
	struct fa_store_pg_opts o = opts_of(f);
	struct fa_store *st = NULL;
	struct fa_err err;

	fa_test_pg_exec(&f->be->pg, "postgres", "DROP ROLE IF EXISTS fa_limited;"
			"CREATE ROLE fa_limited LOGIN PASSWORD 'limited-pw';"
			"REVOKE CREATE ON SCHEMA public FROM PUBLIC;");
	o.user = "fa_limited";
	o.password = "limited-pw";
	assert_int_equal(fa_store_open_postgres(&o, &f->log, &st, &err), FA_ESTORE);
	assert_null(st);
	assert_non_null(strstr(err.msg, "permission denied for schema public"));
	fa_test_pg_exec(&f->be->pg, "postgres", "DROP ROLE fa_limited");
}

/* ---- outages --------------------------------------------------------------------------- */

/* The database restarts under a live store: calls fail with FA_ESTORE (and
 * the store logs that once, not per call), readiness says so, and once the
 * database is back the store works again without being reopened, with the
 * data it had. */
static void test_restart_recovery(void **state)
{
	struct sfx *f = *state;
	struct fa_store_rec rec;
	struct fa_err err;
	int64_t deadline;
	enum fa_rc rc;
	int i;

	sfx_open(f);
	assert_int_equal(apply1(f->st, op_insert("rt", "keep", "{\"a\":1}", T0 + 600), T0, &err),
			 FA_OK);
	assert_int_equal(fa_store_ping(f->st, &err), FA_OK);
	fa_test_pg_halt(&f->be->pg);
	for (i = 0; i < 30; i++) {
		assert_int_equal(fa_store_get(f->st, "rt", "keep", T0, &rec, &err), FA_ESTORE);
		assert_int_equal(apply1(f->st, op_insert("rt", "new", "{}", T0 + 600), T0, &err),
				 FA_ESTORE);
		assert_int_equal(fa_store_ping(f->st, &err), FA_ESTORE);
	}
	assert_non_null(strstr(err.msg, "127.0.0.1"));
	assert_int_equal(count_of(log_text(f), "store (postgres) failed: "), 1);
	assert_int_equal(count_of(log_text(f), "store (postgres) works again"), 0);

	assert_true(fa_test_pg_run(&f->be->pg));
	deadline = fa_mono_ms() + 15000;
	while ((rc = fa_store_ping(f->st, &err)) != FA_OK && fa_mono_ms() < deadline) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (rc != FA_OK) {
		fa_test_pg_show_log(&f->be->pg, "server.log");
		fail_msg("not back after the restart: %s", err.msg);
	}
	assert_rec(f->st, "rt", "keep", T0, "{\"a\":1}", 1);
	assert_int_equal(apply1(f->st, op_insert("rt", "new", "{}", T0 + 600), T0, &err), FA_OK);
	assert_int_equal(count_of(log_text(f), "store (postgres) works again after "), 1);
	assert_int_equal(count_of(log_text(f), "store (postgres) failed: "), 1);
}

/* The server ends our sessions (an admin, a proxy, a failover): the next
 * calls reconnect and succeed, and nothing is logged as a failure. */
static void test_connections_killed(void **state)
{
	struct sfx *f = *state;
	struct fa_err err;
	int64_t c = 0;

	sfx_open(f);
	assert_int_equal(apply1(f->st, op_insert("code", "a", "1", T0 + 60), T0, &err), FA_OK);
	assert_int_equal(fa_store_incr(f->st, "throttle", "ip", 60, T0, &c, &err), FA_OK);
	assert_true(fa_test_pg_int(&f->be->pg, "postgres",
				   "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
				   "WHERE application_name = 'flyteauth'") >= 1);
	assert_rec(f->st, "code", "a", T0, "1", 1);
	assert_int_equal(apply1(f->st, op_insert("code", "b", "2", T0 + 60), T0, &err), FA_OK);
	assert_int_equal(fa_store_incr(f->st, "throttle", "ip", 60, T0, &c, &err), FA_OK);
	assert_int_equal(c, 2);
	assert_int_equal(count_of(log_text(f), "failed"), 0);
}

/* ---- serialization ------------------------------------------------------------------------ */

#define XTHREADS 4
#define XROUNDS 25

struct crosser {
	struct fa_store *st;
	pthread_barrier_t *go;
	int id;
	int failures;
	struct fa_err err;
};

/* Batches that update the same two rows in opposite orders: without
 * retries of deadlocks (40P01) and serialization failures (40001) some
 * would fail; with them every one goes through. */
static void *crosser_main(void *arg)
{
	struct crosser *x = arg;
	struct fa_store_op ops[2];

	pthread_barrier_wait(x->go);
	for (int i = 0; i < XROUNDS; i++) {
		struct fa_err err;

		ops[x->id % 2] = op_update("family", "A", "a", T0 + 600, 0);
		ops[1 - x->id % 2] = op_update("family", "B", "b", T0 + 600, 0);
		if (fa_store_apply(x->st, ops, 2, T0, &err) != FA_OK) {
			x->failures++;
			x->err = err;
		}
	}
	return NULL;
}

static void test_crossed_batches_all_apply(void **state)
{
	struct sfx *f = *state;
	struct crosser x[XTHREADS];
	pthread_t th[XTHREADS];
	pthread_barrier_t go;
	struct fa_store_rec rec;
	struct fa_err err;
	int i;

	sfx_open(f);
	assert_int_equal(apply1(f->st, op_insert("family", "A", "a", T0 + 600), T0, &err), FA_OK);
	assert_int_equal(apply1(f->st, op_insert("family", "B", "b", T0 + 600), T0, &err), FA_OK);
	assert_int_equal(pthread_barrier_init(&go, NULL, XTHREADS), 0);
	for (i = 0; i < XTHREADS; i++) {
		x[i] = (struct crosser){ .st = f->st, .go = &go, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, crosser_main, &x[i]), 0);
	}
	for (i = 0; i < XTHREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < XTHREADS; i++)
		if (x[i].failures)
			fail_msg("thread %d: %d failed batches: %s", i, x[i].failures, x[i].err.msg);
	/* Every batch raised both rows' versions by one. */
	assert_int_equal(fa_store_get(f->st, "family", "A", T0, &rec, &err), FA_OK);
	assert_int_equal(rec.version, 1 + XTHREADS * XROUNDS);
	fa_store_rec_cleanup(&rec);
	assert_rec(f->st, "family", "B", T0, "b", 1 + XTHREADS * XROUNDS);
}

/* ---- tampered rows ------------------------------------------------------------------------ */

static void test_tampered_values_refused(void **state)
{
	struct sfx *f = *state;
	struct fa_store_rec rec;
	struct fa_err err;

	sfx_open(f);
	fa_test_pg_exec(&f->be->pg, "postgres",
			"INSERT INTO flyteauth_records VALUES ('code', 'nul', '\\x610062', "
			"1800000000, 1), ('code', 'big', convert_to(repeat('x', 20000), 'UTF8'), "
			"1800000000, 1)");
	assert_int_equal(fa_store_get(f->st, "code", "nul", T0, &rec, &err), FA_ESTORE);
	assert_string_equal(err.msg, "postgres get: stored value is over 16384 bytes or holds "
			    "a NUL");
	assert_null(rec.value);
	assert_int_equal(fa_store_get(f->st, "code", "big", T0, &rec, &err), FA_ESTORE);
	assert_null(rec.value);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUITE_TEST(test_migrate_concurrent_starts),
		SUITE_TEST(test_newer_schema_refused),
		SUITE_TEST(test_foreign_schema_table_refused),
		SUITE_TEST(test_other_tables_untouched),
		SUITE_TEST(test_password_file),
		SUITE_TEST(test_wrong_password),
		SUITE_TEST(test_settings_with_quotes),
		SUITE_TEST(test_options_string),
		SUITE_TEST(test_bad_settings),
		SUITE_TEST(test_unreachable_at_start),
		SUITE_TEST(test_no_create_privilege),
		SUITE_TEST(test_restart_recovery),
		SUITE_TEST(test_connections_killed),
		SUITE_TEST(test_crossed_batches_all_apply),
		SUITE_TEST(test_tampered_values_refused),
	};

	return cmocka_run_group_tests_name("postgres", tests, sbe_setup_postgres, sbe_teardown);
}
