#!/usr/bin/env python3
"""Log Analytics fetcher: rows/s and peak memory against the loopback mock.

    python3 tests/bench/bench_la.py [--sizes 1000,10000,50000] [--runs 3]
                                    [--byte-limit BYTES]

For each size, the mock holds that many "Wide" rows (~2 KB each, every
column type) and truncates results above --byte-limit (PartialError, as the
service does above 64 MB), so larger results are split by azure-la. The
fetcher runs stand-alone (--since ... --json > /dev/null); its peak RSS
comes from getrusage of the child. Prints one line per size and a summary
line "BENCH la size=N rows_per_s=R mb_per_s=M peak_rss_kb=K requests=Q"
that scripts can parse. Figures only: nothing here passes or fails on time.
Environment: AZURE_LOGS_BINDIR (default <top>/bin).
"""

import argparse
import datetime
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
from harness import CLIENT, TENANT, Mock, iso, utcnow  # noqa: E402

import gen_la  # noqa: E402

BIN = os.environ.get("AZURE_LOGS_BINDIR", os.path.join(TOP, "bin"))


def run_once(work, mock, auth, since):
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: measure
    # each run in a fresh intermediate process so runs do not mask others.
    code = ("import resource,subprocess,sys,time\n"
            "t=time.monotonic()\n"
            "p=subprocess.run(sys.argv[1:],stdout=subprocess.PIPE,stderr=subprocess.DEVNULL)\n"
            "d=time.monotonic()-t\n"
            "r=resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "print(p.returncode,d,r.ru_maxrss,len(p.stdout),p.stdout.count(b'\\n'))\n")
    argv = [sys.executable, "-c", code, os.path.join(BIN, "azure-la"),
            "--tenant", TENANT, "--workspace", "bench", "--query", "Wide",
            "--auth-file", auth, "--login-url", mock.url, "--la-url", mock.url,
            "--since", since, "--json"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
    rc, secs, rss, nbytes, lines = int(out[0]), float(out[1]), int(out[2]), int(out[3]), int(out[4])
    if rc != 0:
        raise SystemExit("azure-la failed (status %d)" % rc)
    return secs, rss, nbytes, lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,50000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--byte-limit", type=int, default=16_000_000)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="bench-la-")
    secret = secrets.token_urlsafe(24)
    secret_file = os.path.join(work, "secret")
    with open(os.open(secret_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(secret)
    auth = os.path.join(work, "auth")
    with open(os.open(auth, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write("application_id = %s\napplication_key = %s\n" % (CLIENT, secret))
    now = utcnow()
    since = iso(now - datetime.timedelta(days=2))
    print("%-8s %10s %9s %12s %9s %9s" % ("rows", "rows/s", "MB/s", "peak RSS", "requests", "result"))
    for size in [int(s) for s in args.sizes.split(",")]:
        data = gen_la.gen_rows("Wide", size, iso(now - datetime.timedelta(days=1)),
                               iso(now - datetime.timedelta(minutes=1)), 1)
        table = os.path.join(work, "wide.json")
        with open(table, "w") as f:
            json.dump(data, f)
        mock = Mock(work, {
            "tenants": {TENANT: {"clients": {CLIENT: {"secret_file": secret_file}}}},
            "workspaces": {"bench": {"tables": {"Wide": {"file": table}}}},
            "la_byte_limit": args.byte_limit, "gzip": False})
        try:
            results = []
            for _ in range(args.runs):
                mock.control("reset-log")
                results.append(run_once(work, mock, auth, since))
                reqs = len([r for r in mock.requests() if r["path"].startswith("/v1/")])
            secs = statistics.median(r[0] for r in results)
            rss = max(r[1] for r in results)
            nbytes, lines = results[0][2], results[0][3]
            result_mb = len(json.dumps(data["rows"])) / 1e6
            print("%-8d %10.0f %9.1f %9d kB %9d %6.1f MB" % (
                lines, lines / secs, nbytes / secs / 1e6, rss, reqs, result_mb))
            print("BENCH la size=%d rows_per_s=%.0f mb_per_s=%.1f peak_rss_kb=%d requests=%d"
                  % (lines, lines / secs, nbytes / secs / 1e6, rss, reqs))
            if lines != size:
                raise SystemExit("expected %d rows, got %d" % (size, lines))
        finally:
            mock.close()


if __name__ == "__main__":
    main()
