/* cpu.c -- how many CPUs this process may use: its affinity mask (taskset,
 * a cpuset), lowered by the CPU quota of its cgroup or any parent (cgroup
 * v2's cpu.max, v1's cpu.cfs_quota_us / cpu.cfs_period_us): Kubernetes'
 * resources.limits.cpu, systemd's CPUQuota=, docker --cpus.
 * sysconf(_SC_NPROCESSORS_ONLN) counts the whole machine: a container
 * limited to 2 CPUs on a 64-CPU node would start 64 HTTP workers and 32
 * bcrypt threads that the quota then throttles.
 *
 * Everything read comes from the kernel, and is still bounded and parsed
 * strictly: a file that does not parse is no limit, never a crash or a
 * guess.
 */
#include <sched.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"

#define CPU_MAX_FILE 64           /* "max 100000\n" or two 64-bit numbers */
#define CPU_CGROUP_FILE 8192      /* /proc/self/cgroup: one line per hierarchy */
#define CPU_CGROUP_DEPTH 32       /* levels of cgroup walked up, at most */
#define CPU_PATH 1024             /* a cgroup path, at most */
#define CPU_DIR (CPU_PATH + 512)  /* cgroup_root + "/cpu" + a cgroup path */

#define CPU_NUM_MAX 999999999999999999ULL   /* 18 digits: no quota or period is longer */

/* n without the one trailing newline a kernel file ends with. */
static size_t chomp(const char *text, size_t n)
{
	return n > 0 && text[n - 1] == '\n' ? n - 1 : n;
}

static bool number(const char *s, size_t n, uint64_t *out)
{
	return fa_parse_u64(s, n, CPU_NUM_MAX, out) == FA_OK;
}

/* The threads a quota of quota per period allows: 1.5 CPUs is two. */
static unsigned quota_cpus(uint64_t quota, uint64_t period)
{
	uint64_t n = (quota + period - 1) / period;

	return n > UINT_MAX ? UINT_MAX : (unsigned)n;
}

enum fa_rc fa_cpu_max_parse(const char *text, size_t len, unsigned *cpus)
{
	const char *sp;
	uint64_t quota = 0, period = 0;
	bool unlimited;

	*cpus = 0;
	len = chomp(text, len);
	if (!(sp = memchr(text, ' ', len)))
		return FA_EINVAL;
	unlimited = sp - text == 3 && memcmp(text, "max", 3) == 0;
	if (!unlimited && (!number(text, (size_t)(sp - text), &quota) || quota == 0))
		return FA_EINVAL;
	if (!number(sp + 1, len - (size_t)(sp + 1 - text), &period) || period == 0)
		return FA_EINVAL;
	if (!unlimited)
		*cpus = quota_cpus(quota, period);
	return FA_OK;
}

/* This process's cgroup path in the v2 hierarchy ("0::/path") or, with
 * v1 set, in the v1 hierarchy holding the cpu controller
 * ("4:cpu,cpuacct:/path"), from the text of /proc/self/cgroup, into out.
 * false when there is none or it looks wrong. */
static bool own_cgroup(char *text, bool v1, char *out, size_t cap)
{
	char *line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *ctl = strchr(line, ':'), *path, *c, *csave = NULL;
		bool cpu = false;
		size_t n;

		if (!ctl || !(path = strchr(ctl + 1, ':')))
			continue;
		*path++ = '\0';
		*ctl++ = '\0';
		if (!v1 && !(strcmp(line, "0") == 0 && *ctl == '\0'))
			continue;
		for (c = strtok_r(ctl, ",", &csave); v1 && c; c = strtok_r(NULL, ",", &csave))
			cpu = cpu || strcmp(c, "cpu") == 0;
		if (v1 && !cpu)
			continue;
		/* Absolute, no "..", nothing a path would not hold. */
		n = strlen(path);
		if (n == 0 || n >= cap || path[0] != '/' || strstr(path, "/..") || strpbrk(path, "\r\t"))
			return false;
		memcpy(out, path, n + 1);
		return true;
	}
	return false;
}

