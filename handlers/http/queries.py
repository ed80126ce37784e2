"""The query strings the HTTP API takes: paging, filters, report ranges and the output format.

Each reader takes the request's `Fields`, so a view reads all it needs and one `done()` names
every bad parameter in one 422.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from aiohttp import web

from handlers.http.validation import Fields
from models.domain.fields import MAX_ID_CHARS, parse_aware_time, parse_date
from models.domain.records import BreakoutState
from models.reports.rules import Period, RuleBasis
from models.schools.checkins import EventFilter
from models.store.breakouts import BreakoutSearch

MAX_PAGE = 1000
DEFAULT_PAGE = 100
# A breakout's attendance report may come in one answer for a class of 100,000 (the dashboard's
# table): every page recomputes the totals, so many small pages would cost more.
MAX_REPORT_PAGE = 100_000
_FOREIGN_CURSOR = "is not one this server gave"


@dataclass(frozen=True, slots=True)
class Page:
    cursor: str | None
    limit: int


def page_of(
    query: Fields, default: int = DEFAULT_PAGE, *, numeric: bool = False, most: int = MAX_PAGE
) -> Page:
    """`?limit=` (1 to `most`, 1000 unless said) and `?cursor=` from the previous page's
    `next_cursor`."""
    limit = query.count("limit", 1, most, default)

    def cursor(value: object) -> str:
        text = str(value)
        if not 1 <= len(text) <= MAX_ID_CHARS:
            raise ValueError(_FOREIGN_CURSOR)
        if numeric and not (text.isascii() and text.isdigit() and len(text) <= 18):
            raise ValueError(_FOREIGN_CURSOR)
        return text

    return Page(query.parsed("cursor", cursor), limit)


def _moment(query: Fields, key: str, *, end: bool) -> datetime | None:
    """An ISO time with a zone, or a date (a whole UTC day: `to` includes it)."""

    def moment(value: object) -> datetime:
        text = str(value)
        if len(text) != 10:
            return parse_aware_time(text)
        start = datetime.combine(parse_date(text), time(0), tzinfo=UTC)
        return start + timedelta(days=1) if end else start

    return query.parsed(key, moment)


def _range(query: Fields) -> tuple[datetime | None, datetime | None]:
    """`?from=&to=`: ISO times or dates; `to` after `from`."""
    since, until = _moment(query, "from", end=False), _moment(query, "to", end=True)
    if since and until and since >= until:
        query.problem("to", "is not after from")
    return since, until


def breakout_search_of(query: Fields) -> BreakoutSearch:
    """`?q=&state=live|scheduled|ended&from=&to=` and paging, for the breakout list."""
    since, until = _range(query)
    state = query.choice("state", {s.value for s in BreakoutState})
    page = page_of(query)
    return BreakoutSearch(
        text=query.text("q", required=False),
        state=None if state is None else BreakoutState(state),
        since=since,
        until=until,
        after=page.cursor or "",
        limit=page.limit,
    )


def event_filter_of(query: Fields) -> EventFilter:
    """`?school_id=&user_id=&from=&to=` for the attendance list."""
    since, until = _range(query)
    return EventFilter(
        school_id=query.values.get("school_id"),
        user_id=query.values.get("user_id"),
        since=since,
        until=until,
    )


@dataclass(frozen=True, slots=True)
class ReportQuery:
    first: date
    last: date
    period: Period
    detail: bool
    basis: RuleBasis


def rule_basis_of(query: Fields) -> RuleBasis:
    """`?rule=current|as-of`: today's rule (the default) or the one that held then."""
    chosen = query.choice("rule", {basis.value for basis in RuleBasis}, RuleBasis.CURRENT.value)
    return RuleBasis(chosen or RuleBasis.CURRENT)


def report_query_of(query: Fields) -> ReportQuery:
    """`?from=YYYY-MM-DD&to=YYYY-MM-DD&period=day|week|month&detail=users|breakouts
    &rule=current|as-of`."""
    first = query.day("from", required=True)
    last = query.day("to", required=True)
    period = query.choice("period", {p.value for p in Period}, Period.DAY.value)
    detail = query.choice("detail", {"users", "breakouts"})
    return ReportQuery(
        first or date.min,
        last or date.min,
        Period(period or Period.DAY),
        detail is not None,
        rule_basis_of(query),
    )


def wants_csv(query: Fields, request: web.Request) -> bool:
    """`?format=json|csv`, else CSV when the Accept header asks for it."""
    chosen = query.choice("format", {"json", "csv"})
    if chosen is not None:
        return chosen == "csv"
    return "text/csv" in request.headers.get("Accept", "")
