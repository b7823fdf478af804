"""Redis keys owned by inventory; all of a session's keys share the hash tag ``{session_id}``."""

#: Set of session ids that have (or had) holds; the hold reaper sweeps these.
SESSIONS_WITH_HOLDS = "inv:sessions-with-holds"
#: Set of session ids that have (or had) waitlists; the offer loop sweeps these.
SESSIONS_WITH_WAITLISTS = "inv:sessions-with-waitlists"


def stock(session_id: str) -> str:
    """Hash product id -> units available for new holds."""
    return f"inv:{{{session_id}}}:stock"


def bought(session_id: str) -> str:
    """Hash ``product_id|viewer_id`` -> units held or bought by that viewer."""
    return f"inv:{{{session_id}}}:bought"


def holds(session_id: str) -> str:
    """Sorted set order id -> hold expiry (Unix ms)."""
    return f"inv:{{{session_id}}}:holds"


def hold(session_id: str, order_id: str) -> str:
    """Hash describing one hold: product, viewer, qty."""
    return f"inv:{{{session_id}}}:hold:{order_id}"


def idempotency(session_id: str, viewer_id: str, key: str) -> str:
    """The recorded outcome of one viewer's ``Idempotency-Key`` in a session."""
    return f"inv:{{{session_id}}}:idem:{viewer_id}:{key}"


def coupons_left(session_id: str) -> str:
    """Hash coupon id -> claims left."""
    return f"inv:{{{session_id}}}:coupons:left"


def coupons_claimed(session_id: str) -> str:
    """Hash ``coupon_id|viewer_id`` -> claims made by that viewer."""
    return f"inv:{{{session_id}}}:coupons:claimed"


def coupon_expiry(session_id: str) -> str:
    """Hash coupon id -> expiry (Unix ms), absent for coupons that do not expire."""
    return f"inv:{{{session_id}}}:coupons:expires"


def generations(session_id: str) -> str:
    """Hash product id -> the rebuild generation its counters were built on (absent = 0).

    It mirrors ``products.stock_generation``; a reserve reports it so that the record can
    refuse orders reserved before the last rebuild.
    """
    return f"inv:{{{session_id}}}:generations"


def terms(session_id: str) -> str:
    """Version of the session's order terms (status, products, sales), bumped by every change.

    A reserve names the version its terms were read at and is refused (``stale_terms``) when it
    is no longer the current one; see ``live/commerce/terms.py``.
    """
    return f"inv:{{{session_id}}}:terms"


def version(session_id: str) -> str:
    """Counter bumped by every change of stock or coupons left (see ``lua/version.lua``)."""
    return f"inv:{{{session_id}}}:version"


def epoch(session_id: str) -> str:
    """The ``run_id`` of the Redis server the session's counters were built on."""
    return f"inv:{{{session_id}}}:epoch"


def rebuild_lock(session_id: str) -> str:
    """Lease of the node rebuilding the session's counters from the record."""
    return f"inv:{{{session_id}}}:rebuild"


def sale_field(sale_id: str) -> str:
    """Field of the stock hash holding a flash sale's remaining cap."""
    return f"sale:{sale_id}"


def waitlist(session_id: str, product_id: str) -> str:
    """Sorted set viewer id -> position: the viewers waiting for a unit of a product, in queue
    order (the position is the waitlist entry's id in the record)."""
    return f"inv:{{{session_id}}}:wait:{product_id}"


def waitlisted(session_id: str) -> str:
    """Set of the session's product ids that have (or had) a waitlist."""
    return f"inv:{{{session_id}}}:waitlisted"


def waitlist_pushed(session_id: str) -> str:
    """Marker of a ``waitlist`` frame to the hosts due within the second (see
    `live.commerce.offers`)."""
    return f"inv:{{{session_id}}}:waitlist:pushed"
