"""The Jinja filters the Copier template uses, for cookiecutter (which lacks them).

Copier ships Ansible's core filters; the template's defaults, validators and files use three of
them, and the flavour a fourth (`from_yaml`, for answers Copier parses as YAML). Cookiecutter
loads this module from the template folder (`_extensions` in cookiecutter.json), and the hooks
embed the same functions, so both tools render the same text. Only the standard library and
PyYAML (a dependency of cookiecutter itself) are used: portals that run cookiecutter alone have
nothing else.
"""

from __future__ import annotations

import re
import time

import yaml
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


def from_yaml(value):
    """A YAML text parsed, anything else as it is (Ansible's `from_yaml`): `no` is False."""
    return yaml.safe_load(value) if isinstance(value, str) else value


FILTERS = {
    "regex_search": regex_search,
    "regex_replace": regex_replace,
    "strftime": strftime,
    "from_yaml": from_yaml,
}


class CopierFilters(Extension):
    """Registers the filters above on cookiecutter's Jinja environment."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters.update(FILTERS)
