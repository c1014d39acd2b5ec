"""Arguments more than one command group takes: dates, ``--inventory DIR``, ``--by NAME``."""

from __future__ import annotations

import argparse
from datetime import date


def iso_date(text: str) -> date:
    """An argparse ``type``: YYYY-MM-DD, or a usage error saying so."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def inventory_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--inventory", metavar="DIR", help="inventory folder (default: $MRM_INVENTORY or include/inventory)"
    )


def who(by: str | None) -> str:
    """Who acts: the OS user of the process (its real uid, not LOGNAME), marked as not authenticated by
    Airflow; ``--by NAME`` is only kept after it as "on behalf of NAME" (see mrm.wiring.cli_trigger)."""
    from mrm import wiring

    return wiring.cli_trigger(by)
