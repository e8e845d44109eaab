/*
 * azure-config's reader (config/conf.c): ossec.conf text in, the exact
 * shell lines out. Skipped blocks leave the others' lines intact; line
 * numbers are the file's, whatever the synthetic root and a blanked
 * <?xml?> declaration.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "log.h"

static struct buf out;
static struct conf_result res;

/* Parses TEXT; returns conf_parse's status, the lines are in out. */
static int
parse(const char *text)
{
	buf_free(&out);
	buf_init(&out, CONF_OUTPUT_MAX + (1u << 20));
	return conf_parse("t.conf", text, strlen(text), &out, &res);
}

static const char *
lines(void)
{
	return out.data ? out.data : "";
}

#define GRAPH_BLOCK                                                            \
	"<graph><auth_path>/a</auth_path>"                                     \
	"<tenantdomain>t.example</tenantdomain>"
#define GRAPH_WORDS                                                            \
	"'--graph' '--graph_auth_path' '/a' '--graph_tenant_domain' "          \
	"'t.example'"

static void
test_graph(void **state)
{
	(void)state;
	assert_int_equal(
	    parse("<ossec_config><wodle name=\"azure-logs\">\n"
		  "<disabled>no</disabled><interval>5m</interval>"
		  "<run_on_start>yes</run_on_start>\n" GRAPH_BLOCK "\n"
		  "<request><tag>signins</tag><query>auditLogs/signIns</query>"
		  "<time_offset>1d</time_offset></request>\n"
		  "</graph></wodle></ossec_config>"),
	    0);
	assert_string_equal(lines(), "azure_request 4 " GRAPH_WORDS
				     " '--graph_tag' 'signins' '--graph_query' "
				     "'auditLogs/signIns' "
				     "'--graph_time_offset' '1d'\n");
	assert_int_equal(res.requests, 1);
	assert_int_equal(res.skipped, 0);
}

static void
test_log_analytics(void **state)
{
	(void)state;
	assert_int_equal(
	    parse("<wodle name=\"azure-logs\"><log_analytics>"
		  "<request><query> SigninLogs | where ResultType != 0 "
		  "</query><workspace>ws-1</workspace>"
		  "<timeout>600</timeout></request>"
		  "<tenantdomain>d</tenantdomain><auth_path>/la</auth_path>"
		  "</log_analytics></wodle>"),
	    0);
	assert_string_equal(
	    lines(), "azure_request 1 '--log_analytics' '--la_auth_path' '/la' "
		     "'--la_tenant_domain' 'd' '--la_tag' 'request_1' "
		     "'--la_query' 'SigninLogs | where ResultType != 0' "
		     "'--workspace' 'ws-1' '--timeout' '600s'\n");
}

static void
test_storage(void **state)
{
	(void)state;
	assert_int_equal(
	    parse("<wodle name=\"azure-logs\"><storage>\n"
		  "<auth_path>/st</auth_path><tag>diag</tag>\n"
		  "<container name=\"insights-logs\"><blobs>.json</blobs>"
		  "<content_type>json_file</content_type>"
		  "<time_offset>2h</time_offset><path>resourceId=/S/</path>"
		  "</container>\n"
		  "<container name=\"c2\"><content_type>text</content_type>"
		  "</container>\n"
		  "<container name=\"c3\"><content_type>json_inline"
		  "</content_type></container>\n"
		  "</storage></wodle>"),
	    0);
	assert_string_equal(
	    lines(),
	    "azure_request 3 '--storage' '--storage_auth_path' '/st' "
	    "'--container' 'insights-logs' '--blobs' '.json' "
	    "'--storage_tag' 'diag' '--json_file' "
	    "'--storage_time_offset' '2h' '--prefix' 'resourceId=/S/'\n"
	    "azure_request 4 '--storage' '--storage_auth_path' '/st' "
	    "'--container' 'c2' '--storage_tag' 'diag'\n"
	    "azure_request 5 '--storage' '--storage_auth_path' '/st' "
	    "'--container' 'c3' '--storage_tag' 'diag' '--json_inline'\n");
}

static void
test_storage_tag_made_up(void **state)
{
	(void)state;
	assert_int_equal(parse("<wodle name=\"azure-logs\">\n\n<storage>"
			       "<auth_path>/st</auth_path>"
			       "<container name=\"c\"/></storage></wodle>"),
			 0);
	assert_string_equal(lines(),
			    "azure_request 3 '--storage' '--storage_auth_path' "
			    "'/st' '--container' 'c' '--storage_tag' "
			    "'storage_3'\n");
}

