"""The model being served: held for hot reload, reloaded on request, on SIGHUP or when another worker
was asked to, and the service's Prometheus metrics."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from model.errors import ModerationError
from model.moderation import Moderator
from service.models import load_serving_model
from service.settings import Settings

logger = logging.getLogger(__name__)
RELOAD_MARKER = "reload-request"
RELOAD_POLL_SECONDS = 1.0


class ModelHolder:
    """The model being served; a reload swaps it whole, so requests in flight finish on the old one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.moderator: Moderator | None = None
        self.card: dict = {}
        self._lock = threading.Lock()

    def load(self) -> dict:
        """Load (or reload) the configured artifact; on failure the current model keeps serving."""
        with self._lock:
            moderator, card = load_serving_model(self.settings.model_dir, self.settings.data_dir)
            self.moderator, self.card = moderator, card
            # The model's many long-lived objects need never be scanned again by the garbage
            # collector: freezing them keeps its full collections (and latency spikes) short.
            gc.collect()
            gc.freeze()
        logger.info("serving model %s from %s", card["model_version"], self.settings.model_dir)
        return card


class Metrics:
    """Prometheus metrics of one app instance."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("moderate_requests_total", "HTTP requests", ["path", "status"],
                                registry=self.registry)
        self.latency = Histogram("moderate_request_seconds", "Request latency", ["path"],
                                 buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
                                 registry=self.registry)
        self.decisions = Counter("moderate_decisions_total", "Comments by category and decision",
                                 ["category", "decision"], registry=self.registry)
        self.model_info = Gauge("moderate_model_info", "The model being served", ["model_version"],
                                registry=self.registry)


def reload_model(holder: ModelHolder, metrics: Metrics) -> dict:
    """Load the configured artifact again and mark it as the one served; on failure the old one serves on."""
    old_version = holder.card.get("model_version")
    card = holder.load()
    metrics.model_info.labels(old_version).set(0)
    metrics.model_info.labels(card["model_version"]).set(1)
    return card


async def watch_reload_marker(settings: Settings, reload: Callable[[], dict], seen: dict[str, int]) -> None:
    """Reload when another worker process was asked to (it touches the marker file); ``seen`` holds
    the marker time this worker last acted on, its own reloads included."""
    seen["mtime"] = _marker_time(settings)
    while True:
        await asyncio.sleep(RELOAD_POLL_SECONDS)
        current = _marker_time(settings)
        if current != seen["mtime"]:
            seen["mtime"] = current
            try:
                await asyncio.to_thread(reload)
            except ModerationError as error:
                logger.error("reload requested by another worker refused: %s", error)
            except Exception:  # anything else would end this task, and with it every later reload
                logger.exception("reload requested by another worker failed; the old model keeps serving")


def _marker_time(settings: Settings) -> int:
    """The reload marker's modification time (0: never touched, or unreadable for now: logged)."""
    marker = Path(settings.data_dir) / RELOAD_MARKER
    try:
        return marker.stat().st_mtime_ns if marker.exists() else 0
    except OSError as error:  # the watcher must outlive a data folder it cannot read for a moment
        logger.warning("reload marker %s cannot be read: %s", marker, error)
        return 0


def touch_reload_marker(settings: Settings) -> int:
    """Tell the other worker processes to reload too; return the marker's new time."""
    marker = Path(settings.data_dir) / RELOAD_MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    os.utime(marker)
    return marker.stat().st_mtime_ns


def install_sighup(reload: Callable[[], dict]) -> None:
    """SIGHUP reloads the model (main thread only; a no-op where signals are unavailable)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGHUP"):
        return
    loop = asyncio.get_running_loop()

    def on_sighup() -> None:
        async def run() -> None:
            try:
                await asyncio.to_thread(reload)
            except ModerationError as error:
                logger.error("SIGHUP reload refused, old model keeps serving: %s", error)
            except Exception:  # the server log has the traceback; the old model keeps serving
                logger.exception("SIGHUP reload failed, old model keeps serving")
        loop.create_task(run())

    try:
        loop.add_signal_handler(signal.SIGHUP, on_sighup)
    except (NotImplementedError, RuntimeError):
        pass