/* pkce.c -- the Pkce flow (RFC 6749 §4.1 with RFC 7636 S256, RFC 8252 for
 * a native app): a CSPRNG verifier and state, a listener on the redirect
 * URI's loopback port, the browser (or the printed URL), and the code
 * exchange. The listener is a small blocking accept loop on loopback only:
 * it reads one bounded request per connection, answers a short HTML page
 * and closes; requests for other paths or with a wrong state are answered
 * and ignored, so a stray or hostile request cannot end or hijack the login
 * (the state is compared in constant time). For a browser on another
 * machine, the address it lands on may be pasted on stdin instead. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/client_int.h"

/* ---- redirect URI and listener --------------------------------------------------------- */

enum fa_rc cl_redirect_parse(const char *uri, struct cl_redirect *r, struct fa_err *err)
{
	struct fa_url u;
	char q[120];

	memset(r, 0, sizeof(*r));
	cl_sanitize(uri, q, sizeof(q));
	if (fa_url_parse(uri, strlen(uri), &u, NULL) != FA_OK || u.https)
		return fa_err_set(err, FA_EINVAL, "redirect URI \"%s\" is not an http:// loopback "
				  "address", q);
	/* The code must never be delivered off this machine. */
	if (!fa_host_is_loopback(u.host, u.host_len))
		return fa_err_set(err, FA_EINVAL, "redirect URI \"%s\": the host must be localhost, "
				  "127.0.0.1 or [::1]", q);
	if (!u.has_port)
		return fa_err_set(err, FA_EINVAL, "redirect URI \"%s\" needs a port", q);
	if (u.query || u.fragment)
		return fa_err_set(err, FA_EINVAL, "redirect URI \"%s\" has a query or fragment", q);
	if (u.host_len >= sizeof(r->host) || u.path_len >= sizeof(r->path))
		return fa_err_set(err, FA_ETOOBIG, "redirect URI \"%s\" is too long", q);
	memcpy(r->host, u.host, u.host_len);
	r->host[u.host_len] = '\0';
	r->port = (int)u.port;
	if (u.path_len)
		snprintf(r->path, sizeof(r->path), "%.*s", (int)u.path_len, u.path);
	else
		memcpy(r->path, "/", 2);
	return FA_OK;
}

/* Listens on addr (a numeric IPv4 or IPv6 address) and port; -1 with errno
 * on failure. */
static int listen_on(int family, const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		len = sizeof(*a);
		if (inet_pton(AF_INET, addr, &a->sin_addr) != 1)
			return errno = EINVAL, -1;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		len = sizeof(*a);
		if (inet_pton(AF_INET6, addr, &a->sin6_addr) != 1)
			return errno = EINVAL, -1;
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 8) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* The redirect URI's port is the server's choice (flyteClient's
 * redirectUri): when another program has it, say which port and who
 * likely holds it, as a conflict to wait out, not a file problem. */
static enum fa_rc listen_fail(const struct cl_redirect *r, const char *addr, struct fa_err *err)
{
	if (errno == EADDRINUSE)
		return fa_err_set(err, FA_ECONFLICT, "port %d of the login redirect URI is in use "
				  "on %s: another login (flyteauth, flytectl, pyflyte) or another "
				  "program listens there", r->port, addr);
	return fa_err_set(err, FA_EIO, "cannot listen on %s:%d for the login redirect: %s", addr,
			  r->port, strerror(errno));
}

enum fa_rc cl_listener_open(const struct cl_redirect *r, struct cl_listener *l, struct fa_err *err)
{
	/* r->host is loopback (cl_redirect_parse): "localhost", an IPv4
	 * literal in 127/8, or an IPv6 literal of ::1 in brackets. */
	bool named = fa_str_ieq(r->host, "localhost");
	bool v6 = named || r->host[0] == '[';
	char v6addr[64] = "::1";
	const char *v4addr = named ? "127.0.0.1" : r->host;
	int fd;

