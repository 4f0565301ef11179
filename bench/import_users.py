"""Benchmark: import 100,000 users (half new, half updated) with classes and guardians, through the resolver.

    python bench/import_users.py                       # SQLite, in a temporary folder
    python bench/import_users.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

With a PostgreSQL URL the benchmark creates a database of its own on that server and
drops it at the end. It seeds half the file's users (with other names) and three classes,
writes the CSV file (every row in a class, every tenth row the guardian of the row before),
then runs the import twice, each in a fresh process: the first creates 50,000 users and
updates 50,000, the second finds everything as the file says. It prints the wall time of
each, and the importing process's CPU time (what a machine shared with other work
blurs least; the database server's own time is not in it); the aim is 10 s for the first
on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.import_enrollments import run_import, seed_people  # noqa: E402
from bench.support import analyze, make_database  # noqa: E402
from sessiongraph.models import UserClass  # noqa: E402

CLASSES = ("Year 1", "Year 2", "Year 3")
ZONES = ("Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server URL (a database is created and dropped), or a SQLite URL; "
                             "default: SQLite in a temporary folder")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--run-import", metavar="FILE", help=argparse.SUPPRESS)  # the measured child
    args = parser.parse_args()
    if args.run_import:
        print(json.dumps(asyncio.run(run_import(args.database_url, Path(args.run_import), False))))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-import-users-") as folder:
        url, drop = asyncio.run(make_database(args.database_url, Path(folder), "import_users"))
        try:
            asyncio.run(seed(url, existing=args.rows // 2))
            csv_path = Path(folder) / "users.csv"
            write_csv(csv_path, rows=args.rows)
            print(f"sessiongraph users import benchmark on {make_url(url).get_backend_name()}: {args.rows:,} rows "
                  f"({csv_path.stat().st_size / 1_048_576:.1f} MB), {args.rows // 2:,} of them existing users")
            for label in ("first import", "re-import"):
                child = subprocess.run([sys.executable, __file__, "--run-import", str(csv_path), "--database-url", url],
                                       capture_output=True, text=True, check=False)
                if child.returncode != 0:
                    print(child.stderr, file=sys.stderr)
                    return 1
                measured = json.loads(child.stdout)
                print(f"{label:14}{measured['seconds']:>8.2f} s wall{measured['cpu_seconds']:>7.2f} s CPU"
                      f"{measured['peak_rss_mb']:>6.0f} MB peak RSS  "
                      f"{measured['result']}")
        finally:
            asyncio.run(drop())
    return 0


async def seed(url: str, *, existing: int) -> None:
    database = await seed_people(url, existing, email, "Old name")
    async with database.write() as db:
        await db.execute(insert(UserClass), [{"name": name} for name in CLASSES])
    await analyze(database)
    await database.dispose()


def email(n: int) -> str:
    return f"person{n:06d}@example.org"


def write_csv(path: Path, *, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("email,name,time_zone,week_start,class,guardian_of,is_admin\r\n")
        for n in range(rows):
            guards = email(n - 1) if n % 10 == 9 else ""
            out.write(f"{email(n)},Person {n},{ZONES[n % len(ZONES)]},SUNDAY,{CLASSES[n % len(CLASSES)]},"
                      f"{guards},no\r\n")


if __name__ == "__main__":
    sys.exit(main())
