"""End-to-end, as root (CI runs the suite as root; skipped otherwise):
azure-logs started as root, as Wazuh's wazuh-modulesd starts it, runs each
role as its own unprivileged user under its own sandbox, and the sandboxes
refuse what their role must not do.

The users are made by scripts/azure-logs-users (the forwarder's, wazuh, by
this test when the machine has none); those this test made are removed at
the end. Forbidden actions are tried through the roles' test hook
AZURE_LOGS_SANDBOX_TEST=ROLE:ACTION (common/sandbox.c), each also with
--no-sandbox to show that only the sandbox refuses it."""

import datetime
import grp
import os
import pwd
import shutil
import socket
import sqlite3
import stat
import subprocess
import tempfile
import time
import unittest

from harness import (LAUNCHER, TENANT, TOP, PipelineTest, StorageTest, add_system_user,
                     gen_graph, iso, log_lines, md5, storage_lines, storage_payload,
                     user_exists, utcnow, wazuh_payload)

import gen_la  # tests/mock, on the path through harness

H = datetime.timedelta(hours=1)
ROOT = os.geteuid() == 0
FETCH, STATE, FWD = "azure-logs-fetch", "azure-logs-state", "wazuh"
created = []  # users this module made


def sanitized():
    """Roles built with ASan (make asan) let LeakSanitizer open /proc for
    reading: there a forbidden read is refused by Landlock, not killed."""
    bindir = os.environ.get("AZURE_LOGS_BINDIR", os.path.join(TOP, "bin"))
    with open(os.path.join(bindir, "azure-forwarder"), "rb") as f:
        return b"__asan_init" in f.read()


