"""End-to-end: azure-statekeeper --list, --reset and --set on a real azure.db
(made by real runs of the launcher against the mock) and on a storage
database with Wazuh's schema: what they show, that the next run starts
anew or from the moved checkpoint, and that a busy or corrupt database is
left untouched."""

import datetime
import hashlib
import json
import os
import sqlite3
import subprocess
import time
import unittest

from harness import (TOP, PipelineTest, StorageTest, azurite, gen_graph, iso, md5,
                     storage_key, storage_lines, storage_payload, utcnow,
                     wazuh_payload)

H = datetime.timedelta(hours=1)
M = datetime.timedelta(minutes=1)
SIGNINS = "auditLogs/signIns"
BINDIR = os.environ.get("AZURE_LOGS_BINDIR", os.path.join(TOP, "bin"))
SK = os.path.join(BINDIR, "azure-statekeeper")
ARROW = "\u2192"


def signins(count, start, end, seed):
    return gen_graph.gen_signins(count, iso(start), iso(end), seed=seed)


def sk(*args):
    p = subprocess.run([SK] + list(args), capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def wazuh_schema(con):
    """Wazuh's tables, as SQLAlchemy creates them."""
    for t in ("graph", "log_analytics", "storage"):
        con.execute("CREATE TABLE %s (md5 TEXT NOT NULL, query TEXT NOT NULL, "
                    "min_processed_date VARCHAR(28) NOT NULL, "
                    "max_processed_date VARCHAR(28) NOT NULL, PRIMARY KEY (md5), "
                    "CONSTRAINT md5_restriction UNIQUE (md5))" % t)
    con.execute("CREATE TABLE storage_blob_offset (md5 TEXT NOT NULL, "
                "container TEXT NOT NULL, blob TEXT NOT NULL, creation_time TEXT "
                "NOT NULL, processed_bytes INTEGER NOT NULL, PRIMARY KEY (md5, "
                "container, blob))")


class GraphTools(PipelineTest):
    """A real azure.db: runs of the launcher, the tools in between."""
    page_size = 100

    def setUp(self):
        now = utcnow()
        # 300 in the 1-day window, 40 older than it (60 h .. 30 h ago).
        self.inside = signins(300, now - 20 * H, now - 2 * M, 1)
        self.outside = signins(40, now - 60 * H, now - 30 * H, 2)
        self.events = {SIGNINS: self.inside + self.outside}
        super().setUp()
        self.key = md5(SIGNINS)

    def ids(self):
        con = sqlite3.connect(self.db)
        try:
            kid = con.execute("SELECT kid FROM azure_logs_key WHERE service = "
                              "'graph' AND md5 = ?", (self.key,)).fetchone()
            if kid is None:
                return 0
            return sum(con.execute("SELECT count(*) FROM %s WHERE kid = ?" % t,
                                   kid).fetchone()[0]
                       for t in ("azure_logs_seen", "azure_logs_seen_recent"))
        finally:
            con.close()

    def first_run(self):
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.inside))
        return self.row("graph", self.key)

    def test_list_table_and_json(self):
        row = self.first_run()
        before = sha256(self.db)
        rc, out, err = sk("--db", self.db, "--list")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["SERVICE", "KEY", "QUERY", "MIN", "MAX",
                                            "BLOBS", "SEEN_IDS"])
        self.assertEqual(len(lines), 2, out)
        # The ids remembered: those within the overlap of the newest.
        seen = self.ids()
        self.assertGreater(seen, 0)
        self.assertLess(seen, 300)
        self.assertEqual(lines[1].split(),
                         ["graph", self.key, SIGNINS, row[2], row[3], "0", str(seen)])
        # Columns line up under the header.
        self.assertEqual(lines[0].index("QUERY"), lines[1].index(SIGNINS))
        self.assertEqual(lines[0].index("MAX"), lines[1].index(row[3]))

        rc, out, err = sk("--db", self.db, "--list", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), {"checkpoints": [{
            "service": "graph", "key": self.key, "query": SIGNINS,
            "min": row[2], "max": row[3], "blobs": 0, "blobs_uncertain": False,
            "seen_ids": seen}]})
        self.assertEqual(self.ids(), seen)
        self.assertEqual(sha256(self.db), before)  # read-only
        self.assertEqual(self.row("graph", self.key), row)

    def test_reset_then_next_run_starts_anew(self):
        row = self.first_run()
        rc, got = self.run_launcher()
        self.assertEqual((rc, got), (0, []))  # nothing new
        seen = self.ids()
        self.assertGreater(seen, 0)

        # A unique prefix of 10 digits names it.
        rc, out, err = sk("--db", self.db, "--reset", self.key[:10])
        self.assertEqual(rc, 0, err)
        self.assertIn("graph %s (query \"%s\")" % (self.key, SIGNINS), out)
        self.assertIn("min       %s %s (none)" % (row[2], ARROW), out)
        self.assertIn("max       %s %s (none)" % (row[3], ARROW), out)
        self.assertIn("seen_ids  %d %s 0" % (seen, ARROW), out)
        self.assertIsNone(self.row("graph", self.key))
        self.assertEqual(self.ids(), 0)
        rc, out, err = sk("--db", self.db, "--list", "--json")
        self.assertEqual(json.loads(out), {"checkpoints": []})

        # As for a new request: now - 1d, and the window's events again.
        rc, got = self.run_launcher()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertIn("was not found in the database for graph. Adding it.",
                      self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.inside))

        # Unknown now: a clear error, exit 1.
        rc, out, err = sk("--db", self.db, "--reset", "0123456789abcdef")
        self.assertEqual(rc, 1)
        self.assertIn("no checkpoint 0123456789abcdef in", err)

    def test_set_moves_the_next_window(self):
        row = self.first_run()
        seen = self.ids()
        now = utcnow()
        new_min = iso(now - 70 * H)
        new_max = iso(now - 65 * H)
        rc, out, err = sk("--db", self.db, "--set", self.key, "--min", new_min,
                          "--max", new_max)
        self.assertEqual(rc, 0, err)
        got_row = self.row("graph", self.key)
        # Canonical form, as the statekeeper writes it.
        self.assertRegex(got_row[2], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6,7}Z$")
        self.assertEqual(got_row[2][:19], new_min[:19])
        self.assertEqual(got_row[3][:19], new_max[:19])
        self.assertEqual(got_row[1], SIGNINS)  # the query is kept
        self.assertIn("min  %s %s %s" % (row[2], ARROW, got_row[2]), out)
        self.assertIn("max  %s %s %s" % (row[3], ARROW, got_row[3]), out)

        # Without a time offset the next window starts at max (less the
        # overlap): 65 h ago. The 40 older events, never delivered, come
        # now, and those of the 300 delivered before whose ids are no
        # longer remembered come again.
        rc, got = self.run_launcher(offset=None)
        self.assertEqual(rc, 0, self.last_stderr)
        got = self.payloads(got)
        self.assertEqual(len(got), len(set(got)))
        self.assertTrue(set(wazuh_payload(i) for i in self.outside) <= set(got), (len(got), self.last_stderr[-3000:]))
        self.assertTrue(set(got) <= set(wazuh_payload(i)
                                        for i in self.inside + self.outside))
        self.assertEqual(len(got), 340 - seen)
        first = [r for r in self.mock.requests()
                 if r["path"].lower().startswith("/v1.0/")][-1]
        self.assertIn(new_max[:10], json.dumps(first))

        # Only --max: min stays.
        rc, out, err = sk("--db", self.db, "--set", self.key, "--max",
                          iso(now - 66 * H))
        self.assertEqual(rc, 0, err)
        self.assertIn("(unchanged)", out)
        self.assertEqual(self.row("graph", self.key)[2], got_row[2])

    def test_bad_dates_and_keys_change_nothing(self):
        row = self.first_run()
        seen = self.ids()
        cases = [
            (["--set", self.key, "--min", "yesterday"], 1, "--min yesterday: not a date"),
            (["--set", self.key, "--max", "2026-13-01T00:00:00Z"], 1,
             "--max 2026-13-01T00:00:00Z: not a date"),
            (["--set", self.key, "--min", iso(utcnow() - 2 * H),
              "--max", iso(utcnow() - 3 * H)], 1, "is after max"),
            (["--set", self.key, "--max", "2099-01-01T00:00:00Z"], 1, "in the future"),
            (["--set", self.key, "--min", "2000-01-01T00:00:00Z",
              "--max", "2000-01-02T00:00:00Z", "--service", "storage"], 1,
             "no checkpoint %s in table storage" % self.key),
            (["--reset", "not-a-key"], 1, "not a checkpoint key"),
            (["--reset", "abc"], 1, "not a checkpoint key"),
            (["--set", self.key], 100, "needs --min"),
            (["--reset", self.key, "--service", "nope"], 100, "--service nope"),
            (["--list", "--reset", self.key], 100, "one of --list"),
            (["--reset", self.key, "--min", "2020-01-01"], 100, "go with --set"),
        ]
        for args, status, msg in cases:
            rc, out, err = sk("--db", self.db, *args)
            self.assertEqual(rc, status, (args, err))
            self.assertIn(msg, err, args)
            self.assertEqual(out, "", args)
        rc, out, err = sk("--list")
        self.assertEqual(rc, 100)
        self.assertEqual(self.row("graph", self.key), row)
        self.assertEqual(self.ids(), seen)
        rc, out, err = sk("--db", os.path.join(self.home, "none.db"), "--list")
        self.assertEqual(rc, 1)
        self.assertIn("does not exist", err)
        self.assertFalse(os.path.exists(os.path.join(self.home, "none.db")))

    def test_busy_database_is_refused(self):
        row = self.first_run()
        seen = self.ids()
        con = sqlite3.connect(self.db, isolation_level=None)
        try:
            # A write transaction open (a statekeeper committing ids).
            con.execute("BEGIN IMMEDIATE")
            for args in (["--reset", self.key], ["--set", self.key, "--max", row[2]]):
                rc, out, err = sk("--db", self.db, *args)
                self.assertEqual(rc, 1, err)
                self.assertIn("is busy (is azure-logs running?)", err)
                self.assertEqual(out, "")
            con.execute("COMMIT")
            # Open, between transactions (a statekeeper mid-run): refused
            # too, or its end of window would undo the change.
            con.execute("SELECT count(*) FROM graph").fetchone()
            rc, out, err = sk("--db", self.db, "--reset", self.key)
            self.assertEqual(rc, 1, err)
            self.assertIn("is busy (is azure-logs running?)", err)
            # Reading is fine meanwhile.
            rc, out, err = sk("--db", self.db, "--list")
            self.assertEqual(rc, 0, err)
        finally:
            con.close()
        self.assertEqual(self.row("graph", self.key), row)
        self.assertEqual(self.ids(), seen)
        rc, out, err = sk("--db", self.db, "--reset", self.key)
        self.assertEqual(rc, 0, err)
        self.assertIsNone(self.row("graph", self.key))


