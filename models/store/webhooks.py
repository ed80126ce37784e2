"""Webhook endpoints and the durable outbox of their deliveries in PostgreSQL (migration 0015).

Triggers put events in the outbox with the change itself; nodes lease due deliveries (`FOR
UPDATE SKIP LOCKED`, then a lease time), so one node at a time sends each."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from models.store.database import Connection, record_of, returned

_ENDPOINT = "id, org_id, url, events, created_by, created_at, deleted_at"
INSERT_ENDPOINT = f"""
INSERT INTO webhook_endpoints (org_id, url, secret, events, created_by)
VALUES ($1, $2, $3, $4, $5)
RETURNING {_ENDPOINT}
"""  # noqa: S608 - the column list is ours
SELECT_ENDPOINTS = f"""
SELECT {_ENDPOINT} FROM webhook_endpoints
WHERE org_id = $1 AND deleted_at IS NULL AND id > $2
ORDER BY id
LIMIT $3
"""  # noqa: S608 - the column list is ours
SELECT_ENDPOINT = f"""
SELECT {_ENDPOINT} FROM webhook_endpoints WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL
"""  # noqa: S608 - the column list is ours
DELETE_ENDPOINT = """
WITH gone AS (
    UPDATE webhook_endpoints SET deleted_at = $3
    WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL
    RETURNING id
)
UPDATE webhook_deliveries AS d SET gave_up_at = $3, last_error = 'the endpoint was deleted'
FROM gone
WHERE d.endpoint_id = gone.id AND d.delivered_at IS NULL AND d.gave_up_at IS NULL
"""
ENDPOINT_EXISTS = """
SELECT EXISTS (SELECT FROM webhook_endpoints WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL)
"""
# Up to $1 due deliveries no other node is sending, leased for $2 seconds, with what sending
# them takes.
LEASE_DUE = """
WITH due AS (
    SELECT d.id FROM webhook_deliveries AS d
    WHERE d.delivered_at IS NULL AND d.gave_up_at IS NULL
      AND d.next_attempt_at <= clock_timestamp()
      AND (d.leased_until IS NULL OR d.leased_until < clock_timestamp())
    ORDER BY d.next_attempt_at
    LIMIT $1
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries AS d
SET leased_until = clock_timestamp() + make_interval(secs => $2)
FROM due, webhook_events AS e, webhook_endpoints AS w
WHERE d.id = due.id AND e.id = d.event_id AND w.id = d.endpoint_id
RETURNING d.id, d.attempts, d.leased_until, e.id::text AS event_id, e.org_id, e.event,
          e.subject::text AS subject, e.occurred_at, e.body, w.url, w.secret
"""
# The first rendering stands: every attempt, to every endpoint, sends the same bytes.
SET_BODY = """
UPDATE webhook_events SET body = coalesce(body, $2) WHERE id = $1::uuid RETURNING body
"""
# The outcome of an attempt, recorded only while the lease is still this node's.
RECORD_ATTEMPT = """
UPDATE webhook_deliveries
SET attempts = attempts + 1, last_attempt_at = $3::timestamptz, last_status = $4::integer,
    last_error = $5::text, delivered_at = CASE WHEN $6::boolean THEN $3::timestamptz END,
    next_attempt_at = coalesce($7::timestamptz, next_attempt_at),
    gave_up_at = CASE WHEN $8::boolean THEN $3::timestamptz END, leased_until = NULL
WHERE id = $1 AND leased_until = $2
"""
POSTPONE = """
UPDATE webhook_deliveries SET next_attempt_at = $3, leased_until = NULL
WHERE id = $1 AND leased_until = $2
"""
SELECT_LOG = """
SELECT d.id, e.id::text AS event_id, e.event, e.occurred_at, d.attempts, d.last_attempt_at,
       d.last_status, d.last_error, d.next_attempt_at, d.delivered_at, d.gave_up_at
FROM webhook_deliveries AS d
JOIN webhook_events AS e ON e.id = d.event_id
WHERE d.endpoint_id = $1 AND d.id > $2
ORDER BY d.id
LIMIT $3
"""


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: int
    org_id: str
    url: str
    events: tuple[str, ...]
    created_by: str
    created_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True, slots=True)
class Leased:
    """A delivery this node holds the lease of: send it, then record how it went."""

    id: int
    attempts: int
    leased_until: datetime
    event_id: str
    org_id: str
    event: str
    subject: dict[str, Any]
    occurred_at: datetime
    body: str | None
    url: str
    secret: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event to one endpoint, as its log shows it."""

    id: int
    event_id: str
    event: str
    occurred_at: datetime
    attempts: int
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime
    delivered_at: datetime | None
    gave_up_at: datetime | None

    @property
    def state(self) -> str:
        if self.delivered_at is not None:
            return "delivered"
        return "failed" if self.gave_up_at is not None else "pending"


def _endpoint(row: asyncpg.Record) -> Endpoint:
    return record_of(Endpoint, row, events=tuple(row["events"]))


async def insert_endpoint(
    connection: Connection, org_id: str, url: str, secret: str, events: list[str], by: str
) -> Endpoint:
    row = await connection.fetchrow(INSERT_ENDPOINT, org_id, url, secret, events, by)
    return _endpoint(returned(row))


async def fetch_endpoints(
    connection: Connection, org_id: str, after: int, limit: int
) -> list[Endpoint]:
    return [
        _endpoint(row) for row in await connection.fetch(SELECT_ENDPOINTS, org_id, after, limit)
    ]


async def endpoint_exists(connection: Connection, org_id: str, endpoint_id: int) -> bool:
    return bool(await connection.fetchval(ENDPOINT_EXISTS, org_id, endpoint_id))


async def delete_endpoint(
    connection: Connection, org_id: str, endpoint_id: int, at: datetime
) -> None:
    await connection.execute(DELETE_ENDPOINT, org_id, endpoint_id, at)


async def lease_due(connection: Connection, limit: int, lease_s: float) -> list[Leased]:
    rows = await connection.fetch(LEASE_DUE, limit, lease_s)
    return [record_of(Leased, row, subject=json.loads(row["subject"])) for row in rows]


async def set_body(connection: Connection, event_id: str, body: str) -> str:
    """The event's body: `body`, unless another node rendered it first (then that one)."""
    stored: str = await connection.fetchval(SET_BODY, event_id, body)
    return stored


async def record_attempt(
    connection: Connection,
    leased: Leased,
    *,
    at: datetime,
    status: int | None,
    error: str | None,
    delivered: bool,
    next_attempt_at: datetime | None,
    give_up: bool,
) -> None:
    await connection.execute(
        RECORD_ATTEMPT,
        leased.id,
        leased.leased_until,
        at,
        status,
        error,
        delivered,
        next_attempt_at,
        give_up,
    )


async def postpone(connection: Connection, leased: Leased, until: datetime) -> None:
    await connection.execute(POSTPONE, leased.id, leased.leased_until, until)


async def fetch_log(
    connection: Connection, endpoint_id: int, after: int, limit: int
) -> list[Delivery]:
    rows = await connection.fetch(SELECT_LOG, endpoint_id, after, limit)
    return [record_of(Delivery, row) for row in rows]
