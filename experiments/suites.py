"""Task suites: the paper's MBBL tasks on Brax/gymnax/Playground, its partially observable variant, DM Control on
MuJoCo Playground, and a CPU-sized group; the paper's numbers (spec section 5) where a task matches one.

A ``Task`` is a name, config overrides (env, backend, episode length, early termination, pomdp) and, where the
paper reports that task, its scores. A ``Suite`` is tasks plus the paper's evaluation protocol (budget).
Scores everywhere are the paper's: the mean of the last ``SCORE_LAST_EVALS`` evaluations of each seed.
"""

from __future__ import annotations

import dataclasses
import os
import platform

SCORE_LAST_EVALS = 4
PAPER_SOURCE = "paper, Gym-MuJoCo, different simulator"
# our agent -> the column of the paper's table it corresponds to
PAPER_AGENT = {"diffsr_sac": "Diff-SR", "diffsr_td3": "Diff-SR", "sac": "SAC", "polygrad": "PolyGRAD"}


def _paper(diffsr, sac, lvrep, polygrad):
    """(mean, std or None) per paper column (spec section 5: 200K env steps, 4 seeds)."""
    return {"Diff-SR": diffsr, "SAC": sac, "LV-Rep": (lvrep, None), "PolyGRAD": (polygrad, None)}


PAPER = {
    "HalfCheetah": _paper((7223.5, 437.1), (4000.7, 202.1), 5557.6, 2563.5),
    "Reacher": _paper((-6.5, 2.0), (-6.4, 0.5), -5.8, -20.7),
    "Humanoid-ET": _paper((821.3, 118.9), (1794.4, 458.3), 1086.0, 1026.6),
    "Pendulum": _paper((162.3, 3.0), (168.2, 9.5), 167.1, 166.3),
    "I-Pendulum": _paper((0.0, 0.1), (-0.2, 0.1), 0.0, -3.5),
    "Ant-ET": _paper((4788.6, 623.1), (2012.7, 571.3), 2511.8, 433.6),
    "Hopper-ET": _paper((2800.5, 95.4), (1815.5, 655.1), 2204.8, 1151.6),
    "S-Humanoid-ET": _paper((1160.3, 150.1), (834.6, 313.1), 963.1, 1110.1),
    "CartPole": _paper((199.9, 1.1), (199.4, 0.4), 200.7, 193.4),
    "Walker-ET": _paper((3722.2, 406.1), (2216.4, 678.7), 2523.5, 268.4),
}
# paper App. E, partially observable (velocities masked, last 3 observations), means: Diff-SR (run by the authors)
# and SAC-MLP (copied by the paper from the muLV-Rep paper; spec section 5b)
PAPER_POMDP = {"HalfCheetah": 3864.0, "Humanoid-ET": 650.0, "Walker-ET": 1861.0, "Ant-ET": 3190.0,
               "Hopper-ET": 1358.0, "Pendulum": 167.0}
PAPER_POMDP_SAC = {"HalfCheetah": 1612.0, "Humanoid-ET": 242.1, "Walker-ET": 736.5, "Ant-ET": 1612.0,
                   "Hopper-ET": 614.2, "Pendulum": 163.6}


@dataclasses.dataclass(frozen=True)
class Task:
    name: str  # directory name, e.g. hopper_et
    env: str  # family/name
    overrides: tuple = ()  # (("group.field", value), ...) applied after the agent preset
    paper_task: str | None = None  # key of PAPER (or PAPER_POMDP for pomdp tasks)
    note: str = ""  # how the reward differs from the paper's task, shown in the report

    def config_overrides(self) -> dict:
        return {"env.name": self.env, **dict(self.overrides)}

    def paper_scores(self) -> dict:
        """paper column -> (mean, std or None); {} when the paper has no such task."""
        if self.paper_task is None:
            return {}
        if dict(self.overrides).get("env.pomdp"):
            v = PAPER_POMDP.get(self.paper_task)
            return {} if v is None else {"Diff-SR": (v, None), "SAC": (PAPER_POMDP_SAC[self.paper_task], None)}
        return PAPER[self.paper_task]


@dataclasses.dataclass(frozen=True)
class Suite:
    name: str
    description: str
    tasks: tuple
    budget: tuple  # (("run.field", value), ...): total_steps, eval_every (env frames), eval_episodes of the protocol

    def task(self, name: str) -> Task:
        return next(t for t in self.tasks if t.name == name)


