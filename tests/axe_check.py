"""axe-core (the npm package, loaded by the tests only, never served) in Chromium: the one
way every test checks a page's accessibility (WCAG 2.1 A and AA and best practices, every
impact). Pages keep their Content-Security-Policy: axe comes in as an init script
(``context.add_init_script(path=AXE)``) or, on a page already open, a script tag."""

import os

AXE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "node_modules",
    "axe-core",
    "axe.min.js",
)
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
RUN_AXE = """options => axe.run(document, options).then(results => results.violations.map(
  rule => ({id: rule.id, impact: rule.impact, help: rule.help,
            nodes: rule.nodes.map(node => ({target: node.target, html: node.html}))})))"""
# Wait for the page's animations and transitions to end: a colour half-way is no finding.
SETTLE = """() => Promise.all(document.getAnimations()
  .filter(each => each.effect && each.effect.getComputedTiming().endTime !== Infinity)
  .map(each => each.finished.catch(() => null)))"""


def findings(page):
    """axe-core's findings on what ``page`` shows now, its frames too:
    ``[{"id", "impact", "help", "nodes": [{"target", "html"}]}]`` (empty: none)."""
    page.evaluate(SETTLE)
    return page.evaluate(RUN_AXE, AXE_OPTIONS)


def described(found):
    """The findings as lines a failing test can show: rule, impact, elements."""
    return [
        f"{rule['id']} ({rule['impact']}): "
        + ", ".join(
            " ".join(map(str, node["target"])) + " " + node["html"][:120] for node in rule["nodes"]
        )
        for rule in found
    ]
