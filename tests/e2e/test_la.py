"""End-to-end: scripts/azure-logs --log_analytics against the mock Log
Analytics query API, with the real roles, azure.db and datagram socket."""

import datetime
import json
import sys
import unittest

from harness import PipelineTest, iso, utcnow

import gen_la  # tests/mock, on the path through harness

H = datetime.timedelta(hours=1)
QUERY = "SigninLogs"


def rows(count, start, end, seed, table="SigninLogs"):
    return gen_la.gen_rows(table, count, iso(start), iso(end), seed)


def wazuh_event(columns, row, tag=None):
    """What Wazuh's Python sends for a row (analytics.py + json.dumps)."""
    event = {}
    for c, cell in zip(columns, row):
        event[c["name"]] = cell
    event["azure_tag"] = "azure-log-analytics"
    if tag:
        event["log_analytics_tag"] = tag
    return json.dumps(event).encode()


def la_key(query, workspace):
    import hashlib
    return hashlib.md5(("query=%s|workspace=%s" % (query, workspace)).encode()).hexdigest()


def tg(columns, row):
    return row[[c["name"] for c in columns].index("TimeGenerated")]


class Windows(PipelineTest):
    def setUp(self):
        now = utcnow()
        self.inside = rows(300, now - 20 * H, now - datetime.timedelta(minutes=3), 1)
        older = rows(40, now - 60 * H, now - 30 * H, 2)
        self.cols = self.inside["columns"]
        self.other = rows(25, now - 10 * H, now - 2 * H, 3)
        self.workspaces = {
            "ws-one": {"tables": {"SigninLogs": {
                "columns": self.cols, "rows": self.inside["rows"] + older["rows"]}}},
            "ws-two": {"tables": {"SigninLogs": self.other}},
        }
        super().setUp()

    def expected(self, data, tag=None):
        return sorted(wazuh_event(data["columns"], r, tag) for r in data["rows"])

    def la_requests(self):
        return [r for r in self.mock.requests() if r["path"].startswith("/v1/workspaces/")]

    def test_window_then_nothing_then_new_once(self):
        rc, got = self.run_la(QUERY, "ws-one", extra=["--la_tag", "sec"])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)), self.expected(self.inside, "sec"))
        key = la_key(QUERY, "ws-one")
        row = self.row("log_analytics", key)
        self.assertEqual(row[1], QUERY)
        self.assertEqual(row[3], max(tg(self.cols, r) for r in self.inside["rows"]))
        req = self.la_requests()[0]
        self.assertEqual(req["method"], "POST")
        self.assertIn("| order by TimeGenerated asc | where TimeGenerated >= datetime(",
                      req["query_text"])
        self.assertIn("/", req["timespan"])

        rc, got = self.run_la(QUERY, "ws-one")
        self.assertEqual((rc, got), (0, []), self.last_stderr)
        self.assertEqual(self.row("log_analytics", key), row)

        # New rows, older than the default --lag of 1 minute.
        now = utcnow()
        new = rows(7, now - datetime.timedelta(seconds=150), now - datetime.timedelta(seconds=70), 9)
        self.mock.control("la-rows", {"workspace": "ws-one", "table": "SigninLogs",
                                      "rows": new["rows"]})
        rc, got = self.run_la(QUERY, "ws-one")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)), self.expected(new))
        rc, got = self.run_la(QUERY, "ws-one")
        self.assertEqual((rc, got), (0, []))

    def test_same_query_two_workspaces(self):
        rc, one = self.run_la(QUERY, "ws-one")
        self.assertEqual(rc, 0, self.last_stderr)
        rc, two = self.run_la(QUERY, "ws-two")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(one)), self.expected(self.inside))
        self.assertEqual(sorted(self.payloads(two)), self.expected(self.other))
        self.assertIsNotNone(self.row("log_analytics", la_key(QUERY, "ws-one")))
        self.assertIsNotNone(self.row("log_analytics", la_key(QUERY, "ws-two")))

    def test_truncated_result_split_until_complete(self):
        self.mock.control("config", {"la_row_limit": 40})
        rc, got = self.run_la(QUERY, "ws-one")
        self.assertEqual(rc, 0, self.last_stderr)
        payloads = self.payloads(got)
        self.assertEqual(len(payloads), len(set(payloads)), "a row was sent twice")
        self.assertEqual(sorted(payloads), self.expected(self.inside))
        reqs = self.la_requests()
        self.assertTrue(any(r["truncated"] for r in reqs))
        self.assertGreater(len(reqs), 300 // 40)
        self.assertEqual(self.row("log_analytics", la_key(QUERY, "ws-one"))[3],
                         max(tg(self.cols, r) for r in self.inside["rows"]))

    def test_any_characters_and_length(self):
        q = ("SigninLogs\n| where UserPrincipalName != \"José Müller's \\\"x\\\" $HOME | !\"\n"
             "| where AppDisplayName != '%s'" % ("日本" + "x" * 20000))
        rc, got = self.run_la(q.replace("!", "\\!"), "ws-one")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)), self.expected(self.inside))
        sent = self.la_requests()[0]["query_text"]
        self.assertTrue(sent.startswith(q + " | order by TimeGenerated asc | where "),
                        sent[:200])

    def test_throttled_then_served(self):
        self.mock.control("fail", {"match": "/v1/workspaces/", "status": 429,
                                   "retry_after": "1", "count": 1})
        rc, got = self.run_la(QUERY, "ws-one", extra=["--la-wait", "30"])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(got), len(self.inside["rows"]))
        self.assertEqual(self.la_requests()[-1]["prefer"], "wait=30")

    def test_query_dropping_timegenerated(self):
        # Wazuh's "| order by TimeGenerated" makes the service refuse it.
        q = QUERY + " | project UserPrincipalName"
        rc, got = self.run_la(q, "ws-one")
        self.assertEqual(rc, 1)
        self.assertRegex(self.last_stderr, r"ERROR: .*ws-one.*TimeGenerated")
        self.assertEqual(got, [])
        row = self.row("log_analytics", la_key(q, "ws-one"))
        self.assertEqual(row[2], row[3])

    def test_result_without_timegenerated(self):
        body = {"tables": [{"name": "PrimaryResult",
                            "columns": [{"name": "Computer", "type": "string"}],
                            "rows": [["host1"], ["host2"]]}]}
        self.mock.control("fail", {"match": "/v1/workspaces/", "status": 200,
                                   "body": body, "count": 1})
        rc, got = self.run_la(QUERY, "ws-one")
        self.assertEqual(rc, 1)
        self.assertIn("No TimeGenerated field was found", self.last_stderr)
        self.assertEqual(got, [])
        row = self.row("log_analytics", la_key(QUERY, "ws-one"))
        self.assertEqual(row[2], row[3])

    def test_garbage_bodies(self):
        self.mock.control("fail", {"match": "/v1/workspaces/", "garbage": True,
                                   "status": 200, "count": 5})
        rc, got = self.run_la(QUERY, "ws-one")
        self.assertEqual(rc, 1)
        self.assertEqual(got, [])
        self.assertIn("ws-one", self.last_stderr)
        self.assertIn("the response is truncated or not JSON", self.last_stderr)
        row = self.row("log_analytics", la_key(QUERY, "ws-one"))
        self.assertEqual(row[2], row[3])

    def assert_each_row_once(self, got):
        payloads = self.payloads(got)
        self.assertEqual(len(payloads), len(set(payloads)), "a row was sent twice")
        self.assertEqual(sorted(payloads), self.expected(self.inside))
        self.assertEqual(self.row("log_analytics", la_key(QUERY, "ws-one"))[3],
                         max(tg(self.cols, r) for r in self.inside["rows"]))

    def test_connection_cut_in_rows(self):
        # Each of 5 answers stops in the middle of its rows (half its
        # bytes, then the connection closes): the rows received are sent,
        # and the next request asks for the rest only.
        self.mock.control("fail", {"match": "/v1/workspaces/", "truncate": True,
                                   "status": 200, "count": 5})
        rc, got = self.run_la(QUERY, "ws-one", extra=["--reparse"])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assert_each_row_once(got)
        self.assertIn("asking for the rest", self.last_stderr)
        queries = [r["query_text"] for r in self.la_requests()]
        self.assertEqual(len(queries), 6)
        starts = [q.rsplit("TimeGenerated >= datetime(", 1)[1] for q in queries]
        self.assertEqual(starts, sorted(starts))
        self.assertEqual(len(set(starts)), 6)

    def test_garbage_after_some_rows(self):
        # A 200 whose JSON turns into garbage after 120 rows: those are
        # sent, the rest is asked for again, from the newest one on.
        srt = sorted(self.inside["rows"], key=lambda r: tg(self.cols, r))
        jd = lambda o: json.dumps(o, ensure_ascii=False, separators=(",", ":"))
        body = ('{"tables":[{"name":"PrimaryResult","columns":%s,"rows":[%s,'
                % (jd(self.cols), ",".join(jd(r) for r in srt[:120])))
        self.mock.control("fail", {"match": "/v1/workspaces/", "garbage": True,
                                   "status": 200, "count": 1,
                                   "body": body + "<html>Gateway busy"})
        rc, got = self.run_la(QUERY, "ws-one", extra=["--reparse"])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assert_each_row_once(got)
        self.assertIn("the response is truncated or not JSON after 120 rows",
                      self.last_stderr)
        second = self.la_requests()[1]["query_text"]
        newest = tg(self.cols, srt[119]).rstrip("Z")
        self.assertIn("TimeGenerated >= datetime(%s" % newest[:19], second)

    def test_truncated_by_the_service_goes_on(self):
        # The service's cap (here 64 KB): each answer's rows are kept and
        # the next request starts at the newest of them, so the rows are
        # transferred about once (no splitting, nothing asked twice).
        self.mock.control("config", {"la_byte_limit": 65536})
        rc, got = self.run_la(QUERY, "ws-one", extra=["--reparse"])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assert_each_row_once(got)
        reqs = self.la_requests()
        self.assertTrue(all(r["truncated"] for r in reqs[:-1]))
        self.assertFalse(reqs[-1]["truncated"])
        # rows served in all: the window's, plus at most one per request
        # (the newest of an answer is asked for again, then skipped)
        self.assertLessEqual(sum(r["rows"] for r in reqs),
                             len(self.inside["rows"]) + len(reqs))
        self.assertIn("result truncated", self.last_stderr)

    def test_failed_shard_is_asked_again_whole(self):
        # A PartialError that is not the size limit (a failed shard) may
        # lack older rows as well: the window is split and asked again in
        # full, never continued from its newest row.
        self.mock.control("config", {"la_partial_failures": 1})
        rc, got = self.run_la(QUERY, "ws-one")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assert_each_row_once(got)
        self.assertIn("result incomplete (PartialError: Partial query "
                      "failure", self.last_stderr)
        self.assertNotIn("asking for the rows from", self.last_stderr)
        reqs = self.la_requests()
        self.assertTrue(reqs[0]["truncated"])
        self.assertEqual(len(reqs), 3)

    def test_truncated_on_ingestion_time(self):
        self.mock.control("config", {"la_row_limit": 40})
        rc, got = self.run_la(QUERY, "ws-one",
                              extra=["--la-checkpoint", "ingestion"])
        self.assertEqual(rc, 0, self.last_stderr)
        payloads = self.payloads(got)
        self.assertEqual(len(payloads), len(set(payloads)), "a row was sent twice")
        self.assertEqual(sorted(payloads), self.expected(self.inside))
        reqs = self.la_requests()
        self.assertGreater(len(reqs), 300 // 40)
        self.assertIn("| where TimeGenerated >= datetime(", reqs[-1]["query_text"])

    def test_errors_name_the_workspace(self):
        rc, got = self.run_la(QUERY, "no-such-ws")
        self.assertEqual(rc, 1)
        self.assertIn("no-such-ws", self.last_stderr)
        self.assertIn("PathNotFoundError", self.last_stderr)
        rc, got = self.run_la(QUERY + " | bogus operator", "ws-one")
        self.assertEqual(rc, 1)
        self.assertIn("BadArgumentError", self.last_stderr)

    def test_failed_request_keeps_checkpoint(self):
        self.mock.control("fail", {"match": "/v1/workspaces/", "status": 503, "count": 50})
        rc, got = self.run_la(QUERY, "ws-one")
        self.assertNotEqual(rc, 0)
        row = self.row("log_analytics", la_key(QUERY, "ws-one"))
        self.assertEqual(row[2], row[3])
        self.mock.control("clear-fail")
        rc, got = self.run_la(QUERY, "ws-one")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)), self.expected(self.inside))


