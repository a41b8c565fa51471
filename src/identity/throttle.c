/* throttle.c -- failed-login counters in the store, so that online password
 * guessing is slow on every instance at once and nothing the browser keeps
 * (cookies, a fresh login form) can reset it.
 *
 * Per failure, fixed-window counters (fa_store_incr: the window starts at
 * the first failure) for the client address, for the (address, username)
 * pair and for the username; and, from the username's fifth failure on, a
 * delay record for the username that lives 1, 2, 4 ... 60 s from that
 * failure. A check refuses while the delay lives or while the pair or the
 * address is over its cap (identity.h). So one attacker's guesses cost the
 * real user, elsewhere, at most a minute's wait after the attacker's last
 * guess, while the attacker gets at most ~60 guesses an hour per account.
 * Keys are hashed, so the store never holds a typed username (people type
 * passwords into that field) or an address. A success does not reset them:
 * an attacker with one valid account must not be able to clear an
 * address's count. A request is checked before the password is looked at,
 * so a throttled client learns nothing, not even from a right password.
 * Concurrent attempts that all pass the check before any failure is counted
 * can exceed a cap by at most the number of requests in flight.
 */
#include <arpa/inet.h>
#include <string.h>

#include "identity/identity_int.h"

#define KIND "throttle"

/* The address as counted: one IPv6 host usually owns a whole /64. */
static void addr_bytes(const char *addr, unsigned char out[16], const void **a, size_t *an)
{
	*a = addr;
	*an = strlen(addr);
	if (inet_pton(AF_INET6, addr, out) == 1) {
		memset(out + 8, 0, 8);
		*a = out;
		*an = 16;
	}
}

static void key_of(const char *prefix, const void *a, size_t an, const char *user,
		   char out[FA_STORE_MAX_KEY + 1])
{
	unsigned char buf[16 + 1 + FA_MAX_FIELD_VALUE];
	char hex[2 * FA_SHA256_LEN + 1];
	size_t un = user ? strnlen(user, FA_MAX_FIELD_VALUE) : 0, n = 0;

	memcpy(buf, a, an);
	n = an;
	if (user) {
		buf[n++] = 0;    /* no address ends where a username begins */
		memcpy(buf + n, user, un);
		n += un;
	}
	if (fa_sha256_hex(buf, n, hex) != FA_OK)
		memcpy(hex, "-", 2);
	snprintf(out, FA_STORE_MAX_KEY + 1, "%s:%s", prefix, hex);
}

void fa_identity_throttle_keys(const char *addr, const char *username,
			       struct fa_throttle_keys *k)
{
	size_t ulen = strnlen(username, FA_MAX_FIELD_VALUE);
	unsigned char v6[16];
	const void *a;
	size_t an;

	addr_bytes(addr, v6, &a, &an);
	key_of("ip", a, an, NULL, k->addr);
	key_of("user", username, ulen, NULL, k->user);
	key_of("pair", a, an, username, k->pair);
	key_of("delay", username, ulen, NULL, k->delay);
}

enum fa_rc fa_identity_throttle_check(struct fa_store *st, const char *addr,
				      const char *username, int64_t now, int64_t *retry_after,
				      struct fa_err *err)
{
	struct fa_throttle_keys k;
	int64_t ac, ar, pc, pr, dc, dr, wait = 0;
	enum fa_rc rc;

	*retry_after = 0;
	fa_identity_throttle_keys(addr, username, &k);
	rc = fa_store_counter_get(st, KIND, k.delay, now, &dc, &dr, err);
	if (rc == FA_OK)
		rc = fa_store_counter_get(st, KIND, k.pair, now, &pc, &pr, err);
	if (rc == FA_OK)
		rc = fa_store_counter_get(st, KIND, k.addr, now, &ac, &ar, err);
	if (rc != FA_OK)
		return rc;
	if (dc > 0 && dr > wait)
		wait = dr;
	if (pc >= FA_IDENTITY_PAIR_MAX_FAILURES && pr > wait)
		wait = pr;
	if (ac >= FA_IDENTITY_ADDR_MAX_FAILURES && ar > wait)
		wait = ar;
	if (wait == 0)
		return FA_OK;
	*retry_after = wait;
	return fa_err_oauth(err, FA_EDENIED, "slow_down",
			    "too many failed logins; try again in %lld seconds", (long long)wait);
}

int64_t fa_identity_throttle_delay(int64_t failures)
{
	int64_t d = 1;

	if (failures < FA_IDENTITY_USER_FREE_FAILURES)
		return 0;
	for (int64_t i = FA_IDENTITY_USER_FREE_FAILURES; i < failures; i++) {
		d *= 2;
		if (d >= FA_IDENTITY_USER_MAX_DELAY_S)
			return FA_IDENTITY_USER_MAX_DELAY_S;
	}
	return d;
}

enum fa_rc fa_identity_throttle_fail(struct fa_store *st, const char *addr,
				     const char *username, int64_t now, struct fa_err *err)
{
	struct fa_throttle_keys k;
	int64_t count = 0, ignored;
	enum fa_rc rc;

	fa_identity_throttle_keys(addr, username, &k);
	rc = fa_store_incr(st, KIND, k.addr, FA_IDENTITY_THROTTLE_WINDOW_S, now, &ignored, err);
	if (rc == FA_OK)
		rc = fa_store_incr(st, KIND, k.pair, FA_IDENTITY_THROTTLE_WINDOW_S, now, &ignored, err);
	if (rc == FA_OK)
		rc = fa_store_incr(st, KIND, k.user, FA_IDENTITY_THROTTLE_WINDOW_S, now, &count, err);
	/* The delay runs from this failure (checks refuse while it lives, so
	 * the previous one has normally ended and this starts a new one). */
	if (rc == FA_OK && count >= FA_IDENTITY_USER_FREE_FAILURES)
		rc = fa_store_incr(st, KIND, k.delay, fa_identity_throttle_delay(count), now, &ignored,
				   err);
	return rc;
}
