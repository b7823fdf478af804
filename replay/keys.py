"""Redis keys owned by the archive.

Per-session keys carry the hash tag ``{session_id}`` like every other key of a session, so they
share the session's Redis Cluster slot. The set of sessions to archive is global by design: the
archiver scans it, and it holds only ids.
"""

ARCHIVE_SESSIONS = "live:archive:sessions"
"""Set of session ids whose streams still need archiving; the app adds, the archiver removes."""

CONSUMER_GROUP = "archiver"
"""Consumer group the archiver reads every session stream with."""


def archive_lock(session_id: str) -> str:
    """Lease key: holds the id of the node archiving the session, with an expiry."""
    return f"live:{{{session_id}}}:archive:lock"
