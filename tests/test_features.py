"""The vectorised featurizer agrees with the one-comment-at-a-time path, exactly."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from conftest import seed_data
from hypothesis import given, settings
from hypothesis import strategies as st

from model import cues, features
from model.features import KeyIndex
from model.features_one_by_one import transform_one_by_one
from model.text import SEPARATOR, normalise, normalise_joined

AWKWARD = ["", "   ", "!!!", "F*CK you id10t!!", "Ünïcödé ’quotes’ café\x00x\x07y", "a.b.c", "...",
           "Hello\nWorld. Again? Yes!", "\ud800 lone surrogate", "4ever f*ck", "ＦＵＬＬＷＩＤＴＨ ＊", "e\u0301"]
TEXT = st.lists(st.sampled_from([*"abcdefghij ABCXYZ.!?*$@01'\n\x00\x07é’…ÜＡ한국난민\"“»,;:", " and ", " but "]),
                max_size=40).map("".join)
INSULTING = st.lists(st.sampled_from(["idiot", "moron", "camel jockey", "'", '"', "“", "‘", " ", ".", "don't", "a", "\n", ","]),
                     max_size=30).map("".join)


def assert_same(vectorised, one_by_one) -> None:
    """Every matrix, owner, dense cue and sentence text equal."""
    assert (vectorised.text != one_by_one.text).nnz == 0
    assert (vectorised.sentences != one_by_one.sentences).nnz == 0
    assert np.array_equal(vectorised.sentence_owner, one_by_one.sentence_owner)
    np.testing.assert_allclose(vectorised.dense, one_by_one.dense, rtol=0, atol=1e-12)
    assert [vectorised.sentence_text(i) for i in range(len(vectorised.sentence_owner))] == \
        [one_by_one.sentence_text(i) for i in range(len(one_by_one.sentence_owner))]
    np.testing.assert_allclose(vectorised.spelling, one_by_one.spelling, rtol=0, atol=1e-12)


def assert_paths_agree(moderator, texts: list[str]) -> None:
    """The vectorised and the one-by-one featurizer give the same features of texts without an article."""
    featurizer = moderator.classifier.featurizer_
    articles = [None] * len(texts)
    assert_same(featurizer.transform_vectorised(texts, articles),
                transform_one_by_one(featurizer, featurizer._word_table(), texts, articles))


def test_paths_agree_on_the_labelled_set_with_mixed_articles(moderator) -> None:
    featurizer = moderator.classifier.featurizer_
    records = seed_data().records
    texts = [r["text"] for r in records] + AWKWARD
    articles = [r["article"] if i % 3 else None for i, r in enumerate(records)]
    articles += [records[i]["article"] if i % 2 else None for i in range(len(AWKWARD))]
    assert_same(featurizer.transform_vectorised(texts, articles),
                transform_one_by_one(featurizer, featurizer._word_table(), texts, articles))


@settings(max_examples=60, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=20), st.lists(st.booleans(), min_size=20, max_size=20))
def test_paths_agree_on_any_text(moderator, texts: list[str], with_article: list[bool]) -> None:
    featurizer = moderator.classifier.featurizer_
    article = "North Korea's prison camps: the UN commission of inquiry reports. What about Iraq?"
    articles = [article if flag else None for flag, _ in zip(with_article, texts)]
    assert_same(featurizer.transform_vectorised(texts, articles),
                transform_one_by_one(featurizer, featurizer._word_table(), texts, articles))


@pytest.fixture(scope="module")
def clause_featurizer(moderator):
    """The session model's featurizer with clause rows turned on (``clauses = true`` in training)."""
    featurizer = copy.deepcopy(moderator.classifier.featurizer_)
    featurizer.clauses = True
    return featurizer


