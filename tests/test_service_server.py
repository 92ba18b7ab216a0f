"""The real server: `moderate serve` on a free port, over HTTP, with reloads while requests are in flight."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from model.artifact import verified_card
from servers import running_server


def set_model_version(model_dir: Path, version: str) -> None:
    """Give the artifact a new version in its card (the card is not covered by the artifact hash)."""
    card_path = model_dir / "model_card.json"
    card = json.loads(card_path.read_text())
    card["model_version"] = version
    temporary = card_path.with_suffix(".tmp")
    temporary.write_text(json.dumps(card))
    temporary.replace(card_path)


@pytest.fixture
def server(trained_dir: Path, tmp_path: Path):
    model_dir = tmp_path / "model"
    shutil.copytree(trained_dir, model_dir)
    set_model_version(model_dir, "v1")
    with running_server(model_dir, tmp_path / "data") as (base, process):
        yield base, model_dir, process


def hammer(base: str, stop: threading.Event, outcomes: list) -> None:
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            response = client.post(f"{base}/v1/moderate", json={"comments": [{"text": "What about Iraq?"}]})
            outcomes.append((response.status_code, response.json().get("model_version")))


def test_real_server_reloads_with_requests_in_flight(server) -> None:
    base, model_dir, process = server
    stop, outcomes = threading.Event(), []
    threads = [threading.Thread(target=hammer, args=(base, stop, outcomes)) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    set_model_version(model_dir, "v2")
    reload = httpx.post(f"{base}/v1/admin/reload", timeout=30)
    assert reload.status_code == 200 and reload.json()["model_version"] == "v2"
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join()
    statuses = {status for status, _ in outcomes}
    versions = [version for _, version in outcomes]
    assert statuses == {200}
    assert "v1" in versions and versions[-1] == "v2"
    assert len(outcomes) > 20


def test_sighup_reloads_several_workers_that_start_slowly(trained_dir: Path, tmp_path: Path) -> None:
    """With --workers 2, kill -HUP has uvicorn replace the workers, and it gave a new worker 5 s to be
    ready: where loading the model took longer (a busy machine), it logged "not ready in time; ...
    aborting the restart" and the old model kept serving."""
    model_dir, slow = tmp_path / "model", tmp_path / "slow"
    shutil.copytree(trained_dir, model_dir)
    set_model_version(model_dir, "v1")
    slow.mkdir()  # every worker process (spawned: --multiprocessing-fork) takes 6 s more to start
    (slow / "sitecustomize.py").write_text("import sys, time\nif '--multiprocessing-fork' in sys.argv:\n"
                                           "    time.sleep(6)\n")
    path = os.pathsep.join([str(slow), os.environ.get("PYTHONPATH", "")])
    with running_server(model_dir, tmp_path / "data", "--workers", "2", PYTHONPATH=path) as (base, process):
        set_model_version(model_dir, "v2")
        process.send_signal(signal.SIGHUP)
        deadline, versions = time.time() + 90, set()
        while time.time() < deadline and versions != {"v2"}:  # every worker (a request lands on either)
            time.sleep(0.5)
            versions = {httpx.get(f"{base}/v1/model").json()["model_version"] for _ in range(8)}
    assert versions == {"v2"}


def test_sighup_reloads_and_a_bad_artifact_is_refused(server) -> None:
    base, model_dir, process = server
    set_model_version(model_dir, "v3")
    process.send_signal(signal.SIGHUP)
    deadline = time.time() + 20
    while time.time() < deadline and httpx.get(f"{base}/v1/model").json()["model_version"] != "v3":
        time.sleep(0.2)
    assert httpx.get(f"{base}/v1/model").json()["model_version"] == "v3"
    with open(verified_card(model_dir)[1], "ab") as handle:
        handle.write(b"corrupt")
    assert httpx.post(f"{base}/v1/admin/reload", timeout=30).status_code == 409
    response = httpx.post(f"{base}/v1/moderate", json={"comments": [{"text": "still serving?"}]})
    assert response.status_code == 200 and response.json()["model_version"] == "v3"
