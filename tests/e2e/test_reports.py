"""End-to-end: what a fetcher reports about its run (issue 8): the summary
line it always logs, the JSON of --stats-fd, and its progress lines.

The whole launcher runs the roles; $AZURE_LOGS_WRAPPER (see spawn() in
scripts/azure-logs) gives each fetcher --stats-fd 8 on a file of the test.
delivered, duplicates and dead-lettered come from the statekeeper's RESULT
frames; the tests of a fetcher alone (FakeStatekeeper) answer its frames
from Python, so they see what the fetcher makes of a RESULT, of a
statekeeper that goes away and of one that never answers.
"""

import datetime
import json
import os
import re
import struct
import subprocess
import unittest

from harness import (CLIENT, TENANT, TOP, PipelineTest, StorageTest, gen_graph,
                     iso, log_lines, utcnow)

import gen_la  # tests/mock, on the path through harness

H = datetime.timedelta(hours=1)
M = datetime.timedelta(minutes=1)
SIGNINS = "auditLogs/signIns"
BINDIR = os.environ.get("AZURE_LOGS_BINDIR", os.path.join(TOP, "bin"))

WRAPPER = """#!/bin/sh
case $1 in
*/azure-graph | */azure-la | */azure-storage)
	exec "$@" --stats-fd 8 8>"$AZURE_TEST_STATS" ;;
esac
exec "$@"
"""

SUMMARY = re.compile(
    r"^azure: INFO: (?P<label>.*?) request (?P<request>.*?)(?: \(tag (?P<tag>.*)\))?: "
    r"(?P<fetched>\d+) fetched, "
    r"(?:(?P<delivered>\d+) delivered, (?P<duplicates>\d+) duplicates, "
    r"(?P<dead>\d+) dead-lettered|(?P<unknown>delivered unknown \(no answer "
    r"from the statekeeper\))), "
    r"(?P<pages>\d+) (?P<unit>pages|requests|blobs read), (?P<retries>\d+) retries, "
    r"(?P<bytes>\d+) bytes, "
    r"(?:newest event (?P<newest>\S+) \(lag (?P<lag>-?\d+) s\)|no event), "
    r"(?P<secs>\d+\.\d) s(?:; status error: (?P<error>.*))?$")

FIELDS = ["service", "query", "workspace", "container", "tag", "fetched",
          "delivered", "duplicates", "dead_lettered", "pages", "retries",
          "bytes", "newest_event", "lag_seconds", "duration_seconds",
          "status", "error"]


def signins(count, start, end, seed):
    return gen_graph.gen_signins(count, iso(start), iso(end), seed=seed)


def summaries(stderr):
    """The summary lines of a log, parsed."""
    out = []
    for line in log_lines(stderr):
        m = SUMMARY.match(line)
        if m:
            out.append(m.groupdict())
        else:
            assert " fetched, " not in line, "a summary of another shape: " + line
    return out


