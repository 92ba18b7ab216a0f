"""Behaviour of the trained model: calibrated scores, explanations, the hard lines."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from conftest import seed_data
from hypothesis import example, given, settings
from hypothesis import strategies as st

from model.corpus import load_articles
from model.labels import CATEGORIES, STANCES
from model.moderation import CommentInput
from model.policy import DecisionPolicy
from seeds import SEEDS_DIR
from training.augment import insults_held_by_few
from training.config import TrainingConfig
from training.probes import friendly_frame_sentences

ARTICLE = load_articles(SEEDS_DIR / "articles.jsonl")["003_2d5113ef618b1c85"].text
# The shipped model misses none of 574 (the same round with one comment more: 2; 177b5c8f: 7 of 576; the
# same data with another split and swap draw, seed 1: 10; bf8b9771: 2 of 578, its seed 1: 4; 1cad1af5: 1).
# A twenty-eighth round that made nine swapped insults too civil to swap missed 86. Before the twenty-fifth
# round's insults inside polite openers, 744e8cec missed 7 of 592 and another split 32; before the swap took
# every comment of a plural insult, dea6d4b2 missed 5, other draws of its data 41 and 44 (HISTORY).
SLURS_MISSED_CEILING = 0.02


def test_scores_are_probabilities_summing_to_one(moderator) -> None:
    result = moderator.moderate_one("The regime must answer for the camps.", ARTICLE)
    assert set(result.scores) == set(CATEGORIES) and set(result.stance_scores) == set(STANCES)
    assert sum(result.scores.values()) == pytest.approx(1, abs=1e-5)
    assert sum(result.stance_scores.values()) == pytest.approx(1, abs=1e-5)
    assert result.category == max(result.scores, key=result.scores.get)


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_any_text_gets_valid_probabilities(moderator, text: str) -> None:
    result = moderator.moderate_one(text)
    assert sum(result.scores.values()) == pytest.approx(1, abs=1e-5)
    assert all(0 <= p <= 1 for p in result.scores.values())
    assert result.decision in ("approve", "review", "reject")


@settings(max_examples=15, deadline=None)
@given(st.permutations(list(range(6))))
def test_batch_order_does_not_change_a_score(moderator, order: list[int]) -> None:
    texts = ["Great article, thank you.", "And what about Iraq?", "You are a f*cking idiot.",
             "The camps must be closed.", "Nobody cares when the US does it.", "Utter nonsense from start to finish."]
    baseline = [r.scores for r in moderator.moderate([CommentInput(t, ARTICLE) for t in texts])]
    shuffled = moderator.moderate([CommentInput(texts[i], ARTICLE) for i in order])
    for position, i in enumerate(order):
        assert shuffled[position].scores == baseline[i]


def test_no_explanation_asked_for_gives_the_same_verdicts_without_one(moderator) -> None:
    texts = ["You are a brainless idiot and a liar.", "And what about Iraq?", "The camps must close."]
    explained = moderator.moderate([CommentInput(t, ARTICLE) for t in texts])
    for unexplained in (moderator.moderate([CommentInput(t, ARTICLE) for t in texts], top=0),
                        moderator.moderate([CommentInput(t, ARTICLE) for t in texts], explain=False)):
        assert [r.explanation for r in unexplained] == [[], [], []]
        assert [(r.category, r.scores, r.decision) for r in unexplained] == [
            (r.category, r.scores, r.decision) for r in explained]
    assert all(r.explanation for r in explained)


def test_explanation_names_words_with_weights(moderator) -> None:
    result = moderator.moderate_one("You are a brainless idiot and a liar.", ARTICLE)
    assert result.category == "abusive"
    names = [item["feature"] for item in result.explanation]
    assert any("idiot" in name for name in names)
    assert all(item["weight"] > 0 for item in result.explanation)


def test_works_without_an_article(moderator) -> None:
    result = moderator.moderate_one("What about the American torture camps in Guantanamo?")
    assert result.category == "whataboutism"


def test_one_insult_in_a_long_civil_comment_is_caught(moderator) -> None:
    civil = ("I have read the commission's report and I think the article summarises it fairly. "
             "The numbers on prison camps are consistent with what defectors have said for years, "
             "and the point about repatriation from China is well made. I would have liked more on "
             "what the UN can realistically do, since a tribunal needs a referral. ")
    result = moderator.moderate_one(civil + "Anyone who disagrees is a retarded piece of sh*t. " + civil,
                                    ARTICLE)
    assert result.category == "abusive"
    assert result.decision in ("review", "reject")


@pytest.mark.parametrize("insult", ["You are a moron.", "What a clown.", "The author is an idiot.",
                                    "The reporter is a muppet.", "You filthy pig.", "Scum like you ruin this site."])
def test_an_everyday_insult_in_a_long_civil_comment_is_caught(moderator, insult: str) -> None:
    """The words of insults that the labelled set also uses in their plain senses (a pig on a farm,
    "the class clown"): counted, those comments dropped "moron" and "clown" from the sentence scorer,
    and a model read a long civil comment ending "You are a moron." as substantive (0.09)."""
    civil = ("I read the whole article and found the figures on the camps convincing, and the interviews "
             "with former prisoners were moving and carefully sourced. ")
    assert moderator.moderate_one(civil + insult).category == "abusive"


HARSH_DISAGREEMENT = [
    "This article is biased nonsense and the author clearly knows nothing about Korea.",
    "Completely wrong. The evidence for 'genocide' here is thin and the piece is pure propaganda.",
    "I strongly disagree with every word of this. Intervention would kill millions.",
]


@pytest.mark.parametrize("text", HARSH_DISAGREEMENT)
def test_harsh_disagreement_is_not_abusive(moderator, text: str) -> None:
    result = moderator.moderate_one(text, ARTICLE)
    assert result.category != "abusive", result.scores


@pytest.mark.parametrize("text", HARSH_DISAGREEMENT)
def test_harsh_disagreement_disputes_the_article(moderator, text: str) -> None:
    assert moderator.moderate_one(text, ARTICLE).stance == "disputes"


@pytest.mark.parametrize("text", [
    "The D.P.R.K. denies all of it.", "R. Kelly is irrelevant here.", "George W. Bush made the same promise in 2002.",
    "I think the U.S. and South Korea should push harder at the U.N.", "The U.S. should do more about this."])
def test_abbreviations_and_initials_are_not_read_as_abuse(moderator, text: str) -> None:
    """Their lone letters ("d", "r", "s") used to be sentences of their own, which the sentence
    scorer read as the "u r" of abuse (0.56 to 0.99 abusive with 60cfa3de)."""
    assert moderator.moderate_one(text, ARTICLE).category != "abusive", text


def test_an_insult_after_an_abbreviation_is_still_caught(moderator) -> None:
    assert moderator.moderate_one("I live in the U.S. and read it twice. You are a moron.").category == "abusive"


@pytest.mark.parametrize("text", [
    "Kim Jong Un had his own uncle executed.", "Kim won't denuclearise, not ever.",
    "Kim Yo Jong gave a speech on state TV today.", "Kim Il Sung founded the state in 1948."])
def test_naming_a_leader_is_not_abuse(moderator, text: str) -> None:
    """Abusive comments aim at leaders by name, so a name leaned toward abuse: 177b5c8f rejected the
    first (0.96 abusive) and held the second for review (0.48), before the thirtieth round."""
    assert moderator.moderate_one(text, ARTICLE).category == "substantive", text


@pytest.mark.parametrize("text", [
    "Kim Jong Un is a fat pig.", "Someone should shoot Kim.", "Kim is a brain-dead lunatic."])
def test_name_calling_or_threatening_a_leader_is_abuse(moderator, text: str) -> None:
    assert moderator.moderate_one(text, ARTICLE).category == "abusive", text


def test_the_articles_own_subject_stated_as_a_wrong_is_no_deflection(moderator) -> None:
    """The shape of a deflection ("X has starved its own people for decades") about the article's own
    subject engages with it: 177b5c8f read this 0.88 whataboutism under the seed article."""
    text = "North Korea has starved its own people for decades."
    assert moderator.moderate_one(text, ARTICLE).category == "substantive"


@pytest.mark.parametrize("group", ["Christians", "Muslims", "Jews", "Koreans", "gay people", "refugees",
                                   "women", "Chinese people"])
def test_mentioning_a_group_is_not_abusive(moderator, group: str) -> None:
    result = moderator.moderate_one(f"My neighbours are {group} and they were moved by this article.", ARTICLE)
    assert result.category != "abusive", result.scores


CALLS_FOR_HARM = [  # read civil or as whataboutism before the twenty-sixth round (seeds/LABELING.md)
    "Let the Rohingya drown.",
    "The Hazaras need to be removed for good, one way or another.",
]
REPORTS_OF_HARM = [
    "The militia drove the Masalit out of El Geneina and burned their homes.",
    "Hindus in Bangladesh were rounded up and beaten; the government must protect them.",
    "Our farm had rats in the barn all winter, so we called pest control.",
]


@pytest.mark.parametrize("text", CALLS_FOR_HARM)
def test_calls_for_harm_to_a_people_are_abusive(moderator, text: str) -> None:
    assert moderator.moderate_one(text).category == "abusive"


@pytest.mark.parametrize("text", REPORTS_OF_HARM)
def test_reports_of_harm_and_literal_pests_are_not_abusive(moderator, text: str) -> None:
    result = moderator.moderate_one(text)
    assert result.category != "abusive", result.scores


@pytest.mark.parametrize("text, category", [
    ("Thank you for writing this, Robert. Keep going.", "substantive"),
    ("Pot, meet kettle. Fix your own country's prisons first.", "whataboutism"),
    ("Someone should put a bullet in that fat dictator's head.", "abusive"),
    ("Muslims are a cancer on this earth.", "abusive"),
    ("The regime's treatment of Christians is an atrocity and the UN must act.", "substantive"),
])
def test_golden_cases(moderator, text: str, category: str) -> None:
    assert moderator.moderate_one(text, ARTICLE).category == category


def test_decision_policy_rejects_clear_abuse_and_approves_clear_engagement(moderator) -> None:
    assert moderator.moderate_one("Go kill yourself, you worthless scumbag.", ARTICLE).decision == "reject"
    assert moderator.moderate_one("A well researched article on the camps, thank you.", ARTICLE
                                  ).decision == "approve"


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from([0.0, 0.2, 0.35, 0.5, 0.8, 1.0]), min_size=9, max_size=9),
       st.sampled_from([DecisionPolicy(), DecisionPolicy(reject_whataboutism=0.9, min_confidence=0.6)]))
def test_decisions_of_a_batch_are_those_of_each_row(thresholded: list[float], policy: DecisionPolicy) -> None:
    """Scores on and beside each threshold, and random ones, decided as rows and as a batch."""
    rng = np.random.default_rng(len(thresholded))
    scores = np.vstack([np.reshape(thresholded, (3, 3)), rng.dirichlet(np.ones(3), size=200).round(6)])
    one_by_one = [policy.decide(dict(zip(CATEGORIES, row)))[0] for row in scores.tolist()]
    assert policy.decide_all(scores[:, CATEGORIES.index("abusive")], scores[:, CATEGORIES.index("whataboutism")],
                             scores.max(axis=1)) == one_by_one
    flood = rng.random(len(scores)) < 0.5
    one_by_one = [policy.decide(dict(zip(CATEGORIES, row)), bool(f))[0] for row, f in zip(scores.tolist(), flood)]
    assert policy.decide_all(scores[:, CATEGORIES.index("abusive")], scores[:, CATEGORIES.index("whataboutism")],
                             scores.max(axis=1), flood) == one_by_one


def test_a_flood_of_one_insult_is_never_approved(moderator) -> None:
    """Repeated a few hundred times, an insult's spelling outweighed everything else and read as
    substantive (approved); a flood is held for review whatever its scores, and a long civil comment
    is not a flood."""
    floods = ["idiot " * 500, "Idiot! " * 120, "I will kill you. " * 200]
    for result in moderator.moderate([CommentInput(text) for text in floods]) + [moderator.moderate_one(floods[0])]:
        assert result.decision != "approve" and "repeated_words" in result.reasons
    long_civil = (Path(__file__).parent.parent / "seeds" / "003_2d5113ef618b1c85.txt").read_text(encoding="utf-8")[:5000]
    assert "repeated_words" not in moderator.moderate_one(long_civil).reasons


def test_slurs_the_labelled_set_lacks_are_abusive_even_in_a_friendly_frame(moderator) -> None:
    """Swapped into the training comments of the insults the data has (training.augment), slurs no
    labelled comment uses are learnt as insults: a model without the swap read "Thanks for the link,
    nigger." as civil."""
    words = insults_held_by_few(seed_data().records, TrainingConfig().min_df)
    assert len(words) >= 40 and "nigger" in words
    texts = friendly_frame_sentences(words)
    results = moderator.moderate([CommentInput(text) for text in texts], explain=False)
    missed = [text for text, result in zip(texts, results) if result.category != "abusive"]
    assert len(missed) <= SLURS_MISSED_CEILING * len(texts), missed


