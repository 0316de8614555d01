import torch

from tcvae.training import hardware as H

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 fma
bugs\t\t: sysret_ss_attrs

processor\t: 1
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 fma
"""


def test_cpu_features_are_read_from_cpuinfo(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    assert H.cpu_has_native_bf16(path)
    assert H.cpu_description(path) == "avx512_bf16 avx512f avx2"
    path.write_text(CPUINFO.replace(" avx512f avx512_bf16", ""))  # an AVX2-only CPU
    assert not H.cpu_has_native_bf16(path)
    assert H.cpu_description(path) == "avx2"
    path.write_text(CPUINFO.replace("avx512_bf16", "amx_bf16"))  # bf16 matrix units
    assert H.cpu_has_native_bf16(path)
    assert not H.cpu_has_native_bf16(tmp_path / "missing")  # not Linux: fp32, to be safe
    assert H.cpu_description(tmp_path / "missing") == ""


def test_run_hardware_names_device_precision_threads_and_cpu(monkeypatch):
    monkeypatch.setattr(H, "cpu_description", lambda: "avx2")
    facts = H.run_hardware(torch.device("cpu"), "fp32", 2)
    assert facts == {"device": "cpu", "precision": "fp32", "threads": 2, "cpu_features": "avx2"}
    assert H.describe_hardware(facts) == "cpu, fp32, 2 threads, CPU avx2"
    monkeypatch.setattr(H, "cpu_description", lambda: "")
    facts = H.run_hardware(torch.device("cpu"), "bf16", 1)
    assert H.describe_hardware(facts) == "cpu, bf16, 1 thread, CPU unknown"
