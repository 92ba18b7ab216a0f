"""Speed of the moderation endpoint over real HTTP on loopback.

Run: python benchmarks/speed_service.py [--workers 2] [--seconds 5]
Starts `moderate serve` on a free port, then measures single-comment requests at 1, 8 and 32
concurrent clients (throughput, p50, p99) and comments per second in batches of 100, and the server's
resident memory. Targets on a 2-core machine: p99 ≤ 10 ms at 8 clients, ≥ 1,000 single-comment
requests/s, ≥ 20,000 comments/s in batches. The load generator shares the machine with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

sys.path.insert(0, os.path.dirname(__file__))
from speed_model import realistic_comments  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def resident_memory_mib(pid: int) -> float:
    """Resident memory of a process and its children (workers), in MiB."""
    total = 0
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                   text=True).stdout.split()]
    for one in pids:
        try:
            with open(f"/proc/{one}/status") as handle:
                total += next(int(line.split()[1]) for line in handle if line.startswith("VmRSS"))
        except (OSError, StopIteration):
            pass
    return total / 1024


async def load(port: int, clients: int, seconds: float, payloads: list[bytes]) -> tuple[int, list[float]]:
    """Requests completed and their latencies (ms) with ``clients`` keep-alive connections.

    A minimal HTTP/1.1 client: each request goes out in one write, so the measurement is not
    distorted by a client library's own overhead or by delayed-ACK stalls. Like any HTTP client it
    reconnects when a response says ``Connection: close`` (the reconnection is part of the latency).
    """
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                body = random.choice(payloads)
                request = (f"POST /v1/moderate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {len(body)}\r\n\r\n").encode() + body
                started = time.perf_counter()
                writer.write(request)
                status_line = await reader.readline()
                length = 0
                close = False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                    close = close or line.lower().replace(b" ", b"") == b"connection:close\r\n"
                await reader.readexactly(length)
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                latencies.append((time.perf_counter() - started) * 1000)
                if b" 200 " not in status_line:
                    raise RuntimeError(f"server answered {status_line!r}")
        finally:
            writer.close()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return len(latencies), latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    port = free_port()
    env = dict(os.environ, MODERATE_DATA_DIR=tempfile.mkdtemp(), MODERATE_LOG_LEVEL="warning")
    server = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port),
                               "--workers", str(args.workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        texts = realistic_comments(2000, target_chars=300)
        singles = [json.dumps({"comments": [{"text": t, "article_id": "003_2d5113ef618b1c85"}]}).encode()
                   for t in texts]
        batches = [json.dumps({"comments": [{"text": t} for t in texts[i:i + 100]]}).encode()
                   for i in range(0, 2000, 100)]
        asyncio.run(load(port, 4, 1.0, singles))  # warm up
        print(f"server: {args.workers} worker(s); load generator on the same machine")
        for clients in (1, 8, 32):
            n, latencies = asyncio.run(load(port, clients, args.seconds, singles))
            print(f"single-comment requests, {clients:>2} clients: {n / args.seconds:>7,.0f} req/s  "
                  f"p50 {statistics.median(latencies):.2f} ms  p99 {percentile(latencies, 0.99):.2f} ms")
        n, _ = asyncio.run(load(port, 8, args.seconds, batches))
        print(f"batches of 100, 8 clients: {n * 100 / args.seconds:,.0f} comments/s")
        print(f"server resident memory: {resident_memory_mib(server.pid):.0f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
