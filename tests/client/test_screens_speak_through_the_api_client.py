"""Screens call the server only through typed ApiClient methods: no URL is spelled in a widget."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pos_client.ui

UI = Path(pos_client.ui.__file__).parent
API_PATH = re.compile(r"^/(?!dev/)[a-z][a-z0-9_-]*(/|$)")  # /dev/… is a device file, not a URL
RAW_CALLS = {"get", "post", "put", "patch", "delete", "request"}


def _literals(node: ast.AST) -> list[str]:
    """Return the text a string or f-string starts with."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return [first.value]
    return []


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = path.relative_to(UI.parent) if path.is_relative_to(UI.parent) else path.name
    # Only what a string starts with counts: "{folder}/receipts" is a file, not a URL.
    inner = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in inner:
            continue
        for text in _literals(node):
            if API_PATH.match(text):
                found.append(f"{name}:{node.lineno}: URL {text!r}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in RAW_CALLS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "api"
        ):
            found.append(f"{name}:{node.lineno}: raw api.{node.func.attr}()")
    return found


def test_no_screen_spells_a_url_or_calls_the_api_untyped():
    offences = [o for path in sorted(UI.rglob("*.py")) for o in _offences(path)]
    assert offences == [], "call a typed ApiClient method instead:\n" + "\n".join(offences)


def test_the_check_catches_what_it_is_meant_to(tmp_path):
    sample = tmp_path / "screen.py"
    sample.write_text(
        'def f(api, x):\n    api.get("/orders")\n    return f"/customers/{x}/statement"\n',
        encoding="utf-8",
    )
    assert set(_offences(sample)) == {
        "screen.py:2: URL '/orders'",
        "screen.py:2: raw api.get()",
        "screen.py:3: URL '/customers/'",
    }
    assert not API_PATH.match("/dev/usb/lp0")
