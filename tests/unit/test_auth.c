/*
 * Authentication files (common/auth.h), parsed as Wazuh's
 * azure_utils.read_auth_file() does, refused when others can read them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"

#define F1 "application_id"
#define F2 "application_key"

#define MSG_MISSING                                                            \
	"Error: The authentication file does not contains the expected "       \
	"\"application_id\" and \"application_key\" fields."
#define MSG_FORMAT                                                             \
	"Error: The authentication file format is not valid. Make sure that "  \
	"it is composed of only 2 lines with \"field = value\" format."
#define MSG_OPEN "Error: The authentication file could not be opened:"

static char dir[] = "/tmp/test_auth.XXXXXX";
static char path[256];

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/credentials", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static void
write_auth(const char *text, size_t n, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
expect_ok(const char *text, const char *id, const char *key)
{
	struct auth_pair a;
	char err[512] = "";

	write_auth(text, strlen(text), 0600);
	if (auth_read_file(path, F1, F2, &a, err, sizeof(err)) != 0)
		fail_msg("refused %s: %s", text, err);
	assert_string_equal(a.first, id);
	assert_string_equal(a.second, key);
	auth_wipe(&a);
	assert_null(a.first);
	assert_null(a.second);
}

static void
expect_err(const char *text, size_t n, const char *msg)
{
	struct auth_pair a;
	char err[512] = "";

	write_auth(text, n, 0600);
	assert_int_equal(auth_read_file(path, F1, F2, &a, err, sizeof(err)),
			 -1);
	assert_string_equal(err, msg);
	assert_null(a.first);
	assert_null(a.second);
}

static void
test_valid(void **state)
{
	(void)state;
	expect_ok("application_id = 2f2a1b3c-aaaa-bbbb-cccc-0123456789ab\n"
		  "application_key = s3cr3t~Value.With-Symbols_\n",
		  "2f2a1b3c-aaaa-bbbb-cccc-0123456789ab",
		  "s3cr3t~Value.With-Symbols_");
	/* order does not matter */
	expect_ok("application_key = K\napplication_id = I\n", "I", "K");
}

static void
test_value_with_equals(void **state)
{
	(void)state;
	expect_ok("application_id = a=b\napplication_key = abc==def=\n", "a=b",
		  "abc==def=");
}

static void
test_spaces_removed(void **state)
{
	(void)state;
	expect_ok("  application_id   =   x y z  \n"
		  "application_key=  k  e  y\n",
		  "xyz", "key");
	expect_ok("appli cation_id = X\napplication_key = Y\n", "X", "Y");
}

static void
test_no_trailing_newline(void **state)
{
	(void)state;
	expect_ok("application_id = X\napplication_key = Y", "X", "Y");
}

static void
test_crlf(void **state)
{
	(void)state;
	expect_ok("application_id = X\r\napplication_key = Y\r\n", "X", "Y");
	expect_ok("application_id = X\r\napplication_key = Y", "X", "Y");
}

static void
test_extra_fields_ignored(void **state)
{
	(void)state;
	expect_ok("tenant = contoso\napplication_id = X\nfoo = bar\n"
		  "application_key = Y\n",
		  "X", "Y");
}

static void
test_empty_value_skipped(void **state)
{
	(void)state;
	expect_err("application_id =\napplication_key = Y\n",
		   strlen("application_id =\napplication_key = Y\n"),
		   MSG_MISSING);
	expect_err("application_id = X\napplication_key =   \n",
		   strlen("application_id = X\napplication_key =   \n"),
		   MSG_MISSING);
	/* an empty value does not erase an earlier one */
	expect_ok("application_id = X\napplication_id = \n"
		  "application_key = Y\n",
		  "X", "Y");
}

static void
test_duplicate_last_wins(void **state)
{
	(void)state;
	expect_ok("application_id = old\napplication_key = K1\n"
		  "application_id = new\napplication_key = K2\n",
		  "new", "K2");
}

