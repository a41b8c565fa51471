/* listen.c -- the listening socket, bound before the server starts.
 *
 * `serve` binds its port before it writes anything (state directory,
 * database, generated credentials), so that a port already taken stops a
 * start that has changed nothing. The socket is then handed to
 * fa_http_start, which serves on it. Connections that arrive in between
 * wait in the kernel's backlog.
 *
 * The address is numeric (IPv4 or IPv6): names are resolved by the
 * caller's config, never here, so a start never waits on DNS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_int.h"

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
