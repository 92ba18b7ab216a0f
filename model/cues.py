"""What the featurizers measure: cue word lists, the dense features' names, and the helpers both
the vectorised and the one-comment-at-a-time featurizer share."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Protocol

import numpy as np
import scipy.sparse as sp

from model.languages import qualify_sentences
from model.phrases import is_phrase_word
from model.text import read_lexicon, sentence_words, token_spans

if TYPE_CHECKING:  # model.spelling imports this module's array helpers
    from model.characters import CharacterTerms
    from model.spelling import SpellingTerms

# Words and word pairs that signal a change of subject to someone else's wrongdoing, in English and
# the labelled set's other languages. Matched as n-grams of the comment (a set intersection), which
# keeps this cue cheap on long comments.
DEFLECTION_CUES = read_lexicon("deflection")
STOPWORDS = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been
being it its this that these those i you he she we they me him her us them my your his our their
not no so do does did have has had will would can could should just than then there here what which
who whom how why when where all any some more most very too also about into over after before up out
""".split())
SECOND_PERSON = frozenset({"you", "your", "you're", "youre", "u", "ur", "yourself", "ya", "yours"})
CAPITALISED = re.compile(r"\b[A-Z][A-Za-z]{2,}\b")
DENSE_FEATURES = (
    "has article", "similarity to article", "overlap with article", "subjects absent from article",
    "places absent from article", "places and peoples named", "deflection cues", "insults",
    "profanity", "dehumanising words", "violent words", "insults in one sentence",
    "addresses the reader (you)", "length", "capital letters", "exclamation marks", "question marks",
    "insults in quotation marks",
)
QUOTE = '"'  # typographic double quotes are made this one by normalising (model.text)
# A short quotation in a normalised comment's bytes, a word or a phrase ("moron", "our little Paki
# friend"): between double quotes, or between single quotes that open before a word and close after
# one (an apostrophe inside a word, "don't", neither opens nor closes one), on one line and at most
# 40 bytes long. A longer quotation is more often a whole post passed on (a retweet) than a mention:
# at 200 bytes, Davidson's tweets read 0.853, at 40 bytes 0.863. Both branches start with the quotation
# mark itself (the single quote's lookbehind checks the byte before it), so the regex engine scans
# for those two bytes: three times as fast as with the lookbehind first.
_WORD_BYTE, _END_BYTE = rb"[A-Za-z0-9\x80-\xff]", rb"[A-Za-z0-9\x80-\xff.!?,]"
QUOTATION = re.compile(
    rb'"[^"\n\x00]{1,40}"'
    rb"|'(?<![A-Za-z0-9\x80-\xff']')(?=" + _WORD_BYTE + rb")(?:[^'\n\x00]|(?<=" + _WORD_BYTE + rb")'(?="
    + _WORD_BYTE + rb")){1,40}?(?<=" + _END_BYTE + rb")'(?!" + _WORD_BYTE + rb")")
# Word property bits, one byte per word of the word table.
INSULT, PROFANITY, DEHUMANISING, VIOLENCE, SECOND_PERSON_BIT, CONTENT, PLACE, DEFLECTION = (
    1, 2, 4, 8, 16, 32, 64, 128)
COUNTED_BITS = (INSULT, PROFANITY, DEHUMANISING, VIOLENCE, SECOND_PERSON_BIT)  # the word counts of the dense cues
COUNTED_MASK = sum(COUNTED_BITS)  # any of the bits the dense cues count
ASCII_UPPER = bytes(range(ord("A"), ord("Z") + 1))
ASCII_LETTERS = ASCII_UPPER + ASCII_UPPER.lower()
ARTICLE_CACHE_SIZE = 4096
LEXICON_BITS = ((INSULT, "insults"), (PROFANITY, "profanity"), (DEHUMANISING, "dehumanising"),
                (VIOLENCE, "violence"))


def capitalised_words(text: str) -> set[str]:
    """The distinct ``CAPITALISED`` words of a comment, lower-cased: the people, places and events it names."""
    return {word.lower() for word in CAPITALISED.findall(text)}


def word_properties(word: str, lexicons: dict) -> int:
    """The property bits of one word (lexicons by name: insults, profanity, ..., places). An Arabic
    word is also looked up by its light stem, since clitics attach to it ("والكلاب", "كلاب")."""
    stem = _arabic_stem(word) if ARABIC_FIRST <= word[:1] <= ARABIC_LAST else None
    bits = 0
    for bit, name in LEXICON_BITS:
        lexicon = lexicons[name]
        if word in lexicon or (stem is not None and stem in _arabic_stems(lexicon.words)):
            bits |= bit
    bits |= SECOND_PERSON_BIT if word in SECOND_PERSON else 0
    bits |= CONTENT if word not in STOPWORDS and len(word) > 2 else 0
    bits |= PLACE if word in lexicons["places"].words else 0
    bits |= DEFLECTION if word in DEFLECTION_CUES else 0
    return bits


