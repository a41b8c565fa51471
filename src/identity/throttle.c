/* throttle.c -- failed-login counters in the store, so that online password
 * guessing is slow on every instance at once and nothing the browser keeps
 * (cookies, a fresh login form) can reset it.
 *
 * Two fixed-window counters per failure (fa_store_incr: the window starts
 * at the first failure): one for the client address, one for the username.
 * Keys are hashed, so the store never holds a typed username (people type
 * passwords into that field) or an address. A success does not reset them:
 * an attacker with one valid account must not be able to clear an
 * address's count. A request is checked before the password is looked at,
 * so a throttled client learns nothing, not even from a right password.
 * Concurrent attempts that all pass the check before any failure is counted
 * can exceed a cap by at most the number of requests in flight (bounded by
 * the server's worker threads); the next window starts from the true count.
 */
#include <arpa/inet.h>
#include <string.h>

#include "identity/identity_int.h"

#define KIND "throttle"

void fa_identity_throttle_keys(const char *addr, const char *username,
			       char addr_key[FA_STORE_MAX_KEY + 1],
			       char user_key[FA_STORE_MAX_KEY + 1])
{
	unsigned char v6[16];
	char hex[2 * FA_SHA256_LEN + 1];
	const void *a = addr;
	size_t an = strlen(addr);

	/* One IPv6 host usually owns a whole /64: count the prefix. */
	if (inet_pton(AF_INET6, addr, v6) == 1) {
		memset(v6 + 8, 0, 8);
		a = v6;
		an = sizeof(v6);
	}
	if (fa_sha256_hex(a, an, hex) != FA_OK)
		memcpy(hex, "-", 2);
	snprintf(addr_key, FA_STORE_MAX_KEY + 1, "ip:%s", hex);
	if (fa_sha256_hex(username, strlen(username), hex) != FA_OK)
		memcpy(hex, "-", 2);
	snprintf(user_key, FA_STORE_MAX_KEY + 1, "user:%s", hex);
}

enum fa_rc fa_identity_throttle_check(struct fa_store *st, const char *addr,
				      const char *username, int64_t now, int64_t *retry_after,
				      struct fa_err *err)
{
	char akey[FA_STORE_MAX_KEY + 1], ukey[FA_STORE_MAX_KEY + 1];
	int64_t ac, ar, uc, ur, wait = 0;
	enum fa_rc rc;

	*retry_after = 0;
	fa_identity_throttle_keys(addr, username, akey, ukey);
	rc = fa_store_counter_get(st, KIND, akey, now, &ac, &ar, err);
	if (rc == FA_OK)
		rc = fa_store_counter_get(st, KIND, ukey, now, &uc, &ur, err);
	if (rc != FA_OK)
		return rc;
	if (ac >= FA_IDENTITY_ADDR_MAX_FAILURES && ar > wait)
		wait = ar;
	if (uc >= FA_IDENTITY_USER_MAX_FAILURES && ur > wait)
		wait = ur;
	if (wait == 0)
		return FA_OK;
	*retry_after = wait;
	return fa_err_oauth(err, FA_EDENIED, "slow_down",
			    "too many failed logins; try again in %lld seconds", (long long)wait);
}

enum fa_rc fa_identity_throttle_fail(struct fa_store *st, const char *addr,
				     const char *username, int64_t now, struct fa_err *err)
{
	char akey[FA_STORE_MAX_KEY + 1], ukey[FA_STORE_MAX_KEY + 1];
	int64_t count;
	enum fa_rc rc;

	fa_identity_throttle_keys(addr, username, akey, ukey);
	rc = fa_store_incr(st, KIND, akey, FA_IDENTITY_THROTTLE_WINDOW_S, now, &count, err);
	if (rc == FA_OK)
		rc = fa_store_incr(st, KIND, ukey, FA_IDENTITY_THROTTLE_WINDOW_S, now, &count, err);
	return rc;
}
