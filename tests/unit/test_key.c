/*
 * Checkpoint keys (util.h md5_hex): the same hex digests Wazuh's Python
 * hashlib.md5(...).hexdigest() gives, so existing azure.db rows are found.
 * Expected values computed with python3 hashlib.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "util.h"

static void
expect_md5(const void *p, size_t n, const char *want)
{
	char out[MD5_HEXLEN];

	memset(out, 'x', sizeof(out));
	md5_hex(p, n, out);
	assert_int_equal(strlen(out), 32);
	assert_string_equal(out, want);
}

static void
test_graph_keys(void **state)
{
	static const char q1[] = "auditLogs/signIns";
	static const char q2[] = "auditLogs/directoryAudits";
	static const char q3[] = "auditLogs/directoryAudits?$top=5";

	(void)state;
	expect_md5(q1, strlen(q1), "2012f3812bfc764b6a927f00ddcd7c16");
	expect_md5(q2, strlen(q2), "5956825a2e7b02dbebce74ec3c2ac5a5");
	expect_md5(q3, strlen(q3), "c55536c1321eaf6470345764ef33f777");
}

/* Log Analytics: md5("query=<Q>|workspace=<W>"). */
static void
test_la_keys(void **state)
{
	char k[512];
	int n;

	(void)state;
	n = snprintf(k, sizeof(k), "query=%s|workspace=%s", "SigninLogs",
		     "ws1");
	expect_md5(k, (size_t)n, "4cff3296fec986d4ab6e3408543f1215");
	n = snprintf(k, sizeof(k), "query=%s|workspace=%s",
		     "AzureActivity | where x == 'y'",
		     "d6b3c4e2-1234-5678-9abc-def012345678");
	expect_md5(k, (size_t)n, "ddce44914d85fd34df5eded108479ff8");
	/* UTF-8 in the query is hashed as its UTF-8 bytes */
	n = snprintf(k, sizeof(k), "query=%s|workspace=%s",
		     "SigninLogs | where UserPrincipalName == "
		     "\"jos\xc3\xa9@contoso.com\"",
		     "ws1");
	expect_md5(k, (size_t)n, "42d1a0f054f4e9f41c1dcf49f973c1dc");
}

static void
test_storage_and_edge_keys(void **state)
{
	static const char acct[] = "mystorageaccount";

	(void)state;
	expect_md5(acct, strlen(acct), "586d0939bdbf9cedcb92a91c8f8c6b9f");
	expect_md5("", 0, "d41d8cd98f00b204e9800998ecf8427e");
	expect_md5("a\0b", 3, "70350f6027bce3713f6b76473084309b");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_graph_keys),
	    cmocka_unit_test(test_la_keys),
	    cmocka_unit_test(test_storage_and_edge_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
