from sqlalchemy import func, select

from sessiongraph.models import ClassMember, GuardianLink, Instructor, User, UserClass
from sessiongraph.resolvers.loaders.base import Loader, many_per_key, one_per_key


class UserById(Loader[int, User | None]):
    async def batch_load(self, db, keys):
        rows = (await db.execute(select(User).where(User.id.in_(keys)))).scalars()
        return one_per_key(keys, rows, lambda u: u.id)


class UserClassById(Loader[int, UserClass | None]):
    async def batch_load(self, db, keys):
        rows = (await db.execute(select(UserClass).where(UserClass.id.in_(keys)))).scalars()
        return one_per_key(keys, rows, lambda c: c.id)


class MemberCountByClass(Loader[int, int]):
    async def batch_load(self, db, keys):
        query = (select(ClassMember.class_id, func.count()).where(ClassMember.class_id.in_(keys))
                 .group_by(ClassMember.class_id))
        counts = dict((await db.execute(query)).all())
        return [counts.get(k, 0) for k in keys]


class InstructorById(Loader[int, Instructor | None]):
    async def batch_load(self, db, keys):
        rows = (await db.execute(select(Instructor).where(Instructor.id.in_(keys)))).scalars()
        return one_per_key(keys, rows, lambda i: i.id)


class InstructorByUser(Loader[int, Instructor | None]):
    """Key: user ID; the user's instructor profile, None when they do not teach."""

    async def batch_load(self, db, keys):
        rows = (await db.execute(select(Instructor).where(Instructor.user_id.in_(keys)))).scalars()
        return one_per_key(keys, rows, lambda i: i.user_id)


class ChildIdsByGuardian(Loader[int, frozenset[int]]):
    """Key: user ID; the learners that user is the guardian of."""

    async def batch_load(self, db, keys):
        rows = (await db.execute(select(GuardianLink.guardian_id, GuardianLink.learner_id)
                                 .where(GuardianLink.guardian_id.in_(keys)))).all()
        return [frozenset(r[1] for r in group) for group in many_per_key(keys, rows, lambda r: r[0])]
