"""The fan-out benchmark's order check: did every sampled viewer, on every node, see one order?

The publisher keeps the reference: the key of every pin it sent, in the order it sent them
(for `live` the durable ``seq`` the server gave each pin; for the peers the publisher's own
counter ``n``). All viewers are in the room before the first pin, so each sampled viewer must
have received exactly that list, or a prefix of it: a viewer whose tail had not arrived when
the run stopped waiting, or that the server closed (a slow viewer is closed with ``4100``), is
cut at the end. Anything else (a pin missing in the middle, one received twice, out of order,
or one nobody sent) violates the promise that a room spread over nodes gets identical, ordered
durable events.
"""

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OrderVerdict:
    """What the check found over ``viewers`` sampled viewers against ``published`` pins."""

    published: int
    viewers: int
    complete: int
    cut: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No viewer saw a gap, a duplicate, a reordering or a foreign pin."""
        return not self.problems

    def summary(self) -> str:
        """One line for the report."""
        if not self.ok:
            more = len(self.problems) - 3
            tail = f" (and {more} more)" if more > 0 else ""
            return "VIOLATED: " + "; ".join(self.problems[:3]) + tail
        if self.viewers == 0:
            return "not checked (no sampled viewer)"
        head = f"{self.complete} of {self.viewers} sampled viewers saw all {self.published} pins"
        tail = f", {self.cut} cut at the end" if self.cut else ""
        return f"ok: identical order; {head}{tail}"


def _first_problem(reference: Sequence[int], got: Sequence[int]) -> str | None:
    # Every earlier position matched, so a key seen before is a repeat, and a published key
    # that is not the one due was received ahead of it.
    for position, key in enumerate(got):
        if position >= len(reference):
            return f"pin {key} after the last one published (position {position})"
        due = reference[position]
        if key == due:
            continue
        if key in got[:position]:
            return f"pin {key} twice (position {position})"
        if key in reference:
            return f"pin {key} where {due} was due (position {position}): a gap or a reordering"
        return f"pin {key} was never published (position {position})"
    return None


def check(reference: Sequence[int], seen: Mapping[str, Sequence[int]]) -> OrderVerdict:
    """Compare each viewer's received pin keys (by viewer name) with the published ones."""
    problems = []
    if any(b <= a for a, b in itertools.pairwise(reference)):
        problems.append("publisher: pin keys not strictly increasing")
    complete = cut = 0
    for name, got in seen.items():
        problem = _first_problem(reference, got)
        if problem is not None:
            problems.append(f"{name}: {problem}")
        elif len(got) == len(reference):
            complete += 1
        else:
            cut += 1
    return OrderVerdict(len(reference), len(seen), complete, cut, problems)
