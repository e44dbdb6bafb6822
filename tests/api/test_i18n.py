"""Language from catalogs: every message id the code and the pages use is translated in every
shipped catalog, no page template carries text outside them, the pseudo-locale marks what the
pages show, the locale is chosen as users expect, and a language is added by adding a catalog."""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections.abc import Iterator
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from jinja2 import Environment

from api import i18n
from api.http.locale import LANG_COOKIE
from api.http.pages.render import templates

API = Path(__file__).resolve().parents[2] / "api"
TEMPLATES = API / "http" / "pages" / "templates"
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "N_": None,
    "lazy": None,
    "label_id": ((1, "c"), 2),
}
# Texts a page may show outside the catalogs: each language's own name in the language switch.
AUTONYMS = {"中文", "English"}
ATTRIBUTES = re.compile(r'(\s*[\w-]+="[^"]*")+\s*')  # a macro writing attributes only


@cache
def _used() -> frozenset[tuple[str | None, str]]:
    """(context, message id) of every ``_``/``gettext``/``pgettext`` call in api/ (Python) and
    in the page templates (Jinja)."""
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(API), method_map, options, keywords=KEYWORDS
    ):
        ids = message if isinstance(message, tuple) else (message,)
        found.update((context, one) for one in ids if one)
    return frozenset(found)


def _places(text: str) -> set[str]:
    return {p.split(")")[0] for p in text.split("%(")[1:]}


def _catalog(locale: str) -> dict[tuple[str | None, str], tuple[tuple[str, ...], set[str]]]:
    """(context, id) → the translation's forms (one; a plural message's, from ``ngettext``,
    under each of its two ids) and the %(name)s places they may use: their ids', and ``n``
    for a plural (ngettext always fills it)."""
    path = i18n.LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as file:
        catalog = read_po(file, locale=locale)
    found: dict[tuple[str | None, str], tuple[tuple[str, ...], set[str]]] = {}
    for m in catalog:
        if not m.id:
            continue
        if isinstance(m.id, str):
            found[(m.context, m.id)] = ((m.string,), _places(m.id))
            continue
        places = {"n"}.union(*(_places(one) for one in m.id))
        for one in m.id:
            found[(m.context, one)] = (tuple(m.string), places)
    return found


def _translated(
    catalog: dict[tuple[str | None, str], tuple[tuple[str, ...], set[str]]],
    key: tuple[str | None, str],
) -> bool:
    """The catalog holds ``key`` with every form translated."""
    forms = catalog.get(key, ((), set()))[0]
    return bool(forms) and all(forms)


def test_the_extractor_finds_the_pages_messages() -> None:
    """The extraction the catalog checks rest on sees template and Python messages alike."""
    used = _used()
    assert (None, "Today and upcoming") in used  # a template's
    assert (None, "%(km)s km") in used  # api/i18n's own
    assert len(used) >= 200


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_every_message_in_use_is_translated_in_each_shipped_catalog(locale: str) -> None:
    """zh_CN and en are complete: each message id in use has a non-empty translation using only
    the %(name)s places its id has."""
    catalog = _catalog(locale)
    missing = sorted(str(key) for key in _used() if not _translated(catalog, key))
    assert missing == []
    for (_, message), (forms, places) in catalog.items():  # a translation may leave one out
        assert all(_places(form) <= places for form in forms), message


class _Text(HTMLParser):
    """Visible text and the attributes people read (labels, titles, placeholders)."""

    READ: ClassVar = {"aria-label", "title", "placeholder", "alt", "data-confirm"}

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        self.found += [v for k, v in attrs if k in self.READ and v]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.found.append(data)


def _words(text: str) -> bool:
    return any(unicodedata.category(ch).startswith("L") for ch in text)


def _raw_texts(source: str) -> list[str]:
    """The texts a template writes as they are (outside every {{ }} and {% %}: an expression
    reads as "0"); a block's content that is a CSS class (``body_class``) and a macro's text
    that is attributes only are markup."""
    parts, tokens = [], list(Environment().lex(source))
    for i, (_, kind, value) in enumerate(tokens):
        before = [v for _, k, v in tokens[max(0, i - 8) : i] if k == "name"]
        if kind == "variable_begin":
            parts.append("0")
        elif kind == "data" and before[-2:] != ["block", "body_class"]:
            parts.append(value)
    reader = _Text()
    reader.feed("".join(parts))
    texts = [t.strip() for t in reader.found if _words(t)]
    return [t for t in texts if t not in AUTONYMS and not ATTRIBUTES.fullmatch(t)]


