/*
 * azure.db: Wazuh's schema (tables graph, log_analytics, storage and
 * storage_blob_offset, as SQLAlchemy creates them), opened in WAL mode,
 * checked for integrity before use.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "date.h"
#include "log.h"
#include "sk.h"

#define CKPT_TABLE(name)                                                       \
	"CREATE TABLE IF NOT EXISTS " name " (\n"                              \
	"\tmd5 TEXT NOT NULL, \n"                                              \
	"\tquery TEXT NOT NULL, \n"                                            \
	"\tmin_processed_date VARCHAR(28) NOT NULL, \n"                        \
	"\tmax_processed_date VARCHAR(28) NOT NULL, \n"                        \
	"\tPRIMARY KEY (md5), \n"                                              \
	"\tCONSTRAINT md5_restriction UNIQUE (md5)\n"                          \
	");\n"

static const char schema[] =
    CKPT_TABLE("graph") CKPT_TABLE("log_analytics") CKPT_TABLE(
	"storage") "CREATE TABLE IF NOT EXISTS storage_blob_offset (\n"
		   "\tmd5 TEXT NOT NULL, \n"
		   "\tcontainer TEXT NOT NULL, \n"
		   "\tblob TEXT NOT NULL, \n"
		   "\tcreation_time TEXT NOT NULL, \n"
		   "\tprocessed_bytes INTEGER NOT NULL, \n"
		   "\tPRIMARY KEY (md5, container, blob)\n"
		   ");\n"
		   /* Ours, beside Wazuh's: never change theirs. */
		   "CREATE TABLE IF NOT EXISTS azure_logs_meta (\n"
		   "\tname TEXT PRIMARY KEY NOT NULL,\n"
		   "\tvalue TEXT NOT NULL\n"
		   ");\n"
		   "INSERT OR IGNORE INTO azure_logs_meta VALUES "
		   "('schema_version', '1');\n"
		   /* Schema 2: events already delivered. A checkpoint
		    * row (table, md5) is numbered once in
		    * azure_logs_key; azure_logs_seen holds the md5 of
		    * each delivered event's id and its time (100 ns
		    * ticks since 1970), for pruning; schema 3 orders
		    * them by a sort key (seen.c, migrate_schema()). */
		   "CREATE TABLE IF NOT EXISTS azure_logs_key (\n"
		   "\tkid INTEGER PRIMARY KEY,\n"
		   "\tservice TEXT NOT NULL,\n"
		   "\tmd5 TEXT NOT NULL,\n"
		   "\tUNIQUE (service, md5)\n"
		   ");\n"
		   "CREATE TABLE IF NOT EXISTS azure_logs_seen (\n" SEEN_COLUMNS
		   ") WITHOUT ROWID;\n" SEEN_RECENT_TABLE
		   "UPDATE azure_logs_meta SET value = '2' WHERE name = "
		   "'schema_version' AND value = '1';\n";

static const char *const tables[] = {"graph", "log_analytics", "storage"};

/*
 * The database's folder, when the process works in it (db_in_folder).
 * Wazuh's own folders are 0750 root:wazuh, closed to the statekeeper's
 * user: it enters its folder while still root and names the files
 * relative to it. SQLite's unix VFS would turn "azure.db" into an absolute
 * path (and then fail on those folders), so a copy of it keeps relative
 * names as they are; "azure.db-wal" and "azure.db-shm" follow.
 */
static char folder[4096];
static sqlite3_vfs relative_vfs;

static int
relative_pathname(sqlite3_vfs *vfs, const char *in, int n, char *out)
{
	struct stat st;

	(void)vfs;
	if (in[0] == '/' || strlcpy(out, in, (size_t)n) >= (size_t)n)
		return SQLITE_CANTOPEN;
	/* As unix's: a symbolic link is reported (SQLITE_OPEN_NOFOLLOW
	 * then refuses it). */
	if (lstat(in, &st) == 0 && S_ISLNK(st.st_mode))
		return SQLITE_OK_SYMLINK;
	return SQLITE_OK;
}

/*
 * From now on database paths are relative to the current directory, FOLDER
 * (named in messages). Returns 0, or -1 when SQLite has no unix VFS.
 */
