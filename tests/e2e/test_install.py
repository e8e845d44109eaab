"""End-to-end: make install WAZUH_HOME=... puts azure-logs in place of
Wazuh's wodles/azure/azure-logs (keeping Wazuh's as azure-logs.wazuh), and
the installed script runs with exactly the command line wm_azure gives it,
without AZURE_LOGS_BINDIR or --wazuh-home."""

import datetime
import os
import subprocess
import unittest

from harness import CLIENT, TENANT, PipelineTest, gen_graph, iso, utcnow, wazuh_payload

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
H = datetime.timedelta(hours=1)
OLD = "#!/bin/sh\n# Wazuh's azure-logs\nexec python3 azure-logs.py \"$@\"\n"


def make_install(wazuh_home):
    """make install for the binaries this test run uses (bin/, or
    build/asan/bin and the like): nothing is rebuilt (-o all)."""
    bindir = os.environ.get("AZURE_LOGS_BINDIR", os.path.join(TOP, "bin"))
    obj = (os.path.join(TOP, "build", "obj")
           if os.path.realpath(bindir) == os.path.realpath(os.path.join(TOP, "bin"))
           else os.path.join(os.path.dirname(bindir), "obj"))
    return subprocess.run(["make", "-s", "-C", TOP, "-o", "all", "install",
                           "WAZUH_HOME=" + wazuh_home,
                           "BIN=" + bindir, "OBJ=" + obj],
                          capture_output=True, text=True, timeout=300)


class Install(PipelineTest):
    def setUp(self):
        now = utcnow()
        self.items = gen_graph.gen_signins(120, iso(now - 5 * H), iso(now - 2 * H), seed=9)
        self.events = {"auditLogs/signIns": self.items}
        super().setUp()
        self.wodle = os.path.join(self.home, "wodles", "azure")
        self.script = os.path.join(self.wodle, "azure-logs")
        with open(self.script, "w") as f:
            f.write(OLD)
        os.chmod(self.script, 0o750)

    def test_installed_in_place_of_wazuhs_script(self):
        p = make_install(self.home)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("kept as %s.wazuh" % self.script, p.stdout)
        with open(self.script + ".wazuh") as f:
            self.assertEqual(f.read(), OLD)
        for prog in ("azure-graph", "azure-la", "azure-storage",
                     "azure-statekeeper", "azure-forwarder"):
            path = os.path.join(self.wodle, "bin", prog)
            self.assertTrue(os.access(path, os.X_OK), path)
        self.assertEqual(os.stat(self.script).st_mode & 0o777, 0o750)

        # wm_azure's command line, as the ossec.conf block makes it.
        env = dict(os.environ)
        env.pop("AZURE_LOGS_BINDIR", None)
        argv = [self.script, "--graph", "--graph_auth_path", self.auth,
                "--graph_tenant_domain", TENANT, "--graph_query", "'auditLogs/signIns'",
                "--graph_time_offset", "1d", "--graph-url", self.mock.url,
                "--login-url", self.mock.url, "--debug", "1"]
        r = subprocess.run(argv, capture_output=True, env=env, cwd="/", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertNotIn(self.secret.encode(), r.stderr)
        self.assertEqual(sorted(self.payloads(self.sink.take())),
                         sorted(wazuh_payload(i) for i in self.items))
        self.assertTrue(os.path.exists(os.path.join(self.wodle, "azure.db")))

        # Installing again keeps Wazuh's script, not ours, aside.
        p = make_install(self.home)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("kept as", p.stdout)
        with open(self.script + ".wazuh") as f:
            self.assertEqual(f.read(), OLD)

        # Rollback: Wazuh's script back in its place.
        os.replace(self.script + ".wazuh", self.script)
        with open(self.script) as f:
            self.assertEqual(f.read(), OLD)


if __name__ == "__main__":
    unittest.main()
