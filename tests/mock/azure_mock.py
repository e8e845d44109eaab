#!/usr/bin/env python3
"""Mock of the Microsoft identity token endpoint, the Microsoft Graph
audit-log API and the Log Analytics query API, for the tests of azure-logs.
Python 3 standard library only (plus kql.py, next to this file).

    python3 tests/mock/azure_mock.py --port 0 --port-file FILE
                                     [--config FILE.json] [--verbose]

Binds 127.0.0.1, writes the chosen port to FILE atomically once listening,
serves until SIGTERM/SIGINT and exits 0.  Logs to stderr only with
--verbose, and never logs request bodies or headers (they hold secrets).

Served endpoints
  POST /{tenant}/oauth2/v2.0/token   client-credentials token (form body):
                                     client_secret, or client_assertion_type
                                     jwt-bearer + client_assertion (RS256,
                                     verified against the client's
                                     certificate: signature, x5t, aud, iss,
                                     sub, nbf/exp (at most 10 min), jti
                                     never reused)
  GET  /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R
                                     [&client_id=C]  instance metadata
                                     service (managed identity): needs
                                     "Metadata: true"; a token for R
  GET  /v1.0/<resource>              Graph list with $filter/$top/$skiptoken
                                     ($select too); resources: auditLogs/
                                     signIns, directoryAudits, provisioning,
                                     security/alerts_v2, plus any path that
                                     events are loaded for.
  POST /v1/workspaces/{ws}/query     Log Analytics query, JSON body
                                     {"query": KQL, "timespan": optional}
  GET  /v1/workspaces/{ws}/query?query=KQL&timespan=ISO
                                     Needs a token for scope
                                     https://api.loganalytics.io/.default.
                                     The KQL subset is documented in kql.py.
                                     200 {"tables":[{"name":"PrimaryResult",
                                     "columns":[..],"rows":[..]}]} (+ a
                                     PartialError "error" when truncated);
                                     204 for an "empty" workspace; an empty
                                     200 for a POST whose body is not JSON;
                                     400 BadArgumentError (SyntaxError /
                                     SemanticError / QueryValidationError /
                                     InvalidTimespan), 401
                                     AuthenticationFailed, 403
                                     InsufficientAccessError ("forbidden"),
                                     404 PathNotFoundError.

Control API (no auth, JSON in and out; never recorded in the request log)
  POST /_mock/events        {"path": "auditLogs/signIns", "items": [...],
                             "time_field": optional}   append items
  POST /_mock/clear-events  {"path": optional}          drop events
  POST /_mock/la-rows       {"workspace": W, "table": T, "rows": [[..]] or
                             [{col: value}], "columns": [{"name","type"}],
                             "ingestion_time": ISO | "ingestion_times":
                             [ISO | null, ...]}
                            append rows (creates the workspace/table;
                            columns are required for a new table).  Each
                            row carries a hidden ingestion time (what KQL
                            ingestion_time() returns; never a column):
                            "ingestion_time" for every row of the call, or
                            "ingestion_times" one per row (null: none);
                            default: the mock's current time (real UTC
                            now) at the call.  So late rows are an old
                            TimeGenerated with a recent ingestion time.
  POST /_mock/la-clear      {"workspace": optional, "table": optional,
                             "drop": false}  drop rows (or tables)
  POST /_mock/fail          {"match": "/v1.0/", "status": 429,
                             "retry_after": "1" | "<HTTP-date>" | null,
                             "retry_after_http_date": SECONDS_FROM_NOW,
                             "count": 1, "skip": 0,
                             "body": null | "raw" | {json},
                             "truncate": false, "garbage": false,
                             "drop": false, "pass": false, "delay": 0}
                            queue injected failures ("pass": the normal
                            answer, only "delay" seconds late); "match" is a substring
                            of the raw request target (path and query);
                            the first "skip" matching requests are served
  POST /_mock/clear-fail    drop queued failures
  GET  /_mock/requests      [{method, path, query, status, has_auth,
                              injected}, ...]; Log Analytics entries also
                             carry workspace, query_text, timespan, prefer,
                             rows (count returned) and truncated
  POST /_mock/reset-log     clear the request log
  POST /_mock/expire-tokens revoke every token issued so far
  GET  /_mock/tokens        [{tenant, client_id, scope, expired}] (no values)
  GET  /_mock/assertions    [{header, claims}] of the client assertions
                            accepted (no signatures)
  POST /_mock/config        merge run-time options (same keys as the file)
  GET  /_mock/health        {"ok": true}
  (Action endpoints also accept GET, for body-less calls.)

Config file keys (all optional):
  tenants         {"wazuh.example": {"clients": {"<id>": "<secret>" |
                   {"secret_file": "PATH"} | {"certificate": {"n": HEX,
                   "e": INT, "x5t": BASE64URL}} | [several of those]}}}
                   (a certificate: the modulus and exponent of its RSA
                   public key, e.g. from openssl x509 -noout -modulus, and
                   its thumbprint: base64url SHA-1 of its DER)
  identities      {"system": true | false, "user": ["<client id>", ...]}
                  managed identities of the "VM" (IMDS): the system-assigned
                  one answers requests without client_id (default: true)
  token_ttl       seconds (3599)
  page_size       default $top (100)
  events          {"auditLogs/signIns": [items] | {"file": "PATH"} |
                   {"jsonl": "PATH"}}  ("jsonl", bench mode: one compact
                   JSON item per line, served as its bytes, never
                   re-serialised; see Resource.add_jsonl)
  time_fields     {"some/path": "fieldName"} extra resources
  old_tenant_error  unknown tenant -> invalid_request instead of
                    invalid_tenant (both carry 90002)
  empty_pages     insert an empty page (with nextLink) between full pages
  empty_last_page after the last full page, one more empty page with no
                  nextLink
  retention_days  a $filter date older than now - N days -> 400
  gzip            compress Graph 200 bodies if the client accepts gzip (true)
  throttle        {"limit": 5, "window": 10}: per client id, Graph requests
                  beyond limit in window seconds -> 429 with Retry-After
  workspaces      {"<id>": {"tables": {"<Table>": {"columns": [{"name":
                   "TimeGenerated", "type": "datetime"}, ...], "rows":
                   [[...], ...]} | {"file": "PATH"} (a {"columns","rows"}
                   document, e.g. gen_la.py output)}, "empty": false,
                   "forbidden": false}}  (a table may also be
                   {"columns": [...], "jsonl": "PATH"}, bench mode: one
                   compact JSON row per line, kept as bytes; azure-la's
                   queries on it are answered by bisection on
                   TimeGenerated, anything else parses it first: see
                   LaJsonlTable) (ids are case-insensitive; a table
                   given here replaces the table of that name; flags given
                   alone keep the tables).  A table may also give
                   "ingestion_time" / "ingestion_times" as in la-rows;
                   by default a row's ingestion time is its TimeGenerated
                   (the load time when it has none)
  la_row_limit    Log Analytics rows per result before truncation with a
                  PartialError (500000); null = no limit
  la_byte_limit   same on the size of the serialised rows (64000000)
  la_partial_failures  N: the next N answers (not bench mode) lose their
                  older half of rows to a failed shard and say so with a
                  PartialError that is not a truncation (0)
"""

import argparse
import bisect
import collections
import datetime
import email.utils
import gzip as gzip_mod
import http
import json
import math
import os
import re
import secrets
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, unquote_plus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kql  # noqa: E402

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
LA_SCOPE = "https://api.loganalytics.io/.default"
SCOPES = (GRAPH_SCOPE, LA_SCOPE)
# Managed identities ask the instance metadata service for a resource.
IMDS_RESOURCES = {"https://graph.microsoft.com/": GRAPH_SCOPE,
                  "https://graph.microsoft.com": GRAPH_SCOPE,
                  "https://api.loganalytics.io/": LA_SCOPE,
                  "https://api.loganalytics.io": LA_SCOPE}
# National clouds: tokens this mock issues but never accepts (its APIs are
# the public cloud's).
for _host in ("graph.microsoft.us", "dod-graph.microsoft.us",
              "microsoftgraph.chinacloudapi.cn", "api.loganalytics.us",
              "api.loganalytics.azure.cn"):
    IMDS_RESOURCES["https://%s/" % _host] = "https://%s/.default" % _host
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# PKCS#1 v1.5 DigestInfo prefix of a SHA-256 digest (RFC 8017 9.2).
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")

GRAPH_CT = ("application/json; odata.metadata=minimal; odata.streaming=true; "
            "IEEE754Compatible=false; charset=utf-8")
JSON_CT = "application/json; charset=utf-8"

# Canonical resource name -> time field (the only field $filter accepts).
DEFAULT_RESOURCES = {
    "auditLogs/signIns": "createdDateTime",
    "auditLogs/directoryAudits": "activityDateTime",
    "auditLogs/provisioning": "activityDateTime",
    "security/alerts_v2": "createdDateTime",
}

MAX_BODY = 256 * 1024 * 1024
MAX_TOP = 1000
MAX_PAGE_TOKENS = 200000
TICKS = 10 ** 7                 # 100-ns ticks per second
EPOCH_ORD = datetime.date(1970, 1, 1).toordinal()