def setUpModule():
    StorageTest.start_azurite()


def tearDownModule():
    StorageTest.stop_azurite()


class DuringARun(PipelineTest):
    """The tools beside a real run of the launcher."""
    page_size = 100

    def setUp(self):
        now = utcnow()
        self.items = signins(300, now - 20 * H, now - 2 * M, 3)
        self.events = {SIGNINS: self.items}
        super().setUp()

    def test_changes_refused_while_a_run_has_the_database(self):
        key = md5(SIGNINS)
        # The second page comes 8 s late: the run is mid-window then, its
        # statekeeper holding azure.db, the first page delivered.
        self.mock.control("fail", {"match": "skiptoken", "pass": True,
                                   "delay": 8, "count": 1})
        p = subprocess.Popen(self.graph_command(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            while True:
                with self.sink.lock:
                    if self.sink.datagrams:
                        break
                self.assertIsNone(p.poll(), "the run ended before a page came")
                time.sleep(0.05)
            self.assertIsNotNone(self.row("graph", key))
            rc_reset, out, err_reset = sk("--db", self.db, "--reset", key)
            rc_set, out2, err_set = sk("--db", self.db, "--set", key, "--max",
                                       iso(utcnow() - 30 * H))
            rc_list, listed, _ = sk("--db", self.db, "--list", "--json")
            still_running = p.poll() is None
        finally:
            _, stderr = p.communicate(timeout=120)
        if not still_running:
            self.skipTest("the run ended before the tools did: inconclusive")
        self.assertEqual(p.returncode, 0, stderr.decode(errors="replace"))
        for rc, err in ((rc_reset, err_reset), (rc_set, err_set)):
            self.assertEqual(rc, 1, err)
            self.assertIn("is busy (is azure-logs running?): nothing was changed", err)
        self.assertEqual(rc_list, 0)  # reading is fine meanwhile
        self.assertEqual(json.loads(listed)["checkpoints"][0]["key"], key)
        # The run went on undisturbed: everything once, the checkpoint moved.
        self.assertEqual(sorted(self.payloads(self.sink.take())),
                         sorted(wazuh_payload(i) for i in self.items))
        self.assertEqual(self.row("graph", key)[3],
                         max(i["createdDateTime"] for i in self.items))


class StorageRun(StorageTest):
    """A real storage run against Azurite: its blob offsets and ids."""

    def test_reset_sends_the_window_again(self):
        c = self.container("tools")
        first = b"".join(b'{"n": %d, "text": "line %d"}\n' % (i, i) for i in range(20))
        second = b'plain text one\nplain text two\n'
        self.blob.create_append_blob(c, "a/one.json", first)
        self.blob.create_append_blob(c, "b/two.log", second)
        want = sorted(storage_payload(x) for x in storage_lines(first) + storage_lines(second))
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)), want)
        key = storage_key(c)
        row = self.storage_row(c)

        self.assertEqual(len(self.blob_offsets(c)), 2)
        rc, out, err = sk("--db", self.db, "--list", "--json")
        self.assertEqual(rc, 0, err)
        (cp,) = json.loads(out)["checkpoints"]
        self.assertEqual((cp["service"], cp["key"], cp["query"], cp["min"], cp["max"],
                          cp["blobs"]), ("storage", key, c, row[2], row[3], 2))
        self.assertEqual(cp["seen_ids"], 22)  # every line: all within the overlap
        rc, out, err = sk("--db", self.db, "--list")
        self.assertEqual(out.splitlines()[1].split(),
                         ["storage", key, c, row[2], row[3], "2", "22"])

        rc, got = self.run_storage(c)
        self.assertEqual((rc, got), (0, []))
        rc, out, err = sk("--db", self.db, "--reset", key, "--account", azurite.ACCOUNT)
        self.assertEqual(rc, 0, err)
        self.assertIn("blobs     2 %s 0" % ARROW, out)
        self.assertIn("seen_ids  22 %s 0" % ARROW, out)
        self.assertEqual(self.blob_offsets(c), {})
        self.assertIsNone(self.storage_row(c))
        # A new request: now - 1h holds both blobs, read from their start.
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)), want)
        self.assertEqual(len(self.blob_offsets(c)), 2)


