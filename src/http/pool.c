/* pool.c -- the blocking-work pool: a few threads, apart from the HTTP
 * workers, on which a handler finishes a request that needs slow CPU work
 * (bcrypt of a password or a client secret), so that such work never
 * stalls the worker and with it every other connection that worker serves.
 *
 * A handler asks with fa_http_offload, which reserves a slot in the
 * bounded queue (none left: it answers 503 itself, at once). When the
 * handler returns, the dispatcher sees the request deferred; server.c
 * suspends the MHD connection (MHD_suspend_connection) and pushes the
 * request here. A pool thread runs the route's handler again, now with
 * fa_req_offloaded true, finishes the response and resumes the connection
 * (MHD_resume_connection); the worker then queues the response.
 *
 * Stop order: fa_http_drain waits for every request in flight, suspended
 * ones included (the pool is still running), then fa_http_stop stops the
 * pool, then the workers. A request still queued when the pool stops (the
 * drain timed out) is answered 503 and resumed, so that no connection stays
 * suspended when MHD stops.
 */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

/* The request is answered: hand it back to its worker. */
static void give_back(struct fa_req *req)
{
	struct MHD_Connection *conn = req->conn;

	req->phase = FA_REQ_RESUMED;
	MHD_resume_connection(conn);
}

static void *pool_main(void *arg)
{
	struct fa_http_pool *p = arg;

	for (;;) {
		struct fa_req *req;

		pthread_mutex_lock(&p->lock);
		while (p->len == 0 && !p->stop)
			pthread_cond_wait(&p->more, &p->lock);
		if (p->len == 0) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		req = p->queue[p->head];
		p->head = (p->head + 1) % p->cap;
		p->len--;
		p->reserved--;
		pthread_mutex_unlock(&p->lock);
		fa_http_dispatch_rerun(req);
		give_back(req);
	}
}

unsigned fa_http_pool_default_threads(void)
{
	unsigned cpus = fa_cpus_usable();
	unsigned n = cpus > 1 ? cpus / 2 : 1;

	return n > FA_HTTP_MAX_BLOCKING_THREADS ? FA_HTTP_MAX_BLOCKING_THREADS : n;
}

enum fa_rc fa_http_pool_start(struct fa_http_pool *p, unsigned threads, unsigned queue,
			      struct fa_err *err)
{
	memset(p, 0, sizeof(*p));
	if (threads == 0)
		threads = fa_http_pool_default_threads();
	if (threads > FA_HTTP_MAX_BLOCKING_THREADS)
		return fa_err_set(err, FA_EINVAL, "blocking threads over %d",
				  FA_HTTP_MAX_BLOCKING_THREADS);
	if (queue == 0)
		queue = FA_HTTP_BLOCKING_QUEUE;
	if (queue > FA_HTTP_MAX_BLOCKING_QUEUE)
		return fa_err_set(err, FA_EINVAL, "blocking queue over %d",
				  FA_HTTP_MAX_BLOCKING_QUEUE);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->more, NULL);
	p->inited = true;
	p->cap = queue;
	p->queue = calloc(queue, sizeof(*p->queue));
	p->threads = calloc(threads, sizeof(*p->threads));
	if (!p->queue || !p->threads)
		return fa_err_set(err, FA_ENOMEM, "out of memory");
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0)
			return fa_err_set(err, FA_EIO, "cannot start a blocking-work thread");
		p->n_threads++;
	}
	return FA_OK;
}

bool fa_http_pool_reserve(struct fa_http_pool *p)
{
	bool ok;

	if (!p->inited || p->n_threads == 0)
		return false;
	pthread_mutex_lock(&p->lock);
	ok = !p->stop && p->reserved < p->cap;
	if (ok)
		p->reserved++;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

void fa_http_pool_push(struct fa_http_pool *p, struct fa_req *req)
{
	pthread_mutex_lock(&p->lock);
	if (p->stop) {
		/* Only when a stop raced the push: answer it here. */
		p->reserved--;
		pthread_mutex_unlock(&p->lock);
		fa_http_dispatch_unavailable(req);
		give_back(req);
		return;
	}
	/* A slot was reserved: reserved <= cap, so len < cap here. */
	p->queue[(p->head + p->len) % p->cap] = req;
	p->len++;
	pthread_cond_signal(&p->more);
	pthread_mutex_unlock(&p->lock);
}

void fa_http_pool_stop(struct fa_http_pool *p)
{
	if (!p->inited)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	/* What is still queued is answered 503 rather than run. */
	while (p->len) {
		struct fa_req *req = p->queue[p->head];

		p->head = (p->head + 1) % p->cap;
		p->len--;
		p->reserved--;
		fa_http_dispatch_unavailable(req);
		give_back(req);
	}
	pthread_cond_broadcast(&p->more);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	p->n_threads = 0;
}

void fa_http_pool_cleanup(struct fa_http_pool *p)
{
	if (!p->inited)
		return;
	fa_http_pool_stop(p);
	free(p->queue);
	free(p->threads);
	pthread_cond_destroy(&p->more);
	pthread_mutex_destroy(&p->lock);
	p->inited = false;
}
