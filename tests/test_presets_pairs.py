"""One protocol per pair, by construction: for every base (SAC, TD3, DDPG, DrQ-v2) and every preset its file
defines, the configs of ``diffsr_<base>`` and ``<base>`` differ only in the critic and the representation groups (and,
on pixels, the encoder's: ``vae``; and the agent's name). A difference anywhere else (the actor, its initialisation,
the target period, the loop, the budget, the replay) would make a comparison of the two test more than the paper's
claim."""

import pytest

from diffsr_jax.agents.registry import BASES
from diffsr_jax.config import validate_config
from experiments.configs import load_preset

CRITIC_GROUPS = ("mlp_critic", "psi_critic", "representation", "vae")
PRESETS = ("fast", "study", "paper")


def defines(base: str, preset: str) -> bool:
    try:
        load_preset(base, preset)
    except ValueError:
        return False
    return True


PAIRS = [(base, preset) for base in sorted(BASES) for preset in PRESETS if defines(base, preset)]


def differences(a, b, path=""):
    """The dotted paths where two nested dicts differ."""
    out = []
    for k in sorted(set(a) | set(b)):
        here = f"{path}.{k}" if path else k
        if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
            out += differences(a[k], b[k], here)
        elif a.get(k) != b.get(k):
            out.append(here)
    return out


def outside_critic(a, b):
    return [d for d in differences(a, b) if d.split(".")[0] not in CRITIC_GROUPS and d != "run.agent"]


def test_every_base_has_its_fast_and_paper_presets_paired():
    assert {(b, p) for b in BASES for p in ("fast", "paper")} <= set(PAIRS)


@pytest.mark.parametrize("base,preset", PAIRS)
def test_diffsr_and_its_base_differ_only_in_the_critic(base, preset):
    c_base, c_diffsr = load_preset(base, preset), load_preset(f"diffsr_{base}", preset)
    validate_config(c_base)
    validate_config(c_diffsr)
    assert c_diffsr.run.agent == f"diffsr_{base}" and c_base.run.agent == base
    assert outside_critic(c_base.to_dict(), c_diffsr.to_dict()) == []
    # the pair does differ where the claim is
    assert differences(c_base.representation.to_dict(), c_diffsr.representation.to_dict()) or \
        differences(c_base.psi_critic.to_dict(), c_diffsr.psi_critic.to_dict())


def test_the_pair_check_fails_on_a_difference_outside_the_critic():
    c_base, c_diffsr = load_preset("sac", "fast"), load_preset("diffsr_sac", "fast")
    c_diffsr.actor_critic.activation = "relu"
    c_diffsr.sac.target_update_every = 1
    c_diffsr.psi_critic.rff_dim = 7  # inside the critic: allowed
    assert outside_critic(c_base.to_dict(), c_diffsr.to_dict()) == ["actor_critic.activation",
                                                                     "sac.target_update_every"]


@pytest.mark.parametrize("agent", ["sac", "diffsr_sac"])
def test_paper_presets_carry_the_official_details(agent):
    c = load_preset(agent, "paper")
    assert c.env.name == "mbbl/halfcheetah"
    assert (c.run.total_steps, c.run.warmup_steps, c.run.eval_every) == (200_000, 25_000, 5_000)
    assert c.actor_critic.actor_init == "orthogonal" and c.run.random_action_prob == 0.01
    assert c.actor_critic.activation == "elu" and c.sac.target_update_every == 2 and c.sac.init_alpha == 0.1
    assert c.sac.alpha_lr > 0  # alpha learned: rl-rep's first upload froze it by a bug (a study sets 0 on purpose)
    if agent == "diffsr_sac":
        r = c.representation
        assert (r.init, r.score_sigma_power, r.steps_per_update, r.lr, r.feature_dim) == ("torch", 1, 4, 3e-3, 256)
        assert c.psi_critic.init == "torch" and c.psi_critic.reads == "online" and not c.psi_critic.grad_to_rep


@pytest.mark.parametrize("preset,budget", [("fast", (100_000, 5_000)), ("study", (200_000, 25_000)),
                                           ("paper", (200_000, 25_000))])
def test_a_suite_keeps_the_study_and_paper_budget(preset, budget):
    """A suite's own budget sizes ``fast`` runs; ``study`` and ``paper`` keep the paper's 200k frames and 25k warm-up
    unless the command line says otherwise."""
    from experiments.suite import build_config
    from experiments.suites import SUITES

    suite = SUITES["mbbl_mjx"]
    cfg = build_config(suite, suite.task("hopper_et"), "diffsr_sac", preset, 4)
    assert (cfg.run.total_steps, cfg.run.warmup_steps) == budget
    assert cfg.run.num_seeds == 4 and cfg.env.name == "brax/hopper"
    assert build_config(suite, suite.task("hopper_et"), "sac", preset, 4, total_steps=50_000).run.total_steps == 50_000
    table1 = SUITES["mbbl"].task("hopper_et")
    assert build_config(SUITES["mbbl"], table1, "sac", preset, 4).env.name == "mbbl/hopper_et"
