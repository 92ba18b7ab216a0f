"""The `moderate` command line: a thin shell over training, the model and the service."""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import click

from model.errors import ModerationError

if TYPE_CHECKING:
    from service.articles import ArticleStore
    from service.settings import Settings
    from training.train import LabelledData


def handle_errors(command: Callable) -> Callable:
    """Turn the project's named errors (and file errors) into a one-line message and exit 1."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ModerationError as error:
            raise click.ClickException(str(error)) from None
        except BrokenPipeError:  # the reader stopped (`| head`): click ends quietly, as Unix tools do
            raise
        except OSError as error:  # a file's, named by it; a bare one (a TimeoutError) as it reads
            filename, message = getattr(error, "filename", None), error.strerror or str(error)
            raise click.ClickException(f"{filename}: {message}" if filename else message) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
    return wrapper


class FolderPath(click.Path):
    """A folder flag; an empty value, which would mean the current folder, is refused."""

    def convert(self, value, param, ctx):
        """The path, once it is not empty."""
        if isinstance(value, str) and not value.strip():
            self.fail("is empty: give a folder (such as models/mine), or leave the flag out", param, ctx)
        return super().convert(value, param, ctx)


# with several workers, kill -HUP makes uvicorn replace them one at a time; its 5 s for a new one to be
# ready is less than loading a model takes on a busy machine, and the restart was then given up
WORKER_START_SECONDS = 120
FLAGS = {"model_dir": "--model"}  # a setting whose flag is not its name with dashes
COLUMN_HELP = {"text": "Column holding the comment.",
               "article_id": "Column holding a known article's id (seed or registered).",
               "article_title": "Column holding the article's title, when the row carries its article.",
               "article_body": "Column holding the article's body, when the row carries its article."}


def load_settings(**overrides) -> Settings:
    """The settings from MODERATE_* variables and these flags; a bad value is a one-line error naming
    the flag or variable it came from."""
    from pydantic import ValidationError

    from service.settings import Settings

    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = [f"{_setting_origin(str(e['loc'][0]), overrides)}: {e['msg']}" for e in error.errors()]
        raise click.ClickException("; ".join(problems)) from None


def _setting_origin(name: str, overrides: dict) -> str:
    """The flag a setting was given by, else its MODERATE_* variable."""
    if name in overrides:
        return FLAGS.get(name, "--" + name.replace("_", "-"))
    return f"MODERATE_{name.upper()}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="comment-moderator")
def cli() -> None:
    """Sort news-site reader comments into substantive, whataboutism or abusive, with stance.

    \b
    Example:
      moderate score "What about the US torture camps?" --article 003_2d5113ef618b1c85
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@cli.command()
@click.option("--dir", "directory", type=FolderPath(path_type=Path), default=None,
              help="Folder holding articles.jsonl and comments.jsonl (default: the shipped seeds/).")
@handle_errors
def validate(directory: Path | None) -> None:
    """Check the labelled set and print its numbers; exit 1 naming file, line and field on problems.

    \b
    Example:
      moderate validate
    """
    from seeds import SEEDS_DIR
    from training.dataset import validate_labelled_set

    directory = directory or SEEDS_DIR
    if not directory.is_dir():
        what = "is a file, not a folder" if directory.exists() else "no such folder"
        raise click.ClickException(f"{directory}: {what} (give --dir the folder holding articles.jsonl "
                                   "and comments.jsonl)")
    report = validate_labelled_set(directory)
    click.echo(f"articles: {report.n_articles} ({report.n_written_articles} written, "
               f"{report.n_articles_with_comments} with comments)")
    click.echo(f"comments: {report.n_comments}  by source: {dict(sorted(report.by_source.items()))}")
    click.echo(f"by category: {dict(sorted(report.by_category.items()))}")
    click.echo(f"by stance: {dict(sorted(report.by_stance.items()))}")
    click.echo(f"hard cases: {dict(sorted(report.by_hard_case.items()))}")
    for problem in report.problems:
        click.echo(f"error: {problem}", err=True)
    if not report.ok:
        raise click.ClickException(f"{len(report.problems)} problem(s) in the labelled set")
    click.echo("labelled set is valid")