# ---------------------------------------------------------------- dates

_FILTER_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?Z\Z")
_ITEM_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(Z|[+-]\d{2}:?\d{2})?\Z")


def _ticks(m, tz=None):
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    datetime.datetime(y, mo, d, h, mi, s)          # validates the calendar
    frac = (m.group(7) or "")[:7].ljust(7, "0")
    secs = ((datetime.date(y, mo, d).toordinal() - EPOCH_ORD) * 86400
            + h * 3600 + mi * 60 + s)
    if tz and tz != "Z":
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        secs -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return secs * TICKS + int(frac)


def parse_filter_date(text):
    """Strict $filter literal: unquoted, 0-7 fractional digits, 'Z'.
    Returns 100-ns ticks since the epoch, or None if invalid."""
    m = _FILTER_DATE.match(text)
    if not m:
        return None
    try:
        return _ticks(m)
    except ValueError:
        return None


def parse_item_date(text):
    """Lenient parse of an item's own timestamp (more digits are cut at 7,
    an offset is honoured).  None if absent or unparseable."""
    if not isinstance(text, str):
        return None
    m = _ITEM_DATE.match(text)
    if not m:
        return None
    try:
        return _ticks(m, m.group(8))
    except ValueError:
        return None


def now_ticks():
    return time.time_ns() // 100


# ---------------------------------------------------------------- $filter

class FilterError(Exception):
    pass


_FILTER_TOKEN = re.compile(r"\s*(?:(\()|(\))|([^\s()]+))")
_OPS = {
    "ge": lambda a, b: a >= b, "gt": lambda a, b: a > b,
    "le": lambda a, b: a <= b, "lt": lambda a, b: a < b,
    "eq": lambda a, b: a == b,
}


def _tokenize(text):
    toks, pos = [], 0
    while pos < len(text):
        m = _FILTER_TOKEN.match(text, pos)
        if not m:
            if text[pos:].strip() == "":
                break
            raise FilterError("bad token")
        if m.end() == pos:
            break
        pos = m.end()
        toks.append(m.group(1) or m.group(2) or m.group(3))
    return toks


def parse_filter(text, field):
    """Parse an OData $filter restricted to comparisons of `field` with a
    date, joined by and/or with parentheses.  Returns a tree of tuples:
    ("cmp", op, ticks) | ("and", l, r) | ("or", l, r).  Raises FilterError.
    Returns the list of literal ticks too (for the retention check)."""
    toks = _tokenize(text)
    if not toks:
        raise FilterError("empty")
    pos = [0]
    dates = []

    def peek():
        return toks[pos[0]] if pos[0] < len(toks) else None

    def take():
        if pos[0] >= len(toks):
            raise FilterError("unexpected end")
        pos[0] += 1
        return toks[pos[0] - 1]

    def expr(depth):
        if depth > 64:
            raise FilterError("too deep")
        left = term(depth)
        while (peek() or "").lower() == "or":
            take()
            left = ("or", left, term(depth))
        return left

    def term(depth):
        left = factor(depth)
        while (peek() or "").lower() == "and":
            take()
            left = ("and", left, factor(depth))
        return left

    def factor(depth):
        if peek() == "(":
            take()
            inner = expr(depth + 1)
            if take() != ")":
                raise FilterError("missing )")
            return inner
        name, op, lit = take(), take(), take()
        if name.lower() != field.lower():
            raise FilterError("unknown field")
        if op.lower() not in _OPS:
            raise FilterError("unknown operator")
        ticks = parse_filter_date(lit)
        if ticks is None:
            raise FilterError("bad date")
        dates.append(ticks)
        return ("cmp", op.lower(), ticks)

    tree = expr(0)
    if pos[0] != len(toks):
        raise FilterError("trailing tokens")
    return tree, dates


def eval_filter(tree, ticks):
    kind = tree[0]
    if kind == "cmp":
        return ticks is not None and _OPS[tree[1]](ticks, tree[2])
    if kind == "and":
        return eval_filter(tree[1], ticks) and eval_filter(tree[2], ticks)
    return eval_filter(tree[1], ticks) or eval_filter(tree[2], ticks)


# ---------------------------------------------------------------- state

class Resource:
    def __init__(self, name, time_field):
        self.name = name
        self.time_field = time_field
        self.entries = []       # (sortkey, item dict, item JSON bytes)
        self.dirty = False

    def add(self, items):
        if not all(isinstance(item, dict) for item in items):
            raise ValueError("items must be JSON objects")
        for item in items:
            t = parse_item_date(item.get(self.time_field))
            key = (t is None, -(t or 0), str(item.get("id", "")))
            try:
                raw = json.dumps(item, ensure_ascii=False,
                                 separators=(",", ":")).encode("utf-8")
            except UnicodeEncodeError:
                # Lone surrogates travel escaped (\ud800), as the real
                # service writes them.
                raw = json.dumps(item, separators=(",", ":")).encode()
            self.entries.append((key, item, raw, t))
        self.dirty = True

    def sorted_entries(self):
        if self.dirty:
            self.entries.sort(key=lambda e: e[0])
            self.dirty = False
        return self.entries

    def add_jsonl(self, path):
        """(Bench mode) Appends the items of a JSONL file, one compact
        JSON object per line, kept as the bytes of their line: served
        as they are, never parsed again ($select parses them).  The time
        field is found in the line's bytes; ties sort by the top-level
        "id" when it is the object's first member, else in file order."""
        field = re.compile(b'"' + re.escape(self.time_field.encode())
                           + b'":"([^"]*)"')
        first_id = re.compile(rb'\{"id":"([^"]*)"')
        with open(path, "rb") as f:
            for raw in f:
                raw = raw.rstrip(b"\r\n")
                if not raw.strip():
                    continue
                if not raw.startswith(b"{"):
                    raise ValueError("%s: a line is not a JSON object"
                                     % path)
                m = field.search(raw)
                t = parse_item_date(m.group(1).decode()) if m else None
                m = first_id.match(raw)
                key = (t is None, -(t or 0),
                       m.group(1).decode() if m else "")
                self.entries.append((key, None, raw, t))
        self.dirty = True


LA_ROW_LIMIT = 500000
LA_BYTE_LIMIT = 64000000


class LaTable:
    """A Log Analytics table: columns [(name, type)] and rows (lists of
    cells, kept exactly as given, except that a dynamic cell given as a
    JSON object/array is stored as its JSON text, like the service sends
    it).  ingest is parallel to rows: each row's hidden ingestion time
    (ticks or None), read by KQL ingestion_time() only."""

    def __init__(self, name, columns):
        if not isinstance(columns, list) or not columns:
            raise ValueError("table %s: columns must be a non-empty list"
                             % name)
        cols = []
        for c in columns:
            if (not isinstance(c, dict) or not isinstance(c.get("name"), str)
                    or c.get("type") not in kql.TYPES):
                raise ValueError("table %s: bad column %r (types: %s)"
                                 % (name, c, ", ".join(kql.TYPES)))
            cols.append((c["name"], c["type"]))
        if len({c[0] for c in cols}) != len(cols):
            raise ValueError("table %s: duplicate column names" % name)
        self.name = name
        self.columns = cols
        self.rows = []
        self.ingest = []            # ingestion time of rows[i] (ticks)
        self.json_cache = {}        # id(row) -> serialised row

    def same_columns(self, columns):
        try:
            return [(c["name"], c["type"]) for c in columns] == self.columns
        except (TypeError, KeyError):
            return False

    def column_index(self, name):
        for i, c in enumerate(self.columns):
            if c[0] == name:
                return i
        return None

    def add(self, rows, ingest):
        """Appends rows (all or none).  ingest: their ingestion times, a
        list with one per row (ticks or None), or a function of the row
        (as stored) giving it."""
        if not isinstance(rows, list):
            raise ValueError("rows must be a list")
        if isinstance(ingest, list) and len(ingest) != len(rows):
            raise ValueError("ingestion_times: need one per row (%d)"
                             % len(rows))
        names = [c[0] for c in self.columns]
        dyn = [i for i, c in enumerate(self.columns) if c[1] == "dynamic"]
        out = []
        for row in rows:
            if isinstance(row, dict):
                unknown = set(row) - set(names)
                if unknown:
                    raise ValueError("table %s: unknown columns %s"
                                     % (self.name, sorted(unknown)))
                row = [row.get(n) for n in names]
            if not isinstance(row, list) or len(row) != len(names):
                raise ValueError("table %s: a row must be a list of %d cells"
                                 % (self.name, len(names)))
            for i in dyn:
                if row[i] is not None and not isinstance(row[i], str):
                    row[i] = _jdump(row[i]).decode("utf-8")
            out.append(row)
        if not isinstance(ingest, list):
            ingest = [ingest(row) for row in out]
        self.rows.extend(out)
        self.ingest.extend(ingest)


