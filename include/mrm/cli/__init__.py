"""The ``mrm`` command. A stable contract: users and later issues script against it.

    mrm inventory validate [--inventory DIR]
    mrm inventory new --model-id ID [--inventory DIR]
    mrm inventory list [--status S] [--tier N] [--format table|csv|json] [--inventory DIR]
    mrm inventory show ID [--inventory DIR]
    mrm intake new --model-id ID --answers FILE.yaml [--inventory DIR]
    mrm intake rules [--inventory DIR]
    mrm run --model ID --date YYYY-MM-DD [--reason TEXT] [--inventory DIR]
    mrm history --model ID [--since DATE] [--until DATE] [--format table|csv|json] [--all-runs] [--kind K]
    mrm backtest --model ID --since DATE --until DATE [--reason TEXT] [--inventory DIR]
    mrm tickets [--model ID] [--status open|closed|all] [--format table|json]
    mrm tickets show ID
    mrm tickets ack ID --comment TEXT --action-date DATE [--by NAME]
    mrm tickets comment ID --comment TEXT [--by NAME]
    mrm tickets propose-close ID --reason TEXT [--cause C] [--by NAME]
    mrm tickets close ID --reason TEXT [--cause C] [--by NAME]   (RED: recorded as a proposal)
    mrm tickets accept ID --until DATE --reason TEXT [--condition TEXT ...] [--by NAME]
    mrm tickets attest --date DATE [--model ID] --comment TEXT [--by NAME]
    mrm findings [--model ID] [--status S] [--format table|json|csv]
    mrm findings add --model ID --id VAL-YYYY-NNN --severity S --due DATE --description TEXT --owner EMAIL
                     [--plan TEXT] [--evidence URI ...] [--by NAME]
    mrm findings update ID [--plan TEXT] [--due DATE] [--status S] [--evidence URI] [--comment TEXT]
    mrm findings close ID --reason TEXT [--by NAME]
    mrm findings import FILE.csv|FILE.yaml [--by NAME]
    mrm outbox [--status pending|delivered|cancelled|all] [--model ID] [--format table|json]
    mrm outbox show ITEM
    mrm outbox deliver [--model ID]
    mrm outbox cancel ITEM --reason TEXT [--by NAME]
    mrm notify daily --date YYYY-MM-DD
    mrm export [--since DATE] [--until DATE] --to URI [--format csv|json|parquet]
    mrm evidence-pack --model ID [--since DATE] [--until DATE] --out FILE.zip
    mrm baseline suggest --model ID [--inventory DIR]
    mrm audit verify [--anchor URI]
    mrm audit anchor [--to URI]
    mrm audit acts [--person P] [--model ID] [--since DATE] [--until DATE] [--format table|csv|json]
    mrm db upgrade [--owner-role NAME] [--app-role NAME] [--app-password-env VAR]
    mrm purge --before DATE [--break-glass]
    mrm demo [--days N] [--load-to URI]
    mrm airflow [--port N]

Exit codes: 0 done (a run with breaches is done, and so is one whose notifications wait in the
outbox: one warning line), 1 could not do it (one line on stderr), 2 usage (or a rerun without --reason),
141 the output's reader stopped early (``| head``: quietly, as Unix tools do).
Every problem is printed once, on one line (:mod:`mrm.cli.console`), warnings of dependencies included.

One module per command group (inventory, intake, runs, backtest, tickets, findings, outbox, audit, db,
demo); each adds its own sub-commands to the parser and maps them to their handlers in its ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import os
import sys

from mrm import settings
from mrm.cli import audit, backtest, db, demo, findings, intake, inventory, outbox, runs, tickets
from mrm.cli.console import console
from mrm.cli.outbox import OUTBOX_COLUMNS
from mrm.cli.runs import HISTORY_COLUMNS
from mrm.errors import InventoryError, MrmError

__all__ = ["COMMANDS", "HISTORY_COLUMNS", "OUTBOX_COLUMNS", "main", "parser"]

GROUPS = (inventory, intake, runs, backtest, tickets, findings, outbox, audit, db, demo)
COMMANDS = {command: handler for group in GROUPS for command, handler in group.COMMANDS.items()}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="mrm", description="Model risk monitoring: checks, history, tickets.")
    sub = root.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_parsers(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    """The command; its exit code. Output piped into a reader that stops early (``| head``) ends the
    command quietly, as other Unix tools do: exit 141 (128 + SIGPIPE), no traceback."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # what is still buffered meets the closed pipe here, not at interpreter exit
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's own final flush then finds no pipe
        return 141


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    with console() as shown:
        try:
            with settings.inventory_given(getattr(args, "inventory", None)):
                return COMMANDS[(args.command, getattr(args, "action", None))](args)
        except InventoryError as exc:
            for line in exc.lines():
                print(f"mrm: {line}", file=sys.stderr)
            return 1
        except MrmError as exc:
            shown.error(str(exc))
            return 1
        except Exception:
            if shown.reraised is None:  # not a run that could not complete: a bug, with its traceback
                raise
            shown.error(shown.reraised)  # the pipeline recorded the failed run (an unexpected error)
            return 1
