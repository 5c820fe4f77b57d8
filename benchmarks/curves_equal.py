"""Two runs of one config at two code revisions: are their learning curves the same in distribution?

    python -m benchmarks.curves_equal --before=<run dir> --after=<run dir> --name=rff_trig_curves

For a change that keeps the random stream but not every bit (a faster kernel whose last bits round differently:
chaotic training then amplifies them), seed-for-seed equality fails by design; what must hold is that the runs are
draws of the same distribution. Both runs must have the same config.json (the revisions in provenance.jsonl may
differ), so seed i of one pairs with seed i of the other; ``--may_differ=run.cpu_devices`` names fields that may
differ when that is the change (a placement: the same seeds on another device count).

Reported (experiments.stats, rliable): each run's IQM of the seeds' scores with its 95% interval (score = the mean
of the last ``--last_evals`` evaluations), P(after > before) with its interval, the paired difference of the
scores (after - before) with a 95% normal interval, and the IQM curve of each at every evaluation.

Verdict (stated before looking): ``equivalent`` when the paired difference's interval lies within
+-``--margin`` x |before's mean score|; ``not equivalent`` when it lies outside; ``undetermined`` otherwise
(more seeds needed). P(after > before) is reported beside it, not used for the verdict.
"""

from __future__ import annotations

import json
import os
import sys

from absl import flags

FLAGS = flags.FLAGS


def _run(path: str):
    import numpy as np

    from diffsr_jax.logging.writers import curves_from_rows, read_metrics
    from diffsr_jax.training import provenance

    if not all(os.path.isfile(os.path.join(path, n)) for n in ("config.json", "metrics.jsonl")):
        raise SystemExit(f"error: {path} holds no run (config.json and metrics.jsonl); pass a run directory")
    with open(os.path.join(path, "config.json")) as f:
        config = json.load(f)
    rows = [r for r in read_metrics(os.path.join(path, "metrics.jsonl")) if r.get("eval/return") is not None]
    if not rows:
        raise SystemExit(f"error: {path} has no evaluation rows in metrics.jsonl; pass a run directory that evaluated")
    steps, returns = next(iter(curves_from_rows(rows).values()))
    return config, [c.get("revision") for c in provenance.read(path)], np.asarray(steps), np.asarray(returns, float)


def _fields(config: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in config.items():
        out.update(_fields(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def compare(before: str, after: str, last_evals: int, margin: float, reps: int = 2000,
            may_differ: tuple = ()) -> dict:
    """The statistics of the module docstring for two run directories (``reps`` bootstrap resamples); the config
    fields in ``may_differ`` (``group.field``) may differ, ``run.logdir`` always may."""
    import numpy as np

    from experiments.stats import improvement, interval, iqm, iqm_curve, paired

    cfg_b, rev_b, steps_b, ret_b = _run(before)
    cfg_a, rev_a, steps_a, ret_a = _run(after)
    fb, fa = _fields(cfg_b), _fields(cfg_a)
    differ = sorted(k for k in set(fb) | set(fa) if fb.get(k) != fa.get(k))
    unexpected = [k for k in differ if k not in ("run.logdir", *may_differ)]
    if unexpected:
        raise SystemExit(f"error: the two runs' config.json differ (in {', '.join(unexpected)}); compare runs of one "
                         "config, or name the fields the change is about with --may_differ")
    if ret_b.shape != ret_a.shape or not np.array_equal(steps_b, steps_a):
        raise SystemExit(f"error: the runs evaluated at different frames or seeds ({ret_b.shape} vs {ret_a.shape}); "
                         "let both finish")
    score_b, score_a = ret_b[:, -last_evals:].mean(1), ret_a[:, -last_evals:].mean(1)
    diff = paired(score_b, score_a, scale=float(score_b.mean()), margin=margin)
    p, p_lo, p_hi = improvement(score_a, score_b, reps=reps)
    curve_b, curve_a = iqm_curve(ret_b, reps=reps), iqm_curve(ret_a, reps=reps)
    return {"before": before, "after": after, "revisions": {"before": rev_b, "after": rev_a}, "seeds": diff["n"],
            "config_differs": {k: [fb.get(k), fa.get(k)] for k in differ if k != "run.logdir"},
            "frames": steps_b.tolist(), "last_evals": last_evals, "margin": margin,
            "score_before": score_b.tolist(), "score_after": score_a.tolist(), "reps": reps,
            "iqm_before": [iqm(score_b), *interval(score_b, reps=reps)],
            "iqm_after": [iqm(score_a), *interval(score_a, reps=reps)],
            "p_after_above_before": [p, p_lo, p_hi], "paired_diff": diff["diff"], "paired_ci95": diff["ci95"],
            "margin_abs": diff["margin"], "verdict": diff["verdict"],
            "seeds_identical": int(sum(np.array_equal(a, b) for a, b in zip(ret_a, ret_b))),
            "iqm_curve_before": [c.tolist() for c in curve_b], "iqm_curve_after": [c.tolist() for c in curve_a]}


def main(argv):
    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments: {' '.join(argv[1:])}")
    if not (FLAGS.before and FLAGS.after):
        raise SystemExit("error: pass --before=<run dir> and --after=<run dir>")
    from benchmarks.common import machine, write_results

    r = compare(FLAGS.before, FLAGS.after, FLAGS.last_evals, FLAGS.margin, may_differ=tuple(FLAGS.may_differ))
    f = lambda x: f"{x[0]:.1f} [{x[1]:.1f}, {x[2]:.1f}]"  # noqa: E731
    row = [r["seeds"], f(r["iqm_before"]), f(r["iqm_after"]), f"{r['p_after_above_before'][0]:.2f} "
           f"[{r['p_after_above_before'][1]:.2f}, {r['p_after_above_before'][2]:.2f}]",
           f"{r['paired_diff']:.1f} [{r['paired_ci95'][0]:.1f}, {r['paired_ci95'][1]:.1f}]",
           f"+-{r['margin_abs']:.1f}", r["verdict"], r["seeds_identical"]]
    curve = ["| frames | IQM before [95% CI] | IQM after [95% CI] |", "|---|---|---|"]
    for i, fr in enumerate(r["frames"]):
        b, a = (r[k] for k in ("iqm_curve_before", "iqm_curve_after"))
        curve.append(f"| {fr:,} | {b[0][i]:.1f} [{b[1][i]:.1f}, {b[2][i]:.1f}] | {a[0][i]:.1f} [{a[1][i]:.1f}, "
                     f"{a[2][i]:.1f}] |")
    md = write_results(FLAGS.name, {"machine": machine(), "command": " ".join(sys.argv), **r}, [row],
                       ["seeds", "IQM before [95% CI]", "IQM after [95% CI]", "P(after > before)",
                        "paired diff [95% CI]", "margin", "verdict", "seeds bit-identical"], FLAGS.out,
                       extra_md=f"\nrevisions: {r['revisions']}\n\nconfig differs: {r['config_differs']}\n\n"
                       + "\n".join(curve) + "\n")
    print(md)


def define_flags():
    flags.DEFINE_string("before", None, "run directory at the revision before the change")
    flags.DEFINE_string("after", None, "run directory of the same config at the revision after it")
    flags.DEFINE_list("may_differ", [], "config fields (group.field) that may differ between the runs")
    flags.DEFINE_integer("last_evals", 3, "a seed's score: the mean of its last this many evaluations")
    flags.DEFINE_float("margin", 0.1, "equivalence margin, a fraction of |before's mean score|")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")
    flags.DEFINE_string("name", "curves_equal", "output file name")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
