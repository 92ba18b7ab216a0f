"""Words spelt like English words in other languages ("hoe" is Dutch for how, "die" a German
article, "negro" Spanish for black), told apart by the language of the comment they are in.

A comment's language is guessed from function words that English does not have ("und", "het",
"los", "não"): the language with the most of them, at least two and at least a tenth of the
comment's words. In such a comment that language's homographs become their own features ("nl:hoe",
"de:die"), so that a Dutch question does not teach the model that an English slur is harmless, and a
German article is not counted as a violent word.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from model.phrases import mark_phrases
from model.text import qualified

# Function words of each language that are not English words, used to recognise the language.
_MARKERS = {
    "de": "und der das nicht ist ein eine einen dem des zu mit auf sich auch es sie wir ihr ich "
          "sind wird werden wie nur noch aber oder wenn dass nach bei vom zum kein keine schon hier "
          "diese dieser dieses sehr ganz doch mal jetzt immer ihre unsere",
    "nl": "het een niet zijn ook maar wel voor naar ik jij wij zij dit deze geen nog heel "
          "alleen moet wordt worden hebben heeft daar omdat want mensen zou kunnen echt gewoon "
          "ze onze jullie waarom iets aan niks veel hier niemand",
    "es": "que los las del por para una pero como esto este esta eso muy porque también "
          "nos ellos todos está están tiene gobierno más qué cómo sólo mismo ese esa",
    "pt": "não uma os das dos pra para mas como isso isto esse essa muito porque também tem são "
          "você vocês ele eles nós mais nao voce ainda pelo pela com já aqui governo",
    "it": "che non per una della delle degli sono questo questa perché anche molto tutti gli nel "
          "nella dei hanno essere è cosa loro più del il anzi sempre governo ancora",
    "fr": "les des une est pas que qui dans pour avec sont mais cette ces leur leurs nous vous très "
          "aussi ça c'est n'est il elle ils au aux du sur le et ont fait être rien",
    "tr": "bir bu ve için çok daha gibi değil var yok onlar olan olarak kadar şey "
          "mı mi ile diye hiç bunu şu",
    "pl": "nie jest się że jak tak czy już tylko jego ich oni tym tego przez dla być bardzo może "
          "także który która które ",
    "hi": "hai hain nahi nahin kya ki ke ka ko se mein aur bhi yeh woh tha thi kuch sab "
          "tum aap toh bhai",
}
# Words of each language that are spelt like an English word with another meaning.
_HOMOGRAPHS = {
    "de": "die was will war also man hat rat gift kind arm mist dick hell bad fast bald rot dies abo jap schmuck "
          "munter",
    "nl": "hoe hun die was door arm kind mist bad dik hel douche douches breed rot hang hoes troon",
    "es": "con negro negros negra sin son mayor van red come pie once inferior deficiente prat",
    "pt": "negro negros negra come mas inferior deficiente",
    "it": "negro negri come con male sale dove ora",
    "fr": "con cons sale pour chat pain bite coin dont retard retards douche douches",
    "tr": "kim son ben on at her bakar berk",
    "pl": "ale pan co ten to",
    "hi": "main the par to log hum band bat mar",
}
LANGUAGES = tuple(_MARKERS)
MARKERS = {language: frozenset(words.split()) for language, words in _MARKERS.items()}
HOMOGRAPHS = {language: frozenset(words.split()) for language, words in _HOMOGRAPHS.items()}
MIN_MARKERS, MIN_MARKER_SHARE = 2, 0.1


def language_bits(word: str, lists: dict[str, frozenset[str]]) -> int:
    """Bit i set where ``word`` is in the list of language ``LANGUAGES[i]`` (``MARKERS`` or
    ``HOMOGRAPHS``)."""
    return sum(1 << i for i, language in enumerate(LANGUAGES) if word in lists[language])


# Each marker's and each homograph's language bits, looked up for every word met.
MARKER_BITS = {word: language_bits(word, MARKERS) for words in MARKERS.values() for word in words}
HOMOGRAPH_BITS = {word: language_bits(word, HOMOGRAPHS) for words in HOMOGRAPHS.values() for word in words}


def detect_language(words: list[str]) -> str | None:
    """The language the comment's words mark most (see the module docstring), or None."""
    hits = [bits for bits in map(MARKER_BITS.get, words) if bits]
    if len(hits) < MIN_MARKERS:
        return None
    counts = [sum(bits >> index & 1 for bits in hits) for index in range(len(LANGUAGES))]
    best_count = max(counts)
    if best_count >= MIN_MARKERS and best_count >= MIN_MARKER_SHARE * len(words):
        return LANGUAGES[counts.index(best_count)]  # the first of the languages marked most
    return None


def qualify_sentences(sentences: list[list[str]]) -> list[list[str]]:
    """A comment's sentences with the homographs of its language qualified ("hoe" → "nl:hoe"), then
    the crude words of fixed phrases ("phrase:pussy riot"; ``model.phrases``)."""
    language = detect_language([word for words in sentences for word in words])
    if language is not None:
        homographs = HOMOGRAPHS[language]
        sentences = [[qualified(w, language) if w in homographs else w for w in words] for words in sentences]
    return mark_phrases(sentences)


def languages_of_comments(comments: np.ndarray, markers: np.ndarray,
                          count_words: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The comments with a language and the index of each one's language, decided as
    ``detect_language`` does, from the comment and marker bits of every marker word of a batch;
    ``count_words`` gives the number of words of the comments asked about."""
    candidates, inverse = np.unique(comments, return_inverse=True)
    counts = np.zeros((len(candidates), len(LANGUAGES)), dtype=np.int64)
    for index in range(len(LANGUAGES)):
        hits = (markers >> index) & 1 > 0
        counts[:, index] = np.bincount(inverse[hits], minlength=len(candidates))
    best = counts.argmax(axis=1)
    best_count = counts[np.arange(len(candidates)), best]
    enough = best_count >= MIN_MARKERS
    candidates, best, best_count = candidates[enough], best[enough], best_count[enough]
    found = best_count >= MIN_MARKER_SHARE * count_words(candidates) if len(candidates) else enough[:0]
    return candidates[found], best[found]
