/* test_base_cpu.c -- the CPUs usable (cpu.c): cgroup v2's cpu.max parsed
 * strictly, and the quota found in a cgroup tree laid out in a temp dir as
 * the kernel lays out /proc/self/cgroup and /sys/fs/cgroup: v2 and v1, the
 * process's own cgroup or a parent binding, a container's root, and files
 * that are missing, garbage, hostile paths or too long meaning no limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/base.h"

static void test_cpu_max_parse(void **state)
{
	static const struct {
		const char *text;
		enum fa_rc rc;
		unsigned cpus;
	} cases[] = {
		{ "max 100000\n", FA_OK, 0 },
		{ "max 100000", FA_OK, 0 },
		{ "200000 100000\n", FA_OK, 2 },
		{ "150000 100000\n", FA_OK, 2 },     /* 1.5 CPUs: two threads */
		{ "50000 100000\n", FA_OK, 1 },
		{ "1000 100000\n", FA_OK, 1 },
		{ "6400000 100000", FA_OK, 64 },
		{ "", FA_EINVAL, 0 },
		{ "max", FA_EINVAL, 0 },
		{ "max\n", FA_EINVAL, 0 },
		{ "0 100000\n", FA_EINVAL, 0 },
		{ "100000 0\n", FA_EINVAL, 0 },
		{ "-1 100000\n", FA_EINVAL, 0 },
		{ "200000  100000\n", FA_EINVAL, 0 },
		{ "200000 100000\n\n", FA_EINVAL, 0 },
		{ "200000 100000 7\n", FA_EINVAL, 0 },
		{ "2e5 100000\n", FA_EINVAL, 0 },
		{ "maxi 100000\n", FA_EINVAL, 0 },
		{ "1234567890123456789 1\n", FA_EINVAL, 0 },   /* 19 digits */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		unsigned cpus = 99;
		enum fa_rc rc = fa_cpu_max_parse(cases[i].text, strlen(cases[i].text), &cpus);

		if (rc != cases[i].rc || cpus != cases[i].cpus)
			print_error("\"%s\": rc %d cpus %u\n", cases[i].text, rc, cpus);
		assert_int_equal(rc, cases[i].rc);
		assert_int_equal(cpus, cases[i].cpus);
	}
	/* Only len bytes are read. */
	{
		unsigned cpus = 0;

		assert_int_equal(fa_cpu_max_parse("300000 100000 trailing", 13, &cpus), FA_OK);
		assert_int_equal(cpus, 3);
	}
}

/* A temp dir holding proc (the /proc/self/cgroup stand-in) and cg/ (the
 * /sys/fs/cgroup stand-in). */
struct tree {
	char dir[64], proc[96], root[96];
};