/* A ' is written '\''; newlines, quotes, $, \ and ! stay as they are. */
static void
test_quoting(void **state)
{
	(void)state;
	assert_int_equal(
	    parse("<wodle name=\"azure-logs\">" GRAPH_BLOCK
		  "<request><tag>it's</tag><query><![CDATA[a 'b' \"c\" $d \\e"
		  " !f |g\nh]]> &amp;&lt;&gt;&apos;&quot;</query></request>"
		  "</graph></wodle>"),
	    0);
	assert_string_equal(
	    lines(), "azure_request 1 " GRAPH_WORDS
		     " '--graph_tag' 'it'\\''s' '--graph_query' "
		     "'a '\\''b'\\'' \"c\" $d \\e !f |g\nh &<>'\\''\"'\n");
}

static void
test_attributes(void **state)
{
	(void)state;
	assert_int_equal(
	    parse("<wodle name=\"azure-logs\" jobs=\"8\" db=\"/s/azure.db\" "
		  "cloud=\"usgov\" overlap=\"1m\" timeout=\"2h\">"
		  "<timeout>600</timeout>"
		  "<graph cloud=\"china\" lag=\"30s\"><auth_path>/a</auth_path>"
		  "<tenantdomain>t.example</tenantdomain>"
		  "<request overlap=\"9m\" la-checkpoint=\"ingestion\">"
		  "<query>q1</query><tag>t</tag></request>"
		  "<request><query>q2</query><tag>t</tag></request></graph>"
		  "<graph proxy=\"http://u:pw@p:3128\" timeout=\"5m\">"
		  "<auth_path>/a</auth_path>"
		  "<tenantdomain>t.example</tenantdomain>"
		  "<request><query>q3</query><tag>t</tag><timeout>7</timeout>"
		  "</request></graph></wodle>"),
	    0);
	assert_string_equal(
	    lines(),
	    "azure_global '--jobs' '8' '--db' '/s/azure.db'\n"
	    "azure_request 1 " GRAPH_WORDS " '--graph_tag' 't' "
	    "'--graph_query' 'q1' '--cloud' 'china' '--overlap' '9m' '--lag' "
	    "'30s' '--la-checkpoint' 'ingestion' '--timeout' '2h'\n"
	    "azure_request 1 " GRAPH_WORDS " '--graph_tag' 't' "
	    "'--graph_query' 'q2' '--cloud' 'china' '--overlap' '1m' '--lag' "
	    "'30s' '--timeout' '2h'\n"
	    "azure_request 1 " GRAPH_WORDS " '--graph_tag' 't' "
	    "'--graph_query' 'q3' '--cloud' 'usgov' '--proxy' "
	    "'http://u:pw@p:3128' '--overlap' '1m' '--timeout' '5m'\n");
}

/* Wazuh's <timeout>: the request's, else the wodle's, in seconds. */
static void
test_timeout_elements(void **state)
{
	(void)state;
	assert_int_equal(
	    parse("<wodle name=\"azure-logs\">" GRAPH_BLOCK
		  "<request><query>q1</query><tag>t</tag><timeout>7</timeout>"
		  "</request><request><query>q2</query><tag>t</tag></request>"
		  "</graph><timeout>600</timeout></wodle>"),
	    0);
	assert_string_equal(lines(), "azure_request 1 " GRAPH_WORDS
				     " '--graph_tag' 't' '--graph_query' 'q1' "
				     "'--timeout' '7s'\n"
				     "azure_request 1 " GRAPH_WORDS
				     " '--graph_tag' 't' '--graph_query' 'q2' "
				     "'--timeout' '600s'\n");
}

/* Several roots, comments, a declaration over two lines, a BOM: the
 * request's line is the file's. */
static void
test_roots_and_lines(void **state)
{
	(void)state;
	assert_int_equal(
	    parse("\xef\xbb\xbf<?xml version=\"1.0\"\n encoding=\"UTF-8\"?>\n"
		  "<!-- a comment\n over two lines -->\n"
		  "<ossec_config><global><email_notification>no"
		  "</email_notification></global></ossec_config>\n"
		  "<ossec_config>\n"
		  "<wodle name=\"syscollector\"><disabled>no</disabled>"
		  "<graph/></wodle>\n"
		  "<wodle name=\"azure-logs\">" GRAPH_BLOCK "\n"
		  "<request><query>q</query><tag>t</tag></request>"
		  "</graph></wodle>\n"
		  "</ossec_config>\n"),
	    0);
	assert_string_equal(lines(), "azure_request 9 " GRAPH_WORDS
				     " '--graph_tag' 't' '--graph_query' "
				     "'q'\n");
}

