"""End-to-end: make install WAZUH_HOME=... puts azure-logs in place of
Wazuh's wodles/azure/azure-logs (keeping Wazuh's as azure-logs.wazuh), and
the installed script runs with exactly the command line wm_azure gives it,
without AZURE_LOGS_BINDIR or --wazuh-home.

As root (as CI runs it, and as Wazuh runs the script), make install also
creates the roles' users, and the run is privilege-separated: each role as
its own user, the database in wodles/azure/state/. Users this test created
(azure-logs-fetch, azure-logs-state, and wazuh when the host has no Wazuh
user) are removed after it."""

import datetime
import os
import pwd
import stat
import subprocess
import unittest

from harness import (CLIENT, TENANT, PipelineTest, add_system_user, gen_graph, iso,
                     user_exists, utcnow, wazuh_payload)

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
H = datetime.timedelta(hours=1)
OLD = "#!/bin/sh\n# Wazuh's azure-logs\nexec python3 azure-logs.py \"$@\"\n"
ROOT = os.geteuid() == 0
OUR_USERS = ("azure-logs-fetch", "azure-logs-state")


def group_exists(name):
    return subprocess.run(["getent", "group", name],
                          stdout=subprocess.DEVNULL).returncode == 0


def make_install(wazuh_home, *extra):
    """make install for the binaries this test run uses (bin/, or
    build/asan/bin and the like): nothing is rebuilt (-o all)."""
    bindir = os.environ.get("AZURE_LOGS_BINDIR", os.path.join(TOP, "bin"))
    obj = (os.path.join(TOP, "build", "obj")
           if os.path.realpath(bindir) == os.path.realpath(os.path.join(TOP, "bin"))
           else os.path.join(os.path.dirname(bindir), "obj"))
    return subprocess.run(["make", "-s", "-C", TOP, "-o", "all", "install",
                           "WAZUH_HOME=" + wazuh_home,
                           "BIN=" + bindir, "OBJ=" + obj] + list(extra),
                          capture_output=True, text=True, timeout=300)


class Install(PipelineTest):
    def setUp(self):
        self.created_users = []
        if ROOT:
            self.addCleanup(self.remove_users)
        now = utcnow()
        self.items = gen_graph.gen_signins(120, iso(now - 5 * H), iso(now - 2 * H), seed=9)
        self.events = {"auditLogs/signIns": self.items}
        super().setUp()
        self.wodle = os.path.join(self.home, "wodles", "azure")
        self.script = os.path.join(self.wodle, "azure-logs")
        with open(self.script, "w") as f:
            f.write(OLD)
        os.chmod(self.script, 0o750)

    def remove_users(self):
        for name in self.created_users:
            if user_exists(name):
                subprocess.run(["userdel", name], capture_output=True)

    def forwarder_user(self):
        """As the launcher chooses it: wazuh, else ossec (Wazuh before
        4.3); neither on this host: wazuh, created for this test."""
        for name in ("wazuh", "ossec"):
            if user_exists(name):
                return name
        if group_exists("wazuh"):
            self.skipTest("a group wazuh without a user wazuh")
        add_system_user("wazuh")
        self.created_users.append("wazuh")
        return "wazuh"

    def prepare_privsep(self):
        """Root: the users, and the permissions of Wazuh's packages: the
        home and the folders on the way 0750 root:wazuh (closed to our
        users), the queue socket wazuh's."""
        missing = [u for u in OUR_USERS if not user_exists(u)]
        self.created_users += missing  # by make install, below
        fwd = pwd.getpwnam(self.forwarder_user())
        for d in (self.home, os.path.join(self.home, "wodles"), self.wodle,
                  os.path.join(self.home, "queue"), os.path.dirname(self.sink.path)):
            os.chown(d, 0, fwd.pw_gid)
            os.chmod(d, 0o750)
        os.chown(self.sink.path, fwd.pw_uid, fwd.pw_gid)
        os.chmod(self.sink.path, 0o660)
        return missing

    def test_installed_in_place_of_wazuhs_script(self):
        missing = self.prepare_privsep() if ROOT else []
        p = make_install(self.home)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("kept as %s.wazuh" % self.script, p.stdout)
        users_script = os.path.join(self.wodle, "bin", "azure-logs-users")
        self.assertTrue(os.access(users_script, os.X_OK), users_script)
        if ROOT:
            for user in OUR_USERS:  # created, or kept as they were
                self.assertTrue(user_exists(user), user)
                said = ("azure-logs-users: created the system user %s ("
                        if user in missing else "azure-logs-users: the user %s (")
                self.assertIn(said % user, p.stdout)
        else:
            self.assertIn("not root: create the roles' users as root with %s"
                          % users_script, p.stdout)
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
        if ROOT:
            # Privilege separation: the statekeeper's own directory.
            state = os.path.join(self.wodle, "state")
            db = os.path.join(state, "azure.db")
            owner = pwd.getpwnam("azure-logs-state").pw_uid
            for path in (state, db):
                self.assertEqual(os.stat(path).st_uid, owner, path)
            self.assertEqual(stat.S_IMODE(os.stat(state).st_mode), 0o750)
            self.assertFalse(os.path.exists(os.path.join(self.wodle, "azure.db")))
        else:
            self.assertTrue(os.path.exists(os.path.join(self.wodle, "azure.db")))

        # Installing again keeps Wazuh's script, not ours, aside; the man
        # pages go to PREFIX/share/man/man8 only when PREFIX is given.
        self.assertIn("man pages not installed", p.stdout)
        p = make_install(self.home, "PREFIX=" + os.path.join(self.home, "usr"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("kept as", p.stdout)
        self.assertEqual(sorted(os.listdir(os.path.join(self.home, "usr", "share", "man", "man8"))),
                         sorted(f for f in os.listdir(os.path.join(TOP, "man")) if f.endswith(".8")))
        with open(self.script + ".wazuh") as f:
            self.assertEqual(f.read(), OLD)

        # Rollback: Wazuh's script back in its place.
        os.replace(self.script + ".wazuh", self.script)
        with open(self.script) as f:
            self.assertEqual(f.read(), OLD)


if __name__ == "__main__":
    unittest.main()
