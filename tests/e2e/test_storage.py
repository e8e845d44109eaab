"""End-to-end: scripts/azure-logs --storage against Azurite (Microsoft's
Blob Storage emulator, started once for this module by
tests/azurite/azurite.py), with the real roles, a real azure.db and a real
datagram socket.

Azurite stamps Last-Modified with the current second, so the tests use
--storage_time_offset 1h (everything just written is inside the window),
"0m" to put it outside, and wait_past() / wait_next_second() before a write
that must carry a newer Last-Modified than the checkpoint.
"""

import base64
import datetime
import json
import os
import subprocess
import re
import time
import unittest

from harness import (StorageTest, azurite, storage_key, storage_lines,
                     storage_payload, storage_record, wazuh_date)


def setUpModule():
    StorageTest.start_azurite()


def tearDownModule():
    StorageTest.stop_azurite()


def ndjson(objs):
    return "".join(json.dumps(o) + "\n" for o in objs).encode()


def signin(i):
    return {"time": "2026-06-03T11:%02d:00.0000000Z" % i,
            "resourceId": "/tenants/00000000-0000-0000-0000-000000000000/providers/Microsoft.aadiam",
            "operationName": "Sign-in activity", "category": "SignInLogs",
            "resultType": str(i % 2 * 50126), "callerIpAddress": "10.0.0.%d" % i,
            "properties": {"id": "id-%d" % i, "userPrincipalName": "user%d@contoso.com" % i,
                           "isInteractive": i % 2 == 0, "riskLevel": None}}


class Check(StorageTest):
    """Shared assertions."""

    def assertDelivered(self, got, want, ordered=True):
        got = self.payloads(got)
        if ordered:
            self.assertEqual(got, want)
        else:
            self.assertEqual(sorted(got), sorted(want))

    def assertCheckpoint(self, container, newest):
        """The container's row is Wazuh's: key md5("account=..|container=.."),
        max = the newest Last-Modified read, in Wazuh's date form."""
        row = self.storage_row(container)
        self.assertIsNotNone(row, "no storage row for %s" % container)
        self.assertEqual(row[0], storage_key(container))
        self.assertRegex(row[2], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertEqual(row[3], wazuh_date(newest.last_modified()))
        self.assertLessEqual(row[2], row[3])
        return row


class Formats(Check):
    def test_json_file(self):
        c = self.container("insights-nsg")
        records = [
            {"time": "2026-06-03T11:00:26.5960000Z", "systemId": "5f6c", "category":
             "NetworkSecurityGroupFlowEvent", "properties": {"Version": 2, "flows": [
                 {"rule": "DefaultRule_DenyAllInBound", "flows": [
                     {"mac": "000D3AF87856",
                      "flowTuples": ["1487282421,42.119.146.95,10.1.0.4,51529,5358,T,I,D,B,,,,"]}]}]}},
            {"time": "2026-06-03T11:01:26.5960000Z", "ratio": 0.5, "big": 12345678901234,
             "tiny": -1.25e-7, "whole": 2.0, "ok": True, "none": None, "empty": {},
             "text": "caf\u00e9 \u2603 \"quoted\" \\ back\nslash / tab\t"},
            {"azure_tag": "theirs", "list": [1, [], {"k": "v"}]},
        ]
        doc = json.dumps({"records": records}, indent=2).encode()
        r = self.blob.put_block_blob(
            c, "resourceId=/SUBSCRIPTIONS/X/y=2026/m=06/d=03/h=11/m=00/PT1H.json", doc)
        self.blob.put_block_blob(c, "readme.txt", b"not json at all\n")
        rc, got = self.run_storage('"%s"' % c, blobs='"*.json"', tag="nsg",
                                   json_file=True)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_record(x, "nsg") for x in records])
        self.assertCheckpoint(c, r)

    def test_json_inline(self):
        c = self.container("insights-logs-signinlogs")
        name = ("tenantId=00000000-0000-0000-0000-000000000000/"
                "y=2026/m=06/d=03/h=11/m=00/PT1H.json")
        content = ndjson(signin(i) for i in range(5))
        r = self.blob.create_append_blob(c, name, content)
        rc, got = self.run_storage(c, blobs='"*.json"', tag="signins", json_inline=True)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload(x, "signins", json_inline=True)
                                   for x in storage_lines(content)])
        self.assertCheckpoint(c, r)
        self.assertEqual(self.blob_offsets(c)[name][1], len(content))

    def test_json_inline_without_tag(self):
        c = self.container("inline")
        content = b'{"a": 1}\n{"b": [2, 3]}\n'
        self.blob.put_block_blob(c, "x.json", content)
        rc, got = self.run_storage(c, json_inline=True)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [b'{"azure_tag": "azure-storage", "a": 1}',
                                   b'{"azure_tag": "azure-storage", "b": [2, 3]}'])

    def test_plain_text_then_tagged(self):
        c = self.container("plain")
        content = ("first line\r\nsecond\n\n  indented\tline \nunicode caf\u00e9 \u2603\n"
                   "\n\nlast without newline").encode()
        r = self.blob.put_block_blob(c, "app.log", content)
        # No offset: a new checkpoint starts today at 00:00 UTC.
        rc, got = self.run_storage(c, offset=None)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [
            b"azure_tag: azure-storage. first line",
            b"azure_tag: azure-storage. second",
            b"azure_tag: azure-storage.   indented\tline ",
            "azure_tag: azure-storage. unicode caf\u00e9 \u2603".encode(),
            b"azure_tag: azure-storage. last without newline"])
        self.assertCheckpoint(c, r)
        rc, got = self.run_storage(c, tag="prod", reparse=True)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload(x, "prod") for x in storage_lines(content)])
        self.assertIn(b"azure_tag: azure-storage. azure_storage_tag: prod. second",
                      self.payloads(got))

    def test_python_line_boundaries(self):
        # Python's str.splitlines() also splits at \v \f \x1c-\x1e \x85
        # \u2028 \u2029 and a lone \r.
        c = self.container("boundaries")
        content = "a\x0bb\x0cc\x1cd\x1de\x1ef\x85g\u2028h\u2029i\rj\r\n".encode()
        self.blob.put_block_blob(c, "odd.log", content)
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(storage_lines(content), list("abcdefghij"))
        self.assertDelivered(got, [storage_payload(x) for x in "abcdefghij"])


