"""HTML to plain text for the document index, with the standard library's parser.

Scripts, styles, ``<nav>`` menus and the ``<head>`` (but its ``<title>``) are dropped; headings
``h1``–``h6`` become Markdown ``#`` lines, so chunking cuts sections at them
exactly as in a Markdown file; block elements (paragraphs, list items, table
rows, ``<br>`` …) become line breaks, paragraphs blank lines, so sentences and
paragraphs end where the page shows them ending; table cells are separated by a
space. Whitespace inside a block is
collapsed to one space, except in ``<pre>``, whose lines keep their breaks.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["HTMLText", "html_to_text"]

# Never text: code, styling, the head, and navigation menus (the same on every page).
# A content element ends an unclosed <head> (its end tag is optional in HTML).
_CONTENT = frozenset(
    {"body", "main", "article", "section", "p", "div", "h1", "h2", "h3", "h4", "h5", "h6"}
    | {"ul", "ol", "table", "pre", "blockquote", "header", "footer"}
)
_DROP = frozenset({"script", "style", "noscript", "template", "svg", "head", "nav"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Elements that stand on their own lines; those in _PARAGRAPHS get a blank line around them.
_PARAGRAPHS = frozenset(
    {"p", "div", "section", "article", "header", "footer", "main", "aside", "nav", "blockquote"}
    | {"table", "ul", "ol", "dl", "pre", "figure", "form", "address", "fieldset", "details"}
)
_LINES = frozenset({"br", "li", "tr", "dt", "dd", "hr", "figcaption", "summary", "caption"})
_CELLS = frozenset({"td", "th"})
_SPACES = re.compile(r"[ \t\r\f\v\n]+")


class HTMLText(HTMLParser):
    """Collects the text of an HTML page; read :attr:`title` and :meth:`text` after ``close()``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._dropping: list[str] = []
        self._heading: list[str] | None = None
        self._level = 1
        self._headings: set[str] = set()
        self._pre = 0
        self._in_title = False
        self._title: list[str] = []
        self.first_heading: str | None = None
        """The text of the page's first ``h1``–``h6``, when it has one."""

    @property
    def title(self) -> str | None:
        """The page's ``<title>``, whitespace collapsed, or None when absent or empty."""
        title = _SPACES.sub(" ", "".join(self._title)).strip()
        return title or None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and (not self._dropping or self._dropping == ["head"]):
            self._in_title = not self._title  # the page's title, not an <svg> one's
        elif tag in _CONTENT and self._dropping == ["head"]:
            self._dropping.clear()  # the end of <head> is optional in HTML
        if tag in _PARAGRAPHS or tag in _HEADINGS:
            self._end_heading()  # an unclosed heading ends where the next block starts
        if self._dropping or tag in _DROP:
            if tag in _DROP:
                self._dropping.append(tag)
            return
        if tag in _HEADINGS:
            self._out.append("\n\n")
            self._heading = []
            self._level = _HEADINGS[tag]
        elif tag in _PARAGRAPHS:
            self._out.append("\n\n")
            if tag == "pre":
                self._pre += 1
        elif tag in _LINES:
            self._out.append("\n")
        elif tag in _CELLS:
            self._out.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._dropping and tag in _LINES:
            self._out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self._dropping:
            if tag == self._dropping[-1]:
                self._dropping.pop()
            return
        if tag in _HEADINGS:
            self._end_heading(_HEADINGS[tag])
        elif tag in _PARAGRAPHS:
            if tag == "pre" and self._pre:
                self._pre -= 1
            self._out.append("\n\n")

    def _end_heading(self, level: int | None = None) -> None:
        if self._heading is None:
            return
        text = _SPACES.sub(" ", "".join(self._heading)).strip()
        self._heading = None
        if text:
            self.first_heading = self.first_heading or text
            line = f"{'#' * (level or self._level)} {text}"
            self._headings.add(line)
            self._out.append(f"{line}\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
        if self._dropping:
            return
        if self._heading is not None:
            self._heading.append(data)
        elif self._pre:
            self._out.append(data)
        else:
            self._out.append(_SPACES.sub(" ", data))

    def text(self) -> str:
        """The page's text: lines stripped, at most one blank line in a row; a line of
        content that starts with ``#`` is escaped so it is not read as a heading."""
        self._end_heading()
        lines = [line.strip() for line in "".join(self._out).split("\n")]
        lines = [
            "\\" + line if line.startswith("#") and line not in self._headings else line
            for line in lines
        ]
        text = "\n".join(lines)
        return re.sub(r"\n{3,}", "\n\n", text).strip()


def html_to_text(html: str) -> tuple[str, str | None]:
    """``(text, title)`` of an HTML page; the title is ``<title>``, else the first heading."""
    parser = HTMLText()
    parser.feed(html)
    parser.close()
    return parser.text(), parser.title or parser.first_heading