int
db_in_folder(const char *dir)
{
	sqlite3_vfs *unix_vfs = sqlite3_vfs_find("unix");

	if (unix_vfs == NULL)
		return -1;
	relative_vfs = *unix_vfs;
	relative_vfs.zName = "azure-relative";
	relative_vfs.xFullPathname = relative_pathname;
	strlcpy(folder, dir, sizeof(folder));
	return sqlite3_vfs_register(&relative_vfs, 1) == SQLITE_OK ? 0 : -1;
}

/* PATH as messages show it, with the folder db_in_folder() entered, in
 * BUF (returned). */
const char *
db_shown(const char *path, char *buf, size_t len)
{
	if (folder[0] == '\0' || path[0] == '/' ||
	    strcmp(path, ":memory:") == 0 ||
	    snprintf(buf, len, "%s/%s", folder, path) >= (int)len)
		strlcpy(buf, path, len);
	return buf;
}

static void
db_name(struct db *db, const char *path)
{
	db_shown(path, db->name, sizeof(db->name));
}

/* Is this one of Wazuh's checkpoint tables? (Table names are never
 * taken from outside this list.) */
int
db_table_ok(const char *service)
{
	size_t i;

	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (strcmp(service, tables[i]) == 0)
			return 1;
	return 0;
}

int
db_exec(struct db *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", db->name,
			 msg ? msg : sqlite3_errmsg(db->h));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Open a write transaction if none is. */
int
db_begin(struct db *db, char *err, size_t errlen)
{
	if (db->tx)
		return 0;
	if (db_exec(db, "BEGIN IMMEDIATE", err, errlen) == -1)
		return -1;
	db->tx = 1;
	db->tx_rows = 0;
	db->tx_since = date_now();
	return 0;
}

/* Commit the open transaction, if any. */
int
db_commit(struct db *db, char *err, size_t errlen)
{
	if (!db->tx)
		return 0;
	if (db_exec(db, "COMMIT", err, errlen) == -1)
		return -1;
	db->tx = 0;
	return 0;
}

static int
quick_check_cb(void *arg, int n, char **val, char **col)
{
	char *p;

	(void)col;
	if (n > 0 && val[0] && strcmp(val[0], "ok") != 0) {
		strlcpy(arg, val[0], 256);
		for (p = arg; *p != '\0'; p++) /* one line in Wazuh's log */
			if (*p == '\n')
				*p = ' ';
	}
	return 0;
}

/* Did another process hold the database past the busy timeout? Then say
 * so in err (it is not corrupt: nothing to move aside). */
static int
locked(struct db *db, int rc, char *err, size_t errlen)
{
	if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
		return 0;
	snprintf(err, errlen,
		 "the database %s is locked by another process (%s): is "
		 "another azure-logs, or Wazuh's own, running? Nothing was "
		 "changed",
		 db->name, sqlite3_errstr(rc));
	return 1;
}

/* PRAGMA quick_check: 0, or -1 with why (locked, or corrupt) in err. */
static int
integrity(struct db *db, char *err, size_t errlen)
{
	char bad[256] = "", *msg = NULL;
	int rc;

	rc = sqlite3_exec(db->h, "PRAGMA quick_check", quick_check_cb, bad,
			  &msg);
	if (!locked(db, rc, err, errlen) && (rc != SQLITE_OK || *bad))
		snprintf(err, errlen,
			 "the database %s is corrupt (%s); move it aside to "
			 "start afresh: checkpoints then restart from the "
			 "time offset",
			 db->name, msg ? msg : bad);
	sqlite3_free(msg);
	return rc == SQLITE_OK && *bad == '\0' ? 0 : -1;
}

/*
 * Open (or create) the database, check its integrity, make sure Wazuh's
 * tables exist with the columns we use. Returns 0, or -1 with a message.
 */
