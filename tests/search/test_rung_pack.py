"""Packing a search with rungs for a commit: only the checkpoints a later session may promote
from are kept, in float16, and they still load."""

from __future__ import annotations

import torch

import zoo
from zoo.checkpoint import read_checkpoint, to_half
from zoo.search.rungs import Rungs, needed_checkpoints


def point(psnr: float) -> dict:
    return {"psnr": psnr, "gmacs": 1.0, "curve": [], "steps": None}  # one cost: ranked by PSNR alone


def test_only_candidates_that_can_still_be_promoted_need_their_checkpoint():
    found = {t: {0: point(30 + t)} for t in range(8)}  # trial 7 best at rung 0
    found[7][1], found[6][1] = point(40), point(39)  # both promoted to rung 1 and trained there
    made = {(7, 1), (6, 1), (7, 2)}  # 7 is on its way to the last rung already
    needed = needed_checkpoints(found, made, Rungs((10, 20, 40), 0.5), trials=8)
    # rung 0: the best 4 of 8 may go on; 7 and 6 went. Rung 1: the best 2 of 4 may go on; 7 went.
    assert needed == {5, 4, 6}


def test_a_half_precision_checkpoint_loads_into_the_float32_model(tmp_path):
    torch.manual_seed(0)
    model = zoo.create_model("mwrcanet", widths=(8, 16, 16), depth=1)
    path = zoo.save(model, tmp_path / "w.safetensors")
    before = path.stat().st_size
    to_half(path)
    assert path.stat().st_size < 0.6 * before
    assert {t.dtype for t in read_checkpoint(path).state_dict.values()} == {torch.float16}
    again = zoo.load(path)
    for key, value in model.state_dict().items():
        stored = again.state_dict()[key]
        assert stored.dtype == torch.float32
        torch.testing.assert_close(stored, value, atol=1e-3, rtol=1e-3)
