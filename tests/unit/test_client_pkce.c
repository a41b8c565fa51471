/* test_client_pkce.c -- the interactive parts of the client: PKCE (the RFC
 * 7636 Appendix B vector, CSPRNG verifiers), redirect URIs (loopback only),
 * the callback's parameters (state checked, repeats and bad escapes
 * refused, error answers), the loopback listener driven by a forked
 * "browser" (wrong paths and states answered and ignored, the code
 * returned, a denial reported, a busy port, the timeout), a pasted address,
 * the device-flow polling rules, and the terminal QR code. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qrencode.h>

#include "client/client_int.h"

static void test_rfc7636_appendix_b(void **state)
{
	static const char verifier[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
	char challenge[FA_TOKEN_CHARS + 1];

	(void)state;
	assert_int_equal(fa_sha256_b64url(verifier, strlen(verifier), challenge), FA_OK);
	assert_string_equal(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

static void test_verifier_random(void **state)
{
	char a[FA_TOKEN_CHARS + 1], b[FA_TOKEN_CHARS + 1];

	(void)state;
	assert_int_equal(fa_rand_token(a), FA_OK);
	assert_int_equal(fa_rand_token(b), FA_OK);
	assert_int_equal(strlen(a), 43);     /* RFC 7636 §4.1: 43..128 */
	assert_string_not_equal(a, b);
	for (size_t i = 0; i < 43; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789-_", a[i]));
}

static void test_redirect_parse(void **state)
{
	struct cl_redirect r;
	struct fa_err err;

	(void)state;
	assert_int_equal(cl_redirect_parse("http://localhost:53593/callback", &r, &err), FA_OK);
	assert_string_equal(r.host, "localhost");
	assert_int_equal(r.port, 53593);
	assert_string_equal(r.path, "/callback");
	assert_int_equal(cl_redirect_parse("http://127.0.0.1:8/", &r, &err), FA_OK);
	assert_int_equal(cl_redirect_parse("http://[::1]:9", &r, &err), FA_OK);
	assert_string_equal(r.host, "[::1]");
	assert_string_equal(r.path, "/");
	assert_int_equal(cl_redirect_parse("https://localhost:1/cb", &r, &err), FA_EINVAL);
	assert_string_equal(err.msg, "redirect URI \"https://localhost:1/cb\" is not an http:// "
			    "loopback address");
	/* test_open_redirect: the code must never be delivered off this machine. */
	assert_int_equal(cl_redirect_parse("http://evil.example.com:53593/callback", &r, &err),
			 FA_EINVAL);
	assert_non_null(strstr(err.msg, "the host must be localhost, 127.0.0.1 or [::1]"));
	assert_int_equal(cl_redirect_parse("http://localhost.evil.com:1/cb", &r, &err), FA_EINVAL);
	assert_int_equal(cl_redirect_parse("http://127.0.0.1.evil.com:1/cb", &r, &err), FA_EINVAL);
	/* Any address of 127/8 is this machine's loopback (base's one
	 * predicate); the listener binds that very address. Refused before. */
	assert_int_equal(cl_redirect_parse("http://127.0.0.2:53593/callback", &r, &err), FA_OK);
	assert_string_equal(r.host, "127.0.0.2");
	assert_int_equal(cl_redirect_parse("http://localhost/callback", &r, &err), FA_EINVAL);
	assert_non_null(strstr(err.msg, "needs a port"));
	assert_int_equal(cl_redirect_parse("http://localhost:0/cb", &r, &err), FA_EINVAL);
	assert_int_equal(cl_redirect_parse("http://localhost:1/cb?x=1", &r, &err), FA_EINVAL);
}

