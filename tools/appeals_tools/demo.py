"""Demo appeals for local runs and benchmarks: realistic, valid, deterministic for a seed.

Texts are written for this module (not taken from the dev set), a few per category group in
Russian and Kazakh. Places, categories and agencies come from the reference YAML. The mix
roughly follows the dev set: most applicants are individuals, some anonymous or legal
entities; about 40 % come without a category and half without a locality code, some of
those with the place only in the free-text address.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from importlib.resources import files
from itertools import accumulate
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel

from appeals_contracts.identity import check_digit
from appeals_contracts.submission import (
    AppealSubmission,
    AppealType,
    Applicant,
    ApplicantKind,
    Attachment,
    Language,
    Location,
)

# Asia/Almaty has been UTC+5 since 2024-03-01, and every demo date is later than that.
_ALMATY = timezone(timedelta(hours=5))
_FIRST_DAY = datetime(2025, 1, 1, tzinfo=_ALMATY)
_DAYS = 500

_TYPE_CODES = {
    "s": AppealType.STATEMENT,
    "c": AppealType.COMPLAINT,
    "p": AppealType.PROPOSAL,
    "f": AppealType.FEEDBACK,
    "r": AppealType.REPORT,
    "q": AppealType.REQUEST,
}
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class _Template:
    category: str
    types: tuple[AppealType, ...]
    subject: str
    text: str
    fields: bool  # whether subject or text has {placeholders} to fill


def _templates(rows: list[tuple[str, str, str, str]]) -> list[_Template]:
    return [
        _Template(
            category,
            tuple(_TYPE_CODES[t] for t in types),
            subject,
            text,
            "{" in subject + text,
        )
        for category, types, subject, text in rows
    ]


# Placeholders: {days} (2-20), {n} (2-9). Places are never inflected inside a sentence
# (Russian and Kazakh case endings depend on the name); the address goes in its own sentence.
# fmt: off
_RU = _templates(
    [
        ("HOUSING-HEATING", "sc", "Холодные батареи в квартире",
         "С начала отопительного сезона батареи в квартире чуть тёплые, в комнатах не выше "
         "+16. Обращались в КСК и в теплосеть, но каждый отправляет к другому. Просим провести "
         "замеры и сделать перерасчёт за отопление."),
        ("HOUSING-WATER", "c", "Нет холодной воды {days} дней",
         "Уже {days} дней в доме нет холодной воды, о плановых работах никто не предупреждал. "
         "Воду возим канистрами, в доме пожилые люди и дети. Прошу сообщить, когда восстановят "
         "водоснабжение."),
        ("HOUSING-ELECTRICITY", "sc", "Постоянные отключения света",
         "За последнюю неделю свет отключали {n} раз, из-за перепадов напряжения сгорел "
         "холодильник. Диспетчер электросетей ничего не объясняет. Прошу проверить "
         "трансформатор и возместить ущерб."),
        ("HOUSING-GAS", "sq", "Подключение улицы к газу",
         "Наша улица до сих пор не подключена к газораспределительной сети, хотя магистраль "
         "проходит рядом. Жители готовы собрать документы. Просим сообщить, включена ли улица "
         "в план газификации и в какие сроки."),
        ("HOUSING-MANAGEMENT", "c", "Течёт крыша, ОСИ бездействует",
         "После каждого дождя вода течёт по стенам подъезда и в квартиры верхнего этажа. "
         "Председатель ОСИ обещает ремонт уже второй год. Просим обязать обслуживающую "
         "организацию отремонтировать кровлю."),
        ("HOUSING-PROVISION", "sq", "Очередь на арендное жильё",
         "Я стою в очереди на арендное жильё как многодетная мать с 2019 года. Номер в очереди "
         "за это время почти не изменился. Прошу сообщить мой текущий номер и сроки."),
        ("TRANSPORT-ROADS", "c", "Ямы на дороге",
         "Дорога на нашей улице вся в ямах, после дождя их не видно и машины пробивают колёса. "
         "Ремонт обещали ещё прошлым летом. Просим включить улицу в план ямочного ремонта."),
        ("TRANSPORT-ROADS", "cp", "Не убирают снег",
         "После снегопада прошло {days} дней, а улицу никто не чистит, скорая и такси не могут "
         "проехать. Тротуары покрыты льдом, люди падают. Просим организовать уборку и посыпку."),
        ("TRANSPORT-PUBLIC", "cp", "Автобус ходит раз в час",
         "Автобус маршрута № {n} утром ходит с интервалом около часа, люди опаздывают на "
         "работу и учёбу. Если салон полный, водители не останавливаются. Просим добавить "
         "машины на маршрут."),
        ("URBAN-LANDSCAPING", "sp", "Детская площадка во дворе",
         "Во дворе нашего дома нет ни одной детской площадки, дети играют у дороги. Жители "
         "готовы помогать с уходом. Предлагаем установить площадку при благоустройстве дворов."),
        ("URBAN-WASTE", "c", "Переполнены мусорные контейнеры",
         "Контейнеры на площадке не вывозят уже {days} дней, мусор лежит вокруг, бегают крысы. "
         "За вывоз мусора платим регулярно. Просим восстановить график вывоза."),
        ("URBAN-STRAY-ANIMALS", "cr", "Стая бездомных собак",
         "Возле школы постоянно держится стая из {n} бездомных собак, они бросаются на детей и "
         "прохожих. Вчера собака покусала ребёнка. Просим срочно провести отлов."),
        ("BUILD-LAND", "sq", "Земельный участок под ИЖС",
         "Несколько лет назад я встал в очередь на участок под индивидуальное жилищное "
         "строительство. С тех пор никакой информации нет. Прошу сообщить номер в очереди и "
         "сроки предоставления участка."),
        ("BUILD-CONSTRUCTION", "cr", "Самовольная стройка во дворе",
         "Во дворе без всяких объявлений начали строить пристройку к магазину, техника "
         "работает до ночи. Разрешительных документов нам не показали. Просим проверить "
         "законность строительства."),
        ("BUILD-ARCHITECTURE", "cp", "Рекламный щит закрывает обзор",
         "На перекрёстке поставили большой рекламный щит, он закрывает обзор водителям и "
         "пешеходам. Просим проверить разрешение на размещение рекламы."),
        ("SOCIAL-BENEFITS", "sq", "Отказ в адресной социальной помощи",
         "Я одна воспитываю детей, их у меня {n}, доход семьи ниже черты бедности. В адресной "
         "социальной помощи отказали без объяснения причин. Прошу пересмотреть решение."),
        ("SOCIAL-EMPLOYMENT", "sq", "Помощь в трудоустройстве",
         "Полгода не могу найти работу по специальности. В центре занятости зарегистрирован, "
         "но вакансий не предлагают. Прошу включить меня в программу переобучения."),
        ("SOCIAL-LABOUR", "c", "Задержка зарплаты",
         "Работодатель уже {n} месяца не выплачивает зарплату, говорят, что денег нет. "
         "Трудовые договоры на руки не выдали. Просим провести проверку и защитить наши права."),
        ("EDUCATION-SCHOOLS", "sc", "Отменили подвоз учеников",
         "Дети из посёлка ходят в школу пешком по трассе, школьный автобус отменили с начала "
         "четверти. Зимой это опасно. Просим восстановить подвоз учащихся."),
        ("EDUCATION-SCHOOLS", "c", "Питание в школьной столовой",
         "Дети жалуются на питание в школьной столовой: порции маленькие, блюда холодные. "
         "Родительский комитет обращался к директору без результата. Просим проверить "
         "организацию питания."),
        ("EDUCATION-PRESCHOOL", "sq", "Место в детском саду",
         "Ребёнку уже {n} года, в электронной очереди в детский сад стоим с рождения, но "
         "направления так и нет. Прошу сообщить, когда будет место."),
        ("HEALTH-CARE", "c", "Не записаться к терапевту",
         "В поликлинику невозможно дозвониться, к терапевту запись только через {days} дней. "
         "Пожилые люди занимают очередь с шести утра. Просим навести порядок с записью."),
        ("HEALTH-CARE", "cq", "Не выдают бесплатные лекарства",
         "Я состою на диспансерном учёте, но бесплатные лекарства не выдают уже второй месяц, "
         "говорят, нет поставки. Прошу разобраться с лекарственным обеспечением."),
        ("HEALTH-CARE", "f", "Благодарность врачам",
         "Хочу поблагодарить врачей и медсестёр хирургического отделения за внимание и "
         "успешную операцию. Отдельное спасибо дежурной смене."),
        ("AGRO-FARMING", "sq", "Субсидия на корма",
         "Заявку на субсидию на корма подали весной, но выплаты до сих пор нет. В отделе "
         "сельского хозяйства ссылаются на отсутствие средств. Просим сообщить сроки выплаты."),
        ("AGRO-FARMING", "c", "Нет поливной воды",
         "Этим летом на поля не подают поливную воду, арык пересох, картофель гибнет. Фермеры "
         "готовы оплатить услугу. Просим организовать подачу воды."),
        ("AGRO-VETERINARY", "sr", "Падёж овец",
         "За неделю в хозяйстве пало {n} овец, у остальных животных высокая температура. "
         "Ветврач приезжал один раз и анализы не взял. Просим срочно направить ветеринарную "
         "службу."),
        ("ECOLOGY-ENVIRONMENT", "c", "Чёрный дым по ночам",
         "По ночам из трубы завода идёт густой чёрный дым, дышать невозможно даже при закрытых "
         "окнах. Просим замерить выбросы и привлечь предприятие к ответственности."),
        ("ECOLOGY-ENVIRONMENT", "r", "Вырубка леса",
         "В лесу рядом с посёлком рубят деревья и вывозят лес грузовиками, разрешений рабочие "
         "не показывают. Просим проверить законность вырубки."),
        ("ECOLOGY-ENVIRONMENT", "c", "Сброс стоков в реку",
         "В реку сбрасывают сточные воды, вода мутная и пахнет, погибла рыба. Просим взять "
         "пробы и найти виновных."),
        ("SAFETY-POLICE", "r", "Шум по ночам",
         "Соседи каждую ночь шумят до утра, на замечания отвечают угрозами. Участковый на "
         "вызовы не приезжает. Просим принять меры."),
        ("SAFETY-POLICE", "r", "Гонки во дворе",
         "По вечерам во дворе молодые люди гоняют на машинах, чуть не сбили ребёнка. Номера "
         "машин жители записали. Просим усилить патрулирование."),
        ("SAFETY-EMERGENCY", "cr", "Подтопление домов",
         "Талые воды подтапливают дома на нашей улице, в подвалах стоит вода. Канавы не "
         "чистили много лет. Просим принять меры до паводка."),
        ("SAFETY-SANITARY", "c", "Ржавая вода из-под крана",
         "Из-под крана течёт ржавая вода с неприятным запахом, пить её нельзя. Дети жалуются "
         "на боли в животе. Просим проверить качество питьевой воды."),
        ("ECONOMY-TAXES", "cq", "Ошибка в налоговом уведомлении",
         "Пришло уведомление о налоге на машину, проданную {n} года назад. Просим исправить "
         "сведения и снять начисление."),
        ("ECONOMY-CONSUMER", "c", "Магазин не возвращает деньги",
         "Телевизор, купленный в магазине, через {days} дней перестал включаться. Магазин "
         "отказывается принять его и вернуть деньги. Прошу защитить мои права потребителя."),
        ("ECONOMY-BUSINESS", "pq", "Грант начинающим предпринимателям",
         "Хочу открыть небольшую пекарню и подать заявку на грант для начинающих "
         "предпринимателей. Прошу разъяснить условия и список документов."),
        ("SOCIETY-CULTURE", "cp", "Закрыт дом культуры",
         "Дом культуры в посёлке закрыт уже год, детские кружки не работают, здание "
         "разрушается. Просим провести ремонт и возобновить работу."),
        ("SOCIETY-SPORT", "p", "Бесплатные секции для детей",
         "В районе нет ни одной бесплатной спортивной секции для детей. Предлагаем открыть "
         "секции по вечерам в школьном спортзале."),
        ("SOCIETY-YOUTH", "pq", "Молодёжный экологический проект",
         "Волонтёры хотят провести субботники на берегу и экологические акции для молодёжи. "
         "Просим помочь с инвентарём и информацией."),
        ("SOCIETY-RELIGION", "r", "Подозрительная религиозная группа",
         "В соседнем доме собираются люди, раздают литературу и зазывают подростков на "
         "занятия. Родители обеспокоены. Просим проверить деятельность группы."),
        ("SOCIETY-LANGUAGE", "c", "Вывески не на государственном языке",
         "На многих магазинах нашей улицы вывески и объявления без текста на государственном "
         "языке. Просим проверить соблюдение законодательства о языках."),
        ("GOV-JUSTICE", "q", "Бесплатная юридическая помощь",
         "Нужна консультация юриста по наследству, но платить адвокату нечем. Прошу "
         "разъяснить, как получить гарантированную государством юридическую помощь."),
        ("GOV-JUSTICE", "c", "Бездействие судебного исполнителя",
         "Решение суда о взыскании алиментов не исполняется {n} месяцев, частный судебный "
         "исполнитель не отвечает на звонки. Прошу проверить его работу."),
        ("GOV-CORRUPTION", "r", "Намёк на взятку",
         "Сотрудник отдела акимата намекнул, что справку выдадут быстрее за вознаграждение. "
         "Прошу проверить этот факт и принять меры."),
        ("OTHER", "p", "Выездные приёмы граждан",
         "Предлагаю проводить выездные приёмы в посёлках раз в квартал и публиковать отчёты о "
         "решённых вопросах. Многие жители не могут ездить в город."),
        ("OTHER", "f", "Вопрос так и не решён",
         "Получил ответ на своё обращение, но обещанные работы так и не проведены. Прошу "
         "рассмотреть обращение повторно."),
        ("OTHER", "c", "Сразу несколько проблем",
         "В посёлке нет освещения, дорога разбита, мусор вывозят раз в месяц. Отдельные "
         "обращения ничего не дали. Просим акима приехать и встретиться с жителями."),
    ]
)

_KK = _templates(
    [
        ("HOUSING-HEATING", "sc", "Пәтерде жылу жоқ",
         "Жылыту маусымы басталғаннан бері батареялар әрең жылы, бөлмеде +16 градустан "
         "аспайды. ПИК пен жылу желісі бір-біріне сілтейді. Өлшеу жүргізіп, жылу ақысын қайта "
         "есептеуді сұраймыз."),
        ("HOUSING-WATER", "c", "{days} күннен бері су жоқ",
         "Үйде {days} күннен бері суық су жоқ, жоспарлы жұмыс туралы ешкім ескертпеді. Суды "
         "канистрмен тасимыз, үйде қарттар мен балалар бар. Су қашан берілетінін "
         "хабарлауыңызды сұраймын."),
        ("HOUSING-ELECTRICITY", "c", "Жарық жиі сөнеді",
         "Соңғы аптада жарық {n} рет сөнді, кернеу ауытқығандықтан тоңазытқыш күйіп кетті. "
         "Диспетчер ештеңе түсіндірмейді. Трансформаторды тексеріп, залалды өтеуді сұраймын."),
        ("HOUSING-GAS", "sq", "Көшені газға қосу",
         "Біздің көше әлі күнге дейін газ желісіне қосылмаған, ал магистраль жақын жерден "
         "өтеді. Көше газдандыру жоспарына енгізілген бе, мерзімі қандай, хабарлауыңызды "
         "сұраймыз."),
        ("HOUSING-MANAGEMENT", "c", "Шатыр ағып тұр",
         "Әр жаңбырдан кейін кіреберіс қабырғасынан және жоғарғы қабаттағы пәтерлерге су "
         "ағады. МИБ төрағасы екі жылдан бері жөндеуді уәде етеді. Шатырды жөндеуге "
         "міндеттеуді сұраймыз."),
        ("HOUSING-PROVISION", "sq", "Жалдамалы тұрғын үй кезегі",
         "Көп балалы ана ретінде 2019 жылдан бері жалдамалы тұрғын үй кезегінде тұрмын, "
         "нөмірім іс жүзінде өзгерген жоқ. Қазіргі нөмірім мен мерзімін хабарлауыңызды "
         "сұраймын."),
        ("TRANSPORT-ROADS", "c", "Жолда шұңқыр көп",
         "Көшеміздегі жол шұңқырға толы, жаңбырдан кейін олар көрінбей, көліктің дөңгелегі "
         "жарылады. Көшені жол жөндеу жоспарына енгізуді сұраймыз."),
        ("TRANSPORT-ROADS", "cp", "Қар тазаланбайды",
         "Қар жауғаннан бері {days} күн өтсе де көше тазаланбады, жедел жәрдем өте алмайды. "
         "Жаяу жүргінші жолы мұз болып қалды. Қар тазалап, құм себуді сұраймыз."),
        ("TRANSPORT-PUBLIC", "cp", "Автобус сағатына бір рет жүреді",
         "№ {n} бағыттағы автобус таңертең сағатына бір рет жүреді, адамдар жұмысқа кешігеді. "
         "Салон толы болса, жүргізуші тоқтамайды. Бағытқа қосымша автобус шығаруды сұраймыз."),
        ("URBAN-LANDSCAPING", "sp", "Аулада балалар алаңы жоқ",
         "Үйіміздің ауласында балалар алаңы жоқ, балалар жол жиегінде ойнайды. Аулаларды "
         "абаттандыру аясында алаң орнатуды ұсынамыз."),
        ("URBAN-WASTE", "c", "Қоқыс шығарылмайды",
         "Алаңдағы контейнерлер {days} күннен бері шығарылмады, қоқыс шашылып, егеуқұйрық жүр. "
         "Ақысын үнемі төлейміз. Шығару кестесін қалпына келтіруді сұраймыз."),
        ("URBAN-STRAY-ANIMALS", "cr", "Иесіз иттер",
         "Мектептің жанында {n} иесіз иттен тұратын үйір жүреді, балаларға тап береді. Кеше "
         "бір балаға ит қапты. Иттерді шұғыл аулауды сұраймыз."),
        ("BUILD-LAND", "sq", "Жеке үй құрылысына жер телімі",
         "Бірнеше жыл бұрын жеке тұрғын үй құрылысына жер телімін алу кезегіне тұрдым, содан "
         "бері ақпарат жоқ. Кезектегі нөмірім мен мерзімін хабарлауыңызды сұраймын."),
        ("BUILD-CONSTRUCTION", "cr", "Аулада рұқсатсыз құрылыс",
         "Ауламызда хабарландырусыз дүкенге жапсаржай сала бастады, техника түнге дейін жұмыс "
         "істейді. Құрылыстың заңдылығын тексеруді сұраймыз."),
        ("BUILD-ARCHITECTURE", "cp", "Жарнама қалқаны көріністі жабады",
         "Қиылыста үлкен жарнама қалқаны қойылды, ол жүргізушілерге көріністі жауып тұр. "
         "Жарнама орналастыруға берілген рұқсатты тексеруді сұраймыз."),
        ("SOCIAL-BENEFITS", "sq", "Атаулы әлеуметтік көмек",
         "{n} баланы жалғыз тәрбиелеп отырмын, табысымыз кедейлік шегінен төмен. Атаулы "
         "әлеуметтік көмектен себебін айтпай бас тартты. Шешімді қайта қарауды сұраймын."),
        ("SOCIAL-EMPLOYMENT", "sq", "Жұмысқа орналасуға көмек",
         "Жарты жылдан бері мамандығым бойынша жұмыс таба алмай жүрмін, жұмыспен қамту "
         "орталығы бос орын ұсынбайды. Қайта оқыту бағдарламасына қосуды сұраймын."),
        ("SOCIAL-LABOUR", "c", "Жалақы кешіктіріледі",
         "Жұмыс беруші {n} айдан бері жалақы төлемейді, еңбек шарттары қолымызға берілмеген. "
         "Тексеру жүргізіп, құқығымызды қорғауды сұраймыз."),
        ("EDUCATION-SCHOOLS", "sc", "Оқушыларды тасымалдау тоқтады",
         "Ауылдың балалары мектепке трассамен жаяу барады, мектеп автобусы тоқтатылған. Қыста "
         "бұл қауіпті. Оқушыларды тасымалдауды қалпына келтіруді сұраймыз."),
        ("EDUCATION-SCHOOLS", "c", "Мектептегі тамақтану",
         "Балалар мектеп асханасындағы тамаққа шағымданады: порция аз, тағам суық. Тамақтануды "
         "ұйымдастыруды тексеруді сұраймыз."),
        ("EDUCATION-PRESCHOOL", "sq", "Балабақшадан орын",
         "Балама {n} жас толды, туғаннан бері балабақшаға электрондық кезекте тұрмыз, жолдама "
         "әлі жоқ. Орын қашан болатынын хабарлауыңызды сұраймын."),
        ("HEALTH-CARE", "c", "Дәрігерге жазылу қиын",
         "Емханаға телефон соғу мүмкін емес, терапевтке тек {days} күннен кейін жазылуға "
         "болады. Қарттар таңғы алтыдан кезек күтеді. Жазылу тәртібін реттеуді сұраймыз."),
        ("HEALTH-CARE", "cq", "Тегін дәрі берілмейді",
         "Диспансерлік есепте тұрмын, бірақ екінші ай тегін дәрі берілмейді, жеткізілім жоқ "
         "дейді. Дәрімен қамтамасыз етуді тексеруді сұраймын."),
        ("HEALTH-CARE", "f", "Дәрігерлерге алғыс",
         "Хирургия бөлімшесінің дәрігерлері мен мейірбикелеріне ықыласы және сәтті ота үшін "
         "алғысымды білдіремін. Осындай мамандар көп болсын."),
        ("AGRO-FARMING", "sq", "Жемге субсидия",
         "Жем сатып алуға субсидия өтінімін көктемде бердік, төлем әлі жоқ. Ауыл шаруашылығы "
         "бөлімі қаржы жоқ дейді. Төлем мерзімін хабарлауыңызды сұраймыз."),
        ("AGRO-FARMING", "c", "Суармалы су берілмейді",
         "Биыл егістікке суармалы су берілмей жатыр, арық құрғап, картоп құрып барады. Су "
         "беруді ұйымдастыруды сұраймыз."),
        ("AGRO-VETERINARY", "sr", "Қойлар өліп жатыр",
         "Шаруашылығымызда бір аптада {n} қой өлді, қалған малдың қызуы көтерілген. "
         "Ветеринарлық қызметті шұғыл жіберуді сұраймыз."),
        ("ECOLOGY-ENVIRONMENT", "c", "Мұржадан қара түтін",
         "Түнде зауыт мұржасынан қою қара түтін шығады, терезе жабық болса да тыныс алу қиын. "
         "Шығарындыларды өлшеп, кәсіпорынды жауапқа тартуды сұраймыз."),
        ("ECOLOGY-ENVIRONMENT", "r", "Орман кесілуде",
         "Кенттің жанындағы орманда ағаш кесіліп, жүк көлігімен тасылып жатыр. Ағаш кесудің "
         "заңдылығын тексеруді сұраймыз."),
        ("ECOLOGY-ENVIRONMENT", "c", "Өзенге ағынды су төгілуде",
         "Өзенге ағынды су төгіліп, су лайланды, балық қырылды. Судан сынама алып, кінәлілерді "
         "анықтауды сұраймыз."),
        ("SAFETY-POLICE", "r", "Түнгі шу",
         "Көршілер түнде таңға дейін шулайды, ескерту жасасақ қорқытады. Учаскелік инспектор "
         "шақыруға келмейді. Шара қабылдауды сұраймыз."),
        ("SAFETY-POLICE", "r", "Аулада көлік жарысы",
         "Кешкісін аулада жастар көлікпен жарысады, бір баланы қағып кете жаздады. "
         "Патрульдеуді күшейтуді сұраймыз."),
        ("SAFETY-EMERGENCY", "cr", "Үйлерді су басу қаупі",
         "Еріген су көшедегі үйлерді басып, жертөлелерде су тұр. Арықтар көп жылдан бері "
         "тазаланбаған. Су тасқынына дейін шара қабылдауды сұраймыз."),
        ("SAFETY-SANITARY", "c", "Краннан тот басқан су",
         "Краннан жағымсыз иісті, тот басқан су ағады, оны ішуге болмайды. Ауыз судың сапасын "
         "тексеруді сұраймыз."),
        ("ECONOMY-TAXES", "cq", "Салық хабарламасындағы қате",
         "{n} жыл бұрын сатылған көлікке салық туралы хабарлама келді. Мәліметті түзетіп, "
         "есептелген салықты алып тастауды сұраймын."),
        ("ECONOMY-CONSUMER", "c", "Дүкен ақшаны қайтармайды",
         "Дүкеннен алынған теледидар {days} күннен кейін қосылмай қалды, дүкен ақшаны "
         "қайтарудан бас тартты. Тұтынушы құқығымды қорғауды сұраймын."),
        ("ECONOMY-BUSINESS", "pq", "Жаңа кәсіпкерлерге грант",
         "Шағын наубайхана ашып, жаңа бастаған кәсіпкерлерге арналған грантқа өтінім бергім "
         "келеді. Шарттары мен құжаттар тізімін түсіндіруді сұраймын."),
        ("SOCIETY-CULTURE", "cp", "Мәдениет үйі жабық",
         "Кентіміздегі мәдениет үйі бір жылдан бері жабық, балалар үйірмелері жұмыс істемейді. "
         "Жөндеп, жұмысын қайта бастауды сұраймыз."),
        ("SOCIETY-SPORT", "p", "Балаларға спорт секциясы",
         "Ауданымызда балаларға арналған тегін спорт секциясы жоқ. Кешкісін мектеп "
         "спортзалында секциялар ашуды ұсынамыз."),
        ("SOCIETY-YOUTH", "pq", "Жастар жобасын қолдау",
         "Еріктілер жағалауды тазалау және жастарға экологиялық сенбілік өткізгісі келеді. "
         "Құрал-жабдықпен көмектесуді сұраймыз."),
        ("SOCIETY-RELIGION", "r", "Күмәнді діни топ",
         "Көрші үйде адамдар жиналып, әдебиет таратып, жасөспірімдерді сабаққа шақырады. Бұл "
         "топтың қызметін тексеруді сұраймыз."),
        ("SOCIETY-LANGUAGE", "c", "Маңдайшалар мемлекеттік тілде емес",
         "Көшеміздегі дүкендердің маңдайшалары мемлекеттік тілде жазылмаған. Тіл туралы заңның "
         "сақталуын тексеруді сұраймыз."),
        ("GOV-JUSTICE", "q", "Тегін заң көмегі",
         "Мұра мәселесі бойынша заңгер кеңесі керек, бірақ адвокатқа төлейтін қаражат жоқ. "
         "Кепілдік берілген заң көмегін қалай алуға болатынын түсіндіруді сұраймын."),
        ("GOV-JUSTICE", "c", "Сот орындаушысы әрекетсіз",
         "Алимент өндіру туралы сот шешімі {n} айдан бері орындалмай жатыр, сот орындаушысы "
         "телефон көтермейді. Оның жұмысын тексеруді сұраймын."),
        ("GOV-CORRUPTION", "r", "Пара талап ету",
         "Әкімдік қызметкері анықтаманы сыйақы берсем тезірек беретінін меңзеді. Осы фактіні "
         "тексеруді сұраймын."),
        ("OTHER", "p", "Көшпелі қабылдау туралы ұсыныс",
         "Ауылдарда азаматтарды көшпелі қабылдауды тоқсанына бір рет өткізуді ұсынамын. Көп "
         "тұрғын қалаға бара алмайды."),
        ("OTHER", "f", "Мәселе шешілмеді",
         "Өтінішіме жауап алдым, бірақ уәде етілген жұмыстар жүргізілмеді. Өтінішті қайта "
         "қарауды сұраймын."),
        ("OTHER", "c", "Кенттің бірнеше мәселесі",
         "Кентте жарық жоқ, жол бұзылған, қоқыс айына бір рет шығарылады. Әкімнің келіп, "
         "тұрғындармен кездесуін сұраймыз."),
    ]
)
# fmt: on

# How often each group turns up; HOUSING leads, as in the region's statistics.
_GROUP_WEIGHTS = {
    "HOUSING": 20, "TRANSPORT": 10, "URBAN": 12, "BUILD": 7, "SOCIAL": 7, "EDUCATION": 6,
    "HEALTH": 6, "AGRO": 4, "ECOLOGY": 3, "SAFETY": 9, "ECONOMY": 5, "SOCIETY": 5, "GOV": 3,
    "OTHER": 3,
}  # fmt: skip

_LOCALITY_WEIGHTS = {"city": 3.0, "city_district": 4.0, "district": 1.0, "town": 1.0,
                     "village": 1.0}  # fmt: skip
_KARAGANDA_WEIGHT = 6.0
_OUTSIDE_WEIGHT = 0.3  # область Ұлытау, still sent here by citizens who miss the 2022 split
# Rough centres for a few cities, so some appeals carry coordinates.
_CENTRES = {
    "KRG-KARAGANDA": (49.806, 73.085), "KRG-TEMIRTAU": (50.054, 72.964),
    "KRG-BALKHASH": (46.848, 74.995), "KRG-SARAN": (49.790, 72.845),
    "KRG-SHAKHTINSK": (49.708, 72.587), "KRG-PRIOZERSK": (46.031, 73.702),
    "ULY-ZHEZKAZGAN": (47.783, 67.714), "ULY-SATPAYEV": (47.900, 67.533),
}  # fmt: skip

_STREETS_RU = ("ул. Ленина", "ул. Абая", "ул. Гоголя", "ул. Мира", "ул. Жамбыла",
               "ул. Сатпаева", "ул. Школьная", "ул. Садовая", "ул. Центральная",
               "пр. Строителей", "ул. Казахстанская", "ул. Пушкина")  # fmt: skip
_STREETS_KK = ("Абай көшесі", "Жамбыл көшесі", "Сәтбаев көшесі", "Бейбітшілік көшесі",
               "Орталық көшесі", "Мектеп көшесі", "Тәуелсіздік даңғылы", "Достық көшесі",
               "Бірлік көшесі", "Желтоқсан көшесі")  # fmt: skip
_HOURS = tuple(range(24))
_QUALIFIER_RU = {"city": "г. {}", "town": "пос. {}", "village": "с. {}", "district": "{}"}
_QUALIFIER_KK = {"city": "{} қ.", "town": "{} кенті", "village": "{} ауылы", "district": "{}"}

# (male, female) surnames; patronymic stems; first names (male, female).
_SURNAMES_RU = (("Иванов", "Иванова"), ("Петров", "Петрова"), ("Смирнов", "Смирнова"),
                ("Кузнецов", "Кузнецова"), ("Попов", "Попова"), ("Васильев", "Васильева"),
                ("Морозов", "Морозова"), ("Ким", "Ким"), ("Шевченко", "Шевченко"),
                ("Ахметов", "Ахметова"), ("Жумабаев", "Жумабаева"), ("Нурланов", "Нурланова"),
                ("Тулегенов", "Тулегенова"), ("Касымов", "Касымова"), ("Оспанов", "Оспанова"),
                ("Сарсенбаев", "Сарсенбаева"), ("Искаков", "Искакова"))  # fmt: skip
_PATRONYMICS_RU = (("Сергеевич", "Сергеевна"), ("Александрович", "Александровна"),
                   ("Викторович", "Викторовна"), ("Николаевич", "Николаевна"),
                   ("Серикович", "Сериковна"), ("Маратович", "Маратовна"),
                   ("Ерланович", "Ерлановна"), ("Болатович", "Болатовна"))  # fmt: skip
_FIRST_RU = (("Александр", "Сергей", "Дмитрий", "Андрей", "Виктор", "Денис", "Ерлан", "Нурлан",
              "Асхат", "Данияр", "Бауыржан", "Талгат"),
             ("Ольга", "Наталья", "Елена", "Светлана", "Татьяна", "Ирина", "Айгерим", "Гульнара",
              "Динара", "Асель", "Жанар", "Салтанат"))  # fmt: skip
_SURNAMES_KK = (("Ахметов", "Ахметова"), ("Жұмабаев", "Жұмабаева"), ("Сейітқазиев", "Сейітқазиева"),
                ("Нұрланов", "Нұрланова"), ("Төлегенов", "Төлегенова"), ("Әбенов", "Әбенова"),
                ("Қасымов", "Қасымова"), ("Оспанов", "Оспанова"), ("Сәрсенбаев", "Сәрсенбаева"),
                ("Ысқақов", "Ысқақова"))  # fmt: skip
_FATHERS_KK = ("Серік", "Марат", "Болат", "Қайрат", "Ерлан", "Нұрлан", "Бақыт", "Асқар")
_FIRST_KK = (("Ерлан", "Нұрлан", "Асхат", "Данияр", "Бауыржан", "Ержан", "Айдос", "Мейрам",
              "Талғат"),
             ("Айгерім", "Гүлнара", "Динара", "Әсел", "Жанар", "Салтанат", "Айнұр", "Мадина",
              "Сәуле", "Қарлығаш"))  # fmt: skip
_COMPANIES = ("Қарағанды Жылу Сервис", "Сарыарқа Агро", "Теміртау Құрылыс Монтаж", "Балқаш Транс",
              "Нұр Строй Плюс", "Шахтинск Көмір Сервис", "Орталық Плюс", "Дала Агро",
              "Жарық Энерго", "Сарань Маркет")  # fmt: skip
_OPERATORS = ("700", "701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778")

_HOUR_WEIGHTS = tuple(
    accumulate((1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 10, 8, 9, 10, 10, 9, 8, 6, 5, 4, 3, 2, 1))
)


@dataclass(frozen=True)
class _Place:
    code: str
    type: str
    address: dict[Language, str]  # "г. Балхаш", "Қарағанды қ., Әлихан Бөкейхан ауданы"
    centre: tuple[float, float] | None


@dataclass(frozen=True)
class _Reference:
    places: tuple[_Place, ...]
    place_weights: tuple[float, ...]
    agencies: tuple[str, ...]
    groups: tuple[str, ...]
    group_weights: tuple[float, ...]
    templates: dict[tuple[Language, str], tuple[_Template, ...]]  # (language, group) -> ...


def _read_yaml(name: str) -> Any:
    text = files("appeals_reference").joinpath("data", name).read_text(encoding="utf-8")
    # The C loader reads the three files in ~15 ms, the pure-Python one in ~450 ms; both
    # build only plain data (a SafeLoader), hence the noqa.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)  # noqa: S506


def _place_address(loc: dict[str, Any], parent: dict[str, Any] | None) -> dict[Language, str]:
    if loc["type"] == "city_district" and parent is not None:
        return {
            Language.RU: f"г. {parent['name_ru']}, {loc['name_ru']}",
            Language.KK: f"{parent['name_kk']} қ., {loc['name_kk']}",
        }
    return {
        Language.RU: _QUALIFIER_RU[loc["type"]].format(loc["name_ru"]),
        Language.KK: _QUALIFIER_KK[loc["type"]].format(loc["name_kk"]),
    }


@cache
def _reference() -> _Reference:
    localities = _read_yaml("localities.yaml")["localities"]
    by_code = {loc["code"]: loc for loc in localities}
    places: list[_Place] = []
    weights: list[float] = []
    for loc in localities:
        if loc["type"] == "region":
            continue
        parent = by_code.get(loc["parent"] or "")
        code = loc["code"]
        places.append(_Place(code, loc["type"], _place_address(loc, parent), _CENTRES.get(code)))
        weight = _LOCALITY_WEIGHTS[loc["type"]]
        if code == "KRG-KARAGANDA":
            weight = _KARAGANDA_WEIGHT
        if loc.get("outside_jurisdiction"):
            weight = _OUTSIDE_WEIGHT
        weights.append(weight)

    known_categories = {c["code"] for c in _read_yaml("categories.yaml")["categories"]}
    templates: dict[tuple[Language, str], list[_Template]] = {}
    for language, rows in ((Language.RU, _RU), (Language.KK, _KK)):
        for template in rows:
            if template.category not in known_categories:
                raise ValueError(f"demo template for unknown category {template.category}")
            group = template.category.split("-")[0]
            templates.setdefault((language, group), []).append(template)

    groups = tuple(_GROUP_WEIGHTS)
    return _Reference(
        places=tuple(places),
        place_weights=tuple(accumulate(weights)),
        agencies=tuple(a["code"] for a in _read_yaml("agencies.yaml")["agencies"]),
        groups=groups,
        group_weights=tuple(accumulate(_GROUP_WEIGHTS[g] for g in groups)),
        templates={key: tuple(value) for key, value in templates.items()},
    )


class _Draw:
    """Random draws for one seed; random() arithmetic is several times cheaper than randint."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self.chance = self._rng.random

    def below(self, n: int) -> int:
        return int(self.chance() * n)

    def pick(self, items: tuple[T, ...]) -> T:
        return items[int(self.chance() * len(items))]

    def weighted(self, items: tuple[T, ...], cumulative: tuple[float, ...]) -> T:
        return items[bisect(cumulative, self.chance() * cumulative[-1])]

    def hex_digest(self) -> str:
        return self._rng.randbytes(32).hex()


def _built(cls: type[M], **fields: Any) -> M:
    """What model_construct does, minus its per-field Python loop (half the generator's time).

    Every field must be passed; the tests validate the output, so a missing one shows up.
    """
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", fields)
    object.__setattr__(model, "__pydantic_fields_set__", set(fields))
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


def _iin(draw: _Draw, female: bool) -> str:
    while True:
        year = 1945 + draw.below(62)
        first = (
            f"{year % 100:02d}{1 + draw.below(12):02d}{1 + draw.below(28):02d}"
            f"{(3 if year < 2000 else 5) + female}{draw.below(10_000):04d}"
        )
        digit = check_digit(first)
        if digit is not None:  # about 1 in 11 prefixes has no valid check digit
            return f"{first}{digit}"


def _bin(draw: _Draw) -> str:
    while True:
        first = f"{2 + draw.below(23):02d}{1 + draw.below(12):02d}40{draw.below(100_000):05d}"
        digit = check_digit(first)
        if digit is not None:
            return f"{first}{digit}"


def _phone(draw: _Draw) -> str:
    op, a, b, c = draw.pick(_OPERATORS), draw.below(1000), draw.below(100), draw.below(100)
    style = draw.below(3)
    if style == 0:
        return f"+7 {op} {a:03d} {b:02d} {c:02d}"
    if style == 1:
        return f"8{op}{a:03d}{b:02d}{c:02d}"
    return f"+7{op}{a:03d}{b:02d}{c:02d}"


