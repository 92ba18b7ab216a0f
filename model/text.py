"""Text normalisation, de-obfuscation, sentence splitting and tokenisation, shared by all features."""

from __future__ import annotations

import re
import string
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"
EXCEPTION = "!"  # a lexicon line starting so names a word its prefixes must not match
QUALIFIER = ":"  # joins a qualifier to a word ("nl:hoe", "phrase:pussy"): never part of a token
# Tokens are found with byte operations, not a regex: every byte but a-z, apostrophes, sentence ends
# and the batch separator becomes a space (a newline becomes NEWLINE, which is not whitespace), each
# break is padded with spaces, and the bytes are split on whitespace. A word is a run of letters and
# of apostrophes between letters ("don't", "rock'n'roll"). After NFKC "…" is "...".
# Non-ASCII text first has every character that is not a letter, mark or digit (emoji, dashes,
# quotes) turned into a space, so that the bytes >= 0x80 left are parts of words in any script;
# Chinese and Japanese characters, written without spaces, become one word each.
NEWLINE = b"\x01"
_TOKEN_BYTES = b"abcdefghijklmnopqrstuvwxyz'.!?\x00"
TOKEN_TABLE = bytes(c if c in _TOKEN_BYTES or c >= 0x80 else c + 32 if 65 <= c <= 90 else
                    NEWLINE[0] if c == 10 else 32 for c in range(256))  # ASCII lower-cased here
SENTENCE_TABLE = TOKEN_TABLE.translate(bytes.maketrans(b"!?" + NEWLINE + b"\x00", b"...."))  # breaks made "."
UNSPACED_SCRIPTS = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
SENTENCE_ENDS = {ord("。"): ".", ord("।"): ".", ord("؟"): "?", ord("¿"): " ", ord("¡"): " "}
BREAK_TOKENS = (b".", b"!", b"?", NEWLINE, b"\x00")
# Clauses: a sentence's words split again after a comma, semicolon or colon and before "and" or "but",
# so that one call ("shoot him in the head") is scored apart from a harmless clause beside it.
CLAUSE_MARKS = b",;:"
CLAUSE_WORDS = frozenset({"and", "but"})
_CLAUSE_MARK = b"\x02"
CLAUSE_TABLE = bytes(_CLAUSE_MARK[0] if c in CLAUSE_MARKS else b for c, b in enumerate(SENTENCE_TABLE))
# Words are found in the word table by a hash of their bytes (``span_hashes``): an odd base, so that it
# has an inverse modulo 2**64.
HASH_BASE = 0x100000001B3
_HASH_INVERSE = pow(HASH_BASE, -1, 1 << 64)
_HASH_POWERS = (np.zeros(0, dtype=np.uint64),) * 2  # one tuple, so threads never see half an update
MAX_HASHED_BYTES = 64  # longer words are looked up by their bytes: long made-up strings can collide
HASH_SLICE = 1 << 18  # bytes of spans hashed at a time
LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # half a UTF-16 pair: a str and escaped JSON hold it, UTF-8 cannot
LONE_APOSTROPHE = re.compile(rb"'(?:(?![a-z])|(?<![a-z]'))")  # not between two letters
# Where obfuscation may start: a masking symbol, or digits or '!' between letters. The pattern starts
# with a character set so that the regex engine scans for it quickly.
SUSPECT = re.compile(r"[*$@0-9!](?:(?<=[*$@])|(?<=[a-zA-Z][0-9!])[0-9!]*[a-zA-Z])")
# A token mixing letters with digits or masking symbols: "f*ck", "id10t", "a$$hole", "b!tch".
OBFUSCATED = re.compile(r"(?<![\w*$@!])(?=[\w*$@!]*[a-z])(?=[\w*$@!]*[*$@!0-9])"
                        r"[a-z0-9*$][a-z0-9*$@!]*[a-z0-9*$](?![\w*$@])")
ORDINAL = re.compile(r"\d+(st|nd|rd|th|s)$")
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s",
                      "!": "i"})
