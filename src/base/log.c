/* log.c -- the logger: one line per call, as text or as a JSON object
 * (flytestdlib's logger.formatter.type), with a UTC time stamp and level;
 * structured lines with named fields; and audit events.
 *
 * It is passed down explicitly; there is no global logger. It never
 * decides what is safe to log: callers must not pass tokens, codes or
 * secrets. What it does guarantee is the shape of a line: a value cannot
 * end it early or forge another one (escaped in JSON, quoted or replaced
 * in text), and a line cut at FA_LOG_LINE_MAX is still one whole line --
 * in JSON, still one valid object.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/base.h"

/* Room kept at the end of a line for the closing brace of a JSON line and
 * the newline. */
#define LINE_RESERVE 2

/* A line being built in caller memory (a stack buffer, or a batch of
 * lines: fa_log_render_event). Appends past the end are dropped; `cut`
 * remembers that something was. */
struct line {
	char *b;
	size_t len;
	size_t cap;       /* usable bytes: LINE_RESERVE less than b's */
	bool cut;
};

static void line_init(struct line *l, char *b, size_t size)
{
	l->b = b;
	l->len = 0;
	l->cap = size - LINE_RESERVE;
	l->cut = false;
}

static void put_raw(struct line *l, const char *s, size_t n)
{
	if (l->len + n > l->cap) {
		n = l->cap - l->len;
		l->cut = true;
	}
	memcpy(l->b + l->len, s, n);
	l->len += n;
}

static void put_str(struct line *l, const char *s)
{
	put_raw(l, s, strlen(s));
}

/* A JSON string (RFC 8259 §7) in quotes. Cut at a character boundary
 * when the line is full; the closing quote always fits. The caller has
 * made sure the two quotes fit (put_field, head). */
static void put_json(struct line *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	l->b[l->len++] = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[7];
		size_t n = 0;

		if (c == '"' || c == '\\') {
			esc[n++] = '\\';
			esc[n++] = (char)c;
		} else if (c < 0x20 || c == 0x7F) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		} else {
			esc[n++] = (char)c;
		}
		if (l->len + n + 1 > l->cap) {
			l->cut = true;
			break;
		}
		memcpy(l->b + l->len, esc, n);
		l->len += n;
	}
	l->b[l->len++] = '"';
}

static bool text_plain(unsigned char c)
{
	return c > 0x20 && c < 0x7F && c != '"' && c != '\\' && c != '=';
}

/* A text field value: as it is when it is plain visible ASCII, else in
 * quotes with '"' and '\' escaped and control or non-ASCII bytes as '?'. */
static void put_text_value(struct line *l, const char *s)
{
	bool plain = *s != '\0';

	for (const char *p = s; *p && plain; p++)
		plain = text_plain((unsigned char)*p);
	if (plain) {
		put_str(l, s);
		return;
	}
	put_raw(l, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			put_raw(l, "\\", 1);
		put_raw(l, (c >= 0x20 && c < 0x7F) ? s : "?", 1);
	}
	put_raw(l, "\"", 1);
}

void fa_log_stamp(int64_t ms, char out[FA_LOG_STAMP_LEN + 1])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(out, FA_LOG_STAMP_LEN + 1, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, FA_LOG_STAMP_LEN + 1 - n, ".%03dZ", (int)(ms % 1000));
}

/* Starts a line in b (size bytes) with time stamp ts (NULL: now). */
static void head(struct line *l, char *b, size_t size, const struct fa_log *log,
		 enum fa_log_level lvl, const char *ts)
{
	/* JSON: logrus's level names, which log pipelines for Flyte expect. */
	static const char *const json_tags[] = { "debug", "info", "warning", "error" };
	static const char *const text_tags[] = { "debug", "info", "warn", "error" };
	char now[FA_LOG_STAMP_LEN + 1];

	if (!ts) {
		fa_log_stamp(fa_now_ms(), now);
		ts = now;
	}
	line_init(l, b, size);
	if (log && log->format == FA_LOG_JSON) {
		put_str(l, "{\"ts\":\"");
		put_str(l, ts);
		put_str(l, "\",\"level\":\"");
		put_str(l, json_tags[lvl]);
		put_str(l, "\",\"msg\":");
		return;
	}
	put_str(l, ts);
	put_str(l, " ");
	put_str(l, text_tags[lvl]);
	put_str(l, " ");
}

static void put_field(struct line *l, bool json, const struct fa_log_field *f)
{
	char num[24];

	if (!f->key || (!f->is_num && !f->str))
		return;
	/* A field starts only when its key and two quotes fit, so that a
	 * JSON line never ends inside a key or before a value. */
	if (l->cut || l->len + strlen(f->key) + 32 > l->cap) {
		l->cut = true;
		return;
	}
	if (f->is_num)
		snprintf(num, sizeof(num), "%lld", (long long)f->num);
	put_str(l, json ? "," : " ");
	if (json) {
		put_json(l, f->key);
		put_str(l, ":");
		if (f->is_num)
			put_str(l, num);
		else
			put_json(l, f->str);
	} else {
		put_str(l, f->key);
		put_str(l, "=");
		put_text_value(l, f->is_num ? num : f->str);
	}
}

