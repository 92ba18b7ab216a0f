"""The character view of a comment: the character 2- to 5-grams of its lower-cased tokens as written,
split on whitespace only, so punctuation stays on the word it touches ("camps?", "idiots!!").

A separate logistic regression reads this view alone, and its logits are blended into the category
head's (see ``CommentClassifier``) when the training config's ``C_characters`` is above 0. Seeing the
same comment in a second, independently fitted way catches what the word n-grams and spelling of
the main head miss, above all in other languages; it is off by default, since tokenising every
comment a second time costs about a fifth of the batch throughput (see the README).

A comment's vector is the sum of its tokens' IDF-weighted n-gram counts over the square root of the
sum of each token's own squared norm, so its score is a sum of per-token scores: serving scores each
token once, keeps the score, and adds (as ``model.spelling`` does for words).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np
import scipy.sparse as sp

from model.features import KeyIndex
from model.spelling import normalised_sums, summed_vectors, unit_scores
from model.text import (
    HASH_BASE,
    MAX_HASHED_BYTES,
    SEPARATOR,
    hash_powers,
    read_lexicon,
    span_hashes,
)

CHARACTER_ORDERS = (2, 3, 4, 5)
HASH_MASK = np.uint64((1 << 63) - 1)
CHARACTER_PREFIX = "[characters] "  # how an explanation names a token's character n-grams
KEPT_TOKENS = 200_000  # tokens whose scores are kept before the store starts again
COMMON_TOKEN_DF = 2  # tokens of at least this many training comments are scored when a model loads
EDGES = re.compile(r"^[\W_]+|[\W_]+$")
ONE_BY_ONE_UP_TO = 16  # larger batches find their tokens as byte spans, by hash
REINDEX_AFTER = 4096  # tokens added by hash before the hash table is rebuilt (or a quarter of it)
# Tokens are separated by ASCII control characters and spaces (the batch separator NUL among them)
# and by the other characters str.split() splits on.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0e-\x1b\x7f]")  # those str.split() keeps
WIDE_SPACES = re.compile("[\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


def core_of(token: str) -> str:
    """A token without the punctuation around it, nor a trailing possessive: "muslims," → "muslims"."""
    return EDGES.sub("", token).removesuffix("'s")


def _code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as uint64."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)


def _gram_hashes(codes: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 63-bit polynomial hash of every n-gram (orders 2 to 5) of the code points ``codes`` that
    lies within one owner, with its owner (as ``token_grams`` would list them, in another order)."""
    hashes, owners = [], []
    key, same = codes, np.ones(len(codes), dtype=bool)
    for n in range(2, min(CHARACTER_ORDERS[-1], len(codes)) + 1):  # each order extends the one below
        key = key[:-1] * np.uint64(HASH_BASE) + codes[n - 1:]
        same = same[:-1] & (owner[:len(owner) - n + 1] == owner[n - 1:])
        hashes.append(key[same])
        owners.append(owner[:len(owner) - n + 1][same])
    if not hashes:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return (np.concatenate(hashes) & HASH_MASK).view(np.int64), np.concatenate(owners)


def tokens_of(text: str) -> list[str]:
    """The lower-cased tokens of a comment, separated by whitespace and ASCII control characters."""
    text = text.lower()
    return (CONTROL_CHARACTERS.sub(" ", text) if CONTROL_CHARACTERS.search(text) else text).split()


def token_grams(token: str) -> list[str]:
    """The character n-grams of a token padded with a space at each end (orders 2 to 5)."""
    padded = f" {token} "
    return [padded[i:i + n] for n in CHARACTER_ORDERS for i in range(len(padded) - n + 1)]


