"""Moderator feedback: stored once, updated with history, never lost; the review queue; export and
retraining. Every store test runs on SQLite and, when a server is available, on real PostgreSQL."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from service.app import create_app
from service.cli import cli
from service.feedback import (
    SQLITE_FILE,
    Decision,
    DecisionConflict,
    FeedbackStore,
    Queued,
    StoreError,
    database_url,
    metadata,
)
from service.settings import Settings

ARTICLE_ID = "003_2d5113ef618b1c85"
NO_POSTGRES = ("no PostgreSQL server: set MODERATE_TEST_DATABASE_URL (the README's test command sources "
               ".ci/system-deps, which installs and starts one on Debian)")


def postgres_url() -> str:
    """The test server's URL, in a schema of this test worker's own (xdist workers run side by side),
    with the tables dropped; skip with the reason when there is no server."""
    url = os.environ.get("MODERATE_TEST_DATABASE_URL")
    if not url:
        pytest.skip(NO_POSTGRES)
    try:
        url = _worker_schema(url)
        store = FeedbackStore(url)
    except Exception as error:  # noqa: BLE001 - any failure to connect means: no server here
        pytest.skip(f"{NO_POSTGRES} ({error})")
    metadata.drop_all(store.engine)
    store.close()
    return url


def _worker_schema(url: str) -> str:
    """``url`` with its search path set to a schema named after the xdist worker, created if missing."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = "moderate_" + os.environ.get("PYTEST_XDIST_WORKER", "main")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        engine.dispose()
    return make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path: Path) -> str:
    return database_url(None, tmp_path) if request.param == "sqlite" else postgres_url()


@pytest.fixture
def store(store_url: str):
    opened = FeedbackStore(store_url)
    yield opened
    opened.close()


def decision(comment_id: str = "c1", category: str = "abusive", **changes) -> Decision:
    return Decision(**{"comment_id": comment_id, "text": "You are an idiot.", "category": category,
                       "moderator": "ana", "article_id": ARTICLE_ID, "stance": None, "note": None, **changes})


def queued(comment_id: str, top: float) -> Queued:
    rest = (1 - top) / 2
    return Queued(comment_id, f"comment {comment_id}", ARTICLE_ID, "Title", "substantive",
                  {"substantive": top, "whataboutism": rest, "abusive": rest}, "neutral",
                  {"supports": 0.3, "disputes": 0.3, "neutral": 0.4}, ["low_confidence"],
                  [{"feature": "comment", "weight": 0.5}], "v1")


def test_same_decision_twice_is_stored_once_and_a_change_keeps_history(store) -> None:
    assert store.record(decision()) == ("created", 1)
    assert store.record(decision()) == ("unchanged", 1)
    assert store.record(decision(category="substantive", stance="disputes")) == ("updated", 2)
    stored = store.decision("c1")
    assert stored["category"] == "substantive" and stored["revision"] == 2
    assert [(v["revision"], v["category"]) for v in stored["history"]] == [(1, "abusive"), (2, "substantive")]
    assert store.count() == 1


def test_a_decision_on_a_revision_no_longer_current_replaces_nothing(store) -> None:
    """Two moderators on one comment: the second, deciding on the undecided comment it was shown
    (expected_revision 0), is refused and told who decided, instead of silently replacing it."""
    assert store.record(decision(moderator="ana"), expected_revision=0) == ("created", 1)
    assert store.record(decision(moderator="ana"), expected_revision=0) == ("unchanged", 1)  # a retry
    with pytest.raises(DecisionConflict, match="comment_id 'c1' was decided abusive by ana \\(revision 1\\) since "
                                               "revision 0"):
        store.record(decision(category="substantive", moderator="ben"), expected_revision=0)
    with pytest.raises(DecisionConflict, match="comment_id 'c2' has no decision, not revision 1"):
        store.record(decision("c2"), expected_revision=1)
    assert store.decision("c1")["moderator"] == "ana" and store.decision("c2") is None
    assert store.record(decision(category="substantive", moderator="ben"), expected_revision=1) == ("updated", 2)
    assert store.record(decision(category="whataboutism", moderator="cy")) == ("updated", 3)  # none given: as before


def test_an_empty_note_and_no_note_are_the_same_decision(store) -> None:
    """Resending a decision with note "" and then null stored a new revision each time."""
    assert store.record(decision(note="")) == ("created", 1)
    assert store.record(decision(note=None)) == ("unchanged", 1)
    assert store.record(decision(note="")) == ("unchanged", 1)
    assert store.record(decision(note="  \n")) == ("unchanged", 1)  # a blank note made a revision too
    assert store.decision("c1")["note"] is None
    assert store.record(decision(note="insults the author")) == ("updated", 2)


def test_queue_lists_most_uncertain_first_and_decided_comments_leave_it(store) -> None:
    assert store.enqueue([queued("a", 0.9), queued("b", 0.4), queued("c", 0.6)]) == 3
    assert [item["comment_id"] for item in store.queue()] == ["b", "c", "a"]
    store.record(decision("b"))
    assert [item["comment_id"] for item in store.queue()] == ["c", "a"]
    assert store.enqueue([queued("b", 0.3)]) == 0, "a decided comment is not queued again"
    assert store.queue()[0]["scores"]["substantive"] == 0.6


def test_a_queue_row_left_beside_a_decision_is_never_listed(store) -> None:
    """On PostgreSQL, a comment queued (by /v1/moderate) while a moderator decides it could keep its
    queue row: the enqueue read no decision, the decision deleted no row yet, and both committed. That
    is the row inserted here; the queue listed and counted it though the comment was decided."""
    from sqlalchemy import insert

    from service.feedback import _queue_row, review_queue

    store.enqueue([queued("open", 0.5)])
    store.record(decision("raced"))
    with store.engine.begin() as connection:
        connection.execute(insert(review_queue), [_queue_row(queued("raced", 0.4))])
    assert [item["comment_id"] for item in store.queue()] == ["open"]
    assert store.queue_page(limit=1, offset=0)[1] == 1 and store.queue_page(limit=5, offset=5) == ([], 1)