	l->n = 0;
	l->fds[0] = l->fds[1] = -1;
	if (r->host[0] == '[')
		snprintf(v6addr, sizeof(v6addr), "%.*s", (int)strlen(r->host) - 2, r->host + 1);
	if (r->host[0] != '[') {
		fd = listen_on(AF_INET, v4addr, r->port);
		if (fd < 0)
			return listen_fail(r, v4addr, err);
		l->fds[l->n++] = fd;
	}
	/* "localhost" may resolve to ::1 first in the browser: listen there
	 * too when the machine has IPv6 (its absence is not an error). */
	if (v6) {
		fd = listen_on(AF_INET6, v6addr, r->port);
		if (fd >= 0)
			l->fds[l->n++] = fd;
		else if (!named)
			return listen_fail(r, r->host, err);
	}
	return FA_OK;
}

void cl_listener_close(struct cl_listener *l)
{
	for (size_t i = 0; i < l->n; i++)
		close(l->fds[i]);
	l->n = 0;
}

/* ---- the callback -------------------------------------------------------------------------- */

/* Percent-decodes s[0..n) ('+' is a space) into a new string; NULL on a
 * bad escape, a NUL byte or allocation failure. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t o = 0;

	if (out && (fa_pct_decode(s, n, FA_PCT_PLUS, out, &o) != FA_OK || memchr(out, '\0', o))) {
		fa_free_secret(out);
		out = NULL;
	}
	return out;
}

struct cb_params {
	char *code;
	char *state;
	char *error;
	char *error_description;
};

static void cb_params_cleanup(struct cb_params *p)
{
	fa_free_secret(p->code);
	free(p->state);
	free(p->error);
	free(p->error_description);
	memset(p, 0, sizeof(*p));
}

enum fa_rc cl_callback_parse(const char *query, size_t n, const char *expected_state,
			     char **code, struct fa_err *err)
{
	struct cb_params p = { NULL, NULL, NULL, NULL };
	const char *s = query, *end = query + n;
	enum fa_rc rc = FA_OK;
	size_t fields = 0;

	*code = NULL;
	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(s, '=', (size_t)(pe - s));
		char **slot = NULL;
		size_t klen = eq ? (size_t)(eq - s) : (size_t)(pe - s);

		if (++fields > FA_MAX_FIELDS) {
			rc = fa_err_set(err, FA_EINVAL, "the redirect has too many parameters");
			goto out;
		}
		if (klen == 4 && !memcmp(s, "code", 4))
			slot = &p.code;
		else if (klen == 5 && !memcmp(s, "state", 5)) /* not secret: a parameter name */
			slot = &p.state;
		else if (klen == 5 && !memcmp(s, "error", 5))
			slot = &p.error;
		else if (klen == 17 && !memcmp(s, "error_description", 17))
			slot = &p.error_description;
		if (slot) {
			const char *v = eq ? eq + 1 : pe;
			if (*slot) {
				rc = fa_err_set(err, FA_EINVAL, "the redirect repeats a parameter");
				goto out;
			}
			if ((size_t)(pe - v) > CL_MAX_CODE) {
				rc = fa_err_set(err, FA_EINVAL, "a redirect parameter is too long");
				goto out;
			}
			*slot = pct_decode(v, (size_t)(pe - v));
			if (!*slot) {
				rc = fa_err_set(err, FA_EINVAL, "the redirect has a bad %%-escape");
				goto out;
			}
		}
		s = amp ? amp + 1 : end;
	}
	if (!p.state || !fa_ct_streq(p.state, expected_state)) {
		rc = fa_err_set(err, FA_EINVAL, "the redirect's state does not match this login");
		goto out;
	}
	if (p.error) {
		char e[48], d[100];
		cl_sanitize(p.error, e, sizeof(e));
		cl_sanitize(p.error_description, d, sizeof(d));
		rc = fa_err_set(err, FA_EDENIED, "the authorization server refused: %s%s%s", e,
				*d ? ": " : "", d);
		if (err)
			err->oauth_error = cl_oauth_error_name(p.error);
		goto out;
	}
	if (!p.code || !*p.code) {
		rc = fa_err_set(err, FA_EINVAL, "the redirect carries no code");
		goto out;
	}
	*code = p.code;
	p.code = NULL;
out:
	cb_params_cleanup(&p);
	return rc;
}

