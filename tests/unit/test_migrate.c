/*
 * azure.db and the migration of a legacy last_dates.json (statekeeper/sk.h),
 * on a real SQLite file in a temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "date.h"
#include "sk.h"

#define NOW_STR "2024-05-10T12:00:00.1234567Z"
#define NOW_FMT "2024-05-10T12:00:00.123456Z" /* date_format(now) */
#define EPOCH	"1970-01-01T00:00:00.000000Z"

struct fx {
	char dir[64];
	char db_path[128];
	char json_path[128];
	struct db db;
	int64_t now;
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[512];

	if (fx == NULL)
		return -1;
	strcpy(fx->dir, "/tmp/test_migrate.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->db_path, sizeof(fx->db_path), "%s/azure.db", fx->dir);
	snprintf(fx->json_path, sizeof(fx->json_path), "%s/last_dates.json",
		 fx->dir);
	if (date_parse(NOW_STR, &fx->now) != 0)
		return -1;
	if (db_open(&fx->db, fx->db_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "db_open: %s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
	char p[160];
	size_t i;

	db_close(&fx->db);
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", fx->db_path, sfx[i]);
		unlink(p);
	}
	unlink(fx->json_path);
	snprintf(p, sizeof(p), "%s/other.db", fx->dir);
	unlink(p);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static int
exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static int
count_rows(struct fx *fx, const char *table)
{
	sqlite3_stmt *st;
	char sql[128];
	int n = -1;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	assert_int_equal(sqlite3_prepare_v2(fx->db.h, sql, -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static int
total_rows(struct fx *fx)
{
	return count_rows(fx, "graph") + count_rows(fx, "log_analytics") +
	       count_rows(fx, "storage");
}

static void
expect_row(struct fx *fx, const char *table, const char *md5, const char *min,
	   const char *max)
{
	struct ckpt c;
	char err[512] = "";
	int rc = db_get(&fx->db, table, md5, &c, err, sizeof(err));

	if (rc != 1)
		fail_msg("%s %s: db_get = %d (%s)", table, md5, rc, err);
	if (strcmp(c.min, min) != 0 || strcmp(c.max, max) != 0)
		fail_msg("%s %s: min \"%s\" max \"%s\", want \"%s\" \"%s\"",
			 table, md5, c.min, c.max, min, max);
}

static void
expect_no_row(struct fx *fx, const char *table, const char *md5)
{
	struct ckpt c;
	char err[512] = "";

	assert_int_equal(db_get(&fx->db, table, md5, &c, err, sizeof(err)), 0);
}

static int
migrate(struct fx *fx, char *err, size_t errlen)
{
	err[0] = '\0';
	return migrate_last_dates(&fx->db, fx->json_path, fx->now, err, errlen);
}

/* ---- 4.2 string values ------------------------------------------------ */

static void
test_42_strings(void **state)
{
	struct fx *fx = *state;
	char err[512];
	sqlite3_stmt *st;

	write_file(
	    fx->json_path,
	    "{\"log_analytics\": {\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\": "
	    "\"2019-08-01 15:49:13.171231+00:00\"}, "
	    "\"graph\": {\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": "
	    "\"2022-03-04T15:12:56.98Z\"}, "
	    "\"storage\": {\"cccccccccccccccccccccccccccccccc\": \"0\"}}");
	assert_int_equal(migrate(fx, err, sizeof(err)), 0);
	expect_row(fx, "graph", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", EPOCH,
		   "2022-03-04T15:12:56.980000Z");
	expect_row(fx, "log_analytics", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		   EPOCH, "2019-08-01T15:49:13.171231Z");
	expect_row(fx, "storage", "cccccccccccccccccccccccccccccccc", NOW_FMT,
		   NOW_FMT);
	assert_int_equal(total_rows(fx), 3);
	assert_false(exists(fx->json_path));
	/* Wazuh inserts migrated rows with an empty query */
	assert_int_equal(sqlite3_prepare_v2(fx->db.h,
					    "SELECT count(*) FROM "
					    "graph WHERE query = ''",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
}

/* ---- 4.3 {min, max} pairs --------------------------------------------- */

static void
test_43_pairs(void **state)
{
	struct fx *fx = *state;
	char err[512];

	write_file(fx->json_path,
		   "{\"graph\": {"
		   "\"k1\": {\"min\": \"2022-03-04T15:12:56.98Z\", "
		   "\"max\": \"2022-03-05T10:00:00.1234567Z\"}, "
		   "\"k2\": {\"min\": \"0\", \"max\": "
		   "\"2022-03-05T10:00:00.123456Z\"}, "
		   "\"k3\": {\"min\": \"2021-01-01T00:00:00.000000Z\", "
		   "\"max\": \"garbage\"}, "
		   "\"k4\": {\"min\": \"0\", \"max\": \"0\"}, "
		   "\"k5\": {\"max\": \"2019-08-01 15:49:13.171231+00:00\"}, "
		   "\"k6\": {}, "
		   "\"k7\": {\"min\": 5, \"max\": null}, "
		   "\"k8\": {\"min\": \"2020-03-13T21:15:41.619583+02:00\", "
		   "\"max\": \"2020-03-13T22:00:00+02:00\"}"
		   "}}");
	assert_int_equal(migrate(fx, err, sizeof(err)), 0);
	expect_row(fx, "graph", "k1", "2022-03-04T15:12:56.980000Z",
		   "2022-03-05T10:00:00.1234567Z");
	expect_row(fx, "graph", "k2", EPOCH, "2022-03-05T10:00:00.123456Z");
	expect_row(fx, "graph", "k3", EPOCH, "2021-01-01T00:00:00.000000Z");
	expect_row(fx, "graph", "k4", NOW_FMT, NOW_FMT);
	expect_row(fx, "graph", "k5", EPOCH, "2019-08-01T15:49:13.171231Z");
	expect_row(fx, "graph", "k6", NOW_FMT, NOW_FMT);
	expect_row(fx, "graph", "k7", NOW_FMT, NOW_FMT);
	expect_row(fx, "graph", "k8", "2020-03-13T19:15:41.619583Z",
		   "2020-03-13T20:00:00.000000Z");
	assert_int_equal(count_rows(fx, "graph"), 8);
	assert_false(exists(fx->json_path));
}

static void
test_all_services(void **state)
{
	struct fx *fx = *state;
	char err[512];

	write_file(
	    fx->json_path,
	    "{\"graph\": {\"g\": {\"min\": \"2023-01-01T00:00:00.000000Z\", "
	    "\"max\": \"2023-01-02T00:00:00.000000Z\"}}, "
	    "\"log_analytics\": {\"l\": {\"min\": "
	    "\"2023-02-01T00:00:00.000000Z\","
	    " \"max\": \"2023-02-02T00:00:00.000000Z\"}}, "
	    "\"storage\": {\"s\": {\"min\": \"2023-03-01T00:00:00.000000Z\", "
	    "\"max\": \"2023-03-02T00:00:00.000000Z\"}}, "
	    "\"unknown_service\": {\"u\": \"2023-04-01T00:00:00.000000Z\"}}");
	assert_int_equal(migrate(fx, err, sizeof(err)), 0);
	expect_row(fx, "graph", "g", "2023-01-01T00:00:00.000000Z",
		   "2023-01-02T00:00:00.000000Z");
	expect_row(fx, "log_analytics", "l", "2023-02-01T00:00:00.000000Z",
		   "2023-02-02T00:00:00.000000Z");
	expect_row(fx, "storage", "s", "2023-03-01T00:00:00.000000Z",
		   "2023-03-02T00:00:00.000000Z");
	/* keys do not leak across services */
	expect_no_row(fx, "graph", "l");
	expect_no_row(fx, "storage", "g");
	assert_int_equal(total_rows(fx), 3);
	assert_false(exists(fx->json_path));
}

/* ---- nothing to migrate ------------------------------------------------ */

static void
test_empty_sections(void **state)
{
	struct fx *fx = *state;
	char err[512];

	write_file(fx->json_path,
		   "{\"log_analytics\": {}, \"graph\": {}, \"storage\": {}}");
	assert_int_equal(migrate(fx, err, sizeof(err)), 0);
	assert_int_equal(total_rows(fx), 0);
	assert_false(exists(fx->json_path));
}

static void
test_empty_file(void **state)
{
	struct fx *fx = *state;
	char err[512];

	write_file(fx->json_path, "");
	assert_int_equal(migrate(fx, err, sizeof(err)), 0);
	assert_int_equal(total_rows(fx), 0);
	assert_true(exists(fx->json_path));
}

static void
test_no_file(void **state)
{
	struct fx *fx = *state;
	char err[512];

	assert_int_equal(migrate(fx, err, sizeof(err)), 0);
	assert_int_equal(total_rows(fx), 0);
}

/* ---- broken files ------------------------------------------------------ */

static void
expect_refused(struct fx *fx, const char *text)
{
	char err[512];

	write_file(fx->json_path, text);
	if (migrate(fx, err, sizeof(err)) != -1)
		fail_msg("migrated %s", text);
	if (err[0] == '\0')
		fail_msg("refused %s without a message", text);
	assert_true(exists(fx->json_path));
	assert_int_equal(total_rows(fx), 0);
}

static void
test_not_json(void **state)
{
	struct fx *fx = *state;

	expect_refused(fx, "this is not json");
	expect_refused(fx, "{\"graph\": {\"a\": \"2022-03-04T15:12:56.98Z\"");
	expect_refused(fx, "[{\"graph\": {}}]");
	expect_refused(fx, "\"0\"");
	expect_refused(fx, "\n");
}

/* One transaction: a broken later section leaves no row of an earlier,
 * valid one (graph is migrated before log_analytics). */
static void
test_section_not_object(void **state)
{
	struct fx *fx = *state;

	expect_refused(fx, "{\"graph\": {\"g1\": \"2022-03-04T15:12:56.98Z\", "
			   "\"g2\": {\"min\": \"0\", \"max\": \"0\"}}, "
			   "\"log_analytics\": [1, 2], "
			   "\"storage\": {\"s1\": \"0\"}}");
	expect_refused(
	    fx, "{\"graph\": {\"g1\": \"2022-03-04T15:12:56.98Z\"}, "
		"\"log_analytics\": {\"l1\": \"0\"}, \"storage\": \"x\"}");
	expect_refused(fx, "{\"graph\": null}");
	/* and the database is still usable afterwards */
	write_file(fx->json_path, "{\"graph\": {\"g1\": \"0\"}}");
	{
		char err[512];

		assert_int_equal(migrate(fx, err, sizeof(err)), 0);
	}
	expect_row(fx, "graph", "g1", NOW_FMT, NOW_FMT);
}

static void
test_existing_row_kept(void **state)
{
	struct fx *fx = *state;
	struct ckpt c;
	char err[512];
	sqlite3_stmt *st;

	strcpy(c.min, "2024-01-01T00:00:00.000000Z");
	strcpy(c.max, "2024-05-01T00:00:00.1234567Z");
	assert_int_equal(db_put(&fx->db, "graph",
				"2012f3812bfc764b6a927f00ddcd7c16",
				"auditLogs/signIns", &c, 0, err, sizeof(err)),
			 0);
	write_file(fx->json_path,
		   "{\"graph\": {\"2012f3812bfc764b6a927f00ddcd7c16\": "
		   "\"2022-03-04T15:12:56.98Z\", "
		   "\"5956825a2e7b02dbebce74ec3c2ac5a5\": "
		   "\"2022-03-04T15:12:56.98Z\"}}");
	assert_int_equal(migrate(fx, err, sizeof(err)), 0);
	expect_row(fx, "graph", "2012f3812bfc764b6a927f00ddcd7c16",
		   "2024-01-01T00:00:00.000000Z",
		   "2024-05-01T00:00:00.1234567Z");
	expect_row(fx, "graph", "5956825a2e7b02dbebce74ec3c2ac5a5", EPOCH,
		   "2022-03-04T15:12:56.980000Z");
	assert_int_equal(
	    sqlite3_prepare_v2(fx->db.h,
			       "SELECT query FROM graph "
			       "WHERE md5 = '2012f3812bfc764b6a927f00ddcd7c16'",
			       -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0),
			    "auditLogs/signIns");
	sqlite3_finalize(st);
	assert_false(exists(fx->json_path));
}

/* The migrated rows survive closing and reopening the database. */
static void
test_persisted(void **state)
{
	struct fx *fx = *state;
	char err[512];

	write_file(fx->json_path, "{\"storage\": {\"s\": "
				  "\"2022-03-04T15:12:56.98Z\"}}");
	assert_int_equal(migrate(fx, err, sizeof(err)), 0);
	db_close(&fx->db);
	assert_int_equal(db_open(&fx->db, fx->db_path, err, sizeof(err)), 0);
	expect_row(fx, "storage", "s", EPOCH, "2022-03-04T15:12:56.980000Z");
}

/* ---- db_open ----------------------------------------------------------- */

static void
expect_corrupt(struct fx *fx, const void *bytes, size_t n)
{
	char path[160], err[512] = "";
	struct db db;
	int fd;

	snprintf(path, sizeof(path), "%s/other.db", fx->dir);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, n), (ssize_t)n);
	close(fd);
	assert_int_equal(db_open(&db, path, err, sizeof(err)), -1);
	if (strstr(err, "corrupt") == NULL &&
	    strstr(err, "not a database") == NULL)
		fail_msg("message: %s", err);
	assert_null(db.h);
}

static void
test_open_garbage(void **state)
{
	struct fx *fx = *state;
	unsigned char junk[8192];
	size_t i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 131 + 7);
	expect_corrupt(fx, junk, sizeof(junk));
	expect_corrupt(fx, "{\"graph\": {}}\n", 14);
}

/* A database whose pages were damaged after its header. */
static void
test_open_damaged_pages(void **state)
{
	struct fx *fx = *state;
	char path[160], err[512] = "";
	unsigned char junk[4096];
	struct db db;
	struct stat st;
	int fd;
	size_t i;

	snprintf(path, sizeof(path), "%s/other.db", fx->dir);
	unlink(path);
	assert_int_equal(db_open(&db, path, err, sizeof(err)), 0);
	assert_int_equal(
	    db_exec(
		&db,
		"PRAGMA journal_mode=DELETE; "
		"CREATE TABLE t(x); INSERT INTO t VALUES (randomblob(20000));",
		err, sizeof(err)),
	    0);
	db_close(&db);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 8192);
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 77 + 3);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	/* clobber page 2 onwards, keep the 100-byte header of page 1 */
	assert_int_equal(pwrite(fd, junk, sizeof(junk), 4096),
			 (ssize_t)sizeof(junk));
	close(fd);
	assert_int_equal(db_open(&db, path, err, sizeof(err)), -1);
	if (strstr(err, "corrupt") == NULL &&
	    strstr(err, "not a database") == NULL)
		fail_msg("message: %s", err);
}

static void
test_schema(void **state)
{
	static const char *const tables[] = {"graph", "log_analytics",
					     "storage", "storage_blob_offset"};
	struct fx *fx = *state;
	sqlite3_stmt *st;
	size_t i;
	const char *sql;

	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		assert_int_equal(
		    sqlite3_prepare_v2(
			fx->db.h,
			"SELECT sql FROM "
			"sqlite_master WHERE type = 'table' AND name = ?",
			-1, &st, NULL),
		    SQLITE_OK);
		sqlite3_bind_text(st, 1, tables[i], -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW)
			fail_msg("table %s missing", tables[i]);
		sql = (const char *)sqlite3_column_text(st, 0);
		assert_non_null(sql);
		if (i < 3) {
			assert_non_null(strstr(sql, "md5 TEXT NOT NULL"));
			assert_non_null(strstr(sql, "query TEXT NOT NULL"));
			assert_non_null(strstr(
			    sql, "min_processed_date VARCHAR(28) NOT NULL"));
			assert_non_null(strstr(
			    sql, "max_processed_date VARCHAR(28) NOT NULL"));
			assert_non_null(strstr(sql, "PRIMARY KEY (md5)"));
			assert_non_null(strstr(
			    sql, "CONSTRAINT md5_restriction UNIQUE (md5)"));
		} else {
			assert_non_null(strstr(sql, "processed_bytes"));
			assert_non_null(strstr(sql, "creation_time"));
		}
		sqlite3_finalize(st);
	}
	assert_true(db_table_ok("graph"));
	assert_true(db_table_ok("log_analytics"));
	assert_true(db_table_ok("storage"));
	assert_false(db_table_ok("storage_blob_offset"));
	assert_false(db_table_ok("graph; DROP TABLE graph"));
	assert_false(db_table_ok("sqlite_master"));
}

/* An azure.db written by Wazuh itself (SQLAlchemy's DDL) opens as is and
 * its rows are read. */
static void
test_open_wazuh_db(void **state)
{
	struct fx *fx = *state;
	char path[160], err[512] = "";
	struct db db;
	struct ckpt c;
	sqlite3 *h;

	snprintf(path, sizeof(path), "%s/other.db", fx->dir);
	unlink(path);
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(
		h,
		"CREATE TABLE graph (\n\tmd5 TEXT NOT NULL, \n\tquery TEXT NOT "
		"NULL, \n\tmin_processed_date VARCHAR(28) NOT NULL, \n\t"
		"max_processed_date VARCHAR(28) NOT NULL, \n\tPRIMARY KEY "
		"(md5), "
		"\n\tCONSTRAINT md5_restriction UNIQUE (md5)\n);"
		"INSERT INTO graph VALUES ('2012f3812bfc764b6a927f00ddcd7c16', "
		"'auditLogs/signIns', '2022-03-04T15:12:56.980000Z', "
		"'2023-01-01T00:00:00.1234567Z');",
		NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(db_open(&db, path, err, sizeof(err)), 0);
	assert_int_equal(db_get(&db, "graph",
				"2012f3812bfc764b6a927f00ddcd7c16", &c, err,
				sizeof(err)),
			 1);
	assert_string_equal(c.min, "2022-03-04T15:12:56.980000Z");
	assert_string_equal(c.max, "2023-01-01T00:00:00.1234567Z");
	db_close(&db);
}

/*
 * Wazuh's own migration stores a 4.2 string verbatim (get_min_max_values:
 * min = max = the string), so a Wazuh azure.db can hold the 32-character
 * "2019-08-01 15:49:13.171231+00:00" in both columns (SQLite does not
 * enforce VARCHAR(28)). The statekeeper reads such a row with db_get() and
 * rewrites it with date_canonical(): that must work, not fail on a
 * truncated "...+00:0".
 */
static void
test_open_wazuh_db_legacy_row(void **state)
{
	struct fx *fx = *state;
	char path[160], err[512] = "", out[DATE_STRLEN];
	struct db db;
	struct ckpt c;
	sqlite3 *h;

	snprintf(path, sizeof(path), "%s/other.db", fx->dir);
	unlink(path);
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(
		h,
		"CREATE TABLE log_analytics (\n\tmd5 TEXT NOT NULL, \n\tquery "
		"TEXT NOT NULL, \n\tmin_processed_date VARCHAR(28) NOT NULL, "
		"\n\t"
		"max_processed_date VARCHAR(28) NOT NULL, \n\tPRIMARY KEY "
		"(md5), "
		"\n\tCONSTRAINT md5_restriction UNIQUE (md5)\n);"
		"INSERT INTO log_analytics VALUES ("
		"'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', '', "
		"'2019-08-01 15:49:13.171231+00:00', "
		"'2019-08-01 15:49:13.171231+00:00');",
		NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(db_open(&db, path, err, sizeof(err)), 0);
	assert_int_equal(db_get(&db, "log_analytics",
				"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", &c, err,
				sizeof(err)),
			 1);
	db_close(&db);
	if (date_canonical(c.min, out) != 0)
		fail_msg("db_get gave min \"%s\", not a date", c.min);
	assert_string_equal(out, "2019-08-01T15:49:13.171231Z");
	if (date_canonical(c.max, out) != 0)
		fail_msg("db_get gave max \"%s\", not a date", c.max);
	assert_string_equal(out, "2019-08-01T15:49:13.171231Z");
}

static void
test_open_wrong_schema(void **state)
{
	struct fx *fx = *state;
	char path[160], err[512] = "";
	struct db db;
	sqlite3 *h;

	snprintf(path, sizeof(path), "%s/other.db", fx->dir);
	unlink(path);
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(h, "CREATE TABLE graph (md5 TEXT);", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(db_open(&db, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "graph"));
	assert_null(db.h);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_42_strings),
	    T(test_43_pairs),
	    T(test_all_services),
	    T(test_empty_sections),
	    T(test_empty_file),
	    T(test_no_file),
	    T(test_not_json),
	    T(test_section_not_object),
	    T(test_existing_row_kept),
	    T(test_persisted),
	    T(test_open_garbage),
	    T(test_open_damaged_pages),
	    T(test_schema),
	    T(test_open_wazuh_db),
	    T(test_open_wazuh_db_legacy_row),
	    T(test_open_wrong_schema),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