def may_quote(normalised_text: str) -> bool:
    """Whether a normalised text holds a quotation mark, so that ``QUOTATION`` may match in it."""
    return QUOTE in normalised_text or "'" in normalised_text


def quoted_count(data: bytes, start: int, end: int, positions: list[int]) -> int:
    """How many of the byte positions lie inside a quotation (``QUOTATION``: "He called me a
    'moron'", where an insult is often mentioned, not used) of ``data[start:end]``, one comment's
    normalised text as UTF-8."""
    spans = [match.span() for match in QUOTATION.finditer(data, start, end)]
    return sum(any(low <= position < high for low, high in spans) for position in positions) if spans else 0


def quoted_insults(normalised_text: str, insults: list[int]) -> int:
    """How many of a normalised comment's words at the given positions (its insults, by their
    first word) lie inside a quotation."""
    if not may_quote(normalised_text):
        return 0
    tokens, starts, _ = token_spans(normalised_text)
    words = starts[np.frombuffer(tokens, dtype=np.uint8)[starts] >= 97]  # as model.features finds them
    data = normalised_text.encode("utf-8", "surrogatepass")
    return quoted_count(data, 0, len(data), words[insults].tolist())


def pair_properties(lexicons: dict) -> dict[str, int]:
    """The property bits of each two-word entry of the counted lexicons ("camel jockey": INSULT):
    a pair counts as one hit of its lexicons, in the sentence that holds it."""
    pairs: dict[str, int] = {}
    for bit, name in LEXICON_BITS:
        for entry in lexicons[name].words:
            if " " in entry:
                pairs[entry] = pairs.get(entry, 0) | bit
    return pairs


class DeferredRows(Protocol):
    """Rows a featurizer kept in another form, made a sparse matrix only when asked for."""

    def matrix(self) -> sp.csr_matrix:
        """The rows as a CSR matrix."""


@dataclass
class FeatureBatch:
    """Features of a batch of comments."""

    text: sp.csr_matrix
    sentence_rows: sp.csr_matrix | DeferredRows  # the sentences' TF-IDF rows: see ``sentences``
    sentence_owner: np.ndarray
    dense: np.ndarray
    tokens: Sequence  # str tokens, or bytes ones (model.features.ByteTokens)
    sentence_starts: np.ndarray
    sentence_lengths: np.ndarray
    spelling: np.ndarray | None = None  # per comment, its words' spelling's share of each logit
    spelling_terms: SpellingTerms | None = None  # the same, word by word, for explanations
    character_terms: CharacterTerms | None = None  # the character view's, token by token

    @property
    def sentences(self) -> sp.csr_matrix:
        """The sentences' TF-IDF rows, one per sentence (built at first use if they were deferred)."""
        if not sp.issparse(self.sentence_rows):
            self.sentence_rows = self.sentence_rows.matrix()
        return self.sentence_rows

    def sentence_text(self, index: int) -> str:
        """The words of sentence ``index``, space-separated."""
        start = int(self.sentence_starts[index])
        words = self.tokens[start:start + int(self.sentence_lengths[index])]
        return b" ".join(words).decode("utf-8") if words and isinstance(words[0], bytes) else " ".join(words)


def tfidf_rows(rows: np.ndarray, columns: np.ndarray, n_rows: int, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear TF-IDF rows from (row, column) cells, L2-normalised, built directly in CSR form."""
    n_columns = len(idf)
    # plain integer keys: any sort gives the same array, and numpy's default (a SIMD quicksort with
    # AVX2) takes half the time of its stable sort, and half again on keys of 32 bits
    key_type = np.uint32 if n_rows * n_columns <= 1 << 32 else np.int64
    keys = np.sort(np.asarray(rows).astype(key_type) * key_type(n_columns) + np.asarray(columns).astype(key_type))
    starts = run_starts(keys)
    counts = run_lengths(starts, len(keys))
    row_of_value, indices = np.divmod(keys[starts], n_columns)
    data = idf[indices]  # a count of 1 weighs 1 + log(1) = 1.0, and 1.0 * idf is idf
    repeated = np.flatnonzero(counts > 1)
    data[repeated] *= 1.0 + np.log(counts[repeated])
    norms = np.sqrt(np.bincount(row_of_value, weights=data * data, minlength=n_rows))
    data /= norms[row_of_value]
    indptr = np.zeros(n_rows + 1, dtype=np.int32)
    np.cumsum(np.bincount(row_of_value, minlength=n_rows), out=indptr[1:])
    return csr_from_parts(data, indices.astype(np.int32), indptr, (n_rows, n_columns))


def _csr_unchecked(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]
                   ) -> sp.csr_matrix:
    """A CSR matrix around canonical arrays (int32 indices, sorted and unique in each row), without
    scipy's format checks: for one comment they cost more than building the rows."""
    matrix = sp.csr_matrix.__new__(sp.csr_matrix)
    matrix._shape, matrix.maxprint = shape, 50
    matrix.data, matrix.indices, matrix.indptr = data, indices, indptr
    return matrix


def _checked_csr(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]
                 ) -> sp.csr_matrix:
    """A CSR matrix through scipy's constructor."""
    return sp.csr_matrix((data, indices, indptr), shape=shape)


