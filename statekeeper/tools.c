/*
 * azure-statekeeper --list, --reset KEY and --set KEY: the checkpoints of
 * azure.db shown, forgotten or moved by hand.
 *
 * --list opens the database read-only and changes nothing. --reset and
 * --set change it in one transaction, only when no other process has it
 * open: a statekeeper keeps its connection for the whole run and writes
 * the checkpoint it read at the start of a window when the window ends,
 * which would undo a change made meanwhile. Every connection to a WAL
 * database holds a shared lock on the "dead man switch" byte of its -shm
 * file for as long as it is open (SQLite's unix VFS); a lock there held by
 * another process, seen while we hold the write lock (BEGIN IMMEDIATE),
 * means the database is in use. A statekeeper that starts afterwards
 * waits for our commit before it reads anything (its first statements
 * write).
 *
 * Storage: a checkpoint of ours is md5("account=A|container=C"), its query
 * the container C, and its blob offsets are kept under Wazuh's key of the
 * account, md5(A), shared by the account's containers. A's name is not in
 * the database: the offsets of C are under md5(A) for the --account A
 * given (checked against the key), or, without it, under the one account
 * key that has offsets in a container of that name, when no other
 * checkpoint is of a container of that name and that key has no row of
 * Wazuh's (whose offsets may be of another account's container C).
 * Otherwise the account is uncertain: --list marks the count (every
 * account's), --reset needs --account and never deletes offsets under a
 * key it did not verify.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <jansson.h>
#include <sqlite3.h>

#include "buf.h"
#include "date.h"
#include "log.h"
#include "sandbox.h"
#include "sk.h"
#include "tools.h"
#include "util.h"

#define MAX(a, b)   ((a) > (b) ? (a) : (b))
#define QUERY_SHOWN 60	 /* characters of a query in the table */
#define BUSY_MS	    1000 /* how long a change waits for the write lock */
/* SQLite's unix VFS: the byte of the -shm file every connection holds a
 * shared lock on while it is open ((22 + SQLITE_SHM_NLOCK) * 4 + 8). */
#define SHM_DMS_BYTE 128

static const char *const services[] = {"graph", "log_analytics", "storage"};
#define NSERVICES (sizeof(services) / sizeof(services[0]))

struct topts {
	const char *db, *user, *service, *account, *key, *min, *max;
	int list, json, reset, set;
};

/* A checkpoint row. */
struct row {
	const char *table;
	char md5[64];
	char *query;
	char min[64], max[64];
};

/* Where the blob offsets of a storage row are. BLOBS_AMBIGUOUS: under
 * an account key not certain to be the row's (see the top). */
enum scope { BLOBS_NONE, BLOBS_KEY, BLOBS_CONTAINER, BLOBS_AMBIGUOUS };
struct blobs {
	enum scope scope;
	char account[MD5_HEXLEN]; /* BLOBS_CONTAINER: the account's key */
	int64_t n;		  /* rows */
	int64_t accounts;	  /* keys with offsets in the container */
	int64_t rows;		  /* checkpoints of containers of its name */
};

static sqlite3 *h;
static const char *dbname; /* as given: messages show it */
static int shm_fd = -1;	   /* kept open until SQLite closed its own */

static void __attribute__((noreturn)) tools_usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: azure-statekeeper --db PATH --list [--json] "
		"[--account NAME] [--user NAME]\n"
		"       azure-statekeeper --db PATH --reset KEY [--service "
		"NAME] [--account NAME]\n"
		"                         [--user NAME]\n"
		"       azure-statekeeper --db PATH --set KEY [--min DATE] "
		"[--max DATE]\n"
		"                         [--service NAME] [--user NAME]\n"
		"\n"
		"--list prints every checkpoint of azure.db (service, key, "
		"query, min, max, the\n"
		"blob offsets and the delivered ids kept for it), as a table "
		"or one JSON document;\n"
		"it opens the database read-only. --reset forgets a "
		"checkpoint, its blob offsets\n"
		"and its delivered ids: the next run starts as for a new "
		"request. --set moves its\n"
		"min and/or max (min <= max). KEY: the md5 of --list, or a "
		"unique prefix of at\n"
		"least 8 digits; --service graph|log_analytics|storage when "
		"the key is in several\n"
		"tables. --account NAME: the storage account of a container's "
		"checkpoint, when\n"
		"the database cannot tell it (--list marks its blob count "
		"with *). Changes are\n"
		"refused while another process (azure-logs) has the database "
		"open. Started as\n"
		"root, --user NAME runs as NAME.\n"
		"Exit status: 0 success, 1 failure, 100 usage error.\n");
	exit(status);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
