"""Russian, Kazakh and English for the dashboard: messages, numbers and Asia/Almaty dates.

No Babel here: the three languages need a few month names and two number styles, written out
below from CLDR (ru and kk group digits with a no-break space and use a decimal comma).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from appeals_law.calendar import ALMATY

Lang = Literal["ru", "kk", "en"]
LANGUAGES: tuple[Lang, ...] = ("ru", "kk", "en")
DEFAULT_LANG: Lang = "ru"
LANGUAGE_NAMES: dict[Lang, str] = {"ru": "Русский", "kk": "Қазақша", "en": "English"}

NBSP = "\u00a0"

MESSAGES: dict[str, tuple[str, str, str]] = {
    # key: (ru, kk, en)
    "app.title": ("Мониторинг обращений", "Өтініштер мониторингі", "Appeals monitoring"),
    "nav.alerts": ("Оповещения", "Хабарламалар", "Alerts"),
    "nav.compliance": ("Соблюдение сроков", "Мерзімдердің сақталуы", "Compliance"),
    "nav.backlog": ("Нерассмотренные", "Қаралмағандар", "Backlog"),
    "nav.inboxes": ("Входящие органов", "Органдардың кіріс жәшігі", "Agency inboxes"),
    "nav.at-risk": ("Под угрозой", "Қауіп төнген", "At risk"),
    "nav.what-if": ("Что если", "Егер де", "What-if"),
    "whatif.title": (
        "Что если: проверка справочника маршрутизации",
        "Егер де: бағыттау анықтамалығын тексеру",
        "What-if: try a routing reference change",
    ),
    "whatif.help": (
        "Предлагаемый справочник (JSON, как GET /v1/reference маршрутизации) применяется к "
        "обращениям периода: сколько ушло бы в другой орган. Ничего не публикуется и не "
        "меняется.",
        "Ұсынылған анықтамалық (JSON, бағыттаудың GET /v1/reference сияқты) кезеңнің "
        "өтініштеріне қолданылады: қаншасы басқа органға кетер еді. Ештеңе жарияланбайды "
        "және өзгермейді.",
        "The proposed reference document (JSON, shaped like routing's GET /v1/reference) is "
        "replayed over the period's appeals: how many would go to another agency. Nothing is "
        "published or changed.",
    ),
    "whatif.proposal": ("Предлагаемое изменение", "Ұсынылған өзгеріс", "Proposed change"),
    "whatif.since": ("С", "Бастап", "Since"),
    "whatif.until": ("По (включительно)", "Дейін (қоса)", "Until (inclusive)"),
    "whatif.file": ("Файл справочника (JSON)", "Анықтамалық файлы (JSON)", "Reference file (JSON)"),
    "whatif.paste": (
        "…или вставьте документ",
        "…немесе құжатты қойыңыз",
        "…or paste the document",
    ),
    "whatif.token": ("Токен оператора", "Оператор токені", "Operator token"),
    "whatif.token_help": (
        "Передаётся маршрутизации только для этого запроса и нигде не хранится.",
        "Бағыттауға тек осы сұрау үшін жіберіледі және еш жерде сақталмайды.",
        "Sent to routing for this request only and stored nowhere.",
    ),
    "whatif.submit": ("Показать отчёт", "Есепті көрсету", "Show the report"),
    "whatif.csv": (
        "Скачать CSV перемещённых обращений",
        "Ауыстырылған өтініштердің CSV жүктеу",
        "Download the moved appeals (CSV)",
    ),
    "whatif.report": ("Отчёт", "Есеп", "Report"),
    "whatif.summary": (
        "{since} — {until}: обращений {appeals}, ушло бы в другой орган {moved}.",
        "{since} — {until}: өтініштер {appeals}, басқа органға кетер еді {moved}.",
        "{since} to {until}: {appeals} appeals replayed, {moved} would move.",
    ),
    "whatif.versions": (
        "Справочник: действующий {before}, предлагаемый {after}.",
        "Анықтамалық: қолданыстағы {before}, ұсынылған {after}.",
        "Reference: in force {before}, proposed {after}.",
    ),
    "whatif.moves": (
        "Куда ушли бы обращения",
        "Өтініштер қайда кетер еді",
        "Where appeals would go",
    ),
    "whatif.from": ("Из органа", "Органнан", "From"),
    "whatif.to": ("В орган", "Органға", "To"),
    "whatif.appeals": ("Обращений", "Өтініштер", "Appeals"),
    "whatif.examples": ("Примеры", "Мысалдар", "Examples"),
    "whatif.load": (
        "Изменение нагрузки органов",
        "Органдар жүктемесінің өзгерісі",
        "Change in each agency's load",
    ),
    "whatif.before": ("Было", "Болды", "Before"),
    "whatif.after": ("Стало бы", "Болар еді", "After"),
    "whatif.change": ("Изменение", "Өзгеріс", "Change"),
    "whatif.none": ("Ничего не изменилось бы.", "Ештеңе өзгермес еді.", "Nothing would change."),
    "whatif.triage": ("Разбор операторами", "Операторлар талдауы", "Operators' triage"),
    "whatif.no_token": (
        "Вставьте свой токен оператора.",
        "Оператор токеніңізді қойыңыз.",
        "Paste your operator token.",
    ),
    "whatif.no_reference": (
        "Загрузите или вставьте предлагаемый справочник.",
        "Ұсынылған анықтамалықты жүктеңіз немесе қойыңыз.",
        "Upload or paste the proposed reference document.",
    ),
    "whatif.not_json": (
        "Справочник должен быть JSON-объектом (в UTF-8).",
        "Анықтамалық JSON-объект болуы керек (UTF-8).",
        "The reference must be a JSON object (UTF-8).",
    ),
    "whatif.too_large": (
        "Файл справочника слишком велик.",
        "Анықтамалық файлы тым үлкен.",
        "The reference file is too large.",
    ),
    "whatif.bad_dates": (
        "Укажите даты в виде ГГГГ-ММ-ДД; «по» не раньше «с».",
        "Күндерді ЖЖЖЖ-АА-КК түрінде көрсетіңіз; «дейін» «бастап»-тан ерте емес.",
        "Give the dates as YYYY-MM-DD, until not before since.",
    ),
    "whatif.token_refused": (
        "Маршрутизация не приняла токен: нужен действующий токен оператора.",
        "Бағыттау токенді қабылдамады: оператордың жарамды токені қажет.",
        "Routing refused the token: a valid operator token is needed.",
    ),
    "whatif.refused": (
        "Маршрутизация отклонила запрос: {reason}",
        "Бағыттау сұрауды қабылдамады: {reason}",
        "Routing refused the request: {reason}",
    ),
    "whatif.routing_away": (
        "Служба маршрутизации недоступна. Попробуйте позже.",
        "Бағыттау қызметі қолжетімсіз. Кейінірек қайталаңыз.",
        "The routing service is unavailable. Try again later.",
    ),
    "risk.title": (
        "Обращения под угрозой нарушения срока",
        "Мерзімі бұзылу қаупі бар өтініштер",
        "Appeals at risk of breach",
    ),
    "risk.help": (
        "Прогноз: вероятность нарушения срока по истории ответов органа, сначала самые "
        "рискованные, затем с наименьшим числом рабочих дней.",
        "Болжам: органның жауап тарихы бойынша мерзімді бұзу ықтималдығы, алдымен ең қауіпті, "
        "содан кейін жұмыс күндері ең аз қалғандары.",
        "Predicted: the probability of a breach learned from the agencies' answer history, "
        "riskiest first, then the fewest working days left.",
    ),
    "risk.days_left": ("Осталось раб. дн.", "Қалған жұм. күн", "Working days left"),
    "risk.risk": ("Риск", "Қауіп", "Risk"),
    "risk.none": (
        "Нет оценённых открытых обращений",
        "Бағаланған ашық өтініштер жоқ",
        "No open appeals scored",
    ),
    "risk.expected": (
        "Ожидаемые нарушения сроков в этом месяце",
        "Осы айда күтілетін мерзім бұзушылықтар",
        "Expected breaches this month",
    ),
    "risk.expected_breached": ("уже нарушено", "бұзылып қойған", "already breached"),
    "risk.expected_predicted": ("прогноз", "болжам", "predicted"),
    "risk.expected_of": (
        "по открытым со сроком в этом месяце:",
        "осы айда мерзімі бар ашықтар бойынша:",
        "among the open ones due this month:",
    ),
    "inboxes.title": ("Входящие органов", "Органдардың кіріс жәшігі", "Agency inboxes"),
    "inboxes.help": (
        "Сколько назначений орган ещё не прочитал из своего топика, самое старое "
        "неподтверждённое назначение и когда орган последний раз подтверждал чтение. "
        "Страница обновляется каждые 30 секунд.",
        "Орган өз топигінен әлі оқымаған тағайындаулар саны, ең ескі расталмаған тағайындау "
        "және орган оқуды соңғы рет қашан растағаны. Бет әр 30 секунд сайын жаңарады.",
        "How many assignments the agency has not read from its topic yet, its oldest "
        "unconfirmed assignment and when it last committed. The page reloads every 30 s.",
    ),
    "inboxes.state": ("Состояние", "Күйі", "State"),
    "inboxes.ok": ("в порядке", "қалыпты", "ok"),
    "inboxes.stalled": ("не разбирается", "қаралмайды", "stalled"),
    "inboxes.reason.lag": ("не читает", "оқымайды", "unread"),
    "inboxes.reason.unconfirmed": ("не подтверждает", "растамайды", "unconfirmed"),
    "inboxes.lag": ("Не прочитано", "Оқылмаған", "Unread"),
    "inboxes.lagging_since": ("Отстаёт с", "Артта қалған уақыты", "Behind since"),
    "inboxes.unconfirmed": ("Не подтверждено", "Расталмаған", "Unconfirmed"),
    "inboxes.oldest_unconfirmed": (
        "Самое старое неподтверждённое",
        "Ең ескі расталмаған",
        "Oldest unconfirmed",
    ),
    "inboxes.last_commit": ("Последнее чтение", "Соңғы оқу", "Last commit"),
    "inboxes.checked": ("Проверено", "Тексерілді", "Checked"),
    "inboxes.none": (
        "Наблюдение ещё не проводилось.",
        "Бақылау әлі жүргізілген жоқ.",
        "The inboxes have not been checked yet.",
    ),
    "nav.sign_out": ("Выйти", "Шығу", "Sign out"),
    "nav.signed_in_as": ("Вход выполнен:", "Кірген:", "Signed in as"),
    "demo.banner": (
        "ДЕМО-ДАННЫЕ: смоделированная история и демонстрационные обращения, не рабочие данные",
        "ДЕМО-ДЕРЕКТЕР: модельденген тарих пен демо өтініштер, нақты деректер емес",
        "DEMO DATA: a simulated history and demo appeals, not production data",
    ),
    "footer.zone": (
        "Время — Алматы (Asia/Almaty)",
        "Уақыт — Алматы (Asia/Almaty)",
        "Times are Almaty time (Asia/Almaty)",
    ),
    "signin.title": ("Вход по токену", "Токенмен кіру", "Sign in with a token"),
    "signin.help": (
        "Вставьте токен, выданный платформой (роль monitoring или agency).",
        "Платформа берген токенді қойыңыз (monitoring немесе agency рөлі).",
        "Paste the token the platform issued you (role monitoring or agency).",
    ),
    "signin.token": ("Токен", "Токен", "Token"),
    "signin.submit": ("Войти", "Кіру", "Sign in"),
    "signin.refused": ("Токен отклонён", "Токен қабылданбады", "The token was refused"),
    "signin.role": (
        "Эта роль не имеет доступа к мониторингу",
        "Бұл рөлдің мониторингке рұқсаты жоқ",
        "This role has no access to the dashboard",
    ),
    "signin.expired": (
        "Сеанс истёк, войдите снова",
        "Сеанс аяқталды, қайта кіріңіз",
        "Your session has ended; sign in again",
    ),
    "alerts.title": ("Оповещения о сроках", "Мерзім туралы хабарламалар", "Deadline alerts"),
    "alerts.live": ("в реальном времени", "нақты уақытта", "live"),
    "alerts.offline": (
        "нет связи, переподключение…",
        "байланыс жоқ, қайта қосылу…",
        "reconnecting…",
    ),
    "alerts.none": ("Оповещений нет", "Хабарламалар жоқ", "No alerts"),
    "alerts.shown": ("Показано последних:", "Соңғылары көрсетілген:", "Latest shown:"),
    "filter.agency": ("Орган", "Орган", "Agency"),
    "filter.locality": ("Населённый пункт", "Елді мекен", "Locality"),
    "filter.kind": ("Тип", "Түрі", "Type"),
    "filter.severity": ("Важность", "Маңыздылығы", "Severity"),
    "filter.status": ("Статус", "Мәртебесі", "Status"),
    "filter.any": ("все", "барлығы", "all"),
    "filter.apply": ("Применить", "Қолдану", "Apply"),
    "filter.reset": ("Сбросить", "Тазарту", "Reset"),
    "status.open": ("не подтверждённые", "расталмағандар", "not acknowledged"),
    "status.acknowledged": ("подтверждённые", "расталғандар", "acknowledged"),
    "col.raised": ("Время", "Уақыты", "Raised"),
    "col.kind": ("Тип", "Түрі", "Type"),
    "col.severity": ("Важность", "Маңыздылығы", "Severity"),
    "col.appeal": ("Обращение", "Өтініш", "Appeal"),
    "col.agency": ("Орган", "Орган", "Agency"),
    "col.locality": ("Населённый пункт", "Елді мекен", "Locality"),
    "col.due": ("Срок", "Мерзімі", "Due"),
    "col.days_late": ("Просрочка, раб. дн.", "Кешігу, жұм. күн", "Working days late"),
    "col.acknowledgement": ("Подтверждение", "Растау", "Acknowledgement"),
    "ack.comment": ("Комментарий", "Түсініктеме", "Comment"),
    "ack.submit": ("Подтвердить", "Растау", "Acknowledge"),
    "ack.by": ("Подтвердил(а)", "Растаған", "Acknowledged by"),
    "ack.conflict": (
        "Оповещение уже подтверждено",
        "Хабарлама бұрын расталған",
        "The alert was already acknowledged",
    ),
    "kind.warning": ("Предупреждение", "Ескерту", "Warning"),
    "kind.breached": ("Нарушение срока", "Мерзімнің бұзылуы", "Breach"),
    "kind.overdue_reminder": (
        "Напоминание о просрочке",
        "Кешігу туралы еске салу",
        "Overdue reminder",
    ),
    "kind.escalated": ("Эскалация", "Жоғары органға хабарлау", "Escalation"),
    "kind.redirect_overdue": (
        "Просрочена переадресация",
        "Қайта жолдау кешіктірілді",
        "Late redirect",
    ),
    "kind.at_risk": ("Риск нарушения срока", "Мерзімді бұзу қаупі", "At risk of breach"),
    "severity.info": ("информация", "ақпарат", "info"),
    "severity.warning": ("предупреждение", "ескерту", "warning"),
    "severity.violation": ("нарушение", "бұзушылық", "violation"),
    "severity.critical": ("критично", "сыни", "critical"),
    "escalated_to": ("эскалировано в", "жіберілді:", "escalated to"),
    "days_left": ("раб. дн. до срока", "мерзімге дейін жұм. күн", "working days left"),
    "compliance.title": ("Соблюдение сроков", "Мерзімдердің сақталуы", "Compliance"),
    "compliance.period": ("Период", "Кезең", "Period"),
    "compliance.from": ("с", "бастап", "from"),
    "compliance.to": ("по", "дейін", "to"),
    "compliance.compare": ("Сравнить с", "Салыстыру", "Compare with"),
    "compare.last_year": (
        "тем же периодом прошлого года",
        "өткен жылдың сол кезеңімен",
        "the same period last year",
    ),
    "compare.preceding": ("предыдущим периодом", "алдыңғы кезеңмен", "the preceding period"),
    "compare.custom": ("периодом:", "кезеңмен:", "a period:"),
    "preset.quarter": ("этот квартал", "осы тоқсан", "this quarter"),
    "preset.last_quarter": ("прошлый квартал", "өткен тоқсан", "last quarter"),
    "preset.year": ("этот год", "осы жыл", "this year"),
    "preset.last_year": ("прошлый год", "өткен жыл", "last year"),
    "compliance.current": ("Период", "Кезең", "Period"),
    "compliance.previous": ("Сравнение", "Салыстыру", "Comparison"),
    "compliance.totals": ("Итого по области", "Облыс бойынша барлығы", "Region total"),
    "compliance.totals_agency": ("Итого по органу", "Орган бойынша барлығы", "Agency total"),
    "table.region": (
        "По районам и городам",
        "Аудандар мен қалалар бойынша",
        "By district and city",
    ),
    "table.district": (
        "По районам и городам областного значения",
        "Аудандар мен облыстық маңызы бар қалалар бойынша",
        "By district and city",
    ),
    "table.locality": ("По населённым пунктам", "Елді мекендер бойынша", "By locality"),
    "table.agency": (
        "Органы, худшие сверху",
        "Органдар, нашарлары жоғарыда",
        "Agencies, worst first",
    ),
    "table.level": ("По уровням органов", "Орган деңгейлері бойынша", "By agency level"),
    "table.csv": ("Скачать CSV", "CSV жүктеу", "Download CSV"),
    "chart.on_time": (
        "Доля ответов в срок",
        "Мерзімінде берілген жауаптар үлесі",
        "On-time share",
    ),
    "m.name": ("Наименование", "Атауы", "Name"),
    "m.received": ("Поступило", "Түсті", "Received"),
    "m.answered": ("Отвечено", "Жауап берілді", "Answered"),
    "m.on_time_share": ("В срок, %", "Мерзімінде, %", "On time, %"),
    "m.open_overdue": ("Просрочено, без ответа", "Мерзімі өткен, жауапсыз", "Open overdue"),
    "m.answered_late": ("Ответы с нарушением срока", "Мерзімі бұзылған жауаптар", "Late answers"),
    "m.redirected_late": (
        "Переадресовано с нарушением",
        "Кешіктіріліп жолданған",
        "Late redirects",
    ),
    "m.median_days": (
        "Медиана, раб. дн.",
        "Медиана, жұм. күн",
        "Median working days",
    ),
    "m.redirect_days_lost": (
        "Потеряно на переадресациях, раб. дн.",
        "Қайта жолдауларда жоғалған, жұм. күн",
        "Redirect days lost",
    ),
    "m.redirect_days_received": (
        "Пришло с переадресациями, раб. дн.",
        "Қайта жолдаулармен келген, жұм. күн",
        "Redirect days received",
    ),
    "m.redirect_days_help": (
        "Переадресации: рабочие дни, которые обращение провело в органе до его переадресации,"
        " у переадресовавшего органа «потеряны», у органа, куда его направили, «пришли».",
        "Қайта жолдаулар: өтініш қайта жолданғанға дейін органда өткізген жұмыс күндері, қайта"
        " жолдаған органда «жоғалған», ол жіберілген органда «келген» болып есептеледі.",
        "Redirects: the working days an appeal spent at an agency before it was redirected,"
        " 'lost' by the agency that redirected it and 'received' by the agency it was sent to.",
    ),
    "m.small_sample": ("мало данных", "дерек аз", "small sample"),
    "m.small_sample_help": (
        "Меньше {n} ответов и просрочек: доля ненадёжна, в рейтинге внизу",
        "{n}-ден аз жауап пен кешігу: үлес сенімсіз, рейтингте төменде",
        "Fewer than {n} answers and overdue appeals: the share is unreliable; ranked last",
    ),
    "m.definition": (
        "Доля в срок = ответы в срок / (все ответы + просроченные без ответа).",
        "Мерзімінде үлесі = мерзімінде жауаптар / (барлық жауаптар + жауапсыз мерзімі өткендер).",
        "On-time share = answers on time / (all answers + open overdue).",
    ),
    "appeal.title": ("Обращение", "Өтініш", "Appeal"),
    "appeal.timeline": ("Ход рассмотрения", "Қарау барысы", "Timeline"),
    "appeal.clock": ("Сроки", "Мерзімдер", "Clock"),
    "appeal.hop": ("Этап", "Кезең", "Hop"),
    "appeal.type": ("Вид обращения", "Өтініш түрі", "Appeal type"),
    "appeal.category": ("Категория", "Санат", "Category"),
    "appeal.state": ("Состояние", "Күйі", "State"),
    "appeal.received": ("Поступило в орган", "Органға түсті", "Received by the agency"),
    "appeal.start_day": ("Первый день срока", "Мерзімнің бірінші күні", "Day 1 of the term"),
    "appeal.term": ("Срок, дней", "Мерзімі, күн", "Term, days"),
    "appeal.original_due": ("Исходный срок", "Бастапқы мерзім", "Original due date"),
    "appeal.due": ("Срок ответа", "Жауап мерзімі", "Due"),
    "appeal.redirect_due": (
        "Срок переадресации",
        "Қайта жолдау мерзімі",
        "Redirect due",
    ),
    "appeal.extensions": ("Продления", "Ұзартулар", "Extensions"),
    "appeal.outcome": ("Итог", "Нәтижесі", "Outcome"),
    "appeal.rules": (
        "Версия правил / календаря",
        "Ережелер / күнтізбе нұсқасы",
        "Rules / calendar",
    ),
    "hops.title": ("Время на этапах", "Кезеңдердегі уақыт", "Time at each hop"),
    "hops.confirmed": ("Получение подтверждено", "Алғаны расталды", "Receipt confirmed"),
    "hops.ended": (
        "Переадресовано / дан ответ",
        "Қайта жолданды / жауап берілді",
        "Redirected / answered",
    ),
    "hops.reason": ("Причина переадресации", "Қайта жолдау себебі", "Redirect reason"),
    "hops.working_days": ("Рабочих дней", "Жұмыс күндері", "Working days"),
    "hops.total": (
        "Всего с поступления обращения",
        "Өтініш түскеннен бері барлығы",
        "In all, since the appeal was received",
    ),
    "appeal.none": ("Обращение не найдено", "Өтініш табылмады", "No such appeal"),
    "state.open": ("на рассмотрении", "қаралуда", "open"),
    "state.answered": ("дан ответ", "жауап берілді", "answered"),
    "state.redirected": ("переадресовано", "қайта жолданды", "redirected"),
    "outcome.on_time": ("в срок", "мерзімінде", "on time"),
    "outcome.late": ("с нарушением срока", "мерзімі бұзылып", "late"),
    "unit.working": ("рабочих", "жұмыс", "working"),
    "unit.calendar": ("календарных", "күнтізбелік", "calendar"),
    "event.received": ("Поступило", "Түсті", "Received"),
    "event.assigned": ("Направлено", "Жолданды", "Assigned"),
    "event.redirected": ("Переадресовано", "Қайта жолданды", "Redirected"),
    "event.extended": ("Срок продлён", "Мерзімі ұзартылды", "Term extended"),
    "event.warning": ("Предупреждение", "Ескерту", "Warning"),
    "event.breached": ("Нарушен срок", "Мерзім бұзылды", "Deadline breached"),
    "event.overdue_reminder": (
        "Напоминание о просрочке",
        "Кешігу туралы еске салу",
        "Overdue reminder",
    ),
    "event.escalated": ("Эскалация", "Жоғары органға хабарланды", "Escalated"),
    "event.redirect_overdue": ("Просрочена переадресация", "Қайта жолдау кешікті", "Late redirect"),
    "event.at_risk": ("Риск нарушения срока", "Мерзімді бұзу қаупі", "At risk of breach"),
    "event.answered": ("Дан ответ", "Жауап берілді", "Answered"),
    "event.acknowledged": ("Оповещение подтверждено", "Хабарлама расталды", "Alert acknowledged"),
    "routing.method": ("Способ", "Тәсілі", "Method"),
    "routing.confidence": ("Уверенность", "Сенімділік", "Confidence"),
    "routing.unknown": (
        "объяснение маршрутизации не сохранено",
        "бағыттау түсіндірмесі сақталмаған",
        "the routing explanation was not recorded",
    ),
    "routing.partial": ("частично", "ішінара", "partly"),
    "routing.from": ("из", "қайдан:", "from"),
    "routing.to": ("в", "қайда:", "to"),
    "routing.reason": ("Причина", "Себебі", "Reason"),
    "backlog.title": ("Нерассмотренные обращения", "Қаралмаған өтініштер", "Open appeals"),
    "backlog.open": ("На рассмотрении", "Қаралуда", "Open"),
    "backlog.overdue": ("Из них просрочено", "Оның ішінде мерзімі өткен", "Of which overdue"),
    "backlog.choose": (
        "Выберите орган, чтобы увидеть его обращения",
        "Өтініштерін көру үшін органды таңдаңыз",
        "Choose an agency to see its appeals",
    ),
    "backlog.overdue_by": ("просрочено на", "кешікті:", "overdue by"),
    "backlog.days": ("дн.", "күн", "days"),
    "error.forbidden": ("Нет доступа", "Рұқсат жоқ", "Not allowed"),
    "error.not_found": ("Не найдено", "Табылмады", "Not found"),
    "error.bad_request": ("Неверный запрос", "Қате сұрау", "Bad request"),
    "level.region_akimat": (
        "Аппарат акима области",
        "Облыс әкімінің аппараты",
        "Regional akim's office",
    ),
    "level.region_department": ("Управления области", "Облыс басқармалары", "Regional departments"),
    "level.city_akimat": ("Акиматы городов", "Қала әкімдіктері", "City akimats"),
    "level.city_department": ("Отделы городов", "Қала бөлімдері", "City departments"),
    "level.district_akimat": ("Акиматы районов", "Аудан әкімдіктері", "District akimats"),
    "level.territorial_body": ("Территориальные органы", "Аумақтық органдар", "Territorial bodies"),
    "level.out_of_region": (
        "Органы вне области",
        "Облыстан тыс органдар",
        "Bodies outside the region",
    ),
    "type.statement": ("заявление", "өтініш", "statement"),
    "type.complaint": ("жалоба", "шағым", "complaint"),
    "type.proposal": ("предложение", "ұсыныс", "proposal"),
    "type.feedback": ("отклик", "пікір", "feedback"),
    "type.report": ("сообщение", "хабарлама", "report"),
    "type.request": ("запрос", "сұрау салу", "request"),
    "name.none": ("не указано", "көрсетілмеген", "not given"),
    "name.all": ("Все", "Барлығы", "All"),
    "sector.local_executive": (
        "Местные исполнительные органы",
        "Жергілікті атқарушы органдар",
        "Local executive bodies",
    ),
    "sector.territorial": (
        "Территориальные органы центральных госорганов",
        "Орталық мемлекеттік органдардың аумақтық органдары",
        "Territorial bodies of central government",
    ),
    "sector.other": ("Прочие органы", "Басқа органдар", "Other bodies"),
    "table.sector": (
        "Местные исполнительные органы и прочие",
        "Жергілікті атқарушы органдар және басқалар",
        "Local executive bodies and others",
    ),
    "m.violations": ("Нарушений всего", "Барлық бұзушылық", "Violations"),
    "m.as_of": ("на", "күйі бойынша", "as of"),
    "compliance.choose": ("Период", "Кезең", "Period"),
    "compliance.ranked": (
        "Сначала худшие: наименьшая доля ответов в срок.",
        "Алдымен нашарлары: мерзімінде жауап үлесі ең төмен.",
        "Worst first: the lowest on-time share.",
    ),
    "compliance.quick": ("Быстрое сравнение", "Жылдам салыстыру", "Quick comparisons"),
    "trend.title": (
        "Помесячно за {n} мес.",
        "{n} ай бойы ай сайын",
        "Month by month, last {n} months",
    ),
    "trend.scope": ("Показать", "Көрсету", "Show"),
    "trend.month": ("Месяц", "Ай", "Month"),
    "trend.on_time": ("Ответы в срок", "Мерзімінде берілген жауаптар", "Answered on time"),
    "trend.open_overdue": (
        "Просрочено без ответа на конец месяца",
        "Ай соңында мерзімі өткен, жауапсыз",
        "Open overdue at month end",
    ),
    "trend.help": (
        "Ответы с нарушением срока — ответы, данные после истечения срока, в месяце ответа; "
        "рядом — обращения без ответа с истёкшим сроком на конец месяца (для текущего — на "
        "сегодня).",
        "Мерзімі бұзылған жауаптар — мерзімі өткеннен кейін берілген жауаптар, жауап берілген "
        "айда; қасында — ай соңындағы мерзімі өткен жауапсыз өтініштер (ағымдағы ай үшін — "
        "бүгінгі күнге).",
        "Late answers are answers given after the due date, in the month of the answer; beside "
        "them, the appeals still unanswered past their due date at the month's end (today, for "
        "the running month).",
    ),
    "period.month": ("месяц", "ай", "month"),
    "period.quarter": ("квартал", "тоқсан", "quarter"),
    "period.year": ("год", "жыл", "year"),
}

_INDEX: dict[Lang, int] = {"ru": 0, "kk": 1, "en": 2}

MONTHS_FULL: dict[Lang, tuple[str, ...]] = {
    # Russian in the genitive ("5 марта"), as dates are written.
    "ru": (
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ),
    "kk": (
        "қаңтар",
        "ақпан",
        "наурыз",
        "сәуір",
        "мамыр",
        "маусым",
        "шілде",
        "тамыз",
        "қыркүйек",
        "қазан",
        "қараша",
        "желтоқсан",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}

MONTHS_SHORT: dict[Lang, tuple[str, ...]] = {
    "ru": (
        "янв.",
        "февр.",
        "мар.",
        "апр.",
        "мая",
        "июн.",
        "июл.",
        "авг.",
        "сент.",
        "окт.",
        "нояб.",
        "дек.",
    ),
    "kk": (
        "қаң.",
        "ақп.",
        "нау.",
        "сәу.",
        "мам.",
        "мау.",
        "шіл.",
        "там.",
        "қыр.",
        "қаз.",
        "қар.",
        "жел.",
    ),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}


def language(value: str | None) -> Lang:
    """A supported language code, or the default for anything else."""
    for lang in LANGUAGES:
        if value == lang:
            return lang
    return DEFAULT_LANG


def from_accept_language(header: str | None) -> Lang:
    """The first supported language of an Accept-Language header, else Russian."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip().lower()
        primary = tag.split("-")[0]
        for lang in LANGUAGES:
            if primary == lang:
                return lang
    return DEFAULT_LANG


