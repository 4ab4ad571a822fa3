"""A stability leaderboard of policy-optimization objectives under one perturbation protocol.

Every objective trains on the same tied-answers task from the same base models with the same
sample budget; its learning rate is chosen on the clean task and frozen; then tie-breaks (P1),
reward noise or label flips (P2) and dropped prompts (P3) are applied, paired by seed, and the
trained policies are compared exactly (enumerated completion distributions). Each paper's own
stability statement is a registered claim (``leaderboard/*``) whose outcome the measurement
decides: reported as supported or not, with its numbers and intervals, never asserted.

==========================================  =================================================
name                                        what
==========================================  =================================================
:mod:`~perturbation.leaderboard.protocol`   scales, conditions, :func:`run_method`
:mod:`~perturbation.leaderboard.methods`    :data:`METHODS`: the objectives and their configs
:mod:`~perturbation.leaderboard.metrics`    exact per-seed metrics, IQM intervals, P(improve)
:mod:`~perturbation.leaderboard.board`      :func:`run_leaderboard`: the table and the plots
:mod:`~perturbation.leaderboard.claims`     the papers' stability claims
==========================================  =================================================
"""

from perturbation.leaderboard.board import LeaderboardResult, run_leaderboard
from perturbation.leaderboard.methods import METHODS
from perturbation.leaderboard.metrics import Aggregate, aggregate, compare, method_metrics
from perturbation.leaderboard.protocol import (
    LEADERBOARD_SCALES,
    Condition,
    LeaderboardScale,
    Method,
    MethodRun,
    base_logp,
    conditions,
    leaderboard_task,
    run_method,
)

__all__ = [
    "LEADERBOARD_SCALES",
    "METHODS",
    "Aggregate",
    "Condition",
    "LeaderboardResult",
    "LeaderboardScale",
    "Method",
    "MethodRun",
    "aggregate",
    "base_logp",
    "compare",
    "conditions",
    "leaderboard_task",
    "method_metrics",
    "run_leaderboard",
    "run_method",
]

from perturbation.leaderboard import claims  # noqa: F401  (registers leaderboard/*)
