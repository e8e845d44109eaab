"""End-to-end: scripts/azure-logs --graph against the mock Microsoft, with
the real roles, a real azure.db and a real datagram socket."""

import datetime
import json
import os
import sqlite3
import unittest

from harness import (CLIENT, PipelineTest, gen_graph, iso, md5, utcnow,
                     wazuh_payload)

H = datetime.timedelta(hours=1)
SIGNINS = "auditLogs/signIns"


def signins(count, start, end, seed):
    return gen_graph.gen_signins(count, iso(start), iso(end), seed=seed)


class FirstRuns(PipelineTest):
    page_size = 100

    def setUp(self):
        now = utcnow()
        # 350 in the 1-day window (4 pages), 40 older than it.
        self.inside = signins(350, now - 20 * H, now - datetime.timedelta(minutes=2), 1)
        self.outside = signins(40, now - 60 * H, now - 30 * H, 2)
        self.events = {SIGNINS: self.inside + self.outside}
        super().setUp()

    def test_window_then_nothing_then_new_once(self):
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        want = sorted(wazuh_payload(i) for i in self.inside)
        self.assertEqual(sorted(self.payloads(got)), want)
        pages = [r for r in self.mock.requests() if r["path"].lower().startswith("/v1.0/")]
        self.assertGreaterEqual(len(pages), 4)

        # The row is what Wazuh would hold: min from the new row (now - 1d,
        # 6 digits), max the newest event's raw 7-digit string.
        key = md5(SIGNINS)
        row = self.row("graph", key)
        self.assertEqual(row[0], key)
        self.assertEqual(row[1], SIGNINS)
        self.assertRegex(row[2], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        newest = max(i["createdDateTime"] for i in self.inside)
        self.assertEqual(row[3], newest)

        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(got, [])
        self.assertEqual(self.row("graph", key), row)

        # New events, older than the default --lag of 1 minute.
        now = utcnow()
        new = signins(5, now - datetime.timedelta(seconds=110), now - datetime.timedelta(seconds=70), 3)
        self.add_events(SIGNINS, new)
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)), sorted(wazuh_payload(i) for i in new))
        self.assertEqual(self.row("graph", key)[3], max(i["createdDateTime"] for i in new))

        rc, got = self.run_launcher()
        self.assertEqual((rc, got), (0, []))

    def test_tag_and_query_cleaning(self):
        rc, got = self.run_launcher(query="'auditLogs/signIns'", extra=["--graph_tag", "prod tenant"])
        self.assertEqual(rc, 0, self.last_stderr)
        want = sorted(wazuh_payload(i, "prod tenant") for i in self.inside)
        self.assertEqual(sorted(self.payloads(got)), want)

    def test_throttled_page_is_retried(self):
        self.mock.control("fail", {"match": "skiptoken", "status": 429, "retry_after": "1", "count": 2})
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(got), len(self.inside))
        self.assertIn("HTTP 429", self.last_stderr)

    def test_refused_token_is_renewed_once(self):
        self.mock.control("fail", {"match": "skiptoken", "status": 401, "count": 1})
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(got), len(self.inside))
        self.assertEqual(len(self.mock.control("tokens")), 2)

    def test_failed_page_keeps_checkpoint(self):
        self.mock.control("fail", {"match": "skiptoken", "status": 500, "count": 50})
        rc, first = self.run_launcher()
        self.assertNotEqual(rc, 0)
        self.assertGreater(len(first), 0, "the first page was not delivered")
        key = md5(SIGNINS)
        row = self.row("graph", key)
        self.assertEqual(row[2], row[3], "the checkpoint moved past a failed page")
        self.mock.control("clear-fail")
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        # The run after the failure delivers the rest of the window, and
        # nothing the failed run had delivered.
        self.assertEqual(sorted(self.payloads(first) + self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.inside))

    def test_reparse_sends_window_again(self):
        rc, first = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        rc, again = self.run_launcher(extra=["--reparse"])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(again), sorted(first))


class EmptyPages(PipelineTest):
    """Empty pages with a nextLink between full ones, and a last empty page:
    paging goes on until nextLink is absent."""
    page_size = 50
    mock_extra = {"empty_pages": True, "empty_last_page": True}

    def setUp(self):
        now = utcnow()
        self.items = signins(170, now - 5 * H, now - H, 21)
        self.events = {SIGNINS: self.items}
        super().setUp()

    def test_all_pages_followed(self):
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.items))
        self.assertIn("There are no new results", self.last_stderr)
        self.assertEqual(self.row("graph", md5(SIGNINS))[3],
                         max(i["createdDateTime"] for i in self.items))


