"""Fetches the GraphiQL page's third-party files from the npm registry at pinned versions, or checks them.

    python -m sessiongraph.server.graphiql_vendor           # fetch each file, check it, write it in graphiql/
    python -m sessiongraph.server.graphiql_vendor --check   # check the committed files (offline)

The files are committed, so the service serves GraphiQL with no network; this script is how they got
here and how an upgrade is made: change a version, run it, and put the SHA-256 it reports below. The
versions are those Strawberry's own GraphiQL template names (strawberry/static/graphiql.html), whose
SRI hashes the files match.
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent / "graphiql"
REGISTRY = "https://registry.npmjs.org"


class Pin(NamedTuple):
    package: str
    version: str
    member: str  # the file's path inside the package's tarball
    name: str  # its name here
    sha256: str


PINS = [
    Pin("react", "18.2.0", "package/umd/react.production.min.js", "react-18.2.0.production.min.js",
        "4b4969fa4ef3594324da2c6d78ce8766fbbc2fd121fff395aedf997db0a99a06"),
    Pin("react-dom", "18.2.0", "package/umd/react-dom.production.min.js", "react-dom-18.2.0.production.min.js",
        "21758ed084cd0e37e735722ee4f3957ea960628a29dfa6c3ce1a1d47a2d6e4f7"),
    Pin("react", "18.2.0", "package/LICENSE", "react-LICENSE.txt",
        "52412d7bc7ce4157ea628bbaacb8829e0a9cb3c58f57f99176126bc8cf2bfc85"),
    # graphiql.min.js is the package's only UMD build (3.5 MB, not minified despite its name).
    Pin("graphiql", "3.8.3", "package/graphiql.min.js", "graphiql-3.8.3.min.js",
        "22faab94067b695e5f7959619fbe686ebcc8955002a0c97d986bcbba4ad4bc2c"),
    Pin("graphiql", "3.8.3", "package/graphiql.min.css", "graphiql-3.8.3.min.css",
        "b1868247f8e0502cd869e581f5f3cb55b334862e7f51b1d6cbace11059b9adc2"),
    Pin("graphiql", "3.8.3", "package/LICENSE", "graphiql-LICENSE.txt",
        "4b18fbe55c4e8f9169cb702be138f4d858a2dad920c39857204ffdc9c1c9fdc4"),
    # The explorer plugin ships no LICENSE file; it is MIT, from the same repository (graphql/graphiql).
    Pin("@graphiql/plugin-explorer", "1.0.2", "package/dist/index.umd.js", "graphiql-plugin-explorer-1.0.2.umd.js",
        "083e37e501d3e3920a60e627b82191af056009124dce82a332e8ac74db6ca38b"),
    Pin("@graphiql/plugin-explorer", "1.0.2", "package/dist/style.css", "graphiql-plugin-explorer-1.0.2.css",
        "762850cb69873400d0ab1737c6158aee91f5c38195bc4a30ee02a3c5d5af4e01"),
]


def tarball_url(package: str, version: str) -> str:
    return f"{REGISTRY}/{package}/-/{package.rsplit('/', 1)[-1]}-{version}.tgz"


def fetch() -> list[str]:
    problems = []
    tarballs: dict[tuple[str, str], bytes] = {}
    for pin in PINS:
        key = (pin.package, pin.version)
        if key not in tarballs:
            with urllib.request.urlopen(tarball_url(*key), timeout=60) as response:
                tarballs[key] = response.read()
        with tarfile.open(fileobj=io.BytesIO(tarballs[key]), mode="r:gz") as archive:
            member = archive.extractfile(pin.member)
            if member is None:
                problems.append(f"{pin.package}@{pin.version} has no file {pin.member}")
                continue
            content = member.read()
        digest = hashlib.sha256(content).hexdigest()
        if digest != pin.sha256:
            problems.append(f"{pin.name}: {pin.package}@{pin.version} {pin.member} has SHA-256 {digest}, "
                            f"pinned {pin.sha256}; not written")
            continue
        (HERE / pin.name).write_bytes(content)
    return problems


def check() -> list[str]:
    problems = []
    for pin in PINS:
        path = HERE / pin.name
        if not path.is_file():
            problems.append(f"{pin.name} is missing (`python -m sessiongraph.server.graphiql_vendor` fetches it)")
        elif (digest := hashlib.sha256(path.read_bytes()).hexdigest()) != pin.sha256:
            problems.append(f"{pin.name} has SHA-256 {digest}, pinned {pin.sha256}")
    return problems


if __name__ == "__main__":
    found = check() if sys.argv[1:] == ["--check"] else fetch()
    for problem in found:
        print(problem, file=sys.stderr)
    sys.exit(1 if found else 0)
