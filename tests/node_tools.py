"""The JavaScript tools the client checks run (tools/: GraphQL Code Generator, TypeScript, axe-core),
installed from tools/package-lock.json by `make node-tools`: `npm ci`, and nothing again while the lock
is unchanged (.ci/run installs them before the tests; a test run alone installs them itself)."""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"


@cache
def node_tools() -> Path:
    """tools/, its node_modules installed."""
    installed = subprocess.run(["make", "--no-print-directory", "node-tools"], cwd=ROOT, capture_output=True,
                               text=True, timeout=600)
    assert installed.returncode == 0, f"`make node-tools` (npm ci in tools/) failed:\n{installed.stdout}{installed.stderr}"
    return TOOLS


def run_tool(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """One of tools/node_modules/.bin's commands, run in tools/ (where its configuration is)."""
    return subprocess.run([str(node_tools() / "node_modules" / ".bin" / name), *args], cwd=TOOLS, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})
