#!/usr/bin/env python3
"""Self-test of tests/mock/azure_mock.py (token endpoint, Microsoft Graph,
Log Analytics with its KQL subset in kql.py), gen_graph.py and gen_la.py.

    python3 tests/mock/test_azure_mock.py [-v]

Starts the mock as a subprocess on port 0 and talks to it with urllib and
http.client.  Runs in a few seconds; the server is stopped (SIGTERM, must
exit 0) at the end, and killed if anything goes wrong.
"""

import atexit
import email.utils
import gzip
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
import gen_la  # noqa: E402
import kql  # noqa: E402

GRAPH = "https://graph.microsoft.com/.default"
LA = "https://api.loganalytics.io/.default"
TENANT = "wazuh.example"
CLIENT = "2f9c5c1e-0d7a-4b8e-9a55-3c1e6f0b7d21"
WS = "7d3e9a52-1b4c-4f0e-8a6d-2c9b5e1f0a37"          # Log Analytics
WS_EMPTY = "00000000-0000-0000-0000-0000000000e0"
WS_FORBIDDEN = "00000000-0000-0000-0000-0000000000f0"
SEC_EVENTS = gen_la.gen_rows("SecurityEvent", 300, "2024-06-01T00:00:00Z",
                             "2024-06-01T06:00:00Z", seed=11)

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
    lafile = os.path.join(tmp, "security.json")
    with open(lafile, "w", encoding="utf-8") as f:
        json.dump(SEC_EVENTS, f, ensure_ascii=False)
    cfg = {"tenants": {TENANT: {"clients": {CLIENT: {"secret_file": sfile}}}},
           "page_size": 100,
           "workspaces": {
               WS: {"tables": {"SecurityEvent": {"file": "security.json"}}},
               WS_EMPTY: {"empty": True},
               WS_FORBIDDEN: {"forbidden": True}}}
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


# ---------------------------------------------------------- Log Analytics

LA_TOKEN = {}


def la_token():
    if "tok" not in LA_TOKEN:
        LA_TOKEN["tok"] = token(LA)
    return LA_TOKEN["tok"]


def la(query, ws=WS, method="POST", timespan=None, tok=None, headers=None,
       raw=None):
    """Returns (status, headers, parsed JSON or raw bytes)."""
    h = {"Authorization": "Bearer " + (tok or la_token())}
    if tok == "":
        del h["Authorization"]
    path = "/v1/workspaces/%s/query" % ws
    body = None
    if method == "POST":
        h["Content-Type"] = "application/json"
        obj = {"query": query}
        if timespan is not None:
            obj["timespan"] = timespan
        body = raw if raw is not None else json.dumps(obj).encode()
    else:
        q = {"query": query}
        if timespan is not None:
            q["timespan"] = timespan
        path += "?" + urllib.parse.urlencode(q)
    h.update(headers or {})
    st, hdrs, data = req(method, path, body, h)
    try:
        return st, hdrs, json.loads(data) if data else data
    except ValueError:
        return st, hdrs, data


EV_COLUMNS = [{"name": "TimeGenerated", "type": "datetime"},
              {"name": "Name", "type": "string"},
              {"name": "N", "type": "long"},
              {"name": "Flag", "type": "bool"},
              {"name": "D", "type": "dynamic"},
              {"name": "R", "type": "real"},
              {"name": "G", "type": "guid"},
              {"name": "S", "type": "timespan"},
              {"name": "M", "type": "decimal"}]
# Stored in this (unsorted) order; "a" and "b" share a timestamp to 100 ns.
EV_ROWS = [
    ["2024-06-01T10:00:00.0000001Z", "a alpha", 9223372036854775807, True,
     '{"a":1,"b":[true,null]}', 0.1, "6F9619FF-8B86-D011-B42D-00C04FC964FF",
     "00:00:01.5000000", "12.3400"],
    ["2024-06-01T10:00:00.0000001Z", "b 'quoted' \"x\"", 9007199254740993,
     False, "[1,2]", 1e-05, None, None, None],
    ["2024-06-01T10:00:00Z", "c José", -1, None, None, -0.0,
     "00000000-0000-0000-0000-000000000001", "1.02:03:04.0050000", "-0.0001"],
    ["2024-06-01T10:00:00.0000002Z", "d", None, True, "{}", 1.5e+16, None,
     None, "0"],
    ["2024-06-01T09:00:00.5Z", "e alphabet", 42, False, None, 47.6, None,
     "-00:00:00.0000001", None],
    ["2024-06-01T11:00:00.1234567Z", "", 0, True, '"s"', None, None, None,
     None],
]
ASC = list("ecabdf")
T1 = "2024-06-01T10:00:00.0000001Z"


