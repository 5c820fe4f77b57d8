"""Names of fields before they were grouped (flat ``config.total_steps``), mapped to their groups: to read the
config.json of older runs (the report) and to name the new field when someone types an old one."""

from __future__ import annotations

_MOVES = {
    "run": ("agent", "preset", "seed", "num_seeds", "total_steps", "warmup_steps", "eval_every", "eval_episodes",
            "updates_per_step", "checkpoint_every", "keep_checkpoints", "nan_policy"),
    "env": (("env", "name"), ("env_backend", "backend"), "episode_length", "action_repeat", "early_termination",
            "pomdp", "pomdp_history", "num_envs", "auto_reset", "reset_pool_size", "reset_pool_refill"),
    "replay": ("buffer_size", ("replay_capacity", "capacity"), "batch_size", "normalize_obs"),
    "actor_critic": ("gamma", "tau", "actor_lr", "critic_lr", "actor_hidden", "activation", "actor_layer_norm",
                     "alpha_lr", "init_alpha", "target_entropy_scale", "log_std_min", "log_std_max",
                     "target_update_every", "expl_noise", "policy_noise", "noise_clip", "policy_delay",
                     "actor_q_reduce"),
    "critic": (("critic_hidden", "hidden"), ("critic_layer_norm", "hidden_layer_norm"),
               ("critic_hidden_ln", "hidden_layer_norm"), ("critic_input_ln", "input_layer_norm"), "rff_dim",
               "rff_hidden", "rff_kind", ("critic_activation", "activation"), ("critic_rep", "reads"),
               ("critic_grad_to_rep", "grad_to_rep")),
    "representation": (("rep_arch", "arch"), "feature_dim", "psi_hidden", "zeta_hidden", ("rep_activation", "activation"),
                       ("rep_enc_hidden", "enc_hidden"), ("rep_enc_out", "enc_out"), ("rep_res_width", "res_width"),
                       ("rep_res_blocks", "res_blocks"), "level_input", "level_embed_dim", "schedule", "num_levels",
                       "noise_scale", "parameterization", ("rep_lr", "lr"), ("rep_updates_per_step", "updates_per_step"),
                       "reward_weight", ("rep_tau", "tau")),
    "baselines": ("horizon", "denoise_steps", ("model_schedule", "schedule"), "model_width", "model_layers",
                  "time_embed_dim", "model_batch", ("model_lr", "lr"), "x0_clip", "max_grad_norm", "num_candidates",
                  "planner_noise", "imagined_batch", "guidance_type", "guidance_scale", "guidance_lr",
                  "action_noise_scale", "action_clip_std", "actor_std", "min_std", "init_std", ("model_ema", "tau"),
                  "lam", "entropy_coef"),
}

FLAT_TO_GROUPED = {(f if isinstance(f, str) else f[0]): f"{g}.{f if isinstance(f, str) else f[1]}"
                   for g, fields in _MOVES.items() for f in fields}
"""old flat name -> "group.field"."""


def grouped(flat: dict) -> dict:
    """A flat config dict (older runs) as {group: {field: value}}; ``model_ema`` becomes its rate ``1 - ema``."""
    out: dict = {}
    for k, v in flat.items():
        if k not in FLAT_TO_GROUPED:
            continue
        group, field = FLAT_TO_GROUPED[k].split(".")
        out.setdefault(group, {})[field] = 1.0 - v if k == "model_ema" else v
    return out


BEFORE_FIELD = {("env", "physics"): "native"}
"""(group, field) -> what a run written before that field existed ran with, where today's default differs (``auto``
may mean ``light``)."""