static void respond(int fd, int status, const char *reason, const char *message)
{
	char page[512], msg[600 + 256];
	int plen = snprintf(page, sizeof(page),
			    "<!doctype html><html><head><meta charset=\"utf-8\"><title>flyteauth"
			    "</title></head><body><p>%s</p></body></html>\n", message);
	int mlen;

	if (plen < 0 || (size_t)plen >= sizeof(page))
		return;
	mlen = snprintf(msg, sizeof(msg), "HTTP/1.1 %d %s\r\nContent-Type: text/html; "
			"charset=utf-8\r\nContent-Length: %d\r\nCache-Control: no-store\r\n"
			"Referrer-Policy: no-referrer\r\nConnection: close\r\n\r\n%s",
			status, reason, plen, page);
	if (mlen > 0 && (size_t)mlen < sizeof(msg))
		(void)!send(fd, msg, (size_t)mlen, MSG_NOSIGNAL);
}

/* Reads one request head (bounded, with a per-connection timeout). */
static bool read_request(int fd, char *buf, size_t cap, size_t *len)
{
	int64_t deadline = fa_mono_ms() + CL_CALLBACK_READ_MS;

	*len = 0;
	while (*len + 1 < cap) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - fa_mono_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return false;
		ssize_t r = recv(fd, buf + *len, cap - 1 - *len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		*len += (size_t)r;
		buf[*len] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return true;
	}
	return false;
}

/* Handles one connection. FA_OK with *code when the login is done;
 * FA_EDENIED when the server said no; FA_EAGAIN-like FA_ECONFLICT when the
 * request was not for us (keep waiting). */
