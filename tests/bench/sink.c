/*
 * sink: a fast stand-in for Wazuh's analysisd queue socket, for
 * tests/bench/bench.py.
 *
 *	sink PATH
 *		binds PATH (AF_UNIX, SOCK_DGRAM), prints "ready" on stdout
 *		and receives (recvmmsg, 64 datagrams at a time). On SIGUSR1
 *		it drains what is queued and prints one line, then starts
 *		counting afresh; on SIGTERM it does the same and exits:
 *
 *		datagrams=N bytes=B bad=K span_s=S user_s=U sys_s=V
 *
 *		bad: datagrams not starting with "1:Azure:" or cut (over
 *		64 KiB); span_s: from the first datagram to the last; user_s,
 *		sys_s: the sink's own CPU time since the last line.
 *
 *	sink --selftest N SIZE
 *		its capacity: a child sends N datagrams of SIZE bytes, each
 *		with a blocking send(2) as azure-forwarder does, to a sink
 *		socket in this process; prints
 *		"datagrams_per_s=R mb_per_s=M user_s=U sys_s=V" (the
 *		receiving side's CPU).
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH	64
#define DGRAM_MAX (65536 + 1024)
#define HEADER	"1:Azure:"

static volatile sig_atomic_t want_report, want_exit;

struct counts {
	unsigned long long n, bytes, bad;
	double first, last;
	struct rusage ru;
};

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_report = 1;
	else
		want_exit = 1;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
tv(const struct timeval *t)
{
	return (double)t->tv_sec + (double)t->tv_usec / 1e6;
}

static int
bind_path(const char *path)
{
	struct sockaddr_un sun;
	int s;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "sink: %s: path too long\n", path);
		exit(100);
	}
	strcpy(sun.sun_path, path);
	unlink(path);
	if ((s = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1 ||
	    bind(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "sink: %s: %s\n", path, strerror(errno));
		exit(111);
	}
	return s;
}

/* Receive one batch. Returns the number received, 0 on EAGAIN/EINTR. */
static int
receive(int s, int flags, struct mmsghdr *m, struct counts *c)
{
	int i, got;

	got = recvmmsg(s, m, BATCH, flags, NULL);
	if (got == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		perror("sink: recvmmsg");
		exit(111);
	}
	if (got > 0) {
		if (c->n == 0)
			c->first = now();
		c->last = now();
	}
	for (i = 0; i < got; i++) {
		const char *p = m[i].msg_hdr.msg_iov->iov_base;
		unsigned len = m[i].msg_len;

		c->n++;
		c->bytes += len;
		if ((m[i].msg_hdr.msg_flags & MSG_TRUNC) ||
		    len < sizeof(HEADER) - 1 ||
		    memcmp(p, HEADER, sizeof(HEADER) - 1) != 0)
			c->bad++;
		m[i].msg_hdr.msg_flags = 0;
	}
	return got;
}

static void
report(struct counts *c)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	printf("datagrams=%llu bytes=%llu bad=%llu span_s=%.6f user_s=%.6f "
	       "sys_s=%.6f\n",
	       c->n, c->bytes, c->bad, c->n ? c->last - c->first : 0.0,
	       tv(&ru.ru_utime) - tv(&c->ru.ru_utime),
	       tv(&ru.ru_stime) - tv(&c->ru.ru_stime));
	fflush(stdout);
	memset(c, 0, sizeof(*c));
	c->ru = ru;
}

static struct mmsghdr *
buffers(void)
{
	static struct iovec iov[BATCH];
	static struct mmsghdr m[BATCH];
	int i;

	for (i = 0; i < BATCH; i++) {
		if ((iov[i].iov_base = malloc(DGRAM_MAX)) == NULL)
			exit(111);
		iov[i].iov_len = DGRAM_MAX;
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	return m;
}

static int
serve(const char *path)
{
	struct mmsghdr *m = buffers();
	struct counts c;
	struct sigaction sa;
	int s = bind_path(path);

	memset(&c, 0, sizeof(c));
	getrusage(RUSAGE_SELF, &c.ru);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: recvmmsg returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		receive(s, MSG_WAITFORONE, m, &c);
		if (want_report || want_exit) {
			while (receive(s, MSG_DONTWAIT, m, &c) > 0)
				;
			want_report = 0;
			report(&c);
			if (want_exit)
				break;
		}
	}
	close(s);
	unlink(path);
	return 0;
}

static int
selftest(unsigned long long n, size_t size)
{
	struct mmsghdr *m = buffers();
	struct sockaddr_un sun;
	struct counts c;
	char path[108], *msg;
	unsigned long long i;
	double t0, t1;
	pid_t pid;
	int s, w, st;

	snprintf(path, sizeof(path), "/tmp/bench-sink-%ld.sock", (long)getpid());
	s = bind_path(path);
	memset(&c, 0, sizeof(c));
	getrusage(RUSAGE_SELF, &c.ru);
	if ((pid = fork()) == 0) {
		if ((msg = malloc(size)) == NULL)
			_exit(111);
		memset(msg, 'x', size);
		memcpy(msg, HEADER, size < 8 ? size : 8);
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		strcpy(sun.sun_path, path);
		if ((w = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1 ||
		    connect(w, (struct sockaddr *)&sun, sizeof(sun)) == -1)
			_exit(111);
		for (i = 0; i < n; i++)
			while (send(w, msg, size, 0) == -1)
				if (errno != EINTR && errno != ENOBUFS &&
				    errno != EAGAIN)
					_exit(111);
		_exit(0);
	}
	t0 = now();
	while (c.n < n)
		receive(s, MSG_WAITFORONE, m, &c);
	t1 = now();
	waitpid(pid, &st, 0);
	{
		struct rusage ru;

		getrusage(RUSAGE_SELF, &ru);
		printf("datagrams_per_s=%.0f mb_per_s=%.1f user_s=%.3f "
		       "sys_s=%.3f bad=%llu\n",
		       (double)n / (t1 - t0),
		       (double)n * (double)size / (t1 - t0) / 1e6,
		       tv(&ru.ru_utime) - tv(&c.ru.ru_utime),
		       tv(&ru.ru_stime) - tv(&c.ru.ru_stime), c.bad);
	}
	close(s);
	unlink(path);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--selftest") == 0)
		return selftest(strtoull(argv[2], NULL, 10),
				(size_t)strtoul(argv[3], NULL, 10));
	if (argc != 2) {
		fprintf(stderr, "usage: sink PATH | sink --selftest N SIZE\n");
		return 100;
	}
	return serve(argv[1]);
}
