"""The textbook GAP MIP in HiGHS: the peer of ``bench/gap_bench.py --solvers highs``.

Runs in its own process because OR-Tools ships an older HiGHS under the same library name: the
two cannot be loaded into one interpreter. Reads one instance as JSON on stdin (``cost``,
``resource``, ``capacity``, ``time_limit``, ``threads``, ``seed``), writes JSON on stdout: the
agent of every job (``null`` when none), HiGHS's model status, objective and dual bound, as
the last line (HiGHS 1.16 prints a banner to stdout before ``output_flag`` can be set).

Model: binary x[i][j]; every job to exactly one agent; per agent sum resource[i][j] x[i][j] <=
capacity[i]; minimise sum cost[i][j] x[i][j].
"""

from __future__ import annotations

import json
import sys

import highspy
import numpy as np


def solve(data: dict) -> dict:
    cost, resource, capacity = data["cost"], data["resource"], data["capacity"]
    m, n = len(cost), len(cost[0])
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(data["time_limit"]))
    h.setOptionValue("threads", int(data["threads"]))
    h.setOptionValue("random_seed", int(data["seed"]))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = m * n, n + m
    lp.col_cost_ = np.asarray(cost, dtype=float).reshape(-1)  # column i * n + j
    lp.col_lower_, lp.col_upper_ = np.zeros(m * n), np.ones(m * n)
    lp.row_lower_ = np.array([1.0] * n + [-highspy.kHighsInf] * m)
    lp.row_upper_ = np.array([1.0] * n + [float(b) for b in capacity])
    # column (i, j): a 1 in job row j and resource[i][j] in agent row n + i
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, 2 * m * n + 1, 2, dtype=np.int32)
    jobs = np.tile(np.arange(n, dtype=np.int32), m)
    agents = np.repeat(np.arange(m, dtype=np.int32), n) + n
    lp.a_matrix_.index_ = np.stack([jobs, agents], axis=1).reshape(-1)
    values = np.stack([np.ones(m * n), np.asarray(resource, dtype=float).reshape(-1)], axis=1)
    lp.a_matrix_.value_ = values.reshape(-1)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * (m * n)
    h.passModel(lp)
    h.run()
    info = h.getInfo()
    agent_of: list[int | None] = [None] * n
    if info.primal_solution_status == 2:  # a feasible solution exists
        x = np.asarray(h.getSolution().col_value).reshape(m, n)
        for j in range(n):
            chosen = np.flatnonzero(x[:, j] > 0.5)
            agent_of[j] = int(chosen[0]) if len(chosen) == 1 else None
    status = h.getModelStatus()
    return {
        "agent_of": agent_of,
        "status": h.modelStatusToString(status),
        "optimal": status == highspy.HighsModelStatus.kOptimal,
        "objective": info.objective_function_value,
        "bound": info.mip_dual_bound,
    }


if __name__ == "__main__":
    answer = solve(json.load(sys.stdin))
    sys.stdout.write("\n" + json.dumps(answer) + "\n")
