"""The command line's argument parser: help that shows defaults, and errors that name the
sub-command they belong to.

argparse reports a mistyped flag of a sub-command (`chainrule explain --exprr …`) from
the top-level parser, with the top-level usage, which does not say where to look. `parse`
reports it with the sub-command's own usage and a "did you mean" for the closest flag.
"""
from __future__ import annotations

import argparse
import difflib
from typing import Sequence

__all__ = ["Parser", "HelpFormatter", "parse", "suggestion"]


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the descriptions' and epilogs' line breaks (the examples) and adds
    "(default: …)" to an option whose help does not already state its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("default" in text or action.default in (None, False, argparse.SUPPRESS)
                or not action.option_strings):
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser with chainrule's help formatter (sub-commands inherit it)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [o for a in parser._actions for o in a.option_strings if o.startswith("--")]


def suggestion(parser: argparse.ArgumentParser, word: str) -> str | None:
    """The parser's long option closest to `word` (a mistyped flag), if any is close."""
    if not word.startswith("-"):
        return None
    flag = word.split("=", 1)[0]
    if not flag.startswith("--"):
        flag = "-" + flag
    close = difflib.get_close_matches(flag, _options(parser), n=1, cutoff=0.6)
    return close[0] if close else None


def _subparser(parser: argparse.ArgumentParser, name: str | None
               ) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            return action.choices[name]
    return None


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """parse_args, but an unknown argument is reported by the sub-command it was given to,
    with that sub-command's usage and the flag it most likely meant. Exits 2 on error."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        owner = _subparser(parser, getattr(args, "command", None)) or parser
        message = f"unrecognized arguments: {' '.join(extras)}"
        hints = [f"{word} → {s}" for word in extras if (s := suggestion(owner, word))]
        if hints:
            message += "; did you mean " + ", ".join(hints) + "?"
        owner.error(message)
    return args