class StorageAndBrokenDatabases(unittest.TestCase):
    """A storage database with Wazuh's schema and our rows beside it."""

    def setUp(self):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="azure-tools-")
        self.db = os.path.join(self.dir, "azure.db")
        con = sqlite3.connect(self.db)
        wazuh_schema(con)
        self.w1 = md5("acct1")  # Wazuh's row of account acct1
        self.w2 = md5("acct2")
        self.c1 = md5("account=acct1|container=logs")  # ours
        self.c2 = md5("account=acct2|container=logs")
        d = "2026-01-02T03:04:05.000000Z"
        for key, q in ((self.w1, ""), (self.c1, "logs"), (self.c2, "logs")):
            con.execute("INSERT INTO storage VALUES (?, ?, ?, ?)", (key, q, d, d))
        con.execute("INSERT INTO graph VALUES (?, ?, ?, ?)",
                    (md5("auditLogs/directoryAudits"), "auditLogs/directoryAudits", d, d))
        for acct, container, blob in (("acct1", "logs", "a/1.json"),
                                      ("acct1", "logs", "a/2.json"),
                                      ("acct1", "other", "b/1.json"),
                                      ("acct2", "logs", "c/1.json")):
            con.execute("INSERT INTO storage_blob_offset VALUES (?, ?, ?, ?, ?)",
                        (md5(acct), container, blob, d, 100))
        con.commit()
        con.close()

    def tearDown(self):
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)

    def offsets(self):
        con = sqlite3.connect(self.db)
        try:
            return sorted(con.execute("SELECT md5, container, blob FROM "
                                      "storage_blob_offset").fetchall())
        finally:
            con.close()

    def listed(self, *extra):
        rc, out, err = sk("--db", self.db, "--list", "--json", *extra)
        self.assertEqual(rc, 0, err)
        return {c["key"]: c for c in json.loads(out)["checkpoints"]}

    def test_blobs_listed_and_reset(self):
        got = self.listed()
        self.assertEqual(len(got), 4)
        self.assertEqual(got[self.w1]["blobs"], 3)  # every container of acct1
        self.assertEqual(got[self.w1]["service"], "storage")
        # "logs" has offsets under two accounts: both counted without
        # --account; the table marks it.
        self.assertEqual(got[self.c1]["blobs"], 3)
        self.assertEqual(got[md5("auditLogs/directoryAudits")]["blobs"], 0)
        self.assertEqual(self.listed("--account", "acct1")[self.c1]["blobs"], 2)
        self.assertEqual(self.listed("--account", "acct2")[self.c2]["blobs"], 1)
        rc, out, err = sk("--db", self.db, "--list")
        self.assertIn("3*", out)
        self.assertIn("--account NAME", out)

        before = self.offsets()
        rc, out, err = sk("--db", self.db, "--reset", self.c1)
        self.assertEqual(rc, 1)
        self.assertIn("name the account", err)
        rc, out, err = sk("--db", self.db, "--reset", self.c1, "--account", "acct2")
        self.assertEqual(rc, 1)
        self.assertIn("is not the checkpoint of container \"logs\"", err)
        self.assertEqual(self.offsets(), before)

        rc, out, err = sk("--db", self.db, "--reset", self.c1, "--account", "acct1")
        self.assertEqual(rc, 0, err)
        self.assertIn("blobs     2 %s 0" % ARROW, out)
        self.assertEqual(self.offsets(), sorted([
            (self.w1, "other", "b/1.json"), (self.w2, "logs", "c/1.json")]))
        got = self.listed()
        self.assertNotIn(self.c1, got)
        # Now only acct2 keeps offsets of "logs": no --account needed.
        self.assertEqual(got[self.c2]["blobs"], 1)
        rc, out, err = sk("--db", self.db, "--reset", self.c2)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.offsets(), [(self.w1, "other", "b/1.json")])
        # Wazuh's account row: its own offsets go with it.
        rc, out, err = sk("--db", self.db, "--reset", self.w1)
        self.assertEqual(rc, 0, err)
        self.assertIn("every container of the account", out)
        self.assertEqual(self.offsets(), [])

    def test_reset_never_deletes_another_accounts_offsets(self):
        """Accounts A and B both have a container "logs", only B keeps
        offsets of it: resetting A's checkpoint without --account must
        not take B's offsets for A's (the account is not certain: refused,
        and --list marks the count); with --account A it deletes none of
        B's. The same with only A's checkpoint of "logs" but a row of
        Wazuh's for B (whose offsets may be of B's "logs")."""
        ca = md5("account=A|container=logs")
        cb = md5("account=B|container=logs")
        d = "2026-01-02T03:04:05.000000Z"
        con = sqlite3.connect(self.db)
        con.execute("DELETE FROM storage")
        con.execute("DELETE FROM storage_blob_offset")
        for key in (ca, cb):
            con.execute("INSERT INTO storage VALUES (?, ?, ?, ?)",
                        (key, "logs", d, d))
        con.execute("INSERT INTO storage_blob_offset VALUES (?, ?, ?, ?, ?)",
                    (md5("B"), "logs", "x/1.json", d, 100))
        con.commit()
        con.close()
        before = self.offsets()
        rc, out, err = sk("--db", self.db, "--reset", ca)
        self.assertEqual(self.offsets(), before)
        self.assertEqual(rc, 1, out)
        self.assertIn("name the account", err)
        got = self.listed()
        self.assertEqual((got[ca]["blobs"], got[ca]["blobs_uncertain"]),
                         (1, True))
        self.assertEqual(self.listed("--account", "A")[ca]["blobs"], 0)
        self.assertFalse(self.listed("--account", "A")[ca]["blobs_uncertain"])
        rc, out, err = sk("--db", self.db, "--list")
        self.assertRegex(out, ca + r".* 1\* ")
        self.assertIn("--account NAME counts", out)
        rc, out, err = sk("--db", self.db, "--reset", ca, "--account", "A")
        self.assertEqual(rc, 0, err)
        self.assertIn("blobs     0 %s 0" % ARROW, out)
        self.assertEqual(self.offsets(), before)

        # Only A's checkpoint of "logs" now, but B has a row of Wazuh's.
        con = sqlite3.connect(self.db)
        con.execute("DELETE FROM storage")
        for key, q in ((ca, "logs"), (md5("B"), "")):
            con.execute("INSERT INTO storage VALUES (?, ?, ?, ?)",
                        (key, q, d, d))
        con.commit()
        con.close()
        self.assertTrue(self.listed()[ca]["blobs_uncertain"])
        rc, out, err = sk("--db", self.db, "--reset", ca)
        self.assertEqual(rc, 1, out)
        self.assertIn("name the account", err)
        self.assertEqual(self.offsets(), before)

    def test_ambiguous_prefix_and_several_tables(self):
        con = sqlite3.connect(self.db)
        d = "2026-01-02T03:04:05.000000Z"
        con.execute("INSERT INTO graph VALUES (?, ?, ?, ?)", (self.c1, "q", d, d))
        con.execute("INSERT INTO log_analytics VALUES (?, ?, ?, ?)",
                    (self.c1[:8] + "0" * 24, "q2", d, d))
        con.commit()
        con.close()
        rc, out, err = sk("--db", self.db, "--reset", self.c1[:8])
        self.assertEqual(rc, 1)
        self.assertIn("is ambiguous", err)
        rc, out, err = sk("--db", self.db, "--set", self.c1, "--max", d)
        self.assertEqual(rc, 1)
        self.assertIn("name one with --service", err)
        rc, out, err = sk("--db", self.db, "--set", self.c1.upper(), "--service",
                          "graph", "--min", "2025-12-31", "--max", d)
        self.assertEqual(rc, 0, err)
        self.assertIn("2025-12-31T00:00:00.000000Z", out)
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("SELECT min_processed_date FROM graph WHERE md5 "
                                     "= ?", (self.c1,)).fetchone()[0],
                         "2025-12-31T00:00:00.000000Z")
        self.assertEqual(con.execute("SELECT min_processed_date FROM storage WHERE "
                                     "md5 = ?", (self.c1,)).fetchone()[0], d)
        con.close()

    def test_corrupt_database_is_left_alone(self):
        # Not a database at all.
        junk = os.path.join(self.dir, "junk.db")
        with open(junk, "wb") as f:
            f.write(b"this is not an SQLite database\n" * 200)
        # A database with a damaged page.
        con = sqlite3.connect(self.db)
        con.executemany("INSERT INTO graph VALUES (?, 'q', 'x', 'y')",
                        [("%032x" % i,) for i in range(3000)])
        con.commit()
        con.close()
        size = os.path.getsize(self.db)
        with open(self.db, "r+b") as f:
            f.seek(size // 2)
            f.write(b"\xff" * 4096)
        for path in (junk, self.db):
            before = sha256(path)
            for args in (["--list"], ["--reset", self.w1],
                         ["--set", self.w1, "--max", "2026-01-01"]):
                rc, out, err = sk("--db", path, *args)
                self.assertEqual(rc, 1, (path, args, err))
                self.assertIn("is corrupt", err)
                self.assertIn("nothing was changed", err)
                self.assertEqual(out, "")
            self.assertEqual(sha256(path), before)

    def test_long_query_cut_in_the_table_whole_in_json(self):
        q = "AzureActivity\n| where Level == 'Error'\n| project " + ", ".join(
            "col%d" % i for i in range(40)) + " // caf\u00e9"
        key = md5("query=%s|workspace=w" % q)
        con = sqlite3.connect(self.db)
        con.execute("INSERT INTO log_analytics VALUES (?, ?, ?, ?)",
                    (key, q, "2026-01-02 03:04:05.123456+00:00", "2026-01-03T00:00:00Z"))
        con.commit()
        con.close()
        got = self.listed()[key]
        self.assertEqual((got["service"], got["query"], got["min"], got["max"],
                          got["blobs"], got["seen_ids"]),
                         ("log_analytics", q, "2026-01-02 03:04:05.123456+00:00",
                          "2026-01-03T00:00:00Z", 0, 0))
        rc, out, err = sk("--db", self.db, "--list")
        (line,) = [x for x in out.splitlines() if key in x]
        shown = q.replace("\n", " ")[:59] + "\u2026"
        self.assertIn(" %s " % shown, line)
        self.assertEqual(out.splitlines()[0].index("MIN"),
                         line.index("2026-01-02 03:04:05"))
        # A legacy date is rewritten in canonical form by --set.
        rc, out, err = sk("--db", self.db, "--set", key, "--max", "2026-01-04T00:00:00Z")
        self.assertEqual(rc, 0, err)
        got = self.listed()[key]
        self.assertEqual((got["query"], got["min"], got["max"]),
                         (q, "2026-01-02T03:04:05.123456Z", "2026-01-04T00:00:00.000000Z"))

    @unittest.skipUnless(os.geteuid() == 0, "--user needs root")
    def test_user_drops_privileges(self):
        import pwd
        nobody = pwd.getpwnam("nobody")
        # The folder above is closed to nobody (entered as root); the
        # database's own is open; the file is root's.
        os.chmod(self.dir, 0o700)
        sub = os.path.join(self.dir, "state")
        os.mkdir(sub, 0o755)
        os.rename(self.db, os.path.join(sub, "azure.db"))
        self.db = os.path.join(sub, "azure.db")
        os.chmod(self.db, 0o600)
        rc, out, err = sk("--db", self.db, "--list", "--user", "nobody")
        self.assertEqual(rc, 1)
        self.assertIn("cannot open the database", err)
        os.chown(self.db, nobody.pw_uid, nobody.pw_gid)
        rc, out, err = sk("--db", self.db, "--list", "--user", "nobody")
        self.assertEqual(rc, 0, err)
        self.assertIn(self.w1, out)
        rc, out, err = sk("--db", self.db, "--list", "--user", "root")
        self.assertEqual(rc, 1)
        self.assertIn("it is root", err)

    def test_help(self):
        rc, out, err = sk("--help")
        self.assertEqual(rc, 0)
        self.assertIn("--list [--json]", out)
        rc, out, err = sk("--list", "--help")
        self.assertEqual(rc, 0)
        self.assertIn("--reset KEY", out)
        self.assertIn("--account NAME", out)


if __name__ == "__main__":
    unittest.main()
