"""Registers fastann's skl2onnx converters as soon as skl2onnx is imported, so that
``skl2onnx.to_onnx(pipeline)`` needs no registration step, without importing
skl2onnx (or onnx) for users who never convert.

If skl2onnx is already imported, ``install`` registers at once; otherwise it puts a
finder on ``sys.meta_path`` that lets the usual finders locate skl2onnx and
registers right after the package's own code has run, then steps aside.
"""
import importlib.abc
import importlib.util
import sys
import warnings

PACKAGE = "skl2onnx"


def _register():
    try:
        from ..export.skl2onnx import register
        register()
    except Exception as error:  # never break the user's import of skl2onnx
        warnings.warn(f"fastann could not register its skl2onnx converters: {error!r}; "
                      "call fastann.export.skl2onnx.register() to see why",
                      RuntimeWarning, stacklevel=2)


class _RegisteringLoader(importlib.abc.Loader):
    """skl2onnx's own loader, then ``_register``."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _register()

    def __getattr__(self, name):  # resources and the like: the real loader's
        return getattr(self._loader, name)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader of the spec the other finders give."""

    def find_spec(self, name, path=None, target=None):
        if name != PACKAGE:
            return None
        uninstall()  # one import: later lookups and the search below skip this finder
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _RegisteringLoader(spec.loader)
        return spec


_FINDER = _AfterImport()


def install():
    """Register now if skl2onnx is imported, else when it is."""
    if PACKAGE in sys.modules:
        _register()
    elif _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def uninstall():
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
