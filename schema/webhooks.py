"""Webhook endpoints and their delivery log on the wire; admins only."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from sessiongraph import models
from sessiongraph.resolvers import webhooks
from sessiongraph.schema.errors import UserError, attempt
from sessiongraph.schema.relay import Connection, Node, decode_id, node_fetcher, to_global_id


@strawberry.enum
class WebhookDeliveryStatus(Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


@strawberry.type(description="One event sent (or being sent) to one endpoint; every attempt carries the same "
                             "`webhookId`.")
class WebhookDelivery(Node):
    event_type: str
    webhook_id: str
    status: WebhookDeliveryStatus
    attempts: int
    last_attempt_at: datetime | None
    response_status: int | None = strawberry.field(description="The HTTP status of the last attempt; null when "
                                                               "it got none (timeout, refused connection).")
    next_attempt_at: datetime | None

    @classmethod
    def from_model(cls, delivery: models.WebhookDelivery) -> WebhookDelivery:
        assert delivery.id is not None  # a stored row
        return cls(id=to_global_id("WebhookDelivery", delivery.id), event_type=delivery.event_type,
                   webhook_id=delivery.webhook_id, status=WebhookDeliveryStatus(delivery.status),
                   attempts=delivery.attempts, last_attempt_at=delivery.last_attempt_at,
                   response_status=delivery.response_status, next_attempt_at=delivery.next_attempt_at)


@strawberry.type(description="Where events of the chosen types are POSTed, signed per Standard Webhooks.")
class WebhookEndpoint(Node):
    url: str
    event_types: list[str]
    active: bool
    description: str | None
    db_id: strawberry.Private[int]

    @strawberry.field(description="What was sent to this endpoint, newest first.")
    async def deliveries(self, info: Info, first: int | None = None,
                         after: str | None = None) -> Connection[WebhookDelivery]:
        page = await webhooks.list_deliveries(info.context, self.db_id, first, after)
        return Connection.from_page(page, WebhookDelivery.from_model)

    @classmethod
    def from_model(cls, endpoint: models.WebhookEndpoint) -> WebhookEndpoint:
        assert endpoint.id is not None  # a stored row
        return cls(id=to_global_id("WebhookEndpoint", endpoint.id), url=endpoint.url,
                   event_types=webhooks.event_types_of(endpoint), active=endpoint.active,
                   description=endpoint.description, db_id=endpoint.id)


@node_fetcher("WebhookEndpoint")
async def fetch_webhook_endpoint(info: Info, endpoint_id: int) -> WebhookEndpoint | None:
    endpoint = await webhooks.endpoint_by_id(info.context, endpoint_id)
    return WebhookEndpoint.from_model(endpoint) if endpoint is not None else None


@node_fetcher("WebhookDelivery")
async def fetch_webhook_delivery(info: Info, delivery_id: int) -> WebhookDelivery | None:
    delivery = await webhooks.delivery_by_id(info.context, delivery_id)
    return WebhookDelivery.from_model(delivery) if delivery is not None else None


@strawberry.input
class CreateWebhookEndpointInput:
    url: str
    event_types: list[str]
    description: str | None = None


@strawberry.type
class CreateWebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None
    secret: str | None = strawberry.field(description="The signing secret (`whsec_…`), shown this once.")
    errors: list[UserError]


@strawberry.input(description="Changes what it names; an omitted field stays as it is.")
class UpdateWebhookEndpointInput:
    id: strawberry.ID
    url: str | None = strawberry.UNSET
    event_types: list[str] | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


@strawberry.type
class UpdateWebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None
    errors: list[UserError]


@strawberry.input
class DeleteWebhookEndpointInput:
    id: strawberry.ID


@strawberry.type
class DeleteWebhookEndpointPayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]


@strawberry.type
class WebhooksQuery:
    @strawberry.field(description="Every webhook endpoint, oldest first; admins only.")
    async def webhook_endpoints(self, info: Info, first: int | None = None,
                                after: str | None = None) -> Connection[WebhookEndpoint]:
        page = await webhooks.list_endpoints(info.context, first, after)
        return Connection.from_page(page, WebhookEndpoint.from_model)


@strawberry.type
class WebhooksMutation:
    @strawberry.mutation(description="Registers an endpoint for event types; the payload holds its secret, once.")
    async def create_webhook_endpoint(self, info: Info,
                                      input: CreateWebhookEndpointInput) -> CreateWebhookEndpointPayload:
        endpoint, errors = await attempt(info, lambda: webhooks.create_endpoint(
            info.context, input.url, input.event_types, input.description))
        return CreateWebhookEndpointPayload(webhook_endpoint=WebhookEndpoint.from_model(endpoint) if endpoint else None,
                                            secret=endpoint.secret if endpoint else None, errors=errors)

    @strawberry.mutation(description="Changes an endpoint's URL, event types, description or whether it is active.")
    async def update_webhook_endpoint(self, info: Info,
                                      input: UpdateWebhookEndpointInput) -> UpdateWebhookEndpointPayload:
        changes = {name: getattr(input, name) for name in ("url", "event_types", "description", "active")
                   if getattr(input, name) is not strawberry.UNSET}
        endpoint, errors = await attempt(info, lambda: webhooks.update_endpoint(
            info.context, decode_id(input.id, "WebhookEndpoint", "id"), changes))
        return UpdateWebhookEndpointPayload(webhook_endpoint=WebhookEndpoint.from_model(endpoint) if endpoint else None,
                                            errors=errors)

    @strawberry.mutation(description="Deletes an endpoint and its delivery log; nothing more is sent to it.")
    async def delete_webhook_endpoint(self, info: Info,
                                      input: DeleteWebhookEndpointInput) -> DeleteWebhookEndpointPayload:
        deleted, errors = await attempt(info, lambda: webhooks.delete_endpoint(
            info.context, decode_id(input.id, "WebhookEndpoint", "id")))
        return DeleteWebhookEndpointPayload(
            deleted_id=to_global_id("WebhookEndpoint", deleted) if deleted is not None else None, errors=errors)
