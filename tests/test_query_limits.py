"""Abuse limits on one operation, each tried at its edge: allowed at the limit, refused one past it.

Most run at the default settings, so they also pin the defaults the README lists.
"""

import uuid
from collections.abc import AsyncGenerator

import pytest
import strawberry
from graphql import parse, specified_rules, validate
from strawberry.extensions import ParserCache
from strawberry.schema.schema import validate_document

import sessiongraph.schema.limits as query_limits
from sessiongraph.clients.documents import all_operations
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.schema import build_schema
from sessiongraph.schema.limits import (
    CACHEABLE_QUERY_CHARS,
    PARSE_CACHE_SIZE,
    QueryCostLimit,
    QueryLimits,
    operation_cost,
    validation_rules,
)


async def ask(http, query, variables=None, headers=None):
    response = await http.post("/graphql", json={"query": query, "variables": variables or {}},
                               headers=headers or {})
    return response.json()


def codes(body):
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


# Depth counts the levels below the root fields: `coach` sits at 3, its `id` at 4.
DEPTH_4 = "{ viewer { mySessions { current { coach { id } } } } }"
DEPTH_5 = "{ viewer { mySessions { current { courses { coaches { id } } } } } }"


def test_the_defaults_are_the_documented_ones():
    settings = Settings(_env_file=None)

    assert (settings.max_query_depth, settings.max_query_tokens, settings.max_query_aliases,
            settings.max_query_directives, settings.max_query_cost) == (12, 5_000, 30, 50, 50_000)


async def test_depth_at_the_limit_is_allowed_and_one_deeper_is_refused(client_with):
    # The schema has no cycle deep enough for the default 12 yet; the edge is the same at any limit.
    http = await client_with(max_query_depth=4)

    at_limit = await ask(http, DEPTH_4)
    too_deep = await ask(http, DEPTH_5)

    assert at_limit == {"data": {"viewer": None}}
    assert codes(too_deep) == ["QUERY_TOO_DEEP"]
    assert "maximum operation depth of 4" in too_deep["errors"][0]["message"]


async def test_depth_counts_through_fragments(client_with):
    http = await client_with(max_query_depth=4)
    query = "{ viewer { ...Mine } } fragment Mine on Viewer { mySessions { current { courses { coaches { id } } } } }"

    body = await ask(http, query)

    assert codes(body) == ["QUERY_TOO_DEEP"]


async def test_tokens_at_the_limit_are_allowed_and_one_more_is_refused(http):
    # `query Qn { __typename }` is five tokens; a thousand small operations make 5,000.
    # (One operation with thousands of fields would be refused by graphql-core's own
    # budget for comparing overlapping fields.)
    operations = " ".join(f"query Q{n} {{ __typename }}" for n in range(1_000))

    at_limit = (await http.post("/graphql", json={"query": operations, "operationName": "Q7"})).json()
    too_many = await ask(http, operations.replace("{ __typename }", "{ __typename __typename }", 1))

    assert at_limit == {"data": {"__typename": "Query"}}
    assert codes(too_many) == ["TOO_MANY_TOKENS"]
    assert "5000 tokens" in too_many["errors"][0]["message"]


async def test_aliases_at_the_limit_are_allowed_and_one_more_is_refused(http):
    def with_aliases(count):
        return "{ " + " ".join(f"a{n}: __typename" for n in range(count)) + " }"

    at_limit = await ask(http, with_aliases(30))
    too_many = await ask(http, with_aliases(31))

    assert "errors" not in at_limit and len(at_limit["data"]) == 30
    assert codes(too_many) == ["TOO_MANY_ALIASES"]


async def test_directives_at_the_limit_are_allowed_and_one_more_is_refused(http):
    def with_directives(count):
        return "{ " + "__typename @include(if: true) " * count + "}"

    at_limit = await ask(http, with_directives(50))
    too_many = await ask(http, with_directives(51))

    assert at_limit == {"data": {"__typename": "Query"}}
    assert codes(too_many) == ["TOO_MANY_DIRECTIVES"]


SESSION_PAGE = "query($first: Int) { sessions(first: $first) { edges { node { id } } } }"
# sessions (1) + edges (1) + first x (node (1) + id (1))


def test_the_cost_of_a_page_is_its_size_times_what_each_row_selects():
    schema = build_schema()._schema
    limits = QueryLimits()

    def cost(query, **variables):
        return operation_cost(schema, parse(query), None, variables, limits)

    assert cost(SESSION_PAGE, first=10) == 2 + 2 * 10
    assert cost(SESSION_PAGE) == 2 + 2 * limits.default_page_size
    assert cost(SESSION_PAGE, first=10_000) == 2 + 2 * limits.max_page_size  # as capped by the resolvers
    assert cost("{ sessions(first: 5) { totalCount pageInfo { hasNextPage } } }") == 1 + 1 + 2
    assert cost("{ viewer { mySessions { current { id name } } } }") == 1 + 1 + 1 + limits.default_page_size * 2
    learners = "{ sessions(first: 10) { edges { node { learners(first: 10) { edges { node { id } } } } } } }"
    assert cost(learners) == 2 + 10 * (1 + 1 + 1 + 10 * 2)


async def test_cost_at_the_limit_is_allowed_and_one_more_is_refused(client_with, make_user, settings, clock):
    http = await client_with(max_query_cost=2 + 2 * 100)
    admin = await make_user("Ada", is_admin=True)
    headers = {"Authorization": f"Bearer {issue_token(admin.id, settings, clock.now())}"}

    at_limit = await ask(http, SESSION_PAGE, {"first": 100}, headers)
    one_more = await ask(http, SESSION_PAGE.replace("{ id }", "{ id __typename }"), {"first": 1}, headers)
    one_more_row = await ask(http, SESSION_PAGE.replace("edges {", "totalCount edges {"), {"first": 100}, headers)

    assert at_limit == {"data": {"sessions": {"edges": []}}}
    assert "errors" not in one_more
    assert codes(one_more_row) == ["QUERY_TOO_COMPLEX"]
    assert one_more_row["errors"][0]["extensions"]["cost"] == 203
    assert one_more_row["data"] is None


