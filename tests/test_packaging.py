"""What pip installs: one import root, and dependencies that come from the lock.

The wheel is built from this checkout and installed into a fresh virtual environment,
where the service must start from what the wheel holds alone (its migrations, the
client documents, the web page) while the folder names it is built from (`schema`,
`models`, ...) import nothing. The environment takes its dependencies from the test
run's own through a .pth line: the wheel is what is under test, not the package index.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
import tomllib
import zipfile
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from sessiongraph.server.graphiql_vendor import PINS
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
GENERIC_NAMES = ("schema", "models", "resolvers", "clients")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
                    "--wheel-dir", str(out), str(ROOT)], check=True, capture_output=True, timeout=300)
    [built] = out.glob("sessiongraph-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True, timeout=300)
    return venv


def test_the_wheel_holds_one_top_level_package(wheel):
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        names = set(archive.namelist())

    assert tops == {"sessiongraph", wheel.name.split("-py")[0] + ".dist-info"}, tops
    # What the service reads from its own package at run time.
    assert "sessiongraph/migrations/versions/0001_foundation.py" in names
    assert "sessiongraph/migrations/script.py.mako" in names
    assert "sessiongraph/clients/trusted-documents.json" in names
    assert "sessiongraph/clients/web/app/index.html" in names
    assert "sessiongraph/server/graphiql.html" in names
    assert {f"sessiongraph/server/graphiql/{pin.name}" for pin in PINS} <= names
    assert "sessiongraph/server/graphiql/start.js" in names


@pytest.mark.parametrize("name", GENERIC_NAMES)
def test_the_folder_names_import_nothing_once_installed(fresh_venv, tmp_path, name):
    result = subprocess.run([fresh_venv / "bin" / "python", "-c", f"import {name}"], cwd=tmp_path,
                            capture_output=True, text=True, env=_clean_env(), timeout=60)

    assert result.returncode != 0
    assert f"No module named '{name}'" in result.stderr


def test_the_installed_service_starts_migrates_and_answers(fresh_venv, tmp_path):
    port = free_port()
    env = {**_clean_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'installed.db'}",
           "JWT_SECRET": "packaging-secret-" + "x" * 32, "RATE_LIMIT_ENABLED": "false"}
    server = subprocess.Popen([fresh_venv / "bin" / "sessiongraph", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        ready = _wait_ready(f"{base}/readyz", server)
        answer = httpx.post(f"{base}/graphql", json={"query": "{ __typename }"}, timeout=10)
        page = httpx.get(f"{base}/app/", timeout=10)
        graphiql = httpx.get(f"{base}/graphiql/start.js", timeout=10)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)

    assert ready, stderr.decode(errors="replace")[-2000:]
    assert answer.json() == {"data": {"__typename": "Query"}}
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert graphiql.status_code == 200


def test_the_lock_satisfies_every_dependency_pyproject_declares():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    service = _pins(ROOT / "requirements" / "service.txt")
    dev = _pins(ROOT / "requirements" / "dev.txt")
    wanted = [(service, Requirement(r)) for r in project["dependencies"]]
    wanted += [(dev, Requirement(r)) for r in [*project["dependencies"], *project["optional-dependencies"]["dev"]]]

    stale = [f"{requirement} (locked: {lock.get(canonicalize_name(requirement.name))})"
             for lock, requirement in wanted
             if lock.get(canonicalize_name(requirement.name)) is None
             or not requirement.specifier.contains(lock[canonicalize_name(requirement.name)], prereleases=True)]
    assert not stale, f"requirements/*.txt are behind pyproject.toml; run `make lock`: {stale}"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name.strip())] = version.split()[0].rstrip("\\").strip()
    return pins


def _clean_env() -> dict[str, str]:
    """The environment without what would put this checkout on the path."""
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "DATABASE_URL", "REDIS_URL")}


def _wait_ready(url: str, server: subprocess.Popen, limit: float = 60) -> bool:
    """Polls the readiness endpoint until it answers 200, the server exits, or `limit` seconds pass."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False
