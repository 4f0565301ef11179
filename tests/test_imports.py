"""CSV import of enrollments (`session,email[,role]`) and what every import shares:
all or nothing, every error listed, limits, who may import."""

from tests.imports_support import import_csv, seed, snapshot, upload


async def test_smoke(admin, database):
    await seed(database, sessions={"Spring": ["PY"]}, courses=["PY"], users=["ana@example.org", "bo@example.org"])
    payload = await import_csv(admin, "session,email,role\nSpring,ana@example.org,\nSpring,bo@example.org,course_coach:py\n")
    print(payload)
    payload = await import_csv(admin, "session,email,role\nSpring,ana@example.org,\nSpring,bo@example.org,course_coach:py\n")
    print(payload)
    payload = await import_csv(admin, "session,email,role\nSpring,ana@example.org,\nSpring,bo@example.org,course_coach:py\nSpring,ana@example.org,\nWinter,x@y,\n")
    print(payload)
    print(await snapshot(database))
