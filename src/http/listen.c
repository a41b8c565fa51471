/* listen.c -- the listening socket and the acceptor thread that hands each
 * new connection to the worker with the fewest connections.
 *
 * `serve` binds its port before it writes anything (state directory,
 * database, generated credentials), so that a port already taken stops a
 * start that has changed nothing (fa_http_listen); the socket is then
 * handed to fa_http_start, which serves on a copy of it. Connections that
 * arrive in between wait in the kernel's backlog. The address is numeric
 * (IPv4 or IPv6): names are resolved by the caller's config, never here,
 * so a start never waits on DNS.
 *
 * Why not MHD's own thread pool: its workers race to accept on one shared
 * socket, and the winner of a burst takes most of it; a client that opens
 * all of its keep-alive connections at once (wrk, a proxy's pool,
 * flytepropeller) often ended up entirely on one worker, so one core did
 * all the work (bench/README.md, 2026-11-29). SO_REUSEPORT with one socket
 * per worker spreads by a hash of the client's address and port, which is
 * even only on average (16 connections over 2 sockets land 6..10 on each
 * in just 79% of tries) and would let a second server share the port
 * silently. Here one thread accepts, and each connection goes to the
 * worker with the fewest open connections (ties taken in turn), so
 * connection counts never differ by more than the connections that closed
 * since; the socket is an ordinary one, so a second server on the same
 * address and port fails to bind.
 *
 * The acceptor also enforces the connection caps that MHD enforced per
 * daemon before (FA_MAX_CONNECTIONS in total, FA_MAX_CONNECTIONS_PER_IP
 * from one address), since each worker is its own daemon now: over a cap,
 * the connection is closed at once, as MHD did. Counts go down when a
 * worker reports the connection closed (fa_http_conn_closed). A
 * connection MHD accepts from us but then fails to start (it could not
 * allocate the connection's memory pool) is never reported, and stays
 * counted: under memory exhaustion the caps err on the strict side.
 *
 * Its poll tick also flushes the workers' access-log buffers (accesslog.c)
 * so that an idle worker's last lines are written within a second.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_int.h"

/* The acceptor's tick: access-log flushes and the retry after a failed
 * accept (out of descriptors) both wait at most this long. */
#define TICK_MS (FA_HTTP_ALOG_FLUSH_MS / 4)

/* Connections open from one client address (a node of the tsearch tree). */
struct addr_count {
	unsigned char addr[16];   /* IPv6, or IPv4 mapped (::ffff:a.b.c.d) */
	unsigned n;
};

static int addr_cmp(const void *a, const void *b)
{
	return memcmp(((const struct addr_count *)a)->addr, ((const struct addr_count *)b)->addr,
		      16);
}

/* The 16-byte key of a client address; false for other families. */
static bool addr_key(const struct sockaddr *sa, unsigned char key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in in;

		memcpy(&in, sa, sizeof(in));
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in.sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 in6;

		memcpy(&in6, sa, sizeof(in6));
		memcpy(key, &in6.sin6_addr, 16);
		return true;
	}
	return false;
}

/* ---- the listening socket -------------------------------------------------- */

/* Connections the kernel queues before they are accepted: a start-up's
 * worth of early clients, and bursts while every worker is busy. */
#define LISTEN_BACKLOG 128

enum fa_rc fa_http_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss,
			    socklen_t *len, bool *v6, struct fa_err *err)
{
	struct sockaddr_in in;
	struct sockaddr_in6 in6;

	if (!addr)
		addr = "127.0.0.1";
	memset(ss, 0, sizeof(*ss));
	memset(&in, 0, sizeof(in));
	memset(&in6, 0, sizeof(in6));
	if (inet_pton(AF_INET, addr, &in.sin_addr) == 1) {
		in.sin_family = AF_INET;
		in.sin_port = htons(port);
		memcpy(ss, &in, sizeof(in));
		*len = sizeof(in);
		*v6 = false;
		return FA_OK;
	}
	if (inet_pton(AF_INET6, addr, &in6.sin6_addr) == 1) {
		in6.sin6_family = AF_INET6;
		in6.sin6_port = htons(port);
		memcpy(ss, &in6, sizeof(in6));
		*len = sizeof(in6);
		*v6 = true;
		return FA_OK;
	}
	return fa_err_set(err, FA_EINVAL, "bind address %.64s is not a numeric IPv4 or IPv6 "
			  "address", addr);
}

