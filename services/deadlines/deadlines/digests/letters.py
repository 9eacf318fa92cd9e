"""A digest as a message: subject, a plain-text part and an HTML part, in the recipient's
language. The figures come in ready (sender.py); this module only words and lays them out.

Dates are written dd.mm.yyyy, as official letters in Kazakhstan write them in both languages
(moments dd.mm.yyyy HH:MM, Almaty time).
No personal data goes into a digest: appeals are named by their registration numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from appeals_law.calendar import ALMATY
from deadlines.digests.recipients import Language
from deadlines.queries import InboxRecord

TEXTS: dict[str, tuple[str, str]] = {
    # key: (ru, kk)
    "subject.agency": (
        "Сводка по обращениям на {day}: {name}",
        "{day} күнгі өтініштер бойынша жиынтық: {name}",
    ),
    "subject.region": (
        "Сводка по обращениям Карагандинской области на {day}",
        "{day} күнгі Қарағанды облысының өтініштері бойынша жиынтық",
    ),
    "due_soon": (
        "Срок ответа истекает в ближайшие 3 рабочих дня (до {horizon})",
        "Жауап беру мерзімі алдағы 3 жұмыс күнінде аяқталады ({horizon} дейін)",
    ),
    "overdue": ("Срок ответа истёк", "Жауап беру мерзімі өтіп кетті"),
    "none": ("Нет.", "Жоқ."),
    "more": ("… и ещё {n}", "… және тағы {n}"),
    "number": ("Рег. номер", "Тіркеу нөмірі"),
    "type": ("Вид", "Түрі"),
    "due": ("Срок", "Мерзімі"),
    "left": ("Осталось раб. дней", "Қалған жұмыс күні"),
    "late": ("Просрочено раб. дней", "Кешіктірілген жұмыс күні"),
    "extended": ("продлён", "ұзартылған"),
    "agency": ("Орган", "Орган"),
    "open": ("На исполнении", "Орындалуда"),
    "due_soon.short": ("Срок ≤ 3 раб. дн.", "Мерзімі ≤ 3 жұмыс күні"),
    "overdue.short": ("Просрочено", "Мерзімі өткен"),
    "total": ("Итого", "Барлығы"),
    "region.title": (
        "Обращения на исполнении по органам, сначала с наибольшей просрочкой",
        "Орындалудағы өтініштер органдар бойынша, алдымен мерзімі көп өткендер",
    ),
    "footer": (
        "Письмо сформировано автоматически платформой обращений Карагандинской области"
        " и отправляется раз в рабочий день. Полные списки — на панели мониторинга: {url}",
        "Хатты Қарағанды облысының өтініштер платформасы автоматты түрде жасады, ол әр жұмыс"
        " күні бір рет жіберіледі. Толық тізімдер мониторинг тақтасында: {url}",
    ),
    "type.statement": ("заявление", "өтініш"),
    "type.complaint": ("жалоба", "шағым"),
    "type.proposal": ("предложение", "ұсыныс"),
    "type.feedback": ("отклик", "пікір"),
    "type.report": ("сообщение", "хабарлама"),
    "type.request": ("запрос", "сұрау салу"),
    "unconfirmed": (
        "Получение не подтверждено, сначала самые давние",
        "Алынғаны расталмаған, алдымен ең ескілері",
    ),
    "received": ("Получено", "Алынды"),
    "waiting": ("Ждёт раб. дней", "Күтуде, жұмыс күні"),
    "inbox": ("Входящие назначения органа", "Органның кіріс тағайындаулары"),
    "inbox.unknown": ("Ещё не проверялись.", "Әлі тексерілмеген."),
    "inbox.ok": (
        "Читаются и подтверждаются в обычном режиме.",
        "Қалыпты түрде оқылады және расталады.",
    ),
    "inbox.stalled": ("Не разбираются с {since}.", "{since} бастап қаралмайды."),
    "inbox.lag": (
        "Не прочитано записей в топике назначений: {n} (с {since}).",
        "Тағайындаулар топигінде оқылмаған жазбалар: {n} ({since} бастап).",
    ),
    "inbox.unconfirmed": (
        "Не подтверждено назначений: {n}, самое давнее получено {since}.",
        "Расталмаған тағайындаулар: {n}, ең ескісі {since} алынған.",
    ),
    "inbox.checked": ("Проверено {at}.", "Тексерілген уақыты: {at}."),
    "unconfirmed.short": ("Не подтверждено", "Расталмаған"),
    "region.stalled": (
        "Органы, не разбирающие входящие назначения",
        "Кіріс тағайындауларын қарамайтын органдар",
    ),
}


def text(language: Language, key: str, **values: object) -> str:
    words = TEXTS[key][0 if language == "ru" else 1]
    return words.format(**values) if values else words


def day_text(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def moment_text(moment: datetime) -> str:
    """A moment as Almaty's local day and time."""
    return moment.astimezone(ALMATY).strftime("%d.%m.%Y %H:%M")


