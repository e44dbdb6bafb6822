"""Inline SVG drawn from coordinates and counts: the street map and the helper-load bar chart.

Pure functions: plain values in, SVG text out (``Markup``, safe to place in a template). Every
text is escaped; each drawing has a viewBox, ``role="img"``, an ``aria-labelledby`` naming its
<title> and <desc>, and each point its own <title> (the tooltip). No tiles, no images.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

MAP_WIDTH = 800
PAD = 24
KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON = 111.320  # at the equator; times cos(latitude)
MIN_SPAN_KM = 0.5  # a street of one point still gets a sensible scale


@dataclass(frozen=True)
class Dot:
    """One point: where, which style (a key of the styles), and its tooltip; or, with a
    ``count`` over one, a group of that many points of the style drawn as one mark."""

    lat: float
    lon: float
    style: str
    title: str
    count: int = 1


@dataclass(frozen=True)
class DotStyle:
    """How a group of dots looks; ``shape`` is ``circle`` or ``square`` so that a group is told
    apart by shape too, not by colour alone."""

    colour: str
    shape: str
    label: str


def _x(text: object) -> str:
    return escape(str(text), quote=True)


def _f(value: float) -> str:
    return f"{value:.1f}"


def _open(ident: str, width: float, height: float, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_f(width)} {_f(height)}" '
        f'role="img" aria-labelledby="{_x(ident)}-title {_x(ident)}-desc" '
        f'preserveAspectRatio="xMidYMid meet">',
        f'<title id="{_x(ident)}-title">{_x(title)}</title>',
        f'<desc id="{_x(ident)}-desc">{_x(desc)}</desc>',
    ]


# ----------------------------------------------------------------------------- the map


@dataclass(frozen=True)
class _Frame:
    """Degrees → drawing units: equirectangular around the points' mean latitude."""

    lon0: float
    lat1: float
    km_x: float  # km per degree of longitude here
    scale: float  # drawing units per km

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        x = PAD + (lon - self.lon0) * self.km_x * self.scale
        y = PAD + (self.lat1 - lat) * KM_PER_DEG_LAT * self.scale
        return x, y


def _frame(dots: Sequence[Dot], width: float) -> tuple[_Frame, float]:
    """The frame fitting every dot and the drawing's height."""
    lats = [d.lat for d in dots] or [0.0]
    lons = [d.lon for d in dots] or [0.0]
    km_x = KM_PER_DEG_LON * math.cos(math.radians(sum(lats) / len(lats)))
    span_x = max((max(lons) - min(lons)) * km_x, MIN_SPAN_KM)
    span_y = max((max(lats) - min(lats)) * KM_PER_DEG_LAT, MIN_SPAN_KM)
    scale = (width - 2 * PAD) / span_x
    height = min(span_y * scale, width) + 2 * PAD  # a tall street: never taller than wide
    if span_y * scale > width:
        scale = (height - 2 * PAD) / span_y
    lon0 = (min(lons) + max(lons)) / 2 - (width - 2 * PAD) / scale / km_x / 2
    lat_mid = (min(lats) + max(lats)) / 2
    lat1 = lat_mid + (height - 2 * PAD) / scale / KM_PER_DEG_LAT / 2
    return _Frame(lon0, lat1, km_x, scale), height


def _shape(x: float, y: float, style: DotStyle, title: str, key: str) -> str:
    tip = f"<title>{_x(title)}</title>"
    common = f'class="dot {_x(key)}" fill="{_x(style.colour)}" stroke="#ffffff" stroke-width="1"'
    if style.shape == "square":
        return f'<rect {common} x="{_f(x - 5)}" y="{_f(y - 5)}" width="10" height="10">{tip}</rect>'
    return f'<circle {common} cx="{_f(x)}" cy="{_f(y)}" r="6">{tip}</circle>'


def _group(x: float, y: float, style: DotStyle, title: str, key: str, count: int) -> str:
    """A group of points: the style's shape, its area growing with the count, the count on it."""
    size = min(5 + 2 * math.sqrt(count), 16)
    tip = f"<title>{_x(title)}</title>"
    common = (
        f'class="dot {_x(key)} grouped" fill="{_x(style.colour)}" stroke="#ffffff" stroke-width="1"'
    )
    if style.shape == "square":
        mark = (
            f'<rect {common} x="{_f(x - size)}" y="{_f(y - size)}" width="{_f(2 * size)}" '
            f'height="{_f(2 * size)}">{tip}</rect>'
        )
    else:
        mark = f'<circle {common} cx="{_f(x)}" cy="{_f(y)}" r="{_f(size)}">{tip}</circle>'
    label = (
        f'<text x="{_f(x)}" y="{_f(y + 4)}" text-anchor="middle" font-size="10" fill="#ffffff" '
        f'aria-hidden="true">{count}</text>'
    )
    return f"{mark}{label}"


