"""An experiment's figures, read from the impressions it made and the events credited to them
(app.measure.attribution), and its verdict by ``app.experiments`` (docs/online.md, "Experiments").

The unit of trial is a list shown (one ``recommendation_id``), for both methods (``app.experiments.decision``):

- A/B: a variant's ``lists`` are the distinct answers its shoppers were shown, its ``successes`` those with at
  least one credited click (metric ``ctr``) or purchase (``conversion``).
- interleaving: every list holds both variants' items (each impression row names its team); a list is won by
  the team whose items got more of the credited events (``app.experiments.outcomes``, ties and lists without
  one count for neither), and a variant's ``successes`` are the lists it won.

A shopper (``user_id``, else ``session_id``) keeps their variant and comes back for more lists, so an A/B
test's lists are not independent: its figures carry per-shopper sums, and ``app.experiments`` tests them with
shoppers as the unit (the delta method, ``ab_test_clustered``); the plan is scaled by the design effect the
routes' last week shows (``history``). One query per read for A/B (lists per shopper and variant, summed per
variant), two for interleaving (the lists, the credited positions), by the ``(experiment_id,
recommendation_id)`` index."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import Float, case, cast, func, select
from sqlalchemy.orm import Session

from app.experiments import (
    NO_DIFFERENCE,
    NONE_YET,
    SPREAD_KEYS,
    ab_test,
    ab_test_clustered,
    decide,
    design_effect_bound,
    has_shopper_sums,
    interleaving_test,
    outcomes,
    reached,
    wilson,
)
from app.store.models import Experiment, Impression, Interaction, utcnow

EVENT_OF_METRIC = {"ctr": "click", "conversion": "purchase"}
FIGURE_OF_METRIC = {"ctr": "clicks", "conversion": "purchases"}  # the figures' names app.experiments reads
DEFAULT_BASE_RATE = 0.05
BASE_RATE_DAYS = 7


def _credited(metric: str):
    """The join of impressions to the events of ``metric`` credited to them."""
    return (Interaction, (Interaction.recommendation_id == Impression.recommendation_id)
            & (Interaction.item_id == Impression.item_id) & Interaction.attributed_by.is_not(None)
            & (Interaction.type == EVENT_OF_METRIC[metric]))


def shopper_sums(session: Session, metric: str, *where, spread: bool = False) -> dict[str | None, dict[str, float]]:
    """Per variant (the impressions' ``variant``), the figures ``app.experiments`` reads, in one query: lists
    shown (``impressions``), lists with a credited event of ``metric`` (its figure name), and the per-shopper
    sums of the clustered test (``shoppers``, ``lists_sq``, ``{name}_sq``, ``{name}_lists``); ``spread`` adds
    the fourth-order sums of ``app.experiments.design_effect_bound`` (as floats: a fourth power of a busy
    shopper's lists overflows SQLite's integers). Answers without a shopper count as a shopper each."""
    name = FIGURE_OF_METRIC[metric]
    shopper = func.coalesce(Impression.user_id, Impression.session_id, Impression.recommendation_id)
    per_list = select(Impression.variant.label("variant"), shopper.label("shopper"),
                      func.max(case((Interaction.id.is_not(None), 1), else_=0)).label("good")) \
        .outerjoin(*_credited(metric)).where(*where) \
        .group_by(Impression.variant, shopper, Impression.recommendation_id).subquery()
    per_shopper = select(per_list.c.variant, func.count().label("x"), func.sum(per_list.c.good).label("y")) \
        .group_by(per_list.c.variant, per_list.c.shopper).subquery()
    x, y = per_shopper.c.x, per_shopper.c.y
    fourth = []
    if spread:
        xf, yf = cast(x, Float), cast(y, Float)
        fourth = [func.sum(xf * xf * xf * xf), func.sum(yf * yf * yf * yf), func.sum(yf * yf * yf * xf),
                  func.sum(yf * yf * xf * xf), func.sum(yf * xf * xf * xf)]
    rows = session.execute(select(per_shopper.c.variant, func.count(), func.sum(x), func.sum(y), func.sum(x * x),
                                  func.sum(y * y), func.sum(x * y), *fourth).group_by(per_shopper.c.variant))
    out = {}
    for variant, n, lists, good, xx, yy, xy, *more in rows:
        out[variant] = {"impressions": int(lists), name: int(good), "shoppers": int(n), "lists_sq": int(xx),
                        f"{name}_sq": int(yy), f"{name}_lists": int(xy)}
        out[variant] |= {key.format(m=name): float(v) for key, v in zip(SPREAD_KEYS, more, strict=False)}
    return out


def tallies(session: Session, experiment: Experiment) -> dict[str, dict[str, int]]:
    """Per variant in the experiment's order: ``{"lists": shown, "successes": won or converted}``, and for A/B
    the per-shopper sums under ``"figures"`` (``shopper_sums``)."""
    names = [v["name"] for v in experiment.variants]
    out = {name: {"lists": 0, "successes": 0} for name in names}
    mine = Impression.experiment_id == experiment.experiment_id
    if experiment.method == "ab":
        name = FIGURE_OF_METRIC[experiment.metric]
        for variant, f in shopper_sums(session, experiment.metric, mine).items():
            if variant in out:
                out[variant] = {"lists": f["impressions"], "successes": f[name], "figures": f}
        return out
    shown = int(session.scalar(select(func.count(func.distinct(Impression.recommendation_id))).where(mine)) or 0)
    clicked = session.execute(select(Impression.recommendation_id, Impression.position, Impression.variant)
                              .join(*_credited(experiment.metric)).where(mine).distinct()).all()
    wins = _wins(clicked, names)
    for name, won in zip(names, wins, strict=True):
        out[name] = {"lists": shown, "successes": won}
    return out


def _wins(clicked: list, names: list[str]) -> tuple[int, int]:
    """Lists won by each team, by ``app.experiments.outcomes`` over the clicked positions of each list."""
    if not clicked:
        return 0, 0
    lists = {rid: n for n, rid in enumerate(dict.fromkeys(r[0] for r in clicked))}
    width = max(r[1] for r in clicked)
    teams = np.full((len(lists), width), -1, np.int64)
    hit = np.zeros((len(lists), width), bool)
    team_of = {names[0]: 0, names[1]: 1}
    for rid, position, variant in clicked:
        if variant in team_of:
            teams[lists[rid], position - 1] = team_of[variant]
            hit[lists[rid], position - 1] = True
    won = outcomes(teams, hit)
    return int((won < 0).sum()), int((won > 0).sum())


def report(session: Session, experiment: Experiment) -> dict:
    """Each variant's figures, the difference between the first two with its 95% interval and p-value (A/B:
    the second's rate minus the first's; interleaving: the second's share of the decisive lists minus one half;
    null for more than two variants), what was ``reached`` of the plan and the ``decision`` (no peeking: "none
    yet" until ``planned`` is reached)."""
    counts = tallies(session, experiment)
    metric = FIGURE_OF_METRIC[experiment.metric]
    figures = {name: c.get("figures") or {"impressions": c["lists"], metric: c["successes"]}
               for name, c in counts.items()}
    variants = []
    for v in experiment.variants:
        c = counts[v["name"]]
        lo, hi = wilson(c["successes"], c["lists"])
        variants.append({**v, "lists": c["lists"], "successes": c["successes"],
                         "rate": c["successes"] / c["lists"] if c["lists"] else 0.0, "ci95": [lo, hi]})
    difference = None
    names = list(counts)
    if len(names) == 2:
        a, b = counts[names[0]], counts[names[1]]
        fa, fb = figures[names[0]], figures[names[1]]
        if experiment.method == "ab" and has_shopper_sums(fa, metric) and has_shopper_sums(fb, metric):
            t = ab_test_clustered(fa, fb, metric)  # shoppers as the unit: what decide reads too
            difference = {"value": t["difference"], "ci95": t["ci95"], "p_value": t["p_value"]}
        elif experiment.method == "ab":
            t = ab_test(a["successes"], a["lists"], b["successes"], b["lists"])
            difference = {"value": t["difference"], "ci95": t["ci95"], "p_value": t["p_value"]}
        else:
            t = interleaving_test(a["successes"], b["successes"])
            difference = {"value": t["share_b"] - 0.5, "ci95": [t["ci95"][0] - 0.5, t["ci95"][1] - 0.5],
                          "p_value": t["p_value"]}
    return {"variants": variants, "difference": difference, "reached": reached(experiment.method, figures),
            "decision": _decision(experiment, figures, metric)}


def _decision(experiment: Experiment, figures: dict, metric: str) -> str:
    """``app.experiments.decide`` for two variants. With three or four (A/B), each treatment against the first
    (the control) at alpha over the number of comparisons (Bonferroni): the best treatment that beats the
    control, else the control where it beats them all, else "no difference"."""
    if len(figures) == 2:
        return decide(experiment.method, figures, experiment.planned, metric)
    if reached(experiment.method, figures) < experiment.planned:
        return NONE_YET
    (control, c), *rest = figures.items()
    alpha = 0.05 / len(rest)
    verdicts = {name: decide("ab", {control: c, name: f}, experiment.planned, metric, alpha) for name, f in rest}
    better = [name for name, verdict in verdicts.items() if verdict == name]
    if better:
        return max(better, key=lambda n: figures[n][metric] / max(figures[n]["impressions"], 1))
    if all(verdict == control for verdict in verdicts.values()):
        return control
    return NO_DIFFERENCE


def history(session: Session, routes: list[str], metric: str) -> tuple[float, float]:
    """(base rate, design effect) of the lists shown on ``routes`` in the last week: the share of them with a
    credited event of ``metric`` (``DEFAULT_BASE_RATE`` where nothing was shown or the share is 0 or 1: no plan
    can start from those), and how much more a rate over returning shoppers varies than over independent lists,
    at its 80% upper confidence limit (``app.experiments.design_effect_bound``: the plan then has its power in
    at least four experiments in five, not one in two; 1 without history: the plan may then be short of power,
    while the clustered test keeps false decisions at alpha)."""
    recent = (Impression.shown_at >= utcnow() - timedelta(days=BASE_RATE_DAYS), Impression.route.in_(sorted(routes)))
    f = {"impressions": 0, FIGURE_OF_METRIC[metric]: 0}
    for sums in shopper_sums(session, metric, *recent, spread=True).values():  # every variant's lists together
        f = {key: f.get(key, 0) + value for key, value in sums.items()}
    shown, good = f["impressions"], f[FIGURE_OF_METRIC[metric]]
    if not shown or not 0 < good < shown:
        return DEFAULT_BASE_RATE, 1.0
    return good / shown, design_effect_bound(f, FIGURE_OF_METRIC[metric])