enum fa_rc fa_http_listen(const char *bind_addr, uint16_t port, struct fa_http_listener **out,
			  struct fa_err *err)
{
	struct fa_http_listener *l = NULL;
	struct sockaddr_storage ss;
	socklen_t len = 0;
	const int on = 1;
	bool v6 = false;
	enum fa_rc rc;
	int e;

	*out = NULL;
	rc = fa_http_sockaddr(bind_addr, port, &ss, &len, &v6, err);
	if (rc != FA_OK)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	l->v6 = v6;
	l->fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd < 0) {
		rc = fa_err_set(err, FA_EIO, "socket: %s", strerror(errno));
		goto out;
	}
	/* A restart may bind while the previous run's connections linger in
	 * TIME_WAIT; another live listener still gets EADDRINUSE. */
	(void)setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/* [::] means IPv6 only, as an IPv6 address given to MHD does. */
	if (v6)
		(void)setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(l->fd, (struct sockaddr *)&ss, len) != 0 || listen(l->fd, LISTEN_BACKLOG) != 0) {
		e = errno;
		rc = fa_err_set(err, FA_EIO, "%s%s", strerror(e),
				e == EADDRINUSE ? " (another process listens there)" :
				e == EACCES ? " (a port below 1024 needs privileges)" : "");
		goto out;
	}
	len = sizeof(ss);
	if (getsockname(l->fd, (struct sockaddr *)&ss, &len) == 0)
		l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	*out = l;
	l = NULL;
	rc = FA_OK;
out:
	fa_http_listener_free(l);
	return rc;
}

uint16_t fa_http_listener_port(const struct fa_http_listener *l)
{
	return l ? l->port : 0;
}

void fa_http_listener_free(struct fa_http_listener *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}

enum fa_rc fa_http_listen_take(struct fa_http *srv, const struct fa_http_opts *opts,
			       struct fa_err *err)
{
	struct fa_http_listener *l = NULL;
	enum fa_rc rc;

	if (opts->listener) {
		/* The caller keeps (and closes) its own socket. */
		srv->listen_fd = fcntl(opts->listener->fd, F_DUPFD_CLOEXEC, 0);
		if (srv->listen_fd < 0)
			return fa_err_set(err, FA_EIO, "cannot use the listening socket: %s",
					  strerror(errno));
		srv->port = opts->listener->port;
		return FA_OK;
	}
	rc = fa_http_listen(opts->bind_addr, opts->port, &l, err);
	if (rc != FA_OK)
		return rc;
	srv->listen_fd = l->fd;
	srv->port = l->port;
	l->fd = -1;
	fa_http_listener_free(l);
	return FA_OK;
}

/* ---- connection accounting --------------------------------------------------- */

/* Counts a new connection from `key` against the caps and picks its
 * worker. NULL: over a cap (the caller closes the connection). */
static struct fa_http_worker *conn_admit(struct fa_http *srv, const unsigned char key[16])
{
	struct fa_http_worker *best = NULL;
	struct addr_count probe, *node = NULL, **found;

	memcpy(probe.addr, key, 16);
	pthread_mutex_lock(&srv->conn_lock);
	if (srv->n_conns >= FA_MAX_CONNECTIONS)
		goto out;
	found = tfind(&probe, &srv->by_addr, addr_cmp);
	if (found && (*found)->n >= FA_MAX_CONNECTIONS_PER_IP)
		goto out;
	if (!found) {
		node = calloc(1, sizeof(*node));
		if (!node)
			goto out;
		memcpy(node->addr, key, 16);
		found = tsearch(node, &srv->by_addr, addr_cmp);
		if (!found) {
			free(node);
			goto out;
		}
	}
	(*found)->n++;
	srv->n_conns++;
	/* Fewest connections wins; ties go round the workers in turn. */
	for (unsigned k = 0; k < srv->n_workers; k++) {
		struct fa_http_worker *w = &srv->workers[(srv->next_worker + k) % srv->n_workers];

		if (!best || w->conns < best->conns)
			best = w;
	}
	srv->next_worker = (best->idx + 1) % srv->n_workers;
	best->conns++;
out:
	pthread_mutex_unlock(&srv->conn_lock);
	return best;
}

