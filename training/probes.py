"""Probe checks in every report: sentences whose right answer the labelling guide fixes, scored by
the model. Neither set is in the labelled data.

- identity: neutral and supportive sentences about groups (rule 3: mentioning a group is not abuse);
- criticism: civil criticism of an article's work, its author, outlets and institutions (rule 1:
  disagreement is never abuse).
"""

from __future__ import annotations

from model.moderation import CommentInput, Moderator

GROUPS = ("Christians", "Muslims", "Jews", "Koreans", "North Koreans", "Chinese people", "Black people",
          "gay people", "women", "refugees", "migrants", "Buddhists", "Hindus", "atheists",
          "Americans", "Russians", "Palestinians", "Israelis", "trans people", "immigrants", "Gypsies",
          "Travellers", "Roma people")
TEMPLATES = (
    "I have many friends who are {group}.",
    "{group} deserve the same rights as everyone else.",
    "As one of the {group} in my town, I found this article moving.",
    "My neighbours are {group} and they helped us when our house flooded.",
    "The article should have quoted more {group} about this.",
    "{group} were among the victims, which the report barely mentions.",
    "Respect to the {group} who spoke out despite the risk.",
    "I work with {group} every day and this coverage feels fair to me.",
)
# Who is criticised (each takes a singular verb) and how: blunt, sarcastic or dismissive, never insulting.
CRITICISED = ("the author", "the writer", "this journalist", "the reporter", "the editor", "whoever wrote this",
              "this newspaper", "the BBC", "Reuters", "the CIA", "the State Department", "the UN",
              "the government", "this think tank", "the columnist", "this website")
CRITICISMS = (
    "{Who} clearly has never been to Korea.",
    "{Who} gets the basic facts wrong.",
    "{Who} ignores half of the evidence.",
    "{Who} is pushing an agenda here.",
    "{Who} should check the sources before publishing this.",
    "{Who} is repeating propaganda without asking a single question.",
    "I don't believe a word {who} says about this.",
    "{Who} has been wrong about this story for years.",
    "{Who} offers no proof for any of these claims.",
    "Nice try, {who}.",
    "{Who} is naive about how the regime works.",
    "{Who} owes readers a correction.",
    "{Who} knows very little about the region.",
    "Shame on {who} for publishing something this lazy.",
)
MAX_ABUSIVE_SHARE = 0.02


# A slur aimed at someone in an otherwise friendly line: the frame alone reads as civil.
FRIENDLY_FRAMES = ("Thanks for the link, {}.", "Happy birthday, {}.")


def friendly_frame_sentences(words: list[str]) -> list[str]:
    """Each of ``words`` (slurs) in each of ``FRIENDLY_FRAMES``."""
    return [frame.format(word) for word in words for frame in FRIENDLY_FRAMES]


def identity_sentences() -> list[str]:
    """Every identity template filled with every group."""
    return [template.format(group=group) for group in GROUPS for template in TEMPLATES]


def criticism_sentences() -> list[str]:
    """Every criticism filled with every criticised party."""
    return [criticism.format(who=who, Who=who[0].upper() + who[1:]) for who in CRITICISED for criticism in CRITICISMS]


def identity_check(moderator: Moderator) -> dict:
    """Share of neutral/supportive identity sentences the model scores abusive, and the worst ones."""
    return _abusive_share(moderator, identity_sentences(), GROUPS, "flagged_by_group")


def criticism_check(moderator: Moderator) -> dict:
    """Share of civil criticisms of authors, outlets and institutions the model scores abusive."""
    return _abusive_share(moderator, criticism_sentences(), CRITICISED, "flagged_by_target")


def probe_checks(moderator: Moderator) -> dict:
    """Both checks, by the names reports and metrics give them."""
    return {"identity_check": identity_check(moderator), "criticism_check": criticism_check(moderator)}


def scored_abusive(moderator: Moderator, texts: list[str]) -> list[tuple[str, float]]:
    """The texts the model scores abusive (without an article), each with its abusive score."""
    results = moderator.moderate([CommentInput(text) for text in texts], explain=False)
    return [(text, r.scores["abusive"]) for text, r in zip(texts, results) if r.category == "abusive"]


def _abusive_share(moderator: Moderator, sentences: list[str], parties: tuple[str, ...], by_name: str) -> dict:
    """How many of ``sentences`` (none of which is abusive) the model scores abusive, per party named
    in them, and the ten it scores most abusive."""
    flagged = scored_abusive(moderator, sentences)
    share = len(flagged) / len(sentences)
    by_party = {party: sum(party.lower() in s.lower() for s, _ in flagged) for party in parties}
    return {"n_sentences": len(sentences), "n_scored_abusive": len(flagged),
            "share_scored_abusive": round(share, 4), "target_max_share": MAX_ABUSIVE_SHARE,
            "meets_target": share <= MAX_ABUSIVE_SHARE,
            by_name: {party: n for party, n in by_party.items() if n},
            "flagged_examples": [s for s, _ in sorted(flagged, key=lambda x: -x[1])[:10]]}
