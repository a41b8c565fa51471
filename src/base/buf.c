/* buf.c -- bounded growable buffers and the capped per-request arena.
 *
 * Every buffer declares its ceiling when it is initialised (curl's dynbuf);
 * growth past it is an error that leaves the contents unchanged. The arena
 * hands out zeroed, aligned blocks from chunks and frees them all at once.
 */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

void fa_buf_init(struct fa_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

enum fa_rc fa_buf_append(struct fa_buf *b, const void *p, size_t n)
{
	size_t need;

	if (n > b->max || b->len > b->max - n)
		return FA_ETOOBIG;
	need = b->len + n + 1;
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *d;

		while (cap < need)
			cap *= 2;
		if (cap > b->max + 1)
			cap = b->max + 1;
		d = malloc(cap);
		if (!d)
			return FA_ENOMEM;
		if (b->data) {
			memcpy(d, b->data, b->len);
			/* The old block may have held a secret. */
			fa_memzero(b->data, b->cap);
			free(b->data);
		}
		b->data = d;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return FA_OK;
}

enum fa_rc fa_buf_appends(struct fa_buf *b, const char *s)
{
	return fa_buf_append(b, s, strlen(s));
}

enum fa_rc fa_buf_appendc(struct fa_buf *b, char c)
{
	return fa_buf_append(b, &c, 1);
}

enum fa_rc fa_buf_appendf(struct fa_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;
	enum fa_rc rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return FA_EINVAL;
	if ((size_t)n < sizeof(small))
		return fa_buf_append(b, small, (size_t)n);
	if ((size_t)n > b->max)
		return FA_ETOOBIG;
	{
		char *big = malloc((size_t)n + 1);

		if (!big)
			return FA_ENOMEM;
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		rc = fa_buf_append(b, big, (size_t)n);
		fa_memzero(big, (size_t)n);
		free(big);
	}
	return rc;
}

enum fa_rc fa_buf_append_html(struct fa_buf *b, const char *s)
{
	enum fa_rc rc = FA_OK;

	for (; s && *s && rc == FA_OK; s++) {
		switch (*s) {
		case '<': rc = fa_buf_appends(b, "&lt;"); break;
		case '>': rc = fa_buf_appends(b, "&gt;"); break;
		case '&': rc = fa_buf_appends(b, "&amp;"); break;
		case '"': rc = fa_buf_appends(b, "&quot;"); break;
		case '\'': rc = fa_buf_appends(b, "&#39;"); break;
		default: rc = fa_buf_appendc(b, *s); break;
		}
	}
	return rc;
}

enum fa_rc fa_buf_append_pct(struct fa_buf *b, const char *s, const char *keep)
{
	static const char hex[] = "0123456789ABCDEF";
	enum fa_rc rc = FA_OK;

	for (; *s && rc == FA_OK; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || (keep && strchr(keep, c))) {
			rc = fa_buf_appendc(b, (char)c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			rc = fa_buf_append(b, e, 3);
		}
	}
	return rc;
}

enum fa_rc fa_buf_append_json(struct fa_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	enum fa_rc rc = fa_buf_appendc(b, '"');
	const char *run = s;

	/* Plain bytes are copied a run at a time: a token is one run. */
	for (; rc == FA_OK; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		rc = fa_buf_append(b, run, (size_t)(s - run));
		if (rc != FA_OK || c == '\0')
			break;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			rc = fa_buf_append(b, e, 2);
		} else {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			rc = fa_buf_append(b, e, 6);
		}
		run = s + 1;
	}
	return rc == FA_OK ? fa_buf_appendc(b, '"') : rc;
}

const char *fa_buf_str(const struct fa_buf *b)
{
	return b->data ? b->data : "";
}

char *fa_buf_take(struct fa_buf *b, size_t *len)
{
	char *d = b->data;

	if (!d) {
		d = calloc(1, 1);
		if (!d)
			return NULL;
	}
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return d;
}

void fa_buf_reset(struct fa_buf *b)
{
	if (b->data) {
		fa_memzero(b->data, b->cap);
		b->data[0] = '\0';
	}
	b->len = 0;
}

