"""Redis keys owned by the realtime hub.

Every key of a session carries the hash tag ``{session_id}`` so that all of a session's keys
live in one Redis Cluster slot and multi-key Lua scripts stay legal there.
"""


def events_stream(session_id: str) -> str:
    """Durable events of a session; entry id ``<seq>-0``, field ``e`` holds the event JSON."""
    return f"live:{{{session_id}}}:events"


def events_seq(session_id: str) -> str:
    """Counter that hands out the durable ``seq`` of a session."""
    return f"live:{{{session_id}}}:events:seq"


def comments_stream(session_id: str) -> str:
    """Every comment of a session; entry id ``<n>-0``, field ``e`` holds the comment JSON."""
    return f"live:{{{session_id}}}:comments"


def comments_seq(session_id: str) -> str:
    """Counter that numbers the comments of a session."""
    return f"live:{{{session_id}}}:comments:seq"


def ended(session_id: str) -> str:
    """Set (atomically with the ``ended`` event) once the session has ended."""
    return f"live:{{{session_id}}}:ended"


def presence(session_id: str) -> str:
    """Hash node id -> ``count|expires_ms``: each node's viewer count for the room."""
    return f"live:{{{session_id}}}:presence"


def clock(session_id: str) -> str:
    """Unix ms at which the session started; ``t_ms`` of its events counts from here."""
    return f"live:{{{session_id}}}:started_ms"


def likes(session_id: str) -> str:
    """Total likes of a session, counted exactly."""
    return f"live:{{{session_id}}}:likes"


def epoch(session_id: str) -> str:
    """Random name of the current life of the session's counters (see publish.lua)."""
    return f"live:{{{session_id}}}:epoch"


def muted(session_id: str) -> str:
    """Set of user ids whose comments are refused in the session."""
    return f"live:{{{session_id}}}:muted"


def kicked(session_id: str) -> str:
    """Set of user ids removed from the session; they cannot join again."""
    return f"live:{{{session_id}}}:kicked"


def control_stream(session_id: str) -> str:
    """Node-to-node control messages of a session: private frames, kicks (capped, not archived)."""
    return f"live:{{{session_id}}}:control"


def seen(session_id: str) -> str:
    """Sorted set viewer id -> last time (Unix ms) a node saw its socket open."""
    return f"live:{{{session_id}}}:seen"
