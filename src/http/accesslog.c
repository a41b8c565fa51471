/* accesslog.c -- the access log of one worker thread, buffered.
 *
 * Writing each request's line straight to the log stream cost a formatted
 * stdio call and a write(2) per request, the largest user-space cost of a
 * fast request after the crypto. Each worker now gathers its lines in a
 * buffer of FA_HTTP_ALOG_BUF bytes and writes them with one call.
 *
 * Invariants:
 *   1. A buffer holds whole lines only, each exactly as fa_log_event
 *      would write it (text or JSON, per the logger's format; rendered by
 *      fa_log_render_event), in the order the worker completed
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
#include <stdio.h>
#include <string.h>

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

/* fa_log_stamp of now_ms, with the calendar conversion done once a
 * second per buffer, not once a request: only the milliseconds change
 * within a second. Lock held. */
static const char *stamp(struct fa_http_alog *l, int64_t now_ms)
{
	int64_t s = now_ms / 1000;
	int ms = (int)(now_ms % 1000);

	if (s != l->stamp_s) {
		fa_log_stamp(now_ms, l->stamp);
		l->stamp_s = s;
	}
	/* "....:SS.mmmZ": the three digits before the Z. */
	l->stamp[FA_LOG_STAMP_LEN - 4] = (char)('0' + ms / 100);
	l->stamp[FA_LOG_STAMP_LEN - 3] = (char)('0' + ms / 10 % 10);
	l->stamp[FA_LOG_STAMP_LEN - 2] = (char)('0' + ms % 10);
	return l->stamp;
}

void fa_http_alog_add(struct fa_http_alog *l, const char *msg, const struct fa_log_field *f,
		      size_t n)
{
	int64_t now_ms = fa_now_ms(), mono = fa_mono_ms();
	size_t m;

	if (!fa_log_enabled(l->log, FA_LOG_INFO))
		return;
	pthread_mutex_lock(&l->lock);
	if (sizeof(l->buf) - l->len < FA_HTTP_ALOG_LINE)
		write_out(l);
	if (l->len == 0)
		l->first_mono = mono;
	m = fa_log_render_event(l->log, FA_LOG_INFO, stamp(l, now_ms), msg, f, n,
				l->buf + l->len, sizeof(l->buf) - l->len);
	l->len += m;
	if (mono - l->first_mono >= FA_HTTP_ALOG_FLUSH_MS / 2)
		write_out(l);
	pthread_mutex_unlock(&l->lock);
}
