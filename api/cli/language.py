"""The command line's language, chosen in one place: the ``--lang`` option, then the
``QUNBANG_LANG`` setting, then the system's ``LC_ALL`` / ``LC_MESSAGES`` / ``LANG`` (negotiated
against the shipped catalogs; ``C`` and ``POSIX`` say nothing), else Chinese (``zh_CN``).
The pseudo-locale ``qps`` is offered when ``QUNBANG_PSEUDO_LOCALE`` asks for it."""

from __future__ import annotations

import os
from collections.abc import Mapping

from api import i18n
from api.settings import Settings

SYSTEM_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")


class UnknownLanguage(ValueError):
    """``--lang`` (or ``QUNBANG_LANG``) names a language without a catalog."""


def offered(settings: Settings) -> list[str]:
    """The locales the command line can speak."""
    return [*i18n.shipped(), i18n.PSEUDO] if settings.pseudo_locale else list(i18n.shipped())


def cli_locale(
    option: str | None, settings: Settings, environ: Mapping[str, str] | None = None
) -> str:
    """The locale a command prints in. A language asked for by name (option or setting) that
    has no catalog raises ``UnknownLanguage``; the system's variables are only a hint."""
    locales = offered(settings)
    for wish in (option, settings.lang):
        if wish:
            found = _negotiate(wish, locales)
            if found is None:
                raise UnknownLanguage(wish)
            return found
    environ = os.environ if environ is None else environ
    for name in SYSTEM_VARIABLES:
        value = environ.get(name)
        if value:  # the first one set decides, as for every POSIX program
            return _negotiate(value, locales) or i18n.DEFAULT
    return i18n.DEFAULT


def _negotiate(wish: str, locales: list[str]) -> str | None:
    """``zh``, ``zh-CN``, ``zh_CN.UTF-8``, ``en_US`` or ``EN`` → the shipped locale that fits."""
    name = wish.split(".")[0].split("@")[0].replace("-", "_").strip()
    if name in ("", "C", "POSIX"):
        return None
    for exact in (True, False):  # the locale itself, else one of its language (zh_TW: zh_CN)
        for locale in locales:
            if name.lower() == (locale.lower() if exact else i18n.short(locale).lower()):
                return locale
        name = i18n.short(name)
    return None
