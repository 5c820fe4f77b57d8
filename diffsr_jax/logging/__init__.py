"""Run outputs: metrics.jsonl, TensorBoard events, curve.png, terminal progress."""
