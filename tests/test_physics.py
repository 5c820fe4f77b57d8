"""The MuJoCo solver setting ``config.env.physics`` (native | light | auto; ``diffsr_jax.envs.physics``): what each
builds, where light is refused, how old runs read back, and the faithfulness check of light on brax/halfcheetah
(``benchmarks/physics_faithfulness.py``, its tolerance, on a short fixed action sequence)."""

import dataclasses

import jax
import pytest

from diffsr_jax.config import ConfigError, stored_config, validate_config
from diffsr_jax.envs import ENV_FAMILIES, make_env
from diffsr_jax.envs.families import resolve_physics
from experiments.configs import load_preset

LIGHT = {"iterations": 1, "ls_iterations": 4, "euler_damping": False}
BRAX_NATIVE = {"iterations": 4, "ls_iterations": 50, "euler_damping": True}  # MuJoCo's defaults, Brax's hopper keeps


def _solver_of(opt):
    from diffsr_jax.envs.physics import solver_options

    return solver_options(opt)


def test_brax_mjx_physics_sets_exactly_the_solver_options():
    native = make_env("brax/hopper", physics="native")
    light = make_env("brax/hopper", physics="light")
    assert native.solver == BRAX_NATIVE and native.physics == "native"
    assert light.solver == LIGHT and light.physics == "light"
    # only the solver fields change: everything else in the stepped model's options is as Brax built it
    n_opt, l_opt = native.system.opt, light.system.opt
    for field in ("timestep", "solver", "cone", "tolerance", "ls_tolerance", "gravity"):
        assert jax.numpy.array_equal(jax.numpy.asarray(getattr(n_opt, field)),
                                     jax.numpy.asarray(getattr(l_opt, field))), field
    # auto is what resolve_physics says (native while hopper is not listed as measured faithful)
    auto = make_env("brax/hopper", physics="auto")
    expected = resolve_physics("brax/hopper", "mjx", "auto")
    assert auto.physics == expected and auto.solver == (LIGHT if expected == "light" else BRAX_NATIVE)


def test_auto_resolves_per_family_list(monkeypatch):
    brax = ENV_FAMILIES["brax"]
    monkeypatch.setitem(ENV_FAMILIES, "brax", dataclasses.replace(brax, light_by_default=("hopper",)))
    assert resolve_physics("brax/hopper", "mjx", "auto") == "light"
    assert resolve_physics("brax/walker2d", "mjx", "auto") == "native"  # not listed
    assert resolve_physics("brax/hopper", "spring", "auto") == "native"  # light does not apply off mjx
    assert resolve_physics("brax/hopper", "mjx", "native") == "native"  # an explicit setting is kept
    monkeypatch.setitem(ENV_FAMILIES, "brax", dataclasses.replace(brax, light_by_default=()))
    assert resolve_physics("brax/hopper", "mjx", "auto") == "native"
    assert resolve_physics("gymnax/Pendulum-v1", "mjx", "auto") == "native"
    assert resolve_physics("playground/CartpoleSwingup", "mjx", "auto") == "native"  # no playground env listed


def test_playground_physics_sets_the_stepped_mjx_model():
    from mujoco_playground import registry

    own = _solver_of(registry.load("CartpoleSwingup", config_overrides={"impl": "jax"}).mj_model.opt)
    native = make_env("playground/CartpoleSwingup", physics="native")
    light = make_env("playground/CartpoleSwingup", physics="light")
    assert native.solver == own and native.physics == "native"
    assert light.solver == LIGHT and light.physics == "light"
    # the MJX model the env steps carries them too, not only the MuJoCo model
    assert _solver_of(native.mjx_model.opt) == own
    assert _solver_of(light.mjx_model.opt) == LIGHT


@pytest.mark.parametrize("name,backend", [("brax/hopper", "spring"), ("gymnax/Pendulum-v1", "mjx")])
def test_light_where_it_does_not_apply_is_a_one_line_config_error(name, backend):
    c = load_preset("sac", "fast")
    c.env.name, c.env.backend, c.env.physics = name, backend, "light"
    with pytest.raises(ConfigError) as e:
        validate_config(c)
    msg = str(e.value)
    assert "\n" not in msg and "physics" in msg and name in msg
    c.env.physics = "native"  # native and auto are fine there
    validate_config(c)
    c.env.physics = "auto"
    validate_config(c)


def test_unknown_physics_is_a_config_error():
    c = load_preset("sac", "fast")
    c.env.physics = "fast"
    with pytest.raises(ConfigError, match="physics"):
        validate_config(c)


def test_stored_config_without_physics_reads_native():
    saved = load_preset("sac", "fast").to_dict()
    saved["env"].pop("physics")  # a config.json written before the field existed
    assert stored_config(saved).env.physics == "native"
    saved["env"]["physics"] = "light"
    assert stored_config(saved).env.physics == "light"


def test_faithfulness_tolerance():
    from benchmarks.physics_faithfulness import compare

    same = compare([100.0, 110.0, 90.0], [100.0, 110.0, 90.0])
    assert same["pass"] and same["identical"] and same["reason"] == "identical" and same["diff"] == 0
    close = compare([100.0, 110.0, 90.0, 100.0], [105.0, 112.0, 96.0, 103.0])  # +4%
    assert close["pass"] and close["reason"] == "within 10%"
    off = compare([100.0, 101.0, 99.0, 100.0], [130.0, 131.0, 129.0, 131.0])  # +30%, tight
    assert not off["pass"] and off["reason"] == "differs"
    noisy = compare([0.0, 200.0, 0.0, 200.0], [200.0, 0.0, 200.0, 60.0])  # +15%, but noise of +-200 per episode
    assert noisy["pass"] and noisy["reason"] == "within noise" and not noisy["equivalent"]


@pytest.mark.parametrize("name", ["halfcheetah"])
def test_fixed_action_check(name):
    """The benchmark's fixed-action check on Brax MJX, short (32 episodes of at most 200 frames of uniform random
    actions, the same initial states and actions under both settings), judged by its tolerance: |D| <= max(10% of
    the native mean, 2 standard errors of the paired difference).

    An env listed in ``BRAX_LIGHT_FAITHFUL`` (light under ``physics=auto``) must pass it; none is but ant, whose light
    and native settings are the same. halfcheetah is not listed: over 1000 frames light's returns are ~16% higher (208 episodes, 12-21% at 95%; the benchmark's
    16-episode check fails at +24%), which needs ~200 long episodes to show reliably, more than a test. For it this
    test asserts only what any two simulators of the same task must meet: the returns agree to 50% of the native mean
    or 3 standard errors (a light setting that did not apply, or blew up, fails)."""
    from benchmarks.physics_faithfulness import env_pair, open_loop_checks
    from diffsr_jax.envs.families import BRAX_LIGHT_FAITHFUL

    native, light = env_pair(f"brax/{name}", episode_length=200)
    assert native.solver != light.solver
    r = open_loop_checks(native, light, episodes=32, seed=0, kinds=("random",))["random"]
    summary = {k: v for k, v in r.items() if not isinstance(v, list)}
    assert r["initial_obs_gap"] == 0.0  # the same initial states
    assert not r["identical"]  # two different simulators ...
    assert abs(r["diff"]) <= max(0.5 * abs(r["mean_native"]), 3 * r["se_diff"]), summary  # ... of the same task
    if name in BRAX_LIGHT_FAITHFUL:
        assert r["pass"], summary
