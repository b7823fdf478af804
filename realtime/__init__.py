"""The realtime hub: viewer connections, rooms, wire protocol, fan-out, cross-node event bus."""
