"""Cartonization, table-driven against a hand-made catalog (inner dimensions in inches):

S   6 x 6 x 6     216 in3 (x 0.85 = 183.6)   max 10 lb, empty 0.5 lb, $0.50
F  14 x 10 x 2    280 in3 (x 0.85 = 238.0)   max 10 lb, empty 0.2 lb, $0.40  (flat)
M  12 x 10 x 8    960 in3 (x 0.85 = 816.0)   max 20 lb, empty 1 lb,  $1.00
H  12 x 10 x 8    960 in3                    max 60 lb, empty 2 lb,  $2.50  (heavy-duty)
L  18 x 14 x 12  3024 in3 (x 0.85 = 2570.4)  max 40 lb, empty 2 lb,  $2.00
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from shipments.cartonization import FILL_FACTOR, NoBoxFits, propose_box, split_into_boxes
from shipments.models import BoxType
from tests.accounts.factories import ClientFactory, WarehouseFactory
from tests.inventory.factories import make_item

D = Decimal


@pytest.fixture
def catalog(db):
    node = WarehouseFactory()
    rows = [
        ("S", 6, 6, 6, 10, "0.5", "0.50"),
        ("F", 14, 10, 2, 10, "0.2", "0.40"),
        ("M", 12, 10, 8, 20, "1", "1.00"),
        ("H", 12, 10, 8, 60, "2", "2.50"),
        ("L", 18, 14, 12, 40, "2", "2.00"),
    ]
    boxes = [
        BoxType.objects.create(
            warehouse=node,
            code=code,
            name=f"Box {code}",
            length_in=length,
            width_in=width,
            height_in=height,
            max_weight_lb=max_lb,
            tare_weight_lb=D(tare),
            cost=D(cost),
        )
        for code, length, width, height, max_lb, tare, cost in rows
    ]
    BoxType.objects.create(
        warehouse=node, code="OLD", name="Retired", length_in=1, width_in=1, height_in=1, active=False
    )
    return boxes + list(BoxType.objects.filter(code="OLD"))


@pytest.fixture
def items(db):
    client = ClientFactory()

    def item(sku, dims, weight):
        length, width, height = dims if dims else (None, None, None)
        return make_item(
            client,
            sku,
            weight_lb=D(weight) if weight else None,
            length_in=length,
            width_in=width,
            height_in=height,
        )

    return {
        "cube5": item("CUBE5", (5, 5, 5), "1"),  # 125 in3
        "rod": item("ROD", (13, 1, 1), "0.5"),  # 13 in3, but 13 in long
        "tile": item("TILE", (4, 4, 1), "0.3"),  # 16 in3
        "brick": item("BRICK", (6, 4, 2), "6"),  # 48 in3, heavy
        "book": item("BOOK", (9, 6, 1), "1"),  # 54 in3
        "board": item("BOARD", (17, 13, 1), "3"),  # 221 in3, long and wide
        "loose": item("LOOSE", None, "2"),  # no dimensions
        "anvil": item("ANVIL", (5, 5, 5), "70"),
    }


@pytest.mark.parametrize(
    "contents, box, why",
    [
        # 1 x 125 in3: S holds it (125 <= 183.6, 5 <= 6 each way)
        ([("cube5", 1)], "S", "fits the smallest box"),
        # 2 x 125 = 250 > S's 183.6 and > F's 238 (and 5 in > F's 2 in): M
        ([("cube5", 2)], "M", "by volume, the next box"),
        # 13 in3 fits S by volume, but 13 in > 6 in and > 12 in: not S nor M; F is 14 in long (rotated)
        ([("rod", 1)], "F", "fits by volume but not by dimension -> next box"),
        # 11 tiles = 176 in3 <= 183.6: S (each tile 4x4x1 fits 6x6x6)
        ([("tile", 11)], "S", "volume within the fill factor"),
        # 12 tiles = 192 in3 > 183.6 (0.85 x 216): F (238)
        ([("tile", 12)], "F", "volume over the fill factor -> next box"),
        # 2 bricks = 96 in3 but 12 lb + 0.5 > S's 10 lb; F too (2 in high for a 2 in brick fits: 12.2 > 10); M 13 <= 20
        ([("brick", 2)], "M", "weight over the max -> next box"),
        # 3 bricks = 18 + 1 = 19 <= 20: M; 4 bricks = 24 + 1 > 20: H (same size, 60 lb)
        ([("brick", 3)], "M", "M holds 19 lb"),
        ([("brick", 4)], "H", "heavy items -> the box by max weight"),
        # a board 17 x 13 x 1: only L
        ([("board", 1)], "L", "only the large box is long enough"),
        # no dimensions: by weight only; 2 lb + 0.5 <= 10: S
        ([("loose", 1)], "S", "weight only"),
        # mixed: book (54) + 2 tiles (32) = 86 in3; book 9 in long: F (14x10x2)
        ([("book", 1), ("tile", 2)], "F", "mixed contents"),
    ],
)
def test_propose_box_picks_the_smallest_box_that_holds_everything(catalog, items, contents, box, why):
    proposal = propose_box(contents=[(items[k], q) for k, q in contents], boxes=catalog)
    assert proposal is not None, why
    assert proposal.box.code == box, why


def test_proposal_reports_fill_ratio_weight_and_why(catalog, items):
    proposal = propose_box(contents=[(items["cube5"], 1)], boxes=catalog)
    # 125 / 216 = 0.5787; 1 lb + 0.5 lb empty box
    assert proposal.fill_ratio == D("0.5787")
    assert proposal.weight_lb == D("1.5")
    assert "smallest box" in proposal.reason and "58%" in proposal.reason


def test_items_without_dimensions_are_said_to_count_by_weight_only(catalog, items):
    proposal = propose_box(contents=[(items["loose"], 1), (items["tile"], 1)], boxes=catalog)
    assert "no dimensions for LOOSE: counted by weight only" in proposal.reason
    assert proposal.fill_ratio == D("0.0741")  # 16 / 216


def test_cost_breaks_a_tie_of_volume(catalog, items):
    # M and H are the same size: M ($1.00) before H ($2.50) when both hold it
    assert propose_box(contents=[(items["cube5"], 2)], boxes=catalog).box.code == "M"


def test_inactive_boxes_are_never_proposed(catalog, items):
    for box in catalog:
        box.active = box.code == "OLD"
    assert propose_box(contents=[(items["tile"], 1)], boxes=catalog) is None


def test_nothing_fits_then_split_into_several_boxes(catalog, items):
    # 25 cubes = 3125 in3 > L's 2570.4; and 25 lb: one box cannot take them
    contents = [(items["cube5"], 25)]
    assert propose_box(contents=contents, boxes=catalog) is None
    proposals = split_into_boxes(contents=contents, boxes=catalog)
    assert len(proposals) == 2
    # greedy: the first package grows while some box holds it (L: 2570.4 / 125 -> 20 cubes, 22 lb),
    # the rest (5 cubes = 625 in3) into the smallest that holds them: M (816)
    assert [p.box.code for p in proposals] == ["L", "M"]
    assert [sum(q for _i, q in p.contents) for p in proposals] == [20, 5]
    assert "package 1 of 2" in proposals[0].reason


def test_split_by_weight(catalog, items):
    # 10 bricks = 60 lb: no box takes 60 + its empty weight. The first package grows while some box
    # still holds it: H carries 60 - 2 = 58 lb -> 9 bricks (54 lb, 432 in3); L only 38 lb.
    # The 10th brick alone (6 + 0.5 lb, 6x4x2) -> S.
    proposals = split_into_boxes(contents=[(items["brick"], 10)], boxes=catalog)
    assert [(p.box.code, sum(q for _i, q in p.contents)) for p in proposals] == [("H", 9), ("S", 1)]
    assert [p.weight_lb for p in proposals] == [D("56"), D("6.5")]


def test_split_of_what_fits_one_box_is_that_box(catalog, items):
    proposals = split_into_boxes(contents=[(items["cube5"], 1)], boxes=catalog)
    assert [p.box.code for p in proposals] == ["S"]


def test_a_unit_that_fits_no_box_even_alone_is_named(catalog, items):
    with pytest.raises(NoBoxFits, match="ANVIL"):
        split_into_boxes(contents=[(items["anvil"], 1), (items["cube5"], 1)], boxes=catalog)


def test_the_fill_factor_is_documented_and_conservative():
    assert D("0.85") == FILL_FACTOR
