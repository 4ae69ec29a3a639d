"""Online experiments between variants of the recommendation lists: A/B tests and team-draft interleaving.
Pure functions of ids and counts; the service stores the counts and calls these.

    variant_of(experiment_id, shopper, weights) -> variant index     sticky, stable across processes (assign)
    seed_of(*parts) -> int                                           the interleaving seed of a recommendation
    team_draft(a, b, k, seed) -> (merged, teams); credit(teams, clicked_positions) -> (wins_a, wins_b)
    ab_sample_size(base_rate, lift, ..., design_effect=1.0) / interleaving_sample_size(...) -> lists (planning)
    wilson, ab_test, ab_test_clustered, design_effect, interleaving_test                      (stats)
    design_effect_bound(figures) -> its upper confidence limit, what a plan uses; shopper_figures(x, y)
    decide(method, figures, planned, metric, alpha) -> winner | "no difference" | "none yet" (decision)
"""

from app.experiments.assign import seed_of, unit_of, variant_of
from app.experiments.decision import NO_DIFFERENCE, NONE_YET, decide, reached
from app.experiments.interleave import credit, outcomes, team_draft
from app.experiments.planning import ab_sample_size, interleaving_sample_size
from app.experiments.stats import (
    SPREAD_KEYS,
    ab_test,
    ab_test_clustered,
    design_effect,
    design_effect_bound,
    has_shopper_sums,
    interleaving_test,
    shopper_figures,
    wilson,
)

__all__ = ["NONE_YET", "NO_DIFFERENCE", "SPREAD_KEYS", "ab_sample_size", "ab_test", "ab_test_clustered", "credit",
           "decide", "design_effect", "design_effect_bound", "has_shopper_sums", "interleaving_sample_size",
           "interleaving_test", "outcomes", "reached", "seed_of", "shopper_figures", "team_draft", "unit_of",
           "variant_of", "wilson"]
