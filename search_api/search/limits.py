"""The bounds of a public search, in one place: parsing enforces them and the API reference
quotes them (search_api/search/param_docs.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MAX_IDS: Final = 100
MAX_PER_PAGE: Final = 100
DEFAULT_PER_PAGE: Final = 100
MAX_SORT_KEYS: Final = 3
MAX_KEYWORDS_CHARS: Final = 256
# Each word becomes a clause per searched field (and again for prefixes); the engine refuses a
# query over its clause limit (1024 by default), so the word count is bounded, not just the length.
MAX_KEYWORD_WORDS: Final = 32
# Values of one `pub_*`/`meta_*` filter: each becomes a term clause, so keep them few.
MAX_FILTER_VALUES: Final = 100
SORT_KEYS: Final = ("createdAt", "price")
# Each facet is one filter aggregation in the same engine request; ten covers a filter panel.
MAX_FACETS: Final = 10
DEFAULT_FACET_LIMIT: Final = 20
MAX_FACET_LIMIT: Final = 100


@dataclass(frozen=True)
class QueryLimits:
    """The configurable bounds (settings `max_keywords_chars`, `max_ids`); defaults as documented."""

    max_keywords_chars: int = MAX_KEYWORDS_CHARS
    max_ids: int = MAX_IDS


# The longest availability window a search may ask about.
MAX_WINDOW_DAYS: Final = 90
