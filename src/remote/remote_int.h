/* remote_int.h -- what the files of src/remote/ share with each other and
 * with nobody else: the body of struct fa_remote and the URL splitter.
 * Other modules include only remote.h.
 */
#ifndef FA_REMOTE_INT_H
#define FA_REMOTE_INT_H

#include <openssl/x509.h>

#include "remote/remote.h"

/* A redacted URL in a message: leaves room for the cause in struct
 * fa_err's 160 bytes. */
#define FA_REMOTE_SHOWN_URL 96

struct fa_remote {
	char *proxy_url;                /* NULL: none given */
	char *system_ca_file;           /* NULL: libcurl's built-in bundle */
	STACK_OF(X509) *extra_cas;      /* from opts->ca_file; NULL: none */
	long connect_timeout_ms;
	long timeout_ms;
	bool insecure_skip_verify;
};

/* fa_remote_jwks_get whose fetch, if it makes one, stops when *cancel is
 * set (the issuer's holder warms a key set and must stop promptly). */
enum fa_rc rm_jwks_get(struct fa_remote_jwks *ks, const atomic_bool *cancel, struct fa_jwks **out,
		       struct fa_err *err) FA_WUR;

#endif
