"""The durable write path: group commit of session writes, and a journal for PostgreSQL outages."""