class Reports:
    """Mixin: run the launcher with --stats-fd given to the fetcher."""

    def setup_stats(self):
        self.stats_file = os.path.join(self.home, "stats.json")
        wrapper = os.path.join(self.home, "stats-wrapper.sh")
        with open(wrapper, "w") as f:
            f.write(WRAPPER)
        os.chmod(wrapper, 0o755)
        self.saved_env = {k: os.environ.get(k) for k in
                          ("AZURE_LOGS_WRAPPER", "AZURE_TEST_STATS",
                           "AZURE_LOGS_PROGRESS_SECONDS")}
        os.environ["AZURE_LOGS_WRAPPER"] = wrapper
        os.environ["AZURE_TEST_STATS"] = self.stats_file

    def restore_env(self):
        for k, v in self.saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def take_stats(self):
        """The one JSON line the fetcher wrote (the file is removed)."""
        with open(self.stats_file) as f:
            text = f.read()
        os.unlink(self.stats_file)
        self.assertTrue(text.endswith("\n") and text.count("\n") == 1, repr(text))
        stats = json.loads(text)
        self.assertEqual(list(stats), FIELDS)
        for k in ("fetched", "pages", "retries", "bytes"):
            self.assertIs(type(stats[k]), int, k)
            self.assertGreaterEqual(stats[k], 0, k)
        for k in ("delivered", "duplicates", "dead_lettered", "lag_seconds"):
            self.assertIn(type(stats[k]), (int, type(None)), k)
        for k in ("query", "workspace", "container", "tag", "newest_event"):
            self.assertIn(type(stats[k]), (str, type(None)), k)
        self.assertIn(type(stats["duration_seconds"]), (int, float))
        self.assertGreaterEqual(stats["duration_seconds"], 0)
        self.assertEqual(stats["duration_seconds"], round(stats["duration_seconds"], 3))
        self.assertIn(stats["status"], ("ok", "error"))
        self.assertIs(type(stats["error"]), str)
        self.assertEqual(stats["status"] == "ok", stats["error"] == "")
        self.assertEqual(stats["newest_event"] is None, stats["lag_seconds"] is None)
        return stats

    def one_summary(self):
        s = summaries(self.last_stderr)
        self.assertEqual(len(s), 1, self.last_stderr)
        return s[0]

    def assert_same(self, summary, stats):
        """The summary line and the JSON tell the same."""
        self.assertEqual(int(summary["fetched"]), stats["fetched"])
        if summary["unknown"]:
            self.assertIsNone(stats["delivered"])
            self.assertIsNone(stats["duplicates"])
            self.assertIsNone(stats["dead_lettered"])
        else:
            self.assertEqual(int(summary["delivered"]), stats["delivered"])
            self.assertEqual(int(summary["duplicates"]), stats["duplicates"])
            self.assertEqual(int(summary["dead"]), stats["dead_lettered"])
        self.assertEqual(int(summary["pages"]), stats["pages"])
        self.assertEqual(int(summary["retries"]), stats["retries"])
        self.assertEqual(int(summary["bytes"]), stats["bytes"])
        self.assertEqual(summary["newest"], stats["newest_event"])
        self.assertEqual(summary["tag"], stats["tag"])
        self.assertEqual(summary["error"] or "", stats["error"])


