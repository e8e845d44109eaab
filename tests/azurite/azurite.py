#!/usr/bin/env python3
"""Azurite, Microsoft's Blob Storage emulator, for the tests: installing it
from the npm registry, running it on loopback, and a small Blob REST client
signed with Shared Key or a SAS token.  Python 3 standard library only.

As a module:

    with Azurite() as az:                 # installs once, starts, stops
        c = az.client()                   # Shared Key, devstoreaccount1
        c.create_container("logs")
        c.put_block_blob("logs", "a/b.log", b"line\\n")

As a command (tests/azurite/azurite.py COMMAND):

    install     npm install azurite (once) into the cache directory
    run         start Azurite, print its URL, run until interrupted
    selfcheck   check the signatures against the reference's worked
                example, then against a real Azurite

Environment: AZURITE_CACHE, the npm prefix (default <top>/build/azurite).
The account key below is Microsoft's public development key: the only key
that may appear in this repository.
"""

import base64
import datetime
import email.utils
import fcntl
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AZURITE_VERSION = "3.37.0"
API_VERSION = "2021-08-06"
ACCOUNT = "devstoreaccount1"
KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
       "K1SZFPTOtr/KBHBeksoGMGw==")


class AzuriteError(Exception):
    pass


# ---------------------------------------------------------------- install

def cache_dir():
    return os.environ.get("AZURITE_CACHE") or os.path.join(TOP, "build", "azurite")


def blob_bin(cache=None):
    return os.path.join(cache or cache_dir(), "node_modules", ".bin", "azurite-blob")


def installed_version(cache=None):
    """The version of Azurite in the cache, or None."""
    try:
        with open(os.path.join(cache or cache_dir(), "node_modules", "azurite",
                               "package.json")) as f:
            return json.load(f).get("version")
    except (OSError, ValueError):
        return None


def ensure_installed(cache=None, quiet=True):
    """npm install azurite@AZURITE_VERSION into the cache, once (again if
    the cache holds another version). Returns the path of azurite-blob."""
    cache = cache or cache_dir()
    exe = blob_bin(cache)
    if os.path.exists(exe) and installed_version(cache) == AZURITE_VERSION:
        return exe
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise AzuriteError(
            "Azurite needs Node.js and npm, which are not installed: run "
            "scripts/install-deps (Debian packages nodejs and npm)")
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one npm install at a time
        if os.path.exists(exe) and installed_version(cache) == AZURITE_VERSION:
            return exe
        argv = [npm, "install", "--no-audit", "--no-fund", "--save-exact",
                "--prefix", cache, "azurite@" + AZURITE_VERSION]
        if not quiet:
            print("azurite: " + " ".join(argv), file=sys.stderr)
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=900)
        if p.returncode != 0 or not os.path.exists(exe):
            raise AzuriteError("npm install azurite@%s failed (exit %d):\n%s" % (
                AZURITE_VERSION, p.returncode,
                p.stdout.decode(errors="replace")[-3000:]))
    return exe


# ---------------------------------------------------------------- server

def _die_with_parent():
    """In the child before exec: SIGKILL when the test process dies, so a
    killed test run leaves no Azurite behind (Linux). (Azurite closes its
    port on SIGTERM but its process lingers.)"""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort only
        pass


