"""The compiled training program: ``Trainer`` pieces and ``make_train``."""

from diffsr_jax.training.trainer import RunnerState, Trainer, make_train

__all__ = ["RunnerState", "Trainer", "make_train"]
