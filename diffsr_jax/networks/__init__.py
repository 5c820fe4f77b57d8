"""Flax building blocks shared by every agent."""
