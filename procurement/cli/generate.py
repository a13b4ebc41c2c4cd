"""``generate --sites N [--organisations K] [--seed S] --out DIR``: a synthetic portfolio.

Writes ``DIR/sites.csv``, ``DIR/organisations.csv`` and ``DIR/scenario.yaml``
that work with the sample catalogue, for trying the tool and for benchmarks,
without anyone's real estate data. The same seed gives the same files.
"""

from __future__ import annotations

import argparse

from procurement.cli import common


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="write a synthetic, reproducible portfolio of sites and organisations",
        description=(
            "Write DIR/sites.csv, DIR/organisations.csv and DIR/scenario.yaml, usable with "
            "the sample catalogue; print the paths written."
        ),
    )
    parser.add_argument(
        "--sites", dest="n_sites", type=common.positive_int, required=True, metavar="N",
        help="number of sites",
    )
    parser.add_argument(
        "--organisations", dest="n_organisations", type=common.positive_int, default=5,
        metavar="K", help="number of organisations (default 5)",
    )
    parser.add_argument(
        "--seed", type=common.non_negative_int, default=0, metavar="S",
        help="random seed (default 0)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    common.add_common_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from procurement.generate import generate_portfolio, write_portfolio

    try:
        portfolio = generate_portfolio(
            args.n_sites, n_organisations=args.n_organisations, seed=args.seed
        )
    except ValueError as exc:  # sizes the generator cannot honour are a usage error
        raise common.UsageError(str(exc)) from exc
    paths = write_portfolio(portfolio, args.out)
    print("\n".join(str(p) for p in paths))
    return common.EXIT_OK