def _km(km: float) -> str:
    return f"{km:g} km"


def _scale_bar(frame: _Frame, height: float, km_text: Callable[[float], str]) -> list[str]:
    """A bar of a round length (0.1, 0.2, 0.5, 1, 2, 5 … km) about a fifth of the width."""
    want = (MAP_WIDTH - 2 * PAD) / 5 / frame.scale
    step = 10 ** math.floor(math.log10(want))
    km = max((m * step for m in (1, 2, 5) if m * step <= want), default=step)
    length = km * frame.scale
    y = height - 10
    label = km_text(km)
    return [
        f'<g class="scale" stroke="#1a1a1a" stroke-width="2">'
        f'<line x1="{PAD}" y1="{_f(y)}" x2="{_f(PAD + length)}" y2="{_f(y)}"/></g>',
        f'<text x="{_f(PAD + length + 6)}" y="{_f(y + 4)}" font-size="12" '
        f'fill="#1a1a1a">{_x(label)}</text>',
    ]


def map_svg(
    dots: Sequence[Dot],
    styles: Mapping[str, DotStyle],
    *,
    title: str,
    desc: str,
    ident: str = "street-map",
    km_text: Callable[[float], str] = _km,
) -> Markup:
    """The dots on a plain map (north up, true proportions), drawn in the order of ``styles``
    so that later groups lie on top; a scale bar in the corner, its length written by
    ``km_text`` (the page's: ``api.i18n.format_km``)."""
    frame, height = _frame(dots, MAP_WIDTH)
    parts = _open(ident, MAP_WIDTH, height, title, desc)
    parts.append(f'<rect x="0" y="0" width="{MAP_WIDTH}" height="{_f(height)}" fill="#f7f9fb"/>')
    for key, style in styles.items():
        group = [d for d in dots if d.style == key]
        parts.append(f'<g class="group {_x(key)}">')
        parts += [
            _shape(*frame.xy(d.lat, d.lon), style, d.title, key)
            if d.count == 1
            else _group(*frame.xy(d.lat, d.lon), style, d.title, key, d.count)
            for d in group
        ]
        parts.append("</g>")
    parts += _scale_bar(frame, height, km_text)
    parts.append("</svg>")
    return Markup("".join(parts))


# ----------------------------------------------------------------------------- the bar chart


def bar_chart_svg(
    bars: Sequence[tuple[str, int]],
    *,
    title: str,
    desc: str,
    x_label: str,
    y_label: str,
    ident: str = "bar-chart",
    colour: str = "#0b5cad",
) -> Markup:
    """Vertical bars with their value on top, the category under each and both axes named."""
    width, height, left, bottom, top = 640.0, 320.0, 56.0, 56.0, 28.0
    plot_h, plot_w = height - bottom - top, width - left - 16
    peak = max((value for _, value in bars), default=0) or 1
    slot = plot_w / max(len(bars), 1)
    parts = _open(ident, width, height, title, desc)
    axis = 'stroke="#1a1a1a" stroke-width="1.5"'
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" {axis}/>')
    base = height - bottom
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - 16}" y2="{base}" {axis}/>')
    parts.append('<g class="bars">')
    for index, (name, value) in enumerate(bars):
        bar_h = plot_h * value / peak
        x = left + slot * index + slot * 0.15
        y = height - bottom - bar_h
        tip = f"{name}: {value}"
        parts.append(
            f'<rect class="bar" x="{_f(x)}" y="{_f(y)}" width="{_f(slot * 0.7)}" '
            f'height="{_f(bar_h)}" fill="{_x(colour)}"><title>{_x(tip)}</title></rect>'
        )
        middle = _f(x + slot * 0.35)
        parts.append(
            f'<text x="{middle}" y="{_f(y - 6)}" text-anchor="middle" font-size="14" '
            f'fill="#1a1a1a">{value}</text>'
        )
        parts.append(
            f'<text x="{middle}" y="{_f(height - bottom + 18)}" text-anchor="middle" '
            f'font-size="14" fill="#1a1a1a">{_x(name)}</text>'
        )
    parts.append("</g>")
    parts.append(
        f'<text x="{_f(left + plot_w / 2)}" y="{_f(height - 10)}" text-anchor="middle" '
        f'font-size="14" fill="#1a1a1a">{_x(x_label)}</text>'
    )
    parts.append(
        f'<text x="16" y="{_f(top + plot_h / 2)}" text-anchor="middle" font-size="14" '
        f'fill="#1a1a1a" transform="rotate(-90 16 {_f(top + plot_h / 2)})">{_x(y_label)}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))
