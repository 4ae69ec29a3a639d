"""Assemble the routers: the v1 contract (behind API keys) and the operational routes."""

from fastapi import APIRouter

from app.api.routes import conversations, interactions, items, jobs, models, ops, recommendations, reviews, users

api_router = APIRouter()
for module in (items, users, interactions, jobs, models, recommendations, conversations, reviews, ops):
    api_router.include_router(module.router)