class LaAuthTests(unittest.TestCase):
    def check_err(self, resp, status, code):
        st, _, body = resp
        self.assertEqual(st, status, body)
        err = body["error"]
        self.assertEqual(err["code"], code)
        self.assertIsInstance(err["message"], str)
        self.assertRegex(err["correlationId"], r"^[0-9a-f-]{36}$")
        self.assertEqual(set(err["innererror"]) >= {"code", "message"}, True)
        return err

    def test_scope(self):
        q = "SecurityEvent | take 1"
        self.assertEqual(la(q)[0], 200)
        self.check_err(la(q, tok=token(GRAPH)), 401, "AuthenticationFailed")
        self.check_err(la(q, tok=""), 401, "AuthenticationFailed")
        self.check_err(la(q, tok="nope"), 401, "AuthenticationFailed")
        st, hdrs, _ = la(q, tok="nope")
        self.assertIn("Bearer", hdrs["WWW-Authenticate"])

    def test_403_404_204(self):
        q = "SecurityEvent | take 1"
        self.check_err(la(q, ws=WS_FORBIDDEN), 403, "InsufficientAccessError")
        self.check_err(la(q, ws="11111111-2222-3333-4444-555555555555"),
                       404, "PathNotFoundError")
        st, _, body = req("GET", "/v1/workspaces/%s/nothing" % WS, None,
                          {"Authorization": "Bearer " + la_token()})
        self.assertEqual(st, 404)
        self.assertEqual(json.loads(body)["error"]["code"],
                         "PathNotFoundError")
        for method in ("POST", "GET"):
            st, hdrs, body = la(q, ws=WS_EMPTY, method=method)
            self.assertEqual((st, body), (204, b""))
        # The workspace id is case-insensitive.
        self.assertEqual(la(q, ws=WS.upper())[0], 200)

    def test_non_json_post(self):
        st, _, body = la(None, raw=b"query=SecurityEvent")
        self.assertEqual((st, body), (200, b""))
        st, _, body = la(None, raw=b"query=SecurityEvent",
                         headers={"Content-Type": "text/plain"})
        self.assertEqual((st, body), (200, b""))
        st, _, body = la(None, raw=b'{"query": "SecurityEvent"')
        self.assertEqual((st, body), (200, b""))

    def test_400(self):
        for q in ("SecurityEvent | summarize count() by Computer",
                  "SecurityEvent | where TimeGenerated >= "
                  "datetime(2024-06-01T00:00:00.12345678Z)",
                  "SecurityEvent | where (EventID == 4624",
                  "SecurityEvent | where EventID === 1",
                  "SecurityEvent | Where EventID == 1",
                  "SecurityEvent | take"):
            err = self.check_err(la(q), 400, "BadArgumentError")
            inner = err["innererror"]
            self.assertEqual(inner["code"], "SyntaxError", q)
            self.assertRegex(inner["message"],
                             r"^Query could not be parsed at '.*' on line "
                             r"\[1,\d+\]$")
        err = self.check_err(la("SecurityEvent | summarize count()"), 400,
                             "BadArgumentError")
        self.assertIn("'summarize' on line [1,17]",
                      err["innererror"]["message"])
        for q in ("NoSuchTable | take 1",
                  "SecurityEvent | where NoColumn == 1",
                  "SecurityEvent | where TimeGenerated > '2024-06-01'",
                  "SecurityEvent | project NoColumn"):
            err = self.check_err(la(q), 400, "BadArgumentError")
            self.assertEqual(err["innererror"]["code"], "SemanticError", q)
        self.check_err(la(""), 400, "BadArgumentError")
        st, _, body = req("GET", "/v1/workspaces/%s/query" % WS, None,
                          {"Authorization": "Bearer " + la_token()})
        self.assertEqual(st, 400)
        for ts in ("yesterday", "2024-06-01T00:00:00Z/PT", "P1D/P1D",
                   "2024-06-02T00:00:00Z/2024-06-01T00:00:00Z"):
            self.check_err(la("SecurityEvent", timespan=ts), 400,
                           "BadArgumentError")


class LaQueryTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ctl("la-clear", {"workspace": WS, "table": "Ev", "drop": True})
        ctl("la-rows", {"workspace": WS, "table": "Ev",
                        "columns": EV_COLUMNS, "rows": EV_ROWS[:3]})
        # Appending to an existing table, columns optional.
        ctl("la-rows", {"workspace": WS, "table": "Ev",
                        "rows": EV_ROWS[3:]})

    def rows(self, query, **kw):
        st, hdrs, body = la(query, **kw)
        self.assertEqual(st, 200, body)
        self.assertEqual(hdrs["Content-Type"],
                         "application/json; charset=utf-8")
        self.assertEqual(list(body), ["tables"])
        self.assertEqual(len(body["tables"]), 1)
        self.assertEqual(body["tables"][0]["name"], "PrimaryResult")
        return body["tables"][0]

    def names(self, query, **kw):
        t = self.rows(query, **kw)
        i = [c["name"] for c in t["columns"]].index("Name")
        return [r[i][0] if r[i] else "f" for r in t["rows"]]

    def wazuh(self, f, extra=""):
        return self.names("Ev | order by TimeGenerated asc | where %s %s"
                          % (f, extra))

    def test_post_get_verbatim(self):
        post = self.rows("Ev | order by TimeGenerated asc")
        get = self.rows("Ev | order by TimeGenerated asc", method="GET")
        self.assertEqual(post, get)
        self.assertEqual(post["columns"], EV_COLUMNS)
        order = {r[1][0] if r[1] else "f": r for r in EV_ROWS}
        self.assertEqual(post["rows"], [order[k] for k in ASC])
        # Raw bytes: types and texts as stored (-0.0, 1e-05, big longs,
        # dynamic as a JSON string, datetime digits untouched).
        _, _, raw = req("POST", "/v1/workspaces/%s/query" % WS,
                        json.dumps({"query": "Ev"}).encode(),
                        {"Authorization": "Bearer " + la_token(),
                         "Content-Type": "application/json"})
        for piece in (b'9223372036854775807', b'9007199254740993',
                      b'"{\\"a\\":1,\\"b\\":[true,null]}"', b'-0.0',
                      b'1e-05', b'1.5e+16', b'"2024-06-01T09:00:00.5Z"',
                      b'"2024-06-01T10:00:00Z"', b'"00:00:01.5000000"',
                      b'"12.3400"', b'"[1,2]"', b'"\\"s\\""'):
            self.assertIn(piece, raw)
        self.assertEqual(json.loads(raw)["tables"][0]["rows"], EV_ROWS)

    def test_wazuh_filters(self):
        self.assertEqual(self.wazuh("TimeGenerated >= datetime(%s)" % T1),
                         list("abdf"))
        self.assertEqual(self.wazuh("TimeGenerated > datetime(%s)" % T1),
                         list("df"))
        self.assertEqual(self.wazuh(
            "( TimeGenerated < datetime(2024-06-01T10:00:00Z) and "
            "TimeGenerated >= datetime(2024-06-01T09:00:00Z)) or "
            "( TimeGenerated > datetime(%s))" % T1), list("edf"))
        # Wazuh's own 6-digit form, a trailing space, other spellings.
        self.assertEqual(self.wazuh(
            "TimeGenerated >= datetime(2024-06-01T10:00:00.000000Z) "),
            list("cabdf"))
        self.assertEqual(self.wazuh(
            "TimeGenerated > datetime(2024-06-01 11:00:00.000000+01:00)"),
            list("abdf"))
        self.assertEqual(self.wazuh(
            "TimeGenerated>datetime( 2024-06-01T10:00:00 )"), list("abdf"))
        self.assertEqual(self.names(
            "\n  Ev\n|order   by TimeGenerated  asc\n|\twhere TimeGenerated "
            ">= datetime(\"2024-06-01T10:00:00.0000002Z\")  \n"),
            list("df"))

    def test_bounding_where(self):
        bound = ("| where TimeGenerated >= datetime(2024-06-01T10:00:00Z) "
                 "and TimeGenerated < datetime(2024-06-01T10:00:00.0000002Z)")
        self.assertEqual(self.wazuh(
            "TimeGenerated >= datetime(2024-06-01T09:00:00Z) ", bound),
            list("cab"))
        self.assertEqual(self.wazuh(
            "TimeGenerated > datetime(2024-06-01T10:00:00Z) ",
            "| where TimeGenerated < datetime(2024-06-01T11:00:00.1234567Z)"),
            list("abd"))

    def test_timespan(self):
        q = "Ev | order by TimeGenerated asc"
        for ts in ("2024-06-01T10:00:00Z/2024-06-01T11:00:00Z",
                   "2024-06-01T10:00:00.0000000Z/PT1H",
                   "PT1H/2024-06-01T11:00:00Z",
                   "2024-06-01T10:00:00Z/PT59M59.9999999S",
                   "2024-06-01T10:00:00Z/2024-06-01T11:00:00.1234567Z"):
            for m in ("POST", "GET"):
                self.assertEqual(self.names(q, timespan=ts, method=m),
                                 list("cabd"), (ts, m))
        now = time.time()

        def iso(secs):
            return time.strftime("%Y-%m-%dT%H:%M:%S.1234567Z",
                                 time.gmtime(secs))
        ctl("la-clear", {"workspace": WS, "table": "Recent", "drop": True})
        ctl("la-rows", {"workspace": WS, "table": "Recent",
                        "columns": EV_COLUMNS[:2],
                        "rows": [[iso(now - 3600), "h"],
                                 [iso(now - 2 * 86400), "d"],
                                 [iso(now + 3600), "future"]]})
        for ts, want in (("PT12H", ["h"]), ("P3D", ["d", "h"]),
                         ("P1W", ["d", "h"]), ("P1DT1H", ["h"])):
            self.assertEqual(self.names(
                "Recent | order by TimeGenerated asc", timespan=ts),
                want, ts)
        self.assertEqual(len(self.rows("Recent")["rows"]), 3)

    def test_user_query_subset(self):
        n = self.names
        self.assertEqual(n('Ev | where Name has "alpha" | order by '
                           'TimeGenerated asc'), list("a"))
        self.assertEqual(n("Ev | where Name contains 'ALPHA' | sort by "
                           "TimeGenerated desc"), list("ae"))
        self.assertEqual(n("Ev | where N > 100 and Flag == false"),
                         list("b"))
        self.assertEqual(n("Ev | where not(Flag) or isnull(Flag) | order by "
                           "TimeGenerated asc"), list("ecb"))
        self.assertEqual(n("Ev | where Flag | order by TimeGenerated asc "
                           "| take 2"), list("ad"))
        self.assertEqual(n("Ev | where isnotempty(D) | where R < 1 | order "
                           "by TimeGenerated asc"), list("ab"))
        self.assertEqual(n("Ev | where N != 42 | order by TimeGenerated asc "
                           "| limit 10"), list("cabf"))
        self.assertEqual(n("Ev | where G == '6f9619ff-8b86-d011-b42d-"
                           "00c04fc964ff'"), list("a"))
        self.assertEqual(n("Ev | where S < 0s or S > 1d | order by "
                           "TimeGenerated asc"), list("ec"))
        self.assertEqual(n("Ev | where M >= 0 | order by TimeGenerated asc"),
                         list("ad"))
        self.assertEqual(n("Ev | where Name in ('d', 'e alphabet') | order "
                           "by TimeGenerated asc"), list("ed"))
        self.assertEqual(n("Ev | where TimeGenerated > ago(1d)"), [])
        self.assertEqual(len(n("Ev | where TimeGenerated > ago(36500d) and "
                               "TimeGenerated < now(-1h)")), 6)
        self.assertEqual(n("Ev | order by N desc | take 3"), list("abe"))
        self.assertEqual(n("Ev | order by N asc"), list("dcfeba"))
        self.assertEqual(n("Ev | sort by N asc nulls last | take 1"),
                         list("c"))
        self.assertEqual(n("Ev | top 2 by TimeGenerated"), list("fd"))
        t = self.rows("Ev | where Name == 'd' | project Name, "
                      "TimeGenerated | extend X = 1, Y = 'y', Z = "
                      "datetime(2024-01-02T03:04:05.1200000Z), W = true, "
                      "V = 2.5, U = TimeGenerated")
        self.assertEqual([(c["name"], c["type"]) for c in t["columns"]],
                         [("Name", "string"), ("TimeGenerated", "datetime"),
                          ("X", "long"), ("Y", "string"), ("Z", "datetime"),
                          ("W", "bool"), ("V", "real"), ("U", "datetime")])
        self.assertEqual(t["rows"], [[
            "d", "2024-06-01T10:00:00.0000002Z", 1, "y",
            "2024-01-02T03:04:05.12Z", True, 2.5,
            "2024-06-01T10:00:00.0000002Z"]])
        t = self.rows("Ev | count")
        self.assertEqual(t["rows"], [[6]])
        t = self.rows("Ev | project-away D, R, G, S, M, N, Flag | "
                      "order by TimeGenerated asc | take 1")
        self.assertEqual(t["rows"], [["2024-06-01T09:00:00.5Z",
                                      "e alphabet"]])

    def test_truncation(self):
        q = "Ev | order by TimeGenerated asc"
        ctl("config", {"la_row_limit": 3})
        ctl("reset-log")
        try:
            st, _, body = la(q)
        finally:
            ctl("config", {"la_row_limit": 500000})
        self.assertEqual(st, 200)
        self.assertEqual(list(body), ["tables", "error"])
        self.assertEqual([r[1][0] for r in body["tables"][0]["rows"]],
                         list("eca"))
        self.assertEqual(body["error"], {
            "code": "PartialError",
            "message": "There were some errors when processing your query.",
            "details": [{
                "code": "EngineError",
                "message": "Something went wrong processing your query on "
                           "the server.",
                "innererror": {
                    "code": "-2133196797",
                    "message": "Query result set has exceeded the internal "
                               "record count limit 500000 (E_QUERY_RESULT_"
                               "SET_TOO_LARGE; see https://aka.ms/"
                               "kustoquerylimits)",
                    "severity": 2, "severityName": "Error"}}]})
        log = ctl("requests", method="GET")
        self.assertEqual((log[-1]["rows"], log[-1]["truncated"]), (3, True))
        # Exactly at the limit: not truncated.
        ctl("config", {"la_row_limit": 6})
        try:
            st, _, body = la(q)
        finally:
            ctl("config", {"la_row_limit": 500000})
        self.assertNotIn("error", body)
        # Byte limit: the first two rows fit, the third does not.
        full = la(q)[2]["tables"][0]["rows"]
        size = len(json.dumps(full[:2], ensure_ascii=False,
                              separators=(",", ":")).encode()) - 2
        ctl("config", {"la_byte_limit": size})
        try:
            st, _, body = la(q)
        finally:
            ctl("config", {"la_byte_limit": 64000000})
        self.assertEqual(body["tables"][0]["rows"], full[:2])
        self.assertIn("internal data size limit 64000000",
                      body["error"]["details"][0]["innererror"]["message"])

    def test_generated_table(self):
        t = self.rows("SecurityEvent | order by TimeGenerated asc")
        cols = SEC_EVENTS["columns"]
        self.assertEqual(t["columns"], cols)
        tg = [c["name"] for c in cols].index("TimeGenerated")
        want = sorted(SEC_EVENTS["rows"],
                      key=lambda r: gen_graph.to_ticks(r[tg]))
        self.assertEqual(t["rows"], want)
        # Every row of a tied timestamp is kept by >=, none by >.
        counts = {}
        for r in want:
            counts[r[tg]] = counts.get(r[tg], 0) + 1
        tie = next(k for k, v in counts.items() if v > 1)
        ge = self.rows("SecurityEvent | order by TimeGenerated asc | where "
                       "TimeGenerated >= datetime(%s) " % tie)["rows"]
        gt = self.rows("SecurityEvent | order by TimeGenerated asc | where "
                       "TimeGenerated > datetime(%s) " % tie)["rows"]
        self.assertEqual(len(ge) - len(gt), counts[tie])
        self.assertEqual(ge[counts[tie]:], gt)

    def test_gzip(self):
        st, hdrs, body = req("POST", "/v1/workspaces/%s/query" % WS,
                             json.dumps({"query": "Ev"}).encode(),
                             {"Authorization": "Bearer " + la_token(),
                              "Content-Type": "application/json",
                              "Accept-Encoding": "gzip"})
        self.assertEqual((st, hdrs["Content-Encoding"]), (200, "gzip"))
        self.assertEqual(len(json.loads(gzip.decompress(body))["tables"][0][
            "rows"]), 6)

    def test_failure_injection(self):
        ctl("clear-fail")
        ctl("reset-log")
        ctl("fail", {"match": "/v1/workspaces/", "status": 429,
                     "retry_after": "2"})
        st, hdrs, body = la("Ev | take 1", headers={"Prefer": "wait=600"})
        self.assertEqual((st, hdrs["Retry-After"]), (429, "2"))
        self.assertIn("correlationId", body["error"])
        ctl("fail", {"match": "/v1/workspaces/", "status": 504})
        st, _, body = la("Ev | take 1", method="GET", timespan="PT1H")
        self.assertEqual((st, body["error"]["code"]), (504, "GatewayTimeout"))
        self.assertEqual(la("Ev | take 1")[0], 200)
        log = ctl("requests", method="GET")
        self.assertEqual([(e["status"], e["injected"]) for e in log],
                         [(429, True), (504, True), (200, False)])
        self.assertEqual(log[0]["prefer"], "wait=600")
        self.assertEqual(log[0]["query_text"], "Ev | take 1")
        self.assertEqual(log[1]["timespan"], "PT1H")

    def test_request_log(self):
        ctl("reset-log")
        tok = la_token()
        la("Ev | where N > 0 ", timespan="P1D", headers={"Prefer": "wait=60"})
        la("Ev | take 2", method="GET", timespan="2024-06-01T00:00:00Z/P1D")
        la("Ev | take 2", tok="")
        log = ctl("requests", method="GET")
        keys = {"method", "path", "query_text", "timespan", "prefer",
                "status", "rows", "truncated", "workspace"}
        for e in log:
            self.assertTrue(keys <= set(e), e)
        self.assertEqual(
            [(e["method"], e["query_text"], e["timespan"], e["prefer"],
              e["status"], e["rows"], e["truncated"]) for e in log],
            [("POST", "Ev | where N > 0 ", "P1D", "wait=60", 200, 0, False),
             ("GET", "Ev | take 2", "2024-06-01T00:00:00Z/P1D", None, 200, 2,
              False),
             ("POST", "Ev | take 2", None, None, 401, 0, False)])
        self.assertEqual(log[1]["path"], "/v1/workspaces/%s/query" % WS)
        self.assertNotIn(tok, json.dumps(log))

    def test_la_rows_errors(self):
        for obj in ({"workspace": WS, "table": "New", "rows": [[1]]},
                    {"workspace": WS, "table": "Ev", "rows": [[1, 2]]},
                    {"workspace": WS, "table": "Ev", "rows": [],
                     "columns": EV_COLUMNS[:2]},
                    {"workspace": WS, "table": "X", "rows": [],
                     "columns": [{"name": "A", "type": "varchar"}]}):
            st, _, _ = req("POST", "/_mock/la-rows", json.dumps(obj).encode(),
                           {"Content-Type": "application/json"})
            self.assertEqual(st, 400, obj)
        st, _, _ = req("POST", "/_mock/config",
                       json.dumps({"la_row_limit": -1}).encode(),
                       {"Content-Type": "application/json"})
        self.assertEqual(st, 400)


