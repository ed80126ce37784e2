"""The wire format: event and room names, and the JSON of every record."""
