"""The papers the claims cite: one table, one format.

A claim's ``reference`` is ``ref(key, where)``: the paper's short citation followed by the
theorem, equation, section or page the claim checks (``ref("policy-cliff", "Prop. 4.7")``).
Where the toolkit derived a statement itself, ``where`` says ``[derived]`` and the derivation
is written out in the docstring of the experiment or of the library function it checks;
``[reconstructed]`` marks a best reading of a statement the paper leaves open.
"""

from __future__ import annotations

__all__ = ["PAPERS", "ref"]

#: key -> short citation (authors, venue, year, arXiv id).
PAPERS: dict[str, str] = {
    "policy-cliff": "Xu, The Policy Cliff, 2025 (arXiv:2507.20150)",
    "lipsdp": "Fazlyab, Robey, Hassani, Morari & Pappas, NeurIPS 2019 (arXiv:1906.04893)",
    "eclipse": "Xu & Sivaranjani, ECLipsE, NeurIPS 2024 (arXiv:2404.04375)",
    "lipschitz-control": "Al Makdah, Krishnan & Pasqualetti, 2021 (arXiv:2103.16629)",
    "counterfactual-stability": "Hamman, Noorani, Mishra, Magazzeni & Dutta, ICML 2023 "
    "(arXiv:2305.11997)",
    "probe": "Pawelczyk, Datta, van den Heuvel, Kasneci & Lakkaraju (PROBE), ICLR 2023",
    "roar": "Upadhyay, Joshi & Lakkaraju (ROAR), NeurIPS 2021",
    "causal-minimax": "Liu, Zheng, Sun, Fang & Wang (Which Invariance Should We Transfer?), "
    "ICML 2023 (arXiv:2107.01876)",
    "decision-boundary": "Korkmaz, ICML 2024 (arXiv:2406.16979)",
    "deepfool": "Moosavi-Dezfooli, Fawzi & Frossard (DeepFool), CVPR 2016",
    "universal-perturbations": "Moosavi-Dezfooli, Fawzi, Fawzi & Frossard, CVPR 2017",
    "random-vs-adversarial": "Fawzi, Moosavi-Dezfooli & Frossard, NeurIPS 2016 (arXiv:1608.08967)",
    "policy-attacks": "Huang, Papernot, Goodfellow, Duan & Abbeel, 2017 (arXiv:1702.02284)",
    "sa-dqn": "Zhang, Chen, Xiao, Li, Liu, Boning & Hsieh (SA-DQN), NeurIPS 2020 "
    "(arXiv:2003.08938)",
    "shaping": "Ng, Harada & Russell, ICML 1999",
    "regularized-mdp": "Geist, Scherrer & Pietquin, ICML 2019",
    "dpo": "Rafailov et al., NeurIPS 2023",
    "soft-q-learning": "Haarnoja, Tang, Abbeel & Levine, ICML 2017 (arXiv:1702.08165)",
    "discrete-sac": "Christodoulou, 2019 (arXiv:1910.07207)",
    "prach-lampert": "Prach & Lampert, ECCV 2022",
    "hkm": "Helmberg, Rendl, Vanderbei & Wolkowicz, SIAM J. Optim. 6, 1996",
    "mehrotra": "Mehrotra, SIAM J. Optim. 2, 1992",
    "ppo-max": "Zheng et al., Secrets of RLHF in Large Language Models Part I: PPO, 2023 "
    "(arXiv:2307.04964)",
    "deepseekmath": "Shao et al., DeepSeekMath, 2024 (arXiv:2402.03300)",
    "dr-grpo": "Liu et al., Understanding R1-Zero-Like Training: A Critical Perspective, 2025 "
    "(arXiv:2503.20783)",
    "dapo": "Yu et al., DAPO: An Open-Source LLM Reinforcement Learning System at Scale, 2025 "
    "(arXiv:2503.14476)",
    "nlpo": "Ramamurthy et al., Is Reinforcement Learning (Not) for Natural Language "
    "Processing?, ICLR 2023 (arXiv:2210.01241)",
    "chord": "Zhang et al., On-Policy RL Meets Off-Policy Experts: Harmonizing SFT and RL via "
    "Dynamic Weighting (CHORD), 2025 (arXiv:2508.11408)",
    "amft": "He, Feng & Li, AMFT: Aligning LLM Reasoners by Meta-Learning the Optimal "
    "Imitation-Exploration Balance, 2025 (arXiv:2508.06944; withdrawn by the authors)",
    "view-r1": "Hong et al., Enhancing Reasoning Ability of MLLMs via Asymmetric Policy "
    "Optimization (View-R1), 2025 (arXiv:2506.21655)",
    "ghpo": "Liu et al., GHPO: Adaptive Guidance for Stable and Efficient LLM Reinforcement "
    "Learning, 2025 (arXiv:2507.10628)",
    "veripo": "Li et al., VerIPO: Cultivating Long Reasoning in Video-LLMs via Verifier-Guided "
    "Iterative Policy Optimization, 2025 (arXiv:2505.19000)",
    "accelerated-po": "He, Yuan & Gu, Accelerated Preference Optimization for Large Language "
    "Model Alignment, 2024 (arXiv:2410.06293)",
    "dno": "Rosset et al., Direct Nash Optimization: Teaching Language Models to Self-Improve "
    "with General Preferences, 2024 (arXiv:2404.03715)",
    "direct-advantage-po": "Liu et al., Improving Multi-Step Reasoning Abilities of Large "
    "Language Models with Direct Advantage Policy Optimization, 2024 (arXiv:2412.18279)",
    "robust-dp": "Iyengar, Robust Dynamic Programming, Mathematics of Operations Research 30(2), "
    "2005",
    "iwocs": "Zouitine, Geist & Rachelson, Solving Robust MDPs as a Sequence of Static RL "
    "Problems (IWOCS), 2024 (arXiv:2410.06212)",
    "debate-reward": "Sukovic & Radanovic, Reward Design for Justifiable Sequential "
    "Decision-Making, ICLR 2024 (arXiv:2402.15826)",
    "fisor": "Zheng, Li, Yu, Yang, Li, Zhan & Liu, Safe Offline Reinforcement Learning with "
    "Feasibility-Guided Diffusion Model (FISOR), ICLR 2024 (arXiv:2401.10700)",
    "ogsrl": "Yan et al., Offline Guarded Safe Reinforcement Learning for Medical Treatment "
    "Optimization Strategies (OGSRL), 2025 (arXiv:2505.16242)",
    "unicorn": "Deng, Li, Sun, Ding & Lam, Unified Conversational Recommendation Policy "
    "Learning via Graph-based Reinforcement Learning (UNICORN), SIGIR 2021 (arXiv:2105.09710)",
    "reinflow": "Zhang et al., ReinFlow: Fine-tuning Flow Matching Policy with Online "
    "Reinforcement Learning, NeurIPS 2025 (arXiv:2505.22094)",
    "find": "Chen et al., FIND: Fine-tuning Initial Noise Distribution with Policy Optimization "
    "for Diffusion Models, ACM MM 2024 (arXiv:2407.19453)",
    "sac": "Haarnoja, Zhou, Abbeel & Levine, Soft Actor-Critic: Off-Policy Maximum Entropy Deep "
    "RL with a Stochastic Actor, ICML 2018 (arXiv:1801.01290)",
    "dsac-t": "Duan et al., Distributional Soft Actor-Critic with Three Refinements, IEEE TPAMI "
    "2025 (arXiv:2310.05858)",
    "rliable": "Agarwal, Schwarzer, Castro, Courville & Bellemare, Deep Reinforcement Learning "
    "at the Edge of the Statistical Precipice, NeurIPS 2021 (arXiv:2108.13264)",
}


def ref(key: str, where: str = "") -> str:
    """``"<citation>, <where>"`` for the paper ``key`` of :data:`PAPERS`."""
    if key not in PAPERS:
        raise ValueError(f"key must be one of {sorted(PAPERS)}; got {key!r}")
    return f"{PAPERS[key]}, {where}" if where else PAPERS[key]
