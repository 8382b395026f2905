"""Every hook is documented in docs/plugins.md and exercised by a test.

Adding a hook to lms/hookspecs.py without a reference section (with its signature) and a
test that uses it makes this module fail.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from lms import hookspecs

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "plugins.md"
THIS_FILE = Path(__file__).resolve()


def signature(name: str) -> str:
    spec = getattr(hookspecs, name)
    return f"{name}({', '.join(inspect.signature(spec).parameters)})"


def reference_sections() -> dict[str, str]:
    """The guide's hook reference: heading text -> section text, one per ``### `hook(...)` ``."""
    text = GUIDE.read_text(encoding="utf-8")
    parts = re.split(r"^### `([^`]+)`\s*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_hook_list_is_what_the_hookspecs_module_declares():
    declared = {
        name
        for name, value in vars(hookspecs).items()
        if name.startswith("lms_") and hasattr(value, "lms_spec")
    }
    assert set(hookspecs.HOOK_NAMES) == declared
    assert len(hookspecs.HOOK_NAMES) >= 6


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_each_hook_has_a_reference_section_with_its_signature(name):
    sections = reference_sections()
    assert signature(name) in sections, f"docs/plugins.md needs a '### `{signature(name)}`' section"
    section = sections[signature(name)]
    first_result = getattr(hookspecs, name).lms_spec["firstresult"]
    assert ("First result wins" in section) == first_result
    assert "@hookimpl" in section, "each hook's section shows an example"


def test_the_reference_documents_no_hook_that_does_not_exist():
    documented = {heading.split("(")[0] for heading in reference_sections()}
    assert documented == set(hookspecs.HOOK_NAMES)


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_each_hook_is_used_by_a_test(name):
    pattern = re.compile(rf"\b{name}\b")
    users = [
        path.name
        for path in sorted((ROOT / "tests").glob("**/*.py"))
        if path.resolve() != THIS_FILE and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert users, f"no test in tests/ mentions {name}"
