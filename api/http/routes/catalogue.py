"""The service catalogue and the street's communities and grids (any logged-in user)."""

from __future__ import annotations

from api.http.deps import CurrentActor, SessionDep
from api.http.openapi import declared_router
from api.services.ledger import catalogue
from api.services.ledger.catalogue import CatalogueOut, CommunityOut

router = declared_router(tags=["catalogue"])


@router.get("/catalogue")
def get_catalogue(session: SessionDep, actor: CurrentActor) -> CatalogueOut:
    """Skills, categories and service items, with the labels of helper kinds and resident
    categories (Chinese and English)."""
    return catalogue.catalogue(session, actor)


@router.get("/communities")
def list_communities(session: SessionDep, actor: CurrentActor) -> list[CommunityOut]:
    """The communities of your street, each with its grids."""
    return catalogue.communities(session, actor)
