"""The demo data's users by role, for the tests that throw generated requests at it."""

from __future__ import annotations

from sqlalchemy import func, select

from sessiongraph import models
from sessiongraph.demo import load_demo


async def demo_users(database, now) -> dict[str, models.User | None]:
    """Loads the demo data; its first admin and the learner with the most bookings (and no one)."""
    await load_demo(database, now)
    async with database.read() as db:
        admin = await db.scalar(select(models.User).where(models.User.is_admin).order_by(models.User.id))
        booked = select(models.Booking.learner_id).group_by(models.Booking.learner_id).order_by(
            func.count().desc(), models.Booking.learner_id).limit(1)
        learner = await db.get(models.User, await db.scalar(booked))
    assert admin is not None and learner is not None
    return {"anonymous": None, "learner": learner, "admin": admin}