def test_empty_batch(moderator) -> None:
    assert moderator.moderate([]) == []


def test_sentence_scorer_ignores_function_words_alone(moderator) -> None:
    classifier = moderator.classifier
    names = classifier.feature_names_[:len(classifier.sentence_coef_)]
    function_only = [i for i, name in enumerate(names) if name in ("is a", "are", "you", "is", "a")]
    assert len(function_only) >= 3
    assert all(classifier.sentence_coef_[i] == 0 for i in function_only)
    assert classifier.sentence_coef_[names.index("idiot")] > 0


def test_sentence_scorer_skips_words_used_in_abuse_about_as_often_as_not(moderator) -> None:
    classifier = moderator.classifier
    names = classifier.feature_names_[:len(classifier.sentence_coef_)]
    assert classifier.sentence_coef_[names.index("hope")] == 0  # "I hope you rot" and "hope she recovers"
    assert classifier.sentence_coef_[names.index("see how")] == 0
    # a dehumanising word: the insult lexicon's own words ("scum") are mostly swapped out of their abusive
    # comments before the fit (training.augment), which leaves the rest near the band's edge
    assert classifier.sentence_coef_[names.index("vermin")] > 0
    assert classifier.sentence_coef_[names.index("thank")] < 0  # clean words still clear a sentence