/* A whole small file as a number: "-1" (v1's no limit) is 0. */
static bool read_u64(const char *file, uint64_t *out)
{
	char *text = NULL;
	size_t len;
	bool ok;

	if (fa_file_read(file, CPU_MAX_FILE, &text, &len, NULL) != FA_OK)
		return false;
	len = chomp(text, len);
	*out = 0;
	ok = (len == 2 && memcmp(text, "-1", 2) == 0) || number(text, len, out);
	free(text);
	return ok;
}

/* The CPUs the quota in dir allows (0: no limit, or no readable quota). */
static unsigned dir_limit(const char *dir, bool v1)
{
	char file[CPU_DIR + 32], *text = NULL;
	uint64_t quota, period;
	unsigned limit = 0;
	size_t len;

	if (!v1) {
		snprintf(file, sizeof(file), "%s/cpu.max", dir);
		if (fa_file_read(file, CPU_MAX_FILE, &text, &len, NULL) != FA_OK)
			return 0;
		if (fa_cpu_max_parse(text, len, &limit) != FA_OK)
			limit = 0;
		free(text);
		return limit;
	}
	snprintf(file, sizeof(file), "%s/cpu.cfs_quota_us", dir);
	if (!read_u64(file, &quota) || quota == 0)
		return 0;
	snprintf(file, sizeof(file), "%s/cpu.cfs_period_us", dir);
	if (!read_u64(file, &period) || period == 0)
		return 0;
	return quota_cpus(quota, period);
}

/* The smallest quota from the process's cgroup up to the hierarchy's root
 * in one hierarchy (0: none). Inside a container without a cgroup
 * namespace the path names the host's hierarchy while the root mounted is
 * the container's own: the walk reaches it as "/". */
static unsigned hierarchy_limit(const char *proc_text, bool v1, const char *root)
{
	char *text = strdup(proc_text), path[CPU_PATH], dir[CPU_DIR];
	unsigned best = 0, limit;

	if (!text)
		return 0;
	if (!own_cgroup(text, v1, path, sizeof(path))) {
		free(text);
		return 0;
	}
	free(text);
	for (int depth = 0; depth < CPU_CGROUP_DEPTH; depth++) {
		char *slash;

		if (snprintf(dir, sizeof(dir), "%s%s%s", root, v1 ? "/cpu" : "",
			     strcmp(path, "/") == 0 ? "" : path) >= (int)sizeof(dir))
			return best;
		limit = dir_limit(dir, v1);
		if (limit > 0 && (best == 0 || limit < best))
			best = limit;
		if (strcmp(path, "/") == 0)
			break;
		slash = strrchr(path, '/');
		slash[slash == path ? 1 : 0] = '\0';
	}
	return best;
}

unsigned fa_cpus_in(const char *proc_cgroup, const char *cgroup_root, unsigned cpus)
{
	char *text = NULL;
	size_t len;
	unsigned v2, v1;

	if (cpus == 0)
		cpus = 1;
	if (fa_file_read(proc_cgroup, CPU_CGROUP_FILE, &text, &len, NULL) != FA_OK)
		return cpus;
	v2 = hierarchy_limit(text, false, cgroup_root);
	v1 = hierarchy_limit(text, true, cgroup_root);
	free(text);
	if (v2 > 0 && v2 < cpus)
		cpus = v2;
	if (v1 > 0 && v1 < cpus)
		cpus = v1;
	return cpus;
}

unsigned fa_cpus_usable(void)
{
	cpu_set_t set;
	long online;
	unsigned cpus = 0;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		cpus = (unsigned)CPU_COUNT(&set);
	if (cpus == 0) {
		online = sysconf(_SC_NPROCESSORS_ONLN);
		cpus = online > 0 ? (unsigned)online : 1;
	}
	return fa_cpus_in("/proc/self/cgroup", "/sys/fs/cgroup", cpus);
}
