"""Shared pieces of the end-to-end tests: a mock Microsoft on loopback, a
real AF_UNIX datagram socket in place of Wazuh's queue, and runs of the real
launcher (scripts/azure-logs) with the real roles.

Environment: AZURE_LOGS_BINDIR (the roles; default <top>/bin). The Storage
tests (StorageTest) run against Azurite (tests/azurite/azurite.py).

Run as root (as CI runs them), the launcher would run each role as its own
user: these tests give it --no-privsep (PRIVSEP_OFF) and drop the warning it
logs (without_privsep_warning), so they see what a run by another user
sees. Privilege separation has tests of its own (test_privsep.py,
test_install.py).
"""

import datetime
import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "mock"))
sys.path.insert(0, os.path.join(TOP, "tests", "azurite"))
import azurite  # noqa: E402
import gen_graph  # noqa: E402

LAUNCHER = os.path.join(TOP, "scripts", "azure-logs")
MOCK = os.path.join(TOP, "tests", "mock", "azure_mock.py")
TENANT = "wazuh.example"
CLIENT = "11111111-2222-3333-4444-555555555555"
HEADER = b"1:Azure:"
# Started as root, the launcher's options that keep every role as the
# invoking user, and the warning it then logs.
PRIVSEP_OFF = ["--no-privsep"] if os.geteuid() == 0 else []
PRIVSEP_WARNING = " azure: WARNING: --no-privsep: "


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def add_system_user(name):
    """A system user with a group of its name, no home, no shell (as
    scripts/azure-logs-users makes them): for Wazuh's own user, wazuh,
    where the test machine has none."""
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                    "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                    name], check=True, capture_output=True)


def iso(dt):
    """Azure's form: 7 fractional digits and Z."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def wazuh_payload(item, tag=None):
    """What Wazuh's Python sends for a Graph item (graph.py + json.dumps)."""
    item = json.loads(json.dumps(item))
    ib = item.get("initiatedBy")
    if isinstance(ib, dict):
        for k in ("app", "user"):
            if k in ib and (ib[k] is None or isinstance(ib[k], str)):
                del ib[k]
    if "status" in item and (item["status"] is None or isinstance(item["status"], str)):
        del item["status"]
    item["azure_tag"] = "azure-ad-graph"
    if tag:
        item["azure_aad_tag"] = tag
    return json.dumps(item).encode()


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def without_privsep_warning(stderr):
    """The launcher's stderr without the warning of --no-privsep."""
    if not PRIVSEP_OFF:
        return stderr
    return "".join(line for line in stderr.splitlines(keepends=True)
                   if PRIVSEP_WARNING not in line)


def log_lines(stderr):
    """The messages of a log, without the date: "azure: LEVEL: text"."""
    out = []
    for line in stderr.splitlines():
        parts = line.split(" ", 2)
        out.append(parts[2] if len(parts) == 3 and parts[2].startswith("azure: ")
                   else line)
    return out


