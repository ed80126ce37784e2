"""The HTTP edge's plumbing: bearer auth, problem JSON, CORS, validation and formats."""
