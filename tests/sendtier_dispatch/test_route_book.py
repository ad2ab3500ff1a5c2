"""The route book: weighted choice, canaries, pins, excluded states, versions, default routes."""

from __future__ import annotations

import math
import random
from collections import Counter

from dispatch_helpers import T0

from sendtier.dispatch import RouteBook, table_from_settings
from sendtier.settings import RouteSettings
from smsplatform.contracts import Route, RouteEntry, RoutingTable

PICKS = 20_000


def table(version: int, *routes: Route) -> RoutingTable:
    return RoutingTable(version=version, at=T0, routes=list(routes))


def otp_route(*entries: tuple[str, str, float], carrier: str = "cmcc") -> Route:
    return Route(
        carrier=carrier,
        message_class="otp",
        suppliers=[RouteEntry(supplier=s, state=state, weight=w) for s, state, w in entries],  # type: ignore[arg-type]
    )


def first_choices(book: RouteBook, picks: int = PICKS) -> Counter[str]:
    return Counter(book.candidates("cmcc", "otp")[0] for _ in range(picks))


def assert_share(counts: Counter[str], supplier: str, probability: float) -> None:
    """Within 4 standard deviations of a binomial count: fails about once in 15,000 runs."""
    expected = PICKS * probability
    sigma = math.sqrt(PICKS * probability * (1 - probability))
    assert abs(counts[supplier] - expected) <= 4 * sigma, (supplier, counts, expected)


def test_active_suppliers_are_chosen_first_in_proportion_to_their_weights() -> None:
    book = RouteBook(
        table(1, otp_route(("a", "active", 5), ("b", "active", 3), ("c", "active", 2))),
        random.Random(7),
    )

    counts = first_choices(book)

    assert_share(counts, "a", 0.5)
    assert_share(counts, "b", 0.3)
    assert_share(counts, "c", 0.2)


def test_probing_supplier_gets_its_canary_share_and_active_ones_share_the_rest() -> None:
    book = RouteBook(
        table(1, otp_route(("a", "active", 3), ("b", "active", 1), ("canary", "probing", 0.1))),
        random.Random(11),
    )

    counts = first_choices(book)

    assert_share(counts, "canary", 0.1)
    assert_share(counts, "a", 0.9 * 0.75)
    assert_share(counts, "b", 0.9 * 0.25)


def test_fallbacks_follow_the_first_choice_active_by_weight_then_probing() -> None:
    book = RouteBook(
        table(
            1,
            otp_route(
                ("canary", "probing", 0.5),
                ("small", "active", 1),
                ("big", "active", 9),
                ("standby", "active", 0),
            ),
        ),
        random.Random(3),
    )

    orders = {tuple(book.candidates("cmcc", "otp")) for _ in range(2_000)}

    assert orders == {
        ("big", "small", "standby", "canary"),
        ("small", "big", "standby", "canary"),
        ("canary", "big", "small", "standby"),
    }


def test_standby_supplier_with_weight_zero_is_never_a_first_choice() -> None:
    book = RouteBook(table(1, otp_route(("main", "active", 1), ("standby", "active", 0))))

    assert set(first_choices(book, 2_000)) == {"main"}
    assert book.candidates("cmcc", "otp") == ["main", "standby"]


def test_pinned_supplier_is_the_only_candidate() -> None:
    book = RouteBook(
        table(1, otp_route(("a", "active", 9), ("b", "pinned", 1), ("c", "probing", 0.5)))
    )

    assert {tuple(book.candidates("cmcc", "otp")) for _ in range(500)} == {("b",)}


def test_draining_and_ejected_suppliers_are_never_chosen_even_as_fallbacks() -> None:
    book = RouteBook(
        table(1, otp_route(("a", "active", 1), ("d", "draining", 50), ("e", "ejected", 50)))
    )

    assert {tuple(book.candidates("cmcc", "otp")) for _ in range(500)} == {("a",)}


def test_only_probing_suppliers_left_carry_all_traffic_by_their_shares() -> None:
    book = RouteBook(
        table(1, otp_route(("a", "ejected", 1), ("p", "probing", 0.3), ("q", "probing", 0.1))),
        random.Random(5),
    )

    counts = first_choices(book)

    assert set(counts) == {"p", "q"}
    assert_share(counts, "p", 0.75)


def test_message_pin_is_honoured_unless_the_route_keeps_that_supplier_out() -> None:
    book = RouteBook(table(1, otp_route(("a", "active", 1), ("gone", "ejected", 1))))

    assert book.candidates("cmcc", "otp", pinned_supplier="b") == ["b"]
    assert book.candidates("cmcc", "otp", pinned_supplier="gone") == []


def test_carrier_without_a_route_uses_the_wildcard_route() -> None:
    book = RouteBook(
        table(
            1,
            otp_route(("cmcc-only", "active", 1)),
            otp_route(("anyone", "active", 1), carrier="*"),
        )
    )

    assert book.candidates("cmcc", "otp") == ["cmcc-only"]
    assert book.candidates("ctcc", "otp") == ["anyone"]
    assert book.candidates("ctcc", "marketing") == []


def test_newer_table_replaces_the_one_in_force_and_older_ones_are_ignored() -> None:
    book = RouteBook(table(5, otp_route(("v5", "active", 1))))

    assert book.apply(table(4, otp_route(("v4", "active", 1)))) is False
    assert book.apply(table(5, otp_route(("other-v5", "active", 1)))) is False
    assert book.candidates("cmcc", "otp") == ["v5"]

    assert book.apply(table(6, otp_route(("v6", "active", 1)))) is True
    assert book.version == 6
    assert book.candidates("cmcc", "otp") == ["v6"]


def test_default_routes_from_settings_are_version_zero_with_every_supplier_active() -> None:
    defaults = table_from_settings(
        [RouteSettings(carrier="*", message_class="otp", suppliers={"a": 2, "b": 1})], T0
    )

    assert defaults.version == 0
    assert defaults.routes[0].suppliers == [
        RouteEntry(supplier="a", state="active", weight=2),
        RouteEntry(supplier="b", state="active", weight=1),
    ]
    assert RouteBook(defaults).apply(table(1, otp_route(("c", "active", 1)))) is True
