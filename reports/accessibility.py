"""Check the rendered report against WCAG 2.1 AA in Python: contrast, headings, alt texts, table headers, language, links.

axe-core would need Chromium and Node, which the secure environment does not have, so the
rules the report can break are checked here on the HTML and its embedded stylesheet:

- 1.4.3 contrast: every text's colour against the background behind it is at least 4.5:1
  (the stylesheet is cascaded onto the document, for screen and for print, custom properties
  resolved; the page margins' running header and page numbers against the page too). 4.5:1 is
  asked of all text, headings included, which is stricter than WCAG's 3:1 for large text;
- 1.4.1 use of colour: a cell or row marked as passed or failed (class ``pass``/``fail``) also
  says so in words or with a symbol;
- 1.3.1 and 2.4.6 headings: one ``h1``, first; no level skipped on the way down; none empty;
- 1.3.1 tables: every ``<table>`` has a caption and header cells, every ``<th>`` a ``scope``;
- 1.1.1 non-text content: every ``<img>`` a non-empty ``alt``, every ``<svg>`` an accessible name;
- 2.4.4 links: every link has a text, and an in-page link's target exists;
- 3.1.1 and 2.4.2: the page's language (``<html lang>``) and title are set;
- 4.1.1 parsing: no two elements share an ``id``.

`check_accessibility(html)` returns the violations; `require_accessible(html)` raises
`AccessibilityError` listing them, which stops ``koord report`` before anything is written.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

import cssselect2
import tinycss2
import tinycss2.color3

from koord.errors import KoordError

MIN_CONTRAST = 4.5
MEDIA = ("screen", "print")
WHITE = (1.0, 1.0, 1.0, 1.0)
BLACK = (0.0, 0.0, 0.0, 1.0)
SCOPES = {"col", "row", "colgroup", "rowgroup"}
# Words and symbols that carry a pass/fail mark without its colour (Swedish, as the report is).
STATUS_MARKERS = {
    "pass": re.compile(r"\b(godkänd|godkända|uppfylld|uppfyllt|uppfylls|ja)\b|[✓✔]", re.IGNORECASE),
    "fail": re.compile(r"\b(ej godkänd|inte godkänd|underkänd|ej uppfylld|inte uppfylld|uppfylls inte|nej)\b|[✗✘]",
                       re.IGNORECASE),
}
VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
NOT_RENDERED = {"head", "style", "script", "title", "template", "meta", "link"}
MAX_LISTED = 25


class AccessibilityError(KoordError):
    """The report's HTML breaks a WCAG 2.1 AA rule; the message lists every violation."""


@dataclass(frozen=True)
class Violation:
    """One broken rule: the WCAG success criterion, a short rule name and what is wrong where."""

    criterion: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"[WCAG {self.criterion} {self.rule}] {self.message}"


def check_accessibility(html: str) -> list[Violation]:
    """Every violation of the rules above in ``html`` (a whole document with its ``<style>`` embedded)."""
    root = parse_html(html)
    violations = [*_check_document(root), *_check_ids(root), *_check_headings(root), *_check_tables(root),
                  *_check_images(root), *_check_links(root), *_check_status_marks(root)]
    stylesheet = "\n".join(_text(style) for style in root.iter("style"))
    violations += _check_contrast(root, stylesheet)
    return violations


def require_accessible(html: str, what: str = "the report") -> None:
    """Raise `AccessibilityError` listing the violations of ``html``; nothing when there are none."""
    violations = check_accessibility(html)
    if not violations:
        return
    listed = "\n".join(f"  - {v}" for v in violations[:MAX_LISTED])
    more = f"\n  … and {len(violations) - MAX_LISTED} more" if len(violations) > MAX_LISTED else ""
    raise AccessibilityError(
        f"{what} fails the accessibility check (WCAG 2.1 AA) with {len(violations)} violation(s):\n{listed}{more}\n"
        "No report was written. Fix the template, stylesheet or section that produces them "
        "(reports/templates/, reports/sections/)."
    )


