/*
 * commits.so: counts the statekeeper's SQLite commits (LD_PRELOAD, set by
 * tests/bench/rusage.c for azure-statekeeper alone).
 *
 * sqlite3_open_v2() is wrapped: every read-write connection gets a
 * sqlite3_commit_hook() that counts the write transactions committed
 * (autocommit statements and COMMITs; a write transaction that changed
 * nothing counts too). At exit, after the statekeeper's own atexit
 * handlers (its last commit included), one line is appended to the file
 * named by BENCH_COMMITS_FILE:
 *
 *	commits=N changes=M
 *
 * M: rows inserted, updated or deleted (sqlite3_total_changes) by those
 * connections. The file is opened before main(), so the statekeeper's
 * sandbox (which allows write(2) on open descriptors) does not stand in
 * the way.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sqlite3.h>

typedef int (*open_fn)(const char *, sqlite3 **, int, const char *);

static open_fn real_open;
static unsigned long long commits;
static long long changes_closed;
static sqlite3 *conns[8];
static int out_fd = -1;

static int
on_commit(void *arg)
{
	(void)arg;
	commits++;
	return 0; /* let it commit */
}

int
sqlite3_open_v2(const char *path, sqlite3 **db, int flags, const char *vfs)
{
	int rc, i;

	if (real_open == NULL)
		real_open = (open_fn)dlsym(RTLD_NEXT, "sqlite3_open_v2");
	rc = real_open(path, db, flags, vfs);
	if (rc == SQLITE_OK && *db != NULL && (flags & SQLITE_OPEN_READWRITE)) {
		sqlite3_commit_hook(*db, on_commit, NULL);
		for (i = 0; i < 8; i++)
			if (conns[i] == NULL) {
				conns[i] = *db;
				break;
			}
	}
	return rc;
}

/* A connection closed before exit: keep its count of changes. */
int
sqlite3_close(sqlite3 *db)
{
	static int (*real_close)(sqlite3 *);
	int i;

	if (real_close == NULL)
		real_close = (int (*)(sqlite3 *))dlsym(RTLD_NEXT, "sqlite3_close");
	for (i = 0; i < 8; i++)
		if (db != NULL && conns[i] == db) {
			changes_closed += sqlite3_total_changes64(db);
			conns[i] = NULL;
		}
	return real_close(db);
}

__attribute__((constructor)) static void
commits_init(void)
{
	const char *path = getenv("BENCH_COMMITS_FILE");
	int fd;

	real_open = (open_fn)dlsym(RTLD_NEXT, "sqlite3_open_v2");
	if (path == NULL || *path == '\0')
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd == -1)
		return;
	out_fd = fcntl(fd, F_DUPFD_CLOEXEC, 100); /* away from the roles' */
	close(fd);
}

__attribute__((destructor)) static void
commits_fini(void)
{
	long long changes = changes_closed;
	int i;

	if (out_fd == -1)
		return;
	for (i = 0; i < 8; i++)
		if (conns[i] != NULL)
			changes += sqlite3_total_changes64(conns[i]);
	dprintf(out_fd, "commits=%llu changes=%lld\n", commits, changes);
}
