"""``mrm demo`` and ``mrm airflow``: the example models through real Airflow DAGs on this machine."""

from __future__ import annotations


def add_parsers(sub) -> None:
    demo = sub.add_parser("demo", help="monitor 3 example models for 60 days through real Airflow DAGs")
    demo.add_argument("--days", type=int, default=60)
    demo.add_argument(
        "--workers", type=int, default=None, metavar="N",
        help="1: run every model-day in this process, one after another (default: one process per model)",
    )  # fmt: skip
    demo.add_argument(
        "--load-to", metavar="URI", help="only write the demo data under URI (e.g. s3://mrm-demo) and exit"
    )

    af = sub.add_parser("airflow", help="airflow standalone on this repo's DAGs and the demo's history")
    af.add_argument("--port", type=int, default=8080)


def cmd_demo(args) -> int:
    if args.load_to:
        from mrm.demo.data import load_to

        print(load_to(args.load_to, days=args.days))
        return 0
    from mrm.demo.runner import run_demo

    return run_demo(days=args.days, workers=args.workers)


def cmd_airflow(args) -> int:
    from mrm.demo.standalone import run_standalone

    return run_standalone(args.port)


COMMANDS = {
    ("demo", None): cmd_demo,
    ("airflow", None): cmd_airflow,
}
