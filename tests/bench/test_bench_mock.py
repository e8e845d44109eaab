#!/usr/bin/env python3
"""The mock's bench mode (tests/mock/azure_mock.py: Graph events and Log
Analytics tables loaded from JSONL, served as stored bytes; azure-la's
queries answered by bisection) answers exactly as its ordinary mode does.

    python3 tests/bench/test_bench_mock.py [-v]

Each check asks the same thing of a resource / table loaded the ordinary
way ({"file": ...}) and of its twin loaded from JSONL ({"jsonl": ...}),
and compares the bodies. Not part of make check: tests/bench/bench.py
relies on it (make bench runs it first).
"""

import datetime
import json
import os
import re
import shutil
import sys
import tempfile
import unittest
import urllib.parse
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
from harness import CLIENT, TENANT, Mock, iso, utcnow  # noqa: E402

import gen_graph  # noqa: E402
import gen_la  # noqa: E402

SECRET = "bench-mode-secret"


def compact(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class BenchMode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="bench-mock-")
        now = utcnow()
        cls.start = now - datetime.timedelta(hours=3)
        cls.end = now - datetime.timedelta(minutes=5)
        items = gen_graph.gen_signins(730, iso(cls.start), iso(cls.end), seed=7)
        data = gen_la.gen_rows("Wide", 900, iso(cls.start), iso(cls.end), seed=7)
        with open(os.path.join(cls.work, "items.json"), "w") as f:
            json.dump(items, f)
        with open(os.path.join(cls.work, "items.jsonl"), "wb") as f:
            f.writelines(compact(i) + b"\n" for i in items)
        with open(os.path.join(cls.work, "wide.json"), "w") as f:
            json.dump(data, f)
        with open(os.path.join(cls.work, "wide.jsonl"), "wb") as f:
            f.writelines(compact(r) + b"\n" for r in data["rows"])
        with open(os.path.join(cls.work, "secret"), "w") as f:
            f.write(SECRET)
        cls.columns = data["columns"]
        cls.mock = Mock(cls.work, {
            "tenants": {TENANT: {"clients": {CLIENT: SECRET}}},
            "gzip": False, "page_size": 100,
            "time_fields": {"bench/plain": "createdDateTime",
                            "bench/jsonl": "createdDateTime"},
            "events": {"bench/plain": {"file": "items.json"},
                       "bench/jsonl": {"jsonl": "items.jsonl"}},
            "workspaces": {"plain": {"tables": {"Wide": {"file": "wide.json"}}},
                           "jsonl": {"tables": {"Wide": {
                               "jsonl": "wide.jsonl",
                               "columns": data["columns"]}}},
                           # the same, for the queries that parse it
                           "jsonl-parsed": {"tables": {"Wide": {
                               "jsonl": "wide.jsonl",
                               "columns": data["columns"]}}}},
            "la_byte_limit": 300000})
        cls.tokens = {s: cls.token(s) for s in (
            "https://graph.microsoft.com/.default",
            "https://api.loganalytics.io/.default")}

    @classmethod
    def tearDownClass(cls):
        cls.mock.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    @classmethod
    def token(cls, scope):
        body = urllib.parse.urlencode({
            "grant_type": "client_credentials", "client_id": CLIENT,
            "client_secret": SECRET, "scope": scope}).encode()
        req = urllib.request.Request(
            "%s/%s/oauth2/v2.0/token" % (cls.mock.url, TENANT), data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())["access_token"]

    def get(self, url, scope="https://graph.microsoft.com/.default"):
        req = urllib.request.Request(url, headers={
            "Authorization": "Bearer " + self.tokens[scope]})
        with urllib.request.urlopen(req) as r:
            return r.read()

    def la(self, ws, query, timespan=None):
        body = {"query": query}
        if timespan:
            body["timespan"] = timespan
        req = urllib.request.Request(
            "%s/v1/workspaces/%s/query" % (self.mock.url, ws),
            data=json.dumps(body).encode(), method="POST", headers={
                "Content-Type": "application/json",
                "Authorization": "Bearer "
                + self.tokens["https://api.loganalytics.io/.default"]})
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, re.sub(rb'"correlationId":"[^"]*"', b"", e.read())

    def pages(self, resource, query):
        """Every page of a Graph listing, nextLinks without their token."""
        out, url = [], "%s/v1.0/%s?%s" % (self.mock.url, resource, query)
        while url:
            page = self.get(url)
            m = re.search(rb'"@odata.nextLink":"([^"]*)"', page)
            url = m.group(1).decode() if m else None
            out.append(re.sub(rb"\$skiptoken=[0-9a-f]+|bench/(plain|jsonl)",
                              b"", page))
        return out

    def test_graph_pages(self):
        d = iso(self.start + datetime.timedelta(minutes=40))
        for q in ("$filter=createdDateTime+ge+%s&$top=64" % d, "$top=1000",
                  "$filter=createdDateTime+ge+%s&$select=id,createdDateTime" % d):
            plain = self.pages("bench/plain", q)
            self.assertGreater(len(plain[0]), 100)
            self.assertEqual(plain, self.pages("bench/jsonl", q), q)

    def la_pairs(self):
        """Queries of azure-la's shape (and others), with timespans."""
        t = [iso(self.start + datetime.timedelta(minutes=m)) for m in (0, 30, 31, 90, 200)]
        base = "Wide | order by TimeGenerated asc | where TimeGenerated >= datetime(%s)"
        bound = "| where TimeGenerated >= datetime(%s) and TimeGenerated < datetime(%s)"
        yield base % t[0] + bound % (t[0], t[4]), "%s/%s" % (t[0], t[4])
        yield base % t[2] + bound % (t[1], t[3]), "%s/%s" % (t[1], t[3])
        yield base % t[1] + bound % (t[1], t[1]), "%s/%s" % (t[1], t[2])
        yield ("Wide | order by TimeGenerated asc | where TimeGenerated > datetime(%s) "
               "and TimeGenerated <= datetime(%s)" % (t[1], t[3])), None
        yield base % t[0], "PT2H"

    def la_general(self):
        """Queries the general engine answers (it parses the rows)."""
        t = iso(self.start + datetime.timedelta(minutes=30))
        yield "Wide | where TimeGenerated >= datetime(%s) | take 7" % t, None
        yield "Wide | order by TimeGenerated asc | where Long02 > 0", "PT3H"
        yield ("Wide | order by TimeGenerated asc | where TimeGenerated >= "
               "datetime(%s) | extend X = ingestion_time()" % t), None

    def test_la_queries(self):
        import azure_mock
        for query, span in self.la_pairs():
            self.assertIsNotNone(azure_mock.la_fast_bounds(query), query)
            plain = self.la("plain", query, span)
            self.assertEqual(plain[0], 200, plain)
            self.assertEqual(plain, self.la("jsonl", query, span), (query, span))
        for query, span in self.la_general():
            self.assertIsNone(azure_mock.la_fast_bounds(query), query)
            plain = self.la("plain", query, span)
            self.assertEqual(plain[0], 200, plain)
            self.assertEqual(plain, self.la("jsonl-parsed", query, span),
                             (query, span))

    def test_la_truncation_and_errors(self):
        # la_byte_limit 300000: ~150 rows of ~2 KB; then the row limit.
        q = ("Wide | order by TimeGenerated asc | where TimeGenerated >= "
             "datetime(%s)" % iso(self.start))
        for opts in ({}, {"la_row_limit": 33}):
            urllib.request.urlopen(urllib.request.Request(
                self.mock.url + "/_mock/config", data=json.dumps(opts).encode(),
                method="POST")).read()
            plain = self.la("plain", q)
            self.assertIn(b"PartialError", plain[1])
            self.assertEqual(plain, self.la("jsonl", q))
        urllib.request.urlopen(urllib.request.Request(
            self.mock.url + "/_mock/config", data=b'{"la_row_limit": 500000}',
            method="POST")).read()
        bad = "Wide | order by TimeGenerated asc | where TimeGenerated >= datetime(2024-02-30)"
        self.assertEqual(self.la("plain", bad), self.la("jsonl", bad))

    def control(self, name, body):
        req = urllib.request.Request(self.mock.url + "/_mock/" + name,
                                     data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    def test_la_rows_and_clear(self):
        # A jsonl table changed by la-rows / la-clear is an ordinary one.
        rows = gen_la.gen_rows("Wide", 5, iso(self.start), iso(self.end), seed=9)["rows"]
        q = ("Wide | order by TimeGenerated asc | where TimeGenerated >= "
             "datetime(%s)" % iso(self.start))
        self.control("config", {"workspaces": {
            "plain2": {"tables": {"Wide": {
                "file": os.path.join(self.work, "wide.json")}}},
            "jsonl2": {"tables": {"Wide": {
                "jsonl": os.path.join(self.work, "wide.jsonl"),
                                           "columns": self.columns}}}}})
        for ws in ("plain2", "jsonl2"):
            self.control("la-rows", {"workspace": ws, "table": "Wide", "rows": rows,
                                     "ingestion_time": iso(self.end)})
        self.assertEqual(self.la("plain2", q, "PT4H"), self.la("jsonl2", q, "PT4H"))
        for ws in ("plain2", "jsonl2"):
            self.control("la-clear", {"workspace": ws})
        self.assertEqual(self.la("plain2", q), self.la("jsonl2", q))
        self.assertIn(b'"rows":[]', self.la("jsonl2", q)[1])


if __name__ == "__main__":
    unittest.main()
