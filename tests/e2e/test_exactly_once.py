"""End-to-end: every event Azure has reaches Wazuh exactly once, at the
window's edges: late arrivals, events at the checkpoint's own time,
throttling in the middle of newest-first paging, de-duplication that stays
bounded, and the run's time limit."""

import datetime
import hashlib
import sqlite3
import unittest

from harness import PipelineTest, gen_graph, iso, md5, utcnow, wazuh_payload

import gen_la  # tests/mock, on the path through harness

M = datetime.timedelta(minutes=1)
H = datetime.timedelta(hours=1)
SIGNINS = "auditLogs/signIns"
LA_QUERY = "SigninLogs"


def signins(count, start, end, seed):
    return gen_graph.gen_signins(count, iso(start), iso(end), seed=seed)


def ticks(s):
    """100 ns ticks of an Azure date with up to 7 digits."""
    base, _, frac = s.rstrip("Z").partition(".")
    dt = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S")
    secs = int((dt - datetime.datetime(1970, 1, 1)).total_seconds())
    return secs * 10 ** 7 + int((frac + "0000000")[:7])


class Graph(PipelineTest):
    page_size = 100

    def setUp(self):
        now = utcnow()
        self.first = signins(350, now - 3 * H, now - 10 * M, 1)
        self.events = {SIGNINS: self.first}
        super().setUp()

    def seen_rows(self):
        con = sqlite3.connect(self.db)
        try:
            return con.execute(
                "SELECT s.event_time FROM (SELECT kid, event_time FROM "
                "azure_logs_seen UNION ALL SELECT kid, event_time FROM "
                "azure_logs_seen_recent) s JOIN "
                "azure_logs_key k USING (kid) WHERE k.service = 'graph' "
                "AND k.md5 = ?", (md5(SIGNINS),)).fetchall()
        finally:
            con.close()

    def test_late_events_arrive_once(self):
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.first))
        newest = self.row("graph", md5(SIGNINS))[3]
        # Azure makes events visible late: these are older than the
        # checkpoint (Wazuh's "gt max" never asks for them again), but
        # within the default overlap of 15 minutes.
        cp = datetime.datetime.strptime(newest[:19], "%Y-%m-%dT%H:%M:%S")
        late = signins(20, cp - 12 * M, cp - 1 * M, 2)
        self.add_events(SIGNINS, late)
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in late))
        self.assertIn("createdDateTime+ge+", self.mock.requests()[-1]["query"])
        self.assertRegex(self.last_stderr, r"370 events fetched, 20 delivered, "
                         r"350 duplicates dropped|"
                         r"\d+ events fetched, 20 delivered")
        rc, got = self.run_launcher()
        self.assertEqual((rc, got), (0, []), self.last_stderr)

    def to_schema_2(self):
        """Rewrites azure.db as schema 2 wrote it: azure_logs_seen keyed
        (kid, id), no sort key, no azure_logs_seen_recent."""
        con = sqlite3.connect(self.db)
        try:
            rows = con.execute(
                "SELECT kid, id, event_time FROM azure_logs_seen UNION ALL "
                "SELECT kid, id, event_time FROM azure_logs_seen_recent").fetchall()
            con.executescript(
                "DROP TABLE azure_logs_seen; DROP TABLE azure_logs_seen_recent;"
                "CREATE TABLE azure_logs_seen (kid INTEGER NOT NULL, id BLOB "
                "NOT NULL, event_time INTEGER NOT NULL, PRIMARY KEY (kid, id)) "
                "WITHOUT ROWID;"
                "UPDATE azure_logs_meta SET value = '2' WHERE name = "
                "'schema_version';")
            con.executemany("INSERT OR IGNORE INTO azure_logs_seen VALUES (?, ?, ?)",
                            rows)
            con.commit()
            return len(rows)
        finally:
            con.close()

    def test_schema_2_database_carries_over(self):
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(got), len(self.first))
        self.assertGreater(self.to_schema_2(), 0)
        newest = self.row("graph", md5(SIGNINS))[3]
        cp = datetime.datetime.strptime(newest[:19], "%Y-%m-%dT%H:%M:%S")
        late = signins(20, cp - 12 * M, cp - 1 * M, 2)
        self.add_events(SIGNINS, late)
        # Upgraded: the ids of schema 2 still drop what was delivered.
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertIn("Upgrading", self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in late))
        con = sqlite3.connect(self.db)
        try:
            self.assertEqual(con.execute(
                "SELECT value FROM azure_logs_meta WHERE name = "
                "'schema_version'").fetchone(), ("3",))
            cols = [r[1] for r in con.execute("PRAGMA table_info(azure_logs_seen)")]
            self.assertIn("sort_key", cols)
        finally:
            con.close()
        rc, got = self.run_launcher()
        self.assertEqual((rc, got), (0, []), self.last_stderr)

    def test_events_at_the_checkpoint_time(self):
        rc, got = self.run_launcher(extra=["--overlap", "0"])
        self.assertEqual(rc, 0, self.last_stderr)
        newest = self.row("graph", md5(SIGNINS))[3]
        self.assertRegex(newest, r"\.\d{7}Z$")
        # Three more events with exactly the checkpoint's timestamp, 7
        # digits: even without any overlap they are neither lost nor is
        # the one already delivered repeated.
        same = signins(3, utcnow() - 5 * H, utcnow() - 4 * H, 3)
        for item in same:
            item["createdDateTime"] = newest
        self.add_events(SIGNINS, same)
        rc, got = self.run_launcher(extra=["--overlap", "0"])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in same))
        self.assertEqual(self.row("graph", md5(SIGNINS))[3], newest)
        rc, got = self.run_launcher(extra=["--overlap", "0"])
        self.assertEqual((rc, got), (0, []), self.last_stderr)

    def test_throttled_third_page_newest_first(self):
        # Pages come newest first: a page that finally fails must not let
        # the checkpoint pass the older pages behind it.
        self.mock.control("fail", {"match": "skiptoken", "skip": 1,
                                   "status": 429, "retry_after": "0",
                                   "count": 20})
        rc, first = self.run_launcher()
        self.assertNotEqual(rc, 0)
        self.assertEqual(len(first), 200, "pages 1 and 2 were delivered")
        self.assertIn("HTTP 429", self.last_stderr)
        row = self.row("graph", md5(SIGNINS))
        self.assertEqual(row[2], row[3], "the checkpoint moved")
        self.mock.control("clear-fail")
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        both = self.payloads(first) + self.payloads(got)
        self.assertEqual(sorted(both),
                         sorted(wazuh_payload(i) for i in self.first))
        self.assertEqual(self.row("graph", md5(SIGNINS))[3],
                         max(i["createdDateTime"] for i in self.first))

    def test_retry_after_as_http_date(self):
        self.mock.control("fail", {"match": "skiptoken", "status": 503,
                                   "retry_after_http_date": 2, "count": 1})
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.first))
        self.assertRegex(self.last_stderr, r"HTTP 503, retrying in [1-3]\.\d s")

    def test_truncated_page_is_retried(self):
        self.mock.control("fail", {"match": "skiptoken", "skip": 1,
                                   "truncate": True, "count": 1})
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.first))
        self.assertIn("retrying", self.last_stderr)

    def test_garbled_page_is_asked_again(self):
        garbled = {"match": "skiptoken", "status": 200, "retry_after": "0",
                   "body": "<html><body>Gateway busy</body>"}
        self.mock.control("fail", dict(garbled, skip=1, count=1))
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.first))
        self.assertRegex(self.last_stderr, r"is not a Graph page .*; retrying in")
        # Garbled every time: the run fails, the checkpoint stays.
        self.mock.control("fail", dict(garbled, count=20))
        self.add_events(SIGNINS, signins(200, utcnow() - 9 * M, utcnow() - 2 * M, 5))
        row = self.row("graph", md5(SIGNINS))
        rc, _ = self.run_launcher()
        self.assertEqual(rc, 1, self.last_stderr)
        self.assertEqual(self.row("graph", md5(SIGNINS)), row)

    def test_remembered_ids_are_bounded_by_the_overlap(self):
        rc, _ = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        # Only the ids the next window can still reach are kept: events
        # at or after max - overlap.
        newest = ticks(self.row("graph", md5(SIGNINS))[3])
        kept = sorted(t for (t,) in self.seen_rows())
        allt = [ticks(i["createdDateTime"]) for i in self.first]
        self.assertEqual(kept, sorted(t for t in allt
                                      if t >= newest - 15 * 60 * 10 ** 7))
        self.assertGreater(len(kept), 0)
        now = utcnow()
        new = signins(10, now - 9 * M, now - 2 * M, 4)
        self.add_events(SIGNINS, new)
        rc, got = self.run_launcher(extra=["--overlap", "5m"])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(got), 10)
        newest = ticks(self.row("graph", md5(SIGNINS))[3])
        kept = sorted(t for (t,) in self.seen_rows())
        allt = [ticks(i["createdDateTime"]) for i in self.first + new]
        want = sorted(t for t in allt if t >= newest - 5 * 60 * 10 ** 7)
        self.assertEqual(kept, want)
        self.assertLess(len(kept), len(allt))

    def test_reparse_sends_again_what_was_seen(self):
        rc, _ = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        rc, got = self.run_launcher(extra=["--reparse"])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.first))

    def test_run_time_limit(self):
        # A page that hangs: the run stops at --timeout, keeps the
        # checkpoint and says why; the next run delivers the rest.
        self.mock.control("fail", {"match": "skiptoken", "skip": 1,
                                   "delay": 30, "count": 1})
        rc, first = self.run_launcher(extra=["--timeout", "3"], timeout=60)
        self.assertNotEqual(rc, 0)
        self.assertIn("time limit (--timeout)", self.last_stderr)
        row = self.row("graph", md5(SIGNINS))
        self.assertEqual(row[2], row[3])
        self.mock.control("clear-fail")
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(first) + self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.first))


