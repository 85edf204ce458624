"""``opora-notifications``: run the service, or check and preview its rules and templates.

    opora-notifications                       # serve (what `make run` starts)
    opora-notifications check                 # load rules, staff directory and templates
    opora-notifications preview ticket_acknowledged --language ru --channel email \\
        --set name=Иван --set number=OP-000123

``check`` and ``preview`` read the same settings as the service (``OPORA_NOTIFICATIONS_RULES_FILE``,
``…_STAFF_FILE``, ``…_TEMPLATES_DIR``) unless given ``--rules``, ``--staff``, ``--templates``; they
need no Kafka or MongoDB, so they fit in a deploy pipeline before the rollout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from opora_notifications.adapters.templates import JinjaRenderer, TemplateSetupError
from opora_notifications.config import Settings
from opora_notifications.domain.directory import DirectoryError, load_directory
from opora_notifications.domain.ports import TemplateContextError, UnknownTemplateError
from opora_notifications.domain.rules import RulesError, load_rules
from opora_notifications.entrypoints.http import preview


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in (None, "serve"):
        from opora_notifications.main import run

        run()
        return 0
    settings = Settings()
    rules_file = args.rules or settings.rules_file
    templates_dir = args.templates or settings.templates_dir
    try:
        rules = load_rules(rules_file)
        renderer = JinjaRenderer.load(rules, templates_dir)
        if args.command == "check":
            directory = load_directory(args.staff or settings.staff_file)
            print(
                f"rules {rules.version}: {len(rules.notifications)} notifications, "
                f"{len(renderer.specs)} templates in ru and en; "
                f"staff directory {directory.version}: {len(directory.teams)} teams"
            )
            return 0
        context = dict(_pair(item) for item in args.set or ())
        shown = preview(
            renderer, args.template, language=args.language, channel=args.channel, context=context
        )
    except (RulesError, DirectoryError, TemplateSetupError) as exc:
        print(exc, file=sys.stderr)
        return 1
    except (UnknownTemplateError, TemplateContextError) as exc:
        print(f"cannot preview: {exc}", file=sys.stderr)
        return 2
    if shown.subject is not None:
        print(f"Subject: {shown.subject}\n")
    print(shown.text.rstrip())
    if shown.html is not None and args.html:
        print("\n--- HTML ---\n" + shown.html.rstrip())
    return 0


def _pair(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep:
        raise SystemExit(f"--set expects name=value, got {item!r}")
    return name, value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opora-notifications", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    for name, text in (("check", "validate the files"), ("preview", "render a template")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--rules", type=Path, help="a rules file instead of the configured one")
        sub.add_argument("--templates", type=Path, help="a templates directory")
        if name == "check":
            sub.add_argument("--staff", type=Path, help="a staff directory file")
        else:
            sub.add_argument("template", help="the template family, e.g. ticket_acknowledged")
            sub.add_argument("--language", default="en", help="ru or en (others fall back to en)")
            sub.add_argument("--channel", default="email", choices=("email", "sms", "messenger"))
            sub.add_argument("--set", action="append", metavar="NAME=VALUE", help="a variable")
            sub.add_argument("--html", action="store_true", help="also print the HTML part")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
