"""End-to-end: a full run at -d 2 (Graph, Log Analytics, Storage) leaks no
secret. Neither the client secret, the storage account key, a bearer token
the mock issued, an Authorization header sent, nor a Shared Key signature
may appear in the launcher's stderr or stdout, in the events Wazuh
receives, in any file under the run's Wazuh home (azure.db and its -wal,
the dead-letter file, the launcher's pipe directory: TMPDIR points there),
nor on the roles' command lines or in their environment.

The runs go through a recording reverse proxy (RecordingProxy, below) in
front of the mock or Azurite: it keeps every Authorization header the
fetcher sent and every access token the token endpoint issued, and it
breaks the runs on purpose so that they take the paths where a secret is
most likely to leak: the token is revoked half-way (a real 401 from the
mock, then a new token) and a page, a listing and a blob are answered 503
once (retried). Each run must still succeed and deliver every event, and
its log must hold DEBUG lines, so that the test cannot pass vacuously.
"""

import datetime
import gzip
import http.client
import json
import os
import stat
import subprocess
import threading
import types
import unittest
import unittest.mock
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import (PipelineTest, StorageTest, azurite, gen_graph, iso,
                     storage_lines, storage_payload, utcnow, wazuh_payload)

import gen_la  # tests/mock, on the path through harness

H = datetime.timedelta(hours=1)
SIGNINS = "auditLogs/signIns"
WORKSPACE = "ws-secrets"

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade", "expect", "content-length"}


