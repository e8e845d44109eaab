/*
 * Descriptor helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "util.h"

/* Write everything, retrying on EINTR. Returns 0 or -1 (errno set). */
int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, c, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * Make the pipe fd holds larger (1 MiB: fewer, larger reads and writes);
 * quietly nothing when it is not a pipe or the system does not allow it
 * (EPERM over /proc/sys/fs/pipe-max-size for an unprivileged user).
 */
void
pipe_grow(int fd)
{
#ifdef F_SETPIPE_SZ
	int saved = errno;

	if (fcntl(fd, F_GETPIPE_SZ) < (1 << 20))
		(void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
	errno = saved;
#else
	(void)fd;
#endif
}