bail(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_errorx("%s", msg);
	if (h != NULL)
		sqlite3_close_v2(h); /* an open transaction is rolled back */
	exit(EXIT_RUNTIME);
}

static void __attribute__((noreturn)) busy(void)
{
	bail("the database %s is busy (is azure-logs running?): nothing was "
	     "changed; try again once it ended",
	     dbname);
}

/* An error of SQLite: busy, corrupt, or else WHAT failed. */
static void __attribute__((noreturn)) db_fail(int rc, const char *what)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		busy();
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		bail("the database %s is corrupt (%s): nothing was changed; "
		     "move it aside to start afresh",
		     dbname, h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
	default:
		bail("%s: %s: %s", dbname, what,
		     h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
	}
}

static sqlite3_stmt *
prepare(const char *sql)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL)) != SQLITE_OK)
		db_fail(rc, "reading");
	return st;
}

static void
exec(const char *sql, const char *what)
{
	int rc;

	if ((rc = sqlite3_exec(h, sql, NULL, NULL, NULL)) != SQLITE_OK)
		db_fail(rc, what);
}

static int
table_exists(const char *name)
{
	sqlite3_stmt *st = prepare("SELECT 1 FROM sqlite_master WHERE type = "
				   "'table' AND name = ?1");
	int rc;

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		db_fail(rc, "reading");
	return rc == SQLITE_ROW;
}

/* The single integer SQL gives (binding the texts a, b when not NULL);
 * 0 when no row. */
static int64_t
count(const char *sql, const char *a, const char *b)
{
	sqlite3_stmt *st = prepare(sql);
	int64_t n = 0;
	int rc;

	if (a != NULL)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b != NULL)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		db_fail(rc, "reading");
	sqlite3_finalize(st);
	return n;
}

static int
quick_check_cb(void *arg, int n, char **val, char **col)
{
	(void)col;
	if (n > 0 && val[0] && strcmp(val[0], "ok") != 0 && *(char *)arg == 0)
		strlcpy(arg, val[0], 256);
	return 0;
}

