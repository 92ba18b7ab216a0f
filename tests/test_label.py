"""`moderate label`: every row once and in order, bad rows kept with an error, formats, resume."""

from __future__ import annotations

import csv
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import seed_data

from model.labels import CATEGORIES
from service.archive import ArchiveReader, resolve_inputs
from service.cli import cli
from service.labelling import (
    Columns,
    PartialOutput,
    Tally,
    fingerprint_of,
    label_locally,
    run_labelling,
)

ADDED = {"label", "scores", "stance", "stance_scores", "decision", "model_version"}
BAD_LINES = ['not json at all', '[1, 2]', '{"id": "e1", "text": ""}', '{"id": "e2", "text": 42}',
             '{"id": "e3"}', '{"id": "e4", "text": null}']


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path: Path, monkeypatch, trained_dir: Path) -> None:
    """Registered articles and the model come from the test's own folders."""
    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODERATE_MODEL_DIR", str(trained_dir))


def comments(n: int) -> list[dict]:
    """Labelled-set comments with ids, article ids and a nested field."""
    records = seed_data().records
    return [{"id": f"c{i}", "text": records[i % len(records)]["text"],
             "article_id": records[i % len(records)]["group"], "meta": {"n": i}} for i in range(n)]


def write_jsonl(path: Path, rows: list[dict], extra_lines: tuple[str, ...] = ()) -> None:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
        for line in extra_lines:
            handle.write(line + "\n")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def label(*args: str) -> object:
    result = CliRunner().invoke(cli, ["label", *args])
    return result


def test_every_row_once_in_order_with_its_fields_and_bad_rows_kept(tmp_path: Path) -> None:
    rows = comments(300)
    source = tmp_path / "archive.jsonl"
    write_jsonl(source, rows, tuple(BAD_LINES))
    result = label(str(source), "--jobs", "1", "--chunk-rows", "64")
    assert result.exit_code == 0, result.output
    output = read_jsonl(tmp_path / "archive.labelled.jsonl")
    assert len(output) == len(rows) + len(BAD_LINES)
    for original, labelled in zip(rows, output):
        assert {k: labelled[k] for k in original} == original
        assert ADDED <= set(labelled) and "error" not in labelled
        assert labelled["label"] in CATEGORIES and labelled["decision"] in ("approve", "review", "reject")
        assert sum(labelled["scores"].values()) == pytest.approx(1, abs=1e-5)
    errors = output[len(rows):]
    assert [e["error"].split(": ", 1)[1] for e in errors] == [
        "not valid JSON (Expecting value: line 1 column 1 (char 0))", "expected a JSON object, found list",
        "field 'text' is empty", "field 'text' is not text (found int)", "field 'text' is missing",
        "field 'text' is missing"]
    assert errors[0]["error"].startswith(f"{source}:301: ") and errors[0]["raw"] == "not json at all"
    assert all(e["label"] is None and e["scores"] is None and e["decision"] is None for e in errors)
    assert "labelled 306 rows" in result.output and "rows not scored (see their 'error' field): 6" in result.output


def test_json_lines_are_read_as_json_loads_reads_them() -> None:
    from service.archive import Chunk
    from service.labelling import _rows_of

    lines = [b'  {"text": "leading spaces"}\r\n', b'{"text": "trailing junk"} {"c": 1}\n', b'{"text": "\\ud800"}',
             '{"text": "caf\u00e9 \u2603"}\t \n'.encode(), b'\xef\xbb\xbf{"text": "a mark"}\n',
             b'{"text": "\xe9"}\n', '{"text": "wide"}'.encode("utf-16"), b'{"a": NaN}', b'"text"\n']
    rows, problems = _rows_of(Chunk("x.jsonl", list(range(1, len(lines) + 1)), lines=lines))
    for position, line in enumerate(lines):
        try:
            expected = json.loads(line)
        except ValueError as error:
            assert problems[position] == f"not valid JSON ({error})"
            continue
        if isinstance(expected, dict):
            assert repr(rows[position]) == repr(expected) and position not in problems
        else:
            assert problems[position] == "expected a JSON object, found str"
    assert sorted(problems) == [1, 5, 8]


def test_labels_match_the_model_and_articles_are_used(tmp_path: Path, moderator) -> None:
    rows = comments(40)
    rows.append({"id": "inline", "text": "And what about Iraq?", "article_title": "Camps",
                 "article_text": "North Korea's prison camps hold thousands."})
    rows.append({"id": "unknown", "text": "A fair summary.", "article_id": "no-such-article"})
    source = tmp_path / "a.jsonl"
    write_jsonl(source, rows)
    assert label(str(source), "--jobs", "1").exit_code == 0
    output = read_jsonl(tmp_path / "a.labelled.jsonl")
    from model.corpus import load_articles
    from seeds import SEEDS_DIR
    articles = {a.id: a.text for a in load_articles(SEEDS_DIR / "articles.jsonl").values()}
    expected = moderator.moderate_one(rows[0]["text"], articles[rows[0]["article_id"]])
    assert output[0]["scores"] == expected.scores and output[0]["label"] == expected.category
    inline = moderator.moderate_one("And what about Iraq?", "Camps\n\nNorth Korea's prison camps hold thousands.")
    assert output[-2]["scores"] == inline.scores
    assert output[-1]["note"] == "article_id 'no-such-article' is unknown: scored without its article"
    assert output[-1]["scores"] == moderator.moderate_one("A fair summary.").scores


def test_fields_named_like_the_added_ones_are_kept_under_input_names(tmp_path: Path) -> None:
    source = tmp_path / "a.jsonl"
    write_jsonl(source, [{"text": "Thanks for this report.", "label": "old", "decision": "keep",
                          "note": "mine", "article_id": "no-such-article"}])
    assert label(str(source), "--jobs", "1").exit_code == 0
    line = (tmp_path / "a.labelled.jsonl").read_text().strip()
    assert line.count('"note"') == 1, "no key may appear twice in an output line"
    row = json.loads(line)
    assert row["input_label"] == "old" and row["input_decision"] == "keep" and row["label"] in CATEGORIES
    assert row["input_note"] == "mine" and row["note"].startswith("article_id 'no-such-article' is unknown")


