"""End-to-end: one azure-statekeeper serving several fetchers at once
(--fifos DIR --requests M), wired by hand as the launcher would: real
azure-graph fetchers against the mock Microsoft (or scripted fetchers that
write frames from Python), a real azure.db, and a real azure-forwarder
writing to --output FILE.

What a user sees: every event of each request reaches the output exactly
once, each request's checkpoint moves, a second run sends nothing again,
two requests of the same query deliver what one would, and a fetcher that
dies mid-window leaves its checkpoint where it was while the others
complete."""

import datetime
import fcntl
import os
import re
import sqlite3
import struct
import subprocess
import threading
import time
import unittest

from harness import (CLIENT, TENANT, TOP, PipelineTest, gen_graph, iso, md5,
                     utcnow, wazuh_payload)

BINDIR = os.environ.get("AZURE_LOGS_BINDIR", os.path.join(TOP, "bin"))
H = datetime.timedelta(hours=1)
M = datetime.timedelta(minutes=1)
SIGNINS = "auditLogs/signIns"
AUDITS = "auditLogs/directoryAudits"
PROVISIONING = "auditLogs/provisioning"
WAIT = 120  # seconds a run may take at most (a guard, not a measure)

# Frame types (docs/internals.md).
HELLO, CHECKPOINT, EVENT, DONE, BLOBQ, BLOBSTATE, RESULT = 1, 2, 3, 4, 7, 8, 11


def mp(v):
    """msgpack of one scalar (the few forms frames use)."""
    if isinstance(v, bool):
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, str):
        v = v.encode()
        if len(v) < 32:
            return bytes([0xa0 | len(v)]) + v
        return b"\xda" + struct.pack(">H", len(v)) + v
    return b"\xc5" + struct.pack(">H", len(v)) + v  # bytes: bin 16


def frame(ftype, *fields):
    body = bytes([0x90 | (2 + len(fields))]) + mp(1) + mp(ftype) + \
        b"".join(mp(f) for f in fields)
    return struct.pack(">I", len(body)) + body


def unpack(body):
    """The scalars of a frame body the statekeeper wrote (fixarray of
    fixints, uints, ints, bools and strs)."""
    out, i = [], 1
    n = body[0] & 0x0f
    for _ in range(n):
        b = body[i]
        i += 1
        if b < 0x80:
            out.append(b)
        elif b in (0xc2, 0xc3):
            out.append(b == 0xc3)
        elif b >= 0xe0:
            out.append(b - 0x100)
        elif 0xa0 <= b <= 0xbf or b in (0xd9, 0xda):
            if b == 0xd9:
                size, i = body[i], i + 1
            elif b == 0xda:
                size, i = struct.unpack(">H", body[i:i + 2])[0], i + 2
            else:
                size = b & 0x1f
            out.append(body[i:i + size].decode())
            i += size
        else:
            fmt = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q",
                   0xd0: ">b", 0xd1: ">h", 0xd2: ">i", 0xd3: ">q"}[b]
            size = struct.calcsize(fmt)
            out.append(struct.unpack(fmt, body[i:i + size])[0])
            i += size
    return out


def read_frame(fd):
    """[version, type, fields...] of the next frame on fd."""
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = os.read(fd, n - len(data))
            if not chunk:
                raise EOFError("the statekeeper closed the pipe")
            data += chunk
        return data
    return unpack(exactly(struct.unpack(">I", exactly(4))[0]))


def signins(count, start, end, seed):
    return gen_graph.gen_signins(count, iso(start), iso(end), seed=seed)