static void
test_disabled_and_multiple(void **state)
{
	(void)state;
	assert_int_equal(
	    parse("<wodle name=\"azure-logs\" jobs=\"2\">" GRAPH_BLOCK
		  "<request><query>off</query></request></graph>"
		  "<disabled>yes</disabled></wodle>\n"
		  "<wodle name=\"azure-logs\" jobs=\"3\">" GRAPH_BLOCK
		  "<request><query>on1</query><tag>t</tag></request></graph>"
		  "</wodle>\n"
		  "<wodle name=\"azure-logs\" jobs=\"3\">" GRAPH_BLOCK
		  "<request><query>on2</query><tag>t</tag></request></graph>"
		  "</wodle>\n"),
	    0);
	assert_string_equal(lines(), "azure_global '--jobs' '3'\n"
				     "azure_request 2 " GRAPH_WORDS
				     " '--graph_tag' 't' '--graph_query' "
				     "'on1'\n"
				     "azure_request 3 " GRAPH_WORDS
				     " '--graph_tag' 't' '--graph_query' "
				     "'on2'\n");
	assert_int_equal(res.wodles, 3);
	assert_int_equal(res.requests, 2);
}

/* Each fault skips its own request or block; the rest still comes out. */
static void
test_invalid_blocks_skipped(void **state)
{
	(void)state;
	assert_int_equal(
	    parse("<wodle name=\"azure-logs\">\n" GRAPH_BLOCK "\n"
		  "<request><tag>no query</tag></request>\n"
		  "<request><query>ok1</query><tag>t</tag></request>\n"
		  "<request><query>x</query><bogus/></request>\n"
		  "<request><query>x</query><time_offset>1w</time_offset>"
		  "</request>\n"
		  "<request color=\"red\"><query>x</query></request>\n"
		  "<request><query>x<b/></query></request>\n"
		  "</graph>\n"
		  "<log_analytics><auth_path>/a</auth_path>"
		  "<tenantdomain>d</tenantdomain>"
		  "<request><query>no workspace</query></request>"
		  "</log_analytics>\n"
		  "<graph><auth_path>/a</auth_path>"
		  "<request><query>no tenant</query></request></graph>\n"
		  "<graph><application_id>id</application_id>"
		  "<application_key>SECRET</application_key>"
		  "<tenantdomain>d</tenantdomain>"
		  "<request><query>legacy</query></request></graph>\n"
		  "<storage><auth_path>/s</auth_path>"
		  "<container name=\"c\"><content_type>xml</content_type>"
		  "</container></storage>\n"
		  "<storage jobs=\"2\"><auth_path>/s</auth_path>"
		  "<container name=\"c\"/></storage>\n"
		  "<storage><auth_path>/s</auth_path><container name=\"ok2\"/>"
		  "<tag>t</tag></storage>\n"
		  "</wodle>"),
	    0);
	assert_string_equal(
	    lines(), "azure_request 4 " GRAPH_WORDS
		     " '--graph_tag' 't' '--graph_query' 'ok1'\n"
		     "azure_request 15 '--storage' '--storage_auth_path' "
		     "'/s' '--container' 'ok2' '--storage_tag' 't'\n");
	assert_null(strstr(lines(), "SECRET"));
	/* 5 requests, 1 LA request and its block, the tenant-less graph,
	 * the legacy graph, a container and its block, the jobs storage */
	assert_int_equal(res.skipped, 12);
}

static void
test_wodle_errors(void **state)
{
	(void)state;
	/* an unknown element or attribute of the wodle skips all of it */
	assert_int_equal(
	    parse("<wodle name=\"azure-logs\">" GRAPH_BLOCK
		  "<request><query>q</query></request></graph>"
		  "<extra/></wodle>"
		  "<wodle name=\"azure-logs\" color=\"x\">" GRAPH_BLOCK
		  "<request><query>q</query></request></graph></wodle>"
		  "<wodle name=\"azure-logs\"><disabled>maybe</disabled>"
		  "</wodle>"),
	    0);
	assert_string_equal(lines(), "");
	assert_int_equal(res.skipped, 3);
	/* global settings in two wodles must agree */
	assert_int_equal(
	    parse("<wodle name=\"azure-logs\" jobs=\"2\"/>"
		  "<wodle name=\"azure-logs\" jobs=\"3\">" GRAPH_BLOCK
		  "<request><query>q</query></request></graph></wodle>"),
	    0);
	assert_string_equal(lines(), "azure_global '--jobs' '2'\n");
	/* attribute values are checked */
	assert_int_equal(parse("<wodle name=\"azure-logs\" jobs=\"65\"/>"
			       "<wodle name=\"azure-logs\" cloud=\"mars\"/>"
			       "<wodle name=\"azure-logs\" overlap=\"5x\"/>"
			       "<wodle name=\"azure-logs\" socket=\"\"/>"),
			 0);
	assert_int_equal(res.skipped, 4);
}

