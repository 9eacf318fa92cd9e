"""Where an appeal is about: the citizen's locality code, the free-text address, the text.

Names are compared as *keys*: lower case, ё as е, Kazakh letters as their Russian neighbours
(қ→к, ғ→г, ұ/ү→у, ө→о, ә→а, і→и, ң→н, һ→х), then a coarse Latin transliteration, so
«Қарағанды», «Караганды», «Karagandy» and «Qaragandy» share one key. A text word matches a
name word when it equals it or is the name (or the name minus up to three final vowels) plus a
Russian or Kazakh case ending: «Караганде», «Осакаровке», «Сарани», «Теміртауда»,
«Балқашта». Words of fewer than four letters only match exactly.

Choices (see resolve_locality):
- The citizen's locality code is used when valid; a more specific place inside it named in
  the address or text refines it (г. Караганда + «мкр. Юго-Восток» → район Казыбек би).
- The address belongs to `location`, so it describes the place of the problem: when it names a
  place unrelated to the chosen code, the address wins (the code is often the citizen's home
  city picked from a list).
- The text overrides the chosen code only when there is no address and the text names
  another city/district-level place more often than the chosen one (origins and
  destinations not counted): then the code is most likely the citizen's own city
  («живу в Караганде, но пишу за родителей: в школе г. Каражал… в Каражале…»).
- Somewhere *near* a town («под Каркаралинском», «Қарқаралы маңында», «в 7 км от Топара»)
  is in the town's district.
- Street names («ул. Абая», «пр. Бухар-Жырау», «Сатпаев көшесі»), names in quotes (кафе
  «Ұлытау»), origins and destinations («из Караганды», «везите в Балхаш», «Балқашқа») do not
  name the place; origins and destinations are used only when nothing else is named.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from appeals_reference import ReferenceData

How = Literal["given", "address", "text", "default"]


@dataclass(frozen=True, slots=True)
class LocalityMatch:
    """The resolved locality, how it was found and the words that named it."""

    code: str
    how: How
    matched: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Mention:
    """One place name found in a piece of text."""

    code: str
    start: int
    end: int
    matched: str
    qualified: bool  # carried г., пос., қ., кенті… or was a multi-word official name
    peripheral: bool  # an origin or destination («из Караганды», «в Балхаш»), not the place


# ----------------------------------------------------------------------------- keys

_KAZAKH_LETTERS = str.maketrans(
    {"қ": "к", "ғ": "г", "ұ": "у", "ү": "у", "ө": "о", "ә": "а", "і": "и", "ң": "н", "һ": "х"}
)
_CYRILLIC_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "iu",
    "я": "ia",
    # Kazakh Latin alphabet letters, for texts typed in it
    "ä": "a", "ö": "o", "ü": "u", "ū": "u", "ğ": "g", "ş": "sh", "ı": "i", "ñ": "n",
    "ç": "ch",
}  # fmt: skip
# Latin spellings of the same sounds, applied after transliteration (order matters).
_LATIN_SPELLINGS = (("dzh", "zh"), ("kh", "h"), ("j", "zh"), ("q", "k"), ("w", "v"),
                    ("x", "ks"), ("y", "i"))  # fmt: skip
# Abbreviations that stand for a whole word in names and addresses.
_ABBREVIATIONS = {
    "r-n": "raion", "pr-t": "prospekt", "b-r": "bulvar", "im": "imeni", "aud": "audani",
    "obl": "oblast",
}  # fmt: skip


def key(word: str) -> str:
    """The comparison key of one word (see the module docstring)."""
    folded = word.lower().translate(_KAZAKH_LETTERS)
    latin = "".join(_CYRILLIC_TO_LATIN.get(ch, ch) for ch in folded)
    for spelling, sound in _LATIN_SPELLINGS:
        latin = latin.replace(spelling, sound)
    return _ABBREVIATIONS.get(latin, latin)


# Words: letter runs, plus the hyphenated abbreviations that would otherwise split.
_WORD = re.compile(r"р-н|пр-т|б-р|r-n|[^\W\d_]+", re.IGNORECASE)
# The same words for a text with no hyphen (most texts): the abbreviations need one, and
# trying them at every position cost a quarter of the regex's time.
_LETTERS = re.compile(r"[^\W\d_]+")
_QUOTED = re.compile(r"«[^»]*»|\"[^\"]*\"|“[^”]*”|„[^“”]*[“”]")
_QUOTE_MARKS = ("«", '"', "“", "„")
_KEYS: dict[str, str] = {}  # key() of the words of texts seen: appeal words repeat


class _Words:
    """The words of a text outside quotes, as keys; their positions are found on demand.

    Every appeal's text and address go through here, and most of their words never start a
    place name, so a word costs one regex match and one dictionary read: offsets are only
    worked out for texts where a name was found.
    """

    __slots__ = ("_starts", "keys", "raw", "text")

    def __init__(self, text: str, raw: list[str], starts: list[int] | None) -> None:
        self.text = text
        self.raw = raw
        get = _KEYS.get
        self.keys = [get(w) or _remember_key(w) for w in raw]
        self._starts = starts

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            # The regex's matches in order: each is the first occurrence after the previous
            # one, since only non-letters lie between them.
            starts, at, find = [], 0, self.text.find
            for word in self.raw:
                at = find(word, at)
                starts.append(at)
                at += len(word)
            self._starts = starts
        return self._starts

    def start(self, i: int) -> int:
        return self.starts[i]

    def end(self, i: int) -> int:
        return self.starts[i] + len(self.raw[i])

    def dotted(self, i: int) -> bool:
        """Followed by a period: «г.», «с.», «қ.»."""
        return self.text.startswith(".", self.end(i))


def _remember_key(word: str) -> str:
    if len(_KEYS) >= 1 << 16:
        _KEYS.clear()
    found = _KEYS[word] = key(word)
    return found


@functools.lru_cache(maxsize=256)
def _words(text: str) -> _Words:
    # Cached: one decision reads the same text for places and again for crime words.
    if not any(mark in text for mark in _QUOTE_MARKS):
        return _Words(text, (_WORD if "-" in text else _LETTERS).findall(text), None)
    # Names of firms, cafés, newspapers are not places: ТОО «Караганда Су», кафе «Ұлытау».
    quoted = [m.span() for m in _QUOTED.finditer(text)]
    kept = [m for m in _WORD.finditer(text) if not any(a < m.start() < b for a, b in quoted)]
    return _Words(text, [m.group() for m in kept], [m.start() for m in kept])


def keyed_words_headed(text: str, heads: frozenset[str]) -> list[tuple[str, str]]:
    """(word, key) for the words whose key's first three letters are among `heads`."""
    words = _words(text)
    return [(w, k) for w, k in zip(words.raw, words.keys, strict=True) if k[:3] in heads]