def source_options(command: Callable) -> Callable:
    """Options shared by train and eval to read an operator's labelled files."""
    options = [
        click.option("--data", "data", multiple=True,
                     help="Labelled source: .jsonl, .csv, .parquet, a `datasets` folder or a Hub name. Repeatable."),
        click.option("--text-column", default="text", show_default=True, help=COLUMN_HELP["text"]),
        click.option("--label-column", default="category", show_default=True,
                     help="Column holding the category (substantive, whataboutism, abusive, or raw labels for --label-map)."),
        click.option("--stance-column", default="stance", show_default=True,
                     help="Column holding the stance (supports, disputes, neutral); may be absent."),
        click.option("--id-column", default="id", show_default=True,
                     help="Column holding the comment's id (a moderator's decision replaces the row of the same id)."),
        click.option("--article-id-column", default="article_id", show_default=True,
                     help=COLUMN_HELP["article_id"]),
        click.option("--article-title-column", default="article_title", show_default=True,
                     help=COLUMN_HELP["article_title"]),
        click.option("--article-body-column", default="article_body", show_default=True,
                     help=COLUMN_HELP["article_body"]),
        click.option("--label-map", default=None, help="Map raw labels, e.g. '1=abusive,0=substantive'."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _load_sources(data: tuple[str, ...], columns: dict) -> "LabelledData":
    """The operator's labelled sources, each row naming a known article given that article's text."""
    from service.articles import ArticleStore
    from training.sources import ColumnMap, load_source, parse_label_map
    from training.train import LabelledData

    column_map = ColumnMap(text=columns["text_column"], label=columns["label_column"],
                           stance=columns["stance_column"], id=columns["id_column"],
                           article_id=columns["article_id_column"],
                           article_title=columns["article_title_column"],
                           article_body=columns["article_body_column"],
                           label_map=parse_label_map(columns["label_map"]))
    twice = _given_twice(data)
    if twice is not None:
        raise click.ClickException(f"--data {twice} is given twice: its rows would count twice")
    merged = LabelledData([], [])
    articles = ArticleStore(load_settings().data_dir).texts()
    for spec in data:
        loaded = load_source(spec, column_map, articles)
        merged.records.extend(loaded.records)
        merged.sources.extend(loaded.sources)
    return merged


def _given_twice(data: tuple[str, ...]) -> str | None:
    """The first source given a second time (a path by the file it names, a Hub name as written)."""
    seen = set()
    for spec in data:
        key = os.path.realpath(spec) if os.path.exists(spec) else spec
        if key in seen:
            return spec
        seen.add(key)
    return None


@cli.command()
@source_options
@click.option("--include-seeds/--no-include-seeds", default=False,
              help="With --data, also train on the shipped labelled set.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="TOML file of training settings (see training/config.py).")
@click.option("--out", type=FolderPath(path_type=Path), default=None,
              help="Model folder to write (default: MODERATE_MODEL_DIR or the shipped model).")
@click.option("--seed", type=int, default=None, help="Random seed (split, folds).")
@click.option("--cv-folds", type=int, default=None, help="Grouped cross-validation folds; 0 turns it off.")
@click.option("--force", is_flag=True, help="Promote the new model even if it is worse on held-out data.")
@click.option("--feedback", "feedback_url", is_flag=False, flag_value="", default=None, metavar="[DATABASE_URL]",
              help="Also train on moderators' decisions (default store: MODERATE_DATABASE_URL or the SQLite "
                   "file in MODERATE_DATA_DIR); a decision replaces the labelled-set label of the same comment.")
@handle_errors
def train(data, include_seeds, config_path, out, seed, cv_folds, force, feedback_url, **columns) -> None:
    """Train a model (default: from seeds/), report on it, and promote it if not worse.

    \b
    Examples:
      moderate train
      moderate train --data decisions.csv --text-column body --label-column verdict \\
          --label-map 1=abusive,0=substantive --include-seeds --out models/mine
      moderate train --feedback
      moderate train --feedback postgresql+psycopg://moderation@db/moderation
    """
    from training.config import resolve_config
    from training.report import format_comparison, format_probe_checks, format_report
    from training.sources import load_seed_data
    from training.train import LabelledData, check_output_folder, train as run_training

    config = resolve_config(config_path, seed=seed, cv_folds=cv_folds)
    out = out or load_settings().model_dir
    check_output_folder(out)  # before reading seconds of data
    labelled = load_seed_data() if not data or include_seeds else LabelledData([], [])
    if data:
        extra = _load_sources(data, columns)
        labelled.records.extend(extra.records)
        labelled.sources.extend(extra.sources)
    if feedback_url is not None:
        labelled = _merge_feedback(labelled, feedback_url or None)
    for source in labelled.sources:
        if "note" in source:
            click.echo(f"note: {source['path']}: {source['note']}", err=True)
    outcome = run_training(labelled, config, out, force=force,
                           progress=lambda step: click.echo(f"… {step}", err=True))
    click.echo(format_report(outcome.metrics["held_out"]))
    cv = outcome.metrics["cross_validation"]
    if cv:
        click.echo(f"grouped cross-validation macro-F1: {cv['category_macro_f1_mean']:.3f} "
                   f"(folds {cv['category_macro_f1']})")
    click.echo(format_probe_checks(outcome.metrics))
    if outcome.comparison:
        click.echo(format_comparison(outcome.comparison))
    click.echo(f"trained in {outcome.seconds:.1f}s; model written to {outcome.out_dir}")
    if not outcome.promoted:
        why = ("is worse on held-out data than the current one" if outcome.comparison["comparable"] else
               "cannot be compared fairly with the current one (different held-out articles)")
        raise click.ClickException(f"new model {why}; kept at {outcome.out_dir}, not promoted "
                                   "(use --force to promote it anyway)")


def _merge_feedback(labelled: "LabelledData", url: str | None) -> "LabelledData":
    """The labelled data with moderators' decisions merged in; conflicts with labels are reported."""
    from service.articles import ArticleStore
    from service.feedback import open_for_reading
    from training.sources import merge_feedback

    settings = load_settings()
    store = open_for_reading(url, "--feedback", settings.database_url, settings.data_dir)
    try:
        merged, conflicts, differences = merge_feedback(labelled, store.checked_decisions(),
                                                        ArticleStore(settings.data_dir).texts(), store.url)
    finally:
        store.close()
    source = merged.sources[-1]
    click.echo(f"feedback: {source['rows']} moderator decisions from {source['path']} ({source['replaced']} on "
               f"labelled comments); {len(conflicts)} replace a different label", err=True)
    _echo_lines(conflicts)
    if differences:
        click.echo(f"feedback: {len(differences)} give another text or article than the labelled comment "
                   "(the decision's is used), or name an article unknown here", err=True)
        _echo_lines(differences)
    return merged


def _echo_lines(lines: list[str], shown: int = 20) -> None:
    """The first ``shown`` lines of a report, indented, and how many more there are."""
    for line in lines[:shown]:
        click.echo(f"  {line}", err=True)
    if len(lines) > shown:
        click.echo(f"  … and {len(lines) - shown} more", err=True)


@cli.group()
def feedback() -> None:
    """Moderators' stored decisions.

    \b
    Example:
      moderate feedback export --out decisions.jsonl
    """


def _check_export_target(out: Path, overwrite: bool) -> None:
    """Refuse an --out that is a folder, under a file, empty, or an existing file without --overwrite."""
    from model.artifact import file_in_the_way

    if not str(out).strip() or out.is_dir():
        raise click.ClickException(f"--out '{out}' is a folder or empty: give a file name, such as decisions.jsonl")
    blocking = file_in_the_way(out)
    if blocking is not None:
        raise click.ClickException(f"--out {out}: {blocking} is a file, so nothing can be written inside it")
    if out.exists() and not overwrite:
        raise click.ClickException(f"{out} already exists: choose another --out or pass --overwrite")


@feedback.command(name="export")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="File to write (default: standard output).")
@click.option("--database-url", default=None, help="Feedback store (default: MODERATE_DATABASE_URL or the SQLite file "
                                                   "in MODERATE_DATA_DIR).")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--with-articles", is_flag=True,
              help="Give each decision on an article registered here (not a seed) its article_title and "
                   "article_body, so the file trains on a machine that does not know the article.")
@handle_errors
def export_feedback(out: Path | None, database_url: str | None, overwrite: bool, with_articles: bool) -> None:
    """Write every stored decision as JSON Lines in the labelled-set schema (seeds/README.md).

    \b
    Examples:
      moderate feedback export > decisions.jsonl
      moderate feedback export --out decisions.jsonl --database-url postgresql+psycopg://db/moderation
      moderate feedback export --with-articles --out decisions.jsonl   # to train on another machine
    """
    from model.artifact import atomic_write
    from service.articles import ArticleStore
    from service.feedback import export_record, open_for_reading

    if database_url is not None and not database_url.strip():
        raise click.UsageError("--database-url is empty: give a database URL, or leave --database-url out")
    settings = load_settings()
    if out is not None:
        _check_export_target(out, overwrite)
    store = open_for_reading(database_url, "--database-url", settings.database_url, settings.data_dir)
    try:
        decided = store.checked_decisions()  # all checked before a line is written
        registered = ArticleStore(settings.data_dir).registered()
        _note_registered_articles(decided, registered, with_articles)
        carried = registered if with_articles else {}
        lines = (json.dumps(export_record(d, carried.get(d["article_id"])), ensure_ascii=False) + "\n"
                 for d in decided)
        if out is None:
            sys.stdout.writelines(lines)
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        written: list[int] = []
        atomic_write(out, lambda temporary: written.append(_write_lines(temporary, lines)))
        click.echo(f"{written[0]} decisions written to {out}", err=True)
    finally:
        store.close()


def _note_registered_articles(decided: list[dict], registered: dict, with_articles: bool) -> None:
    """Say how many decisions name an article only this machine knows, and how to carry it."""
    count = sum(d["article_id"] in registered for d in decided)
    if count and not with_articles:
        click.echo(f"note: {count} decisions name articles registered on this machine only (POST /v1/articles, "
                   "or sent inline and queued); add --with-articles to carry their text", err=True)


def _write_lines(path: str, lines) -> int:
    """Stream text lines into a file; return how many there were."""
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line)
            count += 1
    return count