static void test_callback_parse(void **state)
{
	struct fa_err err;
	char *code = NULL;
	const char *q;

	(void)state;
	q = "code=abc%2Bdef&state=S1";
	assert_int_equal(cl_callback_parse(q, strlen(q), "S1", &code, &err), FA_OK);
	assert_string_equal(code, "abc+def");
	fa_free_secret(code);
	q = "state=S1&iss=http%3A%2F%2Fx&code=c";
	assert_int_equal(cl_callback_parse(q, strlen(q), "S1", &code, &err), FA_OK);
	assert_string_equal(code, "c");
	fa_free_secret(code);
	code = NULL;
	/* test_login_csrf: a code for another login (wrong or no state). */
	q = "code=abc&state=S2";
	assert_int_equal(cl_callback_parse(q, strlen(q), "S1", &code, &err), FA_EINVAL);
	assert_string_equal(err.msg, "the redirect's state does not match this login");
	assert_null(code);
	q = "code=abc";
	assert_int_equal(cl_callback_parse(q, strlen(q), "S1", &code, &err), FA_EINVAL);
	q = "code=abc&state=S1&code=other";
	assert_int_equal(cl_callback_parse(q, strlen(q), "S1", &code, &err), FA_EINVAL);
	assert_string_equal(err.msg, "the redirect repeats a parameter");
	q = "code=a%zz&state=S1";
	assert_int_equal(cl_callback_parse(q, strlen(q), "S1", &code, &err), FA_EINVAL);
	assert_string_equal(err.msg, "the redirect has a bad %-escape");
	q = "code=a%00b&state=S1";
	assert_int_equal(cl_callback_parse(q, strlen(q), "S1", &code, &err), FA_EINVAL);
	q = "code=a%2&state=S1";
	assert_int_equal(cl_callback_parse(q, strlen(q), "S1", &code, &err), FA_EINVAL);
	q = "state=S1";
	assert_int_equal(cl_callback_parse(q, strlen(q), "S1", &code, &err), FA_EINVAL);
	assert_string_equal(err.msg, "the redirect carries no code");
	q = "error=access_denied&error_description=User+said+%1bno&state=S1";
	assert_int_equal(cl_callback_parse(q, strlen(q), "S1", &code, &err), FA_EDENIED);
	assert_string_equal(err.msg, "the authorization server refused: access_denied: User said ?no");
	assert_string_equal(err.oauth_error, "access_denied");
	q = "error=made_up_error&state=S1";
	assert_int_equal(cl_callback_parse(q, strlen(q), "S1", &code, &err), FA_EDENIED);
	assert_null(err.oauth_error);
	/* An error without our state is not believed either. */
	q = "error=access_denied&state=S9";
	assert_int_equal(cl_callback_parse(q, strlen(q), "S1", &code, &err), FA_EINVAL);
	assert_null(code);
}

/* ---- the listener, with a forked browser -------------------------------------------------- */

static int free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* One request from the "browser": returns the status it got, or -1. */
static int browse(int port, const char *target)
{
	struct sockaddr_in a;
	char req[512], resp[1024];
	ssize_t n, total = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", target);
	if (write(fd, req, strlen(req)) < 0) {
		close(fd);
		return -1;
	}
	while ((n = read(fd, resp + total, sizeof(resp) - 1 - (size_t)total)) > 0)
		total += n;
	resp[total] = '\0';
	close(fd);
	if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
		return -1;
	return status;
}

static struct fa_client quiet;

static void prepare(int *port, struct cl_redirect *r, struct cl_listener *l)
{
	struct fa_err err;
	char uri[128];

	memset(&quiet, 0, sizeof(quiet));
	quiet.prompt = stderr;
	*port = free_port();
	snprintf(uri, sizeof(uri), "http://localhost:%d/callback", *port);
	assert_int_equal(cl_redirect_parse(uri, r, &err), FA_OK);
	assert_int_equal(cl_listener_open(r, l, &err), FA_OK);
	assert_true(l->n >= 1);
}

