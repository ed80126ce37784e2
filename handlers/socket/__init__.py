"""The Socket.IO edge: the audience namespace, its payloads, and live fan-out to sockets."""