def _keyset(words: str) -> frozenset[str]:
    """Keys of space-separated words."""
    return frozenset(key(w) for w in words.split())


# Case endings, as keys. Russian ones follow the name or its stem (final vowels dropped),
# Kazakh ones follow the full name. One set keeps the matcher simple; a word must still
# start with a name of at least four letters.
_ENDINGS = _keyset(
    # Russian
    "а у е и ы о ом ой ою ей ем ью ю я ам ах ами ям ях ий ый ого его ому ему ым им ая яя ую "
    "юю ое ее ые ие ых их ыми ими "
    # Kazakh
    "да де та те ға ге қа ке на не ның нің дың дің тың тің ды ді ты ті ны ні н дан ден тан "
    "тен нан нен мен бен пен дағы дегі тағы тегі нда нде ндағы ндегі лық лік дық дік тық тік "
    "сы сі ы і ын ін ына іне ында інде ындағы індегі ыда іде ыдағы ідегі ыға іге ыдан іден "
    "лар лер дар дер тар тер"
)
# Kazakh dative («Балқашқа», to Balkhash) and ablative («Балқаштан», from Balkhash).
_DIRECTION_ENDINGS = _keyset("ға ге қа ке ыға іге дан ден тан тен нан нен ыдан іден")
_VOWELS = frozenset("aeiou")
_MIN_STEM = 4
_MIN_TYPO_LENGTH = 6

