"""Every bad input refused cleanly: a coded, masked GraphQL error, never INTERNAL or plain text (issue #16)."""

from __future__ import annotations

import json

import pytest


def codes(body: dict) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


async def post_raw(http, content: bytes, headers: dict[str, str] | None = None):
    return await http.post("/graphql", content=content, headers={"content-type": "application/json", **(headers or {})})


# --- D: garbage bodies and strings ---

async def test_a_body_that_is_not_utf8_is_a_coded_400(http):
    response = await post_raw(http, b'{"query": "{ __typename }", "x": "\xff\xfe"}')
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]


async def test_a_5000_digit_number_in_variables_is_a_coded_400(http, admin):
    body = ('{"query": "query($n: Int) { courses(first: $n) { totalCount } }", "variables": {"n": '
            + "9" * 5000 + "}}").encode()
    response = await post_raw(http, body, admin.headers)
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]


@pytest.mark.parametrize("text", ["\ud800", "a\x00b", "\udfff tail"])
async def test_unstorable_text_in_a_variable_is_bad_user_input(http, admin, text):
    response = await post_raw(http, json.dumps({"query": "query($s: String) { courses(search: $s) { totalCount } }",
                                                "variables": {"s": text}}).encode(), admin.headers)
    body = response.json()
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "$s" in body["errors"][0]["message"]


async def test_unstorable_text_deep_in_an_input_names_its_path(admin, database):
    body = await admin.execute("mutation($input: CreateCourseInput!) { createCourse(input: $input) { course { id } } }",
                               input={"code": "C\x00", "title": "T"})
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "$input.code" in body["errors"][0]["message"]
    assert (await admin("{ courses { totalCount } }"))["courses"]["totalCount"] == 0


async def test_a_nul_in_a_string_literal_is_bad_user_input(admin):
    body = await admin.execute('{ courses(search: "\\u0000") { totalCount } }')
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "'search'" in body["errors"][0]["message"]


async def test_a_long_chain_of_fragments_is_refused_with_a_code(admin):
    count = 300
    fragments = "".join(f"fragment F{i} on Query {{ ...F{i + 1} }}\n" for i in range(count))
    body = await admin.execute("{ ...F0 }\n" + fragments + f"fragment F{count} on Query {{ __typename }}\n")
    assert "QUERY_TOO_DEEP" in codes(body)
    assert all(codes(body)) and "INTERNAL" not in codes(body)
    assert not any("recursion" in error["message"] for error in body["errors"])
