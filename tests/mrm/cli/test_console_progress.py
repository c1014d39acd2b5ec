"""Long steps say what they are doing on a terminal, and nothing on a pipe: ``mrm run`` in a subprocess
whose stderr is a real pseudo-terminal shows the reference profile and the reference counts being built
(once: the second run finds both kept), and the same run with stderr on a pipe prints no progress."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from mrm.demo.data import day

PROGRESS = ("building the reference profile", "reference profile built in", "reference counts built in")


def run(env: dict, *, terminal: bool, date=day(30)) -> tuple[int, str, str]:
    argv = [sys.executable, "-m", "mrm.cli", "run", "--model", "card_fraud", "--date", str(date)]
    if not terminal:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
        return proc.returncode, proc.stdout, proc.stderr
    primary, secondary = pty.openpty()
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=secondary, text=True) as proc:
        os.close(secondary)
        chunks = []
        while True:
            try:
                data = os.read(primary, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not data:
                break
            chunks.append(data.decode(errors="replace"))
        out = proc.stdout.read()
        code = proc.wait(timeout=600)
    os.close(primary)
    return code, out, "".join(chunks)


def test_a_terminal_sees_the_reference_being_built_once_and_a_pipe_sees_none(mrm_home, file_inventory):
    env = {**os.environ, "MRM_HOME": str(mrm_home), "MRM_INVENTORY": str(file_inventory)}
    code, out, err = run(env, terminal=True)
    assert code == 0, err
    assert "card_fraud 2026-" in out  # the run's own line, on stdout
    for text in PROGRESS:
        assert text in err, err
    assert "joining the reference window" in err

    code, _, again = run(env, terminal=True, date=day(31))  # both kept now: nothing to build, nothing said
    assert code == 0 and not any(text in again for text in PROGRESS), again

    env["MRM_HOME"] = str(mrm_home / "other")  # a fresh history: built again, but stderr is a pipe
    code, _, piped = run(env, terminal=False)
    assert code == 0 and not any(text in piped for text in PROGRESS), piped
