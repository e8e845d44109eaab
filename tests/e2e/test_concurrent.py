"""End-to-end: many requests in one run of scripts/azure-logs --config,
one fetcher per request (at most --jobs at a time), one statekeeper
(--fifos) and one forwarder, with the real roles against the mock.

* --jobs 1 and --jobs 4 (separate databases) deliver exactly the same
  events and leave the same checkpoints;
* two requests with the same query (the same checkpoint key) in one run
  deliver each event once;
* one request failing while the others succeed: exit 1, the others
  delivered and their checkpoints moved, the failed one's checkpoint
  unchanged, and --stats-json says which.
"""

import datetime
import json
import os
import sqlite3
import unittest
from xml.sax.saxutils import escape, quoteattr

from harness import (CLIENT, LAUNCHER, PRIVSEP_OFF, TENANT, PipelineTest, gen_graph,
                     iso, md5, utcnow, wazuh_payload)

import gen_la  # tests/mock, on the path through harness

H = datetime.timedelta(hours=1)
M = datetime.timedelta(minutes=1)
SIGNINS = "auditLogs/signIns"
AUDITS = "auditLogs/directoryAudits"
LA_FILTERED = 'SigninLogs | where ResultType != "50126"'


def la_key(query, workspace):
    return md5("query=%s|workspace=%s" % (query, workspace))


