#!/usr/bin/env python3
"""Log Analytics rows for the tests (the mock's "workspaces" tables).

    python3 tests/mock/gen_la.py --table SigninLogs|SecurityEvent|Wide
        --count N --start ISO --end ISO [--seed S]

prints {"columns": [{"name", "type"}, ...], "rows": [[...], ...]} (UTF-8,
non-ASCII kept raw), ready for the mock's config ({"file": PATH}) or for
POST /_mock/la-rows.  As a module: gen_rows(table, count, start, end,
seed=None) returns the same dict.  start/end: ISO strings, datetime
objects or 100-ns ticks (see gen_graph.to_ticks).

Every table has every column type the service sends, as the service sends
it: TimeGenerated (datetime, 7 fractional digits, uniform in [start, end),
about 5 % of the rows sharing the timestamp of another row), another
datetime column with 0-7 fractional digits, string (non-ASCII, quotes,
backslashes, empty), long (up to +-2^63-1, values beyond 2^53), int,
real (0.1, 1e-05, 47.6, 1.5e+16, -0.0, ...), bool, guid, timespan
("00:00:01.5000000"), decimal ("12.3400") and dynamic (JSON text of
objects/arrays, compact), with nulls in every non-string column but
TimeGenerated (strings are never null in Log Analytics: empty instead).
Rows come in no particular order (deterministic with --seed).  "Wide" has
60 columns and rows of about 2 KB.
"""

import argparse
import json
import os
import random
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_graph  # noqa: E402
from gen_graph import TICKS, format_ticks, to_ticks  # noqa: E402

TABLES = ("SigninLogs", "SecurityEvent", "Wide")

LONGS = [0, 1, -1, 42, 1234567, 2 ** 31, 2 ** 53, 2 ** 53 + 1,
         9007199254740993, 2 ** 62 + 7, 123456789012345678,
         9223372036854775807, -9223372036854775808]
INTS = [0, 1, -1, 4624, 4625, 65535, 2147483647, -2147483648]
REALS = [0.1, 1e-05, 47.6, 1.5e+16, -0.0, 3.141592653589793, -122.1215,
         100.0, 0.30000000000000004, 6.02214076e+23, 2.5e-300]
TIMESPANS = ["00:00:01.5000000", "00:00:00", "1.02:03:04.0050000",
             "-00:00:00.0000001", "23:59:59.9999999", "00:05:00"]
DECIMALS = ["12.3400", "0", "-0.0001", "79228162514264337593543950335",
            "1.0", "3.14159265358979323846"]
WORDS = ["alpha", "ß-straße", "Ωmega", "naïve café", "日本語テキスト",
         "emoji 🚀 test", 'say "hi"', "it's", "back\\slash", "tab\there",
         "line\nbreak", "<xml attr=\"1\"/>", "", "Zoë", "Łódź", "مرحبا"]
HOSTS = ["DC01.contoso.local", "web-01", "SQL-Prod-Ä", "ワークステーション-7",
         "kraków-fs01", "srv \"quoted\"", "WIN-8HGTQ2"]
ACCOUNTS = ["CONTOSO\\Administrator", "CONTOSO\\José.Müller",
            "NT AUTHORITY\\SYSTEM", "WORKGROUP\\Zoë", "CONTOSO\\svc_sql$",
            "CONTOSO\\o'brien"]
ACTIVITIES = [
    (4624, "4624 - An account was successfully logged on."),
    (4625, "4625 - An account failed to log on."),
    (4688, "4688 - A new process has been created."),
    (4672, "4672 - Special privileges assigned to new logon."),
    (1102, "1102 - The audit log was cleared."),
]
COMMANDS = ['"C:\\Windows\\System32\\cmd.exe" /c echo "héllo" > nul',
            "powershell.exe -enc SQBFAFgA",
            "C:\\Program Files\\Wazuh\\agent.exe --flag='x y'", ""]


