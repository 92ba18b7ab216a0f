"""The character view: per-token scores add up to the training representation's scores."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from model import characters
from model.characters import CharacterScorer, CharacterVocabulary, token_grams, tokens_of
from model.classifier import CommentClassifier, _token_weights
from model.labels import CATEGORIES
from training.config import TrainingConfig

TRAINING = ["What about the camps?", "You idiots!! Go away.", "The report is careful and fair.",
            "and what about Iraq??", "idiots, all of them", "A fair report, thank you."] * 3
TEXTS = ["What about Iraq?", "You IDIOTS!!", "", "   ", "fair report... thank you", "ünïcödé 北朝鮮 text!",
         "camps camps camps?", "x", "ΟΔΟΣ\u3000odd\xa0spaces\x1ftoo\tand\nlines", "nul\x00inside", "bell\x07and\x7fdel\x1bescape",
         "a" * 70 + "?! " + "a" * 70 + "! long tokens", "\ud800 lone surrogate", "Über ÜBER über"]
MANY = [f"{text} token{i}" for i in range(60) for text in TEXTS]  # batches over 16 go by byte spans


@pytest.fixture
def scorer() -> CharacterScorer:
    vocabulary = CharacterVocabulary(min_df=2).fit(TRAINING)
    weights = np.random.default_rng(0).normal(size=(len(vocabulary.vocabulary_), len(CATEGORIES)))
    return CharacterScorer(vocabulary, weights, np.array([0.1, -0.2, 0.3]))


def matrix_logits(scorer: CharacterScorer, texts: list[str]) -> np.ndarray:
    """The logits of the training representation: the comments' matrix times the weights."""
    return np.asarray(scorer.vocabulary.comments_matrix(texts) @ scorer.weights) + scorer.intercept


def test_tokens_keep_punctuation_and_lose_case() -> None:
    assert tokens_of("You IDIOTS!!  what\nabout it?") == ["you", "idiots!!", "what", "about", "it?"]
    assert token_grams("ab?") == [" a", "ab", "b?", "? ", " ab", "ab?", "b? ", " ab?", "ab? ", " ab? "]


def test_ngrams_found_by_hash_are_the_ngrams_of_the_tokens(scorer: CharacterScorer) -> None:
    vocabulary = scorer.vocabulary
    tokens = [t for text in TEXTS + TRAINING for t in tokens_of(text)] + ["a", "?", "muslims,", "𝔘𝔫𝔦", "aaaaaa"]
    expected = {}
    for owner, token in enumerate(tokens):
        if token.strip(",") in ("muslims",):
            continue
        for gram in token_grams(token):
            if gram in vocabulary.vocabulary_:
                key = (owner, vocabulary.vocabulary_[gram])
                expected[key] = expected.get(key, 0) + vocabulary.idf_[key[1]]
    owners, columns, values = vocabulary.cells(tokens)
    assert dict(zip(zip(owners.tolist(), columns.tolist()), values.tolist())) == pytest.approx(expected)
    assert len(expected) > 50


def test_scores_add_up_to_the_training_representation(scorer: CharacterScorer) -> None:
    batch, _ = scorer.logits(TEXTS)
    np.testing.assert_allclose(batch, matrix_logits(scorer, TEXTS), atol=1e-12)
    one_by_one = np.vstack([scorer.logits([text])[0] for text in TEXTS])
    np.testing.assert_allclose(one_by_one, batch, atol=1e-12)


def test_large_batches_find_the_same_tokens_by_their_bytes(scorer: CharacterScorer) -> None:
    expected = matrix_logits(scorer, MANY)
    cold, terms = scorer.logits(MANY)  # every token new
    warm, _ = scorer.logits(MANY)  # every token found by hash (or, when long, by its text)
    np.testing.assert_allclose(cold, expected, atol=1e-12)
    np.testing.assert_allclose(warm, expected, atol=1e-12)
    assert [terms.tokens[i] for i in range(len(terms.tokens))] == [t for text in MANY for t in tokens_of(text)]


def test_the_hash_table_is_rebuilt_as_tokens_accumulate(scorer, monkeypatch) -> None:
    monkeypatch.setattr(characters, "REINDEX_AFTER", 10)
    expected = matrix_logits(scorer, MANY)
    for start in range(0, len(MANY), 100):
        scorer.logits(MANY[start:start + 100])
    assert len(scorer._store.hashed[1]) > 0 and len(scorer._store.recent) <= len(scorer._store.index)
    np.testing.assert_allclose(scorer.logits(MANY)[0], expected, atol=1e-12)


