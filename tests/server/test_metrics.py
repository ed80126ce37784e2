"""/metrics after real traffic: the counts move, and no label names a person."""

from __future__ import annotations

from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.support.clients import IPHONE
from tests.support.geo import LONDON_IP
from tests.support.records import new_breakout_id
from tests.support.servers import RunningServer


async def scrape(server: RunningServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_follow_joins_exits_and_the_writer(
    server: RunningServer, connect: Any
) -> None:
    before = await scrape(server)
    breakout = new_breakout_id()
    viewers = [
        await connect(server, server.token(f"u{n}"), user_agent=IPHONE, forwarded_for=LONDON_IP)
        for n in range(3)
    ]
    for viewer in viewers:
        await viewer.call("join-chat-room", {"breakoutId": breakout})
    await viewers[0].call("leave-chat-room", {"breakoutId": breakout})

    after = await scrape(server)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after[key] - before.get(key, 0.0)

    assert delta("attendance_joins_total") == 3
    assert delta("attendance_exits_total", reason="leave") == 1
    assert after[("attendance_exits_total", (("reason", "node_lost"),))] == 0
    assert after[("attendance_connected_sockets", ())] == 3
    assert delta("attendance_writer_batch_rows_count") >= 1
    assert delta("attendance_writer_batch_rows_sum") == 4  # three opens and one exit
    assert delta("attendance_writer_commit_seconds_count") >= 1
    assert after[("attendance_writer_queue_depth", ())] == 0
    assert after[("attendance_journal_backlog", ())] == 0
    # Same address and User-Agent three times: later lookups come from the caches.
    assert after[("attendance_enrichment_cache_hit_ratio", (("cache", "geoip"),))] > 0
    assert after[("attendance_enrichment_cache_hit_ratio", (("cache", "user_agent"),))] > 0
    labels = {value for _, pairs in after for _, value in pairs}
    assert breakout not in labels and "u0" not in labels


def test_the_grafana_dashboard_uses_only_metrics_we_export() -> None:
    import json
    import re
    from pathlib import Path

    from models.runtime.metrics import Metrics

    dashboard = json.loads(
        (Path(__file__).resolve().parents[2] / "docs" / "grafana" / "attendance.json").read_text()
    )
    exported = {family.name for family in Metrics().registry.collect()}
    used = {
        re.sub(r"_(total|bucket|sum|count)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"attendance_[a-z_]+", target["expr"])
    }
    assert used and used <= exported, used - exported