def test_gzip_csv_in_csv_out_with_column_flags(tmp_path: Path) -> None:
    source = tmp_path / "a.csv.gz"
    with gzip.open(source, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["comment_id", "body"])
        writer.writerow(["1", "What about the US torture camps?"])
        writer.writerow(["2", "A line\nspanning two lines, quoted."])
        writer.writerow(["3", ""])
        writer.writerow(["4", "too", "many"])
    out = tmp_path / "out.csv"
    result = label(str(source), "--out", str(out), "--text-column", "body", "--id-column", "comment_id",
                   "--jobs", "1")
    assert result.exit_code == 0, result.output
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["comment_id"] for r in rows] == ["1", "2", "3", "4"]
    assert rows[1]["body"] == "A line\nspanning two lines, quoted." and rows[1]["label"] in CATEGORIES
    assert float(rows[0]["scores.whataboutism"]) > 0.5
    assert rows[2]["error"].endswith("field 'body' is empty")
    assert rows[3]["error"].endswith("expected 2 fields as in the header, found 3")
    assert rows[3]["_extra_fields"] == '["many"]'


def test_csv_output_has_the_same_score_columns_with_rows_not_scored(tmp_path: Path) -> None:
    """A row not scored (null scores) added empty `scores` and `stance_scores` columns beside the
    flattened ones, and an input of such rows only had no `scores.<label>` columns at all."""
    for name, texts in (("some", ["Fair point.", ""]), ("none", ["", ""])):
        write_jsonl(tmp_path / f"{name}.jsonl", [{"id": i, "text": t} for i, t in enumerate(texts)])
        out = tmp_path / f"{name}.csv"
        assert label(str(tmp_path / f"{name}.jsonl"), "--out", str(out), "--jobs", "1").exit_code == 0
        with open(out, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
        assert "scores" not in reader.fieldnames and "stance_scores" not in reader.fieldnames
        assert {"scores.abusive", "stance_scores.neutral"} <= set(reader.fieldnames)
        assert rows[-1]["scores.abusive"] == "" and rows[-1]["error"].endswith("field 'text' is empty")


def test_parquet_folder_and_glob_in_parquet_out(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    rows = comments(30)
    for part in range(3):
        table = pa.Table.from_pylist([{"id": r["id"], "text": r["text"], "year": 2010 + part}
                                      for r in rows[part * 10:(part + 1) * 10]])
        pq.write_table(table, folder / f"part-{part}.parquet")
    out = tmp_path / "labelled.parquet"
    assert label(str(folder), "--out", str(out), "--jobs", "1").exit_code == 0
    labelled = pq.read_table(out).to_pylist()
    assert [r["id"] for r in labelled] == [r["id"] for r in rows]
    assert labelled[0]["year"] == 2010 and set(labelled[0]["scores"]) == set(CATEGORIES)
    by_glob = tmp_path / "by-glob.jsonl"
    assert label(str(folder / "part-*.parquet"), "--out", str(by_glob), "--jobs", "1").exit_code == 0
    assert [r["scores"] for r in read_jsonl(by_glob)] == [r["scores"] for r in labelled]


def test_datasets_folder_needs_a_split_when_it_has_several(tmp_path: Path) -> None:
    import datasets

    rows = comments(12)
    folder = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows[:8]),
                          "test": datasets.Dataset.from_list(rows[8:])}).save_to_disk(str(folder))
    refused = label(str(folder), "--jobs", "1")
    assert refused.exit_code == 1 and "choose one with --split" in refused.output
    out = tmp_path / "test.jsonl"
    assert label(str(folder), "--split", "test", "--out", str(out), "--jobs", "1").exit_code == 0
    assert [r["id"] for r in read_jsonl(out)] == ["c8", "c9", "c10", "c11"]


def test_a_split_the_datasets_folder_lacks_is_named(tmp_path: Path) -> None:
    """--split nope was answered "choose one with --split", and --split on a folder of one dataset
    (no splits) labelled every row as if the split had been chosen."""
    import datasets

    rows = comments(6)
    several, single = tmp_path / "several", tmp_path / "single"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows[:3]),
                          "test": datasets.Dataset.from_list(rows[3:])}).save_to_disk(str(several))
    datasets.Dataset.from_list(rows).save_to_disk(str(single))
    unknown = label(str(several), "--split", "tset", "--out", str(tmp_path / "a.jsonl"), "--jobs", "1")
    assert unknown.exit_code == 1 and "has no split 'tset'" in unknown.output and "'test'" in unknown.output
    ignored = label(str(single), "--split", "test", "--out", str(tmp_path / "b.jsonl"), "--jobs", "1")
    assert ignored.exit_code == 1 and "no split 'test': drop --split" in ignored.output
    assert not (tmp_path / "b.jsonl").exists()