NOTES = {
    "gymnax/Pendulum-v1": "Reward is Gym Pendulum-v1's cost, -(angle^2 + 0.1 vel^2 + 0.001 u^2) per step over 200 "
                          "steps (best about -140); the paper's MBBL pendulum reports positive scores.",
    "brax/inverted_pendulum": "Brax reward is +1 per step while the pole is up (at most 1000 per episode); the "
                              "paper's MBBL I-Pendulum is a cost with 0 as the best.",
    "brax/reacher": "Brax reward is -(tip-to-target distance) - control cost per step, 50-step episodes as in Gym "
                    "Reacher.",
    # the paper has no DMC table: the same group's spectral-representation papers at 200k env steps, 4 seeds (spec 5b)
    "playground/CheetahRun": "No Diff-SR number; for standings, the same group's papers at 200k env steps (other "
                             "code and simulator): SAC 595 ± 96 (3-layer) / 453 ± 58, CTRL 679 ± 41, LV-Rep 639 ± 25, "
                             "SPEDER 594 ± 95.",
    "playground/HopperHop": "No Diff-SR number; for standings, the same group's papers at 200k env steps (other code "
                            "and simulator): SAC 28.6 ± 19.5 (3-layer) / 10.8 ± 6.6, CTRL 162 ± 76, LV-Rep 73 ± 41, "
                            "SPEDER 120 ± 90.",
}


def _t(name, env, paper=None, **env_fields):
    """A task on ``env``; ``env_fields`` set fields of config.env (e.g. action_repeat=2, pomdp=True)."""
    return Task(name, env, tuple((f"env.{k}", v) for k, v in env_fields.items()), paper, NOTES.get(env, ""))


# MBBL episode lengths: Reacher 50, Pendulum and CartPole 200, the rest 1000. The locomotion tasks are MBBL's own
# definitions (``mbbl/<name>``: its observation, reward and termination over Brax's mjx models, envs/mbbl.py);
# Humanoid-ET (MBBL's 376-d observation) stays Brax's humanoid; Reacher and the pendulums are the nearest Brax / gymnax /
# Playground tasks (other reward scales).
MBBL_TASKS = (
    _t("halfcheetah", "mbbl/halfcheetah", "HalfCheetah", backend="mjx", physics="native"),
    _t("reacher", "brax/reacher", "Reacher", episode_length=50),
    _t("humanoid_et", "brax/humanoid", "Humanoid-ET"),
    _t("slimhumanoid_et", "mbbl/slimhumanoid_et", "S-Humanoid-ET", backend="mjx", physics="native"),
    _t("pendulum", "gymnax/Pendulum-v1", "Pendulum"),
    _t("inverted_pendulum", "brax/inverted_pendulum", "I-Pendulum"),
    _t("ant_et", "mbbl/ant_et", "Ant-ET", backend="mjx", physics="native"),
    _t("hopper_et", "mbbl/hopper_et", "Hopper-ET", backend="mjx", physics="native"),
    _t("cartpole", "playground/CartpoleBalance", "CartPole", episode_length=200),
    _t("walker_et", "mbbl/walker_et", "Walker-ET", backend="mjx", physics="native"),
)
PAPER_BUDGET = (("run.total_steps", 200_000), ("run.warmup_steps", 25_000), ("run.eval_every", 5_000),
                ("run.eval_episodes", 10))
BRAX_OWN = {"halfcheetah": "brax/halfcheetah", "hopper_et": "brax/hopper", "walker_et": "brax/walker2d",
            "ant_et": "brax/ant"}  # the earlier studies' tasks: Brax's own reward and observation