static void
test_missing_field(void **state)
{
	static const char only_id[] = "application_id = X\n";
	static const char wrong[] = "account_name = X\naccount_key = Y\n";

	(void)state;
	expect_err(only_id, strlen(only_id), MSG_MISSING);
	expect_err(wrong, strlen(wrong), MSG_MISSING);
}

static void
test_other_field_names(void **state)
{
	struct auth_pair a;
	char err[512] = "";
	static const char text[] =
	    "account_name = acct\naccount_key = a/b+c==\n";

	(void)state;
	write_auth(text, strlen(text), 0600);
	assert_int_equal(auth_read_file(path, "account_name", "account_key", &a,
					err, sizeof(err)),
			 0);
	assert_string_equal(a.first, "acct");
	assert_string_equal(a.second, "a/b+c==");
	auth_wipe(&a);
	write_auth("account_name = acct\n", 20, 0600);
	assert_int_equal(auth_read_file(path, "account_name", "account_key", &a,
					err, sizeof(err)),
			 -1);
	assert_string_equal(
	    err, "Error: The authentication file does not "
		 "contains the expected \"account_name\" and \"account_key\" "
		 "fields.");
}

static void
test_format_errors(void **state)
{
	static const char no_eq[] = "application_id X\napplication_key = Y\n";
	static const char blank_mid[] =
	    "application_id = X\n\napplication_key = Y\n";
	static const char blank_end[] =
	    "application_id = X\napplication_key = Y\n\n";
	static const char spaces_line[] =
	    "application_id = X\n   \napplication_key = Y\n";
	static const char crlf_blank[] =
	    "application_id = X\r\n\r\napplication_key = Y\r\n";

	(void)state;
	expect_err(no_eq, strlen(no_eq), MSG_FORMAT);
	expect_err(blank_mid, strlen(blank_mid), MSG_FORMAT);
	expect_err(blank_end, strlen(blank_end), MSG_FORMAT);
	expect_err(spaces_line, strlen(spaces_line), MSG_FORMAT);
	expect_err(crlf_blank, strlen(crlf_blank), MSG_FORMAT);
}

static void
test_empty_file(void **state)
{
	(void)state;
	expect_err("", 0, MSG_MISSING);
}

static void
test_nonexistent(void **state)
{
	struct auth_pair a;
	char err[512] = "", missing[300];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/nope", dir);
	assert_int_equal(auth_read_file(missing, F1, F2, &a, err, sizeof(err)),
			 -1);
	assert_memory_equal(err, MSG_OPEN, strlen(MSG_OPEN));
	assert_non_null(strstr(err, "No such file"));
	assert_null(a.first);
	assert_null(a.second);
}

static void
expect_mode_refused(mode_t mode, const char *mode_str)
{
	static const char text[] = "application_id = X\napplication_key = Y\n";
	struct auth_pair a;
	char err[512] = "";

	write_auth(text, strlen(text), mode);
	assert_int_equal(auth_read_file(path, F1, F2, &a, err, sizeof(err)),
			 -1);
	if (strstr(err, mode_str) == NULL || strstr(err, "chmod 600") == NULL)
		fail_msg("mode %s: message \"%s\"", mode_str, err);
	assert_null(a.first);
	assert_null(a.second);
}

static void
test_mode_refused(void **state)
{
	(void)state;
	expect_mode_refused(0640, "0640");
	expect_mode_refused(0604, "0604");
	expect_mode_refused(0660, "0660");
	expect_mode_refused(0644, "0644");
	expect_mode_refused(0620, "0620"); /* group may write it */
}

static void
test_mode_owner_only_ok(void **state)
{
	static const char text[] = "application_id = X\napplication_key = Y\n";
	struct auth_pair a;
	char err[512] = "";

	(void)state;
	write_auth(text, strlen(text), 0400);
	assert_int_equal(auth_read_file(path, F1, F2, &a, err, sizeof(err)), 0);
	assert_string_equal(a.second, "Y");
	auth_wipe(&a);
}

