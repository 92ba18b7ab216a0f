"""`moderate serve` refuses unsafe or impossible configurations before starting."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from service.cli import cli


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
