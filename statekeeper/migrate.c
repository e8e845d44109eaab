/*
 * Migrations: azure.db from one schema of ours to the next (schema 2 -> 3),
 * and a legacy last_dates.json into azure.db, in one transaction.
 *
 * Wazuh's rules, amended as DESIGN.md says: a single known date D (a 4.2
 * string, or a {min,max} pair with one side invalid) means everything up
 * to D was sent, so it becomes max = D, min = the epoch; nothing valid
 * becomes min = max = now; every date is stored in canonical form.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>
#include <jansson.h>

#include "buf.h"
#include "date.h"
#include "log.h"
#include "sk.h"

#define LAST_DATES_MAX (16 * 1024 * 1024)

/*
 * Schema 2 -> 3: azure_logs_seen of schema 2 (PRIMARY KEY (kid, id)) is
 * renamed azure_logs_seen_v2, rows kept (seen.c still looks ids up there
 * and prunes them; it drops the table once empty), and azure_logs_seen is
 * made again with its sort key. One transaction. Returns 0 or -1.
 */
int
migrate_schema(struct db *db, char *err, size_t errlen)
{
	static const char sql[] =
	    "BEGIN IMMEDIATE;\n"
	    "ALTER TABLE azure_logs_seen RENAME TO azure_logs_seen_v2;\n"
	    "CREATE TABLE azure_logs_seen (\n" SEEN_COLUMNS ") WITHOUT ROWID;\n"
	    "UPDATE azure_logs_meta SET value = '3' WHERE name = "
	    "'schema_version';\n"
	    "COMMIT;\n";
	sqlite3_stmt *st = NULL;
	char rberr[256];
	int version = 0;

	/* A newer azure-logs wrote it: its tables mean what we cannot know. */
	if (sqlite3_prepare_v2(db->h,
			       "SELECT CAST(value AS INTEGER) FROM "
			       "azure_logs_meta WHERE name = 'schema_version'",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (version > SCHEMA_VERSION) {
		snprintf(err, errlen,
			 "the database %s has schema %d, newer than this "
			 "azure-logs knows (%d): run the azure-logs that "
			 "wrote it, or move the database aside to start anew",
			 db->name, version, SCHEMA_VERSION);
		return -1;
	}
	if (sqlite3_prepare_v2(db->h, "SELECT sort_key FROM azure_logs_seen",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_finalize(st);
		return db_exec(db,
			       "UPDATE azure_logs_meta SET value = '3' WHERE "
			       "name = 'schema_version' AND value = '2'",
			       err, errlen);
	}
	sqlite3_finalize(st);
	log_info("Upgrading %s to schema 3 (delivered ids in time order)",
		 db->name);
	if (db_exec(db, sql, err, errlen) == -1) {
		db_exec(db, "ROLLBACK", rberr, sizeof(rberr));
		return -1;
	}
	return 0;
}

/* A valid date in canonical form, or NULL. */
static const char *
valid_date(json_t *v, char out[DATE_STRLEN])
{
	if (!json_is_string(v) || date_canonical(json_string_value(v), out))
		return NULL;
	return out;
}

/* Normalise one entry of the file into a checkpoint. */
static void
normalise(json_t *entry, int64_t now, struct ckpt *c)
{
	char a[DATE_STRLEN], b[DATE_STRLEN];
	const char *mn = NULL, *mx = NULL;

	if (json_is_object(entry)) {
		mn = valid_date(json_object_get(entry, "min"), a);
		mx = valid_date(json_object_get(entry, "max"), b);
	} else
		mx = valid_date(entry, b);
	if (mn && mx) {
		strlcpy(c->min, mn, sizeof(c->min));
		strlcpy(c->max, mx, sizeof(c->max));
	} else if (mn || mx) {
		strlcpy(c->min, DATE_EPOCH_STR, sizeof(c->min));
		strlcpy(c->max, mn ? mn : mx, sizeof(c->max));
	} else {
		date_format(now, c->min);
		strlcpy(c->max, c->min, sizeof(c->max));
	}
}

static int
migrate_service(struct db *db, const char *service, json_t *section,
		int64_t now, char *err, size_t errlen)
{
	const char *md5;
	json_t *entry;
	struct ckpt c;

	if (section == NULL)
		return 0;
	if (!json_is_object(section)) {
		snprintf(err, errlen, "section \"%s\" is not an object",
			 service);
		return -1;
	}
	json_object_foreach(section, md5, entry)
	{
		normalise(entry, now, &c);
		log_debug("Migrating %s %s: min %s, max %s", service, md5,
			  c.min, c.max);
		/* A row already in azure.db is newer than the file: keep it. */
		if (db_put(db, service, md5, "", &c, 1, err, errlen) == -1)
			return -1;
	}
	return 0;
}

static char *
read_file(const char *path, const char *shown, size_t *len, char *err,
	  size_t errlen)
{
	FILE *f = fopen(path, "re");
	struct buf b;
	char tmp[8192];
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", shown, strerror(errno));
		return NULL;
	}
	buf_init(&b, LAST_DATES_MAX);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		if (buf_append(&b, tmp, n) == -1) {
			snprintf(err, errlen, "%s: larger than %d bytes", shown,
				 LAST_DATES_MAX);
			fclose(f);
			buf_free(&b);
			return NULL;
		}
	fclose(f);
	*len = b.len;
	return buf_cstr(&b);
}

/*
 * Migrate path into db if it exists and is not empty, then remove it.
 * Returns 0 (nothing to do, or done), -1 if the file is broken or the
 * database refused it: the file is kept and err says why.
 */
int
migrate_last_dates(struct db *db, const char *path, int64_t now, char *err,
		   size_t errlen)
{
	static const char *const services[] = {"graph", "log_analytics",
					       "storage"};
	json_error_t jerr;
	json_t *root = NULL;
	struct stat st;
	char *text, dberr[512], shown[4096];
	size_t len, i;
	int rc = -1;

	if (stat(path, &st) == -1 || st.st_size == 0)
		return 0;
	log_info("Migration from an old last_dates file is necessary.");
	db_shown(path, shown, sizeof(shown));
	if ((text = read_file(path, shown, &len, err, errlen)) == NULL)
		return -1;
	root = json_loadb(text, len, 0, &jerr);
	free(text);
	if (root == NULL) {
		snprintf(err, errlen,
			 "The file of the last dates could not be read: %s: %s "
			 "(line %d)",
			 shown, jerr.text, jerr.line);
		goto out;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen,
			 "The file of the last dates could not be read: %s: "
			 "not a JSON object",
			 shown);
		goto out;
	}
	if (db_exec(db, "BEGIN IMMEDIATE", err, errlen) == -1)
		goto out;
	for (i = 0; i < sizeof(services) / sizeof(services[0]); i++)
		if (migrate_service(db, services[i],
				    json_object_get(root, services[i]), now,
				    err, errlen) == -1) {
			db_exec(db, "ROLLBACK", dberr, sizeof(dberr));
			goto out;
		}
	if (db_exec(db, "COMMIT", err, errlen) == -1) {
		db_exec(db, "ROLLBACK", dberr, sizeof(dberr));
		goto out;
	}
	log_info("The database migration process finished successfully.");
	if (unlink(path) == -1)
		log_warnx("It was not possible to remove the old last_dates "
			  "file at %s",
			  shown);
	rc = 0;
out:
	json_decref(root);
	return rc;
}
