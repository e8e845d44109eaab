/*
 * Authentication files, parsed by Wazuh's rules (azure_utils.read_auth_file),
 * plus a check that nobody but the owner can read them.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "auth.h"
#include "buf.h"

#define AUTH_MAX 65536

void
secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void
auth_wipe(struct auth_pair *a)
{
	secret_free(a->first);
	secret_free(a->second);
	a->first = a->second = NULL;
}

/* Set *slot to a copy of value if key names it (the last line wins). */
static void
auth_take(const char *key, const char *want, const char *value, char **slot)
{
	if (strcmp(key, want) != 0)
		return;
	secret_free(*slot);
	*slot = xstrdup(value);
}

/*
 * The second field may have alternatives, "account_key|sas_token": take
 * the value of any of them and remember which (the last line wins).
 */
static void
auth_take_alt(const char *key, const char *want, const char *value,
	      struct auth_pair *a)
{
	size_t n, len = strlen(key);
	int i;

	for (i = 0; *want != '\0'; i++) {
		n = strcspn(want, "|");
		if (n == len && strncmp(key, want, n) == 0) {
			secret_free(a->second);
			a->second = xstrdup(value);
			a->second_alt = i;
			return;
		}
		want += n + (want[n] == '|');
	}
}

/*
 * Parse the text of an authentication file. Each line loses its spaces and
 * line end; a line without "=" is a format error, as in Wazuh.
 */
static int
auth_parse(char *text, const char *f1, const char *f2, struct auth_pair *a,
	   char *err, size_t errlen)
{
	char *line, *next, *r, *w, *eq;

	for (line = text; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else if (*line == '\0')
			break; /* nothing after the last line end */
		for (r = w = line; *r; r++)
			if (*r != ' ' && *r != '\r')
				*w++ = *r;
		*w = '\0';
		if ((eq = strchr(line, '=')) == NULL) {
			snprintf(
			    err, errlen,
			    "Error: The authentication file "
			    "format is not valid. Make sure that it is "
			    "composed "
			    "of only 2 lines with \"field = value\" format.");
			return -1;
		}
		*eq++ = '\0';
		if (*eq == '\0')
			continue;
		auth_take(line, f1, eq, &a->first);
		auth_take_alt(line, f2, eq, a);
	}
	if (a->first == NULL || a->second == NULL) {
		snprintf(err, errlen,
			 "Error: The authentication file does not "
			 "contains the expected \"%s\" and \"%.*s\" fields.",
			 f1, (int)strcspn(f2, "|"), f2);
		return -1;
	}
	return 0;
}

/*
 * Read an authentication file from an open descriptor (not closed here);
 * path (or NULL) names it in messages. It must be a regular file of root
 * or of the user running us, closed to group and others. On success fills
 * *a (free with auth_wipe) and returns 0; otherwise writes Wazuh's message
 * into err and returns -1.
 */
static int
auth_read(int fd, const char *path, const char *f1, const char *f2,
	  struct auth_pair *a, char *err, size_t errlen)
{
	char name[4096 + 8] = "";
	struct buf b;
	struct stat st;
	char tmp[4096];
	ssize_t n;
	int rc;

	memset(a, 0, sizeof(*a));
	if (path != NULL)
		snprintf(name, sizeof(name), ": '%s'", path);
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen,
			 "Error: The authentication file could "
			 "not be opened: %s%s",
			 strerror(errno), name);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen,
			 "Error: The authentication file could "
			 "not be opened: not a regular file%s",
			 name);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen,
			 "Error: The authentication file belongs to uid %lu, "
			 "neither root nor the user running azure-logs (uid "
			 "%lu): chown it%s.",
			 (unsigned long)st.st_uid, (unsigned long)geteuid(),
			 name);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(
		    err, errlen,
		    "Error: The authentication file can be "
		    "read or written by group or others (mode %04o): restrict "
		    "it with \"chmod 600\"%s.",
		    (unsigned)(st.st_mode & 07777), name);
		return -1;
	}
	buf_init(&b, AUTH_MAX);
	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || buf_append(&b, tmp, (size_t)n) == -1)
			break;
	}
	explicit_bzero(tmp, sizeof(tmp));
	if (n != 0) {
		snprintf(err, errlen,
			 "Error: The authentication file could "
			 "not be opened: %s",
			 n == -1 ? strerror(errno) : "file too large");
		rc = -1;
	} else
		rc = auth_parse(buf_cstr(&b), f1, f2, a, err, errlen);
	if (b.data != NULL)
		explicit_bzero(b.data, b.cap);
	buf_free(&b);
	if (rc == -1)
		auth_wipe(a);
	return rc;
}

/* PATH (or NULL) names the file that the caller opened on FD. */
int
auth_read_fd(int fd, const char *path, const char *f1, const char *f2,
	     struct auth_pair *a, char *err, size_t errlen)
{
	return auth_read(fd, path, f1, f2, a, err, errlen);
}

int
auth_read_file(const char *path, const char *f1, const char *f2,
	       struct auth_pair *a, char *err, size_t errlen)
{
	int fd, rc;

	memset(a, 0, sizeof(*a));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen,
			 "Error: The authentication file could "
			 "not be opened: [Errno %d] %s: '%s'",
			 errno, strerror(errno), path);
		return -1;
	}
	rc = auth_read(fd, path, f1, f2, a, err, errlen);
	close(fd);
	return rc;
}
