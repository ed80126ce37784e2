"""The web pages the server serves: the dashboard and the API reference."""