static void tree_new(struct tree *t)
{
	strcpy(t->dir, "/tmp/fa-cpu-test.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->proc, sizeof(t->proc), "%s/cgroup", t->dir);
	snprintf(t->root, sizeof(t->root), "%s/cg", t->dir);
	assert_int_equal(mkdir(t->root, 0700), 0);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Creates root/rel (and its parents) and writes file name in it. */
static void put_in(const struct tree *t, const char *rel, const char *name, const char *text)
{
	char path[512], *p;

	snprintf(path, sizeof(path), "%s%s/", t->root, rel);
	for (p = path + strlen(t->root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		(void)mkdir(path, 0700);
		*p = '/';
	}
	snprintf(path, sizeof(path), "%s%s/%s", t->root, rel, name);
	put(path, text);
}

static void tree_free(struct tree *t)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
}

static void test_cpus_v2(void **state)
{
	struct tree t;

	(void)state;
	tree_new(&t);
	/* No /proc file: the affinity count stands; 0 is still one CPU. */
	assert_int_equal(fa_cpus_in(t.proc, t.root, 8), 8);
	assert_int_equal(fa_cpus_in(t.proc, t.root, 0), 1);
	/* A systemd service with CPUQuota=150%. */
	put(t.proc, "0::/system.slice/flyteauth.service\n");
	assert_int_equal(fa_cpus_in(t.proc, t.root, 8), 8);   /* no cpu.max anywhere */
	put_in(&t, "/system.slice/flyteauth.service", "cpu.max", "150000 100000\n");
	put_in(&t, "/system.slice", "cpu.max", "max 100000\n");
	assert_int_equal(fa_cpus_in(t.proc, t.root, 8), 2);
	/* The affinity mask is already smaller: it stands. */
	assert_int_equal(fa_cpus_in(t.proc, t.root, 1), 1);
	/* A parent's quota binds harder than the cgroup's own. */
	put_in(&t, "/system.slice", "cpu.max", "100000 100000\n");
	assert_int_equal(fa_cpus_in(t.proc, t.root, 8), 1);
	/* Garbage in a file is no limit there, not a guess. */
	put_in(&t, "/system.slice", "cpu.max", "lots\n");
	assert_int_equal(fa_cpus_in(t.proc, t.root, 8), 2);
	tree_free(&t);

	/* A container with a cgroup namespace: "0::/" and the quota at the
	 * root (Kubernetes limits.cpu: 3). */
	tree_new(&t);
	put(t.proc, "0::/\n");
	put_in(&t, "", "cpu.max", "300000 100000\n");
	assert_int_equal(fa_cpus_in(t.proc, t.root, 64), 3);
	/* Without one: the path names the host's tree, which is not mounted
	 * here; the walk reaches the container's own root. */
	put(t.proc, "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-1.scope\n");
	assert_int_equal(fa_cpus_in(t.proc, t.root, 64), 3);
	tree_free(&t);
}

static void test_cpus_v1(void **state)
{
	struct tree t;

	(void)state;
	tree_new(&t);
	/* A hybrid host (this one's layout): v1 cpu controller beside "0::/". */
	put(t.proc, "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/\n0::/\n");
	assert_int_equal(fa_cpus_in(t.proc, t.root, 16), 16);
	put_in(&t, "/cpu/docker/abc", "cpu.cfs_quota_us", "250000\n");
	put_in(&t, "/cpu/docker/abc", "cpu.cfs_period_us", "100000\n");
	put_in(&t, "/cpu/docker", "cpu.cfs_quota_us", "-1\n");
	put_in(&t, "/cpu/docker", "cpu.cfs_period_us", "100000\n");
	assert_int_equal(fa_cpus_in(t.proc, t.root, 16), 3);
	/* A missing period is no limit at that level. */
	put_in(&t, "/cpu/docker/abc", "cpu.cfs_period_us", "");
	assert_int_equal(fa_cpus_in(t.proc, t.root, 16), 16);
	/* "cpuacct" alone is not the cpu controller. */
	put(t.proc, "4:cpuacct:/docker/abc\n");
	put_in(&t, "/cpu/docker/abc", "cpu.cfs_period_us", "100000\n");
	assert_int_equal(fa_cpus_in(t.proc, t.root, 16), 16);
	tree_free(&t);
}

static void test_cpus_hostile_paths(void **state)
{
	struct tree t;
	char big[8192 + 16];

	(void)state;
	tree_new(&t);
	put_in(&t, "", "cpu.max", "100000 100000\n");
	/* A path that climbs, is relative, or holds control characters is
	 * not followed: no limit, even though the root has one. */
	put(t.proc, "0::/../../etc\n");
	assert_int_equal(fa_cpus_in(t.proc, t.root, 4), 4);
	put(t.proc, "0::relative\n");
	assert_int_equal(fa_cpus_in(t.proc, t.root, 4), 4);
	put(t.proc, "0::/a\tb\n");
	assert_int_equal(fa_cpus_in(t.proc, t.root, 4), 4);
	put(t.proc, "0::\n");
	assert_int_equal(fa_cpus_in(t.proc, t.root, 4), 4);
	/* Lines without two colons are skipped. */
	put(t.proc, "junk\n0::/\n");
	assert_int_equal(fa_cpus_in(t.proc, t.root, 4), 1);
	/* A /proc file over its cap is not read at all. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "0::/\n", 5);
	put(t.proc, big);
	assert_int_equal(fa_cpus_in(t.proc, t.root, 4), 4);
	/* A cgroup path longer than a path may be is not followed. */
	memset(big, 'a', 2000);
	memcpy(big, "0::/", 4);
	strcpy(big + 2000, "\n");
	put(t.proc, big);
	assert_int_equal(fa_cpus_in(t.proc, t.root, 4), 4);
	tree_free(&t);
}

static void test_cpus_usable(void **state)
{
	unsigned n = fa_cpus_usable();
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	/* At least one, never more than the machine has online. */
	assert_true(n >= 1);
	assert_true(online < 1 || n <= (unsigned)online);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_max_parse),
		cmocka_unit_test(test_cpus_v2),
		cmocka_unit_test(test_cpus_v1),
		cmocka_unit_test(test_cpus_hostile_paths),
		cmocka_unit_test(test_cpus_usable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
