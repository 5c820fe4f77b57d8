"""The MuJoCo solver setting ``config.env.physics`` (native | light | i<N>ls<M>[_nodamp] | auto;
``diffsr_jax.envs.physics``): what each builds, where the settings are refused, how old runs read back, the
statistics of ``benchmarks/physics_settings.py`` and the faithfulness check of light on brax/halfcheetah
(``benchmarks/physics_faithfulness.py``, its tolerance, on a short fixed action sequence)."""

import dataclasses

import jax
import numpy as np
import pytest

from diffsr_jax.config import ConfigError, stored_config, validate_config
from diffsr_jax.envs import ENV_FAMILIES, make_env
from diffsr_jax.envs.families import resolve_physics
from diffsr_jax.envs.physics import SETTINGS
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
    # auto is what resolve_physics says, and builds what that setting names
    auto = make_env("brax/hopper", physics="auto")
    expected = resolve_physics("brax/hopper", "mjx", "auto")
    assert auto.physics == expected
    assert auto.solver == (BRAX_NATIVE if expected == "native" else SETTINGS[expected].as_dict())


@pytest.mark.parametrize("env,physics,expected", [
    ("brax/hopper", "i4ls4", (4, 4, True)), ("brax/hopper", "i2ls8_nodamp", (2, 8, False)),
    ("brax/halfcheetah", "i1ls50", (1, 50, True)),
    ("brax/ant", "i4ls4", (4, 4, True)),  # Brax builds ant without Euler damping: the setting turns it on
    ("mbbl/halfcheetah", "i2ls8", (2, 8, True)),  # MBBL steps the Brax env's system: it carries the setting
])
def test_named_settings_are_the_stepped_models_options(env, physics, expected):
    """Each named setting sets exactly its three fields on the model the env steps, read back from it."""
    from diffsr_jax.envs.physics import solver_options

    e = make_env(env, physics=physics)
    want = dict(zip(("iterations", "ls_iterations", "euler_damping"), expected))
    assert e.physics == physics and e.solver == want
    assert solver_options(e.backend_env.sys.opt) == want  # the System the Brax env reads at every step
    native = make_env(env, physics="native")
    for field in ("timestep", "solver", "cone", "tolerance", "ls_tolerance"):  # numbers or MuJoCo enums
        assert np.array_equal(np.asarray(getattr(native.system.opt, field)),
                              np.asarray(getattr(e.system.opt, field))), field
    other = int(native.system.opt.disableflags) ^ int(e.system.opt.disableflags)
    import mujoco

    assert other & ~int(mujoco.mjtDisableBit.mjDSBL_EULERDAMP) == 0  # no other disable flag changed


def test_setting_names():
    """The named settings: i<N>ls<M> (damping on) and i<N>ls<M>_nodamp for each listed N and M; light is
    i1ls4_nodamp; every name is a valid config value."""
    from diffsr_jax.envs.physics import ITERATIONS, LS_ITERATIONS, PHYSICS, setting_name

    assert SETTINGS["light"] == SETTINGS["i1ls4_nodamp"]
    assert SETTINGS["i4ls50"].as_dict() == BRAX_NATIVE  # Brax's native halfcheetah/hopper/walker2d, named
    assert len(SETTINGS) == 1 + 2 * len(ITERATIONS) * len(LS_ITERATIONS)
    assert setting_name(2, 8, False) == "i2ls8_nodamp" and set(PHYSICS) == {"auto", "native", *SETTINGS}
    for name in PHYSICS:
        c = load_preset("sac", "fast")
        c.env.name, c.env.physics = "brax/hopper", name
        validate_config(c)


@pytest.mark.parametrize("bad", ["i3ls4", "fast", "I4LS4"])
def test_bad_setting_name_is_a_one_line_error_listing_the_choices(bad):
    from diffsr_jax.envs.physics import PHYSICS

    c = load_preset("sac", "fast")
    c.env.name, c.env.physics = "brax/hopper", bad
    for call in (lambda: validate_config(c), lambda: make_env("brax/hopper", physics=bad),
                 lambda: resolve_physics("brax/hopper", "mjx", bad)):
        with pytest.raises(ConfigError) as e:
            call()
        msg = str(e.value)
        assert "\n" not in msg and msg.startswith("config.env.physics") and repr(bad) in msg
        assert all(name in msg for name in PHYSICS)


