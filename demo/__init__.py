"""The demo scene model: a small text-conditioned rectified-flow model that ships with the pack.

It lets every method run on a CPU in seconds, on pictures that mean something, before a user
downloads a 24 GB checkpoint:

* :mod:`.scene_net`: the network, its caption tokenizer and the shipped weights (pure torch);
* :mod:`.denoiser`: the model as the core's ``denoise(x, sigma)`` (no ComfyUI);
* ``python3 -m comfyui_coupled_sde.demo``: the main job on it, written to a PNG grid;
* in ComfyUI, the node **Load Demo Scene Model (Coupled SDE)** returns it as MODEL, CLIP and VAE.

Nothing here imports ComfyUI or ``benchmarks/``.
"""