def ingestion_spec(spec, default):
    """The "ingestion_time" / "ingestion_times" keys of a la-rows call or of
    a table in the config -> what LaTable.add takes; `default` (a function
    of the row) when neither is given.  Raises ValueError."""
    one, many = spec.get("ingestion_time"), spec.get("ingestion_times")
    if one is not None and many is not None:
        raise ValueError("give ingestion_time or ingestion_times, not both")
    if one is not None:
        ticks = kql.parse_datetime(one)
        if ticks is None:
            raise ValueError("ingestion_time: not a datetime: %r" % (one,))
        return lambda row: ticks
    if many is None:
        return default
    if not isinstance(many, list):
        raise ValueError("ingestion_times must be a list")
    out = []
    for value in many:
        ticks = None if value is None else kql.parse_datetime(value)
        if value is not None and ticks is None:
            raise ValueError("ingestion_times: not a datetime: %r"
                             % (value,))
        out.append(ticks)
    return out


class LaJsonlTable(LaTable):
    """(Bench mode) A table loaded from a JSONL file: one row per line, a
    JSON array written compactly as the mock writes rows (no spaces,
    non-ASCII raw, dynamic cells as JSON text).  Its rows stay the bytes
    of their lines, indexed by TimeGenerated (stable: ties keep file
    order; rows without a TimeGenerated are left out of the index), and
    a query of the shape azure-la sends (la_fast_bounds) is answered from
    them by bisection, neither parsing nor serialising a row.  Anything
    else (another query, la-rows, la-clear) parses the rows first (each
    ingested at its TimeGenerated, as the config's tables), and from
    then on the table is an ordinary one."""

    def __init__(self, name, columns, path):
        super().__init__(name, columns)
        tg = self.column_index("TimeGenerated")
        if tg is None:
            raise ValueError("table %s: a jsonl table needs TimeGenerated"
                             % name)
        first = re.compile(rb'\["([^"]*)"[,\]]')
        raw, keyed = [], []
        with open(path, "rb") as f:
            for line in f:
                line = line.rstrip(b"\r\n")
                if not line.strip():
                    continue
                m = first.match(line) if tg == 0 else None
                cell = (m.group(1).decode() if m
                        else json.loads(line)[tg])
                t = kql.cell_ticks(cell) if isinstance(cell, str) else None
                if t is not None:
                    keyed.append((t, len(raw)))
                raw.append(line)
        keyed.sort(key=lambda k: k[0])
        self.raw = raw                          # lines, in file order
        self.order = [k[1] for k in keyed]      # indexes by TimeGenerated
        self.ticks = [k[0] for k in keyed]      # their TimeGenerated

    def _materialise(self):
        if self.raw is None:
            return
        raw, self.raw = self.raw, None
        self.order = self.ticks = None
        tg = self.column_index("TimeGenerated")
        loaded = now_ticks()

        def at_time_generated(row):
            t = kql.cell_ticks(row[tg])
            return loaded if t is None else t
        LaTable.add(self, [json.loads(line) for line in raw],
                    at_time_generated)

    @property
    def rows(self):
        self._materialise()
        return self._rows

    @rows.setter
    def rows(self, value):
        self.raw = self.order = self.ticks = None
        self._rows = value

    @property
    def ingest(self):
        self._materialise()
        return self._ingest

    @ingest.setter
    def ingest(self, value):
        self._ingest = value


_FAST_ORDER = re.compile(r"order\s+by\s+TimeGenerated\s+asc")
_FAST_WHERE = re.compile(r"where\s+(.+)", re.S)
_FAST_CMP = re.compile(
    r"TimeGenerated\s*(>=|>|<=|<)\s*datetime\(\s*([^()\s]+)\s*\)")


def la_fast_bounds(text):
    """(Bench mode) (table, lo, hi) for a query of the shape azure-la
    sends: "T | order by TimeGenerated asc" then one or more "| where"
    whose conditions are TimeGenerated >=, >, <=, < datetime(...) joined
    by "and"; the rows asked for are those with lo <= TimeGenerated < hi
    (ticks; None: unbounded).  None for any other query."""
    if not isinstance(text, str):
        return None
    segs = [seg.strip() for seg in text.split("|")]
    if (len(segs) < 3 or not re.fullmatch(r"\w+", segs[0])
            or not _FAST_ORDER.fullmatch(segs[1])):
        return None
    lo = hi = None
    for seg in segs[2:]:
        m = _FAST_WHERE.fullmatch(seg)
        if m is None:
            return None
        for cond in re.split(r"\s+and\s+", m.group(1).strip()):
            c = _FAST_CMP.fullmatch(cond.strip())
            t = kql.parse_datetime(c.group(2)) if c else None
            if t is None:
                return None
            op = c.group(1)
            if op in (">=", ">"):
                t += op == ">"
                lo = t if lo is None else max(lo, t)
            else:
                t += op == "<="
                hi = t if hi is None else min(hi, t)
    return segs[0], lo, hi


def la_fast_source(ws, text):
    """(Bench mode) What la_fast_rows() needs when text is a query of
    azure-la's shape on a jsonl table not yet parsed, else None.  Called
    with the state's lock held: the lists are the table's, never changed
    in place."""
    bounds = la_fast_bounds(text)
    if bounds is None:
        return None
    t = ws.tables.get(bounds[0])
    if not isinstance(t, LaJsonlTable) or t.raw is None:
        return None
    return t.columns, t.raw, t.order, t.ticks, bounds[1], bounds[2]


def la_fast_rows(fast, span, row_limit, byte_limit):
    """(Bench mode) schema, serialised rows and the limit hit (None,
    "rows" or "bytes") of a query la_fast_source() recognised, the same
    as kql.execute() and the truncation of _handle_la() would give."""
    columns, raw, order, ticks, lo, hi = fast
    if span is not None:
        lo = span[0] if lo is None else max(lo, span[0])
        hi = span[1] if hi is None else min(hi, span[1])
    i = 0 if lo is None else bisect.bisect_left(ticks, lo)
    j = len(ticks) if hi is None else bisect.bisect_left(ticks, hi)
    limit_hit = None
    if row_limit is not None and j - i > row_limit:
        j = i + row_limit
        limit_hit = "rows"
    parts, size = [], 0
    for k in range(i, max(i, j)):
        line = raw[order[k]]
        size += len(line) + (1 if parts else 0)
        if byte_limit is not None and size > byte_limit:
            limit_hit = "bytes"
            break
        parts.append(line)
    return list(columns), parts, limit_hit


class Workspace:
    def __init__(self, wid):
        self.id = wid
        self.tables = {}            # name (case-sensitive) -> LaTable
        self.empty = False
        self.forbidden = False


def _read_secret(spec, base):
    """The credentials of a client: secrets (str) and certificates
    ({"n": int, "e": int, "x5t": str})."""
    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, dict) and "certificate" in spec:
        c = spec["certificate"]
        n = c["n"]
        if isinstance(n, str):
            n = int(n.split("=")[-1].strip(), 16)  # "Modulus=..." or hex
        return [{"n": n, "e": int(c.get("e", 65537)), "x5t": c["x5t"]}]
    if isinstance(spec, dict) and "secret_file" in spec:
        path = spec["secret_file"]
        if not os.path.isabs(path):
            path = os.path.join(base, path)
        with open(path, "r", encoding="utf-8", newline="") as f:
            data = f.read()
        if data.endswith("\r\n"):
            data = data[:-2]
        elif data.endswith("\n"):
            data = data[:-1]
        return [data]
    if isinstance(spec, list):
        out = []
        for s in spec:
            out.extend(_read_secret(s, base))
        return out
    raise ValueError("bad client secret specification")


