"""What the server calls out to: webhook receivers."""
