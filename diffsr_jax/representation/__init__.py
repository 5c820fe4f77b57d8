"""The Diff-SR representation: psi(s, a), zeta(x_noisy, level), their factorised score and its objective."""

from diffsr_jax.representation.networks import DiffusionRepresentation, PsiNet, ZetaNet
from diffsr_jax.representation.objective import per_level_losses, representation_loss
from diffsr_jax.representation.score import factorized_score

__all__ = [
    "DiffusionRepresentation",
    "PsiNet",
    "ZetaNet",
    "factorized_score",
    "per_level_losses",
    "representation_loss",
]