def _person_name(draw: _Draw, language: Language, female: bool) -> str:
    if language is Language.KK:
        suffix = "қызы" if female else "ұлы"
        return (
            f"{draw.pick(_SURNAMES_KK)[female]} {draw.pick(_FIRST_KK[female])} "
            f"{draw.pick(_FATHERS_KK)}{suffix}"
        )
    return (
        f"{draw.pick(_SURNAMES_RU)[female]} {draw.pick(_FIRST_RU[female])} "
        f"{draw.pick(_PATRONYMICS_RU)[female]}"
    )


def _applicant(draw: _Draw, language: Language) -> Applicant:
    kind, iin, bin_, full_name, organization, phone, email = (
        ApplicantKind.ANONYMOUS, None, None, None, None, None, None
    )  # fmt: skip
    roll = draw.chance()
    if roll >= 0.07:
        phone = _phone(draw) if draw.chance() < 0.9 else None
    if 0.07 <= roll < 0.12:
        kind, bin_ = ApplicantKind.LEGAL_ENTITY, _bin(draw)
        company = draw.pick(_COMPANIES)
        organization = f"«{company}» ЖШС" if language is Language.KK else f"ТОО «{company}»"
    elif roll >= 0.12:
        female = draw.chance() < 0.55
        kind, iin = ApplicantKind.INDIVIDUAL, _iin(draw, female)
        full_name = _person_name(draw, language, female)
        if draw.chance() < 0.2:
            email = f"citizen{draw.below(1_000_000)}@mail.kz"
    return _built(
        Applicant,
        kind=kind,
        iin=iin,
        bin=bin_,
        full_name=full_name,
        organization=organization,
        phone=phone,
        email=email,
        postal_address=None,
    )


