"""Who is calling: signed tokens (HS256 JWTs) and the principal they name."""