class GraphReports(Reports, PipelineTest):
    page_size = 100

    def setUp(self):
        now = utcnow()
        # 340 items, 4 pages; the 10 newest within 5 minutes of each other,
        # the others hours older (out of reach of the 15m overlap).
        self.old = signins(330, now - 5 * H, now - 4 * H, 1)
        self.recent = signins(10, now - 8 * M, now - 3 * M, 2)
        self.events = {SIGNINS: self.old + self.recent}
        super().setUp()
        self.setup_stats()

    def tearDown(self):
        self.restore_env()
        super().tearDown()

    def test_summary_and_stats_then_overlap(self):
        rc, got = self.run_launcher(debug="0")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(got), 340)
        s = self.one_summary()
        # -d 0: the summary is the only INFO line
        info = [l for l in log_lines(self.last_stderr) if l.startswith("azure: INFO: ")]
        self.assertEqual(len(info), 1, self.last_stderr)
        self.assertEqual((s["label"], s["request"], s["tag"]), ("Graph", SIGNINS, None))
        self.assertEqual((s["fetched"], s["delivered"], s["duplicates"], s["dead"]),
                         ("340", "340", "0", "0"))
        self.assertEqual((s["pages"], s["unit"], s["retries"]), ("4", "pages", "0"))
        self.assertIsNone(s["error"])
        newest = max(i["createdDateTime"] for i in self.events[SIGNINS])
        self.assertEqual(s["newest"], newest)
        st = self.take_stats()
        self.assert_same(s, st)
        self.assertEqual(st["service"], "graph")
        self.assertEqual(st["query"], SIGNINS)
        self.assertIsNone(st["workspace"])
        self.assertIsNone(st["container"])
        self.assertIsNone(st["tag"])
        self.assertEqual((st["status"], st["error"]), ("ok", ""))
        # the bodies of the 4 pages at least (gzip may make them smaller
        # on the wire: count the items' text as a floor of nothing less
        # than one byte per item)
        self.assertGreater(st["bytes"], 340)
        # lag: the newest item is 3 minutes old
        self.assertGreaterEqual(st["lag_seconds"], 3 * 60 - 1)

        # Again: the 15m overlap reaches back over the 10 recent items,
        # which the statekeeper drops as duplicates.
        rc, got = self.run_launcher(debug="0", extra=["--graph_tag", "prod"])
        self.assertEqual((rc, got), (0, []), self.last_stderr)
        s = self.one_summary()
        self.assertEqual((s["fetched"], s["delivered"], s["duplicates"], s["dead"]),
                         ("10", "0", "10", "0"))
        self.assertEqual(s["tag"], "prod")
        st = self.take_stats()
        self.assert_same(s, st)
        self.assertEqual(st["tag"], "prod")
        self.assertEqual(st["newest_event"], newest)

    def test_throttled_pages_counted_as_retries(self):
        self.mock.control("fail", {"match": "skiptoken", "status": 429,
                                   "retry_after": "0", "count": 2})
        rc, got = self.run_launcher(debug="0")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(got), 340)
        s = self.one_summary()
        self.assertEqual((s["pages"], s["retries"], s["delivered"]), ("4", "2", "340"))
        self.assert_same(s, self.take_stats())

    def test_token_retries_counted(self):
        # token_get retries on its own (one attempt per http request): its
        # retries count like the pages' ones
        for status, count in ((503, 2), (429, 3)):
            with self.subTest(status=status):
                self.mock.control("fail", {"match": "/oauth2/", "status": status,
                                           "retry_after": "0", "count": count})
                rc, _ = self.run_launcher(debug="0")
                self.assertEqual(rc, 0, self.last_stderr)
                s = self.one_summary()
                self.assertGreaterEqual(int(s["retries"]), count, self.last_stderr)
                st = self.take_stats()
                self.assert_same(s, st)
                self.assertGreaterEqual(st["retries"], count)

    def test_progress_lines_at_debug_1(self):
        os.environ["AZURE_LOGS_PROGRESS_SECONDS"] = "0"  # every page
        rc, _ = self.run_launcher(debug="1")
        self.assertEqual(rc, 0, self.last_stderr)
        progress = [l for l in log_lines(self.last_stderr) if l.endswith(" so far")]
        self.assertEqual(progress, [
            "azure: INFO: Graph auditLogs/signIns: 100 events, 1 pages so far",
            "azure: INFO: Graph auditLogs/signIns: 200 events, 2 pages so far",
            "azure: INFO: Graph auditLogs/signIns: 300 events, 3 pages so far",
            "azure: INFO: Graph auditLogs/signIns: 340 events, 4 pages so far"])
        self.take_stats()
        # -d 0: none, whatever the knob
        rc, _ = self.run_launcher(debug="0")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertFalse([l for l in log_lines(self.last_stderr) if l.endswith(" so far")])
        self.assertEqual(self.one_summary()["duplicates"], "10")

    def test_progress_option_ignored_off_a_terminal(self):
        env = dict(os.environ, AZURE_LOGS_WRAPPER="")
        p = subprocess.run(
            [os.path.join(BINDIR, "azure-graph"), "--tenant", TENANT, "--query", SIGNINS,
             "--auth-file", self.auth, "--login-url", self.mock.url,
             "--graph-url", self.mock.url, "--since", iso(utcnow() - 6 * H), "--json",
             "--progress", "-d", "0"],
            capture_output=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        err = p.stderr.decode()
        self.assertNotIn("\r", err)
        self.assertNotIn("\033", err)
        self.assertEqual(len(p.stdout.splitlines()), 340)


class GraphFailures(Reports, PipelineTest):
    events = {}

    def setUp(self):
        super().setUp()
        self.setup_stats()

    def tearDown(self):
        self.restore_env()
        super().tearDown()

    def test_bad_secret(self):
        auth = self.write_auth("bad", CLIENT, "wrong-secret")
        rc, got = self.run_launcher(auth=auth, debug="0")
        self.assertEqual((rc, got), (1, []))
        msg = "Error: The application key provided is not valid."
        self.assertIn("azure: ERROR: " + msg, self.last_stderr)
        s = self.one_summary()
        self.assertEqual(s["error"], msg)
        self.assertEqual((s["fetched"], s["delivered"], s["pages"]), ("0", "0", "0"))
        self.assertIsNone(s["newest"])
        st = self.take_stats()
        self.assert_same(s, st)
        self.assertEqual((st["status"], st["error"]), ("error", msg))
        self.assertIsNone(st["newest_event"])
        self.assertIsNone(st["lag_seconds"])
        self.assertNotIn("wrong-secret", json.dumps(st))

    def test_dead_lettered(self):
        now = utcnow()
        items = signins(3, now - 3 * H, now - H, 31)
        items[1]["userAgent"] = "A" * 70000
        self.add_events(SIGNINS, items)
        rc, got = self.run_launcher(debug="0")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(got), 2)
        s = self.one_summary()
        self.assertEqual((s["fetched"], s["delivered"], s["duplicates"], s["dead"]),
                         ("3", "2", "0", "1"))
        st = self.take_stats()
        self.assert_same(s, st)
        self.assertEqual(st["dead_lettered"], 1)
        self.assertGreater(st["bytes"], 70000)

    def read_stats_bytes(self):
        """The stats line as bytes: it must be UTF-8 and JSON all the same."""
        with open(self.stats_file, "rb") as f:
            raw = f.read()
        raw.decode("utf-8")  # strict: raises on a byte that is not UTF-8
        return raw

    def test_tag_not_utf8(self):
        # a tag with a byte 0xe9 (Latin-1 "e acute"), which the fetcher
        # refuses: its stats still hold every key, the byte a U+FFFD
        self.add_events(SIGNINS, signins(3, utcnow() - 3 * H, utcnow() - H, 7))
        tag = os.fsdecode(b"caf\xe9-prod")
        rc, got = self.run_launcher(debug="0", extra=["--graph_tag", tag])
        self.assertEqual((rc, got), (1, []), self.last_stderr)
        self.read_stats_bytes()
        st = self.take_stats()  # the keys, all of them, in order
        self.assertEqual(st["tag"], "caf\ufffd-prod")
        self.assertEqual(st["query"], SIGNINS)
        self.assertEqual((st["status"], st["error"]),
                         ("error", "Graph: the tag is not valid UTF-8"))
        s = self.one_summary()
        self.assert_same(s, st)

    def test_long_error_cut_at_a_character(self):
        # a token error long enough to be cut: the cut falls between two
        # characters whatever the length of what comes before
        for pad in ("", "a"):
            with self.subTest(pad=pad):
                self.mock.control("fail", {
                    "match": "/oauth2/", "status": 400, "count": 1,
                    "body": {"error": pad + "\u00e9" * 400}})
                rc, got = self.run_launcher(debug="0")
                self.assertEqual((rc, got), (1, []))
                self.read_stats_bytes()
                st = self.take_stats()
                self.assertEqual(st["status"], "error")
                self.assertTrue(st["error"].startswith(
                    "Error: Couldn't get the token for authentication (HTTP "
                    "400, " + pad + "\u00e9\u00e9"), st["error"])
                self.assertNotIn("\ufffd", st["error"])
                self.assertGreater(len(st["error"].encode()), 400)

    def test_page_error(self):
        self.add_events(SIGNINS, signins(3, utcnow() - 3 * H, utcnow() - H, 5))
        self.mock.control("fail", {"match": "/v1.0/", "status": 403, "count": 1})
        rc, got = self.run_launcher(debug="0")
        self.assertEqual((rc, got), (1, []))
        s = self.one_summary()
        self.assertRegex(s["error"], r"^Graph: HTTP 403 for ")
        self.assertEqual((s["fetched"], s["delivered"], s["pages"]), ("0", "0", "0"))
        st = self.take_stats()
        self.assert_same(s, st)
        self.assertEqual(st["status"], "error")