class Azurite:
    """One azurite-blob on 127.0.0.1, in memory. start()/stop(), or a
    context manager. url: http://127.0.0.1:PORT/devstoreaccount1."""

    def __init__(self, cache=None, timeout=60):
        self.cache = cache
        self.timeout = timeout
        self.proc = None
        self.port = None
        self.url = None
        self.workdir = None
        self.output = []

    def start(self):
        exe = ensure_installed(self.cache)
        self.workdir = tempfile.mkdtemp(prefix="azurite-")
        # Port 0 and the port it reports: no race with other programs
        # picking the same free port.
        argv = [exe, "--blobHost", "127.0.0.1", "--blobPort", "0",
                "--inMemoryPersistence", "--extentMemoryLimit", "512",
                "--silent", "--skipApiVersionCheck", "--loose"]
        self.proc = subprocess.Popen(argv, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent)
        found = threading.Event()

        def reader():
            for raw in self.proc.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                self.output.append(line)
                m = re.search(r"listens on https?://[^:/]+:(\d+)", line)
                if m and not found.is_set():
                    self.port = int(m.group(1))
                    found.set()

        threading.Thread(target=reader, daemon=True).start()
        deadline = time.time() + self.timeout
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.time() > deadline:
                out = "\n".join(self.output)
                self.stop()
                raise AzuriteError("Azurite did not start:\n" + out)
        while True:  # and the port answers
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise AzuriteError("Azurite's port %d does not answer" % self.port)
                time.sleep(0.05)
        self.url = "http://127.0.0.1:%d/%s" % (self.port, ACCOUNT)
        return self

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                # SIGTERM: Azurite closes its server, then its process
                # lingers on timers; SIGKILL once it says it closed.
                self.proc.terminate()
                deadline = time.time() + 3
                while (self.proc.poll() is None and time.time() < deadline and
                       not any("successfully closed" in x for x in self.output)):
                    time.sleep(0.05)
                if self.proc.poll() is None:
                    self.proc.kill()
                self.proc.wait(10)
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc = None
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def client(self, key=KEY, sas=None):
        return Client(self.url, ACCOUNT, key=None if sas else key, sas=sas)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------- signing

def rfc1123(dt=None):
    return email.utils.formatdate(
        (dt or datetime.datetime.now(datetime.timezone.utc)).timestamp(), usegmt=True)


def string_to_sign(verb, path, account, query=None, headers=None):
    """Shared Key StringToSign (blob service, version 2009-09-19 and later).
    path: the URL path as sent (percent-encoded), e.g.
    /devstoreaccount1/c/b.log; query: {name: value} (decoded)."""
    h = {k.lower(): v for k, v in (headers or {}).items()}
    length = h.get("content-length", "")
    if str(length) == "0":
        length = ""
    fields = [verb.upper(), h.get("content-encoding", ""), h.get("content-language", ""),
              str(length), h.get("content-md5", ""), h.get("content-type", ""),
              "" if "x-ms-date" in h else h.get("date", ""),
              h.get("if-modified-since", ""), h.get("if-match", ""),
              h.get("if-none-match", ""), h.get("if-unmodified-since", ""),
              h.get("range", "")]
    canon_headers = "".join("%s:%s\n" % (k, " ".join(str(h[k]).split()))
                            for k in sorted(h) if k.startswith("x-ms-"))
    resource = "/" + account + path
    q = {}
    for k, v in (query or {}).items():
        q.setdefault(k.lower(), []).append(v)
    for k in sorted(q):
        resource += "\n%s:%s" % (k, ",".join(sorted(q[k])))
    return "\n".join(fields) + "\n" + canon_headers + resource


