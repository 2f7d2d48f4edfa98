#!/usr/bin/env python3
"""Prints the metric names a list of PromQL expressions select, one a line, sorted.

Input (stdin): a JSON array of expressions. Grafana's `label_values(SELECTOR, LABEL)`
is read as its SELECTOR. This is a lexer, not a parser: run promtool on the same
expressions to know they parse; this tells which names they use. What it skips:
function and aggregation names (an identifier before "(", or an aggregation keyword),
label lists after by/without/on/ignoring/group_left/group_right, label matchers in {}
(except a __name__="..." matcher, which is a name), ranges and subqueries in [],
strings, numbers and durations, operators and keywords.
"""
import json
import re
import sys

KEYWORDS = {"and", "or", "unless", "atan2", "bool", "offset", "inf", "nan"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
                "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
TOKEN = re.compile(r'''
    (?P<space>\s+)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<number>0x[0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?:(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*)?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<var>\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?)
  | (?P<punct>[(){}\[\],@]|[=!]~|[=!<>]=|[-+*/%^<>=])
''', re.VERBOSE)


def tokens(expr):
    pos = 0
    out = []
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot read {expr[pos:pos + 20]!r} in {expr!r}")
        pos = m.end()
        if m.lastgroup != "space":
            out.append((m.lastgroup, m.group()))
    return out


def skip_group(toks, i, close):
    """toks[i] opens a group; returns the index after its matching close."""
    opener = toks[i][1]
    depth = 0
    for j in range(i, len(toks)):
        if toks[j][1] == opener:
            depth += 1
        elif toks[j][1] == close:
            depth -= 1
            if depth == 0:
                return j + 1
    raise ValueError(f"unbalanced {opener}")


def names(expr):
    m = re.fullmatch(r'\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*', expr, re.S)
    if m:
        expr = m.group(1)
    toks = tokens(expr)
    found = set()
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else None
        if text == "{":
            end = skip_group(toks, i, "}")
            inner = toks[i + 1:end - 1]
            for k in range(len(inner) - 2):
                if inner[k][1] == "__name__" and inner[k + 1][1] == "=" and inner[k + 2][0] == "string":
                    found.add(inner[k + 2][1][1:-1])
            i = end
        elif text == "[":
            i = skip_group(toks, i, "]")
        elif kind == "ident" and text.lower() in LABEL_LISTS:
            i = skip_group(toks, i + 1, ")") if nxt == "(" else i + 1
        elif kind == "ident" and (nxt == "(" or text.lower() in KEYWORDS or text in AGGREGATIONS):
            i += 1
        elif kind == "ident":
            found.add(text)
            i += 1
        else:
            i += 1
    return found


def main():
    exprs = json.load(sys.stdin)
    result = set()
    for e in exprs:
        result |= names(e)
    for n in sorted(result):
        print(n)


if __name__ == "__main__":
    main()
