"""The live-commerce application: app factory, settings, auth, HTTP API, orders, guides, CLI."""