class Selection(Check):
    def test_empty_blobs_skipped(self):
        c = self.container("empty")
        self.blob.put_block_blob(c, "blank.log", b"\n\r\n\n")
        r = self.blob.put_block_blob(c, "real.log", b"only this\n")
        self.wait_past(r)
        # Skipped, so their newer Last-Modified does not reach the checkpoint.
        self.blob.put_block_blob(c, "empty.log", b"")
        self.blob.create_append_blob(c, "empty-append.log")
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("only this")])
        self.assertCheckpoint(c, r)
        self.assertNotIn("empty-append.log", self.blob_offsets(c))

    def test_extension_filter(self):
        c = self.container("ext")
        names = ["a.log", "b.json", "app.log.1", "UPPER.LOG", "dir/x.log", "logfile"]
        for n in names:
            self.blob.put_block_blob(c, n, ("line of %s\n" % n).encode())
        # "*.log" becomes ".log", which must appear in the name.
        rc, got = self.run_storage(c, blobs='"*.log"')
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("line of " + n)
                                   for n in ("a.log", "app.log.1", "dir/x.log")], ordered=False)
        # "*" becomes "": no filter.
        rc, got = self.run_storage(c, blobs='"*"', reparse=True)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("line of " + n) for n in names],
                             ordered=False)

    def test_nested_prefix(self):
        c = self.container("prefix")
        inside = ["a/top.log", "a/b/c.log", "a/b/d/e/deep.log"]
        for n in inside + ["ab/x.log", "other/a/y.log", "root.log"]:
            self.blob.put_block_blob(c, n, ("from %s\n" % n).encode())
        rc, got = self.run_storage(c, prefix="a/")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("from " + n) for n in inside],
                             ordered=False)

    def test_all_containers(self):
        self.blob.delete_all_containers()
        c1, c2, c3 = self.container("one"), self.container("two"), self.container("three")
        self.blob.put_block_blob(c1, "a.log", b"c1 a\n")
        r1 = self.blob.put_block_blob(c1, "b.log", b"c1 b\nc1 b2\n")
        r2 = self.blob.create_append_blob(c2, "x.log", b"c2 x\n")
        rc, got = self.run_storage("*")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload(x) for x in
                                   ("c1 a", "c1 b", "c1 b2", "c2 x")], ordered=False)
        self.assertCheckpoint(c1, r1)
        self.assertCheckpoint(c2, r2)
        self.assertNotEqual(self.storage_row(c1)[0], self.storage_row(c2)[0])
        rc, got = self.run_storage('"*"')
        self.assertEqual((rc, got), (0, []), self.last_stderr)
        self.assertIsNotNone(c3)

    def test_time_offset_excludes_old_blobs(self):
        c = self.container("offset")
        old = self.blob.put_block_blob(c, "old.log", b"old 1\nold 2\n")
        self.wait_past(old)
        # Last-Modified is now before now - 0m: outside the window.
        rc, got = self.run_storage(c, offset="0m")
        self.assertEqual((rc, got), (0, []), self.last_stderr)
        # A wider window reaches it.
        rc, got = self.run_storage(c, offset="1h")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("old 1"), storage_payload("old 2")])
        # Then only what is new. (The 0m run's checkpoint is its "now", to
        # the microsecond: a blob written in that same second would count
        # as read, as in Wazuh.)
        self.wait_next_second()
        new = self.blob.put_block_blob(c, "new.log", b"new\n")
        rc, got = self.run_storage(c, offset="1h")
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("new")])
        self.assertCheckpoint(c, new)

    def test_reparse_reads_everything_again(self):
        c = self.container("reparse")
        block = b"block 1\nblock 2\n"
        app = b"app 1\napp 2\n"
        self.blob.put_block_blob(c, "block.log", block)
        self.blob.create_append_blob(c, "app.log", app)
        want = [storage_payload(x) for x in storage_lines(app) + storage_lines(block)]
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, want, ordered=False)
        rc, got = self.run_storage(c)
        self.assertEqual((rc, got), (0, []), self.last_stderr)
        rc, got = self.run_storage(c, reparse=True)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, want, ordered=False)


