"""End-to-end speed of `moderate label`: read JSON Lines, score, write JSON Lines, on every core.

Run: python benchmarks/speed_label.py [--n 1000000] [--jobs N]
Targets on the 2-core machine: at least 25,000 comments/s end to end, and at least 1.5 times
alt-profanity-check's predict_prob over the same texts (measured in the same run, in memory).
Peak memory is the largest summed proportional set size of the labelling process and its workers.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from training.sources import load_seed_data


def generate(path: Path, n: int, seed: int = 0) -> list[str]:
    """``n`` comments of realistic length (log-normal, median ~250 characters) stitched from the
    labelled set, a third with an article id; written as JSON Lines; their texts returned."""
    rng = random.Random(seed)
    records = load_seed_data().records
    pool = [r["text"] for r in records]
    groups = sorted({r["group"] for r in records})
    texts = []
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            target = min(int(rng.lognormvariate(5.5, 0.6)), 3000)
            parts: list[str] = []
            while sum(map(len, parts)) < target:
                parts.append(rng.choice(pool))
            text = " ".join(parts)[:max(target, 20)]
            texts.append(text)
            row = {"id": i, "text": text}
            if i % 3 == 0:
                row["article_id"] = rng.choice(groups)
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return texts


def peak_memory_while(process: subprocess.Popen) -> float:
    """Peak summed proportional set size (MiB) of a process and its children, sampled every 50 ms
    until it exits (PSS splits the pages forked workers share with the parent, which RSS would count
    once per process)."""
    import psutil

    peak = 0
    parent = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            members = [parent] + parent.children(recursive=True)
            peak = max(peak, sum(m.memory_full_info().pss for m in members))
        except psutil.Error:
            pass
        time.sleep(0.05)
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=None, help="default: every core")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        source, out = Path(directory) / "comments.jsonl", Path(directory) / "labelled.jsonl"
        started = time.perf_counter()
        texts = generate(source, args.n)
        print(f"generated {args.n:,} comments (median {sorted(map(len, texts))[len(texts) // 2]} chars, "
              f"{source.stat().st_size / 2**20:,.0f} MiB) in {time.perf_counter() - started:.0f}s")
        command = [sys.executable, "-m", "service.cli", "label", str(source), "--out", str(out), "--quiet"]
        command += ["--jobs", str(args.jobs)] if args.jobs else []
        started = time.perf_counter()
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        peak: list[float] = []
        sampler = threading.Thread(target=lambda: peak.append(peak_memory_while(process)))
        sampler.start()
        _, stderr = process.communicate()
        sampler.join()
        seconds = time.perf_counter() - started
        if process.returncode:
            sys.exit(f"moderate label failed:\n{stderr}")
        rows = sum(1 for _ in open(out, "rb"))
        ours = rows / seconds
        print(stderr.strip())
        print(f"end to end (process start, model load, read, score, write): {ours:,.0f} comments/s "
              f"over {rows:,} rows in {seconds:.1f}s  (target ≥ 25,000)")
        print(f"peak memory of the labelling processes: {peak[0]:,.0f} MiB  (input {source.stat().st_size / 2**20:,.0f} MiB)")
    try:
        from profanity_check import predict_prob
    except ImportError:
        print("alt-profanity-check not installed: pip install -e '.[bench]'")
        return
    predict_prob(texts[:1000])
    started = time.perf_counter()
    for i in range(0, len(texts), 10_000):
        predict_prob(texts[i:i + 10_000])
    peer = len(texts) / (time.perf_counter() - started)
    print(f"alt-profanity-check predict_prob, same texts in memory, one process: {peer:,.0f} comments/s")
    print(f"ratio ours / alt-profanity-check: {ours / peer:.2f}  (target ≥ 1.5)")


if __name__ == "__main__":
    main()
