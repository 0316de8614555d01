#!/usr/bin/env bash
# The FactorVAE arms of the dependent-factors presets, alone: each preset with methods =
# ["factor-vae"], as its own sweep (resumable: re-run the script to continue), then their tables.
#
#     bash scripts/factor_vae_arms.sh [OUT_ROOT]      # default sweeps/
set -euo pipefail
out=${1:-sweeps}
specs=$(mktemp -d)
mkdir -p "$out"
for preset in dependent-correlated dependent-excluded; do
  python - "$preset" "$specs/$preset-factor-vae.toml" <<'PY'
import re, sys
from importlib.resources import files
preset, target = sys.argv[1:]
text = (files("tcvae.experiments") / "presets" / f"{preset}.toml").read_text()
text = re.sub(r'(?m)^name = "([^"]+)"', r'name = "\1-factor-vae"', text, count=1)
text = re.sub(r"(?m)^methods = .*$", 'methods = ["factor-vae"]', text, count=1)
open(target, "w").write(text)
PY
done
tcvae sweep "$specs/dependent-correlated-factor-vae.toml" --out "$out/dependent-correlated-factor-vae" \
  --workers 1 --threads 1 -q &
tcvae sweep "$specs/dependent-excluded-factor-vae.toml" --out "$out/dependent-excluded-factor-vae" \
  --workers 1 --threads 1 -q
wait
for preset in dependent-correlated dependent-excluded; do
  python scripts/sweep_table.py "$out/$preset-factor-vae"
done
