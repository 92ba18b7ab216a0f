"""Features of a comment: TF-IDF word n-grams of the text and of each sentence, plus dense cues.

The dense cues compare the comment with its article (whataboutism is a change of subject) and count
lexicon hits (insults, profanity, dehumanising words, violence), so that the linear models on top can
explain a score in words a moderator understands.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from model.cues import (ARTICLE_CACHE_SIZE, CAPITALISED, CONTENT, COUNTED_MASK, DEFLECTION, DEFLECTION_CUES,
                        DENSE_FEATURES, INSULT, PLACE, PROFANITY,
                        SECOND_PERSON_BIT, STOPWORDS, DEHUMANISING, VIOLENCE, FeatureBatch,
                        STEM_PREFIX, capitalised_words, character_cues, grams_of, log1p_count, most_frequent,
                        may_quote, pair_properties, positions_in, quoted_count, stem_of, tfidf_rows, word_properties)
from model.features_one_by_one import transform_one_by_one
from model.languages import (HOMOGRAPH_BITS, HOMOGRAPHS, LANGUAGES, MARKER_BITS, MIN_MARKERS,
                             languages_of_comments)
from model.phrases import mark_phrases, phrase_marks, phrase_parts, phrase_word
from model.spelling import SpellingVocabulary, WordScores, spelling_logits
from model.text import (BREAK_TOKENS, CLAUSE_WORDS, MAX_HASHED_BYTES, SEPARATOR, Lexicon, clause_mark_positions,
                        normalise, normalise_joined, qualified, read_lexicon, sentence_words, span_hashes,
                        token_spans)


SENTENCE_BREAK, COMMENT_BREAK, FIRST_WORD = 0, 1, 2
WORD_BITS = 21  # word ids fit in 21 bits, so a bigram's key (w1 << 21 | w2) fits in 42
LANGUAGE_BITS = 4  # (word id, language index) pairs packed as word_id << 4 | language
CAPITALISED_OR_SEPARATOR = re.compile(f"{SEPARATOR}|{CAPITALISED.pattern}")
GROUP_SHIFT = 2 * WORD_BITS  # (group, key) pairs packed into one int64 for a single sorted lookup
ONE_BY_ONE_UP_TO = 3  # batches up to this size go comment by comment (see features_one_by_one)
RUNTIME_WORDS = 200_000  # words met at run time that are kept before the table is reset
REINDEX_AFTER = 4096  # words added by hash before the index is rebuilt (or a quarter of the index, if more)


class WordTable(dict):
    """Word → id, with each word's property bits, n-gram column and stem column; unseen words are
    added on lookup, so mapping a batch's tokens is one C-level ``map`` over a dict."""

    def __init__(self, vocabulary: dict[str, int], lexicons: dict[str, Lexicon],
                 spelling: WordScores | None = None) -> None:
        super().__init__({brk: SENTENCE_BREAK for brk in BREAK_TOKENS})
        self[SEPARATOR.encode()] = COMMENT_BREAK
        self.lexicons = lexicons
        self.spelling = spelling
        self.word_list: list[bytes] = [b"", b""]  # by id; ids below FIRST_WORD are breaks
        self.n_ids = FIRST_WORD
        self.properties = np.zeros(1024, dtype=np.uint8)
        self.columns = np.full(1024, -1, dtype=np.int64)
        self.stem_columns = np.full(1024, -1, dtype=np.int64)
        self.markers = np.zeros(1024, dtype=np.uint16)
        self.homographs = np.zeros(1024, dtype=np.uint16)
        self.phrase_parts = np.zeros(1024, dtype=bool)
        self.stem_vocabulary = {gram: column for gram, column in vocabulary.items()
                                if gram.startswith(STEM_PREFIX)}
        self.lock = threading.Lock()
        self.articles: OrderedDict[str, ArticleFeatures] = OrderedDict()
        bigrams: dict[int, list[int]] = {}
        for gram, column in sorted(vocabulary.items()):
            if gram.startswith(STEM_PREFIX):
                continue
            words = gram.split(" ")
            if len(words) == 1:
                word_id = self[gram.encode()]
                self.columns[word_id] = column
            else:
                bigrams.setdefault(self.key(words), [-1, 0])[0] = column
        for gram in DEFLECTION_CUES | lexicons["places"].words:
            words = gram.split(" ")
            if len(words) == 2:
                bigrams.setdefault(self.key(words), [-1, 0])[1] |= (
                    (DEFLECTION if gram in DEFLECTION_CUES else 0)
                    | (PLACE if gram in lexicons["places"].words else 0))
        self.lexicon_pairs = pair_properties(lexicons)  # "camel jockey": INSULT
        self.lexicon_pair_words = frozenset(word for pair in self.lexicon_pairs for word in pair.split(" "))
        for gram, bits in self.lexicon_pairs.items():
            bigrams.setdefault(self.key(gram.split(" ")), [-1, 0])[1] |= bits
        homograph_keys = {self[word.encode()] << LANGUAGE_BITS | index: self[qualified(word, language).encode()]
                          for index, language in enumerate(LANGUAGES) for word in sorted(HOMOGRAPHS[language])}
        order = sorted(homograph_keys)
        self.homograph_index = KeyIndex(np.array(order, dtype=np.int64))
        self.qualified_ids = np.array([homograph_keys[k] for k in order], dtype=np.int64)
        self._index_phrases()
        self.clause_word_ids = np.array([self[word.encode()] for word in sorted(CLAUSE_WORDS)], dtype=np.int64)
        self.n_base = self.n_ids
        order = sorted(bigrams)
        self.bigram_keys = np.array(order, dtype=np.int64)
        self.bigram_index = KeyIndex(self.bigram_keys)
        self.bigram_columns = np.array([bigrams[k][0] for k in order], dtype=np.int64)
        self.bigram_properties = np.array([bigrams[k][1] for k in order], dtype=np.uint8)
        self._index_hashes()
        if spelling is not None:  # score the vocabulary's words now, not one comment at a time later
            spelling.of_ids(np.arange(FIRST_WORD, self.n_ids), self.word_of)

    def _index_phrases(self) -> None:
        """Index the fixed phrases by the key of their pair of words, with the ids of their crude
        words' qualified forms (-1 for a word that is not crude)."""
        marked = {self.key(list(pair)): [self[phrase_word(word).encode()] if crude else -1
                                         for word, crude in zip(pair, marks)]
                  for pair, marks in phrase_marks().items()}
        order = sorted(marked)
        self.phrase_index = KeyIndex(np.array(order, dtype=np.int64))
        self.phrase_ids = np.array([marked[key] for key in order], dtype=np.int64).reshape(-1, 2)

    def _index_hashes(self) -> None:
        """Index every word of the table by the hash of its bytes (under ``lock`` once shared)."""
        words = [word for word in self if len(word) <= MAX_HASHED_BYTES]
        lengths = np.array([len(word) for word in words], dtype=np.int64)
        ends = np.cumsum(lengths + 1) - 1
        hashes = span_hashes(b" ".join(words), ends - lengths, ends)
        self.hashed = (KeyIndex(hashes), np.fromiter(map(self.__getitem__, words), np.int64, len(words)))
        self.recent: dict[int, int] = {}  # words added since, by hash
        self.answered_by_recent = 0  # once it passes the index's size, rebuilding is the cheaper

    def word_ids(self, data: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Ids of the words at these byte spans of ``data``, found by hash; unseen words are added."""
        index, known = self.hashed
        hashes = span_hashes(data, starts, ends)
        found = index.find(hashes)
        ids = known[found]
        missing = np.flatnonzero((found < 0) | (ends - starts > MAX_HASHED_BYTES))
        if len(missing):
            ids[missing] = self._ids_not_indexed(data, starts[missing], ends[missing], hashes[missing])
        return ids

    def _ids_not_indexed(self, data: bytes, starts: np.ndarray, ends: np.ndarray, hashes: np.ndarray
                         ) -> np.ndarray:
        """Ids of words the hash index lacks: recent additions by hash, others (and long words) by
        their bytes, new ones added to the table and to ``recent``."""
        short = ends - starts <= MAX_HASHED_BYTES
        recent = self.recent
        ids = np.array([recent.get(h, -1) if s else -1 for h, s in zip(hashes.tolist(), short.tolist())],
                       dtype=np.int64)
        added: dict[int, int] = {}
        answered = int((ids >= 0).sum())
        for i in np.flatnonzero(ids < 0).tolist():
            ids[i] = self[data[starts[i]:ends[i]]]
            if short[i]:
                added[int(hashes[i])] = int(ids[i])
        with self.lock:
            self.recent.update(added)
            self.answered_by_recent += answered
            if (len(self.recent) > max(REINDEX_AFTER, len(self.hashed[1]) // 4)
                    or self.answered_by_recent > len(self.hashed[1])):
                self._index_hashes()
        return ids

    def key(self, words: list[str]) -> int:
        """The key of a word pair."""
        return self[words[0].encode()] << WORD_BITS | self[words[1].encode()]

    def __missing__(self, word: bytes) -> int:
        with self.lock:
            if dict.__contains__(self, word):
                return dict.__getitem__(self, word)
            word_id = self.n_ids
            if word_id == len(self.properties):
                self.properties = np.concatenate([self.properties, np.zeros_like(self.properties)])
                self.columns = np.concatenate([self.columns, np.full_like(self.columns, -1)])
                self.stem_columns = np.concatenate([self.stem_columns, np.full_like(self.stem_columns, -1)])
                self.markers = np.concatenate([self.markers, np.zeros_like(self.markers)])
                self.homographs = np.concatenate([self.homographs, np.zeros_like(self.homographs)])
                self.phrase_parts = np.concatenate([self.phrase_parts, np.zeros_like(self.phrase_parts)])
            text = word.decode("utf-8")
            self.properties[word_id] = word_properties(text, self.lexicons)
            self.markers[word_id] = MARKER_BITS.get(text, 0)
            self.homographs[word_id] = HOMOGRAPH_BITS.get(text, 0)
            self.phrase_parts[word_id] = text in phrase_parts()
            self.stem_columns[word_id] = self.stem_vocabulary.get(stem_of(text), -1)
            self.n_ids += 1
            self.word_list.append(word)
            self[word] = word_id
            return word_id

    def word_of(self, word_id: int) -> str:
        """The word with id ``word_id``."""
        return self.word_list[word_id].decode("utf-8")

    @property
    def full(self) -> bool:
        """Whether enough run-time words have accumulated to reset the table."""
        return self.n_ids - self.n_base > RUNTIME_WORDS or self.n_ids >= 1 << WORD_BITS


class KeyIndex:
    """An open-addressing hash table of int64 keys, for finding many keys at once in numpy."""

    MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)

    def __init__(self, keys: np.ndarray) -> None:
        self.bits = max(4, int(len(keys) * 4).bit_length())
        self.slots = np.full(1 << self.bits, -1, dtype=np.int64)
        self.positions = np.full(1 << self.bits, -1, dtype=np.int64)
        self.max_probes = -1
        mask = (1 << self.bits) - 1
        positions, slots = np.arange(len(keys)), self._slots(keys)
        while len(positions):  # each round, one key takes each free slot; the others probe the next
            free = np.flatnonzero(self.slots[slots] == -1)
            taken = free[np.unique(slots[free], return_index=True)[1]]
            self.slots[slots[taken]], self.positions[slots[taken]] = keys[positions[taken]], positions[taken]
            waiting = np.ones(len(positions), dtype=bool)
            waiting[taken] = False
            positions, slots = positions[waiting], (slots[waiting] + 1) & mask
            self.max_probes += 1
        self.max_probes = max(self.max_probes, 0)

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        """Home slot of each key (Fibonacci hashing)."""
        shift = np.uint64(64 - self.bits)
        return ((keys.astype(np.uint64) * self.MULTIPLIER) >> shift).astype(np.int64)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Position of each key in the array the index was built from, or -1."""
        slots = self._slots(keys)
        stored = self.slots[slots]
        found = np.where(stored == keys, self.positions[slots], -1)
        pending = np.flatnonzero((found < 0) & (stored != -1))  # the few keys met another at home
        slots, mask = slots[pending], (1 << self.bits) - 1
        for _ in range(self.max_probes):
            if not len(pending):
                break
            slots = (slots + 1) & mask
            stored = self.slots[slots]
            hit = stored == keys[pending]
            found[pending[hit]] = self.positions[slots[hit]]
            more = ~hit & (stored != -1)
            pending, slots = pending[more], slots[more]
        return found


@dataclass
class ArticleFeatures:
    """What comments are compared with: an article's TF-IDF vector, gram keys and word set."""

    columns: np.ndarray
    values: np.ndarray
    gram_keys: np.ndarray
    words: frozenset[str]
    weights: dict[int, float]  # the vector again, column -> value, for one comment at a time


class ByteTokens:
    """A batch's tokens as spans of its token bytes; a slice gives the tokens as bytes."""

    def __init__(self, data: bytes, starts: np.ndarray, ends: np.ndarray) -> None:
        self.data, self.starts, self.ends = data, starts, ends

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, span: slice) -> list[bytes]:
        return [self.data[s:e] for s, e in zip(self.starts[span].tolist(), self.ends[span].tolist())]


