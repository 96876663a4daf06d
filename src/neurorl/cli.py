"""The ``neurorl`` command: list, train, eval, plot, compare, sweep, reproduce, worm, export."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from neurorl.distributed.ray_runs import Cluster
from neurorl.envs.worm import validate as worm_validate
from neurorl.errors import NeurorlError, os_error_line

if TYPE_CHECKING:
    from neurorl.experiments.runner import Run


class OneLineParser(argparse.ArgumentParser):
    """argparse with a one-line error, named after the program (not the subcommand), and exit
    code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        program = self.prog.split()[0]
        print(f"{program}: error: {message} (see '{program} --help')", file=sys.stderr)
        sys.exit(2)


def _add_set_option(parser: argparse.ArgumentParser, metavar: str, help_text: str) -> None:
    """``--set KEY=VALUE`` (repeatable) into ``args.overrides``."""
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar=metavar, help=help_text
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="neurorl",
        description="Spiking and brain-inspired agents trained with RL and evolution.",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: these networks are small, and a thread that waits "
        "for a busy core stalls every operation)",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    commands.add_parser("list", help="the experiments, one line each")

    train = commands.add_parser(
        "train", help="train an experiment (default: the default experiment)"
    )
    train.add_argument("name", nargs="?", help="experiment name (see 'neurorl list')")
    train.add_argument("--seed", type=int, help="training seed (config key 'seed')")
    train.add_argument(
        "--seeds",
        type=int,
        metavar="K",
        help="train seeds SEED..SEED+K-1 as one batch, a run folder each (experiments that "
        "have a batch of seeds: cartpole-snn-stdprl*)",
    )
    _add_set_option(train, "KEY=VALUE", "override a config key, e.g. es.population=32")
    train.add_argument(
        "--out",
        type=Path,
        default=Path("runs"),
        help="parent folder of run folders (default: runs)",
    )
    train.add_argument("--device", help="torch device, e.g. cpu or cuda")
    train.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue an interrupted run from its latest checkpoint",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    evaluate = commands.add_parser(
        "eval", help="evaluate a run's best checkpoint; writes results.json"
    )
    evaluate.add_argument("run_dir", type=Path)
    evaluate.add_argument("--episodes", type=int)
    evaluate.add_argument("--env-seed", type=int)

    plot = commands.add_parser("plot", help="regenerate a run's plots")
    plot.add_argument("run_dir", type=Path)

    compare = commands.add_parser(
        "compare", help="train or gather runs of several experiments; table + figure"
    )
    compare.add_argument("names", nargs="+")
    compare.add_argument("--seeds", type=int, default=3)
    _add_set_option(
        compare, "[NAME:]KEY=VALUE", "override a key of every experiment, or with NAME: of one"
    )
    compare.add_argument("--out", type=Path, default=Path("runs"))
    compare.add_argument("--quiet", action="store_true")

    sweep = commands.add_parser(
        "sweep", help="train or gather an experiment over a grid of config values; heat maps"
    )
    sweep.add_argument("name", help="experiment name (see 'neurorl list')")
    sweep.add_argument(
        "--grid",
        dest="grids",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="a config key and its values; several --grid: their cartesian product",
    )
    sweep.add_argument("--seeds", type=int, default=3, help="seeds 0..K-1 per point (default 3)")
    _add_set_option(sweep, "KEY=VALUE", "override a key at every grid point")
    sweep.add_argument("--out", type=Path, default=Path("runs"))
    sweep.add_argument("--quiet", action="store_true")
    reproduce = commands.add_parser(
        "reproduce", help="regenerate a paper's table: train or reuse its runs, write its page"
    )
    reproduce.add_argument("paper", help="e.g. hasegan2022, akl2023")
    reproduce.add_argument(
        "--seeds", type=int, help="seeds 0..K-1 per row (default: the paper's number)"
    )
    reproduce.add_argument(
        "--quick", action="store_true", help="fewer seeds, shorter budgets (a smoke test)"
    )
    reproduce.add_argument("--out", type=Path, default=Path("runs"))
    reproduce.add_argument("--quiet", action="store_true")
    for command in (compare, sweep, reproduce):
        command.add_argument(
            "--workers",
            type=int,
            default=1,
            help="train the runs in N processes of a local Ray cluster (default 1: here)",
        )
        command.add_argument(
            "--address", help="train the runs on the running Ray cluster at ADDR (e.g. auto)"
        )

    worm_validate.add_parser(commands)

    export = commands.add_parser("export", help="export a run's best spiking policy")
    export.add_argument("run_dir", type=Path)
    export.add_argument("--format", default="nir", help="export format (nir)")
    for command in (evaluate, plot, export):
        command.add_argument("--device", help="instead of the run's own device, e.g. cpu")
    return parser


