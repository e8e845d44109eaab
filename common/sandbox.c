/*
 * Privilege drop and sandbox of the roles.
 *
 * priv_drop(): a role started as root becomes its user (setgroups,
 * setresgid, setresuid, then verify that none of it can be undone), as
 * OpenBSD's daemons do. A role started as another user stays that user.
 *
 * sandbox_enter(): PR_SET_NO_NEW_PRIVS, then Landlock (file access beneath
 * the given paths only; no TCP for the statekeeper and the forwarder) where
 * the kernel has it, then a seccomp allow-list whose default action kills
 * the process (OpenSSH's sandbox-seccomp-filter.c is the model). A kernel
 * without Landlock or seccomp is logged once and the role goes on.
 *
 * AZURE_LOGS_SANDBOX_TEST=[ROLE:]ACTION (environment) makes the role (every
 * role, or only ROLE: fetcher, statekeeper or forwarder) try one forbidden
 * action right after, for the tests that prove the refusals:
 *   open:PATH   read PATH          write:PATH   create and write PATH
 *   socket      a TCP socket       connect:PORT TCP to 127.0.0.1:PORT
 * The outcome is logged ("sandbox test: ...: allowed" or "refused (...)"),
 * unless the filter kills the role (SIGSYS).
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <seccomp.h>

#include "log.h"
#include "sandbox.h"

/* Landlock as of ABI 6, whatever the headers say (Debian 12's know 2). */
#define LL_FS_EXECUTE	  (1ULL << 0)
#define LL_FS_WRITE_FILE  (1ULL << 1)
#define LL_FS_READ_FILE	  (1ULL << 2)
#define LL_FS_READ_DIR	  (1ULL << 3)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_REG	  (1ULL << 8)
#define LL_FS_ABI1	  ((1ULL << 13) - 1)
#define LL_FS_REFER	  (1ULL << 13) /* ABI 2 */
#define LL_FS_TRUNCATE	  (1ULL << 14) /* ABI 3 */
#define LL_FS_IOCTL_DEV	  (1ULL << 15) /* ABI 5 */
#define LL_FS_FILE                                                             \
	(LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | \
	 LL_FS_IOCTL_DEV)
#define LL_NET_BIND_TCP	       (1ULL << 0) /* ABI 4 */
#define LL_NET_CONNECT_TCP     (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL	       (1ULL << 1)
#define LL_CREATE_VERSION      (1U << 0)

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;	     /* ABI 6 */
};

/*
 * Become USER (NULL: stay). Fatal when USER does not exist, is root, or
 * cannot be verified afterwards.
 */
void
priv_drop(const char *user)
{
	struct passwd *pw;
	uid_t uid, ru, eu, su;
	gid_t gid, rg, eg, sg, groups[2];
	int n;

	if (user == NULL)
		return;
	errno = 0;
	if ((pw = getpwnam(user)) == NULL)
		fatalx("cannot run as %s: %s", user,
		       errno ? strerror(errno) : "no such user");
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0)
		fatalx("refusing to run as %s: it is root (uid 0)", user);
	if (geteuid() != 0) {
		if (getuid() == uid && geteuid() == uid)
			return;
		fatalx("cannot run as %s: only root can change user "
		       "(running as uid %lu)",
		       user, (unsigned long)geteuid());
	}
	if (setgroups(1, &gid) == -1)
		fatal("cannot run as %s: setgroups", user);
	if (setresgid(gid, gid, gid) == -1)
		fatal("cannot run as %s: setresgid", user);
	if (setresuid(uid, uid, uid) == -1)
		fatal("cannot run as %s: setresuid", user);
	if (getresuid(&ru, &eu, &su) == -1 || ru != uid || eu != uid ||
	    su != uid || getresgid(&rg, &eg, &sg) == -1 || rg != gid ||
	    eg != gid || sg != gid)
		fatalx("cannot run as %s: the user or group did not change",
		       user);
	n = getgroups(2, groups);
	if (n < 0 || n > 1 || (n == 1 && groups[0] != gid))
		fatalx("cannot run as %s: other groups are kept", user);
	if (setresuid(0, 0, 0) != -1 || setegid(0) != -1)
		fatalx("cannot run as %s: root can be regained", user);
