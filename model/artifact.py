"""Model artifacts: save with a model card, and load only after the card and hashes check out.

Like any pickle, an artifact must only be loaded from a trusted source; the card's sha256 guards
against a truncated or swapped file, not against a malicious one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import joblib
import numpy as np

try:
    import fcntl
except ImportError:  # Windows: model folders are read and written without a lock
    fcntl = None

from model.classifier import CommentClassifier
from model.errors import ArtifactError, ConfigError
from model.labels import CATEGORIES, DECISIONS, STANCES
from model.moderation import Moderator
from model.policy import DecisionPolicy
from model.text import LEXICON_DIR

ARTIFACT_FILE = "model.joblib"  # the shipped model's; a trained one is named by its sha256
ARTIFACT_NAME = re.compile(r"model(-[0-9a-f]{12})?\.joblib")
STAGED_PREFIX = ".staged-"
CARD_FILE = "model_card.json"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "default"
CARD_FIELD_TYPES = {"model_version": str, "created_at": str, "versions": dict, "labels": dict,
                    "decision_policy": dict, "training_config": dict, "training_data": list, "metrics": dict,
                    "artifact": dict}
CARD_FIELDS = tuple(CARD_FIELD_TYPES)
PINNED_LIBRARIES = ("scikit-learn", "numpy", "joblib")
# Comments a new artifact scores into its card, and scores again when loaded: features computed by
# other code than the artifact was trained with show up here as other probabilities. They touch the
# article cues, the sentence scorer, the lexicons and homographs, and scripts other than Latin.
REFERENCE_COMMENTS = (
    ("This article is biased nonsense, and the author knows it.", None),
    ("What about the torture camps the US ran? Fix your own house first.",
     "North Korea's prison camps. A UN inquiry documented forced labour and starvation in the camps."),
    ("A thoughtful piece. The inquiry's findings match what defectors have said for years.",
     "North Korea's prison camps. A UN inquiry documented forced labour and starvation in the camps."),
    ("You are a moron. Go back to your cave, you filthy rat.", None),
    ("Die Welt schaut weg, und das ist eine Schande.", None),
    ("Hoe kan dit nog steeds gebeuren?", None),
    ("Ці люди — тварини, їх треба знищити.", None),
    ("ازدواجية المعايير، ماذا عن سجون أمريكا؟", None),
    ("북한 인권 문제는 정말 심각하다. 내로남불은 그만.", None),
    ("这篇文章说得很对。", None),
    ("I HOPE you recover soon!!! 🙏", None),
    ("", None),
)
REFERENCE_TOLERANCE = 1e-6


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries an artifact depends on."""
    versions = {"python": platform.python_version()}
    for name in ("scikit-learn", "numpy", "scipy", "joblib", "datasets"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def lexicon_hashes() -> dict[str, str]:
    """sha256 of each lexicon file the features read at run time, by file name."""
    return {path.name: sha256_of(path) for path in sorted(LEXICON_DIR.glob("*.txt"))}


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(moderator: Moderator, directory: Path, *, training_config: dict, training_data: list[dict],
               metrics: dict, reports: Mapping[str, Callable[[str], None]] | None = None) -> dict:
    """Write the artifact, the files of ``reports`` (file name: writer of a path) and the card into
    ``directory``; return the card. All are staged first and the card goes in last, so whatever stops
    the write (a full disk, ``kill -9``) the folder loads as the model it held before or as this one."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with folder_locked(directory, exclusive=True), _staging(directory) as stage:
        staged_artifact = stage(lambda path: joblib.dump(moderator.classifier, path, compress=3))
        digest = sha256_of(Path(staged_artifact))
        card = _card(moderator, training_config, training_data, metrics,
                     {"file": f"model-{digest[:12]}.joblib", "sha256": digest,
                      "bytes": os.path.getsize(staged_artifact)})
        staged = {name: stage(write) for name, write in (reports or {}).items()}
        staged[CARD_FILE] = stage(lambda path: Path(path).write_text(json.dumps(card, indent=2) + "\n",
                                                                     encoding="utf-8"))
        try:
            os.replace(staged_artifact, directory / card["artifact"]["file"])  # a new name: the model there stays whole
            for name, temporary in staged.items():  # the card last: it commits the new model
                os.replace(temporary, directory / name)
            with suppress(OSError):  # some file systems cannot sync a folder; the model is in place all the same
                _synced(directory)  # the renames, too, reach the disk before training says the model is written
        finally:
            with suppress(OSError):  # a file left behind costs disk space, never the model just written
                _remove_unnamed_artifacts(directory)
    return card


def _card(moderator: Moderator, training_config: dict, training_data: list[dict], metrics: dict,
          artifact: dict) -> dict:
    """The model card of ``moderator``, its artifact described by ``artifact``."""
    return {
        "model_version": moderator.version,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": library_versions(),
        "lexicons": lexicon_hashes(),
        "labels": {"category": list(CATEGORIES), "stance": list(STANCES), "decision": list(DECISIONS)},
        "decision_policy": moderator.policy.to_dict(),
        "training_config": training_config,
        "training_data": training_data,
        "metrics": metrics,
        "reference_scores": reference_scores(moderator.classifier),
        "artifact": artifact,
    }


@contextmanager
def _staging(directory: Path, prefix: str = STAGED_PREFIX, synced: bool = True
             ) -> Iterator[Callable[[Callable[[str], None]], str]]:
    """A function that writes a temporary file in ``directory`` through a writer (with the mode a new
    file gets from the umask, not the temporary file's owner-only 0600; ``synced`` to the disk) and
    returns its path; every such file not renamed away by the end is removed."""
    temporaries: list[str] = []

    def stage(write: Callable[[str], None]) -> str:
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=prefix)
        os.close(handle)
        temporaries.append(temporary)
        write(temporary)
        os.chmod(temporary, 0o666 & ~_umask())
        if synced:
            _synced(temporary)
        return temporary

    try:
        yield stage
    finally:
        for temporary in temporaries:
            if os.path.exists(temporary):
                os.unlink(temporary)


def _synced(path: str | Path) -> None:
    """Flush a file's or a folder's contents to the disk, so that a power cut keeps what was written."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_unnamed_artifacts(directory: Path) -> None:
    """Remove the artifacts the folder's card does not name and files staged by a write that was
    killed (called with the folder locked, so no other write is under way)."""
    try:
        named = json.loads((directory / CARD_FILE).read_text(encoding="utf-8"))["artifact"]["file"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # no card this code can read: nothing is known to be unused
    for path in directory.iterdir():
        if (ARTIFACT_NAME.fullmatch(path.name) and path.name != named) or path.name.startswith(STAGED_PREFIX):
            path.unlink(missing_ok=True)


@contextmanager
def folder_locked(directory: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold a model folder's lock: exclusive while a model is written, shared while one is read, so a
    reader never meets a card whose artifact was just replaced. Where the folder cannot be opened or
    its file system has no locks, go on without (reading then fails with its own error)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY) if fcntl is not None else None
    except OSError:
        descriptor = None
    try:
        if descriptor is not None:
            with suppress(OSError):
                fcntl.flock(descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        if descriptor is not None:
            os.close(descriptor)  # closing releases the lock


def file_in_the_way(path: Path) -> Path | None:
    """The existing file (not folder) among ``path``'s parents, which keeps anything being written there."""
    return next((parent for parent in path.parents if parent.exists() and not parent.is_dir()), None)


def atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same directory (``_staging``), then rename over ``path``."""
    with _staging(path.parent, prefix=f".{path.name}.", synced=False) as stage:
        os.replace(stage(write), path)


def _umask() -> int:
    """The process's umask (reading it means setting it, so it is set back at once)."""
    umask = os.umask(0o077)
    os.umask(umask)
    return umask


def read_card(directory: Path) -> dict:
    """Read and validate a model card; fail with what is missing or wrong."""
    with unreadable_as_artifact_error():
        return _read_card(Path(directory))


@contextmanager
def unreadable_as_artifact_error() -> Iterator[None]:
    """Turn a model file this process cannot read (permissions, a folder in its place) into a named error."""
    try:
        yield
    except OSError as error:
        raise ArtifactError(f"{error.filename or 'model folder'}: cannot be read ({error.strerror or error}): "
                            "check that this user may read the model folder and its files") from None


def _read_card(directory: Path) -> dict:
    """The card of a model folder, checked field by field."""
    if directory.exists() and not directory.is_dir():
        raise ArtifactError(f"{directory} is a file, not a model folder: give the folder `moderate train` wrote")
    card_path = directory / CARD_FILE
    if not card_path.is_file():
        raise ArtifactError(f"no model card at {card_path}: run `moderate train` to create a model")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ArtifactError(f"{card_path}: model card is not valid JSON ({error})") from None
    if not isinstance(card, dict):
        raise ArtifactError(f"{card_path}: model card must be a JSON object")
    missing = [name for name in CARD_FIELDS if name not in card]
    if missing:
        raise ArtifactError(f"{card_path}: model card lacks {', '.join(missing)}: retrain with `moderate train`")
    wrong = [f"{name} must be {kind.__name__ if kind is not dict else 'an object'}, got {type(card[name]).__name__}"
             for name, kind in CARD_FIELD_TYPES.items() if not isinstance(card[name], kind)]
    if wrong:
        raise ArtifactError(f"{card_path}: {'; '.join(wrong)}: retrain with `moderate train`")
    expected_labels = {"category": list(CATEGORIES), "stance": list(STANCES)}
    for name, labels in expected_labels.items():
        if card["labels"].get(name) != labels:
            raise ArtifactError(f"{card_path}: {name} labels are {card['labels'].get(name)}, this "
                                f"code expects {labels}: run `moderate train`")
    problems = _artifact_entry_problems(card["artifact"]) + _optional_field_problems(card)
    if problems:
        raise ArtifactError(f"{card_path}: {'; '.join(problems)}: retrain with `moderate train`")
    return card


def _artifact_entry_problems(entry: dict) -> list[str]:
    """What is wrong with a card's ``artifact`` entry: a file name inside the folder and a sha256."""
    problems = []
    name = entry.get("file", ARTIFACT_FILE)
    if not isinstance(name, str) or name in ("", ".", "..") or Path(name).name != name:
        problems.append(f"artifact.file must name a file inside the model folder, got {name!r}")
    if not isinstance(entry.get("sha256"), str):
        problems.append(f"artifact.sha256 must be a hex digest, got {entry.get('sha256')!r}")
    return problems


def _optional_field_problems(card: dict) -> list[str]:
    """What is wrong with the fields older cards lack: ``lexicons`` and ``reference_scores``."""
    problems = []
    lexicons = card.get("lexicons")
    if lexicons is not None and not (isinstance(lexicons, dict)
                                     and all(isinstance(v, str) for v in lexicons.values())):
        problems.append("lexicons must be an object of file names and sha256 digests")
    references = card.get("reference_scores")
    if references is not None and not (isinstance(references, list)
                                       and all(_is_reference_entry(e) for e in references)):
        problems.append("reference_scores must be a list of {text, article, category, stance} objects")
    return problems


def _is_reference_entry(entry: object) -> bool:
    """Whether a reference score is a comment, its article or null, and a probability list per head."""
    return (isinstance(entry, dict) and isinstance(entry.get("text"), str)
            and "article" in entry and (entry["article"] is None or isinstance(entry["article"], str))
            and all(_is_probabilities(entry.get(head), n) for head, n in (("category", len(CATEGORIES)),
                                                                         ("stance", len(STANCES)))))


def _is_probabilities(values: object, n: int) -> bool:
    """Whether ``values`` is a list of ``n`` numbers."""
    return (isinstance(values, list) and len(values) == n
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values))


class IncompatibleArtifactError(ArtifactError):
    """The artifact was written by library versions other than the installed ones."""


def check_versions(card: dict, card_path: Path) -> None:
    """Fail, naming ``card_path``, when a pinned library, or a lexicon file the features read, differs
    from the one the artifact was trained with (cards written before lexicons were recorded are not
    checked for them)."""
    installed = library_versions()
    for name in PINNED_LIBRARIES:
        trained = card["versions"].get(name)
        if trained != installed[name]:
            raise IncompatibleArtifactError(
                f"{card_path}: model trained with {name} {trained}, installed {installed[name]}: "
                "run `moderate train`")
    trained_lexicons, installed_lexicons = card.get("lexicons"), lexicon_hashes()
    if trained_lexicons is not None and trained_lexicons != installed_lexicons:
        changed = sorted(name for name in set(trained_lexicons) | set(installed_lexicons)
                         if trained_lexicons.get(name) != installed_lexicons.get(name))
        raise IncompatibleArtifactError(
            f"{card_path}: model trained with other lexicons than {LEXICON_DIR} holds now "
            f"(changed: {', '.join(changed)}): run `moderate train`")


def reference_scores(classifier: CommentClassifier) -> list[dict]:
    """The category and stance probabilities of ``REFERENCE_COMMENTS``, as a card records them."""
    texts, articles = [text for text, _ in REFERENCE_COMMENTS], [article for _, article in REFERENCE_COMMENTS]
    predictions = classifier.predict(texts, articles)
    return [{"text": text, "article": article, "category": category, "stance": stance}
            for text, article, category, stance in zip(texts, articles, predictions.category.tolist(),
                                                       predictions.stance.tolist())]


def check_reference_scores(classifier: CommentClassifier, card: dict, card_path: Path) -> None:
    """Fail, naming ``card_path``, when the classifier scores the card's reference comments otherwise
    than when it was trained: the feature code changed since (cards without reference scores are not
    checked)."""
    recorded = card.get("reference_scores")
    if not recorded:
        return
    predictions = classifier.predict([entry["text"] for entry in recorded],
                                     [entry["article"] for entry in recorded])
    for head in ("category", "stance"):
        expected = np.array([entry[head] for entry in recorded])
        actual = getattr(predictions, head)
        difference = np.abs(actual - expected).max(axis=1)
        worst = int(difference.argmax())
        if difference[worst] > REFERENCE_TOLERANCE:
            raise IncompatibleArtifactError(
                f"{card_path}: model scores its reference comment {recorded[worst]['text']!r} otherwise "
                f"than when it was trained ({head} probabilities differ by up to {difference[worst]:.3g}): the "
                "feature code has changed since; run `moderate train`")


def verified_card(directory: Path) -> tuple[dict, Path]:
    """A model folder's card and artifact path, once the card is valid and the artifact's hash is
    the one the card records (nothing is unpickled)."""
    with folder_locked(Path(directory), exclusive=False):
        return _verified_card(directory)


def _verified_card(directory: Path) -> tuple[dict, Path]:
    """``verified_card`` without the folder's lock."""
    card = read_card(directory)
    artifact_path = Path(directory) / card["artifact"].get("file", ARTIFACT_FILE)
    with unreadable_as_artifact_error():
        if not artifact_path.is_file():
            raise ArtifactError(f"model card at {directory} names {artifact_path.name}, which is missing or not "
                                "a file: restore it, or retrain with `moderate train`")
        actual = sha256_of(artifact_path)
    if actual != card["artifact"].get("sha256"):
        raise ArtifactError(f"{artifact_path}: sha256 {actual[:12]}… does not match the card's "
                            f"{str(card['artifact'].get('sha256'))[:12]}…: the file is corrupt or was "
                            "replaced; retrain with `moderate train`")
    return card, artifact_path


def load_model(directory: Path = DEFAULT_MODEL_DIR) -> tuple[Moderator, dict]:
    """Load an artifact after validating its card, hash and library versions."""
    directory = Path(directory)
    with folder_locked(directory, exclusive=False):  # a write waits till the artifact is read
        card, artifact_path = _verified_card(directory)
        check_versions(card, directory / CARD_FILE)
        try:
            classifier = joblib.load(artifact_path)
        except Exception as error:  # unpickling can fail in many ways; all mean "unusable artifact"
            raise ArtifactError(f"{artifact_path}: cannot be loaded ({type(error).__name__}: {error}): "
                                "run `moderate train`") from None
    if not isinstance(classifier, CommentClassifier):
        raise ArtifactError(f"{artifact_path}: holds a {type(classifier).__name__}, not a CommentClassifier")
    try:
        policy = DecisionPolicy(**card["decision_policy"])
    except TypeError as error:  # a field this code does not know, or one missing: another version's card
        raise ArtifactError(f"{directory / CARD_FILE}: decision_policy does not fit this code ({error}): "
                            "run `moderate train`") from None
    except ConfigError as error:  # a threshold an operator set that cannot mean what they meant
        raise ArtifactError(f"{directory / CARD_FILE}: decision_policy: {error}; correct it in the card") from None
    moderator = Moderator(classifier, policy, card["model_version"])
    try:
        moderator.moderate_one("A smoke test of the loaded model.", "An article.")
    except Exception as error:  # an artifact from other code versions fails here, not mid-request
        raise IncompatibleArtifactError(
            f"{artifact_path}: loads but cannot score ({type(error).__name__}: {error}); it was "
            "probably written by another version of this code: run `moderate train`") from None
    check_reference_scores(classifier, card, directory / CARD_FILE)
    return moderator, card
