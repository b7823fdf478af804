"""Reserving a scheduled session, and cancelling the reservation.

Contract: a viewer has at most one reservation per session (a unique row), so repeated and
concurrent reservations, on any number of nodes, are one reservation counted once: the first
insert wins and the others read it. A reservation arriving with a guide's share code touches
the guide exactly as joining the room through that link does (`live.guides.arrivals`, under
the brand's binding policy); the reservation then records the guide the viewer is bound to
afterwards (which, under ``first_touch``, may be an earlier guide), or none. Reservations are
taken while the session is ``scheduled``; once it is live the viewer joins instead.
"""

from common.errors import ClientError, Code
from live.auth.tokens import Principal
from live.context import Context
from live.db.models import ReservationRow
from live.db.unit import transaction
from live.guides import arrivals, attribution
from live.platform import ids
from live.platform.clock import now_ms
from live.reservations import records
from live.reservations.records import ACTIVE, CANCELLED
from live.sessions import session_records


async def reserve(
    ctx: Context, caller: Principal, session_id: str, *, share: str | None
) -> tuple[ReservationRow, bool]:
    """The viewer's active reservation of ``session_id``, and whether this call made it
    (False: it existed already)."""
    if share:
        # The touch comes first, as on the room socket: arriving through a guide's link binds
        # whatever the session's state (a code names its brand and session, so a code for a
        # session the caller cannot see touches nobody).
        await arrivals.from_share(ctx, caller, session_id, share)
    binding = await attribution.lookup(ctx.redis, caller.brand, caller.sub)
    try:
        return await _write(ctx, caller, session_id, binding)
    except ClientError as exc:
        if exc.code != Code.CONFLICT:
            raise
    # Another request of the same viewer inserted the row between our read and our insert:
    # the unique row refused ours, and theirs is the reservation.
    return await _write(ctx, caller, session_id, binding)


async def _write(
    ctx: Context, caller: Principal, session_id: str, binding: attribution.Binding | None
) -> tuple[ReservationRow, bool]:
    """One transaction: the session is still scheduled, then the row is made or reused."""
    now = now_ms()
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, caller.brand, session_id)
        if session.status != session_records.SCHEDULED:
            raise ClientError(
                Code.RESERVATIONS_CLOSED,
                f"the session is {session.status}: it takes no reservations",
            )
        row = await records.of_viewer(db, session_id, caller.sub)
        if row is None:
            row = ReservationRow(
                id=ids.new_id("rsv"),
                brand=caller.brand,
                session_id=session_id,
                viewer_id=caller.sub,
                viewer_name=caller.name,
                guide_id=binding.guide_id if binding else None,
                guide_store=binding.store if binding else None,
                status=ACTIVE,
                created_ms=now,
                updated_ms=now,
            )
            db.add(row)
            return row, True
        made = row.status == CANCELLED
        if binding is not None and binding.guide_id != row.guide_id:
            # The reservation follows the binding, as the viewer's orders will.
            row.guide_id, row.guide_store = binding.guide_id, binding.store
            row.updated_ms = now
        if made:
            row.status, row.updated_ms = ACTIVE, now
        return row, made


async def cancel(ctx: Context, caller: Principal, session_id: str) -> ReservationRow:
    """Cancel the viewer's reservation of ``session_id`` (cancelling twice changes nothing);
    its reminders are not sent while it stays cancelled."""
    async with transaction(ctx.db) as db:
        await session_records.load(db, caller.brand, session_id)
        row = await records.of_viewer(db, session_id, caller.sub)
        if row is None:
            raise ClientError(Code.NOT_FOUND, "you have not reserved this session")
        if row.status == ACTIVE:
            row.status, row.updated_ms = CANCELLED, now_ms()
    return row