@pytest.mark.parametrize("damage", ["cut", "empty"])
def test_a_datasets_folder_that_cannot_be_loaded_is_named(tmp_path: Path, damage: str) -> None:
    """A cut .arrow file printed pyarrow's message without the folder, and a folder of an empty
    dataset (save_to_disk writes one load_from_disk cannot read) was an IndexError traceback."""
    import datasets

    saved = tmp_path / "saved"
    dataset = datasets.Dataset.from_list([{"id": r["id"], "text": r["text"]} for r in comments(300)])
    (dataset if damage == "cut" else dataset.select([])).save_to_disk(str(saved))
    for arrow in saved.glob("*.arrow"):
        arrow.write_bytes(arrow.read_bytes()[:arrow.stat().st_size // 2])
    result = label(str(saved), "--out", str(tmp_path / "o.jsonl"), "--jobs", "1")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert f"{saved}: cannot read this `datasets` folder" in result.output
    assert not list(tmp_path.glob("o.jsonl*"))


def test_two_worker_processes_write_the_same_output_as_one(tmp_path: Path) -> None:
    source = tmp_path / "a.jsonl"
    write_jsonl(source, comments(500), tuple(BAD_LINES))
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert label(str(source), "--out", str(one), "--jobs", "1", "--chunk-rows", "37").exit_code == 0
    assert label(str(source), "--out", str(two), "--jobs", "2", "--chunk-rows", "37").exit_code == 0
    assert one.read_bytes() == two.read_bytes()


class BlasThreadsReporter:
    """A labeller stand-in whose output is the BLAS thread counts of the process that ran it."""

    columns = Columns()

    def label(self, chunk) -> tuple[bytes, Tally]:
        from threadpoolctl import threadpool_info

        counts = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
        return json.dumps({"pid": os.getpid(), "blas_threads": counts}).encode(), Tally(rows=len(chunk))


@pytest.mark.parametrize("jobs", [1, 2])
def test_labelling_processes_keep_blas_to_one_thread(tmp_path: Path, trained_dir: Path, jobs: int) -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    source = tmp_path / "a.jsonl"
    write_jsonl(source, comments(40))
    chunks = ArchiveReader(resolve_inputs(str(source)), chunk_rows=5).chunks()
    before = threadpool_info()
    try:
        reports = [json.loads(data) for data, _, _ in
                   label_locally(chunks, BlasThreadsReporter(), jobs, trained_dir, tmp_path / "data", Columns())]
    finally:
        threadpool_limits({pool["prefix"]: pool["num_threads"] for pool in before})
    assert len(reports) == 8 and all(report["blas_threads"] for report in reports)
    assert {n for report in reports for n in report["blas_threads"]} == {1}
    ran_here = {report["pid"] == os.getpid() for report in reports}
    assert ran_here == {jobs == 1}


def test_interrupted_run_resumes_without_duplicates_or_gaps(tmp_path: Path, trained_dir: Path) -> None:
    source = tmp_path / "a.jsonl"
    write_jsonl(source, comments(400))
    complete = tmp_path / "complete.jsonl"
    assert label(str(source), "--out", str(complete), "--jobs", "1", "--chunk-rows", "50").exit_code == 0
    out = tmp_path / "resumed.jsonl"
    from service.labelling import make_labeller
    labeller = make_labeller(trained_dir, tmp_path / "data", Columns())
    inputs = resolve_inputs(str(source))
    fingerprint = fingerprint_of(inputs, Columns(), labeller.moderator.version, None)

    def interrupted(chunks):
        for number, chunk in enumerate(chunks):
            if number == 3:
                raise KeyboardInterrupt
            yield (*labeller.label(chunk), len(chunk))

    with pytest.raises(KeyboardInterrupt):
        run_labelling(ArchiveReader(inputs, 50), PartialOutput(out, fingerprint), interrupted,
                      resume=False, overwrite=False, progress=lambda *a: None)
    assert not out.exists()
    partial = out.with_name(out.name + ".partial.jsonl")
    assert len(partial.read_bytes().splitlines()) == 150
    with open(partial, "ab") as handle:
        handle.write(b'{"id": "torn half-written li')  # as if killed mid-write
    again = label(str(source), "--out", str(out), "--jobs", "1", "--chunk-rows", "50")
    assert again.exit_code == 1 and "--resume" in again.output
    resumed = label(str(source), "--out", str(out), "--jobs", "1", "--chunk-rows", "50", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "resumed after row 150" in resumed.output and "labelled 400 rows" in resumed.output
    assert out.read_bytes() == complete.read_bytes()
    assert not partial.exists()


def test_killed_run_resumes_to_the_same_output(tmp_path: Path, trained_dir: Path) -> None:
    source = tmp_path / "a.jsonl"
    write_jsonl(source, comments(6000))
    complete, out = tmp_path / "complete.jsonl", tmp_path / "killed.jsonl"
    assert label(str(source), "--out", str(complete), "--jobs", "1", "--chunk-rows", "100").exit_code == 0
    command = [sys.executable, "-m", "service.cli", "label", str(source), "--out", str(out), "--jobs", "2",
               "--chunk-rows", "100"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    checkpoint = out.with_name(out.name + ".partial.json")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if checkpoint.exists() and json.loads(checkpoint.read_text() or "{}").get("bytes_done", 0) > 0:
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not out.exists(), "the run finished before it could be killed; make the input larger"
    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_bytes() == complete.read_bytes()


def _process_state(pid: int) -> tuple[str, int] | None:
    """A process's state letter and parent (Linux /proc), or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1])


def _running(pid: int) -> bool:
    """Still there and not a zombie waiting to be reaped."""
    state = _process_state(pid)
    return state is not None and state[0] != "Z"


def _label_workers(pid: int) -> set[int]:
    """The `moderate label` worker processes of the labelling process ``pid``."""
    found = set()
    for entry in Path("/proc").glob("[0-9]*"):
        state = _process_state(int(entry.name))
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if state is not None and state[1] == pid and b"service.cli" in command:
            found.add(int(entry.name))
    return found


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_run_leaves_no_worker_behind(tmp_path: Path, how: signal.Signals) -> None:
    """kill -9 (or SIGTERM) of `moderate label` alone, not its process group, left its --jobs
    workers waiting for chunks for ever, each holding a model's memory (about 230 MB)."""
    source = tmp_path / "a.jsonl"
    write_jsonl(source, comments(20000))
    out = tmp_path / "o.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "service.cli", "label", str(source), "--out", str(out),
                                "--jobs", "2", "--chunk-rows", "100"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    checkpoint = out.with_name(out.name + ".partial.json")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # a chunk done: the workers are up
        if checkpoint.exists() and json.loads(checkpoint.read_text() or "{}").get("bytes_done", 0) > 0:
            break
        time.sleep(0.05)
    workers = _label_workers(process.pid)
    assert workers, "no worker processes were seen"
    process.send_signal(how)
    process.wait()
    assert not out.exists(), "the run finished before it could be killed; make the input larger"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_running(pid) for pid in workers):
        time.sleep(0.2)
    left = [pid for pid in workers if _running(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left


def test_resume_is_refused_when_the_input_changed(tmp_path: Path) -> None:
    source = tmp_path / "a.jsonl"
    write_jsonl(source, comments(20))
    out = tmp_path / "o.jsonl"
    out.with_name("o.jsonl.partial.jsonl").write_bytes(b"")
    out.with_name("o.jsonl.partial.json").write_text(json.dumps(
        {"fingerprint": {"input": [], "columns": {}, "model version": "x", "split": None},
         "bytes_done": 0, "tally": {"rows": 0, "errors": 0, "labels": {}, "decisions": {}}}))
    result = label(str(source), "--out", str(out), "--resume", "--jobs", "1")
    assert result.exit_code == 1
    assert "cannot resume: columns, input, model version changed" in result.output


def test_an_existing_output_is_not_overwritten_without_asking(tmp_path: Path) -> None:
    source = tmp_path / "a.jsonl"
    write_jsonl(source, comments(5))
    (tmp_path / "a.labelled.jsonl").write_text("precious\n")
    result = label(str(source), "--jobs", "1")
    assert result.exit_code == 1 and "already exists" in result.output
    assert (tmp_path / "a.labelled.jsonl").read_text() == "precious\n"


@pytest.mark.parametrize("args, message", [
    (["missing.jsonl"], "missing.jsonl: no such file or folder"),
    (["{tmp}/notes.txt"], "unsupported input"),
    (["{tmp}/a.jsonl", "--out", "{tmp}/o.xlsx"], "unsupported output extension '.xlsx'"),
    (["{tmp}/a.jsonl", "--jobs", "0"], "--jobs must be at least 1"),
    (["{tmp}/a.jsonl", "--engine", "dask"], "--engine dask needs --scheduler"),
    (["{tmp}/a.jsonl", "--scheduler", "tcp://10.0.0.5:8786"], "--scheduler is for --engine dask"),  # ran locally
    (["{tmp}/*.nothing"], "files match this pattern"),
    (["{tmp}/a.jsonl", "--out", "{tmp}/folder.jsonl"], "folder.jsonl is a folder: give --out a file name"),
    (["{tmp}/a.jsonl", "--out", "{tmp}/a.jsonl/x.jsonl"], "a.jsonl is a file, so"),
])
def test_bad_arguments_get_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    write_jsonl(tmp_path / "a.jsonl", comments(2))
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "folder.jsonl").mkdir()
    result = label(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code in (1, 2) and message in result.output
    assert "Traceback" not in result.output


def test_progress_is_quiet_when_not_on_a_terminal(tmp_path: Path) -> None:
    source = tmp_path / "a.jsonl"
    write_jsonl(source, comments(50))
    result = label(str(source), "--jobs", "1", "--chunk-rows", "5")
    assert "\r" not in result.output and "rows/s" in result.output


def test_reading_is_lazy(tmp_path: Path) -> None:
    source = tmp_path / "a.jsonl"
    write_jsonl(source, comments(3000))
    reader = ArchiveReader(resolve_inputs(str(source)), chunk_rows=100)
    chunks = reader.chunks()
    first = next(chunks)
    assert len(first) == 100 and 0 < reader.fraction_done < 0.5


def test_object_storage_urls_are_read_through_fsspec(tmp_path: Path, monkeypatch) -> None:
    import fsspec

    memory = fsspec.filesystem("memory")
    rows = comments(25)
    for part in range(2):
        with memory.open(f"/bucket/archive/part-{part}.jsonl", "wb") as handle:
            handle.write("".join(json.dumps(r) + "\n" for r in rows[part * 12:(part + 1) * 12 + part]).encode())
    local = tmp_path / "local.jsonl"
    write_jsonl(local, rows)
    monkeypatch.chdir(tmp_path)
    assert label(str(local), "--out", "expected.jsonl", "--jobs", "1").exit_code == 0
    result = label("memory://bucket/archive/*.jsonl", "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "labelled.jsonl").read_bytes() == (tmp_path / "expected.jsonl").read_bytes()


def test_an_input_failing_before_any_row_leaves_nothing_to_resume(tmp_path: Path) -> None:
    source = tmp_path / "a.csv"
    source.write_text("id,id\n1,2\n")
    result = label(str(source), "--jobs", "1")
    assert result.exit_code == 1 and f"{source}:1: column 'id' appears twice in the header" in result.output
    assert not list(tmp_path.glob("a.labelled*"))
    source.write_text("id,text\n1,Fair point.\n")
    assert label(str(source), "--jobs", "1").exit_code == 0


def test_progress_on_a_terminal_shows_rate_share_and_time_left() -> None:
    import io

    from service.labelling import Progress

    stream = io.StringIO()
    progress = Progress(enabled=True, stream=stream)
    progress(5_000, 2_500.0, 0.25)
    progress.close()
    line = stream.getvalue()
    assert line.startswith("\r") and "5,000 rows" in line and "2,500 rows/s" in line
    assert "25%" in line and "0:00:06 left" in line


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_a_lone_surrogate_is_written_as_valid_utf8(tmp_path: Path, suffix: str) -> None:
    """Half a UTF-16 pair ("\\ud800") in a row re-encoded (a renamed field, a line that is not an
    object) made the JSON Lines output invalid UTF-8, and CSV and Parquet output a traceback."""
    source = tmp_path / "a.jsonl"
    source.write_text('{"id": 1, "text": "\\ud800 lone", "label": "x"}\n"\\ud800"\n{"text": "fine"}\n')
    out = tmp_path / f"out{suffix}"
    result = label(str(source), "--out", str(out), "--jobs", "1")
    assert result.exit_code == 0, result.output
    if suffix == ".jsonl":
        rows = [json.loads(line) for line in out.read_bytes().decode("utf-8").splitlines()]
        assert rows[0]["text"] == "\ud800 lone" and rows[1]["raw"] == "\ud800"  # escaped: nothing lost
    elif suffix == ".csv":
        with open(out, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert rows[0]["text"] == "\ufffd lone" and rows[1]["raw"] == "\ufffd"
    else:
        rows = pq.read_table(out).to_pylist()
        assert rows[0]["text"] == "\ufffd lone" and rows[1]["raw"] == "\ufffd"
    assert [r["input_label"] for r in rows[:1]] == ["x"] and len(rows) == 3 and rows[0]["label"] in CATEGORIES


def test_parquet_output_keeps_fields_that_only_later_rows_have(tmp_path: Path) -> None:
    """Arrow takes a table's fields from its first row: an error after a good first row was dropped."""
    source = tmp_path / "a.jsonl"
    write_jsonl(source, [{"id": 1, "text": "Fair point."}, {"id": 2}, {"id": 3, "text": "Yes.", "extra": [1]}])
    out = tmp_path / "out.parquet"
    assert label(str(source), "--out", str(out), "--jobs", "1").exit_code == 0
    rows = pq.read_table(out).to_pylist()
    assert [r["error"] for r in rows] == [None, f"{source}:2: field 'text' is missing", None]
    assert [r["extra"] for r in rows] == [None, None, [1]]


def test_a_csv_quote_never_closed_and_bytes_not_utf8_are_errors_not_silent(tmp_path: Path) -> None:
    """The lenient CSV reader read "2,ok" into the unclosed field of row 1, and replaced a byte that
    is not UTF-8 with U+FFFD: both rows were scored as if nothing were wrong."""
    (tmp_path / "open.csv").write_bytes(b'id,text\n0,"multi\nline" fine\n1,"unterminated\n2,ok\n')
    (tmp_path / "bytes.csv").write_bytes(b'id,text\n1,caf\xe9\n2,5" screen\n')
    for name in ("open", "bytes"):
        assert label(str(tmp_path / f"{name}.csv"), "--jobs", "1", "--chunk-rows", "1").exit_code == 0
    opened = read_jsonl(tmp_path / "open.labelled.jsonl")
    assert opened[0]["label"] in CATEGORIES and opened[0]["text"] == "multi\nline fine"
    assert opened[1]["error"] == (f"{tmp_path / 'open.csv'}:4: a quoted field is never closed, "
                                  "so the rest of the file (to line 5) was read into this row")
    coded = read_jsonl(tmp_path / "bytes.labelled.jsonl")
    assert coded[0]["error"].endswith("bytes.csv:2: not valid UTF-8 (byte 0xe9)") and coded[0]["text"] == "caf\udce9"
    assert coded[1]["label"] in CATEGORIES and coded[1]["text"] == '5" screen'


def test_blank_lines_before_a_csv_header_hold_no_row(tmp_path: Path) -> None:
    """A blank first line was read as an empty header: the run was refused with "no column 'text'
    ...; its columns are: " and nothing after it (training skips such lines, as pandas does)."""
    source = tmp_path / "a.csv"
    source.write_bytes(b"\r\n\r\nid,text\r\nc0,A fair point about the budget.\r\nc1\r\n")
    result = label(str(source), "--out", str(tmp_path / "o.jsonl"), "--jobs", "1")
    assert result.exit_code == 0, result.output
    rows = read_jsonl(tmp_path / "o.jsonl")
    assert [r["id"] for r in rows] == ["c0", "c1"] and rows[0]["label"] in CATEGORIES
    assert rows[1]["error"] == f"{source}:5: expected 2 fields as in the header, found 1"


def test_a_csv_row_spanning_lines_is_named_by_the_line_it_starts_on(tmp_path: Path) -> None:
    """A row's error named the line the row ended on ("m.csv:5" for a row starting on line 3), where
    training names a CSV row by the line it starts on."""
    source = tmp_path / "m.csv"
    source.write_bytes(b'id,text\n1,ok\n2,"multi\nline\nrow",extra\n\n3,"two\nlines",x\n')
    assert label(str(source), "--jobs", "1", "--chunk-rows", "1").exit_code == 0
    rows = read_jsonl(tmp_path / "m.labelled.jsonl")
    assert [r.get("error") for r in rows] == [
        None, f"{source}:3: expected 2 fields as in the header, found 3",
        f"{source}:7: expected 2 fields as in the header, found 3"]


def test_a_damaged_or_mislabelled_gzip_input_is_named(tmp_path: Path) -> None:
    """A cut gzip stream raised EOFError, which Click printed as "Aborted!"; a plain file named .gz
    gave "Error: : Not a gzipped file", naming no file."""
    data = gzip.compress("".join(json.dumps({"text": f"comment {i} about {i * 7919 % 10007}"}) + "\n"
                                 for i in range(4000)).encode())
    (tmp_path / "cut.jsonl.gz").write_bytes(data[:len(data) // 2])
    (tmp_path / "plain.jsonl.gz").write_text('{"text": "a"}\n')
    cut = label(str(tmp_path / "cut.jsonl.gz"), "--jobs", "1")
    assert cut.exit_code == 1 and f"{tmp_path / 'cut.jsonl.gz'}: not a complete gzip file" in cut.output
    plain = label(str(tmp_path / "plain.jsonl.gz"), "--jobs", "1")
    assert plain.exit_code == 1
    assert f"{tmp_path / 'plain.jsonl.gz'}: not gzip-compressed, though its name ends in .gz" in plain.output


def test_a_glob_never_reads_back_the_runs_own_output(tmp_path: Path) -> None:
    """'g/*.jsonl' writes g/labelled.jsonl, which the same glob matched on the next run (4 rows from
    2), and --out g/o.csv's partial file made every --resume look like a changed input."""
    folder = tmp_path / "g"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", comments(2))
    for _ in range(2):
        assert label(str(folder / "*.jsonl"), "--jobs", "1", "--overwrite").exit_code == 0
        assert [r["id"] for r in read_jsonl(folder / "labelled.jsonl")] == ["c0", "c1"]
    same = label(str(folder / "a.jsonl"), "--out", str(folder / "a.jsonl"), "--overwrite", "--jobs", "1")
    assert same.exit_code == 1 and "is both the input and the output" in same.output
    assert [r["id"] for r in read_jsonl(folder / "a.jsonl")] == ["c0", "c1"] and "label" not in read_jsonl(folder / "a.jsonl")[0]


def test_a_folder_run_resumes_with_its_checkpoint_inside_the_folder(tmp_path: Path, trained_dir: Path) -> None:
    """The checkpoint OUTPUT.partial.json ends in .json, so a folder or glob read it as an input on
    --resume: every resume of a run writing into its input folder was refused as a changed input."""
    from service.archive import inputs_besides_output
    from service.labelling import make_labeller

    folder = tmp_path / "g"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", comments(200))
    complete, out = tmp_path / "complete.jsonl", folder / "labelled.jsonl"
    assert label(str(folder), "--out", str(complete), "--jobs", "1", "--chunk-rows", "50").exit_code == 0
    labeller = make_labeller(trained_dir, tmp_path / "data", Columns())
    inputs = inputs_besides_output(resolve_inputs(str(folder)), out)

    def interrupted(chunks):
        for number, chunk in enumerate(chunks):
            if number == 2:
                raise KeyboardInterrupt
            yield (*labeller.label(chunk), len(chunk))

    with pytest.raises(KeyboardInterrupt):
        run_labelling(ArchiveReader(inputs, 50), PartialOutput(out, fingerprint_of(
            inputs, Columns(), labeller.moderator.version, None)), interrupted, resume=False, overwrite=False,
            progress=lambda *a: None)
    resumed = label(str(folder), "--out", str(out), "--jobs", "1", "--chunk-rows", "50", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert out.read_bytes() == complete.read_bytes()


def test_a_row_nested_too_deeply_is_an_error_row_and_the_run_goes_on(tmp_path: Path) -> None:
    """A row of 5,000 nested arrays raised RecursionError in the JSON reader: a traceback, no output."""
    source = tmp_path / "a.jsonl"
    deep = {depth: f'{{"id": {depth}, "text": "x", "deep": {"[" * (depth - 1) + "]" * (depth - 1)}}}'
            for depth in (5000, 501, 500)}
    source.write_text('{"id": 1, "text": "Fair point."}\n' + "\n".join(deep.values()) + '\n{"id": 3, "text": "Yes."}\n')
    for out in (tmp_path / "out.jsonl", tmp_path / "out.csv"):
        result = label(str(source), "--out", str(out), "--jobs", "1")
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output and "rows not scored (see their 'error' field): 2" in result.output
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [r.get("id") for r in rows] == [1, None, None, 500, 3]
    too_deep = "nested too deeply: more than 500 levels of arrays and objects"
    assert [r.get("error") for r in rows[1:3]] == [f"{source}:2: {too_deep}", f"{source}:3: {too_deep}"]
    assert rows[1]["raw"] == deep[5000] and rows[3]["label"] in CATEGORIES and rows[4]["label"] in CATEGORIES


@pytest.mark.parametrize("suffix, jobs", [(".jsonl", "1"), (".jsonl", "2"), (".csv", "1"), (".parquet", "1")])
def test_a_renamed_field_never_replaces_another(tmp_path: Path, suffix: str, jobs: str) -> None:
    """"label" renamed input_label overwrote the row's own input_label ("L" was lost), and a column
    scores.abusive was overwritten by the CSV output's flattened scores."""
    source = tmp_path / "a.jsonl"
    write_jsonl(source, [{"id": 1, "text": "Hello there.", "label": "L", "input_label": "IL"},
                         {"id": 2, "input_error": "E0", "error": "E1"},
                         {"id": 3, "text": "Fine.", "scores.abusive": "0.9", "input_input_label": "IIL",
                          "label": "L3", "input_label": "IL3"}])
    out = tmp_path / f"out{suffix}"
    assert label(str(source), "--out", str(out), "--jobs", jobs, "--chunk-rows", "1").exit_code == 0
    if suffix == ".jsonl":
        rows = read_jsonl(out)
    elif suffix == ".csv":
        with open(out, newline="", encoding="utf-8") as handle:
            rows = [{k: v or None for k, v in row.items()} for row in csv.DictReader(handle)]
    else:
        rows = pq.read_table(out).to_pylist()
    kept = [{k: v for k, v in row.items() if k.startswith("input_") and v is not None} for row in rows]
    assert kept == [{"input_label": "IL", "input_input_label": "L"},
                    {"input_error": "E0", "input_input_error": "E1"},
                    {"input_scores.abusive": "0.9", "input_input_label": "IIL", "input_input_input_label": "L3",
                     "input_label": "IL3"}]
    assert str(rows[2]["scores.abusive"] if suffix == ".csv" else rows[2]["scores"]["abusive"]) != "0.9"


def test_a_csv_column_named_like_the_extra_fields_is_kept(tmp_path: Path) -> None:
    source = tmp_path / "a.csv"
    source.write_text("id,text,_extra_fields\n1,Fair point.,mine,more,and more\n")
    assert label(str(source), "--jobs", "1").exit_code == 0
    row = read_jsonl(tmp_path / "a.labelled.jsonl")[0]
    assert row["_extra_fields"] == "mine" and row["__extra_fields"] == ["more", "and more"]


def test_parquet_output_writes_a_column_of_mixed_types_as_text(tmp_path: Path) -> None:
    """Ids 1 and "x2", a text that is a number, an object and a string in one field: the Parquet
    conversion failed after labelling everything."""
    source = tmp_path / "a.jsonl"
    write_jsonl(source, [{"id": 1, "text": "Fair point.", "meta": {"n": 1}, "flag": True, "score": 1},
                         {"id": "x2", "text": 5, "meta": "plain", "flag": None, "score": 2.5},
                         {"id": 3, "text": "Yes.", "meta": None, "flag": False, "score": 3}])
    out = tmp_path / "out.parquet"
    result = label(str(source), "--out", str(out), "--jobs", "1", "--chunk-rows", "1")
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == ["1", "x2", "3"] and [r["text"] for r in rows] == ["Fair point.", "5", "Yes."]
    assert [r["meta"] for r in rows] == ['{"n": 1}', "plain", None]
    assert [r["flag"] for r in rows] == [True, None, False] and [r["score"] for r in rows] == [1.0, 2.5, 3.0]
    assert rows[1]["error"].endswith("field 'text' is not text (found int)") and rows[0]["label"] in CATEGORIES
    assert table.schema.field("scores").type.num_fields == 3
    assert ("note: columns whose values have different types are written to Parquet as text (objects and lists "
            "as JSON): id, meta, text") in result.output
    assert not out.with_name("out.parquet.partial.jsonl").exists()


def cut_gzip(path: Path, content: bytes) -> int:
    """Write the first half of ``content`` gzipped; return how many whole lines can be read back."""
    import zlib

    data = gzip.compress(content)
    path.write_bytes(data[:len(data) // 2])
    return zlib.decompressobj(31).decompress(data[:len(data) // 2]).count(b"\n")


@pytest.mark.parametrize("kind, chunk_rows, jobs", [("jsonl", "5000", "1"), ("jsonl", "500", "2"),
                                                    ("csv", "500", "1"), ("csv", "5000", "2")])
def test_a_cut_gzip_input_keeps_every_row_before_the_damage(tmp_path: Path, kind: str, chunk_rows: str,
                                                          jobs: str) -> None:
    """The message said rows before the damage were labelled, but the chunk being read (and, with
    workers, the chunks in flight) were dropped: none of 1,467 rows with 5,000-row chunks."""
    texts = [f"comment {i} about {i * 7919 % 10007}" for i in range(4000)]
    content = ("".join(json.dumps({"text": t}) + "\n" for t in texts) if kind == "jsonl"
               else "text\n" + "".join(t + "\n" for t in texts))
    source = tmp_path / f"cut.{kind}.gz"
    readable = cut_gzip(source, content.encode()) - (kind == "csv")
    out = tmp_path / "out.jsonl"
    result = label(str(source), "--out", str(out), "--jobs", jobs, "--chunk-rows", chunk_rows)
    partial = tmp_path / "out.jsonl.partial.jsonl"
    assert result.exit_code == 1 and f"{source}: not a complete gzip file" in result.output
    assert f"the {readable:,} rows before it are labelled, in {partial}" in result.output
    rows = read_jsonl(partial)
    assert [r["text"] for r in rows] == texts[:readable] and all(r["label"] in CATEGORIES for r in rows)


@pytest.mark.parametrize("damage", ["page header", "dictionary indices"])
def test_damaged_parquet_data_is_named_after_labelling_the_rows_before_it(tmp_path: Path, damage: str) -> None:
    """A Parquet file whose footer reads but whose data is damaged raised pyarrow's ArrowInvalid (a
    traceback) or an OSError printed without the file's name or the rows already labelled."""
    rows = comments(200)
    source = tmp_path / "a.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": r["id"], "text": r["text"]} for r in rows]), source,
                   row_group_size=100, compression="none")
    column = pq.ParquetFile(source).metadata.row_group(1).column(1)
    start, end = column.data_page_offset, column.dictionary_page_offset + column.total_compressed_size
    offset, garbage = (start, b"\xff" * 8) if damage == "page header" else (end - 20, b"\xff" * 20)
    data = bytearray(source.read_bytes())
    data[offset:offset + len(garbage)] = garbage
    source.write_bytes(bytes(data))
    out = tmp_path / "o.jsonl"
    result = label(str(source), "--out", str(out), "--jobs", "1", "--chunk-rows", "50")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    done = read_jsonl(out.with_name("o.jsonl.partial.jsonl"))
    assert f"{source}:{len(done) + 1}: damaged Parquet data" in result.output
    assert f"the {len(done)} rows before it are labelled" in result.output
    assert [r["id"] for r in done] == [r["id"] for r in rows[:len(done)]] and len(done) >= 100


def test_parquet_text_that_is_not_utf8_is_an_error_row_and_the_run_goes_on(tmp_path: Path) -> None:
    """A Parquet writer need not check UTF-8: one such value made the whole run a UnicodeDecodeError
    traceback, instead of a row kept with an error naming its field."""
    texts = pa.array([b"Thank you, a fair article.", b"caf\xe9 idiots", b"What about the others?"])
    source = tmp_path / "a.parquet"
    pq.write_table(pa.table({"id": ["c0", "c1", "c2"], "text": texts.view(pa.string())}), source)
    result = label(str(source), "--out", str(tmp_path / "o.jsonl"), "--jobs", "1")
    assert result.exit_code == 0, result.output
    rows = read_jsonl(tmp_path / "o.jsonl")
    assert [r["id"] for r in rows] == ["c0", "c1", "c2"]
    assert rows[1]["error"] == f"{source}:2: field 'text': not valid UTF-8 (byte 0xe9)"
    assert rows[1]["text"] == "caf\ufffd idiots" and rows[1]["label"] is None
    assert rows[0]["label"] in CATEGORIES and rows[2]["label"] in CATEGORIES


def test_a_parquet_column_named_twice_is_refused_before_labelling(tmp_path: Path) -> None:
    """Arrow allows two columns of one name; read as dicts, the rows silently lost the first one's values."""
    schema = pa.schema([("text", pa.string()), ("id", pa.int64()), ("id", pa.string())])
    source = tmp_path / "a.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array(["Fair point."]), pa.array([1]), pa.array(["one"])],
                                        schema=schema), source)
    result = label(str(source), "--out", str(tmp_path / "o.jsonl"), "--jobs", "1")
    assert result.exit_code == 1 and f"{source}: column 'id' appears twice in the schema" in result.output
    assert not (tmp_path / "o.jsonl").exists() and not (tmp_path / "o.jsonl.partial.jsonl").exists()


def test_a_byte_order_mark_inside_json_lines_is_not_copied_to_the_output(tmp_path: Path) -> None:
    """Files joined with cat carry a byte-order mark at the start of a later line; the line was copied
    as is, so the output held a line that json.loads of the text refuses ("Unexpected UTF-8 BOM")."""
    source = tmp_path / "a.jsonl"
    source.write_bytes(b'{"id": "c0", "text": "A fair article."}\n'
                       b'\xef\xbb\xbf{"id": "c1", "text": "What about the others?"}\n')
    result = label(str(source), "--out", str(tmp_path / "o.jsonl"), "--jobs", "1")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["c0", "c1"] and all(r["label"] in CATEGORIES for r in rows)


def test_column_flags_naming_columns_the_input_lacks_are_refused(tmp_path: Path) -> None:
    """--text-column bdy gave every row an error and exit 0; --article-id-column thred and
    --id-column ident were silently ignored."""
    source = tmp_path / "a.csv"
    source.write_text("ident,body,thread\n1,Fair point.,003_2d5113ef618b1c85\n")
    pq.write_table(pa.Table.from_pylist([{"ident": 1, "body": "Fair point."}]), tmp_path / "a.parquet")
    for args, flag, name in [(["--text-column", "bdy"], "--text-column", "bdy"),
                             (["--text-column", "body", "--article-id-column", "thred"], "--article-id-column", "thred"),
                             (["--text-column", "body", "--id-column", "idnt"], "--id-column", "idnt"),
                             ([], "--text-column", "text")]:
        result = label(str(source), *args, "--jobs", "1")
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert f"{source}: no column '{name}' ({flag}); its columns are: ident, body, thread" in result.output
    parquet = label(str(tmp_path / "a.parquet"), "--text-column", "bdy", "--jobs", "1")
    assert parquet.exit_code == 1 and "a.parquet: no column 'bdy' (--text-column); its columns are: ident, body" \
        in parquet.output
    assert not list(tmp_path.glob("a.labelled*"))
    fine = label(str(source), "--text-column", "body", "--id-column", "ident", "--article-id-column", "thread",
                 "--jobs", "1")
    assert fine.exit_code == 0 and "note:" not in fine.output
    jsonl = tmp_path / "b.jsonl"
    write_jsonl(jsonl, comments(3))
    noted = label(str(jsonl), "--article-id-column", "thred", "--id-column", "ident", "--jobs", "1")
    assert noted.exit_code == 0
    assert "note: no row has the column 'ident' (--id-column)" in noted.output
    assert "note: no row has the column 'thred' (--article-id-column)" in noted.output


def test_a_json_array_is_refused_with_how_to_convert_it(tmp_path: Path) -> None:
    """A pretty-printed JSON array was read as JSON Lines: 2 comments became 10 error rows, exit 0."""
    array = [{"id": 1, "text": "Fair point."}, {"id": 2, "text": "Yes."}]
    folder = tmp_path / "exports"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", array)
    (folder / "b.json").write_text(json.dumps(array, indent=2))
    (tmp_path / "one-line.json").write_text(json.dumps(array))
    for source in (folder, tmp_path / "one-line.json"):
        result = label(str(source), "--jobs", "1")
        named = folder / "b.json" if source == folder else source
        assert result.exit_code == 1 and (f"{named}: is a JSON array, not JSON Lines (one object per line): "
                                          "convert it, e.g. with jq -c '.[]'") in result.output
    assert not list(tmp_path.glob("**/*labelled*"))


def test_nul_characters_are_kept_in_csv_output(tmp_path: Path) -> None:
    """CSV can hold NUL; Python's csv module (and this reader, labelling the output again) reads it back."""
    source = tmp_path / "a.jsonl"
    write_jsonl(source, [{"id": 1, "text": "Fair\u0000 point.", "extra": "\u0000"}])
    out = tmp_path / "out.csv"
    assert label(str(source), "--out", str(out), "--jobs", "1").exit_code == 0
    with open(out, newline="", encoding="utf-8") as handle:
        row = next(csv.DictReader(handle))
    assert row["text"] == "Fair\u0000 point." and row["extra"] == "\u0000"
    again = tmp_path / "again.jsonl"
    assert label(str(out), "--out", str(again), "--jobs", "1").exit_code == 0
    assert read_jsonl(again)[0]["text"] == "Fair\u0000 point."


def test_a_run_stopped_after_writing_its_output_leaves_nothing_to_resume(tmp_path: Path, trained_dir: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped between renaming the partial file to OUTPUT and removing the checkpoint, a run left a
    checkpoint that every later run tripped on ("use --resume", then "partial file missing") until
    --overwrite labelled everything again."""
    source, out = tmp_path / "a.jsonl", tmp_path / "out.jsonl"
    write_jsonl(source, comments(120))
    unlink = Path.unlink

    def stopped_at_the_checkpoint(path: Path, *args, **kwargs) -> None:
        if path.name.endswith(".partial.json"):
            raise KeyboardInterrupt  # as if killed here
        unlink(path, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", stopped_at_the_checkpoint)
    assert label(str(source), "--out", str(out), "--jobs", "1").exit_code == 1
    monkeypatch.undo()
    written = out.read_bytes()
    assert len(written.splitlines()) == 120 and out.with_name("out.jsonl.partial.json").exists()
    resumed = label(str(source), "--out", str(out), "--jobs", "1", "--resume")
    assert resumed.exit_code == 1 and "nothing to resume: " in resumed.output and "written in full" in resumed.output
    assert not out.with_name("out.jsonl.partial.json").exists() and out.read_bytes() == written
    again = label(str(source), "--out", str(out), "--jobs", "1")
    assert again.exit_code == 1 and "already exists" in again.output


def test_split_for_files_without_splits_is_refused(tmp_path: Path) -> None:
    """--split was ignored for a file, and every row labelled, as if the split had been chosen."""
    source = tmp_path / "a.jsonl"
    write_jsonl(source, comments(5))
    result = label(str(source), "--split", "test", "--jobs", "1")
    assert result.exit_code == 2 and "--split chooses a split of a `datasets` folder" in result.output
    assert not tmp_path.joinpath("a.labelled.jsonl").exists()


def test_a_csv_output_of_no_rows_has_a_header(tmp_path: Path) -> None:
    """An empty input wrote a CSV holding one empty line, which csv and pandas readers refuse or read as
    no columns."""
    source, out = tmp_path / "empty.jsonl", tmp_path / "out.csv"
    source.write_text("")
    assert label(str(source), "--out", str(out), "--jobs", "1").exit_code == 0
    with open(out, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[:5] == ["label", "scores.substantive", "scores.whataboutism", "scores.abusive", "stance"]
    assert {"decision", "model_version", "error"} <= set(header)


def test_a_bad_header_after_blank_lines_is_named_by_its_own_line(tmp_path: Path) -> None:
    """Since blank lines before a CSV header are skipped, a header naming a column twice was still
    reported at line 1."""
    source = tmp_path / "a.csv"
    source.write_text("\n\ntext,text\nhello,there\n")
    result = label(str(source), "--jobs", "1")
    assert result.exit_code == 1 and f"{source}:3: column 'text' appears twice in the header" in result.output


def test_a_run_stopped_before_any_row_was_labelled_does_not_offer_a_resume(tmp_path: Path, monkeypatch) -> None:
    """Its empty partial output is removed, so --resume would only answer "nothing to resume"."""
    import service.labelling

    def stopped(chunks, *args):
        raise KeyboardInterrupt
        yield

    source, out = tmp_path / "a.jsonl", tmp_path / "out.jsonl"
    write_jsonl(source, comments(5))
    original = service.labelling.label_locally
    monkeypatch.setattr(service.labelling, "label_locally", stopped)
    result = label(str(source), "--out", str(out), "--jobs", "1")
    assert result.exit_code == 1
    assert "interrupted before any row was labelled; nothing was written: run the same command again" in result.output
    assert "--resume" not in result.output and not list(tmp_path.glob("out*"))
    monkeypatch.setattr(service.labelling, "label_locally", original)
    assert label(str(source), "--out", str(out), "--jobs", "1").exit_code == 0


def test_a_flood_is_held_for_review_in_batches_too(moderator) -> None:
    """The batch labeller decides a flood ("idiot idiot …", read as substantive) as serving does."""
    from service.archive import Chunk
    from service.labelling import ChunkLabeller, Columns

    lines = [json.dumps({"id": 1, "text": "idiot " * 500}).encode(),
             json.dumps({"id": 2, "text": "Thank you for this careful report on the camps."}).encode()]
    data, _ = ChunkLabeller(moderator, {}, Columns()).label(Chunk("a.jsonl", [1, 2], lines=lines))
    flood, civil = (json.loads(line) for line in data.splitlines())
    assert flood["decision"] == "review" and civil["decision"] == "approve"


def test_sigterm_stops_a_run_as_ctrl_c_does_saying_how_to_go_on(tmp_path: Path) -> None:
    """systemd's stop, docker stop or timeout sent SIGTERM, and the run ended without a word."""
    source = tmp_path / "a.jsonl"
    rows = comments(20000)
    write_jsonl(source, rows)
    out = tmp_path / "o.jsonl"
    command = [sys.executable, "-m", "service.cli", "label", str(source), "--out", str(out), "--jobs", "1",
               "--chunk-rows", "100"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    checkpoint = out.with_name(out.name + ".partial.json")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # a chunk done
        if checkpoint.exists() and json.loads(checkpoint.read_text() or "{}").get("bytes_done", 0) > 0:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert not out.exists(), "the run finished before it could be stopped; make the input larger"
    assert process.returncode == 1 and "interrupted after" in stderr and "--resume" in stderr, stderr
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=600, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert [row["id"] for row in read_jsonl(out)] == [row["id"] for row in rows]
