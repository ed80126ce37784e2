"""Corrections of the record behind the role and tenant rules: hosts and admins correct a
breakout's attendance, admins a school day; analysts, hosts and admins read the log. The
reports apply active corrections (models/reports); nothing here changes a session or a visit."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from models.domain.access import (
    CORRECT_SCHOOLS,
    READ_SCHOOLS,
    SCHOOL_READERS,
    SCHOOL_WRITERS,
    SESSION_READERS,
    require_can_correct,
    require_can_read_sessions,
    require_role,
)
from models.domain.errors import Conflict, NotFound, ValidationFailed
from models.domain.records import Identity
from models.evidence.certificates import Certificates
from models.schools.directory import fetch_school, fetch_school_user
from models.store.breakouts import BreakoutDirectory
from models.store.corrections import (
    Correction,
    CorrectionKind,
    CorrectionSpec,
    PlaceKind,
    fetch_correction,
    fetch_log,
    insert_correction,
    withdraw_correction,
)
from models.store.database import Connection

# A stay may end this far after the server's clock (the corrector's clock may run ahead).
STAY_CLOCK_SLACK = timedelta(minutes=5)
MAX_STAY = timedelta(hours=24)


class Corrections:
    """Makes, withdraws and lists corrections; a user's current certificate of a breakout
    follows every change of their corrections there."""

    def __init__(
        self, pool: asyncpg.Pool, breakouts: BreakoutDirectory, certificates: Certificates
    ) -> None:
        self._pool = pool
        self._breakouts = breakouts
        self._certificates = certificates

    async def correct(
        self,
        identity: Identity,
        place: tuple[PlaceKind, str],
        spec: CorrectionSpec,
        now: datetime,
    ) -> Correction:
        """A breakout's: marks the user present or absent there, or adds a stay of theirs. A
        school's: marks one of its users present or absent on one of its days."""
        kind, place_id = place
        if kind is PlaceKind.BREAKOUT:
            place_id = await self._breakout_correctable(identity, place_id, spec, now)
        async with self._pool.acquire() as connection:
            if kind is PlaceKind.SCHOOL:
                place_id = await _school_day_correctable(connection, identity, place_id, spec)
            made = await insert_correction(
                connection,
                identity.org_id,
                (kind, place_id),
                spec,
                identity.user_id,
                identity.role.value,
            )
        await self._follow(made, now)
        return made

    async def _breakout_correctable(
        self, identity: Identity, breakout_id: str, spec: CorrectionSpec, now: datetime
    ) -> str:
        breakout = await self._breakouts.get(identity.org_id, breakout_id)
        require_can_correct(identity, breakout)
        if spec.day is not None:
            raise ValidationFailed({"day": "is for school days; a breakout has none"})
        if spec.kind is CorrectionKind.STAY:
            _check_stay(spec, now)
        return breakout.id

    async def withdraw(
        self, identity: Identity, correction_id: int, reason: str, now: datetime
    ) -> Correction:
        """Withdraws an active or superseded correction, by whoever may make its kind."""
        async with self._pool.acquire() as connection:
            found = await fetch_correction(connection, identity.org_id, correction_id)
            if found is None:
                raise NotFound(f"correction {correction_id} does not exist")
            await self._require_can_make(identity, found)
            if not await withdraw_correction(
                connection, identity.org_id, correction_id, identity.user_id, reason
            ):
                raise Conflict(f"correction {correction_id} is withdrawn already")
            withdrawn = await fetch_correction(connection, identity.org_id, correction_id)
        if withdrawn is None:  # a correction is never deleted (the table refuses it)
            raise RuntimeError(f"correction {correction_id} vanished")
        await self._follow(withdrawn, now)
        return withdrawn

    async def _follow(self, correction: Correction, now: datetime) -> None:
        """The certificates the correction touches follow it (superseded or revoked)."""
        if correction.day is not None:
            await self._certificates.refresh_school_day(
                correction.org_id, correction.place_id, correction.user_id, correction.day, now
            )
        else:
            await self._certificates.refresh(
                correction.org_id, correction.place_id, correction.user_id, now
            )

    async def find(self, org_id: str, correction_id: int) -> Correction | None:
        """The org's correction, for the server's own use (webhooks): no role check."""
        async with self._pool.acquire() as connection:
            return await fetch_correction(connection, org_id, correction_id)

    async def log(
        self,
        identity: Identity,
        place: tuple[PlaceKind, str] | None,
        after: int,
        limit: int | None,
    ) -> list[Correction]:
        """The org's corrections (of one breakout or school), oldest first, after the id
        `after`, `limit` at a time (None: all), withdrawn and superseded ones included."""
        if place is None:
            require_role(identity, SESSION_READERS, "read corrections")
        elif place[0] is PlaceKind.BREAKOUT:
            require_can_read_sessions(
                identity, await self._breakouts.get(identity.org_id, place[1])
            )
        else:
            require_role(identity, SCHOOL_READERS, READ_SCHOOLS)
            async with self._pool.acquire() as connection:
                await fetch_school(connection, place[1], identity.org_id)
        async with self._pool.acquire() as connection:
            return await fetch_log(connection, identity.org_id, place, after, limit)

    async def _require_can_make(self, identity: Identity, correction: Correction) -> None:
        if correction.place_kind is PlaceKind.SCHOOL:
            require_role(identity, SCHOOL_WRITERS, CORRECT_SCHOOLS)
        else:
            require_can_correct(
                identity, await self._breakouts.get(identity.org_id, correction.place_id)
            )


async def _school_day_correctable(
    connection: Connection, identity: Identity, school_id: str, spec: CorrectionSpec
) -> str:
    require_role(identity, SCHOOL_WRITERS, CORRECT_SCHOOLS)
    if spec.kind is CorrectionKind.STAY:
        raise ValidationFailed({"kind": "a school day is marked present or absent"})
    if spec.day is None:
        raise ValidationFailed({"day": "is required"})
    school = await fetch_school(connection, school_id, identity.org_id)
    user = await fetch_school_user(connection, identity.org_id, spec.user_id)
    if user is None or user.school_id != school.id:
        raise ValidationFailed({"userId": f"is not a user of school {school.id}"})
    return school.id


def _check_stay(spec: CorrectionSpec, now: datetime) -> None:
    if spec.stay_from is None or spec.stay_to is None:
        raise ValidationFailed({"from": "a stay needs from and to"})
    if spec.stay_to <= spec.stay_from:
        raise ValidationFailed({"to": "must be after from"})
    if spec.stay_to > now + STAY_CLOCK_SLACK:
        raise ValidationFailed({"to": "is in the future: a stay is added once it is over"})
    if spec.stay_to - spec.stay_from > MAX_STAY:
        raise ValidationFailed({"to": "a stay lasts at most 24 hours"})
