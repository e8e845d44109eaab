#!/usr/bin/env python3
"""azure-logs end to end: throughput, CPU per role, peak RSS, SQLite commits.

    make bench                       (builds first; never part of make check)
    python3 tests/bench/bench.py [--quick] [--sizes 1000,10000,100000,1000000]
        [--runs 3] [--workloads graph,la,storage-blobs,storage-blob]
        [--big-blob-mb MB] [--blob-lines 100] [--la-byte-limit 64000000]
        [--perf DIR] [--keep]

Each run is the real launcher (scripts/azure-logs, with --no-privsep when
run as root) and the real roles, a fresh Wazuh home (--wazuh-home, a new
azure.db), loopback servers, and a fast datagram sink (tests/bench/sink.c)
bound where Wazuh's queue socket would be. Workloads:

  graph          Microsoft Graph auditLogs/signIns: ~1.5 KB items
                 (tests/mock/gen_graph.py), 1000 per page, newest first,
                 @odata.nextLink paging; the mock in bench mode (items
                 stored as their JSON bytes), gzip off.
  la             Log Analytics: "Wide" rows of ~2 KB (60 columns, every
                 type; tests/mock/gen_la.py); the mock truncates a result
                 at --la-byte-limit (64,000,000 as the service's 64 MB
                 cap: E_QUERY_RESULT_SET_TOO_LARGE), so azure-la goes
                 on from the newest row of each truncated answer.
  storage-blobs  Blob Storage, --json_inline: many small append blobs of
                 --blob-lines lines (~1.3 KB diagnostic-settings records:
                 SignInLogs) in Azurite.
  storage-blob   the same lines in one append blob (1M lines: 1.3 GB).
                 --big-blob-mb N adds one run of an N MB blob (the
                 multi-GB run: --workloads storage-blob --big-blob-mb 4096).

Sizes are events (--sizes; --quick: 1000,10000). For each workload and
size, --runs runs (median): events/s and MB/s end to end (MB: 10^6 bytes of
datagrams delivered), CPU seconds per million events and peak RSS of each
role (getrusage of each role through tests/bench/rusage.c, the launcher's
AZURE_LOGS_WRAPPER; busy_ROLE: its CPU time / the run's wall time), SQLite
commits (sqlite3_commit_hook in the
statekeeper, through tests/bench/commits.c, LD_PRELOAD), and the server
alone: the same requests replayed by one curl process (one connection,
bodies to /dev/null). One line per (workload, size) starts with "BENCH "
and holds key=value pairs.

A run fails when the launcher fails or when the sink did not receive
exactly the events the server holds (each event once, each with Wazuh's
header); then the script exits 1. Nothing passes or fails on time.

Environment: AZURE_LOGS_BINDIR (the roles; default <top>/bin),
AZURE_LOGS_BENCH_TOOLS (sink, rusage, commits.so; default
<top>/build/obj/bench), AZURITE_CACHE (tests/azurite/azurite.py).
"""

import argparse
import datetime
import hashlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
from harness import CLIENT, LAUNCHER, MOCK, TENANT, Mock, utcnow  # noqa: E402

import azurite  # noqa: E402
import gen_graph  # noqa: E402
import gen_la  # noqa: E402

BIN = os.environ.get("AZURE_LOGS_BINDIR", os.path.join(TOP, "bin"))
TOOLS = os.environ.get("AZURE_LOGS_BENCH_TOOLS",
                       os.path.join(TOP, "build", "obj", "bench"))
PRIVSEP_OFF = ["--no-privsep"] if os.geteuid() == 0 else []
ROLES = ("fetcher", "statekeeper", "forwarder")
WORKLOADS = ("graph", "la", "storage-blobs", "storage-blob")
POOL = 20000            # distinct generated records, re-stamped per event


class BenchError(Exception):
    pass


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


# ------------------------------------------------------------------ data

