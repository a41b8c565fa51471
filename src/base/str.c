/* str.c -- bounded string helpers, strict number parsing, clocks and Go-style
 * durations. Parsers take a length and never read past it, so they can be
 * pointed at network input that is not NUL-terminated.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/base.h"

enum fa_rc fa_strlcpy(char *dst, const char *src, size_t dstcap)
{
	size_t n = strlen(src);

	if (dstcap == 0)
		return FA_ETOOBIG;
	if (n >= dstcap) {
		dst[0] = '\0';
		return FA_ETOOBIG;
	}
	memcpy(dst, src, n + 1);
	return FA_OK;
}

bool fa_str_ieq(const char *a, const char *b)
{
	return a && b && strcasecmp(a, b) == 0;
}

bool fa_strn_ieq(const char *a, size_t alen, const char *b)
{
	return a && b && strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

char *fa_strndup(const char *s, size_t n)
{
	char *d;

	if (n == SIZE_MAX)
		return NULL;
	d = malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

bool fa_token_ok(const char *s, size_t n)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			continue;
		if (c == '\0' || !strchr(extra, c))
			return false;
	}
	return true;
}

bool fa_scope_token_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e)))
			return false;
	}
	return true;
}

enum fa_rc fa_parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return FA_EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return FA_EINVAL;
		d = (unsigned)(s[i] - '0');
		/* d > max first: max - d would wrap for a max under 9. */
		if (d > max || v > (max - d) / 10)
			return FA_ETOOBIG;
		v = v * 10 + d;
	}
	*out = v;
	return FA_OK;
}

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fa_now(void)
{
	return (int64_t)time(NULL);
}

int64_t fa_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int64_t fa_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t fa_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- durations ------------------------------------------------------- */

struct dur_unit {
	const char *name;
	int64_t ns;
};

/* Longest names first so "ms" is not read as "m" + "s". */
static const struct dur_unit dur_units[] = {
	{ "ns", 1 },
	{ "us", 1000 },
	{ "\xc2\xb5s", 1000 },      /* U+00B5 micro sign */
	{ "\xce\xbcs", 1000 },      /* U+03BC Greek mu */
	{ "ms", 1000000 },
	{ "s", 1000000000LL },
	{ "m", 60 * 1000000000LL },
	{ "h", 3600 * 1000000000LL },
};

enum fa_rc fa_duration_parse(const char *s, size_t n, int64_t *ms)
{
	int64_t total = 0;
	size_t i = 0;

	if (n == 0)
		return FA_EINVAL;
	if (s[0] == '+')
		i++;
	else if (s[0] == '-')
		return FA_EINVAL;
	if (n - i == 1 && s[i] == '0') {
		*ms = 0;
		return FA_OK;
	}
	if (i == n)
		return FA_EINVAL;
	while (i < n) {
		int64_t whole = 0, frac = 0, scale = 1, unit_ns = 0, part;
		bool digits = false;
		size_t ulen = 0;

		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (whole > (INT64_MAX - 9) / 10)
				return FA_ETOOBIG;
			whole = whole * 10 + (s[i++] - '0');
			digits = true;
		}
		if (i < n && s[i] == '.') {
			i++;
			while (i < n && s[i] >= '0' && s[i] <= '9') {
				/* Digits past nanosecond precision are dropped. */
				if (scale < 1000000000LL) {
					frac = frac * 10 + (s[i] - '0');
					scale *= 10;
				}
				i++;
				digits = true;
			}
		}
		if (!digits)
			return FA_EINVAL;
		for (size_t u = 0; u < ARRAY_LEN(dur_units); u++) {
			size_t len = strlen(dur_units[u].name);

			if (len > ulen && n - i >= len && memcmp(s + i, dur_units[u].name, len) == 0) {
				unit_ns = dur_units[u].ns;
				ulen = len;
			}
		}
		if (!ulen)
			return FA_EINVAL; /* Go requires a unit on every number but "0" */
		i += ulen;
		if (whole > INT64_MAX / unit_ns)
			return FA_ETOOBIG;
		part = whole * unit_ns + (int64_t)((double)frac * (double)unit_ns / (double)scale);
		if (part < 0 || total > INT64_MAX - part)
			return FA_ETOOBIG;
		total += part;
	}
	*ms = total / 1000000;
	return FA_OK;
}

void fa_duration_format(int64_t ms, char *out, size_t outcap)
{
	char sec[32];
	int64_t h, m;
	size_t n;

	if (outcap == 0)
		return;
	if (ms < 1000) {
		snprintf(out, outcap, ms == 0 ? "0s" : "%lldms", (long long)ms);
		return;
	}
	h = ms / 3600000;
	m = (ms / 60000) % 60;
	/* Seconds with the fraction Go prints: "1.5s", never trailing zeros. */
	snprintf(sec, sizeof(sec), "%lld.%03lld", (long long)((ms / 1000) % 60),
		 (long long)(ms % 1000));
	n = strlen(sec);
	while (sec[n - 1] == '0')
		sec[--n] = '\0';
	if (sec[n - 1] == '.')
		sec[--n] = '\0';
	if (h)
		snprintf(out, outcap, "%lldh%lldm%ss", (long long)h, (long long)m, sec);
	else if (m)
		snprintf(out, outcap, "%lldm%ss", (long long)m, sec);
	else
		snprintf(out, outcap, "%ss", sec);
}
