/*
 * Fuzz target: the migration of a legacy last_dates.json (statekeeper/
 * migrate.c) into a fresh in-memory azure.db. Whatever the file holds, the
 * migration returns 0 or -1 with a message; on 0 it wrote one row per entry
 * of each service's section, every date in canonical form (date_canonical
 * gives it back unchanged), and removed the file; on -1 it wrote nothing
 * (one transaction) and kept the file.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "date.h"
#include "log.h"
#include "sk.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NOW "2024-05-10T12:00:00.123456Z"

static char dir[] = "/tmp/fuzz_last_dates.XXXXXX";
static char path[sizeof(dir) + 32];

static void
cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

static int
canonical(const unsigned char *s)
{
	char out[DATE_STRLEN];

	return s != NULL && date_canonical((const char *)s, out) == 0 &&
	       strcmp(out, (const char *)s) == 0;
}

/* Rows of table, each with canonical dates (else abort). */
static size_t
check_rows(struct db *db, const char *table)
{
	sqlite3_stmt *st;
	char sql[128];
	size_t n = 0;
	int rc;

	snprintf(sql, sizeof(sql),
		 "SELECT min_processed_date, max_processed_date, query "
		 "FROM %s",
		 table);
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		abort();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!canonical(sqlite3_column_text(st, 0)) ||
		    !canonical(sqlite3_column_text(st, 1)) ||
		    sqlite3_column_bytes(st, 2) != 0)
			abort();
		n++;
	}
	if (rc != SQLITE_DONE)
		abort();
	sqlite3_finalize(st);
	return n;
}

/* The rows the file should give: one per member of each section. */
static size_t
expected_rows(const uint8_t *data, size_t size, const char *table)
{
	json_t *root = json_loadb((const char *)data, size, 0, NULL);
	size_t n = json_object_size(json_object_get(root, table));

	json_decref(root);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tables[] = {"graph", "log_analytics",
					     "storage"};
	char err[512];
	struct db db;
	int64_t now;
	size_t i, rows = 0, want = 0;
	int fd, rc;

	log_init("fuzz_last_dates", -1);
	if (path[0] == '\0') {
		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(path, sizeof(path), "%s/last_dates.json", dir);
		atexit(cleanup);
	}
	if (date_parse(NOW, &now) != 0)
		abort();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || write_all(fd, data, size) != 0 || close(fd) != 0)
		abort();
	if (db_open(&db, ":memory:", err, sizeof(err)) != 0)
		abort();
	err[0] = '\0';
	rc = migrate_last_dates(&db, path, now, err, sizeof(err));
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		rows += check_rows(&db, tables[i]);
		want += expected_rows(data, size, tables[i]);
	}
	if (rc == 0) {
		/* Done (the file is gone) or nothing to do (empty file). */
		if (rows != want || (size > 0 && access(path, F_OK) == 0))
			abort();
	} else if (rc == -1) {
		if (err[0] == '\0' || rows != 0 || access(path, F_OK) != 0)
			abort();
	} else
		abort();
	db_close(&db);
	unlink(path);
	return 0;
}