class Incremental(Check):
    def test_append_blob_grows(self):
        c = self.container("append")
        r = self.blob.create_append_blob(c, "app.log", b"e1\ne2\n")
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("e1"), storage_payload("e2")])
        self.assertEqual(self.blob_offsets(c)["app.log"][1], 6)
        self.wait_past(r)
        r = self.blob.append_block(c, "app.log", b"e3\n")
        r = self.blob.append_block(c, "app.log", b"\ne4\n")
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("e3"), storage_payload("e4")])
        offsets = self.blob_offsets(c)
        self.assertEqual(offsets["app.log"][1], 13)
        self.assertTrue(offsets["app.log"][0], "creation_time is empty")
        self.assertCheckpoint(c, r)
        rc, got = self.run_storage(c)
        self.assertEqual((rc, got), (0, []), self.last_stderr)
        self.assertEqual(self.blob_offsets(c), offsets)

    def test_many_append_blobs(self):
        """More append blobs than the fetcher asks the statekeeper about
        ahead (64), mixed with blobs it asks nothing about (empty, not
        matching --blobs, block blobs): each blob gets its own offset, and
        the second run sends only what was appended."""
        c = self.container("many")
        want, r = [], None
        for i in range(150):
            name = "b%03d.log" % i
            if i % 10 == 3:
                r = self.blob.create_append_blob(c, name)  # empty
            elif i % 10 == 5:
                r = self.blob.create_append_blob(c, "b%03d.txt" % i, b"skip\n")
            elif i % 10 == 7:
                r = self.blob.put_block_blob(c, name, b"block %d\n" % i)
                want.append(storage_payload("block %d" % i))
            else:
                r = self.blob.create_append_blob(c, name, b"a%d\nb%d\n" % (i, i))
                want += [storage_payload("a%d" % i), storage_payload("b%d" % i)]
        rc, got = self.run_storage(c, blobs=".log", timeout=120)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, want)
        offsets = self.blob_offsets(c)
        for i in range(150):
            if i % 10 not in (3, 5, 7):
                self.assertEqual(offsets["b%03d.log" % i][1],
                                 len(b"a%d\nb%d\n" % (i, i)))
        self.wait_past(r)
        want = []
        for i in range(0, 150, 4):
            if i % 10 not in (3, 5, 7):
                r = self.blob.append_block(c, "b%03d.log" % i, b"c%d\n" % i)
                want.append(storage_payload("c%d" % i))
        rc, got = self.run_storage(c, blobs=".log", timeout=120)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, want)

    def test_list_pages_and_stand_alone(self):
        """Listing follows NextMarker over many pages (page size 2), in
        azure-storage run alone with --json: no database, no socket."""
        c = self.container("pages")
        names = ["p%02d.log" % i for i in range(7)]
        for n in names:
            self.blob.put_block_blob(c, n, ("line of %s\n" % n).encode())
        auth = self.write_storage_auth("auth-alone")
        p = subprocess.run([os.path.join(os.environ.get("AZURE_LOGS_BINDIR", "bin"),
                                         "azure-storage"),
                            "--container", c, "--auth-file", auth,
                            "--blob-url", self.server.url, "--page-size", "2",
                            "--since", "2000-01-01T00:00:00Z", "--json"],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sorted(p.stdout.splitlines()),
                         sorted(storage_payload("line of %s" % n) for n in names))
        self.assertFalse(os.path.exists(self.db))

    def test_offsets_of_deleted_blobs_are_pruned(self):
        c = self.container("prune")
        self.blob.create_append_blob(c, "keep.log", b"k1\n")
        self.blob.create_append_blob(c, "gone.log", b"g1\n")
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(set(self.blob_offsets(c)), {"keep.log", "gone.log"})
        self.blob.delete_blob(c, "gone.log")
        rc, got = self.run_storage(c)
        self.assertEqual((rc, got), (0, []), self.last_stderr)
        self.assertEqual(set(self.blob_offsets(c)), {"keep.log"})

    def test_json_file_over_the_limit_is_not_marked_done(self):
        c = self.container("big")
        records = [{"n": i, "pad": "x" * 100} for i in range(40)]
        doc = json.dumps({"records": records}).encode()
        self.assertGreater(len(doc), 2048)
        self.blob.put_block_blob(c, "flow.json", doc)
        rc, got = self.run_storage(c, json_file=True, extra=["--max-json-bytes", "2048"])
        self.assertEqual(rc, 1)
        self.assertEqual(got, [])
        self.assertIn("--max-json-bytes", self.last_stderr)
        row = self.storage_row(c)
        self.assertEqual(row[2], row[3], "the checkpoint moved past an unread blob")
        rc, got = self.run_storage(c, json_file=True)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(got), len(records))

    def test_append_in_the_checkpoint_second(self):
        # Lines appended in the same second as the checkpoint's
        # Last-Modified must still arrive: a byte offset below the blob's
        # size means unread lines, whatever the dates say. (Whether the
        # append falls in that second depends on timing; the outcome must
        # be the same either way.)
        c = self.container("burst")
        while time.time() % 1 > 0.1:  # start of a second
            time.sleep(0.02)
        self.blob.create_append_blob(c, "burst.log", b"b1\n")
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("b1")])
        self.blob.append_block(c, "burst.log", b"b2\n")
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("b2")])
        self.assertEqual(self.blob_offsets(c)["burst.log"][1], 6)

    def test_block_blob_rewritten(self):
        c = self.container("rewrite")
        r = self.blob.put_block_blob(c, "flow.log", b"a\nb\n")
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("a"), storage_payload("b")])
        self.wait_past(r)
        r = self.blob.put_block_blob(c, "flow.log", b"c\nd\ne\n")
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload(x) for x in "cde"])
        self.assertCheckpoint(c, r)
        rc, got = self.run_storage(c)
        self.assertEqual((rc, got), (0, []), self.last_stderr)

    def test_partial_last_line_waits(self):
        c = self.container("partial")
        r = self.blob.create_append_blob(c, "p.log", b"l1\nl2 part")
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("l1")])
        self.assertEqual(self.blob_offsets(c)["p.log"][1], 3)
        self.wait_past(r)
        r = self.blob.append_block(c, "p.log", b" rest\nl3\n")
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("l2 part rest"), storage_payload("l3")])
        self.assertEqual(self.blob_offsets(c)["p.log"][1], len(b"l1\nl2 part rest\nl3\n"))
        rc, got = self.run_storage(c)
        self.assertEqual((rc, got), (0, []), self.last_stderr)

    def test_repeated_runs_deliver_nothing_new(self):
        c = self.container("repeat")
        self.blob.put_block_blob(c, "a/block.log", b"one\ntwo\n")
        self.blob.create_append_blob(c, "b/append.log", b"three\n")
        self.blob.put_block_blob(c, "c.json", ndjson([{"four": 4}]))
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertEqual(len(got), 4)
        state = (self.storage_row(c), self.blob_offsets(c))
        for _ in range(2):
            rc, got = self.run_storage(c)
            self.assertEqual((rc, got), (0, []), self.last_stderr)
            self.assertEqual((self.storage_row(c), self.blob_offsets(c)), state)


