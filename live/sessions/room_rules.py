"""Per-brand rules for the live room: banned words in comments, allowed page origins, and the
language its pages speak (``en`` or ``zh-CN``, see `live.platform.languages`).

Contract: the record (`brand_policies` table) is the source; each node caches a brand's policy
for `CACHE_TTL_S`, so a change made through the admin API holds on every node within that time.
A brand without a row has no banned words, accepts every origin and has no language set (its
pages follow the viewer's browser).

Every comment checks its brand's policy, so when the cached copy expires a flood of 1,000
comments a second all miss at once. Each miss used to read the record itself, and the reads
queued behind each other made the miss window longer and the herd bigger: about 8% of a node's
CPU in the room benchmark. The cache is a `SharedReads`: one read per brand is in flight at a
time, and the others wait for it.
"""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common import codec
from common.errors import ClientError, Code
from live.db.models import BrandPolicyRow
from live.db.unit import transaction
from live.platform import languages
from live.platform.shared_reads import SharedReads
from realtime.connection import Viewer
from realtime.wordfilter import Mode, WordFilter

CACHE_TTL_S = 5.0
MAX_WORDS = 1_000
MAX_ORIGINS = 50


@dataclass(frozen=True, slots=True)
class BrandPolicy:
    """One brand's rules."""

    banned_words: tuple[str, ...] = ()
    banned_mode: Mode = Mode.MASK
    allowed_origins: tuple[str, ...] = ()
    #: The brand's page language, or None: the viewer's browser decides.
    language: str | None = None
    words: WordFilter = field(default_factory=lambda: WordFilter((), Mode.MASK), compare=False)

    def to_json(self) -> dict[str, Any]:
        """The policy as the admin API shows it."""
        return {
            "banned_words": list(self.banned_words),
            "banned_mode": self.banned_mode.value,
            "allowed_origins": list(self.allowed_origins),
            "language": self.language,
        }

    def allows_origin(self, origin: str | None) -> bool:
        """An empty allowlist allows all; otherwise a browser's Origin must be listed.

        Mini-program clients send no Origin; the allowlist guards browser pages only.
        """
        return not self.allowed_origins or origin is None or origin in self.allowed_origins


def build(
    banned_words: list[str],
    banned_mode: str,
    allowed_origins: list[str],
    language: str | None = None,
) -> BrandPolicy:
    """A policy from its stored fields (a language no page speaks reads as none)."""
    mode = Mode(banned_mode)
    return BrandPolicy(
        banned_words=tuple(banned_words),
        banned_mode=mode,
        allowed_origins=tuple(allowed_origins),
        language=languages.supported(language),
        words=WordFilter(banned_words, mode),
    )


class BrandPolicies:
    """Cached reads and writes of brand policies."""

    def __init__(self, db: async_sessionmaker[AsyncSession]) -> None:
        self._db = db
        self._policies = SharedReads(max_age_s=CACHE_TTL_S)
        #: Bumped by every `put` (of any brand: puts are rare): reads made before it are not
        #: reused after it.
        self._generation = 0

    async def get(self, brand: str) -> BrandPolicy:
        """The brand's policy (cached for `CACHE_TTL_S`, one read in flight per brand)."""
        return await self._policies.get(brand, lambda: self.read(brand), version=self._generation)

    async def read(self, brand: str) -> BrandPolicy:
        """The brand's policy as the record holds it now (no cache)."""
        async with transaction(self._db) as db:
            row = await db.get(BrandPolicyRow, brand)
        if row is None:
            return BrandPolicy()
        return build(
            codec.decode(row.banned_words),
            row.banned_mode,
            codec.decode(row.allowed_origins),
            row.language,
        )

    async def put(self, brand: str, policy: BrandPolicy, *, now_ms: int) -> None:
        """Store the brand's policy (this node reads it afresh at once, others within the TTL)."""
        async with transaction(self._db) as db:
            row = await db.get(BrandPolicyRow, brand)
            if row is None:
                row = BrandPolicyRow(brand=brand)
                db.add(row)
            row.banned_words = codec.encode(list(policy.banned_words)).decode()
            row.banned_mode = policy.banned_mode.value
            row.allowed_origins = codec.encode(list(policy.allowed_origins)).decode()
            row.language = policy.language
            row.updated_ms = now_ms
        self._generation += 1

    def comment_filter(self) -> Any:
        """The hub's comment filter: reject or mask banned words per the viewer's brand."""

        async def check(viewer: Viewer, text: str) -> str:
            policy = await self.get(viewer.brand)
            if not policy.words.banned(text):
                return text
            if policy.banned_mode == Mode.REJECT:
                raise ClientError(Code.COMMENT_REJECTED, "the comment contains a banned word")
            return policy.words.mask(text)

        return check