class CharacterVocabulary:
    """The character n-grams of training comments' tokens, with their IDF weights. Tokens naming a
    people or faith ("Muslims,") have none, as they have no word n-grams: naming a group is never
    evidence of abuse."""

    def __init__(self, min_df: int = 3) -> None:
        self.min_df = min_df

    def fit(self, texts: list[str]) -> CharacterVocabulary:
        """Learn the n-grams found in at least ``min_df`` comments."""
        self.masked_ = read_lexicon("identities")
        frequency: Counter = Counter()
        token_frequency: Counter = Counter()
        for text in texts:
            tokens = {token for token in tokens_of(text) if core_of(token) not in self.masked_}
            token_frequency.update(tokens)
            frequency.update({gram for token in tokens for gram in token_grams(token)})
        kept = sorted(gram for gram, n in frequency.items() if n >= self.min_df)
        self.vocabulary_ = {gram: column for column, gram in enumerate(kept)}
        self.common_tokens_ = sorted(token for token, n in token_frequency.items() if n >= COMMON_TOKEN_DF)
        self.idf_ = np.array([math.log((1 + len(texts)) / (1 + frequency[g])) + 1 for g in kept])
        return self

    def cells(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Token index, n-gram column and IDF-weighted count of every n-gram the tokens hold, sorted
        by token, then column (a token naming a group holds none). N-grams are found by a 63-bit
        polynomial hash of their code points, computed for all tokens at once."""
        kept = [i for i, token in enumerate(tokens) if core_of(token) not in self.masked_]
        if not kept or not self.vocabulary_:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
        shown = [tokens[i] for i in kept] if len(kept) < len(tokens) else tokens
        codes = _code_points(" " + "  ".join(shown) + " ")
        lengths = np.fromiter(map(len, shown), np.int64, len(shown)) + 2
        owner = np.repeat(np.array(kept, dtype=np.int64), lengths)
        hashes, owners = _gram_hashes(codes, owner)
        index, columns_of = self._hash_index()
        found = index.find(hashes)
        width = len(self.vocabulary_)
        keys, counts = np.unique(owners[found >= 0] * width + columns_of[found[found >= 0]], return_counts=True)
        owners, columns = np.divmod(keys, width)
        return owners, columns, counts * self.idf_[columns]

    def _hash_index(self) -> tuple[KeyIndex, np.ndarray]:
        """A hash table of the vocabulary's n-gram hashes, and each one's column (built once)."""
        index = self.__dict__.get("_index")
        if index is None:
            grams = list(self.vocabulary_)
            lengths = np.fromiter(map(len, grams), np.int64, len(grams))
            starts = np.cumsum(lengths) - lengths
            codes = _code_points("".join(grams))
            powers = hash_powers(int(lengths.max()))[np.repeat(starts + lengths, lengths) - 1 - np.arange(len(codes))]
            hashes = np.add.reduceat(codes * powers, starts) & HASH_MASK
            index = self._index = (KeyIndex(hashes.view(np.int64)),
                                   np.fromiter(self.vocabulary_.values(), np.int64, len(grams)))
        return index

    def __getstate__(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if key != "_index"}

    def tokens_matrix(self, tokens: list[str]) -> sp.csr_matrix:
        """One row per token: its IDF-weighted n-gram counts."""
        owners, columns, values = self.cells(tokens)
        return sp.csr_matrix((values, (owners, columns)), shape=(len(tokens), len(self.vocabulary_)))

    def comments_matrix(self, texts: list[str]) -> sp.csr_matrix:
        """One row per comment: the sum of its tokens' vectors over the root of their squared norms."""
        return summed_vectors([tokens_of(text) for text in texts], self.tokens_matrix)


@dataclass
class CharacterTerms:
    """Each token of a batch with its comment, for explanations."""

    comments: np.ndarray
    ids: np.ndarray  # per token, an id equal for equal tokens of the batch
    rows: np.ndarray  # per token, its logit contributions and squared norm
    norms: np.ndarray  # per comment, the root of its tokens' summed squared norms
    tokens: list[str] | TokenSpans

    def token(self, position: int) -> str:
        """The token at ``position``."""
        return self.tokens[int(position)]


class _Store:
    """Scored tokens: token → row of ``rows`` (logit contributions, then squared norm); and, for
    whole batches, each token's byte hash (``span_hashes``) in a numpy hash table, brought up to
    date by the batch path only (one comment at a time never pays for hashing)."""

    def __init__(self, width: int) -> None:
        self.index: dict[str, int] = {}
        self.tokens: list[str] = []  # by id
        self.rows = np.zeros((1024, width))
        self.hashes = np.zeros(0, dtype=np.int64)  # by id, for the first ``len(hashes)`` tokens; -1: too long
        self.hashed = (KeyIndex(np.zeros(0, dtype=np.int64)), np.zeros(0, dtype=np.int64))
        self.recent: dict[int, int] = {}  # hash → id of tokens hashed since ``hashed`` was built
        self.n_common = 0  # the first tokens, scored when the store was made

    def find(self, spans: TokenSpans) -> np.ndarray:
        """The id of each token of ``spans``, or -1 (unknown, or too long to be found by its hash)."""
        index, ids_of = self.hashed
        if len(ids_of):
            found = index.find(spans.hashes)
            ids = np.where(found >= 0, ids_of[np.maximum(found, 0)], -1)
        else:
            ids = np.full(len(spans), -1, dtype=np.int64)
        unknown = np.flatnonzero(ids < 0)
        recent = self.recent
        if len(unknown) and recent:
            ids[unknown] = np.fromiter(map(recent.get, spans.hashes[unknown].tolist(), repeat(-1)),
                                       np.int64, len(unknown))
        ids[spans.long] = -1
        return ids

    def add(self, tokens: list[str], rows: np.ndarray) -> None:
        """Keep new tokens with their rows (under the scorer's lock)."""
        first, last = len(self.tokens), len(self.tokens) + len(tokens)
        if last > len(self.rows):
            grown = np.zeros((max(2 * len(self.rows), last), self.rows.shape[1]))
            grown[:first] = self.rows[:first]
            self.rows = grown
        self.rows[first:last] = rows
        self.tokens.extend(tokens)
        self.index.update(zip(tokens, range(first, last)))

    def hash_new_tokens(self) -> None:
        """Hash the tokens added since the last call, rebuilding the hash table when enough have
        accumulated (under the scorer's lock)."""
        first, last = len(self.hashes), len(self.tokens)
        if first == last:
            return
        spans = TokenSpans.of(self.tokens[first:last])
        added = np.where(spans.long, -1, spans.hashes)
        self.hashes = np.concatenate([self.hashes, added])
        if len(self.recent) + last - first > max(REINDEX_AFTER, len(self.hashed[1]) // 4):
            ids = np.flatnonzero(self.hashes >= 0)
            self.hashed, self.recent = (KeyIndex(self.hashes[ids]), ids), {}
        else:
            self.recent.update((h, i) for i, h in enumerate(added.tolist(), first) if h >= 0)


class TokenSpans:
    """A batch's tokens (as ``tokens_of`` finds them) as byte spans of its lower-cased text, with
    each token's comment and hash."""

    def __init__(self, data: bytes, starts: np.ndarray, ends: np.ndarray, comments: np.ndarray) -> None:
        self.data, self.starts, self.ends, self.comments = data, starts, ends, comments
        self.hashes = span_hashes(data, starts, ends)
        self.long = ends - starts > MAX_HASHED_BYTES

    @classmethod
    def of(cls, texts: list[str]) -> TokenSpans:
        """The tokens of ``texts``, each text's tokens after the one before's."""
        joined = SEPARATOR.join(texts)
        if joined.count(SEPARATOR) != len(texts) - 1:  # a text holds the separator: a space there
            joined = SEPARATOR.join(text.replace(SEPARATOR, " ") for text in texts)
        if not joined.isascii():  # str.lower for the texts that need it, bytes.lower for ASCII letters
            joined = SEPARATOR.join(text if text.isascii() else WIDE_SPACES.sub(" ", text.lower())
                                    for text in joined.split(SEPARATOR))
        data = joined.encode("utf-8", "surrogatepass").lower()
        codes = np.frombuffer(data, dtype=np.uint8)
        in_token = (codes > 32) & (codes != 127)  # ASCII control characters and spaces separate tokens
        edges = np.diff(in_token.view(np.int8), prepend=np.int8(0), append=np.int8(0))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        comments = np.searchsorted(np.flatnonzero(codes == 0), starts)
        return cls(data, starts, ends, comments)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> str:
        return self.data[self.starts[i]:self.ends[i]].decode("utf-8", "surrogatepass")


class CharacterScorer:
    """Scores comments by their character view: per-token logit contributions, kept as tokens are met."""

    def __init__(self, vocabulary: CharacterVocabulary, weights: np.ndarray, intercept: np.ndarray) -> None:
        self.vocabulary = vocabulary
        self.weights = np.ascontiguousarray(weights)  # n-grams × classes, blend weight applied
        self.intercept = intercept
        self._lock = threading.Lock()
        self._store = self._new_store()

    def _new_store(self) -> _Store:
        """A store holding the tokens of several training comments, scored now rather than one
        comment at a time later."""
        store = _Store(self.weights.shape[1] + 1)
        common = getattr(self.vocabulary, "common_tokens_", [])
        store.add(common, self._score(common))
        store.n_common = len(common)
        return store

    def __getstate__(self) -> dict:
        return {"vocabulary": self.vocabulary, "weights": self.weights, "intercept": self.intercept}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["vocabulary"], state["weights"], state["intercept"])

    def logits(self, texts: list[str]) -> tuple[np.ndarray, CharacterTerms]:
        """Per comment, its character view's contribution to each category logit, with its tokens."""
        tokens: list[str] | TokenSpans
        if len(texts) > ONE_BY_ONE_UP_TO:
            tokens = TokenSpans.of(texts)
            comments = tokens.comments
            store, ids = self._span_ids(tokens)
        elif len(texts) == 1:
            tokens = tokens_of(texts[0])
            comments = np.zeros(len(tokens), dtype=np.int64)
            store, ids = self._ids(tokens)
        else:
            per_comment = [tokens_of(text) for text in texts]
            tokens = list(chain.from_iterable(per_comment))
            comments = np.repeat(np.arange(len(texts)), [len(t) for t in per_comment])
            store, ids = self._ids(tokens)
        rows = store.rows.take(ids, axis=0)
        logits, norms = normalised_sums(rows, comments, len(texts))
        return logits + self.intercept, CharacterTerms(comments, ids, rows, norms, tokens)

    def _ids(self, tokens: list[str]) -> tuple[_Store, np.ndarray]:
        """The store and the ids in it of these tokens, scoring those not met before."""
        store = self._store  # one read: a reset replaces the store, never changes it under a reader
        ids = np.fromiter(map(store.index.get, tokens, repeat(-1)), np.int64, len(tokens))
        if len(ids) and ids.min() < 0:
            store, ids = self._add(tokens, ids, store)
        return store, ids

    def _span_ids(self, spans: TokenSpans) -> tuple[_Store, np.ndarray]:
        """``_ids`` for a batch's token spans: found by hash, the unknown ones by their text."""
        store = self._store
        if len(store.hashes) < len(store.tokens):
            with self._lock:
                store.hash_new_tokens()
        ids = store.find(spans)
        unknown = np.flatnonzero(ids < 0)
        if len(unknown):
            added_to, ids[unknown] = self._ids([spans[i] for i in unknown.tolist()])
            if added_to is not store:  # the store started again meanwhile: look every token up in it
                return self._ids([spans[i] for i in range(len(spans))])
        return store, ids

    def _add(self, tokens: list[str], ids: np.ndarray, looked_up: _Store) -> tuple[_Store, np.ndarray]:
        """Score the tokens at the negative ``ids`` (looked up in ``looked_up``), keep them, and return
        the store with all ids (a store that started again takes every token of the batch)."""
        new = sorted({tokens[i] for i in np.flatnonzero(ids < 0).tolist()})
        scored = dict(zip(new, self._score(new)))
        with self._lock:
            store = self._store
            if len(store.index) - store.n_common + len(new) > KEPT_TOKENS:
                store = self._store = self._new_store()
            if store is looked_up:
                missing = [token for token in new if token not in store.index]
            else:
                missing = sorted(set(tokens).difference(store.index))
            unscored = [token for token in missing if token not in scored]
            if unscored:
                scored.update(zip(unscored, self._score(unscored)))
            store.add(missing, np.array([scored[token] for token in missing]).reshape(len(missing), store.rows.shape[1]))
            ids = np.fromiter(map(store.index.__getitem__, tokens), np.int64, len(tokens))
        return store, ids

    def _score(self, tokens: list[str]) -> np.ndarray:
        """Per token, its contribution to each logit and its squared norm."""
        return unit_scores(self.vocabulary.cells(tokens), self.weights, len(tokens))
