"""End-to-end: bad local input (azure.db, its folder, last_dates.json,
authentication files, the command line) gets a clear error and an exit
status; azure.db is never overwritten or truncated, nothing is sent to
Wazuh and no secret is printed.

Each test runs the real launcher with the real roles against the mock
Microsoft and a real datagram socket (harness.PipelineTest). What an
administrator relies on is asserted: the exit status, the exact message
on stderr, what reached Wazuh's socket and what azure.db holds.
"""

import datetime
import json
import os
import re
import sqlite3
import unittest

from harness import (CLIENT, PipelineTest, gen_graph, iso, log_lines, md5,
                     sha256, utcnow, wazuh_payload)

H = datetime.timedelta(hours=1)
SIGNINS = "auditLogs/signIns"
KEY = md5(SIGNINS)
AS_ROOT = os.geteuid() == 0
USAGE = ("usage: azure-logs (--graph | --log_analytics | --storage) [options] "
         "(see azure-logs --help)")


def signins(count, start, end, seed):
    return gen_graph.gen_signins(count, iso(start), iso(end), seed=seed)


class LocalInput(PipelineTest):
    page_size = 100

    def setUp(self):
        now = utcnow()
        self.items = signins(30, now - 5 * H, now - H, 51)
        self.events = {SIGNINS: self.items}
        super().setUp()
        self.dbdir = os.path.dirname(self.db)

    # -------------------------------------------------------------- helpers

    def tables(self, path=None):
        """{table: [rows]} of Wazuh's checkpoint tables, read-only (never
        creates the file); None when there is no database."""
        path = path or self.db
        if not os.path.isfile(path):
            return None
        con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        try:
            out = {}
            for t in ("graph", "log_analytics", "storage"):
                try:
                    out[t] = con.execute(
                        "SELECT md5, query, min_processed_date, max_processed_date "
                        "FROM %s ORDER BY md5" % t).fetchall()
                except sqlite3.OperationalError:  # no such table
                    out[t] = []
            return out
        finally:
            con.close()

    def assert_no_checkpoint(self):
        """No database, or one with no checkpoint row at all."""
        t = self.tables()
        if t is not None:
            self.assertEqual(t, {"graph": [], "log_analytics": [], "storage": []})

    def assert_logged(self, message):
        """One line of the log is exactly "azure: LEVEL: message"."""
        self.assertIn(message, log_lines(self.last_stderr), self.last_stderr)

    def graph_requests(self):
        return [r for r in self.mock.requests() if r["path"].lower().startswith("/v1.0/")]

    def first_run(self):
        """A successful run: the database holds the query's checkpoint."""
        rc, got = self.run_launcher(debug="0")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.items))
        row = self.row("graph", KEY)
        self.assertEqual(row[3], max(i["createdDateTime"] for i in self.items))
        return row

    def add_new(self, count=5, seed=52):
        now = utcnow()
        new = signins(count, now - datetime.timedelta(minutes=30),
                      now - datetime.timedelta(minutes=1), seed)
        self.add_events(SIGNINS, new)
        return new


