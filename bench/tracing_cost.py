"""What tracing costs a request: a small query run in-process, with tracing off or on.

    python bench/tracing_cost.py --requests 2000              # OTEL_EXPORTER_OTLP_ENDPOINT unset
    python bench/tracing_cost.py --requests 2000 --traced     # spans to a local collector that drops them
    python bench/tracing_cost.py --requests 500 --calls       # function calls per request (cProfile's count)

A fresh SQLite database (migrated, one user), the ASGI app through httpx's ASGI transport, the
query below sent --requests times after a warm-up, one at a time. Prints the process CPU time
per request (steadier than wall time on a shared machine) and how many bytes of spans the collector got;
with --calls, the Python and C function calls per request on the event loop's thread (the same
every run for the same code: a measure a busy machine does not blur; the export thread is not in it).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from sessiongraph import migrations, models  # noqa: E402
from sessiongraph.infrastructure.clock import Clock  # noqa: E402
from sessiongraph.infrastructure.db import Database, create_engine  # noqa: E402
from sessiongraph.infrastructure.settings import Settings  # noqa: E402
from sessiongraph.infrastructure.tokens import issue_token  # noqa: E402
from sessiongraph.server.app import create_app  # noqa: E402

QUERY = "query Dashboard { viewer { user { name } mySessions { current { name } upcoming { name } } } }"
WARM_UP = 50


def sink() -> tuple[str, list[int]]:
    """An OTLP/HTTP endpoint in a thread that answers 200 and counts the bytes it was sent."""
    received: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(len(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", received


async def run(args) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tracing-cost-"))
    endpoint, received = sink() if args.traced else (None, [])
    settings = Settings(database_url=f"sqlite+aiosqlite:///{folder / 'cost.db'}", environment="benchmark",
                        jwt_secret="benchmark-secret-of-at-least-thirty-two-bytes", rate_limit_enabled=False,
                        # No background polls during the run: only the requests' own work is counted.
                        outbox_poll_seconds=3600, webhook_poll_seconds=3600, email_poll_seconds=3600,
                        reminder_poll_seconds=3600,
                        otel_exporter_otlp_endpoint=endpoint, _env_file=None)
    database = Database(create_engine(settings))
    await migrations.upgrade(database.engine)
    user = models.User(name="Lena", email="lena@example.test")
    async with database.write() as db:
        db.add(user)
    clock = Clock()
    app = create_app(settings, clock=clock, database=database, check_migrations=False)
    headers = {"authorization": f"Bearer {issue_token(user.id, settings, clock.now())}"}
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", headers=headers) as http:
        for _ in range(WARM_UP):
            assert "errors" not in (await http.post("/graphql", json={"query": QUERY})).json()
        profile = cProfile.Profile() if args.calls else None
        started, cpu = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.enable()
        for _ in range(args.requests):
            await http.post("/graphql", json={"query": QUERY})
        if profile is not None:
            profile.disable()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"tracing {'on' if args.traced else 'off'} ({sys.modules['sessiongraph'].__file__}): "
          f"{args.requests} requests, {cpu / args.requests * 1e6:.0f} µs CPU and "
          f"{wall / args.requests * 1e6:.0f} µs wall per request; {len(received)} exports, {sum(received)} bytes"
          + (f"; {pstats.Stats(profile).total_calls / args.requests:.0f} calls per request" if profile else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--traced", action="store_true", help="set OTEL_EXPORTER_OTLP_ENDPOINT to a local sink")
    parser.add_argument("--calls", action="store_true", help="count the function calls per request")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
