"""The execution paths side by side: each operation answered by each path, requests interleaved.

    python bench/paths.py --database-url <URL from generate.py> [--requests 300] [--operation CalendarTab ...]
    python bench/paths.py --database-url <URL> --all      # every query document in clients/
    python bench/paths.py --database-url <PostgreSQL URL> --database-url <SQLite URL> --all --paths planned

One process holds one app per path (graphql-core's execution, the compiled operations,
the planned execution) on the same database, and sends each operation's requests (as
bench/load.py sends them, a different learner each) to the paths in turn, request by
request, so that whatever else the machine does weighs on every path alike. Per path and
operation it prints the CPU time of this process per request (the in-process client's
share included, the same for every path) and the SQL statements of one request, and the
ratio to graphql-core's execution. A load run (bench/load.py) gives latency and
throughput; this gives the comparison that a busy machine does not blur.

Given --database-url twice (the same generated data on PostgreSQL and on SQLite), it answers
each request on both databases in turn, each path on each, and prints the ratio of the second
to the first for each path: SQLite's CPU per request against PostgreSQL's. SQLite runs in this
process (its thread's CPU counts), as it does in the service; PostgreSQL's own CPU does not.
The users and rows the requests name are sampled from the first database.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from graphql import NonNullTypeNode, OperationDefinitionNode, parse  # noqa: E402
from sqlalchemy import event, text  # noqa: E402

from bench.load import JWT_SECRET, OPERATIONS, Learner, body, failed, requests_for, sample  # noqa: E402
from sessiongraph.clients.documents import load_operations  # noqa: E402
from sessiongraph.infrastructure.db import Database  # noqa: E402
from sessiongraph.infrastructure.settings import Settings  # noqa: E402
from sessiongraph.infrastructure.tokens import issue_token  # noqa: E402
from sessiongraph.schema.relay import to_global_id  # noqa: E402
from sessiongraph.server.app import create_app  # noqa: E402

PATHS = {
    "executed": {"compiled_operations": False, "planned_execution": False},
    "compiled": {"compiled_operations": True, "planned_execution": False},
    "planned": {"compiled_operations": False, "planned_execution": True},
}


def required_variables(document: str, name: str) -> list[str]:
    operation = next(d for d in parse(document).definitions
                     if isinstance(d, OperationDefinitionNode) and d.name and d.name.value == name)
    return [v.variable.name.value for v in operation.variable_definitions or ()
            if isinstance(v.type, NonNullTypeNode) and v.default_value is None]


# The web client's instructor screens' documents, sent as an instructor.
INSTRUCTORS_DOCUMENTS = {"Teaching", "ClassRoster", "TeachingAbsenceRequests", "MySlots", "TeachableCourses"}


def any_document_requests(operation, learners: list[Learner], admins: list[int],
                          instructors: list[tuple[int, int, int]],
                          sessions: list[int]) -> list[tuple[int, dict[str, Any]]]:
    """(user, variables) for a query document bench/load.py has no screen's variables for: its
    required variables from the sampled rows by name, the others left to their defaults; an
    admin's document (the admin client's, the web client's Admin…) as an admin, the instructor's
    screens' as an instructor, the rest as learners. (The
    generated data has no guardians: a guardian's document runs as a learner, with no children.)"""
    now = datetime.now(UTC)
    wanted = required_variables(operation.document, operation.name)

    as_instructor = operation.name in INSTRUCTORS_DOCUMENTS

    def value(name: str, learner: Learner, index: int) -> Any:
        _, instructor_id, taught_course_id = instructors[index % len(instructors)]
        if name == "id":
            if "on LiveSession" in operation.document or "LiveSessionDetails" in operation.document:
                return to_global_id("LiveSession", learner.live_session_id)
            return to_global_id("Session", sessions[index % len(sessions)])
        return {"courseId": to_global_id("Course", taught_course_id if as_instructor else learner.course_id),
                "instructorId": to_global_id("Instructor", instructor_id), "date": now.date().isoformat(),
                "view": "DAY" if "Day" in operation.name else "MONTH", "from": now.isoformat(),
                "to": (now + timedelta(days=14)).isoformat()}[name]

    users = (admins if operation.client == "admin" or operation.name.startswith("Admin")
             else [user_id for user_id, _, _ in instructors] if as_instructor
             else [learner.user_id for learner in learners])
    return [(users[index % len(users)], {name: value(name, learner, index) for name in wanted})
            for index, learner in enumerate(learners)]


