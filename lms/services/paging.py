"""What a page of a listing knows about its neighbours, for the listings' dataclasses."""

from __future__ import annotations

import math


class Paginated:
    """Mixed into a dataclass with ``page``, ``per_page`` and ``total`` fields."""

    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages
