"""HTML reports (Jinja2 + Plotly) shared by the CLI and the dashboard.

Every report is one self-contained file: Plotly's JavaScript is inlined from the installed
package, so it opens with no internet access.
"""

from headway.reports.render import render_drift, render_profile, render_validation

__all__ = ["render_drift", "render_profile", "render_validation"]
