"""Fixtures of the service tests: a private profile, and the view tests' tmux."""

from tests.service.helpers import profile
from tests.views.conftest import tmux

__all__ = ["profile", "tmux"]
