/* fa_test_pg.h -- a throwaway PostgreSQL cluster for the store's unit
 * tests: initdb into a fresh mkdtemp() directory, the server started as our
 * own child on a free 127.0.0.1 port (unix socket in that directory),
 * stopped by its PID and the directory removed afterwards.
 *
 * The cluster's superuser `postgres` has a random password for TCP
 * (scram-sha-256) and trust on the unix socket, which the tests' raw SQL
 * uses. As root the server runs as the `postgres` user (initdb and postgres
 * refuse root) and the directory is handed to it; otherwise as ourselves.
 * The server binaries are Debian's (/usr/lib/postgresql/<v>/bin, or
 * FA_TEST_PG_BIN). Without them the tests are skipped, unless
 * FA_TEST_REQUIRE_PG is set (`make unit` sets it, after installing them):
 * then their absence fails the run.
 *
 * Header only, static inline, like fa_test.h. Failures fail the running
 * cmocka test (or group setup).
 */
#ifndef FA_TEST_PG_H
#define FA_TEST_PG_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <libpq-fe.h>

#include "fa_test.h"

struct fa_test_pg {
	char bin[256];          /* directory of initdb and postgres */
	char dir[64];           /* the cluster's temp dir (data/, socket, logs) */
	char password[33];      /* of the superuser, for TCP */
	int port;
	pid_t pid;              /* the postmaster: our child */
	bool as_other;          /* running as the postgres user (we are root) */
	uid_t uid;
	gid_t gid;
};

/* Finds the server binaries; false when PostgreSQL is not installed. */
static inline bool fa_test_pg_find(struct fa_test_pg *pg)
{
	const char *env = getenv("FA_TEST_PG_BIN");
	char probe[300];
	glob_t g;

	if (env && *env) {
		snprintf(pg->bin, sizeof(pg->bin), "%s", env);
	} else {
		memset(&g, 0, sizeof(g));
		if (glob("/usr/lib/postgresql/*/bin/postgres", 0, NULL, &g) != 0 ||
		    g.gl_pathc == 0) {
			globfree(&g);
			return false;
		}
		/* The newest major version: glob sorts "15" after "13". */
		snprintf(pg->bin, sizeof(pg->bin), "%s", g.gl_pathv[g.gl_pathc - 1]);
		globfree(&g);
		*strrchr(pg->bin, '/') = '\0';
	}
	snprintf(probe, sizeof(probe), "%s/initdb", pg->bin);
	if (access(probe, X_OK) != 0)
		return false;
	snprintf(probe, sizeof(probe), "%s/postgres", pg->bin);
	return access(probe, X_OK) == 0;
}