class State:
    OPTION_KEYS = ("token_ttl", "page_size", "old_tenant_error",
                   "empty_pages", "empty_last_page", "retention_days",
                   "gzip", "throttle", "la_row_limit", "la_byte_limit",
                   "la_partial_failures")

    def __init__(self):
        self.lock = threading.RLock()
        self.port = 0
        self.tenants = {}           # lower name -> {client_id: [secrets]}
        self.tokens = {}            # token -> info dict
        self.resources = {}         # lower name -> Resource
        self.page_tokens = collections.OrderedDict()
        self.failures = []
        self.log = []
        self.throttle_hits = collections.defaultdict(collections.deque)
        self.workspaces = {}        # lower id -> Workspace
        self.jtis = set()           # client assertions already used
        self.assertions = []        # [{header, claims}] accepted
        self.identities = {"system": True, "user": []}
        self.opts = {"token_ttl": 3599, "page_size": 100,
                     "old_tenant_error": False, "empty_pages": False,
                     "empty_last_page": False, "retention_days": None,
                     "gzip": True, "throttle": None,
                     "la_row_limit": LA_ROW_LIMIT,
                     "la_byte_limit": LA_BYTE_LIMIT,
                     "la_partial_failures": 0}
        for name, field in DEFAULT_RESOURCES.items():
            self.resources[name.lower()] = Resource(name, field)

    # -- configuration
    def apply_config(self, cfg, base="."):
        if not isinstance(cfg, dict):
            raise ValueError("config must be a JSON object")
        for key in ("la_row_limit", "la_byte_limit", "la_partial_failures"):
            if cfg.get(key) is not None and (
                    isinstance(cfg[key], bool) or not isinstance(cfg[key], int)
                    or cfg[key] < 0):
                raise ValueError("%s must be a non-negative integer or null"
                                 % key)
        with self.lock:
            for key in self.OPTION_KEYS:
                if key in cfg:
                    self.opts[key] = cfg[key]
            for wid, wcfg in (cfg.get("workspaces") or {}).items():
                self.apply_workspace(wid, wcfg or {}, base)
            for path, field in (cfg.get("time_fields") or {}).items():
                self.resource(path, create=True, time_field=field)
            if "identities" in cfg:
                idc = cfg["identities"] or {}
                self.identities = {"system": bool(idc.get("system", True)),
                                   "user": list(idc.get("user") or [])}
            for tenant, tcfg in (cfg.get("tenants") or {}).items():
                clients = self.tenants.setdefault(tenant.lower(), {})
                for cid, spec in ((tcfg or {}).get("clients") or {}).items():
                    clients[cid] = _read_secret(spec, base)
            for path, items in (cfg.get("events") or {}).items():
                if isinstance(items, dict) and "jsonl" in items:
                    fpath = items["jsonl"]
                    if not os.path.isabs(fpath):
                        fpath = os.path.join(base, fpath)
                    self.resource(path, create=True).add_jsonl(fpath)
                    continue
                if isinstance(items, dict) and "file" in items:
                    fpath = items["file"]
                    if not os.path.isabs(fpath):
                        fpath = os.path.join(base, fpath)
                    with open(fpath, "r", encoding="utf-8") as f:
                        items = json.load(f)
                self.resource(path, create=True).add(items)

    def apply_workspace(self, wid, wcfg, base):
        if not isinstance(wcfg, dict):
            raise ValueError("workspace %s: not an object" % wid)
        ws = self.workspace(wid, create=True)
        for flag in ("empty", "forbidden"):
            if flag in wcfg:
                setattr(ws, flag, bool(wcfg[flag]))
        for tname, spec in (wcfg.get("tables") or {}).items():
            if isinstance(spec, dict) and "jsonl" in spec:
                fpath = spec["jsonl"]
                if not os.path.isabs(fpath):
                    fpath = os.path.join(base, fpath)
                ws.tables[tname] = LaJsonlTable(tname, spec.get("columns"),
                                                fpath)
                continue
            if isinstance(spec, dict) and "file" in spec:
                fpath = spec["file"]
                if not os.path.isabs(fpath):
                    fpath = os.path.join(base, fpath)
                with open(fpath, "r", encoding="utf-8") as f:
                    loaded = json.load(f)
                spec = dict(loaded, **{k: v for k, v in spec.items()
                                       if k != "file"})
            if not isinstance(spec, dict) or "columns" not in spec:
                raise ValueError("table %s: needs columns" % tname)
            table = LaTable(tname, spec["columns"])
            # Rows loaded from the config were ingested at their
            # TimeGenerated, or now if they have none.
            loaded = now_ticks()
            tg = table.column_index("TimeGenerated")

            def at_time_generated(row, tg=tg, loaded=loaded):
                t = kql.cell_ticks(row[tg]) if tg is not None else None
                return loaded if t is None else t
            table.add(spec.get("rows") or [],
                      ingestion_spec(spec, at_time_generated))
            ws.tables[tname] = table

    def workspace(self, wid, create=False):
        ws = self.workspaces.get(wid.lower())
        if ws is None and create:
            ws = self.workspaces[wid.lower()] = Workspace(wid)
        return ws

    def resource(self, path, create=False, time_field=None):
        path = path.strip("/")
        res = self.resources.get(path.lower())
        if res is None and create:
            if time_field is None:
                time_field = ("createdDateTime" if "signins" in path.lower()
                              else "activityDateTime")
            res = self.resources[path.lower()] = Resource(path, time_field)
        elif res is not None and time_field:
            res.time_field = time_field
        return res

    # -- tokens
    def issue_token(self, tenant, client_id, scope):
        token = ("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9."
                 + secrets.token_urlsafe(900) + "."
                 + secrets.token_urlsafe(256))
        ttl = int(self.opts["token_ttl"])
        with self.lock:
            self.tokens[token] = {"tenant": tenant, "client_id": client_id,
                                  "scope": scope, "revoked": False,
                                  "expires": time.monotonic() + ttl}
        return token, ttl

    def check_token(self, token, scope=GRAPH_SCOPE):
        """Returns (info, None) or (None, message)."""
        with self.lock:
            info = self.tokens.get(token)
            if info is None:
                return None, "Invalid JWT token. Token format not valid."
            if info["revoked"] or time.monotonic() >= info["expires"]:
                return None, "Access token has expired or is not yet valid."
            if info["scope"] != scope:
                return None, ("Access token validation failure. "
                              "Invalid audience.")
            return info, None

    def expire_tokens(self):
        with self.lock:
            for info in self.tokens.values():
                info["revoked"] = True
            return len(self.tokens)

    # -- failures
    def take_failure(self, target):
        with self.lock:
            for rule in self.failures:
                if rule["match"] in target:
                    if rule["skip"] > 0:    # let this one through
                        rule["skip"] -= 1
                        return None
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        self.failures.remove(rule)
                    return dict(rule)
        return None

    # -- paging
    def new_page_token(self, snap, offset, phase):
        key = (offset, phase)
        with self.lock:
            tok = snap["tokens"].get(key)
            if tok is not None and tok in self.page_tokens:
                return tok
            tok = secrets.token_hex(40)
            snap["tokens"][key] = tok
            self.page_tokens[tok] = (snap, offset, phase)
            while len(self.page_tokens) > MAX_PAGE_TOKENS:
                self.page_tokens.popitem(last=False)
            return tok

    # -- throttling
    def throttled(self, client_id):
        spec = self.opts.get("throttle")
        if not spec:
            return None
        limit, window = int(spec.get("limit", 5)), float(spec.get("window", 10))
        now = time.monotonic()
        with self.lock:
            hits = self.throttle_hits[client_id]
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return max(1, math.ceil(hits[0] + window - now))
            hits.append(now)
        return None

    def record(self, entry):
        with self.lock:
            self.log.append(entry)


STATE = State()
VERBOSE = False


def vlog(msg):
    if VERBOSE:
        sys.stderr.write("azure_mock: %s\n" % msg)
        sys.stderr.flush()


# ---------------------------------------------------------------- responses

class Response:
    def __init__(self, status, body=b"", ctype=JSON_CT, headers=None):
        self.status = status
        if not isinstance(body, bytes):
            body = json.dumps(body, ensure_ascii=False,
                              separators=(",", ":")).encode("utf-8")
        self.body = body
        self.headers = [("Content-Type", ctype)] if ctype else []
        self.headers += headers or []
        self.truncate = False
        self.drop = False
        self.log = {}               # extra request-log fields


