"""Abuse limits on one GraphQL operation, and the caches that keep checking them cheap.

Each refusal is a top-level error whose `extensions.code` says which limit it hit;
its message names the limit and the setting that raises it.

| code                   | setting               | what is counted                                   |
|------------------------|-----------------------|---------------------------------------------------|
| TOO_MANY_TOKENS        | MAX_QUERY_TOKENS      | lexical tokens of the document (graphql-core's    |
|                        |                       | parser stops counting past the limit)             |
| QUERY_TOO_DEEP         | MAX_QUERY_DEPTH       | nesting below the root fields, fragments expanded:|
|                        |                       | `{ viewer { user { id } } }` has depth 2          |
| TOO_MANY_ALIASES       | MAX_QUERY_ALIASES     | aliased fields, each fragment spread counted again|
| TOO_MANY_DIRECTIVES    | MAX_QUERY_DIRECTIVES  | directives written anywhere in the document       |
| QUERY_TOO_COMPLEX      | MAX_QUERY_COST        | the most values the response could hold (below)   |
| INTROSPECTION_DISABLED | ENVIRONMENT=production| any `__schema` or `__type` field                  |

Cost: every field counts 1. A field that returns a list multiplies the cost of
what is selected under it by the list's length: a connection's `edges` and
`nodes` by the connection's `first` (capped at MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE
when absent; a variable counts with its value), any other list by
DEFAULT_PAGE_SIZE. Fragments count wherever they are spread; the branches of an
abstract type add up. Introspection fields count 1 each: they are bounded by the
schema, and off in production. The cost is checked after validation, with the
variables known, so a client paging with `first: $n` pays for the `n` it sends.

Depth, aliases, directives and introspection are validation rules, built once per
set of limits (`validation_rules`), so the validation cache, whose key includes the
rules, hits for every repeat of a document; the parser cache keys on the text and
the token limit. Only documents up to CACHEABLE_QUERY_CHARS are
cached, so unique huge documents cannot fill memory.
"""

from __future__ import annotations

import contextlib
import functools
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from graphql import (
    ASTValidationRule,
    DirectiveNode,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    value_from_ast_untyped,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
)
from strawberry.extensions.max_aliases import create_validator as alias_limit_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_limit_rule
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from sessiongraph.infrastructure.ratelimit import MutationRateLimiter
from sessiongraph.infrastructure.settings import Settings

PARSE_CACHE_SIZE = 256
VALIDATION_CACHE_SIZE = 256
CACHEABLE_QUERY_CHARS = 32 * 1024
# graphql-core's wording when the parser gives up at max_tokens.
TOKEN_LIMIT_MESSAGE = "Syntax Error: Document contains more than"


@dataclass(frozen=True, slots=True)
class QueryLimits:
    max_depth: int = 12
    max_tokens: int = 5_000
    max_aliases: int = 30
    max_directives: int = 50
    max_cost: int = 50_000
    default_page_size: int = 20
    max_page_size: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryLimits:
        return cls(max_depth=settings.max_query_depth, max_tokens=settings.max_query_tokens,
                   max_aliases=settings.max_query_aliases, max_directives=settings.max_query_directives,
                   max_cost=settings.max_query_cost, default_page_size=settings.default_page_size,
                   max_page_size=settings.max_page_size)

    def page_size(self, first: object) -> int:
        """The rows a connection hands out for `first`, as resolvers/pagination.py decides it."""
        if not isinstance(first, int) or isinstance(first, bool):
            return self.default_page_size
        return max(0, min(first, self.max_page_size))


