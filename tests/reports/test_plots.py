"""Every plot writes a real picture, and the numbers drawn are the right ones."""

import itertools
import os
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest
import torch

from tcvae.reports import images, plots


def assert_informative_png(path):
    assert path.is_file() and path.stat().st_size > 1000
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert float(pixels[..., :3].std()) > 0.01, "the picture is (nearly) uniform"


def test_kl_bars_order_and_active_mask(tmp_path):
    kl = torch.tensor([0.01, 2.0, 0.0, 0.7])
    order, active = plots.active_dims(kl, threshold=0.05)
    assert order.tolist() == [1, 3, 0, 2] and active.tolist() == [True, True, False, False]
    fig = plots.kl_per_dimension(kl)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["z1", "z3", "z0", "z2"]
    assert [p.get_height() for p in ax.patches] == pytest.approx([2.0, 0.7, 0.01, 0.0])
    assert "2 of 4 active" in ax.get_title()
    assert_informative_png(plots.save_figure(fig, tmp_path / "kl.png"))


def test_mi_heatmap_marks_the_gap_of_each_factor(tmp_path):
    gen = torch.Generator().manual_seed(0)
    mi = torch.rand(3, 5, generator=gen)
    entropy = torch.tensor([1.0, 2.0, 0.5])
    fig = plots.mutual_information_matrix(mi, ["a", "b", "c"], factor_entropy=entropy)
    ax = fig.axes[0]
    normalised = (mi / entropy[:, None]).numpy()
    expected = []
    for row in normalised:  # brute force: best minus second best
        top = sorted(row, reverse=True)
        expected.append(top[0] - top[1])
    gap_texts = [t.get_text() for t in ax.texts if t.get_text().startswith(" gap")]
    assert [float(t.split()[-1]) for t in gap_texts] == pytest.approx(expected, abs=0.006)
    assert f"{np.mean(expected):.3f}" in ax.get_title()
    # one solid and one dashed box per factor, on the best and runner-up latents
    boxes = [p for p in ax.patches if p.get_linestyle() == "-"]
    best_cols = [round(p.get_x() + 0.5) for p in boxes]
    assert best_cols == normalised.argmax(1).tolist()
    assert len(ax.patches) == 6
    assert_informative_png(plots.save_figure(fig, tmp_path / "mi.png"))
    with pytest.raises(plots.PlotError, match="factor names"):
        plots.mutual_information_matrix(mi, ["a", "b"])


def test_conditional_means_match_a_loop():
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(200, 3, generator=gen, dtype=torch.float64)
    group = torch.randint(0, 2, (200,), generator=gen)
    cls = torch.randint(0, 5, (200,), generator=gen)
    cls[cls == 4] = 3  # class 4 never occurs
    avg, seen = plots.conditional_means(z, group, 2, cls, 5)
    for g, c in itertools.product(range(2), range(5)):
        mask = (group == g) & (cls == c)
        assert bool(seen[g, c]) == bool(mask.any())
        if mask.any():
            assert torch.allclose(avg[g, c], z[mask].mean(0))


def test_latent_vs_factors_draws_group_means(tiny_model, tiny_data, tmp_path):
    x = tiny_data.batch(torch.arange(len(tiny_data)))
    with torch.no_grad():
        mean, _ = tiny_model.encode(x)
    fig = plots.latent_vs_factors(
        mean, tiny_data.classes, tiny_data.grid, [2, 0], group_labels=["sq", "el", "he"]
    )
    # orientation and colour take one value here, so the columns are scale, posX, posY
    assert [ax.get_xlabel() for ax in fig.axes[-3:]] == ["scale", "posX", "posY"]
    ax = fig.axes[0 * 3 + 1]  # row z2, column posX
    lines = ax.get_lines()
    assert len(lines) == 3
    posx_classes = tiny_data.classes[:, 4]
    for shape, line in enumerate(lines):
        want = [
            float(mean[(tiny_data.classes[:, 1] == shape) & (posx_classes == c), 2].mean())
            for c in posx_classes.unique()
        ]
        assert line.get_ydata() == pytest.approx(want, rel=1e-5, abs=1e-6)
        assert line.get_xdata() == pytest.approx(tiny_data.grid.values[4][posx_classes.unique()])
    assert_informative_png(plots.save_figure(fig, tmp_path / "lvf.png"))
    with pytest.raises(plots.PlotError, match="latents"):
        plots.latent_vs_factors(mean, tiny_data.classes, tiny_data.grid, [7])


def test_training_curves_plot_every_loss_term(tmp_path):
    rows = [
        {
            "step": s,
            "epoch": s / 10,
            "loss": 100.0 / (s + 1),
            "tc": (s % 7) * 0.1,
            "images_per_s": 1000.0,
        }
        for s in range(1, 121)
    ]
    fig = plots.training_curves(rows)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["loss", "tc"]
    raw = fig.axes[0].get_lines()[0]
    assert raw.get_xdata()[0] == 1 and raw.get_ydata()[0] == pytest.approx(50.0)
    assert len(fig.axes[0].get_lines()) == 2  # raw and smoothed
    assert_informative_png(plots.save_figure(fig, tmp_path / "curves.png"))
    with pytest.raises(plots.PlotError, match="empty"):
        plots.training_curves([])


def test_training_curves_title_panels_by_their_labels():
    rows = [{"step": s, "tc": 0.1 * s, "kl": 2.0} for s in range(1, 5)]
    fig = plots.training_curves(rows, ["tc", "kl"], labels={"tc": "total correlation (MSS)"})
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["total correlation (MSS)", "kl"]