def sign(key, text):
    mac = hmac.new(base64.b64decode(key), text.encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _sas_time(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def account_sas(account=ACCOUNT, key=KEY, permissions="rl", services="b",
                resource_types="sco", start=None, expiry=None, protocol=None,
                version=API_VERSION):
    """An Account SAS token (no leading ?), signed as for 2020-12-06+."""
    now = datetime.datetime.now(datetime.timezone.utc)
    st = _sas_time(start or now - datetime.timedelta(minutes=5))
    se = _sas_time(expiry or now + datetime.timedelta(hours=2))
    text = "\n".join([account, permissions, services, resource_types, st, se,
                      "", protocol or "", version, "", ""])
    params = [("sv", version), ("ss", services), ("srt", resource_types),
              ("sp", permissions), ("st", st), ("se", se)]
    if protocol:
        params.append(("spr", protocol))
    params.append(("sig", sign(key, text)))
    return urllib.parse.urlencode(params, safe=":")


def container_sas(container, account=ACCOUNT, key=KEY, permissions="rl",
                  start=None, expiry=None, version=API_VERSION):
    """A Service SAS for one container (sr=c), signed as for 2020-12-06+."""
    now = datetime.datetime.now(datetime.timezone.utc)
    st = _sas_time(start or now - datetime.timedelta(minutes=5))
    se = _sas_time(expiry or now + datetime.timedelta(hours=2))
    resource = "/blob/%s/%s" % (account, container)
    # sp, st, se, resource, si, sip, spr, sv, sr, snapshot, ses,
    # rscc, rscd, rsce, rscl, rsct
    text = "\n".join([permissions, st, se, resource, "", "", "", version, "c",
                      "", "", "", "", "", "", ""])
    params = [("sv", version), ("sr", "c"), ("sp", permissions), ("st", st),
              ("se", se), ("sig", sign(key, text))]
    return urllib.parse.urlencode(params, safe=":")


# ---------------------------------------------------------------- client

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-cased names
        self.body = body

    @property
    def error_code(self):
        code = self.headers.get("x-ms-error-code")
        if code:
            return code
        m = re.search(rb"<Code>([^<]*)</Code>", self.body or b"")
        return m.group(1).decode() if m else None

    def last_modified(self):
        """Last-Modified as an aware datetime (second precision), or None."""
        v = self.headers.get("last-modified")
        return email.utils.parsedate_to_datetime(v) if v else None

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.error_code or "")


class Client:
    """Blob REST calls against one account URL (path-style, as Azurite)."""

    def __init__(self, url, account=ACCOUNT, key=KEY, sas=None, timeout=30):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http":
            raise ValueError("only http:// (Azurite on loopback)")
        self.host = u.hostname
        self.port = u.port or 80
        self.base = u.path.rstrip("/")  # /devstoreaccount1
        self.account = account
        self.key = key
        self.sas = sas.lstrip("?") if sas else None
        self.timeout = timeout

    def request(self, method, container=None, blob=None, query=None, headers=None,
                body=b"", expect=None):
        path = self.base + "/"
        if container is not None:
            path = self.base + "/" + urllib.parse.quote(container, safe="")
            if blob is not None:
                path += "/" + urllib.parse.quote(blob, safe="/~")
        query = dict(query or {})
        h = {"x-ms-version": API_VERSION, "x-ms-date": rfc1123()}
        h.update(headers or {})
        if method in ("PUT", "POST") or body:
            h["Content-Length"] = str(len(body))
        qs = urllib.parse.urlencode(query, quote_via=urllib.parse.quote, safe="")
        if self.sas:
            qs = qs + ("&" if qs else "") + self.sas
        elif self.key:
            sts = string_to_sign(method, path, self.account, query, h)
            h["Authorization"] = "SharedKey %s:%s" % (self.account, sign(self.key, sts))
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path + ("?" + qs if qs else ""), body=body or None,
                         headers=h)
            r = conn.getresponse()
            resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()
        if expect is not None and resp.status not in (
                expect if isinstance(expect, (tuple, list)) else (expect,)):
            raise AzuriteError("%s %s: HTTP %d %s\n%s" % (
                method, path, resp.status, resp.error_code,
                resp.body.decode(errors="replace")[:500]))
        return resp

    # containers
    def create_container(self, name):
        return self.request("PUT", name, query={"restype": "container"}, expect=201)

    def delete_container(self, name):
        return self.request("DELETE", name, query={"restype": "container"},
                            expect=(202, 404))

    def list_containers(self):
        names, marker = [], None
        while True:
            q = {"comp": "list"}
            if marker:
                q["marker"] = marker
            r = self.request("GET", query=q, expect=200)
            root = ET.fromstring(r.body)
            names += [e.text for e in root.iter("Name")]
            marker = root.findtext("NextMarker")
            if not marker:
                return names

    def delete_all_containers(self):
        for name in self.list_containers():
            self.delete_container(name)

    # blobs
    def put_block_blob(self, container, name, data, content_type=None):
        h = {"x-ms-blob-type": "BlockBlob"}
        if content_type:
            h["Content-Type"] = content_type
        return self.request("PUT", container, name, headers=h, body=bytes(data),
                            expect=201)

    def create_append_blob(self, container, name, data=None):
        r = self.request("PUT", container, name, headers={"x-ms-blob-type": "AppendBlob"},
                         expect=201)
        if data:
            r = self.append_block(container, name, data)
        return r

    def append_block(self, container, name, data):
        return self.request("PUT", container, name, query={"comp": "appendblock"},
                            body=bytes(data), expect=201)

    def delete_blob(self, container, name):
        return self.request("DELETE", container, name, expect=202)

    def get_blob(self, container, name):
        return self.request("GET", container, name, expect=200).body

    def blob_properties(self, container, name):
        return self.request("HEAD", container, name, expect=200).headers

    def list_blobs(self, container, prefix=None):
        """[(name, {property: text})] of every blob, all pages."""
        out, marker = [], None
        while True:
            q = {"restype": "container", "comp": "list"}
            if prefix:
                q["prefix"] = prefix
            if marker:
                q["marker"] = marker
            r = self.request("GET", container, query=q, expect=200)
            root = ET.fromstring(r.body)
            for b in root.iter("Blob"):
                props = {p.tag: p.text for p in b.find("Properties")}
                out.append((b.findtext("Name"), props))
            marker = root.findtext("NextMarker")
            if not marker:
                return out


