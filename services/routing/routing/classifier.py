"""Category classifier for appeal texts in Russian, Kazakh, mixed and Latin-script Russian.

Character n-grams carry most of the signal: they survive typos, inflection, Kazakh suffixes
and keyboards without Kazakh letters. Word unigrams and bigrams add whole phrases
(«нет воды», «су жоқ»). A linear SVM ranks the categories; a softmax over its margins, with
one temperature fitted on out-of-fold margins, turns the ranking into calibrated
probabilities. It is trained on the packaged hand-written corpus plus operator-labelled extras.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final, NamedTuple, TypeVar

import joblib
import numpy as np
import sklearn
from scipy import sparse
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from routing import native

# Bump when normalisation or the saved layout changes, so old caches are not reused.
_FORMAT = 1
_CACHE_ENV = "APPEALS_CACHE_DIR"

# Everything that shapes the model; hashed into the version.
PARAMS: Final[dict[str, Any]] = {
    "char_ngram_range": (2, 5),
    "word_ngram_range": (1, 2),
    "char_max_df": 0.9,
    "C": 1.0,
    "calibration_folds": 5,
}
# Softmax scale when the training set is too small to calibrate (fewer than two examples
# of some category); calibration on the packaged corpus lands near this value.
_DEFAULT_SCALE = 10.0

FloatMatrix = np.ndarray[Any, np.dtype[np.float64]]
Compressed = TypeVar("Compressed", sparse.csr_matrix, sparse.csc_matrix)


class CategoryScore(NamedTuple):
    # A tuple, not a frozen dataclass: a ranking builds one per category (37 per text).
    code: str
    probability: float


@dataclass(frozen=True)
class LabelledText:
    text: str
    category: str


# ----------------------------------------------------------------------------- normalisation

# Latin-script Russian as people type it on phones: longest sequences first.
_LATIN_DIGRAPHS: Final = (
    ("shch", "щ"),
    ("sch", "щ"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("ts", "ц"),
    ("yu", "ю"),
    ("ju", "ю"),
    ("ya", "я"),
    ("ja", "я"),
    ("yo", "е"),
    ("ye", "е"),
)
_LATIN_LETTERS: Final = dict(
    zip(
        "abcdefghijklmnopqrstuvwxyz'",
        ["а", "б", "ц", "д", "е", "ф", "г", "х", "и", "ж", "к", "л", "м",
         "н", "о", "п", "к", "р", "с", "т", "у", "в", "в", "кс", "ы", "з", "ь"],
        strict=True,
    )
)  # fmt: skip
_VOWELS: Final = "aeiouy"
_LATIN_RUN = re.compile(r"[a-z']+")
_WORD: Final = r"(?u)\b\w\w+\b"


def _transliterate_word(word: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(word):
        for latin, cyrillic in _LATIN_DIGRAPHS:
            if word.startswith(latin, i):
                out.append(cyrillic)
                i += len(latin)
                break
        else:
            letter = word[i]
            after_vowel = i > 0 and word[i - 1] in _VOWELS
            # «goryachey», «seychas»: y after a vowel is й. A final i after a vowel is й too
            # («goryachei», «otopitelnyi»), but not inside a word («stroitelei»).
            if after_vowel and (letter == "y" or (letter == "i" and i == len(word) - 1)):
                out.append("й")
            else:
                out.append(_LATIN_LETTERS[letter])
            i += 1
    return "".join(out).strip("ь")


# Kazakh letters folded to their nearest Russian ones: many people type Kazakh on a Russian
# keyboard («Карагандыда су жок»), and the folded form then matches the correct spelling.
_KAZAKH_FOLD: Final = tuple(zip("әғқңөұүһіё", "агкноуухие", strict=True))


def normalise(text: str) -> str:
    """Lower case, ё as е, Kazakh letters folded, Latin-script words in Cyrillic, one space."""
    lowered = text.lower()
    # str.replace per letter present: str.translate looks every character up in a dict.
    for letter, folded in _KAZAKH_FOLD:
        if letter in lowered:
            lowered = lowered.replace(letter, folded)
    cyrillic = _LATIN_RUN.sub(lambda m: _transliterate_word(m.group(0)), lowered)
    return " ".join(cyrillic.split())


# ----------------------------------------------------------------------------- features


class CharGramCounter(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Counts of character n-grams within words padded by spaces (like char_wb).

    Same features as TfidfVectorizer(analyzer="char_wb"), but each distinct word is
    analysed once and remembered as an array of column indices: appeal words repeat, so
    transforming becomes a few dictionary look-ups per word instead of one per n-gram.
    """

    _CACHE_LIMIT = 200_000

    def __init__(self, ngram_range: tuple[int, int] = (2, 5), max_df: float = 1.0) -> None:
        self.ngram_range = ngram_range
        self.max_df = max_df

    def _grams(self, word: str) -> list[str]:
        padded = f" {word} "
        low, high = self.ngram_range
        return [padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1)]

    def fit(self, texts: Sequence[str], y: object = None) -> CharGramCounter:
        document_frequency: Counter[str] = Counter()
        for text in texts:
            document_frequency.update({g for word in text.split() for g in self._grams(word)})
        ceiling = self.max_df * len(texts)
        kept = sorted(g for g, count in document_frequency.items() if count <= ceiling)
        self.vocabulary_ = {gram: column for column, gram in enumerate(kept)}
        self._cache: dict[str, bytes] = {}
        return self

    def columns(self, word: str) -> bytes:
        """The word's column indices as int32 bytes, ready to be joined with its neighbours'."""
        vocabulary = self.vocabulary_
        found = [vocabulary[g] for g in self._grams(word) if g in vocabulary]
        return np.array(found, dtype=np.int32).tobytes()

    def _columns(self, word: str) -> bytes:
        columns = self._cache.get(word)
        if columns is None:
            if len(self._cache) >= self._CACHE_LIMIT:
                self._cache.clear()
            columns = self._cache[word] = self.columns(word)
        return columns

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        # Bytes joined for the whole batch and read as one array: a numpy array per word and
        # per text, or a list of Python ints, cost more than the look-ups themselves.
        parts: list[bytes] = []
        indptr = [0]
        size = 0
        cached = self._cache.get
        for text in texts:
            for word in text.split():
                columns = cached(word)
                if columns is None:
                    columns = self._columns(word)
                parts.append(columns)
                size += len(columns)
            indptr.append(size // 4)
        indices = np.frombuffer(b"".join(parts), dtype=np.int32)
        counts = sparse.csr_matrix(
            (np.ones(len(indices), dtype=np.float32), indices.copy(), np.array(indptr)),
            shape=(len(texts), len(self.vocabulary_)),
        )
        # Through CSC and back: two counting sorts leave each row's columns in order, cheaper
        # than sorting every row, so summing the repeated n-grams needs no sort of its own.
        counts = counts.tocsc().tocsr()
        counts.sum_duplicates()
        return counts

    def __getstate__(self) -> dict[str, Any]:
        # The look-up cache is rebuilt on demand; saving it would only bloat the file.
        state = dict(super().__getstate__())
        state["_cache"] = {}
        return state


# ----------------------------------------------------------------------------- fast path

_TOKEN: Final = re.compile(_WORD)
Ints = np.ndarray[Any, np.dtype[np.int64]]
Ints32 = np.ndarray[Any, np.dtype[np.int32]]


class _Compiled(NamedTuple):
    add_margins: Callable[..., None]
    word_columns: Callable[..., tuple[Ints32, Ints, Ints, Ints]]


def _compiled_margins(classes: int) -> _Compiled | None:
    """The compiled loops of `_margins.pyx`, if `make install` built them from this source on
    this machine and they take this many classes."""
    module = native.compiled("margins")
    if module is None or classes > module.MAX_CLASSES:
        return None
    return _Compiled(module.add_margins, module.word_columns)


class _Arithmetic:
    """The fitted features and SVM as plain array arithmetic, for ranking batches of texts.

    Computes what `model.decision_function(features.transform(texts))` computes, with the
    same float32 TF-IDF values, but without scikit-learn's per-call machinery: the word
    vectorizer alone (regex, n-gram strings, a dictionary look-up per n-gram, then sorting
    each row) cost more than the rest of the classifier. Word bigrams are found as pairs of
    unigram columns in one sorted array. Built from a fitted pipeline of the shape
    `_features` makes; `compile` returns None for any other shape, and the caller then uses
    scikit-learn itself. Where `make install` compiled `_margins.pyx`, that loop does the
    counting and the products (about three times faster); otherwise numpy and scipy do.
    """

    def __init__(
        self,
        chars: CharGramCounter,
        char_idf: np.ndarray[Any, np.dtype[np.float32]],
        words: dict[str, int],
        word_idf: np.ndarray[Any, np.dtype[np.float32]],
        coef: FloatMatrix,
        intercept: np.ndarray[Any, np.dtype[np.float64]],
    ) -> None:
        self.chars = chars
        self.char_idf = char_idf
        self.words = words
        self.word_idf = word_idf
        width = len(words)
        pairs: list[tuple[int, int]] = []
        for gram, column in words.items():
            first, space, second = gram.partition(" ")
            if space and first in words and second in words:
                pairs.append((words[first] * width + words[second], column))
        pairs.sort()
        self.pair_keys = np.array([k for k, _ in pairs], dtype=np.int64)
        self.pair_columns = np.array([c for _, c in pairs], dtype=np.int32)
        self.width = width
        split = len(char_idf)
        # Row-major (features × classes): each non-zero feature reads one contiguous row. In
        # float32, like the TF-IDF values: half the memory to read for every feature (the
        # char block is 46k rows), margins equal to about 1e-6.
        self.char_weights = np.ascontiguousarray(coef[:, :split].T, dtype=np.float32)
        self.word_weights = np.ascontiguousarray(coef[:, split:].T, dtype=np.float32)
        self.intercept = intercept
        self._cache: dict[str, tuple[bytes, bytes]] = {}
        self.compiled = _compiled_margins(len(intercept))

    @classmethod
    def compile(cls, features: FeatureUnion, model: LinearSVC) -> _Arithmetic | None:
        try:
            (_, chars), (_, words) = features.transformer_list
            (_, counter), (_, char_tfidf) = chars.steps
        except (AttributeError, ValueError):
            return None
        expected_words = {
            "analyzer": "word",
            "ngram_range": (1, 2),
            "token_pattern": _WORD,
            "lowercase": False,
            "sublinear_tf": True,
            "norm": "l2",
            "use_idf": True,
            "preprocessor": None,
            "tokenizer": None,
            "stop_words": None,
            "strip_accents": None,
            "binary": False,
        }
        if (
            features.transformer_weights is not None
            or not isinstance(counter, CharGramCounter)
            or not isinstance(char_tfidf, TfidfTransformer)
            or not isinstance(words, TfidfVectorizer)
            or (char_tfidf.norm, char_tfidf.sublinear_tf, char_tfidf.use_idf) != ("l2", True, True)
            or any(words.get_params()[k] != v for k, v in expected_words.items())
            or model.coef_.shape[0] < 3  # two classes: one signed margin, see _margins
        ):
            return None
        return cls(
            counter,
            char_tfidf.idf_.astype(np.float32),
            dict(words.vocabulary_),
            words.idf_.astype(np.float32),
            np.asarray(model.coef_, dtype=np.float64),
            np.asarray(model.intercept_, dtype=np.float64),
        )

    def margins(self, texts: Sequence[str]) -> FloatMatrix:
        """SVM margins, one row per text (raw or normalised), one column per class."""
        if self.compiled is not None:
            columns, char_ends, tokens, token_ends = self.compiled.word_columns(
                list(texts), self._cache, self._word
            )
            result = np.zeros((len(texts), len(self.intercept)))
            self.compiled.add_margins(
                columns,
                char_ends,
                tokens,
                token_ends,
                self.char_idf,
                self.char_weights,
                self.word_idf,
                self.word_weights,
                self.pair_keys,
                self.pair_columns,
                self.width,
                result,
            )
        else:
            chars, words = self._counts(*self._columns(texts))
            result = np.asarray(self._tfidf(chars, self.char_idf) @ self.char_weights, np.float64)
            result += self._tfidf(words, self.word_idf) @ self.word_weights
        result += self.intercept
        return result

    def _word(self, word: str) -> tuple[bytes, bytes]:
        """A raw word's char n-gram columns and its tokens' unigram columns, once normalised.

        `normalise` works within words (case, letters, Latin runs) and then splits on spaces,
        so a text's normalised words are its raw words' normalised words in order, and so
        are its tokens: raw words are cached, and texts need no normalising pass of their own.
        """
        found = self._cache.get(word)
        if found is None:
            if len(self._cache) >= self._CACHE_LIMIT:
                self._cache.clear()
            vocabulary = self.words.get
            parts = normalise(word).split()
            tokens = [vocabulary(t, -1) for part in parts for t in _TOKEN.findall(part)]
            found = (
                # Uncached: this cache holds the raw word, the counter's would hold it twice.
                b"".join(self.chars.columns(part) for part in parts),
                np.array(tokens, dtype=np.int64).tobytes(),
            )
            self._cache[word] = found
        return found

    _CACHE_LIMIT = 200_000

    def _columns(self, texts: Sequence[str]) -> tuple[Ints32, Ints, Ints, Ints]:
        """Every text's char n-gram columns and word tokens (-1: unknown), joined for the
        batch, with the offset where each text's part ends (`_margins.word_columns` too)."""
        char_parts: list[bytes] = []
        token_parts: list[bytes] = []
        char_ends = [0] * len(texts)
        token_ends = [0] * len(texts)
        char_size = token_size = 0
        cached = self._cache.get
        for n, text in enumerate(texts):
            for word in text.split():
                char_columns, tokens = cached(word) or self._word(word)
                char_parts.append(char_columns)
                token_parts.append(tokens)
                char_size += len(char_columns)
                token_size += len(tokens)
            char_ends[n] = char_size // 4
            token_ends[n] = token_size // 8
        return (
            np.frombuffer(b"".join(char_parts), dtype=np.int32),
            np.array(char_ends, dtype=np.int64),
            np.frombuffer(b"".join(token_parts), dtype=np.int64),
            np.array(token_ends, dtype=np.int64),
        )

    def _counts(
        self, columns: Ints32, char_ends: Ints, tokens: Ints, token_ends: Ints
    ) -> tuple[sparse.csc_matrix, sparse.csr_matrix]:
        """Char n-gram counts and word unigram+bigram counts, as the fitted vectorizers count."""
        # Ordered the same way as CharGramCounter.transform orders them.
        chars = sparse.csr_matrix(
            (np.ones(len(columns), dtype=np.float32), columns.copy(), np.r_[0, char_ends]),
            shape=(len(char_ends), len(self.char_idf)),
        )
        # Column-major: converting orders each column's rows (a counting sort), so the repeated
        # n-grams of a text sum without a sort per row; the product with the weights then
        # reads each weight row once per batch.
        chars = chars.tocsc()
        chars.sum_duplicates()
        return chars, self._word_counts(tokens, np.diff(token_ends, prepend=0))

    def _word_counts(
        self, unigrams: np.ndarray[Any, np.dtype[np.int64]], lengths: np.ndarray[Any, Any]
    ) -> sparse.csr_matrix:
        """Unigram and bigram counts from every text's token columns (-1: unknown token)."""
        rows = len(lengths)
        row_of = np.repeat(np.arange(rows), lengths)
        # A bigram is two neighbouring tokens of one text, both known as unigrams.
        known = (unigrams[1:] >= 0) & (unigrams[:-1] >= 0) & (row_of[1:] == row_of[:-1])
        keys = unigrams[:-1][known] * self.width + unigrams[1:][known]
        at = np.minimum(np.searchsorted(self.pair_keys, keys), max(len(self.pair_keys) - 1, 0))
        found = self.pair_keys[at] == keys if len(self.pair_keys) else np.zeros(0, dtype=bool)
        seen = unigrams >= 0
        counts = sparse.csr_matrix(
            (
                np.ones(int(seen.sum()) + int(found.sum()), dtype=np.float32),
                (
                    np.concatenate([row_of[seen], row_of[1:][known][found]]),
                    np.concatenate([unigrams[seen], self.pair_columns[at[found]]]),
                ),
            ),
            shape=(rows, len(self.word_idf)),
        )
        counts.sum_duplicates()
        return counts

    @staticmethod
    def _tfidf(counts: Compressed, idf: np.ndarray[Any, np.dtype[np.float32]]) -> Compressed:
        """Sublinear TF × IDF, rows scaled to unit length: TfidfTransformer's arithmetic.

        For a CSR or a CSC matrix of counts with no repeated entries; returns the same kind.
        """
        per_line = np.diff(counts.indptr)
        values = np.log(counts.data, dtype=np.float32)
        values += np.float32(1)
        if counts.format == "csr":
            rows = np.repeat(np.arange(len(per_line)), per_line)
            values *= idf[counts.indices]
        else:  # column-major: each column's IDF repeated over its entries, no gather
            rows = counts.indices
            values *= np.repeat(idf, per_line)
        norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=counts.shape[0]))
        norms[norms == 0] = 1
        values /= norms[rows].astype(np.float32)
        return type(counts)((values, counts.indices, counts.indptr), shape=counts.shape)