class DirectoryAudits(PipelineTest):
    def setUp(self):
        now = utcnow()
        self.items = gen_graph.gen_directory_audits(120, iso(now - 5 * H), iso(now - H), seed=7)
        self.events = {"auditLogs/directoryAudits": self.items}
        super().setUp()

    def test_payloads_match_wazuh(self):
        rc, got = self.run_launcher(query="'auditLogs/directoryAudits'")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.items))
        # The filter field for anything but sign-ins is activityDateTime.
        q = [r["query"] for r in self.mock.requests() if "directoryaudits" in r["path"].lower()]
        self.assertIn("activityDateTime", q[0])
        stripped = [json.loads(p) for p in self.payloads(got)]
        self.assertTrue(any("app" not in (p.get("initiatedBy") or {}) for p in stripped))


class Errors(PipelineTest):
    events = {}

    def test_bad_secret(self):
        auth = self.write_auth("bad", CLIENT, "wrong-secret")
        rc, got = self.run_launcher(auth=auth)
        self.assertEqual(rc, 1)
        self.assertIn("azure: ERROR: Error: The application key provided is not valid.",
                      self.last_stderr)
        self.assertEqual(got, [])
        self.assertIsNone(self.row("graph", md5(SIGNINS)))

    def test_unknown_application(self):
        auth = self.write_auth("bad", "00000000-0000-0000-0000-000000000000", self.secret)
        rc, _ = self.run_launcher(auth=auth)
        self.assertEqual(rc, 1)
        self.assertIn("The application id provided is not valid.", self.last_stderr)

    def test_unknown_tenant(self):
        p = self.run_launcher_tenant("nope.example")
        self.assertEqual(p, 1)
        self.assertIn('The "nope.example" tenant domain was not found.', self.last_stderr)

    def run_launcher_tenant(self, tenant):
        rc, _ = self.launch(["--graph", "--graph_auth_path", self.auth,
                             "--graph_tenant_domain", tenant, "--graph_query", SIGNINS,
                             "--graph-url", self.mock.url], "0", 60)
        return rc

    def test_bad_offset(self):
        rc, _ = self.run_launcher(offset="3w")
        self.assertEqual(rc, 1)
        self.assertIn('azure: ERROR: Invalid offset format. Use "h", "m" or "d" time unit.',
                      self.last_stderr)

    def test_group_readable_auth_file(self):
        auth = self.write_auth("open", CLIENT, self.secret, mode=0o644)
        rc, _ = self.run_launcher(auth=auth)
        self.assertEqual(rc, 1)
        self.assertIn("chmod 600", self.last_stderr)
        self.assertEqual(self.mock.control("tokens"), [])

    def test_malformed_auth_file(self):
        path = os.path.join(self.home, "malformed")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("application_id = x\n\napplication_key = y\n")
        rc, _ = self.run_launcher(auth=path)
        self.assertEqual(rc, 1)
        self.assertIn("The authentication file format is not valid.", self.last_stderr)

    def test_http_endpoint_must_be_loopback(self):
        rc, _ = self.run_launcher(extra=["--graph-url", "http://graph.example.com"])
        self.assertEqual(rc, 1)
        self.assertIn("only", self.last_stderr)

    def test_corrupt_database(self):
        with open(self.db, "wb") as f:
            f.write(b"this is not a database" * 100)
        rc, _ = self.run_launcher()
        self.assertEqual(rc, 1)
        self.assertRegex(self.last_stderr, r"corrupt|not a database")
        with open(self.db, "rb") as f:
            self.assertTrue(f.read().startswith(b"this is not"))


class Migration(PipelineTest):
    def setUp(self):
        now = utcnow()
        self.items = signins(30, now - 3 * H, now - H, 11)
        self.events = {SIGNINS: self.items}
        super().setUp()

    def test_last_dates_migrated_and_removed(self):
        other = md5("auditLogs/directoryAudits")
        ld = os.path.join(self.home, "wodles", "azure", "last_dates.json")
        with open(ld, "w") as f:
            json.dump({"log_analytics": {"a" * 32: {"min": "0", "max": "2022-03-04T15:12:56.98Z"}},
                       "graph": {other: "2019-08-01 15:49:13.171231+00:00"},
                       "storage": {}}, f)
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertFalse(os.path.exists(ld))
        self.assertEqual(self.row("graph", other),
                         (other, "", "1970-01-01T00:00:00.000000Z", "2019-08-01T15:49:13.171231Z"))
        self.assertEqual(self.row("log_analytics", "a" * 32)[2:],
                         ("1970-01-01T00:00:00.000000Z", "2022-03-04T15:12:56.980000Z"))
        self.assertEqual(len(got), len(self.items))

    def test_broken_last_dates_is_kept(self):
        ld = os.path.join(self.home, "wodles", "azure", "last_dates.json")
        with open(ld, "w") as f:
            f.write("{not json")
        rc, got = self.run_launcher()
        self.assertEqual(rc, 1)
        self.assertTrue(os.path.exists(ld))
        self.assertIn("last_dates", self.last_stderr)
        self.assertEqual(got, [])

    def test_wazuh_schema(self):
        rc, _ = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        con = sqlite3.connect(self.db)
        sql = dict(con.execute("SELECT name, sql FROM sqlite_master WHERE type='table'"))
        con.close()
        for t in ("graph", "log_analytics", "storage"):
            self.assertIn("CONSTRAINT md5_restriction UNIQUE (md5)", sql[t])
            self.assertIn("min_processed_date VARCHAR(28) NOT NULL", sql[t])
        self.assertIn("storage_blob_offset", sql)


