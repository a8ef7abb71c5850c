# -*- coding: utf-8 -*-
"""CLI: ``python -m tests.catalog_gen --format FMT --updates N --out PATH [options]`` (cwd = collection root)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from . import FORMATS, generate


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m tests.catalog_gen",
        description="Generate a deterministic Microsoft-style update catalog (offline scan cab, WSUS export "
                    "cab or catalog_file YAML/JSON).")
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument("--updates", type=int, default=500,
                        help="approximate number of <Update> entries (categories + detectoids + bundles + children)")
    parser.add_argument("--out", required=True, help="output file (.cab, .yml/.yaml, or .json for catalog_file)")
    parser.add_argument("--seed", default="0", help="seed (any string; default 0)")
    parser.add_argument("--languages", default="en,de", help="comma-separated languages (en, de); default en,de")
    parser.add_argument("--payloads", metavar="DIR", help="also write every payload file into DIR")
    parser.add_argument("--payload-layout", choices=("flat", "wsus", "url"), default="flat",
                        help="flat: DIR/<FileName>; wsus: DIR/<XX>/<SHA1HEX>.<ext> (default flat)")
    parser.add_argument("--sign", metavar="CA_DIR", help="sign the cabinet with tests/catalog_gen/signing.py")
    parser.add_argument("--manifest", metavar="PATH.json", help="write the manifest (counts, ids to assert on)")
    parser.add_argument("--json", action="store_true", help="catalog_file: write JSON instead of YAML")
    parser.add_argument("--cab-tool", choices=("python", "gcab"), default="python",
                        help="cabinet writer: built-in MSZIP writer (default) or gcab")
    parser.add_argument("--revisions-per-cab", type=int, default=3000,
                        help="offline_scan: RevisionIds per detail cabinet (default 3000)")
    parser.add_argument("--category-prerequisites", action="store_true",
                        help="offline_scan: also list product/classification ids in package.xml Prerequisites "
                             "(as real packages do)")
    parser.add_argument("--keep-members", metavar="DIR", help="cab formats: also leave the unpacked members in DIR")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    seed = int(args.seed) if args.seed.lstrip("-").isdigit() else args.seed
    languages = tuple(part.strip() for part in args.languages.split(",") if part.strip())
    started = time.time()

    def progress(done, total):
        share = 100.0 * done / max(total, 1)
        sys.stderr.write("\r%d/%d updates (%.0f%%) %.1fs" % (done, total, share, time.time() - started))
        sys.stderr.flush()

    show = not args.quiet and args.updates >= 20000
    try:
        manifest = generate(args.format, args.out, updates=args.updates, seed=seed, languages=languages,
                            payloads_dir=args.payloads, payload_layout=args.payload_layout, sign_ca_dir=args.sign,
                            manifest_path=args.manifest, as_json=True if args.json else None,
                            cab_tool=args.cab_tool, revisions_per_cab=args.revisions_per_cab,
                            category_prerequisites=args.category_prerequisites, keep_dir=args.keep_members,
                            progress=progress if show else None)
    except ValueError as exc:
        sys.stderr.write("error: %s\n" % exc)
        return 2
    if show:
        sys.stderr.write("\n")
    summary = {"out": manifest["output"]["path"], "format": args.format, "total_updates": manifest["total_updates"],
               "bytes": manifest["output"]["size"], "seconds": manifest["seconds"]}
    if not args.quiet:
        sys.stderr.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
