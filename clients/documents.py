"""The client operations in clients/: one .graphql file per screen or action, and what each client sends.

Each client (web, mobile, admin) keeps one operation per .graphql file, and the
fragments it shares between them in its own fragments/ folder. The document a
client sends for an operation is that operation followed by every fragment it
uses (directly or through other fragments), sorted by name and printed by
graphql-core: comments and layout in the files do not change what is sent, nor
its hash. The trusted-documents manifest maps the SHA-256 of each such document
(hex) to the document.

    python -m clients.documents          # print the manifest (the same as `sessiongraph trusted-documents`)
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    Visitor,
    parse,
    print_ast,
    visit,
)

CLIENTS_DIR = Path(__file__).resolve().parent
CLIENTS = ("web", "mobile", "admin")
SCHEMA_PATH = CLIENTS_DIR / "schema.graphql"
MANIFEST_PATH = CLIENTS_DIR / "trusted-documents.json"
WEB_APP_DIR = CLIENTS_DIR / "web" / "app"  # the web client's page, served at /app
SCHEMA_COMMAND = "sessiongraph export-schema > clients/schema.graphql"
MANIFEST_COMMAND = "sessiongraph trusted-documents > clients/trusted-documents.json"


class ClientDocumentError(Exception):
    """A .graphql file under clients/ that is not one operation (or fragments) as expected."""


@dataclass(frozen=True)
class Operation:
    client: str
    name: str
    kind: str  # query, mutation or subscription
    path: Path
    document: str  # what the client sends: the operation and the fragments it uses

    @property
    def sha256(self) -> str:
        return document_hash(self.document)

    @property
    def source(self) -> str:
        """The file, relative to the repository (for messages)."""
        return str(self.path.relative_to(CLIENTS_DIR.parent))


def document_hash(document: str) -> str:
    """The SHA-256 of a document as sent, in hex: Apollo's persisted-query hash."""
    return hashlib.sha256(document.encode()).hexdigest()


def _parse(path: Path) -> DocumentNode:
    try:
        return parse(path.read_text(encoding="utf-8"), no_location=True)
    except GraphQLSyntaxError as error:
        raise ClientDocumentError(f"{path}: {error.message}") from error


def _fragments(client: str) -> dict[str, FragmentDefinitionNode]:
    fragments: dict[str, FragmentDefinitionNode] = {}
    for path in sorted((CLIENTS_DIR / client / "fragments").glob("*.graphql")):
        for definition in _parse(path).definitions:
            if not isinstance(definition, FragmentDefinitionNode):
                raise ClientDocumentError(f"{path}: a fragments/ file holds fragments only")
            name = definition.name.value
            if name in fragments:
                raise ClientDocumentError(f"{path}: fragment {name} is defined twice in clients/{client}")
            fragments[name] = definition
    return fragments


class _SpreadNames(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_args) -> None:
        self.names.add(node.name.value)


def _spreads(node) -> set[str]:
    collector = _SpreadNames()
    visit(node, collector)
    return collector.names


def _used_fragments(root, fragments: dict[str, FragmentDefinitionNode], where: Path) -> list[FragmentDefinitionNode]:
    used: dict[str, FragmentDefinitionNode] = {}
    pending = sorted(_spreads(root))
    while pending:
        name = pending.pop()
        if name in used:
            continue
        if name not in fragments:
            raise ClientDocumentError(f"{where}: uses fragment {name}, which no fragments/ file defines")
        used[name] = fragments[name]
        pending.extend(sorted(_spreads(fragments[name]) - used.keys()))
    return [used[name] for name in sorted(used)]


def operation_paths(client: str) -> list[Path]:
    return sorted(path for path in (CLIENTS_DIR / client).glob("*.graphql"))


@cache
def load_operations(client: str) -> tuple[Operation, ...]:
    """The client's operations, by file name."""
    shared = _fragments(client)
    operations = []
    for path in operation_paths(client):
        definitions = _parse(path).definitions
        ops = [d for d in definitions if isinstance(d, OperationDefinitionNode)]
        if len(ops) != 1 or ops[0].name is None:
            raise ClientDocumentError(f"{path}: one named operation per file (found {len(ops)})")
        local = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
        clash = local.keys() & shared.keys()
        if clash:
            raise ClientDocumentError(f"{path}: defines {', '.join(sorted(clash))}, already in fragments/")
        operation = ops[0]
        fragments = _used_fragments(operation, shared | local, path)
        document = print_ast(DocumentNode(definitions=(operation, *fragments)))
        assert operation.name is not None, "refused above: one named operation per file"
        operations.append(Operation(client=client, name=operation.name.value, kind=operation.operation.value,
                                    path=path, document=document))
    return tuple(operations)


def all_operations(clients: Iterable[str] = CLIENTS) -> list[Operation]:
    return [operation for client in clients for operation in load_operations(client)]


def unused_fragments(client: str) -> list[str]:
    """Fragments in the client's fragments/ that none of its operations uses."""
    used = {definition.name.value
            for operation in load_operations(client)
            for definition in parse(operation.document, no_location=True).definitions
            if isinstance(definition, FragmentDefinitionNode)}
    return sorted(_fragments(client).keys() - used)


def manifest(operations: Iterable[Operation] | None = None) -> dict[str, str]:
    """SHA-256 (hex) -> document, for every client operation, sorted by hash."""
    documents = {operation.sha256: operation.document
                 for operation in (all_operations() if operations is None else operations)}
    return dict(sorted(documents.items()))


def manifest_json(operations: Iterable[Operation] | None = None) -> str:
    return json.dumps(manifest(operations), indent=2, ensure_ascii=False) + "\n"


def operations_by_name(client: str) -> dict[str, dict[str, str]]:
    """What a client page needs to send its operations: name -> its hash, document and kind."""
    return {operation.name: {"sha256": operation.sha256, "document": operation.document, "kind": operation.kind}
            for operation in load_operations(client)}


def main() -> int:
    sys.stdout.write(manifest_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
