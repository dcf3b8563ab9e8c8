"""The request and response models: the CONTRACT's objects, with its limits in the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from askidcpc.config import DEFAULT_TOP_K, MAX_HISTORY, MAX_QUESTION_CHARS, MAX_TOP_K
from askidcpc.types import MAX_FILTER_CHARS, MAX_FILTER_VALUES

# A character str.strip() would not remove (every character but those with str.isspace()), as a regular
# expression that Python and ECMAScript read alike; tests check it against str.isspace() over all of Unicode.
NOT_ONLY_WHITE_SPACE = r"[^\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def trim(value: object) -> object:
    # The question's limits apply after trimming, as in askidcpc.pipeline.validate_request.
    return value.strip() if isinstance(value, str) else value


def _integral(value: object) -> object:
    # JSON Schema counts 4.0 as an integer (the schema says "integer"), so accept it as 4; 2.5, "3" and true are not.
    return int(value) if isinstance(value, float) and value.is_integer() else value


# A filter's documents or sources: one string or a list of them (checked again, with the dates, by Filter.build).
# Published, not checked here (Filter.build refuses a blank value with its own message): not only white space.
_FILTER_TEXT = {"pattern": NOT_ONLY_WHITE_SPACE}
# The same for GET /search's repeatable doc_id and source query parameters.
FILTER_ITEMS: dict[str, Any] = {"items": {"type": "string", **_FILTER_TEXT}}
FilterValues = Annotated[
    Annotated[str, Field(json_schema_extra=_FILTER_TEXT)]
    | Annotated[
        list[Annotated[str, Field(strict=True, json_schema_extra=_FILTER_TEXT)]], Field(max_length=MAX_FILTER_VALUES)
    ]
    | None,
    Field(description=f"each at most {MAX_FILTER_CHARS} characters"),
]
# ISO 8601 as exact as wanted, month 01-12 and day 01-31; published and checked here, the date itself (2016-02-30)
# by Filter.build.
ISO_DATE = r"^\s*\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?\s*$"
FilterDate = Annotated[str | None, Field(pattern=ISO_DATE, examples=["2016", "2016-06", "2016-06-26"])]


class AskRequest(BaseModel):
    """A question, optionally with the conversation's earlier questions for follow-ups."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "question": "And what job did he have before?",
                    "top_k": DEFAULT_TOP_K,
                    "history": ["Who heads the CPC International Department?"],
                }
            ]
        },
    )

    question: Annotated[
        str,
        BeforeValidator(trim),
        Field(
            min_length=1,
            max_length=MAX_QUESTION_CHARS,
            strict=True,
            description=f"the question, 1 to {MAX_QUESTION_CHARS:,} characters after trimming",
            # Published, not checked here (trimming, then min_length, is the check): not only white space.
            json_schema_extra={"pattern": NOT_ONLY_WHITE_SPACE},
        ),
    ]
    top_k: Annotated[
        int,
        Field(ge=1, le=MAX_TOP_K, strict=True, description="citations to return at most"),
        BeforeValidator(_integral),  # after Field: it wraps the checks, so runs first
    ] = DEFAULT_TOP_K
    history: Annotated[
        list[Annotated[str, Field(max_length=MAX_QUESTION_CHARS, strict=True)]],
        Field(max_length=MAX_HISTORY, description="earlier questions of the same conversation, oldest first"),
    ] = []
    doc_id: FilterValues = Field(default=None, description="cite only this document, or these (a filter)")
    source: FilterValues = Field(default=None, description="cite only documents of this source or these (any case)")
    since: FilterDate = Field(default=None, description="cite only documents dated on or after this ISO date")
    until: FilterDate = Field(default=None, description="cite only documents dated on or before this ISO date")


class CitationModel(BaseModel):
    doc_id: str
    title: str
    date: str | None
    source: str | None
    sentence: str = Field(description="exactly text[start:end] of the document")
    start: int
    end: int
    score: float


class ShortAnswerModel(BaseModel):
    text: str = Field(description="exactly text[start:end] of the document, inside the first citation's sentence")
    doc_id: str
    start: int
    end: int


class AnswerModel(BaseModel):
    question: str = Field(description="the question, trimmed")
    answer: str | None = Field(description="corpus sentences, verbatim; null when the articles do not answer it")
    confidence: float = Field(ge=0.0, le=1.0)
    citations: list[CitationModel] = Field(description="best first; the nearest sentences when answer is null")
    short_answer: ShortAnswerModel | None = Field(
        default=None,
        description="the phrase of the first answer sentence that answers the question; null when none can be "
        "singled out or answer is null",
    )
    read_as: str | None = Field(
        default=None,
        description="the question as it was read, when a mistyped word was read as the word of the articles it most "
        "likely means; null when it was read as asked",
    )


class SearchModel(BaseModel):
    query: str = Field(description="the words searched for, trimmed")
    results: list[CitationModel] = Field(
        description="the best matching sentences, best first; score: the retriever's ranking score (not a probability)"
    )


class HealthModel(BaseModel):
    status: str
    documents: int
    passages: int


class DocumentModel(BaseModel):
    doc_id: str
    title: str
    date: str | None
    source: str | None
    author: str | None
    url: str | None
    chars: int


class DocumentTextModel(DocumentModel):
    text: str


class ContextModel(BaseModel):
    doc_id: str
    start: int
    end: int
    before: str = Field(description="the sentences before, exactly as in the document's text")
    sentence: str
    after: str = Field(description="the sentences after, exactly as in the document's text")


class ErrorModel(BaseModel):
    detail: str


class InvalidItemModel(BaseModel):
    loc: list[str] = Field(description='where, e.g. ["body", "top_k"] or ["body", "history", "0"]')
    msg: str
    position: int | None = Field(
        default=None, description="for a body that is not valid JSON: the character offset where parsing failed"
    )


class InvalidModel(BaseModel):
    """A 422: ``detail`` says what is wrong in words; ``errors`` lists each problem with its place."""

    detail: str
    errors: list[InvalidItemModel]
