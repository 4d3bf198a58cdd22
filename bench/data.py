"""Writes the lifecycle benchmark's dataset in a child process, so the bench process never
holds it: ``python -m bench.data JOB RESULT`` (by :func:`write_dataset`).

The data is ``sklearn.datasets.make_classification`` with a fixed seed: binary, 20
features, written to Parquet with a ``target`` column.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.measure import read_job, run_child, write_result

__all__ = ["FEATURES", "SEED", "write_dataset"]

FEATURES = 20
SEED = 0
_TIMEOUT = 1200.0


def write_dataset(folder: Path, rows: int) -> Path:
    """Generate the dataset into ``folder/classification.parquet`` and return its path.

    Raises:
        bench.measure.BenchError: the child failed or timed out.
    """
    path = folder / "classification.parquet"
    run_child("data", {"rows": rows, "path": str(path)}, folder=folder, timeout=_TIMEOUT)
    return path


def main(argv: list[str]) -> None:
    job, result_path = read_job(argv)
    import pandas as pd
    from sklearn.datasets import make_classification

    features, target = make_classification(
        n_samples=job["rows"],
        n_features=FEATURES,
        n_informative=10,
        n_redundant=5,
        n_classes=2,
        random_state=SEED,
    )
    frame = pd.DataFrame(features, columns=[f"x{i:02d}" for i in range(FEATURES)])
    frame["target"] = target
    frame.to_parquet(job["path"], index=False)
    write_result(result_path, {"rows": len(frame)})


if __name__ == "__main__":
    main(sys.argv[1:])
