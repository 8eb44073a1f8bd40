# Shared helpers: validate the config first (one-line error naming the key), then the get_* input functions.
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from shift_core.bench.config import config_error
from shift_core.bench.record import BENCHES
from shift_core.realverbs.stage import pipeline_outputs as twohost_outputs

try:
    validate(config, schema="../schemas/config.schema.yaml")
except WorkflowError:
    # one line naming the key (snakemake's own message is the whole schema dump plus a traceback)
    print(config_error(config) or "invalid config (see config/README.md)", file=sys.stderr)
    raise SystemExit(1) from None

#: sim benchmarks of shift_core.bench (one module, one CSV + JSON summary under data/sim/)
SIM_BENCHES = list(BENCHES)
#: real backends whose copy of a benchmark (data/<backend>/<stem>.csv, contract 2) a figure draws beside the sim's:
#: their stage manifests are inputs, so a figure is redrawn when a backend's stage reruns
BACKEND_MANIFESTS = ["data/rxe/manifest.json", "data/nic/manifest.json"]
BACKEND_MANIFESTS += [p for p in twohost_outputs(config) if p.endswith("twohost.json")]  # rules/nic.smk
#: figures rendered by workflow/scripts/figures/<name>.py from the data they list (the first input is the table;
#: the figure's title, caption and paper item are stored in the PNG, where the book reads them)
FIGURES = {
    "fig7_timeline": ["data/sim/timeline.csv", *BACKEND_MANIFESTS],
    "fig8b_downtime": ["data/sim/downtime.csv", *BACKEND_MANIFESTS],
    "fig8b_detection": ["data/sim/detection.csv"],
    "fig9_verbs_cost": ["data/sim/verbs_cost.csv", *BACKEND_MANIFESTS],
    "table2_latency": ["data/sim/latency.csv", *BACKEND_MANIFESTS],
    # no real backend runs the training job (contract 2's stems: timeline, downtime, verbs_cost, latency), so
    # Fig 10 waits for no backend stage
    "fig10_training": ["data/sim/training.csv"],
    "memory_cost": ["data/sim/memory_cost.csv"],
    "cts_share": ["data/boundary/cts_share.csv"],
    "fault_matrix": ["data/sim/faults/faults.csv", "data/sim/faults/faults.json"],
    "fig7_rxe_libshift": ["data/rxe/manifest.json"],
}
#: the interpreter of this pipeline (the project's venv); stage scripts run under it
PYTHON = sys.executable


def load_paper_items():
    """The reviewers' table (workflow/paper_items.yaml), validated: target -> label, item, data files, book page."""
    items = yaml.safe_load(Path(workflow.basedir, "paper_items.yaml").read_text())
    validate(items, schema="../schemas/paper_items.schema.yaml")
    return {entry["target"]: entry for entry in items["items"]}


#: paper item -> Snakemake target -> data/ files -> book page (the target rules of rules/targets.smk)
PAPER_ITEMS = load_paper_items()


wildcard_constraints:
    bench="|".join(SIM_BENCHES),
    fig="|".join(FIGURES),
    check="|".join(config["theorems"]["checks"]),


def sources(package):
    """Python sources of a shift_core package: a rule reruns when the code that produced its data changes."""
    return sorted(str(p) for p in Path("shift_core", package).rglob("*.py"))


#: benchmarks that measure host wall-clock time (run alone)
TIMED_BENCHES = ["verbs_cost", "latency"]
#: modules of shift_core/bench every sim benchmark builds on (a change re-runs them all)
BENCH_SHARED = ["record.py", "sim.py", "perftest.py", "endpoints.py", "stream.py"]


def get_bench_sources(wildcards):
    """The code behind one benchmark: its module, the shared harness, the fabric and the strategy layer."""
    if wildcards.bench == "memory_cost":  # analytic: the formula only
        return ["shift_core/bench/memory_cost.py", "shift_core/bench/record.py"]
    own = [f"shift_core/bench/{name}" for name in [f"{wildcards.bench}.py", *BENCH_SHARED]]
    return own + sources("fabric") + sources("shift") + sources("kv")


