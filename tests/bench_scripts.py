"""A script of bench/ loaded as a module for the tests of its parts (bench/ is scripts, not a package), once per run
under `bench_<name>`; and a fake clock for their bounded waits."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def bench(name: str) -> ModuleType:
    key = f"bench_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, ROOT / "bench" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def speed() -> ModuleType:
    return bench("speed")


class FakeTime:
    """A clock whose `sleep` only moves it on."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
