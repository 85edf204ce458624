"""Case-insensitive patterns from the rules file, and the prefilter that keeps them fast.

Python's ``re`` tries a pattern that starts with ``\\b``, or is case-insensitive over
non-ASCII text, at every position of the text: tens of µs per pattern on a 1 KB text, too slow
for the hundred-odd patterns of a rules file. Most patterns, though, start with a word stem
("\\bгаранти", "\\bwarranty"), and every match of such a pattern starts where the stem
occurs. So, per pattern, the literals its matches must start with are worked out at load;
per message, the text is lower-cased once and its words indexed by their first letters. A
pattern whose literals do not occur is skipped at the cost of a set lookup or a substring
test; otherwise the regex is tried only at the places where they occur. Patterns without a
literal start are run as usual.

The prefilter compares ``str.lower()`` forms, so the rare case-insensitive equivalences that
``re`` knows beyond it (the long s "ſ" for "s", the dotless "ı" for "i") are not seen.
Matching folds ``ё`` into ``е`` on both sides, since customers write either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

# Words are indexed by their first letters; a stem of at least that many word characters at a
# word start is looked up there.
_KEY = 3
_KEYABLE = re.compile(rf"^\w{{{_KEY}}}")
_WORD_START = re.compile(rf"\b\w{{{_KEY}}}")

# Characters that end a literal run in a pattern.
_SPECIAL = frozenset("\\[](){}|?*+.^$")
_SCOPED_VERBOSE = re.compile(r"\(\?[aiLmsux]*x")
# Quantifiers that make the character before them optional.
_OPTIONAL_AFTER = frozenset("?*{")


def _class_end(pattern: str, opening: int) -> int | None:
    """The index of the ']' closing the character class opened at ``opening``."""
    index = opening + 1
    if pattern[index : index + 1] == "^":
        index += 1
    if pattern[index : index + 1] == "]":
        index += 1
    while index < len(pattern):
        if pattern[index] == "\\":
            index += 2
            continue
        if pattern[index] == "]":
            return index
        index += 1
    return None


def _scan(pattern: str) -> list[tuple[int, str, int]] | None:
    """The pattern's structural characters outside escapes and classes, with the group depth
    before each; None when brackets do not balance."""
    found, depth, index = [], 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            end = _class_end(pattern, index)
            if end is None:
                return None
            index = end + 1
            continue
        if char in "()|":
            found.append((index, char, depth))
            depth += {"(": 1, ")": -1}.get(char, 0)
        index += 1
    return found if depth == 0 else None


def _top_level_alternatives(pattern: str) -> list[str] | None:
    """Split on '|' outside groups and classes."""
    structure = _scan(pattern)
    if structure is None:
        return None
    cuts = [index for index, char, depth in structure if char == "|" and depth == 0]
    bounds = [-1, *cuts, len(pattern)]
    return [pattern[bounds[i] + 1 : bounds[i + 1]] for i in range(len(bounds) - 1)]


def _group_end(branch: str) -> int | None:
    """The index of the ')' closing the group that opens the branch."""
    structure = _scan(branch)
    if structure is None:
        return None
    return next((i for i, char, depth in structure if char == ")" and depth == 1), None)


def _group_body_start(branch: str) -> int | None:
    """Where the body of a capturing, non-capturing or named group at the start begins."""
    if branch.startswith("(?:"):
        return 3
    if branch.startswith("(?P<"):
        return branch.index(">") + 1 if ">" in branch else None
    if branch.startswith("(") and not branch.startswith("(?"):
        return 1
    return None


Needle = tuple[str, bool]
"""A literal every match starts with, and whether it starts at a word boundary."""


def _leading_literals(branch: str, at_word_start: bool = False) -> set[Needle] | None:
    """Literals one of which every match of ``branch`` starts with, or None if unknown."""
    while branch.startswith("\\b"):
        branch, at_word_start = branch[2:], True
    body_start = _group_body_start(branch)
    if body_start is not None:
        end = _group_end(branch)
        if end is None or branch[end + 1 : end + 2] in _OPTIONAL_AFTER:
            return None
        return _needles(branch[body_start:end], at_word_start)
    run = []
    for char in branch:
        if char in _SPECIAL:
            break
        run.append(char)
    rest = branch[len(run) :]
    if run and rest[:1] in _OPTIONAL_AFTER:
        run.pop()
        rest = ""
    literal = "".join(run).lower()
    if not literal.strip():
        return None
    # A stem followed by a group of endings ("не (работает|включается)") is more selective
    # when joined with the group's own leading literals.
    endings = _leading_literals(rest) if _group_body_start(rest) is not None else None
    if endings:
        return {(literal + ending, at_word_start) for ending, _ in endings}
    return {(literal, at_word_start)}


def _needles(pattern: str, at_word_start: bool = False) -> set[Needle] | None:
    branches = _top_level_alternatives(pattern)
    if branches is None:
        return None
    needles: set[Needle] = set()
    for branch in branches:
        literals = _leading_literals(branch, at_word_start)
        if literals is None:
            return None
        needles |= literals
    return needles


def fold_yo(text: str) -> str:
    """Write ``ё`` as ``е``: customers use both, and patterns should not have to."""
    # str.replace is several times faster than str.translate on non-ASCII text.
    return text.replace("ё", "е").replace("Ё", "Е")


@dataclass(frozen=True)
class Haystack:
    """A text prepared once for all the patterns run on it."""

    text: str
    searchable: str
    lowered: str
    word_starts: frozenset[str]
    aligned: bool = field(default=True, repr=False)
    """Whether ``lowered`` has the positions of ``searchable`` (lower-casing kept the length)."""

    @classmethod
    def of(cls, text: str) -> Haystack:
        searchable = fold_yo(text)
        lowered = searchable.lower()
        word_starts = frozenset(_WORD_START.findall(lowered))
        return cls(text, searchable, lowered, word_starts, len(lowered) == len(searchable))


@dataclass(frozen=True)
class TextPattern:
    """A compiled case-insensitive pattern and the literals one of which every match starts
    with (``literals`` empty: unknown, the pattern is always run)."""

    source: str
    regex: re.Pattern[str]
    literals: tuple[str, ...] = ()
    word_keys: frozenset[str] = frozenset()
    substrings: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"TextPattern({self.source!r})"

    @classmethod
    def compile(cls, source: str) -> TextPattern:
        """Compile a pattern written in the rules file (after ``fold_yo``)."""
        regex = re.compile(source, re.IGNORECASE)
        # In verbose mode spaces in the source are not literal; do without the prefilter.
        verbose = regex.flags & re.VERBOSE or _SCOPED_VERBOSE.search(source)
        needles = None if verbose else _needles(source)
        if not needles:
            return cls(source, regex)
        keyable = {literal for literal, at_word_start in needles if at_word_start}
        keyable = {literal for literal in keyable if _KEYABLE.match(literal)}
        literals = {literal for literal, _ in needles}
        return cls(
            source,
            regex,
            literals=tuple(sorted(literals)),
            word_keys=frozenset(literal[:_KEY] for literal in keyable),
            substrings=tuple(sorted(literals - keyable)),
        )

    def may_match(self, haystack: Haystack) -> bool:
        """False only when the pattern cannot match the haystack."""
        return (
            not self.literals
            or not self.word_keys.isdisjoint(haystack.word_starts)
            or any(literal in haystack.lowered for literal in self.substrings)
        )

    def _candidates(self, haystack: Haystack) -> list[int]:
        """Where a match may start: wherever one of the literals occurs."""
        lowered, starts = haystack.lowered, set()
        for literal in self.literals:
            at = lowered.find(literal)
            while at >= 0:
                starts.add(at)
                at = lowered.find(literal, at + 1)
        return sorted(starts)

    def search(self, haystack: Haystack) -> re.Match[str] | None:
        """The leftmost match, like ``re.search`` on the folded text."""
        if not self.may_match(haystack):
            return None
        if not (self.literals and haystack.aligned):
            return self.regex.search(haystack.searchable)
        for start in self._candidates(haystack):
            match = self.regex.match(haystack.searchable, start)
            if match:
                return match
        return None

    def finditer(self, haystack: Haystack) -> Iterator[re.Match[str]]:
        """Non-overlapping matches from left to right, like ``re.finditer``."""
        if not self.may_match(haystack):
            return
        if not (self.literals and haystack.aligned):
            yield from self.regex.finditer(haystack.searchable)
            return
        resume = 0
        for start in self._candidates(haystack):
            if start < resume:
                continue
            match = self.regex.match(haystack.searchable, start)
            if match:
                resume = max(match.end(), start + 1)
                yield match


@dataclass(frozen=True)
class PatternSet:
    """Patterns tried in order, with their prefilters merged so that a set none of whose
    literals occur is skipped with one check."""

    patterns: tuple[TextPattern, ...]
    always_run: bool = False
    word_keys: frozenset[str] = frozenset()
    substrings: tuple[str, ...] = ()

    @classmethod
    def of(cls, patterns: Iterable[TextPattern]) -> PatternSet:
        patterns = tuple(patterns)
        return cls(
            patterns,
            always_run=any(not pattern.literals for pattern in patterns),
            word_keys=frozenset().union(*(pattern.word_keys for pattern in patterns)),
            substrings=tuple(sorted({s for pattern in patterns for s in pattern.substrings})),
        )

    def __repr__(self) -> str:
        return f"PatternSet({[pattern.source for pattern in self.patterns]!r})"

    def __iter__(self) -> Iterator[TextPattern]:
        return iter(self.patterns)

    def __len__(self) -> int:
        return len(self.patterns)

    def may_match(self, haystack: Haystack) -> bool:
        return (
            self.always_run
            or not self.word_keys.isdisjoint(haystack.word_starts)
            or any(literal in haystack.lowered for literal in self.substrings)
        )

    def search(self, haystack: Haystack) -> re.Match[str] | None:
        """The match of the first pattern, in order, that matches."""
        if not self.may_match(haystack):
            return None
        for pattern in self.patterns:
            match = pattern.search(haystack)
            if match:
                return match
        return None