static inline int fa_test_pg_rm_one(const char *p, const struct stat *sb, int flag,
				    struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

/* Removes a directory tree (the cluster's). */
static inline void fa_test_pg_rmtree(const char *dir)
{
	nftw(dir, fa_test_pg_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Starts argv[0] (a path) as our child, as the cluster's user, with stdout
 * and stderr appended to `logname` in the cluster dir. */
static inline pid_t fa_test_pg_spawn(struct fa_test_pg *pg, char *const argv[],
				     const char *logname)
{
	char log[128];
	pid_t pid;
	int fd;

	snprintf(log, sizeof(log), "%s/%s", pg->dir, logname);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	if (pg->as_other)
		assert_int_equal(fchown(fd, pg->uid, pg->gid), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (pg->as_other && (setgroups(0, NULL) != 0 || setgid(pg->gid) != 0 ||
				     setuid(pg->uid) != 0))
			_exit(126);
		/* Should this test die, the server goes with it (set after
		 * setuid, which clears it). SIGQUIT: immediate shutdown. */
		prctl(PR_SET_PDEATHSIG, SIGQUIT);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd);
	return pid;
}

static inline void fa_test_pg_show_log(const struct fa_test_pg *pg, const char *logname)
{
	char p[128], *data = NULL;
	size_t len = 0;

	snprintf(p, sizeof(p), "%s/%s", pg->dir, logname);
	if (fa_file_read(p, 1 << 20, &data, &len, NULL) == FA_OK)
		fprintf(stderr, "---- %s\n%s\n----\n", p, len > 4000 ? data + len - 4000 : data);
	free(data);
}

static inline int fa_test_pg_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Runs the server on pg->port (a fresh free port when 0) and waits until
 * it answers; false when it exited (the port was taken meanwhile). */
static inline bool fa_test_pg_run(struct fa_test_pg *pg)
{
	char exe[300], data[96], port[16];
	char *argv[] = {
		exe, "-D", data, "-p", port, "-k", pg->dir,
		"-c", "listen_addresses=127.0.0.1",
		/* A test cluster: durability buys nothing, speed does. */
		"-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200",
		NULL,
	};
	char conninfo[160];
	int status;

	if (pg->port == 0)
		pg->port = fa_test_pg_free_port();
	snprintf(exe, sizeof(exe), "%s/postgres", pg->bin);
	snprintf(data, sizeof(data), "%s/data", pg->dir);
	snprintf(port, sizeof(port), "%d", pg->port);
	snprintf(conninfo, sizeof(conninfo), "host=%s port=%d dbname=postgres user=postgres "
		 "connect_timeout=2", pg->dir, pg->port);
	pg->pid = fa_test_pg_spawn(pg, argv, "server.log");
	for (int i = 0; i < 3000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (PQping(conninfo) == PQPING_OK)
			return true;
		if (waitpid(pg->pid, &status, WNOHANG) == pg->pid) {
			pg->pid = 0;
			return false;
		}
		nanosleep(&ts, NULL);
	}
	fa_test_pg_show_log(pg, "server.log");
	fail_msg("postgres did not come up in 30 s");
	return false;
}

/* Stops the server by its PID (fast shutdown: sessions are ended, as in a
 * restart) and waits for it; the data stays for fa_test_pg_run. */
static inline void fa_test_pg_halt(struct fa_test_pg *pg)
{
	int status;

	if (pg->pid <= 0)
		return;
	kill(pg->pid, SIGINT);
	for (int i = 0; i < 1500; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (waitpid(pg->pid, &status, WNOHANG) == pg->pid) {
			pg->pid = 0;
			return;
		}
		nanosleep(&ts, NULL);
	}
	kill(pg->pid, SIGKILL);
	waitpid(pg->pid, &status, 0);
	pg->pid = 0;
}

/* Makes and starts a cluster. */
static inline void fa_test_pg_start(struct fa_test_pg *pg, const char *name)
{
	unsigned char rnd[16];
	char exe[300], data[96], pwfile[96];
	char *argv[] = {
		exe, "-D", data, "-U", "postgres", "--auth-local=trust",
		"--auth-host=scram-sha-256", "--pwfile", pwfile, "--no-sync", "-E", "UTF8",
		"--no-locale", NULL,
	};
	struct passwd *pw;
	FILE *fp;
	int status;

	fa_test_tmpdir(pg->dir, sizeof(pg->dir), name);
	if (geteuid() == 0) {
		pw = getpwnam("postgres");
		assert_non_null(pw);
		pg->as_other = true;
		pg->uid = pw->pw_uid;
		pg->gid = pw->pw_gid;
		assert_int_equal(chown(pg->dir, pg->uid, pg->gid), 0);
	}
	assert_int_equal(fa_rand_bytes(rnd, sizeof(rnd)), FA_OK);
	fa_hex(rnd, sizeof(rnd), pg->password);
	snprintf(pwfile, sizeof(pwfile), "%s/pw", pg->dir);
	fp = fopen(pwfile, "w");
	assert_non_null(fp);
	fprintf(fp, "%s\n", pg->password);
	fclose(fp);
	if (pg->as_other)
		assert_int_equal(chown(pwfile, pg->uid, pg->gid), 0);
	snprintf(exe, sizeof(exe), "%s/initdb", pg->bin);
	snprintf(data, sizeof(data), "%s/data", pg->dir);
	pg->pid = fa_test_pg_spawn(pg, argv, "initdb.log");
	assert_int_equal(waitpid(pg->pid, &status, 0), pg->pid);
	pg->pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fa_test_pg_show_log(pg, "initdb.log");
		fail_msg("initdb failed");
	}
	for (int tries = 0; tries < 5; tries++) {
		pg->port = 0;
		if (fa_test_pg_run(pg))
			return;
	}
	fa_test_pg_show_log(pg, "server.log");
	fail_msg("postgres did not start");
}

/* Stops the server by its PID and removes the cluster. */
static inline void fa_test_pg_stop(struct fa_test_pg *pg)
{
	fa_test_pg_halt(pg);
	if (pg->dir[0])
		fa_test_pg_rmtree(pg->dir);
	pg->dir[0] = '\0';
}

/* Store settings for this cluster: TCP with the password. */
static inline struct fa_store_pg_opts fa_test_pg_opts(const struct fa_test_pg *pg)
{
	struct fa_store_pg_opts o = {
		.host = "127.0.0.1", .port = pg->port, .dbname = "postgres",
		.user = "postgres", .password = pg->password,
	};
	return o;
}

/* Notices ("table ... does not exist, skipping") are not test output. */
static inline void fa_test_pg_quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Connects as the superuser over the unix socket (trust), as another
 * program would. */
static inline PGconn *fa_test_pg_connect(const struct fa_test_pg *pg, const char *db)
{
	const char *const keys[] = { "host", "port", "dbname", "user", NULL };
	char port[16];
	const char *vals[] = { pg->dir, port, db, "postgres", NULL };
	PGconn *c;

	snprintf(port, sizeof(port), "%d", pg->port);
	c = PQconnectdbParams(keys, vals, 0);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("raw connect: %s", PQerrorMessage(c));
	PQsetNoticeProcessor(c, fa_test_pg_quiet, NULL);
	return c;
}

/* Runs SQL (several statements are fine) in database db, asserting
 * success. */
static inline void fa_test_pg_exec(const struct fa_test_pg *pg, const char *db,
				   const char *sql)
{
	PGconn *c = fa_test_pg_connect(pg, db);
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("raw SQL %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

/* The first column of the first row of a query, as an integer. */
static inline int64_t fa_test_pg_int(const struct fa_test_pg *pg, const char *db,
				     const char *sql)
{
	PGconn *c = fa_test_pg_connect(pg, db);
	PGresult *r = PQexec(c, sql);
	uint64_t v = 0;
	const char *t;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
		fail_msg("raw SQL %s: %s", sql, PQerrorMessage(c));
	t = PQgetvalue(r, 0, 0);
	assert_int_equal(fa_parse_u64(t, strlen(t), UINT64_MAX, &v), FA_OK);
	PQclear(r);
	PQfinish(c);
	return (int64_t)v;
}

/* true when PostgreSQL tests can run; false to skip them. Fails when
 * FA_TEST_REQUIRE_PG is set and the binaries are missing. */
static inline bool fa_test_pg_wanted(struct fa_test_pg *pg)
{
	const char *req = getenv("FA_TEST_REQUIRE_PG");

	if (fa_test_pg_find(pg))
		return true;
	if (req && *req && strcmp(req, "0") != 0)
		fail_msg("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin) but "
			 "FA_TEST_REQUIRE_PG is set: install the Debian package postgresql");
	fprintf(stderr, "# PostgreSQL server binaries not found: its tests are skipped\n");
	return false;
}

#endif