class BadDatabase(LocalInput):
    """azure.db that is not a database, or a truncated one: the run stops
    before any request to Graph, names the file, says it is corrupt and
    leaves its bytes alone."""

    def corrupt_message(self, why):
        return ("azure: CRITICAL: the database %s is corrupt (%s); move it aside "
                "to start afresh: checkpoints then restart from the time offset"
                % (self.db, why))

    def assert_refused_untouched(self, before, why):
        rc, got = self.run_launcher(debug="0")
        self.assertEqual(rc, 1, self.last_stderr)
        self.assert_logged(self.corrupt_message(why))
        self.assertEqual(got, [])
        self.assertEqual(self.graph_requests(), [])
        self.assertEqual(sha256(self.db), before, "azure.db was written")
        # No journal, WAL or shared-memory file left beside it either.
        self.assertEqual(sorted(os.listdir(self.dbdir)), ["azure.db"])

    def test_random_bytes(self):
        with open(self.db, "wb") as f:
            f.write(os.urandom(3 * 4096 + 123))
        self.assert_refused_untouched(sha256(self.db), "file is not a database")

    def test_short_text_file(self):
        # Shorter than SQLite's 100-byte header (test_graph has a long one).
        with open(self.db, "w") as f:
            f.write("checkpoints: none\n")
        self.assert_refused_untouched(sha256(self.db), "file is not a database")

    def test_truncated_mid_page(self):
        self.first_run()
        self.assertEqual(sorted(os.listdir(self.dbdir)), ["azure.db"])
        with open(self.db, "rb") as f:
            whole = f.read()
        page = int.from_bytes(whole[16:18], "big")
        pages = len(whole) // page
        self.assertGreaterEqual(pages, 4, "a real database has several pages")
        cut = (pages // 2) * page + page // 2  # in the middle of a middle page
        with open(self.db, "wb") as f:
            f.write(whole[:cut])
        new = self.add_new()
        self.mock.control("reset-log")
        self.assert_refused_untouched(sha256(self.db), "database disk image is malformed")

        # What the message says to do works: moved aside, the next run
        # starts from the time offset and sends the whole window again.
        os.rename(self.db, self.db + ".corrupt")
        rc, got = self.run_launcher(debug="0")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.items + new))
        with open(self.db + ".corrupt", "rb") as f:
            self.assertEqual(f.read(), whole[:cut])


class LockedDatabase(LocalInput):
    """Another process holds a write transaction on azure.db for the whole
    run: the statekeeper waits its busy timeout (10 s), then fails; nothing
    is sent, the checkpoint does not move; once the lock is gone a normal
    run delivers what is new, once."""

    def run_while_locked(self):
        """A run while another connection holds BEGIN EXCLUSIVE: refused
        as locked (not corrupt), nothing asked of Graph or sent, the file
        unchanged."""
        before = sha256(self.db)
        con = sqlite3.connect(self.db, isolation_level=None)
        try:
            con.execute("BEGIN EXCLUSIVE")
            rc, got = self.run_launcher(debug="0", timeout=60)
        finally:
            con.execute("ROLLBACK")
            con.close()
        self.assertEqual(rc, 1, self.last_stderr)
        self.assert_logged("azure: CRITICAL: the database %s is locked by another "
                           "process (database is locked): is another azure-logs, "
                           "or Wazuh's own, running? Nothing was changed" % self.db)
        self.assertNotIn("corrupt", self.last_stderr)
        self.assertEqual(got, [])
        self.assertEqual(self.graph_requests(), [])
        self.assertEqual(sha256(self.db), before)

    def test_locked_then_released(self):
        row = self.first_run()
        new = self.add_new()
        self.mock.control("reset-log")
        self.run_while_locked()
        self.assertEqual(self.row("graph", KEY), row)

        rc, got = self.run_launcher(debug="0")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)), sorted(wazuh_payload(i) for i in new))
        self.assertEqual(self.row("graph", KEY)[3], max(i["createdDateTime"] for i in new))

    def test_locked_database_made_by_wazuh(self):
        """An azure.db in rollback-journal mode, as Wazuh's Python leaves
        it, locked by another process: said to be locked, not corrupt (the
        advice to move a corrupt one aside would throw good checkpoints
        away)."""
        con = sqlite3.connect(self.db, isolation_level=None)
        con.execute("CREATE TABLE graph (md5 TEXT NOT NULL, query TEXT NOT NULL, "
                    "min_processed_date VARCHAR(28) NOT NULL, max_processed_date "
                    "VARCHAR(28) NOT NULL, PRIMARY KEY (md5), "
                    "CONSTRAINT md5_restriction UNIQUE (md5))")
        con.close()
        self.run_while_locked()


