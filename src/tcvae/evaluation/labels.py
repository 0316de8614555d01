"""What each number in ``metrics.json`` is called, its range and what it means.

One table per kind of result, read by every place that shows them (``tcvae evaluate``'s printed
table, the run report, sweep summaries).
"""

from __future__ import annotations

# The ELBO decomposition's numbers (section "decomposition", ElboDecomposition.to_dict()):
# (key, label, short label for plots).
DECOMPOSITION_TERMS: tuple[tuple[str, str, str], ...] = (
    ("log_likelihood", "E[log p(x|z)]", "log p(x|z)"),
    ("elbo", "ELBO", "ELBO"),
    ("analytic_kl", "E_n KL(q(z|x_n) || p(z)), analytic", "analytic KL"),
    ("kl_estimate", "sum of the three terms below", "sum"),
    ("index_code_mi", "index-code mutual information I_q(z; n)", "MI"),
    ("total_correlation", "total correlation KL(q(z) || prod_j q(z_j))", "TC"),
    ("dimwise_kl", "dimension-wise KL sum_j KL(q(z_j) || p(z_j))", "dim-wise KL"),
)


# The wider metric suite: (section of metrics.json, key, label, range, meaning).
SUITE = (
    (
        "beta_vae",
        "beta_vae",
        "BetaVAE score",
        "[0, 1]; chance 1/K",
        "accuracy of a linear classifier telling which factor a batch of pairs shares from the "
        "mean absolute difference of their codes",
    ),
    (
        "factor_vae",
        "factor_vae",
        "FactorVAE score",
        "[0, 1]; chance about 1/K",
        "majority-vote accuracy of the dimension of least normalised variance when one factor "
        "is fixed",
    ),
    (
        "dci",
        "disentanglement",
        "DCI disentanglement (reference)",
        "[0, 1]",
        "1 - entropy of each dimension's importance across factors, weighted by importance",
    ),
    (
        "dci",
        "completeness",
        "DCI completeness (reference)",
        "[0, 1]",
        "1 - entropy of each factor's importance across dimensions, weighted by importance",
    ),
    (
        "dci",
        "informativeness",
        "DCI informativeness (reference)",
        "[0, 1]",
        "test accuracy of the gradient-boosted trees predicting each factor",
    ),
    (
        "dci_fast",
        "disentanglement",
        "DCI disentanglement (fast)",
        "[0, 1]",
        "as above, from histogram gradient boosting (labelled apart from the reference)",
    ),
    ("dci_fast", "completeness", "DCI completeness (fast)", "[0, 1]", "as above, fast protocol"),
    (
        "dci_fast",
        "informativeness",
        "DCI informativeness (fast)",
        "[0, 1]",
        "as above, fast protocol",
    ),
    (
        "sap",
        "sap",
        "SAP",
        "[0, 1]; perfect codes about 0.3-0.5 (discrete factors)",
        "mean gap between the two dimensions that best predict each factor on their own",
    ),
    (
        "modularity_explicitness",
        "modularity",
        "modularity",
        "[0, 1]; uninformative codes can score high",
        "whether each dimension informs about one factor at most",
    ),
    (
        "modularity_explicitness",
        "explicitness",
        "explicitness",
        "[0.5, 1]; chance 0.5",
        "test ROC-AUC of a logistic regression predicting each factor from all dimensions",
    ),
    (
        "mig_sup",
        "mig_sup",
        "MIG-sup",
        "[0, 1]",
        "per dimension, the normalised gap between the two factors it informs most about",
    ),
)
