"""End-to-end: bin/azure-config on ossec.conf files.

What the launcher gets is what a POSIX shell makes of azure-config's
output: each test evals it in sh (`eval "$(azure-config FILE)"`) with
azure_global and azure_request defined as functions that print their
arguments, NUL-separated, so every word is compared exactly as the
launcher will see it (quotes, spaces, newlines, 20 KB queries). The log is
checked line by line for Wazuh's shape and for the file's line numbers.
"""

import os
import pwd
import re
import shutil
import subprocess
import tempfile
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINDIR = os.environ.get("AZURE_LOGS_BINDIR", os.path.join(TOP, "bin"))
CONFIG = os.path.join(BINDIR, "azure-config")

LOG_LINE = re.compile(
    r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d azure: (DEBUG|INFO|WARNING|ERROR|CRITICAL): (.*)$")

# The shell side: eval the output, print each call as NUL-separated words
# (a record starts with G or R; the request's LINE is its first word).
EVAL = r'''
azure_global() { printf 'G\0'; for w in "$@"; do printf '%s\0' "$w"; done; printf '\1\0'; }
azure_request() { printf 'R\0'; for w in "$@"; do printf '%s\0' "$w"; done; printf '\1\0'; }
out=$("$0" "$@") || exit $?
eval "$out"
'''

GRAPH = ["--graph", "--graph_auth_path", "/var/ossec/wodles/credentials/graph",
         "--graph_tenant_domain", "contoso.onmicrosoft.com"]


def graph_block(requests, attrs=""):
    return ("<graph%s>\n<auth_path>/var/ossec/wodles/credentials/graph</auth_path>\n"
            "<tenantdomain>contoso.onmicrosoft.com</tenantdomain>\n%s</graph>\n"
            % (attrs, requests))


class ConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="test-config.")
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "ossec.conf")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write(self, text, mode=0o644):
        data = text.encode() if isinstance(text, str) else text
        with open(self.path, "wb") as f:
            f.write(data)
        os.chmod(self.path, mode)
        return self.path

    def run_config(self, *args, stdin=None):
        p = subprocess.run([CONFIG, *args], input=stdin, capture_output=True)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def logs(self, stderr):
        """(level, message) of each stderr line, all in Wazuh's shape."""
        out = []
        for line in stderr.splitlines():
            m = LOG_LINE.match(line)
            self.assertIsNotNone(m, "not in Wazuh's log shape: %r" % line)
            out.append((m.group(1), m.group(2)))
        return out

    def evaluated(self, *args):
        """The calls the launcher's eval makes: [("G"|"R", [words])]."""
        p = subprocess.run(["sh", "-c", EVAL, CONFIG, *args], capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        calls, cur = [], None
        for w in p.stdout.decode().split("\0")[:-1]:
            if cur is None:
                cur = (w, [])
            elif w == "\1":
                calls.append(cur)
                cur = None
            else:
                cur[1].append(w)
        self.assertIsNone(cur)
        return calls, p.stderr.decode()

    def requests(self, text, *args):
        self.write(text)
        calls, err = self.evaluated(*args, self.path)
        return [c[1] for c in calls if c[0] == "R"], calls, err

    # --- every element, all three services -----------------------------

    def test_every_element(self):
        text = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Wazuh's ossec.conf: several roots, other modules -->
<ossec_config>
  <global><jsonout_output>yes</jsonout_output></global>
  <localfile><command>df -P 2>&1 && uptime</command></localfile>
</ossec_config>
<ossec_config>
  <wodle name="syscollector"><disabled>no</disabled></wodle>
  <wodle name="azure-logs">
    <disabled>no</disabled>
    <interval>5m</interval>
    <run_on_start>yes</run_on_start>
    <timeout>3600</timeout>
    <log_analytics>
      <auth_path>/var/ossec/wodles/credentials/la</auth_path>
      <tenantdomain>contoso.onmicrosoft.com</tenantdomain>
      <request>
        <tag>azure-signins</tag>
        <query>SigninLogs | where ResultType != 0</query>
        <workspace>00000000-0000-0000-0000-000000000000</workspace>
        <time_offset>1d</time_offset>
        <timeout>600</timeout>
      </request>
    </log_analytics>
    <graph>
      <auth_path>/var/ossec/wodles/credentials/graph</auth_path>
      <tenantdomain>contoso.onmicrosoft.com</tenantdomain>
      <request>
        <tag>azure-ad-signins</tag>
        <query>auditLogs/signIns</query>
        <time_offset>2h</time_offset>
      </request>
    </graph>
    <storage>
      <auth_path>/var/ossec/wodles/credentials/storage</auth_path>
      <tag>azure-diagnostics</tag>
      <container name="insights-logs-signinlogs">
        <blobs>.json</blobs>
        <content_type>json_inline</content_type>
        <time_offset>30m</time_offset>
      </container>
      <container name="insights-logs-nsg">
        <blobs>.json</blobs>
        <content_type>json_file</content_type>
        <path>resourceId=/SUBSCRIPTIONS/</path>
        <timeout>120</timeout>
      </container>
      <container name="plain">
        <content_type>text</content_type>
      </container>
    </storage>
  </wodle>
</ossec_config>
"""
        reqs, calls, err = self.requests(text)
        self.assertEqual([c[0] for c in calls], ["R"] * 5)  # no azure_global
        self.assertEqual(reqs, [
            ["17", "--log_analytics", "--la_auth_path", "/var/ossec/wodles/credentials/la",
             "--la_tenant_domain", "contoso.onmicrosoft.com", "--la_tag", "azure-signins",
             "--la_query", "SigninLogs | where ResultType != 0",
             "--workspace", "00000000-0000-0000-0000-000000000000",
             "--la_time_offset", "1d", "--timeout", "600s"],
            ["28", *GRAPH, "--graph_tag", "azure-ad-signins",
             "--graph_query", "auditLogs/signIns", "--graph_time_offset", "2h",
             "--timeout", "3600s"],
            ["37", "--storage", "--storage_auth_path", "/var/ossec/wodles/credentials/storage",
             "--container", "insights-logs-signinlogs", "--blobs", ".json",
             "--storage_tag", "azure-diagnostics", "--json_inline",
             "--storage_time_offset", "30m", "--timeout", "3600s"],
            ["42", "--storage", "--storage_auth_path", "/var/ossec/wodles/credentials/storage",
             "--container", "insights-logs-nsg", "--blobs", ".json",
             "--storage_tag", "azure-diagnostics", "--json_file",
             "--prefix", "resourceId=/SUBSCRIPTIONS/", "--timeout", "120s"],
            ["48", "--storage", "--storage_auth_path", "/var/ossec/wodles/credentials/storage",
             "--container", "plain", "--storage_tag", "azure-diagnostics",
             "--timeout", "3600s"],
        ])
        self.assertEqual(self.logs(err), [])  # -d 0: nothing to say

    def test_made_up_tags(self):
        """Without <tag>, Wazuh makes one up (request_N, storage_N): ours
        are the element's line, so they stay the same from run to run."""
        reqs, _, err = self.requests(
            '<wodle name="azure-logs">\n'
            + graph_block("<request><query>q</query></request>\n")
            + "<storage><auth_path>/s</auth_path>\n"
            '<container name="c"/></storage>\n</wodle>\n', "-d", "1")
        self.assertEqual(reqs[0], ["5", *GRAPH, "--graph_tag", "request_5", "--graph_query", "q"])
        self.assertEqual(reqs[1], ["8", "--storage", "--storage_auth_path", "/s",
                                   "--container", "c", "--storage_tag", "storage_7"])
        self.assertIn(("INFO", "%s:5: no <tag> in the <request>: it is request_5" % self.path),
                      self.logs(err))

    # --- several wodles, disabled ---------------------------------------

    def test_multiple_and_disabled_wodles(self):
        text = ('<ossec_config>\n<wodle name="azure-logs">\n<disabled>yes</disabled>\n'
                + graph_block("<request><query>off</query><tag>t</tag></request>\n")
                + '</wodle>\n</ossec_config>\n<ossec_config>\n<wodle name="azure-logs">\n'
                + graph_block("<request><query>on1</query><tag>t</tag></request>\n")
                + '</wodle>\n<wodle name="azure-logs">\n'
                + graph_block("<request><query>on2</query><tag>t</tag></request>\n")
                + "</wodle>\n</ossec_config>\n")
        reqs, _, err = self.requests(text, "-d", "1")
        self.assertEqual([r[-1] for r in reqs], ["on1", "on2"])
        logs = self.logs(err)
        self.assertIn(("INFO", '%s:2: the <wodle name="azure-logs"> is disabled: skipped'
                       % self.path), logs)
        found = [m for lv, m in logs if lv == "INFO" and "> of <" in m]
        self.assertEqual(found, ["%s:16: <request> of <graph>, tag t" % self.path,
                                 "%s:23: <request> of <graph>, tag t" % self.path])
        # only disabled blocks: the file parsed, nothing to run
        rc, out, err = self.run_config(self.write(
            '<wodle name="azure-logs"><disabled>yes</disabled></wodle>'))
        self.assertEqual((rc, out), (0, ""))

    # --- invalid blocks -------------------------------------------------

    def test_invalid_blocks_reported_and_skipped(self):
        text = ('<ossec_config>\n<wodle name="azure-logs">\n'                 # 1-2
                + graph_block(                                               # 3-5
                    "<request><tag>no query</tag></request>\n"               # 6
                    "<request><query>good1</query><tag>t</tag></request>\n"  # 7
                    "<request><query>q</query><time_offset>5x</time_offset></request>\n"  # 8
                    "<request><query>q</query><interval>1h</interval></request>\n")  # 9
                + "<log_analytics>\n<auth_path>/la</auth_path>\n"            # 11-12
                "<tenantdomain>d</tenantdomain>\n"                           # 13
                "<request><query>no workspace</query></request>\n"           # 14
                "</log_analytics>\n"                                         # 15
                "<graph>\n<tenantdomain>d</tenantdomain>\n"                  # 16-17
                "<request><query>no auth</query></request>\n</graph>\n"      # 18-19
                "<storage>\n<auth_path>/s</auth_path>\n<unknown>1</unknown>\n"  # 20-22
                '<container name="c"/>\n</storage>\n'                        # 23-24
                "<storage>\n<auth_path>/s</auth_path>\n"                     # 25-26
                '<container name="good2"><content_type>csv</content_type></container>\n'  # 27
                '<container name="good3"/>\n</storage>\n'                    # 28-29
                "</wodle>\n</ossec_config>\n")
        reqs, _, err = self.requests(text)
        self.assertEqual([r[0] for r in reqs], ["7", "28"])
        f = self.path
        self.assertEqual(self.logs(err), [
            ("ERROR", "%s:6: no <query>; the <request> is skipped" % f),
            ("ERROR", '%s:8: invalid <time_offset> "5x": it is <N>m, <N>h or <N>d; '
                      "the <request> is skipped" % f),
            ("ERROR", "%s:9: unknown element <interval>; the <request> is skipped" % f),
            ("ERROR", "%s:14: no <workspace>; the <request> is skipped" % f),
            ("ERROR", "%s:11: no valid <request> left; the <log_analytics> block is skipped" % f),
            ("ERROR", "%s:16: no <auth_path>; the <graph> block is skipped" % f),
            ("ERROR", "%s:22: unknown element <unknown>; the <storage> block is skipped" % f),
            ("ERROR", '%s:27: invalid <content_type> "csv": it is json_file, json_inline '
                      "or text; the <container> is skipped" % f),
        ])

    def test_unknown_element_of_wodle_skips_it(self):
        text = ('<wodle name="azure-logs">\n'
                + graph_block("<request><query>q</query></request>\n")
                + "<frequency>1</frequency>\n</wodle>\n"
                '<wodle name="azure-logs">\n'
                + graph_block("<request><query>kept</query><tag>t</tag></request>\n")
                + "</wodle>\n")
        reqs, _, err = self.requests(text)
        self.assertEqual([r[-1] for r in reqs], ["kept"])
        self.assertIn(("ERROR", "%s:7: unknown element <frequency>; the <wodle> block is skipped"
                       % self.path), self.logs(err))

    def test_legacy_secrets_refused(self):
        secret = "s3cr3t-Value-Never-Shown"
        text = ('<wodle name="azure-logs">\n<graph>\n'
                "<application_id>11111111-2222</application_id>\n"
                "<application_key>%s</application_key>\n"
                "<tenantdomain>d</tenantdomain>\n"
                "<request><query>q</query></request>\n</graph>\n"
                "<storage>\n<account_name>acct</account_name>\n"
                "<account_key>%s</account_key>\n"
                '<container name="c"/>\n</storage>\n'
                "<log_analytics><auth_path>/a</auth_path><tenantdomain>d</tenantdomain>"
                "<request><query>kept</query><workspace>w</workspace></request>"
                "</log_analytics>\n</wodle>\n" % (secret, secret))
        self.write(text)
        rc, out, err = self.run_config("-d", "2", self.path)
        self.assertEqual(rc, 0)
        self.assertNotIn(secret, out + err)
        reqs, _, _ = self.requests(text)
        self.assertEqual([r[0] for r in reqs], ["13"])
        logs = self.logs(err)
        for line, elem, block in ((3, "application_id", "graph"),
                                  (9, "account_name", "storage")):
            self.assertIn(("ERROR", "%s:%d: <%s> is refused: it puts a secret on the command "
                           "line; write it in the authentication file named by <auth_path>; "
                           "the <%s> block is skipped" % (self.path, line, elem, block)), logs)

    # --- our attributes -------------------------------------------------

    def test_attributes(self):
        text = ('<wodle name="azure-logs" jobs="8" db="/srv/azure.db" last-dates="/srv/ld.json"'
                ' socket="/q" socket-wait="30" dead-letter="/srv/dead" stats-json="/srv/s.json"'
                ' fetcher-user="f" statekeeper-user="s" forwarder-user="wazuh"'
                ' cloud="usgov" overlap="10m" timeout="2h" la-url="https://la.example">\n'
                "<timeout>600</timeout>\n"
                + graph_block("<request lag=\"1m\" cloud=\"china\"><query>q1</query><tag>t</tag>"
                              "</request>\n<request><query>q2</query><tag>t</tag>"
                              "<timeout>5</timeout></request>\n",
                              attrs=' proxy="http://proxy:3128" max-json-bytes="2048"'
                                    ' timeout="90s"')
                + '<log_analytics la-wait="10" la-checkpoint="ingestion" identity-url="http://i/"'
                  ' login-url="https://login.example" graph-url="https://g"'
                  ' blob-url="https://b">'
                  "<auth_path>/a</auth_path><tenantdomain>d</tenantdomain>"
                  '<request timeout="1h"><query>q3</query><workspace>w</workspace><tag>t</tag>'
                  "</request></log_analytics>\n</wodle>\n"
                '<wodle name="azure-logs" jobs="8" output="/tmp/out">\n'
                + graph_block("<request><query>q4</query><tag>t</tag></request>\n")
                + "</wodle>\n")
        reqs, calls, _ = self.requests(text)
        self.assertEqual(calls[0], ("G", [
            "--jobs", "8", "--db", "/srv/azure.db", "--last-dates", "/srv/ld.json",
            "--socket", "/q", "--socket-wait", "30", "--output", "/tmp/out",
            "--dead-letter", "/srv/dead", "--stats-json", "/srv/s.json",
            "--fetcher-user", "f", "--statekeeper-user", "s", "--forwarder-user", "wazuh"]))
        self.assertEqual([c[0] for c in calls[1:]], ["R"] * 4)
        self.assertEqual(reqs[0][-16:], [
            "--graph_query", "q1", "--cloud", "china", "--proxy", "http://proxy:3128",
            "--la-url", "https://la.example", "--max-json-bytes", "2048",
            "--overlap", "10m", "--lag", "1m", "--timeout", "90s"])
        self.assertEqual(reqs[1][-14:], [
            "--graph_query", "q2", "--cloud", "usgov", "--proxy", "http://proxy:3128",
            "--la-url", "https://la.example", "--max-json-bytes", "2048",
            "--overlap", "10m", "--timeout", "90s"])
        self.assertEqual(reqs[2][-22:], [
            "--workspace", "w", "--cloud", "usgov", "--login-url", "https://login.example",
            "--graph-url", "https://g", "--la-url", "https://la.example",
            "--blob-url", "https://b", "--identity-url", "http://i/", "--la-wait", "10",
            "--overlap", "10m", "--la-checkpoint", "ingestion", "--timeout", "1h"])
        self.assertEqual(reqs[3][-2:], ["--graph_query", "q4"])  # the second wodle's own

    def test_bad_attributes(self):
        text = ('<wodle name="azure-logs" colour="red">\n'
                + graph_block("<request><query>q</query></request>\n") + "</wodle>\n"
                '<wodle name="azure-logs">\n'
                + graph_block("<request><query>q</query></request>\n", attrs=' jobs="2"')
                + graph_block('<request proxy=""><query>q</query></request>\n'
                              '<request timeout="soon"><query>q</query></request>\n'
                              '<request><query x="1">q</query></request>\n'
                              '<request><query>kept</query><tag>t</tag></request>\n',
                              attrs=' proxy="http://user:pw@p"')
                + "</wodle>\n")
        reqs, _, err = self.requests(text)
        self.assertEqual([r[0] for r in reqs], ["20"])
        self.assertIn("--proxy", reqs[0])
        f = self.path
        self.assertEqual(self.logs(err), [
            ("ERROR", "%s:1: unknown attribute colour on <wodle>; the <wodle> block is skipped" % f),
            ("ERROR", "%s:9: the attribute jobs belongs on the <wodle>; the <graph> block is "
                      "skipped" % f),
            ("ERROR", "%s:17: invalid proxy: it is empty; the <request> is skipped" % f),
            ("ERROR", '%s:18: invalid timeout="soon": a duration: N seconds, or Ns, Nm, Nh, '
                      "Nd; the <request> is skipped" % f),
            ("ERROR", "%s:19: unknown attribute x on <query>; the <request> is skipped" % f),
        ])
        self.assertNotIn("pw@", err)

    # --- texts intact through sh -----------------------------------------

    def test_round_trip_through_sh(self):
        big = "".join("SigninLogs | where X == 'v%d' and Y != \"w\" | project $a, \\b!\n" % i
                      for i in range(330))
        self.assertGreater(len(big), 20000)
        odd = "it's \"quoted\"\nsecond line\twith tab $HOME `id` $(id) \\ ! |"
        container = "my container's \"name\""
        blobs = "*.json'"
        text = ('<wodle name="azure-logs" db="/d i r/it\'s.db">\n<log_analytics>\n'
                "<auth_path>/p a t h/it's</auth_path>\n<tenantdomain>d</tenantdomain>\n"
                "<request><tag>t</tag><workspace>w</workspace><query><![CDATA[%s]]></query>"
                "</request>\n"
                "<request><tag>t</tag><workspace>w</workspace><query>%s</query></request>\n"
                "</log_analytics>\n<storage><auth_path>/s</auth_path>"
                '<container name="%s"><blobs>%s</blobs></container></storage>\n</wodle>\n'
                % (big, odd.replace("&", "&amp;").replace("<", "&lt;"),
                   container.replace('"', "&quot;"), blobs))
        reqs, calls, _ = self.requests(text)
        self.assertEqual(calls[0], ("G", ["--db", "/d i r/it's.db"]))
        self.assertEqual(reqs[0][reqs[0].index("--la_query") + 1], big.strip())
        self.assertEqual(reqs[0][reqs[0].index("--la_auth_path") + 1], "/p a t h/it's")
        self.assertEqual(reqs[1][reqs[1].index("--la_query") + 1], odd)
        self.assertEqual(reqs[2][reqs[2].index("--container") + 1], container)
        self.assertEqual(reqs[2][reqs[2].index("--blobs") + 1], blobs)

    def test_stdin_and_latin1(self):
        text = ('<?xml version="1.0" encoding="ISO-8859-1"?>\n<wodle name="azure-logs">'
                + graph_block("<request><query>caf\xe9 \u00fc</query><tag>t</tag></request>")
                + "</wodle>").encode("latin-1")
        rc, out, err = self.run_config("-", stdin=text)
        self.assertEqual(rc, 0, err)
        self.assertIn("'--graph_query' 'caf\u00e9 \u00fc'", out)

    # --- unusable files, usage ------------------------------------------

    def test_not_well_formed(self):
        self.write('<ossec_config>\n<wodle name="azure-logs">\n'
                   + graph_block("<request><query>q</query></request>\n")
                   + "</wodle>\n<oops>\n</ossec_config>\n")
        rc, out, err = self.run_config(self.path)
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(self.logs(err), [
            ("ERROR", "%s:10: not well-formed XML: mismatched tag" % self.path)])
        self.write('<wodle name="azure-logs">\n<graph>\n')
        rc, out, err = self.run_config(self.path)
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(self.logs(err), [
            ("ERROR", "%s:2: not well-formed XML: the file ends before its elements are closed"
             % self.path)])
        # a DOCTYPE (entity expansion, external entities) is not taken
        self.write('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
                   '<wodle name="azure-logs">&e;</wodle>\n')
        rc, out, err = self.run_config(self.path)
        self.assertEqual((rc, out), (1, ""))
        self.assertRegex(err, re.escape(self.path) + r":1: not well-formed XML")

    def test_no_wodle(self):
        self.write("<ossec_config>\n<wodle name=\"aws-s3\"/>\n</ossec_config>\n")
        rc, out, err = self.run_config(self.path)
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(self.logs(err), [
            ("ERROR", '%s:3: no <wodle name="azure-logs"> block' % self.path)])

    def test_missing_file(self):
        missing = os.path.join(self.dir, "nope.conf")
        rc, out, err = self.run_config(missing)
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(self.logs(err), [
            ("ERROR", "cannot open %s: No such file or directory" % missing)])

    def test_too_large(self):
        big = "<wodle name=\"azure-logs\"/><!--" + "x" * (16 << 20) + "-->"
        rc, out, err = self.run_config("-", stdin=big.encode())
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(self.logs(err), [("ERROR", "stdin: larger than 16 MiB: refused")])

    def test_bounds(self):
        """At most 10000 requests; at most 64 MiB of lines (every request
        repeats the settings it inherits): beyond, exit 1, nothing out."""
        reqs = "<request><query>q</query></request>\n" * 10001
        self.write('<wodle name="azure-logs">\n' + graph_block(reqs) + "</wodle>\n")
        rc, out, err = self.run_config(self.path)
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(self.logs(err), [
            ("ERROR", "%s:10005: more than 10000 requests and containers" % self.path)])
        urls = " ".join('%s="https://%s/"' % (a, "h" * 4000) for a in
                        ("login-url", "graph-url", "la-url", "blob-url", "identity-url"))
        reqs = "<request><query>q</query></request>\n" * 4000
        self.write('<wodle name="azure-logs" %s>\n' % urls + graph_block(reqs) + "</wodle>\n")
        rc, out, err = self.run_config(self.path)
        self.assertEqual((rc, out), (1, ""))
        self.assertRegex(err, r"azure: ERROR: %s:\d+: the requests take more than 64 MiB\n$"
                         % re.escape(self.path))
        # the same requests, fewer: all of them out
        reqs = "<request><query>q</query></request>\n" * 1000
        self.write('<wodle name="azure-logs" %s>\n' % urls + graph_block(reqs) + "</wodle>\n")
        rc, out, err = self.run_config(self.path)
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out.count("\n"), 1000)

    def test_usage(self):
        rc, out, err = self.run_config("--help")
        self.assertEqual(rc, 0)
        self.assertIn("usage: azure-config [-d N] [--user NAME] FILE|-", out)
        for args in ([], ["a", "b"], ["-d", "3", "x"], ["--bogus", "x"]):
            rc, out, err = self.run_config(*args)
            self.assertEqual((rc, out), (100, ""), args)
            self.assertIn("(try --help)", err)

    def test_debug_levels(self):
        self.write('<wodle name="azure-logs">\n'
                   + graph_block("<request><query>q</query><tag>t</tag></request>\n")
                   + "</wodle>\n")
        rc, _, err = self.run_config(self.path)
        self.assertEqual((rc, err), (0, ""))
        rc, _, err = self.run_config("-d", "1", self.path)
        self.assertEqual({lv for lv, _ in self.logs(err)}, {"INFO"})
        rc, _, err = self.run_config("-d", "2", self.path)
        self.assertIn(("DEBUG", "%s:5: <query>" % self.path), self.logs(err))

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_user_reads_then_drops(self):
        """As root, --user reads the file (root's, 0600) first, then parses as
        the user; a root name is refused."""
        user = "nobody"
        pwd.getpwnam(user)
        self.write('<wodle name="azure-logs">\n'
                   + graph_block("<request><query>q</query><tag>t</tag></request>\n")
                   + "</wodle>\n", mode=0o600)
        rc, out, err = self.run_config("-d", "2", "--user", user, self.path)
        self.assertEqual(rc, 0, err)
        self.assertIn("'--graph_query' 'q'", out)
        logs = self.logs(err)
        uid = pwd.getpwnam(user).pw_uid
        self.assertIn(("DEBUG", "running as %s (uid %d, gid %d)"
                       % (user, uid, pwd.getpwnam(user).pw_gid)), logs)
        # the parse happened after the drop
        self.assertLess(logs.index(next(l for l in logs if l[1].startswith("running as"))),
                        logs.index(("DEBUG", "%s:5: <query>" % self.path)))
        rc, out, err = self.run_config("--user", "root", self.path)
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("refusing to run as root", err)
        # started as another user, NAME must be that user
        gid = pwd.getpwnam(user).pw_gid
        as_user = ["setpriv", "--reuid", str(uid), "--regid", str(gid), "--clear-groups",
                   CONFIG, "--user"]
        p = subprocess.run(as_user + ["daemon", "-"], capture_output=True,
                           input=b"<wodle name='azure-logs'/>")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"cannot run as daemon: only root can change user", p.stderr)
        p = subprocess.run(as_user + [user, "-"], capture_output=True,
                           input=b"<wodle name='azure-logs'/>")
        self.assertEqual((p.returncode, p.stdout), (0, b""), p.stderr)


if __name__ == "__main__":
    unittest.main()
