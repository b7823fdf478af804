"""What a node runs on: settings, engines, processes, logs, background loops' wiring, shutdown."""
