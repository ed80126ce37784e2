"""PostgreSQL: connections, migrations, and the breakout and session tables."""