def test_sentence_columns_keep_words_mostly_abusive_or_mostly_clean() -> None:
    import scipy.sparse as sp

    from model.classifier import CommentClassifier
    is_abusive = np.array([1] * 10 + [0] * 30)
    insult = [1] * 9 + [0] * 31  # all of its comments abusive
    everyday = [1] * 5 + [0] * 5 + [1] * 5 + [0] * 25  # half of them
    clean = [0] * 10 + [1] * 10 + [0] * 20  # none
    rare_insult = [1] * 3 + [0] * 37
    text = sp.csr_matrix(np.array([insult, everyday, clean, rare_insult]).T.astype(float))
    kept = CommentClassifier(sentence_min_share=0.65)._sentence_columns(text, is_abusive)
    assert kept.tolist() == [True, False, True, True]
    assert CommentClassifier(sentence_min_share=0.4)._sentence_columns(text, is_abusive).all()


def test_plain_senses_of_an_insult_do_not_choose_the_sentence_scorers_columns() -> None:
    """Ten abusive comments and ten civil plain-sense ones ("the circus clown") hold the insult: counted,
    its share (0.5) drops it from the scorer; passed over, it keeps its column and a positive weight."""
    import scipy.sparse as sp

    from model.classifier import CommentClassifier
    is_abusive = np.array([1] * 10 + [0] * 30)
    insult = [1] * 20 + [0] * 20
    clean = [0] * 20 + [1] * 20
    text = sp.csr_matrix(np.array([insult, clean]).T.astype(float))
    plain = np.array([False] * 10 + [True] * 10 + [False] * 20)
    scorer = CommentClassifier(sentence_min_share=0.65)
    rows, owners = np.arange(40), np.arange(40)
    counted_all = scorer._fit_sentence_scorer(text, text, owners, is_abusive, rows, np.ones(40, dtype=bool))[0]
    passed_over = scorer._fit_sentence_scorer(text, text, owners, is_abusive, rows, ~plain)[0]
    assert counted_all[0] == 0 and passed_over[0] > 0
    every_row_tagged = scorer._fit_sentence_scorer(text, text, owners, is_abusive, rows, np.zeros(40, dtype=bool))[0]
    np.testing.assert_array_equal(every_row_tagged, counted_all)  # nothing left to choose on: all count


