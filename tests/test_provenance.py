"""provenance.jsonl: which code trained a run, kept right across resumes, shown by the report and by evaluate."""

import json
import subprocess

from diffsr_jax.training import provenance

ROOT = __file__.rsplit("/tests/", 1)[0]


def _git_head():
    p = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else None


def test_code_revision_is_this_checkout():
    rev = provenance.code_revision()
    assert rev["revision"] == _git_head()
    assert rev["version"] and (rev["dirty"] is None) == (rev["revision"] is None)


def test_resume_keeps_the_starts_that_trained_the_checkpoint(tmp_path):
    d = str(tmp_path)
    assert provenance.read(d) == [] and provenance.trained_by(d, 100) is None
    provenance.record_start(d, 0)
    provenance.record_start(d, 300)
    provenance.record_start(d, 600)
    assert [e["from_frames"] for e in provenance.read(d)] == [0, 300, 600]
    # a resume from the checkpoint at 400 throws away what the start at 600 did
    provenance.record_start(d, 400)
    assert [e["from_frames"] for e in provenance.read(d)] == [0, 300, 400]
    assert provenance.trained_by(d, 300)["from_frames"] == 0  # the checkpoint at 300 was written before the resume
    assert provenance.trained_by(d, 500)["from_frames"] == 400
    provenance.record_start(d, 0)  # started over
    assert [e["from_frames"] for e in provenance.read(d)] == [0]


def test_revision_note_and_report_line(tmp_path):
    from experiments.report import code_line

    d = str(tmp_path)
    entry = provenance.record_start(d, 0)
    head = _git_head()
    assert provenance.revision_note(entry) is None  # the same code: evaluation reproduces the logged returns
    assert "records no code revision" in provenance.revision_note(None)
    other = dict(entry, revision="0" * 40, dirty=True)
    if head:
        note = provenance.revision_note(other)
        assert note.startswith("note: code 000000000000+dirty trained this checkpoint") and head[:12] in note
        assert provenance.short(entry) == head[:12] + ("+dirty" if entry["dirty"] else "")
    assert provenance.short({"version": "0.1.0", "revision": None}) == "version 0.1.0 (no git revision)"
    with open(tmp_path / provenance.FILENAME) as f:
        assert json.loads(f.readline())["from_frames"] == 0

    runs = [{"code": [entry]}, {"code": [entry, other]}, {"code": []}]
    line = code_line(runs)
    assert line.startswith("- Code: ") and "`000000000000+dirty` (1 run)" in line
    assert f"`{provenance.short(entry)}` (2 runs)" in line and "not recorded for 1 run " in line
