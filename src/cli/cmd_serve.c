/* cmd_serve.c -- `flyteauth serve`: loads the configuration, opens the store,
 * loads the keys, wires the modules' route tables into the HTTP layer and
 * runs until SIGTERM or SIGINT, purging expired state once a minute.
 *
 * The store is SQLite (database.sqlite, the default) or PostgreSQL
 * (database.postgres: several instances share it behind one load
 * balancer). GET /healthcheck is liveness and never touches the store;
 * GET /readyz answers 503 while the store cannot serve.
 *
 * With no --config it is the development server: the embedded defaults on
 * http://localhost:8088 (loopback only), state (SQLite file and generated
 * secrets) under $XDG_STATE_HOME/flyteauth or ~/.local/state/flyteauth.
 * With a config that names no database.sqlite.file, the SQLite file is in
 * that state directory too.
 *
 * A start checks before it writes: the config is validated, the secrets
 * are loaded, the port is bound and (External mode) the external
 * authorization server's metadata is loaded before the state directory,
 * the database or a generated credential is created, so a refused config,
 * a port already taken or an unreachable authorization server leaves
 * nothing behind and prints no credential that would then never be shown
 * again. (The development server's secrets are themselves state: they are
 * generated after the bind, then loaded.)
 * Shutdown is graceful: the listener closes first, in-flight requests
 * finish, then the store closes.
 *
 * Observability: flytestdlib's logger section sets the level and the
 * format (text or JSON lines) of everything logged, audit events
 * included; with metrics.enabled, GET /metrics (Prometheus text format)
 * is served on a listener of its own (metrics.bindAddress, metrics.port),
 * never on the public one, and the modules count into one registry.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "authz/authz.h"
#include "base/base.h"
#include "cli/cli.h"
#include "config/config.h"
#include "gate/gate.h"
#include "http/http.h"
#include "identity/identity.h"
#include "remote/remote.h"
#include "secrets/secrets.h"
#include "store/store.h"

/* Expired records deleted per purge tick: bounded so a backlog never holds
 * the store for long; ticks repeat until the backlog is gone. */
#define PURGE_BATCH 1000
#define PURGE_INTERVAL_S 60

struct serve {
	struct fa_log log;
	struct fa_config *cfg;
	/* Where to listen: server.bindAddress and httpPort, unless --listen or
	 * FLYTEAUTH_LISTEN says otherwise. */
	char listen_addr[64];
	int listen_port;
	char state_dir[1024];     /* "" unless the state directory is used */
	bool dev;                 /* embedded defaults: the development server */
	char db_path[1024];
	struct fa_http_listener *listener;   /* bound before anything is written */
	unsigned cpus;            /* usable: fa_cpus_usable */
	unsigned threads;         /* HTTP workers; the PostgreSQL pool follows */
	unsigned bcrypt_threads;  /* the blocking-work pool; so does it */
	struct fa_secret_source secrets;
	struct fa_secret_inline inl[FA_CONFIG_MAX_INLINE_SECRETS];
	struct fa_store *store;
	struct fa_cli_secrets sec;
	char issuer[FA_MAX_URL + 1];
	/* External mode: the external authorization server, with its own
	 * outbound HTTP settings. serve owns its one issuer object and lends
	 * it to the gate, which verifies its tokens. */
	struct fa_remote *ext_remote;
	struct fa_remote_issuer *external;
	/* The upstream IdP (userAuth.openId.baseUrl): discovery and keys in
	 * the background, lent to identity. */
	struct fa_remote *idp_remote;
	struct fa_remote_issuer *idp;
	struct fa_identity *identity;
	struct fa_authz *authz;
	struct fa_gate *gate;
	struct fa_route_set sets[4];
	size_t n_sets;
	struct fa_http *http;
	struct fa_metrics *metrics;   /* NULL unless metrics.enabled */
	struct fa_log metrics_log;    /* the metrics listener's: warnings only */
	struct fa_http *metrics_http;
};

static void healthcheck(struct fa_req *req, struct fa_resp *resp, void *app)
{
	(void)req;
	(void)app;
	if (fa_resp_body(resp, 200, "text/plain; charset=utf-8", "OK\n", 3, NULL) != FA_OK)
		fa_resp_oauth_error(resp, 500, "server_error", NULL);
}

/* SPEC §4: ready when the store answers (one round trip; while the
 * database is down the store answers at once, see fa_store_ping). A load
 * balancer takes an instance out of rotation on 503 and back on 200;
 * /healthcheck stays 200 so the instance is not restarted for an outage
 * that is not its own. */
static void readyz(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct serve *s = app;
	struct fa_err err;
	bool ready;

	(void)req;
	fa_err_clear(&err);
	ready = fa_store_ping(s->store, &err) == FA_OK;
	if (fa_resp_body(resp, ready ? 200 : 503, "text/plain; charset=utf-8",
			 ready ? "ready\n" : "store unavailable\n", ready ? 6 : 18, NULL) != FA_OK)
		fa_resp_oauth_error(resp, 500, "server_error", NULL);
}

/* GET /metrics on the metrics listener. */
static void metrics_page(struct fa_req *req, struct fa_resp *resp, void *app)
{
	struct serve *s = app;
	struct fa_buf b;

	(void)req;
	fa_buf_init(&b, FA_METRICS_MAX_TEXT);
	if (fa_metrics_format(s->metrics, &b) != FA_OK) {
		fa_log_warnx(&s->log, "metrics: the exposition is over %d bytes", FA_METRICS_MAX_TEXT);
		fa_resp_oauth_error(resp, 500, "server_error", NULL);
	} else if (fa_resp_body(resp, 200, "text/plain; version=0.0.4; charset=utf-8",
				fa_buf_str(&b), b.len, NULL) != FA_OK) {
		fa_resp_oauth_error(resp, 500, "server_error", NULL);
	}
	fa_buf_cleanup(&b);
}