@pytest.mark.parametrize("text", ["She is a two-time champion and a great role model.",
                                  "The mayor is a former teacher."])
def test_x_is_a_y_is_not_abusive_by_its_shape(moderator, text: str) -> None:
    assert moderator.moderate_one(text).scores["abusive"] < 0.2


@pytest.mark.parametrize("text", ["Pussy Riot members were jailed for singing a protest song in a cathedral.",
                                  "Dick Van Dyke danced on the rooftops in Mary Poppins.",
                                  "We are all guinea pigs in this surveillance experiment.",
                                  "We watched the jackass penguins waddle along the beach."])
def test_a_name_or_idiom_holding_a_crude_word_is_not_abuse(moderator, text: str) -> None:
    assert moderator.moderate_one(text).scores["abusive"] < 0.5


@pytest.mark.parametrize("text", ["Kim is a pussy hiding behind his generals.",
                                  "The author is a pussy for not naming his sources.",
                                  "You fucking pussy.",
                                  "Read the article before commenting, you knobhead.",
                                  "The minister is a total numpty.",
                                  "There are too many chinks in this town.",  # no phrase hides a slur
                                  "The councillor is a total bampot.",
                                  "Away and boil your head, you dobber."])
def test_a_crude_word_aimed_at_a_person_is_abuse(moderator, text: str) -> None:
    assert moderator.moderate_one(text).category == "abusive"


