"""Stopping hopeless candidates early. Optuna prunes only single-objective studies, so the
search keeps its own rule, and records on each trial whether and why it fired.

The rule: at each validation of a candidate before its last, take the largest PSNR gain that any
finished candidate made from that step to its end (the most optimistic outlook seen so far). If
even that gain, plus a margin, leaves the candidate below a finished candidate that costs no more
GMACs, it would end up dominated: stop it. It needs a few finished candidates to go on, and never
stops a candidate cheaper than all of them (nothing can dominate that one yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_MARGIN = 0.1  # dB of slack on top of the most optimistic gain seen
MIN_PEERS = 3  # finished candidates needed before the rule may stop anything


class StopCandidate(Exception):
    """Raised inside the training loop when the rule fires; carries the record."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(f"stopped at step {record['step']}")
        self.record = record


@dataclass
class Peer:
    """A finished candidate: its GMACs, final PSNR and validation curve {step: PSNR}."""

    number: int
    gmacs: float
    psnr: float
    curve: dict[int, float]


class EarlyStop:
    """The rule for one candidate of ``gmacs``, against the peers finished when it started."""

    def __init__(self, gmacs: float, peers: list[Peer], final_step: int, margin: float = DEFAULT_MARGIN,
                 min_peers: int = MIN_PEERS) -> None:
        self.gmacs, self.peers, self.final_step = gmacs, peers, final_step
        self.margin, self.min_peers = margin, min_peers

    def verdict(self, step: int, psnr: float) -> dict[str, Any] | None:
        """The stop record if a candidate at ``psnr`` after ``step`` steps is hopeless, else None."""
        if step >= self.final_step:
            return None
        seen = [p for p in self.peers if step in p.curve]
        if len(seen) < self.min_peers:
            return None
        gain = max(p.psnr - p.curve[step] for p in seen)
        cheaper = [p for p in self.peers if p.gmacs <= self.gmacs]
        if not cheaper:
            return None
        best = max(cheaper, key=lambda p: p.psnr)
        bound = psnr + max(gain, 0.0) + self.margin
        if bound >= best.psnr:
            return None
        return {"step": step, "psnr": round(psnr, 4), "optimistic_final": round(bound, 4), "max_gain": round(gain, 4),
                "margin": self.margin, "dominated_by": best.number, "dominating_psnr": round(best.psnr, 4),
                "dominating_gmacs": round(best.gmacs, 4), "peers": len(seen)}

    def check(self, step: int, psnr: float) -> None:
        record = self.verdict(step, psnr)
        if record is not None:
            raise StopCandidate(record)