/* Does another process hold the database open? (See the top.) */
static int
others_connected(const char *path)
{
	char shm[PATH_MAX];
	struct flock fl;

	if (shm_fd == -1) {
		snprintf(shm, sizeof(shm), "%s-shm", path);
		shm_fd = open(shm, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (shm_fd == -1)
			return 0; /* not in WAL mode, or nobody ever opened */
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = SHM_DMS_BYTE;
	fl.l_len = 1;
	if (fcntl(shm_fd, F_GETLK, &fl) == -1)
		bail("%s-shm: cannot query its locks: %s", dbname,
		     strerror(errno));
	return fl.l_type != F_UNLCK;
}

/*
 * Open the database (read-only unless WRITE) and check its integrity; with
 * WRITE, take the write lock and make sure nobody else has it open.
 */
static void
open_db(const char *path, int write)
{
	char bad[256] = "";
	int rc;

	if (access(path, F_OK) == -1 && errno == ENOENT)
		bail("the database %s does not exist", dbname);
	rc = sqlite3_open_v2(
	    path, &h,
	    (write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) |
		SQLITE_OPEN_NOFOLLOW,
	    NULL);
	if (rc != SQLITE_OK) {
		if (h == NULL)
			bail("cannot open the database %s: out of memory",
			     dbname);
		bail("cannot open the database %s: %s", dbname,
		     sqlite3_errmsg(h));
	}
	sqlite3_extended_result_codes(h, 1);
	sqlite3_busy_timeout(h, write ? BUSY_MS : 2000);
	rc = sqlite3_exec(h, "PRAGMA quick_check", quick_check_cb, bad, NULL);
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		busy();
	if (rc != SQLITE_OK || *bad != '\0')
		bail("the database %s is corrupt (%s): nothing was changed; "
		     "move it aside to start afresh",
		     dbname, *bad ? bad : sqlite3_errmsg(h));
	if (!write)
		return;
	if ((rc = sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL)) !=
	    SQLITE_OK)
		db_fail(rc, "BEGIN");
	if (others_connected(path))
		busy();
	if (table_exists("azure_logs_meta") &&
	    count("SELECT CAST(value AS INTEGER) FROM azure_logs_meta "
		  "WHERE name = 'schema_version'",
		  NULL, NULL) > SCHEMA_VERSION)
		bail("the database %s has a schema newer than this azure-logs "
		     "knows: change it with the azure-logs that wrote it",
		     dbname);
}

static void
close_db(void)
{
	if (h != NULL)
		sqlite3_close_v2(h);
	h = NULL;
	if (shm_fd != -1)
		close(shm_fd);
	shm_fd = -1;
}

/* The number of the row in azure_logs_key (the delivered ids'), or -1. */
static int64_t
kid_of(const struct row *r)
{
	if (!table_exists("azure_logs_key"))
		return -1;
	return count("SELECT coalesce((SELECT kid FROM azure_logs_key WHERE "
		     "service = ?1 AND md5 = ?2), -1)",
		     r->table, r->md5);
}

static const char *const seen_tables[] = {
    "azure_logs_seen", "azure_logs_seen_recent", "azure_logs_seen_v2"};

/* The delivered ids remembered for the row. */
static int64_t
seen_ids(const struct row *r)
{
	char sql[128], kid[32];
	int64_t n = 0, k = kid_of(r);
	size_t i;

	if (k < 0)
		return 0;
	snprintf(kid, sizeof(kid), "%lld", (long long)k);
	for (i = 0; i < sizeof(seen_tables) / sizeof(seen_tables[0]); i++) {
		if (!table_exists(seen_tables[i]))
			continue;
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM %s WHERE kid = CAST(?1 AS "
			 "INTEGER)",
			 seen_tables[i]);
		n += count(sql, kid, NULL);
	}
	return n;
}

/* md5("account=A|container=C"): the key of our storage checkpoints. */
static void
container_key(const char *account, const char *container, char out[MD5_HEXLEN])
{
	char *s;

	if (asprintf(&s, "account=%s|container=%s", account, container) == -1)
		fatal("asprintf");
	md5_hex(s, strlen(s), out);
	free(s);
}

/* Where the blob offsets of R are (the top says how), into B. */
static void
find_blobs(const struct row *r, const char *account, struct blobs *b)
{
	char key[MD5_HEXLEN];
	sqlite3_stmt *st;
	int rc;

	memset(b, 0, sizeof(*b));
	if (strcmp(r->table, "storage") != 0 ||
	    !table_exists("storage_blob_offset"))
		return;
	/* A row of Wazuh's (md5 of the account): every container's. */
	b->n = count("SELECT count(*) FROM storage_blob_offset WHERE md5 = ?1",
		     r->md5, NULL);
	if (b->n > 0) {
		b->scope = BLOBS_KEY;
		return;
	}
	if (account != NULL) {
		container_key(account, r->query, key);
		if (strcmp(key, r->md5) == 0) {
			md5_hex(account, strlen(account), b->account);
			b->n = count("SELECT count(*) FROM storage_blob_offset "
				     "WHERE md5 = ?1 AND container = ?2",
				     b->account, r->query);
			b->scope = b->n > 0 ? BLOBS_CONTAINER : BLOBS_NONE;
			return;
		}
	}
	st = prepare("SELECT md5, count(*) FROM storage_blob_offset WHERE "
		     "container = ?1 GROUP BY md5");
	sqlite3_bind_text(st, 1, r->query, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		b->accounts++;
		b->n += sqlite3_column_int64(st, 1);
		if (b->accounts == 1)
			strlcpy(b->account,
				(const char *)sqlite3_column_text(st, 0),
				sizeof(b->account));
	}
	if (rc != SQLITE_DONE)
		db_fail(rc, "reading storage_blob_offset");
	sqlite3_finalize(st);
	if (b->accounts == 0) {
		b->scope = BLOBS_NONE;
		return;
	}
	b->rows = count("SELECT count(*) FROM storage WHERE query = ?1",
			r->query, NULL);
	b->scope = b->accounts == 1 && b->rows == 1 &&
			   count("SELECT count(*) FROM storage WHERE md5 = ?1",
				 b->account, NULL) == 0
		       ? BLOBS_CONTAINER
		       : BLOBS_AMBIGUOUS;
}

static void
row_fill(struct row *r, const char *table, sqlite3_stmt *st)
{
	const unsigned char *v;

	memset(r, 0, sizeof(*r));
	r->table = table;
	v = sqlite3_column_text(st, 0);
	strlcpy(r->md5, v ? (const char *)v : "", sizeof(r->md5));
	v = sqlite3_column_text(st, 1);
	if ((r->query = strdup(v ? (const char *)v : "")) == NULL)
		fatal("strdup");
	v = sqlite3_column_text(st, 2);
	strlcpy(r->min, v ? (const char *)v : "", sizeof(r->min));
	v = sqlite3_column_text(st, 3);
	strlcpy(r->max, v ? (const char *)v : "", sizeof(r->max));
}

/* ------------------------------------------------------------ --list */

/* Characters (not bytes) of UTF-8 text. */
static size_t
width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* The query as the table shows it: on one line, at most QUERY_SHOWN
 * characters ("…" ends a longer one). */
static char *
query_shown(const char *q)
{
	size_t n = 0, i;
	char *s = xmalloc(strlen(q) + 4);

	for (i = 0; q[i] != '\0'; i++) {
		if (((unsigned char)q[i] & 0xc0) != 0x80 &&
		    ++n == QUERY_SHOWN && width(q + i) > 1) {
			memcpy(s + i, "\xe2\x80\xa6", 4); /* … */
			return s;
		}
		s[i] = q[i];
		if ((unsigned char)q[i] < 0x20 || q[i] == 0x7f)
			s[i] = ' ';
	}
	s[i] = '\0';
	return s;
}

/* A JSON string of S; bytes that are not UTF-8 become '?'. */
static json_t *
jstr(const char *s)
{
	json_t *j = json_string(s);
	char *t;
	size_t i;

	if (j != NULL)
		return j;
	if ((t = strdup(s)) == NULL)
		fatal("strdup");
	for (i = 0; t[i] != '\0'; i++)
		if ((unsigned char)t[i] >= 0x80)
			t[i] = '?';
	j = json_string(t);
	free(t);
	return j;
}

struct listed {
	struct row r;
	struct blobs b;
	int64_t seen;
	char *shown;
};

static int
list(const struct topts *o)
{
	struct listed *v = NULL;
	size_t n = 0, cap = 0, i, k;
	size_t w[5] = {7, 3, 5, 3, 3}; /* service key query min max */
	sqlite3_stmt *st;
	json_t *root, *arr, *obj;
	char sql[160], blobs[32];
	int rc;

	for (k = 0; k < NSERVICES; k++) {
		if (!table_exists(services[k]))
			continue;
		snprintf(sql, sizeof(sql),
			 "SELECT md5, query, min_processed_date, "
			 "max_processed_date FROM %s ORDER BY query, md5",
			 services[k]);
		st = prepare(sql);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				v = reallocarray(v, cap, sizeof(*v));
				if (v == NULL)
					fatal("reallocarray");
			}
			row_fill(&v[n].r, services[k], st);
			n++;
		}
		if (rc != SQLITE_DONE)
			db_fail(rc, "reading");
		sqlite3_finalize(st);
	}
	for (i = 0; i < n; i++) {
		find_blobs(&v[i].r, o->account, &v[i].b);
		v[i].seen = seen_ids(&v[i].r);
		v[i].shown = query_shown(v[i].r.query);
	}
	if (o->json) {
		root = json_object();
		arr = json_array();
		for (i = 0; i < n; i++) {
			obj = json_object();
			json_object_set_new(obj, "service",
					    json_string(v[i].r.table));
			json_object_set_new(obj, "key", jstr(v[i].r.md5));
			json_object_set_new(obj, "query", jstr(v[i].r.query));
			json_object_set_new(obj, "min", jstr(v[i].r.min));
			json_object_set_new(obj, "max", jstr(v[i].r.max));
			json_object_set_new(obj, "blobs",
					    json_integer(v[i].b.n));
			json_object_set_new(
			    obj, "blobs_uncertain",
			    json_boolean(v[i].b.scope == BLOBS_AMBIGUOUS));
			json_object_set_new(obj, "seen_ids",
					    json_integer(v[i].seen));
			json_array_append_new(arr, obj);
		}
		json_object_set_new(root, "checkpoints", arr);
		if (json_dumpf(root, stdout,
			       JSON_INDENT(2) | JSON_PRESERVE_ORDER) == -1)
			fatal("writing the JSON document");
		putchar('\n');
		json_decref(root);
	} else if (n == 0)
		printf("no checkpoint in %s\n", dbname);
	else {
		for (i = 0; i < n; i++) {
			w[0] = MAX(w[0], strlen(v[i].r.table));
			w[1] = MAX(w[1], strlen(v[i].r.md5));
			w[2] = MAX(w[2], width(v[i].shown));
			w[3] = MAX(w[3], strlen(v[i].r.min));
			w[4] = MAX(w[4], strlen(v[i].r.max));
		}
		printf("%-*s  %-*s  %-*s  %-*s  %-*s  %6s  %8s\n", (int)w[0],
		       "SERVICE", (int)w[1], "KEY", (int)w[2], "QUERY",
		       (int)w[3], "MIN", (int)w[4], "MAX", "BLOBS", "SEEN_IDS");
		for (i = 0; i < n; i++) {
			snprintf(blobs, sizeof(blobs), "%lld%s",
				 (long long)v[i].b.n,
				 v[i].b.scope == BLOBS_AMBIGUOUS ? "*" : "");
			/* printf pads bytes: add what UTF-8 takes more. */
			printf("%-*s  %-*s  %-*s  %-*s  %-*s  %6s  %8lld\n",
			       (int)w[0], v[i].r.table, (int)w[1], v[i].r.md5,
			       (int)(w[2] + strlen(v[i].shown) -
				     width(v[i].shown)),
			       v[i].shown, (int)w[3], v[i].r.min, (int)w[4],
			       v[i].r.max, blobs, (long long)v[i].seen);
		}
		for (i = 0; i < n; i++)
			if (v[i].b.scope == BLOBS_AMBIGUOUS) {
				printf("* the storage account of the "
				       "container is not certain: the blob "
				       "offsets of containers of that name "
				       "in every account that has some;\n"
				       "  --account NAME counts that "
				       "account's\n");
				break;
			}
	}
	for (i = 0; i < n; i++) {
		free(v[i].r.query);
		free(v[i].shown);
	}
	free(v);
	if (fflush(stdout) == EOF || ferror(stdout))
		bail("cannot write to stdout: %s", strerror(errno));
	return 0;
}

