from sessiongraph.models import Course
from sessiongraph.resolvers.loaders.base import OneBy


class CourseById(OneBy[int, Course | None], key=Course.id):
    pass
