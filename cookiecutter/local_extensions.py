"""The Jinja filters the Copier template uses, for cookiecutter (which lacks them).

Copier ships Ansible's core filters; the template's defaults, validators and files use three of
them, and the flavour reads yes/no answers as Copier does (`to_bool`). Cookiecutter loads this
module from the template folder (`_extensions` in cookiecutter.json), and the hooks embed the
same functions, so both tools render the same text. Only the standard library is used: portals
that run cookiecutter alone have nothing else.
"""

from __future__ import annotations

import re
import time

from jinja2 import Environment
from jinja2.ext import Extension


def regex_search(value: str, pattern: str, ignorecase: bool = False, multiline: bool = False):
    """The first match of pattern in value, or None (Ansible's `regex_search`, without groups)."""
    flags = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    match = re.search(pattern, str(value), flags)
    return match.group() if match else None


def regex_replace(value: str = "", pattern: str = "", replacement: str = "", ignorecase=False):
    """re.sub over value (Ansible's `regex_replace`)."""
    return re.sub(pattern, replacement, str(value), flags=re.I if ignorecase else 0)


def strftime(string_format: str, second: float | None = None) -> str:
    """The local time formatted (Ansible's `strftime`)."""
    return time.strftime(string_format, time.localtime(None if second is None else int(second)))


def to_bool(value) -> bool:
    """A yes/no answer as Copier reads it (`copier`'s `cast_to_bool`): a number is true unless
    zero, yes/no words are what they say, anything else is Python's truth."""
    try:
        return bool(float(value))
    except (TypeError, ValueError):
        pass
    if isinstance(value, str):
        word = value.strip().lower()
        if word in {"y", "yes", "t", "true", "on"}:
            return True
        if word in {"", "n", "no", "f", "false", "off", "~", "null", "none"}:
            return False
    return bool(value)


FILTERS = {
    "regex_search": regex_search,
    "regex_replace": regex_replace,
    "strftime": strftime,
    "to_bool": to_bool,
}


class CopierFilters(Extension):
    """Registers the filters above on cookiecutter's Jinja environment."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters.update(FILTERS)
