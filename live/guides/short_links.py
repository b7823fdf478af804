"""Short share links: a guide's short, unguessable code for a session (or a clip of it), mapped
in the record to the signed share code it stands for, revocable.

Contract: a code is 16 characters of ``A-Z a-z 0-9 _ -`` (96 random bits: as unguessable as
the share code's signature, and within the 32 characters a mini-program code's ``scene``
holds). A guide asking again for the same session (or clip) gets the same code while it is
neither revoked nor expired (it expires with its share code), so a poster printed once keeps
working. `resolve` answers the signed share code behind a code, or ``not_found`` / ``link_revoked``
(revoked or expired): a withdrawn link attributes nothing from then on.
"""

import secrets

from sqlalchemy import select

from common.errors import ClientError, Code
from live.auth.tokens import Principal
from live.context import Context
from live.db.models import ShortLinkRow
from live.db.unit import transaction
from live.platform.clock import now_ms

CODE_BYTES = 12
#: A link is renewed (a new code) when its share code has less than this left to live.
RENEW_BEFORE_MS = 86_400_000


async def for_guide(
    ctx: Context,
    guide: Principal,
    *,
    session_id: str,
    clip_id: str | None,
    share_code: str,
    expires_ms: int,
) -> ShortLinkRow:
    """The guide's live short link to the session (or clip), made now if it has none."""
    now = now_ms()
    async with transaction(ctx.db) as db:
        query = select(ShortLinkRow).where(
            ShortLinkRow.brand == guide.brand,
            ShortLinkRow.guide_id == guide.sub,
            ShortLinkRow.session_id == session_id,
            ShortLinkRow.revoked_ms.is_(None),
            ShortLinkRow.expires_ms > now + RENEW_BEFORE_MS,
        )
        query = query.where(
            ShortLinkRow.clip_id.is_(None) if clip_id is None else ShortLinkRow.clip_id == clip_id
        )
        found: ShortLinkRow | None = await db.scalar(query.limit(1))
        if found is not None:
            return found
        row = ShortLinkRow(
            code=secrets.token_urlsafe(CODE_BYTES),
            brand=guide.brand,
            guide_id=guide.sub,
            session_id=session_id,
            clip_id=clip_id,
            share_code=share_code,
            created_ms=now,
            expires_ms=expires_ms,
        )
        db.add(row)
    return row


async def resolve(ctx: Context, code: str) -> ShortLinkRow:
    """The link a code stands for, while it is neither revoked nor expired."""
    async with transaction(ctx.db) as db:
        row = await db.get(ShortLinkRow, code[:32])
    if row is None:
        raise ClientError(Code.NOT_FOUND, "no such link")
    if row.revoked_ms is not None or row.expires_ms <= now_ms():
        raise ClientError(Code.LINK_REVOKED, "this link was withdrawn or has expired")
    return row


async def revoke(ctx: Context, guide: Principal, code: str) -> ShortLinkRow:
    """Withdraw one of the guide's own links; revoking again changes nothing."""
    async with transaction(ctx.db) as db:
        row = await db.get(ShortLinkRow, code[:32])
        if row is None or row.brand != guide.brand or row.guide_id != guide.sub:
            raise ClientError(Code.NOT_FOUND, "no such link of yours")
        row.revoked_ms = row.revoked_ms or now_ms()
    return row
