"""On-device replay and observation normalisation."""
