#!/usr/bin/env python3
"""Blob Storage fetcher: MB/s and peak memory against Azurite.

    python3 tests/bench/bench_storage.py [--sizes-mb 16,64,256] [--runs 3]

For each size, one json_inline append blob of that many MB (~500-byte
lines, appended in 4 MiB blocks) is read by azure-storage stand-alone
(--since ... --json > /dev/null). Its peak RSS (getrusage of the child)
must not grow with the blob. Prints a table and one parsable line per size:
"BENCH storage size_mb=N mb_per_s=M lines_per_s=L peak_rss_kb=K".
Figures only: nothing here passes or fails on time.
Environment: AZURE_LOGS_BINDIR (default <top>/bin), AZURITE_CACHE.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "azurite"))
import azurite  # noqa: E402

BIN = os.environ.get("AZURE_LOGS_BINDIR", os.path.join(TOP, "bin"))
CHILD = ("import resource,subprocess,sys,time\n"
         "t=time.monotonic()\n"
         "p=subprocess.run(sys.argv[1:],stdout=subprocess.PIPE,stderr=subprocess.DEVNULL)\n"
         "d=time.monotonic()-t\n"
         "r=resource.getrusage(resource.RUSAGE_CHILDREN)\n"
         "print(p.returncode,d,r.ru_maxrss,len(p.stdout),p.stdout.count(b'\\n'))\n")


def block(n):
    line = b'{"time": "2024-06-03T11:00:00.0000000Z", "category": "SignInLogs", ' \
           b'"operationName": "Sign-in activity", "resultType": "0", ' \
           b'"properties": {"id": "%08d", "userPrincipalName": "alex@contoso.com", ' \
           b'"ipAddress": "203.0.113.7", "appDisplayName": "Office 365", ' \
           b'"status": {"errorCode": 0}, "padding": "' + b"x" * 200 + b'"}}\n'
    out = bytearray()
    i = 0
    while len(out) < n:
        out += line.replace(b"%08d", b"%08d" % i)
        i += 1
    return bytes(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes-mb", default="16,64,256")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    azurite.ensure_installed()
    work = tempfile.mkdtemp(prefix="bench-storage-")
    auth = os.path.join(work, "auth")
    with open(os.open(auth, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write("account_name = %s\naccount_key = %s\n" % (azurite.ACCOUNT, azurite.KEY))
    chunk = block(4 * 1024 * 1024 - 1024)
    print("%-8s %9s %12s %12s" % ("blob MB", "MB/s", "lines/s", "peak RSS"))
    with azurite.Azurite() as az:
        c = az.client()
        for mb in [int(s) for s in args.sizes_mb.split(",")]:
            name = "bench-%d" % mb
            c.create_container(name)
            c.create_append_blob(name, "PT1H.json")
            size = 0
            while size < mb * 1024 * 1024:
                c.append_block(name, "PT1H.json", chunk)
                size += len(chunk)
            results = []
            for _ in range(args.runs):
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, os.path.join(BIN, "azure-storage"),
                     "--container", name, "--auth-file", auth, "--blob-url", az.url,
                     "--format", "json_inline", "--since", "2000-01-01T00:00:00Z", "--json"],
                    capture_output=True, text=True, check=True).stdout.split()
                if int(out[0]) != 0:
                    raise SystemExit("azure-storage failed")
                results.append((float(out[1]), int(out[2]), int(out[3]), int(out[4])))
            secs = statistics.median(r[0] for r in results)
            rss = max(r[1] for r in results)
            lines = results[0][3]
            print("%-8d %9.1f %12.0f %9d kB" % (size // (1024 * 1024), size / secs / 1e6,
                                                lines / secs, rss))
            print("BENCH storage size_mb=%d mb_per_s=%.1f lines_per_s=%.0f peak_rss_kb=%d"
                  % (size // (1024 * 1024), size / secs / 1e6, lines / secs, rss))
            c.delete_container(name)


if __name__ == "__main__":
    main()
