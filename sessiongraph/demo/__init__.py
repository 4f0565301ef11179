"""Demo data: a small but realistic platform, laid out around "now".

Each area adds its part in its own module; `load_demo` runs them in order in one
transaction, so a failed load leaves the database as it was.
"""

from __future__ import annotations

import random
from datetime import datetime

from sessiongraph.demo import booking, events, schedule, sessions
from sessiongraph.infrastructure.db import Database
from sessiongraph.infrastructure.settings import DEFAULT_PUBLIC_URL


async def load_demo(database: Database, now: datetime, seed: int = 2026, public_url: str = DEFAULT_PUBLIC_URL) -> str:
    rng = random.Random(seed)
    async with database.write() as db:
        people = await sessions.load(db, rng, now)
        classes = await schedule.load(db, rng, now, people)
        offers = await booking.load(db, rng, now, people, classes)
        receiver = await events.load(db, now, people.logins + classes.logins, public_url)
    return (f"demo data loaded: {len(people.learners)} learners, {len(people.coaches)} coaches, "
            f"{people.session_count} sessions, {len(classes.instructors)} instructors, "
            f"{len(classes.live_sessions)} live sessions, {len(offers.slots)} open slots, "
            f"{offers.ledgers} credit accounts; "
            f"sign in as {', '.join(people.logins + classes.logins)} with the password {events.DEMO_PASSWORD!r} "
            f"(or `sessiongraph token EMAIL` prints a token); every event goes to the webhook endpoint "
            f"{receiver.url}, which this service receives itself when serving the demo")