async def run(args) -> int:
    statements: list[str] = []
    clients: dict[str, httpx.AsyncClient] = {}
    databases: list[Database] = []
    for url in args.database_url:
        # The sample's query of bookable pairs takes seconds at full scale on a busy machine.
        settings = Settings(database_url=url, jwt_secret=JWT_SECRET, environment="benchmark",
                            rate_limit_enabled=False, database_statement_timeout_seconds=120, _env_file=None)
        database = Database.of(settings)
        databases.append(database)
        for engine in database.engines:
            event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        suffix = f"@{database.engine.dialect.name}" if len(args.database_url) > 1 else ""
        clients |= {name + suffix: httpx.AsyncClient(transport=httpx.ASGITransport(
            app=create_app(settings.model_copy(update=update), database=database, check_migrations=False)),
            base_url="http://paths") for name, update in PATHS.items() if name in args.paths}
    base, database = settings, databases[0]
    learners, admins, bookings = await sample(database, args.requests, seed=1)
    async with database.read() as db:
        # (user ID, instructor ID, a course they teach) of instructors who teach
        instructors = [tuple(row) for row in (await db.execute(text(
            "SELECT i.user_id, i.id, (SELECT l.course_id FROM live_session l WHERE l.instructor_id = i.id "
            "ORDER BY l.id LIMIT 1) AS course_id FROM instructor i WHERE EXISTS (SELECT 1 FROM live_session l "
            "WHERE l.instructor_id = i.id) ORDER BY i.id LIMIT 200"))).all()]
        sessions = list((await db.scalars(text("SELECT id FROM session ORDER BY id LIMIT 200"))).all())
    documents = {op.name: op for client in ("web", "admin", "mobile") for op in load_operations(client)}
    today = datetime.now(UTC).date().isoformat()
    screens = {name: label for label, _, name in OPERATIONS if label != "booking"}
    names = ([op.name for op in documents.values() if op.kind == "query"] if args.all
             else [name for name in screens if not args.operation or name in args.operation])
    widths = {name: max(12, len(name) + 3) for name in clients}
    print(f"{'operation':<24} " + " ".join(f"{name + ' ms':>{widths[name]}} {'SQL':>4}" for name in clients)
          + "  ratio")
    for name in names:
        operation = documents[name]
        work = (requests_for(screens[name], learners, admins, bookings, today) if name in screens
                else any_document_requests(operation, learners, admins, instructors, sessions))
        work = (work * (args.requests // max(len(work), 1) + 1))[: args.requests]
        tokens = {user: issue_token(user, base, datetime.now(UTC)) for user, _ in work}
        cpu: dict[str, list[float]] = {path: [] for path in clients}
        counted: dict[str, int] = {}
        for index, (user, variables) in enumerate(work):
            for path, http in clients.items():
                del statements[:]
                started = time.process_time()
                response = await http.post("/graphql", json=body(operation, variables),
                                           headers={"Authorization": f"Bearer {tokens[user]}"})
                elapsed = time.process_time() - started
                if problem := failed(response.json()):
                    raise SystemExit(f"{name} on {path} failed: {problem}")
                if index >= args.warmup:
                    cpu[path].append(elapsed)
                counted.setdefault(path, len(statements))
        means = {path: statistics.mean(values) * 1000 for path, values in cpu.items()}
        print(f"{name:<24} " + " ".join(f"{means[p]:>{widths[p]}.2f} {counted[p]:>4}" for p in clients) + "  "
              + " ".join(f"{label}={ratio:.2f}" for label, ratio in _ratios(means, len(databases))))
    for http in clients.values():
        await http.aclose()
    for database in databases:
        await database.dispose()
    return 0


def _ratios(means: dict[str, float], databases: int) -> list[tuple[str, float]]:
    """Each path against graphql-core's execution; with two databases, each path's second against its first."""
    if databases == 1:
        reference = means.get("executed")
        return [(path, mean / reference) for path, mean in means.items() if path != "executed"] if reference else []
    ratios = []
    for path in dict.fromkeys(label.split("@")[0] for label in means):
        first, second = (mean for label, mean in means.items() if label.split("@")[0] == path)
        ratios.append((path, second / first))
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, action="append",
                        help="repeatable: twice compares two databases (PostgreSQL, then SQLite)")
    parser.add_argument("--operation", action="append", help="an operation's name (repeatable); default: all")
    parser.add_argument("--all", action="store_true", help="every query document in clients/")
    parser.add_argument("--paths", default="executed,compiled,planned")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
