"""A brand's organisation: stores, and guides who belong to a store and may have an upstream
guide (the one who recruited them, paid a second-level commission).

Contract: every read and write is scoped to one brand; ids are the brand's own (a guide's id
is the ``sub`` of its tokens). A guide's store and upstream guide must exist in the same brand,
and the upstream chain never loops back to the guide. `apply` takes a whole import (stores and
guides from CSV) and writes all of it in one transaction or, when any row is wrong, none of it,
with every problem named by its line.
"""

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.errors import ClientError, Code
from live.db.models import GuideRow, StoreRow
from live.db.unit import transaction

ID = re.compile(r"^[A-Za-z0-9._:@\-]{1,64}$")
MAX_NAME_CHARS = 200
#: Columns of an import file, in this order, with a header line.
CSV_COLUMNS = ("kind", "id", "name", "store_id", "upstream_guide_id", "active")
MAX_IMPORT_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class Store:
    """A store as written: id and name."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Guide:
    """A guide as written: id, name, store, upstream guide, active."""

    id: str
    name: str
    store_id: str | None = None
    upstream_guide_id: str | None = None
    active: bool = True


def store_view(row: StoreRow) -> dict[str, Any]:
    """A store as the admin API shows it."""
    return {"store_id": row.id, "name": row.name, "updated_at": row.updated_ms}


def guide_view(row: GuideRow) -> dict[str, Any]:
    """A guide as the admin API shows it."""
    return {
        "guide_id": row.id,
        "name": row.name,
        "store_id": row.store_id,
        "upstream_guide_id": row.upstream_guide_id,
        "active": row.active,
        "updated_at": row.updated_ms,
    }


def check_id(value: str, what: str) -> str:
    """``value`` if it is a valid id, else `ClientError(invalid_request)`."""
    if not ID.match(value):
        raise ClientError(Code.INVALID_REQUEST, f"{what}: 1-64 characters of A-Z a-z 0-9 . _ : @ -")
    return value


def check_name(value: str, what: str) -> str:
    """``value`` stripped, if it is a valid display name."""
    name = value.strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise ClientError(Code.INVALID_REQUEST, f"{what}: 1-{MAX_NAME_CHARS} characters")
    return name


async def stores(db: AsyncSession, brand: str) -> list[StoreRow]:
    """The brand's stores by id."""
    return list(
        await db.scalars(select(StoreRow).where(StoreRow.brand == brand).order_by(StoreRow.id))
    )


async def guides(db: AsyncSession, brand: str, *, store_id: str | None = None) -> list[GuideRow]:
    """The brand's guides by id, only those of ``store_id`` when given."""
    query = select(GuideRow).where(GuideRow.brand == brand)
    if store_id is not None:
        query = query.where(GuideRow.store_id == store_id)
    return list(await db.scalars(query.order_by(GuideRow.id)))


class Problems(ClientError):
    """An import or write refused as a whole; ``problems`` names each wrong row or field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(Code.INVALID_REQUEST, "; ".join(problems[:20]))
        self.problems = problems


async def names(db: AsyncSession, brand: str, guide_ids: list[str]) -> dict[str, str]:
    """The names of the brand's guides among ``guide_ids`` (those the organisation knows)."""
    if not guide_ids:
        return {}
    rows = await db.execute(
        select(GuideRow.id, GuideRow.name).where(
            GuideRow.brand == brand, GuideRow.id.in_(guide_ids)
        )
    )
    found: dict[str, str] = {}
    for guide_id, name in rows:
        found[guide_id] = name
    return found


