"""Context: how much more or less likely an item is than usual at a time of day, day of week, month, on a
device or in a location, learned from the stored events by the training job and applied at serving.

    features(timestamp, location, device) -> {"hour": "9", "weekday": "0", ..., "device": "mobile"}
    fit(events, n_items, item_categories, prior) -> ContextModel   (app.context.model)
    ContextModel.rerank(catalog, positions, scores, kind, features, weight) -> (positions, scores)
    choose(...) -> each feature's weight, chosen on the shop's held-out events  (app.context.choice)

The lifts are Gamma-Poisson posterior means (shrunk to "no effect" where the data is thin, an item toward its
category), combined as naive Bayes: score + log lift for a logit. Values the store never showed change nothing.
"""

from app.context.choice import choose
from app.context.model import ContextModel, EventContexts, features, fit

__all__ = ["ContextModel", "EventContexts", "choose", "features", "fit"]
