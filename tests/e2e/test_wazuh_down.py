"""End-to-end: Wazuh down. Its queue socket refuses at start (a stale
socket file), goes away midway, or stops reading midway: the run ends
non-zero after a bounded wait (--socket-wait) with a clear message, the
checkpoint does not move past what was sent, and the next run delivers the
rest: across the two runs every event reaches Wazuh, once.

(The socket absent at start is test_graph.WazuhDown.test_socket_absent.)
"""

import collections
import datetime
import os
import re
import socket
import threading
import unittest

from harness import (DgramSink, PipelineTest, gen_graph, iso, log_lines, md5,
                     utcnow, wazuh_payload)

H = datetime.timedelta(hours=1)
SIGNINS = "auditLogs/signIns"
KEY = md5(SIGNINS)
WAIT = "2"  # --socket-wait: seconds
LIMIT = 170  # datagrams Wazuh takes before it fails


class FailingSink:
    """Wazuh's queue that fails after `limit` datagrams.

    mode "close": analysisd goes away: it stops taking datagrams, reads what
    the kernel had already queued for it, then closes and unlinks its
    socket. (Datagrams left in the queue of a socket that is closed are
    lost by the kernel after the sender was told they were accepted; the
    sink reads them first so that what it holds is exactly what the kernel
    accepted. Further sends are refused by connecting the socket to a
    decoy: an AF_UNIX datagram socket connected elsewhere refuses others.)

    mode "stall": analysisd hangs: the socket stays bound but is no longer
    read, so the kernel queue fills and the sender blocks. drain() (after
    the run) reads what was queued, as analysisd would once it resumes.
    """

    def __init__(self, path, limit, mode):
        self.path, self.limit, self.mode = path, limit, mode
        self.datagrams = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.decoy = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while len(self.datagrams) < self.limit:
            try:
                self.datagrams.append(self.sock.recv(1 << 20))
            except socket.timeout:
                if self.done.is_set():
                    return
        if self.mode == "close":
            self.decoy = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.decoy.bind(self.path + ".decoy")
            self.sock.connect(self.path + ".decoy")
            self._drain()
            self.sock.close()
            os.unlink(self.path)
        self.done.set()

    def _drain(self):
        self.sock.setblocking(False)
        while True:
            try:
                self.datagrams.append(self.sock.recv(1 << 20))
            except BlockingIOError:
                return

    def finish(self):
        """After the run: what the sink took in all."""
        self.done.set()
        self.thread.join(10)
        if self.mode == "stall":
            self._drain()
            self.sock.close()
            os.unlink(self.path)
        if self.decoy is not None:
            self.decoy.close()
            os.unlink(self.path + ".decoy")
        return self.datagrams