# Qualifiers before a name (г., пос., с., ст., мкр.) and after it (қ., қаласы, кенті, ауылы).
_PRE_QUALIFIERS = _keyset(
    "г город города городе городу пос п поселок поселка поселке поселку посёлок с село "
    "села селе ст станция станции аул аула ауле мкр микрорайон микрорайоне микрорайона"
)
_DOT_REQUIRED = _keyset("с к қ")  # «с» and «к» are also prepositions
_POST_QUALIFIER_PREFIXES = tuple(_keyset("қалас кент ауыл"))
# Words that make the following name a street: «ул. Абая», «пр. Бухар-Жырау».
_STREET_MARKERS = _keyset(
    "ул улица улице улицу улицы улицей пр просп проспект проспекте проспекта проспектом "
    "пер переулок переулке переулка бульвар бульваре шоссе тракт площадь площади "
    "набережная набережной"
)
# Kazakh puts the street word after the name: «Сәтбаев көшесі», «Бұқар жырау даңғылы».
_STREET_SUFFIX_PREFIXES = tuple(_keyset("көше даңғыл"))
_HONORIFICS = _keyset("им имени")
# Prepositions of origin and route: the place is where someone comes from or goes to.
_ORIGIN_PREPOSITIONS = _keyset("из от до через мимо iz ot do")
_INTO_PREPOSITIONS = _keyset("в во на v vo na")
# Words that put a place *near* a named town: «под», «около», «маңында», «сыртында».
_NEAR_BEFORE = _keyset("под около возле близ вблизи окрестностях окрестности")
_NEAR_AFTER_PREFIXES = tuple(_keyset("маңы маңай сыртын"))
_DISTANCE_PREFIXES = tuple(_keyset("км километр шақырым"))
# Ablative and dative on a qualifier word: «қаласынан» (from the town), «ауылына» (to it).
_QUALIFIER_DIRECTION_ENDINGS = tuple(_keyset("нан нен дан ден тан тен на не ға ге қа ке"))


# ----------------------------------------------------------------------------- index


@dataclass(frozen=True)
class _Pattern:
    code: str
    words: tuple[str, ...]
    stems: tuple[tuple[str, ...], ...]  # per word: the prefixes a word may extend with endings
    requires_qualifier: bool
    official: bool  # several words or a district/region word: a name that needs no qualifier


def _stems(word: str) -> tuple[str, ...]:
    if len(word) < _MIN_STEM:
        return ()
    stems = [word]
    cut = word
    for _ in range(3):  # «-ая» is three vowels as keys: a + ia
        if cut[-1:] in _VOWELS and len(cut) - 1 >= _MIN_STEM:
            cut = cut[:-1]
            stems.append(cut)
    return tuple(stems)


def _core(words: list[str]) -> list[str]:
    """A name without its qualifiers: «пос. Актас» and «Ақтас кенті» are both «актас»."""
    while words and words[0] in _PRE_QUALIFIERS:
        words = words[1:]
    while words and (words[-1] in _DOT_REQUIRED or words[-1].startswith(_POST_QUALIFIER_PREFIXES)):
        words = words[:-1]
    return words


class LocalityIndex:
    """Name patterns of every locality, indexed by the first letters of their first word."""

    def __init__(self, ref: ReferenceData) -> None:
        self.home = ref.home_region.code
        # Plain dicts: resolving runs for every appeal and the chains are tiny.
        self.chain = {x.code: tuple(a.code for a in ref.ancestors(x.code)) for x in ref.localities}
        self.district_of_town = {
            x.code: x.parent
            for x in ref.localities
            if x.parent is not None and ref.locality(x.parent).type == "district"
        }
        self._by_prefix: dict[str, list[_Pattern]] = {}
        for loc in ref.localities:
            for name in dict.fromkeys((loc.name_ru, loc.name_kk, *loc.aliases)):
                words = _core(list(_words(name).keys))
                if not words:
                    continue
                pattern = _Pattern(
                    code=loc.code,
                    words=tuple(words),
                    stems=tuple(_stems(w) for w in words),
                    requires_qualifier=loc.requires_qualifier,
                    official=len(words) > 1,
                )
                bucket = self._by_prefix.setdefault(words[0][:_MIN_STEM], [])
                if pattern not in bucket:
                    bucket.append(pattern)
        for bucket in self._by_prefix.values():
            bucket.sort(key=lambda p: -len(p.words))  # longest name first
        # One-word names long enough that one wrong letter still leaves them unmistakable.
        self.typo_candidates = [
            p
            for bucket in self._by_prefix.values()
            for p in bucket
            if len(p.words) == 1 and len(p.words[0]) >= _MIN_TYPO_LENGTH
        ]

    @property
    def name_starts(self) -> Mapping[str, list[_Pattern]]:
        """Patterns by the first letters of their first word: `in` tells a word can start one."""
        return self._by_prefix

    def patterns_at(self, word: str) -> list[_Pattern]:
        return self._by_prefix.get(word[:_MIN_STEM], [])

    def depth(self, code: str) -> int:
        return len(self.chain[code]) - 1

    def within(self, code: str, ancestor: str) -> bool:
        return ancestor in self.chain[code]

    def related(self, a: str, b: str) -> bool:
        return a in self.chain[b] or b in self.chain[a]

    def top_unit(self, code: str) -> str:
        """The city or district (depth 1) a locality belongs to; regions stay themselves."""
        chain = self.chain[code]
        return chain[-2] if len(chain) >= 2 else chain[0]

    def most_specific(self, codes: Sequence[str]) -> str:
        """The deepest code when all lie on one chain, else their deepest common ancestor."""
        deepest = max(codes, key=self.depth)
        if all(self.within(deepest, c) for c in codes):
            return deepest
        common = list(self.chain[codes[0]])
        for code in codes[1:]:
            common = [c for c in common if c in self.chain[code]]
        return common[0]


