import pytest
import torch
import torch.nn.functional as F

from tcvae.models import BinaryInputLinear, binary_linear, build_model


def binary_inputs(rows: int = 37, pixels: int = 53, seed: int = 0) -> torch.Tensor:
    """Random bool rows, with an all-off row and an all-on row among them."""
    x = torch.rand(rows, pixels, generator=torch.Generator().manual_seed(seed)) < 0.1
    x[3] = False
    x[7] = True
    return x


def test_binary_linear_is_the_dense_product_with_its_gradients():
    """Against the dense product x W^T + b of the same 0/1 values, in float64: the output and
    the gradients of W and b for an arbitrary upstream gradient."""
    x = binary_inputs()
    gen = torch.Generator().manual_seed(1)
    weight = torch.randn(11, x.shape[1], dtype=torch.float64, generator=gen)
    bias = torch.randn(11, dtype=torch.float64, generator=gen)
    upstream = torch.randn(x.shape[0], 11, dtype=torch.float64, generator=gen)
    results = []
    for fn in (lambda w, b: binary_linear(x, w, b), lambda w, b: F.linear(x.double(), w, b)):
        w, b = weight.clone().requires_grad_(), bias.clone().requires_grad_()
        out = fn(w, b)
        out.backward(upstream)
        results.append((out.detach(), w.grad, b.grad))
    (out, grad_w, grad_b), (dense, dense_w, dense_b) = results
    torch.testing.assert_close(out, dense, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad_w, dense_w, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad_b, dense_b, rtol=1e-12, atol=1e-12)
    assert torch.equal(out[3], bias)  # an empty image gives the bias alone


def test_binary_linear_checks_its_input():
    x = binary_inputs(200, 300)
    weight = torch.randn(64, 300)
    with pytest.raises(ValueError, match="bool tensor, got torch.float32"):
        binary_linear(x.float(), weight)
    with pytest.raises(ValueError, match=r"got torch.bool \(2, 5, 60\)"):
        binary_linear(x[:2].reshape(2, 5, 60), weight)


def test_binary_input_linear_is_a_linear_that_also_reads_bools():
    torch.manual_seed(0)
    layer = BinaryInputLinear(53, 9)
    plain = torch.nn.Linear(53, 9)
    assert {k: v.shape for k, v in layer.state_dict().items()} == {
        k: v.shape for k, v in plain.state_dict().items()
    }
    x = binary_inputs()
    assert torch.equal(layer(x.float()), F.linear(x.float(), layer.weight, layer.bias))
    torch.testing.assert_close(layer(x), layer(x.float()), rtol=1e-5, atol=1e-5)


def test_vae_reads_bool_images_as_binary_images():
    """The MLP encoder reads bool images itself; the conv encoder gets them as floats. Either
    way the posterior is that of the same images as floats."""
    torch.manual_seed(0)
    x = torch.rand(6, 1, 64, 64) < 0.05
    mlp, conv = build_model("mlp", hidden=32), build_model("conv", hidden=4)
    assert mlp.reads_binary and not conv.reads_binary
    for model, exact in ((mlp, False), (conv, True)):
        model.eval()
        for got, want in zip(model.encode(x), model.encode(x.float())):
            if exact:
                assert torch.equal(got, want)
            else:
                torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_batch_dtype_is_bool_only_for_binary_images_into_an_fp32_mlp_on_a_cpu():
    mlp, conv = build_model("mlp", hidden=8), build_model("conv", hidden=4)
    assert mlp.batch_dtype(1, "cpu") == torch.bool
    assert mlp.batch_dtype(255, "cpu") == torch.float32
    assert mlp.batch_dtype(1, "cuda") == torch.float32
    assert conv.batch_dtype(1, "cpu") == torch.float32


def test_encoding_a_binary_data_set_reads_bools_and_matches_the_float_images():
    from tcvae.data.dsprites import builtin_dsprites_subset
    from tcvae.data.sprites import dsprites_grid
    from tcvae.evaluation.encode import encode_dataset

    data = builtin_dsprites_subset(dsprites_grid().all_classes()[::4096])
    torch.manual_seed(0)
    model = build_model(hidden=32).eval()
    mean, logvar = encode_dataset(model, data, batch_size=64)
    with torch.no_grad():
        want_mean, want_logvar = model.encode(data.batch(torch.arange(len(data))))
    torch.testing.assert_close(mean, want_mean, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(logvar, want_logvar, rtol=1e-5, atol=1e-5)