def coded(rule: type[ValidationRule], code: str) -> type[ValidationRule]:
    """`rule`, with `extensions.code` set on every error it reports.

    Strawberry's depth and alias limiters report bare errors, and from their
    constructor (through the context); visitor rules report through `report_error`.
    """

    def stamp(error: GraphQLError) -> GraphQLError:
        error.extensions = {**(error.extensions or {}), "code": code}
        return error

    class CodedRule(rule):  # type: ignore[valid-type, misc]
        def __init__(self, context: ValidationContext) -> None:
            report = context.on_error
            context.on_error = lambda error: report(stamp(error))  # type: ignore[method-assign]
            try:
                super().__init__(context)
            except RecursionError:
                # Strawberry's depth limiter follows fragment spreads by recursion, and a chain of
                # a few hundred fragments (no deeper in fields) exhausts Python's stack.
                ValidationRule.__init__(self, context)
                report(stamp(GraphQLError("The document's fragments nest too deeply.", context.document)))
            finally:
                context.on_error = report  # type: ignore[method-assign]

        def report_error(self, error: GraphQLError) -> None:
            super().report_error(stamp(error))

    CodedRule.__name__ = CodedRule.__qualname__ = f"{rule.__name__}_{code}"
    return CodedRule


def directive_limit_rule(max_directives: int) -> type[ValidationRule]:
    class DirectiveLimit(ValidationRule):
        """Refuses documents that repeat directives past the limit (`@include` a thousand times)."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.seen = 0

        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            self.seen += 1
            if self.seen == max_directives + 1:
                self.report_error(GraphQLError(
                    f"The document has more than {max_directives} directives (MAX_QUERY_DIRECTIVES).",
                    node, extensions={"code": "TOO_MANY_DIRECTIVES"}))

    return DirectiveLimit


@functools.cache
def validation_rules(limits: QueryLimits, *, introspection: bool) -> tuple[type[ValidationRule], ...]:
    """The limit rules, one set of classes per set of limits, so validation results cache."""
    rules = [
        coded(depth_limit_rule(limits.max_depth, should_ignore=None), "QUERY_TOO_DEEP"),
        coded(alias_limit_rule(limits.max_aliases), "TOO_MANY_ALIASES"),
        directive_limit_rule(limits.max_directives),
    ]
    if not introspection:
        rules.append(coded(NoSchemaIntrospectionCustomRule, "INTROSPECTION_DISABLED"))
    return tuple(rules)


class TokenLimit(MaxTokensLimiter):
    """Strawberry's token limit, its refusal carrying TOO_MANY_TOKENS."""

    def on_parse(self) -> Iterator[None]:
        yield
        # Strawberry catches the parser's error inside this step and keeps it here.
        for error in self.execution_context.pre_execution_errors or ():
            if isinstance(error, GraphQLSyntaxError) and error.message.startswith(TOKEN_LIMIT_MESSAGE):
                error.message = f"The document has more than {self.max_token_count} tokens (MAX_QUERY_TOKENS)."
                error.extensions = {"code": "TOO_MANY_TOKENS"}


def _cacheable(query: str | None) -> bool:
    return query is not None and len(query) <= CACHEABLE_QUERY_CHARS