static void test_listener_ignores_strays_returns_code(void **state)
{
	struct cl_redirect r;
	struct cl_listener l;
	struct fa_err err;
	char *code = NULL;
	int port, status;
	pid_t pid;

	(void)state;
	prepare(&port, &r, &l);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ok = browse(port, "/favicon.ico") == 404 &&
			 browse(port, "/callback?code=stolen&state=WRONG") == 400 &&
			 browse(port, "/callback/x?code=c&state=S-123") == 404 &&
			 browse(port, "/callback?code=the-code&state=S-123") == 200;
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(cl_listener_wait(&quiet, &l, &r, "S-123", fa_mono_ms() + 10000, -1, &code,
					  &err), FA_OK);
	assert_string_equal(code, "the-code");
	fa_free_secret(code);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	cl_listener_close(&l);
}

/* A loopback address other than 127.0.0.1 is listened on as written, so
 * the browser's redirect reaches the listener. */
static void test_listener_other_loopback_address(void **state)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct cl_redirect r;
	struct cl_listener l;
	struct fa_err err;
	char uri[128], addr[INET_ADDRSTRLEN];

	(void)state;
	snprintf(uri, sizeof(uri), "http://127.0.0.2:%d/callback", free_port());
	assert_int_equal(cl_redirect_parse(uri, &r, &err), FA_OK);
	assert_int_equal(cl_listener_open(&r, &l, &err), FA_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(getsockname(l.fds[0], (struct sockaddr *)&sa, &len), 0);
	assert_non_null(inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr)));
	assert_string_equal(addr, "127.0.0.2");
	cl_listener_close(&l);
}

static void test_listener_denied(void **state)
{
	struct cl_redirect r;
	struct cl_listener l;
	struct fa_err err;
	char *code = NULL;
	int port, status;
	pid_t pid;

	(void)state;
	prepare(&port, &r, &l);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(browse(port, "/callback?error=access_denied&state=S-1") == 200 ? 0 : 1);
	assert_int_equal(cl_listener_wait(&quiet, &l, &r, "S-1", fa_mono_ms() + 10000, -1, &code,
					  &err), FA_EDENIED);
	assert_string_equal(err.msg, "the authorization server refused: access_denied");
	assert_null(code);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	cl_listener_close(&l);
}

static void test_listener_busy_port_and_timeout(void **state)
{
	struct cl_redirect r;
	struct cl_listener l, l2;
	struct fa_err err;
	char *code = NULL;
	int port;
	int64_t t0;

	(void)state;
	prepare(&port, &r, &l);
	/* A conflict to wait out, naming the port; not a file problem. */
	assert_int_equal(cl_listener_open(&r, &l2, &err), FA_ECONFLICT);
	assert_non_null(strstr(err.msg, "of the login redirect URI is in use on 127.0.0.1: another "
			       "login (flyteauth, flytectl, pyflyte) or another program listens there"));
	assert_null(strstr(fa_client_hint(NULL, &err), "cache"));
	t0 = fa_mono_ms();
	assert_int_equal(cl_listener_wait(&quiet, &l, &r, "S", fa_mono_ms() + 150, -1, &code, &err),
			 FA_EEXPIRED);
	assert_true(fa_mono_ms() - t0 >= 150);
	assert_string_equal(err.msg, "the login was not completed in time (pkceConfig.timeout)");
	cl_listener_close(&l);
}

/* A browser on another machine: the address it landed on, pasted. */
static void test_pasted_address(void **state)
{
	struct cl_redirect r;
	struct cl_listener l;
	struct fa_err err;
	char *code = NULL;
	int port, p[2];
	const char *lines = "not a url\nhttp://localhost:1/callback?code=x&state=OTHER\n"
			    "http://localhost:53593/callback?code=pasted-code&state=S-2\n";

	(void)state;
	prepare(&port, &r, &l);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], lines, strlen(lines)), (ssize_t)strlen(lines));
	assert_int_equal(cl_listener_wait(&quiet, &l, &r, "S-2", fa_mono_ms() + 10000, p[0], &code,
					  &err), FA_OK);
	assert_string_equal(code, "pasted-code");
	fa_free_secret(code);
	close(p[0]);
	close(p[1]);
	cl_listener_close(&l);
}

