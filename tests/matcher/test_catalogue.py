"""The shipped service catalogue and the errors of a hand-edited one."""

from __future__ import annotations

from pathlib import Path

import pytest

from matcher.catalogue import CatalogueError, field_path, load_catalogue
from seeds import CATALOGUE_PATH

GOOD = """\
skills:
  - {code: companionship, name_zh: 陪伴聊天, name_en: Companionship}
  - {code: nursing, name_zh: 护理, name_en: Nursing}
categories:
  - {code: life, name_zh: 生活服务, name_en: Daily life, paid: false}
  - {code: care, name_zh: 养老护理, name_en: Care, paid: true}
items:
  - {code: L01, name_zh: 陪伴聊天, name_en: Chat, category: life, paid: false,
     required_skills: [companionship], duration_min: 60}
  - {code: L02, name_zh: 读书读报, name_en: Reading, category: life, paid: false,
     required_skills: [companionship], duration_min: 45}
  - {code: P01, name_zh: 上门护理, name_en: Nursing, category: care, paid: true,
     required_skills: [nursing], duration_min: 45}
  - {code: P02, name_zh: 助浴, name_en: Bathing, category: care, paid: true,
     required_skills: [nursing], duration_min: 90, team_size: 2}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalogue.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    return str(caught.value)


def test_shipped_catalogue_loads() -> None:
    """The shipped seeds/catalogue.yaml validates into a Catalogue."""
    catalogue = load_catalogue(CATALOGUE_PATH)
    assert len(catalogue.items) == 49
    assert 18 <= len(catalogue.skills) <= 25


def test_default_catalogue_is_cached() -> None:
    """Loading the default catalogue twice returns the very same object."""
    assert load_catalogue() is load_catalogue()


def test_free_and_paid_categories_hold_the_reference_counts() -> None:
    """5 free categories hold 28 items and 3 paid categories hold 21, as the reference office."""
    catalogue = load_catalogue()
    free = [c.code for c in catalogue.categories if not c.paid]
    paid = [c.code for c in catalogue.categories if c.paid]
    assert (len(free), len(paid)) == (5, 3)
    assert sum(item.category in free for item in catalogue.items) == 28
    assert sum(item.category in paid for item in catalogue.items) == 21


def test_named_categories_are_present() -> None:
    """Daily-life services, health care and spiritual/cultural comfort are categories."""
    names = {c.name_zh for c in load_catalogue().categories}
    assert {"生活服务", "医疗保健", "精神文化"} <= names


def test_every_item_skill_exists() -> None:
    """Every required and lead skill of every item is a catalogue skill."""
    catalogue = load_catalogue()
    for item in catalogue.items:
        assert item.required_skills <= catalogue.skill_codes, item.code
        assert item.lead_skill is None or item.lead_skill in catalogue.skill_codes, item.code


def test_items_are_plausible() -> None:
    """Durations lie in 30-180 min, 6-8 items need a team, and some items limit the distance."""
    items = load_catalogue().items
    assert all(30 <= item.duration_min <= 180 for item in items)
    assert 6 <= sum(item.team_size >= 2 for item in items) <= 8
    assert any(item.max_distance_km is not None for item in items)
    assert all(item.points > 0 for item in items)


def test_a_good_file_loads(tmp_path: Path) -> None:
    """A small hand-written catalogue loads with list skills turned into sets."""
    catalogue = load_catalogue(write(tmp_path, GOOD))
    assert catalogue.item("P02").team_size == 2
    assert catalogue.item("L01").required_skills == frozenset({"companionship"})


def test_bad_field_names_file_and_path(tmp_path: Path) -> None:
    """A bad value is reported with the file, its path like items[3].duration_min, and why."""
    path = write(tmp_path, GOOD.replace("duration_min: 90", "duration_min: 0"))
    message = error_of(path)
    assert str(path) in message
    assert "items[3].duration_min" in message
    assert "greater than 0" in message


def test_missing_and_extra_fields_are_named(tmp_path: Path) -> None:
    """Missing fields and a misspelt key are all reported, each by its path."""
    text = GOOD.replace("name_en: Chat, ", "").replace("duration_min: 45}", "duraton: 45}", 1)
    message = error_of(write(tmp_path, text))
    assert "3 errors" in message
    assert "items[0].name_en: Field required" in message
    assert "items[1].duration_min: Field required" in message
    assert "items[1].duraton: Extra inputs are not permitted" in message


def test_unknown_skill_is_located_by_index(tmp_path: Path) -> None:
    """A cross-reference error from the model is turned into the entry's index and field."""
    text = GOOD.replace("[nursing], duration_min: 45", "[nursng], duration_min: 45")
    path = write(tmp_path, text)
    message = error_of(path)
    assert str(path) in message
    assert "items[2].required_skills" in message
    assert "unknown skill 'nursng'" in message


def test_duplicate_code_points_at_the_repeat(tmp_path: Path) -> None:
    """A duplicate item code is reported at its second occurrence."""
    message = error_of(write(tmp_path, GOOD.replace("code: L02", "code: L01")))
    assert "items[1].code" in message
    assert "duplicate" in message


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    """A YAML syntax error names the file and the line number."""
    path = write(tmp_path, GOOD.replace("  - {code: nursing,", "  - {code: nursing,,]"))
    message = error_of(path)
    assert str(path) in message
    assert "line 3" in message
    assert "YAML" in message


def test_missing_file_and_wrong_shape_raise_catalogue_errors(tmp_path: Path) -> None:
    """A missing file or a file that is not a mapping gives a CatalogueError naming it."""
    assert "cannot read" in error_of(tmp_path / "nope.yaml")
    assert "expected a mapping" in error_of(write(tmp_path, "- just\n- a list\n"))


def test_catalogue_error_is_a_value_error() -> None:
    """CatalogueError is a ValueError so callers treating input errors alike catch it."""
    assert issubclass(CatalogueError, ValueError)


def test_field_path_formats_pydantic_locations() -> None:
    """Pydantic loc tuples read as dotted paths with list indices in brackets."""
    assert field_path(("items", 3, "duration_min")) == "items[3].duration_min"
    assert field_path(("skills",)) == "skills"
    assert field_path(()) == ""