# Late rows: an old TimeGenerated, a recent ingestion time.
LATE_COLUMNS = EV_COLUMNS[:2]
LATE_OLD = "2024-06-01T10:00:00Z"
LATE_ING = "2024-06-03T11:00:00.1234567Z"


class LaIngestionTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ctl("la-clear", {"workspace": WS, "table": "Late", "drop": True})
        # On time: ingested a few seconds after TimeGenerated (one of them
        # without an ingestion time at all).
        ctl("la-rows", {"workspace": WS, "table": "Late",
                        "columns": LATE_COLUMNS,
                        "rows": [["2024-06-03T10:00:00Z", "p"],
                                 ["2024-06-03T10:30:00Z", "q"],
                                 ["2024-06-03T10:40:00Z", "n"]],
                        "ingestion_times": ["2024-06-03T10:00:30.5Z",
                                            "2024-06-03T10:30:40+00:00",
                                            None]})
        # Late: two days old when ingested, one time for the whole call.
        ctl("la-rows", {"workspace": WS, "table": "Late",
                        "rows": [[LATE_OLD, "x"], {"Name": "y",
                                                   "TimeGenerated": LATE_OLD}],
                        "ingestion_time": LATE_ING})

    def rows(self, query, **kw):
        st, _, body = la(query, **kw)
        self.assertEqual(st, 200, (query, body))
        return body["tables"][0]

    def names(self, query, **kw):
        return [r[1] for r in self.rows(query, **kw)["rows"]]

    def test_late_rows_found(self):
        after = "datetime(2024-06-03T11:00:00Z)"
        self.assertEqual(self.names(
            "Late | where ingestion_time() > %s" % after), ["x", "y"])
        self.assertEqual(self.names(
            "Late | where TimeGenerated > %s" % after), [])
        self.assertEqual(self.names(
            "Late | where TimeGenerated >= datetime(2024-06-03T10:00:00Z)"),
            list("pqn"))
        # Boundaries to the tick, both sides of the comparison.
        self.assertEqual(self.names(
            "Late | where ingestion_time() >= datetime(%s)" % LATE_ING),
            ["x", "y"])
        self.assertEqual(self.names(
            "Late | where ingestion_time() > datetime(%s)" % LATE_ING), [])
        self.assertEqual(self.names(
            "Late | where datetime(2024-06-03T10:30:40Z) == "
            "ingestion_time()"), ["q"])
        self.assertEqual(self.names(
            "Late | where isnull(ingestion_time())"), ["n"])
        self.assertEqual(self.names(
            "Late | where ingestion_time() > datetime(2024-06-03T10:00:00Z) "
            "and ingestion_time() < datetime(2024-06-03T11:00:00Z) or "
            "Name == 'n'"), list("pqn"))
        # A checkpoint query as the fetcher may send it.
        self.assertEqual(self.names(
            "Late | where ingestion_time() > datetime(2024-06-03T10:00:30.5Z)"
            " | order by ingestion_time() asc, Name desc"), list("qyx"))
        self.assertEqual(self.names(
            "Late | top 2 by ingestion_time() asc nulls first"), ["n", "p"])
        self.assertEqual(self.names(
            "Late | top 1 by ingestion_time()"), ["x"])
        # The timespan parameter restricts TimeGenerated only.
        self.assertEqual(self.names(
            "Late | where ingestion_time() > %s" % after,
            timespan="2024-06-03T00:00:00Z/P1D"), [])
        self.assertEqual(self.names(
            "Late | where ingestion_time() < %s" % after,
            timespan="2024-06-03T00:00:00Z/P1D"), list("pq"))

    def test_extend_format(self):
        t = self.rows("Late | extend I = ingestion_time(), J = Name")
        self.assertEqual(t["columns"], LATE_COLUMNS + [
            {"name": "I", "type": "datetime"},
            {"name": "J", "type": "string"}])
        self.assertEqual(t["rows"], [
            ["2024-06-03T10:00:00Z", "p", "2024-06-03T10:00:30.5Z", "p"],
            ["2024-06-03T10:30:00Z", "q", "2024-06-03T10:30:40Z", "q"],
            ["2024-06-03T10:40:00Z", "n", None, "n"],
            [LATE_OLD, "x", LATE_ING, "x"],
            [LATE_OLD, "y", LATE_ING, "y"]])
        # The stored rows are unchanged (never an extra column).
        t = self.rows("Late")
        self.assertEqual(t["columns"], LATE_COLUMNS)
        self.assertEqual([len(r) for r in t["rows"]], [2] * 5)
        # project Name = value; the new column compares as a datetime.
        t = self.rows("Late | project Name, At = ingestion_time() | where "
                      "At > datetime(2024-06-03T10:00:30Z) | order by At "
                      "asc")
        self.assertEqual(t["columns"], [{"name": "Name", "type": "string"},
                                        {"name": "At", "type": "datetime"}])
        self.assertEqual(t["rows"], [["p", "2024-06-03T10:00:30.5Z"],
                                     ["q", "2024-06-03T10:30:40Z"],
                                     ["x", LATE_ING], ["y", LATE_ING]])

    def test_follows_the_row(self):
        late = "| where ingestion_time() > datetime(2024-06-03T11:00:00Z)"
        for q in ("Late | project Name",
                  "Late | project-away TimeGenerated",
                  "Late | project-keep Name, TimeGenerated",
                  "Late | project-reorder Name",
                  "Late | project-rename N2 = TimeGenerated",
                  "Late | extend Z = 1, W = Name",
                  "Late | order by Name desc | sort by TimeGenerated asc",
                  "Late | where Name != 'zz' | take 5",
                  "Late | top 5 by Name asc",
                  "Late | project Name | extend I = ingestion_time() | "
                  "project-away I"):
            t = self.rows(q + " " + late + " | extend I = ingestion_time()")
            i = [c["name"] for c in t["columns"]].index("Name")
            self.assertEqual(sorted((r[i], r[-1]) for r in t["rows"]),
                             [("x", LATE_ING), ("y", LATE_ING)], q)
        # take/top keep the time of the rows they keep.
        t = self.rows("Late | order by Name asc | take 2 | extend I = "
                      "ingestion_time() | project Name, I")
        self.assertEqual(t["rows"], [["n", None],
                                     ["p", "2024-06-03T10:00:30.5Z"]])

    def test_null_after_count(self):
        t = self.rows("Late | count | extend I = ingestion_time()")
        self.assertEqual(t["columns"], [{"name": "Count", "type": "long"},
                                        {"name": "I", "type": "datetime"}])
        self.assertEqual(t["rows"], [[5, None]])
        self.assertEqual(self.rows("Late | where ingestion_time() > "
                                   "datetime(2024-01-01) | count | where "
                                   "isnull(ingestion_time())")["rows"],
                         [[4]])
        self.assertEqual(self.rows("Late | count | where ingestion_time() > "
                                   "datetime(2000-01-01)")["rows"], [])

    def test_default_now(self):
        ctl("la-clear", {"workspace": WS, "table": "LateNow", "drop": True})
        before = time.time_ns() // 100
        ctl("la-rows", {"workspace": WS, "table": "LateNow",
                        "columns": LATE_COLUMNS,
                        "rows": [[LATE_OLD, "a"], [None, "b"]]})
        after = time.time_ns() // 100
        t = self.rows("LateNow | extend I = ingestion_time()")
        got = [gen_graph.to_ticks(r[2]) for r in t["rows"]]
        self.assertEqual(got[0], got[1])             # one time per call
        slack = gen_graph.TICKS                  # one second
        self.assertTrue(before - slack <= got[0] <= after + slack,
                        (before, got, after))
        self.assertRegex(t["rows"][0][2],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z$")
        self.assertEqual(self.names(
            "LateNow | where ingestion_time() > ago(5m)"), ["a", "b"])
        self.assertEqual(self.names(
            "LateNow | where TimeGenerated > ago(5m)"), [])
        # Recent ingestion, old TimeGenerated: outside a recent timespan.
        self.assertEqual(self.names("LateNow", timespan="PT1H"), [])
        self.assertEqual(self.names("LateNow"), ["a", "b"])
        # Appending later: a later ingestion time.
        time.sleep(0.01)
        ctl("la-rows", {"workspace": WS, "table": "LateNow",
                        "rows": [[LATE_OLD, "c"]]})
        self.assertEqual(self.names(
            "LateNow | where ingestion_time() > datetime(%s)"
            % t["rows"][0][2]), ["c"])

    def test_clear_keeps_times_aligned(self):
        ctl("la-clear", {"workspace": WS, "table": "LateClr", "drop": True})
        ctl("la-rows", {"workspace": WS, "table": "LateClr",
                        "columns": LATE_COLUMNS, "rows": [[LATE_OLD, "a"]],
                        "ingestion_time": "2024-06-02T00:00:00Z"})
        ctl("la-clear", {"workspace": WS, "table": "LateClr"})
        ctl("la-rows", {"workspace": WS, "table": "LateClr",
                        "rows": [[LATE_OLD, "b"]],
                        "ingestion_time": LATE_ING})
        self.assertEqual(self.rows("LateClr | extend I = ingestion_time()")[
            "rows"], [[LATE_OLD, "b", LATE_ING]])

    def test_config_rows(self):
        # Rows from the config file: ingested at their TimeGenerated.
        self.assertEqual(self.rows(
            "SecurityEvent | where ingestion_time() == TimeGenerated | "
            "count")["rows"], [[len(SEC_EVENTS["rows"])]])
        # Without TimeGenerated: the load time; explicit times honoured.
        wid = "00000000-0000-0000-0000-00000000a1a1"
        before = time.time_ns() // 100
        ctl("config", {"workspaces": {wid: {"tables": {
            "NoTime": {"columns": [{"name": "Name", "type": "string"}],
                       "rows": [["a"], ["b"]]},
            "Given": {"columns": LATE_COLUMNS,
                      "rows": [[LATE_OLD, "a"], [LATE_OLD, "b"]],
                      "ingestion_times": [LATE_ING, None]}}}}})
        after = time.time_ns() // 100
        t = self.rows("NoTime | extend I = ingestion_time()", ws=wid)
        for r in t["rows"]:
            t = gen_graph.to_ticks(r[1])
            self.assertTrue(before - gen_graph.TICKS <= t
                            <= after + gen_graph.TICKS, (before, t, after))
        t = self.rows("Given | project Name, I = ingestion_time()", ws=wid)
        self.assertEqual(t["rows"], [["a", LATE_ING], ["b", None]])

    def test_errors(self):
        for q in ("Late | where ingestion_time(1) > ago(1d)",
                  "Late | where ingestion_time( > ago(1d)",
                  "Late | project ingestion_time()"):
            st, _, body = la(q)
            self.assertEqual((st, body["error"]["innererror"]["code"]),
                             (400, "SyntaxError"), q)
        for q in ("Late | where ingestion_time()",
                  "Late | where ingestion_time() > 'x'",
                  "Late | where ingestion_time > ago(1d)",
                  "Late | order by ingestion_time asc"):
            st, _, body = la(q)
            self.assertEqual((st, body["error"]["innererror"]["code"]),
                             (400, "SemanticError"), q)
        count = len(self.rows("Late")["rows"])
        for extra in ({"ingestion_time": LATE_ING,
                       "ingestion_times": [LATE_ING]},
                      {"ingestion_times": [LATE_ING, LATE_ING]},
                      {"ingestion_times": LATE_ING},
                      {"ingestion_times": ["yesterday"]},
                      {"ingestion_time": "2024-13-01T00:00:00Z"},
                      {"ingestion_time": 1717412400}):
            obj = dict({"workspace": WS, "table": "Late",
                        "rows": [[LATE_OLD, "z"]]}, **extra)
            st, _, _ = req("POST", "/_mock/la-rows", json.dumps(obj).encode(),
                           {"Content-Type": "application/json"})
            self.assertEqual(st, 400, extra)
        self.assertEqual(len(self.rows("Late")["rows"]), count)

    def test_kql_module(self):
        # A table given without ingestion times: ingestion_time() is null.
        q = kql.parse("T | extend I = ingestion_time() | where "
                      "isnull(ingestion_time())", 0)
        schema, rows = kql.execute(
            q, lambda n: ([("A", "long")], [[1], [2]]) if n == "T" else None)
        self.assertEqual((schema, rows),
                         ([("A", "long"), ("I", "datetime")],
                          [[1, None], [2, None]]))
        # Rows the query does not rebuild are the stored objects.
        stored = [[1], [2], [3]]
        q = kql.parse("T | where ingestion_time() >= datetime(1970-01-01) "
                      "| order by ingestion_time() desc", 0)
        _, rows = kql.execute(q, lambda n: ([("A", "long")], stored,
                                            [5, None, 7]))
        self.assertEqual(rows, [[3], [1]])
        self.assertIs(rows[0], stored[2])
        self.assertEqual(kql.format_datetime(kql.parse_datetime(LATE_ING)),
                         LATE_ING)


class LaGeneratorTests(unittest.TestCase):
    def test_types_and_values(self):
        for table in gen_la.TABLES:
            d = gen_la.gen_rows(table, 400, "2024-06-01T00:00:00Z",
                                "2024-06-01T01:00:00Z", seed=5)
            self.assertEqual(d, gen_la.gen_rows(
                table, 400, "2024-06-01T00:00:00Z", "2024-06-01T01:00:00Z",
                seed=5))
            types = [c["type"] for c in d["columns"]]
            self.assertEqual(set(types), {
                "datetime", "string", "long", "int", "real", "bool", "guid",
                "timespan", "decimal", "dynamic"}, table)
            tg = [c["name"] for c in d["columns"]].index("TimeGenerated")
            stamps = [r[tg] for r in d["rows"]]
            for s in stamps:
                self.assertRegex(s, r"^2024-06-01T00:\d\d:\d\d\.\d{7}Z$")
            self.assertLess(len(set(stamps)), len(stamps))     # ties
            self.assertNotEqual(stamps, sorted(stamps))          # unordered
            null_cols = set()
            for r in d["rows"]:
                self.assertEqual(len(r), len(types))
                for v, t in zip(r, types):
                    if v is None:
                        null_cols.add(t)
                        continue
                    if t in ("long", "int"):
                        self.assertIsInstance(v, int)
                    elif t == "real":
                        self.assertIsInstance(v, float)
                    elif t == "bool":
                        self.assertIsInstance(v, bool)
                    else:
                        self.assertIsInstance(v, str)
                    if t == "dynamic":
                        self.assertIsInstance(json.loads(v), (dict, list))
            self.assertNotIn("string", null_cols)
            self.assertGreaterEqual(len(null_cols), 5, table)
            flat = [v for r in d["rows"] for v in r]
            self.assertTrue(any(isinstance(v, int) and abs(v) > 2 ** 53
                                for v in flat))
        wide = gen_la.gen_rows("Wide", 50, "2024-06-01T00:00:00Z",
                               "2024-06-01T01:00:00Z", seed=1)
        self.assertEqual(len(wide["columns"]), 60)
        avg = sum(len(json.dumps(r, ensure_ascii=False).encode())
                  for r in wide["rows"]) / 50
        self.assertTrue(1500 < avg < 3000, avg)

    def test_cli(self):
        out = subprocess.run(
            [sys.executable, os.path.join(HERE, "gen_la.py"), "--table",
             "SigninLogs", "--count", "3", "--start", "2024-06-01T00:00:00Z",
             "--end", "2024-06-02T00:00:00Z", "--seed", "4"],
            stdout=subprocess.PIPE, check=True).stdout
        self.assertEqual(json.loads(out), gen_la.gen_rows(
            "SigninLogs", 3, "2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z",
            4))


# ------------------------------------------- certificate credentials, IMDS

CERT_CLIENT = "c1c1c1c1-0000-4000-8000-00000000c0de"
MI_CLIENT = "d2d2d2d2-0000-4000-8000-00000000c0de"


def b64url(data):
    import base64
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class AssertionTests(unittest.TestCase):
    """client_assertion: RS256 signatures made with the openssl CLI, checked
    by the mock with the certificate's modulus and exponent."""

    @classmethod
    def setUpClass(cls):
        import hashlib
        cls.dir = tempfile.mkdtemp(prefix="azure-mock-keys-")
        cls.key = os.path.join(cls.dir, "k.pem")
        crt = os.path.join(cls.dir, "c.pem")
        subprocess.run(["openssl", "req", "-x509", "-nodes", "-newkey",
                        "rsa:2048", "-days", "1", "-subj", "/CN=mock-test",
                        "-keyout", cls.key, "-out", crt], check=True,
                       capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", crt, "-outform",
                              "DER"], check=True, capture_output=True).stdout
        mod = subprocess.run(["openssl", "x509", "-in", crt, "-noout",
                              "-modulus"], check=True, capture_output=True,
                             text=True).stdout
        cls.x5t = b64url(hashlib.sha1(der).digest())
        ctl("config", {"tenants": {TENANT: {"clients": {CERT_CLIENT: {
            "certificate": {"n": mod.strip(), "e": 65537,
                            "x5t": cls.x5t}}}}}})

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def jwt(self, header=None, claims=None, key=None):
        now = int(time.time())
        h = {"alg": "RS256", "typ": "JWT", "x5t": self.x5t}
        h.update(header or {})
        c = {"aud": SRV["base"] + "/%s/oauth2/v2.0/token" % TENANT,
             "iss": CERT_CLIENT, "sub": CERT_CLIENT,
             "jti": secrets.token_hex(16), "nbf": now, "iat": now,
             "exp": now + 600}
        c.update(claims or {})
        data = (b64url(json.dumps(h).encode()) + "." +
                b64url(json.dumps(c).encode()))
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign",
                              key or self.key], input=data.encode(),
                             check=True, capture_output=True).stdout
        return data + "." + b64url(sig)

    def post(self, jwt, client=CERT_CLIENT,
             atype="urn:ietf:params:oauth:client-assertion-type:jwt-bearer"):
        raw = urllib.parse.urlencode({
            "client_id": client, "scope": GRAPH,
            "client_assertion_type": atype, "client_assertion": jwt,
            "grant_type": "client_credentials"}).encode()
        return token_req(raw=raw)

    def assertRefused(self, answer, code, text):
        st, data = answer
        self.assertEqual(st, 401, data)
        self.assertEqual(data["error"], "invalid_client")
        self.assertEqual(data["error_codes"], [code])
        self.assertIn("AADSTS%d: %s" % (code, text), data["error_description"])

    def test_granted(self):
        st, data = self.post(self.jwt())
        self.assertEqual(st, 200, data)
        st, _, _ = graph("auditLogs/signIns", data["access_token"])
        self.assertEqual(st, 200)
        self.assertTrue(any(a["claims"]["iss"] == CERT_CLIENT
                            for a in ctl("assertions", method="GET")))

    def test_jti_replayed(self):
        jwt = self.jwt()
        self.assertEqual(self.post(jwt)[0], 200)
        self.assertRefused(self.post(jwt), 700027,
                           "Client assertion was already used")

    def test_bad_signature(self):
        other = os.path.join(self.dir, "other.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-out",
                        other], check=True, capture_output=True)
        self.assertRefused(self.post(self.jwt(key=other)), 700027,
                           "Client assertion failed signature validation.")
        jwt = self.jwt()
        h, c, sig = jwt.split(".")
        forged = b64url(json.dumps({"aud": "x", "iss": CERT_CLIENT}).encode())
        self.assertRefused(self.post(h + "." + forged + "." + sig), 700027,
                           "Client assertion failed signature validation.")

    def test_unknown_thumbprint(self):
        self.assertRefused(self.post(self.jwt({"x5t": "AAAA"})), 700027,
                           "Client assertion failed signature validation. "
                           "[Reason - The key was not found.")

    def test_claims(self):
        now = int(time.time())
        self.assertRefused(self.post(self.jwt(claims={"aud": "https://x/"})),
                           700027, "Client assertion contains an invalid "
                           "audience claim")
        self.assertRefused(self.post(self.jwt(claims={"sub": "other"})),
                           700021, "Client assertion application identifier")
        self.assertRefused(self.post(self.jwt(claims={
            "nbf": now - 900, "exp": now - 300})), 700024,
            "Client assertion is not within its valid time range.")
        self.assertRefused(self.post(self.jwt(claims={"exp": now + 3600})),
                           700024, "Client assertion is not within its "
                           "valid time range: its lifetime exceeds")
        self.assertRefused(self.post(self.jwt(claims={"jti": ""})), 700027,
                           "Client assertion contains no jti claim.")
        self.assertRefused(self.post(self.jwt({"alg": "HS256"})), 5002738,
                           "Invalid JWT token. 'HS256' is not a supported")

    def test_malformed(self):
        st, data = self.post("not.a-jwt")
        self.assertEqual((st, data["error_codes"]), (400, [50027]))
        st, data = self.post(self.jwt(), atype="urn:other")
        self.assertEqual((st, data["error_codes"]), (400, [700023]))


