"""The results table and the issue's targets, judged PASS / FAIL / n/a."""
from __future__ import annotations

from collections.abc import Callable

TARGETS = {"gci_x_moto": 8.0, "assume_role_x_moto": 6.0, "p99_ms": 15.0,
           "scale_drop": 0.10, "bytes_per_session": 1024}
REQUESTS = (("GetCallerIdentity", "get_caller_identity"), ("AssumeRole", "assume_role"))


def _status(r: dict) -> str:
    return "ok" if r["valid"] else "INVALID (errors)"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:+.1%}"


def print_table(results: dict) -> dict:
    """Print the tables; return {"figures": …, "verdicts": …} for the JSON file."""
    moto, tess = results.get("moto", {}), results.get("tessera", {})
    figures: dict[str, float | None] = {}
    print(f"\n{'target':<9}{'request':<19}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'errors':>8}{'vs moto':>9}  status")
    for target, out in (("moto", moto), ("tessera", tess)):
        for label, key in REQUESTS:
            r, m = out.get(key), moto.get(key)
            if r is None:
                continue
            ok = m and m["valid"] and r["valid"] and m["rps"]
            ratio = r["rps"] / m["rps"] if ok else None
            if target == "tessera":
                figures[f"{key}_x_moto"] = None if ratio is None else round(ratio, 2)
                figures[f"{key}_p99_ms"] = r["p99_ms"] if r["valid"] else None
            print(f"{target:<9}{label:<19}{r['rps']:>10,.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                  f"{r['errors']:>8}{(f'{ratio:.1f}x' if ratio else '-'):>9}  {_status(r)}")
    scale = [(t, e) for t in ("moto", "tessera") for e in results.get(t, {}).get("scale", [])]
    if scale:
        print(f"\n{'target':<9}{'live sessions':>14}{'empty req/s':>12}{'req/s':>8}{'change':>9}"
              f"{'p99 ms':>9}{'B/session':>11}  status   (GetCallerIdentity, medians of rounds)")
        for target, e in scale:
            rows = [(target, e)]
            if "newest_session" in e:
                rows.append(("  newest", e["newest_session"]))
            for label, row in rows:
                r, bps = row["get_caller_identity"], row.get("bytes_per_session")
                print(f"{label:<9}{row['sessions']:>14,}{row['empty_store']['rps']:>12,.0f}"
                      f"{r['rps']:>8,.0f}{_pct(row['change_vs_empty']):>9}{r['p99_ms']:>9.2f}"
                      f"{(f'{bps:,.0f}' if bps is not None else '-'):>11}  {_status(r)}"
                      f"{'  (worst case: newest session)' if label == '  newest' else ''}")
            if target == "tessera":
                figures[f"scale_{e['sessions']}_change"] = e["change_vs_empty"]
                figures[f"scale_{e['sessions']}_bytes_per_session"] = e.get("bytes_per_session")
    verdicts = judge(figures)
    if verdicts:
        print("\ntargets: " + "  ".join(f"{k} {v}" for k, v in verdicts.items()))
    return {"figures": figures, "verdicts": verdicts}


def judge(f: dict[str, float | None]) -> dict[str, str]:
    def verdict(value: float | None, ok: Callable[[float], bool]) -> str:
        return "n/a" if value is None else ("PASS" if ok(value) else "FAIL")

    out: dict[str, str] = {}
    if "get_caller_identity_x_moto" in f:
        out["GCI>=8x moto"] = verdict(f["get_caller_identity_x_moto"],
                                      lambda v: v >= TARGETS["gci_x_moto"])
    if "assume_role_x_moto" in f:
        out["AssumeRole>=6x moto"] = verdict(f["assume_role_x_moto"],
                                             lambda v: v >= TARGETS["assume_role_x_moto"])
    for label, key in REQUESTS:
        if f"{key}_p99_ms" in f:
            out[f"{label} p99<15ms"] = verdict(f[f"{key}_p99_ms"],
                                              lambda v: v < TARGETS["p99_ms"])
    for k, v in f.items():
        if k.endswith("_change"):
            out[f"{k} within 10%"] = verdict(v, lambda x: x >= -TARGETS["scale_drop"])
        if k.endswith("_bytes_per_session"):
            out[f"{k} <1KB"] = verdict(v, lambda x: x < TARGETS["bytes_per_session"])
    return out