class Overlap(Check):
    """Windows reach back --overlap (5m) before the checkpoint: what was
    delivered is recognised by blob, offset, rank and content."""

    def test_block_blob_in_the_checkpoint_second(self):
        # Wazuh skips a blob whose Last-Modified equals the checkpoint; one
        # written in the same second as the last read would be lost.
        c = self.container("second")
        while time.time() % 1 > 0.1:  # start of a second
            time.sleep(0.02)
        self.blob.put_block_blob(c, "a.log", b"a1\na2\n")
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("a1"), storage_payload("a2")])
        self.blob.put_block_blob(c, "b.log", b"b1\n")
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("b1")])
        rc, got = self.run_storage(c)
        self.assertEqual((rc, got), (0, []), self.last_stderr)

    def test_json_file_growing_in_the_middle(self):
        # Flow logs: one {"records": [...]} document whose array grows.
        c = self.container("flow")
        records = [signin(i) for i in range(3)]
        r = self.blob.put_block_blob(c, "PT1H.json", json.dumps({"records": records}).encode())
        rc, got = self.run_storage(c, json_file=True)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_record(x) for x in records])
        self.wait_past(r)
        more = records + [signin(i) for i in range(3, 5)]
        self.blob.put_block_blob(c, "PT1H.json", json.dumps({"records": more}).encode())
        rc, got = self.run_storage(c, json_file=True)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_record(x) for x in more[3:]])
        self.assertIn("3 duplicates dropped", self.last_stderr)

    def test_fresh_blobs_wait_for_the_lag(self):
        c = self.container("lag")
        self.blob.create_append_blob(c, "app.log", b"x1\n")
        self.blob.put_block_blob(c, "blk.log", b"y1\n")
        rc, got = self.run_storage(c, extra=["--lag", "1h"])
        self.assertEqual((rc, got), (0, []), self.last_stderr)
        row = self.storage_row(c)
        self.assertEqual(row[2], row[3], "the checkpoint moved")
        self.assertEqual(self.blob_offsets(c), {})
        rc, got = self.run_storage(c)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("x1"), storage_payload("y1")],
                             ordered=False)