def _dyn(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class _Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def maybe(self, value, p=0.08):
        return None if self.r.random() < p else value

    def guid(self):
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def pick(self, seq):
        return self.r.choice(seq)

    def text(self, n_words=3):
        return " ".join(self.pick(WORDS) for _ in range(n_words))

    def short_dt(self, ticks):
        """A datetime with 0-7 fractional digits (cut, not rounded)."""
        full = format_ticks(ticks)           # ...SS.fffffffZ
        digits = self.r.randint(0, 7)
        head = full[:19]
        return head + ("." + full[20:20 + digits] if digits else "") + "Z"

    def dynamic(self):
        k = self.r.randint(0, 3)
        if k == 0:
            return _dyn({"a": 1, "name": self.pick(WORDS),
                         "nested": {"list": [1, 2.5, None, True],
                                    "ok": self.r.random() < 0.5}})
        if k == 1:
            return _dyn([self.pick(WORDS), self.pick(LONGS),
                         {"k": self.pick(WORDS)}])
        if k == 2:
            return _dyn({})
        return _dyn([])

    def times(self, count, start, end):
        lo, hi = to_ticks(start), to_ticks(end)
        if hi <= lo:
            raise ValueError("end must be after start")
        out = []
        for _ in range(count):
            if out and self.r.random() < 0.05:
                out.append(self.pick(out))   # a tie, to the 100 ns
            else:
                out.append(self.r.randrange(lo, hi))
        return out


# ---------------------------------------------------------------- tables

SIGNIN_COLUMNS = [
    ("TenantId", "string"), ("SourceSystem", "string"),
    ("TimeGenerated", "datetime"), ("ResourceId", "string"),
    ("OperationName", "string"), ("OperationVersion", "string"),
    ("Category", "string"), ("ResultType", "string"),
    ("ResultSignature", "string"), ("ResultDescription", "string"),
    ("DurationMs", "long"), ("CorrelationId", "string"),
    ("Identity", "string"), ("Level", "string"), ("Location", "string"),
    ("AppDisplayName", "string"), ("AppId", "string"),
    ("AutonomousSystemNumber", "int"), ("ConditionalAccessPolicies",
                                        "dynamic"),
    ("ConditionalAccessStatus", "string"), ("CreatedDateTime", "datetime"),
    ("DeviceDetail", "dynamic"), ("IsInteractive", "bool"), ("Id", "string"),
    ("IPAddress", "string"), ("LocationDetails", "dynamic"),
    ("RiskScore", "real"), ("RiskScoreDecimal", "decimal"),
    ("SessionId", "guid"), ("TokenLifetime", "timespan"),
    ("Status", "dynamic"), ("UserDisplayName", "string"),
    ("UserPrincipalName", "string"), ("UserId", "string"),
    ("Type", "string"),
]


def _signin(g, ticks, tenant):
    user, upn = g.pick(gen_graph.USERS)
    app, appid = g.pick(gen_graph.APPS)
    city, state, country, lat, lon = g.pick(gen_graph.LOCATIONS)
    os_, browser = g.pick(gen_graph.DEVICES)
    fail = g.r.random() < 0.3
    code, reason = (g.pick(gen_graph.FAILURES)[:2] if fail
                    else (0, None))
    return [
        tenant, "Azure AD", format_ticks(ticks),
        "/tenants/%s/providers/Microsoft.aadiam" % tenant,
        "Sign-in activity", "1.0", "SignInLogs", str(code),
        "None" if fail else "SUCCESS", reason or "",
        g.maybe(g.pick(LONGS)), g.guid(), user, "4" if not fail else "3",
        country, app, appid, g.maybe(g.pick(INTS)),
        g.maybe(_dyn([{"id": g.guid(), "displayName": p[0],
                       "enforcedGrantControls": p[1], "result": "success"}
                      for p in gen_graph.CA_POLICIES[:g.r.randint(0, 3)]])),
        "notApplied", g.short_dt(ticks - g.r.randrange(0, 30 * TICKS)),
        g.maybe(_dyn({"deviceId": "", "operatingSystem": os_,
                      "browser": browser, "isCompliant": False})),
        g.maybe(g.r.random() < 0.7), g.guid(),
        "%d.%d.%d.%d" % tuple(g.r.randint(1, 254) for _ in range(4)),
        g.maybe(_dyn({"city": city, "state": state,
                      "countryOrRegion": country,
                      "geoCoordinates": {"latitude": lat,
                                         "longitude": lon}})),
        g.maybe(g.pick(REALS)), g.maybe(g.pick(DECIMALS)), g.maybe(g.guid()),
        g.maybe(g.pick(TIMESPANS)),
        _dyn({"errorCode": code, "failureReason": reason}
             if fail else {"errorCode": 0}),
        user, upn, g.guid(), "SigninLogs",
    ]


SECURITY_COLUMNS = [
    ("TenantId", "string"), ("TimeGenerated", "datetime"),
    ("SourceSystem", "string"), ("Account", "string"),
    ("AccountType", "string"), ("Computer", "string"),
    ("EventSourceName", "string"), ("Channel", "string"), ("Task", "int"),
    ("Level", "string"), ("EventData", "string"), ("EventID", "int"),
    ("Activity", "string"), ("LogonType", "int"), ("IpAddress", "string"),
    ("CommandLine", "string"), ("LogonGuid", "guid"),
    ("ElapsedTime", "timespan"), ("CpuPercent", "real"),
    ("BytesTransferred", "long"), ("Amount", "decimal"),
    ("Properties", "dynamic"), ("IsElevated", "bool"),
    ("TimeCollected", "datetime"), ("Type", "string"),
]


def _security(g, ticks, tenant):
    eid, activity = g.pick(ACTIVITIES)
    account = g.pick(ACCOUNTS)
    return [
        tenant, format_ticks(ticks), "OpsManager", account,
        "Machine" if account.endswith("$") else "User", g.pick(HOSTS),
        "Microsoft-Windows-Security-Auditing", "Security",
        g.maybe(12544), "8",
        '<EventData xmlns="http://schemas.microsoft.com/win/2004/08/events/'
        'event"><Data Name="SubjectUserName">%s</Data></EventData>'
        % account.split("\\")[-1],
        eid, activity, g.maybe(g.pick([2, 3, 5, 10])),
        "10.%d.%d.%d" % tuple(g.r.randint(0, 255) for _ in range(3)),
        g.pick(COMMANDS), g.maybe(g.guid()), g.maybe(g.pick(TIMESPANS)),
        g.maybe(g.pick(REALS)), g.maybe(g.pick(LONGS)),
        g.maybe(g.pick(DECIMALS)), g.maybe(g.dynamic()),
        g.maybe(g.r.random() < 0.5),
        g.maybe(g.short_dt(ticks + g.r.randrange(0, 120 * TICKS))),
        "SecurityEvent",
    ]


WIDE_TYPES = ["string", "long", "string", "int", "dynamic", "real",
              "string", "bool", "guid", "string", "timespan", "decimal",
              "string", "datetime", "dynamic", "string", "long", "string",
              "real", "string"]
WIDE_COLUMNS = [("TimeGenerated", "datetime")] + [
    ("%s%02d" % (WIDE_TYPES[i % len(WIDE_TYPES)].capitalize(), i + 1),
     WIDE_TYPES[i % len(WIDE_TYPES)]) for i in range(59)]


def _wide(g, ticks, tenant):
    row = [format_ticks(ticks)]
    for _, kind in WIDE_COLUMNS[1:]:
        if kind == "string":
            row.append(g.text(g.r.randint(1, 4)) + " #%08x"
                       % g.r.getrandbits(32))
        elif kind == "long":
            row.append(g.maybe(g.pick(LONGS)))
        elif kind == "int":
            row.append(g.maybe(g.pick(INTS)))
        elif kind == "real":
            row.append(g.maybe(g.pick(REALS)))
        elif kind == "bool":
            row.append(g.maybe(g.r.random() < 0.5))
        elif kind == "guid":
            row.append(g.maybe(g.guid()))
        elif kind == "timespan":
            row.append(g.maybe(g.pick(TIMESPANS)))
        elif kind == "decimal":
            row.append(g.maybe(g.pick(DECIMALS)))
        elif kind == "datetime":
            row.append(g.maybe(g.short_dt(ticks)))
        else:
            row.append(g.maybe(_dyn({"id": g.guid(), "text": g.text(2),
                                     "n": g.pick(LONGS),
                                     "list": [g.pick(REALS), None, True]})))
    return row


_TABLES = {
    "SigninLogs": (SIGNIN_COLUMNS, _signin),
    "SecurityEvent": (SECURITY_COLUMNS, _security),
    "Wide": (WIDE_COLUMNS, _wide),
}


def gen_rows(table, count, start, end, seed=None):
    """{"columns": [...], "rows": [...]} for `count` rows of `table`."""
    if table not in _TABLES:
        raise ValueError("unknown table %r (one of %s)"
                         % (table, ", ".join(TABLES)))
    columns, make = _TABLES[table]
    g = _Gen(seed)
    tenant = g.guid()
    rows = [make(g, t, tenant) for t in g.times(count, start, end)]
    return {"columns": [{"name": n, "type": t} for n, t in columns],
            "rows": rows}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", required=True, choices=TABLES)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--start", required=True)
    ap.add_argument("--end", required=True)
    ap.add_argument("--seed", type=int)
    args = ap.parse_args(argv)
    try:
        data = gen_rows(args.table, args.count, args.start, args.end,
                        args.seed)
    except ValueError as exc:
        sys.stderr.write("gen_la: %s\n" % exc)
        return 2
    sys.stdout.buffer.write(json.dumps(data, ensure_ascii=False).encode(
        "utf-8") + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
