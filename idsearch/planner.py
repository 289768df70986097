"""The query planner: a parsed query (``idsearch.query``'s syntax tree) -> an executable tree of analyzed
terms, phrases and filters (``idsearch.reader``'s nodes).

Words and phrases are analyzed with the index's analyzer here, so queries and documents agree. A word that
analyzes to several terms (``covid-19``, ``2/12/2024``) becomes a phrase; a word that analyzes to nothing
(a stopword, punctuation) is dropped, and a query left with no clause matches nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from idsearch.analysis import Analyzer
from idsearch.reader import BoolNode, Node, words_node
from idsearch.schema import Schema

__all__ = ["compile_query"]


def compile_query(
    text: str, schema: Schema, analyzer: Analyzer, fields: Sequence[str], default_operator: str = "or"
) -> Node | None:
    """Parse and plan a query string for an index with this schema and analyzer."""
    if default_operator not in ("or", "and"):
        raise ValueError(f"default_operator must be 'or' or 'and', not {default_operator!r}")
    node = words_node(analyzer, text, fields)
    if node is not None and default_operator == "and" and isinstance(node, BoolNode):
        node = BoolNode(must=node.should)
    return node
