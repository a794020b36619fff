"""The dashboard and control-plane REST API (``headway ui``).

Pages (server-rendered Jinja2 with Plotly charts, no asset from the internet) and their
JSON twins under ``/api`` read one query layer: pure functions from a workspace to frozen
dataclasses, one module per page family (:mod:`~headway.ui.deployments`,
:mod:`~headway.ui.runs`, :mod:`~headway.ui.models`, :mod:`~headway.ui.data_reports`,
:mod:`~headway.ui.review`; time series in :mod:`~headway.ui.timeseries`).

Examples
--------
>>> from headway.ui import create_app
>>> app = create_app(workspace)  # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8765)  # doctest: +SKIP
"""

from headway.ui.app import create_app

__all__ = ["create_app"]
