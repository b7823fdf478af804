"""The webhooks domain's outage: Redis could not coordinate deliveries now."""

from common.errors import EngineUnavailable


class WebhooksUnavailable(EngineUnavailable):
    """The slots of a brand could not be read or written; the pass is retried."""
