/* err.c -- error codes and the caller-owned error record. The logger is in
 * log.c. */
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
