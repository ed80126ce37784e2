"""Webhook endpoints over HTTP (README "Webhooks"), for the org's admins: register one (its
secret is shown this once), list them, delete one, and read its delivery log."""

from __future__ import annotations

from aiohttp import web

from handlers.http.bearer import bearer_identity
from handlers.http.bodies import webhook_request
from handlers.http.formats import data_response
from handlers.http.queries import page_of
from handlers.http.validation import json_body, path_number, read_query
from handlers.keys import WEBHOOKS
from handlers.wire.records import Json
from models.domain.fields import iso_ms
from models.evidence.webhooks import EVENTS
from models.store.webhooks import Delivery, Endpoint


def endpoint_json(endpoint: Endpoint) -> Json:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "createdBy": endpoint.created_by,
        "createdAt": iso_ms(endpoint.created_at),
    }


def delivery_json(delivery: Delivery) -> Json:
    return {
        "id": delivery.id,
        "eventId": delivery.event_id,
        "event": delivery.event,
        "occurredAt": iso_ms(delivery.occurred_at),
        "state": delivery.state,
        "attempts": delivery.attempts,
        "lastAttemptAt": iso_ms(delivery.last_attempt_at),
        "lastStatus": delivery.last_status,
        "lastError": delivery.last_error,
        "nextAttemptAt": None if delivery.state != "pending" else iso_ms(delivery.next_attempt_at),
        "deliveredAt": iso_ms(delivery.delivered_at),
        "gaveUpAt": iso_ms(delivery.gave_up_at),
    }


async def register(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    url, events, secret = webhook_request(await json_body(request), EVENTS)
    made, secret = await request.app[WEBHOOKS].register(identity, url, events, secret)
    return data_response(endpoint_json(made) | {"secret": secret}, status=201)


async def list_endpoints(request: web.Request) -> web.Response:
    page = read_query(request, lambda q: page_of(q, numeric=True))
    found = await request.app[WEBHOOKS].endpoints(
        bearer_identity(request), int(page.cursor or 0), page.limit
    )
    next_cursor = str(found[-1].id) if len(found) == page.limit else None
    return data_response([endpoint_json(e) for e in found], next_cursor=next_cursor)


async def delete(request: web.Request) -> web.Response:
    await request.app[WEBHOOKS].delete(bearer_identity(request), path_number(request, "webhook"))
    return web.Response(status=204)


async def deliveries(request: web.Request) -> web.Response:
    page = read_query(request, lambda q: page_of(q, numeric=True))
    found = await request.app[WEBHOOKS].log(
        bearer_identity(request), path_number(request, "webhook"), int(page.cursor or 0), page.limit
    )
    next_cursor = str(found[-1].id) if len(found) == page.limit else None
    return data_response([delivery_json(d) for d in found], next_cursor=next_cursor)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/webhooks", list_endpoints)
    app.router.add_post("/api/webhooks", register)
    app.router.add_delete("/api/webhooks/{id}", delete)
    app.router.add_get("/api/webhooks/{id}/deliveries", deliveries)