static void
test_graph_workspace_ignored(void **state)
{
	(void)state;
	assert_int_equal(parse("<wodle name=\"azure-logs\">" GRAPH_BLOCK
			       "<request><query>q</query><tag>t</tag>"
			       "<workspace>w</workspace></request>"
			       "</graph></wodle>"),
			 0);
	assert_string_equal(lines(), "azure_request 1 " GRAPH_WORDS
				     " '--graph_tag' 't' '--graph_query' "
				     "'q'\n");
}

static void
test_unusable_files(void **state)
{
	(void)state;
	assert_int_equal(parse(""), -1);
	assert_int_equal(parse("<ossec_config/>"), -1);
	assert_int_equal(parse("<ossec_config><wodle name=\"azure-logs\">"),
			 -1);
	assert_int_equal(parse("<a></b>"), -1);
	assert_int_equal(parse("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>"),
			 -1);
	assert_int_equal(
	    parse("<?xml version=\"1.0\" encoding=\"UTF-16\"?><a/>"), -1);
	assert_string_equal(lines(), "");
}

/* ISO-8859-1 when declared; the words come out in UTF-8. */
static void
test_latin1(void **state)
{
	(void)state;
	assert_int_equal(
	    parse("<?xml version='1.0' encoding='ISO-8859-1'?>"
		  "<wodle name=\"azure-logs\">" GRAPH_BLOCK
		  "<request><query>caf\xe9</query><tag>t</tag></request>"
		  "</graph></wodle>"),
	    0);
	assert_non_null(strstr(lines(), "'caf\xc3\xa9'"));
}

/* Wazuh's reader decodes no entity: a bare & is the character, as it is
 * for Wazuh; references are decoded; CDATA and comments are left alone. */
static void
test_bare_ampersand(void **state)
{
	(void)state;
	assert_int_equal(
	    parse("<ossec_config><localfile><command>df -P 2>&1 && x"
		  "</command></localfile><!-- a & b --></ossec_config>\n"
		  "<wodle name=\"azure-logs\">" GRAPH_BLOCK
		  "<request><query>a & b &amp; &#65;&#x42; &foo; &#; &</query>"
		  "<tag><![CDATA[&amp; &]]></tag></request>"
		  "</graph></wodle>"),
	    0);
	assert_string_equal(lines(), "azure_request 2 " GRAPH_WORDS
				     " '--graph_tag' '&amp; &' '--graph_query' "
				     "'a & b & AB &foo; &#; &'\n");
}

static void
test_long_query(void **state)
{
	size_t n = 40000, i;
	char *q = malloc(n + 1), *doc = malloc(n + 512),
	     *want = malloc(n + 512);

	(void)state;
	for (i = 0; i < n; i++)
		q[i] = "ab c|\"$\n"[i % 8];
	q[n - 1] = 'z';
	q[n] = '\0';
	snprintf(doc, n + 512,
		 "<wodle name=\"azure-logs\">" GRAPH_BLOCK
		 "<request><query>z%s</query><tag>t</tag></request>"
		 "</graph></wodle>",
		 q);
	assert_int_equal(parse(doc), 0);
	snprintf(want, n + 512,
		 "azure_request 1 " GRAPH_WORDS
		 " '--graph_tag' 't' '--graph_query' 'z%s'\n",
		 q);
	assert_string_equal(lines(), want);
	free(q);
	free(doc);
	free(want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_graph),
	    cmocka_unit_test(test_log_analytics),
	    cmocka_unit_test(test_storage),
	    cmocka_unit_test(test_storage_tag_made_up),
	    cmocka_unit_test(test_quoting),
	    cmocka_unit_test(test_attributes),
	    cmocka_unit_test(test_timeout_elements),
	    cmocka_unit_test(test_roots_and_lines),
	    cmocka_unit_test(test_disabled_and_multiple),
	    cmocka_unit_test(test_invalid_blocks_skipped),
	    cmocka_unit_test(test_wodle_errors),
	    cmocka_unit_test(test_graph_workspace_ignored),
	    cmocka_unit_test(test_unusable_files),
	    cmocka_unit_test(test_latin1),
	    cmocka_unit_test(test_bare_ampersand),
	    cmocka_unit_test(test_long_query),
	};
	int rc;

	log_init("test_config", 0);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	buf_free(&out);
	return rc;
}
