"""`moderate serve` refuses unsafe or impossible configurations before starting."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from model.artifact import DEFAULT_MODEL_DIR, verified_card
from service.cli import cli
from service.settings import Settings


def test_development_mode_refuses_a_public_interface(monkeypatch) -> None:
    monkeypatch.delenv("MODERATE_API_KEYS", raising=False)
    monkeypatch.delenv("MODERATE_ADMIN_KEYS", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "development mode only binds to loopback" in result.output


def test_missing_model_is_reported_before_starting(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--model", str(tmp_path)])
    assert result.exit_code == 1
    assert "no model card" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("variable, value, message", [
    ("MODERATE_PORT", "abc", "MODERATE_PORT: Input should be a valid integer"),
    ("MODERATE_WORKERS", "0", "MODERATE_WORKERS: Input should be greater than or equal to 1"),
    ("MODERATE_LOG_LEVEL", "verbose", "MODERATE_LOG_LEVEL: Value error, must be one of critical"),
    ("MODERATE_API_KEYS", ",", "MODERATE_API_KEYS: Value error, names no key"),
    ("MODERATE_HOST", "", "MODERATE_HOST: Value error, is empty"),  # was "only binds to loopback, not ;"
    ("MODERATE_HOST", " ", "MODERATE_HOST: Value error, is empty"),
    ("MODERATE_API_KEYS", "[nope", "MODERATE_API_KEYS: Value error, starts with '[' but is not a JSON list"),
    ("MODERATE_DATABASE_URL", "garbage", "cannot open the feedback database garbage (MODERATE_DATABASE_URL)"),
    ("MODERATE_DATABASE_URL", "postgresql://u:secret@h:abc/db", "postgresql://u:***@h:abc/db (MODERATE_DATABASE_URL)"),
])
def test_bad_settings_are_one_line_errors_naming_the_variable(tmp_path: Path, monkeypatch, variable: str,
                                                              value: str, message: str) -> None:
    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output and "secret" not in result.output


def test_a_data_dir_that_is_a_file_is_named(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path / "file"))
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1 and f"MODERATE_DATA_DIR: {tmp_path / 'file'} is a file" in result.output


def test_a_data_dir_that_cannot_be_created_is_named_as_the_variable(monkeypatch) -> None:
    """It said "/proc/nope: No such file or directory", leaving the operator to find where that came from."""
    monkeypatch.setenv("MODERATE_DATA_DIR", "/proc/nope/data")  # /proc takes no new folders, even from root
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1 and "MODERATE_DATA_DIR: /proc/nope/data cannot be created" in result.output


def test_a_corrupt_artifact_is_named_before_starting(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model)
    with open(verified_card(model)[1], "ab") as artifact:
        artifact.write(b"tampered")
    result = CliRunner().invoke(cli, ["serve", "--model", str(model)])
    assert result.exit_code == 1 and "does not match the card's" in result.output


def test_a_model_the_workers_could_not_load_is_named_before_starting(trained_dir: Path, tmp_path: Path,
                                                                   monkeypatch) -> None:
    import json

    model = tmp_path / "model"
    shutil.copytree(trained_dir, model)
    card = json.loads((model / "model_card.json").read_text())
    card["versions"]["scikit-learn"] = "0.1.0"
    (model / "model_card.json").write_text(json.dumps(card))
    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(cli, ["serve", "--model", str(model), "--port", "0"])
    assert result.exit_code == 1 and "model trained with scikit-learn 0.1.0" in result.output, result.output
    assert f"{model / 'model_card.json'}: model trained" in result.output  # which model: it may come from a variable
    assert "Traceback" not in result.output


def test_api_keys_as_a_json_list(monkeypatch) -> None:
    monkeypatch.setenv("MODERATE_API_KEYS", '["k1", "k,2"]')
    monkeypatch.setenv("MODERATE_ADMIN_KEYS", "")
    assert Settings().api_keys == ["k1", "k,2"] and Settings().admin_keys == []


@pytest.mark.parametrize("arguments, message", [
    (["--port", "70000"], "--port: Input should be less than or equal to 65535"),
    (["--workers", "0"], "--workers: Input should be greater than or equal to 1"),
])
def test_a_bad_flag_is_named_as_the_flag(monkeypatch, arguments: list[str], message: str) -> None:
    """A value given by a flag was named as the variable (MODERATE_PORT), which the operator never set."""
    monkeypatch.delenv("MODERATE_PORT", raising=False)
    monkeypatch.delenv("MODERATE_WORKERS", raising=False)
    result = CliRunner().invoke(cli, ["serve", *arguments])
    assert result.exit_code == 1 and message in result.output and "MODERATE_" not in result.output, result.output


@pytest.mark.parametrize("host, message", [("127.0.0.1", "in use"), ("nohost.invalid", "")])
def test_an_address_it_cannot_listen_on_is_named_before_loading_the_model(
        trained_dir: Path, tmp_path: Path, monkeypatch, host: str, message: str) -> None:
    """A port in use or a host that does not resolve stopped the server only after the model was loaded,
    with uvicorn's exit code 3 and, for the host, "[Errno -2] Name or service not known" naming nothing."""
    import socket

    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODERATE_API_KEYS", "k1")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--model", str(trained_dir), "--host", host, "--port", str(port)])
    assert result.exit_code == 1, result.output
    assert f"cannot listen on {host}:{port} (--host, --port): " in result.output and message in result.output
    assert "serving on" not in result.output


def test_an_empty_host_with_keys_is_refused_not_bound_to_every_interface(tmp_path: Path, monkeypatch) -> None:
    """MODERATE_HOST= (a variable set from an unset one) with API keys served on every interface."""
    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODERATE_API_KEYS", "k1")
    result = CliRunner().invoke(cli, ["serve", "--host", "", "--model", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "--host: Value error, is empty" in result.output, result.output
