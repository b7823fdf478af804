"""Replays of ended sessions: opening one, its index over the archive, playing it on a socket."""
