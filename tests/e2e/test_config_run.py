"""End-to-end: scripts/azure-logs --config OSSEC.CONF with the real roles:
several <wodle name="azure-logs"> requests (Graph and Log Analytics against
the mock, Storage against Azurite) run in one launch; the texts of the
configuration reach the services intact (quotes, spaces, newlines, over
1024 characters, which Wazuh's command line would mangle); invalid blocks
are skipped with their line while the rest runs; --stats-json describes
every request."""

import base64
import datetime
import grp
import json
import os
import stat
import subprocess
import unittest
import unittest.mock
from xml.sax.saxutils import escape, quoteattr

from harness import (LAUNCHER, PRIVSEP_OFF, TENANT, TOP, LoopbackProxy, PipelineTest,
                     StorageTest,
                     add_system_user, fetcher_argv, gen_graph, iso, md5, storage_payload,
                     user_exists, utcnow, wazuh_payload, without_privsep_warning)

import gen_la  # tests/mock, on the path through harness

H = datetime.timedelta(hours=1)
SIGNINS = "auditLogs/signIns"
AUDITS = "auditLogs/directoryAudits"


def la_key(query, workspace):
    return md5("query=%s|workspace=%s" % (query, workspace))


def la_event(columns, row, tag):
    event = {c["name"]: cell for c, cell in zip(columns, row)}
    event["azure_tag"] = "azure-log-analytics"
    event["log_analytics_tag"] = tag
    return json.dumps(event).encode()


# A KQL query as an administrator writes it in ossec.conf: several lines,
# ' and " quoted strings with spaces, a \! (which Wazuh's command line
# cleaning would turn into !), well over Wazuh's 1024 characters.
NAMES = ", ".join('"nobody %d \'quoted\' \\"x\\""' % i for i in range(40))
LONG_QUERY = ("SigninLogs\n          | where UserPrincipalName !in (%s)\n"
              "          | where AppDisplayName != 'no \"such\" app'\n"
              "          | where AppDisplayName != @\"C:\\!dir\\\"" % NAMES)


def line_of(text, needle):
    """1-based line of the first occurrence of needle in text."""
    return text[:text.index(needle)].count("\n") + 1


