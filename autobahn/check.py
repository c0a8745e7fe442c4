#!/usr/bin/env python3
"""Compare kosoku (Autobahn TestSuite) reports for wsmachine against autobahn/expected.json.

Roles name the side wsmachine plays:
  server -- kosoku ran in fuzzingclient mode against wsmachine's echo server
  client -- kosoku ran in fuzzingserver mode for wsmachine's client

Each report directory holds kosoku's index.json: {agent: {case_id: {"behavior": ...,
"behaviorClose": ..., "reportfile": ...}}}. Every case must carry exactly the expected
(behavior, behaviorClose) pair; a missing or extra case is a mismatch too.

Exit status: 0 when every role matches, 1 on any mismatch, 2 when an input is unusable.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EXPECTED = ROOT / "autobahn" / "expected.json"
DEFAULT_REPORTS = ROOT / "reports" / "autobahn"
ROLES = ("server", "client")
MODE_OF_ROLE = {"server": "fuzzingclient", "client": "fuzzingserver"}

OK = "OK"
INFORMATIONAL = "INFORMATIONAL"
# Cases the suite grades INFORMATIONAL unconditionally (both fields), whatever the peer
# does: the behaviour they probe is left open by RFC 6455.
INFORMATIONAL_CASES = ("7.1.6", "7.13.1", "7.13.2")

README_BEGIN = "<!-- autobahn:begin -->"
README_END = "<!-- autobahn:end -->"


class InputError(Exception):
    """An input file is missing or not in the expected shape."""


def case_key(case_id: str) -> list[int]:
    """Numeric order of case ids: 1.2.10 after 1.2.9."""
    try:
        return [int(part) for part in case_id.split(".")]
    except ValueError:
        raise InputError(f"malformed case id {case_id!r}") from None


def load_json(path: Path) -> object:
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise InputError(f"{path}: not found") from None
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: {e}") from None


def load_index(path: Path) -> tuple[str, dict[str, dict]]:
    """Return (agent, {case_id: entry}) from one kosoku index.json.

    A report directory holds the results of exactly one peer; more than one agent means
    stale or mixed reports, which would make the comparison meaningless.
    """
    data = load_json(path)
    if not isinstance(data, dict) or not data:
        raise InputError(f"{path}: no agent in the index")
    if len(data) != 1:
        raise InputError(f"{path}: expected one agent, found {sorted(data)}")
    ((agent, cases),) = data.items()
    if not isinstance(cases, dict):
        raise InputError(f"{path}: agent {agent!r} has no case table")
    for case_id, entry in cases.items():
        case_key(case_id)
        if not isinstance(entry, dict) or "behavior" not in entry or "behaviorClose" not in entry:
            raise InputError(f"{path}: case {case_id} lacks behavior/behaviorClose")
    return agent, cases


def case_detail(index_path: Path, entry: dict) -> str:
    """The case report's explanation of its verdict, when the report file is readable."""
    name = entry.get("reportfile")
    if not isinstance(name, str):
        return ""
    try:
        with (index_path.parent / name).open(encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, json.JSONDecodeError):
        return ""
    parts = [report.get("result"), report.get("resultClose")]
    code = report.get("remoteCloseCode")
    if code is not None:
        parts.append(f"peer close code {code}")
    return "; ".join(str(p) for p in parts if p)


def combined_grade(behavior: str, behavior_close: str) -> str:
    """Collapse a case's two verdicts into OK / INFORMATIONAL / other for the summary."""
    if behavior == OK and behavior_close == OK:
        return OK
    if behavior == INFORMATIONAL and behavior_close in (INFORMATIONAL, OK):
        return INFORMATIONAL
    return "other"


def compare_role(
    role: str, index_path: Path, expected: dict[str, list[str]]
) -> tuple[list[str], Counter, int]:
    """Return (mismatch lines, combined-grade counts, case count) for one role."""
    agent, cases = load_index(index_path)
    behavior_counts = Counter(e["behavior"] for e in cases.values())
    close_counts = Counter(e["behaviorClose"] for e in cases.values())
    grades = Counter(combined_grade(e["behavior"], e["behaviorClose"]) for e in cases.values())

    mismatches = []
    for case_id in sorted(set(expected) | set(cases), key=case_key):
        want = expected.get(case_id)
        entry = cases.get(case_id)
        if entry is None:
            mismatches.append(f"  {case_id}: missing from the report (expected {want[0]}/{want[1]})")
            continue
        got = [entry["behavior"], entry["behaviorClose"]]
        if want is None:
            mismatches.append(f"  {case_id}: not in expected.json (got {got[0]}/{got[1]})")
        elif got != want:
            detail = case_detail(index_path, entry)
            line = f"  {case_id}: expected {want[0]}/{want[1]}, got {got[0]}/{got[1]}"
            mismatches.append(line + (f" -- {detail}" if detail else ""))

    print(f"[{role}] {MODE_OF_ROLE[role]} report {index_path} (agent {agent!r}): {len(cases)} cases")
    print(f"[{role}]   behavior:      {format_counts(behavior_counts)}")
    print(f"[{role}]   behaviorClose: {format_counts(close_counts)}")
    if mismatches:
        print(f"[{role}]   {len(mismatches)} mismatch(es) against expected.json:")
        for line in mismatches:
            print(line)
    else:
        print(f"[{role}]   all {len(expected)} cases match expected.json")
    return mismatches, grades, len(cases)


