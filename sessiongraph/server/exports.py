"""`GET /exports/<ticket>`: the download behind exportTracking and exportEnrollments.

The URL is the credential, as a presigned storage URL is: a browser link or a command-line
client fetches it without a bearer token. It is bound to the user who asked (the ticket
names them and is signed), lives ten minutes, and is checked again at download: the user
is read again (rights_lapse, as for every request) and must still be allowed to read the
session's tracking. A request that does send a bearer token must be that same user's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from sessiongraph.infrastructure.clock import Clock
from sessiongraph.infrastructure.db import Database
from sessiongraph.infrastructure.settings import Settings
from sessiongraph.infrastructure.tokens import InvalidToken, bearer_token, user_id_from_token
from sessiongraph.models import User
from sessiongraph.resolvers import exports
from sessiongraph.resolvers.context import Actor, Context
from sessiongraph.server.connection_rights import rights_lapse
from sessiongraph.server.graphql_http import Refusal, refusal_response

UserLoader = Callable[[Database, int], Awaitable[User | None]]


def export_downloads(*, database: Database, settings: Settings, clock: Clock, load_user: UserLoader):
    """The route's endpoint."""

    async def download(request: Request) -> Response:
        accept = request.headers.get("accept")
        try:
            ticket = exports.read_ticket(request.path_params["ticket"], settings, clock.now())
        except exports.ExpiredTicket:
            return refusal_response(Refusal(410, "EXPORT_EXPIRED", "This download link has expired: export again."),
                                    accept)
        except exports.InvalidTicket:
            return refusal_response(Refusal(404, "NOT_FOUND", "No such export."), accept)
        try:
            asker = bearer_token(request.headers.get("authorization"))
            if asker is not None and user_id_from_token(asker, settings, clock.now()) != ticket.user_id:
                return refusal_response(Refusal(403, "FORBIDDEN", "This export was asked for by another user."),
                                        accept)
        except InvalidToken as refusal:
            return refusal_response(Refusal(401, "UNAUTHENTICATED", str(refusal)), accept)
        user = await load_user(database, ticket.user_id)
        if user is None or rights_lapse(None, user) is not None:
            return refusal_response(Refusal(404, "NOT_FOUND", "No such export."), accept)
        ctx = Context(database=database, clock=clock, settings=settings, actor=Actor(user), request=request)
        file = await exports.open_export(ctx, ticket)
        if file is None:  # the rights lapsed since the export was asked for
            return refusal_response(Refusal(404, "NOT_FOUND", "No such export."), accept)
        return StreamingResponse(file.content, media_type=file.media_type, headers={
            "Content-Disposition": f'attachment; filename="{file.filename}"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    return download
