"""/metrics under gunicorn with two workers: whichever worker answers a scrape, it counts
the requests of every worker (prometheus_client's multiprocess mode, set up by gunicorn.conf.py).
"""
from __future__ import annotations

import os
import re
import signal
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.server.conftest import (
    CLIENT_TIMEOUT_SECONDS,
    METRICS_WORKERS,
    MetricsServer,
    _stop,
    fresh_database,
    http_status,
    start_metrics_server,
)

pytestmark = pytest.mark.server

BATCH = 40
SCRAPES = 8
REQUESTS = "engagement_http_requests_total"


def _request(url: str, *, body: object = None) -> int:
    return http_status(url, body=body, agent="Mozilla/5.0 (metrics-test)")


def _scrape(server: MetricsServer) -> str:
    with urllib.request.urlopen(server.base_url + "/metrics", timeout=CLIENT_TIMEOUT_SECONDS) as response:
        assert response.status == 200
        return response.read().decode()


def _total(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples ``name`` with these labels, read by prometheus_client's own parser."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def _series_directory(server: MetricsServer) -> Path:
    found = re.search(r"metrics: worker series in (\S+)", server.log_text())
    assert found, server.log_text()
    return Path(found.group(1))


def _per_worker(directory: Path, name: str, **labels: str) -> dict[int, float]:
    """Each worker's own share of a counter, read from its file (what a scrape would add up)."""
    shares = {}
    for path in directory.glob("counter_*.db"):
        pid = int(path.stem.rpartition("_")[2])
        shares[pid] = sum(
            sample.value
            for metric in MultiProcessCollector.merge([str(path)], accumulate=False)
            for sample in metric.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )
    return shares


def _send_concurrently(url: str, count: int) -> None:
    # Each request on a new connection, from eight threads: both workers take some.
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda _: _request(url), range(count))) == [200] * count


def test_every_scrape_counts_the_requests_of_every_worker(metrics_server):
    healthz = {"route": "/healthz", "method": "GET", "status": "200"}
    before = _total(_scrape(metrics_server), REQUESTS, **healthz)
    directory = _series_directory(metrics_server)
    sent = 0
    while sent < 10 * BATCH:
        _send_concurrently(metrics_server.base_url + "/healthz", BATCH)
        sent += BATCH
        answered = [share for share in _per_worker(directory, REQUESTS, **healthz).values() if share]
        if len(answered) == METRICS_WORKERS:
            break
    assert len(answered) == METRICS_WORKERS, "both workers answered some requests"
    assert max(answered) < before + sent, "so no worker alone knows the total"

    for _ in range(SCRAPES):
        exposition = _scrape(metrics_server)
        assert _total(exposition, REQUESTS, **healthz) == before + sent
        # Histograms add up across workers too.
        durations = _total(exposition, "engagement_http_request_duration_seconds_count", route="/healthz")
        assert durations == _total(exposition, REQUESTS, route="/healthz")


def test_comments_posted_through_either_worker_add_up(metrics_server):
    approved = {"status": "approved"}
    before = _total(_scrape(metrics_server), "engagement_comments_posted_total", **approved)
    url = metrics_server.base_url + "/api/v1/articles/metrics-story/comments"
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda n: _request(url, body={"body": f"Comment number {n}."}), range(12)))
    assert statuses == [201] * 12
    for _ in range(SCRAPES):
        assert _total(_scrape(metrics_server), "engagement_comments_posted_total", **approved) == before + 12


def test_a_worker_that_exits_leaves_its_counts_in_the_total(metrics_server):
    """As when gunicorn recycles a worker (max_requests): its requests still happened."""
    healthz = {"route": "/healthz", "method": "GET", "status": "200"}
    _send_concurrently(metrics_server.base_url + "/healthz", BATCH)
    expected = _total(_scrape(metrics_server), REQUESTS, **healthz)
    shares = _per_worker(_series_directory(metrics_server), REQUESTS, **healthz)
    boots = metrics_server.log_text().count("Booting worker")
    os.kill(max(shares, key=shares.__getitem__), signal.SIGTERM)  # a worker of this test's server
    deadline = time.monotonic() + 30
    while metrics_server.log_text().count("Booting worker") == boots and time.monotonic() < deadline:
        time.sleep(0.1)
    assert metrics_server.log_text().count("Booting worker") > boots, "gunicorn replaced the worker"
    for _ in range(SCRAPES):
        assert _total(_scrape(metrics_server), REQUESTS, **healthz) == expected


def test_a_directory_the_operator_sets_is_emptied_at_start_and_kept(tmp_path, request):
    directory = tmp_path / "series"
    directory.mkdir()
    (directory / "counter_1.db").write_bytes(b"left by an earlier run")
    (directory / "notes.txt").write_text("not ours")
    server = start_metrics_server(
        tmp_path, "sqlite", fresh_database(tmp_path, "sqlite", request), PROMETHEUS_MULTIPROC_DIR=str(directory)
    )
    try:
        assert _series_directory(server) == directory
        assert not (directory / "counter_1.db").exists()
        assert _request(server.base_url + "/healthz") == 200
        assert _total(_scrape(server), REQUESTS, route="/healthz") == 1
    finally:
        _stop(server.process)
    assert (directory / "notes.txt").exists()


def test_a_private_directory_is_removed_when_the_server_stops(tmp_path, request):
    server = start_metrics_server(tmp_path, "sqlite", fresh_database(tmp_path, "sqlite", request))
    try:
        directory = _series_directory(server)
        assert directory.is_dir()
        assert _request(server.base_url + "/healthz") == 200
    finally:
        _stop(server.process)
    assert not directory.exists()
