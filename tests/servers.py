"""Starting a real `moderate serve` for a test, and waiting until it is ready."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(model_dir: Path, data_dir: Path, *args: str, **env: str
                   ) -> Iterator[tuple[str, subprocess.Popen]]:
    """`moderate serve` on a free port (extra flags in ``args``, variables in ``env``); its base URL
    and process once /readyz answers; terminated afterwards."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port),
                                "--model", str(model_dir), *args],
                               env=dict(os.environ, MODERATE_DATA_DIR=str(data_dir), **env),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"server did not become ready: {process.stdout.read()}")
    try:
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=30)