/* Ends the line: the JSON object's brace, the newline. */
static void finish(const struct fa_log *log, struct line *l)
{
	if (log && log->format == FA_LOG_JSON)
		l->b[l->len++] = '}';
	l->b[l->len++] = '\n';
}

/* One fwrite per line: stdio's per-call lock keeps lines whole. */
static void emit(const struct fa_log *log, struct line *l)
{
	FILE *fp = log && log->fp ? log->fp : stderr;

	finish(log, l);
	(void)fwrite(l->b, 1, l->len, fp);
	(void)fflush(fp);
}

bool fa_log_enabled(const struct fa_log *log, enum fa_log_level lvl)
{
	return lvl <= FA_LOG_ERROR && (!log || lvl >= log->min);
}

enum fa_rc fa_log_level_parse(const char *s, enum fa_log_level *out)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };

	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		if (s && strcasecmp(s, names[i]) == 0) {
			*out = (enum fa_log_level)i;
			return FA_OK;
		}
	}
	return FA_EINVAL;
}

static void log_v(const struct fa_log *log, enum fa_log_level lvl, const char *suffix,
		  const char *fmt, va_list ap) FA_PRINTF(4, 0);

static void log_v(const struct fa_log *log, enum fa_log_level lvl, const char *suffix,
		  const char *fmt, va_list ap)
{
	char msg[FA_LOG_LINE_MAX], b[FA_LOG_LINE_MAX];
	struct line l;
	int n;

	if (!fa_log_enabled(log, lvl))
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if (suffix && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", suffix);
	head(&l, b, sizeof(b), log, lvl, NULL);
	if (log && log->format == FA_LOG_JSON)
		put_json(&l, msg);
	else
		put_str(&l, msg);
	emit(log, &l);
}

void fa_log(const struct fa_log *log, enum fa_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(log, lvl, NULL, fmt, ap);
	va_end(ap);
}

void fa_log_warn(const struct fa_log *log, const char *fmt, ...)
{
	char ebuf[128];
	int saved = errno;
	va_list ap;

	/* GNU strerror_r returns the message pointer. */
	const char *e = strerror_r(saved, ebuf, sizeof(ebuf));

	va_start(ap, fmt);
	log_v(log, FA_LOG_WARN, e, fmt, ap);
	va_end(ap);
	errno = saved;
}

void fa_log_warnx(const struct fa_log *log, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(log, FA_LOG_WARN, NULL, fmt, ap);
	va_end(ap);
}

/* The message and fields of an event line. */
static void event_body(struct line *l, bool json, const char *msg,
		       const struct fa_log_field *fields, size_t n)
{
	if (json)
		put_json(l, msg);
	else
		put_str(l, msg);
	for (size_t i = 0; i < n && i < FA_LOG_MAX_FIELDS; i++)
		put_field(l, json, &fields[i]);
}

void fa_log_event(const struct fa_log *log, enum fa_log_level lvl, const char *msg,
		  const struct fa_log_field *fields, size_t n)
{
	char b[FA_LOG_LINE_MAX];
	struct line l;

	if (!fa_log_enabled(log, lvl))
		return;
	head(&l, b, sizeof(b), log, lvl, NULL);
	event_body(&l, log && log->format == FA_LOG_JSON, msg, fields, n);
	emit(log, &l);
}

size_t fa_log_render_event(const struct fa_log *log, enum fa_log_level lvl, const char *ts,
			   const char *msg, const struct fa_log_field *fields, size_t n,
			   char *out, size_t cap)
{
	struct line l;

	if (cap < FA_LOG_RENDER_MIN)
		return 0;
	if (cap > FA_LOG_LINE_MAX)
		cap = FA_LOG_LINE_MAX;
	head(&l, out, cap, log, lvl, ts);
	event_body(&l, log && log->format == FA_LOG_JSON, msg, fields, n);
	finish(log, &l);
	return l.len;
}

void fa_log_audit(const struct fa_log *log, const struct fa_audit *ev)
{
	const struct fa_log_field f[] = {
		{ .key = "event", .str = ev->event },
		{ .key = "outcome", .str = ev->outcome },
		{ .key = "subject", .str = ev->subject },
		{ .key = "client_id", .str = ev->client_id },
		{ .key = "grant_type", .str = ev->grant_type },
		{ .key = "reason", .str = ev->reason },
		{ .key = "remote_addr", .str = ev->remote_addr },
		{ .key = "request_id", .str = ev->request_id },
	};

	fa_log_event(log, FA_LOG_INFO, "audit", f, ARRAY_LEN(f));
}
