"""The leaderboard as a static HTML page with plots (`bench leaderboard --html`): see bench.html.page.write_html."""

from bench.html.page import write_html

__all__ = ["write_html"]