def locality_index(ref: ReferenceData) -> LocalityIndex:
    """The index for this reference data, built once per content version."""
    cached = _INDEXES.get(ref.version)
    if cached is None:
        cached = LocalityIndex(ref)
        if len(_INDEXES) >= 8:
            _INDEXES.pop(next(iter(_INDEXES)))
        _INDEXES[ref.version] = cached
    return cached


_INDEXES: dict[str, LocalityIndex] = {}


# ----------------------------------------------------------------------------- matching


def _word_matches(word: str, name_word: str, stems: tuple[str, ...]) -> bool:
    if word == name_word:
        return True
    return any(word.startswith(s) and word[len(s) :] in _ENDINGS for s in stems)


def _skip_honorifics_back(keys: Sequence[str], i: int) -> int:
    while i >= 0 and keys[i] in _HONORIFICS:
        i -= 1
    return i


def _is_pre_qualifier(words: _Words, i: int) -> bool:
    k = words.keys[i]
    return k in _PRE_QUALIFIERS and (k not in _DOT_REQUIRED or words.dotted(i))


def _is_post_qualifier(words: _Words, i: int) -> bool:
    k = words.keys[i]
    if k in _DOT_REQUIRED:
        return words.dotted(i)
    return k.startswith(_POST_QUALIFIER_PREFIXES)


def _candidates(keys: Sequence[str], starts: Mapping[str, object]) -> list[int]:
    """Where a name may begin: a word starting some name, or any word after г./пос./с.

    (the latter for names with a typo). Most words are neither, and this one pass over the
    keys spares the matcher a Python step per word.
    """
    found = [i for i, k in enumerate(keys) if k[:_MIN_STEM] in starts]
    after_qualifier = [i + 1 for i, k in enumerate(keys) if k in _PRE_QUALIFIERS]
    if not after_qualifier:
        return found
    return sorted({*found, *(i for i in after_qualifier if i < len(keys))})


def find_mentions(
    ref: ReferenceData, text: str | None, context: Iterable[str] = ()
) -> list[Mention]:
    """Every place named in `text`, in order.

    A name with `requires_qualifier` counts only with a qualifier or when its enclosing city or
    district is named too (in `text` or among the `context` codes).
    """
    if not text:
        return []
    index = locality_index(ref)
    words = _words(text)
    keys = words.keys
    found: list[tuple[Mention, _Pattern]] = []
    starts = index.name_starts
    resume = 0
    for i in _candidates(keys, starts):
        if i < resume:
            continue  # inside a name already matched
        match = None
        if keys[i][:_MIN_STEM] in starts:
            match = _match_at(index, keys, i)
        if match is None and i > 0 and _is_pre_qualifier(words, i - 1):
            match = _typo_match_at(index, keys, i)
        if match is None:
            continue
        pattern, end = match
        resume = end
        before = _skip_honorifics_back(keys, i - 1)
        after = keys[end] if end < len(keys) else None
        pre_qualified = before >= 0 and _is_pre_qualifier(words, before)
        post_qualified = after is not None and _is_post_qualifier(words, end)
        last = keys[end - 1]
        name_last = pattern.words[-1]
        # «Абай көшесі» names a street; «Приозерскіде көшелерде» (in town, in the streets)
        # does not: a name in a case form is not part of a street's name.
        street = (before >= 0 and keys[before] in _STREET_MARKERS) or (
            after is not None and after.startswith(_STREET_SUFFIX_PREFIXES) and last == name_last
        )
        if street:
            continue
        # The dative or ablative may follow the name or its stem: «Балқашқа», «Қарағандыдан».
        bases = pattern.stems[-1] or (name_last,)
        direction = last != name_last and any(
            last == base + e for base in bases for e in _DIRECTION_ENDINGS
        )
        if post_qualified and after is not None:
            # «Қарқаралы қаласынан»: the case ending sits on the qualifier word
            direction = direction or after.endswith(_QUALIFIER_DIRECTION_ENDINGS)
        first = before if pre_qualified else i  # «из г. Балхаш»: the preposition is before г.
        preposition = keys[first - 1] if first > 0 else ""
        peripheral = (
            direction
            or preposition in _ORIGIN_PREPOSITIONS
            # «в г. Балхаш» is locative; «в Балхаш» without г. is motion towards
            or (
                not pre_qualified
                and preposition in _INTO_PREPOSITIONS
                and _is_accusative(last, name_last)
            )
        )
        code = pattern.code
        if _is_near(keys, first, end, post_qualified):
            # Somewhere near a town is in the town's district, not in the town.
            peripheral = False
            code = index.district_of_town.get(code, code)
        start, stop = words.start(i), words.end(end - 1)
        mention = Mention(
            code=code,
            start=start,
            end=stop,
            matched=text[start:stop],
            qualified=pre_qualified or post_qualified or pattern.official,
            peripheral=peripheral,
        )
        found.append((mention, pattern))
    named = {m.code for m, p in found if not p.requires_qualifier or m.qualified} | set(context)
    return [
        m
        for m, p in found
        if not p.requires_qualifier
        or m.qualified
        or any(a in named for a in index.chain[m.code][1:-1])
    ]