# --- the document as an ElementTree -------------------------------------------------------------


class _TreeBuilder(HTMLParser):
    """HTML to an ElementTree: the report's templates close every element, so no error recovery is needed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = ET.Element("document")
        self._open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = ET.SubElement(self._open[-1], tag, {k: v or "" for k, v in attrs})
        if tag not in VOID_ELEMENTS:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ET.SubElement(self._open[-1], tag, {k: v or "" for k, v in attrs})

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._open) - 1, 0, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return  # an end tag without its start is ignored, as browsers do

    def handle_data(self, data: str) -> None:
        parent = self._open[-1]
        if len(parent):
            parent[-1].tail = (parent[-1].tail or "") + data
        else:
            parent.text = (parent.text or "") + data


def parse_html(html: str) -> ET.Element:
    """The ``<html>`` element of a document, as an ElementTree element (tags and attributes lower-case)."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    element = builder.root.find("html")
    return element if element is not None else builder.root


def _text(element: ET.Element) -> str:
    return "".join(element.itertext())


def _squash(text: str) -> str:
    return " ".join(text.split())


def _short(text: str, limit: int = 70) -> str:
    """A quote short enough for a message line."""
    text = _squash(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _describe(element: ET.Element) -> str:
    """``<td class="num">`` — enough to find the element in the template."""
    attrs = "".join(f' {k}="{element.get(k)}"' for k in ("id", "class") if element.get(k))
    return f"<{element.tag}{attrs}>"


def _parents(root: ET.Element) -> dict[ET.Element, ET.Element]:
    return {child: parent for parent in root.iter() for child in parent}


def _ancestors(element: ET.Element, parents: dict[ET.Element, ET.Element]) -> Iterator[ET.Element]:
    node = parents.get(element)
    while node is not None:
        yield node
        node = parents.get(node)


def _where(element: ET.Element, parents: dict[ET.Element, ET.Element]) -> str:
    """The element, and the table or section it stands in."""
    for node in _ancestors(element, parents):
        if node.tag in ("table", "section", "figure", "nav", "header", "footer") and node.get("id"):
            return f"{_describe(element)} in <{node.tag} id=\"{node.get('id')}\">"
    return _describe(element)


# --- structure ------------------------------------------------------------------------------------


def _check_document(root: ET.Element) -> Iterator[Violation]:
    lang = root.get("lang", "").strip() if root.tag == "html" else ""
    if not lang:
        yield Violation("3.1.1", "language", "<html> has no lang attribute: the document's language is not declared")
    elif not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", lang):
        yield Violation("3.1.1", "language", f"<html lang=\"{lang}\"> is not a language tag (BCP 47, e.g. \"sv\")")
    title = root.find("head/title")
    if title is None or not _squash(_text(title)):
        yield Violation("2.4.2", "page-title", "the document has no <title>")


def _check_ids(root: ET.Element) -> Iterator[Violation]:
    seen: dict[str, int] = defaultdict(int)
    for element in root.iter():
        if element.get("id"):
            seen[element.get("id")] += 1
    for element_id, n in seen.items():
        if n > 1:
            yield Violation("4.1.1", "duplicate-id", f"id=\"{element_id}\" is used by {n} elements")


HEADING = re.compile(r"h([1-6])")


def _check_headings(root: ET.Element) -> Iterator[Violation]:
    headings = [(int(m.group(1)), h) for h in root.iter() if (m := HEADING.fullmatch(h.tag))]
    n_h1 = sum(level == 1 for level, _ in headings)
    if n_h1 != 1:
        yield Violation("1.3.1", "one-h1", f"the document has {n_h1} <h1> headings; it must have exactly one")
    if headings and headings[0][0] != 1:
        yield Violation("1.3.1", "heading-order",
                        f"the first heading is <h{headings[0][0]}> \"{_short(_text(headings[0][1]))}\", not the <h1>")
    previous = None
    for level, heading in headings:
        text = _short(_text(heading))
        if not text:
            yield Violation("2.4.6", "empty-heading", f"{_describe(heading)} has no text")
        if previous is not None and level > previous + 1:
            yield Violation("1.3.1", "heading-order",
                            f"<h{level}> \"{text}\" follows an <h{previous}>: heading level h{previous + 1} is skipped")
        previous = level


def _check_tables(root: ET.Element) -> Iterator[Violation]:
    for table in root.iter("table"):
        if table.get("role") in ("presentation", "none"):
            continue
        name = f"<table id=\"{table.get('id')}\">" if table.get("id") else "a <table> without id"
        caption = table.find("caption")
        if caption is None or not _squash(_text(caption)):
            yield Violation("1.3.1", "table-caption", f"{name} has no caption")
        headers = list(table.iter("th"))
        if not headers:
            yield Violation("1.3.1", "table-headers", f"{name} has no header cells (<th>)")
        unscoped = [th for th in headers if th.get("scope", "").lower() not in SCOPES]
        if unscoped:
            examples = ", ".join(f"\"{_short(_text(th), 40)}\"" for th in unscoped[:3])
            yield Violation("1.3.1", "th-scope",
                            f"{name}: {len(unscoped)} header cell(s) without scope=col|row|colgroup|rowgroup (e.g. {examples})")


def _accessible_name(element: ET.Element, root: ET.Element) -> str:
    """aria-label, else the text of aria-labelledby's elements, else a <title> child (SVG)."""
    if element.get("aria-label", "").strip():
        return element.get("aria-label").strip()
    ids = element.get("aria-labelledby", "").split()
    if ids:
        named = [e for e in root.iter() if e.get("id") in ids]
        return _squash(" ".join(_text(e) for e in named))
    title = element.find("title")
    return _squash(_text(title)) if title is not None else ""


def _check_images(root: ET.Element) -> Iterator[Violation]:
    parents = _parents(root)
    for img in root.iter("img"):
        # An empty alt is right only for decoration, and an image in a <figure> is never decoration.
        decorative = (img.get("aria-hidden") == "true" or img.get("role") in ("presentation", "none")) and not any(
            a.tag == "figure" for a in _ancestors(img, parents))
        if "alt" not in img.attrib:
            yield Violation("1.1.1", "img-alt", f"{_where(img, parents)} has no alt attribute")
        elif not img.get("alt").strip() and not decorative:
            yield Violation("1.1.1", "img-alt", f"{_where(img, parents)} has an empty alt text")
    for svg in root.iter("svg"):
        if svg.get("aria-hidden") == "true":
            continue
        if not _accessible_name(svg, root):
            yield Violation("1.1.1", "svg-name", f"{_where(svg, parents)} has no aria-label, aria-labelledby or <title>")


def _link_text(link: ET.Element) -> str:
    alts = " ".join(img.get("alt", "") for img in link.iter("img"))
    return _squash(f"{link.get('aria-label', '')} {_text(link)} {alts}")


def _check_links(root: ET.Element) -> Iterator[Violation]:
    parents = _parents(root)
    targets = {e.get("id") for e in root.iter() if e.get("id")} | {e.get("name") for e in root.iter("a") if e.get("name")}
    for link in root.iter("a"):
        if "href" not in link.attrib:
            continue
        href = link.get("href", "")
        if not _link_text(link):
            yield Violation("2.4.4", "link-name", f"{_where(link, parents)} (href=\"{href}\") has no text")
        if href.startswith("#") and href[1:] not in targets:
            yield Violation("2.4.4", "link-target",
                            f"the link \"{_short(_link_text(link))}\" points to #{href[1:]}, which does not exist")
        if not href.strip():
            yield Violation("2.4.4", "link-target", f"the link \"{_short(_link_text(link))}\" has an empty href")


def _check_status_marks(root: ET.Element) -> Iterator[Violation]:
    parents = _parents(root)
    for element in root.iter():
        for status in element.get("class", "").split():
            marker = STATUS_MARKERS.get(status)
            text = _squash(" ".join(element.itertext()))  # cells apart, so "godkänd" and "ej godkänd" stay words
            if marker is not None and not marker.search(text):
                yield Violation("1.4.1", "colour-only",
                                f"{_where(element, parents)} \"{_short(text)}\" is marked '{status}' by "
                                f"colour only: say it in words (e.g. \"godkänd\"/\"ej godkänd\") or with a symbol (✓/✗)")


# --- contrast ---------------------------------------------------------------------------------------

RGBA = tuple[float, float, float, float]


@dataclass(frozen=True)
class _Declaration:
    name: str
    value: list  # tinycss2 component values
    important: bool


def _declarations(content: Iterable) -> list[_Declaration]:
    parsed = tinycss2.parse_blocks_contents(content, skip_comments=True, skip_whitespace=True)
    return [_Declaration(d.lower_name if not d.name.startswith("--") else d.name, d.value, d.important)
            for d in parsed if d.type == "declaration"]


def _media_applies(prelude: list, medium: str) -> bool:
    """A media query list applies to ``medium`` if a query names it or ``all``, or names no type (features only)."""
    for query in tinycss2.serialize(prelude).lower().split(","):
        words = query.split()
        if words and words[0] == "only":
            words = words[1:]
        if not words or words[0] in (medium, "all") or words[0].startswith("("):
            return True
    return False


@dataclass
class _Sheet:
    """The stylesheet's rules for one medium, and its @page margin-box colours."""

    matcher: cssselect2.Matcher
    page_background: list | None
    margin_colours: list[tuple[str, list]]


def _compile(stylesheet: str, medium: str) -> _Sheet:
    matcher = cssselect2.Matcher()
    page_background: list | None = None
    margin_colours: list[tuple[str, list]] = []
    order = 0

    def add(rules: Iterable) -> None:
        nonlocal order, page_background
        for rule in rules:
            if rule.type == "qualified-rule":
                declarations = _declarations(rule.content)
                try:
                    selectors = cssselect2.compile_selector_list(rule.prelude)
                except cssselect2.SelectorError:
                    continue  # a selector the matcher cannot read cannot colour text we check
                for selector in selectors:
                    matcher.add_selector(selector, (order, declarations))
                order += 1
            elif rule.type == "at-rule" and rule.lower_at_keyword == "media" and rule.content is not None:
                if _media_applies(rule.prelude, medium):
                    add(tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True))
            elif rule.type == "at-rule" and rule.lower_at_keyword == "page" and rule.content is not None:
                for item in tinycss2.parse_blocks_contents(rule.content, skip_comments=True, skip_whitespace=True):
                    if item.type == "declaration" and item.lower_name in ("background", "background-color"):
                        page_background = item.value
                    elif item.type == "at-rule" and item.content is not None:
                        for d in _declarations(item.content):
                            if d.name == "color":
                                margin_colours.append((f"@page @{item.lower_at_keyword}", d.value))

    add(tinycss2.parse_stylesheet(stylesheet, skip_comments=True, skip_whitespace=True))
    return _Sheet(matcher, page_background, margin_colours)