class Channels(PipelineTest):
    page_size = 40

    def setUp(self):
        now = utcnow()
        self.signins = signins(120, now - 20 * H, now - 2 * M, 1)
        self.audits = gen_graph.gen_directory_audits(
            90, iso(now - 18 * H), iso(now - 3 * M), seed=2)
        self.provisioning = gen_graph.gen_directory_audits(
            70, iso(now - 10 * H), iso(now - 4 * M), seed=3)
        self.events = {SIGNINS: self.signins, AUDITS: self.audits,
                       PROVISIONING: self.provisioning}
        super().setUp()
        self.out = os.path.join(self.home, "out.log")
        self.runs = 0

    # ------------------------------------------------------------ wiring

    def start(self, requests):
        """The statekeeper (fds 3/4 to the forwarder, its channels on
        FIFOs it opens itself; requests None: one channel on fds 0/1, as
        the launcher runs one request) and the forwarder (--output
        self.out)."""
        self.runs += 1
        self.sk_log = os.path.join(self.home, "sk%d.log" % self.runs)
        s2w_r, s2w_w = os.pipe()
        w2s_r, w2s_w = os.pipe()
        devnull = os.open(os.devnull, os.O_RDWR)
        argv = [os.path.join(BINDIR, "azure-statekeeper"), "--db", self.db,
                "-d", "2"]
        if requests is None:
            f2s_r, f2s_w = os.pipe()
            s2f_r, s2f_w = os.pipe()
            ends, self.single = (f2s_r, s2f_w), (f2s_w, s2f_r)
        else:
            self.single = None
            self.fifos = os.path.join(self.home, "fifos%d" % self.runs)
            os.mkdir(self.fifos, 0o700)
            for i in range(1, requests + 1):
                os.mkfifo(os.path.join(self.fifos, "f2s.%d" % i), 0o600)
                os.mkfifo(os.path.join(self.fifos, "s2f.%d" % i), 0o600)
            argv += ["--fifos", self.fifos, "--requests", str(requests)]
            ends = (devnull, devnull)
        with open(self.sk_log, "wb") as log:
            self.sk = self.spawn(argv, {0: ends[0], 1: ends[1],
                                        2: log.fileno(), 3: s2w_w,
                                        4: w2s_r})
        if requests is None:
            os.close(ends[0])
            os.close(ends[1])
        with open(os.path.join(self.home, "fwd%d.log" % self.runs), "wb") as log:
            self.fwd = self.spawn(
                [os.path.join(BINDIR, "azure-forwarder"), "--output",
                 self.out, "-d", "2"],
                {0: s2w_r, 1: devnull, 2: log.fileno(), 3: w2s_w})
        for fd in (s2w_r, s2w_w, w2s_r, w2s_w, devnull):
            os.close(fd)
        self.procs = [self.sk, self.fwd]

    @staticmethod
    def spawn(argv, fds):
        """argv with exactly the descriptors fds ({child fd: our fd})."""
        actions, moved = [], {}
        for child, ours in fds.items():  # out of the way of 0..4 first
            moved[child] = fcntl.fcntl(ours, fcntl.F_DUPFD_CLOEXEC, 10)
        for child, ours in moved.items():
            actions.append((os.POSIX_SPAWN_DUP2, ours, child))
        pid = os.posix_spawn(argv[0], argv, dict(os.environ),
                             file_actions=actions)
        for ours in moved.values():
            os.close(ours)
        return pid

    def channel(self, i):
        """(write end of f2s.i, read end of s2f.i), once the statekeeper
        has them open (or its fds 0/1 without --fifos)."""
        if self.single is not None:
            return self.single
        f2s = os.path.join(self.fifos, "f2s.%d" % i)
        deadline = time.time() + WAIT
        while True:
            try:
                w = os.open(f2s, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:  # ENXIO: no reader yet
                self.assertIsNone(self.status(self.sk, block=False),
                                  "the statekeeper ended: " + self.sk_text())
                self.assertLess(time.time(), deadline)
                time.sleep(0.02)
        os.set_blocking(w, True)
        r = os.open(os.path.join(self.fifos, "s2f.%d" % i), os.O_RDONLY)
        return w, r

    def fetcher(self, i, query, extra=()):
        """A real azure-graph on channel i."""
        w, r = self.channel(i)
        log = os.path.join(self.home, "fetcher%d.%d.log" % (self.runs, i))
        with open(log, "wb") as f:
            pid = self.spawn(
                [os.path.join(BINDIR, "azure-graph"), "--tenant", TENANT,
                 "--query", query, "--auth-file", self.auth,
                 "--login-url", self.mock.url, "--graph-url", self.mock.url,
                 "--offset", "1d", "-d", "2"] + list(extra),
                {0: r, 1: w, 2: f.fileno()})
        os.close(w)
        os.close(r)
        self.procs.append(pid)
        return pid

    def status(self, pid, block=True):
        """Exit status of pid (None if running and not block)."""
        deadline = time.time() + WAIT
        while True:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                self.procs.remove(pid)
                return os.waitstatus_to_exitcode(st)
            if not block:
                return None
            if time.time() > deadline:
                self.fail("process %d still runs; statekeeper: %s"
                          % (pid, self.sk_text()))
            time.sleep(0.02)

    @staticmethod
    def text(path):
        with open(path, errors="replace") as f:
            return f.read()

    def sk_text(self):
        return self.text(self.sk_log)

    def wait_log(self, pattern):
        """Until the statekeeper logged a line matching pattern."""
        deadline = time.time() + WAIT
        while not re.search(pattern, self.sk_text(), re.M):
            self.assertLess(time.time(), deadline,
                            "no %r in: %s" % (pattern, self.sk_text()))
            time.sleep(0.02)

    def tearDown(self):
        for pid in list(getattr(self, "procs", [])):
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except OSError:
                pass
        super().tearDown()

    def finish(self, fetchers):
        """Exit statuses: of each fetcher, of the statekeeper and of the
        forwarder."""
        rcs = [self.status(p) for p in fetchers]
        sk = self.status(self.sk)
        fwd = self.status(self.fwd)
        return rcs, sk, fwd

    def output(self):
        """The payloads the forwarder wrote, in order."""
        if not os.path.exists(self.out):
            return []
        with open(self.out, "rb") as f:
            lines = f.read().splitlines()
        return self.payloads(lines)

    def rows(self):
        """{(table, md5): (min, max)} of every checkpoint."""
        con = sqlite3.connect(self.db)
        try:
            return {("graph", k): (mn, mx) for k, mn, mx in con.execute(
                "SELECT md5, min_processed_date, max_processed_date "
                "FROM graph")}
        finally:
            con.close()

    # ------------------------------------------------------ scripted fetcher

    def scripted(self, i, query, events, then="done", gate=None, result=None):
        """A fetcher written in Python on channel i: HELLO, waits for its
        CHECKPOINT, sends events [(time, id, body)], then waits for gate
        (a threading.Event) if given, and then: "done" (DONE ok, reads its
        RESULT into result), "cut" (half a frame, then exits), "garbage"
        (a frame out of order) or "miscount" (DONE with one event more
        than it sent). Returns the thread."""
        w, r = self.channel(i)

        def run():
            try:
                os.write(w, frame(HELLO, "graph", md5(query), query, 86400,
                                  False, "", 900))
                got = read_frame(r)
                assert got[1] == CHECKPOINT, got
                for t, eid, body in events:
                    os.write(w, frame(EVENT, t, eid, body))
                if gate is not None:
                    gate.wait(WAIT)
                if then == "done":
                    os.write(w, frame(DONE, True, len(events)))
                    res = read_frame(r)
                    if result is not None:
                        result.extend(res)
                elif then == "cut":
                    os.write(w, frame(EVENT, t, "x", b"{}")[:9])
                elif then == "miscount":
                    os.write(w, frame(DONE, True, len(events) + 1))
                elif then == "garbage":
                    os.write(w, frame(HELLO, "graph", md5(query), query,
                                      86400, False, "", 900))
            except (OSError, EOFError, AssertionError) as e:
                if result is not None:
                    result.append(e)
            finally:
                os.close(w)
                os.close(r)

        th = threading.Thread(target=run, daemon=True)
        th.start()
        return th

    def want(self, *item_lists):
        return sorted(wazuh_payload(i) for items in item_lists for i in items)

    # ------------------------------------------------------------- tests

    def test_three_requests_at_once_each_event_once(self):
        self.start(3)
        pids = [self.fetcher(1, SIGNINS), self.fetcher(2, AUDITS),
                self.fetcher(3, PROVISIONING)]
        rcs, sk, fwd = self.finish(pids)
        self.assertEqual((rcs, sk, fwd), ([0, 0, 0], 0, 0), self.sk_text())
        self.assertEqual(sorted(self.output()),
                         self.want(self.signins, self.audits, self.provisioning))
        rows = self.rows()
        self.assertEqual(rows[("graph", md5(SIGNINS))][1],
                         max(i["createdDateTime"] for i in self.signins))
        self.assertEqual(rows[("graph", md5(AUDITS))][1],
                         max(i["activityDateTime"] for i in self.audits))
        self.assertEqual(rows[("graph", md5(PROVISIONING))][1],
                         max(i["activityDateTime"] for i in self.provisioning))
        log = self.sk_text()
        self.assertIn("events fetched", log)
        self.assertNotIn("ERROR", log)

        # Again: nothing new, nothing sent, no checkpoint moves.
        os.unlink(self.out)
        self.start(3)
        pids = [self.fetcher(3, SIGNINS), self.fetcher(1, AUDITS),
                self.fetcher(2, PROVISIONING)]
        self.assertEqual(self.finish(pids), ([0, 0, 0], 0, 0), self.sk_text())
        self.assertEqual(self.output(), [])
        self.assertEqual(self.rows(), rows)

    def test_same_query_twice_delivers_as_one_run(self):
        self.start(3)
        pids = [self.fetcher(1, SIGNINS), self.fetcher(2, SIGNINS),
                self.fetcher(3, AUDITS)]
        self.assertEqual(self.finish(pids), ([0, 0, 0], 0, 0), self.sk_text())
        self.assertEqual(sorted(self.output()),
                         self.want(self.signins, self.audits))
        self.assertEqual(self.rows()[("graph", md5(SIGNINS))][1],
                         max(i["createdDateTime"] for i in self.signins))
        # The second window began where the first left the row.
        cps = re.findall(r"Checkpoint of graph %s: min (\S+), max (\S+)"
                         % md5(SIGNINS), self.sk_text())
        self.assertEqual(len(cps), 2, self.sk_text())
        self.assertEqual(cps[1][1],
                         max(i["createdDateTime"] for i in self.signins))

    def test_key_lock_second_hello_waits_for_the_window(self):
        """Channel 1 holds the window of SIGNINS open (scripted, events
        sent, DONE not yet); channel 2's azure-graph for SIGNINS gets its
        CHECKPOINT only once that window is finished, from the moved
        checkpoint."""
        newest = sorted(self.signins, key=lambda i: i["createdDateTime"])[-5:]
        events = [(i["createdDateTime"], i["id"], wazuh_payload(i))
                  for i in newest]
        self.start(3)
        gate, result = threading.Event(), []
        th = self.scripted(1, SIGNINS, events, gate=gate, result=result)
        self.wait_log(r"Checkpoint of graph %s" % md5(SIGNINS))
        second = self.fetcher(2, SIGNINS)
        other = self.fetcher(3, AUDITS)
        self.wait_log(r"the fetcher 2 waits for the fetcher 1 to finish "
                      r"its window of graph %s" % md5(SIGNINS))
        gate.set()
        th.join(WAIT)
        self.assertEqual(self.finish([second, other]), ([0, 0], 0, 0),
                         self.sk_text())
        # RESULT: ok, 5 delivered, no duplicates, none dead-lettered.
        self.assertEqual(result, [1, RESULT, True, 5, 0, 0])
        cps = re.findall(r"Checkpoint of graph %s: min (\S+), max (\S+)"
                         % md5(SIGNINS), self.sk_text())
        self.assertEqual(len(cps), 2, self.sk_text())
        top = newest[-1]["createdDateTime"]
        self.assertEqual(cps[1][1], top)
        # From there the overlap (15 min) reaches back: older sign-ins are
        # behind the checkpoint; none is sent twice.
        self.assertEqual(sorted(self.output()), self.want(newest, self.audits))
        self.assertEqual(self.rows()[("graph", md5(SIGNINS))][1], top)

    def test_bad_hello_does_not_release_the_key_lock(self):
        """Channel 1 holds the window of SIGNINS (scripted, DONE not yet),
        channel 3's azure-graph for SIGNINS waits for it, and channel 2
        sends a HELLO of SIGNINS that fails the checks (a negative
        overlap). Channel 2 ends as broken without ever holding the row:
        channel 3 still gets its CHECKPOINT only once channel 1's window
        is finished, from the moved checkpoint, and nothing is sent
        twice."""
        newest = sorted(self.signins, key=lambda i: i["createdDateTime"])[-5:]
        events = [(i["createdDateTime"], i["id"], wazuh_payload(i))
                  for i in newest]
        self.start(3)
        gate, result = threading.Event(), []
        th = self.scripted(1, SIGNINS, events, gate=gate, result=result)
        self.wait_log(r"Checkpoint of graph %s" % md5(SIGNINS))
        waiting = self.fetcher(3, SIGNINS)
        self.wait_log(r"the fetcher 3 waits for the fetcher 1 to finish "
                      r"its window of graph %s" % md5(SIGNINS))
        w, r = self.channel(2)
        os.write(w, frame(HELLO, "graph", md5(SIGNINS), SIGNINS, 86400,
                          False, "", -1))
        self.wait_log(r"protocol error from the fetcher 2: bad HELLO")
        os.close(w)
        os.close(r)
        self.wait_log(r"the fetcher 2 ended")
        gate.set()
        th.join(WAIT)
        self.assertEqual(self.finish([waiting]), ([0], 1, 0), self.sk_text())
        self.assertEqual(result, [1, RESULT, True, 5, 0, 0])
        log = self.sk_text()
        # The lock passed from channel 1's finished window, not from the
        # broken channel 2 (whose end came first).
        start3 = log.index("the fetcher 3 may start its window")
        self.assertLess(log.index("the fetcher 2 ended"), start3)
        self.assertLess(log.index("graph %s: 5 events fetched"
                                  % md5(SIGNINS)), start3, log)
        cps = re.findall(r"Checkpoint of graph %s: min (\S+), max (\S+)"
                         % md5(SIGNINS), log)
        self.assertEqual(len(cps), 2, log)
        top = newest[-1]["createdDateTime"]
        self.assertEqual(cps[1][1], top)
        self.assertEqual(sorted(self.output()), self.want(newest))
        self.assertEqual(self.rows()[("graph", md5(SIGNINS))][1], top)

    def flooder(self, i, n, then):
        """A storage fetcher written in Python on channel i that does not
        read its replies: HELLO, its CHECKPOINT, then n BLOBQs at once
        (far more than the statekeeper queues for it), then "done" (DONE
        ok) or "close" (what its pipe takes, then, once self.stop is set,
        its ends closed). Returns (thread, the read end of its replies,
        the errors it met)."""
        w, r = self.channel(i)
        errors = []
        os.write(w, frame(HELLO, "storage", md5("flood"), "flood", 86400,
                          False, md5("account"), 900))
        self.assertEqual(read_frame(r)[1], CHECKPOINT)
        flood = b"".join(frame(BLOBQ, "logs", "b%06d" % k) for k in range(n))

        self.stop = threading.Event()

        def run():
            nonlocal flood
            try:
                if then == "close":
                    os.set_blocking(w, False)
                    while flood and not self.stop.is_set():
                        try:
                            flood = flood[os.write(w, flood):]
                        except BlockingIOError:
                            self.stop.wait(0.01)
                    return
                os.write(w, flood)  # blocks while the statekeeper waits
                if then == "done":
                    os.write(w, frame(DONE, True, 0))
            except OSError as e:
                errors.append(e)
            finally:
                os.close(w)
                if then == "close":
                    os.close(r)

        th = threading.Thread(target=run, daemon=True)
        th.start()
        return th, r, errors

    def wait_flooded(self, th):
        """Until the statekeeper stopped reading the flooder (or, without
        back-pressure, the flood went through or broke it)."""
        deadline = time.time() + WAIT
        while (th.is_alive() and "does not read its replies"
               not in self.sk_text()):
            self.assertLess(time.time(), deadline, self.sk_text())
            time.sleep(0.02)

    def test_fetcher_that_does_not_read_its_replies(self):
        """A storage fetcher floods BLOBQs without reading the BLOBSTATEs:
        the statekeeper reads it no further until it reads them (never
        failing the whole run), a real fetcher beside it completes, and
        once the flooder reads, every BLOBQ is answered in order and its
        window completes."""
        n = 200000
        self.start(2)
        th, r, errors = self.flooder(1, n, "done")
        self.wait_flooded(th)
        self.assertIn("the fetcher 1 does not read its replies",
                      self.sk_text())
        self.assertEqual(self.status(self.fetcher(2, SIGNINS)), 0,
                         self.sk_text())
        # Now it reads: n BLOBSTATEs (none known), then its RESULT.
        data, pos, frames = b"", 0, []
        while len(frames) < n + 1:
            chunk = os.read(r, 1 << 20)
            self.assertTrue(chunk, "EOF after %d replies: %s"
                            % (len(frames), self.sk_text()))
            data = data[pos:] + chunk
            pos = 0
            while len(data) - pos >= 4:
                size = struct.unpack(">I", data[pos:pos + 4])[0]
                if len(data) - pos - 4 < size:
                    break
                frames.append(unpack(data[pos + 4:pos + 4 + size]))
                pos += 4 + size
        os.close(r)
        th.join(WAIT)
        self.assertEqual(errors, [])
        self.assertEqual(frames[:n], [[1, BLOBSTATE, "", -1]] * n)
        self.assertEqual(frames[n], [1, RESULT, True, 0, 0, 0])
        self.assertEqual(self.finish([]), ([], 0, 0), self.sk_text())
        self.assertEqual(sorted(self.output()), self.want(self.signins))
        self.assertNotIn("CRITICAL", self.sk_text())

    def test_one_channel_fetcher_that_does_not_read(self):
        """On fds 0/1 the same: a fetcher that floods BLOBQs and reads
        its replies only later is waited for, not a fatal error; every
        BLOBQ is answered and its window completes."""
        n = 200000
        self.start(None)
        th, r, errors = self.flooder(1, n, "done")
        self.wait_flooded(th)
        self.assertIn("the fetcher does not read its replies",
                      self.sk_text())
        got, data = 0, b""
        while True:  # n BLOBSTATEs, then the RESULT
            chunk = os.read(r, 1 << 20)
            self.assertTrue(chunk, "EOF after %d replies: %s"
                            % (got, self.sk_text()))
            data += chunk
            pos = 0
            while len(data) - pos >= 4:
                size = struct.unpack(">I", data[pos:pos + 4])[0]
                if len(data) - pos - 4 < size:
                    break
                got += 1
                last = unpack(data[pos + 4:pos + 4 + size])
                pos += 4 + size
            data = data[pos:]
            if got == n + 1:
                break
        os.close(r)
        th.join(WAIT)
        self.assertEqual(errors, [])
        self.assertEqual(last, [1, RESULT, True, 0, 0, 0])
        self.assertEqual(self.finish([]), ([], 0, 0), self.sk_text())
        self.assertNotIn("CRITICAL", self.sk_text())

    def test_fetcher_gone_without_reading_its_replies(self):
        """The flooder closes its ends without ever reading: its channel
        ends as broken (status 1), the real fetcher beside it completes
        and its checkpoint moves."""
        self.start(2)
        th, _, errors = self.flooder(1, 200000, "close")
        self.wait_flooded(th)
        self.stop.set()
        self.assertEqual(self.status(self.fetcher(2, SIGNINS)), 0,
                         self.sk_text())
        self.assertEqual(self.finish([]), ([], 1, 0), self.sk_text())
        th.join(WAIT)
        log = self.sk_text()
        self.assertRegex(log, r"the fetcher 1 stopped with \d+ bytes of "
                         r"replies unread")
        self.assertNotIn("CRITICAL", log)
        self.assertEqual(sorted(self.output()), self.want(self.signins))
        self.assertEqual(self.rows()[("graph", md5(SIGNINS))][1],
                         max(i["createdDateTime"] for i in self.signins))

    def test_one_fetcher_dies_the_others_complete(self):
        """Channel 2 sends three events and dies in the middle of a frame,
        channel 4 breaks the protocol: their checkpoints stay, what they
        sent was delivered and is remembered; channels 1 and 3 complete."""
        now = utcnow()
        fake = [(iso(now - (30 - k) * M), "dead-%d" % k,
                 b'{"n": %d, "x": "dead"}' % k) for k in range(3)]
        self.start(4)
        pids = [self.fetcher(1, SIGNINS), self.fetcher(3, PROVISIONING)]
        cut = self.scripted(2, AUDITS, fake, then="cut")
        bad = self.scripted(4, "auditLogs/other", [], then="garbage")
        rcs, sk, fwd = self.finish(pids)
        cut.join(WAIT)
        bad.join(WAIT)
        self.assertEqual((rcs, sk, fwd), ([0, 0], 1, 0), self.sk_text())
        log = self.sk_text()
        self.assertIn("the fetcher 2's last frame was cut short: dropped", log)
        self.assertIn("the fetcher 2 ended before finishing its window; 3 "
                      "events were delivered, the checkpoint stays", log)
        self.assertIn("protocol error from the fetcher 4: second HELLO", log)
        out = self.output()
        self.assertEqual(sorted(out), sorted(
            self.want(self.signins, self.provisioning) +
            [b for _, _, b in fake]))
        rows = self.rows()
        self.assertEqual(rows[("graph", md5(SIGNINS))][1],
                         max(i["createdDateTime"] for i in self.signins))
        self.assertEqual(rows[("graph", md5(PROVISIONING))][1],
                         max(i["activityDateTime"] for i in self.provisioning))
        # A new row, unmoved: as the HELLO made it.
        mn, mx = rows[("graph", md5(AUDITS))]
        self.assertEqual(mn, mx)
        self.assertLess(mx, min(t for t, _, _ in fake))

        # The dead fetcher's events were remembered: sent again, they are
        # dropped as duplicates.
        os.unlink(self.out)
        self.start(1)
        result = []
        self.scripted(1, AUDITS, fake, result=result).join(WAIT)
        self.assertEqual(self.finish([]), ([], 0, 0), self.sk_text())
        self.assertEqual(result, [1, RESULT, True, 0, 3, 0])
        self.assertEqual(self.output(), [])
        self.assertEqual(self.rows()[("graph", md5(AUDITS))][1], fake[-1][0])

    def test_killed_mid_window(self):
        """A real azure-graph killed (-9) in the middle of its window
        (its second page held back by the mock): the others complete, its
        checkpoint stays; the next run sends the rest, and nothing
        twice."""
        self.mock.control("fail", {"match": "skiptoken", "pass": True,
                                   "delay": 30, "count": 1})
        self.start(3)
        victim = self.fetcher(1, SIGNINS)
        log = os.path.join(self.home, "fetcher%d.1.log" % self.runs)
        deadline = time.time() + WAIT
        while "skiptoken" not in self.text(log):
            self.assertLess(time.time(), deadline)
            time.sleep(0.02)
        others = [self.fetcher(2, AUDITS), self.fetcher(3, PROVISIONING)]
        os.kill(victim, 9)
        self.assertEqual(self.status(victim), -9)
        self.assertEqual(self.finish(others), ([0, 0], 1, 0), self.sk_text())
        self.assertIn("the fetcher 1 ended before finishing its window",
                      self.sk_text())
        first = self.output()
        got = [p for p in first if p in set(self.want(self.signins))]
        self.assertEqual(sorted(set(first) - set(got)),
                         self.want(self.audits, self.provisioning))
        self.assertEqual(len(first), len(set(first)))
        mn, mx = self.rows()[("graph", md5(SIGNINS))]
        self.assertEqual(mn, mx)

        os.unlink(self.out)
        self.start(1)
        self.assertEqual(self.finish([self.fetcher(1, SIGNINS)]),
                         ([0], 0, 0), self.sk_text())
        self.assertEqual(sorted(got + self.output()), self.want(self.signins))
        self.assertEqual(self.rows()[("graph", md5(SIGNINS))][1],
                         max(i["createdDateTime"] for i in self.signins))

    def test_killed_waiting_fetcher(self):
        """A real azure-graph killed (-9) while its HELLO waits for the
        window of another channel: the others complete, its checkpoint
        stays."""
        self.start(3)
        gate = threading.Event()
        # Channel 2 holds AUDITS' window while channel 3's azure-graph
        # waits for it: kill the waiting one.
        holder = self.scripted(2, AUDITS, [], gate=gate)
        self.wait_log(r"Checkpoint of graph %s" % md5(AUDITS))
        first = self.fetcher(1, SIGNINS)
        victim = self.fetcher(3, AUDITS)
        self.wait_log(r"the fetcher 3 waits for the fetcher 2")
        os.kill(victim, 9)
        self.assertEqual(self.status(victim), -9)
        self.wait_log(r"the fetcher 3 ended while its window of graph %s "
                      r"waited" % md5(AUDITS))
        gate.set()
        holder.join(WAIT)
        rcs, sk, fwd = self.finish([first])
        self.assertEqual((rcs, sk, fwd), ([0], 1, 0), self.sk_text())
        self.assertEqual(sorted(self.output()), self.want(self.signins))
        rows = self.rows()
        mn, mx = rows[("graph", md5(AUDITS))]
        self.assertEqual(mn, mx)  # the holder sent nothing: not moved
        self.assertEqual(rows[("graph", md5(SIGNINS))][1],
                         max(i["createdDateTime"] for i in self.signins))


    def test_one_channel_on_fds_0_1(self):
        """Without --fifos: one fetcher on fds 0/1, as the launcher runs
        one request. A RESULT follows its DONE; a protocol error (a DONE
        that miscounts) leaves the checkpoint, and what was sent before is
        delivered and remembered."""
        now = utcnow()
        fake = [(iso(now - (20 - k) * M), "one-%d" % k,
                 b'{"n": %d, "x": "one"}' % k) for k in range(4)]
        self.start(None)
        self.scripted(1, SIGNINS, fake[:2], then="miscount").join(WAIT)
        self.assertEqual(self.finish([]), ([], 1, 0), self.sk_text())
        self.assertIn("the fetcher counted 3 events, 2 arrived",
                      self.sk_text())
        self.assertIn("the fetcher ended before finishing its window; 2 "
                      "events were delivered", self.sk_text())
        self.assertEqual(sorted(self.output()),
                         sorted(b for _, _, b in fake[:2]))
        mn, mx = self.rows()[("graph", md5(SIGNINS))]
        self.assertEqual(mn, mx)

        os.unlink(self.out)
        self.start(None)
        result = []
        self.scripted(1, SIGNINS, fake, result=result).join(WAIT)
        self.assertEqual(self.finish([]), ([], 0, 0), self.sk_text())
        self.assertEqual(result, [1, RESULT, True, 2, 2, 0])
        self.assertEqual(sorted(self.output()),
                         sorted(b for _, _, b in fake[2:]))
        self.assertEqual(self.rows()[("graph", md5(SIGNINS))][1],
                         fake[-1][0])


class Usage(unittest.TestCase):
    def test_fifos_needs_requests(self):
        p = subprocess.run([os.path.join(BINDIR, "azure-statekeeper"), "--db",
                            "/nonexistent/azure.db", "--fifos", "/tmp"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 100)
        self.assertIn("--fifos and --requests go together", p.stderr)

    def test_help_names_the_options(self):
        p = subprocess.run([os.path.join(BINDIR, "azure-statekeeper"),
                            "--help"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        self.assertIn("--fifos DIR --requests M", p.stdout)


if __name__ == "__main__":
    unittest.main()
