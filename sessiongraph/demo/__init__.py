"""Demo data: a small but realistic platform, laid out around "now".

Each area adds its part in its own module; `load_demo` runs them in order in one
transaction, so a failed load leaves the database as it was.
"""

from __future__ import annotations

import random
from datetime import datetime

from sessiongraph.demo import booking, schedule, sessions
from sessiongraph.infrastructure.db import Database


async def load_demo(database: Database, now: datetime, seed: int = 2026) -> str:
    rng = random.Random(seed)
    async with database.write() as db:
        people = await sessions.load(db, rng, now)
        classes = await schedule.load(db, rng, now, people)
        offers = await booking.load(db, rng, now, people, classes)
    return (f"demo data loaded: {len(people.learners)} learners, {len(people.coaches)} coaches, "
            f"{people.session_count} sessions, {len(classes.instructors)} instructors, "
            f"{len(classes.live_sessions)} live sessions, {len(offers.slots)} open slots, "
            f"{offers.ledgers} credit accounts; "
            f"sign in as {', '.join(people.logins + classes.logins)} "
            f"(`sessiongraph token EMAIL` prints a token)")