def _substitute(value: list, custom: dict[str, list], depth: int = 0) -> list:
    """``var(--name, fallback)`` replaced by the custom property's value."""
    out: list = []
    for token in value:
        if token.type == "function" and token.lower_name == "var" and depth < 10:
            args = [t for t in token.arguments if t.type not in ("whitespace", "comment")]
            name = args[0].value if args and args[0].type == "ident" else ""
            if name in custom:
                out.extend(_substitute(custom[name], custom, depth + 1))
            else:
                comma = next((i for i, t in enumerate(token.arguments) if t.type == "literal" and t.value == ","), None)
                if comma is not None:
                    out.extend(_substitute(token.arguments[comma + 1:], custom, depth + 1))
        else:
            out.append(token)
    return out


def _colour(value: list, custom: dict[str, list], current: RGBA) -> RGBA | None:
    """The first colour in a declaration's value (a ``background`` shorthand has one among other parts)."""
    for token in _substitute(value, custom):
        if token.type in ("whitespace", "comment"):
            continue
        parsed = tinycss2.color3.parse_color(token)
        if parsed == "currentColor":
            return current
        if parsed is not None:
            return (parsed.red, parsed.green, parsed.blue, parsed.alpha)
    return None


def _over(top: RGBA, bottom: RGBA) -> RGBA:
    """``top`` composited over an opaque ``bottom``."""
    a = top[3]
    return (top[0] * a + bottom[0] * (1 - a), top[1] * a + bottom[1] * (1 - a), top[2] * a + bottom[2] * (1 - a), 1.0)