def test_a_comment_without_tokens_scores_the_intercept(scorer: CharacterScorer) -> None:
    logits, terms = scorer.logits(["", "  \n "])
    np.testing.assert_array_equal(logits, np.tile(scorer.intercept, (2, 1)))
    assert terms.tokens == []


def test_the_store_starts_again_when_full_and_scores_stay_the_same(scorer, monkeypatch) -> None:
    expected = matrix_logits(scorer, TEXTS)
    monkeypatch.setattr(characters, "KEPT_TOKENS", 5)
    for text in TEXTS * 2:
        scorer.logits([text])
    assert len(scorer._store.index) - scorer._store.n_common <= 5
    np.testing.assert_allclose(scorer.logits(TEXTS)[0], expected, atol=1e-12)
    monkeypatch.setattr(characters, "KEPT_TOKENS", 50)
    for start in range(0, len(MANY), 40):
        np.testing.assert_allclose(scorer.logits(MANY[start:start + 40])[0],
                                   matrix_logits(scorer, MANY[start:start + 40]), atol=1e-12)


def test_threads_scoring_at_once_agree_with_one_thread(scorer, monkeypatch) -> None:
    monkeypatch.setattr(characters, "KEPT_TOKENS", 40)  # resets happen while threads score
    texts = [f"{text} token{i}" for i in range(200) for text in TEXTS[:3]]
    expected = matrix_logits(scorer, texts)
    for size in (7, 30):  # comment by comment, and by byte spans
        chunks = [texts[i:i + size] for i in range(0, len(texts), size)]
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda chunk: scorer.logits(chunk)[0], chunks))
        np.testing.assert_allclose(np.vstack(results), expected, atol=1e-12)


def test_the_pickle_holds_no_scored_tokens(scorer: CharacterScorer) -> None:
    expected = scorer.logits(TEXTS)[0]
    copy = pickle.loads(pickle.dumps(scorer))
    assert copy._store.tokens == scorer.vocabulary.common_tokens_  # scored again on loading, no more
    assert "camps?" in copy._store.index and "ünïcödé" not in copy._store.index
    np.testing.assert_allclose(copy.logits(TEXTS)[0], expected, atol=1e-12)


def test_token_weights_add_up_to_the_centred_logits(scorer: CharacterScorer) -> None:
    logits, terms = scorer.logits(TEXTS)
    labels = np.arange(len(TEXTS)) % len(CATEGORIES)
    rows, weights, positions = _token_weights(terms, labels)
    without_intercept = logits - scorer.intercept
    centred = without_intercept[np.arange(len(TEXTS)), labels] - without_intercept.mean(axis=1)
    np.testing.assert_allclose(np.bincount(rows, weights, len(TEXTS)), centred, atol=1e-12)
    pairs = [(row, terms.tokens[p]) for row, p in zip(rows.tolist(), positions.tolist())]
    assert len(pairs) == len(set(pairs))  # one weight per comment and distinct token
    assert (0, "iraq?") in pairs and (6, "camps") in pairs and (6, "camps?") in pairs


def test_the_character_view_can_be_switched_off() -> None:
    texts = TRAINING * 2
    categories = [CATEGORIES[i % 3] for i in range(len(texts))]
    groups = [f"a{i % 6}" for i in range(len(texts))]
    without, with_view = (CommentClassifier(C_characters=C, n_folds=2).fit(
        texts, [None] * len(texts), categories, [None] * len(texts), groups) for C in (0.0, 16.0))
    assert without.characters_ is None and isinstance(with_view.characters_, CharacterScorer)
    predictions = with_view.predict(["What about Iraq?"], [None])
    np.testing.assert_allclose(predictions.category.sum(axis=1), 1.0)
    assert len(with_view.blend_weights_) == 2 and min(with_view.blend_weights_) >= 0


def test_tokens_naming_a_group_have_no_character_grams(scorer: CharacterScorer) -> None:
    assert scorer.vocabulary.tokens_matrix(["muslims,", "(koreans)", "christians'", "jews's", "idiots!!"]
                                           ).getnnz(axis=1).tolist()[:4] == [0, 0, 0, 0]
    assert scorer.logits(["Muslims!"])[1].rows[0, -1] == 0.0  # no grams, no norm