/* ------------------------------------------------ --reset and --set */

/* The one row KEY (a unique prefix of at least 8 hex digits) names. */
static void
find_row(const struct topts *o, struct row *out)
{
	char key[64], sql[192], first[64] = "";
	struct row r;
	sqlite3_stmt *st;
	size_t i, len = strlen(o->key), hits = 0, keys = 0;
	int rc;

	if (len < 8 || len > 32 ||
	    strspn(o->key, "0123456789abcdefABCDEF") != len)
		bail("%s: not a checkpoint key (the md5 --list shows, or a "
		     "prefix of it of at least 8 hexadecimal digits)",
		     o->key);
	for (i = 0; i <= len; i++)
		key[i] = (char)(o->key[i] >= 'A' && o->key[i] <= 'F'
				    ? o->key[i] - 'A' + 'a'
				    : o->key[i]);
	for (i = 0; i < NSERVICES; i++) {
		if ((o->service && strcmp(o->service, services[i]) != 0) ||
		    !table_exists(services[i]))
			continue;
		snprintf(sql, sizeof(sql),
			 "SELECT md5, query, min_processed_date, "
			 "max_processed_date FROM %s WHERE substr(md5, 1, "
			 "length(?1)) = ?1 ORDER BY md5",
			 services[i]);
		st = prepare(sql);
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			row_fill(&r, services[i], st);
			if (hits == 0 || strcmp(r.md5, first) != 0)
				keys++;
			if (keys > 1)
				bail("the key %s is ambiguous: it names %s and "
				     "%s (at least); give more of it",
				     o->key, first, r.md5);
			if (hits++ > 0)
				bail("%s is a checkpoint of %s and of %s: name "
				     "one with --service",
				     r.md5, out->table, r.table);
			strlcpy(first, r.md5, sizeof(first));
			*out = r;
		}
		if (rc != SQLITE_DONE)
			db_fail(rc, "reading");
		sqlite3_finalize(st);
	}
	if (hits == 0)
		bail("no checkpoint %s%s%s in %s (--list shows them): nothing "
		     "was changed",
		     o->key, o->service ? " in table " : "",
		     o->service ? o->service : "", dbname);
}