class HostileItems(PipelineTest):
    """Items Wazuh's Python handles that a stricter parser or a size limit
    could lose."""

    def test_oversize_event_goes_to_dead_letter(self):
        now = utcnow()
        items = signins(3, now - 3 * H, now - H, 31)
        items[1]["userAgent"] = "A" * 70000
        self.add_events(SIGNINS, items)
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in (items[0], items[2])))
        dead = os.path.join(self.home, "wodles", "azure", "azure-dead-letter.jsonl")
        with open(dead, "rb") as f:
            self.assertEqual(f.read(), wazuh_payload(items[1]) + b"\n")
        self.assertEqual(os.stat(dead).st_mode & 0o777, 0o600)
        self.assertIn(items[1]["id"], self.last_stderr)
        self.assertEqual(self.row("graph", md5(SIGNINS))[3],
                         max(i["createdDateTime"] for i in items))

    def test_lone_surrogate_kept_as_wazuh_sends_it(self):
        now = utcnow()
        items = signins(3, now - 3 * H, now - H, 32)
        items[0]["userAgent"] = "Mozilla\ud800 x \udc01"
        self.add_events(SIGNINS, items)
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)), sorted(wazuh_payload(i) for i in items))
        self.assertIn(b"Mozilla\\ud800 x \\udc01", b"".join(got))


class Interrupted(PipelineTest):
    def setUp(self):
        now = utcnow()
        self.items = signins(250, now - 5 * H, now - H, 41)
        self.events = {SIGNINS: self.items}
        super().setUp()

    def test_terminated_mid_run_leaves_nothing_behind(self):
        import signal
        import subprocess
        import time
        from harness import LAUNCHER, PRIVSEP_OFF, TENANT
        # The second page hangs, so the run is caught half-way.
        self.mock.control("fail", {"match": "skiptoken", "status": 200,
                                   "delay": 30, "count": 1})
        p = subprocess.Popen([LAUNCHER] + PRIVSEP_OFF + [
            "--graph", "--graph_auth_path", self.auth, "--graph_tenant_domain", TENANT,
            "--graph_query", SIGNINS, "--graph_time_offset", "1d",
            "--wazuh-home", self.home, "--login-url", self.mock.url,
            "--graph-url", self.mock.url],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while time.time() < deadline:  # the first page was served
            if any(r["path"].lower().startswith("/v1.0/") for r in self.mock.requests()):
                break
            time.sleep(0.1)
        time.sleep(1)  # the second page is now hanging
        pattern = "azure-(graph|statekeeper|forwarder) .*" + self.home
        running = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
        self.assertEqual(len(running.stdout.split()), 3, "the three roles run")
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 1, err)
        time.sleep(0.5)
        left = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
        self.assertEqual(left.stdout, "", "processes left behind")
        row = self.row("graph", md5(SIGNINS))
        self.assertEqual(row[2], row[3], "checkpoint moved by an interrupted run")
        got = self.sink.take()
        # The first page was delivered before the hang; the next run
        # delivers the rest of the window, and nothing twice.
        self.assertEqual(len(got), 100)
        rc, again = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got) + self.payloads(again)),
                         sorted(wazuh_payload(i) for i in self.items))


class WazuhDown(PipelineTest):
    events = {}

    def test_socket_absent(self):
        now = utcnow()
        self.add_events(SIGNINS, signins(3, now - 2 * H, now - H, 5))
        self.sink.close()
        rc, _ = self.run_launcher(extra=["--socket-wait", "2"])
        self.assertNotEqual(rc, 0)
        self.assertIn("Wazuh must be running", self.last_stderr)
        row = self.row("graph", md5(SIGNINS))
        self.assertEqual(row[2], row[3])


if __name__ == "__main__":
    unittest.main()