# ----------------------------------------------------------------------------- model


def _features(params: dict[str, Any]) -> FeatureUnion:
    chars = Pipeline(
        [
            ("counts", CharGramCounter(params["char_ngram_range"], params["char_max_df"])),
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
        ]
    )
    words = TfidfVectorizer(
        analyzer="word",
        ngram_range=params["word_ngram_range"],
        token_pattern=_WORD,
        sublinear_tf=True,
        lowercase=False,
        dtype=np.float32,
    )
    return FeatureUnion([("chars", chars), ("words", words)])


def _fit(
    texts: Sequence[str], labels: Sequence[str], params: dict[str, Any]
) -> tuple[FeatureUnion, LinearSVC]:
    features = _features(params)
    model = LinearSVC(C=params["C"], random_state=0)
    model.fit(features.fit_transform(texts), labels)
    return features, model


def _margins(features: FeatureUnion, model: LinearSVC, texts: Sequence[str]) -> FloatMatrix:
    margins = np.asarray(model.decision_function(features.transform(texts)), dtype=np.float64)
    if margins.ndim == 1:  # two classes: one signed margin for the second class
        margins = np.column_stack([-margins, margins])
    return margins


def _softmax(margins: FloatMatrix, scale: float) -> FloatMatrix:
    scaled = margins * scale
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    result: FloatMatrix = exp / exp.sum(axis=1, keepdims=True)
    return result