def _attachments(draw: _Draw, external_id: str) -> tuple[Attachment, ...]:
    return tuple(
        _built(
            Attachment,
            name=f"photo_{k}.jpg",
            url=f"https://files.egov.example.kz/{external_id}/{k}.jpg",
            sha256=draw.hex_digest(),
            size=20_000 + draw.below(5_000_000),
        )
        for k in range(1, 2 + draw.below(3))
    )


def _submission(draw: _Draw, ref: _Reference, external_id: str) -> AppealSubmission:
    language = Language.KK if draw.chance() < 0.3 else Language.RU
    group = draw.weighted(ref.groups, ref.group_weights)
    template = draw.pick(ref.templates[(language, group)])
    place = draw.weighted(ref.places, ref.place_weights)
    days, n = 2 + draw.below(19), 2 + draw.below(8)

    address = None
    if draw.chance() < 0.75:
        streets = _STREETS_KK if language is Language.KK else _STREETS_RU
        address = f"{place.address[language]}, {draw.pick(streets)} {1 + draw.below(120)}"
    text = template.text.format(days=days, n=n) if template.fields else template.text
    if address is not None and draw.chance() < 0.5:
        text += f" {'Мекенжай' if language is Language.KK else 'Адрес'}: {address}."
    lat = lon = None
    if place.centre is not None and draw.chance() < 0.3:
        lat = round(place.centre[0] + (draw.chance() - 0.5) * 0.06, 5)
        lon = round(place.centre[1] + (draw.chance() - 0.5) * 0.06, 5)
    moment = _FIRST_DAY + timedelta(
        days=draw.below(_DAYS),
        hours=draw.weighted(_HOURS, _HOUR_WEIGHTS),
        minutes=draw.below(60),
    )
    return _built(
        AppealSubmission,
        external_id=external_id,
        type=draw.pick(template.types),
        language=language,
        submitted_at=moment,
        applicant=_applicant(draw, language),
        subject=template.subject.format(days=days, n=n) if template.fields else template.subject,
        text=text,
        category=template.category if draw.chance() < 0.6 else None,
        location=_built(
            Location,
            locality=place.code if draw.chance() < 0.5 else None,
            address=address,
            lat=lat,
            lon=lon,
        ),
        addressee=draw.pick(ref.agencies) if draw.chance() < 0.05 else None,
        attachments=_attachments(draw, external_id) if draw.chance() < 0.1 else (),
        # Some applicants publish their appeal: Open311's anonymous reads show them, redacted.
        public=draw.chance() < 0.25,
    )