def la_event(columns, row):
    event = {c["name"]: cell for c, cell in zip(columns, row)}
    event["azure_tag"] = "azure-log-analytics"
    import json
    return json.dumps(event).encode()


class LogAnalytics(PipelineTest):
    def setUp(self):
        now = utcnow()
        self.first = gen_la.gen_rows("SigninLogs", 120, iso(now - 5 * H),
                                     iso(now - 5 * M), 7)
        self.cols = self.first["columns"]
        self.workspaces = {"ws": {"tables": {"SigninLogs": self.first}}}
        super().setUp()

    def add_rows(self, rows, ingested=None):
        body = {"workspace": "ws", "table": "SigninLogs", "rows": rows}
        if ingested is not None:
            body["ingestion_time"] = iso(ingested)
        self.mock.control("la-rows", body)

    def expected(self, rows):
        return sorted(la_event(self.cols, r) for r in rows)

    def test_late_rows_within_the_overlap(self):
        rc, got = self.run_la(LA_QUERY, "ws")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         self.expected(self.first["rows"]))
        newest = self.row("log_analytics", md5("query=%s|workspace=ws" % LA_QUERY))[3]
        cp = datetime.datetime.strptime(newest[:19], "%Y-%m-%dT%H:%M:%S")
        late = gen_la.gen_rows("SigninLogs", 9, iso(cp - 8 * M), iso(cp), 8)
        self.add_rows(late["rows"])
        rc, got = self.run_la(LA_QUERY, "ws")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)), self.expected(late["rows"]))
        rc, got = self.run_la(LA_QUERY, "ws")
        self.assertEqual((rc, got), (0, []), self.last_stderr)

    def test_ingestion_checkpoint_catches_hours_late_rows(self):
        args = ["--la-checkpoint", "ingestion"]
        rc, got = self.run_la(LA_QUERY, "ws", extra=args)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         self.expected(self.first["rows"]))
        req = [r for r in self.mock.requests() if r["path"].startswith("/v1/")][-1]
        self.assertIn("ingestion_time() >= datetime(", req["query_text"])
        self.assertIsNone(req.get("timespan"))
        # Rows generated 4 hours ago, ingested only now: far beyond any
        # TimeGenerated overlap, caught by their ingestion time.
        now = utcnow()
        late = gen_la.gen_rows("SigninLogs", 6, iso(now - 4 * H),
                               iso(now - 4 * H + M), 9)
        self.add_rows(late["rows"], ingested=now - 2 * M)
        rc, got = self.run_la(LA_QUERY, "ws", extra=args)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)), self.expected(late["rows"]))
        # Our ingestion time column never reaches Wazuh.
        self.assertNotIn(b"AzureLogsIngestionTime", b"".join(got))
        rc, got = self.run_la(LA_QUERY, "ws", extra=args)
        self.assertEqual((rc, got), (0, []), self.last_stderr)

    def test_same_rows_whatever_the_tag(self):
        rc, got = self.run_la(LA_QUERY, "ws", extra=["--la_tag", "one"])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(got), 120)
        rc, got = self.run_la(LA_QUERY, "ws", extra=["--la_tag", "two"])
        self.assertEqual((rc, got), (0, []), self.last_stderr)


if __name__ == "__main__":
    unittest.main()