def test_moving_average_is_exact_on_lines():
    y = np.arange(30, dtype=float)
    smooth = plots._moving_average(y, 5)
    assert smooth[2:-2] == pytest.approx(y[2:-2])
    assert smooth[0] == pytest.approx(1.0)  # mean of 0, 1, 2


def test_decomposition_bars_have_error_bars(tmp_path):
    fig = plots.decomposition_bars({"MI": (3.0, 0.1), "TC": (1.5, 0.2), "dim-wise KL": (4.0, 0.3)})
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([3.0, 1.5, 4.0])
    assert_informative_png(plots.save_figure(fig, tmp_path / "decomposition.png"))


def test_traversal_latents_match_brute_force():
    gen = torch.Generator().manual_seed(2)
    mean = torch.randn(3, 4, generator=gen)
    dims = torch.tensor([2, 0, 3, 1])
    values = torch.linspace(-2, 2, 5)
    z = images.traversal_latents(mean, dims, values)
    assert z.shape == (4, 3, 5, 4)
    for r, s, t in itertools.product(range(4), range(3), range(5)):
        want = mean[s].clone()
        want[dims[r]] = values[t]
        assert torch.equal(z[r, s, t], want)


def test_montage_places_each_image():
    imgs = torch.rand(2, 3, 1, 4, 5)
    tiled = images.montage(imgs)
    p = images.PAD
    assert tiled.shape == (2 * (4 + 2 * p), 3 * (5 + 2 * p), 1)
    r, c = 1, 2
    block = tiled[r * (4 + 2 * p) + p : r * (4 + 2 * p) + p + 4, c * (5 + 2 * p) + p :][:, :5, 0]
    assert np.allclose(block, imgs[r, c, 0].numpy())
    assert tiled[0, 0, 0] == images.FRAME


def test_traversals_decode_the_swept_latents(tiny_model, tiny_data, tmp_path):
    x = tiny_data.batch(torch.tensor([0, 40, 90]))
    kl = torch.tensor([1.5, 0.0, 3.0, 0.2])
    fig = images.latent_traversals(tiny_model, x, kl, span=2.0, steps=5)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[0].startswith("z2") and labels[-1] == "z1 KL 0.00 inactive"
    assert sum("inactive" in label for label in labels) == 1
    # the first panel's image is the montage of decoded traversal codes of seed 0
    with torch.no_grad():
        mean, _ = tiny_model.encode(x)
        z = images.traversal_latents(mean, torch.tensor([2, 0, 3, 1]), torch.linspace(-2, 2, 5))
        want = images.decode_mean(tiny_model, z[:, 0].reshape(-1, 4)).reshape(4, 5, 1, 64, 64)
    shown = fig.axes[0].get_images()[0].get_array()
    assert np.allclose(np.asarray(shown), images.montage(want)[..., 0], atol=1e-6)
    assert_informative_png(plots.save_figure(fig, tmp_path / "traversals.png"))
    with pytest.raises(plots.PlotError, match="latent dims"):
        images.latent_traversals(tiny_model, x, torch.ones(3))


def test_reconstructions_and_samples(tiny_model, tiny_data, tmp_path):
    x = tiny_data.batch(torch.arange(0, 96, 8))
    fig = images.reconstructions(tiny_model, x, per_row=6)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["input", "reconstruction"] * 2
    shown = np.asarray(fig.axes[0].get_images()[0].get_array())
    side = 64 + 2 * images.PAD
    p = images.PAD
    assert np.allclose(shown[p : p + 64, p : p + 64], x[0, 0].numpy())
    recon = tiny_model.reconstruct(x)
    assert np.allclose(shown[side + p : side + p + 64, p : p + 64], recon[0, 0].numpy(), atol=1e-6)
    # the trained model reconstructs better than the mean image does
    everything = tiny_data.batch(torch.arange(len(tiny_data)))
    baseline = float((everything - everything.mean(0)).pow(2).mean())
    error = float((tiny_model.reconstruct(everything) - everything).pow(2).mean())
    assert error < 0.85 * baseline
    assert_informative_png(plots.save_figure(fig, tmp_path / "recon.png"))
    fig = images.prior_samples(tiny_model, n=12, per_row=5, generator=torch.Generator())
    assert np.asarray(fig.axes[0].get_images()[0].get_array()).shape[:2] == (3 * side, 5 * side)
    assert_informative_png(plots.save_figure(fig, tmp_path / "samples.png"))
    with pytest.raises(plots.PlotError, match="images"):
        images.reconstructions(tiny_model, torch.zeros(2, 1, 32, 32))


def test_figures_leave_no_pyplot_state():
    import matplotlib.pyplot as plt

    plots.kl_per_dimension(torch.tensor([1.0, 0.0]))
    assert plt.get_fignums() == []


def test_importing_and_saving_plots_leaves_the_matplotlib_backend_alone(tmp_path):
    # a fresh interpreter with a backend chosen by the user (svg: built in, needs no display)
    code = (
        "import matplotlib, torch\n"
        "before = matplotlib.get_backend()\n"
        "from tcvae.reports import plots\n"
        "fig = plots.kl_per_dimension(torch.tensor([1.0, 0.0]))\n"
        f"plots.save_figure(fig, {str(tmp_path / 'kl.png')!r})\n"
        "print(before, matplotlib.get_backend())\n"
    )
    env = {**os.environ, "MPLBACKEND": "svg", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["svg", "svg"]
    assert_informative_png(tmp_path / "kl.png")
