"""Live sessions: records, lifecycle, the joining snapshot, figures, room rules and lucky draws."""
