"""Kubernetes quantities: exactly the apimachinery grammar (ASCII digits), never negative, always finite."""

from __future__ import annotations

import pytest

from upid.units import parse_quantity

GI = 2.0**30


@pytest.mark.parametrize(
    "text, value",
    [
        ("250m", 0.25),
        ("1", 1.0),
        ("1.5", 1.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("+2", 2.0),
        ("0", 0.0),
        ("704595n", 704595e-9),
        ("12u", 12e-6),
        ("2k", 2000.0),
        ("1M", 1e6),
        ("1G", 1e9),
        ("512Mi", 512 * 2.0**20),
        ("1.5Gi", 1.5 * GI),
        ("2Ti", 2 * 2.0**40),
        ("1e3", 1000.0),
        ("1E-3", 0.001),
        ("1e+2", 100.0),
        (" 100Mi ", 100 * 2.0**20),
        (3, 3.0),
        (0.5, 0.5),
    ],
)
def test_quantities_upid_reads(text: object, value: float) -> None:
    assert parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize(
    "text",
    [
        "-250m",  # negative: no usage, request, limit or capacity is
        "-100Ki",
        "-1",
        "1e309",  # not finite
        "1e99999",
        float("inf"),
        float("nan"),
        -5,
        "1e3Mi",  # an exponent and a suffix: not a quantity
        "1Mie3",
        "١٢٣",  # Arabic-Indic digits: not ASCII
        "１２",  # full-width digits
        "abc",
        "",
        " ",
        "Ki",
        "1.2.3",
        "10 Mi",
        "1mi",
        "1KB",
        "0x10",
        "1_000",
        None,
        [],
        {},
        True,
        b"100m",
    ],
)
def test_what_is_not_a_quantity_raises_value_error(text: object) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)