def _is_near(keys: Sequence[str], first: int, end: int, post_qualified: bool) -> bool:
    """«под Каркаралинском», «в 7 км от Топара», «Қарқаралы маңында», «…қаласынан 7 шақырым»."""
    if first > 0 and keys[first - 1] in _NEAR_BEFORE:
        return True
    if (
        first > 1
        and keys[first - 1] in _ORIGIN_PREPOSITIONS
        and keys[first - 2].startswith(_DISTANCE_PREFIXES)
    ):
        return True
    after = end + 1 if post_qualified else end
    if after < len(keys) and keys[after].startswith(_NEAR_AFTER_PREFIXES):
        return True
    name_or_qualifier = keys[after - 1]
    if name_or_qualifier.endswith(_QUALIFIER_DIRECTION_ENDINGS):
        following = keys[after : after + 3]
        return any(k.startswith(_DISTANCE_PREFIXES) for k in following)
    return False


def _is_accusative(word: str, name_word: str) -> bool:
    """«в Балхаш», «в Караганду»: the Russian accusative after в/на means motion towards."""
    if name_word[-1:] in _VOWELS:
        # Only -а names decline to -у; «в Темиртау», «в Каркаралы» say nothing.
        return name_word.endswith("a") and word == name_word[:-1] + "u"
    return word == name_word


def _match_at(index: LocalityIndex, keys: Sequence[str], i: int) -> tuple[_Pattern, int] | None:
    for pattern in index.patterns_at(keys[i]):
        n = len(pattern.words)
        if i + n > len(keys):
            continue
        if all(_word_matches(keys[i + k], pattern.words[k], pattern.stems[k]) for k in range(n)):
            return pattern, i + n
    return None


def _typo_match_at(
    index: LocalityIndex, keys: Sequence[str], i: int
) -> tuple[_Pattern, int] | None:
    """A one-word name with one letter wrong, right after г./пос./с.: «г.Шахтинскк»."""
    word = keys[i]
    if len(word) < _MIN_TYPO_LENGTH:
        return None
    for pattern in index.typo_candidates:
        if _one_edit_apart(word, pattern.words[0]):
            return pattern, i + 1
    return None


