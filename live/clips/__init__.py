"""Shoppable clips: cut from the archive, kept as records, bought after the session, counted."""
