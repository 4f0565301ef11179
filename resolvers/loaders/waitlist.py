from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from sessiongraph.models import WaitlistEntry, WaitlistStatus
from sessiongraph.resolvers.loaders.base import Loader, OneBy, many_per_key, pairs_in

WAITING = WaitlistStatus.WAITING.value


def still_waiting(now):
    """WAITING and not yet past the deadline (expiry is read lazily, models/waitlist.py)."""
    return (WaitlistEntry.status == WAITING) & (WaitlistEntry.expires_at > now)


class WaitlistEntryById(OneBy[int, WaitlistEntry | None], key=WaitlistEntry.id):
    pass


class WaitingCountBySlot(Loader[int, int]):
    """Key: slot ID; how many learners wait for it now."""

    async def batch_load(self, db, keys):
        query = (select(WaitlistEntry.slot_id, func.count()).where(
            WaitlistEntry.slot_id.in_(keys), still_waiting(self.context.now)).group_by(WaitlistEntry.slot_id))
        counts = dict((await db.execute(query)).all())
        return [counts.get(key, 0) for key in keys]


class LatestEntryByLearnerSlot(Loader[tuple[int, int], WaitlistEntry | None]):
    """Key: (learner ID, slot ID); the learner's latest entry on the slot, whatever its status."""

    async def batch_load(self, db, keys):
        query = (select(WaitlistEntry).where(pairs_in(WaitlistEntry.learner_id, WaitlistEntry.slot_id, keys))
                 .order_by(WaitlistEntry.id))
        grouped = many_per_key(keys, await db.scalars(query), lambda e: (e.learner_id, e.slot_id))
        return [entries[-1] if entries else None for entries in grouped]


class AheadCountByEntry(Loader[int, int]):
    """Key: entry ID; how many still waiting on its slot joined before it."""

    async def batch_load(self, db, keys):
        ahead = aliased(WaitlistEntry)
        query = (select(WaitlistEntry.id, func.count(ahead.id))
                 .join(ahead, (ahead.slot_id == WaitlistEntry.slot_id) & (ahead.position < WaitlistEntry.position))
                 .where(WaitlistEntry.id.in_(keys), ahead.status == WAITING, ahead.expires_at > self.context.now)
                 .group_by(WaitlistEntry.id))
        counts = dict((await db.execute(query)).all())
        return [counts.get(key, 0) for key in keys]
