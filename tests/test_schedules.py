import math

import numpy as np
import pytest
from scipy import stats

from diffsr_jax.diffusion import SCHEDULE_KINDS, make_schedule


def test_vp_matches_spec_range():
    s = make_schedule("vp", 50)
    ab = np.asarray(s.alpha_bar)
    assert ab.shape == (50,)
    assert ab[0] == pytest.approx(0.996, abs=5e-4)
    assert ab[-1] == pytest.approx(0.0064, abs=2e-4)
    # closed form: alpha_bar_t = exp(-sum_{i<=t} (b_min/T + 0.5 (b_max - b_min)(2i - 1)/T^2))
    t = np.arange(1, 51)
    expected = np.exp(-(0.1 * t / 50 + 0.5 * 9.9 * t**2 / 50**2))
    np.testing.assert_allclose(ab, expected, rtol=1e-5)


def test_beta_cdf_matches_spec_range():
    s = make_schedule("beta_cdf", 1000)
    ab = np.asarray(s.alpha_bar)
    assert ab.max() == pytest.approx(0.967, abs=1e-3)
    assert ab.min() == pytest.approx(0.391, abs=1e-3)
    raw = 1.0 - stats.beta.cdf(np.linspace(0, 1, 1000), 0.3, 0.1)
    np.testing.assert_allclose(ab, np.clip(raw, raw[998], raw[1]), atol=2e-5)


def test_linear_matches_textbook():
    s = make_schedule("linear", 1000)
    beta = np.linspace(1e-4, 0.02, 1000)
    np.testing.assert_allclose(np.asarray(s.beta), beta, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(s.alpha_bar), np.cumprod(1 - beta), rtol=1e-4)


def test_cosine_matches_textbook():
    T, sh = 1000, 0.008
    s = make_schedule("cosine", T)
    f = lambda t: math.cos((t / T + sh) / (1 + sh) * math.pi / 2) ** 2  # noqa: E731
    expected = np.array([f(t) / f(0) for t in range(1, T + 1)])
    # identical wherever the 0.999 clip on beta is inactive (all but the last levels)
    np.testing.assert_allclose(np.asarray(s.alpha_bar)[:-5], expected[:-5], rtol=1e-3, atol=1e-7)


@pytest.mark.parametrize("kind,n", [(k, 1000 if k == "beta_cdf" else 50) for k in SCHEDULE_KINDS])
def test_monotone_and_consistent(kind, n):
    s = make_schedule(kind, n)
    ab, beta = np.asarray(s.alpha_bar, np.float64), np.asarray(s.beta, np.float64)
    assert np.all(np.diff(ab) <= 1e-7), "alpha_bar must not increase with the level"
    assert np.all((ab > 0) & (ab < 1))
    assert np.all((beta >= 0) & (beta < 1))
    np.testing.assert_allclose(np.cumprod(1 - beta), ab, rtol=1e-4)


def test_unknown_schedule_names_the_choices():
    with pytest.raises(ValueError, match="vp, linear, cosine, beta_cdf, sigmoid"):
        make_schedule("quadratic", 10)


def test_sigmoid_schedule_is_symmetric_about_half_noise():
    """start = -end: the middle level (t = 1/2) has alpha_bar = 1/2 exactly, and levels t and 1 - t mirror:
    alpha_bar(t) + alpha_bar(1 - t) = 1 (away from the clipped ends)."""
    s = np.asarray(make_schedule("sigmoid", 100).alpha_bar, np.float64)
    assert abs(s[49] - 0.5) < 1e-6  # t = 50/100
    np.testing.assert_allclose(s[9] + s[89], 1.0, atol=1e-5)  # t = 0.1 and 0.9
    assert s[0] > 0.99 and s[-1] < 1e-4
