"""Stock: atomic reserve, commit and release in Redis, holds with expiry, per-viewer limits."""