class DatabaseFolder(LocalInput):
    """The database cannot be created where --db points."""

    @unittest.skipIf(AS_ROOT, "root ignores the folder's mode")
    def test_folder_not_writable(self):
        os.chmod(self.dbdir, 0o555)
        try:
            rc, got = self.run_launcher(debug="0")
            listing = os.listdir(self.dbdir)
        finally:
            os.chmod(self.dbdir, 0o755)
        self.assertEqual(rc, 1, self.last_stderr)
        self.assert_logged("azure: CRITICAL: cannot open the database %s: "
                           "unable to open database file" % self.db)
        self.assertEqual(got, [])
        self.assertEqual(self.graph_requests(), [])
        self.assertEqual(listing, [])

    def test_folder_is_a_file(self):
        # Works as root too: the "folder" is a regular file.
        folder = os.path.join(self.home, "notadir")
        with open(folder, "w") as f:
            f.write("x\n")
        db = os.path.join(folder, "azure.db")
        rc, got = self.run_launcher(debug="0", extra=["--db", db])
        self.assertEqual(rc, 1, self.last_stderr)
        self.assertEqual(log_lines(self.last_stderr), [
            "azure: ERROR: The directory of the database (%s) does not exist: "
            "create it or choose another --db." % folder])
        self.assertEqual(got, [])
        self.assertEqual(self.mock.requests(), [])
        with open(folder) as f:
            self.assertEqual(f.read(), "x\n")
        self.assertFalse(os.path.exists(self.db))

    def test_folder_missing(self):
        folder = os.path.join(self.home, "wodles", "gone")
        rc, got = self.run_launcher(debug="0", extra=["--db", os.path.join(folder, "azure.db")])
        self.assertEqual(rc, 1, self.last_stderr)
        self.assertEqual(log_lines(self.last_stderr), [
            "azure: ERROR: The directory of the database (%s) does not exist: "
            "create it or choose another --db." % folder])
        self.assertEqual(got, [])
        self.assertEqual(self.mock.requests(), [])
        self.assertFalse(os.path.exists(folder), "the folder was created")

    def test_database_is_a_folder(self):
        os.mkdir(self.db)
        rc, got = self.run_launcher(debug="0")
        self.assertEqual(rc, 1, self.last_stderr)
        self.assert_logged("azure: CRITICAL: cannot open the database %s: "
                           "unable to open database file" % self.db)
        self.assertEqual(got, [])
        self.assertEqual(self.graph_requests(), [])
        self.assertEqual(os.listdir(self.db), [])
        self.assertEqual(sorted(os.listdir(self.dbdir)), ["azure.db"])


