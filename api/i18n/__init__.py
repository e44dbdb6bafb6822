"""Language: every text a person reads comes from gettext catalogs (``locales/<locale>/
LC_MESSAGES/messages.po``, read through Babel), and dates, times, numbers and distances are
formatted by Babel for the reader's locale.

- Message ids are the English texts; ``zh_CN`` (the default) and ``en`` are complete catalogs.
  Adding a language is adding a catalog (``make i18n-init LOCALE=mn``), no code change.
- The locale of the work at hand lives in a context variable: the HTTP edge sets it per request
  (the user's choice, then the language cookie, then ``Accept-Language``); the command line from
  its option or the environment. ``gettext`` (``_``) translates in that locale.
- ``qps`` is a pseudo-locale made from the message ids at load time (every translated text
  marked ⟦…⟧ with accented letters): tests use it to find text that escaped the catalogs.

Sits below every layer (like ``api.settings``): may import Babel only."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, cast

from babel import Locale, negotiate_locale
from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import LazyProxy, Translations

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
DEFAULT = "zh_CN"
PSEUDO = "qps"


@cache
def shipped() -> tuple[str, ...]:
    """The locales whose catalogs ship (a folder under ``locales/``): adding a language is
    adding its folder. The pseudo-locale is offered only where a setting asks for it."""
    return tuple(sorted(p.name for p in LOCALES_DIR.iterdir() if (p / "LC_MESSAGES").is_dir()))


def forget() -> None:
    """Read the catalogs afresh (after one was added or edited)."""
    shipped.cache_clear()
    translations.cache_clear()
    choose.cache_clear()


_current: ContextVar[str] = ContextVar("qunbang_locale", default=DEFAULT)


def current() -> str:
    """The locale of the work at hand."""
    return _current.get()


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    """Work in ``locale`` inside the block (the previous locale comes back after it)."""
    token = _current.set(locale)
    try:
        yield
    finally:
        _current.reset(token)


def set_locale(locale: str) -> None:
    """Work in ``locale`` from now on in this context (a request's, a command's)."""
    _current.set(locale)


def short(locale: str | None = None) -> str:
    """The language part of a locale ("zh", "en"): what pages put in ``lang=``."""
    return (locale or current()).split("_")[0]


@cache
def translations(locale: str) -> Translations:
    """The catalog of ``locale`` (read from its .po file once per process)."""
    if locale == PSEUDO:
        return _pseudo_translations()
    path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        return translations(DEFAULT)
    with path.open("rb") as file:
        catalog = read_po(file, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def gettext(message: str, /, **params: Any) -> str:
    """``message`` (an English message id) in the current locale; ``params`` fill its
    ``%(name)s`` places after translation."""
    text = translations(current()).ugettext(message)
    return text % params if params else text


def pgettext(context: str, message: str, /, **params: Any) -> str:
    """``message`` with its ``context`` (e.g. a label's group) in the current locale."""
    text = translations(current()).upgettext(context, message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, /, **params: Any) -> str:
    """The singular or plural form for ``n`` in the current locale (``n`` is a parameter)."""
    text = translations(current()).ungettext(singular, plural, n)
    return text % {"n": n, **params}


_ = gettext


def lazy(message: str, /) -> str:
    """``message`` translated each time it is read, in the locale of that moment: for texts
    made when a module is imported, before any locale is chosen (a command's help). Found by
    ``make i18n`` like ``gettext``."""
    return cast(str, LazyProxy(gettext, message, enable_cache=False))


def N_(message: str, /) -> str:
    """Mark ``message`` as a message id where it is defined (found by ``make i18n``); it is
    translated where it is shown, with ``gettext``."""
    return message


def pick(zh: str, en: str) -> str:
    """One of a text given in both languages as data (e.g. the matcher's rule names), in the
    language of the current locale (a pseudo-locale reads English)."""
    return zh if short() == "zh" else en


def in_locale(locale: str, message: str, /, **params: Any) -> str:
    """``message`` translated into ``locale`` (e.g. a notification in its recipient's language)."""
    with use_locale(locale):
        return gettext(message, **params)


# ----------------------------------------------------------------------------- choosing


@lru_cache(maxsize=1024)  # a few distinct browsers' headers: asked on every request
def choose(
    chosen: str | None, cookie: str | None, accept_language: str | None, *, pseudo: bool = False
) -> str:
    """The locale to answer in: the user's own choice, then the language cookie, then the
    browser's ``Accept-Language`` (first one we have), else the default (``zh_CN``)."""
    offered = [*shipped(), PSEUDO] if pseudo else list(shipped())
    for wish in (chosen, cookie):
        found = _known(wish, offered)
        if found:
            return found
    if accept_language:
        wanted = [part.split(";")[0].strip() for part in accept_language.split(",")]
        found = negotiate_locale(
            [w.replace("-", "_") for w in wanted if w], offered, sep="_", aliases={"zh": "zh_CN"}
        )
        if found:
            return found
    return DEFAULT


def _known(wish: str | None, offered: list[str]) -> str | None:
    if not wish:
        return None
    wish = wish.replace("-", "_")
    for locale in offered:
        if wish.lower() in (locale.lower(), short(locale).lower()):
            return locale
    return None


# ----------------------------------------------------------------------------- formatting


def _babel_locale(locale: str | None = None) -> Locale:
    return _parsed(locale or current())


@cache  # parsing looks the locale up among Babel's data files: about a millisecond each time
def _parsed(locale: str) -> Locale:
    return Locale.parse("en" if locale == PSEUDO else locale)


def format_day(value: dt.date, form: str = "medium") -> str:
    """A date in the current locale ("2026年11月26日" / "Nov 26, 2026")."""
    return _format_date(value, format=form, locale=_babel_locale())


def format_moment(value: dt.datetime, form: str = "short") -> str:
    """A local date and time in the current locale."""
    return _format_datetime(value, format=form, locale=_babel_locale())


def format_number(value: float, digits: int = 0) -> str:
    """A number in the current locale, with ``digits`` decimals at most."""
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=_babel_locale())


def format_km(value: float) -> str:
    """A distance in kilometres ("1.2 公里" / "1.2 km")."""
    return gettext("%(km)s km", km=format_number(value, 1))


def format_yuan(value: float) -> str:
    """A price in yuan with two decimals ("12.50 元" / "12.50 yuan")."""
    number = format_decimal(value, format="#,##0.00", locale=_babel_locale())
    return gettext("%(yuan)s yuan", yuan=number)


# ----------------------------------------------------------------------------- pseudo-locale

PSEUDO_OPEN, PSEUDO_CLOSE = "⟦", "⟧"
_ACCENTS = str.maketrans("aceinouyACEINOUY", "àçéîñöûýÀÇÉÎÑÖÛÝ")


def pseudo(text: str) -> str:
    """``text`` marked as translated: accented letters between ⟦ and ⟧, its ``%(name)s`` and
    ``{name}`` places kept as they are."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("%(", i) and (end := text.find(")", i)) != -1:
            stop = end + 2
            out.append(text[i:stop])
            i = stop
        elif text[i] == "{" and (end := text.find("}", i)) != -1:
            out.append(text[i : end + 1])
            i = end + 1
        else:
            out.append(text[i].translate(_ACCENTS))
            i += 1
    return PSEUDO_OPEN + "".join(out) + PSEUDO_CLOSE


def _pseudo_translations() -> Translations:
    with (LOCALES_DIR / "en" / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as file:
        catalog = read_po(file, locale="en", domain=DOMAIN)
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, str):
            message.string = pseudo(message.id)
        else:
            message.string = tuple(pseudo(form) for form in message.id)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)