def test_evidence_scale_favours_ngrams_that_tell_classes_apart() -> None:
    import numpy as np
    import scipy.sparse as sp

    from model.classifier import evidence_scale
    y = np.array([0, 0, 1, 1, 2, 2])
    only_in_class_0 = [1, 1, 0, 0, 0, 0]
    in_every_class = [1, 1, 1, 1, 1, 1]
    X = sp.csr_matrix(np.array([only_in_class_0] + [in_every_class] * 4).T.astype(float))
    scale = evidence_scale(X, y, 3, power=0.5)
    assert scale[0] > 2 * scale[1]
    assert scale.mean() == pytest.approx(1.0)


def test_a_column_scale_is_folded_into_the_coefficients() -> None:
    import numpy as np
    import scipy.sparse as sp

    from model.classifier import LinearHead, _softmax
    rng = np.random.default_rng(0)
    X = sp.random(120, 12, density=0.4, random_state=1, format="csr")
    y, groups = rng.integers(0, 3, 120), np.arange(120) % 10
    scale = rng.uniform(0.2, 3.0, 12)

    def probabilities(head: LinearHead, design: sp.csr_matrix) -> np.ndarray:
        return _softmax(design @ head.scaled_coef_t_ + head.intercept_ / head.temperature_)

    folded = LinearHead(C=2.0).fit(X, y, groups, 3, column_scale=scale)
    plain = LinearHead(C=2.0).fit(X @ sp.diags(scale), y, groups, 3)
    assert np.allclose(probabilities(folded, X), probabilities(plain, X @ sp.diags(scale)))
    assert not np.allclose(probabilities(folded, X), probabilities(LinearHead(C=2.0).fit(X, y, groups, 3), X))


