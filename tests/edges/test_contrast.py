"""The web page's colours are readable: every text colour in app.css has a contrast ratio of at least 4.5:1 (WCAG
2.x AA, body text) against each background it can sit on, and the focus outline and the input's border at least 3:1
(WCAG 1.4.11, user-interface components). The colours are read from the stylesheet itself, custom properties
resolved, so a new rule or a changed colour is checked without editing this test."""

from __future__ import annotations

import re

import pytest

from askidcpc.edges.server import STATIC_DIR

CSS = (STATIC_DIR / "app.css").read_text(encoding="utf-8")
KEYWORDS = {"inherit", "transparent", "none", "currentcolor"}  # no colour of their own
NAMED = {"white": "#ffffff", "black": "#000000"}


def relative_luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of a #rgb or #rrggbb colour."""
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [("#fff", "#000", 21.0), ("#000", "#ffffff", 21.0), ("#777", "#fff", 4.48), ("#595959", "#fff", 7.0)],
)
def test_contrast_matches_wcag_figures(first: str, second: str, expected: float) -> None:
    assert contrast(first, second) == pytest.approx(expected, abs=0.01)


def _rules(css: str) -> list[tuple[str, dict[str, str]]]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"@media[^{]*\{", "", css)  # a media block's rules are checked like the others
    rules = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = {}
        for declaration in body.split(";"):
            name, colon, value = declaration.partition(":")
            if colon:
                declarations[name.strip()] = value.strip()
        rules.append((" ".join(selector.split()), declarations))
    return rules


RULES = _rules(CSS)
PROPERTIES = {
    name: value for selector, declarations in RULES if selector == ":root" for name, value in declarations.items()
}


def colour(value: str) -> str | None:
    """The #hex colour a declaration's value names (custom properties resolved); None for inherit and the like."""
    value = value.replace("!important", "").strip()
    while match := re.fullmatch(r"var\((--[\w-]+)(?:,\s*(.+))?\)", value):
        value = PROPERTIES.get(match.group(1), match.group(2) or "").strip()
    value = NAMED.get(value.lower(), value)
    if value.lower() in KEYWORDS:
        return None
    assert re.fullmatch(r"#(?:[0-9a-fA-F]{3}){1,2}", value), f"a colour this test cannot read: {value!r}"
    return value


def _declared(declarations: dict[str, str], *names: str) -> str | None:
    for name in names:
        if name in declarations:
            return colour(declarations[name])
    return None


TEXT = [(selector, _declared(d, "color")) for selector, d in RULES if "color" in d]
BACKGROUNDS = [(selector, _declared(d, "background", "background-color")) for selector, d in RULES]
OWN = {selector: background for selector, background in BACKGROUNDS if background}
# The surfaces text with no background of its own sits on: the page's and every box's that sets no text colour.
SURFACES = sorted(
    {background for selector, background in BACKGROUNDS if background and selector not in dict(TEXT)}
    | {colour(PROPERTIES["background"])}  # type: ignore[arg-type]
)


def test_the_stylesheet_is_read() -> None:
    assert PROPERTIES["--ink"] and len(TEXT) >= 10 and len(SURFACES) >= 2  # the parser found the rules


@pytest.mark.parametrize(("selector", "text"), [pair for pair in TEXT if pair[1]], ids=[s for s, c in TEXT if c])
def test_text_has_aa_contrast_on_its_backgrounds(selector: str, text: str) -> None:
    backgrounds = [OWN[selector]] if selector in OWN else SURFACES
    ratios = {background: round(contrast(text, background), 2) for background in backgrounds}
    assert min(ratios.values()) >= 4.5, f"{selector}: {text} on {ratios}"


@pytest.mark.parametrize("name", ["--focus", "--field"])
def test_focus_outline_and_input_border_stand_out(name: str) -> None:
    shade = colour(PROPERTIES[name])
    assert shade is not None
    ratios = {background: round(contrast(shade, background), 2) for background in SURFACES}
    assert min(ratios.values()) >= 3.0, f"{name}: {shade} on {ratios}"


def test_focus_is_always_outlined() -> None:
    focus = [declarations for selector, declarations in RULES if selector == ":focus-visible"]
    assert focus and "var(--focus)" in focus[0]["outline"]
    assert not any(re.fullmatch(r"(none|0)(\s.*)?", declarations.get("outline", "x")) for _, declarations in RULES), (
        "no rule removes the focus outline"
    )
