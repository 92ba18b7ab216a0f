"""In-process speed of the model: one comment at a time, batches, training time, artifact size.

Run: python benchmarks/speed_model.py [--model DIR] [--n 20000]
Targets: one comment median ≤ 0.5 ms; batch comments/second on ~400-character comments at least
alt-profanity-check's predict_prob on the same texts, measured in the same run (ratio printed).
alt-profanity-check's median one comment at a time is printed too, as a reference for the machine's
speed at the time of the run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

from model.artifact import DEFAULT_MODEL_DIR, load_model
from model.moderation import CommentInput
from training.sources import load_seed_data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import non_english_ids  # noqa: E402


def realistic_comments(n: int, target_chars: int = 400, seed: int = 0, english_only: bool = False
                       ) -> list[str]:
    """Comments of about ``target_chars`` characters, each stitched from labelled-set comments of one
    language group (English, or tagged non_english), the groups drawn in the labelled set's proportions:
    a real comment is not half Korean and half English."""
    foreign = non_english_ids()
    rng = random.Random(seed)
    pools: dict[bool, list[str]] = {False: [], True: []}
    for record in load_seed_data().records:
        pools[record["id"] in foreign].append(record["text"])
    share_foreign = 0.0 if english_only else len(pools[True]) / (len(pools[True]) + len(pools[False]))
    comments = []
    for _ in range(n):
        pool = pools[rng.random() < share_foreign]
        parts: list[str] = []
        while sum(map(len, parts)) < target_chars:
            parts.append(rng.choice(pool))
        comments.append(" ".join(parts)[:target_chars])
    return comments


def time_single(moderator, texts: list[str], article: str) -> tuple[float, float]:
    """Median and p99 milliseconds of moderating one comment (with explanation) at a time."""
    durations = []
    for text in texts:
        started = time.perf_counter()
        moderator.moderate([CommentInput(text, article)])
        durations.append((time.perf_counter() - started) * 1000)
    durations.sort()
    return statistics.median(durations), durations[int(len(durations) * 0.99) - 1]


def report_peer_single(predict_prob, texts: list[str], ours_first: float, ours_known: float) -> None:
    """Print alt-profanity-check's median for one comment at a time on the same texts (one class, no
    explanation): a reference for how fast the machine is running, since its speed drifts by half."""
    durations = []
    for text in texts:
        started = time.perf_counter()
        predict_prob([text])
        durations.append((time.perf_counter() - started) * 1000)
    peer = statistics.median(durations)
    print(f"  alt-profanity-check predict_prob, one comment at a time, same texts: median {peer:.3f} ms; "
          f"ours is {peer / ours_first:.1f} times as fast on the first pass, {peer / ours_known:.1f} with the "
          "words known")


def time_batches(functions: dict, texts: list[str], batch: int = 1000, rounds: int = 5) -> dict[str, float]:
    """Best comments per second of each function over ``rounds`` passes, the functions taking turns
    in every round so that a busy moment of the machine does not favour one of them."""
    best = dict.fromkeys(functions, 0.0)
    for _ in range(rounds):
        for name, function in functions.items():
            started = time.perf_counter()
            for i in range(0, len(texts), batch):
                function(texts[i:i + batch])
            best[name] = max(best[name], len(texts) / (time.perf_counter() - started))
    return best


def report_batch_rates(functions: dict, texts: list[str], name: str) -> None:
    """Print comments per second of each function on ``texts``, and our ratio to the peer."""
    rates = time_batches(functions, texts)
    print(f"batch, ~400-char comments ({name}), all three classes + stance: {rates['ours']:,.0f} comments/s")
    if "alt-profanity-check" in rates:
        peer = rates["alt-profanity-check"]
        print(f"  alt-profanity-check predict_prob, same texts: {peer:,.0f} comments/s; "
              f"ratio ours / alt-profanity-check: {rates['ours'] / peer:.2f}  (target ≥ 1.0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--n", type=int, default=20000)
    args = parser.parse_args()
    moderator, card = load_model(args.model)
    article = load_seed_data().records[0]["article"]
    short = realistic_comments(2000, target_chars=200, seed=1)
    moderator.moderate([CommentInput(t, article) for t in short[:50]])  # warm caches
    first_median, p99 = time_single(moderator, short, article)
    print(f"single comment (~200 chars, with article and explanation): median {first_median:.3f} ms, "
          f"p99 {p99:.3f} ms  (target median ≤ 0.5 ms)")
    median, p99 = time_single(moderator, short, article)
    print(f"  the same comments again, their words now met (spelling scored): median {median:.3f} ms, "
          f"p99 {p99:.3f} ms")
    functions = {"ours": lambda chunk: moderator.classifier.predict(chunk, [None] * len(chunk))}
    try:
        from profanity_check import predict_prob
        functions["alt-profanity-check"] = predict_prob
        report_peer_single(predict_prob, short, first_median, median)
    except ImportError:
        print("alt-profanity-check not installed: pip install -e '.[bench]'")
    for name, english_only in (("the labelled set's mix of languages", False), ("English only", True)):
        report_batch_rates(functions, realistic_comments(args.n, english_only=english_only), name)
    artifact = Path(args.model) / card["artifact"]["file"]
    print(f"artifact size: {artifact.stat().st_size / 1024:.0f} KiB")
    print("training time (full labelled set, with cross-validation off): see `moderate train` output; "
          "timing one now…")
    from training.config import TrainingConfig
    from training.train import fit_classifier
    records = load_seed_data().records
    started = time.perf_counter()
    fit_classifier(records, TrainingConfig(cv_folds=0))
    print(f"training time on {len(records)} comments: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