def test_a_mild_worst_sentence_is_not_called_abusive_in_explanations(moderator) -> None:
    from model.classifier import MILD_SENTENCE, SENTENCE_FEATURE
    civil = ["Good point.", "Thank you for this article.", "Heartbreaking read. Thank you.",
             "I disagree with the author, but the figures on the camps are well sourced."]
    names = [item["feature"] for result in moderator.moderate([CommentInput(t, ARTICLE) for t in civil])
             for item in result.explanation]
    assert any(name.startswith(MILD_SENTENCE) for name in names)
    assert not any(name.startswith(SENTENCE_FEATURE) for name in names)
    abusive = moderator.moderate_one("You are a brainless idiot and a liar.", ARTICLE).explanation
    assert any(item["feature"].startswith(SENTENCE_FEATURE) for item in abusive)


def test_a_cue_that_counts_by_its_absence_is_named_absent(moderator) -> None:
    from model.cues import DENSE_FEATURES
    classifier = moderator.classifier
    column = classifier.featurizer_.n_text_features + DENSE_FEATURES.index("question marks")
    coefficients = classifier.category_head_.centred_coef_[:, column]
    for size in (1, 20):  # both featurizer paths
        plain = classifier.predict(["They should open the port to the ship today."] * size, [None] * size)
        names = [name for name, _ in classifier.explain(plain, np.array([np.argmin(coefficients)] * size),
                                                         top=100)[0]]
        assert "[no question marks]" in names and "[question marks]" not in names
        asking = classifier.predict(["Who pays? Why? Who signed this off???"] * size, [None] * size)
        names = [name for name, _ in classifier.explain(asking, np.array([np.argmax(coefficients)] * size),
                                                         top=100)[0]]
        assert "[question marks]" in names and "[no question marks]" not in names


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from([-1.0, 0.0, 0.5, 2.0])), max_size=30))
def test_each_rows_worst_sentence_is_its_last_highest(sentences: list[tuple[int, float]]) -> None:
    from model.classifier import _max_by_owner
    sentences = sorted(sentences, key=lambda s: s[0])  # owners non-decreasing, ties in values likely
    owners = np.array([o for o, _ in sentences], dtype=np.int64)
    values = np.array([v for _, v in sentences])
    best, index = _max_by_owner(values, owners, 7)
    for row in range(7):
        mine = [i for i, o in enumerate(owners) if o == row]
        top = max((values[i] for i in mine), default=-10.0)
        assert best[row] == top and index[row] == max((i for i in mine if values[i] == top), default=-1)


@pytest.mark.parametrize("top", [6, 1, 17, 18, 40])  # 17 dense cues: at most, and beyond, the ranking's floor
def test_one_comment_is_explained_as_in_a_batch(moderator, top: int) -> None:
    texts = ["Great article, thank you. The camps must close.", "And what about Iraq?",
             "You are a f*cking idiot. Go away.", "Nobody cares when the US does it.", "ok"]
    texts += [record["text"] for record in seed_data().records[::400]]  # 81 more, of every kind
    batch = moderator.moderate([CommentInput(t, ARTICLE) for t in texts], top=top)
    for text, in_batch in zip(texts, batch):
        alone = moderator.moderate([CommentInput(text, ARTICLE)], top=top)[0]
        assert alone.explanation == in_batch.explanation
        assert alone.scores == pytest.approx(in_batch.scores, abs=1e-9)
    lengths = [len(result.explanation) for result in batch]
    assert max(lengths) <= top and (max(lengths) == top or top > 18)


def test_joint_parameters_are_left_out_of_the_pickle_but_kept_in_use(moderator) -> None:
    classifier = moderator.classifier
    classifier.predict(["A comment."], [None])
    for derived in ("_joint", "_sentence_coef"):
        assert derived not in classifier.__getstate__()
        assert derived in classifier.__dict__  # the live object keeps them


