"""GraphQL over HTTP by the spec: media types, status codes, refusals of malformed requests, body size."""

import json

import pytest

from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.tokens import issue_token
from sessiongraph.server.graphql_http import APPLICATION_JSON, GRAPHQL_RESPONSE_JSON, response_media_type
from sessiongraph.server.limits import MULTIPART_ENVELOPE_BYTES

GRAPHQL = {"Accept": GRAPHQL_RESPONSE_JSON}
LEGACY = {"Accept": APPLICATION_JSON}


def code_of(response):
    return response.json()["errors"][0]["extensions"]["code"]


def test_the_defaults_are_the_documented_ones():
    settings = Settings(_env_file=None)

    assert settings.max_request_bytes == 1024 * 1024
    assert settings.max_upload_bytes == 20 * 1024 * 1024
    assert (settings.batching_enabled, settings.max_batch_operations) == (False, 5)


@pytest.mark.parametrize("accept,expected", [
    (None, GRAPHQL_RESPONSE_JSON),  # the spec's default since 2025-01-01
    ("", GRAPHQL_RESPONSE_JSON),
    ("application/json", APPLICATION_JSON),
    ("application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
    ("application/graphql-response+json; charset=utf-8, application/json; charset=utf-8", GRAPHQL_RESPONSE_JSON),
    ("application/json, application/graphql-response+json", APPLICATION_JSON),
    ("application/json;q=0.5, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
    ("application/graphql-response+json;q=0, application/json", APPLICATION_JSON),
    ("*/*", APPLICATION_JSON),
    ("application/*", APPLICATION_JSON),
    ("text/html, */*;q=0.8", APPLICATION_JSON),
    ("text/html", None),
    ("application/xml", None),
    ("application/json;q=0", None),
])
def test_the_response_media_type_follows_the_accept_header(accept, expected):
    assert response_media_type(accept) == expected


async def test_graphql_response_json_is_served_when_the_client_asks_for_it(http):
    response = await http.post("/graphql", json={"query": "{ __typename }"}, headers=GRAPHQL)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/graphql-response+json; charset=utf-8"
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("request_error,code", [
    ({"query": "{ viewer "}, "GRAPHQL_PARSE_FAILED"),
    ({"query": "{ nope }"}, "GRAPHQL_VALIDATION_FAILED"),
    ({"query": "query($n: Int) { sessions(first: $n) { totalCount } }", "variables": {"n": "ten"}}, "BAD_USER_INPUT"),
    ({"query": "query A { __typename }", "operationName": "B"}, "OPERATION_RESOLUTION_FAILURE"),
    ({"query": "{ " + " ".join(f"a{n}: __typename" for n in range(31)) + " }"}, "TOO_MANY_ALIASES"),
])
async def test_a_request_error_is_400_without_data_in_graphql_response_json(http, request_error, code):
    response = await http.post("/graphql", json=request_error, headers=GRAPHQL)

    assert response.status_code == 400
    assert "data" not in response.json()
    assert code_of(response) == code


async def test_the_same_request_error_is_200_with_null_data_in_legacy_json(http):
    response = await http.post("/graphql", json={"query": "{ nope }"}, headers=LEGACY)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json()["data"] is None
    assert code_of(response) == "GRAPHQL_VALIDATION_FAILED"


async def test_a_field_error_is_a_partial_response_with_status_200(http):
    response = await http.post("/graphql", json={"query": "{ sessions { totalCount } }"}, headers=GRAPHQL)

    assert response.status_code == 200
    assert response.json()["data"] is None
    assert code_of(response) == "UNAUTHENTICATED"


async def test_a_client_that_accepts_no_json_gets_406(http):
    response = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"Accept": "application/xml"})

    assert response.status_code == 406
    assert code_of(response) == "NOT_ACCEPTABLE"


