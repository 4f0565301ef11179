"""The admin command-line client.

    python -m clients.admin import FILE [--url URL] [--token TOKEN]

Uploads FILE to `importCsv` (GraphQL multipart request spec) and prints what
happened as a table. URL defaults to $SESSIONGRAPH_URL, else
http://127.0.0.1:8000/graphql (a URL without a path gets /graphql); TOKEN to
$SESSIONGRAPH_TOKEN (`sessiongraph token EMAIL` prints one).

Exit status: 0 imported; 1 refused (the file has errors; nothing was imported);
2 wrong usage or unreadable FILE; 3 the request failed (unreachable, not signed
in, not an admin, server error).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import httpx

from sessiongraph.clients.documents import load_operations

IMPORT_CSV = next(operation for operation in load_operations("admin") if operation.name == "ImportCsv")
DEFAULT_URL = "http://127.0.0.1:8000/graphql"

IMPORTED, REFUSED, USAGE, FAILED = 0, 1, 2, 3


class RequestFailed(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(argv))


async def run(argv: list[str] | None = None, *, transport: httpx.AsyncBaseTransport | None = None,
              out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    path = Path(args.file)
    if not path.is_file():  # noqa: ASYNC240 (one stat before the only request this command makes)
        print(f"import: {path} is not a readable file", file=err)
        return USAGE
    if not args.token:
        print("import: give --token or set SESSIONGRAPH_TOKEN (`sessiongraph token EMAIL` prints one)", file=err)
        return USAGE
    try:
        payload = await import_file(path, url=graphql_url(args.url), token=args.token, transport=transport)
    except RequestFailed as failure:
        print(f"import: {failure}", file=err)
        return FAILED
    return report(path, payload, out)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clients.admin", description="sessiongraph admin tooling",
                                     epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    imports = commands.add_parser("import", help="import a CSV file of enrollments or Chamilo sessions")
    imports.add_argument("file", help="the CSV file")
    imports.add_argument("--url", default=os.environ.get("SESSIONGRAPH_URL", DEFAULT_URL),
                         help="the GraphQL endpoint (default: $SESSIONGRAPH_URL or %(default)s)")
    imports.add_argument("--token", default=os.environ.get("SESSIONGRAPH_TOKEN"),
                         help="an admin's bearer token (default: $SESSIONGRAPH_TOKEN)")
    return parser


def graphql_url(url: str) -> str:
    parsed = httpx.URL(url)
    return str(parsed.copy_with(path="/graphql")) if parsed.path in ("", "/") else url


async def import_file(path: Path, *, url: str, token: str,
                      transport: httpx.AsyncBaseTransport | None = None) -> dict[str, Any]:
    """The importCsv payload; RequestFailed when there is none to show."""
    # The document with its hash: a service running trusted documents only takes it as the manifest's.
    operations = {"query": IMPORT_CSV.document, "operationName": "ImportCsv", "variables": {"input": {"file": None}},
                  "extensions": {"persistedQuery": {"version": 1, "sha256Hash": IMPORT_CSV.sha256}}}
    form = {"operations": json.dumps(operations), "map": json.dumps({"file": ["variables.input.file"]})}
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(30.0, read=600.0)) as client:
            with path.open("rb") as file:
                response = await client.post(url, data=form, files={"file": (path.name, file, "text/csv")},
                                             headers=headers)
    except httpx.HTTPError as error:
        raise RequestFailed(f"cannot reach {url}: {error}") from error
    try:
        body = response.json()
    except ValueError:
        raise RequestFailed(f"{url} answered HTTP {response.status_code}, not GraphQL") from None
    if body.get("errors"):
        first = body["errors"][0]
        code = (first.get("extensions") or {}).get("code", f"HTTP {response.status_code}")
        raise RequestFailed(f"the server refused the request: {first.get('message')} ({code})")
    payload = (body.get("data") or {}).get("importCsv")
    if payload is None:
        raise RequestFailed(f"{url} answered HTTP {response.status_code} without an importCsv result")
    return payload


def report(path: Path, payload: dict[str, Any], out: TextIO) -> int:
    kind = {"ENROLLMENTS": "enrollments", "CHAMILO_SESSIONS": "Chamilo sessions"}.get(payload.get("format") or "")
    what = f"{path.name} ({kind} file)" if kind else path.name
    if payload["errors"]:
        print(f"Refused {what}:", file=out)
        for error in payload["errors"]:
            print(f"  {error['message']}", file=out)
        if payload["rowErrors"]:
            print(file=out)
            _problems(payload["rowErrors"], out)
        not_listed = payload["rowErrorCount"] - len(payload["rowErrors"])
        if not_listed > 0:
            print(f"({not_listed:,} more not listed: fix these and import again to see them.)", file=out)
        return REFUSED
    print(f"Imported {what}.", file=out)
    _table(["", "ROWS"], [["created", f"{payload['created']:,}"], ["updated", f"{payload['updated']:,}"],
                          ["already enrolled", f"{payload['alreadyEnrolled']:,}"]], out, right=[1])
    if payload["warnings"]:
        print("\nImported, but worth a look:", file=out)
        _problems(payload["warnings"], out)
    return IMPORTED


def _problems(problems: list[dict[str, Any]], out: TextIO) -> None:
    rows = [[str(p["line"]), p["column"] or "", p["code"], _detail(p)] for p in problems]
    _table(["LINE", "COLUMN", "CODE", "PROBLEM"], rows, out, right=[0])


def _detail(problem: dict[str, Any]) -> str:
    """The message without the "Line 3, column email: " the table already shows."""
    where = f"Line {problem['line']}" + (f", column {problem['column']}" if problem["column"] else "") + ": "
    message = problem["message"]
    return message[len(where):] if message.startswith(where) else message


def _table(header: list[str], rows: list[list[str]], out: TextIO, right: Sequence[int] = ()) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                         for i, (cell, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    print(line(header), file=out)
    for row in rows:
        print(line(row), file=out)
