"""Text every engine can store: one check on every string an operation brings, before any resolver.

PostgreSQL's text refuses NUL, and a lone UTF-16 surrogate (JSON's `"\\ud800"`) has no UTF-8
form, so neither driver can send it: such a string reaching SQL was an INTERNAL error. The
check covers variables and the document's own string literals, for every entry point (HTTP,
persisted documents, WebSocket), and answers BAD_USER_INPUT naming the variable or argument.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import ArgumentNode, ExecutionResult, GraphQLError, StringValueNode, ValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from sessiongraph.infrastructure.storable import storable_text

PROBLEM = "contains a NUL character or an unpaired surrogate, which no text can hold"


def unstorable_path(value: Any, path: str) -> str | None:
    """The path of the first string in `value` (keys included) that cannot be stored; None when all can."""
    if isinstance(value, str):
        return None if storable_text(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and not storable_text(key):
                return path
            found = unstorable_path(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


class StorableStringLiterals(ValidationRule):
    """String literals written into the document itself (`courses(search: "\\u0000")`)."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.argument: str | None = None

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        self.argument = node.name.value

    def leave_argument(self, *_: Any) -> None:
        self.argument = None

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if not storable_text(node.value):
            where = f"Argument {self.argument!r}" if self.argument else "A string"
            self.report_error(GraphQLError(f"{where} {PROBLEM}.", node, extensions={"code": "BAD_USER_INPUT"}))


class StorableVariables(SchemaExtension):
    """Variables, which arrive after validation: checked before the operation runs."""

    def on_execute(self) -> Iterator[None]:
        context: ExecutionContext = self.execution_context
        if context.result is None and context.variables:
            for name, value in context.variables.items():
                path = unstorable_path({name: value}, "")
                if path is not None:
                    # A name that is itself unstorable leaves the path empty: it is not echoed.
                    where = f"Variable ${path.lstrip('.')}" if path else "A variable"
                    refusal = GraphQLError(f"{where} {PROBLEM}.", extensions={"code": "BAD_USER_INPUT"})
                    if context.operation_type is OperationType.SUBSCRIPTION:
                        raise refusal  # a subscription ignores a preset result (as in schema/limits.py)
                    context.result = ExecutionResult(data=None, errors=[refusal])
                    break
        yield
