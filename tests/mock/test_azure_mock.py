#!/usr/bin/env python3
"""Self-test of tests/mock/azure_mock.py and gen_graph.py.

    python3 tests/mock/test_azure_mock.py [-v]

Starts the mock as a subprocess on port 0 and talks to it with urllib and
http.client.  Runs in a few seconds; the server is stopped (SIGTERM, must
exit 0) at the end, and killed if anything goes wrong.
"""

import atexit
import email.utils
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_graph  # noqa: E402

GRAPH = "https://graph.microsoft.com/.default"
LA = "https://api.loganalytics.io/.default"
TENANT = "wazuh.example"
CLIENT = "2f9c5c1e-0d7a-4b8e-9a55-3c1e6f0b7d21"

SRV = {}


def _kill():
    proc = SRV.get("proc")
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


def setUpModule():
    tmp = tempfile.mkdtemp(prefix="azure-mock-test-")
    SRV["tmp"] = tmp
    # A secret that breaks any client that does not form-encode it.
    secret = secrets.token_urlsafe(18) + "+&=%2B/ ~x"
    SRV["secret"] = secret
    sfile = os.path.join(tmp, "secret")
    with open(sfile, "w") as f:
        f.write(secret + "\n")
    os.chmod(sfile, 0o600)
    cfg = {"tenants": {TENANT: {"clients": {CLIENT: {"secret_file": sfile}}}},
           "page_size": 100}
    cfile = os.path.join(tmp, "config.json")
    with open(cfile, "w") as f:
        json.dump(cfg, f)
    pfile = os.path.join(tmp, "port")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "azure_mock.py"), "--port", "0",
         "--port-file", pfile, "--config", cfile],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    SRV["proc"] = proc
    atexit.register(_kill)
    deadline = time.monotonic() + 5
    while not os.path.exists(pfile):
        if proc.poll() is not None or time.monotonic() > deadline:
            _kill()
            raise RuntimeError("mock did not start: %r"
                               % proc.stderr.read().decode())
        time.sleep(0.02)
    with open(pfile) as f:
        SRV["port"] = int(f.read())
    SRV["base"] = "http://127.0.0.1:%d" % SRV["port"]


def tearDownModule():
    proc = SRV.get("proc")
    try:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=5)
        err = proc.stderr.read().decode()
    finally:
        _kill()
        shutil.rmtree(SRV.get("tmp", ""), ignore_errors=True)
    if rc != 0:
        raise RuntimeError("mock exited %d: %s" % (rc, err))
    if SRV["secret"] in err:
        raise RuntimeError("secret leaked on stderr")


# ---------------------------------------------------------------- helpers

def req(method, url, body=None, headers=None):
    if url.startswith("/"):
        url = SRV["base"] + url
    r = urllib.request.Request(url, data=body, method=method,
                               headers=headers or {})
    try:
        with urllib.request.urlopen(r, timeout=5) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def ctl(name, obj=None, method="POST"):
    body = None if method == "GET" else json.dumps(obj or {}).encode()
    st, _, data = req(method, "/_mock/" + name, body,
                      {"Content-Type": "application/json"})
    assert st == 200, (name, st, data)
    return json.loads(data)


def token_req(tenant=TENANT, client=CLIENT, secret=None, scope=GRAPH,
              grant="client_credentials", raw=None,
              ctype="application/x-www-form-urlencoded"):
    if raw is None:
        raw = urllib.parse.urlencode({
            "client_id": client, "scope": scope,
            "client_secret": SRV["secret"] if secret is None else secret,
            "grant_type": grant}).encode()
    st, _, data = req("POST", "/%s/oauth2/v2.0/token" % tenant, raw,
                      {"Content-Type": ctype})
    return st, json.loads(data)


def token(scope=GRAPH):
    st, data = token_req(scope=scope)
    assert st == 200, data
    return data["access_token"]


def graph(path_or_url, tok=None, headers=None):
    h = dict(headers or {})
    if tok:
        h["Authorization"] = "Bearer " + tok
    if not path_or_url.startswith("http"):
        path_or_url = "/v1.0/" + path_or_url
    st, hdrs, data = req("GET", path_or_url, None, h)
    return st, hdrs, data


def item(i, when):
    return {"id": i, "createdDateTime": when, "activityDateTime": when}


# ---------------------------------------------------------------- tests

