"""Device-agnostic torch trainers and the tasks they train on (CPU here, CUDA where present).

==========================================  ===================================================
name                                        what
==========================================  ===================================================
:mod:`trainers.losses`                      advantages and losses (REINFORCE, PPO-clip, GRPO,
                                            k3 KL, entropy, PPO-max options, DPO)
:func:`train_bandit` / :func:`train_bandit_runs`  policy gradient on contextual bandits; N runs
                                            as one stacked model (:mod:`trainers.batched`)
:func:`train_ppo`                           PPO with a value head (CartPole, tabular MDPs)
:func:`train_dpo`                           DPO on preference pairs
:func:`train_soft_q`                        soft Q-learning / discrete SAC (tabular MDPs)
:func:`train_dqn`                           DQN, double and dueling (pixel gridworld)
:func:`train_bc` / :func:`train_classifier`  behavior cloning, seeded MLP classifiers
                                            (``*_runs``: N seeds as one stacked model)
:mod:`trainers.tasks`                       contextual bandits, the multi-reward task
:mod:`trainers.envs`                        gymnasium envs: ``theory.TabularMDP``, pixel grid
:mod:`trainers.runtime`                     threads, seeding, metrics log, checkpoints
==========================================  ===================================================

Every trainer takes a frozen config dataclass (fields documented), ``seed`` and ``device``,
uses one torch thread, logs a metrics table (CSV, progress bar, TensorBoard if installed) and
returns a frozen result with ``summary()``; checkpoints are a state dict plus the JSON config.
"""

from trainers.batched import StackedModule
from trainers.continuous_envs import LQEnv
from trainers.dpo import DPOConfig, train_dpo
from trainers.dqn import DQNConfig, train_dqn
from trainers.envs import PixelGridEnv, TabularMDPEnv
from trainers.find import FINDConfig, train_find
from trainers.fisor import FISORConfig, FISORResult, train_fisor
from trainers.loaders import LoadedPolicy, cleanrl_policy, load_sb3_policy
from trainers.ogsrl import OGSRLConfig, OGSRLResult, train_ogsrl
from trainers.policy_gradient import PGConfig, PGResult, train_bandit, train_bandit_runs
from trainers.ppo import PPOConfig, train_ppo
from trainers.reinflow import ReinFlowConfig, train_reinflow
from trainers.reinflow_env import finetune_reinflow_env
from trainers.rollout import evaluate_returns, visited_states
from trainers.runtime import load_checkpoint, save_checkpoint
from trainers.sac import SACConfig, train_sac, train_sac_runs
from trainers.safe_tasks import (
    OfflineDataset,
    SafeTask,
    behaviour_policy,
    collect_dataset,
    hazard_gridworld,
)
from trainers.soft_q import SoftQConfig, train_soft_q
from trainers.supervised import (
    SupervisedConfig,
    train_bc,
    train_bc_runs,
    train_classifier,
    train_classifier_runs,
)
from trainers.tasks import ContextualBandit, multi_reward_bandit

__all__ = [
    "ContextualBandit",
    "DPOConfig",
    "DQNConfig",
    "FINDConfig",
    "FISORConfig",
    "FISORResult",
    "LQEnv",
    "LoadedPolicy",
    "OGSRLConfig",
    "OGSRLResult",
    "OfflineDataset",
    "PGConfig",
    "PGResult",
    "PPOConfig",
    "PixelGridEnv",
    "ReinFlowConfig",
    "SACConfig",
    "SafeTask",
    "SoftQConfig",
    "StackedModule",
    "SupervisedConfig",
    "TabularMDPEnv",
    "behaviour_policy",
    "cleanrl_policy",
    "collect_dataset",
    "evaluate_returns",
    "finetune_reinflow_env",
    "hazard_gridworld",
    "load_checkpoint",
    "load_sb3_policy",
    "multi_reward_bandit",
    "save_checkpoint",
    "train_bandit",
    "train_bandit_runs",
    "train_bc",
    "train_bc_runs",
    "train_classifier",
    "train_classifier_runs",
    "train_dpo",
    "train_dqn",
    "train_find",
    "train_fisor",
    "train_ogsrl",
    "train_ppo",
    "train_reinflow",
    "train_sac",
    "train_sac_runs",
    "train_soft_q",
    "visited_states",
]