def test_paths_agree_on_clauses_of_the_labelled_set(moderator, clause_featurizer) -> None:
    texts = [r["text"] for r in seed_data().records[:6000]] + AWKWARD
    articles = [None] * len(texts)
    vectorised = clause_featurizer.transform_vectorised(texts, articles)
    assert_same(vectorised, transform_one_by_one(clause_featurizer, clause_featurizer._word_table(), texts, articles))
    sentences = moderator.classifier.featurizer_.transform_vectorised(texts, articles)
    assert len(vectorised.sentence_owner) > 1.2 * len(sentences.sentence_owner)
    assert (vectorised.text != sentences.text).nnz == 0  # the comments' rows keep pairs across clauses


@settings(max_examples=60, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=20))
def test_paths_agree_on_clauses_of_any_text(clause_featurizer, texts: list[str]) -> None:
    articles = [None] * len(texts)
    assert_same(clause_featurizer.transform_vectorised(texts, articles),
                transform_one_by_one(clause_featurizer, clause_featurizer._word_table(), texts, articles))


def test_a_call_is_scored_apart_from_the_clause_beside_it(moderator, clause_featurizer) -> None:
    """With clauses, "shoot putin in the head" is a row of its own, which the scorer reads as worse
    than the whole sentence, where the harmless words of "and post the video" dilute it."""
    text = ["Shoot Putin in the head and post the video."]
    classifier = moderator.classifier
    by_clause = clause_featurizer.transform_vectorised(text, [None])
    whole = classifier.featurizer_.transform_vectorised(text, [None])
    assert [by_clause.sentence_text(i) for i in range(2)] == ["shoot putin in the head", "and post the video"]
    coef, intercept = classifier.sentence_coef_, classifier.sentence_intercept_
    assert (by_clause.sentences @ coef + intercept)[0] > (whole.sentences @ coef + intercept)[0]


@settings(max_examples=60, deadline=None)
@given(st.lists(INSULTING, min_size=1, max_size=20))
def test_paths_agree_on_quoted_insults(moderator, texts: list[str]) -> None:
    assert_paths_agree(moderator, texts)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("AbcKimJ \x00'é한_1")), max_size=30), max_size=6))
def test_capitalised_words_of_a_batch_are_each_texts_own(texts: list[str]) -> None:
    from model.cues import CAPITALISED
    from model.features import _capitalised_words
    assert _capitalised_words(texts) == [{w.lower() for w in CAPITALISED.findall(text)} for text in texts]


@settings(max_examples=100, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=8))
def test_normalising_a_batch_normalises_each_text_as_if_alone(texts: list[str]) -> None:
    assert normalise_joined(texts).split(SEPARATOR) == [normalise(text) for text in texts]


def test_small_and_large_batches_score_the_same(moderator) -> None:
    texts = [r["text"] for r in seed_data().records[:40]]
    together = moderator.classifier.predict(texts, [None] * len(texts)).category
    alone = np.vstack([moderator.classifier.predict([t], [None]).category for t in texts])
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-12)


def test_word_table_resets_once_full_without_changing_features(moderator, monkeypatch) -> None:
    featurizer = moderator.classifier.featurizer_
    texts = ["You idiot, what about Iraq?", "The camps must close."]
    before = featurizer.transform_vectorised(texts, [None, None])
    monkeypatch.setattr(features, "RUNTIME_WORDS", 3)
    featurizer.transform_vectorised(["zzqa zzqb zzqc zzqd zzqe"], [None])
    table = featurizer._word_table()
    assert table.n_ids == table.n_base
    assert_same(featurizer.transform_vectorised(texts, [None, None]), before)


@settings(max_examples=50, deadline=None)
@given(st.sets(st.integers(0, 2**42), max_size=300), st.lists(st.integers(0, 2**42), max_size=100))
def test_key_index_finds_exactly_the_stored_keys(stored: set[int], wanted: list[int]) -> None:
    keys = np.array(sorted(stored), dtype=np.int64)
    found = KeyIndex(keys).find(np.array(wanted + sorted(stored), dtype=np.int64))
    expected = [keys.tolist().index(k) if k in stored else -1 for k in wanted + sorted(stored)]
    assert found.tolist() == expected