class WazuhDown(PipelineTest):
    page_size = 50

    def setUp(self):
        self.events = {}
        super().setUp()
        self.socket = self.sink.path

    def fresh_sink(self):
        """Wazuh back: a new socket at the same path."""
        self.sink = DgramSink(self.socket)

    def payload_counts(self, datagrams):
        return collections.Counter(self.payloads(datagrams))

    def new_events(self, count, seed):
        now = utcnow()
        items = gen_graph.gen_signins(count, iso(now - 20 * H),
                                      iso(now - datetime.timedelta(minutes=1)), seed=seed)
        self.add_events(SIGNINS, items)
        return items

    def established(self):
        """A first run with nothing to send: the query's checkpoint row."""
        rc, got = self.run_launcher(debug="0")
        self.assertEqual((rc, got), (0, []), self.last_stderr)
        row = self.row("graph", KEY)
        self.assertIsNotNone(row)
        return row

    def assert_once_across(self, first, second, items):
        """Every event reached Wazuh (in one run or the other), and none
        twice."""
        want = collections.Counter(wazuh_payload(i) for i in items)
        got = self.payload_counts(first) + self.payload_counts(second)
        missing = set(want) - set(got)
        self.assertEqual(len(missing), 0, "%d events never reached Wazuh" % len(missing))
        self.assertEqual(set(got), set(want), "events Wazuh should not have had")
        # Exactly once: the second run must not send again what the first
        # delivered (needs the statekeeper's de-duplication of delivered ids).
        twice = [p for p in got if got[p] > 1]
        self.assertEqual(
            len(twice), 0,
            "%d events reached Wazuh twice (%d in the first run, %d in the second)"
            % (len(twice), len(first), len(second)))
        self.assertEqual(got, want)

    def test_stale_socket_refuses_at_start(self):
        """The socket file is there but its server is gone: ECONNREFUSED."""
        row = self.established()
        items = self.new_events(40, 61)
        self.sink.close()
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        stale.bind(self.socket)
        stale.close()  # the file stays: connect() is refused
        self.assertTrue(os.path.exists(self.socket))
        try:
            rc, got = self.run_launcher(debug="0", extra=["--socket-wait", WAIT], timeout=60)
        finally:
            os.unlink(self.socket)
            self.fresh_sink()
        self.assertEqual(rc, 1, self.last_stderr)
        lines = log_lines(self.last_stderr)
        self.assertIn("azure: ERROR: Wazuh must be running: cannot connect to %s: "
                      "Connection refused (gave up after %s s); 0 events were sent"
                      % (self.socket, WAIT), lines, self.last_stderr)
        self.assertEqual(got, [])
        self.assertEqual(self.row("graph", KEY), row)

        rc, got = self.run_launcher(debug="0")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)), sorted(wazuh_payload(i) for i in items))
        self.assertEqual(self.row("graph", KEY)[3], max(i["createdDateTime"] for i in items))

    def fail_midway(self, mode):
        """Run with a sink that fails after 170 of 500 events (10 pages of
        50: in the middle of the fourth page, not at a page's end):
        (first run's status, what that sink took, the row before it)."""
        row = self.established()
        self.items = self.new_events(500, 62)
        self.sink.close()
        failing = FailingSink(self.socket, LIMIT, mode)
        try:
            rc, _ = self.run_launcher(debug="0", extra=["--socket-wait", WAIT], timeout=60)
        finally:
            first = failing.finish()
            self.fresh_sink()
        self.assertGreaterEqual(len(first), LIMIT)
        self.assertLess(len(first), 500)
        return rc, first, row

    def midway(self, mode, message):
        rc, first, row = self.fail_midway(mode)
        self.assertEqual(rc, 1, self.last_stderr)
        # Wazuh's socket is unavailable, said clearly, with what was sent.
        said = [line for line in log_lines(self.last_stderr)
                if line.startswith(message)]
        self.assertEqual(said, [message + "; %d events were sent" % len(first)],
                         self.last_stderr)
        # The checkpoint did not move past what was sent.
        self.assertEqual(self.row("graph", KEY), row)

        rc, second = self.run_launcher(debug="0")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(self.row("graph", KEY)[3],
                         max(i["createdDateTime"] for i in self.items))
        self.assert_once_across(first, second, self.items)

    def test_socket_goes_away_midway(self):
        self.midway("close", "azure: ERROR: Wazuh must be running: cannot "
                    "connect to %s: No such file or directory (gave up after %s s)"
                    % (self.socket, WAIT))

    def test_socket_stops_reading_midway(self):
        self.midway("stall", "azure: ERROR: Error sending message to wazuh "
                    "(gave up after %s s): Resource temporarily unavailable" % WAIT)

    def test_log_says_how_many_events_were_not_delivered(self):
        """When Wazuh goes away midway, the log says how many events were
        delivered and not, and that the checkpoint stays where it was."""
        rc, first, _ = self.fail_midway("close")
        self.assertEqual(rc, 1, self.last_stderr)
        counts = [m for m in (re.fullmatch(
            r"azure: ERROR: the forwarder stopped \(its message above says why\): "
            r"(\d+) events delivered, (\d+) not; the checkpoint stays where it was "
            r"and the next run sends the rest", line)
            for line in log_lines(self.last_stderr)) if m]
        self.assertEqual(len(counts), 1, self.last_stderr)
        # Exactly what Wazuh took counts as delivered.
        self.assertEqual(int(counts[0].group(1)), len(first))
        self.assertGreaterEqual(int(counts[0].group(2)), 1)
        self.assertNotIn("Broken pipe", self.last_stderr)


if __name__ == "__main__":
    unittest.main()
