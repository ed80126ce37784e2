"""The HTTP views: each module serves one resource of the API."""
