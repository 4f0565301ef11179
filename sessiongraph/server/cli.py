"""`sessiongraph`: serve, migrate, load demo data, create users, print tokens and calendar feed URLs,
export the schema and the trusted-documents manifest."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from sessiongraph import migrations
from sessiongraph.infrastructure.clock import Clock
from sessiongraph.infrastructure.db import Database
from sessiongraph.infrastructure.settings import Settings, get_settings
from sessiongraph.models import User


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sessiongraph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service (migrates an empty database first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true", help="load the demo data into an empty database")

    commands.add_parser("migrate", help="upgrade the database to this version's schema")
    commands.add_parser("demo", help="load the demo data (migrating an empty database first)")

    create_user = commands.add_parser("create-user", help="create a local user")
    create_user.add_argument("email")
    create_user.add_argument("--name", required=True)
    create_user.add_argument("--admin", action="store_true")
    create_user.add_argument("--time-zone", default=None)
    create_user.add_argument("--password-stdin", action="store_true",
                             help="read the user's password from standard input (one line), for signIn")

    token = commands.add_parser("token", help="print a bearer token for a local user")
    token.add_argument("email")

    feed = commands.add_parser("calendar-feed", help="print a user's calendar feed URL (issued if they have none)")
    feed.add_argument("email")

    commands.add_parser("export-schema", help="print the GraphQL SDL, sorted (clients/schema.graphql)")
    commands.add_parser("trusted-documents",
                        help="print the trusted-documents manifest of the client operations "
                             "(clients/trusted-documents.json)")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    try:
        return COMMANDS[args.command](args, settings)
    except CommandFailed as failure:
        print(f"sessiongraph {args.command}: {failure}", file=sys.stderr)
        return 1


# The demo users whose calendar feeds `demo` prints: each role's.
DEMO_FEEDS = ("learner@example.com", "guardian@example.com", "instructor@example.com")


class CommandFailed(Exception):
    pass


def _with_database(settings: Settings, work):
    async def run():
        database = Database.of(settings)
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(run())


async def _prepare(database: Database, *, migrate_empty: bool) -> None:
    """Migrate an empty database; refuse one that holds data but is behind."""
    current = await migrations.current_revision(database.engine)
    if current == migrations.head_revision():
        return
    if current is None and migrate_empty:
        await migrations.upgrade(database.engine)
        return
    raise CommandFailed(f"the database is at revision {current}, this version needs "
                        f"{migrations.head_revision()}: run `sessiongraph migrate` first")


def cmd_serve(args, settings: Settings) -> int:
    import uvicorn

    if args.demo:
        # The app is built by uvicorn from the environment: the demo's receiver (and, since it is on this
        # machine, deliveries to a loopback address) are turned on there.
        os.environ["DEMO_WEBHOOK_RECEIVER"] = "true"
        os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE", "true")
        # The receiver's URL is built on it: where this demo is served, unless set.
        os.environ.setdefault("PUBLIC_URL", f"http://{args.host}:{args.port}")
        get_settings.cache_clear()
        settings = get_settings()
    settings.check()

    async def prepare(database: Database) -> None:
        await _prepare(database, migrate_empty=True)
        if args.demo:
            await _load_demo_if_empty(database, settings)

    _with_database(settings, prepare)
    uvicorn.run("sessiongraph.server.app:serve_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_config=None, timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
                **uvicorn_options(settings))
    return 0


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What uvicorn is told of the settings (tests start uvicorn with the same)."""
    trusted = settings.forwarded_allow_ips.strip()
    # uvicorn's own default believes X-Forwarded-For from 127.0.0.1, so a client on the same host
    # (or behind a proxy that passes the header on) could pick the IP the rate limits count.
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None,
            # h11 with limits on time, size and number of headers, rather than httptools, which has none.
            "http": "sessiongraph.server.http_protocol:GuardedH11Protocol",
            "ws_per_message_deflate": settings.websocket_compression}


def cmd_migrate(_args, settings: Settings) -> int:
    async def migrate(database: Database) -> None:
        before = await migrations.current_revision(database.engine)
        await migrations.upgrade(database.engine)
        print(f"database migrated from {before or 'empty'} to {migrations.head_revision()}")

    _with_database(settings, migrate)
    return 0