# ---------------------------------------------------------------- self-check

WORKED_EXAMPLE = (
    "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Mon, 03 Jun 2024 12:00:00 GMT\n"
    "x-ms-version:2021-08-06\n/devstoreaccount1/devstoreaccount1/"
    "insights-logs-signinlogs\ncomp:list\ninclude:metadata\nmaxresults:2\n"
    "prefix:tenantId=00000000-0000-0000-0000-000000000000/y=2024/\n"
    "restype:container")
WORKED_SIGNATURE = "x7ZxLUrnQD2DukYwtw9e2Jd0ztTibD1YTE4wu/rIqpo="


def check_worked_example():
    """Our StringToSign and HMAC reproduce the reference's worked example."""
    text = string_to_sign(
        "GET", "/devstoreaccount1/insights-logs-signinlogs", ACCOUNT,
        {"restype": "container", "comp": "list",
         "prefix": "tenantId=00000000-0000-0000-0000-000000000000/y=2024/",
         "maxresults": "2", "include": "metadata"},
        {"x-ms-date": "Mon, 03 Jun 2024 12:00:00 GMT", "x-ms-version": "2021-08-06"})
    if text != WORKED_EXAMPLE:
        raise AzuriteError("StringToSign differs from the worked example:\n%r" % text)
    if sign(KEY, text) != WORKED_SIGNATURE:
        raise AzuriteError("signature differs from the worked example")


def selfcheck():
    check_worked_example()
    print("worked example signature: ok")
    t0 = time.time()
    with Azurite() as az:
        print("azurite started at %s in %.1f s" % (az.url, time.time() - t0))
        c = az.client()
        c.create_container("selfcheck")
        c.put_block_blob("selfcheck", "dir/a b.log", b"one\ntwo\n")
        c.create_append_blob("selfcheck", "app.log", b"x\n")
        c.append_block("selfcheck", "app.log", b"y\n")
        assert c.get_blob("selfcheck", "app.log") == b"x\ny\n"
        names = [n for n, _ in c.list_blobs("selfcheck")]
        assert names == ["app.log", "dir/a b.log"], names
        sas = Client(az.url, sas=account_sas()).list_blobs("selfcheck")
        assert [n for n, _ in sas] == names
        sas = Client(az.url, sas=container_sas("selfcheck"))
        assert sas.get_blob("selfcheck", "dir/a b.log") == b"one\ntwo\n"
        bad = Client(az.url, key=base64.b64encode(b"k" * 64).decode())
        r = bad.request("GET", "selfcheck", query={"restype": "container", "comp": "list"})
        assert r.status == 403, r
        print("shared key, account SAS, container SAS, bad key: ok")


def main(argv):
    cmd = argv[1] if len(argv) > 1 else "selfcheck"
    try:
        if cmd == "install":
            print(ensure_installed(quiet=False))
        elif cmd == "run":
            with Azurite() as az:
                print(az.url, flush=True)
                try:
                    while az.proc.poll() is None:
                        time.sleep(1)
                except KeyboardInterrupt:
                    pass
        elif cmd == "selfcheck":
            selfcheck()
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except AzuriteError as e:
        print("azurite: ERROR: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