def test_words_found_by_hash_have_the_ids_of_their_bytes(moderator, monkeypatch) -> None:
    featurizer = moderator.classifier.featurizer_
    table = features.WordTable(featurizer.vocabulary_, featurizer._lexicons)
    long_words = [b"x" * (features.MAX_HASHED_BYTES + 1), b"y" * (features.MAX_HASHED_BYTES + 1)]
    words = [b"camps", b"the", b"zzqa", b"zzqb", b"zzqa"] + long_words + [b"x" * features.MAX_HASHED_BYTES]
    data = b" ".join(words)
    ends = np.cumsum([len(w) + 1 for w in words]) - 1
    starts = ends - [len(w) for w in words]
    known = table[b"camps"]
    first = table.word_ids(data, starts, ends)
    assert first.tolist() == [table[w] for w in words] and first[0] == known
    assert first[2] == first[4] != first[3] and first[5] != first[6]
    assert set(table.recent.values()) == {first[2], first[3], first[7]}  # new, and short enough to hash
    monkeypatch.setattr(features, "REINDEX_AFTER", 1)
    the = features.span_hashes(b"the", np.array([0]), np.array([3]))
    table.hashed = (KeyIndex(the), np.array([first[1]]))  # an index that has forgotten all but "the"
    assert table.word_ids(data, starts, ends).tolist() == first.tolist()
    assert table.recent == {} and (table.hashed[0].find(features.span_hashes(data, starts, ends)) >= 0).sum() == 6


def test_threads_sharing_the_word_table_get_the_features_of_the_reference_path(moderator, monkeypatch) -> None:
    import random
    from concurrent.futures import ThreadPoolExecutor
    featurizer = moderator.classifier.featurizer_
    table = featurizer._word_table()
    rng = random.Random(0)
    known = sorted(w for w in featurizer.vocabulary_ if " " not in w and not w.startswith("~"))[:3000]
    words = known + [f"zqx{i}" for i in range(600)] + ["ñandú", "난민들", "دولة"]
    batches = [[" ".join(rng.choice(words) for _ in range(rng.randint(1, 15))) + rng.choice([".", "!", ""])
                for _ in range(20)] for _ in range(24)]
    the = features.span_hashes(b"the", np.array([0]), np.array([3]))
    table.hashed = (KeyIndex(the), np.array([table[b"the"]]))  # so that threads rebuild it while others read
    monkeypatch.setattr(features, "REINDEX_AFTER", 8)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda b: featurizer.transform_vectorised(b, [None] * len(b), table), batches))
    for batch, got in zip(batches, results):
        assert_same(got, transform_one_by_one(featurizer, table, batch, [None] * len(batch)))
    assert len(table.hashed[1]) > 1  # the index was rebuilt


def test_tokens_obfuscated_with_symbols_are_read_as_words() -> None:
    from model.text import sentence_words
    assert normalise("You F*CK, id10t, 4ever 2014") == "You fuck, idiot, 4ever 2014"
    assert sentence_words(normalise("You F*CK, id10t, 4ever 2014")) == [["you", "fuck", "idiot", "ever"]]


@pytest.mark.parametrize("text", ["", "...", "!!!"])
def test_comments_without_words_have_no_sentences(moderator, text: str) -> None:
    batch = moderator.classifier.featurizer_.transform_vectorised([text, "One word."], [None, None])
    assert batch.sentence_owner.tolist() == [1]


def test_inflections_share_a_stem_and_short_words_have_none() -> None:
    from model.cues import stem_of
    assert stem_of("tortured") == stem_of("torturers") == "~tortu"
    assert stem_of("tortur") is None and stem_of("hate") is None
    assert stem_of("난민들은") == stem_of("난민충") == "~난민" and stem_of("난민") is None
    # Arabic: clitics and suffixes come off, alef spellings are unified; "في" (in) is too short
    assert stem_of("والمعتقلين") == stem_of("المعتقلون") == stem_of("معتقل") == "~معتقل"
    assert stem_of("أمريكا") == stem_of("امريكا") and stem_of("في") is None
    # Russian and Ukrainian: one inflectional ending comes off
    assert stem_of("суки") == stem_of("суками") == "~сук" and stem_of("путина") == stem_of("путину")
    assert stem_of("бля") is None


