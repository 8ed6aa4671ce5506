"""Right-sizing strategies: pure functions of a ContainerHistory, one module each, chosen by name."""

from __future__ import annotations

from upid.analysis.strategies.base import Recommendation, Strategy
from upid.analysis.strategies.krr import KrrSimple
from upid.analysis.strategies.upid import Upid
from upid.analysis.strategies.vpa import Vpa

STRATEGIES: dict[str, type[Strategy]] = {"upid": Upid, "krr-simple": KrrSimple, "vpa": Vpa}
DEFAULT = "upid"

__all__ = ["STRATEGIES", "DEFAULT", "Recommendation", "Strategy"]