static const struct fa_route metrics_routes[] = {
	{ "GET", "/metrics", metrics_page, FA_R_PUBLIC, 0 },
};

static const struct fa_route base_routes[] = {
	{ "GET", "/healthcheck", healthcheck, FA_R_PUBLIC, 0 },
	{ "HEAD", "/healthcheck", healthcheck, FA_R_PUBLIC, 0 },
	{ "GET", "/readyz", readyz, FA_R_PUBLIC, 0 },
	{ "HEAD", "/readyz", readyz, FA_R_PUBLIC, 0 },
};

static int mkdir_p(char *path, mode_t mode)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, mode) != 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return (mkdir(path, mode) != 0 && errno != EEXIST) ? -1 : 0;
}

/* Where state goes: the development server keeps everything in the state
 * directory; a config keeps its database.sqlite.file, or the state
 * directory's flyteauth.db when it names none. Nothing is created here. */
static int choose_paths(struct serve *s)
{
	const struct fa_config *c = s->cfg;
	bool in_state = s->dev || (c->database.kind == FA_CONFIG_DB_SQLITE &&
				   c->database.sqlite.file_pos.line == 0);
	int rc, n;

	fa_cli_secret_source(c, &s->secrets, s->inl);
	if (!in_state) {
		if (fa_strlcpy(s->db_path, c->database.sqlite.file, sizeof(s->db_path)) != FA_OK)
			return fa_cli_fail("serve: database path is too long");
		return FA_EXIT_OK;
	}
	rc = fa_cli_state_dir(s->state_dir, sizeof(s->state_dir), "serve");
	if (rc != FA_EXIT_OK)
		return rc;
	if (s->dev)
		s->secrets.secrets_prefix = s->state_dir;
	n = snprintf(s->db_path, sizeof(s->db_path), "%s/%s", s->state_dir, c->database.sqlite.file);
	if (n < 0 || (size_t)n >= sizeof(s->db_path))
		return fa_cli_fail("serve: database path is too long");
	return FA_EXIT_OK;
}

/* Creates the state directory (0700), and the development server's
 * secrets on its first start. Runs after the bind. */
static int make_state(struct serve *s)
{
	struct fa_err err;
	char probe[1100];

	if (!s->state_dir[0])
		return FA_EXIT_OK;
	if (mkdir_p(s->state_dir, 0700) != 0)
		return fa_cli_fail("serve: cannot create state directory %s: %s", s->state_dir,
				   strerror(errno));
	if (!s->dev)
		return FA_EXIT_OK;
	snprintf(probe, sizeof(probe), "%s/%s", s->state_dir, FA_SECRET_TOKEN_RSA_KEY);
	if (access(probe, F_OK) != 0) {
		fa_err_clear(&err);
		if (fa_secret_init_dir(s->state_dir, false, &err) != FA_OK)
			return fa_cli_fail("serve: generating secrets in %s: %s", s->state_dir, err.msg);
		fa_log(&s->log, FA_LOG_INFO, "generated server secrets in %s", s->state_dir);
	}
	return FA_EXIT_OK;
}

/* flytestdlib's logger.level is logrus's number: 0 panic, 1 fatal and
 * 2 error are error here, 5 debug and 6 trace are debug. */
static void apply_logger(struct serve *s)
{
	const struct fa_config *c = s->cfg;
	int lv = c->logger.level;

	s->log.min = lv <= 2 ? FA_LOG_ERROR : lv == 3 ? FA_LOG_WARN : lv == 4 ? FA_LOG_INFO
										: FA_LOG_DEBUG;
	if (c->logger.mute)
		s->log.min = FA_LOG_OFF;
	s->log.format = c->logger.format == FA_CONFIG_LOG_JSON ? FA_LOG_JSON : FA_LOG_TEXT;
	s->metrics_log = s->log;
	if (s->metrics_log.min < FA_LOG_WARN)
		s->metrics_log.min = FA_LOG_WARN;
}

static int load_config(struct serve *s, const char *path)
{
	struct fa_config_diag *diag = fa_config_diag_new();
	size_t nerr;
	struct fa_err err;
	enum fa_rc rc;

	if (!diag)
		return fa_cli_fail("serve: out of memory");
	fa_err_clear(&err);
	/* The very load and checks `config check` runs. */
	rc = fa_cli_config_load(path, diag, &s->cfg, &err);
	if (rc == FA_OK)
		apply_logger(s);
	for (size_t i = 0; i < fa_config_diag_count(diag); i++) {
		/* Errors go to stderr as written (there is no logger setting
		 * to honour yet); warnings of a config that loaded go through
		 * its logger, so a JSON log stays JSON; notes are left out. */
		if (fa_config_diag_severity(diag, i) == FA_CONFIG_WARNING && rc == FA_OK)
			fa_log(&s->log, FA_LOG_WARN, "%s", fa_config_diag_line(diag, i));
		else if (fa_config_diag_severity(diag, i) != FA_CONFIG_NOTE)
			fprintf(stderr, "%s\n", fa_config_diag_line(diag, i));
	}
	nerr = fa_config_diag_errors(diag);
	fa_config_diag_free(diag);
	if (rc != FA_OK) {
		/* The lines above said it; err only when there were none. */
		if (nerr == 0 && err.msg[0])
			fprintf(stderr, "flyteauth: %s\n", err.msg);
		return fa_cli_fail("serve: %s is not a valid configuration; nothing was started",
				   path ? path : "the built-in default");
	}
	s->dev = path == NULL;
	return choose_paths(s);
}

