"""Loops over Redis calls honouring a cancellation that redis-py may swallow."""

import asyncio


def raise_if_cancelling() -> None:
    """Raise `CancelledError` when the current task was asked to stop.

    On Python 3.11, asyncio.wait_for (used inside redis-py) can swallow a cancellation that
    races with its inner call finishing; the task still counts the request. A loop that checks
    this after each pass stops at shutdown instead of running on until it is killed.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