void fa_buf_cleanup(struct fa_buf *b)
{
	if (b->data) {
		fa_memzero(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* ---- arena ---------------------------------------------------------- */

#define ARENA_ALIGN 16
#define ARENA_CHUNK 4096
/* The most one arena keeps across fa_arena_reset: a request's usual few
 * KiB, not the rare large one. */
#define ARENA_KEEP (64 * 1024)

/* Invariant: mem[used, dirty) is zero; mem[dirty, size) was never handed
 * out and holds whatever malloc gave. So handing out memory below dirty
 * needs no memset, which is what makes a reset arena cheap to reuse. */
struct arena_chunk {
	struct arena_chunk *next;
	size_t size;
	size_t used;
	size_t dirty;
	_Alignas(ARENA_ALIGN) unsigned char mem[];
};

struct fa_arena {
	struct arena_chunk *head;
	size_t max;     /* cap on the bytes handed out */
	size_t total;   /* bytes handed out so far */
};

struct fa_arena *fa_arena_new(size_t max)
{
	struct fa_arena *a = calloc(1, sizeof(*a));

	if (a)
		a->max = max;
	return a;
}

static struct arena_chunk *chunk_new(size_t size)
{
	struct arena_chunk *c = malloc(sizeof(*c) + size);

	if (c) {
		c->next = NULL;
		c->size = size;
		c->used = 0;
		c->dirty = 0;
	}
	return c;
}

/* Zeroes what was handed out (request memory holds form values:
 * passwords, secrets, codes) and frees the chunks. */
static void chunks_free(struct arena_chunk *c)
{
	struct arena_chunk *next;

	for (; c; c = next) {
		next = c->next;
		fa_memzero(c->mem, c->used);
		free(c);
	}
}

void fa_arena_free(struct fa_arena *a)
{
	if (!a)
		return;
	chunks_free(a->head);
	free(a);
}

void fa_arena_reset(struct fa_arena *a)
{
	struct arena_chunk *c = a->head;
	size_t want = (a->total + ARENA_CHUNK - 1) & ~(size_t)(ARENA_CHUNK - 1);

	if (c && !c->next) {
		fa_memzero(c->mem, c->used);
		c->used = 0;
	} else if (c) {
		/* Several chunks: replace them with one that would have held
		 * everything, so that the same use again allocates nothing. */
		chunks_free(c);
		a->head = want <= ARENA_KEEP ? chunk_new(want) : NULL;
	}
	if (a->head && a->head->size > ARENA_KEEP) {
		chunks_free(a->head);
		a->head = NULL;
	}
	a->total = 0;
}

void *fa_arena_alloc(struct fa_arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	size_t rounded;
	void *p;

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - ARENA_ALIGN)
		return NULL;
	rounded = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (rounded > a->max || a->total > a->max - rounded)
		return NULL;
	if (!c || c->size - c->used < rounded) {
		c = chunk_new(rounded > ARENA_CHUNK ? rounded : ARENA_CHUNK);
		if (!c)
			return NULL;
		c->next = a->head;
		a->head = c;
	}
	p = c->mem + c->used;
	c->used += rounded;
	a->total += rounded;
	if (c->used > c->dirty) {
		size_t from = c->used - rounded > c->dirty ? c->used - rounded : c->dirty;

		memset(c->mem + from, 0, c->used - from);
		c->dirty = c->used;
	}
	return p;
}

char *fa_arena_strndup(struct fa_arena *a, const char *s, size_t n)
{
	char *d;

	if (n == SIZE_MAX)
		return NULL;
	d = fa_arena_alloc(a, n + 1);
	if (d && n)
		memcpy(d, s, n);
	return d;
}

char *fa_arena_strdup(struct fa_arena *a, const char *s)
{
	return fa_arena_strndup(a, s, strlen(s));
}

char *fa_arena_printf(struct fa_arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *d;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	d = fa_arena_alloc(a, (size_t)n + 1);
	if (!d)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(d, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return d;
}

size_t fa_arena_used(const struct fa_arena *a)
{
	return a->total;
}
