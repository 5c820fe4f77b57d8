"""What every launcher shares: bad input is one line on stderr and a non-zero exit, never a usage dump."""

from __future__ import annotations

import sys

from absl import app, flags


def fail(message: str, code: int = 2):
    """One clear line on stderr and exit ``code``. In a run over several processes the message is left for the
    others (they stop with it) and the process ends at once (``processes.exit_now``)."""
    sys.stderr.write(f"error: {message}\n")
    processes = sys.modules.get("diffsr_jax.training.processes")  # imported only once a run has devices
    if processes is not None and processes.joined():
        processes.publish_error(message)
        processes.exit_now(code)
    sys.exit(code)


def run_main(main):
    """Every command's entry point: absl's ``app.run`` with ``parse_flags``, and a ``ConfigError`` (the project's
    error for input a user can fix) raised anywhere in ``main`` reported as one line, exit code 2."""

    def guarded(argv):
        from diffsr_jax.fields import ConfigError

        try:
            return main(argv)
        except ConfigError as e:
            fail(str(e))

    app.run(guarded, flags_parser=parse_flags)


def define_int_list(name: str, default: list, help_text: str) -> None:
    """A comma-separated list flag of integers >= 1 (``--sizes=32,48``), refused in one line otherwise."""
    flags.DEFINE_list(name, [str(v) for v in default], help_text)
    flags.register_validator(name, lambda vs: all(v.isdigit() and int(v) >= 1 for v in vs),
                             message=f"--{name} takes integers >= 1 separated by commas, e.g. "
                                     f"{','.join(map(str, default))}")


def define_process_flags():
    """Flags of a run over several processes (jax.distributed); the defaults run one process."""
    flags.DEFINE_integer("num_processes", 1, "processes of a run over several processes or machines (jax.distributed);"
                         " start each with the same command and its own --process_id")
    flags.DEFINE_integer("process_id", None, "this process's index in a run over several processes (0 writes the "
                         "outputs)")
    flags.DEFINE_string("coordinator", None, "host:port where process 0 listens, the same for every process of the run")
    flags.DEFINE_bool("distributed", False, "join a run over several processes from the cluster's environment "
                      "(SLURM, Open MPI, Cloud TPU), instead of --num_processes/--process_id/--coordinator")


def process_spec():
    """The ProcessSpec the process flags describe."""
    from diffsr_jax.training.processes import ProcessSpec

    f = flags.FLAGS
    return ProcessSpec(f.coordinator, f.num_processes, f.process_id, f.distributed)


def _last_line(e: BaseException | None) -> str:
    """The last non-empty line of an exception's message (config-file errors carry a whole traceback)."""
    lines = [x.strip() for x in str(e).splitlines() if x.strip()] if e is not None else []
    return lines[-1] if lines else ""


def unknown_field_message(argv, error) -> str:
    """One line for a ``--config.<group>.<field>`` override of a field that does not exist, naming the right one
    (``diffsr_jax.config.unknown_field_message``: where an old name lives now, or the fields the group has)."""
    from diffsr_jax.config import default_config
    from diffsr_jax.config import unknown_field_message as message

    known = default_config()

    def exists(path: str) -> bool:
        group, _, key = path.partition(".")
        return group in known and (not key or key.split(".")[0] in known[group])

    paths = [a.split("=", 1)[0][len("--config."):] for a in argv if a.startswith("--config.")]
    bad = next((p for p in paths if not exists(p)), str(error).splitlines()[0].strip("\"'\\ "))
    return f"--config.{bad}: {message(bad)}"


def parse_flags(argv):
    """absl's parser, but a bad flag is one line on stderr (no usage dump) and exit code 2. A ``--config`` file
    that does not load (missing, unknown preset, an error inside it) is reported the same way."""
    given = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
    try:
        rest = flags.FLAGS(argv)
    except (AttributeError, KeyError) as e:  # --config.<name>=... with a name the config does not have
        if given is not None and "get_config" in str(e):
            fail(f"--config={given}: the file defines no get_config(); pass a preset file such as "
                 "experiments/configs/sac.py:paper")
        fail(unknown_field_message(argv, e))
    except flags.Error as e:
        detail = _last_line(e.__context__) if "Error whilst parsing config file" in str(e) else ""
        fail(f"{str(e).splitlines()[0]}{' ' + detail if detail else ''} (see --helpshort)")
    except Exception as e:  # noqa: BLE001 - a --config file that raises while it loads (a typo in it) is user input
        if given is None:
            raise
        fail(f"--config={given}: could not load it ({type(e).__name__}: {_last_line(e)}); pass a preset file such "
             "as experiments/configs/sac.py:paper")
    if "config" in flags.FLAGS:
        try:
            flags.FLAGS.config.keys()  # a file that failed to load raises on first attribute access
        except Exception as e:  # noqa: BLE001 - any failure to load the file is the user's input
            given = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), "")
            fail(f"--config={given}: could not load it ({_last_line(e.__cause__ or e)}); pass a preset file such as "
                 "experiments/configs/sac.py:paper")
    return rest
