from collections.abc import Callable
from typing import Any

# A string translated when it is used. Flask-Babel's class delegates every str operation to
# the translated text, and the app passes it wherever text goes (WTForms labels and messages,
# errors): it is declared a str so those calls are checked as what they are.
class LazyString(str):
    def __init__(self, func: Callable[..., str], *args: Any, **kwargs: Any) -> None: ...
    def __html__(self) -> str: ...