def test_the_queue_pages_through_every_comment_once(store) -> None:
    store.enqueue([queued(f"q{n}", 0.35 + n / 100) for n in range(7)])
    pages = [store.queue(limit=3, offset=offset) for offset in (0, 3, 6, 9)]
    assert [[item["comment_id"] for item in page] for page in pages] == [
        ["q0", "q1", "q2"], ["q3", "q4", "q5"], ["q6"], []]
    assert store.queue_page(limit=3, offset=3) == (pages[1], 7)
    assert store.queue_page(limit=3, offset=9) == ([], 7)
    assert "queue_total" not in pages[0][0]


def test_a_write_behind_a_long_held_sqlite_lock_fails_in_seconds_not_minutes(tmp_path: Path, monkeypatch) -> None:
    import sqlite3

    import service.feedback

    monkeypatch.setattr(service.feedback, "LOCK_WAIT_SECONDS", 1)
    store = FeedbackStore(database_url(None, tmp_path))
    holder = sqlite3.connect(tmp_path / SQLITE_FILE, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program holding the write lock (a backup, a shell)
    started = time.monotonic()
    try:
        with pytest.raises(StoreError, match="busy or failing: .*locked"):
            store.record(decision())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert time.monotonic() - started < 5
    assert store.record(decision()) == ("created", 1)
    store.close()


def test_one_id_twice_in_a_batch_is_queued_once_as_the_last(store) -> None:
    assert store.enqueue([queued("dup", 0.9), queued("other", 0.5), queued("dup", 0.4)]) == 2
    assert {item["comment_id"]: item["scores"]["substantive"] for item in store.queue()} == {"dup": 0.4, "other": 0.5}


def test_a_nul_character_is_stored_as_the_replacement_character_on_every_database(store) -> None:
    """PostgreSQL's text holds no NUL ("\\x00", which JSON carries as "\\u0000" and /v1/moderate scores):
    queueing or deciding such a comment was a 500 there, and SQLite kept what PostgreSQL could not."""
    item = queued("nul", 0.4)
    assert store.enqueue([Queued(**{**item.__dict__, "text": "hmm\x00 ok", "article_title": "T\x00"})]) == 1
    [stored] = store.queue()
    assert (stored["text"], stored["article_title"]) == ("hmm\ufffd ok", "T\ufffd")
    sent = decision("c1", text="You\x00 idiot.", moderator="ana\x00", note="\x00")
    assert store.record(sent) == ("created", 1)
    assert store.record(sent) == ("unchanged", 1)
    kept = store.decision("c1")
    assert (kept["text"], kept["moderator"], kept["note"]) == ("You\ufffd idiot.", "ana\ufffd", "\ufffd")


def test_concurrent_writers_lose_nothing(store, store_url: str) -> None:
    def write(worker: int) -> None:
        local = FeedbackStore(store_url)
        for n in range(25):
            local.record(decision(f"w{worker}-{n}"))
            local.record(decision("shared", category="substantive", note=f"{worker}-{n}"))
        local.close()
    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.count() == 8 * 25 + 1
    shared = store.decision("shared")
    assert [v["revision"] for v in shared["history"]] == list(range(1, shared["revision"] + 1))
    assert shared["revision"] == 8 * 25


def _write_from_process(url: str, worker: int) -> None:
    store = FeedbackStore(url)
    for n in range(30):
        store.record(decision(f"p{worker}-{n}"))
    store.close()


def test_several_processes_write_to_one_store(store, store_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write_from_process, args=(store_url, w)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    assert store.count() == 4 * 30


WRITER = """
import sys
from service.feedback import Decision, FeedbackStore
store = FeedbackStore(sys.argv[1])
n = 0
while True:
    store.record(Decision(f"k{n}", "text", "abusive", "ana"))
    print(f"k{n}", flush=True)
    n += 1
"""


def test_every_acknowledged_decision_survives_a_kill_mid_write(store, store_url: str) -> None:
    process = subprocess.Popen([sys.executable, "-c", WRITER, store_url], stdout=subprocess.PIPE, text=True)
    acknowledged = []
    while len(acknowledged) < 60:
        acknowledged.append(process.stdout.readline().strip())
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    acknowledged += [line.strip() for line in process.stdout.read().splitlines() if line.strip()]
    reopened = FeedbackStore(store_url)
    missing = [cid for cid in acknowledged if reopened.decision(cid) is None]
    reopened.close()
    assert not missing


@pytest.fixture
def client(tmp_path: Path):
    settings = Settings(api_keys=["key"], data_dir=tmp_path / "data")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


KEY = {"X-API-Key": "key"}


def test_feedback_endpoint_stores_updates_and_reports(client) -> None:
    body = {"comment_id": 7, "text": "And what about Iraq?", "article_id": ARTICLE_ID,
            "category": "whataboutism", "stance": "disputes", "moderator": "ana"}
    first = client.post("/v1/feedback", json=body, headers=KEY)
    assert first.status_code == 201 and first.json() == {"comment_id": "7", "status": "created", "revision": 1}
    again = client.post("/v1/feedback", json=body, headers=KEY)
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
    changed = client.post("/v1/feedback", json=body | {"category": "substantive"}, headers=KEY)
    assert changed.json() == {"comment_id": "7", "status": "updated", "revision": 2}
    stored = client.get("/v1/feedback/7", headers=KEY).json()
    assert [v["category"] for v in stored["history"]] == ["whataboutism", "substantive"]
    assert client.get("/v1/feedback/unknown", headers=KEY).status_code == 404


def test_a_second_moderator_on_a_decided_comment_gets_409_naming_the_first(client) -> None:
    body = {"comment_id": "q1", "text": "And Iraq?", "category": "whataboutism", "moderator": "ana",
            "expected_revision": 0}
    assert client.post("/v1/feedback", json=body, headers=KEY).status_code == 201
    late = client.post("/v1/feedback", json=body | {"category": "substantive", "moderator": "ben"}, headers=KEY)
    assert late.status_code == 409 and "decided whataboutism by ana (revision 1)" in late.json()["error"]
    assert client.get("/v1/feedback/q1", headers=KEY).json()["moderator"] == "ana"
    negative = client.post("/v1/feedback", json=body | {"expected_revision": -1}, headers=KEY)
    assert negative.status_code == 422 and negative.json()["detail"][0]["field"] == "expected_revision"


@pytest.mark.parametrize("change, field", [
    ({"category": "rude"}, "category"), ({"moderator": ""}, "moderator"), ({"text": "   "}, "text"),
    ({"stance": "angry"}, "stance"), ({"extra": 1}, "extra"), ({"comment_id": None}, "comment_id"),
    ({"comment_id": ""}, "comment_id"), ({"comment_id": "x" * 201}, "comment_id"), ({"text": "x" * 20_001}, "text"),
    ({"comment_id": "   "}, "comment_id"),  # was stored (201) while a blank text or moderator was refused
    ({"article_id": "no-such-article"}, "article_id"), ({"article_id": "  "}, "article_id"),  # /v1/moderate's 422
])
def test_bad_feedback_names_the_field(client, change: dict, field: str) -> None:
    body = {"comment_id": "x", "text": "t", "category": "abusive", "moderator": "ana"} | change
    response = client.post("/v1/feedback", json=body, headers=KEY)
    assert response.status_code == 422 and field in response.json()["error"]


def test_a_decision_names_a_seed_or_registered_article_or_none(client) -> None:
    """An unknown article_id was stored (201) while /v1/moderate refused it; none stays accepted (a
    decision may name no article)."""
    body = {"comment_id": "x", "text": "t", "category": "abusive", "moderator": "ana", "article_id": "mine"}
    unknown = client.post("/v1/feedback", json=body, headers=KEY)
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "article_id"
    moderated = client.post("/v1/moderate", json={"comments": [{"text": "t", "article_id": "mine"}]}, headers=KEY)
    assert moderated.status_code == 422
    registered = client.post("/v1/articles", json={"id": "mine", "title": "T", "body": "B"}, headers=KEY)
    assert registered.status_code == 201
    assert client.post("/v1/feedback", json=body, headers=KEY).status_code == 201
    assert client.post("/v1/feedback", json=body | {"comment_id": "y", "article_id": ARTICLE_ID},
                       headers=KEY).status_code == 201
    assert client.post("/v1/feedback", json=body | {"comment_id": "z", "article_id": None},
                       headers=KEY).status_code == 201


def test_ids_with_slashes_are_read_back(client) -> None:
    body = {"comment_id": "thread/42/c7", "text": "t", "category": "abusive", "moderator": "ana"}
    assert client.post("/v1/feedback", json=body, headers=KEY).status_code == 201
    assert client.get("/v1/feedback/thread/42/c7", headers=KEY).json()["category"] == "abusive"


def test_a_comment_as_long_as_the_service_allows_can_be_decided(tmp_path: Path) -> None:
    settings = Settings(api_keys=["key"], data_dir=tmp_path / "data", max_comment_chars=50_000)
    body = {"comment_id": "long", "text": "word " * 6_300, "category": "substantive", "moderator": "ana"}
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/feedback", json=body, headers=KEY).status_code == 201


def test_feedback_needs_a_key(client) -> None:
    body = {"comment_id": "x", "text": "t", "category": "abusive", "moderator": "ana"}
    assert client.post("/v1/feedback", json=body).status_code == 401
    assert client.get("/v1/queue").status_code == 401


def test_moderate_with_queue_puts_review_decisions_in_the_queue(client) -> None:
    comments = [{"id": "civil", "text": "Thank you for this careful report.", "article_id": ARTICLE_ID},
                {"id": "unsure", "text": "hmm", "article_id": ARTICLE_ID},
                {"text": "Typical. And what about the camps your own country ran?"}]
    response = client.post("/v1/moderate", json={"comments": comments, "queue": True}, headers=KEY).json()
    reviewed = [r for r in response["results"] if r["decision"] == "review"]
    assert response["queued"] == len(reviewed) >= 1
    page = client.get("/v1/queue", headers=KEY).json()
    items = page["items"]
    assert len(items) == len(reviewed) == page["total"] and page["offset"] == 0
    assert client.get("/v1/queue?offset=1&limit=1", headers=KEY).json()["items"] == items[1:2]
    assert client.get("/v1/queue?offset=-1", headers=KEY).status_code == 422
    too_far = client.get(f"/v1/queue?offset={2**63}", headers=KEY)  # was a 500: beyond SQLite's integers
    assert too_far.status_code == 422 and "offset" in too_far.json()["error"]
    assert client.get(f"/v1/queue?offset={2**62}", headers=KEY).json()["items"] == []
    assert [i["uncertainty"] for i in items] == sorted((i["uncertainty"] for i in items), reverse=True)
    assert "civil" not in {i["comment_id"] for i in items}
    first = items[0]
    client.post("/v1/feedback", json={"comment_id": first["comment_id"], "text": first["text"],
                                      "category": "substantive", "moderator": "ana"}, headers=KEY)
    assert first["comment_id"] not in {i["comment_id"] for i in client.get("/v1/queue", headers=KEY).json()["items"]}
    without = client.post("/v1/moderate", json={"comments": comments}, headers=KEY).json()
    assert without.get("queued") is None


def test_a_decision_on_a_comment_queued_with_its_article_inline_trains_with_that_article(client, tmp_path) -> None:
    """The queue kept only an inline article's title, so the review page's decision named no article
    and retraining read the comment without one; the article is now registered under an id of its text."""
    from service.articles import ArticleStore
    from training.sources import LabelledData, merge_feedback

    article = {"title": "Camps", "body": "North Korea's prison camps hold thousands of people."}
    comments = [{"id": f"c{n}", "text": text, "article": article}
                for n, text in enumerate(["hmm", "Typical. And what about the camps your own country ran?", "ok then"])]
    queued = client.post("/v1/moderate", json={"comments": comments, "queue": True}, headers=KEY).json()["queued"]
    items = client.get("/v1/queue", headers=KEY).json()["items"]
    assert queued == len(items) >= 1
    article_id = items[0]["article_id"]
    assert article_id.startswith("inline-") and {i["article_id"] for i in items} == {article_id}
    assert items[0]["article_title"] == "Camps"
    registered = (tmp_path / "data" / "articles.jsonl").read_bytes()
    client.post("/v1/moderate", json={"comments": comments, "queue": True}, headers=KEY)
    assert (tmp_path / "data" / "articles.jsonl").read_bytes() == registered  # once, however often it is sent
    decision = {"comment_id": items[0]["comment_id"], "text": items[0]["text"], "category": "whataboutism",
                "moderator": "ana", "article_id": article_id}
    assert client.post("/v1/feedback", json=decision, headers=KEY).status_code == 201
    store = FeedbackStore(database_url(None, tmp_path / "data"))
    try:
        merged, _, _ = merge_feedback(LabelledData([], []), store.checked_decisions(),
                                      ArticleStore(tmp_path / "data").texts(), "store")
    finally:
        store.close()
    assert merged.records[0]["article"] == "Camps\n\nNorth Korea's prison camps hold thousands of people."
    assert merged.records[0]["group"] == article_id


def test_a_decision_on_an_inline_article_keeps_the_group_its_labelled_row_shares(tmp_path) -> None:
    """A --data row giving its article by title and body is grouped by a hash of that text; the
    decision's inline- id for the same article moved the row out of its siblings' group (the split and
    folds could leak across one article) and was reported as another article."""
    from service.articles import ArticleStore
    from training.sources import ColumnMap, load_source, merge_feedback

    rows = tmp_path / "mine.jsonl"
    rows.write_text("".join(json.dumps({"id": f"c{n}", "text": text, "category": "substantive",
                                        "article_title": "Camps", "article_body": "Prison camps hold thousands."})
                            + "\n" for n, text in enumerate(["Good report.", "Thank you."])))
    articles = ArticleStore(tmp_path)
    inline = articles.register_inline("Camps", "Prison camps hold thousands.")
    labelled = load_source(str(rows), ColumnMap(), articles.texts())
    decided = {"comment_id": "c0", "text": "Good report.", "category": "abusive", "stance": None,
               "article_id": inline, "moderator": "ana"}
    merged, _, differences = merge_feedback(labelled, [decided], articles.texts(), "store")
    assert merged.records[0]["group"] == merged.records[1]["group"] == labelled.records[0]["group"]
    assert merged.records[0]["category"] == "abusive" and differences == []


def test_an_inline_article_that_cannot_be_registered_is_not(tmp_path) -> None:
    from service.articles import ArticleStore, inline_article_id

    articles = ArticleStore(tmp_path)
    assert articles.register_inline("  ", "body") is None  # blank: not an article anyone could register
    assert articles.register_inline("Title", "half a pair \ud800") is None  # no UTF-8 file can hold it
    taken = inline_article_id("Title", "Body")
    articles.register(taken, "Someone else's", "article under that id")
    assert articles.register_inline("Title", "Body") is None
    assert inline_article_id("Title", "Body, another") != taken
    assert articles.register_inline("Title", "Body, another") == inline_article_id("Title", "Body, another")
    assert ArticleStore(tmp_path).get(inline_article_id("Title", "Body, another")).body == "Body, another"


def test_a_comment_is_queued_without_its_inline_article_when_the_disk_is_full(client, monkeypatch) -> None:
    import service.articles

    def full(path, line):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(service.articles, "_append_line", full)
    article = {"title": "Camps", "body": "North Korea's prison camps hold thousands of people."}
    comments = [{"id": f"c{n}", "text": text, "article": article}
                for n, text in enumerate(["hmm", "Typical. And what about the camps your own country ran?"])]
    response = client.post("/v1/moderate", json={"comments": comments, "queue": True}, headers=KEY)
    assert response.status_code == 200 and response.json()["queued"] >= 1  # not a 500
    assert {i["article_id"] for i in client.get("/v1/queue", headers=KEY).json()["items"]} == {None}


def test_an_inline_id_cannot_be_registered_by_hand(client) -> None:
    """inline-<hash> names an article by its text: registering other text under it would retrain the
    decisions that name it on the wrong article."""
    body = {"id": "inline-0123456789abcdef", "title": "T", "body": "B"}
    response = client.post("/v1/articles", json=body, headers=KEY)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "id"
    assert client.post("/v1/articles", json=body | {"id": "mine"}, headers=KEY).status_code == 201


def test_an_id_the_database_cannot_keep_is_refused_naming_the_field(client, store) -> None:
    """An integer id of over 200 digits and an id or article id holding NUL were accepted (201), and
    PostgreSQL then answered 500: its id columns hold 200 characters and its text no NUL."""
    body = {"comment_id": 10**250, "text": "You idiot.", "category": "abusive", "moderator": "ana"}
    for comment_id in (10**250, -10**199, "c\x00"):
        refused = client.post("/v1/feedback", json=body | {"comment_id": comment_id}, headers=KEY)
        assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "comment_id"
        moderated = client.post("/v1/moderate", json={"comments": [{"id": comment_id, "text": "hmm"}],
                                                      "queue": True}, headers=KEY)
        assert moderated.status_code == 422 and moderated.json()["detail"][0]["field"] == "comments[0].id"
    assert client.post("/v1/feedback", json=body | {"comment_id": 10**199}, headers=KEY).status_code == 201
    article = client.post("/v1/articles", json={"id": "a\x00", "title": "T", "body": "B"}, headers=KEY)
    assert article.status_code == 422 and article.json()["detail"][0]["field"] == "id"
    assert client.get("/v1/feedback/c%00", headers=KEY).status_code == 404
    assert store.decision("c\x00") is None  # was a 500 on PostgreSQL


def test_a_blank_moderator_is_refused(client) -> None:
    body = {"comment_id": "x", "text": "You idiot.", "category": "abusive", "moderator": "  "}
    response = client.post("/v1/feedback", json=body, headers=KEY)
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "moderator"


def test_a_lone_surrogate_is_stored_as_the_replacement_character(client) -> None:
    """JSON can carry half a UTF-16 pair ("\\ud800"), which no UTF-8 database takes: it was a 500."""
    comments = [{"id": "half", "text": "\ud800 and what about the others?"}, {"id": "hmm", "text": "hmm \udfff"}]
    escaped = {**KEY, "Content-Type": "application/json"}  # json.dumps escapes it; a client's encoder may not
    response = client.post("/v1/moderate", content=json.dumps({"comments": comments, "queue": True}), headers=escaped)
    assert response.status_code == 200
    queued = {item["comment_id"]: item["text"] for item in client.get("/v1/queue", headers=KEY).json()["items"]}
    assert response.json()["queued"] == len(queued) >= 1
    assert set(queued.values()) <= {"\ufffd and what about the others?", "hmm \ufffd"}
    body = {"comment_id": "half\ud800", "text": "You \ud800 idiot.", "category": "abusive", "moderator": "ana"}
    for field in ("text", "comment_id"):  # a decision's fields are refused, naming the field
        refused = client.post("/v1/feedback", content=json.dumps(body), headers=escaped)
        assert refused.status_code == 422 and field in {d["field"] for d in refused.json()["detail"]}
        body[field] = body[field].replace("\ud800", "")
    assert client.post("/v1/feedback", content=json.dumps(body), headers=escaped).status_code == 201


def test_review_page_is_behind_the_keys(client) -> None:
    assert client.get("/review").status_code == 401 and "API key" in client.get("/review").text
    assert client.post("/review/login", json={"key": "wrong"}).status_code == 401
    assert client.post("/review/login", json={"key": "key"}).status_code == 204
    page = client.get("/review")
    assert page.status_code == 200 and "/review/static/review.js" in page.text
    assert client.get("/v1/queue").status_code == 200, "the sign-in cookie works for the page's API calls"
    assert client.get("/review/static/review.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/review/static/secret.txt").status_code == 404


def test_real_server_with_two_workers_stores_every_acknowledged_decision(tmp_path: Path, trained_dir: Path) -> None:
    from servers import running_server

    acknowledged: list[str] = []
    with running_server(trained_dir, tmp_path / "data", "--workers", "2", MODERATE_API_KEYS="key") as (base, _):
        def post(client_number: int) -> None:
            with httpx.Client(timeout=30, headers=KEY) as http:
                for n in range(30):
                    comment_id = f"s{client_number}-{n}"
                    response = http.post(f"{base}/v1/feedback", json={
                        "comment_id": comment_id, "text": "text", "category": "abusive", "moderator": "ana"})
                    if response.status_code == 201:
                        acknowledged.append(comment_id)
        threads = [threading.Thread(target=post, args=(c,)) for c in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(acknowledged) == 8 * 30
    store = FeedbackStore(database_url(None, tmp_path / "data"))
    assert store.count() == 8 * 30
    store.close()


def test_export_writes_the_labelled_set_schema(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path))
    store = FeedbackStore(database_url(None, tmp_path))
    store.record(decision("b", stance="disputes", note="insults the author"))
    store.record(decision("a", category="substantive"))
    store.close()
    out = tmp_path / "decisions.jsonl"
    result = CliRunner().invoke(cli, ["feedback", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[1] | {"decided_at": None} == {
        "id": "b", "article_id": ARTICLE_ID, "text": "You are an idiot.", "category": "abusive",
        "stance": "disputes", "rationale": "insults the author", "source": "feedback", "hard_case": None,
        "moderator": "ana", "decided_at": None, "revision": 1}
    printed = CliRunner().invoke(cli, ["feedback", "export"])
    assert printed.output.splitlines() == out.read_text().splitlines()


def test_export_with_articles_carries_the_articles_only_this_machine_knows(tmp_path: Path, monkeypatch) -> None:
    """A decision on a registered (or inline) article exported only its id, so the file trained without
    the article on any other machine; --with-articles carries its title and body."""
    from service.articles import ArticleStore
    from training.sources import ColumnMap, load_source

    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path))
    ArticleStore(tmp_path).register("mine", "Local title", "Local body.")
    store = FeedbackStore(database_url(None, tmp_path))
    store.record(decision("on-mine", article_id="mine"))
    store.record(decision("on-seed"))
    store.record(decision("on-none", article_id=None))
    store.close()
    plain = CliRunner().invoke(cli, ["feedback", "export"])
    assert plain.exit_code == 0 and "1 decisions name articles registered on this machine only" in plain.stderr
    assert not any("article_body" in json.loads(line) for line in plain.stdout.splitlines())
    out = tmp_path / "decisions.jsonl"
    carried = CliRunner().invoke(cli, ["feedback", "export", "--with-articles", "--out", str(out)])
    assert carried.exit_code == 0 and "note:" not in carried.stderr
    rows = {row["id"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert (rows["on-mine"]["article_title"], rows["on-mine"]["article_body"]) == ("Local title", "Local body.")
    assert "article_body" not in rows["on-seed"] and "article_body" not in rows["on-none"]  # seeds ship everywhere
    elsewhere = {r["id"]: r for r in load_source(str(out), ColumnMap(), {}).records}  # a machine without "mine"
    assert elsewhere["on-mine"]["article"] == "Local title\n\nLocal body." and elsewhere["on-mine"]["group"] == "mine"


def test_export_never_replaces_a_file_unasked_nor_writes_into_a_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path / "data"))
    FeedbackStore(database_url(None, tmp_path / "data")).close()  # an empty store, as the server creates it
    (tmp_path / "precious.jsonl").write_text("precious\n")
    (tmp_path / "folder").mkdir()
    for out, message in ((tmp_path / "precious.jsonl", "already exists: choose another --out or pass --overwrite"),
                         (tmp_path / "folder", "is a folder or empty"),
                         (tmp_path / "precious.jsonl" / "x.jsonl", "is a file, so nothing can be written inside it")):
        result = CliRunner().invoke(cli, ["feedback", "export", "--out", str(out)])
        assert result.exit_code == 1 and message in result.output, result.output
    assert (tmp_path / "precious.jsonl").read_text() == "precious\n"
    replaced = CliRunner().invoke(cli, ["feedback", "export", "--out", str(tmp_path / "precious.jsonl"), "--overwrite"])
    assert replaced.exit_code == 0 and (tmp_path / "precious.jsonl").read_text() == ""


def test_export_reports_a_malformed_database_url_in_one_line() -> None:
    result = CliRunner().invoke(cli, ["feedback", "export", "--database-url", "bogus://x"])
    assert result.exit_code == 1 and "cannot open the feedback database bogus://x" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true"])
def test_an_in_memory_sqlite_database_is_refused_since_it_keeps_nothing(url: str) -> None:
    result = CliRunner().invoke(cli, ["feedback", "export", "--database-url", url])
    assert result.exit_code == 1 and "in-memory SQLite database keeps nothing" in result.output
    assert "Traceback" not in result.output


def test_export_reports_an_unreachable_database_in_one_line() -> None:
    result = CliRunner().invoke(cli, ["feedback", "export", "--database-url",
                                      "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"])
    assert result.exit_code == 1 and "cannot open the feedback database" in result.output
    assert "secret" not in result.output and "Traceback" not in result.output


def test_train_with_feedback_lets_decisions_win_and_reports_conflicts(tmp_path: Path, monkeypatch) -> None:
    from conftest import small_seed_data

    from training import sources

    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(sources, "load_seed_data", small_seed_data)  # merging is the point, not the model
    seed = next(r for r in small_seed_data().records if r["category"] == "substantive")
    store = FeedbackStore(database_url(None, tmp_path / "data"))
    store.record(Decision(seed["id"], seed["text"], "abusive", "ana", seed["group"], "disputes"))
    store.record(Decision("new-1", "Go back to your country, you vermin.", "abusive", "ana"))
    other = next(r for r in small_seed_data().records if r["id"] != seed["id"])
    store.record(Decision(other["id"], "Reworded by a moderator.", other["category"], "ana"))
    store.close()
    out = tmp_path / "model"
    result = CliRunner().invoke(cli, ["train", "--feedback", "--cv-folds", "0", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "feedback: 3 moderator decisions" in result.output and "(2 on labelled comments)" in result.output
    assert "1 replace a different label" in result.output
    assert "feedback: 1 give another text or article than the labelled comment" in result.output
    assert f"{other['id']}: text " in result.output and "-> 'Reworded by a moderator.'" in result.output
    assert f"{seed['id']}: substantive/{seed['stance']} in seed_comment" in result.output or \
        f"{seed['id']}: substantive/{seed['stance']} in written" in result.output
    card = json.loads((out / "model_card.json").read_text())
    assert card["training_data"][-1]["kind"] == "feedback" and card["training_data"][-1]["rows"] == 3
    metrics = json.loads((out / "metrics.json").read_text())["data"]
    assert metrics["sources"][-1]["replaced"] == 2  # of the 3 decisions, 1 is a comment of its own
    assert metrics["n_train"] + metrics["n_test"] == len(small_seed_data().records) + 1


def test_rows_without_an_id_never_take_a_decision(tmp_path: Path) -> None:
    from training.sources import ColumnMap, load_source, merge_feedback

    source = tmp_path / "no_ids.jsonl"
    source.write_text("".join(json.dumps({"text": f"comment {n}", "category": "substantive"}) + "\n"
                              for n in range(1, 6)))
    data = load_source(str(source), ColumnMap())
    decisions = [{"comment_id": "1", "text": "Go home, vermin.", "category": "abusive", "stance": None,
                  "article_id": None, "moderator": "ana"}]
    merged, conflicts, differences = merge_feedback(data, decisions, {}, "store")
    assert conflicts == differences == [] and len(merged.records) == 6
    assert [r["text"] for r in merged.records[:5]] == [f"comment {n}" for n in range(1, 6)]


def test_a_stance_only_one_side_gives_is_no_conflict() -> None:
    from training.sources import LabelledData, merge_feedback

    record = {"id": "c1", "text": "t", "category": "substantive", "stance": None, "source": "mine.csv"}
    decision = {"comment_id": "c1", "text": "t", "category": "substantive", "stance": "neutral",
                "article_id": None, "moderator": "ana"}
    assert merge_feedback(LabelledData([record], []), [decision], {}, "store")[1] == []
    disagreeing = {**decision, "stance": "supports"}
    assert merge_feedback(LabelledData([{**record, "stance": "disputes"}], []), [disagreeing], {}, "store")[1]


def test_a_decision_keeps_what_it_does_not_give_of_the_labelled_record() -> None:
    """A decision without stance or article_id was merged as a new record: the labelled stance,
    article and hard_case tag were lost and its group became 'feedback:<id>' (moving its split)."""
    from training.sources import LabelledData, merge_feedback

    record = {"id": "seed-003-00", "text": "You lot are vermin.", "category": "substantive",
              "stance": "supports", "article": "Title\n\nBody", "group": ARTICLE_ID, "source": "written",
              "hard_case": "literal_sense"}
    decision = {"comment_id": "seed-003-00", "text": "You lot are vermin.", "category": "abusive",
                "stance": None, "article_id": None, "moderator": "m1"}
    merged, conflicts, differences = merge_feedback(LabelledData([record], []), [decision], {}, "store")
    assert merged.records == [{**record, "category": "abusive", "source": "feedback"}]
    assert conflicts == ["seed-003-00: substantive/supports in written -> abusive/None by m1"]
    assert differences == []
    elsewhere = {**decision, "text": "You are vermin.", "stance": "disputes", "article_id": "004_other"}
    merged, conflicts, differences = merge_feedback(LabelledData([record], []), [elsewhere],
                                                    {"004_other": "Other\n\nArticle", ARTICLE_ID: "x"}, "store")
    assert merged.records == [{**record, "text": "You are vermin.", "category": "abusive", "stance": "disputes",
                               "article": "Other\n\nArticle", "group": "004_other", "source": "feedback"}]
    changes = f"text 'You lot are vermin.' -> 'You are vermin.'; article {ARTICLE_ID} -> 004_other"
    assert differences == [f"seed-003-00: {changes} (in written, by m1)"]
    assert len(conflicts) == 1
    long = {**record, "text": "Thank you so much for your hard work on human rights in Korea."}
    reworded = {**decision, "text": "Thank you so much for your hard work on human trafficking."}
    assert merge_feedback(LabelledData([long], []), [reworded], {}, "store")[2] == [
        "seed-003-00: text '… on human rights in Korea.' -> '… on human trafficking.' (in written, by m1)"]


def test_the_feedback_source_counts_the_labelled_rows_it_replaced() -> None:
    """metrics.json listed 480 + 11 rows while 489 were trained: the 2 replaced were not recorded."""
    from training.sources import LabelledData, merge_feedback

    records = [{"id": f"c{n}", "text": "t", "category": "substantive", "stance": None, "group": "a",
                "source": "mine.csv"} for n in range(3)]
    decisions = [{"comment_id": comment_id, "text": "t", "category": "abusive", "stance": None,
                  "article_id": None, "moderator": "ana"} for comment_id in ("c0", "c2", "new")]
    merged, _, _ = merge_feedback(LabelledData(records, [{"path": "mine.csv", "rows": 3}]), decisions, {}, "store")
    assert merged.sources[-1]["rows"] == 3 and merged.sources[-1]["replaced"] == 2
    assert sum(s["rows"] for s in merged.sources) - merged.sources[-1]["replaced"] == len(merged.records) == 4
    twice = records + [{**records[0], "source": "other.csv"}]  # c0 in two sources: the decision is one row
    merged, conflicts, _ = merge_feedback(LabelledData(twice, [{"path": "mine.csv", "rows": 3},
                                                               {"path": "other.csv", "rows": 1}]), decisions, {}, "store")
    assert [r["id"] for r in merged.records] == ["c0", "c1", "c2", "new"] and len(conflicts) == 2
    assert sum(s["rows"] for s in merged.sources) - merged.sources[-1]["replaced"] == len(merged.records)


def test_a_decision_naming_an_article_unknown_here_keeps_the_labelled_article() -> None:
    from training.sources import LabelledData, merge_feedback

    record = {"id": "c1", "text": "t", "category": "substantive", "stance": None, "article": "Title\n\nBody",
              "group": ARTICLE_ID, "source": "written"}
    decision = {"comment_id": "c1", "text": "t", "category": "abusive", "stance": None,
                "article_id": "registered-elsewhere", "moderator": "ana"}
    merged, _, differences = merge_feedback(LabelledData([record], []), [decision], {ARTICLE_ID: "x"}, "store")
    assert merged.records[0]["article"] == "Title\n\nBody" and merged.records[0]["group"] == ARTICLE_ID
    kept = "c1: article registered-elsewhere is not known here, so the labelled comment's is kept (in written, by ana)"
    assert differences == [kept]


def test_a_decision_on_a_new_comment_naming_an_article_unknown_here_is_reported() -> None:
    """train --feedback on a machine that does not know the article (a shared PostgreSQL store, the
    article registered on the server) trained the comment without its article and said nothing."""
    from training.sources import LabelledData, merge_feedback

    decisions = [{"comment_id": comment_id, "text": "And Iraq?", "category": "whataboutism", "stance": None,
                  "article_id": article_id, "moderator": "ana"}
                 for comment_id, article_id in (("new-1", "registered-elsewhere"), ("new-2", ARTICLE_ID),
                                                ("new-3", None))]
    merged, _, differences = merge_feedback(LabelledData([], []), decisions, {ARTICLE_ID: "x"}, "store")
    assert [r["article"] for r in merged.records] == [None, "x", None]
    assert differences == [("new-1: article registered-elsewhere is not known here, so the comment is trained "
                            "without it (by ana)")]


def test_readers_never_create_a_feedback_database(tmp_path: Path, monkeypatch) -> None:
    """export and train --feedback given a mistyped URL or data folder created an empty database and
    reported 0 decisions."""
    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path / "nonexistent"))
    typo = tmp_path / "typo.sqlite"
    for arguments in (["feedback", "export"], ["feedback", "export", "--database-url", f"sqlite:///{typo}"],
                      ["train", "--feedback", f"sqlite:///{typo}", "--cv-folds", "0", "--out", str(tmp_path / "m")]):
        result = CliRunner().invoke(cli, arguments)
        assert result.exit_code == 1 and "no feedback database at" in result.output, result.output
        assert "nothing has been recorded there" in result.output and "Traceback" not in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == []
    (tmp_path / "other.sqlite").write_bytes(b"")  # an existing file without the store's tables
    result = CliRunner().invoke(cli, ["feedback", "export", "--database-url", f"sqlite:///{tmp_path}/other.sqlite"])
    assert result.exit_code == 1 and "is not a feedback database" in result.output, result.output


@pytest.mark.parametrize("flag", ["--database-url", "--feedback"])
def test_a_bad_url_names_the_flag_it_came_from(flag: str, tmp_path: Path) -> None:
    """A URL given by a flag was reported as coming from MODERATE_DATABASE_URL."""
    def run(url: str):
        if flag == "--feedback":
            return CliRunner().invoke(cli, ["train", "--feedback", url, "--cv-folds", "0", "--out", str(tmp_path / "m")])
        return CliRunner().invoke(cli, ["feedback", "export", "--database-url", url])

    malformed = run("bogus://x")
    assert malformed.exit_code == 1 and f"cannot open the feedback database bogus://x ({flag})" in malformed.output
    assert "MODERATE_DATABASE_URL" not in malformed.output
    missing = run(f"sqlite:///{tmp_path}/typo.sqlite")
    assert missing.exit_code == 1 and f"check the URL ({flag})" in missing.output, missing.output


def test_a_bad_url_from_the_environment_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("MODERATE_DATABASE_URL", "bogus://x")
    result = CliRunner().invoke(cli, ["feedback", "export"])
    assert result.exit_code == 1 and "bogus://x (MODERATE_DATABASE_URL)" in result.output


@pytest.mark.parametrize("column, value", [("category", "spam"), ("category", "Abusive"), ("stance", "Supports")])
def test_a_stored_decision_with_an_unknown_label_is_refused_before_any_fitting(
        tmp_path: Path, monkeypatch, column: str, value: str) -> None:
    """Rows written by another tool or an older version crashed training with a traceback in
    classifier.fit (tuple.index(x): x not in tuple) and were exported as they were."""
    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path / "data"))
    store = FeedbackStore(database_url(None, tmp_path / "data"))
    store.record(decision("good"))
    store.record(decision("bad"))
    with store.engine.begin() as connection:
        connection.execute(metadata.tables["decisions"].update()
                           .where(metadata.tables["decisions"].c.comment_id == "bad").values({column: value}))
    store.close()
    out = tmp_path / "decisions.jsonl"
    for arguments in (["feedback", "export", "--out", str(out)], ["feedback", "export"],
                      ["train", "--feedback", "--cv-folds", "0", "--out", str(tmp_path / "model")]):
        result = CliRunner().invoke(cli, arguments)
        assert result.exit_code == 1, result.output
        assert f"comment 'bad': field '{column}': unknown {column} '{value}'" in result.output
        assert "Traceback" not in result.output and '"id"' not in result.output
    assert not out.exists() and not (tmp_path / "model").exists()


