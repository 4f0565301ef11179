"""The service on a read-only root filesystem with /tmp alone writable, as the Helm chart runs it
(readOnlyRootFilesystem, an emptyDir at /tmp): it starts, answers, writes an XLSX export and spools
a large upload, all in /tmp. Any write elsewhere would fail with EROFS and show here.

The process runs in a mount namespace of its own (`unshare -m`, root only: CI runs as root) where
/ is remounted read-only after /tmp was bound onto itself, so /tmp (which holds the tests' SQLite
file) stays writable and nothing else does.
"""

import json
import os
import shutil
from datetime import UTC, datetime

import httpx
import pytest

from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.schema.relay import to_global_id
from tests.schedule_data import data  # noqa: F401
from tests.test_drain import serve_process

READ_ONLY_BUT_TMP = ["unshare", "--mount", "sh", "-c",
                     'mount --make-rprivate / && mount --bind /tmp /tmp && mount -o remount,bind,ro / && exec "$@"',
                     "read-only-root"]
EXPORT = """mutation($id: ID!) { exportEnrollments(input: {format: XLSX, sessionId: $id}) {
  url errors { code message } } }"""
IMPORT = "mutation($file: Upload!) { importCsv(input: {file: $file}) { errors { code } } }"


@pytest.fixture
async def read_only_served(database_url, settings, database):
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("a mount namespace needs root and unshare (CI runs as root)")
    async with serve_process(database_url, settings, {}, wrapper=READ_ONLY_BUT_TMP) as served:
        yield served


async def test_on_a_read_only_root_the_service_exports_and_reads_uploads_through_tmp(read_only_served, data,
                                                                                      settings):
    process, port = read_only_served
    admin = await data.user("Ada", is_admin=True)
    session = await data.session("Read-only")
    headers = {"Authorization": f"Bearer {issue_token(admin.id, settings, datetime.now(UTC))}"}
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=30) as client:
        exported = (await client.post(f"{base}/graphql", headers=headers, json={
            "query": EXPORT, "variables": {"id": to_global_id("Session", session.id)}})).json()
        assert exported["data"]["exportEnrollments"]["errors"] == [], exported
        download = await client.get(exported["data"]["exportEnrollments"]["url"])
        assert download.status_code == 200 and download.content.startswith(b"PK")  # an XLSX is a zip

        # Over a megabyte: the multipart parser spools the file to disk, in /tmp.
        upload = b"email,name\n" + b"not-an-address,x\n" * 120_000
        imported = await client.post(f"{base}/graphql", headers=headers, data={
            "operations": json.dumps({"query": IMPORT, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"]})},
            files={"0": ("users.csv", upload, "text/csv")})
        assert imported.status_code == 200, imported.text
        assert imported.json()["data"]["importCsv"]["errors"], imported.text  # read, and refused line by line

    process.terminate()
    process.wait(timeout=30)
    log = process.stderr.read().decode()
    assert "Read-only file system" not in log and "Traceback" not in log, log
