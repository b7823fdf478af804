"""Signed webhooks per brand: the outbox written with each change, endpoints, deliveries."""
