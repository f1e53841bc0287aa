"""Overrides for one simulated night (bench/site-budget): the reviewed overrides file,
plus `domain` overrides that point a reproducible set of municipalities at the mail
domain of another municipality with a different provider. Every night draws its own
set (seeded by the night), so consecutive runs differ by provider, MX and grade changes.

usage: perturb.py NIGHT1_DATA_JSON BASE_OVERRIDES NIGHT COUNT > overrides.toml
"""
import json
import random
import sys

data_path, base_path, night, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
records = [r for r in json.load(open(data_path)) if r.get("domain") and r.get("scan_status") == "ok"]
records.sort(key=lambda r: r["id"])
rng = random.Random(night)
print(open(base_path).read())
print(f"# Simulated night {night}: {count} municipalities re-pointed (bench/perturb.py).")
for r in rng.sample(records, min(count, len(records))):
    for _ in range(50):
        target = rng.choice(records)
        if target["provider"] != r["provider"]:
            break
    print("[[override]]")
    print(f'id = {json.dumps(r["id"])}')
    print('kind = "domain"')
    print(f'value = {json.dumps(target["domain"])}')
    print('reason = "Simulated change of mail domain (site-size benchmark)."')
    print('source = "bench/perturb.py"')
    print('reviewed = "2026-03-01"')
    print()
