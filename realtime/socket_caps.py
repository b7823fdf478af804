"""Caps on the room sockets one client address and one user may hold open on this node.

Contract: `admit` either counts a new socket and returns a `Slot` whose `release` uncounts it
(exactly once, however often it is called), or raises `ClientError(TOO_MANY_CONNECTIONS)` and
counts nothing. Counts are per node: behind a load balancer that hashes client addresses, the
per-address cap holds for the whole cluster; the per-user cap is at most ``nodes x cap``.
"""

from collections import Counter

from common.errors import ClientError, Code


class Slot:
    """One admitted socket; `release` when it closes."""

    def __init__(self, caps: "SocketCaps", ip: str, user: str) -> None:
        self._caps = caps
        self._key: tuple[str, str] | None = (ip, user)

    def release(self) -> None:
        """Uncount this socket (idempotent)."""
        if self._key is not None:
            self._caps._forget(*self._key)
            self._key = None


class SocketCaps:
    """Open room sockets per client address and per user (``brand/sub``) on this node."""

    def __init__(self, *, per_ip: int, per_user: int) -> None:
        self._per_ip = per_ip
        self._per_user = per_user
        self._by_ip: Counter[str] = Counter()
        self._by_user: Counter[str] = Counter()

    def admit(self, *, ip: str, user: str) -> Slot:
        """Count one more socket of ``ip`` and ``user``, or refuse it."""
        if self._by_ip[ip] >= self._per_ip:
            raise ClientError(
                Code.TOO_MANY_CONNECTIONS, f"at most {self._per_ip} sockets per client address"
            )
        if self._by_user[user] >= self._per_user:
            raise ClientError(
                Code.TOO_MANY_CONNECTIONS, f"at most {self._per_user} sockets per user"
            )
        self._by_ip[ip] += 1
        self._by_user[user] += 1
        return Slot(self, ip, user)

    @property
    def open_sockets(self) -> int:
        """Sockets counted now."""
        return sum(self._by_ip.values())

    def _forget(self, ip: str, user: str) -> None:
        # Keys at zero are deleted so the counters stay as small as the open sockets.
        for counter, key in ((self._by_ip, ip), (self._by_user, user)):
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]
