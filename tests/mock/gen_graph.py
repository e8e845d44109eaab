#!/usr/bin/env python3
"""Realistic Microsoft Graph audit-log items for the tests.

    python3 tests/mock/gen_graph.py --kind signIns|directoryAudits
        --count N --start ISO --end ISO [--seed S]

prints a JSON array (UTF-8, non-ASCII kept raw) of N items whose time field
(createdDateTime / activityDateTime, 7 fractional digits + 'Z') lies in
[start, end), newest first.  About 5 % of the items share the timestamp of
the previous one to the 100 ns (ties).  Deterministic with --seed.

As a module:  gen_signins(count, start, end, seed=None),
              gen_directory_audits(count, start, end, seed=None),
              generate(kind, count, start, end, seed=None)
start/end are ISO strings ("2024-06-01T00:00:00Z", 0-7 fractional
digits), datetime objects (naive = UTC) or integer 100-ns ticks since the
epoch.

directoryAudits carry the shapes Wazuh strips: initiatedBy.app null (most
user-initiated items), initiatedBy.user null, initiatedBy.user or
initiatedBy.app as a string, and a top-level "status" that is null or a
string.
"""

import argparse
import datetime
import json
import random
import re
import sys
import uuid

TICKS = 10 ** 7
EPOCH = datetime.datetime(1970, 1, 1)
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})"
                  r"(?:\.(\d{1,7}))?Z?\Z")


def to_ticks(value):
    """ISO string / datetime / int -> 100-ns ticks since the epoch."""
    if isinstance(value, int):
        return value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(
                tzinfo=None)
        d = value - EPOCH
        return (d.days * 86400 + d.seconds) * TICKS + d.microseconds * 10
    m = _ISO.match(value.strip())
    if not m:
        raise ValueError("not an ISO 8601 UTC date: %r" % value)
    dt = datetime.datetime(*(int(m.group(i)) for i in range(1, 7)))
    frac = int((m.group(7) or "").ljust(7, "0"))
    return to_ticks(dt) + frac


def format_ticks(ticks):
    """100-ns ticks -> 'YYYY-MM-DDTHH:MM:SS.fffffffZ'."""
    secs, frac = divmod(ticks, TICKS)
    dt = EPOCH + datetime.timedelta(seconds=secs)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%07dZ" % frac


# ---------------------------------------------------------------- pools

USERS = [
    ("Adele Vance", "AdeleV@wazuh.example"),
    ("Alex Wilber", "AlexW@wazuh.example"),
    ("Megan Bowen", "MeganB@wazuh.example"),
    ("José Müller", "jose.muller@wazuh.example"),
    ("Zoë Ångström", "zoe.angstrom@wazuh.example"),
    ("山田 太郎", "taro.yamada@wazuh.example"),
    ("Łukasz Żółć", "lukasz.zolc@wazuh.example"),
    ("Ольга Петрова", "olga.petrova@wazuh.example"),
    ("محمد علي", "mohammed.ali@wazuh.example"),
    ("Seán O'Brien", "sean.obrien@wazuh.example"),
    ("Test \"QA\" Account \\ lab", "qa.lab@wazuh.example"),
    ("Lee Gu", "LeeG@wazuh.example"),
    ("Nestor Wilke", "NestorW@wazuh.example"),
]