class DgramSink:
    """A bound SOCK_DGRAM socket collecting datagrams, like analysisd."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.datagrams = []
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                d = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.datagrams.append(d)

    def take(self):
        last = -1
        while True:  # until the reader has drained the kernel queue
            time.sleep(0.2)
            with self.lock:
                n = len(self.datagrams)
            if n == last:
                break
            last = n
        with self.lock:
            d, self.datagrams = self.datagrams, []
        return d

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


class Mock:
    def __init__(self, workdir, config, timeout=10):
        """timeout: seconds it may take to start (and load its events)."""
        self.port_file = os.path.join(workdir, "mock.port")
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        cfg_file = os.path.join(workdir, "mock.json")
        with open(cfg_file, "w") as f:
            json.dump(config, f)
        with open(os.path.join(workdir, "mock.log"), "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, MOCK, "--port", "0", "--port-file", self.port_file,
                 "--config", cfg_file], stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.time() + timeout
        while not os.path.exists(self.port_file):
            if time.time() > deadline or self.proc.poll() is not None:
                with open(os.path.join(workdir, "mock.log")) as f:
                    raise RuntimeError("mock server did not start: " + f.read()[-2000:])
            time.sleep(0.05)
        with open(self.port_file) as f:
            self.url = "http://127.0.0.1:%d" % int(f.read().strip())

    def control(self, name, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/_mock/" + name, data=data,
                                     method="GET" if data is None else "POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def requests(self):
        return self.control("requests")

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)


class PipelineTest(unittest.TestCase):
    """A fresh Wazuh home, mock and socket per test."""

    page_size = 100
    events = {}
    workspaces = {}
    mock_extra = {}  # more mock configuration keys

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="azure-e2e-")
        os.makedirs(os.path.join(self.home, "wodles", "azure"))
        os.makedirs(os.path.join(self.home, "queue", "sockets"))
        self.db = os.path.join(self.home, "wodles", "azure", "azure.db")
        self.secret = secrets.token_urlsafe(24) + "+&=%"
        self.secret_file = os.path.join(self.home, "secret")
        with open(os.open(self.secret_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(self.secret)
        self.auth = self.write_auth("auth", CLIENT, self.secret)
        self.mock = Mock(self.home, {
            "tenants": {TENANT: {"clients": {CLIENT: {"secret_file": self.secret_file}}}},
            "page_size": self.page_size,
            "events": self.events,
            "workspaces": self.workspaces,
            **self.mock_extra,
        })
        self.sink = DgramSink(os.path.join(self.home, "queue", "sockets", "queue"))

    def tearDown(self):
        self.sink.close()
        self.mock.close()
        if os.environ.get("KEEP_E2E") is None:
            shutil.rmtree(self.home, ignore_errors=True)

    def write_auth(self, name, app_id, key, mode=0o600):
        path = os.path.join(self.home, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with open(fd, "w") as f:
            f.write("application_id = %s\napplication_key = %s\n" % (app_id, key))
        os.chmod(path, mode)
        return path

    def add_events(self, path, items):
        self.mock.control("events", {"path": path, "items": items})

    def graph_command(self, query="'auditLogs/signIns'", extra=(), auth=None,
                   offset="1d", debug="2"):
        """The launcher's whole command line for a Graph run."""
        argv = ["--graph", "--graph_auth_path", auth or self.auth,
                "--graph_tenant_domain", TENANT, "--graph_query", query,
                "--graph-url", self.mock.url]
        if offset is not None:
            argv += ["--graph_time_offset", offset]
        return self.launcher_argv(argv + list(extra), debug)

    def la_command(self, query, workspace, extra=(), auth=None, offset="1d",
                debug="2"):
        """The launcher's whole command line for a Log Analytics run."""
        argv = ["--log_analytics", "--la_auth_path", auth or self.auth,
                "--la_tenant_domain", TENANT, "--la_query", query,
                "--workspace", workspace, "--la-url", self.mock.url]
        if offset is not None:
            argv += ["--la_time_offset", offset]
        return self.launcher_argv(argv + list(extra), debug)

    def launcher_argv(self, argv, debug):
        return [LAUNCHER] + PRIVSEP_OFF + argv + ["--wazuh-home", self.home,
                                    "--login-url", self.mock.url, "-d", debug]

    def run_launcher(self, *args, timeout=120, **kwargs):
        return self.run_argv(self.graph_command(*args, **kwargs), timeout)

    def run_la(self, *args, timeout=120, **kwargs):
        return self.run_argv(self.la_command(*args, **kwargs), timeout)

    def launch(self, argv, debug, timeout):
        return self.run_argv(self.launcher_argv(argv, debug), timeout)

    def run_argv(self, argv, timeout):
        p = subprocess.run(argv, capture_output=True, timeout=timeout)
        self.last_stderr = without_privsep_warning(p.stderr.decode(errors="replace"))
        self.assertNotIn(self.secret, self.last_stderr)
        self.assertNotIn(self.secret, p.stdout.decode(errors="replace"))
        return p.returncode, self.sink.take()

    def row(self, table, key):
        if not os.path.exists(self.db):  # the statekeeper was stopped first
            return None
        con = sqlite3.connect(self.db)
        try:
            r = con.execute("SELECT md5, query, min_processed_date, max_processed_date "
                            "FROM %s WHERE md5 = ?" % table, (key,)).fetchone()
        finally:
            con.close()
        return r

    def payloads(self, datagrams):
        out = []
        for d in datagrams:
            self.assertTrue(d.startswith(HEADER), d[:40])
            out.append(d[len(HEADER):])
        return out