@cli.command(name="eval")
@source_options
@click.option("--model", "model_dir", type=FolderPath(path_type=Path), default=None,
              help="Model folder (default: MODERATE_MODEL_DIR or the shipped model).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handle_errors
def evaluate(data, model_dir, as_json, **columns) -> None:
    """Score a labelled file with the current model and print the report.

    Without --data, evaluates on the shipped labelled set's comments under the articles the model's card
    says it was tested on and not trained on.

    \b
    Example:
      moderate eval --data my_decisions.jsonl
    """
    from service.models import load_serving_model
    from training.dataset import split_grouped
    from training.probes import probe_checks
    from training.report import format_probe_checks, format_report
    from training.sources import load_seed_data
    from training.train import evaluate as run_evaluation
    from training.train import held_out_articles

    settings = load_settings()
    model_dir = model_dir or settings.model_dir
    moderator, card = load_serving_model(model_dir, settings.data_dir)  # the model serve would use
    if data:
        records = _load_sources(data, columns).records
    else:
        all_records = load_seed_data().records
        held_out = held_out_articles(card, model_dir)  # older models lack them
        if held_out is None:  # the split the card's training settings draw
            seed = card["training_config"].get("seed", 0)
            fraction = card["training_config"].get("test_fraction", 0.2)
            _, test = split_grouped([r["group"] for r in all_records], test_fraction=fraction, seed=seed)
            held_out = {all_records[i]["group"] for i in test}
        records = [r for r in all_records if r["group"] in held_out]
        if not records:  # a model trained on an operator's own articles: no seed comment is its test
            raise click.ClickException(f"the model at {model_dir} was held out on {len(held_out)} article(s) "
                                       "none of which the shipped labelled set holds: give the labelled "
                                       "data to score with --data")
    report = run_evaluation(moderator, records)
    report.update(probe_checks(moderator))
    click.echo(json.dumps(report, indent=2) if as_json else
               f"model {card['model_version']} on {len(records)} comments\n{format_report(report)}\n"
               f"{format_probe_checks(report)}")


@cli.command()
@click.argument("text", required=False)
@click.option("--article", "article_id", default=None, help="Id of a known article (seed or registered).")
@click.option("--model", "model_dir", type=FolderPath(path_type=Path), default=None,
              help="Model folder (default: MODERATE_MODEL_DIR or the shipped model).")
@handle_errors
def score(text: str | None, article_id: str | None, model_dir: Path | None) -> None:
    """Print the full JSON result for one comment (from the argument, or standard input).

    \b
    Examples:
      moderate score "This article is one-sided nonsense." --article 003_2d5113ef618b1c85
      echo "and what about Guantanamo?" | moderate score
    """
    from service.articles import ArticleStore
    from service.models import load_serving_model

    if text is None:
        if sys.stdin.isatty():
            raise click.UsageError("give the comment as an argument or on standard input")
        text = _stdin_text()
    text = _argument_text(text)
    if not text.strip():
        raise click.ClickException("comment text is empty")
    settings = load_settings()
    if article_id is not None and not article_id.strip():
        raise click.UsageError("--article is empty: give an article id, or leave --article out")
    article = _article_text(ArticleStore(settings.data_dir), article_id, settings.data_dir) if article_id else None
    moderator, _ = load_serving_model(model_dir or settings.model_dir, settings.data_dir)
    result = moderator.moderate_one(text, article, top=settings.explain_top).to_dict()
    click.echo(json.dumps({"model_version": moderator.version, **result}, indent=2, ensure_ascii=False))


def _article_text(store: ArticleStore, article_id: str, data_dir: Path) -> str:
    """The text of a seed or registered article, or a one-line error that says where articles come from."""
    from model.errors import UnknownArticleError

    try:
        return store.get(article_id).text
    except UnknownArticleError:
        raise click.ClickException(f"unknown article_id '{article_id}': the seed articles and those registered "
                                   f"with POST /v1/articles (kept in {data_dir}) are known") from None


def _argument_text(text: str) -> str:
    """The comment argument, refused (naming the byte) when the shell passed bytes that are not UTF-8
    (Python keeps each such byte as half a UTF-16 pair, which the model would score as a character)."""
    from model.text import LONE_SURROGATE

    if not LONE_SURROGATE.search(text):
        return text
    try:
        return os.fsencode(text).decode("utf-8")
    except UnicodeDecodeError as error:
        raise click.ClickException(f"the comment argument is not valid UTF-8 (byte {error.start})") from None


def _stdin_text() -> str:
    """Standard input as UTF-8 text, refused (naming the byte) when it is not, as the HTTP API refuses it."""
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8-sig").replace("\r\n", "\n")  # a Windows tool's byte-order mark and line ends
    except UnicodeDecodeError as error:
        raise click.ClickException(f"standard input is not valid UTF-8 (byte {error.start})") from None


@cli.command()
@click.argument("input_spec", metavar="INPUT")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output file; .jsonl, .csv or .parquet (default: INPUT-name.labelled.jsonl beside it).")
@click.option("--text-column", default="text", show_default=True, help=COLUMN_HELP["text"])
@click.option("--id-column", default="id", show_default=True, help="Column holding the row's id, copied to the output.")
@click.option("--article-id-column", default="article_id", show_default=True, help=COLUMN_HELP["article_id"])
@click.option("--article-title-column", default="article_title", show_default=True,
              help=COLUMN_HELP["article_title"])
@click.option("--article-text-column", default="article_text", show_default=True,
              help=COLUMN_HELP["article_body"])
@click.option("--split", default=None, help="Split to label when INPUT is a `datasets` DatasetDict folder (refused for inputs without splits).")
@click.option("--jobs", type=int, default=None, help="Worker processes (default: every core).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run where it stopped.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output or an interrupted run's partial output.")
@click.option("--quiet", is_flag=True, help="No progress display (it is off anyway when stderr is not a terminal).")
@click.option("--model", "model_dir", type=FolderPath(path_type=Path), default=None,
              help="Model folder (default: the shipped model; MODERATE_MODEL_DIR).")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: worker processes on this machine; dask: an existing Dask cluster.")
@click.option("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (--engine dask).")
@click.option("--scheduler-timeout", type=click.FloatRange(0.1), default=20, show_default=True,
              help="Seconds to wait for the Dask scheduler.")
@click.option("--chunk-rows", type=click.IntRange(1, 1_000_000), default=5000, show_default=True,
              help="Rows per chunk handed to a worker (and per checkpoint).")
@handle_errors
def label(input_spec: str, out: Path | None, split: str | None, jobs: int | None, resume: bool,
          overwrite: bool, quiet: bool, model_dir: Path | None, engine: str, scheduler: str | None,
          scheduler_timeout: float, chunk_rows: int, **column_flags: str) -> None:
    """Label an archive of comments: every row once, in input order, with label, scores, stance and
    decision; resumable after Ctrl-C or a crash.

    INPUT is JSON Lines, CSV or Parquet (a file, a folder or a quoted glob), gzip-compressed JSON
    Lines or CSV, or a folder saved by `datasets`.

    \b
    Examples:
      moderate label comments-2019.jsonl.gz
      moderate label 'archive/*.parquet' --out labelled.parquet --text-column body --jobs 2
      moderate label comments.csv --resume
      moderate label 'archive/*.parquet' --engine dask --scheduler tcp://10.0.0.5:8786
    """
    from service.archive import ArchiveReader, default_output, inputs_besides_output, resolve_inputs
    from service.labelling import (Columns, PartialOutput, Progress, check_columns, check_jobs, column_notes,
                                   fingerprint_of, label_locally, make_labeller, output_kind, run_labelling,
                                   summary_lines)
    from service.labelling_dask import ClusterError, label_on_dask

    columns = Columns(**{name[:-len("_column")]: value for name, value in column_flags.items()})
    settings = load_settings(**({"model_dir": model_dir} if model_dir else {}))
    out = out or default_output(input_spec)
    output_kind(out)
    jobs = check_jobs(jobs)
    inputs = inputs_besides_output(resolve_inputs(input_spec), out)
    if engine == "dask" and not scheduler:
        raise click.UsageError("--engine dask needs --scheduler ADDRESS")
    if scheduler and engine != "dask":
        raise click.UsageError("--scheduler is for --engine dask: add it, or drop --scheduler to label here")
    if split is not None and all(item.kind != "datasets" for item in inputs):
        raise click.UsageError(f"--split chooses a split of a `datasets` folder, and {input_spec} holds none: "
                               "drop --split to label every row")
    check_columns(inputs, columns)
    labeller = make_labeller(settings.model_dir, settings.data_dir, columns)
    reader = ArchiveReader(inputs, chunk_rows=chunk_rows, split=split)
    output = PartialOutput(out, fingerprint_of(inputs, columns, labeller.moderator.version, split))
    if engine == "dask":
        def label_chunks(chunks):
            return label_on_dask(chunks, scheduler, labeller, timeout=scheduler_timeout)
    else:
        def label_chunks(chunks):
            return label_locally(chunks, labeller, jobs, settings.model_dir, settings.data_dir, columns)
    progress = Progress(enabled=sys.stderr.isatty() and not quiet)
    signal.signal(signal.SIGTERM, _interrupted)  # systemd's stop, docker stop, timeout: as Ctrl-C
    try:
        result = run_labelling(reader, output, label_chunks, resume=resume, overwrite=overwrite,
                               progress=progress)
    except KeyboardInterrupt:
        progress.close()
        raise click.ClickException(_stopped("interrupted", output)) from None
    except BrokenProcessPool as error:
        raise click.ClickException(_stopped(f"a worker process died ({error})", output)) from None
    except ClusterError as error:
        raise click.ClickException(_stopped(str(error), output)) from None
    progress.close()
    result.notes.extend(column_notes(result.tally, columns))
    for line in summary_lines(result):
        click.echo(line, err=True)


def _interrupted(signum: int, frame) -> None:
    """SIGTERM stops a labelling run as Ctrl-C does: what is saved is kept and the message says how to go on."""
    raise KeyboardInterrupt


def _stopped(cause: str, output) -> str:
    """Why a labelling run stopped, what it saved and how to go on."""
    if output.tally.rows == 0:  # run_labelling removed the empty partial output: nothing to resume
        return f"{cause} before any row was labelled; nothing was written: run the same command again"
    return (f"{cause} after {output.tally.rows:,} rows; {output.partial} holds them. Continue with the same "
            "command and --resume")


@cli.command()
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1; MODERATE_HOST).")
@click.option("--port", type=int, default=None, help="Port (default 8000; MODERATE_PORT).")
@click.option("--workers", type=int, default=None, help="Worker processes (default 1; MODERATE_WORKERS).")
@click.option("--model", "model_dir", type=FolderPath(path_type=Path), default=None,
              help="Model folder (default: the shipped model; MODERATE_MODEL_DIR).")
