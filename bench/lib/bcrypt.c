/* bcrypt.c -- the login scenario's ceiling: how many password checks the
 * machine does per second at the bench user's bcrypt cost, measured in the
 * same run as the logins. A full local login spends one such check on the
 * server (POST /login); everything else it does (pages, session, code,
 * token signing) should be small beside it, so logins per second are
 * compared with this figure.
 *
 * THREADS threads each check PASSWORD against HASH (the very hash the
 * server holds, through libxcrypt's crypt_rn, as the server does) back to
 * back for SECONDS. Prints one line:
 *   BENCH_RESULT {"checks":N,"duration_us":..,"cpu_us":..,"threads":T}
 * where cpu_us is this process's user+system CPU over the run (getrusage),
 * so checks per CPU-second do not depend on what else ran meanwhile.
 *
 * Usage: bcrypt THREADS SECONDS  (env BENCH_PASSWORD, BENCH_HASH)
 * Build: cc -O2 bcrypt.c -o bcrypt -lcrypt -lpthread (bench/run does).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <crypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_THREADS 64

struct worker {
	pthread_t thread;
	const char *password, *hash;
	double end;
	long checks;
	int failed; /* a check that did not reproduce HASH: wrong input */
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct crypt_data *cd = calloc(1, sizeof(*cd));

	if (!cd) {
		w->failed = 1;
		return NULL;
	}
	while (now_s() < w->end) {
		const char *out = crypt_rn(w->password, w->hash, cd, (int)sizeof(*cd));

		if (!out || strcmp(out, w->hash) != 0) {
			w->failed = 1;
			break;
		}
		w->checks++;
	}
	free(cd);
	return NULL;
}

int main(int argc, char **argv)
{
	struct worker w[MAX_THREADS];
	const char *password = getenv("BENCH_PASSWORD"), *hash = getenv("BENCH_HASH");
	int threads = argc == 3 ? atoi(argv[1]) : 0;
	double seconds = argc == 3 ? atof(argv[2]) : 0, t0, c0, t1, c1;
	long checks = 0;
	int failed = 0;

	if (threads < 1 || threads > MAX_THREADS || seconds <= 0 || !password || !hash) {
		fprintf(stderr, "usage: BENCH_PASSWORD=.. BENCH_HASH=.. bcrypt THREADS SECONDS\n");
		return 2;
	}
	t0 = now_s();
	c0 = cpu_s();
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){ .password = password, .hash = hash, .end = t0 + seconds };
		if (pthread_create(&w[i].thread, NULL, run, &w[i]) != 0) {
			fprintf(stderr, "bcrypt: cannot start thread %d\n", i);
			return 1;
		}
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].thread, NULL);
		checks += w[i].checks;
		failed |= w[i].failed;
	}
	t1 = now_s();
	c1 = cpu_s();
	if (failed) {
		fprintf(stderr, "bcrypt: the password does not check against the hash\n");
		return 1;
	}
	printf("BENCH_RESULT {\"checks\":%ld,\"duration_us\":%.0f,\"cpu_us\":%.0f,\"threads\":%d}\n",
	       checks, (t1 - t0) * 1e6, (c1 - c0) * 1e6, threads);
	return 0;
}