# ------------------------------------------------------------------ Storage

def storage_lines(data):
    """The lines Wazuh's Python sends of a blob: str.splitlines() of its
    UTF-8 text, empty ones skipped."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return [s for s in data.splitlines() if s]


def storage_payload(line, tag=None, json_inline=False):
    """Wazuh's payload for one line of a blob (plain text or json_inline)."""
    if json_inline:
        msg = '{"azure_tag": "azure-storage"'
        if tag:
            msg = '%s, "azure_storage_tag": "%s"' % (msg, tag)
        msg = "%s, %s" % (msg, line[1:])
    else:
        msg = "azure_tag: azure-storage."
        if tag:
            msg = "%s azure_storage_tag: %s." % (msg, tag)
        msg = "%s %s" % (msg, line)
    return msg.encode()


def storage_record(record, tag=None):
    """Wazuh's payload for one element of a json_file blob's records."""
    record = json.loads(json.dumps(record))
    record["azure_tag"] = "azure-storage"
    if tag:
        record["azure_storage_tag"] = tag
    return json.dumps(record).encode()


def wazuh_date(dt):
    """Wazuh's form of a checkpoint date: %Y-%m-%dT%H:%M:%S.%fZ (UTC)."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def storage_key(container, account=azurite.ACCOUNT):
    return md5("account=%s|container=%s" % (account, container))


class StorageTest(unittest.TestCase):
    """A fresh Wazuh home and socket per test, against the Azurite that the
    test module starts once (setUpModule: StorageTest.start_azurite();
    tearDownModule: StorageTest.stop_azurite()). Each test's containers are
    deleted after it."""

    server = None  # the module's Azurite

    @classmethod
    def start_azurite(cls):
        if StorageTest.server is None:
            StorageTest.server = azurite.Azurite().start()

    @classmethod
    def stop_azurite(cls):
        if StorageTest.server is not None:
            StorageTest.server.stop()
            StorageTest.server = None

    def setUp(self):
        self.start_azurite()
        self.blob = self.server.client()
        self.home = tempfile.mkdtemp(prefix="azure-e2e-")
        os.makedirs(os.path.join(self.home, "wodles", "azure"))
        os.makedirs(os.path.join(self.home, "queue", "sockets"))
        self.db = os.path.join(self.home, "wodles", "azure", "azure.db")
        self.secrets = [azurite.KEY]
        self.auth = self.write_storage_auth("auth")
        self.containers = []
        self.sink = DgramSink(os.path.join(self.home, "queue", "sockets", "queue"))

    def tearDown(self):
        self.sink.close()
        for c in self.containers:
            self.blob.delete_container(c)
        if os.environ.get("KEEP_E2E") is None:
            shutil.rmtree(self.home, ignore_errors=True)

    def container(self, label="logs"):
        """A new container with a unique name (label kept in it)."""
        name = ("t%s-%s" % (secrets.token_hex(4), label))[:63]
        self.blob.create_container(name)
        self.containers.append(name)
        return name

    def write_storage_auth(self, name, account=azurite.ACCOUNT, key=azurite.KEY,
                           sas=None, mode=0o600):
        path = os.path.join(self.home, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with open(fd, "w") as f:
            f.write("account_name = %s\n" % account)
            if sas is not None:
                f.write("sas_token = %s\n" % sas)
                sig = urllib.parse.parse_qs(sas)["sig"][0]
                self.secrets += [sig, urllib.parse.quote(sig, safe="")]
            else:
                f.write("account_key = %s\n" % key)
                self.secrets.append(key)
        os.chmod(path, mode)
        return path

    def run_storage(self, container, blobs=None, tag=None, json_file=False,
                    json_inline=False, offset="1h", prefix=None, reparse=False,
                    auth=None, extra=(), debug="2", timeout=60):
        """scripts/azure-logs --storage ... against Azurite: (exit status,
        datagrams received)."""
        argv = [LAUNCHER] + PRIVSEP_OFF + [
            "--storage", "--storage_auth_path", auth or self.auth,
            "--container", container]
        if blobs is not None:
            argv += ["--blobs", blobs]
        if tag is not None:
            argv += ["--storage_tag", tag]
        if json_file:
            argv.append("--json_file")
        if json_inline:
            argv.append("--json_inline")
        if offset is not None:
            argv += ["--storage_time_offset", offset]
        if prefix is not None:
            argv += ["--prefix", prefix]
        if reparse:
            argv.append("--reparse")
        argv += list(extra) + ["--blob-url", self.server.url,
                               "--wazuh-home", self.home, "-d", debug]
        p = subprocess.run(argv, capture_output=True, timeout=timeout)
        self.last_stderr = without_privsep_warning(p.stderr.decode(errors="replace"))
        for s in self.secrets:
            self.assertNotIn(s, self.last_stderr)
            self.assertNotIn(s, p.stdout.decode(errors="replace"))
        return p.returncode, self.sink.take()

    payloads = PipelineTest.payloads

    def _query(self, sql, args=()):
        if not os.path.exists(self.db):
            return []
        con = sqlite3.connect(self.db)
        try:
            return con.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # no such table yet
            return []
        finally:
            con.close()

    def storage_row(self, container, account=azurite.ACCOUNT):
        """(md5, query, min, max) of a container's checkpoint, or None."""
        key = storage_key(container, account)
        r = self._query("SELECT md5, query, min_processed_date, max_processed_date "
                        "FROM storage WHERE md5 = ?", (key,))
        return r[0] if r else None

    def blob_offsets(self, container, account=azurite.ACCOUNT):
        """{blob: (creation_time, processed_bytes)} of a container."""
        return {b: (c, n) for b, c, n in self._query(
            "SELECT blob, creation_time, processed_bytes FROM storage_blob_offset "
            "WHERE md5 = ? AND container = ?", (md5(account), container))}

    @staticmethod
    def wait_next_second():
        """Sleep into the next second: what is written then has a newer
        Last-Modified than any date a run made before (a checkpoint taken
        from "now" keeps microseconds; Last-Modified has whole seconds)."""
        t = time.time()
        time.sleep(int(t) + 1.05 - t)

    def wait_past(self, response):
        """Sleep until the clock is past the second of a write's
        Last-Modified, so that the next write has a newer one."""
        lm = response.last_modified().timestamp()
        while time.time() < lm + 1.05:
            time.sleep(0.05)