class Errors(Check):
    def bad_key_auth(self):
        return self.write_storage_auth(
            "bad", key=base64.b64encode(os.urandom(64)).decode())

    def test_check(self):
        # --check: one listing proves the key; nothing is read or stored.
        c = self.container("check")
        self.blob.put_block_blob(c, "a.log", b"line\n")
        rc, got = self.run_storage(c, extra=["--check"])
        self.assertEqual((rc, got), (0, []), self.last_stderr)
        self.assertIsNone(self.storage_row(c))
        self.assertFalse(os.path.exists(self.db))
        rc, got = self.run_storage(c, auth=self.bad_key_auth(), extra=["--check"])
        self.assertEqual((rc, got), (1, []), self.last_stderr)
        self.assertIn("Storage: Invalid credentials for accessing the \"%s\" "
                      "container" % c, self.last_stderr)

    def test_bad_key(self):
        c = self.container("badkey")
        self.blob.put_block_blob(c, "a.log", b"secret line\n")
        rc, got = self.run_storage(c, auth=self.bad_key_auth())
        self.assertEqual(rc, 1, self.last_stderr)
        self.assertRegex(self.last_stderr, r"azure: ERROR: .*(%s|(?i:authenticat|credential))"
                         % re.escape(c))
        self.assertEqual(got, [])
        row = self.storage_row(c)
        self.assertTrue(row is None or row[2] == row[3], row)

    def test_bad_key_all_containers(self):
        c = self.container("badkeyall")
        self.blob.put_block_blob(c, "a.log", b"secret line\n")
        rc, got = self.run_storage("*", auth=self.bad_key_auth())
        self.assertEqual(rc, 1, self.last_stderr)
        self.assertRegex(self.last_stderr,
                         r"azure: ERROR: .*(?i:authenticat|credential|container)")
        self.assertEqual(got, [])

    def test_unknown_container(self):
        rc, got = self.run_storage('"no-such-container"')
        self.assertEqual(rc, 1, self.last_stderr)
        self.assertRegex(self.last_stderr, r"azure: ERROR: Storage: The "
                         r'"no-such-container" container does not exists\.')
        self.assertEqual(got, [])