def setUpModule():
    if not ROOT:
        raise unittest.SkipTest("privilege separation needs root")
    missing = [u for u in (FETCH, STATE) if not user_exists(u)]
    p = subprocess.run([os.path.join(TOP, "scripts", "azure-logs-users")],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("azure-logs-users: " + p.stderr)
    created.extend(missing)
    if not user_exists(FWD):  # Wazuh's user, absent from CI's machine
        add_system_user(FWD)
        created.append(FWD)
    StorageTest.start_azurite()


def tearDownModule():
    StorageTest.stop_azurite()
    for u in created:
        subprocess.run(["userdel", u], capture_output=True)
        try:
            grp.getgrnam(u)
            subprocess.run(["groupdel", u], capture_output=True)
        except KeyError:
            pass


def wazuh_tree(home, sock):
    """The permissions of Wazuh's packages: /var/ossec and the folders on
    the way are 0750 root:wazuh (closed to our users: the statekeeper
    enters its folder before it drops root), the queue socket 0660 of
    group wazuh."""
    gid = grp.getgrnam(FWD).gr_gid
    for d in (home, os.path.join(home, "wodles"), os.path.join(home, "wodles", "azure"),
              os.path.join(home, "queue"), os.path.dirname(sock)):
        os.chown(d, 0, gid)
        os.chmod(d, 0o750)
    os.chown(sock, 0, gid)
    os.chmod(sock, 0o660)


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def find_roles(marker):
    """{program: pid} of the role processes whose command line holds marker."""
    found = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        prog = os.path.basename(argv[0].decode(errors="replace"))
        if prog.startswith("azure-") and prog != "azure-logs" and \
                any(marker.encode() in a for a in argv):
            found[prog] = int(d)
    return found


class Graph(PipelineTest):
    def setUp(self):
        now = utcnow()
        self.items = gen_graph.gen_signins(150, iso(now - 5 * H), iso(now - 2 * H), seed=6)
        self.events = {"auditLogs/signIns": self.items}
        super().setUp()
        wazuh_tree(self.home, self.sink.path)
        self.state_dir = os.path.join(self.home, "wodles", "azure", "state")
        self.db = os.path.join(self.state_dir, "azure.db")
        # Files any user may read or write, outside Wazuh's tree.
        self.open_dir = tempfile.mkdtemp(prefix="azure-open-")
        os.chmod(self.open_dir, 0o777)
        self.readable = os.path.join(self.open_dir, "readable.txt")
        with open(self.readable, "w") as f:
            f.write("any user may read this\n")
        os.chmod(self.readable, 0o644)

    def tearDown(self):
        shutil.rmtree(self.open_dir, ignore_errors=True)
        super().tearDown()

    def argv(self, *extra):
        """The launcher as root, privilege separation on (the default)."""
        return [LAUNCHER, "--graph", "--graph_auth_path", self.auth,
                "--graph_tenant_domain", TENANT, "--graph_query", "'auditLogs/signIns'",
                "--graph_time_offset", "1d", "--graph-url", self.mock.url,
                "--login-url", self.mock.url, "--wazuh-home", self.home,
                "-d", "2"] + list(extra)

    def run_root(self, *extra, env=None):
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.run(self.argv(*extra), capture_output=True, timeout=120, env=e)
        self.last_stderr = p.stderr.decode(errors="replace")
        self.assertNotIn(self.secret, self.last_stderr)
        return p.returncode, self.sink.take()

    def expected(self):
        return sorted(wazuh_payload(i) for i in self.items)

    def test_each_role_its_user_and_sandbox(self):
        # The token request waits 3 s: by then every role has dropped its
        # privileges and entered its sandbox.
        self.mock.control("fail", {"match": "/oauth2/", "pass": True, "delay": 3})
        p = subprocess.Popen(self.argv(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        want = {"azure-graph": FETCH, "azure-statekeeper": STATE, "azure-forwarder": FWD}
        seen = {}
        deadline = time.time() + 15
        while len(seen) < 3 and time.time() < deadline:
            for prog, pid in find_roles(self.home).items():
                if prog not in want:
                    continue
                try:
                    st = proc_status(pid)
                except OSError:
                    continue
                if st.get("Seccomp") == "2":
                    seen[prog] = st
            time.sleep(0.05)
        out, err = p.communicate(timeout=60)
        stderr = err.decode(errors="replace")
        self.assertEqual(p.returncode, 0, stderr)
        self.assertEqual(sorted(seen), sorted(want), stderr)
        uids = set()
        for prog, user in want.items():
            st, pw = seen[prog], pwd.getpwnam(user)
            self.assertNotEqual(pw.pw_uid, 0)
            # real, effective, saved and file-system ids: all the user's
            self.assertEqual(st["Uid"].split(), [str(pw.pw_uid)] * 4, prog)
            self.assertEqual(st["Gid"].split(), [str(pw.pw_gid)] * 4, prog)
            self.assertEqual(st["Groups"].split(), [str(pw.pw_gid)], prog)
            self.assertEqual(st["Seccomp"], "2", prog)
            self.assertEqual(st["NoNewPrivs"], "1", prog)
            self.assertEqual(int(st["CapEff"], 16), 0, prog)
            self.assertEqual(int(st["CapPrm"], 16), 0, prog)
            uids.add(pw.pw_uid)
        self.assertEqual(len(uids), 3)
        for user in want.values():
            self.assertIn("azure: DEBUG: running as %s" % user, stderr)

        # The run delivered, and the state folder is the statekeeper's.
        got = self.sink.take()
        self.assertEqual(sorted(self.payloads(got)), self.expected())
        self.assertEqual(os.stat(self.state_dir).st_uid, pwd.getpwnam(STATE).pw_uid)
        self.assertEqual(os.stat(self.db).st_uid, pwd.getpwnam(STATE).pw_uid)
        self.assertFalse(stat.S_IMODE(os.stat(self.state_dir).st_mode) & 0o002)
        self.assertIsNotNone(self.row("graph", md5("auditLogs/signIns")))
        self.assertNotIn(self.secret, stderr + out.decode(errors="replace"))

    def test_wazuhs_database_adopted(self):
        """Switching from Wazuh's script: its azure.db (made by root in
        wodles/azure) moves to the state folder, and what it had
        checkpointed is not sent again."""
        legacy = os.path.join(self.home, "wodles", "azure", "azure.db")
        rc, got = self.run_root("--no-privsep", "--db", legacy)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(got), len(self.items))
        self.assertEqual(os.stat(legacy).st_uid, 0)
        newer = gen_graph.gen_signins(20, iso(utcnow() - 50 * datetime.timedelta(minutes=1)),
                                      iso(utcnow() - 10 * datetime.timedelta(minutes=1)),
                                      seed=7)
        self.add_events("auditLogs/signIns", newer)
        rc, got = self.run_root()
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)), sorted(wazuh_payload(i) for i in newer))
        self.assertFalse(os.path.exists(legacy))
        self.assertEqual(os.stat(self.db).st_uid, pwd.getpwnam(STATE).pw_uid)
        self.assertIsNotNone(self.row("graph", md5("auditLogs/signIns")))

    def test_check_as_root(self):
        p = subprocess.run(self.argv("--check"), capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("azure-logs --check: ready", p.stdout)
        self.assertIn("ok: Wazuh's queue socket", p.stdout)
        self.assertNotIn(self.secret, p.stdout + p.stderr)

    # ------------------------------------------------------------ refusals

    def try_forbidden(self, role, action, no_sandbox=False):
        extra = ["--no-sandbox"] if no_sandbox else []
        return self.run_root(*extra, env={"AZURE_LOGS_SANDBOX_TEST": role + ":" + action})

    def assert_refused(self, role, action, how):
        """how: "errno" (the call fails, the run goes on) or "killed"."""
        prog = {"fetcher": "azure-graph"}.get(role, "azure-" + role)
        rc, got = self.try_forbidden(role, action)
        lines = log_lines(self.last_stderr)
        if how == "errno" and "the kernel has no Landlock" in self.last_stderr:
            self.skipTest("this kernel has no Landlock (said in the log)")
        if how == "killed" and "the kernel has no seccomp" in self.last_stderr:
            self.skipTest("this kernel has no seccomp filter (said in the log)")
        if how == "errno":
            self.assertEqual(rc, 0, self.last_stderr)
            self.assertIn("azure: INFO: sandbox test: %s: refused (Permission denied)"
                          % action, lines)
            self.assertEqual(len(got), len(self.items))
        else:
            self.assertEqual(rc, 1, self.last_stderr)
            self.assertIn("azure: INFO: sandbox test: trying %s" % action, lines)
            self.assertIn("azure: ERROR: %s was killed by signal 31 (SIGSYS): its "
                          "sandbox refused a system call" % prog, "\n".join(lines))
            self.assertEqual(got, [])
            self.assert_checkpoint_before_events()
        # Only the sandbox refuses it: without, the same user may.
        self.sink.take()
        rc, got = self.try_forbidden(role, action, no_sandbox=True)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertIn("azure: INFO: sandbox test: %s: allowed" % action,
                      log_lines(self.last_stderr))
        self.assertIn("azure: WARNING: the %s runs without its sandbox" % role,
                      self.last_stderr)
        self.reset()

    def assert_checkpoint_before_events(self):
        """No checkpoint, or one that has not passed any event."""
        if not os.path.exists(self.db):
            return
        try:
            row = self.row("graph", md5("auditLogs/signIns"))
        except sqlite3.OperationalError:  # no table yet
            return
        if row is not None:
            oldest = min(i["createdDateTime"] for i in self.items)
            self.assertLess(row[3], oldest)

    def reset(self):
        self.sink.take()
        for f in os.listdir(self.state_dir) if os.path.isdir(self.state_dir) else []:
            os.unlink(os.path.join(self.state_dir, f))

    def test_fetcher_reads_no_other_file(self):
        self.assert_refused("fetcher", "open:" + self.readable, "errno")

    def test_fetcher_writes_no_file(self):
        self.assert_refused("fetcher", "write:" + os.path.join(self.open_dir, "x"),
                            "killed")

    def test_fetcher_may_connect(self):
        port = self.mock.url.rsplit(":", 1)[1]
        rc, got = self.try_forbidden("fetcher", "connect:" + port)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertIn("azure: INFO: sandbox test: connect:%s: allowed" % port,
                      log_lines(self.last_stderr))

    def test_statekeeper_has_no_network(self):
        self.assert_refused("statekeeper", "socket", "killed")

    def test_statekeeper_reads_only_its_folder(self):
        self.assert_refused("statekeeper", "open:" + self.readable, "errno")

    def test_forwarder_opens_no_file(self):
        self.assert_refused("forwarder", "open:" + self.readable,
                            "errno" if sanitized() else "killed")

    def test_forwarder_has_no_tcp(self):
        port = self.mock.url.rsplit(":", 1)[1]
        self.assert_refused("forwarder", "connect:" + port, "killed")


class LogAnalytics(PipelineTest):
    def setUp(self):
        now = utcnow()
        self.data = gen_la.gen_rows("SigninLogs", 80, iso(now - 5 * H), iso(now - H), 4)
        self.workspaces = {"ws": {"tables": {"SigninLogs": self.data}}}
        super().setUp()
        wazuh_tree(self.home, self.sink.path)

    def test_runs_privilege_separated(self):
        argv = [LAUNCHER, "--log_analytics", "--la_auth_path", self.auth,
                "--la_tenant_domain", TENANT, "--la_query", "SigninLogs",
                "--workspace", "ws", "--la_time_offset", "1d",
                "--la-url", self.mock.url, "--login-url", self.mock.url,
                "--wazuh-home", self.home, "-d", "2"]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.sink.take()), 80)
        self.assertIn("running as %s" % FETCH, p.stderr)
        self.assertNotIn(self.secret, p.stderr)
        db = os.path.join(self.home, "wodles", "azure", "state", "azure.db")
        con = sqlite3.connect(db)
        try:
            self.assertEqual(con.execute("SELECT count(*) FROM log_analytics").fetchone()[0], 1)
        finally:
            con.close()


class Storage(StorageTest):
    def test_runs_privilege_separated(self):
        wazuh_tree(self.home, self.sink.path)
        c = self.container()
        text = "".join('{"n": %d, "msg": "line %d"}\n' % (i, i) for i in range(200))
        self.blob.create_append_blob(c, "logs/a.json", text.encode())
        argv = [LAUNCHER, "--storage", "--storage_auth_path", self.auth,
                "--container", c, "--json_inline", "--storage_time_offset", "1h",
                "--blob-url", self.server.url, "--wazuh-home", self.home, "-d", "2"]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = self.payloads(self.sink.take())
        self.assertEqual(got, [storage_payload(line, json_inline=True)
                               for line in storage_lines(text)])
        self.assertIn("running as %s" % FETCH, p.stderr)
        for s in self.secrets:
            self.assertNotIn(s, p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
