from sqlalchemy import select

from sessiongraph.models import ClassMember, GuardianLink, Instructor, User, UserClass
from sessiongraph.resolvers.loaders.base import CountBy, Loader, OneBy, many_per_key


class UserById(OneBy[int, User | None], key=User.id):
    pass


class UserClassById(OneBy[int, UserClass | None], key=UserClass.id):
    pass


class MemberCountByClass(CountBy[int], key=ClassMember.class_id):
    pass


class InstructorById(OneBy[int, Instructor | None], key=Instructor.id):
    pass


class InstructorByUser(OneBy[int, Instructor | None], key=Instructor.user_id):
    """Key: user ID; the user's instructor profile, None when they do not teach."""


class ChildIdsByGuardian(Loader[int, frozenset[int]]):
    """Key: user ID; the learners that user is the guardian of."""

    async def batch_load(self, db, keys):
        rows = (await db.execute(select(GuardianLink.guardian_id, GuardianLink.learner_id)
                                 .where(GuardianLink.guardian_id.in_(keys)))).all()
        return [frozenset(r[1] for r in group) for group in many_per_key(keys, rows, lambda r: r[0])]
