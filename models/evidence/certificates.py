"""Attendance certificates (README "Certificates"): for a user who was present at a breakout, or
at a school over a period, a credential shaped after Open Badges 3.0 / the W3C Verifiable
Credentials Data Model 2.0, signed as a compact JWS with the server's Ed25519 key.

What it attests is the report for that user under the rules that held then (when the breakout
ended; at the end of the school period), corrections applied. Asking again returns the same
certificate while that is unchanged; once a correction changes it, the next one supersedes it
(or, when the user is no longer present, it is revoked), so a verifier who asks its status
learns it is out of date."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from models.domain.access import (
    SCHOOL_READERS,
    SESSION_READERS,
    require_same_org,
    system_reader,
)
from models.domain.errors import Forbidden, NotFound
from models.domain.fields import iso_ms
from models.domain.records import Breakout, Identity, Role
from models.evidence.signing import SigningKey
from models.reports.breakouts import BreakoutReports, UserAttendance
from models.reports.rules import AppliedRule, BreakoutPolicy, Period, RuleBasis, report_range
from models.reports.schools import SchoolReports
from models.store.breakouts import BreakoutDirectory
from models.store.certificates import (
    StoredCertificate,
    Subject,
    fetch_certificate,
    fetch_current,
    fetch_current_holding,
    fetch_public_keys,
    insert_certificate,
    lock_subject,
    register_key,
    revoke,
    supersede,
)

CONTEXTS = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]
NOT_PRESENT = "a correction made the user no longer present"
BREAKOUT, SCHOOL = "breakout", "school"
# Ratios are compared with this slack so that 4 of 5 days is exactly 80% in floating point too.
_EPSILON = 1e-9


def _versions(rule: AppliedRule) -> str:
    return (
        f"rule version {rule.own_version}, server defaults version {rule.server_version}, as in "
        "force"
    )


def breakout_facts(
    report_breakout: Breakout, user: UserAttendance, policy: BreakoutPolicy, rule: AppliedRule
) -> dict[str, Any]:
    """What a breakout certificate attests: a JSON object equal for an unchanged record."""
    needed = (
        f"{policy.min_percent:g}% of the scheduled time"
        if policy.min_percent is not None
        else f"{policy.min_minutes or 0:g} minutes"
    )
    return {
        "kind": BREAKOUT,
        "orgId": report_breakout.org_id,
        "breakoutId": report_breakout.id,
        "breakoutName": report_breakout.name,
        "startsAt": iso_ms(report_breakout.starts_at),
        "endsAt": iso_ms(report_breakout.ends_at),
        "endedAt": iso_ms(report_breakout.ended_at),
        "userId": user.user_id,
        "userName": user.user_name,
        "firstJoin": iso_ms(user.first_join),
        "lastLeave": iso_ms(user.last_leave),
        "attendedSeconds": round(user.seconds, 3),
        "percent": user.percent,
        "present": user.present,
        "recordedSeconds": round(user.recorded_seconds, 3),
        "recordedPresent": user.recorded_present,
        "correctionsApplied": list(user.corrections),
        "rule": {
            "basis": rule.basis.value,
            "asOf": iso_ms(rule.as_of),
            "breakoutVersion": rule.own_version,
            "serverVersion": rule.server_version,
            "minMinutes": policy.min_minutes,
            "minPercent": policy.min_percent,
            "text": f"Present with at least {needed} in the live breakout ({_versions(rule)} "
            "when it ended), corrections applied.",
        },
    }


def credential(
    certificate_id: str, issuer: str, issued_at: datetime, facts: dict[str, Any]
) -> dict[str, Any]:
    """The signed document: a Verifiable Credential (an OpenBadgeCredential) whose subject's
    `attendance` holds the facts; with the JWT claims a JOSE library checks."""
    subject = f"urn:attendance:{facts['orgId']}:user:{facts['userId']}"
    if facts["kind"] == SCHOOL:
        title = f"{facts['schoolName']}, {facts['from']} to {facts['to']}"
        place = f"{issuer}/api/schools/{facts['schoolId']}"
        description = "Attended school over the period"
    else:
        title = facts["breakoutName"] or facts["breakoutId"]
        place = f"{issuer}/api/breakouts/{facts['breakoutId']}"
        description = "Attended the live breakout"
    return {
        "@context": CONTEXTS,
        "id": f"urn:uuid:{certificate_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": f"Attendance: {title}",
        "issuer": {"id": issuer, "type": ["Profile"], "name": f"Attendance server, {issuer}"},
        "validFrom": iso_ms(issued_at),
        "credentialSubject": {
            "id": subject,
            "type": ["AchievementSubject"],
            "name": facts["userName"],
            "achievement": {
                "id": place,
                "type": ["Achievement"],
                "name": title,
                "description": description,
                "criteria": {"narrative": facts["rule"]["text"]},
            },
            "attendance": facts,
        },
        "credentialStatus": {
            "id": f"{issuer}/api/certificates/{certificate_id}/status",
            "type": "AttendanceCertificateStatus",
        },
        "iss": issuer,
        "sub": subject,
        "jti": f"urn:uuid:{certificate_id}",
        "iat": int(issued_at.timestamp()),
    }


def _require_may_have(identity: Identity, user_id: str, readers: frozenset[Role]) -> None:
    if identity.role not in readers and identity.user_id != user_id:
        raise Forbidden("an attendee may have their own certificates only")


class Certificates:
    def __init__(
        self,
        pool: asyncpg.Pool,
        breakouts: BreakoutDirectory,
        reports: BreakoutReports,
        schools: SchoolReports,
        key: SigningKey,
        *,
        issuer: str,
    ) -> None:
        self._pool = pool
        self._breakouts = breakouts
        self._reports = reports
        self._schools = schools
        self._key = key
        self._issuer = issuer.rstrip("/")

    async def register_key(self) -> None:
        """Lists this node's public key for verifiers (once; it stays after a rotation)."""
        async with self._pool.acquire() as connection:
            await register_key(connection, self._key.kid, self._key.jwk)

    async def public_keys(self) -> list[dict[str, str]]:
        async with self._pool.acquire() as connection:
            return await fetch_public_keys(connection)

    async def get(self, certificate_id: str) -> StoredCertificate:
        """Anyone holding a certificate's id may read it and its status."""
        try:
            uuid.UUID(certificate_id)
        except ValueError:
            raise NotFound(f"certificate {certificate_id} does not exist") from None
        async with self._pool.acquire() as connection:
            found = await fetch_certificate(connection, certificate_id)
        if found is None:
            raise NotFound(f"certificate {certificate_id} does not exist")
        return found

    async def issue(
        self, identity: Identity, breakout_id: str, user_id: str, now: datetime
    ) -> StoredCertificate:
        """The user's current certificate of the breakout (a new one when the record changed
        since the last), for the user themself and the org's analysts, hosts and admins."""
        breakout = await self._breakouts.get(identity.org_id, breakout_id)
        require_same_org(identity, breakout)
        _require_may_have(identity, user_id, SESSION_READERS)
        issued = await self._renew(Subject(identity.org_id, BREAKOUT, breakout.id, user_id), now)
        if issued is None:
            raise NotFound(f"{user_id} was not present at {breakout_id}: no certificate")
        return issued

    async def issue_school(
        self,
        identity: Identity,
        school_id: str,
        user_id: str,
        period: tuple[date, date],
        now: datetime,
    ) -> StoredCertificate:
        """The user's current certificate of the school over the period (its days up to today
        counted), for the user themself and the org's analysts, hosts and admins."""
        _require_may_have(identity, user_id, SCHOOL_READERS)
        report_range(*period)
        subject = Subject(identity.org_id, SCHOOL, school_id, user_id, period)
        issued = await self._renew(subject, now)
        if issued is None:
            raise NotFound(
                f"{user_id} was not present at {school_id} from {period[0]} to {period[1]}: "
                "no certificate"
            )
        return issued

    async def refresh(self, org_id: str, breakout_id: str, user_id: str, now: datetime) -> None:
        """After a breakout correction: a current certificate whose facts changed is superseded
        (or revoked); none is issued where there was none."""
        subject = Subject(org_id, BREAKOUT, breakout_id, user_id)
        async with self._pool.acquire() as connection:
            if await fetch_current(connection, subject) is None:
                return
        await self._renew(subject, now)

    async def refresh_school_day(
        self, org_id: str, school_id: str, user_id: str, day: date, now: datetime
    ) -> None:
        """After a school day's correction: each current certificate whose period holds the day
        is renewed (superseded or revoked when its facts changed)."""
        async with self._pool.acquire() as connection:
            holding = await fetch_current_holding(connection, org_id, school_id, user_id, day)
        for certificate in holding:
            await self._renew(certificate.subject, now)

    async def _facts(self, subject: Subject, now: datetime) -> dict[str, Any] | None:
        """What a certificate of the subject would attest now; None when not present."""
        reader = system_reader(subject.org_id, "certificates")
        if subject.period is None:
            report = await self._reports.breakout_attendance(
                reader, subject.place_id, now, "", 1, RuleBasis.AS_OF, only_user=subject.user_id
            )
            user = next((u for u in report.users if u.user_id == subject.user_id), None)
            if user is None or not user.present:
                return None
            return breakout_facts(report.breakout, user, report.policy, report.rule)
        first, last = subject.period
        school = await self._schools.school_attendance(
            reader,
            subject.place_id,
            first=first,
            last=last,
            period=Period.DAY,
            now=now,
            detail=True,
            basis=RuleBasis.AS_OF,
        )
        if subject.user_id not in school.names:
            raise NotFound(f"user {subject.user_id} is not a user of {subject.place_id}")
        days = [
            (figures, user)
            for figures in school.periods
            for user in figures.users
            if user.user_id == subject.user_id and figures.school_days
        ]
        school_days = len(days)
        present_days = sum(user.present_days for _, user in days)
        needed = school.rules.period_min_ratio * school_days - _EPSILON
        if not school_days or present_days < needed:
            return None
        rule = school.rule
        return {
            "kind": SCHOOL,
            "orgId": subject.org_id,
            "schoolId": school.school.id,
            "schoolName": school.school.name,
            "timeZone": school.school.time_zone,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "userId": subject.user_id,
            "userName": school.names[subject.user_id],
            "schoolDays": school_days,
            "presentDays": present_days,
            "percent": round(100 * present_days / school_days, 2),
            "present": True,
            "recordedPresentDays": sum(user.recorded_present for _, user in days),
            "correctedDays": sum(user.corrected_days for _, user in days),
            "rule": {
                "basis": rule.basis.value,
                "asOf": iso_ms(rule.as_of),
                "schoolVersion": rule.own_version,
                "serverVersion": rule.server_version,
                "dayMinHours": school.rules.day_min_seconds / 3600,
                "periodMinPercent": school.rules.period_min_ratio * 100,
                "text": f"Present on at least {school.rules.period_min_ratio * 100:g}% of the "
                f"school days counted, a day with {school.rules.day_min_seconds / 3600:g} hours "
                f"in school ({_versions(rule)} at the period's end), corrections applied.",
            },
        }

    async def _renew(self, subject: Subject, now: datetime) -> StoredCertificate | None:
        facts = await self._facts(subject, now)
        async with self._pool.acquire() as connection, connection.transaction():
            await lock_subject(connection, subject)
            current = await fetch_current(connection, subject)
            if facts is None:
                if current is not None:
                    await revoke(connection, current.id, now, NOT_PRESENT)
                return None
            if current is not None and current.facts == facts:
                return current
            certificate_id = str(uuid.uuid4())
            issued_at = max(now, current.issued_at + timedelta(milliseconds=1)) if current else now
            document = credential(certificate_id, self._issuer, issued_at, facts)
            if current is not None:
                await supersede(connection, current.id, certificate_id)
            return await insert_certificate(
                connection,
                StoredCertificate(
                    id=certificate_id,
                    subject=subject,
                    issued_at=issued_at,
                    kid=self._key.kid,
                    facts=facts,
                    jws=self._key.sign(document),
                    superseded_by=None,
                    revoked_at=None,
                    revoked_reason=None,
                ),
            )
