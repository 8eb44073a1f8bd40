"""Sphinx extension of the SHIFT book: renders the data-driven fragments and wires the vendored MathJax.

At ``config-inited`` it points ``mathjax_path`` at the copy that ``book/vendor_mathjax.sh`` installed under
``.vendor/static/mathjax/`` (npm ``mathjax`` 3) and fails the build when there is none:
the book must render math with no network, so it never falls back to a CDN. At ``builder-inited`` (before
Sphinx reads any page) it renders every fragment from ``data/`` (or ``$SHIFT_DATA_DIR``) into
``_generated/``, writing a file only when its content changed, so Sphinx's incremental build re-reads only the
pages whose data changed.
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError
from sphinx.util import logging

from . import explore, provenance
from .data import DataRoot, default_root
from .fragments import Renderer

LOG = logging.getLogger(__name__)
GENERATED = "_generated"


def theorem_ids() -> tuple[str, ...]:
    """The theorem check ids (``shift_core.vocabulary.THEOREM_CHECKS``): one book page each."""
    from shift_core.vocabulary import THEOREM_CHECKS

    return THEOREM_CHECKS


def render_all(data: DataRoot) -> dict[str, str | bytes]:
    """Every fragment of the book for ``data`` (path under ``_generated/`` -> content)."""
    r = Renderer(data)
    r.status()
    r.xref()  # first: the theorem pages link Rocq names to its rows
    by_id = {cid: r.theorem(cid) for cid in theorem_ids()}
    r.theorem_summary(by_id)
    r.boundary()
    r.trilemma(r.design())
    r.results()
    explore.render(r)
    r.api()
    r.provenance()  # last: it lists every file the others looked for and missed
    return r.files


def write_changed(out_dir: Path, files: dict[str, str | bytes]) -> int:
    """Write ``files`` under ``out_dir`` (only those whose content differs) and delete stale ones."""
    changed = 0
    for rel, content in files.items():
        path = out_dir / rel
        blob = content.encode("utf-8") if isinstance(content, str) else content
        if path.is_file() and path.read_bytes() == blob:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(blob)
        tmp.replace(path)
        changed += 1
    keep = {out_dir / rel for rel in files}
    for path in sorted(out_dir.rglob("*"), reverse=True):
        if path.is_file() and path not in keep:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return changed


def _generate(app: Sphinx) -> None:
    src = Path(app.srcdir)
    data = DataRoot(default_root(src))
    LOG.info("[shift_book] data root: %s", data.root)
    files = render_all(data)
    changed = write_changed(src / GENERATED, files)
    LOG.info("[shift_book] %d fragments, %d changed, %d data files missing", len(files), changed, len(data.missing))


VENDOR_STATIC = ".vendor/static"  #: written by book/vendor_mathjax.sh; copied into the output's ``_static/``


def vendored_mathjax(static_dir: Path) -> str | None:
    """The ``mathjax_path`` of the vendored MathJax 3 under ``static_dir/mathjax``, or ``None``."""
    return "mathjax/tex-svg-full.js" if (static_dir / "mathjax" / "tex-svg-full.js").is_file() else None


def _configure_mathjax(app: Sphinx, config: Config) -> None:
    found = vendored_mathjax(Path(app.srcdir) / VENDOR_STATIC)
    if found is None:
        raise ExtensionError(f"no vendored MathJax under book/{VENDOR_STATIC}/mathjax: run "
                             "`bash book/vendor_mathjax.sh` (fetches npm's `mathjax`), or build with "
                             "`bash book/build.sh`")
    # added after Jupyter Book scanned html_static_path for .js files, so MathJax is loaded once, by Sphinx
    config.html_static_path = [*config.html_static_path, VENDOR_STATIC]
    config.mathjax_path = found


def canonical_name(target: str) -> str | None:
    """Where a re-exported ``shift_core`` object is documented (``shift_core.backend.WC`` -> its defining module).

    Autodoc documents each object once, in the module that defines it (``ignore-module-all``); docstrings and
    annotations may name it through the package that re-exports it. ``None`` when ``target`` is not such a name.
    """
    module_name, _, attr = target.rpartition(".")
    if not module_name.startswith("shift_core"):
        return None
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError):
        return None
    home, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    canonical = f"{home}.{qualname}" if home and qualname else None
    return canonical if canonical != target else None


def _resolve_reexport(app: Sphinx, env: Any, node: Any, contnode: Any) -> Any:
    if node.get("refdomain") != "py":
        return None
    canonical = canonical_name(node.get("reftarget", ""))
    if canonical is None:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(env, node.get("refdoc", ""), app.builder, node.get("reftype", "obj"), canonical,
                               node, contnode)


def _scrub_doctree(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Relativize the machine's paths in every text of a page (autodoc prints default values such as
    ``PosixPath('/home/me/shift/csrc/x.h')``), so no page shows where the book was built."""
    repo, data = Path(app.srcdir).parent, default_root(Path(app.srcdir))
    roots = provenance.machine_roots(repo, data)
    for node in list(doctree.findall(nodes.Text)):
        if any(r in node.astext() for r in roots):
            node.parent.replace(node, nodes.Text(provenance.scrub(node.astext(), repo, data)))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-resolved", _scrub_doctree)
    app.connect("missing-reference", _resolve_reexport)
    app.connect("config-inited", _configure_mathjax)
    app.connect("builder-inited", _generate)
    # a change to this extension's code invalidates every cached page (Sphinx rereads all when env_version moves)
    return {"version": "1.0", "env_version": _code_version(), "parallel_read_safe": True,
            "parallel_write_safe": True}


def _code_version() -> int:
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return int(digest.hexdigest()[:8], 16)