def behaves_as_scipys(parts: tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]) -> bool:
    """Whether a matrix ``_csr_unchecked`` builds from ``parts`` gives the results of one scipy's
    constructor builds in every operation the model applies to TF-IDF rows (``_csr_unchecked`` sets
    scipy's internal attributes, so a scipy release could change what they must be)."""
    try:
        fast, checked = _csr_unchecked(*parts), _checked_csr(*parts)
        n_rows, n_columns = parts[3]
        dense = np.arange(n_columns * 2.0).reshape(n_columns, 2)
        diagonal = sp.diags(np.arange(n_columns, dtype=float), format="csr")
        rows = [0, n_rows - 1]
        return (fast.has_canonical_format and repr(fast) == repr(checked)
                and np.array_equal(fast @ dense, checked @ dense)
                and np.array_equal((fast @ diagonal).toarray(), (checked @ diagonal).toarray())
                and np.array_equal(fast[rows].toarray(), checked[rows].toarray())
                and np.array_equal((fast != 0).toarray(), (checked != 0).toarray())
                and np.array_equal(fast.multiply(fast).sum(axis=1), checked.multiply(checked).sum(axis=1))
                and np.array_equal(sp.hstack([fast, checked], format="csr").toarray(),
                                   np.hstack([checked.toarray()] * 2)))
    except Exception:  # noqa: BLE001 - any failure means: use scipy's constructor
        return False


SAMPLE_CSR_PARTS = (np.array([0.6, 0.8]), np.array([1, 3], dtype=np.int32), np.array([0, 0, 2], dtype=np.int32),
                    (2, 4))
csr_from_parts = _csr_unchecked if behaves_as_scipys(SAMPLE_CSR_PARTS) else _checked_csr


def sorted_counts(items: list[int]) -> tuple[list[int], Counter | None]:
    """The distinct ``items`` in order, and how often each occurs: None when each occurs once, as in
    most words and comments (a ``Counter`` costs more than the check)."""
    ordered = sorted(items)
    if len(set(ordered)) == len(ordered):
        return ordered, None
    counts = Counter(ordered)
    return sorted(counts), counts


def most_frequent(frequency: Counter, limit: int, min_df: int) -> list[str]:
    """The ``limit`` most frequent keys seen at least ``min_df`` times, sorted by key; frequency ties
    at the limit are broken by the key, so that the vocabulary never depends on the order keys were
    counted in (which follows Python's per-process string hashing)."""
    frequent = [(-n, key) for key, n in frequency.items() if n >= min_df]
    return sorted(key for _, key in sorted(frequent)[:limit])


def run_starts(keys: np.ndarray) -> np.ndarray:
    """Where each run of equal values of sorted (or grouped) ``keys`` starts."""
    first = np.ones(len(keys), dtype=bool)
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    return np.flatnonzero(first)


def run_lengths(starts: np.ndarray, total: int) -> np.ndarray:
    """How long each run is, given where the runs of ``total`` values start."""
    lengths = np.empty(len(starts), dtype=np.int64)
    np.subtract(starts[1:], starts[:-1], out=lengths[:-1])
    lengths[-1:] = total - starts[-1:]
    return lengths