@dataclass(frozen=True)
class Line:
    """One appeal in a list: its number, kind, a day (due, or received) and a count of working
    days (left, late, or waiting for confirmation)."""

    number: str
    kind: str
    day: date
    days: int
    extended: bool = False


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[Line]
    total: int
    day_column: str  # the text key naming the day column: "due" or "received"
    days_column: str  # and the days column: "left", "late" or "waiting"


@dataclass(frozen=True)
class RegionLine:
    name: str
    open: int
    due_soon: int
    overdue: int
    unconfirmed: int


@dataclass(frozen=True)
class StalledInbox:
    """A stalled agency in the regional digest: its name and what the watcher saw."""

    name: str
    facts: list[str]


def inbox_facts(
    language: Language, inbox: InboxRecord | None, *, checked: bool = True
) -> list[str]:
    """An agency's inbox state in sentences: stalled since when, and why (unread records,
    unconfirmed assignments), or read normally; from the inbox watcher's last look (and when
    that was, if `checked`)."""
    if inbox is None:
        return [text(language, "inbox.unknown")]
    facts = []
    if inbox.state == "stalled":
        since = inbox.changed_at or inbox.checked_at
        facts.append(text(language, "inbox.stalled", since=moment_text(since)))
    else:
        facts.append(text(language, "inbox.ok"))
    if inbox.lag > 0 and inbox.lagging_since is not None:
        facts.append(
            text(language, "inbox.lag", n=inbox.lag, since=moment_text(inbox.lagging_since))
        )
    if inbox.unconfirmed > 0 and inbox.oldest_unconfirmed_at is not None:
        facts.append(
            text(
                language,
                "inbox.unconfirmed",
                n=inbox.unconfirmed,
                since=moment_text(inbox.oldest_unconfirmed_at),
            )
        )
    if checked:
        facts.append(text(language, "inbox.checked", at=moment_text(inbox.checked_at)))
    return facts


@dataclass(frozen=True)
class Letter:
    subject: str
    text: str
    html: str


_ENVIRONMENT = Environment(
    loader=PackageLoader("deadlines.digests"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _render(name: str, **values: Any) -> str:
    return _ENVIRONMENT.get_template(name).render(**values)


def agency_letter(
    language: Language,
    *,
    day: date,
    agency_name: str,
    sections: list[Section],
    inbox: list[str],
    dashboard_url: str,
) -> Letter:
    values = {
        "lang": language,
        "t": lambda key, **v: text(language, key, **v),
        "day": day_text,
        "sections": sections,
        "inbox": inbox,
        "title": agency_name,
        "footer": text(language, "footer", url=dashboard_url),
    }
    return Letter(
        subject=text(language, "subject.agency", day=day_text(day), name=agency_name),
        text=_render("agency.txt", **values),
        html=_render("agency.html", **values),
    )


def region_letter(
    language: Language,
    *,
    day: date,
    lines: list[RegionLine],
    stalled: list[StalledInbox],
    dashboard_url: str,
) -> Letter:
    subject = text(language, "subject.region", day=day_text(day))
    values = {
        "lang": language,
        "t": lambda key, **v: text(language, key, **v),
        "title": subject,
        "lines": lines,
        "totals": RegionLine(
            text(language, "total"),
            sum(line.open for line in lines),
            sum(line.due_soon for line in lines),
            sum(line.overdue for line in lines),
            sum(line.unconfirmed for line in lines),
        ),
        "stalled": stalled,
        "footer": text(language, "footer", url=dashboard_url),
    }
    return Letter(
        subject=subject, text=_render("region.txt", **values), html=_render("region.html", **values)
    )


def message(
    letter: Letter,
    *,
    sender: str,
    recipient: str,
    language: Language,
    message_id: str,
    day: date,
    scope: str,
    now: Any,
) -> EmailMessage:
    """The MIME message: multipart/alternative, text first (what plain readers show)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = Address(addr_spec=recipient)
    mail["Subject"] = letter.subject
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = message_id
    # RFC 3834: no auto-replies to it; the last two let filters sort digests.
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Appeals-Digest"] = f"{scope}; {day.isoformat()}"
    mail.set_content(letter.text, subtype="plain", charset="utf-8")
    mail.add_alternative(letter.html, subtype="html", charset="utf-8")
    # After the parts: setting content drops the Content-* headers set before it.
    mail["Content-Language"] = language
    return mail


def message_id(recipient_key: str, day: date, domain: str) -> str:
    """The same id for every attempt at one digest, so receivers can drop a repeat."""
    return f"<digest.{day.isoformat()}.{recipient_key}@{domain}>"
