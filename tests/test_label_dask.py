"""`moderate label --engine dask` on a real distributed.LocalCluster with two worker processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import cli
from test_label import BAD_LINES, comments, write_jsonl

distributed = pytest.importorskip("distributed", reason="the optional 'dask' extra is not installed")


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes, one thread each."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local_cluster:
        yield local_cluster


def test_dask_engine_output_equals_the_local_engine_row_by_row(tmp_path: Path, cluster, monkeypatch,
                                                                trained_dir: Path) -> None:
    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODERATE_MODEL_DIR", str(trained_dir))
    source = tmp_path / "a.jsonl"
    write_jsonl(source, comments(700), tuple(BAD_LINES))
    local, remote = tmp_path / "local.jsonl", tmp_path / "dask.jsonl"
    runner = CliRunner()
    assert runner.invoke(cli, ["label", str(source), "--out", str(local), "--jobs", "1",
                               "--chunk-rows", "64"]).exit_code == 0
    result = runner.invoke(cli, ["label", str(source), "--out", str(remote), "--engine", "dask",
                                 "--scheduler", cluster.scheduler_address, "--chunk-rows", "64"])
    assert result.exit_code == 0, result.output
    local_rows = [json.loads(line) for line in local.read_text().splitlines()]
    remote_rows = [json.loads(line) for line in remote.read_text().splitlines()]
    assert len(remote_rows) == 706
    for position, (expected, found) in enumerate(zip(local_rows, remote_rows)):
        assert found == expected, f"row {position} differs"


def test_unreachable_scheduler_is_a_one_line_error(tmp_path: Path, monkeypatch, trained_dir: Path) -> None:
    monkeypatch.setenv("MODERATE_MODEL_DIR", str(trained_dir))
    source = tmp_path / "a.jsonl"
    write_jsonl(source, comments(3))
    result = CliRunner().invoke(cli, ["label", str(source), "--engine", "dask",
                                      "--scheduler", "tcp://127.0.0.1:1", "--scheduler-timeout", "1"])
    assert result.exit_code == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in result.output


def test_a_cluster_without_workers_is_named_as_such(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path / "data"))  # the shipped model: no training to wait for
    source, out = tmp_path / "a.jsonl", tmp_path / "out.jsonl"
    write_jsonl(source, comments(3))
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None) as empty:
        result = CliRunner().invoke(cli, ["label", str(source), "--out", str(out), "--engine", "dask",
                                          "--scheduler", empty.scheduler_address, "--scheduler-timeout", "1"])
    assert result.exit_code == 1  # was "Error: : No valid workers found"
    assert f"the Dask cluster at {empty.scheduler_address} has no workers (waited 1 s)" in result.output
    assert not list(tmp_path.glob("out*"))


def test_a_chunk_failing_on_the_cluster_stops_the_run_in_one_line_and_resumes(tmp_path: Path, monkeypatch,
                                                                               trained_dir: Path) -> None:
    """An error raised on a worker (or a lost scheduler) was a traceback, or a bare 'ConnectionResetError';
    now a line naming the chunk's rows and the cluster, with the rows saved before it and --resume."""
    from service.labelling import ChunkLabeller

    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODERATE_MODEL_DIR", str(trained_dir))
    source, local, remote = tmp_path / "a.jsonl", tmp_path / "local.jsonl", tmp_path / "dask.jsonl"
    write_jsonl(source, comments(300))
    runner = CliRunner()
    assert runner.invoke(cli, ["label", str(source), "--out", str(local), "--jobs", "1",
                               "--chunk-rows", "64"]).exit_code == 0
    original = ChunkLabeller.label

    def failing(self, chunk):
        if chunk.numbers[0] > 128:
            raise ValueError("a bug met on a worker")
        return original(self, chunk)

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as threads:  # the patch reaches its worker
        command = ["label", str(source), "--out", str(remote), "--engine", "dask",
                   "--scheduler", threads.scheduler_address, "--chunk-rows", "64"]
        monkeypatch.setattr(ChunkLabeller, "label", failing)
        result = runner.invoke(cli, command)
        assert result.exit_code == 1 and result.exception.__class__ is SystemExit
        assert (f"Error: labelling {source}:129-192 failed on the Dask cluster at {threads.scheduler_address} "
                "(ValueError: a bug met on a worker) after 128 rows;") in result.output
        assert "Continue with the same command and --resume" in result.output
        monkeypatch.setattr(ChunkLabeller, "label", original)
        assert runner.invoke(cli, [*command, "--resume"]).exit_code == 0
    assert remote.read_bytes() == local.read_bytes()


def test_a_worker_that_cannot_load_this_code_is_named_not_waited_for(tmp_path: Path, monkeypatch) -> None:
    """Such a worker waited forever for the labeller it could not unpickle, and the run with it."""
    import os
    import subprocess
    import sys

    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path / "data"))  # the shipped model
    fake = tmp_path / "elsewhere" / "service"  # a worker machine without this package
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'service'\")\n")
    source, out = tmp_path / "a.jsonl", tmp_path / "out.jsonl"
    write_jsonl(source, comments(3))
    with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as empty:
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", empty.scheduler_address,
                                   "--nthreads", "1", "--no-nanny", "--no-dashboard"],
                                  env={**os.environ, "PYTHONPATH": str(fake.parent)}, cwd=tmp_path)
        try:
            result = CliRunner().invoke(cli, ["label", str(source), "--out", str(out), "--engine", "dask",
                                              "--scheduler", empty.scheduler_address, "--scheduler-timeout", "60"])
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    assert result.exit_code == 1 and result.exception.__class__ is SystemExit
    assert (f"1 of the 1 workers of the Dask cluster at {empty.scheduler_address} cannot load this package's "
            "code") in result.output
    assert "ModuleNotFoundError" in result.output and "No module named 'service'" in result.output
    assert not list(tmp_path.glob("out*"))