CONTROL = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f]")
# The characters comments use most whose NFKC form is ASCII, with that form: NFKC decomposes a
# character to its form before composing, so replacing them first changes nothing in the result.
NFKC_ASCII = (("，", ","), ("？", "?"), ("！", "!"), ("：", ":"), ("…", "..."))
TYPOGRAPHIC_QUOTES = "“”„«»"  # made '"' by normalising: quotation marks of any language
RUN = re.compile(r"[\w*$@!]*")  # the characters an obfuscated token's run is made of (``_in_run``)
# Joins the texts of a batch so that one pass of each string operation serves them all.
SEPARATOR = "\x00"


class _WordCharacters(dict):
    """A ``str.translate`` table, filled as characters are met: letters, marks and digits are kept
    (those of unspaced scripts padded with spaces), anything else becomes a space. At most
    ``MAX_REMEMBERED`` characters are remembered, so text made to span all of Unicode cannot grow it."""

    MAX_REMEMBERED = 1 << 16

    def __missing__(self, code: int) -> int | str:
        if code in SENTENCE_ENDS:
            value: int | str = SENTENCE_ENDS[code]
        elif unicodedata.category(chr(code))[0] not in "LMN":
            value = 32
        elif any(low <= code <= high for low, high in UNSPACED_SCRIPTS):
            value = f" {chr(code)} "
        else:
            value = code
        if len(self) < self.MAX_REMEMBERED:
            self[code] = value
        return value


WORD_CHARACTERS = _WordCharacters()


class _NonAsciiWordCharacters(dict):
    """``WORD_CHARACTERS`` for non-ASCII code points, ASCII ones kept: a ``str.translate`` table that
    does what ``_words_only`` does, faster on a short text than its array passes."""

    def __missing__(self, code: int) -> int | str:
        value = code if code < 0x80 else WORD_CHARACTERS[code]
        if len(self) < _WordCharacters.MAX_REMEMBERED:
            self[code] = value
        return value


