"""torchvision.models.optical_flow (ComfyUI 0.33+ nodes_void imports raft_large); unusable here."""
from standin_missing import module_getattr

__getattr__ = module_getattr(__name__)
