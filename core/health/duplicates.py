"""Exact duplicates (the same bytes) and near duplicates (embedding cosine plus a
perceptual hash), within and across splits; a train / val (or test) pair is a leak."""

from __future__ import annotations

from core.data.cache_files import content_hash
from core.health.embeddings import Embedded
from core.health.neighbours import Neighbourhood
from core.health.report import DuplicatePair


def find_duplicates(data: Embedded, near: Neighbourhood) -> list[DuplicatePair]:
    """Every duplicate pair: exact ones (the same bytes) first, then near ones.

    `similarity` is the larger of the pair's embedding cosine and thumbnail correlation.
    """
    digests = data.digests or [content_hash(str(r.path)) for r in data.refs]
    found: dict[tuple[int, int], DuplicatePair] = {}
    for i, j in _exact_pairs(digests):
        found[(i, j)] = _pair(data, i, j, 1.0, True, 1.0)
    for (i, j), cos, thumb in zip(near.pairs, near.cosines, near.fingerprints, strict=True):
        key = (int(i), int(j))
        if key not in found:
            found[key] = _pair(data, key[0], key[1], max(cos, thumb), False, float(thumb))
    return sorted(found.values(), key=lambda d: (not d.exact, -d.similarity, d.files))


def _exact_pairs(digests: list[str]) -> list[tuple[int, int]]:
    """(first, other) for every image whose bytes an earlier image already has."""
    first: dict[str, int] = {}
    pairs = []
    for i, digest in enumerate(digests):
        if digest in first:
            pairs.append((first[digest], i))
        else:
            first[digest] = i
    return pairs


def _pair(data: Embedded, i: int, j: int, cos: float, exact: bool, thumb: float) -> DuplicatePair:
    a, b = data.refs[i], data.refs[j]
    cross = a.split != b.split
    return DuplicatePair(
        (a.file, b.file),
        round(min(float(cos), 1.0), 4),
        cross,
        exact,
        (a.split, b.split),
        round(float(thumb), 4),
    )
