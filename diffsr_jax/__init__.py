"""diffsr-jax: Diffusion Spectral Representation (Diff-SR) for reinforcement learning in JAX."""

__version__ = "0.1.0"
