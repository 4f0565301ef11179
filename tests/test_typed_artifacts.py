"""The mobile client's TypeScript types (clients/mobile/types/): GraphQL Code Generator makes them from the
committed SDL and the mobile documents (tools/codegen.ts); the committed ones are what it makes, they
type-check with their usage file (clients/mobile/types/usage.ts), and a schema change that would break a
mobile app fails the generation or the type check, as it fails tests/test_client_contract.py."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from sessiongraph.clients.documents import SCHEMA_PATH
from tests.node_tools import ROOT, TOOLS, run_tool

TYPES = ROOT / "clients" / "mobile" / "types"
GENERATED = ("operations.ts", "schema.ts")
USAGE = "usage.ts"


def generate(out: Path, schema: Path = SCHEMA_PATH):
    return run_tool("graphql-codegen", "--config", "codegen.ts", "--errors-only",
                    env={"TYPES_SCHEMA": str(schema), "TYPES_OUT": str(out)})


def typecheck(types: Path):
    """tsc --noEmit over a folder of types and the usage file, with tools/tsconfig.json's options."""
    if types == TYPES:
        return run_tool("tsc", "--noEmit", "-p", "tsconfig.json")
    shutil.copy(TYPES / USAGE, types / USAGE)
    config = types / "tsconfig.json"
    config.write_text(json.dumps({"extends": str(TOOLS / "tsconfig.json"), "include": [str(types / "*.ts")]}))
    return run_tool("tsc", "--noEmit", "-p", str(config))


def changed_type(sdl: str, name: str, old: str, new: str) -> str:
    """The SDL with `old` replaced by `new` once, within the definition of the type or input `name`."""
    definition = re.search(rf"^(?:type|input) {name}\b[^{{]*{{\n.*?^}}\n", sdl, re.MULTILINE | re.DOTALL)
    assert definition and old in definition.group(0), f"{old!r} is no longer in {name}: choose another change"
    start, end = definition.span()
    return sdl[:start] + definition.group(0).replace(old, new, 1) + sdl[end:]


def test_the_committed_types_are_the_generated_ones(tmp_path):
    generated = generate(tmp_path)

    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert sorted(path.name for path in TYPES.iterdir()) == sorted((*GENERATED, USAGE))
    stale = [name for name in GENERATED
             if (tmp_path / name).read_text(encoding="utf-8") != (TYPES / name).read_text(encoding="utf-8")]
    assert stale == [], (f"clients/mobile/types/{', '.join(stale)} is not what the schema and the mobile documents "
                         f"make: run `make types` and commit it")


def test_the_committed_types_and_their_usage_type_check():
    checked = typecheck(TYPES)

    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_an_additive_schema_change_still_generates_and_type_checks(tmp_path):
    # given: the schema with a new field and a new optional input field, which break no client
    sdl = SCHEMA_PATH.read_text(encoding="utf-8")
    sdl = changed_type(sdl, "LiveSession", "  startsAt: DateTime!\n", "  startsAt: DateTime!\n  topic: String\n")
    sdl = changed_type(sdl, "BookSlotInput", "  slotId: ID!\n", "  slotId: ID!\n  note: String = null\n")
    (tmp_path / "schema.graphql").write_text(sdl, encoding="utf-8")

    # when
    generated = generate(tmp_path / "types", tmp_path / "schema.graphql")
    checked = typecheck(tmp_path / "types")

    # then: the new input field is in the types, and the app's code still compiles
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "note?: string | null | undefined;" in (tmp_path / "types" / "operations.ts").read_text(encoding="utf-8")
    assert checked.returncode == 0, checked.stdout + checked.stderr


BREAKING = {
    # A field a mobile document selects is removed: the document no longer validates.
    "a removed field": ("LiveSession", "  code: String!\n", "",
                        "codegen", 'Cannot query field "code" on type "LiveSession"'),
    # An argument a document passes from a nullable variable becomes required.
    "an argument made non-null": ("Query", "search: String = null)", "search: String!)",
                                  "codegen", 'Variable "$search" of type "String" used in position expecting type '
                                             '"String!"'),
    # An input field the app leaves out becomes required: bookVariables no longer compiles.
    "an input field made non-null": ("BookSlotInput", "  idempotencyKey: String = null\n",
                                     "  idempotencyKey: String!\n",
                                     "tsc", "Property 'idempotencyKey' is missing"),
    # A result the app reads as always there may now be null: listLine's `new Date(item.startsAt)` no
    # longer compiles.
    "a result made nullable": ("LiveSession", "  startsAt: DateTime!\n", "  startsAt: DateTime\n",
                               "tsc", "Argument of type 'string | null' is not assignable"),
}


@pytest.mark.parametrize("change", BREAKING)
def test_a_breaking_schema_change_fails_the_generation_or_the_type_check(tmp_path, change):
    # given: a copy of the committed schema with the change
    name, old, new, failing, message = BREAKING[change]
    schema = tmp_path / "schema.graphql"
    schema.write_text(changed_type(SCHEMA_PATH.read_text(encoding="utf-8"), name, old, new), encoding="utf-8")

    # when: the types are generated from it and checked with the usage file
    generated = generate(tmp_path / "types", schema)
    checked = typecheck(tmp_path / "types") if generated.returncode == 0 else None

    # then: the step named fails, saying why (and where, for tsc)
    if failing == "codegen":
        assert generated.returncode != 0 and message in generated.stdout + generated.stderr, (
            generated.stdout + generated.stderr)
    else:
        assert generated.returncode == 0, generated.stdout + generated.stderr
        assert checked is not None and checked.returncode != 0, checked and checked.stdout
        assert message in checked.stdout and f"{USAGE}(" in checked.stdout, checked.stdout