int
db_open(struct db *db, const char *path, char *err, size_t errlen)
{
	size_t i;
	char sql[160];

	memset(db, 0, sizeof(*db));
	db->path = path;
	db_name(db, path);
	if (sqlite3_open_v2(path, &db->h,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open the database %s: %s",
			 db->name,
			 db->h ? sqlite3_errmsg(db->h) : "out of memory");
		db_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db->h, 10000);
	sqlite3_extended_result_codes(db->h, 1);
	if (integrity(db, err, errlen) == -1) {
		db_close(db);
		return -1;
	}
	/* WAL with synchronous=NORMAL: a commit survives any crash of this
	 * process (kill -9 included); only a power cut may undo the last
	 * ones, which at worst sends their events again. Temporary tables
	 * stay in memory: the sandbox allows files in this folder only.
	 * SQLite's page cache is bounded at 1 MiB (the default is 2 MB):
	 * the pages a window touches are next to each other (sort keys). */
	if (db_exec(db,
		    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
		    "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-1024;",
		    err, errlen) == -1 ||
	    db_exec(db, schema, err, errlen) == -1 ||
	    migrate_schema(db, err, errlen) == -1) {
		locked(db, sqlite3_errcode(db->h), err, errlen);
		db_close(db);
		return -1;
	}
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(
		    sql, sizeof(sql),
		    "SELECT md5, query, "
		    "min_processed_date, max_processed_date FROM %s LIMIT 0",
		    tables[i]);
		if (db_exec(db, sql, err, errlen) == -1) {
			snprintf(err, errlen,
				 "the database %s does not have "
				 "Wazuh's schema (table %s: %s)",
				 path, tables[i], sqlite3_errmsg(db->h));
			db_close(db);
			return -1;
		}
	}
	return 0;
}

void
db_close(struct db *db)
{
	if (db->h)
		sqlite3_close(db->h);
	db->h = NULL;
}

/*
 * Read the checkpoint of md5 in table. Returns 1 found, 0 absent, -1 on
 * an error (message in err).
 */
int
db_get(struct db *db, const char *table, const char *md5, struct ckpt *c,
       char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *mn, *mx;
	char sql[128];
	int rc = -1;

	snprintf(sql, sizeof(sql),
		 "SELECT min_processed_date, "
		 "max_processed_date FROM %s WHERE md5 = ? LIMIT 1",
		 table);
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, md5, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		mn = sqlite3_column_text(st, 0);
		mx = sqlite3_column_text(st, 1);
		strlcpy(c->min, mn ? (const char *)mn : "", sizeof(c->min));
		strlcpy(c->max, mx ? (const char *)mx : "", sizeof(c->max));
		rc = 1;
		break;
	case SQLITE_DONE:
		rc = 0;
		break;
	}
out:
	if (rc == -1)
		snprintf(err, errlen, "%s: reading %s: %s", db->name, table,
			 sqlite3_errmsg(db->h));
	sqlite3_finalize(st);
	return rc;
}

/*
 * Insert or update the checkpoint of md5. With insert_only an existing row
 * is left alone. Returns 0 or -1 (message in err).
 */
int
db_put(struct db *db, const char *table, const char *md5, const char *query,
       const struct ckpt *c, int insert_only, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char sql[256];
	int rc = -1;

	if (insert_only)
		snprintf(
		    sql, sizeof(sql),
		    "INSERT OR IGNORE INTO %s (md5, "
		    "query, min_processed_date, max_processed_date) VALUES "
		    "(?1, ?2, ?3, ?4)",
		    table);
	else
		snprintf(
		    sql, sizeof(sql),
		    "INSERT INTO %s (md5, query, "
		    "min_processed_date, max_processed_date) VALUES (?1, ?2, "
		    "?3, ?4) ON CONFLICT(md5) DO UPDATE SET query = "
		    "excluded.query, min_processed_date = ?3, "
		    "max_processed_date = ?4",
		    table);
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, md5, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, query, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c->min, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, c->max, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
out:
	if (rc == -1)
		snprintf(err, errlen, "%s: writing %s: %s", db->name, table,
			 sqlite3_errmsg(db->h));
	sqlite3_finalize(st);
	return rc;
}

/*
 * The bytes already delivered of a blob (Wazuh's storage_blob_offset).
 * Returns 1 with ctime and *bytes, 0 when none is stored, -1 on an error.
 */
int
db_blob_get(struct db *db, const char *md5, const char *container,
	    const char *blob, char *ctime, size_t ctimelen, int64_t *bytes,
	    char *err, size_t errlen)
{
	static const char sql[] =
	    "SELECT creation_time, processed_bytes FROM storage_blob_offset "
	    "WHERE md5 = ?1 AND container = ?2 AND blob = ?3";
	sqlite3_stmt *st = NULL;
	const unsigned char *t;
	int rc = -1;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, md5, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, container, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, blob, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		t = sqlite3_column_text(st, 0);
		strlcpy(ctime, t ? (const char *)t : "", ctimelen);
		*bytes = sqlite3_column_int64(st, 1);
		rc = 1;
		break;
	case SQLITE_DONE:
		rc = 0;
		break;
	}
