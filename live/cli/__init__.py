"""The `live` command and `live demo`."""