def format_counts(counts: Counter) -> str:
    return ", ".join(f"{grade} {n}" for grade, n in sorted(counts.items())) or "none"


def load_expected(path: Path, roles: list[str]) -> dict[str, dict[str, list[str]]]:
    data = load_json(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: not an object")
    for role in roles:
        table = data.get(role)
        if not isinstance(table, dict) or not table:
            raise InputError(f"{path}: no case table for role {role!r}")
        for case_id, pair in table.items():
            case_key(case_id)
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(g, str) for g in pair)):
                raise InputError(f"{path}: {role} {case_id}: expected [behavior, behaviorClose]")
    return data


def generate_expected(index_paths: dict[str, Path], out: Path) -> None:
    """Write expected.json from the case lists of real kosoku runs.

    Only the case ids come from the reports; the grades are the bar wsmachine must meet:
    OK/OK everywhere except the cases the suite always grades INFORMATIONAL.
    """
    table = {}
    for role, path in index_paths.items():
        _, cases = load_index(path)
        ids = sorted(cases, key=case_key)
        absent = [c for c in INFORMATIONAL_CASES if c not in cases]
        if absent:
            raise InputError(f"{path}: informational cases {absent} are not in the run")
        table[role] = {
            c: [INFORMATIONAL, INFORMATIONAL] if c in INFORMATIONAL_CASES else [OK, OK]
            for c in ids
        }
        print(f"[{role}] {len(ids)} cases from {path}")
    # One case per line keeps diffs of this file readable.
    blocks = []
    for role, cases in table.items():
        rows = ",\n".join(f"    {json.dumps(c)}: {json.dumps(pair)}" for c, pair in cases.items())
        blocks.append(f"  {json.dumps(role)}: {{\n{rows}\n  }}")
    out.write_text("{\n" + ",\n".join(blocks) + "\n}\n", encoding="utf-8")
    print(f"wrote {out}")


def readme_block(results: dict[str, tuple[Counter, int, int]]) -> str:
    lines = [
        README_BEGIN,
        "| Role | Cases | OK | INFORMATIONAL | Other | Mismatches |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for role in ROLES:
        if role not in results:
            continue
        grades, total, mismatches = results[role]
        lines.append(
            f"| {role} ({MODE_OF_ROLE[role]}) | {total} | {grades[OK]} | "
            f"{grades[INFORMATIONAL]} | {grades['other']} | {mismatches} |"
        )
    lines.append("")
    lines.append(
        "Autobahn TestSuite cases run with kosoku 0.1.0 (`autobahn/run.sh`), "
        "permessage-deflate's 12.* and 13.* included."
    )
    lines.append(README_END)
    return "\n".join(lines)


def write_readme(path: Path, block: str) -> None:
    if path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        text = f"# wsmachine\n\n## Autobahn TestSuite results\n\n{README_BEGIN}\n{README_END}\n"
    begin = text.find(README_BEGIN)
    end = text.find(README_END, begin + len(README_BEGIN)) if begin >= 0 else -1
    if begin < 0 or end < 0:
        raise InputError(f"{path}: markers {README_BEGIN} ... {README_END} not found")
    text = text[:begin] + block + text[end + len(README_END):]
    path.write_text(text, encoding="utf-8")
    print(f"updated the results table in {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-index", type=Path, default=DEFAULT_REPORTS / "server" / "index.json",
                        help="index.json of the fuzzingclient run (wsmachine as server)")
    parser.add_argument("--client-index", type=Path, default=DEFAULT_REPORTS / "client" / "index.json",
                        help="index.json of the fuzzingserver run (wsmachine as client)")
    parser.add_argument("--expected", type=Path, default=DEFAULT_EXPECTED)
    parser.add_argument("--roles", default="server,client",
                        help="comma-separated roles to check (default: server,client)")
    parser.add_argument("--write-readme", type=Path, metavar="README",
                        help="rewrite the results table between the autobahn markers in README")
    parser.add_argument("--generate-expected", action="store_true",
                        help="write --expected from the case lists of the given reports, then stop")
    args = parser.parse_args(argv)

    roles = [r for r in args.roles.split(",") if r]
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        parser.error(f"--roles takes a list from {ROLES}")
    index_paths = {"server": args.server_index, "client": args.client_index}
    index_paths = {r: index_paths[r] for r in roles}

    try:
        if args.generate_expected:
            generate_expected(index_paths, args.expected)
            return 0
        expected = load_expected(args.expected, roles)
        results = {}
        failed = False
        for role in roles:
            try:
                mismatches, grades, total = compare_role(role, index_paths[role], expected[role])
            except InputError as e:
                print(f"[{role}] no usable report: {e}")
                failed = True
                continue
            results[role] = (grades, total, len(mismatches))
            failed |= bool(mismatches)
        if args.write_readme:
            if set(results) == set(ROLES):
                write_readme(args.write_readme, readme_block(results))
            else:
                print(f"not updating {args.write_readme}: it needs usable reports for both roles")
                failed = True
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("autobahn: FAIL" if failed else "autobahn: PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