async def test_graphiql_is_served_to_a_browser_in_development(http):
    response = await http.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_a_query_over_get_is_answered(http):
    response = await http.get("/graphql", params={"query": "{ __typename }"}, headers=GRAPHQL)

    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_mutation_over_get_is_refused_with_405_and_not_run(http, make_user, settings, clock):
    admin = await make_user(is_admin=True)
    token = issue_token(admin.id, settings, clock.now())
    mutation = 'mutation { createSessionCategory(input: {name: "Via GET"}) { errors { code } } }'

    response = await http.get("/graphql", params={"query": mutation},
                              headers={**LEGACY, "Authorization": f"Bearer {token}"})
    listed = await http.post("/graphql", json={"query": "{ sessions { totalCount } }"},
                             headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert code_of(response) == "METHOD_NOT_ALLOWED"
    assert listed.status_code == 200


async def test_methods_other_than_get_and_post_are_refused_with_405(http):
    response = await http.put("/graphql", json={"query": "{ __typename }"})

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"
    assert code_of(response) == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("body,message", [
    (b"{nope", "Unable to parse request body as JSON"),
    (b'"{ __typename }"', "Expected a JSON object"),
    (b"null", "Expected a JSON object"),
    (b"{}", "no `query`"),
    (b'{"query": 7}', "`query` must be a string"),
    (b'{"query": "{ __typename }", "variables": [7]}', "`variables` must be an object"),
    (b'{"query": "{ __typename }", "operationName": {}}', "`operationName` must be a string"),
])
async def test_a_malformed_request_is_400_with_a_clear_error(http, body, message):
    response = await http.post("/graphql", content=body, headers={"Content-Type": "application/json", **LEGACY})

    assert response.status_code == 400
    assert code_of(response) == "BAD_REQUEST"
    assert message in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_post_that_is_not_json_is_415(http, content_type):
    headers = {"Content-Type": content_type} if content_type else {}

    response = await http.post("/graphql", content=b'{"query": "{ __typename }"}', headers=headers)

    assert response.status_code == 415
    assert code_of(response) == "UNSUPPORTED_MEDIA_TYPE"


async def test_batching_is_off_by_default(http):
    response = await http.post("/graphql", json=[{"query": "{ __typename }"}])

    assert response.status_code == 400
    assert code_of(response) == "BATCHING_DISABLED"


async def test_when_enabled_a_batch_up_to_the_maximum_is_answered_and_one_more_is_refused(client_with):
    http = await client_with(batching_enabled=True, max_batch_operations=2)

    at_limit = await http.post("/graphql", json=[{"query": "{ __typename }"}] * 2)
    too_many = await http.post("/graphql", json=[{"query": "{ __typename }"}] * 3)

    assert at_limit.json() == [{"data": {"__typename": "Query"}}] * 2
    assert too_many.status_code == 400
    assert code_of(too_many) == "BATCH_TOO_LARGE"


def padded_to(size: int) -> bytes:
    """A valid request body of exactly `size` bytes."""
    body = b'{"query": "{ __typename }"}'
    return body[:-1] + b" " * (size - len(body)) + b"}"


async def test_a_body_at_the_size_limit_is_answered_and_one_byte_more_is_refused_with_413(http):
    limit = 1024 * 1024

    at_limit = await http.post("/graphql", content=padded_to(limit), headers={"Content-Type": "application/json"})
    too_large = await http.post("/graphql", content=padded_to(limit + 1), headers={"Content-Type": "application/json"})

    assert at_limit.status_code == 200
    assert too_large.status_code == 413
    assert code_of(too_large) == "REQUEST_TOO_LARGE"


async def test_a_streamed_body_is_cut_off_at_the_limit_before_parsing(client_with):
    http = await client_with(max_request_bytes=1000)

    async def chunks():
        yield b'{"query": "{ __typename }", '
        for _ in range(10):
            yield b" " * 200  # not JSON yet: a parser would have refused it with 400

    response = await http.post("/graphql", content=chunks(), headers={"Content-Type": "application/json"})

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert code_of(response) == "REQUEST_TOO_LARGE"


async def test_file_uploads_have_their_own_larger_limit(client_with):
    http = await client_with(max_request_bytes=1000, max_upload_bytes=1000)
    operations = json.dumps({"query": "mutation($f: Upload!) { __typename }", "variables": {"f": None}})

    def upload(size):
        return http.post("/graphql", data={"operations": operations, "map": '{"0": ["variables.f"]}'},
                         files={"0": ("rows.csv", b"x" * size, "text/csv")})

    over_the_json_limit = await upload(3000)  # the resolver, not the transport, judges the file itself
    over_the_upload_limit = await upload(MULTIPART_ENVELOPE_BYTES + 2000)

    assert over_the_json_limit.status_code == 200  # it reached GraphQL
    assert over_the_upload_limit.status_code == 413
    assert code_of(over_the_upload_limit) == "REQUEST_TOO_LARGE"
    assert "MAX_UPLOAD_BYTES" in over_the_upload_limit.json()["errors"][0]["message"]
