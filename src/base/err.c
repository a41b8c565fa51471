/* err.c -- error codes, the caller-owned error record, and the logger.
 *
 * The logger writes one line per call with a UTC timestamp and level. It is
 * passed down explicitly; there is no global logger. It never decides what
 * is safe to log: callers must not pass tokens, codes or secrets.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/base.h"

const char *fa_rc_str(enum fa_rc rc)
{
	/* No default: -Wswitch under -Werror catches a code left out. */
	switch (rc) {
	case FA_OK: return "ok";
	case FA_ENOMEM: return "out of memory";
	case FA_EINVAL: return "invalid input";
	case FA_ETOOBIG: return "input too large";
	case FA_EIO: return "input/output error";
	case FA_ECRYPTO: return "cryptographic failure";
	case FA_ENOTFOUND: return "not found";
	case FA_EEXIST: return "already exists";
	case FA_EDENIED: return "denied";
	case FA_ECONFLICT: return "conflict";
	case FA_EEXPIRED: return "expired";
	case FA_EUNSUPPORTED: return "unsupported";
	case FA_ESTORE: return "store failure";
	case FA_ENET: return "network failure";
	case FA_ECONFIG: return "configuration error";
	case FA_EUSAGE: return "usage error";
	}
	return "unknown error";
}

void fa_err_clear(struct fa_err *err)
{
	if (!err)
		return;
	err->rc = FA_OK;
	err->oauth_error = NULL;
	err->msg[0] = '\0';
}

/* Records rc and the message; with `code` also the OAuth error code
 * (fa_err_set leaves an earlier one in place). */
static enum fa_rc err_vset(struct fa_err *err, enum fa_rc rc, bool code, const char *oauth_error,
			   const char *fmt, va_list ap) FA_PRINTF(5, 0);

static enum fa_rc err_vset(struct fa_err *err, enum fa_rc rc, bool code, const char *oauth_error,
			   const char *fmt, va_list ap)
{
	if (!err)
		return rc;
	err->rc = rc;
	if (code)
		err->oauth_error = oauth_error;
	if (fmt)
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	else
		snprintf(err->msg, sizeof(err->msg), "%s", fa_rc_str(rc));
	return rc;
}

enum fa_rc fa_err_set(struct fa_err *err, enum fa_rc rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rc = err_vset(err, rc, false, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

enum fa_rc fa_err_oauth(struct fa_err *err, enum fa_rc rc, const char *oauth_error,
			const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rc = err_vset(err, rc, true, oauth_error, fmt, ap);
	va_end(ap);
	return rc;
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
	static const char *const tags[] = { "debug", "info", "warn", "error" };
	char line[1024];
	char ts[32];
	struct tm tm;
	int64_t ms = fa_now_ms();
	time_t t = (time_t)(ms / 1000);
	int n;

	if (log && lvl < log->min)
		return;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	/* One fprintf per line: stdio's per-call lock keeps lines whole. */
	fprintf(log && log->fp ? log->fp : stderr, "%s.%03dZ %s %s%s%s\n", ts,
		(int)(ms % 1000), tags[lvl], line, suffix ? ": " : "", suffix ? suffix : "");
	fflush(log && log->fp ? log->fp : stderr);
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
