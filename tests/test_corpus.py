"""The seed parser against the real seed files."""

from __future__ import annotations

import hashlib

import pytest

from model.corpus import load_articles, parse_seed_directory, parse_seed_document, read_jsonl
from model.errors import DataError
from seeds import SEEDS_DIR

THREAD_FILE = SEEDS_DIR / "003_2d5113ef618b1c85.txt"
SEED_SHA256 = {
    "000_2218ea954f29c390.txt": "e9057d325084b3269f4648b27f327c37afce0792b2f4386eb686554dbd70f7a4",
    "001_98d380dc0ac85f86.txt": "8fc26f07fadc3e4f8a745018e7d40c6020bcec8bf7e6efe0489266031efa0b6a",
    "002_9312dada7992c6ed.txt": "9f46a895b5b1902500881ebe6b74daa0e4b6b1c02565de563e86b4f55f2a0f0e",
    "003_2d5113ef618b1c85.txt": "7b3808713198a869c3e71a91df487e692099eedea36639d3a3476adda22a4076",
    "004_8310c00d6e5db9ce.txt": "eaca3dac79ad266c8f7ffbcc894b8534d56a57563002ad8815bd232fb4d4b9fc",
}


def test_seed_documents_are_unchanged() -> None:
    for name, digest in SEED_SHA256.items():
        assert hashlib.sha256((SEEDS_DIR / name).read_bytes()).hexdigest() == digest, name


def test_thread_has_every_entry_including_empty_ones() -> None:
    comments = parse_seed_document(THREAD_FILE).comments
    assert len(comments) == 13
    assert [c.index for c in comments if c.is_empty] == [3, 7, 8]
    assert all(c.text == "" for c in comments if c.is_empty)
    assert sum(not c.is_empty for c in comments) == 10


def test_thread_authors_and_dates() -> None:
    comments = parse_seed_document(THREAD_FILE).comments
    authors = {c.index: c.author for c in comments if c.author}
    assert authors == {4: "Emmett Conrecode", 6: "Luke Nguyen", 7: "average joe",
                       12: "friend in san francisco"}
    assert comments[0].posted_at == "2014-02-12T14:05:00"
    assert comments[7].posted_at == "2012-12-15T17:53:00"
    assert comments[-1].posted_at == "2012-04-13T16:39:00"
    assert [c.posted_at for c in comments] == sorted((c.posted_at for c in comments), reverse=True)


def test_thread_first_and_last_text() -> None:
    comments = parse_seed_document(THREAD_FILE).comments
    assert comments[0].text.startswith("Robert, thank you so much for your hard work")
    assert comments[0].text.endswith("Keep up the good work!")
    assert comments[-1].text.startswith("Hi Robert, I am so very happy")
    assert comments[-1].text.endswith("Godspeed and love you and the North Korean people!!")
    assert "North Korea's crimes pale next to" in comments[2].text  # a two-paragraph comment


def test_article_is_separated_from_thread() -> None:
    article = parse_seed_document(THREAD_FILE).article
    assert article.title == "Time to End North Korea “Genocide”"
    assert article.body.endswith("is clear and incontestable.")
    assert "February 12, 2014" not in article.body


@pytest.mark.parametrize("document", parse_seed_directory(SEEDS_DIR), ids=lambda d: d.article.id)
def test_every_seed_parses_into_an_article(document) -> None:
    assert document.article.title and len(document.article.body) > 1000
    assert len(document.article.title) <= 151


def test_seed_articles_in_labelled_set_match_the_parser() -> None:
    shipped = load_articles(SEEDS_DIR / "articles.jsonl")
    for document in parse_seed_directory(SEEDS_DIR):
        assert shipped[document.article.id].title == document.article.title
        assert shipped[document.article.id].body == document.article.body


def test_read_jsonl_names_every_line_json_gives_up_on(tmp_path) -> None:
    """An integer of 5,000 digits and a line nested 5,000 deep were a ValueError and a RecursionError
    with no file or line; with ``problems`` each bad line is noted and the reading goes on."""
    path = tmp_path / "rows.jsonl"
    lines = ['{"n": ' + "1" * 5000 + "}", "[" * 5000 + "]" * 5000, '{"ok": 1}', "{broken", "[1]"]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"rows.jsonl:1: invalid JSON \(Exceeds the limit \(4300 digits\)"):
        list(read_jsonl(path))
    problems: list[str] = []
    assert list(read_jsonl(path, problems)) == [(3, {"ok": 1})]
    assert [p.split(": ", 1)[1] for p in problems] == [
        "invalid JSON (Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits)",
        "invalid JSON (nested too deeply)", "invalid JSON (Expecting property name enclosed in double quotes)",
        "expected a JSON object, found list"]
