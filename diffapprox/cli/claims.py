"""``diffapprox claims``: list the registered claims (id, paper reference, one-line statement)."""

from __future__ import annotations

import json
import sys


def add_parser(sub) -> None:
    c = sub.add_parser(
        "claims",
        help="list claim ids, paper references and statements",
        description="List the registered claims: id, paper reference, one-line statement.",
    )
    c.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    c.set_defaults(func=run_claims_list)


def run_claims_list(args) -> int:
    from .._run.claims import all_claims

    claims = all_claims()
    rows = [
        {
            "id": c.id,
            "paper_ref": c.paper_ref,
            "statement": c.statement,
            "requires_extra": c.extra if c.requires else None,
        }
        for c in claims.values()
    ]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not rows:
        print("no claims registered")
        return 0
    w_id = max(len(r["id"]) for r in rows)
    w_ref = max(len(r["paper_ref"]) for r in rows)
    for r in rows:
        print(f"{r['id']:<{w_id}}  {r['paper_ref']:<{w_ref}}  {r['statement']}")
    return 0