class Sas(Check):
    """sas_token = ... in the auth file instead of account_key."""

    def test_account_sas(self):
        c = self.container("sas")
        r = self.blob.create_append_blob(c, "s.log", b"via sas\n")
        auth = self.write_storage_auth("sas", sas=azurite.account_sas())
        rc, got = self.run_storage(c, auth=auth)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("via sas")])
        self.assertCheckpoint(c, r)
        self.wait_past(r)
        self.blob.append_block(c, "s.log", b"more\n")
        rc, got = self.run_storage(c, auth=auth)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("more")])

    def test_container_sas(self):
        # A Service SAS for one container may list and read its blobs but
        # not read the container's properties nor list containers.
        c = self.container("csas")
        self.blob.put_block_blob(c, "s.log", b"container sas\n")
        auth = self.write_storage_auth("csas", sas=azurite.container_sas(c))
        rc, got = self.run_storage(c, auth=auth)
        self.assertEqual(rc, 0, self.last_stderr)
        self.assertDelivered(got, [storage_payload("container sas")])

    def test_expired_sas(self):
        c = self.container("oldsas")
        self.blob.put_block_blob(c, "s.log", b"never\n")
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
        sas = azurite.account_sas(start=past - datetime.timedelta(hours=1), expiry=past)
        rc, got = self.run_storage(c, auth=self.write_storage_auth("oldsas", sas=sas))
        self.assertEqual(rc, 1, self.last_stderr)
        self.assertRegex(self.last_stderr, r"azure: ERROR: ")
        self.assertEqual(got, [])


class AzuriteClient(StorageTest):
    """The test side alone: our client against the module's Azurite."""

    def test_client(self):
        azurite.check_worked_example()
        c = self.container("client")
        self.blob.put_block_blob(c, "d/a b+c.log", b"x\n")
        r = self.blob.create_append_blob(c, "app.log", b"1\n")
        self.blob.append_block(c, "app.log", b"2\n")
        self.assertEqual(self.blob.get_blob(c, "app.log"), b"1\n2\n")
        listed = dict(self.blob.list_blobs(c))
        self.assertEqual(sorted(listed), ["app.log", "d/a b+c.log"])
        self.assertEqual(listed["app.log"]["BlobType"], "AppendBlob")
        self.assertEqual(listed["d/a b+c.log"]["BlobType"], "BlockBlob")
        self.assertIsNotNone(r.last_modified())
        for sas in (azurite.account_sas(), azurite.container_sas(c)):
            cl = azurite.Client(self.server.url, sas=sas)
            self.assertEqual(cl.get_blob(c, "d/a b+c.log"), b"x\n")
        self.assertIn(c, self.blob.list_containers())


if __name__ == "__main__":
    unittest.main()