def _luminance(c: RGBA) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2])


def contrast_ratio(foreground: RGBA, background: RGBA) -> float:
    """WCAG 2.1 contrast ratio of two colours (RGBA, 0–1; the foreground composited over the background)."""
    back = _over(background, WHITE)
    lighter, darker = sorted((_luminance(_over(foreground, back)), _luminance(back)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _hex(c: RGBA) -> str:
    return "#" + "".join(f"{round(v * 255):02x}" for v in c[:3])


def _has_own_text(element: ET.Element) -> bool:
    return bool((element.text or "").strip()) or any((child.tail or "").strip() for child in element)


def _check_contrast(root: ET.Element, stylesheet: str) -> list[Violation]:
    # (foreground, background) -> media, elements; one violation per colour pair, not per cell
    failing: dict[tuple[str, str], dict] = {}
    parents = _parents(root)

    def record(fg: RGBA, bg: RGBA, medium: str, where: str) -> None:
        ratio = contrast_ratio(fg, bg)
        if ratio >= MIN_CONTRAST:
            return
        entry = failing.setdefault((_hex(_over(fg, bg)), _hex(bg)), {"ratio": ratio, "media": set(), "n": 0, "where": where})
        entry["media"].add(medium)
        entry["n"] += 1

    for medium in MEDIA:
        sheet = _compile(stylesheet, medium)
        wrapper = cssselect2.ElementWrapper.from_html_root(root)
        root_custom: dict[str, list] = {}

        def visit(node: cssselect2.ElementWrapper, colour: RGBA, backdrop: RGBA, custom: dict[str, list]) -> None:
            element = node.etree_element
            if element.tag in NOT_RENDERED:
                return
            matches = sorted((m for m in sheet.matcher.match(node) if m[2] is None), key=lambda m: (m[0], m[3][0]))
            declared = [d for m in matches for d in m[3][1] if not d.important]
            declared += _declarations(element.get("style", "")) if element.get("style") else []
            declared += [d for m in matches for d in m[3][1] if d.important]
            own_custom = dict(custom)
            for d in declared:
                if d.name.startswith("--"):
                    own_custom[d.name] = d.value
            if element.tag == "html":
                root_custom.update(own_custom)
            own_colour, own_background = colour, backdrop
            for d in declared:
                if d.name == "color":
                    own_colour = _colour(d.value, own_custom, colour) or own_colour
                elif d.name in ("background", "background-color"):
                    layer = _colour(d.value, own_custom, own_colour)
                    if layer is not None:
                        own_background = _over(layer, backdrop)
            if _has_own_text(element):
                record(own_colour, own_background, medium, _where(element, parents))
            for child in node.iter_children():
                visit(child, own_colour, own_background, own_custom)

        visit(wrapper, BLACK, WHITE, {})
        page = _over(_colour(sheet.page_background, root_custom, BLACK) or WHITE, WHITE) if sheet.page_background else WHITE
        for where, value in sheet.margin_colours:
            fg = _colour(value, root_custom, BLACK)
            if fg is not None:
                record(fg, page, medium, where)

    return [
        Violation("1.4.3", "contrast",
                  f"text {fg} on {bg} has contrast {e['ratio']:.2f}:1, below {MIN_CONTRAST}:1 "
                  f"({e['n']} element(s) on {' and '.join(sorted(e['media']))}, e.g. {e['where']})")
        for (fg, bg), e in failing.items()
    ]
