"""Shopping guides: the organisation of stores and guides, share codes, arrivals, attribution,
commission and the leaderboard."""