def test_one_comments_sentence_scores_equal_the_matrix_product_bit_for_bit(moderator) -> None:
    classifier = moderator.classifier
    coef, intercept = classifier.sentence_coef_, classifier.sentence_intercept_
    texts = ["", "ok", "The regime must answer. And what about Iraq? You are an idiot!",
             "Great article, thank you. The camps must close. The camps must close."]
    for text in texts:
        for article in (None, ARTICLE):
            batch = classifier.featurizer_.transform([text], [article])
            scores = batch.sentence_rows.scores(coef.tolist(), intercept)
            assert np.array_equal(np.array(scores, dtype=float).reshape(-1), batch.sentences @ coef + intercept)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-60, 60), min_size=6, max_size=6))
@example([0.0, 0.0, 0.0, 0.0, 50.0, 6.103515625e-05])  # numpy's SIMD exp and the C library's differ here
def test_one_rows_softmax_equals_the_array_softmax_bit_for_bit(logits: list[float]) -> None:
    from model.classifier import _softmax, _softmax_heads
    category, stance = _softmax_heads(np.array([logits]), 3)
    expected = _softmax(np.array([logits[:3], logits[3:]]))
    assert np.array_equal(np.vstack([category, stance]), expected)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.floats(1e-9, 1e3), st.integers(1, 10**6).map(lambda n: n / 10000 + 0.00005)))
def test_positive_weights_round_as_numpy_rounds_them(weight: float) -> None:
    """Half-way cases included: numpy rounds 0.00025 to 0.0002, Python's round(x, 4) to 0.0003."""
    from model.classifier import round_positive
    assert round_positive(weight, 4) == np.round(weight, 4)
    assert round_positive(0.00025, 4) == np.round(0.00025, 4) == 0.0002 != round(0.00025, 4)


def test_one_rows_worst_sentence_is_its_last_highest() -> None:
    from model.classifier import _last_maximum, _max_by_owner
    best, index = _max_by_owner(np.array([0.5, 2.0, -1.0, 2.0, 0.0]), np.zeros(5, dtype=np.int64), 1)
    assert best.tolist() == [2.0] and index.tolist() == [3]
    assert _last_maximum([0.5, 2.0, -1.0, 2.0, 0.0]) == (2.0, 3)
    best, index = _max_by_owner(np.zeros(0), np.zeros(0, dtype=np.int64), 1)
    assert _last_maximum([]) == (best[0], index[0]) == (-10.0, -1)


def test_a_sentence_of_words_the_scorer_does_not_weigh_is_no_evidence(moderator) -> None:
    """Such a sentence scored the scorer's intercept, above most clean comments' worst sentences, so a
    link, a name the set lacks or a run of unknown words leaned abusive for want of evidence."""
    classifier = moderator.classifier
    unknown, insult = "Qwzx vbnmk plkjh.", "You are a brainless idiot."
    for size in (1, 20):  # both featurizer paths
        alone = classifier.predict([unknown] * size, [None] * size)
        assert alone.worst_index[0] == -1 and alone.dense[0, -1] == 0.0  # standardised: the training mean
        mixed = classifier.predict([f"{unknown} {insult}"] * size, [None] * size)
        assert mixed.worst_sentence(0) == "you are a brainless idiot" and mixed.dense[0, -1] > 1.0


def test_a_model_saved_before_the_no_evidence_rule_scores_every_sentence(moderator) -> None:
    old = copy.copy(moderator.classifier)
    old.sentence_neutral_ = None  # what ``ADDED_SINCE`` gives an artifact saved without it
    raw = old.featurizer_.transform(["Qwzx vbnmk plkjh."], [None]).sentences
    for size in (1, 20):
        predictions = old.predict(["Qwzx vbnmk plkjh."] * size, [None] * size)
        assert predictions.worst_index[0] == 0
        score = (raw @ old.sentence_coef_)[0] + old.sentence_intercept_
        scaled = (score - old.dense_mean_[-1]) / old.dense_scale_[-1] * old.dense_weight
        assert predictions.dense[0, -1] == pytest.approx(scaled)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.floats(0.0, 1.0), st.integers(0, 10**6 - 1).map(lambda n: n / 10**6 + 5e-7)))
