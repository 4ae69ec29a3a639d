"""Assemble the routers: the v1 contract (behind API keys) and the operational routes."""

from fastapi import APIRouter

from app.api import responses
from app.api.routes import (
    carousels,
    conversations,
    experiments,
    interactions,
    items,
    jobs,
    models,
    online,
    ops,
    recommendations,
    reviews,
    rules,
    segments,
    stats,
    users,
)

api_router = APIRouter()
# The read routes first: a request is matched against the routes in this order, and most requests are reads.
for module in (recommendations, carousels, conversations, items, users, interactions, jobs, models, rules, segments,
               reviews, stats, online, experiments, ops):
    responses.document(module.router)  # on the routers' own routes: including them copies them lazily
    api_router.include_router(module.router)
