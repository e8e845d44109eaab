"""End-to-end: azure-logs --check, with the same arguments as a run,
checks the options, the authentication file and a token, the database
and Wazuh's socket, says what it found, and collects nothing."""

import datetime
import os
import subprocess
import unittest

from harness import PipelineTest, gen_graph, iso, sha256, utcnow

H = datetime.timedelta(hours=1)


class Check(PipelineTest):
    def setUp(self):
        now = utcnow()
        self.events = {"auditLogs/signIns": gen_graph.gen_signins(
            30, iso(now - 3 * H), iso(now - H), seed=3)}
        super().setUp()

    def check(self, **kwargs):
        kwargs.setdefault("extra", [])
        kwargs["extra"] = list(kwargs["extra"]) + ["--check"]
        p = subprocess.run(self.graph_command(debug="0", **kwargs),
                           capture_output=True, text=True, timeout=60)
        self.assertNotIn(self.secret, p.stdout + p.stderr)
        self.assertEqual(self.sink.take(), [], "--check sent events")
        api = [r for r in self.mock.requests() if r["path"].startswith("/v1.0/")]
        self.assertEqual(api, [], "--check asked Graph for events")
        return p

    def test_ready_before_the_first_run(self):
        p = self.check()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.splitlines(), [
            "ok: Graph: the authentication file %s holds an application id and a "
            "secret; a token for wazuh.example was granted by %s" % (self.auth, self.mock.url),
            "ok: the database %s does not exist yet: the first run creates it" % self.db,
            "ok: Wazuh's queue socket %s takes connections" % self.sink.path,
            "azure-logs --check: ready"])
        self.assertFalse(os.path.exists(self.db), "--check created the database")
        self.assertEqual(len(self.mock.control("tokens")), 1)

    def test_database_is_read_not_changed(self):
        rc, got = self.run_launcher()
        self.assertEqual((rc, len(got)), (0, 30), self.last_stderr)
        before = sha256(self.db)
        self.mock.control("reset-log")
        p = self.check()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("ok: the database %s is sound; 1 graph checkpoint(s); "
                      "0 log_analytics checkpoint(s); 0 storage checkpoint(s); "
                      "Wazuh's schema" % self.db, p.stdout.splitlines())
        self.assertEqual(sha256(self.db), before)

    def test_not_ready(self):
        # A refused secret, a corrupt database, no Wazuh: each said, exit 1.
        with open(self.db, "wb") as f:
            f.write(os.urandom(8192))
        self.sink.close()
        if os.path.exists(self.sink.path):
            os.unlink(self.sink.path)
        bad = self.write_auth("bad", "00000000-0000-0000-0000-000000000000", "nope")
        p = self.check(auth=bad)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout.splitlines()[-1],
                         "azure-logs --check: NOT READY (the errors logged say why)")
        self.assertIn("azure: ERROR: Error: The application id provided is not valid.",
                      p.stderr)
        self.assertIn("the database %s is corrupt" % self.db, p.stderr)
        self.assertIn("Wazuh must be running: cannot connect to %s" % self.sink.path,
                      p.stderr)
        self.assertNotIn("ok:", p.stdout)

    def test_options_are_checked_first(self):
        p = self.check(offset="5x")
        self.assertEqual(p.returncode, 1)
        self.assertIn('Invalid offset format. Use "h", "m" or "d" time unit.', p.stderr)
        p = self.check(extra=["--overlap", "soon"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("argument --overlap: invalid value: 'soon'", p.stderr)


if __name__ == "__main__":
    unittest.main()