@dataclass
class _Tokens:
    """A batch's tokens as word ids, with the comment, sentence and clause of each word (a
    featurizer without clauses: each sentence is one)."""

    words: np.ndarray
    word_comment: np.ndarray
    word_sentence: np.ndarray
    sentence_owner: np.ndarray
    word_clause: np.ndarray
    clause_starts: np.ndarray
    clause_owner: np.ndarray
    pair_comment: np.ndarray
    pair_sentence: np.ndarray
    pair_clause: np.ndarray  # -1 for a pair across two clauses
    pair_keys: np.ndarray
    pair_index: np.ndarray
    word_tokens: np.ndarray  # each word's position among the tokens
    pair_tokens: np.ndarray  # each pair's first word's position among the tokens


class CommentFeaturizer(BaseEstimator):
    """Turns (comment, article or None) pairs into TF-IDF n-grams and dense cues."""

    def __init__(self, min_df: int = 2, max_features: int = 60000, clauses: bool = False) -> None:
        self.min_df = min_df
        self.max_features = max_features
        self.clauses = clauses  # the sentence rows are clauses (see ``model.text.CLAUSE_MARKS``)

    def fit(self, texts: list[str]) -> "CommentFeaturizer":
        """Learn the n-gram vocabulary and IDF weights from comment texts."""
        document_frequency: Counter = Counter()
        identities = read_lexicon("identities")
        words_of_comments = []
        for text in texts:
            normalised = normalise(text)
            document_frequency.update(set(grams_of(normalised)))
            words_of_comments.append(_words_of(normalised))
        masked = identities | {stem for stem in map(stem_of, identities) if stem}
        self.spelling_ = SpellingVocabulary().fit(words_of_comments, frozenset(masked))
        self.spelling_weights_ = None
        for gram in list(document_frequency):
            if any(word in masked for word in gram.split(" ")):
                del document_frequency[gram]
        kept = most_frequent(document_frequency, self.max_features, self.min_df)
        self.vocabulary_ = {gram: index for index, gram in enumerate(kept)}
        n_documents = len(texts)
        self.idf_ = np.array([math.log((1 + n_documents) / (1 + document_frequency[g])) + 1
                              for g in kept])
        self.feature_names_ = kept + [f"[{name}]" for name in DENSE_FEATURES]
        self._init_caches()
        return self

    def _init_caches(self) -> None:
        """Lexicons and the word table (rebuilt after unpickling, never pickled)."""
        self._lexicons = {name: Lexicon(name) for name in
                          ("insults", "profanity", "dehumanising", "violence", "places")}
        self._table = self._new_table()
        self._table_lock = threading.Lock()
        self._idf_list = self.idf_.tolist()  # for one comment at a time, a value at a time

    def _new_table(self) -> WordTable:
        """An empty word table, scoring words' spelling once the heads' spelling weights are set."""
        spelling = None
        if getattr(self, "spelling_weights_", None) is not None:
            spelling = WordScores(self.spelling_, self.spelling_weights_)
        return WordTable(self.vocabulary_, self._lexicons, spelling)

    def set_spelling_weights(self, weights: np.ndarray) -> None:
        """Score spelling with these weights (n-grams × logits, temperature applied) from now on."""
        self.spelling_weights_ = weights
        self._table = self._new_table()

    def spelling_matrix(self, texts: list[str]) -> sp.csr_matrix:
        """The spelling vectors of comments (see ``model.spelling``), for training the heads."""
        return self.spelling_.comments_matrix([_words_of(normalise(text)) for text in texts])

    def spelling_factors(self, texts: list[str]) -> tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix]:
        """``spelling_matrix`` as its factors (``model.spelling.summed_factors``), which the heads fit on."""
        return self.spelling_.comments_factors([_words_of(normalise(text)) for text in texts])

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for name in ("_lexicons", "_table", "_table_lock", "_idf_list"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update({"clauses": False, **state})  # saved before clauses: whole sentences
        if hasattr(self, "vocabulary_"):
            self._init_caches()

    @property
    def n_text_features(self) -> int:
        """Number of n-gram columns."""
        return len(self.vocabulary_)

    def _word_table(self) -> WordTable:
        """The word table, replaced by a fresh one once run-time words have filled it."""
        with self._table_lock:
            if self._table.full:
                self._table = self._new_table()
            return self._table

    def transform(self, texts: list[str], articles: list[str | None]) -> FeatureBatch:
        """Features of comments, each with its article's text or None."""
        table = self._word_table()
        if len(texts) <= ONE_BY_ONE_UP_TO:
            return transform_one_by_one(self, table, texts, articles)
        return self.transform_vectorised(texts, articles, table)

    def transform_vectorised(self, texts: list[str], articles: list[str | None],
                             table: WordTable | None = None) -> FeatureBatch:
        """Features of a batch through whole-batch array operations (any batch size)."""
        if table is None:
            table = self._word_table()
        normalised = normalise_joined(list(texts))
        token_bytes, tokens = _index_tokens(table, normalised, self.clauses)
        n = len(texts)
        doc_columns, doc_rows, sentence_rows = self._ngram_cells(table, tokens)
        text_matrix = tfidf_rows(doc_rows, doc_columns, n, self.idf_)
        sentence_columns = doc_columns
        if self.clauses:  # a pair across two clauses is in neither's row
            in_clause = sentence_rows >= 0
            sentence_rows, sentence_columns = sentence_rows[in_clause], doc_columns[in_clause]
        sentence_matrix = tfidf_rows(sentence_rows, sentence_columns, len(tokens.clause_owner), self.idf_)
        dense = self._dense(table, tokens, texts, (normalised, token_bytes), articles, text_matrix)
        lengths = np.bincount(tokens.word_clause, minlength=len(tokens.clause_owner))
        batch = FeatureBatch(text_matrix, sentence_matrix, tokens.clause_owner, dense,
                             token_bytes, tokens.clause_starts, lengths)
        if table.spelling is not None:
            batch.spelling, batch.spelling_terms = spelling_logits(
                table.spelling, tokens.words, tokens.word_comment, n, table.word_of)
        return batch

    def _ngram_cells(self, table: WordTable, tokens: _Tokens
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Column, comment row and clause row (-1: a pair across clauses) of every in-vocabulary
        unigram, bigram and stem."""
        unigram_columns = table.columns[tokens.words]
        stem_columns = table.stem_columns[tokens.words]
        pair_index = tokens.pair_index
        pair_columns = np.where(pair_index >= 0, table.bigram_columns[pair_index], -1)
        kept_words, kept_pairs, kept_stems = unigram_columns >= 0, pair_columns >= 0, stem_columns >= 0
        columns = np.concatenate([unigram_columns[kept_words], pair_columns[kept_pairs],
                                  stem_columns[kept_stems]])
        doc_rows = np.concatenate([tokens.word_comment[kept_words], tokens.pair_comment[kept_pairs],
                                   tokens.word_comment[kept_stems]])
        sentence_rows = np.concatenate([tokens.word_clause[kept_words],
                                        tokens.pair_clause[kept_pairs], tokens.word_clause[kept_stems]])
        return columns, doc_rows, sentence_rows

    def _article(self, table: WordTable, article: str) -> ArticleFeatures:
        """An article's features, cached by its text in the word table they refer to."""
        cached = table.articles.get(article)
        if cached is not None:
            table.articles.move_to_end(article)
            return cached
        normalised = normalise(article)
        grams = grams_of(normalised)
        columns = [c for c in map(self.vocabulary_.get, grams) if c is not None]
        vector = tfidf_rows(np.zeros(len(columns)), columns, 1, self.idf_)
        tokens = _index_tokens(table, normalised)[1]
        keys = np.unique(np.concatenate([tokens.words, tokens.pair_keys]))
        entry = ArticleFeatures(vector.indices.astype(np.int64), vector.data, keys, frozenset(grams),
                                dict(zip(vector.indices.tolist(), vector.data.tolist())))
        table.articles[article] = entry
        if len(table.articles) > ARTICLE_CACHE_SIZE:
            table.articles.popitem(last=False)
        return entry

    def _dense(self, table: WordTable, tokens: _Tokens, texts: list[str], normalised_and_bytes: tuple[str, ByteTokens],
               articles: list[str | None], text_matrix: sp.csr_matrix) -> np.ndarray:
        """The dense cues of every comment of the batch (see ``DENSE_FEATURES``), from its normalised
        text and that text's tokens too."""
        normalised, token_bytes = normalised_and_bytes
        n = len(texts)
        properties = table.properties[tokens.words]
        n_tokens = np.bincount(tokens.word_comment, minlength=n)
        pair_index = tokens.pair_index
        pair_properties = np.where(pair_index >= 0, table.bigram_properties[pair_index], 0)
        # the few words, and lexicon pairs ("camel jockey"), any count below needs
        flagged = np.flatnonzero(properties & COUNTED_MASK)
        flagged_pairs = np.flatnonzero(pair_properties & COUNTED_MASK)
        comment = np.concatenate([tokens.word_comment[flagged], tokens.pair_comment[flagged_pairs]])
        flagged_properties = np.concatenate([properties[flagged], pair_properties[flagged_pairs]])
        count = lambda bit: np.bincount(comment, weights=(flagged_properties & bit) > 0, minlength=n)  # noqa: E731
        insults_per_sentence = np.bincount(
            np.concatenate([tokens.word_sentence[flagged], tokens.pair_sentence[flagged_pairs]]),
            weights=(flagged_properties & INSULT) > 0, minlength=len(tokens.sentence_owner))
        max_insults = np.zeros(n)
        np.maximum.at(max_insults, tokens.sentence_owner, insults_per_sentence)
        is_insult = (flagged_properties & INSULT) > 0
        pair_words = np.searchsorted(tokens.word_tokens, tokens.pair_tokens[flagged_pairs])  # their first words
        word_of_hit = np.concatenate([flagged, pair_words])
        quoted_insults = _quoted_insults(normalised, token_bytes, tokens, comment[is_insult], word_of_hit[is_insult], n)
        places = _gram_hits(tokens, properties, pair_properties, PLACE)
        cues = _gram_hits(tokens, properties, pair_properties, DEFLECTION)
        dense = np.zeros((n, len(DENSE_FEATURES)))
        dense[:, 5] = np.log1p(_distinct_per_comment(*places, n))
        dense[:, 6] = np.log1p(_distinct_per_comment(*cues, n))
        for column, bit in ((7, INSULT), (8, PROFANITY), (9, DEHUMANISING), (10, VIOLENCE)):
            dense[:, column] = np.log1p(count(bit))
        dense[:, 11] = np.log1p(max_insults)
        dense[:, 12] = np.log1p(count(SECOND_PERSON_BIT))
        dense[:, 13] = np.log1p(n_tokens)
        dense[:, 14:17] = _character_cues_joined(texts)
        dense[:, 17] = np.log1p(quoted_insults)
        if any(articles):
            self._article_cues(table, tokens, properties, places, texts, articles, text_matrix, dense)
        return dense

    def _article_cues(self, table: WordTable, tokens: _Tokens, properties: np.ndarray,
                      places: tuple[np.ndarray, np.ndarray], texts: list[str],
                      articles: list[str | None], text_matrix: sp.csr_matrix, dense: np.ndarray) -> None:
        """Fill in the cues comparing each comment with its article (columns 0 to 4)."""
        n = len(texts)
        distinct = {a: i for i, a in enumerate(dict.fromkeys(a for a in articles if a))}
        features = [self._article(table, a) for a in distinct]
        article_of = np.array([distinct[a] if a else -1 for a in articles], dtype=np.int64)
        has_article = article_of >= 0
        dense[:, 0] = has_article
        vectors = _Groups([f.columns for f in features])
        grams = _Groups([f.gram_keys for f in features])
        all_values = np.concatenate([f.values for f in features])
        row_of_value = np.repeat(np.arange(n), np.diff(text_matrix.indptr))
        position = vectors.find(article_of[row_of_value], text_matrix.indices)
        products = np.where(position >= 0, text_matrix.data * all_values[position], 0.0)
        dense[:, 1] = np.bincount(row_of_value, weights=products, minlength=n)
        in_article = grams.find(article_of[tokens.word_comment], tokens.words) >= 0
        content = (properties & CONTENT) > 0
        n_content = np.bincount(tokens.word_comment, weights=content, minlength=n)
        n_shared = np.bincount(tokens.word_comment, weights=content & in_article, minlength=n)
        dense[:, 2] = n_shared / np.maximum(n_content, 1)
        place_comment, place_key = places
        absent = grams.find(article_of[place_comment], place_key) < 0
        absent &= has_article[place_comment]
        dense[:, 4] = np.log1p(_distinct_per_comment(place_comment[absent], place_key[absent], n))
        rows = np.flatnonzero(has_article).tolist()
        for row, subjects in zip(rows, _capitalised_words([texts[row] for row in rows])):
            dense[row, 3] = log1p_count(len(subjects.difference(STOPWORDS, features[article_of[row]].words)))


def _quoted_insults(normalised: str, token_bytes: ByteTokens, tokens: _Tokens, comments: np.ndarray,
                    words: np.ndarray, n: int) -> np.ndarray:
    """How many of the insult hits (comment, position in ``tokens.words`` of the hit's first word)
    of each comment lie inside a quotation (``cues.QUOTATION``, searched in those comments only)."""
    counts = np.zeros(n)
    if not len(comments) or not may_quote(normalised):
        return counts
    data = normalised.encode("utf-8", "surrogatepass")  # the tokens' bytes, before quotes became spaces
    separators = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0).tolist()
    bounds = [-1, *separators, len(data)]  # comment c's bytes lie between bounds c and c + 1
    hits: dict[int, list[int]] = {}
    for comment, position in zip(comments.tolist(), token_bytes.starts[tokens.word_tokens[words]].tolist()):
        hits.setdefault(comment, []).append(position)
    for comment, positions in hits.items():
        counts[comment] = quoted_count(data, bounds[comment] + 1, bounds[comment + 1], positions)
    return counts


def _capitalised_words(texts: list[str]) -> list[set[str]]:
    """``capitalised_words`` of each text, from one regex pass over all the texts joined by
    ``SEPARATOR`` (a non-word character, so each text's words are found as if alone)."""
    joined = SEPARATOR.join(texts)
    if joined.count(SEPARATOR) != len(texts) - 1:  # a text holds the separator: one text at a time
        return [capitalised_words(text) for text in texts]
    words = " ".join(CAPITALISED_OR_SEPARATOR.findall(joined)).lower()  # the words are ASCII letters
    return [set(of_text.split()) for of_text in words.split(SEPARATOR)]


def _words_of(normalised_text: str) -> list[str]:
    """The words of a normalised comment, sentence after sentence (fixed phrases' crude words qualified)."""
    return [word for words in mark_phrases(sentence_words(normalised_text)) for word in words]


class _Groups:
    """Sorted key arrays, one per group, searched together."""

    def __init__(self, arrays: list[np.ndarray]) -> None:
        self.single = arrays[0] if len(arrays) == 1 else None
        if self.single is None:
            group = np.repeat(np.arange(len(arrays), dtype=np.int64), [len(a) for a in arrays])
            self.packed = group << GROUP_SHIFT | np.concatenate(arrays)

    def find(self, group: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Position of each key in its group's array, counted across all groups (-1: absent, or
        group -1)."""
        found = np.full(len(keys), -1, dtype=np.int64)
        searched = np.flatnonzero(group >= 0)  # keys of comments without an article are not looked up
        if self.single is not None:
            found[searched] = positions_in(self.single, keys[searched])
        else:
            found[searched] = positions_in(self.packed, group[searched] << GROUP_SHIFT | keys[searched])
        return found


def _index_tokens(table: WordTable, normalised_text: str, clauses: bool = False) -> tuple[ByteTokens, _Tokens]:
    """Word ids of a batch's tokens, with the comment, sentence and clause each word and word pair is in."""
    token_bytes = ByteTokens(*token_spans(normalised_text))
    data, begins, ends = token_bytes.data, token_bytes.starts, token_bytes.ends
    first_byte = np.frombuffer(data, dtype=np.uint8)[begins]
    words = np.flatnonzero(first_byte >= 97)  # a word starts with a-z or a byte >= 0x80 (token_spans)
    ids = np.where(first_byte == 0, COMMENT_BREAK, SENTENCE_BREAK)
    ids[words] = table.word_ids(data, begins[words], ends[words])
    comment_of_token = np.cumsum(ids == COMMENT_BREAK)
    is_word = ids >= FIRST_WORD
    _qualify_homographs(table, ids, comment_of_token, is_word)
    _mark_phrases(table, ids)
    starts = is_word.copy()
    starts[1:] &= ~is_word[:-1]
    sentence_of_token = np.cumsum(starts) - 1
    sentence_starts = np.flatnonzero(starts)
    word_positions = np.flatnonzero(is_word)
    pairs = np.flatnonzero(is_word[:-1] & is_word[1:])
    pair_keys = ids[pairs] << WORD_BITS | ids[pairs + 1]
    clause_of_token, clause_starts, pair_clause = sentence_of_token, sentence_starts, sentence_of_token[pairs]
    if clauses:
        begins_clause = starts | _clause_openings(table, normalised_text, ids, begins, word_positions)
        clause_of_token, clause_starts = np.cumsum(begins_clause) - 1, np.flatnonzero(begins_clause)
        pair_clause = np.where(begins_clause[pairs + 1], -1, clause_of_token[pairs])
    return token_bytes, _Tokens(
        words=ids[word_positions], word_comment=comment_of_token[word_positions],
        word_sentence=sentence_of_token[word_positions], sentence_owner=comment_of_token[sentence_starts],
        word_clause=clause_of_token[word_positions], clause_starts=clause_starts,
        clause_owner=comment_of_token[clause_starts],
        pair_comment=comment_of_token[pairs], pair_sentence=sentence_of_token[pairs], pair_clause=pair_clause,
        pair_keys=pair_keys, pair_index=table.bigram_index.find(pair_keys),
        word_tokens=word_positions, pair_tokens=pairs)


def _clause_openings(table: WordTable, normalised_text: str, ids: np.ndarray, begins: np.ndarray,
                     word_positions: np.ndarray) -> np.ndarray:
    """Which tokens are words opening a clause within a sentence: after a clause mark since the
    previous word, or a clause word ("and", "but")."""
    opens = np.zeros(len(ids), dtype=bool)
    marks = clause_mark_positions(normalised_text)
    if len(marks):
        marks_before = np.searchsorted(marks, begins[word_positions])
        opens[word_positions[1:]] = marks_before[1:] != marks_before[:-1]
    opens[word_positions] |= np.isin(ids[word_positions], table.clause_word_ids)
    return opens


def _qualify_homographs(table: WordTable, ids: np.ndarray, comment_of_token: np.ndarray,
                        is_word: np.ndarray) -> None:
    """Replace, in place, the ids of homographs in comments of their language by the ids of their
    qualified forms ("nl:hoe"; see ``model.languages``)."""
    marker_positions = np.flatnonzero(table.markers[ids])
    if len(marker_positions) < MIN_MARKERS:
        return
    comments, language = languages_of_comments(comment_of_token[marker_positions],
                                                table.markers[ids[marker_positions]],
                                                lambda c: _words_in_comments(comment_of_token, is_word, c))
    if not len(comments):
        return
    language_of = np.full(int(comment_of_token[-1]) + 1, -1, dtype=np.int64)
    language_of[comments] = language
    positions = np.flatnonzero(table.homographs[ids])
    languages = language_of[comment_of_token[positions]]
    positions, languages = positions[languages >= 0], languages[languages >= 0]
    keys = ids[positions] << LANGUAGE_BITS | languages
    found = table.homograph_index.find(keys)
    ids[positions[found >= 0]] = table.qualified_ids[found[found >= 0]]


def _mark_phrases(table: WordTable, ids: np.ndarray) -> None:
    """Replace, in place, the ids of the crude words of fixed phrases by the ids of their qualified
    forms ("phrase:pussy" in "pussy riot"; see ``model.phrases``)."""
    parts = table.phrase_parts[ids]
    candidates = np.flatnonzero(parts[:-1] & parts[1:])  # breaks are no phrase's part
    if not len(candidates):
        return
    found = table.phrase_index.find(ids[candidates] << WORD_BITS | ids[candidates + 1])
    starts, marked = candidates[found >= 0], table.phrase_ids[found[found >= 0]]
    first, second = marked[:, 0] >= 0, marked[:, 1] >= 0
    ids[starts[first]] = marked[first, 0]
    ids[starts[second] + 1] = marked[second, 1]


def _words_in_comments(comment_of_token: np.ndarray, is_word: np.ndarray, comments: np.ndarray
                       ) -> np.ndarray:
    """How many words each of the given comments has (found by bisecting the sorted comment index)."""
    starts = np.searchsorted(comment_of_token, comments, "left")
    ends = np.searchsorted(comment_of_token, comments, "right")
    words_before = np.concatenate([[0], np.cumsum(is_word)])
    return words_before[ends] - words_before[starts]


def _gram_hits(tokens: _Tokens, properties: np.ndarray, pair_properties: np.ndarray, bit: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Comment and gram key of every unigram and bigram carrying ``bit``."""
    words, pairs = (properties & bit) > 0, (pair_properties & bit) > 0
    return (np.concatenate([tokens.word_comment[words], tokens.pair_comment[pairs]]),
            np.concatenate([tokens.words[words], tokens.pair_keys[pairs]]))


def _distinct_per_comment(comments: np.ndarray, keys: np.ndarray, n: int) -> np.ndarray:
    """How many distinct keys each comment has."""
    if not len(keys):
        return np.zeros(n)
    codes = np.unique(keys, return_inverse=True)[1].reshape(-1)
    pairs = np.unique(comments * len(keys) + codes)
    return np.bincount(pairs // len(keys), minlength=n).astype(float)


def _character_cues_joined(texts: list[str]) -> np.ndarray:
    """``character_cues`` computed over the whole batch's bytes at once."""
    data = np.frombuffer((SEPARATOR.join(texts) + SEPARATOR).encode("utf-8", "surrogatepass"), np.uint8)
    separators = np.flatnonzero(data == 0)
    if len(separators) != len(texts):
        return character_cues(texts)
    starts = np.concatenate([[0], separators[:-1] + 1])
    upper = (data - 65) < 26
    counts = [np.add.reduceat(mask.view(np.uint8), starts, dtype=np.int64) for mask in
              (upper, (data - 97) < 26, data == 33, data == 63)]
    counts = np.stack(counts, axis=1)
    n_letters = counts[:, 0] + counts[:, 1]
    cues = np.zeros((len(texts), 3))
    cues[:, 0] = counts[:, 0] / np.maximum(n_letters, 1)
    cues[:, 1:] = np.log1p(counts[:, 2:])
    return cues