def test_no_page_template_writes_text_outside_the_catalogs() -> None:
    """Every word a page template writes comes through ``_``/``pgettext`` (or is data)."""
    files = sorted(TEMPLATES.rglob("*.html"))
    assert len(files) >= 20
    raw = {str(f.relative_to(TEMPLATES)): _raw_texts(f.read_text()) for f in files}
    assert {name: texts for name, texts in raw.items() if texts} == {}


def test_the_template_check_sees_raw_text() -> None:
    """The template check finds plain words, labels and Chinese alike (so it can fail)."""
    assert _raw_texts('<p>hello {{ _("x") }}</p><a aria-label="关闭">{{ y }}</a>') == [
        "hello 0",
        "关闭",
    ]
    assert _raw_texts('<p>{{ _("x") }} — 12</p><a href="/lang/en">English</a>') == []


# ----------------------------------------------------------------------------- on the pages


@pytest.fixture
def pseudo_client(client: TestClient) -> Iterator[TestClient]:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    client.app.state.settings = settings.model_copy(update={"pseudo_locale": True})  # type: ignore[attr-defined]
    try:
        yield client
    finally:
        client.app.state.settings = settings  # type: ignore[attr-defined]


def test_the_pseudo_locale_marks_every_catalog_text_on_the_login_page(
    pseudo_client: TestClient,
) -> None:
    """In the pseudo-locale the login page's texts are all marked ⟦…⟧, the page says its
    language, and no Chinese of the catalogs is left."""
    pseudo_client.cookies.set(LANG_COOKIE, i18n.PSEUDO)
    page = pseudo_client.get("/login")
    assert page.status_code == 200
    assert '<html lang="qps">' in page.text
    reader = _Text()
    reader.feed(page.text)
    texts = [t.strip() for t in reader.found if _words(t) and t.strip() not in AUTONYMS]
    assert texts and all(i18n.PSEUDO_OPEN in t for t in texts), texts
    assert "登录" not in page.text


def test_pages_follow_the_cookie_then_the_browser_language(client: TestClient) -> None:
    """No cookie: Accept-Language decides (English for en-GB, Chinese for zh-TW, Chinese for a
    language we lack); the cookie wins over the browser."""
    client.cookies.clear()
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.text
    for wish in ("zh-TW,zh;q=0.8", "fr-FR", ""):
        page = client.get("/login", headers={"Accept-Language": wish})
        assert '<html lang="zh-CN">' in page.text, wish
    client.cookies.set(LANG_COOKIE, "zh_CN")
    page = client.get("/login", headers={"Accept-Language": "en"})
    assert '<html lang="zh-CN">' in page.text


def test_choosing_a_locale() -> None:
    """The user's choice, then the cookie, then Accept-Language, then Chinese; the
    pseudo-locale only when offered."""
    assert i18n.choose("en", "zh_CN", "zh") == "en"
    assert i18n.choose(None, "en", "zh") == "en"
    assert i18n.choose(None, None, "en-US,zh;q=0.5") == "en"
    assert i18n.choose(None, "xx", "de") == "zh_CN"
    assert i18n.choose("qps", None, None) == "zh_CN"
    assert i18n.choose("qps", None, None, pseudo=True) == "qps"


def test_dates_and_distances_are_formatted_for_the_locale() -> None:
    """Babel formats a day and a distance per locale."""
    import datetime as dt

    with i18n.use_locale("zh_CN"):
        assert i18n.format_day(dt.date(2026, 11, 26)) == "2026年11月26日"
        assert i18n.format_km(1.25) in ("1.2 公里", "1.3 公里")
    with i18n.use_locale("en"):
        assert i18n.format_day(dt.date(2026, 11, 26)) == "Nov 26, 2026"
        assert i18n.format_km(12.0) == "12 km"


