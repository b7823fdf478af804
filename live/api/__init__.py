"""The HTTP and WebSocket endpoints of the public contract."""
