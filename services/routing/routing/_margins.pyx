# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The category classifier's arithmetic, compiled (see classifier._Arithmetic, its numpy twin).

For each text of a chunk: count its char n-gram columns and its word columns (unigrams, and
bigrams found as pairs of neighbouring unigrams), turn the counts into sublinear TF × IDF
values of unit length, and add value × weight row to the text's margins. Written out in C
because numpy and scipy did this in a dozen passes over the chunk, each with its own
temporaries (counts as a sparse matrix, converted, summed, scaled, normalised, multiplied):
about 30 µs a text where this loop takes about 10. Built by `make install` for the machine's
own CPU (-march=native: the weight rows are added eight or sixteen at a time).
"""

import numpy as np

from libc.math cimport logf, sqrt

# The margins of a text are summed in a fixed-size local array; more classes than this take
# the numpy path (the packaged model has 37).
MAX_CLASSES = 64


cdef void _add_text(
    const long[::1] features,
    Py_ssize_t n,
    int[::1] counts,
    const float[::1] idf,
    const float[:, ::1] weights,
    double* margins,
    float* values,
) noexcept nogil:
    """Adds the product of the n distinct features listed (counts in `counts`, reset to 0
    here) with the weights to one text's margins; TfidfTransformer's arithmetic in float32."""
    cdef Py_ssize_t k, j, classes = weights.shape[1]
    cdef long c
    cdef float v
    cdef double w, norm = 0.0
    cdef double sums[64]
    cdef const float* row
    for k in range(n):
        c = features[k]
        v = (logf(<float>counts[c]) + 1.0) * idf[c]
        values[k] = v
        norm += <double>v * v
    norm = sqrt(norm)
    if norm == 0.0:
        norm = 1.0
    for j in range(classes):
        sums[j] = 0.0
    for k in range(n):
        c = features[k]
        counts[c] = 0
        w = <float>(values[k] / <float>norm)
        row = &weights[c, 0]
        for j in range(classes):
            sums[j] += w * row[j]
    for j in range(classes):
        margins[j] += sums[j]


cdef inline Py_ssize_t _count(long c, int* counts, long* seen, Py_ssize_t n) noexcept nogil:
    """Counts feature c, listing it in `seen` the first time; returns how many are listed."""
    if counts[c] == 0:
        seen[n] = c
        n += 1
    counts[c] += 1
    return n


def add_margins(
    const int[::1] columns,
    const long[::1] char_ends,
    const long[::1] tokens,
    const long[::1] token_ends,
    const float[::1] char_idf,
    const float[:, ::1] char_weights,
    const float[::1] word_idf,
    const float[:, ::1] word_weights,
    const long[::1] pair_keys,
    const int[::1] pair_columns,
    long width,
    double[:, ::1] out,
):
    """Adds each text's margins (without the intercept) to its row of `out`.

    Text t's char columns are columns[char_ends[t-1]:char_ends[t]] and its word tokens
    tokens[token_ends[t-1]:token_ends[t]] (-1: not in the vocabulary); a bigram is two
    neighbouring known tokens whose key (first × width + second) is in the sorted pair_keys.
    """
    cdef Py_ssize_t texts = out.shape[0], pairs = pair_keys.shape[0]
    if char_weights.shape[1] > MAX_CLASSES or word_weights.shape[1] != char_weights.shape[1]:
        raise ValueError(f"at most {MAX_CLASSES} classes, the same in both weight blocks")
    if out.shape[1] != char_weights.shape[1]:
        raise ValueError("out needs one column per class")
    cdef Py_ssize_t size = max(columns.shape[0], 2 * tokens.shape[0], 1)
    cdef int[::1] counts = np.zeros(max(char_idf.shape[0], word_idf.shape[0]), dtype=np.int32)
    cdef long[::1] seen = np.empty(size, dtype=np.int64)
    cdef float[::1] values = np.empty(size, dtype=np.float32)
    cdef Py_ssize_t t, i, n, lo, hi, mid, start, end
    cdef long u, key
    cdef int* counted = &counts[0]
    cdef long* listed = &seen[0]
    with nogil:
        start = 0
        for t in range(texts):
            end = char_ends[t]
            n = 0
            for i in range(start, end):
                n = _count(columns[i], counted, listed, n)
            _add_text(seen, n, counts, char_idf, char_weights, &out[t, 0], &values[0])
            start = end
        start = 0
        for t in range(texts):
            end = token_ends[t]
            n = 0
            for i in range(start, end):
                u = tokens[i]
                if u < 0:
                    continue
                n = _count(u, counted, listed, n)
                if i + 1 < end and tokens[i + 1] >= 0 and pairs > 0:
                    key = u * width + tokens[i + 1]
                    lo = 0
                    hi = pairs
                    while lo < hi:  # binary search of the sorted pair keys
                        mid = (lo + hi) // 2
                        if pair_keys[mid] < key:
                            lo = mid + 1
                        else:
                            hi = mid
                    if lo < pairs and pair_keys[lo] == key:
                        n = _count(pair_columns[lo], counted, listed, n)
            _add_text(seen, n, counts, word_idf, word_weights, &out[t, 0], &values[0])
            start = end


def word_columns(list texts, dict cache, word):
    """Every text's char n-gram columns and word tokens, joined, with where each text ends:
    what `_Arithmetic._columns` computes, without an interpreted step per word.

    `cache` maps a raw word to (its char columns as int32 bytes, its tokens as int64 bytes);
    `word(w)` computes and caches a word the cache lacks.
    """
    cdef Py_ssize_t n = len(texts), t, char_size = 0, token_size = 0
    cdef list char_parts = []
    cdef list token_parts = []
    char_ends = np.empty(n, dtype=np.int64)
    token_ends = np.empty(n, dtype=np.int64)
    cdef long[::1] char_at = char_ends
    cdef long[::1] token_at = token_ends
    cdef object found
    cdef bytes chars, tokens
    for t in range(n):
        for w in (<str>texts[t]).split():
            found = cache.get(w)
            if found is None:
                found = word(w)
            chars = <bytes>(<tuple>found)[0]
            tokens = <bytes>(<tuple>found)[1]
            char_parts.append(chars)
            token_parts.append(tokens)
            char_size += len(chars)
            token_size += len(tokens)
        char_at[t] = char_size // 4
        token_at[t] = token_size // 8
    return (
        np.frombuffer(b"".join(char_parts), dtype=np.int32),
        char_ends,
        np.frombuffer(b"".join(token_parts), dtype=np.int64),
        token_ends,
    )