def test_an_empty_stored_stance_is_no_stance(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MODERATE_DATA_DIR", str(tmp_path / "data"))
    store = FeedbackStore(database_url(None, tmp_path / "data"))
    store.record(decision("empty"))
    with store.engine.begin() as connection:
        connection.execute(metadata.tables["decisions"].update().values(stance=""))
    store.close()
    result = CliRunner().invoke(cli, ["feedback", "export"])
    assert result.exit_code == 0 and json.loads(result.output)["stance"] is None


def test_export_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`moderate feedback export | head` printed "Error: Broken pipe" once head had read enough."""
    store = FeedbackStore(database_url(None, tmp_path))
    store.record(decision())
    store.close()
    process = subprocess.Popen([sys.executable, "-m", "service.cli", "feedback", "export"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**os.environ, "MODERATE_DATA_DIR": str(tmp_path)})
    process.stdout.close()  # a reader that has stopped reading
    stderr = process.communicate(timeout=120)[1].decode()
    assert process.returncode == 1 and stderr == "", stderr


def test_a_database_server_that_never_answers_is_an_error_in_seconds(monkeypatch) -> None:
    """A PostgreSQL host that accepts connections and never answers (a hung server, a firewall) made
    export, train --feedback and serve wait without end: there was no time limit for connecting (and
    creating the tables tried 8 times)."""
    import socket

    from service import feedback

    monkeypatch.setattr(feedback, "CONNECT_SECONDS", 2, raising=False)
    listener = socket.create_server(("127.0.0.1", 0))

    def accept_and_stay_silent() -> None:
        while True:  # each connection hangs up after 15 s, so that a run without a limit ends too
            connection = listener.accept()[0]
            threading.Timer(15, connection.close).start()

    threading.Thread(target=accept_and_stay_silent, daemon=True).start()
    url = f"postgresql+psycopg://nobody:secret@127.0.0.1:{listener.getsockname()[1]}/none"
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["feedback", "export", "--database-url", url])
    elapsed = time.monotonic() - started
    assert result.exit_code == 1 and "cannot open the feedback database" in result.output, result.output
    assert elapsed < 10 and "secret" not in result.output


def test_export_refuses_an_empty_database_url(tmp_path: Path) -> None:
    """--database-url "" read the default store (MODERATE_DATABASE_URL or the SQLite file) without a word."""
    result = CliRunner().invoke(cli, ["feedback", "export", "--database-url", " "],
                                env={"MODERATE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2 and "--database-url is empty" in result.output