#if defined(__SANITIZE_ADDRESS__)
	/* The change of user made us undumpable; LeakSanitizer's exit check
	 * needs to ptrace its own threads (test builds only). */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	log_debug("running as %s (uid %lu, gid %lu)", user, (unsigned long)uid,
		  (unsigned long)gid);
}

/* Landlock's ABI version, or 0 without it (errno says why). */
static int
landlock_abi(void)
{
	long v =
	    syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_VERSION);

	return v < 0 ? 0 : (int)v;
}

static uint64_t
landlock_fs_rights(int abi)
{
	uint64_t r = LL_FS_ABI1;

	if (abi >= 2)
		r |= LL_FS_REFER;
	if (abi >= 3)
		r |= LL_FS_TRUNCATE;
	if (abi >= 5)
		r |= LL_FS_IOCTL_DEV;
	return r;
}

/* Allow access beneath one path; a missing path is skipped. */
static void
landlock_allow(int ruleset, const struct sandbox_path *p, uint64_t handled)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	uint64_t want;

	want = LL_FS_READ_FILE | LL_FS_READ_DIR;
	if (p->access == SANDBOX_READ_WRITE)
		want |= LL_FS_WRITE_FILE | LL_FS_REMOVE_FILE | LL_FS_MAKE_REG |
			LL_FS_TRUNCATE;
	memset(&pb, 0, sizeof(pb));
	if ((pb.parent_fd = open(p->path, O_PATH | O_CLOEXEC)) == -1) {
		log_debug("sandbox: %s: %s (no rule)", p->path,
			  strerror(errno));
		return;
	}
	if (fstat(pb.parent_fd, &st) == 0 && !S_ISDIR(st.st_mode))
		want &= LL_FS_FILE;
	pb.allowed_access = want & handled;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
		    &pb, 0) == -1)
		fatal("sandbox: Landlock rule for %s", p->path);
	close(pb.parent_fd);
}

/*
 * Restrict file access to PATHS (and TCP as the role needs). Returns 0, or
 * -1 when the kernel has no Landlock.
 */
static int
landlock_enter(enum sandbox_role role, const struct sandbox_path *paths,
	       size_t npaths)
{
	struct ll_ruleset_attr attr;
	size_t size, i;
	int abi, fd;

	if ((abi = landlock_abi()) == 0)
		return -1;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = landlock_fs_rights(abi);
	size = sizeof(attr.handled_access_fs);
	if (abi >= 4) {
		/* The fetcher connects anywhere, but binds nothing. */
		attr.handled_access_net =
		    role == SANDBOX_FETCHER
			? LL_NET_BIND_TCP
			: LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	if ((fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0)) ==
	    -1)
		fatal("sandbox: Landlock ruleset");
	for (i = 0; i < npaths; i++)
		landlock_allow(fd, &paths[i], attr.handled_access_fs);
#if defined(__SANITIZE_ADDRESS__)
	/* LeakSanitizer lists /proc/PID/task and reads /proc/self/maps. */
	landlock_allow(fd, &(struct sandbox_path){"/proc", SANDBOX_READ},
		       attr.handled_access_fs);
#endif
	if (syscall(SYS_landlock_restrict_self, fd, 0) == -1)
		fatal("sandbox: Landlock restrict_self");
	close(fd);
	log_debug("sandbox: Landlock ABI %d, %zu paths", abi, npaths);
	return 0;
}

/* ACTION for NAME when its N arguments match CMP; a call this
 * architecture does not have is skipped. */
static void
rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
     const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return;
	if (seccomp_rule_add_array(ctx, action, nr, n, cmp) < 0)
		fatalx("sandbox: cannot add a rule for %s", name);
}

static void
allow(scmp_filter_ctx ctx, const char *name)
{
	rule(ctx, SCMP_ACT_ALLOW, name, 0, NULL);
}

static void
allow_list(scmp_filter_ctx ctx, const char *const *names)
{
	for (; *names != NULL; names++)
		allow(ctx, *names);
}

