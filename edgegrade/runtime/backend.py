"""The protocol every inference backend follows (Polygraphy's runners): activate / infer /
deactivate, used as a context manager."""

from pathlib import Path

import numpy as np


class Backend:
    name = "backend"

    def __init__(self, path):
        self.path = Path(path)
        self.output_names: list[str] = []

    def activate(self):
        raise NotImplementedError

    def infer(self, image: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def deactivate(self):
        pass

    def __enter__(self):
        self.activate()
        return self

    def __exit__(self, *exc):
        self.deactivate()