class TokenTests(unittest.TestCase):
    def test_success(self):
        st, data = token_req()
        self.assertEqual(st, 200, data)
        self.assertEqual(data["token_type"], "Bearer")
        self.assertEqual(data["expires_in"], 3599)
        self.assertEqual(data["ext_expires_in"], 3599)
        self.assertGreater(len(data["access_token"]), 100)
        st, data = token_req(scope=LA)
        self.assertEqual(st, 200, data)

    def check_err(self, resp, status, error, code):
        st, data = resp
        self.assertEqual(st, status, data)
        self.assertEqual(data["error"], error)
        self.assertEqual(data["error_codes"], [code])
        for k in ("error_description", "timestamp", "trace_id",
                  "correlation_id", "error_uri"):
            self.assertIn(k, data)
        self.assertNotIn(SRV["secret"], json.dumps(data))

    def test_errors(self):
        self.check_err(token_req(tenant="nope.example"), 400,
                       "invalid_tenant", 90002)
        self.check_err(token_req(client="00000000-1111-2222-3333-"
                                 "444444444444"),
                       400, "unauthorized_client", 700016)
        self.check_err(token_req(secret="wrong"), 401, "invalid_client",
                       7000215)
        self.check_err(token_req(scope="https://graph.microsoft.com/"),
                       400, "invalid_scope", 70011)
        st, data = token_req(grant="password")
        self.assertEqual((st, data["error"]), (400, "unsupported_grant_type"))
        # The secret sent without form encoding must not match.
        raw = ("client_id=%s&scope=%s&client_secret=%s&grant_type="
               "client_credentials" % (CLIENT, urllib.parse.quote(GRAPH),
                                       SRV["secret"])).encode()
        self.check_err(token_req(raw=raw), 401, "invalid_client", 7000215)
        # A JSON body is not a form: grant_type is "missing".
        st, data = token_req(raw=b'{"grant_type":"client_credentials"}',
                             ctype="application/json")
        self.check_err((st, data), 400, "invalid_request", 900144)

    def test_old_tenant_error(self):
        ctl("config", {"old_tenant_error": True})
        try:
            self.check_err(token_req(tenant="nope.example"), 400,
                           "invalid_request", 90002)
        finally:
            ctl("config", {"old_tenant_error": False})

    def test_ttl_and_expire(self):
        tok = token()
        self.assertEqual(graph("auditLogs/signIns", tok)[0], 200)
        ctl("expire-tokens")
        st, _, data = graph("auditLogs/signIns", tok)
        self.assertEqual(st, 401)
        self.assertIn("expired", json.loads(data)["error"]["message"])
        ctl("config", {"token_ttl": 1})
        try:
            st, data = token_req()
            self.assertEqual(data["expires_in"], 1)
            tok = data["access_token"]
            self.assertEqual(graph("auditLogs/signIns", tok)[0], 200)
            time.sleep(1.05)
            self.assertEqual(graph("auditLogs/signIns", tok)[0], 401)
        finally:
            ctl("config", {"token_ttl": 3599})
        scopes = {t["scope"] for t in ctl("tokens", method="GET")}
        self.assertIn(GRAPH, scopes)


class GraphAuthTests(unittest.TestCase):
    def test_401(self):
        for tok in (None, "not-a-token", token(LA)):
            st, hdrs, data = graph("auditLogs/signIns", tok)
            self.assertEqual(st, 401, tok)
            err = json.loads(data)["error"]
            self.assertEqual(err["code"], "InvalidAuthenticationToken")
            self.assertEqual(set(err["innerError"]),
                             {"date", "request-id", "client-request-id"})

    def test_unknown_path(self):
        st, _, data = graph("auditLogs/nothing", token())
        self.assertIn(st, (400, 404))
        self.assertIn("code", json.loads(data)["error"])


class FilterTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ctl("clear-events", {"path": "auditLogs/signIns"})
        ctl("events", {"path": "auditLogs/signIns", "items": [
            item("a", "2024-06-01T10:00:00.0000001Z"),
            item("b", "2024-06-01T10:00:00.0000001Z"),
            item("c", "2024-06-01T10:00:00Z"),
            item("d", "2024-06-01T10:00:00.0000002Z"),
            item("e", "2024-06-01T09:00:00.5Z"),
            item("f", "2024-06-01T11:00:00.1234567Z"),
        ]})
        cls.tok = token()

    def ids(self, query, path="auditLogs/signIns"):
        st, hdrs, data = graph(path + "?" + query, self.tok)
        self.assertEqual(st, 200, data)
        self.assertTrue(hdrs["Content-Type"].startswith(
            "application/json; odata.metadata=minimal"))
        body = json.loads(data)
        self.assertNotIn("@odata.nextLink", body)
        return [x["id"] for x in body["value"]]

    def test_all_newest_first(self):
        self.assertEqual(self.ids(""), list("fdabce"))
        self.assertEqual(self.ids("", "auditLogs/signins"), list("fdabce"))

    def test_comparisons(self):
        f = "&$filter=createdDateTime+%s+%s"
        t1 = "2024-06-01T10:00:00.0000001Z"
        self.assertEqual(self.ids(f % ("ge", t1)), list("fdab"))
        self.assertEqual(self.ids(f % ("gt", t1)), list("fd"))
        self.assertEqual(self.ids(f % ("lt", t1)), list("ce"))
        self.assertEqual(self.ids(f % ("le", t1)), list("abce"))
        self.assertEqual(self.ids(f % ("eq", t1)), list("ab"))
        # Wazuh's 6-digit form, and %20 instead of '+'.
        self.assertEqual(self.ids(
            "$filter=createdDateTime%20gt%202024-06-01T10:00:00.000000Z"),
            list("fdab"))

    def test_or_form(self):
        q = ("&$filter=(createdDateTime+lt+2024-06-01T10:00:00Z+and+"
             "createdDateTime+ge+2024-06-01T09:00:00Z)+or+"
             "(createdDateTime+gt+2024-06-01T10:00:00.0000001Z)")
        self.assertEqual(self.ids(q), list("fde"))

    def test_bad_filters(self):
        for q in ("$filter=createdDateTime+ge+'2024-06-01T00:00:00Z'",
                  "$filter=activityDateTime+ge+2024-06-01T00:00:00Z",
                  "$filter=createdDateTime+ge",
                  "$filter=createdDateTime+ge+2024-06-01T00:00:00.12345678Z",
                  "$filter=(createdDateTime+ge+2024-06-01T00:00:00Z",
                  "$filter=createdDateTime+ge+2024-13-01T00:00:00Z"):
            st, _, data = graph("auditLogs/signIns?" + q, self.tok)
            self.assertEqual(st, 400, q)
            err = json.loads(data)["error"]
            self.assertEqual((err["code"], err["message"]),
                             ("BadRequest", "Invalid filter clause"))
        st, _, _ = graph("auditLogs/signIns?$top=1001", self.tok)
        self.assertEqual(st, 400)


class PagingTests(unittest.TestCase):
    PATH = "auditLogs/directoryAudits"

    @classmethod
    def setUpClass(cls):
        cls.items = gen_graph.gen_directory_audits(
            250, "2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z", seed=7)
        cls.tok = token()

    def setUp(self):
        ctl("clear-events", {"path": self.PATH})
        ctl("events", {"path": self.PATH, "items": self.items})

    def walk(self, first):
        pages, url = [], first
        while url:
            st, _, data = graph(url, self.tok)
            self.assertEqual(st, 200, data)
            body = json.loads(data)
            pages.append([x["id"] for x in body["value"]])
            url = body.get("@odata.nextLink")
            if url:
                prefix = "%s/v1.0/auditlogs/directoryaudits?$filter=" % (
                    SRV["base"])
                self.assertTrue(url.startswith(prefix), url)
                self.assertIn("%20ge%20", url)
                self.assertIn("&$top=100&$skiptoken=", url)
            if len(pages) == 1:     # snapshot: later items do not show up
                ctl("events", {"path": self.PATH, "items": [
                    item("late-%d" % len(self.items),
                         "2024-06-01T12:00:00Z")]})
        return pages

    def expected(self):
        srt = sorted(self.items, key=lambda x: (
            -gen_graph.to_ticks(x["activityDateTime"]), x["id"]))
        return [x["id"] for x in srt]

    def test_pages_verbatim(self):
        ctl("reset-log")
        first = ("auditLogs/directoryAudits?&$filter=activityDateTime+ge+"
                 "2024-06-01T00:00:00.000000Z&$top=100")
        pages = self.walk(first)
        self.assertEqual([len(p) for p in pages], [100, 100, 50])
        self.assertEqual(sum(pages, []), self.expected())
        log = ctl("requests", method="GET")
        self.assertEqual(len(log), 3)
        self.assertIn("$skiptoken=", log[1]["query"])
        self.assertIn("%20", log[1]["query"])

    def test_empty_pages(self):
        ctl("config", {"empty_pages": True, "empty_last_page": True})
        try:
            pages = self.walk("auditLogs/directoryAudits?$filter="
                              "activityDateTime+ge+2024-06-01T00:00:00Z")
        finally:
            ctl("config", {"empty_pages": False, "empty_last_page": False})
        self.assertEqual([len(p) for p in pages], [100, 0, 100, 0, 50, 0])
        self.assertEqual(sum(pages, []), self.expected())

    def test_bad_skiptoken(self):
        st, _, _ = graph(self.PATH + "?$skiptoken=deadbeef", self.tok)
        self.assertEqual(st, 400)


