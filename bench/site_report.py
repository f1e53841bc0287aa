"""Report of bench/site-budget: bytes and files of the site per page kind, the SMTP
probe phase, the render time per simulated night; a table, a section appended to
bench/RESULTS.md, and one JSON line (printed last).

usage: site_report.py WORK NIGHTS RESULTS_MD
"""
import json
import os
import platform
import re
import sys
import time
from collections import defaultdict

work, nights, results = sys.argv[1], int(sys.argv[2]), sys.argv[3]
site = os.path.join(work, "site")
BUDGET_BYTES, BUDGET_FILES = 400_000_000, 60_000
PAGES_BYTES, PAGES_FILES = 1_000_000_000, 200_000


def kind(rel):
    parts = rel.split("/")
    if parts[0] == "state":
        return "state/ (cache + history for the next run)"
    if parts[0] == "changes":
        return "changes/ (run pages, feeds)"
    if parts[0] in ("data", "schema") or rel in ("data.json", "data.csv", "countries.json") or rel.endswith(".geojson"):
        return "open data (data/, data.json, GeoJSON)"
    if parts[0] == "dns":
        return "shared DNS lookups (dns/)"
    if parts[0] == "p":
        return "provider pages (p/)"
    if parts[0] in ("a-z", "search") or (len(parts) > 1 and parts[1] == "a-z"):
        return "A-Z and search"
    if len(parts) > 2 and parts[1] == "m":
        return "municipality pages ({cc}/m/)"
    if parts[0] == "security" or (len(parts) > 1 and parts[1] in ("security", "anomalies")):
        return "security and anomaly reports"
    if len(parts) == 2 and parts[1] == "index.html":
        return "country pages"
    if len(parts) == 3 and parts[2] == "index.html":
        return "region pages"
    return "other (overview, assets, sitemaps, about, …)"


sizes = defaultdict(lambda: [0, 0])
for dirpath, _, files in os.walk(site):
    for f in files:
        path = os.path.join(dirpath, f)
        rel = os.path.relpath(path, site)
        s = sizes[kind(rel)]
        s[0] += os.path.getsize(path)
        s[1] += 1
total_bytes = sum(v[0] for v in sizes.values())
total_files = sum(v[1] for v in sizes.values())

err = open(os.path.join(work, "night1.err")).read()
m = re.search(r"smtp: (\d+) MX addresses, (\d+) probed \((\d+) reached an SMTP server\).* in ([\d.]+)s", err)
pairs, probed, reached, probe_s = int(m.group(1)), int(m.group(2)), int(m.group(3)), float(m.group(4))
t = open(os.path.join(work, "night1.time")).read()
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (.+)", t).group(1).split(":")
night1_s = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall)))
renders = [float(x) for x in open(os.path.join(work, "renders.time")).read().split() if re.fullmatch(r"[\d.]+", x)]
data = json.load(open(os.path.join(site, "data.json")))
grades = defaultdict(int)
for r in data:
    grades[r.get("grade") or "null"] += 1
history_runs = len([n for n in os.listdir(os.path.join(site, "changes")) if re.match(r"\d{4}-\d\d-\d\d-", n)])

res = {
    "date": time.strftime("%Y-%m-%d"),
    "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    "nights": nights,
    "run_pages": history_runs,
    "site_bytes": total_bytes,
    "site_files": total_files,
    "smtp_addresses": pairs,
    "smtp_reached": reached,
    "smtp_probe_s": probe_s,
    "night1_build_s": round(night1_s, 1),
    "render_mean_s": round(sum(renders) / max(len(renders), 1), 1),
    "grades": dict(sorted(grades.items())),
    "by_kind": {k: {"bytes": v[0], "files": v[1]} for k, v in sorted(sizes.items(), key=lambda kv: -kv[1][0])},
}
ok = lambda good: "within" if good else "OVER"
rows = [
    ("SMTP probe phase (night 1)", f"{pairs:,} MX addresses, {reached:,} reached a real SMTP server, in {probe_s:.1f} s"),
    ("night 1 (full build with probes)", f"{night1_s:.0f} s wall"),
    (f"nights 2–{nights} (render from cache each)", f"{res['render_mean_s']} s mean"),
    ("grade distribution", ", ".join(f"{g} {n:,}" for g, n in sorted(grades.items()))),
    ("site size", f"{total_bytes / 1e6:.1f} MB ({ok(total_bytes <= BUDGET_BYTES)} the 400 MB budget; Pages limit 1,000 MB)"),
    ("site files", f"{total_files:,} ({ok(total_files <= BUDGET_FILES)} the 60,000 budget; Pages limit 200,000)"),
    ("run pages in changes/", f"{history_runs}"),
]
table = "| measure | result |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
kinds = "| page kind | MB | files | share of bytes |\n|---|---:|---:|---:|\n" + "\n".join(
    f"| {k} | {v['bytes'] / 1e6:.1f} | {v['files']:,} | {v['bytes'] / max(total_bytes, 1):.0%} |" for k, v in res["by_kind"].items()
)
print(table)
print()
print(kinds)
with open(results, "a") as f:
    f.write(f"\n## {res['date']} — site budget after {nights} simulated nights, full security (Postfix behind every MX) — {res['machine']}\n\n{table}\n\n{kinds}\n\n```json\n{json.dumps(res)}\n```\n")
print(json.dumps(res))