def times_desc(rng, n, hi_ticks, span_ticks, ties=0.05):
    """n tick values in [hi - span, hi), newest first, about `ties` of them
    equal to the previous one (Graph's 100 ns ties)."""
    out = sorted((rng.randrange(hi_ticks - span_ticks, hi_ticks)
                  for _ in range(n)), reverse=True)
    for i in range(1, n):
        if rng.random() < ties:
            out[i] = out[i - 1]
    return out


def window_end():
    """Events end 5 minutes before now (the fetchers' lag is 1 minute)
    and span 20 hours (the runs use a 1 day offset)."""
    return gen_graph.to_ticks(utcnow() - datetime.timedelta(minutes=5))


SPAN = 20 * 3600 * gen_graph.TICKS


def compact(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def graph_file(path, n, seed=1):
    """n signIns items, one compact JSON object per line (the mock's bench
    mode), newest first. POOL items made by gen_graph are re-stamped with
    a new id and createdDateTime for each event. Returns the item bytes."""
    rng = random.Random(seed)
    pool = []
    for item in gen_graph.gen_signins(min(n, POOL), 0, 10 ** 7, seed=seed):
        raw = compact(item)
        head = b'{"id":"%s","createdDateTime":"%s"' % (
            item["id"].encode(), item["createdDateTime"].encode())
        assert raw.startswith(head), raw[:80]
        pool.append(raw[len(head):])
    total = 0
    with open(path, "wb") as f:
        for i, t in enumerate(times_desc(rng, n, window_end(), SPAN)):
            line = b'{"id":"%s","createdDateTime":"%s"%s\n' % (
                str(uuid.UUID(int=rng.getrandbits(128), version=4)).encode(),
                gen_graph.format_ticks(t).encode(), pool[i % len(pool)])
            total += len(line) - 1
            f.write(line)
    return total


def la_file(path, n, seed=1):
    """n Wide rows, one compact JSON array per line (the mock's bench
    mode), TimeGenerated all different (an identical row is a duplicate
    for azure-la: its id is the row's md5). Returns (columns, row bytes)."""
    rng = random.Random(seed)
    data = gen_la.gen_rows("Wide", min(n, POOL), 0, 10 ** 7, seed=seed)
    pool = []
    for row in data["rows"]:
        raw = compact(row)
        head = b'["%s",' % row[0].encode()
        assert raw.startswith(head)
        pool.append(raw[len(head):])
    hi = window_end()
    ticks = rng.sample(range(hi - SPAN, hi), n)
    total = 0
    with open(path, "wb") as f:
        for i, t in enumerate(ticks):
            line = b'["%s",%s\n' % (gen_graph.format_ticks(t).encode(),
                                    pool[i % len(pool)])
            total += len(line) - 1
            f.write(line)
    return data["columns"], total


def storage_pool(seed=1):
    """~1.3 KB json_inline lines: Entra ID SignInLogs records as diagnostic
    settings write them to insights-logs-signinlogs (properties cut to the
    common fields)."""
    tenant = str(uuid.UUID(int=random.Random(seed).getrandbits(128), version=4))
    out = []
    for it in gen_graph.gen_signins(POOL, 0, 10 ** 7, seed=seed):
        props = {k: it[k] for k in (
            "id", "createdDateTime", "userDisplayName", "userPrincipalName",
            "userId", "appId", "appDisplayName", "ipAddress", "clientAppUsed",
            "correlationId", "conditionalAccessStatus", "isInteractive",
            "status")}
        props["deviceDetail"] = {k: it["deviceDetail"][k] for k in (
            "operatingSystem", "browser", "isCompliant", "isManaged")}
        props["location"] = {k: it["location"][k] for k in (
            "city", "state", "countryOrRegion")}
        rec = {"time": it["createdDateTime"],
               "resourceId": "/tenants/%s/providers/Microsoft.aadiam" % tenant,
               "operationName": "Sign-in activity", "operationVersion": "1.0",
               "category": "SignInLogs", "tenantId": tenant,
               "resultType": str(it["status"]["errorCode"]),
               "resultSignature": "None", "durationMs": 0,
               "callerIpAddress": it["ipAddress"],
               "correlationId": it["correlationId"],
               "identity": it["userDisplayName"], "Level": 4,
               "location": it["location"]["countryOrRegion"],
               "properties": props}
        out.append(compact(rec) + b"\n")
    return out


def storage_chunks(pool, n, first=0, chunk_bytes=4 * 1024 * 1024 - 4096):
    """n lines (pool repeated from line `first`), cut at line ends into
    chunks of at most chunk_bytes (an append block holds at most 4 MiB)."""
    buf, size = [], 0
    for i in range(first, first + n):
        line = pool[i % len(pool)]
        if size + len(line) > chunk_bytes and buf:
            yield b"".join(buf)
            buf, size = [], 0
        buf.append(line)
        size += len(line)
    if buf:
        yield b"".join(buf)


# ------------------------------------------------------------------ tools

class Sink:
    """tests/bench/sink.c bound at path; report() drains and counts."""

    def __init__(self, path):
        self.proc = subprocess.Popen([os.path.join(TOOLS, "sink"), path],
                                     stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise BenchError("the sink did not start")

    def report(self):
        self.proc.send_signal(signal.SIGUSR1)
        return dict(kv.split("=") for kv in self.proc.stdout.readline().split())

    def close(self):
        self.proc.terminate()
        self.proc.communicate(timeout=10)


def proc_cpu(pid):
    """utime + stime of a process (and its waited-for children), seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def curl_replay(requests, work):
    """Replays requests [(method, url, headers, body)] with one curl (one
    connection, each body to /dev/null). Returns (seconds, bytes)."""
    cfg = os.path.join(work, "curl.cfg")

    def q(s):
        return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')
    with open(cfg, "w") as f:
        for i, (method, url, headers, body) in enumerate(requests):
            if i:
                f.write("next\n")
            f.write("url = %s\noutput = /dev/null\nwrite-out = %s\n" % (
                q(url), q("%{http_code} %{size_download}\\n")))
            if method != "GET":
                f.write("request = %s\n" % method)
            for h in headers:
                f.write("header = %s\n" % q(h))
            if body is not None:
                bpath = os.path.join(work, "body.%d" % i)
                with open(bpath, "wb") as b:
                    b.write(body)
                f.write("data-binary = %s\n" % q("@" + bpath))
    t = time.monotonic()
    p = subprocess.run(["curl", "-s", "-K", cfg], capture_output=True, text=True)
    secs = time.monotonic() - t
    codes = [line.split() for line in p.stdout.splitlines()]
    if p.returncode != 0 or len(codes) != len(requests) or any(
            c[0] not in ("200", "206") for c in codes):
        raise BenchError("curl replay failed (exit %d): %s" % (
            p.returncode, p.stdout[-300:] + p.stderr[-300:]))
    return secs, sum(int(c[1]) for c in codes)


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/sys/net/unix/max_dgram_qlen") as f:
        qlen = f.read().strip()
    return model, os.cpu_count(), os.uname().release, qlen


# ------------------------------------------------------------------ runs

class Pipeline:
    """Runs of the launcher with the bench's wrapper and sink."""

    def __init__(self, work, perf=None):
        self.work = work
        self.perf = perf

    def run(self, argv, expected, server_pid=None, timeout=3600):
        home = tempfile.mkdtemp(prefix="run-", dir=self.work)
        os.makedirs(os.path.join(home, "wodles", "azure"))
        os.makedirs(os.path.join(home, "queue", "sockets"))
        rdir = os.path.join(home, "rusage")
        os.makedirs(rdir)
        commits = os.path.join(home, "commits")
        env = dict(os.environ, AZURE_LOGS_BINDIR=BIN,
                   AZURE_LOGS_WRAPPER=os.path.join(TOOLS, "rusage"),
                   BENCH_RUSAGE_DIR=rdir,
                   BENCH_SK_PRELOAD=os.path.join(TOOLS, "commits.so"),
                   BENCH_COMMITS_FILE=commits)
        if self.perf:
            env["AZURE_LOGS_WRAPPER"] = os.path.join(
                os.path.dirname(os.path.abspath(__file__)), "perf-role") + \
                " " + env["AZURE_LOGS_WRAPPER"]
            env["BENCH_PERF_DIR"] = self.perf
        sink = Sink(os.path.join(home, "queue", "sockets", "queue"))
        try:
            cpu0 = proc_cpu(server_pid) if server_pid else 0.0
            t = time.monotonic()
            p = subprocess.run([LAUNCHER] + PRIVSEP_OFF + argv + [
                "--wazuh-home", home, "-d", "0"], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                timeout=timeout)
            wall = time.monotonic() - t
            server_cpu = (proc_cpu(server_pid) - cpu0) if server_pid else 0.0
            got = sink.report()
        finally:
            sink.close()
        err = p.stderr.decode(errors="replace")
        if p.returncode != 0:
            raise BenchError("the launcher failed (exit %d):\n%s" % (
                p.returncode, err[-3000:]))
        n, bad = int(got["datagrams"]), int(got["bad"])
        if n != expected or bad:
            raise BenchError("the sink received %d events (%d bad); the "
                             "server holds %d" % (n, bad, expected))
        roles = {}
        for name in os.listdir(rdir):
            kv = dict(x.split("=", 1) for x in open(os.path.join(rdir, name)).read().split())
            role = {"azure-statekeeper": "statekeeper",
                    "azure-forwarder": "forwarder"}.get(kv["prog"], "fetcher")
            roles[role] = {"cpu": float(kv["user_s"]) + float(kv["sys_s"]),
                           "user": float(kv["user_s"]), "sys": float(kv["sys_s"]),
                           "rss": int(kv["maxrss_kb"])}
        if set(roles) != set(ROLES):
            raise BenchError("rusage of %s only" % sorted(roles))
        c = {}
        if os.path.exists(commits):
            c = dict(x.split("=") for x in open(commits).read().split())
        shutil.rmtree(home, ignore_errors=True)
        return {"wall": wall, "events": n, "bytes": int(got["bytes"]),
                "roles": roles, "commits": int(c.get("commits", -1)),
                "changes": int(c.get("changes", -1)), "server_cpu": server_cpu,
                "sink_cpu": float(got["user_s"]) + float(got["sys_s"])}


def summarise(workload, size, runs, server, src_bytes):
    """Median figures of a (workload, size) -> dict of the BENCH line."""
    med = statistics.median
    n = runs[0]["events"]
    s = {"workload": workload, "size": size, "runs": len(runs),
         "events_per_s": med(n / r["wall"] for r in runs),
         "mb_per_s": med(r["bytes"] / r["wall"] / 1e6 for r in runs),
         "src_mb_per_s": med(src_bytes / r["wall"] / 1e6 for r in runs),
         "wall_s": med(r["wall"] for r in runs)}
    for role in ROLES:
        s["cpu_s_per_M_" + role] = med(r["roles"][role]["cpu"] / n * 1e6 for r in runs)
    for role in ROLES:
        s["rss_kb_" + role] = int(med(r["roles"][role]["rss"] for r in runs))
    for role in ROLES:  # the share of the run the role was on a CPU
        s["busy_" + role] = med(r["roles"][role]["cpu"] / r["wall"] for r in runs)
    s["commits"] = int(med(r["commits"] for r in runs))
    s["db_changes"] = int(med(r["changes"] for r in runs))
    s["server_cpu_s"] = med(r["server_cpu"] for r in runs)
    s["sink_cpu_s"] = med(r["sink_cpu"] for r in runs)
    s["server_alone_events_per_s"] = server[0]
    s["server_alone_mb_per_s"] = server[1]
    s["loadavg"] = os.getloadavg()[0]   # other work on the machine shows here
    return s


HEAD = ("%-13s %8s %9s %7s %9s %7s | %7s %7s %7s | %6s %6s %6s | %7s %6s"
        % ("workload", "events", "events/s", "MB/s", "alone/s", "MB/s",
           "fetch", "state", "fwd", "fetch", "state", "fwd", "commits", "wall"))


def print_row(s):
    print("%-13s %8d %9.0f %7.1f %9.0f %7.1f | %7.2f %7.2f %7.2f | %6.1f %6.1f %6.1f | %7d %6.1f"
          % (s["workload"], s["size"], s["events_per_s"], s["mb_per_s"],
             s["server_alone_events_per_s"], s["server_alone_mb_per_s"],
             s["cpu_s_per_M_fetcher"], s["cpu_s_per_M_statekeeper"],
             s["cpu_s_per_M_forwarder"], s["rss_kb_fetcher"] / 1024,
             s["rss_kb_statekeeper"] / 1024, s["rss_kb_forwarder"] / 1024,
             s["commits"], s["wall_s"]))
    fmt = []
    for k, v in s.items():
        if isinstance(v, float):
            v = ("%.3f" % v) if abs(v) < 100 else ("%.0f" % v)
        fmt.append("%s=%s" % (k, v))
    print("BENCH " + " ".join(fmt))
    sys.stdout.flush()


# ------------------------------------------------------------------ Graph / LA

class LoadingMock(Mock):
    """harness.Mock, given the time to load a million events."""

    def __init__(self, workdir, config, timeout=600):
        try:
            super().__init__(workdir, config, timeout=timeout)
        except RuntimeError as e:
            raise BenchError(str(e)) from None


class MockServer:
    """The mock in bench mode, one per (workload, size)."""

    def __init__(self, work, config):
        self.secret = secrets.token_urlsafe(24)
        sfile = os.path.join(work, "secret")
        with open(os.open(sfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(self.secret)
        self.auth = os.path.join(work, "auth")
        with open(os.open(self.auth, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write("application_id = %s\napplication_key = %s\n" % (CLIENT, self.secret))
        self.mock = LoadingMock(work, dict(config, tenants={
            TENANT: {"clients": {CLIENT: {"secret_file": sfile}}}}, gzip=False))
        self.url = self.mock.url
        self.pid = self.mock.proc.pid

    def token(self, scope):
        body = urllib.parse.urlencode({
            "grant_type": "client_credentials", "client_id": CLIENT,
            "client_secret": self.secret, "scope": scope}).encode()
        req = urllib.request.Request("%s/%s/oauth2/v2.0/token" % (self.url, TENANT),
                                     data=body)
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())["access_token"]

    def requests(self):
        return self.mock.requests()

    def close(self):
        self.mock.close()


def bench_mock(args, workload, size, work, pipeline):
    t = time.monotonic()
    if workload == "graph":
        path = os.path.join(work, "signins.jsonl")
        src = graph_file(path, size)
        server = MockServer(work, {"page_size": 1000, "events": {
            "auditLogs/signIns": {"jsonl": path}}})
        argv = ["--graph", "--graph_auth_path", server.auth,
                "--graph_tenant_domain", TENANT, "--graph_query",
                "'auditLogs/signIns'", "--graph_time_offset", "1d",
                "--graph-url", server.url, "--login-url", server.url]
        scope = "https://graph.microsoft.com/.default"
    else:
        path = os.path.join(work, "wide.jsonl")
        cols, src = la_file(path, size)
        server = MockServer(work, {
            "la_byte_limit": args.la_byte_limit,
            "workspaces": {"bench": {"tables": {"Wide": {
                "jsonl": path, "columns": cols}}}}})
        argv = ["--log_analytics", "--la_auth_path", server.auth,
                "--la_tenant_domain", TENANT, "--la_query", "Wide",
                "--workspace", "bench", "--la_time_offset", "1d",
                "--la-url", server.url, "--login-url", server.url]
        scope = "https://api.loganalytics.io/.default"
    log("%s %d: %.0f MB generated and loaded by the mock in %.1f s" % (
        workload, size, src / 1e6, time.monotonic() - t))
    try:
        runs = []
        for i in range(args.runs):
            server.mock.control("reset-log")
            runs.append(pipeline.run(argv, size, server.pid))
            if i == 0:
                log_req = [r for r in server.requests() if "/oauth2/" not in r["path"]]
        # The server alone: the first run's requests again, with curl.
        token = server.token(scope)
        reqs = []
        for r in log_req:
            url = server.url + r["path"] + ("?" + r["query"] if r["query"] else "")
            hdrs = ["Authorization: Bearer " + token]
            if r["method"] == "POST":
                body = {"query": r["query_text"]}
                if r.get("timespan"):
                    body["timespan"] = r["timespan"]
                reqs.append(("POST", url, hdrs + ["Content-Type: application/json"],
                             json.dumps(body).encode()))
            else:
                reqs.append(("GET", url, hdrs, None))
        secs, nbytes = curl_replay(reqs, work)
        extra = ""
        if workload == "la":
            extra = " (%d queries, %d truncated; %.0f MB served for %.0f MB of rows)" % (
                len(log_req), sum(1 for r in log_req if r.get("truncated")),
                nbytes / 1e6, src / 1e6)
        log("%s %d: server alone %.2f s for %d requests%s" % (
            workload, size, secs, len(reqs), extra))
        return summarise(workload, size, runs, (size / secs, nbytes / secs / 1e6), src)
    finally:
        server.close()
        os.unlink(path)


# ------------------------------------------------------------------ Storage

class BenchAzurite(azurite.Azurite):
    """Azurite for one (workload, size): in memory when `mb` megabytes
    fit (faster per request than its disk store), else on disk."""

    def __init__(self, mb):
        super().__init__()
        self.mb = mb

    def start(self):
        exe = azurite.ensure_installed(self.cache)
        self.workdir = tempfile.mkdtemp(prefix="azurite-bench-")
        argv = [exe, "--blobHost", "127.0.0.1", "--blobPort", "0", "--silent",
                "--skipApiVersionCheck", "--loose"]
        if self.mb <= 6000:
            argv += ["--inMemoryPersistence", "--extentMemoryLimit",
                     str(int(self.mb) + 512)]
        else:
            argv += ["--location", self.workdir]
        self.proc = subprocess.Popen(argv, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     preexec_fn=azurite._die_with_parent)
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace")
            self.output.append(line)
            m = re.search(r"listens on https?://[^:/]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        else:
            raise azurite.AzuriteError("Azurite did not start:\n" + "".join(self.output))
        threading.Thread(target=lambda: [None for _ in self.proc.stdout],
                         daemon=True).start()
        self.url = "http://127.0.0.1:%d/%s" % (self.port, azurite.ACCOUNT)
        return self


def signed(az, method, container, blob=None, query=None, headers=None,
           length=None):
    """(url, [headers]) of a Shared Key request to Azurite."""
    path = "/%s/%s" % (azurite.ACCOUNT, container)
    if blob is not None:
        path += "/" + urllib.parse.quote(blob, safe="/~")
    h = {"x-ms-version": azurite.API_VERSION, "x-ms-date": azurite.rfc1123()}
    h.update(headers or {})
    if length is not None:
        h["Content-Length"] = str(length)
    sts = azurite.string_to_sign(method, path, azurite.ACCOUNT, query or {}, h)
    h["Authorization"] = "SharedKey %s:%s" % (azurite.ACCOUNT, azurite.sign(azurite.KEY, sts))
    qs = urllib.parse.urlencode(query or {}, quote_via=urllib.parse.quote, safe="")
    return ("http://127.0.0.1:%d%s%s" % (az.port, path, "?" + qs if qs else ""),
            ["%s: %s" % kv for kv in h.items()])


def upload(az, container, blobs, threads=4):
    """blobs: [(name, chunks)] -> append blobs, `threads` at a time, each
    thread on one keep-alive connection."""
    import http.client
    todo = list(blobs)
    lock = threading.Lock()
    errors = []

    def put(conn, name, query, headers, body):
        url, h = signed(az, "PUT", container, name, query, headers, len(body))
        conn.request("PUT", url[url.index("/", 8):], body=body,
                     headers=dict(x.split(": ", 1) for x in h))
        r = conn.getresponse()
        r.read()
        if r.status != 201:
            raise BenchError("upload %s: HTTP %d" % (name, r.status))

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", az.port, timeout=300)
        try:
            while True:
                with lock:
                    if not todo or errors:
                        return
                    name, chunks = todo.pop()
                put(conn, name, None, {"x-ms-blob-type": "AppendBlob"}, b"")
                for chunk in chunks:
                    put(conn, name, {"comp": "appendblock"}, {}, chunk)
        except Exception as e:  # noqa: BLE001 - raised below
            with lock:
                errors.append(e)
        finally:
            conn.close()
    ts = [threading.Thread(target=worker) for _ in range(min(threads, len(todo)))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]


def bench_storage(args, workload, size, pool, work, pipeline, big_mb=None):
    mb = size * sum(len(x) for x in pool) / len(pool) / 1e6
    with BenchAzurite(mb * 1.1) as az:
        return storage_runs(args, workload, size, az, pool, work, pipeline, big_mb)


def storage_runs(args, workload, size, az, pool, work, pipeline, big_mb):
    label = "storage-big" if big_mb else workload
    container = "bench-%s-%d" % (label.split("-")[1], size)
    az.client().create_container(container)
    t = time.monotonic()
    if workload == "storage-blobs":
        n_blobs = (size + args.blob_lines - 1) // args.blob_lines
        blobs = []
        for b in range(n_blobs):
            lines = min(args.blob_lines, size - b * args.blob_lines)
            blobs.append(("y=2026/m=01/d=%02d/h=%02d/m=00/PT1H-%05d.json" % (
                1 + b // 2400 % 28, b // 100 % 24, b),
                storage_chunks(pool, lines, b * args.blob_lines)))
    else:
        n_blobs = 1
        blobs = [("y=2026/m=01/d=01/h=00/m=00/PT1H.json", storage_chunks(pool, size))]
    upload(az, container, blobs)
    src = size_lines = 0
    for name, props in az.client().list_blobs(container):
        src += int(props["Content-Length"])
    size_lines = size
    log("%s %d: %d blob(s), %.1f MB uploaded in %.1f s" % (
        label, size, n_blobs, src / 1e6, time.monotonic() - t))
    auth = os.path.join(work, "auth")
    with open(os.open(auth, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("account_name = %s\naccount_key = %s\n" % (azurite.ACCOUNT, azurite.KEY))
    argv = ["--storage", "--storage_auth_path", auth, "--container", container,
            "--json_inline", "--storage_time_offset", "1d", "--blob-url", az.url]
    try:
        runs = [pipeline.run(argv, size_lines, az.proc.pid) for _ in range(args.runs)]
        reqs = [("GET",) + signed(az, "GET", container, name) + (None,)
                for name, _ in az.client().list_blobs(container)]
        secs, nbytes = curl_replay(reqs, work)
        log("%s %d: server alone %.2f s for %d GETs" % (label, size, secs, len(reqs)))
        return summarise(label, size_lines, runs,
                         (size_lines / secs, nbytes / secs / 1e6), src)
    finally:
        az.client().delete_container(container)


# ------------------------------------------------------------------ main

def header(args):
    model, ncpu, kernel, qlen = machine()
    load = os.getloadavg()
    print("azure-logs bench: %s, %d CPUs, Linux %s, load average %.2f %.2f %.2f, "
          "nice %d" % (model, ncpu, kernel, *load, os.nice(0)))
    print("roles: %s; %s" % (BIN, "run as root with --no-privsep: every role "
                             "keeps root (no privilege drop; the drop costs "
                             "nothing per event), sandboxes on"
                             if PRIVSEP_OFF else "privilege-separated as this user"))
    print("sink: tests/bench/sink.c, net.unix.max_dgram_qlen %s; %s runs each, median"
          % (qlen, args.runs))
    for size in (1500, 2100):
        out = subprocess.run([os.path.join(TOOLS, "sink"), "--selftest", "300000",
                              str(size)], capture_output=True, text=True).stdout
        kv = dict(x.split("=") for x in out.split())
        print("sink capacity: %s datagrams/s of %d bytes from a blocking sender "
              "(%s MB/s; sink CPU %s s user + %s s sys for 300,000)"
              % (kv["datagrams_per_s"], size, kv["mb_per_s"], kv["user_s"], kv["sys_s"]))
    print("columns: events/s and MB/s (datagrams) end to end | the server alone "
          "(curl replay) | CPU s per million events | peak RSS MB | SQLite "
          "commits | wall s")
    print(HEAD)
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--quick", action="store_true", help="sizes 1000,10000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--big-blob-mb", type=int, default=0,
                    help="also one json_inline blob of this many MB")
    ap.add_argument("--blob-lines", type=int, default=100)
    ap.add_argument("--la-byte-limit", type=int, default=64000000)
    ap.add_argument("--perf", metavar="DIR",
                    help="record each role with perf into DIR/ROLE.PID.data "
                    "(tests/bench/perf-role; BENCH_PERF_ARGS: perf record's "
                    "options, default -F 999)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    sizes = [1000, 10000] if args.quick else [int(s) for s in args.sizes.split(",")]
    workloads = [w for w in args.workloads.split(",") if w]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error("unknown workload %s (one of %s)" % (w, ", ".join(WORKLOADS)))
    for tool in ("sink", "rusage", "commits.so"):
        if not os.path.exists(os.path.join(TOOLS, tool)):
            sys.exit("bench: %s/%s is missing: run make bench" % (TOOLS, tool))
    work = tempfile.mkdtemp(prefix="azure-bench-")
    if args.perf:
        args.perf = os.path.abspath(args.perf)
        os.makedirs(args.perf, exist_ok=True)
    pipeline = Pipeline(work, args.perf)
    header(args)
    failed = 0
    started = time.monotonic()
    results = []
    try:
        for w in workloads:
            if w in ("graph", "la"):
                for size in sizes:
                    try:
                        results.append(bench_mock(args, w, size, work, pipeline))
                        print_row(results[-1])
                    except BenchError as e:
                        failed += 1
                        print("FAILED workload=%s size=%d: %s" % (w, size, e))
        storage = [w for w in workloads if w.startswith("storage")]
        if storage:
            pool = storage_pool()
            jobs = [(w, s, None) for w in storage for s in sizes]
            if args.big_blob_mb and "storage-blob" in storage:
                avg = sum(len(x) for x in pool) / len(pool)
                jobs.append(("storage-blob", int(args.big_blob_mb * 1e6 / avg),
                             args.big_blob_mb))
            for w, size, big in jobs:
                try:
                    results.append(bench_storage(args, w, size, pool, work,
                                                 pipeline, big))
                    print_row(results[-1])
                except (BenchError, azurite.AzuriteError) as e:
                    failed += 1
                    print("FAILED workload=%s size=%d: %s" % (w, size, e))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("bench: %d results, %d failed, %.0f s, load average now %.2f"
          % (len(results), failed, time.monotonic() - started, os.getloadavg()[0]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
