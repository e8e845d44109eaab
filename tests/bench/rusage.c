/*
 * rusage: run one role and record what it cost (tests/bench/bench.py sets
 * it as the launcher's AZURE_LOGS_WRAPPER).
 *
 *	BENCH_RUSAGE_DIR=DIR rusage PROG [ARG...]
 *
 * Runs PROG as a child with the same descriptors and environment, waits
 * for it (wait4) and writes DIR/NAME.PID, NAME the last component of PROG:
 *
 *	prog=NAME user_s=U sys_s=S maxrss_kb=K wall_s=W status=N
 *
 * (status: the exit status, or 128 + the signal that killed it). TERM,
 * INT, HUP, QUIT, USR1 and USR2 sent to the wrapper are passed on to the
 * child; the wrapper then exits as the child did (the same status, or
 * killed by the same signal). With BENCH_SK_PRELOAD=LIB, a PROG named
 * azure-statekeeper runs with LD_PRELOAD=LIB (tests/bench/commits.c).
 */
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;

static void
pass_on(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
record(const char *dir, const char *name, pid_t pid, const struct rusage *ru,
       double wall, int status)
{
	char path[4096];
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/%s.%ld", dir, name, (long)pid) >=
	    (int)sizeof(path))
		return;
	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "rusage: %s: %s\n", path, strerror(errno));
		return;
	}
	fprintf(f, "prog=%s user_s=%.6f sys_s=%.6f maxrss_kb=%ld wall_s=%.6f "
		   "status=%d\n",
		name,
		(double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6,
		(double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6,
		ru->ru_maxrss, wall, status);
	fclose(f);
}

int
main(int argc, char **argv)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT,
				   SIGUSR1, SIGUSR2};
	const char *dir = getenv("BENCH_RUSAGE_DIR");
	const char *preload = getenv("BENCH_SK_PRELOAD");
	const char *name;
	struct sigaction sa;
	struct rusage ru;
	double start;
	pid_t pid;
	int st, code;
	size_t i;

	if (argc < 2) {
		fprintf(stderr, "usage: rusage PROG [ARG...]\n");
		return 100;
	}
	name = strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pass_on;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	start = now();
	if ((pid = fork()) == -1) {
		perror("rusage: fork");
		return 111;
	}
	if (pid == 0) {
		for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			signal(sigs[i], SIG_DFL);
		if (preload && *preload && strcmp(name, "azure-statekeeper") == 0)
			setenv("LD_PRELOAD", preload, 1);
		execvp(argv[1], argv + 1);
		fprintf(stderr, "rusage: %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	child_pid = pid;
	while (wait4(pid, &st, 0, &ru) == -1)
		if (errno != EINTR) {
			perror("rusage: wait4");
			return 111;
		}
	code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (dir != NULL && *dir)
		record(dir, name, pid, &ru, now() - start, code);
	if (WIFSIGNALED(st)) {
		signal(WTERMSIG(st), SIG_DFL);
		raise(WTERMSIG(st));
	}
	return code;
}