class ImdsTests(unittest.TestCase):
    PATH = "/metadata/identity/oauth2/token"

    @classmethod
    def setUpClass(cls):
        ctl("config", {"identities": {"system": True, "user": [MI_CLIENT]}})

    def get(self, query, metadata=True):
        st, _, data = req("GET", self.PATH + "?" + query, None,
                          {"Metadata": "true"} if metadata else {})
        return st, json.loads(data)

    def test_system_assigned(self):
        st, data = self.get("api-version=2018-02-01&resource="
                            "https%3A%2F%2Fgraph.microsoft.com%2F")
        self.assertEqual(st, 200, data)
        self.assertEqual(data["token_type"], "Bearer")
        self.assertEqual(data["resource"], "https://graph.microsoft.com/")
        self.assertIsInstance(data["expires_in"], str)  # IMDS sends strings
        self.assertTrue(int(data["expires_on"]) > time.time())
        st, _, _ = graph("auditLogs/signIns", data["access_token"])
        self.assertEqual(st, 200)

    def test_user_assigned_la(self):
        st, data = self.get("api-version=2018-02-01&resource="
                            "https://api.loganalytics.io/&client_id="
                            + MI_CLIENT)
        self.assertEqual(st, 200, data)
        st, _, _ = graph("auditLogs/signIns", data["access_token"])
        self.assertEqual(st, 401)  # an LA token is not for Graph

    def test_errors(self):
        self.assertEqual(self.get("api-version=2018-02-01&resource=https://"
                                  "graph.microsoft.com/", metadata=False),
                         (400, {"error": "invalid_request",
                                "error_description": "Required metadata "
                                "header not specified"}))
        self.assertEqual(self.get("api-version=2018-02-01&resource=https://"
                                  "graph.microsoft.com/&client_id=nope"),
                         (400, {"error": "invalid_request",
                                "error_description": "Identity not found"}))
        st, data = self.get("resource=https://graph.microsoft.com/")
        self.assertEqual((st, data["error"]), (400, "invalid_request"))
        st, data = self.get("api-version=2018-02-01&resource=https://x/")
        self.assertEqual((st, data["error"]), (400, "invalid_resource"))
        st, _, data = req("GET", self.PATH + "?api-version=2018-02-01&"
                          "resource=https://graph.microsoft.com/", None,
                          {"Metadata": "true", "X-Forwarded-For": "1.2.3.4"})
        self.assertEqual(st, 400)


if __name__ == "__main__":
    unittest.main()