_Static_assert(FA_CONFIG_MAX_WORKERS == FA_HTTP_MAX_THREADS, "server.workers bound");
_Static_assert(FA_CONFIG_MAX_BCRYPT_WORKERS == FA_HTTP_MAX_BLOCKING_THREADS,
	       "server.bcryptWorkers bound");

/* The threads fa_config_threads chooses on the CPUs usable (the affinity
 * mask and the cgroup's CPU quota, not the machine's count); serve
 * chooses both so that the PostgreSQL pool can hold a connection for each
 * thread that may use the store. */
static void choose_threads(struct serve *s)
{
	struct fa_config_threads t = { 1, 1 };

	s->cpus = fa_cpus_usable();
	if (s->cfg)
		t = fa_config_threads(s->cfg, s->cpus);
	s->threads = t.http;
	s->bcrypt_threads = t.bcrypt;
}

static int open_store(struct serve *s)
{
	const struct fa_config *c = s->cfg;
	struct fa_store_pg_opts pg;
	struct fa_err err;

	fa_err_clear(&err);
	if (c->metrics.enabled && !(s->metrics = fa_metrics_new()))
		return fa_cli_fail("serve: out of memory");
	if (c->database.kind == FA_CONFIG_DB_SQLITE) {
		if (fa_store_open_sqlite(s->db_path, &s->log, &s->store, &err) != FA_OK)
			return fa_cli_fail("serve: opening the store %s: %s", s->db_path, err.msg);
		fa_store_set_metrics(s->store, s->metrics);
		return FA_EXIT_OK;
	}
	memset(&pg, 0, sizeof(pg));
	pg.host = c->database.postgres.host;
	pg.port = c->database.postgres.port;
	pg.dbname = c->database.postgres.dbname;
	pg.user = c->database.postgres.username;
	pg.password = c->database.postgres.password;
	pg.password_path = c->database.postgres.password_path;
	pg.options = c->database.postgres.options;
	/* A connection per HTTP worker, per blocking-work thread (/login and
	 * client authentication finish there) and one for the purge loop. */
	pg.pool_size = s->threads + s->bcrypt_threads + 1;
	if (pg.pool_size > FA_STORE_PG_MAX_POOL)
		pg.pool_size = FA_STORE_PG_MAX_POOL;
	/* The message names host, port and database, never the password. */
	if (fa_store_open_postgres(&pg, &s->log, &s->store, &err) != FA_OK)
		return fa_cli_fail("serve: opening the store (database.postgres): %s", err.msg);
	fa_store_set_metrics(s->store, s->metrics);
	fa_log(&s->log, FA_LOG_INFO, "store: postgres, %u connections", pg.pool_size);
	return FA_EXIT_OK;
}

/* The public base URL, normalised once by the config module and handed
 * as this one string to identity, authz and the gate. */
static int derive_issuer(struct serve *s)
{
	const struct fa_config *c = s->cfg;

	if (fa_config_issuer(c, s->listen_port, s->issuer, sizeof(s->issuer)) != FA_OK)
		return fa_cli_fail("serve: the issuer URL is too long");
	if (!c->auth.app_auth.self.issuer[0] && !c->auth.authorized_uris.count &&
	    c->source != FA_CONFIG_SOURCE_DEFAULTS)
		fa_log(&s->log, FA_LOG_WARN, "neither selfAuthServer.issuer nor authorizedUris is set: "
		       "using %s as the issuer; clients elsewhere cannot reach it", s->issuer);
	return FA_EXIT_OK;
}

/* Prints a value generated on the installation's first start. It goes to
 * stdout, never to the log: this is the one time it can be shown. */
static void print_once(const char *what, const char *name, const char *label, char *value)
{
	if (!value)
		return;
	printf("%s: %s\n%s: %s\n(shown once: only its bcrypt hash is kept)\n", what, name,
	       label, value);
	fflush(stdout);
	fa_free_secret(value);
}