@pytest.fixture(scope="module")
def with_characters(tmp_path_factory):
    """A model trained with the character view on, written and loaded as operators would."""
    from conftest import small_seed_data

    from model.artifact import load_model
    from training.train import train

    directory = tmp_path_factory.mktemp("characters")
    outcome = train(small_seed_data(6), TrainingConfig(cv_folds=0, n_folds=3, C_characters=16.0), directory,
                    force=True)
    return outcome, load_model(directory)[0]


def test_a_model_with_the_character_view_trains_saves_and_explains(with_characters) -> None:
    outcome, moderator = with_characters
    assert set(outcome.metrics["blend_weights"]) == {"category_head", "character_view"}
    assert outcome.card["training_config"]["C_characters"] == 16.0
    texts = ["You idiots!! Go back to your caves.", "And what about the US torture camps?"] + MANY[:30]
    batch = moderator.classifier.predict(texts, [None] * len(texts))
    np.testing.assert_allclose(batch.category.sum(axis=1), 1.0)
    explanations = moderator.classifier.explain(batch, batch.category.argmax(axis=1))
    assert any(name.startswith(characters.CHARACTER_PREFIX) for row in explanations for name, _ in row)
    for i in (0, 1, 20):  # one comment at a time (tokens by text) as in a batch (tokens by bytes)
        one = moderator.classifier.predict([texts[i]], [None])
        np.testing.assert_allclose(one.category[0], batch.category[i], atol=1e-12)
        assert moderator.classifier.explain(one, one.category.argmax(axis=1), decimals=9) == [
            [(name, round(weight, 9)) for name, weight in explanations[i]]]


def test_the_character_view_is_off_by_default(moderator) -> None:
    assert TrainingConfig().C_characters == 0.0
    assert moderator.classifier.characters_ is None  # the session model, trained with the defaults


def test_comments_without_shared_ngrams_train_without_the_view() -> None:
    texts = ["ab cd", "ab cd", "ef gh", "ef gh", "ij kl", "ij kl"]  # no n-gram in three comments
    classifier = CommentClassifier(C_characters=16.0, n_folds=2).fit(
        texts, [None] * 6, [CATEGORIES[i // 2] for i in range(6)], [None] * 6, [f"g{i % 3}" for i in range(6)])
    assert classifier.characters_ is None
    np.testing.assert_allclose(classifier.predict(["a b"], [None]).category.sum(), 1.0)


def test_spelling_can_be_left_out() -> None:
    texts = TRAINING * 2
    classifier = CommentClassifier(spelling=False, C_characters=16.0, n_folds=2).fit(
        texts, [None] * len(texts), [CATEGORIES[i % 3] for i in range(len(texts))], [None] * len(texts),
        [f"a{i % 6}" for i in range(len(texts))])
    predictions = classifier.predict(texts[:20], [None] * 20)
    assert predictions.batch.spelling is None and classifier.featurizer_.spelling_weights_ is None
    names = [name for row in classifier.explain(predictions, predictions.category.argmax(axis=1)) for name, _ in row]
    assert not any(name.startswith("[spelling]") for name in names)


@pytest.mark.parametrize(("setting", "value"), [("spelling", "no"), ("C_characters", -1.0)])
def test_bad_settings_are_named(setting: str, value) -> None:
    from model.errors import ConfigError
    from training.config import resolve_config
    with pytest.raises(ConfigError, match=setting):
        resolve_config(**{setting: value})


def test_a_model_pickled_before_later_settings_loads_with_neutral_values(with_characters) -> None:
    _, moderator = with_characters
    state = pickle.loads(pickle.dumps(moderator.classifier)).__getstate__()
    for added in ("C_characters", "spelling", "characters_", "sentence_min_share"):
        del state[added]
    older = CommentClassifier.__new__(CommentClassifier)
    older.__setstate__(state)
    assert older.get_params()["C_characters"] == 0.0 and older.get_params()["spelling"] is True
    assert older.get_params()["sentence_min_share"] == 0.0
    assert older.characters_ is None and "CommentClassifier(" in repr(older)
    np.testing.assert_allclose(older.predict(["What about Iraq?"], [None]).category.sum(), 1.0)
