"""The quickstart: Headway's whole loop, end to end, on the embedded default."""

from headway.quickstart._story import QuickstartResult, run_quickstart

__all__ = ["QuickstartResult", "run_quickstart"]
