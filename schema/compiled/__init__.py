"""Compiled operations: a trusted client document answered without executing it field by field.

graphql-core and Strawberry spend several microseconds on every field they resolve,
and a month calendar has about 260 of them; with the ORM's rows behind them that was
most of a request's CPU (README, "At scale"). For a few hot documents from clients/
a function written for that document reads what the document needs (the calendars: one
statement's rows; the admin list: the schema's own resolvers and loaders) and builds the
response as plain dictionaries, with the rules and permission checks the schema's fields
use. The planned execution (schema/execution.py) answers every other document; the
dashboard and session details were compiled until it answered them for less CPU than
their functions did. A month calendar's 260 fields and a page of 50 sessions' 1,000 still
cost it about 25 % and 13 % more CPU than these functions (README, "A live session's
details, and two documents no longer compiled"), so they stay until they do not.

What stays as it was: the request is parsed, validated, limited and counted exactly as
before (Strawberry's extensions all run); only execution is replaced, from the
`on_execute` hook, by setting the result Strawberry would otherwise compute. A compiled
operation may decline, returning `DECLINED`, and then the document executes as usual:
so it handles the common case (a signed-in viewer, variables as the schema would read
them) and leaves every other case to the schema. One that raises declines too (logged),
and the document is executed with the request's loaders emptied: errors are reported
the schema's way, with its partial data.

A compiled operation names the SHA-256 of the document it was written for: when the
document in clients/ changes, it stops being used (with a warning) until it is brought up
to date, and tests/test_compiled.py fails. The same tests hold each compiled answer
byte-equal to the executed one, on both engines.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from sessiongraph.clients.documents import load_operations
from sessiongraph.infrastructure.observability import COMPILED_ANSWERS
from sessiongraph.resolvers.context import Context

log = logging.getLogger("sessiongraph.compiled")

DECLINED: Any = object()


@dataclass(frozen=True, slots=True)
class CompiledOperation:
    client: str
    name: str
    # The SHA-256 of the document (as clients/documents.py prints it) this was written for.
    sha256: str
    # (context, variables) -> the response's `data`, or DECLINED.
    answer: Callable[[Context, Mapping[str, Any]], Awaitable[Any]]


def _compiled() -> tuple[CompiledOperation, ...]:
    from sessiongraph.schema.compiled.schedule import COMPILED as schedule
    from sessiongraph.schema.compiled.sessions import COMPILED as sessions

    return (*schedule, *sessions)


@cache
def compiled_by_document() -> dict[str, CompiledOperation]:
    """The compiled operations whose documents are as they were written for, by document text."""
    documents = {(op.client, op.name): op for client in {c.client for c in _compiled()}
                 for op in load_operations(client)}
    current = {}
    for compiled in _compiled():
        document = documents.get((compiled.client, compiled.name))
        if document is None or document.sha256 != compiled.sha256:
            log.warning("%s/%s changed since it was compiled; it is executed field by field until "
                        "schema/compiled is brought up to date", compiled.client, compiled.name)
            continue
        current[document.document] = compiled
    return current


class CompiledOperations(SchemaExtension):
    """Answers a compiled document in place of executing it (see the module's docstring)."""

    async def on_execute(self) -> Any:
        context = self.execution_context
        compiled = compiled_by_document().get(context.query) if context.result is None else None
        if (compiled is not None and context.operation_type is OperationType.QUERY
                and context.operation_name == compiled.name):
            try:
                data = await compiled.answer(context.context, context.variables or {})
            except Exception:
                log.exception("%s/%s failed; executing it field by field", compiled.client, compiled.name)
                context.context.forget_loaded()
                data = DECLINED
            if data is not DECLINED:
                context.result = ExecutionResult(data=data, errors=None)
            COMPILED_ANSWERS.labels(compiled.name, "declined" if data is DECLINED else "answered").inc()
        yield

