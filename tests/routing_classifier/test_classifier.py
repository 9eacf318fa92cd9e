"""The category classifier: training, ranking, calibration shape, persistence, boundaries."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import joblib
import numpy as np
import pytest

from appeals_reference import load_reference
from routing.classifier import (
    CategoryClassifier,
    LabelledText,
    _margins,
    corpus_version,
    default_classifier,
    load_training_examples,
    normalise,
)

SMALL_CORPUS = [
    LabelledText("В квартире холодные батареи, отопления нет", "HOUSING-HEATING"),
    LabelledText("Батареи еле тёплые, теплосеть не отвечает", "HOUSING-HEATING"),
    LabelledText("Котельная не работает, в домах холодно", "HOUSING-HEATING"),
    LabelledText("Пәтерде жылу жоқ, батареялар суық", "HOUSING-HEATING"),
    LabelledText("Жылу берілмеді, қазандық істемейді", "HOUSING-HEATING"),
    LabelledText("Бродячие собаки бросаются на детей, просим отлов", "URBAN-STRAY-ANIMALS"),
    LabelledText("Стая бездомных собак во дворе, собака укусила ребёнка", "URBAN-STRAY-ANIMALS"),
    LabelledText("Бездомные собаки у школы, нужен отлов собак", "URBAN-STRAY-ANIMALS"),
    LabelledText("Қаңғыбас иттер балаларға шабады, иттерді аулаңыз", "URBAN-STRAY-ANIMALS"),
    LabelledText("Иесіз иттер көп, ит қапты", "URBAN-STRAY-ANIMALS"),
    LabelledText("Ямы на дороге, асфальт разбит, нужен ремонт дороги", "TRANSPORT-ROADS"),
    LabelledText("Не чистят снег на улице, дорога в ямах", "TRANSPORT-ROADS"),
    LabelledText("Светофор не работает, разметки на дороге нет", "TRANSPORT-ROADS"),
    LabelledText("Жолда шұңқыр көп, жолды жөндеу керек", "TRANSPORT-ROADS"),
    LabelledText("Көшеде қар тазаланбайды, жол нашар", "TRANSPORT-ROADS"),
]

# Own sentences on each side of the boundaries in
# libs/reference/appeals_reference/data/README.md (not dev-set appeals).
BOUNDARY_CASES = [
    ("Третий день в доме нет воды, краны сухие, водоканал молчит.", "HOUSING-WATER"),
    ("Вода из крана идёт бурая, пахнет тиной, пить её страшно. Проверьте качество.",
     "SAFETY-SANITARY"),
    ("Возле остановки живёт свора бездомных собак, вчера покусали школьника.",
     "URBAN-STRAY-ANIMALS"),
    ("У овец в нашем хозяйстве язвы и падёж, нужен ветеринар и анализы на инфекцию.",
     "AGRO-VETERINARY"),
    ("Во дворе засохший тополь навис над качелями, просим спилить его.",
     "URBAN-LANDSCAPING"),
    ("В сосновом лесу под Каркаралинском ночью валят деревья и вывозят лесовозами.",
     "ECOLOGY-ENVIRONMENT"),
    ("В подъезде обвалилась штукатурка, протекает кровля, ОСИ не делает ремонт.",
     "HOUSING-MANAGEMENT"),
    ("Наш барак признан аварийным, когда жильцов переселят в нормальные квартиры?",
     "HOUSING-PROVISION"),
    ("Рекламную вывеску повесили прямо на фасад жилого дома без согласования.",
     "BUILD-ARCHITECTURE"),
    ("На вывеске кафе казахский текст написан с ошибками, нарушен закон о языках.",
     "SOCIETY-LANGUAGE"),
    ("Сосед угрожает мне ножом и обещает поджечь дом, прошу защиты полиции.",
     "SAFETY-POLICE"),
]  # fmt: skip


@pytest.fixture(scope="module")
def small() -> CategoryClassifier:
    return CategoryClassifier.train(SMALL_CORPUS)


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> CategoryClassifier:
    return default_classifier(tmp_path_factory.mktemp("classifier-cache"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Холодные батареи в квартире, нет отопления", "HOUSING-HEATING"),
        ("Үйде жылу жоқ, батарея суық", "HOUSING-HEATING"),
        ("net otopleniya, batarei holodnye", "HOUSING-HEATING"),
        ("Во дворе стая бродячих собак", "URBAN-STRAY-ANIMALS"),
        ("Қаңғыбас иттер ауланы басып алды", "URBAN-STRAY-ANIMALS"),
        ("brodyachie sobaki vo dvore", "URBAN-STRAY-ANIMALS"),
        ("Огромная яма на дороге", "TRANSPORT-ROADS"),
        ("yamy na doroge, nuzhen remont", "TRANSPORT-ROADS"),
    ],
)
def test_small_corpus_classifier_predicts_obvious_cases_in_every_script(
    small: CategoryClassifier, text: str, expected: str
) -> None:
    assert small.rank(text)[0].code == expected


def test_rank_lists_every_category_once_sorted_with_probabilities_summing_to_one(
    real: CategoryClassifier,
) -> None:
    ranking = real.rank("Не вывозят мусор, контейнеры переполнены")
    probabilities = [score.probability for score in ranking]
    assert sorted({s.code for s in ranking}) == sorted(real.categories)
    assert len(ranking) == len(real.categories) == 37
    assert probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) == pytest.approx(1.0)
    assert ranking[0].code == "URBAN-WASTE"


def test_rank_many_gives_the_same_rankings_as_rank_one_by_one(real: CategoryClassifier) -> None:
    texts = ["Нет света весь день", "Балабақша кезегі жылжымайды", ""]
    assert real.rank_many(texts) == [real.rank(t) for t in texts]
    assert real.rank_many([]) == []
    # What a batch of decisions reads: the same probabilities, as one matrix.
    codes, matrix = real.score_matrix(texts)
    assert [dict(zip(codes, row, strict=True)) for row in matrix.tolist()] == [
        {s.code: s.probability for s in real.rank(t)} for t in texts
    ]


@pytest.mark.parametrize(("text", "expected"), BOUNDARY_CASES)
def test_default_classifier_puts_boundary_cases_on_the_right_side(
    real: CategoryClassifier, text: str, expected: str
) -> None:
    assert real.rank(text)[0].code == expected


@pytest.mark.parametrize("path", ["compiled", "numpy"])
def test_array_arithmetic_gives_scikit_learns_margins(
    real: CategoryClassifier, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fast path must rank exactly as the fitted pipeline it was compiled from: texts of
    # every kind, words the model never saw, repeated words and bigrams, empty texts, and
    # batches of one as well as many. It normalises raw texts word by word itself. Both its
    # forms: the loop `make install` compiles, and numpy where there is no compiler.
    arithmetic = real._arithmetic
    assert arithmetic is not None, "the packaged model should take the fast path"
    if path == "numpy":
        monkeypatch.setattr(arithmetic, "compiled", None)
    elif arithmetic.compiled is None:
        pytest.skip("the classifier's loop is not compiled here (no C compiler, or stale)")
    texts = [e.text for e in load_training_examples()[::7]] + [
        "",
        "'",
        "щщщ zzzz ъъъ",
        "Нет воды нет ВОДЫ нет воды, нет воды!",
        "Су жоқ су жоқ. СУ ЖОҚ",
        "Voda net uzhe 3 dnya, g.Karaganda",
        "ул.Абая 12-45 (подъезд №3): крыша течёт",
    ]
    expected = _margins(real._features, real._model, [normalise(t) for t in texts])
    np.testing.assert_allclose(arithmetic.margins(texts), expected, atol=1e-5)
    for text in texts[-7:]:
        np.testing.assert_allclose(
            arithmetic.margins([text]),
            _margins(real._features, real._model, [normalise(text)]),
            atol=1e-5,
        )
    assert arithmetic.margins([]).shape == (0, len(real.categories))
    if arithmetic.compiled is not None:  # the compiled word pass joins the same columns
        for mine, theirs in zip(
            arithmetic.compiled.word_columns(texts, arithmetic._cache, arithmetic._word),
            arithmetic._columns(texts),
            strict=True,
        ):
            np.testing.assert_array_equal(mine, theirs)


def test_two_class_models_rank_through_scikit_learn(small: CategoryClassifier) -> None:
    pair = [e for e in SMALL_CORPUS if e.category != "TRANSPORT-ROADS"]
    two = CategoryClassifier.train(pair)
    assert two._arithmetic is None  # one signed margin: left to _margins
    assert two.rank("Батареи холодные")[0].code == "HOUSING-HEATING"
    assert small._arithmetic is not None


def test_latin_script_russian_is_classified_like_its_cyrillic_form(
    real: CategoryClassifier,
) -> None:
    cyrillic = real.rank("Нет горячей воды уже неделю, напора нет")
    latin = real.rank("Net goryachei vody uzhe nedelyu, napora net")
    assert latin[0].code == cyrillic[0].code == "HOUSING-WATER"
    assert latin[0].probability == pytest.approx(cyrillic[0].probability, abs=0.05)


def test_normalise_spells_latin_russian_in_cyrillic_and_folds_kazakh_letters() -> None:
    assert normalise("Net  goryachei VODY") == "нет горячей воды"
    # Kazakh typed on a Russian keyboard, with a Latin «i» standing in for «і».
    assert normalise("Ёлка\tв  Қарағанды кіреберіс") == normalise("елка в Караганды кiреберiс")
    assert normalise("ӘҒҚҢӨҰҮҺІЁ") == "агкноуухие"
    # Every kind of blank is one space, and none is left at the ends.
    assert normalise(" су\u00a0жоқ\u2028\u3000 \n ") == "су жок"


def test_saved_and_loaded_classifier_ranks_identically(
    small: CategoryClassifier, tmp_path: Path
) -> None:
    path = tmp_path / "model.joblib"
    small.save(path)
    loaded = CategoryClassifier.load(path)
    texts = ["холодно в квартире", "иттер", "yama na doroge"]
    assert loaded.version == small.version
    assert loaded.rank_many(texts) == small.rank_many(texts)


def test_loading_a_file_that_is_not_a_classifier_fails(tmp_path: Path) -> None:
    path = tmp_path / "other.joblib"
    joblib.dump({"something": "else"}, path)
    with pytest.raises(ValueError, match="not a category classifier"):
        CategoryClassifier.load(path)


def test_version_changes_when_the_corpus_changes_and_only_then(small: CategoryClassifier) -> None:
    extra = LabelledText("Лифт не работает месяц", "HOUSING-MANAGEMENT")
    assert CategoryClassifier.train(SMALL_CORPUS).version == small.version
    assert corpus_version([*SMALL_CORPUS, extra]) != small.version
    relabelled = [*SMALL_CORPUS[:-1], LabelledText(SMALL_CORPUS[-1].text, "HOUSING-HEATING")]
    assert corpus_version(relabelled) != small.version


def test_operator_examples_are_appended_to_the_packaged_corpus() -> None:
    extra = LabelledText("Оператор перенаправил: шум от кафе ночью", "SAFETY-POLICE")
    packaged = load_training_examples()
    combined = load_training_examples([extra])
    assert combined == [*packaged, extra]


def test_packaged_corpus_covers_every_reference_category_with_at_least_25_examples() -> None:
    counts = Counter(e.category for e in load_training_examples())
    reference = {c.code for c in load_reference().categories}
    assert set(counts) == reference
    assert min(counts.values()) >= 25


def test_default_classifier_is_cached_and_reloaded_under_its_corpus_version(
    real: CategoryClassifier, tmp_path: Path
) -> None:
    real.save(tmp_path / "unused.joblib")  # the cache folder may hold other files
    first = default_classifier(tmp_path)
    cached = list(tmp_path.glob(f"category-classifier-{first.version}-*.joblib"))
    again = default_classifier(tmp_path)
    assert first.version == real.version == again.version
    assert len(cached) == 1
    assert again.rank("нет воды") == first.rank("нет воды")


def test_training_on_a_single_category_is_refused() -> None:
    with pytest.raises(ValueError, match="two categories"):
        CategoryClassifier.train([LabelledText("нет воды", "HOUSING-WATER")] * 3)
