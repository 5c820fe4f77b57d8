"""Shared test helpers."""

import importlib


def preset(agent: str, name: str = "fast", **overrides):
    cfg = importlib.import_module(f"experiments.configs.{agent}").get_config(name)
    for k, v in overrides.items():
        cfg[k] = v
    return cfg
