"""Which fields a document asks for below the field being resolved.

A list's resolver loads ahead what its rows' fields need (see schema/schedule.py) only
when the document asks for those fields, so that a query that does not select them costs
no statement more. Over-reporting (a field under @skip, or a same-named field of another
type) only loads something ahead that is then unused; it never changes an answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterable
from typing import Any

from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode
from strawberry.types import Info

from sessiongraph.resolvers.loaders.base import NOT_LOADED, Loader

# Parsed documents are cached (schema/limits.py), so the same field nodes come back with
# every request of a client's operation; the answer is kept per field node. The node is
# held with its answer, so its id cannot be reused while the entry lives.
_selected: dict[tuple[int, ...], tuple[tuple[FieldNode, ...], frozenset[str]]] = {}
MAX_REMEMBERED = 4096


def selected_names(info: Info) -> frozenset[str]:
    """The names of every field selected anywhere below this field, through fragments."""
    raw = info._raw_info
    nodes = tuple(raw.field_nodes)
    key = tuple(map(id, nodes))
    remembered = _selected.get(key)
    if remembered is not None and all(a is b for a, b in zip(remembered[0], nodes, strict=True)):
        return remembered[1]
    names: set[str] = set()
    for node in nodes:
        _collect(node.selection_set, raw.fragments, names, set())
    if len(_selected) >= MAX_REMEMBERED:
        _selected.clear()
    answer = frozenset(names)
    _selected[key] = (nodes, answer)
    return answer


def _collect(selections: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], names: set[str],
             spread: set[str]) -> None:
    if selections is None:
        return
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            names.add(selection.name.value)
            _collect(selection.selection_set, fragments, names, spread)
        elif isinstance(selection, InlineFragmentNode):
            _collect(selection.selection_set, fragments, names, spread)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in spread:
            spread.add(selection.name.value)  # each fragment once: a cycle is a validation error anyway
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                _collect(fragment.selection_set, fragments, names, spread)


async def load_ahead(info: Info, loads: Iterable[tuple[tuple[str, ...], Loader[Any, Any], Iterable[Hashable]]]) -> None:
    """For each (field names, loader, keys): when the document selects one of the names below
    this field, loads the keys now, in the one batch the rows' fields would have made, so
    that those fields answer without awaiting (`Loader.peek`): graphql-core completes a row
    whose fields are all ready without a task or a gather, most of what a long list's row
    costs."""
    wanted = selected_names(info)
    # Keys already loaded are left out: the lists that read their rows' courses and instructors in
    # their own statement have loaded them all, and a gather over their done futures still cost an
    # event-loop callback for each.
    batches = [loader.load_many(missing) for names, loader, keys in loads if not wanted.isdisjoint(names)
               if (missing := [key for key in dict.fromkeys(keys) if loader.peek(key) is NOT_LOADED])]
    if batches:
        # A failed batch stays in its loader: each row's field then raises it as its own
        # error, as it did before anything was loaded ahead, and the list itself stands.
        await asyncio.gather(*batches, return_exceptions=True)
