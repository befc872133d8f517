"""Scoring detected violations against a ground truth (the simulator's, or a hidden one).

Matching is by violation id (a function of parcel, type and rule), so a match also
checks the type and rule; carrier attribution is reported separately.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def score(truth: Iterable[Mapping[str, Any]], found: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Precision and recall per type and per type/rule, plus carrier agreement and repeats."""
    t = {v["violation_id"]: v for v in truth}
    f_list = list(found)
    f = {v["violation_id"]: v for v in f_list}
    keys = sorted({(v["type"], v["rule"]) for v in [*t.values(), *f.values()]})

    def pr(sel_t: set[str], sel_f: set[str]) -> dict[str, Any]:
        hit = len(sel_t & sel_f)
        return {
            "truth": len(sel_t),
            "found": len(sel_f),
            "matched": hit,
            "precision": round(hit / len(sel_f), 4) if sel_f else 1.0,
            "recall": round(hit / len(sel_t), 4) if sel_t else 1.0,
        }

    by_rule = {}
    for vtype, rule in keys:
        st = {k for k, v in t.items() if (v["type"], v["rule"]) == (vtype, rule)}
        sf = {k for k, v in f.items() if (v["type"], v["rule"]) == (vtype, rule)}
        by_rule[f"{vtype}/{rule}"] = pr(st, sf)
    by_type = {}
    for vtype in sorted({k[0] for k in keys}):
        st = {k for k, v in t.items() if v["type"] == vtype}
        sf = {k for k, v in f.items() if v["type"] == vtype}
        by_type[vtype] = pr(st, sf)
    both = set(t) & set(f)
    wrong_carrier = sorted(k for k in both if t[k].get("carrier") != f[k].get("carrier"))
    return {
        "overall": pr(set(t), set(f)),
        "by_type": by_type,
        "by_rule": by_rule,
        "carrier_mismatches": len(wrong_carrier),
        "carrier_mismatch_examples": wrong_carrier[:10],
        "repeated_ids": len(f_list) - len(f),
        "missed_examples": sorted(set(t) - set(f))[:10],
        "unexpected_examples": sorted(set(f) - set(t))[:10],
    }