def _one_edit_apart(a: str, b: str) -> bool:
    """One letter inserted, dropped, replaced, or two neighbours swapped (not equal)."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        diffs = [k for k in range(len(a)) if a[k] != b[k]]
        return len(diffs) == 1 or (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and a[diffs[0]] == b[diffs[1]]
            and a[diffs[1]] == b[diffs[0]]
        )
    shorter, longer = (a, b) if len(a) < len(b) else (b, a)
    k = 0
    while k < len(shorter) and shorter[k] == longer[k]:
        k += 1
    return shorter[k:] == longer[k + 1 :]


# ----------------------------------------------------------------------------- choosing


def pick_mention(ref: ReferenceData, mentions: Sequence[Mention]) -> Mention | None:
    """The place a piece of text is about, from the places it names.

    Origins and destinations count only when nothing else is named; a bare region name only
    when no city or district is. The city or district named most often wins (the first one
    on a tie), and within it the most specific place.
    """
    if not mentions:
        return None
    pool = [m for m in mentions if not m.peripheral] or list(mentions)
    ix = locality_index(ref)
    pool = [m for m in pool if ix.depth(m.code) > 0] or pool
    if len(pool) == 1:
        only = pool[0]
        return Mention(only.code, only.start, only.end, only.matched, only.qualified, False)
    units = Counter(ix.top_unit(m.code) for m in pool)
    first_at: dict[str, int] = {}
    for m in pool:
        first_at.setdefault(ix.top_unit(m.code), m.start)
    unit = max(units, key=lambda u: (units[u], -first_at[u]))
    members = [m for m in pool if ix.top_unit(m.code) == unit]
    code = ix.most_specific([m.code for m in members])
    chosen = next((m for m in members if m.code == code), members[0])
    return Mention(code, chosen.start, chosen.end, chosen.matched, chosen.qualified, False)


def resolve_locality(
    ref: ReferenceData, locality_code: str | None, address: str | None, text: str | None
) -> LocalityMatch:
    """The most specific locality the appeal is about (see the module docstring for choices)."""
    ix = locality_index(ref)
    given = locality_code if locality_code and locality_code in ix.chain else None
    context = ix.chain[given] if given else ()
    in_address = find_mentions(ref, address, context)
    in_text = find_mentions(ref, text, context)
    notes: list[str] = []
    if locality_code and not given:
        notes.append(f"unknown locality code {locality_code!r} ignored")

    base: LocalityMatch
    from_address = pick_mention(ref, in_address)
    from_text = pick_mention(ref, in_text)
    if given is not None and ix.depth(given) == 0 and (from_address or from_text):
        # A whole region chosen says little (often just "Karaganda region" from a form):
        # a place the address or the text names is more precise, even in another region.
        given = None
    if given is not None:
        base = LocalityMatch(code=given, how="given")
        plain = [m for m in in_address + in_text if not m.peripheral and ix.depth(m.code) > 0]
        in_text_plain = [m for m in in_text if not m.peripheral and ix.depth(m.code) > 0]
        from_text_plain = pick_mention(ref, in_text_plain)
        if from_address and not ix.related(given, from_address.code):
            base = LocalityMatch(
                code=from_address.code, how="address", matched=from_address.matched
            )
            notes.append(f"the address names {from_address.code}, not the chosen {given}")
        elif (
            from_text_plain
            and not from_address
            and not ix.related(given, from_text_plain.code)
            and _support(ix, in_text_plain, from_text_plain.code) > _support(ix, plain, given)
        ):
            base = LocalityMatch(
                code=from_text_plain.code, how="text", matched=from_text_plain.matched
            )
            notes.append(
                f"the text is mostly about {from_text_plain.code}, not the chosen {given}, "
                "which is most likely the applicant's own locality"
            )
    elif from_address:
        base = LocalityMatch(code=from_address.code, how="address", matched=from_address.matched)
    elif from_text:
        base = LocalityMatch(code=from_text.code, how="text", matched=from_text.matched)
    else:
        base = LocalityMatch(code=ix.home, how="default")
        notes.append("no place named: routed as the whole region")

    refined = _refine(ix, base, in_address, in_text)
    note = "; ".join(notes) or None
    return LocalityMatch(refined.code, refined.how, refined.matched, note)


def _support(ix: LocalityIndex, mentions: Sequence[Mention], code: str) -> int:
    """How many mentions name `code`'s city or district, or a place inside or above it."""
    unit = ix.top_unit(code)
    return sum(1 for m in mentions if ix.related(m.code, code) or ix.top_unit(m.code) == unit)


def _refine(
    ix: LocalityIndex, base: LocalityMatch, in_address: list[Mention], in_text: list[Mention]
) -> LocalityMatch:
    """A more specific place inside `base` named in the address or the text, if any."""
    inside = [
        (how, m)
        for how, mentions in (("address", in_address), ("text", in_text))
        for m in mentions
        if not m.peripheral and m.code != base.code and ix.within(m.code, base.code)
    ]
    if not inside:
        return base
    code = ix.most_specific([m.code for _, m in inside])
    if code == base.code:
        return base
    how, chosen = next((h, m) for h, m in inside if m.code == code)
    return LocalityMatch(
        code=code, how="address" if how == "address" else "text", matched=chosen.matched
    )
