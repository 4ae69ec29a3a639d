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
for module in (items, users, interactions, jobs, models, recommendations, carousels, rules, segments, conversations,
               reviews, stats, online, experiments, ops):
    responses.document(module.router)  # on the routers' own routes: including them copies them lazily
    api_router.include_router(module.router)
