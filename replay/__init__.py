"""The archive: session streams into checksummed segments, manifests and replay."""
