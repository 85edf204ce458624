"""E-mail templates: Jinja2 files inside the package, rendered in a sandbox.

Each family has, per language, ``<name>/<lang>.subject.txt``, ``<name>/<lang>.txt`` and
``<name>/<lang>.html`` (the only one autoescaped). Undefined variables are errors, and every
family is rendered once in every language with its example context when the renderer is
loaded, so a broken template stops the service at start-up rather than at the first e-mail.
"""

from __future__ import annotations

from collections.abc import Mapping

from jinja2 import PackageLoader, StrictUndefined, TemplateError, UndefinedError, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from opora_notifications.domain.model import LANGUAGES, TEMPLATES, TemplateSpec, template_language
from opora_notifications.domain.ports import (
    RenderedMail,
    TemplateContextError,
    UnknownTemplateError,
)


class JinjaRenderer:
    def __init__(self, templates: Mapping[str, TemplateSpec] = TEMPLATES) -> None:
        self.templates = templates
        self._env = ImmutableSandboxedEnvironment(
            loader=PackageLoader("opora_notifications", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    @classmethod
    def load(cls, templates: Mapping[str, TemplateSpec] = TEMPLATES) -> JinjaRenderer:
        """A renderer whose every template was compiled and rendered once; raises if one fails."""
        renderer = cls(templates)
        for spec in templates.values():
            for language in LANGUAGES:
                try:
                    renderer.render(spec.name, language, spec.example)
                except (TemplateError, TemplateContextError) as exc:
                    raise RuntimeError(f"template {spec.name}/{language} is broken: {exc}") from exc
        return renderer

    def render(self, template: str, language: str, context: Mapping[str, str]) -> RenderedMail:
        if template not in self.templates:
            raise UnknownTemplateError(template)
        prefix = f"{template}/{template_language(language)}"
        try:
            subject = self._env.get_template(f"{prefix}.subject.txt").render(context)
            text = self._env.get_template(f"{prefix}.txt").render(context)
            html = self._env.get_template(f"{prefix}.html").render(context)
        except UndefinedError as exc:
            raise TemplateContextError(str(exc)) from exc
        # A header cannot span lines: whatever the context held, the subject is one line.
        return RenderedMail(subject=" ".join(subject.split()), text=text, html=html)
