"""A memory's identity for deduplication: its text normalised, its scope (namespace, user,
memory type) and, for the managed API, its place (namespace resource and label).

``memory_hash`` is the sha256 of [normalised text, namespace, user_id, memory_type] and, for a
memory the managed API placed (``placement``), its namespace_id and casefolded label: memories in
two places are never the same memory (a merge would take one out of its place), and a memory
without a place keeps the hash it always had. Memories written before texts were normalised
hold the hash of their text as written; a lookup asks for both (``hashes_of``).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from remem.memory.filters import scope
from remem.store.longterm.layout import LABEL_TAG, label_tag
from remem.store.query import Filter, HasValue, TagIn, every

# Punctuation that only shapes a sentence. Between two digits it is part of a number ("3.5",
# "1,200", "9:30") and stays. Signs, units and symbols ("-5", "%", "$", "/", "#") always stay.
_SOFT = r"""[.,;:!?"'`()\[\]{}¡¿«»‹›‘’‚‛“”„‟「」『』、。]"""  # noqa: RUF001
_SENTENCE_PUNCTUATION = re.compile(rf"(?<!\d){_SOFT}|{_SOFT}(?!\d)")


def normalise(text: str) -> str:
    """``text`` as deduplication compares it: NFKC, case folded, sentence punctuation turned into
    spaces, whitespace runs into one space, no edge spaces. Idempotent."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(_SENTENCE_PUNCTUATION.sub(" ", folded).split())


Place = tuple[str, str]
UNPLACED: Place = ("", "")


def placement(doc: Mapping[str, Any]) -> Place:
    """Where the managed API put a memory inside its namespace (a store): its namespace
    resource (``namespace_id``) and its label, casefolded as the label filter matches it;
    ``UNPLACED`` for neither (every memory the Agent Memory Server's API writes). Memories in
    two places are never the same memory: a merge would take one out of its place."""
    label = doc.get("namespace_label")
    return (str(doc.get("namespace_id") or ""), label_tag(str(label)) if label else "")


def _sha(
    text: str, namespace: str | None, user_id: str | None, memory_type: str, place: Place
) -> str:
    fields = [text, namespace or "", user_id or "", memory_type]
    if place != UNPLACED:  # an unplaced memory keeps the hash it always had
        fields += place
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()


def memory_hash(
    text: str,
    namespace: str | None,
    user_id: str | None,
    memory_type: str,
    place: Place = UNPLACED,
) -> str:
    """Identity of a memory's content within its scope and place: its normalised text there."""
    return _sha(normalise(text), namespace, user_id, memory_type, place)


def hash_of(doc: Mapping[str, Any]) -> str:
    """``memory_hash`` of a memory's document."""
    return memory_hash(
        doc["text"], doc.get("namespace"), doc.get("user_id"), doc["memory_type"], placement(doc)
    )


def hashes_of(doc: Mapping[str, Any]) -> list[str]:
    """The hashes a stored copy of ``doc``'s text may carry: today's, and the one of the text as
    written that memories stored before normalisation hold (the same when the text is already
    normalised)."""
    owner = (doc.get("namespace"), doc.get("user_id"), doc["memory_type"], placement(doc))
    return list(dict.fromkeys([hash_of(doc), _sha(doc["text"], *owner)]))


def same_scope(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return (a.get("namespace"), a.get("user_id")) == (b.get("namespace"), b.get("user_id"))


def same_place(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two memories may be merged: the same namespace, user and ``placement``."""
    return same_scope(a, b) and placement(a) == placement(b)


def placed_like(doc: Mapping[str, Any]) -> Filter:
    """The memories of ``doc``'s namespace, user and ``placement`` (none: none)."""
    namespace_id, label = placement(doc)
    return every(
        scope(doc.get("namespace"), doc.get("user_id")),
        TagIn("namespace_id", (namespace_id,)) if namespace_id else ~HasValue("namespace_id"),
        TagIn(LABEL_TAG, (label,)) if label else ~HasValue(LABEL_TAG),
    )
