from sqlalchemy import func, select

from models import ClassMember, User, UserClass
from resolvers.loaders.base import Loader, one_per_key


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