def _jdump(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def aad_error(status, error, code, description):
    """Identity platform error envelope."""
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    ts = datetime.datetime.now(datetime.timezone.utc)
    desc = ("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\n"
            "Timestamp: %s" % (code, description, trace, corr,
                               ts.strftime("%Y-%m-%d %H:%M:%S.")
                               + "%03dZ" % (ts.microsecond // 1000)))
    body = {"error": error, "error_description": desc,
            "error_codes": [code],
            "timestamp": ts.strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": trace, "correlation_id": corr,
            "error_uri": "http://127.0.0.1:%d/error?code=%d"
                         % (STATE.port, code)}
    return Response(status, body, headers=[
        ("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache"),
        ("x-ms-request-id", trace)])


def graph_error(status, code, message, client_req_id=None, headers=None):
    rid = str(uuid.uuid4())
    crid = client_req_id or rid
    date = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S")
    body = {"error": {"code": code, "message": message,
                      "innerError": {"date": date, "request-id": rid,
                                     "client-request-id": crid}}}
    hdrs = [("request-id", rid), ("client-request-id", crid)]
    if status == 401:
        hdrs.append(("WWW-Authenticate",
                     'Bearer realm="", authorization_uri="https://login.'
                     'microsoftonline.com/common/oauth2/authorize", '
                     'client_id="00000003-0000-0000-c000-000000000000"'))
    return Response(status, body, headers=hdrs + (headers or []))


GRAPH_ERRORS = {
    400: ("BadRequest", "Invalid request"),
    401: ("InvalidAuthenticationToken", "Access token validation failure."),
    403: ("Authentication_RequestFromNonPremiumTenantOrB2CTenant",
          "Neither tenant is B2C or tenant doesn't have premium license"),
    404: ("Request_ResourceNotFound", "Resource not found"),
    429: ("TooManyRequests", "Too many requests"),
    500: ("InternalServerError", "Internal server error"),
    502: ("BadGateway", "Bad gateway"),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The gateway timed out."),
}

AAD_ERRORS = {
    400: ("invalid_request", 9002313, "Invalid request."),
    401: ("invalid_client", 7000215, "Invalid client secret provided."),
    429: ("temporarily_unavailable", 90033,
          "A transient error has occurred. Please try again."),
    500: ("server_error", 90033, "A transient error has occurred."),
    503: ("temporarily_unavailable", 90033,
          "A transient error has occurred. Please try again."),
    504: ("temporarily_unavailable", 90033,
          "A transient error has occurred. Please try again."),
}


# ---------------------------------------------------------------- token

def _form_decode(body):
    """Strict application/x-www-form-urlencoded decoding.  Returns a dict,
    or raises ValueError on duplicate keys or undecodable bytes."""
    text = body.decode("ascii")          # a properly encoded body is ASCII
    out = {}
    for part in text.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        k = unquote_plus(k, errors="strict")
        v = unquote_plus(v, errors="strict")
        if k in out:
            raise ValueError("duplicate parameter")
        out[k] = v
    return out


def handle_token(method, tenant, headers, body):
    if method != "POST":
        return aad_error(400, "invalid_request", 900561,
                         "The endpoint only accepts POST, OPTIONS requests. "
                         "Received a %s request." % method)
    with STATE.lock:
        clients = STATE.tenants.get(tenant.lower())
        old = bool(STATE.opts["old_tenant_error"])
    if clients is None:
        return aad_error(400, "invalid_request" if old else "invalid_tenant",
                         90002,
                         "Tenant '%s' not found. Check to make sure you have "
                         "the correct tenant ID and are signing into the "
                         "correct cloud." % tenant)
    ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    form = {}
    if ctype == "application/x-www-form-urlencoded":
        try:
            form = _form_decode(body)
        except (ValueError, UnicodeDecodeError):
            return aad_error(400, "invalid_request", 9002313,
                             "Invalid request. Request is malformed or "
                             "invalid.")
    for name in ("grant_type", "client_id"):
        if not form.get(name):
            return aad_error(400, "invalid_request", 900144,
                             "The request body must contain the following "
                             "parameter: '%s'." % name)
    if form["grant_type"] != "client_credentials":
        return aad_error(400, "unsupported_grant_type", 70003,
                         "The app requested an unsupported grant type '%s'."
                         % form["grant_type"])
    cid = form["client_id"]
    if cid not in clients:
        return aad_error(400, "unauthorized_client", 700016,
                         "Application with identifier '%s' was not found in "
                         "the directory '%s'. This can happen if the "
                         "application has not been installed by the "
                         "administrator of the tenant or consented to by any "
                         "user in the tenant. You may have sent your "
                         "authentication request to the wrong tenant."
                         % (cid, tenant))
    scope = form.get("scope")
    if not scope:
        return aad_error(400, "invalid_request", 900144,
                         "The request body must contain the following "
                         "parameter: 'scope'.")
    if scope not in SCOPES and scope not in IMDS_RESOURCES.values():
        return aad_error(400, "invalid_scope", 70011,
                         "The provided request must include a 'scope' input "
                         "parameter. The provided value for the input "
                         "parameter 'scope' is not valid. The scope %s is not "
                         "valid." % scope)
    secret = form.get("client_secret")
    if secret is None and "client_assertion" in form:
        if form.get("client_assertion_type") != JWT_BEARER:
            return aad_error(400, "invalid_request", 700023,
                             "Client assertion type is invalid or missing.")
        urls = ["http://%s%s" % (headers.get("Host"), path)
                for path in ("/%s/oauth2/v2.0/token" % tenant,)]
        urls.append("http://127.0.0.1:%d/%s/oauth2/v2.0/token"
                    % (STATE.port, tenant))
        err = check_assertion(form["client_assertion"], cid,
                              [c for c in clients[cid] if isinstance(c, dict)],
                              urls)
        if err is not None:
            return err
        token, ttl = STATE.issue_token(tenant, cid, scope)
        return Response(200, {"token_type": "Bearer", "expires_in": ttl,
                              "ext_expires_in": ttl, "access_token": token},
                        headers=[("Cache-Control", "no-store, no-cache"),
                                 ("Pragma", "no-cache")])
    if secret is None:
        return aad_error(401, "invalid_client", 7000218,
                         "The request body must contain the following "
                         "parameter: 'client_assertion' or 'client_secret'.")
    if not any(isinstance(s, str) and
               secrets.compare_digest(secret.encode(), s.encode())
               for s in clients[cid]):
        return aad_error(401, "invalid_client", 7000215,
                         "Invalid client secret provided. Ensure the secret "
                         "being sent in the request is the client secret "
                         "value, not the client secret ID, for a secret added "
                         "to app '%s'." % cid)
    token, ttl = STATE.issue_token(tenant, cid, scope)
    return Response(200, {"token_type": "Bearer", "expires_in": ttl,
                          "ext_expires_in": ttl, "access_token": token},
                    headers=[("Cache-Control", "no-store, no-cache"),
                             ("Pragma", "no-cache")])


def _b64url_decode(text):
    import base64
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rs256_verify(n, e, signing_input, sig):
    """PKCS#1 v1.5 RSA signature with SHA-256 (RFC 8017 8.2.2)."""
    import hashlib
    k = (n.bit_length() + 7) // 8
    if len(sig) != k:
        return False
    m = pow(int.from_bytes(sig, "big"), e, n)
    t = SHA256_DIGEST_INFO + hashlib.sha256(signing_input).digest()
    em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return m.to_bytes(k, "big") == em


def check_assertion(jwt, cid, certs, urls):
    """None if the client assertion is good, else Azure's error answer."""
    def bad(code, text):
        return aad_error(401, "invalid_client", code, text)
    try:
        h64, c64, s64 = jwt.split(".")
        header = json.loads(_b64url_decode(h64))
        claims = json.loads(_b64url_decode(c64))
        sig = _b64url_decode(s64)
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise ValueError("not objects")
    except (ValueError, UnicodeDecodeError):
        return aad_error(400, "invalid_request", 50027,
                         "JWT token is invalid or malformed.")
    if header.get("alg") != "RS256":
        return bad(5002738, "Invalid JWT token. '%s' is not a supported "
                   "signature algorithm." % header.get("alg"))
    cert = next((c for c in certs if c["x5t"] == header.get("x5t")), None)
    if cert is None:
        return bad(700027, "Client assertion failed signature validation. "
                   "[Reason - The key was not found., Thumbprint of key "
                   "used by client: '%s']" % header.get("x5t"))
    if not rs256_verify(cert["n"], cert["e"], (h64 + "." + c64).encode(),
                        sig):
        return bad(700027, "Client assertion failed signature validation.")
    if claims.get("iss") != cid or claims.get("sub") != cid:
        return bad(700021, "Client assertion application identifier "
                   "doesn't match 'client_id' parameter.")
    if claims.get("aud") not in urls:
        return bad(700027, "Client assertion contains an invalid audience "
                   "claim: '%s'." % claims.get("aud"))
    now = time.time()
    nbf, exp = claims.get("nbf"), claims.get("exp")
    if not isinstance(nbf, int) or not isinstance(exp, int) \
            or exp <= now or nbf > now + 300:
        return bad(700024, "Client assertion is not within its valid time "
                   "range.")
    if exp - nbf > 600:
        return bad(700024, "Client assertion is not within its valid time "
                   "range: its lifetime exceeds 10 minutes.")
    jti = claims.get("jti")
    with STATE.lock:
        if not isinstance(jti, str) or not jti:
            return bad(700027, "Client assertion contains no jti claim.")
        if jti in STATE.jtis:
            return bad(700027, "Client assertion was already used (jti "
                       "'%s' replayed)." % jti)
        STATE.jtis.add(jti)
        STATE.assertions.append({"header": header, "claims": claims})
    return None


# ---------------------------------------------------------------- IMDS

def imds_error(status, error, description):
    return Response(status, {"error": error,
                             "error_description": description})


def handle_imds(method, rawquery, headers):
    """The instance metadata service's token endpoint (api-version
    2018-02-01): a token for a managed identity of the "VM"."""
    if method != "GET":
        return imds_error(405, "invalid_request",
                          "Method not allowed: use GET")
    if headers.get("X-Forwarded-For") is not None:
        return imds_error(400, "invalid_request",
                          "Request with X-Forwarded-For header is not "
                          "allowed")
    if headers.get("Metadata") != "true":
        return imds_error(400, "invalid_request",
                          "Required metadata header not specified")
    q = {}
    for part in rawquery.split("&"):
        k, _, v = part.partition("=")
        if k:
            q[unquote_plus(k)] = unquote_plus(v)
    for name in ("api-version", "resource"):
        if not q.get(name):
            return imds_error(400, "invalid_request",
                              "Required query variable '%s' is missing"
                              % name)
    scope = IMDS_RESOURCES.get(q["resource"])
    if scope is None:
        return imds_error(400, "invalid_resource",
                          "AADSTS500011: The resource principal named %s "
                          "was not found in the tenant." % q["resource"])
    cid = q.get("client_id")
    with STATE.lock:
        ids = STATE.identities
        known = cid in ids["user"] if cid else ids["system"]
    if not known:
        return imds_error(400, "invalid_request", "Identity not found")
    token, ttl = STATE.issue_token("imds", cid or "system", scope)
    now = int(time.time())
    return Response(200, {"access_token": token,
                          "client_id": cid or "system-assigned",
                          "expires_in": str(ttl),
                          "expires_on": str(now + ttl),
                          "ext_expires_in": str(ttl),
                          "not_before": str(now),
                          "resource": q["resource"],
                          "token_type": "Bearer"})


# ---------------------------------------------------------------- graph

SUPPORTED_OPTIONS = ("$filter", "$top", "$skiptoken", "$select")


def _parse_query(raw):
    """Query string the way a server does: '+' is a space, %XX decoded,
    empty parameters ignored.  Returns (dict of $options lower-cased, error
    message or None)."""
    opts = {}
    for part in raw.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        k, v = unquote_plus(k), unquote_plus(v)
        kl = k.lower()
        if not kl.startswith("$"):
            continue
        if kl not in SUPPORTED_OPTIONS:
            return None, "Query option '%s' is not supported." % k
        if kl in opts:
            return None, ("Query option '%s' was specified more than once, "
                          "but it must be specified at most once." % k)
        opts[kl] = v
    return opts, None


def handle_graph(method, rawpath, rawquery, headers):
    crid = headers.get("client-request-id")
    if method not in ("GET", "HEAD"):
        return graph_error(405, "Request_BadRequest",
                           "Specified HTTP method is not allowed for the "
                           "request target.", crid)
    auth = headers.get("Authorization") or ""
    scheme, _, token = auth.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return graph_error(401, "InvalidAuthenticationToken",
                           "Access token is empty.", crid)
    info, msg = STATE.check_token(token.strip())
    if info is None:
        return graph_error(401, "InvalidAuthenticationToken", msg, crid)

    sub = unquote(rawpath[len("/v1.0/"):])
    if sub.endswith("/"):
        sub = sub[:-1]
    res = STATE.resource(sub)
    if res is None:
        seg = sub.split("/")[-1] if sub else "v1.0"
        return graph_error(400, "BadRequest",
                           "Resource not found for the segment '%s'." % seg,
                           crid)
    retry = STATE.throttled(info["client_id"])
    if retry is not None:
        return graph_error(429, "TooManyRequests", "Too many requests", crid,
                           [("Retry-After", str(retry))])

    opts, err = _parse_query(rawquery)
    if err:
        return graph_error(400, "BadRequest", err, crid)
    tree = None
    if "$filter" in opts:
        try:
            tree, dates = parse_filter(opts["$filter"], res.time_field)
        except FilterError:
            return graph_error(400, "BadRequest", "Invalid filter clause",
                               crid)
        days = STATE.opts.get("retention_days")
        if days is not None and any(
                d < now_ticks() - int(days * 86400 * TICKS) for d in dates):
            return graph_error(400, "BadRequest", "Invalid filter clause",
                               crid)
    top = STATE.opts["page_size"]
    if "$top" in opts:
        try:
            top = int(opts["$top"], 10)
            if not 1 <= top <= MAX_TOP:
                raise ValueError
        except ValueError:
            return graph_error(400, "BadRequest",
                               "Invalid page size specified: '%s'. Must be "
                               "between 1 and %d inclusive."
                               % (opts["$top"], MAX_TOP), crid)
    select = None
    if "$select" in opts:
        select = [s.strip() for s in opts["$select"].split(",") if s.strip()]
        if not select:
            return graph_error(400, "BadRequest",
                               "Invalid $select clause", crid)

    if "$skiptoken" in opts:
        with STATE.lock:
            found = STATE.page_tokens.get(opts["$skiptoken"])
        if found is None or found[0]["resource"] is not res:
            return graph_error(400, "BadRequest",
                               "The provided skiptoken is invalid or "
                               "expired.", crid)
        snap, offset, phase = found
    else:
        with STATE.lock:
            entries = [e for e in res.sorted_entries()
                       if tree is None or eval_filter(tree, e[3])]
        snap = {"resource": res, "entries": entries, "tokens": {},
                "filter": opts.get("$filter"), "select": select}
        offset, phase = 0, "full"
    return _graph_page(res, snap, offset, phase, top, select, crid)


def _graph_page(res, snap, offset, phase, top, select, crid):
    entries = snap["entries"]
    with STATE.lock:
        empty_pages = bool(STATE.opts["empty_pages"])
        empty_last = bool(STATE.opts["empty_last_page"])
    nxt = None
    if phase == "full":
        page = entries[offset:offset + top]
        end = offset + len(page)
        if end < len(entries):
            nxt = (end, "empty_mid" if empty_pages else "full")
        elif empty_last and page:
            nxt = (end, "empty_end")
    else:
        page = []
        if phase == "empty_mid":
            nxt = (offset, "full")

    port = STATE.port
    ctx = "http://127.0.0.1:%d/v1.0/$metadata#%s" % (port, res.name)
    if select:
        ctx += "(%s)" % ",".join(select)
    parts = [b'{"@odata.context":', _jdump(ctx)]
    if nxt is not None:
        tok = STATE.new_page_token(snap, nxt[0], nxt[1])
        q = []
        if snap["filter"] is not None:
            q.append("$filter=" + quote(snap["filter"], safe=""))
        if select:
            q.append("$select=" + quote(",".join(select), safe=""))
        q.append("$top=%d" % top)
        q.append("$skiptoken=" + tok)
        link = "http://127.0.0.1:%d/v1.0/%s?%s" % (port, res.name.lower(),
                                                   "&".join(q))
        parts += [b',"@odata.nextLink":', _jdump(link)]
    if select:
        items = []
        for e in page:
            item = e[1] if e[1] is not None else json.loads(e[2])
            items.append(_jdump({k: item[k] for k in select if k in item}))
    else:
        items = [e[2] for e in page]
    parts += [b',"value":[', b",".join(items), b"]}"]
    rid = str(uuid.uuid4())
    return Response(200, b"".join(parts), GRAPH_CT, [
        ("request-id", rid), ("client-request-id", crid or rid),
        ("OData-Version", "4.0"), ("Cache-Control", "no-cache"),
        ("Vary", "Accept-Encoding")])


# ---------------------------------------------------------- log analytics

_LA_PATH = re.compile(r"^/v1/workspaces/([^/]+)/query/?$", re.I)

LA_ERRORS = {
    400: ("BadArgumentError", "The request had some invalid properties"),
    401: ("AuthenticationFailed", "Authentication failed."),
    403: ("InsufficientAccessError",
          "The provided credentials have insufficient access to perform the "
          "requested operation"),
    404: ("PathNotFoundError", "The requested path does not exist"),
    405: ("MethodNotAllowed", "The requested method is not allowed"),
    429: ("ThrottledError",
          "Your request was throttled. Please retry after some time."),
    500: ("InternalServerError", "An internal server error occurred"),
    502: ("BadGateway", "Bad gateway"),
    503: ("ServiceUnavailableError",
          "The service is temporarily unavailable"),
    504: ("GatewayTimeout",
          "The gateway did not receive a response in time"),
}

PARTIAL_MESSAGE = "There were some errors when processing your query."
LIMIT_MESSAGES = {
    "rows": "Query result set has exceeded the internal record count limit "
            "500000 (E_QUERY_RESULT_SET_TOO_LARGE; see "
            "https://aka.ms/kustoquerylimits)",
    "bytes": "Query result set has exceeded the internal data size limit "
             "64000000 (E_QUERY_RESULT_SET_TOO_LARGE; see "
             "https://aka.ms/kustoquerylimits)",
    "shard": "Partial query failure: Low memory condition "
             "(E_LOW_MEMORY_CONDITION). (message: 'bad allocation', "
             "details: '')",
}


def la_error(status, code=None, message=None, inner=None, headers=None):
    """Log Analytics error envelope."""
    dcode, dmsg = LA_ERRORS.get(status, ("UnknownError", "Unknown error"))
    code, message = code or dcode, message or dmsg
    corr = str(uuid.uuid4())
    if inner is None:
        inner = {"code": code, "message": message}
    body = {"error": {"message": message, "code": code,
                      "correlationId": corr, "innererror": inner}}
    hdrs = [("x-ms-correlation-request-id", corr)]
    if status == 401:
        hdrs.append(("WWW-Authenticate",
                     'Bearer authorization_uri="https://login.microsoftonline'
                     '.com/common/oauth2/authorize", error="invalid_token", '
                     'error_description="%s"' % inner["message"]))
    return Response(status, body, headers=hdrs + (headers or []))


def _ci_get(mapping, key):
    for k, v in mapping.items():
        if isinstance(k, str) and k.lower() == key:
            return v
    return None


def la_request_fields(method, rawquery, headers, body):
    """What the request asks for, without validation: {query_text,
    timespan, prefer, json_ok}.  json_ok is False for a POST whose body is
    not a JSON object."""
    out = {"query_text": None, "timespan": None,
           "prefer": headers.get("Prefer"), "json_ok": True}
    if method == "POST":
        ctype = (headers.get("Content-Type") or "").split(";")[0]
        data = None
        if ctype.strip().lower() == "application/json":
            try:
                data = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                data = None
        if not isinstance(data, dict):
            out["json_ok"] = False
            return out
        out["query_text"] = _ci_get(data, "query")
        out["timespan"] = _ci_get(data, "timespan")
    else:
        for part in rawquery.split("&"):
            k, _, v = part.partition("=")
            k = unquote_plus(k).lower()
            if k in ("query", "timespan") and out[
                    "query_text" if k == "query" else "timespan"] is None:
                out["query_text" if k == "query" else "timespan"] = \
                    unquote_plus(v)
    return out


def handle_la(method, wid, rawquery, headers, body):
    req = la_request_fields(method, rawquery, headers, body)
    resp = _handle_la(method, wid, req, headers)
    log = {"workspace": wid, "query_text": req["query_text"],
           "timespan": req["timespan"], "prefer": req["prefer"],
           "rows": 0, "truncated": False}
    log.update(resp.log)
    resp.log = log
    return resp


def _la_inner_error(exc):
    if exc.kind == "SyntaxError":
        return {"code": "SyntaxError", "message": exc.message,
                "innererror": {"code": "SYN0002", "message": exc.message,
                               "line": exc.line, "pos": exc.col,
                               "token": exc.token}}
    inner = {"code": "SemanticError", "message": exc.message}
    if exc.pos is not None:
        inner["innererror"] = {"code": "SEM0100", "message": exc.message,
                               "line": exc.line, "pos": exc.col}
    return inner


def _handle_la(method, wid, req, headers):
    if method not in ("GET", "POST"):
        return la_error(405)
    auth = headers.get("Authorization") or ""
    scheme, _, token = auth.strip().partition(" ")
    if not auth.strip():
        return la_error(401, inner={
            "code": "AuthorizationRequired",
            "message": "The 'Authorization' header is missing."})
    if scheme.lower() != "bearer" or not token.strip():
        return la_error(401, inner={
            "code": "InvalidAuthorizationHeader",
            "message": "The 'Authorization' header is provided in an "
                       "invalid format."})
    info, msg = STATE.check_token(token.strip(), LA_SCOPE)
    if info is None:
        return la_error(401, inner={"code": "InvalidToken", "message": msg})
    if not req["json_ok"]:
        # The service answers a POST without a JSON body with an empty 200.
        r = Response(200, b"", None)
        return r
    with STATE.lock:
        ws = STATE.workspace(wid)
        if ws is not None:
            forbidden, empty = ws.forbidden, ws.empty
            fast = la_fast_source(ws, req["query_text"])
            tables = {} if fast is not None else {
                name: (t.columns, list(t.rows), t.json_cache,
                       list(t.ingest))
                for name, t in ws.tables.items()}
        row_limit = STATE.opts.get("la_row_limit")
        byte_limit = STATE.opts.get("la_byte_limit")
        shard_failure = bool(STATE.opts.get("la_partial_failures"))
        if shard_failure:
            STATE.opts["la_partial_failures"] -= 1
    if ws is None:
        return la_error(404, message="The requested path does not exist",
                        inner={"code": "WorkspaceNotFoundError",
                               "message": "Workspace '%s' could not be found"
                                          % wid})
    if forbidden:
        return la_error(403)
    text = req["query_text"]
    if not isinstance(text, str) or not text.strip():
        return la_error(400, inner={
            "code": "QueryValidationError",
            "message": "The 'query' parameter is missing or empty."})
    now = now_ticks()
    span = None
    if req["timespan"] is not None:
        try:
            span = kql.parse_timespan_param(req["timespan"], now)
        except (ValueError, TypeError):
            return la_error(400, inner={
                "code": "InvalidTimespan",
                "message": "Failed parsing the query timespan '%s'."
                           % req["timespan"]})
    try:
        query = kql.parse(text, now)
        if empty:
            return Response(204, b"", None)
        if fast is not None:
            schema, parts, limit_hit = la_fast_rows(fast, span, row_limit,
                                                    byte_limit)
            return la_result(schema, parts, limit_hit)

        def get_table(name):
            t = tables.get(name)
            return None if t is None else (t[0], t[1], t[3])
        schema, rows = kql.execute(query, get_table, span)
    except kql.KqlError as exc:
        return la_error(400, message="The request had some invalid "
                        "properties", inner=_la_inner_error(exc))

    # Truncation, on the result in its final order.
    limit_hit = None
    if shard_failure:
        rows = rows[len(rows) // 2:]
        limit_hit = "shard"
    if row_limit is not None and len(rows) > row_limit:
        rows = rows[:row_limit]
        limit_hit = "rows"
    # Stored rows returned unchanged reuse their cached serialisation
    # (keyed by id(): the cache is replaced whenever rows are dropped).
    src = tables.get(query.source[0])
    cache = src[2] if src is not None else {}
    parts, size = [], 0
    for r in rows:
        raw = cache.get(id(r))
        if raw is None:
            raw = _jdump(r)
        size += len(raw) + (1 if parts else 0)
        if byte_limit is not None and size > byte_limit:
            limit_hit = "bytes"
            break
        parts.append(raw)
    if src is not None and parts and len(cache) < 2000000:
        stored = {id(r) for r in src[1]}
        for r, raw in zip(rows, parts):
            if id(r) in stored:
                cache[id(r)] = raw
    return la_result(schema, parts, limit_hit)


def la_result(schema, parts, limit_hit):
    """The 200 of a query: its columns, its serialised rows, and the
    PartialError of the limit hit (None, "rows" or "bytes"), or of a
    failed shard ("shard")."""
    cols = _jdump([{"name": n, "type": t} for n, t in schema])
    body = [b'{"tables":[{"name":"PrimaryResult","columns":', cols,
            b',"rows":[', b",".join(parts), b"]}]"]
    if limit_hit:
        body += [b',"error":', _jdump({
            "code": "PartialError", "message": PARTIAL_MESSAGE,
            "details": [{
                "code": "EngineError",
                "message": "Something went wrong processing your query on "
                           "the server.",
                "innererror": {"code": "-2133196797",
                               "message": LIMIT_MESSAGES[limit_hit],
                               "severity": 2, "severityName": "Error"}}]})]
    body.append(b"}")
    resp = Response(200, b"".join(body), JSON_CT, [
        ("x-ms-correlation-request-id", str(uuid.uuid4())),
        ("Vary", "Accept-Encoding")])
    resp.log = {"rows": len(parts), "truncated": bool(limit_hit)}
    return resp


# ---------------------------------------------------------------- control

def handle_control(method, path, body):
    try:
        data = json.loads(body.decode("utf-8")) if body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        return Response(400, {"error": "body is not JSON"})
    if not isinstance(data, dict):
        data = {}
    name = path[len("/_mock/"):]
    if method == "GET" and name == "requests":
        with STATE.lock:
            return Response(200, list(STATE.log))
    if method == "GET" and name == "tokens":
        now = time.monotonic()
        with STATE.lock:
            return Response(200, [
                {"tenant": t["tenant"], "client_id": t["client_id"],
                 "scope": t["scope"],
                 "expired": t["revoked"] or now >= t["expires"]}
                for t in STATE.tokens.values()])
    if method == "GET" and name == "assertions":
        with STATE.lock:
            return Response(200, list(STATE.assertions))
    if method == "GET" and name == "health":
        return Response(200, {"ok": True})
    # Actions are meant for POST; GET is tolerated (harnesses often send a
    # body-less request as GET).
    if method not in ("POST", "GET", "PUT"):
        return Response(405, {"error": "method not allowed"})
    try:
        if name == "events":
            items = data.get("items") or []
            if not isinstance(items, list) or not data.get("path"):
                raise ValueError("need path and a list of items")
            with STATE.lock:
                res = STATE.resource(data["path"], create=True,
                                     time_field=data.get("time_field"))
                res.add(items)
                return Response(200, {"ok": True, "path": res.name,
                                      "count": len(res.entries)})
        if name == "la-rows":
            wid, tname = data.get("workspace"), data.get("table")
            rows = data.get("rows") or []
            if not isinstance(wid, str) or not wid or not isinstance(
                    tname, str) or not tname or not isinstance(rows, list):
                raise ValueError("need workspace, table and a list of rows")
            now = now_ticks()
            ingest = ingestion_spec(data, lambda row: now)
            with STATE.lock:
                ws = STATE.workspace(wid, create=True)
                table = ws.tables.get(tname)
                cols = data.get("columns")
                if table is None:
                    if cols is None:
                        raise ValueError("table %s is new: columns needed"
                                         % tname)
                    table = LaTable(tname, cols)
                elif cols is not None and not table.same_columns(cols):
                    raise ValueError("table %s exists with other columns"
                                     % tname)
                table.add(rows, ingest)
                ws.tables[tname] = table
                return Response(200, {"ok": True, "workspace": ws.id,
                                      "table": tname,
                                      "count": len(table.rows)})
        if name == "la-clear":
            wid, tname = data.get("workspace"), data.get("table")
            drop = bool(data.get("drop"))
            with STATE.lock:
                for ws in list(STATE.workspaces.values()):
                    if wid and ws.id.lower() != str(wid).lower():
                        continue
                    for tn in list(ws.tables):
                        if tname and tn != tname:
                            continue
                        if drop:
                            del ws.tables[tn]
                        else:
                            # A new list and cache: queries running on the
                            # old snapshot keep theirs.
                            ws.tables[tn].rows = []
                            ws.tables[tn].ingest = []
                            ws.tables[tn].json_cache = {}
            return Response(200, {"ok": True})
        if name == "clear-events":
            with STATE.lock:
                for res in STATE.resources.values():
                    if (not data.get("path")
                            or res.name.lower()
                            == data["path"].strip("/").lower()):
                        res.entries = []
            return Response(200, {"ok": True})
        if name == "fail":
            rule = {"match": str(data.get("match", "")),
                    "status": int(data.get("status") or 200),
                    "retry_after": data.get("retry_after"),
                    "retry_after_http_date": data.get("retry_after_http_date"),
                    "count": int(data.get("count", 1)),
                    "skip": int(data.get("skip", 0)),
                    "body": data.get("body"),
                    "truncate": bool(data.get("truncate")),
                    "garbage": bool(data.get("garbage")),
                    "drop": bool(data.get("drop")),
                    "pass": bool(data.get("pass")),
                    "delay": float(data.get("delay") or 0)}
            if rule["count"] < 1:
                raise ValueError("count must be >= 1")
            with STATE.lock:
                STATE.failures.append(rule)
                return Response(200, {"ok": True,
                                      "queued": len(STATE.failures)})
        if name == "clear-fail":
            with STATE.lock:
                STATE.failures.clear()
            return Response(200, {"ok": True})
        if name == "reset-log":
            with STATE.lock:
                STATE.log.clear()
            return Response(200, {"ok": True})
        if name == "expire-tokens":
            return Response(200, {"ok": True,
                                  "expired": STATE.expire_tokens()})
        if name == "config":
            STATE.apply_config(data)
            return Response(200, {"ok": True})
    except (ValueError, TypeError, KeyError, OSError) as exc:
        return Response(400, {"error": str(exc)})
    return Response(404, {"error": "unknown control endpoint"})


# ---------------------------------------------------------------- failures

def injected_response(rule, target, normal):
    """Builds the response for a queued failure.  `normal` is a callable
    producing the response the request would have had (used by
    truncate)."""
    is_token = "/oauth2/" in target
    is_la = target.startswith("/v1/")
    if rule["pass"]:            # the normal answer, after "delay"
        return normal()
    if rule["drop"]:
        r = Response(0)
        r.drop = True
        return r
    if rule["truncate"]:
        r = normal()
        r.truncate = True
        return r
    if rule["garbage"]:
        body = rule["body"] if isinstance(rule["body"], str) else (
            "<!DOCTYPE html><html><head><title>Service Unavailable</title>"
            "</head><body><h1>Gateway busy</h1><p>upstream reset")
        return Response(rule["status"] or 200, body.encode("utf-8"),
                        "text/html; charset=utf-8")
    status = rule["status"]
    extra = []
    if rule["retry_after"] is not None:
        extra.append(("Retry-After", str(rule["retry_after"])))
    elif rule["retry_after_http_date"] is not None:
        extra.append(("Retry-After", email.utils.formatdate(
            time.time() + float(rule["retry_after_http_date"]), usegmt=True)))
    if rule["body"] is not None:
        body = rule["body"]
        if isinstance(body, str):
            return Response(status, body.encode("utf-8"), headers=extra)
        return Response(status, body, headers=extra)
    if is_la:
        r = la_error(status)
    elif is_token:
        err, code, desc = AAD_ERRORS.get(
            status, ("invalid_request", 9002313, "Invalid request."))
        r = aad_error(status, err, code, desc)
    else:
        code, msg = GRAPH_ERRORS.get(status, ("UnknownError", "Unknown"))
        r = graph_error(status, code, msg)
    r.headers += extra
    return r


# ---------------------------------------------------------------- HTTP

_TOKEN_PATH = re.compile(r"^/([^/]+)/oauth2/v2\.0/token/?$")


def _accepts_gzip(value):
    for part in (value or "").split(","):
        bits = [b.strip() for b in part.split(";")]
        if bits[0].lower() in ("gzip", "x-gzip", "*"):
            q = 1.0
            for b in bits[1:]:
                if b.lower().startswith("q="):
                    try:
                        q = float(b[2:])
                    except ValueError:
                        q = 0.0
            if q > 0:
                return True
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 300                       # idle keep-alive connections

    def log_message(self, fmt, *args):     # never log headers or bodies
        pass

    def log_error(self, fmt, *args):
        vlog("error: " + (fmt % args))

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"x", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n",
                                                            b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            raise ValueError("bad Content-Length")
        data = self.rfile.read(n) if n else b""
        if len(data) != n:
            raise ValueError("short body")
        return data

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self):
        method = self.command
        target = self.path
        if target.startswith(("http://", "https://")):
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        target = target.partition("#")[0]
        rawpath, _, rawquery = target.partition("?")
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send(Response(400, {"error": "bad request body"}), method)
            return
        if rawpath.startswith("/_mock/"):
            self._send(handle_control(method, rawpath, body), method)
            return

        def normal():
            return self._route(method, rawpath, rawquery, body)

        rule = STATE.take_failure(target)
        resp = injected_response(rule, target, normal) if rule else normal()
        if rule and rule["delay"] > 0:
            time.sleep(rule["delay"])
        entry = {"method": method, "path": rawpath, "query": rawquery,
                 "status": resp.status,
                 "has_auth": self.headers.get("Authorization") is not None,
                 "injected": rule is not None}
        m = _LA_PATH.match(rawpath)
        if m and not resp.log:          # injected: describe the request
            req = la_request_fields(method, rawquery, self.headers, body)
            resp.log = {"workspace": unquote(m.group(1)),
                        "query_text": req["query_text"],
                        "timespan": req["timespan"],
                        "prefer": req["prefer"], "rows": 0,
                        "truncated": False}
        entry.update(resp.log)
        STATE.record(entry)
        vlog("%s %s%s -> %s%s" % (method, rawpath,
                                  "?" + rawquery if rawquery else "",
                                  resp.status,
                                  " (injected)" if rule else ""))
        self._send(resp, method)

    def _route(self, method, rawpath, rawquery, body):
        if rawpath == "/metadata/identity/oauth2/token":
            return handle_imds(method, rawquery, self.headers)
        m = _TOKEN_PATH.match(rawpath)
        if m:
            return handle_token(method, unquote(m.group(1)), self.headers,
                                body)
        if rawpath.startswith("/v1.0/"):
            resp = handle_graph(method, rawpath, rawquery, self.headers)
            return self._maybe_gzip(resp)
        m = _LA_PATH.match(rawpath)
        if m:
            resp = handle_la(method, unquote(m.group(1)), rawquery,
                             self.headers, body)
            return self._maybe_gzip(resp)
        if rawpath.startswith("/v1/"):
            return la_error(404)
        return graph_error(404, "NotFound", "Resource not found",
                           self.headers.get("client-request-id"))

    def _maybe_gzip(self, resp):
        if (resp.status == 200 and resp.body and STATE.opts.get("gzip")
                and _accepts_gzip(self.headers.get("Accept-Encoding"))):
            resp.body = gzip_mod.compress(resp.body, 6)
            resp.headers.append(("Content-Encoding", "gzip"))
        return resp

    def _send(self, resp, method):
        if resp.drop:
            self.close_connection = True
            return
        try:
            reason = http.HTTPStatus(resp.status).phrase
        except ValueError:
            reason = "Unknown"
        body = resp.body
        length = len(body)
        if resp.truncate:
            body = body[:len(body) // 2]
            length = max(length, len(body) + 1)
            self.close_connection = True
        head = ["HTTP/1.1 %d %s" % (resp.status, reason),
                "Date: " + email.utils.formatdate(usegmt=True)]
        head += ["%s: %s" % h for h in resp.headers]
        head.append("Content-Length: %d" % length)
        if self.close_connection:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if method != "HEAD":
            data += body
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


# ---------------------------------------------------------------- main

def main(argv=None):
    global VERBOSE
    ap = argparse.ArgumentParser(
        description="Azure identity + Graph + Log Analytics mock")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--config")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    VERBOSE = args.verbose
    # A flag, not a threading.Event: Event.set() from a signal handler
    # deadlocks when the signal lands while the main thread holds the
    # Event's lock inside Event.wait() (seen once in many runs).
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if args.config:
        try:
            with open(args.config, "r", encoding="utf-8") as f:
                cfg = json.load(f)
            STATE.apply_config(cfg, os.path.dirname(
                os.path.abspath(args.config)))
        except (OSError, ValueError, TypeError, AttributeError,
                KeyError) as exc:
            sys.stderr.write("azure_mock: fatal: config %s: %s\n"
                             % (args.config, exc))
            return 100

    try:
        server = Server(("127.0.0.1", args.port), Handler)
    except OSError as exc:
        sys.stderr.write("azure_mock: fatal: bind 127.0.0.1:%d: %s\n"
                         % (args.port, exc))
        return 1
    STATE.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    if args.port_file:
        tmp = "%s.tmp.%d" % (args.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d" % STATE.port)
        os.replace(tmp, args.port_file)
    vlog("listening on 127.0.0.1:%d" % STATE.port)
    while not stopping:
        time.sleep(0.2)
    server.shutdown()
    server.server_close()
    vlog("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