class Concurrent(PipelineTest):
    page_size = 50

    def setUp(self):
        now = utcnow()
        self.signins = gen_graph.gen_signins(260, iso(now - 20 * H), iso(now - 3 * M), seed=1)
        self.audits = gen_graph.gen_directory_audits(140, iso(now - 9 * H), iso(now - 4 * M),
                                                     seed=2)
        self.events = {SIGNINS: self.signins, AUDITS: self.audits}
        self.ws1 = gen_la.gen_rows("SigninLogs", 220, iso(now - 10 * H), iso(now - 5 * M), 3)
        self.ws2 = gen_la.gen_rows("SigninLogs", 90, iso(now - 6 * H), iso(now - 5 * M), 4)
        self.workspaces = {"ws-one": {"tables": {"SigninLogs": self.ws1}},
                           "ws-two": {"tables": {"SigninLogs": self.ws2}}}
        super().setUp()
        self.stats = os.path.join(self.home, "stats.json")

    # -------------------------------------------------------------- helpers

    def graph_block(self, requests, auth=None):
        reqs = "".join(
            "      <request><tag>%s</tag><query>%s</query>"
            "<time_offset>1d</time_offset></request>\n" % (escape(tag), escape(q))
            for tag, q in requests)
        return ("    <graph>\n      <auth_path>%s</auth_path>\n"
                "      <tenantdomain>%s</tenantdomain>\n%s    </graph>\n" %
                (escape(auth or self.auth), TENANT, reqs))

    def la_block(self, requests, auth=None):
        reqs = "".join(
            "      <request><tag>%s</tag><query>%s</query><workspace>%s</workspace>"
            "<time_offset>1d</time_offset></request>\n" % (escape(tag), escape(q), ws)
            for tag, q, ws in requests)
        return ("    <log_analytics>\n      <auth_path>%s</auth_path>\n"
                "      <tenantdomain>%s</tenantdomain>\n%s    </log_analytics>\n" %
                (escape(auth or self.auth), TENANT, reqs))

    def write_conf(self, blocks, name="ossec.conf"):
        text = ('<ossec_config>\n  <wodle name="azure-logs" login-url=%s graph-url=%s '
                'la-url=%s>\n%s  </wodle>\n</ossec_config>\n' % (
                    quoteattr(self.mock.url), quoteattr(self.mock.url),
                    quoteattr(self.mock.url), "".join(blocks)))
        path = os.path.join(self.home, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_config(self, conf, db, jobs, extra=(), debug="1"):
        argv = [LAUNCHER] + PRIVSEP_OFF + [
            "--config", conf, "--jobs", str(jobs), "--db", db,
            "--stats-json", self.stats, "--wazuh-home", self.home, "-d", debug] + list(extra)
        return self.run_argv(argv, 180)

    def most_at_once(self):
        """The largest number of fetchers running at once, by the
        launcher's log (-d 2): "Started the fetcher of request I, ..." and
        "azure-graph (request I, ...) exited with status N"."""
        running = most = started = 0
        for line in self.last_stderr.splitlines():
            if " azure: DEBUG: Started the fetcher of request " in line:
                running += 1
                started += 1
                most = max(most, running)
            elif " azure: DEBUG: azure-" in line and " (request " in line and \
                    ") exited with status " in line:
                running -= 1
        self.assertEqual(running, 0, self.last_stderr)
        return started, most

    def checkpoints(self, db):
        """{(table, md5): (query, max)} of every checkpoint in db (min is
        the time of the first run minus the offset: not compared)."""
        con = sqlite3.connect(db)
        try:
            out = {}
            for table in ("graph", "log_analytics", "storage"):
                for key, query, mn, mx in con.execute(
                        "SELECT md5, query, min_processed_date, max_processed_date "
                        "FROM %s" % table):
                    out[(table, key)] = (query, mx)
            return out
        finally:
            con.close()

    def read_stats(self):
        with open(self.stats) as f:
            return json.load(f)["requests"]

    def standard_conf(self):
        return self.write_conf([
            self.graph_block([("si", SIGNINS), ("au", AUDITS)]),
            self.la_block([("one", "SigninLogs", "ws-one"), ("two", "SigninLogs", "ws-two"),
                           ("filtered", LA_FILTERED, "ws-one")]),
        ])

    # ---------------------------------------------------------------- tests

    def test_jobs_1_and_jobs_4_deliver_the_same(self):
        conf = self.standard_conf()
        db1 = os.path.join(self.home, "one.db")
        db4 = os.path.join(self.home, "four.db")
        rc, got1 = self.run_config(conf, db1, 1, debug="2")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(self.most_at_once(), (5, 1))
        stats1 = self.read_stats()
        rc, got4 = self.run_config(conf, db4, 4, debug="2")
        self.assertEqual(rc, 0, self.last_stderr)
        started, most = self.most_at_once()
        self.assertEqual(started, 5)
        self.assertLessEqual(most, 4)
        stats4 = self.read_stats()

        self.assertEqual(sorted(got1), sorted(got4))
        filtered = [r for r in self.ws1["rows"]
                    if r[[c["name"] for c in self.ws1["columns"]].index("ResultType")]
                    != "50126"]
        self.assertGreater(len(filtered), 0)
        want = (len(self.signins) + len(self.audits) + len(self.ws1["rows"]) +
                len(self.ws2["rows"]) + len(filtered))
        self.assertEqual(len(got4), want)
        self.assertEqual(len(set(got4)), len(got4))  # nothing twice
        si = set(self.payloads(got4))
        self.assertTrue({wazuh_payload(i, "si") for i in self.signins} <= si)

        cp1, cp4 = self.checkpoints(db1), self.checkpoints(db4)
        self.assertEqual(cp1, cp4)
        self.assertEqual(set(cp4), {("graph", md5(SIGNINS)), ("graph", md5(AUDITS)),
                                    ("log_analytics", la_key("SigninLogs", "ws-one")),
                                    ("log_analytics", la_key("SigninLogs", "ws-two")),
                                    ("log_analytics", la_key(LA_FILTERED, "ws-one"))})

        for stats in (stats1, stats4):
            self.assertEqual([(r["service"], r["query"], r["workspace"], r["tag"],
                               r["status"], r["delivered"]) for r in stats],
                             [("graph", SIGNINS, None, "si", "ok", len(self.signins)),
                              ("graph", AUDITS, None, "au", "ok", len(self.audits)),
                              ("log_analytics", "SigninLogs", "ws-one", "one", "ok",
                               len(self.ws1["rows"])),
                              ("log_analytics", "SigninLogs", "ws-two", "two", "ok",
                               len(self.ws2["rows"])),
                              ("log_analytics", LA_FILTERED, "ws-one", "filtered", "ok",
                               len(filtered))])

        # Both again: nothing new anywhere, the checkpoints stay.
        rc, got = self.run_config(conf, db4, 4)
        self.assertEqual((rc, got), (0, []), self.last_stderr)
        self.assertEqual(self.checkpoints(db4), cp4)

    def test_same_query_twice_delivers_each_event_once(self):
        conf = self.write_conf([
            self.graph_block([("same", SIGNINS), ("same", SIGNINS)]),
            self.graph_block([("same", SIGNINS)]),
        ])
        db = os.path.join(self.home, "same.db")
        rc, got = self.run_config(conf, db, 4)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i, "same") for i in self.signins))
        cp = self.checkpoints(db)
        self.assertEqual(list(cp), [("graph", md5(SIGNINS))])
        self.assertEqual(cp[("graph", md5(SIGNINS))][1],
                         max(i["createdDateTime"] for i in self.signins))
        stats = self.read_stats()
        self.assertEqual([r["status"] for r in stats], ["ok"] * 3)
        self.assertEqual(sum(r["delivered"] for r in stats), len(self.signins))

    def test_one_request_failing_the_others_go_on(self):
        db = os.path.join(self.home, "fail.db")
        conf = self.standard_conf()
        rc, got = self.run_config(conf, db, 3)
        self.assertEqual(rc, 0, self.last_stderr)
        before = self.checkpoints(db)

        # New events everywhere; then the audits' request has a bad secret.
        now = utcnow()
        new_si = gen_graph.gen_signins(30, iso(now - 150 * 2 * datetime.timedelta(seconds=1)),
                                       iso(now - 70 * datetime.timedelta(seconds=1)), seed=11)
        new_au = gen_graph.gen_directory_audits(20, iso(now - 5 * M), iso(now - 2 * M),
                                                seed=12)
        self.add_events(SIGNINS, new_si)
        self.add_events(AUDITS, new_au)
        bad = self.write_auth("bad-auth", CLIENT,
                              "not-the-secret")
        conf = self.write_conf([
            self.graph_block([("si", SIGNINS)]),
            self.graph_block([("au", AUDITS)], auth=bad),
            self.la_block([("one", "SigninLogs", "ws-one"), ("two", "SigninLogs", "ws-two"),
                           ("filtered", LA_FILTERED, "ws-one")]),
        ], name="bad.conf")
        rc, got = self.run_config(conf, db, 2)
        self.assertEqual(rc, 1, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i, "si") for i in new_si))
        after = self.checkpoints(db)
        self.assertEqual(after[("graph", md5(AUDITS))], before[("graph", md5(AUDITS))])
        self.assertEqual(after[("graph", md5(SIGNINS))][1],
                         max(i["createdDateTime"] for i in new_si))
        for key in before:
            if key[0] == "log_analytics":  # nothing new there: kept
                self.assertEqual(after[key], before[key])
        stats = self.read_stats()
        self.assertEqual([(r["query"], r["status"]) for r in stats],
                         [(SIGNINS, "ok"), (AUDITS, "error"), ("SigninLogs", "ok"),
                          ("SigninLogs", "ok"), (LA_FILTERED, "ok")])
        self.assertNotEqual(stats[1]["error"], "")
        self.assertEqual(stats[0]["delivered"], len(new_si))
        self.assertIn("azure-graph (request 2, %s:" % conf, self.last_stderr)

        # Fixed: the audits come, from where their checkpoint stayed
        # (the first run's signIns are remembered, not sent again).
        rc, got = self.run_config(self.standard_conf(), db, 4)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i, "au") for i in new_au))

    def test_forwarder_failing_stops_every_request(self):
        """Wazuh's socket missing: the forwarder fails, and with it the
        whole run (exit 1): no checkpoint anywhere, every request an
        error in the stats."""
        db = os.path.join(self.home, "down.db")
        rc, got = self.run_config(self.standard_conf(), db, 2, extra=[
            "--socket", os.path.join(self.home, "no-such-socket"), "--socket-wait", "0"])
        self.assertEqual((rc, got), (1, []), self.last_stderr)
        self.assertIn("azure-forwarder failed (status 1): stopping the others.",
                      self.last_stderr)
        if os.path.exists(db):
            self.assertEqual(self.checkpoints(db), {})
        stats = self.read_stats()
        self.assertEqual(len(stats), 5)
        self.assertEqual([r["status"] for r in stats], ["error"] * 5)
        self.assertEqual(sum(r["delivered"] for r in stats), 0)


if __name__ == "__main__":
    unittest.main()