def _calibrated_scale(texts: Sequence[str], labels: Sequence[str], params: dict[str, Any]) -> float:
    """Temperature for softmax(scale × margin), fitted on out-of-fold margins.

    One scalar for all classes (temperature scaling) keeps the ranking and fixes the
    confidence. CalibratedClassifierCV's one-vs-rest sigmoids, renormalised over 37
    classes, came out far too timid on this corpus (calibration error 0.28 against 0.05).
    """
    counts = Counter(labels)
    folds = min(params["calibration_folds"], min(counts.values()))
    if folds < 2:
        return _DEFAULT_SCALE
    classes = sorted(counts)
    label_index = np.array([classes.index(label) for label in labels])
    margins = np.zeros((len(texts), len(classes)))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for train, test in splitter.split(np.zeros(len(labels)), label_index):
        features, model = _fit([texts[i] for i in train], [labels[i] for i in train], params)
        if len(model.classes_) != len(classes):
            return _DEFAULT_SCALE
        margins[test] = _margins(features, model, [texts[i] for i in test])

    def negative_log_likelihood(log_scale: float) -> float:
        probabilities = _softmax(margins, float(np.exp(log_scale)))
        picked = probabilities[np.arange(len(labels)), label_index]
        return float(-np.mean(np.log(np.maximum(picked, 1e-12))))

    best = minimize_scalar(negative_log_likelihood, bounds=(-2.0, 5.0), method="bounded")
    return float(np.exp(best.x))


