"""A faithful subset of KQL (Kusto Query Language) for the Log Analytics
part of azure_mock.py.  Python 3 standard library only.

    q = parse(text, now_ticks)             # KqlError("SyntaxError") if bad
    schema, rows = execute(q, get_table, span=(start, end) | None)

get_table(name) -> (columns [(name, type)], rows [list of cells]
[, ingestion]) or None.  ingestion, when given, is a list parallel to
rows: the hidden ingestion time of each row (ticks, or None), which only
ingestion_time() reads; it is never a column.  Without it every row's
ingestion time is null.  Rows are returned as the very list objects stored
in the table unless an operator builds new ones (project, extend, ...), so
callers may cache their serialisation by id().

Supported:  <Table> { | <operator> }
  where|filter <predicate>
      predicate: and / or / not(...) / ( ... ) over
        operand (== != < <= > >=) operand
        operand (=~ !~ has !has has_cs contains !contains contains_cs
                 startswith !startswith endswith !endswith) operand
        operand in (lit, ...) / operand !in (lit, ...)
        isempty(x) isnotempty(x) isnull(x) isnotnull(x)
        a bool column or true/false alone
      operand: column, ['column'], "string" / 'string' / @"verbatim",
        123, 1.5, 1e-05, -3, true, false, 1d / 2h / 30m / 10s / 100ms
        (timespans), datetime(...) / todatetime(...), ago(1h), now(),
        ingestion_time()
  project A, B, New = <operand>      project-away A, B
  project-keep A, B                  project-reorder A, B
  project-rename New = Old
  extend X = <operand>, ...
  take N | limit N
  order by / sort by Col [asc|desc] [nulls first|last], ...  (default desc)
  top N by Col [asc|desc]
      (Col: a column or ingestion_time())
  count
Anything else is a SyntaxError.  Keywords are case-sensitive, like Kusto.
Datetimes are integer 100-ns ticks; comparisons never use floats.

ingestion_time() is the datetime at which the row was ingested (the hidden
value above).  It follows its row through where, order/sort, take, top and
every project/extend operator; after count (an aggregation) it is null, as
in Kusto.  As a result cell (extend X = ingestion_time()) it is printed
like any computed datetime, by format_datetime():
"2024-06-03T11:00:00.1234567Z", trailing zeros trimmed ("...:00.5Z",
"...:00Z").
"""

import datetime
import decimal
import json
import re

TICKS = 10 ** 7
EPOCH_ORD = datetime.date(1970, 1, 1).toordinal()

TYPES = ("datetime", "string", "long", "int", "real", "bool", "guid",
         "timespan", "decimal", "dynamic")


class KqlError(Exception):
    """kind: "SyntaxError" or "SemanticError"."""

    def __init__(self, kind, message, text=None, pos=None, token=None):
        self.kind = kind
        self.token = token
        self.line, self.col = 1, 1
        if text is not None and pos is not None:
            self.line = text.count("\n", 0, pos) + 1
            self.col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        self.pos = pos
        if kind == "SyntaxError" and pos is not None:
            message = "Query could not be parsed at '%s' on line [%d,%d]" % (
                token, self.line, self.col)
        self.message = message
        super().__init__(message)


# ---------------------------------------------------------------- dates

_DATE = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})"
    r"(?:\.(\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*\Z", re.I)


def parse_datetime(text, max_digits=None):
    """ISO 8601 (T or space, 0-7+ fractional digits, Z / offset / nothing
    = UTC, date alone) -> 100-ns ticks since the epoch, or None.  More than
    7 digits are cut, unless max_digits is given (then None)."""
    if not isinstance(text, str):
        return None
    m = _DATE.match(text)
    if not m:
        return None
    frac = m.group(7) or ""
    if max_digits is not None and len(frac) > max_digits:
        return None
    try:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        h, mi, s = (int(m.group(i) or 0) for i in (4, 5, 6))
        datetime.datetime(y, mo, d, h, mi, s)         # validates
    except ValueError:
        return None
    secs = ((datetime.date(y, mo, d).toordinal() - EPOCH_ORD) * 86400
            + h * 3600 + mi * 60 + s)
    tz = m.group(8)
    if tz and tz.upper() != "Z":
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        secs -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return secs * TICKS + int(frac[:7].ljust(7, "0"))


