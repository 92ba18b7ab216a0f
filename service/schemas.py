"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

from model.text import LONE_SURROGATE

CommentId = StrictStr | StrictInt
MAX_ID_CHARS = 200  # the feedback store's id columns


def storable_id(value: str | int | None) -> str | int | None:
    """A comment id the feedback store can keep: 1 to 200 characters of valid Unicode without NUL (an
    integer's written out)."""
    if isinstance(value, int) and len(str(value)) > MAX_ID_CHARS:
        raise ValueError(f"must have at most {MAX_ID_CHARS} characters written out, got {len(str(value))}")
    if isinstance(value, str):
        if not value or len(value) > MAX_ID_CHARS:
            raise ValueError(f"must have 1 to {MAX_ID_CHARS} characters, got {len(value)}")
        if LONE_SURROGATE.search(value):
            raise ValueError("holds a lone surrogate (half of a UTF-16 pair), which is not valid Unicode")
        if "\x00" in value:
            raise ValueError("holds a NUL character, which the feedback database cannot keep")
    return value


class ArticleIn(BaseModel):
    """An article sent inline with a comment."""

    model_config = ConfigDict(extra="forbid")
    title: StrictStr = Field(min_length=1, max_length=1000)
    body: StrictStr = Field(min_length=1, max_length=200_000)


class CommentIn(BaseModel):
    """One comment to moderate; id and article are optional."""

    model_config = ConfigDict(extra="forbid")
    id: CommentId | None = None
    text: StrictStr
    article_id: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None
    article: ArticleIn | None = None

    _storable_id = field_validator("id")(storable_id)


class ModerateRequest(BaseModel):
    """A batch of comments (one or more)."""

    model_config = ConfigDict(extra="forbid")
    comments: list[CommentIn] = Field(min_length=1)
    queue: StrictBool = False  # "yes" or 1 is refused, not read as true


class Explanation(BaseModel):
    feature: str
    weight: float


class ModerationOut(BaseModel):
    """The model's verdict on one comment."""

    id: CommentId | None
    category: str
    scores: dict[str, float]
    stance: str | None
    stance_scores: dict[str, float] | None
    decision: str
    reasons: list[str]
    explanation: list[Explanation]


class ModerateResponse(BaseModel):
    model_version: str
    results: list[ModerationOut]
    queued: int | None = None


class FeedbackIn(BaseModel):
    """A moderator's decision on one comment."""

    model_config = ConfigDict(extra="forbid")
    comment_id: CommentId
    # a length-checked str refuses a lone surrogate; the upper limit is the service's max_comment_chars
    text: StrictStr = Field(min_length=1)
    article_id: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None
    category: Literal["substantive", "whataboutism", "abusive"]
    stance: Literal["supports", "disputes", "neutral"] | None = None
    moderator: StrictStr = Field(min_length=1, max_length=200)
    note: Annotated[StrictStr, Field(max_length=2000)] | None = None
    # the revision the moderator decided on (0: undecided): another decision stored since is a 409
    expected_revision: Annotated[StrictInt, Field(ge=0, le=2**62)] | None = None

    _storable_id = field_validator("comment_id")(storable_id)


class FeedbackOut(BaseModel):
    comment_id: str
    status: Literal["created", "updated", "unchanged"]
    revision: int


class ReviewLogin(BaseModel):
    """The API key typed into the review page's sign-in form."""

    model_config = ConfigDict(extra="forbid")
    key: StrictStr = Field(min_length=1, max_length=500)


class ArticleRegistration(BaseModel):
    """An article to register so later comments can refer to it by id."""

    model_config = ConfigDict(extra="forbid")
    id: StrictStr = Field(min_length=1, max_length=200)
    title: StrictStr = Field(min_length=1, max_length=1000)
    body: StrictStr = Field(min_length=1, max_length=200_000)


class ErrorBody(BaseModel):
    """Every 4xx answer: what is wrong, and where."""

    error: str
    detail: list[dict] = []