class BadLastDates(LocalInput):
    """A legacy last_dates.json that cannot be migrated is reported and
    kept byte for byte; nothing of it reaches azure.db (one transaction),
    nothing is sent."""

    def write_last_dates(self, data):
        self.ld = os.path.join(self.dbdir, "last_dates.json")
        with open(self.ld, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return sha256(self.ld)

    def assert_kept(self, before, why, whole=True):
        """Refused: status 1, the reason (the whole line, or its start when
        whole is false: the parser's own words follow), the file kept."""
        rc, got = self.run_launcher(debug="0")
        self.assertEqual(rc, 1, self.last_stderr)
        line = "azure: ERROR: Error during last_dates file migration process: " + why
        if whole:
            self.assert_logged(line)
        else:
            self.assertTrue(any(l.startswith(line) for l in log_lines(self.last_stderr)),
                            self.last_stderr)
        self.assert_logged("azure: ERROR: %s was kept; fix or remove it" % self.ld)
        self.assertEqual(got, [])
        self.assertEqual(self.graph_requests(), [])
        self.assertEqual(sha256(self.ld), before)
        self.assert_no_checkpoint()

    def unreadable(self, what):
        return ("The file of the last dates could not be read: %s: %s"
                % (self.ld, what))

    def test_truncated_json(self):
        # Cut short, as by a full disk (test_graph has "{not json").
        before = self.write_last_dates(
            '{"graph": {"%s": {"min": "2024-01-01T00:00:00.000000Z", "max": "2024-0' % KEY)
        self.assert_kept(before, self.unreadable(""), whole=False)

    def test_a_list(self):
        before = self.write_last_dates(json.dumps([{"graph": {KEY: "2024-01-01T00:00:00Z"}}]))
        self.assert_kept(before, self.unreadable("not a JSON object"))

    def test_section_not_an_object(self):
        # A valid log_analytics section first: the migration is one
        # transaction, so it must not be half-applied.
        before = self.write_last_dates(json.dumps({
            "log_analytics": {"b" * 32: "2024-01-01T00:00:00.000000Z"},
            "graph": ["2024-01-01T00:00:00.000000Z"],
            "storage": {}}))
        self.assert_kept(before, 'section "graph" is not an object')

    def test_numbers_for_dates(self):
        """Numbers where date strings are expected are not dates: as for
        Wazuh's "0" (README: nothing valid -> min = max = now), the entry is
        migrated as "now" and the file removed. (Reported: no warning is
        logged for it.)"""
        before_run = utcnow()
        self.write_last_dates(json.dumps({"graph": {"c" * 32: 1717200000,
                                                    "d" * 32: {"min": 1, "max": 2}}}))
        rc, got = self.run_launcher(debug="0")
        after_run = utcnow()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.items))
        self.assertFalse(os.path.exists(self.ld))
        rows = {r[0]: r for r in self.tables()["graph"]}
        self.assertEqual(sorted(rows), sorted([KEY, "c" * 32, "d" * 32]))
        for k in ("c" * 32, "d" * 32):
            _, query, mn, mx = rows[k]
            self.assertEqual((query, mn), ("", mx))
            t = datetime.datetime.strptime(mn, "%Y-%m-%dT%H:%M:%S.%fZ")
            self.assertTrue(before_run - datetime.timedelta(seconds=1) <= t
                            <= after_run + datetime.timedelta(seconds=1), mn)

    def test_empty_file(self):
        """Wazuh: an empty last_dates.json is nothing to migrate (not an
        error); it is left where it is."""
        before = self.write_last_dates(b"")
        rc, got = self.run_launcher(debug="0")
        self.assertEqual(rc, 0, self.last_stderr)
        # nothing but the run's summary (always logged)
        self.assertEqual([l for l in log_lines(self.last_stderr)
                          if not l.startswith("azure: INFO: Graph request ")], [])
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.items))
        self.assertEqual(sha256(self.ld), before)
        self.assertEqual([r[0] for r in self.tables()["graph"]], [KEY])


