/* file.c -- bounded whole-file reads and complete writes: the config
 * loaders and the secrets lookup read a file into memory through here, with
 * one cap and one rule for a file over it; the key generator and the
 * client's token cache write theirs through here.
 *
 * It does not decide what a file may be (a regular file, not a FIFO, ...):
 * a caller with such rules opens and checks the file itself and hands the
 * descriptor to fa_fd_read. It does not trust a size from stat either: a
 * file can grow between fstat and read, and pipes have no size.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/base.h"

enum fa_rc fa_fd_read(int fd, size_t max, char **data, size_t *len, int *saved_errno)
{
	/* One byte past the cap tells a file that is too large. */
	size_t cap, n = 0;
	char *buf = NULL;
	enum fa_rc rc = FA_OK;

	*data = NULL;
	*len = 0;
	if (saved_errno)
		*saved_errno = 0;
	if (max > SIZE_MAX - 2)
		return FA_EINVAL;
	cap = max + 1;
	buf = malloc(cap + 1);   /* and the NUL */
	if (!buf)
		return FA_ENOMEM;
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			if (saved_errno)
				*saved_errno = errno;
			rc = FA_EIO;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		rc = FA_ETOOBIG;
		goto out;
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	buf = NULL;
out:
	if (buf) {
		fa_memzero(buf, n);   /* a partial read may hold secrets */
		free(buf);
	}
	return rc;
}

enum fa_rc fa_file_read(const char *path, size_t max, char **data, size_t *len,
			int *saved_errno)
{
	enum fa_rc rc;
	int fd;

	*data = NULL;
	*len = 0;
	if (saved_errno)
		*saved_errno = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if (saved_errno)
			*saved_errno = e;
		return e == ENOENT ? FA_ENOTFOUND : FA_EIO;
	}
	rc = fa_fd_read(fd, max, data, len, saved_errno);
	close(fd);
	return rc;
}

enum fa_rc fa_fd_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return FA_EIO;
		}
		c += w;
		n -= (size_t)w;
	}
	return FA_OK;
}
