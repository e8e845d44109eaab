"""End-to-end: azure-la on an answer of the service's 64 MB class. The
mock truncates the result at 64,000,000 bytes of rows (PartialError
E_QUERY_RESULT_SET_TOO_LARGE, as the service); azure-la sends the rows of
the truncated answer, goes on from the newest of them, delivers every row
once, and its peak RSS stays bounded (the answer is parsed as it arrives,
never held whole)."""

import datetime
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import TENANT, PipelineTest, iso, utcnow

from test_la import wazuh_event

ROWS = 32000  # ~2.1 KB each: 68 MB of rows, over the 64,000,000 cap
RSS_MAX_KB = 32 * 1024


def vm_hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class BigAnswer(PipelineTest):
    mock_extra = {"gzip": False}

    def setUp(self):
        self.data_dir = tempfile.mkdtemp(prefix="azure-e2e-la-big-")
        self.columns = [{"name": "TimeGenerated", "type": "datetime"},
                        {"name": "Seq", "type": "long"},
                        {"name": "Message", "type": "string"}]
        start = utcnow() - datetime.timedelta(hours=5)
        self.rows = []
        path = os.path.join(self.data_dir, "big.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for i in range(ROWS):
                # three rows share each instant: the skip of the rows of
                # the newest instant is exercised at the truncation
                t = start + datetime.timedelta(microseconds=370000 * (i // 3))
                row = [t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "1Z", i,
                       "%06d " % i + "é" * 10 + "a" * 2060]
                self.rows.append(row)
                f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
                f.write("\n")
        self.workspaces = {"big-ws": {"tables": {"Big": {"columns": self.columns,
                                                         "jsonl": path}}}}
        super().setUp()

    def tearDown(self):
        super().tearDown()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def test_truncated_64mb_answer_every_row_once_bounded_rss(self):
        binary = os.path.join(os.environ.get("AZURE_LOGS_BINDIR", "bin"), "azure-la")
        out = os.path.join(self.data_dir, "out.jsonl")
        err = os.path.join(self.data_dir, "err.log")
        since = iso(utcnow() - datetime.timedelta(hours=6))
        with open(out, "wb") as fo, open(err, "wb") as fe:
            p = subprocess.Popen([binary, "--tenant", TENANT, "--workspace", "big-ws",
                                  "--query", "Big", "--auth-file", self.auth,
                                  "--login-url", self.mock.url,
                                  "--la-url", self.mock.url, "--since", since,
                                  "--json", "-d", "1"], stdout=fo, stderr=fe)
            # VmHWM (peak RSS) of the running process: getrusage's
            # ru_maxrss of a child would count the test's own memory,
            # which the child had until its exec.
            hwm = 0
            while p.poll() is None:
                hwm = max(hwm, vm_hwm_kb(p.pid))
                time.sleep(0.005)
        with open(err, "rb") as f:
            stderr = f.read().decode(errors="replace")
        self.assertEqual(p.returncode, 0, stderr[-3000:])
        self.assertNotIn(self.secret, stderr)

        reqs = [r for r in self.mock.requests()
                if r["path"].startswith("/v1/workspaces/")]
        self.assertTrue(reqs[0]["truncated"], reqs[0])
        self.assertFalse(reqs[-1]["truncated"])
        self.assertEqual(len(reqs), 2, [r["rows"] for r in reqs])
        self.assertIn("result truncated", stderr)

        want = {}
        for r in self.rows:
            want[hashlib.sha256(wazuh_event(self.columns, r)).digest()] = 0
        lines = 0
        with open(out, "rb") as f:
            for line in f:
                h = hashlib.sha256(line.rstrip(b"\n")).digest()
                self.assertIn(h, want)
                want[h] += 1
                lines += 1
        self.assertEqual(lines, ROWS)
        self.assertEqual(set(want.values()), {1}, "a row missing or sent twice")

        # ru_maxrss is in KB; sanitizer builds carry their own shadow memory
        if "asan" not in binary and "valgrind" not in binary:
            self.assertLessEqual(hwm, RSS_MAX_KB, "peak RSS %d KB" % hwm)
        print("azure-la peak RSS %d KB for %d requests" % (hwm, len(reqs)))


if __name__ == "__main__":
    unittest.main()
