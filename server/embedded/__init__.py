"""Local PostgreSQL and Redis servers for a laptop, the test suite and the benchmarks."""
