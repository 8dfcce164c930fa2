"""Train several configurations side by side on one machine (the packaged weights were made so,
on one GPU): generate the sequences they need once, with all cores, then run one ``ness train``
process per configuration, each with the same time budget, and stop them all at a deadline.

    python scripts/train_parallel.py --out runs/parallel --device cuda --budget-min 6 \\
        config/training/segsnn.yaml config/training/evsegsnn.yaml

Each run writes OUT/NAME/{log.txt, train.json, NAME.safetensors, NAME.json, best.*, last.*}.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", type=Path, nargs="+", help="ness train YAML files")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--budget-min", type=float, required=True,
                        help="time budget of each run (ness train --time-budget-min)")
    parser.add_argument("--deadline-min", type=float, default=0.0,
                        help="stop runs still going this long after the start (0: budget + 2)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes generating sequences")
    args = parser.parse_args()
    started = time.monotonic()

    from ness_ros.training.data import load_or_generate
    from ness_ros.training.trainer import TrainConfig

    configs = {path.stem: yaml.safe_load(path.read_text()) for path in args.configs}
    shapes = {(c.get("width", 346), c.get("height", 260), c.get("duration_s", 10.0))
              for c in configs.values()}
    for width, height, duration in sorted(shapes):
        seeds = sorted({s for c in configs.values() for s in c["train_seeds"] + c["val_seeds"]
                        if (c.get("width", 346), c.get("height", 260),
                            c.get("duration_s", 10.0)) == (width, height, duration)})
        common = TrainConfig(width=width, height=height, duration_s=duration,
                             data_workers=args.workers,
                             data_dir=next(iter(configs.values())).get("data_dir", ""))
        load_or_generate(seeds, common, progress=True)  # fills the cache
    print(f"sequences ready after {time.monotonic() - started:.0f} s", flush=True)

    deadline = started + 60 * (args.deadline_min or args.budget_min + 2)
    # Runs must end (and export) before the deadline: shrink their budget if generation was slow.
    budget = min(args.budget_min, (deadline - time.monotonic()) / 60 - 0.75)
    if budget <= 0:
        print("no time left for training before the deadline", flush=True)
        return 1
    print(f"training budget {budget:.2f} min per run", flush=True)
    per_run_workers = max(1, (args.workers - 1) // len(configs))
    runs = {}
    for name, path in zip(configs, args.configs, strict=True):
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "ness_ros.cli.main", "train", "--config", str(path),
                   "--device", args.device, "--time-budget-min", f"{budget:.3f}",
                   "--data-workers", str(per_run_workers), "--out-dir", str(folder),
                   "--export", str(folder / name), "--no-progress",
                   "--json", str(folder / "train.json")]
        log = (folder / "log.txt").open("w")
        log.write(" ".join(command) + "\n")
        log.flush()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        runs[name] = (subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env),
                      log)
    while any(p.poll() is None for p, _ in runs.values()) and time.monotonic() < deadline:
        time.sleep(2)
    status = 0
    for name, (process, log) in runs.items():
        if process.poll() is None:
            process.kill()
            print(f"{name}: stopped at the deadline", flush=True)
            status = 1
        process.wait()
        log.close()
        tail = (args.out / name / "log.txt").read_text().splitlines()[-4:]
        print(f"--- {name} (exit {process.returncode})\n" + "\n".join(tail), flush=True)
        status = status or int(process.returncode != 0)
    print(f"all done after {time.monotonic() - started:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
