"""The password rules, one set for every place a password is chosen.

Registration, the invite sign-up, the set-password link of imported staff, the password
change on the account page and the reset by e-mail all check a new password with
:func:`problem` (through :class:`lms.web.forms.StrongPassword`):

* at least :data:`MIN_LENGTH` and at most :data:`MAX_LENGTH` characters, not all spaces;
* not the account's e-mail address, the part of it before the ``@``, or the name
  (compared without surrounding spaces, ignoring case);
* not one of the 10,000 most common passwords (``lms/data/common-passwords.txt``),
  ignoring case and surrounding spaces.

Any other character is allowed, spaces and Chinese included: long passphrases are welcome.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

MIN_LENGTH = 10
MAX_LENGTH = 256
COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"

# What is wrong with a password: the codes :func:`problem` returns.
TOO_SHORT = "too_short"
TOO_LONG = "too_long"
LIKE_ACCOUNT = "like_account"
COMMON = "common"


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lowercased (read once per process)."""
    text = COMMON_PASSWORDS.read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def _fold(value: str) -> str:
    return value.strip().lower()


def problem(password: str, *, email: str | None = None, name: str | None = None) -> str | None:
    """The first rule ``password`` breaks (a code above), or None when it is acceptable.

    ``email`` and ``name`` are the account's, when known; the password may equal neither.
    """
    if len(password) < MIN_LENGTH or not password.strip():  # spaces only: nothing at all
        return TOO_SHORT
    if len(password) > MAX_LENGTH:
        return TOO_LONG
    folded = _fold(password)
    personal = set()
    if email and email.strip():
        personal.add(_fold(email))
        personal.add(_fold(email).partition("@")[0])
    if name and name.strip():
        personal.add(_fold(name))
    if folded in personal - {""}:
        return LIKE_ACCOUNT
    if folded in common_passwords():
        return COMMON
    return None
