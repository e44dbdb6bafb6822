"""What the matcher's codes say to a reader, from the gettext catalogs: why an order was left
unmatched (a sentence made at the edge from the matcher's reason and facts,
``matcher.result.WhyParams``, never parsed again), and the short names of the matcher's reasons
and of the rules a hand-picked team or a claim can break.

``explain`` renders in the current locale, ``explain_in`` in a given one (for records that keep
the sentence in each language). Callers pass the outranking order as the reader
knows it (an order number mapped through ``StreetProblem.keys``, or a scenario's own order id),
never the matcher's key. Item and skill names are data (the catalogue's Chinese and English
names), chosen per locale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from api import i18n
from api.i18n import N_, ngettext, pgettext
from api.i18n import gettext as _
from matcher.model import Catalogue
from matcher.result import Reason, Step, StepKind, WhyParams
from matcher.verify import Rule

# The rules of the matcher's checker: those a hand-picked team or a claim can break
# (``matcher.verify.check_plan``), as staff and volunteers read them, and a result's own checks.
RULE_NAMES: dict[Rule, str] = {
    Rule.UNKNOWN_ID: N_("not part of this matching"),
    Rule.DUPLICATE_ORDER: N_("order listed twice"),
    Rule.DUPLICATE_HELPER: N_("helper listed twice"),
    Rule.SKILL: N_("lacks a required skill"),
    Rule.LEAD_SKILL: N_("nobody in the team holds the lead skill"),
    Rule.LANGUAGE: N_("nobody in the team speaks the resident's language"),
    Rule.BLOCKED: N_("blocked for this resident (declined or barred)"),
    Rule.REACH: N_("out of reach (radius or the item's distance limit)"),
    Rule.WINDOW: N_("outside the order's time window"),
    Rule.AVAILABILITY: N_("not available then, travel included"),
    Rule.OVERLAP: N_("clashes with another of their visits"),
    Rule.MAX_ORDERS: N_("over their daily number of orders"),
    Rule.MAX_MINUTES: N_("over their daily minutes"),
    Rule.TEAM_SIZE: N_("the team has the wrong size"),
    Rule.PINNED: N_("leaves out a member who accepted"),
    # a result's own consistency (``matcher.verify.verify``), not a team's
    Rule.UNMATCHED: N_("an order is both planned and unmatched, or neither"),
    Rule.COVERAGE_FIGURE: N_("the coverage figures do not add up"),
    Rule.INFEASIBLE_WITH_ASSIGNMENTS: N_("reported infeasible, yet carries visits"),
}


def reason_label(reason: Reason | str) -> str:
    """The short name of a matcher reason in the current locale. The message ids are the pages'
    reason labels (context "reason", ``api.http.pages.labels``): one translation serves pages,
    tables and charts."""
    labels: dict[str, str] = {
        Reason.NO_SKILL: pgettext("reason", "no helper has the skill"),
        Reason.OUT_OF_REACH: pgettext("reason", "none within reach"),
        Reason.NOT_FREE: pgettext("reason", "none free in the window"),
        Reason.AT_LIMIT: pgettext("reason", "all at their limit"),
        Reason.OUTRANKED: pgettext("reason", "lost to higher priority"),
    }
    return labels.get(reason, pgettext("reason", "another reason"))


def rule_label(rule: Rule | str) -> str:
    """The name of a broken rule in the current locale (an unknown code as it is)."""
    try:
        return _(RULE_NAMES[Rule(rule)])
    except ValueError:
        return str(rule)


def explain(
    reason: Reason | str,
    params: WhyParams,
    catalogue: Catalogue,
    outranked_by: int | str | None = None,
) -> str:
    """The sentence saying why an order was left unmatched, in the current locale."""
    reason = Reason(reason)
    team = _(" (needs a team of %(team)s)", team=params.team) if params.team > 1 else ""
    if reason is Reason.NO_SKILL:
        return _no_skill(params, catalogue, team)
    if reason is Reason.OUT_OF_REACH:
        if params.nearest_km is None:
            return _(
                "Helpers with the skills all live out of reach; no travel data%(team)s.", team=team
            )
        return _(
            "Helpers with the skills all live out of reach; the nearest is about %(distance)s "
            "away%(team)s.",
            distance=i18n.format_km(params.nearest_km),
            team=team,
        )
    if reason is Reason.NOT_FREE:
        return _not_free(params, team)
    if reason is Reason.AT_LIMIT:
        return _(
            "All suitable helpers nearby have reached today's limit of orders or minutes%(team)s.",
            team=team,
        )
    return _(
        "Lost to higher-priority order %(other)s (%(other_item)s), which took the suitable "
        "helpers%(team)s.",
        other="?" if outranked_by is None else outranked_by,
        other_item=_item_name(catalogue, params.rival_item or params.item),
        team=team,
    )


def _no_skill(params: WhyParams, catalogue: Catalogue, team: str) -> str:
    item = _item_name(catalogue, params.item)
    skills = _(", ").join(_skill_name(catalogue, s) for s in params.skills) or _("none")
    if params.language:
        return _(
            "No helper has the skills for %(item)s (%(skills)s) and speaking %(language)s%(team)s.",
            item=item,
            skills=skills,
            language=params.language,
            team=team,
        )
    return _(
        "No helper has the skills for %(item)s (%(skills)s)%(team)s.",
        item=item,
        skills=skills,
        team=team,
    )


def _not_free(params: WhyParams, team: str) -> str:
    if params.joining:
        return _("No other helper can join the members already on the team at that time.")
    if params.window is None:
        return _("No suitable helper nearby is free today%(team)s.", team=team)
    return _(
        "No suitable helper nearby is free %(start)s–%(end)s%(team)s.",
        start=_clock(params.window.start),
        end=_clock(params.window.end),
        team=team,
    )


@dataclass(frozen=True)
class NamedHelper:
    """A helper a next step names, as the reader may know them: ``label`` (name and ledger
    number; "" for readers who see no names: "a helper"), their visits that day now, their
    daily limit and radius."""

    label: str
    visits: int
    limit: int
    radius_km: float


def suggest(
    reason: Reason | str,
    params: WhyParams,
    catalogue: Catalogue,
    helpers: Mapping[str, NamedHelper],
) -> str:
    """The one next step (``params.step``, ``matcher.advice``) as a sentence in the current
    locale; "" when the matcher gave none. ``helpers``: the helpers the step names, by the key
    it names them with."""
    step = params.step
    if step is None:
        return ""
    if step.kind is StepKind.FIND_HELPER:
        return _find_helper(Reason(reason), params, catalogue)
    asked = helpers.get(step.helper or "")
    who = _label(asked)
    if step.kind is StepKind.ASSIGN_NOW:
        team = _(", ").join(_label(helpers.get(h)) for h in step.team)
        if step.start is None:
            return _("Send %(team)s by hand: they are free as things stand.", team=team)
        return _(
            "Send %(team)s by hand at %(start)s: they are free as things stand.",
            team=team,
            start=_clock(step.start),
        )
    if step.kind is StepKind.RAISE_LIMIT and step.minutes:
        return ngettext(
            "%(n)s suitable helper is at their daily limit: ask %(helper)s to give "
            "%(minutes)s minutes more that day.",
            "%(n)s suitable helpers are at their daily limit: ask %(helper)s to give "
            "%(minutes)s minutes more that day.",
            step.count,
            helper=who,
            minutes=step.minutes,
        )
    if step.kind is StepKind.RAISE_LIMIT and params.skills:
        return ngettext(
            "%(n)s helper with %(skills)s is at their daily limit: ask %(helper)s, who has "
            "%(visits)s of %(limit)s visits that day, to take one more.",
            "%(n)s helpers with %(skills)s are at their daily limit: ask %(helper)s, who has "
            "%(visits)s of %(limit)s visits that day, to take one more.",
            step.count,
            skills=_(", ").join(_skill_name(catalogue, s) for s in params.skills),
            helper=who,
            visits=asked.visits if asked else "?",
            limit=asked.limit if asked else "?",
        )
    if step.kind is StepKind.RAISE_LIMIT:
        return ngettext(
            "%(n)s suitable helper is at their daily limit: ask %(helper)s, who has "
            "%(visits)s of %(limit)s visits that day, to take one more.",
            "%(n)s suitable helpers are at their daily limit: ask %(helper)s, who has "
            "%(visits)s of %(limit)s visits that day, to take one more.",
            step.count,
            helper=who,
            visits=asked.visits if asked else "?",
            limit=asked.limit if asked else "?",
        )
    if step.kind is StepKind.EXTEND_RADIUS:
        return _(
            "Ask %(helper)s, who lives %(distance)s away (beyond the %(radius)s they go), to go "
            "that far this once.",
            helper=who,
            distance=i18n.format_km(step.km or 0),
            radius=i18n.format_km(asked.radius_km if asked else 0),
        )
    return _changed(step, params, catalogue, who)


def _label(helper: NamedHelper | None) -> str:
    return helper.label if helper is not None and helper.label else _("a helper")


def _changed(step: Step, params: WhyParams, catalogue: Catalogue, who: str) -> str:
    """A step that changes the order, its item or a helper's skills."""
    if step.kind is StepKind.MOVE_WINDOW and step.window is not None:
        return ngettext(
            "Move the window to %(start)s–%(end)s: %(n)s suitable helper is free then.",
            "Move the window to %(start)s–%(end)s: %(n)s suitable helpers are free then.",
            step.count,
            start=_clock(step.window.start),
            end=_clock(step.window.end),
        )
    if step.kind is StepKind.WIDEN_DISTANCE:
        item = next((i for i in catalogue.items if i.code == params.item), None)
        return ngettext(
            "Widen the distance of %(item)s from %(old)s to %(new)s: that brings in %(n)s "
            "suitable helper.",
            "Widen the distance of %(item)s from %(old)s to %(new)s: that brings in %(n)s "
            "suitable helpers.",
            step.count,
            item=_item_name(catalogue, params.item),
            old=i18n.format_km(item.max_distance_km or 0) if item else "?",
            new=i18n.format_km(step.km or 0),
        )
    if step.kind is StepKind.SMALLER_TEAM:
        return _(
            "Send a team of %(size)s instead of %(team)s: the helpers free now cannot make a "
            "full team.",
            size=step.team_size,
            team=params.team,
        )
    lacking = [_skill_name(catalogue, s) for s in step.skills]
    if step.language:
        lacking.append(_("speaking %(language)s", language=language_name(step.language)))
    return _(
        "%(helper)s, %(distance)s away and free, lacks only %(what)s: check the ledger, or find "
        "a helper who has it.",
        helper=who,
        distance=i18n.format_km(step.km or 0),
        what=_(", ").join(lacking),
    )