@pytest.mark.parametrize("env,backend,physics", [
    ("brax/hopper", "spring", "i4ls4"), ("brax/hopper", "positional", "light"), ("mbbl/hopper_et", "spring", "i2ls8"),
    ("gymnax/Pendulum-v1", "", "i4ls4_nodamp"),
])
def test_named_setting_where_it_does_not_apply_is_a_one_line_error(env, backend, physics):
    """Every solver setting (light and the i<N>ls<M> names alike) is refused where MuJoCo's solver does not run: by
    the config check before anything is built, and by make_env for Brax's other backends."""
    c = load_preset("sac", "fast")
    c.env.name, c.env.backend, c.env.physics = env, backend, physics
    with pytest.raises(ConfigError) as e:
        validate_config(c)
    msg = str(e.value)
    assert "\n" not in msg and f"physics={physics}" in msg and "use native or auto" in msg
    if env.startswith("brax/"):
        with pytest.raises(ConfigError) as e:
            make_env(env, backend=backend, physics=physics)
        assert "\n" not in str(e.value) and physics in str(e.value) and backend in str(e.value)
    assert resolve_physics(env, backend, "auto") == "native"
    c.env.physics = "native"
    validate_config(c)


def test_auto_builds_the_listed_setting_per_env():
    """``physics=auto`` on each Brax and MBBL env listed in ``BRAX_AUTO_PHYSICS`` / ``MBBL_AUTO_PHYSICS`` steps the
    listed setting (docs/physics.md has the evidence); unlisted envs (ant, ant_et) run native."""
    from diffsr_jax.envs.families import BRAX_AUTO_PHYSICS, MBBL_AUTO_PHYSICS

    assert MBBL_AUTO_PHYSICS == {"halfcheetah": "i4ls4", "hopper_et": "i4ls4", "walker_et": "i4ls4"}
    for family, listed in (("brax", BRAX_AUTO_PHYSICS), ("mbbl", MBBL_AUTO_PHYSICS)):
        for name, setting in listed.items():
            assert setting in SETTINGS
            env = make_env(f"{family}/{name}", physics="auto")
            assert env.physics == setting and env.solver == SETTINGS[setting].as_dict(), name
    assert resolve_physics("brax/ant", "mjx", "auto") == "native"
    assert resolve_physics("mbbl/ant_et", "mjx", "auto") == "native"


def test_auto_resolves_per_family_list(monkeypatch):
    brax = ENV_FAMILIES["brax"]
    monkeypatch.setitem(ENV_FAMILIES, "brax", dataclasses.replace(brax, auto_physics={"hopper": "i2ls8"}))
    assert resolve_physics("brax/hopper", "mjx", "auto") == "i2ls8"
    assert make_env("brax/hopper", physics="auto").solver == SETTINGS["i2ls8"].as_dict()
    assert resolve_physics("brax/walker2d", "mjx", "auto") == "native"  # not listed
    assert resolve_physics("brax/hopper", "spring", "auto") == "native"  # the settings do not apply off mjx
    assert resolve_physics("brax/hopper", "mjx", "native") == "native"  # an explicit setting is kept
    assert resolve_physics("brax/hopper", "mjx", "light") == "light"
    monkeypatch.setitem(ENV_FAMILIES, "brax", dataclasses.replace(brax, auto_physics={}))
    assert resolve_physics("brax/hopper", "mjx", "auto") == "native"
    assert resolve_physics("gymnax/Pendulum-v1", "mjx", "auto") == "native"
    assert resolve_physics("playground/CartpoleSwingup", "mjx", "auto") == "native"  # no playground env listed


