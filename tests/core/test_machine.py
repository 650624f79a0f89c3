"""zoo.machine: the machine's facts in one place, read from /proc/cpuinfo text written here."""

from __future__ import annotations

import pytest

from zoo import machine

X86 = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_int8 avx512_vnni

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2
"""
ARM = "processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\nCPU implementer\t: 0x41\n"


def test_parse_reads_the_first_cpu_s_name_and_flags():
    name, flags = machine.parse_cpuinfo(X86)
    assert name == "Intel(R) Xeon(R) Platinum 8480+"
    assert {"avx512_bf16", "amx_bf16", "amx_int8", "avx512_vnni"} <= flags and "fpu" in flags
    assert machine.parse_cpuinfo(ARM) == (None, frozenset({"fp", "asimd", "bf16", "i8mm"}))
    assert machine.parse_cpuinfo("") == (None, frozenset())


@pytest.fixture
def cpuinfo(tmp_path, monkeypatch):
    def write(text: str | None) -> None:
        path = tmp_path / "cpuinfo"
        if text is not None:
            path.write_text(text)
        monkeypatch.setattr(machine, "CPUINFO", path)
        machine._cpuinfo.cache_clear()

    yield write
    machine._cpuinfo.cache_clear()


def test_the_cpu_s_facts_come_from_cpuinfo(cpuinfo, monkeypatch):
    cpuinfo(X86)
    monkeypatch.setattr(machine.os, "cpu_count", lambda: 2)
    assert machine.cpu_name() == "Intel(R) Xeon(R) Platinum 8480+"
    assert machine.cpu_identity() == "Intel(R) Xeon(R) Platinum 8480+, 2 cpus"
    assert machine.native(machine.BF16_FLAGS) == ["avx512_bf16", "amx_bf16"]
    assert machine.native(machine.INT8_FLAGS) == ["amx_int8", "avx512_vnni"]
    assert machine.stamp(threads=2).startswith("Intel(R) Xeon(R) Platinum 8480+, 2 cpus, 2 threads; native: avx512_bf16, "
                                               "amx_bf16, amx_int8, avx512_vnni; torch ")


def test_without_cpuinfo_platform_names_the_cpu_and_no_flags_are_native(cpuinfo, monkeypatch):
    cpuinfo(None)  # no such file (not Linux)
    monkeypatch.setattr(machine.platform, "processor", lambda: "")
    monkeypatch.setattr(machine.platform, "machine", lambda: "arm64")
    assert machine.cpu_name() == "arm64" and machine.cpu_flags() == frozenset()
    assert machine.native(machine.BF16_FLAGS) == [] and "no bf16/int8 flags" in machine.stamp()


def test_versions_and_machine_info():
    found = machine.versions(("torch", "no-such-distribution-zoo"))
    assert found["torch"] and found["no-such-distribution-zoo"] is None
    info = machine.machine_info("cpu")
    assert set(info) == {"cpu", "threads", "torch", "python"} and info["cpu"] == machine.cpu_name()
