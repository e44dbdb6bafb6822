"""CP-SAT decision variables: who serves each order, whether it is covered, when it starts."""

from __future__ import annotations

from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from matcher.candidates import OrderContext


@dataclass
class Variables:
    """``assign[o][k]`` is true when the k-th candidate of order ``o`` serves it."""

    covered: list[cp_model.IntVar] = field(default_factory=list)
    assign: list[list[cp_model.IntVar]] = field(default_factory=list)
    start: list[cp_model.IntVar | int | None] = field(default_factory=list)
    # per helper index: (order index, candidate position, interval) for timed visits
    visits: dict[int, list[tuple[int, int, cp_model.IntervalVar]]] = field(default_factory=dict)
    # per helper index: (order index, candidate position) for all visits
    load: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    # per helper index: the load penalty's ``extra`` Booleans (``objective._fairness_terms``),
    # the j-th true when the helper serves j + 2 orders or more; empty until the cost stage
    extra: dict[int, list[cp_model.IntVar]] = field(default_factory=dict)


def make_variables(model: cp_model.CpModel, contexts: list[OrderContext]) -> Variables:
    variables = Variables()
    new_bool_var, load, visits = model.new_bool_var, variables.load, variables.visits
    for ctx in contexts:
        o = ctx.index
        variables.covered.append(new_bool_var(f"covered_{o}"))
        assign = [new_bool_var(f"assign_{o}_{c.helper}") for c in ctx.candidates]
        variables.assign.append(assign)
        start = _start(model, ctx)
        variables.start.append(start)
        for k, candidate in enumerate(ctx.candidates):
            load.setdefault(candidate.helper, []).append((o, k))
        if ctx.timed:
            assert start is not None  # timed orders have a start
            for k, candidate in enumerate(ctx.candidates):
                interval = _visit(model, ctx, k, start, assign[k])
                visits.setdefault(candidate.helper, []).append((o, k, interval))
    return variables


def _start(model: cp_model.CpModel, ctx: OrderContext) -> cp_model.IntVar | int | None:
    """A shared start for the whole team: a constant for fixed starts, a variable otherwise."""
    if ctx.start_range is None:
        return None
    lo, hi = ctx.start_range
    if lo == hi:
        return lo
    ranges = sorted({r for c in ctx.candidates for r in (c.starts or ())})
    domain = cp_model.Domain.from_intervals([list(r) for r in ranges]) if ranges else None
    if domain is None or domain.is_empty():
        return model.new_int_var(lo, hi, f"start_{ctx.index}")
    return model.new_int_var_from_domain(domain, f"start_{ctx.index}")


def _visit(
    model: cp_model.CpModel,
    ctx: OrderContext,
    k: int,
    start: cp_model.IntVar | int,
    present: cp_model.IntVar,
) -> cp_model.IntervalVar:
    """The helper's occupied time: travel out, service, travel back."""
    leg = ctx.candidates[k].leg
    size = ctx.duration + leg.minutes_round_trip
    begin = start - leg.minutes_out
    return model.new_optional_fixed_size_interval_var(
        begin, size, present, f"visit_{ctx.index}_{ctx.candidates[k].helper}"
    )
