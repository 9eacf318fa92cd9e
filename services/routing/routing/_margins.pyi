from collections.abc import Callable
from typing import Any

import numpy as np

MAX_CLASSES: int

def add_margins(
    columns: np.ndarray[Any, np.dtype[np.int32]],
    char_ends: np.ndarray[Any, np.dtype[np.int64]],
    tokens: np.ndarray[Any, np.dtype[np.int64]],
    token_ends: np.ndarray[Any, np.dtype[np.int64]],
    char_idf: np.ndarray[Any, np.dtype[np.float32]],
    char_weights: np.ndarray[Any, np.dtype[np.float32]],
    word_idf: np.ndarray[Any, np.dtype[np.float32]],
    word_weights: np.ndarray[Any, np.dtype[np.float32]],
    pair_keys: np.ndarray[Any, np.dtype[np.int64]],
    pair_columns: np.ndarray[Any, np.dtype[np.int32]],
    width: int,
    out: np.ndarray[Any, np.dtype[np.float64]],
) -> None: ...
def word_columns(
    texts: list[str],
    cache: dict[str, tuple[bytes, bytes]],
    word: Callable[[str], tuple[bytes, bytes]],
) -> tuple[
    np.ndarray[Any, np.dtype[np.int32]],
    np.ndarray[Any, np.dtype[np.int64]],
    np.ndarray[Any, np.dtype[np.int64]],
    np.ndarray[Any, np.dtype[np.int64]],
]: ...
