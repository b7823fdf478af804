"""The one scalable unit of waiting: every timeout of the suite is a multiple of it, so a slow
machine scales them all by changing one number."""

#: Seconds; every timeout in the suite is a multiple of it.
UNIT_S = 1.0
