"""Moderators' decisions and the review queue, stored durably: a SQLite file by default (in the data
folder), PostgreSQL when a database URL is given. SQLAlchemy Core, so both run the same statements.

A decision is keyed by comment id. The same decision sent twice is stored once; a changed one replaces
the current decision and every version is kept in ``decision_history``. A decided comment leaves the
review queue.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import (Column, Float, Integer, MetaData, String, Table, Text, UniqueConstraint,
                        create_engine, delete, event, exists, func, insert, select, update)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError

from model.errors import DataError, ModerationError
from model.labels import CATEGORIES, STANCES
from model.text import LONE_SURROGATE

SQLITE_FILE = "feedback.sqlite3"
RETRIES = 8
QUEUE_TOTAL = "queue_total"  # the window column carrying the queue's length beside each row
LOCK_WAIT_SECONDS = 10  # how long a write waits for another's SQLite lock before answering 503
CONNECT_SECONDS = 10  # how long a PostgreSQL server may take to answer a new connection (unless the URL says)
UNSTORABLE = re.compile(f"{LONE_SURROGATE.pattern}|\x00")  # characters no database here can hold

metadata = MetaData()


def _decision_columns() -> list[Column]:
    """The columns of a decision (the current one, and each version in the history)."""
    return [Column("text", Text, nullable=False), Column("article_id", String(200)),
            Column("category", String(20), nullable=False), Column("stance", String(20)),
            Column("moderator", String(200), nullable=False), Column("note", Text),
            Column("revision", Integer, nullable=False), Column("decided_at", String(40), nullable=False)]


decisions = Table("decisions", metadata, Column("comment_id", String(200), primary_key=True),
                  *_decision_columns())
history = Table("decision_history", metadata, Column("id", Integer, primary_key=True, autoincrement=True),
                Column("comment_id", String(200), nullable=False, index=True),
                *_decision_columns(), UniqueConstraint("comment_id", "revision"))
review_queue = Table(
    "review_queue", metadata, Column("comment_id", String(200), primary_key=True),
    Column("text", Text, nullable=False), Column("article_id", String(200)), Column("article_title", Text),
    Column("category", String(20), nullable=False), Column("scores", Text, nullable=False),
    Column("stance", String(20)), Column("stance_scores", Text), Column("reasons", Text, nullable=False),
    Column("explanation", Text, nullable=False), Column("uncertainty", Float, nullable=False, index=True),
    Column("model_version", String(100), nullable=False), Column("queued_at", String(40), nullable=False),
)


class StoreError(ModerationError):
    """The feedback database cannot be opened or written."""


class DecisionConflict(ModerationError):
    """A decision made on a revision of the comment's decision that is no longer the current one."""


class StoredDecisionError(DataError):
    """A stored decision holds a value training cannot use (written by another tool or an older
    version); the message names the store, the comment id and the field."""

    def __init__(self, location: str, comment_id: str, field: str, message: str) -> None:
        ModerationError.__init__(self, f"{location}: comment '{comment_id}': field '{field}': {message}; "
                                       "correct the decision with POST /v1/feedback")
        self.path, self.line, self.field, self.comment_id = location, None, field, comment_id


@dataclass(frozen=True)
class Decision:
    """A moderator's decision on one comment."""

    comment_id: str
    text: str
    category: str
    moderator: str
    article_id: str | None = None
    stance: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Queued:
    """A comment waiting for a moderator, with what the model said about it."""

    comment_id: str
    text: str
    article_id: str | None
    article_title: str | None
    category: str
    scores: dict
    stance: str | None
    stance_scores: dict | None
    reasons: list
    explanation: list
    model_version: str

    @property
    def uncertainty(self) -> float:
        """One minus the top category probability: the higher, the more a moderator is needed."""
        return round(1.0 - max(self.scores.values()), 6)


def database_url(url: str | None, data_dir: Path, create: bool = True) -> str:
    """The configured URL, or the SQLite file in the data folder (which a reader does not create)."""
    if url:
        return url
    if create:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(data_dir) / SQLITE_FILE}"


