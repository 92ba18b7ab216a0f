"""`moderate validate` and the help text of every command."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from service.cli import cli


def test_validate_prints_the_numbers() -> None:
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 0, result.output
    assert "labelled set is valid" in result.output
    assert "by category:" in result.output and "'abusive':" in result.output


def test_validate_fails_with_file_line_field_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "articles.jsonl").write_text(json.dumps({"id": "a", "title": "t", "body": "b"}) + "\n")
    (tmp_path / "comments.jsonl").write_text(json.dumps(
        {"id": "1", "article_id": "zzz", "text": "hello there", "category": "nice", "stance": "supports",
         "rationale": "r", "source": "written"}) + "\n")
    result = CliRunner().invoke(cli, ["validate", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "comments.jsonl:1: field 'category': unknown label 'nice'" in result.output
    assert "comments.jsonl:1: field 'article_id': unknown article 'zzz'" in result.output
    assert "Traceback" not in result.output


def test_validate_missing_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", "--dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "articles.jsonl" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("present", ["articles.jsonl", ""])
def test_validate_names_a_missing_file_first_as_its_other_problems(tmp_path: Path, present: str) -> None:
    """It printed "error: [Errno 2] No such file or directory: '.../comments.jsonl'"."""
    if present:
        (tmp_path / present).write_text(json.dumps({"id": "a", "title": "t", "body": "b"}) + "\n")
    missing = tmp_path / ("comments.jsonl" if present else "articles.jsonl")
    result = CliRunner().invoke(cli, ["validate", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert f"error: {missing}: No such file or directory\n" in result.output, result.output
    assert "Errno" not in result.output


def test_validate_refuses_an_empty_dir_rather_than_reading_the_current_folder() -> None:
    """--dir "" validated the current folder, and said "[Errno 2] ... 'articles.jsonl'" without naming --dir."""
    result = CliRunner().invoke(cli, ["validate", "--dir", ""])
    assert result.exit_code == 2 and "'--dir': is empty" in result.output, result.output


def test_validate_names_a_file_given_as_dir_as_a_file(tmp_path: Path) -> None:
    """--dir naming a file said "no such folder"."""
    (tmp_path / "comments.jsonl").write_text("{}\n")
    result = CliRunner().invoke(cli, ["validate", "--dir", str(tmp_path / "comments.jsonl")])
    assert result.exit_code == 1 and "comments.jsonl: is a file, not a folder (give --dir" in result.output


def test_every_option_of_every_command_has_help() -> None:
    """`score --model` and the column flags of train, eval and label had none."""
    def options(group: click.Group, prefix: str = "") -> list[tuple[str, click.Option]]:
        found = []
        for name, command in sorted(group.commands.items()):
            if isinstance(command, click.Group):
                found += options(command, f"{prefix}{name} ")
            else:
                found += [(f"{prefix}{name}", p) for p in command.params if isinstance(p, click.Option)]
        return found

    assert [f"{name} {option.opts[0]}" for name, option in options(cli) if not option.help] == []


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output


def test_validate_names_bad_bytes_and_wrong_types_without_a_traceback(tmp_path: Path) -> None:
    article = json.dumps({"id": "a", "title": "t", "body": "b"}).encode()
    (tmp_path / "articles.jsonl").write_bytes(b"\xef\xbb\xbf" + article + b"\r\n")  # a BOM and CRLF: fine
    comment = {"id": "1", "article_id": {"a": 1}, "text": "hello there", "category": "abusive",
               "stance": "supports", "rationale": "r", "source": "written"}
    (tmp_path / "comments.jsonl").write_text(json.dumps(comment) + "\n")
    result = CliRunner().invoke(cli, ["validate", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "comments.jsonl:1: field 'article_id': must be text, got dict" in result.output
    (tmp_path / "comments.jsonl").write_bytes(json.dumps(comment).encode() + b"\n" + b'{"id": "caf\xe9"}\n')
    result = CliRunner().invoke(cli, ["validate", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "comments.jsonl:2: not valid UTF-8 (byte 0xe9 at column 12)" in result.output


def test_validate_reads_on_past_a_bad_line_and_every_count_adds_up(tmp_path: Path) -> None:
    (tmp_path / "articles.jsonl").write_text(json.dumps({"id": "a", "title": "t", "body": "b"}) + "\n")
    good = {"id": "1", "article_id": "a", "text": "hello there", "category": "abusive", "stance": "supports",
            "rationale": "r", "source": "written"}
    no_stance = {**good, "id": "2", "text": "a decision without a stance"}
    del no_stance["stance"]
    lines = [json.dumps(good), "{not json", json.dumps(no_stance), "[1, 2]", json.dumps(good), '{"id": ' + "1" * 5000 + "}"]
    (tmp_path / "comments.jsonl").write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli, ["validate", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "comments.jsonl:2: invalid JSON" in result.output  # reading used to stop here, counting 0 comments
    assert "comments.jsonl:3: field 'stance'" in result.output
    assert "comments.jsonl:4: expected a JSON object, found list" in result.output
    assert "comments.jsonl:6: invalid JSON (Exceeds the limit (4300 digits)" in result.output  # was a traceback
    assert "duplicate" in result.output and ":5" in result.output
    assert "comments: 3 " in result.output
    assert "by source: {'written': 3}" in result.output  # counted only with a stance before
    assert "'(missing)': 1" in result.output