class ConfigRun(PipelineTest):
    page_size = 100

    def setUp(self):
        now = utcnow()
        self.signins = gen_graph.gen_signins(
            120, iso(now - 20 * H), iso(now - datetime.timedelta(minutes=3)), seed=1)
        self.audits = gen_graph.gen_directory_audits(
            60, iso(now - 5 * H), iso(now - H), seed=7)
        self.events = {SIGNINS: self.signins, AUDITS: self.audits}
        self.la = gen_la.gen_rows("SigninLogs", 150, iso(now - 10 * H),
                                  iso(now - datetime.timedelta(minutes=5)), 3)
        self.workspaces = {"ws-one": {"tables": {"SigninLogs": self.la}}}
        super().setUp()
        self.stats = os.path.join(self.home, "stats", "azure-stats.json")
        os.makedirs(os.path.dirname(self.stats))

    def write_conf(self, body):
        """An ossec.conf with Wazuh's own sections around our wodle(s)."""
        text = ('<?xml version="1.0"?>\n<!-- Wazuh - Manager -->\n<ossec_config>\n'
                '  <global>\n    <jsonout_output>yes</jsonout_output>\n  </global>\n'
                '</ossec_config>\n\n<ossec_config>\n%s</ossec_config>\n' % body)
        path = os.path.join(self.home, "ossec.conf")
        with open(path, "w") as f:
            f.write(text)
        return path, text

    def wodle_attrs(self, extra=""):
        return ('login-url=%s graph-url=%s la-url=%s db=%s stats-json=%s%s' % (
            quoteattr(self.mock.url), quoteattr(self.mock.url),
            quoteattr(self.mock.url), quoteattr(self.db), quoteattr(self.stats),
            extra))

    def run_config(self, conf, extra=(), debug="1", timeout=120):
        argv = [LAUNCHER] + PRIVSEP_OFF + ["--config", conf, "--wazuh-home",
                                           self.home, "-d", debug] + list(extra)
        return self.run_argv(argv, timeout)

    def read_stats(self):
        with open(self.stats) as f:
            data = json.load(f)
        self.assertEqual(list(data), ["requests"])
        return data["requests"]

    def test_every_request_runs_texts_intact_invalid_skipped(self):
        auth = self.auth
        body = '''  <wodle name="azure-logs" %s>
    <disabled>no</disabled>
    <interval>5m</interval>
    <run_on_start>yes</run_on_start>
    <graph>
      <auth_path>%s</auth_path>
      <tenantdomain>%s</tenantdomain>
      <request>
        <tag>sign ins</tag>
        <query>%s</query>
        <time_offset>1d</time_offset>
      </request>
      <request>
        <tag>no query here</tag>
        <time_offset>1d</time_offset>
      </request>
      <request>
        <tag>audits</tag>
        <query>%s</query>
        <time_offset>1d</time_offset>
      </request>
    </graph>
    <log_analytics>
      <auth_path>%s</auth_path>
      <tenantdomain>%s</tenantdomain>
      <request>
        <tag>la long</tag>
        <query>%s</query>
        <workspace>ws-one</workspace>
        <time_offset>1d</time_offset>
      </request>
      <request>
        <tag>la without workspace</tag>
        <query>SigninLogs</query>
      </request>
    </log_analytics>
  </wodle>
  <wodle name="azure-logs">
    <disabled>yes</disabled>
    <graph>
      <auth_path>/nonexistent</auth_path>
      <tenantdomain>disabled.example</tenantdomain>
      <request><query>auditLogs/provisioning</query></request>
    </graph>
  </wodle>
''' % (self.wodle_attrs(' jobs="2"'), escape(auth), TENANT, SIGNINS, AUDITS,
       escape(auth), TENANT, escape(LONG_QUERY))
        conf, text = self.write_conf(body)
        self.assertGreater(len(LONG_QUERY), 1024)
        rc, got = self.run_config(conf)
        self.assertEqual(rc, 0, self.last_stderr)

        # Two requests skipped, each named by its line; the rest ran.
        bad_graph = line_of(text, "<tag>no query here</tag>") - 1
        bad_la = line_of(text, "<tag>la without workspace</tag>") - 1
        errors = [l for l in self.last_stderr.splitlines() if " azure: ERROR: " in l]
        self.assertEqual(len(errors), 2, self.last_stderr)
        self.assertIn(" azure: ERROR: %s:%d: " % (conf, bad_graph), errors[0])
        self.assertIn("the <request> is skipped", errors[0])
        self.assertIn(" azure: ERROR: %s:%d: " % (conf, bad_la), errors[1])
        self.assertNotIn("provisioning", self.last_stderr)  # disabled block

        want = sorted([wazuh_payload(i, "sign ins") for i in self.signins] +
                      [wazuh_payload(i, "audits") for i in self.audits] +
                      [la_event(self.la["columns"], r, "la long") for r in self.la["rows"]])
        self.assertEqual(sorted(self.payloads(got)), want)

        # The long query arrived intact: the service ran it, and its
        # checkpoint is keyed by it (md5("query=...|workspace=...")).
        la_reqs = [r for r in self.mock.requests() if r["path"].startswith("/v1/workspaces/")]
        self.assertTrue(la_reqs)
        for r in la_reqs:
            self.assertTrue(r["query_text"].startswith(LONG_QUERY), r["query_text"][:200])
        row = self.row("log_analytics", la_key(LONG_QUERY, "ws-one"))
        self.assertIsNotNone(row)
        self.assertEqual(row[1], LONG_QUERY)
        self.assertIsNotNone(self.row("graph", md5(SIGNINS)))
        self.assertIsNotNone(self.row("graph", md5(AUDITS)))

        # --stats-json (a <wodle> attribute): one object per request run,
        # in the file's order, the texts intact; mode 0640.
        self.assertEqual(stat.S_IMODE(os.stat(self.stats).st_mode), 0o640)
        reqs = self.read_stats()
        self.assertEqual([(r["service"], r["query"], r["workspace"], r["tag"], r["status"])
                          for r in reqs],
                         [("graph", SIGNINS, None, "sign ins", "ok"),
                          ("graph", AUDITS, None, "audits", "ok"),
                          ("log_analytics", LONG_QUERY, "ws-one", "la long", "ok")])
        self.assertEqual([r["delivered"] for r in reqs],
                         [len(self.signins), len(self.audits), len(self.la["rows"])])
        for r in reqs:
            self.assertEqual(r["error"], "")
            self.assertIsNone(r["container"])
        self.assertEqual(os.listdir(os.path.dirname(self.stats)), ["azure-stats.json"])

        # Again: nothing new, every checkpoint kept.
        rc, got = self.run_config(conf)
        self.assertEqual((rc, got), (0, []), self.last_stderr)
        self.assertEqual(self.row("log_analytics", la_key(LONG_QUERY, "ws-one")), row)
        self.assertEqual([r["delivered"] for r in self.read_stats()], [0, 0, 0])

    def test_command_line_overrides_the_configuration(self):
        """Global attributes are defaults: --output on the command line
        wins over the socket the <wodle> names, --stats-json over its
        stats-json."""
        other = os.path.join(self.home, "other-stats.json")
        body = '''  <wodle name="azure-logs" %s socket="/nonexistent/queue">
    <graph>
      <auth_path>%s</auth_path>
      <tenantdomain>%s</tenantdomain>
      <request><tag>t</tag><query>%s</query><time_offset>1d</time_offset></request>
    </graph>
  </wodle>
''' % (self.wodle_attrs(), escape(self.auth), TENANT, AUDITS)
        conf, _ = self.write_conf(body)
        out = os.path.join(self.home, "events.out")
        rc, got = self.run_config(conf, ["--output", out, "--stats-json", other])
        self.assertEqual((rc, got), (0, []), self.last_stderr)
        with open(out, "rb") as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), len(self.audits))
        self.assertFalse(os.path.exists(self.stats))
        with open(other) as f:
            self.assertEqual(json.load(f)["requests"][0]["delivered"], len(self.audits))

    def test_values_starting_with_a_dash(self):
        """azure-config's words are (option, value) pairs: a <tag> or a
        <query> starting with '-' is the value, not an option (argparse
        would take it for one and skip the request)."""
        body = '''  <wodle name="azure-logs" %s>
    <graph>
      <auth_path>%s</auth_path>
      <tenantdomain>%s</tenantdomain>
      <request><tag>-prod</tag><query>%s</query><time_offset>1d</time_offset></request>
      <request><tag>--x</tag><query>-x</query><time_offset>1d</time_offset></request>
    </graph>
  </wodle>
''' % (self.wodle_attrs(), escape(self.auth), TENANT, AUDITS)
        conf, _ = self.write_conf(body)
        rc, got = self.run_config(conf)
        self.assertNotIn("expected one argument", self.last_stderr)
        self.assertIn("2 request(s) from 1 azure-logs wodle(s), 0 skipped", self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i, "-prod") for i in self.audits))
        # The query '-x' reached the service (which has no such resource).
        paths = [r["path"] for r in self.mock.requests()]
        self.assertIn("/v1.0/-x", paths)
        self.assertEqual(rc, 1, self.last_stderr)
        prod, dash = self.read_stats()
        self.assertEqual((prod["tag"], prod["query"], prod["status"]),
                         ("-prod", AUDITS, "ok"))
        self.assertEqual((dash["tag"], dash["query"], dash["status"]),
                         ("--x", "-x", "error"))

    def test_failing_request_is_reported_in_stats(self):
        """A request whose fetcher fails (an unknown application) fails the
        run (exit 1) while the other is delivered; the stats say which."""
        bad = self.write_auth("bad-auth", "99999999-0000-0000-0000-000000000000", "x")
        body = '''  <wodle name="azure-logs" %s>
    <graph>
      <auth_path>%s</auth_path>
      <tenantdomain>%s</tenantdomain>
      <request><tag>good</tag><query>%s</query><time_offset>1d</time_offset></request>
    </graph>
    <graph>
      <auth_path>%s</auth_path>
      <tenantdomain>%s</tenantdomain>
      <request><tag>bad "one"
tag</tag><query>%s</query><time_offset>1d</time_offset></request>
    </graph>
  </wodle>
''' % (self.wodle_attrs(), escape(self.auth), TENANT, AUDITS, escape(bad), TENANT,
       SIGNINS)
        conf, _ = self.write_conf(body)
        rc, got = self.run_config(conf)
        self.assertEqual(rc, 1, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i, "good") for i in self.audits))
        self.assertIsNotNone(self.row("graph", md5(AUDITS)))
        self.assertIsNone(self.row("graph", md5(SIGNINS)))
        good, failed = self.read_stats()
        self.assertEqual((good["status"], good["delivered"]), ("ok", len(self.audits)))
        self.assertEqual((failed["service"], failed["query"], failed["status"]),
                         ("graph", SIGNINS, "error"))
        self.assertEqual(failed["tag"], 'bad "one"\ntag')
        self.assertNotEqual(failed["error"], "")
        self.assertEqual(failed["delivered"], 0)

    def test_proxy_with_a_password(self):
        """A proxy attribute holding a password: every request of the run
        goes through it, yet the password is on no role's command line
        (AZURE_LOGS_WRAPPER records them) and in no log, even at -d 2."""
        proxy = LoopbackProxy()
        self.addCleanup(proxy.close)
        url = "http://proxyuser:Pr0xy-pa55word@127.0.0.1:%d" % proxy.port
        body = '''  <wodle name="azure-logs" %s>
    <graph proxy=%s>
      <auth_path>%s</auth_path>
      <tenantdomain>%s</tenantdomain>
      <request><tag>a</tag><query>%s</query><time_offset>1d</time_offset></request>
      <request><tag>b</tag><query>%s</query><time_offset>1d</time_offset></request>
    </graph>
  </wodle>
''' % (self.wodle_attrs(), quoteattr(url), escape(self.auth), TENANT, SIGNINS, AUDITS)
        conf, _ = self.write_conf(body)
        argv_log = os.path.join(self.home, "argv.log")
        wrapper = os.path.join(self.home, "wrapper")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nprintf "%%s\\n" "$*" >>%s\nexec "$@"\n' % argv_log)
        os.chmod(wrapper, 0o755)
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
        env["AZURE_LOGS_WRAPPER"] = wrapper
        with unittest.mock.patch.dict(os.environ, env, clear=True):
            rc, got = self.run_config(conf, debug="2")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted([wazuh_payload(i, "a") for i in self.signins] +
                                [wazuh_payload(i, "b") for i in self.audits]))
        served = self.mock.requests()
        self.assertTrue(served)
        self.assertEqual(len(proxy.targets()), len(served))
        want = "Basic " + base64.b64encode(b"proxyuser:Pr0xy-pa55word").decode()
        self.assertEqual({a for _, _, a in proxy.seen}, {want})
        self.assertNotIn("Pr0xy-pa55word", self.last_stderr)
        with open(argv_log) as f:
            argvs = f.read()
        self.assertEqual(argvs.count("azure-graph "), 2, argvs)
        self.assertNotIn("Pr0xy-pa55word", argvs)

    def test_bad_proxy_with_a_password(self):
        """A proxy the fetcher cannot use (a bad scheme), with a password
        (holding a '/'): the request fails, and the password is in no
        message nor in the stats, the error saying what is wrong."""
        body = '''  <wodle name="azure-logs" %s>
    <graph proxy="htp://user:S3CRET/PW@proxy.example:3128">
      <auth_path>%s</auth_path>
      <tenantdomain>%s</tenantdomain>
      <request><tag>a</tag><query>%s</query><time_offset>1d</time_offset></request>
    </graph>
  </wodle>
''' % (self.wodle_attrs(), escape(self.auth), TENANT, AUDITS)
        conf, _ = self.write_conf(body)
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
        with unittest.mock.patch.dict(os.environ, env, clear=True):
            rc, got = self.run_config(conf, debug="2")
        self.assertEqual((rc, got), (1, []), self.last_stderr)
        self.assertNotIn("S3CRET", self.last_stderr)
        self.assertIn('"htp://user:***@proxy.example:3128" must start with http://',
                      self.last_stderr)
        with open(self.stats) as f:
            stats = f.read()
        self.assertNotIn("S3CRET", stats)
        req, = json.loads(stats)["requests"]
        self.assertEqual(req["status"], "error")
        self.assertIn("must start with http://", req["error"])

    def test_overlap_over_the_statekeepers_limit(self):
        """An overlap over 3660 days (which the statekeeper would refuse as
        a protocol error): the fetcher refuses it as a usage error (exit
        100) with a clear message; 3660 days is accepted."""
        argv = fetcher_argv("azure-graph", self.auth, self.mock.url,
                            extra=["--overlap", "3661d"])
        p = subprocess.run(argv, capture_output=True, timeout=60)
        self.assertEqual((p.returncode, p.stdout), (100, b""))
        self.assertIn(b"--overlap 3661d: more than 3660 days", p.stderr)
        self.assertEqual(self.mock.requests(), [])
        argv[-1] = "3660d"
        p = subprocess.run(argv, capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_config_errors(self):
        # Not well-formed: azure-config's error (with the file and line)
        # as it is, exit 1, nothing started.
        path = os.path.join(self.home, "broken.conf")
        with open(path, "w") as f:
            f.write('<ossec_config>\n  <wodle name="azure-logs">\n</ossec_config>\n')
        rc, got = self.run_config(path)
        self.assertEqual((rc, got), (1, []))
        self.assertIn(path + ":", self.last_stderr)
        self.assertFalse(os.path.exists(self.db))

        # Every request invalid: each reported, then no request: exit 1.
        body = '''  <wodle name="azure-logs" %s>
    <graph>
      <auth_path>%s</auth_path>
      <tenantdomain>%s</tenantdomain>
      <request><tag>x</tag></request>
    </graph>
  </wodle>
''' % (self.wodle_attrs(), escape(self.auth), TENANT)
        conf, _ = self.write_conf(body)
        rc, got = self.run_config(conf)
        self.assertEqual((rc, got), (1, []))
        self.assertIn("No request to run in %s." % conf, self.last_stderr)
        self.assertFalse(os.path.exists(self.db))

        # A missing file.
        rc, got = self.run_config(os.path.join(self.home, "missing.conf"))
        self.assertEqual((rc, got), (1, []))
        self.assertIn("Cannot read the configuration file", self.last_stderr)

    def test_check_checks_every_request(self):
        bad = self.write_auth("bad-auth", "99999999-0000-0000-0000-000000000000", "x")
        body = '''  <wodle name="azure-logs" %s>
    <graph>
      <auth_path>%s</auth_path>
      <tenantdomain>%s</tenantdomain>
      <request><tag>a</tag><query>%s</query></request>
      <request><tag>b</tag><query>%s</query></request>
    </graph>
  </wodle>
''' % (self.wodle_attrs(), escape(self.auth), TENANT, SIGNINS, AUDITS)
        conf, text = self.write_conf(body)
        p = subprocess.run([LAUNCHER] + PRIVSEP_OFF + ["--config", conf, "--check",
                            "--wazuh-home", self.home], capture_output=True, timeout=60)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        self.assertIn("request 1, %s:%d: azure-graph" % (conf, line_of(text, "<tag>a<") ), out)
        self.assertIn("request 2, %s:%d: azure-graph" % (conf, line_of(text, "<tag>b<")), out)
        self.assertTrue(out.rstrip().endswith("azure-logs --check: ready"), out)
        self.assertEqual(self.sink.take(), [])

        conf, _ = self.write_conf(body.replace(escape(self.auth), escape(bad), 1))
        p = subprocess.run([LAUNCHER] + PRIVSEP_OFF + ["--config", conf, "--check",
                            "--wazuh-home", self.home], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("NOT READY", p.stdout.decode())


@unittest.skipUnless(os.geteuid() == 0, "privilege separation needs root")
class PrivsepConfig(PipelineTest):
    """Started as root, as wazuh-modulesd starts it: an ossec.conf only
    root may read, two requests at once (their FIFOs in root's private
    directory, opened by the statekeeper before it drops root), each role
    as its own user."""

    created = []

    @classmethod
    def setUpClass(cls):
        missing = [u for u in ("azure-logs-fetch", "azure-logs-state") if not user_exists(u)]
        p = subprocess.run([os.path.join(TOP, "scripts", "azure-logs-users")],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("azure-logs-users: " + p.stderr)
        cls.created = missing
        if not user_exists("wazuh"):
            add_system_user("wazuh")
            cls.created.append("wazuh")

    @classmethod
    def tearDownClass(cls):
        for u in cls.created:
            subprocess.run(["userdel", u], capture_output=True)
            subprocess.run(["groupdel", u], capture_output=True)

    def setUp(self):
        now = utcnow()
        self.signins = gen_graph.gen_signins(80, iso(now - 5 * H), iso(now - 2 * H), seed=4)
        self.audits = gen_graph.gen_directory_audits(50, iso(now - 5 * H), iso(now - H),
                                                     seed=5)
        self.events = {SIGNINS: self.signins, AUDITS: self.audits}
        super().setUp()
        gid = grp.getgrnam("wazuh").gr_gid
        sock = self.sink.path
        for d in (self.home, os.path.join(self.home, "wodles"),
                  os.path.join(self.home, "wodles", "azure"),
                  os.path.join(self.home, "queue"), os.path.dirname(sock)):
            os.chown(d, 0, gid)
            os.chmod(d, 0o750)
        os.chown(sock, 0, gid)
        os.chmod(sock, 0o660)
        self.db = os.path.join(self.home, "wodles", "azure", "state", "azure.db")

    def test_config_as_root(self):
        stats = os.path.join(self.home, "wodles", "azure", "stats.json")
        conf = os.path.join(self.home, "ossec.conf")
        with open(os.open(conf, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write('''<ossec_config>
  <wodle name="azure-logs" login-url=%s graph-url=%s stats-json=%s>
    <graph>
      <auth_path>%s</auth_path>
      <tenantdomain>%s</tenantdomain>
      <request><tag>a</tag><query>%s</query><time_offset>1d</time_offset></request>
      <request><tag>b</tag><query>%s</query><time_offset>1d</time_offset></request>
    </graph>
  </wodle>
</ossec_config>
''' % (quoteattr(self.mock.url), quoteattr(self.mock.url), quoteattr(stats),
                escape(self.auth), TENANT, SIGNINS, AUDITS))
        p = subprocess.run([LAUNCHER, "--config", conf, "--wazuh-home", self.home,
                            "-d", "2"], capture_output=True, timeout=120)
        err = p.stderr.decode(errors="replace")
        self.assertNotIn(self.secret, err)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("azure: DEBUG: running as azure-logs-fetch", err)
        self.assertIn("azure: DEBUG: running as azure-logs-state", err)
        got = self.sink.take()
        self.assertEqual(sorted(self.payloads(got)),
                         sorted([wazuh_payload(i, "a") for i in self.signins] +
                                [wazuh_payload(i, "b") for i in self.audits]))
        self.assertIsNotNone(self.row("graph", md5(SIGNINS)))
        self.assertIsNotNone(self.row("graph", md5(AUDITS)))
        with open(stats) as f:
            reqs = json.load(f)["requests"]
        self.assertEqual([(r["tag"], r["status"], r["delivered"]) for r in reqs],
                         [("a", "ok", len(self.signins)), ("b", "ok", len(self.audits))])


class StorageConfig(StorageTest):
    """<storage> containers of the configuration, against Azurite."""

    @classmethod
    def setUpClass(cls):
        StorageTest.start_azurite()

    @classmethod
    def tearDownClass(cls):
        StorageTest.stop_azurite()

    def test_containers_of_the_configuration(self):
        c1 = self.container("one")
        c2 = self.container("two")
        lines1 = ["first line %d with \"quotes\"" % i for i in range(30)]
        lines2 = ['{"n": %d, "s": "x y"}' % i for i in range(20)]
        self.blob.put_block_blob(c1, "dir/a.log", ("\n".join(lines1) + "\n").encode())
        self.blob.put_block_blob(c1, "dir/skip.txt", b"not this one\n")
        self.blob.put_block_blob(c2, "b.json", ("\n".join(lines2) + "\n").encode())
        stats = os.path.join(self.home, "stats.json")
        text = '''<ossec_config>
  <wodle name="azure-logs" blob-url=%s stats-json=%s>
    <storage>
      <auth_path>%s</auth_path>
      <tag>diag</tag>
      <container name="%s">
        <blobs>.log</blobs>
        <time_offset>1h</time_offset>
      </container>
      <container name="%s">
        <content_type>json_inline</content_type>
        <time_offset>1h</time_offset>
      </container>
    </storage>
  </wodle>
</ossec_config>
''' % (quoteattr(self.server.url), quoteattr(stats), escape(self.auth), c1, c2)
        conf = os.path.join(self.home, "ossec.conf")
        with open(conf, "w") as f:
            f.write(text)
        argv = [LAUNCHER] + PRIVSEP_OFF + ["--config", conf, "--wazuh-home", self.home,
                                           "-d", "1"]
        p = subprocess.run(argv, capture_output=True, timeout=120)
        err = without_privsep_warning(p.stderr.decode(errors="replace"))
        for s in self.secrets:
            self.assertNotIn(s, err)
        self.assertEqual(p.returncode, 0, err)
        got = self.payloads(self.sink.take())
        want = ([storage_payload(l, "diag") for l in lines1] +
                [storage_payload(l, "diag", json_inline=True) for l in lines2])
        self.assertEqual(sorted(got), sorted(want))
        self.assertIsNotNone(self.storage_row(c1))
        self.assertIsNotNone(self.storage_row(c2))
        with open(stats) as f:
            reqs = json.load(f)["requests"]
        self.assertEqual([(r["service"], r["container"], r["query"], r["tag"], r["status"],
                           r["delivered"]) for r in reqs],
                         [("storage", c1, None, "diag", "ok", 30),
                          ("storage", c2, None, "diag", "ok", 20)])


if __name__ == "__main__":
    unittest.main()