void fa_http_conn_release(struct fa_http_worker *w, const struct sockaddr *sa)
{
	struct fa_http *srv = w->srv;
	struct addr_count probe, **found;

	if (!sa || !addr_key(sa, probe.addr))
		return;
	pthread_mutex_lock(&srv->conn_lock);
	found = tfind(&probe, &srv->by_addr, addr_cmp);
	if (found) {
		struct addr_count *node = *found;

		if (--node->n == 0) {
			tdelete(&probe, &srv->by_addr, addr_cmp);
			free(node);
		}
		srv->n_conns--;
		w->conns--;
	}
	pthread_mutex_unlock(&srv->conn_lock);
}

static void free_node(void *node)
{
	free(node);
}

void fa_http_conns_cleanup(struct fa_http *srv)
{
	tdestroy(srv->by_addr, free_node);
	srv->by_addr = NULL;
}

/* ---- the acceptor thread ------------------------------------------------------ */

/* Accepts everything pending. false: out of descriptors or memory (wait a
 * tick before trying again). */
static bool accept_pending(struct fa_http *srv)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		unsigned char key[16];
		struct fa_http_worker *w;
		int fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			fa_log_warn(srv->log, "http: accept");
			return false;
		}
		if (!addr_key((struct sockaddr *)&ss, key) || !(w = conn_admit(srv, key))) {
			close(fd);
			continue;
		}
		/* MHD owns (and on failure closes) the socket from here. */
		if (MHD_add_connection(w->daemon, fd, (struct sockaddr *)&ss, len) != MHD_YES)
			fa_http_conn_release(w, (struct sockaddr *)&ss);
	}
}

static void *acceptor_main(void *arg)
{
	struct fa_http *srv = arg;
	bool backoff = false;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = srv->wake[0], .events = POLLIN },
			{ .fd = srv->listen_fd, .events = POLLIN },
		};
		int n = poll(p, backoff ? 1 : 2, TICK_MS);
		int64_t now = fa_mono_ms();

		if (n < 0 && errno != EINTR) {
			fa_log_warn(srv->log, "http: poll");
			backoff = true;
			continue;
		}
		if (n > 0 && (p[0].revents & POLLIN))
			break;
		backoff = false;
		if (n > 0 && (p[1].revents & POLLIN))
			backoff = !accept_pending(srv);
		for (unsigned i = 0; i < srv->n_workers; i++)
			fa_http_alog_flush(&srv->workers[i].alog, now);
	}
	return NULL;
}

enum fa_rc fa_http_acceptor_start(struct fa_http *srv, struct fa_err *err)
{
	if (pipe2(srv->wake, O_CLOEXEC | O_NONBLOCK) != 0)
		return fa_err_set(err, FA_EIO, "http: pipe: %s", strerror(errno));
	if (pthread_create(&srv->acceptor, NULL, acceptor_main, srv) != 0)
		return fa_err_set(err, FA_EIO, "http: cannot start the acceptor thread");
	srv->acceptor_running = true;
	return FA_OK;
}

void fa_http_acceptor_stop(struct fa_http *srv)
{
	if (srv->acceptor_running) {
		ssize_t w;

		do
			w = write(srv->wake[1], "x", 1);
		while (w < 0 && errno == EINTR);
		pthread_join(srv->acceptor, NULL);
		srv->acceptor_running = false;
	}
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		srv->listen_fd = -1;
	}
	for (int i = 0; i < 2; i++) {
		if (srv->wake[i] >= 0)
			close(srv->wake[i]);
		srv->wake[i] = -1;
	}
}