def positions_in(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Index of each key in ``sorted_keys``, or -1 where absent."""
    if not len(sorted_keys):
        return np.full(len(keys), -1, dtype=np.int64)
    position = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.where(sorted_keys[position] == keys, position, -1)


def character_cues(texts: list[str]) -> np.ndarray:
    """Share of capital letters among ASCII letters, and log counts of '!' and '?', per text."""
    cues = np.array([character_counts(text) for text in texts], dtype=np.float64).reshape(len(texts), 3)
    cues[:, 1:] = np.log1p(cues[:, 1:])
    return cues


def character_counts(text: str) -> tuple[float, int, int]:
    """Share of capital letters among the ASCII letters of ``text``, and its counts of '!' and '?'."""
    encoded = text.encode("utf-8", "surrogatepass")
    n_letters = len(encoded) - len(encoded.translate(None, ASCII_LETTERS))
    share = (len(encoded) - len(encoded.translate(None, ASCII_UPPER))) / n_letters if n_letters else 0.0
    return share, text.count("!"), text.count("?")


LOG1P = np.log1p(np.arange(1024, dtype=np.float64)).tolist()  # log(1 + n) by n, as numpy computes it


def log1p_count(count: int) -> float:
    """``np.log1p(count)`` of a count, bit for bit (numpy's log1p may be SIMD code,
    not the C library's)."""
    return LOG1P[count] if count < len(LOG1P) else float(np.log1p(float(count)))


STEM_PREFIX = "~"  # never part of a token, so a stem cannot collide with a word
STEM_CHARACTERS = 5
HANGUL_FIRST, HANGUL_LAST = "\uac00", "\ud7a3"
ARABIC_FIRST, ARABIC_LAST = "\u0600", "\u06ff"
CYRILLIC_FIRST, CYRILLIC_LAST = "\u0400", "\u04ff"
CYRILLIC_ENDINGS = tuple(sorted(set(  # longest first
    "ами ями ого его ому ему ыми ими ией ий ый ой ей ая яя ое ее ые ие ую юю ом ем ам ям ах ях ов ев ых их ым им "
    "ть ти ться ет ут ют ит ат ят ишь ешь ете ите ла ло ли ся сь а я ы и у ю е о ь й є і ї".split()),
    key=len, reverse=True))
# Light stemming of Arabic (after Larkey et al.'s "light10"): the conjunction and article clitics and the
# common suffixes come off, and the spellings of alef, yeh and teh marbuta that writers mix are unified.
ARABIC_ARTICLES = ("وال", "بال", "كال", "فال", "لل", "ال")
ARABIC_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ية", "ه", "ة", "ي")
ARABIC_SPELLINGS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه"})


@cache
def _arabic_stems(terms: frozenset[str]) -> frozenset[str]:
    """The light stems of a lexicon's Arabic terms."""
    arabic = (term for term in terms if ARABIC_FIRST <= term[:1] <= ARABIC_LAST)
    return frozenset(stem for stem in map(_arabic_stem, arabic) if stem is not None)


def grams_of(normalised: str) -> list[str]:
    """Unigrams, within-sentence bigrams and stems of a normalised text."""
    return [gram for words in qualify_sentences(sentence_words(normalised)) for gram in ngrams_of(words)]


def _arabic_stem(word: str) -> str | None:
    """The light stem of an Arabic word ("والمعتقلين" and "معتقل" share "~معتقل"); None if under 3 letters."""
    if len(word) < 3:
        return None
    if word.startswith("و") and len(word) > 3:
        word = word[1:]
    for article in ARABIC_ARTICLES:
        if word.startswith(article) and len(word) - len(article) > 1:
            word = word[len(article):]
            break
    for suffix in ARABIC_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) > 1:
            word = word[:-len(suffix)]
    return STEM_PREFIX + word.translate(ARABIC_SPELLINGS)[:STEM_CHARACTERS]


def _cyrillic_stem(word: str) -> str | None:
    """The stem of a Russian or Ukrainian word: its longest common inflectional ending off, at least
    three letters kept ("суки", "суками" -> "~сук"); None if under 4 letters."""
    if len(word) < 4:
        return None
    for ending in CYRILLIC_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            word = word[:-len(ending)]
            break
    return STEM_PREFIX + word[:STEM_CHARACTERS]


def ngrams_of(words: list[str]) -> list[str]:
    """The words of one sentence followed by its bigrams and the stems of its long words."""
    stems = [stem for stem in map(stem_of, words) if stem]
    return words + list(map(" ".join, zip(words, words[1:]))) + stems


def stem_of(word: str) -> str | None:
    """The stem feature of a long word, shared by its inflections: ``STEM_PREFIX`` and the word's first
    five characters ("~tortu" for "tortured" and "torturers"), or for a Korean word its first two
    syllables (particles attach to nouns: "난민들은", "난민충"); None for short words, and for a crude
    word inside a fixed phrase ("phrase:pussy" in "Pussy Riot")."""
    if HANGUL_FIRST <= word[:1] <= HANGUL_LAST:
        return STEM_PREFIX + word[:2] if len(word) > 2 else None
    if ARABIC_FIRST <= word[:1] <= ARABIC_LAST:
        return _arabic_stem(word)
    if CYRILLIC_FIRST <= word[:1] <= CYRILLIC_LAST:
        return _cyrillic_stem(word)
    if len(word) <= STEM_CHARACTERS + 1 or is_phrase_word(word):
        return None
    return STEM_PREFIX + word[:STEM_CHARACTERS]
