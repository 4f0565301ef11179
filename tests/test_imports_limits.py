"""What a broken or hostile import file may cost: a quote left open, millions of bad lines,
too many lines, a row too long. Each is refused with a coded error naming the line,
quickly, in bounded memory, without holding up other requests, and writes nothing."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import io
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest

from sessiongraph.resolvers.imports.reading import count_lines
from tests.conftest import Caller
from tests.imports_support import import_csv, seed, snapshot, upload

TWENTY_MB = 20 * 1024 * 1024
# Bounds that hold on a busy 2-core machine: measured at about a tenth of each (README, "CSV import").
SECONDS = 8.0
RSS_GROWTH = 150 * 1024 * 1024
OTHER_REQUEST_SECONDS = 1.0


@pytest.fixture
async def ids(database):
    return await seed(database, users=["ana@example.org"], sessions={"Autumn": []})


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_rss_growth() -> Iterator[list[int]]:
    """[growth]: the highest resident size seen meanwhile (sampled every 5 ms), over the size before.

    Memory an earlier test freed but the allocator kept would hide growth, so it is handed back
    to the system first (glibc's malloc_trim).
    """
    gc.collect()
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    before = _rss()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], _rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    growth = [0]
    try:
        yield growth
    finally:
        done.set()
        sampler.join()
        growth[0] = max(peak[0], _rss()) - before


async def refused_quickly(admin: Caller, database, content: bytes, what: str) -> dict:
    """The importCsv payload for `content`, after checking that the import took little time and
    memory, that requests sent meanwhile were answered promptly, and that nothing was written."""
    before = await snapshot(database)
    with peak_rss_growth() as growth:
        started = time.monotonic()
        importing = asyncio.create_task(upload(admin, content))
        waits: list[float] = []
        while not importing.done():
            asked = time.monotonic()
            body = await admin.execute("{ viewer { user { name } } }")
            assert body["data"]["viewer"]["user"]["name"], body
            waits.append(time.monotonic() - asked)
            # A client over a socket gives the event loop back between requests; one in this task, whose
            # request may not wait on anything (SQLite answers in the loop's thread), does it here.
            await asyncio.sleep(0)
        body = await importing
        seconds = time.monotonic() - started
    print(f"{what}: {seconds:.2f} s, RSS +{growth[0] / 2**20:.0f} MB, "
          f"{len(waits)} other requests meanwhile, {max(waits):.3f} s at most")
    assert not body.get("errors"), body
    assert await snapshot(database) == before
    assert seconds < SECONDS, seconds
    assert growth[0] < RSS_GROWTH, growth[0] / 2**20
    assert waits and max(waits) < OTHER_REQUEST_SECONDS, waits
    return body["data"]["importCsv"]


def the_summary(payload: dict) -> str:
    [summary] = payload["errors"]
    assert (summary["field"], summary["code"]) == (["file"], "VALIDATION")
    return summary["message"]


async def test_a_quote_left_open_in_a_20_mb_file_is_refused_at_its_line_quickly(admin, database, ids):
    # given: the second line opens a quote that no line closes; 20 MB of rows follow, as many
    # lines as one import reads
    row = b"Autumn," + b"a" * 100 + b"@example.org\n"
    content = b'session,email\nAutumn,"ana@example.org\n' + row * ((TWENTY_MB - 100) // len(row))
    assert len(content.splitlines()) < 200_000

    payload = await refused_quickly(admin, database, content, "quote left open")

    assert [(e["line"], e["column"], e["code"], e["message"]) for e in payload["rowErrors"]] == [
        (2, None, "VALIDATION", "Line 2: the row starting here is longer than 64.0 KB; is a closing quote missing?")]
    assert payload["rowErrorCount"] == 1
    assert the_summary(payload) == "The file has at least 1 error; reading stopped at line 2. Nothing was imported."


async def test_ten_million_short_bad_lines_are_refused_unread(admin, database, ids):
    content = b"session,email\n" + b"x\n" * ((TWENTY_MB - 100) // 2)

    payload = await refused_quickly(admin, database, content, "ten million bad lines")

    assert payload["errors"] == [{"field": ["file"], "code": "FILE_TOO_LARGE", "message": (
        "The file has 10,485,711 lines; the most one import reads is 200,000: split it into smaller files.")}]


async def test_a_file_of_bad_lines_stops_being_read_once_it_is_known_bad(admin, database, ids):
    # given: as many lines as one import reads, each naming a session but no email
    content = b"session,email\n" + b"x\n" * 199_999

    payload = await refused_quickly(admin, database, content, "200,000 bad lines")

    # then: the first 1,000 lines' errors are counted (both cells of each: no email, and then
    # no session named x), the first 1,000 (IMPORT_MAX_ERRORS) listed, and the file read no further
    assert payload["rowErrorCount"] == 2_000
    assert [(e["line"], e["column"]) for e in payload["rowErrors"]] == [
        (line, column) for line in range(2, 502) for column in ("email", "session")]
    assert the_summary(payload) == ("The file has at least 2,000 errors (the first 1,000 are listed); "
                                    "reading stopped at line 1,002. Nothing was imported.")


async def test_twenty_mb_of_short_good_rows_are_refused_unread(admin, database, ids):
    # the rows that would cost the most to hold: each well-formed, each a new address
    content = b"session,email\n" + b"".join(b"Autumn,u%d@example.org\n" % n for n in range(1_000_000))
    content = content[:TWENTY_MB - 100]

    payload = await refused_quickly(admin, database, content, "20 MB of short rows")

    assert payload["errors"] == [{"field": ["file"], "code": "FILE_TOO_LARGE", "message": (
        f"The file has {len(content.splitlines()):,} lines; the most one import reads is 200,000: "
        "split it into smaller files.")}]


@pytest.fixture
async def limited(client_with, settings, clock, make_user):
    """`await limited(import_max_lines=10)`: an admin of an app whose import limits are those."""
    admin_user = await make_user("Ada Admin", "admin@example.test", is_admin=True)

    async def make(**limits: int) -> Caller:
        return Caller(await client_with(**limits), settings, clock, admin_user)

    return make


@pytest.fixture
async def small_limits(limited):
    """An admin of an app that reads at most 10 lines and rows of 100 bytes."""
    return await limited(import_max_lines=10, import_max_row_bytes=100)


async def test_a_file_of_more_lines_than_one_import_reads_is_refused_whole(small_limits, database, ids):
    before = await snapshot(database)

    # blank lines count: they cost reading like any other
    over = await import_csv(small_limits, "session,email\nAutumn,ana@example.org\n" + "\n" * 9)
    at_limit = await import_csv(small_limits, "session,email\nAutumn,ana@example.org\n" + "\n" * 8)

    assert (at_limit["created"], at_limit["errors"]) == (1, [])
    assert over["errors"] == [{"field": ["file"], "code": "FILE_TOO_LARGE", "message": (
        "The file has 11 lines; the most one import reads is 10: split it into smaller files.")}]
    assert over["created"] == 0
    assert len((await snapshot(database))["enrollment"]) == len(before["enrollment"]) + 1


async def test_a_row_too_long_is_refused_at_the_line_where_it_starts(small_limits, database, ids):
    # a quoted field over three lines that together outgrow the 100-byte rows
    long_field = '"' + "a" * 40 + "\n" + "b" * 40 + "\n" + "c" * 40 + '"'
    payload = await import_csv(small_limits, f"session,email\nAutumn,ana@example.org\nAutumn,{long_field}\n")
    header = await import_csv(small_limits, "session,email" + ",x" * 60 + "\n")

    assert [(e["line"], e["column"], e["code"]) for e in payload["rowErrors"]] == [(3, None, "VALIDATION")]
    assert the_summary(payload) == "The file has at least 1 error; reading stopped at line 3. Nothing was imported."
    assert header["errors"] == [{"field": ["file"], "code": "VALIDATION", "message": (
        "The first line is longer than 100 bytes: it must be the header.")}]


@pytest.mark.parametrize(("content", "message"), [
    (b"\x89PNG" + b"\xff" * 200, "The file is not UTF-8 text: line 1 has the byte 0x89. Save it as UTF-8 (\"CSV UTF-8\")."),
    (b"session,email\n" + b"\x00" * 200, "The file is not text: line 2 holds a NUL byte."),
    # a line cut where a 64 KB block ends, inside a character, is still only "too long"
    (b"session,email\nAutumn," + "é".encode() * 40_000, None),
], ids=["binary", "NUL bytes", "long UTF-8"])
async def test_a_line_past_the_row_limit_is_still_judged_as_text_first(small_limits, database, content, message):
    payload = await import_csv(small_limits, content)

    if message is None:
        assert [(e["line"], e["code"]) for e in payload["rowErrors"]] == [(2, "VALIDATION")]
    else:
        assert payload["errors"] == [{"field": ["file"], "code": "NOT_TEXT", "message": message}]


async def test_a_quoted_field_over_lines_within_the_limit_is_read_whole(small_limits, database, ids):
    payload = await import_csv(small_limits, 'session,email\n"Autumn",ana@example.org\n"Aut\numn",ana@example.org\n')

    assert [(e["line"], e["column"], e["code"]) for e in payload["rowErrors"]] == [(3, "session", "NOT_FOUND")]
    assert the_summary(payload) == "The file has 1 error; nothing was imported."


async def test_once_the_errors_reach_the_limit_the_first_ones_are_still_listed(limited, database, ids):
    # given: every row has a bad role, and every third row also names an unknown session
    admin = await limited(import_max_errors=100)
    rows = "".join(f"{'Winter' if n % 3 == 0 else 'Autumn'},ana@example.org,chief\n" for n in range(150))

    # when
    payload = await import_csv(admin, "session,email,role\n" + rows)

    # then: reading stops after 100 rows' errors; the rows read are still looked up whole, so
    # the listed errors are the file's first
    assert payload["rowErrorCount"] == 100 + 34
    listed = [(e["line"], e["column"]) for e in payload["rowErrors"]]
    assert listed[:5] == [(2, "role"), (2, "session"), (3, "role"), (4, "role"), (5, "role")]
    assert len(listed) == 100 and listed == sorted(listed, key=lambda e: e[0]) and listed[-1][0] < 102
    assert the_summary(payload) == ("The file has at least 134 errors (the first 100 are listed); "
                                    "reading stopped at line 102. Nothing was imported.")


async def test_a_quote_left_open_in_a_small_file_is_named_at_its_line(admin, database, ids):
    payload = await import_csv(admin, 'session,email\nAutumn,ana@example.org\nAutumn,"bo@example.org\nAutumn,cy\n')

    assert [(e["line"], e["column"], e["code"], e["message"]) for e in payload["rowErrors"]] == [
        (3, None, "VALIDATION", "Line 3: a quote opened in the row starting here is never closed.")]
    assert payload["created"] == 0


@pytest.mark.parametrize("content", [
    b"", b"a", b"a\n", b"a\r\nb\rc\nd", b"\r\r\n\n", b"x" * (64 * 1024 - 1) + b"\r\nb\r\n",
    b"x" * (64 * 1024 - 1) + b"\r", b"x" * (64 * 1024) + b"\n\n"], ids=lambda c: f"{len(c)} bytes")
def test_lines_are_counted_as_an_editor_counts_them(content):
    stream = io.BytesIO(content)

    assert count_lines(stream) == len(content.splitlines())