def test_a_language_is_added_by_adding_its_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mongolian (mn) needs no code change: a catalog folder makes it offered, chosen from the
    browser and used for the pages' texts and Babel's formats."""
    shutil.copytree(i18n.LOCALES_DIR, tmp_path / "locales")
    mn = tmp_path / "locales" / "mn" / "LC_MESSAGES"
    mn.mkdir(parents=True)
    source = (i18n.LOCALES_DIR / "en" / "LC_MESSAGES" / "messages.po").read_text()
    source = source.replace(
        'msgid "Today and upcoming"\nmsgstr "Today and upcoming"',
        'msgid "Today and upcoming"\nmsgstr "Өнөөдөр ба удахгүй"',
    )
    (mn / "messages.po").write_text(source.replace("Language: en", "Language: mn"))
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path / "locales")
    i18n.forget()
    try:
        assert "mn" in i18n.shipped()
        assert i18n.choose(None, None, "mn-MN,en;q=0.5") == "mn"
        with i18n.use_locale("mn"):
            assert i18n.gettext("Today and upcoming") == "Өнөөдөр ба удахгүй"
            assert templates.get_template("v/home.html") is not None
    finally:
        monkeypatch.undo()
        i18n.forget()


def test_every_matcher_reason_has_a_label() -> None:
    """The pages' reason labels cover every reason the matcher gives (no "other" for a known
    reason)."""
    from api.http.pages.labels import LABELS
    from matcher.result import Reason

    assert set(LABELS["reason"]) == {str(reason) for reason in Reason}


def test_every_matcher_reason_and_rule_has_a_catalog_name() -> None:
    """The service names every reason the matcher gives (none falls back to "another reason")
    and every rule its checker can report through catalog messages, translated in each shipped
    catalog."""
    from api.services.matching.explain_text import RULE_NAMES, reason_label
    from matcher.result import Reason
    from matcher.verify import Rule

    assert set(RULE_NAMES) == set(Rule)
    for locale in ("zh_CN", "en"):
        catalog = _catalog(locale)
        assert all(_translated(catalog, (None, message)) for message in RULE_NAMES.values())
        with i18n.use_locale(locale):
            names = {reason_label(reason) for reason in Reason}
            assert len(names) == len(Reason)
            assert i18n.pgettext("reason", "another reason") not in names


def test_the_pseudo_locale_marks_explanations_and_the_matchers_names() -> None:
    """Unmatched explanations (their facts filled in) and the names of reasons and rules pass
    through the catalogs: in the pseudo-locale each is marked, with the facts inside."""
    from api.services.matching.explain_text import explain, reason_label, rule_label
    from matcher.result import Reason
    from matcher.verify import Rule
    from tests.api.test_unmatched_text import BEFORE, CATALOGUE

    def marked(text: str) -> bool:
        return text.startswith(i18n.PSEUDO_OPEN) and text.endswith(i18n.PSEUDO_CLOSE)

    with i18n.use_locale(i18n.PSEUDO):
        assert all(marked(reason_label(reason)) for reason in Reason)
        assert all(marked(rule_label(rule)) for rule in Rule)
        sentences = [explain(r, p, CATALOGUE, by) for r, p, by, _zh, _en in BEFORE]
    assert all(marked(sentence) for sentence in sentences), sentences
    assert "%(" not in "".join(sentences)
    assert "17" in sentences[6] and "Smartphone lessons" in sentences[6]  # outranked: its facts
    assert "09:00" in sentences[3] and "10:30" in sentences[3]  # not free: its window


def test_no_language_pair_is_left_in_the_services() -> None:
    """No code under api/services writes reader-facing Chinese or a "中文 / English" pair: every
    CJK string (docstrings and comments aside) is in a file holding the office's sheet formats
    or demo data, which are data, not messages."""
    import ast

    cjk = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
    data_files = {  # the ledger's column aliases and sheet headers, demo names, Excel's yes/no
        "ledger/import_columns.py",
        "ledger/exports.py",
        "ledger/seed.py",
        "ledger/sheets.py",
    }
    found = []
    for path in sorted((API / "services").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        name = str(path.relative_to(API / "services"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            if id(node) in docstrings or not cjk.search(node.value):
                continue
            if name not in data_files or " / " in node.value:
                found.append(f"{name}:{node.lineno}: {node.value!r}")
    assert found == []
