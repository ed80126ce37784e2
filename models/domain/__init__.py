"""The records, errors and rules every part shares: no I/O, no framework."""