async def test_a_request_for_millions_of_nodes_is_refused_before_anything_runs(http, count_statements):
    page = "sessions(first: 100) { edges { node { learners(first: 100) { edges { node { id name email } } } } } }"
    query = "{ " + " ".join(f"a{n}: {page}" for n in range(30)) + " }"

    with count_statements() as log:
        body = await ask(http, query)

    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert body["errors"][0]["extensions"]["cost"] > 1_000_000
    assert log.count == 0


async def test_the_parser_and_validation_caches_hit_for_a_repeated_document(http, monkeypatch):
    parsed = ParserCache(maxsize=PARSE_CACHE_SIZE).cached_parse_document
    validations = []

    def counted_validation(*args):
        validations.append(args[1])
        return validate_document(*args)

    monkeypatch.setattr(query_limits, "validate_document", counted_validation)
    query = f"query Probe_{uuid.uuid4().hex} {{ viewer {{ user {{ id }} }} }}"

    await ask(http, query)
    after_first = parsed.cache_info()
    second = await ask(http, query)
    after_second = parsed.cache_info()

    assert second == {"data": {"viewer": None}}
    assert after_second.hits == after_first.hits + 1
    assert after_second.misses == after_first.misses
    assert len(validations) == 1, "the second request reused the first one's validation"


async def test_a_document_that_fails_validation_fails_again_from_the_cache(http):
    query = f"query Probe_{uuid.uuid4().hex} {{ viewer {{ noSuchField }} }}"

    first, second = await ask(http, query), await ask(http, query)

    assert codes(first) == codes(second) == ["GRAPHQL_VALIDATION_FAILED"]
    assert first["errors"][0]["message"] == second["errors"][0]["message"]


def test_the_limit_rules_are_built_once_so_validation_results_can_be_cached():
    limits = QueryLimits.from_settings(Settings(_env_file=None))

    assert validation_rules(limits, introspection=True) is validation_rules(QueryLimits(), introspection=True)
    assert validation_rules(limits, introspection=False) != validation_rules(limits, introspection=True)


async def test_a_huge_document_is_answered_but_not_cached(http):
    parsed = ParserCache(maxsize=PARSE_CACHE_SIZE).cached_parse_document
    query = "# " + "x" * CACHEABLE_QUERY_CHARS + "\n{ __typename }"
    before = parsed.cache_info()

    body = await ask(http, query)

    assert body == {"data": {"__typename": "Query"}}
    assert parsed.cache_info().currsize == before.currsize and parsed.cache_info().misses == before.misses


async def test_a_syntax_error_is_a_parse_failure(http):
    body = await ask(http, "{ viewer ")

    assert codes(body) == ["GRAPHQL_PARSE_FAILED"]


@pytest.mark.parametrize("operation", all_operations(), ids=lambda op: op.source)
def test_every_client_operation_is_within_the_limits(operation):
    # The document as the client sends it: the operation and the fragments it uses.
    schema = build_schema()._schema
    limits = QueryLimits()
    document = parse(operation.document, max_tokens=limits.max_tokens)

    assert validate(schema, document, (*specified_rules, *validation_rules(limits, introspection=False))) == []
    assert operation_cost(schema, document, operation.name, {}, limits) <= limits.max_cost


async def test_the_cost_limit_also_refuses_a_subscription():
    @strawberry.type
    class Item:
        name: str

    @strawberry.type
    class Query:
        ok: bool = True

    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def items(self) -> AsyncGenerator[list[Item], None]:
            yield [Item(name="never sent")]

    schema = strawberry.Schema(Query, subscription=Subscription,
                               extensions=[lambda: QueryCostLimit(QueryLimits(max_cost=1 + 20 * 1))])

    allowed = [result async for result in await schema.subscribe("subscription { items { name } }")]
    refused = [result async for result in await schema.subscribe("subscription { items { name __typename } }")]

    assert allowed[0].data == {"items": [{"name": "never sent"}]}
    assert [error.extensions["code"] for error in refused[0].errors] == ["QUERY_TOO_COMPLEX"]


async def test_a_remembered_cost_is_the_one_of_the_same_page_sizes(client_with, make_user, settings, clock):
    # Costs are remembered per document and page-size variables: asking again with another
    # page size, or leaving out a variable that has a default, is not answered from memory.
    http = await client_with(max_query_cost=2 + 2 * 100)
    admin = await make_user("Ada", is_admin=True)
    headers = {"Authorization": f"Bearer {issue_token(admin.id, settings, clock.now())}"}
    counted = SESSION_PAGE.replace("edges {", "totalCount edges {")  # 3 + 2 * first
    defaulted = counted.replace("$first: Int", "$first: Int = 100")

    asked = [await ask(http, counted, {"first": first}, headers) for first in (99, 100, 99, 100)]
    left_out = await ask(http, defaulted, {}, headers)
    sent_null = await ask(http, defaulted, {"first": None}, headers)  # null is not the default: page size 20

    assert [codes(body) for body in asked] == [[], ["QUERY_TOO_COMPLEX"], [], ["QUERY_TOO_COMPLEX"]]
    assert (codes(left_out), codes(sent_null)) == (["QUERY_TOO_COMPLEX"], [])