def _find_helper(reason: Reason, params: WhyParams, catalogue: Catalogue) -> str:
    """No single change is enough: where to look instead, by the reason."""
    if reason is Reason.NO_SKILL:
        skills = _(", ").join(_skill_name(catalogue, s) for s in params.skills) or _("none")
        return _(
            "No single change is enough: register a helper with %(skills)s, or ask a "
            "neighbouring community.",
            skills=skills,
        )
    if reason is Reason.OUT_OF_REACH and params.nearest_km is not None:
        return _(
            "No single change is enough: ask a community outside (the nearest helper with the "
            "skills lives %(distance)s away).",
            distance=i18n.format_km(params.nearest_km),
        )
    return _(
        "No single change is enough: offer the resident another day, or phone helpers who "
        "might change their plans."
    )


def suggest_in(
    locale: str,
    reason: Reason | str,
    params: WhyParams,
    catalogue: Catalogue,
    helpers: Mapping[str, NamedHelper],
) -> str:
    """``suggest`` in ``locale``."""
    with i18n.use_locale(locale):
        return suggest(reason, params, catalogue, helpers)


def explain_in(
    locale: str,
    reason: Reason | str,
    params: WhyParams,
    catalogue: Catalogue,
    outranked_by: int | str | None = None,
) -> str:
    """``explain`` in ``locale`` (for records and answers that keep the sentence in each
    language)."""
    with i18n.use_locale(locale):
        return explain(reason, params, catalogue, outranked_by)


def language_name(code: str) -> str:
    """A resident's language by name in the current locale (the pages' language labels)."""
    names = {
        "zh": pgettext("language", "Chinese"),
        "mn": pgettext("language", "Mongolian"),
        "en": pgettext("language", "English"),
    }
    return names.get(code) or pgettext("language", "another language")


def _item_name(catalogue: Catalogue, code: str) -> str:
    item = next((i for i in catalogue.items if i.code == code), None)
    if item is None:  # an item no longer in the catalogue: its code
        return code
    return i18n.pick(item.name_zh, item.name_en)


def _skill_name(catalogue: Catalogue, code: str) -> str:
    skill = next((s for s in catalogue.skills if s.code == code), None)
    if skill is None:
        return code
    return i18n.pick(skill.name_zh, skill.name_en)


def _clock(minute: int) -> str:
    """A time of day on the 24-hour clock every office uses ("09:00"; 1440 is "24:00")."""
    return f"{minute // 60:02d}:{minute % 60:02d}"
