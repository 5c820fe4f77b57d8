"""Toy systems with closed-form answers, for tests and demos."""
