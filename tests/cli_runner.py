"""Runs many ``wgen`` invocations quickly: imports the command once, then forks a real process
per invocation (its own exit status, stdout and stderr), as the shell would start ``wgen``.

    python tests/cli_runner.py cases.json results.json

``cases.json``: ``{"cwd": ..., "watch": [folders], "cases": [[arg, ...], ...]}``. For each case
``results.json`` gets its exit status, its stderr, and the files of the watched folders that it
created, changed or removed.
"""

import json
import os
import sys
import traceback
from pathlib import Path

import lightning_wgen.fit_ot  # noqa: F401  (imported once, before the forks)
import lightning_wgen.sampling  # noqa: F401
import lightning_wgen.zoo.cli  # noqa: F401
from lightning_wgen.cli import main


def snapshot(folders: list[str]) -> dict[str, tuple[int, int]]:
    files = {}
    for folder in folders:
        for path in Path(folder).rglob("*"):
            if path.is_file() or path.is_dir():
                stat = path.stat()
                files[str(path)] = (stat.st_size if path.is_file() else -1, stat.st_mtime_ns)
    return files


def top_level() -> int:
    """What the interpreter does with the ``wgen`` script's ``main()`` (``sys.argv`` set)."""
    try:
        main()
        return 0
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        print(stop.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1


def run(args: list[str], cwd: str, out: Path, err: Path) -> int:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chdir(cwd)
            sys.argv = ["wgen", *args]
            for fd, path in ((1, out), (2, err)):
                handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(handle, fd)
                os.close(handle)
            code = top_level()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    spec = json.loads(Path(sys.argv[1]).read_text())
    logs = Path(sys.argv[2]).parent
    results = []
    for i, args in enumerate(spec["cases"]):
        before = snapshot(spec["watch"])
        out, err = logs / f"case{i}.out", logs / f"case{i}.err"
        code = run(args, spec["cwd"], out, err)
        after = snapshot(spec["watch"])
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        results.append({"args": args, "code": code, "stderr": err.read_text(), "changed": changed})
    Path(sys.argv[2]).write_text(json.dumps(results, indent=1))
