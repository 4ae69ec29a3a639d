"""Which variant of a running experiment makes a shopper's list, and the merged list of an interleaving one.

The shopper is the ``user_id``, or the ``session_id`` of a visit without one; a list for nobody in particular
is the plain list (no experiment counts it). Assignment is ``app.experiments.variant_of``: a stable hash of the
experiment id and the shopper, the same in every API process and after every restart. With interleaving both
variants make their list; the route merges them by team draft once it has the answer's ``recommendation_id``,
which seeds the draft (``seed_of``), so a logged list can be rebuilt exactly."""

from __future__ import annotations

from typing import Any

from app.experiments import seed_of, team_draft, variant_of
from app.recommender.experiment_reads import Running, Variant
from app.recommender.state import State

INTERLEAVED = "interleaved"  # the answer's variant when both made it

__all__ = ["INTERLEAVED", "Running", "Variant", "assigned", "merge"]


def assigned(state: State, route: str, shopper: str | None, now: float
             ) -> tuple[Running, tuple[Variant, ...]] | None:
    """(the route's running experiment, the variants that make this shopper's list: theirs for A/B, both for
    interleaving), or None where no experiment runs on the route now or there is no shopper."""
    held = state.experiments.get(route)
    if held is None or not shopper:
        return None
    experiment = next((e for e in held if e.live(now)), None)
    if experiment is None:
        return None
    if experiment.method == "interleaving":
        return experiment, experiment.variants
    return experiment, (experiment.variants[variant_of(experiment.experiment_id, shopper, experiment.weights)],)


def merge(arms: tuple[tuple[str, list[dict[str, Any]]], ...], k: int, recommendation_id: str
          ) -> tuple[list[dict[str, Any]], list[str]]:
    """The team-draft merge of the two variants' lists (their items, best first): at most ``k`` items, each as
    the variant that placed it scored it, and for each the name of that variant (its team)."""
    (name_a, items_a), (name_b, items_b) = arms
    ids_a, ids_b = [i["item_id"] for i in items_a], [i["item_id"] for i in items_b]
    merged, teams = team_draft(ids_a, ids_b, k, seed_of(recommendation_id))
    own = ({i["item_id"]: i for i in items_a}, {i["item_id"]: i for i in items_b})
    names = (name_a, name_b)
    return [own[team][item_id] for item_id, team in zip(merged, teams, strict=True)], [names[t] for t in teams]
