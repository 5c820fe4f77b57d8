import os

import pytest

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Keep each ``xdist_group`` on one worker (``--dist loadgroup``, setup.cfg): pytest-xdist tags a grouped test's
    id with ``@<group>`` by assigning ``Node._nodeid``, which pytest 9 no longer reads (the id is ``Node._id``), so
    the groups were spread over the workers and a module's shared fixture (a suite run, a reference run) was made
    once per worker. Tag the id here, as xdist means to; measured: test_ablations' two ~115 s setups became one."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import coerce_node_id

    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        if names and "@" not in item.nodeid:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(names)}")
