"""Identity-term check: neutral and supportive sentences about groups must not score abusive."""

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
MAX_ABUSIVE_SHARE = 0.02


def identity_sentences() -> list[str]:
    """Every template filled with every group."""
    return [template.format(group=group) for group in GROUPS for template in TEMPLATES]


def identity_check(moderator: Moderator) -> dict:
    """Share of neutral/supportive identity sentences the model scores abusive, and the worst ones."""
    sentences = identity_sentences()
    results = moderator.moderate([CommentInput(s) for s in sentences], explain=False)
    flagged = [(s, r.scores["abusive"]) for s, r in zip(sentences, results) if r.category == "abusive"]
    share = len(flagged) / len(sentences)
    by_group = {group: sum(group in s for s, _ in flagged) for group in GROUPS}
    return {"n_sentences": len(sentences), "n_scored_abusive": len(flagged),
            "share_scored_abusive": round(share, 4), "target_max_share": MAX_ABUSIVE_SHARE,
            "meets_target": share <= MAX_ABUSIVE_SHARE,
            "flagged_by_group": {g: n for g, n in by_group.items() if n},
            "flagged_examples": [s for s, _ in sorted(flagged, key=lambda x: -x[1])[:10]]}
