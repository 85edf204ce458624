"""Message templates: Jinja2 files rendered in a sandbox, checked when they are loaded.

Each family the rules name has, per language (``ru``, ``en``; anything else falls back to
``en``): for e-mail ``<name>/<lang>.subject.txt``, ``<name>/<lang>.txt`` and
``<name>/<lang>.html`` (the only one autoescaped), and for SMS and messengers
``<name>/<lang>.short.txt``. They come from the package, or from ``templates_dir`` so a desk
can word its own messages.

Templates are data written by people who are not developers, so the environment is
``ImmutableSandboxedEnvironment`` (no attribute tricks, no mutation of what they are given) and
undefined variables are errors (``StrictUndefined``). :meth:`JinjaRenderer.load` checks every
variant of every family in every language: the file exists and parses, it uses only the
variables its trigger provides, and it renders with a full and with a sparse example; the
errors are collected and raised together, so a typo fails the deploy, not a send.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from jinja2 import (
    BaseLoader,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    meta,
    select_autoescape,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment

from opora_notifications.domain.model import LANGUAGES, template_language
from opora_notifications.domain.ports import (
    RenderedMessage,
    TemplateContextError,
    UnknownTemplateError,
)
from opora_notifications.domain.rules import SHORT_CHANNELS, NotificationRules
from opora_notifications.domain.templates import Context, TemplateSpec, catalogue

EMAIL_PARTS = ("subject.txt", "txt", "html")
SHORT_PART = "short.txt"


class TemplateSetupError(RuntimeError):
    """Templates that cannot work with the rules; the message lists every problem."""


class JinjaRenderer:
    def __init__(self, specs: Mapping[str, TemplateSpec], directory: Path | None = None) -> None:
        self.specs = dict(specs)
        loader: BaseLoader = (
            FileSystemLoader(directory)
            if directory is not None
            else PackageLoader("opora_notifications", "templates")
        )
        self._env = ImmutableSandboxedEnvironment(
            loader=loader,
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    @classmethod
    def load(cls, rules: NotificationRules, directory: Path | None = None) -> JinjaRenderer:
        """A renderer for the rules' templates, every one checked; raises
        :class:`TemplateSetupError` listing every problem found."""
        short_limit = min((rules.max_chars(c) or 10_000 for c in SHORT_CHANNELS), default=10_000)
        renderer = cls(catalogue(rules), directory)
        problems = renderer.problems(short_limit=short_limit)
        if problems:
            where = directory or "the packaged templates"
            raise TemplateSetupError(
                f"templates in {where} do not fit the rules {rules.version}:\n  "
                + "\n  ".join(problems)
            )
        return renderer

    def problems(self, *, short_limit: int = 10_000) -> list[str]:
        found: list[str] = []
        for spec in self.specs.values():
            parts = (EMAIL_PARTS if spec.email else ()) + ((SHORT_PART,) if spec.short else ())
            for language in LANGUAGES:
                broken = [
                    problem
                    for part in parts
                    for problem in self._check(spec, f"{spec.name}/{language}.{part}")
                ]
                found += broken
                if broken:
                    continue
                for minimal in (False, True):
                    try:
                        if spec.email:
                            self.render(spec.name, language, spec.example(minimal))
                        if spec.short:
                            short = self.render(
                                spec.name, language, spec.example(minimal), short=True
                            )
                            if not minimal and len(short.text) > short_limit:
                                found.append(
                                    f"{spec.name}/{language}.{SHORT_PART}: {len(short.text)} "
                                    f"characters with the example, more than {short_limit}"
                                )
                    except (TemplateError, TemplateContextError) as exc:
                        found.append(f"{spec.name}/{language}: {exc}")
        return found

    def _check(self, spec: TemplateSpec, name: str) -> list[str]:
        loader = self._env.loader
        assert loader is not None
        try:
            source, _, _ = loader.get_source(self._env, name)
        except TemplateNotFound:
            return [f"{name}: missing"]
        try:
            parsed = self._env.parse(source, name=name)
        except TemplateSyntaxError as exc:
            return [f"{name}:{exc.lineno}: {exc.message}"]
        unknown = sorted(meta.find_undeclared_variables(parsed) - spec.variables)
        if unknown:
            return [
                f"{name}: unknown variable(s) {', '.join(unknown)}; "
                f"available: {', '.join(sorted(spec.variables))}"
            ]
        return []

    def render(
        self, template: str, language: str, context: Context, *, short: bool = False
    ) -> RenderedMessage:
        spec = self.specs.get(template)
        if spec is None:
            raise UnknownTemplateError(template)
        if (short and not spec.short) or (not short and not spec.email):
            kind = "short text" if short else "e-mail"
            raise TemplateContextError(f"{template} has no {kind} variant")
        prefix = f"{template}/{template_language(language)}"
        try:
            if short:
                text = self._env.get_template(f"{prefix}.{SHORT_PART}").render(context)
                return RenderedMessage(text=text.strip())
            subject = self._env.get_template(f"{prefix}.subject.txt").render(context)
            text = self._env.get_template(f"{prefix}.txt").render(context)
            html = self._env.get_template(f"{prefix}.html").render(context)
        except UndefinedError as exc:
            raise TemplateContextError(str(exc)) from exc
        # A header cannot span lines: whatever the context held, the subject is one line.
        return RenderedMessage(text=text, subject=" ".join(subject.split()), html=html)