def get_matrix_sources():
    """The code behind the fault matrix (the SHIFT issue's runner, its workloads and judge, and the CLI)."""
    own = [f"shift_core/bench/{name}.py" for name in ("matrix", "workloads", "judge")]
    return own + ["shift_core/cli/faults.py"] + sources("fabric") + sources("shift") + sources("kv")


def get_bench_threads(wildcards):
    """Wall-clock benchmarks take every core so parallel jobs do not perturb their timings."""
    return workflow.cores if wildcards.bench in TIMED_BENCHES else 1


#: files the fast-path build itself writes into csrc/ (never inputs: a second run must find nothing to do)
CSRC_GENERATED = {"shift_machine_gen.h"}


def get_fastpath_sources():
    """The fast path's Python build code, the transition table its C header is generated from, and its C
    sources (a change rebuilds and re-measures)."""
    csrc = sorted(
        str(p)
        for p in Path("csrc").glob("*")
        if (p.suffix in {".c", ".h"} or p.name == "Makefile") and p.name not in CSRC_GENERATED
    )
    return sources("fastpath") + ["shift_core/shift/machine.py"] + csrc


def get_bench_settings(wildcards):
    """The config a sim benchmark reads (its section, the fabric, the seed): a change reruns only that rule."""
    return {"seed": config["seed"], "fabric": config["fabric"], wildcards.bench: config[wildcards.bench]}


def get_rxe_skip_reason():
    """Why the rxe stage does not run when rules/rxe.smk is not included."""
    if not config["backends"]["rxe"]["enabled"]:
        return "disabled in config (backends.rxe.enabled: false)"
    return "rxe rules not present (workflow/rules/rxe.smk missing)"


def get_figure_input(wildcards):
    return FIGURES[wildcards.fig]


def get_item_files(target):
    """The data/ files of one paper item (what `snakemake <target>` builds)."""
    return PAPER_ITEMS[target]["files"]


def get_report_category(wildcards):
    """The paper item a figure belongs to (its category in the Snakemake report)."""
    png = f"data/figures/{wildcards.fig}.png"
    return next((i["label"] for i in PAPER_ITEMS.values() if png in i["files"]), "Other figures")


def get_figure_caption(wildcards):
    """A figure's caption for the Snakemake report, from workflow/report/figures/<fig>.rst (a rule param, so
    the report's one caption template can show it; editing a caption redraws that figure)."""
    path = Path(workflow.basedir, "report", "figures", f"{wildcards.fig}.rst")
    if path.exists():
        return path.read_text().strip()
    return f"Figure ``{wildcards.fig}`` (no caption yet: write workflow/report/figures/{wildcards.fig}.rst)."


def get_stage_outputs():
    """Every result the claims table and the book read."""
    return (
        expand("data/theorems/{check}.json", check=config["theorems"]["checks"])
        + ["data/boundary/boundary.json", "data/boundary/cts_share.csv"]
        + expand("data/sim/{bench}.{ext}", bench=SIM_BENCHES, ext=["csv", "json"])
        + ["data/sim/faults/faults.json", "data/sim/faults/faults.csv"]
        + explore_stage.outputs(config)
        + ["data/theorems/manifest.json", "data/sim/manifest.json", "data/boundary/manifest.json"]
        + ["data/fastpath/manifest.json", "data/rxe/manifest.json", "data/nic/manifest.json"]
        + ["data/proofs/manifest.json"]
        + twohost_outputs(config)  # rules/nic.smk: the two-host suite's files, when backends.nic.peer is set
    )


def get_book_sources():
    """The book's hand-written sources (not its build output, generated pages or vendored assets)."""
    root = Path(config["book"]["dir"])
    skip = {"_build", "_generated", "__pycache__"}
    return sorted(
        str(p)
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix in {".md", ".yml", ".yaml", ".py", ".ipynb", ".bib", ".css"}
        and not skip.intersection(p.parts)
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def get_results():
    """Everything the book reads: stage results, figures and the claims table."""
    return (
        get_stage_outputs()
        + expand("data/figures/{fig}.png", fig=FIGURES)
        + ["data/figures/manifest.json", "data/claims.csv"]
    )


def get_final_output():
    """Every result and the book (what a plain `snakemake` builds)."""
    return get_results() + ["data/book/manifest.json"]