def corpus_version(examples: Sequence[LabelledText], params: dict[str, Any] = PARAMS) -> str:
    """Short hash of the training data and parameters: equal inputs give equal models."""
    digest = hashlib.sha256()
    header = {"format": _FORMAT, "params": params}
    digest.update(json.dumps(header, sort_keys=True, default=list).encode())
    for example in examples:
        digest.update(json.dumps([example.text, example.category], ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:12]


class CategoryClassifier:
    """Ranks every category it was trained on for a text, with probabilities summing to 1."""

    version: str  # short hash of the corpus and PARAMS, see corpus_version
    scale: float  # softmax temperature (inverse) found by calibration

    def __init__(self, features: FeatureUnion, model: LinearSVC, scale: float, version: str):
        self._features = features
        self._model = model
        self.scale = scale
        self.version = version
        self._codes: list[str] = [str(code) for code in model.classes_]
        self._arithmetic = _Arithmetic.compile(features, model)

    @property
    def categories(self) -> list[str]:
        return list(self._codes)

    @classmethod
    def train(
        cls, examples: Sequence[LabelledText], params: dict[str, Any] = PARAMS
    ) -> CategoryClassifier:
        if len({e.category for e in examples}) < 2:
            raise ValueError("training needs examples of at least two categories")
        texts = [normalise(e.text) for e in examples]
        labels = [e.category for e in examples]
        features, model = _fit(texts, labels, params)
        scale = _calibrated_scale(texts, labels, params)
        return cls(features, model, scale, corpus_version(examples, params))

    def probabilities(self, texts: Sequence[str]) -> FloatMatrix:
        """Matrix of probabilities, one row per text, columns in `categories` order."""
        if not texts:
            return np.zeros((0, len(self._codes)))
        if self._arithmetic is not None:
            margins = self._arithmetic.margins(texts)  # normalises word by word, cached
        else:
            margins = _margins(self._features, self._model, [normalise(t) for t in texts])
        return _softmax(margins, self.scale)

    def rank(self, text: str) -> list[CategoryScore]:
        return self.rank_many([text])[0]

    def rank_many(self, texts: Sequence[str]) -> list[list[CategoryScore]]:
        matrix = self.probabilities(texts)
        order = np.argsort(-matrix, axis=1, kind="stable")
        codes = self._codes
        # Python lists, not numpy rows: indexing a numpy row one scalar at a time is slow.
        return [
            [CategoryScore(codes[j], row[j]) for j in row_order]
            for row, row_order in zip(matrix.tolist(), order.tolist(), strict=True)
        ]

    def score_matrix(self, texts: Sequence[str]) -> tuple[list[str], FloatMatrix]:
        return self._codes, self.probabilities(texts)

    def accuracy(self, examples: Sequence[LabelledText]) -> float:
        """Share of examples whose best-ranked category is the labelled one."""
        if not examples:
            return 0.0
        matrix = self.probabilities([e.text for e in examples])
        best = [self._codes[j] for j in matrix.argmax(axis=1)]
        hits: int = sum(b == e.category for b, e in zip(best, examples, strict=True))
        return hits / len(examples)

    def save(self, path: Path) -> None:
        """Write atomically, so a reader never sees half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": _FORMAT,
            "version": self.version,
            "features": self._features,
            "model": self._model,
            "scale": self.scale,
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        os.close(fd)
        try:
            joblib.dump(payload, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> CategoryClassifier:
        payload = joblib.load(path)
        keys = {"format", "version", "features", "model", "scale"}
        if not isinstance(payload, dict) or not keys <= payload.keys():
            raise ValueError(f"{path} is not a category classifier")
        if payload["format"] != _FORMAT:
            raise ValueError(f"{path} is a category classifier of another format")
        return cls(
            payload["features"], payload["model"], float(payload["scale"]), str(payload["version"])
        )


# ----------------------------------------------------------------------------- corpus


def _packaged_lines() -> list[str]:
    folder = resources.files("routing") / "training"
    lines: list[str] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".jsonl"):
            lines.extend(entry.read_text(encoding="utf-8").splitlines())
    return lines


def load_training_examples(extra: Sequence[LabelledText] = ()) -> list[LabelledText]:
    """The packaged corpus (every training/*.jsonl, by file name) followed by `extra`."""
    examples: list[LabelledText] = []
    for number, line in enumerate(_packaged_lines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        try:
            examples.append(LabelledText(text=str(row["text"]), category=str(row["category"])))
        except KeyError as error:
            raise ValueError(f"training line {number} lacks {error}") from error
    examples.extend(extra)
    return examples


def cache_dir_default() -> Path:
    configured = os.environ.get(_CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "appeals"


def default_classifier(cache_dir: Path | None = None) -> CategoryClassifier:
    """The classifier of the packaged corpus: loaded from the cache, or trained and cached."""
    examples = load_training_examples()
    version = corpus_version(examples)
    folder = cache_dir if cache_dir is not None else cache_dir_default()
    # Pickles are only safe to reload with the scikit-learn that wrote them.
    path = folder / f"category-classifier-{version}-sklearn-{sklearn.__version__}.joblib"
    if path.exists():
        try:
            cached = CategoryClassifier.load(path)
        except Exception:  # a damaged or foreign cache file is rebuilt, never fatal
            cached = None
        if cached is not None and cached.version == version:
            return cached
    classifier = CategoryClassifier.train(examples)
    with contextlib.suppress(OSError):  # a read-only cache only costs retraining next time
        classifier.save(path)
    return classifier