/* What every role needs: memory, signals, time, its descriptors. */
static const char *const base_calls[] = {"read",
					 "write",
					 "readv",
					 "writev",
					 "close",
					 "fstat",
					 "newfstatat",
					 "statx",
					 "lseek",
					 "fcntl",
					 "poll",
					 "ppoll",
					 "mmap",
					 "munmap",
					 "mremap",
					 "mprotect",
					 "brk",
					 "madvise",
					 "futex",
					 "rt_sigaction",
					 "rt_sigprocmask",
					 "rt_sigreturn",
					 "sigaltstack",
					 "restart_syscall",
					 "nanosleep",
					 "clock_nanosleep",
					 "clock_gettime",
					 "clock_getres",
					 "gettimeofday",
					 "time",
					 "getpid",
					 "gettid",
					 "getuid",
					 "geteuid",
					 "getgid",
					 "getegid",
					 "getrandom",
					 "sched_yield",
					 "set_robust_list",
					 "rseq",
					 "exit",
					 "exit_group",
					 "tgkill",
					 "alarm",
					 "setitimer",
					 "fsync",
					 "fdatasync",
					 "prlimit64",
					 "getrlimit",
					 NULL};

/* Network, name service and CA files; threads for the resolver. */
static const char *const fetcher_calls[] = {"connect",
					    "bind",
					    "getsockname",
					    "getpeername",
					    "setsockopt",
					    "getsockopt",
					    "sendto",
					    "recvfrom",
					    "sendmsg",
					    "recvmsg",
					    "sendmmsg",
					    "recvmmsg",
					    "shutdown",
					    "socketpair",
					    "pipe",
					    "pipe2",
					    "eventfd2",
					    "access",
					    "faccessat",
					    "faccessat2",
					    "readlink",
					    "readlinkat",
					    "stat",
					    "lstat",
					    "getdents64",
					    "set_tid_address",
					    "sched_getaffinity",
					    "uname",
					    "sysinfo",
					    "getcwd",
					    NULL};

/* SQLite in the database folder, the dead-letter file. */
static const char *const statekeeper_calls[] = {
    "open",	  "openat",   "pread64",    "pwrite64", "ftruncate",
    "fallocate",  "unlink",   "unlinkat",   "access",	"faccessat",
    "faccessat2", "readlink", "readlinkat", "stat",	"lstat",
    "getcwd",	  "fchown",   "fchmod",	    "uname",	NULL};

/* A datagram socket to Wazuh. */
static const char *const forwarder_calls[] = {"connect", "sendto", "sendmsg",
					      "setsockopt", NULL};

/* Calls allowed with some arguments only. */
static void
allow_args(scmp_filter_ctx ctx, enum sandbox_role role)
{
	static const int fetcher_domains[] = {AF_UNIX, AF_INET, AF_INET6,
					      AF_NETLINK};
	struct scmp_arg_cmp c[2];
	size_t i;

	/* isatty() */
	c[0] = SCMP_A1(SCMP_CMP_EQ, TCGETS, 0);
	rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, c);
	switch (role) {
	case SANDBOX_FETCHER:
		/* glibc's DNS resolver sizes a reply before reading it */
		c[0] = SCMP_A1(SCMP_CMP_EQ, FIONREAD, 0);
		rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, c);
		for (i = 0; i < sizeof(fetcher_domains) / sizeof(int); i++) {
			c[0] = SCMP_A0(SCMP_CMP_EQ,
				       (scmp_datum_t)fetcher_domains[i], 0);
			rule(ctx, SCMP_ACT_ALLOW, "socket", 1, c);
		}
		/* Files are opened for reading only. */
		c[0] = SCMP_A1(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDONLY);
		rule(ctx, SCMP_ACT_ALLOW, "open", 1, c);
		c[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDONLY);
		rule(ctx, SCMP_ACT_ALLOW, "openat", 1, c);
		/* Threads, not processes; glibc falls back from clone3. */
		c[0] = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
		rule(ctx, SCMP_ACT_ALLOW, "clone", 1, c);
		rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
		break;
	case SANDBOX_FORWARDER:
		c[0] = SCMP_A0(SCMP_CMP_EQ, AF_UNIX, 0);
		c[1] = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM);
		rule(ctx, SCMP_ACT_ALLOW, "socket", 2, c);
		break;
	case SANDBOX_STATEKEEPER:
		break;
	}
}

#if defined(__SANITIZE_ADDRESS__)
/* LeakSanitizer's exit check stops the threads with ptrace from a task of
 * its own and reads /proc/self/maps. */
static const char *const sanitizer_calls[] = {
    "clone",	"ptrace",   "wait4",
    "prctl",	"getdents", "getdents64",
    "readlink", "getppid",  "sched_getaffinity",
    "kill",	NULL};
