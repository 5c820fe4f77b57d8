"""The first config groups (before they were split per component: ``actor_critic`` holding SAC's and TD3's fields,
``critic`` both heads, ``baselines`` both baselines) mapped to today's: to read the config.json of the committed runs
written then (reports, ``stored_config``), to refuse to resume one in one line, and to name the new field when someone
types an old one. Also the older optimism bonus versions a run may hold, and what a field added later ran as before."""

from __future__ import annotations

_SPLIT = {  # first-generation group.field -> today's group.field(s)
    **{f"actor_critic.{k}": (f"sac.{k}",) for k in ("alpha_lr", "init_alpha", "target_entropy_scale", "log_std_min",
                                                      "log_std_max", "target_update_every")},
    **{f"actor_critic.{k}": (f"td3.{k}",) for k in ("policy_noise", "noise_clip", "policy_delay", "actor_q_reduce")},
    "actor_critic.expl_noise": ("td3.expl_noise",),
    "critic.hidden": ("mlp_critic.hidden",),
    "critic.activation": ("mlp_critic.activation", "psi_critic.activation"),
    "critic.hidden_layer_norm": ("mlp_critic.hidden_layer_norm", "psi_critic.hidden_layer_norm"),
    **{f"critic.{k}": (f"psi_critic.{k}",) for k in ("rff_dim", "rff_hidden", "rff_kind", "input_layer_norm", "reads",
                                                     "grad_to_rep")},
    "representation.updates_per_step": ("representation.steps_per_update",),
    **{f"baselines.{k}": (f"trajectory_model.{k}",) for k in ("denoise_steps", "horizon", "schedule", "time_embed_dim",
                                                               "lr", "x0_clip", "max_grad_norm", "tau")},
    "baselines.model_width": ("trajectory_model.width",),
    "baselines.model_layers": ("trajectory_model.layers",),
    "baselines.model_batch": ("trajectory_model.batch",),
    "baselines.num_candidates": ("planner.num_candidates",),
    "baselines.planner_noise": ("planner.noise",),
    **{f"baselines.{k}": (f"polygrad.{k}",) for k in ("imagined_batch", "guidance_type", "guidance_scale", "guidance_lr",
                                                       "action_noise_scale", "action_clip_std", "actor_std", "min_std",
                                                       "init_std", "lam", "entropy_coef")},
}
RENAMED = {old: " and ".join(f"config.{n}" for n in new) for old, new in _SPLIT.items()}
"""first-generation "group.field" -> where it lives now, as a message fragment."""
LAST_FIRST_GENERATION = "8d24f92"
"""the last revision whose config and agent state have the first groups (its runs resume there)."""


def split_groups(saved: dict) -> dict:
    """A first-generation grouped config dict with its fields moved to today's groups (values unchanged)."""
    out: dict = {}
    for group, fields in saved.items():
        if not isinstance(fields, dict):
            out[group] = fields
            continue
        for field, value in fields.items():
            for new in _SPLIT.get(f"{group}.{field}", (f"{group}.{field}",)):
                g, k = new.split(".")
                out.setdefault(g, {})[k] = value
    return out


def new_name(name: str) -> str | None:
    """Where a first-generation field ``group.field`` lives now, as "config.<group>.<field>" (two joined by "and"
    where one field became two); None for a name that is not an old one."""
    return RENAMED.get(name)


def is_first_generation(saved: dict) -> bool:
    """Whether a run's config.json was written before the groups were split per component."""
    return any(isinstance(fields, dict) and any(f"{g}.{k}" in _SPLIT for k in fields) for g, fields in saved.items())


OLDER_OPTIMISM = (
    ("moment_rate", "kept its optimism bonus's Sigma by an exponential average (optimism.moment_rate)", "a220fe3"),
    ("inverse_iters", "tracked its optimism bonus's Sigma^-1 itself (optimism.inverse_iters), not its factor",
     "dc12d54"),
)
"""(the optimism field only that version had, what it did, the last revision that did it): versions of the bonus whose
checkpoints hold another agent state than today's (which sweeps the replay and tracks a factor Z of Sigma^-1)."""


def older_optimism(saved: dict) -> tuple[str, str] | None:
    """(what it did, the last revision that did it) when a run's config.json has the optimism bonus on as an older
    version kept it; None otherwise (off, its state is the plain critic's)."""
    optimism = saved.get("optimism")
    if not (isinstance(optimism, dict) and optimism.get("enabled")):
        return None
    return next(((why, rev) for field, why, rev in OLDER_OPTIMISM if field in optimism), None)


BEFORE_FIELD = {("env", "physics"): "native"}
"""(group, field) -> what a run written before that field existed ran with, where today's default differs (``auto``
may mean ``light``)."""
