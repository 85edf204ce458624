"""The customer's own words from an e-mail body: HTML made text, quoted history and signature cut.

HTML becomes text with ``html-text`` (MIT, maintained by Zyte, typed): it drops scripts and
styles and turns block elements into line breaks, which the line-based rules below rely on.
inscriptis (Apache-2.0) renders tables better but ships no type information and pulls in
``requests``; selectolax's and BeautifulSoup's text extraction don't tell block from inline
elements, so paragraphs run together; html2text is GPL.

The trimming rules are ours, kept as pattern tables. mail-parser-reply (MIT) was tried first: it
has no Russian, a new language means mutating its module-global table, and its signature rules
drop real content (everything after a ``- item`` line or a line starting ``Thanks,``).
email-reply-parser knows English only; quotequail knows two Russian phrases and no signatures.
Losing a customer's words costs a desk more than keeping a signature, so every rule here errs
towards keeping text, and a message that would trim to nothing (a bare forward) is kept whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import html_text

# Lines longer than this are prose, never a reply header; the bound also keeps matching linear.
_MAX_HEADER_LINE = 300
# A signature is a short tail: a marker followed by at most this many non-blank lines.
_MAX_SIGNATURE_LINES = 8
# How far below a "From:" line the rest of a quoted header block may start.
_HEADER_BLOCK_REACH = 4


def _compiled(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern, re.IGNORECASE) for pattern in patterns)


QUOTE_STARTS: tuple[re.Pattern[str], ...] = _compiled(
    # Outlook, Thunderbird, Gmail, mail.ru and Yandex separators above a quoted or forwarded mail
    r"-{2,}\s*(original message|forwarded message|исходное сообщение"
    r"|пересылаемое сообщение|пересланное сообщение)\s*-{2,}",
    r"_{20,}",
    # Gmail, Apple Mail, Thunderbird: "On Mon, 16 Nov 2026 at 10:00, Ivan <ivan@…> wrote:"
    r"(?=.*\d)on\s.+\swrote:",
    # Thunderbird, Outlook, Apple Mail in Russian: "16.11.2026 12:00, Иван пишет:",
    # "16 нояб. 2026 г., в 10:00, Иван <ivan@…> написал(а):"
    r"(?=.*[\d@]).+\s(пишет|написал|написала|написал\(а\)):",
    # Gmail and iOS Mail in Russian: "пн, 16 нояб. 2026 г. в 12:00, Иван <ivan@…>:"
    r"(\w{2},\s)?\d{1,2}\s\w{3,8}\.?\s\d{4}\s?г\.,?\s(в\s)?\d{1,2}:\d{2},\s.+:",
    # Yandex: "16.11.2026, 12:00, "Иван" <ivan@…>:"
    r"\d{1,2}\.\d{1,2}\.\d{2,4},?\s\d{1,2}:\d{2},\s.*<[^<>\s]+@[^<>\s]+>:",
    # mail.ru: "Понедельник, 16 ноября 2026, 12:00 +03:00 от Иван <ivan@…>:"
    r"(\w+,\s)?\d{1,2}\s\w+\s\d{4},\s\d{1,2}:\d{2}.*\sот\s.+:",
)
"""A line (or two, when a client wrapped it) that introduces the quoted earlier message."""

HEADER_BLOCK_FIRST: re.Pattern[str] = re.compile(r"\*?(from|от|от кого):\*?\s.*", re.IGNORECASE)
HEADER_BLOCK_DATE: re.Pattern[str] = re.compile(
    r"\*?(sent|date|отправлено|дата):\*?\s.*", re.IGNORECASE
)
"""Outlook quotes without a separator: a "From:" line and, a few lines below, "Sent:"."""

SIGNATURE_STARTS: tuple[re.Pattern[str], ...] = _compiled(
    r"--\s?",  # RFC 3676's "-- "; clients and HTML conversion often lose the space
    r"((best|kind|warm|warmest)\s)?regards[,.!]?(\s.{1,60})?",
    r"(best wishes|many thanks|thanks|thank you|cheers)[,.!]?",
    r"(sent from|get outlook for)\s.{1,60}",
    r"с\s(уважением|наилучшими пожеланиями)[,.!]?(\s.{1,60})?",
    r"(всего доброго|всего хорошего|спасибо|заранее спасибо)[,.!]?",
    r"отправлено\s(с|из|со)\s.{1,60}",  # "Отправлено с iPhone", "…из мобильной Яндекс Почты"
)
"""A line that opens a signature when only a short tail follows it."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BLANK_RUN = re.compile(r"\n{3,}")


def printable(value: str) -> str:
    """``value`` without control characters and with lone surrogates replaced, so that it
    serialises as JSON and parses as HTML."""
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", value))


def html_to_text(html: str) -> str:
    """The text of an HTML body, one line per block element."""
    return html_text.extract_text(printable(html))


def clean_text(text: str) -> str:
    """The newest part of a reply: the quoted history and a trailing signature removed.

    A body that trims to nothing is returned whole, so a forwarded message keeps its content.
    """
    lines = [line.rstrip() for line in printable(text).replace("\r\n", "\n").split("\n")]
    unquoted = [line for line in lines[: _quote_start(lines)] if not line.lstrip().startswith(">")]
    for candidate in (_without_signature(unquoted), unquoted, lines):
        if joined := _BLANK_RUN.sub("\n\n", "\n".join(candidate)).strip():
            return joined
    return ""


def _quote_start(lines: Sequence[str]) -> int:
    for index, line in enumerate(lines):
        following = [nxt.strip() for nxt in lines[index + 1 : index + 1 + _HEADER_BLOCK_REACH]]
        if _introduces_quote(line.strip()) or (
            # a client wrapped the header: this line and the next make it, the next alone doesn't
            following
            and not _introduces_quote(following[0])
            and _introduces_quote(f"{line.strip()} {following[0]}")
        ):
            return index
        if HEADER_BLOCK_FIRST.fullmatch(line.strip()) and any(
            HEADER_BLOCK_DATE.fullmatch(nxt) for nxt in following
        ):
            return index
    return len(lines)


def _introduces_quote(line: str) -> bool:
    return 0 < len(line) <= _MAX_HEADER_LINE and any(p.fullmatch(line) for p in QUOTE_STARTS)


def _without_signature(lines: list[str]) -> list[str]:
    remaining = sum(1 for line in lines if line.strip())
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        remaining -= 1
        if remaining <= _MAX_SIGNATURE_LINES and any(
            p.fullmatch(stripped) for p in SIGNATURE_STARTS
        ):
            return lines[:index]
    return lines
