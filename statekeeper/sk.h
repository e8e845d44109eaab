/*
 * Private header of azure-statekeeper: the only process that opens
 * azure.db.
 */
#ifndef AZURE_SK_H
#define AZURE_SK_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

struct db {
	sqlite3 *h;
	const char *path;
};

struct ckpt {
	char min[64]; /* raw strings as stored; Wazuh may have stored */
	char max[64]; /* "2019-08-01 15:49:13.171231+00:00" and longer */
};

int db_open(struct db *, const char *path, char *err, size_t errlen);
void db_close(struct db *);
int db_table_ok(const char *service);
int db_get(struct db *, const char *table, const char *md5, struct ckpt *,
	   char *err, size_t errlen);
int db_put(struct db *, const char *table, const char *md5, const char *query,
	   const struct ckpt *, int insert_only, char *err, size_t errlen);
int db_exec(struct db *, const char *sql, char *err, size_t errlen);

int db_blob_get(struct db *, const char *md5, const char *container,
		const char *blob, char *ctime, size_t ctimelen, int64_t *bytes,
		char *err, size_t errlen);
int db_blob_put(struct db *, const char *md5, const char *container,
		const char *blob, const char *ctime, int64_t bytes, char *err,
		size_t errlen);
int db_blob_prune(struct db *, const char *md5, const char *container,
		  const char *prefix, char *const *keep, size_t nkeep,
		  char *err, size_t errlen);

int migrate_last_dates(struct db *, const char *path, int64_t now, char *err,
		       size_t errlen);

#endif
