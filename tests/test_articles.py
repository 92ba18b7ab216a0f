"""The article store: registrations survive torn lines, bad lines and other workers' writes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from model.errors import UnknownArticleError
from service.articles import REGISTERED_FILE, ArticleStore


def test_a_registration_after_a_torn_last_line_survives_a_restart(tmp_path: Path) -> None:
    (tmp_path / REGISTERED_FILE).write_text('{"id": "kept", "title": "T", "body": "B"}\n{"id": "torn", "title": "t", "bo')
    ArticleStore(tmp_path).register("after", "Title", "Body")
    restarted = ArticleStore(tmp_path)
    assert restarted.get("after").title == "Title" and restarted.get("kept").body == "B"
    with pytest.raises(UnknownArticleError):
        restarted.get("torn")


def test_an_unterminated_last_line_is_kept_with_the_next_registration(tmp_path: Path) -> None:
    (tmp_path / REGISTERED_FILE).write_text('{"id": "hand-edited", "title": "T", "body": "B"}')
    ArticleStore(tmp_path).register("next", "Title", "Body")
    restarted = ArticleStore(tmp_path)
    assert restarted.get("hand-edited").title == "T" and restarted.get("next").title == "Title"


def test_bad_lines_are_skipped_and_named_with_their_line(tmp_path: Path, caplog) -> None:
    lines = ['{"id": "bad1", "title": 5}', "[1, 2, 3]", '"just a string"', '{"id": ["l"], "title": "t", "body": "b"}',
             '{"id": "good", "title": "T", "body": "B"}']
    (tmp_path / REGISTERED_FILE).write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="service.articles"):
        store = ArticleStore(tmp_path)
    assert store.get("good").title == "T"
    assert [record.getMessage().split(": skipped, ")[0] for record in caplog.records] == [
        f"{tmp_path / REGISTERED_FILE}:{n}" for n in (1, 2, 3, 4)]
    assert "field 'title' must be text, got int" in caplog.records[0].getMessage()


def test_a_replacement_by_another_worker_is_seen(tmp_path: Path) -> None:
    this_worker, other_worker = ArticleStore(tmp_path), ArticleStore(tmp_path)
    this_worker.register("flip", "Gardening tips", "Roses.")
    assert other_worker.get("flip").title == "Gardening tips"
    this_worker.register("flip", "Prisons", "Cells.")
    assert other_worker.get("flip").title == "Prisons"
    assert json.loads((tmp_path / REGISTERED_FILE).read_text().splitlines()[-1])["title"] == "Prisons"


def test_a_registration_replacing_another_workers_says_so(tmp_path: Path) -> None:
    """A worker that had not read another's registration of the id called its own "created" (201)."""
    this_worker, other_worker = ArticleStore(tmp_path), ArticleStore(tmp_path)
    assert this_worker.register("same", "Gardening tips", "Roses.")[1] is True
    assert other_worker.register("same", "Prisons", "Cells.")[1] is False
    assert this_worker.register("same", "Gardening tips", "Roses.")[1] is False


def test_a_seed_article_cannot_be_replaced_by_a_registration_or_a_hand_edit(tmp_path: Path, caplog) -> None:
    from service.articles import SeedArticleError

    seed_id = "003_2d5113ef618b1c85"
    store = ArticleStore(tmp_path)
    shipped = store.get(seed_id)
    with pytest.raises(SeedArticleError, match="is a shipped seed article and cannot be replaced"):
        store.register(seed_id, "Gardening tips", "Roses.")
    (tmp_path / REGISTERED_FILE).write_text(json.dumps({"id": seed_id, "title": "Edited", "body": "B"}) + "\n")
    with caplog.at_level(logging.WARNING, logger="service.articles"):
        assert ArticleStore(tmp_path).get(seed_id) == shipped
    assert f"{REGISTERED_FILE}:1: skipped, '{seed_id}' is a shipped seed article" in caplog.text


def test_registering_an_article_as_it_stands_writes_nothing(tmp_path: Path) -> None:
    """A site that registers its article before each comment it sends grew the file by a line (and an
    fsync) a comment; an unchanged article is now known, not appended again, even from another worker."""
    this_worker, other_worker = ArticleStore(tmp_path), ArticleStore(tmp_path)
    assert this_worker.register("a1", "Title", "Body.")[1] is True
    for store in (this_worker, other_worker, this_worker):
        article, created = store.register("a1", "Title", "Body.")
        assert not created and article.body == "Body."
    assert len((tmp_path / REGISTERED_FILE).read_text().splitlines()) == 1
    assert other_worker.register("a1", "Title", "Body, edited.")[1] is False
    assert [json.loads(line)["body"] for line in (tmp_path / REGISTERED_FILE).read_text().splitlines()] == [
        "Body.", "Body, edited."]
    assert this_worker.get("a1").body == "Body, edited."