static void
test_directory_refused(void **state)
{
	struct auth_pair a;
	char err[512] = "";

	(void)state;
	assert_int_equal(auth_read_file(dir, F1, F2, &a, err, sizeof(err)), -1);
	assert_memory_equal(err, MSG_OPEN, strlen(MSG_OPEN));
	assert_null(a.first);
}

static void
test_read_fd(void **state)
{
	static const char text[] = "application_id = X\napplication_key = Y=\n";
	struct auth_pair a;
	char err[512] = "";
	int fd;

	(void)state;
	write_auth(text, strlen(text), 0600);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(auth_read_fd(fd, NULL, F1, F2, &a, err, sizeof(err)),
			 0);
	assert_string_equal(a.first, "X");
	assert_string_equal(a.second, "Y=");
	auth_wipe(&a);
	/* the descriptor is left open for the caller */
	assert_int_not_equal(fcntl(fd, F_GETFD), -1);
	close(fd);

	/* the mode check applies to descriptors too */
	write_auth(text, strlen(text), 0644);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(auth_read_fd(fd, NULL, F1, F2, &a, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "chmod 600"));
	close(fd);

	/* a closed descriptor */
	assert_int_equal(auth_read_fd(fd, NULL, F1, F2, &a, err, sizeof(err)),
			 -1);
	assert_memory_equal(err, MSG_OPEN, strlen(MSG_OPEN));
}

/* A file of another user (not root) is refused, named when the caller
 * passes its path with the descriptor. Needs root to chown; skipped
 * otherwise. */
static void
test_owner_refused(void **state)
{
	static const char text[] = "application_id = X\napplication_key = Y\n";
	struct auth_pair a;
	char err[512] = "";
	int fd;

	(void)state;
	if (geteuid() != 0)
		skip();
	write_auth(text, strlen(text), 0600);
	assert_int_equal(chown(path, 65534, 65534), 0);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(auth_read_fd(fd, path, F1, F2, &a, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "belongs to uid 65534, neither root nor"));
	assert_non_null(strstr(err, path));
	assert_null(a.first);
	close(fd);
	assert_int_equal(chown(path, 0, 0), 0); /* root's own: accepted */
	assert_int_equal(auth_read_file(path, F1, F2, &a, err, sizeof(err)), 0);
	auth_wipe(&a);
}

/* Long secrets and a file over 4 KiB (several reads). */
static void
test_long_file(void **state)
{
	char *text = malloc(20000), key[3001];
	size_t n = 0;
	int i;
	struct auth_pair a;
	char err[512] = "";

	(void)state;
	assert_non_null(text);
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	for (i = 0; i < 400; i++)
		n += (size_t)sprintf(text + n, "extra%d = v\n", i);
	n += (size_t)sprintf(text + n, "application_id = X\n");
	n += (size_t)sprintf(text + n, "application_key = %s\n", key);
	write_auth(text, n, 0600);
	assert_int_equal(auth_read_file(path, F1, F2, &a, err, sizeof(err)), 0);
	assert_string_equal(a.first, "X");
	assert_string_equal(a.second, key);
	auth_wipe(&a);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_value_with_equals),
	    cmocka_unit_test(test_spaces_removed),
	    cmocka_unit_test(test_no_trailing_newline),
	    cmocka_unit_test(test_crlf),
	    cmocka_unit_test(test_extra_fields_ignored),
	    cmocka_unit_test(test_empty_value_skipped),
	    cmocka_unit_test(test_duplicate_last_wins),
	    cmocka_unit_test(test_missing_field),
	    cmocka_unit_test(test_other_field_names),
	    cmocka_unit_test(test_format_errors),
	    cmocka_unit_test(test_empty_file),
	    cmocka_unit_test(test_nonexistent),
	    cmocka_unit_test(test_mode_refused),
	    cmocka_unit_test(test_mode_owner_only_ok),
	    cmocka_unit_test(test_directory_refused),
	    cmocka_unit_test(test_read_fd),
	    cmocka_unit_test(test_owner_refused),
	    cmocka_unit_test(test_long_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