def test_one_comments_probabilities_round_as_a_batchs_do(probability: float) -> None:
    from model.moderation import _rounded
    one = _rounded(["p"], np.array([[probability]]))[0]["p"]
    assert one == _rounded(["p"], np.array([[probability], [0.5]]))[0]["p"] == np.round(probability, 6)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0])), max_size=60),
       st.integers(1, 4), st.booleans())
def test_top_per_row_is_lexsorts_order_cut_at_the_rank(cells, top: int, wide_rows: bool) -> None:
    """Each row's largest weights, ties in position order, whether rows fit 16 bits or not."""
    from model.classifier import _top_per_row
    rows = np.array([row * (10_000 if wide_rows else 1) for row, _ in cells], dtype=np.int64)  # to 50,000
    weights = np.array([weight for _, weight in cells])
    order = np.lexsort((-weights, rows))
    rank = np.arange(len(order)) - np.searchsorted(rows[order], rows[order])
    assert _top_per_row(rows, weights, top).tolist() == order[rank < top].tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0]), min_size=4, max_size=4), min_size=1, max_size=5),
       st.integers(0, 6))
def test_rank_floor_is_each_rows_top_th_largest_weight(rows, top: int) -> None:
    from model.classifier import _rank_floor
    expected = [sorted(row, reverse=True)[top - 1] if 1 <= top <= 4 else -np.inf for row in rows]
    assert _rank_floor(np.array(rows), top).tolist() == expected


def test_clauses_are_off_by_default_and_a_model_saved_before_them_reads_sentences(moderator) -> None:
    assert TrainingConfig().clauses is False
    assert moderator.classifier.featurizer_.clauses is False  # the session model, trained with the defaults
    featurizer_state = moderator.classifier.featurizer_.__getstate__()
    featurizer_state.pop("clauses")
    older = type(moderator.classifier.featurizer_).__new__(type(moderator.classifier.featurizer_))
    older.__setstate__(featurizer_state)
    assert older.clauses is False


def test_a_classifier_with_clauses_scores_one_comment_as_in_a_batch() -> None:
    records = seed_data().records[:1500]
    from model.classifier import CommentClassifier
    classifier = CommentClassifier(clauses=True, sentence_min_share=0.65, n_folds=2).fit(
        [r["text"] for r in records], [None] * len(records), [r["category"] for r in records],
        [r["stance"] for r in records], [r["group"] for r in records])
    restored = copy.deepcopy(classifier)  # through __getstate__ and __setstate__, as a saved model
    assert restored.featurizer_.clauses and restored.clauses
    texts = ["Shoot Putin in the head and post the video.", "Fine report, thorough; fair: and short."] * 2
    batch = restored.predict(texts, [None] * len(texts))
    assert len(batch.batch.sentence_owner) == 6 * 2  # two clauses and four: the rows are clauses
    for i, text in enumerate(texts[:2]):
        one = restored.predict([text], [None])
        np.testing.assert_allclose(one.category[0], batch.category[i], atol=1e-12)
        assert one.worst_sentence(0) == batch.worst_sentence(i)


def test_the_flood_check_counts_words_alike_with_or_without_their_ids(moderator) -> None:
    """By word id when the batch has them (spelling on), else by the sentences' tokens (spelling off)."""
    from model.moderation import _distinct_words, floods

    texts = ["idiot " * 150, "I will kill you. " * 40, "Good report. " * 10 + "idiot " * 300,
             (Path(__file__).parent.parent / "seeds" / "003_2d5113ef618b1c85.txt").read_text(encoding="utf-8")[:3000]]
    predictions = moderator.classifier.predict(texts, [None] * len(texts))
    every = np.ones(len(texts), dtype=bool)
    by_ids, flooded = _distinct_words(predictions.batch, every), floods(predictions)
    predictions.batch.spelling_terms = None
    assert _distinct_words(predictions.batch, every).tolist() == by_ids.tolist()
    assert by_ids[:3].tolist() == [1, 4, 3]
    assert floods(predictions).tolist() == flooded.tolist() == [True, True, True, False]
