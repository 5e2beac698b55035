"""torchaudio.transforms stand-in: every name raises NotImplementedError when used."""
from standin_missing import module_getattr

__getattr__ = module_getattr(__name__)
