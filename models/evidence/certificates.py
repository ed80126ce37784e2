"""Attendance certificates (README "Certificates"): for a user who was present at a breakout, a
credential shaped after Open Badges 3.0 / the W3C Verifiable Credentials Data Model 2.0,
signed as a compact JWS with the server's Ed25519 key.

What it attests is the breakout's report for that user under the rule that held when the
breakout ended, corrections applied. Asking again returns the same certificate while that is
unchanged; once a correction changes it, the next one supersedes it (or, when the user is no
longer present, it is revoked), so a verifier who asks its status learns it is out of date."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from models.domain.access import SESSION_READERS, require_same_org, system_reader
from models.domain.errors import Forbidden, NotFound
from models.domain.fields import iso_ms
from models.domain.records import Breakout, Identity
from models.evidence.signing import SigningKey
from models.reports.breakouts import BreakoutReports, UserAttendance
from models.reports.rules import AppliedRule, BreakoutPolicy, RuleBasis
from models.store.breakouts import BreakoutDirectory
from models.store.certificates import (
    StoredCertificate,
    fetch_certificate,
    fetch_current,
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


def _rule_text(policy: BreakoutPolicy, rule: AppliedRule) -> str:
    needed = (
        f"{policy.min_percent:g}% of the scheduled time"
        if policy.min_percent is not None
        else f"{policy.min_minutes or 0:g} minutes"
    )
    return (
        f"Present with at least {needed} in the live breakout (breakout rule version "
        f"{rule.own_version}, server defaults version {rule.server_version}, as in force "
        f"when it ended), corrections applied."
    )


def attested_facts(
    breakout: Breakout, user: UserAttendance, policy: BreakoutPolicy, rule: AppliedRule
) -> dict[str, Any]:
    """What a certificate attests: a JSON object equal for an unchanged record."""
    return {
        "orgId": breakout.org_id,
        "breakoutId": breakout.id,
        "breakoutName": breakout.name,
        "startsAt": iso_ms(breakout.starts_at),
        "endsAt": iso_ms(breakout.ends_at),
        "endedAt": iso_ms(breakout.ended_at),
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
            "text": _rule_text(policy, rule),
        },
    }


def credential(
    certificate_id: str, issuer: str, issued_at: datetime, facts: dict[str, Any]
) -> dict[str, Any]:
    """The signed document: a Verifiable Credential (an OpenBadgeCredential) whose subject's
    `attendance` holds the facts; with the JWT claims a JOSE library checks."""
    subject = f"urn:attendance:{facts['orgId']}:user:{facts['userId']}"
    title = facts["breakoutName"] or facts["breakoutId"]
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
                "id": f"{issuer}/api/breakouts/{facts['breakoutId']}",
                "type": ["Achievement"],
                "name": title,
                "description": "Attended the live breakout",
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


class Certificates:
    def __init__(
        self,
        pool: asyncpg.Pool,
        breakouts: BreakoutDirectory,
        reports: BreakoutReports,
        key: SigningKey,
        *,
        issuer: str,
    ) -> None:
        self._pool = pool
        self._breakouts = breakouts
        self._reports = reports
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
        if identity.role not in SESSION_READERS and identity.user_id != user_id:
            raise Forbidden("an attendee may have their own certificates only")
        issued = await self._renew(breakout, user_id, now)
        if issued is None:
            raise NotFound(f"{user_id} was not present at {breakout_id}: no certificate")
        return issued

    async def refresh(self, org_id: str, breakout_id: str, user_id: str, now: datetime) -> None:
        """After a correction: a current certificate whose facts changed is superseded (or
        revoked); none is issued where there was none."""
        async with self._pool.acquire() as connection:
            if await fetch_current(connection, org_id, breakout_id, user_id) is None:
                return
        await self._renew(await self._breakouts.get(org_id, breakout_id), user_id, now)

    async def _renew(
        self, breakout: Breakout, user_id: str, now: datetime
    ) -> StoredCertificate | None:
        report = await self._reports.breakout_attendance(
            system_reader(breakout.org_id, "certificates"),
            breakout.id,
            now,
            "",
            1,
            RuleBasis.AS_OF,
            only_user=user_id,
        )
        user = next((u for u in report.users if u.user_id == user_id), None)
        facts = None
        if user is not None and user.present:
            facts = attested_facts(report.breakout, user, report.policy, report.rule)
        async with self._pool.acquire() as connection, connection.transaction():
            await lock_subject(connection, breakout.org_id, breakout.id, user_id)
            current = await fetch_current(connection, breakout.org_id, breakout.id, user_id)
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
                    org_id=breakout.org_id,
                    breakout_id=breakout.id,
                    user_id=user_id,
                    issued_at=issued_at,
                    kid=self._key.kid,
                    facts=facts,
                    jws=self._key.sign(document),
                    superseded_by=None,
                    revoked_at=None,
                    revoked_reason=None,
                ),
            )