APPS = [
    ("Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000"),
    ("Microsoft Teams", "1fec8e78-bce4-4aaf-ab1b-5451cc387264"),
    ("Azure Portal", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"),
    ("Microsoft Authentication Broker", "29d9ed98-a469-4536-ade2-f981bc1d605e"),
    ("Graph Explorer", "de8bc8b5-d9f9-48b1-a8ad-b748da725064"),
    ("Contoso 🚀 Portal", "5b3c4e1a-9a1d-4c55-9f1e-2d1d4d0f7a11"),
    ("Wazuh SIEM connector", "0f2d7c31-6a47-4a1b-9f0e-1c3b5d7e9a20"),
]

RESOURCES = [
    ("Microsoft Graph", "00000003-0000-0000-c000-000000000000"),
    ("Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000"),
    ("Windows Azure Service Management API",
     "797f4846-ba00-4fd7-ba43-dac1f8f63013"),
]

LOCATIONS = [
    ("Redmond", "Washington", "US", 47.6740, -122.1215),
    ("Madrid", "Madrid", "ES", 40.4168, -3.7038),
    ("München", "Bayern", "DE", 48.1371, 11.5754),
    ("東京", "東京都", "JP", 35.6895, 139.6917),
    ("São Paulo", "São Paulo", "BR", -23.5505, -46.6333),
    ("Kraków", "Małopolskie", "PL", 50.0647, 19.9450),
    ("Sydney", "New South Wales", "AU", -33.8688, 151.2093),
]

DEVICES = [
    ("Windows 10", "Edge 120.0.2210"), ("Windows 11", "Chrome 121.0.0"),
    ("MacOs", "Safari 17.2"), ("Ios", "Mobile Safari"),
    ("Android", "Chrome Mobile 120.0.6099"), ("Linux", "Firefox 122.0"),
]

CLIENT_APPS = ["Browser", "Mobile Apps and Desktop clients",
               "Exchange ActiveSync", "IMAP4", "Authenticated SMTP"]

FAILURES = [
    (50126, "Error validating credentials due to invalid username or "
            "password.", "The user didn't enter the right credentials."),
    (50074, "Strong Authentication is required.",
     "The user didn't complete the MFA prompt."),
    (50140, "This error occurred due to 'Keep me signed in' interrupt when "
            "the user was signing in.", None),
    (53003, "Access has been blocked by Conditional Access policies. The "
            "access policy does not allow token issuance.", None),
    (50053, "The account is locked, you've tried to sign in too many times "
            "with an incorrect user ID or password.", None),
]

CA_POLICIES = [
    ("Require MFA for admins", ["Mfa"]),
    ("Block legacy authentication", ["Block"]),
    ("Require compliant device — Ärzte", ["RequireCompliantDevice"]),
    ("Sign-in frequency 日本", []),
]

AUDIT_ACTIVITIES = [
    ("UserManagement", "Add user", "Add", "User"),
    ("UserManagement", "Update user", "Update", "User"),
    ("UserManagement", "Delete user", "Delete", "User"),
    ("UserManagement", "Reset user password", "Update", "User"),
    ("GroupManagement", "Add member to group", "Assign", "Group"),
    ("GroupManagement", "Remove member from group", "Unassign", "Group"),
    ("ApplicationManagement", "Update application", "Update", "Application"),
    ("ApplicationManagement",
     "Add service principal credentials", "Update", "ServicePrincipal"),
    ("RoleManagement", "Add member to role", "Assign", "Role"),
    ("Policy", "Update conditional access policy", "Update", "Policy"),
    ("Device", "Register device", "Add", "Device"),
]

SERVICES = ["Core Directory", "Self-service Password Management",
            "Conditional Access", "Device Registration Service",
            "Azure AD Cloud Sync"]


# ---------------------------------------------------------------- helpers

def _uuid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ip(rng):
    if rng.random() < 0.15:
        return "2001:db8:%x:%x::%x" % (rng.randrange(65536),
                                      rng.randrange(65536),
                                      rng.randrange(1, 65536))
    return "%d.%d.%d.%d" % (rng.choice([20, 40, 52, 81, 88, 185, 203]),
                            rng.randrange(256), rng.randrange(256),
                            rng.randrange(1, 255))


def _times(rng, count, start, end):
    """count tick values in [start, end), newest first, ~5 % ties."""
    lo, hi = to_ticks(start), to_ticks(end)
    if hi <= lo:
        raise ValueError("--end must be after --start")
    out = []
    for _ in range(count):
        if out and rng.random() < 0.05:
            out.append(out[-1])
        else:
            out.append(rng.randrange(lo, hi))
    out.sort(reverse=True)
    return out


# ---------------------------------------------------------------- signIns

def _signin(rng, ticks):
    name, upn = rng.choice(USERS)
    app, app_id = rng.choice(APPS)
    res, res_id = rng.choice(RESOURCES)
    city, state, country, lat, lon = rng.choice(LOCATIONS)
    os_name, browser = rng.choice(DEVICES)
    failed = rng.random() < 0.25
    if failed:
        code, reason, details = rng.choice(FAILURES)
    else:
        code, reason = 0, "Other."
        details = rng.choice([None, "MFA requirement satisfied by claim in "
                              "the token", "MFA completed in Azure AD"])
    managed = rng.random() < 0.5
    policies = []
    for pname, controls in rng.sample(CA_POLICIES, rng.choice([1, 1, 2, 3])):
        policies.append({
            "id": _uuid(rng), "displayName": pname,
            "enforcedGrantControls": controls,
            "enforcedSessionControls": (["SignInFrequency"]
                                        if not controls else []),
            "result": rng.choice(["success", "notApplied", "notEnabled",
                                  "failure" if failed else "success"]),
        })
    risk = rng.random() < 0.05
    return {
        "id": _uuid(rng),
        "createdDateTime": format_ticks(ticks),
        "userDisplayName": name,
        "userPrincipalName": upn,
        "userId": _uuid(rng),
        "appId": app_id,
        "appDisplayName": app,
        "ipAddress": _ip(rng),
        "clientAppUsed": rng.choice(CLIENT_APPS),
        "correlationId": _uuid(rng),
        "conditionalAccessStatus": ("failure" if failed and code == 53003
                                    else rng.choice(["success",
                                                     "notApplied"])),
        "isInteractive": rng.random() < 0.7,
        "riskDetail": "none" if not risk else "userPassedMFADrivenByRiskBasedPolicy",
        "riskLevelAggregated": "none" if not risk else "medium",
        "riskLevelDuringSignIn": "none" if not risk else "medium",
        "riskState": "none" if not risk else "remediated",
        "riskEventTypes": [] if not risk else ["unfamiliarFeatures"],
        "riskEventTypes_v2": [] if not risk else ["unfamiliarFeatures"],
        "resourceDisplayName": res,
        "resourceId": res_id,
        "status": {"errorCode": code, "failureReason": reason,
                   "additionalDetails": details},
        "deviceDetail": {
            "deviceId": _uuid(rng) if managed else "",
            "displayName": ("LAPTOP-%04X" % rng.randrange(65536)
                            if managed else ""),
            "operatingSystem": os_name, "browser": browser,
            "isCompliant": managed and rng.random() < 0.8,
            "isManaged": managed,
            "trustType": "Azure AD joined" if managed else "",
        },
        "location": {
            "city": city, "state": state, "countryOrRegion": country,
            "geoCoordinates": {
                "altitude": None,
                "latitude": round(lat + rng.uniform(-0.05, 0.05), 6),
                "longitude": round(lon + rng.uniform(-0.05, 0.05), 6),
            },
        },
        "appliedConditionalAccessPolicies": policies,
    }


def gen_signins(count, start, end, seed=None):
    rng = random.Random(seed)
    return [_signin(rng, t) for t in _times(rng, count, start, end)]


# ---------------------------------------------------------------- audits

def _initiated_by(rng):
    r = rng.random()
    name, upn = rng.choice(USERS)
    user = {"id": _uuid(rng), "displayName": None, "userPrincipalName": upn,
            "ipAddress": _ip(rng) if rng.random() < 0.7 else "",
            "userType": None, "homeTenantId": None, "homeTenantName": None}
    app_name, app_id = rng.choice(APPS)
    app = {"appId": app_id, "displayName": app_name,
           "servicePrincipalId": _uuid(rng),
           "servicePrincipalName": app_name}
    if r < 0.55:
        return {"user": user, "app": None}
    if r < 0.80:
        return {"user": None, "app": app}
    if r < 0.90:
        return {"user": rng.choice(["Microsoft Substrate Management",
                                    "Sync_SRV01_1a2b3c", "unknown"]),
                "app": None}
    return {"user": None, "app": rng.choice(["Azure AD Cloud Sync",
                                             "MS-PIM"])}


def _target(rng, kind):
    name, upn = rng.choice(USERS)
    old, new = rng.choice([("[]", "[\"%s\"]" % name),
                           ("[\"Sales\"]", "[\"Marketing — Δ\"]"),
                           ("[true]", "[false]")])
    return {
        "id": _uuid(rng),
        "displayName": None if kind == "User" else "%s %04d" % (
            kind, rng.randrange(10000)),
        "type": kind,
        "userPrincipalName": upn if kind == "User" else None,
        "groupType": "unifiedGroups" if kind == "Group" else None,
        "modifiedProperties": [
            {"displayName": rng.choice(["Department", "AccountEnabled",
                                        "DisplayName", "Included Updated "
                                        "Properties"]),
             "oldValue": old, "newValue": new},
        ],
    }


def _audit(rng, ticks):
    category, activity, op, kind = rng.choice(AUDIT_ACTIVITIES)
    failed = rng.random() < 0.1
    item = {
        "id": "Directory_%s_%s_%d" % (_uuid(rng), "".join(
            rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
            for _ in range(5)), rng.randrange(10 ** 8, 10 ** 9)),
        "category": category,
        "correlationId": _uuid(rng),
        "result": "failure" if failed else "success",
        "resultReason": (rng.choice(["Microsoft.Online.Workflows."
                                     "ObjectAlreadyExistsException",
                                     "Insufficient privileges"])
                         if failed else ""),
        "activityDisplayName": activity,
        "activityDateTime": format_ticks(ticks),
        "loggedByService": rng.choice(SERVICES),
        "operationType": op,
        "initiatedBy": _initiated_by(rng),
        "targetResources": [_target(rng, kind)
                            for _ in range(rng.choice([1, 1, 1, 2]))],
        "additionalDetails": [
            {"key": "UserType", "value": rng.choice(["Member", "Guest"])},
            {"key": "User-Agent", "value": rng.choice([
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
                "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 "
                "Safari/537.36 Edg/121.0.0.0",
                "python-requests/2.31.0", "Microsoft Azure Graph Client "
                "Library 1.0"])},
        ],
    }
    r = rng.random()
    if r < 0.10:
        item["status"] = None
    elif r < 0.20:
        item["status"] = rng.choice(["success", "Succeeded", "failure"])
    return item


def gen_directory_audits(count, start, end, seed=None):
    rng = random.Random(seed)
    return [_audit(rng, t) for t in _times(rng, count, start, end)]


KINDS = {"signIns": gen_signins, "directoryAudits": gen_directory_audits}


def generate(kind, count, start, end, seed=None):
    for name, fn in KINDS.items():
        if name.lower() == kind.lower():
            return fn(count, start, end, seed)
    raise ValueError("unknown kind %r" % kind)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate Graph audit items")
    ap.add_argument("--kind", required=True, choices=sorted(KINDS))
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--start", required=True)
    ap.add_argument("--end", required=True)
    ap.add_argument("--seed")
    args = ap.parse_args(argv)
    if args.count < 0:
        ap.error("--count must be >= 0")
    seed = args.seed
    if seed is not None and seed.lstrip("-").isdigit():
        seed = int(seed)            # same sequence as generate(..., seed=N)
    try:
        items = generate(args.kind, args.count, args.start, args.end, seed)
    except ValueError as exc:
        ap.error(str(exc))
    out = sys.stdout.buffer
    out.write(b"[")
    for i, item in enumerate(items):
        if i:
            out.write(b",\n")
        out.write(json.dumps(item, ensure_ascii=False).encode("utf-8"))
    out.write(b"]\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