def demo_submissions(count: int, seed: int) -> Iterator[AppealSubmission]:
    """`count` valid submissions, the same ones for the same seed; ids are demo-<seed>-<n>.

    Built without validation: validating each one would cost more than generating it, and
    the tests validate thousands of them, so what this yields is valid by construction.
    """
    draw, ref = _Draw(seed), _reference()
    for n in range(count):
        yield _submission(draw, ref, f"demo-{seed}-{n:07d}")


def demo_bodies(count: int, seed: int) -> Iterator[dict[str, Any]]:
    """The same submissions as the JSON bodies an integration would POST."""
    for submission in demo_submissions(count, seed):
        yield submission.model_dump(mode="json")


def feed(url: str, token: str, rate: float, count: int, seed: int) -> int:
    """Post demo appeals at `rate` per second (count 0: until stopped); print progress."""
    import time

    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    sent = accepted = 0
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=10) as client:
        for body in demo_bodies(count or 10**9, seed):
            response = client.post("/v1/appeals", json=body, headers=headers)
            sent += 1
            accepted += response.status_code in (200, 201)
            if response.status_code >= 400:
                print(f"demo: {response.status_code} {response.text[:200]}", flush=True)
            if sent % 10 == 0:
                print(f"demo: {sent} posted, {accepted} accepted", flush=True)
            time.sleep(max(0.0, sent / rate - (time.monotonic() - started)))
    print(f"demo: done, {sent} posted, {accepted} accepted", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m appeals_tools.demo`: feed the running intake with realistic appeals."""
    import argparse
    import subprocess
    import sys
    import time

    from appeals_platform.auth import Role
    from appeals_tools.stack.layout import Layout, project_root
    from appeals_tools.stack.services import service_port
    from appeals_tools.tokens import ensure_keys, issue_token, signing_key

    parser = argparse.ArgumentParser(prog="appeals_tools.demo", description=main.__doc__)
    parser.add_argument("--url", default=f"http://127.0.0.1:{service_port('intake')}")
    parser.add_argument("--rate", type=float, default=5.0, help="appeals per second")
    parser.add_argument("--count", type=int, default=0, help="0: until stopped")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--background", action="store_true", help="detach, log to .local/logs")
    args = parser.parse_args(argv)
    if args.background:
        log = Layout(project_root()).log_file("demo")
        command = [
            sys.executable,
            "-m",
            "appeals_tools.demo",
            "--url",
            args.url,
            "--rate",
            str(args.rate),
            "--count",
            str(args.count),
            "--seed",
            str(args.seed),
        ]
        with log.open("ab") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        Layout(project_root()).pid_file("demo").write_text(str(process.pid))
        print(f"demo feeder running (pid {process.pid}, {args.rate}/s), log: {log}")
        return 0
    keys = Layout(project_root()).local / "keys"
    ensure_keys(keys)
    token = issue_token(signing_key(keys), Role.INTEGRATION, source="demo-feeder")
    return feed(args.url, token, args.rate, args.count, args.seed)


if __name__ == "__main__":
    raise SystemExit(main())