/* ---- device flow ------------------------------------------------------------------------- */

static void test_device_poll_rules(void **state)
{
	int64_t iv = 5000;

	(void)state;
	assert_int_equal(cl_device_poll_step("authorization_pending", &iv), CL_POLL_WAIT);
	assert_true(iv == 5000);
	assert_int_equal(cl_device_poll_step("slow_down", &iv), CL_POLL_SLOW_DOWN);
	assert_true(iv == 10000);
	assert_int_equal(cl_device_poll_step("slow_down", &iv), CL_POLL_SLOW_DOWN);
	assert_true(iv == 15000);
	assert_int_equal(cl_device_poll_step("expired_token", &iv), CL_POLL_STOP);
	assert_int_equal(cl_device_poll_step("access_denied", &iv), CL_POLL_STOP);
	assert_int_equal(cl_device_poll_step("invalid_client", &iv), CL_POLL_STOP);
	assert_int_equal(cl_device_poll_step(NULL, &iv), CL_POLL_STOP);
	iv = 58000;
	assert_int_equal(cl_device_poll_step("slow_down", &iv), CL_POLL_SLOW_DOWN);
	assert_true(iv == 60000);       /* capped */
}

/* Cell (x, y) of the rendered code: whether it is drawn as light. */
static bool light_at(const char *rendered, int width, int x, int y)
{
	const char *line = rendered;
	static const char full[] = "\xe2\x96\x88", upper[] = "\xe2\x96\x80", lower[] = "\xe2\x96\x84";

	for (int i = 0; i < y / 2; i++)
		line = strchr(line, '\n') + 1;
	/* every cell is one 3-byte block or a 1-byte space */
	const char *p = line;
	for (int i = 0; i < x; i++)
		p += *p == ' ' ? 1 : 3;
	(void)width;
	if (*p == ' ')
		return false;
	if (!strncmp(p, full, 3))
		return true;
	if (y % 2 == 0)
		return !strncmp(p, upper, 3);
	return !strncmp(p, lower, 3);
}

static void test_qr_render(void **state)
{
	const char *text = "https://flyte.example.com/device?user_code=ABCD-EFGH";
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	struct fa_buf out;
	struct fa_err err;
	int total, lines = 0;

	(void)state;
	assert_non_null(q);
	fa_buf_init(&out, 64 * 1024);
	assert_int_equal(cl_qr_render(text, &out, &err), FA_OK);
	total = q->width + 4;
	for (const char *p = out.data; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, (total + 1) / 2);
	/* The quiet zone is light; every module matches libqrencode's. */
	for (int x = 0; x < total; x++) {
		assert_true(light_at(out.data, total, x, 0));
		assert_true(light_at(out.data, total, x, 1));
	}
	for (int y = 0; y < q->width; y++)
		for (int x = 0; x < q->width; x++)
			assert_int_equal(light_at(out.data, total, x + 2, y + 2),
					 !(q->data[y * q->width + x] & 1));
	/* The finder pattern's corner is dark. */
	assert_false(light_at(out.data, total, 2, 2));
	fa_buf_cleanup(&out);
	QRcode_free(q);

	char big[1100];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fa_buf_init(&out, 64 * 1024);
	assert_int_equal(cl_qr_render(big, &out, &err), FA_ETOOBIG);
	assert_string_equal(err.msg, "text too long for a QR code");
	fa_buf_cleanup(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7636_appendix_b),
		cmocka_unit_test(test_verifier_random),
		cmocka_unit_test(test_redirect_parse),
		cmocka_unit_test(test_callback_parse),
		cmocka_unit_test(test_listener_ignores_strays_returns_code),
		cmocka_unit_test(test_listener_other_loopback_address),
		cmocka_unit_test(test_listener_denied),
		cmocka_unit_test(test_listener_busy_port_and_timeout),
		cmocka_unit_test(test_pasted_address),
		cmocka_unit_test(test_device_poll_rules),
		cmocka_unit_test(test_qr_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