# ------------------------------------------------------- credentials (issue 8)

def make_certificate(workdir, name, algorithm="rsa:2048"):
    """A private key and self-signed certificate made by the openssl CLI in
    workdir (never committed): (key PEM, certificate PEM, the mock's
    {"certificate": {"n", "e", "x5t"}} entry for it). algorithm is
    openssl req's -newkey (rsa:2048, ec -pkeyopt ...: see callers)."""
    import base64
    key = os.path.join(workdir, name + ".key")
    crt = os.path.join(workdir, name + ".crt")
    argv = ["openssl", "req", "-x509", "-nodes", "-days", "2",
            "-subj", "/CN=azure-logs-test-" + name,
            "-keyout", key, "-out", crt]
    if algorithm.startswith("ec"):
        argv[3:3] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    else:
        argv[3:3] = ["-newkey", algorithm]
    old = os.umask(0o077)
    try:
        subprocess.run(argv, check=True, capture_output=True)
    finally:
        os.umask(old)
    with open(key) as f:
        key_pem = f.read()
    with open(crt) as f:
        crt_pem = f.read()
    der = subprocess.run(["openssl", "x509", "-in", crt, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    x5t = base64.urlsafe_b64encode(hashlib.sha1(der).digest()).decode().rstrip("=")
    entry = {"certificate": {"n": "0", "e": 65537, "x5t": x5t}}
    if not algorithm.startswith("ec"):
        mod = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-modulus"],
                             check=True, capture_output=True, text=True).stdout
        entry["certificate"]["n"] = mod.strip().split("=", 1)[1]
    os.unlink(key)
    return key_pem, crt_pem, entry


def write_file_private(path, text):
    """A file only its owner may read (as auth files must be)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def fetcher_argv(prog, auth, mock_url, query=None, since="2000-01-01T00:00:00Z",
                 extra=(), debug="2"):
    """A stand-alone fetcher (--since --json: no other process) against the
    mock: its whole command line."""
    bindir = os.environ.get("AZURE_LOGS_BINDIR", os.path.join(TOP, "bin"))
    argv = [os.path.join(bindir, prog), "--tenant", TENANT, "--auth-file", auth,
            "--login-url", mock_url, "-d", debug, "--since", since, "--json"]
    if prog == "azure-graph":
        argv += ["--query", query or "auditLogs/signIns", "--graph-url", mock_url]
    elif prog == "azure-la":
        argv += ["--query", query or "T", "--la-url", mock_url]
    return argv + list(extra)


class LoopbackProxy:
    """A forward HTTP proxy on 127.0.0.1 (threaded): absolute-form requests
    (GET/POST http://HOST:PORT/...) are forwarded when HOST is loopback,
    CONNECT is refused (403) unless tunnel is true and the target loopback.
    Records every request: self.seen = [(method, target, proxy
    authorization header or None)]."""

    HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization",
           "te", "trailer", "transfer-encoding", "upgrade", "content-length"}

    def __init__(self, tunnel=False):
        import http.client
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        self.seen = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 60

            def log_message(self, fmt, *args):
                pass

            def record(self):
                with proxy.lock:
                    proxy.seen.append((self.command, self.path,
                                       self.headers.get("Proxy-Authorization")))

            def do_CONNECT(self):
                self.record()
                host, _, port = self.path.rpartition(":")
                if not tunnel or host != "127.0.0.1":
                    self.send_response(403, "Forbidden by the test proxy")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                up = socket.create_connection((host, int(port)))
                self.send_response(200, "Connection established")
                self.end_headers()
                self.close_connection = True
                self._pipe(self.connection, up)

            @staticmethod
            def _pipe(a, b):
                import select
                socks = [a, b]
                while True:
                    r, _, _ = select.select(socks, [], [], 30)
                    if not r:
                        break
                    for s in r:
                        d = s.recv(65536)
                        if not d:
                            b.close()
                            return
                        (b if s is a else a).sendall(d)

            def do_any(self):
                self.record()
                u = urllib.parse.urlsplit(self.path)
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                if u.scheme != "http" or u.hostname not in ("127.0.0.1", "localhost"):
                    self.send_response(502, "Not forwarded by the test proxy")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in proxy.HOP}
                c.request(self.command, u.path + ("?" + u.query if u.query else ""),
                          body=body, headers=hdrs)
                r = c.getresponse()
                data = r.read()
                self.send_response(r.status, r.reason)
                for k, v in r.getheaders():
                    if k.lower() not in proxy.HOP and k.lower() != "date":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                c.close()

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def targets(self):
        with self.lock:
            return [t for _, t, _ in self.seen]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