class RecordingProxy:
    """A reverse proxy on 127.0.0.1 in front of one upstream (the mock or
    Azurite). It forwards each request as it came, records the
    Authorization headers and the access tokens issued, rewrites the
    upstream's own address in JSON and XML answers (Graph's nextLink), and
    applies rules: {"match": substring of the request target, "skip": N
    matching requests first, "before": callable run before forwarding, or
    "status"/"headers"/"body": an answer of its own instead}. Each rule
    applies once."""

    def __init__(self, upstream):
        u = urllib.parse.urlsplit(upstream)
        self.up_host, self.up_port = u.hostname, u.port
        self.up_base = ("http://%s:%d" % (u.hostname, u.port)).encode()
        self.authorizations = []
        self.tokens = []
        self.log = []  # (method, target, status, injected)
        self.rules = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 120

            def log_message(self, fmt, *args):
                pass

            def do_any(self):
                proxy.handle(self)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def rule(self, **rule):
        rule.setdefault("skip", 0)
        with self.lock:
            self.rules.append(rule)

    def _take_rule(self, target):
        with self.lock:
            hit = None
            for r in list(self.rules):
                if r["match"] not in target:
                    continue
                if r["skip"] > 0:
                    r["skip"] -= 1
                elif hit is None:
                    hit = r
                    self.rules.remove(r)
            return hit

    @staticmethod
    def _body(req):
        if "chunked" in (req.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                n = int(req.rfile.readline().split(b";")[0], 16)
                chunk = req.rfile.read(n + 2)[:n]
                if n == 0:
                    while req.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += chunk
        n = int(req.headers.get("Content-Length") or 0)
        return req.rfile.read(n) if n else b""

    def _reply(self, req, status, headers, body):
        req.send_response(status)
        for k, v in headers:
            req.send_header(k, v)
        if req.command != "HEAD" or not any(k.lower() == "content-length"
                                            for k, _ in headers):
            req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(body)

    def handle(self, req):
        body = self._body(req)
        auth = req.headers.get("Authorization")
        if auth:
            with self.lock:
                self.authorizations.append(auth)
        rule = self._take_rule(req.path)
        if rule is not None and rule.get("status"):
            with self.lock:
                self.log.append((req.command, req.path, rule["status"], True))
            self._reply(req, rule["status"], rule.get("headers", []),
                        rule.get("body", b""))
            return
        if rule is not None and rule.get("before"):
            rule["before"]()
        conn = http.client.HTTPConnection(self.up_host, self.up_port, timeout=120)
        try:
            conn.putrequest(req.command, req.path, skip_host=True,
                            skip_accept_encoding=True)
            for k, v in req.headers.items():
                if k.lower() not in HOP_BY_HOP:
                    conn.putheader(k, v)
            if body or req.command in ("POST", "PUT"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            headers = [(k, v) for k, v in resp.getheaders()
                       if k.lower() not in HOP_BY_HOP
                       or (req.command == "HEAD" and k.lower() == "content-length")]
        finally:
            conn.close()
        ctype = (resp.getheader("Content-Type") or "").lower()
        if "json" in ctype or "xml" in ctype:
            gz = (resp.getheader("Content-Encoding") or "").lower() == "gzip"
            text = gzip.decompress(data) if gz else data
            if "/oauth2/" in req.path and resp.status == 200:
                with self.lock:
                    self.tokens.append(json.loads(text)["access_token"])
            if self.up_base in text:
                text = text.replace(self.up_base, self.base.encode())
                data = gzip.compress(text) if gz else text
        with self.lock:
            self.log.append((req.command, req.path, resp.status, False))
        self._reply(req, resp.status, headers, data)


WRAPPER = """#!/bin/sh
# Records each role's command line and environment, then runs the role
# (through the wrapper given before, e.g. valgrind's, if any).
{ printf 'argv:'; printf ' %s' "$@"; printf '\\n'; env; } >"$AZURE_LOGS_TEST_RECORD.$$"
# shellcheck disable=SC2086
exec ${AZURE_LOGS_TEST_WRAPPER:-} "$@"
"""


class NoSecretMixin:
    """The run's environment and the search for secrets, shared by the
    Graph/Log Analytics and the Storage tests."""

    def keeping_output(self, run, *args, **kwargs):
        """run(*args, **kwargs) (a harness helper: its checks included),
        and the launcher's whole stdout and stderr (the helpers return
        neither; last_stderr lacks the warning of --no-privsep)."""
        real = subprocess.run
        out = []

        def keep(*a, **kw):
            p = real(*a, **kw)
            out.append(p)
            return p
        with unittest.mock.patch.object(subprocess, "run", side_effect=keep):
            result = run(*args, **kwargs)
        self.assertEqual(len(out), 1)
        return result, out[0].stdout, out[0].stderr

    def prepare_run(self):
        """TMPDIR (the launcher's pipe directory) inside the Wazuh home, and
        a wrapper that records each role's argv and environment."""
        tmp = os.path.join(self.home, "tmp")
        os.mkdir(tmp, 0o700)
        wrapper = os.path.join(self.home, "record-role")
        with open(wrapper, "w") as f:
            f.write(WRAPPER)
        os.chmod(wrapper, 0o755)
        self.record = os.path.join(self.home, "role")  # role.<pid>, one a role
        env = {"TMPDIR": tmp, "AZURE_LOGS_WRAPPER": wrapper,
               "AZURE_LOGS_TEST_RECORD": self.record,
               "AZURE_LOGS_TEST_WRAPPER": os.environ.get("AZURE_LOGS_WRAPPER", "")}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)

        def restore():
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.addCleanup(restore)

    @staticmethod
    def variants(value):
        """A secret as it could be written: as is, URL-encoded (a form body,
        a query), and its 16-character pieces at every 8th character, so
        that any excerpt of 23 characters or more is found too (a log that
        cuts it)."""
        out = {value, urllib.parse.quote(value, safe=""),
               urllib.parse.quote_plus(value)}
        if len(value) >= 24:
            out |= {value[i:i + 16] for i in range(0, len(value) - 15, 8)}
            out.add(value[-16:])
        return out

    def forbidden(self, proxy, secrets_):
        """{text: what it is} for every secret of the run."""
        found = {}
        for what, value in secrets_:
            for v in self.variants(value):
                found[v] = what
        self.assertTrue(proxy.authorizations, "no request carried an Authorization")
        for h in proxy.authorizations:
            found[h] = "an Authorization header"
            scheme, _, cred = h.partition(" ")
            if scheme == "SharedKey":
                sig = cred.rpartition(":")[2]
                self.assertGreaterEqual(len(sig), 40, h)
                for v in self.variants(sig):
                    found[v] = "a Shared Key signature"
            else:
                self.assertEqual(scheme, "Bearer", "unexpected scheme")
                self.assertIn(cred, proxy.tokens, "a token the mock did not issue")
        for t in proxy.tokens:
            # The first part is the JWT header, the same in every token.
            for part in t.split(".")[1:]:
                for v in self.variants(part):
                    found[v] = "a bearer token"
        return found

    def assertNoSecret(self, forbidden, stdout, stderr, datagrams, inputs):
        """No secret in the output, the events, the roles' argv/environment
        or any file of the Wazuh home (except the credential files the test
        wrote: inputs)."""
        places = [("the launcher's stderr", stderr),
                  ("the launcher's stdout", stdout),
                  ("the events sent to Wazuh", b"\n".join(datagrams))]
        files = []
        for root, _, names in os.walk(self.home):
            for n in names:
                path = os.path.join(root, n)
                if path in inputs:
                    continue
                st = os.lstat(path)
                if stat.S_ISREG(st.st_mode):
                    with open(path, "rb") as f:
                        places.append((path, f.read()))
                    files.append(os.path.relpath(path, self.home))
        for where, data in places:
            for value, what in forbidden.items():
                # Not assertNotIn: its message would print the secret.
                self.assertFalse(value.encode() in data,
                                 "%s found in %s" % (what, where))
        argv = []
        for name in files:
            if name.startswith("role."):
                with open(os.path.join(self.home, name)) as f:
                    argv += [line for line in f if line.startswith("argv:")]
        self.assertEqual(len(argv), 3, "not every role went through the wrapper")
        # The launcher handed the authentication file over on a descriptor.
        fetcher = [a for a in argv if " --auth-fd " in a and " --auth-file " in a]
        self.assertEqual(len(fetcher), 1, argv)
        self.assertRegex(fetcher[0], r"^argv: \S*/azure-(graph|la|storage) ")
        return files

    def assertDebug(self, stderr, *needles):
        lines = [line for line in stderr.splitlines() if "azure: DEBUG: " in line]
        self.assertTrue(lines, "no DEBUG line at -d 2")
        for n in needles:
            self.assertTrue(any(n in line for line in lines),
                            "no DEBUG line with %r" % n)


class Pipeline(NoSecretMixin, PipelineTest):
    page_size = 100

    def setUp(self):
        now = utcnow()
        # 350 sign-ins (4 pages) and one over Wazuh's 65535 bytes: the
        # dead-letter file is written, and searched.
        self.items = gen_graph.gen_signins(351, iso(now - 20 * H),
                                           iso(now - 2 * H), seed=61)
        self.items[100]["userAgent"] = "A" * 70000
        self.la = gen_la.gen_rows("SigninLogs", 120, iso(now - 10 * H),
                                  iso(now - 2 * H), seed=62)
        self.events = {SIGNINS: self.items}
        self.workspaces = {WORKSPACE: {"tables": {"SigninLogs": self.la}}}
        super().setUp()
        self.prepare_run()
        # Every URL the harness gives the launcher is self.mock.url: make it
        # the proxy's. The proxy's rules call the mock directly.
        self.direct = self.mock.url
        self.proxy = RecordingProxy(self.direct)
        self.addCleanup(self.proxy.close)
        self.mock.url = self.proxy.base

    def expire_tokens(self):
        req = urllib.request.Request(self.direct + "/_mock/expire-tokens",
                                     data=b"{}", method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertEqual(json.loads(r.read())["ok"], True)

    def check_leaks(self, got, stdout, stderr):
        forbidden = self.forbidden(self.proxy, [("the client secret", self.secret)])
        return self.assertNoSecret(forbidden, stdout, stderr, got,
                                   {self.auth, self.secret_file})

    def run_captured(self, argv):
        return self.keeping_output(self.run_argv, argv, 180)

    def test_graph(self):
        # Page 2: the token is revoked first, so the mock answers 401 and
        # the fetcher asks for a new one. Page 3: 503 once, then retried.
        self.proxy.rule(match="/v1.0/", skip=1, before=self.expire_tokens)
        self.proxy.rule(match="/v1.0/", skip=3, status=503,
                        headers=[("Retry-After", "0"),
                                 ("Content-Type", "application/json")],
                        body=json.dumps({"error": {
                            "code": "ServiceUnavailable",
                            "message": "The service is temporarily unavailable."}}).encode())
        (rc, got), stdout, stderr = self.run_captured(self.graph_command())
        self.assertEqual(rc, 0, self.last_stderr)
        big = self.items[100]
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(wazuh_payload(i) for i in self.items if i is not big))
        self.assertEqual(self.proxy.rules, [], "a rule was not used")
        statuses = [(s, inj) for m, t, s, inj in self.proxy.log if t.startswith("/v1.0/")]
        self.assertEqual(statuses, [(200, False), (401, False), (200, False),
                                    (503, True), (200, False), (200, False)])
        self.assertEqual(len(self.proxy.tokens), 2)
        self.assertIn("token refused (HTTP 401), getting a new one", self.last_stderr)
        self.assertIn("HTTP 503, retrying", self.last_stderr)
        self.assertIn(big["id"], self.last_stderr)  # dead-lettered
        self.assertDebug(self.last_stderr, "Graph: GET ", "Checkpoint of ")
        files = self.check_leaks(got, stdout, stderr)
        self.assertTrue(any(f.endswith("azure-dead-letter.jsonl") for f in files), files)
        self.assertTrue(any(f.endswith("azure.db") for f in files), files)

    def test_log_analytics(self):
        # The query: the token revoked first (401, a new token), then 503
        # once, then answered.
        self.proxy.rule(match="/query", before=self.expire_tokens)
        self.proxy.rule(match="/query", skip=1, status=503,
                        headers=[("Retry-After", "0"),
                                 ("Content-Type", "application/json")],
                        body=json.dumps({"error": {
                            "code": "ServiceUnavailable",
                            "message": "The service is temporarily unavailable."}}).encode())
        (rc, got), stdout, stderr = self.run_captured(self.la_command("SigninLogs", WORKSPACE))
        self.assertEqual(rc, 0, self.last_stderr)
        cols = [c["name"] for c in self.la["columns"]]
        want = []
        for row in self.la["rows"]:
            event = dict(zip(cols, row))
            event["azure_tag"] = "azure-log-analytics"
            want.append(json.dumps(event).encode())
        self.assertEqual(sorted(self.payloads(got)), sorted(want))
        self.assertEqual(self.proxy.rules, [], "a rule was not used")
        statuses = [(s, inj) for m, t, s, inj in self.proxy.log if "/query" in t]
        self.assertEqual(statuses, [(401, False), (503, True), (200, False)])
        self.assertEqual(len(self.proxy.tokens), 2)
        self.assertIn("token refused (HTTP 401), getting a new one", self.last_stderr)
        self.assertIn("HTTP 503, retrying", self.last_stderr)
        self.assertDebug(self.last_stderr, "Log Analytics: POST ", "Checkpoint of ")
        files = self.check_leaks(got, stdout, stderr)
        self.assertTrue(any(f.endswith("azure.db") for f in files), files)


def setUpModule():
    StorageTest.start_azurite()


def tearDownModule():
    StorageTest.stop_azurite()


SERVER_BUSY = (b'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy'
               b'</Code><Message>The server is busy.</Message></Error>')


class Storage(NoSecretMixin, StorageTest):
    def test_storage(self):
        self.prepare_run()
        c = self.container("secrets")
        plain = "".join("block line %d\n" % i for i in range(40)).encode()
        app = "".join("append line %d\n" % i for i in range(25)).encode()
        self.blob.put_block_blob(c, "block.log", plain)
        self.blob.create_append_blob(c, "app.log", app)
        self.blob.put_block_blob(c, "empty.log", b"")
        proxy = RecordingProxy(self.server.url)
        self.addCleanup(proxy.close)
        # The listing and the first blob are answered 503 once.
        busy = dict(status=503, body=SERVER_BUSY,
                    headers=[("Retry-After", "0"), ("Content-Type", "application/xml"),
                             ("x-ms-error-code", "ServerBusy")])
        proxy.rule(match="comp=list", **busy)
        proxy.rule(match="/%s/" % c, **busy)
        # run_storage gives the launcher --blob-url self.server.url: this
        # test's is the proxy's (the module's Azurite stays in StorageTest).
        self.server = types.SimpleNamespace(url=proxy.base + "/" + azurite.ACCOUNT)
        (rc, got), stdout, stderr = self.keeping_output(self.run_storage, c, timeout=120)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(sorted(self.payloads(got)),
                         sorted(storage_payload(x) for x in
                                storage_lines(plain) + storage_lines(app)))
        self.assertEqual(proxy.rules, [], "a rule was not used")
        self.assertTrue(any(inj for _, _, _, inj in proxy.log))
        self.assertIn("HTTP 503, retrying", self.last_stderr)
        self.assertDebug(self.last_stderr, "Empty blob empty.log", "Checkpoint of ")
        self.assertTrue(all(a.startswith("SharedKey %s:" % azurite.ACCOUNT)
                            for a in proxy.authorizations), proxy.authorizations[:1])
        forbidden = self.forbidden(proxy, [("the storage account key", azurite.KEY)])
        files = self.assertNoSecret(forbidden, stdout, stderr, got,
                                    {self.auth})
        self.assertTrue(any(f.endswith("azure.db") for f in files), files)


if __name__ == "__main__":
    unittest.main()
