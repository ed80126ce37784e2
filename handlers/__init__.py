"""Thin edges: the Socket.IO namespace and the HTTP views, validating and calling the domain."""
