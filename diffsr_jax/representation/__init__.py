"""The Diff-SR representation: psi(s, a), zeta(x_noisy, level), their factorised score, its objective and the
learner that trains them."""

from diffsr_jax.representation.networks import PsiZeta, PsiNet, ZetaNet
from diffsr_jax.representation.objective import score_matching_loss
from diffsr_jax.representation.score import factorized_score

__all__ = ["PsiZeta", "PsiNet", "ZetaNet", "factorized_score", "score_matching_loss"]
