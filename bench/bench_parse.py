"""DAG parse time as the inventory grows: dags/ parsed in a fresh process (Airflow imported first, as
the dag-processor has it) with 3, 50, 200 and 500 inventory entries (copies of card_fraud). Prints the
figures and writes them to bench/results.json under "dag_parse" (other keys are kept).

    .venv/bin/python bench/bench_parse.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from results_file import RESULTS, write_section

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
INVENTORY = REPO / "include" / "inventory"

CODE = (
    "import time, sys; import airflow.sdk; from airflow.dag_processing.dagbag import DagBag;"
    "t=time.perf_counter(); b=DagBag(dag_folder=sys.argv[1]);"
    "assert not b.import_errors, b.import_errors;"
    "print(len(b.dag_ids), time.perf_counter()-t)"
)


def inventory_of(n: int, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_policy.yaml").write_text((INVENTORY / "_policy.yaml").read_text())
    template = (INVENTORY / "card_fraud.yaml").read_text()
    for i in range(n):
        model_id = f"model_{i:04d}"
        (folder / f"{model_id}.yaml").write_text(
            template.replace("model_id: card_fraud", f"model_id: {model_id}")
        )
    return folder


def parse(inventory: Path, repeats: int = 3) -> tuple[int, float]:
    env = {**os.environ, "AIRFLOW_HOME": tempfile.mkdtemp(prefix="mrm_bench_af_"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "MRM_INVENTORY": str(inventory)}  # fmt: skip
    best = None
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", CODE, str(REPO / "dags")], env=env, capture_output=True,
                             text=True, check=True)  # fmt: skip
        dags, seconds = out.stdout.split()[-2:]
        best = min(best or float(seconds), float(seconds))
    return int(dags), best


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory(prefix="mrm_bench_inv_") as tmp:
        for n in (3, 50, 200, 500):
            folder = INVENTORY if n == 3 else inventory_of(n, Path(tmp) / str(n))
            dags, seconds = parse(folder)
            rows.append({"inventory_entries": n, "dags": dags, "parse_seconds": round(seconds, 3),
                         "ms_per_model": round(1000 * seconds / n, 2)})  # fmt: skip
            print(f"{n:>4} inventory entries -> {dags:>4} DAGs parsed in {seconds:.3f} s "
                  f"({1000 * seconds / n:.1f} ms per model; best of 3)")  # fmt: skip
    write_section("dag_parse", {"rows": rows})
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
