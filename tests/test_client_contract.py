"""The client operations in clients/ against the live schema: they validate, the committed SDL
is the exported one, no change breaks an operation unnoticed, and the manifest is up to date."""

import json

import pytest
from graphql import build_schema, find_breaking_changes, parse, validate

from sessiongraph.clients.documents import (
    CLIENTS,
    MANIFEST_COMMAND,
    MANIFEST_PATH,
    SCHEMA_COMMAND,
    SCHEMA_PATH,
    all_operations,
    document_hash,
    manifest_json,
    unused_fragments,
)
from sessiongraph.schema import export_sdl, schema
from sessiongraph.server import cli
from tests.client_contract import broken_operations, coordinates_used

OPERATIONS = all_operations()


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.client}/{op.name}")
def test_every_client_operation_validates_against_the_live_schema(operation):
    errors = validate(schema._schema, parse(operation.document))

    assert not errors, f"{operation.source}: " + "; ".join(error.message for error in errors)


def test_every_client_has_operations_of_its_own():
    assert {op.client for op in OPERATIONS} == set(CLIENTS)


def test_operation_names_are_unique_across_clients():
    # A name stands for one document in the logs and metrics, whichever client sent it.
    names = [op.name for op in OPERATIONS]

    assert sorted({n for n in names if names.count(n) > 1}) == []


@pytest.mark.parametrize("client", CLIENTS)
def test_every_shared_fragment_is_used(client):
    assert unused_fragments(client) == []


def test_the_committed_sdl_is_the_exported_one():
    committed = SCHEMA_PATH.read_text(encoding="utf-8")

    assert committed == export_sdl(), (
        f"clients/schema.graphql is not the schema the code serves: run `{SCHEMA_COMMAND}` (or `make clients`) "
        f"(after checking that no client operation breaks) and commit it")


def test_no_breaking_change_since_the_committed_sdl_touches_a_client_operation():
    committed = build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))
    changes = find_breaking_changes(committed, schema._schema)

    broken = broken_operations(changes, OPERATIONS, committed)

    assert not broken, ("the schema breaks client operations:\n" + "\n".join(f"  {b}" for b in broken)
                        + f"\nKeep what they use, or change the clients; then run `{SCHEMA_COMMAND}` "
                          f"(or `make clients`).")


def test_the_breaking_change_check_names_the_operations_that_use_what_changed():
    # given: the committed SDL, and one without LiveSession.code and with a required argument added
    committed_sdl = SCHEMA_PATH.read_text(encoding="utf-8")
    old = build_schema(committed_sdl)
    new = build_schema(committed_sdl
                       .replace("  code: String!\n  course: Course!", "  course: Course!", 1)
                       .replace("calendar(date: Date!,", "calendar(date: Date!, required: Int!,", 1))

    # when
    broken = broken_operations(find_breaking_changes(old, new), OPERATIONS, old)

    # then
    by_name = {b.operation.name: b for b in broken}
    assert "Field LiveSession.code was removed." in by_name["SessionDetails"].changes
    assert "MobileCalendarMonth" in by_name and "CalendarTab" in by_name
    assert "MySessions" not in by_name
    assert "web operation SessionDetails (clients/web/session_details.graphql)" in str(by_name["SessionDetails"])


def test_coordinates_used_follow_fragments_arguments_and_input_types():
    old = build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))
    document = next(op for op in OPERATIONS if op.name == "SessionList").document

    used = coordinates_used(document, old)

    assert {"Query.sessions", "Query.sessions(filter:)", "SessionFilter.status", "SessionStatus.PAST",
            "Session.learnerCount", "DateWindow.start"} <= used


def test_the_committed_manifest_is_up_to_date():
    committed = MANIFEST_PATH.read_text(encoding="utf-8")

    assert committed == manifest_json(), (
        f"clients/trusted-documents.json is not the manifest of the operations in clients/: "
        f"run `{MANIFEST_COMMAND}` (or `make clients`) and commit it")


def test_the_manifest_maps_each_hash_to_its_document():
    documents = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))

    assert len(documents) == len(OPERATIONS)
    assert all(document_hash(document) == sha256 for sha256, document in documents.items())


def test_the_commands_print_what_is_committed(capsys):
    assert cli.main(["trusted-documents"]) == 0
    manifest = capsys.readouterr().out
    assert cli.main(["export-schema"]) == 0
    sdl = capsys.readouterr().out

    assert manifest == MANIFEST_PATH.read_text(encoding="utf-8")
    assert sdl == SCHEMA_PATH.read_text(encoding="utf-8")