def test_stems_are_features_but_never_of_a_group_name(moderator) -> None:
    from model.cues import stem_of
    from model.text import read_lexicon
    vocabulary = moderator.classifier.featurizer_.vocabulary_
    assert "~tortu" in vocabulary
    group_stems = {stem_of(word) for word in read_lexicon("identities")} - {None}
    assert group_stems and not group_stems & set(vocabulary)
    batch = moderator.classifier.featurizer_.transform(["They tortured prisoners."] * 20, [None] * 20)
    assert batch.text[0, vocabulary["~tortu"]] > 0


HOMOGRAPH_WORDS = st.sampled_from("hoe hun die was het een niet und der das nicht con negro los que you the "
                                  "idiot kill . ? \n".split(" "))
PHRASE_WORDS = st.sampled_from(["pussy", "riot", "dick", "van", "dyke", "guinea", "pig", "pigs", "honky", "tonk",
                                "moby", "you", "the", ".", "\n", "-", "Riot", "DICK"])


@pytest.mark.parametrize("words", [HOMOGRAPH_WORDS, PHRASE_WORDS], ids=["homographs", "fixed phrases"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_paths_agree_on_words_read_by_their_context(moderator, words, data) -> None:
    """Homographs in a comment of their language, and crude words inside fixed phrases."""
    texts = data.draw(st.lists(st.lists(words, max_size=14).map(" ".join), min_size=1, max_size=20))
    assert_paths_agree(moderator, texts)


@pytest.mark.parametrize("text, insults, profanity", [
    ("Dick Van Dyke danced on the rooftops.", 0, 0), ("You dick.", 0, 1), ("Moby Dick, you dick.", 0, 1),
    ("Pussy Riot were jailed. You pussy!", 1, 1), ("We are all guinea pigs here, you pigs.", 1, 0),
    ("The honky-tonk piano.", 0, 0),
])
def test_a_crude_word_inside_a_fixed_phrase_counts_in_no_lexicon(moderator, text: str, insults: int,
                                                                  profanity: int) -> None:
    featurizer = moderator.classifier.featurizer_
    names = list(cues.DENSE_FEATURES)
    for batch in (featurizer.transform_vectorised([text] * 5, [None] * 5), featurizer.transform([text], [None])):
        dense = np.expm1(batch.dense[0])
        assert (round(dense[names.index("insults")]), round(dense[names.index("profanity")])) == (insults, profanity)


def test_a_crude_word_inside_a_fixed_phrase_has_no_stem_or_spelling() -> None:
    from model.cues import stem_of
    from model.phrases import mark_phrases
    from model.spelling import SpellingVocabulary
    assert mark_phrases([["pussy", "riot", "pussy"]]) == [["phrase:pussy", "riot", "pussy"]]
    assert stem_of("phrase:pussycat") is None and stem_of("pussycat") == "~pussy"
    vocabulary = SpellingVocabulary(min_df=1).fit([["pussy", "riot"]], frozenset())
    owners = vocabulary.cells(["phrase:pussy", "riot", "pussy"])[0]
    assert set(owners.tolist()) == {1, 2}


def test_a_homograph_is_its_own_feature_in_a_comment_of_its_language() -> None:
    from model.languages import detect_language, qualify_sentences
    dutch = "hoe kan het dat niemand hier iets aan doet".split()
    assert detect_language(dutch) == "nl"
    assert qualify_sentences([dutch])[0][0] == "nl:hoe"
    for english in ("shut up you dumb hoe", "die in a fire", "the police in los angeles shot him"):
        assert qualify_sentences([english.split()]) == [english.split()]


def test_a_german_article_is_not_a_violent_word(moderator) -> None:
    from model.cues import DENSE_FEATURES
    violent = DENSE_FEATURES.index("violent words")
    texts = ["Die Regierung muss die Rechte der Gefangenen achten, und das ist nicht verhandelbar.",
             "They should all die."]
    for size in (1, 20):  # both featurizer paths
        batch = moderator.classifier.featurizer_.transform(texts * size, [None] * 2 * size)
        assert batch.dense[0, violent] == 0 and batch.dense[1, violent] > 0


def test_a_slur_of_two_words_is_one_insult_within_its_sentence(moderator) -> None:
    """Lexicon pairs ("camel jockey", "shirt-lifter" as "shirt lifter") count once each, on both
    paths; the same words apart, or across a sentence break, count nothing."""
    from model.cues import DENSE_FEATURES
    insults, in_one_sentence = DENSE_FEATURES.index("insults"), DENSE_FEATURES.index("insults in one sentence")
    texts = ["Camel jockeys bought the club.", "Shirt-lifters and fudge packers get a parade. Another camel jockey.",
             "The jockey fell off the camel.", "He rode a camel. Jockeys train for years."]
    expected = np.log1p([[1, 1], [3, 2], [0, 0], [0, 0]])
    for size in (1, 20):  # both featurizer paths
        batch = moderator.classifier.featurizer_.transform(texts * size, [None] * len(texts) * size)
        np.testing.assert_allclose(batch.dense[:len(texts), [insults, in_one_sentence]], expected)


def test_insults_between_quotation_marks_are_counted_apart(moderator) -> None:
    """An insult inside a short closed quotation, in double, typographic or single quotation marks,
    is counted as quoted too, on both paths; one outside it, after a mark never closed, or inside a
    quotation of a whole post (over 40 bytes), is not."""
    from model.cues import DENSE_FEATURES
    insults, quoted = DENSE_FEATURES.index("insults"), DENSE_FEATURES.index("insults in quotation marks")
    texts = ['The court heard he shouted "moron" and "camel jockey" at her.', "He called her a “moron”. You moron.",
             'You moron, "journalist".', 'Ihr sagt „Idiot“ zu ihm, und «idiot» bleibt ein Wort.',
             'An open quote " then idiot with no end.', 'Quote "one" then idiot, then "two".',
             "The guards' word for us was 'idiots', she said.", "Don't be an idiot, 'friend'.",
             "Fans chanted ‘morons’ at the stewards.", '"@joe: you are all idiots and I hope you lose" lol']
    expected = np.log1p([[2, 2], [2, 1], [1, 0], [2, 2], [1, 0], [1, 0], [1, 1], [1, 0], [1, 1], [1, 0]])
    for size in (1, 20):  # both featurizer paths
        batch = moderator.classifier.featurizer_.transform(texts * size, [None] * len(texts) * size)
        np.testing.assert_allclose(batch.dense[:len(texts), [insults, quoted]], expected)


def test_naming_gypsy_and_traveller_people_is_not_an_insult(moderator) -> None:
    from model.cues import DENSE_FEATURES
    insults = DENSE_FEATURES.index("insults")
    texts = ["Gypsy and Traveller children already have the highest dropout rates.", "You gypsy scum."]
    batch = moderator.classifier.featurizer_.transform(texts, [None, None])
    assert batch.dense[0, insults] == 0 and batch.dense[1, insults] > 0
    assert not any("gypsy" in name for name in moderator.classifier.featurizer_.vocabulary_)


@pytest.mark.parametrize("word, bit_name", [
    ("كلاب", "INSULT"), ("والكلاب", "INSULT"), ("للصراصير", "DEHUMANISING"), ("وحشرات", "DEHUMANISING"),
    ("ciapaci", "INSULT"), ("कुत्ते", "INSULT"), ("idam", "VIOLENCE")])
def test_lexicons_of_other_languages_find_their_words_and_arabic_ones_with_clitics(word: str, bit_name: str) -> None:
    from model import cues
    from model.text import Lexicon
    lexicons = {name: Lexicon(name) for name in ("insults", "profanity", "dehumanising", "violence", "places")}
    assert cues.word_properties(word, lexicons) & getattr(cues, bit_name)
    assert not cues.word_properties("والمعتقلين", lexicons) & cues.COUNTED_MASK  # "and the detainees"


def test_spelling_served_word_by_word_equals_the_training_vectors(moderator) -> None:
    featurizer = moderator.classifier.featurizer_
    texts = [r["text"] for r in seed_data().records[::7]] + AWKWARD
    served = featurizer.transform_vectorised(texts, [None] * len(texts)).spelling
    trained = featurizer.spelling_matrix(texts) @ featurizer.spelling_weights_
    np.testing.assert_allclose(served, trained, rtol=0, atol=1e-9)
    assert np.abs(served).max() > 0.1


def test_unchecked_csr_is_used_and_behaves_as_scipys() -> None:
    """TF-IDF rows skip scipy's format checks on the scipy we support, and real rows built so work
    like a matrix scipy built itself in every operation the model applies to them."""
    assert cues.csr_from_parts is cues._csr_unchecked
    rng = np.random.default_rng(0)
    rows = np.repeat(np.arange(5), [3, 0, 4, 1, 2])
    fast = cues.tfidf_rows(rows, rng.integers(0, 40, len(rows)), 5, rng.random(40) + 0.5)
    assert cues.behaves_as_scipys((fast.data, fast.indices, fast.indptr, fast.shape))


def test_one_by_one_tfidf_rows_equal_the_batch_ones_bit_for_bit_at_any_count() -> None:
    from model.features_one_by_one import SUBLINEAR, _csr, _tfidf_lists
    idf = np.random.default_rng(0).random(10) + 0.5
    rows = [[3, 1, 1, 7], [3] * (len(SUBLINEAR) + 900) + [1, 1, 7], [], [9], [8, 2, 5]]  # a count beyond the table
    expected = cues.tfidf_rows(np.repeat(np.arange(len(rows)), [len(r) for r in rows]),
                               [c for r in rows for c in r], len(rows), idf)
    assert (expected != _csr(_tfidf_lists(rows, idf.tolist()), len(idf))).nnz == 0


def test_tfidf_rows_beyond_32_bit_keys_equal_the_same_rows_near_the_top() -> None:
    """Cells whose row x column key passes 2**32 are sorted as 64-bit keys, with the same result."""
    rng = np.random.default_rng(1)
    idf = rng.random(70_000) + 0.5
    rows, columns = rng.integers(0, 3, 40), rng.integers(0, len(idf), 40)
    near = cues.tfidf_rows(rows, columns, 3, idf)
    far = cues.tfidf_rows(rows + 70_000, columns, 70_003, idf)  # 70,003 x 70,000 keys need 33 bits
    assert far.shape[0] * far.shape[1] > 1 << 32
    assert (far[70_000:] != near).nnz == 0 and far[:70_000].nnz == 0


VOCABULARY_OF_STDIN = """
import json, sys
from model.features import CommentFeaturizer
from model.spelling import SpellingVocabulary
texts = json.loads(sys.stdin.read())
featurizer = CommentFeaturizer(min_df=2, max_features=300).fit(texts)
spelling = SpellingVocabulary(min_df=2, max_features=300).fit([t.lower().split() for t in texts], frozenset())
print(json.dumps([featurizer.feature_names_, sorted(spelling.vocabulary_)]))
"""


def test_capped_vocabularies_do_not_depend_on_the_process_string_hashing() -> None:
    texts = [r["text"] for r in seed_data().records[:400]]
    runs = [subprocess.run([sys.executable, "-c", VOCABULARY_OF_STDIN], input=json.dumps(texts), text=True,
                           capture_output=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed})
            for seed in ("1", "2")]
    first, second = (json.loads(run.stdout) for run in runs)
    assert len(first[0]) == 300 + len(cues.DENSE_FEATURES) and len(first[1]) == 300  # the caps bind
    assert first == second


@given(st.dictionaries(st.text("abc", min_size=1, max_size=3), st.integers(1, 4)), st.integers(0, 10))
def test_most_frequent_keeps_the_commonest_and_breaks_ties_by_key(counts: dict[str, int], limit: int) -> None:
    forward, backward = Counter(counts), Counter(dict(reversed(counts.items())))
    kept = cues.most_frequent(forward, limit, 2)
    assert kept == cues.most_frequent(backward, limit, 2) == sorted(kept)
    assert len(kept) == min(limit, sum(n >= 2 for n in counts.values()))
    left_out = set(counts) - set(kept)
    assert all((-counts[k], k) < (-counts[o], o) for k in kept for o in left_out if counts[o] >= 2)


# Civil sentences with a word a lexicon would count by accident, each beside an abusive one using the
# word the lexicon is there for: first a prefix's ("cock*", "retard*", "douche*", "cunt*"), then a
# homograph's (German "rot" is red).
ACCIDENTAL_LEXICON_MATCHES = [
    ("Cockroaches in the cells, no heating, one meal a day.", "You are a cocksucker.", "profanity"),
    ("Fukushima showed what happens when a regulator trusts the operator.", "Fuking liars.", "profanity"),
    ("Fire retardant was dropped on the camps' perimeter.", "Only a retard would write this.", "insults"),
    ("Cretinism from iodine deficiency is common in the north.", "The author is a cretin.", "insults"),
    ("I have a niggling doubt about the defector's timeline.", "Shut up niggah.", "insults"),
    ("El retardo de la ayuda humanitaria es inaceptable.", "Eres un retardado.", "insults"),
    ("Le train était en retard et personne n'a rien dit.", "What a retard.", "insults"),
    ("De douche in de gevangenis werkte nooit en niemand heeft het ooit gerepareerd.", "The author is a douchebag.", "insults"),
    ("Kuzey Kore'deki askeri cunta gibi bir rejim.", "The author is a cunt.", "insults"),
    ("Тварини в зоопарку голодують, як і люди.", "Ти тварюка.", "insults"),
    ("Il faggio è un albero della foresta.", "You faggot.", "insults"),
    # homographs: spelt like the lexicon's word, with another meaning in the comment's language
    ("Die Ampel war rot und wir sind trotzdem gefahren, das ist nicht gut.", "Let them rot.", "violent words"),
    ("Bu ülkede kim çocuklara bakar, bunu da bir düşünün çok önemli.", "Bakar semua rumah mereka.", "violent words"),
    ("Dit land is breed genoeg en niemand heeft het ooit gemerkt.", "They breed like rats.", "dehumanising words"),
    ("La parte inferior del informe es la más importante para los lectores.", "They are an inferior race.",
     "dehumanising words"),
    ("Les retards de la justice sont une honte pour nous et pour les victimes.", "Those retards on the council.",
     "insults"),
    ("Es war ein langer Tag im Parlament, und die Debatte blieb bis zum Schluss munter.",
     "The councillor is a total munter.", "insults"),
    ("Berk ve ailesi bu haberi çok önemli buldu.", "The minister is a berk.", "insults"),
]


@pytest.mark.parametrize("civil, abusive, cue", ACCIDENTAL_LEXICON_MATCHES)
def test_words_a_lexicon_would_count_by_accident_are_not_counted(moderator, civil: str, abusive: str,
                                                                 cue: str) -> None:
    from model.cues import DENSE_FEATURES
    column = DENSE_FEATURES.index(cue)
    for size in (1, 20):  # both featurizer paths
        batch = moderator.classifier.featurizer_.transform([civil, abusive] * size, [None] * 2 * size)
        assert batch.dense[0, column] == 0 and batch.dense[1, column] > 0
