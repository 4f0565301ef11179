"""How errors reach the client: expected ones with a code, unexpected ones masked.

Every top-level error carries `extensions.code`. An exception the code did not
expect becomes "Internal server error" with an error ID; the ID and the traceback
go to the log, so support can find one from the other.
"""

from __future__ import annotations

import logging
import uuid

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import MaskErrors

from sessiongraph.infrastructure.db import database_unavailable
from sessiongraph.resolvers.errors import BadInput, NotAllowed, NotAuthenticated, NotFound
from sessiongraph.schema.scalars import InvalidScalar

log = logging.getLogger("sessiongraph.errors")

# graphql-core's words for a variable whose value is wrong (the document itself may be fine).
VARIABLE_VALUE_PROBLEMS = ("got invalid value", "has invalid value", "was not provided", "must not be null")

# The database did not answer in time or cannot be reached: the client retries later (HTTP 503 with
# Retry-After, set in sessiongraph/server/graphql_http.py); the driver's words stay in the log.
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
SERVICE_UNAVAILABLE_MESSAGE = "The service cannot reach its database just now; try again shortly."

EXPECTED = {NotAuthenticated: "UNAUTHENTICATED", NotAllowed: "FORBIDDEN", BadInput: "BAD_USER_INPUT",
            NotFound: "NOT_FOUND"}


def _cause_chain(error: BaseException | None):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = getattr(error, "original_error", None) or error.__cause__ or error.__context__


def error_code(error: GraphQLError) -> str | None:
    """The code for an error the client can act on; None for one to mask."""
    if error.extensions and "code" in error.extensions:
        return error.extensions["code"]
    if error.original_error is not None and database_unavailable(error.original_error):
        return SERVICE_UNAVAILABLE
    for cause in _cause_chain(error.original_error):
        for kind, code in EXPECTED.items():
            if isinstance(cause, kind):
                return code
        if isinstance(cause, InvalidScalar):
            return "BAD_USER_INPUT"
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    if error.original_error is None or isinstance(error.original_error, GraphQLError):
        # Raised by graphql-core itself: the document or the variables are wrong.
        if any(phrase in error.message for phrase in VARIABLE_VALUE_PROBLEMS):
            return "BAD_USER_INPUT"
        return "GRAPHQL_VALIDATION_FAILED"
    return None


def masks(error: GraphQLError) -> bool:
    """MaskErrors' `should_mask_error`, which it calls once for each error of a result: True masks the
    error (anonymise_error gives it INTERNAL); an error kept gets its `extensions.code` here."""
    code = error_code(error)
    if code is None:
        return True
    if code == SERVICE_UNAVAILABLE and error.message != SERVICE_UNAVAILABLE_MESSAGE:
        log.warning("database unavailable at %s: %s", error.path, error.original_error)
        error.message = SERVICE_UNAVAILABLE_MESSAGE
    if not error.extensions or "code" not in error.extensions:
        error.extensions = {**(error.extensions or {}), "code": code}
    return False


class ErrorCodes(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=masks, error_message="Internal server error")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        error_id = uuid.uuid4().hex
        log.error("internal error %s at %s", error_id, error.path, exc_info=error.original_error)
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL", "errorId": error_id}
        return masked

    def coded(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        """The errors as a response carries them, for a result that does not go through Strawberry's
        execution (sessiongraph/server/shared_results.py): each coded, or masked."""
        return [self.anonymise_error(error) if self.should_mask_error(error) else error for error in errors]
