"""The admin command-line client: it speaks GraphQL to the service, sending each document with
its hash (a service running trusted documents only takes it as the manifest's).

    python -m clients.admin import FILE                     # enrollments or Chamilo sessions
    python -m clients.admin users import FILE               # users: email,name[,time_zone,...]
    python -m clients.admin export tracking SESSION --format csv -o tracking.csv
    python -m clients.admin export enrollments SESSION --format xlsx -o enrollments.xlsx
    python -m clients.admin sessions create NAME [--access-start ...] [--course-id ID ...]

Every command takes --url (default $SESSIONGRAPH_URL, else http://127.0.0.1:8000/graphql;
a URL without a path gets /graphql) and --token (default $SESSIONGRAPH_TOKEN; `sessiongraph
token EMAIL` prints one). `python -m clients.admin COMMAND --help` shows an example.

Exit status: 0 done; 1 refused (the file or the input has errors; nothing was written);
2 wrong usage or unreadable FILE; 3 the request failed (unreachable, not signed in, not
allowed, server error).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import httpx

from sessiongraph.clients.documents import Operation, load_operations

OPERATIONS = {operation.name: operation for operation in load_operations("admin")}
IMPORT_CSV = OPERATIONS["ImportCsv"]
DEFAULT_URL = "http://127.0.0.1:8000/graphql"

IMPORTED, REFUSED, USAGE, FAILED = 0, 1, 2, 3
DONE = IMPORTED

# What each format's counts mean, as the table shows them.
COUNT_LABELS = {"USERS": ("created", "updated", "unchanged")}
DEFAULT_LABELS = ("created", "updated", "already enrolled")


class RequestFailed(Exception):
    pass


class UsageError(Exception):
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
    name = args.command_name
    try:
        if not args.token:
            raise UsageError("give --token or set SESSIONGRAPH_TOKEN (`sessiongraph token EMAIL` prints one)")
        client = Client(graphql_url(args.url), args.token, transport)
        return await args.handler(client, args, out)
    except UsageError as mistake:
        print(f"{name}: {mistake}", file=err)
        return USAGE
    except RequestFailed as failure:
        print(f"{name}: {failure}", file=err)
        return FAILED


# --- the commands ---------------------------------------------------------------------------------

Handler = Callable[["Client", argparse.Namespace, TextIO], Awaitable[int]]

EXAMPLES = {
    "import": ("example:\n  python -m clients.admin import enrollments.csv --url https://lms.example.org "
               "--token \"$TOKEN\""),
    "users import": ("example:\n  python -m clients.admin users import users.csv --token \"$TOKEN\"\n\n"
                     "users.csv:\n  email,name,time_zone,week_start,class,guardian_of,is_admin\n"
                     "  kim@example.org,Kim Lee,America/New_York,SUNDAY,Year 1|Year 2,,\n"
                     "  pat@example.org,Pat Lee,,,,kim@example.org,no"),
    "export tracking": ("example:\n  python -m clients.admin export tracking \"Spring 2026\" --format xlsx "
                        "-o spring-tracking.xlsx --token \"$TOKEN\"\n\n"
                        "SESSION is the session's ID (U2Vzc2lvbjox) or its exact name."),
    "export enrollments": ("example:\n  python -m clients.admin export enrollments U2Vzc2lvbjox --format csv "
                           "-o spring.csv --token \"$TOKEN\"\n\n"
                           "The CSV is the enrollments import format: `python -m clients.admin import spring.csv` "
                           "takes it back."),
    "sessions create": ("example:\n  python -m clients.admin sessions create \"Spring 2026\" "
                        "--access-start 2026-04-01T08:00:00+02:00 --access-end 2026-06-30T18:00:00+02:00 "
                        "--course-id Q291cnNlOjE= --visibility VISIBLE --token \"$TOKEN\""),
}


async def import_command(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    path = _readable(args.file)
    payload = await import_file(path, url=client.url, token=client.token, transport=client.transport)
    return report(path, payload, out)


async def users_import_command(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    path = _readable(args.file)
    if not is_users_header(_first_line(path)):
        raise UsageError(f"{path} is not a users file: its header must name email and name (and no session)")
    return await import_command(client, args, out)


async def export_command(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    operation = OPERATIONS["ExportTracking" if args.kind == "tracking" else "ExportEnrollments"]
    session_id = await client.session_id(args.session)
    answer = await client.send(operation, {"input": {"sessionId": session_id, "format": args.format.upper()}})
    payload = answer["exportTracking" if args.kind == "tracking" else "exportEnrollments"]
    if payload["errors"]:
        _print_errors(f"Refused the {args.kind} export of {args.session}:", payload["errors"], out)
        return REFUSED
    target = Path(args.output or f"{args.kind}.{args.format.lower()}")
    size = await client.download(payload["url"], target)
    print(f"Wrote {target} ({size:,} bytes): the {args.kind} of {args.session}.", file=out)
    return DONE


async def sessions_create_command(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    given = {"name": args.name, "description": args.description, "categoryId": args.category_id,
             "coachId": args.coach_id, "visibility": args.visibility, "durationDays": args.duration_days,
             "courseIds": args.course_ids, "accessWindow": _window(args, "access"),
             "displayWindow": _window(args, "display"), "coachAccessWindow": _window(args, "coach")}
    answer = await client.send(OPERATIONS["CreateSession"], {"input": {
        field: value for field, value in given.items() if value is not None}})
    payload = answer["createSession"]
    if payload["errors"]:
        _print_errors(f"Refused to create the session {args.name!r}:", payload["errors"], out)
        return REFUSED
    session = payload["session"]
    print(f"Created the session {session['name']!r}: {session['id']} ({session['status']}).", file=out)
    for warning in payload["warnings"]:
        print(f"  warning: {warning['message']} ({warning['code']})", file=out)
    return DONE


def _window(args: argparse.Namespace, prefix: str) -> dict[str, str | None] | None:
    """A window from --PREFIX-start and --PREFIX-end; None (left out) when neither is given."""
    start, end = getattr(args, f"{prefix}_start"), getattr(args, f"{prefix}_end")
    return {"start": start, "end": end} if start or end else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clients.admin", description="sessiongraph admin tooling",
                                     epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    imports = _command(commands, "import", import_command, "import a CSV file of enrollments or Chamilo sessions")
    imports.add_argument("file", help="the CSV file")

    users = commands.add_parser("users", help="users of the platform").add_subparsers(dest="users", required=True)
    users_import = _command(users, "import", users_import_command, "create or update users from a CSV file",
                            full_name="users import")
    users_import.add_argument("file", help="the CSV file: email,name[,time_zone,week_start,class,guardian_of,is_admin]")

    exports = commands.add_parser("export", help="download a session's tracking or enrollments").add_subparsers(
        dest="kind", required=True)
    for kind in ("tracking", "enrollments"):
        export = _command(exports, kind, export_command, f"download a session's {kind} as CSV or XLSX",
                          full_name=f"export {kind}")
        export.add_argument("session", help="the session's ID or exact name")
        export.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="default: %(default)s")
        export.add_argument("-o", "--output", help=f"the file to write (default: {kind}.FORMAT)")

    sessions = commands.add_parser("sessions", help="administrative sessions").add_subparsers(
        dest="sessions", required=True)
    create = _command(sessions, "create", sessions_create_command, "create a session", full_name="sessions create")
    create.add_argument("name")
    create.add_argument("--description")
    create.add_argument("--category-id", help="a SessionCategory ID")
    create.add_argument("--coach-id", help="the session coach's User ID")
    create.add_argument("--visibility", choices=("READ_ONLY", "VISIBLE", "INVISIBLE"))
    create.add_argument("--duration-days", type=int, help="access counted per learner instead of dates")
    create.add_argument("--course-id", dest="course_ids", action="append", help="a Course ID (repeat for more)")
    for window in ("access", "display", "coach"):
        for side in ("start", "end"):
            create.add_argument(f"--{window}-{side}", metavar="DATETIME",
                                help=f"the {window} window's {side}, ISO 8601 with an offset")
    return parser


def _command(commands: Any, name: str, handler: Handler, description: str,
             full_name: str | None = None) -> argparse.ArgumentParser:
    full_name = full_name or name
    command = commands.add_parser(name, help=description, description=description, epilog=EXAMPLES[full_name],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    command.add_argument("--url", default=os.environ.get("SESSIONGRAPH_URL", DEFAULT_URL),
                         help="the GraphQL endpoint (default: $SESSIONGRAPH_URL or %(default)s)")
    command.add_argument("--token", default=os.environ.get("SESSIONGRAPH_TOKEN"),
                         help="an admin's bearer token (default: $SESSIONGRAPH_TOKEN)")
    command.set_defaults(handler=handler, command_name=full_name)
    return command


def _readable(name: str) -> Path:
    path = Path(name)
    if not path.is_file():
        raise UsageError(f"{path} is not a readable file")
    return path


def _first_line(path: Path) -> str:
    with path.open("rb") as file:
        return file.readline(64 * 1024).decode("utf-8", errors="replace").removeprefix("\ufeff")


def is_users_header(line: str) -> bool:
    """The service tells the formats apart by the same rule (resolvers/imports: detect_format)."""
    names = {cell.strip().strip('"').replace(" ", "").lower() for cell in line.replace(";", ",").split(",")}
    return {"email", "name"} <= names and not names & {"session", "sessionname"}


# --- talking to the service -----------------------------------------------------------------------

class Client:
    def __init__(self, url: str, token: str, transport: httpx.AsyncBaseTransport | None) -> None:
        self.url, self.token, self.transport = url, token, transport

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, timeout=httpx.Timeout(30.0, read=600.0),
                                 headers={"Authorization": f"Bearer {self.token}"})

    async def send(self, operation: Operation, variables: dict[str, Any]) -> dict[str, Any]:
        """The operation's data; RequestFailed when there is none to show."""
        body = {"query": operation.document, "operationName": operation.name, "variables": variables,
                "extensions": {"persistedQuery": {"version": 1, "sha256Hash": operation.sha256}}}
        try:
            async with self._http() as client:
                response = await client.post(self.url, json=body)
        except httpx.HTTPError as error:
            raise RequestFailed(f"cannot reach {self.url}: {error}") from error
        return _data(response, self.url)

    async def session_id(self, session: str) -> str:
        """A session's ID from its ID or its exact name (through the admin's session list)."""
        if _is_session_id(session):
            return session
        found = await self.send(OPERATIONS["SessionList"], {"filter": {"search": session}, "first": 100})
        named = [edge["node"]["id"] for edge in found["sessions"]["edges"] if edge["node"]["name"] == session]
        if len(named) != 1:
            raise UsageError(f"no session is named {session!r}" if not named else
                             f"{len(named)} sessions are named {session!r}: give its ID")
        return named[0]

    async def download(self, url: str, target: Path) -> int:
        """Streams the file at `url` into `target`; its size."""
        size = 0
        try:
            async with self._http() as client, client.stream("GET", url) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise RequestFailed(f"the download answered HTTP {response.status_code}: {_message(response)}")
                with target.open("wb") as file:
                    async for block in response.aiter_bytes():
                        file.write(block)
                        size += len(block)
        except httpx.HTTPError as error:
            raise RequestFailed(f"cannot download {url}: {error}") from error
        return size


