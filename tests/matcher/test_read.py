"""GAP files: reading, mapping to a Problem, the independent checker and one end-to-end solve."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from matcher.params import ObjectiveWeights, SolveParams
from matcher.read import (
    GapInstance,
    agent_id,
    gap_cost,
    gap_result_violations,
    gap_solution_cost,
    gap_to_problem,
    gap_violations,
    job_id,
    read_gap_file,
    read_gap_single,
)

# The shared benchmark data lives beside the repository (``../shared``); gap1.txt is also
# shipped in tests/data so the end-to-end test never depends on it.
REPO = Path(__file__).resolve().parents[2]
GAP_DIR = Path(os.environ.get("QUNBANG_BENCHDATA", REPO.parent / "shared" / "benchdata")) / "gap"
DATE = dt.date(2026, 1, 5)

# Two 2x3 problems, wrapped at odd places as OR-Library files are.
TWO_PROBLEMS = """ 2
 2 3 1 2 3
 4 5 6 1 1 1 2
 2 2 3 4
 2 3 9 8 7 6 5 4 3
 3 3 3 3 3 5
 5
"""


@pytest.fixture
def gap1_path() -> Path:
    """OR-Library gap1.txt (a verbatim copy of the shared benchmark file)."""
    return REPO / "tests" / "data" / "gap1.txt"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def small_instance() -> GapInstance:
    return GapInstance(
        name="tiny",
        agents=2,
        jobs=3,
        cost=((1, 2, 3), (4, 5, 6)),
        resource=((2, 2, 2), (1, 1, 1)),
        capacity=(4, 1),
    )


def test_reads_a_token_stream_regardless_of_line_wrapping(tmp_path: Path) -> None:
    """Every problem of an OR-Library file is read, whatever the line breaks."""
    first, second = read_gap_file(write(tmp_path, "gap7.txt", TWO_PROBLEMS))
    assert (first.agents, first.jobs) == (2, 3)
    assert first.cost == ((1, 2, 3), (4, 5, 6))
    assert first.resource == ((1, 1, 1), (2, 2, 2))
    assert first.capacity == (3, 4)
    assert second.cost == ((9, 8, 7), (6, 5, 4))
    assert second.resource == ((3, 3, 3), (3, 3, 3))
    assert second.capacity == (5, 5)


def test_names_follow_the_literature(tmp_path: Path) -> None:
    """gapN problem k is cMN-k, gapa..d problems are typeMMNNN, other files stem-k."""
    text = TWO_PROBLEMS
    assert [i.name for i in read_gap_file(write(tmp_path, "gap7.txt", text))] == ["c23-1", "c23-2"]
    assert [i.name for i in read_gap_file(write(tmp_path, "gapb.txt", text))] == ["b023", "b023"]
    assert [i.name for i in read_gap_file(write(tmp_path, "mine.txt", text))] == [
        "mine-1",
        "mine-2",
    ]


def test_reads_a_single_problem_file_named_by_its_stem(tmp_path: Path) -> None:
    """A Yagiura-style file has no leading P and is named after the file."""
    instance = read_gap_single(write(tmp_path, "e0203.txt", "2 3\n1 2 3 4 5 6\n1 1 1 2 2 2\n3 4"))
    assert instance.name == "e0203"
    assert instance.capacity == (3, 4)


def test_non_integer_token_names_file_and_position(tmp_path: Path) -> None:
    """A non-integer token is a ValueError naming the file, the token number and the field."""
    path = write(tmp_path, "gap9.txt", "1\n2 3\n1 2 x 4 5 6\n")
    with pytest.raises(
        ValueError, match=r"gap9\.txt: token 6: expected an integer .*cost\[0\]\[2\]"
    ):
        read_gap_file(path)


def test_truncated_file_names_what_was_being_read(tmp_path: Path) -> None:
    """A file ending early is a ValueError naming the position and the missing field."""
    path = write(tmp_path, "gap9.txt", "1 2 3 1 2 3 4 5 6 1 1 1 2 2 2 3")
    with pytest.raises(
        ValueError, match=r"gap9\.txt: token 17: file ends while reading .*capacity"
    ):
        read_gap_file(path)


def test_trailing_data_is_rejected(tmp_path: Path) -> None:
    """Tokens after the last problem are an error (e.g. an OR-Library file read as single)."""
    with pytest.raises(ValueError, match=r"token 18: unexpected data after the last problem"):
        read_gap_file(write(tmp_path, "gap9.txt", "1 2 3 1 2 3 4 5 6 1 1 1 2 2 2 3 4 99"))
    with pytest.raises(ValueError, match=r"unexpected data"):
        read_gap_single(write(tmp_path, "gap8.txt", TWO_PROBLEMS))


def test_counts_must_be_positive(tmp_path: Path) -> None:
    """Zero agents is rejected at its token."""
    with pytest.raises(
        ValueError, match=r"token 2: problem 1: number of agents m is 0, must be >= 1"
    ):
        read_gap_file(write(tmp_path, "gap9.txt", "1 0 3"))


def test_real_gap1_has_five_5x15_problems(gap1_path: Path) -> None:
    """OR-Library gap1.txt reads as c515-1..5 with the published first values."""
    instances = read_gap_file(gap1_path)
    assert [i.name for i in instances] == [f"c515-{k}" for k in range(1, 6)]
    assert all((i.agents, i.jobs) == (5, 15) for i in instances)
    first = instances[0]
    assert first.cost[0][:5] == (17, 21, 22, 18, 24)
    assert first.resource[0][:5] == (8, 15, 14, 23, 8)
    assert first.capacity == (36, 34, 38, 27, 33)
    assert instances[1].cost[0][:3] == (19, 23, 24)


def test_problem_mapping_carries_cost_resource_and_capacity() -> None:
    """Agents are helpers with capacity minutes, jobs untimed 0-min orders, legs carry c and a."""
    instance = small_instance()
    problem = gap_to_problem(instance, DATE)
    assert [h.max_minutes for h in problem.helpers] == [4, 1]
    assert all(h.committed_minutes == 0 and h.max_orders == 3 for h in problem.helpers)
    assert all(o.window is None and problem.duration(o) == 0 for o in problem.orders)
    legs = {(leg.helper, leg.order): leg for leg in problem.travel.legs}  # type: ignore[union-attr]
    assert len(legs) == 6
    leg = legs[(agent_id(1), job_id(2))]
    assert (leg.km_round_trip, leg.minutes_round_trip) == (6.0, 1)


def test_checker_accepts_a_feasible_assignment_and_costs_it() -> None:
    """Jobs 0,1 on agent 0 (load 4/4) and job 2 on agent 1 (1/1) is feasible at cost 1+2+6."""
    instance = small_instance()
    assert gap_violations(instance, [0, 0, 1]) == []
    assert gap_cost(instance, [0, 0, 1]) == 9


def test_checker_reports_capacity_and_unassigned_jobs() -> None:
    """Over-capacity agents and unassigned jobs are each a violation."""
    violations = gap_violations(small_instance(), [1, 1, None])
    assert violations == ["job 2: not assigned", "agent 1: uses 2, capacity 1"]


def test_checker_confirms_the_d20200_certificate() -> None:
    """The fontanf d20200 assignment is feasible with cost 12238 (README caveat G4)."""
    certificate = GAP_DIR / "fontanf_d20200_solution_cost12238.txt"
    if not certificate.exists():
        pytest.skip("benchmark data not found")
    d20200 = read_gap_file(GAP_DIR / "orlib" / "gapd.txt")[5]
    agent_of: list[int | None] = [int(t) for t in certificate.read_text().split()]
    assert d20200.name == "d20200"
    assert gap_violations(d20200, agent_of) == []
    assert gap_cost(d20200, agent_of) == 12238


@pytest.mark.timeout(120)  # a 20 s solve
@pytest.mark.slow
def test_solve_reaches_the_gap1_problem1_optimum(gap1_path: Path) -> None:
    """c515-1 solved through the matcher costs 261 (the min-sense optimum) and is GAP-feasible."""
    from matcher.solve import solve
    from matcher.verify import assert_valid

    instance = read_gap_file(gap1_path)[0]
    params = SolveParams(
        time_limit_s=20,
        workers=1,
        seed=0,
        candidate_limit=None,
        weights=ObjectiveWeights(travel=1, continuity=0, fairness=0, preference=0),
    )
    problem = gap_to_problem(instance, DATE)
    result = solve(problem, params)
    assert_valid(problem, result)
    assert gap_result_violations(instance, result) == []
    assert gap_solution_cost(instance, result) == 261


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    """A device (/dev/zero), a FIFO and a folder are refused at once instead of hanging."""
    fifo = tmp_path / "gap.fifo"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo, tmp_path):
        with pytest.raises(ValueError, match="not a regular file"):
            read_gap_file(path)


def test_absurd_sizes_end_at_the_file_end(tmp_path: Path) -> None:
    """A header claiming 10^9 x 10^9 with three numbers behind it fails at the file's end,
    without allocating for the claimed size; binary content is named by byte, not echoed."""
    path = write(tmp_path, "gap9.txt", "1 1000000000 1000000000 1 2 3")
    with pytest.raises(ValueError, match=r"token 7: file ends while reading .*cost\[0\]\[3\]"):
        read_gap_file(path)
    binary = tmp_path / "gap8.txt"
    binary.write_bytes(b"1 2\xff\xfe")
    with pytest.raises(ValueError, match=r"gap8\.txt: byte 4: not a text file of integers$"):
        read_gap_file(binary)