SUITES = {s.name: s for s in (
    Suite("mbbl", "the paper's MBBL tasks: MBBL's own definitions over Brax's mjx models (mbbl/*), Brax, gymnax and "
          "Playground for the rest; -ET = early termination on falling", MBBL_TASKS, PAPER_BUDGET),
    Suite("mbbl_noet", "the locomotion tasks without early termination (MBBL's no_termination option; humanoid: "
          "brax terminate_when_unhealthy=False)",
          (_t("humanoid", "brax/humanoid", early_termination=False),
           _t("ant", "mbbl/ant_et", early_termination=False, backend="mjx", physics="native"),
           _t("hopper", "mbbl/hopper_et", early_termination=False, backend="mjx", physics="native"),
           _t("walker", "mbbl/walker_et", early_termination=False, backend="mjx", physics="native")), PAPER_BUDGET),
    Suite("mbbl_pomdp", "partially observable (paper App. E): velocities dropped, last 3 observations stacked",
          tuple(_t(f"{t.name}_pomdp", t.env, t.paper_task, pomdp=True, pomdp_history=3,
                   **{k.split(".")[1]: v for k, v in t.overrides})
                for t in MBBL_TASKS if t.paper_task in PAPER_POMDP), PAPER_BUDGET),
    Suite("dmc", "DM Control on MuJoCo Playground (impl=jax), 1000-frame episodes at action repeat 2 (spec section 4)",
          tuple(_t(n.lower(), f"playground/{n}", action_repeat=2) for n in (
              "CheetahRun", "WalkerWalk", "WalkerRun", "HopperHop", "ReacherEasy", "FingerSpin", "CartpoleSwingup",
              "PendulumSwingup", "BallInCup", "AcrobotSwingup")),
          (("run.total_steps", 1_000_000), ("run.eval_every", 10_000), ("run.eval_episodes", 10))),
    Suite("mbbl_spring", "the four tasks where the paper's Diff-SR gained most over SAC (HalfCheetah, Hopper-ET, "
          "Walker-ET, Ant-ET) on Brax's spring backend, fast on a CPU; 100k env steps, 5k random warm-up",
          tuple(_t(t, env, dict((x.name, x.paper_task) for x in MBBL_TASKS)[t], backend="spring")
                for t, env in BRAX_OWN.items()),
          (("run.total_steps", 100_000), ("run.warmup_steps", 5_000), ("run.eval_every", 5_000),
           ("run.eval_episodes", 10))),
    Suite("mbbl_mjx", "the same four tasks on Brax's mjx backend (MuJoCo's solver: the faithful ports of Gym's "
          "models) with each env's own solver settings (physics=native) and Brax's own reward; 100k env steps, 5k "
          "random warm-up",
          tuple(_t(t, env, dict((x.name, x.paper_task) for x in MBBL_TASKS)[t], backend="mjx", physics="native")
                for t, env in BRAX_OWN.items()),
          (("run.total_steps", 100_000), ("run.warmup_steps", 5_000), ("run.eval_every", 5_000),
           ("run.eval_episodes", 10))),
    Suite("exploration", "where entropy or action noise alone tends to settle on doing nothing (issue 31): gymnax "
          "MountainCarContinuous (+100 at the flag, -0.1 a^2 per step, 999 steps) and Playground's "
          "CartpoleSwingupSparse (reward only near upright) at action repeat 2; 50k env frames, 5k random warm-up",
          (_t("mountaincar", "gymnax/MountainCarContinuous-v0"),
           _t("cartpole_swingup_sparse", "playground/CartpoleSwingupSparse", action_repeat=2)),
          (("run.total_steps", 50_000), ("run.warmup_steps", 5_000), ("run.eval_every", 5_000),
           ("run.eval_episodes", 10))),
    Suite("pixels", "from pixels (the image-based variant's setting on a CPU): Playground's CartpoleBalance seen "
          "through 32 x 32 RGB frames of its camera 0, 3 stacked, action repeat 4; 40k env frames, 2k random "
          "warm-up",
          (_t("cartpole_balance", "playground/CartpoleBalance", pixels=32, frame_stack=3, camera=0, action_repeat=4),),
          (("run.total_steps", 40_000), ("run.warmup_steps", 2_000), ("run.eval_every", 4_000),
           ("run.eval_episodes", 5))),
    Suite("manipulation", "a manipulation task from pixels, standing in for the paper's Meta-World tasks (which MJX "
          "cannot step: docs/pixels.md section 5): Brax's pusher (Gym's Pusher: a 7-joint arm pushes a cylinder to a "
          "goal; 100-frame episodes) seen from a fixed corner camera (envs.pixels.TASK_VIEWS), 3 stacked frames; "
          "success as Meta-World's push defines it, the object within 5 cm of the goal (eval/success); 200k env "
          "frames, 4k random warm-up",
          (_t("pusher", "brax/pusher", backend="mjx", pixels=32, frame_stack=3, camera=-1, action_repeat=1,
              episode_length=100),),
          (("run.total_steps", 200_000), ("run.warmup_steps", 4_000), ("run.eval_every", 10_000),
           ("run.eval_episodes", 10))),
    Suite("cpu", "three cheap paper tasks for a CPU: gymnax Pendulum, Brax inverted pendulum and reacher "
          "(positional backend)",
          (_t("pendulum", "gymnax/Pendulum-v1", "Pendulum"),
           _t("inverted_pendulum", "brax/inverted_pendulum", "I-Pendulum", backend="positional"),
           _t("reacher", "brax/reacher", "Reacher", backend="positional", episode_length=50)),
          (("run.total_steps", 10_000), ("run.eval_every", 1_000), ("run.eval_episodes", 10))),
)}


