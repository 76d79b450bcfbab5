"""The waiting-room TV display: the ``/display/<key>`` page and its own assets."""

from display.views import bp

__all__ = ["bp"]
