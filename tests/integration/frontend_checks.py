"""What a page of the real frontend logged (``page.problems``, see comfy_env.open_page), sorted:
what is ours, what the stock frontend logs on its own, and anything else (to be looked at).

Ours is anything that names the pack: its node ids (``CoupledSDE_*``), its extension
(``coupled_sde.drag_editor``) or its web folder (``/extensions/ComfyUI-CoupledSDE/...``, the
editor's script and the help pages). The stock entries were each traced to the frontend itself,
with this pack loaded and without it mattering, on frontend 1.27.10 (ComfyUI 0.3.64) and 1.49.6
(ComfyUI 0.33); each says why it is not ours.
"""

import re

OURS = re.compile(r"coupled|drag_editor", re.I)
# a request to another host: the pack never makes one (the editor reads /view on the ComfyUI server)
ELSEWHERE = re.compile(r"https?://(?!127\.0\.0\.1[:/]|localhost[:/])")

STOCK = [
    # index.html links an optional user stylesheet at two places; a user without one gets 404s
    (re.compile(r"/(api/userdata/)?user\.css\b"), "optional user stylesheet"),
    (re.compile(r"/favicon\.ico\b"), "1.27.x index.html asks for /favicon.ico, which ComfyUI does not serve"),
    # the frontend's optional template-customisation file in the user folder
    (re.compile(r"/api/userdata/comfy\.templates\.json\b"), "optional templates file"),
    # requests to the internet, which this machine lacks (a user's browser has it): release notes
    # (api.comfy.org/releases), the missing-model download links (huggingface.co), and 1.49's
    # errors panel asking the registry which pack provides each node of the workflow that has no
    # cnr_id/aux_id property (api.comfy.org/comfy-nodes/<node id>/node -- it names our node ids,
    # but it is the frontend's lookup, not our code)
    (re.compile(r"net::ERR_(NAME_NOT_RESOLVED|INTERNET_DISCONNECTED)\b.*" + ELSEWHERE.pattern), "no internet here"),
    # 1.27.x's Missing Models dialog asks huggingface.co for the size of each download that a loader's
    # properties.models names (fetchFileSize, a HEAD request): without internet the fetch fails and the
    # dialog logs this (the example workflows name their downloads as ComfyUI's templates do)
    (re.compile(r"^error: Error fetching file size: TypeError: Failed to fetch"), "no internet here (model sizes)"),
    # Load Video's preview of the video a workflow names: a fresh ComfyUI's input folder has example.png
    # but no example.mp4 (the Wan 2.2 example's video is the user's own)
    (re.compile(r"/api/view\?type=input&filename=example\.mp4&"), "the user's own input video"),
    # 1.49.x: a computed of the frontend's own (stack: settingStore -> vue computed) reads
    # app.rootGraph while the app is starting, before any extension's code runs
    (re.compile(r"^error: ComfyApp graph accessed before initialization"), "frontend start-up"),
]


def is_ours(problem: str) -> bool:
    """Names this pack, and is not a failed request to another host (the frontend's, see STOCK)."""
    return bool(OURS.search(problem)) and not (problem.startswith(("error: Failed to load resource", "HTTP "))
                                               and ELSEWHERE.search(problem))


def ours(problems: list[str]) -> list[str]:
    """Every console error, page error or failed response (``page.problems``) of this pack."""
    return [p for p in problems if is_ours(p)]


def unexplained(problems: list[str]) -> list[str]:
    """Every problem that is neither ours nor one of the known stock ones above."""
    return [p for p in problems if not is_ours(p) and not any(rx.search(p) for rx, _ in STOCK)]


def check(problems: list[str], what: str):
    """Assert that none of ``problems`` is ours and none is unexplained."""
    mine, other = ours(problems), unexplained(problems)
    assert not mine, f"{what}: errors from this pack:\n" + "\n".join(mine)
    assert not other, f"{what}: errors not known to be stock (look at each):\n" + "\n".join(other)
