"""Reading through mlcore.data against plain pyarrow, and fingerprinting against sha256sum.

    python bench/data_read.py [--size-gb 1.1] [--repeat 5] [--dir /tmp]

Writes a Parquet file of random float64 columns (incompressible: the file is as large as the
data) into a temporary folder, then, alternating so both see the same page cache:
- `pyarrow.parquet.read_table(path)` against `mlcore.data.load(name, to="arrow")` of a catalog
  entry for the same file (unpinned), and `load` of a pinned entry (checksum verified first);
- `mlcore.data.fingerprint` (sha256 of the bytes, streamed) against `sha256sum` on the file.
Prints the median of each in GB/s (1 GB = 1e9 bytes of the file) and the ratios. The file is read
from the page cache after the first pass (24 GB RAM here): this measures decoding, not the disk.
Results go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COLUMNS = 8
ROWS_PER_GROUP = 1 << 20


def write_parquet(path: Path, size_bytes: float) -> None:
    """Random float64 columns in row groups of a million rows, until the data reaches the size."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    groups = max(1, round(size_bytes / (ROWS_PER_GROUP * COLUMNS * 8)))
    schema = pa.schema([(f"c{i}", pa.float64()) for i in range(COLUMNS)])
    with pq.ParquetWriter(path, schema, compression="snappy") as writer:
        for _ in range(groups):
            columns = [pa.array(rng.standard_normal(ROWS_PER_GROUP)) for _ in range(COLUMNS)]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - start
    del result
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gb", type=float, default=1.1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default=None, help="where the temporary file goes")
    args = parser.parse_args()

    import pyarrow.parquet as pq

    from mlcore import data
    from mlcore.data.fingerprint import forget

    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = Path(folder) / "bench.parquet"
        print(f"writing {args.size_gb:.2f} GB of Parquet to {path} ...", flush=True)
        write_parquet(path, args.size_gb * 1e9)
        size = path.stat().st_size
        digest = subprocess.run(["sha256sum", path], capture_output=True, text=True, check=True)
        checksum = digest.stdout.split()[0]
        catalog = data.Catalog.from_dict(
            {
                "datasets": {
                    "bench": {"uri": str(path)},
                    "pinned": {"uri": str(path), "checksum": checksum},
                }
            }
        )
        rows = pq.read_metadata(path).num_rows
        print(f"file: {size / 1e9:.3f} GB, {rows:,} rows x {COLUMNS} float64 columns")

        def pinned() -> object:
            forget(path)  # no digest remembered from an earlier pass: hash the bytes again
            return data.load("pinned", "arrow", catalog=catalog)

        def fingerprint() -> str:
            forget(path)
            return data.fingerprint("bench", catalog=catalog)

        def sha256sum() -> str:
            out = subprocess.run(["sha256sum", path], capture_output=True, text=True, check=True)
            return out.stdout.split()[0]

        assert fingerprint() == sha256sum() == checksum
        assert data.load("bench", "arrow", catalog=catalog).equals(pq.read_table(path))
        cases: dict[str, Callable[[], object]] = {
            "pyarrow.parquet.read_table": lambda: pq.read_table(path),
            "mlcore.data.load(to='arrow')": lambda: data.load("bench", "arrow", catalog=catalog),
            "mlcore.data.load, pinned (verify + read)": pinned,
            "sha256sum": sha256sum,
            "mlcore.data.fingerprint": fingerprint,
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeat):  # alternate, so that drift hits every case alike
            for name, action in cases.items():
                times[name].append(timed(action))

    throughput = {name: size / statistics.median(found) / 1e9 for name, found in times.items()}
    print(f"\nmedian of {args.repeat} on {os.cpu_count()} CPUs (GB/s of file bytes):")
    width = max(map(len, throughput))
    for name, value in throughput.items():
        print(f"  {name:<{width}}  {value:6.3f} GB/s  ({statistics.median(times[name]):.3f} s)")
    read_ratio = (
        throughput["mlcore.data.load(to='arrow')"] / throughput["pyarrow.parquet.read_table"]
    )
    verified_ratio = (
        throughput["mlcore.data.load, pinned (verify + read)"]
        / throughput["pyarrow.parquet.read_table"]
    )
    hash_ratio = throughput["mlcore.data.fingerprint"] / throughput["sha256sum"]
    print(f"\nmlcore load / pyarrow:           {read_ratio:.3f} (target >= 0.9)")
    print(f"mlcore pinned load / pyarrow:    {verified_ratio:.3f}")
    print(f"mlcore fingerprint / sha256sum:  {hash_ratio:.3f}")


if __name__ == "__main__":
    main()