def test_playground_physics_sets_the_stepped_mjx_model():
    from mujoco_playground import registry

    own = _solver_of(registry.load("CartpoleSwingup", config_overrides={"impl": "jax"}).mj_model.opt)
    native = make_env("playground/CartpoleSwingup", physics="native")
    light = make_env("playground/CartpoleSwingup", physics="light")
    named = make_env("playground/CartpoleSwingup", physics="i2ls8_nodamp")
    assert native.solver == own and native.physics == "native"
    assert light.solver == LIGHT and light.physics == "light"
    assert named.solver == SETTINGS["i2ls8_nodamp"].as_dict() and named.physics == "i2ls8_nodamp"
    # the MJX model the env steps carries them too, not only the MuJoCo model
    assert _solver_of(native.mjx_model.opt) == own
    assert _solver_of(light.mjx_model.opt) == LIGHT
    assert _solver_of(named.mjx_model.opt) == SETTINGS["i2ls8_nodamp"].as_dict()


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


def test_settings_equivalence_rule():
    """benchmarks/physics_settings.py: equivalent when the 95% interval of the paired difference lies inside the
    margin, not equivalent when entirely outside it, undetermined otherwise; a setting is equivalent only when its
    return and every reward part are."""
    from benchmarks.physics_settings import combine, paired

    rng = np.random.default_rng(0)
    native = 1000.0 + 10.0 * rng.standard_normal(128)
    close = paired(native, native + 5.0 + rng.standard_normal(128), 1000.0, 0.05)  # +0.5%, tight
    assert close["verdict"] == "equivalent" and close["ci95"][0] < 5.0 < close["ci95"][1]
    far = paired(native, native + 100.0 + rng.standard_normal(128), 1000.0, 0.05)  # +10%, tight
    assert far["verdict"] == "not equivalent"
    wide = paired(native, native + 40.0 + 300.0 * rng.standard_normal(128), 1000.0, 0.05)  # +4%, but +-300 noise
    assert wide["verdict"] == "undetermined"
    assert paired(native, native, 1000.0, 0.05)["identical"]
    blown = native.copy()
    blown[3] = np.nan  # one episode whose simulation blew up: not equivalent, whatever the others say
    nan = paired(native, blown, 1000.0, 0.05)
    assert nan["verdict"] == "not equivalent" and nan["nonfinite"] == 1 and nan["n"] == 127
    assert combine(["equivalent", "equivalent"]) == "equivalent"
    assert combine(["equivalent", "undetermined"]) == "undetermined"
    assert combine(["undetermined", "not equivalent"]) == "not equivalent"


@pytest.mark.parametrize("name", ["halfcheetah"])
def test_fixed_action_check(name):
    """The benchmark's fixed-action check on Brax MJX, short (32 episodes of at most 200 frames of uniform random
    actions, the same initial states and actions under both settings), judged by its tolerance: |D| <= max(10% of
    the native mean, 2 standard errors of the paired difference).

    An env whose ``physics=auto`` is light (``BRAX_AUTO_PHYSICS``) must pass it; none is (ant's native setting is
    light's already). halfcheetah is not listed: over 1000 frames light's returns are ~16% higher (208 episodes, 12-21% at 95%; the benchmark's
    16-episode check fails at +24%), which needs ~200 long episodes to show reliably, more than a test. For it this
    test asserts only what any two simulators of the same task must meet: the returns agree to 50% of the native mean
    or 3 standard errors (a light setting that did not apply, or blew up, fails)."""
    from benchmarks.physics_faithfulness import env_pair, open_loop_checks
    from diffsr_jax.envs.families import BRAX_AUTO_PHYSICS

    native, light = env_pair(f"brax/{name}", episode_length=200)
    assert native.solver != light.solver
    r = open_loop_checks(native, light, episodes=32, seed=0, kinds=("random",))["random"]
    summary = {k: v for k, v in r.items() if not isinstance(v, list)}
    assert r["initial_obs_gap"] == 0.0  # the same initial states
    assert not r["identical"]  # two different simulators ...
    assert abs(r["diff"]) <= max(0.5 * abs(r["mean_native"]), 3 * r["se_diff"]), summary  # ... of the same task
    if BRAX_AUTO_PHYSICS.get(name) == "light":
        assert r["pass"], summary
