"""The compiled program: one seed's training as pure JAX (``trainer.Trainer``: init, the chunk of iterations with its
evaluation and diagnostics; ``make_train``: the whole run as one function), and the guard against its retracing
(``retrace``). No file, no clock, no process: the host side is ``diffsr_jax.training``."""

from diffsr_jax.program.trainer import RunnerState, Trainer, make_train

__all__ = ["RunnerState", "Trainer", "make_train"]