class FeedbackStore:
    """Decisions, their history and the review queue in one database."""

    def __init__(self, url: str, create: bool = True, origin: str = "MODERATE_DATABASE_URL") -> None:
        """Open the store; a reader (``create`` false) never creates a SQLite file or its tables.
        ``origin`` names where the URL came from (a flag or variable), for errors."""
        self.url, self.origin = url, origin
        try:
            self.engine = _engine(url)
            self._writer = self.engine.execution_options(writes=True)
            if create or _sqlite_file(url) is None:
                self._create_tables()
            else:
                self._check_readable()
        except (DBAPIError, ImportError, ArgumentError, ValueError) as error:  # the last two: a malformed URL
            raise StoreError(f"cannot open the feedback database {_safe(url)} ({origin}): "
                             f"{_first_line(error)}") from None

    def _check_readable(self) -> None:
        """Refuse a SQLite file that does not exist (connecting would create it) or holds no decisions."""
        path = _sqlite_file(self.url)
        check = "MODERATE_DATA_DIR" if self.origin == "MODERATE_DATA_DIR" else f"the URL ({self.origin})"
        if not path.is_file():
            raise StoreError(f"no feedback database at {path} (nothing has been recorded there; check {check})")
        if not _has_table(path, decisions.name):
            raise StoreError(f"{path} is not a feedback database (it holds no '{decisions.name}' table; "
                             f"check {check})")

    def _create_tables(self) -> None:
        """Create missing tables; another worker creating them at the same moment is fine. A server
        that cannot be reached fails at once, not once per attempt."""
        if _sqlite_file(self.url) is None:
            self.engine.connect().close()
        for attempt in range(RETRIES):
            try:
                metadata.create_all(self._writer)
                return
            except (IntegrityError, OperationalError, DBAPIError):
                if attempt == RETRIES - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def record(self, decision: Decision, expected_revision: int | None = None) -> tuple[str, int]:
        """Store a decision: ("created" | "updated" | "unchanged", its revision). Durable on return.
        With ``expected_revision`` (0: undecided), a different decision stored since is not replaced:
        ``DecisionConflict``."""
        return self._retrying(lambda connection: self._record(connection, decision, expected_revision))

    def _record(self, connection, decision: Decision, expected_revision: int | None = None) -> tuple[str, int]:
        fields = _storable(asdict(decision))
        if not (fields["note"] or "").strip():  # an empty or blank note is no note: resending it changes nothing
            fields["note"] = None
        comment_id = fields["comment_id"]
        current = connection.execute(select(decisions).where(decisions.c.comment_id == comment_id)
                                     .with_for_update()).mappings().first()
        connection.execute(delete(review_queue).where(review_queue.c.comment_id == comment_id))
        if current is not None and all((current[k] or None if k == "note" else current[k]) == v
                                       for k, v in fields.items()):
            return "unchanged", current["revision"]
        if expected_revision is not None and (0 if current is None else current["revision"]) != expected_revision:
            raise DecisionConflict(_conflict(comment_id, current, expected_revision))
        revision = 1 if current is None else current["revision"] + 1
        row = {**fields, "revision": revision, "decided_at": _now()}
        if current is None:
            connection.execute(insert(decisions).values(**row))
        else:
            connection.execute(update(decisions).where(decisions.c.comment_id == comment_id).values(**row))
        connection.execute(insert(history).values(**row))
        return ("created" if current is None else "updated"), revision

    def _retrying(self, work):
        """Run ``work(connection)`` in a transaction, retrying on a lost race or a busy database for
        about ``LOCK_WAIT_SECONDS`` (SQLite's own wait for a lock counts towards it)."""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        for attempt in range(RETRIES):
            try:
                with self._writer.begin() as connection:
                    return work(connection)
            except (IntegrityError, OperationalError) as error:
                if attempt == RETRIES - 1 or time.monotonic() > deadline:  # a lock held for long: answer now
                    raise StoreError(f"feedback database busy or failing: {_first_line(error)}") from None
                time.sleep(0.02 * (attempt + 1))

    def enqueue(self, items: list[Queued]) -> int:
        """Put comments in the review queue (replacing an older entry; decided comments are skipped);
        return how many were queued."""
        def work(connection) -> int:
            rows = list({row["comment_id"]: row for row in map(_queue_row, items)}.values())  # an id twice: the last
            ids = [row["comment_id"] for row in rows]
            decided = set(connection.execute(select(decisions.c.comment_id)
                                             .where(decisions.c.comment_id.in_(ids))).scalars())
            fresh = [row for row in rows if row["comment_id"] not in decided]
            connection.execute(delete(review_queue).where(review_queue.c.comment_id.in_(
                [row["comment_id"] for row in fresh])))
            if fresh:
                connection.execute(insert(review_queue), fresh)
            return len(fresh)
        return self._retrying(work) if items else 0

    def queue(self, limit: int = 50, offset: int = 0) -> list[dict]:
        """Queued comments, most uncertain first (then oldest first), ``offset`` of them skipped."""
        return self.queue_page(limit, offset)[0]

    def queue_page(self, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        """A page of the queue and how many comments wait in all, read in one statement so that the
        two agree while comments are queued and decided. A comment with a decision is never listed: on
        PostgreSQL, a comment queued while it is being decided can keep its queue row."""
        total = func.count().over().label(QUEUE_TOTAL)
        undecided = ~exists().where(decisions.c.comment_id == review_queue.c.comment_id)
        with self.engine.connect() as connection:
            rows = connection.execute(select(review_queue, total).where(undecided).order_by(
                review_queue.c.uncertainty.desc(), review_queue.c.queued_at, review_queue.c.comment_id)
                .limit(limit).offset(offset)).mappings().all()
            if not rows:  # past the end: nothing on the page to disagree with
                return [], connection.execute(select(func.count()).select_from(review_queue)
                                              .where(undecided)).scalar_one()
        return [_queue_item(row) for row in rows], rows[0][QUEUE_TOTAL]

    def decision(self, comment_id: str) -> dict | None:
        """The current decision on a comment, with its history (oldest first); None for an id no
        database here can hold (it was never stored)."""
        if UNSTORABLE.search(comment_id):
            return None
        with self.engine.connect() as connection:
            current = connection.execute(select(decisions).where(decisions.c.comment_id == comment_id)
                                         ).mappings().first()
            if current is None:
                return None
            versions = connection.execute(select(history).where(history.c.comment_id == comment_id)
                                          .order_by(history.c.revision)).mappings().all()
        return {**current, "history": [{k: v for k, v in dict(h).items() if k != "id"} for h in versions]}

    def all_decisions(self) -> Iterator[dict]:
        """Every current decision, in comment-id order."""
        with self.engine.connect() as connection:
            yield from (dict(row) for row in connection.execute(
                select(decisions).order_by(decisions.c.comment_id)).mappings())

    def checked_decisions(self) -> list[dict]:
        """Every current decision, each checked as training checks a labelled row (``checked``)."""
        return [checked(row, _safe(self.url)) for row in self.all_decisions()]

    def count(self) -> int:
        """How many comments have a decision."""
        with self.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(decisions)).scalar_one()

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def _has_table(path: Path, table: str) -> bool:
    """Whether a SQLite file holds ``table``, read without writing to it (the engine's connections
    switch a file to WAL) and False for a file that is not SQLite at all."""
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
            return connection.execute(query, (table,)).fetchone() is not None
    except sqlite3.DatabaseError:
        return False