#endif

/* Install the role's allow-list. Returns 0, or -1 without seccomp. */
static int
seccomp_enter(enum sandbox_role role)
{
	scmp_filter_ctx ctx;
	int rc;

	/* NULL when the kernel (or valgrind) has no seccomp at all */
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		return -1;
	allow_list(ctx, base_calls);
	switch (role) {
	case SANDBOX_FETCHER:
		allow_list(ctx, fetcher_calls);
		break;
	case SANDBOX_STATEKEEPER:
		allow_list(ctx, statekeeper_calls);
		break;
	case SANDBOX_FORWARDER:
		allow_list(ctx, forwarder_calls);
		break;
	}
	allow_args(ctx, role);
#if defined(__SANITIZE_ADDRESS__)
	allow_list(ctx, sanitizer_calls);
	if (role == SANDBOX_FORWARDER) { /* /proc, read-only (Landlock) */
		struct scmp_arg_cmp c;

		c = SCMP_A1(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDONLY);
		rule(ctx, SCMP_ACT_ALLOW, "open", 1, &c);
		c = SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDONLY);
		rule(ctx, SCMP_ACT_ALLOW, "openat", 1, &c);
	}
#endif
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc == -EINVAL || rc == -ENOSYS)
		return -1;
	if (rc < 0)
		fatalx("sandbox: seccomp_load: %s", strerror(-rc));
	return 0;
}

static void
test_report(const char *what, int ok)
{
	if (ok)
		log_info("sandbox test: %s: allowed", what);
	else
		log_info("sandbox test: %s: refused (%s)", what,
			 strerror(errno));
}

/* AZURE_LOGS_SANDBOX_TEST: try the forbidden action named (see above). */
static void
sandbox_test(const char *role)
{
	const char *t = getenv("AZURE_LOGS_SANDBOX_TEST");
	struct sockaddr_in sin;
	size_t n;
	int fd, rc;

	if (t == NULL || *t == '\0')
		return;
	n = strlen(role);
	if (strncmp(t, role, n) == 0 && t[n] == ':')
		t += n + 1;
	else if (strncmp(t, "fetcher:", 8) == 0 ||
		 strncmp(t, "statekeeper:", 12) == 0 ||
		 strncmp(t, "forwarder:", 10) == 0)
		return; /* for another role */
	log_info("sandbox test: trying %s", t);
	if (strncmp(t, "open:", 5) == 0) {
		fd = open(t + 5, O_RDONLY | O_CLOEXEC);
		test_report(t, fd != -1);
	} else if (strncmp(t, "write:", 6) == 0) {
		fd = open(t + 6, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		test_report(t, fd != -1);
	} else if (strcmp(t, "socket") == 0) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		test_report(t, fd != -1);
	} else if (strncmp(t, "connect:", 8) == 0) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)strtol(t + 8, NULL, 10));
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		rc = -1;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd != -1)
			rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
		test_report(t, rc == 0);
	} else {
		fatalx("AZURE_LOGS_SANDBOX_TEST=%s: unknown test", t);
	}
	if (fd != -1)
		close(fd);
}

/*
 * Enter the role's sandbox (DISABLED: say loudly that there is none).
 * PATHS are the only files the role may touch afterwards.
 */
void
sandbox_enter(enum sandbox_role role, const struct sandbox_path *paths,
	      size_t npaths, int disabled)
{
	static const char *const names[] = {"fetcher", "statekeeper",
					    "forwarder"};
	int landlock, filter;

	tzset(); /* /etc/localtime, for the log, while it can be read */
	if (disabled) {
		log_warnx("the %s runs without its sandbox (--no-sandbox): "
			  "for debugging only",
			  names[role]);
		sandbox_test(names[role]);
		return;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("sandbox: PR_SET_NO_NEW_PRIVS");
	landlock = landlock_enter(role, paths, npaths);
	filter = seccomp_enter(role);
	if (landlock == -1)
		log_info("the kernel has no Landlock: the %s's files are "
			 "limited by its user and system-call filter only",
			 names[role]);
	if (filter == -1) /* the larger loss: said at Wazuh's default level */
		log_warnx("the kernel has no seccomp filter: the %s's system "
			  "calls are not limited",
			  names[role]);
	sandbox_test(names[role]);
}