NON_ASCII_WORD_CHARACTERS = _NonAsciiWordCharacters()
SHORT_TEXT = 1000  # characters up to which text is scanned by ``str.translate`` and regexes, not arrays
# What ``CONTROL`` and ``SUSPECT`` look for, by code point (every code point from 128 on is none of it).
CONTROL_CLASS, MASK_CLASS, DIGIT_CLASS, LETTER_CLASS = 1, 2, 3, 4
_ASCII_CLASSES = np.zeros(256, dtype=np.uint8)
_ASCII_CLASSES[[*range(1, 9), 11, 12, *range(14, 32)]] = CONTROL_CLASS
_ASCII_CLASSES[list(b"*$@")] = MASK_CLASS
_ASCII_CLASSES[list(b"0123456789!")] = DIGIT_CLASS
_ASCII_CLASSES[list(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")] = LETTER_CLASS
# What WORD_CHARACTERS does to a code point, for whole-batch array work: each kind's replacement as up
# to three code points (0: unused; a kept character, and the middle of a padded one, is the character).
KEEP, SPACE, PAD, PERIOD, QUESTION = 1, 2, 3, 4, 5
_REPLACEMENTS = np.array([[0, 0, 0], [0, 0, 0], [32, 0, 0], [32, 0, 32], [46, 0, 0], [63, 0, 0]],
                         dtype=np.uint32)
_REPLACEMENT_LENGTHS = np.array([0, 1, 1, 3, 1, 1])  # how many code points each kind becomes
_KINDS = np.zeros(0x110000, dtype=np.uint8)  # kind of each code point, filled as they are met


def _lexicon_lines(name: str) -> list[tuple[str, str | None]]:
    """Each line of a lexicon file in ``model/lexicons``, stripped, with its entry NFKC-normalised as
    comments are ("ㅅㅂ" -> "ᄉᄇ"), or None for a comment or blank line."""
    lines = (LEXICON_DIR / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    return [(stripped, unicodedata.normalize("NFKC", stripped) if stripped and not line.startswith("#") else None)
            for line, stripped in zip(lines, map(str.strip, lines))]


def _lexicon_entries(name: str) -> tuple[frozenset[str], frozenset[str]]:
    """Terms and exceptions (the lines starting with ``!``, without it) of a lexicon file, from one read."""
    entries = [entry for _, entry in _lexicon_lines(name) if entry is not None]
    return (frozenset(e for e in entries if not e.startswith(EXCEPTION)),
            frozenset(e[1:] for e in entries if e.startswith(EXCEPTION)))


def lexicon_runs(name: str) -> list[tuple[list[str], list[str]]]:
    """The runs of a lexicon file: for each run of entries between comment lines, the comment lines
    above it and its whole words in file order (prefixes and exceptions left out)."""
    runs: list[tuple[list[str], list[str]]] = []
    comments: list[str] = []
    in_run = False
    for line, entry in _lexicon_lines(name):
        if entry is None:
            if in_run:  # a run ended: the comment lines that follow head the next
                comments, in_run = [], False
            comments.append(line)
            continue
        if not in_run:
            runs.append((comments, []))
            in_run = True
        if not entry.startswith(EXCEPTION) and not entry.endswith("*"):
            runs[-1][1].append(entry)
    return runs


def qualified(word: str, qualifier: str) -> str:
    """The feature name of a word read as another by its context: a homograph in a comment of its
    language ("nl:hoe", ``model.languages``), a crude word inside a fixed phrase ("phrase:pussy",
    ``model.phrases``)."""
    return f"{qualifier}{QUALIFIER}{word}"


def read_lexicon(name: str) -> frozenset[str]:
    """Terms of a lexicon file (its exceptions left out)."""
    return _lexicon_entries(name)[0]


def read_exceptions(name: str) -> frozenset[str]:
    """Exceptions of a lexicon file: words (or prefixes, ending in ``*``) its prefixes must not match."""
    return _lexicon_entries(name)[1]


def _words_and_prefixes(entries: frozenset[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Whole words, and prefixes (entries ending in ``*``, without it), of lexicon entries."""
    return (frozenset(e for e in entries if not e.endswith("*")),
            tuple(sorted(e[:-1] for e in entries if e.endswith("*"))))


class Lexicon:
    """Whole words plus prefixes (entries ending in ``*``) of a lexicon file, less the words its
    exceptions (``!cockroach*``, ``!fuku*``) take back from the prefixes (with or without "'s")."""

    def __init__(self, name: str) -> None:
        terms, exceptions = _lexicon_entries(name)
        self.words, self.prefixes = _words_and_prefixes(terms)
        self.excepted_words, self.excepted_prefixes = _words_and_prefixes(exceptions)

    def __contains__(self, token: str) -> bool:
        if token in self.words:
            return True
        if not token.startswith(self.prefixes):
            return False
        word = token.removesuffix("'s")  # "cockburn's" is excepted as "cockburn" is
        return word not in self.excepted_words and not word.startswith(self.excepted_prefixes)


@lru_cache(maxsize=1)
def _masked_lookup() -> dict[tuple[int, str, str], list[str]]:
    """Profane and insulting words indexed by (length, first letter, last letter) for masked tokens."""
    lookup: dict[tuple[int, str, str], list[str]] = {}
    words = read_lexicon("profanity") | read_lexicon("insults")
    for word in sorted(w for w in words if "*" not in w):
        lookup.setdefault((len(word), word[0], word[-1]), []).append(word)
    return lookup


def deobfuscate_token(token: str) -> str:
    """Undo leetspeak and masking in one token: 'f*ck' -> 'fuck', 'id10t' -> 'idiot'."""
    if "*" in token:
        pattern = re.compile(re.escape(token).replace(r"\*", "[a-z]") + "$")
        for word in _masked_lookup().get((len(token), token[0], token[-1]), []):
            if pattern.match(word):
                return word
        token = token.replace("*", "")
    if token.isdigit() or ORDINAL.match(token):
        return token
    return token.translate(LEET)


# Abbreviations written with full stops, so that their stops end no sentence and their letters read
# as the word they spell: a dotted acronym becomes its letters ("D.P.R.K." is "DPRK", "U.S." is "US",
# as both are also written) and a capital initial its letter ("R. Kelly", "George W. Bush"); a stop
# before a word that opens sentences, or at the line's end, is kept ("... in the U.S. The article").
# Left as breaks, the lone letters were sentences of their own, and the "u" of "U.S." read as "you".
ABBREVIATION = re.compile(r"(?<![A-Za-z0-9'])((?:[A-Za-z]\.){2,}|[A-Z]\.)(?:(?=[ \t]*([A-Za-z]+)))?")
SENTENCE_OPENERS = frozenset({
    "The", "This", "That", "These", "Those", "It", "Its", "You", "Your", "He", "His", "She", "Her",
    "They", "Their", "We", "Our", "I", "My", "But", "And", "So", "Or", "What", "Why", "How",
    "When", "Where", "Who", "If", "Is", "Are", "Was", "Were", "Do", "Does", "Did", "Not", "No",
    "Yes", "Also", "Then", "There", "Here",
})
ASCII_LETTERS = frozenset(string.ascii_letters)
ASCII_WORD_CHARACTERS = ASCII_LETTERS | frozenset(string.digits + "'")


def _abbreviation_as_word(match: re.Match) -> str:
    """An abbreviation without its full stops (its last kept before a sentence opener or at the
    line's end): a dotted acronym's letters joined, an initial followed by a space."""
    abbreviation, following = match.group(1), match.group(2)
    word = abbreviation.replace(".", "")
    if following is None or following in SENTENCE_OPENERS:
        return word + "."
    return word if len(word) > 1 else word + " "


def _is_ascii_letter(codes: np.ndarray) -> np.ndarray:
    """Which bytes are ASCII letters."""
    lower = codes | 32
    return (lower >= 97) & (lower <= 122)


def _abbreviations_as_words(joined: str) -> str:
    """``ABBREVIATION`` applied to each text of ``joined`` that may hold one: a regex scan of every
    text would take a batch longer than the rest of its normalising."""
    found = _texts_with_lone_letter_stops(joined)
    if not found:
        return joined
    texts = joined.split(SEPARATOR)
    for index in found:
        texts[index] = ABBREVIATION.sub(_abbreviation_as_word, texts[index])
    return SEPARATOR.join(texts)


def _texts_with_lone_letter_stops(joined: str) -> set[int]:
    """Which texts of ``joined`` may hold an ``ABBREVIATION``: those with a full stop after an ASCII
    letter that follows no ASCII letter, digit or apostrophe (in string pieces, for a short text), or,
    with arrays over a batch's bytes, those of such stops ``ABBREVIATION`` can begin at."""
    if len(joined) > SHORT_TEXT:
        data = np.frombuffer(joined.encode("utf-8", "surrogatepass") + b"  ", dtype=np.uint8)  # room after
        stops = np.flatnonzero(data[1:] == 46) + 1
        before, after = data[stops - 1], data[stops + 1] | 32  # | 32: ASCII letters as lower case
        two_before = np.where(stops > 1, data[np.maximum(stops - 2, 0)], 32)
        is_digit = (two_before >= 48) & (two_before <= 57)
        in_word = _is_ascii_letter(two_before) | is_digit | (two_before == 39)
        # what ABBREVIATION can match: a capital's stop, or a letter's before another letter and stop
        starts = (before >= 65) & (before <= 90) | (_is_ascii_letter(after) & (data[stops + 2] == 46))
        stops = stops[_is_ascii_letter(before) & ~in_word & starts]
        return set(np.searchsorted(np.flatnonzero(data == 0), stops).tolist())
    return {index for index, text in enumerate(joined.split(SEPARATOR)) if _has_lone_letter_stop(text)}


def _has_lone_letter_stop(text: str) -> bool:
    """Whether ``text`` has a full stop after an ASCII letter that follows no ASCII letter, digit or apostrophe."""
    return any(piece[-1:] in ASCII_LETTERS and piece[-2:-1] not in ASCII_WORD_CHARACTERS
               for piece in text.split(".")[:-1])


def normalise(text: str) -> str:
    """NFKC-normalised text with control characters removed and obfuscation undone (lower-cased
    but for ASCII letters, which tokenising lower-cases through ``TOKEN_TABLE``)."""
    return normalise_joined([text])


def normalise_joined(texts: list[str]) -> str:
    """The normalised texts joined by ``SEPARATOR``, each normalised as if on its own. ASCII letters
    outside obfuscated words keep their case: tokenising lower-cases them, a byte at a time."""
    joined = SEPARATOR.join(texts)
    if joined.count(SEPARATOR) != len(texts) - 1:
        joined = SEPARATOR.join(text.replace(SEPARATOR, "") for text in texts)
    if not joined.isascii():
        parts = joined.split(SEPARATOR)
        foreign = [i for i, part in enumerate(parts) if not part.isascii()]
        for i, part in zip(foreign, _normalise_non_ascii([parts[i] for i in foreign])):
            parts[i] = part
        joined = SEPARATOR.join(parts)
    if len(joined) <= SHORT_TEXT:
        if CONTROL.search(joined):
            joined = CONTROL.sub("", joined)
        suspects = [match.start() for match in SUSPECT.finditer(joined)]
    else:
        joined, suspects = _without_controls_with_suspects(joined)
    joined = _deobfuscate_around(joined, suspects) if suspects else joined
    return _abbreviations_as_words(joined) if "." in joined else joined


def _normalise_non_ascii(texts: list[str]) -> list[str]:
    """Each text with NFKC, typographic apostrophes and quotation marks made plain, every character
    but letters, marks and digits made a space (``WORD_CHARACTERS``), and lower case (control
    characters stay, for the caller to remove). NFKC runs per text (it returns an already normal text
    at once); the rest runs once over them all."""
    joined = SEPARATOR.join([nfkc(text) for text in texts]).replace("’", "'").replace("‘", "'")
    for quote in TYPOGRAPHIC_QUOTES:  # one mark, so that quotations can be found (model.cues)
        joined = joined.replace(quote, '"')
    joined = joined.replace("İ", "I")  # Turkish capital İ lower-cases to "i" plus a combining dot
    return _words_only(joined).lower().split(SEPARATOR)


def nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, faster where Chinese punctuation made it slow: those
    characters (``NFKC_ASCII``) become their NFKC forms first, and a text left with no other
    character to change passes NFKC's quick check instead of going through the full normalisation."""
    if unicodedata.is_normalized("NFKC", text):
        return text
    for character, ascii_form in NFKC_ASCII:
        text = text.replace(character, ascii_form)
    return unicodedata.normalize("NFKC", text)


def _without_controls_with_suspects(text: str) -> tuple[str, list[int]]:
    """``text`` without ``CONTROL`` characters, and where ``SUSPECT`` matches in it, found by array
    passes over its code points' classes: cheaper than the two regex scans on a batch's text."""
    classes = _character_classes(text)
    if (classes == CONTROL_CLASS).any():
        text = CONTROL.sub("", text)
        classes = _character_classes(text)
    digits, letters = classes == DIGIT_CLASS, classes == LETTER_CLASS
    after_letter = np.flatnonzero(digits[1:] & letters[:-1]) + 1  # a digit or '!' right after a letter
    if len(after_letter):  # ... then more of them, then a letter
        run_ends = np.append(np.flatnonzero(digits[1:] != digits[:-1]) + 1, len(text))
        ends = run_ends[np.searchsorted(run_ends, after_letter, "right")]
        followed = ends < len(text)
        after_letter = after_letter[followed][letters[ends[followed]]]
    return text, np.union1d(np.flatnonzero(classes == MASK_CLASS), after_letter).tolist()


def _character_classes(text: str) -> np.ndarray:
    """The class of each code point of ``text`` (``CONTROL_CLASS`` ... ``LETTER_CLASS``, 0 for others)."""
    if text.isascii():
        return _ASCII_CLASSES.take(np.frombuffer(text.encode("ascii"), dtype=np.uint8))
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return _ASCII_CLASSES.take(np.minimum(points, 128).astype(np.intp))


def _words_only(text: str) -> str:
    """The text with ``WORD_CHARACTERS`` applied to its non-ASCII characters, as code point arrays
    (only characters that are not kept as they are get replaced)."""
    if len(text) <= SHORT_TEXT:
        return text.translate(NON_ASCII_WORD_CHARACTERS)
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    wide = np.flatnonzero(points >= 0x80)
    kinds = _character_kinds(points[wide])
    changed = kinds != KEEP
    if not changed.any():
        return text
    wide, kinds = wide[changed], kinds[changed]
    replacement = _REPLACEMENTS[kinds]  # three code points per character, 0 where unused
    padded = kinds == PAD
    if not padded.any():  # every replacement is one code point: replace in place
        out = points.copy()
        out[wide] = replacement[:, 0]
    else:
        replacement[padded, 1] = points[wide[padded]]
        lengths = np.ones(len(points), dtype=np.int64)
        lengths[wide] = _REPLACEMENT_LENGTHS[kinds]
        out = np.repeat(points, lengths)
        starts = (np.cumsum(lengths) - lengths)[wide]
        for k in range(3):
            used = replacement[:, k] > 0
            out[starts[used] + k] = replacement[used, k]
    return out.astype("<u4", copy=False).tobytes().decode("utf-32-le", "surrogatepass")


def _character_kinds(points: np.ndarray) -> np.ndarray:
    """What ``WORD_CHARACTERS`` does to each code point: keep it, make it a space, pad it with spaces,
    or make it a full stop or a question mark."""
    kinds = _KINDS[points]
    unknown = np.unique(points[kinds == 0]).tolist()
    for point in unknown:
        value = WORD_CHARACTERS[point]
        _KINDS[point] = (KEEP if value == point else SPACE if value in (32, " ") else
                         PERIOD if value == "." else QUESTION if value == "?" else PAD)
    return _KINDS[points] if unknown else kinds


def _deobfuscate_around(text: str, positions: list[int]) -> str:
    """The text with the obfuscated tokens in the runs of word characters and masking symbols
    around the given positions undone."""
    pieces, done = [], 0
    for position in positions:
        if position < done:
            continue
        start = position
        while start > 0 and _in_run(text[start - 1]):
            start -= 1
        end = RUN.match(text, position).end()
        pieces += [text[done:start], OBFUSCATED.sub(_undo_match, text[start:end].lower())]
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _in_run(character: str) -> bool:
    """Whether a character can be part of an obfuscated token's run (regex [\\w*$@!])."""
    return character.isalnum() or character in "_*$@!"


def _undo_match(match: re.Match) -> str:
    return deobfuscate_token(match.group())


def token_spans(normalised_text: str) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A normalised text's bytes through ``TOKEN_TABLE``, with the start and end of each of its tokens
    (words, and the sentence breaks ``BREAK_TOKENS`` as tokens of their own; see the comment above
    ``TOKEN_TABLE``), found with array operations instead of Python objects."""
    data = normalised_text.encode("utf-8", "surrogatepass").translate(TOKEN_TABLE)
    codes = np.frombuffer(data, dtype=np.uint8)
    in_word = (codes >= 97) | (codes == 39)  # after TOKEN_TABLE: a-z, bytes >= 0x80, apostrophes
    apostrophes = np.flatnonzero(codes == 39)
    if len(apostrophes):
        letters = np.zeros(len(codes) + 2, dtype=bool)  # padded by one byte either side
        letters[1:-1] = (codes - 97) < 26
        in_word[apostrophes[~(letters[apostrophes] & letters[apostrophes + 2])]] = False
    edges = np.diff(in_word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    is_break = (codes < 97) & (codes != 32) & (codes != 39)  # . ! ? NEWLINE SEPARATOR
    starts = np.flatnonzero((edges[:-1] == 1) | is_break)
    ends = starts + 1
    ends[~is_break[starts]] = np.flatnonzero(edges == -1)
    return data, starts, ends


def span_hashes(data: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A 63-bit polynomial hash of the bytes of each span (spans not overlapping, in order), as
    non-negative int64: the same bytes give the same hash wherever they are. A span longer than
    ``MAX_HASHED_BYTES`` is hashed by its first ``MAX_HASHED_BYTES + 1`` bytes only: look such spans
    up by their bytes."""
    ends = np.minimum(ends, starts + MAX_HASHED_BYTES + 1)
    hashes = np.empty(len(starts), dtype=np.int64)
    bounds = np.searchsorted(starts, np.arange(0, len(data) + HASH_SLICE, HASH_SLICE))
    for first, last in zip(bounds[:-1].tolist(), bounds[1:].tolist()):  # bounded memory per slice
        if first < last:
            hashes[first:last] = _slice_hashes(data, starts[first:last], ends[first:last])
    return hashes


def _slice_hashes(data: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``span_hashes`` of spans lying between the first start and the last end."""
    low, high = int(starts[0]), int(ends[-1])
    powers, inverses = _hash_powers_and_inverses(high - low + 1)
    prefix = np.zeros(high - low + 1, dtype=np.uint64)
    np.cumsum(np.frombuffer(data, dtype=np.uint8, count=high - low, offset=low) * powers[:high - low],
              out=prefix[1:])
    hashes = (prefix[ends - low] - prefix[starts - low]) * inverses[starts - low]  # wraps mod 2**64
    return (hashes & np.uint64((1 << 63) - 1)).view(np.int64)


def hash_powers(n: int) -> np.ndarray:
    """HASH_BASE ** i modulo 2**64 for i < n (at least), as uint64."""
    return _hash_powers_and_inverses(n)[0]


def _hash_powers_and_inverses(n: int) -> tuple[np.ndarray, np.ndarray]:
    """HASH_BASE ** i and its inverse ** i modulo 2**64 for i < n (at least), kept between calls."""
    global _HASH_POWERS
    powers = _HASH_POWERS
    if len(powers[0]) < n:
        size = max(n, 2 * len(powers[0]))
        powers = tuple(np.concatenate([[np.uint64(1)], np.cumprod(np.full(size - 1, base, dtype=np.uint64))])
                       for base in (HASH_BASE, _HASH_INVERSE))
        _HASH_POWERS = powers
    return powers


def clause_mark_positions(normalised_text: str) -> np.ndarray:
    """Byte offsets of the clause marks (``CLAUSE_MARKS``) in a normalised text's UTF-8 bytes."""
    codes = np.frombuffer(normalised_text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    return np.flatnonzero((codes == 44) | (codes == 59) | (codes == 58))


def clause_starts(normalised_text: str) -> list[list[int]]:
    """For each sentence ``sentence_words`` gives, the positions of its words that begin a clause
    after a clause mark (its first word aside)."""
    data = normalised_text.encode("utf-8", "surrogatepass").translate(CLAUSE_TABLE)
    if b"'" in data:
        data = LONE_APOSTROPHE.sub(b" ", data)
    data = data.replace(_CLAUSE_MARK, b" " + _CLAUSE_MARK + b" ")
    starts = []
    for sentence in data.split(b"."):
        positions, n, marked = [], 0, False
        for token in sentence.split():
            if token == _CLAUSE_MARK:
                marked = True
                continue
            if marked and n:
                positions.append(n)
            marked, n = False, n + 1
        if n:
            starts.append(positions)
    return starts


def sentence_words(normalised_text: str) -> list[list[str]]:
    """The words of each sentence of a normalised text (sentences end at . ! ? … or a newline): the
    words ``token_spans`` finds, split at its breaks, with every break made a full stop first."""
    data = normalised_text.encode("utf-8", "surrogatepass").translate(SENTENCE_TABLE)
    if b"'" in data:
        data = LONE_APOSTROPHE.sub(b" ", data)
    sentences = []
    for sentence in data.split(b"."):
        words = sentence.split()
        if words:
            sentences.append([word.decode("utf-8") for word in words])
    return sentences
