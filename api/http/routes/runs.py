"""Matching runs: staff start the nightly run for their street and read what every run did —
its figures and, for each order it could not match, why."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session, sessionmaker

from api.http.deps import SessionDep, SettingsDep, StaffActor, StaffOrPlanner
from api.http.openapi import declared_router, error_responses
from api.http.params import IdPath, PageNumber, PageSize
from api.services.matching import nightly, runs
from api.services.matching.runs import RunSummary, RunView
from api.services.paging import Page
from api.services.types import Day

router = declared_router(tags=["runs"])


def get_sessions(request: Request) -> sessionmaker[Session]:
    """The session factory: a run commits its own transactions (start, write, failure)."""
    sessions: sessionmaker[Session] = request.app.state.sessions
    return sessions


SessionsDep = Annotated[sessionmaker[Session], Depends(get_sessions)]


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: Day | None = None  # default: tomorrow, street time


# 500: the solve failed; the run is recorded as failed.
@router.post("/runs", status_code=201, responses=error_responses(500))
def start_run(
    sessions: SessionsDep, settings: SettingsDep, actor: StaffActor, body: RunIn | None = None
) -> RunView:
    """Run the nightly matching for the caller's street now (street-wide staff); the answer
    comes when the run is done. A failed run answers 500 and is recorded as failed."""
    return nightly.start_run(sessions, settings, actor, body.date if body else None)


@router.get("/runs")
def list_runs(
    session: SessionDep,
    settings: SettingsDep,
    actor: StaffOrPlanner,
    date: Day | None = None,
    status: Literal["running", "done", "failed"] | None = None,
    kind: Literal["nightly", "rematch"] | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> Page[RunSummary]:
    """The street's runs, newest first; interrupted runs show as failed."""
    return runs.list_runs(
        session,
        settings,
        actor,
        date=date,
        status=status,
        kind=kind,
        page=page,
        page_size=page_size,
    )


@router.get("/runs/{run_id}")
def get_run(
    run_id: IdPath, session: SessionDep, settings: SettingsDep, actor: StaffOrPlanner
) -> RunView:
    """One run: its settings, figures and the orders it could not match with the reasons."""
    return runs.get_run(session, settings, actor, run_id)