async def apply(
    factory: async_sessionmaker[AsyncSession],
    brand: str,
    store_rows: Iterable[Store],
    guide_rows: Iterable[Guide],
    *,
    now_ms: int,
    labels: dict[str, str] | None = None,
) -> tuple[int, int]:
    """Create or update stores and guides in one transaction; (stores, guides) written.

    Raises `Problems` (and writes nothing) when a guide names a store or upstream guide that
    exists neither in the record nor in this write, or when upstream links would loop.
    ``labels`` maps ``store:<id>`` / ``guide:<id>`` to where the row came from ("line 7").
    """
    new_stores, new_guides = list(store_rows), list(guide_rows)
    where = labels or {}
    async with transaction(factory) as db:
        known_stores = {row.id: row for row in await stores(db, brand)}
        known_guides = {row.id: row for row in await guides(db, brand)}
        store_ids = set(known_stores) | {store.id for store in new_stores}
        upstream = {row.id: row.upstream_guide_id for row in known_guides.values()}
        upstream.update({guide.id: guide.upstream_guide_id for guide in new_guides})
        problems: list[str] = []
        for guide in new_guides:
            label = where.get(f"guide:{guide.id}", f"guide {guide.id}")
            if guide.store_id is not None and guide.store_id not in store_ids:
                problems.append(f"{label}: no store {guide.store_id}")
            if guide.upstream_guide_id is not None and guide.upstream_guide_id not in upstream:
                problems.append(f"{label}: no guide {guide.upstream_guide_id}")
            elif _loops(guide.id, upstream):
                problems.append(f"{label}: upstream guides loop back to {guide.id}")
        if problems:
            raise Problems(problems)
        for store in new_stores:
            row = known_stores.get(store.id)
            if row is None:
                db.add(
                    StoreRow(
                        brand=brand,
                        id=store.id,
                        name=store.name,
                        created_ms=now_ms,
                        updated_ms=now_ms,
                    )
                )
            else:
                row.name, row.updated_ms = store.name, now_ms
        for guide in new_guides:
            fields = {
                "name": guide.name,
                "store_id": guide.store_id,
                "upstream_guide_id": guide.upstream_guide_id,
                "active": guide.active,
                "updated_ms": now_ms,
            }
            existing = known_guides.get(guide.id)
            if existing is None:
                db.add(GuideRow(brand=brand, id=guide.id, created_ms=now_ms, **fields))
            else:
                for name, value in fields.items():
                    setattr(existing, name, value)
    return len(new_stores), len(new_guides)


def _loops(guide_id: str, upstream: dict[str, str | None]) -> bool:
    seen = {guide_id}
    current = upstream.get(guide_id)
    while current is not None:
        if current in seen:
            return True
        seen.add(current)
        current = upstream.get(current)
    return False


def parse_csv(text: str) -> tuple[list[Store], list[Guide], dict[str, str]]:
    """Stores, guides and their line labels from an import file; `Problems` for bad lines.

    The header must be ``kind,id,name,store_id,upstream_guide_id,active``; ``kind`` is
    ``store`` or ``guide``; ``active`` is ``true`` (default when empty) or ``false``.
    """
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != CSV_COLUMNS:
        raise Problems([f"line 1: the header must be {','.join(CSV_COLUMNS)}"])
    found_stores: list[Store] = []
    found_guides: list[Guide] = []
    labels: dict[str, str] = {}
    problems: list[str] = []
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if line > MAX_IMPORT_ROWS + 1:
            problems.append(f"line {line}: at most {MAX_IMPORT_ROWS} rows per import")
            break
        try:
            row = _row(cells)
        except ClientError as exc:
            problems.append(f"line {line}: {exc.message}")
            continue
        key = f"{'store' if isinstance(row, Store) else 'guide'}:{row.id}"
        if key in labels:
            problems.append(f"line {line}: {key.replace(':', ' ')} is also on {labels[key]}")
            continue
        labels[key] = f"line {line}"
        if isinstance(row, Store):
            found_stores.append(row)
        else:
            found_guides.append(row)
    if problems:
        raise Problems(problems)
    return found_stores, found_guides, labels


def _row(cells: list[str]) -> Store | Guide:
    if len(cells) != len(CSV_COLUMNS):
        raise ClientError(
            Code.INVALID_REQUEST, f"expected {len(CSV_COLUMNS)} columns, got {len(cells)}"
        )
    kind, row_id, name, store_id, upstream, active = (cell.strip() for cell in cells)
    check_id(row_id, "id")
    if kind == "store":
        if store_id or upstream or active:
            raise ClientError(Code.INVALID_REQUEST, "a store has only an id and a name")
        return Store(row_id, check_name(name, "name"))
    if kind != "guide":
        raise ClientError(Code.INVALID_REQUEST, f"kind must be store or guide, not {kind!r}")
    if active not in ("", "true", "false"):
        raise ClientError(Code.INVALID_REQUEST, "active must be true or false")
    return Guide(
        row_id,
        check_name(name, "name"),
        store_id=check_id(store_id, "store_id") if store_id else None,
        upstream_guide_id=check_id(upstream, "upstream_guide_id") if upstream else None,
        active=active != "false",
    )
