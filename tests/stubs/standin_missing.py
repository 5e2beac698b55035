"""Shared by the test stand-ins for torchvision and torchaudio (NOT the real packages).

``missing(module, name)`` is a class that imports and subclasses fine but raises
NotImplementedError when used, so ComfyUI modules that only import a symbol at module level load,
and anything that really needs the package fails loudly with its name.
"""


def missing(module: str, name: str):
    def fail(*args, **kwargs):
        raise NotImplementedError(f"test stand-in: {module}.{name} needs the real package, which these tests "
                                  "do not install (see README, 'torchvision')")
    return type(name, (), {"__init__": fail, "__new__": lambda cls, *a, **k: fail(), "__module__": module})


def module_getattr(module: str):
    """A module-level ``__getattr__`` that answers every public name with :func:`missing`."""
    def __getattr__(name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return missing(module, name)
    return __getattr__
