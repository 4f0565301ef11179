from sqlalchemy import select

from sessiongraph.models import Course
from sessiongraph.resolvers.loaders.base import Loader, one_per_key


class CourseById(Loader[int, Course | None]):
    async def batch_load(self, db, keys):
        rows = (await db.execute(select(Course).where(Course.id.in_(keys)))).scalars()
        return one_per_key(keys, rows, lambda c: c.id)
