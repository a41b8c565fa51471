/* accesslog.c -- the access log of one worker thread, buffered.
 *
 * Writing each request's line straight to the log stream cost a formatted
 * stdio call and a write(2) per request, the largest user-space cost of a
 * fast request after the crypto. Each worker now gathers its lines in a
 * buffer of FA_HTTP_ALOG_BUF bytes and writes them with one call.
 *
 * Invariants:
 *   1. A buffer holds whole lines only, each in the format of fa_log
 *      ("<UTC time> info http ..."), in the order the worker completed
 *      its requests; a flush writes all of them with one fwrite + fflush
 *      under the stream's lock, so lines stay whole and in order per
 *      worker. A flush is at most FA_HTTP_ALOG_BUF (= PIPE_BUF) bytes,
 *      so it stays one atomic write even when the log is a pipe shared
 *      with other writers.
 *   2. No line waits longer than FA_HTTP_ALOG_FLUSH_MS: the worker flushes
 *      when its oldest line is that old, the server's acceptor thread
 *      flushes idle workers on its tick (listen.c), and fa_http_stop
 *      flushes everything after the last request.
 *   3. The buffer's lock is taken by its worker and by those two flushers
 *      only; nothing else blocks a worker.
 * Lines from different workers interleave by flush, not by request, and a
 * handler's own log lines (fa_log, unbuffered) may come before the access
 * lines of earlier requests.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/http_int.h"

void fa_http_alog_init(struct fa_http_alog *l, const struct fa_log *log)
{
	memset(l, 0, sizeof(*l));
	l->log = log;
	l->stamp_s = -1;
	pthread_mutex_init(&l->lock, NULL);
}

void fa_http_alog_cleanup(struct fa_http_alog *l)
{
	fa_http_alog_flush(l, INT64_MAX);
	pthread_mutex_destroy(&l->lock);
}

static bool enabled(const struct fa_http_alog *l)
{
	return l->log->min <= FA_LOG_INFO;
}

/* Writes the buffer out. Lock held. */
static void write_out(struct fa_http_alog *l)
{
	FILE *fp = l->log->fp ? l->log->fp : stderr;

	if (l->len == 0)
		return;
	flockfile(fp);
	(void)fwrite(l->buf, 1, l->len, fp);
	(void)fflush(fp);
	funlockfile(fp);
	l->len = 0;
}

void fa_http_alog_flush(struct fa_http_alog *l, int64_t now_ms)
{
	pthread_mutex_lock(&l->lock);
	if (l->len && (now_ms == INT64_MAX || now_ms - l->first_mono >= FA_HTTP_ALOG_FLUSH_MS / 2))
		write_out(l);
	pthread_mutex_unlock(&l->lock);
}

/* "YYYY-MM-DDTHH:MM:SS" of the current second, kept per buffer so that the
 * calendar conversion runs once a second, not once a request. Lock held. */
static const char *stamp(struct fa_http_alog *l, int64_t now_ms)
{
	int64_t s = now_ms / 1000;

	if (s != l->stamp_s) {
		time_t t = (time_t)s;
		struct tm tm;

		gmtime_r(&t, &tm);
		if (strftime(l->stamp, sizeof(l->stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
			l->stamp[0] = '\0';
		l->stamp_s = s;
	}
	return l->stamp;
}

void fa_http_alog_add(struct fa_http_alog *l, const char *fmt, ...)
{
	char line[FA_HTTP_ALOG_LINE];
	int64_t now_ms = fa_now_ms(), mono = fa_mono_ms();
	va_list ap;
	int n, m;

	if (!enabled(l))
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;   /* callers bound their fields; never here */
	pthread_mutex_lock(&l->lock);
	/* 24 bytes of time, " info ", the line and its newline. */
	if (l->len + (size_t)n + 32 > sizeof(l->buf))
		write_out(l);
	if (l->len == 0)
		l->first_mono = mono;
	m = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s.%03dZ info %.*s\n",
		     stamp(l, now_ms), (int)(now_ms % 1000), n, line);
	if (m > 0 && (size_t)m < sizeof(l->buf) - l->len)
		l->len += (size_t)m;
	if (mono - l->first_mono >= FA_HTTP_ALOG_FLUSH_MS / 2)
		write_out(l);
	pthread_mutex_unlock(&l->lock);
}