def format_datetime(ticks):
    """Ticks -> '2024-06-03T11:00:00.043Z' (trailing zeros trimmed, the way
    Log Analytics prints computed datetimes)."""
    secs, frac = divmod(ticks, TICKS)
    days, rem = divmod(secs, 86400)
    d = datetime.date.fromordinal(EPOCH_ORD + days)
    out = "%04d-%02d-%02dT%02d:%02d:%02d" % (
        d.year, d.month, d.day, rem // 3600, rem // 60 % 60, rem % 60)
    if frac:
        out += "." + ("%07d" % frac).rstrip("0")
    return out + "Z"


_TIMESPAN = re.compile(r"\s*(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})"
                       r"(?:\.(\d{1,7}))?\s*\Z")


def parse_timespan(text):
    """'[-][d.]hh:mm:ss[.fffffff]' -> ticks, or None."""
    if not isinstance(text, str):
        return None
    m = _TIMESPAN.match(text)
    if not m:
        return None
    t = ((int(m.group(2) or 0) * 86400 + int(m.group(3)) * 3600
          + int(m.group(4)) * 60 + int(m.group(5))) * TICKS
         + int((m.group(6) or "").ljust(7, "0")))
    return -t if m.group(1) else t


def format_timespan(ticks):
    sign = "-" if ticks < 0 else ""
    secs, frac = divmod(abs(ticks), TICKS)
    days, rem = divmod(secs, 86400)
    out = "%s%s%02d:%02d:%02d" % (sign, "%d." % days if days else "",
                                  rem // 3600, rem // 60 % 60, rem % 60)
    if frac:
        out += ".%07d" % frac
    return out


_ISO_DURATION = re.compile(
    r"P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?\Z",
    re.I)
_DURATION_UNITS = (7 * 86400, 86400, 3600, 60, 1)


def parse_iso_duration(text):
    m = _ISO_DURATION.match(text.strip())
    if not m or not any(m.groups()) or text.strip().upper().endswith("T"):
        return None
    total = decimal.Decimal(0)
    for value, unit in zip(m.groups(), _DURATION_UNITS):
        if value:
            total += decimal.Decimal(value) * unit * TICKS
    return int(total)


def parse_timespan_param(text, now):
    """The API's timespan parameter: 'start/end', 'start/duration',
    'duration/end' or 'duration' (ending now).  Returns (start, end) ticks
    for the half-open window [start, end); raises ValueError."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty timespan")
    parts = text.strip().split("/")
    if len(parts) == 1:
        dur = parse_iso_duration(parts[0])
        if dur is None:
            raise ValueError("bad duration")
        return now - dur, now
    if len(parts) != 2:
        raise ValueError("bad timespan")
    a, b = parse_datetime(parts[0]), parse_datetime(parts[1])
    if a is not None and b is not None:
        start, end = a, b
    elif a is not None:
        dur = parse_iso_duration(parts[1])
        if dur is None:
            raise ValueError("bad duration")
        start, end = a, a + dur
    elif b is not None:
        dur = parse_iso_duration(parts[0])
        if dur is None:
            raise ValueError("bad duration")
        start, end = b - dur, b
    else:
        raise ValueError("bad timespan")
    if end < start:
        raise ValueError("timespan ends before it starts")
    return start, end


# ---------------------------------------------------------------- cells

_DT_CACHE = {}


def cell_ticks(cell):
    """A stored datetime cell -> ticks (cached), None if null/invalid."""
    try:
        return _DT_CACHE[cell]
    except KeyError:
        pass
    except TypeError:                      # unhashable (list, dict)
        return None
    value = parse_datetime(cell)
    if len(_DT_CACHE) > 1000000:
        _DT_CACHE.clear()
    _DT_CACHE[cell] = value
    return value


def _to_num(cell, kind):
    if cell is None or isinstance(cell, bool):
        return None
    if isinstance(cell, (int, float)):
        return cell
    if isinstance(cell, str):
        try:
            return int(cell) if kind == "long" else float(cell)
        except ValueError:
            return None
    return None


def _to_decimal(cell):
    if cell is None or isinstance(cell, bool):
        return None
    try:
        return decimal.Decimal(str(cell))
    except (decimal.InvalidOperation, ValueError):
        return None


def _to_bool(cell):
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, int):
        return cell != 0
    if isinstance(cell, str) and cell.lower() in ("true", "false"):
        return cell.lower() == "true"
    return None


def _to_string(cell):
    if cell is None:
        return ""                          # KQL strings are never null
    if isinstance(cell, str):
        return cell
    return json.dumps(cell, ensure_ascii=False, separators=(",", ":"))


def _to_guid(cell):
    return cell.lower() if isinstance(cell, str) else None


def _to_dynamic(cell):
    if cell is None or isinstance(cell, str):
        return cell
    return json.dumps(cell, ensure_ascii=False, separators=(",", ":"))


CONVERTERS = {
    "datetime": cell_ticks,
    "long": lambda c: _to_num(c, "long"),
    "int": lambda c: _to_num(c, "long"),
    "real": lambda c: _to_num(c, "real"),
    "decimal": _to_decimal,
    "bool": _to_bool,
    "string": _to_string,
    "guid": _to_guid,
    "timespan": parse_timespan,
    "dynamic": _to_dynamic,
}

_CLASS = {"int": "num", "long": "num", "real": "num", "decimal": "num",
          "string": "str", "guid": "str", "dynamic": "dyn"}


def _cls(t):
    return _CLASS.get(t, t)


# ---------------------------------------------------------------- tokens

_TOK = re.compile(r"""
  (?P<ws>(?:\s+|//[^\n]*)+)
| (?P<dt>(?:datetime|todatetime)\s*\()
| (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  (?P<unit>microseconds?|milliseconds?|minutes?|seconds?|hours?|days?|
     ticks?|ms|min|d|h|m|s)?(?![A-Za-z0-9_])
| (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
| (?P<vstr>@"(?:[^"]|"")*"|@'(?:[^']|'')*')
| (?P<bid>\[\s*(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*\])
| (?P<id>[A-Za-z_][A-Za-z0-9_]*
     (?:-(?:away|keep|rename|reorder)(?![A-Za-z0-9_]))?)
| (?P<op>==|!=|<=|>=|=~|!~
     |!(?:has_cs|has|contains_cs|contains|startswith|endswith|in)
       (?![A-Za-z0-9_])
     |[<>=,()|-])
""", re.X)

_UNITS = {"d": 86400 * TICKS, "day": 86400 * TICKS, "days": 86400 * TICKS,
          "h": 3600 * TICKS, "hour": 3600 * TICKS, "hours": 3600 * TICKS,
          "m": 60 * TICKS, "min": 60 * TICKS, "minute": 60 * TICKS,
          "minutes": 60 * TICKS, "s": TICKS, "second": TICKS,
          "seconds": TICKS, "ms": TICKS // 1000,
          "millisecond": TICKS // 1000, "milliseconds": TICKS // 1000,
          "microsecond": 10, "microseconds": 10, "tick": 1, "ticks": 1}

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}


def _unescape(body):
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            if n == "u" and re.match(r"[0-9A-Fa-f]{4}", body[i + 2:i + 6]):
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(n, n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Tok:
    __slots__ = ("kind", "value", "pos", "text")

    def __init__(self, kind, value, pos, text):
        self.kind, self.value, self.pos, self.text = kind, value, pos, text

    def is_op(self, *ops):
        return self.kind == "op" and self.value in ops

    def is_kw(self, *words):
        return self.kind == "id" and self.value in words


def tokenize(text):
    toks, pos, n = [], 0, len(text)
    while pos < n:
        m = _TOK.match(text, pos)
        if not m or m.end() == pos:
            raise KqlError("SyntaxError", "", text, pos, text[pos:pos + 1])
        kind = m.lastgroup if m.lastgroup != "unit" else "num"
        raw = m.group(0)
        if kind == "ws":
            pos = m.end()
            continue
        if kind == "dt":
            toks.append(_datetime_token(text, pos, m.end()))
            pos = toks[-1].value[1]
            toks[-1].value = toks[-1].value[0]
            continue
        if kind == "num":
            num, unit = m.group("num"), m.group("unit")
            if unit:
                ticks = int(decimal.Decimal(num) * _UNITS[unit])
                toks.append(Tok("span", ticks, pos, raw))
            elif re.fullmatch(r"\d+", num):
                toks.append(Tok("num", int(num), pos, raw))
            else:
                toks.append(Tok("num", float(num), pos, raw))
        elif kind == "str":
            toks.append(Tok("str", _unescape(raw[1:-1]), pos, raw))
        elif kind == "vstr":
            q = raw[1]
            toks.append(Tok("str", raw[2:-1].replace(q + q, q), pos, raw))
        elif kind == "bid":
            inner = raw[1:-1].strip()
            toks.append(Tok("bid", _unescape(inner[1:-1]), pos, raw))
        else:
            toks.append(Tok(kind, raw, pos, raw))
        pos = m.end()
    toks.append(Tok("eof", None, n, "<end of query>"))
    return toks


def _datetime_token(text, start, pos):
    """datetime( ... ): the content is raw text up to ')' (it may hold
    spaces and colons), optionally quoted.  Returns a Tok whose value is
    (ticks or None for datetime(null), end position)."""
    close = text.find(")", pos)
    if close < 0:
        raise KqlError("SyntaxError", "", text, len(text), "<end of query>")
    inner = text[pos:close].strip()
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "\"'":
        inner = inner[1:-1]
    if inner == "null":
        ticks = None
    else:
        ticks = parse_datetime(inner, max_digits=7)
        if ticks is None:
            raw = text[pos:close]
            where = pos + len(raw) - len(raw.lstrip())
            raise KqlError("SyntaxError", "", text, where, inner or ")")
    return Tok("dt", (ticks, close + 1), start, text[start:close + 1])


# ---------------------------------------------------------------- parser

CMP_OPS = ("==", "!=", "<", "<=", ">", ">=")
STR_OPS = ("=~", "!~", "has", "!has", "has_cs", "!has_cs", "contains",
           "!contains", "contains_cs", "!contains_cs", "startswith",
           "!startswith", "endswith", "!endswith")
PRED_FUNCS = ("isempty", "isnotempty", "isnull", "isnotnull")


class Query:
    def __init__(self, text, source, ops):
        self.text, self.source, self.ops = text, source, ops


class Parser:
    def __init__(self, text, now):
        self.text = text
        self.now = now
        self.toks = tokenize(text)
        self.i = 0

    def peek(self, k=0):
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self):
        t = self.toks[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def fail(self, tok=None):
        tok = tok or self.peek()
        raise KqlError("SyntaxError", "", self.text, tok.pos, tok.text)

    def expect_op(self, op):
        t = self.next()
        if not t.is_op(op):
            self.fail(t)
        return t

    def expect_kw(self, word):
        t = self.next()
        if not t.is_kw(word):
            self.fail(t)
        return t

    def name(self):
        t = self.next()
        if t.kind in ("id", "bid"):
            return t.value, t.pos
        self.fail(t)

    def integer(self):
        t = self.next()
        if t.kind != "num" or not isinstance(t.value, int):
            self.fail(t)
        return t.value

    # query := source { '|' operator }
    def parse(self):
        source = self.name()
        ops = []
        while self.peek().is_op("|"):
            self.next()
            ops.append(self.operator())
        if self.peek().kind != "eof":
            self.fail()
        return Query(self.text, source, ops)

    def operator(self):
        t = self.next()
        if t.kind != "id":
            self.fail(t)
        w = t.value
        if w in ("where", "filter"):
            return ("where", self.expr(), t.pos)
        if w == "project":
            return ("project", self.items(assign_ok=True), t.pos)
        if w in ("project-away", "project-keep", "project-reorder"):
            return (w, self.name_list(), t.pos)
        if w == "project-rename":
            return (w, self.items(assign_only=True, rename=True), t.pos)
        if w == "extend":
            return ("extend", self.items(assign_only=True), t.pos)
        if w in ("take", "limit"):
            return ("take", self.integer(), t.pos)
        if w in ("order", "sort"):
            self.expect_kw("by")
            return ("order", self.sort_list(), t.pos)
        if w == "top":
            n = self.integer()
            self.expect_kw("by")
            return ("top", (n, self.sort_list()), t.pos)
        if w == "count":
            return ("count", None, t.pos)
        self.fail(t)

    def name_list(self):
        names = [self.name()]
        while self.peek().is_op(","):
            self.next()
            names.append(self.name())
        return names

    def items(self, assign_ok=False, assign_only=False, rename=False):
        out = []
        while True:
            name, pos = self.name()
            if self.peek().is_op("="):
                if not (assign_ok or assign_only):
                    self.fail()
                self.next()
                if rename:
                    out.append(("assign", name, ("col",) + self.name(), pos))
                else:
                    out.append(("assign", name, self.operand(), pos))
            elif assign_only:
                self.fail()
            else:
                out.append(("col", name, pos))
            if not self.peek().is_op(","):
                return out
            self.next()

    def sort_list(self):
        out = []
        while True:
            if self.peek().is_kw("ingestion_time") and \
                    self.peek(1).is_op("("):
                key = self.operand()
            else:
                key = ("col",) + self.name()
            desc = True
            if self.peek().is_kw("asc", "desc"):
                desc = self.next().value == "desc"
            nulls_last = desc
            if self.peek().is_kw("nulls"):
                self.next()
                t = self.next()
                if not t.is_kw("first", "last"):
                    self.fail(t)
                nulls_last = t.value == "last"
            out.append((key, desc, nulls_last))
            if not self.peek().is_op(","):
                return out
            self.next()

    # predicates
    def expr(self):
        left = self.conj()
        while self.peek().is_kw("or"):
            self.next()
            left = ("or", left, self.conj())
        return left

    def conj(self):
        left = self.unary()
        while self.peek().is_kw("and"):
            self.next()
            left = ("and", left, self.unary())
        return left

    def unary(self):
        t = self.peek()
        if t.is_kw("not") and self.peek(1).is_op("("):
            self.next()
            self.next()
            inner = self.expr()
            self.expect_op(")")
            return ("not", inner)
        if t.is_op("("):
            self.next()
            inner = self.expr()
            self.expect_op(")")
            return inner
        if t.is_kw(*PRED_FUNCS) and self.peek(1).is_op("("):
            self.next()
            self.next()
            arg = self.operand()
            self.expect_op(")")
            return ("fn", t.value, arg, t.pos)
        left = self.operand()
        o = self.peek()
        if o.is_op(*CMP_OPS) or o.is_op("=~", "!~") or o.is_kw(*STR_OPS) \
                or o.is_op(*STR_OPS):
            self.next()
            return ("cmp", o.value, left, self.operand(), o.pos)
        if o.is_kw("in") or o.is_op("!in"):
            self.next()
            self.expect_op("(")
            items = [self.operand()]
            while self.peek().is_op(","):
                self.next()
                items.append(self.operand())
            self.expect_op(")")
            return ("in", o.value == "!in", left, items, o.pos)
        return ("bool", left, t.pos)

    def operand(self):
        t = self.next()
        if t.is_op("-"):
            n = self.next()
            if n.kind == "num":
                return ("lit", "long" if isinstance(n.value, int) else "real",
                        -n.value, t.pos)
            if n.kind == "span":
                return ("lit", "timespan", -n.value, t.pos)
            self.fail(n)
        if t.kind == "num":
            return ("lit", "long" if isinstance(t.value, int) else "real",
                    t.value, t.pos)
        if t.kind == "span":
            return ("lit", "timespan", t.value, t.pos)
        if t.kind == "str":
            return ("lit", "string", t.value, t.pos)
        if t.kind == "dt":
            return ("lit", "datetime", t.value, t.pos)
        if t.kind == "bid":
            return ("col", t.value, t.pos)
        if t.kind == "id":
            if t.value in ("true", "false"):
                return ("lit", "bool", t.value == "true", t.pos)
            if t.value in ("ago", "now") and self.peek().is_op("("):
                self.next()
                span = 0
                if not self.peek().is_op(")"):
                    sign = 1
                    if self.peek().is_op("-"):
                        self.next()
                        sign = -1
                    s = self.next()
                    if s.kind != "span":
                        self.fail(s)
                    span = sign * s.value
                elif t.value == "ago":
                    self.fail()
                self.expect_op(")")
                ticks = self.now + (-span if t.value == "ago" else span)
                return ("lit", "datetime", ticks, t.pos)
            if t.value == "ingestion_time" and self.peek().is_op("("):
                self.next()
                self.expect_op(")")
                return ("ingest", t.pos)
            if self.peek().is_op("(") or t.value in (
                    "and", "or", "by", "asc", "desc"):
                self.fail(t)                  # unsupported function/keyword
            return ("col", t.value, t.pos)
        self.fail(t)


def parse(text, now):
    """Parse a query; raises KqlError("SyntaxError")."""
    return Parser(text, now).parse()


# ---------------------------------------------------------------- compile

def _lit_cell(kind, value):
    """A literal as a result cell (the way LA would print it)."""
    if value is None:
        return None
    if kind == "datetime":
        return format_datetime(value)
    if kind == "timespan":
        return format_timespan(value)
    return value


class _Ctx:
    def __init__(self, text, schema):
        self.text = text
        self.schema = schema
        self.index = {name: i for i, (name, _) in enumerate(schema)}

    def sem(self, message, pos=None):
        raise KqlError("SemanticError", message, self.text, pos)

    def column(self, name, pos):
        if name not in self.index:
            self.sem("Failed to resolve scalar expression named '%s'" % name,
                     pos)
        return self.index[name]

    def operand(self, node):
        """-> (type, typed getter, raw getter).  Getters and predicates are
        called as f(row, ing): ing is the row's hidden ingestion time."""
        if node[0] == "lit":
            kind, value = node[1], node[2]
            cell = _lit_cell(kind, value)
            return kind, (lambda row, ing: value), (lambda row, ing: cell)
        if node[0] == "ingest":
            return ("datetime", (lambda row, ing: ing),
                    (lambda row, ing: _lit_cell("datetime", ing)))
        idx = self.column(node[1], node[2])
        kind = self.schema[idx][1]
        conv = CONVERTERS[kind]
        return (kind, (lambda row, ing: conv(row[idx])),
                (lambda row, ing: row[idx]))

    def predicate(self, node):
        kind = node[0]
        if kind == "and":
            a, b = self.predicate(node[1]), self.predicate(node[2])

            def f_and(row, ing):
                x = a(row, ing)
                if x is False:
                    return False
                y = b(row, ing)
                if y is False:
                    return False
                return None if x is None or y is None else True
            return f_and
        if kind == "or":
            a, b = self.predicate(node[1]), self.predicate(node[2])

            def f_or(row, ing):
                x = a(row, ing)
                if x is True:
                    return True
                y = b(row, ing)
                if y is True:
                    return True
                return None if x is None or y is None else False
            return f_or
        if kind == "not":
            a = self.predicate(node[1])

            def f_not(row, ing):
                x = a(row, ing)
                return None if x is None else not x
            return f_not
        if kind == "fn":
            _, get, _ = self.operand(node[2])
            name = node[1]
            if name == "isnull":
                return lambda row, ing: get(row, ing) is None
            if name == "isnotnull":
                return lambda row, ing: get(row, ing) is not None
            if name == "isempty":
                return lambda row, ing: get(row, ing) in (None, "")
            return lambda row, ing: get(row, ing) not in (None, "")
        if kind == "bool":
            t, get, _ = self.operand(node[1])
            if t != "bool":
                self.sem("The expression must be of type bool, but is of "
                         "type %s" % t, node[2])
            return get
        if kind == "in":
            return self.in_list(node)
        return self.compare(node)

    def compare(self, node):
        op, pos = node[1], node[4]
        lt, lget, _ = self.operand(node[2])
        rt, rget, _ = self.operand(node[3])
        lc, rc = _cls(lt), _cls(rt)
        if op in CMP_OPS:
            ok = lc == rc and lc != "dyn"
            if lc == rc == "bool" and op not in ("==", "!="):
                ok = False
            if {lc, rc} == {"dyn", "str"} and op in ("==", "!="):
                ok = True
            if not ok:
                self.sem("Cannot compare values of types %s and %s. Try "
                         "adding explicit casts" % (lt, rt), pos)
            fold = "guid" in (lt, rt)
            fn = _CMP[op]

            def f_cmp(row, ing):
                a, b = lget(row, ing), rget(row, ing)
                if a is None or b is None:
                    return None
                if fold:
                    a, b = a.lower(), b.lower()
                return fn(a, b)
            return f_cmp
        if lc not in ("str", "dyn") or rc != "str":
            self.sem("Operator '%s' expects string arguments, got %s and %s"
                     % (op, lt, rt), pos)
        neg = op.startswith("!")
        base = op.lstrip("!")
        if base == "~":                    # "!~"
            base = "=~"
        test = _STR_TESTS[base]

        def f_str(row, ing):
            a, b = lget(row, ing), rget(row, ing)
            if a is None or b is None:
                return None
            r = test(a, b)
            return not r if neg else r
        return f_str

    def in_list(self, node):
        neg, pos = node[1], node[4]
        lt, lget, _ = self.operand(node[2])
        values = []
        for item in node[3]:
            if item[0] != "lit":
                self.sem("The 'in' operator expects constant values", pos)
            if _cls(item[1]) != _cls(lt) and not (
                    _cls(lt) in ("str", "dyn") and item[1] == "string"):
                self.sem("Cannot compare values of types %s and %s"
                         % (lt, item[1]), pos)
            values.append(item[2].lower() if lt == "guid" else item[2])

        def f_in(row, ing):
            a = lget(row, ing)
            if a is None:
                return None
            r = a in values
            return not r if neg else r
        return f_in


def _has(hay, term, cs=False):
    if not cs:
        hay, term = hay.lower(), term.lower()
    if term == "":
        return True
    start = 0
    while True:
        i = hay.find(term, start)
        if i < 0:
            return False
        j = i + len(term)
        if ((i == 0 or not hay[i - 1].isalnum() or not term[0].isalnum())
                and (j == len(hay) or not hay[j].isalnum()
                     or not term[-1].isalnum())):
            return True
        start = i + 1


_CMP = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}

_STR_TESTS = {
    "=~": lambda a, b: a.lower() == b.lower(),
    "has": _has,
    "has_cs": lambda a, b: _has(a, b, True),
    "contains": lambda a, b: b.lower() in a.lower(),
    "contains_cs": lambda a, b: b in a,
    "startswith": lambda a, b: a.lower().startswith(b.lower()),
    "endswith": lambda a, b: a.lower().endswith(b.lower()),
}


# ---------------------------------------------------------------- execute

def execute(query, get_table, span=None):
    """Runs a parsed query.  span: (start, end) ticks applied to the source
    table's TimeGenerated (half-open) before the query, like the service's
    timespan parameter (None: no time restriction).  Returns (schema
    [(name, type)], rows)."""
    text = query.text
    name, pos = query.source
    table = get_table(name)
    if table is None:
        raise KqlError("SemanticError",
                       "Failed to resolve table or column expression named "
                       "'%s'" % name, text, pos)
    schema, rows = list(table[0]), table[1]
    # ings[i] is the hidden ingestion time of rows[i]: every operator below
    # keeps the two lists aligned.
    ings = table[2] if len(table) > 2 and table[2] is not None else None
    if ings is None:
        ings = [None] * len(rows)
    elif len(ings) != len(rows):
        raise ValueError("table %s: %d ingestion times for %d rows"
                         % (name, len(ings), len(rows)))
    if span is not None:
        names = [c[0] for c in schema]
        if "TimeGenerated" in names:
            idx = names.index("TimeGenerated")
            start, end = span
            kept = []
            for r, ing in zip(rows, ings):
                t = cell_ticks(r[idx])
                if t is not None and start <= t < end:
                    kept.append((r, ing))
            rows, ings = _unzip(kept)
    rows, ings = list(rows), list(ings)
    for op, arg, opos in query.ops:
        ctx = _Ctx(text, schema)
        if op == "where":
            pred = ctx.predicate(arg)
            rows, ings = _unzip([(r, ing) for r, ing in zip(rows, ings)
                                 if pred(r, ing) is True])
        elif op == "take":
            rows, ings = rows[:arg], ings[:arg]
        elif op == "order":
            rows, ings = _sort(ctx, rows, ings, arg)
        elif op == "top":
            rows, ings = _sort(ctx, rows, ings, arg[1])
            rows, ings = rows[:arg[0]], ings[:arg[0]]
        elif op == "count":
            # An aggregation: the result row was never ingested.
            schema, rows = [("Count", "long")], [[len(rows)]]
            ings = [None]
        elif op == "project":
            getters, new = [], []
            for item in arg:
                if item[0] == "col":
                    idx = ctx.column(item[1], item[2])
                    new.append((item[1], schema[idx][1]))
                    getters.append(_getter(idx))
                else:
                    t, _, raw = ctx.operand(item[2])
                    new.append((item[1], t))
                    getters.append(raw)
            _unique(ctx, new, opos)
            schema = new
            rows = [[g(r, ing) for g in getters]
                    for r, ing in zip(rows, ings)]
        elif op in ("project-away", "project-keep", "project-reorder"):
            listed = [ctx.column(n, p) for n, p in arg]
            if op == "project-away":
                keep = [i for i in range(len(schema)) if i not in listed]
            elif op == "project-keep":
                keep = [i for i in range(len(schema)) if i in listed]
            else:
                keep = listed + [i for i in range(len(schema))
                                 if i not in listed]
            schema = [schema[i] for i in keep]
            rows = [[r[i] for i in keep] for r in rows]
        elif op == "project-rename":
            new = list(schema)
            for _, newname, src, _ in arg:
                idx = ctx.column(src[1], src[2])
                new[idx] = (newname, schema[idx][1])
            _unique(ctx, new, opos)
            schema = new
        elif op == "extend":
            new = list(schema)
            getters = [_getter(i) for i in range(len(schema))]
            for _, name2, node, _ in arg:
                t, _, raw = ctx.operand(node)
                names = [c[0] for c in new]
                if name2 in names:
                    i = names.index(name2)
                    new[i] = (name2, t)
                    getters[i] = raw
                else:
                    new.append((name2, t))
                    getters.append(raw)
            schema = new
            rows = [[g(r, ing) for g in getters]
                    for r, ing in zip(rows, ings)]
    return schema, rows


def _getter(idx):
    return lambda row, ing: row[idx]


def _unzip(pairs):
    """[(row, ing), ...] -> ([row, ...], [ing, ...])."""
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _unique(ctx, schema, pos):
    names = [c[0] for c in schema]
    for n in names:
        if names.count(n) > 1:
            ctx.sem("A column named '%s' appears more than once" % n, pos)


def _sort(ctx, rows, ings, keys):
    """Sorts rows (and their ingestion times along) -> (rows, ings)."""
    pairs = list(zip(rows, ings))
    for node, desc, nulls_last in reversed(keys):
        _, get, _ = ctx.operand(node)
        # With reverse=True the first tuple element is reversed too.
        null_rank = 1 if nulls_last != desc else 0

        def key(pair, get=get, null_rank=null_rank):
            v = get(pair[0], pair[1])
            if v is None:
                return (null_rank, 0)
            return (1 - null_rank, v)
        pairs.sort(key=key, reverse=desc)
    return _unzip(pairs)