class FailureTests(unittest.TestCase):
    def setUp(self):
        ctl("clear-fail")
        self.tok = token()

    def test_429_retry_after(self):
        ctl("fail", {"match": "/v1.0/", "status": 429, "retry_after": "1",
                     "count": 2})
        for _ in range(2):
            st, hdrs, data = graph("auditLogs/signIns", self.tok)
            self.assertEqual(st, 429)
            self.assertEqual(hdrs["Retry-After"], "1")
            self.assertEqual(json.loads(data)["error"]["code"],
                             "TooManyRequests")
        self.assertEqual(graph("auditLogs/signIns", self.tok)[0], 200)

    def test_retry_after_forms(self):
        ctl("fail", {"match": "/v1.0/", "status": 503})
        st, hdrs, _ = graph("auditLogs/signIns", self.tok)
        self.assertEqual(st, 503)
        self.assertIsNone(hdrs["Retry-After"])
        ctl("fail", {"match": "/v1.0/", "status": 429,
                     "retry_after_http_date": 3})
        st, hdrs, _ = graph("auditLogs/signIns", self.tok)
        self.assertEqual(st, 429)
        self.assertIsNotNone(email.utils.parsedate_to_datetime(
            hdrs["Retry-After"]))

    def test_token_failure(self):
        ctl("fail", {"match": "/oauth2/", "status": 500})
        st, data = token_req()
        self.assertEqual(st, 500)
        self.assertIn("error_codes", data)
        self.assertEqual(token_req()[0], 200)

    def test_truncate_and_garbage(self):
        ctl("fail", {"match": "/v1.0/", "truncate": True})
        conn = http.client.HTTPConnection("127.0.0.1", SRV["port"],
                                          timeout=5)
        conn.request("GET", "/v1.0/auditLogs/directoryAudits",
                     headers={"Authorization": "Bearer " + self.tok})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        with self.assertRaises(http.client.IncompleteRead):
            resp.read()
        conn.close()
        ctl("fail", {"match": "/v1.0/", "garbage": True})
        st, _, data = graph("auditLogs/signIns", self.tok)
        self.assertEqual(st, 200)
        with self.assertRaises(ValueError):
            json.loads(data)
        self.assertEqual(graph("auditLogs/signIns", self.tok)[0], 200)


class LogAndConnectionTests(unittest.TestCase):
    def test_request_log(self):
        ctl("reset-log")
        tok = token()
        graph("auditLogs/signIns?$filter=createdDateTime+ge+"
              "2024-06-01T00:00:00Z", tok)
        graph("auditLogs/signIns")
        log = ctl("requests", method="GET")
        self.assertEqual([(e["method"], e["status"], e["has_auth"])
                          for e in log],
                         [("POST", 200, False), ("GET", 200, True),
                          ("GET", 401, False)])
        self.assertEqual(log[0]["path"], "/%s/oauth2/v2.0/token" % TENANT)
        self.assertEqual(log[1]["query"],
                         "$filter=createdDateTime+ge+2024-06-01T00:00:00Z")
        dump = json.dumps(log)
        self.assertNotIn(SRV["secret"], dump)
        self.assertNotIn(tok, dump)

    def test_keep_alive(self):
        conn = http.client.HTTPConnection("127.0.0.1", SRV["port"],
                                          timeout=5)
        body = urllib.parse.urlencode({
            "client_id": CLIENT, "client_secret": SRV["secret"],
            "scope": GRAPH, "grant_type": "client_credentials"})
        conn.request("POST", "/%s/oauth2/v2.0/token" % TENANT, body,
                     {"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        tok = json.loads(resp.read())["access_token"]
        sock = conn.sock
        for i in range(20):
            conn.request("GET", "/v1.0/auditLogs/signIns?$top=2",
                         headers={"Authorization": "Bearer " + tok})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertFalse(resp.will_close)
            json.loads(resp.read())
            self.assertIs(conn.sock, sock)
        conn.close()

    def test_concurrent(self):
        tok = token()
        errors = []

        def worker():
            try:
                for _ in range(10):
                    st = graph("auditLogs/directoryAudits?$top=5", tok)[0]
                    if st != 200:
                        errors.append(st)
            except Exception as exc:        # noqa: BLE001
                errors.append(exc)
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])


class GeneratorTests(unittest.TestCase):
    def test_shapes(self):
        a = gen_graph.gen_signins(50, "2024-06-01T00:00:00Z",
                                  "2024-06-01T01:00:00Z", seed=3)
        self.assertEqual(a, gen_graph.generate(
            "signIns", 50, "2024-06-01T00:00:00Z", "2024-06-01T01:00:00Z", 3))
        for x in a:
            self.assertRegex(x["createdDateTime"],
                             r"^2024-06-01T00:\d\d:\d\d\.\d{7}Z$")
        d = gen_graph.gen_directory_audits(300, "2024-06-01T00:00:00Z",
                                           "2024-06-02T00:00:00Z", seed=3)
        self.assertTrue(any(x["initiatedBy"]["app"] is None for x in d))
        self.assertTrue(any(isinstance(x["initiatedBy"]["user"], str)
                            for x in d))
        self.assertTrue(any("status" in x and x["status"] is None
                            for x in d))
        self.assertTrue(any(isinstance(x.get("status"), str) for x in d))


if __name__ == "__main__":
    unittest.main()