def text(lang: Lang, key: str, **values: object) -> str:
    """The message `key` in `lang`; a missing key shows itself rather than failing a page."""
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    message = entry[_INDEX[lang]]
    return message.format(**values) if values else message


def integer(lang: Lang, value: int) -> str:
    grouped = f"{value:,}"
    return grouped if lang == "en" else grouped.replace(",", NBSP)


def decimal(lang: Lang, value: float, places: int = 1) -> str:
    formatted = f"{value:,.{places}f}"
    if lang == "en":
        return formatted
    return formatted.replace(",", NBSP).replace(".", ",")


def percent(lang: Lang, share: float | None, places: int = 1) -> str:
    """A share in 0..1 as a percentage; None (nothing to divide) is a dash."""
    if share is None:
        return "—"
    number = decimal(lang, share * 100, places)
    # CLDR: ru puts a no-break space before the sign, kk and en do not.
    return f"{number}{NBSP}%" if lang == "ru" else f"{number}%"


def local(moment: datetime) -> datetime:
    """The moment on the Almaty wall clock (UTC+6 before 2024-03-01, UTC+5 after)."""
    return moment.astimezone(ALMATY)


def day_text(lang: Lang, day: date, *, short: bool = True) -> str:
    months = MONTHS_SHORT[lang] if short else MONTHS_FULL[lang]
    month = months[day.month - 1]
    if lang == "ru":
        return f"{day.day}{NBSP}{month} {day.year}"
    if lang == "kk":
        return f"{day.year}{NBSP}ж. {day.day}{NBSP}{month}"
    return f"{day.day}{NBSP}{month} {day.year}"


