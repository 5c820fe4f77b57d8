"""The members of a run (every sweep setting x every seed) and the summary table of their evaluations."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from diffsr_jax.logging.writers import member_label
from diffsr_jax.fields import ConfigError


def parse_sweeps(specs, hparam_names=None) -> list[dict]:
    """['actor_critic.critic_lr=1e-3,3e-4', ...] -> every combination as a dict of overrides ([{}] without sweeps);
    the names are checked against ``hparam_names`` when given."""
    axes, names = [], set()
    for spec in specs:
        name, sep, values = spec.partition("=")
        if not sep or not values:
            raise ConfigError(f"--sweep={spec}: write it as group.field=v1,v2,... (e.g. "
                              "--sweep=actor_critic.critic_lr=1e-3,3e-4)")
        if name in names:
            raise ConfigError(f"--sweep: {name} is swept twice; give all its values in one --sweep={name}=v1,v2,...")
        names.add(name)
        if hparam_names is not None and name not in hparam_names:
            group = name.partition(".")[0]
            why = ("" if "." not in name or any(h.startswith(group + ".") for h in hparam_names) else
                   f" (it traces nothing of config.{group}: a group this agent does not read, or one switched off, "
                   "e.g. config.optimism until --config.optimism.enabled=true)")
            raise ConfigError(f"--sweep: {name!r} is not a traced hyperparameter of this agent{why}; "
                              f"sweepable: {', '.join(hparam_names)}")
        try:
            axes.append([(name, float(v)) for v in values.split(",")])
        except ValueError:
            raise ConfigError(f"--sweep={spec}: values must be numbers") from None
    return [dict(combo) for combo in itertools.product(*axes)]


def with_overrides(hp: dict, overrides: dict) -> dict:
    """``hp`` ({group: {field: value}}) with ``overrides`` ({"group.field": value}) applied, as float32 scalars."""
    out = {g: dict(fields) for g, fields in hp.items()}
    for name, v in overrides.items():
        group, key = name.split(".")
        out[group][key] = jnp.asarray(v, jnp.float32)
    return out


def make_members(config, default_hp: dict, sweeps=({},)):
    """-> (members, keys (M, 2), hp pytree of (M,)): every sweep setting ({"group.field": value}) x every seed."""
    members, hps = [], []
    for overrides in sweeps:
        setting = ",".join(f"{k}={v:g}" for k, v in overrides.items())
        for i in range(config.run.num_seeds):
            members.append({"seed": config.run.seed + i, **({"setting": setting} if setting else {})})
            hps.append(with_overrides(default_hp, overrides))
    keys = jnp.stack([jax.random.PRNGKey(m["seed"]) for m in members])
    return members, keys, jax.tree_util.tree_map(lambda *v: jnp.stack(v), *hps)


def summary_table(rows, members) -> str:
    width = max([len(member_label(m)) for m in members] + [6])
    lines = [f"{'run':>{width}} {'final eval':>11} {'best eval':>10} {'last-4 mean':>12}", "-" * (width + 36)]
    finals = {}
    for m in members:
        r = [x["eval/return"] for x in rows if all(x.get(k) == v for k, v in m.items())
             and x.get("eval/return") is not None]
        if not r:
            continue
        finals.setdefault(m.get("setting", ""), []).append(r[-1])
        lines.append(f"{member_label(m):>{width}} {r[-1]:>11.1f} {max(r):>10.1f} {np.mean(r[-4:]):>12.1f}")
    lines.append("-" * (width + 36))
    for setting, f in finals.items():
        lines.append(f"{(setting or 'mean'):>{width}} {np.mean(f):>11.1f}   (std {np.std(f):.1f} over {len(f)} seeds)")
    return "\n".join(lines)
