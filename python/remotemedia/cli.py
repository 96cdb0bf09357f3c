"""The Python command line: `python -m remotemedia validate|export`.

`validate` mirrors the runtime's `remotemedia validate` (same exit codes: 0 valid, 2 invalid)
for machines with only the Python package; `export` turns pipeline scripts into manifests.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_INVALID = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m remotemedia", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check manifests against the v1 schema and graph rules")
    validate.add_argument("files", nargs="+", metavar="FILE", help="manifest file, or - for standard input")
    validate.add_argument("--json", action="store_true", help="print the results as JSON")

    export = commands.add_parser("export", help="write the manifest of pipeline scripts that define build()")
    export.add_argument("scripts", nargs="+", type=Path, metavar="SCRIPT")
    destination = export.add_mutually_exclusive_group()
    destination.add_argument("-o", "--output", type=Path, help="manifest file to write (one script only)")
    destination.add_argument("--out-dir", type=Path, help="write <out-dir>/<script name>.json per script")

    args = parser.parse_args(argv)
    if args.command == "validate":
        return _validate(args.files, args.json)
    if args.output is not None and len(args.scripts) > 1:
        parser.error("--output takes one script; use --out-dir for several")
    return _export(args.scripts, args.output, args.out_dir)


def _validate(files: list[str], as_json: bool) -> int:
    from remotemedia.manifest import ValidationError, validate

    reports: list[dict[str, Any]] = []
    for name in files:
        try:
            text = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
            errors = validate(text)
        except OSError as exc:
            errors = [ValidationError("", f"cannot read the file: {exc.strerror or exc}")]
        reports.append({"file": name, "valid": not errors, "errors": [error.to_dict() for error in errors]})
        if not as_json:
            if errors:
                for error in errors:
                    print(f"{name}: {error}", file=sys.stderr)
            else:
                print(f"{name}: valid")
    if as_json:
        print(json.dumps(reports, indent=2))
    return 0 if all(report["valid"] for report in reports) else EXIT_INVALID


def _export(scripts: list[Path], output: Path | None, out_dir: Path | None) -> int:
    from remotemedia.core.exceptions import RemoteMediaError
    from remotemedia.pipeline_scripts import export_manifest

    for script in scripts:
        try:
            manifest = export_manifest(script)
        except RemoteMediaError as exc:
            print(f"error: {script}: {exc}", file=sys.stderr)
            return 1
        if out_dir is not None:
            target = out_dir / f"{script.stem}.json"
        elif output is not None:
            target = output
        else:
            print(manifest)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(manifest + "\n", encoding="utf-8")
        print(f"wrote {target}", file=sys.stderr)
    return 0