static enum fa_rc serve_one(const struct fa_client *c, int lfd, const struct cl_redirect *r,
			    const char *state, char **code, struct fa_err *err)
{
	char buf[CL_MAX_CALLBACK_REQUEST];
	size_t len, plen = strlen(r->path);
	struct fa_err e;
	enum fa_rc rc;
	const char *target, *sp, *q;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return FA_ECONFLICT;
	if (!read_request(fd, buf, sizeof(buf), &len) || strncmp(buf, "GET ", 4)) {
		respond(fd, 400, "Bad Request", "Bad request.");
		close(fd);
		return FA_ECONFLICT;
	}
	target = buf + 4;
	sp = strchr(target, ' ');
	q = memchr(target, '?', sp ? (size_t)(sp - target) : 0);
	if (!sp || (size_t)((q ? q : sp) - target) != plen || strncmp(target, r->path, plen)) {
		respond(fd, 404, "Not Found", "Not found.");
		close(fd);
		return FA_ECONFLICT;
	}
	rc = cl_callback_parse(q ? q + 1 : sp, q ? (size_t)(sp - q - 1) : 0, state, code, &e);
	if (rc == FA_OK) {
		respond(fd, 200, "OK", "Login complete. You can close this window and return to "
			"the terminal.");
	} else if (rc == FA_EDENIED) {
		respond(fd, 200, "OK", "Login failed. See the terminal for details.");
		if (err)
			*err = e;
	} else {
		respond(fd, 400, "Bad Request", "This address does not belong to the login in "
			"progress.");
		cl_warn(c, "ignored a request on the login redirect: %s", e.msg);
		rc = FA_ECONFLICT;
	}
	fa_memzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

/* A pasted address: everything after '?' is the callback's query. */
static enum fa_rc pasted(const struct fa_client *c, const char *line, const char *state,
			 char **code, struct fa_err *err)
{
	const char *q = strchr(line, '?');
	size_t n;
	struct fa_err e;
	enum fa_rc rc;

	if (!q) {
		fprintf(c->prompt, "That is not the address of the login redirect; paste the whole "
			"address (with ?code=...&state=...).\n");
		return FA_ECONFLICT;
	}
	n = strcspn(q + 1, "# \r\n");
	rc = cl_callback_parse(q + 1, n, state, code, &e);
	if (rc == FA_OK)
		return FA_OK;
	if (rc == FA_EDENIED) {
		if (err)
			*err = e;
		return rc;
	}
	fprintf(c->prompt, "That address does not belong to this login: %s\n", e.msg);
	return FA_ECONFLICT;
}

/* Handles every complete line in buf (a pasted address each); keeps a
 * partial last line; drops a line longer than the buffer. */
static enum fa_rc pasted_lines(const struct fa_client *c, char *buf, size_t *len, size_t cap,
			       const char *state, char **code, struct fa_err *err)
{
	enum fa_rc rc = FA_ECONFLICT;
	char *nl;

	while (rc == FA_ECONFLICT && (nl = memchr(buf, '\n', *len)) != NULL) {
		size_t used = (size_t)(nl - buf) + 1;
		*nl = '\0';
		rc = pasted(c, buf, state, code, err);
		memmove(buf, buf + used, *len - used);
		*len -= used;
		buf[*len] = '\0';
	}
	if (rc == FA_ECONFLICT && *len + 1 >= cap)
		*len = 0;
	return rc;
}

enum fa_rc cl_listener_wait(const struct fa_client *c, struct cl_listener *l,
			    const struct cl_redirect *r, const char *state, int64_t deadline,
			    int paste_fd, char **code, struct fa_err *err)
{
	char line[CL_MAX_CALLBACK_REQUEST];
	size_t llen = 0;
	enum fa_rc rc = FA_ECONFLICT;

	*code = NULL;
	while (rc == FA_ECONFLICT) {
		struct pollfd p[3];
		nfds_t n = 0, paste_idx;
		int64_t left = deadline - fa_mono_ms();
		int k;

		if (left <= 0) {
			rc = fa_err_set(err, FA_EEXPIRED, "the login was not completed in time "
					"(pkceConfig.timeout)");
			break;
		}
		for (size_t i = 0; i < l->n; i++)
			p[n++] = (struct pollfd){ .fd = l->fds[i], .events = POLLIN };
		paste_idx = n;
		if (paste_fd >= 0)
			p[n++] = (struct pollfd){ .fd = paste_fd, .events = POLLIN };
		k = poll(p, n, (int)(left > 1000 ? 1000 : left));
		if (k < 0 && errno != EINTR) {
			rc = fa_err_set(err, FA_EIO, "waiting for the login redirect: %s",
					strerror(errno));
			break;
		}
		for (nfds_t i = 0; k > 0 && i < n && rc == FA_ECONFLICT; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (paste_fd < 0 || i != paste_idx) {
				rc = serve_one(c, p[i].fd, r, state, code, err);
				continue;
			}
			ssize_t got = read(paste_fd, line + llen, sizeof(line) - 1 - llen);
			if (got <= 0) {
				paste_fd = -1;          /* stdin closed: keep listening */
				continue;
			}
			llen += (size_t)got;
			line[llen] = '\0';
			rc = pasted_lines(c, line, &llen, sizeof(line), state, code, err);
		}
	}
	fa_memzero(line, sizeof(line));
	return rc;
}

/* ---- the browser ---------------------------------------------------------------------------- */

bool cl_open_browser(const char *url)
{
	const char *browser = getenv("BROWSER");
	const char *opener = NULL;
	pid_t pid;
	int status;

	if (!browser || !*browser) {
		browser = NULL;
#ifdef __APPLE__
		opener = "open";
#else
		if ((getenv("DISPLAY") && *getenv("DISPLAY")) ||
		    (getenv("WAYLAND_DISPLAY") && *getenv("WAYLAND_DISPLAY")))
			opener = "xdg-open";
#endif
		if (!opener)
			return false;
	}
	/* Detached by a double fork so nobody has to reap it; its stdout goes
	 * to stderr so `flyteauth token` still prints only the token. */
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		pid_t gc = fork();
		if (gc != 0)
			_exit(gc < 0 ? 1 : 0);
		setsid();
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		dup2(STDERR_FILENO, STDOUT_FILENO);
		if (browser) {
			/* $BROWSER may hold arguments: the shell splits it; the URL
			 * travels as "$1", never through the shell's parser. */
			execl("/bin/sh", "sh", "-c", "exec $BROWSER \"$1\"", "flyteauth-browser", url,
			      (char *)NULL);
		} else {
			execlp(opener, opener, url, (char *)NULL);
		}
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ---- the flow -------------------------------------------------------------------------------- */

static enum fa_rc authorize_url(struct fa_client *c, const char *client_id,
				const char *redirect, const char *state, const char *challenge,
				struct fa_buf *url)
{
	const char *ae = c->md.authorization_endpoint;
	struct fa_buf q;
	enum fa_rc rc;

	fa_buf_init(&q, FA_MAX_REQUEST_LINE);
	/* In the order the printed URL has always had. */
	rc = fa_remote_form_pairs(&q, (const char *const[]){
		"response_type", "code", "client_id", client_id, "redirect_uri", redirect, NULL });
	if (rc == FA_OK)
		rc = cl_form_scope_audience(c, &q);
	if (rc == FA_OK)
		rc = fa_remote_form_pairs(&q, (const char *const[]){
			"state", state, "code_challenge", challenge, "code_challenge_method", "S256",
			NULL });
	if (rc == FA_OK)
		rc = fa_buf_appendf(url, "%s%c%s", ae, strchr(ae, '?') ? '&' : '?', q.data);
	fa_buf_cleanup(&q);
	return rc;
}

static enum fa_rc exchange(struct fa_client *c, const char *token_url, const char *client_id,
			   const char *redirect, const char *code, const char *verifier,
			   struct cl_token *t, struct fa_err *err)
{
	struct fa_buf form;
	enum fa_rc rc;

	fa_buf_init(&form, FA_MAX_BODY);
	rc = fa_remote_form_pairs(&form, (const char *const[]){
		"grant_type", "authorization_code", "code", code, "redirect_uri", redirect,
		"client_id", client_id, "code_verifier", verifier, NULL });
	if (rc != FA_OK)
		rc = fa_err_set(err, rc, "the code exchange is too large");
	else
		rc = cl_token_request(c, token_url, form.data, NULL, NULL, t, err);
	fa_buf_cleanup(&form);
	return rc;
}

enum fa_rc cl_flow_pkce(struct fa_client *c, struct cl_token *t, struct fa_err *err)
{
	char verifier[FA_TOKEN_CHARS + 1], challenge[FA_TOKEN_CHARS + 1];
	char state[FA_TOKEN_CHARS + 1];
	struct cl_listener l = { { -1, -1 }, 0 };
	struct cl_redirect r;
	struct fa_buf url;
	const char *client_id, *redirect, *token_url;
	char *code = NULL;
	enum fa_rc rc;

	fa_buf_init(&url, FA_MAX_REQUEST_LINE + FA_MAX_REDIRECT_URI);
	rc = cl_discover_metadata(c, err);
	if (rc == FA_OK)
		rc = cl_discover_public(c, err);
	if (rc != FA_OK)
		goto out;
	if (!*c->md.authorization_endpoint) {
		rc = fa_err_set(err, FA_EUNSUPPORTED, "the metadata of %s has no "
				"authorization_endpoint", c->s.base_url);
		goto out;
	}
	client_id = cl_effective_client_id(c, "flytectl");
	redirect = *c->pub.redirect_uri ? c->pub.redirect_uri : "http://localhost:53593/callback";
	token_url = *c->cfg->token_url ? c->cfg->token_url : c->md.token_endpoint;
	rc = cl_redirect_parse(redirect, &r, err);
	if (rc != FA_OK)
		goto out;
	if (fa_rand_token(verifier) != FA_OK ||
	    fa_sha256_b64url(verifier, strlen(verifier), challenge) != FA_OK ||
	    fa_rand_token(state) != FA_OK) {
		rc = fa_err_set(err, FA_ECRYPTO, "cannot make the PKCE verifier");
		goto out;
	}
	if (authorize_url(c, client_id, redirect, state, challenge, &url) != FA_OK) {
		rc = fa_err_set(err, FA_ETOOBIG, "the authorization URL is too long");
		goto out;
	}
	rc = cl_listener_open(&r, &l, err);
	if (rc != FA_OK)
		goto out;
	fprintf(c->prompt, "Log in to %s in your browser:\n  %s\n", c->s.base_url, url.data);
	if (c->paste)
		fprintf(c->prompt, "If your browser is on another machine, paste the address it "
			"ends on (%s?...) here.\n", redirect);
	fflush(c->prompt);
	cl_open_browser(url.data);
	rc = cl_listener_wait(c, &l, &r, state, fa_mono_ms() + c->cfg->pkce_timeout_ms,
			      c->paste ? STDIN_FILENO : -1, &code, err);
	cl_listener_close(&l);
	if (rc != FA_OK)
		goto out;
	rc = exchange(c, token_url, client_id, redirect, code, verifier, t, err);
	if (rc == FA_OK && cl_token_bind(c, client_id, token_url, t) != FA_OK)
		rc = fa_err_set(err, FA_ENOMEM, "out of memory");
out:
	cl_listener_close(&l);
	fa_memzero(verifier, sizeof(verifier));
	fa_memzero(state, sizeof(state));
	fa_free_secret(code);
	fa_buf_cleanup(&url);
	return rc;
}
