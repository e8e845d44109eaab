/*
 * Endpoint overrides (util.h url_check_endpoint): https anywhere, plain
 * http only to a loopback host, never credentials or spaces.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util.h"

static void
expect_ok(const char *url)
{
	char err[512] = "";

	if (url_check_endpoint(url, err, sizeof(err)) != 0)
		fail_msg("refused \"%s\": %s", url, err);
}

static void
expect_refused(const char *url)
{
	char err[512] = "";

	if (url_check_endpoint(url, err, sizeof(err)) != -1)
		fail_msg("accepted \"%s\"", url);
	if (err[0] == '\0')
		fail_msg("refused \"%s\" without a message", url);
}

static void
test_https_ok(void **state)
{
	(void)state;
	expect_ok("https://login.microsoftonline.com");
	expect_ok("https://graph.microsoft.com");
	expect_ok("https://graph.microsoft.us/");
	expect_ok("https://login.chinacloudapi.cn:443/path");
	expect_ok("HTTPS://GRAPH.MICROSOFT.COM");
	expect_ok("https://[2001:db8::1]:8443");
}

static void
test_http_loopback_ok(void **state)
{
	(void)state;
	expect_ok("http://127.0.0.1:8080");
	expect_ok("http://127.0.0.1");
	expect_ok("http://127.1.2.3:9/x");
	expect_ok("http://localhost/x");
	expect_ok("http://LOCALHOST:8080");
	expect_ok("http://[::1]:9");
	expect_ok("http://[::1]/");
}

static void
test_http_remote_refused(void **state)
{
	char err[512] = "";

	(void)state;
	expect_refused("http://example.com");
	expect_refused("http://graph.microsoft.com/");
	expect_refused("http://127.0.0.1.evil.com");
	expect_refused("http://127.0.0.1.evil.com:8080/");
	expect_refused("http://localhost.evil.com");
	expect_refused("http://localhostx");
	expect_refused("http://10.0.0.1");
	expect_refused("http://128.0.0.1");
	expect_refused("http://[::2]:9");
	assert_int_equal(
	    url_check_endpoint("http://example.com", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "https://"));
}

/* A bracketed host is the whole host: nothing may follow "]" but a port,
 * a path, a query or a fragment. */
static void
test_bracket_host_suffix_refused(void **state)
{
	(void)state;
	expect_refused("http://[::1].evil.com");
	expect_refused("http://[::1]evil.com/x");
}

static void
test_bad_scheme_refused(void **state)
{
	(void)state;
	expect_refused("ftp://x");
	expect_refused("file:///etc/passwd");
	expect_refused("graph.microsoft.com");
	expect_refused("//graph.microsoft.com");
	expect_refused("httpx://graph.microsoft.com");
	expect_refused("");
}

static void
test_credentials_refused(void **state)
{
	(void)state;
	expect_refused("https://user:pw@host");
	expect_refused("https://user@host");
	expect_refused("http://127.0.0.1@evil.com");
	expect_refused("http://evil.com#@127.0.0.1");
}

static void
test_no_host_refused(void **state)
{
	(void)state;
	expect_refused("https://");
	expect_refused("http://");
	expect_refused("https:///path");
	expect_refused("https://:443");
	expect_refused("http://[::1");
}

static void
test_spaces_refused(void **state)
{
	(void)state;
	expect_refused("https://graph microsoft.com");
	expect_refused("https://graph.microsoft.com/a b");
	expect_refused(" https://graph.microsoft.com");
	expect_refused("https://graph.microsoft.com\n");
	expect_refused("https://graph.microsoft.com\t");
	expect_refused("http://127.0.0.1 .evil.com");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_https_ok),
	    cmocka_unit_test(test_http_loopback_ok),
	    cmocka_unit_test(test_http_remote_refused),
	    cmocka_unit_test(test_bracket_host_suffix_refused),
	    cmocka_unit_test(test_bad_scheme_refused),
	    cmocka_unit_test(test_credentials_refused),
	    cmocka_unit_test(test_no_host_refused),
	    cmocka_unit_test(test_spaces_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