static void
header(const struct row *r)
{
	printf("%s %s (query \"%s\"):\n", r->table, r->md5, r->query);
}

static void
commit(void)
{
	exec("COMMIT", "committing");
}

static void
flush_stdout(void)
{
	if (fflush(stdout) == EOF || ferror(stdout))
		log_warn("cannot write to stdout");
}

static int
reset(const struct topts *o)
{
	char sql[160], kid[MD5_HEXLEN];
	struct blobs b;
	struct row r;
	sqlite3_stmt *st;
	int64_t seen, k;
	size_t i;
	int rc;

	find_row(o, &r);
	find_blobs(&r, o->account, &b);
	if (o->account != NULL && b.scope != BLOBS_KEY) {
		container_key(o->account, r.query, kid);
		if (strcmp(kid, r.md5) != 0)
			bail("%s is not the checkpoint of container \"%s\" of "
			     "the storage account %s: nothing was changed",
			     r.md5, r.query, o->account);
	}
	if (b.scope == BLOBS_AMBIGUOUS)
		bail("the storage account of %s is not certain (blob offsets "
		     "of containers \"%s\" under %lld account key%s, %lld "
		     "checkpoint%s of containers of that name): name the "
		     "account with --account NAME; nothing was changed",
		     r.md5, r.query, (long long)b.accounts,
		     b.accounts == 1 ? "" : "s", (long long)b.rows,
		     b.rows == 1 ? "" : "s");
	seen = seen_ids(&r);
	k = kid_of(&r);
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE md5 = ?1", r.table);
	st = prepare(sql);
	sqlite3_bind_text(st, 1, r.md5, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		db_fail(rc, "deleting the checkpoint");
	sqlite3_finalize(st);
	if (b.scope == BLOBS_KEY || b.scope == BLOBS_CONTAINER) {
		st = prepare(b.scope == BLOBS_KEY
				 ? "DELETE FROM storage_blob_offset WHERE md5 "
				   "= ?1"
				 : "DELETE FROM storage_blob_offset WHERE md5 "
				   "= ?1 AND container = ?2");
		sqlite3_bind_text(st, 1,
				  b.scope == BLOBS_KEY ? r.md5 : b.account, -1,
				  SQLITE_STATIC);
		if (b.scope == BLOBS_CONTAINER)
			sqlite3_bind_text(st, 2, r.query, -1, SQLITE_STATIC);
		if ((rc = sqlite3_step(st)) != SQLITE_DONE)
			db_fail(rc, "deleting blob offsets");
		sqlite3_finalize(st);
	}
	if (k >= 0) {
		snprintf(kid, sizeof(kid), "%lld", (long long)k);
		for (i = 0; i < sizeof(seen_tables) / sizeof(seen_tables[0]);
		     i++) {
			if (!table_exists(seen_tables[i]))
				continue;
			snprintf(sql, sizeof(sql),
				 "DELETE FROM %s WHERE kid = CAST(?1 AS "
				 "INTEGER)",
				 seen_tables[i]);
			st = prepare(sql);
			sqlite3_bind_text(st, 1, kid, -1, SQLITE_STATIC);
			if ((rc = sqlite3_step(st)) != SQLITE_DONE)
				db_fail(rc, "deleting delivered ids");
			sqlite3_finalize(st);
		}
		st = prepare("DELETE FROM azure_logs_key WHERE kid = CAST(?1 "
			     "AS INTEGER)");
		sqlite3_bind_text(st, 1, kid, -1, SQLITE_STATIC);
		if ((rc = sqlite3_step(st)) != SQLITE_DONE)
			db_fail(rc, "deleting delivered ids");
		sqlite3_finalize(st);
	}
	commit();
	header(&r);
	printf("  min       %s \xe2\x86\x92 (none)\n", r.min);
	printf("  max       %s \xe2\x86\x92 (none)\n", r.max);
	printf("  blobs     %lld \xe2\x86\x92 0%s\n", (long long)b.n,
	       b.scope == BLOBS_KEY && b.n > 0 ? " (every container of the "
						 "account)"
					       : "");
	printf("  seen_ids  %lld \xe2\x86\x92 0\n", (long long)seen);
	printf("reset: the next run starts as for a new request%s\n",
	       strcmp(r.table, "storage") == 0
		   ? " (or from the account's checkpoint Wazuh wrote, if any)"
		   : "");
	flush_stdout();
	free(r.query);
	return 0;
}

/* A date given on the command line, in canonical form into OUT. */
static void
date_arg(const char *opt, const char *s, char out[DATE_STRLEN], int64_t *t)
{
	if (date_canonical(s, out) == -1 || date_parse(out, t) == -1)
		bail("%s %s: not a date (e.g. 2026-01-31T12:00:00Z)", opt, s);
	if (*t > date_now())
		bail("%s %s: in the future; nothing was changed", opt, s);
}

static int
set(const struct topts *o)
{
	char mn[DATE_STRLEN], mx[DATE_STRLEN], sql[192];
	int64_t tmin = 0, tmax = 0;
	sqlite3_stmt *st;
	struct row r;
	int rc;

	/* Check the dates before anything is looked up. */
	if (o->min != NULL)
		date_arg("--min", o->min, mn, &tmin);
	if (o->max != NULL)
		date_arg("--max", o->max, mx, &tmax);
	find_row(o, &r);
	if (o->min == NULL &&
	    (date_canonical(r.min, mn) == -1 || date_parse(mn, &tmin) == -1))
		bail("the min of %s holds no valid date (\"%s\"): give --min "
		     "too",
		     r.md5, r.min);
	if (o->max == NULL &&
	    (date_canonical(r.max, mx) == -1 || date_parse(mx, &tmax) == -1))
		bail("the max of %s holds no valid date (\"%s\"): give --max "
		     "too",
		     r.md5, r.max);
	if (tmin > tmax)
		bail("min %s is after max %s: nothing was changed", mn, mx);
	snprintf(sql, sizeof(sql),
		 "UPDATE %s SET min_processed_date = ?2, "
		 "max_processed_date = ?3 WHERE md5 = ?1",
		 r.table);
	st = prepare(sql);
	sqlite3_bind_text(st, 1, r.md5, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, mn, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, mx, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		db_fail(rc, "writing the checkpoint");
	sqlite3_finalize(st);
	commit();
	header(&r);
	printf("  min  %s \xe2\x86\x92 %s%s\n", r.min, mn,
	       strcmp(r.min, mn) == 0 ? " (unchanged)" : "");
	printf("  max  %s \xe2\x86\x92 %s%s\n", r.max, mx,
	       strcmp(r.max, mx) == 0 ? " (unchanged)" : "");
	printf("set: the next run fetches from there; events delivered "
	       "before are sent again,\n"
	       "except those whose ids are still remembered (seen_ids of "
	       "--list)\n");
	flush_stdout();
	free(r.query);
	return 0;
}

/* ------------------------------------------------------------ main */

/* Does the command line ask for a tool? */
int
tools_wanted(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--list") == 0 ||
		    strcmp(argv[i], "--reset") == 0 ||
		    strcmp(argv[i], "--set") == 0 ||
		    strncmp(argv[i], "--reset=", 8) == 0 ||
		    strncmp(argv[i], "--set=", 6) == 0)
			return 1;
	return 0;
}

/*
 * Started as root with --user: enter the database's folder first (Wazuh's
 * folders above it are closed to that user), then become the user.
 * Returns the path to open.
 */
static const char *
become(const char *path, const char *user)
{
	static char dir[PATH_MAX], abs[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (user == NULL)
		return path;
	if (slash != NULL) {
		if ((size_t)(slash - path) >= sizeof(dir))
			usage_error("--db %s: path too long", path);
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		if (slash == path)
			strlcpy(dir, "/", sizeof(dir));
		if (chdir(dir) == -1)
			bail("cannot enter the database's folder %s: %s", dir,
			     strerror(errno));
		path = slash + 1;
	}
	if (getcwd(abs, sizeof(abs)) == NULL || db_in_folder(abs) == -1)
		bail("cannot enter the database's folder");
	priv_drop(user);
	return path;
}

int
tools_main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"db", required_argument, NULL, 'b'},
	    {"list", no_argument, NULL, 'L'},
	    {"json", no_argument, NULL, 'j'},
	    {"reset", required_argument, NULL, 'R'},
	    {"set", required_argument, NULL, 's'},
	    {"min", required_argument, NULL, 'm'},
	    {"max", required_argument, NULL, 'M'},
	    {"service", required_argument, NULL, 'v'},
	    {"account", required_argument, NULL, 'a'},
	    {"user", required_argument, NULL, 'u'},
	    {"no-sandbox", no_argument, NULL, 'S'},
	    {"debug", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	struct topts o = {0};
	const char *errstr, *path;
	int c, debug = 0, rc;

	log_init("azure-statekeeper", 0);
	while ((c = getopt_long(argc, argv, "d:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			o.db = optarg;
			break;
		case 'L':
			o.list = 1;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'R':
			o.reset = 1;
			o.key = optarg;
			break;
		case 's':
			o.set = 1;
			o.key = optarg;
			break;
		case 'm':
			o.min = optarg;
			break;
		case 'M':
			o.max = optarg;
			break;
		case 'v':
			o.service = optarg;
			break;
		case 'a':
			o.account = optarg;
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'S':
			break; /* no sandbox here: accepted as elsewhere */
		case 'd':
			debug = (int)strtonum(optarg, 0, 2, &errstr);
			if (errstr)
				usage_error("-d %s: must be 0, 1 or 2", optarg);
			break;
		case 'h':
			tools_usage(0);
		default:
			tools_usage(EXIT_USAGE);
		}
	}
	log_init("azure-statekeeper", debug);
	if (optind != argc)
		usage_error("%s: unexpected argument", argv[optind]);
	if (o.db == NULL)
		usage_error("--db PATH is required");
	if (o.list + o.reset + o.set != 1)
		usage_error("one of --list, --reset KEY and --set KEY");
	if (o.json && !o.list)
		usage_error("--json goes with --list");
	if ((o.min || o.max) && !o.set)
		usage_error("--min and --max go with --set");
	if (o.set && !o.min && !o.max)
		usage_error("--set KEY needs --min DATE, --max DATE or both");
	if (o.service && o.list)
		usage_error("--service goes with --reset and --set");
	if (o.service) {
		for (c = 0; c < (int)NSERVICES; c++)
			if (strcmp(o.service, services[c]) == 0)
				break;
		if (c == (int)NSERVICES)
			usage_error("--service %s: graph, log_analytics or "
				    "storage",
				    o.service);
	}
	if (o.account && o.set)
		usage_error("--account goes with --list and --reset");
	dbname = o.db;
	path = become(o.db, o.user);
	open_db(path, !o.list);
	if (o.list)
		rc = list(&o);
	else if (o.reset)
		rc = reset(&o);
	else
		rc = set(&o);
	close_db();
	return rc;
}