def _engine(url: str) -> Engine:
    """An engine; SQLite gets WAL, full fsync on commit, a busy timeout and BEGIN IMMEDIATE, so that
    concurrent writers from several processes queue up instead of failing; PostgreSQL gets a time limit
    for connecting, so that a server that does not answer is an error, not a wait without end."""
    parsed = make_url(url)
    if not url.startswith("sqlite"):
        limited = parsed.get_driver_name() in ("psycopg", "psycopg2") and "connect_timeout" not in parsed.query
        return create_engine(url, pool_pre_ping=True,
                             connect_args={"connect_timeout": CONNECT_SECONDS} if limited else {})
    if parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory":
        raise ValueError("an in-memory SQLite database keeps nothing: the queue and decisions would be lost "
                         "when the process stops, and each worker would see its own; give a file "
                         "(sqlite:////path/to/feedback.sqlite)")
    engine = create_engine(url, connect_args={"timeout": LOCK_WAIT_SECONDS, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", f"busy_timeout={LOCK_WAIT_SECONDS * 1000}"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        """Writers take the write lock when they begin; readers never wait for it (WAL)."""
        writes = connection.get_execution_options().get("writes", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


def open_for_reading(given: str | None, flag: str, database_url_setting: str | None,
                     data_dir: Path) -> FeedbackStore:
    """The store a reader names: the URL given by ``flag``, else MODERATE_DATABASE_URL, else the
    SQLite file in MODERATE_DATA_DIR; errors name which of them it came from."""
    if given:
        return FeedbackStore(given, create=False, origin=flag)
    if database_url_setting:
        return FeedbackStore(database_url_setting, create=False)
    return FeedbackStore(database_url(None, data_dir, create=False), create=False, origin="MODERATE_DATA_DIR")


def _sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None for another database)."""
    if not url.startswith("sqlite"):
        return None
    database = make_url(url).database or ""
    return Path(database.removeprefix("file:"))


def checked(row: dict, location: str) -> dict:
    """A stored decision with an empty stance or article_id read as none; StoredDecisionError when
    its text is empty or its category or stance is not one of the labels."""
    comment_id = row["comment_id"]
    if not isinstance(row["text"], str) or not row["text"].strip():
        raise StoredDecisionError(location, comment_id, "text", "missing, empty or not text")
    if row["category"] not in CATEGORIES:
        raise StoredDecisionError(location, comment_id, "category", f"unknown category {row['category']!r} "
                                  f"(expected one of {', '.join(CATEGORIES)})")
    stance = row["stance"] or None
    if stance is not None and stance not in STANCES:
        raise StoredDecisionError(location, comment_id, "stance", f"unknown stance {stance!r} "
                                  f"(expected one of {', '.join(STANCES)}, or none)")
    article_id = row["article_id"] if row["article_id"] and row["article_id"].strip() else None
    return {**row, "stance": stance, "article_id": article_id}


def _queue_row(item: Queued) -> dict:
    row = asdict(item)
    for name in ("scores", "stance_scores", "reasons", "explanation"):
        row[name] = json.dumps(row[name])
    return _storable({**row, "uncertainty": item.uncertainty, "queued_at": _now()})


def _storable(row: dict) -> dict:
    """A row whose text can be stored: a lone surrogate (half of a UTF-16 pair, which a JSON request
    can carry as "\\ud800" but UTF-8 cannot) and a NUL character (which PostgreSQL's text cannot
    hold) become U+FFFD, the replacement character, on every database alike."""
    return {name: UNSTORABLE.sub("\ufffd", value) if isinstance(value, str) else value
            for name, value in row.items()}


def _queue_item(row) -> dict:
    item = {name: value for name, value in row.items() if name != QUEUE_TOTAL}
    for name in ("scores", "stance_scores", "reasons", "explanation"):
        item[name] = json.loads(item[name]) if item[name] is not None else None
    return item


def export_record(decision: dict, article=None) -> dict:
    """A stored decision in the labelled-set schema (``seeds/README.md``), source "feedback"; with its
    article's title and body when ``article`` is given (one registered on this machine only)."""
    note = decision.get("note")
    record = {"id": decision["comment_id"], "article_id": decision["article_id"], "text": decision["text"],
              "category": decision["category"], "stance": decision["stance"],
              "rationale": note or f"moderator decision ({decision['moderator']}, {decision['decided_at']})",
              "source": "feedback", "hard_case": None, "moderator": decision["moderator"],
              "decided_at": decision["decided_at"], "revision": decision["revision"]}
    if article is not None:
        record.update(article_title=article.title, article_body=article.body)
    return record


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _safe(url: str) -> str:
    """A URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':')[0]}:***@{host}"
    return url


def _first_line(error: Exception) -> str:
    return (str(getattr(error, "orig", None) or error).strip().splitlines() or [type(error).__name__])[0]


def _conflict(comment_id: str, current, expected_revision: int) -> str:
    """Why a decision made on an older revision is refused: who decided since, and what."""
    if current is None:
        return (f"comment_id '{comment_id}' has no decision, not revision {expected_revision}: send "
                "expected_revision 0")
    return (f"comment_id '{comment_id}' was decided {current['category']} by {current['moderator']} "
            f"(revision {current['revision']}) since revision {expected_revision}: read it with GET "
            f"/v1/feedback/{comment_id} before deciding again")