def run_command(args: argparse.Namespace) -> str:
    """Execute one command; returns the line to print last (a path or a table)."""
    from neurorl.config import parse_set_options
    from neurorl.experiments import runner
    from neurorl.experiments.registry import DEFAULT_EXPERIMENT, EXPERIMENTS, get_experiment

    if args.command == "list":
        width = max(map(len, EXPERIMENTS))
        return "\n".join(
            f"{name:<{width}}  {exp.description}" + (" (default)" * (name == DEFAULT_EXPERIMENT))
            for name, exp in EXPERIMENTS.items()
        )
    if args.command == "train":
        if args.resume is not None:
            if args.name or args.overrides or args.device or {args.seed, args.seeds} != {None}:
                raise NeurorlError(
                    "--resume continues a run with its saved config; "
                    "give no name, --seed, --seeds, --set or --device"
                )
            run = _open_run(args.resume)
            if not run.latest.exists():
                raise NeurorlError(f"run {args.resume} has no checkpoint to resume from")
            return str(runner.train(run, args.quiet, resume=True))
        overrides = parse_set_options(args.overrides)
        if args.seed is not None:
            overrides["seed"] = str(args.seed)
        if args.device:
            overrides["device"] = args.device
        name = args.name or DEFAULT_EXPERIMENT
        if args.seeds is None:
            return str(runner.train(runner.create_run(name, overrides, args.out), args.quiet))
        if args.seeds < 1:
            raise NeurorlError(f"--seeds must be >= 1, got {args.seeds}")
        experiment = get_experiment(name)
        if experiment.make_batch is None:
            raise NeurorlError(
                f"{name} trains one seed at a time; 'neurorl compare {name} --seeds "
                f"{args.seeds}' trains several"
            )
        first = runner.resolve_config(experiment, overrides).seed
        runs = [
            runner.create_run(name, {**overrides, "seed": str(first + k)}, args.out)
            for k in range(args.seeds)
        ]
        return "\n".join(str(path) for path in runner.train_seeds(runs, args.quiet))
    if args.command == "eval":
        run = _open_run(args.run_dir, args.device)
        results = runner.evaluate(run, args.episodes, args.env_seed)["eval"]
        print(
            f"test mean return {results['mean_return']:.1f} +- {results['std_return']:.1f} "
            f"over {results['episodes']} episodes (env seed {results['env_seed']})"
        )
        return str(args.run_dir / "results.json")
    if args.command == "plot":
        plots = runner.plot(_open_run(args.run_dir, args.device))
        return "\n".join(str(path) for path in plots)
    if args.command == "compare":
        from neurorl.experiments.compare import compare

        folder = compare(
            args.names,
            args.seeds,
            parse_set_options(args.overrides),
            args.out,
            args.quiet,
            _cluster(args),
        )
        print((folder / "comparison.md").read_text())
        return str(folder)
    if args.command == "sweep":
        from neurorl.experiments.sweep import parse_grid_options, sweep

        folder = sweep(
            args.name,
            parse_grid_options(args.grids),
            args.seeds,
            parse_set_options(args.overrides),
            args.out,
            args.quiet,
            _cluster(args),
        )
        print((folder / "sweep.md").read_text())
        return str(folder)
    if args.command == "reproduce":
        from neurorl.experiments.reproduce import reproduce

        folder = reproduce(
            args.paper,
            args.seeds,
            args.quick,
            args.out,
            args.quiet,
            _cluster(args),
            "neurorl " + shlex.join(args.argv),
        )
        print((folder / "reproduction.md").read_text())
        return str(folder)
    if args.command == "worm":
        return worm_validate.run(args)
    if args.command == "export":
        return str(runner.export(_open_run(args.run_dir, args.device), args.format))
    raise AssertionError(args.command)


def _open_run(path: Path, device: str | None = None) -> Run:
    from neurorl.experiments.runner import open_run

    return open_run(path, device)


def _cluster(args: argparse.Namespace) -> Cluster:
    return Cluster(workers=args.workers, address=args.address, threads=args.threads)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    import torch

    torch.set_num_threads(args.threads)
    try:
        print(run_command(args))
    except NeurorlError as error:
        print(f"neurorl: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # an unwritable --out, a full disk: the user's to fix
        print(f"neurorl: error: {os_error_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neurorl: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