class StandAlone(PipelineTest):
    def setUp(self):
        now = utcnow()
        self.data = rows(30, now - 5 * H, now - H, 8)
        self.workspaces = {"ws": {"tables": {"SigninLogs": self.data}}}
        super().setUp()

    def test_json_without_other_roles(self):
        import os
        import subprocess
        from harness import TENANT
        binary = os.path.join(os.environ.get("AZURE_LOGS_BINDIR", "bin"), "azure-la")
        since = iso(utcnow() - 6 * H)
        p = subprocess.run([binary, "--tenant", TENANT, "--workspace", "ws",
                            "--query", QUERY, "--auth-file", self.auth,
                            "--login-url", self.mock.url, "--la-url", self.mock.url,
                            "--since", since, "--json"], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = sorted(p.stdout.splitlines())
        self.assertEqual(got, sorted(wazuh_event(self.data["columns"], r)
                                     for r in self.data["rows"]))
        self.assertFalse(os.path.exists(self.db))


class Special(PipelineTest):
    workspaces = {"empty-ws": {"empty": True, "tables": {}},
                  "closed-ws": {"forbidden": True, "tables": {}}}

    def test_empty_workspace(self):
        rc, got = self.run_la(QUERY, "empty-ws")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(got, [])
        self.assertIn("empty-ws holds no data (HTTP 204)", self.last_stderr)

    def test_forbidden_workspace(self):
        rc, got = self.run_la(QUERY, "closed-ws")
        self.assertEqual(rc, 1)
        self.assertIn("closed-ws", self.last_stderr)
        self.assertIn("InsufficientAccessError", self.last_stderr)

    def test_every_column_type_as_wazuh_sends_it(self):
        now = utcnow()
        data = rows(60, now - 3 * H, now - H, 5, table="Wide")
        self.mock.control("la-rows", {"workspace": "wide-ws", "table": "Wide",
                                      "columns": data["columns"], "rows": data["rows"]})
        rc, got = self.run_la("Wide", "wide-ws")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_event(data["columns"], r) for r in data["rows"]))


if __name__ == "__main__":
    unittest.main()