# Ablations of a diffsr_* agent (experiments.suite --ablations=...): name -> overrides; each runs as agent
# "<agent>+<name>". The fast presets' own values are 1 representation update per env step and F = 64.
ABLATIONS = {
    "frozen_psi": {"representation.objective": "none"},  # psi frozen at its random init, same RFF critic
    # the same, with a LayerNorm on the critic's input: psi at init has ~7x the norm score matching gives it, which puts
    # the critic's sin(W psi) at high frequency; this control asks whether frozen_psi fails on information or on scale
    "frozen_psi_ln": {"representation.objective": "none", "psi_critic.input_layer_norm": True},
    # psi trained only by the critic's TD loss (which then reads the online psi)
    "critic_psi": {"representation.objective": "none", "psi_critic.grad_to_rep": True, "psi_critic.reads": "online"},
    "rep_updates4": {"representation.steps_per_update": 4},  # the paper's ratio
    "features256": {"representation.feature_dim": 256},  # the paper's F
    # not an ablation but an addition (issue 31): the elliptical bonus on psi in the TD target (agents/optimism.py)
    "optimism": {"optimism.enabled": True},
    # psi^T zeta trained as the velocity of the straight noise-to-s' path instead of the score (issue 31)
    "flow_matching": {"representation.objective": "flow_matching"},
    # the official run's condition: alpha frozen at its initial 0.1, as in rl-rep's first Diff-SR upload (a bug there)
    "alpha_fixed": {"sac.alpha_lr": 0.0},
    # the critic's heads (and the actor's Q through them) read the EMA target psi (rate representation.tau) instead of
    # the online psi, as spectral-rl2 does: asks whether psi moving under the critic is what costs Diff-SR-SAC
    "critic_reads_target": {"psi_critic.reads": "target"},
}
# what each ablation asks, in the words the reports print beside its row
ABLATION_QUESTIONS = {
    "frozen_psi": "never trains psi (score matching off, the same RFF critic on psi at init)",
    "frozen_psi_ln": "the same with a LayerNorm on the critic's input (psi's scale at init taken out)",
    "critic_psi": "trains psi only through the critic's TD loss",
    "rep_updates4": "takes 4 representation steps per env step (the paper's ratio)",
    "features256": "uses F = 256 (the paper's)",
    "optimism": "adds the elliptical bonus on psi to the TD target",
    "flow_matching": "trains psi^T zeta as the velocity of the straight noise-to-s' path instead of the score",
    "alpha_fixed": "keeps SAC's temperature at its initial 0.1 (the official first upload's behaviour)",
    "critic_reads_target": "has its critic (and the actor through it) read the EMA target psi (rate "
                           "representation.tau) instead of the online psi, as spectral-rl2 does",
}


def base_of(agent: str) -> str | None:
    """The base algorithm a Diff-SR agent is compared with (diffsr_sac -> sac); None for others and ablations."""
    return agent[len("diffsr_"):] if agent.startswith("diffsr_") and "+" not in agent else None


def compared_with(agent: str) -> tuple[str, ...]:
    """The agents a run is compared with on its task: a Diff-SR agent with its base (diffsr_sac -> sac); an ablation
    (``<agent>+<ablation>``) with the agent it changes and with that agent's base."""
    agent_of, _, ablation = agent.partition("+")
    base = base_of(agent_of)
    return ((agent_of,) if ablation else ()) + ((base,) if base else ())


def parse_sets(cfg, sets) -> dict:
    """``["group.field=value", ...]`` -> {"group.field": value parsed like the field's current value in ``cfg``};
    ConfigError (one line) on a malformed item or an unknown field."""
    from diffsr_jax.config import ConfigError, get_field

    overrides = {}
    for item in sets:
        k, sep, v = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item}: write group.field=value")
        try:
            overrides[k] = parse_value(v, get_field(cfg, k))
        except ValueError as e:
            raise ConfigError(f"--set {item}: {e}") from None
    return overrides


def parse_value(value: str, current):
    """A ``field=value`` override as the type of the field's current value."""
    if isinstance(current, bool):
        if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ValueError(f"expected true or false, got {value!r}")
        return value.lower() in ("1", "true", "yes")
    if isinstance(current, tuple | list):
        return tuple(type(current[0])(v) for v in value.split(":")) if current else tuple(value.split(":"))
    return type(current)(value) if current is not None else value


def task_label(suite: str, task: str) -> str:
    """How reports name a task: ``<suite> / <task>``, or just the task for a run outside a suite."""
    return f"{suite} / {task}" if suite else task


def machine_info() -> dict:
    """CPU model, cores, platform and library versions of this machine."""
    import jax

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "jax": jax.__version__, "devices": ", ".join(sorted({d.device_kind for d in jax.devices()}))}