# ----------------------------------------------------------- a fetcher alone

def mp_str(s):
    b = s.encode()
    if len(b) < 32:
        return bytes([0xa0 | len(b)]) + b
    return b"\xd9" + bytes([len(b)]) + b


def mp_int(n):
    if 0 <= n < 128:
        return bytes([n])
    return b"\xd3" + struct.pack(">q", n)


def frame(type_, *fields):
    """A frame (common/frame.h): length, then msgpack [1, type, fields]."""
    body = bytes([0x90 | (2 + len(fields))]) + mp_int(1) + mp_int(type_)
    for f in fields:
        if isinstance(f, bool):
            body += b"\xc3" if f else b"\xc2"
        elif isinstance(f, int):
            body += mp_int(f)
        else:
            body += mp_str(f)
    return struct.pack(">I", len(body)) + body


CHECKPOINT, DONE, RESULT = 2, 4, 11


def frame_types(data):
    """The types of the frames in data (fixarray, version 1, fixint type)."""
    out, pos = [], 0
    while pos + 4 <= len(data):
        n = struct.unpack(">I", data[pos:pos + 4])[0]
        body = data[pos + 4:pos + 4 + n]
        out.append(body[2])
        pos += 4 + n
    return out


class FakeStatekeeper(Reports, PipelineTest):
    """azure-graph with Python on its fds 0/1 in place of the statekeeper."""

    def setUp(self):
        now = utcnow()
        self.items = signins(5, now - 3 * H, now - 2 * H, 7)
        self.events = {SIGNINS: self.items}
        super().setUp()
        self.stats_file = os.path.join(self.home, "stats.json")

    def run_alone(self, answers, extra=(), close=True, timeout=60):
        """Run azure-graph; its fd 0 gets answers (then EOF if close).
        Returns (status, frame types it sent, stats, stderr)."""
        args = [os.path.join(BINDIR, "azure-graph"), "--tenant", TENANT,
                "--query", SIGNINS, "--auth-file", self.auth,
                "--login-url", self.mock.url, "--graph-url", self.mock.url,
                "-d", "0"] + list(extra)
        r, w = os.pipe()
        os.write(w, answers)
        if close:
            os.close(w)
        sfd = os.open(self.stats_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            p = subprocess.run(args + ["--stats-fd", str(sfd)], stdin=r,
                               capture_output=True, pass_fds=(sfd,), timeout=timeout)
        finally:
            os.close(r)
            os.close(sfd)
            if not close:
                os.close(w)
        self.last_stderr = p.stderr.decode()
        self.assertNotIn(self.secret, self.last_stderr)
        return p.returncode, frame_types(p.stdout), self.take_stats()

    def test_result_read(self):
        since = "2020-01-01T00:00:00.000000Z"
        rc, sent, st = self.run_alone(frame(CHECKPOINT, since, since) +
                                      frame(RESULT, True, 3, 1, 1))
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sent, [1] + [3] * 5 + [DONE])
        self.assertEqual((st["fetched"], st["delivered"], st["duplicates"],
                          st["dead_lettered"], st["status"]), (5, 3, 1, 1, "ok"))
        self.assert_same(self.one_summary(), st)

    def test_result_not_ok(self):
        since = "2020-01-01T00:00:00.000000Z"
        rc, _, st = self.run_alone(frame(CHECKPOINT, since, since) +
                                   frame(RESULT, False, 5, 0, 0))
        self.assertEqual(rc, 1, self.last_stderr)
        self.assertEqual((st["delivered"], st["status"]), (5, "error"))
        self.assertIn("did not complete", st["error"])

    def test_statekeeper_gone_before_result(self):
        since = "2020-01-01T00:00:00.000000Z"
        rc, sent, st = self.run_alone(frame(CHECKPOINT, since, since))
        self.assertEqual(rc, 1, self.last_stderr)
        self.assertEqual(sent[-1], DONE)
        s = self.one_summary()
        self.assertTrue(s["unknown"], self.last_stderr)
        self.assertEqual(st["fetched"], 5)
        self.assertIsNone(st["delivered"])
        self.assertEqual(st["status"], "error")
        self.assertIn("the statekeeper closed the pipe", st["error"])
        self.assert_same(s, st)

    def test_statekeeper_silent_bounded_by_timeout(self):
        since = "2020-01-01T00:00:00.000000Z"
        rc, _, st = self.run_alone(frame(CHECKPOINT, since, since), close=False,
                                   extra=["--timeout", "5s"])
        self.assertEqual(rc, 1, self.last_stderr)
        self.assertIsNone(st["delivered"])
        self.assertIn("(--timeout)", st["error"])

    def test_no_checkpoint(self):
        rc, sent, st = self.run_alone(b"")
        self.assertEqual(rc, 1, self.last_stderr)
        self.assertEqual(sent, [1])
        self.assertEqual((st["status"], st["fetched"], st["delivered"]), ("error", 0, 0))
        self.assertIn("closed the pipe before answering", st["error"])

    def test_stand_alone_json(self):
        sfd = os.open(self.stats_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        p = subprocess.run(
            [os.path.join(BINDIR, "azure-graph"), "--tenant", TENANT, "--query", SIGNINS,
             "--auth-file", self.auth, "--login-url", self.mock.url,
             "--graph-url", self.mock.url, "--since", iso(utcnow() - 6 * H), "--json",
             "--stats-fd", str(sfd), "--tag", "t1"],
            capture_output=True, pass_fds=(sfd,), timeout=60)
        os.close(sfd)
        self.last_stderr = p.stderr.decode()
        self.assertEqual(p.returncode, 0, self.last_stderr)
        self.assertEqual(len(p.stdout.splitlines()), 5)
        st = self.take_stats()
        self.assertEqual((st["fetched"], st["delivered"], st["duplicates"],
                          st["dead_lettered"], st["pages"], st["tag"]), (5, 5, 0, 0, 1, "t1"))
        self.assert_same(self.one_summary(), st)

    def test_progress_on_a_terminal(self):
        master, slave = os.openpty()
        p = subprocess.Popen(
            [os.path.join(BINDIR, "azure-graph"), "--tenant", TENANT, "--query", SIGNINS,
             "--auth-file", self.auth, "--login-url", self.mock.url,
             "--graph-url", self.mock.url, "--since", iso(utcnow() - 6 * H), "--json",
             "--progress", "-d", "0"],
            stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        err = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the fetcher closed its end
                break
            if not chunk:
                break
            err += chunk
        out = p.stdout.read()
        p.stdout.close()
        self.assertEqual(p.wait(60), 0, err)
        os.close(master)
        self.assertEqual(len(out.splitlines()), 5)
        err = err.decode().replace("\r\n", "\n")
        live = "\r\x1b[KGraph auditLogs/signIns: 5 events, 1 pages"
        self.assertIn(live, err)
        # cleared, then the summary on a line of its own
        rest = err[err.index(live) + len(live):]
        self.assertRegex(rest, r"^\r\x1b\[K\d{4}/\d\d/\d\d \d\d:\d\d:\d\d azure: INFO: "
                         r"Graph request auditLogs/signIns: 5 fetched, 5 delivered, ")

    def test_summary_stays_one_line(self):
        """A tag with a newline: the log line keeps one line, the JSON
        keeps the tag as given."""
        sfd = os.open(self.stats_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        p = subprocess.run(
            [os.path.join(BINDIR, "azure-graph"), "--tenant", TENANT, "--query", SIGNINS,
             "--auth-file", self.auth, "--login-url", self.mock.url,
             "--graph-url", self.mock.url, "--since", iso(utcnow() - 6 * H), "--json",
             "--stats-fd", str(sfd), "--tag", "two\nlines"],
            capture_output=True, pass_fds=(sfd,), timeout=60)
        os.close(sfd)
        self.last_stderr = p.stderr.decode()
        self.assertEqual(p.returncode, 0, self.last_stderr)
        self.assertEqual(self.one_summary()["tag"], "two lines")
        self.assertEqual(self.take_stats()["tag"], "two\nlines")

    def test_stats_fd_must_be_writable(self):
        base = [os.path.join(BINDIR, "azure-graph"), "--tenant", TENANT, "--query",
                SIGNINS, "--auth-file", self.auth, "--since", "2024-01-01", "--json"]
        p = subprocess.run(base + ["--stats-fd", "57"], capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 100, p.stderr)
        self.assertIn(b"--stats-fd 57: not an open descriptor", p.stderr)
        rfd = os.open(self.auth, os.O_RDONLY)
        try:
            p = subprocess.run(base + ["--stats-fd", str(rfd)], capture_output=True,
                               pass_fds=(rfd,), timeout=30)
        finally:
            os.close(rfd)
        self.assertEqual(p.returncode, 100, p.stderr)
        self.assertIn(b"not open for writing", p.stderr)
        for bad in ("1", "x", "-3"):
            p = subprocess.run(base + ["--stats-fd", bad], capture_output=True, timeout=30)
            self.assertEqual(p.returncode, 100, (bad, p.stderr))


# ------------------------------------------------------------ Log Analytics

class LaReports(Reports, PipelineTest):
    def setUp(self):
        now = utcnow()
        self.data = gen_la.gen_rows("SigninLogs", 120, iso(now - 20 * H),
                                    iso(now - 3 * M), 1)
        self.workspaces = {"ws-one": {"tables": {"SigninLogs": self.data}}}
        super().setUp()
        self.setup_stats()

    def tearDown(self):
        self.restore_env()
        super().tearDown()

    def test_summary_and_stats(self):
        rc, got = self.run_la("SigninLogs", "ws-one", debug="0",
                              extra=["--la_tag", "la-tag"])
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(got), 120)
        s = self.one_summary()
        self.assertEqual((s["label"], s["request"], s["tag"]),
                         ("Log Analytics", "SigninLogs on workspace ws-one", "la-tag"))
        self.assertEqual((s["fetched"], s["delivered"], s["duplicates"], s["unit"]),
                         ("120", "120", "0", "requests"))
        asked = [r for r in self.mock.requests() if r["path"].startswith("/v1/workspaces/")]
        self.assertEqual(int(s["pages"]), len(asked))
        st = self.take_stats()
        self.assert_same(s, st)
        self.assertEqual((st["service"], st["query"], st["workspace"], st["container"]),
                         ("log_analytics", "SigninLogs", "ws-one", None))
        cols = [c["name"] for c in self.data["columns"]]
        newest = max(r[cols.index("TimeGenerated")] for r in self.data["rows"])
        self.assertEqual(st["newest_event"][:19], newest[:19])


# ------------------------------------------------------------------ Storage

def tearDownModule():
    StorageTest.stop_azurite()


class StorageReports(Reports, StorageTest):
    def setUp(self):
        super().setUp()
        self.setup_stats()

    def tearDown(self):
        self.restore_env()
        super().tearDown()

    def test_summary_and_stats(self):
        c = self.container()
        self.blob.put_block_blob(c, "a.log", b"one\ntwo\n")
        self.blob.put_block_blob(c, "b.log", b"three\n")
        rc, got = self.run_storage(c, debug="0", tag="st")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(got), 3)
        s = self.one_summary()
        self.assertEqual((s["label"], s["request"], s["tag"]), ("Storage", "container " + c, "st"))
        self.assertEqual((s["fetched"], s["delivered"], s["duplicates"], s["dead"]),
                         ("3", "3", "0", "0"))
        self.assertEqual((s["pages"], s["unit"]), ("2", "blobs read"))
        st = self.take_stats()
        self.assert_same(s, st)
        self.assertEqual((st["service"], st["query"], st["workspace"], st["container"]),
                         ("storage", None, None, c))
        self.assertGreaterEqual(st["bytes"], len(b"one\ntwo\nthree\n"))
        self.assertEqual((st["status"], st["error"]), ("ok", ""))

        newest = st["newest_event"]
        self.assertRegex(newest, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.0000000Z$")

        # Again: the blobs are within the 5m overlap, read again, and
        # what they hold is dropped as delivered before.
        rc, got = self.run_storage(c, debug="0", tag="st")
        self.assertEqual((rc, got), (0, []), self.last_stderr)
        s = self.one_summary()
        self.assertEqual((s["fetched"], s["delivered"], s["duplicates"], s["pages"]),
                         ("3", "0", "3", "2"))
        st = self.take_stats()
        self.assert_same(s, st)
        self.assertEqual(st["newest_event"], newest)

    def test_all_containers_summed(self):
        """--container '*': one window (one DONE, one RESULT) per container,
        one summary for the request."""
        for c in self.blob.list_containers():  # this module's Azurite only
            self.blob.delete_container(c)
        c1, c2 = self.container("one"), self.container("two")
        self.blob.put_block_blob(c1, "a.log", b"one\ntwo\n")
        self.blob.put_block_blob(c1, "b.log", b"three\n")
        self.blob.put_block_blob(c2, "c.log", b"four\n")
        rc, got = self.run_storage("*", debug="0")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(got), 4)
        s = self.one_summary()
        self.assertEqual(s["request"], "container *")
        self.assertEqual((s["fetched"], s["delivered"], s["duplicates"], s["pages"]),
                         ("4", "4", "0", "3"))
        st = self.take_stats()
        self.assert_same(s, st)
        self.assertEqual((st["container"], st["status"]), ("*", "ok"))
        self.assertIsNotNone(self.storage_row(c1))
        self.assertIsNotNone(self.storage_row(c2))

    def test_nothing_to_read(self):
        c = self.container()
        rc, got = self.run_storage(c, debug="0")
        self.assertEqual((rc, got), (0, []), self.last_stderr)
        s = self.one_summary()
        self.assertEqual((s["fetched"], s["delivered"], s["pages"], s["newest"]),
                         ("0", "0", "0", None))
        st = self.take_stats()
        self.assert_same(s, st)
        self.assertIsNone(st["tag"])
        self.assertIsNone(st["newest_event"])
        self.assertIsNone(st["lag_seconds"])
        self.assertEqual(st["status"], "ok")

    def test_progress_per_blob(self):
        os.environ["AZURE_LOGS_PROGRESS_SECONDS"] = "0"
        c = self.container()
        self.blob.put_block_blob(c, "a.log", b"one\ntwo\n")
        self.blob.put_block_blob(c, "b.log", b"three\n")
        rc, _ = self.run_storage(c, debug="1")
        self.assertEqual(rc, 0, self.last_stderr)
        progress = [l for l in log_lines(self.last_stderr) if l.endswith(" so far")]
        self.assertEqual(progress, [
            "azure: INFO: Storage container %s: 2 events, 1 blobs read so far" % c,
            "azure: INFO: Storage container %s: 3 events, 2 blobs read so far" % c])
        self.take_stats()

    def test_missing_container(self):
        rc, got = self.run_storage("nope-" + self.container()[:20], debug="0")
        self.assertEqual((rc, got), (1, []))
        s = self.one_summary()
        self.assertIn("does not exists", s["error"])
        st = self.take_stats()
        self.assert_same(s, st)
        self.assertEqual(st["status"], "error")


if __name__ == "__main__":
    unittest.main()
