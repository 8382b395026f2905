"""Every hook is documented in docs/plugins.md and exercised by a test.

Adding a hook to lms/hookspecs.py without a reference section (with its signature) and a
test that uses it makes this module fail. A test uses a hook when its code names it — a
hookimpl, a call or attribute, an identifier, a string — read with :mod:`ast`, so a mention
in a comment or a docstring does not count.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
from pathlib import Path

import pytest

from lms import hookspecs

pytestmark = pytest.mark.engine_independent  # run in the SQLite pass only

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
    assert "if it raises" in section.replace("\n", " ").lower(), "each section says how it fails"
    doc = " ".join(getattr(hookspecs, name).__doc__.split())
    assert "Fails open" in doc or "Fails closed" in doc or "fails to load" in doc, (
        f"the docstring of {name} says what happens when it raises"
    )


def test_the_reference_documents_no_hook_that_does_not_exist():
    documented = {heading.split("(")[0] for heading in reference_sections()}
    assert documented == set(hookspecs.HOOK_NAMES)


def names_in_code(source: str) -> set[str]:
    """The names a module's code uses: functions defined, identifiers, attributes, keyword
    arguments and string constants. Comments are not in the tree; docstrings (and any other
    string standing alone as a statement) are left out."""
    tree = ast.parse(source)
    bare_strings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in bare_strings
        ):
            names.add(node.value)
    return names


@functools.cache
def names_used_by_tests() -> dict[str, frozenset[str]]:
    """Each test module (but this one), by name, with the names its code uses."""
    return {
        str(path.relative_to(ROOT)): frozenset(names_in_code(path.read_text(encoding="utf-8")))
        for path in sorted((ROOT / "tests").glob("**/*.py"))
        if path.resolve() != THIS_FILE
    }


SAMPLE = '''"""A module docstring naming lms_enrolled."""

# lms_attended, in a comment


class Plugin:
    """lms_course_completed, in a class docstring."""

    def lms_register_camps(self):
        """lms_migrations, in a function docstring."""
        "lms_blueprints"
        return ["lms_cli_commands", plugin.lms_template_slot, f(lms_enrollment_policy=1)]
'''


def test_comments_and_docstrings_do_not_count_as_using_a_hook():
    used = {name for name in names_in_code(SAMPLE) if name in hookspecs.HOOK_NAMES}
    assert used == {
        "lms_register_camps",
        "lms_cli_commands",
        "lms_template_slot",
        "lms_enrollment_policy",
    }


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_each_hook_is_used_by_a_test(name):
    users = [module for module, names in names_used_by_tests().items() if name in names]
    assert users, (
        f"no test in tests/ uses {name} in its code (comments and docstrings do not count)"
    )