class SmallDocumentParserCache(ParserCache):
    """Strawberry's parser cache, for documents of an ordinary size only.

    A document that does not parse is left to Strawberry's own parse, which
    reports the syntax error (or the token limit) as a GraphQL error; raised from
    this hook it would skip the error-coding extensions.
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if _cacheable(context.query):
            with contextlib.suppress(GraphQLError):
                context.graphql_document = self.cached_parse_document(context.query, **context.parse_options)
        yield


class SmallDocumentValidationCache(SchemaExtension):
    """Validation results, kept per parsed document, for documents of an ordinary size only.

    Strawberry's ValidationCache keys an lru_cache on the document itself, and hashing a
    document walks every node of it on every request (5% of a dashboard request). The
    parser cache hands back the same document object for the same text, so the object's
    identity is the key here; the entry holds the document, so its id is not reused while
    the entry lives.
    """

    _results: ClassVar[OrderedDict[tuple[int, ...], tuple[DocumentNode, list[GraphQLError]]]] = OrderedDict()

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is None or not _cacheable(context.query):
            yield
            return
        rules = tuple(context.validation_rules)
        key = (id(context.schema._schema), id(document), *map(id, rules))
        remembered = self._results.get(key)
        if remembered is not None and remembered[0] is document:
            self._results.move_to_end(key)
            errors = remembered[1]
        else:
            errors = validate_document(context.schema._schema, document, rules)
            self._results[key] = (document, errors)
            if len(self._results) > self.maxsize:
                self._results.popitem(last=False)
        context.pre_execution_errors = errors
        yield


class QueryCostLimit(SchemaExtension):
    """Refuses an operation whose cost (see the module's docstring) is over the limit."""

    # Costs by (limits, document, operation, the values of its page-size variables): a
    # document's cost depends on nothing else, and walking it was about 3% of a compiled
    # calendar request (pyinstrument). The document is held so that its id is not reused
    # while it is a key.
    _costs: ClassVar[OrderedDict[tuple[Any, ...], tuple[DocumentNode, int]]] = OrderedDict()
    MAX_REMEMBERED = 1000

    def __init__(self, limits: QueryLimits) -> None:
        super().__init__()
        self.limits = limits

    def cost(self, context: ExecutionContext) -> int:
        document = context.graphql_document
        assert document is not None
        graphql_schema = context.schema._schema
        # The operation Strawberry executes: the request's operationName, else the document's first
        # operation. (`provided_operation_name` is an InitVar of ExecutionContext: reading it gives the
        # class default, None, whatever the request sent.)
        operation_name = context.operation_name
        variables = context.variables or {}
        # (given or not, value): a variable left out takes its default, one sent as null does not.
        pages = tuple((name in variables, variables.get(name)) for name in page_variables(document))
        if not all(value is None or type(value) is int for _, value in pages):
            return operation_cost(graphql_schema, document, operation_name, variables, self.limits)
        key = (id(self.limits), id(graphql_schema), id(document), operation_name, pages)
        remembered = self._costs.get(key)
        if remembered is not None and remembered[0] is document:
            self._costs.move_to_end(key)
            return remembered[1]
        cost = operation_cost(graphql_schema, document, operation_name, variables, self.limits)
        self._costs[key] = (document, cost)
        if len(self._costs) > self.MAX_REMEMBERED:
            self._costs.popitem(last=False)
        return cost

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.result is None and context.graphql_document is not None:
            cost = self.cost(context)
            if cost > self.limits.max_cost:
                refusal = GraphQLError(
                    f"The operation could return about {cost} values; the limit is {self.limits.max_cost} "
                    "(MAX_QUERY_COST). Ask for smaller pages or fewer nested lists.",
                    extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost, "maxCost": self.limits.max_cost})
                if context.operation_type is OperationType.SUBSCRIPTION:
                    raise refusal  # a subscription ignores a preset result; Strawberry reports this instead
                context.result = ExecutionResult(data=None, errors=[refusal])
        yield


# A document's page variables, by the document's identity (hashing a document walks all
# of it); each entry holds its document, so that its id is not reused while it is a key.
_page_variables: dict[int, tuple[DocumentNode, tuple[str, ...]]] = {}


def page_variables(document: DocumentNode) -> tuple[str, ...]:
    """The variables any `first:` argument of the document takes: all a cost depends on."""
    remembered = _page_variables.get(id(document))
    if remembered is not None and remembered[0] is document:
        return remembered[1]
    names: set[str] = set()

    def walk(selection_set: SelectionSetNode | None) -> None:
        for selection in selection_set.selections if selection_set is not None else ():
            if isinstance(selection, FieldNode):
                for argument in selection.arguments or ():
                    if argument.name.value == "first" and isinstance(argument.value, VariableNode):
                        names.add(argument.value.name.value)
            if isinstance(selection, FieldNode | InlineFragmentNode):  # a spread's fragment is walked as a definition
                walk(selection.selection_set)

    for definition in document.definitions:
        walk(getattr(definition, "selection_set", None))
    if len(_page_variables) >= 1000:
        _page_variables.clear()
    _page_variables[id(document)] = (document, tuple(sorted(names)))
    return _page_variables[id(document)][1]


def operation_cost(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None,
                   variables: Mapping[str, Any], limits: QueryLimits) -> int:
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    return _CostCounter(schema, document, operation, variables, limits).selections(
        operation.selection_set, root, page=None, spreading=frozenset())


