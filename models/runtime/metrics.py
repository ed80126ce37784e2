"""The server's Prometheus metrics, one registry per app (tests run many apps in one process).

Label sets are bounded (exit reasons, loop and cache names); never a user, socket or breakout id.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from models.domain.records import ExitReason

BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
COMMIT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.joins = Counter(
            "attendance_joins", "Sessions opened (joins committed)", registry=self.registry
        )
        self.resumes = Counter(
            "attendance_resumes",
            "Sessions that went on after their client reconnected within RECONNECT_GRACE_S",
            registry=self.registry,
        )
        self.exits = Counter(
            "attendance_exits", "Sessions closed, by reason", ["reason"], registry=self.registry
        )
        for reason in ExitReason:  # every reason shows, at 0, before it first happens
            self.exits.labels(reason=reason.value)
        self.batch_rows = Histogram(
            "attendance_writer_batch_rows",
            "Session writes committed per transaction",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "attendance_writer_commit_seconds",
            "Time to commit one batch of session writes",
            buckets=COMMIT_BUCKETS,
            registry=self.registry,
        )
        self.connected_sockets = Gauge(
            "attendance_connected_sockets",
            "Authenticated sockets on this process",
            registry=self.registry,
        )
        self.writer_queue = Gauge(
            "attendance_writer_queue_depth",
            "Session writes waiting for a batch",
            registry=self.registry,
        )
        self.journal_backlog = Gauge(
            "attendance_journal_backlog",
            "Writes acked from the local journal and not yet replayed into PostgreSQL",
            registry=self.registry,
        )
        self.loop_failures = Counter(
            "attendance_loop_failures",
            "Failed rounds of background loops (heartbeats, rollups, retention, replay), by loop",
            ["loop"],
            registry=self.registry,
        )
        self.report_reads = Counter(
            "attendance_report_reads",
            "Report and export reads, by the database that served them (replica, primary) and "
            "why (current; lag or away: the replica could not serve it)",
            ["served_by", "reason"],
            registry=self.registry,
        )
        self.partition_default_rows = Gauge(
            "attendance_partition_default_rows",
            "Rows outside every time partition (in the table's default partition), by table",
            ["table"],
            registry=self.registry,
        )
        self.cache_hit_ratio = Gauge(
            "attendance_enrichment_cache_hit_ratio",
            "Share of GeoIP and User-Agent lookups answered from cache",
            ["cache"],
            registry=self.registry,
        )

    def observe(self, gauge: Gauge, read: Callable[[], float]) -> None:
        """Read `gauge` from `read` at each scrape (queue depth, sockets, cache ratios)."""
        gauge.set_function(read)