async def _load_demo_if_empty(database: Database, settings: Settings) -> None:
    from sessiongraph.demo import load_demo
    from sessiongraph.resolvers.calendar_feed import calendar_feed
    from sessiongraph.resolvers.context import Actor, Context

    async with database.read() as db:
        users = await db.scalar(select(func.count()).select_from(User))
    if users:
        print("the database already has users; demo data not loaded")
        return
    summary = await load_demo(database, Clock().now(), public_url=settings.public_url)
    print(summary)
    for email in DEMO_FEEDS:
        user = await _user_by_email(database, email)
        link = await calendar_feed(Context(database=database, clock=Clock(), settings=settings, actor=Actor(user)))
        print(f"calendar feed of {email}: {link.url}")


def cmd_demo(_args, settings: Settings) -> int:
    async def demo(database: Database) -> None:
        await _prepare(database, migrate_empty=True)
        await _load_demo_if_empty(database, settings)

    _with_database(settings, demo)
    return 0


def cmd_create_user(args, settings: Settings) -> int:
    from sessiongraph.resolvers.accounts import create_user
    from sessiongraph.resolvers.context import Actor, Context
    from sessiongraph.resolvers.errors import UserErrors

    password = _password_from_stdin() if args.password_stdin else None

    async def create(database: Database) -> User:
        await _prepare(database, migrate_empty=True)
        ctx = Context(database=database, clock=Clock(), settings=settings, actor=Actor.command_line())
        try:
            created = await create_user(ctx, email=args.email, name=args.name, time_zone=args.time_zone,
                                        is_admin=args.admin, password=password)
        except UserErrors as refusal:
            raise CommandFailed(str(refusal)) from refusal
        return created.user

    user = _with_database(settings, create)
    print(f"created user {user.id} <{user.email}>{' (admin)' if user.is_admin else ''}"
          f"{' with a password' if password is not None else ''}")
    return 0


async def _user_by_email(database: Database, email: str) -> User:
    await _prepare(database, migrate_empty=False)
    async with database.read() as db:
        user = await db.scalar(select(User).where(col(User.email) == email.strip().lower()))
    if user is None:
        raise CommandFailed(f"no user has the email {email}")
    return user


def _password_from_stdin() -> str:
    """One line from standard input, its line ending dropped (a password on the command line would be
    in the shell's history and in every process listing)."""
    line = sys.stdin.readline()
    password = line[:-1] if line.endswith("\n") else line
    password = password[:-1] if password.endswith("\r") else password
    if not password:
        raise CommandFailed("--password-stdin: standard input holds no password")
    return password


def cmd_token(args, settings: Settings) -> int:
    from sessiongraph.infrastructure.tokens import issue_token

    async def find(database: Database) -> User:
        return await _user_by_email(database, args.email)

    user = _with_database(settings, find)
    print(issue_token(user.id, settings, Clock().now()))
    return 0


def cmd_calendar_feed(args, settings: Settings) -> int:
    from sessiongraph.resolvers.calendar_feed import calendar_feed
    from sessiongraph.resolvers.context import Actor, Context

    async def feed(database: Database) -> str:
        user = await _user_by_email(database, args.email)
        ctx = Context(database=database, clock=Clock(), settings=settings, actor=Actor(user))
        return (await calendar_feed(ctx)).url

    print(_with_database(settings, feed))
    return 0


def cmd_export_schema(_args, _settings: Settings) -> int:
    from sessiongraph.schema import export_sdl

    sys.stdout.write(export_sdl())
    return 0


def cmd_trusted_documents(_args, _settings: Settings) -> int:
    from sessiongraph.clients.documents import ClientDocumentError, manifest_json

    try:
        sys.stdout.write(manifest_json())
    except ClientDocumentError as error:
        raise CommandFailed(str(error)) from error
    return 0


COMMANDS = {
    "serve": cmd_serve,
    "migrate": cmd_migrate,
    "demo": cmd_demo,
    "create-user": cmd_create_user,
    "token": cmd_token,
    "calendar-feed": cmd_calendar_feed,
    "export-schema": cmd_export_schema,
    "trusted-documents": cmd_trusted_documents,
}

if __name__ == "__main__":
    sys.exit(main())