class _CostCounter:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
                 variables: Mapping[str, Any], limits: QueryLimits) -> None:
        self.schema = schema
        self.limits = limits
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.variables = dict(variables)
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name not in self.variables and definition.default_value is not None:
                self.variables[name] = value_from_ast_untyped(definition.default_value)

    def selections(self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None, *,
                   page: int | None, spreading: frozenset[str]) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page=page, spreading=spreading)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, on, page=page, spreading=spreading)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spreading:
                    continue  # validation reports unknown and cyclic fragments
                on = self.schema.get_type(fragment.type_condition.name.value)
                total += self.selections(fragment.selection_set, on, page=page, spreading=spreading | {name})
        return total

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, *, page: int | None,
              spreading: frozenset[str]) -> int:
        if node.name.value.startswith("__") or not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return 1
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return 1
        own_page = self.limits.page_size(self.argument(node, "first")) if "first" in definition.args else None
        if node.selection_set is None:
            return 1
        if isinstance(get_nullable_type(definition.type), GraphQLList):
            length = next(size for size in (own_page, page, self.limits.default_page_size) if size is not None)
        else:
            length = 1
        below = self.selections(node.selection_set, get_named_type(definition.type), page=own_page,
                                spreading=spreading)
        return 1 + length * below

    def argument(self, node: FieldNode, name: str) -> object:
        for argument in node.arguments or ():
            if argument.name.value == name:
                value = argument.value
                if isinstance(value, VariableNode):
                    return self.variables.get(value.name.value)
                if isinstance(value, IntValueNode):
                    return int(value.value)
                if isinstance(value, NullValueNode):
                    return None
        return None


class MutationRateLimit(SchemaExtension):
    """Takes one token per mutation field from the caller's buckets, or refuses the operation.

    The refusal carries `extensions.retryAfter` (whole seconds); the HTTP layer
    turns a request refused whole into 429 with a Retry-After header.
    """

    def __init__(self, limiter: MutationRateLimiter) -> None:
        super().__init__()
        self.limiter = limiter

    async def on_execute(self) -> Any:
        context = self.execution_context
        if context.result is None and context.operation_type is OperationType.MUTATION:
            fields = root_field_count(context.graphql_document, context.operation_name)  # as in cost()
            actor = getattr(context.context, "actor", None)
            decision = await self.limiter.take(user_id=getattr(actor, "user_id", None),
                                               ip=client_ip(context.context), cost=fields)
            if not decision.allowed:
                context.result = ExecutionResult(data=None, errors=[GraphQLError(
                    f"Too many changes in a short time; try again in {decision.retry_after} seconds.",
                    extensions={"code": "RATE_LIMITED", "retryAfter": decision.retry_after})])
        yield


def root_field_count(document: DocumentNode | None, operation_name: str | None) -> int:
    operation = get_operation_ast(document, operation_name) if document else None
    if document is None or operation is None:
        return 1
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def count(selection_set: SelectionSetNode, spreading: frozenset[str]) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += 0 if selection.name.value == "__typename" else 1
            elif isinstance(selection, InlineFragmentNode):
                total += count(selection.selection_set, spreading)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in spreading:
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    total += count(fragment.selection_set, spreading | {selection.name.value})
        return total

    return max(1, count(operation.selection_set, frozenset()))


def client_ip(context: object) -> str | None:
    client = getattr(getattr(context, "request", None), "client", None)
    return getattr(client, "host", None)


def limit_extensions(limits: QueryLimits, *, introspection: bool,
                     rate_limiter: MutationRateLimiter | None) -> list[Callable[[], SchemaExtension]]:
    """The schema's extensions for the limits, as factories (Strawberry builds them per request)."""
    rules: list[type[ASTValidationRule]] = list(validation_rules(limits, introspection=introspection))
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: TokenLimit(max_token_count=limits.max_tokens),
        lambda: SmallDocumentParserCache(maxsize=PARSE_CACHE_SIZE),
        lambda: AddValidationRules(rules),
        lambda: SmallDocumentValidationCache(VALIDATION_CACHE_SIZE),
        lambda: QueryCostLimit(limits),
    ]
    if rate_limiter is not None:
        extensions.append(lambda: MutationRateLimit(rate_limiter))
    return extensions