def moment_text(lang: Lang, moment: datetime, *, short: bool = True) -> str:
    """Date and time in Almaty, e.g. ru "5 мар. 2024, 14:05", kk "2024 ж. 5 нау., 14:05"."""
    wall = local(moment)
    return f"{day_text(lang, wall.date(), short=short)}, {wall:%H:%M}"


def iso_local(moment: datetime) -> str:
    """Machine-readable local time with its offset, for `<time datetime>` and CSV files."""
    return local(moment).isoformat(timespec="seconds")


RU_MONTHS_NOMINATIVE = (
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
)
ROMAN = ("I", "II", "III", "IV")


def period_text(lang: Lang, label: str) -> str:
    """A compliance period label ("2022", "2022Q1", "2022-03") in words."""
    year = label[:4]
    if len(label) == 6 and label[4] in "Qq" and label[5] in "1234":
        quarter = int(label[5])
        if lang == "ru":
            return f"{ROMAN[quarter - 1]} квартал {year}"
        if lang == "kk":
            return f"{year}{NBSP}ж. {ROMAN[quarter - 1]} тоқсан"
        return f"Q{quarter} {year}"
    if len(label) == 7 and label[4] == "-" and label[5:].isdigit() and 1 <= int(label[5:]) <= 12:
        month = int(label[5:])
        if lang == "ru":
            return f"{RU_MONTHS_NOMINATIVE[month - 1]} {year}"
        if lang == "kk":
            return f"{year}{NBSP}ж. {MONTHS_FULL['kk'][month - 1]}"
        return f"{MONTHS_FULL['en'][month - 1]} {year}"
    if lang == "ru":
        return f"{year} год"
    if lang == "kk":
        return f"{year} жыл"
    return year