@handle_errors
def serve(host: str | None, port: int | None, workers: int | None, model_dir: Path | None) -> None:
    """Run the moderation endpoint (FastAPI under uvicorn); settings from flags or MODERATE_* variables.

    Without API keys (MODERATE_API_KEYS, MODERATE_ADMIN_KEYS) it runs in development mode and only
    binds to loopback.

    \b
    Examples:
      moderate serve
      MODERATE_API_KEYS=k1 MODERATE_ADMIN_KEYS=k2 moderate serve --host 0.0.0.0 --workers 2
    """
    import os

    import uvicorn

    from model.artifact import verified_card
    from service.feedback import FeedbackStore, database_url
    from service.models import load_serving_model
    from service.settings import LOOPBACK_HOSTS

    overrides = {k: v for k, v in {"host": host, "port": port, "workers": workers,
                                   "model_dir": model_dir}.items() if v is not None}
    settings = load_settings(**overrides)
    if settings.development_mode and settings.host not in LOOPBACK_HOSTS:
        raise click.ClickException(f"no API keys configured: development mode only binds to loopback, "
                                   f"not {settings.host}; set MODERATE_API_KEYS (and MODERATE_ADMIN_KEYS)")
    _check_listening(settings.host, settings.port, overrides)
    # fail here, with the reason, rather than inside a worker
    verified_card(settings.model_dir)
    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        raise click.ClickException(f"MODERATE_DATA_DIR: {settings.data_dir} is a file, not a folder")
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise click.ClickException(f"MODERATE_DATA_DIR: {settings.data_dir} cannot be created "
                                   f"({error.strerror or error})") from None
    FeedbackStore(database_url(settings.database_url, settings.data_dir)).close()
    # a model the workers could not load (other libraries, lexicons or feature code) fails here in one
    # line, not as a traceback at their start; the shipped default is retrained first if it must be
    load_serving_model(settings.model_dir, settings.data_dir)
    for name, value in overrides.items():
        os.environ[f"MODERATE_{name.upper()}"] = str(value)
    mode = "DEVELOPMENT MODE (no API keys, loopback only)" if settings.development_mode else "API keys required"
    click.echo(f"serving on http://{settings.host}:{settings.port} with {settings.workers} worker(s); {mode}",
               err=True)
    uvicorn.run("service.app:create_app", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, log_level=settings.log_level, access_log=False,
                timeout_worker_healthcheck=WORKER_START_SECONDS)


def _check_listening(host: str, port: int, overrides: dict) -> None:
    """Refuse, before the model is loaded, an address the server could not listen on (a host that does
    not resolve or is not this machine's, a port in use or not allowed), naming it and where it came from."""
    import socket

    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                                flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as error:
        origins = f"{_setting_origin('host', overrides)}, {_setting_origin('port', overrides)}"
        raise click.ClickException(f"cannot listen on {host}:{port} ({origins}): "
                                   f"{error.strerror or error}") from None


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="moderate")


if __name__ == "__main__":
    main()
