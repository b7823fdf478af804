"""Translating Redis errors at a package's boundary, so that redis-py's exceptions never leave it.

Contract: inside ``with translated(into=SomeUnavailable):`` any `RedisError` (a refused or lost
connection, a timeout, a script error) is raised again as ``into`` (a subclass of
`common.errors.EngineUnavailable`) with the original as its cause; nothing else is touched.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import RedisError

from common.errors import EngineUnavailable


@contextmanager
def translated(*, into: type[EngineUnavailable]) -> Iterator[None]:
    """Raise a `RedisError` of the block as ``into``."""
    try:
        yield
    except RedisError as exc:
        raise into(str(exc)) from exc