def _is_session_id(text: str) -> bool:
    try:
        return base64.b64decode(text, validate=True).decode().startswith("Session:")
    except (ValueError, UnicodeDecodeError):
        return False


def _data(response: httpx.Response, url: str, field: str | None = None) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise RequestFailed(f"{url} answered HTTP {response.status_code}, not GraphQL") from None
    if body.get("errors"):
        first = body["errors"][0]
        code = (first.get("extensions") or {}).get("code", f"HTTP {response.status_code}")
        raise RequestFailed(f"the server refused the request: {first.get('message')} ({code})")
    data = body.get("data") or {}
    if not data or (field is not None and data.get(field) is None):
        raise RequestFailed(f"{url} answered HTTP {response.status_code} without {field or 'data'}")
    return data


def _message(response: httpx.Response) -> str:
    try:
        return response.json()["errors"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return response.text[:200]


def graphql_url(url: str) -> str:
    parsed = httpx.URL(url)
    return str(parsed.copy_with(path="/graphql")) if parsed.path in ("", "/") else url


async def import_file(path: Path, *, url: str, token: str,
                      transport: httpx.AsyncBaseTransport | None = None) -> dict[str, Any]:
    """The importCsv payload; RequestFailed when there is none to show."""
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
    return _data(response, url, "importCsv")["importCsv"]


# --- what the commands print ----------------------------------------------------------------------

def report(path: Path, payload: dict[str, Any], out: TextIO) -> int:
    kind = {"ENROLLMENTS": "enrollments", "CHAMILO_SESSIONS": "Chamilo sessions", "USERS": "users"}.get(
        payload.get("format") or "")
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
    labels = COUNT_LABELS.get(payload.get("format") or "", DEFAULT_LABELS)
    counts = (payload["created"], payload["updated"], payload["alreadyEnrolled"])
    _table(["", "ROWS"], [[label, f"{count:,}"] for label, count in zip(labels, counts, strict=True)], out,
           right=[1])
    if payload["warnings"]:
        print("\nImported, but worth a look:", file=out)
        _problems(payload["warnings"], out)
    return IMPORTED


def _print_errors(title: str, errors: list[dict[str, Any]], out: TextIO) -> None:
    print(title, file=out)
    for error in errors:
        where = ".".join(error["field"] or [])
        print(f"  {where + ': ' if where else ''}{error['message']} ({error['code']})", file=out)


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
