"""The OpenAPI 3.1 description of every HTTP route, served at /api/openapi.json (and read by the
API reference page at /api/docs/). `tests/handlers/api/test_openapi.py` fails when a route and
the document disagree, and the server tests check real answers against its schemas."""

from __future__ import annotations

from typing import Any

from aiohttp import web

Schema = dict[str, Any]

READERS = "analyst, host or admin of the org"
HOSTS = "host or admin of the org"
ADMINS = "admin of the org"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(kind: str, **more: Any) -> Schema:
    return {"type": [kind, "null"], **more}


def obj(required: list[str], **properties: Schema) -> Schema:
    return {"type": "object", "required": required, "properties": properties}


TEXT = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
DAY = {"type": "string", "format": "date"}
COUNT = {"type": "integer", "minimum": 0}
NUMBER = {"type": "number"}
FLAG = {"type": "boolean"}


def listing(item: Schema) -> Schema:
    return obj(
        ["data", "next_cursor"],
        data={"type": "array", "items": item},
        next_cursor=nullable("string"),
    )


def wrapped(data: Schema) -> Schema:
    return obj(["data"], data=data)


SCHEMAS: dict[str, Schema] = {
    "Problem": obj(
        ["type", "title", "status", "code", "detail"],
        type=TEXT,
        title=TEXT,
        status={"type": "integer"},
        code=TEXT,
        detail=TEXT,
        errors={"type": "object", "additionalProperties": TEXT},
    ),
    "Breakout": obj(
        ["breakoutId", "orgId", "name", "startsAt", "endsAt", "endedAt", "deviceLimit"],
        breakoutId=TEXT,
        orgId=TEXT,
        name=nullable("string"),
        startsAt=nullable("string", format="date-time"),
        endsAt=nullable("string", format="date-time"),
        endedAt=nullable("string", format="date-time"),
        deviceLimit=nullable("integer"),
        presentMinMinutes=nullable("integer"),
        presentMinPercent=nullable("number"),
    ),
    "ListedBreakout": {
        "allOf": [
            ref("Breakout"),
            obj(
                ["state", "viewers"],
                state={"enum": ["live", "scheduled", "ended"]},
                viewers={"type": ["integer", "null"], "description": "null while Redis is away"},
            ),
        ]
    },
    "BreakoutSpec": {
        "type": "object",
        "properties": {
            "name": nullable("string", maxLength=200),
            "startsAt": nullable("string", format="date-time"),
            "endsAt": nullable("string", format="date-time"),
            "deviceLimit": nullable("integer", minimum=0, maximum=1000),
            "presentMinMinutes": nullable("integer", minimum=0),
            "presentMinPercent": nullable("number", minimum=0, maximum=100),
        },
    },
    "Viewer": obj(
        ["userId", "name", "sessionId", "since", "state"],
        userId=TEXT,
        name=nullable("string"),
        sessionId=TEXT,
        since=TIME,
        city=nullable("string"),
        countryCode=nullable("string"),
        browser=nullable("string"),
        os=nullable("string"),
        device=nullable("string"),
        state={"enum": ["live", "reconnecting"]},
        awaySince=nullable("string", format="date-time"),
        activity={"enum": ["visible", "hidden", "playing", "paused", "idle", None]},
        activitySince=nullable("string", format="date-time"),
    ),
    "EngagedTime": obj(
        [
            "attendedSeconds",
            "activeSeconds",
            "idleSeconds",
            "pausedSeconds",
            "hiddenSeconds",
            "unknownSeconds",
        ],
        attendedSeconds=NUMBER,
        activeSeconds=NUMBER,
        idleSeconds=NUMBER,
        pausedSeconds=NUMBER,
        hiddenSeconds=NUMBER,
        unknownSeconds=NUMBER,
    ),
    "UserAnalytics": {
        "allOf": [
            ref("EngagedTime"),
            obj(
                [
                    "userId",
                    "firstSeen",
                    "lastSeen",
                    "sessions",
                    "devices",
                    "deviceMix",
                    "locationMix",
                    "comments",
                ],
                userId=TEXT,
                userName=nullable("string"),
                firstSeen=TIME,
                lastSeen=TIME,
                sessions=COUNT,
                liveSessions=COUNT,
                openSessions=COUNT,
                devices=COUNT,
                deviceMix={"type": "object", "additionalProperties": COUNT},
                locationMix={"type": "object", "additionalProperties": COUNT},
                comments=COUNT,
            ),
        ]
    },
    "BreakoutAnalytics": obj(
        ["breakoutId", "summary", "users"],
        breakoutId=TEXT,
        summary={
            "allOf": [
                ref("EngagedTime"),
                obj(
                    [
                        "users",
                        "sessions",
                        "comments",
                        "commenters",
                        "reportingUsers",
                        "activeShare",
                    ],
                    users=COUNT,
                    sessions=COUNT,
                    comments=COUNT,
                    commenters=COUNT,
                    reportingUsers=COUNT,
                    activeShare=nullable("number"),
                ),
            ]
        },
        users={"type": "array", "items": ref("UserAnalytics")},
    ),
    "Session": obj(
        ["userId", "breakoutId", "sessionId", "sessionType", "entryTimestamp", "attended"],
        userId=TEXT,
        userName=nullable("string"),
        breakoutId=TEXT,
        sessionId=TEXT,
        sessionType={"enum": ["live", "on_demand"]},
        entryTimestamp=TIME,
        exitTimestamp=nullable("string", format="date-time"),
        exitReason=nullable("string"),
        attended=FLAG,
        durationSeconds=nullable("number"),
        interruptions=COUNT,
        interruptedSeconds=NUMBER,
        city=nullable("string"),
        region=nullable("string"),
        countryCode=nullable("string"),
        latitude=nullable("number"),
        longitude=nullable("number"),
        browser=nullable("string"),
        browserVersion=nullable("string"),
        os=nullable("string"),
        osVersion=nullable("string"),
        deviceType=nullable("string"),
    ),
    "Comment": obj(
        ["id", "breakoutId", "userId", "name", "text", "replyTo", "createdAt"],
        id=TEXT,
        breakoutId=TEXT,
        userId=TEXT,
        name=nullable("string"),
        text=nullable("string"),
        replyTo=nullable("string"),
        createdAt=TIME,
        deletedAt=nullable("string", format="date-time"),
        deletedBy=nullable("string"),
    ),
    "UserAttendance": obj(
        ["userId", "attendedSeconds", "sessions", "present"],
        userId=TEXT,
        userName=nullable("string"),
        firstJoin=nullable("string", format="date-time"),
        lastLeave=nullable("string", format="date-time"),
        attendedSeconds=NUMBER,
        sessions=COUNT,
        onDemandSeconds=NUMBER,
        onDemandSessions=COUNT,
        openSessions=COUNT,
        activeSeconds=NUMBER,
        idleSeconds=NUMBER,
        comments=COUNT,
        percent=nullable("number"),
        present=FLAG,
        recordedSeconds=NUMBER,
        recordedPresent=FLAG,
        corrected=FLAG,
        corrections={"type": "array", "items": {"type": "integer"}},
    ),
    "BreakoutReport": obj(
        ["breakoutId", "policy", "attendees", "present", "absent", "users"],
        breakoutId=TEXT,
        name=nullable("string"),
        startsAt=nullable("string", format="date-time"),
        endsAt=nullable("string", format="date-time"),
        scheduledSeconds=nullable("number"),
        policy=obj([], minMinutes=nullable("number"), minPercent=nullable("number")),
        rule=ref("AppliedRule"),
        attendees=COUNT,
        present=COUNT,
        absent=COUNT,
        recordedPresent=COUNT,
        correctedUsers=COUNT,
        users={"type": "array", "items": ref("UserAttendance")},
    ),
    "AppliedRule": obj(
        ["basis", "asOf", "ownVersion", "serverVersion"],
        basis={"enum": ["current", "as-of"]},
        asOf=nullable("string", format="date-time"),
        ownVersion=nullable("integer"),
        serverVersion={"type": "integer"},
    ),
    "CertificateStatus": obj(
        ["id", "status", "issuedAt", "supersededBy", "revokedAt", "revokedReason"],
        id={"type": "string", "format": "uuid"},
        status={"enum": ["valid", "superseded", "revoked"]},
        issuedAt=TIME,
        supersededBy=nullable("string"),
        revokedAt=nullable("string", format="date-time"),
        revokedReason=nullable("string"),
    ),
    "Certificate": {
        "allOf": [
            ref("CertificateStatus"),
            obj(
                ["jws", "credential", "links"],
                jws={"type": "string", "description": "the signed certificate: a compact JWS"},
                credential={"type": "object", "description": "the JWS payload, a VC"},
                links=obj(["status", "view", "jwks"], status=TEXT, view=TEXT, jwks=TEXT),
            ),
        ]
    },
    "WebhookSpec": obj(
        ["url", "events"],
        url={"type": "string", "maxLength": 2048, "description": "http(s); a public address"},
        events={
            "type": "array",
            "minItems": 1,
            "items": {"enum": ["breakout.ended", "attendance.corrected"]},
        },
        secret={"type": "string", "minLength": 16, "maxLength": 256},
    ),
    "Webhook": obj(
        ["id", "url", "events", "createdBy", "createdAt"],
        id={"type": "integer"},
        url=TEXT,
        events={"type": "array", "items": TEXT},
        createdBy=TEXT,
        createdAt=TIME,
        secret={"type": "string", "description": "only in the answer that created it"},
    ),
    "WebhookDelivery": obj(
        ["id", "eventId", "event", "occurredAt", "state", "attempts"],
        id={"type": "integer"},
        eventId={"type": "string", "format": "uuid"},
        event=TEXT,
        occurredAt=TIME,
        state={"enum": ["pending", "delivered", "failed"]},
        attempts=COUNT,
        lastAttemptAt=nullable("string", format="date-time"),
        lastStatus=nullable("integer"),
        lastError=nullable("string"),
        nextAttemptAt=nullable("string", format="date-time"),
        deliveredAt=nullable("string", format="date-time"),
        gaveUpAt=nullable("string", format="date-time"),
    ),
    "RuleVersion": obj(
        ["version", "validFrom"],
        version={"type": "integer", "minimum": 1},
        validFrom={**nullable("string", format="date-time"), "description": "null: since always"},
        minMinutes=nullable("number"),
        minPercent=nullable("number"),
        dayMinHours=nullable("number"),
        periodMinPercent=nullable("number"),
    ),
    "RuleVersions": obj(
        ["own", "server"],
        own={"type": "array", "items": ref("RuleVersion")},
        server={"type": "array", "items": ref("RuleVersion")},
    ),
    "CorrectionSpec": obj(
        ["userId", "kind", "reason"],
        userId=TEXT,
        kind={"enum": ["present", "absent", "stay"]},
        reason={
            "enum": [
                "excused",
                "technical_problem",
                "joined_by_phone",
                "attended_elsewhere",
                "recorded_in_error",
                "other",
            ]
        },
        note={"type": "string", "maxLength": 500, "description": "required when reason is other"},
        day={**DAY, "description": "school corrections only: the school day"},
        **{
            "from": {**TIME, "description": "a stay only: when it began"},
            "to": {**TIME, "description": "a stay only: when it ended (not in the future)"},
        },
    ),
    "Correction": obj(
        ["id", "placeKind", "placeId", "userId", "kind", "reason", "madeBy", "madeAt", "status"],
        id={"type": "integer"},
        placeKind={"enum": ["breakout", "school"]},
        placeId=TEXT,
        userId=TEXT,
        day=nullable("string", format="date"),
        kind={"enum": ["present", "absent", "stay"]},
        reason=TEXT,
        note=nullable("string"),
        replaces=nullable("integer"),
        madeBy=TEXT,
        madeByRole=TEXT,
        madeAt=TIME,
        status={"enum": ["active", "superseded", "withdrawn"]},
        supersededBy=nullable("integer"),
        withdrawnAt=nullable("string", format="date-time"),
        withdrawnBy=nullable("string"),
        withdrawnReason=nullable("string"),
        **{
            "from": nullable("string", format="date-time"),
            "to": nullable("string", format="date-time"),
        },
    ),
    "Timeline": obj(
        ["breakoutId", "stepSeconds", "buckets"],
        breakoutId=TEXT,
        stepSeconds={"type": "integer", "minimum": 1},
        buckets={
            "type": "array",
            "items": obj(
                ["start", "joins", "leaves", "peak", "viewers"],
                start=TIME,
                joins=COUNT,
                leaves=COUNT,
                peak=COUNT,
                viewers=COUNT,
            ),
        },
    ),
    "Share": obj(
        ["value", "users", "sessions"], value=nullable("string"), users=COUNT, sessions=COUNT
    ),
    "Breakdowns": obj(
        ["breakoutId", "deviceType", "browser", "os", "country"],
        breakoutId=TEXT,
        **{
            k: {"type": "array", "items": ref("Share")}
            for k in ("deviceType", "browser", "os", "country")
        },
    ),
    "BreakoutPeriods": obj(
        ["orgId", "from", "to", "period", "periods"],
        orgId=TEXT,
        period={"enum": ["day", "week", "month"]},
        ruleBasis={"enum": ["current", "as-of"]},
        periods={
            "type": "array",
            "items": obj(
                ["start", "end", "breakouts", "attendees", "present", "absent"],
                start=DAY,
                end=DAY,
                breakouts=COUNT,
                attendees=COUNT,
                present=COUNT,
                absent=COUNT,
                recordedPresent=COUNT,
                perBreakout={
                    "type": "array",
                    "items": obj(
                        ["breakoutId", "present", "absent", "rule"],
                        breakoutId=TEXT,
                        present=COUNT,
                        absent=COUNT,
                        rule=ref("AppliedRule"),
                    ),
                },
            ),
        },
        **{"from": DAY, "to": DAY},
    ),
    "School": obj(
        ["id", "org_id", "name", "time_zone", "school_days", "created_at", "updated_at"],
        id=TEXT,
        org_id=TEXT,
        name=TEXT,
        time_zone=TEXT,
        school_days={"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 7}},
        day_min_hours=nullable("number"),
        period_min_percent=nullable("number"),
        created_at=TIME,
        updated_at=TIME,
    ),
    "SchoolSpec": obj(
        [],
        id=TEXT,
        name={"type": "string", "maxLength": 200},
        time_zone=TEXT,
        school_days={"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 7}},
        day_min_hours=nullable("number", minimum=0, maximum=24),
        period_min_percent=nullable("number", minimum=0, maximum=100),
    ),
    "User": obj(
        ["id", "school_id", "name", "email", "created_at", "updated_at"],
        id=TEXT,
        school_id=TEXT,
        name=TEXT,
        email=nullable("string"),
        created_at=TIME,
        updated_at=TIME,
    ),
    "UserSpec": obj([], id=TEXT, school_id=TEXT, name=TEXT, email=nullable("string")),
    "CheckEvent": obj(
        ["id", "school_id", "user_id", "type", "timestamp", "temperature", "recorded_at"],
        id={"type": "integer"},
        school_id=TEXT,
        user_id=TEXT,
        type={"enum": ["checkin", "checkout"]},
        timestamp=TIME,
        temperature=NUMBER,
        image=nullable("string"),
        recorded_at=TIME,
        entered_by=nullable("string"),
    ),
    "CheckEventSpec": obj(
        ["user_id", "school_id", "type", "temperature"],
        user_id=TEXT,
        school_id=TEXT,
        type={"enum": ["checkin", "checkout"]},
        temperature={"type": "number", "exclusiveMinimum": 28, "exclusiveMaximum": 43},
        image=nullable("string"),
        timestamp=nullable("string", format="date-time"),
    ),
    "FeverAlert": obj(
        ["id", "attendance_id", "school_id", "user_id", "user_name", "temperature", "timestamp"],
        id={"type": "integer"},
        attendance_id={"type": "integer"},
        school_id=TEXT,
        user_id=TEXT,
        user_name=nullable("string"),
        temperature=NUMBER,
        timestamp=TIME,
        raised_at=TIME,
        acknowledged_by=nullable("string"),
        acknowledged_at=nullable("string", format="date-time"),
    ),
    "InSchool": obj(
        ["user_id", "user_name", "since", "missed_checkout"],
        user_id=TEXT,
        user_name=nullable("string"),
        since=TIME,
        missed_checkout=FLAG,
    ),
    "SchoolReport": obj(
        ["school_id", "time_zone", "from", "to", "period", "rules", "users", "periods"],
        school_id=TEXT,
        time_zone=TEXT,
        period={"enum": ["day", "week", "month"]},
        rules={"type": "object"},
        rule=obj(
            ["basis", "as_of", "own_version", "server_version"],
            basis={"enum": ["current", "as-of"]},
            as_of=nullable("string", format="date-time"),
            own_version=nullable("integer"),
            server_version={"type": "integer"},
        ),
        users=COUNT,
        periods={
            "type": "array",
            "items": obj(
                ["start", "end", "school_days", "present", "absent"],
                start=DAY,
                end=DAY,
                school_days=COUNT,
                present=COUNT,
                absent=COUNT,
                recorded_present=COUNT,
                users={"type": "array", "items": {"type": "object"}},
            ),
        },
        **{"from": DAY, "to": DAY},
    ),
}


def param(name: str, where: str = "query", schema: Schema | None = None, why: str = "") -> Schema:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "schema": schema or TEXT,
        "description": why,
    }


PAGING = [
    param("limit", schema={"type": "integer", "minimum": 1, "maximum": 1000}),
    param("cursor", why="the previous page's next_cursor"),
]
# A per-user report's pages (by user id; CSV ignores them: every user).
USER_PAGES = [
    param("limit", schema={"type": "integer", "minimum": 1, "maximum": 100_000}),
    param("cursor", why="the previous page's next_cursor"),
]
FORMAT = [param("format", schema={"enum": ["json", "csv"]}, why="or Accept: text/csv")]
RANGE = [
    param("from", why="ISO time or date"),
    param("to", why="ISO time or date (a date: all of it)"),
]
JWS = "application/vc+jwt"
CERTIFICATE_FORMAT = [
    param("format", schema={"enum": ["json", "jws"]}, why=f"or Accept: {JWS} (the bare JWS)")
]
RULE = param(
    "rule", schema={"enum": ["current", "as-of"]}, why="today's rule (default) or the one then"
)
REPORT = [
    param("from", schema=DAY),
    param("to", schema=DAY),
    param("period", schema={"enum": ["day", "week", "month"]}),
    RULE,
]
_ERRORS = {
    "401": "unauthorized",
    "403": "forbidden",
    "404": "not_found",
    "409": "conflict",
    "422": "validation_failed",
}


def op(
    summary: str,
    who: str,
    ok: Schema | None,
    *,
    status: str = "200",
    params: list[Schema] | None = None,
    body: Schema | None = None,
    csv: bool = False,
    errors: tuple[str, ...] = ("401", "403", "422"),
    tag: str = "breakouts",
    media: str = "application/json",
    media_types: dict[str, Schema] | None = None,
) -> Schema:
    content: Schema = {}
    if ok is not None:
        content[media] = {"schema": ok}
    if csv:
        content["text/csv"] = {"schema": TEXT}
    for other, schema in (media_types or {}).items():
        content[other] = {"schema": schema}
    responses: Schema = {status: {"description": "OK", **({"content": content} if content else {})}}
    for code in errors:
        responses[code] = {"$ref": f"#/components/responses/{_ERRORS[code]}"}
    if who != "anyone":  # the database away, or no answer in time: try again
        responses["503"] = {"$ref": "#/components/responses/unavailable"}
    operation: Schema = {
        "summary": summary,
        "description": f"Who: {who}.",
        "tags": [tag],
        "responses": responses,
        "parameters": params or [],
    }
    if who != "anyone":
        operation["security"] = [{"bearer": []}]
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return operation


def _path(name: str) -> list[Schema]:
    return [param(name, "path", why="an id: 1-128 of A-Z a-z 0-9 _ . : -")]


BREAKOUT = _path("breakout_id")
ID = _path("id")
HTML = {"type": "string", "contentMediaType": "text/html"}


def _page(summary: str, params: list[Schema] | None = None, media: str = "text/html") -> Schema:
    return op(summary, "anyone", TEXT, tag="pages", params=params, errors=(), media=media)


def corrections_of(
    whose: str, place: list[Schema], making: str, makers: str, *, tag: str
) -> dict[str, Schema]:
    """A place's corrections: the log (GET) and making one (POST)."""
    found = ("401", "403", "404", "422")
    return {
        "get": op(
            f"The {whose} corrections, oldest first: active, superseded and withdrawn",
            READERS,
            listing(ref("Correction")),
            params=[*place, *PAGING, *FORMAT],
            csv=True,
            tag=tag,
            errors=found,
        ),
        "post": op(
            making,
            makers,
            wrapped(ref("Correction")),
            status="201",
            params=place,
            body=ref("CorrectionSpec"),
            tag=tag,
            errors=found,
        ),
    }


def school_item(
    noun: str, schema: str, deleting: str, *, conflicts: bool = False
) -> dict[str, Schema]:
    """GET, PUT, PATCH and DELETE of one school record (a school, a user) by its id."""
    found = ("401", "403", "404", "422")
    return {
        "get": op(
            f"One {noun}", READERS, wrapped(ref(schema)), params=ID, tag="schools", errors=found
        ),
        **{
            method: op(
                summary,
                ADMINS,
                wrapped(ref(schema)),
                params=ID,
                body=ref(f"{schema}Spec"),
                tag="schools",
                errors=found,
            )
            for method, summary in (
                ("put", f"Replace a {noun}'s fields"),
                ("patch", f"Change some of a {noun}'s fields"),
            )
        },
        "delete": op(
            deleting,
            ADMINS,
            None,
            status="204",
            params=ID,
            tag="schools",
            errors=("401", "403", "404", "422", *(("409",) if conflicts else ())),
        ),
    }


PATHS: dict[str, dict[str, Schema]] = {
    "/api/breakouts": {
        "get": op(
            "The org's breakouts by id: state and live viewers",
            READERS,
            listing(ref("ListedBreakout")),
            params=[
                param("q", why="text in the id or name"),
                param("state", schema={"enum": ["live", "scheduled", "ended"]}),
                *RANGE,
                *PAGING,
            ],
        )
    },
    "/api/breakouts/{breakout_id}": {
        "get": op(
            "One breakout with state and live viewers",
            READERS,
            wrapped(ref("ListedBreakout")),
            params=BREAKOUT,
            errors=("401", "403", "404", "422"),
        ),
        "put": op(
            "Create or update a breakout of the org",
            HOSTS,
            wrapped(ref("Breakout")),
            params=BREAKOUT,
            body=ref("BreakoutSpec"),
        ),
    },
    "/api/breakouts/{breakout_id}/end": {
        "post": op(
            "End a breakout: every node closes its sessions there",
            HOSTS,
            wrapped(obj(["breakoutId", "endedAt"], breakoutId=TEXT, endedAt=TIME)),
            params=BREAKOUT,
            errors=("401", "403", "404", "422"),
        )
    },
    "/api/breakouts/{breakout_id}/presence": {
        "get": op(
            "Who is in the breakout now (all nodes)",
            HOSTS,
            wrapped(
                obj(
                    ["breakoutId", "count", "viewers"],
                    breakoutId=TEXT,
                    count=COUNT,
                    viewers={"type": "array", "items": ref("Viewer")},
                )
            ),
            params=BREAKOUT,
            errors=("401", "403", "404", "422"),
        )
    },
    "/api/breakouts/{breakout_id}/sessions": {
        "get": op(
            "The breakout's sessions in entry order (CSV: all of them)",
            READERS,
            listing(ref("Session")),
            params=[*BREAKOUT, *PAGING, *FORMAT],
            csv=True,
            errors=("401", "403", "404", "422"),
        )
    },
    "/api/breakouts/{breakout_id}/comments": {
        "get": op(
            "The breakout's comments, oldest first; deleted ones say who took them down",
            READERS,
            listing(ref("Comment")),
            params=[*BREAKOUT, *PAGING, *FORMAT],
            csv=True,
            errors=("401", "403", "404", "422"),
        )
    },
    "/api/breakouts/{breakout_id}/attendance": {
        "get": op(
            "Per user: attended time, share and present, by user id (CSV: every user)",
            READERS,
            obj(
                ["data", "next_cursor"], data=ref("BreakoutReport"), next_cursor=nullable("string")
            ),
            params=[*BREAKOUT, *USER_PAGES, RULE, *FORMAT],
            csv=True,
            errors=("401", "403", "404", "422"),
        )
    },
    "/api/breakouts/{breakout_id}/certificates/{user_id}": {
        "get": op(
            "The user's signed attendance certificate (issued when the record changed)",
            "the user themself, or an analyst, host or admin of the org",
            wrapped(ref("Certificate")),
            params=[*BREAKOUT, *_path("user_id"), *CERTIFICATE_FORMAT],
            media_types={JWS: TEXT},
            errors=("401", "403", "404", "422"),
            tag="certificates",
        )
    },
    "/api/schools/{id}/certificates/{user_id}": {
        "get": op(
            "The user's signed certificate of attendance at the school over a period",
            "the user themself, or an analyst, host or admin of the org",
            wrapped(ref("Certificate")),
            params=[
                *ID,
                *_path("user_id"),
                param("from", schema=DAY),
                param("to", schema=DAY),
                *CERTIFICATE_FORMAT,
            ],
            media_types={JWS: TEXT},
            errors=("401", "403", "404", "422"),
            tag="certificates",
        )
    },
    "/api/certificates/{id}": {
        "get": op(
            "A certificate, by its id",
            "anyone",
            wrapped(ref("Certificate")),
            params=[*ID, *CERTIFICATE_FORMAT],
            media_types={JWS: TEXT},
            errors=("404", "422"),
            tag="certificates",
        )
    },
    "/api/certificates/{id}/status": {
        "get": op(
            "Whether a certificate is valid, superseded (by which) or revoked",
            "anyone",
            wrapped(ref("CertificateStatus")),
            params=ID,
            errors=("404",),
            tag="certificates",
        )
    },
    "/api/webhooks": {
        "get": op(
            "The org's webhook endpoints (their secrets are never shown again)",
            ADMINS,
            listing(ref("Webhook")),
            params=PAGING,
            tag="webhooks",
        ),
        "post": op(
            "Register a webhook endpoint; the answer holds its secret, this once",
            ADMINS,
            wrapped(ref("Webhook")),
            status="201",
            body=ref("WebhookSpec"),
            tag="webhooks",
        ),
    },
    "/api/webhooks/{id}": {
        "delete": op(
            "Delete an endpoint: nothing more is sent to it",
            ADMINS,
            None,
            status="204",
            params=ID,
            tag="webhooks",
            errors=("401", "403", "404"),
        )
    },
    "/api/webhooks/{id}/deliveries": {
        "get": op(
            "The endpoint's delivery log: state, attempts, last status and error",
            ADMINS,
            listing(ref("WebhookDelivery")),
            params=[*ID, *PAGING],
            tag="webhooks",
            errors=("401", "403", "404", "422"),
        )
    },
    "/.well-known/jwks.json": {
        "get": op(
            "The public keys that verify certificates (every key that ever signed one)",
            "anyone",
            obj(["keys"], keys={"type": "array", "items": {"type": "object"}}),
            errors=(),
            tag="certificates",
        )
    },
    "/certificates/{id}": {"get": _page("A certificate for people: printable, with a QR code", ID)},
    "/api/breakouts/{breakout_id}/rules": {
        "get": op(
            "Every version of the breakout's presence rule and of the server's defaults",
            READERS,
            wrapped(ref("RuleVersions")),
            params=BREAKOUT,
            errors=("401", "403", "404", "422"),
        )
    },
    "/api/breakouts/{breakout_id}/corrections": corrections_of(
        "breakout's",
        BREAKOUT,
        "Correct a user's attendance: mark present or absent, or add a stay",
        HOSTS,
        tag="breakouts",
    ),
    "/api/corrections": {
        "get": op(
            "Every correction of the org (the audit log), oldest first",
            READERS,
            listing(ref("Correction")),
            params=[*PAGING, *FORMAT],
            csv=True,
        )
    },
    "/api/corrections/{id}/withdraw": {
        "post": op(
            "Withdraw a correction (it stays in the log, withdrawn)",
            "whoever may make that correction",
            wrapped(ref("Correction")),
            params=ID,
            body=obj(["reason"], reason={"type": "string", "maxLength": 500}),
            errors=("401", "403", "404", "409", "422"),
        )
    },
    "/api/breakouts/{breakout_id}/timeline": {
        "get": op(
            "Live viewers over time: per bucket, joins, leaves, most at once, at its end",
            READERS,
            wrapped(ref("Timeline")),
            params=[
                *BREAKOUT,
                param(
                    "step",
                    schema={"type": "integer", "minimum": 1, "maximum": 86400},
                    why="seconds a bucket (at most 2000 buckets)",
                ),
                *FORMAT,
            ],
            csv=True,
            errors=("401", "403", "404", "422"),
        )
    },
    "/api/breakouts/{breakout_id}/analytics": {
        "get": op(
            "Per user: first and last seen, sessions, devices, device and location mix, "
            "comments, active and idle time; the breakout's engagement summary (CSV: every user)",
            READERS,
            obj(
                ["data", "next_cursor"],
                data=ref("BreakoutAnalytics"),
                next_cursor=nullable("string"),
            ),
            params=[*BREAKOUT, *USER_PAGES, *FORMAT],
            csv=True,
            errors=("401", "403", "404", "422"),
        )
    },
    "/api/breakouts/{breakout_id}/breakdowns": {
        "get": op(
            "Users and sessions by device type, browser, OS, country",
            READERS,
            wrapped(ref("Breakdowns")),
            params=BREAKOUT,
            errors=("401", "403", "404", "422"),
        )
    },
    "/api/attendances/aggregate/breakouts": {
        "get": op(
            "The org's breakouts per day, week or month: present and absent",
            READERS,
            wrapped(ref("BreakoutPeriods")),
            params=[*REPORT, param("detail", schema={"enum": ["breakouts"]}), *FORMAT],
            csv=True,
        )
    },
    "/api/schools": {
        "get": op(
            "The org's schools", READERS, listing(ref("School")), params=PAGING, tag="schools"
        ),
        "post": op(
            "Create a school",
            ADMINS,
            wrapped(ref("School")),
            status="201",
            body=ref("SchoolSpec"),
            tag="schools",
            errors=("401", "403", "422"),
        ),
    },
    "/api/schools/{id}": school_item(
        "school", "School", "Delete a school without users (409 while it has some)", conflicts=True
    ),
    "/api/schools/{id}/users/import": {
        "post": {
            **op(
                "Import users from a CSV (name, email, id?): all lines or none",
                ADMINS,
                wrapped(
                    obj(
                        ["imported", "users"],
                        imported=COUNT,
                        users={"type": "array", "items": ref("User")},
                    )
                ),
                status="201",
                params=ID,
                tag="schools",
                errors=("401", "403", "404", "422"),
            ),
            "requestBody": {"required": True, "content": {"text/csv": {"schema": TEXT}}},
        }
    },
    "/api/schools/{id}/present": {
        "get": op(
            "Who is checked in at the school now",
            READERS,
            wrapped({"type": "array", "items": ref("InSchool")}),
            params=ID,
            tag="schools",
            errors=("401", "403", "404", "422"),
        )
    },
    "/api/schools/{id}/rules": {
        "get": op(
            "Every version of the school's thresholds and of the server's defaults",
            READERS,
            wrapped(ref("RuleVersions")),
            params=ID,
            tag="schools",
            errors=("401", "403", "404", "422"),
        )
    },
    "/api/schools/{id}/corrections": corrections_of(
        "school's day", ID, "Mark a user's school day present or absent", ADMINS, tag="schools"
    ),
    "/api/schools/{id}/fever-alerts": {
        "get": op(
            "The school's fever alerts, newest first",
            READERS,
            listing(ref("FeverAlert")),
            params=[*ID, param("acknowledged", schema={"enum": ["true", "false"]}), *PAGING],
            tag="schools",
            errors=("401", "403", "404", "422"),
        )
    },
    "/api/fever-alerts": {
        "get": op(
            "The org's fever alerts, newest first",
            READERS,
            listing(ref("FeverAlert")),
            params=[
                param(
                    "acknowledged",
                    schema={"enum": ["true", "false"]},
                    why="false: only those nobody acknowledged",
                ),
                *PAGING,
            ],
            tag="schools",
        )
    },
    "/api/fever-alerts/{id}/acknowledge": {
        "post": op(
            "Acknowledge a fever alert (the first one stands)",
            HOSTS,
            wrapped(ref("FeverAlert")),
            params=ID,
            tag="schools",
            errors=("401", "403", "404"),
        )
    },
    "/api/users": {
        "get": op(
            "The org's school users",
            READERS,
            listing(ref("User")),
            params=[param("school_id"), *PAGING],
            tag="schools",
        ),
        "post": op(
            "Create a user",
            ADMINS,
            wrapped(ref("User")),
            status="201",
            body=ref("UserSpec"),
            tag="schools",
            errors=("401", "403", "409", "422"),
        ),
    },
    "/api/users/{id}": school_item(
        "user", "User", "Erase a user with their check events, visits and alerts"
    ),
    "/api/attendances": {
        "get": op(
            "Check events by id",
            READERS,
            listing(ref("CheckEvent")),
            params=[param("school_id"), param("user_id"), *RANGE, *PAGING],
            tag="schools",
        ),
        "post": op(
            "Record a check-in or check-out (an attendee: their own, at the server's time)",
            "admin, or the attendee themself",
            wrapped(
                {
                    "allOf": [
                        ref("CheckEvent"),
                        obj(
                            ["fever_alert"],
                            fever_alert={"oneOf": [ref("FeverAlert"), {"type": "null"}]},
                        ),
                    ]
                }
            ),
            status="201",
            body=ref("CheckEventSpec"),
            tag="schools",
            errors=("401", "403", "409", "422"),
        ),
    },
    "/api/attendances/{id}": {
        "get": op(
            "One check event",
            READERS,
            wrapped(ref("CheckEvent")),
            params=ID,
            tag="schools",
            errors=("401", "403", "404"),
        ),
        "delete": op(
            "Delete a check event (a check-out reopens its visit)",
            ADMINS,
            None,
            status="204",
            params=ID,
            tag="schools",
            errors=("401", "403", "404", "409"),
        ),
    },
    "/api/attendances/aggregate/school/{id}": {
        "get": op(
            "A school's attendance per day, week or month",
            READERS,
            wrapped(ref("SchoolReport")),
            params=[*ID, *REPORT, param("detail", schema={"enum": ["users"]}), *FORMAT],
            csv=True,
            tag="schools",
            errors=("401", "403", "404", "422"),
        )
    },
    "/healthz": {
        "get": op(
            "The process answers",
            "anyone",
            obj(["status", "node"], status=TEXT, node=TEXT),
            tag="operations",
            errors=(),
        )
    },
    "/readyz": {
        "get": {
            **op(
                "The node can record (ready, or degraded on its journal)",
                "anyone",
                obj(["status"], status={"enum": ["ready", "degraded"]}),
                tag="operations",
                errors=(),
            ),
        }
    },
    "/metrics": {
        "get": {**_page("Prometheus metrics", media="text/plain"), "tags": ["operations"]}
    },
    "/api/openapi.json": {"get": _page("This document", media="application/json")},
    "/": {
        "get": {
            **_page("Redirects to the dashboard"),
            "responses": {"302": {"description": "to /dashboard/"}},
        }
    },
    "/dashboard": {
        "get": {
            **_page("Redirects to the dashboard"),
            "responses": {"302": {"description": "to /dashboard/"}},
        }
    },
    "/dashboard/{page}": {
        "get": _page(
            "The dashboard's pages (one shell; the front end reads the path)",
            [param("page", "path")],
        )
    },
    "/dashboard/assets/{name}": {
        "get": _page(
            "The dashboard's scripts, styles and map",
            [param("name", "path")],
            media="application/octet-stream",
        )
    },
    "/api/docs": {
        "get": {
            **_page("Redirects to the API reference"),
            "responses": {"302": {"description": "to /api/docs/"}},
        }
    },
    "/api/docs/": {"get": _page("The API reference page")},
    "/api/docs/{name}": {
        "get": _page(
            "The API reference page's assets",
            [param("name", "path")],
            media="application/octet-stream",
        )
    },
}
# The 503 of /readyz: nothing can record.
PATHS["/readyz"]["get"]["responses"]["503"] = {"$ref": "#/components/responses/unavailable"}

DOCUMENT: Schema = {
    "openapi": "3.1.0",
    "info": {
        "title": "Attendance server",
        "version": "1",
        "description": (
            "Breakouts, sessions and reports (camelCase); schools, users and check events"
            " (snake_case). Errors are RFC 9457 problem JSON with a stable `code`. The Socket.IO"
            " contract is in README."
        ),
    },
    "tags": [
        {"name": t}
        for t in ("breakouts", "schools", "certificates", "webhooks", "operations", "pages")
    ],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        "responses": {
            code: {
                "description": code.replace("_", " "),
                "content": {"application/problem+json": {"schema": ref("Problem")}},
            }
            for code in (*_ERRORS.values(), "unavailable")
        },
    },
}


async def openapi_document(_: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/openapi.json", openapi_document)
