"""What a run's MIG says, in plain sentences: its range, reference values, which factors have a
latent of their own, which share latents, and which latents hold no factor.

The input is the paper-protocol MIG (REFERENCE.md section 5): the mutual information I(z_j; v_k)
(K, D) in nats and the factor entropies H(v_k) (K,). The normalised mutual information
m_kj = I(z_j; v_k) / H(v_k) lies in [0, 1]; the gap of factor k is its largest entry minus its
second largest, and MIG = (1/K) sum_k gap_k.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# A latent *holds* a factor when m_kj >= HOLDS, a tenth of the factor's entropy. An untrained
# network's latents hold almost nothing (its MIG is 0.000 in docs/lab-notes/demo.md) while a latent
# that encodes a factor holds 0.3 to 0.9 of it; a tenth is far above the estimators' error and far
# below an encoding latent.
HOLDS = 0.1
# A factor *has a latent of its own* when gap_k >= OWN_GAP: its best latent holds at least a fifth
# of its entropy more than any other latent. Factors encoded by one latent ended with gaps of 0.35
# to 0.47 in this project's runs, and the rotated position pair of docs/lab-notes/reproduction.md
# (posX and posY sharing two latents) with 0.14 and 0.03: 0.2 separates the two cases.
OWN_GAP = 0.2
# A latent whose E_x KL(q(z_j|x) || p(z_j)) is below this many nats carries (almost) no
# information about x: it is inactive.
ACTIVE_KL_NATS = 0.05
# Paper-protocol MIGs to compare a run with, by data set (names starting with the key).
REFERENCE_MIG = {
    "dsprites": "runs that give scale, posX and posY a latent each score 0.30-0.37, runs that "
    "mix the two positions 0.03-0.14 (docs/lab-notes/demo.md), an untrained network 0.00",
}


def explain_mig(metrics: Mapping[str, Any]) -> list[str]:
    """The sentences of :func:`describe_mig` for a metrics.json dict; [] without the MIG."""
    found = metrics.get("mig")
    if not isinstance(found, Mapping):
        return []
    decomposition = metrics.get("decomposition")
    kl = decomposition.get("analytic_kl_per_dim") if isinstance(decomposition, Mapping) else None
    return describe_mig(
        found["mutual_information"],
        found["factor_entropy"],
        found["factor_names"],
        dataset=str(metrics.get("dataset") or ""),
        kl_per_dim=kl,
    )


def describe_mig(
    mutual_information: Any,
    factor_entropy: Any,
    factor_names: Sequence[str],
    *,
    dataset: str = "",
    kl_per_dim: Any = None,
) -> list[str]:
    """Short sentences on a MIG: what it means and its range, a reference value for ``dataset``,
    then which factors have a latent of their own, which share latents (or are spread over
    several), which no latent holds, and which latents hold no factor (inactive ones, with
    ``kl_per_dim`` (D,), named as such). Thresholds: :data:`HOLDS`, :data:`OWN_GAP`."""
    m = np.asarray(mutual_information, dtype=float) / np.asarray(factor_entropy, float)[:, None]
    k, d = m.shape
    names = list(factor_names)
    top = -np.sort(-m, axis=1)
    gaps = top[:, 0] - top[:, 1]
    holds = m >= HOLDS
    out = [
        f"MIG {gaps.mean():.4f} (range 0 to 1) is the mean over {k} factors of the gap between "
        "the two latents most informative about a factor, as a fraction of its entropy: 0 when "
        "no latent singles out any factor, 1 when each factor is held whole by one latent alone."
    ]
    reference = [text for key, text in REFERENCE_MIG.items() if dataset.startswith(key)]
    if reference:
        out.append(f"For reference on {dataset}: {reference[0]}.")
    own = [i for i in range(k) if gaps[i] >= OWN_GAP]
    if own:
        which = ", ".join(f"{names[i]} in z{int(np.argmax(m[i]))}" for i in own)
        verb = "has a latent of its own" if len(own) == 1 else "have a latent of their own"
        out.append(f"{_join([names[i] for i in own])} {verb} ({which}; gap >= {OWN_GAP:g}).")
    for group in _sharing_groups(holds, [i for i in range(k) if i not in own and holds[i].any()]):
        i = group[0]
        if len(group) > 1:
            shared = [j for j in range(d) if holds[group, j].sum() > 1]
            out.append(f"{_join([names[g] for g in group])} share {_latents(shared)}.")
        elif holds[i].sum() > 1:
            spread = _latents(np.flatnonzero(holds[i]))
            out.append(f"{names[i]} is spread over {spread} (gap {gaps[i]:.2f}).")
        else:
            weak = f"gap {gaps[i]:.2f} < {OWN_GAP:g}"
            out.append(f"{names[i]} is held only weakly by z{int(np.argmax(m[i]))} ({weak}).")
    dead = [names[i] for i in range(k) if not holds[i].any()]
    if dead:
        out.append(f"No latent holds a tenth of the entropy of {_join(dead)}.")
    idle = [j for j in range(d) if not holds[:, j].any()]
    if kl_per_dim is not None:
        inactive = [j for j in idle if float(kl_per_dim[j]) < ACTIVE_KL_NATS]
        if inactive:
            be = "is" if len(inactive) == 1 else "are"
            out.append(
                f"{_latents(inactive).capitalize()} {be} inactive (KL < {ACTIVE_KL_NATS} nats)."
            )
        idle = [j for j in idle if j not in inactive]
    if idle:
        verb = "holds" if len(idle) == 1 else "hold"
        if kl_per_dim is not None:
            verb = f"{'is' if len(idle) == 1 else 'are'} active but {verb}"
        out.append(f"{_latents(idle).capitalize()} {verb} no factor named here.")
    return out


def _sharing_groups(holds: np.ndarray, factors: list[int]) -> list[list[int]]:
    """``factors`` joined into groups linked by latents that hold two of them (connected
    components of the factor-latent graph ``holds`` (K, D)), each sorted, in factor order."""
    groups: list[set[int]] = []
    for i in factors:
        linked = [g for g in groups if any((holds[i] & holds[o]).any() for o in g)]
        groups = [g for g in groups if g not in linked] + [{i}.union(*linked)]
    return sorted(sorted(g) for g in groups)


def _join(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _latents(js: Sequence[int]) -> str:
    """'latent z3', 'latents z2 and z7'."""
    listed = _join([f"z{int(j)}" for j in js])
    return f"latent {listed}" if len(js) == 1 else f"latents {listed}"