class BadCredentials(LocalInput):
    """Authentication files that cannot be used: Wazuh's message, exit
    status 1, no token asked for, nothing sent, no secret printed (the
    harness checks the secret of setUp in every run; other secrets here)."""

    def raw_auth(self, name, text, mode=0o600):
        path = os.path.join(self.home, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with open(fd, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def assert_refused(self, auth, message):
        rc, got = self.run_launcher(auth=auth, debug="2")
        self.assertEqual(rc, 1, self.last_stderr)
        self.assert_logged("azure: ERROR: Error: " + message)
        self.assertEqual(got, [])
        self.assertEqual(self.mock.requests(), [], "a request reached Microsoft")
        self.assertEqual(self.mock.control("tokens"), [])
        self.assert_no_checkpoint()

    def test_missing_file(self):
        path = os.path.join(self.home, "credentials", "graph")
        self.assert_refused(path, "The authentication file could not be opened: "
                            "[Errno 2] No such file or directory: '%s'" % path)

    @unittest.skipIf(AS_ROOT, "root reads a file of mode 0000")
    def test_unreadable_file(self):
        path = self.write_auth("locked", CLIENT, self.secret, mode=0o000)
        self.assert_refused(path, "The authentication file could not be opened: "
                            "[Errno 13] Permission denied: '%s'" % path)

    def test_world_readable_file(self):
        path = self.write_auth("open", CLIENT, self.secret, mode=0o604)
        self.assert_refused(path, "The authentication file can be read or written by "
                            "group or others (mode 0604): restrict it with "
                            "\"chmod 600\": '%s'." % path)

    def test_directory(self):
        path = os.path.join(self.home, "credentials")
        os.mkdir(path, 0o700)
        self.assert_refused(path, "The authentication file could not be opened: "
                            "not a regular file: '%s'" % path)

    def test_empty_file(self):
        self.assert_refused(self.raw_auth("empty", ""), FIELDS)

    def test_only_application_id(self):
        self.assert_refused(self.raw_auth("id", "application_id = %s\n" % CLIENT), FIELDS)

    def test_only_application_key(self):
        secret = "only-the-key-" + self.secret
        self.assert_refused(self.raw_auth("key", "application_key = %s\n" % secret), FIELDS)
        self.assertNotIn("only-the-key-", self.last_stderr)


FIELDS = ('The authentication file does not contains the expected "application_id" '
          'and "application_key" fields.')


class BadOptions(LocalInput):
    """Command-line errors: argparse's message and status 2 for what
    argparse rejects, Wazuh's message and status 1 for what Wazuh's script
    checks itself; nothing is started: no request, no database."""

    def launch_raw(self, argv):
        return self.launch(argv + ["--graph-url", self.mock.url], "0", 60)

    def assert_usage(self, argv, error):
        rc, got = self.launch_raw(argv)
        self.assertEqual(rc, 2, self.last_stderr)
        self.assertEqual(self.last_stderr.splitlines(), [USAGE, "azure-logs: error: " + error])
        self.assertEqual(got, [])
        self.assertEqual(self.mock.requests(), [])
        self.assertFalse(os.path.exists(self.db))

    def graph_argv(self, *extra):
        return ["--graph", "--graph_auth_path", self.auth, "--graph_tenant_domain",
                "wazuh.example", "--graph_query", "'%s'" % SIGNINS] + list(extra)

    def test_unknown_option(self):
        self.assert_usage(self.graph_argv("--graph_time_offset", "1d", "--since", "1d"),
                          "unrecognized arguments: --since 1d")

    def test_missing_value(self):
        # --wazuh-home etc. follow: the offset's value is missing, not taken
        # from the next option.
        self.assert_usage(self.graph_argv("--graph_time_offset"),
                          "argument --graph_time_offset: expected one argument")

    def test_offset_with_unknown_unit(self):
        row = self.first_run()
        before = sha256(self.db)
        self.add_new()
        self.mock.control("reset-log")
        rc, got = self.launch_raw(self.graph_argv("--graph_time_offset", "5x"))
        self.assertEqual(rc, 1, self.last_stderr)
        msg = 'Invalid offset format. Use "h", "m" or "d" time unit.'
        lines = log_lines(self.last_stderr)
        self.assertEqual(lines[:1], ["azure: ERROR: " + msg])
        # then the run's summary (always logged), and nothing else
        self.assertEqual(len(lines), 2, lines)
        self.assertRegex(lines[1], "^azure: INFO: Graph request auditLogs/signIns: 0 fetched, "
                         "0 delivered, 0 duplicates, 0 dead-lettered, 0 pages, 0 retries, "
                         r"0 bytes, no event, \d+\.\d s; status error: " + re.escape(msg) + "$")
        self.assertEqual(got, [])
        self.assertEqual(self.graph_requests(), [])
        self.assertEqual(self.row("graph", KEY), row)
        self.assertEqual(sha256(self.db), before)

    def test_graph_without_tenant(self):
        rc, got = self.launch_raw(["--graph", "--graph_auth_path", self.auth,
                                   "--graph_query", "'%s'" % SIGNINS,
                                   "--graph_time_offset", "1d"])
        self.assertEqual(rc, 1, self.last_stderr)
        self.assertEqual(log_lines(self.last_stderr), [
            "azure: ERROR: Graph: No parameters have been provided for authentication."])
        self.assertEqual(got, [])
        self.assertEqual(self.mock.requests(), [])
        self.assertFalse(os.path.exists(self.db))


if __name__ == "__main__":
    unittest.main()
