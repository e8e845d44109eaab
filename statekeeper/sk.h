/*
 * Private header of azure-statekeeper: the only process that opens
 * azure.db.
 */
#ifndef AZURE_SK_H
#define AZURE_SK_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define SCHEMA_VERSION 3 /* azure_logs_meta's schema_version */

/* azure_logs_seen, schema 3 (db.c, migrate.c; seen.c says why). */
#define SEEN_COLUMNS                                                           \
	"\tkid INTEGER NOT NULL,\n"                                            \
	"\tsort_key INTEGER NOT NULL,\n"                                       \
	"\tid BLOB NOT NULL,\n"                                                \
	"\tevent_time INTEGER NOT NULL,\n"                                     \
	"\tPRIMARY KEY (kid, sort_key, id)\n"
/* The ids written since the last merge, in the order they came (a rowid
 * table: each commit appends to its last page). */
#define SEEN_RECENT_TABLE                                                      \
	"CREATE TABLE IF NOT EXISTS azure_logs_seen_recent (\n"                \
	"\tkid INTEGER NOT NULL,\n"                                            \
	"\tsort_key INTEGER NOT NULL,\n"                                       \
	"\tid BLOB NOT NULL,\n"                                                \
	"\tevent_time INTEGER NOT NULL\n"                                      \
	");\n"

struct db {
	sqlite3 *h;
	const char
	    *path;	 /* as SQLite opens it: maybe relative (db_in_folder) */
	char name[4096]; /* as messages show it */
	int tx;		 /* a transaction is open (db_begin) */
	int64_t tx_rows; /* rows written in it */
	int64_t tx_since; /* when it began, 100 ns ticks */
};

struct ckpt {
	char min[64]; /* raw strings as stored; Wazuh may have stored */
	char max[64]; /* "2019-08-01 15:49:13.171231+00:00" and longer */
};

int db_in_folder(const char *folder);
const char *db_shown(const char *path, char *buf, size_t len);
int db_open(struct db *, const char *path, char *err, size_t errlen);
void db_close(struct db *);
int db_table_ok(const char *service);
int db_get(struct db *, const char *table, const char *md5, struct ckpt *,
	   char *err, size_t errlen);
int db_put(struct db *, const char *table, const char *md5, const char *query,
	   const struct ckpt *, int insert_only, char *err, size_t errlen);
int db_exec(struct db *, const char *sql, char *err, size_t errlen);
int db_check(const char *path, char *err, size_t errlen);
int db_begin(struct db *, char *err, size_t errlen);
int db_commit(struct db *, char *err, size_t errlen);

int db_blob_get(struct db *, const char *md5, const char *container,
		const char *blob, char *ctime, size_t ctimelen, int64_t *bytes,
		char *err, size_t errlen);
int db_blob_put(struct db *, const char *md5, const char *container,
		const char *blob, const char *ctime, int64_t bytes, char *err,
		size_t errlen);
int db_blob_prune(struct db *, const char *md5, const char *container,
		  const char *prefix, char *const *keep, size_t nkeep,
		  char *err, size_t errlen);

/* seen.c: the ids of delivered events (de-duplication). */
#define SEEN_IDLEN	  16 /* md5 of the event's id */
#define SEEN_BATCH	  32 /* rows per INSERT when the forwarder acknowledges */
#define SEEN_MERGE	  8192 /* recent rows merged into azure_logs_seen at once */
#define SEEN_RECENT_SLOTS 32768	 /* > 2 * (SEEN_MERGE + SEEN_BATCH) */
#define SEEN_BLOOM_IDS	  262144 /* at most, 16 bits each: 512 KiB */

struct seen_ev {
	uint8_t h[SEEN_IDLEN];
	int64_t sk;  /* sort key (seen_sort_key) */
	int64_t t;   /* event time, 100 ns ticks */
	int64_t seq; /* the forwarder's sequence number */
	int has_id;
};

/* What the checkpoint rows share: the statements, and the ids appended to
 * azure_logs_seen_recent since the last merge (of every kid). */
struct seen_store {
	struct db *db;
	sqlite3_stmt *look, *ins;
	sqlite3_stmt *ins_many; /* SEEN_BATCH rows at once */
	sqlite3_stmt *look_v2;	/* azure_logs_seen_v2, while it has rows */
	sqlite3_stmt *merge;
	/* The ids in azure_logs_seen_recent with their kids: open
	 * addressing over SEEN_RECENT_SLOTS, used[] says which slots are
	 * taken. */
	uint8_t (*recent)[SEEN_IDLEN];
	int64_t *rkid;
	uint8_t *used;
	size_t nrecent;
};

/* One checkpoint row at a time (a channel's window). */
struct seen {
	struct seen_store *st;
	struct db *db;
	int legacy; /* the window's kid has rows in azure_logs_seen_v2 */
	/* A Bloom filter of the ids of kid in the tables of sort key above
	 * floor: such an id it does not hold needs no lookup. nbits a power
	 * of 2; rebuilt bigger when more than cap_in ids went in, up to
	 * SEEN_BLOOM_IDS; then emptied, floor raised to sk_max, the highest
	 * sort key it held (memory stays flat; ids at or below floor are
	 * looked up in SQLite). */
	uint64_t *bloom;
	size_t nbits, nin, cap_in;
	int64_t floor, sk_max;
	int64_t kid; /* the checkpoint row of the window (azure_logs_key) */
	/* events sent to the forwarder, not yet acknowledged, in rising
	 * sequence numbers (not contiguous: other channels number theirs
	 * too): entries first .. first + n - 1 (numbers of this ring), in
	 * ring[head ...] */
	struct seen_ev *ring;
	size_t cap, head, n;
	int64_t first;
	int64_t *slot; /* open addressing over their ids: entry, 0 empty */
	size_t nslot;
};

int seen_store_open(struct seen_store *, struct db *, char *err, size_t errlen);
void seen_store_close(struct seen_store *);
int seen_merge(struct seen_store *, char *err, size_t errlen);
int seen_commit_due(const struct seen_store *, int64_t now, int idle);
int seen_commit_wait(const struct seen_store *, int64_t now, int idle);
void seen_init(struct seen *, struct seen_store *);
void seen_free(struct seen *);
int seen_key(struct seen *, const char *service, const char *md5, char *err,
	     size_t errlen);
int64_t seen_sort_key(const char *id, size_t len, int64_t t, int timed);
int seen_known(struct seen *, const uint8_t h[SEEN_IDLEN], int64_t sk,
	       char *err, size_t errlen);
void seen_sent(struct seen *, int64_t seq, const uint8_t *h, int64_t sk,
	       int64_t t);
int seen_acked(struct seen *, int64_t seq, char *err, size_t errlen);
int seen_record(struct seen *, const uint8_t h[SEEN_IDLEN], int64_t sk,
		int64_t t, char *err, size_t errlen);
int seen_prune(struct seen *, int64_t before, char *err, size_t errlen);

int migrate_schema(struct db *, char *err, size_t errlen);
int migrate_last_dates(struct db *, const char *path, int64_t now, char *err,
		       size_t errlen);

#endif
