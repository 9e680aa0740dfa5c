"""Cartonization: which box of the node's catalog the pack station proposes.

No well-kept Python 3D packing library fits: py3dbp (and its forks) are unmaintained since 2020,
``binpacking`` is one-dimensional. So this is a documented heuristic, deliberately conservative:

A box holds the contents when
1. every unit fits by its own dimensions: the unit's sorted dimensions (smallest to largest) are
   each at most the box's sorted inner dimensions (a unit may be turned any way);
2. the units' total volume is at most the box's volume x ``FILL_FACTOR`` (0.85: real units are
   not liquid; 15% is left for the gaps between them and for dunnage);
3. the units' weight plus the box's empty weight is at most the box's maximum weight.
Units of an item without dimensions count by weight only (the reason says so); without a weight
they count as weightless (also said).

``propose_box`` picks the smallest active box (by volume, then cost, then code) that holds
everything. ``split_into_boxes`` handles what no single box holds: largest units first (volume,
then weight), each into the first open package that some box would still hold with it, else a new
package; then every package gets the smallest box that holds its share. First-fit decreasing is
not optimal, but it never opens a package while an open one can take the unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from inventory.models import Item

from .models import BoxType

FILL_FACTOR = Decimal("0.85")
ZERO = Decimal(0)


@dataclass(frozen=True)
class BoxProposal:
    box: BoxType
    reason: str
    fill_ratio: Decimal  # the units' volume / the box's volume (0 when no unit has dimensions)
    weight_lb: Decimal  # units + the empty box
    contents: tuple[tuple[Item, int], ...] = field(default=(), compare=False)


class NoBoxFits(Exception):
    """A unit fits no active box of the catalog, even alone (by dimensions or weight)."""

    def __init__(self, item: Item, message: str):
        super().__init__(message)
        self.item = item


def _dims(item: Item) -> tuple[Decimal, Decimal, Decimal] | None:
    dims = (item.length_in, item.width_in, item.height_in)
    if any(d is None or Decimal(d) <= 0 for d in dims):
        return None
    return tuple(sorted(Decimal(d) for d in dims))  # type: ignore[return-value]


def _box_dims(box: BoxType) -> tuple[Decimal, Decimal, Decimal]:
    return tuple(sorted(Decimal(d) for d in (box.length_in, box.width_in, box.height_in)))  # type: ignore[return-value]


def _volume(dims: Sequence[Decimal]) -> Decimal:
    return dims[0] * dims[1] * dims[2]


def _unit_fits(item_dims: Sequence[Decimal], box_dims: Sequence[Decimal]) -> bool:
    return all(i <= b for i, b in zip(item_dims, box_dims, strict=True))


def _ordered(boxes: Iterable[BoxType]) -> list[BoxType]:
    return sorted(
        (b for b in boxes if b.active), key=lambda b: (_volume(_box_dims(b)), Decimal(b.cost), b.code)
    )


@dataclass
class _Load:
    """What a set of units needs from a box."""

    contents: list[tuple[Item, int]]
    volume: Decimal = ZERO
    weight: Decimal = ZERO
    largest: list[tuple[Decimal, Decimal, Decimal]] = field(default_factory=list)
    without_dims: list[str] = field(default_factory=list)
    without_weight: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, contents: Sequence[tuple[Item, int]]) -> _Load:
        load = cls(contents=[])
        for item, quantity in contents:
            load.add(item, quantity)
        return load

    def add(self, item: Item, quantity: int) -> None:
        if quantity <= 0:
            return
        for i, (held, qty) in enumerate(self.contents):
            if held.pk == item.pk and held.pk is not None:
                self.contents[i] = (held, qty + quantity)
                break
        else:
            self.contents.append((item, quantity))
        dims = _dims(item)
        if dims is None:
            if item.sku not in self.without_dims:
                self.without_dims.append(item.sku)
        else:
            self.volume += _volume(dims) * quantity
            self.largest.append(dims)
        if item.weight_lb is None:
            if item.sku not in self.without_weight:
                self.without_weight.append(item.sku)
        else:
            self.weight += Decimal(item.weight_lb) * quantity

    @property
    def units(self) -> int:
        return sum(q for _i, q in self.contents)

    def fits(self, box: BoxType) -> bool:
        box_dims = _box_dims(box)
        return (
            all(_unit_fits(d, box_dims) for d in self.largest)
            and self.volume <= _volume(box_dims) * FILL_FACTOR
            and self.weight + Decimal(box.tare_weight_lb) <= Decimal(box.max_weight_lb)
        )

    def proposal(self, box: BoxType, why: str) -> BoxProposal:
        box_volume = _volume(_box_dims(box))
        fill = (self.volume / box_volume).quantize(Decimal("0.0001"), ROUND_HALF_UP) if box_volume else ZERO
        weight = (self.weight + Decimal(box.tare_weight_lb)).quantize(Decimal("0.001"), ROUND_HALF_UP)
        units = self.units
        parts = [
            f"{why} for {units} unit{'s' if units != 1 else ''} of {len(self.contents)} "
            f"SKU{'s' if len(self.contents) != 1 else ''}: {fill * 100:.0f}% of its volume "
            f"(at most {FILL_FACTOR * 100:.0f}%), {weight.normalize():f} lb of {Decimal(box.max_weight_lb).normalize():f} lb"
        ]
        if self.without_dims:
            parts.append(f"no dimensions for {', '.join(self.without_dims)}: counted by weight only")
        if self.without_weight:
            parts.append(f"no weight for {', '.join(self.without_weight)}")
        return BoxProposal(box, "; ".join(parts), fill, weight, tuple(self.contents))


def propose_box(*, contents: Sequence[tuple[Item, int]], boxes: Iterable[BoxType]) -> BoxProposal | None:
    """The smallest active box (by volume, then cost) that holds every unit, or None."""
    load = _Load.of(contents)
    if not load.contents:
        raise ValueError("nothing to pack")
    for box in _ordered(boxes):
        if load.fits(box):
            return load.proposal(box, f"{box.name}: the smallest box that holds everything")
    return None


def split_into_boxes(*, contents: Sequence[tuple[Item, int]], boxes: Iterable[BoxType]) -> list[BoxProposal]:
    """Several packages when no single box holds everything (one proposal when one box does).
    Greedy: units largest first (volume, then weight), each into the first open package that some
    box would still hold, else a new package; each package then gets its smallest box.
    Raises ``NoBoxFits`` naming a unit that fits no box even alone."""
    catalog = _ordered(boxes)
    if not catalog:
        raise ValueError("the node has no active box")
    single = propose_box(contents=contents, boxes=catalog)
    if single is not None:
        return [single]
    units: list[Item] = [item for item, qty in contents for _ in range(max(qty, 0))]

    def size(item: Item) -> tuple[Decimal, Decimal]:
        dims = _dims(item)
        return (_volume(dims) if dims else ZERO, Decimal(item.weight_lb or 0))

    units.sort(key=size, reverse=True)
    loads: list[_Load] = []
    for item in units:
        for load in loads:
            trial = _Load.of([*load.contents, (item, 1)])
            if any(trial.fits(box) for box in catalog):
                load.add(item, 1)
                break
        else:
            alone = _Load.of([(item, 1)])
            if not any(alone.fits(box) for box in catalog):
                raise NoBoxFits(
                    item, f"{item.sku} fits no active box, even alone (by its dimensions or weight)."
                )
            loads.append(alone)
    proposals = []
    total = len(loads)
    for number, load in enumerate(loads, start=1):
        box = next(b for b in catalog if load.fits(b))
        proposals.append(load.proposal(box, f"package {number} of {total}, {box.name}: the smallest box"))
    return proposals