out:
	if (rc == -1)
		snprintf(err, errlen, "%s: reading storage_blob_offset: %s",
			 db->name, sqlite3_errmsg(db->h));
	sqlite3_finalize(st);
	return rc;
}

/* Store the bytes delivered of a blob. Returns 0 or -1. */
int
db_blob_put(struct db *db, const char *md5, const char *container,
	    const char *blob, const char *ctime, int64_t bytes, char *err,
	    size_t errlen)
{
	static const char sql[] =
	    "INSERT OR REPLACE INTO storage_blob_offset (md5, container, "
	    "blob, creation_time, processed_bytes) VALUES (?1, ?2, ?3, ?4, "
	    "?5)";
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, md5, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, container, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, blob, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, ctime, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, bytes);
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
out:
	if (rc == -1)
		snprintf(err, errlen, "%s: writing storage_blob_offset: %s",
			 db->name, sqlite3_errmsg(db->h));
	sqlite3_finalize(st);
	return rc;
}

/*
 * Forget the blobs of a container, under a prefix, that are no longer
 * listed (Wazuh's remove_stale_offsets). Returns 0 or -1.
 */
int
db_blob_prune(struct db *db, const char *md5, const char *container,
	      const char *prefix, char *const *keep, size_t nkeep, char *err,
	      size_t errlen)
{
	static const char del[] =
	    "DELETE FROM storage_blob_offset WHERE md5 = ?1 AND container = "
	    "?2 AND substr(blob, 1, length(?3)) = ?3 AND blob NOT IN "
	    "(SELECT blob FROM temp.azure_keep)";
	sqlite3_stmt *ins = NULL, *st = NULL;
	size_t i;
	int rc = -1;

	if (db_exec(db,
		    "CREATE TEMP TABLE IF NOT EXISTS azure_keep (blob TEXT "
		    "PRIMARY KEY); DELETE FROM temp.azure_keep;",
		    err, errlen) == -1)
		return -1;
	if (sqlite3_prepare_v2(db->h,
			       "INSERT OR IGNORE INTO temp.azure_keep VALUES "
			       "(?1)",
			       -1, &ins, NULL) != SQLITE_OK)
		goto out;
	for (i = 0; i < nkeep; i++) {
		sqlite3_bind_text(ins, 1, keep[i], -1, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			goto out;
		sqlite3_reset(ins);
	}
	if (sqlite3_prepare_v2(db->h, del, -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, md5, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, container, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, prefix, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
out:
	if (rc == -1)
		snprintf(err, errlen, "%s: pruning storage_blob_offset: %s",
			 db->name, sqlite3_errmsg(db->h));
	sqlite3_finalize(ins);
	sqlite3_finalize(st);
	return rc;
}

/*
 * --check: is the database there, sound and Wazuh's? Opened read-only:
 * nothing is created or changed. Prints what it found on stdout. Returns
 * 0, or -1 with a message in err.
 */
int
db_check(const char *path, char *err, size_t errlen)
{
	struct db db = {.path = path};
	char sql[128];
	sqlite3_stmt *st;
	size_t i;

	db_name(&db, path);
	if (access(path, F_OK) == -1) {
		printf("ok: the database %s does not exist yet: the first run "
		       "creates it\n",
		       db.name);
		return 0;
	}
	if (sqlite3_open_v2(path, &db.h, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "cannot open the database %s: %s",
			 db.name,
			 db.h ? sqlite3_errmsg(db.h) : "out of memory");
		db_close(&db);
		return -1;
	}
	sqlite3_busy_timeout(db.h, 2000);
	if (integrity(&db, err, errlen) == -1) {
		db_close(&db);
		return -1;
	}
	printf("ok: the database %s is sound;", db.name);
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM %s WHERE md5 IS NOT NULL AND "
			 "min_processed_date IS NOT NULL AND "
			 "max_processed_date IS NOT NULL",
			 tables[i]);
		if (sqlite3_prepare_v2(db.h, sql, -1, &st, NULL) != SQLITE_OK) {
			printf(" no %s table (the first run adds it);",
			       tables[i]);
			continue;
		}
		if (sqlite3_step(st) == SQLITE_ROW)
			printf(" %lld %s checkpoint(s);",
			       (long long)sqlite3_column_int64(st, 0),
			       tables[i]);
		sqlite3_finalize(st);
	}
	printf(" Wazuh's schema\n");
	db_close(&db);
	return 0;
}