static void report_line(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

/* The very loading `config check --online` does; only what an enabled
 * server needs. */
static int load_secrets(struct serve *s)
{
	if (!s->cfg->server.security.use_auth)
		return FA_EXIT_OK;
	if (fa_cli_secrets_load(s->cfg, &s->secrets, &s->sec, report_line, NULL) != FA_OK)
		return fa_cli_fail("serve: the secrets above are missing or unusable; nothing was "
				   "started");
	return FA_EXIT_OK;
}

/* The TLS files, read and loaded by the TLS library before the bind, so
 * that a wrong path or a key that is not the certificate's stops the start
 * before it writes; the HTTP layer reads them again when it starts. */
static int check_tls_files(struct serve *s)
{
	const __typeof__(s->cfg->server.security) *sec = &s->cfg->server.security;
	char what[FA_CLI_TLS_WHAT_MAX];
	struct fa_err err;

	if (!sec->secure)
		return FA_EXIT_OK;
	fa_err_clear(&err);
	if (fa_cli_tls_check(s->cfg, what, NULL, &err) != FA_OK)
		return fa_cli_fail("serve: %s: %s; nothing was started", what, err.msg);
	return FA_EXIT_OK;
}

/* Binds the port before anything is written. */
static int bind_port(struct serve *s)
{
	const char *addr = strcmp(s->listen_addr, "localhost") == 0 ? "127.0.0.1" : s->listen_addr;
	struct fa_err err;

	fa_err_clear(&err);
	if (fa_http_listen(addr, (uint16_t)s->listen_port, &s->listener, &err) != FA_OK)
		return fa_cli_fail("serve: cannot listen on %s:%d: %s; nothing was started", addr,
				   s->listen_port, err.msg);
	s->listen_port = fa_http_listener_port(s->listener);
	return FA_EXIT_OK;
}

/* Waits for an issuer's first document: flyteadmin does not start without
 * its external authorization server's metadata, and a config that points at
 * a server that never answers must not start a half-working gate. The wait
 * ends early on SIGTERM/SIGINT. */
static int wait_issuer(struct fa_remote_issuer *iss, const sigset_t *stop,
		       const char *key, const struct fa_config_pos *pos)
{
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	struct fa_discovery *d = NULL;
	struct fa_err err;
	char where[256];

	for (;;) {
		enum fa_holder_state st = fa_remote_issuer_wait(iss, 50);

		if (st == FA_HOLDER_READY)
			return FA_EXIT_OK;
		if (st == FA_HOLDER_FAILED)
			break;
		if (sigtimedwait(stop, NULL, &tick) > 0)
			return fa_cli_fail("serve: stopped while waiting for %s", key);
	}
	fa_err_clear(&err);
	if (fa_remote_issuer_discovery(iss, &d, &err) == FA_OK)
		(void)fa_err_set(&err, FA_ENET, "not loaded");   /* cannot happen once FAILED */
	fa_discovery_free(d);
	fa_config_pos_format(pos, where, sizeof(where));
	return fa_cli_fail("%s: %s: %s; nothing was started", where, key, err.msg);
}

/* External mode: the external authorization server's metadata and keys,
 * from externalAuthServer.baseUrl + metadataUrl, through its proxy, with
 * flyteadmin's retryAttempts (retries after the first attempt) and
 * retryDelay (constant, as flyteadmin's backoff has no factor). A check
 * before anything is written: an unreachable server stops the start with
 * nothing left behind. Self mode (or no auth): nothing to do. */
static int start_external(struct serve *s, const sigset_t *stop)
{
	const struct fa_config *c = s->cfg;
	const __typeof__(c->auth.app_auth.external) *ext = &c->auth.app_auth.external;
	struct fa_remote_opts ro = { 0 };
	struct fa_remote_issuer_opts io = { 0 };
	char url[FA_REMOTE_MAX_URL + 1];
	int64_t delay = ext->retry_delay_ms > 0 ? ext->retry_delay_ms : 1;
	struct fa_err err;

	if (!c->server.security.use_auth ||
	    c->auth.app_auth.auth_server_type != FA_CONFIG_AS_EXTERNAL)
		return FA_EXIT_OK;
	fa_err_clear(&err);
	ro.proxy_url = ext->http_proxy_url[0] ? ext->http_proxy_url : c->auth.http_proxy_url;
	if (fa_remote_new(&ro, &s->ext_remote, &err) != FA_OK)
		return fa_cli_fail("serve: the external authorization server's HTTP client: %s",
				   err.msg);
	if (fa_remote_url_join(ext->base_url, ext->metadata_url[0] ? ext->metadata_url :
			       ".well-known/oauth-authorization-server", url, sizeof(url)) != FA_OK)
		return fa_cli_fail("serve: externalAuthServer.metadataUrl is longer than %d bytes",
				   FA_REMOTE_MAX_URL);
	io.kind = FA_DISCOVERY_OAUTH;
	io.issuer = ext->base_url;
	io.metadata_url = url;
	io.what = "the external authorization server";
	io.first_delay_ms = delay;
	io.max_delay_ms = delay;
	io.max_attempts = ext->retry_attempts + 1;
	io.refresh_ms = FA_GATE_EXTERNAL_METADATA_TTL_MS;
	io.log = &s->log;
	if (fa_remote_issuer_start(s->ext_remote, &io, &s->external, &err) != FA_OK)
		return fa_cli_fail("serve: externalAuthServer: %s", err.msg);
	return wait_issuer(s->external, stop, "auth.appAuth.externalAuthServer.baseUrl",
			   &ext->base_url_pos);
}

/* The IdP's discovery document is kept in the store (kind
 * "idp_discovery", key: hex SHA-256 of openId.baseUrl) with the time it
 * was fetched, so a start while the IdP's discovery endpoint is down
 * serves the last good copy -- re-validated as if fetched then -- until a
 * fetch works; the issuer refreshes it in the background and each new
 * copy replaces the stored one. */
#define IDP_DISCOVERY_KIND "idp_discovery"
#define IDP_DISCOVERY_KEEP_S (7 * 24 * 3600)

static void idp_discovery_key(const struct fa_config *c, char key[2 * FA_SHA256_LEN + 1])
{
	const char *base = c->auth.user_auth.open_id.base_url;

	if (fa_sha256_hex(base, strlen(base), key) != FA_OK)
		key[0] = '\0';
}

/* The issuer's on_update, on its holder's thread. */
static void idp_discovery_save(void *ctx, const struct fa_discovery *d)
{
	struct serve *s = ctx;
	char key[2 * FA_SHA256_LEN + 1];
	struct fa_store_op op = { .type = FA_STORE_UPDATE, .kind = IDP_DISCOVERY_KIND, .key = key };
	int64_t now = fa_now();
	json_t *rec;
	char *value = NULL;
	enum fa_rc rc = FA_ENOMEM;

	idp_discovery_key(s->cfg, key);
	rec = json_pack("{s:s, s:I, s:s%}", "url", d->url, "fetched_at", (json_int_t)d->fetched_at,
			"doc", d->raw, d->raw_len);
	if (key[0] && rec && (value = json_dumps(rec, JSON_COMPACT))) {
		op.value = value;
		op.expires_at = now + IDP_DISCOVERY_KEEP_S;
		rc = fa_store_apply(s->store, &op, 1, now, NULL);
		if (rc == FA_ENOTFOUND) {
			op.type = FA_STORE_INSERT;
			rc = fa_store_apply(s->store, &op, 1, now, NULL);
		}
	}
	if (rc != FA_OK && rc != FA_EEXIST && rc != FA_ECONFLICT)
		fa_log_warnx(&s->log, "serve: cannot keep the IdP's discovery document in the "
			     "store: %s", fa_rc_str(rc));
	free(value);
	json_decref(rec);
}

/* The stored copy, validated again (NULL: none usable). */
static struct fa_discovery *idp_discovery_load(struct serve *s)
{
	const char *base = s->cfg->auth.user_auth.open_id.base_url;
	char key[2 * FA_SHA256_LEN + 1];
	struct fa_store_rec rec = { 0 };
	struct fa_discovery *d = NULL;
	json_t *doc = NULL;
	const char *url, *raw;

	idp_discovery_key(s->cfg, key);
	if (!key[0] || fa_store_get(s->store, IDP_DISCOVERY_KIND, key, fa_now(), &rec, NULL) != FA_OK)
		return NULL;
	if (fa_json_load(rec.value, rec.len, "stored discovery", &doc, NULL) == FA_OK &&
	    (url = json_string_value(json_object_get(doc, "url"))) &&
	    (raw = json_string_value(json_object_get(doc, "doc"))) &&
	    json_integer_value(json_object_get(doc, "fetched_at")) > 0 &&
	    fa_discovery_parse(FA_DISCOVERY_OIDC, base, url, raw, strlen(raw),
			       json_integer_value(json_object_get(doc, "fetched_at")), &d,
			       NULL) != FA_OK)
		d = NULL;
	json_decref(doc);
	fa_store_rec_cleanup(&rec);
	return d;
}

/* The upstream IdP: its HTTP client (auth.httpProxyURL, as config check
 * --online reaches it), its issuer loading discovery and keys in the
 * background -- an IdP that cannot be reached does not stop the start: the
 * holder logs one line naming the URL and the error and retries with
 * backoff, and /login answers 503 meanwhile -- and its client secret.
 * *secret is malloc'd (fa_free_secret). */
static int start_idp(struct serve *s, char **secret)
{
	const struct fa_config *c = s->cfg;
	const __typeof__(c->auth.user_auth.open_id) *oid = &c->auth.user_auth.open_id;
	struct fa_remote_opts ro = { 0 };
	struct fa_remote_issuer_opts io = { 0 };
	struct fa_discovery *cached;
	char where[256];
	struct fa_err err;
	enum fa_rc rc;

	*secret = NULL;
	if (!oid->base_url[0])
		return FA_EXIT_OK;
	fa_err_clear(&err);
	if (fa_secret_get(&s->secrets, oid->client_secret_name, secret, NULL, NULL, &err) != FA_OK)
		return fa_cli_fail("%s: auth.userAuth.openId.clientSecretName: %s",
				   fa_config_pos_format(&oid->client_secret_name_pos, where,
							sizeof(where)), err.msg);
	ro.proxy_url = c->auth.http_proxy_url;
	if (fa_remote_new(&ro, &s->idp_remote, &err) != FA_OK)
		return fa_cli_fail("serve: the IdP's HTTP client: %s", err.msg);
	io.kind = FA_DISCOVERY_OIDC;
	io.issuer = oid->base_url;
	io.what = "the IdP";
	io.log = &s->log;
	io.on_update = idp_discovery_save;
	io.ctx = s;
	io.initial = cached = idp_discovery_load(s);
	if (cached)
		fa_log(&s->log, FA_LOG_INFO, "the IdP's discovery document from the store (fetched "
		       "%lld s ago) serves until it is fetched again",
		       (long long)(fa_now() - cached->fetched_at));
	rc = fa_remote_issuer_start(s->idp_remote, &io, &s->idp, &err);
	fa_discovery_free(cached);
	if (rc != FA_OK)
		return fa_cli_fail("%s: auth.userAuth.openId.baseUrl: %s",
				   fa_config_pos_format(&oid->base_url_pos, where, sizeof(where)),
				   err.msg);
	return FA_EXIT_OK;
}

/* Self mode: the authorization server, with the keys loaded before. */
static int start_authz(struct serve *s, char **client_secret)
{
	struct fa_authz_opts ao;
	struct fa_err err;

	fa_err_clear(&err);
	memset(&ao, 0, sizeof(ao));
	ao.cfg = s->cfg;
	ao.store = s->store;
	ao.log = &s->log;
	ao.metrics = s->metrics;
	ao.signing_key = s->sec.keys.signing;
	ao.verify_keys = s->sec.keys.verify;
	ao.issuer = s->issuer;
	ao.login = (struct fa_authz_login){
		.identity = s->identity,
		.session_user = fa_identity_session_user,
		.login_url = fa_identity_login_url,
		.session_cookie = FA_IDENTITY_SESSION_COOKIE,
		.logout = fa_identity_session_logout,
		.user_check = fa_identity_user_check,
	};
	ao.generated_secret = client_secret;
	s->authz = fa_authz_new(&ao, &err);
	if (!s->authz)
		return fa_cli_fail("serve: %s", err.msg);
	return FA_EXIT_OK;
}

static int start_gate(struct serve *s)
{
	const struct fa_config *c = s->cfg;
	struct fa_gate_opts go;
	struct fa_err err;

	memset(&go, 0, sizeof(go));
	go.cfg = c;
	go.log = &s->log;
	go.metrics = s->metrics;
	go.issuer = s->issuer;
	go.verify_keys = s->sec.keys.verify;
	go.external = s->external;
	go.idp = s->idp;
	go.identity = s->identity;
	go.session_user = fa_identity_session_user;
	go.redirect_check = fa_identity_redirect_allowed;
	if (s->authz) {
		go.revoked = fa_authz_token_revoked;
		go.authz = s->authz;
	}
	fa_err_clear(&err);
	s->gate = fa_gate_new(&go, &err);
	if (!s->gate)
		return fa_cli_fail("serve: %s", err.msg);
	return FA_EXIT_OK;
}

/* Keys, then identity, the authorization server (Self) or the external
 * one, and the gate, each with its own route table. */
static int start_modules(struct serve *s)
{
	const struct fa_config *c = s->cfg;
	char *dev_password = NULL, *client_secret = NULL, *idp_secret = NULL;
	bool external = c->auth.app_auth.auth_server_type == FA_CONFIG_AS_EXTERNAL;
	struct fa_identity_opts io;
	struct fa_err err;
	const struct fa_route *routes;
	size_t n;
	int rc = FA_EXIT_FAIL;

	if (!c->server.security.use_auth) {
		fa_log(&s->log, FA_LOG_WARN, "server.security.useAuth is false: only /healthcheck "
		       "is served");
		return FA_EXIT_OK;
	}
	rc = derive_issuer(s);
	if (rc != FA_EXIT_OK)
		goto out;
	rc = start_idp(s, &idp_secret);
	if (rc != FA_EXIT_OK)
		goto out;
	rc = FA_EXIT_FAIL;
	fa_err_clear(&err);
	memset(&io, 0, sizeof(io));
	io.cfg = c;
	io.store = s->store;
	io.log = &s->log;
	io.metrics = s->metrics;
	io.issuer = s->issuer;
	io.cookie_hash_key = s->sec.cookie_hash_key;
	io.cookie_hash_key_len = sizeof(s->sec.cookie_hash_key);
	io.cookie_block_key = s->sec.cookie_block_key;
	io.cookie_block_key_len = sizeof(s->sec.cookie_block_key);
	io.dev_default_user = c->source == FA_CONFIG_SOURCE_DEFAULTS;
	io.dev_password = &dev_password;
	io.idp = s->idp;
	io.idp_remote = s->idp_remote;
	io.idp_client_secret = idp_secret;
	s->identity = fa_identity_new(&io, &err);
	fa_free_secret(idp_secret);
	idp_secret = NULL;
	if (!s->identity) {
		fa_cli_fail("serve: %s", err.msg);
		goto out;
	}
	print_once("development user", FA_IDENTITY_DEV_USER, "password", dev_password);
	if (!external) {
		if (start_authz(s, &client_secret) != FA_EXIT_OK)
			goto out;
		print_once("generated confidential client", FA_AUTHZ_GENERATED_CLIENT,
			   "client secret", client_secret);
	}
	if (start_gate(s) != FA_EXIT_OK)
		goto out;
	fa_identity_routes(&routes, &n);
	s->sets[s->n_sets++] = (struct fa_route_set){ routes, n, s->identity };
	if (s->authz) {
		fa_authz_routes(&routes, &n);
		s->sets[s->n_sets++] = (struct fa_route_set){ routes, n, s->authz };
	}
	/* Discovery: the upstream IdP's document when there is one (as
	 * flyteadmin, in both modes), else, in Self mode, flyteauth's own as
	 * the OpenID Provider. */
	if (c->auth.user_auth.open_id.base_url[0] != '\0') {
		fa_identity_idp_routes(&routes, &n);
		s->sets[s->n_sets++] = (struct fa_route_set){ routes, n, s->identity };
	} else if (s->authz) {
		fa_authz_op_routes(&routes, &n);
		s->sets[s->n_sets++] = (struct fa_route_set){ routes, n, s->authz };
	}
	fa_gate_routes(s->gate, &routes, &n);
	s->sets[s->n_sets++] = (struct fa_route_set){ routes, n, s->gate };
	if (external)
		fa_log(&s->log, FA_LOG_INFO, "resource server: tokens of the external authorization "
		       "server %s; public URL %s", c->auth.app_auth.external.base_url, s->issuer);
	else
		fa_log(&s->log, FA_LOG_INFO, "authorization server: issuer %s, signing %s kid %s%s",
		       s->issuer, fa_jws_alg_name(fa_jwk_alg(s->sec.keys.signing)),
		       fa_jwk_kid(s->sec.keys.signing), c->auth.app_auth.self.check_revocation ?
		       "; the gate checks revocation" : "");
	rc = FA_EXIT_OK;
out:
	fa_free_secret(idp_secret);
	/* identity derived its own keys from the cookie keys. */
	fa_memzero(s->sec.cookie_hash_key, sizeof(s->sec.cookie_hash_key));
	fa_memzero(s->sec.cookie_block_key, sizeof(s->sec.cookie_block_key));
	return rc;
}

static int start_http(struct serve *s)
{
	const struct fa_config *c = s->cfg;
	struct fa_http_opts o;
	struct fa_err err;

	memset(&o, 0, sizeof(o));
	o.bind_addr = strcmp(s->listen_addr, "localhost") == 0 ? "127.0.0.1" : s->listen_addr;
	o.port = (uint16_t)s->listen_port;
	o.listener = s->listener;
	o.routes = base_routes;
	o.n_routes = ARRAY_LEN(base_routes);
	o.app = s;
	o.threads = s->threads;
	o.blocking_threads = s->bcrypt_threads;
	o.route_sets = s->sets;
	o.n_route_sets = s->n_sets;
	if (s->gate) {
		o.authenticate = fa_gate_authenticate;
		o.auth_app = s->gate;
		o.required_scope = fa_gate_required_scope(s->gate);
	}
	o.log = &s->log;
	o.metrics = s->metrics;
	o.trusted_proxies = (const char *const *)c->server.security.trusted_proxies.items;
	o.n_trusted_proxies = c->server.security.trusted_proxies.count;
	o.cors.allow_cors = c->server.security.allow_cors;
	o.cors.allowed_origins = (const char *const *)c->server.security.allowed_origins.items;
	o.cors.n_allowed_origins = c->server.security.allowed_origins.count;
	o.cors.allowed_headers = (const char *const *)c->server.security.allowed_headers.items;
	o.cors.n_allowed_headers = c->server.security.allowed_headers.count;
	if (c->server.security.secure) {
		o.tls_cert_file = c->server.security.ssl.certificate_file;
		o.tls_key_file = c->server.security.ssl.key_file;
	}
	fa_err_clear(&err);
	s->http = fa_http_start(&o, &err);
	fa_http_listener_free(s->listener);
	s->listener = NULL;
	if (!s->http)
		return fa_cli_fail("serve: cannot listen on %s:%d: %s", o.bind_addr,
				   s->listen_port, err.msg);
	if (!c->server.security.secure && !fa_host_is_loopback(o.bind_addr, strlen(o.bind_addr)))
		fa_log(&s->log, FA_LOG_WARN,
		       "serving plain HTTP on %s:%u: terminate TLS in front of flyteauth "
		       "(server.security.secure: false)", o.bind_addr, fa_http_port(s->http));
	fa_log(&s->log, FA_LOG_INFO, "listening on %s://%s:%u (%u HTTP worker%s, %u bcrypt worker%s; "
	       "%u CPU%s usable)", c->server.security.secure ? "https" : "http", o.bind_addr,
	       fa_http_port(s->http), s->threads, s->threads == 1 ? "" : "s", s->bcrypt_threads,
	       s->bcrypt_threads == 1 ? "" : "s", s->cpus, s->cpus == 1 ? "" : "s");
	return FA_EXIT_OK;
}

/* metrics.enabled: GET /metrics alone, on its own address and port, so
 * that the public listener never shows it and a firewall or a Kubernetes
 * port can keep it private. Its requests are neither counted nor logged
 * at info (a scrape every few seconds is not news). */
static int start_metrics(struct serve *s)
{
	const struct fa_config *c = s->cfg;
	const char *addr = c->metrics.bind_address;
	struct fa_http_opts o;
	struct fa_err err;

	if (!s->metrics)
		return FA_EXIT_OK;
	memset(&o, 0, sizeof(o));
	o.bind_addr = strcmp(addr, "localhost") == 0 ? "127.0.0.1" : addr;
	o.port = (uint16_t)c->metrics.port;
	o.routes = metrics_routes;
	o.n_routes = ARRAY_LEN(metrics_routes);
	o.app = s;
	o.threads = 1;
	o.blocking_threads = 1;   /* /metrics never offloads */
	o.log = &s->metrics_log;
	fa_err_clear(&err);
	s->metrics_http = fa_http_start(&o, &err);
	if (!s->metrics_http)
		return fa_cli_fail("serve: metrics: cannot listen on %s:%d: %s", o.bind_addr,
				   c->metrics.port, err.msg);
	fa_log(&s->log, FA_LOG_INFO, "metrics: http://%s:%u/metrics", o.bind_addr,
	       fa_http_port(s->metrics_http));
	return FA_EXIT_OK;
}

/* --listen / FLYTEAUTH_LISTEN: "ADDR:PORT", "[V6ADDR]:PORT", ":PORT" or
 * "PORT" (the address then stays as configured). The address itself is
 * checked by the HTTP layer when it binds. */
static int parse_listen(struct serve *s, const char *what, const char *v)
{
	const char *colon = strrchr(v, ':'), *port = v;
	size_t alen = 0;
	uint64_t p;

	if (colon) {
		port = colon + 1;
		alen = (size_t)(colon - v);
		if (alen >= 2 && v[0] == '[' && v[alen - 1] == ']') {
			v++;
			alen -= 2;
		} else if (memchr(v, ':', alen)) {
			return fa_cli_fail("serve: %s: write an IPv6 address in brackets, "
					   "e.g. [::1]:8088", what);
		}
	}
	if (fa_parse_u64(port, strlen(port), 65535, &p) != FA_OK || p == 0)
		return fa_cli_fail("serve: %s: expected ADDR:PORT with a port in 1..65535", what);
	if (alen >= sizeof(s->listen_addr))
		return fa_cli_fail("serve: %s: the address is too long", what);
	if (alen) {
		memcpy(s->listen_addr, v, alen);
		s->listen_addr[alen] = '\0';
	}
	s->listen_port = (int)p;
	return FA_EXIT_OK;
}

/* The configured address and port, then FLYTEAUTH_LISTEN, then --listen. */
static int choose_listen(struct serve *s, const char *flag)
{
	const char *env = getenv("FLYTEAUTH_LISTEN");
	int rc;

	if (fa_strlcpy(s->listen_addr, s->cfg->server.bind_address, sizeof(s->listen_addr)) != FA_OK)
		return fa_cli_fail("serve: server.bindAddress is too long");
	s->listen_port = s->cfg->server.http_port;
	if (env && *env) {
		rc = parse_listen(s, "FLYTEAUTH_LISTEN", env);
		if (rc != FA_EXIT_OK)
			return rc;
	}
	return flag ? parse_listen(s, "--listen", flag) : FA_EXIT_OK;
}

static void purge_expired(struct serve *s)
{
	struct fa_err err;
	size_t total = 0;

	/* Until done: a backlog (a flood's rows) is never carried over. */
	fa_err_clear(&err);
	if (fa_store_purge_all(s->store, fa_now(), PURGE_BATCH, &total, &err) != FA_OK)
		fa_log_warnx(&s->log, "purging expired state: %s", err.msg);
	if (total)
		fa_log(&s->log, FA_LOG_DEBUG, "purged %zu expired records", total);
}

/* Waits for SIGTERM/SIGINT (blocked in every thread, so only this one takes
 * them), purging expired state between waits. */
static int wait_for_signal(struct serve *s, const sigset_t *set)
{
	struct timespec tick = { PURGE_INTERVAL_S, 0 };

	for (;;) {
		int sig = sigtimedwait(set, NULL, &tick);

		if (sig == SIGTERM || sig == SIGINT) {
			fa_log(&s->log, FA_LOG_INFO, "%s received, stopping",
			       sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return sig;
		}
		if (sig == SIGUSR1)
			fa_http_log_workers(s->http);
		if (sig < 0 && errno == EAGAIN)
			purge_expired(s);
	}
}

static void serve_cleanup(struct serve *s)
{
	fa_http_stop(s->metrics_http);
	fa_http_stop(s->http);
	fa_http_listener_free(s->listener);
	fa_gate_free(s->gate);
	fa_authz_free(s->authz);
	fa_identity_free(s->identity);
	fa_remote_issuer_free(s->idp);
	fa_remote_free(s->idp_remote);
	fa_remote_issuer_free(s->external);
	fa_remote_free(s->ext_remote);
	fa_cli_secrets_cleanup(&s->sec);
	fa_store_free(s->store);
	fa_config_free(s->cfg);
	fa_metrics_free(s->metrics);
}

int fa_cli_serve(int argc, char **argv)
{
	struct serve s;
	const char *config_path = NULL, *listen = NULL;
	bool allow_root = false;
	sigset_t set;
	int rc;

	memset(&s, 0, sizeof(s));
	s.log.fp = stderr;
	s.log.min = FA_LOG_INFO;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return fa_cli_help("serve");
		if (strcmp(argv[i], "--config") == 0) {
			if (++i >= argc)
				return fa_cli_usage_fail("serve", "--config needs a file");
			config_path = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--listen") == 0) {
			if (++i >= argc)
				return fa_cli_usage_fail("serve", "--listen needs ADDR:PORT");
			listen = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--allow-root") == 0) {
			allow_root = true;
			continue;
		}
		return fa_cli_usage_fail("serve", "unknown argument '%s'", argv[i]);
	}
	/* A bug in anything the server parses would otherwise hand an
	 * attacker the whole machine. */
	if ((getuid() == 0 || geteuid() == 0) && !allow_root)
		return fa_cli_fail("serve: refusing to run as root (uid 0); run it as an "
				   "unprivileged user (the container image and the systemd unit do), "
				   "or pass --allow-root to run anyway");

	/* Block the stop signals before any thread starts, so that the HTTP
	 * workers inherit the mask and only sigtimedwait sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* SIGUSR1: log the requests each HTTP worker has served (bench/). */
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Check (config, secrets, port, the external authorization server),
	 * then write (state, store, credentials). */
	rc = load_config(&s, config_path);
	if (rc == FA_EXIT_OK)
		rc = choose_listen(&s, listen);
	choose_threads(&s);
	if (rc == FA_EXIT_OK && !s.dev)
		rc = load_secrets(&s);
	if (rc == FA_EXIT_OK)
		rc = check_tls_files(&s);
	if (rc == FA_EXIT_OK)
		rc = bind_port(&s);
	if (rc == FA_EXIT_OK)
		rc = start_external(&s, &set);
	if (rc == FA_EXIT_OK)
		rc = make_state(&s);
	if (rc == FA_EXIT_OK && s.dev)
		rc = load_secrets(&s);
	if (rc == FA_EXIT_OK)
		rc = open_store(&s);
	if (rc == FA_EXIT_OK)
		rc = start_modules(&s);
	if (rc == FA_EXIT_OK)
		rc = start_http(&s);
	if (rc == FA_EXIT_OK)
		rc = start_metrics(&s);
	if (rc == FA_EXIT_OK) {
		purge_expired(&s);
		wait_for_signal(&s, &set);
	}
	serve_cleanup(&s);
	if (rc == FA_EXIT_OK)
		fa_log(&s.log, FA_LOG_INFO, "stopped");
	return rc;
}
